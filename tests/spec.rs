//! The WebAssembly 2.0 spec suite under both compilers.
//!
//! Every top-level `*.wast` file of the suite (not `simd/`: SIMD is not
//! supported yet) is a test case per compiler (`[winch] i32`,
//! `[cranelift] i32`), run by `duet_cli::wast` (the runner behind
//! `duet wast`) on an engine with that compiler and exactly WebAssembly
//! 2.0's feature set, so modules that 3.0 accepts but 2.0 calls
//! invalid are rejected as the suite expects. A case fails with the list of
//! the script's failures, one `file:line:column: directive: what went wrong`
//! per line.
//!
//! The suite is found at `$DUET_SPEC_DIR`, else at
//! `$DUET_SHARED/spec/wasm-2.0`, else at `../shared/spec/wasm-2.0` beside
//! the workspace. When it is missing the test binary fails: a suite that
//! silently did not run would read as a suite that passed.
//!
//! ```text
//! cargo test -p duet-tests --test spec            # every file
//! cargo test -p duet-tests --test spec -- i32     # files whose name contains i32
//! ```

use duet::{Compiler, Config, Engine, WasmFeatures};
use duet_cli::wast::WastRunner;
use libtest_mimic::{Arguments, Failed, Trial};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// How many failure lines a failing case prints before it only counts.
const MAX_FAILURE_LINES: usize = 30;

fn main() -> ExitCode {
    let args = Arguments::from_args();
    let dir = match std::env::var_os("DUET_SPEC_DIR") {
        Some(dir) => PathBuf::from(dir),
        None => duet_tests::shared_dir().join("spec/wasm-2.0"),
    };
    let files = match spec_files(&dir) {
        Ok(files) if !files.is_empty() => files,
        Ok(_) => return missing(&dir, "it holds no .wast files"),
        Err(error) => return missing(&dir, &error.to_string()),
    };
    let mut trials = Vec::new();
    for (label, compiler) in [
        ("winch", Compiler::Winch),
        ("cranelift", Compiler::Cranelift),
    ] {
        let mut config = Config::new();
        config.compiler(compiler).wasm_features(WasmFeatures::WASM2);
        let engine = match Engine::new(&config) {
            Ok(engine) => engine,
            Err(error) => {
                eprintln!("error: cannot make the {label} engine: {error}");
                return ExitCode::FAILURE;
            }
        };
        for path in &files {
            let name = path.file_stem().map_or_else(
                || path.display().to_string(),
                |s| s.to_string_lossy().into(),
            );
            let runner = WastRunner::new(engine.clone());
            let path = path.clone();
            trials.push(Trial::test(format!("[{label}] {name}"), move || {
                run(&runner, &path)
            }));
        }
    }
    libtest_mimic::run(&args, trials).exit_code()
}

/// The top-level `*.wast` files of `dir`, sorted by name.
fn spec_files(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_file() && path.extension().is_some_and(|e| e == "wast") {
            files.push(path);
        }
    }
    files.sort();
    Ok(files)
}

/// Fails the binary: the suite is not where it should be.
fn missing(dir: &Path, why: &str) -> ExitCode {
    eprintln!(
        "error: the WebAssembly 2.0 spec suite is missing at {}: {why}\n       \
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
