//! Value types of the IR.

use core::fmt;

/// The type of an SSA value.
#[derive(Copy, Clone, PartialEq, Eq, Hash, Debug)]
pub enum Type {
    /// 8-bit integer (comparison results, narrow loads and stores).
    I8,
    /// 16-bit integer.
    I16,
    /// 32-bit integer.
    I32,
    /// 64-bit integer (also addresses).
    I64,
    /// 32-bit IEEE 754 float.
    F32,
    /// 64-bit IEEE 754 float.
    F64,
    /// 128-bit vector, reserved for SIMD (no operator produces it yet).
    V128,
}

impl Type {
    /// Every type, in text-format order.
    pub const ALL: [Type; 7] = [
        Type::I8,
        Type::I16,
        Type::I32,
        Type::I64,
        Type::F32,
        Type::F64,
        Type::V128,
    ];

    /// The width in bits.
    pub const fn bits(self) -> u32 {
        match self {
            Type::I8 => 8,
            Type::I16 => 16,
            Type::I32 | Type::F32 => 32,
            Type::I64 | Type::F64 => 64,
            Type::V128 => 128,
        }
    }

    /// The width in bytes.
    pub const fn bytes(self) -> u32 {
        self.bits() / 8
    }

    /// Whether this is an integer type.
    pub const fn is_int(self) -> bool {
        matches!(self, Type::I8 | Type::I16 | Type::I32 | Type::I64)
    }

    /// Whether this is a float type.
    pub const fn is_float(self) -> bool {
        matches!(self, Type::F32 | Type::F64)
    }

    /// The type's name in the text format.
    pub const fn name(self) -> &'static str {
        match self {
            Type::I8 => "i8",
            Type::I16 => "i16",
            Type::I32 => "i32",
            Type::I64 => "i64",
            Type::F32 => "f32",
            Type::F64 => "f64",
            Type::V128 => "v128",
        }
    }

    /// The type named `name` in the text format.
    pub fn from_name(name: &str) -> Option<Type> {
        Type::ALL.into_iter().find(|t| t.name() == name)
    }

    /// The integer type of `bits` bits.
    pub const fn int(bits: u32) -> Option<Type> {
        match bits {
            8 => Some(Type::I8),
            16 => Some(Type::I16),
            32 => Some(Type::I32),
            64 => Some(Type::I64),
            _ => None,
        }
    }

    /// Truncates `value` to this integer type's width and sign-extends it
    /// back to 64 bits: the canonical form of an integer immediate.
    pub const fn sign_extend(self, value: i64) -> i64 {
        let shift = 64 - self.bits();
        if shift >= 64 {
            value
        } else {
            (value << shift) >> shift
        }
    }

    /// Truncates `value` to this integer type's width, zero-extended.
    pub const fn zero_extend(self, value: i64) -> u64 {
        let bits = self.bits();
        if bits >= 64 {
            value as u64
        } else {
            (value as u64) & ((1u64 << bits) - 1)
        }
    }
}

impl fmt::Display for Type {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_immediates_are_canonicalized() {
        for t in Type::ALL {
            assert_eq!(Type::from_name(t.name()), Some(t));
        }
        assert_eq!(Type::I8.sign_extend(0xff), -1);
        assert_eq!(Type::I32.sign_extend(0x8000_0000), -0x8000_0000);
        assert_eq!(Type::I32.zero_extend(-1), 0xffff_ffff);
        assert_eq!(Type::I64.zero_extend(-1), u64::MAX);
    }
}
