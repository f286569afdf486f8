//! `fmirun` as a user runs it, with small `sh -c` programs as ranks.

use fmi::punch::proto::{FrameReader, Msg, VERSION};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

const FMIRUN: &str = env!("CARGO_BIN_EXE_fmirun");
/// No test job runs anywhere near this long; hitting it means fmirun hung.
const HANG: Duration = Duration::from_secs(30);

/// A fresh directory for one test's files.
fn scratch(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("fmirun-test-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

struct Output {
    status: ExitStatus,
    stdout: String,
    stderr: String,
    elapsed: Duration,
}

fn fmirun(args: &[&str]) -> Command {
    let mut c = Command::new(FMIRUN);
    c.args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    c
}

/// Waits for `child` with a limit, collecting its output.
fn finish(mut child: Child, started: Instant) -> Output {
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
    let status = loop {
        if let Some(st) = child.try_wait().unwrap() {
            break st;
        }
        if started.elapsed() > HANG {
            let _ = child.kill();
            let _ = child.wait();
            panic!("fmirun did not finish within {HANG:?}");
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    Output {
        status,
        stdout: o.join().unwrap(),
        stderr: e.join().unwrap(),
        elapsed: started.elapsed(),
    }
}

fn run(args: &[&str]) -> Output {
    let started = Instant::now();
    finish(fmirun(args).spawn().unwrap(), started)
}

/// Whether a process exists and is not a zombie waiting for its (new) parent.
fn alive(pid: i32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        // The state follows the command name in parentheses.
        Ok(s) => s
            .rsplit_once(") ")
            .is_some_and(|(_, rest)| !rest.starts_with('Z') && !rest.starts_with('X')),
        Err(_) => false,
    }
}

fn read_pid(p: &Path) -> i32 {
    std::fs::read_to_string(p)
        .unwrap_or_else(|e| panic!("{}: {e}", p.display()))
        .trim()
        .parse()
        .unwrap()
}

/// Waits until every file exists (and is not empty).
fn wait_files(files: &[PathBuf]) {
    let deadline = Instant::now() + HANG;
    while !files
        .iter()
        .all(|f| std::fs::metadata(f).is_ok_and(|m| m.len() > 0))
    {
        assert!(Instant::now() < deadline, "ranks never wrote {files:?}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn assert_gone(pids: &[i32]) {
    // Reparented grandchildren are reaped by someone else: give that a moment.
    let deadline = Instant::now() + Duration::from_secs(5);
    while pids.iter().any(|&p| alive(p)) {
        assert!(
            Instant::now() < deadline,
            "processes left behind: {:?}",
            pids.iter().filter(|&&p| alive(p)).collect::<Vec<_>>()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn every_rank_gets_its_environment_and_the_server_is_up() {
    let dir = scratch("env");
    let d = dir.to_str().unwrap();
    let script = format!(
        r#"printf '%s %s %s %s %s %s\n' "$FMI_RANK" "$FMI_SIZE" "$FMI_JOB" "$FMI_TOKEN" "$FMI_RENDEZVOUS" "$INHERITED" > {d}/env.tmp.$FMI_RANK
mv {d}/env.tmp.$FMI_RANK {d}/env.$FMI_RANK
# Stay alive until the test has talked to the rendezvous server.
i=0; while [ ! -e {d}/go ]; do i=$((i+1)); [ $i -gt 300 ] && exit 9; sleep 0.05; done"#
    );
    let started = Instant::now();
    let child = fmirun(&["-n", "4", "sh", "-c", &script])
        // Inherited values must be overridden, other variables passed on.
        .env("FMI_RANK", "77")
        .env("FMI_TOKEN", "stale")
        .env("INHERITED", "yes")
        .spawn()
        .unwrap();
    let files: Vec<PathBuf> = (0..4).map(|r| dir.join(format!("env.{r}"))).collect();
    wait_files(&files);
    let lines: Vec<Vec<String>> = files
        .iter()
        .map(|f| {
            std::fs::read_to_string(f)
                .unwrap()
                .split_whitespace()
                .map(String::from)
                .collect()
        })
        .collect();
    for (r, l) in lines.iter().enumerate() {
        assert_eq!(l.len(), 6, "{l:?}");
        assert_eq!(l[0], r.to_string());
        assert_eq!(l[1], "4");
        assert_eq!(
            &l[2..5],
            &lines[0][2..5],
            "job, token and server are shared"
        );
        assert_eq!(l[5], "yes");
    }
    let (job, token, server) = (&lines[0][2], &lines[0][3], &lines[0][4]);
    assert!(job.starts_with(&format!("fmirun-{}-", child.id())), "{job}");
    assert_eq!(token.len(), 64);
    assert!(token.bytes().all(|b| b.is_ascii_hexdigit()));

    // The embedded rendezvous server answers while the job runs.
    let mut s = std::net::TcpStream::connect(server.as_str()).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut fr = FrameReader::default();
    let msg = loop {
        let mut b = [0u8; 256];
        let n = s.read(&mut b).unwrap();
        assert!(n > 0, "server closed the connection");
        fr.push(&b[..n]);
        if let Some(m) = fr.next_msg().unwrap() {
            break m;
        }
    };
    assert!(matches!(
        msg,
        Msg::Challenge {
            version: VERSION,
            ..
        }
    ));

    std::fs::write(dir.join("go"), "").unwrap();
    let out = finish(child, started);
    assert!(out.status.success(), "{}", out.stderr);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn job_name_and_rendezvous_can_be_given() {
    let out = run(&[
        "-n",
        "2",
        "--job",
        "myjob",
        "--rendezvous",
        "example.invalid:4242",
        "--",
        "sh",
        "-c",
        r#"echo "$FMI_RANK $FMI_JOB $FMI_RENDEZVOUS""#,
    ]);
    assert!(out.status.success(), "{}", out.stderr);
    let mut lines: Vec<&str> = out.stdout.lines().collect();
    lines.sort_unstable();
    assert_eq!(
        lines,
        [
            "0 myjob example.invalid:4242",
            "1 myjob example.invalid:4242"
        ]
    );
}

#[test]
fn prefix_labels_every_line_of_both_streams() {
    let out = run(&[
        "-n",
        "2",
        "--prefix",
        "sh",
        "-c",
        r#"echo "out $FMI_RANK"; echo "err $FMI_RANK" >&2; echo "two words"; printf 'no newline'"#,
    ]);
    assert!(out.status.success(), "{}", out.stderr);
    for r in 0..2 {
        for l in [
            format!("[rank {r}] out {r}"),
            format!("[rank {r}] two words"),
            format!("[rank {r}] no newline"),
        ] {
            assert!(
                out.stdout.lines().any(|x| x == l),
                "{l:?} missing in {:?}",
                out.stdout
            );
        }
        let l = format!("[rank {r}] err {r}");
        assert!(
            out.stderr.lines().any(|x| x == l),
            "{l:?} missing in {:?}",
            out.stderr
        );
    }
    assert_eq!(out.stdout.lines().count(), 6, "{:?}", out.stdout);
    assert!(out.stdout.lines().all(|l| l.starts_with("[rank ")));

    // Without --prefix, output passes through untouched.
    let out = run(&["-n", "2", "sh", "-c", "echo plain"]);
    assert_eq!(out.stdout, "plain\nplain\n");
}

#[test]
fn a_failing_rank_decides_the_exit_code() {
    let out = run(&[
        "-n",
        "3",
        "sh",
        "-c",
        r#"[ "$FMI_RANK" = 2 ] && exit 5; exit 0"#,
    ]);
    assert_eq!(out.status.code(), Some(5), "{}", out.stderr);
    assert!(
        out.stderr.contains("fmirun: rank 2 exited with status 5"),
        "{}",
        out.stderr
    );

    let out = run(&[
        "-n",
        "2",
        "sh",
        "-c",
        r#"[ "$FMI_RANK" = 1 ] && kill -9 $$; exit 0"#,
    ]);
    assert_eq!(out.status.code(), Some(128 + 9), "{}", out.stderr);
    assert!(
        out.stderr.contains("fmirun: rank 1 killed by signal 9"),
        "{}",
        out.stderr
    );

    let out = run(&["-n", "3", "true"]);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(out.stderr, "");
}

#[test]
fn siblings_of_a_failed_rank_are_ended_after_the_grace_period() {
    let dir = scratch("grace");
    let d = dir.to_str().unwrap();
    let script = format!(
        r#"echo $$ > {d}/pid.$FMI_RANK
[ "$FMI_RANK" = 0 ] && exit 3
sleep 60 & echo $! > {d}/sleep.$FMI_RANK
wait"#
    );
    let out = run(&["-n", "3", "--grace", "1", "sh", "-c", &script]);
    assert_eq!(out.status.code(), Some(3), "{}", out.stderr);
    assert!(
        out.stderr.contains("rank 0 exited with status 3"),
        "{}",
        out.stderr
    );
    // One report: the ranks fmirun ended itself are not failures of their own.
    assert_eq!(
        out.stderr.matches("fmirun: rank").count(),
        1,
        "{}",
        out.stderr
    );
    assert!(
        out.elapsed >= Duration::from_millis(900),
        "{:?}",
        out.elapsed
    );
    assert!(out.elapsed < Duration::from_secs(8), "{:?}", out.elapsed);
    let mut pids: Vec<i32> = (0..3)
        .map(|r| read_pid(&dir.join(format!("pid.{r}"))))
        .collect();
    pids.extend((1..3).map(|r| read_pid(&dir.join(format!("sleep.{r}")))));
    assert_gone(&pids);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn sigterm_to_fmirun_ends_every_rank() {
    let dir = scratch("sigterm");
    let d = dir.to_str().unwrap();
    let script = format!(
        r#"sleep 60 & echo $! > {d}/sleep.$FMI_RANK
echo $$ > {d}/pid.$FMI_RANK
wait"#
    );
    let started = Instant::now();
    let child = fmirun(&["-n", "3", "--grace", "1", "sh", "-c", &script])
        .spawn()
        .unwrap();
    let files: Vec<PathBuf> = (0..3)
        .flat_map(|r| [dir.join(format!("pid.{r}")), dir.join(format!("sleep.{r}"))])
        .collect();
    wait_files(&files);
    let pids: Vec<i32> = files.iter().map(|f| read_pid(f)).collect();
    // SAFETY: kill only sends a signal to the fmirun this test started.
    assert_eq!(unsafe { libc::kill(child.id() as i32, libc::SIGTERM) }, 0);
    let out = finish(child, started);
    assert_eq!(out.status.code(), Some(128 + 15), "{}", out.stderr);
    assert_gone(&pids);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn ranks_die_with_a_killed_fmirun() {
    let dir = scratch("pdeathsig");
    let d = dir.to_str().unwrap();
    let script = format!("echo $$ > {d}/pid.$FMI_RANK; exec sleep 60");
    let started = Instant::now();
    let child = fmirun(&["-n", "2", "sh", "-c", &script]).spawn().unwrap();
    let files: Vec<PathBuf> = (0..2).map(|r| dir.join(format!("pid.{r}"))).collect();
    wait_files(&files);
    let pids: Vec<i32> = files.iter().map(|f| read_pid(f)).collect();
    // SAFETY: kill only sends a signal to the fmirun this test started.
    assert_eq!(unsafe { libc::kill(child.id() as i32, libc::SIGKILL) }, 0);
    let out = finish(child, started);
    assert_eq!(out.status.code(), None);
    assert_gone(&pids);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn timeout_ends_the_job_with_124() {
    let out = run(&["-n", "2", "--timeout", "1", "sleep", "30"]);
    assert_eq!(out.status.code(), Some(124), "{}", out.stderr);
    assert!(
        out.stderr.contains("fmirun: job timed out after 1 s"),
        "{}",
        out.stderr
    );
    assert!(out.elapsed < Duration::from_secs(5), "{:?}", out.elapsed);
}

#[test]
fn bad_usage_exits_2_with_a_message() {
    for (args, words) in [
        (&[][..], "-n"),
        (&["sh"][..], "-n"),
        (&["-n", "0", "true"][..], "-n"),
        (&["-n", "two", "true"][..], "-n"),
        (&["-n", "2"][..], "program"),
        (&["-n", "2", "--frobnicate", "true"][..], "--frobnicate"),
        (&["-n", "2", "--grace", "soon", "true"][..], "--grace"),
        (
            &["-n", "2", "/nonexistent/fmi-program"][..],
            "fmirun: cannot start /nonexistent/fmi-program",
        ),
    ] {
        let out = run(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", out.stderr);
        assert!(out.stderr.contains(words), "{args:?}: {}", out.stderr);
        assert!(
            out.stderr.starts_with("fmirun: "),
            "{args:?}: {}",
            out.stderr
        );
    }
}
