//! Constants and plain types of the C API.

use std::ffi::{c_int, c_void};

/// Element type of a buffer (`FMI_BYTE` ... `FMI_DOUBLE`).
pub type FMI_Datatype = i32;
/// Reduction operation (`FMI_SUM` ... `FMI_BXOR`, or one made by `FMI_Op_create`).
pub type FMI_Op = i32;

/// The call succeeded.
pub const FMI_SUCCESS: c_int = 0;
/// Bad argument from the caller; `FMI_Last_error()` says which.
pub const FMI_ERR_ARG: c_int = 1;
/// The operation did not complete within `FMI_TIMEOUT_MS`.
pub const FMI_ERR_TIMEOUT: c_int = 2;
/// A rank the operation needs died or left; `FMI_Last_error()` names it.
pub const FMI_ERR_PEER_LOST: c_int = 3;
/// A message was larger than the receive buffer; the buffer holds its first bytes.
pub const FMI_ERR_TRUNCATE: c_int = 4;
/// A connection (to the rendezvous server or a peer) could not be made.
pub const FMI_ERR_CONNECT: c_int = 5;
/// The job token was refused.
pub const FMI_ERR_AUTH: c_int = 6;
/// Invalid configuration (environment or file).
pub const FMI_ERR_CONFIG: c_int = 7;
/// A communication channel failed.
pub const FMI_ERR_CHANNEL: c_int = 8;
/// Not supported (yet).
pub const FMI_ERR_UNSUPPORTED: c_int = 9;
/// A bug in FMI; please report it with `FMI_Last_error()`.
pub const FMI_ERR_INTERNAL: c_int = 10;

// The wildcards are negative, so the header defines them in its trailer, with the
// parentheses cbindgen would leave out (`x-FMI_ANY_TAG` must still parse).
pub(crate) const FMI_ANY_SOURCE: c_int = crate::comm::ANY_SOURCE;
pub(crate) const FMI_ANY_TAG: c_int = crate::comm::ANY_TAG;
/// Largest user tag.
pub const FMI_TAG_UB: c_int = i32::MAX;

pub const FMI_BYTE: FMI_Datatype = 0;
pub const FMI_CHAR: FMI_Datatype = 1;
pub const FMI_INT8: FMI_Datatype = 2;
pub const FMI_UINT8: FMI_Datatype = 3;
pub const FMI_INT16: FMI_Datatype = 4;
pub const FMI_UINT16: FMI_Datatype = 5;
pub const FMI_INT32: FMI_Datatype = 6;
pub const FMI_UINT32: FMI_Datatype = 7;
pub const FMI_INT64: FMI_Datatype = 8;
pub const FMI_UINT64: FMI_Datatype = 9;
pub const FMI_FLOAT: FMI_Datatype = 10;
pub const FMI_DOUBLE: FMI_Datatype = 11;

pub const FMI_SUM: FMI_Op = 0;
pub const FMI_PROD: FMI_Op = 1;
pub const FMI_MIN: FMI_Op = 2;
pub const FMI_MAX: FMI_Op = 3;
pub const FMI_LAND: FMI_Op = 4;
pub const FMI_LOR: FMI_Op = 5;
pub const FMI_LXOR: FMI_Op = 6;
pub const FMI_BAND: FMI_Op = 7;
pub const FMI_BOR: FMI_Op = 8;
pub const FMI_BXOR: FMI_Op = 9;

/// Prefer the fastest channel.
pub const FMI_HINT_FAST: c_int = 0;
/// Prefer the cheapest channel.
pub const FMI_HINT_CHEAP: c_int = 1;

/// Completion information of a receive, probe or wait.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct FMI_Status {
    /// Rank the message came from.
    pub source: i32,
    pub tag: i32,
    /// `FMI_SUCCESS` or the error of this operation.
    pub error: i32,
    /// Bytes received.
    pub bytes: usize,
}

/// User reduction: `inout[i] = in[i] (op) inout[i]` for `i < count`.
pub type FMI_User_function = Option<
    unsafe extern "C" fn(
        invec: *const c_void,
        inoutvec: *mut c_void,
        count: usize,
        dt: FMI_Datatype,
        ctx: *mut c_void,
    ),
>;

/// Sentinel value of `FMI_IN_PLACE` (the header defines it as a pointer).
pub(crate) const IN_PLACE_ADDR: usize = usize::MAX;

/// Whether a buffer argument is `FMI_IN_PLACE`.
#[allow(dead_code)]
pub(crate) fn is_in_place(p: *const c_void) -> bool {
    p as usize == IN_PLACE_ADDR
}
