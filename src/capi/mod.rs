//! The C ABI: every `extern "C"` function of `include/fmi.h`. Each one checks its
//! arguments, calls the safe core inside [`guard`] (which turns errors into codes and
//! panics into `FMI_ERR_INTERNAL`), and records a message for `FMI_Last_error()`.
//! There is no logic here beyond translation.

// `extern "C"` entry points take raw pointers from C, where Rust's `unsafe` marker
// means nothing to the caller; each one checks its pointers (NULL, handle magic)
// before it dereferences them, as rustls-ffi does.
#![allow(
    non_camel_case_types,
    clippy::missing_safety_doc,
    clippy::not_unsafe_ptr_arg_deref
)]

mod coll;
pub use coll::*;
mod comm;
mod consts;
mod misc;
mod p2p;

pub use comm::*;
pub use consts::*;
pub use misc::*;
pub use p2p::*;

use crate::comm::Comm;
use crate::datatype::Datatype;
use crate::error::{Error, Result};
use std::cell::RefCell;
use std::ffi::{c_int, c_void, CString};
use std::panic::{catch_unwind, AssertUnwindSafe};

thread_local! {
    static LAST_ERROR: RefCell<CString> = RefCell::new(CString::default());
}

/// Records `msg` as this thread's last error.
pub(crate) fn set_last_error(msg: &str) {
    let c = CString::new(msg.replace('\0', " ")).unwrap_or_default();
    LAST_ERROR.with(|l| *l.borrow_mut() = c);
}

pub(crate) fn last_error_ptr() -> *const std::ffi::c_char {
    LAST_ERROR.with(|l| l.borrow().as_ptr())
}

/// Runs the body of an exported function: errors become codes (and the last-error
/// message), panics become `FMI_ERR_INTERNAL`; nothing unwinds into C.
pub(crate) fn guard(name: &str, f: impl FnOnce() -> Result<c_int>) -> c_int {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(Ok(code)) => code,
        Ok(Err(e)) => {
            set_last_error(&format!("{name}: {}", e.msg));
            e.code()
        }
        Err(p) => {
            let what = crate::error::panic_text(&*p);
            set_last_error(&format!("{name}: internal error (please report): {what}"));
            FMI_ERR_INTERNAL
        }
    }
}

/// An `FMI_Comm` handle: a boxed communicator with a check value that catches most
/// uses of freed or foreign pointers.
pub struct FMI_Comm_s {
    magic: u64,
    pub(crate) comm: Comm,
}

const COMM_MAGIC: u64 = 0x464d_495f_434f_4d4d;

/// Opaque communicator handle. NULL is never a valid communicator.
pub type FMI_Comm = *mut FMI_Comm_s;

pub(crate) fn new_comm_handle(comm: Comm) -> FMI_Comm {
    static EXIT_HOOK: std::sync::Once = std::sync::Once::new();
    EXIT_HOOK.call_once(|| {
        // SAFETY: registers a plain `extern "C" fn()` that never unwinds.
        if unsafe { libc::atexit(leave_at_exit) } != 0 {
            log::warn!("atexit failed: a program that exits without FMI_Comm_free may lose its last messages");
        }
    });
    Box::into_raw(Box::new(FMI_Comm_s {
        magic: COMM_MAGIC,
        comm,
    }))
}

/// C programs may return from `main` without freeing their communicators (MPI
/// programs without `MPI_Finalize` do): leave in order then, so that what they sent
/// still arrives and peers see a leave, not a loss.
extern "C" fn leave_at_exit() {
    let _ = catch_unwind(crate::engine::leave_all_at_exit);
}

/// The communicator behind a handle.
pub(crate) fn comm_ref<'a>(c: FMI_Comm) -> Result<&'a Comm> {
    if c.is_null() {
        return Err(Error::arg("communicator is NULL"));
    }
    // SAFETY: non-null handles come from `new_comm_handle` and stay valid until
    // FMI_Comm_free; the magic check catches most stale or foreign pointers.
    let h = unsafe { &*c };
    if h.magic != COMM_MAGIC {
        return Err(Error::arg("not a valid communicator (freed or corrupted?)"));
    }
    Ok(&h.comm)
}

/// Element type from its C code.
pub(crate) fn datatype(dt: FMI_Datatype) -> Result<Datatype> {
    Datatype::from_code(dt).ok_or_else(|| Error::arg(format!("unknown datatype {dt}")))
}

/// Byte length of `count` elements of `dt`, checked for overflow.
pub(crate) fn byte_len(count: usize, dt: FMI_Datatype) -> Result<usize> {
    let d = datatype(dt)?;
    d.bytes(count)
        .filter(|&b| b <= isize::MAX as usize)
        .ok_or_else(|| {
            Error::arg(format!(
                "count {count} of {d:?} overflows the address space"
            ))
        })
}

/// A caller's input buffer.
pub(crate) fn in_buf<'a>(
    p: *const c_void,
    count: usize,
    dt: FMI_Datatype,
    what: &str,
) -> Result<&'a [u8]> {
    let len = byte_len(count, dt)?;
    if len == 0 {
        return Ok(&[]);
    }
    if p.is_null() {
        return Err(Error::arg(format!("{what} is NULL but count is {count}")));
    }
    // SAFETY: the caller promises `count` elements of `dt` at `p`, readable for the
    // duration of the call (C API contract); length checked above.
    Ok(unsafe { std::slice::from_raw_parts(p as *const u8, len) })
}

/// A caller's output buffer.
pub(crate) fn out_buf<'a>(
    p: *mut c_void,
    count: usize,
    dt: FMI_Datatype,
    what: &str,
) -> Result<&'a mut [u8]> {
    let len = byte_len(count, dt)?;
    if len == 0 {
        return Ok(&mut []);
    }
    if p.is_null() {
        return Err(Error::arg(format!("{what} is NULL but count is {count}")));
    }
    // SAFETY: the caller promises `count` writable elements of `dt` at `p`, not used
    // elsewhere during the call; length checked above.
    Ok(unsafe { std::slice::from_raw_parts_mut(p as *mut u8, len) })
}

/// A buffer handed to the engine for a non-blocking operation.
pub(crate) fn raw_buf(
    p: *const c_void,
    count: usize,
    dt: FMI_Datatype,
    what: &str,
) -> Result<crate::channel::RawBuf> {
    let len = byte_len(count, dt)?;
    if len == 0 {
        return Ok(crate::channel::RawBuf::empty());
    }
    if p.is_null() {
        return Err(Error::arg(format!("{what} is NULL but count is {count}")));
    }
    // SAFETY: the C contract of FMI_Isend/FMI_Irecv: the buffer stays valid and
    // untouched until the request completes.
    Ok(unsafe { crate::channel::RawBuf::new(p as *mut u8, len) })
}

/// Writes through an out-pointer, or fails if it is NULL.
pub(crate) fn put<T>(p: *mut T, v: T, what: &str) -> Result<()> {
    if p.is_null() {
        return Err(Error::arg(format!("{what} is NULL")));
    }
    // SAFETY: non-null out-pointer from the caller, valid for a write of T.
    unsafe { p.write(v) };
    Ok(())
}
