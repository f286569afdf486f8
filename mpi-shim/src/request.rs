//! Requests behind `MPI_Request` handles, statuses, and the wait and test family.
//!
//! A request is taken out of its slot while it is waited on (so no lock is held
//! while the engine blocks) and put back if it is still pending. Requests the
//! program frees before completion (MPI_Request_free) and buffered sends finish in
//! the background: they are reaped whenever a request starts, and at finalize.

use crate::abi::*;
use crate::args::{array_mut, out, Sink};
use crate::errors::{class_of, Fail, R};
use parking_lot::Mutex;
use slab::Slab;
use std::ffi::c_int;
use std::time::{Duration, Instant};

/// How an operation ended, in the terms of MPI_Status.
#[derive(Debug, Clone, Default)]
pub struct Completion {
    pub source: c_int,
    pub tag: c_int,
    pub bytes: u64,
    /// An error class, or MPI_SUCCESS; `msg` says more.
    pub error: c_int,
    pub msg: String,
    pub cancelled: bool,
}

impl Completion {
    /// MPI's empty status: a null request, a send, a collective.
    pub fn empty() -> Completion {
        Completion {
            source: MPI_ANY_SOURCE,
            tag: MPI_ANY_TAG,
            ..Completion::default()
        }
    }

    /// A receive or probe from MPI_PROC_NULL.
    pub fn proc_null() -> Completion {
        Completion {
            source: MPI_PROC_NULL,
            ..Completion::empty()
        }
    }

    fn from_fmi(s: fmi::comm::Status) -> Completion {
        let (error, msg) = match s.error {
            Some(e) => (class_of(e.kind), e.msg),
            None => (MPI_SUCCESS, String::new()),
        };
        Completion {
            source: s.source,
            tag: s.tag,
            bytes: s.bytes as u64,
            error,
            msg,
            cancelled: false,
        }
    }

    fn failed(f: Fail) -> Completion {
        Completion {
            error: f.class,
            msg: f.msg,
            ..Completion::empty()
        }
    }
}

/// What a request waits for.
pub enum Kind {
    Recv {
        req: fmi::comm::Request,
        sink: Sink,
    },
    /// A send; `keep` holds a packed copy of the data while it goes.
    Send {
        req: fmi::comm::Request,
        keep: Option<Vec<u8>>,
    },
    /// Complete from the start.
    Done(Completion),
    /// A non-blocking collective, run by the communicator's progress thread.
    Nbc(std::sync::Arc<crate::nbc::Done>),
    /// A buffered send (MPI_Bsend ...): its copy counts against the attached buffer.
    Buffered(Box<Kind>),
    /// MPI_Isendrecv: both halves; the receive's completion is the request's.
    Pair(Box<Kind>, Box<Kind>),
    /// A persistent request (MPI_Send_init ...): `start` begins one operation,
    /// `active` is the one under way. It keeps its handle when it completes.
    Persistent {
        start: std::sync::Arc<Starter>,
        active: Option<Box<Kind>>,
    },
}

/// What MPI_Start does for a persistent request.
pub type Starter = dyn Fn() -> R<Kind> + Send + Sync;

pub struct Entry {
    pub kind: Kind,
    /// Whose error handler hears of a failure.
    pub comm: MPI_Comm,
}

static REQS: Mutex<Slab<Option<Entry>>> = Mutex::new(Slab::new());
/// Requests freed by the program before they completed, and buffered sends.
static DETACHED: Mutex<Vec<Entry>> = Mutex::new(Vec::new());

const PREFIX: u32 = 0xac00_0000;

fn key(h: MPI_Request) -> Option<usize> {
    let h = h as u32;
    (h & 0xfc00_0000 == PREFIX).then_some((h & 0x03ff_ffff) as usize)
}

/// Registers a started operation; returns its handle.
pub fn start(e: Entry) -> MPI_Request {
    reap();
    let k = REQS.lock().insert(Some(e));
    (PREFIX | k as u32) as c_int
}

fn take(h: MPI_Request) -> R<Entry> {
    let k = key(h).ok_or_else(|| Fail::new(MPI_ERR_REQUEST, format!("invalid request {h:#x}")))?;
    REQS.lock()
        .get_mut(k)
        .and_then(|s| s.take())
        .ok_or_else(|| Fail::new(MPI_ERR_REQUEST, format!("invalid or busy request {h:#x}")))
}

fn put_back(h: MPI_Request, e: Entry) {
    if let Some(k) = key(h) {
        if let Some(s) = REQS.lock().get_mut(k) {
            *s = Some(e);
        }
    }
}

fn release(h: MPI_Request) {
    if let Some(k) = key(h) {
        let mut t = REQS.lock();
        if t.contains(k) {
            t.remove(k);
        }
    }
}

/// Waits for an operation to complete.
fn wait_kind(k: Kind) -> Completion {
    match k {
        Kind::Recv { req, sink } => match req.wait() {
            Ok(s) => {
                let c = Completion::from_fmi(s);
                sink.finish(c.bytes as usize);
                c
            }
            Err(err) => Completion::failed(err.into()),
        },
        Kind::Send { req, keep } => {
            let c = req
                .wait()
                .map_or_else(|e| Completion::failed(e.into()), Completion::from_fmi);
            drop(keep);
            c
        }
        Kind::Done(c) => c,
        Kind::Nbc(d) => d.wait(),
        Kind::Buffered(k) => wait_kind(*k),
        Kind::Pair(recv, send) => {
            let s = wait_kind(*send);
            let r = wait_kind(*recv);
            if s.error != MPI_SUCCESS && r.error == MPI_SUCCESS {
                return Completion {
                    error: s.error,
                    msg: s.msg,
                    ..r
                };
            }
            r
        }
        Kind::Persistent { active, .. } => active.map_or_else(Completion::empty, |k| wait_kind(*k)),
    }
}

/// Tests an operation: its completion, or the operation back while pending.
fn test_kind(k: Kind) -> Result<Completion, Kind> {
    match k {
        Kind::Recv { req, sink } => match req.test() {
            Ok(Ok(s)) => {
                let c = Completion::from_fmi(s);
                sink.finish(c.bytes as usize);
                Ok(c)
            }
            Ok(Err(req)) => Err(Kind::Recv { req, sink }),
            Err(err) => Ok(Completion::failed(err.into())),
        },
        Kind::Send { req, keep } => match req.test() {
            Ok(Ok(s)) => Ok(Completion::from_fmi(s)),
            Ok(Err(req)) => Err(Kind::Send { req, keep }),
            Err(err) => Ok(Completion::failed(err.into())),
        },
        Kind::Done(c) => Ok(c),
        Kind::Nbc(d) => d.test().ok_or(Kind::Nbc(d)),
        Kind::Buffered(k) => test_kind(*k).map_err(|k| Kind::Buffered(Box::new(k))),
        Kind::Pair(recv, send) => {
            let send = test_kind(*send).map_or_else(|k| k, Kind::Done);
            let recv = test_kind(*recv).map_or_else(|k| k, Kind::Done);
            match (recv, send) {
                (Kind::Done(r), Kind::Done(s)) => Ok(wait_kind(Kind::Pair(
                    Box::new(Kind::Done(r)),
                    Box::new(Kind::Done(s)),
                ))),
                (r, s) => Err(Kind::Pair(Box::new(r), Box::new(s))),
            }
        }
        Kind::Persistent { start, active } => match active {
            None => Ok(Completion::empty()),
            Some(k) => test_kind(*k).map_err(|k| Kind::Persistent {
                start,
                active: Some(Box::new(k)),
            }),
        },
    }
}

fn test_entry(e: Entry) -> Result<Completion, Entry> {
    let comm = e.comm;
    test_kind(e.kind).map_err(|kind| Entry { kind, comm })
}

/// Whether a handle is null or an inactive persistent request, which the
/// wait/test family treat alike.
fn inert(h: MPI_Request) -> bool {
    if h == MPI_REQUEST_NULL {
        return true;
    }
    key(h).is_some_and(|k| {
        matches!(
            REQS.lock().get(k),
            Some(Some(Entry {
                kind: Kind::Persistent { active: None, .. },
                ..
            }))
        )
    })
}

/// Completes (`block`) or tests request `*h`; None while it is pending. A finished
/// request is freed and `*h` becomes MPI_REQUEST_NULL; a persistent one becomes
/// inactive and keeps its handle.
fn step(h: &mut MPI_Request, block: bool) -> R<Option<(Completion, MPI_Comm)>> {
    if *h == MPI_REQUEST_NULL {
        return Ok(Some((Completion::empty(), MPI_COMM_WORLD)));
    }
    let e = take(*h)?;
    let comm = e.comm;
    match e.kind {
        Kind::Persistent { start, active } => {
            let Some(k) = active else {
                put_back(
                    *h,
                    Entry {
                        kind: Kind::Persistent {
                            start,
                            active: None,
                        },
                        comm,
                    },
                );
                return Ok(Some((Completion::empty(), comm)));
            };
            let r = if block {
                Ok(wait_kind(*k))
            } else {
                test_kind(*k)
            };
            let (active, done) = match r {
                Ok(c) => (None, Some((c, comm))),
                Err(k) => (Some(Box::new(k)), None),
            };
            put_back(
                *h,
                Entry {
                    kind: Kind::Persistent { start, active },
                    comm,
                },
            );
            Ok(done)
        }
        kind => {
            let r = if block {
                Ok(wait_kind(kind))
            } else {
                test_kind(kind)
            };
            match r {
                Ok(c) => {
                    release(*h);
                    *h = MPI_REQUEST_NULL;
                    Ok(Some((c, comm)))
                }
                Err(kind) => {
                    put_back(*h, Entry { kind, comm });
                    Ok(None)
                }
            }
        }
    }
}

/// MPI_Start: begins the next operation of a persistent request.
pub fn start_persistent(h: MPI_Request) -> R {
    let e = take(h)?;
    let comm = e.comm;
    match e.kind {
        Kind::Persistent {
            start,
            active: None,
        } => {
            let (active, r) = match start() {
                Ok(k) => (Some(Box::new(k)), Ok(())),
                Err(f) => (None, Err(f)),
            };
            put_back(
                h,
                Entry {
                    kind: Kind::Persistent { start, active },
                    comm,
                },
            );
            r
        }
        kind => {
            let active = matches!(kind, Kind::Persistent { .. });
            put_back(h, Entry { kind, comm });
            Err(Fail::new(
                MPI_ERR_REQUEST,
                if active {
                    "MPI_Start on a persistent request that is still active"
                } else {
                    "MPI_Start on a request that is not persistent"
                },
            )
            .on(comm))
        }
    }
}

/// Finishes detached requests that are done; logs their errors, which nobody
/// else will see.
pub fn reap() {
    let mut d = DETACHED.lock();
    if d.is_empty() {
        return;
    }
    let all = std::mem::take(&mut *d);
    for e in all {
        match test_entry(e) {
            Ok(c) if c.error != MPI_SUCCESS => {
                log::warn!("a freed request failed: {}", c.msg)
            }
            Ok(_) => {}
            Err(e) => d.push(e),
        }
    }
}

/// Hands an entry to the background (MPI_Request_free, buffered sends).
pub fn detach(e: Entry) {
    DETACHED.lock().push(e);
}

/// Waits for every detached request (finalize, buffer detach), bounded by `limit`.
pub fn drain_detached(limit: Duration) {
    let until = Instant::now() + limit;
    loop {
        reap();
        if DETACHED.lock().is_empty() || Instant::now() >= until {
            return;
        }
        idle();
    }
}

/// Bytes buffered sends still hold (MPI_Buffer_attach accounting).
pub fn detached_send_bytes() -> usize {
    reap();
    DETACHED
        .lock()
        .iter()
        .map(|e| match &e.kind {
            Kind::Buffered(k) => match &**k {
                Kind::Send { keep: Some(v), .. } => v.len() + MPI_BSEND_OVERHEAD as usize,
                _ => 0,
            },
            _ => 0,
        })
        .sum()
}

/// Lets the engine make progress (sleeping briefly in epoll) while a caller polls.
fn idle() {
    match crate::comm::COMMS.get(MPI_COMM_WORLD) {
        Some(w) => w.comm.world().idle(Duration::from_micros(200)),
        None => std::thread::sleep(Duration::from_micros(200)),
    }
}

fn ignored(s: *mut MPI_Status) -> bool {
    s.is_null() || s as usize == MPI_STATUS_IGNORE
}

/// Writes a completion into a status (unless it is MPI_STATUS_IGNORE).
pub fn fill(s: *mut MPI_Status, c: &Completion, with_error: bool) {
    if ignored(s) {
        return;
    }
    // SAFETY: not NULL or the ignore sentinel: the program's MPI_Status.
    let st = unsafe { &mut *s };
    st.MPI_SOURCE = c.source;
    st.MPI_TAG = c.tag;
    st.set_bytes(c.bytes);
    st.set_cancelled(c.cancelled);
    if with_error {
        st.MPI_ERROR = c.error;
    }
}

fn result_of(c: &Completion, comm: MPI_Comm) -> R {
    if c.error == MPI_SUCCESS {
        Ok(())
    } else {
        Err(Fail::new(c.error, c.msg.clone()).on(comm))
    }
}

/// MPI_Wait on one handle.
pub fn wait(h: *mut MPI_Request, status: *mut MPI_Status) -> R {
    let mut hv = crate::args::read(h, "request")?;
    let done = step(&mut hv, true)?;
    out(h, hv, "request")?;
    let (c, comm) = done.unwrap_or((Completion::empty(), MPI_COMM_WORLD));
    fill(status, &c, false);
    result_of(&c, comm)
}

/// MPI_Test on one handle.
pub fn test(h: *mut MPI_Request, flag: *mut c_int, status: *mut MPI_Status) -> R {
    let mut hv = crate::args::read(h, "request")?;
    match step(&mut hv, false)? {
        Some((c, comm)) => {
            out(h, hv, "request")?;
            out(flag, 1, "flag")?;
            fill(status, &c, false);
            result_of(&c, comm)
        }
        None => out(flag, 0, "flag"),
    }
}

fn status_at(statuses: *mut MPI_Status, i: usize) -> *mut MPI_Status {
    if ignored(statuses) {
        statuses
    } else {
        statuses.wrapping_add(i)
    }
}

/// Completes every request in `reqs` (MPI_Waitall / MPI_Testall once all are done).
fn finish_all(
    reqs: &mut [MPI_Request],
    statuses: *mut MPI_Status,
    comms: &mut Vec<MPI_Comm>,
) -> R<bool> {
    let mut failed = false;
    for (i, h) in reqs.iter_mut().enumerate() {
        let (c, comm) = step(h, true)?.unwrap_or((Completion::empty(), MPI_COMM_WORLD));
        comms.push(comm);
        failed |= c.error != MPI_SUCCESS;
        fill(status_at(statuses, i), &c, true);
    }
    Ok(failed)
}

pub fn waitall(n: c_int, reqs: *mut MPI_Request, statuses: *mut MPI_Status) -> R {
    let n = crate::args::nonneg(n, "count")?;
    let reqs = array_mut(reqs, n, "requests")?;
    let mut comms = Vec::new();
    if finish_all(reqs, statuses, &mut comms)? {
        let comm = comms.first().copied().unwrap_or(MPI_COMM_WORLD);
        return Err(Fail::new(MPI_ERR_IN_STATUS, "a request failed; see the statuses").on(comm));
    }
    Ok(())
}

pub fn testall(n: c_int, reqs: *mut MPI_Request, flag: *mut c_int, statuses: *mut MPI_Status) -> R {
    let n = crate::args::nonneg(n, "count")?;
    let reqs = array_mut(reqs, n, "requests")?;
    // Done only if every request is: what finishes meanwhile is kept as done.
    let mut all = true;
    for &h in reqs.iter() {
        all &= settle(h)?;
    }
    if !all {
        return out(flag, 0, "flag");
    }
    out(flag, 1, "flag")?;
    waitall(n as c_int, reqs.as_mut_ptr(), statuses)
}

/// Tests `h` and keeps a completion in place (as a finished operation) without
/// freeing the request: true when it is complete (or null, or inactive).
fn settle(h: MPI_Request) -> R<bool> {
    if h == MPI_REQUEST_NULL {
        return Ok(true);
    }
    let e = take(h)?;
    let comm = e.comm;
    let (kind, done) = match e.kind {
        Kind::Persistent {
            start,
            active: Some(k),
        } => match test_kind(*k) {
            Ok(c) => (
                Kind::Persistent {
                    start,
                    active: Some(Box::new(Kind::Done(c))),
                },
                true,
            ),
            Err(k) => (
                Kind::Persistent {
                    start,
                    active: Some(Box::new(k)),
                },
                false,
            ),
        },
        k @ Kind::Persistent { active: None, .. } => (k, true),
        k => match test_kind(k) {
            Ok(c) => (Kind::Done(c), true),
            Err(k) => (k, false),
        },
    };
    put_back(h, Entry { kind, comm });
    Ok(done)
}

/// One pass over `reqs`: completes those that are done (all of them, or the first
/// when `one`); returns their indices, or None when every handle is null or an
/// inactive persistent request.
fn sweep(reqs: &mut [MPI_Request], one: bool) -> R<Option<Vec<(usize, Completion, MPI_Comm)>>> {
    let mut done = Vec::new();
    let mut active = false;
    for (i, h) in reqs.iter_mut().enumerate() {
        if inert(*h) {
            continue;
        }
        active = true;
        if let Some((c, comm)) = step(h, false)? {
            done.push((i, c, comm));
            if one {
                break;
            }
        }
    }
    Ok(active.then_some(done))
}

/// Polls until `sweep` finds something (blocking) or once (testing).
fn poll(
    reqs: &mut [MPI_Request],
    one: bool,
    block: bool,
) -> R<Option<Vec<(usize, Completion, MPI_Comm)>>> {
    let mut spins = 0u32;
    loop {
        match sweep(reqs, one)? {
            None => return Ok(None),
            Some(d) if !d.is_empty() || !block => return Ok(Some(d)),
            Some(_) => {}
        }
        spins += 1;
        if spins > 64 {
            idle();
        } else {
            std::hint::spin_loop();
        }
    }
}

pub fn any(
    n: c_int,
    reqs: *mut MPI_Request,
    index: *mut c_int,
    flag: *mut c_int,
    status: *mut MPI_Status,
    block: bool,
) -> R {
    let n = crate::args::nonneg(n, "count")?;
    let reqs = array_mut(reqs, n, "requests")?;
    match poll(reqs, true, block)? {
        None => {
            out(index, MPI_UNDEFINED, "index")?;
            fill(status, &Completion::empty(), false);
            if !flag.is_null() {
                out(flag, 1, "flag")?;
            }
            Ok(())
        }
        Some(d) => match d.into_iter().next() {
            Some((i, c, comm)) => {
                out(index, i as c_int, "index")?;
                if !flag.is_null() {
                    out(flag, 1, "flag")?;
                }
                fill(status, &c, false);
                result_of(&c, comm)
            }
            None => {
                out(index, MPI_UNDEFINED, "index")?;
                out(flag, 0, "flag")
            }
        },
    }
}

pub fn some(
    incount: c_int,
    reqs: *mut MPI_Request,
    outcount: *mut c_int,
    indices: *mut c_int,
    statuses: *mut MPI_Status,
    block: bool,
) -> R {
    let n = crate::args::nonneg(incount, "incount")?;
    let reqs = array_mut(reqs, n, "requests")?;
    match poll(reqs, false, block)? {
        None => out(outcount, MPI_UNDEFINED, "outcount"),
        Some(d) => {
            let idx = array_mut(indices, d.len(), "indices")?;
            let mut err = None;
            for (k, (i, c, comm)) in d.iter().enumerate() {
                idx[k] = *i as c_int;
                fill(status_at(statuses, k), c, true);
                if c.error != MPI_SUCCESS && err.is_none() {
                    err = Some(*comm);
                }
            }
            out(outcount, d.len() as c_int, "outcount")?;
            match err {
                Some(comm) => {
                    Err(Fail::new(MPI_ERR_IN_STATUS, "a request failed; see the statuses").on(comm))
                }
                None => Ok(()),
            }
        }
    }
}

/// MPI_Request_get_status: like MPI_Test, but a complete request stays allocated
/// (complete) until MPI_Wait, MPI_Test or MPI_Request_free frees it.
pub fn get_status(h: MPI_Request, flag: *mut c_int, status: *mut MPI_Status) -> R {
    if !settle(h)? {
        return out(flag, 0, "flag");
    }
    let c = if h == MPI_REQUEST_NULL {
        Completion::empty()
    } else {
        let e = take(h)?;
        let c = match &e.kind {
            Kind::Done(c) => c.clone(),
            Kind::Persistent {
                active: Some(k), ..
            } => match &**k {
                Kind::Done(c) => c.clone(),
                _ => Completion::empty(),
            },
            _ => Completion::empty(),
        };
        put_back(h, e);
        c
    };
    fill(status, &c, false);
    out(flag, 1, "flag")
}

/// MPI_Request_free: the operation goes on in the background.
pub fn free(h: *mut MPI_Request) -> R {
    let hv = crate::args::read(h, "request")?;
    if hv == MPI_REQUEST_NULL {
        return Err(Fail::new(MPI_ERR_REQUEST, "MPI_REQUEST_NULL"));
    }
    let e = take(hv)?;
    release(hv);
    match e.kind {
        Kind::Persistent {
            active: Some(k), ..
        } => detach(Entry {
            kind: *k,
            comm: e.comm,
        }),
        Kind::Persistent { active: None, .. } => {}
        _ => detach(e),
    }
    out(h, MPI_REQUEST_NULL, "request")
}

/// MPI_Cancel: a receive that nothing matched yet completes as cancelled; anything
/// else completes as usual.
pub fn cancel(h: *mut MPI_Request) -> R {
    let hv = crate::args::read(h, "request")?;
    if hv == MPI_REQUEST_NULL {
        return Err(Fail::new(MPI_ERR_REQUEST, "MPI_REQUEST_NULL"));
    }
    let e = take(hv)?;
    let comm = e.comm;
    let back = match e.kind {
        Kind::Persistent {
            start,
            active: Some(k),
        } => Kind::Persistent {
            start,
            active: Some(Box::new(cancel_kind(*k))),
        },
        k => cancel_kind(k),
    };
    put_back(hv, Entry { kind: back, comm });
    Ok(())
}

fn cancel_kind(k: Kind) -> Kind {
    match k {
        Kind::Recv { req, sink } => match req.cancel_unmatched() {
            Ok(()) => Kind::Done(Completion {
                cancelled: true,
                ..Completion::empty()
            }),
            Err(req) => Kind::Recv { req, sink },
        },
        k => k,
    }
}

/// Everything still registered, at finalize.
pub fn clear() {
    drain_detached(Duration::from_secs(10));
    REQS.lock().clear();
}
