//! Dissemination barrier: in round k every rank signals rank+2^k and waits for
//! rank-2^k; after ceil(log2 n) rounds everyone has heard, directly or not, from
//! everyone. Works for any n, not only powers of two.

use super::storage::{self, Stage};
use super::tags;
use crate::comm::Comm;
use crate::error::Result;
use crate::policy::Op as P;

/// Returns once every rank of `comm` has entered the barrier.
pub fn barrier(comm: &Comm) -> Result<()> {
    let n = comm.size();
    let me = comm.rank();
    if n > 1 {
        if let Some(st) = Stage::pick(comm, P::Barrier, 0)? {
            return storage::barrier(st);
        }
    }
    let mut dist = 1;
    while dist < n {
        let to = (me + dist) % n;
        let from = (me + n - dist) % n;
        comm.coll_sendrecv(&[], to, &mut [], from, tags::BARRIER)?;
        dist *= 2;
    }
    Ok(())
}
