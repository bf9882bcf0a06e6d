//! Float SIMD operators (`f32x4`, `f64x2`): arithmetic, `sqrt`,
//! `abs`/`neg`, `min`/`max` with wasm's NaN and signed-zero rules,
//! `pmin`/`pmax`, `ceil`/`floor`/`trunc`/`nearest`, comparisons, the
//! conversions (`trunc_sat`, `convert`, `demote`, `promote`), and the
//! relaxed SIMD operators that are float operations in disguise.
//!
//! Every sequence here uses legacy SSE forms up to SSE4.1 only, so the
//! code (and hence every result, relaxed ones included) is the same on
//! every CPU preset. Operands are popped first and temporaries taken after
//! (taking one may spill the value stack); besides `XMM_SCRATCH` only
//! `i32x4.trunc_sat_f32x4_u` needs a register of its own. The result
//! replaces one operand in its register.
//!
//! Where SSE and WebAssembly agree, an operator is one instruction:
//! `add`/`sub`/`mul`/`div`/`sqrt` (ADDPS, ..., SQRTPD: IEEE-754 with
//! round-to-nearest-even, and a NaN result that is the quieted NaN
//! operand or the default NaN, which is what "arithmetic NaN" allows),
//! the roundings (ROUNDPS/ROUNDPD, whose "nearest" mode rounds ties to
//! even), `demote`/`promote` (CVTPD2PS, whose legacy form zeroes the
//! upper two lanes, and CVTPS2PD), `f32x4.convert_i32x4_s` (CVTDQ2PS) and
//! `f64x2.convert_low_i32x4_s` (CVTDQ2PD, exact). Where they differ:
//!
//! * **`abs`, `neg`**: the sign bit masked with ANDPS or flipped with
//!   XORPS against a 16-byte constant, never arithmetic, so NaN payloads
//!   are kept as the spec requires.
//! * **`min`, `max`**: MINPS returns its *second* operand when either lane
//!   is NaN and when both are zeros, whatever their signs. Both orders are
//!   computed and merged:
//!
//!   ```text
//!   min:  s = min(a, b); b = min(b, a); s |= b      NaN if either was;
//!                                                   -0 if either was
//!         m = unord(b, s); s |= m                   NaN lanes all ones
//!         m >>= 10 (f64: 13); s = !m & s            payload cleared:
//!                                                   0xffc00000, canonical
//!   max:  s = max(a, b); b = max(b, a); b ^= s      0x80000000 where the
//!                                                   two were +0 and -0
//!         s |= b; s -= b                            -0 - -0 = +0; NaN
//!                                                   kept (and quieted)
//!         m = unord(b, s); m >>= 10; s = !m & s     canonical NaN
//!   ```
//!
//!   Where neither lane is NaN nor both are zeros, the two orders agree
//!   and every fix-up is the identity (`x | x`, `x ^ x = 0`, `x - 0`).
//! * **`pmin`, `pmax`**: `b < a ? b : a` is exactly `minps b, a` (MINPS
//!   returns its first operand when it is less, otherwise its second),
//!   and `a < b ? b : a` is `maxps b, a`; the result takes `b`'s register.
//! * **Comparisons**: CMPPS with predicate EQ, NEQ (unordered-or-unequal,
//!   true for NaN as `ne` must be), LT, LE; `gt` and `ge` are `lt` and `le`
//!   with the operands swapped, so every comparison but `ne` is false for
//!   NaN.
//! * **`i32x4.trunc_sat_f32x4_s`**: CVTTPS2DQ gives `0x80000000` for NaN
//!   and out-of-range lanes. NaN lanes are zeroed first (ANDPS with the
//!   ordered mask `x == x`); then a lane whose input was non-negative but
//!   whose result has the sign bit set overflowed upwards, and XOR with
//!   all ones turns its `0x80000000` into `0x7fffffff`. Downward overflow
//!   already gives `0x80000000`, the right saturation.
//! * **`i32x4.trunc_sat_f32x4_u`**: `x = max(x, 0)` (MAXPS gives the
//!   second operand, 0, for NaN). Lanes below 2^31 convert directly; for
//!   the others CVTTPS2DQ gives `0x80000000`, to which is added the
//!   conversion of `x - 2^31` (exact: both lie in one binade), clamped
//!   below at 0 (PMAXSD) and replaced by `0x7fffffff` where `x >= 2^32`,
//!   so the sum saturates at `0xffffffff`.
//! * **`i32x4.trunc_sat_f64x2_s_zero`**: `min(x, 2147483647.0)`, where the
//!   bound is replaced by 0 in NaN lanes (ANDPD with `x == x`) and MINPD
//!   gives its second operand for NaN; then CVTTPD2DQ, whose low-side
//!   overflow is `0x80000000` and whose legacy form zeroes the upper lanes.
//! * **`i32x4.trunc_sat_f64x2_u_zero`**: `x` clamped to `[0, 2^32 - 1]`
//!   (NaN to 0 as above), truncated with ROUNDPD, plus 2^52: the integer
//!   is then the low 32 bits of each double, which SHUFPS gathers into
//!   lanes 0 and 1, with zeros above.
//! * **`f32x4.convert_i32x4_u`**: SSE has no unsigned conversion. Each
//!   lane splits into its low 16 bits and the rest; both halves convert
//!   exactly (the high part halved first, so it is a non-negative `i32`
//!   with at most 17 significant bits, then doubled exactly), and the one
//!   rounding is in the final ADDPS, so the result is the correctly
//!   rounded `f32` of the `u32`.
//! * **`f64x2.convert_low_i32x4_u`**: UNPCKLPS interleaves each `u32`
//!   with `0x43300000`, making the double `2^52 + u`; subtracting 2^52
//!   leaves `u`, exactly.
//!
//! Relaxed SIMD's `relaxed_madd` is `a * b + c` and `relaxed_nmadd` is
//! `c - a * b`, both *unfused* (`duet_environ::simd`): rounded after the
//! multiply and after the add, since FMA is not on every preset.

use super::Compiled;
use crate::codegen::CodeGen;
use crate::regs::XMM_SCRATCH;
use cranelift_asm::x64::{
    RoundMode, SseImmOp, SseOp, SseShiftImmOp, SseUnaryImmOp, SseUnaryOp, Xmm, XmmMem,
};
use wasmparser::Operator;

/// The lane shape of a float vector.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
enum Shape {
    F32x4,
    F64x2,
}

/// CMPPS/CMPPD predicates (the immediate), as the manual names them.
const CMP_EQ: u8 = 0;
const CMP_LT: u8 = 1;
const CMP_LE: u8 = 2;
const CMP_UNORD: u8 = 3;
const CMP_NEQ: u8 = 4;

/// `lane` in each of the four 32-bit lanes.
const fn splat32(lane: u32) -> u128 {
    let lane = lane as u128;
    lane | lane << 32 | lane << 64 | lane << 96
}

/// `lane` in each of the two 64-bit lanes.
const fn splat64(lane: u64) -> u128 {
    let lane = lane as u128;
    lane | lane << 64
}

/// 2^52 as an `f64`: added to an integer below 2^52, the integer is the
/// low bits of the mantissa.
const TWO_POW_52: u64 = 0x4330_0000_0000_0000;

impl Shape {
    /// The form for this shape: `ps` for `f32x4`, `pd` for `f64x2`.
    fn op(self, ps: SseOp, pd: SseOp) -> SseOp {
        match self {
            Shape::F32x4 => ps,
            Shape::F64x2 => pd,
        }
    }

    /// Every lane's sign bit.
    fn sign_bits(self) -> u128 {
        match self {
            Shape::F32x4 => splat32(1 << 31),
            Shape::F64x2 => splat64(1 << 63),
        }
    }

    /// How far a lane of all ones shifts right to leave a mask of the
    /// payload bits below the quiet bit (22 of `f32`'s, 51 of `f64`'s).
    fn payload_shift(self) -> u8 {
        match self {
            Shape::F32x4 => 32 - 22,
            Shape::F64x2 => 64 - 51,
        }
    }
}

impl CodeGen<'_> {
    /// Compiles `op` if it is one of this module's operators.
    pub(super) fn compile_simd_float(&mut self, op: &Operator<'_>) -> Compiled {
        use Shape::{F32x4, F64x2};
        match *op {
            Operator::F32x4Add => self.v128_binop(SseOp::Addps),
            Operator::F32x4Sub => self.v128_binop(SseOp::Subps),
            Operator::F32x4Mul => self.v128_binop(SseOp::Mulps),
            Operator::F32x4Div => self.v128_binop(SseOp::Divps),
            Operator::F64x2Add => self.v128_binop(SseOp::Addpd),
            Operator::F64x2Sub => self.v128_binop(SseOp::Subpd),
            Operator::F64x2Mul => self.v128_binop(SseOp::Mulpd),
            Operator::F64x2Div => self.v128_binop(SseOp::Divpd),
            Operator::F32x4Sqrt => self.simd_float_sqrt(F32x4),
            Operator::F64x2Sqrt => self.simd_float_sqrt(F64x2),
            Operator::F32x4Abs => self.simd_float_sign(F32x4, false),
            Operator::F64x2Abs => self.simd_float_sign(F64x2, false),
            Operator::F32x4Neg => self.simd_float_sign(F32x4, true),
            Operator::F64x2Neg => self.simd_float_sign(F64x2, true),
            Operator::F32x4Min => self.simd_float_min(F32x4),
            Operator::F64x2Min => self.simd_float_min(F64x2),
            Operator::F32x4Max => self.simd_float_max(F32x4),
            Operator::F64x2Max => self.simd_float_max(F64x2),
            Operator::F32x4PMin => self.simd_float_pseudo_min_max(SseOp::Minps),
            Operator::F64x2PMin => self.simd_float_pseudo_min_max(SseOp::Minpd),
            Operator::F32x4PMax => self.simd_float_pseudo_min_max(SseOp::Maxps),
            Operator::F64x2PMax => self.simd_float_pseudo_min_max(SseOp::Maxpd),
            Operator::F32x4Ceil => self.simd_float_round(F32x4, RoundMode::Up),
            Operator::F32x4Floor => self.simd_float_round(F32x4, RoundMode::Down),
            Operator::F32x4Trunc => self.simd_float_round(F32x4, RoundMode::Zero),
            Operator::F32x4Nearest => self.simd_float_round(F32x4, RoundMode::Nearest),
            Operator::F64x2Ceil => self.simd_float_round(F64x2, RoundMode::Up),
            Operator::F64x2Floor => self.simd_float_round(F64x2, RoundMode::Down),
            Operator::F64x2Trunc => self.simd_float_round(F64x2, RoundMode::Zero),
            Operator::F64x2Nearest => self.simd_float_round(F64x2, RoundMode::Nearest),
            Operator::F32x4Eq => self.simd_float_compare(F32x4, CMP_EQ, false),
            Operator::F32x4Ne => self.simd_float_compare(F32x4, CMP_NEQ, false),
            Operator::F32x4Lt => self.simd_float_compare(F32x4, CMP_LT, false),
            Operator::F32x4Gt => self.simd_float_compare(F32x4, CMP_LT, true),
            Operator::F32x4Le => self.simd_float_compare(F32x4, CMP_LE, false),
            Operator::F32x4Ge => self.simd_float_compare(F32x4, CMP_LE, true),
            Operator::F64x2Eq => self.simd_float_compare(F64x2, CMP_EQ, false),
            Operator::F64x2Ne => self.simd_float_compare(F64x2, CMP_NEQ, false),
            Operator::F64x2Lt => self.simd_float_compare(F64x2, CMP_LT, false),
            Operator::F64x2Gt => self.simd_float_compare(F64x2, CMP_LT, true),
            Operator::F64x2Le => self.simd_float_compare(F64x2, CMP_LE, false),
            Operator::F64x2Ge => self.simd_float_compare(F64x2, CMP_LE, true),
            Operator::I32x4TruncSatF32x4S => self.i32x4_trunc_sat_f32x4_s(),
            Operator::I32x4TruncSatF32x4U => self.i32x4_trunc_sat_f32x4_u(),
            Operator::I32x4TruncSatF64x2SZero => self.i32x4_trunc_sat_f64x2_s_zero(),
            Operator::I32x4TruncSatF64x2UZero => self.i32x4_trunc_sat_f64x2_u_zero(),
            Operator::F32x4ConvertI32x4S => {
                let reg = self.pop_v128();
                self.asm
                    .packed_unary(SseUnaryOp::Cvtdq2ps, reg, &XmmMem::Xmm(reg));
                self.push_v128(reg);
            }
            Operator::F32x4ConvertI32x4U => self.f32x4_convert_i32x4_u(),
            Operator::F64x2ConvertLowI32x4S => {
                let reg = self.pop_v128();
                self.asm
                    .packed_unary(SseUnaryOp::Cvtdq2pd, reg, &XmmMem::Xmm(reg));
                self.push_v128(reg);
            }
            Operator::F64x2ConvertLowI32x4U => self.f64x2_convert_low_i32x4_u(),
            Operator::F32x4DemoteF64x2Zero => {
                let reg = self.pop_v128();
                self.asm
                    .packed_unary(SseUnaryOp::Cvtpd2ps, reg, &XmmMem::Xmm(reg));
                self.push_v128(reg);
            }
            Operator::F64x2PromoteLowF32x4 => {
                let reg = self.pop_v128();
                self.asm
                    .packed_unary(SseUnaryOp::Cvtps2pd, reg, &XmmMem::Xmm(reg));
                self.push_v128(reg);
            }
            Operator::F32x4RelaxedMadd => self.simd_float_madd(F32x4, false),
            Operator::F32x4RelaxedNmadd => self.simd_float_madd(F32x4, true),
            Operator::F64x2RelaxedMadd => self.simd_float_madd(F64x2, false),
            Operator::F64x2RelaxedNmadd => self.simd_float_madd(F64x2, true),
            _ => return None,
        }
        Some(Ok(()))
    }

    /// `op dst, src` for a two-operand packed form, both registers.
    fn simd_rr(&mut self, op: SseOp, dst: Xmm, src: Xmm) {
        self.asm.packed(op, dst, dst, &XmmMem::Xmm(src));
    }

    /// CMPPS/CMPPD `dst, src` with predicate `predicate`: all ones in the
    /// lanes where `dst predicate src` holds, zeros elsewhere.
    fn simd_float_cmp(&mut self, shape: Shape, dst: Xmm, src: Xmm, predicate: u8) {
        match shape {
            Shape::F32x4 => self
                .asm
                .packed_imm(SseImmOp::Cmpps, dst, &XmmMem::Xmm(src), predicate),
            Shape::F64x2 => self
                .asm
                .packed_imm(SseImmOp::Cmppd, dst, &XmmMem::Xmm(src), predicate),
        }
    }

    /// Shifts every lane of `reg` right by `amount` bits, zeros in.
    fn simd_lane_shift_right(&mut self, shape: Shape, reg: Xmm, amount: u8) {
        match shape {
            Shape::F32x4 => self.asm.packed_shift_imm(SseShiftImmOp::Psrld, reg, amount),
            Shape::F64x2 => self.asm.packed_shift_imm(SseShiftImmOp::Psrlq, reg, amount),
        }
    }

    /// `sqrt`, in place.
    fn simd_float_sqrt(&mut self, shape: Shape) {
        let reg = self.pop_v128();
        match shape {
            Shape::F32x4 => self
                .asm
                .packed_unary(SseUnaryOp::Sqrtps, reg, &XmmMem::Xmm(reg)),
            Shape::F64x2 => self
                .asm
                .packed_unary(SseUnaryOp::Sqrtpd, reg, &XmmMem::Xmm(reg)),
        }
        self.push_v128(reg);
    }

    /// `abs` (sign bits cleared) or `neg` (sign bits flipped).
    fn simd_float_sign(&mut self, shape: Shape, negate: bool) {
        let reg = self.pop_v128();
        let (op, mask) = if negate {
            (shape.op(SseOp::Xorps, SseOp::Xorpd), shape.sign_bits())
        } else {
            (shape.op(SseOp::Andps, SseOp::Andpd), !shape.sign_bits())
        };
        let mask = self.v128_const_operand(mask);
        self.asm.packed(op, reg, reg, &mask);
        self.push_v128(reg);
    }

    /// Wasm's `min`: NaN if either lane is, `-0` below `+0` (the module
    /// docs derive the sequence). The result takes the right operand's
    /// register.
    fn simd_float_min(&mut self, shape: Shape) {
        let rhs = self.pop_v128();
        let lhs = self.pop_v128();
        let (min, or) = (
            shape.op(SseOp::Minps, SseOp::Minpd),
            shape.op(SseOp::Orps, SseOp::Orpd),
        );
        let merged = XMM_SCRATCH;
        // MINPS gives the second operand for NaN and for two zeros, so
        // one of the two orders has each NaN and each -0: OR keeps both (a
        // NaN ORed with anything is still a NaN).
        self.asm.movaps_rr(merged, lhs);
        self.simd_rr(min, merged, rhs);
        self.simd_rr(min, rhs, lhs);
        self.simd_rr(or, merged, rhs);
        // Canonicalize NaN lanes: all ones, then the payload below the
        // quiet bit cleared, which leaves 0xffc00000 (f64: its analogue).
        let mask = rhs;
        self.simd_float_cmp(shape, mask, merged, CMP_UNORD);
        self.simd_rr(or, merged, mask);
        self.simd_lane_shift_right(shape, mask, shape.payload_shift());
        self.simd_rr(shape.op(SseOp::Andnps, SseOp::Andnpd), mask, merged);
        self.free_xmm(lhs);
        self.push_v128(mask);
    }

    /// Wasm's `max`: NaN if either lane is, `+0` above `-0` (the module
    /// docs derive the sequence). The result takes the right operand's
    /// register.
    fn simd_float_max(&mut self, shape: Shape) {
        let rhs = self.pop_v128();
        let lhs = self.pop_v128();
        let max = shape.op(SseOp::Maxps, SseOp::Maxpd);
        let merged = XMM_SCRATCH;
        self.asm.movaps_rr(merged, lhs);
        self.simd_rr(max, merged, rhs);
        self.simd_rr(max, rhs, lhs);
        // Where the two orders differ: a NaN in one of them, or +0 in one
        // and -0 in the other (difference 0x80000000).
        let diff = rhs;
        self.simd_rr(shape.op(SseOp::Xorps, SseOp::Xorpd), diff, merged);
        // A NaN stays a NaN through OR and SUB (which also quiets it); a
        // zero pair becomes -0 | sign = -0, and -0 - -0 = +0. Elsewhere
        // `diff` is 0 and both steps keep `merged`.
        self.simd_rr(shape.op(SseOp::Orps, SseOp::Orpd), merged, diff);
        self.simd_rr(shape.op(SseOp::Subps, SseOp::Subpd), merged, diff);
        // Canonicalize NaN lanes: clear the payload below the quiet bit.
        let mask = diff;
        self.simd_float_cmp(shape, mask, merged, CMP_UNORD);
        self.simd_lane_shift_right(shape, mask, shape.payload_shift());
        self.simd_rr(shape.op(SseOp::Andnps, SseOp::Andnpd), mask, merged);
        self.free_xmm(lhs);
        self.push_v128(mask);
    }

    /// `pmin` (`op` MINPS/MINPD) and `pmax` (MAXPS/MAXPD): `op b, a` is
    /// `b < a ? b : a` (`b > a ? b : a` for max), exactly wasm's
    /// definitions, including the NaN and zero cases where `a` wins.
    fn simd_float_pseudo_min_max(&mut self, op: SseOp) {
        let rhs = self.pop_v128();
        let lhs = self.pop_v128();
        self.simd_rr(op, rhs, lhs);
        self.free_xmm(lhs);
        self.push_v128(rhs);
    }

    /// `ceil`, `floor`, `trunc`, `nearest`, in place.
    fn simd_float_round(&mut self, shape: Shape, mode: RoundMode) {
        let reg = self.pop_v128();
        match shape {
            Shape::F32x4 => self.asm.packed_unary_imm(
                SseUnaryImmOp::Roundps,
                reg,
                &XmmMem::Xmm(reg),
                mode.imm(),
            ),
            Shape::F64x2 => self.asm.packed_unary_imm(
                SseUnaryImmOp::Roundpd,
                reg,
                &XmmMem::Xmm(reg),
                mode.imm(),
            ),
        }
        self.push_v128(reg);
    }

    /// A comparison `lhs predicate rhs`, or `rhs predicate lhs` if
    /// `swapped` (`gt` is `rhs lt lhs`, `ge` is `rhs le lhs`).
    fn simd_float_compare(&mut self, shape: Shape, predicate: u8, swapped: bool) {
        let rhs = self.pop_v128();
        let lhs = self.pop_v128();
        let (dst, src) = if swapped { (rhs, lhs) } else { (lhs, rhs) };
        self.simd_float_cmp(shape, dst, src, predicate);
        self.free_xmm(src);
        self.push_v128(dst);
    }

    /// `i32x4.trunc_sat_f32x4_s` (see the module docs).
    fn i32x4_trunc_sat_f32x4_s(&mut self) {
        let reg = self.pop_v128();
        let mask = XMM_SCRATCH;
        // mask = ordered lanes; NaN lanes of `reg` become +0.
        self.asm.movaps_rr(mask, reg);
        self.asm
            .packed_imm(SseImmOp::Cmpps, mask, &XmmMem::Xmm(reg), CMP_EQ);
        self.asm.packed(SseOp::Andps, reg, reg, &XmmMem::Xmm(mask));
        // mask = !reg in ordered lanes (sign set where the input was
        // non-negative), 0 in NaN lanes.
        self.asm.packed(SseOp::Pxor, mask, mask, &XmmMem::Xmm(reg));
        self.asm
            .packed_unary(SseUnaryOp::Cvttps2dq, reg, &XmmMem::Xmm(reg));
        // All ones where a non-negative input gave 0x80000000 (upward
        // overflow), which then becomes 0x7fffffff.
        self.asm.packed(SseOp::Pand, mask, mask, &XmmMem::Xmm(reg));
        self.asm.packed_shift_imm(SseShiftImmOp::Psrad, mask, 31);
        self.asm.packed(SseOp::Pxor, reg, reg, &XmmMem::Xmm(mask));
        self.push_v128(reg);
    }

    /// `i32x4.trunc_sat_f32x4_u` (see the module docs).
    fn i32x4_trunc_sat_f32x4_u(&mut self) {
        let reg = self.pop_v128();
        let high = self.alloc_xmm();
        let bound = XMM_SCRATCH;
        // NaN and negative lanes to +0: MAXPS gives its second operand
        // for NaN.
        self.asm
            .packed(SseOp::Xorps, bound, bound, &XmmMem::Xmm(bound));
        self.asm.packed(SseOp::Maxps, reg, reg, &XmmMem::Xmm(bound));
        self.load_v128_const(bound, splat32(0x4f00_0000)); // 2^31
        self.asm.movaps_rr(high, reg);
        // Exact below 2^31; 0x80000000 from 2^31 on.
        self.asm
            .packed_unary(SseUnaryOp::Cvttps2dq, reg, &XmmMem::Xmm(reg));
        // high = x - 2^31, exact; bound = all ones where x >= 2^32.
        self.asm
            .packed(SseOp::Subps, high, high, &XmmMem::Xmm(bound));
        self.asm
            .packed_imm(SseImmOp::Cmpps, bound, &XmmMem::Xmm(high), CMP_LE);
        // Converted: negative below 2^31 (clamped to 0 next), the part
        // above 2^31 up to 2^32, and 0x80000000 ^ !0 = 0x7fffffff beyond.
        self.asm
            .packed_unary(SseUnaryOp::Cvttps2dq, high, &XmmMem::Xmm(high));
        self.asm
            .packed(SseOp::Pxor, high, high, &XmmMem::Xmm(bound));
        self.asm
            .packed(SseOp::Pxor, bound, bound, &XmmMem::Xmm(bound));
        self.asm
            .packed(SseOp::Pmaxsd, high, high, &XmmMem::Xmm(bound));
        self.asm.packed(SseOp::Paddd, reg, reg, &XmmMem::Xmm(high));
        self.free_xmm(high);
        self.push_v128(reg);
    }

    /// `i32x4.trunc_sat_f64x2_s_zero` (see the module docs).
    fn i32x4_trunc_sat_f64x2_s_zero(&mut self) {
        let reg = self.pop_v128();
        let bound = XMM_SCRATCH;
        // bound = 2147483647.0 in ordered lanes, +0 in NaN lanes.
        self.asm.movaps_rr(bound, reg);
        self.asm
            .packed_imm(SseImmOp::Cmppd, bound, &XmmMem::Xmm(reg), CMP_EQ);
        let max = self.v128_const_operand(splat64(2_147_483_647f64.to_bits()));
        self.asm.packed(SseOp::Andpd, bound, bound, &max);
        // MINPD gives its second operand for NaN: 0 there.
        self.asm.packed(SseOp::Minpd, reg, reg, &XmmMem::Xmm(bound));
        self.asm
            .packed_unary(SseUnaryOp::Cvttpd2dq, reg, &XmmMem::Xmm(reg));
        self.push_v128(reg);
    }

    /// `i32x4.trunc_sat_f64x2_u_zero` (see the module docs).
    fn i32x4_trunc_sat_f64x2_u_zero(&mut self) {
        let reg = self.pop_v128();
        let zero = XMM_SCRATCH;
        self.asm
            .packed(SseOp::Xorpd, zero, zero, &XmmMem::Xmm(zero));
        // NaN (MAXPD gives its second operand) and negative lanes to +0.
        self.asm.packed(SseOp::Maxpd, reg, reg, &XmmMem::Xmm(zero));
        let max = self.v128_const_operand(splat64(4_294_967_295f64.to_bits()));
        self.asm.packed(SseOp::Minpd, reg, reg, &max);
        self.asm.packed_unary_imm(
            SseUnaryImmOp::Roundpd,
            reg,
            &XmmMem::Xmm(reg),
            RoundMode::Zero.imm(),
        );
        // 2^52 + u: u in the low 32 bits of each lane; gather the two low
        // dwords into lanes 0 and 1, zeros into 2 and 3.
        let two_pow_52 = self.v128_const_operand(splat64(TWO_POW_52));
        self.asm.packed(SseOp::Addpd, reg, reg, &two_pow_52);
        self.asm
            .packed_imm(SseImmOp::Shufps, reg, &XmmMem::Xmm(zero), 0b10_00_10_00);
        self.push_v128(reg);
    }

    /// `f32x4.convert_i32x4_u` (see the module docs).
    fn f32x4_convert_i32x4_u(&mut self) {
        let reg = self.pop_v128();
        let low = XMM_SCRATCH;
        self.asm.movaps_rr(low, reg);
        self.asm.packed_shift_imm(SseShiftImmOp::Pslld, low, 16);
        self.asm.packed_shift_imm(SseShiftImmOp::Psrld, low, 16);
        // reg = the high 16 bits (low ones clear); both parts convert
        // exactly, the high one halved to fit an i32 and doubled after.
        self.asm.packed(SseOp::Psubd, reg, reg, &XmmMem::Xmm(low));
        self.asm
            .packed_unary(SseUnaryOp::Cvtdq2ps, low, &XmmMem::Xmm(low));
        self.asm.packed_shift_imm(SseShiftImmOp::Psrld, reg, 1);
        self.asm
            .packed_unary(SseUnaryOp::Cvtdq2ps, reg, &XmmMem::Xmm(reg));
        self.asm.packed(SseOp::Addps, reg, reg, &XmmMem::Xmm(reg));
        // The only rounding step.
        self.asm.packed(SseOp::Addps, reg, reg, &XmmMem::Xmm(low));
        self.push_v128(reg);
    }

    /// `f64x2.convert_low_i32x4_u` (see the module docs).
    fn f64x2_convert_low_i32x4_u(&mut self) {
        let reg = self.pop_v128();
        let high_words = self.v128_const_operand(splat32(0x4330_0000));
        self.asm.packed(SseOp::Unpcklps, reg, reg, &high_words);
        let two_pow_52 = self.v128_const_operand(splat64(TWO_POW_52));
        self.asm.packed(SseOp::Subpd, reg, reg, &two_pow_52);
        self.push_v128(reg);
    }

    /// `relaxed_madd` (`a * b + c`) or `relaxed_nmadd` (`c - a * b`),
    /// unfused: rounded after the multiply and after the add.
    fn simd_float_madd(&mut self, shape: Shape, negate: bool) {
        let c = self.pop_v128();
        let b = self.pop_v128();
        let a = self.pop_v128();
        self.simd_rr(shape.op(SseOp::Mulps, SseOp::Mulpd), a, b);
        self.free_xmm(b);
        if negate {
            self.simd_rr(shape.op(SseOp::Subps, SseOp::Subpd), c, a);
            self.free_xmm(a);
            self.push_v128(c);
        } else {
            self.simd_rr(shape.op(SseOp::Addps, SseOp::Addpd), a, c);
            self.free_xmm(c);
            self.push_v128(a);
        }
    }
}
