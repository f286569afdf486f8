//! A blocking PMI-1 client: how processes started by MPICH's `mpiexec` (Hydra) learn
//! their rank and exchange addresses through the launcher's key-value store (KVS),
//! without a rendezvous server.
//!
//! The wire protocol is the one of MPICH's `src/pmi/simple/simple_pmi.c` (client) and
//! Hydra's `pmiserv`/`pmip` PMI-1 handlers (server): one request line
//! `cmd=NAME key=value ...\n`, answered by one line in the same form:
//!
//! | request | reply |
//! |---|---|
//! | `cmd=initack pmiid=ID` (`PMI_PORT` mode only) | `cmd=initack`, then `cmd=set size=N`, `cmd=set rank=R`, `cmd=set debug=D` |
//! | `cmd=init pmi_version=1 pmi_subversion=1` | `cmd=response_to_init pmi_version=1 pmi_subversion=1 rc=0` |
//! | `cmd=get_maxes` | `cmd=maxes kvsname_max=256 keylen_max=64 vallen_max=1024` |
//! | `cmd=get_my_kvsname` | `cmd=my_kvsname kvsname=NAME` |
//! | `cmd=put kvsname=NAME key=K value=V` | `cmd=put_result rc=0 msg=success` |
//! | `cmd=barrier_in` | `cmd=barrier_out` (once every rank has entered) |
//! | `cmd=get kvsname=NAME key=K` | `cmd=get_result rc=0 msg=success value=V` (`rc=-1 msg=key_K_not_found` when missing) |
//! | `cmd=abort exitcode=C` | none: the launcher kills the job, which exits with `C` |
//! | `cmd=finalize` | `cmd=finalize_ack` |
//!
//! Hydra knows no `get_rank`/`get_size` command (an unknown command makes `mpiexec`
//! kill the whole job), so this client never sends one: with `PMI_FD` the rank and
//! size come from `PMI_RANK`/`PMI_SIZE`, with `PMI_PORT`+`PMI_ID` from the `initack`
//! exchange.
//!
//! Every request is bounded by a timeout (`FMI_TIMEOUT_MS`, default 120 s), so a dead
//! or silent launcher gives an error instead of a hang. After a transport or protocol
//! failure (timeout, closed socket, garbled reply) the connection is out of step with
//! the server, and every later call fails at once with that first error; a reply with
//! `rc` other than 0 leaves the connection usable.

use crate::error::{Error, ErrorKind, Result};
use std::io::{self, Read};
use std::net::{Shutdown, TcpStream, ToSocketAddrs};
use std::os::unix::io::{AsRawFd, FromRawFd, RawFd};
use std::os::unix::net::UnixStream;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// Bound on every PMI request when `FMI_TIMEOUT_MS` is not set (the crate-wide default).
pub const DEFAULT_TIMEOUT: Duration = Duration::from_millis(crate::config::DEFAULT_TIMEOUT_MS);

/// Longest reply line accepted from the server (Hydra's are below 1.2 KiB).
const MAX_LINE: usize = 64 * 1024;

/// How long `abort` tries to deliver its command at most.
const ABORT_SEND_TIMEOUT: Duration = Duration::from_secs(5);

/// Set once `from_env` has taken ownership of the inherited `PMI_FD`: a second
/// owner would close the descriptor twice and interleave requests.
static PMI_FD_TAKEN: AtomicBool = AtomicBool::new(false);

/// A connected stream socket to a PMI-1 server.
#[derive(Debug)]
pub enum PmiStream {
    /// A Unix-domain socket (what Hydra hands over in `PMI_FD`, or a test's
    /// `UnixStream::pair()`).
    Unix(UnixStream),
    /// A TCP connection (`PMI_PORT=host:port`).
    Tcp(TcpStream),
}

impl From<UnixStream> for PmiStream {
    fn from(s: UnixStream) -> Self {
        PmiStream::Unix(s)
    }
}

impl From<TcpStream> for PmiStream {
    fn from(s: TcpStream) -> Self {
        PmiStream::Tcp(s)
    }
}

impl PmiStream {
    fn fd(&self) -> RawFd {
        match self {
            PmiStream::Unix(s) => s.as_raw_fd(),
            PmiStream::Tcp(s) => s.as_raw_fd(),
        }
    }

    fn set_nonblocking(&self, on: bool) -> io::Result<()> {
        match self {
            PmiStream::Unix(s) => s.set_nonblocking(on),
            PmiStream::Tcp(s) => s.set_nonblocking(on),
        }
    }

    fn set_read_timeout(&self, t: Option<Duration>) -> io::Result<()> {
        match self {
            PmiStream::Unix(s) => s.set_read_timeout(t),
            PmiStream::Tcp(s) => s.set_read_timeout(t),
        }
    }

    fn set_write_timeout(&self, t: Option<Duration>) -> io::Result<()> {
        match self {
            PmiStream::Unix(s) => s.set_write_timeout(t),
            PmiStream::Tcp(s) => s.set_write_timeout(t),
        }
    }

    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            PmiStream::Unix(s) => s.read(buf),
            PmiStream::Tcp(s) => s.read(buf),
        }
    }

    fn shutdown(&self) {
        // Best effort: the socket is closed on drop anyway.
        let _ = match self {
            PmiStream::Unix(s) => s.shutdown(Shutdown::Both),
            PmiStream::Tcp(s) => s.shutdown(Shutdown::Both),
        };
    }

    /// One `send(2)` with `MSG_NOSIGNAL`: a launcher that has gone away must give an
    /// `EPIPE` error, not a `SIGPIPE` that kills a C host program (which, unlike a
    /// Rust binary, does not ignore the signal).
    fn send(&mut self, data: &[u8]) -> io::Result<usize> {
        // SAFETY: `self.fd()` is an open socket owned by `self` for the whole call, and
        // the pointer and length describe the live, initialised slice `data`.
        let n = unsafe {
            libc::send(
                self.fd(),
                data.as_ptr().cast::<libc::c_void>(),
                data.len(),
                libc::MSG_NOSIGNAL,
            )
        };
        if n < 0 {
            Err(io::Error::last_os_error())
        } else {
            Ok(n as usize)
        }
    }
}

/// Which identity the handshake establishes.
#[derive(Debug, Clone, Copy)]
enum Who {
    /// Rank and size are already known (`PMI_RANK`/`PMI_SIZE`, or the caller's).
    Known { rank: u32, size: u32 },
    /// `PMI_PORT` mode: the server tells rank and size in reply to `cmd=initack`.
    PmiId(u32),
}

/// One parsed reply line: `cmd=NAME` followed by `key=value` fields.
#[derive(Debug)]
struct Reply {
    cmd: String,
    fields: Vec<(String, String)>,
    line: String,
}

impl Reply {
    fn get(&self, key: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
}

/// Splits `cmd=NAME k=v k=v` at spaces and each field at its first `=` (so values may
/// contain `=`, as in Hydra). Fields without `=` are ignored, as are unknown ones.
fn parse_reply(line: &str) -> std::result::Result<Reply, String> {
    let mut tokens = line.split(' ').filter(|t| !t.is_empty());
    let cmd = match tokens.next().and_then(|t| t.strip_prefix("cmd=")) {
        Some(c) if !c.is_empty() => c.to_string(),
        _ => return Err("a line that does not start with cmd=NAME".to_string()),
    };
    let fields = tokens
        .filter_map(|t| t.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    Ok(Reply {
        cmd,
        fields,
        line: line.to_string(),
    })
}

/// A line for an error message: shortened and with control characters escaped.
fn shown(line: &str) -> String {
    const MAX: usize = 200;
    let mut s: String = line.chars().take(MAX).collect();
    if line.chars().nth(MAX).is_some() {
        s.push_str("...");
    }
    format!("{s:?}")
}

fn channel(msg: String) -> Error {
    Error::new(ErrorKind::Channel, msg)
}

/// The `rc` of a reply: absent counts as success (as in `simple_pmi.c`).
fn reply_rc(r: &Reply) -> Result<i64> {
    match r.get("rc") {
        None => Ok(0),
        Some(v) => v.parse().map_err(|_| {
            channel(format!(
                "PMI server sent cmd={} with rc={v:?}, not an integer (line {})",
                r.cmd,
                shown(&r.line)
            ))
        }),
    }
}

/// Checks a key: non-empty, shorter than the server's `keylen_max` (Hydra stores
/// at most `keylen_max - 1` bytes and silently truncates the rest), printable ASCII
/// without space or `=`.
fn check_key(key: &str, keylen_max: usize) -> Result<()> {
    if key.is_empty() {
        return Err(Error::arg("PMI key is empty"));
    }
    if key.len() >= keylen_max {
        return Err(Error::arg(format!(
            "PMI key {key:?} is {} bytes; the server takes at most {} (keylen_max={keylen_max})",
            key.len(),
            keylen_max - 1
        )));
    }
    if let Some((i, c)) = key
        .char_indices()
        .find(|&(_, c)| !c.is_ascii_graphic() || c == '=')
    {
        return Err(Error::arg(format!(
            "PMI key {key:?} has {c:?} at byte {i}; keys must be printable ASCII without space or '='"
        )));
    }
    Ok(())
}

/// Checks a value: shorter than `vallen_max`, and none of the characters that end a
/// field or a line (space, control characters such as newline). `=` is allowed:
/// servers split a field at its first `=`. Empty values are allowed.
fn check_value(key: &str, value: &str, vallen_max: usize) -> Result<()> {
    if value.len() >= vallen_max {
        return Err(Error::arg(format!(
            "PMI value for key {key:?} is {} bytes; the server takes at most {} (vallen_max={vallen_max})",
            value.len(),
            vallen_max - 1
        )));
    }
    if let Some((i, c)) = value
        .char_indices()
        .find(|&(_, c)| c == ' ' || c.is_control())
    {
        return Err(Error::arg(format!(
            "PMI value for key {key:?} has {c:?} at byte {i}; values must not contain spaces \
             or control characters (encode such data, e.g. as hex)"
        )));
    }
    Ok(())
}

/// A connection to the PMI-1 server of the launcher that started this process.
///
/// Typical use: [`Pmi::from_env`], [`put`](Pmi::put) this rank's address,
/// [`fence`](Pmi::fence), [`get`](Pmi::get) the others', [`finalize`](Pmi::finalize).
/// Dropping a `Pmi` closes the connection without `cmd=finalize`.
#[derive(Debug)]
pub struct Pmi {
    stream: PmiStream,
    /// Bytes received but not yet consumed as lines.
    rbuf: Vec<u8>,
    rank: u32,
    size: u32,
    kvsname: String,
    kvsname_max: usize,
    keylen_max: usize,
    vallen_max: usize,
    timeout: Option<Duration>,
    /// The first transport or protocol failure; the connection is unusable after it.
    broken: Option<Error>,
}

impl Pmi {
    /// Connects to the PMI-1 server named by the environment, or returns `None` when
    /// this process was not started by a PMI-1 launcher (neither `PMI_FD` nor
    /// `PMI_PORT` is set).
    ///
    /// - `PMI_FD=N` (Hydra's default): the inherited, connected socket `N`; rank and
    ///   size from `PMI_RANK` and `PMI_SIZE`, which must be set. The descriptor is taken
    ///   over (marked close-on-exec, closed when the `Pmi` is dropped), so nothing else
    ///   in the process may use it, and a second call fails.
    /// - `PMI_PORT=host:port` (`mpiexec -pmi-port`): a TCP connection; with `PMI_ID`
    ///   the server tells rank and size (`cmd=initack`), without it they come from
    ///   `PMI_RANK`/`PMI_SIZE`.
    ///
    /// Then it runs `cmd=init` (PMI 1.1), `cmd=get_maxes` and `cmd=get_my_kvsname`.
    /// Each request is bounded by `FMI_TIMEOUT_MS` (default 120000; 0 = no bound).
    pub fn from_env() -> Result<Option<Pmi>> {
        Self::from_lookup(|name| std::env::var(name).ok().filter(|v| !v.is_empty()))
    }

    /// Runs the PMI-1 handshake (`init`, `get_maxes`, `get_my_kvsname`) over an already
    /// connected stream, for a process whose rank and size are known. Each request is
    /// bounded by `timeout` (`None`: no bound). Used by tests and by launchers that
    /// connect by other means.
    pub fn with_stream(
        stream: impl Into<PmiStream>,
        rank: u32,
        size: u32,
        timeout: Option<Duration>,
    ) -> Result<Pmi> {
        Self::handshake(stream.into(), Who::Known { rank, size }, timeout)
    }

    /// This process's rank in the job.
    pub fn rank(&self) -> u32 {
        self.rank
    }

    /// The number of processes in the job.
    pub fn size(&self) -> u32 {
        self.size
    }

    /// The name of the job's key-value space.
    pub fn kvsname(&self) -> &str {
        &self.kvsname
    }

    /// The longest key [`put`](Pmi::put) and [`get`](Pmi::get) accept, in bytes
    /// (`keylen_max - 1` of the server: its limit counts the C string's NUL).
    pub fn max_key_len(&self) -> usize {
        self.keylen_max - 1
    }

    /// The longest value [`put`](Pmi::put) accepts, in bytes (`vallen_max - 1`).
    pub fn max_value_len(&self) -> usize {
        self.vallen_max - 1
    }

    /// Changes the bound on each later request (`None`: no bound).
    pub fn set_timeout(&mut self, timeout: Option<Duration>) {
        self.timeout = timeout;
    }

    /// Stores `key=value` in the job's KVS (`cmd=put`). The pair becomes visible to
    /// every rank, this one included, only after the next [`fence`](Pmi::fence).
    ///
    /// Keys must be printable ASCII without space or `=`, values must not contain
    /// spaces or control characters (newline ends a PMI line, space ends a field); `=`
    /// in values is fine. Both must be shorter than the server's `get_maxes` limits
    /// (Hydra: keys up to 63 bytes, values up to 1023), which Hydra would otherwise
    /// truncate silently. Violations are refused with an `Arg` error before anything is
    /// sent; data that breaks these rules should be encoded (e.g. as hex) by the
    /// caller. Putting a key twice is server-dependent (Hydra keeps the last value).
    pub fn put(&mut self, key: &str, value: &str) -> Result<()> {
        check_key(key, self.keylen_max)?;
        check_value(key, value, self.vallen_max)?;
        let line = format!("cmd=put kvsname={} key={key} value={value}\n", self.kvsname);
        let r = self.request(&line, "put_result")?;
        let rc = reply_rc(&r)?;
        if rc != 0 {
            return Err(channel(format!(
                "PMI server refused cmd=put of key {key:?} in KVS {}: rc={rc} msg={}",
                self.kvsname,
                r.get("msg").unwrap_or("(none)")
            )));
        }
        Ok(())
    }

    /// Waits until every rank of the job has entered the fence (`cmd=barrier_in`,
    /// answered by `cmd=barrier_out`); afterwards all earlier puts of all ranks are
    /// visible to [`get`](Pmi::get). Bounded by the timeout like every request, so a
    /// rank that never arrives gives a `Timeout` error.
    pub fn fence(&mut self) -> Result<()> {
        self.request("cmd=barrier_in\n", "barrier_out").map(|_| ())
    }

    /// Reads `key` from the job's KVS (`cmd=get`). A key that no rank put before the
    /// last fence is an error naming the key and the server's message; the connection
    /// stays usable after it.
    pub fn get(&mut self, key: &str) -> Result<String> {
        check_key(key, self.keylen_max)?;
        let line = format!("cmd=get kvsname={} key={key}\n", self.kvsname);
        let r = self.request(&line, "get_result")?;
        let rc = reply_rc(&r)?;
        if rc != 0 {
            return Err(channel(format!(
                "PMI key {key:?} not found in KVS {} (server: rc={rc} msg={})",
                self.kvsname,
                r.get("msg").unwrap_or("(none)")
            )));
        }
        match r.get("value") {
            Some(v) => Ok(v.to_string()),
            None => Err(channel(format!(
                "PMI server sent cmd=get_result with rc=0 but no value for key {key:?} (line {})",
                shown(&r.line)
            ))),
        }
    }

    /// Asks the launcher to kill the whole job with exit status `code`
    /// (`cmd=abort exitcode=CODE`, which Hydra answers by terminating every rank,
    /// this one included). `msg` is written to stderr, as `simple_pmi.c` does; it is not
    /// sent. Best effort: failures are ignored and the call returns after sending (for
    /// at most a few seconds), so the caller should exit with `code` itself. Every later
    /// request on this `Pmi` fails.
    pub fn abort(&mut self, code: i32, msg: &str) {
        // One write; a closed or broken stderr must not panic here.
        let _ = std::io::Write::write_all(
            &mut std::io::stderr(),
            format!(
                "fmi: rank {} aborts the job through PMI (exit code {code}): {msg}\n",
                self.rank
            )
            .as_bytes(),
        );
        let limit = self
            .timeout
            .map_or(ABORT_SEND_TIMEOUT, |t| t.min(ABORT_SEND_TIMEOUT));
        let _ = self.send_line(
            &format!("cmd=abort exitcode={code}\n"),
            Some(Instant::now() + limit),
        );
        self.broken = Some(channel(format!(
            "PMI job was aborted by rank {} (exit code {code})",
            self.rank
        )));
    }

    /// Tells the launcher that this process is done with PMI (`cmd=finalize`), waits
    /// for `cmd=finalize_ack` and closes the connection.
    pub fn finalize(mut self) -> Result<()> {
        self.request("cmd=finalize\n", "finalize_ack")?;
        self.stream.shutdown();
        Ok(())
    }

    // ---- setup ----

    fn from_lookup(var: impl Fn(&str) -> Option<String>) -> Result<Option<Pmi>> {
        let timeout = match var("FMI_TIMEOUT_MS") {
            None => Some(DEFAULT_TIMEOUT),
            Some(v) => match v.trim().parse::<u64>() {
                Ok(0) => None,
                Ok(ms) => Some(Duration::from_millis(ms)),
                Err(_) => {
                    return Err(Error::config(format!(
                        "FMI_TIMEOUT_MS={v:?} is not a non-negative integer"
                    )))
                }
            },
        };
        if let Some(v) = var("PMI_FD") {
            let fd: RawFd = match v.trim().parse() {
                Ok(fd) if fd >= 0 => fd,
                _ => {
                    return Err(Error::config(format!(
                        "PMI_FD={v:?} is not a file descriptor number"
                    )))
                }
            };
            let (rank, size) = rank_size(&var, "PMI_FD")?;
            let stream = take_fd(fd)?;
            return Self::handshake(stream, Who::Known { rank, size }, timeout).map(Some);
        }
        if let Some(port) = var("PMI_PORT") {
            let who = match var("PMI_ID") {
                Some(v) => Who::PmiId(v.trim().parse().map_err(|_| {
                    Error::config(format!("PMI_ID={v:?} is not a non-negative integer"))
                })?),
                None => {
                    let (rank, size) = rank_size(&var, "PMI_PORT")?;
                    Who::Known { rank, size }
                }
            };
            let stream = connect_port(&port, timeout)?;
            return Self::handshake(stream, who, timeout).map(Some);
        }
        Ok(None)
    }

    fn handshake(stream: PmiStream, who: Who, timeout: Option<Duration>) -> Result<Pmi> {
        stream
            .set_nonblocking(false)
            .map_err(|e| Error::connect(format!("cannot make the PMI socket blocking: {e}")))?;
        let mut p = Pmi {
            stream,
            rbuf: Vec::new(),
            rank: 0,
            size: 1,
            kvsname: String::new(),
            kvsname_max: 0,
            keylen_max: 0,
            vallen_max: 0,
            timeout,
            broken: None,
        };
        let (rank, size) = match who {
            Who::Known { rank, size } => (rank, size),
            Who::PmiId(id) => p.initack(id)?,
        };
        if size == 0 || rank >= size {
            return Err(Error::config(format!(
                "PMI rank {rank} is not below the job size {size}"
            )));
        }
        p.rank = rank;
        p.size = size;

        let r = p.request(
            "cmd=init pmi_version=1 pmi_subversion=1\n",
            "response_to_init",
        )?;
        let rc = reply_rc(&r)?;
        if rc != 0 {
            return Err(Error::new(
                ErrorKind::Unsupported,
                format!(
                    "PMI server refused PMI version 1.1: rc={rc}, it speaks {}.{} (line {})",
                    r.get("pmi_version").unwrap_or("?"),
                    r.get("pmi_subversion").unwrap_or("?"),
                    shown(&r.line)
                ),
            ));
        }

        let r = p.request("cmd=get_maxes\n", "maxes")?;
        let max = |name: &str| -> Result<usize> {
            match r.get(name).map(|v| v.parse::<usize>()) {
                Some(Ok(n)) if n >= 2 => Ok(n),
                _ => Err(channel(format!(
                    "PMI server sent cmd=maxes without a usable {name} (line {})",
                    shown(&r.line)
                ))),
            }
        };
        p.kvsname_max = max("kvsname_max")?;
        p.keylen_max = max("keylen_max")?;
        p.vallen_max = max("vallen_max")?;

        let r = p.request("cmd=get_my_kvsname\n", "my_kvsname")?;
        match r.get("kvsname") {
            Some(k) if !k.is_empty() && k.len() < p.kvsname_max => p.kvsname = k.to_string(),
            _ => {
                return Err(channel(format!(
                    "PMI server sent cmd=my_kvsname without a usable kvsname (line {})",
                    shown(&r.line)
                )))
            }
        }
        Ok(p)
    }

    /// `PMI_PORT` mode: `cmd=initack pmiid=ID`, answered by `cmd=initack` and three
    /// `cmd=set` lines (size, rank, debug), as `PMII_Set_from_port` expects.
    fn initack(&mut self, id: u32) -> Result<(u32, u32)> {
        let deadline = self.deadline();
        self.request(&format!("cmd=initack pmiid={id}\n"), "initack")?;
        let (mut rank, mut size) = (None, None);
        for _ in 0..3 {
            let r = match self.read_reply(deadline, "set") {
                Ok(r) => r,
                Err(e) => {
                    self.broken = Some(e.clone());
                    return Err(e);
                }
            };
            let num = |v: &str| -> Result<u32> {
                v.parse().map_err(|_| {
                    channel(format!(
                        "PMI server sent cmd=set with a non-numeric value (line {})",
                        shown(&r.line)
                    ))
                })
            };
            if let Some(v) = r.get("size") {
                size = Some(num(v)?);
            } else if let Some(v) = r.get("rank") {
                rank = Some(num(v)?);
            }
        }
        match (rank, size) {
            (Some(r), Some(s)) => Ok((r, s)),
            _ => Err(channel(format!(
                "PMI server answered cmd=initack pmiid={id} without both cmd=set rank= and size="
            ))),
        }
    }

    // ---- protocol ----

    fn deadline(&self) -> Option<Instant> {
        self.timeout.map(|t| Instant::now() + t)
    }

    /// Sends one request line and reads the one reply, which must be `cmd=expect`.
    /// A failure here leaves the connection out of step, so it is remembered.
    fn request(&mut self, line: &str, expect: &str) -> Result<Reply> {
        if let Some(e) = &self.broken {
            return Err(Error::new(
                e.kind,
                format!(
                    "PMI connection unusable after an earlier failure: {}",
                    e.msg
                ),
            ));
        }
        let deadline = self.deadline();
        let res = self
            .send_line(line, deadline)
            .and_then(|()| self.read_reply(deadline, expect));
        if let Err(e) = &res {
            self.broken = Some(e.clone());
        }
        res
    }

    fn remaining(&self, deadline: Option<Instant>, what: &str) -> Result<Option<Duration>> {
        match deadline {
            None => Ok(None),
            Some(d) => {
                let left = d.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    Err(self.timed_out(what))
                } else {
                    Ok(Some(left))
                }
            }
        }
    }

    fn timed_out(&self, what: &str) -> Error {
        Error::timeout(format!(
            "PMI server did not {what} within {} ms (FMI_TIMEOUT_MS)",
            self.timeout.map_or(0, |t| t.as_millis())
        ))
    }

    fn send_line(&mut self, line: &str, deadline: Option<Instant>) -> Result<()> {
        let cmd = line.split(' ').next().unwrap_or(line).trim_end();
        let what = format!("take our {cmd}");
        let data = line.as_bytes();
        let mut off = 0;
        while off < data.len() {
            let left = self.remaining(deadline, &what)?;
            self.stream
                .set_write_timeout(left)
                .map_err(|e| channel(format!("cannot set the PMI socket's send timeout: {e}")))?;
            match self.stream.send(&data[off..]) {
                Ok(0) => {
                    return Err(channel(format!(
                        "PMI connection closed while sending {cmd}"
                    )))
                }
                Ok(n) => off += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                    ) =>
                {
                    return Err(self.timed_out(&what))
                }
                Err(e) => return Err(channel(format!("cannot send {cmd} to the PMI server: {e}"))),
            }
        }
        Ok(())
    }

    /// Reads one line and parses it; it must be `cmd=expect`.
    fn read_reply(&mut self, deadline: Option<Instant>, expect: &str) -> Result<Reply> {
        let line = self.read_line(deadline, expect)?;
        let r = parse_reply(&line).map_err(|what| {
            channel(format!(
                "PMI server sent {what} where cmd={expect} was expected: {}",
                shown(&line)
            ))
        })?;
        if r.cmd != expect {
            return Err(channel(format!(
                "PMI server sent cmd={} where cmd={expect} was expected (line {})",
                r.cmd,
                shown(&line)
            )));
        }
        Ok(r)
    }

    fn read_line(&mut self, deadline: Option<Instant>, expect: &str) -> Result<String> {
        let what = format!("send cmd={expect}");
        loop {
            if let Some(pos) = self.rbuf.iter().position(|&b| b == b'\n') {
                let mut line: Vec<u8> = self.rbuf.drain(..=pos).collect();
                line.pop();
                if line.last() == Some(&b'\r') {
                    line.pop();
                }
                return String::from_utf8(line).map_err(|e| {
                    channel(format!(
                        "PMI server sent a line that is not UTF-8 where cmd={expect} was expected: {}",
                        shown(&String::from_utf8_lossy(e.as_bytes()))
                    ))
                });
            }
            if self.rbuf.len() > MAX_LINE {
                return Err(channel(format!(
                    "PMI server sent more than {MAX_LINE} bytes without a newline where cmd={expect} was expected"
                )));
            }
            let left = self.remaining(deadline, &what)?;
            self.stream.set_read_timeout(left).map_err(|e| {
                channel(format!("cannot set the PMI socket's receive timeout: {e}"))
            })?;
            let mut chunk = [0u8; 4096];
            match self.stream.read(&mut chunk) {
                Ok(0) => {
                    let partial = if self.rbuf.is_empty() {
                        String::new()
                    } else {
                        format!(
                            " (after a partial line {})",
                            shown(&String::from_utf8_lossy(&self.rbuf))
                        )
                    };
                    return Err(channel(format!(
                        "PMI server closed the connection while we waited for cmd={expect}{partial}"
                    )));
                }
                Ok(n) => self.rbuf.extend_from_slice(&chunk[..n]),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                    ) =>
                {
                    return Err(self.timed_out(&what))
                }
                Err(e) => {
                    return Err(channel(format!(
                        "cannot read cmd={expect} from the PMI server: {e}"
                    )))
                }
            }
        }
    }
}

/// Rank and size from `PMI_RANK`/`PMI_SIZE`, required when `mode` (`PMI_FD` or
/// `PMI_PORT` without `PMI_ID`) is set.
fn rank_size(var: &impl Fn(&str) -> Option<String>, mode: &str) -> Result<(u32, u32)> {
    let num = |name: &str| -> Result<u32> {
        let v =
            var(name).ok_or_else(|| Error::config(format!("{mode} is set but {name} is not")))?;
        v.trim()
            .parse()
            .map_err(|_| Error::config(format!("{name}={v:?} is not a non-negative integer")))
    };
    let (rank, size) = (num("PMI_RANK")?, num("PMI_SIZE")?);
    if rank >= size {
        return Err(Error::config(format!(
            "PMI_RANK={rank} is not below PMI_SIZE={size}"
        )));
    }
    Ok((rank, size))
}

/// Takes ownership of the inherited `PMI_FD` after checking that it is an open socket.
fn take_fd(fd: RawFd) -> Result<PmiStream> {
    if PMI_FD_TAKEN.load(Ordering::SeqCst) {
        return Err(Error::config(format!(
            "PMI_FD={fd} is already owned by an earlier Pmi::from_env in this process"
        )));
    }
    // SAFETY: `libc::stat` is plain old data, for which all-zero bytes are a valid value.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: `st` is a valid, writable `stat`; fstat on any fd number is sound (a bad
    // one gives EBADF).
    if unsafe { libc::fstat(fd, &mut st) } != 0 {
        return Err(Error::connect(format!(
            "PMI_FD={fd} is not an open file descriptor: {}",
            io::Error::last_os_error()
        )));
    }
    if st.st_mode & libc::S_IFMT != libc::S_IFSOCK {
        return Err(Error::connect(format!(
            "PMI_FD={fd} is not a socket (file mode {:o})",
            st.st_mode
        )));
    }
    if PMI_FD_TAKEN
        .compare_exchange(false, true, Ordering::SeqCst, Ordering::SeqCst)
        .is_err()
    {
        return Err(Error::config(format!(
            "PMI_FD={fd} is already owned by an earlier Pmi::from_env in this process"
        )));
    }
    // Children we start must not inherit the launcher's connection.
    // SAFETY: fcntl with F_GETFD/F_SETFD on an open descriptor only changes its flags.
    unsafe {
        let flags = libc::fcntl(fd, libc::F_GETFD);
        if flags >= 0 {
            libc::fcntl(fd, libc::F_SETFD, flags | libc::FD_CLOEXEC);
        }
    }
    // SAFETY: `fd` is an open socket (checked above) that the launcher handed to this
    // process for PMI only; PMI_FD_TAKEN makes this the single owner in the process, so
    // it is closed exactly once, when the stream is dropped. Only socket calls valid for
    // any stream socket (read, send, setsockopt, shutdown) are made on it, so wrapping a
    // TCP socket as a UnixStream is harmless.
    Ok(PmiStream::Unix(unsafe { UnixStream::from_raw_fd(fd) }))
}

/// Connects to `PMI_PORT=host:port`, trying each resolved address in turn.
fn connect_port(port: &str, timeout: Option<Duration>) -> Result<PmiStream> {
    if !port.contains(':') {
        return Err(Error::config(format!("PMI_PORT={port:?} is not host:port")));
    }
    let addrs: Vec<_> = port
        .to_socket_addrs()
        .map_err(|e| Error::connect(format!("cannot resolve PMI_PORT={port:?}: {e}")))?
        .collect();
    let limit = timeout.unwrap_or(DEFAULT_TIMEOUT);
    let mut last = None;
    for a in &addrs {
        match TcpStream::connect_timeout(a, limit) {
            Ok(s) => {
                let _ = s.set_nodelay(true);
                return Ok(PmiStream::Tcp(s));
            }
            Err(e) => last = Some(format!("{a}: {e}")),
        }
    }
    Err(Error::connect(format!(
        "cannot connect to the PMI server at PMI_PORT={port:?} ({})",
        last.unwrap_or_else(|| "no address".to_string())
    )))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;
    use std::io::{BufRead, BufReader, Write};
    use std::sync::{Arc, Barrier, Mutex};
    use std::thread;

    const T: Option<Duration> = Some(Duration::from_secs(10));
    const KVS: &str = "kvs_test_0";

    /// The KVS shared by the ranks of a fake job: puts are pending until a fence.
    struct Job {
        pending: Mutex<Vec<(String, String)>>,
        kvs: Mutex<HashMap<String, String>>,
        barrier: Barrier,
    }

    fn fields(line: &str) -> HashMap<String, String> {
        line.split(' ')
            .filter_map(|t| t.split_once('='))
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    /// One connection of a fake Hydra: answers like pmip_pmi_v1.c until finalize or EOF.
    /// Returns the lines it received.
    fn serve(sock: UnixStream, job: Arc<Job>) -> Vec<String> {
        let mut w = sock.try_clone().unwrap();
        let mut seen = Vec::new();
        for line in BufReader::new(sock).lines() {
            let Ok(line) = line else { break };
            seen.push(line.clone());
            let f = fields(&line);
            let reply = match f.get("cmd").map(String::as_str) {
                Some("init") => "cmd=response_to_init pmi_version=1 pmi_subversion=1 rc=0\n".into(),
                Some("get_maxes") => {
                    "cmd=maxes kvsname_max=256 keylen_max=64 vallen_max=1024\n".into()
                }
                Some("get_my_kvsname") => format!("cmd=my_kvsname kvsname={KVS}\n"),
                Some("put") => {
                    assert_eq!(f["kvsname"], KVS);
                    let v = f.get("value").cloned().unwrap_or_default();
                    job.pending.lock().unwrap().push((f["key"].clone(), v));
                    "cmd=put_result rc=0 msg=success\n".into()
                }
                Some("barrier_in") => {
                    job.barrier.wait();
                    {
                        let mut p = job.pending.lock().unwrap();
                        job.kvs.lock().unwrap().extend(p.drain(..));
                    }
                    job.barrier.wait();
                    "cmd=barrier_out\n".into()
                }
                Some("get") => match job.kvs.lock().unwrap().get(&f["key"]) {
                    Some(v) => format!("cmd=get_result rc=0 msg=success value={v}\n"),
                    None => format!(
                        "cmd=get_result rc=-1 msg=key_{}_not_found value=unknown\n",
                        f["key"]
                    ),
                },
                Some("finalize") => {
                    let _ = w.write_all(b"cmd=finalize_ack\n");
                    break;
                }
                Some("abort") => break,
                _ => panic!("fake server got {line:?}"),
            };
            if w.write_all(reply.as_bytes()).is_err() {
                break;
            }
        }
        seen
    }

    fn job(n: usize) -> Arc<Job> {
        Arc::new(Job {
            pending: Mutex::new(Vec::new()),
            kvs: Mutex::new(HashMap::new()),
            barrier: Barrier::new(n),
        })
    }

    /// A client connected to a one-rank fake job.
    fn single() -> (Pmi, thread::JoinHandle<Vec<String>>) {
        let (c, s) = UnixStream::pair().unwrap();
        let j = job(1);
        let h = thread::spawn(move || serve(s, j));
        (Pmi::with_stream(c, 0, 1, T).unwrap(), h)
    }

    /// A server that answers the handshake, then runs `script` on the raw socket.
    fn scripted(
        script: impl FnOnce(&mut BufReader<UnixStream>, &mut UnixStream) + Send + 'static,
    ) -> (UnixStream, thread::JoinHandle<()>) {
        let (c, s) = UnixStream::pair().unwrap();
        let h = thread::spawn(move || {
            let mut w = s.try_clone().unwrap();
            let mut r = BufReader::new(s);
            script(&mut r, &mut w);
        });
        (c, h)
    }

    fn expect_line(r: &mut BufReader<UnixStream>, prefix: &str) -> String {
        let mut l = String::new();
        r.read_line(&mut l).unwrap();
        assert!(l.starts_with(prefix), "expected {prefix}, got {l:?}");
        l
    }

    fn handshake_replies(r: &mut BufReader<UnixStream>, w: &mut UnixStream) {
        expect_line(r, "cmd=init pmi_version=1 pmi_subversion=1\n");
        w.write_all(b"cmd=response_to_init pmi_version=1 pmi_subversion=1 rc=0\n")
            .unwrap();
        expect_line(r, "cmd=get_maxes");
        w.write_all(b"cmd=maxes kvsname_max=256 keylen_max=64 vallen_max=1024\n")
            .unwrap();
        expect_line(r, "cmd=get_my_kvsname");
        w.write_all(format!("cmd=my_kvsname kvsname={KVS}\n").as_bytes())
            .unwrap();
    }

    #[test]
    fn three_ranks_exchange_through_one_kvs() {
        let n = 3;
        let j = job(n);
        let mut threads = Vec::new();
        for rank in 0..n as u32 {
            let (c, s) = UnixStream::pair().unwrap();
            let jj = j.clone();
            let server = thread::spawn(move || serve(s, jj));
            threads.push(thread::spawn(move || {
                let mut p = Pmi::with_stream(c, rank, n as u32, T).unwrap();
                assert_eq!((p.rank(), p.size(), p.kvsname()), (rank, 3, KVS));
                assert_eq!((p.max_key_len(), p.max_value_len()), (63, 1023));
                p.put(&format!("addr-{rank}"), &format!("10.0.0.{rank}:700{rank}"))
                    .unwrap();
                p.put(&format!("eq-{rank}"), "a=b=c").unwrap();
                p.put(&format!("empty-{rank}"), "").unwrap();
                p.fence().unwrap();
                for r in 0..n {
                    assert_eq!(
                        p.get(&format!("addr-{r}")).unwrap(),
                        format!("10.0.0.{r}:700{r}")
                    );
                    assert_eq!(p.get(&format!("eq-{r}")).unwrap(), "a=b=c");
                    assert_eq!(p.get(&format!("empty-{r}")).unwrap(), "");
                }
                p.finalize().unwrap();
                server.join().unwrap()
            }));
        }
        for t in threads {
            let seen = t.join().unwrap();
            assert_eq!(seen[0], "cmd=init pmi_version=1 pmi_subversion=1");
            assert!(seen.contains(&format!("cmd=get kvsname={KVS} key=addr-2")));
            assert_eq!(seen.last().unwrap(), "cmd=finalize");
        }
    }

    #[test]
    fn puts_are_invisible_before_the_fence_and_missing_keys_name_the_key() {
        let (mut p, h) = single();
        p.put("mine", "x").unwrap();
        let e = p.get("mine").unwrap_err();
        assert_eq!(e.kind, ErrorKind::Channel);
        assert!(
            e.msg.contains("\"mine\"") && e.msg.contains("key_mine_not_found"),
            "{e}"
        );
        // An rc != 0 reply leaves the connection usable.
        p.fence().unwrap();
        assert_eq!(p.get("mine").unwrap(), "x");
        let e = p.get("nobody-put-this").unwrap_err();
        assert!(
            e.msg
                .contains("\"nobody-put-this\" not found in KVS kvs_test_0"),
            "{e}"
        );
        p.finalize().unwrap();
        h.join().unwrap();
    }

    #[test]
    fn bad_keys_and_values_are_refused_before_sending() {
        let (mut p, h) = single();
        let cases: Vec<(String, String, &str)> = vec![
            (String::new(), "v".into(), "empty"),
            ("a b".into(), "v".into(), "' '"),
            ("a=b".into(), "v".into(), "'='"),
            ("a\nb".into(), "v".into(), "'\\n'"),
            ("k".repeat(64), "v".into(), "64 bytes"),
            ("k".into(), "has space".into(), "' '"),
            ("k".into(), "line\nbreak".into(), "'\\n'"),
            ("k".into(), "tab\t".into(), "'\\t'"),
            ("k".into(), "v".repeat(1024), "1024 bytes"),
        ];
        for (k, v, want) in cases {
            let e = p.put(&k, &v).unwrap_err();
            assert_eq!(e.kind, ErrorKind::Arg, "{k:?}={v:?}: {e}");
            assert!(e.msg.contains(want), "{k:?}={v:?}: {e}");
        }
        assert_eq!(p.get("bad key").unwrap_err().kind, ErrorKind::Arg);
        // The longest allowed ones go through.
        p.put(&"k".repeat(63), &"v".repeat(1023)).unwrap();
        p.fence().unwrap();
        assert_eq!(p.get(&"k".repeat(63)).unwrap(), "v".repeat(1023));
        p.finalize().unwrap();
        let seen = h.join().unwrap();
        // Nothing of the refused calls reached the server.
        let puts = seen.iter().filter(|l| l.starts_with("cmd=put")).count();
        assert_eq!(puts, 1, "{seen:?}");
    }

    #[test]
    fn put_refused_by_the_server_reports_rc_and_msg() {
        let (c, h) = scripted(|r, w| {
            handshake_replies(r, w);
            expect_line(r, "cmd=put kvsname=kvs_test_0 key=dup value=1");
            w.write_all(b"cmd=put_result rc=-1 msg=duplicate_keydup extra=ignored\n")
                .unwrap();
            expect_line(r, "cmd=barrier_in");
            w.write_all(b"cmd=barrier_out\n").unwrap();
        });
        let mut p = Pmi::with_stream(c, 0, 1, T).unwrap();
        let e = p.put("dup", "1").unwrap_err();
        assert!(e.msg.contains("rc=-1 msg=duplicate_keydup"), "{e}");
        assert!(e.msg.contains("\"dup\""), "{e}");
        p.fence().unwrap();
        h.join().unwrap();
    }

    #[test]
    fn garbled_replies_are_errors_that_quote_the_line() {
        let cases: [(&'static [u8], &str); 4] = [
            (b"garbage\n", "does not start with cmd="),
            (
                b"cmd=maxes kvsname_max=256 keylen_max=abc vallen_max=1024\n",
                "usable keylen_max",
            ),
            (
                b"cmd=barrier_out\n",
                "cmd=barrier_out where cmd=maxes was expected",
            ),
            (b"cmd=maxes kvsname_max=256\xff\n", "not UTF-8"),
        ];
        for (bad, want) in cases {
            let (c, h) = scripted(move |r, w| {
                expect_line(r, "cmd=init");
                w.write_all(b"cmd=response_to_init pmi_version=1 pmi_subversion=1 rc=0\n")
                    .unwrap();
                expect_line(r, "cmd=get_maxes");
                w.write_all(bad).unwrap();
            });
            let e = Pmi::with_stream(c, 0, 1, T).unwrap_err();
            assert_eq!(e.kind, ErrorKind::Channel, "{e}");
            assert!(e.msg.starts_with("PMI server sent"), "{e}");
            assert!(e.msg.contains(want), "{want}: {e}");
            h.join().unwrap();
        }
    }

    #[test]
    fn a_garbled_rc_is_an_error_and_a_closed_server_poisons() {
        let (c, h) = scripted(|r, w| {
            handshake_replies(r, w);
            expect_line(r, "cmd=get");
            w.write_all(b"cmd=get_result rc=zero value=x\n").unwrap();
            // The reply line was consumed, so the connection is still in step.
            expect_line(r, "cmd=barrier_in");
            w.write_all(b"cmd=barrier_out\n").unwrap();
        });
        let mut p = Pmi::with_stream(c, 0, 1, T).unwrap();
        let e = p.get("k").unwrap_err();
        assert_eq!(e.kind, ErrorKind::Channel);
        assert!(e.msg.contains("rc=\"zero\""), "{e}");
        p.fence().unwrap();
        h.join().unwrap();
        // The server is gone now: a send error (EPIPE, no SIGPIPE) or EOF, then the
        // connection stays unusable.
        let e = p.fence().unwrap_err();
        assert!(
            e.msg.contains("closed the connection") || e.msg.contains("cannot send cmd=barrier_in"),
            "{e}"
        );
        let e = p.get("k").unwrap_err();
        assert!(e.msg.contains("unusable after an earlier failure"), "{e}");
    }

    #[test]
    fn version_refusal_is_unsupported() {
        let (c, h) = scripted(|r, w| {
            expect_line(r, "cmd=init");
            w.write_all(b"cmd=response_to_init pmi_version=2 pmi_subversion=0 rc=-1\n")
                .unwrap();
        });
        let e = Pmi::with_stream(c, 0, 1, T).unwrap_err();
        assert_eq!(e.kind, ErrorKind::Unsupported);
        assert!(e.msg.contains("speaks 2.0"), "{e}");
        h.join().unwrap();
    }

    #[test]
    fn a_server_that_closes_gives_a_clear_error() {
        let (c, h) = scripted(|r, w| {
            handshake_replies(r, w);
            expect_line(r, "cmd=barrier_in");
            w.write_all(b"cmd=barrier_").unwrap();
            // Drops the socket mid-line.
        });
        let mut p = Pmi::with_stream(c, 0, 1, T).unwrap();
        let t0 = Instant::now();
        let e = p.fence().unwrap_err();
        assert!(t0.elapsed() < Duration::from_secs(5));
        assert_eq!(e.kind, ErrorKind::Channel);
        assert!(
            e.msg
                .contains("closed the connection while we waited for cmd=barrier_out")
                && e.msg.contains("partial line \"cmd=barrier_\""),
            "{e}"
        );
        h.join().unwrap();
        // Later calls fail at once; sending to the closed socket gives no SIGPIPE.
        let e = p.put("k", "v").unwrap_err();
        assert!(e.msg.contains("unusable"), "{e}");
        p.abort(3, "test abort on a dead connection");
        assert!(p.finalize().is_err());
    }

    #[test]
    fn a_server_that_closes_before_the_handshake() {
        let (c, s) = UnixStream::pair().unwrap();
        drop(s);
        let e = Pmi::with_stream(c, 0, 1, T).unwrap_err();
        assert_eq!(e.kind, ErrorKind::Channel);
        assert!(
            e.msg.contains("cannot send cmd=init") || e.msg.contains("closed the connection"),
            "{e}"
        );
    }

    #[test]
    fn a_silent_server_times_out_and_poisons_the_connection() {
        let (c, h) = scripted(|r, w| {
            handshake_replies(r, w);
            expect_line(r, "cmd=barrier_in");
            // Never answers; waits for the client to go away.
            let mut rest = String::new();
            let _ = r.read_line(&mut rest);
        });
        let mut p = Pmi::with_stream(c, 0, 1, T).unwrap();
        p.set_timeout(Some(Duration::from_millis(200)));
        let t0 = Instant::now();
        let e = p.fence().unwrap_err();
        let took = t0.elapsed();
        assert!(
            took >= Duration::from_millis(190) && took < Duration::from_secs(5),
            "{took:?}"
        );
        assert_eq!(e.kind, ErrorKind::Timeout);
        assert!(
            e.msg.contains("did not send cmd=barrier_out within 200 ms"),
            "{e}"
        );
        let e = p.get("k").unwrap_err();
        assert_eq!(e.kind, ErrorKind::Timeout);
        assert!(e.msg.contains("unusable after an earlier failure"), "{e}");
        drop(p);
        h.join().unwrap();
    }

    #[test]
    fn replies_split_across_writes_and_unknown_fields() {
        let (c, h) = scripted(|r, w| {
            expect_line(r, "cmd=init");
            w.write_all(b"cmd=respon").unwrap();
            thread::sleep(Duration::from_millis(50));
            w.write_all(b"se_to_init  rc=0 pmi_version=1 novalue pmi_subversion=1 x=y\r\n")
                .unwrap();
            expect_line(r, "cmd=get_maxes");
            w.write_all(b"cmd=maxes vallen_max=1024 keylen_max=64 kvsname_max=256 new=1\n")
                .unwrap();
            expect_line(r, "cmd=get_my_kvsname");
            w.write_all(b"cmd=my_kvsname kvsname=kvs_1_0_x_vm\n")
                .unwrap();
            expect_line(r, "cmd=get kvsname=kvs_1_0_x_vm key=PMI_process_mapping");
            w.write_all(b"cmd=get_result rc=0 msg=success value=(vector,(0,1,1))\n")
                .unwrap();
            expect_line(r, "cmd=finalize");
            w.write_all(b"cmd=finalize_ack\n").unwrap();
        });
        let mut p = Pmi::with_stream(c, 0, 1, T).unwrap();
        assert_eq!(p.kvsname(), "kvs_1_0_x_vm");
        assert_eq!(p.get("PMI_process_mapping").unwrap(), "(vector,(0,1,1))");
        p.finalize().unwrap();
        h.join().unwrap();
    }

    #[test]
    fn pmi_port_mode_learns_rank_and_size_from_initack() {
        let (c, h) = scripted(|r, w| {
            expect_line(r, "cmd=initack pmiid=5\n");
            // Hydra sends all four lines in one write.
            w.write_all(b"cmd=initack\ncmd=set size=8\ncmd=set rank=5\ncmd=set debug=0\n")
                .unwrap();
            handshake_replies(r, w);
        });
        let p = Pmi::handshake(c.into(), Who::PmiId(5), T).unwrap();
        assert_eq!((p.rank(), p.size()), (5, 8));
        h.join().unwrap();

        let (c, h) = scripted(|r, w| {
            expect_line(r, "cmd=initack pmiid=1\n");
            w.write_all(b"cmd=initack\ncmd=set size=2\ncmd=set debug=0\ncmd=set debug=0\n")
                .unwrap();
        });
        let e = Pmi::handshake(c.into(), Who::PmiId(1), T).unwrap_err();
        assert!(e.msg.contains("without both"), "{e}");
        h.join().unwrap();
    }

    #[test]
    fn rank_outside_the_job_is_refused() {
        let (c, _s) = UnixStream::pair().unwrap();
        let e = Pmi::with_stream(c, 3, 3, T).unwrap_err();
        assert_eq!(e.kind, ErrorKind::Config);
    }

    #[test]
    fn abort_sends_the_exit_code() {
        let (c, h) = scripted(|r, w| {
            handshake_replies(r, w);
            expect_line(r, "cmd=abort exitcode=7\n");
        });
        let mut p = Pmi::with_stream(c, 0, 1, T).unwrap();
        p.abort(7, "unit test abort (expected)");
        h.join().unwrap();
        let e = p.fence().unwrap_err();
        assert!(e.msg.contains("aborted"), "{e}");
    }

    #[test]
    fn works_over_tcp() {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = format!("127.0.0.1:{}", l.local_addr().unwrap().port());
        let h = thread::spawn(move || {
            let (s, _) = l.accept().unwrap();
            let mut w = s.try_clone().unwrap();
            let r = BufReader::new(s);
            for line in r.lines() {
                let line = line.unwrap();
                let reply = match fields(&line).get("cmd").map(String::as_str) {
                    Some("initack") => {
                        "cmd=initack\ncmd=set size=2\ncmd=set rank=1\ncmd=set debug=0\n".to_string()
                    }
                    Some("init") => {
                        "cmd=response_to_init pmi_version=1 pmi_subversion=1 rc=0\n".into()
                    }
                    Some("get_maxes") => {
                        "cmd=maxes kvsname_max=256 keylen_max=64 vallen_max=1024\n".into()
                    }
                    Some("get_my_kvsname") => "cmd=my_kvsname kvsname=tcpkvs\n".into(),
                    Some("finalize") => "cmd=finalize_ack\n".into(),
                    _ => panic!("{line}"),
                };
                w.write_all(reply.as_bytes()).unwrap();
            }
        });
        let env: HashMap<&str, String> = [("PMI_PORT", port), ("PMI_ID", "1".to_string())].into();
        let p = Pmi::from_lookup(|n| env.get(n).cloned()).unwrap().unwrap();
        assert_eq!((p.rank(), p.size(), p.kvsname()), (1, 2, "tcpkvs"));
        p.finalize().unwrap();
        h.join().unwrap();
    }

    #[test]
    fn environment_errors() {
        let run = |vars: &[(&str, &str)]| {
            let env: HashMap<String, String> = vars
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect();
            Pmi::from_lookup(|n| env.get(n).cloned())
        };
        assert!(run(&[]).unwrap().is_none());
        assert!(run(&[("PMI_RANK", "0"), ("PMI_SIZE", "2")])
            .unwrap()
            .is_none());
        let err = |vars: &[(&str, &str)]| run(vars).unwrap_err();
        let e = err(&[("PMI_FD", "x"), ("PMI_RANK", "0"), ("PMI_SIZE", "1")]);
        assert!(
            e.kind == ErrorKind::Config && e.msg.contains("PMI_FD=\"x\""),
            "{e}"
        );
        let e = err(&[("PMI_FD", "-1"), ("PMI_RANK", "0"), ("PMI_SIZE", "1")]);
        assert_eq!(e.kind, ErrorKind::Config);
        let e = err(&[("PMI_FD", "9"), ("PMI_SIZE", "1")]);
        assert!(e.msg.contains("PMI_FD is set but PMI_RANK is not"), "{e}");
        let e = err(&[("PMI_FD", "9"), ("PMI_RANK", "2"), ("PMI_SIZE", "2")]);
        assert!(e.msg.contains("not below"), "{e}");
        let e = err(&[
            ("PMI_FD", "9"),
            ("PMI_RANK", "0"),
            ("PMI_SIZE", "1"),
            ("FMI_TIMEOUT_MS", "soon"),
        ]);
        assert!(e.msg.contains("FMI_TIMEOUT_MS"), "{e}");
        // A descriptor that is not open, and one that is not a socket.
        let e = err(&[("PMI_FD", "1000000"), ("PMI_RANK", "0"), ("PMI_SIZE", "1")]);
        assert!(
            e.kind == ErrorKind::Connect && e.msg.contains("not an open file descriptor"),
            "{e}"
        );
        let f = std::fs::File::open("/dev/null").unwrap();
        let fd = f.as_raw_fd().to_string();
        let e = err(&[("PMI_FD", &fd), ("PMI_RANK", "0"), ("PMI_SIZE", "1")]);
        assert!(
            e.kind == ErrorKind::Connect && e.msg.contains("is not a socket"),
            "{e}"
        );
        drop(f);
        let e = err(&[("PMI_PORT", "nocolon"), ("PMI_ID", "0")]);
        assert!(
            e.kind == ErrorKind::Config && e.msg.contains("host:port"),
            "{e}"
        );
        let e = err(&[("PMI_PORT", "127.0.0.1:1"), ("PMI_ID", "zero")]);
        assert!(e.msg.contains("PMI_ID"), "{e}");
        let e = err(&[("PMI_PORT", "127.0.0.1:1")]);
        assert!(e.msg.contains("PMI_PORT is set but PMI_RANK is not"), "{e}");
        // Nothing listens on port 1.
        let e = err(&[("PMI_PORT", "127.0.0.1:1"), ("PMI_ID", "0")]);
        assert!(
            e.kind == ErrorKind::Connect && e.msg.contains("cannot connect"),
            "{e}"
        );
    }

    #[test]
    fn parse_reply_splits_at_the_first_equals() {
        let r = parse_reply("cmd=get_result  rc=0 msg=success value=a=b=c junk").unwrap();
        assert_eq!(r.cmd, "get_result");
        assert_eq!(r.get("value"), Some("a=b=c"));
        assert_eq!(r.get("junk"), None);
        assert!(parse_reply("").is_err());
        assert!(parse_reply("cmd= rc=0").is_err());
        assert!(parse_reply("rc=0 cmd=x").is_err());
    }
}
