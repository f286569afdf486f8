//! Point-to-point functions.

use super::*;
use crate::comm::{Request, Status};

/// An `FMI_Request` handle.
pub struct FMI_Request_s {
    req: Request,
}

/// Opaque request handle; `FMI_REQUEST_NULL` after completion.
pub type FMI_Request = *mut FMI_Request_s;

fn to_c(s: &Status) -> FMI_Status {
    FMI_Status {
        source: s.source,
        tag: s.tag,
        error: s.error.as_ref().map_or(FMI_SUCCESS, |e| e.code()),
        bytes: s.bytes,
    }
}

/// Empty status, as MPI gives for a null request.
fn empty_status() -> FMI_Status {
    FMI_Status {
        source: FMI_ANY_SOURCE,
        tag: FMI_ANY_TAG,
        error: FMI_SUCCESS,
        bytes: 0,
    }
}

/// Stores a status if the caller wants it and returns the operation's own code.
fn finish(s: &Status, status: *mut FMI_Status) -> Result<c_int> {
    if !status.is_null() {
        // SAFETY: non-null status pointer from the caller.
        unsafe { status.write(to_c(s)) };
    }
    match &s.error {
        Some(e) => Err(e.clone()),
        None => Ok(FMI_SUCCESS),
    }
}

/// Blocking send of `count` elements of `dt` to rank `dest` with tag `tag` (>= 0).
/// Returns once the buffer may be reused.
#[no_mangle]
pub extern "C" fn FMI_Send(
    buf: *const c_void,
    count: usize,
    dt: FMI_Datatype,
    dest: c_int,
    tag: c_int,
    comm: FMI_Comm,
) -> c_int {
    guard("FMI_Send", || {
        let c = comm_ref(comm)?;
        c.send(in_buf(buf, count, dt, "buf")?, dest, tag)?;
        Ok(FMI_SUCCESS)
    })
}

/// Blocking receive of at most `count` elements from `source` (or `FMI_ANY_SOURCE`)
/// with `tag` (or `FMI_ANY_TAG`). A larger message gives `FMI_ERR_TRUNCATE`, fills
/// the buffer with its first bytes and leaves the connection usable. `status` may be
/// NULL.
#[no_mangle]
pub extern "C" fn FMI_Recv(
    buf: *mut c_void,
    count: usize,
    dt: FMI_Datatype,
    source: c_int,
    tag: c_int,
    comm: FMI_Comm,
    status: *mut FMI_Status,
) -> c_int {
    guard("FMI_Recv", || {
        let c = comm_ref(comm)?;
        let s = c.recv_status(out_buf(buf, count, dt, "buf")?, source, tag)?;
        finish(&s, status)
    })
}

/// Sends to `dest` and receives from `source` at once (no deadlock when pairs
/// exchange). Both buffers hold elements of `dt` and must not overlap.
#[no_mangle]
pub extern "C" fn FMI_Sendrecv(
    sendbuf: *const c_void,
    sendcount: usize,
    dest: c_int,
    sendtag: c_int,
    recvbuf: *mut c_void,
    recvcount: usize,
    source: c_int,
    recvtag: c_int,
    dt: FMI_Datatype,
    comm: FMI_Comm,
    status: *mut FMI_Status,
) -> c_int {
    guard("FMI_Sendrecv", || {
        let c = comm_ref(comm)?;
        let sb = in_buf(sendbuf, sendcount, dt, "sendbuf")?;
        let rb = out_buf(recvbuf, recvcount, dt, "recvbuf")?;
        let s = c.sendrecv_status(sb, dest, sendtag, rb, source, recvtag)?;
        finish(&s, status)
    })
}

fn start(req: *mut FMI_Request, f: impl FnOnce() -> Result<Request>) -> Result<c_int> {
    if req.is_null() {
        return Err(Error::arg("req is NULL"));
    }
    let r = f()?;
    put(
        req,
        Box::into_raw(Box::new(FMI_Request_s { req: r })),
        "req",
    )?;
    Ok(FMI_SUCCESS)
}

/// Starts a send; the buffer must not change until the request completes.
#[no_mangle]
pub extern "C" fn FMI_Isend(
    buf: *const c_void,
    count: usize,
    dt: FMI_Datatype,
    dest: c_int,
    tag: c_int,
    comm: FMI_Comm,
    req: *mut FMI_Request,
) -> c_int {
    guard("FMI_Isend", || {
        start(req, || {
            let c = comm_ref(comm)?;
            let b = raw_buf(buf, count, dt, "buf")?;
            // SAFETY: the C contract keeps `buf` valid and unchanged until completion.
            unsafe { c.isend(b, dest, tag) }
        })
    })
}

/// Starts a receive; the buffer must not be touched until the request completes.
#[no_mangle]
pub extern "C" fn FMI_Irecv(
    buf: *mut c_void,
    count: usize,
    dt: FMI_Datatype,
    source: c_int,
    tag: c_int,
    comm: FMI_Comm,
    req: *mut FMI_Request,
) -> c_int {
    guard("FMI_Irecv", || {
        start(req, || {
            let c = comm_ref(comm)?;
            let b = raw_buf(buf, count, dt, "buf")?;
            // SAFETY: the C contract keeps `buf` valid and untouched until completion.
            unsafe { c.irecv(b, source, tag) }
        })
    })
}

fn take_req(req: *mut FMI_Request) -> Result<Option<Box<FMI_Request_s>>> {
    if req.is_null() {
        return Err(Error::arg("req is NULL"));
    }
    // SAFETY: non-null pointer to the caller's handle variable.
    let h = unsafe { *req };
    if h.is_null() {
        return Ok(None);
    }
    // SAFETY: non-null handles come from FMI_Isend/FMI_Irecv and are freed only
    // here, after which the caller's variable is set to FMI_REQUEST_NULL.
    unsafe { *req = std::ptr::null_mut() };
    // SAFETY: as above.
    Ok(Some(unsafe { Box::from_raw(h) }))
}

fn wait_one(req: *mut FMI_Request, status: *mut FMI_Status) -> Result<c_int> {
    match take_req(req)? {
        None => {
            if !status.is_null() {
                // SAFETY: non-null status pointer from the caller.
                unsafe { status.write(empty_status()) };
            }
            Ok(FMI_SUCCESS)
        }
        Some(b) => {
            let s = b.req.wait()?;
            finish(&s, status)
        }
    }
}

/// Waits for a request, frees it and sets `*req = FMI_REQUEST_NULL`. Returns the
/// operation's result (also in `status->error`). A NULL request completes at once.
/// If the wait times out (`FMI_ERR_TIMEOUT`) the operation is cancelled and the
/// request freed all the same.
#[no_mangle]
pub extern "C" fn FMI_Wait(req: *mut FMI_Request, status: *mut FMI_Status) -> c_int {
    guard("FMI_Wait", || wait_one(req, status))
}

/// Sets `*flag` to 1 and completes the request as `FMI_Wait` does if it is done,
/// else sets `*flag` to 0 and leaves it pending.
#[no_mangle]
pub extern "C" fn FMI_Test(
    req: *mut FMI_Request,
    flag: *mut c_int,
    status: *mut FMI_Status,
) -> c_int {
    guard("FMI_Test", || {
        if flag.is_null() {
            return Err(Error::arg("flag is NULL"));
        }
        let Some(b) = take_req(req)? else {
            put(flag, 1, "flag")?;
            if !status.is_null() {
                // SAFETY: non-null status pointer from the caller.
                unsafe { status.write(empty_status()) };
            }
            return Ok(FMI_SUCCESS);
        };
        match b.req.test()? {
            Ok(s) => {
                put(flag, 1, "flag")?;
                finish(&s, status)
            }
            Err(pending) => {
                put(flag, 0, "flag")?;
                // SAFETY: `req` is the caller's non-null handle variable.
                unsafe { *req = Box::into_raw(Box::new(FMI_Request_s { req: pending })) };
                Ok(FMI_SUCCESS)
            }
        }
    })
}

/// Waits for `n` requests. `statuses` may be NULL, else holds `n` entries whose
/// `error` fields tell which failed; the return value is the first failure's code.
#[no_mangle]
pub extern "C" fn FMI_Waitall(
    n: usize,
    reqs: *mut FMI_Request,
    statuses: *mut FMI_Status,
) -> c_int {
    guard("FMI_Waitall", || {
        if n > 0 && reqs.is_null() {
            return Err(Error::arg("reqs is NULL"));
        }
        let mut first: Option<Error> = None;
        for i in 0..n {
            // SAFETY: the caller passes `n` request handles (and `n` statuses if any).
            let (r, s) = unsafe {
                (
                    reqs.add(i),
                    if statuses.is_null() {
                        statuses
                    } else {
                        statuses.add(i)
                    },
                )
            };
            if let Err(e) = wait_one(r, s) {
                if !s.is_null() {
                    // SAFETY: as above. Argument errors never wrote the status.
                    unsafe { (*s).error = e.code() };
                }
                first.get_or_insert(e);
            }
        }
        match first {
            Some(e) => Err(e),
            None => Ok(FMI_SUCCESS),
        }
    })
}

/// Blocks until a message matching `source`/`tag` can be received and describes it
/// (source, tag, bytes) without receiving it.
#[no_mangle]
pub extern "C" fn FMI_Probe(
    source: c_int,
    tag: c_int,
    comm: FMI_Comm,
    status: *mut FMI_Status,
) -> c_int {
    guard("FMI_Probe", || {
        let c = comm_ref(comm)?;
        match c.probe(source, tag, true)? {
            Some(s) => finish(&s, status),
            None => Err(Error::internal("blocking probe returned nothing")),
        }
    })
}

/// Like `FMI_Probe` but returns at once with `*flag` telling whether there is one.
#[no_mangle]
pub extern "C" fn FMI_Iprobe(
    source: c_int,
    tag: c_int,
    comm: FMI_Comm,
    flag: *mut c_int,
    status: *mut FMI_Status,
) -> c_int {
    guard("FMI_Iprobe", || {
        if flag.is_null() {
            return Err(Error::arg("flag is NULL"));
        }
        let c = comm_ref(comm)?;
        match c.probe(source, tag, false)? {
            Some(s) => {
                put(flag, 1, "flag")?;
                finish(&s, status)
            }
            None => {
                put(flag, 0, "flag")?;
                Ok(FMI_SUCCESS)
            }
        }
    })
}
