//! Element types of the C API and their sizes.

/// One element type (`FMI_Datatype` in C).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Datatype {
    Byte,
    Char,
    Int8,
    Uint8,
    Int16,
    Uint16,
    Int32,
    Uint32,
    Int64,
    Uint64,
    Float,
    Double,
}

impl Datatype {
    /// Every type, in the order of their C codes (0, 1, ...).
    pub const ALL: [Datatype; 12] = [
        Datatype::Byte,
        Datatype::Char,
        Datatype::Int8,
        Datatype::Uint8,
        Datatype::Int16,
        Datatype::Uint16,
        Datatype::Int32,
        Datatype::Uint32,
        Datatype::Int64,
        Datatype::Uint64,
        Datatype::Float,
        Datatype::Double,
    ];

    /// The type with C code `code`, if any.
    pub fn from_code(code: i32) -> Option<Datatype> {
        usize::try_from(code)
            .ok()
            .and_then(|i| Self::ALL.get(i).copied())
    }

    /// Size of one element in bytes.
    pub fn size(self) -> usize {
        match self {
            Datatype::Byte | Datatype::Char | Datatype::Int8 | Datatype::Uint8 => 1,
            Datatype::Int16 | Datatype::Uint16 => 2,
            Datatype::Int32 | Datatype::Uint32 | Datatype::Float => 4,
            Datatype::Int64 | Datatype::Uint64 | Datatype::Double => 8,
        }
    }

    /// Whether the type is a floating-point type (no bitwise ops).
    pub fn is_float(self) -> bool {
        matches!(self, Datatype::Float | Datatype::Double)
    }

    /// Bytes of `count` elements, or `None` on overflow.
    pub fn bytes(self, count: usize) -> Option<usize> {
        count.checked_mul(self.size())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_and_sizes() {
        for (i, d) in Datatype::ALL.iter().enumerate() {
            assert_eq!(Datatype::from_code(i as i32), Some(*d));
        }
        assert_eq!(Datatype::from_code(-1), None);
        assert_eq!(Datatype::from_code(12), None);
        assert_eq!(Datatype::Double.bytes(3), Some(24));
        assert_eq!(Datatype::Int32.bytes(usize::MAX), None);
    }
}
