//! Allgatherv: every rank gets rank i's block (its own size) at `displs[i]`. Ring,
//! straight into the output buffer: in step s each rank passes on the block it got
//! in step s-1 and receives the next (see `ring`).

use super::storage::{self, Stage};
use super::{carve, ring, tags, Xfer};
use crate::comm::Comm;
use crate::error::{Error, Result};
use crate::policy::Op as P;

/// `counts` and `displs` are in bytes, n of each, the same on every rank. With
/// `send: None` this rank's block is already in place.
pub fn allgatherv(
    comm: &Comm,
    send: Option<&[u8]>,
    recv: &mut [u8],
    counts: &[usize],
    displs: &[usize],
) -> Result<()> {
    let (me, n) = (comm.rank() as usize, comm.size() as usize);
    if counts.len() != n || displs.len() != n {
        return Err(Error::arg("allgatherv: need n counts and n displacements"));
    }
    let regions: Vec<_> = displs.iter().copied().zip(counts.iter().copied()).collect();
    let mut bufs = carve(recv, &regions, "allgatherv")?;
    if let Some(s) = send {
        if s.len() != counts[me] {
            return Err(Error::arg(
                "allgatherv: send count differs from this rank's receive count",
            ));
        }
        bufs[me].copy_from_slice(s);
    }
    if n == 1 {
        return Ok(());
    }
    if let Some(st) = Stage::pick(comm, P::Allgather, counts.iter().sum::<usize>() / n)? {
        return storage::allgatherv(st, &mut bufs);
    }
    drop(bufs);
    let segs: Vec<_> = regions.iter().map(|&(d, c)| d..d + c).collect();
    let mut x = Xfer::new(comm, tags::ALLGATHERV, "allgatherv");
    ring::allgather(&mut x, recv, &segs, me as u32, |v| v)?;
    x.finish()
}
