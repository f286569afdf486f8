//! Making a connection to a peer: dialling every candidate address of the peer from
//! our one local port while also accepting on it (TCP simultaneous open, which is
//! how a pair gets through two NATs), and, when no direct connection forms within
//! the punch budget, a relay through the rendezvous server.
//!
//! Both ranks of a pair dial as soon as the server introduces them, and keep
//! re-dialling: a NAT answers a SYN it has no mapping for with a reset (or drops
//! it), and the attempt that crosses the peer's own outgoing SYN gets through.
//! Whatever TCP connections form, the lower rank leads the handshake on each of them
//! (Hello, HelloAck, Proof) and proves itself on exactly one, so both ends agree on
//! the connection that wins. A higher rank that dialled first says who it is with a
//! Knock, and the lower rank answers with its Hello.

use super::peers::{PeerState, Phase, RelayStep};
use super::State;
use crate::auth::nonce;
use crate::channel::direct::{handshake_header, Conn, ConnError, Hello};
use crate::error::{Error, ErrorKind};
use crate::punch::proto::{Msg, RefuseCode, MAX_FRAME};
use crate::wire::Kind;
use mio::{Interest, Token};
use std::io::{Read, Write};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// Pause before dialling a candidate again after its attempt failed.
const RETRY_DELAY: Duration = Duration::from_millis(100);
/// A dial whose SYN got no answer is abandoned and sent again after this long:
/// NATs and firewalls drop SYNs silently, and a later SYN may cross the peer's.
const DIAL_ATTEMPT: Duration = Duration::from_millis(500);
/// The higher rank's head start to let the lower rank dial first: where the lower
/// rank can reach it (same host, same network) the pair then has one connection
/// instead of two, and behind NATs a few milliseconds change nothing.
const HIGHER_DIAL_DELAY: Duration = Duration::from_millis(30);
/// Pause before asking the server for a relay again after a relay attempt failed.
const RELAY_RETRY: Duration = Duration::from_secs(1);

/// The first relay of a process is worth an info line; the rest only debug.
static RELAY_LOGGED: AtomicBool = AtomicBool::new(false);

/// One candidate address of a peer being dialled.
#[derive(Debug)]
pub(super) struct Dial {
    pub addr: SocketAddr,
    /// The connection of the attempt in progress.
    pub conn: Option<usize>,
    /// With `conn`: when it was dialled; without: when to dial next.
    pub at: Instant,
}

/// A socket bound to our registered port (so NATs map it as they mapped the control
/// connection), connecting to `to` without blocking.
fn dial_from(port: u16, to: SocketAddr) -> std::io::Result<mio::net::TcpStream> {
    use socket2::{Domain, Socket, Type};
    let s = Socket::new(Domain::for_address(to), Type::STREAM, None)?;
    s.set_reuse_address(true)?;
    s.set_reuse_port(true)?;
    s.set_nonblocking(true)?;
    if to.is_ipv4() && port != 0 {
        s.bind(&SocketAddr::from(([0, 0, 0, 0], port)).into())?;
    }
    match s.connect(&to.into()) {
        Ok(()) => {}
        Err(e) if e.raw_os_error() == Some(libc::EINPROGRESS) => {}
        Err(e) => return Err(e),
    }
    Ok(mio::net::TcpStream::from_std(s.into()))
}

impl State {
    fn connect_timeout(&self) -> Duration {
        self.core.timeout.unwrap_or(Duration::from_secs(24 * 3600))
    }

    /// Makes sure a connection to `dest` is on its way.
    pub(super) fn want(&mut self, dest: u32) {
        let timeout = self.connect_timeout();
        let p = &mut self.core.peers[dest as usize];
        if !matches!(p.state, PeerState::Idle) {
            return;
        }
        p.state = PeerState::Wanted;
        p.connect_deadline = Some(Instant::now() + timeout);
        if !p.cands.is_empty() {
            self.start_connect(dest);
            return;
        }
        match self.control.as_mut() {
            Some(c) => {
                if let Err(e) = c.send(&Msg::WantPeer { rank: dest }) {
                    log::warn!("rendezvous server connection failed: {e}");
                }
            }
            None => self.mark_lost(
                dest,
                Error::connect(format!(
                    "cannot reach rank {dest}: no connection to the rendezvous server"
                )),
            ),
        }
    }

    /// The server introduced us to `q`: both sides start dialling at once, whether
    /// or not this side asked, because through NATs both must.
    pub(super) fn on_peer_info(&mut self, q: u32, cands: Vec<SocketAddr>) {
        if q >= self.core.size || q == self.core.rank {
            log::warn!("rendezvous server sent candidates for invalid rank {q}; ignored");
            return;
        }
        let timeout = self.connect_timeout();
        let p = &mut self.core.peers[q as usize];
        p.cands = cands;
        if matches!(p.state, PeerState::Idle | PeerState::Wanted) {
            if p.connect_deadline.is_none() {
                p.connect_deadline = Some(Instant::now() + timeout);
            }
            self.start_connect(q);
        }
    }

    fn start_connect(&mut self, q: u32) {
        let now = Instant::now();
        let first = if self.core.rank < q {
            now
        } else {
            now + HIGHER_DIAL_DELAY
        };
        // Without a rendezvous server there is no relay to turn to: dial until the
        // connect deadline.
        let budget = if self.control.is_some() {
            self.punch_timeout
        } else {
            self.connect_timeout()
        };
        let p = &mut self.core.peers[q as usize];
        p.state = PeerState::Connecting;
        p.punch_deadline = Some(if p.cands.is_empty() {
            now
        } else {
            now + budget
        });
        p.dials = p
            .cands
            .iter()
            .map(|&addr| Dial {
                addr,
                conn: None,
                at: first,
            })
            .collect();
        self.dial_due(q, now);
    }

    /// Dials what is due for `q`, abandons dials that got no answer, and after the
    /// punch budget turns to the relay.
    fn dial_due(&mut self, q: u32, now: Instant) {
        let p = &self.core.peers[q as usize];
        if !matches!(p.state, PeerState::Connecting) {
            return;
        }
        let punching = p.punch_deadline.is_some_and(|d| now < d);
        let stalled: Vec<usize> = p
            .dials
            .iter()
            .filter_map(|d| d.conn.filter(|_| !punching || now >= d.at + DIAL_ATTEMPT))
            .filter(|c| matches!(self.core.phases.get(c), Some(Phase::Connecting { .. })))
            .collect();
        for c in stalled {
            self.close_conn(c);
            let p = &mut self.core.peers[q as usize];
            p.attempts.retain(|&a| a != c);
            for d in p.dials.iter_mut().filter(|d| d.conn == Some(c)) {
                d.conn = None;
                d.at = now;
            }
        }
        if punching {
            let due: Vec<usize> = self.core.peers[q as usize]
                .dials
                .iter()
                .enumerate()
                .filter(|(_, d)| d.conn.is_none() && now >= d.at)
                .map(|(i, _)| i)
                .collect();
            for i in due {
                self.dial(q, i, now);
            }
            return;
        }
        let p = &self.core.peers[q as usize];
        if self.relay_enabled && p.relay.is_none() && p.relay_retry_at.is_none_or(|t| now >= t) {
            self.start_relay(q);
        }
    }

    fn dial(&mut self, q: u32, i: usize, now: Instant) {
        let addr = self.core.peers[q as usize].dials[i].addr;
        let r = dial_from(self.local_port, addr).and_then(|s| self.add_dialled(s));
        let p = &mut self.core.peers[q as usize];
        match r {
            Ok(id) => {
                self.core.phases.insert(
                    id,
                    Phase::Connecting {
                        peer: q,
                        nonce: nonce(),
                    },
                );
                p.attempts.push(id);
                p.dials[i].conn = Some(id);
                p.dials[i].at = now;
                log::trace!("dialling rank {q} at {addr}");
            }
            Err(e) => {
                // EADDRNOTAVAIL here means the peer's own dial already formed this
                // very connection (same addresses and ports); it goes on as accepted.
                p.last_error = format!("{addr}: {e}");
                p.dials[i].at = now + RETRY_DELAY;
            }
        }
    }

    /// Watches a connection still being made; returns its id.
    fn add_dialled(&mut self, mut s: mio::net::TcpStream) -> std::io::Result<usize> {
        let entry = self.conns.vacant_entry();
        let id = entry.key();
        self.poll.registry().register(
            &mut s,
            Token(id),
            Interest::READABLE | Interest::WRITABLE,
        )?;
        let mut conn = Conn::new(s);
        conn.writable = false;
        entry.insert(conn);
        Ok(id)
    }

    fn start_relay(&mut self, q: u32) {
        let Some(server) = self.server_addr else {
            return;
        };
        let me = self.core.rank;
        let budget = self.punch_timeout;
        if !RELAY_LOGGED.swap(true, Ordering::Relaxed) {
            log::info!(
                "rank {me}: no direct connection to rank {q} within {budget:?}; relaying through the rendezvous server {server} (further relays are logged at debug level)"
            );
        } else {
            log::debug!("rank {me}: relaying to rank {q} through {server}");
        }
        let r = mio::net::TcpStream::connect(server).and_then(|s| self.add_dialled(s));
        let p = &mut self.core.peers[q as usize];
        match r {
            Ok(id) => {
                self.core.phases.insert(
                    id,
                    Phase::Relay {
                        peer: q,
                        step: RelayStep::Connecting,
                        buf: Vec::new(),
                        since: Instant::now(),
                    },
                );
                p.attempts.push(id);
                p.relay = Some(id);
            }
            Err(e) => {
                p.last_error = format!("relay through {server}: {e}");
                p.relay_retry_at = Some(Instant::now() + RELAY_RETRY);
            }
        }
    }

    /// A dialled connection is up (directly, or through the relay): the lower rank
    /// greets, the higher rank knocks and waits for the greeting.
    fn connected(&mut self, c: usize, peer: u32, nonce: crate::auth::Tag) {
        let Some(conn) = self.conns.get_mut(c) else {
            return;
        };
        conn.writable = true;
        let me = self.core.rank;
        let hello = Hello {
            job: self.core.job.clone(),
            from: me,
            to: peer,
            nonce,
        };
        if me < peer {
            let next = Phase::AwaitAck { peer, nonce };
            self.send_greeting(c, Kind::Hello, &hello.encode(), next);
        } else {
            let knock = Hello {
                nonce: [0; 32],
                ..hello
            };
            let next = Phase::AwaitHello {
                since: Instant::now(),
                dialed: Some(peer),
            };
            self.send_greeting(c, Kind::Knock, &knock.encode(), next);
        }
    }

    fn send_greeting(&mut self, c: usize, kind: Kind, payload: &[u8], next: Phase) {
        let Some(conn) = self.conns.get_mut(c) else {
            return;
        };
        if let Err(e) = conn.send_copy(&handshake_header(kind, payload.len()), payload) {
            return self.conn_failed(c, e);
        }
        self.core.phases.insert(c, next);
    }

    /// Event on a connection still dialling. Returns whether the event is used up.
    pub(super) fn dialling_event(&mut self, c: usize) -> bool {
        let Some(Phase::Connecting { peer, nonce }) = self.core.phases.get(&c) else {
            return false;
        };
        let (peer, nonce) = (*peer, *nonce);
        let Some(conn) = self.conns.get_mut(c) else {
            return true;
        };
        match conn.stream.take_error() {
            Ok(Some(e)) | Err(e) => {
                self.conn_failed(c, ConnError::Io(e));
                return true;
            }
            Ok(None) => {}
        }
        match conn.stream.peer_addr() {
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotConnected => return true,
            Err(e) => {
                self.conn_failed(c, ConnError::Io(e));
                return true;
            }
        }
        self.connected(c, peer, nonce);
        false
    }

    /// Event on a relay connection before the server spliced it: reads the server's
    /// frames byte-exactly, so nothing of the peer's stream is consumed here.
    /// Returns whether the event is used up.
    pub(super) fn relay_event(&mut self, c: usize) -> bool {
        let Some(Phase::Relay { peer, .. }) = self.core.phases.get(&c) else {
            return false;
        };
        let peer = *peer;
        loop {
            let step = match self.relay_step(c) {
                Ok(Some(step)) => step,
                Ok(None) => return true,
                Err(e) => {
                    self.conn_failed(c, e);
                    return true;
                }
            };
            match step {
                RelayMsg::Challenge(nonce) => {
                    let mac = self
                        .core
                        .keys
                        .server_mac(&nonce, &self.core.job, self.core.rank);
                    let msg = Msg::Relay {
                        job: self.core.job.clone(),
                        rank: self.core.rank,
                        peer,
                        mac,
                    }
                    .encode();
                    let Some(conn) = self.conns.get_mut(c) else {
                        return true;
                    };
                    // A fresh socket's buffer takes a few hundred bytes at once.
                    match conn.stream.write(&msg) {
                        Ok(n) if n == msg.len() => {}
                        Ok(_) => {
                            let e = ConnError::Protocol("short write of the relay request".into());
                            self.conn_failed(c, e);
                            return true;
                        }
                        Err(e) => {
                            self.conn_failed(c, ConnError::Io(e));
                            return true;
                        }
                    }
                    self.set_relay_step(c, RelayStep::AwaitReady);
                }
                RelayMsg::Ready => {
                    log::debug!("relay to rank {peer} is spliced");
                    self.connected(c, peer, nonce());
                    // The peer's first frame may already be in the socket, and with
                    // edge-triggered events nothing would announce it again.
                    return false;
                }
            }
        }
    }

    fn set_relay_step(&mut self, c: usize, next: RelayStep) {
        if let Some(Phase::Relay { step, buf, .. }) = self.core.phases.get_mut(&c) {
            *step = next;
            buf.clear();
        }
    }

    /// Reads the next server frame of a relay connection, never past its end.
    fn relay_step(&mut self, c: usize) -> Result<Option<RelayMsg>, ConnError> {
        let Some(conn) = self.conns.get_mut(c) else {
            return Ok(None);
        };
        let Some(Phase::Relay { step, buf, .. }) = self.core.phases.get_mut(&c) else {
            return Ok(None);
        };
        if let RelayStep::Connecting = step {
            match conn.stream.take_error() {
                Ok(Some(e)) | Err(e) => return Err(ConnError::Io(e)),
                Ok(None) => {}
            }
            match conn.stream.peer_addr() {
                Ok(_) => *step = RelayStep::AwaitChallenge,
                Err(e) if e.kind() == std::io::ErrorKind::NotConnected => return Ok(None),
                Err(e) => return Err(ConnError::Io(e)),
            }
        }
        loop {
            let want = if buf.len() < 4 {
                4
            } else {
                let len = u32::from_le_bytes([buf[0], buf[1], buf[2], buf[3]]) as usize;
                if len == 0 || len > MAX_FRAME {
                    return Err(ConnError::Protocol(format!(
                        "rendezvous server sent a relay frame of {len} bytes"
                    )));
                }
                4 + len
            };
            if buf.len() == want && want > 4 {
                break;
            }
            let mut chunk = vec![0u8; want - buf.len()];
            match conn.stream.read(&mut chunk) {
                Ok(0) => return Err(ConnError::Closed),
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => return Ok(None),
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(ConnError::Io(e)),
            }
        }
        let msg = Msg::decode(&buf[4..]).map_err(|e| ConnError::Protocol(e.to_string()))?;
        match (&*step, msg) {
            (RelayStep::AwaitChallenge, Msg::Challenge { nonce, .. }) => {
                Ok(Some(RelayMsg::Challenge(nonce)))
            }
            (RelayStep::AwaitReady, Msg::RelayReady) => Ok(Some(RelayMsg::Ready)),
            (_, Msg::Refused { code, reason }) => {
                let what = if code == RefuseCode::Auth {
                    "authentication failed"
                } else {
                    "relay refused"
                };
                Err(ConnError::Protocol(format!(
                    "{what}: the rendezvous server refused the relay: {reason}"
                )))
            }
            (_, m) => Err(ConnError::Protocol(format!(
                "rendezvous server sent {m:?} on a relay connection"
            ))),
        }
    }

    /// A connection of `peer` finished its handshake.
    pub(super) fn bind_peer(&mut self, c: usize, peer: u32) {
        let p = &mut self.core.peers[peer as usize];
        if matches!(p.state, PeerState::Ready(_) | PeerState::Lost(_)) {
            self.close_conn(c);
            return;
        }
        p.state = PeerState::Ready(c);
        p.connect_deadline = None;
        p.punch_deadline = None;
        p.dials.clear();
        let relayed = p.relay == Some(c);
        p.relay = None;
        let others: Vec<usize> = p.attempts.drain(..).filter(|&a| a != c).collect();
        let pending = std::mem::take(&mut p.pending);
        p.pending_bytes = 0;
        if let Some(x) = self.conns.get(c) {
            log::debug!(
                "connected to rank {peer} ({:?} -> {:?}{})",
                x.stream.local_addr().ok(),
                x.stream.peer_addr().ok(),
                if relayed { ", relayed" } else { "" }
            );
        }
        for a in others {
            self.close_conn(a);
        }
        self.send_pending(c, peer, pending);
    }

    /// An attempt to reach `peer` failed: try that way again later, unless it failed
    /// authentication on a connection we dialled, which no retry mends.
    pub(super) fn attempt_failed(&mut self, c: usize, peer: u32, err: &ConnError) {
        let now = Instant::now();
        let p = &mut self.core.peers[peer as usize];
        // Only a connection we made to an address the server gave us (or through the
        // server's relay) speaks for the peer. Anyone who reaches our port can knock
        // in the peer's name; failing its handshake must not cost us the real peer.
        let dialled = p.dials.iter().any(|d| d.conn == Some(c)) || p.relay == Some(c);
        p.attempts.retain(|&a| a != c);
        p.last_error = err.to_string();
        for d in p.dials.iter_mut().filter(|d| d.conn == Some(c)) {
            d.conn = None;
            d.at = now + RETRY_DELAY;
        }
        if p.relay == Some(c) {
            p.relay = None;
            p.relay_retry_at = Some(now + RELAY_RETRY);
        }
        if let ConnError::Protocol(m) = err {
            let e = if m.starts_with("authentication failed") && !dialled {
                log::warn!(
                    "dropped a connection that claimed to be rank {peer} and failed its handshake: {m}"
                );
                return;
            } else if m.starts_with("authentication failed") {
                Error::new(
                    ErrorKind::Auth,
                    format!("cannot connect to rank {peer}: {m}"),
                )
            } else if m.starts_with("relay refused") {
                // The server said why (peer gone, limits): asking again changes nothing.
                Error::connect(format!(
                    "cannot connect to rank {peer}: no direct connection within the punch budget, and {m}"
                ))
            } else {
                return;
            };
            self.mark_lost(peer, e);
        }
    }

    /// Timer work of connection setup: dials due, and peers past their deadline.
    pub(super) fn connect_timers(&mut self, now: Instant) {
        for q in 0..self.core.size {
            let p = &self.core.peers[q as usize];
            if !matches!(p.state, PeerState::Connecting) {
                continue;
            }
            if p.connect_deadline.is_some_and(|d| now >= d) {
                let how = if self.relay_enabled {
                    "directly or through the relay"
                } else {
                    "directly (FMI_RELAY=0)"
                };
                let e = Error::connect(format!(
                    "cannot connect to rank {q} {how} (candidates {:?}): {}",
                    p.cands, p.last_error
                ));
                self.mark_lost(q, e);
            } else {
                self.dial_due(q, now);
            }
        }
    }
}

/// What the server said on a relay connection.
enum RelayMsg {
    Challenge(crate::auth::Tag),
    Ready,
}
