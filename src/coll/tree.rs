//! Binomial-tree reduction to virtual rank 0: in round k, every virtual rank with
//! bit k set sends its partial result to the rank 2^k below and leaves; the others
//! fold in what they receive. A partial always covers a contiguous run of virtual
//! ranks, and the receiver's run is the lower one, so rank order is kept.

use super::Xfer;
use crate::datatype::Datatype;
use crate::error::Result;
use crate::op::Op;

/// Reduces `work` over virtual ranks `0..n` (this rank is `vr`; `rank_of` maps a
/// virtual rank to a communicator rank). Virtual rank 0 ends with the result; the
/// other ranks' `work` is left partial.
pub(crate) fn reduce_to_zero(
    x: &mut Xfer,
    work: &mut [u8],
    dt: Datatype,
    op: &Op,
    vr: u32,
    n: u32,
    rank_of: impl Fn(u32) -> u32,
) -> Result<()> {
    let mut tmp = Vec::new();
    let mut mask = 1;
    while mask < n {
        if vr & mask != 0 {
            return x.send(work, rank_of(vr - mask));
        }
        if vr + mask < n {
            tmp.resize(work.len(), 0);
            x.recv(&mut tmp, rank_of(vr + mask))?;
            // the child's run of ranks is above ours
            op.apply_into_left(dt, work, &mut tmp);
        }
        mask <<= 1;
    }
    Ok(())
}
