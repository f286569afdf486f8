//! `fmirun`: starts the N ranks of an FMI job on this machine.
//!
//! ```text
//! fmirun -n N [--prefix] [--grace SECS] [--rendezvous HOST:PORT] [--job NAME]
//!        [--timeout SECS] [--] PROGRAM ARGS...
//! ```
//!
//! Every rank gets FMI_RANK, FMI_SIZE, FMI_JOB, FMI_RENDEZVOUS, FMI_TOKEN and FMI_LOCAL_SIZE. Without
//! `--rendezvous` an embedded rendezvous server serves the job. The first rank to
//! fail decides the exit code; the others get a grace period, then SIGTERM, then
//! SIGKILL. No rank outlives fmirun: each one is reaped before it exits, and each
//! dies with it if fmirun itself is killed (PR_SET_PDEATHSIG).

use fmi::punch::server::{Server, ServerConfig, ServerHandle};
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

const USAGE: &str = "\
usage: fmirun -n N [options] [--] PROGRAM [ARGS...]

Starts N ranks of PROGRAM as one FMI job.

  -n N                   number of ranks (required, at least 1)
  --prefix               prefix every output line with \"[rank R] \"
  --grace SECS           after a rank fails, how long the others may still run
                         before they are terminated (default 5)
  --rendezvous HOST:PORT use this rendezvous server instead of an embedded one
  --job NAME             job name (default fmirun-<pid>-<random>)
  --timeout SECS         wall-clock limit of the whole job; exit code 124 on expiry
  -h, --help             show this help";

/// Exit code for bad usage, as most command line tools use.
const EXIT_USAGE: i32 = 2;
/// Exit code on --timeout, as timeout(1) uses.
const EXIT_TIMEOUT: i32 = 124;
/// How often children are polled.
const POLL: Duration = Duration::from_millis(5);
/// Between SIGTERM and SIGKILL once ranks are being ended.
const TERM_TO_KILL: Duration = Duration::from_secs(1);
/// How long forwarded output may still drain after every rank is reaped (a
/// grandchild may hold the pipe open forever).
const OUTPUT_DRAIN: Duration = Duration::from_secs(2);

#[derive(Debug)]
struct Args {
    n: u32,
    prefix: bool,
    grace: Duration,
    rendezvous: Option<String>,
    job: Option<String>,
    timeout: Option<Duration>,
    program: String,
    program_args: Vec<String>,
}

fn parse_secs(opt: &str, v: &str, allow_zero: bool) -> Result<Duration, String> {
    match v.parse::<f64>() {
        Ok(s) if s.is_finite() && (s > 0.0 || (allow_zero && s == 0.0)) && s < 1e9 => {
            Ok(Duration::from_secs_f64(s))
        }
        _ => Err(format!("{opt}: '{v}' is not a valid number of seconds")),
    }
}

/// Whether `v` looks like HOST:PORT. The host is resolved by the ranks, not here:
/// it may only be meaningful where they run.
fn is_host_port(v: &str) -> bool {
    match v.rsplit_once(':') {
        Some((host, port)) => !host.is_empty() && port.parse::<u16>().is_ok_and(|p| p != 0),
        None => false,
    }
}

/// `Ok(None)` means --help was asked for.
fn parse_args(mut args: impl Iterator<Item = String>) -> Result<Option<Args>, String> {
    let mut n = None;
    let mut prefix = false;
    let mut grace = Duration::from_secs(5);
    let mut rendezvous = None;
    let mut job = None;
    let mut timeout = None;
    let mut program = None;
    while let Some(a) = args.next() {
        if a == "--" {
            program = args.next();
            break;
        }
        if !a.starts_with('-') || a == "-" {
            program = Some(a);
            break;
        }
        // Accept "--opt value", "--opt=value" and "-nN".
        let (name, inline) = if let Some((n, v)) = a.split_once('=') {
            (n.to_string(), Some(v.to_string()))
        } else if a.starts_with("-n") && a.len() > 2 && a[2..].bytes().all(|b| b.is_ascii_digit()) {
            ("-n".to_string(), Some(a[2..].to_string()))
        } else {
            (a.clone(), None)
        };
        let mut value = || -> Result<String, String> {
            inline
                .clone()
                .or_else(|| args.next())
                .ok_or_else(|| format!("{name} needs a value"))
        };
        match name.as_str() {
            "-h" | "--help" => return Ok(None),
            "-n" | "-np" | "--np" => {
                let v = value()?;
                n = match v.parse::<u32>() {
                    Ok(k) if k >= 1 => Some(k),
                    _ => return Err(format!("-n: '{v}' is not a number of ranks of at least 1")),
                };
            }
            "--prefix" => prefix = true,
            "--grace" => grace = parse_secs("--grace", &value()?, true)?,
            "--timeout" => timeout = Some(parse_secs("--timeout", &value()?, false)?),
            "--rendezvous" => {
                let v = value()?;
                if !is_host_port(&v) {
                    return Err(format!("--rendezvous: '{v}' is not HOST:PORT"));
                }
                rendezvous = Some(v);
            }
            "--job" => {
                let v = value()?;
                if v.is_empty() || v.len() > fmi::punch::proto::MAX_JOB_NAME {
                    return Err(format!(
                        "--job: the name must have 1 to {} bytes",
                        fmi::punch::proto::MAX_JOB_NAME
                    ));
                }
                job = Some(v);
            }
            other => return Err(format!("unknown option '{other}'")),
        }
    }
    let n = n.ok_or("the number of ranks is missing (-n N)")?;
    let program = program.ok_or("the program to run is missing")?;
    Ok(Some(Args {
        n,
        prefix,
        grace,
        rendezvous,
        job,
        timeout,
        program,
        program_args: args.collect(),
    }))
}

fn random_hex8() -> String {
    let mut b = [0u8; 4];
    if getrandom::getrandom(&mut b).is_err() {
        // Only uniqueness matters here; the pid is already part of the name.
        let t = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos())
            ^ std::process::id();
        b = t.to_le_bytes();
    }
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn describe(status: ExitStatus) -> String {
    if let Some(sig) = status.signal() {
        match Signal::try_from(sig) {
            Ok(s) => format!("killed by signal {sig} ({s})"),
            Err(_) => format!("killed by signal {sig}"),
        }
    } else {
        format!("exited with status {}", status.code().unwrap_or(-1))
    }
}

/// fmirun's own exit code for a failed rank: its code, or 128 + signal like a shell.
fn exit_code(status: ExitStatus) -> i32 {
    match (status.code(), status.signal()) {
        (Some(c), _) => c,
        (None, Some(s)) => 128 + s,
        (None, None) => 1,
    }
}

/// Copies `src` to stdout or stderr line by line, each line prefixed.
fn forward(src: impl Read + Send + 'static, rank: u32, to_stderr: bool, live: Arc<AtomicUsize>) {
    live.fetch_add(1, Ordering::SeqCst);
    let spawned = std::thread::Builder::new()
        .name(format!("fmirun-out-{rank}"))
        .spawn({
            let live = live.clone();
            move || {
                let mut r = BufReader::new(src);
                let mut line = Vec::new();
                let tag = format!("[rank {rank}] ");
                loop {
                    line.clear();
                    match r.read_until(b'\n', &mut line) {
                        Ok(0) => break,
                        Ok(_) => {}
                        Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                        Err(_) => break,
                    }
                    if line.last() != Some(&b'\n') {
                        line.push(b'\n');
                    }
                    // Build the line first so one write_all keeps it whole even if
                    // the other stream shares the terminal. Write errors (a closed
                    // stdout) are ignored: the pipe must still be drained, or the
                    // rank would block on a full pipe.
                    let mut out = Vec::with_capacity(tag.len() + line.len());
                    out.extend_from_slice(tag.as_bytes());
                    out.extend_from_slice(&line);
                    if to_stderr {
                        let mut e = io::stderr().lock();
                        let _ = e.write_all(&out).and_then(|_| e.flush());
                    } else {
                        let mut o = io::stdout().lock();
                        let _ = o.write_all(&out).and_then(|_| o.flush());
                    }
                }
                live.fetch_sub(1, Ordering::SeqCst);
            }
        });
    if let Err(e) = spawned {
        live.fetch_sub(1, Ordering::SeqCst);
        eprintln!("fmirun: cannot forward the output of rank {rank}: {e}");
    }
}

struct Rank {
    rank: u32,
    child: Child,
    /// Set once reaped.
    status: Option<ExitStatus>,
}

/// Sends `sig` to the process group of every rank not yet reaped. Each rank leads
/// its own group, so this reaches whatever the rank started too.
fn signal_all(ranks: &[Rank], sig: Signal) {
    for r in ranks.iter().filter(|r| r.status.is_none()) {
        // Groups are named by the leader's pid; an unreaped leader keeps it valid.
        let pgid = Pid::from_raw(-(r.child.id() as i32));
        if let Err(e) = kill(pgid, sig) {
            if e != nix::errno::Errno::ESRCH {
                eprintln!("fmirun: cannot send {sig} to rank {}: {e}", r.rank);
            }
        }
    }
}

/// Reaps whatever has exited; returns the ranks that exited just now.
fn reap(ranks: &mut [Rank]) -> Vec<(u32, ExitStatus)> {
    let mut done = Vec::new();
    for r in ranks.iter_mut().filter(|r| r.status.is_none()) {
        match r.child.try_wait() {
            Ok(Some(st)) => {
                r.status = Some(st);
                done.push((r.rank, st));
            }
            Ok(None) => {}
            Err(e) => {
                // ECHILD cannot happen for our own unreaped children; report and
                // treat as gone rather than spinning on it forever.
                eprintln!("fmirun: cannot wait for rank {}: {e}", r.rank);
                r.status = Some(ExitStatus::from_raw(1 << 8));
                done.push((r.rank, ExitStatus::from_raw(1 << 8)));
            }
        }
    }
    done
}

/// How far fmirun is in ending the job.
enum Stop {
    /// Ranks run.
    No,
    /// A rank failed; the others may finish until then.
    Grace(Instant),
    /// SIGTERM sent; SIGKILL at that time.
    Term(Instant),
    /// SIGKILL sent; only reaping is left.
    Killed,
}

fn spawn_ranks(
    args: &Args,
    rendezvous: &str,
    job: &str,
    token: &str,
    live_output: &Arc<AtomicUsize>,
) -> Result<Vec<Rank>, (Vec<Rank>, String)> {
    let parent = std::process::id() as libc::pid_t;
    // A background process group reading the terminal would be stopped (SIGTTIN),
    // so ranks only get stdin when it is not a terminal, and then only rank 0.
    // SAFETY: isatty only inspects a file descriptor number.
    let stdin_is_tty = unsafe { libc::isatty(0) } == 1;
    let mut ranks = Vec::with_capacity(args.n as usize);
    for rank in 0..args.n {
        let mut cmd = Command::new(&args.program);
        cmd.args(&args.program_args)
            .env("FMI_RANK", rank.to_string())
            .env("FMI_SIZE", args.n.to_string())
            .env("FMI_JOB", job)
            .env("FMI_RENDEZVOUS", rendezvous)
            .env("FMI_TOKEN", token)
            // all ranks share this host: tells the library how hard it may spin
            .env("FMI_LOCAL_SIZE", args.n.to_string())
            // Its own group, so fmirun can end the rank and all it started at once,
            // and a terminal's Ctrl-C reaches fmirun only, which then decides.
            .process_group(0);
        if rank != 0 || stdin_is_tty {
            cmd.stdin(Stdio::null());
        }
        if args.prefix {
            cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
        }
        // SAFETY: between fork and exec only async-signal-safe calls are allowed;
        // prctl, getppid and _exit are plain system calls, and the closure allocates
        // nothing (an OS error is a plain errno value).
        unsafe {
            cmd.pre_exec(move || {
                if libc::prctl(
                    libc::PR_SET_PDEATHSIG,
                    libc::SIGKILL as libc::c_ulong,
                    0,
                    0,
                    0,
                ) != 0
                {
                    return Err(io::Error::last_os_error());
                }
                // fmirun may have died before prctl took effect: then nobody would
                // ever kill this rank, so do not start it.
                if libc::getppid() != parent {
                    libc::_exit(127);
                }
                Ok(())
            });
        }
        match cmd.spawn() {
            Ok(mut child) => {
                if let Some(o) = child.stdout.take() {
                    forward(o, rank, false, live_output.clone());
                }
                if let Some(e) = child.stderr.take() {
                    forward(e, rank, true, live_output.clone());
                }
                ranks.push(Rank {
                    rank,
                    child,
                    status: None,
                });
            }
            Err(e) => {
                let msg = format!("cannot start {}: {e}", args.program);
                return Err((ranks, msg));
            }
        }
    }
    Ok(ranks)
}

fn run(args: Args) -> i32 {
    // Registered before any rank exists so that no signal is ever lost; the value
    // stored is the signal number.
    let signalled = Arc::new(AtomicUsize::new(0));
    for sig in [libc::SIGINT, libc::SIGTERM, libc::SIGHUP] {
        if let Err(e) = signal_hook::flag::register_usize(sig, signalled.clone(), sig as usize) {
            eprintln!("fmirun: cannot handle signal {sig}: {e}");
            return 1;
        }
    }

    let token = fmi::auth::new_token();
    let mut server: Option<ServerHandle> = None;
    let rendezvous = match &args.rendezvous {
        Some(r) => r.clone(),
        None => {
            // The embedded server serves this job only: given the token, it admits
            // no one else and never needs a verifier on the wire.
            let cfg = ServerConfig {
                token: Some(token.clone()),
                ..ServerConfig::default()
            };
            let started = Server::bind(([127, 0, 0, 1], 0).into(), cfg).and_then(Server::spawn);
            match started {
                Ok(h) => {
                    let a = h.local_addr().to_string();
                    server = Some(h);
                    a
                }
                Err(e) => {
                    eprintln!("fmirun: cannot start the embedded rendezvous server: {e}");
                    return 1;
                }
            }
        }
    };
    let job = args
        .job
        .clone()
        .unwrap_or_else(|| format!("fmirun-{}-{}", std::process::id(), random_hex8()));
    let live_output = Arc::new(AtomicUsize::new(0));

    let started = Instant::now();
    let (mut ranks, mut code, mut stop) =
        match spawn_ranks(&args, &rendezvous, &job, &token, &live_output) {
            Ok(r) => (r, None, Stop::No),
            Err((r, msg)) => {
                eprintln!("fmirun: {msg}");
                signal_all(&r, Signal::SIGKILL);
                (r, Some(EXIT_USAGE), Stop::Killed)
            }
        };

    loop {
        for (rank, st) in reap(&mut ranks) {
            let failed = !st.success();
            if failed && code.is_none() {
                eprintln!("fmirun: rank {rank} {}", describe(st));
                code = Some(exit_code(st));
                if matches!(stop, Stop::No) {
                    stop = Stop::Grace(Instant::now() + args.grace);
                }
            }
        }
        if ranks.iter().all(|r| r.status.is_some()) {
            break;
        }
        let now = Instant::now();
        let sig = signalled.swap(0, Ordering::SeqCst);
        if sig != 0 {
            if matches!(stop, Stop::No | Stop::Grace(_)) {
                eprintln!("fmirun: got signal {sig}, ending the job");
                code.get_or_insert(128 + sig as i32);
                signal_all(&ranks, Signal::SIGTERM);
                stop = Stop::Term(now + args.grace);
            } else {
                // A second signal: the user does not want to wait.
                signal_all(&ranks, Signal::SIGKILL);
                stop = Stop::Killed;
            }
        }
        if let (Some(limit), Stop::No | Stop::Grace(_)) = (args.timeout, &stop) {
            if now.duration_since(started) >= limit {
                eprintln!("fmirun: job timed out after {} s", limit.as_secs_f64());
                // A rank that failed before the limit stays the reported cause.
                code.get_or_insert(EXIT_TIMEOUT);
                signal_all(&ranks, Signal::SIGTERM);
                stop = Stop::Term(now + TERM_TO_KILL);
            }
        }
        match stop {
            Stop::Grace(t) if now >= t => {
                signal_all(&ranks, Signal::SIGTERM);
                stop = Stop::Term(now + TERM_TO_KILL);
            }
            Stop::Term(t) if now >= t => {
                signal_all(&ranks, Signal::SIGKILL);
                stop = Stop::Killed;
            }
            _ => {}
        }
        std::thread::sleep(POLL);
    }

    // Let forwarded output finish, but not forever: a grandchild can keep a pipe open.
    let drain_until = Instant::now() + OUTPUT_DRAIN;
    while live_output.load(Ordering::SeqCst) > 0 && Instant::now() < drain_until {
        std::thread::sleep(POLL);
    }
    if let Some(s) = server {
        s.shutdown();
    }
    code.unwrap_or(0)
}

fn main() {
    // Honours FMI_LOG; the rendezvous server reports through the `log` macros.
    fmi::log::init();
    let args = match parse_args(std::env::args().skip(1)) {
        Ok(Some(a)) => a,
        Ok(None) => {
            println!("{USAGE}");
            return;
        }
        Err(e) => {
            eprintln!("fmirun: {e}\n\n{USAGE}");
            std::process::exit(EXIT_USAGE);
        }
    };
    let code = run(args);
    let _ = io::stdout().flush();
    std::process::exit(code);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(v: &[&str]) -> Result<Option<Args>, String> {
        parse_args(v.iter().map(|s| s.to_string()))
    }

    #[test]
    fn parses_a_full_command_line() {
        let a = parse(&[
            "-n",
            "4",
            "--prefix",
            "--grace",
            "0.5",
            "--job=j",
            "--timeout",
            "3",
            "--",
            "prog",
            "-n",
            "x",
        ])
        .unwrap()
        .unwrap();
        assert_eq!(a.n, 4);
        assert!(a.prefix);
        assert_eq!(a.grace, Duration::from_millis(500));
        assert_eq!(a.job.as_deref(), Some("j"));
        assert_eq!(a.timeout, Some(Duration::from_secs(3)));
        assert_eq!(a.program, "prog");
        assert_eq!(a.program_args, vec!["-n", "x"]);
        let b = parse(&["-n2", "prog", "--prefix"]).unwrap().unwrap();
        assert_eq!(b.n, 2);
        assert!(!b.prefix);
        assert_eq!(b.program_args, vec!["--prefix"]);
    }

    #[test]
    fn rejects_bad_usage() {
        assert!(parse(&["prog"]).is_err());
        assert!(parse(&["-n", "0", "prog"]).is_err());
        assert!(parse(&["-n", "x", "prog"]).is_err());
        assert!(parse(&["-n", "2"]).is_err());
        assert!(parse(&["-n", "2", "--bogus", "prog"]).is_err());
        assert!(parse(&["-n", "2", "--grace", "-1", "prog"]).is_err());
        assert!(parse(&["-n", "2", "--timeout", "0", "prog"]).is_err());
        assert!(parse(&["-n", "2", "--rendezvous", "nohost", "prog"]).is_err());
        assert!(parse(&["-n", "2", "--rendezvous", "h:99999", "prog"]).is_err());
        assert!(parse(&["-n", "2", "--job", "", "prog"]).is_err());
        assert!(parse(&["-h"]).unwrap().is_none());
    }

    #[test]
    fn exit_codes_follow_the_shell() {
        assert_eq!(exit_code(ExitStatus::from_raw(3 << 8)), 3);
        assert_eq!(exit_code(ExitStatus::from_raw(9)), 137);
        assert_eq!(
            describe(ExitStatus::from_raw(9)),
            "killed by signal 9 (SIGKILL)"
        );
        assert_eq!(
            describe(ExitStatus::from_raw(3 << 8)),
            "exited with status 3"
        );
    }
}
