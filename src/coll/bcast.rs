//! Broadcast.
//!
//! - Binomial tree (small data): with ranks numbered relative to the root, rank v
//!   receives from v minus its lowest set bit, then sends to v + 2^k for every 2^k
//!   below that bit; log2(n) rounds.
//! - Scatter + ring allgather (large data, van de Geijn): the root cuts the buffer
//!   into n segments, a binomial scatter gives virtual rank v segment v, and a ring
//!   allgather brings every segment everywhere. Each rank sends about 2x the data
//!   once, instead of log2(n) times the whole buffer.

use super::storage::{self, Stage};
use super::{abs, check_root, rel, ring, segments, tags, Xfer, THRESHOLDS};
use crate::comm::Comm;
use crate::error::Result;
use crate::policy::Op as P;

/// Broadcasts `buf` from `root` to every rank (every rank passes the same length).
pub fn bcast(comm: &Comm, buf: &mut [u8], root: u32) -> Result<()> {
    let n = comm.size();
    check_root(root, n)?;
    if n == 1 {
        return Ok(());
    }
    if let Some(st) = Stage::pick(comm, P::Bcast, buf.len())? {
        return storage::bcast(st, buf, root);
    }
    let t = &THRESHOLDS;
    let mut x = Xfer::new(comm, tags::BCAST, "bcast");
    if buf.len() >= t.bcast_scatter_allgather_bytes && n >= t.bcast_scatter_allgather_ranks {
        scatter_allgather(&mut x, buf, root)?;
    } else {
        binomial(&mut x, buf, root)?;
    }
    x.finish()
}

/// Binomial-tree broadcast (also used by other collectives to spread a result).
pub(crate) fn binomial(x: &mut Xfer, buf: &mut [u8], root: u32) -> Result<()> {
    let n = x.comm().size();
    let vr = rel(x.comm().rank(), root, n);
    // receive from the parent: vr minus its lowest set bit
    let mut mask = 1;
    while mask < n {
        if vr & mask != 0 {
            x.recv(buf, abs(vr - mask, root, n))?;
            break;
        }
        mask <<= 1;
    }
    // children: vr + 2^k for every 2^k below that bit, farthest first (the biggest
    // subtree starts first)
    let data: &[u8] = buf;
    x.batch(|b| {
        let mut m = mask >> 1;
        while m > 0 {
            if vr + m < n {
                b.isend(data, abs(vr + m, root, n))?;
            }
            m >>= 1;
        }
        Ok(())
    })
}

fn scatter_allgather(x: &mut Xfer, buf: &mut [u8], root: u32) -> Result<()> {
    let n = x.comm().size();
    let vr = rel(x.comm().rank(), root, n);
    let segs = segments(buf.len(), 1, n as usize);
    // bytes of the segments vr..vr+k
    let span = |from: u32, k: u32| {
        let to = (from + k).min(n) as usize;
        segs[from as usize].start..segs[to - 1].end
    };

    // binomial scatter: virtual rank v gets segments v..v+(lowest bit of v)
    x.with_tag(tags::BCAST_SCATTER);
    let mut mask = 1;
    while mask < n {
        if vr & mask != 0 {
            let range = span(vr, mask);
            x.recv(&mut buf[range], abs(vr - mask, root, n))?;
            break;
        }
        mask <<= 1;
    }
    let data: &[u8] = buf;
    x.batch(|b| {
        let mut m = mask >> 1;
        while m > 0 {
            if vr + m < n {
                b.isend(&data[span(vr + m, m)], abs(vr + m, root, n))?;
            }
            m >>= 1;
        }
        Ok(())
    })?;

    x.with_tag(tags::BCAST_RING);
    ring::allgather(x, buf, &segs, vr, |v| abs(v, root, n))
}
