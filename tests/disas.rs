//! Golden disassembly of both compilers, for review: each
//! `tests/disas/winch/NAME.wat` is compiled by the baseline compiler
//! (winch-codegen) and each `tests/disas/cranelift/NAME.wat` by the
//! optimizing tier (cranelift-wasm and cranelift-codegen), and the listing
//! compared with `NAME.disas` beside it, so a change in the code a compiler
//! makes shows up as a diff of those files (the two directories hold the
//! same programs, so the tiers can be compared side by side).
//!
//! The listing is the one `duet compile --emit asm` prints
//! (`duet_cli::disassemble`). The module is validated with wasmparser's
//! default features, memories get the default tunables (guard pages, so
//! in-range offsets need no bounds check), and the code is compiled for
//! `CpuFeatures::all()` rather than the host's, so the files are the same
//! on every machine.
//!
//! SIMD code depends on the CPU more than scalar code does (VEX forms with
//! AVX, `pcmpgtq` with SSE4.2, sequences without), so each
//! `tests/disas/winch-simd/NAME.wat` is compiled twice by the baseline
//! compiler: for `CpuFeatures::all()` into `NAME.disas` and for the SSE4.1
//! preset (the x86-64 baseline plus SSE3, SSSE3 and SSE4.1) into
//! `NAME.sse41.disas`.
//!
//! The programs in `tests/disas/winch-metered/` and
//! `tests/disas/cranelift-metered/` are compiled with fuel metering and
//! epoch interruption on (`duet_environ::metering`), to show the checks
//! and charges each tier emits.
//!
//! Whether the code is *right* is checked elsewhere (`winch_execute.rs` runs
//! and the spec suite run it); these files are for a human judging whether
//! it is good. After reviewing a change, `BLESS=1 cargo test -p duet-tests
//! --test disas` rewrites them.

use cranelift_asm::x64::{CpuFeatures, Feature};
use duet_environ::module::translate;
use duet_environ::tunables::Tunables;
use duet_tests::check_golden;
use std::path::{Path, PathBuf};

/// Which compiler a directory of golden files is for.
#[derive(Copy, Clone)]
enum Tier {
    Winch,
    Cranelift,
}

/// The listing of every function of the module in `wat`, compiled for
/// `features`.
fn compile_and_disassemble(
    tier: Tier,
    path: &Path,
    tunables: Tunables,
    features: CpuFeatures,
) -> Result<String, String> {
    let wasm = wat::parse_file(path).map_err(|e| e.to_string())?;
    let translation =
        translate(&wasm, wasmparser::WasmFeatures::default()).map_err(|e| e.to_string())?;
    let module = translation.module.clone();
    let functions = match tier {
        Tier::Winch => winch_codegen::compile_module(translation, tunables, features)
            .map_err(|e| e.to_string())?,
        Tier::Cranelift => cranelift_wasm::compile_module(translation, tunables, features, 1)
            .map_err(|e| e.to_string())?,
    };
    Ok(duet_cli::disassemble(&module, &functions))
}

/// The SSE4.1 preset: what a CPU without SSE4.2 or AVX runs.
const SSE41: CpuFeatures = CpuFeatures::baseline().with(Feature::Sse41);

/// Tunables with fuel metering and epoch interruption on.
const METERED: Tunables = Tunables {
    consume_fuel: true,
    epoch_interruption: true,
    ..Tunables::DEFAULT
};

#[test]
fn baseline_code_matches_its_golden_disassembly() {
    check_directory(Tier::Winch, "winch", &[("disas", "", CpuFeatures::all())]);
}

#[test]
fn optimizing_code_matches_its_golden_disassembly() {
    check_directory(
        Tier::Cranelift,
        "cranelift",
        &[("disas", "", CpuFeatures::all())],
    );
}

#[test]
fn metered_baseline_code_matches_its_golden_disassembly() {
    check_directory_with(
        Tier::Winch,
        "winch-metered",
        METERED,
        &[("disas", "", CpuFeatures::all())],
    );
}

#[test]
fn metered_optimizing_code_matches_its_golden_disassembly() {
    check_directory_with(
        Tier::Cranelift,
        "cranelift-metered",
        METERED,
        &[("disas", "", CpuFeatures::all())],
    );
}

#[test]
fn baseline_simd_code_matches_its_golden_disassembly_under_both_presets() {
    check_directory(
        Tier::Winch,
        "winch-simd",
        &[
            ("disas", ", every CPU feature", CpuFeatures::all()),
            ("sse41.disas", ", the SSE4.1 preset", SSE41),
        ],
    );
}

/// Checks each `.wat` of directory `name` compiled by `tier` for each
/// `(extension, label, features)` of `presets` against the golden file
/// with that extension beside it (whose header names the preset by its
/// label).
fn check_directory(tier: Tier, name: &str, presets: &[(&str, &str, CpuFeatures)]) {
    check_directory_with(tier, name, Tunables::default(), presets);
}

/// [`check_directory`] with `tunables` instead of the default ones.
fn check_directory_with(
    tier: Tier,
    name: &str,
    tunables: Tunables,
    presets: &[(&str, &str, CpuFeatures)],
) {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("disas")
        .join(name);
    let mut inputs: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.expect("a directory entry").path())
        .collect();
    inputs.sort();
    let mut failures = Vec::new();
    let mut cases = 0;
    for path in &inputs {
        let file = path.file_name().unwrap().to_string_lossy();
        match path.extension().and_then(|e| e.to_str()) {
            Some("wat") => {}
            // A listing whose input is gone would never be checked again.
            Some("disas") => {
                let stem = file.split('.').next().unwrap_or_default();
                if !dir.join(format!("{stem}.wat")).exists() {
                    failures.push(format!("{} has no .wat beside it", path.display()));
                }
                continue;
            }
            _ => continue,
        }
        cases += 1;
        for &(extension, label, features) in presets {
            let header = format!(
                "; Generated by tests/disas.rs ({name}{label}) from {file}; do not edit.\n\
                 ; Regenerate after review: BLESS=1 cargo test -p duet-tests --test disas\n"
            );
            let result = compile_and_disassemble(tier, path, tunables, features)
                .map_err(|e| format!("{}: {e}", path.display()))
                .and_then(|text| check_golden(&path.with_extension(extension), &header, &text));
            if let Err(message) = result {
                failures.push(message);
            }
        }
    }
    assert!(cases > 0, "no .wat files in {}", dir.display());
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
