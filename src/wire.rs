//! Frames on a peer connection: one fixed 32-byte header, optionally followed by a
//! payload. Every byte that arrives from the network is decoded here and nowhere else,
//! so this is the unit that is property-tested against arbitrary input.
//!
//! Layout (little endian):
//! ```text
//!  0  u8   kind
//!  1  u8   zero
//!  2  u16  zero
//!  4  u32  ctx      context id (communicator, with the low bit for collectives)
//!  8  i32  tag      user tag (>= 0) or internal collective tag
//! 12  u32  zero
//! 16  u64  len      payload bytes that follow (Rts: size of the announced message)
//! 24  u64  token    sender's token of a rendezvous send (Rts, Cts, Data)
//! ```

/// Size of every frame header.
pub const HEADER_LEN: usize = 32;
/// Largest payload of a handshake frame.
pub const MAX_HANDSHAKE_PAYLOAD: u64 = 4096;
/// Largest eager payload a receiver accepts, whatever the sender's configuration.
pub const MAX_EAGER_PAYLOAD: u64 = 16 << 20;

/// What a frame is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Kind {
    /// Connector's greeting: job, ranks, nonce.
    Hello = 1,
    /// Acceptor's answer: its nonce and its proof.
    HelloAck = 2,
    /// Connector's proof; after it the connection carries messages.
    Proof = 3,
    /// A whole small message.
    Eager = 4,
    /// Request to send a large message (no payload).
    Rts = 5,
    /// Clear to send `len` bytes of the message named by `token`.
    Cts = 6,
    /// Payload of a rendezvous message.
    Data = 7,
    /// Orderly close: the peer freed its last communicator.
    Goodbye = 8,
    /// A higher rank's greeting on a connection it dialled: "I am rank `from`; you
    /// (the lower rank) lead the handshake". Carries a Hello with a zero nonce and
    /// proves nothing; the handshake that follows does.
    Knock = 9,
    /// The handshake failed authentication on the other side; payload: its reason.
    Refused = 10,
}

impl Kind {
    fn from_u8(v: u8) -> Option<Kind> {
        Some(match v {
            1 => Kind::Hello,
            2 => Kind::HelloAck,
            3 => Kind::Proof,
            4 => Kind::Eager,
            5 => Kind::Rts,
            6 => Kind::Cts,
            7 => Kind::Data,
            8 => Kind::Goodbye,
            9 => Kind::Knock,
            10 => Kind::Refused,
            _ => return None,
        })
    }

    /// Whether the header is followed by `len` payload bytes.
    pub fn has_payload(self) -> bool {
        !matches!(self, Kind::Rts | Kind::Cts | Kind::Goodbye)
    }
}

/// A decoded frame header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    pub kind: Kind,
    pub ctx: u32,
    pub tag: i32,
    pub len: u64,
    pub token: u64,
}

/// Why bytes from the network were rejected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WireError {
    UnknownKind(u8),
    NonZeroReserved,
    TooLong { kind: Kind, len: u64, max: u64 },
}

impl std::fmt::Display for WireError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            WireError::UnknownKind(k) => write!(f, "unknown frame kind {k}"),
            WireError::NonZeroReserved => write!(f, "reserved header bytes are not zero"),
            WireError::TooLong { kind, len, max } => {
                write!(
                    f,
                    "{kind:?} frame of {len} bytes exceeds the limit of {max}"
                )
            }
        }
    }
}

impl Header {
    pub fn new(kind: Kind, ctx: u32, tag: i32, len: u64, token: u64) -> Header {
        Header {
            kind,
            ctx,
            tag,
            len,
            token,
        }
    }

    /// Encodes the header into its 32 bytes.
    pub fn encode(&self) -> [u8; HEADER_LEN] {
        let mut b = [0u8; HEADER_LEN];
        b[0] = self.kind as u8;
        b[4..8].copy_from_slice(&self.ctx.to_le_bytes());
        b[8..12].copy_from_slice(&self.tag.to_le_bytes());
        b[16..24].copy_from_slice(&self.len.to_le_bytes());
        b[24..32].copy_from_slice(&self.token.to_le_bytes());
        b
    }

    /// Decodes and validates a header. Payload limits that depend on the receiver's
    /// state (a Data frame longer than what was cleared) are checked by the caller.
    pub fn decode(b: &[u8; HEADER_LEN]) -> Result<Header, WireError> {
        let kind = Kind::from_u8(b[0]).ok_or(WireError::UnknownKind(b[0]))?;
        if b[1..4].iter().chain(&b[12..16]).any(|&x| x != 0) {
            return Err(WireError::NonZeroReserved);
        }
        let u32_at = |i: usize| u32::from_le_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]]);
        let u64_at = |i: usize| {
            let mut a = [0u8; 8];
            a.copy_from_slice(&b[i..i + 8]);
            u64::from_le_bytes(a)
        };
        let h = Header {
            kind,
            ctx: u32_at(4),
            tag: u32_at(8) as i32,
            len: u64_at(16),
            token: u64_at(24),
        };
        let max = match kind {
            Kind::Hello | Kind::HelloAck | Kind::Proof | Kind::Knock | Kind::Refused => {
                MAX_HANDSHAKE_PAYLOAD
            }
            Kind::Eager => MAX_EAGER_PAYLOAD,
            Kind::Goodbye => 0,
            Kind::Rts | Kind::Cts | Kind::Data => u64::MAX,
        };
        if h.len > max {
            return Err(WireError::TooLong {
                kind,
                len: h.len,
                max,
            });
        }
        Ok(h)
    }
}

/// A little cursor for the variable parts of handshake and control messages.
/// Every read is bounds-checked and returns `None` on short input.
pub struct Reader<'a> {
    buf: &'a [u8],
}

impl<'a> Reader<'a> {
    pub fn new(buf: &'a [u8]) -> Self {
        Reader { buf }
    }
    pub fn bytes(&mut self, n: usize) -> Option<&'a [u8]> {
        if self.buf.len() < n {
            return None;
        }
        let (a, b) = self.buf.split_at(n);
        self.buf = b;
        Some(a)
    }
    pub fn u8(&mut self) -> Option<u8> {
        self.bytes(1).map(|b| b[0])
    }
    pub fn u16(&mut self) -> Option<u16> {
        self.bytes(2).map(|b| u16::from_le_bytes([b[0], b[1]]))
    }
    pub fn u32(&mut self) -> Option<u32> {
        self.bytes(4)
            .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }
    pub fn i32(&mut self) -> Option<i32> {
        self.u32().map(|v| v as i32)
    }
    pub fn array32(&mut self) -> Option<[u8; 32]> {
        let mut a = [0u8; 32];
        a.copy_from_slice(self.bytes(32)?);
        Some(a)
    }
    /// A string of at most `max` bytes, prefixed by its u16 length.
    pub fn str(&mut self, max: usize) -> Option<String> {
        let n = self.u16()? as usize;
        if n > max {
            return None;
        }
        String::from_utf8(self.bytes(n)?.to_vec()).ok()
    }
    /// A socket address: family byte (4 or 6), address, port.
    pub fn addr(&mut self) -> Option<std::net::SocketAddr> {
        use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
        let ip: std::net::IpAddr = match self.u8()? {
            4 => {
                let b = self.bytes(4)?;
                Ipv4Addr::new(b[0], b[1], b[2], b[3]).into()
            }
            6 => {
                let mut a = [0u8; 16];
                a.copy_from_slice(self.bytes(16)?);
                Ipv6Addr::from(a).into()
            }
            _ => return None,
        };
        Some(SocketAddr::new(ip, self.u16()?))
    }
    pub fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }
}

/// The writing counterpart of [`Reader`].
#[derive(Default)]
pub struct Writer {
    pub buf: Vec<u8>,
}

impl Writer {
    pub fn u8(&mut self, v: u8) -> &mut Self {
        self.buf.push(v);
        self
    }
    pub fn u16(&mut self, v: u16) -> &mut Self {
        self.buf.extend_from_slice(&v.to_le_bytes());
        self
    }
    pub fn u32(&mut self, v: u32) -> &mut Self {
        self.buf.extend_from_slice(&v.to_le_bytes());
        self
    }
    pub fn i32(&mut self, v: i32) -> &mut Self {
        self.u32(v as u32)
    }
    pub fn bytes(&mut self, v: &[u8]) -> &mut Self {
        self.buf.extend_from_slice(v);
        self
    }
    /// Writes a string with a u16 length prefix; longer strings are cut (callers
    /// validate lengths before they get here).
    pub fn str(&mut self, s: &str) -> &mut Self {
        let b = &s.as_bytes()[..s.len().min(u16::MAX as usize)];
        self.u16(b.len() as u16).bytes(b)
    }
    pub fn addr(&mut self, a: &std::net::SocketAddr) -> &mut Self {
        match a.ip() {
            std::net::IpAddr::V4(ip) => self.u8(4).bytes(&ip.octets()),
            std::net::IpAddr::V6(ip) => self.u8(6).bytes(&ip.octets()),
        };
        self.u16(a.port())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn kind() -> impl Strategy<Value = Kind> {
        (1u8..=10).prop_map(|k| Kind::from_u8(k).unwrap())
    }

    proptest! {
        #[test]
        fn header_roundtrips(k in kind(), ctx: u32, tag: i32, len in 0u64..4096, token: u64) {
            let h = Header::new(k, ctx, tag, if k == Kind::Goodbye { 0 } else { len }, token);
            prop_assert_eq!(Header::decode(&h.encode()), Ok(h));
        }

        #[test]
        fn arbitrary_bytes_never_panic(b in proptest::array::uniform32(any::<u8>())) {
            if let Ok(h) = Header::decode(&b) {
                // Whatever decodes re-encodes to the same bytes: no hidden state.
                prop_assert_eq!(h.encode(), b);
            }
        }

        #[test]
        fn reader_never_panics(b in proptest::collection::vec(any::<u8>(), 0..64)) {
            let mut r = Reader::new(&b);
            let _ = r.str(16);
            let _ = r.addr();
            let _ = r.array32();
            let _ = r.u32();
        }

        #[test]
        fn addr_roundtrips(a: std::net::SocketAddr) {
            let mut w = Writer::default();
            w.addr(&a);
            let mut r = Reader::new(&w.buf);
            // Flow info and scope ids are not carried.
            let back = r.addr().unwrap();
            prop_assert_eq!(back.ip(), a.ip());
            prop_assert_eq!(back.port(), a.port());
        }
    }

    #[test]
    fn rejects_oversized_and_unknown() {
        let mut b = Header::new(Kind::Eager, 0, 0, MAX_EAGER_PAYLOAD + 1, 0).encode();
        assert!(matches!(Header::decode(&b), Err(WireError::TooLong { .. })));
        b[0] = 99;
        assert_eq!(Header::decode(&b), Err(WireError::UnknownKind(99)));
        let mut b = Header::new(Kind::Eager, 0, 0, 1, 0).encode();
        b[13] = 1;
        assert_eq!(Header::decode(&b), Err(WireError::NonZeroReserved));
        let h = Header::new(Kind::Hello, 0, 0, MAX_HANDSHAKE_PAYLOAD + 1, 0);
        assert!(Header::decode(&h.encode()).is_err());
    }
}
