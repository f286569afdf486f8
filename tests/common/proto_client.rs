//! A small blocking client of the rendezvous protocol, speaking
//! `fmi::punch::proto` byte for byte, for tests of the server.

use fmi::auth::JobKeys;
use fmi::punch::proto::{FrameReader, Msg, VERSION};
use fmi::punch::server::{Server, ServerConfig, ServerHandle};
use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

/// Long enough for a loaded CI machine, short enough that a bug fails the test
/// instead of hanging it.
pub const WAIT: Duration = Duration::from_secs(10);
/// How long "nothing arrives" is watched for.
pub const QUIET: Duration = Duration::from_millis(300);

pub fn start(cfg: ServerConfig) -> ServerHandle {
    Server::bind("127.0.0.1:0".parse().unwrap(), cfg)
        .expect("bind")
        .spawn()
        .expect("spawn")
}

pub fn start_default() -> ServerHandle {
    start(ServerConfig::default())
}

/// What a read gave.
#[derive(Debug)]
pub enum Got {
    Msg(Msg),
    Closed,
    Timeout,
}

pub struct Client {
    pub s: TcpStream,
    pub fr: FrameReader,
    pub nonce: [u8; 32],
}

impl Client {
    /// Connects and reads the server's challenge.
    pub fn connect(addr: SocketAddr) -> Client {
        let mut c = Client::raw(addr);
        match c.recv() {
            Msg::Challenge { version, nonce } => {
                assert_eq!(version, VERSION);
                c.nonce = nonce;
            }
            m => panic!("expected a challenge, got {m:?}"),
        }
        c
    }

    /// Connects without reading anything.
    pub fn raw(addr: SocketAddr) -> Client {
        let s = TcpStream::connect(addr).expect("connect");
        s.set_read_timeout(Some(WAIT)).unwrap();
        Client {
            s,
            fr: FrameReader::default(),
            nonce: [0; 32],
        }
    }

    pub fn local(&self) -> SocketAddr {
        self.s.local_addr().unwrap()
    }

    pub fn send(&mut self, m: &Msg) {
        self.s.write_all(&m.encode()).expect("send");
    }

    pub fn try_recv(&mut self, timeout: Duration) -> Got {
        let deadline = Instant::now() + timeout;
        loop {
            match self.fr.next_msg() {
                Ok(Some(m)) => return Got::Msg(m),
                Ok(None) => {}
                Err(e) => panic!("server sent garbage: {e}"),
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Got::Timeout;
            }
            self.s.set_read_timeout(Some(left)).unwrap();
            let mut buf = [0u8; 4096];
            match self.s.read(&mut buf) {
                Ok(0) => return Got::Closed,
                Ok(n) => self.fr.push(&buf[..n]),
                Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                    return Got::Timeout
                }
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                // A reset is a close too.
                Err(_) => return Got::Closed,
            }
        }
    }

    pub fn recv(&mut self) -> Msg {
        match self.try_recv(WAIT) {
            Got::Msg(m) => m,
            other => panic!("expected a message, got {other:?}"),
        }
    }

    pub fn assert_quiet(&mut self) {
        match self.try_recv(QUIET) {
            Got::Timeout => {}
            other => panic!("expected nothing, got {other:?}"),
        }
    }

    /// Expects the server to close the connection without another message.
    pub fn assert_closed_silently(&mut self) {
        match self.try_recv(WAIT) {
            Got::Closed => {}
            other => panic!("expected the server to close, got {other:?}"),
        }
    }

    /// Expects the server to close the connection, maybe after more messages.
    pub fn assert_closed(&mut self) {
        loop {
            match self.try_recv(WAIT) {
                Got::Closed => return,
                Got::Msg(_) => continue,
                Got::Timeout => panic!("the server did not close the connection"),
            }
        }
    }

    /// A registration message as a well-behaved rank first sends it: without the
    /// verifier.
    pub fn register_msg(
        &self,
        job: &str,
        rank: u32,
        size: u32,
        token: &str,
        candidates: Vec<SocketAddr>,
    ) -> Msg {
        let keys = JobKeys::new(token, job);
        Msg::Register {
            version: VERSION,
            job: job.into(),
            rank,
            size,
            candidates,
            mac: keys.server_mac(&self.nonce, job, rank),
            verifier: None,
        }
    }

    /// Registers as a well-behaved rank does (the verifier only if the server asks
    /// for it) and returns the answer.
    pub fn register_with(
        &mut self,
        job: &str,
        rank: u32,
        size: u32,
        token: &str,
        candidates: Vec<SocketAddr>,
    ) -> Msg {
        let m = self.register_msg(job, rank, size, token, candidates);
        self.send(&m);
        match self.recv() {
            Msg::NeedVerifier => {
                self.send(&with_verifier(m, token));
                self.recv()
            }
            answer => answer,
        }
    }
}

/// `m` (a `Register`) with the verifier of `token` for its job.
pub fn with_verifier(mut m: Msg, token: &str) -> Msg {
    if let Msg::Register { job, verifier, .. } = &mut m {
        *verifier = Some(JobKeys::new(token, job).server_verifier());
    }
    m
}
