//! Scatter: the root's block i goes to rank i.
//!
//! - small (n x block within the table's limit): binomial tree over ranks relative
//!   to the root; the root lays the blocks out in that order once, and every inner
//!   rank forwards its subtree's contiguous run of blocks;
//! - large: the root sends every block straight from the caller's buffer
//!   (a window of non-blocking sends), no staging copies.

use super::storage::{self, Stage};
use super::{abs, check_root, rel, tags, Xfer, THRESHOLDS};
use crate::comm::Comm;
use crate::error::{Error, Result};
use crate::policy::Op as P;

/// Scatters the root's `send` (n blocks of `block` bytes) into each rank's `recv`.
/// `recv: None` only at the root (in place: its block stays in `send`). `send` is
/// not used on other ranks.
pub fn scatter(
    comm: &Comm,
    send: &[u8],
    recv: Option<&mut [u8]>,
    block: usize,
    root: u32,
) -> Result<()> {
    let (me, n) = (comm.rank(), comm.size());
    check_root(root, n)?;
    if me == root && send.len() != block * n as usize {
        return Err(Error::arg(
            "scatter: the root's send buffer must hold n blocks",
        ));
    }
    if me != root && recv.is_none() {
        return Err(Error::arg("scatter: in place is only for the root"));
    }
    if n > 1 {
        if let Some(st) = Stage::pick(comm, P::Scatter, block)? {
            return storage::scatter(st, send, recv, block, root);
        }
    }
    let mut x = Xfer::new(comm, tags::SCATTER, "scatter");
    scatter_in(&mut x, send, recv, block, root)?;
    x.finish()
}

pub(crate) fn scatter_in(
    x: &mut Xfer,
    send: &[u8],
    recv: Option<&mut [u8]>,
    block: usize,
    root: u32,
) -> Result<()> {
    let (me, n) = (x.comm().rank(), x.comm().size());
    if let Some(r) = &recv {
        if r.len() != block {
            return Err(Error::arg(
                "scatter: receive buffer size differs from the block size",
            ));
        }
    }
    let recv: &mut [u8] = match recv {
        Some(r) if me == root => {
            r.copy_from_slice(&send[me as usize * block..(me as usize + 1) * block]);
            &mut []
        }
        Some(r) => r,
        None => &mut [],
    };
    if n == 1 {
        return Ok(());
    }
    if block * n as usize <= THRESHOLDS.gather_binomial_total {
        binomial(x, send, recv, block, root)
    } else {
        linear(x, send, recv, block, root)
    }
}

fn linear(x: &mut Xfer, send: &[u8], recv: &mut [u8], block: usize, root: u32) -> Result<()> {
    let (me, n) = (x.comm().rank(), x.comm().size());
    if me != root {
        return x.recv(recv, root);
    }
    let w = THRESHOLDS.window as u32;
    let mut start = 1;
    while start < n {
        let end = (start + w).min(n);
        x.batch(|b| {
            for v in start..end {
                let r = abs(v, root, n) as usize;
                b.isend(&send[r * block..(r + 1) * block], r as u32)?;
            }
            Ok(())
        })?;
        start = end;
    }
    Ok(())
}

fn binomial(x: &mut Xfer, send: &[u8], recv: &mut [u8], block: usize, root: u32) -> Result<()> {
    let (me, n) = (x.comm().rank(), x.comm().size());
    let vr = rel(me, root, n);
    // blocks of virtual ranks vr.. in virtual-rank order
    let mut tmp: Vec<u8>;
    let mut mask = 1;
    if vr == 0 {
        tmp = Vec::with_capacity(send.len());
        for v in 0..n {
            let r = abs(v, root, n) as usize;
            tmp.extend_from_slice(&send[r * block..(r + 1) * block]);
        }
        mask = n.next_power_of_two();
    } else {
        while vr & mask == 0 {
            mask <<= 1;
        }
        let sub = mask.min(n - vr) as usize;
        tmp = vec![0u8; sub * block];
        x.recv(&mut tmp, abs(vr - mask, root, n))?;
    }
    let data: &[u8] = &tmp;
    x.batch(|b| {
        let mut m = mask >> 1;
        while m > 0 {
            if vr + m < n {
                let sub = m.min(n - vr - m) as usize;
                let off = m as usize * block;
                b.isend(&data[off..off + sub * block], abs(vr + m, root, n))?;
            }
            m >>= 1;
        }
        Ok(())
    })?;
    if vr != 0 {
        recv.copy_from_slice(&tmp[..block]);
    }
    Ok(())
}
