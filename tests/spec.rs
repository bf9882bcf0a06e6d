//! The WebAssembly spec suites, and this repository's own scripts.
//!
//! * Every top-level `*.wast` file of the 2.0 suite is a test case per
//!   compiler (`[winch] i32`, `[cranelift] i32`), on an engine with that
//!   compiler and exactly WebAssembly 2.0's feature set, so modules that
//!   3.0 accepts but 2.0 calls invalid are rejected as the suite expects.
//! * The SIMD files, `wasm-2.0/simd/` (2.0's features) and
//!   `wasm-3.0/simd/` and `wasm-3.0/relaxed-simd/` (3.0's), run under the
//!   baseline tier twice: with the host's CPU features and with the SSE4.1
//!   preset, so the code paths for CPUs without AVX or SSE4.2 are tested
//!   on a machine that has them (`[winch host] 2.0/simd/simd_lane`,
//!   `[winch sse4.1] 3.0/relaxed-simd/relaxed_min_max`). The optimizing
//!   tier translates only part of SIMD so far (issue 14), so it does not
//!   run these files yet (`tests/simd_tiers.rs` checks what it has).
//! * `tests/wast/*.wast`, scripts written here, run like the SIMD files.
//!
//! Each case runs its script with `duet_cli::wast` (the runner behind
//! `duet wast`) and fails with the list of the script's failures, one
//! `file:line:column: directive: what went wrong` per line.
//!
//! The suites are found at `$DUET_SHARED/spec/wasm-2.0` and `.../wasm-3.0`,
//! else at `../shared/spec/...` beside the workspace (`$DUET_SPEC_DIR`
//! overrides the 2.0 suite's directory). When one is missing the test
//! binary fails: a suite that silently did not run would read as a suite
//! that passed.
//!
//! ```text
//! cargo test -p duet-tests --test spec            # every file
//! cargo test -p duet-tests --test spec -- i32     # files whose name contains i32
//! cargo test -p duet-tests --test spec -- simd    # the SIMD files
//! ```

use duet::{Compiler, Config, CpuPreset, Engine, WasmFeatures};
use duet_cli::wast::WastRunner;
use libtest_mimic::{Arguments, Failed, Trial};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// How many failure lines a failing case prints before it only counts.
const MAX_FAILURE_LINES: usize = 30;

fn main() -> ExitCode {
    let args = Arguments::from_args();
    let spec = duet_tests::shared_dir().join("spec");
    let dir = match std::env::var_os("DUET_SPEC_DIR") {
        Some(dir) => PathBuf::from(dir),
        None => spec.join("wasm-2.0"),
    };
    let mut trials = Vec::new();
    let files = match spec_files(&dir) {
        Ok(files) => files,
        Err(error) => return missing(&dir, &error.to_string()),
    };
    for (label, compiler) in [
        ("winch", Compiler::Winch),
        ("cranelift", Compiler::Cranelift),
    ] {
        let engine = match engine(compiler, WasmFeatures::WASM2, CpuPreset::Host) {
            Ok(engine) => engine,
            Err(error) => return cannot_make(label, &error),
        };
        add_trials(&mut trials, &format!("[{label}]"), "", &engine, &files);
    }

    // The SIMD suites and the local scripts, under the baseline tier with
    // two CPU presets.
    let local = Path::new(env!("CARGO_MANIFEST_DIR")).join("wast");
    let simd_suites = [
        (dir.join("simd"), WasmFeatures::WASM2, "2.0/simd/"),
        (spec.join("wasm-3.0/simd"), WasmFeatures::WASM3, "3.0/simd/"),
        (
            spec.join("wasm-3.0/relaxed-simd"),
            WasmFeatures::WASM3,
            "3.0/relaxed-simd/",
        ),
        (local, WasmFeatures::WASM3, "local/"),
    ];
    for (suite, features, prefix) in simd_suites {
        let files = match spec_files(&suite) {
            Ok(files) => files,
            Err(error) => return missing(&suite, &error.to_string()),
        };
        for (label, preset) in [("host", CpuPreset::Host), ("sse4.1", CpuPreset::Sse41)] {
            let engine = match engine(Compiler::Winch, features, preset) {
                Ok(engine) => engine,
                Err(error) => return cannot_make(label, &error),
            };
            add_trials(
                &mut trials,
                &format!("[winch {label}]"),
                prefix,
                &engine,
                &files,
            );
        }
    }
    libtest_mimic::run(&args, trials).exit_code()
}

/// An engine with `compiler`, exactly the wasm `features`, and the CPU
/// `preset`.
fn engine(
    compiler: Compiler,
    features: WasmFeatures,
    preset: CpuPreset,
) -> Result<Engine, duet::Error> {
    let mut config = Config::new();
    config
        .compiler(compiler)
        .wasm_features(features)
        .cpu_features(preset);
    Engine::new(&config)
}

fn cannot_make(label: &str, error: &duet::Error) -> ExitCode {
    eprintln!("error: cannot make the {label} engine: {error}");
    ExitCode::FAILURE
}

/// A case `{label} {prefix}{name}` per file, run on `engine`.
fn add_trials(
    trials: &mut Vec<Trial>,
    label: &str,
    prefix: &str,
    engine: &Engine,
    files: &[PathBuf],
) {
    for path in files {
        let name = path.file_stem().map_or_else(
            || path.display().to_string(),
            |s| s.to_string_lossy().into(),
        );
        let runner = WastRunner::new(engine.clone());
        let path = path.clone();
        trials.push(Trial::test(format!("{label} {prefix}{name}"), move || {
            run(&runner, &path)
        }));
    }
}

/// The top-level `*.wast` files of `dir`, sorted by name; an error if
/// there are none.
fn spec_files(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_file() && path.extension().is_some_and(|e| e == "wast") {
            files.push(path);
        }
    }
    files.sort();
    if files.is_empty() {
        return Err(std::io::Error::other("it holds no .wast files"));
    }
    Ok(files)
}

/// Fails the binary: the suite is not where it should be.
fn missing(dir: &Path, why: &str) -> ExitCode {
    eprintln!(
        "error: a WebAssembly spec suite is missing at {}: {why}\n       \
         put the shared test material beside the workspace as ../shared, \
         or set DUET_SHARED (or DUET_SPEC_DIR to the suite's directory)",
        dir.display()
    );
    ExitCode::FAILURE
}

/// Runs one script; fails with its failures, at most
/// [`MAX_FAILURE_LINES`] of them listed.
fn run(runner: &WastRunner, path: &Path) -> Result<(), Failed> {
    let summary = runner
        .run_file(path)
        .map_err(|e| Failed::from(e.to_string()))?;
    if summary.failed == 0 {
        return Ok(());
    }
    let mut message = format!("{summary}\n");
    for line in summary.failures.iter().take(MAX_FAILURE_LINES) {
        let _ = writeln!(message, "  {line}");
    }
    if let Some(more) = summary.failures.len().checked_sub(MAX_FAILURE_LINES)
        && more > 0
    {
        let _ = writeln!(message, "  … and {more} more");
    }
    Err(message.into())
}
