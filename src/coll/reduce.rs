//! Reduce to a root. The op's flags pick the shape:
//!
//! - built-in op, large vector: ring reduce-scatter (every rank reduces 1/n of the
//!   vector), then the root gathers the n reduced segments straight into its buffer;
//! - commutative op: binomial tree over ranks relative to the root;
//! - associative, non-commutative op: binomial tree over the ranks as they are
//!   (rooted at 0, so every partial covers a contiguous run of ranks in order), then
//!   rank 0 forwards to the root;
//! - non-associative op: a chain 0 -> 1 -> ... -> n-1 (strictly left to right), then
//!   rank n-1 forwards to the root.

use super::storage::{self, Stage};
use super::{abs, chain, check_root, rel, ring, segments, tags, tree, Xfer, THRESHOLDS};
use crate::comm::Comm;
use crate::datatype::Datatype;
use crate::error::{Error, Result};
use crate::op::Op;
use crate::policy::Op as P;

/// Reduces every rank's `send` into the root's `recv`. `send: None` (in place) only
/// at the root: its input is then `recv`. Other ranks' `recv` is not used.
pub fn reduce(
    comm: &Comm,
    send: Option<&[u8]>,
    recv: &mut [u8],
    dt: Datatype,
    op: &Op,
    root: u32,
) -> Result<()> {
    let (me, n) = (comm.rank(), comm.size());
    check_root(root, n)?;
    op.check(dt)?;
    let mut own;
    let work: &mut [u8] = if me == root {
        if let Some(s) = send {
            if s.len() != recv.len() {
                return Err(Error::arg(
                    "reduce: send and receive buffers differ in size",
                ));
            }
            recv.copy_from_slice(s);
        }
        recv
    } else {
        own = send
            .ok_or_else(|| Error::arg("reduce: in place is only for the root"))?
            .to_vec();
        &mut own
    };
    if !work.len().is_multiple_of(dt.size()) {
        return Err(Error::arg(
            "reduce: buffer is not a whole number of elements",
        ));
    }
    if n == 1 {
        return Ok(());
    }
    if let Some(st) = Stage::pick(comm, P::Reduce, work.len())? {
        return storage::reduce(st, work, dt, op, root);
    }
    let mut x = Xfer::new(comm, tags::REDUCE, "reduce");
    reduce_in(&mut x, work, dt, op, root)?;
    x.finish()
}

/// The algorithm proper: `work` is this rank's input; on return the root's `work`
/// holds the result.
pub(crate) fn reduce_in(
    x: &mut Xfer,
    work: &mut [u8],
    dt: Datatype,
    op: &Op,
    root: u32,
) -> Result<()> {
    let (me, n) = (x.comm().rank(), x.comm().size());
    if !op.associative() {
        chain::prefix(x.with_tag(tags::CHAIN), work, dt, op, None)?;
        return forward(x, work, n - 1, root);
    }
    if op.elementwise()
        && work.len() >= THRESHOLDS.reduce_scatter_gather_bytes
        && work.len() / dt.size() >= n as usize
    {
        let segs = segments(work.len(), dt.size(), n as usize);
        ring::reduce_scatter(x.with_tag(tags::RING_RS), work, &segs, dt, op)?;
        x.with_tag(tags::REDUCE_GATHER);
        if me != root {
            return x.send(&work[segs[me as usize].clone()], root);
        }
        let mut pieces = super::carve(
            work,
            &segs.iter().map(|s| (s.start, s.len())).collect::<Vec<_>>(),
            "reduce",
        )?;
        return x.batch(|b| {
            for (i, p) in pieces.drain(..).enumerate() {
                if i as u32 != root {
                    b.irecv(p, i as u32)?;
                }
            }
            Ok(())
        });
    }
    if op.commutative() {
        tree::reduce_to_zero(x, work, dt, op, rel(me, root, n), n, |v| abs(v, root, n))
    } else {
        tree::reduce_to_zero(x, work, dt, op, me, n, |v| v)?;
        forward(x, work, 0, root)
    }
}

/// Moves the result from rank `from` to `root`.
fn forward(x: &mut Xfer, work: &mut [u8], from: u32, root: u32) -> Result<()> {
    if from == root {
        return Ok(());
    }
    let me = x.comm().rank();
    x.with_tag(tags::FORWARD);
    if me == from {
        x.send(work, root)
    } else if me == root {
        x.recv(work, from)
    } else {
        Ok(())
    }
}
