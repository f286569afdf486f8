//! `fmi::pmi` under the real MPICH Hydra launcher: the parent tests start this test
//! binary as 3 ranks through `mpiexec -launcher fork`, once with Hydra's default
//! `PMI_FD` and once with `-pmi-port` (`PMI_PORT` + `PMI_ID`). Each rank runs
//! `pmi_child`, which exchanges keys through Hydra's KVS and prints
//! `pmi-child <rank> ok`; a third job checks that `Pmi::abort` ends the job. Without
//! `mpiexec` on `PATH` the parents print `SKIP: mpiexec not found` and pass
//! (`scripts/test.sh` installs MPICH, so CI runs them).

use fmi::pmi::Pmi;
use nix::sys::signal::{kill, killpg, Signal};
use nix::unistd::Pid;
use std::io::Read;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// Set (to `fd`, `port` or `abort`) in the ranks' environment: run the child body.
const CHILD_VAR: &str = "FMI_PMI_CHILD";
const RANKS: u32 = 3;
/// No job here takes more than a few seconds; past this mpiexec is killed.
const HANG: Duration = Duration::from_secs(60);

fn mpiexec() -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join("mpiexec"))
        .find(|p| p.is_file())
}

/// The body of one rank (does nothing unless started by a parent test below).
#[test]
fn pmi_child() {
    let Ok(mode) = std::env::var(CHILD_VAR) else {
        return;
    };
    match mode.as_str() {
        "fd" => assert!(std::env::var_os("PMI_FD").is_some(), "no PMI_FD"),
        "port" => {
            assert!(std::env::var_os("PMI_PORT").is_some(), "no PMI_PORT");
            assert!(
                std::env::var_os("PMI_FD").is_none(),
                "PMI_FD with -pmi-port"
            );
        }
        "abort" => return abort_child(),
        m => panic!("{CHILD_VAR}={m:?}"),
    }
    let mut p = Pmi::from_env()
        .expect("Pmi::from_env failed")
        .expect("Pmi::from_env found no PMI launcher");
    let (rank, size) = (p.rank(), p.size());
    assert_eq!(size, RANKS);
    if let Ok(r) = std::env::var("PMI_RANK").or_else(|_| std::env::var("PMI_ID")) {
        assert_eq!(r, rank.to_string());
    }
    assert!(p.kvsname().starts_with("kvs_"), "kvsname {:?}", p.kvsname());
    // Hydra's limits (keylen_max=64, vallen_max=1024, both counting the NUL).
    assert_eq!((p.max_key_len(), p.max_value_len()), (63, 1023));
    // A second owner of PMI_FD is refused.
    if mode == "fd" {
        let e = Pmi::from_env().unwrap_err();
        assert!(e.msg.contains("already owned"), "{e}");
    }

    // Values with '=' and of the longest allowed length survive Hydra unchanged.
    let addr = |r: u32| format!("127.0.0.{}:{}=port", r + 1, 40000 + r);
    let long_key = |r: u32| format!("long-{r}-{}", "k".repeat(56));
    let long = |r: u32| format!("{r}{}", "x".repeat(1022));
    p.put(&format!("addr-{rank}"), &addr(rank)).unwrap();
    p.put(&long_key(rank), &long(rank)).unwrap();
    p.fence().unwrap();
    for r in 0..size {
        assert_eq!(p.get(&format!("addr-{r}")).unwrap(), addr(r), "rank {r}");
        assert_eq!(p.get(&long_key(r)).unwrap(), long(r), "long value of {r}");
    }
    let e = p.get("nobody-put-this").unwrap_err();
    assert!(e.msg.contains("\"nobody-put-this\""), "{e}");
    // Hydra's own key, and a second round after the failed get.
    let map = p.get("PMI_process_mapping").unwrap();
    assert!(map.starts_with("(vector,"), "{map}");
    p.put(&format!("round2-{rank}"), &format!("r{rank}"))
        .unwrap();
    p.fence().unwrap();
    for r in 0..size {
        assert_eq!(p.get(&format!("round2-{r}")).unwrap(), format!("r{r}"));
    }
    p.finalize().unwrap();
    println!("pmi-child {rank} ok");
}

/// Rank 1 aborts; the others wait in a fence until Hydra kills them.
fn abort_child() {
    let mut p = Pmi::from_env().unwrap().unwrap();
    if p.rank() == 1 {
        p.abort(7, "tests/pmi.rs aborts on purpose");
        // Hydra kills the job first; exiting 0 after this would fail the parent.
        std::thread::sleep(Duration::from_secs(20));
    } else {
        let _ = p.fence();
    }
}

/// What became of one `mpiexec` run.
struct Job {
    status: ExitStatus,
    stdout: String,
    elapsed: Duration,
    report: String,
}

/// Runs `mpiexec -launcher fork [extra] -n 3 <this binary> --exact pmi_child` with
/// `FMI_PMI_CHILD=mode`, killing it after `HANG`; `None` (after printing SKIP) when
/// there is no `mpiexec`.
fn run_job(mode: &str, extra: &[&str]) -> Option<Job> {
    let Some(mpiexec) = mpiexec() else {
        println!("SKIP: mpiexec not found");
        return None;
    };
    let me = std::env::current_exe().unwrap();
    let mut cmd = Command::new(&mpiexec);
    cmd.args(["-launcher", "fork"])
        .args(extra)
        .args(["-n", &RANKS.to_string()])
        .arg(&me)
        .args(["--exact", "pmi_child", "--nocapture", "--test-threads=1"])
        .env(CHILD_VAR, mode)
        // Ranks left behind by a killed mpiexec give up on their own.
        .env("FMI_TIMEOUT_MS", "30000")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0);
    let started = Instant::now();
    let mut child = cmd.spawn().expect("cannot start mpiexec");
    let mut out = child.stdout.take().unwrap();
    let mut err = child.stderr.take().unwrap();
    let o = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = out.read_to_string(&mut s);
        s
    });
    let e = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = err.read_to_string(&mut s);
        s
    });
    let pid = Pid::from_raw(child.id() as i32);
    let mut killed = false;
    let status = loop {
        if let Some(st) = child.try_wait().unwrap() {
            break st;
        }
        if started.elapsed() > HANG && !killed {
            // SIGTERM lets Hydra clean up its ranks; the group kill is the backstop.
            let _ = kill(pid, Signal::SIGTERM);
            std::thread::sleep(Duration::from_secs(5));
            let _ = killpg(pid, Signal::SIGKILL);
            killed = true;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let (stdout, stderr) = (o.join().unwrap(), e.join().unwrap());
    let elapsed = started.elapsed();
    let report = format!(
        "mpiexec ({mode}) {status} after {elapsed:?}\n--- stdout\n{stdout}\n--- stderr\n{stderr}"
    );
    assert!(
        !killed,
        "mpiexec did not finish within {HANG:?}; killed\n{report}"
    );
    Some(Job {
        status,
        stdout,
        elapsed,
        report,
    })
}

/// Checks that the job succeeded and every rank printed `pmi-child <rank> ok` once.
fn check_success(job: &Job) {
    assert!(job.status.success(), "{}", job.report);
    for r in 0..RANKS {
        // libtest's "test pmi_child ... " precedes it on the same line.
        let line = format!("pmi-child {r} ok\n");
        let n = job.stdout.matches(&line).count();
        assert_eq!(n, 1, "{line:?} {n} times\n{}", job.report);
    }
}

#[test]
fn hydra_pmi_fd() {
    if let Some(job) = run_job("fd", &[]) {
        check_success(&job);
    }
}

#[test]
fn hydra_pmi_port() {
    if let Some(job) = run_job("port", &["-pmi-port"]) {
        check_success(&job);
    }
}

/// `Pmi::abort` on rank 1 makes Hydra end the whole job at once with its exit code,
/// although the other ranks wait in a fence and rank 1 itself would sleep on.
#[test]
fn hydra_abort() {
    if let Some(job) = run_job("abort", &[]) {
        assert_eq!(job.status.code(), Some(7), "{}", job.report);
        assert!(job.elapsed < Duration::from_secs(15), "{}", job.report);
    }
}
