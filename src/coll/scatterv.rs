//! Scatterv: the root's block at `displs[i]` (of `counts[i]` bytes) goes to rank i.
//! Linear: the root sends each block straight from the caller's buffer, a window of
//! non-blocking sends at a time.

use super::storage::{self, Stage};
use super::{check_root, tags, Xfer, THRESHOLDS};
use crate::comm::Comm;
use crate::error::{Error, Result};
use crate::policy::Op as P;

/// `send`, `counts` and `displs` (bytes) matter only at the root. `recv: None` only
/// at the root (in place: its block stays in `send`).
pub fn scatterv(
    comm: &Comm,
    send: &[u8],
    counts: &[usize],
    displs: &[usize],
    recv: Option<&mut [u8]>,
    root: u32,
) -> Result<()> {
    let (me, n) = (comm.rank(), comm.size());
    check_root(root, n)?;
    // Only the root knows the counts, so the channel is chosen as for no data.
    let stage = if n > 1 {
        Stage::pick(comm, P::Scatter, 0)?
    } else {
        None
    };
    let mut x = Xfer::new(comm, tags::SCATTERV, "scatterv");
    if me != root {
        let r = recv.ok_or_else(|| Error::arg("scatterv: in place is only for the root"))?;
        if let Some(st) = stage {
            return storage::scatterv(st, &[], r, root);
        }
        x.recv(r, root)?;
        return x.finish();
    }
    if counts.len() != n as usize || displs.len() != n as usize {
        return Err(Error::arg(
            "scatterv: need n counts and n displacements at the root",
        ));
    }
    let block = |r: usize| -> Result<&[u8]> {
        displs[r]
            .checked_add(counts[r])
            .filter(|&e| e <= send.len())
            .map(|e| &send[displs[r]..e])
            .ok_or_else(|| Error::arg(format!("scatterv: block {r} is outside the send buffer")))
    };
    let blocks = (0..n as usize).map(block).collect::<Result<Vec<_>>>()?;
    if let Some(r) = recv {
        if r.len() != counts[me as usize] {
            return Err(Error::arg(
                "scatterv: the root's receive count differs from its send count",
            ));
        }
        r.copy_from_slice(blocks[me as usize]);
    }
    if let Some(st) = stage {
        return storage::scatterv(st, &blocks, &mut [], root);
    }
    let mut it = blocks
        .into_iter()
        .enumerate()
        .filter(|(r, _)| *r as u32 != root);
    loop {
        let now: Vec<_> = it.by_ref().take(THRESHOLDS.window).collect();
        if now.is_empty() {
            break;
        }
        x.batch(|b| {
            for (r, data) in now {
                b.isend(data, r as u32)?;
            }
            Ok(())
        })?;
    }
    x.finish()
}
