//! A rank's side of the rendezvous protocol: registration (blocking, at communicator
//! creation) and then a non-blocking control connection driven by the engine.

use super::proto::{FrameReader, Msg, RefuseCode, VERSION};
use crate::auth::JobKeys;
use crate::error::{Error, ErrorKind, Result};
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::time::{Duration, Instant};

/// Resolves `host:port`.
pub fn resolve(addr: &str) -> Result<SocketAddr> {
    addr.to_socket_addrs()
        .map_err(|e| Error::config(format!("cannot resolve rendezvous address {addr:?}: {e}")))?
        .next()
        .ok_or_else(|| Error::config(format!("rendezvous address {addr:?} resolves to nothing")))
}

/// The addresses this host can be reached at on `port`: every IPv4 interface address,
/// loopback last.
pub fn host_candidates(port: u16) -> Vec<SocketAddr> {
    let mut v: Vec<SocketAddr> = Vec::new();
    if let Ok(addrs) = nix::ifaddrs::getifaddrs() {
        for a in addrs {
            if let Some(sin) = a.address.as_ref().and_then(|s| s.as_sockaddr_in()) {
                let ip = sin.ip();
                if !ip.is_loopback() && !ip.is_unspecified() {
                    v.push(SocketAddr::from((ip, port)));
                }
            }
        }
    }
    v.truncate(super::proto::MAX_CANDIDATES - 2);
    v.push(SocketAddr::from(([127, 0, 0, 1], port)));
    v
}

fn read_msg(s: &mut TcpStream, fr: &mut FrameReader, deadline: Instant) -> Result<Msg> {
    let mut buf = [0u8; 4096];
    loop {
        if let Some(m) = fr
            .next_msg()
            .map_err(|e| Error::connect(format!("rendezvous server sent garbage: {e}")))?
        {
            return Ok(m);
        }
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(Error::timeout("rendezvous server did not answer in time"));
        }
        let _ = s.set_read_timeout(Some(left));
        match s.read(&mut buf) {
            Ok(0) => return Err(Error::connect("rendezvous server closed the connection")),
            Ok(n) => fr.push(&buf[..n]),
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) => {}
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(Error::connect(format!("rendezvous server: {e}"))),
        }
    }
}

/// Connects from `local_port` if possible (so the server sees the port peers can
/// reach us on), else from any port.
fn connect_from(server: SocketAddr, local_port: u16, timeout: Duration) -> io::Result<TcpStream> {
    use socket2::{Domain, Socket, Type};
    let s = Socket::new(Domain::for_address(server), Type::STREAM, None)?;
    s.set_reuse_address(true)?;
    s.set_reuse_port(true)?;
    if server.is_ipv4() {
        // Not fatal: then the server simply sees an ephemeral port.
        let _ = s.bind(&SocketAddr::from(([0, 0, 0, 0], local_port)).into());
    }
    s.connect_timeout(&server.into(), timeout)?;
    Ok(s.into())
}

/// Result of a successful registration.
pub struct Registration {
    pub stream: TcpStream,
    pub reflexive: SocketAddr,
    /// Bytes that arrived after `Registered` (peer infos may follow at once).
    pub reader: FrameReader,
}

/// Registers `rank` of `job` with the server, retrying while it is not up yet.
#[allow(clippy::too_many_arguments)]
pub fn register(
    server: &str,
    job: &str,
    rank: u32,
    size: u32,
    keys: &JobKeys,
    listen_port: u16,
    timeout: Duration,
) -> Result<Registration> {
    let addr = resolve(server)?;
    let deadline = Instant::now() + timeout;
    let mut backoff = Duration::from_millis(10);
    let mut stream = loop {
        match connect_from(addr, listen_port, Duration::from_secs(5).min(timeout)) {
            Ok(s) => break s,
            Err(e) if Instant::now() + backoff < deadline => {
                log::debug!("rendezvous server {addr} not reachable yet ({e}); retrying");
                std::thread::sleep(backoff);
                backoff = (backoff * 2).min(Duration::from_millis(500));
            }
            Err(e) => {
                return Err(Error::connect(format!(
                    "cannot reach rendezvous server {server} ({addr}): {e}"
                )))
            }
        }
    };
    let _ = stream.set_nodelay(true);
    let mut fr = FrameReader::default();
    let nonce = match read_msg(&mut stream, &mut fr, deadline)? {
        Msg::Challenge { version, nonce } if version == VERSION => nonce,
        Msg::Challenge { version, .. } => {
            return Err(Error::connect(format!(
                "rendezvous server speaks protocol version {version}, this library {VERSION}"
            )))
        }
        m => {
            return Err(Error::connect(format!(
                "rendezvous server sent {m:?} instead of a challenge"
            )))
        }
    };
    fn send_and_read(
        s: &mut TcpStream,
        fr: &mut FrameReader,
        m: &Msg,
        deadline: Instant,
    ) -> Result<Msg> {
        s.write_all(&m.encode())
            .map_err(|e| Error::connect(format!("rendezvous server: {e}")))?;
        read_msg(s, fr, deadline)
    }
    // The verifier is sent only if the server asks: a server that knows the job
    // (or has the token) checks the MAC alone, so eavesdroppers never see it.
    let mut reg = Msg::Register {
        version: VERSION,
        job: job.to_string(),
        rank,
        size,
        candidates: host_candidates(listen_port),
        mac: keys.server_mac(&nonce, job, rank),
        verifier: None,
    };
    let mut answer = send_and_read(&mut stream, &mut fr, &reg, deadline)?;
    if answer == Msg::NeedVerifier {
        log::debug!("rendezvous server {addr} does not know job {job:?} yet; sending its verifier");
        if let Msg::Register { verifier, .. } = &mut reg {
            *verifier = Some(keys.server_verifier());
        }
        answer = send_and_read(&mut stream, &mut fr, &reg, deadline)?;
    }
    match answer {
        Msg::Registered { reflexive } => Ok(Registration {
            stream,
            reflexive,
            reader: fr,
        }),
        Msg::Refused { code, reason } => {
            let kind = match code {
                RefuseCode::Auth => ErrorKind::Auth,
                RefuseCode::BadRank => ErrorKind::Arg,
                RefuseCode::Busy | RefuseCode::Protocol => ErrorKind::Connect,
            };
            Err(Error::new(
                kind,
                format!("rendezvous server refused rank {rank} of job {job:?}: {reason}"),
            ))
        }
        m => Err(Error::connect(format!(
            "rendezvous server sent {m:?} instead of an answer"
        ))),
    }
}

/// The control connection once registered, driven by the engine's event loop.
pub struct Control {
    pub stream: mio::net::TcpStream,
    reader: FrameReader,
    out: Vec<u8>,
    pub writable: bool,
}

impl Control {
    pub fn new(reg: Registration) -> Result<Control> {
        reg.stream
            .set_nonblocking(true)
            .map_err(|e| Error::connect(format!("control connection: {e}")))?;
        Ok(Control {
            stream: mio::net::TcpStream::from_std(reg.stream),
            reader: reg.reader,
            out: Vec::new(),
            writable: true,
        })
    }

    /// Queues a message and writes what the socket takes.
    pub fn send(&mut self, m: &Msg) -> io::Result<()> {
        self.out.extend_from_slice(&m.encode());
        self.flush()
    }

    pub fn flush(&mut self) -> io::Result<()> {
        while !self.out.is_empty() && self.writable {
            match self.stream.write(&self.out) {
                Ok(n) => {
                    self.out.drain(..n);
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => self.writable = false,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// Whether everything queued has been written.
    pub fn flushed(&self) -> bool {
        self.out.is_empty()
    }

    /// Reads what is there and returns the complete messages.
    pub fn pump(&mut self, out: &mut Vec<Msg>) -> std::result::Result<(), String> {
        let mut buf = [0u8; 4096];
        loop {
            match self.stream.read(&mut buf) {
                Ok(0) => {
                    self.drain(out)?;
                    return Err("rendezvous server closed the control connection".into());
                }
                Ok(n) => self.reader.push(&buf[..n]),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(format!("control connection: {e}")),
            }
        }
        self.drain(out)
    }

    /// Messages already buffered (also those that came with the registration answer).
    pub fn drain(&mut self, out: &mut Vec<Msg>) -> std::result::Result<(), String> {
        while let Some(m) = self.reader.next_msg().map_err(|e| e.to_string())? {
            out.push(m);
        }
        Ok(())
    }
}
