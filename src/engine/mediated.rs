//! Point to point through a mediated channel (Redis, S3), for worlds whose ranks
//! cannot or should not connect directly.
//!
//! Every rank owns one mailbox in the store. A send pushes a frame to the
//! receiver's mailbox and is complete once the store has it (the store buffers, as
//! an eager send's socket does). One thread per world pops this rank's mailbox and
//! hands the frames to the progress loop, which delivers them into matching exactly
//! as frames read from a socket: so tags, wildcards, probes and MPI's
//! non-overtaking rule hold as over the direct channel (a store keeps each
//! sender's order within a mailbox). A synchronous send waits for an
//! acknowledgement that the receiver sends when a receive takes the message.

use crate::channel::store::{ChannelKind, Store};
use crate::error::{Error, Result};
use parking_lot::{Condvar, Mutex};
use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// How long one pop of the mailbox waits before the thread checks whether the
/// world is still there.
const POP_WAIT: Duration = Duration::from_millis(500);
/// Pause after a failed pop, so a store that is down is not hammered.
const RETRY_PAUSE: Duration = Duration::from_millis(200);
/// A store without notifications (S3) is polled, and every poll is billed: while no
/// call waits for a message, the mailbox is looked at only this often.
const IDLE_POLL: Duration = Duration::from_secs(1);
/// Pauses between looks at a polled mailbox while a call waits: from this ...
const FIRST_PAUSE: Duration = Duration::from_millis(1);
/// ... doubling up to this.
const MAX_PAUSE: Duration = Duration::from_millis(32);

const DATA: u8 = 0;
const SYNC_DATA: u8 = 1;
const ACK: u8 = 2;
const HEADER: usize = 1 + 4 + 4 + 4 + 8;

/// One message through a mailbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Frame {
    /// A message; `sync` is the sender's request to acknowledge once matched.
    Data {
        ctx: u32,
        src: u32,
        tag: i32,
        sync: Option<u64>,
        payload: Vec<u8>,
    },
    /// A synchronous send `id` of `src`'s peer was matched; `tag` and `bytes`
    /// complete its status.
    Ack {
        src: u32,
        id: u64,
        tag: i32,
        bytes: u64,
    },
}

impl Frame {
    pub(crate) fn encode(&self) -> Vec<u8> {
        let (kind, ctx, src, tag, id, payload): (u8, u32, u32, i32, u64, &[u8]) = match self {
            Frame::Data {
                ctx,
                src,
                tag,
                sync,
                payload,
            } => (
                if sync.is_some() { SYNC_DATA } else { DATA },
                *ctx,
                *src,
                *tag,
                sync.unwrap_or(0),
                payload,
            ),
            Frame::Ack {
                src,
                id,
                tag,
                bytes,
            } => (ACK, 0, *src, *tag, *id, &bytes.to_le_bytes()[..]),
        };
        let mut v = Vec::with_capacity(HEADER + payload.len());
        encode_header(&mut v, kind, ctx, src, tag, id);
        v.extend_from_slice(payload);
        v
    }

    /// Decodes a frame; `None` for anything malformed (it came over the network).
    pub(crate) fn decode(mut v: Vec<u8>) -> Option<Frame> {
        if v.len() < HEADER {
            return None;
        }
        let u32_at = |i: usize| u32::from_le_bytes([v[i], v[i + 1], v[i + 2], v[i + 3]]);
        let kind = v[0];
        let ctx = u32_at(1);
        let src = u32_at(5);
        let tag = u32_at(9) as i32;
        let mut id = [0u8; 8];
        id.copy_from_slice(&v[13..21]);
        let id = u64::from_le_bytes(id);
        match kind {
            DATA | SYNC_DATA => {
                // The payload stays in the frame's allocation: shift it down, no copy
                // into a new one.
                v.drain(..HEADER);
                let payload = v;
                Some(Frame::Data {
                    ctx,
                    src,
                    tag,
                    sync: (kind == SYNC_DATA).then_some(id),
                    payload,
                })
            }
            ACK if v.len() == HEADER + 8 => {
                let mut b = [0u8; 8];
                b.copy_from_slice(&v[HEADER..]);
                Some(Frame::Ack {
                    src,
                    id,
                    tag,
                    bytes: u64::from_le_bytes(b),
                })
            }
            _ => None,
        }
    }
}

fn encode_header(v: &mut Vec<u8>, kind: u8, ctx: u32, src: u32, tag: i32, id: u64) {
    v.push(kind);
    v.extend_from_slice(&ctx.to_le_bytes());
    v.extend_from_slice(&src.to_le_bytes());
    v.extend_from_slice(&tag.to_le_bytes());
    v.extend_from_slice(&id.to_le_bytes());
}

/// The mailbox of rank `r`.
pub(crate) fn mailbox(r: u32) -> String {
    format!("p2p/{r}")
}

/// This rank's side of the mediated channel: the store, and what its mailbox
/// thread has popped but the progress loop has not delivered yet.
pub(crate) struct Mailroom {
    pub store: Arc<dyn Store>,
    rank: u32,
    arrived: Mutex<VecDeque<Vec<u8>>>,
    waker: mio::Waker,
    stop: AtomicBool,
    /// Calls waiting for progress now, and whether one asked for a single look;
    /// only matters for a store that is polled.
    demand: Mutex<(usize, bool)>,
    demand_changed: Condvar,
}

/// A call that waits for messages: while one lives, the mailbox is polled eagerly.
pub(crate) struct Demand<'a>(&'a Mailroom);

impl Drop for Demand<'_> {
    fn drop(&mut self) {
        self.0.demand.lock().0 -= 1;
    }
}

impl Mailroom {
    /// Starts the mailbox thread of `rank`; `waker` wakes the progress loop.
    pub(crate) fn start(
        store: Arc<dyn Store>,
        rank: u32,
        waker: mio::Waker,
    ) -> Result<Arc<Mailroom>> {
        let m = Arc::new(Mailroom {
            store,
            rank,
            arrived: Mutex::new(VecDeque::new()),
            waker,
            stop: AtomicBool::new(false),
            demand: Mutex::new((0, false)),
            demand_changed: Condvar::new(),
        });
        let me = m.clone();
        std::thread::Builder::new()
            .name(format!("fmi-mailbox-{rank}"))
            .spawn(move || me.run())
            .map_err(|e| Error::internal(format!("cannot start the mailbox thread: {e}")))?;
        Ok(m)
    }

    fn run(&self) {
        let mine = mailbox(self.rank);
        let mut failing = false;
        // A store that is polled gets single looks, paced here so that a call that
        // starts waiting resets the pace (its message may be there already).
        let polled = self.store.kind() == ChannelKind::S3;
        let mut pause = FIRST_PAUSE;
        while !self.stop.load(Ordering::Acquire) {
            let wait = if polled {
                let mut d = self.demand.lock();
                if d.0 == 0 && !d.1 {
                    self.demand_changed.wait_for(&mut d, IDLE_POLL);
                }
                if std::mem::take(&mut d.1) {
                    pause = FIRST_PAUSE;
                }
                Duration::ZERO
            } else {
                POP_WAIT
            };
            match self.store.pop(&mine, wait) {
                Ok(frames) => {
                    failing = false;
                    if !frames.is_empty() {
                        pause = FIRST_PAUSE;
                        self.arrived.lock().extend(frames);
                        if let Err(e) = self.waker.wake() {
                            log::error!("cannot wake the progress loop: {e}");
                        }
                    } else if polled {
                        let mut d = self.demand.lock();
                        if !d.1 {
                            self.demand_changed.wait_for(&mut d, pause);
                        }
                        pause = (pause * 2).min(MAX_PAUSE);
                    }
                }
                Err(e) => {
                    // Say it once per outage; operations that need the mailbox time out.
                    if !failing {
                        log::warn!("mailbox of rank {}: {}", self.rank, e.msg);
                    }
                    failing = true;
                    std::thread::sleep(RETRY_PAUSE);
                }
            }
        }
    }

    /// Frames popped so far, in arrival order.
    pub(crate) fn take_arrived(&self) -> Vec<Frame> {
        let raw: Vec<Vec<u8>> = self.arrived.lock().drain(..).collect();
        raw.into_iter()
            .filter_map(|v| {
                let n = v.len();
                let f = Frame::decode(v);
                if f.is_none() {
                    log::warn!(
                        "rank {}: dropped a malformed frame of {n} bytes from the mailbox",
                        self.rank
                    );
                }
                f
            })
            .collect()
    }

    /// Pushes a message to rank `dest`'s mailbox, encoded straight from `payload`.
    pub(crate) fn send_data(
        &self,
        dest: u32,
        ctx: u32,
        src: u32,
        tag: i32,
        sync: Option<u64>,
        payload: &[u8],
    ) -> Result<()> {
        let mut v = Vec::with_capacity(HEADER + payload.len());
        encode_header(
            &mut v,
            if sync.is_some() { SYNC_DATA } else { DATA },
            ctx,
            src,
            tag,
            sync.unwrap_or(0),
        );
        v.extend_from_slice(payload);
        self.store.push(&mailbox(dest), &v)
    }

    /// Pushes `f` to rank `dest`'s mailbox.
    pub(crate) fn send(&self, dest: u32, f: &Frame) -> Result<()> {
        self.store.push(&mailbox(dest), &f.encode())
    }

    /// Ends the mailbox thread (within one pop's wait).
    pub(crate) fn stop(&self) {
        self.stop.store(true, Ordering::Release);
        self.demand_changed.notify_all();
    }

    /// Marks a call that waits for messages, for as long as the result lives.
    pub(crate) fn want(&self) -> Demand<'_> {
        let mut d = self.demand.lock();
        d.0 += 1;
        d.1 = true; // a fresh waiter: look now, and restart the pace
        drop(d);
        self.demand_changed.notify_all();
        Demand(self)
    }

    /// Asks for one look at the mailbox (a non-blocking test or probe).
    pub(crate) fn nudge(&self) {
        self.demand.lock().1 = true;
        self.demand_changed.notify_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_round_trip() {
        let fs = [
            Frame::Data {
                ctx: 7,
                src: 3,
                tag: -1,
                sync: None,
                payload: vec![1, 2, 3],
            },
            Frame::Data {
                ctx: 0,
                src: 0,
                tag: 42,
                sync: Some(u64::MAX),
                payload: vec![],
            },
            Frame::Ack {
                src: 9,
                id: 17,
                tag: 5,
                bytes: 1 << 40,
            },
        ];
        for f in fs {
            assert_eq!(Frame::decode(f.encode()), Some(f));
        }
    }

    #[test]
    fn malformed_frames_are_refused() {
        assert_eq!(Frame::decode(vec![]), None);
        assert_eq!(Frame::decode(vec![0; HEADER - 1]), None);
        let mut bad_kind = vec![0; HEADER];
        bad_kind[0] = 9;
        assert_eq!(Frame::decode(bad_kind), None);
        // An acknowledgement must carry exactly its byte count.
        assert_eq!(Frame::decode(vec![ACK; HEADER + 3]), None);
    }
}
