//! The baseline compiler end to end: WebAssembly text is translated and
//! validated (duet-environ), every function compiled (winch-codegen),
//! linked into executable memory (duet's `CodeMemory`), and called natively
//! through the wasm calling convention, which for integer signatures is
//! System V with the VMContext first, and for floats too (`f32` and `f64`
//! arguments in `xmm0`-`xmm7`, a float result in `xmm0`).
//!
//! Each program's results are checked against the same computation in Rust
//! over many inputs. Programs stay clear of traps: turning a fault into a
//! trap needs the runtime's signal handling, which comes with the runtime.

use duet::code::{CodeMemory, UnlinkedCode};
use duet_environ::abi::FUNCTION_NAMESPACE;
use duet_environ::module::{EntityIndex, translate};
use duet_environ::vmoffsets::{VMContext, VMOffsets};
use winch_codegen::CompileError;

/// A compiled module with a VMContext to call its functions with.
struct Compiled {
    code: CodeMemory,
    num_imported: u32,
    exports: Vec<(String, u32)>,
    /// 16-aligned storage for the VMContext.
    vmctx: Vec<u128>,
}

/// Every function of a module, compiled for a CPU with `features` but not
/// linked (for what the code holds rather than what it does).
fn compile_functions(
    wat: &str,
    features: cranelift_asm::x64::CpuFeatures,
) -> Result<Vec<cranelift_asm::FinishedCode>, CompileError> {
    let wasm = wat::parse_str(wat).expect("the test's text parses");
    let translation =
        translate(&wasm, wasmparser::WasmFeatures::default()).expect("the module validates");
    winch_codegen::compile_module(translation, features)
}

fn compile(wat: &str) -> Result<Compiled, CompileError> {
    let wasm = wat::parse_str(wat).expect("the test's text parses");
    let translation =
        translate(&wasm, wasmparser::WasmFeatures::default()).expect("the module validates");
    let module = translation.module.clone();
    let features = cranelift_asm::x64::CpuFeatures::host();
    let functions = winch_codegen::compile_module(translation, features)?;
    let unlinked = UnlinkedCode::new(&functions).expect("the code maps");
    let addresses: Vec<usize> = unlinked.function_addresses().collect();
    let num_imported = module.num_imported_functions;
    let code = unlinked
        .link(|name| {
            (name.namespace == FUNCTION_NAMESPACE)
                .then(|| addresses.get((name.index - num_imported) as usize).copied())
                .flatten()
        })
        .expect("every call resolves");
    let exports = module
        .exports()
        .iter()
        .filter_map(|(name, entity)| match entity {
            EntityIndex::Function(f) => Some((name.clone(), f.as_u32())),
            _ => None,
        })
        .collect();
    let offsets = VMOffsets::new(module.vm_counts());
    let mut vmctx = vec![0u128; (offsets.size() as usize).div_ceil(16).max(1)];
    // The stack limit: 1 MiB below here (test threads have 2 MiB stacks).
    let here = &vmctx as *const _ as usize;
    let limit = here - (1 << 20);
    let bytes = vmctx.as_mut_ptr() as *mut u8;
    // SAFETY: the VMContext buffer is at least the header's size, and the
    // stack-limit field is 8-aligned within it.
    unsafe { (bytes.add(VMContext::STACK_LIMIT as usize) as *mut usize).write(limit) };
    Ok(Compiled {
        code,
        num_imported,
        exports,
        vmctx,
    })
}

impl Compiled {
    fn entry(&self, name: &str) -> *const u8 {
        let (_, index) = self
            .exports
            .iter()
            .find(|(n, _)| n == name)
            .expect("an exported function");
        self.code
            .function((index - self.num_imported) as usize)
            .expect("a defined function")
    }

    fn vmctx(&mut self) -> *mut u8 {
        self.vmctx.as_mut_ptr() as *mut u8
    }

    /// Calls `name` with up to three integer arguments and an integer (or
    /// no) result; unused arguments are ignored by the callee.
    fn call(&mut self, name: &str, args: &[i64]) -> i64 {
        let entry = self.entry(name);
        let vmctx = self.vmctx();
        let a = |i: usize| args.get(i).copied().unwrap_or(0);
        // SAFETY: the code was compiled for the wasm calling convention,
        // which is System V for integer arguments with the VMContext first;
        // extra arguments in registers are ignored, and the result register
        // is read whatever the function returns.
        unsafe {
            let f: extern "sysv64" fn(*mut u8, i64, i64, i64) -> i64 = std::mem::transmute(entry);
            f(vmctx, a(0), a(1), a(2))
        }
    }

    /// Calls `name`, a function of type `(a) -> r`, as System V would (the
    /// wasm convention for up to five integer and eight float arguments).
    /// `A` and `R` must be the Rust types of the wasm ones (`i32`, `i64`,
    /// `f32`, `f64`).
    fn call1<A, R>(&mut self, name: &str, a: A) -> R {
        let entry = self.entry(name);
        let vmctx = self.vmctx();
        // SAFETY: as in `call`; the caller names the function's own type.
        unsafe {
            let f: extern "sysv64" fn(*mut u8, A) -> R = std::mem::transmute_copy(&entry);
            f(vmctx, a)
        }
    }

    /// Calls `name`, a function of type `(a, b, c) -> r` (see `call1`).
    fn call3<A, B, C, R>(&mut self, name: &str, a: A, b: B, c: C) -> R {
        let entry = self.entry(name);
        let vmctx = self.vmctx();
        // SAFETY: as in `call`; the caller names the function's own type.
        unsafe {
            let f: extern "sysv64" fn(*mut u8, A, B, C) -> R = std::mem::transmute_copy(&entry);
            f(vmctx, a, b, c)
        }
    }

    /// Calls `name`, a function of type `(a, b) -> r` (see `call1`).
    fn call2<A, B, R>(&mut self, name: &str, a: A, b: B) -> R {
        let entry = self.entry(name);
        let vmctx = self.vmctx();
        // SAFETY: as in `call`; the caller names the function's own type.
        unsafe {
            let f: extern "sysv64" fn(*mut u8, A, B) -> R = std::mem::transmute_copy(&entry);
            f(vmctx, a, b)
        }
    }

    fn call_i32(&mut self, name: &str, args: &[i64]) -> i32 {
        let result = self.call(name, args);
        assert_eq!(
            result >> 32,
            0,
            "an i32 result with its upper half set: {result:#x}"
        );
        result as i32
    }
}

/// Interesting integers and a fixed-seed stream of others.
fn inputs() -> Vec<i64> {
    let mut values = vec![
        0,
        1,
        -1,
        2,
        7,
        -7,
        31,
        32,
        33,
        63,
        64,
        i32::MAX as i64,
        i32::MIN as i64,
        i64::MAX,
        i64::MIN,
    ];
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    for _ in 0..40 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        values.push(x as i64);
        values.push((x as i64) >> 40);
    }
    values
}

#[test]
fn integer_arithmetic_matches_rust() {
    let mut m = compile(
        r#"(module
          (func (export "mix32") (param i32 i32) (result i32)
            local.get 0 local.get 1 i32.add
            local.get 0 i32.const 3 i32.mul
            i32.xor
            local.get 1 i32.const 5 i32.shl
            i32.sub)
          (func (export "mix64") (param i64 i64) (result i64)
            local.get 0 local.get 1 i64.mul
            local.get 1 i64.const 0x123456789 i64.and
            i64.or
            local.get 0 local.get 1 i64.rotl
            i64.add)
          (func (export "shifts") (param i32 i32) (result i32)
            local.get 0 local.get 1 i32.shr_s
            local.get 0 local.get 1 i32.shr_u
            i32.add
            local.get 0 local.get 1 i32.rotr
            i32.xor)
          (func (export "bits") (param i64) (result i64)
            local.get 0 i64.clz
            local.get 0 i64.ctz i64.const 8 i64.shl i64.or
            local.get 0 i64.popcnt i64.const 16 i64.shl i64.or)
          (func (export "compare") (param i32 i32) (result i32)
            local.get 0 local.get 1 i32.lt_s
            local.get 0 local.get 1 i32.lt_u i32.const 1 i32.shl i32.or
            local.get 0 local.get 1 i32.ge_s i32.const 2 i32.shl i32.or
            local.get 0 i32.eqz i32.const 3 i32.shl i32.or
            local.get 0 local.get 1 i32.ne i32.const 4 i32.shl i32.or)
          (func (export "extend") (param i64) (result i64)
            local.get 0 i32.wrap_i64 i64.extend_i32_s
            local.get 0 i32.wrap_i64 i64.extend_i32_u i64.add
            local.get 0 i64.extend8_s i64.add
            local.get 0 i64.extend16_s i64.add)
          (func (export "division") (param i32 i32) (result i32)
            local.get 0 local.get 1 i32.div_u
            local.get 0 local.get 1 i32.rem_s i32.add
            local.get 0 local.get 1 i32.rem_u i32.add))"#,
    )
    .expect("compiles");
    for &a in &inputs() {
        for &b in &inputs() {
            let (x, y) = (a as i32, b as i32);
            let want = x.wrapping_add(y) ^ x.wrapping_mul(3);
            let want = want.wrapping_sub(y.wrapping_shl(5));
            assert_eq!(m.call_i32("mix32", &[a, b]), want, "mix32({x}, {y})");

            let want = (a.wrapping_mul(b) | (b & 0x1_2345_6789))
                .wrapping_add(a.rotate_left(b as u32 & 63));
            assert_eq!(m.call("mix64", &[a, b]), want, "mix64({a}, {b})");

            let s = y as u32 & 31;
            let want = (x >> s).wrapping_add(((x as u32) >> s) as i32) ^ (x.rotate_right(s));
            assert_eq!(m.call_i32("shifts", &[a, b]), want, "shifts({x}, {y})");

            let want = (x < y) as i32
                | (((x as u32) < (y as u32)) as i32) << 1
                | ((x >= y) as i32) << 2
                | ((x == 0) as i32) << 3
                | ((x != y) as i32) << 4;
            assert_eq!(m.call_i32("compare", &[a, b]), want, "compare({x}, {y})");

            if y != 0 {
                let want = ((x as u32) / (y as u32)) as i32;
                let want = want
                    .wrapping_add(x.wrapping_rem(y))
                    .wrapping_add(((x as u32) % (y as u32)) as i32);
                assert_eq!(m.call_i32("division", &[a, b]), want, "division({x}, {y})");
            }
        }
        let want = a.leading_zeros() as i64
            | (a.trailing_zeros() as i64) << 8
            | (a.count_ones() as i64) << 16;
        assert_eq!(m.call("bits", &[a]), want, "bits({a})");
        let want = (a as i32 as i64)
            .wrapping_add(a as u32 as i64)
            .wrapping_add(a as i8 as i64)
            .wrapping_add(a as i16 as i64);
        assert_eq!(m.call("extend", &[a]), want, "extend({a})");
    }
}

#[test]
fn control_flow_matches_rust() {
    let mut m = compile(
        r#"(module
          (func $fib (export "fib") (param i64) (result i64)
            local.get 0 i64.const 2 i64.lt_u
            if (result i64)
              local.get 0
            else
              local.get 0 i64.const 1 i64.sub call $fib
              local.get 0 i64.const 2 i64.sub call $fib
              i64.add
            end)
          (func (export "factorial") (param i64) (result i64) (local i64)
            i64.const 1 local.set 1
            block
              loop
                local.get 0 i64.eqz br_if 1
                local.get 1 local.get 0 i64.mul local.set 1
                local.get 0 i64.const 1 i64.sub local.set 0
                br 0
              end
            end
            local.get 1)
          (func (export "gcd") (param i64 i64) (result i64)
            loop
              local.get 1 i64.eqz
              if
                local.get 0 return
              end
              local.get 0 local.get 1 i64.rem_u
              local.get 1 local.set 0
              local.set 1
              br 0
            end
            unreachable)
          (func (export "pick") (param i32 i32 i32) (result i32)
            local.get 0 local.get 1 local.get 2 select)
          (func (export "blocks") (param i32) (result i32)
            block (result i32)
              i32.const 10
              local.get 0 i32.const 5 i32.gt_s
              br_if 0
              drop
              block (result i32)
                i32.const 20
                local.get 0 i32.eqz
                br_if 1
                drop
                i32.const 30
              end
            end
            i32.const 1 i32.add))"#,
    )
    .expect("compiles");
    fn fib(n: i64) -> i64 {
        if (n as u64) < 2 {
            n
        } else {
            fib(n - 1).wrapping_add(fib(n - 2))
        }
    }
    for n in 0..20 {
        assert_eq!(m.call("fib", &[n]), fib(n), "fib({n})");
        let factorial = (1..=n).fold(1i64, |acc, k| acc.wrapping_mul(k));
        assert_eq!(m.call("factorial", &[n]), factorial, "factorial({n})");
    }
    for &a in &inputs() {
        for &b in &inputs() {
            let (mut x, mut y) = (a as u64, b as u64);
            while y != 0 {
                (x, y) = (y, x % y);
            }
            assert_eq!(m.call("gcd", &[a, b]), x as i64, "gcd({a}, {b})");
            let c = a.wrapping_add(b);
            let want = if c as i32 != 0 { a as i32 } else { b as i32 };
            assert_eq!(m.call_i32("pick", &[a, b, c]), want);
        }
        let x = a as i32;
        let want = if x > 5 {
            11
        } else if x == 0 {
            21
        } else {
            31
        };
        assert_eq!(m.call_i32("blocks", &[a]), want, "blocks({x})");
    }
}

#[test]
fn register_pressure_spills_and_restores_values() {
    // A wide expression keeps more values live than there are registers.
    let mut body = String::new();
    for k in 1..=24 {
        body.push_str(&format!(
            "local.get 0 i64.const {k} i64.mul local.get 1 i64.xor\n"
        ));
    }
    for _ in 1..24 {
        body.push_str("i64.add\n");
    }
    let wat = format!(r#"(module (func (export "wide") (param i64 i64) (result i64) {body}))"#);
    let mut m = compile(&wat).expect("compiles");
    for &a in &inputs() {
        for &b in &inputs()[..10] {
            let want = (1..=24i64).fold(0i64, |acc, k| acc.wrapping_add(a.wrapping_mul(k) ^ b));
            assert_eq!(m.call("wide", &[a, b]), want, "wide({a}, {b})");
        }
    }
}

#[test]
fn calls_pass_many_arguments_and_multiple_results() {
    let mut m = compile(
        r#"(module
          (func $many (param i64 i64 i64 i64 i64 i64 i64 i64) (result i64)
            local.get 0 local.get 1 i64.sub
            local.get 2 i64.mul local.get 3 i64.add
            local.get 4 i64.xor local.get 5 i64.sub
            local.get 6 i64.add local.get 7 i64.mul)
          (func $pair (param i32 i32) (result i32 i32 i32)
            local.get 0 local.get 1 i32.add
            local.get 0 local.get 1 i32.sub
            local.get 0 local.get 1 i32.mul)
          (func (export "call_many") (param i64 i64) (result i64)
            local.get 0 local.get 1 i64.const 3 local.get 0 i64.const 5 local.get 1 i64.const 7 i64.const 9
            call $many)
          (func (export "call_pair") (param i32 i32) (result i32)
            local.get 0 local.get 1 call $pair
            i32.const 7 i32.mul
            i32.add
            i32.const 3 i32.mul
            i32.xor))"#,
    )
    .expect("compiles");
    for &a in &inputs() {
        for &b in &inputs() {
            let want = (a.wrapping_sub(b).wrapping_mul(3).wrapping_add(a) ^ 5)
                .wrapping_sub(b)
                .wrapping_add(7)
                .wrapping_mul(9);
            assert_eq!(m.call("call_many", &[a, b]), want, "call_many({a}, {b})");
            let (x, y) = (a as i32, b as i32);
            let (s, d, p) = (x.wrapping_add(y), x.wrapping_sub(y), x.wrapping_mul(y));
            let want = s ^ d.wrapping_add(p.wrapping_mul(7)).wrapping_mul(3);
            assert_eq!(
                m.call_i32("call_pair", &[a, b]),
                want,
                "call_pair({x}, {y})"
            );
        }
    }
}

#[test]
fn unsupported_operators_are_errors_naming_them() {
    let error = compile(r#"(module (memory 1) (func (result i32) memory.size))"#)
        .err()
        .expect("refused");
    assert!(error.to_string().contains("memory_size"), "{error}");
    let error = compile(r#"(module (func (param v128)))"#)
        .err()
        .expect("refused");
    assert!(error.to_string().contains("v128"), "{error}");
    // Unreachable code may hold operators the compiler does not support.
    compile(r#"(module (memory 1) (func unreachable memory.size drop))"#)
        .expect("dead code is fine");
}

// ---- Floats ------------------------------------------------------------------

/// Reads an `i32` result returned as 64 bits, checking its upper half is
/// clear (invariant 2 of the compiler).
fn checked_i32(result: i64, what: &str) -> i32 {
    assert_eq!(result >> 32, 0, "{what}: an i32 with its upper half set");
    result as i32
}

/// Interesting `f64`s: zeros, infinities, NaNs with payloads and either
/// sign, subnormals, rounding ties, values around the integer bounds, and
/// a fixed-seed stream of others.
fn f64_inputs() -> Vec<f64> {
    let mut values = vec![
        0.0,
        -0.0,
        1.0,
        -1.0,
        0.5,
        -0.5,
        1.5,
        -1.5,
        2.5,
        -2.5,
        3.5,
        -0.9,
        0.49999999999999994,
        -0.49999999999999994,
        4503599627370495.5,
        4503599627370497.0,
        9007199254740992.0,
        1.0 / 3.0,
        std::f64::consts::PI,
        -7.25,
        1e300,
        -1e300,
        1e-300,
        f64::MIN_POSITIVE,
        -f64::MIN_POSITIVE,
        f64::from_bits(1),
        -f64::from_bits(1),
        f64::from_bits(0x000f_ffff_ffff_ffff),
        f64::MAX,
        f64::MIN,
        f64::INFINITY,
        f64::NEG_INFINITY,
        f64::NAN,
        -f64::NAN,
        f64::from_bits(0x7ff0_0000_0000_0001), // signaling
        f64::from_bits(0x7ff8_dead_beef_0001),
        f64::from_bits(0xfff4_0000_0000_0000), // negative, signaling
        2147483647.0,
        2147483647.9,
        2147483648.0,
        -2147483648.0,
        -2147483648.9,
        -2147483649.0,
        4294967295.0,
        4294967295.5,
        4294967296.0,
        9223372036854774784.0, // the largest below 2^63
        9223372036854775808.0, // 2^63
        -9223372036854775808.0,
        -9223372036854777856.0, // the next below -2^63
        18446744073709549568.0, // the largest below 2^64
        18446744073709551616.0, // 2^64
    ];
    let mut x: u64 = 0x2545_F491_4F6C_DD1D;
    for _ in 0..30 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        values.push(f64::from_bits(x));
        values.push((x >> 11) as f64 / (1u64 << 40) as f64 - 4096.0);
    }
    values
}

/// The `f32` counterparts of [`f64_inputs`].
fn f32_inputs() -> Vec<f32> {
    let mut values = vec![
        0.0,
        -0.0,
        1.0,
        -1.0,
        0.5,
        -0.5,
        1.5,
        -1.5,
        2.5,
        -2.5,
        3.5,
        -0.9,
        0.49999997,
        -0.49999997,
        8388607.5,
        8388609.0,
        16777216.0,
        1.0 / 3.0,
        std::f32::consts::PI,
        -7.25,
        1e38,
        -1e38,
        1e-38,
        f32::MIN_POSITIVE,
        -f32::MIN_POSITIVE,
        f32::from_bits(1),
        -f32::from_bits(1),
        f32::from_bits(0x007f_ffff),
        f32::MAX,
        f32::MIN,
        f32::INFINITY,
        f32::NEG_INFINITY,
        f32::NAN,
        -f32::NAN,
        f32::from_bits(0x7f80_0001), // signaling
        f32::from_bits(0x7fc0_beef),
        f32::from_bits(0xffa0_0000), // negative, signaling
        2147483520.0,                // the largest below 2^31
        2147483648.0,
        -2147483648.0,
        -2147483904.0, // the next below -2^31
        4294967040.0,  // the largest below 2^32
        4294967296.0,
        9223371487098961920.0, // the largest below 2^63
        9223372036854775808.0,
        -9223372036854775808.0,
        -9223373136366403584.0, // the next below -2^63
        18446742974197923840.0, // the largest below 2^64
        18446744073709551616.0,
    ];
    let mut x: u32 = 0x9E37_79B9;
    for _ in 0..30 {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        values.push(f32::from_bits(x));
        values.push((x >> 8) as f32 / 4096.0 - 2048.0);
    }
    values
}

/// Whether `got` is a result WebAssembly allows where Rust computes
/// `want`: any NaN for a NaN, otherwise the same bits (so the sign of a
/// zero counts).
fn same_f64(got: f64, want: f64) -> bool {
    if want.is_nan() {
        got.is_nan()
    } else {
        got.to_bits() == want.to_bits()
    }
}

/// [`same_f64`] for `f32`.
fn same_f32(got: f32, want: f32) -> bool {
    if want.is_nan() {
        got.is_nan()
    } else {
        got.to_bits() == want.to_bits()
    }
}

/// WebAssembly's `min` and `max`: NaN if either operand is, and -0 < +0.
macro_rules! wasm_min_max {
    ($min:ident, $max:ident, $t:ty) => {
        fn $min(a: $t, b: $t) -> $t {
            if a.is_nan() || b.is_nan() {
                <$t>::NAN
            } else if a == b {
                // Equal: the same bits, or zeros of either sign.
                <$t>::from_bits(a.to_bits() | b.to_bits())
            } else {
                a.min(b)
            }
        }
        fn $max(a: $t, b: $t) -> $t {
            if a.is_nan() || b.is_nan() {
                <$t>::NAN
            } else if a == b {
                <$t>::from_bits(a.to_bits() & b.to_bits())
            } else {
                a.max(b)
            }
        }
    };
}
wasm_min_max!(wasm_min_f64, wasm_max_f64, f64);
wasm_min_max!(wasm_min_f32, wasm_max_f32, f32);

/// Exports, for type `t`, each binary operator in `ops` twice: on the
/// parameters as they are (the right operand read from its slot) and after
/// `neg neg` (both operands in registers first).
fn binary_exports(t: &str, ops: &[&str], result: &str) -> String {
    let mut wat = String::new();
    for op in ops {
        wat.push_str(&format!(
            "(func (export \"{t}.{op}\") (param {t} {t}) (result {result})
               local.get 0 local.get 1 {t}.{op})
             (func (export \"{t}.{op}.r\") (param {t} {t}) (result {result})
               local.get 0 {t}.neg {t}.neg local.get 1 {t}.neg {t}.neg {t}.{op})\n"
        ));
    }
    wat
}

/// Exports, for type `t`, each unary operator in `ops` as `t.op`.
fn unary_exports(t: &str, ops: &[&str]) -> String {
    ops.iter()
        .map(|op| {
            format!("(func (export \"{t}.{op}\") (param {t}) (result {t}) local.get 0 {t}.{op})\n")
        })
        .collect()
}

const BINARY: [&str; 7] = ["add", "sub", "mul", "div", "min", "max", "copysign"];
const UNARY: [&str; 7] = ["abs", "neg", "sqrt", "ceil", "floor", "trunc", "nearest"];
const COMPARE: [&str; 6] = ["eq", "ne", "lt", "gt", "le", "ge"];

#[test]
fn f64_arithmetic_matches_rust() {
    let wat = format!(
        "(module {} {} {}
           (func (export \"demote_promote\") (param f64) (result f64)
             local.get 0 f32.demote_f64 f64.promote_f32))",
        binary_exports("f64", &BINARY, "f64"),
        binary_exports("f64", &COMPARE, "i32"),
        unary_exports("f64", &UNARY)
    );
    let mut m = compile(&wat).expect("compiles");
    let inputs = f64_inputs();
    for &a in &inputs {
        for &b in &inputs {
            let wants: [(&str, f64); 7] = [
                ("add", a + b),
                ("sub", a - b),
                ("mul", a * b),
                ("div", a / b),
                ("min", wasm_min_f64(a, b)),
                ("max", wasm_max_f64(a, b)),
                ("copysign", a.copysign(b)),
            ];
            for (op, want) in wants {
                for name in [format!("f64.{op}"), format!("f64.{op}.r")] {
                    let got: f64 = m.call2(&name, a, b);
                    // copysign only moves bits: NaN payloads survive.
                    let ok = match op {
                        "copysign" => got.to_bits() == want.to_bits(),
                        _ => same_f64(got, want),
                    };
                    assert!(
                        ok,
                        "{name}({a:e} {:#x}, {b:e} {:#x}) = {got:e}, want {want:e}",
                        a.to_bits(),
                        b.to_bits()
                    );
                }
            }
            let wants = [a == b, a != b, a < b, a > b, a <= b, a >= b];
            for (op, want) in COMPARE.iter().zip(wants) {
                for name in [format!("f64.{op}"), format!("f64.{op}.r")] {
                    let got = checked_i32(m.call2(&name, a, b), &name);
                    assert_eq!(got, want as i32, "{name}({a:e}, {b:e})");
                }
            }
        }
        let wants = [
            a.abs(),
            -a,
            a.sqrt(),
            a.ceil(),
            a.floor(),
            a.trunc(),
            a.round_ties_even(),
        ];
        for (op, want) in UNARY.iter().zip(wants) {
            let got: f64 = m.call1(&format!("f64.{op}"), a);
            let ok = match *op {
                "abs" | "neg" => got.to_bits() == want.to_bits(),
                _ => same_f64(got, want),
            };
            assert!(
                ok,
                "f64.{op}({a:e} {:#x}) = {got:e}, want {want:e}",
                a.to_bits()
            );
        }
        let got: f64 = m.call1("demote_promote", a);
        assert!(
            same_f64(got, a as f32 as f64),
            "demote_promote({a:e}) = {got:e}"
        );
    }
}

#[test]
fn f32_arithmetic_matches_rust() {
    let wat = format!(
        "(module {} {} {}
           (func (export \"promote_demote\") (param f32) (result f32)
             local.get 0 f64.promote_f32 f64.const 0.5 f64.mul f32.demote_f64))",
        binary_exports("f32", &BINARY, "f32"),
        binary_exports("f32", &COMPARE, "i32"),
        unary_exports("f32", &UNARY)
    );
    let mut m = compile(&wat).expect("compiles");
    let inputs = f32_inputs();
    for &a in &inputs {
        for &b in &inputs {
            let wants: [(&str, f32); 7] = [
                ("add", a + b),
                ("sub", a - b),
                ("mul", a * b),
                ("div", a / b),
                ("min", wasm_min_f32(a, b)),
                ("max", wasm_max_f32(a, b)),
                ("copysign", a.copysign(b)),
            ];
            for (op, want) in wants {
                for name in [format!("f32.{op}"), format!("f32.{op}.r")] {
                    let got: f32 = m.call2(&name, a, b);
                    let ok = match op {
                        "copysign" => got.to_bits() == want.to_bits(),
                        _ => same_f32(got, want),
                    };
                    assert!(
                        ok,
                        "{name}({a:e} {:#x}, {b:e} {:#x}) = {got:e}, want {want:e}",
                        a.to_bits(),
                        b.to_bits()
                    );
                }
            }
            let wants = [a == b, a != b, a < b, a > b, a <= b, a >= b];
            for (op, want) in COMPARE.iter().zip(wants) {
                for name in [format!("f32.{op}"), format!("f32.{op}.r")] {
                    let got = checked_i32(m.call2(&name, a, b), &name);
                    assert_eq!(got, want as i32, "{name}({a:e}, {b:e})");
                }
            }
        }
        let wants = [
            a.abs(),
            -a,
            a.sqrt(),
            a.ceil(),
            a.floor(),
            a.trunc(),
            a.round_ties_even(),
        ];
        for (op, want) in UNARY.iter().zip(wants) {
            let got: f32 = m.call1(&format!("f32.{op}"), a);
            let ok = match *op {
                "abs" | "neg" => got.to_bits() == want.to_bits(),
                _ => same_f32(got, want),
            };
            assert!(
                ok,
                "f32.{op}({a:e} {:#x}) = {got:e}, want {want:e}",
                a.to_bits()
            );
        }
        let got: f32 = m.call1("promote_demote", a);
        let want = (a as f64 * 0.5) as f32;
        assert!(same_f32(got, want), "promote_demote({a:e}) = {got:e}");
    }
}

/// Integers around the float conversions' rounding boundaries, with
/// [`inputs`].
fn conversion_inputs() -> Vec<i64> {
    let mut values = inputs();
    values.extend([
        (1 << 24) + 1,
        (1 << 53) + 1,
        (1 << 53) + 3,
        u32::MAX as i64,
        0x8000_0001u32 as i32 as i64,
        0x8000_0001,
        u64::MAX as i64,
        (1u64 << 63) as i64 + 1,
        (1u64 << 63 | 1 << 39) as i64,     // an f32 tie: to even
        (1u64 << 63 | 1 << 39 | 1) as i64, // just above it
        (1u64 << 63 | 1 << 10) as i64,     // an f64 tie: to even
        (1u64 << 63 | 3 << 10) as i64,     // an f64 tie: to even (up)
        (1u64 << 63 | 1 << 10 | 1) as i64,
        -(1 << 53) - 1,
    ]);
    values
}

#[test]
fn conversions_between_integers_and_floats_match_rust() {
    let mut wat = String::from("(module\n");
    for (f, i) in [
        ("f32", "i32"),
        ("f32", "i64"),
        ("f64", "i32"),
        ("f64", "i64"),
    ] {
        for sign in ["s", "u"] {
            wat.push_str(&format!(
                "(func (export \"{f}.convert_{i}_{sign}\") (param {i}) (result {f})
                   local.get 0 {f}.convert_{i}_{sign})
                 (func (export \"{i}.trunc_{f}_{sign}\") (param {f}) (result {i})
                   local.get 0 {i}.trunc_{f}_{sign})
                 (func (export \"{i}.trunc_sat_{f}_{sign}\") (param {f}) (result {i})
                   local.get 0 {i}.trunc_sat_{f}_{sign})\n"
            ));
        }
    }
    wat.push_str(
        "(func (export \"i32.reinterpret_f32\") (param f32) (result i32)
           local.get 0 i32.reinterpret_f32)
         (func (export \"f32.reinterpret_i32\") (param i32) (result f32)
           local.get 0 f32.reinterpret_i32)
         (func (export \"i64.reinterpret_f64\") (param f64) (result i64)
           local.get 0 i64.reinterpret_f64)
         (func (export \"f64.reinterpret_i64\") (param i64) (result f64)
           local.get 0 f64.reinterpret_i64)
         (func (export \"round_trip32\") (param i32) (result i32)
           local.get 0 f32.reinterpret_i32 f32.neg f32.neg i32.reinterpret_f32)
         (func (export \"convert_via_register\") (param i64) (result f64)
           local.get 0 i64.const 1 i64.xor f64.convert_i64_u)
         (func (export \"mixed\") (param i64 f64) (result f64)
           local.get 1 local.get 0 f64.convert_i64_s f64.mul))",
    );
    let mut m = compile(&wat).expect("compiles");

    for &x in &conversion_inputs() {
        let (w, u) = (x as i32, x as u32);
        let got: f32 = m.call1("f32.convert_i32_s", w);
        assert_eq!(
            got.to_bits(),
            (w as f32).to_bits(),
            "f32.convert_i32_s({w})"
        );
        let got: f32 = m.call1("f32.convert_i32_u", w);
        assert_eq!(
            got.to_bits(),
            (u as f32).to_bits(),
            "f32.convert_i32_u({u})"
        );
        let got: f64 = m.call1("f64.convert_i32_s", w);
        assert_eq!(
            got.to_bits(),
            (w as f64).to_bits(),
            "f64.convert_i32_s({w})"
        );
        let got: f64 = m.call1("f64.convert_i32_u", w);
        assert_eq!(
            got.to_bits(),
            (u as f64).to_bits(),
            "f64.convert_i32_u({u})"
        );
        let got: f32 = m.call1("f32.convert_i64_s", x);
        assert_eq!(
            got.to_bits(),
            (x as f32).to_bits(),
            "f32.convert_i64_s({x})"
        );
        let got: f32 = m.call1("f32.convert_i64_u", x);
        assert_eq!(
            got.to_bits(),
            (x as u64 as f32).to_bits(),
            "f32.convert_i64_u({x})"
        );
        let got: f64 = m.call1("f64.convert_i64_s", x);
        assert_eq!(
            got.to_bits(),
            (x as f64).to_bits(),
            "f64.convert_i64_s({x})"
        );
        let got: f64 = m.call1("f64.convert_i64_u", x);
        assert_eq!(
            got.to_bits(),
            (x as u64 as f64).to_bits(),
            "f64.convert_i64_u({x})"
        );
        let got: f64 = m.call1("convert_via_register", x);
        assert_eq!(got.to_bits(), ((x ^ 1) as u64 as f64).to_bits());

        let got: f32 = m.call1("f32.reinterpret_i32", w);
        assert_eq!(got.to_bits(), u, "f32.reinterpret_i32({w})");
        let got = checked_i32(m.call1("round_trip32", w), "round_trip32");
        assert_eq!(got, w);
        let got: f64 = m.call1("f64.reinterpret_i64", x);
        assert_eq!(got.to_bits(), x as u64, "f64.reinterpret_i64({x})");
        for &b in &f64_inputs()[..12] {
            let got: f64 = m.call2("mixed", x, b);
            assert!(same_f64(got, b * x as f64), "mixed({x}, {b})");
        }
    }

    // Trapping truncations run only on inputs that do not trap (a trap needs
    // the runtime's signal handler); `truncations_compile_with_trap_records`
    // covers the others.
    fn check_truncations<F: Copy + std::fmt::Display>(
        m: &mut Compiled,
        f: &str,
        a: F,
        wide: f64,
        sat: [i64; 4],
    ) {
        let t = wide.trunc();
        let fits = [
            (-2147483648.0..2147483648.0).contains(&t),
            (0.0..4294967296.0).contains(&t) || t == 0.0,
            (-9223372036854775808.0..9223372036854775808.0).contains(&t),
            (0.0..18446744073709551616.0).contains(&t) || t == 0.0,
        ];
        let names = [
            "i32.trunc_F_s",
            "i32.trunc_F_u",
            "i64.trunc_F_s",
            "i64.trunc_F_u",
        ];
        for k in 0..4 {
            let name = names[k].replace('F', f);
            let sat_name = name.replace("trunc_", "trunc_sat_");
            let got: i64 = m.call1(&sat_name, a);
            if k < 2 {
                let got = checked_i32(got, &sat_name);
                assert_eq!(got as i64, sat[k], "{sat_name}({a})");
            } else {
                assert_eq!(got, sat[k], "{sat_name}({a})");
            }
            if fits[k] && !wide.is_nan() {
                let got: i64 = m.call1(&name, a);
                if k < 2 {
                    let got = checked_i32(got, &name);
                    assert_eq!(got as i64, sat[k], "{name}({a})");
                } else {
                    assert_eq!(got, sat[k], "{name}({a})");
                }
            }
        }
    }
    for &a in &f64_inputs() {
        let sat = [
            a as i32 as i64,
            a as u32 as i32 as i64,
            a as i64,
            a as u64 as i64,
        ];
        check_truncations(&mut m, "f64", a, a, sat);
        let got: i64 = m.call1("i64.reinterpret_f64", a);
        assert_eq!(got as u64, a.to_bits());
    }
    for &a in &f32_inputs() {
        let sat = [
            a as i32 as i64,
            a as u32 as i32 as i64,
            a as i64,
            a as u64 as i64,
        ];
        check_truncations(&mut m, "f32", a, a as f64, sat);
        let got = checked_i32(m.call1("i32.reinterpret_f32", a), "i32.reinterpret_f32");
        assert_eq!(got as u32, a.to_bits());
    }
}

#[test]
fn truncations_compile_with_trap_records() {
    use cranelift_asm::x64::CpuFeatures;
    use duet_environ::trap::Trap;
    let mut wat = String::from("(module\n");
    for (i, f) in [
        ("i32", "f32"),
        ("i32", "f64"),
        ("i64", "f32"),
        ("i64", "f64"),
    ] {
        for sign in ["s", "u"] {
            wat.push_str(&format!(
                "(func (param {f}) (result {i}) local.get 0 {i}.trunc_{f}_{sign})\n"
            ));
        }
    }
    wat.push_str("(func (param f64) (result i64) local.get 0 i64.trunc_sat_f64_u))");
    let functions = compile_functions(&wat, CpuFeatures::host()).expect("compiles");
    assert_eq!(functions.len(), 9);
    for (k, code) in functions.iter().enumerate() {
        let traps: Vec<Trap> = code
            .traps()
            .iter()
            .filter_map(|record| Trap::from_code(record.code))
            .collect();
        if k == 8 {
            // Saturating: nothing to trap for (but the stack check).
            assert_eq!(traps, [Trap::StackOverflow], "function {k}");
            continue;
        }
        for trap in [Trap::BadConversionToInteger, Trap::IntegerOverflow] {
            assert!(
                traps.contains(&trap),
                "function {k} has no {trap:?}: {traps:?}"
            );
        }
    }
}

#[test]
fn rounding_without_sse41_is_an_error_naming_it() {
    use cranelift_asm::x64::{CpuFeatures, Feature};
    let cpu = CpuFeatures::host().without(Feature::Sse41);
    for op in ["ceil", "floor", "trunc", "nearest"] {
        let wat = format!("(module (func (param f64) (result f64) local.get 0 f64.{op}))");
        let error = compile_functions(&wat, cpu).expect_err("refused");
        let message = error.to_string();
        assert!(
            message.contains(&format!("f64_{op}")) && message.contains("sse4.1"),
            "{message}"
        );
    }
    // Everything else needs only SSE2.
    let wat = "(module (func (param f32 f64) (result f64)
                 local.get 0 f32.sqrt f64.promote_f32 local.get 1 f64.min))";
    compile_functions(wat, CpuFeatures::baseline()).expect("compiles for the baseline");
}

#[test]
fn float_constants_keep_their_bits() {
    let mut m = compile(
        r#"(module
          (func (export "nan64") (result f64) f64.const -nan:0x4000000000001)
          (func (export "zero64") (result f64) f64.const -0)
          (func (export "nan32") (result f32) f32.const nan:0x200001)
          (func (export "zero32") (result f32) f32.const -0)
          (func (export "local64") (result f64) (local f64)
            f64.const 0x1.23456789abcdep+900 local.set 0 local.get 0)
          (func (export "small64") (result f64) (local f64)
            f64.const 0x0.0000000000001p-1022 local.set 0 local.get 0)
          (func (export "local32") (result f32) (local f32)
            f32.const -nan:0x12345 local.set 0 local.get 0)
          (func (export "block64") (result f64)
            block (result f64) f64.const -0x1.8p+3 end)
          (func (export "block32") (result f32)
            block (result f32) f32.const -inf end)
          (func (export "add_constants") (param f64) (result f64)
            f64.const 1.5 local.get 0 f64.add f64.const -0.25 f64.mul)
          (func (export "old_value") (param f64) (result f64)
            local.get 0 f64.const 2.5 local.set 0 local.get 0 f64.sub)
          (func (export "sub_zero") (param f32) (result f32)
            local.get 0 f32.const 0 f32.sub))"#,
    )
    .expect("compiles");
    let bits64 = |m: &mut Compiled, name: &str| -> u64 {
        let entry = m.entry(name);
        let vmctx = m.vmctx();
        // SAFETY: a `() -> f64` function.
        let f: extern "sysv64" fn(*mut u8) -> f64 = unsafe { std::mem::transmute(entry) };
        f(vmctx).to_bits()
    };
    let bits32 = |m: &mut Compiled, name: &str| -> u32 {
        let entry = m.entry(name);
        let vmctx = m.vmctx();
        // SAFETY: a `() -> f32` function.
        let f: extern "sysv64" fn(*mut u8) -> f32 = unsafe { std::mem::transmute(entry) };
        f(vmctx).to_bits()
    };
    assert_eq!(bits64(&mut m, "nan64"), 0xfff4_0000_0000_0001);
    assert_eq!(bits64(&mut m, "zero64"), 0x8000_0000_0000_0000);
    assert_eq!(bits32(&mut m, "nan32"), 0x7fa0_0001);
    assert_eq!(bits32(&mut m, "zero32"), 0x8000_0000);
    assert_eq!(bits64(&mut m, "local64"), 0x7832_3456_789a_bcde);
    assert_eq!(bits64(&mut m, "small64"), 1);
    assert_eq!(bits32(&mut m, "local32"), 0xff81_2345);
    assert_eq!(bits64(&mut m, "block64"), (-12.0f64).to_bits());
    assert_eq!(bits32(&mut m, "block32"), f32::NEG_INFINITY.to_bits());
    for &a in &f64_inputs() {
        let got: f64 = m.call1("add_constants", a);
        assert!(same_f64(got, (1.5 + a) * -0.25), "add_constants({a})");
        let got: f64 = m.call1("old_value", a);
        assert!(same_f64(got, a - 2.5), "old_value({a})");
    }
    for &a in &f32_inputs() {
        let got: f32 = m.call1("sub_zero", a);
        assert!(same_f32(got, a - 0.0), "sub_zero({a})");
    }
}

#[test]
fn floats_flow_through_blocks_selects_and_calls() {
    let mut m = compile(
        r#"(module
          (func (export "newton") (param f64) (result f64) (local i32 f64)
            i32.const 40 local.set 1
            local.get 0 f64.const 1 f64.max
            loop (param f64) (result f64)
              local.tee 2 local.get 0 local.get 2 f64.div f64.add f64.const 0.5 f64.mul
              local.get 1 i32.const 1 i32.sub local.tee 1
              br_if 0
            end)
          (func $split (param f64) (result f32 f64 i32)
            local.get 0 f32.demote_f64
            local.get 0 f64.const 2 f64.mul
            local.get 0 f64.const 0 f64.lt)
          (func (export "split") (param f64) (result f64) (local f64)
            local.get 0 call $split
            if (param f32 f64) (result f32 f64)
              f64.neg
            else
              f64.const 3 f64.add
            end
            local.set 1 f64.promote_f32 local.get 1 f64.add)
          (func (export "pick") (param f64 f64) (result f64)
            block (result f64)
              local.get 0
              local.get 0 local.get 1 f64.gt
              br_if 0
              drop
              local.get 1 f64.const 0.25 f64.mul
            end
            f64.const 1 f64.add)
          (func (export "select64") (param f64 f64 i32) (result f64)
            local.get 0 local.get 1 local.get 2 select)
          (func (export "select32") (param f32 f32 i32) (result f32)
            local.get 0 f32.neg local.get 1 f32.neg local.get 2 select (result f32))
          (func $ffib (param f64) (result f64)
            local.get 0 f64.const 2 f64.lt
            if (result f64)
              local.get 0
            else
              local.get 0 f64.const 1 f64.sub call $ffib
              local.get 0 f64.const 2 f64.sub call $ffib
              f64.add
            end)
          (func (export "ffib") (param f64) (result f64) local.get 0 call $ffib)
          (func $many (param f64 f64 f64 f64 f64 f64 f64 f64 f64 f64 i64 f32 i32 f32)
                      (result f64)
            local.get 0 local.get 1 f64.sub local.get 2 f64.mul local.get 3 f64.add
            local.get 4 f64.div local.get 5 f64.sub local.get 6 f64.mul
            local.get 7 f64.sub local.get 8 f64.add local.get 9 f64.div
            local.get 10 f64.convert_i64_s f64.add
            local.get 11 f64.promote_f32 f64.add
            local.get 12 f64.convert_i32_s f64.add
            local.get 13 f64.promote_f32 f64.sub)
          (func (export "call_many") (param f64 f64) (result f64)
            local.get 0 local.get 1 f64.const 3 local.get 0 f64.const 5
            local.get 1 f64.const 7 f64.const 9 local.get 0 f64.const -0.5
            i64.const 77 f32.const 1.25 i32.const -3 local.get 1 f32.demote_f64
            call $many)
          (func $pair (param f32 f64) (result f64 f32 i64)
            local.get 1 local.get 0 f64.promote_f32 f64.sub
            local.get 0 f32.const 2 f32.mul
            local.get 1 i64.trunc_sat_f64_s)
          (func (export "call_pair") (param f32 f64) (result f64)
            local.get 0 local.get 1 call $pair
            f64.convert_i64_s
            local.set 1
            f64.promote_f32 f64.div
            local.get 1 f64.add))"#,
    )
    .expect("compiles");
    let inputs = f64_inputs();
    for &a in &inputs {
        if a.is_finite() && a > 0.0 {
            let mut x = a.max(1.0);
            for _ in 0..40 {
                x = (x + a / x) * 0.5;
            }
            let got: f64 = m.call1("newton", a);
            assert!(same_f64(got, x), "newton({a}) = {got}, want {x}");
        }
        let d = a * 2.0;
        let d = if a < 0.0 { -d } else { d + 3.0 };
        let want = (a as f32) as f64 + d;
        let got: f64 = m.call1("split", a);
        assert!(same_f64(got, want), "split({a}) = {got}, want {want}");
        for &b in &inputs {
            let want = if a > b { a } else { b * 0.25 } + 1.0;
            let got: f64 = m.call2("pick", a, b);
            assert!(same_f64(got, want), "pick({a}, {b})");
            for c in [0, 1, -1, 0x100] {
                let want = if c != 0 { a } else { b };
                let got: f64 = m.call3("select64", a, b, c);
                assert_eq!(got.to_bits(), want.to_bits(), "select64({a}, {b}, {c})");
            }
            let got: f64 = m.call2("call_many", a, b);
            let mut expected = a - b;
            for (k, p) in [3.0, a, 5.0, b, 7.0, 9.0, a, -0.5].iter().enumerate() {
                expected = match k {
                    0 => expected * p,
                    1 => expected + p,
                    2 => expected / p,
                    3 => expected - p,
                    4 => expected * p,
                    5 => expected - p,
                    6 => expected + p,
                    _ => expected / p,
                };
            }
            let expected = expected + 77.0 + 1.25 + -3.0 - (b as f32) as f64;
            assert!(
                same_f64(got, expected),
                "call_many({a}, {b}) = {got}, want {expected}"
            );
        }
    }
    for &a in &f32_inputs() {
        for &b in &f32_inputs()[..20] {
            for c in [0, 7] {
                let want = if c != 0 { -a } else { -b };
                let got: f32 = m.call3("select32", a, b, c);
                assert_eq!(got.to_bits(), want.to_bits(), "select32({a}, {b}, {c})");
            }
        }
        for &b in &inputs[..20] {
            let first = b - a as f64;
            let second = a * 2.0;
            let third = b as i64;
            let want = first / second as f64 + third as f64;
            let got: f64 = m.call2("call_pair", a, b);
            assert!(
                same_f64(got, want),
                "call_pair({a}, {b}) = {got}, want {want}"
            );
        }
    }
    fn ffib(n: f64) -> f64 {
        if n < 2.0 {
            n
        } else {
            ffib(n - 1.0) + ffib(n - 2.0)
        }
    }
    for n in [0.0, 1.0, 2.5, 10.0, 15.25, -3.0] {
        let got: f64 = m.call1("ffib", n);
        assert_eq!(got.to_bits(), ffib(n).to_bits(), "ffib({n})");
    }
}

#[test]
fn float_register_pressure_spills_xmm_registers() {
    // 10 i64, 12 f32 and 24 f64 values live at once: more than there are
    // registers of either class.
    let mut body = String::new();
    for k in 1..=10 {
        body.push_str(&format!("local.get 2 i64.const {k} i64.mul\n"));
    }
    for k in 1..=12 {
        body.push_str(&format!(
            "local.get 0 f32.demote_f64 f32.const {k} f32.mul\n"
        ));
    }
    for k in 1..=24 {
        body.push_str(&format!(
            "local.get 0 f64.const {k} f64.mul local.get 1 f64.add\n"
        ));
    }
    body.push_str(&"f64.add\n".repeat(23));
    body.push_str("f32.demote_f64\n");
    body.push_str(&"f32.add\n".repeat(12));
    body.push_str("i64.trunc_sat_f32_s\n");
    body.push_str(&"i64.add\n".repeat(10));
    let wat = format!(r#"(module (func (export "wide") (param f64 f64 i64) (result i64) {body}))"#);
    let mut m = compile(&wat).expect("compiles");
    let floats = f64_inputs();
    for &a in &floats {
        for &b in &floats[..12] {
            for &c in &inputs()[..8] {
                let mut wide = a * 24.0 + b;
                for k in (1..24).rev() {
                    wide += a * k as f64 + b;
                }
                let mut narrow = wide as f32;
                for k in (1..=12).rev() {
                    narrow += a as f32 * k as f32;
                }
                let want = (1..=10).fold(narrow as i64, |acc, k: i64| {
                    acc.wrapping_add(c.wrapping_mul(k))
                });
                let got: i64 = m.call3("wide", a, b, c);
                assert_eq!(got, want, "wide({a}, {b}, {c})");
            }
        }
    }
}
