//! Error classes, error handlers and the panic boundary.
//!
//! Error codes are the error classes themselves (MPI allows that), so
//! `MPI_Error_class` is the identity on them. The message of the last error this
//! thread raised is kept, and `MPI_Error_string` adds it to the class text.

use crate::abi::*;
use fmi::ErrorKind;
use parking_lot::Mutex;
use std::cell::RefCell;
use std::ffi::c_int;
use std::panic::{catch_unwind, AssertUnwindSafe};

/// A failed MPI call: its class, what went wrong, and the communicator whose
/// error handler hears of it.
#[derive(Debug, Clone)]
pub struct Fail {
    pub class: c_int,
    pub msg: String,
    pub comm: MPI_Comm,
}

/// Result of an MPI function body.
pub type R<T = ()> = Result<T, Fail>;

impl Fail {
    /// A failure reported on `MPI_COMM_WORLD` (errors not tied to a communicator).
    pub fn new(class: c_int, msg: impl Into<String>) -> Fail {
        Fail {
            class,
            msg: msg.into(),
            comm: MPI_COMM_WORLD,
        }
    }
    /// The same failure, reported on `comm`.
    pub fn on(mut self, comm: MPI_Comm) -> Fail {
        self.comm = comm;
        self
    }
}

/// `Err(Fail)` of a class, for `?`.
pub fn fail<T>(class: c_int, msg: impl Into<String>) -> R<T> {
    Err(Fail::new(class, msg))
}

/// The MPI class of an FMI error.
pub fn class_of(kind: ErrorKind) -> c_int {
    match kind {
        ErrorKind::Arg => MPI_ERR_ARG,
        ErrorKind::Truncate => MPI_ERR_TRUNCATE,
        ErrorKind::PeerLost => MPIX_ERR_PROC_FAILED,
        ErrorKind::Unsupported => MPI_ERR_UNSUPPORTED_OPERATION,
        ErrorKind::Internal => MPI_ERR_INTERN,
        ErrorKind::Timeout
        | ErrorKind::Connect
        | ErrorKind::Auth
        | ErrorKind::Config
        | ErrorKind::Channel => MPI_ERR_OTHER,
    }
}

impl From<fmi::Error> for Fail {
    fn from(e: fmi::Error) -> Fail {
        Fail::new(class_of(e.kind), e.msg)
    }
}

/// Text of an error class (the first part of `MPI_Error_string`).
pub fn class_text(class: c_int) -> &'static str {
    match class {
        MPI_SUCCESS => "No MPI error",
        MPI_ERR_BUFFER => "Invalid buffer pointer",
        MPI_ERR_COUNT => "Invalid count",
        MPI_ERR_TYPE => "Invalid datatype",
        MPI_ERR_TAG => "Invalid tag",
        MPI_ERR_COMM => "Invalid communicator",
        MPI_ERR_RANK => "Invalid rank",
        MPI_ERR_ROOT => "Invalid root",
        MPI_ERR_GROUP => "Invalid group",
        MPI_ERR_OP => "Invalid MPI_Op",
        MPI_ERR_TOPOLOGY => "Invalid topology",
        MPI_ERR_DIMS => "Invalid dimension argument",
        MPI_ERR_ARG => "Invalid argument",
        MPI_ERR_UNKNOWN => "Unknown error",
        MPI_ERR_TRUNCATE => "Message truncated",
        MPI_ERR_OTHER => "Other MPI error",
        MPI_ERR_INTERN => "Internal MPI error",
        MPI_ERR_IN_STATUS => "See the MPI_ERROR field in MPI_Status for the error code",
        MPI_ERR_PENDING => "Pending request (no error)",
        MPI_ERR_REQUEST => "Invalid MPI_Request",
        MPI_ERR_KEYVAL => "Invalid keyval",
        MPI_ERR_NO_MEM => "Out of memory",
        MPI_ERR_UNSUPPORTED_OPERATION => "Unsupported operation",
        MPI_ERR_PROC_ABORTED => "Operation with an aborted process",
        MPIX_ERR_PROC_FAILED => "Process failed",
        _ => "Unknown error class",
    }
}

thread_local! {
    static LAST: RefCell<Option<(c_int, String)>> = const { RefCell::new(None) };
}

/// The detailed message of this thread's last error, if it had class `code`.
pub fn last_message(code: c_int) -> Option<String> {
    LAST.with(|l| match &*l.borrow() {
        Some((c, m)) if *c == code => Some(m.clone()),
        _ => None,
    })
}

/// What an error handler does.
#[derive(Clone, Copy, Debug)]
pub enum Handler {
    /// `MPI_ERRORS_ARE_FATAL` (and `MPI_ERRORS_ABORT`): report and end the job.
    Fatal,
    /// `MPI_ERRORS_RETURN`: return the code.
    Return,
    /// `MPI_Comm_create_errhandler`: call the function, then return the code.
    User(UserHandler),
}

/// `MPI_Comm_errhandler_function`.
pub type UserHandler = unsafe extern "C" fn(*mut MPI_Comm, *mut c_int, ...);

/// User error handlers by handle (`FIRST_USER_HANDLER + index`).
static USER_HANDLERS: Mutex<Vec<Option<UserHandler>>> = Mutex::new(Vec::new());
const FIRST_USER_HANDLER: c_int = 0x94000000u32 as c_int;

/// The handler behind an `MPI_Errhandler` handle.
pub fn handler(h: MPI_Errhandler) -> R<Handler> {
    match h {
        MPI_ERRORS_ARE_FATAL | MPI_ERRORS_ABORT => Ok(Handler::Fatal),
        MPI_ERRORS_RETURN => Ok(Handler::Return),
        _ => {
            let i = h.wrapping_sub(FIRST_USER_HANDLER);
            USER_HANDLERS
                .lock()
                .get(i as usize)
                .copied()
                .flatten()
                .map(Handler::User)
                .ok_or_else(|| Fail::new(MPI_ERR_ARG, format!("invalid error handler {h:#x}")))
        }
    }
}

/// Registers a user handler; returns its handle.
pub fn create_handler(f: UserHandler) -> MPI_Errhandler {
    let mut t = USER_HANDLERS.lock();
    t.push(Some(f));
    FIRST_USER_HANDLER + (t.len() as c_int - 1)
}

/// Frees a user handler handle (communicators that use it keep it working: MPI
/// says the object lives while it is in use, and handlers are tiny).
pub fn free_handler(h: MPI_Errhandler) -> R {
    if matches!(
        h,
        MPI_ERRORS_ARE_FATAL | MPI_ERRORS_RETURN | MPI_ERRORS_ABORT
    ) {
        return Ok(());
    }
    handler(h).map(|_| ())
}

/// Raises `f` from function `name`: records the message and runs the handler of
/// `f.comm`. Returns the code the function returns (when the handler returns).
pub fn raise(name: &str, f: Fail) -> c_int {
    let msg = format!("{name}: {}", f.msg);
    LAST.with(|l| *l.borrow_mut() = Some((f.class, msg.clone())));
    let h = crate::comm::errhandler_of(f.comm).unwrap_or(Handler::Fatal);
    match h {
        Handler::Return => {
            log::debug!("{msg}");
            f.class
        }
        Handler::User(func) => {
            let mut comm = f.comm;
            let mut code = f.class;
            // SAFETY: the program registered `func` as an MPI_Comm_errhandler_function,
            // which takes pointers to the communicator and the code, as here.
            unsafe { func(&mut comm, &mut code) };
            f.class
        }
        Handler::Fatal => {
            eprintln!(
                "Fatal error in {name}: {}: {} (MPI_ERRORS_ARE_FATAL; FMI's MPI shim)",
                class_text(f.class),
                f.msg
            );
            crate::init::abort_job(1)
        }
    }
}

/// Runs the body of an exported MPI function: a `Fail` goes to the error handler, a
/// panic becomes `MPI_ERR_INTERN`; nothing unwinds into C.
pub fn guard(name: &str, body: impl FnOnce() -> R) -> c_int {
    match catch_unwind(AssertUnwindSafe(body)) {
        Ok(Ok(())) => MPI_SUCCESS,
        Ok(Err(f)) => raise(name, f),
        Err(p) => {
            let what = fmi::error::panic_text(&*p);
            raise(
                name,
                Fail::new(
                    MPI_ERR_INTERN,
                    format!("internal error (please report): {what}"),
                ),
            )
        }
    }
}

/// Body of every MPI function the shim does not implement: it fails loudly through
/// the error handler of `comm` (or `MPI_COMM_WORLD`), never falls through to a real
/// MPI library.
pub fn unsupported(name: &str, comm: Option<MPI_Comm>) -> c_int {
    let comm = comm.unwrap_or(MPI_COMM_WORLD);
    guard(name, || {
        Err(Fail::new(
            MPI_ERR_OTHER,
            format!("{name} is not supported by FMI's MPI shim (libfmi_mpi.so)"),
        )
        .on(comm))
    })
}
