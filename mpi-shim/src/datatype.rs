//! Datatypes: the predefined ones of MPICH's ABI and derived ones (contiguous,
//! vector, indexed, struct, resized ...), flattened into the byte blocks of one
//! element. Data of a contiguous type is used in place; any other is packed into
//! a dense buffer before it moves and unpacked after, so the engine below only ever
//! sees bytes.

use crate::abi::*;
use crate::errors::{fail, Fail, R};
use crate::handles::Table;
use std::collections::HashMap;
use std::ffi::c_int;
use std::sync::{Arc, OnceLock};

/// The elementary type of a datatype's elements, which says how reductions treat
/// the bytes. Pairs are the MINLOC/MAXLOC types.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Base {
    I8,
    U8,
    I16,
    U16,
    I32,
    U32,
    I64,
    U64,
    F32,
    F64,
    /// x87 extended precision, stored in 16 bytes.
    F80,
    C32,
    C64,
    C80,
    /// C `_Bool` / Fortran `LOGICAL` (logical ops only).
    Bool1,
    Bool4,
    /// `MPI_BYTE` and `MPI_PACKED`: bitwise ops only.
    Byte,
    /// Value-and-index pairs: the value's base and where the index sits.
    Pair(PairKind),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[allow(clippy::enum_variant_names)] // MPI's names: MPI_FLOAT_INT ...
pub enum PairKind {
    FloatInt,
    DoubleInt,
    LongInt,
    ShortInt,
    TwoInt,
    LongDoubleInt,
}

impl Base {
    /// Bytes of one packed elementary item.
    pub fn size(self) -> usize {
        match self {
            Base::I8 | Base::U8 | Base::Bool1 | Base::Byte => 1,
            Base::I16 | Base::U16 => 2,
            Base::I32 | Base::U32 | Base::F32 | Base::Bool4 => 4,
            Base::I64 | Base::U64 | Base::F64 | Base::C32 => 8,
            Base::F80 | Base::C64 => 16,
            Base::C80 => 32,
            Base::Pair(p) => p.packed_size(),
        }
    }
}

impl PairKind {
    /// (value bytes, index offset in the packed pair) .
    pub fn value_size(self) -> usize {
        match self {
            PairKind::FloatInt | PairKind::TwoInt => 4,
            PairKind::DoubleInt | PairKind::LongInt => 8,
            PairKind::ShortInt => 2,
            PairKind::LongDoubleInt => 16,
        }
    }
    pub fn packed_size(self) -> usize {
        self.value_size() + 4
    }
}

/// A datatype: the blocks of one element (byte offset, length), in typemap order,
/// its bounds, and what reductions need to know.
#[derive(Debug, Clone)]
pub struct Type {
    /// Bytes of data in one element (MPI_Type_size).
    pub size: usize,
    pub lb: isize,
    pub extent: isize,
    pub true_lb: isize,
    pub true_extent: isize,
    pub blocks: Vec<(isize, usize)>,
    /// The elementary type if every item of the element is of one kind, and how
    /// many such items one element holds.
    pub base: Option<(Base, usize)>,
    pub committed: bool,
    pub predefined: bool,
}

impl Type {
    fn basic(size: usize, base: Base) -> Type {
        Type {
            size,
            lb: 0,
            extent: size as isize,
            true_lb: 0,
            true_extent: size as isize,
            blocks: vec![(0, size)],
            base: Some((base, 1)),
            committed: true,
            predefined: true,
        }
    }

    /// A pair type `{ value; int }` as C lays it out.
    fn pair(kind: PairKind, value_size: usize, int_off: usize, extent: usize) -> Type {
        let blocks = if int_off == value_size {
            vec![(0, value_size + 4)]
        } else {
            vec![(0, value_size), (int_off as isize, 4)]
        };
        Type {
            size: value_size + 4,
            lb: 0,
            extent: extent as isize,
            true_lb: 0,
            true_extent: (int_off + 4) as isize,
            blocks,
            base: Some((Base::Pair(kind), 1)),
            committed: true,
            predefined: true,
        }
    }

    /// `Some(offset)` when `count` elements are one dense run of bytes starting at
    /// `buf + offset`: then they need no packing.
    pub fn dense(&self) -> Option<isize> {
        match self.blocks.as_slice() {
            [(off, len)] if *len as isize == self.extent => Some(*off),
            [] => Some(0),
            _ => None,
        }
    }

    /// Bytes of `count` elements, checked.
    pub fn bytes(&self, count: usize) -> R<usize> {
        count
            .checked_mul(self.size)
            .ok_or_else(|| Fail::new(MPI_ERR_COUNT, format!("count {count} overflows")))
    }

    /// Copies `count` elements laid out at `buf` into the dense `out`.
    ///
    /// # Safety
    /// `buf` must hold `count` elements of this type.
    pub unsafe fn pack(&self, buf: *const u8, count: usize, out: &mut [u8]) {
        let mut at = 0;
        for i in 0..count {
            let base = (i as isize) * self.extent;
            for &(off, len) in &self.blocks {
                // SAFETY: the caller guarantees the element's blocks are readable.
                let src = unsafe { std::slice::from_raw_parts(buf.offset(base + off), len) };
                out[at..at + len].copy_from_slice(src);
                at += len;
            }
        }
    }

    /// Copies dense `data` out into elements laid out at `buf`; only whole and
    /// partial blocks that `data` covers are written.
    ///
    /// # Safety
    /// `buf` must hold enough elements of this type for `data`.
    pub unsafe fn unpack(&self, data: &[u8], buf: *mut u8) {
        let mut at = 0;
        let mut i: isize = 0;
        while at < data.len() {
            let base = i * self.extent;
            for &(off, len) in &self.blocks {
                let n = len.min(data.len() - at);
                if n == 0 {
                    return;
                }
                // SAFETY: the caller guarantees the element's blocks are writable.
                let dst = unsafe { std::slice::from_raw_parts_mut(buf.offset(base + off), n) };
                dst.copy_from_slice(&data[at..at + n]);
                at += n;
            }
            if self.blocks.is_empty() {
                return;
            }
            i += 1;
        }
    }

    /// Elementary items in `bytes` bytes of packed data (MPI_Get_elements).
    pub fn elements(&self, bytes: usize) -> Option<usize> {
        let (base, per) = self.base?;
        let whole = bytes.checked_div(self.size).unwrap_or(0);
        let rest = bytes.checked_rem(self.size).unwrap_or(0);
        if !rest.is_multiple_of(base.size()) {
            return None;
        }
        Some(whole * per + rest / base.size())
    }
}

static DERIVED: Table<Type> = Table::new(0xcc00_0000);

fn predefined() -> &'static HashMap<MPI_Datatype, Arc<Type>> {
    static P: OnceLock<HashMap<MPI_Datatype, Arc<Type>>> = OnceLock::new();
    P.get_or_init(|| {
        use Base::*;
        let basic: &[(MPI_Datatype, usize, Base)] = &[
            (MPI_CHAR, 1, I8),
            (MPI_SIGNED_CHAR, 1, I8),
            (MPI_UNSIGNED_CHAR, 1, U8),
            (MPI_BYTE, 1, Byte),
            (MPI_PACKED, 1, Byte),
            (MPI_WCHAR, 4, I32),
            (MPI_SHORT, 2, I16),
            (MPI_UNSIGNED_SHORT, 2, U16),
            (MPI_INT, 4, I32),
            (MPI_UNSIGNED, 4, U32),
            (MPI_LONG, 8, I64),
            (MPI_UNSIGNED_LONG, 8, U64),
            (MPI_LONG_LONG_INT, 8, I64),
            (MPI_UNSIGNED_LONG_LONG, 8, U64),
            (MPI_FLOAT, 4, F32),
            (MPI_DOUBLE, 8, F64),
            (MPI_LONG_DOUBLE, 16, F80),
            (MPI_INT8_T, 1, I8),
            (MPI_INT16_T, 2, I16),
            (MPI_INT32_T, 4, I32),
            (MPI_INT64_T, 8, I64),
            (MPI_UINT8_T, 1, U8),
            (MPI_UINT16_T, 2, U16),
            (MPI_UINT32_T, 4, U32),
            (MPI_UINT64_T, 8, U64),
            (MPI_C_BOOL, 1, Bool1),
            (MPI_CXX_BOOL, 1, Bool1),
            (MPI_C_FLOAT_COMPLEX, 8, C32),
            (MPI_C_DOUBLE_COMPLEX, 16, C64),
            (MPI_C_LONG_DOUBLE_COMPLEX, 32, C80),
            (MPI_CXX_FLOAT_COMPLEX, 8, C32),
            (MPI_CXX_DOUBLE_COMPLEX, 16, C64),
            (MPI_CXX_LONG_DOUBLE_COMPLEX, 32, C80),
            (MPI_AINT, 8, I64),
            (MPI_OFFSET, 8, I64),
            (MPI_COUNT, 8, I64),
            // Fortran types a C program may name
            (MPI_INTEGER, 4, I32),
            (MPI_REAL, 4, F32),
            (MPI_DOUBLE_PRECISION, 8, F64),
            (MPI_LOGICAL, 4, Bool4),
            (MPI_CHARACTER, 1, I8),
            (MPI_COMPLEX, 8, C32),
            (MPI_DOUBLE_COMPLEX, 16, C64),
            (MPI_REAL4, 4, F32),
            (MPI_REAL8, 8, F64),
            (MPI_REAL16, 16, F80),
            (MPI_COMPLEX8, 8, C32),
            (MPI_COMPLEX16, 16, C64),
            (MPI_COMPLEX32, 32, C80),
            (MPI_INTEGER1, 1, I8),
            (MPI_INTEGER2, 2, I16),
            (MPI_INTEGER4, 4, I32),
            (MPI_INTEGER8, 8, I64),
        ];
        let mut m: HashMap<MPI_Datatype, Arc<Type>> = basic
            .iter()
            .map(|&(h, size, b)| (h, Arc::new(Type::basic(size, b))))
            .collect();
        let pairs = [
            (MPI_FLOAT_INT, PairKind::FloatInt, 4, 4, 8),
            (MPI_DOUBLE_INT, PairKind::DoubleInt, 8, 8, 16),
            (MPI_LONG_INT, PairKind::LongInt, 8, 8, 16),
            (MPI_SHORT_INT, PairKind::ShortInt, 2, 4, 8),
            (MPI_2INT, PairKind::TwoInt, 4, 4, 8),
            (MPI_LONG_DOUBLE_INT, PairKind::LongDoubleInt, 16, 16, 32),
        ];
        for (h, k, vs, off, ext) in pairs {
            m.insert(h, Arc::new(Type::pair(k, vs, off, ext)));
        }
        // Fortran pairs: two of the same type, no padding.
        for (h, b, s) in [
            (MPI_2INTEGER, I32, 4),
            (MPI_2REAL, F32, 4),
            (MPI_2DOUBLE_PRECISION, F64, 8),
        ] {
            let mut t = Type::basic(2 * s, b);
            t.base = Some((b, 2));
            m.insert(h, Arc::new(t));
        }
        // Half precision (MPICH's extension) moves as data; no reductions.
        let mut half = Type::basic(2, Byte);
        half.base = None;
        m.insert(MPIX_C_FLOAT16, Arc::new(half));
        // Bound markers of old-style struct types: no data.
        for h in [MPI_LB, MPI_UB] {
            let mut t = Type::basic(0, Byte);
            t.blocks.clear();
            t.base = None;
            m.insert(h, Arc::new(t));
        }
        m
    })
}

/// Where a predefined handle sits in [`fast`]: MPICH encodes the predefined types as
/// `0x4c00ssii` (size, index) and the pair types as `0x8c00000i`.
fn slot(h: MPI_Datatype) -> Option<usize> {
    let u = h as u32;
    match u & 0xffff_0000 {
        0x4c00_0000 => Some((u & 0xff) as usize),
        0x8c00_0000 if u & 0xffff < 0x10 => Some(0x100 + (u & 0xf) as usize),
        _ => None,
    }
}

/// A predefined type and its handle, in its slot.
type Slot = Option<(MPI_Datatype, Arc<Type>)>;

/// The predefined types by slot, so that the per-call lookup is an index, not a hash.
fn fast() -> &'static [Slot] {
    static F: OnceLock<Vec<Slot>> = OnceLock::new();
    F.get_or_init(|| {
        let mut v = vec![None; 0x110];
        for (&h, t) in predefined() {
            if let Some(i) = slot(h) {
                v[i] = Some((h, t.clone()));
            }
        }
        v
    })
}

/// The type behind a handle (committed or not).
pub fn lookup_any(h: MPI_Datatype) -> R<Arc<Type>> {
    if let Some(Some((ph, t))) = slot(h).and_then(|i| fast().get(i)) {
        if *ph == h {
            return Ok(t.clone());
        }
    }
    if let Some(t) = predefined().get(&h) {
        return Ok(t.clone());
    }
    DERIVED
        .get(h)
        .ok_or_else(|| Fail::new(MPI_ERR_TYPE, format!("invalid datatype {h:#x}")))
}

/// The type behind a handle, which must be committed to carry data.
pub fn lookup(h: MPI_Datatype) -> R<Arc<Type>> {
    let t = lookup_any(h)?;
    if !t.committed {
        return fail(MPI_ERR_TYPE, format!("datatype {h:#x} is not committed"));
    }
    Ok(t)
}

pub fn is_predefined(h: MPI_Datatype) -> bool {
    predefined().contains_key(&h)
}

/// Registers a new derived type; returns its handle.
pub fn register(t: Type) -> MPI_Datatype {
    DERIVED.insert(t)
}

pub fn commit(h: MPI_Datatype) -> R {
    if is_predefined(h) {
        return Ok(());
    }
    let t = lookup_any(h)?;
    if !t.committed {
        let mut c = (*t).clone();
        c.committed = true;
        DERIVED.put(h, Arc::new(c));
    }
    Ok(())
}

pub fn free(h: MPI_Datatype) -> R {
    if is_predefined(h) {
        return fail(MPI_ERR_TYPE, "a predefined datatype cannot be freed");
    }
    DERIVED
        .remove(h)
        .map(|_| ())
        .ok_or_else(|| Fail::new(MPI_ERR_TYPE, format!("invalid datatype {h:#x}")))
}

/// Builds a type from `(displacement, count, type)` pieces, as every constructor
/// reduces to: each piece is `count` consecutive elements of its type placed at a
/// byte displacement.
pub fn compose(pieces: &[(isize, usize, Arc<Type>)]) -> R<Type> {
    let mut blocks: Vec<(isize, usize)> = Vec::new();
    let mut size = 0usize;
    let mut lb: Option<isize> = None;
    let mut ub: Option<isize> = None;
    let mut tlb: Option<isize> = None;
    let mut tub: Option<isize> = None;
    let mut base: Option<Option<Base>> = None;
    let mut items = 0usize;
    for (disp, count, t) in pieces {
        if *count == 0 {
            continue;
        }
        let span = t.extent * (*count as isize - 1);
        let (lo, hi) = (disp + t.lb, disp + t.lb + span + t.extent);
        lb = Some(lb.map_or(lo, |x| x.min(lo)));
        ub = Some(ub.map_or(hi, |x| x.max(hi)));
        if !t.blocks.is_empty() {
            let (tlo, thi) = (disp + t.true_lb, disp + t.true_lb + span + t.true_extent);
            tlb = Some(tlb.map_or(tlo, |x| x.min(tlo)));
            tub = Some(tub.map_or(thi, |x| x.max(thi)));
        }
        for i in 0..*count {
            for &(off, len) in &t.blocks {
                let at = disp + (i as isize) * t.extent + off;
                match blocks.last_mut() {
                    Some((o, l)) if *o + *l as isize == at => *l += len,
                    _ => blocks.push((at, len)),
                }
            }
        }
        size = size
            .checked_add(t.size.checked_mul(*count).ok_or_else(too_big)?)
            .ok_or_else(too_big)?;
        if blocks.len() > 1 << 24 {
            return Err(too_big());
        }
        let b = t.base.map(|(b, _)| b);
        base = Some(match base {
            None => b,
            Some(prev) if prev == b => b,
            Some(_) => None,
        });
        items += t.base.map_or(0, |(_, n)| n) * count;
    }
    let (lb, ub) = (lb.unwrap_or(0), ub.unwrap_or(0));
    let (tlb, tub) = (tlb.unwrap_or(0), tub.unwrap_or(0));
    Ok(Type {
        size,
        lb,
        extent: ub - lb,
        true_lb: tlb,
        true_extent: tub - tlb,
        blocks,
        base: base.flatten().map(|b| (b, items)),
        committed: false,
        predefined: false,
    })
}

fn too_big() -> Fail {
    Fail::new(MPI_ERR_ARG, "datatype is too large")
}

/// Changes the bounds of a type (MPI_Type_create_resized).
pub fn resized(t: &Type, lb: isize, extent: isize) -> Type {
    let mut r = t.clone();
    r.lb = lb;
    r.extent = extent;
    r.committed = false;
    r.predefined = false;
    r
}

/// Count argument check: MPI counts are non-negative ints.
pub fn count(c: c_int) -> R<usize> {
    usize::try_from(c).map_err(|_| Fail::new(MPI_ERR_COUNT, format!("count {c} is negative")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_predefined_type_has_its_own_slot() {
        let mut seen = std::collections::HashSet::new();
        for &h in predefined().keys() {
            if let Some(i) = slot(h) {
                assert!(seen.insert(i), "slot {i:#x} taken twice");
            }
            assert!(Arc::ptr_eq(
                &lookup_any(h).unwrap(),
                predefined().get(&h).unwrap()
            ));
        }
    }

    #[test]
    fn pair_types_have_c_layout() {
        let d = lookup(MPI_DOUBLE_INT).unwrap();
        assert_eq!((d.size, d.extent), (12, 16));
        let s = lookup(MPI_SHORT_INT).unwrap();
        assert_eq!(
            (s.size, s.extent, s.blocks.clone()),
            (6, 8, vec![(0, 2), (4, 4)])
        );
        assert!(lookup(MPI_INT).unwrap().dense().is_some());
        assert!(d.dense().is_none());
    }

    #[test]
    fn vector_packs_a_column_and_unpacks_it_back() {
        // column 1 of a 3x4 row-major int matrix: 3 blocks of 1 int, stride 4
        let int = lookup(MPI_INT).unwrap();
        let pieces: Vec<_> = (0..3).map(|i| (i * 4 * 4, 1, int.clone())).collect();
        let col = compose(&pieces).unwrap();
        assert_eq!((col.size, col.extent), (12, 36));
        let m: Vec<i32> = (0..12).collect();
        let mut packed = vec![0u8; 12];
        // SAFETY: `m` holds the column's elements (offset 4 = column 1).
        unsafe { col.pack((m.as_ptr() as *const u8).add(4), 1, &mut packed) };
        let got: Vec<i32> = packed
            .chunks_exact(4)
            .map(|c| i32::from_ne_bytes(c.try_into().unwrap()))
            .collect();
        assert_eq!(got, vec![1, 5, 9]);
        let mut back = vec![-1i32; 12];
        // SAFETY: `back` holds the column's elements.
        unsafe { col.unpack(&packed, (back.as_mut_ptr() as *mut u8).add(4)) };
        assert_eq!(back.iter().filter(|&&x| x != -1).count(), 3);
        assert_eq!((back[1], back[5], back[9]), (1, 5, 9));
        assert_eq!(col.elements(12), Some(3));
        assert_eq!(col.elements(8), Some(2));
    }

    #[test]
    fn struct_of_mixed_types_has_no_base() {
        let t = compose(&[
            (0, 1, lookup(MPI_DOUBLE).unwrap()),
            (8, 2, lookup(MPI_INT).unwrap()),
        ])
        .unwrap();
        assert_eq!((t.size, t.extent, t.base), (16, 16, None));
        assert!(t.dense().is_some());
    }

    #[test]
    fn status_count_spans_both_words() {
        let mut s = MPI_Status::default();
        s.set_cancelled(true);
        s.set_bytes((5u64 << 32) | 7);
        assert_eq!(s.bytes(), (5u64 << 32) | 7);
        assert!(s.cancelled());
    }
}
