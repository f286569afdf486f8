//! `libfmi_mpi.so`: MPICH's MPI ABI implemented over FMI, so that unmodified MPI
//! programs run on FMI, linked against this library or with `LD_PRELOAD` over a
//! binary built with MPICH's `mpicc`.
//!
//! Handles, constants and `MPI_Status` are MPICH's (see `abi`). Every MPI function
//! of MPICH's ABI is exported, both as `MPI_x` and as `PMPI_x` (the profiling
//! interface: `MPI_x` calls `PMPI_x`, so a tool may interpose `MPI_x`). The ones FMI
//! does not implement are in `stubs`, generated from MPICH's headers; they fail
//! loudly through the error handler rather than fall through to the real MPI.
//!
//! The rooms: `abi` (types and constants), `errors` (classes, error handlers, the
//! panic boundary), `handles` (tables behind integer handles), `args` (argument
//! checks, buffers through a datatype), `init` (Init, Finalize, launch), `comm`,
//! `group`, `attr` (cached attributes), `topo` (Cartesian topologies),
//! `datatype` (built-in and derived types, packing), `types` (their exported
//! functions), `op` (reductions on MPI types), `request` (requests, statuses, the
//! wait and test family), `p2p`, `coll` (collectives over FMI's), `coll_api` (the
//! exported collectives, blocking and non-blocking), `nbc` (the progress thread),
//! `large_count` (MPI-4's `_c` forms), `misc` (time, names, memory), `stubs`.

// `extern "C"` entry points take raw pointers from C; each checks them before use
// (see `args`), where Rust's `unsafe fn` marker means nothing to the C caller.
#![allow(
    non_snake_case,
    non_camel_case_types,
    clippy::missing_safety_doc,
    clippy::not_unsafe_ptr_arg_deref
)]

/// Defines an exported MPI function twice: `PMPI_x` holds the body (run inside
/// [`errors::guard`], which maps a `Fail` to the error handler and a panic to
/// `MPI_ERR_INTERN`), and `MPI_x` calls `PMPI_x`.
macro_rules! mpi {
    ($(
        $(#[$meta:meta])*
        fn $name:ident / $pname:ident ( $($arg:ident : $ty:ty),* $(,)? ) $body:block
    )*) => {$(
        $(#[$meta])*
        #[no_mangle]
        pub unsafe extern "C" fn $pname($($arg: $ty),*) -> ::std::ffi::c_int {
            $crate::errors::guard(stringify!($name), || $body)
        }
        #[doc = concat!("`", stringify!($name), "`: calls `", stringify!($pname), "`.")]
        #[no_mangle]
        pub unsafe extern "C" fn $name($($arg: $ty),*) -> ::std::ffi::c_int {
            $pname($($arg),*)
        }
    )*};
}

pub mod abi;
mod args;
mod attr;
mod coll;
pub mod coll_api;
mod comm;
mod datatype;
mod errors;
mod group;
mod handles;
mod init;
mod large_count;
mod misc;
mod nbc;
mod op;
pub mod p2p;
mod request;
mod stubs;
mod topo;
pub mod types;
