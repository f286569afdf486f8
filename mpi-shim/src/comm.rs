//! Communicators: the table behind `MPI_Comm` handles and the functions that make,
//! compare, name and free them. `MPI_COMM_WORLD` and `MPI_COMM_SELF` sit in the
//! table's first two slots, so their handles are MPICH's.

use crate::abi::*;
use crate::args::{out, read};
use crate::errors::{self, fail, Fail, Handler, R};
use crate::group;
use crate::handles::Table;
use fmi::comm::Comm;
use parking_lot::Mutex;
use std::ffi::{c_char, c_int};
use std::sync::Arc;

/// One communicator.
pub struct CommObj {
    pub comm: Comm,
    pub errhandler: Mutex<MPI_Errhandler>,
    pub name: Mutex<String>,
    /// The progress thread of its non-blocking collectives, started on first use.
    pub nbc: Mutex<Option<crate::nbc::Worker>>,
    /// Cached attributes (keyval, value), in the order they were set.
    pub attrs: Mutex<Vec<(c_int, usize)>>,
    /// Its Cartesian grid, if it has one.
    pub cart: Mutex<Option<crate::topo::Cart>>,
}

impl CommObj {
    pub fn new(comm: Comm, errhandler: MPI_Errhandler) -> CommObj {
        CommObj {
            comm,
            errhandler: Mutex::new(errhandler),
            name: Mutex::new(String::new()),
            nbc: Mutex::new(None),
            attrs: Mutex::new(Vec::new()),
            cart: Mutex::new(None),
        }
    }
    pub fn rank(&self) -> c_int {
        self.comm.rank() as c_int
    }
    pub fn size(&self) -> c_int {
        self.comm.size() as c_int
    }
}

pub static COMMS: Table<CommObj> = Table::new(0x4400_0000);

/// The communicator behind a handle; `MPI_ERR_COMM` (on `MPI_COMM_WORLD`'s handler)
/// for a null or unknown one.
pub fn get(h: MPI_Comm) -> R<Arc<CommObj>> {
    COMMS.get(h).ok_or_else(|| {
        let why = if h == MPI_COMM_NULL {
            "MPI_COMM_NULL".to_string()
        } else if !crate::init::active() {
            "MPI is not initialized (or already finalized)".to_string()
        } else {
            format!("invalid communicator {h:#x}")
        };
        Fail::new(MPI_ERR_COMM, why)
    })
}

/// The error handler that hears of errors on `h`: its own, or MPI_COMM_WORLD's
/// (fatal before MPI_Init) when `h` is not a communicator.
pub fn errhandler_of(h: MPI_Comm) -> R<Handler> {
    let e = COMMS
        .get(h)
        .or_else(|| COMMS.get(MPI_COMM_WORLD))
        .map(|c| *c.errhandler.lock())
        .unwrap_or(MPI_ERRORS_ARE_FATAL);
    errors::handler(e)
}

/// Registers a new communicator derived from `parent` (inheriting its handler).
pub fn register(comm: Comm, parent: &CommObj) -> MPI_Comm {
    let eh = *parent.errhandler.lock();
    COMMS.insert(CommObj::new(comm, eh))
}

fn new_or_null(c: Option<Comm>, parent: &CommObj) -> MPI_Comm {
    c.map_or(MPI_COMM_NULL, |c| register(c, parent))
}

/// Frees a communicator: waits for its non-blocking collectives first.
pub fn free(h: MPI_Comm) -> R {
    if h == MPI_COMM_WORLD || h == MPI_COMM_SELF {
        return fail(
            MPI_ERR_COMM,
            "MPI_COMM_WORLD and MPI_COMM_SELF cannot be freed",
        );
    }
    let c = get(h)?;
    crate::attr::delete_all(h, &c)?;
    COMMS.remove(h);
    crate::nbc::stop(&c);
    Ok(())
}

fn cname(p: *mut c_char, s: &str) -> R {
    if p.is_null() {
        return fail(MPI_ERR_ARG, "name buffer is NULL");
    }
    let b = s.as_bytes();
    let n = b.len().min(MPI_MAX_OBJECT_NAME - 1);
    // SAFETY: the program passes a buffer of MPI_MAX_OBJECT_NAME chars.
    unsafe {
        std::ptr::copy_nonoverlapping(b.as_ptr() as *const c_char, p, n);
        *p.add(n) = 0;
    }
    Ok(())
}

/// Members of a communicator as world ranks.
pub fn members(c: &CommObj) -> Vec<u32> {
    c.comm.group().members().to_vec()
}

static TAG_UB_VALUE: c_int = fmi::comm::TAG_UB;
static ZERO: c_int = 0;
static PROC_NULL_VALUE: c_int = MPI_PROC_NULL;
static ANY_SOURCE_VALUE: c_int = MPI_ANY_SOURCE;
static UNIVERSE: std::sync::atomic::AtomicI32 = std::sync::atomic::AtomicI32::new(1);

mpi! {
    fn MPI_Comm_rank / PMPI_Comm_rank(comm: MPI_Comm, rank: *mut c_int) {
        let c = get(comm)?;
        out(rank, c.rank(), "rank").map_err(|f| f.on(comm))
    }

    fn MPI_Comm_size / PMPI_Comm_size(comm: MPI_Comm, size: *mut c_int) {
        let c = get(comm)?;
        out(size, c.size(), "size").map_err(|f| f.on(comm))
    }

    fn MPI_Comm_dup / PMPI_Comm_dup(comm: MPI_Comm, newcomm: *mut MPI_Comm) {
        let c = get(comm)?;
        let d = c.comm.dup().map_err(|e| Fail::from(e).on(comm))?;
        let h = register(d, &c);
        if let Some(n) = COMMS.get(h) {
            *n.cart.lock() = c.cart.lock().clone();
            if let Err(f) = crate::attr::copy_all(comm, &c, &n) {
                let _ = free(h);
                return Err(f);
            }
        }
        out(newcomm, h, "newcomm")
    }

    fn MPI_Comm_split / PMPI_Comm_split(comm: MPI_Comm, color: c_int, key: c_int, newcomm: *mut MPI_Comm) {
        let c = get(comm)?;
        if color < 0 && color != MPI_UNDEFINED {
            return Err(Fail::new(MPI_ERR_ARG, format!("color {color} is negative")).on(comm));
        }
        let color = if color == MPI_UNDEFINED { -1 } else { color };
        let s = c.comm.split(color, key).map_err(|e| Fail::from(e).on(comm))?;
        out(newcomm, new_or_null(s, &c), "newcomm")
    }

    fn MPI_Comm_free / PMPI_Comm_free(comm: *mut MPI_Comm) {
        let h = read(comm, "comm")?;
        free(h).map_err(|f| f.on(h))?;
        out(comm, MPI_COMM_NULL, "comm")
    }

    fn MPI_Comm_compare / PMPI_Comm_compare(a: MPI_Comm, b: MPI_Comm, result: *mut c_int) {
        let (x, y) = (get(a)?, get(b)?);
        let r = if a == b {
            MPI_IDENT
        } else {
            let (mx, my) = (members(&x), members(&y));
            if mx == my {
                MPI_CONGRUENT
            } else {
                let (mut sx, mut sy) = (mx, my);
                sx.sort_unstable();
                sy.sort_unstable();
                if sx == sy { MPI_SIMILAR } else { MPI_UNEQUAL }
            }
        };
        out(result, r, "result")
    }

    fn MPI_Comm_group / PMPI_Comm_group(comm: MPI_Comm, g: *mut MPI_Group) {
        let c = get(comm)?;
        out(g, group::register(members(&c)), "group")
    }

    fn MPI_Comm_create / PMPI_Comm_create(comm: MPI_Comm, g: MPI_Group, newcomm: *mut MPI_Comm) {
        let c = get(comm)?;
        let m = group::get(g).map_err(|f| f.on(comm))?;
        let me = c.comm.group().world_rank(c.comm.rank());
        for w in m.iter() {
            if !c.comm.group().contains(*w) {
                return Err(Fail::new(MPI_ERR_GROUP, format!(
                    "group holds process {w}, which is not in the communicator")).on(comm));
            }
        }
        let (color, key) = match m.iter().position(|&w| w == me) {
            Some(p) => (0, p as c_int),
            None => (-1, 0),
        };
        let s = c.comm.split(color, key).map_err(|e| Fail::from(e).on(comm))?;
        out(newcomm, new_or_null(s, &c), "newcomm")
    }

    fn MPI_Comm_create_group / PMPI_Comm_create_group(comm: MPI_Comm, g: MPI_Group, tag: c_int, newcomm: *mut MPI_Comm) {
        let c = get(comm)?;
        let m = group::get(g).map_err(|f| f.on(comm))?;
        let me = c.comm.group().world_rank(c.comm.rank());
        if !m.contains(&me) {
            return out(newcomm, MPI_COMM_NULL, "newcomm");
        }
        let ranks = m.iter().map(|&w| c.comm.group().comm_rank(w).ok_or_else(|| Fail::new(MPI_ERR_GROUP,
            format!("group holds process {w}, which is not in the communicator")).on(comm)))
            .collect::<R<Vec<u32>>>()?;
        let n = c.comm.create_group(&ranks, tag).map_err(|e| Fail::from(e).on(comm))?;
        out(newcomm, register(n, &c), "newcomm")
    }

    fn MPI_Comm_set_errhandler / PMPI_Comm_set_errhandler(comm: MPI_Comm, eh: MPI_Errhandler) {
        set_errhandler(comm, eh)
    }

    fn MPI_Comm_get_errhandler / PMPI_Comm_get_errhandler(comm: MPI_Comm, eh: *mut MPI_Errhandler) {
        let c = get(comm)?;
        let h = *c.errhandler.lock();
        out(eh, h, "errhandler")
    }

    fn MPI_Errhandler_set / PMPI_Errhandler_set(comm: MPI_Comm, eh: MPI_Errhandler) {
        set_errhandler(comm, eh)
    }

    fn MPI_Comm_create_errhandler / PMPI_Comm_create_errhandler(f: Option<errors::UserHandler>, eh: *mut MPI_Errhandler) {
        let f = f.ok_or_else(|| Fail::new(MPI_ERR_ARG, "error handler function is NULL"))?;
        out(eh, errors::create_handler(f), "errhandler")
    }

    fn MPI_Errhandler_free / PMPI_Errhandler_free(eh: *mut MPI_Errhandler) {
        errors::free_handler(read(eh, "errhandler")?)?;
        out(eh, MPI_ERRHANDLER_NULL, "errhandler")
    }

    fn MPI_Comm_call_errhandler / PMPI_Comm_call_errhandler(comm: MPI_Comm, code: c_int) {
        get(comm)?;
        Err(Fail::new(code, "MPI_Comm_call_errhandler").on(comm))
    }

    fn MPI_Comm_set_name / PMPI_Comm_set_name(comm: MPI_Comm, name: *const c_char) {
        let c = get(comm)?;
        if name.is_null() {
            return fail(MPI_ERR_ARG, "name is NULL");
        }
        // SAFETY: non-NULL; MPI passes a NUL-terminated string.
        let s = unsafe { std::ffi::CStr::from_ptr(name) }.to_string_lossy().into_owned();
        *c.name.lock() = s;
        Ok(())
    }

    fn MPI_Comm_get_name / PMPI_Comm_get_name(comm: MPI_Comm, name: *mut c_char, len: *mut c_int) {
        let c = get(comm)?;
        let s = c.name.lock().clone();
        cname(name, &s)?;
        out(len, s.len().min(MPI_MAX_OBJECT_NAME - 1) as c_int, "resultlen")
    }

    fn MPI_Comm_get_attr / PMPI_Comm_get_attr(comm: MPI_Comm, key: c_int, value: *mut *const c_int, flag: *mut c_int) {
        get_attr(comm, key, value, flag)
    }

    fn MPI_Attr_get / PMPI_Attr_get(comm: MPI_Comm, key: c_int, value: *mut *const c_int, flag: *mut c_int) {
        get_attr(comm, key, value, flag)
    }

    fn MPI_Comm_test_inter / PMPI_Comm_test_inter(comm: MPI_Comm, flag: *mut c_int) {
        get(comm)?;
        out(flag, 0, "flag")
    }

    fn MPI_Comm_remote_size / PMPI_Comm_remote_size(comm: MPI_Comm, _size: *mut c_int) {
        get(comm)?;
        Err(Fail::new(MPI_ERR_COMM, "not an intercommunicator").on(comm))
    }
}

fn set_errhandler(comm: MPI_Comm, eh: MPI_Errhandler) -> R {
    let c = get(comm)?;
    errors::handler(eh).map_err(|f| f.on(comm))?;
    *c.errhandler.lock() = eh;
    Ok(())
}

/// A cached attribute, or one of the predefined attributes of every communicator.
fn get_attr(comm: MPI_Comm, key: c_int, value: *mut *const c_int, flag: *mut c_int) -> R {
    let c = get(comm)?;
    if let Some(v) = crate::attr::get(&c, key) {
        out(value, v as *const c_int, "attribute_val")?;
        return out(flag, 1, "flag");
    }
    let v: Option<*const c_int> = match key {
        MPI_TAG_UB => Some(&TAG_UB_VALUE),
        // no host process; every process can do I/O
        MPI_HOST => Some(&PROC_NULL_VALUE),
        MPI_IO => Some(&ANY_SOURCE_VALUE),
        MPI_WTIME_IS_GLOBAL | MPI_APPNUM => Some(&ZERO),
        MPI_UNIVERSE_SIZE => Some(UNIVERSE.as_ptr() as *const c_int),
        _ => None,
    };
    match v {
        Some(p) => {
            out(value, p, "attribute_val")?;
            out(flag, 1, "flag")
        }
        None => out(flag, 0, "flag"),
    }
}

/// Sets MPI_UNIVERSE_SIZE (the world size) at init.
pub fn set_universe(n: c_int) {
    UNIVERSE.store(n, std::sync::atomic::Ordering::Relaxed);
}
