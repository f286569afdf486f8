//! Message matching, MPI style: receives that were posted before their message
//! arrived, and messages that arrived before their receive was posted. Both queues
//! are kept in order, which with FIFO connections gives MPI's non-overtaking rule.
//! Nothing here knows about sockets.

use std::collections::VecDeque;

/// Wildcard for source or tag in a posted receive.
pub const ANY: i32 = -1;

/// A receive waiting for its message.
#[derive(Debug)]
pub struct Posted {
    pub ctx: u32,
    /// World rank or [`ANY`].
    pub src: i32,
    /// Tag or [`ANY`].
    pub tag: i32,
    pub req: usize,
}

/// What arrived for an unexpected message.
#[derive(Debug)]
pub enum Body {
    /// The whole message.
    Eager(Vec<u8>),
    /// A large message announced by its sender; the data follows a clear-to-send.
    Rts { token: u64, len: u64 },
    /// A synchronous send to oneself: the whole message, and the send request that
    /// completes when a receive takes it.
    SelfSync { data: Vec<u8>, send: usize },
    /// A synchronous send through a mediated channel: the whole message, and the
    /// sender's request to acknowledge when a receive takes it.
    RemoteSync { data: Vec<u8>, send: u64 },
}

impl Body {
    /// Bytes of the message (not of what has arrived so far).
    pub fn msg_len(&self) -> u64 {
        match self {
            Body::Eager(v) | Body::SelfSync { data: v, .. } | Body::RemoteSync { data: v, .. } => {
                v.len() as u64
            }
            Body::Rts { len, .. } => *len,
        }
    }
}

/// A message that arrived before its receive.
#[derive(Debug)]
pub struct Unexpected {
    pub ctx: u32,
    pub src: u32,
    pub tag: i32,
    pub body: Body,
}

fn matches(want_ctx: u32, want_src: i32, want_tag: i32, ctx: u32, src: u32, tag: i32) -> bool {
    want_ctx == ctx
        && (want_src == ANY || want_src == src as i32)
        && (want_tag == ANY || want_tag == tag)
}

/// The two queues.
#[derive(Default)]
pub struct Matcher {
    posted: VecDeque<Posted>,
    unexpected: VecDeque<Unexpected>,
}

impl Matcher {
    /// Removes and returns the oldest posted receive matching an arriving envelope.
    pub fn take_posted(&mut self, ctx: u32, src: u32, tag: i32) -> Option<Posted> {
        let i = self
            .posted
            .iter()
            .position(|p| matches(p.ctx, p.src, p.tag, ctx, src, tag))?;
        self.posted.remove(i)
    }

    /// Removes and returns the oldest unexpected message matching a receive.
    pub fn take_unexpected(&mut self, ctx: u32, src: i32, tag: i32) -> Option<Unexpected> {
        let i = self.find_unexpected(ctx, src, tag)?;
        self.unexpected.remove(i)
    }

    /// The oldest unexpected message matching a probe.
    pub fn peek_unexpected(&self, ctx: u32, src: i32, tag: i32) -> Option<&Unexpected> {
        self.find_unexpected(ctx, src, tag)
            .map(|i| &self.unexpected[i])
    }

    fn find_unexpected(&self, ctx: u32, src: i32, tag: i32) -> Option<usize> {
        self.unexpected
            .iter()
            .position(|u| matches(ctx, src, tag, u.ctx, u.src, u.tag))
    }

    pub fn post(&mut self, p: Posted) {
        self.posted.push_back(p);
    }

    pub fn add_unexpected(&mut self, u: Unexpected) {
        self.unexpected.push_back(u);
    }

    /// Removes a posted receive (cancelled or failed); true if it was there.
    pub fn remove_posted(&mut self, req: usize) -> bool {
        match self.posted.iter().position(|p| p.req == req) {
            Some(i) => {
                self.posted.remove(i);
                true
            }
            None => false,
        }
    }

    /// Posted receives for which `pred` holds, removed from the queue.
    pub fn drain_posted(&mut self, mut pred: impl FnMut(&Posted) -> bool) -> Vec<Posted> {
        let mut out = Vec::new();
        let mut keep = VecDeque::with_capacity(self.posted.len());
        for p in self.posted.drain(..) {
            if pred(&p) {
                out.push(p);
            } else {
                keep.push_back(p);
            }
        }
        self.posted = keep;
        out
    }

    /// Drops announced-but-undelivered large messages of a lost sender: their data
    /// can never come.
    pub fn drop_rts_from(&mut self, src: u32) {
        self.unexpected
            .retain(|u| !(u.src == src && matches!(u.body, Body::Rts { .. })));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn eager(ctx: u32, src: u32, tag: i32, b: u8) -> Unexpected {
        Unexpected {
            ctx,
            src,
            tag,
            body: Body::Eager(vec![b]),
        }
    }

    #[test]
    fn wildcards_and_order() {
        let mut m = Matcher::default();
        m.add_unexpected(eager(0, 1, 5, 1));
        m.add_unexpected(eager(0, 2, 5, 2));
        m.add_unexpected(eager(0, 1, 6, 3));
        m.add_unexpected(eager(2, 1, 5, 4));
        // Specific tag skips older messages with other tags.
        assert!(
            matches!(m.take_unexpected(0, 1, 6).unwrap().body, Body::Eager(ref v) if v[0] == 3)
        );
        // Wildcards take the oldest.
        assert!(
            matches!(m.take_unexpected(0, ANY, ANY).unwrap().body, Body::Eager(ref v) if v[0] == 1)
        );
        // Other contexts never match.
        assert!(m.peek_unexpected(1, ANY, ANY).is_none());
        assert_eq!(m.take_unexpected(0, ANY, 5).unwrap().src, 2);
        assert_eq!(m.take_unexpected(2, 1, ANY).unwrap().tag, 5);
        assert!(m.take_unexpected(0, ANY, ANY).is_none());
    }

    #[test]
    fn posted_in_order() {
        let mut m = Matcher::default();
        m.post(Posted {
            ctx: 0,
            src: ANY,
            tag: 7,
            req: 1,
        });
        m.post(Posted {
            ctx: 0,
            src: 3,
            tag: ANY,
            req: 2,
        });
        m.post(Posted {
            ctx: 0,
            src: ANY,
            tag: ANY,
            req: 3,
        });
        assert_eq!(m.take_posted(0, 3, 8).unwrap().req, 2);
        assert_eq!(m.take_posted(0, 3, 7).unwrap().req, 1);
        assert!(m.take_posted(1, 3, 7).is_none());
        assert!(m.remove_posted(3));
        assert!(!m.remove_posted(3));
    }
}
