//! Point to point: sends in every mode, receives, probes, and buffered-send
//! buffers. Ranks are communicator ranks; MPI_PROC_NULL completes at once.

use crate::abi::*;
use crate::args::{data, out, Data, Sink};
use crate::comm::{self, CommObj};
use crate::datatype::{self, Type};
use crate::errors::{fail, Fail, R};
use crate::request::{self, Completion, Entry, Kind};
use parking_lot::Mutex;
use std::ffi::{c_int, c_void};
use std::sync::Arc;

/// A checked envelope: the communicator and its type for a call.
pub struct Call {
    pub h: MPI_Comm,
    pub c: Arc<CommObj>,
    pub t: Arc<Type>,
    pub count: usize,
}

impl Call {
    pub fn new(comm: MPI_Comm, count: c_int, dt: MPI_Datatype) -> R<Call> {
        let c = comm::get(comm)?;
        let on = |f: Fail| f.on(comm);
        let count = datatype::count(count).map_err(on)?;
        let t = datatype::lookup(dt).map_err(on)?;
        Ok(Call {
            h: comm,
            c,
            t,
            count,
        })
    }

    pub fn fail(&self, f: impl Into<Fail>) -> Fail {
        f.into().on(self.h)
    }

    /// A destination: a rank of the communicator, or None for MPI_PROC_NULL.
    pub fn dest(&self, r: c_int) -> R<Option<c_int>> {
        match r {
            MPI_PROC_NULL => Ok(None),
            r if r >= 0 && r < self.c.size() => Ok(Some(r)),
            r => Err(self.fail(Fail::new(
                MPI_ERR_RANK,
                format!(
                    "rank {r} is out of range (the communicator has {} ranks)",
                    self.c.size()
                ),
            ))),
        }
    }

    /// A source: a rank, MPI_ANY_SOURCE, or None for MPI_PROC_NULL.
    pub fn source(&self, r: c_int) -> R<Option<c_int>> {
        if r == MPI_ANY_SOURCE {
            return Ok(Some(fmi::comm::ANY_SOURCE));
        }
        self.dest(r)
    }

    pub fn send_tag(&self, tag: c_int) -> R<c_int> {
        if !(0..=fmi::comm::TAG_UB).contains(&tag) {
            return Err(self.fail(Fail::new(MPI_ERR_TAG, format!("tag {tag} is invalid"))));
        }
        Ok(tag)
    }

    pub fn recv_tag(&self, tag: c_int) -> R<c_int> {
        if tag == MPI_ANY_TAG {
            return Ok(fmi::comm::ANY_TAG);
        }
        self.send_tag(tag)
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    Standard,
    Sync,
    Buffered,
}

/// The buffer of MPI_Buffer_attach: only its size matters (buffered sends copy into
/// memory of their own), so a send that would not fit is still refused as MPI says.
static ATTACHED: Mutex<Option<(usize, usize)>> = Mutex::new(None);

/// Starts a send of any mode; the request handle, or None for a blocking standard
/// send done at once.
unsafe fn start_send(
    buf: *const c_void,
    count: c_int,
    dt: MPI_Datatype,
    dest: c_int,
    tag: c_int,
    comm: MPI_Comm,
    mode: Mode,
) -> R<MPI_Request> {
    // SAFETY: forwarded.
    let kind = unsafe { send_kind(buf, count, dt, dest, tag, comm, mode)? };
    Ok(request::start(Entry { kind, comm }))
}

/// Starts a send of any mode; what its request waits for.
unsafe fn send_kind(
    buf: *const c_void,
    count: c_int,
    dt: MPI_Datatype,
    dest: c_int,
    tag: c_int,
    comm: MPI_Comm,
    mode: Mode,
) -> R<Kind> {
    let k = Call::new(comm, count, dt)?;
    let tag = k.send_tag(tag)?;
    let Some(dest) = k.dest(dest)? else {
        return Ok(Kind::Done(Completion::empty()));
    };
    // SAFETY: the program keeps the buffer valid until the request completes.
    let d = unsafe { data(buf, k.count, &k.t) }.map_err(|f| k.fail(f))?;
    let copy = mode == Mode::Buffered;
    // The request owns packed data, and a buffered send's copy; a dense standard
    // send goes straight from the program's buffer.
    let (raw, keep) = match d {
        Data::Borrowed(b) if !copy => (b.as_ptr() as *mut u8, None),
        Data::Borrowed(b) => {
            let v = b.to_vec();
            (v.as_ptr() as *mut u8, Some(v))
        }
        // moving the Vec leaves its heap buffer, and so `raw`, where it is
        Data::Packed(v) => (v.as_ptr() as *mut u8, Some(v)),
    };
    if copy {
        let need = keep.as_ref().map_or(0, |v| v.len()) + MPI_BSEND_OVERHEAD as usize;
        let cap = ATTACHED.lock().map_or(0, |(_, n)| n);
        let used = request::detached_send_bytes();
        if used + need > cap {
            return Err(k.fail(Fail::new(
                MPI_ERR_BUFFER,
                format!("buffered send of {need} bytes (with overhead) does not fit the attached buffer ({cap} bytes, {used} in use)"),
            )));
        }
    }
    let len = keep
        .as_ref()
        .map_or_else(|| k.t.size * k.count, |v| v.len());
    // SAFETY: `raw` points to `len` bytes that stay valid until the request
    // completes: the program's buffer, or `keep`, which the request owns.
    let rb = unsafe { fmi::channel::RawBuf::new(raw, len) };
    // SAFETY: as above.
    let req = unsafe {
        if mode == Mode::Sync {
            k.c.comm.issend(rb, dest, tag)
        } else {
            k.c.comm.isend(rb, dest, tag)
        }
    }
    .map_err(|e| k.fail(e))?;
    let send = Kind::Send { req, keep };
    Ok(if copy {
        Kind::Buffered(Box::new(send))
    } else {
        send
    })
}

unsafe fn blocking_send(
    buf: *const c_void,
    count: c_int,
    dt: MPI_Datatype,
    dest: c_int,
    tag: c_int,
    comm: MPI_Comm,
    mode: Mode,
) -> R {
    if mode == Mode::Standard {
        let k = Call::new(comm, count, dt)?;
        let tag = k.send_tag(tag)?;
        let Some(dest) = k.dest(dest)? else {
            return Ok(());
        };
        // SAFETY: the buffer holds `count` elements for the duration of the call.
        let d = unsafe { data(buf, k.count, &k.t) }.map_err(|f| k.fail(f))?;
        return k.c.comm.send(d.bytes(), dest, tag).map_err(|e| k.fail(e));
    }
    // SAFETY: as above; the request completes before this returns (sync) or owns a
    // copy (buffered).
    let mut h = unsafe { start_send(buf, count, dt, dest, tag, comm, mode)? };
    if mode == Mode::Buffered {
        // The copy goes on in the background.
        return request::free(&mut h);
    }
    request::wait(&mut h, MPI_STATUS_IGNORE as *mut MPI_Status)
}

unsafe fn start_recv(
    buf: *mut c_void,
    count: c_int,
    dt: MPI_Datatype,
    source: c_int,
    tag: c_int,
    comm: MPI_Comm,
) -> R<MPI_Request> {
    // SAFETY: forwarded.
    let kind = unsafe { recv_kind(buf, count, dt, source, tag, comm)? };
    Ok(request::start(Entry { kind, comm }))
}

/// Starts a receive; what its request waits for.
unsafe fn recv_kind(
    buf: *mut c_void,
    count: c_int,
    dt: MPI_Datatype,
    source: c_int,
    tag: c_int,
    comm: MPI_Comm,
) -> R<Kind> {
    let k = Call::new(comm, count, dt)?;
    let tag = k.recv_tag(tag)?;
    let Some(src) = k.source(source)? else {
        return Ok(Kind::Done(Completion::proc_null()));
    };
    // SAFETY: the program keeps the buffer valid until the request completes.
    let mut sink = unsafe { Sink::new(buf, k.count, &k.t) }.map_err(|f| k.fail(f))?;
    // SAFETY: the sink's memory stays valid until the request completes.
    let req = unsafe { k.c.comm.irecv(sink.raw(), src, tag) }.map_err(|e| k.fail(e))?;
    Ok(Kind::Recv { req, sink })
}

/// A persistent send: checked now, started by each MPI_Start.
#[allow(clippy::too_many_arguments)]
unsafe fn send_init(
    buf: *const c_void,
    count: c_int,
    dt: MPI_Datatype,
    dest: c_int,
    tag: c_int,
    comm: MPI_Comm,
    mode: Mode,
    req: *mut MPI_Request,
) -> R {
    let k = Call::new(comm, count, dt)?;
    k.send_tag(tag)?;
    k.dest(dest)?;
    let b = crate::nbc::P::of(buf);
    let start = move || {
        // SAFETY: MPI makes the program keep the buffer valid while the
        // persistent request lives.
        let kind = unsafe { send_kind(b.c(), count, dt, dest, tag, comm, mode)? };
        if mode == Mode::Buffered {
            // the data is copied: the operation is complete for the program
            request::detach(Entry { kind, comm });
            return Ok(Kind::Done(Completion::empty()));
        }
        Ok(kind)
    };
    let kind = Kind::Persistent {
        start: std::sync::Arc::new(start),
        active: None,
    };
    out(req, request::start(Entry { kind, comm }), "request")
}

/// A persistent receive.
unsafe fn recv_init(
    buf: *mut c_void,
    count: c_int,
    dt: MPI_Datatype,
    source: c_int,
    tag: c_int,
    comm: MPI_Comm,
    req: *mut MPI_Request,
) -> R {
    let k = Call::new(comm, count, dt)?;
    k.recv_tag(tag)?;
    k.source(source)?;
    let b = crate::nbc::P::of(buf as *const c_void);
    // SAFETY: as in `send_init`.
    let start = move || unsafe { recv_kind(b.m(), count, dt, source, tag, comm) };
    let kind = Kind::Persistent {
        start: std::sync::Arc::new(start),
        active: None,
    };
    out(req, request::start(Entry { kind, comm }), "request")
}

unsafe fn blocking_recv(
    buf: *mut c_void,
    count: c_int,
    dt: MPI_Datatype,
    source: c_int,
    tag: c_int,
    comm: MPI_Comm,
    status: *mut MPI_Status,
) -> R {
    let k = Call::new(comm, count, dt)?;
    let tag = k.recv_tag(tag)?;
    let Some(src) = k.source(source)? else {
        request::fill(status, &Completion::proc_null(), false);
        return Ok(());
    };
    // SAFETY: the buffer holds `count` elements for the duration of the call.
    let mut sink = unsafe { Sink::new(buf, k.count, &k.t) }.map_err(|f| k.fail(f))?;
    let s =
        k.c.comm
            .recv_status(sink.bytes(), src, tag)
            .map_err(|e| k.fail(e))?;
    let err = s.error.clone();
    let c = Completion {
        source: s.source,
        tag: s.tag,
        bytes: s.bytes.min(sink.len()) as u64,
        ..Completion::default()
    };
    sink.finish(c.bytes as usize);
    request::fill(status, &c, false);
    match err {
        Some(e) => Err(k.fail(e)),
        None => Ok(()),
    }
}

unsafe fn probe(
    source: c_int,
    tag: c_int,
    comm: MPI_Comm,
    flag: *mut c_int,
    status: *mut MPI_Status,
) -> R {
    let k = Call::new(comm, 0, MPI_BYTE)?;
    let tag = k.recv_tag(tag)?;
    let Some(src) = k.source(source)? else {
        request::fill(status, &Completion::proc_null(), false);
        if !flag.is_null() {
            out(flag, 1, "flag")?;
        }
        return Ok(());
    };
    let s =
        k.c.comm
            .probe(src, tag, flag.is_null())
            .map_err(|e| k.fail(e))?;
    match s {
        Some(s) => {
            let c = Completion {
                source: s.source,
                tag: s.tag,
                bytes: s.bytes as u64,
                ..Completion::default()
            };
            request::fill(status, &c, false);
            if !flag.is_null() {
                out(flag, 1, "flag")?;
            }
        }
        None => out(flag, 0, "flag")?,
    }
    Ok(())
}

/// The receive half of a sendrecv: when the send failed (a bad rank, say), the
/// receive is cancelled rather than waited for, unless a message already matched it.
fn finish_sendrecv(sent: R, r: &mut MPI_Request, status: *mut MPI_Status) -> R {
    if sent.is_err() {
        let _ = request::cancel(r);
    }
    let got = request::wait(r, status);
    sent.and(got)
}

fn attach(buf: *mut c_void, size: usize) -> R {
    let mut a = ATTACHED.lock();
    if a.is_some() {
        return fail(MPI_ERR_BUFFER, "a buffer is already attached");
    }
    *a = Some((buf as usize, size));
    Ok(())
}

/// Detaches the buffer once the buffered messages have gone, as MPI says.
fn detach() -> (usize, usize) {
    request::drain_detached(std::time::Duration::from_secs(3600));
    ATTACHED.lock().take().unwrap_or((0, 0))
}

/// A message taken by a matched probe, waiting for its MPI_Mrecv.
struct Msg {
    m: Mutex<Option<fmi::engine::Message>>,
    comm: MPI_Comm,
}

static MESSAGES: crate::handles::Table<Msg> = crate::handles::Table::new(0xb000_0000);
const MPI_MESSAGE_NULL: MPI_Message = 0x2c00_0000;
const MPI_MESSAGE_NO_PROC: MPI_Message = 0x6c00_0000;

/// MPI_Mprobe / MPI_Improbe (`flag` NULL: block).
unsafe fn mprobe(
    source: c_int,
    tag: c_int,
    comm: MPI_Comm,
    flag: *mut c_int,
    msg: *mut MPI_Message,
    status: *mut MPI_Status,
) -> R {
    let k = Call::new(comm, 0, MPI_BYTE)?;
    let tag = k.recv_tag(tag)?;
    let Some(src) = k.source(source)? else {
        request::fill(status, &Completion::proc_null(), false);
        if !flag.is_null() {
            out(flag, 1, "flag")?;
        }
        return out(msg, MPI_MESSAGE_NO_PROC, "message");
    };
    match k
        .c
        .comm
        .mprobe(src, tag, flag.is_null())
        .map_err(|e| k.fail(e))?
    {
        Some((s, m)) => {
            let c = Completion {
                source: s.source,
                tag: s.tag,
                bytes: s.bytes as u64,
                ..Completion::default()
            };
            request::fill(status, &c, false);
            let h = MESSAGES.insert(Msg {
                m: Mutex::new(Some(m)),
                comm,
            });
            if !flag.is_null() {
                out(flag, 1, "flag")?;
            }
            out(msg, h, "message")
        }
        None => out(flag, 0, "flag"),
    }
}

/// MPI_Imrecv: starts the receive of a matched message; the handle becomes
/// MPI_MESSAGE_NULL.
unsafe fn imrecv(
    buf: *mut c_void,
    count: c_int,
    dt: MPI_Datatype,
    msg: *mut MPI_Message,
) -> R<MPI_Request> {
    let h = crate::args::read(msg, "message")?;
    if h == MPI_MESSAGE_NO_PROC {
        out(msg, MPI_MESSAGE_NULL, "message")?;
        return Ok(request::start(Entry {
            kind: Kind::Done(Completion::proc_null()),
            comm: MPI_COMM_WORLD,
        }));
    }
    let obj = MESSAGES
        .remove(h)
        .ok_or_else(|| Fail::new(MPI_ERR_REQUEST, format!("invalid message {h:#x}")))?;
    let m = obj
        .m
        .lock()
        .take()
        .ok_or_else(|| Fail::new(MPI_ERR_REQUEST, "message already received"))?;
    let k = Call::new(obj.comm, count, dt)?;
    // SAFETY: the program keeps the buffer valid until the request completes.
    let mut sink = unsafe { Sink::new(buf, k.count, &k.t) }.map_err(|f| k.fail(f))?;
    // SAFETY: the sink's memory stays valid until the request completes.
    let req = unsafe { k.c.comm.imrecv(m, sink.raw()) };
    out(msg, MPI_MESSAGE_NULL, "message")?;
    Ok(request::start(Entry {
        kind: Kind::Recv { req, sink },
        comm: obj.comm,
    }))
}

/// MPI_Status_set_elements: the status says `count` elementary items of `dt` arrived.
fn set_elements(status: *mut MPI_Status, dt: MPI_Datatype, count: MPI_Count) -> R {
    status_ref(status)?;
    let t = datatype::lookup_any(dt)?;
    let count = u64::try_from(count).map_err(|_| Fail::new(MPI_ERR_COUNT, "count is negative"))?;
    let item = t.base.map_or(t.size, |(b, _)| b.size()) as u64;
    // SAFETY: checked to be a real status.
    unsafe { (*status).set_bytes(count * item) };
    Ok(())
}

/// Whole elements of `dt` a status counts (MPI_Get_count); None when the bytes are
/// not a whole number of them.
pub(crate) fn count_of(status: *const MPI_Status, dt: MPI_Datatype) -> R<Option<u64>> {
    let b = status_ref(status)?.bytes();
    Ok(match datatype::lookup_any(dt)?.size as u64 {
        0 => Some(0),
        sz if b.is_multiple_of(sz) => Some(b / sz),
        _ => None,
    })
}

pub(crate) fn status_ref<'a>(s: *const MPI_Status) -> R<&'a MPI_Status> {
    if s.is_null() || s as usize == MPI_STATUS_IGNORE {
        return fail(MPI_ERR_ARG, "status is NULL or MPI_STATUS_IGNORE");
    }
    // SAFETY: a real status of the program.
    Ok(unsafe { &*s })
}

mpi! {
    fn MPI_Send / PMPI_Send(buf: *const c_void, count: c_int, dt: MPI_Datatype, dest: c_int, tag: c_int, comm: MPI_Comm) {
        blocking_send(buf, count, dt, dest, tag, comm, Mode::Standard)
    }

    fn MPI_Rsend / PMPI_Rsend(buf: *const c_void, count: c_int, dt: MPI_Datatype, dest: c_int, tag: c_int, comm: MPI_Comm) {
        blocking_send(buf, count, dt, dest, tag, comm, Mode::Standard)
    }

    fn MPI_Ssend / PMPI_Ssend(buf: *const c_void, count: c_int, dt: MPI_Datatype, dest: c_int, tag: c_int, comm: MPI_Comm) {
        blocking_send(buf, count, dt, dest, tag, comm, Mode::Sync)
    }

    fn MPI_Bsend / PMPI_Bsend(buf: *const c_void, count: c_int, dt: MPI_Datatype, dest: c_int, tag: c_int, comm: MPI_Comm) {
        blocking_send(buf, count, dt, dest, tag, comm, Mode::Buffered)
    }

    fn MPI_Isend / PMPI_Isend(buf: *const c_void, count: c_int, dt: MPI_Datatype, dest: c_int, tag: c_int, comm: MPI_Comm, req: *mut MPI_Request) {
        out(req, start_send(buf, count, dt, dest, tag, comm, Mode::Standard)?, "request")
    }

    fn MPI_Irsend / PMPI_Irsend(buf: *const c_void, count: c_int, dt: MPI_Datatype, dest: c_int, tag: c_int, comm: MPI_Comm, req: *mut MPI_Request) {
        out(req, start_send(buf, count, dt, dest, tag, comm, Mode::Standard)?, "request")
    }

    fn MPI_Issend / PMPI_Issend(buf: *const c_void, count: c_int, dt: MPI_Datatype, dest: c_int, tag: c_int, comm: MPI_Comm, req: *mut MPI_Request) {
        out(req, start_send(buf, count, dt, dest, tag, comm, Mode::Sync)?, "request")
    }

    fn MPI_Ibsend / PMPI_Ibsend(buf: *const c_void, count: c_int, dt: MPI_Datatype, dest: c_int, tag: c_int, comm: MPI_Comm, req: *mut MPI_Request) {
        // The data is copied at once, so the request is complete from the start.
        let mut h = start_send(buf, count, dt, dest, tag, comm, Mode::Buffered)?;
        request::free(&mut h)?;
        out(req, request::start(Entry { kind: Kind::Done(Completion::empty()), comm }), "request")
    }

    fn MPI_Recv / PMPI_Recv(buf: *mut c_void, count: c_int, dt: MPI_Datatype, source: c_int, tag: c_int, comm: MPI_Comm, status: *mut MPI_Status) {
        blocking_recv(buf, count, dt, source, tag, comm, status)
    }

    fn MPI_Irecv / PMPI_Irecv(buf: *mut c_void, count: c_int, dt: MPI_Datatype, source: c_int, tag: c_int, comm: MPI_Comm, req: *mut MPI_Request) {
        out(req, start_recv(buf, count, dt, source, tag, comm)?, "request")
    }

    fn MPI_Sendrecv / PMPI_Sendrecv(sbuf: *const c_void, scount: c_int, sdt: MPI_Datatype, dest: c_int, stag: c_int,
                                    rbuf: *mut c_void, rcount: c_int, rdt: MPI_Datatype, source: c_int, rtag: c_int,
                                    comm: MPI_Comm, status: *mut MPI_Status) {
        let mut r = start_recv(rbuf, rcount, rdt, source, rtag, comm)?;
        let sent = blocking_send(sbuf, scount, sdt, dest, stag, comm, Mode::Standard);
        finish_sendrecv(sent, &mut r, status)
    }

    fn MPI_Sendrecv_replace / PMPI_Sendrecv_replace(buf: *mut c_void, count: c_int, dt: MPI_Datatype, dest: c_int, stag: c_int,
                                                    source: c_int, rtag: c_int, comm: MPI_Comm, status: *mut MPI_Status) {
        let k = Call::new(comm, count, dt)?;
        // The outgoing data is packed into a copy first, so the receive may land in place.
        let copy = data(buf, k.count, &k.t).map_err(|f| k.fail(f))?.bytes().to_vec();
        let mut r = start_recv(buf, count, dt, source, rtag, comm)?;
        let sent = blocking_send(copy.as_ptr() as *const c_void, copy.len() as c_int, MPI_BYTE, dest, stag, comm, Mode::Standard);
        finish_sendrecv(sent, &mut r, status)
    }

    fn MPI_Isendrecv / PMPI_Isendrecv(sbuf: *const c_void, scount: c_int, sdt: MPI_Datatype, dest: c_int, stag: c_int,
                                      rbuf: *mut c_void, rcount: c_int, rdt: MPI_Datatype, source: c_int, rtag: c_int,
                                      comm: MPI_Comm, req: *mut MPI_Request) {
        let recv = recv_kind(rbuf, rcount, rdt, source, rtag, comm)?;
        let send = send_kind(sbuf, scount, sdt, dest, stag, comm, Mode::Standard)?;
        let kind = Kind::Pair(Box::new(recv), Box::new(send));
        out(req, request::start(Entry { kind, comm }), "request")
    }

    fn MPI_Isendrecv_replace / PMPI_Isendrecv_replace(buf: *mut c_void, count: c_int, dt: MPI_Datatype, dest: c_int, stag: c_int,
                                                      source: c_int, rtag: c_int, comm: MPI_Comm, req: *mut MPI_Request) {
        let k = Call::new(comm, count, dt)?;
        // The outgoing data is copied first (the copy travels with the request), so
        // the receive may land in place.
        let copy = data(buf, k.count, &k.t).map_err(|f| k.fail(f))?.bytes().to_vec();
        let recv = recv_kind(buf, count, dt, source, rtag, comm)?;
        let send = match send_kind(copy.as_ptr() as *const c_void, copy.len() as c_int, MPI_BYTE, dest, stag, comm, Mode::Standard)? {
            Kind::Send { req, .. } => Kind::Send { req, keep: Some(copy) },
            k => k,
        };
        let kind = Kind::Pair(Box::new(recv), Box::new(send));
        out(req, request::start(Entry { kind, comm }), "request")
    }

    fn MPI_Send_init / PMPI_Send_init(buf: *const c_void, count: c_int, dt: MPI_Datatype, dest: c_int, tag: c_int, comm: MPI_Comm, req: *mut MPI_Request) {
        send_init(buf, count, dt, dest, tag, comm, Mode::Standard, req)
    }

    fn MPI_Rsend_init / PMPI_Rsend_init(buf: *const c_void, count: c_int, dt: MPI_Datatype, dest: c_int, tag: c_int, comm: MPI_Comm, req: *mut MPI_Request) {
        send_init(buf, count, dt, dest, tag, comm, Mode::Standard, req)
    }

    fn MPI_Ssend_init / PMPI_Ssend_init(buf: *const c_void, count: c_int, dt: MPI_Datatype, dest: c_int, tag: c_int, comm: MPI_Comm, req: *mut MPI_Request) {
        send_init(buf, count, dt, dest, tag, comm, Mode::Sync, req)
    }

    fn MPI_Bsend_init / PMPI_Bsend_init(buf: *const c_void, count: c_int, dt: MPI_Datatype, dest: c_int, tag: c_int, comm: MPI_Comm, req: *mut MPI_Request) {
        send_init(buf, count, dt, dest, tag, comm, Mode::Buffered, req)
    }

    fn MPI_Recv_init / PMPI_Recv_init(buf: *mut c_void, count: c_int, dt: MPI_Datatype, source: c_int, tag: c_int, comm: MPI_Comm, req: *mut MPI_Request) {
        recv_init(buf, count, dt, source, tag, comm, req)
    }

    fn MPI_Start / PMPI_Start(req: *mut MPI_Request) {
        request::start_persistent(crate::args::read(req, "request")?)
    }

    fn MPI_Startall / PMPI_Startall(n: c_int, reqs: *mut MPI_Request) {
        let n = crate::args::nonneg(n, "count")?;
        for &h in crate::args::array(reqs, n, "requests")? {
            request::start_persistent(h)?;
        }
        Ok(())
    }

    fn MPI_Probe / PMPI_Probe(source: c_int, tag: c_int, comm: MPI_Comm, status: *mut MPI_Status) {
        probe(source, tag, comm, std::ptr::null_mut(), status)
    }

    fn MPI_Iprobe / PMPI_Iprobe(source: c_int, tag: c_int, comm: MPI_Comm, flag: *mut c_int, status: *mut MPI_Status) {
        if flag.is_null() {
            return fail(MPI_ERR_ARG, "flag is NULL");
        }
        probe(source, tag, comm, flag, status)
    }

    fn MPI_Mprobe / PMPI_Mprobe(source: c_int, tag: c_int, comm: MPI_Comm, msg: *mut MPI_Message, status: *mut MPI_Status) {
        mprobe(source, tag, comm, std::ptr::null_mut(), msg, status)
    }

    fn MPI_Improbe / PMPI_Improbe(source: c_int, tag: c_int, comm: MPI_Comm, flag: *mut c_int, msg: *mut MPI_Message, status: *mut MPI_Status) {
        if flag.is_null() {
            return fail(MPI_ERR_ARG, "flag is NULL");
        }
        mprobe(source, tag, comm, flag, msg, status)
    }

    fn MPI_Mrecv / PMPI_Mrecv(buf: *mut c_void, count: c_int, dt: MPI_Datatype, msg: *mut MPI_Message, status: *mut MPI_Status) {
        let mut r = imrecv(buf, count, dt, msg)?;
        request::wait(&mut r, status)
    }

    fn MPI_Imrecv / PMPI_Imrecv(buf: *mut c_void, count: c_int, dt: MPI_Datatype, msg: *mut MPI_Message, req: *mut MPI_Request) {
        out(req, imrecv(buf, count, dt, msg)?, "request")
    }

    fn MPI_Get_count / PMPI_Get_count(status: *const MPI_Status, dt: MPI_Datatype, count: *mut c_int) {
        let n = count_of(status, dt)?;
        out(count, n.and_then(|n| c_int::try_from(n).ok()).unwrap_or(MPI_UNDEFINED), "count")
    }

    fn MPI_Get_elements / PMPI_Get_elements(status: *const MPI_Status, dt: MPI_Datatype, count: *mut c_int) {
        let s = status_ref(status)?;
        let t = datatype::lookup_any(dt)?;
        let n = t.elements(s.bytes() as usize).and_then(|n| c_int::try_from(n).ok()).unwrap_or(MPI_UNDEFINED);
        out(count, n, "count")
    }

    fn MPI_Status_set_cancelled / PMPI_Status_set_cancelled(status: *mut MPI_Status, flag: c_int) {
        status_ref(status)?;
        // SAFETY: checked to be a real status.
        unsafe { (*status).set_cancelled(flag != 0) };
        Ok(())
    }

    fn MPI_Status_set_elements / PMPI_Status_set_elements(status: *mut MPI_Status, dt: MPI_Datatype, count: c_int) {
        set_elements(status, dt, count as MPI_Count)
    }

    fn MPI_Status_set_elements_x / PMPI_Status_set_elements_x(status: *mut MPI_Status, dt: MPI_Datatype, count: MPI_Count) {
        set_elements(status, dt, count)
    }

    fn MPI_Test_cancelled / PMPI_Test_cancelled(status: *const MPI_Status, flag: *mut c_int) {
        let s = status_ref(status)?;
        out(flag, s.cancelled() as c_int, "flag")
    }

    fn MPI_Buffer_attach / PMPI_Buffer_attach(buf: *mut c_void, size: c_int) {
        attach(buf, crate::args::nonneg(size, "size")?)
    }

    fn MPI_Buffer_attach_c / PMPI_Buffer_attach_c(buf: *mut c_void, size: MPI_Count) {
        let size = usize::try_from(size).map_err(|_| Fail::new(MPI_ERR_ARG, format!("size {size} is negative")))?;
        attach(buf, size)
    }

    fn MPI_Buffer_detach / PMPI_Buffer_detach(buf: *mut *mut c_void, size: *mut c_int) {
        let (p, n) = detach();
        out(buf, p as *mut c_void, "buffer")?;
        out(size, c_int::try_from(n).unwrap_or(c_int::MAX), "size")
    }

    fn MPI_Buffer_detach_c / PMPI_Buffer_detach_c(buf: *mut *mut c_void, size: *mut MPI_Count) {
        let (p, n) = detach();
        out(buf, p as *mut c_void, "buffer")?;
        out(size, n as MPI_Count, "size")
    }

    fn MPI_Wait / PMPI_Wait(req: *mut MPI_Request, status: *mut MPI_Status) {
        request::wait(req, status)
    }

    fn MPI_Test / PMPI_Test(req: *mut MPI_Request, flag: *mut c_int, status: *mut MPI_Status) {
        request::test(req, flag, status)
    }

    fn MPI_Waitall / PMPI_Waitall(n: c_int, reqs: *mut MPI_Request, statuses: *mut MPI_Status) {
        request::waitall(n, reqs, statuses)
    }

    fn MPI_Testall / PMPI_Testall(n: c_int, reqs: *mut MPI_Request, flag: *mut c_int, statuses: *mut MPI_Status) {
        request::testall(n, reqs, flag, statuses)
    }

    fn MPI_Waitany / PMPI_Waitany(n: c_int, reqs: *mut MPI_Request, index: *mut c_int, status: *mut MPI_Status) {
        request::any(n, reqs, index, std::ptr::null_mut(), status, true)
    }

    fn MPI_Testany / PMPI_Testany(n: c_int, reqs: *mut MPI_Request, index: *mut c_int, flag: *mut c_int, status: *mut MPI_Status) {
        if flag.is_null() {
            return fail(MPI_ERR_ARG, "flag is NULL");
        }
        request::any(n, reqs, index, flag, status, false)
    }

    fn MPI_Waitsome / PMPI_Waitsome(n: c_int, reqs: *mut MPI_Request, outcount: *mut c_int, indices: *mut c_int, statuses: *mut MPI_Status) {
        request::some(n, reqs, outcount, indices, statuses, true)
    }

    fn MPI_Testsome / PMPI_Testsome(n: c_int, reqs: *mut MPI_Request, outcount: *mut c_int, indices: *mut c_int, statuses: *mut MPI_Status) {
        request::some(n, reqs, outcount, indices, statuses, false)
    }

    fn MPI_Request_get_status / PMPI_Request_get_status(req: MPI_Request, flag: *mut c_int, status: *mut MPI_Status) {
        request::get_status(req, flag, status)
    }

    fn MPI_Request_free / PMPI_Request_free(req: *mut MPI_Request) {
        request::free(req)
    }

    fn MPI_Cancel / PMPI_Cancel(req: *mut MPI_Request) {
        request::cancel(req)
    }
}
