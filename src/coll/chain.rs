//! Chain: rank 0 -> 1 -> ... -> n-1, each rank folding its own contribution onto
//! the prefix it receives. The only shape that applies a non-associative op strictly
//! left to right, `((x0 op x1) op x2) ...`; latency grows with n, so it is used only
//! for such ops.

use super::Xfer;
use crate::datatype::Datatype;
use crate::error::Result;
use crate::op::Op;

/// On return rank r's `work` holds `x0 op ... op xr`; `prev`, if given, receives
/// `x0 op ... op x(r-1)` (untouched on rank 0).
pub(crate) fn prefix(
    x: &mut Xfer,
    work: &mut [u8],
    dt: Datatype,
    op: &Op,
    prev: Option<&mut [u8]>,
) -> Result<()> {
    let (r, n) = (x.comm().rank(), x.comm().size());
    if r > 0 {
        let mut tmp = vec![0u8; work.len()];
        x.recv(&mut tmp, r - 1)?;
        if let Some(p) = prev {
            p.copy_from_slice(&tmp);
        }
        op.apply(dt, &tmp, work);
    }
    if r + 1 < n {
        x.send(work, r + 1)?;
    }
    Ok(())
}
