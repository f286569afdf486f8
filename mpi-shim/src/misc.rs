//! Time, names, versions, error strings and memory.

use crate::abi::*;
use crate::args::out;
use crate::errors::{class_text, fail, last_message, Fail, R};
use std::ffi::{c_char, c_int, c_void};
use std::sync::OnceLock;
use std::time::Instant;

/// Copies `s` as a C string into `buf` (of `cap` bytes); writes its length.
fn cstr(buf: *mut c_char, cap: usize, s: &str, len: *mut c_int) -> R {
    if buf.is_null() {
        return fail(MPI_ERR_ARG, "string buffer is NULL");
    }
    let b = s.as_bytes();
    let n = b.len().min(cap - 1);
    // SAFETY: MPI makes the program pass a buffer of at least `cap` chars.
    unsafe {
        std::ptr::copy_nonoverlapping(b.as_ptr() as *const c_char, buf, n);
        *buf.add(n) = 0;
    }
    out(len, n as c_int, "resultlen")
}

fn epoch() -> Instant {
    static E: OnceLock<Instant> = OnceLock::new();
    *E.get_or_init(Instant::now)
}

/// MPI_Wtime: seconds on a monotonic clock (not synchronised across ranks:
/// MPI_WTIME_IS_GLOBAL is 0).
#[no_mangle]
pub unsafe extern "C" fn PMPI_Wtime() -> f64 {
    epoch().elapsed().as_secs_f64()
}
#[no_mangle]
pub unsafe extern "C" fn MPI_Wtime() -> f64 {
    // SAFETY: no arguments.
    unsafe { PMPI_Wtime() }
}
/// MPI_Wtick: the clock's resolution.
#[no_mangle]
pub unsafe extern "C" fn PMPI_Wtick() -> f64 {
    1e-9
}
#[no_mangle]
pub unsafe extern "C" fn MPI_Wtick() -> f64 {
    // SAFETY: no arguments.
    unsafe { PMPI_Wtick() }
}

/// MPI_Pcontrol is variadic in C; extra arguments are ignored (as MPI's own
/// definition without a profiler does), which the C calling convention allows.
#[no_mangle]
pub unsafe extern "C" fn PMPI_Pcontrol(_level: c_int) -> c_int {
    MPI_SUCCESS
}
#[no_mangle]
pub unsafe extern "C" fn MPI_Pcontrol(level: c_int) -> c_int {
    // SAFETY: forwards its argument.
    unsafe { PMPI_Pcontrol(level) }
}

mpi! {
    fn MPI_Get_processor_name / PMPI_Get_processor_name(name: *mut c_char, len: *mut c_int) {
        let host = match fmi::bootstrap::hostname() {
            h if h.is_empty() => "localhost".to_string(),
            h => h,
        };
        cstr(name, MPI_MAX_PROCESSOR_NAME, &host, len)
    }

    fn MPI_Get_version / PMPI_Get_version(version: *mut c_int, subversion: *mut c_int) {
        out(version, MPI_VERSION, "version")?;
        out(subversion, MPI_SUBVERSION, "subversion")
    }

    fn MPI_Get_library_version / PMPI_Get_library_version(v: *mut c_char, len: *mut c_int) {
        let s = format!(
            "FMI MPI shim {} (libfmi_mpi.so: MPICH 4.0 ABI over FMI direct TCP)",
            env!("CARGO_PKG_VERSION")
        );
        cstr(v, MPI_MAX_LIBRARY_VERSION_STRING, &s, len)
    }

    fn MPI_Error_string / PMPI_Error_string(code: c_int, s: *mut c_char, len: *mut c_int) {
        let text = match last_message(code) {
            Some(m) if code != MPI_SUCCESS => format!("{}: {m}", class_text(code)),
            _ => class_text(code).to_string(),
        };
        cstr(s, MPI_MAX_ERROR_STRING, &text, len)
    }

    fn MPI_Error_class / PMPI_Error_class(code: c_int, class: *mut c_int) {
        if !(0..=MPI_ERR_LASTCLASS).contains(&code) {
            return fail(MPI_ERR_ARG, format!("{code} is not an error code"));
        }
        out(class, code, "errorclass")
    }

    fn MPI_Alloc_mem / PMPI_Alloc_mem(size: MPI_Aint, _info: MPI_Info, base: *mut c_void) {
        let n = usize::try_from(size).map_err(|_| Fail::new(MPI_ERR_ARG, "size is negative"))?;
        // SAFETY: plain allocation; freed by MPI_Free_mem.
        let p = unsafe { libc::malloc(n.max(1)) };
        if p.is_null() {
            return fail(MPI_ERR_NO_MEM, format!("cannot allocate {n} bytes"));
        }
        // `base` is really a `void **` (MPI's C binding types it `void *`).
        out(base as *mut *mut c_void, p, "baseptr")
    }

    fn MPI_Free_mem / PMPI_Free_mem(base: *mut c_void) {
        // SAFETY: memory from MPI_Alloc_mem (malloc), or NULL.
        unsafe { libc::free(base) };
        Ok(())
    }
}

/// MPI-IO is not supported: no file handle ever exists, so the Fortran handle
/// conversions map everything to the null file.
#[no_mangle]
pub unsafe extern "C" fn PMPI_File_c2f(_file: *mut c_void) -> c_int {
    0
}
#[no_mangle]
pub unsafe extern "C" fn MPI_File_c2f(file: *mut c_void) -> c_int {
    // SAFETY: forwards its argument.
    unsafe { PMPI_File_c2f(file) }
}
#[no_mangle]
pub unsafe extern "C" fn PMPI_File_f2c(_file: c_int) -> *mut c_void {
    std::ptr::null_mut()
}
#[no_mangle]
pub unsafe extern "C" fn MPI_File_f2c(file: c_int) -> *mut c_void {
    // SAFETY: forwards its argument.
    unsafe { PMPI_File_f2c(file) }
}
