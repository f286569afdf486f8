//! MPI-4's large-count forms (`MPI_x_c`, counts as `MPI_Count`) of the functions
//! the shim implements, for programs and libraries (mpi4py) built against an MPI 4.0
//! header. A count that fits an int is passed on to the int form; a larger one is
//! refused with MPI_ERR_COUNT, because FMI's collectives take int-sized counts here.

use crate::abi::*;
use crate::args::out;
use crate::datatype::lookup_any;
use crate::errors::{raise, Fail, R};
use std::ffi::{c_int, c_void};

/// A large count as an int; larger ones are refused (FMI's collectives take
/// int-sized counts here).
fn small_count(c: MPI_Count, comm: MPI_Comm) -> R<c_int> {
    c_int::try_from(c).map_err(|_| {
        Fail::new(
            MPI_ERR_COUNT,
            format!("count {c} does not fit an int (counts above 2^31-1 are not supported)"),
        )
        .on(comm)
    })
}

/// A large-count array of `n` (counts or displacements) as ints; None for NULL
/// (not significant on this rank).
fn owned<T: Copy + TryInto<c_int>>(p: *const T, n: usize, comm: MPI_Comm) -> R<Option<Vec<c_int>>> {
    if p.is_null() {
        return Ok(None);
    }
    crate::args::array(p, n, "counts or displacements")?
        .iter()
        .map(|&x| {
            x.try_into().map_err(|_| {
                Fail::new(MPI_ERR_COUNT, "a count or displacement does not fit an int").on(comm)
            })
        })
        .collect::<R<Vec<c_int>>>()
        .map(Some)
}

fn ptr(v: &Option<Vec<c_int>>) -> *const c_int {
    v.as_ref().map_or(std::ptr::null(), |v| v.as_ptr())
}

fn nranks(comm: MPI_Comm) -> R<usize> {
    Ok(crate::comm::get(comm)?.size() as usize)
}

/// In a `forward!` body: the value of a conversion, or the error code of `name`
/// (raised through the error handler).
macro_rules! tried {
    ($e:expr, $name:expr) => {
        match $e {
            Ok(v) => v,
            Err(f) => return raise($name, f),
        }
    };
}

/// Defines `MPI_x_c`/`PMPI_x_c` whose body converts the counts and calls the int
/// form's `PMPI_x` (which reports its own errors).
macro_rules! forward {
    ($(
        fn $name:ident / $pname:ident ( $($arg:ident : $ty:ty),* $(,)? ) $body:block
    )*) => {$(
        #[no_mangle]
        pub unsafe extern "C" fn $pname($($arg: $ty),*) -> c_int $body
        #[doc = concat!("`", stringify!($name), "`: calls `", stringify!($pname), "`.")]
        #[no_mangle]
        pub unsafe extern "C" fn $name($($arg: $ty),*) -> c_int {
            $pname($($arg),*)
        }
    )*};
}

/// `let n = count!(count, "MPI_x_c", comm);` converts or returns the error code.
macro_rules! count {
    ($c:expr, $name:expr, $comm:expr) => {
        tried!(small_count($c, $comm), $name)
    };
}

use crate::coll_api::*;
use crate::p2p::*;

forward! {
    fn MPI_Send_c / PMPI_Send_c(buf: *const c_void, count: MPI_Count, dt: MPI_Datatype, dest: c_int, tag: c_int, comm: MPI_Comm) {
        PMPI_Send(buf, count!(count, "MPI_Send_c", comm), dt, dest, tag, comm)
    }
    fn MPI_Ssend_c / PMPI_Ssend_c(buf: *const c_void, count: MPI_Count, dt: MPI_Datatype, dest: c_int, tag: c_int, comm: MPI_Comm) {
        PMPI_Ssend(buf, count!(count, "MPI_Ssend_c", comm), dt, dest, tag, comm)
    }
    fn MPI_Rsend_c / PMPI_Rsend_c(buf: *const c_void, count: MPI_Count, dt: MPI_Datatype, dest: c_int, tag: c_int, comm: MPI_Comm) {
        PMPI_Rsend(buf, count!(count, "MPI_Rsend_c", comm), dt, dest, tag, comm)
    }
    fn MPI_Bsend_c / PMPI_Bsend_c(buf: *const c_void, count: MPI_Count, dt: MPI_Datatype, dest: c_int, tag: c_int, comm: MPI_Comm) {
        PMPI_Bsend(buf, count!(count, "MPI_Bsend_c", comm), dt, dest, tag, comm)
    }
    fn MPI_Isend_c / PMPI_Isend_c(buf: *const c_void, count: MPI_Count, dt: MPI_Datatype, dest: c_int, tag: c_int, comm: MPI_Comm, req: *mut MPI_Request) {
        PMPI_Isend(buf, count!(count, "MPI_Isend_c", comm), dt, dest, tag, comm, req)
    }
    fn MPI_Issend_c / PMPI_Issend_c(buf: *const c_void, count: MPI_Count, dt: MPI_Datatype, dest: c_int, tag: c_int, comm: MPI_Comm, req: *mut MPI_Request) {
        PMPI_Issend(buf, count!(count, "MPI_Issend_c", comm), dt, dest, tag, comm, req)
    }
    fn MPI_Irsend_c / PMPI_Irsend_c(buf: *const c_void, count: MPI_Count, dt: MPI_Datatype, dest: c_int, tag: c_int, comm: MPI_Comm, req: *mut MPI_Request) {
        PMPI_Irsend(buf, count!(count, "MPI_Irsend_c", comm), dt, dest, tag, comm, req)
    }
    fn MPI_Ibsend_c / PMPI_Ibsend_c(buf: *const c_void, count: MPI_Count, dt: MPI_Datatype, dest: c_int, tag: c_int, comm: MPI_Comm, req: *mut MPI_Request) {
        PMPI_Ibsend(buf, count!(count, "MPI_Ibsend_c", comm), dt, dest, tag, comm, req)
    }
    fn MPI_Recv_c / PMPI_Recv_c(buf: *mut c_void, count: MPI_Count, dt: MPI_Datatype, source: c_int, tag: c_int, comm: MPI_Comm, status: *mut MPI_Status) {
        PMPI_Recv(buf, count!(count, "MPI_Recv_c", comm), dt, source, tag, comm, status)
    }
    fn MPI_Irecv_c / PMPI_Irecv_c(buf: *mut c_void, count: MPI_Count, dt: MPI_Datatype, source: c_int, tag: c_int, comm: MPI_Comm, req: *mut MPI_Request) {
        PMPI_Irecv(buf, count!(count, "MPI_Irecv_c", comm), dt, source, tag, comm, req)
    }
    fn MPI_Send_init_c / PMPI_Send_init_c(buf: *const c_void, count: MPI_Count, dt: MPI_Datatype, dest: c_int, tag: c_int, comm: MPI_Comm, req: *mut MPI_Request) {
        PMPI_Send_init(buf, count!(count, "MPI_Send_init_c", comm), dt, dest, tag, comm, req)
    }
    fn MPI_Ssend_init_c / PMPI_Ssend_init_c(buf: *const c_void, count: MPI_Count, dt: MPI_Datatype, dest: c_int, tag: c_int, comm: MPI_Comm, req: *mut MPI_Request) {
        PMPI_Ssend_init(buf, count!(count, "MPI_Ssend_init_c", comm), dt, dest, tag, comm, req)
    }
    fn MPI_Rsend_init_c / PMPI_Rsend_init_c(buf: *const c_void, count: MPI_Count, dt: MPI_Datatype, dest: c_int, tag: c_int, comm: MPI_Comm, req: *mut MPI_Request) {
        PMPI_Rsend_init(buf, count!(count, "MPI_Rsend_init_c", comm), dt, dest, tag, comm, req)
    }
    fn MPI_Bsend_init_c / PMPI_Bsend_init_c(buf: *const c_void, count: MPI_Count, dt: MPI_Datatype, dest: c_int, tag: c_int, comm: MPI_Comm, req: *mut MPI_Request) {
        PMPI_Bsend_init(buf, count!(count, "MPI_Bsend_init_c", comm), dt, dest, tag, comm, req)
    }
    fn MPI_Recv_init_c / PMPI_Recv_init_c(buf: *mut c_void, count: MPI_Count, dt: MPI_Datatype, source: c_int, tag: c_int, comm: MPI_Comm, req: *mut MPI_Request) {
        PMPI_Recv_init(buf, count!(count, "MPI_Recv_init_c", comm), dt, source, tag, comm, req)
    }
    fn MPI_Isendrecv_c / PMPI_Isendrecv_c(sbuf: *const c_void, scount: MPI_Count, sdt: MPI_Datatype, dest: c_int, stag: c_int,
                                          rbuf: *mut c_void, rcount: MPI_Count, rdt: MPI_Datatype, source: c_int, rtag: c_int,
                                          comm: MPI_Comm, req: *mut MPI_Request) {
        let (s, r) = (count!(scount, "MPI_Isendrecv_c", comm), count!(rcount, "MPI_Isendrecv_c", comm));
        PMPI_Isendrecv(sbuf, s, sdt, dest, stag, rbuf, r, rdt, source, rtag, comm, req)
    }
    fn MPI_Isendrecv_replace_c / PMPI_Isendrecv_replace_c(buf: *mut c_void, count: MPI_Count, dt: MPI_Datatype, dest: c_int, stag: c_int,
                                                          source: c_int, rtag: c_int, comm: MPI_Comm, req: *mut MPI_Request) {
        PMPI_Isendrecv_replace(buf, count!(count, "MPI_Isendrecv_replace_c", comm), dt, dest, stag, source, rtag, comm, req)
    }
    fn MPI_Mrecv_c / PMPI_Mrecv_c(buf: *mut c_void, count: MPI_Count, dt: MPI_Datatype, msg: *mut MPI_Message, status: *mut MPI_Status) {
        PMPI_Mrecv(buf, count!(count, "MPI_Mrecv_c", MPI_COMM_WORLD), dt, msg, status)
    }
    fn MPI_Imrecv_c / PMPI_Imrecv_c(buf: *mut c_void, count: MPI_Count, dt: MPI_Datatype, msg: *mut MPI_Message, req: *mut MPI_Request) {
        PMPI_Imrecv(buf, count!(count, "MPI_Imrecv_c", MPI_COMM_WORLD), dt, msg, req)
    }
    fn MPI_Sendrecv_c / PMPI_Sendrecv_c(sbuf: *const c_void, scount: MPI_Count, sdt: MPI_Datatype, dest: c_int, stag: c_int,
                                        rbuf: *mut c_void, rcount: MPI_Count, rdt: MPI_Datatype, source: c_int, rtag: c_int,
                                        comm: MPI_Comm, status: *mut MPI_Status) {
        let (s, r) = (count!(scount, "MPI_Sendrecv_c", comm), count!(rcount, "MPI_Sendrecv_c", comm));
        PMPI_Sendrecv(sbuf, s, sdt, dest, stag, rbuf, r, rdt, source, rtag, comm, status)
    }
    fn MPI_Sendrecv_replace_c / PMPI_Sendrecv_replace_c(buf: *mut c_void, count: MPI_Count, dt: MPI_Datatype, dest: c_int, stag: c_int,
                                                        source: c_int, rtag: c_int, comm: MPI_Comm, status: *mut MPI_Status) {
        PMPI_Sendrecv_replace(buf, count!(count, "MPI_Sendrecv_replace_c", comm), dt, dest, stag, source, rtag, comm, status)
    }
    fn MPI_Bcast_c / PMPI_Bcast_c(buf: *mut c_void, count: MPI_Count, dt: MPI_Datatype, root: c_int, comm: MPI_Comm) {
        PMPI_Bcast(buf, count!(count, "MPI_Bcast_c", comm), dt, root, comm)
    }
    fn MPI_Ibcast_c / PMPI_Ibcast_c(buf: *mut c_void, count: MPI_Count, dt: MPI_Datatype, root: c_int, comm: MPI_Comm, req: *mut MPI_Request) {
        PMPI_Ibcast(buf, count!(count, "MPI_Ibcast_c", comm), dt, root, comm, req)
    }
    fn MPI_Reduce_c / PMPI_Reduce_c(sbuf: *const c_void, rbuf: *mut c_void, count: MPI_Count, dt: MPI_Datatype, op: MPI_Op, root: c_int, comm: MPI_Comm) {
        PMPI_Reduce(sbuf, rbuf, count!(count, "MPI_Reduce_c", comm), dt, op, root, comm)
    }
    fn MPI_Ireduce_c / PMPI_Ireduce_c(sbuf: *const c_void, rbuf: *mut c_void, count: MPI_Count, dt: MPI_Datatype, op: MPI_Op, root: c_int, comm: MPI_Comm, req: *mut MPI_Request) {
        PMPI_Ireduce(sbuf, rbuf, count!(count, "MPI_Ireduce_c", comm), dt, op, root, comm, req)
    }
    fn MPI_Allreduce_c / PMPI_Allreduce_c(sbuf: *const c_void, rbuf: *mut c_void, count: MPI_Count, dt: MPI_Datatype, op: MPI_Op, comm: MPI_Comm) {
        PMPI_Allreduce(sbuf, rbuf, count!(count, "MPI_Allreduce_c", comm), dt, op, comm)
    }
    fn MPI_Iallreduce_c / PMPI_Iallreduce_c(sbuf: *const c_void, rbuf: *mut c_void, count: MPI_Count, dt: MPI_Datatype, op: MPI_Op, comm: MPI_Comm, req: *mut MPI_Request) {
        PMPI_Iallreduce(sbuf, rbuf, count!(count, "MPI_Iallreduce_c", comm), dt, op, comm, req)
    }
    fn MPI_Scan_c / PMPI_Scan_c(sbuf: *const c_void, rbuf: *mut c_void, count: MPI_Count, dt: MPI_Datatype, op: MPI_Op, comm: MPI_Comm) {
        PMPI_Scan(sbuf, rbuf, count!(count, "MPI_Scan_c", comm), dt, op, comm)
    }
    fn MPI_Exscan_c / PMPI_Exscan_c(sbuf: *const c_void, rbuf: *mut c_void, count: MPI_Count, dt: MPI_Datatype, op: MPI_Op, comm: MPI_Comm) {
        PMPI_Exscan(sbuf, rbuf, count!(count, "MPI_Exscan_c", comm), dt, op, comm)
    }
    fn MPI_Reduce_scatter_block_c / PMPI_Reduce_scatter_block_c(sbuf: *const c_void, rbuf: *mut c_void, count: MPI_Count, dt: MPI_Datatype, op: MPI_Op, comm: MPI_Comm) {
        PMPI_Reduce_scatter_block(sbuf, rbuf, count!(count, "MPI_Reduce_scatter_block_c", comm), dt, op, comm)
    }
    fn MPI_Iscan_c / PMPI_Iscan_c(sbuf: *const c_void, rbuf: *mut c_void, count: MPI_Count, dt: MPI_Datatype, op: MPI_Op, comm: MPI_Comm, req: *mut MPI_Request) {
        PMPI_Iscan(sbuf, rbuf, count!(count, "MPI_Iscan_c", comm), dt, op, comm, req)
    }
    fn MPI_Iexscan_c / PMPI_Iexscan_c(sbuf: *const c_void, rbuf: *mut c_void, count: MPI_Count, dt: MPI_Datatype, op: MPI_Op, comm: MPI_Comm, req: *mut MPI_Request) {
        PMPI_Iexscan(sbuf, rbuf, count!(count, "MPI_Iexscan_c", comm), dt, op, comm, req)
    }
    fn MPI_Ireduce_scatter_block_c / PMPI_Ireduce_scatter_block_c(sbuf: *const c_void, rbuf: *mut c_void, count: MPI_Count, dt: MPI_Datatype, op: MPI_Op, comm: MPI_Comm, req: *mut MPI_Request) {
        PMPI_Ireduce_scatter_block(sbuf, rbuf, count!(count, "MPI_Ireduce_scatter_block_c", comm), dt, op, comm, req)
    }
    fn MPI_Reduce_local_c / PMPI_Reduce_local_c(inbuf: *const c_void, inout: *mut c_void, count: MPI_Count, dt: MPI_Datatype, op: MPI_Op) {
        crate::types::PMPI_Reduce_local(inbuf, inout, count!(count, "MPI_Reduce_local_c", MPI_COMM_WORLD), dt, op)
    }
    fn MPI_Type_contiguous_c / PMPI_Type_contiguous_c(count: MPI_Count, old: MPI_Datatype, newtype: *mut MPI_Datatype) {
        crate::types::PMPI_Type_contiguous(count!(count, "MPI_Type_contiguous_c", MPI_COMM_WORLD), old, newtype)
    }
    fn MPI_Type_vector_c / PMPI_Type_vector_c(count: MPI_Count, blocklen: MPI_Count, stride: MPI_Count, old: MPI_Datatype, newtype: *mut MPI_Datatype) {
        let name = "MPI_Type_vector_c";
        let (c, b, st) = (count!(count, name, MPI_COMM_WORLD), count!(blocklen, name, MPI_COMM_WORLD), count!(stride, name, MPI_COMM_WORLD));
        crate::types::PMPI_Type_vector(c, b, st, old, newtype)
    }
    fn MPI_Gather_c / PMPI_Gather_c(sbuf: *const c_void, scount: MPI_Count, sdt: MPI_Datatype, rbuf: *mut c_void, rcount: MPI_Count, rdt: MPI_Datatype, root: c_int, comm: MPI_Comm) {
        let (s, r) = (count!(scount, "MPI_Gather_c", comm), count!(rcount, "MPI_Gather_c", comm));
        PMPI_Gather(sbuf, s, sdt, rbuf, r, rdt, root, comm)
    }
    fn MPI_Igather_c / PMPI_Igather_c(sbuf: *const c_void, scount: MPI_Count, sdt: MPI_Datatype, rbuf: *mut c_void, rcount: MPI_Count, rdt: MPI_Datatype, root: c_int, comm: MPI_Comm, req: *mut MPI_Request) {
        let (s, r) = (count!(scount, "MPI_Igather_c", comm), count!(rcount, "MPI_Igather_c", comm));
        PMPI_Igather(sbuf, s, sdt, rbuf, r, rdt, root, comm, req)
    }
    fn MPI_Scatter_c / PMPI_Scatter_c(sbuf: *const c_void, scount: MPI_Count, sdt: MPI_Datatype, rbuf: *mut c_void, rcount: MPI_Count, rdt: MPI_Datatype, root: c_int, comm: MPI_Comm) {
        let (s, r) = (count!(scount, "MPI_Scatter_c", comm), count!(rcount, "MPI_Scatter_c", comm));
        PMPI_Scatter(sbuf, s, sdt, rbuf, r, rdt, root, comm)
    }
    fn MPI_Iscatter_c / PMPI_Iscatter_c(sbuf: *const c_void, scount: MPI_Count, sdt: MPI_Datatype, rbuf: *mut c_void, rcount: MPI_Count, rdt: MPI_Datatype, root: c_int, comm: MPI_Comm, req: *mut MPI_Request) {
        let (s, r) = (count!(scount, "MPI_Iscatter_c", comm), count!(rcount, "MPI_Iscatter_c", comm));
        PMPI_Iscatter(sbuf, s, sdt, rbuf, r, rdt, root, comm, req)
    }
    fn MPI_Allgather_c / PMPI_Allgather_c(sbuf: *const c_void, scount: MPI_Count, sdt: MPI_Datatype, rbuf: *mut c_void, rcount: MPI_Count, rdt: MPI_Datatype, comm: MPI_Comm) {
        let (s, r) = (count!(scount, "MPI_Allgather_c", comm), count!(rcount, "MPI_Allgather_c", comm));
        PMPI_Allgather(sbuf, s, sdt, rbuf, r, rdt, comm)
    }
    fn MPI_Iallgather_c / PMPI_Iallgather_c(sbuf: *const c_void, scount: MPI_Count, sdt: MPI_Datatype, rbuf: *mut c_void, rcount: MPI_Count, rdt: MPI_Datatype, comm: MPI_Comm, req: *mut MPI_Request) {
        let (s, r) = (count!(scount, "MPI_Iallgather_c", comm), count!(rcount, "MPI_Iallgather_c", comm));
        PMPI_Iallgather(sbuf, s, sdt, rbuf, r, rdt, comm, req)
    }
    fn MPI_Alltoall_c / PMPI_Alltoall_c(sbuf: *const c_void, scount: MPI_Count, sdt: MPI_Datatype, rbuf: *mut c_void, rcount: MPI_Count, rdt: MPI_Datatype, comm: MPI_Comm) {
        let (s, r) = (count!(scount, "MPI_Alltoall_c", comm), count!(rcount, "MPI_Alltoall_c", comm));
        PMPI_Alltoall(sbuf, s, sdt, rbuf, r, rdt, comm)
    }
    fn MPI_Ialltoall_c / PMPI_Ialltoall_c(sbuf: *const c_void, scount: MPI_Count, sdt: MPI_Datatype, rbuf: *mut c_void, rcount: MPI_Count, rdt: MPI_Datatype, comm: MPI_Comm, req: *mut MPI_Request) {
        let (s, r) = (count!(scount, "MPI_Ialltoall_c", comm), count!(rcount, "MPI_Ialltoall_c", comm));
        PMPI_Ialltoall(sbuf, s, sdt, rbuf, r, rdt, comm, req)
    }
}

mpi! {
    fn MPI_Igatherv_c / PMPI_Igatherv_c(sbuf: *const c_void, scount: MPI_Count, sdt: MPI_Datatype, rbuf: *mut c_void, rcounts: *const MPI_Count, displs: *const MPI_Aint, rdt: MPI_Datatype, root: c_int, comm: MPI_Comm, req: *mut MPI_Request) {
        let n = nranks(comm)?;
        let a = (owned(rcounts, n, comm)?, owned(displs, n, comm)?);
        crate::coll_api::iv_owned(crate::coll_api::VColl::Gatherv { root, all: false }, sbuf, small_count(scount, comm)?, sdt, rbuf, 0, rdt, a, (None, None), comm, req)
    }

    fn MPI_Iallgatherv_c / PMPI_Iallgatherv_c(sbuf: *const c_void, scount: MPI_Count, sdt: MPI_Datatype, rbuf: *mut c_void, rcounts: *const MPI_Count, displs: *const MPI_Aint, rdt: MPI_Datatype, comm: MPI_Comm, req: *mut MPI_Request) {
        let n = nranks(comm)?;
        let a = (owned(rcounts, n, comm)?, owned(displs, n, comm)?);
        crate::coll_api::iv_owned(crate::coll_api::VColl::Gatherv { root: 0, all: true }, sbuf, small_count(scount, comm)?, sdt, rbuf, 0, rdt, a, (None, None), comm, req)
    }

    fn MPI_Iscatterv_c / PMPI_Iscatterv_c(sbuf: *const c_void, scounts: *const MPI_Count, displs: *const MPI_Aint, sdt: MPI_Datatype, rbuf: *mut c_void, rcount: MPI_Count, rdt: MPI_Datatype, root: c_int, comm: MPI_Comm, req: *mut MPI_Request) {
        let n = nranks(comm)?;
        let a = (owned(scounts, n, comm)?, owned(displs, n, comm)?);
        crate::coll_api::iv_owned(crate::coll_api::VColl::Scatterv { root }, sbuf, 0, sdt, rbuf, small_count(rcount, comm)?, rdt, a, (None, None), comm, req)
    }

    fn MPI_Ialltoallv_c / PMPI_Ialltoallv_c(sbuf: *const c_void, scounts: *const MPI_Count, sdispls: *const MPI_Aint, sdt: MPI_Datatype, rbuf: *mut c_void, rcounts: *const MPI_Count, rdispls: *const MPI_Aint, rdt: MPI_Datatype, comm: MPI_Comm, req: *mut MPI_Request) {
        let n = nranks(comm)?;
        let a = (owned(scounts, n, comm)?, owned(sdispls, n, comm)?);
        let b = (owned(rcounts, n, comm)?, owned(rdispls, n, comm)?);
        crate::coll_api::iv_owned(crate::coll_api::VColl::Alltoallv, sbuf, 0, sdt, rbuf, 0, rdt, a, b, comm, req)
    }

    fn MPI_Alltoallw_c / PMPI_Alltoallw_c(sbuf: *const c_void, scounts: *const MPI_Count, sdispls: *const MPI_Aint, stypes: *const MPI_Datatype, rbuf: *mut c_void, rcounts: *const MPI_Count, rdispls: *const MPI_Aint, rtypes: *const MPI_Datatype, comm: MPI_Comm) {
        let n = nranks(comm)?;
        let (sc, sd) = (owned(scounts, n, comm)?, owned(sdispls, n, comm)?);
        let (rc, rd) = (owned(rcounts, n, comm)?, owned(rdispls, n, comm)?);
        let c = crate::comm::get(comm)?;
        crate::coll::alltoallw(&c.comm, sbuf, ptr(&sc), ptr(&sd), stypes, rbuf, ptr(&rc), ptr(&rd), rtypes).map_err(|f| f.on(comm))
    }

    fn MPI_Ireduce_scatter_c / PMPI_Ireduce_scatter_c(sbuf: *const c_void, rbuf: *mut c_void, counts: *const MPI_Count, dt: MPI_Datatype, op: MPI_Op, comm: MPI_Comm, req: *mut MPI_Request) {
        let c = owned(counts, nranks(comm)?, comm)?.unwrap_or_default();
        // The int counts travel with the queued collective.
        crate::coll_api::ireduce_scatter_owned(sbuf, rbuf, c, dt, op, comm, req)
    }
}

mpi! {
    fn MPI_Get_count_c / PMPI_Get_count_c(status: *const MPI_Status, dt: MPI_Datatype, count: *mut MPI_Count) {
        let n = count_of(status, dt)?;
        out(count, n.map_or(MPI_UNDEFINED as MPI_Count, |n| n as MPI_Count), "count")
    }

    fn MPI_Get_elements_c / PMPI_Get_elements_c(status: *const MPI_Status, dt: MPI_Datatype, count: *mut MPI_Count) {
        let b = status_ref(status)?.bytes();
        let n = lookup_any(dt)?.elements(b as usize).map_or(MPI_UNDEFINED as MPI_Count, |n| n as MPI_Count);
        out(count, n, "count")
    }

    fn MPI_Type_size_c / PMPI_Type_size_c(dt: MPI_Datatype, size: *mut MPI_Count) {
        out(size, lookup_any(dt)?.size as MPI_Count, "size")
    }

    fn MPI_Type_get_extent_c / PMPI_Type_get_extent_c(dt: MPI_Datatype, lb: *mut MPI_Count, extent: *mut MPI_Count) {
        let t = lookup_any(dt)?;
        out(lb, t.lb as MPI_Count, "lb")?;
        out(extent, t.extent as MPI_Count, "extent")
    }

    fn MPI_Type_get_true_extent_c / PMPI_Type_get_true_extent_c(dt: MPI_Datatype, lb: *mut MPI_Count, extent: *mut MPI_Count) {
        let t = lookup_any(dt)?;
        out(lb, t.true_lb as MPI_Count, "true_lb")?;
        out(extent, t.true_extent as MPI_Count, "true_extent")
    }
}

forward! {
    fn MPI_Gatherv_c / PMPI_Gatherv_c(sbuf: *const c_void, scount: MPI_Count, sdt: MPI_Datatype, rbuf: *mut c_void, rcounts: *const MPI_Count, displs: *const MPI_Aint, rdt: MPI_Datatype, root: c_int, comm: MPI_Comm) {
        let name = "MPI_Gatherv_c";
        let n = tried!(nranks(comm), name);
        let (c, d) = (tried!(owned(rcounts, n, comm), name), tried!(owned(displs, n, comm), name));
        PMPI_Gatherv(sbuf, count!(scount, name, comm), sdt, rbuf, ptr(&c), ptr(&d), rdt, root, comm)
    }
    fn MPI_Allgatherv_c / PMPI_Allgatherv_c(sbuf: *const c_void, scount: MPI_Count, sdt: MPI_Datatype, rbuf: *mut c_void, rcounts: *const MPI_Count, displs: *const MPI_Aint, rdt: MPI_Datatype, comm: MPI_Comm) {
        let name = "MPI_Allgatherv_c";
        let n = tried!(nranks(comm), name);
        let (c, d) = (tried!(owned(rcounts, n, comm), name), tried!(owned(displs, n, comm), name));
        PMPI_Allgatherv(sbuf, count!(scount, name, comm), sdt, rbuf, ptr(&c), ptr(&d), rdt, comm)
    }
    fn MPI_Scatterv_c / PMPI_Scatterv_c(sbuf: *const c_void, scounts: *const MPI_Count, displs: *const MPI_Aint, sdt: MPI_Datatype, rbuf: *mut c_void, rcount: MPI_Count, rdt: MPI_Datatype, root: c_int, comm: MPI_Comm) {
        let name = "MPI_Scatterv_c";
        let n = tried!(nranks(comm), name);
        let (c, d) = (tried!(owned(scounts, n, comm), name), tried!(owned(displs, n, comm), name));
        PMPI_Scatterv(sbuf, ptr(&c), ptr(&d), sdt, rbuf, count!(rcount, name, comm), rdt, root, comm)
    }
    fn MPI_Reduce_scatter_c / PMPI_Reduce_scatter_c(sbuf: *const c_void, rbuf: *mut c_void, counts: *const MPI_Count, dt: MPI_Datatype, op: MPI_Op, comm: MPI_Comm) {
        let name = "MPI_Reduce_scatter_c";
        let n = tried!(nranks(comm), name);
        let c = tried!(owned(counts, n, comm), name);
        PMPI_Reduce_scatter(sbuf, rbuf, ptr(&c), dt, op, comm)
    }
    fn MPI_Type_create_struct_c / PMPI_Type_create_struct_c(count: MPI_Count, blocklens: *const MPI_Count, displs: *const MPI_Count, types: *const MPI_Datatype, newtype: *mut MPI_Datatype) {
        let name = "MPI_Type_create_struct_c";
        let c = count!(count, name, MPI_COMM_WORLD);
        let n = c.max(0) as usize;
        let b = tried!(owned(blocklens, n, MPI_COMM_WORLD), name).unwrap_or_default();
        let d: Vec<MPI_Aint> = match crate::args::array(displs, n, "displacements") {
            Ok(d) => d.iter().map(|&x| x as MPI_Aint).collect(),
            Err(f) => return raise(name, f),
        };
        crate::types::PMPI_Type_create_struct(c, b.as_ptr(), d.as_ptr(), types, newtype)
    }
    fn MPI_Type_create_indexed_block_c / PMPI_Type_create_indexed_block_c(count: MPI_Count, blocklen: MPI_Count, displs: *const MPI_Count, old: MPI_Datatype, newtype: *mut MPI_Datatype) {
        let name = "MPI_Type_create_indexed_block_c";
        let (c, b) = (count!(count, name, MPI_COMM_WORLD), count!(blocklen, name, MPI_COMM_WORLD));
        let d = tried!(owned(displs, c.max(0) as usize, MPI_COMM_WORLD), name);
        crate::types::PMPI_Type_create_indexed_block(c, b, ptr(&d), old, newtype)
    }
    fn MPI_Alltoallv_c / PMPI_Alltoallv_c(sbuf: *const c_void, scounts: *const MPI_Count, sdispls: *const MPI_Aint, sdt: MPI_Datatype, rbuf: *mut c_void, rcounts: *const MPI_Count, rdispls: *const MPI_Aint, rdt: MPI_Datatype, comm: MPI_Comm) {
        let name = "MPI_Alltoallv_c";
        let n = tried!(nranks(comm), name);
        let (sc, sd) = (tried!(owned(scounts, n, comm), name), tried!(owned(sdispls, n, comm), name));
        let (rc, rd) = (tried!(owned(rcounts, n, comm), name), tried!(owned(rdispls, n, comm), name));
        PMPI_Alltoallv(sbuf, ptr(&sc), ptr(&sd), sdt, rbuf, ptr(&rc), ptr(&rd), rdt, comm)
    }
}
