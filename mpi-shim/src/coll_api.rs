//! The exported collectives, blocking and non-blocking: argument checks, then the
//! functions of `coll` on the communicator (blocking) or queued on its progress
//! thread (`nbc`), whose request MPI_Wait/MPI_Test complete.

use crate::abi::*;
use crate::args::out;
use crate::coll::{self, Prefix};
use crate::comm;
use crate::errors::{Fail, R};
use crate::nbc::{self, P};
use crate::request::{self, Entry, Kind};
use std::ffi::{c_int, c_void};

/// Runs `f` on `h`'s communicator, errors going to `h`'s handler.
fn now(h: MPI_Comm, f: impl FnOnce(&fmi::comm::Comm) -> R) -> R {
    let c = comm::get(h)?;
    f(&c.comm).map_err(|e| e.on(h))
}

/// Queues `f` on `h`'s progress thread after `check` passed; writes the request.
fn later(
    h: MPI_Comm,
    req: *mut MPI_Request,
    check: impl FnOnce(&fmi::comm::Comm) -> R,
    f: impl FnOnce(&fmi::comm::Comm) -> R + Send + 'static,
) -> R {
    let c = comm::get(h)?;
    if req.is_null() {
        return Err(Fail::new(MPI_ERR_ARG, "request is NULL").on(h));
    }
    check(&c.comm).map_err(|e| e.on(h))?;
    let done = nbc::start(&c, Box::new(f)).map_err(|e| e.on(h))?;
    out(
        req,
        request::start(Entry {
            kind: Kind::Nbc(done),
            comm: h,
        }),
        "request",
    )
}

/// MPI_Ireduce_scatter with counts the queued collective owns (the large-count
/// form converts them).
pub fn ireduce_scatter_owned(
    sbuf: *const c_void,
    rbuf: *mut c_void,
    counts: Vec<c_int>,
    dt: MPI_Datatype,
    op: MPI_Op,
    comm: MPI_Comm,
    req: *mut MPI_Request,
) -> R {
    let (s, r) = (P::of(sbuf), P::of(rbuf));
    later(comm, req, ok, move |c| {
        // SAFETY: the program keeps the buffers valid until the request completes;
        // the counts are ours.
        unsafe { coll::reduce_scatter(c, s.c(), r.m(), counts.as_ptr(), dt, op) }
    })
}

/// Counts and displacements converted from a large-count call, owned by the
/// queued collective (`None`: NULL, not significant on this rank).
pub type Owned = Option<Vec<c_int>>;

fn raw(v: &Owned) -> *const c_int {
    v.as_ref().map_or(std::ptr::null(), |v| v.as_ptr())
}

/// The v-collectives' non-blocking large-count forms, over owned arrays.
pub enum VColl {
    Gatherv { root: c_int, all: bool },
    Scatterv { root: c_int },
    Alltoallv,
}

/// Starts a non-blocking v-collective whose arrays the job owns: `a` are the
/// counts and displacements of the side that has them per rank (receive side of
/// a gather, send side of a scatter), `b` the receive side's for alltoallv.
#[allow(clippy::too_many_arguments)]
pub fn iv_owned(
    kind: VColl,
    sbuf: *const c_void,
    scount: c_int,
    sdt: MPI_Datatype,
    rbuf: *mut c_void,
    rcount: c_int,
    rdt: MPI_Datatype,
    a: (Owned, Owned),
    b: (Owned, Owned),
    comm: MPI_Comm,
    req: *mut MPI_Request,
) -> R {
    let (s, r) = (P::of(sbuf), P::of(rbuf));
    let root = match kind {
        VColl::Gatherv { root, all: false } | VColl::Scatterv { root } => Some(root),
        _ => None,
    };
    let check = move |c: &fmi::comm::Comm| root.map_or(Ok(()), |r| coll::check_root(c, r));
    later(comm, req, check, move |c| {
        // SAFETY: the program keeps the buffers valid until the request completes;
        // the arrays are ours.
        unsafe {
            match kind {
                VColl::Gatherv { root, all } => coll::gatherv(
                    c,
                    s.c(),
                    scount,
                    sdt,
                    r.m(),
                    raw(&a.0),
                    raw(&a.1),
                    rdt,
                    root,
                    all,
                ),
                VColl::Scatterv { root } => coll::scatterv(
                    c,
                    s.c(),
                    raw(&a.0),
                    raw(&a.1),
                    sdt,
                    r.m(),
                    rcount,
                    rdt,
                    root,
                ),
                VColl::Alltoallv => coll::alltoallv(
                    c,
                    s.c(),
                    raw(&a.0),
                    raw(&a.1),
                    sdt,
                    r.m(),
                    raw(&b.0),
                    raw(&b.1),
                    rdt,
                ),
            }
        }
    })
}

fn ok(_: &fmi::comm::Comm) -> R {
    Ok(())
}

mpi! {
    fn MPI_Barrier / PMPI_Barrier(comm: MPI_Comm) {
        now(comm, |c| coll::barrier(c))
    }

    fn MPI_Ibarrier / PMPI_Ibarrier(comm: MPI_Comm, req: *mut MPI_Request) {
        later(comm, req, ok, |c| coll::barrier(c))
    }

    fn MPI_Bcast / PMPI_Bcast(buf: *mut c_void, count: c_int, dt: MPI_Datatype, root: c_int, comm: MPI_Comm) {
        now(comm, |c| coll::bcast(c, buf, count, dt, root))
    }

    fn MPI_Ibcast / PMPI_Ibcast(buf: *mut c_void, count: c_int, dt: MPI_Datatype, root: c_int, comm: MPI_Comm, req: *mut MPI_Request) {
        let b = P::of(buf);
        later(comm, req, |c| coll::check_root(c, root).and(coll::check_count(count)),
            move |c| coll::bcast(c, b.m(), count, dt, root))
    }

    fn MPI_Reduce / PMPI_Reduce(sbuf: *const c_void, rbuf: *mut c_void, count: c_int, dt: MPI_Datatype, op: MPI_Op, root: c_int, comm: MPI_Comm) {
        now(comm, |c| coll::reduce(c, sbuf, rbuf, count, dt, op, root))
    }

    fn MPI_Ireduce / PMPI_Ireduce(sbuf: *const c_void, rbuf: *mut c_void, count: c_int, dt: MPI_Datatype, op: MPI_Op, root: c_int, comm: MPI_Comm, req: *mut MPI_Request) {
        let (s, r) = (P::of(sbuf), P::of(rbuf));
        later(comm, req, |c| coll::check_root(c, root).and(coll::check_count(count)),
            move |c| coll::reduce(c, s.c(), r.m(), count, dt, op, root))
    }

    fn MPI_Allreduce / PMPI_Allreduce(sbuf: *const c_void, rbuf: *mut c_void, count: c_int, dt: MPI_Datatype, op: MPI_Op, comm: MPI_Comm) {
        now(comm, |c| coll::allreduce_like(c, Prefix::All, sbuf, rbuf, count, dt, op))
    }

    fn MPI_Iallreduce / PMPI_Iallreduce(sbuf: *const c_void, rbuf: *mut c_void, count: c_int, dt: MPI_Datatype, op: MPI_Op, comm: MPI_Comm, req: *mut MPI_Request) {
        let (s, r) = (P::of(sbuf), P::of(rbuf));
        later(comm, req, |_| coll::check_count(count),
            move |c| coll::allreduce_like(c, Prefix::All, s.c(), r.m(), count, dt, op))
    }

    fn MPI_Scan / PMPI_Scan(sbuf: *const c_void, rbuf: *mut c_void, count: c_int, dt: MPI_Datatype, op: MPI_Op, comm: MPI_Comm) {
        now(comm, |c| coll::allreduce_like(c, Prefix::Scan, sbuf, rbuf, count, dt, op))
    }

    fn MPI_Exscan / PMPI_Exscan(sbuf: *const c_void, rbuf: *mut c_void, count: c_int, dt: MPI_Datatype, op: MPI_Op, comm: MPI_Comm) {
        now(comm, |c| coll::allreduce_like(c, Prefix::Exscan, sbuf, rbuf, count, dt, op))
    }

    fn MPI_Iscan / PMPI_Iscan(sbuf: *const c_void, rbuf: *mut c_void, count: c_int, dt: MPI_Datatype, op: MPI_Op, comm: MPI_Comm, req: *mut MPI_Request) {
        let (s, r) = (P::of(sbuf), P::of(rbuf));
        later(comm, req, |_| coll::check_count(count),
            move |c| coll::allreduce_like(c, Prefix::Scan, s.c(), r.m(), count, dt, op))
    }

    fn MPI_Iexscan / PMPI_Iexscan(sbuf: *const c_void, rbuf: *mut c_void, count: c_int, dt: MPI_Datatype, op: MPI_Op, comm: MPI_Comm, req: *mut MPI_Request) {
        let (s, r) = (P::of(sbuf), P::of(rbuf));
        later(comm, req, |_| coll::check_count(count),
            move |c| coll::allreduce_like(c, Prefix::Exscan, s.c(), r.m(), count, dt, op))
    }

    fn MPI_Ireduce_scatter_block / PMPI_Ireduce_scatter_block(sbuf: *const c_void, rbuf: *mut c_void, count: c_int, dt: MPI_Datatype, op: MPI_Op, comm: MPI_Comm, req: *mut MPI_Request) {
        let (s, r) = (P::of(sbuf), P::of(rbuf));
        later(comm, req, |_| coll::check_count(count),
            move |c| coll::reduce_scatter_block(c, s.c(), r.m(), count, dt, op))
    }

    fn MPI_Ireduce_scatter / PMPI_Ireduce_scatter(sbuf: *const c_void, rbuf: *mut c_void, counts: *const c_int, dt: MPI_Datatype, op: MPI_Op, comm: MPI_Comm, req: *mut MPI_Request) {
        let (s, r, n) = (P::of(sbuf), P::of(rbuf), P::of(counts));
        later(comm, req, ok, move |c| coll::reduce_scatter(c, s.c(), r.m(), n.c(), dt, op))
    }

    fn MPI_Igatherv / PMPI_Igatherv(sbuf: *const c_void, scount: c_int, sdt: MPI_Datatype, rbuf: *mut c_void, rcounts: *const c_int, displs: *const c_int, rdt: MPI_Datatype, root: c_int, comm: MPI_Comm, req: *mut MPI_Request) {
        let (s, r, n, d) = (P::of(sbuf), P::of(rbuf), P::of(rcounts), P::of(displs));
        later(comm, req, |c| coll::check_root(c, root),
            move |c| coll::gatherv(c, s.c(), scount, sdt, r.m(), n.c(), d.c(), rdt, root, false))
    }

    fn MPI_Iallgatherv / PMPI_Iallgatherv(sbuf: *const c_void, scount: c_int, sdt: MPI_Datatype, rbuf: *mut c_void, rcounts: *const c_int, displs: *const c_int, rdt: MPI_Datatype, comm: MPI_Comm, req: *mut MPI_Request) {
        let (s, r, n, d) = (P::of(sbuf), P::of(rbuf), P::of(rcounts), P::of(displs));
        later(comm, req, ok, move |c| coll::gatherv(c, s.c(), scount, sdt, r.m(), n.c(), d.c(), rdt, 0, true))
    }

    fn MPI_Iscatterv / PMPI_Iscatterv(sbuf: *const c_void, scounts: *const c_int, displs: *const c_int, sdt: MPI_Datatype, rbuf: *mut c_void, rcount: c_int, rdt: MPI_Datatype, root: c_int, comm: MPI_Comm, req: *mut MPI_Request) {
        let (s, n, d, r) = (P::of(sbuf), P::of(scounts), P::of(displs), P::of(rbuf));
        later(comm, req, |c| coll::check_root(c, root),
            move |c| coll::scatterv(c, s.c(), n.c(), d.c(), sdt, r.m(), rcount, rdt, root))
    }

    fn MPI_Ialltoallv / PMPI_Ialltoallv(sbuf: *const c_void, scounts: *const c_int, sdispls: *const c_int, sdt: MPI_Datatype, rbuf: *mut c_void, rcounts: *const c_int, rdispls: *const c_int, rdt: MPI_Datatype, comm: MPI_Comm, req: *mut MPI_Request) {
        let (s, sc, sd) = (P::of(sbuf), P::of(scounts), P::of(sdispls));
        let (r, rc, rd) = (P::of(rbuf), P::of(rcounts), P::of(rdispls));
        later(comm, req, ok, move |c| coll::alltoallv(c, s.c(), sc.c(), sd.c(), sdt, r.m(), rc.c(), rd.c(), rdt))
    }

    fn MPI_Reduce_scatter_block / PMPI_Reduce_scatter_block(sbuf: *const c_void, rbuf: *mut c_void, count: c_int, dt: MPI_Datatype, op: MPI_Op, comm: MPI_Comm) {
        now(comm, |c| coll::reduce_scatter_block(c, sbuf, rbuf, count, dt, op))
    }

    fn MPI_Reduce_scatter / PMPI_Reduce_scatter(sbuf: *const c_void, rbuf: *mut c_void, counts: *const c_int, dt: MPI_Datatype, op: MPI_Op, comm: MPI_Comm) {
        now(comm, |c| coll::reduce_scatter(c, sbuf, rbuf, counts, dt, op))
    }

    fn MPI_Gather / PMPI_Gather(sbuf: *const c_void, scount: c_int, sdt: MPI_Datatype, rbuf: *mut c_void, rcount: c_int, rdt: MPI_Datatype, root: c_int, comm: MPI_Comm) {
        now(comm, |c| coll::gather(c, sbuf, scount, sdt, rbuf, rcount, rdt, root, false))
    }

    fn MPI_Igather / PMPI_Igather(sbuf: *const c_void, scount: c_int, sdt: MPI_Datatype, rbuf: *mut c_void, rcount: c_int, rdt: MPI_Datatype, root: c_int, comm: MPI_Comm, req: *mut MPI_Request) {
        let (s, r) = (P::of(sbuf), P::of(rbuf));
        later(comm, req, |c| coll::check_root(c, root),
            move |c| coll::gather(c, s.c(), scount, sdt, r.m(), rcount, rdt, root, false))
    }

    fn MPI_Allgather / PMPI_Allgather(sbuf: *const c_void, scount: c_int, sdt: MPI_Datatype, rbuf: *mut c_void, rcount: c_int, rdt: MPI_Datatype, comm: MPI_Comm) {
        now(comm, |c| coll::gather(c, sbuf, scount, sdt, rbuf, rcount, rdt, 0, true))
    }

    fn MPI_Iallgather / PMPI_Iallgather(sbuf: *const c_void, scount: c_int, sdt: MPI_Datatype, rbuf: *mut c_void, rcount: c_int, rdt: MPI_Datatype, comm: MPI_Comm, req: *mut MPI_Request) {
        let (s, r) = (P::of(sbuf), P::of(rbuf));
        later(comm, req, ok, move |c| coll::gather(c, s.c(), scount, sdt, r.m(), rcount, rdt, 0, true))
    }

    fn MPI_Gatherv / PMPI_Gatherv(sbuf: *const c_void, scount: c_int, sdt: MPI_Datatype, rbuf: *mut c_void, rcounts: *const c_int, displs: *const c_int, rdt: MPI_Datatype, root: c_int, comm: MPI_Comm) {
        now(comm, |c| coll::gatherv(c, sbuf, scount, sdt, rbuf, rcounts, displs, rdt, root, false))
    }

    fn MPI_Allgatherv / PMPI_Allgatherv(sbuf: *const c_void, scount: c_int, sdt: MPI_Datatype, rbuf: *mut c_void, rcounts: *const c_int, displs: *const c_int, rdt: MPI_Datatype, comm: MPI_Comm) {
        now(comm, |c| coll::gatherv(c, sbuf, scount, sdt, rbuf, rcounts, displs, rdt, 0, true))
    }

    fn MPI_Scatter / PMPI_Scatter(sbuf: *const c_void, scount: c_int, sdt: MPI_Datatype, rbuf: *mut c_void, rcount: c_int, rdt: MPI_Datatype, root: c_int, comm: MPI_Comm) {
        now(comm, |c| coll::scatter(c, sbuf, scount, sdt, rbuf, rcount, rdt, root))
    }

    fn MPI_Iscatter / PMPI_Iscatter(sbuf: *const c_void, scount: c_int, sdt: MPI_Datatype, rbuf: *mut c_void, rcount: c_int, rdt: MPI_Datatype, root: c_int, comm: MPI_Comm, req: *mut MPI_Request) {
        let (s, r) = (P::of(sbuf), P::of(rbuf));
        later(comm, req, |c| coll::check_root(c, root),
            move |c| coll::scatter(c, s.c(), scount, sdt, r.m(), rcount, rdt, root))
    }

    fn MPI_Scatterv / PMPI_Scatterv(sbuf: *const c_void, scounts: *const c_int, displs: *const c_int, sdt: MPI_Datatype, rbuf: *mut c_void, rcount: c_int, rdt: MPI_Datatype, root: c_int, comm: MPI_Comm) {
        now(comm, |c| coll::scatterv(c, sbuf, scounts, displs, sdt, rbuf, rcount, rdt, root))
    }

    fn MPI_Alltoall / PMPI_Alltoall(sbuf: *const c_void, scount: c_int, sdt: MPI_Datatype, rbuf: *mut c_void, rcount: c_int, rdt: MPI_Datatype, comm: MPI_Comm) {
        now(comm, |c| coll::alltoall(c, sbuf, scount, sdt, rbuf, rcount, rdt))
    }

    fn MPI_Ialltoall / PMPI_Ialltoall(sbuf: *const c_void, scount: c_int, sdt: MPI_Datatype, rbuf: *mut c_void, rcount: c_int, rdt: MPI_Datatype, comm: MPI_Comm, req: *mut MPI_Request) {
        let (s, r) = (P::of(sbuf), P::of(rbuf));
        later(comm, req, ok, move |c| coll::alltoall(c, s.c(), scount, sdt, r.m(), rcount, rdt))
    }

    fn MPI_Alltoallw / PMPI_Alltoallw(sbuf: *const c_void, scounts: *const c_int, sdispls: *const c_int, stypes: *const MPI_Datatype, rbuf: *mut c_void, rcounts: *const c_int, rdispls: *const c_int, rtypes: *const MPI_Datatype, comm: MPI_Comm) {
        now(comm, |c| coll::alltoallw(c, sbuf, scounts, sdispls, stypes, rbuf, rcounts, rdispls, rtypes))
    }

    fn MPI_Ialltoallw / PMPI_Ialltoallw(sbuf: *const c_void, scounts: *const c_int, sdispls: *const c_int, stypes: *const MPI_Datatype, rbuf: *mut c_void, rcounts: *const c_int, rdispls: *const c_int, rtypes: *const MPI_Datatype, comm: MPI_Comm, req: *mut MPI_Request) {
        let (s, sc, sd, st) = (P::of(sbuf), P::of(scounts), P::of(sdispls), P::of(stypes));
        let (r, rc, rd, rt) = (P::of(rbuf), P::of(rcounts), P::of(rdispls), P::of(rtypes));
        later(comm, req, ok, move |c| coll::alltoallw(c, s.c(), sc.c(), sd.c(), st.c(), r.m(), rc.c(), rd.c(), rt.c()))
    }

    fn MPI_Alltoallv / PMPI_Alltoallv(sbuf: *const c_void, scounts: *const c_int, sdispls: *const c_int, sdt: MPI_Datatype, rbuf: *mut c_void, rcounts: *const c_int, rdispls: *const c_int, rdt: MPI_Datatype, comm: MPI_Comm) {
        now(comm, |c| coll::alltoallv(c, sbuf, scounts, sdispls, sdt, rbuf, rcounts, rdispls, rdt))
    }
}
