//! The optimizing compiler's backend end to end: IR text is parsed,
//! verified, lowered (ISLE), register-allocated (regalloc2), emitted
//! (cranelift-asm), loaded into executable memory (duet's `CodeMemory`) and
//! called natively through the wasm calling convention (the VMContext in
//! `rdi`, integer arguments in `rsi, rdx, ...`, the result in `rax`).
//! Results are compared with the same computation in Rust.

use cranelift_codegen::isa::x64::{CompileOptions, ImplicitTraps, compile_function};
use cranelift_codegen::machinst::{Allocator, StackLimit};
use cranelift_codegen::parser::parse_function_text;
use cranelift_codegen::verifier::verify_function;
use duet::code::CodeMemory;
use duet_environ::trap::Trap;
use duet_environ::vmoffsets::VMContext;

/// The runtime's trap codes for faults the IR implies.
fn traps() -> ImplicitTraps {
    ImplicitTraps {
        memory_out_of_bounds: Trap::MemoryOutOfBounds.code(),
        integer_division_by_zero: Trap::IntegerDivisionByZero.code(),
        integer_overflow: Trap::IntegerOverflow.code(),
        bad_conversion_to_integer: Trap::BadConversionToInteger.code(),
    }
}

/// A compiled function of type `(vmctx, i64, i64) -> i64`, with a fake
/// VMContext whose stack limit is 0; where `fast` is there, the same
/// function with registers allocated by regalloc2's single-pass
/// allocator (which `Allocator::BySize` takes for huge functions), and
/// every call runs both and requires the same result.
struct Compiled {
    code: CodeMemory,
    fast: Option<CodeMemory>,
    vmctx: Vec<u64>,
}

/// The options wasm functions are compiled with.
fn options() -> CompileOptions {
    CompileOptions {
        features: cranelift_asm::x64::CpuFeatures::host(),
        stack_limit: Some(StackLimit {
            vmctx: cranelift_asm::x64::Gpr::RDI,
            offset: VMContext::STACK_LIMIT as i32,
            trap: Trap::StackOverflow.code(),
        }),
        traps: traps(),
        allocator: Default::default(),
    }
}

fn compile(text: &str) -> Compiled {
    compile_with(text, false)
}

/// As [`compile`], after the mid-end's optimizations when `optimize`.
fn compile_with(text: &str, optimize: bool) -> Compiled {
    let mut func = parse_function_text(text).unwrap_or_else(|e| panic!("{e}\n{text}"));
    verify_function(&func).unwrap_or_else(|e| panic!("{e}\n{func}"));
    if optimize {
        cranelift_codegen::opts::optimize(&mut func);
        verify_function(&func).unwrap_or_else(|e| panic!("{e}\n{func}"));
        assert!(
            !func.to_string().contains("udiv") && !func.to_string().contains("urem"),
            "the divisions became reciprocals:\n{func}"
        );
    }
    let finished = compile_function(&func, &options()).unwrap_or_else(|e| panic!("{e}\n{func}"));
    let code = CodeMemory::new([&finished], |_| None).expect("the code maps");
    let fast_options = CompileOptions {
        allocator: Allocator::Fast,
        ..options()
    };
    let fast = compile_function(&func, &fast_options).unwrap_or_else(|e| panic!("{e}\n{func}"));
    let fast = CodeMemory::new([&fast], |_| None).expect("the code maps");
    Compiled {
        code,
        fast: Some(fast),
        vmctx: vec![0; 16],
    }
}

impl Compiled {
    fn call(&mut self, a: i64, b: i64) -> i64 {
        self.run_both(
            |entry, vmctx| {
                // SAFETY: the function was compiled for the wasm
                // convention with parameters (i64 vmctx, i64/i32, i64/i32)
                // and an integer result, which is System V's for these
                // types; the fake VMContext has the stack-limit field the
                // prologue reads.
                unsafe {
                    let f: extern "sysv64" fn(*mut u64, i64, i64) -> i64 =
                        std::mem::transmute(entry);
                    f(vmctx, a, b)
                }
            },
            |x| *x as u64,
        )
    }

    /// Calls the function's entry with `call`, then the single-pass
    /// allocator's (with a copy of the VMContext), and requires the same
    /// result, compared as `bits` of it.
    fn run_both<R: core::fmt::Debug>(
        &mut self,
        call: impl Fn(*const u8, *mut u64) -> R,
        bits: impl Fn(&R) -> u64,
    ) -> R {
        let result = call(self.code.function(0).unwrap(), self.vmctx.as_mut_ptr());
        if let Some(fast) = &self.fast {
            let mut vmctx = self.vmctx.clone();
            let again = call(fast.function(0).unwrap(), vmctx.as_mut_ptr());
            assert_eq!(
                bits(&again),
                bits(&result),
                "fastalloc's code: {again:?}, Ion's: {result:?}"
            );
        }
        result
    }
}

const INPUTS: [i64; 12] = [
    0,
    1,
    -1,
    2,
    7,
    -100,
    0x7fff_ffff,
    -0x8000_0000,
    0xffff_ffff,
    i64::MAX,
    i64::MIN,
    0x1234_5678_9abc_def0,
];

#[test]
fn integer_arithmetic_matches_rust() {
    let mut f = compile(
        "function %f(i64, i64, i64) -> i64 wasm {
block0(v0: i64, v1: i64, v2: i64):
    v3 = iadd v1, v2
    v4 = iconst.i64 12345
    v5 = imul v3, v4
    v6 = isub v5, v1
    v7 = bxor v6, v2
    v8 = iconst.i64 -7
    v9 = band v7, v8
    v10 = bor v9, v1
    v11 = iadd v4, v10
    return v11
}",
    );
    for a in INPUTS {
        for b in INPUTS {
            let want = ((a.wrapping_add(b).wrapping_mul(12345).wrapping_sub(a) ^ b) & -7 | a)
                .wrapping_add(12345);
            assert_eq!(f.call(a, b), want, "f({a}, {b})");
        }
    }
}

#[test]
fn masking_the_low_half_clears_the_high_half() {
    // `x & 0xffffffff` is lowered as a 32-bit move; `mul128` is sightglass
    // ed25519's `__multi3` (the product of the low halves, its carries).
    let mut f = compile(
        "function %f(i64, i64, i64) -> i64 wasm {
block0(v0: i64, v1: i64, v2: i64):
    v3 = iconst.i64 0xffffffff
    v4 = band v1, v3
    v5 = band v2, v3
    v6 = imul v4, v5
    v7 = iconst.i64 32
    v8 = ushr v6, v7
    v9 = ushr v1, v7
    v10 = imul v9, v5
    v11 = iadd v8, v10
    v12 = band v11, v3
    v13 = ishl v11, v7
    v14 = bxor v13, v12
    v15 = bor v14, v4
    return v15
}",
    );
    for a in INPUTS {
        for b in INPUTS {
            let mask = 0xffff_ffff_i64;
            let low = ((a & mask).wrapping_mul(b & mask) as u64 >> 32) as i64;
            let sum = low.wrapping_add(((a as u64 >> 32) as i64).wrapping_mul(b & mask));
            let want = (sum << 32 ^ sum & mask) | a & mask;
            assert_eq!(f.call(a, b), want, "f({a}, {b})");
        }
    }
}

#[test]
fn division_by_constants_matches_rust() {
    // Unsigned 32-bit division and remainder by constants go through
    // reciprocals (rounded up for 10, down for 7 and 641).
    for d in [3u32, 7, 10, 641, 139_968, 0x8000_0001, u32::MAX] {
        let mut f = compile_with(
            &format!(
                "function %f(i64, i32, i32) -> i64 wasm {{
block0(v0: i64, v1: i32, v2: i32):
    v3 = iconst.i32 {d}
    v4 = udiv v1, v3
    v5 = urem v2, v3
    v6 = uextend.i64 v4
    v7 = uextend.i64 v5
    v8 = iconst.i64 32
    v9 = ishl v6, v8
    v10 = bor v9, v7
    return v10
}}"
            ),
            true,
        );
        let top = u32::MAX / d * d;
        let mut values: Vec<u32> = vec![0, 1, d - 1, d, d.wrapping_add(1), top - 1, top];
        values.extend(INPUTS.iter().map(|&v| v as u32));
        values.extend((1..64).map(|i| (u32::MAX / 64).wrapping_mul(i)));
        for &a in &values {
            for &b in &values {
                let want = (u64::from(a / d) << 32) | u64::from(b % d);
                assert_eq!(
                    f.call(a as i64, b as i64) as u64,
                    want,
                    "{a} / {d}, {b} % {d}"
                );
            }
        }
    }
}

#[test]
fn i32_operations_wrap_at_32_bits() {
    let mut f = compile(
        "function %f(i64, i32, i32) -> i32 wasm {
block0(v0: i64, v1: i32, v2: i32):
    v3 = imul v1, v2
    v4 = iconst.i32 0xffffffff
    v5 = iadd v3, v4
    return v5
}",
    );
    for a in INPUTS {
        for b in INPUTS {
            let want = (a as i32).wrapping_mul(b as i32).wrapping_sub(1);
            assert_eq!(f.call(a, b) as i32, want, "f({a}, {b})");
        }
    }
}

#[test]
fn loops_and_comparisons_with_block_parameters() {
    // sum of i for i in 0..n (n clamped below at 0), with a compare fused
    // into the loop branch and a comparison result used as a value.
    let mut f = compile(
        "function %f(i64, i64, i64) -> i64 wasm {
block0(v0: i64, v1: i64, v2: i64):
    v3 = iconst.i64 0
    jump block1(v3, v3)

block1(v4: i64, v5: i64):
    v6 = icmp slt v4, v1
    brif v6, block2, block3

block2:
    v7 = iadd v5, v4
    v8 = iconst.i64 1
    v9 = iadd v4, v8
    jump block1(v9, v7)

block3:
    v10 = icmp ugt v1, v2
    v11 = uextend.i64 v10
    v12 = iconst.i64 1000000
    v13 = imul v11, v12
    v14 = iadd v5, v13
    return v14
}",
    );
    for n in [0i64, 1, 2, 10, 1000, -5] {
        for b in [0i64, 5, -1] {
            let sum: i64 = (0..n.max(0)).sum();
            let want = sum
                + if (n as u64) > (b as u64) {
                    1_000_000
                } else {
                    0
                };
            assert_eq!(f.call(n, b), want, "f({n}, {b})");
        }
    }
}

#[test]
fn calls_pass_stack_arguments_and_several_results_and_keep_values_across() {
    let callee = "function %g(i64, i64, i64, i64, i64, i64, i64, i64) -> i64, i64, i64 wasm {
block0(v0: i64, v1: i64, v2: i64, v3: i64, v4: i64, v5: i64, v6: i64, v7: i64):
    v8 = iadd v1, v6
    v9 = isub v7, v2
    v10 = iadd v3, v4
    v11 = iadd v10, v5
    return v8, v9, v11
}";
    let caller = "function %f(i64, i64, i64) -> i64 wasm {
    sig0 = (i64, i64, i64, i64, i64, i64, i64, i64) -> i64, i64, i64 wasm
    fn0 = u0:1 sig0

block0(v0: i64, v1: i64, v2: i64):
    v3 = iconst.i64 1
    v4 = iconst.i64 2
    v5 = iconst.i64 3
    v6 = iconst.i64 4
    v7 = iconst.i64 5
    v8, v9, v10 = call fn0(v0, v1, v2, v3, v4, v5, v6, v7)
    v11 = imul v8, v9
    v12 = iadd v11, v10
    v13 = bxor v12, v1
    v14 = iadd v13, v2
    return v14
}";
    let options = CompileOptions {
        features: cranelift_asm::x64::CpuFeatures::host(),
        stack_limit: None,
        traps: traps(),
        allocator: Default::default(),
    };
    let functions: Vec<_> = [caller, callee]
        .iter()
        .map(|text| {
            let func = parse_function_text(text).unwrap();
            verify_function(&func).unwrap();
            compile_function(&func, &options).unwrap_or_else(|e| panic!("{e}"))
        })
        .collect();
    let unlinked = duet::code::UnlinkedCode::new(&functions).unwrap();
    let addresses: Vec<usize> = unlinked.function_addresses().collect();
    let code = unlinked
        .link(|name| (name.namespace == 0).then(|| addresses[name.index as usize]))
        .unwrap();
    let mut compiled = Compiled {
        code,
        fast: None,
        vmctx: vec![0; 16],
    };
    for a in INPUTS {
        for b in INPUTS {
            // g(vmctx, a, b, 1, 2, 3, 4, 5) = (a + 4, 5 - b, 1 + 2 + 3)
            let (r0, r1, r2) = (a.wrapping_add(4), 5i64.wrapping_sub(b), 6);
            let want = (r0.wrapping_mul(r1).wrapping_add(r2) ^ a).wrapping_add(b);
            assert_eq!(compiled.call(a, b), want, "f({a}, {b})");
        }
    }
}

#[test]
fn shifts_division_and_select_match_rust() {
    let mut f = compile(
        "function %f(i64, i64, i64) -> i64 wasm {
block0(v0: i64, v1: i64, v2: i64):
    v3 = ishl v1, v2
    v4 = ushr v1, v2
    v5 = sshr v1, v2
    v6 = rotl v1, v2
    v7 = iconst.i64 13
    v8 = rotr v1, v7
    v9 = bxor v3, v4
    v10 = bxor v9, v5
    v11 = bxor v10, v6
    v12 = bxor v11, v8
    v13 = bnot v12
    v14 = ineg v13
    v15 = iconst.i64 0
    v16 = icmp eq v2, v15
    v17 = iconst.i64 1
    v18 = select v16, v17, v2
    v19 = udiv v1, v18
    v20 = urem v1, v18
    v21 = srem v1, v18
    v22 = iadd v19, v20
    v23 = iadd v22, v21
    v24 = iadd v23, v14
    return v24
}",
    );
    for a in INPUTS {
        for b in INPUTS {
            let s = (b & 63) as u32;
            let v = (a << s)
                ^ ((a as u64 >> s) as i64)
                ^ (a >> s)
                ^ a.rotate_left(s)
                ^ a.rotate_right(13);
            let d = if b == 0 { 1 } else { b };
            let want = ((a as u64 / d as u64) as i64)
                .wrapping_add((a as u64 % d as u64) as i64)
                .wrapping_add(a.checked_rem(d).unwrap_or(0))
                .wrapping_add((!v).wrapping_neg());
            assert_eq!(f.call(a, b), want, "f({a}, {b})");
        }
    }
}

#[test]
fn loads_and_stores_of_every_width() {
    let mut f = compile(
        "function %f(i64, i64, i64) -> i64 wasm {
block0(v0: i64, v1: i64, v2: i64):
    store notrap v2, v1+8
    istore8 notrap v2, v1+16
    istore16 notrap v2, v1+18
    v3 = ireduce.i32 v2
    istore32 notrap v2, v1+20
    store notrap v3, v1+24
    v4 = load.i64 notrap v1+8
    v5 = uload8.i64 notrap v1+8
    v6 = sload8.i64 notrap v1+8
    v7 = uload16.i32 notrap v1+8
    v8 = sload16.i64 notrap v1+8
    v9 = uload32.i64 notrap v1+8
    v10 = sload32.i64 notrap v1+8
    v11 = load.i32 notrap v1+24
    v12 = uextend.i64 v7
    v13 = uextend.i64 v11
    v14 = bxor v4, v5
    v15 = bxor v14, v6
    v16 = bxor v15, v12
    v17 = bxor v16, v8
    v18 = bxor v17, v9
    v19 = bxor v18, v10
    v20 = bxor v19, v13
    v21 = load.i64 notrap v1+16
    v22 = iadd v20, v21
    return v22
}",
    );
    for b in INPUTS {
        let mut buffer = [0u64; 4];
        let a = buffer.as_mut_ptr() as i64;
        let got = f.call(a, b);
        let x = b as u64;
        let want = (x
            ^ (x as u8 as u64)
            ^ (x as u8 as i8 as i64 as u64)
            ^ (x as u16 as u64)
            ^ (x as u16 as i16 as i64 as u64)
            ^ (x as u32 as u64)
            ^ (x as u32 as i32 as i64 as u64)
            ^ (x as u32 as u64)) as i64;
        let at16 = (x as u8 as u64) | ((x as u16 as u64) << 16) | ((x as u32 as u64) << 32);
        assert_eq!(got, want.wrapping_add(at16 as i64), "f({b})");
        assert_eq!(buffer[1], x);
    }
}

impl Compiled {
    /// Calls a `(vmctx, f64, f64) -> f64` function.
    fn call_f64(&mut self, a: f64, b: f64) -> f64 {
        self.run_both(
            |entry, vmctx| {
                // SAFETY: as in `call`, with two float arguments in xmm0
                // and xmm1 and a float result in xmm0, which is System V's
                // convention too.
                unsafe {
                    let f: extern "sysv64" fn(*mut u64, f64, f64) -> f64 =
                        std::mem::transmute(entry);
                    f(vmctx, a, b)
                }
            },
            |x| x.to_bits(),
        )
    }
}

/// A float operation's Rust counterpart.
type BinaryF64 = fn(f64, f64) -> f64;
/// A float comparison's Rust counterpart.
type CompareF64 = fn(f64, f64) -> bool;

/// WebAssembly's `min` and `max` on `f64`.
fn wasm_min_max(a: f64, b: f64, min: bool) -> f64 {
    if a.is_nan() || b.is_nan() {
        return f64::NAN;
    }
    if a == b {
        // -0 < +0
        return if min == (a.is_sign_negative()) { a } else { b };
    }
    if (a < b) == min { a } else { b }
}

#[test]
fn float_operations_match_rust() {
    let ops: [(&str, BinaryF64); 12] = [
        ("fadd v1, v2", |a, b| a + b),
        ("fsub v1, v2", |a, b| a - b),
        ("fmul v1, v2", |a, b| a * b),
        ("fdiv v1, v2", |a, b| a / b),
        ("fmin v1, v2", |a, b| wasm_min_max(a, b, true)),
        ("fmax v1, v2", |a, b| wasm_min_max(a, b, false)),
        ("fcopysign v1, v2", f64::copysign),
        ("fneg v1", |a, _| -a),
        ("fabs v1", |a, _| a.abs()),
        ("sqrt v1", |a, _| a.sqrt()),
        ("floor v1", |a, _| a.floor()),
        ("nearest v1", |a, _| a.round_ties_even()),
    ];
    let inputs = [
        0.0,
        -0.0,
        1.5,
        -2.5,
        3.0,
        f64::INFINITY,
        f64::NEG_INFINITY,
        f64::NAN,
        1e300,
        -1e-300,
    ];
    for (op, rust) in ops {
        let mut f = compile(&format!(
            "function %f(i64, f64, f64) -> f64 wasm {{
block0(v0: i64, v1: f64, v2: f64):
    v3 = {op}
    return v3
}}"
        ));
        for a in inputs {
            for b in inputs {
                let (got, want) = (f.call_f64(a, b), rust(a, b));
                assert!(
                    got.to_bits() == want.to_bits() || got.is_nan() && want.is_nan(),
                    "{op}: ({a}, {b}) = {got}, want {want}"
                );
            }
        }
    }
}

#[test]
fn float_comparisons_conversions_and_constants() {
    let conds: [(&str, CompareF64); 8] = [
        ("eq", |a, b| a == b),
        ("ne", |a, b| a != b),
        ("lt", |a, b| a < b),
        ("le", |a, b| a <= b),
        ("gt", |a, b| a > b),
        ("ge", |a, b| a >= b),
        ("ord", |a, b| !a.is_nan() && !b.is_nan()),
        ("uno", |a, b| a.is_nan() || b.is_nan()),
    ];
    let inputs = [0.0, -0.0, 1.0, -1.0, f64::INFINITY, f64::NAN];
    for (cc, rust) in conds {
        // (a cc b) converted to f64 through an i32, plus 0.5 (a constant).
        let mut f = compile(&format!(
            "function %f(i64, f64, f64) -> f64 wasm {{
block0(v0: i64, v1: f64, v2: f64):
    v3 = fcmp {cc} v1, v2
    v4 = uextend.i32 v3
    v5 = fcvt_from_sint.f64 v4
    v6 = f64const 0x3fe0000000000000
    v7 = fadd v5, v6
    return v7
}}"
        ));
        for a in inputs {
            for b in inputs {
                let want = if rust(a, b) { 1.5 } else { 0.5 };
                assert_eq!(f.call_f64(a, b), want, "{a} {cc} {b}");
            }
        }
    }
    // Saturating and unsigned conversions, promotion and demotion, bit casts.
    let mut f = compile(
        "function %f(i64, f64, f64) -> f64 wasm {
block0(v0: i64, v1: f64, v2: f64):
    v3 = fcvt_to_sint_sat.i32 v1
    v4 = fcvt_to_uint_sat.i64 v2
    v5 = fcvt_from_sint.f64 v3
    v6 = fcvt_from_uint.f64 v4
    v7 = fadd v5, v6
    v8 = fdemote.f32 v7
    v9 = fpromote.f64 v8
    v10 = bitcast.i64 v9
    v11 = bitcast.f64 v10
    return v11
}",
    );
    for a in [0.0, -1.5, 3e9, -3e9, f64::NAN, 1e20] {
        for b in [0.0, -1.0, 1e19, 2e19, f64::NAN, 123.75] {
            let i = a as i32 as f64;
            let u = b as u64 as f64;
            let want = ((i + u) as f32) as f64;
            assert_eq!(f.call_f64(a, b).to_bits(), want.to_bits(), "f({a}, {b})");
        }
    }
}

#[test]
fn branch_tables_conditional_traps_and_bit_counts() {
    let text = "function %f(i64, i32, i32) -> i32 wasm {
block0(v0: i64, v1: i32, v2: i32):
    br_table v1, block4, [block1, block2, block3, block1]

block1:
    v3 = clz v2
    jump block5(v3)

block2:
    v4 = ctz v2
    jump block5(v4)

block3:
    v5 = popcnt v2
    jump block5(v5)

block4:
    v6 = iconst.i32 -1000
    v7 = uadd_overflow_trap v2, v6, trap9
    jump block5(v7)

block5(v8: i32):
    v9 = iconst.i32 32
    v10 = icmp eq v8, v9
    trapnz v10, trap10
    return v8
}";
    let mut f = compile(text);
    let run = |f: &mut Compiled, a: i64, b: i32| f.call_checked(text, a, b);
    for b in [0i32, 1, -1, 0x1000, 12345, 0x7fff_0000] {
        let want = [
            Ok(b.leading_zeros() as i32),
            Ok(b.trailing_zeros() as i32),
            Ok(b.count_ones() as i32),
            Ok(b.leading_zeros() as i32),
        ];
        for (index, want) in want.into_iter().enumerate() {
            // A result of 32 traps with the other code.
            let want = if want == Ok(32) { Err(10) } else { want };
            assert_eq!(run(&mut f, index as i64, b), want, "index {index}, b {b}");
        }
        // Past the end: the default, whose addition traps on a carry.
        for index in [4i64, 5, 0xffff_ffff, -1] {
            let sum = (b as u32).checked_add(-1000i32 as u32);
            let want = match sum {
                Some(_) => Ok(b.wrapping_sub(1000)),
                None => Err(9),
            };
            assert_eq!(run(&mut f, index, b), want, "index {index}, b {b}");
        }
    }
    assert_eq!(run(&mut f, 0, 0), Err(10), "clz 0 = 32 traps");
}

impl Compiled {
    /// Calls the `(vmctx, i32, i32) -> i32` function through an entry
    /// trampoline with traps caught: `Err(code)` for a trap.
    fn call_checked(&mut self, text: &str, a: i64, b: i32) -> Result<i32, u8> {
        use duet::traps::{RegisteredCode, call_wasm};
        let func = parse_function_text(text).unwrap();
        let finished = compile_function(&func, &options()).unwrap();
        let code =
            RegisteredCode::new(CodeMemory::new([&finished], |_| None).unwrap(), [&finished]);
        use duet_environ::module::{FuncType, ValType};
        let ty = FuncType {
            params: [ValType::I32, ValType::I32].into(),
            results: [ValType::I32].into(),
        };
        let trampoline = duet_environ::trampoline::compile_entry_trampoline(
            &ty,
            cranelift_asm::x64::CpuFeatures::host(),
        )
        .unwrap();
        let trampoline_code = CodeMemory::new([&trampoline], |_| None).unwrap();
        let trampolines = RegisteredCode::new(trampoline_code, [&trampoline]);
        let mut values = [[0u8; 16]; 2];
        values[0][..8].copy_from_slice(&a.to_le_bytes());
        values[1][..4].copy_from_slice(&b.to_le_bytes());
        // SAFETY: the trampoline is for the function's wasm type, the
        // function takes this fake VMContext (stack limit 0), and both are
        // registered.
        let result = unsafe {
            call_wasm(
                trampolines.code().function(0).unwrap(),
                self.vmctx.as_mut_ptr() as *mut u8,
                code.code().function(0).unwrap(),
                values.as_mut_ptr(),
            )
        };
        match result {
            Ok(()) => Ok(i32::from_le_bytes(values[0][..4].try_into().unwrap())),
            Err(info) => Err(info.trap.code().as_u8()),
        }
    }
}

/// `op` on the low `bits` of `a` and `b` as Rust computes it, zero-extended,
/// or `None` where the IR traps (division by zero, signed overflow).
fn narrow_reference(op: &str, bits: u32, a: i64, b: i64) -> Option<u64> {
    let mask = (1u64 << bits) - 1;
    let (ua, ub) = (a as u64 & mask, b as u64 & mask);
    let shift = 64 - bits;
    let (sa, sb) = (
        ((ua << shift) as i64) >> shift,
        ((ub << shift) as i64) >> shift,
    );
    let k = (ub % u64::from(bits)) as u32;
    let rotate = |left: bool| {
        let k = if left { k } else { (bits - k) % bits };
        if k == 0 {
            ua
        } else {
            (ua << k) | (ua >> (bits - k))
        }
    };
    let min = -(1i64 << (bits - 1));
    let value = match op {
        "iadd" => ua.wrapping_add(ub),
        "isub" => ua.wrapping_sub(ub),
        "imul" => ua.wrapping_mul(ub),
        "band" => ua & ub,
        "bor" => ua | ub,
        "bxor" => ua ^ ub,
        "ishl" => ua << k,
        "ushr" => ua >> k,
        "sshr" => (sa >> k) as u64,
        "rotl" => rotate(true),
        "rotr" => rotate(false),
        "udiv" => ua.checked_div(ub)?,
        "urem" => ua.checked_rem(ub)?,
        "sdiv" if sa == min && sb == -1 => return None,
        "sdiv" => sa.checked_div(sb)? as u64,
        "srem" if sb == 0 => return None,
        "srem" => sa.wrapping_rem(sb) as u64,
        "bnot" => !ua,
        "ineg" => ua.wrapping_neg(),
        "clz" => u64::from(ua.leading_zeros() - (64 - bits)),
        "ctz" => u64::from(ua.trailing_zeros().min(bits)),
        "popcnt" => u64::from(ua.count_ones()),
        "eq" => u64::from(ua == ub),
        "ne" => u64::from(ua != ub),
        "slt" => u64::from(sa < sb),
        "sge" => u64::from(sa >= sb),
        "sgt" => u64::from(sa > sb),
        "sle" => u64::from(sa <= sb),
        "ult" => u64::from(ua < ub),
        "uge" => u64::from(ua >= ub),
        "ugt" => u64::from(ua > ub),
        "ule" => u64::from(ua <= ub),
        _ => unreachable!("{op}"),
    };
    Some(value & mask)
}

/// Every integer operation on `i8` and `i16` against Rust. The result is
/// returned zero-extended, with bit 32 set when a whole-register test of
/// it (`select`) sees it nonzero: that checks the lowering keeps narrow
/// values zero-extended in their registers.
#[test]
fn narrow_integer_operations_match_rust() {
    let binary = [
        "iadd", "isub", "imul", "band", "bor", "bxor", "ishl", "ushr", "sshr", "rotl", "rotr",
        "udiv", "urem", "sdiv", "srem",
    ];
    let unary = ["bnot", "ineg", "clz", "ctz", "popcnt"];
    let compares = [
        "eq", "ne", "slt", "sge", "sgt", "sle", "ult", "uge", "ugt", "ule",
    ];
    let inputs = [
        0i64, 1, 2, 3, 7, 8, 9, 15, 16, 17, 0x7f, 0x80, 0xff, 0x7fff, 0x8000, 0xffff, -1, -2,
        0x1234,
    ];
    for ty in ["i8", "i16"] {
        let bits = if ty == "i8" { 8 } else { 16 };
        let ops = binary
            .iter()
            .map(|op| (*op, format!("{op} v3, v4")))
            .chain(unary.iter().map(|op| (*op, format!("{op} v3"))))
            .chain(compares.iter().map(|cc| (*cc, format!("icmp {cc} v3, v4"))));
        for (op, expr) in ops {
            let text = format!(
                "function %f(i64, i32, i32) -> i64 wasm {{
block0(v0: i64, v1: i32, v2: i32):
    v3 = ireduce.{ty} v1
    v4 = ireduce.{ty} v2
    v5 = {expr}
    v6 = uextend.i64 v5
    v7 = iconst.i64 0x100000000
    v8 = iconst.i64 0
    v9 = select v5, v7, v8
    v10 = bor v6, v9
    return v10
}}"
            );
            let mut f = compile(&text);
            for a in inputs {
                for b in inputs {
                    let Some(want) = narrow_reference(op, bits, a, b) else {
                        continue;
                    };
                    let want = want | if want != 0 { 1 << 32 } else { 0 };
                    assert_eq!(f.call(a, b) as u64, want, "{ty} {op}({a:#x}, {b:#x})");
                }
            }
        }
    }
}

/// Stack slots: stores and loads at offsets, an address taken with
/// `stack_addr` and used by a plain load, a narrow store that must not
/// touch the next slot, and the slots' alignment.
#[test]
fn only_frameless_leaves_skip_the_stack_limit_check() {
    // A leaf with nothing in its frame but saved registers cannot recurse
    // and stays within `LEAF_UNCHECKED_BYTES` of its caller's checked
    // stack pointer; a stack slot or a call brings the check back.
    let checked = |text: &str| {
        let func = parse_function_text(text).unwrap_or_else(|e| panic!("{e}\n{text}"));
        let finished = compile_function(&func, &options()).unwrap();
        finished
            .traps()
            .iter()
            .any(|t| t.code == Trap::StackOverflow.code())
    };
    let leaf = "function %f(i64, i64, i64) -> i64 wasm {
block0(v0: i64, v1: i64, v2: i64):
    v3 = imul v1, v2
    return v3
}";
    let with_slot = "function %f(i64, i64, i64) -> i64 wasm {
    ss0 = explicit_slot 8, align 3
block0(v0: i64, v1: i64, v2: i64):
    stack_store v1, ss0
    v3 = stack_load.i64 ss0
    return v3
}";
    let with_call = "function %f(i64, i64, i64) -> i64 wasm {
    sig0 = (i64, i64) -> i64 wasm
    fn0 = u0:1 sig0

block0(v0: i64, v1: i64, v2: i64):
    v3 = call fn0(v0, v1)
    return v3
}";
    assert!(!checked(leaf));
    assert!(checked(with_slot));
    assert!(checked(with_call));
}

#[test]
fn stack_slots_hold_their_values() {
    let mut f = compile(
        "function %f(i64, i64, i64) -> i64 wasm {
    ss0 = explicit_slot 16, align 3
    ss1 = explicit_slot 1, align 0
    ss2 = explicit_slot 8, align 0
block0(v0: i64, v1: i64, v2: i64):
    v3 = iconst.i64 -1
    stack_store v3, ss2
    stack_store v1, ss0
    stack_store v2, ss0+8
    v4 = ireduce.i8 v1
    stack_store v4, ss1
    v5 = stack_load.i64 ss0
    v6 = stack_load.i64 ss0+8
    v7 = stack_addr.i64 ss0
    v8 = load.i64 notrap aligned v7+8
    v9 = stack_load.i8 ss1
    v10 = uextend.i64 v9
    v11 = stack_load.i64 ss2
    v12 = iconst.i64 7
    v13 = band v7, v12
    v14 = iconst.i64 3
    v15 = imul v5, v14
    v16 = iconst.i64 5
    v17 = imul v6, v16
    v18 = iconst.i64 11
    v19 = imul v10, v18
    v20 = iadd v15, v17
    v21 = iadd v20, v8
    v22 = iadd v21, v19
    v23 = iadd v22, v11
    v24 = iconst.i64 1000
    v25 = imul v13, v24
    v26 = iadd v23, v25
    return v26
}",
    );
    for a in INPUTS {
        for b in INPUTS {
            let want = a
                .wrapping_mul(3)
                .wrapping_add(b.wrapping_mul(5))
                .wrapping_add(b)
                .wrapping_add(i64::from(a as u8) * 11)
                .wrapping_sub(1);
            assert_eq!(f.call(a, b), want, "f({a}, {b})");
        }
    }
}
