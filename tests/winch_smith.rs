//! The baseline compiler against arbitrary input: no module may make
//! `winch-codegen` panic.
//!
//! Three passes, each over a fixed sequence of seeds (`duet_tests::rng`'s
//! xorshift PRNG feeds wasm-smith's `Unstructured`, so a seed names a module for good):
//!
//! 1. **WebAssembly 2.0 without SIMD** (multi-value, bulk memory, reference
//!    types, sign extension, saturating conversions; one memory): every
//!    module compiles. `Unsupported` is a failure (the compiler supports
//!    all of 2.0), and so is `Invalid`: wasm-smith makes valid modules.
//! 2. **With SIMD**: every module compiles, likewise.
//! 3. **Mutated bytes**: valid modules with bytes flipped, inserted or cut
//!    off; any error is fine, a panic is not.
//!
//! A quarter of the seeds compile with no memory reservation (explicit
//! bounds checks) instead of the default guard pages.
//!
//! A panic fails the test with the seed and the path of the module's bytes,
//! written under the system temp dir (`wasm-tools print` shows it as text).
//!
//! `cargo test` runs 4000 seeds per pass (a few seconds in debug); set `DUET_SMITH_ITERS` to
//! run more, e.g. in release:
//!
//! ```text
//! DUET_SMITH_ITERS=20000 cargo test --release -p duet-tests --test winch_smith
//! ```
//!
//! Panics found this way are kept below as small regression modules, each
//! with a comment saying what broke.

use std::panic::{AssertUnwindSafe, catch_unwind};

use cranelift_asm::x64::CpuFeatures;
use duet_environ::module::translate;
use duet_environ::tunables::Tunables;
use duet_tests::rng::XorShift;
use duet_tests::smith::{panic_message, save_module, smith_module};
use wasmparser::WasmFeatures;
use winch_codegen::CompileError;

/// Seeds per pass under plain `cargo test` (debug), unless
/// `DUET_SMITH_ITERS` says otherwise.
const DEFAULT_ITERS: u64 = 4000;

fn iterations() -> u64 {
    std::env::var("DUET_SMITH_ITERS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(DEFAULT_ITERS)
}

/// wasm-smith's configuration for WebAssembly 2.0, with or without SIMD.
fn config(simd: bool) -> wasm_smith::Config {
    wasm_smith::Config {
        simd_enabled: simd,
        relaxed_simd_enabled: false,
        multi_value_enabled: true,
        bulk_memory_enabled: true,
        reference_types_enabled: true,
        sign_extension_ops_enabled: true,
        saturating_float_to_int_enabled: true,
        threads_enabled: false,
        shared_everything_threads_enabled: false,
        tail_call_enabled: false,
        gc_enabled: false,
        exceptions_enabled: false,
        memory64_enabled: false,
        custom_page_sizes_enabled: false,
        wide_arithmetic_enabled: false,
        extended_const_enabled: false,
        compact_imports_enabled: false,
        max_memories: 1,
        max_tables: 2,
        min_funcs: 1,
        max_funcs: 6,
        max_instructions: 200,
        max_nesting_depth: 8,
        ..wasm_smith::Config::default()
    }
}

/// The tunables for `seed`: a quarter of the seeds bounds-check explicitly.
fn tunables(seed: u64) -> Tunables {
    if seed % 4 == 3 {
        Tunables::NO_RESERVATION
    } else {
        Tunables::default()
    }
}

/// How one module fared.
enum Outcome {
    Compiled,
    /// Refused by the translator (anything it does not take).
    Translation(String),
    Unsupported(String),
    Invalid(String),
    Other(String),
}

/// Translates and compiles `wasm`; a panic is returned as its message.
fn compile(wasm: &[u8], tunables: Tunables) -> Result<Outcome, String> {
    catch_unwind(AssertUnwindSafe(|| {
        let translation = match translate(wasm, WasmFeatures::WASM2) {
            Ok(t) => t,
            Err(e) => return Outcome::Translation(e.to_string()),
        };
        match winch_codegen::compile_module(translation, tunables, CpuFeatures::all()) {
            Ok(_) => Outcome::Compiled,
            Err(CompileError::Unsupported { operator, .. }) => Outcome::Unsupported(operator),
            Err(e @ CompileError::Invalid { .. }) => Outcome::Invalid(e.to_string()),
            Err(e) => Outcome::Other(e.to_string()),
        }
    }))
    .map_err(|payload| panic_message(&*payload))
}

/// Writes a failing module where it can be looked at, and returns the path.
fn save(pass: &str, seed: u64, wasm: &[u8]) -> String {
    save_module(&format!("winch-smith-{pass}-{seed}"), wasm)
}

/// Runs one wasm-smith pass: anything but compiled fails it.
fn smith_pass(name: &str, simd: bool) {
    let config = config(simd);
    let iters = iterations();
    let mut failures = Vec::new();
    let (mut compiled, mut refused) = (0, 0);
    for seed in 0..iters {
        let Some(wasm) = smith_module(seed, &config, 256, 8192) else {
            continue;
        };
        match compile(&wasm, tunables(seed)) {
            Ok(Outcome::Compiled) => compiled += 1,
            Ok(Outcome::Unsupported(op)) => failures.push(format!(
                "seed {seed}: unsupported operator {op}, module {}",
                save(name, seed, &wasm)
            )),
            Ok(Outcome::Translation(e)) => {
                refused += 1;
                if !e.starts_with("unsupported") {
                    failures.push(format!(
                        "seed {seed}: translation failed: {e}, module {}",
                        save(name, seed, &wasm)
                    ));
                }
            }
            Ok(Outcome::Invalid(e)) | Ok(Outcome::Other(e)) => failures.push(format!(
                "seed {seed}: {e}, module {}",
                save(name, seed, &wasm)
            )),
            Err(panic) => failures.push(format!(
                "seed {seed}: PANIC: {panic}, module {}",
                save(name, seed, &wasm)
            )),
        }
    }
    println!("{name}: {iters} seeds, {compiled} compiled, {refused} refused by translation");
    assert!(failures.is_empty(), "{name}:\n{}", failures.join("\n"));
}

#[test]
fn wasm2_without_simd() {
    smith_pass("wasm2", false);
}

#[test]
fn wasm2_with_simd() {
    smith_pass("simd", true);
}

#[test]
fn mutated_modules() {
    let config = config(false);
    let iters = iterations();
    let mut failures = Vec::new();
    let mut errors = 0;
    for seed in 0..iters {
        let Some(mut wasm) = smith_module(seed, &config, 256, 8192) else {
            continue;
        };
        let mut rng = XorShift::new(seed ^ 0xdead_beef);
        // A few edits: flip a byte, set one to an interesting value, insert
        // one, or cut the module short.
        for _ in 0..1 + rng.next() % 4 {
            if wasm.len() <= 8 {
                break;
            }
            // Leave the header alone: otherwise nearly every mutant dies in
            // the first 8 bytes.
            let at = 8 + (rng.next() as usize) % (wasm.len() - 8);
            match rng.next() % 5 {
                0 => wasm[at] ^= 1 << (rng.next() % 8),
                1 => {
                    wasm[at] = [0x00, 0x01, 0x0b, 0x40, 0x7f, 0x80, 0xff][(rng.next() % 7) as usize]
                }
                2 => wasm[at] = rng.next() as u8,
                3 => wasm.insert(at, rng.next() as u8),
                _ => wasm.truncate(at),
            }
        }
        match compile(&wasm, tunables(seed)) {
            Ok(Outcome::Compiled) => {}
            Ok(_) => errors += 1,
            Err(panic) => failures.push(format!(
                "seed {seed}: PANIC: {panic}, module {}",
                save("mutated", seed, &wasm)
            )),
        }
    }
    println!("mutated: {iters} seeds, {errors} refused");
    assert!(failures.is_empty(), "mutated:\n{}", failures.join("\n"));
}

/// Compiles a regression module under both tunables; it must not panic
/// (an error naming an unsupported operator is still fine).
fn regression(wat: &str) {
    let wasm = wat::parse_str(wat).expect("the regression module parses");
    for tunables in [tunables(0), tunables(3)] {
        match compile(&wasm, tunables) {
            Ok(Outcome::Compiled) | Ok(Outcome::Unsupported(_)) => {}
            Ok(Outcome::Translation(e)) | Ok(Outcome::Invalid(e)) | Ok(Outcome::Other(e)) => {
                panic!("the regression module failed: {e}")
            }
            Err(panic) => panic!("the regression module panicked: {panic}"),
        }
    }
}

/// wasm-smith seed 14268 (pass 1), shrunk. A block with a parameter in
/// unreachable code took its base as the value-stack height minus its
/// parameters, but nothing is pushed in unreachable code: the base reached
/// into the `if`'s values, and the block's end truncated them away. When
/// the `if`'s end became reachable again (the false path), the value stack
/// was one short and `i64.xor` popped an empty stack ("the validator
/// checked the operand").
#[test]
fn block_with_params_in_unreachable_code_keeps_enclosing_values() {
    regression(
        r#"(module
          (func (param i32)
            i64.const 1
            local.get 0
            if
              br 1
              i32.const 0
              block (param i32)
                drop
              end
            end
            i64.const 2
            i64.xor
            drop))"#,
    );
}

/// wasm-smith seed 10162 (pass 1), shrunk. The same construct with an
/// empty value stack: the base height underflowed (a slice index of
/// `usize::MAX` in release, an overflow in debug).
#[test]
fn block_with_params_in_unreachable_code_on_an_empty_stack() {
    regression(
        r#"(module
          (func (result f32)
            f32.const 1
            block
              br 0
              i64.const 0
              block (param i64)
                drop
              end
            end))"#,
    );
}

/// wasm-smith seed 13802 (pass 1), shrunk. A block with a parameter,
/// inside loops entered in unreachable code, replaced the enclosing block's
/// value with a memory slot of its own at its end; after the enclosing
/// block's end (reached by a branch) that slot lay above the stack pointer
/// ("a memory value above the stack pointer" when popped).
#[test]
fn block_with_params_in_unreachable_loop_keeps_enclosing_slots() {
    regression(
        r#"(module
          (func (param i32) (result i32)
            i32.const 7
            block (result i32)
              i32.const 1
              br 0
              loop (result i32)
                i32.const 0
                block (param i32) (result f64)
                  drop
                  f64.const 0
                end
                drop
                i32.const 0
              end
            end
            i32.add))"#,
    );
}
