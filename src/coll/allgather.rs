//! Allgather: every rank gets every rank's block, in rank order.
//!
//! - small (n x block within the table's limit): Bruck. In round k rank r sends the
//!   first min(2^k, n-2^k) blocks it has to r-2^k and appends as many from r+2^k, so
//!   after ceil(log2 n) rounds it holds the blocks of r, r+1, ..., r+n-1 and rotates
//!   them into place once. Any n.
//! - large: ring, straight into the output buffer (see `ring`).

use super::storage::{self, Stage};
use super::{ring, tags, Xfer, THRESHOLDS};
use crate::comm::Comm;
use crate::error::{Error, Result};
use crate::policy::Op as P;

/// Gathers every rank's `send` (`block` bytes) into every rank's `recv` (n blocks).
/// With `send: None` this rank's block is already in place in `recv`.
pub fn allgather(comm: &Comm, send: Option<&[u8]>, recv: &mut [u8], block: usize) -> Result<()> {
    let (me, n) = (comm.rank() as usize, comm.size() as usize);
    if recv.len() != block * n || send.is_some_and(|s| s.len() != block) {
        return Err(Error::arg(
            "allgather: need a block to send and n blocks to receive",
        ));
    }
    if let Some(s) = send {
        recv[me * block..(me + 1) * block].copy_from_slice(s);
    }
    if n == 1 {
        return Ok(());
    }
    if let Some(st) = Stage::pick(comm, P::Allgather, block)? {
        return storage::allgather(st, recv, block);
    }
    let mut x = Xfer::new(comm, tags::ALLGATHER, "allgather");
    if block * n <= THRESHOLDS.allgather_bruck_total {
        bruck(&mut x, recv, block)?;
    } else {
        let segs: Vec<_> = (0..n).map(|i| i * block..(i + 1) * block).collect();
        ring::allgather(&mut x, recv, &segs, me as u32, |v| v)?;
    }
    x.finish()
}

fn bruck(x: &mut Xfer, recv: &mut [u8], block: usize) -> Result<()> {
    let (me, n) = (x.comm().rank() as usize, x.comm().size() as usize);
    let mut tmp = vec![0u8; n * block];
    tmp[..block].copy_from_slice(&recv[me * block..(me + 1) * block]);
    let mut pof = 1;
    while pof < n {
        let cnt = pof.min(n - pof);
        let (have, room) = tmp.split_at_mut(pof * block);
        let to = ((me + n - pof) % n) as u32;
        let from = ((me + pof) % n) as u32;
        x.sendrecv(&have[..cnt * block], to, &mut room[..cnt * block], from)?;
        pof *= 2;
    }
    for i in 0..n {
        let r = (me + i) % n;
        recv[r * block..(r + 1) * block].copy_from_slice(&tmp[i * block..(i + 1) * block]);
    }
    Ok(())
}

/// Allgather of a few u32 values per rank (communicator set-up: dup, split).
pub fn allgather_u32s(comm: &Comm, vals: &[u32]) -> Result<Vec<u32>> {
    let bytes: Vec<u8> = vals.iter().flat_map(|v| v.to_le_bytes()).collect();
    let mut all = vec![0u8; bytes.len() * comm.size() as usize];
    allgather(comm, Some(&bytes), &mut all, bytes.len())?;
    Ok(all
        .chunks_exact(4)
        .map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect())
}
