//! Peer connections: the progress loop over sockets, the state of each peer, and
//! what happens when a peer is lost. How a connection is made is in `connect`.

use super::connect::Dial;
use super::sink::Action;
use super::{Core, Req, ReqKind, State, Status, CONTROL, LISTENER, WAKER};
use crate::auth::Tag;
use crate::channel::direct::{Conn, ConnError};
use crate::channel::RawBuf;
use crate::error::{Error, ErrorKind, Result};
use crate::punch::proto::Msg;
use crate::wire::{Header, Kind};
use mio::{Interest, Token};
use std::collections::VecDeque;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

/// How long an accepted connection may take to authenticate.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a relay connection may wait for the server to splice it.
const RELAY_WAIT: Duration = Duration::from_secs(40);
/// After the server reports a connected peer dead, how long its connection may still
/// deliver what it sent before we stop waiting for its close.
const DYING_GRACE: Duration = Duration::from_secs(2);
/// Timers run at most this often.
const TIMER_PERIOD: Duration = Duration::from_millis(50);

/// Connection state of one peer rank.
#[derive(Debug, Default)]
pub(super) enum PeerState {
    /// Not needed yet.
    #[default]
    Idle,
    /// Asked the server; waiting for candidates or for the peer to connect.
    Wanted,
    /// Trying the peer's candidates.
    Connecting,
    /// Connected, on this connection.
    Ready(usize),
    /// Gone for good.
    Lost(Error),
}

/// A frame for a peer that is not connected yet.
pub(super) enum Pending {
    Copy(Header, Vec<u8>),
    User(Header, RawBuf, u64),
}

#[derive(Debug, Default)]
pub(super) struct Peer {
    pub state: PeerState,
    pub pending: VecDeque<Pending>,
    pub pending_bytes: usize,
    pub cands: Vec<SocketAddr>,
    /// Connections in progress to this peer (dialled, relayed, or accepted and
    /// identified), any of which may win.
    pub attempts: Vec<usize>,
    /// One per candidate address while connecting.
    pub dials: Vec<Dial>,
    /// When direct dialling gives way to the relay.
    pub punch_deadline: Option<Instant>,
    /// The relay connection in progress.
    pub relay: Option<usize>,
    pub relay_retry_at: Option<Instant>,
    pub connect_deadline: Option<Instant>,
    pub dying_since: Option<Instant>,
    pub said_goodbye: bool,
    pub last_error: String,
}

impl std::fmt::Debug for Pending {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Pending::Copy(h, _) | Pending::User(h, _, _) => write!(f, "Pending({:?})", h.kind),
        }
    }
}

impl Peer {
    /// The error operations needing this peer get, if it is lost.
    pub fn lost_error(&self, _rank: u32) -> Option<Error> {
        match &self.state {
            PeerState::Lost(e) => Some(e.clone()),
            _ => None,
        }
    }

    /// Lost without leaving in order (it died, or its connection broke). A rank that
    /// left had finished everything it was part of, so only operations that name it
    /// fail; a rank that died also fails wildcard receives and collectives.
    pub fn died(&self) -> bool {
        matches!(self.state, PeerState::Lost(_)) && !self.said_goodbye
    }
}

/// Handshake state of one connection.
#[derive(Debug)]
pub(super) enum Phase {
    /// Outgoing TCP connect in progress.
    Connecting { peer: u32, nonce: Tag },
    /// Hello sent; waiting for the acceptor's proof.
    AwaitAck { peer: u32, nonce: Tag },
    /// Waiting for the lower rank's Hello: on an accepted connection (`dialed` is
    /// `None`; a Knock may come instead), or on one this higher rank dialled.
    AwaitHello { since: Instant, dialed: Option<u32> },
    /// HelloAck sent; waiting for the connector's proof.
    AwaitProof {
        peer: u32,
        nonce_c: Tag,
        nonce_a: Tag,
        since: Instant,
    },
    /// Authenticated connection to a peer.
    Ready(u32),
    /// Connection to the rendezvous server asking it to relay to `peer`; `buf`
    /// collects the server's current frame.
    Relay {
        peer: u32,
        step: RelayStep,
        buf: Vec<u8>,
        since: Instant,
    },
}

/// Where a relay connection is before the server splices it.
#[derive(Debug)]
pub(super) enum RelayStep {
    Connecting,
    AwaitChallenge,
    AwaitReady,
}

impl Phase {
    /// The peer a connection in progress is meant for, if known.
    pub fn peer(&self) -> Option<u32> {
        match self {
            Phase::Connecting { peer, .. }
            | Phase::AwaitAck { peer, .. }
            | Phase::AwaitProof { peer, .. }
            | Phase::Relay { peer, .. }
            | Phase::Ready(peer) => Some(*peer),
            Phase::AwaitHello { dialed, .. } => *dialed,
        }
    }
}

impl State {
    pub(super) fn check_rank(&self, r: u32) -> Result<()> {
        super::check_rank(r, self.core.size)
    }

    pub(super) fn check_peer(&self, r: u32) -> Result<()> {
        self.check_rank(r)?;
        match self.core.peers[r as usize].lost_error(r) {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    /// Bytes queued for `dest` and not yet written.
    pub(super) fn backlog(&self, dest: u32) -> usize {
        let p = &self.core.peers[dest as usize];
        match p.state {
            PeerState::Ready(c) => self.conns.get(c).map_or(0, |c| c.queued()),
            _ => p.pending_bytes,
        }
    }

    /// Sends a frame whose payload is copied if it cannot be written at once.
    pub(super) fn send_copy(&mut self, dest: u32, hdr: &Header, payload: &[u8]) {
        let peer = &mut self.core.peers[dest as usize];
        match peer.state {
            PeerState::Ready(c) => {
                if let Some(conn) = self.conns.get_mut(c) {
                    match conn.send_copy(hdr, payload) {
                        Err(e) => self.conn_failed(c, e),
                        Ok(()) if conn.queued() > 0 => self.flush_conn(c),
                        Ok(()) => {}
                    }
                }
            }
            PeerState::Lost(_) => {}
            _ => {
                peer.pending_bytes += payload.len();
                peer.pending
                    .push_back(Pending::Copy(*hdr, payload.to_vec()));
                self.want(dest);
            }
        }
    }

    /// Sends a frame straight from a caller's buffer; `token` completes the send.
    fn send_user(&mut self, dest: u32, hdr: &Header, buf: RawBuf, token: u64) {
        let peer = &mut self.core.peers[dest as usize];
        match peer.state {
            PeerState::Ready(c) => {
                if let Some(conn) = self.conns.get_mut(c) {
                    conn.send_user(hdr, buf, token);
                }
                self.flush_conn(c);
            }
            PeerState::Lost(_) => {}
            _ => {
                peer.pending_bytes += buf.len();
                peer.pending.push_back(Pending::User(*hdr, buf, token));
                self.want(dest);
            }
        }
    }

    /// Answers a matched rendezvous announcement with a clear-to-send.
    pub(super) fn accept_rts(&mut self, id: usize, src: u32, tag: i32, token: u64, len: u64) {
        let cts = self.core.accept_rts(id, src, tag, token, len);
        self.send_copy(src, &cts, &[]);
    }

    fn flush_conn(&mut self, c: usize) {
        let Some(conn) = self.conns.get_mut(c) else {
            return;
        };
        if let Err(e) = conn.flush(&mut self.done) {
            self.conn_failed(c, e);
        }
        let done = std::mem::take(&mut self.done);
        for t in &done {
            if let Some(id) = self.core.sending.remove(t) {
                let dest = match self.core.reqs.get(id) {
                    Some(Req {
                        kind: ReqKind::Send { dest, .. },
                        ..
                    }) => *dest,
                    _ => continue,
                };
                let bytes = match &self.core.reqs[id].kind {
                    ReqKind::Send { buf: Some(b), .. } => b.len(),
                    _ => 0,
                };
                self.core.finish(
                    id,
                    Status {
                        source: dest,
                        tag: 0,
                        bytes,
                        error: None,
                    },
                );
            }
        }
        self.done = done;
        self.done.clear();
    }

    /// Sends what waited for `peer` to connect, on its new connection `c`.
    pub(super) fn send_pending(&mut self, c: usize, peer: u32, pending: VecDeque<Pending>) {
        for item in pending {
            match item {
                Pending::Copy(h, v) => self.send_copy(peer, &h, &v),
                Pending::User(h, b, t) => {
                    if let Some(conn) = self.conns.get_mut(c) {
                        conn.send_user(&h, b, t);
                    }
                }
            }
        }
        self.flush_conn(c);
    }

    pub(super) fn close_conn(&mut self, c: usize) {
        if let Some(mut conn) = self.conns.try_remove(c) {
            let _ = self.poll.registry().deregister(&mut conn.stream);
            let _ = conn.stream.shutdown(std::net::Shutdown::Both);
        }
        self.core.phases.remove(&c);
    }

    /// A connection failed: closes it and says what it means for its peer.
    pub(super) fn conn_failed(&mut self, c: usize, err: ConnError) {
        let phase = self.core.phases.remove(&c);
        let peer_addr = self
            .conns
            .get(c)
            .and_then(|x| x.stream.peer_addr().ok())
            .map_or_else(|| "?".to_string(), |a| a.to_string());
        self.close_conn(c);
        let refused =
            matches!(&err, ConnError::Protocol(m) if m.starts_with("authentication failed"));
        match phase {
            Some(Phase::Ready(peer)) => {
                let p = &self.core.peers[peer as usize];
                let e = if refused {
                    Error::new(
                        ErrorKind::Auth,
                        format!("rank {peer} refused this rank: {err}"),
                    )
                } else if p.said_goodbye {
                    Error::peer_lost(format!(
                        "rank {peer} has left the job (freed its communicator)"
                    ))
                } else {
                    Error::peer_lost(format!("rank {peer} is lost: {err}"))
                };
                if !p.said_goodbye {
                    if let ConnError::Protocol(_) = err {
                        log::warn!("dropping connection to rank {peer} ({peer_addr}): {err}");
                    }
                }
                self.mark_lost(peer, e);
            }
            Some(ph) => match ph.peer() {
                Some(peer) if self.core.peers[peer as usize].attempts.contains(&c) => {
                    log::debug!("attempt to reach rank {peer} via {peer_addr} failed: {err}");
                    self.attempt_failed(c, peer, &err);
                }
                _ => match err {
                    ConnError::Closed => {
                        log::debug!("incoming connection from {peer_addr} closed during handshake")
                    }
                    e => log::warn!("dropped incoming connection from {peer_addr}: {e}"),
                },
            },
            None => {}
        }
    }

    /// `peer` is gone: every operation that needs it fails from now on.
    pub(super) fn mark_lost(&mut self, peer: u32, err: Error) {
        let p = &mut self.core.peers[peer as usize];
        if matches!(p.state, PeerState::Lost(_)) {
            return;
        }
        let conn = match p.state {
            PeerState::Ready(c) => Some(c),
            _ => None,
        };
        let attempts = std::mem::take(&mut p.attempts);
        let pending = std::mem::take(&mut p.pending);
        p.pending_bytes = 0;
        if p.said_goodbye || self.closing {
            log::debug!("{}", err.msg);
        } else {
            log::warn!("{}", err.msg);
        }
        p.state = PeerState::Lost(err.clone());
        if !p.said_goodbye {
            self.core.deaths += 1;
        }
        let mut failed: Vec<usize> = Vec::new();
        if let Some(c) = conn {
            if let Some(x) = self.conns.get(c) {
                failed.extend(
                    x.pending_notifies()
                        .filter_map(|t| self.core.sending.get(&t).copied()),
                );
            }
            self.close_conn(c);
        }
        for a in attempts {
            self.close_conn(a);
        }
        for item in pending {
            if let Pending::User(_, _, t) = item {
                failed.extend(self.core.sending.get(&t).copied());
            }
        }
        let died = !self.core.peers[peer as usize].said_goodbye;
        let core = &mut self.core;
        let reqs = &core.reqs;
        let posted = core.matcher.drain_posted(|p| {
            let in_group = || matches!(reqs.get(p.req), Some(Req { kind: ReqKind::Recv { group, .. }, .. }) if group.contains(peer));
            p.src == peer as i32
                || (died
                    && (p.src == super::matching::ANY || super::is_collective(p.ctx))
                    && in_group())
        });
        failed.extend(posted.iter().map(|p| p.req));
        core.matcher.drop_rts_from(peer);
        let dest_is = |core: &Core, id: usize| match core.reqs.get(id) {
            Some(Req {
                kind: ReqKind::Send { dest, coll, .. },
                ..
            }) => *dest == peer || (died && coll.as_ref().is_some_and(|g| g.contains(peer))),
            _ => false,
        };
        let cts: Vec<u64> = core
            .await_cts
            .iter()
            .filter(|(_, &id)| dest_is(core, id))
            .map(|(&t, _)| t)
            .collect();
        for t in cts {
            failed.extend(core.await_cts.remove(&t));
        }
        let sending: Vec<u64> = core
            .sending
            .iter()
            .filter(|(_, &id)| dest_is(core, id))
            .map(|(&t, _)| t)
            .collect();
        for t in sending {
            failed.extend(core.sending.remove(&t));
        }
        let data: Vec<(u32, u64)> = core
            .await_data
            .keys()
            .filter(|k| k.0 == peer)
            .copied()
            .collect();
        for k in data {
            if let Some(t) = core.await_data.remove(&k) {
                failed.extend(t.req);
            }
        }
        for id in failed {
            core.finish(
                id,
                Status {
                    source: peer,
                    tag: 0,
                    bytes: 0,
                    error: Some(err.clone()),
                },
            );
        }
    }

    /// One round of progress: waits up to `timeout` for events and handles them.
    /// Returns whether anything happened.
    pub(super) fn progress(&mut self, timeout: Option<Duration>) -> bool {
        if let Err(e) = self.poll.poll(&mut self.events, timeout) {
            if e.kind() != std::io::ErrorKind::Interrupted {
                log::error!("epoll failed: {e}");
            }
            return false;
        }
        let events = std::mem::replace(&mut self.events, mio::Events::with_capacity(0));
        let any = !events.is_empty();
        for ev in events.iter() {
            match ev.token() {
                LISTENER => self.accept_all(),
                WAKER => {} // frames are delivered below, on every pass
                CONTROL => self.control_event(
                    ev.is_readable() || ev.is_read_closed() || ev.is_error(),
                    ev.is_writable(),
                ),
                Token(id) => self.conn_event(
                    id,
                    ev.is_readable() || ev.is_read_closed() || ev.is_error(),
                    ev.is_writable() || ev.is_error(),
                    ev.is_read_closed() || ev.is_error(),
                ),
            }
        }
        self.events = events;
        let any = self.deliver_mediated() || any;
        let now = Instant::now();
        if now >= self.next_timers {
            self.next_timers = now + TIMER_PERIOD;
            self.run_timers(now);
        }
        any
    }

    fn accept_all(&mut self) {
        loop {
            let Some(l) = self.listener.as_ref() else {
                return;
            };
            match l.accept() {
                Ok((mut s, addr)) => {
                    let entry = self.conns.vacant_entry();
                    let id = entry.key();
                    if let Err(e) = self.poll.registry().register(
                        &mut s,
                        Token(id),
                        Interest::READABLE | Interest::WRITABLE,
                    ) {
                        log::warn!("epoll registration failed: {e}");
                        continue;
                    }
                    entry.insert(Conn::new(s));
                    self.core.phases.insert(
                        id,
                        Phase::AwaitHello {
                            since: Instant::now(),
                            dialed: None,
                        },
                    );
                    log::debug!("accepted connection from {addr}");
                }
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => {
                    log::warn!("accept failed: {e}");
                    return;
                }
            }
        }
    }

    fn conn_event(&mut self, c: usize, readable: bool, writable: bool, hup: bool) {
        if !self.conns.contains(c) {
            return;
        }
        let relaying = matches!(self.core.phases.get(&c), Some(Phase::Relay { .. }));
        if self.dialling_event(c) || self.relay_event(c) {
            return;
        }
        // A relay just spliced: the peer's first frame may be waiting already.
        let readable = readable || relaying;
        if writable {
            if let Some(conn) = self.conns.get_mut(c) {
                conn.writable = true;
            }
            self.flush_conn(c);
        }
        if readable {
            let Some(conn) = self.conns.get_mut(c) else {
                return;
            };
            let r = conn.pump(c, &mut self.core, hup);
            self.run_outbox();
            if let Err(e) = r {
                self.conn_failed(c, e);
            }
        }
    }

    fn run_outbox(&mut self) {
        if self.core.outbox.is_empty() {
            return;
        }
        let actions = std::mem::take(&mut self.core.outbox);
        for a in actions {
            match a {
                Action::ConnFrame(c, h, payload) => {
                    if let Some(conn) = self.conns.get_mut(c) {
                        if let Err(e) = conn.send_copy(&h, &payload) {
                            self.conn_failed(c, e);
                        }
                    }
                }
                Action::Ready(c, peer) => self.bind_peer(c, peer),
                Action::Drop(c) => self.close_conn(c),
                Action::Frame(peer, h) => self.send_copy(peer, &h, &[]),
                Action::Data(peer, h, buf, t) => self.send_user(peer, &h, buf, t),
                Action::Goodbye(peer) => self.core.peers[peer as usize].said_goodbye = true,
            }
        }
    }

    fn control_event(&mut self, readable: bool, writable: bool) {
        let Some(c) = self.control.as_mut() else {
            return;
        };
        let mut r = Ok(());
        if writable {
            c.writable = true;
            if let Err(e) = c.flush() {
                r = Err(e.to_string());
            }
        }
        if readable && r.is_ok() {
            r = c.pump(&mut self.ctl_msgs);
        }
        self.handle_control_buffered();
        if let Err(e) = r {
            if !self.closing {
                log::warn!("{e}; connections not yet made cannot be made any more");
            }
            if let Some(mut c) = self.control.take() {
                let _ = self.poll.registry().deregister(&mut c.stream);
            }
        }
    }

    /// Handles control messages already read.
    pub(super) fn handle_control_buffered(&mut self) {
        if let Some(c) = self.control.as_mut() {
            if let Err(e) = c.drain(&mut self.ctl_msgs) {
                log::warn!("rendezvous server sent garbage: {e}");
            }
        }
        let msgs = std::mem::take(&mut self.ctl_msgs);
        for m in msgs {
            match m {
                Msg::PeerInfo { rank, candidates } => self.on_peer_info(rank, candidates),
                Msg::PeerLeft { rank } if rank < self.core.size && rank != self.core.rank => {
                    let p = &mut self.core.peers[rank as usize];
                    if !matches!(p.state, PeerState::Ready(_) | PeerState::Lost(_)) {
                        p.said_goodbye = true;
                        self.mark_lost(
                            rank,
                            Error::peer_lost(format!(
                                "rank {rank} has left the job (freed its communicator)"
                            )),
                        );
                    }
                }
                Msg::PeerLost { rank } if rank < self.core.size && rank != self.core.rank => {
                    let p = &mut self.core.peers[rank as usize];
                    match p.state {
                        // Let the connection deliver what the peer sent before it died.
                        PeerState::Ready(_) => p.dying_since = Some(Instant::now()),
                        PeerState::Lost(_) => {}
                        _ => self.mark_lost(
                            rank,
                            Error::peer_lost(format!(
                                "rank {rank} is lost: the rendezvous server reports it gone (process died or lost its connection)"
                            )),
                        ),
                    }
                }
                Msg::Aborted { rank, code } => {
                    if !self.aborting {
                        log::error!("rank {rank} called FMI_Abort({code}); ending this rank too");
                        super::exit_aborting(code);
                    }
                }
                m => log::debug!("ignoring control message {m:?}"),
            }
        }
    }

    fn run_timers(&mut self, now: Instant) {
        let stale: Vec<usize> = self
            .core
            .phases
            .iter()
            .filter(|(_, ph)| match ph {
                Phase::AwaitHello { since, .. } | Phase::AwaitProof { since, .. } => {
                    now.duration_since(*since) > HANDSHAKE_TIMEOUT
                }
                Phase::Relay { since, .. } => now.duration_since(*since) > RELAY_WAIT,
                _ => false,
            })
            .map(|(c, _)| c)
            .collect();
        for c in stale {
            let e = format!("no authenticated handshake within {HANDSHAKE_TIMEOUT:?}");
            self.conn_failed(c, ConnError::Protocol(e));
        }
        // Safety net for edge-triggered readiness: a queue that is not moving gets
        // another write attempt now and then.
        let stuck: Vec<usize> = self
            .conns
            .iter()
            .filter(|(_, c)| c.queued() > 0)
            .map(|(k, _)| k)
            .collect();
        for c in stuck {
            if let Some(conn) = self.conns.get_mut(c) {
                conn.writable = true;
            }
            self.flush_conn(c);
        }
        self.connect_timers(now);
        for q in 0..self.core.size {
            let p = &self.core.peers[q as usize];
            if matches!(p.state, PeerState::Ready(_))
                && p.dying_since
                    .is_some_and(|t| now.duration_since(t) > DYING_GRACE)
            {
                self.mark_lost(
                    q,
                    Error::peer_lost(format!(
                        "rank {q} is lost: the rendezvous server reports it gone (process died?)"
                    )),
                );
            }
        }
    }

    pub(super) fn cancel(&mut self, id: usize) {
        let Some(r) = self.core.reqs.get(id) else {
            return;
        };
        if r.done.is_some() {
            self.core.reqs.remove(id);
            return;
        }
        let token = r.token;
        match &r.kind {
            ReqKind::Recv { .. } => {
                if !self.core.matcher.remove_posted(id) {
                    if let Some((&key, _)) =
                        self.core.await_data.iter().find(|(_, t)| t.req == Some(id))
                    {
                        if let Some(t) = self.core.await_data.get_mut(&key) {
                            t.req = None;
                        }
                        if let PeerState::Ready(c) = self.core.peers[key.0 as usize].state {
                            if let Some(conn) = self.conns.get_mut(c) {
                                conn.discard_rx_if(|h| h.kind == Kind::Data && h.token == key.1);
                            }
                        }
                    }
                }
            }
            ReqKind::Send { dest, .. } => {
                let dest = *dest;
                if let Some(t) = token {
                    let mut clean = self.core.await_cts.remove(&t).is_none();
                    if self.core.sending.remove(&t).is_some() {
                        clean = match self.core.peers[dest as usize].state {
                            PeerState::Ready(c) => {
                                self.conns.get_mut(c).is_some_and(|x| x.withdraw(t))
                            }
                            _ => {
                                let p = &mut self.core.peers[dest as usize];
                                p.pending
                                    .retain(|x| !matches!(x, Pending::User(_, _, pt) if *pt == t));
                                true
                            }
                        };
                    }
                    if !clean {
                        // The receiver expects data we can no longer send.
                        self.mark_lost(
                            dest,
                            Error::timeout(format!(
                                "a large send to rank {dest} was abandoned mid-transfer"
                            )),
                        );
                    }
                }
            }
        }
        self.core.reqs.remove(id);
    }

    pub(super) fn all_flushed(&self) -> bool {
        self.core.peers.iter().all(|p| match p.state {
            PeerState::Ready(c) => self.conns.get(c).is_none_or(|x| x.queued() == 0),
            PeerState::Lost(_) | PeerState::Idle => true,
            _ => p.pending.is_empty(),
        })
    }

    pub(super) fn say_goodbye(&mut self) {
        self.closing = true;
        for q in 0..self.core.size {
            if let PeerState::Ready(c) = self.core.peers[q as usize].state {
                if let Some(conn) = self.conns.get_mut(c) {
                    let r = conn
                        .send_copy(&Header::new(Kind::Goodbye, 0, 0, 0, 0), &[])
                        .and_then(|_| conn.close_when_flushed(&mut self.done));
                    self.done.clear();
                    if let Err(e) = r {
                        self.conn_failed(c, e);
                    }
                }
            }
        }
        if let Some(c) = self.control.as_mut() {
            let _ = c.send(&Msg::Bye);
        }
    }

    /// What still stands between us and an orderly close: `None` once every peer's
    /// kernel holds everything we sent (our goodbye included), so closing now loses
    /// nothing of ours; otherwise a description for the log.
    pub(super) fn undelivered(&self) -> Option<String> {
        for (q, p) in self.core.peers.iter().enumerate() {
            if let PeerState::Ready(c) = p.state {
                if let Some(x) = self.conns.get(c) {
                    let (queued, unacked) = (x.queued(), x.unacked());
                    if queued > 0 || unacked > 0 {
                        return Some(format!(
                            "rank {q}: {queued} bytes queued, {unacked} bytes not acknowledged"
                        ));
                    }
                }
            }
        }
        match &self.control {
            Some(c) if !c.flushed() => {
                Some("the rendezvous server has not taken our goodbye".into())
            }
            _ => None,
        }
    }

    pub(super) fn close_all(&mut self) {
        let ids: Vec<usize> = self.conns.iter().map(|(k, _)| k).collect();
        for c in ids {
            self.close_conn(c);
        }
        if let Some(mut c) = self.control.take() {
            let _ = self.poll.registry().deregister(&mut c.stream);
        }
        self.listener = None;
    }
}

/// Handshake phase per connection id. Connection ids are small slab keys, so a vector
/// indexed by them is a faster map than hashing on the per-frame path.
#[derive(Default)]
pub(super) struct PhaseMap(Vec<Option<Phase>>);

impl PhaseMap {
    pub fn get(&self, c: &usize) -> Option<&Phase> {
        self.0.get(*c).and_then(|p| p.as_ref())
    }

    pub fn insert(&mut self, c: usize, p: Phase) {
        if self.0.len() <= c {
            self.0.resize_with(c + 1, || None);
        }
        self.0[c] = Some(p);
    }

    pub fn get_mut(&mut self, c: &usize) -> Option<&mut Phase> {
        self.0.get_mut(*c).and_then(|p| p.as_mut())
    }

    pub fn remove(&mut self, c: &usize) -> Option<Phase> {
        self.0.get_mut(*c).and_then(|p| p.take())
    }

    pub fn iter(&self) -> impl Iterator<Item = (usize, &Phase)> {
        self.0
            .iter()
            .enumerate()
            .filter_map(|(c, p)| p.as_ref().map(|p| (c, p)))
    }
}
