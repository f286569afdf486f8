//! Reduction operations: the built-in ones per datatype, and user ops with the
//! commutative/associative flags that choose a collective's algorithm.
//!
//! An op combines two vectors elementwise, `right = left (op) right`, where `left`
//! holds the contributions of lower ranks. Collectives always pass the lower ranks'
//! data as `left`, so a non-commutative op sees its operands in rank order, and two
//! ranks that compute the same combination get the same bits.
//!
//! Built-in kernels work on byte slices (buffers from C or from the wire need not be
//! aligned for their type) in fixed blocks of elements loaded into arrays, one loop
//! per (type, op) pair with no per-element branching, which the compiler vectorises.
//!
//! User functions are always called on whole vectors (never split into segments), so
//! an op may treat groups of elements as one value (a 2x2 matrix as 4 doubles).

use crate::datatype::Datatype;
use crate::error::{Error, Result};
use parking_lot::Mutex;
use std::collections::HashMap;
use std::sync::Arc;

/// The built-in operations, in the order of their C codes (`FMI_SUM` = 0 ...).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Builtin {
    Sum,
    Prod,
    Min,
    Max,
    Land,
    Lor,
    Lxor,
    Band,
    Bor,
    Bxor,
}

impl Builtin {
    pub const ALL: [Builtin; 10] = [
        Builtin::Sum,
        Builtin::Prod,
        Builtin::Min,
        Builtin::Max,
        Builtin::Land,
        Builtin::Lor,
        Builtin::Lxor,
        Builtin::Band,
        Builtin::Bor,
        Builtin::Bxor,
    ];

    pub fn from_code(code: i32) -> Option<Builtin> {
        usize::try_from(code)
            .ok()
            .and_then(|i| Self::ALL.get(i).copied())
    }

    pub fn is_bitwise(self) -> bool {
        matches!(self, Builtin::Band | Builtin::Bor | Builtin::Bxor)
    }
}

/// A user function: `inout[i] = in[i] (op) inout[i]` over `count` elements of `dt`
/// (the byte slices hold exactly `count` elements).
pub type UserFn = dyn Fn(&[u8], &mut [u8], usize, Datatype) + Send + Sync;

/// A user-defined operation.
pub struct UserOp {
    pub f: Box<UserFn>,
    pub commutative: bool,
    pub associative: bool,
}

/// A reduction operation.
#[derive(Clone)]
pub enum Op {
    Builtin(Builtin),
    User(Arc<UserOp>),
}

impl std::fmt::Debug for Op {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Op::Builtin(b) => write!(f, "{b:?}"),
            Op::User(u) => write!(
                f,
                "UserOp(commutative={}, associative={})",
                u.commutative, u.associative
            ),
        }
    }
}

impl Op {
    /// A user op from a Rust closure.
    pub fn user(
        commutative: bool,
        associative: bool,
        f: impl Fn(&[u8], &mut [u8], usize, Datatype) + Send + Sync + 'static,
    ) -> Op {
        Op::User(Arc::new(UserOp {
            f: Box::new(f),
            commutative,
            associative,
        }))
    }

    pub fn is_builtin(&self) -> bool {
        matches!(self, Op::Builtin(_))
    }

    /// Built-ins are treated as commutative and associative (floating-point sums
    /// too: the collectives fix the order of combination by rank structure, so the
    /// result is still reproducible).
    pub fn commutative(&self) -> bool {
        match self {
            Op::Builtin(_) => true,
            Op::User(u) => u.commutative,
        }
    }

    pub fn associative(&self) -> bool {
        match self {
            Op::Builtin(_) => true,
            Op::User(u) => u.associative,
        }
    }

    /// Whether the op may be applied to parts of a vector separately.
    pub fn elementwise(&self) -> bool {
        self.is_builtin()
    }

    /// Fails for combinations that make no sense (bitwise ops on floating point).
    pub fn check(&self, dt: Datatype) -> Result<()> {
        match self {
            Op::Builtin(b) if b.is_bitwise() && dt.is_float() => Err(Error::arg(format!(
                "bitwise op {b:?} is not defined for floating-point type {dt:?}"
            ))),
            _ => Ok(()),
        }
    }

    /// `right = left (op) right`.
    pub fn apply(&self, dt: Datatype, left: &[u8], right: &mut [u8]) {
        debug_assert_eq!(left.len(), right.len());
        match self {
            Op::Builtin(b) => builtin(*b, dt, left, right, false),
            Op::User(u) => (u.f)(left, right, right.len() / dt.size(), dt),
        }
    }

    /// `left = left (op) right`. `right` is scratch: a user op leaves garbage in it.
    pub fn apply_into_left(&self, dt: Datatype, left: &mut [u8], right: &mut [u8]) {
        debug_assert_eq!(left.len(), right.len());
        match self {
            Op::Builtin(b) => builtin(*b, dt, right, left, true),
            Op::User(u) => {
                (u.f)(left, right, right.len() / dt.size(), dt);
                left.copy_from_slice(right);
            }
        }
    }
}

/// One element type as raw bytes.
trait Elem: Copy + Default {
    const N: usize;
    fn load(b: &[u8]) -> Self;
    fn store(self, b: &mut [u8]);
}

macro_rules! elem {
    ($($t:ty),*) => {$(
        impl Elem for $t {
            const N: usize = std::mem::size_of::<$t>();
            #[inline(always)]
            fn load(b: &[u8]) -> Self {
                <$t>::from_ne_bytes(b.try_into().unwrap())
            }
            #[inline(always)]
            fn store(self, b: &mut [u8]) {
                b.copy_from_slice(&self.to_ne_bytes())
            }
        }
    )*};
}
elem!(u8, i8, u16, i16, u32, i32, u64, i64, f32, f64);

/// Elements per block: loads into an array, one tight loop, stores back.
const BLOCK: usize = 64;

/// `dst = f(src, dst)` elementwise, or `dst = f(dst, src)` when `swap`.
#[inline(always)]
fn zip<T: Elem>(src: &[u8], dst: &mut [u8], swap: bool, f: impl Fn(T, T) -> T + Copy) {
    let bs = BLOCK * T::N;
    let mut sc = src.chunks_exact(bs);
    let mut dc = dst.chunks_exact_mut(bs);
    for (s, d) in (&mut sc).zip(&mut dc) {
        let mut a = [T::default(); BLOCK];
        let mut b = [T::default(); BLOCK];
        for (x, c) in a.iter_mut().zip(s.chunks_exact(T::N)) {
            *x = T::load(c);
        }
        for (x, c) in b.iter_mut().zip(d.chunks_exact(T::N)) {
            *x = T::load(c);
        }
        if swap {
            for (x, y) in a.iter().zip(b.iter_mut()) {
                *y = f(*y, *x);
            }
        } else {
            for (x, y) in a.iter().zip(b.iter_mut()) {
                *y = f(*x, *y);
            }
        }
        for (x, c) in b.iter().zip(d.chunks_exact_mut(T::N)) {
            x.store(c);
        }
    }
    for (s, d) in sc
        .remainder()
        .chunks_exact(T::N)
        .zip(dc.into_remainder().chunks_exact_mut(T::N))
    {
        let (a, b) = (T::load(s), T::load(d));
        let r = if swap { f(b, a) } else { f(a, b) };
        r.store(d);
    }
}

macro_rules! int_kernel {
    ($t:ty, $op:expr, $src:expr, $dst:expr, $swap:expr) => {{
        let (s, d, w) = ($src, $dst, $swap);
        match $op {
            Builtin::Sum => zip::<$t>(s, d, w, |a, b| a.wrapping_add(b)),
            Builtin::Prod => zip::<$t>(s, d, w, |a, b| a.wrapping_mul(b)),
            Builtin::Min => zip::<$t>(s, d, w, |a, b| if b < a { b } else { a }),
            Builtin::Max => zip::<$t>(s, d, w, |a, b| if b > a { b } else { a }),
            Builtin::Land => zip::<$t>(s, d, w, |a, b| ((a != 0) & (b != 0)) as $t),
            Builtin::Lor => zip::<$t>(s, d, w, |a, b| ((a != 0) | (b != 0)) as $t),
            Builtin::Lxor => zip::<$t>(s, d, w, |a, b| ((a != 0) ^ (b != 0)) as $t),
            Builtin::Band => zip::<$t>(s, d, w, |a, b| a & b),
            Builtin::Bor => zip::<$t>(s, d, w, |a, b| a | b),
            Builtin::Bxor => zip::<$t>(s, d, w, |a, b| a ^ b),
        }
    }};
}

macro_rules! float_kernel {
    ($t:ty, $op:expr, $src:expr, $dst:expr, $swap:expr) => {{
        let (s, d, w) = ($src, $dst, $swap);
        let bool_of = |x: bool| if x { 1.0 as $t } else { 0.0 as $t };
        match $op {
            Builtin::Sum => zip::<$t>(s, d, w, |a, b| a + b),
            Builtin::Prod => zip::<$t>(s, d, w, |a, b| a * b),
            Builtin::Min => zip::<$t>(s, d, w, |a, b| if b < a { b } else { a }),
            Builtin::Max => zip::<$t>(s, d, w, |a, b| if b > a { b } else { a }),
            Builtin::Land => zip::<$t>(s, d, w, move |a, b| bool_of((a != 0.0) & (b != 0.0))),
            Builtin::Lor => zip::<$t>(s, d, w, move |a, b| bool_of((a != 0.0) | (b != 0.0))),
            Builtin::Lxor => zip::<$t>(s, d, w, move |a, b| bool_of((a != 0.0) ^ (b != 0.0))),
            // rejected by `Op::check` before any data moves
            Builtin::Band | Builtin::Bor | Builtin::Bxor => {
                panic!("bitwise op on a floating-point type")
            }
        }
    }};
}

/// `dst = src (op) dst`, or `dst = dst (op) src` when `swap`.
fn builtin(op: Builtin, dt: Datatype, src: &[u8], dst: &mut [u8], swap: bool) {
    match dt {
        Datatype::Byte | Datatype::Uint8 => int_kernel!(u8, op, src, dst, swap),
        Datatype::Char | Datatype::Int8 => int_kernel!(i8, op, src, dst, swap),
        Datatype::Int16 => int_kernel!(i16, op, src, dst, swap),
        Datatype::Uint16 => int_kernel!(u16, op, src, dst, swap),
        Datatype::Int32 => int_kernel!(i32, op, src, dst, swap),
        Datatype::Uint32 => int_kernel!(u32, op, src, dst, swap),
        Datatype::Int64 => int_kernel!(i64, op, src, dst, swap),
        Datatype::Uint64 => int_kernel!(u64, op, src, dst, swap),
        Datatype::Float => float_kernel!(f32, op, src, dst, swap),
        Datatype::Double => float_kernel!(f64, op, src, dst, swap),
    }
}

/// First handle given to a user op (the built-ins are 0..=9).
pub const FIRST_USER_HANDLE: i32 = 100;

struct Registry {
    next: i32,
    ops: HashMap<i32, Op>,
}

static REGISTRY: Mutex<Option<Registry>> = Mutex::new(None);

/// Registers a user op and returns its handle (100, 101, ...).
pub fn register(op: Op) -> Result<i32> {
    let mut g = REGISTRY.lock();
    let reg = g.get_or_insert_with(|| Registry {
        next: FIRST_USER_HANDLE,
        ops: HashMap::new(),
    });
    let h = reg.next;
    reg.next = reg
        .next
        .checked_add(1)
        .ok_or_else(|| Error::arg("too many user ops created"))?;
    reg.ops.insert(h, op);
    Ok(h)
}

/// The op behind a handle: a built-in code or a registered user op.
pub fn lookup(handle: i32) -> Result<Op> {
    if let Some(b) = Builtin::from_code(handle) {
        return Ok(Op::Builtin(b));
    }
    REGISTRY
        .lock()
        .as_ref()
        .and_then(|r| r.ops.get(&handle).cloned())
        .ok_or_else(|| Error::arg(format!("unknown op {handle} (freed, or never created)")))
}

/// Frees a user op handle. Collectives already running with it keep their copy.
pub fn free(handle: i32) -> Result<()> {
    if Builtin::from_code(handle).is_some() {
        return Err(Error::arg(format!(
            "op {handle} is built in and cannot be freed"
        )));
    }
    REGISTRY
        .lock()
        .as_mut()
        .and_then(|r| r.ops.remove(&handle))
        .map(|_| ())
        .ok_or_else(|| Error::arg(format!("unknown op {handle} (freed twice?)")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bytes<T: Elem>(v: &[T]) -> Vec<u8> {
        let mut out = vec![0u8; v.len() * T::N];
        for (x, c) in v.iter().zip(out.chunks_exact_mut(T::N)) {
            x.store(c);
        }
        out
    }

    fn vals<T: Elem>(b: &[u8]) -> Vec<T> {
        b.chunks_exact(T::N).map(T::load).collect()
    }

    #[test]
    fn sums_and_mins_across_block_boundary() {
        let n = BLOCK * 2 + 7;
        let a: Vec<i32> = (0..n as i32).collect();
        let b: Vec<i32> = (0..n as i32).map(|x| 1000 - 3 * x).collect();
        let mut d = bytes(&b);
        Op::Builtin(Builtin::Sum).apply(Datatype::Int32, &bytes(&a), &mut d);
        assert_eq!(
            vals::<i32>(&d),
            (0..n as i32).map(|x| 1000 - 2 * x).collect::<Vec<_>>()
        );
        let mut d = bytes(&b);
        Op::Builtin(Builtin::Min).apply(Datatype::Int32, &bytes(&a), &mut d);
        let want: Vec<i32> = a.iter().zip(&b).map(|(x, y)| *x.min(y)).collect();
        assert_eq!(vals::<i32>(&d), want);
    }

    #[test]
    fn logical_and_bitwise() {
        let a = bytes(&[0u16, 1, 2, 0xff00]);
        let mut d = bytes(&[0u16, 0, 3, 0x0ff0]);
        Op::Builtin(Builtin::Lxor).apply(Datatype::Uint16, &a, &mut d);
        assert_eq!(vals::<u16>(&d), vec![0, 1, 0, 0]);
        let mut d = bytes(&[0u16, 0, 3, 0x0ff0]);
        Op::Builtin(Builtin::Band).apply(Datatype::Uint16, &a, &mut d);
        assert_eq!(vals::<u16>(&d), vec![0, 0, 2, 0x0f00]);
        assert!(Op::Builtin(Builtin::Bor).check(Datatype::Double).is_err());
        assert!(Op::Builtin(Builtin::Land).check(Datatype::Double).is_ok());
    }

    #[test]
    fn operand_order() {
        // user op 3a + b is neither commutative nor associative
        let op = Op::user(false, false, |a, b, n, _| {
            let (a, mut bv) = (vals::<i64>(a), vals::<i64>(b));
            for i in 0..n {
                bv[i] += 3 * a[i];
            }
            b.copy_from_slice(&bytes(&bv));
        });
        let mut right = bytes(&[2i64]);
        op.apply(Datatype::Int64, &bytes(&[1i64]), &mut right);
        assert_eq!(vals::<i64>(&right), vec![5]); // 3*1 + 2
        let mut left = bytes(&[1i64]);
        op.apply_into_left(Datatype::Int64, &mut left, &mut bytes(&[2i64]));
        assert_eq!(vals::<i64>(&left), vec![5]);
    }

    #[test]
    fn registry() {
        let h = register(Op::user(true, true, |_, _, _, _| {})).unwrap();
        assert!(h >= FIRST_USER_HANDLE);
        assert!(lookup(h).is_ok());
        assert!(lookup(3).unwrap().is_builtin());
        free(h).unwrap();
        assert!(lookup(h).is_err());
        assert!(free(h).is_err());
        assert!(free(0).is_err());
    }
}
