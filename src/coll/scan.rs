//! Inclusive and exclusive prefix reductions.
//!
//! - associative ops: recursive doubling (MPICH's): in round k rank r swaps its
//!   "partial" (the reduction of its aligned block of 2^k ranks) with r XOR 2^k; a
//!   partial from below is folded into both the result and the partial, one from
//!   above only into the partial, always lower (op) higher. log2(n) rounds, any n.
//! - non-associative ops: a chain 0 -> 1 -> ... (strictly left to right).

use super::storage::{self, Stage};
use super::{chain, tags, Xfer};
use crate::comm::Comm;
use crate::datatype::Datatype;
use crate::error::{Error, Result};
use crate::op::Op;
use crate::policy::Op as P;

/// Inclusive scan: rank r's `recv` = x0 op ... op xr. `send: None` takes the input
/// from `recv`.
pub fn scan(
    comm: &Comm,
    send: Option<&[u8]>,
    recv: &mut [u8],
    dt: Datatype,
    op: &Op,
) -> Result<()> {
    op.check(dt)?;
    if let Some(s) = send {
        if s.len() != recv.len() {
            return Err(Error::arg("scan: send and receive buffers differ in size"));
        }
        recv.copy_from_slice(s);
    }
    whole(recv.len(), dt, "scan")?;
    if comm.size() == 1 {
        return Ok(());
    }
    if let Some(st) = Stage::pick(comm, P::Scan, recv.len())? {
        let own = recv.to_vec();
        return storage::scan(st, &own, recv, dt, op, true);
    }
    let mut x = Xfer::new(comm, tags::SCAN, "scan");
    if op.associative() {
        let mut partial = recv.to_vec();
        doubling(&mut x, &mut partial, Some(recv), None, dt, op)?;
    } else {
        chain::prefix(x.with_tag(tags::CHAIN), recv, dt, op, None)?;
    }
    x.finish()
}

/// Exclusive scan: rank r's `recv` = x0 op ... op x(r-1); rank 0's `recv` is left
/// as it is.
pub fn exscan(comm: &Comm, send: &[u8], recv: &mut [u8], dt: Datatype, op: &Op) -> Result<()> {
    op.check(dt)?;
    if send.len() != recv.len() {
        return Err(Error::arg(
            "exscan: send and receive buffers differ in size",
        ));
    }
    whole(recv.len(), dt, "exscan")?;
    if comm.size() == 1 {
        return Ok(());
    }
    if let Some(st) = Stage::pick(comm, P::Scan, recv.len())? {
        return storage::scan(st, send, recv, dt, op, false);
    }
    let mut x = Xfer::new(comm, tags::SCAN, "exscan");
    let mut partial = send.to_vec();
    if op.associative() {
        let mut have = false;
        doubling(&mut x, &mut partial, None, Some((recv, &mut have)), dt, op)?;
    } else {
        chain::prefix(x.with_tag(tags::CHAIN), &mut partial, dt, op, Some(recv))?;
    }
    x.finish()
}

fn whole(len: usize, dt: Datatype, what: &str) -> Result<()> {
    if !len.is_multiple_of(dt.size()) {
        return Err(Error::arg(format!(
            "{what}: buffer is not a whole number of elements"
        )));
    }
    Ok(())
}

/// The recursive-doubling rounds. `inclusive` holds the running inclusive result
/// (starting as the own input); `exclusive` the running exclusive one and whether
/// it holds anything yet.
fn doubling(
    x: &mut Xfer,
    partial: &mut [u8],
    mut inclusive: Option<&mut [u8]>,
    mut exclusive: Option<(&mut [u8], &mut bool)>,
    dt: Datatype,
    op: &Op,
) -> Result<()> {
    let (r, n) = (x.comm().rank(), x.comm().size());
    let mut tmp = vec![0u8; partial.len()];
    let mut mask = 1;
    while mask < n {
        let partner = r ^ mask;
        if partner < n {
            x.sendrecv(partial, partner, &mut tmp, partner)?;
            if partner < r {
                // tmp covers the ranks just below everything we have
                if let Some(res) = inclusive.as_deref_mut() {
                    op.apply(dt, &tmp, res);
                }
                if let Some((res, have)) = exclusive.as_mut() {
                    if **have {
                        op.apply(dt, &tmp, res);
                    } else {
                        res.copy_from_slice(&tmp);
                        **have = true;
                    }
                }
                op.apply(dt, &tmp, partial);
            } else {
                op.apply_into_left(dt, partial, &mut tmp);
            }
        }
        mask <<= 1;
    }
    Ok(())
}
