//! Gatherv: rank i's block (its own size) lands at the root's `displs[i]`. Linear:
//! the root receives every block straight into place, a window of non-blocking
//! receives at a time; block sizes differ, so there is no contiguous subtree to
//! forward and no staging.

use super::storage::{self, Stage};
use super::{carve, check_root, tags, Xfer, THRESHOLDS};
use crate::comm::Comm;
use crate::error::{Error, Result};
use crate::policy::Op as P;

/// `counts` and `displs` (bytes, n of each) matter only at the root. `send: None`
/// only at the root (in place: its block is already at `displs[root]`).
pub fn gatherv(
    comm: &Comm,
    send: Option<&[u8]>,
    recv: &mut [u8],
    counts: &[usize],
    displs: &[usize],
    root: u32,
) -> Result<()> {
    let (me, n) = (comm.rank(), comm.size());
    check_root(root, n)?;
    // Only the root knows the counts, so the channel is chosen as for no data.
    let stage = if n > 1 {
        Stage::pick(comm, P::Gather, 0)?
    } else {
        None
    };
    let mut x = Xfer::new(comm, tags::GATHERV, "gatherv");
    if me != root {
        let s = send.ok_or_else(|| Error::arg("gatherv: in place is only for the root"))?;
        if let Some(st) = stage {
            return storage::gatherv(st, s, &mut [], root);
        }
        x.send(s, root)?;
        return x.finish();
    }
    if counts.len() != n as usize || displs.len() != n as usize {
        return Err(Error::arg(
            "gatherv: need n counts and n displacements at the root",
        ));
    }
    let regions: Vec<_> = displs.iter().copied().zip(counts.iter().copied()).collect();
    let mut bufs = carve(recv, &regions, "gatherv")?;
    if let Some(s) = send {
        if s.len() != counts[me as usize] {
            return Err(Error::arg(
                "gatherv: the root's send count differs from its receive count",
            ));
        }
        bufs[me as usize].copy_from_slice(s);
    }
    if let Some(st) = stage {
        return storage::gatherv(st, &[], &mut bufs, root);
    }
    let mut it = bufs
        .into_iter()
        .enumerate()
        .filter(|(r, _)| *r as u32 != root);
    loop {
        let now: Vec<_> = it.by_ref().take(THRESHOLDS.window).collect();
        if now.is_empty() {
            break;
        }
        x.batch(|b| {
            for (r, buf) in now {
                b.irecv(buf, r as u32)?;
            }
            Ok(())
        })?;
    }
    x.finish()
}
