//! Attribute caching on communicators (keyvals): libraries such as mpi4py keep
//! their per-communicator state there. Copy callbacks run at MPI_Comm_dup, delete
//! callbacks when an attribute is replaced or deleted, when its communicator is
//! freed, and at MPI_Finalize (MPI_COMM_SELF's first, as MPI says).

use crate::abi::*;
use crate::args::{out, read};
use crate::comm::{self, CommObj};
use crate::errors::{Fail, R};
use crate::handles::Table;
use std::ffi::{c_int, c_void};

/// `MPI_Comm_copy_attr_function`.
pub type CopyFn = unsafe extern "C" fn(
    MPI_Comm,
    c_int,
    *mut c_void,
    *mut c_void,
    *mut c_void,
    *mut c_int,
) -> c_int;
/// `MPI_Comm_delete_attr_function`.
pub type DeleteFn = unsafe extern "C" fn(MPI_Comm, c_int, *mut c_void, *mut c_void) -> c_int;

/// A keyval: its callbacks (NULL: MPI_COMM_NULL_COPY_FN / _DELETE_FN) and state.
pub struct Keyval {
    copy: Option<CopyFn>,
    delete: Option<DeleteFn>,
    extra: usize,
}

static KEYVALS: Table<Keyval> = Table::new(0xa400_0000);

fn keyval(k: c_int) -> R<std::sync::Arc<Keyval>> {
    KEYVALS
        .get(k)
        .ok_or_else(|| Fail::new(MPI_ERR_KEYVAL, format!("invalid keyval {k:#x}")))
}

fn run_delete(h: MPI_Comm, k: c_int, value: usize) -> R {
    if let Some(kv) = KEYVALS.get(k) {
        if let Some(d) = kv.delete {
            // SAFETY: the program registered `d` as this keyval's delete callback.
            let rc = unsafe { d(h, k, value as *mut c_void, kv.extra as *mut c_void) };
            if rc != MPI_SUCCESS {
                return Err(Fail::new(rc, "an attribute delete callback failed").on(h));
            }
        }
    }
    Ok(())
}

/// Copies `from`'s attributes to its duplicate `to` through their copy callbacks.
pub fn copy_all(from_h: MPI_Comm, from: &CommObj, to: &CommObj) -> R {
    let attrs = from.attrs.lock().clone();
    let mut copied = Vec::new();
    for (k, v) in attrs {
        let Some(kv) = KEYVALS.get(k) else { continue };
        let Some(c) = kv.copy else { continue };
        let mut outv: *mut c_void = std::ptr::null_mut();
        let mut flag: c_int = 0;
        // SAFETY: the program registered `c` as this keyval's copy callback; the
        // out pointers are ours.
        let rc = unsafe {
            c(
                from_h,
                k,
                kv.extra as *mut c_void,
                v as *mut c_void,
                &mut outv as *mut *mut c_void as *mut c_void,
                &mut flag,
            )
        };
        if rc != MPI_SUCCESS {
            return Err(Fail::new(rc, "an attribute copy callback failed").on(from_h));
        }
        if flag != 0 {
            copied.push((k, outv as usize));
        }
    }
    *to.attrs.lock() = copied;
    Ok(())
}

/// Deletes every attribute of a communicator (at free and finalize).
pub fn delete_all(h: MPI_Comm, c: &CommObj) -> R {
    let attrs = std::mem::take(&mut *c.attrs.lock());
    let mut first = Ok(());
    for (k, v) in attrs.into_iter().rev() {
        let r = run_delete(h, k, v);
        if first.is_ok() {
            first = r;
        }
    }
    first
}

fn create(copy: Option<CopyFn>, delete: Option<DeleteFn>, k: *mut c_int, extra: *mut c_void) -> R {
    out(
        k,
        KEYVALS.insert(Keyval {
            copy,
            delete,
            extra: extra as usize,
        }),
        "keyval",
    )
}

fn free_keyval(k: *mut c_int) -> R {
    let kv = read(k, "keyval")?;
    // Attributes that still use it keep working: their callbacks are looked up,
    // and a freed keyval's are simply not run, which MPI leaves to the program.
    KEYVALS
        .remove(kv)
        .ok_or_else(|| Fail::new(MPI_ERR_KEYVAL, format!("invalid keyval {kv:#x}")))?;
    out(k, MPI_KEYVAL_INVALID, "keyval")
}

fn set(h: MPI_Comm, k: c_int, value: *mut c_void) -> R {
    let c = comm::get(h)?;
    keyval(k).map_err(|f| f.on(h))?;
    let old = {
        let mut a = c.attrs.lock();
        match a.iter_mut().find(|(key, _)| *key == k) {
            Some(slot) => Some(std::mem::replace(&mut slot.1, value as usize)),
            None => {
                a.push((k, value as usize));
                None
            }
        }
    };
    match old {
        Some(v) => run_delete(h, k, v),
        None => Ok(()),
    }
}

fn delete(h: MPI_Comm, k: c_int) -> R {
    let c = comm::get(h)?;
    let v = {
        let mut a = c.attrs.lock();
        let i = a.iter().position(|(key, _)| *key == k).ok_or_else(|| {
            Fail::new(MPI_ERR_KEYVAL, format!("no attribute for keyval {k:#x}")).on(h)
        })?;
        a.remove(i).1
    };
    run_delete(h, k, v)
}

/// A user attribute's value, if set.
pub fn get(c: &CommObj, k: c_int) -> Option<usize> {
    c.attrs
        .lock()
        .iter()
        .find(|(key, _)| *key == k)
        .map(|(_, v)| *v)
}

const MPI_KEYVAL_INVALID: c_int = 0x24000000;

mpi! {
    fn MPI_Comm_create_keyval / PMPI_Comm_create_keyval(copy: Option<CopyFn>, del: Option<DeleteFn>, k: *mut c_int, extra: *mut c_void) {
        create(copy, del, k, extra)
    }

    fn MPI_Keyval_create / PMPI_Keyval_create(copy: Option<CopyFn>, del: Option<DeleteFn>, k: *mut c_int, extra: *mut c_void) {
        create(copy, del, k, extra)
    }

    fn MPI_Comm_free_keyval / PMPI_Comm_free_keyval(k: *mut c_int) {
        free_keyval(k)
    }

    fn MPI_Keyval_free / PMPI_Keyval_free(k: *mut c_int) {
        free_keyval(k)
    }

    fn MPI_Comm_set_attr / PMPI_Comm_set_attr(comm: MPI_Comm, k: c_int, value: *mut c_void) {
        set(comm, k, value)
    }

    fn MPI_Attr_put / PMPI_Attr_put(comm: MPI_Comm, k: c_int, value: *mut c_void) {
        set(comm, k, value)
    }

    fn MPI_Comm_delete_attr / PMPI_Comm_delete_attr(comm: MPI_Comm, k: c_int) {
        delete(comm, k)
    }

    fn MPI_Attr_delete / PMPI_Attr_delete(comm: MPI_Comm, k: c_int) {
        delete(comm, k)
    }
}
