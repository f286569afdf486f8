//! The exported datatype and op functions: constructors of derived types, their
//! sizes and bounds, and user reduction ops.

use crate::abi::*;
use crate::args::{array, out, read};
use crate::datatype::{self, compose, count, lookup_any, register, resized};
use crate::errors::{fail, Fail, R};
use crate::op;
use std::ffi::{c_int, c_void};

/// Names of the predefined datatypes (MPI_Type_get_name), and those the program set.
fn type_name(h: MPI_Datatype) -> String {
    const PREDEFINED: &[(MPI_Datatype, &str)] = &[
        (MPI_CHAR, "MPI_CHAR"),
        (MPI_SIGNED_CHAR, "MPI_SIGNED_CHAR"),
        (MPI_UNSIGNED_CHAR, "MPI_UNSIGNED_CHAR"),
        (MPI_BYTE, "MPI_BYTE"),
        (MPI_WCHAR, "MPI_WCHAR"),
        (MPI_SHORT, "MPI_SHORT"),
        (MPI_UNSIGNED_SHORT, "MPI_UNSIGNED_SHORT"),
        (MPI_INT, "MPI_INT"),
        (MPI_UNSIGNED, "MPI_UNSIGNED"),
        (MPI_LONG, "MPI_LONG"),
        (MPI_UNSIGNED_LONG, "MPI_UNSIGNED_LONG"),
        (MPI_FLOAT, "MPI_FLOAT"),
        (MPI_DOUBLE, "MPI_DOUBLE"),
        (MPI_LONG_DOUBLE, "MPI_LONG_DOUBLE"),
        (MPI_LONG_LONG_INT, "MPI_LONG_LONG_INT"),
        (MPI_UNSIGNED_LONG_LONG, "MPI_UNSIGNED_LONG_LONG"),
        (MPI_PACKED, "MPI_PACKED"),
        (MPI_LB, "MPI_LB"),
        (MPI_UB, "MPI_UB"),
        (MPI_FLOAT_INT, "MPI_FLOAT_INT"),
        (MPI_DOUBLE_INT, "MPI_DOUBLE_INT"),
        (MPI_LONG_INT, "MPI_LONG_INT"),
        (MPI_SHORT_INT, "MPI_SHORT_INT"),
        (MPI_2INT, "MPI_2INT"),
        (MPI_LONG_DOUBLE_INT, "MPI_LONG_DOUBLE_INT"),
        (MPI_COMPLEX, "MPI_COMPLEX"),
        (MPI_DOUBLE_COMPLEX, "MPI_DOUBLE_COMPLEX"),
        (MPI_LOGICAL, "MPI_LOGICAL"),
        (MPI_REAL, "MPI_REAL"),
        (MPI_DOUBLE_PRECISION, "MPI_DOUBLE_PRECISION"),
        (MPI_INTEGER, "MPI_INTEGER"),
        (MPI_2INTEGER, "MPI_2INTEGER"),
        (MPI_2REAL, "MPI_2REAL"),
        (MPI_2DOUBLE_PRECISION, "MPI_2DOUBLE_PRECISION"),
        (MPI_CHARACTER, "MPI_CHARACTER"),
        (MPI_REAL4, "MPI_REAL4"),
        (MPI_REAL8, "MPI_REAL8"),
        (MPI_REAL16, "MPI_REAL16"),
        (MPI_COMPLEX8, "MPI_COMPLEX8"),
        (MPI_COMPLEX16, "MPI_COMPLEX16"),
        (MPI_COMPLEX32, "MPI_COMPLEX32"),
        (MPI_INTEGER1, "MPI_INTEGER1"),
        (MPI_INTEGER2, "MPI_INTEGER2"),
        (MPI_INTEGER4, "MPI_INTEGER4"),
        (MPI_INTEGER8, "MPI_INTEGER8"),
        (MPI_INT8_T, "MPI_INT8_T"),
        (MPI_INT16_T, "MPI_INT16_T"),
        (MPI_INT32_T, "MPI_INT32_T"),
        (MPI_INT64_T, "MPI_INT64_T"),
        (MPI_UINT8_T, "MPI_UINT8_T"),
        (MPI_UINT16_T, "MPI_UINT16_T"),
        (MPI_UINT32_T, "MPI_UINT32_T"),
        (MPI_UINT64_T, "MPI_UINT64_T"),
        (MPI_C_BOOL, "MPI_C_BOOL"),
        (MPI_C_FLOAT_COMPLEX, "MPI_C_FLOAT_COMPLEX"),
        (MPI_C_DOUBLE_COMPLEX, "MPI_C_DOUBLE_COMPLEX"),
        (MPI_C_LONG_DOUBLE_COMPLEX, "MPI_C_LONG_DOUBLE_COMPLEX"),
        (MPIX_C_FLOAT16, "MPIX_C_FLOAT16"),
        (MPI_AINT, "MPI_AINT"),
        (MPI_OFFSET, "MPI_OFFSET"),
        (MPI_COUNT, "MPI_COUNT"),
        (MPI_CXX_BOOL, "MPI_CXX_BOOL"),
        (MPI_CXX_FLOAT_COMPLEX, "MPI_CXX_FLOAT_COMPLEX"),
        (MPI_CXX_DOUBLE_COMPLEX, "MPI_CXX_DOUBLE_COMPLEX"),
        (MPI_CXX_LONG_DOUBLE_COMPLEX, "MPI_CXX_LONG_DOUBLE_COMPLEX"),
    ];
    if let Some((_, n)) = PREDEFINED.iter().find(|(x, _)| *x == h) {
        return n.to_string();
    }
    TYPE_NAMES
        .lock()
        .as_ref()
        .and_then(|m| m.get(&h).cloned())
        .unwrap_or_default()
}

static TYPE_NAMES: parking_lot::Mutex<Option<std::collections::HashMap<MPI_Datatype, String>>> =
    parking_lot::Mutex::new(None);

fn cstring(p: *mut std::ffi::c_char, s: &str, len: *mut c_int) -> R {
    let b = s.as_bytes();
    let n = b.len().min(MPI_MAX_OBJECT_NAME - 1);
    let dst = crate::args::array_mut(p as *mut u8, n + 1, "type_name")?;
    dst[..n].copy_from_slice(&b[..n]);
    dst[n] = 0;
    out(len, n as c_int, "resultlen")
}

fn n(c: c_int) -> R<usize> {
    count(c)
}

fn new_type(t: R<datatype::Type>, newtype: *mut MPI_Datatype) -> R {
    out(newtype, register(t?), "newtype")
}

mpi! {
    fn MPI_Type_size / PMPI_Type_size(dt: MPI_Datatype, size: *mut c_int) {
        let t = lookup_any(dt)?;
        out(size, c_int::try_from(t.size).unwrap_or(MPI_UNDEFINED), "size")
    }

    fn MPI_Type_size_x / PMPI_Type_size_x(dt: MPI_Datatype, size: *mut MPI_Count) {
        out(size, lookup_any(dt)?.size as MPI_Count, "size")
    }

    fn MPI_Type_get_extent / PMPI_Type_get_extent(dt: MPI_Datatype, lb: *mut MPI_Aint, extent: *mut MPI_Aint) {
        let t = lookup_any(dt)?;
        out(lb, t.lb, "lb")?;
        out(extent, t.extent, "extent")
    }

    fn MPI_Type_get_true_extent / PMPI_Type_get_true_extent(dt: MPI_Datatype, lb: *mut MPI_Aint, extent: *mut MPI_Aint) {
        let t = lookup_any(dt)?;
        out(lb, t.true_lb, "true_lb")?;
        out(extent, t.true_extent, "true_extent")
    }

    fn MPI_Type_extent / PMPI_Type_extent(dt: MPI_Datatype, extent: *mut MPI_Aint) {
        out(extent, lookup_any(dt)?.extent, "extent")
    }

    fn MPI_Type_lb / PMPI_Type_lb(dt: MPI_Datatype, lb: *mut MPI_Aint) {
        out(lb, lookup_any(dt)?.lb, "lb")
    }

    fn MPI_Type_ub / PMPI_Type_ub(dt: MPI_Datatype, ub: *mut MPI_Aint) {
        let t = lookup_any(dt)?;
        out(ub, t.lb + t.extent, "ub")
    }

    fn MPI_Type_contiguous / PMPI_Type_contiguous(c: c_int, old: MPI_Datatype, newtype: *mut MPI_Datatype) {
        let t = lookup_any(old)?;
        new_type(compose(&[(0, n(c)?, t)]), newtype)
    }

    fn MPI_Type_vector / PMPI_Type_vector(c: c_int, blocklen: c_int, stride: c_int, old: MPI_Datatype, newtype: *mut MPI_Datatype) {
        let t = lookup_any(old)?;
        let (c, bl) = (n(c)?, n(blocklen)?);
        let pieces: Vec<_> = (0..c).map(|i| (i as isize * stride as isize * t.extent, bl, t.clone())).collect();
        new_type(compose(&pieces), newtype)
    }

    fn MPI_Type_create_hvector / PMPI_Type_create_hvector(c: c_int, blocklen: c_int, stride: MPI_Aint, old: MPI_Datatype, newtype: *mut MPI_Datatype) {
        let t = lookup_any(old)?;
        let (c, bl) = (n(c)?, n(blocklen)?);
        let pieces: Vec<_> = (0..c).map(|i| (i as isize * stride, bl, t.clone())).collect();
        new_type(compose(&pieces), newtype)
    }

    fn MPI_Type_indexed / PMPI_Type_indexed(c: c_int, blocklens: *const c_int, displs: *const c_int, old: MPI_Datatype, newtype: *mut MPI_Datatype) {
        let t = lookup_any(old)?;
        let c = n(c)?;
        let (b, d) = (array(blocklens, c, "blocklengths")?, array(displs, c, "displacements")?);
        let pieces = b.iter().zip(d).map(|(&b, &d)| Ok((d as isize * t.extent, n(b)?, t.clone()))).collect::<R<Vec<_>>>()?;
        new_type(compose(&pieces), newtype)
    }

    fn MPI_Type_create_hindexed / PMPI_Type_create_hindexed(c: c_int, blocklens: *const c_int, displs: *const MPI_Aint, old: MPI_Datatype, newtype: *mut MPI_Datatype) {
        let t = lookup_any(old)?;
        let c = n(c)?;
        let (b, d) = (array(blocklens, c, "blocklengths")?, array(displs, c, "displacements")?);
        let pieces = b.iter().zip(d).map(|(&b, &d)| Ok((d, n(b)?, t.clone()))).collect::<R<Vec<_>>>()?;
        new_type(compose(&pieces), newtype)
    }

    fn MPI_Type_create_indexed_block / PMPI_Type_create_indexed_block(c: c_int, blocklen: c_int, displs: *const c_int, old: MPI_Datatype, newtype: *mut MPI_Datatype) {
        let t = lookup_any(old)?;
        let (c, bl) = (n(c)?, n(blocklen)?);
        let d = array(displs, c, "displacements")?;
        let pieces: Vec<_> = d.iter().map(|&d| (d as isize * t.extent, bl, t.clone())).collect();
        new_type(compose(&pieces), newtype)
    }

    fn MPI_Type_create_struct / PMPI_Type_create_struct(c: c_int, blocklens: *const c_int, displs: *const MPI_Aint, types: *const MPI_Datatype, newtype: *mut MPI_Datatype) {
        let c = n(c)?;
        let (b, d, ts) = (array(blocklens, c, "blocklengths")?, array(displs, c, "displacements")?, array(types, c, "types")?);
        let pieces = b.iter().zip(d).zip(ts).map(|((&b, &d), &ty)| Ok((d, n(b)?, lookup_any(ty)?))).collect::<R<Vec<_>>>()?;
        new_type(compose(&pieces), newtype)
    }

    fn MPI_Type_create_resized / PMPI_Type_create_resized(old: MPI_Datatype, lb: MPI_Aint, extent: MPI_Aint, newtype: *mut MPI_Datatype) {
        let t = lookup_any(old)?;
        out(newtype, register(resized(&t, lb, extent)), "newtype")
    }

    fn MPI_Type_dup / PMPI_Type_dup(old: MPI_Datatype, newtype: *mut MPI_Datatype) {
        let t = lookup_any(old)?;
        let mut d = (*t).clone();
        d.predefined = false;
        out(newtype, register(d), "newtype")
    }

    fn MPI_Type_commit / PMPI_Type_commit(dt: *mut MPI_Datatype) {
        datatype::commit(read(dt, "datatype")?)
    }

    fn MPI_Type_free / PMPI_Type_free(dt: *mut MPI_Datatype) {
        datatype::free(read(dt, "datatype")?)?;
        out(dt, MPI_DATATYPE_NULL, "datatype")
    }

    fn MPI_Type_get_name / PMPI_Type_get_name(dt: MPI_Datatype, name: *mut std::ffi::c_char, len: *mut c_int) {
        lookup_any(dt)?;
        cstring(name, &type_name(dt), len)
    }

    fn MPI_Type_set_name / PMPI_Type_set_name(dt: MPI_Datatype, name: *const std::ffi::c_char) {
        lookup_any(dt)?;
        if name.is_null() {
            return fail(MPI_ERR_ARG, "name is NULL");
        }
        // SAFETY: non-NULL; MPI passes a NUL-terminated string.
        let s = unsafe { std::ffi::CStr::from_ptr(name) }.to_string_lossy().into_owned();
        TYPE_NAMES.lock().get_or_insert_with(Default::default).insert(dt, s);
        Ok(())
    }

    fn MPI_Get_address / PMPI_Get_address(loc: *const c_void, addr: *mut MPI_Aint) {
        out(addr, loc as MPI_Aint, "address")
    }

    fn MPI_Address / PMPI_Address(loc: *const c_void, addr: *mut MPI_Aint) {
        out(addr, loc as MPI_Aint, "address")
    }

    fn MPI_Op_create / PMPI_Op_create(f: Option<op::UserFunction>, commute: c_int, opv: *mut MPI_Op) {
        let f = f.ok_or_else(|| Fail::new(MPI_ERR_ARG, "user function is NULL"))?;
        out(opv, op::create(f, commute != 0), "op")
    }

    fn MPI_Op_free / PMPI_Op_free(opv: *mut MPI_Op) {
        op::free(read(opv, "op")?)?;
        out(opv, MPI_OP_NULL, "op")
    }

    fn MPI_Op_commutative / PMPI_Op_commutative(opv: MPI_Op, commute: *mut c_int) {
        out(commute, op::commutative(opv)? as c_int, "commute")
    }

    fn MPI_Reduce_local / PMPI_Reduce_local(inbuf: *const c_void, inout: *mut c_void, c: c_int, dt: MPI_Datatype, opv: MPI_Op) {
        op::reduce_local(inbuf, inout, n(c)?, dt, opv)
    }

    fn MPI_Pack_size / PMPI_Pack_size(c: c_int, dt: MPI_Datatype, comm: MPI_Comm, size: *mut c_int) {
        crate::comm::get(comm)?;
        let t = lookup_any(dt)?;
        let b = t.bytes(n(c)?)?;
        out(size, c_int::try_from(b).map_err(|_| Fail::new(MPI_ERR_COUNT, "too large"))?, "size")
    }

    fn MPI_Pack / PMPI_Pack(inbuf: *const c_void, c: c_int, dt: MPI_Datatype, outbuf: *mut c_void, outsize: c_int, pos: *mut c_int, comm: MPI_Comm) {
        crate::comm::get(comm)?;
        let t = datatype::lookup(dt)?;
        let c = n(c)?;
        let at = n(read(pos, "position")?)?;
        let len = t.bytes(c)?;
        if at + len > n(outsize)? {
            return fail(MPI_ERR_TRUNCATE, "the pack buffer is too small");
        }
        let dst = crate::args::array_mut(outbuf as *mut u8, at + len, "outbuf")?;
        t.pack(inbuf as *const u8, c, &mut dst[at..]);
        out(pos, (at + len) as c_int, "position")
    }

    fn MPI_Unpack / PMPI_Unpack(inbuf: *const c_void, insize: c_int, pos: *mut c_int, outbuf: *mut c_void, c: c_int, dt: MPI_Datatype, comm: MPI_Comm) {
        crate::comm::get(comm)?;
        let t = datatype::lookup(dt)?;
        let c = n(c)?;
        let at = n(read(pos, "position")?)?;
        let len = t.bytes(c)?;
        if at + len > n(insize)? {
            return fail(MPI_ERR_TRUNCATE, "the packed data is shorter than the count");
        }
        let src = array(inbuf as *const u8, at + len, "inbuf")?;
        t.unpack(&src[at..], outbuf as *mut u8);
        out(pos, (at + len) as c_int, "position")
    }
}

/// MPI_Aint_add / MPI_Aint_diff return an address, not an error code.
#[no_mangle]
pub unsafe extern "C" fn PMPI_Aint_add(base: MPI_Aint, disp: MPI_Aint) -> MPI_Aint {
    base.wrapping_add(disp)
}
#[no_mangle]
pub unsafe extern "C" fn MPI_Aint_add(base: MPI_Aint, disp: MPI_Aint) -> MPI_Aint {
    // SAFETY: plain arithmetic.
    unsafe { PMPI_Aint_add(base, disp) }
}
#[no_mangle]
pub unsafe extern "C" fn PMPI_Aint_diff(a: MPI_Aint, b: MPI_Aint) -> MPI_Aint {
    a.wrapping_sub(b)
}
#[no_mangle]
pub unsafe extern "C" fn MPI_Aint_diff(a: MPI_Aint, b: MPI_Aint) -> MPI_Aint {
    // SAFETY: plain arithmetic.
    unsafe { PMPI_Aint_diff(a, b) }
}
