//! Ring allgather: in step k every rank passes the block it received in step k-1 to
//! its right neighbour, so after n-1 steps each rank holds every block, and every
//! link carries the same load.

use super::tags;
use crate::comm::Comm;
use crate::error::{Error, Result};

/// Gathers `block` (the same length on every rank) from every rank, in rank order.
pub fn allgather_bytes(comm: &Comm, block: &[u8]) -> Result<Vec<u8>> {
    let n = comm.size() as usize;
    let me = comm.rank() as usize;
    let b = block.len();
    let mut out = vec![0u8; b * n];
    out[me * b..(me + 1) * b].copy_from_slice(block);
    let right = ((me + 1) % n) as u32;
    let left = ((me + n - 1) % n) as u32;
    for step in 0..n.saturating_sub(1) {
        let send_idx = (me + n - step) % n;
        let recv_idx = (me + n - step - 1) % n;
        let send = out[send_idx * b..(send_idx + 1) * b].to_vec();
        let got = comm.coll_sendrecv(&send, right, &mut out[recv_idx * b..(recv_idx + 1) * b], left, tags::ALLGATHER)?;
        if got != b {
            return Err(Error::arg(format!(
                "allgather: rank {left} contributed {got} bytes, this rank {b}: counts must match"
            )));
        }
    }
    Ok(out)
}

/// Allgather of a few u32 values per rank.
pub fn allgather_u32s(comm: &Comm, vals: &[u32]) -> Result<Vec<u32>> {
    let bytes: Vec<u8> = vals.iter().flat_map(|v| v.to_le_bytes()).collect();
    let all = allgather_bytes(comm, &bytes)?;
    Ok(all
        .chunks_exact(4)
        .map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect())
}
