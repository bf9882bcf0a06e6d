//! Integer SIMD operators: arithmetic (saturating too), multiplies,
//! `extmul`, `extadd_pairwise`, `q15mulr_sat_s`, `dot`, min/max, `abs`,
//! `avgr_u`, `popcnt`, comparisons, shifts, `bitselect`,
//! `any_true`/`all_true`, `bitmask`, narrowing and extension, and the
//! integer operators of relaxed SIMD.
//!
//! Every sequence runs on SSE4.1 (SSE4.2's `pcmpgtq` is taken where the
//! CPU has it, with an SSE4.1 sequence otherwise). Most operators are one
//! SSE form, the result replacing the left operand in its register; where
//! SSE4.1 has no form, or one that differs from WebAssembly, the sequence
//! is built as follows.
//!
//! * **`i64x2.mul`**: `pmuludq` multiplies the low 32 bits of each
//!   quadword. With `a = ah:al` and `b = bh:bl`, the product mod 2^64 is
//!   `al*bl + ((ah*bl + al*bh) << 32)`: three `pmuludq`, the high halves
//!   brought down with `psrlq 32`.
//! * **`abs`**: `pabsb/w/d` (SSSE3; `abs(MIN) = MIN` as wasm wants). For
//!   `i64x2` (no `pabsq`), the sign of each lane is spread over it
//!   (`pshufd` copying the high doublewords, `psrad 31`) and
//!   `abs = (a ^ sign) - sign`.
//! * **`neg`**: `0 - a`.
//! * **`popcnt`**: a nibble lookup: `pshufb` of a 16-byte table of the
//!   nibble counts, indexed once by the low nibbles and once by the high
//!   nibbles (shifted down with `psrlw 4` and masked, since `psrlw` moves
//!   bits across bytes), the two counts added.
//! * **Comparisons** give all ones or all zeros per lane. `eq` is `pcmpeq`,
//!   `ne` its complement, `gt_s` is `pcmpgt` and `lt_s` the same with the
//!   operands swapped. `ge` and `le` (signed and unsigned) are
//!   `max(a, b) == a` and `min(a, b) == a` (`pmax`/`pmin`, complete for
//!   8, 16 and 32 bits on SSE4.1), so they need no complement. `gt_u` and
//!   `lt_u` flip the sign bit of both operands (`pxor` with the lane's
//!   minimum), which maps unsigned order onto signed order, then use
//!   `pcmpgt`.
//! * **`i64x2` `gt_s`** without SSE4.2: per quadword, `a > b` is
//!   `ah > bh`, or `ah == bh` and `al >u bl`. In doublewords:
//!
//!   ```text
//!   t  = (b - a) & (a ==d b)   high half: 0 - borrow(bl - al) if ah == bh, else 0
//!   gt = (a >d b) | t          high half: the answer, all ones or zeros
//!   result = pshufd gt, 0xf5   each quadword's high half copied over it
//!   ```
//!
//!   When `ah == bh`, the high half of `b - a` is `0 - borrow`, all ones
//!   exactly when `bl <u al`; when they differ, `a ==d b` is zero there and
//!   `a >d b` (signed doublewords) is the answer. `lt_s` swaps the
//!   operands, `le_s` and `ge_s` complement `gt_s` and `lt_s`.
//! * **Shifts** mask the count to the lane width. A constant count becomes
//!   the immediate form; otherwise the count is masked in its GPR and moved
//!   (`movd`) into the scratch XMM register, whose low 64 bits the
//!   register forms read. x86 has no byte shifts:
//!   * `i8x16.shl`/`shr_u` shift words (`psllw`/`psrlw`) and clear, in
//!     every byte, the bits that came from its neighbour: the mask is
//!     `0xff << n` (or `0xff >> n`) in every byte, a constant for a
//!     constant count; for a variable count it is made by shifting all-ones
//!     words by the same count and spreading the byte that holds the mask
//!     (`punpcklbw`, `pshuflw`, `pshufd`; or, for `shr_u`, `psrlw 8` and
//!     `packuswb`).
//!   * `i8x16.shr_s` doubles each byte into a word (`punpcklbw`/
//!     `punpckhbw` of the vector with itself, so the byte is the word's
//!     high half), shifts the words arithmetically by `n + 8` and packs
//!     them back (`packsswb`, exact since every word fits a byte).
//!   * `i64x2.shr_s` (no `psraq`): a logical shift, then sign extension
//!     from bit `63 - n`: with `m = 2^63 >> n`,
//!     `(x >>u n ^ m) - m`.
//! * **`bitselect`** (and every `relaxed_laneselect`): `(a & c) | (b & !c)`
//!   with `pand`, `pandn`, `por`.
//! * **`any_true`** is `ptest a, a` (ZF clear when some bit is set);
//!   **`all_true`** compares every lane with zero (`pcmpeq` with a zero
//!   register) and is true when no lane matched (`ptest`). Their result
//!   stays pending in the flags like an integer comparison's (see
//!   `CodeGen::set_pending_condition`), so `br_if` and `if` branch on it
//!   directly.
//! * **`bitmask`**: `pmovmskb` (bytes), `movmskps`/`movmskpd` (32 and 64
//!   bits, the sign bits of the lanes); for `i16x8`, `packsswb` of the
//!   vector with itself keeps each word's sign in a byte, and `pmovmskb`
//!   reads the low 8 bytes (masked to 8 bits).
//! * **Narrowing**: `packsswb`/`packuswb`/`packssdw`/`packusdw` saturate
//!   signed inputs exactly as wasm's `narrow_s`/`narrow_u` do.
//! * **Extension**: `pmovsx`/`pmovzx` read the low half; for the high half
//!   the vector is first shifted down 8 bytes (`psrldq`).
//! * **`extmul`**: both operands extended, then `pmullw`/`pmulld`; for
//!   `i64x2`, `pshufd` places each doubleword in the low half of its
//!   quadword and `pmuldq`/`pmuludq` multiply them to 64 bits.
//! * **`extadd_pairwise`**: `pmaddubsw` with ones bytes (bytes
//!   from `i8x16`: the unsigned operand is the destination, so `_s` puts the
//!   ones there and `_u` the vector; no sum can saturate) and `pmaddwd`
//!   with ones words (from `i16x8`; `_u` first biases each word by
//!   `-0x8000` with `pxor` and adds the `2 * 0x8000` back with `paddd`).
//! * **`q15mulr_sat_s`**: `pmulhrsw` computes `(a * b + 0x4000) >> 15`
//!   exactly, except that `0x8000 * 0x8000` gives `0x8000` where wasm
//!   saturates to `0x7fff`; no other product gives `0x8000`, so lanes equal
//!   to `0x8000` afterwards are flipped (`pcmpeqw`, `pxor`).
//! * **`dot_i16x8_s`**: `pmaddwd` (its one overflow, `2 * 0x8000^2`, wraps
//!   as wasm's does).
//!
//! The relaxed dot products (their behaviour is `duet_environ::simd`'s):
//!
//! * `i16x8.relaxed_dot_i8x16_i7x16_s a b` is `pmaddubsw b, a`: `b`'s bytes
//!   unsigned, `a`'s signed, and the 16-bit pair sums saturating;
//! * `i32x4.relaxed_dot_i8x16_i7x16_add_s a b c` is that, then `pmaddwd`
//!   with ones words (the pairs of 16-bit sums, sign-extended and added to
//!   32 bits), then `paddd c`.

use super::Compiled;
use crate::codegen::CodeGen;
use crate::regs::XMM_SCRATCH;
use crate::stack::Val;
use cranelift_asm::x64::{
    CC, Feature, GprMem, OperandSize, SseMoveMaskOp, SseOp, SseShiftImmOp, SseTestOp,
    SseUnaryImmOp, SseUnaryOp, Xmm, XmmMem,
};
use wasmparser::Operator;

/// The lane width of an integer vector shape.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
enum Shape {
    I8x16,
    I16x8,
    I32x4,
    I64x2,
}

impl Shape {
    /// The lane width in bits.
    fn bits(self) -> u32 {
        match self {
            Shape::I8x16 => 8,
            Shape::I16x8 => 16,
            Shape::I32x4 => 32,
            Shape::I64x2 => 64,
        }
    }

    /// `lane` in every lane.
    fn splat(self, lane: u64) -> u128 {
        super::splat_bits(lane, (self.bits() / 8) as u8)
    }

    /// The lane's minimum signed value (only its sign bit set).
    fn sign_bit(self) -> u64 {
        1 << (self.bits() - 1)
    }

    fn sub(self) -> SseOp {
        self.pick([SseOp::Psubb, SseOp::Psubw, SseOp::Psubd, SseOp::Psubq])
    }

    fn cmp_eq(self) -> SseOp {
        self.pick([
            SseOp::Pcmpeqb,
            SseOp::Pcmpeqw,
            SseOp::Pcmpeqd,
            SseOp::Pcmpeqq,
        ])
    }

    /// Signed greater-than (for `i64x2` SSE4.2's form: see `i64x2_gt_s`).
    fn cmp_gt(self) -> SseOp {
        self.pick([
            SseOp::Pcmpgtb,
            SseOp::Pcmpgtw,
            SseOp::Pcmpgtd,
            SseOp::Pcmpgtq,
        ])
    }

    /// `pmin`/`pmax`, signed or unsigned (8 to 32 bits only).
    fn min_max(self, max: bool, signed: bool) -> SseOp {
        match (max, signed) {
            (false, true) => {
                self.pick([SseOp::Pminsb, SseOp::Pminsw, SseOp::Pminsd, SseOp::Pminsd])
            }
            (false, false) => {
                self.pick([SseOp::Pminub, SseOp::Pminuw, SseOp::Pminud, SseOp::Pminud])
            }
            (true, true) => self.pick([SseOp::Pmaxsb, SseOp::Pmaxsw, SseOp::Pmaxsd, SseOp::Pmaxsd]),
            (true, false) => {
                self.pick([SseOp::Pmaxub, SseOp::Pmaxuw, SseOp::Pmaxud, SseOp::Pmaxud])
            }
        }
    }

    fn pick<T>(self, [b, w, d, q]: [T; 4]) -> T {
        match self {
            Shape::I8x16 => b,
            Shape::I16x8 => w,
            Shape::I32x4 => d,
            Shape::I64x2 => q,
        }
    }
}

/// An integer lane comparison.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
enum IntCompare {
    Eq,
    Ne,
    LtS,
    LtU,
    GtS,
    GtU,
    LeS,
    LeU,
    GeS,
    GeU,
}

/// A lane shift.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
enum Shift {
    Shl,
    ShrS,
    ShrU,
}

/// A shift count: a constant already masked to the lane width, or (the
/// masked count) in the low quadword of `XMM_SCRATCH`.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
enum Count {
    Imm(u8),
    Scratch,
}

/// Which half of the vector an extension or `extmul` reads.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
enum Half {
    Low,
    High,
}

/// The nibble population counts, for `i8x16.popcnt`'s `pshufb`.
const NIBBLE_POPCOUNTS: u128 =
    u128::from_le_bytes([0, 1, 1, 2, 1, 2, 2, 3, 1, 2, 2, 3, 2, 3, 3, 4]);

impl CodeGen<'_> {
    /// Compiles `op` if it is one of this module's operators.
    pub(super) fn compile_simd_int(&mut self, op: &Operator<'_>) -> Compiled {
        use IntCompare as C;
        use Operator as O;
        use Shape::*;
        match *op {
            // ---- Arithmetic ----
            O::I8x16Add => self.v128_binop(SseOp::Paddb),
            O::I16x8Add => self.v128_binop(SseOp::Paddw),
            O::I32x4Add => self.v128_binop(SseOp::Paddd),
            O::I64x2Add => self.v128_binop(SseOp::Paddq),
            O::I8x16Sub => self.v128_binop(SseOp::Psubb),
            O::I16x8Sub => self.v128_binop(SseOp::Psubw),
            O::I32x4Sub => self.v128_binop(SseOp::Psubd),
            O::I64x2Sub => self.v128_binop(SseOp::Psubq),
            O::I8x16Neg => self.simd_int_neg(I8x16),
            O::I16x8Neg => self.simd_int_neg(I16x8),
            O::I32x4Neg => self.simd_int_neg(I32x4),
            O::I64x2Neg => self.simd_int_neg(I64x2),
            O::I16x8Mul => self.v128_binop(SseOp::Pmullw),
            O::I32x4Mul => self.v128_binop(SseOp::Pmulld),
            O::I64x2Mul => self.i64x2_mul(),
            O::I8x16AddSatS => self.v128_binop(SseOp::Paddsb),
            O::I8x16AddSatU => self.v128_binop(SseOp::Paddusb),
            O::I8x16SubSatS => self.v128_binop(SseOp::Psubsb),
            O::I8x16SubSatU => self.v128_binop(SseOp::Psubusb),
            O::I16x8AddSatS => self.v128_binop(SseOp::Paddsw),
            O::I16x8AddSatU => self.v128_binop(SseOp::Paddusw),
            O::I16x8SubSatS => self.v128_binop(SseOp::Psubsw),
            O::I16x8SubSatU => self.v128_binop(SseOp::Psubusw),
            O::I8x16AvgrU => self.v128_binop(SseOp::Pavgb),
            O::I16x8AvgrU => self.v128_binop(SseOp::Pavgw),
            O::I8x16MinS => self.v128_binop(SseOp::Pminsb),
            O::I8x16MinU => self.v128_binop(SseOp::Pminub),
            O::I8x16MaxS => self.v128_binop(SseOp::Pmaxsb),
            O::I8x16MaxU => self.v128_binop(SseOp::Pmaxub),
            O::I16x8MinS => self.v128_binop(SseOp::Pminsw),
            O::I16x8MinU => self.v128_binop(SseOp::Pminuw),
            O::I16x8MaxS => self.v128_binop(SseOp::Pmaxsw),
            O::I16x8MaxU => self.v128_binop(SseOp::Pmaxuw),
            O::I32x4MinS => self.v128_binop(SseOp::Pminsd),
            O::I32x4MinU => self.v128_binop(SseOp::Pminud),
            O::I32x4MaxS => self.v128_binop(SseOp::Pmaxsd),
            O::I32x4MaxU => self.v128_binop(SseOp::Pmaxud),
            O::I8x16Abs => self.simd_int_unary(SseUnaryOp::Pabsb),
            O::I16x8Abs => self.simd_int_unary(SseUnaryOp::Pabsw),
            O::I32x4Abs => self.simd_int_unary(SseUnaryOp::Pabsd),
            O::I64x2Abs => self.i64x2_abs(),
            O::I8x16Popcnt => self.i8x16_popcnt(),

            // ---- Comparisons ----
            O::I8x16Eq => self.simd_int_compare(I8x16, C::Eq),
            O::I8x16Ne => self.simd_int_compare(I8x16, C::Ne),
            O::I8x16LtS => self.simd_int_compare(I8x16, C::LtS),
            O::I8x16LtU => self.simd_int_compare(I8x16, C::LtU),
            O::I8x16GtS => self.simd_int_compare(I8x16, C::GtS),
            O::I8x16GtU => self.simd_int_compare(I8x16, C::GtU),
            O::I8x16LeS => self.simd_int_compare(I8x16, C::LeS),
            O::I8x16LeU => self.simd_int_compare(I8x16, C::LeU),
            O::I8x16GeS => self.simd_int_compare(I8x16, C::GeS),
            O::I8x16GeU => self.simd_int_compare(I8x16, C::GeU),
            O::I16x8Eq => self.simd_int_compare(I16x8, C::Eq),
            O::I16x8Ne => self.simd_int_compare(I16x8, C::Ne),
            O::I16x8LtS => self.simd_int_compare(I16x8, C::LtS),
            O::I16x8LtU => self.simd_int_compare(I16x8, C::LtU),
            O::I16x8GtS => self.simd_int_compare(I16x8, C::GtS),
            O::I16x8GtU => self.simd_int_compare(I16x8, C::GtU),
            O::I16x8LeS => self.simd_int_compare(I16x8, C::LeS),
            O::I16x8LeU => self.simd_int_compare(I16x8, C::LeU),
            O::I16x8GeS => self.simd_int_compare(I16x8, C::GeS),
            O::I16x8GeU => self.simd_int_compare(I16x8, C::GeU),
            O::I32x4Eq => self.simd_int_compare(I32x4, C::Eq),
            O::I32x4Ne => self.simd_int_compare(I32x4, C::Ne),
            O::I32x4LtS => self.simd_int_compare(I32x4, C::LtS),
            O::I32x4LtU => self.simd_int_compare(I32x4, C::LtU),
            O::I32x4GtS => self.simd_int_compare(I32x4, C::GtS),
            O::I32x4GtU => self.simd_int_compare(I32x4, C::GtU),
            O::I32x4LeS => self.simd_int_compare(I32x4, C::LeS),
            O::I32x4LeU => self.simd_int_compare(I32x4, C::LeU),
            O::I32x4GeS => self.simd_int_compare(I32x4, C::GeS),
            O::I32x4GeU => self.simd_int_compare(I32x4, C::GeU),
            O::I64x2Eq => self.simd_int_compare(I64x2, C::Eq),
            O::I64x2Ne => self.simd_int_compare(I64x2, C::Ne),
            O::I64x2LtS => self.simd_int_compare(I64x2, C::LtS),
            O::I64x2GtS => self.simd_int_compare(I64x2, C::GtS),
            O::I64x2LeS => self.simd_int_compare(I64x2, C::LeS),
            O::I64x2GeS => self.simd_int_compare(I64x2, C::GeS),

            // ---- Shifts ----
            O::I8x16Shl => self.simd_int_shift(I8x16, Shift::Shl),
            O::I8x16ShrS => self.simd_int_shift(I8x16, Shift::ShrS),
            O::I8x16ShrU => self.simd_int_shift(I8x16, Shift::ShrU),
            O::I16x8Shl => self.simd_int_shift(I16x8, Shift::Shl),
            O::I16x8ShrS => self.simd_int_shift(I16x8, Shift::ShrS),
            O::I16x8ShrU => self.simd_int_shift(I16x8, Shift::ShrU),
            O::I32x4Shl => self.simd_int_shift(I32x4, Shift::Shl),
            O::I32x4ShrS => self.simd_int_shift(I32x4, Shift::ShrS),
            O::I32x4ShrU => self.simd_int_shift(I32x4, Shift::ShrU),
            O::I64x2Shl => self.simd_int_shift(I64x2, Shift::Shl),
            O::I64x2ShrS => self.simd_int_shift(I64x2, Shift::ShrS),
            O::I64x2ShrU => self.simd_int_shift(I64x2, Shift::ShrU),

            // ---- Whole-vector tests, lane selection, masks ----
            O::V128Bitselect => self.v128_bitselect(),
            O::V128AnyTrue => self.v128_any_true(),
            O::I8x16AllTrue => self.simd_int_all_true(I8x16),
            O::I16x8AllTrue => self.simd_int_all_true(I16x8),
            O::I32x4AllTrue => self.simd_int_all_true(I32x4),
            O::I64x2AllTrue => self.simd_int_all_true(I64x2),
            O::I8x16Bitmask => self.simd_int_bitmask(I8x16),
            O::I16x8Bitmask => self.simd_int_bitmask(I16x8),
            O::I32x4Bitmask => self.simd_int_bitmask(I32x4),
            O::I64x2Bitmask => self.simd_int_bitmask(I64x2),

            // ---- Narrowing and extension ----
            O::I8x16NarrowI16x8S => self.v128_binop(SseOp::Packsswb),
            O::I8x16NarrowI16x8U => self.v128_binop(SseOp::Packuswb),
            O::I16x8NarrowI32x4S => self.v128_binop(SseOp::Packssdw),
            O::I16x8NarrowI32x4U => self.v128_binop(SseOp::Packusdw),
            O::I16x8ExtendLowI8x16S => self.simd_int_extend(SseUnaryOp::Pmovsxbw, Half::Low),
            O::I16x8ExtendHighI8x16S => self.simd_int_extend(SseUnaryOp::Pmovsxbw, Half::High),
            O::I16x8ExtendLowI8x16U => self.simd_int_extend(SseUnaryOp::Pmovzxbw, Half::Low),
            O::I16x8ExtendHighI8x16U => self.simd_int_extend(SseUnaryOp::Pmovzxbw, Half::High),
            O::I32x4ExtendLowI16x8S => self.simd_int_extend(SseUnaryOp::Pmovsxwd, Half::Low),
            O::I32x4ExtendHighI16x8S => self.simd_int_extend(SseUnaryOp::Pmovsxwd, Half::High),
            O::I32x4ExtendLowI16x8U => self.simd_int_extend(SseUnaryOp::Pmovzxwd, Half::Low),
            O::I32x4ExtendHighI16x8U => self.simd_int_extend(SseUnaryOp::Pmovzxwd, Half::High),
            O::I64x2ExtendLowI32x4S => self.simd_int_extend(SseUnaryOp::Pmovsxdq, Half::Low),
            O::I64x2ExtendHighI32x4S => self.simd_int_extend(SseUnaryOp::Pmovsxdq, Half::High),
            O::I64x2ExtendLowI32x4U => self.simd_int_extend(SseUnaryOp::Pmovzxdq, Half::Low),
            O::I64x2ExtendHighI32x4U => self.simd_int_extend(SseUnaryOp::Pmovzxdq, Half::High),

            // ---- Widening multiplies and sums ----
            O::I16x8ExtMulLowI8x16S => {
                self.simd_int_extmul(SseUnaryOp::Pmovsxbw, SseOp::Pmullw, Half::Low)
            }
            O::I16x8ExtMulHighI8x16S => {
                self.simd_int_extmul(SseUnaryOp::Pmovsxbw, SseOp::Pmullw, Half::High)
            }
            O::I16x8ExtMulLowI8x16U => {
                self.simd_int_extmul(SseUnaryOp::Pmovzxbw, SseOp::Pmullw, Half::Low)
            }
            O::I16x8ExtMulHighI8x16U => {
                self.simd_int_extmul(SseUnaryOp::Pmovzxbw, SseOp::Pmullw, Half::High)
            }
            O::I32x4ExtMulLowI16x8S => {
                self.simd_int_extmul(SseUnaryOp::Pmovsxwd, SseOp::Pmulld, Half::Low)
            }
            O::I32x4ExtMulHighI16x8S => {
                self.simd_int_extmul(SseUnaryOp::Pmovsxwd, SseOp::Pmulld, Half::High)
            }
            O::I32x4ExtMulLowI16x8U => {
                self.simd_int_extmul(SseUnaryOp::Pmovzxwd, SseOp::Pmulld, Half::Low)
            }
            O::I32x4ExtMulHighI16x8U => {
                self.simd_int_extmul(SseUnaryOp::Pmovzxwd, SseOp::Pmulld, Half::High)
            }
            O::I64x2ExtMulLowI32x4S => self.i64x2_extmul(SseOp::Pmuldq, Half::Low),
            O::I64x2ExtMulHighI32x4S => self.i64x2_extmul(SseOp::Pmuldq, Half::High),
            O::I64x2ExtMulLowI32x4U => self.i64x2_extmul(SseOp::Pmuludq, Half::Low),
            O::I64x2ExtMulHighI32x4U => self.i64x2_extmul(SseOp::Pmuludq, Half::High),
            O::I16x8ExtAddPairwiseI8x16S => self.extadd_pairwise_i8x16(true),
            O::I16x8ExtAddPairwiseI8x16U => self.extadd_pairwise_i8x16(false),
            O::I32x4ExtAddPairwiseI16x8S => self.extadd_pairwise_i16x8(true),
            O::I32x4ExtAddPairwiseI16x8U => self.extadd_pairwise_i16x8(false),
            O::I16x8Q15MulrSatS => self.q15mulr_sat_s(),
            O::I32x4DotI16x8S => self.v128_binop(SseOp::Pmaddwd),
            O::I16x8RelaxedDotI8x16I7x16S => self.relaxed_dot_i8x16_i7x16(false),
            O::I32x4RelaxedDotI8x16I7x16AddS => self.relaxed_dot_i8x16_i7x16(true),
            _ => return None,
        }
        Some(Ok(()))
    }

    // ---- Small helpers ----------------------------------------------------

    /// `op a, a` for a form that writes its destination from its source
    /// alone.
    fn simd_int_unary(&mut self, op: SseUnaryOp) {
        let src = self.pop_v128();
        self.asm.packed_unary(op, src, &XmmMem::Xmm(src));
        self.push_v128(src);
    }

    /// Complements `reg` (through `XMM_SCRATCH`).
    fn simd_int_complement(&mut self, reg: Xmm) {
        self.xmm_all_ones(XMM_SCRATCH);
        self.asm
            .packed(SseOp::Pxor, reg, reg, &XmmMem::Xmm(XMM_SCRATCH));
    }

    // ---- Arithmetic ---------------------------------------------------------

    /// `neg`: `0 - a`.
    fn simd_int_neg(&mut self, shape: Shape) {
        let src = self.pop_v128();
        self.xmm_zero(XMM_SCRATCH);
        self.asm
            .packed(shape.sub(), XMM_SCRATCH, XMM_SCRATCH, &XmmMem::Xmm(src));
        self.asm.movaps_rr(src, XMM_SCRATCH);
        self.push_v128(src);
    }

    /// `i64x2.mul`: `al*bl + ((ah*bl + al*bh) << 32)` from three
    /// `pmuludq`.
    fn i64x2_mul(&mut self) {
        let rhs = self.pop_v128();
        let lhs = self.pop_v128();
        let cross = self.alloc_xmm();
        // cross = ah * bl
        self.asm.movaps_rr(cross, lhs);
        self.asm.packed_shift_imm(SseShiftImmOp::Psrlq, cross, 32);
        self.asm
            .packed(SseOp::Pmuludq, cross, cross, &XmmMem::Xmm(rhs));
        // scratch = bh * al
        self.asm.movaps_rr(XMM_SCRATCH, rhs);
        self.asm
            .packed_shift_imm(SseShiftImmOp::Psrlq, XMM_SCRATCH, 32);
        self.asm
            .packed(SseOp::Pmuludq, XMM_SCRATCH, XMM_SCRATCH, &XmmMem::Xmm(lhs));
        self.asm
            .packed(SseOp::Paddq, cross, cross, &XmmMem::Xmm(XMM_SCRATCH));
        self.asm.packed_shift_imm(SseShiftImmOp::Psllq, cross, 32);
        // lhs = al * bl + cross
        self.asm.packed(SseOp::Pmuludq, lhs, lhs, &XmmMem::Xmm(rhs));
        self.asm.packed(SseOp::Paddq, lhs, lhs, &XmmMem::Xmm(cross));
        self.free_xmm(cross);
        self.free_xmm(rhs);
        self.push_v128(lhs);
    }

    /// `i64x2.abs`: `(a ^ sign) - sign`, `sign` each lane's sign bit spread
    /// over it.
    fn i64x2_abs(&mut self) {
        let src = self.pop_v128();
        // Doublewords 1, 1, 3, 3: each quadword's high half, twice.
        self.asm
            .packed_unary_imm(SseUnaryImmOp::Pshufd, XMM_SCRATCH, &XmmMem::Xmm(src), 0xf5);
        self.asm
            .packed_shift_imm(SseShiftImmOp::Psrad, XMM_SCRATCH, 31);
        self.asm
            .packed(SseOp::Pxor, src, src, &XmmMem::Xmm(XMM_SCRATCH));
        self.asm
            .packed(SseOp::Psubq, src, src, &XmmMem::Xmm(XMM_SCRATCH));
        self.push_v128(src);
    }

    /// `i8x16.popcnt`: the nibble counts looked up with `pshufb` and added.
    fn i8x16_popcnt(&mut self) {
        let src = self.pop_v128();
        let low_counts = self.alloc_xmm();
        let low_nibbles = self.v128_const_operand(Shape::I8x16.splat(0x0f));
        // Scratch: the high nibbles, moved down. `src`: the low nibbles.
        self.asm.movaps_rr(XMM_SCRATCH, src);
        self.asm
            .packed_shift_imm(SseShiftImmOp::Psrlw, XMM_SCRATCH, 4);
        self.asm
            .packed(SseOp::Pand, XMM_SCRATCH, XMM_SCRATCH, &low_nibbles);
        self.asm.packed(SseOp::Pand, src, src, &low_nibbles);
        self.load_v128_const(low_counts, NIBBLE_POPCOUNTS);
        self.asm
            .packed(SseOp::Pshufb, low_counts, low_counts, &XmmMem::Xmm(src));
        self.load_v128_const(src, NIBBLE_POPCOUNTS);
        self.asm
            .packed(SseOp::Pshufb, src, src, &XmmMem::Xmm(XMM_SCRATCH));
        self.asm
            .packed(SseOp::Paddb, src, src, &XmmMem::Xmm(low_counts));
        self.free_xmm(low_counts);
        self.push_v128(src);
    }

    // ---- Comparisons --------------------------------------------------------

    /// A lane comparison: all ones where it holds, zeros elsewhere.
    fn simd_int_compare(&mut self, shape: Shape, cmp: IntCompare) {
        let rhs = self.pop_v128();
        let lhs = self.pop_v128();
        let result = match cmp {
            IntCompare::Eq | IntCompare::Ne => {
                self.asm.packed(shape.cmp_eq(), lhs, lhs, &XmmMem::Xmm(rhs));
                if cmp == IntCompare::Ne {
                    self.simd_int_complement(lhs);
                }
                lhs
            }
            IntCompare::GtS => {
                self.simd_int_signed_gt(shape, lhs, rhs);
                lhs
            }
            IntCompare::LtS => {
                self.simd_int_signed_gt(shape, rhs, lhs);
                rhs
            }
            // i64x2 has no pmin/pmax: the complement of the strict
            // comparison.
            IntCompare::GeS if shape == Shape::I64x2 => {
                self.simd_int_signed_gt(shape, rhs, lhs);
                self.simd_int_complement(rhs);
                rhs
            }
            IntCompare::LeS if shape == Shape::I64x2 => {
                self.simd_int_signed_gt(shape, lhs, rhs);
                self.simd_int_complement(lhs);
                lhs
            }
            IntCompare::GeS | IntCompare::GeU | IntCompare::LeS | IntCompare::LeU => {
                // max(a, b) == a, min(a, b) == a
                let max = matches!(cmp, IntCompare::GeS | IntCompare::GeU);
                let signed = matches!(cmp, IntCompare::GeS | IntCompare::LeS);
                self.asm.movaps_rr(XMM_SCRATCH, lhs);
                self.asm.packed(
                    shape.min_max(max, signed),
                    XMM_SCRATCH,
                    XMM_SCRATCH,
                    &XmmMem::Xmm(rhs),
                );
                self.asm
                    .packed(shape.cmp_eq(), lhs, lhs, &XmmMem::Xmm(XMM_SCRATCH));
                lhs
            }
            IntCompare::GtU | IntCompare::LtU => {
                // Flipping the sign bits maps unsigned order to signed order.
                let bias = self.v128_const_operand(shape.splat(shape.sign_bit()));
                self.asm.packed(SseOp::Pxor, lhs, lhs, &bias);
                self.asm.packed(SseOp::Pxor, rhs, rhs, &bias);
                if cmp == IntCompare::GtU {
                    self.simd_int_signed_gt(shape, lhs, rhs);
                    lhs
                } else {
                    self.simd_int_signed_gt(shape, rhs, lhs);
                    rhs
                }
            }
        };
        self.free_xmm(if result == lhs { rhs } else { lhs });
        self.push_v128(result);
    }

    /// `dst = dst > src` (signed lanes); `src` is left as it was.
    fn simd_int_signed_gt(&mut self, shape: Shape, dst: Xmm, src: Xmm) {
        if shape != Shape::I64x2 || self.asm.features().has(Feature::Sse42) {
            self.asm.packed(shape.cmp_gt(), dst, dst, &XmmMem::Xmm(src));
            return;
        }
        // SSE4.1: see the module docs.
        let equal = self.alloc_xmm();
        self.asm.movaps_rr(XMM_SCRATCH, src);
        self.asm
            .packed(SseOp::Psubq, XMM_SCRATCH, XMM_SCRATCH, &XmmMem::Xmm(dst));
        self.asm.movaps_rr(equal, dst);
        self.asm
            .packed(SseOp::Pcmpeqd, equal, equal, &XmmMem::Xmm(src));
        self.asm
            .packed(SseOp::Pand, XMM_SCRATCH, XMM_SCRATCH, &XmmMem::Xmm(equal));
        self.asm.packed(SseOp::Pcmpgtd, dst, dst, &XmmMem::Xmm(src));
        self.asm
            .packed(SseOp::Por, dst, dst, &XmmMem::Xmm(XMM_SCRATCH));
        self.asm
            .packed_unary_imm(SseUnaryImmOp::Pshufd, dst, &XmmMem::Xmm(dst), 0xf5);
        self.free_xmm(equal);
    }

    // ---- Shifts -------------------------------------------------------------

    /// A shift of every lane by the `i32` count on top of the stack, masked
    /// to the lane width.
    fn simd_int_shift(&mut self, shape: Shape, shift: Shift) {
        let mask = shape.bits() - 1;
        let count = if let Some(&Val::I32(count)) = self.stack.last() {
            self.stack.pop();
            Some(count as u32 & mask)
        } else {
            None
        };
        let count_reg = count.is_none().then(|| self.pop_gpr());
        let src = self.pop_v128();
        let count = match (count, count_reg) {
            (Some(n), _) => Count::Imm(n as u8),
            (None, Some(reg)) => {
                self.asm.and_ri(OperandSize::S32, reg, mask as i32);
                if shape == Shape::I8x16 && shift == Shift::ShrS {
                    // The bytes are shifted as the high halves of words.
                    self.asm.add_ri(OperandSize::S32, reg, 8);
                }
                self.asm
                    .movd_to_xmm(OperandSize::S32, XMM_SCRATCH, &GprMem::Gpr(reg));
                self.free_gpr(reg);
                Count::Scratch
            }
            (None, None) => unreachable!("a count that is no constant is popped"),
        };
        let result = match (shape, shift) {
            (Shape::I8x16, Shift::ShrS) => self.i8x16_shr_s(src, count),
            (Shape::I8x16, _) => {
                self.i8x16_shift_logical(src, shift, count);
                src
            }
            (Shape::I64x2, Shift::ShrS) => {
                self.i64x2_shr_s(src, count);
                src
            }
            _ => {
                self.simd_int_shift_form(shape, shift, src, count);
                src
            }
        };
        self.push_v128(result);
    }

    /// The shift form of the lane width (16 to 64 bits; arithmetic right
    /// shifts 16 and 32 only).
    fn simd_int_shift_form(&mut self, shape: Shape, shift: Shift, dst: Xmm, count: Count) {
        use cranelift_asm::x64::SseShiftImmOp as I;
        let (imm_op, reg_op) = match (shape, shift) {
            (Shape::I16x8, Shift::Shl) => (I::Psllw, SseOp::Psllw),
            (Shape::I16x8, Shift::ShrU) => (I::Psrlw, SseOp::Psrlw),
            (Shape::I16x8, Shift::ShrS) => (I::Psraw, SseOp::Psraw),
            (Shape::I32x4, Shift::Shl) => (I::Pslld, SseOp::Pslld),
            (Shape::I32x4, Shift::ShrU) => (I::Psrld, SseOp::Psrld),
            (Shape::I32x4, Shift::ShrS) => (I::Psrad, SseOp::Psrad),
            (Shape::I64x2, Shift::Shl) => (I::Psllq, SseOp::Psllq),
            (Shape::I64x2, Shift::ShrU) => (I::Psrlq, SseOp::Psrlq),
            _ => unreachable!("{shape:?} {shift:?} has no shift form"),
        };
        match count {
            Count::Imm(n) => self.asm.packed_shift_imm(imm_op, dst, n),
            Count::Scratch => self.asm.packed(reg_op, dst, dst, &XmmMem::Xmm(XMM_SCRATCH)),
        }
    }

    /// `i8x16.shl`/`shr_u`: word shifts, then the bits that crossed from
    /// the neighbouring byte cleared.
    fn i8x16_shift_logical(&mut self, src: Xmm, shift: Shift, count: Count) {
        let word_shift = if shift == Shift::Shl {
            Shift::Shl
        } else {
            Shift::ShrU
        };
        self.simd_int_shift_form(Shape::I16x8, word_shift, src, count);
        match count {
            Count::Imm(n) => {
                let byte_mask = if shift == Shift::Shl {
                    0xffu8 << n
                } else {
                    0xffu8 >> n
                };
                let mask = self.v128_const_operand(Shape::I8x16.splat(byte_mask.into()));
                self.asm.packed(SseOp::Pand, src, src, &mask);
            }
            Count::Scratch => {
                let mask = self.alloc_xmm();
                self.asm
                    .packed(SseOp::Pcmpeqd, mask, mask, &XmmMem::Xmm(mask));
                self.simd_int_shift_form(Shape::I16x8, word_shift, mask, count);
                if shift == Shift::Shl {
                    // Each word is 0xffff << n: its low byte is the mask;
                    // spread byte 0 over the vector.
                    self.asm
                        .packed(SseOp::Punpcklbw, mask, mask, &XmmMem::Xmm(mask));
                    self.asm
                        .packed_unary_imm(SseUnaryImmOp::Pshuflw, mask, &XmmMem::Xmm(mask), 0);
                    self.asm
                        .packed_unary_imm(SseUnaryImmOp::Pshufd, mask, &XmmMem::Xmm(mask), 0);
                } else {
                    // Each word is 0xffff >> n: its high byte is the mask.
                    self.asm.packed_shift_imm(SseShiftImmOp::Psrlw, mask, 8);
                    self.asm
                        .packed(SseOp::Packuswb, mask, mask, &XmmMem::Xmm(mask));
                }
                self.asm.packed(SseOp::Pand, src, src, &XmmMem::Xmm(mask));
                self.free_xmm(mask);
            }
        }
    }

    /// `i8x16.shr_s`: each byte as the high half of a word, shifted
    /// arithmetically by `n + 8` and packed back. A variable count in the
    /// scratch register is already `n + 8`. Returns the result's register.
    fn i8x16_shr_s(&mut self, src: Xmm, count: Count) -> Xmm {
        let count = match count {
            Count::Imm(n) => Count::Imm(n + 8),
            Count::Scratch => Count::Scratch,
        };
        let low = self.alloc_xmm();
        self.asm.movaps_rr(low, src);
        self.asm
            .packed(SseOp::Punpcklbw, low, low, &XmmMem::Xmm(low));
        self.asm
            .packed(SseOp::Punpckhbw, src, src, &XmmMem::Xmm(src));
        self.simd_int_shift_form(Shape::I16x8, Shift::ShrS, low, count);
        self.simd_int_shift_form(Shape::I16x8, Shift::ShrS, src, count);
        self.asm
            .packed(SseOp::Packsswb, low, low, &XmmMem::Xmm(src));
        self.free_xmm(src);
        low
    }

    /// `i64x2.shr_s`: `(x >>u n ^ m) - m` with `m = 2^63 >> n`.
    fn i64x2_shr_s(&mut self, src: Xmm, count: Count) {
        let sign = Shape::I64x2.sign_bit();
        match count {
            Count::Imm(n) => {
                self.asm.packed_shift_imm(SseShiftImmOp::Psrlq, src, n);
                let m = self.v128_const_operand(Shape::I64x2.splat(sign >> n));
                self.asm.packed(SseOp::Pxor, src, src, &m);
                self.asm.packed(SseOp::Psubq, src, src, &m);
            }
            Count::Scratch => {
                let m = self.alloc_xmm();
                self.load_v128_const(m, Shape::I64x2.splat(sign));
                self.asm
                    .packed(SseOp::Psrlq, m, m, &XmmMem::Xmm(XMM_SCRATCH));
                self.asm
                    .packed(SseOp::Psrlq, src, src, &XmmMem::Xmm(XMM_SCRATCH));
                self.asm.packed(SseOp::Pxor, src, src, &XmmMem::Xmm(m));
                self.asm.packed(SseOp::Psubq, src, src, &XmmMem::Xmm(m));
                self.free_xmm(m);
            }
        }
    }

    // ---- Whole-vector tests, lane selection, masks --------------------------

    /// `v128.bitselect v1 v2 c`: `(v1 & c) | (v2 & !c)`.
    fn v128_bitselect(&mut self) {
        let mask = self.pop_v128();
        let if_clear = self.pop_v128();
        let if_set = self.pop_v128();
        self.asm
            .packed(SseOp::Pand, if_set, if_set, &XmmMem::Xmm(mask));
        self.asm
            .packed(SseOp::Pandn, mask, mask, &XmmMem::Xmm(if_clear));
        self.asm
            .packed(SseOp::Por, if_set, if_set, &XmmMem::Xmm(mask));
        self.free_xmm(mask);
        self.free_xmm(if_clear);
        self.push_v128(if_set);
    }

    /// `v128.any_true`: some bit set; the result stays pending in ZF.
    fn v128_any_true(&mut self) {
        let src = self.pop_v128();
        let dst = self.alloc_gpr();
        self.asm
            .packed_test(SseTestOp::Ptest, src, &XmmMem::Xmm(src));
        self.free_xmm(src);
        self.set_pending_condition(CC::NZ, dst);
    }

    /// `all_true`: no lane equals zero; the result stays pending in ZF.
    fn simd_int_all_true(&mut self, shape: Shape) {
        let src = self.pop_v128();
        let dst = self.alloc_gpr();
        self.xmm_zero(XMM_SCRATCH);
        self.asm
            .packed(shape.cmp_eq(), XMM_SCRATCH, XMM_SCRATCH, &XmmMem::Xmm(src));
        self.asm
            .packed_test(SseTestOp::Ptest, XMM_SCRATCH, &XmmMem::Xmm(XMM_SCRATCH));
        self.free_xmm(src);
        self.set_pending_condition(CC::Z, dst);
    }

    /// `bitmask`: the lanes' sign bits, lane 0 in bit 0.
    fn simd_int_bitmask(&mut self, shape: Shape) {
        let src = self.pop_v128();
        let dst = self.alloc_gpr();
        match shape {
            Shape::I8x16 => self.asm.packed_move_mask(SseMoveMaskOp::Pmovmskb, dst, src),
            Shape::I16x8 => {
                self.asm
                    .packed(SseOp::Packsswb, src, src, &XmmMem::Xmm(src));
                self.asm.packed_move_mask(SseMoveMaskOp::Pmovmskb, dst, src);
                self.asm.and_ri(OperandSize::S32, dst, 0xff);
            }
            Shape::I32x4 => self.asm.packed_move_mask(SseMoveMaskOp::Movmskps, dst, src),
            Shape::I64x2 => self.asm.packed_move_mask(SseMoveMaskOp::Movmskpd, dst, src),
        }
        self.free_xmm(src);
        self.push_gpr(dst, wasmparser::ValType::I32);
    }

    // ---- Extension, widening multiplies and sums ----------------------------

    /// Extends the low or high half of the vector with `pmovsx`/`pmovzx`.
    fn simd_int_extend(&mut self, op: SseUnaryOp, half: Half) {
        let src = self.pop_v128();
        self.simd_int_extend_half(op, half, src);
        self.push_v128(src);
    }

    /// `reg = op(half of reg)`.
    fn simd_int_extend_half(&mut self, op: SseUnaryOp, half: Half, reg: Xmm) {
        if half == Half::High {
            self.asm.packed_shift_imm(SseShiftImmOp::Psrldq, reg, 8);
        }
        self.asm.packed_unary(op, reg, &XmmMem::Xmm(reg));
    }

    /// `extmul` to 16 or 32 bits: both halves extended, then multiplied.
    fn simd_int_extmul(&mut self, extend: SseUnaryOp, mul: SseOp, half: Half) {
        let rhs = self.pop_v128();
        let lhs = self.pop_v128();
        self.simd_int_extend_half(extend, half, lhs);
        self.simd_int_extend_half(extend, half, rhs);
        self.asm.packed(mul, lhs, lhs, &XmmMem::Xmm(rhs));
        self.free_xmm(rhs);
        self.push_v128(lhs);
    }

    /// `i64x2.extmul`: each doubleword of the half placed in the low half of
    /// a quadword, then `pmuldq`/`pmuludq`.
    fn i64x2_extmul(&mut self, mul: SseOp, half: Half) {
        let rhs = self.pop_v128();
        let lhs = self.pop_v128();
        // Doublewords 0, 0, 1, 1 or 2, 2, 3, 3.
        let order = if half == Half::Low { 0x50 } else { 0xfa };
        self.asm
            .packed_unary_imm(SseUnaryImmOp::Pshufd, lhs, &XmmMem::Xmm(lhs), order);
        self.asm
            .packed_unary_imm(SseUnaryImmOp::Pshufd, rhs, &XmmMem::Xmm(rhs), order);
        self.asm.packed(mul, lhs, lhs, &XmmMem::Xmm(rhs));
        self.free_xmm(rhs);
        self.push_v128(lhs);
    }

    /// `i16x8.extadd_pairwise_i8x16_s/u`: `pmaddubsw` with ones bytes
    /// (its destination's bytes are the unsigned ones).
    fn extadd_pairwise_i8x16(&mut self, signed: bool) {
        let src = self.pop_v128();
        let ones = Shape::I8x16.splat(1);
        if signed {
            self.load_v128_const(XMM_SCRATCH, ones);
            self.asm.packed(
                SseOp::Pmaddubsw,
                XMM_SCRATCH,
                XMM_SCRATCH,
                &XmmMem::Xmm(src),
            );
            self.asm.movaps_rr(src, XMM_SCRATCH);
        } else {
            let ones = self.v128_const_operand(ones);
            self.asm.packed(SseOp::Pmaddubsw, src, src, &ones);
        }
        self.push_v128(src);
    }

    /// `i32x4.extadd_pairwise_i16x8_s/u`: `pmaddwd` with ones words; the
    /// unsigned words biased into signed range and the bias added back.
    fn extadd_pairwise_i16x8(&mut self, signed: bool) {
        let src = self.pop_v128();
        if !signed {
            let bias = self.v128_const_operand(Shape::I16x8.splat(0x8000));
            self.asm.packed(SseOp::Pxor, src, src, &bias);
        }
        let ones = self.v128_const_operand(Shape::I16x8.splat(1));
        self.asm.packed(SseOp::Pmaddwd, src, src, &ones);
        if !signed {
            let bias = self.v128_const_operand(Shape::I32x4.splat(0x1_0000));
            self.asm.packed(SseOp::Paddd, src, src, &bias);
        }
        self.push_v128(src);
    }

    /// `i16x8.q15mulr_sat_s`: `pmulhrsw`, with `0x8000 * 0x8000` (the one
    /// product it gives as `0x8000`) saturated to `0x7fff`.
    fn q15mulr_sat_s(&mut self) {
        let rhs = self.pop_v128();
        let lhs = self.pop_v128();
        self.asm
            .packed(SseOp::Pmulhrsw, lhs, lhs, &XmmMem::Xmm(rhs));
        self.load_v128_const(XMM_SCRATCH, Shape::I16x8.splat(0x8000));
        self.asm
            .packed(SseOp::Pcmpeqw, XMM_SCRATCH, XMM_SCRATCH, &XmmMem::Xmm(lhs));
        self.asm
            .packed(SseOp::Pxor, lhs, lhs, &XmmMem::Xmm(XMM_SCRATCH));
        self.free_xmm(rhs);
        self.push_v128(lhs);
    }

    /// `i16x8.relaxed_dot_i8x16_i7x16_s a b` (`pmaddubsw b, a`) and, with
    /// `add`, `i32x4.relaxed_dot_i8x16_i7x16_add_s a b c` (then `pmaddwd`
    /// with ones words and `paddd c`).
    fn relaxed_dot_i8x16_i7x16(&mut self, add: bool) {
        let addend = add.then(|| self.pop_v128());
        let rhs = self.pop_v128();
        let lhs = self.pop_v128();
        self.asm
            .packed(SseOp::Pmaddubsw, rhs, rhs, &XmmMem::Xmm(lhs));
        if let Some(addend) = addend {
            let ones = self.v128_const_operand(Shape::I16x8.splat(1));
            self.asm.packed(SseOp::Pmaddwd, rhs, rhs, &ones);
            self.asm
                .packed(SseOp::Paddd, rhs, rhs, &XmmMem::Xmm(addend));
            self.free_xmm(addend);
        }
        self.free_xmm(lhs);
        self.push_v128(rhs);
    }
}
