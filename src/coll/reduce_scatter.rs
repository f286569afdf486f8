//! Reduce-scatter with equal blocks: rank r gets block r of the reduction of every
//! rank's n blocks.
//!
//! - built-in ops: ring reduce-scatter with the blocks as segments (each rank
//!   reduces only its own block, (n-1)/n of the data crosses each link once);
//! - user ops (always applied to whole vectors, in rank order): reduce to rank 0
//!   with the order-keeping shape the op needs, then scatter the blocks.

use super::storage::{self, Stage};
use super::{reduce, ring, scatter, tags, Xfer};
use crate::comm::Comm;
use crate::datatype::Datatype;
use crate::error::{Error, Result};
use crate::op::Op;
use crate::policy::Op as P;

/// `send` holds n blocks of `recv.len()` bytes; with `send: None` (in place) the n
/// blocks are in `recv` (then n times as long) and the result goes to its first block.
pub fn reduce_scatter_block(
    comm: &Comm,
    send: Option<&[u8]>,
    recv: &mut [u8],
    dt: Datatype,
    op: &Op,
) -> Result<()> {
    op.check(dt)?;
    let n = comm.size() as usize;
    let me = comm.rank() as usize;
    let block = match send {
        Some(_) => recv.len(),
        None => recv.len() / n,
    };
    if block % dt.size() != 0
        || send.is_some_and(|s| s.len() != block * n)
        || (send.is_none() && recv.len() != block * n)
    {
        return Err(Error::arg(
            "reduce_scatter_block: the input must be n blocks of whole elements, the output one block",
        ));
    }
    if n > 1 {
        if let Some(st) = Stage::pick(comm, P::ReduceScatter, block)? {
            let input = match send {
                Some(s) => s.to_vec(),
                None => recv.to_vec(),
            };
            return storage::reduce_scatter_block(st, &input, &mut recv[..block], dt, op);
        }
    }
    let mut x = Xfer::new(comm, tags::RING_RS, "reduce_scatter_block");
    match send {
        Some(s) => {
            let mut work = s.to_vec();
            run(&mut x, &mut work, block, dt, op)?;
            recv.copy_from_slice(&work[me * block..(me + 1) * block]);
        }
        None => {
            run(&mut x, recv, block, dt, op)?;
            recv.copy_within(me * block..(me + 1) * block, 0);
        }
    }
    x.finish()
}

/// Leaves block `me` of the reduction in `work[me * block..]`.
fn run(x: &mut Xfer, work: &mut [u8], block: usize, dt: Datatype, op: &Op) -> Result<()> {
    let (me, n) = (x.comm().rank() as usize, x.comm().size() as usize);
    if n == 1 {
        return Ok(());
    }
    if op.elementwise() {
        let segs: Vec<_> = (0..n).map(|i| i * block..(i + 1) * block).collect();
        return ring::reduce_scatter(x, work, &segs, dt, op);
    }
    reduce::reduce_in(x.with_tag(tags::REDUCE), work, dt, op, 0)?;
    x.with_tag(tags::SCATTER);
    if me == 0 {
        scatter::scatter_in(x, work, None, block, 0)
    } else {
        scatter::scatter_in(
            x,
            &[],
            Some(&mut work[me * block..(me + 1) * block]),
            block,
            0,
        )
    }
}
