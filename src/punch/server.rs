//! The rendezvous server: ranks register their address candidates here, ask for
//! peers, and learn when a peer is lost or aborts.
//!
//! One thread runs a single `mio` event loop over every connection, so a server
//! handles thousands of ranks without a thread each. Every connection has its own
//! input decoder and output buffer; whatever one connection does wrong (garbage,
//! oversized frames, silence, not reading its output) only ever drops that
//! connection. Job state lives exactly as long as the job has a connection: the
//! server keeps nothing after a job ends.

use crate::auth::{self, Tag};
use crate::punch::proto::{FrameReader, Msg, RefuseCode, MAX_CANDIDATES, VERSION};
use mio::net::{TcpListener, TcpStream};
use mio::{Events, Interest, Poll, Token, Waker};
use std::collections::{HashMap, VecDeque};
use std::io::{self, Read, Write};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
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

/// Limits and timeouts of a [`Server`].
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Most simultaneous connections; more are refused with `Busy`.
    pub max_connections: usize,
    /// Most simultaneous jobs; registrations for more are refused with `Busy`.
    pub max_jobs: usize,
    /// How long a new connection has to register before it is dropped.
    pub handshake_timeout: Duration,
    /// Registered connections silent for this long are dropped (and their rank
    /// reported lost). `None`: rely on TCP keepalive only.
    pub idle_timeout: Option<Duration>,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            max_connections: 4096,
            max_jobs: 1024,
            handshake_timeout: Duration::from_secs(5),
            idle_timeout: None,
        }
    }
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
}

/// A server running in a background thread. Dropping it stops the server too.
pub struct ServerHandle {
    local: SocketAddr,
    waker: Arc<Waker>,
    stop: Arc<AtomicBool>,
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
            deadlines: VecDeque::new(),
            dead: Vec::new(),
            accept_retry: None,
            next_idle_scan: Instant::now() + IDLE_SCAN,
        };
        let mut events = Events::with_capacity(1024);
        loop {
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
            thread: Some(thread),
        })
    }
}

impl ServerHandle {
    /// The address the server listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.local
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
    /// Challenge sent, waiting for `Register`.
    Handshake,
    /// Registered as `rank` of `job`; `left` once it said `Bye`.
    Registered { job: String, rank: u32, left: bool },
    /// Refused: flushing the `Refused` message, then closing. Input is discarded.
    Closing,
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
    /// A refused connection finished flushing its answer.
    Done,
}

struct EventLoop {
    listener: TcpListener,
    cfg: ServerConfig,
    conns: HashMap<Token, Conn>,
    jobs: HashMap<String, Job>,
    next_token: usize,
    /// Handshake deadlines in accept order; since the timeout is the same for every
    /// connection this is already sorted.
    deadlines: VecDeque<(Instant, Token)>,
    /// Connections to close once the current event is handled. Closing can make the
    /// server write to other connections, which can fail in turn, so closing is
    /// never done in the middle of handling a message.
    dead: Vec<(Token, Cause)>,
    accept_retry: Option<Instant>,
    next_idle_scan: Instant,
}

impl EventLoop {
    fn poll_timeout(&self) -> Option<Duration> {
        let now = Instant::now();
        let mut next: Option<Instant> = self.deadlines.front().map(|d| d.0);
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
                state: State::Handshake,
                last_input: now,
                pending_wants: 0,
            },
        );
        self.deadlines
            .push_back((now + self.cfg.handshake_timeout, token));
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
            // Decode everything first: handling a message needs `&mut self`.
            let mut msgs = Vec::new();
            let mut garbage = None;
            loop {
                match conn.reader.next_msg() {
                    Ok(Some(m)) => msgs.push(m),
                    Ok(None) => break,
                    Err(e) => {
                        garbage = Some(e.0);
                        break;
                    }
                }
            }
            for m in msgs {
                self.on_msg(token, m);
                if self.is_dead(token) {
                    return;
                }
            }
            if let Some(e) = garbage {
                self.dead.push((token, Cause::Protocol(e)));
                return;
            }
        }
    }

    fn on_writable(&mut self, token: Token) {
        self.flush(token);
    }

    fn is_dead(&self, token: Token) -> bool {
        !self.conns.contains_key(&token) || self.dead.iter().any(|d| d.0 == token)
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
            if matches!(conn.state, State::Closing) {
                self.dead.push((token, Cause::Done));
            }
        } else if conn.out_pos > 64 * 1024 {
            // Keep the buffer from only growing while the peer reads slowly.
            conn.out.drain(..conn.out_pos);
            conn.out_pos = 0;
        }
    }

    fn on_msg(&mut self, token: Token, msg: Msg) {
        let Some(conn) = self.conns.get(&token) else {
            return;
        };
        // Copied out so the handlers below may borrow the whole loop mutably.
        let registered = match &conn.state {
            State::Handshake => None,
            State::Registered { job, rank, left } => Some((job.clone(), *rank, *left)),
            State::Closing => return,
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
            ) => self.on_register(token, version, job, rank, size, candidates, mac, verifier),
            (None, other) => {
                let why = format!("expected Register, got {}", msg_name(&other));
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

    #[allow(clippy::too_many_arguments)]
    fn on_register(
        &mut self,
        token: Token,
        version: u16,
        name: String,
        rank: u32,
        size: u32,
        candidates: Vec<SocketAddr>,
        mac: Tag,
        verifier: Tag,
    ) {
        let Some(conn) = self.conns.get(&token) else {
            return;
        };
        let (nonce, peer) = (conn.nonce, conn.peer);
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
        match self.jobs.get(&name) {
            Some(job) => {
                if !auth::tags_equal(&job.verifier, &verifier) {
                    let why = format!("wrong token for job {name} (rank {rank})");
                    return self.refuse(token, RefuseCode::Auth, why);
                }
                if job.size != size {
                    let why = format!(
                        "job {name} has size {}, but rank {rank} registered with size {size}",
                        job.size
                    );
                    return self.refuse(token, RefuseCode::BadRank, why);
                }
            }
            None if self.jobs.len() >= self.cfg.max_jobs => {
                let why = format!(
                    "cannot start job {name}: the server is at its limit of {} jobs",
                    self.cfg.max_jobs
                );
                return self.refuse(token, RefuseCode::Busy, why);
            }
            None => {}
        }
        // Checked before the duplicate test so an unauthenticated client learns
        // nothing about which ranks are present.
        if !auth::tags_equal(&mac, &auth::server_mac_with(&verifier, &nonce, &name, rank)) {
            let why = format!("authentication failed for rank {rank} of job {name}");
            return self.refuse(token, RefuseCode::Auth, why);
        }
        if let Some(job) = self.jobs.get(&name) {
            if matches!(job.ranks.get(&rank), Some(RankState::Connected { .. })) {
                let why = format!("rank {rank} of job {name} is already registered");
                return self.refuse(token, RefuseCode::BadRank, why);
            }
        }
        let job = self.jobs.entry(name.clone()).or_insert_with(|| {
            log::info!("job {name} created (size {size})");
            Job {
                verifier,
                size,
                ranks: HashMap::new(),
                wants: HashMap::new(),
                conns: 0,
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
        while let Some(&(deadline, token)) = self.deadlines.front() {
            if deadline > now {
                break;
            }
            self.deadlines.pop_front();
            if let Some(conn) = self.conns.get(&token) {
                if matches!(conn.state, State::Handshake | State::Closing) {
                    let why = format!(
                        "{} did not complete its registration within {:?}",
                        conn.peer, self.cfg.handshake_timeout
                    );
                    self.dead.push((token, Cause::Handshake(why)));
                }
            }
        }
        if let Some(idle) = self.cfg.idle_timeout {
            if now >= self.next_idle_scan {
                self.next_idle_scan = now + IDLE_SCAN.min(idle);
                for (token, conn) in &self.conns {
                    if now.duration_since(conn.last_input) >= idle {
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
            _ => format!("connection from {peer}"),
        };
        match &cause {
            Cause::Eof | Cause::Done => log::debug!("{what} closed"),
            Cause::Io(e) => log::debug!("{what}: {e}"),
            Cause::Protocol(why) => log::warn!("dropping {what}: protocol error: {why}"),
            Cause::Dropped(why) => log::warn!("dropping {what}: {why}"),
            Cause::Handshake(why) => log::info!("dropping {what}: {why}"),
        }
        let State::Registered {
            job: name,
            rank,
            left,
        } = conn.state
        else {
            return;
        };
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
        if let Some(job) = self.jobs.get(&name) {
            if job.conns == 0 {
                self.jobs.remove(&name);
                log::info!("job {name} ended");
            }
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
