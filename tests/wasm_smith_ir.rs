//! The optimizing tier's frontend against arbitrary input: no module may
//! make `cranelift-wasm` panic, and what it translates must verify.
//!
//! Four passes, each over a fixed sequence of seeds (a xorshift PRNG feeds
//! wasm-smith's `Unstructured`, so a seed names a module for good):
//!
//! 1. **WebAssembly 2.0 without SIMD**: every function translates, and its
//!    IR passes the verifier. Any error is a bug: wasm-smith makes valid
//!    modules, and every operator in them is one the translator takes.
//! 2. **With SIMD**: every module translates (and verifies) or is refused
//!    as unsupported (counted by operator or type).
//! 3. **Memory64 and multi-memory** (no new operators, new index types and
//!    memory indices): every module translates and verifies.
//! 4. **Mutated bytes**: valid modules with bytes flipped, inserted or cut
//!    off; any error is fine, a panic is not.
//!
//! A quarter of the seeds translate with no memory reservation (explicit
//! bounds checks) instead of the default guard pages. In debug builds the
//! translator verifies each function itself and panics on a failure, which
//! this test reports like any panic.
//!
//! A failure names the seed and the path of the module's bytes, written
//! under the system temp dir (`wasm-tools print` shows it as text).
//!
//! `cargo test` runs 2000 seeds per pass; `DUET_SMITH_ITERS` runs more:
//!
//! ```text
//! DUET_SMITH_ITERS=50000 cargo test --release -p duet-tests --test wasm_smith_ir
//! ```

use duet_tests::rng::XorShift;
use duet_tests::smith::{panic_message, save_module, smith_module};
use std::collections::BTreeMap;
use std::panic::{AssertUnwindSafe, catch_unwind};

use cranelift_codegen::verifier::verify_function;
use cranelift_wasm::WasmError;
use duet_environ::module::translate;
use duet_environ::tunables::Tunables;
use wasmparser::WasmFeatures;

/// Seeds per pass under plain `cargo test`, unless `DUET_SMITH_ITERS`
/// says otherwise.
const DEFAULT_ITERS: u64 = 2000;

fn iterations() -> u64 {
    std::env::var("DUET_SMITH_ITERS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(DEFAULT_ITERS)
}

/// Which modules a pass generates, and the features they validate under.
#[derive(Copy, Clone)]
enum Flavor {
    Wasm2,
    Simd,
    Memory64,
}

impl Flavor {
    fn config(self) -> wasm_smith::Config {
        let (simd, memory64, memories) = match self {
            Flavor::Wasm2 => (false, false, 1),
            Flavor::Simd => (true, false, 1),
            Flavor::Memory64 => (false, true, 3),
        };
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
            memory64_enabled: memory64,
            custom_page_sizes_enabled: false,
            wide_arithmetic_enabled: false,
            extended_const_enabled: false,
            compact_imports_enabled: false,
            max_memories: memories,
            max_tables: 3,
            min_funcs: 1,
            max_funcs: 6,
            max_instructions: 200,
            max_nesting_depth: 8,
            ..wasm_smith::Config::default()
        }
    }

    fn features(self) -> WasmFeatures {
        match self {
            Flavor::Wasm2 | Flavor::Simd => WasmFeatures::WASM2,
            Flavor::Memory64 => {
                WasmFeatures::WASM2 | WasmFeatures::MEMORY64 | WasmFeatures::MULTI_MEMORY
            }
        }
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
    /// Every function translated and verified; how many there were.
    Translated(usize),
    /// The module translation refused it.
    Module(String),
    /// An operator or type the translator does not take.
    Unsupported(String),
    /// Anything else: an invalid body, or IR that does not verify.
    Failed(String),
}

/// Translates every function of `wasm` and verifies it; a panic is
/// returned as its message.
fn translate_all(
    wasm: &[u8],
    features: WasmFeatures,
    tunables: Tunables,
) -> Result<Outcome, String> {
    catch_unwind(AssertUnwindSafe(|| {
        let translation = match translate(wasm, features) {
            Ok(t) => t,
            Err(e) => return Outcome::Module(e.to_string()),
        };
        match cranelift_wasm::translate_module(translation, tunables, 1) {
            Ok(functions) => {
                for func in &functions {
                    if let Err(e) = verify_function(func) {
                        return Outcome::Failed(format!("%{} does not verify: {e}", func.name));
                    }
                }
                Outcome::Translated(functions.len())
            }
            Err(WasmError::UnsupportedOperator { operator, .. }) => Outcome::Unsupported(operator),
            Err(WasmError::UnsupportedType { ty, .. }) => Outcome::Unsupported(ty),
            Err(e) => Outcome::Failed(e.to_string()),
        }
    }))
    .map_err(|payload| panic_message(&*payload))
}

/// Writes a failing module where it can be looked at, and returns the path.
fn save(pass: &str, seed: u64, wasm: &[u8]) -> String {
    save_module(&format!("wasm-smith-ir-{pass}-{seed}"), wasm)
}

/// Runs one wasm-smith pass; `Unsupported` is allowed only for SIMD.
fn smith_pass(name: &str, flavor: Flavor) {
    let config = flavor.config();
    let iters = iterations();
    let mut failures = Vec::new();
    let mut unsupported: BTreeMap<String, u32> = BTreeMap::new();
    let (mut modules, mut functions) = (0, 0);
    for seed in 0..iters {
        let Some(wasm) = smith_module(seed, &config, 1024, 16384) else {
            continue;
        };
        let fail =
            |what: String| format!("seed {seed}: {what}, module {}", save(name, seed, &wasm));
        match translate_all(&wasm, flavor.features(), tunables(seed)) {
            Ok(Outcome::Translated(n)) => {
                modules += 1;
                functions += n;
            }
            Ok(Outcome::Unsupported(what)) if matches!(flavor, Flavor::Simd) => {
                *unsupported.entry(what).or_default() += 1
            }
            Ok(Outcome::Unsupported(what)) => failures.push(fail(format!("unsupported {what}"))),
            // Limits of the module translation (a refused proposal) are not
            // this crate's business; anything else is.
            Ok(Outcome::Module(e)) if e.starts_with("unsupported") => {}
            Ok(Outcome::Module(e)) => failures.push(fail(format!("module refused: {e}"))),
            Ok(Outcome::Failed(e)) => failures.push(fail(e)),
            Err(panic) => failures.push(fail(format!("PANIC: {panic}"))),
        }
    }
    let total_unsupported: u32 = unsupported.values().sum();
    println!(
        "{name}: {iters} seeds, {modules} modules ({functions} functions) translated and \
         verified, {total_unsupported} unsupported: {unsupported:?}"
    );
    assert!(failures.is_empty(), "{name}:\n{}", failures.join("\n"));
}

#[test]
fn wasm2_without_simd() {
    smith_pass("wasm2", Flavor::Wasm2);
}

#[test]
fn wasm2_with_simd() {
    smith_pass("simd", Flavor::Simd);
}

#[test]
fn memory64_and_multi_memory() {
    smith_pass("memory64", Flavor::Memory64);
}

#[test]
fn mutated_modules() {
    let config = Flavor::Wasm2.config();
    let iters = iterations();
    let mut failures = Vec::new();
    let mut errors = 0;
    for seed in 0..iters {
        let Some(mut wasm) = smith_module(seed, &config, 1024, 16384) else {
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
        match translate_all(&wasm, WasmFeatures::WASM2, tunables(seed)) {
            Ok(Outcome::Translated(_)) => {}
            Ok(Outcome::Failed(e)) if e.contains("does not verify") => failures.push(format!(
                "seed {seed}: {e}, module {}",
                save("mutated", seed, &wasm)
            )),
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

/// Translates a module under both tunables; it must translate and verify.
fn translates(wat: &str) {
    let wasm = wat::parse_str(wat).expect("the module parses");
    for tunables in [tunables(0), tunables(3)] {
        match translate_all(&wasm, WasmFeatures::WASM2, tunables) {
            Ok(Outcome::Translated(_)) => {}
            Ok(Outcome::Module(e) | Outcome::Unsupported(e) | Outcome::Failed(e)) => {
                panic!("the module failed: {e}")
            }
            Err(panic) => panic!("the module panicked: {panic}"),
        }
    }
}

/// The shapes that broke the baseline compiler (its wasm-smith seeds
/// 14268, 10162, 13802): blocks with parameters opened in unreachable
/// code, around values of enclosing frames, on an empty stack, inside
/// loops. The translator opens dead frames there, which touch no values.
#[test]
fn blocks_with_params_in_unreachable_code() {
    translates(
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
    translates(
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
    translates(
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
