//! Errors, time, abort, and the barrier.

use super::*;
use std::ffi::c_char;
use std::sync::OnceLock;

/// Static text for an error code.
#[no_mangle]
pub extern "C" fn FMI_Error_string(code: c_int) -> *const c_char {
    let s: &'static [u8] = match code {
        FMI_SUCCESS => b"success\0",
        FMI_ERR_ARG => b"invalid argument\0",
        FMI_ERR_TIMEOUT => b"operation timed out\0",
        FMI_ERR_PEER_LOST => b"a peer rank was lost\0",
        FMI_ERR_TRUNCATE => b"message truncated: receive buffer too small\0",
        FMI_ERR_CONNECT => b"connection failed\0",
        FMI_ERR_AUTH => b"authentication failed: wrong job token\0",
        FMI_ERR_CONFIG => b"invalid configuration\0",
        FMI_ERR_CHANNEL => b"communication channel failed\0",
        FMI_ERR_UNSUPPORTED => b"operation not supported\0",
        FMI_ERR_INTERNAL => b"internal error in FMI\0",
        _ => b"unknown error code\0",
    };
    s.as_ptr() as *const c_char
}

/// This thread's last detailed error message, or "". Valid until the next failing
/// FMI call on this thread.
#[no_mangle]
pub extern "C" fn FMI_Last_error() -> *const c_char {
    last_error_ptr()
}

/// Seconds since an arbitrary point in the past (monotonic).
#[no_mangle]
pub extern "C" fn FMI_Wtime() -> f64 {
    static START: OnceLock<std::time::Instant> = OnceLock::new();
    START
        .get_or_init(std::time::Instant::now)
        .elapsed()
        .as_secs_f64()
}

/// Ends every rank of the job with exit status `errorcode`: tells the others through
/// the rendezvous server, then exits this process. With a NULL `comm` it only exits.
#[no_mangle]
pub extern "C" fn FMI_Abort(comm: FMI_Comm, errorcode: c_int) -> c_int {
    guard("FMI_Abort", || match comm_ref(comm) {
        Ok(c) => c.world().abort(errorcode),
        Err(_) => std::process::exit(errorcode),
    })
}

/// Collective: returns once every rank of `comm` has entered it.
#[no_mangle]
pub extern "C" fn FMI_Barrier(comm: FMI_Comm) -> c_int {
    guard("FMI_Barrier", || {
        comm_ref(comm)?.barrier()?;
        Ok(FMI_SUCCESS)
    })
}
