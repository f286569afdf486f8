//! Allreduce: every rank gets the reduction of every rank's vector, bit-identical.
//!
//! - built-in op, large vector: ring reduce-scatter + ring allgather (bandwidth
//!   optimal for any n; each segment is reduced once, by its owner, then copied);
//! - otherwise recursive doubling (latency optimal, keeps rank order, whole vectors
//!   only: what user ops need);
//! - non-associative op: chain 0 -> ... -> n-1 (strictly left to right), then a
//!   binomial broadcast from n-1.

use super::storage::{self, Stage};
use super::{bcast, chain, recursive_doubling, ring, segments, tags, Xfer, THRESHOLDS};
use crate::comm::Comm;
use crate::datatype::Datatype;
use crate::error::{Error, Result};
use crate::op::Op;
use crate::policy::Op as P;

/// Reduces every rank's `send` (or, with `None`, `recv` in place) into every rank's
/// `recv`.
pub fn allreduce(
    comm: &Comm,
    send: Option<&[u8]>,
    recv: &mut [u8],
    dt: Datatype,
    op: &Op,
) -> Result<()> {
    op.check(dt)?;
    if let Some(s) = send {
        if s.len() != recv.len() {
            return Err(Error::arg(
                "allreduce: send and receive buffers differ in size",
            ));
        }
        recv.copy_from_slice(s);
    }
    if !recv.len().is_multiple_of(dt.size()) {
        return Err(Error::arg(
            "allreduce: buffer is not a whole number of elements",
        ));
    }
    let n = comm.size();
    if n == 1 {
        return Ok(());
    }
    if let Some(st) = Stage::pick(comm, P::Allreduce, recv.len())? {
        return storage::allreduce(st, recv, dt, op);
    }
    let mut x = Xfer::new(comm, tags::ALLREDUCE, "allreduce");
    allreduce_in(&mut x, recv, dt, op)?;
    x.finish()
}

pub(crate) fn allreduce_in(x: &mut Xfer, work: &mut [u8], dt: Datatype, op: &Op) -> Result<()> {
    let n = x.comm().size();
    if !op.associative() {
        chain::prefix(x.with_tag(tags::CHAIN), work, dt, op, None)?;
        return bcast::binomial(x.with_tag(tags::BCAST), work, n - 1);
    }
    if op.elementwise()
        && work.len() >= THRESHOLDS.allreduce_ring_bytes
        && work.len() / dt.size() >= n as usize
    {
        let segs = segments(work.len(), dt.size(), n as usize);
        ring::reduce_scatter(x.with_tag(tags::RING_RS), work, &segs, dt, op)?;
        let me = x.comm().rank();
        return ring::allgather(x.with_tag(tags::RING_AG), work, &segs, me, |v| v);
    }
    recursive_doubling::allreduce(x, work, dt, op)
}
