//! Alltoallv: rank i's block for rank j (`scounts[j]` bytes at `sdispls[j]`) lands in
//! rank j's buffer at `rdispls[i]`. A window of non-blocking receives and sends at a
//! time, rank r sending to r+1, r+2, ... and receiving from r-1, r-2, ..., straight
//! from and into the caller's buffers.

use super::storage::{self, Stage};
use super::{carve, tags, Xfer, THRESHOLDS};
use crate::comm::Comm;
use crate::error::{Error, Result};
use crate::policy::Op as P;

/// Counts and displacements are in bytes, n of each.
pub fn alltoallv(
    comm: &Comm,
    send: &[u8],
    scounts: &[usize],
    sdispls: &[usize],
    recv: &mut [u8],
    rcounts: &[usize],
    rdispls: &[usize],
) -> Result<()> {
    let (me, n) = (comm.rank() as usize, comm.size() as usize);
    if [scounts.len(), sdispls.len(), rcounts.len(), rdispls.len()] != [n; 4] {
        return Err(Error::arg(
            "alltoallv: need n counts and n displacements on each side",
        ));
    }
    let sblocks = (0..n)
        .map(|r| {
            sdispls[r]
                .checked_add(scounts[r])
                .filter(|&e| e <= send.len())
                .map(|e| &send[sdispls[r]..e])
                .ok_or_else(|| {
                    Error::arg(format!(
                        "alltoallv: send block {r} is outside the send buffer"
                    ))
                })
        })
        .collect::<Result<Vec<_>>>()?;
    let regions: Vec<_> = rdispls
        .iter()
        .copied()
        .zip(rcounts.iter().copied())
        .collect();
    let mut rblocks: Vec<Option<&mut [u8]>> = carve(recv, &regions, "alltoallv")?
        .into_iter()
        .map(Some)
        .collect();
    if scounts[me] != rcounts[me] {
        return Err(Error::arg(
            "alltoallv: this rank's send count to itself differs from its receive count",
        ));
    }
    if let Some(own) = rblocks[me].take() {
        own.copy_from_slice(sblocks[me]);
    }
    if n > 1 {
        // Each rank knows only its own counts: chosen as for no data.
        if let Some(st) = Stage::pick(comm, P::Alltoall, 0)? {
            return storage::alltoallv(st, &sblocks, &mut rblocks);
        }
    }
    let mut x = Xfer::new(comm, tags::ALLTOALLV, "alltoallv");
    let mut i = 1;
    while i < n {
        let k = THRESHOLDS.window.min(n - i);
        let now: Vec<(usize, &mut [u8])> = (i..i + k)
            .map(|j| {
                let from = (me + n - j) % n;
                (from, rblocks[from].take().unwrap_or_default())
            })
            .collect();
        let sb = &sblocks;
        x.batch(|b| {
            for (from, buf) in now {
                b.irecv(buf, from as u32)?;
            }
            for j in i..i + k {
                let to = (me + j) % n;
                b.isend(sb[to], to as u32)?;
            }
            Ok(())
        })?;
        i += k;
    }
    x.finish()
}
