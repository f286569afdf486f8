//! Ring building blocks for large vectors: every rank talks only to its neighbours,
//! each link carries (n-1)/n of the data once per phase, and in every step a rank
//! sends one segment while it receives another (the two overlap).
//!
//! - reduce-scatter: in step s rank r passes its partial of segment r-s-1 to the
//!   right and folds the partial of segment r-s-2 from the left into its own; after
//!   n-1 steps rank r holds segment r fully reduced. Each segment is reduced in one
//!   fixed order (starting one rank to the right of its owner), so the result is
//!   reproducible, but the order is a rotation: commutative ops only.
//! - allgather: rank r starts with segment r; in step s it passes segment r-s on and
//!   receives segment r-s-1, straight into place.

use super::{split2, Xfer};
use crate::datatype::Datatype;
use crate::error::Result;
use crate::op::Op;
use std::ops::Range;

/// Ring reduce-scatter over communicator ranks; afterwards `work[segs[r]]` is the
/// reduction of segment r (the other segments are left partial).
pub(crate) fn reduce_scatter(
    x: &mut Xfer,
    work: &mut [u8],
    segs: &[Range<usize>],
    dt: Datatype,
    op: &Op,
) -> Result<()> {
    let (r, n) = (x.comm().rank() as usize, x.comm().size() as usize);
    let right = ((r + 1) % n) as u32;
    let left = ((r + n - 1) % n) as u32;
    let mut tmp = vec![0u8; segs.iter().map(|s| s.len()).max().unwrap_or(0)];
    for s in 0..n - 1 {
        let send = segs[(r + 2 * n - s - 1) % n].clone();
        let recv = segs[(r + 2 * n - s - 2) % n].clone();
        let t = &mut tmp[..recv.len()];
        x.sendrecv(&work[send], right, t, left)?;
        op.apply(dt, t, &mut work[recv]);
    }
    Ok(())
}

/// Ring allgather over virtual ranks `0..n` (this rank is `vr`, `rank_of` maps to
/// communicator ranks): on entry `buf[segs[vr]]` is this rank's segment, on return
/// every segment is in place.
pub(crate) fn allgather(
    x: &mut Xfer,
    buf: &mut [u8],
    segs: &[Range<usize>],
    vr: u32,
    rank_of: impl Fn(u32) -> u32,
) -> Result<()> {
    let n = segs.len();
    let vr = vr as usize;
    let right = rank_of(((vr + 1) % n) as u32);
    let left = rank_of(((vr + n - 1) % n) as u32);
    for s in 0..n - 1 {
        let send = segs[(vr + n - s) % n].clone();
        let recv = segs[(vr + 2 * n - s - 1) % n].clone();
        let (out, into) = split2(buf, send, recv);
        x.sendrecv(out, right, into, left)?;
    }
    Ok(())
}
