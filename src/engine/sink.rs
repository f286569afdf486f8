//! What arriving frames do to the engine's state: handshake steps, matching of eager
//! messages and rendezvous announcements, clear-to-send and data. Work that needs a
//! connection (replies) is queued as actions and done once the read is over.

use super::peers::{PeerState, Phase};
use super::{Core, Req, ReqKind, Transfer};
use crate::auth::{nonce, tags_equal};
use crate::channel::direct::{decode_tags, encode_tags, handshake_header, Dest, FrameSink, Hello};
use crate::channel::RawBuf;
use crate::engine::matching::{Body, Unexpected};
use crate::wire::{Header, Kind};

/// Work for the engine after a connection's frames were read.
pub(super) enum Action {
    /// Send a handshake frame on a connection.
    ConnFrame(usize, Header, Vec<u8>),
    /// The connection finished its handshake with the peer.
    Ready(usize, u32),
    /// Close a connection (a losing duplicate).
    Drop(usize),
    /// Send a header-only frame to a peer (clear-to-send).
    Frame(u32, Header),
    /// Send rendezvous data from a caller's buffer; the token completes the send.
    Data(u32, Header, RawBuf, u64),
    /// The peer announced an orderly leave.
    Goodbye(u32),
}

fn owned(d: Dest) -> Vec<u8> {
    match d {
        Dest::Owned(v) => v,
        _ => Vec::new(),
    }
}

impl Core {
    fn ready_peer(&self, conn: usize) -> Result<u32, String> {
        match self.phases.get(&conn) {
            Some(Phase::Ready(p)) => Ok(*p),
            _ => Err("message frame before the handshake completed".into()),
        }
    }

    /// Registers a matched rendezvous message and returns the clear-to-send to answer.
    pub(super) fn accept_rts(
        &mut self,
        id: usize,
        src: u32,
        tag: i32,
        token: u64,
        len: u64,
    ) -> Header {
        let cap = match self.reqs.get(id) {
            Some(Req {
                kind: ReqKind::Recv { buf, .. },
                ..
            }) => buf.len() as u64,
            _ => 0,
        };
        let accepted = len.min(cap);
        self.await_data.insert(
            (src, token),
            Transfer {
                req: Some(id),
                tag,
                len,
                accepted,
            },
        );
        if let Some(r) = self.reqs.get_mut(id) {
            r.token = Some(token);
        }
        Header::new(Kind::Cts, 0, 0, accepted, token)
    }

    pub(super) fn arrived_eager(&mut self, ctx: u32, src: u32, tag: i32, v: Vec<u8>) {
        if let Some(p) = self.matcher.take_posted(ctx, src, tag) {
            self.fill_recv(p.req, src, tag, &v);
        } else {
            self.matcher.add_unexpected(Unexpected {
                ctx,
                src,
                tag,
                body: Body::Eager(v),
            });
        }
    }

    /// Whether `peer` already has an authenticated connection, bound or only decided
    /// in this batch of frames (its `Action::Ready` not yet run). The connector sends
    /// its proof on exactly one connection, so both ends must agree on that one.
    fn has_link(&self, peer: u32) -> bool {
        matches!(self.peers[peer as usize].state, PeerState::Ready(_))
            || self
                .phases
                .iter()
                .any(|(_, p)| matches!(p, Phase::Ready(q) if *q == peer))
    }

    /// Checks a Hello or Knock: this job, to this rank, from a rank that may send it.
    fn check_greeting(&self, payload: &[u8], from_lower: bool) -> Result<Hello, String> {
        let h = Hello::decode(payload).ok_or("malformed greeting")?;
        if h.job != self.job {
            return Err(format!("stranger: connection for job {:?}", h.job));
        }
        let order_ok = if from_lower {
            h.from < self.rank
        } else {
            h.from > self.rank
        };
        if h.to != self.rank || h.from >= self.size || !order_ok {
            return Err(format!(
                "stranger: greeting from rank {} to rank {}",
                h.from, h.to
            ));
        }
        Ok(h)
    }

    /// Refuses a handshake that failed authentication: tells the other side why (so
    /// it can report FMI_ERR_AUTH rather than a lost peer), then the error closes it.
    fn refuse(&mut self, conn: usize, why: String) -> Result<(), String> {
        self.outbox.push(Action::ConnFrame(
            conn,
            handshake_header(Kind::Refused, why.len()),
            why.clone().into_bytes(),
        ));
        Err(why)
    }

    /// A higher rank dialled us and introduced itself: we lead the handshake.
    fn on_knock(&mut self, conn: usize, payload: &[u8]) -> Result<(), String> {
        if !matches!(
            self.phases.get(&conn),
            Some(Phase::AwaitHello { dialed: None, .. })
        ) {
            // A Knock crossing our own Hello on a simultaneous open: ours leads.
            if let Some(Phase::AwaitAck { .. }) = self.phases.get(&conn) {
                return Ok(());
            }
            return Err("unexpected Knock".into());
        }
        let h = self.check_greeting(payload, false)?;
        if self.has_link(h.from) {
            self.outbox.push(Action::Drop(conn));
            return Ok(());
        }
        let nc = nonce();
        let hello = Hello {
            job: self.job.clone(),
            from: self.rank,
            to: h.from,
            nonce: nc,
        }
        .encode();
        self.outbox.push(Action::ConnFrame(
            conn,
            handshake_header(Kind::Hello, hello.len()),
            hello,
        ));
        self.phases.insert(
            conn,
            Phase::AwaitAck {
                peer: h.from,
                nonce: nc,
            },
        );
        self.peers[h.from as usize].attempts.push(conn);
        Ok(())
    }

    fn on_hello(&mut self, conn: usize, payload: &[u8]) -> Result<(), String> {
        let Some(Phase::AwaitHello { dialed, .. }) = self.phases.get(&conn) else {
            return Err("unexpected Hello".into());
        };
        let dialed = *dialed;
        let h = self.check_greeting(payload, true)?;
        if dialed.is_some_and(|d| d != h.from) {
            return Err(format!(
                "rank {} answered a connection made to rank {}",
                h.from,
                dialed.unwrap_or(0)
            ));
        }
        if self.has_link(h.from) {
            // Another candidate address of the same connector won the race; the
            // connector closes this one too.
            log::debug!(
                "rank {} is already connected; dropping a spare connection",
                h.from
            );
            self.outbox.push(Action::Drop(conn));
            return Ok(());
        }
        let na = nonce();
        let mac = self
            .keys
            .peer_mac(b"acceptor", &self.job, h.from, h.to, &h.nonce, &na);
        self.outbox.push(Action::ConnFrame(
            conn,
            handshake_header(Kind::HelloAck, 64),
            encode_tags(&na, &mac),
        ));
        self.phases.insert(
            conn,
            Phase::AwaitProof {
                peer: h.from,
                nonce_c: h.nonce,
                nonce_a: na,
                since: std::time::Instant::now(),
            },
        );
        Ok(())
    }

    fn on_ack(&mut self, conn: usize, payload: &[u8]) -> Result<(), String> {
        let Some(Phase::AwaitAck { peer, nonce: nc }) = self.phases.get(&conn) else {
            return Err("unexpected HelloAck".into());
        };
        let (peer, nc) = (*peer, *nc);
        let [na, mac] = decode_tags::<2>(payload).ok_or("malformed HelloAck")?;
        let want = self
            .keys
            .peer_mac(b"acceptor", &self.job, self.rank, peer, &nc, &na);
        if !tags_equal(&want, &mac) {
            return self.refuse(
                conn,
                format!("authentication failed: rank {peer} does not hold this job's token"),
            );
        }
        if self.has_link(peer) {
            self.outbox.push(Action::Drop(conn));
            return Ok(());
        }
        let proof = self
            .keys
            .peer_mac(b"connector", &self.job, self.rank, peer, &na, &nc);
        self.outbox.push(Action::ConnFrame(
            conn,
            handshake_header(Kind::Proof, 32),
            proof.to_vec(),
        ));
        self.outbox.push(Action::Ready(conn, peer));
        self.phases.insert(conn, Phase::Ready(peer));
        Ok(())
    }

    fn on_proof(&mut self, conn: usize, payload: &[u8]) -> Result<(), String> {
        let Some(Phase::AwaitProof {
            peer,
            nonce_c,
            nonce_a,
            ..
        }) = self.phases.get(&conn)
        else {
            return Err("unexpected Proof".into());
        };
        let (peer, nc, na) = (*peer, *nonce_c, *nonce_a);
        let [mac] = decode_tags::<1>(payload).ok_or("malformed Proof")?;
        let want = self
            .keys
            .peer_mac(b"connector", &self.job, peer, self.rank, &na, &nc);
        if !tags_equal(&want, &mac) {
            return self.refuse(
                conn,
                format!("authentication failed: a connection claiming to be rank {peer} does not hold this job's token"),
            );
        }
        if self.has_link(peer) {
            return Err(format!("rank {peer} is already connected"));
        }
        self.phases.insert(conn, Phase::Ready(peer));
        self.outbox.push(Action::Ready(conn, peer));
        Ok(())
    }
}

impl FrameSink for Core {
    fn payload_dest(&mut self, conn: usize, hdr: &Header) -> Result<(Dest, u64), String> {
        match hdr.kind {
            Kind::Hello | Kind::HelloAck | Kind::Proof | Kind::Knock | Kind::Refused => {
                Ok((Dest::Owned(Vec::with_capacity(hdr.len as usize)), hdr.len))
            }
            Kind::Eager => {
                let peer = self.ready_peer(conn)?;
                if let Some(p) = self.matcher.take_posted(hdr.ctx, peer, hdr.tag) {
                    if let Some(Req {
                        kind: ReqKind::Recv { buf, .. },
                        ..
                    }) = self.reqs.get(p.req)
                    {
                        return Ok((Dest::User(*buf, p.req as u64), buf.len() as u64));
                    }
                }
                Ok((Dest::Owned(Vec::with_capacity(hdr.len as usize)), hdr.len))
            }
            Kind::Data => {
                let peer = self.ready_peer(conn)?;
                let t = self.await_data.get(&(peer, hdr.token)).ok_or_else(|| {
                    format!("data for unknown transfer {} from rank {peer}", hdr.token)
                })?;
                if hdr.len != t.accepted {
                    return Err(format!(
                        "data frame of {} bytes for a transfer of {} bytes",
                        hdr.len, t.accepted
                    ));
                }
                match t.req.and_then(|id| self.reqs.get(id).map(|r| (id, r))) {
                    Some((
                        id,
                        Req {
                            kind: ReqKind::Recv { buf, .. },
                            ..
                        },
                    )) => Ok((Dest::User(*buf, id as u64), t.accepted)),
                    _ => Ok((Dest::Discard, 0)),
                }
            }
            k => Err(format!("{k:?} frames carry no payload")),
        }
    }

    fn on_frame(&mut self, conn: usize, hdr: Header, dest: Dest) -> Result<(), String> {
        match hdr.kind {
            Kind::Hello => self.on_hello(conn, &owned(dest)),
            Kind::HelloAck => self.on_ack(conn, &owned(dest)),
            Kind::Proof => self.on_proof(conn, &owned(dest)),
            Kind::Knock => self.on_knock(conn, &owned(dest)),
            Kind::Refused => {
                // Text from the network: printable, and short, before it reaches a log.
                let reason: String = String::from_utf8_lossy(&owned(dest))
                    .chars()
                    .filter(|c| !c.is_control())
                    .take(200)
                    .collect();
                Err(format!(
                    "authentication failed: the other side refused the handshake: {reason}"
                ))
            }
            Kind::Eager => {
                let peer = self.ready_peer(conn)?;
                match dest {
                    Dest::User(_, id) => self.complete_recv(id as usize, peer, hdr.tag, hdr.len),
                    Dest::Owned(v) => self.arrived_eager(hdr.ctx, peer, hdr.tag, v),
                    Dest::Discard => {}
                }
                Ok(())
            }
            Kind::Rts => {
                let peer = self.ready_peer(conn)?;
                if let Some(p) = self.matcher.take_posted(hdr.ctx, peer, hdr.tag) {
                    let cts = self.accept_rts(p.req, peer, hdr.tag, hdr.token, hdr.len);
                    self.outbox.push(Action::Frame(peer, cts));
                } else {
                    self.matcher.add_unexpected(Unexpected {
                        ctx: hdr.ctx,
                        src: peer,
                        tag: hdr.tag,
                        body: Body::Rts {
                            token: hdr.token,
                            len: hdr.len,
                        },
                    });
                }
                Ok(())
            }
            Kind::Cts => {
                let peer = self.ready_peer(conn)?;
                let id = self
                    .await_cts
                    .remove(&hdr.token)
                    .ok_or_else(|| format!("clear-to-send for unknown transfer {}", hdr.token))?;
                let buf = match self.reqs.get(id) {
                    Some(Req {
                        kind:
                            ReqKind::Send {
                                dest, buf: Some(b), ..
                            },
                        ..
                    }) if *dest == peer => *b,
                    _ => {
                        return Err(format!(
                            "clear-to-send for transfer {} from the wrong rank",
                            hdr.token
                        ))
                    }
                };
                if hdr.len > buf.len() as u64 {
                    return Err(format!(
                        "clear-to-send for {} bytes of a {}-byte message",
                        hdr.len,
                        buf.len()
                    ));
                }
                let part = buf.prefix(hdr.len as usize);
                self.sending.insert(hdr.token, id);
                self.outbox.push(Action::Data(
                    peer,
                    Header::new(Kind::Data, 0, 0, hdr.len, hdr.token),
                    part,
                    hdr.token,
                ));
                Ok(())
            }
            Kind::Data => {
                let peer = self.ready_peer(conn)?;
                if let Some(t) = self.await_data.remove(&(peer, hdr.token)) {
                    if let Some(id) = t.req {
                        self.complete_recv(id, peer, t.tag, t.len);
                    }
                }
                Ok(())
            }
            Kind::Goodbye => {
                let peer = self.ready_peer(conn)?;
                self.outbox.push(Action::Goodbye(peer));
                Ok(())
            }
        }
    }
}
