//! The direct TCP channel: one connection to one peer. Reads arrive in a staging
//! buffer and are cut into frames; large payloads go straight from the socket into the
//! destination buffer. Writes are queued and sent with `writev`, several frames per
//! call when they pile up. The authentication handshake payloads are encoded here.

use super::RawBuf;
use crate::auth::Tag;
use crate::wire::{Header, Kind, Reader, Writer, HEADER_LEN};
use std::collections::VecDeque;
use std::io::{self, IoSlice, Read, Write};

/// Staging buffer size for reads.
const RBUF_LEN: usize = 64 * 1024;
/// Payload remainders at least this large are read straight into the destination.
const DIRECT_READ_MIN: u64 = 8 * 1024;
/// Most frames gathered into one `writev`.
const MAX_IOV: usize = 64;
/// Linux writes at most this much in one call.
const MAX_WRITE: usize = 0x7fff_f000;

/// Where the payload of an arriving frame goes.
pub enum Dest {
    /// Dropped (the rest of a truncated message, a cancelled receive).
    Discard,
    /// Kept in memory (unexpected messages, handshake frames).
    Owned(Vec<u8>),
    /// Written into a caller's buffer; the cookie tells the engine whose.
    User(RawBuf, u64),
}

/// Why a connection must be dropped.
#[derive(Debug)]
pub enum ConnError {
    /// The peer closed the connection.
    Closed,
    Io(io::Error),
    /// The peer sent something that violates the protocol.
    Protocol(String),
}

impl std::fmt::Display for ConnError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ConnError::Closed => f.write_str("connection closed by peer"),
            ConnError::Io(e) => write!(f, "I/O error: {e}"),
            ConnError::Protocol(m) => write!(f, "protocol violation: {m}"),
        }
    }
}

/// What the engine does with arriving frames.
pub trait FrameSink {
    /// Where the payload of `hdr` goes, and how many of its bytes to keep (the rest is
    /// discarded: truncation). Called once the header is in.
    fn payload_dest(&mut self, conn: usize, hdr: &Header) -> Result<(Dest, u64), String>;
    /// A frame is complete (its payload, if any, is in `dest`).
    fn on_frame(&mut self, conn: usize, hdr: Header, dest: Dest) -> Result<(), String>;
}

struct RxPayload {
    hdr: Header,
    dest: Dest,
    keep: u64,
    got: u64,
}

impl RxPayload {
    /// Stores the next bytes of the payload.
    fn store(&mut self, data: &[u8]) {
        let keep_left = self.keep.saturating_sub(self.got) as usize;
        let n = keep_left.min(data.len());
        match &mut self.dest {
            Dest::Discard => {}
            Dest::Owned(v) => v.extend_from_slice(&data[..n]),
            Dest::User(b, _) => b.write_at(self.got as usize, &data[..n]),
        }
        self.got += data.len() as u64;
    }
}

enum Payload {
    Owned(Vec<u8>),
    User(RawBuf),
}

impl Payload {
    fn bytes(&self) -> &[u8] {
        match self {
            Payload::Owned(v) => v,
            Payload::User(b) => b.slice(0, b.len()),
        }
    }
}

struct OutItem {
    hdr: [u8; HEADER_LEN],
    payload: Payload,
    /// Bytes of header+payload already written.
    off: usize,
    /// Reported through `flush` when the item is fully written.
    notify: Option<u64>,
}

impl OutItem {
    fn total(&self) -> usize {
        HEADER_LEN + self.payload.bytes().len()
    }
}

/// One TCP connection to a peer.
pub struct Conn {
    pub stream: mio::net::TcpStream,
    rbuf: Box<[u8]>,
    rstart: usize,
    rend: usize,
    rx: Option<RxPayload>,
    out: VecDeque<OutItem>,
    queued: usize,
    /// Edge-triggered bookkeeping: cleared when a write would block.
    pub writable: bool,
    /// Half-close the connection once the queue is empty (orderly leave).
    close_after_flush: bool,
    /// The last read returned less than asked: the socket is empty, and new data will
    /// raise a new edge-triggered event, so another read now would only say EAGAIN.
    /// Not so for an end of stream that arrived before that read: a short read
    /// returns the data and leaves the EOF for the next read, with no new event.
    drained: bool,
    /// The peer closed its side or the connection failed (sticky).
    hup: bool,
}

impl Conn {
    pub fn new(stream: mio::net::TcpStream) -> Conn {
        let _ = stream.set_nodelay(true);
        Conn {
            stream,
            rbuf: vec![0u8; RBUF_LEN].into_boxed_slice(),
            rstart: 0,
            rend: 0,
            rx: None,
            out: VecDeque::new(),
            queued: 0,
            // Optimistic: a write that would block clears it, and the edge-triggered
            // writable event sets it again.
            writable: true,
            close_after_flush: false,
            drained: false,
            hup: false,
        }
    }

    /// Bytes waiting in the write queue.
    pub fn queued(&self) -> usize {
        self.queued
    }

    /// Reads into the staging buffer. `Ok(false)` when the socket has nothing more.
    fn fill(&mut self) -> Result<bool, ConnError> {
        if self.rstart == self.rend {
            self.rstart = 0;
            self.rend = 0;
        } else if self.rstart > 0 {
            self.rbuf.copy_within(self.rstart..self.rend, 0);
            self.rend -= self.rstart;
            self.rstart = 0;
        }
        if self.drained {
            return Ok(false);
        }
        loop {
            let room = self.rbuf.len() - self.rend;
            match self.stream.read(&mut self.rbuf[self.rend..]) {
                Ok(0) => return Err(ConnError::Closed),
                Ok(n) => {
                    self.rend += n;
                    self.drained = n < room && !self.hup;
                    return Ok(true);
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(false),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(ConnError::Io(e)),
            }
        }
    }

    /// Reads and dispatches frames until the socket would block. `hup`: the event
    /// that woke us says the peer closed or failed, so read until the read says so
    /// (never trust a short read to mean "empty" then).
    pub fn pump(
        &mut self,
        id: usize,
        sink: &mut impl FrameSink,
        hup: bool,
    ) -> Result<(), ConnError> {
        self.hup |= hup;
        self.drained = false;
        loop {
            let Some(p) = self.rx.as_mut() else {
                if self.rend - self.rstart >= HEADER_LEN {
                    let mut hb = [0u8; HEADER_LEN];
                    hb.copy_from_slice(&self.rbuf[self.rstart..self.rstart + HEADER_LEN]);
                    self.rstart += HEADER_LEN;
                    let hdr =
                        Header::decode(&hb).map_err(|e| ConnError::Protocol(e.to_string()))?;
                    if hdr.kind.has_payload() {
                        let (dest, keep) =
                            sink.payload_dest(id, &hdr).map_err(ConnError::Protocol)?;
                        self.rx = Some(RxPayload {
                            hdr,
                            dest,
                            keep: keep.min(hdr.len),
                            got: 0,
                        });
                    } else {
                        sink.on_frame(id, hdr, Dest::Discard)
                            .map_err(ConnError::Protocol)?;
                    }
                } else if !self.fill()? {
                    return Ok(());
                }
                continue;
            };
            let remaining = p.hdr.len - p.got;
            if remaining == 0 {
                if let Some(p) = self.rx.take() {
                    sink.on_frame(id, p.hdr, p.dest)
                        .map_err(ConnError::Protocol)?;
                }
                continue;
            }
            let avail = self.rend - self.rstart;
            if avail > 0 {
                let n = (avail as u64).min(remaining) as usize;
                p.store(&self.rbuf[self.rstart..self.rstart + n]);
                self.rstart += n;
                continue;
            }
            // Staging buffer empty: large remainders go straight to the destination.
            let keep_left = p.keep.saturating_sub(p.got);
            if let (Dest::User(b, _), true) = (&p.dest, keep_left >= DIRECT_READ_MIN) {
                if self.drained {
                    return Ok(());
                }
                let want = keep_left.min(MAX_WRITE as u64) as usize;
                let slice = b.slice_mut(p.got as usize, want);
                match self.stream.read(slice) {
                    Ok(0) => return Err(ConnError::Closed),
                    Ok(n) => {
                        p.got += n as u64;
                        self.drained = n < want && !self.hup;
                    }
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(()),
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) => return Err(ConnError::Io(e)),
                }
            } else if !self.fill()? {
                return Ok(());
            }
        }
    }

    /// Queues a frame whose payload is copied now (the caller's buffer is free as soon
    /// as this returns). Writes at once when the queue is empty, without copying.
    pub fn send_copy(&mut self, hdr: &Header, payload: &[u8]) -> Result<(), ConnError> {
        let h = hdr.encode();
        let mut off = 0;
        let total = HEADER_LEN + payload.len();
        // Write until done or the socket says it is full: only a write that would
        // block guarantees the edge-triggered writable event that resumes the queue.
        while self.out.is_empty() && self.writable && off < total {
            off += if off < HEADER_LEN {
                self.write_direct(&h[off..], payload)?
            } else {
                self.write_direct(&[], &payload[off - HEADER_LEN..])?
            };
        }
        if off == total {
            return Ok(());
        }
        let item = if off <= HEADER_LEN {
            OutItem {
                hdr: h,
                payload: Payload::Owned(payload.to_vec()),
                off,
                notify: None,
            }
        } else {
            // Keep only the unwritten part; the header counts as written.
            OutItem {
                hdr: h,
                payload: Payload::Owned(payload[off - HEADER_LEN..].to_vec()),
                off: HEADER_LEN,
                notify: None,
            }
        };
        self.queued += item.total() - item.off;
        self.out.push_back(item);
        Ok(())
    }

    /// Queues a frame whose payload stays in the caller's buffer until it is written;
    /// `notify` is reported by `flush` then.
    pub fn send_user(&mut self, hdr: &Header, payload: RawBuf, notify: u64) {
        let item = OutItem {
            hdr: hdr.encode(),
            payload: Payload::User(payload),
            off: 0,
            notify: Some(notify),
        };
        self.queued += item.total();
        self.out.push_back(item);
    }

    fn write_direct(&mut self, h: &[u8], payload: &[u8]) -> Result<usize, ConnError> {
        let iov = [
            IoSlice::new(h),
            IoSlice::new(&payload[..payload.len().min(MAX_WRITE)]),
        ];
        loop {
            match self.stream.write_vectored(&iov) {
                Ok(n) => return Ok(n),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    self.writable = false;
                    return Ok(0);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(ConnError::Io(e)),
            }
        }
    }

    /// Bytes written to the socket that the peer's kernel has not acknowledged yet
    /// (including our FIN once the connection is half-closed).
    pub fn unacked(&self) -> usize {
        use std::os::fd::AsRawFd;
        let mut n: libc::c_int = 0;
        // SAFETY: TIOCOUTQ (SIOCOUTQ for TCP sockets) writes one int through the
        // pointer, which points at a live local.
        let r = unsafe {
            libc::ioctl(
                self.stream.as_raw_fd(),
                libc::TIOCOUTQ,
                &mut n as *mut libc::c_int,
            )
        };
        if r < 0 {
            0
        } else {
            n as usize
        }
    }

    /// Half-closes the connection (no more writes) once everything queued is sent.
    pub fn close_when_flushed(&mut self, done: &mut Vec<u64>) -> Result<(), ConnError> {
        self.close_after_flush = true;
        self.flush(done)
    }

    /// Writes queued frames until the queue is empty or the socket would block.
    /// Tokens of fully written `send_user` frames are appended to `done`.
    pub fn flush(&mut self, done: &mut Vec<u64>) -> Result<(), ConnError> {
        self.flush_queue(done)?;
        if self.close_after_flush && self.out.is_empty() {
            self.close_after_flush = false;
            let _ = self.stream.shutdown(std::net::Shutdown::Write);
        }
        Ok(())
    }

    fn flush_queue(&mut self, done: &mut Vec<u64>) -> Result<(), ConnError> {
        while !self.out.is_empty() && self.writable {
            let mut iov: Vec<IoSlice> = Vec::with_capacity(2 * MAX_IOV.min(self.out.len()));
            let mut budget = MAX_WRITE;
            for item in self.out.iter().take(MAX_IOV) {
                let mut off = item.off;
                if off < HEADER_LEN {
                    iov.push(IoSlice::new(&item.hdr[off..]));
                    budget -= HEADER_LEN - off;
                    off = HEADER_LEN;
                }
                let p = &item.payload.bytes()[off - HEADER_LEN..];
                let n = p.len().min(budget);
                if n > 0 {
                    iov.push(IoSlice::new(&p[..n]));
                    budget -= n;
                }
                if budget < HEADER_LEN {
                    break;
                }
            }
            let mut n = match self.stream.write_vectored(&iov) {
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    self.writable = false;
                    return Ok(());
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(ConnError::Io(e)),
            };
            drop(iov);
            self.queued -= n;
            while n > 0 {
                let Some(front) = self.out.front_mut() else {
                    break;
                };
                let left = front.total() - front.off;
                if n >= left {
                    n -= left;
                    if let Some(t) = self.out.pop_front().and_then(|i| i.notify) {
                        done.push(t);
                    }
                } else {
                    front.off += n;
                    n = 0;
                }
            }
            // Zero-length frames complete without any byte written for them.
            while self.out.front().is_some_and(|f| f.total() == f.off) {
                if let Some(t) = self.out.pop_front().and_then(|i| i.notify) {
                    done.push(t);
                }
            }
        }
        Ok(())
    }

    /// Tokens of `send_user` frames still queued (to fail them when the connection dies).
    pub fn pending_notifies(&self) -> impl Iterator<Item = u64> + '_ {
        self.out.iter().filter_map(|i| i.notify)
    }

    /// Forgets a queued `send_user` frame whose buffer is going away. If some of it
    /// was already written the stream cannot be kept consistent; returns false then.
    pub fn withdraw(&mut self, notify: u64) -> bool {
        match self.out.iter().position(|i| i.notify == Some(notify)) {
            None => true,
            Some(pos) => {
                if self.out[pos].off > 0 {
                    return false;
                }
                if let Some(i) = self.out.remove(pos) {
                    self.queued -= i.total();
                }
                true
            }
        }
    }

    /// Redirects the payload being received into `Discard` if it targets `buf` (its
    /// receive was cancelled).
    pub fn discard_rx_if(&mut self, pred: impl Fn(&Header) -> bool) {
        if let Some(p) = self.rx.as_mut() {
            if pred(&p.hdr) {
                p.dest = Dest::Discard;
                p.keep = 0;
            }
        }
    }
}

/// The connector's greeting.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hello {
    pub job: String,
    pub from: u32,
    pub to: u32,
    pub nonce: Tag,
}

impl Hello {
    pub fn encode(&self) -> Vec<u8> {
        let mut w = Writer::default();
        w.str(&self.job)
            .u32(self.from)
            .u32(self.to)
            .bytes(&self.nonce);
        w.buf
    }
    pub fn decode(b: &[u8]) -> Option<Hello> {
        let mut r = Reader::new(b);
        let h = Hello {
            job: r.str(crate::punch::proto::MAX_JOB_NAME)?,
            from: r.u32()?,
            to: r.u32()?,
            nonce: r.array32()?,
        };
        r.is_empty().then_some(h)
    }
}

/// Encodes two tags (HelloAck: nonce and MAC).
pub fn encode_tags(a: &Tag, b: &Tag) -> Vec<u8> {
    let mut v = Vec::with_capacity(64);
    v.extend_from_slice(a);
    v.extend_from_slice(b);
    v
}

/// Decodes a payload of exactly `N` tags.
pub fn decode_tags<const N: usize>(b: &[u8]) -> Option<[Tag; N]> {
    if b.len() != 32 * N {
        return None;
    }
    let mut out = [[0u8; 32]; N];
    for (i, t) in out.iter_mut().enumerate() {
        t.copy_from_slice(&b[32 * i..32 * (i + 1)]);
    }
    Some(out)
}

/// Header of a handshake frame with `len` payload bytes.
pub fn handshake_header(kind: Kind, len: usize) -> Header {
    Header::new(kind, 0, 0, len as u64, 0)
}
