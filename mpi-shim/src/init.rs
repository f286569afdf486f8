//! MPI_Init and MPI_Finalize: where the world comes from (fmirun's environment,
//! mpiexec's PMI, or a world of one, as FMI's bootstrap decides), the predefined
//! communicators, and the end of the job.

use crate::abi::*;
use crate::args::out;
use crate::comm::{self, CommObj, COMMS};
use crate::errors::{fail, Fail, R};
use std::ffi::{c_char, c_int};
use std::sync::atomic::{AtomicI32, AtomicU8, Ordering};
use std::sync::{Arc, OnceLock};
use std::thread::ThreadId;

const FRESH: u8 = 0;
const ACTIVE: u8 = 1;
const FINALIZED: u8 = 2;

static STATE: AtomicU8 = AtomicU8::new(FRESH);
static LEVEL: AtomicI32 = AtomicI32::new(MPI_THREAD_SINGLE);
static MAIN: OnceLock<ThreadId> = OnceLock::new();

/// Between MPI_Init and MPI_Finalize.
pub fn active() -> bool {
    STATE.load(Ordering::Acquire) == ACTIVE
}

fn init(required: c_int) -> R<c_int> {
    match STATE.load(Ordering::Acquire) {
        FRESH => {}
        ACTIVE => return fail(MPI_ERR_OTHER, "MPI is already initialized"),
        _ => {
            return fail(
                MPI_ERR_OTHER,
                "MPI cannot be initialized again after MPI_Finalize",
            )
        }
    }
    let world = fmi::comm::Comm::from_env()
        .map_err(|e| Fail::new(MPI_ERR_OTHER, format!("cannot join the job: {}", e.msg)))?;
    let me = world.solo();
    comm::set_universe(world.size() as c_int);
    let w = CommObj::new(world, MPI_ERRORS_ARE_FATAL);
    *w.name.lock() = "MPI_COMM_WORLD".into();
    let s = CommObj::new(me, MPI_ERRORS_ARE_FATAL);
    *s.name.lock() = "MPI_COMM_SELF".into();
    COMMS.put(MPI_COMM_WORLD, Arc::new(w));
    COMMS.put(MPI_COMM_SELF, Arc::new(s));
    let _ = MAIN.set(std::thread::current().id());
    // The engine is thread safe, so every level is provided as asked.
    let provided = required.clamp(MPI_THREAD_SINGLE, MPI_THREAD_MULTIPLE);
    LEVEL.store(provided, Ordering::Relaxed);
    STATE.store(ACTIVE, Ordering::Release);
    Ok(provided)
}

fn finalize() -> R {
    if !active() {
        return fail(
            MPI_ERR_OTHER,
            "MPI is not initialized, or already finalized",
        );
    }
    // MPI: MPI_COMM_SELF's attributes are deleted first, as if it were freed, so
    // libraries can clean up while MPI still works.
    for h in [MPI_COMM_SELF, MPI_COMM_WORLD] {
        if let Some(c) = COMMS.get(h) {
            crate::attr::delete_all(h, &c)?;
        }
    }
    crate::request::clear();
    // Every rank's messages of the job are flushed when the world's last
    // communicator goes (FMI's orderly leave).
    for c in COMMS.drain() {
        crate::nbc::stop(&c);
    }
    STATE.store(FINALIZED, Ordering::Release);
    Ok(())
}

/// Ends every rank of the job (MPI_Abort, MPI_ERRORS_ARE_FATAL).
pub fn abort_job(code: c_int) -> ! {
    if let Some(w) = COMMS.get(MPI_COMM_WORLD) {
        w.comm.world().abort(code)
    }
    std::process::exit(if code == 0 { 1 } else { code })
}

mpi! {
    fn MPI_Init / PMPI_Init(_argc: *mut c_int, _argv: *mut *mut *mut c_char) {
        init(MPI_THREAD_SINGLE).map(|_| ())
    }

    fn MPI_Init_thread / PMPI_Init_thread(_argc: *mut c_int, _argv: *mut *mut *mut c_char, required: c_int, provided: *mut c_int) {
        let p = init(required)?;
        out(provided, p, "provided")
    }

    fn MPI_Finalize / PMPI_Finalize() {
        finalize()
    }

    fn MPI_Initialized / PMPI_Initialized(flag: *mut c_int) {
        out(flag, (STATE.load(Ordering::Acquire) != FRESH) as c_int, "flag")
    }

    fn MPI_Finalized / PMPI_Finalized(flag: *mut c_int) {
        out(flag, (STATE.load(Ordering::Acquire) == FINALIZED) as c_int, "flag")
    }

    fn MPI_Query_thread / PMPI_Query_thread(provided: *mut c_int) {
        out(provided, LEVEL.load(Ordering::Relaxed), "provided")
    }

    fn MPI_Is_thread_main / PMPI_Is_thread_main(flag: *mut c_int) {
        let main = MAIN.get().is_some_and(|t| *t == std::thread::current().id());
        out(flag, main as c_int, "flag")
    }

    fn MPI_Abort / PMPI_Abort(comm: MPI_Comm, code: c_int) {
        let rank = comm::get(comm).map(|c| c.rank()).unwrap_or(-1);
        eprintln!("MPI_Abort(comm={comm:#x}, errorcode={code}) called on rank {rank}: ending the job");
        abort_job(code)
    }
}
