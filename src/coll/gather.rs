//! Gather: rank i's block lands in block i of the root's buffer.
//!
//! - small (n x block within the table's limit): binomial tree over ranks relative
//!   to the root; each inner rank collects its subtree's contiguous run of blocks
//!   and passes it up in one message; the root reorders once at the end;
//! - large: the root receives every block straight into place (a window of
//!   non-blocking receives), so no data is staged anywhere.

use super::storage::{self, Stage};
use super::{abs, carve, check_root, rel, tags, Xfer, THRESHOLDS};
use crate::comm::Comm;
use crate::error::{Error, Result};
use crate::policy::Op as P;

/// Gathers each rank's `send` (`block` bytes) into the root's `recv` (n blocks).
/// `send: None` only at the root (in place: its block is already in `recv`).
/// `recv` is not used on other ranks.
pub fn gather(
    comm: &Comm,
    send: Option<&[u8]>,
    recv: &mut [u8],
    block: usize,
    root: u32,
) -> Result<()> {
    let (me, n) = (comm.rank(), comm.size());
    check_root(root, n)?;
    if me == root && recv.len() != block * n as usize {
        return Err(Error::arg(
            "gather: the root's receive buffer must hold n blocks",
        ));
    }
    let own: &[u8] = match send {
        Some(s) if s.len() == block => s,
        Some(_) => {
            return Err(Error::arg(
                "gather: send buffer size differs from the block size",
            ))
        }
        None if me == root => &[],
        None => return Err(Error::arg("gather: in place is only for the root")),
    };
    if me == root && send.is_some() {
        recv[me as usize * block..(me as usize + 1) * block].copy_from_slice(own);
    }
    if n == 1 {
        return Ok(());
    }
    if let Some(st) = Stage::pick(comm, P::Gather, block)? {
        return storage::gather(st, own, recv, block, root);
    }
    let mut x = Xfer::new(comm, tags::GATHER, "gather");
    if block * n as usize <= THRESHOLDS.gather_binomial_total {
        binomial(&mut x, own, recv, block, root)?;
    } else {
        linear(&mut x, own, recv, block, root)?;
    }
    x.finish()
}

fn linear(x: &mut Xfer, own: &[u8], recv: &mut [u8], block: usize, root: u32) -> Result<()> {
    let (me, n) = (x.comm().rank(), x.comm().size());
    if me != root {
        return x.send(own, root);
    }
    let peers: Vec<u32> = (0..n).filter(|&r| r != root).collect();
    let regions: Vec<_> = peers.iter().map(|&r| (r as usize * block, block)).collect();
    let mut bufs = carve(recv, &regions, "gather")?.into_iter().zip(peers);
    loop {
        let now: Vec<_> = bufs.by_ref().take(THRESHOLDS.window).collect();
        if now.is_empty() {
            return Ok(());
        }
        x.batch(|b| {
            for (buf, r) in now {
                b.irecv(buf, r)?;
            }
            Ok(())
        })?;
    }
}

fn binomial(x: &mut Xfer, own: &[u8], recv: &mut [u8], block: usize, root: u32) -> Result<()> {
    let (me, n) = (x.comm().rank(), x.comm().size());
    let vr = rel(me, root, n);
    // this subtree's blocks, in virtual-rank order
    let sub = if vr == 0 {
        n
    } else {
        (1 << vr.trailing_zeros()).min(n - vr)
    } as usize;
    let mut tmp = vec![0u8; sub * block];
    if vr == 0 {
        tmp[..block].copy_from_slice(&recv[me as usize * block..(me as usize + 1) * block]);
    } else {
        tmp[..block].copy_from_slice(own);
    }
    let mut mask = 1;
    while mask < n {
        if vr & mask != 0 {
            return x.send(&tmp, abs(vr - mask, root, n));
        }
        if vr + mask < n {
            let k = mask.min(n - vr - mask) as usize;
            let off = mask as usize * block;
            x.recv(&mut tmp[off..off + k * block], abs(vr + mask, root, n))?;
        }
        mask <<= 1;
    }
    for v in 0..n as usize {
        let r = abs(v as u32, root, n) as usize;
        recv[r * block..(r + 1) * block].copy_from_slice(&tmp[v * block..(v + 1) * block]);
    }
    Ok(())
}
