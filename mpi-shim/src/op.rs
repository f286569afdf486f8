//! Reductions on MPI types: which FMI op and element type a (MPI op, MPI type)
//! pair becomes. Where FMI has the kernel (integers, float, double, and sums of
//! complex numbers, which add part by part) the collective uses FMI's vectorised
//! built-ins; the rest (MINLOC/MAXLOC, complex products, long double, user
//! functions) become FMI user ops over the packed bytes.

use crate::abi::*;
use crate::datatype::{self, Base, PairKind, Type};
use crate::errors::{fail, Fail, R};
use crate::handles::Table;
use fmi::datatype::Datatype as Dt;
use fmi::op::{Builtin, Op};
use std::ffi::{c_int, c_void};
use std::sync::Arc;

/// `MPI_User_function`.
pub type UserFunction =
    unsafe extern "C" fn(*mut c_void, *mut c_void, *mut c_int, *mut MPI_Datatype);

/// A user op of MPI_Op_create.
pub struct UserOp {
    pub f: UserFunction,
    pub commute: bool,
}

static USER_OPS: Table<UserOp> = Table::new(0x9800_0000);

pub fn create(f: UserFunction, commute: bool) -> MPI_Op {
    USER_OPS.insert(UserOp { f, commute })
}

pub fn free(h: MPI_Op) -> R {
    if (MPI_MAX..=MPI_NO_OP).contains(&h) {
        return fail(MPI_ERR_OP, "a predefined op cannot be freed");
    }
    USER_OPS
        .remove(h)
        .map(|_| ())
        .ok_or_else(|| Fail::new(MPI_ERR_OP, format!("invalid op {h:#x}")))
}

pub fn commutative(h: MPI_Op) -> R<bool> {
    if (MPI_MAX..=MPI_NO_OP).contains(&h) {
        return Ok(true);
    }
    USER_OPS
        .get(h)
        .map(|u| u.commute)
        .ok_or_else(|| Fail::new(MPI_ERR_OP, format!("invalid op {h:#x}")))
}

/// What a collective runs: FMI's element type and op over the packed data.
pub struct Reduction {
    pub dt: Dt,
    pub op: Op,
}

extern "C" {
    fn fmi_mpi_ld_reduce(op: c_int, a: *const u8, b: *mut u8, n: usize) -> c_int;
    fn fmi_mpi_ldc_reduce(op: c_int, a: *const u8, b: *mut u8, n: usize) -> c_int;
    fn fmi_mpi_ldi_reduce(op: c_int, a: *const u8, b: *mut u8, n: usize) -> c_int;
}

fn builtin(op: MPI_Op) -> Option<Builtin> {
    Some(match op {
        MPI_SUM => Builtin::Sum,
        MPI_PROD => Builtin::Prod,
        MPI_MIN => Builtin::Min,
        MPI_MAX => Builtin::Max,
        MPI_LAND => Builtin::Land,
        MPI_LOR => Builtin::Lor,
        MPI_LXOR => Builtin::Lxor,
        MPI_BAND => Builtin::Band,
        MPI_BOR => Builtin::Bor,
        MPI_BXOR => Builtin::Bxor,
        _ => return None,
    })
}

fn is_int(b: Base) -> bool {
    use Base::*;
    matches!(b, I8 | U8 | I16 | U16 | I32 | U32 | I64 | U64)
}

/// Whether MPI defines `op` on elements of `b` (MPI-4 section 6.9.2).
fn defined(op: MPI_Op, b: Base) -> bool {
    use Base::*;
    let float = matches!(b, F32 | F64 | F80);
    let complex = matches!(b, C32 | C64 | C80);
    match op {
        MPI_MIN | MPI_MAX => is_int(b) || float,
        MPI_SUM | MPI_PROD => is_int(b) || float || complex,
        MPI_LAND | MPI_LOR | MPI_LXOR => is_int(b) || matches!(b, Bool1 | Bool4),
        MPI_BAND | MPI_BOR | MPI_BXOR => is_int(b) || b == Byte,
        MPI_MINLOC | MPI_MAXLOC => matches!(b, Pair(_)),
        _ => false,
    }
}

fn fmi_type(b: Base) -> Option<Dt> {
    use Base::*;
    Some(match b {
        I8 => Dt::Int8,
        U8 | Bool1 | Byte => Dt::Uint8,
        I16 => Dt::Int16,
        U16 => Dt::Uint16,
        I32 => Dt::Int32,
        U32 | Bool4 => Dt::Uint32,
        I64 => Dt::Int64,
        U64 => Dt::Uint64,
        F32 | C32 => Dt::Float,
        F64 | C64 => Dt::Double,
        _ => return None,
    })
}

/// The reduction for `op` on elements of type `dt` (handle) / `t`.
pub fn reduction(op: MPI_Op, dt: MPI_Datatype, t: &Arc<Type>) -> R<Reduction> {
    if !(MPI_MAX..=MPI_NO_OP).contains(&op) {
        let u = USER_OPS
            .get(op)
            .ok_or_else(|| Fail::new(MPI_ERR_OP, format!("invalid op {op:#x}")))?;
        return Ok(user(u, dt, t.clone()));
    }
    let Some((base, _)) = t.base else {
        return fail(
            MPI_ERR_OP,
            format!("predefined op {op:#x} on datatype {dt:#x}, which mixes element types"),
        );
    };
    if !defined(op, base) {
        return fail(
            MPI_ERR_OP,
            format!("op {op:#x} is not defined for datatype {dt:#x} ({base:?} elements)"),
        );
    }
    let complex_prod = op == MPI_PROD && matches!(base, Base::C32 | Base::C64);
    if let (Some(b), Some(d), false) = (builtin(op), fmi_type(base), complex_prod) {
        return Ok(Reduction {
            dt: d,
            op: Op::Builtin(b),
        });
    }
    let f: Box<Combine> = match base {
        Base::C32 => Box::new(complex_prod32),
        Base::C64 => Box::new(complex_prod64),
        Base::F80 => Box::new(move |a, b| {
            // SAFETY: both slices hold b.len() / 16 long doubles.
            unsafe { fmi_mpi_ld_reduce(op, a.as_ptr(), b.as_mut_ptr(), b.len() / 16) };
        }),
        Base::C80 => Box::new(move |a, b| {
            // SAFETY: both slices hold b.len() / 32 long double complex values.
            unsafe { fmi_mpi_ldc_reduce(op, a.as_ptr(), b.as_mut_ptr(), b.len() / 32) };
        }),
        Base::Pair(PairKind::LongDoubleInt) => Box::new(move |a, b| {
            // SAFETY: both slices hold b.len() / 20 packed {long double; int} pairs.
            unsafe { fmi_mpi_ldi_reduce(op, a.as_ptr(), b.as_mut_ptr(), b.len() / 20) };
        }),
        Base::Pair(k) => {
            let min = op == MPI_MINLOC;
            Box::new(move |a, b| loc(k, min, a, b))
        }
        _ => return fail(MPI_ERR_OP, format!("op {op:#x} on datatype {dt:#x}")),
    };
    Ok(Reduction {
        dt: Dt::Byte,
        op: Op::user(true, true, move |a, b, _, _| f(a, b)),
    })
}

/// `b = a (op) b` over packed elements.
type Combine = dyn Fn(&[u8], &mut [u8]) + Send + Sync;

fn complex_prod32(a: &[u8], b: &mut [u8]) {
    for (x, y) in a.chunks_exact(8).zip(b.chunks_exact_mut(8)) {
        let f = |s: &[u8], i: usize| f32::from_ne_bytes([s[i], s[i + 1], s[i + 2], s[i + 3]]);
        let (ar, ai, br, bi) = (f(x, 0), f(x, 4), f(y, 0), f(y, 4));
        y[..4].copy_from_slice(&(ar * br - ai * bi).to_ne_bytes());
        y[4..].copy_from_slice(&(ar * bi + ai * br).to_ne_bytes());
    }
}

fn complex_prod64(a: &[u8], b: &mut [u8]) {
    for (x, y) in a.chunks_exact(16).zip(b.chunks_exact_mut(16)) {
        let f = |s: &[u8], i: usize| {
            let mut w = [0u8; 8];
            w.copy_from_slice(&s[i..i + 8]);
            f64::from_ne_bytes(w)
        };
        let (ar, ai, br, bi) = (f(x, 0), f(x, 8), f(y, 0), f(y, 8));
        y[..8].copy_from_slice(&(ar * br - ai * bi).to_ne_bytes());
        y[8..].copy_from_slice(&(ar * bi + ai * br).to_ne_bytes());
    }
}

/// MINLOC / MAXLOC on packed pairs: the smaller (larger) value wins; on a tie the
/// smaller index.
fn loc(k: PairKind, min: bool, a: &[u8], b: &mut [u8]) {
    let vs = k.value_size();
    let n = k.packed_size();
    let val = |s: &[u8]| -> f64 {
        match k {
            PairKind::FloatInt => f32::from_ne_bytes([s[0], s[1], s[2], s[3]]) as f64,
            PairKind::DoubleInt => {
                let mut w = [0u8; 8];
                w.copy_from_slice(&s[..8]);
                f64::from_ne_bytes(w)
            }
            PairKind::ShortInt => i16::from_ne_bytes([s[0], s[1]]) as f64,
            PairKind::TwoInt => i32::from_ne_bytes([s[0], s[1], s[2], s[3]]) as f64,
            // compared exactly below, not as f64
            PairKind::LongInt | PairKind::LongDoubleInt => 0.0,
        }
    };
    let long = |s: &[u8]| -> i64 {
        let mut w = [0u8; 8];
        w.copy_from_slice(&s[..8]);
        i64::from_ne_bytes(w)
    };
    let idx = |s: &[u8]| i32::from_ne_bytes([s[vs], s[vs + 1], s[vs + 2], s[vs + 3]]);
    for (x, y) in a.chunks_exact(n).zip(b.chunks_exact_mut(n)) {
        let ord = if k == PairKind::LongInt {
            long(x).cmp(&long(y))
        } else {
            val(x)
                .partial_cmp(&val(y))
                .unwrap_or(std::cmp::Ordering::Equal)
        };
        let take_x = match ord {
            std::cmp::Ordering::Less => min,
            std::cmp::Ordering::Greater => !min,
            std::cmp::Ordering::Equal => idx(x) < idx(y),
        };
        if take_x {
            y.copy_from_slice(x);
        }
    }
}

/// A user function as an FMI op. FMI hands it packed elements; a type with holes
/// gets them laid out as the program sees them, as MPI promises.
fn user(u: Arc<UserOp>, dt: MPI_Datatype, t: Arc<Type>) -> Reduction {
    let commute = u.commute;
    let f = move |a: &[u8], b: &mut [u8], _: usize, _: Dt| {
        let count = b.len().checked_div(t.size).unwrap_or(0);
        let mut len = count as c_int;
        let mut d = dt;
        match t.dense() {
            Some(off) => {
                let ap = a.as_ptr().wrapping_offset(-off) as *mut c_void;
                let bp = b.as_mut_ptr().wrapping_offset(-off) as *mut c_void;
                // SAFETY: `a` and `b` hold `count` dense elements that start at the
                // type's offset from these pointers, which is what the function reads.
                unsafe { (u.f)(ap, bp, &mut len, &mut d) };
            }
            None => {
                let span = (t.extent.max(0) as usize) * count + t.true_extent.max(0) as usize;
                let mut la = vec![0u8; span];
                let mut lb = vec![0u8; span];
                let shift = -t.true_lb.min(0);
                // SAFETY: la/lb span the `count` elements' blocks from `shift`.
                unsafe {
                    let (pa, pb) = (la.as_mut_ptr().offset(shift), lb.as_mut_ptr().offset(shift));
                    t.unpack(a, pa);
                    t.unpack(b, pb);
                    (u.f)(pa as *mut c_void, pb as *mut c_void, &mut len, &mut d);
                    t.pack(pb, count, b);
                }
            }
        }
    };
    Reduction {
        dt: Dt::Byte,
        op: Op::user(commute, true, f),
    }
}

/// Applies `op` to local data (MPI_Reduce_local): `inout = in (op) inout`.
///
/// # Safety
/// Both buffers must hold `count` elements of `dt`.
pub unsafe fn reduce_local(
    inbuf: *const c_void,
    inout: *mut c_void,
    count: usize,
    dt: MPI_Datatype,
    op: MPI_Op,
) -> R {
    let t = datatype::lookup(dt)?;
    let r = reduction(op, dt, &t)?;
    let n = t.bytes(count)?;
    let mut a = vec![0u8; n];
    let mut b = vec![0u8; n];
    // SAFETY: the caller guarantees both buffers hold `count` elements.
    unsafe {
        t.pack(inbuf as *const u8, count, &mut a);
        t.pack(inout as *const u8, count, &mut b);
    }
    r.op.apply(r.dt, &a, &mut b);
    // SAFETY: as above.
    unsafe { t.unpack(&b, inout as *mut u8) };
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(v: &[(f64, i32)]) -> Vec<u8> {
        v.iter()
            .flat_map(|(x, i)| x.to_ne_bytes().into_iter().chain(i.to_ne_bytes()))
            .collect()
    }

    #[test]
    fn minloc_takes_the_smaller_value_then_the_smaller_index() {
        let t = datatype::lookup(MPI_DOUBLE_INT).unwrap();
        let r = reduction(MPI_MINLOC, MPI_DOUBLE_INT, &t).unwrap();
        let a = pairs(&[(1.0, 3), (2.0, 0), (5.0, 9)]);
        let mut b = pairs(&[(1.0, 1), (1.5, 4), (7.0, 2)]);
        r.op.apply(r.dt, &a, &mut b);
        assert_eq!(b, pairs(&[(1.0, 1), (1.5, 4), (5.0, 9)]));
    }

    #[test]
    fn complex_product_and_undefined_ops() {
        let t = datatype::lookup(MPI_C_DOUBLE_COMPLEX).unwrap();
        let r = reduction(MPI_PROD, MPI_C_DOUBLE_COMPLEX, &t).unwrap();
        let c = |re: f64, im: f64| [re.to_ne_bytes(), im.to_ne_bytes()].concat();
        let mut b = c(3.0, 4.0);
        r.op.apply(r.dt, &c(1.0, 2.0), &mut b); // (1+2i)(3+4i) = -5+10i
        assert_eq!(b, c(-5.0, 10.0));
        assert!(reduction(MPI_MAX, MPI_C_DOUBLE_COMPLEX, &t).is_err());
        let f = datatype::lookup(MPI_FLOAT).unwrap();
        assert_eq!(
            reduction(MPI_BAND, MPI_FLOAT, &f).err().map(|e| e.class),
            Some(MPI_ERR_OP)
        );
    }

    #[test]
    fn long_double_sum_goes_through_the_c_helper() {
        let t = datatype::lookup(MPI_LONG_DOUBLE).unwrap();
        let r = reduction(MPI_SUM, MPI_LONG_DOUBLE, &t).unwrap();
        // 80-bit 1.0 and 2.0, stored in 16 bytes (x86-64 long double)
        let ld = |mant: u64, exp: u16| {
            let mut v = vec![0u8; 16];
            v[..8].copy_from_slice(&mant.to_le_bytes());
            v[8..10].copy_from_slice(&exp.to_le_bytes());
            v
        };
        let one = ld(1 << 63, 0x3fff);
        let mut two = ld(1 << 63, 0x4000);
        r.op.apply(r.dt, &one, &mut two);
        assert_eq!(&two[..10], &ld(3 << 62, 0x4000)[..10]); // 3.0
    }
}
