//! Recursive-doubling allreduce: in round k, rank r exchanges its partial result with
//! rank r XOR 2^k and both fold the two, so after log2(n) rounds every rank holds the
//! whole reduction. Latency-optimal; used for small vectors and for user ops (which
//! always see whole vectors).
//!
//! For n not a power of two, the first 2*rem ranks pair up beforehand (even into
//! odd), leaving a power of two of "virtual" ranks, and the odd ones hand the result
//! back at the end (MPICH's scheme). Pairs and partners always combine
//! `lower (op) higher`, so rank order is kept and both partners get the same bits.

use super::Xfer;
use crate::datatype::Datatype;
use crate::error::Result;
use crate::op::Op;

pub(crate) fn allreduce(x: &mut Xfer, work: &mut [u8], dt: Datatype, op: &Op) -> Result<()> {
    let (r, n) = (x.comm().rank(), x.comm().size());
    let pof2 = if n.is_power_of_two() {
        n
    } else {
        n.next_power_of_two() / 2
    };
    let rem = n - pof2;
    let mut tmp = vec![0u8; work.len()];

    // fold the extra ranks in
    let vrank = if r < 2 * rem {
        if r % 2 == 0 {
            x.send(work, r + 1)?;
            None
        } else {
            x.recv(&mut tmp, r - 1)?;
            op.apply(dt, &tmp, work);
            Some(r / 2)
        }
    } else {
        Some(r - rem)
    };

    if let Some(v) = vrank {
        let real = |v: u32| if v < rem { 2 * v + 1 } else { v + rem };
        let mut mask = 1;
        while mask < pof2 {
            let partner = real(v ^ mask);
            x.sendrecv(work, partner, &mut tmp, partner)?;
            if partner < r {
                op.apply(dt, &tmp, work);
            } else {
                op.apply_into_left(dt, work, &mut tmp);
            }
            mask <<= 1;
        }
    }

    // hand the result back to the ranks folded in
    if r < 2 * rem {
        if r % 2 == 0 {
            x.recv(work, r + 1)?;
        } else {
            x.send(work, r - 1)?;
        }
    }
    Ok(())
}
