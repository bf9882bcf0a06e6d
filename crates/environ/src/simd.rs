//! What relaxed SIMD computes in duet, said once for both tiers.
//!
//! The relaxed SIMD proposal lets each relaxed operator behave in one of
//! several ways (the ways the common CPUs differ). duet picks one
//! behaviour per operator, the same on every CPU preset and in both
//! tiers, so that a program's result depends neither on the machine nor
//! on which tier compiled a function (a tier-up must not change an
//! answer):
//!
//! | operator | behaviour |
//! |---|---|
//! | `i8x16.relaxed_swizzle` | `i8x16.swizzle` (an index of 16 or more gives 0) |
//! | `i32x4.relaxed_trunc_f32x4_s/u`, `..._f64x2_s/u_zero` | the `trunc_sat` operator (saturating, NaN to 0) |
//! | `i8x16/i16x8/i32x4/i64x2.relaxed_laneselect` | `v128.bitselect` (bitwise, whatever the mask lanes are) |
//! | `f32x4/f64x2.relaxed_min/max` | `min`/`max` (NaN-propagating, `-0 < +0`) |
//! | `i16x8.relaxed_q15mulr_s` | `i16x8.q15mulr_sat_s` |
//! | `f32x4/f64x2.relaxed_madd a b c`, `relaxed_nmadd a b c` | `a * b + c` and `c - a * b` (the IEEE operations in that operand order, which decides which NaN a NaN result carries), unfused: rounded after the multiply and after the add (FMA is not on every CPU) |
//! | `i16x8.relaxed_dot_i8x16_i7x16_s a b` | x86's `pmaddubsw b, a`: `b`'s bytes unsigned, `a`'s signed, each pair's sum saturated to 16 bits |
//! | `i32x4.relaxed_dot_i8x16_i7x16_add_s a b c` | that, then each pair of 16-bit sums sign-extended and added to 32 bits, then `c` added (wrapping) |
//!
//! The first five rows are deterministic operators under another name:
//! [`relaxed_as`] maps them, and both tiers translate the relaxed
//! operator as the operator it returns, so those choices exist only here.
//! The last three rows have no deterministic twin; each tier implements
//! them as the table says (`crates/winch/src/simd`, `crates/wasm/src/simd.rs`),
//! and the differential test (`tests/differential`) compares the tiers on
//! generated modules with relaxed SIMD.

use wasmparser::Operator;

/// The deterministic operator duet computes the relaxed SIMD operator `op`
/// as, if it is one of those (see the module docs); `None` for every other
/// operator, the three relaxed ones without a twin included.
pub fn relaxed_as(op: &Operator<'_>) -> Option<Operator<'static>> {
    use Operator as O;
    Some(match op {
        O::I8x16RelaxedSwizzle => O::I8x16Swizzle,
        O::I32x4RelaxedTruncF32x4S => O::I32x4TruncSatF32x4S,
        O::I32x4RelaxedTruncF32x4U => O::I32x4TruncSatF32x4U,
        O::I32x4RelaxedTruncF64x2SZero => O::I32x4TruncSatF64x2SZero,
        O::I32x4RelaxedTruncF64x2UZero => O::I32x4TruncSatF64x2UZero,
        O::I8x16RelaxedLaneselect
        | O::I16x8RelaxedLaneselect
        | O::I32x4RelaxedLaneselect
        | O::I64x2RelaxedLaneselect => O::V128Bitselect,
        O::F32x4RelaxedMin => O::F32x4Min,
        O::F32x4RelaxedMax => O::F32x4Max,
        O::F64x2RelaxedMin => O::F64x2Min,
        O::F64x2RelaxedMax => O::F64x2Max,
        O::I16x8RelaxedQ15mulrS => O::I16x8Q15MulrSatS,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use wasmparser::{BinaryReader, OperatorsReader};

    /// Every relaxed SIMD operator (the proposal's opcodes 0xfd 0x100 to
    /// 0x113) is mapped by `relaxed_as` or is one of the six the tiers
    /// implement themselves, and every mapped one is not relaxed.
    #[test]
    fn every_relaxed_operator_has_one_behaviour() {
        let mut own = 0;
        for opcode in 0x100u32..=0x113 {
            let mut bytes = vec![0xfd];
            leb128(opcode, &mut bytes);
            let mut reader = OperatorsReader::new(BinaryReader::new(&bytes, 0));
            let Ok(op) = reader.read() else {
                continue; // an opcode the proposal left unassigned
            };
            let name = format!("{op:?}");
            assert!(name.contains("Relaxed"), "0xfd {opcode:#x} is {name}");
            match relaxed_as(&op) {
                Some(twin) => assert!(!format!("{twin:?}").contains("Relaxed"), "{name}"),
                None => {
                    own += 1;
                    assert!(
                        name.contains("Madd") || name.contains("Nmadd") || name.contains("Dot"),
                        "{name} has no behaviour"
                    );
                }
            }
        }
        assert_eq!(own, 6, "madd and nmadd of two shapes, two dot products");
    }

    fn leb128(mut n: u32, out: &mut Vec<u8>) {
        loop {
            let byte = (n & 0x7f) as u8;
            n >>= 7;
            if n == 0 {
                out.push(byte);
                return;
            }
            out.push(byte | 0x80);
        }
    }
}
