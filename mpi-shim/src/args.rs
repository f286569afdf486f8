//! Argument checks and conversions shared by the entry points: output pointers,
//! input arrays, and data buffers seen through a datatype.

use crate::abi::*;
use crate::datatype::Type;
use crate::errors::{fail, Fail, R};
use std::ffi::{c_int, c_void};

/// Writes `v` through an output pointer, which must not be NULL.
pub fn out<T>(p: *mut T, v: T, what: &str) -> R {
    if p.is_null() {
        return fail(MPI_ERR_ARG, format!("{what} is NULL"));
    }
    // SAFETY: non-NULL, and the MPI contract makes it point to a writable T.
    unsafe { p.write(v) };
    Ok(())
}

/// Reads an input value through a pointer, which must not be NULL.
pub fn read<T: Copy>(p: *const T, what: &str) -> R<T> {
    if p.is_null() {
        return fail(MPI_ERR_ARG, format!("{what} is NULL"));
    }
    // SAFETY: non-NULL, and the MPI contract makes it point to a readable T.
    Ok(unsafe { p.read() })
}

/// An input array of `n` items, which must not be NULL unless `n` is 0.
pub fn array<'a, T>(p: *const T, n: usize, what: &str) -> R<&'a [T]> {
    if n == 0 {
        return Ok(&[]);
    }
    if p.is_null() {
        return fail(MPI_ERR_ARG, format!("{what} is NULL"));
    }
    // SAFETY: non-NULL, and the MPI contract makes it hold `n` items.
    Ok(unsafe { std::slice::from_raw_parts(p, n) })
}

/// An in/out array of `n` items.
pub fn array_mut<'a, T>(p: *mut T, n: usize, what: &str) -> R<&'a mut [T]> {
    if n == 0 {
        return Ok(&mut []);
    }
    if p.is_null() {
        return fail(MPI_ERR_ARG, format!("{what} is NULL"));
    }
    // SAFETY: non-NULL, and the MPI contract makes it hold `n` writable items.
    Ok(unsafe { std::slice::from_raw_parts_mut(p, n) })
}

/// Whether a buffer argument is `MPI_IN_PLACE`.
pub fn in_place(p: *const c_void) -> bool {
    p as usize == MPI_IN_PLACE
}

/// A non-negative int (displacements, counts in arrays).
pub fn nonneg(v: c_int, what: &str) -> R<usize> {
    usize::try_from(v).map_err(|_| Fail::new(MPI_ERR_ARG, format!("{what} {v} is negative")))
}

/// Data to send: the program's own bytes when the type is dense, else a packed copy.
pub enum Data<'a> {
    Borrowed(&'a [u8]),
    Packed(Vec<u8>),
}

impl Data<'_> {
    pub fn bytes(&self) -> &[u8] {
        match self {
            Data::Borrowed(b) => b,
            Data::Packed(v) => v,
        }
    }
}

fn check_buf(p: *const c_void, count: usize, t: &Type) -> R {
    // NULL is MPI_BOTTOM, meaningful with a derived type of absolute addresses.
    if p.is_null() && count > 0 && t.size > 0 && t.predefined {
        return fail(MPI_ERR_BUFFER, "buffer is NULL with a non-zero count");
    }
    Ok(())
}

/// `count` elements of `t` at `p`, as bytes to send.
///
/// # Safety
/// `p` must hold `count` elements of `t`, valid for `'a`.
pub unsafe fn data<'a>(p: *const c_void, count: usize, t: &Type) -> R<Data<'a>> {
    check_buf(p, count, t)?;
    let n = t.bytes(count)?;
    if n == 0 {
        return Ok(Data::Borrowed(&[]));
    }
    match t.dense() {
        // SAFETY: the caller guarantees the elements are readable for 'a.
        Some(off) => Ok(Data::Borrowed(unsafe {
            std::slice::from_raw_parts((p as *const u8).offset(off), n)
        })),
        None => {
            let mut v = vec![0u8; n];
            // SAFETY: as above.
            unsafe { t.pack(p as *const u8, count, &mut v) };
            Ok(Data::Packed(v))
        }
    }
}

/// A receive buffer: the program's memory when the type is dense, else a packed
/// scratch buffer that `finish` unpacks.
pub struct Sink {
    ptr: *mut u8,
    dense: bool,
    scratch: Vec<u8>,
    len: usize,
    t: std::sync::Arc<Type>,
}

// SAFETY: the pointer is the program's buffer, which MPI lets any thread of the
// process complete an operation into; the Sink never shares it.
unsafe impl Send for Sink {}

impl Sink {
    /// # Safety
    /// `p` must hold `count` elements of `t`, valid until `finish`.
    pub unsafe fn new(p: *mut c_void, count: usize, t: &std::sync::Arc<Type>) -> R<Sink> {
        check_buf(p, count, t)?;
        let len = t.bytes(count)?;
        Ok(match t.dense() {
            Some(off) => Sink {
                ptr: (p as *mut u8).wrapping_offset(off),
                dense: true,
                scratch: Vec::new(),
                len,
                t: t.clone(),
            },
            None => Sink {
                ptr: p as *mut u8,
                dense: false,
                scratch: vec![0u8; len],
                len,
                t: t.clone(),
            },
        })
    }

    pub fn len(&self) -> usize {
        self.len
    }

    /// Raw view for a non-blocking receive.
    pub fn raw(&mut self) -> fmi::channel::RawBuf {
        let p = if self.dense {
            self.ptr
        } else {
            self.scratch.as_mut_ptr()
        };
        // SAFETY: `p` holds `len` bytes (the program's buffer or our scratch, which
        // lives as long as self) until `finish`.
        unsafe { fmi::channel::RawBuf::new(p, self.len) }
    }

    pub fn bytes(&mut self) -> &mut [u8] {
        if self.len == 0 {
            return &mut [];
        }
        if self.dense {
            // SAFETY: as in `raw`.
            unsafe { std::slice::from_raw_parts_mut(self.ptr, self.len) }
        } else {
            &mut self.scratch
        }
    }

    /// Puts the first `n` received bytes where the program wants them.
    pub fn finish(self, n: usize) {
        if !self.dense && n > 0 {
            // SAFETY: the program's buffer holds the elements (see `new`).
            unsafe { self.t.unpack(&self.scratch[..n.min(self.len)], self.ptr) };
        }
    }
}
