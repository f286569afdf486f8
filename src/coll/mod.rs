//! Collective algorithms, written once over the point-to-point layer, one file per
//! collective. They run on the communicator's collective context, so they never
//! match user messages; per-pair delivery is FIFO, so one tag per phase is enough.
//!
//! Buffers are byte slices; counts are implied by their lengths (per rank, as in the
//! C API). Where the C API accepts `FMI_IN_PLACE`, the send side is an `Option`:
//! `None` means "the input is already in the receive buffer".
//!
//! Conventions every algorithm keeps:
//! - reductions always combine `lower ranks (op) higher ranks`, so non-commutative
//!   ops see rank order and partners that compute the same value get the same bits;
//! - the order of combination depends only on rank structure, never on which
//!   message arrives first, so results are reproducible run to run;
//! - a message of the wrong size (ranks that disagree about a count) is recorded and
//!   the algorithm runs to its end, so that no peer is left waiting; the collective
//!   then fails with `FMI_ERR_ARG` (too short) or `FMI_ERR_TRUNCATE` (too long).
//!   Ranks that disagree so much that they pick different algorithms fail with a
//!   timeout instead.

pub mod allgather;
pub mod allgatherv;
pub mod allreduce;
pub mod alltoall;
pub mod alltoallv;
pub mod barrier;
pub mod bcast;
pub mod chain;
pub mod gather;
pub mod gatherv;
pub mod recursive_doubling;
pub mod reduce;
pub mod reduce_scatter;
pub mod ring;
pub mod scan;
pub mod scatter;
pub mod scatterv;
pub(crate) mod storage;
pub mod tree;

pub use allgather::allgather;
pub use allgatherv::allgatherv;
pub use allreduce::allreduce;
pub use alltoall::alltoall;
pub use alltoallv::alltoallv;
pub use barrier::barrier;
pub use bcast::bcast;
pub use gather::gather;
pub use gatherv::gatherv;
pub use reduce::reduce;
pub use reduce_scatter::reduce_scatter_block;
pub use scan::{exscan, scan};
pub use scatter::scatter;
pub use scatterv::scatterv;

use crate::channel::RawBuf;
use crate::comm::{status_result, Comm, Request};
use crate::error::{Error, ErrorKind, Result};
use std::marker::PhantomData;
use std::ops::Range;

/// Internal tags, one per collective phase, to make stray messages easy to tell apart.
pub(crate) mod tags {
    pub const BARRIER: i32 = 1;
    pub const ALLGATHER: i32 = 2;
    pub const BCAST: i32 = 3;
    pub const BCAST_SCATTER: i32 = 4;
    pub const BCAST_RING: i32 = 5;
    pub const REDUCE: i32 = 6;
    pub const REDUCE_GATHER: i32 = 7;
    pub const RING_RS: i32 = 8;
    pub const RING_AG: i32 = 9;
    pub const ALLREDUCE: i32 = 10;
    pub const SCAN: i32 = 11;
    pub const GATHER: i32 = 12;
    pub const SCATTER: i32 = 13;
    pub const ALLTOALL: i32 = 14;
    pub const GATHERV: i32 = 15;
    pub const SCATTERV: i32 = 16;
    pub const ALLGATHERV: i32 = 17;
    pub const ALLTOALLV: i32 = 18;
    pub const CHAIN: i32 = 19;
    /// `Comm::create_group`: this bit, or'ed with the low 20 bits of the user's tag.
    pub const CREATE_GROUP: i32 = 1 << 20;
    pub const FORWARD: i32 = 20;
}

/// The one table of algorithm switch points (bytes are per rank unless noted).
#[derive(Debug, Clone, Copy)]
pub struct Thresholds {
    /// Bcast: scatter + ring allgather from this many bytes ...
    pub bcast_scatter_allgather_bytes: usize,
    /// ... in groups of at least this many ranks (below: binomial tree).
    pub bcast_scatter_allgather_ranks: u32,
    /// Allreduce with a built-in op: ring reduce-scatter + allgather from this many
    /// bytes (below: recursive doubling).
    pub allreduce_ring_bytes: usize,
    /// Reduce with a built-in op: ring reduce-scatter + gather of the pieces to the
    /// root from this many bytes (below: binomial tree).
    pub reduce_scatter_gather_bytes: usize,
    /// Gather/scatter: binomial tree while the whole buffer (n x block) is at most
    /// this (the tree stages subtrees in temporaries); above, linear and zero-copy.
    pub gather_binomial_total: usize,
    /// Allgather: Bruck while the whole buffer is at most this; above, ring.
    pub allgather_bruck_total: usize,
    /// Alltoall: blocks up to this size go all at once (a window of requests);
    /// larger ones pairwise, one exchange at a time.
    pub alltoall_pairwise_block: usize,
    /// Requests in flight per window in alltoall(v), gatherv and scatterv.
    pub window: usize,
}

pub const THRESHOLDS: Thresholds = Thresholds {
    bcast_scatter_allgather_bytes: 256 << 10,
    bcast_scatter_allgather_ranks: 3,
    allreduce_ring_bytes: 64 << 10,
    reduce_scatter_gather_bytes: 256 << 10,
    gather_binomial_total: 64 << 10,
    allgather_bruck_total: 64 << 10,
    alltoall_pairwise_block: 32 << 10,
    window: 32,
};

/// Rank relative to `root` (the root is 0).
pub(crate) fn rel(r: u32, root: u32, n: u32) -> u32 {
    (r + n - root) % n
}

/// Rank from a rank relative to `root`.
pub(crate) fn abs(v: u32, root: u32, n: u32) -> u32 {
    (v + root) % n
}

pub(crate) fn check_root(root: u32, n: u32) -> Result<()> {
    if root >= n {
        return Err(Error::arg(format!(
            "root {root} is out of range (the communicator has {n} ranks)"
        )));
    }
    Ok(())
}

/// `n` byte ranges covering `len` bytes, cut at multiples of `elem` and as equal as
/// possible (the first `count % n` get one element more).
pub(crate) fn segments(len: usize, elem: usize, n: usize) -> Vec<Range<usize>> {
    let count = len / elem;
    let (q, r) = (count / n, count % n);
    let mut out = Vec::with_capacity(n);
    let mut off = 0;
    for i in 0..n {
        let c = q + usize::from(i < r);
        out.push(off..off + c * elem);
        off += c * elem;
    }
    out
}

/// A read-only and a writable view of two disjoint ranges of one buffer.
pub(crate) fn split2(
    buf: &mut [u8],
    read: Range<usize>,
    write: Range<usize>,
) -> (&[u8], &mut [u8]) {
    if read.is_empty() {
        return (&[], &mut buf[write]);
    }
    if write.is_empty() {
        return (&buf[read], &mut []);
    }
    if read.end <= write.start {
        let (a, b) = buf.split_at_mut(write.start);
        (&a[read], &mut b[..write.len()])
    } else {
        assert!(write.end <= read.start, "overlapping ranges");
        let (a, b) = buf.split_at_mut(read.start);
        (&b[..read.len()], &mut a[write])
    }
}

/// Disjoint writable views of `regions` (offset, length) of `buf`, in the order
/// given. Overlapping or out-of-range regions are an argument error.
pub(crate) fn carve<'a>(
    buf: &'a mut [u8],
    regions: &[(usize, usize)],
    what: &str,
) -> Result<Vec<&'a mut [u8]>> {
    let mut order: Vec<usize> = (0..regions.len()).collect();
    order.sort_by_key(|&i| regions[i].0);
    let mut out: Vec<Option<&'a mut [u8]>> = (0..regions.len()).map(|_| None).collect();
    let mut rest = buf;
    let mut cursor = 0usize;
    for i in order {
        let (off, len) = regions[i];
        if len == 0 {
            out[i] = Some(&mut []);
            continue;
        }
        if off < cursor {
            return Err(Error::arg(format!(
                "{what}: block {i} overlaps another block"
            )));
        }
        let end = off
            .checked_add(len)
            .filter(|&e| e - cursor <= rest.len())
            .ok_or_else(|| {
                Error::arg(format!(
                    "{what}: block {i} ({len} bytes at byte {off}) is outside the buffer"
                ))
            })?;
        let tail = std::mem::take(&mut rest);
        let (_, tail) = tail.split_at_mut(off - cursor);
        let (mine, tail) = tail.split_at_mut(len);
        out[i] = Some(mine);
        rest = tail;
        cursor = end;
    }
    Ok(out.into_iter().map(|s| s.unwrap_or_default()).collect())
}

/// Point to point for one collective phase: a tag, and the first size mismatch seen
/// (recorded so the algorithm can finish its communication before reporting it).
pub(crate) struct Xfer<'c> {
    comm: &'c Comm,
    tag: i32,
    what: &'static str,
    mismatch: Option<Error>,
}

impl<'c> Xfer<'c> {
    pub fn new(comm: &'c Comm, tag: i32, what: &'static str) -> Self {
        Xfer {
            comm,
            tag,
            what,
            mismatch: None,
        }
    }

    /// The same mismatch record, another phase's tag.
    pub fn with_tag(&mut self, tag: i32) -> &mut Self {
        self.tag = tag;
        self
    }

    pub fn comm(&self) -> &'c Comm {
        self.comm
    }

    /// Records a wrong message size, or returns a hard error (peer lost, timeout).
    fn received(&mut self, r: Result<usize>, want: usize, src: u32) -> Result<()> {
        match r {
            Ok(got) if got == want => Ok(()),
            Ok(got) => {
                self.note(Error::arg(format!(
                    "{}: rank {src} sent {got} bytes where {want} were expected: \
                     the ranks disagree about counts",
                    self.what
                )));
                Ok(())
            }
            Err(e) if e.kind == ErrorKind::Truncate => {
                self.note(Error::new(
                    ErrorKind::Truncate,
                    format!(
                        "{}: rank {src} sent more than the {want} bytes expected: \
                         the ranks disagree about counts",
                        self.what
                    ),
                ));
                Ok(())
            }
            Err(e) => Err(e),
        }
    }

    fn note(&mut self, e: Error) {
        self.mismatch.get_or_insert(e);
    }

    pub fn send(&mut self, data: &[u8], dest: u32) -> Result<()> {
        self.comm.coll_send(data, dest, self.tag)
    }

    /// Receives exactly `buf.len()` bytes from `src`.
    pub fn recv(&mut self, buf: &mut [u8], src: u32) -> Result<()> {
        let want = buf.len();
        let r = self.comm.coll_recv(buf, src, self.tag);
        self.received(r, want, src)
    }

    /// Sends and receives at once (both directions overlap).
    pub fn sendrecv(&mut self, data: &[u8], dest: u32, buf: &mut [u8], src: u32) -> Result<()> {
        let want = buf.len();
        let r = self.comm.coll_sendrecv(data, dest, buf, src, self.tag);
        self.received(r, want, src)
    }

    /// Runs `f`, which starts non-blocking operations on a [`Batch`], then waits for
    /// every one of them (also when `f` or one of them fails), so no buffer is
    /// touched after this returns.
    pub fn batch<'b, R>(&mut self, f: impl FnOnce(&mut Batch<'c, 'b>) -> Result<R>) -> Result<R> {
        let mut b = Batch {
            comm: self.comm,
            tag: self.tag,
            reqs: Vec::new(),
            _bufs: PhantomData,
        };
        let r = f(&mut b);
        let mut hard = None;
        for (req, want, src) in std::mem::take(&mut b.reqs) {
            let res = req.wait().and_then(status_result).map(|s| s.bytes);
            match src {
                Some(src) => {
                    if let Err(e) = self.received(res, want, src) {
                        hard.get_or_insert(e);
                    }
                }
                None => {
                    if let Err(e) = res {
                        hard.get_or_insert(e);
                    }
                }
            }
        }
        let r = r?;
        match hard {
            Some(e) => Err(e),
            None => Ok(r),
        }
    }

    /// Ends the collective: the first recorded mismatch, if any.
    pub fn finish(self) -> Result<()> {
        match self.mismatch {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }
}

/// Non-blocking operations whose buffers live for `'b`; created only by
/// [`Xfer::batch`], which waits for all of them before it returns.
pub(crate) struct Batch<'c, 'b> {
    comm: &'c Comm,
    tag: i32,
    /// (request, expected bytes, source of a receive)
    reqs: Vec<(Request, usize, Option<u32>)>,
    _bufs: PhantomData<&'b mut [u8]>,
}

impl Drop for Batch<'_, '_> {
    /// Only on a panic inside `Xfer::batch`: the buffers must not be freed under
    /// requests still running.
    fn drop(&mut self) {
        for (req, _, _) in self.reqs.drain(..) {
            let _ = req.wait();
        }
    }
}

impl<'b> Batch<'_, 'b> {
    pub fn isend(&mut self, data: &'b [u8], dest: u32) -> Result<()> {
        // SAFETY: `data` is borrowed for 'b, which outlives the `Xfer::batch` call
        // that owns this batch, and that call waits for every request (or the engine
        // cancels it on timeout) before returning; nobody writes a shared borrow.
        let raw = unsafe { RawBuf::new(data.as_ptr() as *mut u8, data.len()) };
        // SAFETY: as above.
        let req = unsafe { self.comm.coll_isend(raw, dest, self.tag)? };
        self.reqs.push((req, data.len(), None));
        Ok(())
    }

    /// Receives exactly `buf.len()` bytes from `src`.
    pub fn irecv(&mut self, buf: &'b mut [u8], src: u32) -> Result<()> {
        // SAFETY: `buf` is exclusively borrowed for 'b, which outlives the
        // `Xfer::batch` call that waits for every request before returning.
        let raw = unsafe { RawBuf::new(buf.as_mut_ptr(), buf.len()) };
        // SAFETY: as above.
        let req = unsafe { self.comm.coll_irecv(raw, src, self.tag)? };
        self.reqs.push((req, buf.len(), Some(src)));
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segments_cover() {
        let s = segments(40, 4, 3);
        assert_eq!(s, vec![0..16, 16..28, 28..40]);
        let s = segments(8, 8, 3);
        assert_eq!(s, vec![0..8, 8..8, 8..8]);
    }

    #[test]
    fn split_and_carve() {
        let mut b: Vec<u8> = (0..10).collect();
        let (r, w) = split2(&mut b, 6..8, 1..3);
        assert_eq!(r, &[6, 7]);
        w.copy_from_slice(&[9, 9]);
        let (r, w) = split2(&mut b, 0..2, 5..10);
        assert_eq!(r, &[0, 9]);
        assert_eq!(w.len(), 5);
        let v = carve(&mut b, &[(6, 2), (0, 3), (3, 0)], "t").unwrap();
        assert_eq!(v[0], &[6, 7]);
        assert_eq!(v[1], &[0, 9, 9]);
        assert!(carve(&mut b, &[(0, 3), (2, 2)], "t").is_err());
        assert!(carve(&mut b, &[(8, 3)], "t").is_err());
    }
}
