//! Value types of the IR.
//!
//! Scalars (`i8` to `i64`, `f32`, `f64`) and 128-bit vectors, which are
//! typed by their lanes: `i8x16`, `i16x8`, `i32x4`, `i64x2`, `f32x4`,
//! `f64x2`. An operation on a vector works on its lanes as the operation of
//! the same name works on a scalar of the lane type (`iadd` on `i32x4`s adds
//! four pairs of `i32`s). The frontend keeps a wasm `v128` as an `i8x16`
//! between operations and `bitcast`s it to the lane type each operation
//! reads; a `bitcast` between vector types keeps the 128 bits as they are
//! (lane 0 in the low bits, as wasm and x86 number lanes).

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
    /// Sixteen `i8` lanes (also a wasm `v128` between operations).
    I8X16,
    /// Eight `i16` lanes.
    I16X8,
    /// Four `i32` lanes.
    I32X4,
    /// Two `i64` lanes.
    I64X2,
    /// Four `f32` lanes.
    F32X4,
    /// Two `f64` lanes.
    F64X2,
}

impl Type {
    /// Every type, in text-format order.
    pub const ALL: [Type; 12] = [
        Type::I8,
        Type::I16,
        Type::I32,
        Type::I64,
        Type::F32,
        Type::F64,
        Type::I8X16,
        Type::I16X8,
        Type::I32X4,
        Type::I64X2,
        Type::F32X4,
        Type::F64X2,
    ];

    /// The width in bits.
    pub const fn bits(self) -> u32 {
        match self {
            Type::I8 => 8,
            Type::I16 => 16,
            Type::I32 | Type::F32 => 32,
            Type::I64 | Type::F64 => 64,
            _ => 128,
        }
    }

    /// The width in bytes.
    pub const fn bytes(self) -> u32 {
        self.bits() / 8
    }

    /// Whether this is a scalar integer type.
    pub const fn is_int(self) -> bool {
        matches!(self, Type::I8 | Type::I16 | Type::I32 | Type::I64)
    }

    /// Whether this is a scalar float type.
    pub const fn is_float(self) -> bool {
        matches!(self, Type::F32 | Type::F64)
    }

    /// Whether this is a vector type.
    pub const fn is_vector(self) -> bool {
        self.lane_count() > 1
    }

    /// The type of each lane: the type itself for a scalar.
    pub const fn lane_type(self) -> Type {
        match self {
            Type::I8X16 => Type::I8,
            Type::I16X8 => Type::I16,
            Type::I32X4 => Type::I32,
            Type::I64X2 => Type::I64,
            Type::F32X4 => Type::F32,
            Type::F64X2 => Type::F64,
            scalar => scalar,
        }
    }

    /// The number of lanes: 1 for a scalar.
    pub const fn lane_count(self) -> u32 {
        self.bits() / self.lane_type().bits()
    }

    /// The vector of 128 bits with lanes of type `lane` (a scalar).
    pub const fn vector_of(lane: Type) -> Option<Type> {
        match lane {
            Type::I8 => Some(Type::I8X16),
            Type::I16 => Some(Type::I16X8),
            Type::I32 => Some(Type::I32X4),
            Type::I64 => Some(Type::I64X2),
            Type::F32 => Some(Type::F32X4),
            Type::F64 => Some(Type::F64X2),
            _ => None,
        }
    }

    /// Whether this type or its lanes are integers.
    pub const fn is_int_lanes(self) -> bool {
        self.lane_type().is_int()
    }

    /// Whether this type or its lanes are floats.
    pub const fn is_float_lanes(self) -> bool {
        self.lane_type().is_float()
    }

    /// The integer type (or vector of integer lanes) as wide as this
    /// type's lanes: what a comparison of two values of this type makes
    /// (`i8` for a scalar, whose result is 1 or 0; for vectors, a mask of
    /// all ones or all zeros per lane).
    pub const fn mask_type(self) -> Type {
        match self {
            Type::I8X16 | Type::I16X8 | Type::I32X4 | Type::I64X2 => self,
            Type::F32X4 => Type::I32X4,
            Type::F64X2 => Type::I64X2,
            _ => Type::I8,
        }
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
            Type::I8X16 => "i8x16",
            Type::I16X8 => "i16x8",
            Type::I32X4 => "i32x4",
            Type::I64X2 => "i64x2",
            Type::F32X4 => "f32x4",
            Type::F64X2 => "f64x2",
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

    #[test]
    fn vectors_are_128_bits_of_lanes() {
        for t in Type::ALL {
            let lane = t.lane_type();
            assert_eq!(t.lane_count() * lane.bits(), t.bits(), "{t}");
            assert_eq!(t.is_vector(), t.bits() == 128, "{t}");
            if t.is_vector() {
                assert_eq!(Type::vector_of(lane), Some(t));
                assert_eq!(t.mask_type().lane_count(), t.lane_count(), "{t}");
                assert!(t.mask_type().is_int_lanes(), "{t}");
            } else {
                assert_eq!((lane, t.lane_count()), (t, 1));
                assert_eq!(t.mask_type(), Type::I8);
            }
        }
        assert_eq!(Type::I16X8.lane_count(), 8);
        assert_eq!(Type::F64X2.lane_type(), Type::F64);
        assert_eq!(Type::F32X4.mask_type(), Type::I32X4);
    }
}
