//! The per-world progress engine: peer connections, matching, requests, and the
//! progress loop. One `World` is one job membership (rank, size, job name); every
//! communicator derived from it shares its connections and separates its traffic by
//! context id.
//!
//! Progress is driven by calls into the library. A blocked call spins on
//! non-blocking I/O while things move and sleeps in epoll once they stop, so that
//! ranks sharing a core do not steal it from the peer they wait for.

mod connect;
pub mod matching;
mod mediated;
mod peers;
mod sink;

use crate::auth::JobKeys;
use crate::channel::direct::Conn;
use crate::channel::store::{ChannelKind, Store};
use crate::channel::RawBuf;
use crate::config::Config;
use crate::error::{Error, ErrorKind, Result};
use crate::group::Group;
use crate::punch::client::{self, Control};
use crate::punch::proto::Msg;
use crate::wire::{Header, Kind};
use matching::{Body, Matcher, Posted, ANY};
use mio::net::TcpListener;
use mio::{Events, Interest, Poll, Token};
use parking_lot::Mutex;
use peers::Peer;
use slab::Slab;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

const LISTENER: Token = Token(usize::MAX - 1);
const CONTROL: Token = Token(usize::MAX - 2);
/// The mailbox thread of a mediated channel has frames for us.
const WAKER: Token = Token(usize::MAX - 3);
/// Longest sleep in one epoll call, so timers (retries, handshake deadlines) run.
const SLEEP_SLICE: Duration = Duration::from_millis(50);
/// A blocking send waits once this much is queued for one peer.
const BACKLOG_HIGH: usize = 8 << 20;

/// Worlds of this process, for [`leave_all_at_exit`].
static WORLDS: Mutex<Vec<Weak<World>>> = Mutex::new(Vec::new());
/// The process is ending because of an abort: nothing may wait then.
static ABORTING: AtomicBool = AtomicBool::new(false);

/// Leaves every world this process has not left, as freeing its last communicator
/// would: for programs that exit without freeing, so that what they sent still
/// arrives and peers see a leave rather than a loss. Not after an abort.
pub fn leave_all_at_exit() {
    if ABORTING.load(Ordering::Acquire) {
        return;
    }
    let worlds: Vec<Arc<World>> = WORLDS
        .lock()
        .drain(..)
        .filter_map(|w| w.upgrade())
        .collect();
    for w in worlds {
        w.shutdown();
    }
}

/// Ends the process at once after an abort (this rank's or another's).
fn exit_aborting(code: i32) -> ! {
    ABORTING.store(true, Ordering::Release);
    std::process::exit(code)
}

/// Context ids fixed in every world: 0 is the world communicator, 2 the
/// communicator of this rank alone (MPI_COMM_SELF); each id `n` that a communicator
/// gets comes with `n + 1` reserved for its twin (see `Comm::twin`).
pub const WORLD_CTX: u32 = 0;
pub const SELF_CTX: u32 = 2;
const FIRST_FREE_CTX: u32 = 4;

/// A message taken out of matching by [`World::mprobe`].
#[derive(Debug)]
pub struct Message(matching::Unexpected);

/// Handle of a request inside its world.
pub type ReqId = usize;

/// Completion of an operation. `source` is a world rank.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Status {
    pub source: u32,
    pub tag: i32,
    pub bytes: usize,
    pub error: Option<Error>,
}

enum ReqKind {
    /// `buf` is kept for rendezvous sends until the data is written.
    Send {
        dest: u32,
        buf: Option<RawBuf>,
        /// The communicator's group, for sends of a collective: they fail when any
        /// member is lost, because the collective as a whole cannot complete.
        coll: Option<Arc<Group>>,
    },
    Recv {
        buf: RawBuf,
        group: Arc<Group>,
    },
}

struct Req {
    kind: ReqKind,
    done: Option<Status>,
    /// Set once a rendezvous transfer into or out of the buffer has begun.
    token: Option<u64>,
}

/// A rendezvous message this rank agreed to receive.
struct Transfer {
    /// The receive, None once cancelled (the data is then dropped).
    req: Option<ReqId>,
    tag: i32,
    /// Size of the whole message, and the part that fits the buffer.
    len: u64,
    accepted: u64,
}

/// Everything the frame handlers need; the connections themselves live beside it so
/// a connection can be read while its frames update this.
pub(crate) struct Core {
    rank: u32,
    size: u32,
    job: String,
    keys: JobKeys,
    eager_limit: usize,
    timeout: Option<Duration>,
    matcher: Matcher,
    reqs: Slab<Req>,
    peers: Vec<Peer>,
    phases: peers::PhaseMap,
    next_token: u64,
    /// Rendezvous sends waiting for clear-to-send: token -> request.
    await_cts: HashMap<u64, ReqId>,
    /// Rendezvous receives waiting for data, by (peer, token).
    await_data: HashMap<(u32, u64), Transfer>,
    /// Data frames being written: token -> send request.
    sending: HashMap<u64, ReqId>,
    /// Work produced while reading a connection, done once the read is over.
    outbox: Vec<sink::Action>,
    /// Peers that died (lost without leaving in order); see [`peers::Peer::died`].
    deaths: usize,
    /// Acknowledgements of synchronous mediated sends, to push once the lock is
    /// released: (sender, frame).
    acks: Vec<(u32, mediated::Frame)>,
}

struct State {
    poll: Poll,
    events: Events,
    listener: Option<TcpListener>,
    control: Option<Control>,
    conns: Slab<Conn>,
    core: Core,
    done: Vec<u64>,
    ctl_msgs: Vec<Msg>,
    next_timers: Instant,
    aborting: bool,
    /// Leaving: connection losses are expected and not worth a warning.
    closing: bool,
    /// The port we listen on, registered from and dial from.
    local_port: u16,
    /// The rendezvous server, for relay connections.
    server_addr: Option<std::net::SocketAddr>,
    punch_timeout: Duration,
    relay_enabled: bool,
    /// Point to point goes through this mediated channel instead of connections.
    mailroom: Option<Arc<mediated::Mailroom>>,
}

/// One job membership.
pub struct World {
    pub rank: u32,
    pub size: u32,
    pub job: String,
    pub cfg: Config,
    state: Mutex<State>,
    next_ctx: Mutex<u32>,
    /// `shutdown` has run (by the last communicator's free, or at exit).
    left: AtomicBool,
    /// Mediated channels open for this world (collectives may use them).
    stores: Vec<Arc<dyn Store>>,
    /// Point to point between distinct ranks goes through a mediated channel.
    mailroom: Option<Arc<mediated::Mailroom>>,
    /// An operation over a mediated channel failed: the job's keys cannot be
    /// trusted to be cleaned up by their writers, so leaving clears them all.
    failed: AtomicBool,
}

/// How a world reaches its peers.
#[derive(Default)]
struct Links {
    listener: Option<TcpListener>,
    control: Option<Control>,
    local_port: u16,
    server_addr: Option<std::net::SocketAddr>,
    /// Peer addresses known from the start (no rendezvous server).
    cands: Vec<Vec<std::net::SocketAddr>>,
}

fn check_identity(rank: u32, size: u32, job: &str) -> Result<()> {
    crate::log::init();
    if size == 0 || rank >= size {
        return Err(Error::arg(format!("rank {rank} is not below size {size}")));
    }
    if job.is_empty() || job.len() > crate::punch::proto::MAX_JOB_NAME {
        return Err(Error::arg(format!(
            "job name must be 1 to {} bytes long",
            crate::punch::proto::MAX_JOB_NAME
        )));
    }
    Ok(())
}

/// `r` is a rank of a world of `size`.
fn check_rank(r: u32, size: u32) -> Result<()> {
    if r >= size {
        return Err(Error::arg(format!(
            "rank {r} is out of range (the world has {size} ranks)"
        )));
    }
    Ok(())
}

fn io_err(what: &str) -> impl Fn(std::io::Error) -> Error + '_ {
    move |e| Error::connect(format!("{what}: {e}"))
}

impl World {
    /// Joins `job` as `rank` of `size`: opens the listener, registers with the
    /// rendezvous server (not needed for a world of one).
    pub fn join(rank: u32, size: u32, job: &str, cfg: Config) -> Result<Arc<World>> {
        check_identity(rank, size, job)?;
        let keys = JobKeys::new(&cfg.token, job);
        if size == 1 || mediated_route(&cfg).is_some() {
            return Self::build(rank, size, job, cfg, keys, Links::default());
        }
        let server = cfg.rendezvous.clone().ok_or_else(|| {
            Error::config(
                "no rendezvous server: set FMI_RENDEZVOUS=host:port (fmirun does) or backends.Direct in the config file",
            )
        })?;
        let l = bind_listener().map_err(io_err("cannot open the peer listener"))?;
        let port = l.local_addr().map_err(io_err("listener"))?.port();
        let reg_timeout = cfg.timeout.unwrap_or(Duration::from_secs(3600));
        let reg = client::register(&server, job, rank, size, &keys, port, reg_timeout)?;
        log::info!(
            "rank {rank}/{size} of job {job:?} registered with {server}; seen as {}",
            reg.reflexive
        );
        let links = Links {
            server_addr: reg.stream.peer_addr().ok(),
            control: Some(Control::new(reg)?),
            listener: Some(l),
            local_port: port,
            cands: Vec::new(),
        };
        Self::build(rank, size, job, cfg, keys, links)
    }

    /// Joins `job` without a rendezvous server: the launcher already told every
    /// rank where the others listen (`cands[r]`: rank r's addresses; ours may be
    /// empty). `listener` is ours, open and bound to the port we announced
    /// (see [`bind_listener`]).
    pub fn join_with_peers(
        rank: u32,
        size: u32,
        job: &str,
        cfg: Config,
        listener: std::net::TcpListener,
        cands: Vec<Vec<std::net::SocketAddr>>,
    ) -> Result<Arc<World>> {
        check_identity(rank, size, job)?;
        if cands.len() != size as usize {
            return Err(Error::arg(format!(
                "{} address lists for {size} ranks",
                cands.len()
            )));
        }
        let keys = JobKeys::new(&cfg.token, job);
        listener.set_nonblocking(true).map_err(io_err("listener"))?;
        let local_port = listener.local_addr().map_err(io_err("listener"))?.port();
        let links = Links {
            listener: Some(TcpListener::from_std(listener)),
            local_port,
            cands,
            ..Links::default()
        };
        Self::build(rank, size, job, cfg, keys, links)
    }

    fn build(
        rank: u32,
        size: u32,
        job: &str,
        cfg: Config,
        keys: JobKeys,
        mut links: Links,
    ) -> Result<Arc<World>> {
        let poll = Poll::new().map_err(io_err("epoll"))?;
        let stores = if size > 1 {
            open_stores(&cfg, job, rank)?
        } else {
            Vec::new()
        };
        let mailroom = match mediated_route(&cfg) {
            Some(kind) if size > 1 => {
                let store = stores
                    .iter()
                    .find(|s| s.kind() == kind)
                    .cloned()
                    .ok_or_else(|| {
                        Error::config(format!("the {} channel is not configured", kind.name()))
                    })?;
                let waker = mio::Waker::new(poll.registry(), WAKER).map_err(io_err("epoll"))?;
                log::info!(
                    "rank {rank}/{size} of job {job:?}: point to point through {}",
                    kind.name()
                );
                Some(mediated::Mailroom::start(store, rank, waker)?)
            }
            _ => None,
        };
        if let Some(l) = links.listener.as_mut() {
            poll.registry()
                .register(l, LISTENER, Interest::READABLE)
                .map_err(io_err("epoll"))?;
        }
        if let Some(c) = links.control.as_mut() {
            poll.registry()
                .register(
                    &mut c.stream,
                    CONTROL,
                    Interest::READABLE | Interest::WRITABLE,
                )
                .map_err(io_err("epoll"))?;
        }
        let mut peers: Vec<Peer> = (0..size).map(|_| Peer::default()).collect();
        for (p, c) in peers.iter_mut().zip(links.cands) {
            p.cands = c;
        }
        let core = Core {
            rank,
            size,
            job: job.to_string(),
            keys,
            eager_limit: cfg.eager_limit,
            timeout: cfg.timeout,
            matcher: Matcher::default(),
            reqs: Slab::new(),
            peers,
            phases: peers::PhaseMap::default(),
            next_token: 1,
            await_cts: HashMap::new(),
            await_data: HashMap::new(),
            sending: HashMap::new(),
            outbox: Vec::new(),
            deaths: 0,
            acks: Vec::new(),
        };
        let mut st = State {
            poll,
            events: Events::with_capacity(256),
            listener: links.listener,
            control: links.control,
            conns: Slab::new(),
            core,
            done: Vec::new(),
            ctl_msgs: Vec::new(),
            next_timers: Instant::now(),
            aborting: false,
            closing: false,
            local_port: links.local_port,
            server_addr: links.server_addr,
            punch_timeout: cfg.punch_timeout,
            relay_enabled: cfg.relay,
            mailroom: mailroom.clone(),
        };
        // Peer infos may have arrived together with the registration answer.
        st.handle_control_buffered();
        let world = Arc::new(World {
            rank,
            size,
            job: job.to_string(),
            cfg,
            state: Mutex::new(st),
            next_ctx: Mutex::new(FIRST_FREE_CTX),
            left: AtomicBool::new(false),
            stores,
            mailroom,
            failed: AtomicBool::new(false),
        });
        let mut all = WORLDS.lock();
        all.retain(|w| w.strong_count() > 0);
        all.push(Arc::downgrade(&world));
        Ok(world)
    }

    fn deadline(&self) -> Option<Instant> {
        self.cfg.timeout.map(|t| Instant::now() + t)
    }

    /// Spins while progress is made, sleeps in epoll when it stops; returns once
    /// `check` yields a value, or fails on timeout.
    fn wait_for<T>(
        &self,
        deadline: Option<Instant>,
        what: &dyn Fn() -> String,
        mut check: impl FnMut(&mut State) -> Option<T>,
    ) -> Result<T> {
        let _demand = self.mailroom.as_ref().map(|m| m.want());
        let mut last_progress = Instant::now();
        loop {
            let mut st = self.state.lock();
            if let Some(v) = check(&mut st) {
                let acks = std::mem::take(&mut st.core.acks);
                drop(st);
                self.send_acks(acks);
                return Ok(v);
            }
            let now = Instant::now();
            if deadline.is_some_and(|d| now >= d) {
                return Err(Error::timeout(format!(
                    "{} did not complete within {} ms (FMI_TIMEOUT_MS)",
                    what(),
                    self.cfg.timeout.map_or(0, |t| t.as_millis())
                )));
            }
            let sleep = now.duration_since(last_progress) >= self.cfg.spin;
            let timeout = if sleep {
                let left = deadline.map_or(SLEEP_SLICE, |d| d.saturating_duration_since(now));
                left.min(SLEEP_SLICE)
            } else {
                Duration::ZERO
            };
            if st.progress(Some(timeout)) {
                last_progress = Instant::now();
            }
            let v = check(&mut st);
            let acks = std::mem::take(&mut st.core.acks);
            drop(st);
            self.send_acks(acks);
            if let Some(v) = v {
                return Ok(v);
            }
            if !sleep {
                std::hint::spin_loop();
            }
        }
    }

    /// Drives progress once without blocking.
    pub fn poke(&self) {
        if let Some(m) = self.mailroom.as_ref() {
            m.nudge();
        }
        self.state.lock().progress(Some(Duration::ZERO));
        self.flush_acks();
    }

    /// Drives progress once, sleeping in epoll up to `timeout` while nothing is
    /// ready: for callers that poll several requests and have nothing else to do.
    pub fn idle(&self, timeout: Duration) {
        let _demand = self.mailroom.as_ref().map(|m| m.want());
        self.state.lock().progress(Some(timeout.min(SLEEP_SLICE)));
        self.flush_acks();
    }

    /// Pushes the acknowledgements of synchronous mediated sends that receives
    /// took; outside the engine lock, because a push waits for the store.
    fn flush_acks(&self) {
        if self.mailroom.is_some() {
            let acks = std::mem::take(&mut self.state.lock().core.acks);
            self.send_acks(acks);
        }
    }

    /// Pushes acknowledgements taken out of the engine (see `flush_acks`).
    fn send_acks(&self, acks: Vec<(u32, mediated::Frame)>) {
        let Some(m) = self.mailroom.as_ref() else {
            return;
        };
        for (dest, f) in acks {
            if let Err(e) = m.send(dest, &f) {
                self.failed.store(true, Ordering::Release);
                log::warn!(
                    "cannot acknowledge a synchronous send of rank {dest}: {}",
                    e.msg
                );
            }
        }
    }

    /// Point to point through the mediated channel: pushes the message to `dest`'s
    /// mailbox. `sync` is the send request to complete when `dest` acknowledges.
    fn push_mediated(
        &self,
        m: &mediated::Mailroom,
        ctx: u32,
        dest: u32,
        tag: i32,
        data: &[u8],
        sync: Option<ReqId>,
    ) -> Result<()> {
        let r = m.send_data(dest, ctx, self.rank, tag, sync.map(|id| id as u64), data);
        if r.is_err() {
            self.failed.store(true, Ordering::Release);
            if let Some(id) = sync {
                self.state.lock().core.reqs.try_remove(id);
            }
        }
        r
    }

    /// Whether point to point to `dest` goes through the mediated channel.
    fn mediated_to(&self, dest: u32) -> Option<&mediated::Mailroom> {
        self.mailroom.as_deref().filter(|_| dest != self.rank)
    }

    /// Blocking send of `data` (world ranks).
    pub fn send(
        &self,
        ctx: u32,
        dest: u32,
        tag: i32,
        data: &[u8],
        group: &Arc<Group>,
    ) -> Result<()> {
        if let Some(m) = self.mediated_to(dest) {
            check_rank(dest, self.size)?;
            return self.push_mediated(m, ctx, dest, tag, data, None);
        }
        {
            let mut st = self.state.lock();
            let st = &mut *st;
            st.check_peer(dest)?;
            st.core.check_collective(ctx, group)?;
            if dest == st.core.rank {
                st.core.deliver_self(ctx, tag, data, None);
                return Ok(());
            }
            if data.len() <= st.core.eager_limit {
                let hdr = Header::new(Kind::Eager, ctx, tag, data.len() as u64, 0);
                st.send_copy(dest, &hdr, data);
                if st.backlog(dest) < BACKLOG_HIGH {
                    return Ok(());
                }
            }
        }
        if data.len() <= self.cfg.eager_limit {
            // Too much queued for this peer: wait until it drains, so memory stays
            // bounded when a receiver falls behind.
            let deadline = self.deadline();
            return self.wait_for(deadline, &|| format!("send to rank {dest}"), |st| match st
                .check_peer(dest)
            {
                Err(e) => Some(Err(e)),
                Ok(()) => (st.backlog(dest) < BACKLOG_HIGH / 2).then_some(Ok(())),
            })?;
        }
        // SAFETY: the blocking wait below does not return before the request is
        // complete or cancelled, so `data` outlives every access.
        let buf = unsafe { RawBuf::new(data.as_ptr() as *mut u8, data.len()) };
        let id = self.isend(ctx, dest, tag, buf, group)?;
        self.wait(id).and_then(status_result).map(|_| ())
    }

    /// Starts a send. The buffer must stay valid until the request completes.
    /// `group` is the communicator's (see [`is_collective`]).
    pub fn isend(
        &self,
        ctx: u32,
        dest: u32,
        tag: i32,
        buf: RawBuf,
        group: &Arc<Group>,
    ) -> Result<ReqId> {
        self.start_send(ctx, dest, tag, buf, group, false)
    }

    /// Starts a synchronous send (MPI_Issend): whatever its size it goes by
    /// rendezvous, so it completes only once the receiver has matched it. A send to
    /// oneself completes at once, as an eager one.
    pub fn issend(
        &self,
        ctx: u32,
        dest: u32,
        tag: i32,
        buf: RawBuf,
        group: &Arc<Group>,
    ) -> Result<ReqId> {
        self.start_send(ctx, dest, tag, buf, group, true)
    }

    fn start_send(
        &self,
        ctx: u32,
        dest: u32,
        tag: i32,
        buf: RawBuf,
        group: &Arc<Group>,
        sync: bool,
    ) -> Result<ReqId> {
        if let Some(m) = self.mediated_to(dest) {
            let bytes = buf.len();
            let kind = || ReqKind::Send {
                dest,
                buf: None,
                coll: None,
            };
            check_rank(dest, self.size)?;
            if sync {
                let id = self.state.lock().core.new_req(kind(), None);
                self.push_mediated(m, ctx, dest, tag, buf.slice(0, bytes), Some(id))?;
                return Ok(id);
            }
            self.push_mediated(m, ctx, dest, tag, buf.slice(0, bytes), None)?;
            let done = Status {
                source: dest,
                tag,
                bytes,
                error: None,
            };
            return Ok(self.state.lock().core.new_req(kind(), Some(done)));
        }
        let mut st = self.state.lock();
        let st = &mut *st;
        st.check_peer(dest)?;
        st.core.check_collective(ctx, group)?;
        let bytes = buf.len();
        if dest == st.core.rank && sync {
            // Complete only when a receive takes it, as MPI_Ssend to oneself must.
            let id = st.core.new_req(
                ReqKind::Send {
                    dest,
                    buf: None,
                    coll: None,
                },
                None,
            );
            if st
                .core
                .deliver_self(ctx, tag, buf.slice(0, bytes), Some(id))
            {
                st.core.complete_self_send(id, tag, bytes);
            }
            return Ok(id);
        }
        if dest == st.core.rank || (bytes <= st.core.eager_limit && !sync) {
            // Done at once: the data is delivered or copied into the queue.
            if dest == st.core.rank {
                st.core.deliver_self(ctx, tag, buf.slice(0, bytes), None);
            } else {
                let hdr = Header::new(Kind::Eager, ctx, tag, bytes as u64, 0);
                st.send_copy(dest, &hdr, buf.slice(0, bytes));
            }
            let done = Status {
                source: dest,
                tag,
                bytes,
                error: None,
            };
            let kind = ReqKind::Send {
                dest,
                buf: None,
                coll: None,
            };
            return Ok(st.core.new_req(kind, Some(done)));
        }
        // Only a send that waits (for clear-to-send) needs the group.
        let id = st.core.new_req(
            ReqKind::Send {
                dest,
                buf: Some(buf),
                coll: is_collective(ctx).then(|| group.clone()),
            },
            None,
        );
        let token = st.core.next_token;
        st.core.next_token += 1;
        st.core.reqs[id].token = Some(token);
        st.core.await_cts.insert(token, id);
        let hdr = Header::new(Kind::Rts, ctx, tag, bytes as u64, token);
        st.send_copy(dest, &hdr, &[]);
        Ok(id)
    }

    /// Starts a receive. `src` is a world rank or [`ANY`]; `group` is the
    /// communicator's, so that a wildcard receive fails when a member is lost.
    pub fn irecv(
        &self,
        ctx: u32,
        src: i32,
        tag: i32,
        buf: RawBuf,
        group: &Arc<Group>,
    ) -> Result<ReqId> {
        let mut st_guard = self.state.lock();
        let st = &mut *st_guard;
        if src != ANY {
            st.check_rank(src as u32)?;
        }
        let id = st.core.new_req(
            ReqKind::Recv {
                buf,
                group: group.clone(),
            },
            None,
        );
        if let Some(u) = st.core.matcher.take_unexpected(ctx, src, tag) {
            st.receive_unexpected(id, u);
            drop(st_guard);
            self.flush_acks();
            return Ok(id);
        }
        // A collective needs every member, so any loss fails its receives.
        let need = if is_collective(ctx) { ANY } else { src };
        if let Some(e) = st.core.lost_error_for(need, group) {
            st.core.finish(
                id,
                Status {
                    source: src.max(0) as u32,
                    tag,
                    bytes: 0,
                    error: Some(e),
                },
            );
            return Ok(id);
        }
        st.core.matcher.post(Posted {
            ctx,
            src,
            tag,
            req: id,
        });
        Ok(id)
    }

    /// Blocking receive into `buf`.
    pub fn recv(
        &self,
        ctx: u32,
        src: i32,
        tag: i32,
        buf: &mut [u8],
        group: &Arc<Group>,
    ) -> Result<Status> {
        // SAFETY: `wait` does not return before the request is complete or cancelled.
        let raw = unsafe { RawBuf::new(buf.as_mut_ptr(), buf.len()) };
        let id = self.irecv(ctx, src, tag, raw, group)?;
        self.wait(id)
    }

    /// Waits for a request and frees it. On timeout the request is cancelled (its
    /// buffer is no longer touched) and freed too.
    pub fn wait(&self, id: ReqId) -> Result<Status> {
        let deadline = self.deadline();
        let r = self.wait_for(deadline, &|| "operation".to_string(), |st| {
            match st.core.reqs.get(id) {
                None => Some(Err(Error::arg("request is not active"))),
                Some(r) if r.done.is_some() => Some(Ok(st.core.reqs.remove(id).done)),
                Some(_) => None,
            }
        });
        match r {
            Ok(Ok(Some(s))) => Ok(s),
            Ok(Ok(None)) => Err(Error::internal("completed request without status")),
            Ok(Err(e)) => Err(e),
            Err(e) => {
                self.cancel(id);
                if self.mailroom.is_some() {
                    self.mark_failed();
                }
                Err(e)
            }
        }
    }

    /// Non-blocking completion check; frees the request when complete.
    pub fn test(&self, id: ReqId) -> Result<Option<Status>> {
        if let Some(m) = self.mailroom.as_ref() {
            m.nudge();
        }
        let mut st = self.state.lock();
        st.progress(Some(Duration::ZERO));
        let r = match st.core.reqs.get(id) {
            None => Err(Error::arg("request is not active")),
            Some(r) if r.done.is_some() => Ok(st.core.reqs.remove(id).done),
            Some(_) => Ok(None),
        };
        drop(st);
        self.flush_acks();
        r
    }

    /// Cancels and frees a request: its buffer is not touched afterwards. A
    /// rendezvous transfer already under way cannot be stopped cleanly; its
    /// connection is dropped.
    pub fn cancel(&self, id: ReqId) {
        let mut st = self.state.lock();
        st.cancel(id);
    }

    /// Cancels a receive that has not matched a message yet (MPI_Cancel): true when
    /// it was still waiting, and is now gone; false when a message already matched
    /// it, and the request completes as usual.
    pub fn cancel_unmatched(&self, id: ReqId) -> bool {
        let mut st = self.state.lock();
        st.progress(Some(Duration::ZERO));
        let waiting = st.core.reqs.get(id).is_some_and(|r| {
            r.done.is_none() && r.token.is_none() && matches!(r.kind, ReqKind::Recv { .. })
        });
        if waiting && st.core.matcher.remove_posted(id) {
            st.core.reqs.remove(id);
            return true;
        }
        false
    }

    /// A matched probe (MPI_Mprobe/Improbe): like [`probe`](Self::probe), but the
    /// message found leaves matching, so that only [`imrecv`](Self::imrecv) with
    /// the returned [`Message`] can receive it.
    pub fn mprobe(
        &self,
        ctx: u32,
        src: i32,
        tag: i32,
        group: &Arc<Group>,
        block: bool,
    ) -> Result<Option<(Status, Message)>> {
        let found = self.find(ctx, src, tag, group, block, true)?;
        Ok(found.and_then(|(s, m)| m.map(|m| (s, Message(m)))))
    }

    /// Starts the receive of a message taken by [`mprobe`](Self::mprobe).
    pub fn imrecv(&self, m: Message, buf: RawBuf, group: &Arc<Group>) -> ReqId {
        let mut st = self.state.lock();
        let id = st.core.new_req(
            ReqKind::Recv {
                buf,
                group: group.clone(),
            },
            None,
        );
        st.receive_unexpected(id, m.0);
        drop(st);
        self.flush_acks();
        id
    }

    /// Looks for a matching message; blocks until there is one when `block`.
    pub fn probe(
        &self,
        ctx: u32,
        src: i32,
        tag: i32,
        group: &Arc<Group>,
        block: bool,
    ) -> Result<Option<Status>> {
        Ok(self
            .find(ctx, src, tag, group, block, false)?
            .map(|(s, _)| s))
    }

    /// The first unexpected message matching (ctx, src, tag): its status, and the
    /// message itself when `take` (it then leaves matching).
    fn find(
        &self,
        ctx: u32,
        src: i32,
        tag: i32,
        group: &Arc<Group>,
        block: bool,
        take: bool,
    ) -> Result<Option<(Status, Option<matching::Unexpected>)>> {
        if src != ANY {
            self.state.lock().check_rank(src as u32)?;
        }
        let look = |st: &mut State| -> Option<Result<(Status, Option<matching::Unexpected>)>> {
            let status = |u: &matching::Unexpected| Status {
                source: u.src,
                tag: u.tag,
                bytes: u.body.msg_len() as usize,
                error: None,
            };
            if take {
                if let Some(u) = st.core.matcher.take_unexpected(ctx, src, tag) {
                    return Some(Ok((status(&u), Some(u))));
                }
            } else if let Some(u) = st.core.matcher.peek_unexpected(ctx, src, tag) {
                return Some(Ok((status(u), None)));
            }
            st.core.lost_error_for(src, group).map(Err)
        };
        if let Some(m) = self.mailroom.as_ref() {
            m.nudge();
        }
        let mut st = self.state.lock();
        st.progress(Some(Duration::ZERO));
        if let Some(r) = look(&mut st) {
            return r.map(Some);
        }
        drop(st);
        if !block {
            return Ok(None);
        }
        self.wait_for(self.deadline(), &|| "probe".to_string(), look)?
            .map(Some)
    }

    /// Allocates the next context id (collectively agreed by `comm`'s callers).
    pub fn ctx_counter(&self) -> parking_lot::MutexGuard<'_, u32> {
        self.next_ctx.lock()
    }

    /// Orderly leave: sends what is queued, tells peers and the server, and waits
    /// (bounded) until the peers' kernels have acknowledged every byte, so nothing we
    /// sent is lost. It does not wait for peers to leave too: a function that is done
    /// can end (and stop being billed) while others go on.
    pub fn shutdown(&self) {
        if self.left.swap(true, Ordering::AcqRel) {
            return;
        }
        let deadline = Instant::now()
            + self
                .cfg
                .timeout
                .unwrap_or(Duration::from_secs(60))
                .min(Duration::from_secs(30));
        let _ = self.wait_for(Some(deadline), &|| "flushing at free".into(), |st| {
            st.all_flushed().then_some(())
        });
        {
            let mut st = self.state.lock();
            st.say_goodbye();
        }
        let r = self.wait_for(
            Some(deadline),
            &|| "delivering the last data at free".into(),
            |st| st.undelivered().is_none().then_some(()),
        );
        let mut st = self.state.lock();
        if let Err(e) = r {
            let what = st.undelivered().unwrap_or_default();
            log::debug!("free: {} ({what})", e.msg);
        }
        st.close_all();
        drop(st);
        if let Some(m) = self.mailroom.as_ref() {
            m.stop();
        }
        self.leave_stores();
        crate::bootstrap::launcher_done();
    }

    /// The mediated channels' part of leaving. Keys are deleted by their writers
    /// once every reader is known to be done; what is left then goes when the last
    /// rank leaves. After a failure nobody can know that, so every rank clears the
    /// job's keys as it leaves (the job is broken anyway).
    fn leave_stores(&self) {
        let failed = self.failed.load(Ordering::Acquire);
        for s in &self.stores {
            let r = if failed {
                s.clear_job()
                    .map(|n| log::info!("{}: cleared {n} keys of the failed job", s.kind().name()))
            } else {
                s.leave(self.size).and_then(|last| {
                    if last {
                        s.clear_job().map(|_| ())
                    } else {
                        Ok(())
                    }
                })
            };
            if let Err(e) = r {
                log::warn!("{}: cleanup at leave failed: {}", s.kind().name(), e.msg);
            }
        }
    }

    /// The mediated channels this world may use, and whether it may connect
    /// directly: what the policy chooses between.
    pub fn channels(&self) -> (Vec<Arc<dyn Store>>, bool) {
        let direct = self.size == 1 || self.mailroom.is_none();
        (self.stores.clone(), direct)
    }

    /// Records that an operation over a mediated channel failed (see `leave_stores`).
    pub fn mark_failed(&self) {
        self.failed.store(true, Ordering::Release);
    }

    /// Tells every rank of the job to end, then ends this process.
    pub fn abort(&self, code: i32) -> ! {
        {
            let mut st = self.state.lock();
            st.aborting = true;
            if let Some(c) = st.control.as_mut() {
                let _ = c.send(&Msg::Abort { code });
                let until = Instant::now() + Duration::from_secs(2);
                while !c.flushed() && Instant::now() < until {
                    c.writable = true;
                    let _ = c.flush();
                    std::thread::sleep(Duration::from_millis(1));
                }
            }
        }
        log::error!("rank {} called FMI_Abort({code})", self.rank);
        crate::bootstrap::launcher_abort(code, &format!("rank {} aborted", self.rank));
        exit_aborting(code)
    }
}

impl State {
    /// Receive `id` (into its buffer) takes a message that arrived before it.
    fn receive_unexpected(&mut self, id: ReqId, u: matching::Unexpected) {
        match u.body {
            Body::Eager(v) => self.core.fill_recv(id, u.src, u.tag, &v),
            Body::Rts { token, len } => self.accept_rts(id, u.src, u.tag, token, len),
            Body::SelfSync { data, send } => {
                self.core.fill_recv(id, u.src, u.tag, &data);
                self.core.complete_self_send(send, u.tag, data.len());
            }
            Body::RemoteSync { data, send } => {
                self.core.fill_recv(id, u.src, u.tag, &data);
                self.core.ack(u.src, send, u.tag, data.len());
            }
        }
    }

    /// Delivers what the mailbox thread of a mediated channel has popped, as the
    /// frames of a connection are delivered.
    pub(super) fn deliver_mediated(&mut self) -> bool {
        let Some(m) = self.mailroom.as_ref() else {
            return false;
        };
        let frames = m.take_arrived();
        let any = !frames.is_empty();
        for f in frames {
            match f {
                mediated::Frame::Data {
                    ctx,
                    src,
                    tag,
                    sync,
                    payload,
                } => {
                    if src >= self.core.size || src == self.core.rank {
                        log::warn!("mailbox: dropped a frame claiming to come from rank {src}");
                        continue;
                    }
                    match sync {
                        None => self.core.arrived_eager(ctx, src, tag, payload),
                        Some(send) => self.core.arrived_sync(ctx, src, tag, payload, send),
                    }
                }
                mediated::Frame::Ack {
                    src,
                    id,
                    tag,
                    bytes,
                } => {
                    let ok = usize::try_from(id).ok().and_then(|id| {
                        let r = self.core.reqs.get(id)?;
                        matches!(r.kind, ReqKind::Send { dest, .. } if dest == src && r.done.is_none())
                            .then_some(id)
                    });
                    match ok {
                        Some(id) => self.core.finish(
                            id,
                            Status {
                                source: src,
                                tag,
                                bytes: bytes as usize,
                                error: None,
                            },
                        ),
                        None => log::warn!(
                            "mailbox: dropped an acknowledgement from rank {src} for no pending synchronous send"
                        ),
                    }
                }
            }
        }
        any
    }
}

/// Turns a status with an error into that error.
pub fn status_result(s: Status) -> Result<Status> {
    match &s.error {
        Some(e) => Err(e.clone()),
        None => Ok(s),
    }
}

/// The mediated channel point to point must use, if any: the one `FMI_CHANNEL`
/// forces, or, when the world has no way to connect directly (no rendezvous
/// server, or direct connections disabled), the first configured store.
fn mediated_route(cfg: &Config) -> Option<ChannelKind> {
    match cfg.channel {
        Some(ChannelKind::Direct) => None,
        Some(k) => Some(k),
        None if cfg.rendezvous.is_none() || !cfg.direct => configured_stores(cfg).first().copied(),
        None => None,
    }
}

/// The mediated channels the configuration describes.
fn configured_stores(cfg: &Config) -> Vec<ChannelKind> {
    let mut v = Vec::new();
    if cfg.redis.is_some() {
        v.push(ChannelKind::Redis);
    }
    if cfg.s3.is_some() {
        v.push(ChannelKind::S3);
    }
    v
}

/// Opens the stores this world may use: only the forced one under `FMI_CHANNEL`,
/// else every configured one. A store that point to point needs must open; one
/// that only the policy might pick is skipped with a warning.
fn open_stores(cfg: &Config, job: &str, rank: u32) -> Result<Vec<Arc<dyn Store>>> {
    let needed = mediated_route(cfg);
    let kinds = match cfg.channel {
        Some(ChannelKind::Direct) => Vec::new(),
        Some(k) => vec![k],
        None => configured_stores(cfg),
    };
    let mut stores = Vec::new();
    for k in kinds {
        match crate::channel::open_store(k, cfg, job, rank) {
            Ok(s) => stores.push(s),
            Err(e) if Some(k) == needed => return Err(e),
            Err(e) => log::warn!("{} channel not used: {}", k.name(), e.msg),
        }
    }
    Ok(stores)
}

fn bind_listener() -> std::io::Result<TcpListener> {
    open_listener().map(TcpListener::from_std)
}

/// The peer listener: every IPv4 address, a port of the kernel's choice, reusable
/// so that dials can leave from the same port.
pub fn open_listener() -> std::io::Result<std::net::TcpListener> {
    use socket2::{Domain, Socket, Type};
    let s = Socket::new(Domain::IPV4, Type::STREAM, None)?;
    s.set_reuse_address(true)?;
    s.set_reuse_port(true)?;
    s.set_nonblocking(true)?;
    s.bind(&std::net::SocketAddr::from(([0, 0, 0, 0], 0)).into())?;
    s.listen(1024)?;
    Ok(s.into())
}

impl Core {
    fn new_req(&mut self, kind: ReqKind, done: Option<Status>) -> ReqId {
        self.reqs.insert(Req {
            kind,
            done,
            token: None,
        })
    }

    fn finish(&mut self, id: ReqId, s: Status) {
        if let Some(r) = self.reqs.get_mut(id) {
            if r.done.is_none() {
                r.done = Some(s);
            }
        }
    }

    /// Completes receive `id` with a whole message: as much of `data` as fits goes
    /// into its buffer.
    fn fill_recv(&mut self, id: ReqId, src: u32, tag: i32, data: &[u8]) {
        if let Some(Req {
            kind: ReqKind::Recv { buf, .. },
            ..
        }) = self.reqs.get(id)
        {
            let n = data.len().min(buf.len());
            buf.write_at(0, &data[..n]);
        }
        self.complete_recv(id, src, tag, data.len() as u64);
    }

    /// Completes a receive of a `len`-byte message (truncated if the buffer is smaller).
    fn complete_recv(&mut self, id: ReqId, src: u32, tag: i32, len: u64) {
        let cap = match self.reqs.get(id) {
            Some(Req {
                kind: ReqKind::Recv { buf, .. },
                ..
            }) => buf.len() as u64,
            _ => return,
        };
        let error = (len > cap).then(|| {
            Error::new(
                ErrorKind::Truncate,
                format!("message of {len} bytes from rank {src} (tag {tag}) truncated to the receive buffer of {cap} bytes"),
            )
        });
        self.finish(
            id,
            Status {
                source: src,
                tag,
                bytes: len.min(cap) as usize,
                error,
            },
        );
    }

    /// A message to ourselves: straight into a posted receive, or queued.
    /// A send request to oneself is complete.
    fn complete_self_send(&mut self, id: ReqId, tag: i32, bytes: usize) {
        let source = self.rank;
        self.finish(
            id,
            Status {
                source,
                tag,
                bytes,
                error: None,
            },
        );
    }

    /// A synchronous message through a mediated channel: into a posted receive
    /// (acknowledged at once) or the unexpected queue (acknowledged when taken).
    fn arrived_sync(&mut self, ctx: u32, src: u32, tag: i32, data: Vec<u8>, send: u64) {
        if let Some(p) = self.matcher.take_posted(ctx, src, tag) {
            self.fill_recv(p.req, src, tag, &data);
            self.ack(src, send, tag, data.len());
        } else {
            self.matcher.add_unexpected(matching::Unexpected {
                ctx,
                src,
                tag,
                body: Body::RemoteSync { data, send },
            });
        }
    }

    /// Queues the acknowledgement of `src`'s synchronous send `send`.
    fn ack(&mut self, src: u32, send: u64, tag: i32, bytes: usize) {
        let frame = mediated::Frame::Ack {
            src: self.rank,
            id: send,
            tag,
            bytes: bytes as u64,
        };
        self.acks.push((src, frame));
    }

    /// A message to oneself: into a posted receive (true) or the unexpected queue,
    /// where `sync` is the synchronous send to complete when a receive takes it.
    fn deliver_self(&mut self, ctx: u32, tag: i32, data: &[u8], sync: Option<ReqId>) -> bool {
        let me = self.rank;
        if let Some(p) = self.matcher.take_posted(ctx, me, tag) {
            self.fill_recv(p.req, me, tag, data);
            true
        } else {
            let body = match sync {
                Some(send) => Body::SelfSync {
                    data: data.to_vec(),
                    send,
                },
                None => Body::Eager(data.to_vec()),
            };
            self.matcher.add_unexpected(matching::Unexpected {
                ctx,
                src: me,
                tag,
                body,
            });
            false
        }
    }

    /// The error a receive from `src` (or any member of `group`) gets because a
    /// needed rank is lost, if so.
    /// Fails at once a collective operation on a communicator with a lost member.
    fn check_collective(&self, ctx: u32, group: &Group) -> Result<()> {
        if is_collective(ctx) {
            if let Some(e) = self.lost_error_for(ANY, group) {
                return Err(e);
            }
        }
        Ok(())
    }

    /// The error a receive from `src` (or, for [`ANY`], from anyone of `group`)
    /// gets because of a lost peer: the named rank if it is lost at all; for a
    /// wildcard only members that died (see [`peers::Peer::died`]).
    fn lost_error_for(&self, src: i32, group: &Group) -> Option<Error> {
        if src != ANY {
            return self.peers[src as usize].lost_error(src as u32);
        }
        if self.deaths == 0 {
            return None; // the common case, without a walk over the group
        }
        group.members().iter().find_map(|&m| {
            let p = &self.peers[m as usize];
            if p.died() {
                p.lost_error(m)
            } else {
                None
            }
        })
    }
}

/// Context ids come in pairs per communicator: even for the user's point-to-point
/// traffic, odd for its collectives. A collective needs every member, so its
/// operations fail as soon as any member is lost, not only the one they talk to:
/// otherwise survivors waiting on each other would only learn of it by timeout.
pub fn is_collective(ctx: u32) -> bool {
    ctx & 1 == 1
}

/// The context ids of communicator `id`: (point to point, collectives).
pub fn contexts(id: u32) -> (u32, u32) {
    (id * 2, id * 2 + 1)
}

impl World {
    /// Sends `data` to `dest` and receives into `buf` from `src` at the same time,
    /// so that pairs exchanging in both directions cannot deadlock.
    #[allow(clippy::too_many_arguments)]
    pub fn sendrecv(
        &self,
        ctx: u32,
        dest: u32,
        stag: i32,
        data: &[u8],
        src: i32,
        rtag: i32,
        buf: &mut [u8],
        group: &Arc<Group>,
    ) -> Result<Status> {
        // SAFETY: both requests are waited for (or cancelled by `wait` on timeout, or
        // cancelled below on error) before this function returns.
        let sbuf = unsafe { RawBuf::new(data.as_ptr() as *mut u8, data.len()) };
        // SAFETY: as above.
        let rbuf = unsafe { RawBuf::new(buf.as_mut_ptr(), buf.len()) };
        let r = self.irecv(ctx, src, rtag, rbuf, group)?;
        let s = match self.isend(ctx, dest, stag, sbuf, group) {
            Ok(s) => s,
            Err(e) => {
                self.cancel(r);
                return Err(e);
            }
        };
        let rs = self.wait(r);
        if rs.is_err() {
            self.cancel(s);
            return rs;
        }
        self.wait(s).and_then(status_result)?;
        rs
    }
}
