//! Alltoall: block j of rank i's input becomes block i of rank j's output.
//!
//! - small blocks: a window of non-blocking receives and sends at a time (rank r
//!   sends to r+1, r+2, ... and receives from r-1, r-2, ..., so every rank's
//!   window has traffic for different peers);
//! - large blocks, and in place: pairwise exchange. In round k rank r pairs with
//!   (k - r) mod n, a symmetric pairing, so each round is one sendrecv per rank and
//!   every pair meets exactly once; in place needs just one block of scratch.

use super::storage::{self, Stage};
use super::{carve, tags, Xfer, THRESHOLDS};
use crate::comm::Comm;
use crate::error::{Error, Result};
use crate::policy::Op as P;

/// `send` holds n blocks of `block` bytes, block j for rank j; `recv` gets n blocks,
/// block i from rank i. `send: None` exchanges in place in `recv`.
pub fn alltoall(comm: &Comm, send: Option<&[u8]>, recv: &mut [u8], block: usize) -> Result<()> {
    let (me, n) = (comm.rank() as usize, comm.size() as usize);
    if recv.len() != block * n || send.is_some_and(|s| s.len() != block * n) {
        return Err(Error::arg(
            "alltoall: send and receive buffers must hold n blocks each",
        ));
    }
    if n > 1 {
        if let Some(st) = Stage::pick(comm, P::Alltoall, block)? {
            let copy;
            let s = match send {
                Some(s) => s,
                None => {
                    copy = recv.to_vec();
                    &copy
                }
            };
            return storage::alltoall(st, s, recv, block);
        }
    }
    let mut x = Xfer::new(comm, tags::ALLTOALL, "alltoall");
    match send {
        None => pairwise_in_place(&mut x, recv, block)?,
        Some(s) => {
            recv[me * block..(me + 1) * block].copy_from_slice(&s[me * block..(me + 1) * block]);
            if block <= THRESHOLDS.alltoall_pairwise_block {
                windowed(&mut x, s, recv, block)?;
            } else {
                pairwise(&mut x, s, recv, block)?;
            }
        }
    }
    x.finish()
}

/// Partner of `r` in round `k` of the symmetric pairing (itself: sits out).
pub(crate) fn partner(k: usize, r: usize, n: usize) -> usize {
    (k + n - r) % n
}

fn pairwise(x: &mut Xfer, send: &[u8], recv: &mut [u8], block: usize) -> Result<()> {
    let (me, n) = (x.comm().rank() as usize, x.comm().size() as usize);
    for k in 0..n {
        let p = partner(k, me, n);
        if p != me {
            let span = p * block..(p + 1) * block;
            x.sendrecv(&send[span.clone()], p as u32, &mut recv[span], p as u32)?;
        }
    }
    Ok(())
}

fn pairwise_in_place(x: &mut Xfer, recv: &mut [u8], block: usize) -> Result<()> {
    let (me, n) = (x.comm().rank() as usize, x.comm().size() as usize);
    let mut tmp = vec![0u8; block];
    for k in 0..n {
        let p = partner(k, me, n);
        if p != me {
            let span = p * block..(p + 1) * block;
            tmp.copy_from_slice(&recv[span.clone()]);
            x.sendrecv(&tmp, p as u32, &mut recv[span], p as u32)?;
        }
    }
    Ok(())
}

fn windowed(x: &mut Xfer, send: &[u8], recv: &mut [u8], block: usize) -> Result<()> {
    let (me, n) = (x.comm().rank() as usize, x.comm().size() as usize);
    // the i-th receive is from me-i, the i-th send to me+i
    let from: Vec<usize> = (1..n).map(|i| (me + n - i) % n).collect();
    let regions: Vec<_> = from.iter().map(|&r| (r * block, block)).collect();
    let mut bufs = carve(recv, &regions, "alltoall")?.into_iter().zip(from);
    let mut i = 1;
    while i < n {
        let now: Vec<_> = bufs.by_ref().take(THRESHOLDS.window).collect();
        let k = now.len();
        x.batch(|b| {
            for (buf, r) in now {
                b.irecv(buf, r as u32)?;
            }
            for j in i..i + k {
                let to = (me + j) % n;
                b.isend(&send[to * block..(to + 1) * block], to as u32)?;
            }
            Ok(())
        })?;
        i += k;
    }
    Ok(())
}
