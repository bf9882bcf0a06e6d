//! Differential testing: wasm-smith modules run in duet (every compiler its
//! engine accepts, with guard pages and with explicit bounds checks) and in
//! the wasmi interpreter must agree on every exported function's results
//! and traps and on every exported global, memory and table after each
//! call. Odd seeds make modules with SIMD (`v128` values compared bit for
//! bit), half of them straight-line chains of vector instructions, an
//! eighth with relaxed SIMD (compared between duet's tiers, which promise
//! the same results); even seeds make modules without.
//! The harness is `duet_tests::differential`, whose module docs
//! describe what is compared and why that is sound; the fuzz target in
//! `tests/fuzz` runs the same check on libFuzzer's inputs.
//!
//! `cargo test` compares the modules of seeds `0..DEFAULT_ITERS`
//! (`DUET_DIFF_FROM` moves the start). More:
//!
//! ```text
//! DUET_DIFF_ITERS=20000 cargo test --release -p duet-tests --test differential
//! ```
//!
//! One seed, with the module as text and every call and its outcome
//! printed:
//!
//! ```text
//! DUET_DIFF_SEED=123 cargo test -p duet-tests --test differential -- --nocapture seeds
//! ```
//!
//! A divergence fails the test with the seed, the module as text (and its
//! bytes under the system temp dir), the calls before it, and the call or
//! state that differed with every column's outcome. To shrink it:
//!
//! ```text
//! DUET_DIFF_SEED=123 cargo test -p duet-tests --test differential -- --ignored --nocapture reduce
//! DUET_DIFF_WAT=small.wat cargo test -p duet-tests --test differential -- --ignored --nocapture wat_file
//! DUET_DIFF_WAT=small.wat cargo test -p duet-tests --test differential -- --ignored --nocapture reduce
//! ```
//!
//! Each divergence found this way is kept below as a small regression
//! module (functions without parameters, so the arguments do not matter),
//! with a comment saying what broke.

use duet_tests::differential::{
    Columns, Skip, Tally, check_module, check_wat, check_wat_bytes, module_for_seed,
    on_comparison_stack, uses_simd,
};
use duet_tests::env_u64;
use std::time::Instant;

/// Seeds under plain `cargo test` (a dev build), unless `DUET_DIFF_ITERS`
/// says otherwise.
const DEFAULT_ITERS: u64 = 1_000;

#[test]
fn seeds() {
    let (seeds, trace) = match env_u64("DUET_DIFF_SEED") {
        Some(seed) => (seed..seed + 1, true),
        None => {
            let from = env_u64("DUET_DIFF_FROM").unwrap_or(0);
            (
                from..from + env_u64("DUET_DIFF_ITERS").unwrap_or(DEFAULT_ITERS),
                false,
            )
        }
    };
    let started = Instant::now();
    let (tally, divergences, columns) = on_comparison_stack(|| {
        let columns = Columns::new();
        let mut tally = Tally::default();
        let mut divergences = Vec::new();
        for seed in seeds {
            let Some(wasm) = module_for_seed(seed) else {
                tally.not_generated += 1;
                continue;
            };
            if trace {
                match wasmprinter::print_bytes(&wasm) {
                    Ok(wat) => println!("{wat}"),
                    Err(e) => println!("(wasmprinter failed: {e})"),
                }
            }
            // The arguments' seed differs from the module's, so that the
            // two streams are not the same bytes.
            // A panic (in the runtime or a compiler) is a divergence too,
            // reported with its seed.
            let checked = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                check_module(&columns, &wasm, Some(seed), !seed, trace)
            }));
            if !matches!(checked, Ok(Ok(_))) && uses_simd(&wasm) {
                // `record` counts the others.
                tally.simd_modules += 1;
            }
            match checked {
                Ok(Ok(verdict)) => tally.record(seed.to_string(), &verdict),
                Ok(Err(divergence)) => {
                    tally.modules += 1;
                    divergences.push(divergence.to_string());
                }
                Err(panic) => {
                    tally.modules += 1;
                    let message = duet_tests::smith::panic_message(&*panic);
                    divergences.push(format!("seed {seed}: panicked: {message}"));
                }
            }
        }
        (tally, divergences, columns.describe())
    });
    println!(
        "differential: {columns}\n{tally}\n{} divergent, in {:.1?}",
        divergences.len(),
        started.elapsed()
    );
    assert!(
        divergences.is_empty(),
        "{} divergent modules:\n\n{}",
        divergences.len(),
        divergences.join("\n\n")
    );
}

/// The module in the file `$DUET_DIFF_WAT` (text or binary), and the
/// seed of its arguments, `$DUET_DIFF_ARGS` (0 if unset).
fn wat_file_module() -> (String, Vec<u8>, u64) {
    let path = std::env::var("DUET_DIFF_WAT").expect("DUET_DIFF_WAT names a .wat or .wasm file");
    let text = std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let wasm = wat::parse_bytes(&text)
        .unwrap_or_else(|e| panic!("{path}: {e}"))
        .into_owned();
    (path, wasm, env_u64("DUET_DIFF_ARGS").unwrap_or(0))
}

/// Compares the columns on the module in the file `$DUET_DIFF_WAT`,
/// with arguments from `$DUET_DIFF_ARGS`, printing every call: for
/// reducing a divergence by hand, and for replaying the fuzz target's.
// A tool run on demand, not a check: ignored unless asked for by name.
#[test]
#[ignore = "reads the module named by DUET_DIFF_WAT"]
fn wat_file() {
    let (path, wasm, arguments_seed) = wat_file_module();
    let verdict = check_wat_bytes(&wasm, arguments_seed);
    println!("{path}: {verdict:?}");
}

/// Reduces a divergent module: the module of seed `$DUET_DIFF_SEED` (with
/// that seed's arguments), or the one in the file `$DUET_DIFF_WAT` (with
/// arguments from `$DUET_DIFF_ARGS`, or seed 0). Writes `<module>.reduced.wat` beside the
/// module's bytes under the system temp dir and prints it.
// A tool run on demand, not a check: ignored unless asked for by name.
#[test]
#[ignore = "reduces the module named by DUET_DIFF_SEED or DUET_DIFF_WAT"]
fn reduce() {
    let (wasm, seed, arguments_seed) = match env_u64("DUET_DIFF_SEED") {
        Some(seed) => (
            module_for_seed(seed).expect("the seed makes a module"),
            Some(seed),
            !seed,
        ),
        None => {
            let (_, wasm, arguments_seed) = wat_file_module();
            (wasm, None, arguments_seed)
        }
    };
    let wat = wasmprinter::print_bytes(&wasm).expect("wasmprinter prints the module");
    let (reduced, tried) = on_comparison_stack(|| {
        let columns = Columns::new();
        let divergence = check_module(&columns, &wasm, seed, arguments_seed, false)
            .expect_err("the module diverges");
        println!("reducing a divergence `{}`", divergence.signature);
        duet_tests::differential::reduce(&columns, &wat, &divergence.signature, arguments_seed)
    });
    let name = match seed {
        Some(seed) => format!("duet-differential-{seed}.reduced.wat"),
        None => "duet-differential.reduced.wat".to_string(),
    };
    let path = std::env::temp_dir().join(name);
    std::fs::write(&path, &reduced).unwrap();
    println!(
        "{} lines to {} in {tried} tries: {}\n{reduced}",
        wat.lines().count(),
        reduced.lines().count(),
        path.display()
    );
}

/// winch-codegen: `i32.reinterpret_f32` of an `f32` in an XMM register
/// moves 64 bits. `reinterpret` skips its clearing `mov r32, r32` when the
/// value comes from an XMM register, trusting that "MOVD from an XMM
/// register already clears it", but `materialize` sizes the move with
/// `int_size(F32)`, which is 64 bits: a MOVQ, copying bits 32..63 of the
/// lane. An `f32`'s lane above bit 31 is undefined (`crates/winch/src/
/// lib.rs`, invariant 2), and is not zero after `f32.demote_f64` (CVTSD2SS
/// keeps the source's upper half) or `f32.neg` (XOR with a mask that has
/// every lane's sign bit). The `i32` then breaks invariant 2, and whatever
/// trusts it goes wrong: `i64.extend_i32_u` (no code) returns the garbage,
/// `f32.convert_i32_u` converts 64 bits, a load or store indexes memory
/// with all 64 bits (with guard pages and with explicit checks alike: an
/// address of `0xffffffff` plus offset 1 wraps to 0 and reads in bounds
/// instead of trapping). Seeds 1395, 4210, 7152, 7889, 10658, 14563,
/// 15191 and 17654 (of the first 20,000) diverge by it: missing traps,
/// wrong trap kinds, a `memory.grow` that failed in winch alone, wrong
/// globals. With `reinterpret` always clearing the
/// upper half, all of them, and every function here, agree.
#[test]
fn reinterpret_f32_keeps_the_lane_upper_half() {
    check_wat(
        r#"(module
          (memory 1)
          ;; 0x3f800000; winch: 0x3ff000003f800000.
          (func (export "extend_u_after_demote") (result i64) (local f64)
            f64.const 0x1.0000000000001p+0
            local.set 0
            local.get 0
            f32.demote_f64
            i32.reinterpret_f32
            i64.extend_i32_u)
          ;; 0x41280000; winch: 0x8000000041280000.
          (func (export "extend_u_after_neg") (result i64) (local f32)
            f32.const -10.5
            local.set 0
            local.get 0
            f32.neg
            i32.reinterpret_f32
            i64.extend_i32_u)
          ;; 1.0931405e9 (0x4e82_5000); winch: -9.223372e18 (0xdf00_0000).
          (func (export "convert_u_after_neg") (result f32) (local f32)
            f32.const -10.5
            local.set 0
            local.get 0
            f32.neg
            i32.reinterpret_f32
            f32.convert_i32_u)
          ;; Out of bounds (0xffffffff + 1); winch: loads from address 0.
          (func (export "load_after_demote") (result i32) (local f64)
            f64.const -nan:0xfffffffffff80
            local.set 0
            local.get 0
            f32.demote_f64
            i32.reinterpret_f32
            i32.load offset=1))"#,
    );
}

/// Not a duet bug: wasmi 2.0.0, the newest wasmi, returns the wrong operand
/// of a `select` whose condition is `i32.eqz` of a local when the same
/// local is an operand, once the function has passed an `if` (its
/// translator fuses the `eqz` into the `select` and swaps the operands).
/// wasm-smith's trap-avoiding division guards are made of exactly that: 40
/// modules of the first 20,000 seeds "divided by zero" in wasmi alone. This is why
/// the oracle is pinned to wasmi 1.1.0, which gets it right; the test
/// fails if the pin is lifted to a wasmi with the bug.
#[test]
fn wasmi_2_select_of_eqz() {
    check_wat(
        r#"(module
          (global (mut i32) (i32.const 1))
          ;; 0 (the local); wasmi 2.0.0: 7.
          (func (export "select") (result i32) (local i32)
            global.get 0
            if
            end
            local.get 0
            i32.const 7
            local.get 0
            i32.eqz
            select)
          ;; 0 / 1 = 0; wasmi 2.0.0: integer divide by zero.
          (func (export "guarded_division") (result i32) (local i32)
            global.get 0
            if
            end
            i32.const 0
            i32.const 1
            local.get 0
            local.get 0
            i32.eqz
            select
            i32.div_u))"#,
    );
}

/// A harness bug, not an engine's: wasmi 1.1.0 reports `table.copy` out
/// of bounds as a table error that `Error::as_trap_code` does not map
/// (unlike `table.init` and `table.fill`), so it was compared as an
/// unknown trap against duet's `TableOutOfBounds`. Found as seeds 9573,
/// 21480, 25924, 36763, 46581, 50379, 58446 and 58887.
#[test]
fn table_copy_out_of_bounds_is_a_table_trap() {
    check_wat(
        r#"(module
          (table 2 2 funcref)
          (func (export "copy") (table.copy (i32.const 1) (i32.const 0) (i32.const 2))))"#,
    );
}

/// A stack overflow agrees with any trap, but the engines' limits differ,
/// so each got a different distance: here wasmi stops after 4,000 frames
/// (twice the fuel) and duet after many more, with the global counting
/// them. The comparison must end at the overflow, as a skip, not report
/// the global.
#[test]
fn a_stack_overflow_ends_the_comparison() {
    let wasm = wat::parse_str(
        r#"(module
          (global (export "depth") (mut i32) (i32.const 0))
          (func $deep (export "deep")
            global.get 0
            i32.const 1
            i32.add
            global.set 0
            call $deep))"#,
    )
    .unwrap();
    let verdict = on_comparison_stack(|| {
        check_module(&Columns::new(), &wasm, None, 0, false).unwrap_or_else(|d| panic!("{d}"))
    });
    assert!(
        matches!(&verdict.skipped, Some(Skip::StackOverflowed { func, .. }) if func == "deep"),
        "{verdict:?}"
    );
    assert_eq!(verdict.calls, 1);
}

/// cranelift-codegen: the return area of a call (results past the first)
/// starts at the stack arguments' size rounded up to 16 bytes
/// (`duet_environ::abi::CallSignature`); the backend started it right after
/// the arguments, so with one 8-byte stack argument a float result was
/// read 8 bytes off (seed 6428) and a funcref result became garbage the
/// runtime could not map back to a function (seed 9362).
#[test]
fn cranelift_return_area_follows_the_aligned_stack_arguments() {
    check_wat(
        r#"(module
          (func $g (param i64 i64 i64 i64 i64 i64) (result f32 f64 i64)
            (f32.const 1.5) (f64.const 2.5) (local.get 5))
          (func (export "f") (param i64 i64 i64 i64 i64 i64) (result f32 f64 i64)
            (call $g (local.get 0) (local.get 1) (local.get 2) (local.get 3)
                     (local.get 4) (local.get 5)))
          (export "g" (func $g)))"#,
    );
}
