//! Collectives and reduction ops. Each function checks its arguments, turns C
//! buffers into slices (`FMI_IN_PLACE` into `None`), and calls `crate::coll`.
//! Counts are in elements of `dt` and per rank unless a comment says otherwise.

use super::*;
use crate::coll;
use crate::op::{self, Op};

/// What `FMI_Op_free` leaves in the handle.
pub const FMI_OP_NULL: FMI_Op = -1;

/// A root argument, checked against the communicator.
fn root_of(root: c_int, c: &Comm) -> Result<u32> {
    if root < 0 || root as u32 >= c.size() {
        return Err(Error::arg(format!(
            "root {root} is out of range (the communicator has {} ranks)",
            c.size()
        )));
    }
    Ok(root as u32)
}

/// The op behind a handle, checked against the datatype.
fn op_for(op: FMI_Op, dt: FMI_Datatype) -> Result<(Op, Datatype)> {
    let d = datatype(dt)?;
    let o = op::lookup(op)?;
    o.check(d)?;
    Ok((o, d))
}

/// `n` counts or displacements from the caller.
fn counts<'a>(p: *const usize, n: u32, what: &str) -> Result<&'a [usize]> {
    if n == 0 {
        return Ok(&[]);
    }
    if p.is_null() {
        return Err(Error::arg(format!("{what} is NULL")));
    }
    // SAFETY: the C contract: an array of one entry per rank of the communicator.
    Ok(unsafe { std::slice::from_raw_parts(p, n as usize) })
}

/// Element counts and displacements in bytes, and the extent (in elements) they span.
fn to_bytes(
    counts: &[usize],
    displs: &[usize],
    dt: FMI_Datatype,
) -> Result<(Vec<usize>, Vec<usize>, usize)> {
    let mut extent = 0usize;
    for (c, d) in counts.iter().zip(displs) {
        let end = c
            .checked_add(*d)
            .ok_or_else(|| Error::arg("count + displacement overflows"))?;
        if *c > 0 {
            extent = extent.max(end);
        }
    }
    byte_len(extent, dt)?;
    let b = |v: &[usize]| {
        v.iter()
            .map(|&x| byte_len(x, dt))
            .collect::<Result<Vec<_>>>()
    };
    Ok((b(counts)?, b(displs)?, extent))
}

fn ok(r: Result<()>) -> Result<c_int> {
    r.map(|_| FMI_SUCCESS)
}

/// Broadcasts `count` elements of `dt` from `buf` at `root` into `buf` everywhere.
#[no_mangle]
pub extern "C" fn FMI_Bcast(
    buf: *mut c_void,
    count: usize,
    dt: FMI_Datatype,
    root: c_int,
    comm: FMI_Comm,
) -> c_int {
    guard("FMI_Bcast", || {
        let c = comm_ref(comm)?;
        let root = root_of(root, c)?;
        ok(coll::bcast(c, out_buf(buf, count, dt, "buf")?, root))
    })
}

/// Reduces every rank's `sendbuf` with `op` into `recvbuf` at `root` (`recvbuf` is
/// not used elsewhere). At the root `sendbuf` may be `FMI_IN_PLACE`.
#[no_mangle]
pub extern "C" fn FMI_Reduce(
    sendbuf: *const c_void,
    recvbuf: *mut c_void,
    count: usize,
    dt: FMI_Datatype,
    op: FMI_Op,
    root: c_int,
    comm: FMI_Comm,
) -> c_int {
    guard("FMI_Reduce", || {
        let c = comm_ref(comm)?;
        let root = root_of(root, c)?;
        let (o, d) = op_for(op, dt)?;
        if c.rank() == root {
            let send = if is_in_place(sendbuf) {
                None
            } else {
                Some(in_buf(sendbuf, count, dt, "sendbuf")?)
            };
            ok(coll::reduce(
                c,
                send,
                out_buf(recvbuf, count, dt, "recvbuf")?,
                d,
                &o,
                root,
            ))
        } else {
            if is_in_place(sendbuf) {
                return Err(Error::arg("FMI_IN_PLACE is only for the root"));
            }
            ok(coll::reduce(
                c,
                Some(in_buf(sendbuf, count, dt, "sendbuf")?),
                &mut [],
                d,
                &o,
                root,
            ))
        }
    })
}

/// Reduces every rank's `sendbuf` with `op` into every rank's `recvbuf`; the result
/// is bit-identical everywhere. `sendbuf` may be `FMI_IN_PLACE`.
#[no_mangle]
pub extern "C" fn FMI_Allreduce(
    sendbuf: *const c_void,
    recvbuf: *mut c_void,
    count: usize,
    dt: FMI_Datatype,
    op: FMI_Op,
    comm: FMI_Comm,
) -> c_int {
    guard("FMI_Allreduce", || {
        let c = comm_ref(comm)?;
        let (o, d) = op_for(op, dt)?;
        let send = if is_in_place(sendbuf) {
            None
        } else {
            Some(in_buf(sendbuf, count, dt, "sendbuf")?)
        };
        ok(coll::allreduce(
            c,
            send,
            out_buf(recvbuf, count, dt, "recvbuf")?,
            d,
            &o,
        ))
    })
}

/// Inclusive prefix reduction: rank r gets x0 op ... op xr. `sendbuf` may be
/// `FMI_IN_PLACE`.
#[no_mangle]
pub extern "C" fn FMI_Scan(
    sendbuf: *const c_void,
    recvbuf: *mut c_void,
    count: usize,
    dt: FMI_Datatype,
    op: FMI_Op,
    comm: FMI_Comm,
) -> c_int {
    guard("FMI_Scan", || {
        let c = comm_ref(comm)?;
        let (o, d) = op_for(op, dt)?;
        let send = if is_in_place(sendbuf) {
            None
        } else {
            Some(in_buf(sendbuf, count, dt, "sendbuf")?)
        };
        ok(coll::scan(
            c,
            send,
            out_buf(recvbuf, count, dt, "recvbuf")?,
            d,
            &o,
        ))
    })
}

/// Exclusive prefix reduction: rank r > 0 gets x0 op ... op x(r-1); rank 0's
/// `recvbuf` is left unchanged. `sendbuf` may be `FMI_IN_PLACE`.
#[no_mangle]
pub extern "C" fn FMI_Exscan(
    sendbuf: *const c_void,
    recvbuf: *mut c_void,
    count: usize,
    dt: FMI_Datatype,
    op: FMI_Op,
    comm: FMI_Comm,
) -> c_int {
    guard("FMI_Exscan", || {
        let c = comm_ref(comm)?;
        let (o, d) = op_for(op, dt)?;
        let recv = out_buf(recvbuf, count, dt, "recvbuf")?;
        if is_in_place(sendbuf) {
            let send = recv.to_vec();
            ok(coll::exscan(c, &send, recv, d, &o))
        } else {
            ok(coll::exscan(
                c,
                in_buf(sendbuf, count, dt, "sendbuf")?,
                recv,
                d,
                &o,
            ))
        }
    })
}

/// Reduces n blocks of `recvcount` elements per rank; rank i gets block i of the
/// result. With `sendbuf` = `FMI_IN_PLACE` the n blocks are taken from `recvbuf`
/// (which must then hold n blocks) and the result is its first block.
#[no_mangle]
pub extern "C" fn FMI_Reduce_scatter_block(
    sendbuf: *const c_void,
    recvbuf: *mut c_void,
    recvcount: usize,
    dt: FMI_Datatype,
    op: FMI_Op,
    comm: FMI_Comm,
) -> c_int {
    guard("FMI_Reduce_scatter_block", || {
        let c = comm_ref(comm)?;
        let (o, d) = op_for(op, dt)?;
        let all = recvcount
            .checked_mul(c.size() as usize)
            .ok_or_else(|| Error::arg("recvcount x ranks overflows"))?;
        if is_in_place(sendbuf) {
            ok(coll::reduce_scatter_block(
                c,
                None,
                out_buf(recvbuf, all, dt, "recvbuf")?,
                d,
                &o,
            ))
        } else {
            let send = in_buf(sendbuf, all, dt, "sendbuf")?;
            ok(coll::reduce_scatter_block(
                c,
                Some(send),
                out_buf(recvbuf, recvcount, dt, "recvbuf")?,
                d,
                &o,
            ))
        }
    })
}

/// Gathers `count` elements from every rank into `recvbuf` at `root` (n blocks in
/// rank order; not used elsewhere). At the root `sendbuf` may be `FMI_IN_PLACE`.
#[no_mangle]
pub extern "C" fn FMI_Gather(
    sendbuf: *const c_void,
    recvbuf: *mut c_void,
    count: usize,
    dt: FMI_Datatype,
    root: c_int,
    comm: FMI_Comm,
) -> c_int {
    guard("FMI_Gather", || {
        let c = comm_ref(comm)?;
        let root = root_of(root, c)?;
        let block = byte_len(count, dt)?;
        let in_place = is_in_place(sendbuf);
        if c.rank() != root && in_place {
            return Err(Error::arg("FMI_IN_PLACE is only for the root"));
        }
        let send = if in_place {
            None
        } else {
            Some(in_buf(sendbuf, count, dt, "sendbuf")?)
        };
        if c.rank() == root {
            let all = count
                .checked_mul(c.size() as usize)
                .ok_or_else(|| Error::arg("count x ranks overflows"))?;
            ok(coll::gather(
                c,
                send,
                out_buf(recvbuf, all, dt, "recvbuf")?,
                block,
                root,
            ))
        } else {
            ok(coll::gather(c, send, &mut [], block, root))
        }
    })
}

/// Scatters n blocks of `count` elements from `sendbuf` at `root` (not used
/// elsewhere): rank i gets block i. At the root `recvbuf` may be `FMI_IN_PLACE`.
#[no_mangle]
pub extern "C" fn FMI_Scatter(
    sendbuf: *const c_void,
    recvbuf: *mut c_void,
    count: usize,
    dt: FMI_Datatype,
    root: c_int,
    comm: FMI_Comm,
) -> c_int {
    guard("FMI_Scatter", || {
        let c = comm_ref(comm)?;
        let root = root_of(root, c)?;
        let block = byte_len(count, dt)?;
        let in_place = is_in_place(recvbuf);
        if c.rank() != root && in_place {
            return Err(Error::arg("FMI_IN_PLACE is only for the root"));
        }
        let recv = if in_place {
            None
        } else {
            Some(out_buf(recvbuf, count, dt, "recvbuf")?)
        };
        if c.rank() == root {
            let all = count
                .checked_mul(c.size() as usize)
                .ok_or_else(|| Error::arg("count x ranks overflows"))?;
            ok(coll::scatter(
                c,
                in_buf(sendbuf, all, dt, "sendbuf")?,
                recv,
                block,
                root,
            ))
        } else {
            ok(coll::scatter(c, &[], recv, block, root))
        }
    })
}

/// Every rank gets every rank's `count` elements, n blocks in rank order.
/// `sendbuf` may be `FMI_IN_PLACE` (the own block is already in `recvbuf`).
#[no_mangle]
pub extern "C" fn FMI_Allgather(
    sendbuf: *const c_void,
    recvbuf: *mut c_void,
    count: usize,
    dt: FMI_Datatype,
    comm: FMI_Comm,
) -> c_int {
    guard("FMI_Allgather", || {
        let c = comm_ref(comm)?;
        let block = byte_len(count, dt)?;
        let all = count
            .checked_mul(c.size() as usize)
            .ok_or_else(|| Error::arg("count x ranks overflows"))?;
        let send = if is_in_place(sendbuf) {
            None
        } else {
            Some(in_buf(sendbuf, count, dt, "sendbuf")?)
        };
        ok(coll::allgather(
            c,
            send,
            out_buf(recvbuf, all, dt, "recvbuf")?,
            block,
        ))
    })
}

/// Block j (`count` elements) of rank i's `sendbuf` goes to block i of rank j's
/// `recvbuf`. `sendbuf` may be `FMI_IN_PLACE` (exchange within `recvbuf`).
#[no_mangle]
pub extern "C" fn FMI_Alltoall(
    sendbuf: *const c_void,
    recvbuf: *mut c_void,
    count: usize,
    dt: FMI_Datatype,
    comm: FMI_Comm,
) -> c_int {
    guard("FMI_Alltoall", || {
        let c = comm_ref(comm)?;
        let block = byte_len(count, dt)?;
        let all = count
            .checked_mul(c.size() as usize)
            .ok_or_else(|| Error::arg("count x ranks overflows"))?;
        let send = if is_in_place(sendbuf) {
            None
        } else {
            Some(in_buf(sendbuf, all, dt, "sendbuf")?)
        };
        ok(coll::alltoall(
            c,
            send,
            out_buf(recvbuf, all, dt, "recvbuf")?,
            block,
        ))
    })
}

/// Rank i's `sendcount` elements land at `recvbuf + displs[i]` (elements) at `root`;
/// `recvbuf`, `recvcounts` and `displs` are used only there, and the blocks must
/// not overlap. At the root `sendbuf` may be `FMI_IN_PLACE`.
#[no_mangle]
pub extern "C" fn FMI_Gatherv(
    sendbuf: *const c_void,
    sendcount: usize,
    recvbuf: *mut c_void,
    recvcounts: *const usize,
    displs: *const usize,
    dt: FMI_Datatype,
    root: c_int,
    comm: FMI_Comm,
) -> c_int {
    guard("FMI_Gatherv", || {
        let c = comm_ref(comm)?;
        let root = root_of(root, c)?;
        datatype(dt)?;
        let in_place = is_in_place(sendbuf);
        if c.rank() != root {
            if in_place {
                return Err(Error::arg("FMI_IN_PLACE is only for the root"));
            }
            return ok(coll::gatherv(
                c,
                Some(in_buf(sendbuf, sendcount, dt, "sendbuf")?),
                &mut [],
                &[],
                &[],
                root,
            ));
        }
        let n = c.size();
        let (cb, db, extent) = to_bytes(
            counts(recvcounts, n, "recvcounts")?,
            counts(displs, n, "displs")?,
            dt,
        )?;
        let send = if in_place {
            None
        } else {
            Some(in_buf(sendbuf, sendcount, dt, "sendbuf")?)
        };
        ok(coll::gatherv(
            c,
            send,
            out_buf(recvbuf, extent, dt, "recvbuf")?,
            &cb,
            &db,
            root,
        ))
    })
}

/// Rank i gets `sendcounts[i]` elements from `sendbuf + displs[i]` at `root`
/// (`sendbuf`, `sendcounts` and `displs` are used only there). At the root
/// `recvbuf` may be `FMI_IN_PLACE`.
#[no_mangle]
pub extern "C" fn FMI_Scatterv(
    sendbuf: *const c_void,
    sendcounts: *const usize,
    displs: *const usize,
    recvbuf: *mut c_void,
    recvcount: usize,
    dt: FMI_Datatype,
    root: c_int,
    comm: FMI_Comm,
) -> c_int {
    guard("FMI_Scatterv", || {
        let c = comm_ref(comm)?;
        let root = root_of(root, c)?;
        datatype(dt)?;
        let in_place = is_in_place(recvbuf);
        if c.rank() != root {
            if in_place {
                return Err(Error::arg("FMI_IN_PLACE is only for the root"));
            }
            return ok(coll::scatterv(
                c,
                &[],
                &[],
                &[],
                Some(out_buf(recvbuf, recvcount, dt, "recvbuf")?),
                root,
            ));
        }
        let n = c.size();
        let (cb, db, extent) = to_bytes(
            counts(sendcounts, n, "sendcounts")?,
            counts(displs, n, "displs")?,
            dt,
        )?;
        let recv = if in_place {
            None
        } else {
            Some(out_buf(recvbuf, recvcount, dt, "recvbuf")?)
        };
        ok(coll::scatterv(
            c,
            in_buf(sendbuf, extent, dt, "sendbuf")?,
            &cb,
            &db,
            recv,
            root,
        ))
    })
}

/// Every rank gets rank i's `recvcounts[i]` elements at `recvbuf + displs[i]`
/// (the same counts and displacements on every rank; blocks must not overlap).
/// `sendbuf` may be `FMI_IN_PLACE` (the own block is already in place).
#[no_mangle]
pub extern "C" fn FMI_Allgatherv(
    sendbuf: *const c_void,
    sendcount: usize,
    recvbuf: *mut c_void,
    recvcounts: *const usize,
    displs: *const usize,
    dt: FMI_Datatype,
    comm: FMI_Comm,
) -> c_int {
    guard("FMI_Allgatherv", || {
        let c = comm_ref(comm)?;
        let n = c.size();
        let (cb, db, extent) = to_bytes(
            counts(recvcounts, n, "recvcounts")?,
            counts(displs, n, "displs")?,
            dt,
        )?;
        let send = if is_in_place(sendbuf) {
            None
        } else {
            Some(in_buf(sendbuf, sendcount, dt, "sendbuf")?)
        };
        ok(coll::allgatherv(
            c,
            send,
            out_buf(recvbuf, extent, dt, "recvbuf")?,
            &cb,
            &db,
        ))
    })
}

/// Rank i's `sendcounts[j]` elements at `sendbuf + sdispls[j]` land in rank j's
/// `recvbuf + rdispls[i]` (`recvcounts[i]` elements). No `FMI_IN_PLACE`.
#[no_mangle]
pub extern "C" fn FMI_Alltoallv(
    sendbuf: *const c_void,
    sendcounts: *const usize,
    sdispls: *const usize,
    recvbuf: *mut c_void,
    recvcounts: *const usize,
    rdispls: *const usize,
    dt: FMI_Datatype,
    comm: FMI_Comm,
) -> c_int {
    guard("FMI_Alltoallv", || {
        let c = comm_ref(comm)?;
        if is_in_place(sendbuf) {
            return Err(Error::arg("FMI_IN_PLACE is not supported by FMI_Alltoallv"));
        }
        let n = c.size();
        let (sc, sd, sext) = to_bytes(
            counts(sendcounts, n, "sendcounts")?,
            counts(sdispls, n, "sdispls")?,
            dt,
        )?;
        let (rc, rd, rext) = to_bytes(
            counts(recvcounts, n, "recvcounts")?,
            counts(rdispls, n, "rdispls")?,
            dt,
        )?;
        let send = in_buf(sendbuf, sext, dt, "sendbuf")?;
        ok(coll::alltoallv(
            c,
            send,
            &sc,
            &sd,
            out_buf(recvbuf, rext, dt, "recvbuf")?,
            &rc,
            &rd,
        ))
    })
}

/// A C user function and its context pointer.
struct CUserFn {
    f: unsafe extern "C" fn(*const c_void, *mut c_void, usize, FMI_Datatype, *mut c_void),
    ctx: *mut c_void,
}

// SAFETY: the C contract of FMI_Op_create: the function may be called from any
// thread that runs a collective, with the context given; thread safety of what
// `ctx` points to is the caller's promise.
unsafe impl Send for CUserFn {}
// SAFETY: as above.
unsafe impl Sync for CUserFn {}

impl CUserFn {
    fn call(&self, a: &[u8], b: &mut [u8], count: usize, d: Datatype) {
        // SAFETY: `a` and `b` hold `count` elements of `d` each (the callers in `op`
        // guarantee it); the function pointer and context come from the C caller.
        unsafe {
            (self.f)(
                a.as_ptr() as *const c_void,
                b.as_mut_ptr() as *mut c_void,
                count,
                dt_code(d),
                self.ctx,
            )
        }
    }
}

fn dt_code(d: Datatype) -> FMI_Datatype {
    Datatype::ALL.iter().position(|&x| x == d).unwrap_or(0) as FMI_Datatype
}

/// Creates a user reduction op. `fn` computes `inout[i] = in[i] (op) inout[i]` for
/// `i < count`, where `in` holds the contributions of lower ranks; it is always
/// called on whole vectors, so it may treat groups of elements as one value.
/// `commutative` and `associative` (non-zero: true) choose the algorithms: a
/// non-associative op is applied strictly left to right in rank order. `ctx` is
/// passed to every call. The handle (100 and up) goes to `*op`.
#[no_mangle]
pub extern "C" fn FMI_Op_create(
    r#fn: FMI_User_function,
    commutative: c_int,
    associative: c_int,
    ctx: *mut c_void,
    op: *mut FMI_Op,
) -> c_int {
    guard("FMI_Op_create", || {
        let f = r#fn.ok_or_else(|| Error::arg("fn is NULL"))?;
        if op.is_null() {
            return Err(Error::arg("op is NULL"));
        }
        let cf = CUserFn { f, ctx };
        let user = Op::user(commutative != 0, associative != 0, move |a, b, count, d| {
            cf.call(a, b, count, d)
        });
        put(op, op::register(user)?, "op")?;
        Ok(FMI_SUCCESS)
    })
}

/// Reads a non-null op handle from the caller.
fn read_op(op: *const FMI_Op) -> FMI_Op {
    // SAFETY: checked non-null by the caller; points to an FMI_Op (C contract).
    unsafe { op.read() }
}

/// Frees a user op and sets `*op` to `FMI_OP_NULL`. Built-in ops cannot be freed.
#[no_mangle]
pub extern "C" fn FMI_Op_free(op: *mut FMI_Op) -> c_int {
    guard("FMI_Op_free", || {
        if op.is_null() {
            return Err(Error::arg("op is NULL"));
        }
        let h = read_op(op);
        op::free(h)?;
        put(op, FMI_OP_NULL, "op")?;
        Ok(FMI_SUCCESS)
    })
}
