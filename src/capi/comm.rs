//! Communicator functions.

use super::*;
use std::ffi::{c_char, CStr};

fn opt_str<'a>(p: *const c_char, what: &str) -> Result<Option<&'a str>> {
    if p.is_null() {
        return Ok(None);
    }
    // SAFETY: the caller passes a NUL-terminated string (C API contract).
    let s = unsafe { CStr::from_ptr(p) };
    s.to_str()
        .map(Some)
        .map_err(|_| Error::arg(format!("{what} is not valid UTF-8")))
}

/// Joins a job as `rank` of `size` ranks: the serverless entry point.
/// `comm_name` NULL means `FMI_JOB`; `config_path` NULL means environment only
/// (otherwise a JSON file in the original FMI's shape, overridden by the environment).
#[no_mangle]
pub extern "C" fn FMI_Comm_create(
    rank: c_int,
    size: c_int,
    comm_name: *const c_char,
    config_path: *const c_char,
    comm: *mut FMI_Comm,
) -> c_int {
    guard("FMI_Comm_create", || {
        if comm.is_null() {
            return Err(Error::arg("comm is NULL"));
        }
        let name = opt_str(comm_name, "comm_name")?;
        let cfg = opt_str(config_path, "config_path")?;
        let c = crate::comm::Comm::create(rank, size, name, cfg)?;
        put(comm, new_comm_handle(c), "comm")?;
        Ok(FMI_SUCCESS)
    })
}

/// Joins the job described by the environment: `fmirun` (FMI_RANK, FMI_SIZE,
/// FMI_JOB, FMI_RENDEZVOUS, FMI_TOKEN), mpiexec (PMI_RANK/PMI_SIZE), Slurm
/// (SLURM_PROCID/SLURM_NTASKS) or a Kubernetes indexed job (JOB_COMPLETION_INDEX and
/// FMI_SIZE). With none of them the process is a world of one.
#[no_mangle]
pub extern "C" fn FMI_Comm_from_env(comm: *mut FMI_Comm) -> c_int {
    guard("FMI_Comm_from_env", || {
        if comm.is_null() {
            return Err(Error::arg("comm is NULL"));
        }
        let c = crate::comm::Comm::from_env()?;
        put(comm, new_comm_handle(c), "comm")?;
        Ok(FMI_SUCCESS)
    })
}

/// This process's rank in `comm`.
#[no_mangle]
pub extern "C" fn FMI_Comm_rank(comm: FMI_Comm, rank: *mut c_int) -> c_int {
    guard("FMI_Comm_rank", || {
        put(rank, comm_ref(comm)?.rank() as c_int, "rank")?;
        Ok(FMI_SUCCESS)
    })
}

/// Number of ranks in `comm`.
#[no_mangle]
pub extern "C" fn FMI_Comm_size(comm: FMI_Comm, size: *mut c_int) -> c_int {
    guard("FMI_Comm_size", || {
        put(size, comm_ref(comm)?.size() as c_int, "size")?;
        Ok(FMI_SUCCESS)
    })
}

/// Collective: a new communicator with the same ranks whose traffic never matches
/// `comm`'s. Shares the process's connections.
#[no_mangle]
pub extern "C" fn FMI_Comm_dup(comm: FMI_Comm, out: *mut FMI_Comm) -> c_int {
    guard("FMI_Comm_dup", || {
        if out.is_null() {
            return Err(Error::arg("out is NULL"));
        }
        let d = comm_ref(comm)?.dup()?;
        put(out, new_comm_handle(d), "out")?;
        Ok(FMI_SUCCESS)
    })
}

/// Collective: ranks passing the same `color` form a new communicator, ordered by
/// `key` (ties by rank in `comm`). A negative color sets `*out = NULL`.
#[no_mangle]
pub extern "C" fn FMI_Comm_split(
    comm: FMI_Comm,
    color: c_int,
    key: c_int,
    out: *mut FMI_Comm,
) -> c_int {
    guard("FMI_Comm_split", || {
        if out.is_null() {
            return Err(Error::arg("out is NULL"));
        }
        let s = comm_ref(comm)?.split(color, key)?;
        put(out, s.map_or(std::ptr::null_mut(), new_comm_handle), "out")?;
        Ok(FMI_SUCCESS)
    })
}

/// Chooses between the fastest (`FMI_HINT_FAST`) and the cheapest (`FMI_HINT_CHEAP`)
/// channel for later operations on `comm`.
#[no_mangle]
pub extern "C" fn FMI_Comm_set_hint(comm: FMI_Comm, hint: c_int) -> c_int {
    guard("FMI_Comm_set_hint", || {
        comm_ref(comm)?.set_hint(hint)?;
        Ok(FMI_SUCCESS)
    })
}

/// The modelled cost, in US dollars, of this rank's share of the job when it runs
/// for `seconds`: its function's GiB-seconds (`model.FaaS`), what the requests and
/// bytes it sent through storage channels so far are billed, and its share of the
/// hourly price of the servers the job uses (the rendezvous server, a Redis
/// instance), with the model's parameters (configuration file, environment, AWS
/// defaults). Sum it over the ranks for the job's cost.
#[no_mangle]
pub extern "C" fn FMI_Comm_cost(comm: FMI_Comm, seconds: f64, usd: *mut f64) -> c_int {
    guard("FMI_Comm_cost", || {
        if usd.is_null() {
            return Err(Error::arg("usd is NULL"));
        }
        if !seconds.is_finite() || seconds < 0.0 {
            return Err(Error::arg(format!(
                "seconds must be a finite non-negative number, not {seconds}"
            )));
        }
        let c = comm_ref(comm)?.cost(seconds);
        put(usd, c, "usd")?;
        Ok(FMI_SUCCESS)
    })
}

/// Frees a communicator and sets `*comm = NULL`. Freeing the last communicator of a
/// job leaves it in order: what is still queued is sent, and the call returns once
/// the peers' hosts have acknowledged it (bounded by the timeout); it does not wait
/// for the peers to free theirs.
#[no_mangle]
pub extern "C" fn FMI_Comm_free(comm: *mut FMI_Comm) -> c_int {
    guard("FMI_Comm_free", || {
        if comm.is_null() {
            return Err(Error::arg("comm is NULL"));
        }
        // SAFETY: non-null pointer to the caller's handle variable.
        let h = unsafe { *comm };
        comm_ref(h)?;
        // SAFETY: `h` came from `new_comm_handle` (checked above) and is freed once:
        // the caller's variable is cleared right after.
        let mut b = unsafe { Box::from_raw(h) };
        b.magic = 0;
        // SAFETY: as above.
        unsafe { *comm = std::ptr::null_mut() };
        drop(b);
        Ok(FMI_SUCCESS)
    })
}
