//! The multi-instruction sequences of `x64::Assembler` (`asm/seq.rs`), run
//! natively and compared with WebAssembly's semantics.
//!
//! Each sequence is wrapped in a small System V function: the arguments move
//! from their ABI registers into the registers a test picks for the sequence
//! (low ones and r8-r15/xmm8-xmm15, so both REX paths run), destinations and
//! temporaries are filled with garbage first, the sequence runs, and the
//! result moves to rax or xmm0. Trapping sequences branch to stubs that
//! return a status in rdx instead of trapping, so a trap is a value:
//!
//! ```text
//!   entry: push callee-saved; mov args; fill garbage
//!          <sequence>            ──on_nan──►      rdx = 1; return
//!          rax = dst; rdx = 0    ──on_overflow──► rdx = 2; return
//!          return
//! ```
//!
//! The references are written independently of the sequences: trap
//! conditions from `trunc` and exact range checks in f64 (every bound is a
//! power of two or an integer below 2^53, so the comparisons are exact),
//! saturating results from Rust's `as` casts (which are exactly wasm's
//! `trunc_sat`), `u64 as f32/f64` for `convert_i64_u`, and Rust's integer
//! `wrapping_rem` for `rem_s`.
//!
//! Soundness of the `unsafe` calls: each wrapper implements exactly the
//! `extern "sysv64"` signature it is called through, saves and restores the
//! callee-saved registers, touches no memory but its own stack and constant
//! pool, and its [`exec::NativeCode`] outlives every call.

#![allow(unsafe_code)]

mod exec;

use cranelift_asm::TrapCode;
use cranelift_asm::x64::{Assembler, FloatSize, Gpr, GprMem, JumpTableTargets, OperandSize, Xmm};
use exec::{
    Failures, GARBAGE, NativeCode, Rng, host_assembler, restore_and_return, save_callee_saved,
};

/// What a conversion wrapper returns: rax and rdx.
#[repr(C)]
#[derive(Copy, Clone, PartialEq, Eq, Debug)]
struct Outcome {
    /// The result (rax).
    value: u64,
    /// 0: no trap; 1: `on_nan` taken; 2: `on_overflow` taken.
    status: u64,
}

const OK: u64 = 0;
const INVALID_CONVERSION: u64 = 1;
const OVERFLOW: u64 = 2;

// ---- Float to integer --------------------------------------------------------

/// The integer type of a truncation.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
enum IntType {
    I32,
    U32,
    I64,
    U64,
}

impl IntType {
    const ALL: [IntType; 4] = [IntType::I32, IntType::U32, IntType::I64, IntType::U64];

    fn size(self) -> OperandSize {
        match self {
            IntType::I32 | IntType::U32 => OperandSize::S32,
            IntType::I64 | IntType::U64 => OperandSize::S64,
        }
    }

    fn signed(self) -> bool {
        matches!(self, IntType::I32 | IntType::I64)
    }

    /// The smallest and largest truncated values that fit, as f64 (all
    /// exactly representable).
    fn range(self) -> (f64, f64) {
        match self {
            IntType::I32 => (-2147483648.0, 2147483647.0),
            IntType::U32 => (0.0, 4294967295.0),
            // 2^63 - 1 and 2^64 - 1 are not representable: compare against
            // the power of two with `<` instead (see `trunc_reference`).
            IntType::I64 => (-9223372036854775808.0, 9223372036854775808.0),
            IntType::U64 => (0.0, 18446744073709551616.0),
        }
    }
}

/// `iNN.trunc_fMM_{s,u}` of `x` (an f32 widened exactly, or an f64).
fn trunc_reference(int: IntType, x: f64) -> Outcome {
    if x.is_nan() {
        return Outcome {
            value: 0,
            status: INVALID_CONVERSION,
        };
    }
    let t = x.trunc();
    let (low, high) = int.range();
    let fits = match int {
        IntType::I32 | IntType::U32 => t >= low && t <= high,
        IntType::I64 | IntType::U64 => t >= low && t < high,
    };
    if !fits {
        return Outcome {
            value: 0,
            status: OVERFLOW,
        };
    }
    // In range, so these casts are exact.
    let value = match int {
        IntType::I32 => t as i32 as u32 as u64,
        IntType::U32 => t as u32 as u64,
        IntType::I64 => t as i64 as u64,
        IntType::U64 => t as u64,
    };
    Outcome { value, status: OK }
}

/// `iNN.trunc_sat_fMM_{s,u}` of `x`: Rust's saturating `as`.
fn trunc_sat_reference(int: IntType, x: f64) -> Outcome {
    let value = match int {
        IntType::I32 => x as i32 as u32 as u64,
        IntType::U32 => x as u32 as u64,
        IntType::I64 => x as i64 as u64,
        IntType::U64 => x as u64,
    };
    Outcome { value, status: OK }
}

/// Registers for a float-to-integer sequence.
#[derive(Copy, Clone, Debug)]
struct ToIntRegs {
    dst: Gpr,
    src: Xmm,
    tmp_gpr: Gpr,
    tmp_xmm: Xmm,
    tmp_xmm2: Xmm,
}

const TO_INT_REGS: [ToIntRegs; 4] = [
    ToIntRegs {
        dst: Gpr::RAX,
        src: Xmm::XMM0,
        tmp_gpr: Gpr::RCX,
        tmp_xmm: Xmm::XMM1,
        tmp_xmm2: Xmm::XMM2,
    },
    ToIntRegs {
        dst: Gpr::R11,
        src: Xmm::XMM9,
        tmp_gpr: Gpr::R8,
        tmp_xmm: Xmm::XMM15,
        tmp_xmm2: Xmm::XMM8,
    },
    ToIntRegs {
        dst: Gpr::R13,
        src: Xmm::XMM13,
        tmp_gpr: Gpr::RBP,
        tmp_xmm: Xmm::XMM4,
        tmp_xmm2: Xmm::XMM12,
    },
    ToIntRegs {
        dst: Gpr::RDX,
        src: Xmm::XMM7,
        tmp_gpr: Gpr::R12,
        tmp_xmm: Xmm::XMM0,
        tmp_xmm2: Xmm::XMM10,
    },
];

/// A wrapper `fn(float) -> Outcome` around one float-to-integer sequence.
fn build_to_int(
    float_size: FloatSize,
    int: IntType,
    saturating: bool,
    regs: ToIntRegs,
) -> NativeCode {
    let mut asm = host_assembler();
    save_callee_saved(&mut asm);
    asm.movaps_rr(regs.src, Xmm::XMM0);
    fill_garbage(
        &mut asm,
        &[regs.dst, regs.tmp_gpr],
        &[regs.tmp_xmm, regs.tmp_xmm2],
    );
    let on_nan = asm.new_label();
    let on_overflow = asm.new_label();
    let size = int.size();
    let ToIntRegs {
        dst,
        src,
        tmp_gpr,
        tmp_xmm,
        tmp_xmm2,
    } = regs;
    match (int.signed(), saturating) {
        (true, false) => {
            asm.cvt_float_to_sint(float_size, size, dst, src, tmp_xmm, on_nan, on_overflow)
        }
        (true, true) => asm.cvt_float_to_sint_sat(float_size, size, dst, src, tmp_xmm),
        (false, false) => asm.cvt_float_to_uint(
            float_size,
            size,
            dst,
            src,
            tmp_gpr,
            tmp_xmm,
            tmp_xmm2,
            on_nan,
            on_overflow,
        ),
        (false, true) => {
            asm.cvt_float_to_uint_sat(float_size, size, dst, src, tmp_gpr, tmp_xmm, tmp_xmm2)
        }
    }
    asm.mov_rr(OperandSize::S64, Gpr::RAX, dst);
    asm.mov_ri(OperandSize::S64, Gpr::RDX, OK);
    restore_and_return(&mut asm);
    for (label, status) in [(on_nan, INVALID_CONVERSION), (on_overflow, OVERFLOW)] {
        asm.bind_label(label).unwrap();
        asm.mov_ri(OperandSize::S64, Gpr::RAX, 0);
        asm.mov_ri(OperandSize::S64, Gpr::RDX, status);
        restore_and_return(&mut asm);
    }
    NativeCode::new(asm)
}

/// Writes [`GARBAGE`] into `gprs` and (bit patterns of a NaN) into `xmms`.
fn fill_garbage(asm: &mut Assembler, gprs: &[Gpr], xmms: &[Xmm]) {
    for &reg in gprs {
        asm.mov_ri(OperandSize::S64, reg, GARBAGE);
    }
    // r11 is a scratch register no sequence input lives in while this runs
    // (inputs are moved in first, and r11 is refilled afterwards if it is a
    // destination).
    for &reg in xmms {
        asm.mov_ri(OperandSize::S64, Gpr::R11, 0xFFF4_0000_DEAD_BEEF);
        asm.movd_to_xmm(OperandSize::S64, reg, &GprMem::Gpr(Gpr::R11));
    }
    if gprs.contains(&Gpr::R11) {
        asm.mov_ri(OperandSize::S64, Gpr::R11, GARBAGE);
    }
}

/// Interesting f64 inputs for the conversions: every bound, its neighbours
/// and half-way points, both signs, zeros, subnormals, infinities, NaNs
/// with payloads.
fn f64_edge_values() -> Vec<f64> {
    let anchors = [
        0.0,
        0.5,
        1.0,
        1.5,
        2.0,
        2147483647.0,
        2147483648.0,
        2147483649.0,
        4294967295.0,
        4294967296.0,
        4294967297.0,
        9007199254740992.0,
        9223372036854775808.0,
        18446744073709551616.0,
        f64::MAX,
        f64::MIN_POSITIVE,
        f64::from_bits(1),
        f64::from_bits(0x000F_FFFF_FFFF_FFFF),
        f64::INFINITY,
    ];
    let mut values = Vec::new();
    for anchor in anchors {
        for x in [anchor, -anchor] {
            values.extend([
                x,
                x.next_up(),
                x.next_down(),
                x + 0.5,
                x - 0.5,
                x + 1.0,
                x - 1.0,
            ]);
        }
    }
    values.extend(
        [
            0x7FF8_0000_0000_0000u64, // quiet NaN
            0xFFF8_0000_0000_0000,    // negative quiet NaN
            0x7FF0_0000_0000_0001,    // signaling NaN
            0xFFF0_0000_0000_0001,
            0x7FFF_FFFF_FFFF_FFFF, // all payload bits
            0x7FF4_0000_DEAD_BEEF,
        ]
        .map(f64::from_bits),
    );
    values
}

/// [`f64_edge_values`] for f32, computed in f32 arithmetic.
fn f32_edge_values() -> Vec<f32> {
    let anchors = [
        0.0f32,
        0.5,
        1.0,
        1.5,
        2.0,
        2147483648.0,
        4294967296.0,
        16777216.0,
        9223372036854775808.0,
        18446744073709551616.0,
        f32::MAX,
        f32::MIN_POSITIVE,
        f32::from_bits(1),
        f32::from_bits(0x007F_FFFF),
        f32::INFINITY,
    ];
    let mut values = Vec::new();
    for anchor in anchors {
        for x in [anchor, -anchor] {
            values.extend([
                x,
                x.next_up(),
                x.next_down(),
                x + 0.5,
                x - 0.5,
                x + 1.0,
                x - 1.0,
            ]);
        }
    }
    values.extend(
        [
            0x7FC0_0000u32,
            0xFFC0_0000,
            0x7F80_0001,
            0xFF80_0001,
            0x7FFF_FFFF,
            0x7FA0_BEEF,
        ]
        .map(f32::from_bits),
    );
    values
}

/// Random f64 inputs: half uniform over all bit patterns, half integers of
/// every magnitude up to 2^66 with random fractions (near the bounds).
fn f64_random_values(rng: &mut Rng, count: usize) -> Vec<f64> {
    (0..count)
        .map(|i| {
            if i % 2 == 0 {
                f64::from_bits(rng.next_u64())
            } else {
                let magnitude = rng.below(67) as i32;
                let mantissa = (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
                let x = (1.0 + mantissa) * 2f64.powi(magnitude - 1);
                if rng.below(2) == 0 { x } else { -x }
            }
        })
        .collect()
}

/// A float-to-integer wrapper, called with inputs of one float size.
enum ToIntFunction {
    F32(extern "sysv64" fn(f32) -> Outcome),
    F64(extern "sysv64" fn(f64) -> Outcome),
}

fn check_float_to_int(saturating: bool) -> usize {
    let what = if saturating { "trunc_sat" } else { "trunc" };
    let mut failures = Failures::new(what);
    let mut rng = Rng::new(0x5EED_F10A_7001);
    let f64_inputs: Vec<f64> = f64_edge_values()
        .into_iter()
        .chain(f64_random_values(&mut rng, 3000))
        .collect();
    let f32_inputs: Vec<f32> = f32_edge_values()
        .into_iter()
        .chain(
            f64_random_values(&mut rng, 3000)
                .into_iter()
                .map(|x| x as f32),
        )
        .chain((0..1000).map(|_| f32::from_bits(rng.next_u64() as u32)))
        .collect();
    for float_size in FloatSize::ALL {
        for int in IntType::ALL {
            for regs in TO_INT_REGS {
                let code = build_to_int(float_size, int, saturating, regs);
                // SAFETY: `build_to_int` implements `fn(float) -> Outcome` for
                // its float size; `code` outlives the calls (module docs).
                let function = unsafe {
                    match float_size {
                        FloatSize::F32 => ToIntFunction::F32(code.function()),
                        FloatSize::F64 => ToIntFunction::F64(code.function()),
                    }
                };
                let inputs: Vec<(f64, Outcome)> = match function {
                    ToIntFunction::F32(f) => {
                        f32_inputs.iter().map(|&x| (f64::from(x), f(x))).collect()
                    }
                    ToIntFunction::F64(f) => f64_inputs.iter().map(|&x| (x, f(x))).collect(),
                };
                for (x, got) in inputs {
                    let expected = if saturating {
                        trunc_sat_reference(int, x)
                    } else {
                        trunc_reference(int, x)
                    };
                    // The value is meaningless after a trap.
                    let ok = if expected.status == OK {
                        got == expected
                    } else {
                        got.status == expected.status
                    };
                    failures.check(ok, || {
                        format!(
                            "{what} {float_size:?} -> {int:?} with {regs:?}: {x:e} ({:#x}) \
                             gave {got:x?}, expected {expected:x?}",
                            x.to_bits()
                        )
                    });
                }
            }
        }
    }
    failures.finish()
}

#[test]
fn trunc_traps_exactly_on_nan_and_overflow() {
    check_float_to_int(false);
}

#[test]
fn trunc_sat_saturates_like_rust_as_casts() {
    check_float_to_int(true);
}

// ---- u64 to float -------------------------------------------------------------

/// Registers for `cvt_uint64_to_float`.
#[derive(Copy, Clone, Debug)]
struct FromU64Regs {
    dst: Xmm,
    src: Gpr,
    tmp1: Gpr,
    tmp2: Gpr,
}

const FROM_U64_REGS: [FromU64Regs; 3] = [
    FromU64Regs {
        dst: Xmm::XMM0,
        src: Gpr::RDI,
        tmp1: Gpr::RAX,
        tmp2: Gpr::RCX,
    },
    FromU64Regs {
        dst: Xmm::XMM11,
        src: Gpr::R9,
        tmp1: Gpr::R13,
        tmp2: Gpr::R12,
    },
    FromU64Regs {
        dst: Xmm::XMM5,
        src: Gpr::R15,
        tmp1: Gpr::RSI,
        tmp2: Gpr::RBX,
    },
];

fn build_from_u64(float_size: FloatSize, regs: FromU64Regs) -> NativeCode {
    let mut asm = host_assembler();
    save_callee_saved(&mut asm);
    asm.mov_rr(OperandSize::S64, regs.src, Gpr::RDI);
    fill_garbage(&mut asm, &[regs.tmp1, regs.tmp2], &[regs.dst]);
    asm.cvt_uint64_to_float(float_size, regs.dst, regs.src, regs.tmp1, regs.tmp2);
    asm.movaps_rr(Xmm::XMM0, regs.dst);
    restore_and_return(&mut asm);
    NativeCode::new(asm)
}

/// Inputs for `convert_i64_u`: around 2^53, 2^63 and 2^64, and values whose
/// halving must keep the sticky bit (the bit shifted out decides a tie).
fn u64_inputs(rng: &mut Rng) -> Vec<u64> {
    let mut values = vec![
        0,
        1,
        2,
        (1 << 53) - 1,
        1 << 53,
        (1 << 53) + 1,
        (1 << 54) + 1,
        (1 << 63) - 1,
        1 << 63,
        (1 << 63) + 1,
        0x8000_0000_0000_0401,
        0x8000_0000_0000_0400,
        0x8000_0000_0000_0C00,
        0x8000_0000_0000_0BFF,
        0x8000_0080_0000_0001,
        0x8000_0080_0000_0000,
        0x8000_0180_0000_0000,
        0xFFFF_FFFF_FFFF_FBFF,
        0xFFFF_FFFF_FFFF_FC00,
        0xFFFF_FF7F_FFFF_FFFF,
        0xFFFF_FF80_0000_0000,
        u64::MAX - 1,
        u64::MAX,
    ];
    // Ties and near-ties at the f64 (bit 10) and f32 (bit 39) rounding
    // positions of numbers with bit 63 set, with and without sticky bits.
    for shift in [10u32, 39] {
        for _ in 0..16 {
            let top = rng.next_u64() | (1 << 63);
            for k in 0..4u64 {
                for low in [0, 1, 2, (1u64 << shift) - 1] {
                    let clear = !((1u64 << (shift + 2)) - 1);
                    values.push((top & clear) | (k << shift) | low);
                }
            }
        }
    }
    for i in 0..3000 {
        let x = rng.next_u64();
        values.push(match i % 3 {
            0 => x,
            1 => x | (1 << 63),
            _ => x >> rng.below(64),
        });
    }
    values
}

#[test]
fn convert_u64_rounds_like_rust_casts() {
    let mut failures = Failures::new("convert_i64_u");
    let inputs = u64_inputs(&mut Rng::new(0xC0_4E27));
    for regs in FROM_U64_REGS {
        let f32_code = build_from_u64(FloatSize::F32, regs);
        let f64_code = build_from_u64(FloatSize::F64, regs);
        // SAFETY: the wrappers implement `fn(u64) -> f32` and `fn(u64) ->
        // f64`; the codes outlive the calls.
        let to_f32: extern "sysv64" fn(u64) -> f32 = unsafe { f32_code.function() };
        let to_f64: extern "sysv64" fn(u64) -> f64 = unsafe { f64_code.function() };
        for &x in &inputs {
            let (got, expected) = (to_f32(x), x as f32);
            failures.check(got.to_bits() == expected.to_bits(), || {
                format!("f32 {regs:?}: {x:#x} gave {got:e}, expected {expected:e}")
            });
            let (got, expected) = (to_f64(x), x as f64);
            failures.check(got.to_bits() == expected.to_bits(), || {
                format!("f64 {regs:?}: {x:#x} gave {got:e}, expected {expected:e}")
            });
        }
    }
    failures.finish();
}

// ---- min / max ----------------------------------------------------------------

/// Registers for `xmm_min_max`: `dst = op(lhs, dst)`. `lhs` is loaded from
/// xmm0 before `dst` from xmm1, so `lhs` is never xmm1.
const MIN_MAX_REGS: [(Xmm, Xmm); 3] = [
    (Xmm::XMM1, Xmm::XMM0),
    (Xmm::XMM12, Xmm::XMM9),
    (Xmm::XMM0, Xmm::XMM15),
];

/// `fn(a, b) -> op(a, b)` with `lhs = a`, `dst = b`.
fn build_min_max(size: FloatSize, is_min: bool, dst: Xmm, lhs: Xmm) -> NativeCode {
    let mut asm = host_assembler();
    save_callee_saved(&mut asm);
    asm.movaps_rr(lhs, Xmm::XMM0);
    asm.movaps_rr(dst, Xmm::XMM1);
    asm.xmm_min_max(size, is_min, dst, lhs);
    asm.movaps_rr(Xmm::XMM0, dst);
    restore_and_return(&mut asm);
    NativeCode::new(asm)
}

/// The expected result of wasm's `fNN.min`/`fNN.max` on non-NaN inputs, as
/// f64 (exact for f32 inputs too). NaN inputs are handled by the caller.
fn min_max_reference(is_min: bool, a: f64, b: f64) -> f64 {
    if a == 0.0 && b == 0.0 {
        // -0 < +0 for min and max.
        let any_negative = a.is_sign_negative() || b.is_sign_negative();
        let all_negative = a.is_sign_negative() && b.is_sign_negative();
        let negative = if is_min { any_negative } else { all_negative };
        return if negative { -0.0 } else { 0.0 };
    }
    match (is_min, a < b) {
        (true, true) | (false, false) => a,
        _ => b,
    }
}

fn min_max_f64_values() -> Vec<f64> {
    let mut values = vec![
        0.0,
        1.0,
        1.5,
        f64::INFINITY,
        f64::MAX,
        f64::MIN_POSITIVE,
        f64::from_bits(1),
        f64::from_bits(0x000F_FFFF_FFFF_FFFF),
        123456.789,
    ];
    values.extend(values.clone().into_iter().map(|x| -x));
    values.extend(
        [
            0x7FF8_0000_0000_0000u64,
            0xFFF8_0000_0000_0000,
            0x7FF0_0000_0000_0001,
            0xFFF4_0000_0000_BEEF,
        ]
        .map(f64::from_bits),
    );
    values
}

#[test]
fn min_max_follow_wasm_nan_and_signed_zero_rules() {
    let mut failures = Failures::new("min/max");
    let mut rng = Rng::new(0x0031_93A7);
    let edge = min_max_f64_values();
    let mut f64_pairs: Vec<(f64, f64)> = edge
        .iter()
        .flat_map(|&a| edge.iter().map(move |&b| (a, b)))
        .collect();
    for i in 0..3000 {
        let a = f64::from_bits(rng.next_u64());
        let b = match i % 3 {
            // Same magnitude, maybe another sign: the zero/equal path.
            0 => f64::from_bits(a.to_bits() ^ (rng.below(2) << 63)),
            1 => edge[rng.below(edge.len() as u64) as usize],
            _ => f64::from_bits(rng.next_u64()),
        };
        f64_pairs.push((a, b));
    }
    let f32_pairs: Vec<(f32, f32)> = f64_pairs
        .iter()
        .map(|&(a, b)| (a as f32, b as f32))
        .chain((0..2000).map(|_| {
            let bits = rng.next_u64();
            (
                f32::from_bits(bits as u32),
                f32::from_bits((bits >> 32) as u32),
            )
        }))
        .collect();

    for is_min in [true, false] {
        let name = if is_min { "min" } else { "max" };
        for (dst, lhs) in MIN_MAX_REGS {
            let f64_code = build_min_max(FloatSize::F64, is_min, dst, lhs);
            let f32_code = build_min_max(FloatSize::F32, is_min, dst, lhs);
            // SAFETY: the wrappers implement `fn(f64, f64) -> f64` and
            // `fn(f32, f32) -> f32`; the codes outlive the calls.
            let op64: extern "sysv64" fn(f64, f64) -> f64 = unsafe { f64_code.function() };
            let op32: extern "sysv64" fn(f32, f32) -> f32 = unsafe { f32_code.function() };
            for &(a, b) in &f64_pairs {
                let got = op64(a, b);
                let ok = if a.is_nan() || b.is_nan() {
                    // An arithmetic NaN: quiet bit set.
                    got.is_nan() && got.to_bits() & (1 << 51) != 0
                } else {
                    got.to_bits() == min_max_reference(is_min, a, b).to_bits()
                };
                failures.check(ok, || {
                    format!("f64 {name}({a:e}, {b:e}) with dst {dst:?}, lhs {lhs:?} gave {got:e}")
                });
            }
            for &(a, b) in &f32_pairs {
                let got = op32(a, b);
                let ok = if a.is_nan() || b.is_nan() {
                    got.is_nan() && got.to_bits() & (1 << 22) != 0
                } else {
                    let expected = min_max_reference(is_min, a.into(), b.into()) as f32;
                    got.to_bits() == expected.to_bits()
                };
                failures.check(ok, || {
                    format!("f32 {name}({a:e}, {b:e}) with dst {dst:?}, lhs {lhs:?} gave {got:e}")
                });
            }
        }
    }
    failures.finish();
}

#[test]
fn min_max_of_a_register_with_itself_is_that_value() {
    let mut failures = Failures::new("min/max same register");
    for is_min in [true, false] {
        for reg in [Xmm::XMM0, Xmm::XMM14] {
            let mut asm = host_assembler();
            save_callee_saved(&mut asm);
            asm.movaps_rr(reg, Xmm::XMM0);
            asm.xmm_min_max(FloatSize::F64, is_min, reg, reg);
            asm.movaps_rr(Xmm::XMM0, reg);
            restore_and_return(&mut asm);
            let code = NativeCode::new(asm);
            // SAFETY: the wrapper implements `fn(f64) -> f64`; `code`
            // outlives the calls.
            let op: extern "sysv64" fn(f64) -> f64 = unsafe { code.function() };
            for x in min_max_f64_values() {
                let got = op(x);
                let ok = if x.is_nan() {
                    got.is_nan()
                } else {
                    got.to_bits() == x.to_bits()
                };
                failures.check(ok, || format!("op({x:e}, {x:e}) in {reg:?} gave {got:e}"));
            }
        }
    }
    failures.finish();
}

// ---- Jump tables --------------------------------------------------------------

/// What the wrapper returns for the default target.
const DEFAULT_TARGET: u64 = u64::MAX;

/// Registers for `jmp_table`: (index, tmp1, tmp2). The index may be one of
/// the temporaries ("index is only read" before they are written).
const JUMP_TABLE_REGS: [(Gpr, Gpr, Gpr); 5] = [
    (Gpr::RDI, Gpr::RAX, Gpr::RCX),
    (Gpr::R9, Gpr::R13, Gpr::R12),
    (Gpr::RBX, Gpr::RBP, Gpr::R15),
    (Gpr::R10, Gpr::R10, Gpr::R11),
    (Gpr::RSI, Gpr::R14, Gpr::RSI),
];

/// `fn(index) -> target number`, each of `len` targets returning its index
/// and the default returning [`DEFAULT_TARGET`].
fn build_jump_table(len: usize, (index, tmp1, tmp2): (Gpr, Gpr, Gpr)) -> NativeCode {
    let mut asm = host_assembler();
    save_callee_saved(&mut asm);
    asm.mov_rr(OperandSize::S64, index, Gpr::RDI);
    let garbage: Vec<Gpr> = [tmp1, tmp2].into_iter().filter(|&r| r != index).collect();
    fill_garbage(&mut asm, &garbage, &[]);
    let targets = JumpTableTargets {
        default: asm.new_label(),
        targets: (0..len).map(|_| asm.new_label()).collect(),
    };
    asm.jmp_table(index, tmp1, tmp2, &targets);
    for (i, &label) in targets.targets.iter().enumerate() {
        asm.bind_label(label).unwrap();
        asm.mov_ri(OperandSize::S64, Gpr::RAX, i as u64);
        restore_and_return(&mut asm);
    }
    asm.bind_label(targets.default).unwrap();
    asm.mov_ri(OperandSize::S64, Gpr::RAX, DEFAULT_TARGET);
    restore_and_return(&mut asm);
    NativeCode::new(asm)
}

#[test]
fn jump_tables_use_the_low_32_bits_of_the_index() {
    let mut failures = Failures::new("br_table");
    let mut rng = Rng::new(0x7AB1E);
    for len in [0usize, 1, 5, 300] {
        let mut indexes: Vec<u64> = (0..len as u64 + 3).collect();
        indexes.extend([0x7FFF_FFFF, 0x8000_0000, 0xFFFF_FFFF, 0xFFFF_FFFE]);
        // Garbage in the upper half: only the low 32 bits count.
        let upper = [
            1u64 << 32,
            0xFFFF_FFFF << 32,
            0x8000_0000 << 32,
            GARBAGE & !0xFFFF_FFFF,
        ];
        let low: Vec<u64> = indexes.clone();
        for high in upper {
            indexes.extend(low.iter().map(|i| i | high));
        }
        indexes.extend((0..500).map(|_| rng.next_u64()));
        indexes.extend((0..500).map(|_| rng.next_u64() & !0xFFFF_FFFF | rng.below(len as u64 + 1)));
        for regs in JUMP_TABLE_REGS {
            let code = build_jump_table(len, regs);
            // SAFETY: the wrapper implements `fn(u64) -> u64`; `code`
            // outlives the calls.
            let jump: extern "sysv64" fn(u64) -> u64 = unsafe { code.function() };
            for &index in &indexes {
                let low = index as u32 as u64;
                let expected = if low < len as u64 {
                    low
                } else {
                    DEFAULT_TARGET
                };
                let got = jump(index);
                failures.check(got == expected, || {
                    format!("{len} targets, {regs:?}: index {index:#x} went to {got:#x}, expected {expected:#x}")
                });
            }
        }
    }
    failures.finish();
}

// ---- Signed remainder ---------------------------------------------------------

const DIVISOR_REGS: [Gpr; 4] = [Gpr::RCX, Gpr::R9, Gpr::RBX, Gpr::R13];

fn rem_trap() -> TrapCode {
    TrapCode::from_u8(7).unwrap()
}

/// `fn(dividend, divisor) -> dividend % divisor` at `size`.
fn build_srem(size: OperandSize, divisor: Gpr) -> NativeCode {
    let mut asm = host_assembler();
    save_callee_saved(&mut asm);
    asm.mov_rr(OperandSize::S64, Gpr::RAX, Gpr::RDI);
    asm.mov_rr(OperandSize::S64, divisor, Gpr::RSI);
    asm.mov_ri(OperandSize::S64, Gpr::RDX, GARBAGE);
    asm.sign_extend_rax_into_rdx(size);
    asm.checked_srem(size, divisor, rem_trap());
    asm.mov_rr(OperandSize::S64, Gpr::RAX, Gpr::RDX);
    restore_and_return(&mut asm);
    NativeCode::new(asm)
}

fn int_edge_values() -> Vec<i64> {
    let mut values = vec![0i64, 1, 2, 3, 7, 10, 1 << 31, 1 << 32, 1 << 62];
    values.extend([i32::MIN, i32::MIN + 1, i32::MAX, i32::MAX - 1].map(i64::from));
    values.extend([i64::MIN, i64::MIN + 1, i64::MAX, i64::MAX - 1]);
    values.extend(values.clone().into_iter().map(i64::wrapping_neg));
    values.push(-1);
    values
}

#[test]
fn checked_srem_matches_wrapping_rem() {
    let mut failures = Failures::new("rem_s");
    let mut rng = Rng::new(0x5E4);
    let edge = int_edge_values();
    let mut pairs: Vec<(i64, i64)> = edge
        .iter()
        .flat_map(|&a| edge.iter().map(move |&b| (a, b)))
        .collect();
    for i in 0..3000 {
        let a = rng.next_u64() as i64;
        let b = match i % 3 {
            0 => rng.next_u64() as i64,
            1 => (rng.next_u64() as i64) >> rng.below(64),
            _ => edge[rng.below(edge.len() as u64) as usize],
        };
        pairs.push((a, b));
    }
    for size in [OperandSize::S32, OperandSize::S64] {
        for divisor in DIVISOR_REGS {
            let code = build_srem(size, divisor);
            // SAFETY: the wrapper implements `fn(i64, i64) -> u64`; `code`
            // outlives the calls.
            let rem: extern "sysv64" fn(i64, i64) -> u64 = unsafe { code.function() };
            for &(a, b) in &pairs {
                // Division by zero faults in hardware: not run here.
                let expected = match size {
                    OperandSize::S32 if b as i32 == 0 => continue,
                    OperandSize::S32 => (a as i32).wrapping_rem(b as i32) as u32 as u64,
                    _ if b == 0 => continue,
                    _ => a.wrapping_rem(b) as u64,
                };
                let got = rem(a, b);
                failures.check(got == expected, || {
                    format!(
                        "{size:?} {a} % {b} in {divisor:?} gave {got:#x}, expected {expected:#x}"
                    )
                });
            }
        }
    }
    failures.finish();
}

#[test]
fn checked_srem_records_the_division_trap() {
    use iced_x86::{Decoder, DecoderOptions, Mnemonic};
    for size in [OperandSize::S32, OperandSize::S64] {
        for divisor in DIVISOR_REGS {
            let code = build_srem(size, divisor);
            let finished = code.finished();
            let traps = finished.traps();
            assert_eq!(traps.len(), 1, "{size:?} {divisor:?}: {traps:?}");
            assert_eq!(traps[0].code, rem_trap());
            let bytes = &finished.code()[traps[0].offset as usize..];
            let inst = Decoder::new(64, bytes, DecoderOptions::NONE).decode();
            assert_eq!(inst.mnemonic(), Mnemonic::Idiv, "{size:?} {divisor:?}");
            assert_eq!(inst.op0_register() as usize, divisor_number(divisor, size));
        }
    }
}

/// The iced register number of `divisor` at `size`.
fn divisor_number(divisor: Gpr, size: OperandSize) -> usize {
    use iced_x86::Register;
    let base = match size {
        OperandSize::S32 => Register::EAX,
        _ => Register::RAX,
    };
    base as usize + usize::from(divisor.enc())
}

/// A patchable `sub` decodes, once patched, as `sub reg, value` for every
/// value and register, small values included (which `sub_ri` would encode
/// as imm8), and is as long whatever the value; the instruction after it
/// is untouched.
#[test]
fn a_patched_immediate_decodes_as_the_value_given() {
    use cranelift_asm::x64::CpuFeatures;
    use iced_x86::{Decoder, DecoderOptions, Mnemonic, Register};
    for reg in [Gpr::RAX, Gpr::RSP, Gpr::R11, Gpr::R15] {
        for size in [OperandSize::S32, OperandSize::S64] {
            for value in [0, 5, -1, 0x7f, 0x80, 0x1234_5678, i32::MIN, i32::MAX] {
                let mut asm = Assembler::new(CpuFeatures::baseline());
                let imm = asm.sub_ri_patchable(size, reg);
                asm.ret();
                asm.patch_imm32(imm, value);
                let finished = asm.finish().unwrap();
                let mut decoder = Decoder::new(64, finished.code(), DecoderOptions::NONE);
                let sub = decoder.decode();
                let what = format!("{size:?} {reg:?} {value}");
                assert_eq!(sub.mnemonic(), Mnemonic::Sub, "{what}");
                let base = if size == OperandSize::S64 {
                    Register::RAX
                } else {
                    Register::EAX
                };
                assert_eq!(
                    sub.op0_register() as usize,
                    base as usize + usize::from(reg.enc()),
                    "{what}"
                );
                assert_eq!(sub.immediate32() as i32, value, "{what}");
                assert_eq!(decoder.decode().mnemonic(), Mnemonic::Ret, "{what}");
            }
        }
    }
}
