//! The rendezvous server: ranks register their address candidates here, ask for
//! peers, and learn when a peer is lost or aborts.
//!
//! One thread runs a single `mio` event loop over every connection, so a server
//! handles thousands of ranks without a thread each. Every connection has its own
//! input decoder and output buffer; whatever one connection does wrong (garbage,
//! oversized frames, silence, not reading its output) only ever drops that
//! connection. Job state lives exactly as long as the job has a registered
//! connection: the server keeps nothing after a job ends.
//!
//! A job's verifier (see `auth`) is what the server checks registrations against.
//! A server given the token ([`ServerConfig::token`]) derives it for any job, so only
//! token holders can create jobs; a server without one asks the first rank of a job
//! for it (trust on first use) and from then on checks every rank against it.
//!
//! Relays: when two ranks cannot reach each other directly, each opens a second
//! connection and sends `Relay`; once both are there the server splices the two
//! connections and copies bytes between them without reading them. Each direction
//! buffers at most [`RELAY_BUFFER`] bytes: past that the server stops reading the
//! sender until the receiver catches up. An end of stream is passed on as a
//! half-close, so ranks can close a relayed connection in order.

use crate::auth::{self, JobKeys, Tag};
use crate::punch::proto::{FrameReader, Msg, RefuseCode, MAX_CANDIDATES, VERSION};
use mio::net::{TcpListener, TcpStream};
use mio::{Events, Interest, Poll, Token, Waker};
use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, HashSet};
use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

const WAKER: Token = Token(0);
const LISTENER: Token = Token(1);
/// First token handed to a connection; tokens are never reused, so a stale token
/// (in a deadline or a pending want) can never name a newer connection.
const FIRST_CONN: usize = 2;
/// A connection whose unsent output grows past this is not reading: drop it
/// rather than let one slow rank eat the server's memory.
const MAX_OUTPUT: usize = 8 << 20;
/// Most peers one connection may wait for before they register. Bounds the memory
/// a single (authenticated but misbehaving) rank can make the server hold.
const MAX_PENDING_WANTS: usize = 1 << 16;
/// Bytes read from a socket at a time.
const READ_CHUNK: usize = 16 * 1024;
/// How long to wait before accepting again after the process ran out of files.
const ACCEPT_RETRY: Duration = Duration::from_millis(100);
/// How often idle connections are looked for, at most.
const IDLE_SCAN: Duration = Duration::from_secs(1);
/// Most bytes a relay holds for one direction; past it the sender is not read until
/// the receiver has taken some. Kernel socket buffers hold megabytes more, so this
/// only smooths; kept small because a server may carry thousands of relays.
pub const RELAY_BUFFER: usize = 1 << 20;
/// A paused relay sender is read again once the receiver's queue is down to this.
const RELAY_RESUME: usize = 256 * 1024;
/// Most bytes kept of what a waiting relay request sent after it; the rest stays in
/// the socket until the splice. Ranks have no reason to send before `RelayReady`.
const RELAY_EARLY: usize = 64 * 1024;
/// Chunks read from one relay connection before the others get their turn.
const RELAY_READ_BUDGET: usize = 64;
/// Output buffer capacity kept by an idle connection; a burst's larger buffer is
/// given back once it has been sent.
const KEEP_CAPACITY: usize = 64 * 1024;

/// Limits, timeouts and credentials of a [`Server`].
#[derive(Clone)]
pub struct ServerConfig {
    /// Most simultaneous connections; more are refused with `Busy`.
    pub max_connections: usize,
    /// Most simultaneous jobs; registrations for more are refused with `Busy`.
    pub max_jobs: usize,
    /// How long a new connection has to register before it is dropped.
    pub handshake_timeout: Duration,
    /// Registered connections silent for this long are dropped (and their rank
    /// reported lost). `None`: rely on TCP keepalive only. Relay connections are
    /// exempt: relayed traffic may pause for any time.
    pub idle_timeout: Option<Duration>,
    /// Most connections of one job, registered and relay ones together; also the
    /// largest job size accepted. More are refused with `Busy`.
    pub max_job_connections: usize,
    /// How long a relay request waits for its peer's before it is closed.
    pub relay_wait: Duration,
    /// The job token, if the server is given it: then it derives every job's
    /// verifier itself, only holders of the token can create jobs, and no verifier
    /// ever crosses the wire. Without it the first rank of a job sets the job's
    /// verifier (trust on first use).
    pub token: Option<String>,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            max_connections: 4096,
            max_jobs: 1024,
            handshake_timeout: Duration::from_secs(5),
            idle_timeout: None,
            max_job_connections: 65536,
            relay_wait: Duration::from_secs(30),
            token: None,
        }
    }
}

// By hand, so that logging a configuration never prints the token.
impl std::fmt::Debug for ServerConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerConfig")
            .field("max_connections", &self.max_connections)
            .field("max_jobs", &self.max_jobs)
            .field("handshake_timeout", &self.handshake_timeout)
            .field("idle_timeout", &self.idle_timeout)
            .field("max_job_connections", &self.max_job_connections)
            .field("relay_wait", &self.relay_wait)
            .field("token", &self.token.as_ref().map(|_| "<set>"))
            .finish()
    }
}

/// What a running server holds, as of the end of its last event-loop turn.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ServerStats {
    /// Open connections of every kind (registering, registered, relay, closing).
    pub connections: usize,
    /// Jobs the server keeps state for.
    pub jobs: usize,
    /// Relay connections, waiting for their peer or spliced.
    pub relays: usize,
}

/// Written by the event loop, read by [`ServerHandle::stats`].
#[derive(Default)]
struct SharedStats {
    connections: AtomicUsize,
    jobs: AtomicUsize,
    relays: AtomicUsize,
}

/// A bound rendezvous server, ready to [`run`](Server::run) or
/// [`spawn`](Server::spawn).
pub struct Server {
    poll: Poll,
    listener: TcpListener,
    waker: Arc<Waker>,
    stop: Arc<AtomicBool>,
    cfg: ServerConfig,
    local: SocketAddr,
    stats: Arc<SharedStats>,
}

/// A server running in a background thread. Dropping it stops the server too.
pub struct ServerHandle {
    local: SocketAddr,
    waker: Arc<Waker>,
    stop: Arc<AtomicBool>,
    stats: Arc<SharedStats>,
    thread: Option<JoinHandle<io::Result<()>>>,
}

impl Server {
    /// Binds the listening socket (with SO_REUSEADDR, so a restarted server gets its
    /// port back at once). Port 0 picks a free port; see [`local_addr`](Self::local_addr).
    pub fn bind(addr: SocketAddr, cfg: ServerConfig) -> io::Result<Server> {
        use socket2::{Domain, Protocol, Socket, Type};
        // socket2 creates the socket close-on-exec, so fmirun's children never
        // inherit the embedded server's listener.
        let sock = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
        sock.set_reuse_address(true)?;
        sock.set_nonblocking(true)?;
        sock.bind(&addr.into())?;
        // Many ranks connect at the same moment; the kernel clamps this to somaxconn.
        sock.listen(4096)?;
        let listener = TcpListener::from_std(sock.into());
        let local = listener.local_addr()?;
        let poll = Poll::new()?;
        let waker = Arc::new(Waker::new(poll.registry(), WAKER)?);
        Ok(Server {
            poll,
            listener,
            waker,
            stop: Arc::new(AtomicBool::new(false)),
            cfg,
            local,
            stats: Arc::default(),
        })
    }

    /// The address the server listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.local
    }

    /// Serves until an I/O error of the event loop itself (never one of a
    /// connection) or until a [`ServerHandle`] asks it to stop.
    pub fn run(self) -> io::Result<()> {
        let Server {
            mut poll,
            mut listener,
            waker: _waker,
            stop,
            cfg,
            local,
            stats,
        } = self;
        poll.registry()
            .register(&mut listener, LISTENER, Interest::READABLE)?;
        log::info!("rendezvous server listening on {local}");
        let mut ev = EventLoop {
            listener,
            cfg,
            conns: HashMap::new(),
            jobs: HashMap::new(),
            next_token: FIRST_CONN,
            timers: BinaryHeap::new(),
            dead: Vec::new(),
            ready: Vec::new(),
            relay_waiting: HashMap::new(),
            relay_conns: 0,
            accept_retry: None,
            next_idle_scan: Instant::now() + IDLE_SCAN,
        };
        let mut events = Events::with_capacity(1024);
        loop {
            stats.connections.store(ev.conns.len(), Ordering::Relaxed);
            stats.jobs.store(ev.jobs.len(), Ordering::Relaxed);
            stats.relays.store(ev.relay_conns, Ordering::Relaxed);
            let timeout = ev.poll_timeout();
            match poll.poll(&mut events, timeout) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
            for event in events.iter() {
                match event.token() {
                    WAKER => {}
                    LISTENER => ev.accept_all(&poll),
                    token => {
                        if event.is_readable() || event.is_read_closed() || event.is_error() {
                            ev.on_readable(token);
                        }
                        if event.is_writable() {
                            ev.on_writable(token);
                        }
                    }
                }
                ev.reap();
            }
            // Relay connections that had more to read than one turn allows, or whose
            // receiver caught up, continue here, after every event had its turn.
            for token in std::mem::take(&mut ev.ready) {
                ev.relay_readable(token);
                ev.reap();
            }
            if stop.load(Ordering::Acquire) {
                log::info!(
                    "rendezvous server on {local} stopping ({} connections, {} jobs)",
                    ev.conns.len(),
                    ev.jobs.len()
                );
                // Dropping the loop closes every connection.
                return Ok(());
            }
            ev.on_timers(&poll);
            ev.reap();
        }
    }

    /// Runs the server in a background thread.
    pub fn spawn(self) -> io::Result<ServerHandle> {
        let local = self.local;
        let waker = self.waker.clone();
        let stop = self.stop.clone();
        let stats = self.stats.clone();
        let thread = std::thread::Builder::new()
            .name("fmi-rendezvous".into())
            .spawn(move || {
                let r = self.run();
                if let Err(e) = &r {
                    log::error!("rendezvous server failed: {e}");
                }
                r
            })?;
        Ok(ServerHandle {
            local,
            waker,
            stop,
            stats,
            thread: Some(thread),
        })
    }
}

impl ServerHandle {
    /// The address the server listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.local
    }

    /// Connections, jobs and relays the server holds, as of its last loop turn.
    pub fn stats(&self) -> ServerStats {
        ServerStats {
            connections: self.stats.connections.load(Ordering::Relaxed),
            jobs: self.stats.jobs.load(Ordering::Relaxed),
            relays: self.stats.relays.load(Ordering::Relaxed),
        }
    }

    /// Stops the server, closes every connection and waits for its thread.
    pub fn shutdown(mut self) {
        self.stop_and_join();
    }

    fn stop_and_join(&mut self) {
        if let Some(t) = self.thread.take() {
            self.stop.store(true, Ordering::Release);
            if let Err(e) = self.waker.wake() {
                // Without a wake-up the loop may sleep forever: better not to join.
                log::error!("cannot wake the rendezvous server to stop it: {e}");
                return;
            }
            if t.join().is_err() {
                log::error!("rendezvous server thread panicked");
            }
        }
    }
}

impl Drop for ServerHandle {
    fn drop(&mut self) {
        self.stop_and_join();
    }
}

/// Where a connection is in the protocol.
enum State {
    /// Challenge sent, waiting for `Register` or `Relay`; `asked` once the server
    /// sent `NeedVerifier`.
    Handshake { asked: bool },
    /// Registered as `rank` of `job`; `left` once it said `Bye`.
    Registered { job: String, rank: u32, left: bool },
    /// A relay request of `rank` of `job`, waiting for `peer`'s.
    RelayWaiting {
        job: String,
        rank: u32,
        peer: u32,
        /// Bytes the rank sent after its request, for the peer.
        early: Vec<u8>,
    },
    /// One end of a relay.
    Spliced(Splice),
    /// Refused: flushing the `Refused` message, then closing. Input is discarded.
    Closing,
}

/// One end of a spliced relay. What this connection reads goes to `other`'s output.
struct Splice {
    job: String,
    rank: u32,
    peer: u32,
    /// The other end; `None` once it is closed.
    other: Option<Token>,
    /// This end sent its end of stream.
    read_done: bool,
    /// Nothing more will come for this end: the other end sent its end of stream or
    /// is gone. Once the output is flushed the write side is shut down.
    peer_done: bool,
    /// The write side is shut down.
    write_shut: bool,
    /// Not read because the other end's output is full.
    paused: bool,
}

struct Conn {
    stream: TcpStream,
    peer: SocketAddr,
    reader: FrameReader,
    out: Vec<u8>,
    out_pos: usize,
    nonce: Tag,
    state: State,
    last_input: Instant,
    pending_wants: usize,
    /// When the connection is dropped unless its state moves on (handshake, relay
    /// wait, relay linger); `None` for registered ranks and active relays.
    deadline: Option<Instant>,
}

/// What the server knows of one rank of a job.
enum RankState {
    Connected {
        token: Token,
        candidates: Vec<SocketAddr>,
        reflexive: SocketAddr,
    },
    /// Its connection closed without `Bye`.
    Lost,
    /// It said `Bye`.
    Left,
}

struct Job {
    verifier: Tag,
    size: u32,
    /// Only ranks that registered at some point; a map rather than a vector because
    /// `size` comes from the network.
    ranks: HashMap<u32, RankState>,
    /// Wanted rank -> (wanting rank, its connection) for ranks not registered yet.
    wants: HashMap<u32, Vec<(u32, Token)>>,
    /// Registered connections of the job still open (including ones that said Bye);
    /// the job is forgotten when this reaches zero.
    conns: usize,
    /// Accepted relay connections of the job (waiting or spliced); closed with it.
    relays: HashSet<Token>,
}

/// A `Register` message's fields.
struct Registration {
    version: u16,
    name: String,
    rank: u32,
    size: u32,
    candidates: Vec<SocketAddr>,
    mac: Tag,
    verifier: Option<Tag>,
}

/// Why a connection is being closed; decides the log level and the broadcast.
enum Cause {
    /// The peer closed the connection.
    Eof,
    /// A socket error.
    Io(io::Error),
    /// The peer broke the protocol.
    Protocol(String),
    /// A limit of the server or the idle timeout.
    Dropped(String),
    /// No registration in time. Only info: health checks and port scanners do this
    /// all day, and a warning each time would drown real problems.
    Handshake(String),
    /// A refused connection finished flushing its answer, or a relay end finished
    /// both ways.
    Done,
    /// Relay housekeeping: a wait timed out, a request was replaced, the job ended.
    Relay(String),
}

struct EventLoop {
    listener: TcpListener,
    cfg: ServerConfig,
    conns: HashMap<Token, Conn>,
    jobs: HashMap<String, Job>,
    next_token: usize,
    /// Connection deadlines, soonest first. An entry only counts if the connection
    /// still has that deadline; stale ones are skipped when they come up.
    timers: BinaryHeap<Reverse<(Instant, Token)>>,
    /// Connections to close once the current event is handled. Closing can make the
    /// server write to other connections, which can fail in turn, so closing is
    /// never done in the middle of handling a message.
    dead: Vec<(Token, Cause)>,
    /// Relay connections to read without waiting for an event (events are edge
    /// triggered: data left unread announces itself no more).
    ready: Vec<Token>,
    /// (job, rank, peer) of every relay request waiting for its peer's.
    relay_waiting: HashMap<(String, u32, u32), Token>,
    /// Connections in a relay state.
    relay_conns: usize,
    accept_retry: Option<Instant>,
    next_idle_scan: Instant,
}

impl EventLoop {
    fn poll_timeout(&self) -> Option<Duration> {
        if !self.ready.is_empty() {
            return Some(Duration::ZERO);
        }
        let now = Instant::now();
        let mut next: Option<Instant> = self.timers.peek().map(|t| t.0 .0);
        let mut consider = |t: Instant| {
            next = Some(next.map_or(t, |n| n.min(t)));
        };
        if let Some(t) = self.accept_retry {
            consider(t);
        }
        if self.cfg.idle_timeout.is_some() {
            consider(self.next_idle_scan);
        }
        next.map(|t| t.saturating_duration_since(now))
    }

    fn accept_all(&mut self, poll: &Poll) {
        loop {
            match self.listener.accept() {
                Ok((stream, peer)) => self.on_accept(poll, stream, peer),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    self.accept_retry = None;
                    return;
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) if e.kind() == io::ErrorKind::ConnectionAborted => continue,
                Err(e) => {
                    // Typically EMFILE: the pending connection stays queued, and with
                    // edge-triggered events nothing would tell us to try again.
                    log::warn!("rendezvous server cannot accept: {e}; retrying shortly");
                    self.accept_retry = Some(Instant::now() + ACCEPT_RETRY);
                    return;
                }
            }
        }
    }

    fn on_accept(&mut self, poll: &Poll, mut stream: TcpStream, peer: SocketAddr) {
        let peer = canonical(peer);
        if self.conns.len() >= self.cfg.max_connections {
            log::warn!(
                "refusing connection from {peer}: {} connections is the limit",
                self.cfg.max_connections
            );
            let msg = Msg::Refused {
                code: RefuseCode::Busy,
                reason: format!(
                    "the rendezvous server is at its limit of {} connections",
                    self.cfg.max_connections
                ),
            };
            // Best effort: a fresh socket's send buffer takes a small message at
            // once; if it does not, the peer only misses the reason.
            let _ = stream.write(&msg.encode());
            return;
        }
        // Control messages are small and latency matters more than packing them.
        if let Err(e) = stream.set_nodelay(true) {
            log::debug!("set_nodelay for {peer}: {e}");
        }
        // Keepalive notices ranks whose host vanished without closing the
        // connection, so they get reported lost even without an idle timeout.
        let ka = socket2::TcpKeepalive::new()
            .with_time(Duration::from_secs(30))
            .with_interval(Duration::from_secs(10))
            .with_retries(3);
        if let Err(e) = socket2::SockRef::from(&stream).set_tcp_keepalive(&ka) {
            log::debug!("keepalive for {peer}: {e}");
        }
        let token = Token(self.next_token);
        self.next_token += 1;
        if let Err(e) =
            poll.registry()
                .register(&mut stream, token, Interest::READABLE | Interest::WRITABLE)
        {
            log::warn!("cannot watch connection from {peer}: {e}");
            return;
        }
        let nonce = auth::nonce();
        let now = Instant::now();
        self.conns.insert(
            token,
            Conn {
                stream,
                peer,
                reader: FrameReader::default(),
                out: Vec::new(),
                out_pos: 0,
                nonce,
                state: State::Handshake { asked: false },
                last_input: now,
                pending_wants: 0,
                deadline: None,
            },
        );
        self.set_deadline(token, Some(now + self.cfg.handshake_timeout));
        log::debug!("connection from {peer}");
        self.send(
            token,
            &Msg::Challenge {
                version: VERSION,
                nonce,
            },
        );
    }

    fn on_readable(&mut self, token: Token) {
        if self.is_relay(token) {
            return self.relay_readable(token);
        }
        let mut buf = [0u8; READ_CHUNK];
        loop {
            let Some(conn) = self.conns.get_mut(&token) else {
                return;
            };
            let n = match conn.stream.read(&mut buf) {
                Ok(0) => {
                    self.dead.push((token, Cause::Eof));
                    return;
                }
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    self.dead.push((token, Cause::Io(e)));
                    return;
                }
            };
            conn.last_input = Instant::now();
            if matches!(conn.state, State::Closing) {
                // Drain and discard: closing with unread input would reset the
                // connection and could destroy the Refused answer in flight.
                continue;
            }
            conn.reader.push(&buf[..n]);
            if !self.handle_frames(token) {
                return;
            }
            if self.is_relay(token) {
                // The rest of the stream is not framed: it is for the peer.
                return self.relay_readable(token);
            }
        }
    }

    /// Handles every whole frame buffered, one at a time, because a frame can end
    /// the framed part of the stream (`Relay`). False if the connection died.
    fn handle_frames(&mut self, token: Token) -> bool {
        loop {
            let Some(conn) = self.conns.get_mut(&token) else {
                return false;
            };
            if !matches!(
                conn.state,
                State::Handshake { .. } | State::Registered { .. }
            ) {
                return true;
            }
            match conn.reader.next_msg() {
                Ok(Some(m)) => {
                    self.on_msg(token, m);
                    if self.is_dead(token) {
                        return false;
                    }
                }
                Ok(None) => return true,
                Err(e) => {
                    self.dead.push((token, Cause::Protocol(e.0)));
                    return false;
                }
            }
        }
    }

    fn is_relay(&self, token: Token) -> bool {
        matches!(
            self.conns.get(&token).map(|c| &c.state),
            Some(State::RelayWaiting { .. } | State::Spliced(_))
        )
    }

    fn on_writable(&mut self, token: Token) {
        self.flush(token);
    }

    fn is_dead(&self, token: Token) -> bool {
        !self.conns.contains_key(&token) || self.dead.iter().any(|d| d.0 == token)
    }

    /// Replaces the connection's deadline (`None`: it has none).
    fn set_deadline(&mut self, token: Token, at: Option<Instant>) {
        if let Some(conn) = self.conns.get_mut(&token) {
            conn.deadline = at;
            if let Some(t) = at {
                self.timers.push(Reverse((t, token)));
            }
        }
    }

    /// Queues a message on a connection and writes what the socket takes now.
    fn send(&mut self, token: Token, msg: &Msg) {
        let Some(conn) = self.conns.get_mut(&token) else {
            return;
        };
        let bytes = msg.encode();
        if conn.out.len() - conn.out_pos + bytes.len() > MAX_OUTPUT {
            let why = format!(
                "{} is not reading its messages ({} bytes queued)",
                conn.peer,
                conn.out.len() - conn.out_pos
            );
            self.dead.push((token, Cause::Dropped(why)));
            return;
        }
        conn.out.extend_from_slice(&bytes);
        self.flush(token);
    }

    /// Bytes queued on a connection and not yet written.
    fn unsent(&self, token: Token) -> usize {
        self.conns
            .get(&token)
            .map_or(0, |c| c.out.len() - c.out_pos)
    }

    fn flush(&mut self, token: Token) {
        let Some(conn) = self.conns.get_mut(&token) else {
            return;
        };
        while conn.out_pos < conn.out.len() {
            match conn.stream.write(&conn.out[conn.out_pos..]) {
                Ok(0) => {
                    let e = io::Error::new(io::ErrorKind::WriteZero, "connection closed");
                    self.dead.push((token, Cause::Io(e)));
                    return;
                }
                Ok(n) => conn.out_pos += n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    self.dead.push((token, Cause::Io(e)));
                    return;
                }
            }
        }
        if conn.out_pos == conn.out.len() {
            conn.out.clear();
            conn.out_pos = 0;
            // A relay burst may have grown the buffer to megabytes.
            conn.out.shrink_to(KEEP_CAPACITY);
        } else if conn.out_pos >= KEEP_CAPACITY && 2 * conn.out_pos >= conn.out.len() {
            // Keep the buffer from only growing while the peer reads slowly; moving
            // at most what was written since the last move keeps this linear.
            conn.out.drain(..conn.out_pos);
            conn.out_pos = 0;
        }
        let unsent = conn.out.len() - conn.out_pos;
        let mut resume = None;
        match &mut conn.state {
            State::Closing if unsent == 0 => self.dead.push((token, Cause::Done)),
            State::Spliced(s) => {
                if unsent == 0 && s.peer_done && !s.write_shut {
                    // Pass the other end's end of stream on: a half-close, so this
                    // rank may still send.
                    if let Err(e) = conn.stream.shutdown(Shutdown::Write) {
                        self.dead.push((token, Cause::Io(e)));
                        return;
                    }
                    s.write_shut = true;
                    if s.read_done {
                        self.dead.push((token, Cause::Done));
                    }
                }
                if unsent <= RELAY_RESUME {
                    resume = s.other;
                }
            }
            _ => {}
        }
        if let Some(o) = resume {
            if let Some(Conn {
                state: State::Spliced(os),
                ..
            }) = self.conns.get_mut(&o)
            {
                if os.paused {
                    os.paused = false;
                    self.ready.push(o);
                }
            }
        }
    }

    fn on_msg(&mut self, token: Token, msg: Msg) {
        let Some(conn) = self.conns.get(&token) else {
            return;
        };
        // Copied out so the handlers below may borrow the whole loop mutably.
        let registered = match &conn.state {
            State::Handshake { .. } => None,
            State::Registered { job, rank, left } => Some((job.clone(), *rank, *left)),
            _ => return,
        };
        match (registered, msg) {
            (
                None,
                Msg::Register {
                    version,
                    job,
                    rank,
                    size,
                    candidates,
                    mac,
                    verifier,
                },
            ) => self.on_register(
                token,
                Registration {
                    version,
                    name: job,
                    rank,
                    size,
                    candidates,
                    mac,
                    verifier,
                },
            ),
            (
                None,
                Msg::Relay {
                    job,
                    rank,
                    peer,
                    mac,
                },
            ) => self.on_relay(token, job, rank, peer, mac),
            (None, other) => {
                let why = format!("expected Register or Relay, got {}", msg_name(&other));
                self.dead.push((token, Cause::Protocol(why)));
            }
            (Some((job, rank, true)), _) => {
                log::debug!("ignoring a message from rank {rank} of job {job} after Bye");
            }
            (Some((job, rank, false)), m) => match m {
                Msg::WantPeer { rank: r } => self.on_want(token, &job, rank, r),
                Msg::Abort { code } => self.on_abort(&job, rank, code),
                Msg::Bye => self.on_bye(token, &job, rank),
                other => {
                    let why = format!(
                        "rank {rank} of job {job} sent {} after registering",
                        msg_name(&other)
                    );
                    self.dead.push((token, Cause::Protocol(why)));
                }
            },
        }
    }

    fn on_register(&mut self, token: Token, reg: Registration) {
        let Registration {
            version,
            name,
            rank,
            size,
            candidates,
            mac,
            verifier,
        } = reg;
        let Some(conn) = self.conns.get(&token) else {
            return;
        };
        let (nonce, peer) = (conn.nonce, conn.peer);
        let asked = matches!(conn.state, State::Handshake { asked: true });
        if version != VERSION {
            let why = format!(
                "protocol version {version} is not supported (this server speaks {VERSION})"
            );
            return self.refuse(token, RefuseCode::Protocol, why);
        }
        if name.is_empty() {
            let why = "the job name is empty".to_string();
            return self.refuse(token, RefuseCode::BadRank, why);
        }
        if size == 0 || rank >= size {
            let why = format!("rank {rank} is out of range for job {name} of size {size}");
            return self.refuse(token, RefuseCode::BadRank, why);
        }
        if size as usize > self.cfg.max_job_connections {
            let why = format!(
                "job {name} has {size} ranks; this server takes jobs of at most {} ranks",
                self.cfg.max_job_connections
            );
            return self.refuse(token, RefuseCode::Busy, why);
        }
        // The verifier to check the proof against, and whether it is the job's own
        // (known job or derived from the server's token): then a failed proof means
        // a wrong token.
        let (expected, trusted) = match self.jobs.get(&name) {
            Some(job) => (job.verifier, true),
            None if self.jobs.len() >= self.cfg.max_jobs => {
                let why = format!(
                    "cannot start job {name}: the server is at its limit of {} jobs",
                    self.cfg.max_jobs
                );
                return self.refuse(token, RefuseCode::Busy, why);
            }
            None => match (&self.cfg.token, verifier) {
                (Some(t), _) => (JobKeys::new(t, &name).server_verifier(), true),
                (None, Some(v)) => (v, false),
                (None, None) if asked => {
                    let why = format!(
                        "rank {rank} of job {name} was asked for its verifier and sent none"
                    );
                    return self.refuse(token, RefuseCode::Protocol, why);
                }
                (None, None) => {
                    if let Some(conn) = self.conns.get_mut(&token) {
                        conn.state = State::Handshake { asked: true };
                    }
                    log::debug!("asking rank {rank} of new job {name} ({peer}) for its verifier");
                    return self.send(token, &Msg::NeedVerifier);
                }
            },
        };
        // Checked before anything about the job's ranks, so an unauthenticated
        // client learns nothing about which ranks are present.
        if !auth::tags_equal(&mac, &auth::server_mac_with(&expected, &nonce, &name, rank)) {
            let why = if trusted {
                format!("wrong token for job {name} (rank {rank})")
            } else {
                format!("authentication failed for rank {rank} of job {name}: its proof does not match its verifier")
            };
            return self.refuse(token, RefuseCode::Auth, why);
        }
        if let Some(job) = self.jobs.get(&name) {
            if job.size != size {
                let why = format!(
                    "job {name} has size {}, but rank {rank} registered with size {size}",
                    job.size
                );
                return self.refuse(token, RefuseCode::BadRank, why);
            }
            if matches!(job.ranks.get(&rank), Some(RankState::Connected { .. })) {
                let why = format!("rank {rank} of job {name} is already registered");
                return self.refuse(token, RefuseCode::BadRank, why);
            }
            if job.conns + job.relays.len() >= self.cfg.max_job_connections {
                let why = format!(
                    "job {name} is at this server's limit of {} connections per job",
                    self.cfg.max_job_connections
                );
                return self.refuse(token, RefuseCode::Busy, why);
            }
        }
        let job = self.jobs.entry(name.clone()).or_insert_with(|| {
            log::info!("job {name} created (size {size})");
            Job {
                verifier: expected,
                size,
                ranks: HashMap::new(),
                wants: HashMap::new(),
                conns: 0,
                relays: HashSet::new(),
            }
        });
        job.ranks.insert(
            rank,
            RankState::Connected {
                token,
                candidates: dedupe(&candidates, None),
                reflexive: peer,
            },
        );
        job.conns += 1;
        let waiting = job.wants.remove(&rank).unwrap_or_default();
        if let Some(conn) = self.conns.get_mut(&token) {
            conn.state = State::Registered {
                job: name.clone(),
                rank,
                left: false,
            };
        }
        self.set_deadline(token, None);
        log::info!("rank {rank} of job {name} registered from {peer}");
        self.send(token, &Msg::Registered { reflexive: peer });
        for (q, qtoken) in waiting {
            if let Some(c) = self.conns.get_mut(&qtoken) {
                c.pending_wants = c.pending_wants.saturating_sub(1);
            }
            // The wanting rank may have gone (or come back on another connection)
            // since it asked.
            if self.connected_token(&name, q) == Some(qtoken) {
                self.introduce(&name, q, rank);
            }
        }
    }

    /// A relay request: checked like a registration, then parked until the peer's
    /// request comes, or spliced with it if it is already here.
    fn on_relay(&mut self, token: Token, name: String, rank: u32, peer: u32, mac: Tag) {
        let Some(conn) = self.conns.get(&token) else {
            return;
        };
        let nonce = conn.nonce;
        let Some(job) = self.jobs.get(&name) else {
            let why = format!("relay for job {name}, which is not registered on this server");
            return self.refuse(token, RefuseCode::BadRank, why);
        };
        if !auth::tags_equal(
            &mac,
            &auth::server_mac_with(&job.verifier, &nonce, &name, rank),
        ) {
            let why = format!("wrong token for job {name} (relay of rank {rank})");
            return self.refuse(token, RefuseCode::Auth, why);
        }
        if !matches!(job.ranks.get(&rank), Some(RankState::Connected { .. })) {
            let why = format!("rank {rank} of job {name} asked for a relay but is not registered");
            return self.refuse(token, RefuseCode::BadRank, why);
        }
        if peer >= job.size || peer == rank {
            let why = format!(
                "rank {rank} of job {name} asked for a relay to rank {peer}, which is not another rank of a job of size {}",
                job.size
            );
            return self.refuse(token, RefuseCode::BadRank, why);
        }
        match job.ranks.get(&peer) {
            Some(RankState::Lost) => {
                let why = format!("relay to rank {peer} of job {name}, which was lost");
                return self.refuse(token, RefuseCode::BadRank, why);
            }
            Some(RankState::Left) => {
                let why = format!("relay to rank {peer} of job {name}, which has left");
                return self.refuse(token, RefuseCode::BadRank, why);
            }
            _ => {}
        }
        if job.conns + job.relays.len() >= self.cfg.max_job_connections {
            let why = format!(
                "job {name} is at this server's limit of {} connections per job",
                self.cfg.max_job_connections
            );
            return self.refuse(token, RefuseCode::Busy, why);
        }
        if let Some(job) = self.jobs.get_mut(&name) {
            job.relays.insert(token);
        }
        self.relay_conns += 1;
        let mate = self
            .relay_waiting
            .remove(&(name.clone(), peer, rank))
            .filter(|m| !self.is_dead(*m));
        let Some(conn) = self.conns.get_mut(&token) else {
            return;
        };
        let early = conn.reader.take_rest();
        conn.state = State::RelayWaiting {
            job: name.clone(),
            rank,
            peer,
            early,
        };
        match mate {
            Some(m) => self.splice(m, token),
            None => {
                log::debug!("rank {rank} of job {name} waits for a relay to rank {peer}");
                let key = (name, rank, peer);
                if let Some(old) = self.relay_waiting.insert(key, token) {
                    let why = "replaced by a newer relay request".to_string();
                    self.dead.push((old, Cause::Relay(why)));
                }
                self.set_deadline(token, Some(Instant::now() + self.cfg.relay_wait));
            }
        }
    }

    /// Joins two waiting relay requests: both get `RelayReady`, then the other's
    /// bytes.
    fn splice(&mut self, a: Token, b: Token) {
        let mut early = [Vec::new(), Vec::new()];
        let mut ranks = [0u32; 2];
        let mut job = String::new();
        for (i, (t, other)) in [(a, b), (b, a)].into_iter().enumerate() {
            let Some(conn) = self.conns.get_mut(&t) else {
                return;
            };
            let State::RelayWaiting {
                job: name,
                rank,
                peer,
                early: e,
            } = std::mem::replace(&mut conn.state, State::Closing)
            else {
                // Only waiting requests are ever spliced.
                return;
            };
            early[i] = e;
            ranks[i] = rank;
            conn.state = State::Spliced(Splice {
                job: name.clone(),
                rank,
                peer,
                other: Some(other),
                read_done: false,
                peer_done: false,
                write_shut: false,
                paused: false,
            });
            job = name;
            self.set_deadline(t, None);
        }
        log::info!(
            "relaying rank {} <-> rank {} of job {job}",
            ranks[0],
            ranks[1]
        );
        let [early_a, early_b] = early;
        for (t, bytes) in [(a, early_b), (b, early_a)] {
            self.send(t, &Msg::RelayReady);
            if let Some(conn) = self.conns.get_mut(&t) {
                conn.out.extend_from_slice(&bytes);
            }
            self.flush(t);
            // Whatever each sent meanwhile is waiting in its socket, unannounced.
            self.ready.push(t);
        }
    }

    /// Reads a relay connection: into its early buffer while it waits, into the
    /// other end's output once spliced. Stops at the buffer bound or after a
    /// budget of chunks, so one fast relay cannot starve the other connections.
    fn relay_readable(&mut self, token: Token) {
        /// Where the bytes read go.
        enum Sink {
            Early,
            Other(Token),
            Nowhere,
        }
        let mut buf = [0u8; READ_CHUNK];
        for _ in 0..RELAY_READ_BUDGET {
            let Some(conn) = self.conns.get(&token) else {
                return;
            };
            let sink = match &conn.state {
                State::RelayWaiting { early, .. } if early.len() < RELAY_EARLY => Sink::Early,
                // Read again by the splice.
                State::RelayWaiting { .. } => return,
                State::Spliced(s) if s.read_done => return,
                State::Spliced(s) => match s.other {
                    Some(o) if self.unsent(o) >= RELAY_BUFFER => {
                        if let Some(Conn {
                            state: State::Spliced(s),
                            ..
                        }) = self.conns.get_mut(&token)
                        {
                            s.paused = true;
                        }
                        return;
                    }
                    Some(o) => Sink::Other(o),
                    // The other end is gone: read only to see this one's end.
                    None => Sink::Nowhere,
                },
                _ => return,
            };
            let Some(conn) = self.conns.get_mut(&token) else {
                return;
            };
            let n = match conn.stream.read(&mut buf) {
                Ok(0) => return self.relay_eof(token),
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    self.dead.push((token, Cause::Io(e)));
                    return;
                }
            };
            conn.last_input = Instant::now();
            match sink {
                Sink::Early => {
                    if let State::RelayWaiting { early, .. } = &mut conn.state {
                        early.extend_from_slice(&buf[..n]);
                    }
                }
                Sink::Other(o) => {
                    if let Some(oc) = self.conns.get_mut(&o) {
                        oc.out.extend_from_slice(&buf[..n]);
                    }
                    self.flush(o);
                }
                Sink::Nowhere => {}
            }
        }
        // Budget used up: there may be more, which no event will announce.
        self.ready.push(token);
    }

    /// A relay end sent its end of stream.
    fn relay_eof(&mut self, token: Token) {
        let Some(conn) = self.conns.get_mut(&token) else {
            return;
        };
        let other = match &mut conn.state {
            State::RelayWaiting { .. } => {
                self.dead.push((token, Cause::Eof));
                return;
            }
            State::Spliced(s) => {
                s.read_done = true;
                if s.write_shut {
                    self.dead.push((token, Cause::Done));
                }
                s.other
            }
            _ => return,
        };
        if let Some(o) = other {
            if let Some(Conn {
                state: State::Spliced(os),
                ..
            }) = self.conns.get_mut(&o)
            {
                os.peer_done = true;
            }
            // Shuts its write side down once what is queued is out.
            self.flush(o);
        }
    }

    fn refuse(&mut self, token: Token, code: RefuseCode, reason: String) {
        if let Some(conn) = self.conns.get_mut(&token) {
            log::info!("refused {}: {reason}", conn.peer);
            conn.state = State::Closing;
        }
        // The handshake deadline still applies: a peer that never reads its answer
        // is dropped then.
        self.send(token, &Msg::Refused { code, reason });
    }

    fn connected_token(&self, job: &str, rank: u32) -> Option<Token> {
        match self.jobs.get(job)?.ranks.get(&rank)? {
            RankState::Connected { token, .. } => Some(*token),
            _ => None,
        }
    }

    /// Sends each of ranks `a` and `b` (both connected) the other's candidates.
    fn introduce(&mut self, name: &str, a: u32, b: u32) {
        let Some(job) = self.jobs.get(name) else {
            return;
        };
        let info = |r: u32| match job.ranks.get(&r) {
            Some(RankState::Connected {
                token,
                candidates,
                reflexive,
            }) => Some((*token, dedupe(candidates, Some(*reflexive)))),
            _ => None,
        };
        let (Some((ta, ca)), Some((tb, cb))) = (info(a), info(b)) else {
            return;
        };
        log::debug!("introducing ranks {a} and {b} of job {name}");
        self.send(
            ta,
            &Msg::PeerInfo {
                rank: b,
                candidates: cb,
            },
        );
        self.send(
            tb,
            &Msg::PeerInfo {
                rank: a,
                candidates: ca,
            },
        );
    }

    fn on_want(&mut self, token: Token, name: &str, q: u32, r: u32) {
        let Some(job) = self.jobs.get_mut(name) else {
            return;
        };
        if r >= job.size || r == q {
            log::warn!(
                "rank {q} of job {name} asked for rank {r}, which is not another rank of a job of size {}; ignored",
                job.size
            );
            return;
        }
        match job.ranks.get(&r) {
            Some(RankState::Connected { .. }) => self.introduce(name, q, r),
            Some(RankState::Lost) => self.send(token, &Msg::PeerLost { rank: r }),
            Some(RankState::Left) => self.send(token, &Msg::PeerLeft { rank: r }),
            None => {
                let list = job.wants.entry(r).or_default();
                if list.contains(&(q, token)) {
                    return;
                }
                let Some(conn) = self.conns.get_mut(&token) else {
                    return;
                };
                if conn.pending_wants >= MAX_PENDING_WANTS {
                    log::warn!(
                        "rank {q} of job {name} waits for more than {MAX_PENDING_WANTS} unregistered ranks; ignoring its request for rank {r}"
                    );
                    return;
                }
                conn.pending_wants += 1;
                list.push((q, token));
            }
        }
    }

    fn on_abort(&mut self, name: &str, q: u32, code: i32) {
        log::info!("rank {q} of job {name} aborted the job with code {code}");
        for t in self.others(name, q) {
            self.send(t, &Msg::Aborted { rank: q, code });
        }
    }

    fn on_bye(&mut self, token: Token, name: &str, rank: u32) {
        log::info!("rank {rank} of job {name} left");
        if let Some(job) = self.jobs.get_mut(name) {
            job.ranks.insert(rank, RankState::Left);
        }
        if let Some(Conn {
            state: State::Registered { left, .. },
            ..
        }) = self.conns.get_mut(&token)
        {
            *left = true;
        }
    }

    /// Connections of every connected rank of the job except `rank`.
    fn others(&self, name: &str, rank: u32) -> Vec<Token> {
        let Some(job) = self.jobs.get(name) else {
            return Vec::new();
        };
        job.ranks
            .iter()
            .filter_map(|(r, s)| match s {
                RankState::Connected { token, .. } if *r != rank => Some(*token),
                _ => None,
            })
            .collect()
    }

    fn on_timers(&mut self, poll: &Poll) {
        let now = Instant::now();
        while let Some(&Reverse((at, token))) = self.timers.peek() {
            if at > now {
                break;
            }
            self.timers.pop();
            let Some(conn) = self.conns.get_mut(&token) else {
                continue;
            };
            // A stale entry: the connection moved on and has another deadline or none.
            if conn.deadline != Some(at) {
                continue;
            }
            conn.deadline = None;
            let cause = match &conn.state {
                State::Handshake { .. } | State::Closing => Cause::Handshake(format!(
                    "{} did not complete its registration within {:?}",
                    conn.peer, self.cfg.handshake_timeout
                )),
                State::RelayWaiting { peer, .. } => Cause::Relay(format!(
                    "rank {peer} did not ask for its end of the relay within {:?}",
                    self.cfg.relay_wait
                )),
                State::Spliced(_) => Cause::Relay(format!(
                    "the other end is gone and this one did not close within {:?}",
                    self.cfg.relay_wait
                )),
                State::Registered { .. } => continue,
            };
            self.dead.push((token, cause));
        }
        if let Some(idle) = self.cfg.idle_timeout {
            if now >= self.next_idle_scan {
                self.next_idle_scan = now + IDLE_SCAN.min(idle);
                for (token, conn) in &self.conns {
                    let relay =
                        matches!(conn.state, State::RelayWaiting { .. } | State::Spliced(_));
                    if !relay && now.duration_since(conn.last_input) >= idle {
                        let why = format!("{} was silent for {idle:?}", conn.peer);
                        self.dead.push((*token, Cause::Dropped(why)));
                    }
                }
            }
        }
        if self.accept_retry.is_some_and(|t| t <= now) {
            self.accept_all(poll);
        }
    }

    /// Closes every connection marked dead, including those that die while the
    /// server tells others about the first ones.
    fn reap(&mut self) {
        while let Some((token, cause)) = self.dead.pop() {
            self.close(token, cause);
        }
    }

    fn close(&mut self, token: Token, cause: Cause) {
        // Removing from the map closes the socket (and mio deregisters it).
        let Some(conn) = self.conns.remove(&token) else {
            return;
        };
        let peer = conn.peer;
        let what = match &conn.state {
            State::Registered { job, rank, .. } => format!("rank {rank} of job {job} ({peer})"),
            State::RelayWaiting {
                job, rank, peer: p, ..
            }
            | State::Spliced(Splice {
                job, rank, peer: p, ..
            }) => format!("relay of rank {rank} to rank {p} of job {job} ({peer})"),
            _ => format!("connection from {peer}"),
        };
        match &cause {
            Cause::Eof | Cause::Done => log::debug!("{what} closed"),
            Cause::Io(e) => log::debug!("{what}: {e}"),
            Cause::Protocol(why) => log::warn!("dropping {what}: protocol error: {why}"),
            Cause::Dropped(why) => log::warn!("dropping {what}: {why}"),
            Cause::Handshake(why) => log::info!("dropping {what}: {why}"),
            Cause::Relay(why) => log::debug!("closing {what}: {why}"),
        }
        match conn.state {
            State::Registered { job, rank, left } => {
                self.close_registered(token, peer, job, rank, left)
            }
            State::RelayWaiting {
                job, rank, peer, ..
            } => {
                self.forget_relay(token, &job);
                let key = (job, rank, peer);
                if self.relay_waiting.get(&key) == Some(&token) {
                    self.relay_waiting.remove(&key);
                }
            }
            State::Spliced(s) => {
                self.forget_relay(token, &s.job);
                let Some(o) = s.other else {
                    return;
                };
                let Some(oc) = self.conns.get_mut(&o) else {
                    return;
                };
                let State::Spliced(os) = &mut oc.state else {
                    return;
                };
                os.other = None;
                os.peer_done = true;
                if os.paused {
                    os.paused = false;
                    self.ready.push(o);
                }
                // Nothing more comes for that end: it gets what is queued, then its
                // end of stream, and a while to close its side.
                let linger = Instant::now() + self.cfg.relay_wait;
                self.set_deadline(o, Some(linger));
                self.flush(o);
            }
            State::Handshake { .. } | State::Closing => {}
        }
    }

    fn forget_relay(&mut self, token: Token, job: &str) {
        self.relay_conns = self.relay_conns.saturating_sub(1);
        if let Some(j) = self.jobs.get_mut(job) {
            j.relays.remove(&token);
        }
    }

    fn close_registered(
        &mut self,
        token: Token,
        peer: SocketAddr,
        name: String,
        rank: u32,
        left: bool,
    ) {
        let Some(job) = self.jobs.get_mut(&name) else {
            return;
        };
        job.conns = job.conns.saturating_sub(1);
        // Only the rank's current connection speaks for it.
        let current = matches!(job.ranks.get(&rank), Some(RankState::Connected { token: t, .. }) if *t == token);
        if current {
            if left {
                job.ranks.insert(rank, RankState::Left);
            } else {
                job.ranks.insert(rank, RankState::Lost);
                log::info!("rank {rank} of job {name} lost ({peer})");
                for t in self.others(&name, rank) {
                    self.send(t, &Msg::PeerLost { rank });
                }
            }
        }
        if self.jobs.get(&name).is_some_and(|j| j.conns == 0) {
            if let Some(job) = self.jobs.remove(&name) {
                for t in job.relays {
                    let why = format!("job {name} ended");
                    self.dead.push((t, Cause::Relay(why)));
                }
            }
            log::info!("job {name} ended");
        }
    }
}

/// The address as the peer would state it: IPv4 clients of a dual-stack listener
/// show up as IPv4-mapped IPv6 addresses, which other ranks may not be able to use.
fn canonical(a: SocketAddr) -> SocketAddr {
    match a {
        SocketAddr::V6(v6) => match v6.ip().to_ipv4_mapped() {
            Some(v4) => SocketAddr::new(v4.into(), v6.port()),
            None => a,
        },
        SocketAddr::V4(_) => a,
    }
}

/// `candidates` followed by `extra`, without repeats, at most `MAX_CANDIDATES`.
fn dedupe(candidates: &[SocketAddr], extra: Option<SocketAddr>) -> Vec<SocketAddr> {
    let mut out: Vec<SocketAddr> = Vec::with_capacity(candidates.len() + 1);
    for a in candidates.iter().copied().chain(extra) {
        if out.len() == MAX_CANDIDATES {
            break;
        }
        if !out.contains(&a) {
            out.push(a);
        }
    }
    out
}

fn msg_name(m: &Msg) -> &'static str {
    match m {
        Msg::Challenge { .. } => "Challenge",
        Msg::Register { .. } => "Register",
        Msg::Registered { .. } => "Registered",
        Msg::Refused { .. } => "Refused",
        Msg::WantPeer { .. } => "WantPeer",
        Msg::PeerInfo { .. } => "PeerInfo",
        Msg::PeerLost { .. } => "PeerLost",
        Msg::PeerLeft { .. } => "PeerLeft",
        Msg::Abort { .. } => "Abort",
        Msg::Aborted { .. } => "Aborted",
        Msg::Bye => "Bye",
        Msg::Relay { .. } => "Relay",
        Msg::RelayReady => "RelayReady",
        Msg::NeedVerifier => "NeedVerifier",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dedupe_keeps_order_and_caps() {
        let a: SocketAddr = "10.0.0.1:5".parse().unwrap();
        let b: SocketAddr = "10.0.0.2:5".parse().unwrap();
        assert_eq!(dedupe(&[a, b, a], Some(b)), vec![a, b]);
        let many: Vec<SocketAddr> = (0..MAX_CANDIDATES as u16)
            .map(|p| SocketAddr::from(([10, 0, 0, 1], p + 1)))
            .collect();
        let out = dedupe(&many, Some(b));
        assert_eq!(out.len(), MAX_CANDIDATES);
        assert!(!out.contains(&b));
    }

    #[test]
    fn mapped_addresses_become_ipv4() {
        let m: SocketAddr = "[::ffff:10.1.2.3]:77".parse().unwrap();
        assert_eq!(canonical(m), "10.1.2.3:77".parse::<SocketAddr>().unwrap());
        let v6: SocketAddr = "[2001:db8::1]:77".parse().unwrap();
        assert_eq!(canonical(v6), v6);
    }
}
