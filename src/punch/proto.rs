//! The rendezvous protocol: messages between a rank and `fmi-rendezvous` on the
//! rank's control connection. Each message is one frame: a u32 length (little
//! endian, counting the kind byte and body), a kind byte, and the body.
//!
//! ```text
//! server -> rank   Challenge { version, nonce }            first thing on a connection
//! rank -> server   Register { job, rank, size, candidates, mac, verifier: None }
//! server -> rank   NeedVerifier                              only if the server neither knows
//!                                                            the job nor holds a token: then
//! rank -> server   Register { .., verifier: Some(v) }        same nonce, same connection
//! server -> rank   Registered { reflexive } | Refused { code, reason }
//! rank -> server   WantPeer { rank }                        "I need a connection to rank"
//! server -> rank   PeerInfo { rank, candidates }            sent to both sides of a pair
//! server -> rank   PeerLost { rank }                        a rank's control connection died
//! server -> rank   PeerLeft { rank }                        answer to WantPeer for a rank that left
//! rank -> server   Abort { code };  server -> rank  Aborted { rank, code }
//! rank -> server   Bye                                       orderly leave
//!
//! A relay connection (a second connection, used when punching a pair failed):
//! server -> rank   Challenge { version, nonce }
//! rank -> server   Relay { job, rank, peer, mac }            mac as in Register
//! server -> rank   RelayReady | Refused { code, reason }    RelayReady when `peer` asked too;
//!                  from then on the server forwards bytes both ways, unread.
//! ```
//! `mac` is HMAC(verifier, nonce | job | rank), where the verifier is derived from the
//! job token (see `auth`), so the token itself never crosses the wire. The verifier
//! crosses it only when the server asks for it with `NeedVerifier`: the first rank of
//! a job on a server without a token of its own sets the job's verifier (trust on
//! first use); a server with the token derives the verifier itself and never asks.
use crate::wire::{Reader, Writer};
use std::net::SocketAddr;

/// Protocol version; a server refuses others.
pub const VERSION: u16 = 3;
/// Largest frame body either side accepts.
pub const MAX_FRAME: usize = 64 * 1024;
/// Longest job name.
pub const MAX_JOB_NAME: usize = 256;
/// Most candidates a rank may report.
pub const MAX_CANDIDATES: usize = 16;

/// Why the server refused a registration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum RefuseCode {
    /// Wrong token for this job.
    Auth = 1,
    /// The rank is out of range, already registered, or the size disagrees.
    BadRank = 2,
    /// Too many connections or jobs.
    Busy = 3,
    /// Unsupported protocol version or malformed registration.
    Protocol = 4,
}

/// One control message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Msg {
    Challenge {
        version: u16,
        nonce: [u8; 32],
    },
    Register {
        version: u16,
        job: String,
        rank: u32,
        size: u32,
        candidates: Vec<SocketAddr>,
        mac: [u8; 32],
        /// The job's server verifier; sent only when the server asks for it.
        verifier: Option<[u8; 32]>,
    },
    Registered {
        reflexive: SocketAddr,
    },
    Refused {
        code: RefuseCode,
        reason: String,
    },
    WantPeer {
        rank: u32,
    },
    PeerInfo {
        rank: u32,
        candidates: Vec<SocketAddr>,
    },
    PeerLost {
        rank: u32,
    },
    /// The rank left the job in order (it will not be back, but it died of nothing).
    PeerLeft {
        rank: u32,
    },
    Abort {
        code: i32,
    },
    Aborted {
        rank: u32,
        code: i32,
    },
    Bye,
    /// First message of a relay connection: splice me to `peer` of my job.
    Relay {
        job: String,
        rank: u32,
        peer: u32,
        mac: [u8; 32],
    },
    /// Both sides of a relay are there; everything after this is the peers' bytes.
    RelayReady,
    /// The server does not know the job: resend `Register` with the verifier.
    NeedVerifier,
}

/// A frame that could not be decoded; the connection that sent it is dropped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProtoError(pub String);

impl std::fmt::Display for ProtoError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

fn bad(what: &str) -> ProtoError {
    ProtoError(format!("malformed {what} message"))
}

fn write_candidates(w: &mut Writer, c: &[SocketAddr]) {
    let n = c.len().min(MAX_CANDIDATES);
    w.u8(n as u8);
    for a in &c[..n] {
        w.addr(a);
    }
}

fn read_candidates(r: &mut Reader) -> Option<Vec<SocketAddr>> {
    let n = r.u8()? as usize;
    if n > MAX_CANDIDATES {
        return None;
    }
    (0..n).map(|_| r.addr()).collect()
}

impl Msg {
    /// Encodes the message as a whole frame, length prefix included.
    pub fn encode(&self) -> Vec<u8> {
        let mut w = Writer::default();
        w.u32(0);
        match self {
            Msg::Challenge { version, nonce } => {
                w.u8(1).u16(*version).bytes(nonce);
            }
            Msg::Register {
                version,
                job,
                rank,
                size,
                candidates,
                mac,
                verifier,
            } => {
                w.u8(2).u16(*version).str(job).u32(*rank).u32(*size);
                write_candidates(&mut w, candidates);
                w.bytes(mac);
                match verifier {
                    Some(v) => w.u8(1).bytes(v),
                    None => w.u8(0),
                };
            }
            Msg::Registered { reflexive } => {
                w.u8(3).addr(reflexive);
            }
            Msg::Refused { code, reason } => {
                w.u8(4).u8(*code as u8).str(reason);
            }
            Msg::WantPeer { rank } => {
                w.u8(5).u32(*rank);
            }
            Msg::PeerInfo { rank, candidates } => {
                w.u8(6).u32(*rank);
                write_candidates(&mut w, candidates);
            }
            Msg::PeerLost { rank } => {
                w.u8(7).u32(*rank);
            }
            Msg::Abort { code } => {
                w.u8(8).i32(*code);
            }
            Msg::Aborted { rank, code } => {
                w.u8(9).u32(*rank).i32(*code);
            }
            Msg::Bye => {
                w.u8(10);
            }
            Msg::PeerLeft { rank } => {
                w.u8(11).u32(*rank);
            }
            Msg::Relay {
                job,
                rank,
                peer,
                mac,
            } => {
                w.u8(12).str(job).u32(*rank).u32(*peer).bytes(mac);
            }
            Msg::RelayReady => {
                w.u8(13);
            }
            Msg::NeedVerifier => {
                w.u8(14);
            }
        }
        let len = (w.buf.len() - 4) as u32;
        w.buf[..4].copy_from_slice(&len.to_le_bytes());
        w.buf
    }

    /// Decodes one frame body (everything after the length prefix).
    pub fn decode(body: &[u8]) -> Result<Msg, ProtoError> {
        let mut r = Reader::new(body);
        let kind = r.u8().ok_or_else(|| bad("empty"))?;
        let msg = match kind {
            1 => Msg::Challenge {
                version: r.u16().ok_or_else(|| bad("challenge"))?,
                nonce: r.array32().ok_or_else(|| bad("challenge"))?,
            },
            2 => (|| {
                Some(Msg::Register {
                    version: r.u16()?,
                    job: r.str(MAX_JOB_NAME)?,
                    rank: r.u32()?,
                    size: r.u32()?,
                    candidates: read_candidates(&mut r)?,
                    mac: r.array32()?,
                    verifier: match r.u8()? {
                        0 => None,
                        1 => Some(r.array32()?),
                        _ => return None,
                    },
                })
            })()
            .ok_or_else(|| bad("register"))?,
            3 => Msg::Registered {
                reflexive: r.addr().ok_or_else(|| bad("registered"))?,
            },
            4 => {
                let code = match r.u8() {
                    Some(1) => RefuseCode::Auth,
                    Some(2) => RefuseCode::BadRank,
                    Some(3) => RefuseCode::Busy,
                    Some(4) => RefuseCode::Protocol,
                    _ => return Err(bad("refused")),
                };
                Msg::Refused {
                    code,
                    reason: r.str(MAX_FRAME).ok_or_else(|| bad("refused"))?,
                }
            }
            5 => Msg::WantPeer {
                rank: r.u32().ok_or_else(|| bad("want-peer"))?,
            },
            6 => Msg::PeerInfo {
                rank: r.u32().ok_or_else(|| bad("peer-info"))?,
                candidates: read_candidates(&mut r).ok_or_else(|| bad("peer-info"))?,
            },
            7 => Msg::PeerLost {
                rank: r.u32().ok_or_else(|| bad("peer-lost"))?,
            },
            8 => Msg::Abort {
                code: r.i32().ok_or_else(|| bad("abort"))?,
            },
            9 => Msg::Aborted {
                rank: r.u32().ok_or_else(|| bad("aborted"))?,
                code: r.i32().ok_or_else(|| bad("aborted"))?,
            },
            10 => Msg::Bye,
            11 => Msg::PeerLeft {
                rank: r.u32().ok_or_else(|| bad("peer-left"))?,
            },
            12 => (|| {
                Some(Msg::Relay {
                    job: r.str(MAX_JOB_NAME)?,
                    rank: r.u32()?,
                    peer: r.u32()?,
                    mac: r.array32()?,
                })
            })()
            .ok_or_else(|| bad("relay"))?,
            13 => Msg::RelayReady,
            14 => Msg::NeedVerifier,
            k => return Err(ProtoError(format!("unknown control message kind {k}"))),
        };
        if !r.is_empty() {
            return Err(ProtoError(format!(
                "trailing bytes after control message kind {kind}"
            )));
        }
        Ok(msg)
    }
}

/// Incremental decoder of a byte stream into messages. Feed it what the socket gave;
/// take messages out until it has none.
#[derive(Default)]
pub struct FrameReader {
    buf: Vec<u8>,
}

impl FrameReader {
    /// Appends bytes read from the socket.
    pub fn push(&mut self, data: &[u8]) {
        self.buf.extend_from_slice(data);
    }

    /// The next whole message, `Ok(None)` if more bytes are needed, or an error if
    /// the stream is garbage (then the connection must be dropped).
    pub fn next_msg(&mut self) -> Result<Option<Msg>, ProtoError> {
        if self.buf.len() < 4 {
            return Ok(None);
        }
        let len = u32::from_le_bytes([self.buf[0], self.buf[1], self.buf[2], self.buf[3]]) as usize;
        if len == 0 || len > MAX_FRAME {
            return Err(ProtoError(format!(
                "control frame length {len} out of range"
            )));
        }
        if self.buf.len() < 4 + len {
            return Ok(None);
        }
        let msg = Msg::decode(&self.buf[4..4 + len]);
        self.buf.drain(..4 + len);
        msg.map(Some)
    }

    /// Takes every byte buffered but not yet decoded. A relay connection stops being
    /// framed after its `Relay` message; what came with it belongs to the peer.
    pub fn take_rest(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.buf)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn addr() -> impl Strategy<Value = SocketAddr> {
        (any::<[u8; 4]>(), any::<u16>()).prop_map(|(ip, p)| SocketAddr::from((ip, p)))
    }

    fn msg() -> impl Strategy<Value = Msg> {
        prop_oneof![
            (any::<u16>(), any::<[u8; 32]>())
                .prop_map(|(version, nonce)| Msg::Challenge { version, nonce }),
            (
                "[a-z0-9-]{0,40}",
                any::<u32>(),
                any::<u32>(),
                proptest::collection::vec(addr(), 0..MAX_CANDIDATES),
                any::<[u8; 32]>(),
                proptest::option::of(any::<[u8; 32]>())
            )
                .prop_map(|(job, rank, size, candidates, mac, verifier)| {
                    Msg::Register {
                        version: VERSION,
                        job,
                        rank,
                        size,
                        candidates,
                        mac,
                        verifier,
                    }
                }),
            addr().prop_map(|reflexive| Msg::Registered { reflexive }),
            ".{0,40}".prop_map(|reason| Msg::Refused {
                code: RefuseCode::Auth,
                reason
            }),
            any::<u32>().prop_map(|rank| Msg::WantPeer { rank }),
            (any::<u32>(), proptest::collection::vec(addr(), 0..4))
                .prop_map(|(rank, candidates)| Msg::PeerInfo { rank, candidates }),
            any::<u32>().prop_map(|rank| Msg::PeerLost { rank }),
            any::<u32>().prop_map(|rank| Msg::PeerLeft { rank }),
            any::<i32>().prop_map(|code| Msg::Abort { code }),
            (any::<u32>(), any::<i32>()).prop_map(|(rank, code)| Msg::Aborted { rank, code }),
            Just(Msg::Bye),
            (
                "[a-z0-9-]{0,40}",
                any::<u32>(),
                any::<u32>(),
                any::<[u8; 32]>()
            )
                .prop_map(|(job, rank, peer, mac)| Msg::Relay {
                    job,
                    rank,
                    peer,
                    mac
                }),
            Just(Msg::RelayReady),
            Just(Msg::NeedVerifier),
        ]
    }

    /// A stream that is partly valid frames and partly anything: garbage, lengths
    /// past `MAX_FRAME`, truncated frames.
    fn stream() -> impl Strategy<Value = Vec<u8>> {
        let piece = prop_oneof![
            msg().prop_map(|m| m.encode()),
            proptest::collection::vec(any::<u8>(), 0..64),
            (MAX_FRAME as u32 + 1..=u32::MAX).prop_map(|l| l.to_le_bytes().to_vec()),
            (
                0..=MAX_FRAME as u32,
                proptest::collection::vec(any::<u8>(), 0..64)
            )
                .prop_map(|(l, body)| {
                    let mut v = l.to_le_bytes().to_vec();
                    v.extend(body);
                    v
                }),
        ];
        proptest::collection::vec(piece, 0..12).prop_map(|p| p.concat())
    }

    proptest! {
        #[test]
        fn roundtrip_through_stream(msgs in proptest::collection::vec(msg(), 1..8), split in 0usize..64) {
            let bytes: Vec<u8> = msgs.iter().flat_map(|m| m.encode()).collect();
            let mut fr = FrameReader::default();
            let cut = split.min(bytes.len());
            fr.push(&bytes[..cut]);
            let mut out = Vec::new();
            while let Some(m) = fr.next_msg().unwrap() { out.push(m); }
            fr.push(&bytes[cut..]);
            while let Some(m) = fr.next_msg().unwrap() { out.push(m); }
            prop_assert_eq!(out, msgs);
        }

        #[test]
        fn garbage_never_panics(b in proptest::collection::vec(any::<u8>(), 0..300)) {
            let mut fr = FrameReader::default();
            fr.push(&b);
            for _ in 0..8 {
                match fr.next_msg() { Ok(Some(_)) => continue, _ => break }
            }
        }
    }

    proptest! {
        /// Whatever the stream and however it is cut, the reader yields messages,
        /// asks for more or errors; it never panics, and when it asks for more it
        /// holds less than one largest frame.
        #[test]
        fn any_stream_cut_anywhere(bytes in stream(), cuts in proptest::collection::vec(any::<usize>(), 0..16)) {
            let mut cuts: Vec<usize> = cuts.iter().map(|c| c % (bytes.len() + 1)).collect();
            cuts.push(bytes.len());
            cuts.sort_unstable();
            let mut fr = FrameReader::default();
            let mut from = 0;
            'feed: for cut in cuts {
                fr.push(&bytes[from..cut]);
                from = cut;
                loop {
                    match fr.next_msg() {
                        Ok(Some(m)) => {
                            // Whatever decodes re-encodes to a frame that decodes the same.
                            let again = m.encode();
                            prop_assert_eq!(Msg::decode(&again[4..]), Ok(m));
                        }
                        Ok(None) => {
                            prop_assert!(fr.buf.len() < 4 + MAX_FRAME);
                            break;
                        }
                        Err(_) => break 'feed,
                    }
                }
            }
        }
    }

    #[test]
    fn register_verifier_flag_is_strict() {
        let m = Msg::Register {
            version: VERSION,
            job: "j".into(),
            rank: 1,
            size: 2,
            candidates: vec![],
            mac: [7; 32],
            verifier: None,
        };
        let mut b = m.encode();
        assert_eq!(Msg::decode(&b[4..]), Ok(m));
        // A flag other than 0 or 1 is malformed, not a verifier.
        *b.last_mut().unwrap() = 2;
        assert!(Msg::decode(&b[4..]).is_err());
        // With the flag set, the verifier must follow whole.
        *b.last_mut().unwrap() = 1;
        b.extend_from_slice(&[9; 31]);
        assert!(Msg::decode(&b[4..]).is_err());
        b.push(9);
        assert!(matches!(
            Msg::decode(&b[4..]),
            Ok(Msg::Register { verifier: Some(v), .. }) if v == [9; 32]
        ));
    }

    #[test]
    fn take_rest_hands_over_what_follows_a_frame() {
        let mut fr = FrameReader::default();
        let mut b = Msg::RelayReady.encode();
        b.extend_from_slice(b"peer bytes");
        fr.push(&b);
        assert_eq!(fr.next_msg(), Ok(Some(Msg::RelayReady)));
        assert_eq!(fr.take_rest(), b"peer bytes");
        assert_eq!(fr.next_msg(), Ok(None));
    }

    #[test]
    fn rejects_oversized_frames() {
        let mut fr = FrameReader::default();
        fr.push(&((MAX_FRAME + 1) as u32).to_le_bytes());
        assert!(fr.next_msg().is_err());
    }
}
