//! The optimizing tier's SIMD against the baseline tier's, which passes the
//! SIMD spec suites and is the oracle here: every SIMD and relaxed SIMD
//! operator (the relaxed ones must agree bit for bit, since both tiers
//! promise the choices of `duet_environ::simd`).
//!
//! One module, compiled by each tier, exports functions that apply each
//! translated operator to `v128` arguments (and the lane operators to
//! scalars of every type: splats, lanes extracted and replaced, shuffles
//! from one input, the other or both), keep vectors in locals, pass
//! them through `select`, blocks, memory and calls (more `v128` arguments than the
//! convention's XMM registers, and several `v128` results, so both reach
//! the stack). Every export is called with the same random arguments
//! under both tiers and must return the same bits, for the host's CPU
//! (the VEX forms where it has AVX) and for a CPU with only SSE4.1 (the
//! legacy forms, destination tied to the first source).

use duet::{Compiler, Config, CpuPreset, Engine, Instance, Module, Store, Val};
use duet_tests::rng::XorShift;

/// The binary operators on two `v128`s, by their text names.
const BINARY: &[&str] = &[
    "v128.and",
    "v128.or",
    "v128.xor",
    "i8x16.add",
    "i16x8.add",
    "i32x4.add",
    "i64x2.add",
    "i8x16.sub",
    "i16x8.sub",
    "i32x4.sub",
    "i64x2.sub",
    "i16x8.mul",
    "i32x4.mul",
    "i8x16.eq",
    "i16x8.eq",
    "i32x4.eq",
    "i64x2.eq",
    "i8x16.ne",
    "i16x8.ne",
    "i32x4.ne",
    "i64x2.ne",
    "f32x4.add",
    "f64x2.add",
    "f32x4.sub",
    "f64x2.sub",
    "f32x4.mul",
    "f64x2.mul",
    "f32x4.div",
    "f64x2.div",
    "i8x16.lt_s",
    "i8x16.lt_u",
    "i8x16.gt_s",
    "i8x16.gt_u",
    "i8x16.le_s",
    "i8x16.le_u",
    "i8x16.ge_s",
    "i8x16.ge_u",
    "i16x8.lt_s",
    "i16x8.lt_u",
    "i16x8.gt_s",
    "i16x8.gt_u",
    "i16x8.le_s",
    "i16x8.le_u",
    "i16x8.ge_s",
    "i16x8.ge_u",
    "i32x4.lt_s",
    "i32x4.lt_u",
    "i32x4.gt_s",
    "i32x4.gt_u",
    "i32x4.le_s",
    "i32x4.le_u",
    "i32x4.ge_s",
    "i32x4.ge_u",
    "v128.andnot",
    "i8x16.min_s",
    "i8x16.min_u",
    "i8x16.max_s",
    "i8x16.max_u",
    "i16x8.min_s",
    "i16x8.min_u",
    "i16x8.max_s",
    "i16x8.max_u",
    "i32x4.min_s",
    "i32x4.min_u",
    "i32x4.max_s",
    "i32x4.max_u",
    "i8x16.add_sat_s",
    "i8x16.add_sat_u",
    "i8x16.sub_sat_s",
    "i8x16.sub_sat_u",
    "i16x8.add_sat_s",
    "i16x8.add_sat_u",
    "i16x8.sub_sat_s",
    "i16x8.sub_sat_u",
    "i8x16.avgr_u",
    "i16x8.avgr_u",
    "f32x4.pmin",
    "f64x2.pmin",
    "f32x4.pmax",
    "f64x2.pmax",
    "f32x4.eq",
    "f64x2.eq",
    "f32x4.ne",
    "f64x2.ne",
    "f32x4.lt",
    "f64x2.lt",
    "f32x4.gt",
    "f64x2.gt",
    "f32x4.le",
    "f64x2.le",
    "f32x4.ge",
    "f64x2.ge",
    "i16x8.extmul_low_i8x16_s",
    "i16x8.extmul_high_i8x16_s",
    "i16x8.extmul_low_i8x16_u",
    "i16x8.extmul_high_i8x16_u",
    "i32x4.extmul_low_i16x8_s",
    "i32x4.extmul_high_i16x8_s",
    "i32x4.extmul_low_i16x8_u",
    "i32x4.extmul_high_i16x8_u",
    "i8x16.narrow_i16x8_s",
    "i8x16.narrow_i16x8_u",
    "i16x8.narrow_i32x4_s",
    "i16x8.narrow_i32x4_u",
    "i8x16.swizzle",
    "i32x4.dot_i16x8_s",
    "i16x8.q15mulr_sat_s",
    "i64x2.mul",
    "i64x2.lt_s",
    "i64x2.gt_s",
    "i64x2.le_s",
    "i64x2.ge_s",
    "i64x2.extmul_low_i32x4_s",
    "i64x2.extmul_high_i32x4_s",
    "i64x2.extmul_low_i32x4_u",
    "i64x2.extmul_high_i32x4_u",
    "f32x4.min",
    "f32x4.max",
    "f64x2.min",
    "f64x2.max",
    "i8x16.relaxed_swizzle",
    "f32x4.relaxed_min",
    "f32x4.relaxed_max",
    "f64x2.relaxed_min",
    "f64x2.relaxed_max",
    "i16x8.relaxed_q15mulr_s",
    "i16x8.relaxed_dot_i8x16_i7x16_s",
];

/// The unary operators on a `v128`.
const UNARY: &[&str] = &[
    "v128.not",
    "i8x16.neg",
    "i16x8.neg",
    "i32x4.neg",
    "i64x2.neg",
    "i8x16.abs",
    "i16x8.abs",
    "i32x4.abs",
    "f32x4.neg",
    "f64x2.neg",
    "f32x4.abs",
    "f64x2.abs",
    "f32x4.sqrt",
    "f64x2.sqrt",
    "f32x4.ceil",
    "f64x2.ceil",
    "f32x4.floor",
    "f64x2.floor",
    "f32x4.trunc",
    "f64x2.trunc",
    "f32x4.nearest",
    "f64x2.nearest",
    "i16x8.extend_low_i8x16_s",
    "i16x8.extend_high_i8x16_s",
    "i16x8.extend_low_i8x16_u",
    "i16x8.extend_high_i8x16_u",
    "i32x4.extend_low_i16x8_s",
    "i32x4.extend_high_i16x8_s",
    "i32x4.extend_low_i16x8_u",
    "i32x4.extend_high_i16x8_u",
    "i64x2.extend_low_i32x4_s",
    "i64x2.extend_high_i32x4_s",
    "i64x2.extend_low_i32x4_u",
    "i64x2.extend_high_i32x4_u",
    "i8x16.popcnt",
    "f32x4.convert_i32x4_s",
    "f64x2.convert_low_i32x4_s",
    "f64x2.promote_low_f32x4",
    "f32x4.demote_f64x2_zero",
    "i64x2.abs",
    "i32x4.trunc_sat_f32x4_s",
    "i32x4.trunc_sat_f32x4_u",
    "i32x4.trunc_sat_f64x2_s_zero",
    "i32x4.trunc_sat_f64x2_u_zero",
    "f32x4.convert_i32x4_u",
    "f64x2.convert_low_i32x4_u",
    "i16x8.extadd_pairwise_i8x16_s",
    "i16x8.extadd_pairwise_i8x16_u",
    "i32x4.extadd_pairwise_i16x8_s",
    "i32x4.extadd_pairwise_i16x8_u",
    "i32x4.relaxed_trunc_f32x4_s",
    "i32x4.relaxed_trunc_f32x4_u",
    "i32x4.relaxed_trunc_f64x2_s_zero",
    "i32x4.relaxed_trunc_f64x2_u_zero",
];
/// The operators on three `v128`s.
const TERNARY: &[&str] = &[
    "v128.bitselect",
    "f32x4.relaxed_madd",
    "f32x4.relaxed_nmadd",
    "f64x2.relaxed_madd",
    "f64x2.relaxed_nmadd",
    "i8x16.relaxed_laneselect",
    "i16x8.relaxed_laneselect",
    "i32x4.relaxed_laneselect",
    "i64x2.relaxed_laneselect",
    "i32x4.relaxed_dot_i8x16_i7x16_add_s",
];
const TESTS: &[&str] = &[
    "v128.any_true",
    "i8x16.all_true",
    "i16x8.all_true",
    "i32x4.all_true",
    "i64x2.all_true",
    "i8x16.bitmask",
    "i16x8.bitmask",
    "i32x4.bitmask",
    "i64x2.bitmask",
];

/// The shifts.
const SHIFTS: &[&str] = &[
    "i8x16.shl",
    "i8x16.shr_u",
    "i8x16.shr_s",
    "i64x2.shr_s",
    "i16x8.shl",
    "i32x4.shl",
    "i64x2.shl",
    "i16x8.shr_u",
    "i32x4.shr_u",
    "i64x2.shr_u",
    "i16x8.shr_s",
    "i32x4.shr_s",
];

/// The module's other exports.
const OTHERS: &[&str] = &[
    "not",
    "bitselect",
    "load_splat",
    "load_extend",
    "select",
    "const",
    "zero_local",
    "memory",
    "blocks",
    "calls",
    "splat_i8",
    "splat_i16",
    "splat_i32",
    "splat_i64",
    "splat_f32",
    "splat_f64",
    "extract_i8",
    "extract_i16",
    "extract_i32",
    "extract_i64",
    "extract_f32",
    "extract_f64",
    "replace",
    "replace_f64_high",
    "shuffle",
    "shuffle_forms",
    "load_lane",
    "store_lane",
];

/// The module: `binN` applies `BINARY[N]`; the rest exercise constants,
/// `not`, locals, blocks, memory, calls and multiple results.
fn module() -> String {
    let mut wat = String::from("(module\n  (memory 1)\n");
    for (i, op) in UNARY.iter().enumerate() {
        wat.push_str(&format!(
            "  (func (export \"unary{i}\") (param v128) (result v128) ({op} (local.get 0)))\n"
        ));
    }
    // Each test on the argument and on vectors with one lane zero and none.
    for (i, op) in TESTS.iter().enumerate() {
        wat.push_str(&format!(
            "  (func (export \"test{i}\") (param v128) (result i32 i32 i32 i32)\n    \
             ({op} (local.get 0)) ({op} (v128.const i32x4 1 2 3 0x80000000))\n    \
             ({op} (v128.const i32x4 1 0 3 4)) ({op} (v128.const i64x2 0 0)))\n"
        ));
    }
    // Each shift by the argument and by constants below, at and past the
    // lane width.
    for (i, op) in SHIFTS.iter().enumerate() {
        wat.push_str(&format!(
            "  (func (export \"shift{i}\") (param v128 i32) (result v128 v128 v128 v128)\n    \
             ({op} (local.get 0) (local.get 1)) ({op} (local.get 0) (i32.const 7))\n    \
             ({op} (local.get 0) (i32.const 64)) ({op} (local.get 0) (i32.const -3)))\n"
        ));
    }
    for (i, op) in TERNARY.iter().enumerate() {
        wat.push_str(&format!(
            "  (func (export \"ternary{i}\") (param v128 v128 v128) (result v128)\n    \
             (local.get 0) (local.get 1) (local.get 2) ({op}))\n"
        ));
    }
    for (i, op) in BINARY.iter().enumerate() {
        wat.push_str(&format!(
            "  (func (export \"bin{i}\") (param v128 v128) (result v128)\n    \
             (local.get 0) (local.get 1) ({op}))\n"
        ));
    }
    wat.push_str(
        r#"
  (func (export "not") (param v128) (result v128) (v128.not (local.get 0)))
  (func (export "bitselect") (param v128 v128 v128) (result v128)
    (v128.bitselect (local.get 0) (local.get 1) (local.get 2)))
  (func (export "load_splat") (param v128) (result v128 v128 v128 v128 v128 v128)
    (v128.store (i32.const 0) (local.get 0))
    (v128.load8_splat offset=3 (i32.const 0)) (v128.load16_splat offset=5 (i32.const 0))
    (v128.load32_splat offset=9 (i32.const 0)) (v128.load64_splat offset=1 (i32.const 0))
    (v128.load32_zero offset=2 (i32.const 0)) (v128.load64_zero offset=7 (i32.const 0)))
  (func (export "load_extend") (param v128) (result v128 v128 v128 v128 v128 v128)
    (v128.store (i32.const 0) (local.get 0))
    (v128.load8x8_s offset=1 (i32.const 0)) (v128.load8x8_u offset=3 (i32.const 0))
    (v128.load16x4_s offset=5 (i32.const 0)) (v128.load16x4_u offset=7 (i32.const 0))
    (v128.load32x2_s offset=2 (i32.const 0)) (v128.load32x2_u offset=8 (i32.const 0)))
  (func (export "load_lane") (param v128 v128) (result v128 v128 v128 v128)
    (v128.store (i32.const 0) (local.get 0))
    (v128.load8_lane offset=3 13 (i32.const 0) (local.get 1))
    (v128.load16_lane offset=5 0 (i32.const 0) (local.get 1))
    (v128.load32_lane offset=9 3 (i32.const 0) (local.get 1))
    (v128.load64_lane offset=1 1 (i32.const 0) (local.get 1)))
  (func (export "store_lane") (param v128) (result v128 v128)
    (v128.store (i32.const 0) (v128.const i64x2 0 0))
    (v128.store (i32.const 16) (v128.const i64x2 0 0))
    (v128.store8_lane offset=1 14 (i32.const 0) (local.get 0))
    (v128.store16_lane offset=4 3 (i32.const 0) (local.get 0))
    (v128.store32_lane offset=7 2 (i32.const 0) (local.get 0))
    (v128.store64_lane offset=16 1 (i32.const 0) (local.get 0))
    (v128.load (i32.const 0)) (v128.load (i32.const 16)))
  (func (export "splat_i8") (param i32) (result v128) (i8x16.splat (local.get 0)))
  (func (export "splat_i16") (param i32) (result v128) (i16x8.splat (local.get 0)))
  (func (export "splat_i32") (param i32) (result v128) (i32x4.splat (local.get 0)))
  (func (export "splat_i64") (param i64) (result v128) (i64x2.splat (local.get 0)))
  (func (export "splat_f32") (param f32) (result v128) (f32x4.splat (local.get 0)))
  (func (export "splat_f64") (param f64) (result v128) (f64x2.splat (local.get 0)))
  (func (export "extract_i8") (param v128) (result i32 i32 i32 i32)
    (i8x16.extract_lane_s 0 (local.get 0)) (i8x16.extract_lane_u 0 (local.get 0))
    (i8x16.extract_lane_s 13 (local.get 0)) (i8x16.extract_lane_u 15 (local.get 0)))
  (func (export "extract_i16") (param v128) (result i32 i32 i32 i32)
    (i16x8.extract_lane_s 0 (local.get 0)) (i16x8.extract_lane_u 1 (local.get 0))
    (i16x8.extract_lane_s 7 (local.get 0)) (i16x8.extract_lane_u 6 (local.get 0)))
  (func (export "extract_i32") (param v128) (result i32 i32)
    (i32x4.extract_lane 0 (local.get 0)) (i32x4.extract_lane 3 (local.get 0)))
  (func (export "extract_i64") (param v128) (result i64 i64)
    (i64x2.extract_lane 0 (local.get 0)) (i64x2.extract_lane 1 (local.get 0)))
  (func (export "extract_f32") (param v128) (result f32 f32 f32)
    (f32x4.extract_lane 0 (local.get 0)) (f32x4.extract_lane 2 (local.get 0))
    (f32.add (f32x4.extract_lane 0 (local.get 0)) (f32x4.extract_lane 3 (local.get 0))))
  (func (export "extract_f64") (param v128) (result f64 f64 i64)
    (f64x2.extract_lane 0 (local.get 0)) (f64x2.extract_lane 1 (local.get 0))
    (i64.reinterpret_f64 (f64x2.extract_lane 0 (local.get 0))))
  (func (export "replace") (param v128 i32 i64 f32 f64) (result v128 v128 v128 v128 v128 v128)
    (i8x16.replace_lane 9 (local.get 0) (local.get 1))
    (i16x8.replace_lane 0 (local.get 0) (local.get 1))
    (i32x4.replace_lane 2 (local.get 0) (local.get 1))
    (i64x2.replace_lane 1 (local.get 0) (local.get 2))
    (f32x4.replace_lane 3 (local.get 0) (local.get 3))
    (f64x2.replace_lane 0 (local.get 0) (local.get 4)))
  (func (export "replace_f64_high") (param v128 f64) (result v128)
    (f64x2.replace_lane 1 (local.get 0) (local.get 1)))
  (func (export "shuffle") (param v128 v128) (result v128 v128 v128 v128)
    (i8x16.shuffle 0 17 2 19 4 21 6 23 8 25 10 27 12 29 14 31 (local.get 0) (local.get 1))
    (i8x16.shuffle 15 14 13 12 11 10 9 8 7 6 5 4 3 2 1 0 (local.get 0) (local.get 1))
    (i8x16.shuffle 16 16 16 16 31 31 31 31 20 21 22 23 16 17 18 19 (local.get 0) (local.get 1))
    (i8x16.shuffle 0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 (local.get 0) (local.get 1)))
  (func (export "shuffle_forms") (param v128 v128)
      (result v128 v128 v128 v128 v128 v128 v128 v128 v128 v128 v128 v128)
    ;; pshufd of a and of b; punpcklbw a b, punpckhwd b a, punpckldq a b,
    ;; punpckhqdq a b; palignr 5 and 11; shufps; pblendw; the identity of
    ;; b; one input given twice.
    (i8x16.shuffle 12 13 14 15 0 1 2 3 4 5 6 7 0 1 2 3 (local.get 0) (local.get 1))
    (i8x16.shuffle 20 21 22 23 20 21 22 23 28 29 30 31 16 17 18 19 (local.get 0) (local.get 1))
    (i8x16.shuffle 0 16 1 17 2 18 3 19 4 20 5 21 6 22 7 23 (local.get 0) (local.get 1))
    (i8x16.shuffle 24 25 8 9 26 27 10 11 28 29 12 13 30 31 14 15 (local.get 0) (local.get 1))
    (i8x16.shuffle 0 1 2 3 16 17 18 19 4 5 6 7 20 21 22 23 (local.get 0) (local.get 1))
    (i8x16.shuffle 8 9 10 11 12 13 14 15 24 25 26 27 28 29 30 31 (local.get 0) (local.get 1))
    (i8x16.shuffle 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 (local.get 0) (local.get 1))
    (i8x16.shuffle 11 12 13 14 15 16 17 18 19 20 21 22 23 24 25 26 (local.get 0) (local.get 1))
    (i8x16.shuffle 4 5 6 7 12 13 14 15 24 25 26 27 16 17 18 19 (local.get 0) (local.get 1))
    (i8x16.shuffle 16 17 2 3 4 5 22 23 24 25 10 11 28 29 30 31 (local.get 0) (local.get 1))
    (i8x16.shuffle 16 17 18 19 20 21 22 23 24 25 26 27 28 29 30 31 (local.get 0) (local.get 1))
    (i8x16.shuffle 1 17 3 19 5 21 7 23 9 25 11 27 13 29 15 31 (local.get 0) (local.get 0)))
  (func (export "select") (param v128 v128 i32) (result v128)
    (select (result v128) (local.get 0) (local.get 1) (local.get 2)))
  (func (export "const") (param v128) (result v128)
    (i32x4.add (local.get 0)
      (v128.const i32x4 0x80000000 -1 7 0x12345678)))
  (func (export "zero_local") (param v128) (result v128)
    (local v128)
    (i64x2.sub (local.get 1) (local.get 0)))
  (func (export "memory") (param v128 v128) (result v128)
    (v128.store offset=3 (i32.const 0) (local.get 0))
    (v128.store offset=21 (i32.const 0) (local.get 1))
    (i8x16.add (v128.load offset=5 (i32.const 0)) (v128.load offset=19 (i32.const 0))))
  (func (export "blocks") (param v128 v128 i32) (result v128)
    (block (result v128)
      (local.get 0)
      (br_if 0 (local.get 2))
      (drop)
      (if (result v128) (i32.eqz (local.get 2))
        (then (i16x8.mul (local.get 0) (local.get 1)))
        (else (local.get 1)))))
  (func $many (param v128 v128 v128 v128 v128 v128 v128 v128 v128 v128 v128)
      (result v128 v128 v128)
    (i32x4.add (local.get 0) (local.get 10))
    (i64x2.sub (local.get 9) (local.get 1))
    (f32x4.mul (local.get 8) (local.get 2)))
  (func (export "calls") (param v128 v128) (result v128 v128 v128)
    (call $many
      (local.get 0) (local.get 1) (i32x4.add (local.get 0) (local.get 1))
      (v128.xor (local.get 0) (local.get 1)) (local.get 1) (local.get 0)
      (i8x16.sub (local.get 1) (local.get 0)) (local.get 0) (local.get 1)
      (i16x8.add (local.get 0) (local.get 0)) (local.get 1)))
)"#,
    );
    wat
}

/// A random `v128` mixing lanes of every kind: small and extreme
/// integers, float specials (NaNs, infinities, zeros), random bits.
fn random_v128(rng: &mut XorShift) -> u128 {
    let mut bytes = [0u8; 16];
    for chunk in bytes.chunks_mut(4) {
        let lane: u32 = match rng.next() % 8 {
            0 => 0,
            1 => u32::MAX,
            2 => 0x8000_0000,
            3 => f32::NAN.to_bits(),
            4 => f32::INFINITY.to_bits(),
            5 => (rng.next() % 256) as u32,
            6 => 1.5f32.to_bits(),
            _ => rng.next() as u32,
        };
        chunk.copy_from_slice(&lane.to_le_bytes());
    }
    u128::from_le_bytes(bytes)
}

/// The operator an export applies (`bin3` applies `BINARY[3]`), or "".
fn operator_of(export: &str) -> &'static str {
    let lists: [(&str, &[&str]); 5] = [
        ("bin", BINARY),
        ("shift", SHIFTS),
        ("unary", UNARY),
        ("ternary", TERNARY),
        ("test", TESTS),
    ];
    lists
        .iter()
        .find_map(|(prefix, list)| {
            let i: usize = export.strip_prefix(prefix)?.parse().ok()?;
            list.get(i).copied()
        })
        .unwrap_or("")
}

fn instance(engine: &Engine, compiler: Compiler, store: &mut Store<()>) -> Instance {
    let module = Module::new_with_compiler(engine, module(), compiler)
        .unwrap_or_else(|e| panic!("{compiler:?}: {e}"));
    Instance::new(&mut *store, &module, &[]).unwrap()
}

#[test]
fn the_optimizing_tier_computes_what_the_baseline_tier_does() {
    for preset in [CpuPreset::Host, CpuPreset::Sse41] {
        compare_tiers(preset);
    }
}

fn compare_tiers(preset: CpuPreset) {
    let engine = Engine::new(Config::new().cpu_features(preset)).unwrap();
    let mut store = Store::new(&engine, ());
    let winch = instance(&engine, Compiler::Winch, &mut store);
    let cranelift = instance(&engine, Compiler::Cranelift, &mut store);
    let mut rng = XorShift::new(0x05ee_d51d);
    let mut names: Vec<String> = (0..BINARY.len()).map(|i| format!("bin{i}")).collect();
    names.extend((0..SHIFTS.len()).map(|i| format!("shift{i}")));
    names.extend((0..UNARY.len()).map(|i| format!("unary{i}")));
    names.extend((0..TERNARY.len()).map(|i| format!("ternary{i}")));
    names.extend((0..TESTS.len()).map(|i| format!("test{i}")));
    names.extend(OTHERS.iter().map(|name| name.to_string()));
    let mut failures = Vec::new();
    let mut calls = 0;
    for name in &names {
        let func = |instance: Instance, store: &mut Store<()>| {
            instance.get_func(&*store, name).unwrap().expect("exported")
        };
        let (fw, fc) = (func(winch, &mut store), func(cranelift, &mut store));
        let ty = fw.ty(&store).unwrap();
        for round in 0..64 {
            let args: Vec<Val> = ty
                .params
                .iter()
                .map(|t| {
                    let bits = random_v128(&mut rng);
                    match t {
                        duet::ValType::V128 => Val::V128(bits),
                        duet::ValType::I32 if round % 4 == 0 => Val::I32(0),
                        duet::ValType::I32 => Val::I32(bits as i32),
                        duet::ValType::I64 => Val::I64(bits as i64),
                        duet::ValType::F32 => Val::F32(bits as u32),
                        duet::ValType::F64 => Val::F64(bits as u64),
                        other => panic!("no {other:?} arguments"),
                    }
                })
                .collect();
            let mut expected = vec![Val::V128(0); ty.results.len()];
            let mut actual = expected.clone();
            fw.call(&mut store, &args, &mut expected).unwrap();
            fc.call(&mut store, &args, &mut actual).unwrap();
            calls += 1;
            let bits = |vals: &[Val]| -> Vec<u128> {
                vals.iter()
                    .map(|v| match *v {
                        Val::I32(x) => u128::from(x as u32),
                        Val::I64(x) => u128::from(x as u64),
                        Val::F32(x) => u128::from(x),
                        Val::F64(x) => u128::from(x),
                        Val::V128(x) => x,
                        ref other => panic!("no {other:?} results"),
                    })
                    .collect()
            };
            if bits(&expected) != bits(&actual) {
                failures.push(format!(
                    "{preset:?} {name} {}({args:x?}): baseline {:x?}, optimizing {:x?}",
                    operator_of(name),
                    bits(&expected),
                    bits(&actual)
                ));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert_eq!(calls, names.len() * 64);
}
