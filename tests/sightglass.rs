//! The sightglass benchmark programs as tests: each runs under WASI and
//! must print exactly what its `*.stdout.expected` and `*.stderr.expected`
//! files hold.
//!
//! The programs are found at `$DUET_SHARED/bench/sightglass/` (else
//! `../shared/bench/sightglass/` beside the workspace), one directory per
//! benchmark; a directory holds one program (`benchmark.wasm`, expected
//! output in `benchmark.std{out,err}.expected`) or several (`shootout/`:
//! `NAME.wasm` beside `NAME.std{out,err}.expected`), with the input files
//! they read. Each program is one test case, named after the program
//! (`bz2`, `shootout-sieve`), its kind the compiler (`[winch] bz2`).
//!
//! A program runs the way sightglass runs it:
//!
//! * its directory is pre-opened as `.`, so relative paths (`./default.input`,
//!   `shootout-ackermann.m.input`) are read from beside the program, and
//!   nothing outside that directory is reachable;
//! * its only argument is the `.wasm` file's name; no environment;
//! * `bench.start` and `bench.end`, the markers around the measured work,
//!   are host functions that do nothing;
//! * stdout and stderr are captured, and compared byte for byte once
//!   `_start` returns (or the program calls `proc_exit(0)`); any other exit
//!   code or a trap fails the case.
//!
//! Every program runs under every compiler of [`COMPILERS`] (both tiers,
//! and tier-up);
//! a program a compiler cannot run yet would be listed in [`NOT_YET`] as an
//! ignored case (none is).
//!
//! The programs are not in this repository: without them (a fresh clone)
//! the binary says on stderr that it skipped them and why, and passes;
//! under CI (`CI` set) it fails instead ([`duet_tests::shared_material`]),
//! so benchmarks that silently did not run never read as benchmarks that
//! passed.
//!
//! ```text
//! cargo test -p duet-tests --test sightglass            # every program
//! cargo test -p duet-tests --test sightglass -- bz2     # programs whose name contains bz2
//! ```

use duet::wasi::{I32Exit, OutputBuffer, WasiCtx};
use duet::{Compiler, Config, Engine, ExternType, Linker, Module, Store};
use libtest_mimic::{Arguments, Failed, Trial};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// The compilers every program runs under: both tiers, and tier-up
/// eager and synchronous (every function is compiled by the optimizing
/// tier on its first call, before the call goes on: each first call runs
/// baseline code, each later one optimized code, and a loop running when
/// its function tiers up finishes on baseline code).
const COMPILERS: &[Compiler] = &[Compiler::Winch, Compiler::Cranelift, Compiler::Tiered];

/// Programs a compiler does not support yet, and why.
const NOT_YET: &[(&str, Compiler, &str)] = &[];

/// One benchmark program.
#[derive(Clone)]
struct Program {
    /// The case's name: the directory's for `benchmark.wasm`, else the
    /// file's stem.
    name: String,
    /// The directory it runs in.
    dir: PathBuf,
    /// Its file name in `dir`.
    wasm: String,
    /// `STEM.stdout.expected` and `STEM.stderr.expected` in `dir`.
    stdout_expected: PathBuf,
    stderr_expected: PathBuf,
}

fn main() -> ExitCode {
    let args = Arguments::from_args();
    let Some(root) = duet_tests::shared_material("bench/sightglass") else {
        return ExitCode::SUCCESS;
    };
    let programs = match programs(&root) {
        Ok(programs) if !programs.is_empty() => programs,
        Ok(_) => return missing(&root, "it holds no programs"),
        Err(error) => return missing(&root, &error.to_string()),
    };
    let mut trials = Vec::new();
    for &compiler in COMPILERS {
        let mut config = Config::new();
        config
            .compiler(compiler)
            .tier_up_budget(0)
            .tier_up_synchronous(true);
        let engine = match Engine::new(&config) {
            Ok(engine) => engine,
            Err(error) => {
                eprintln!("error: cannot make the engine for {compiler:?}: {error}");
                return ExitCode::FAILURE;
            }
        };
        for program in &programs {
            let not_yet = NOT_YET
                .iter()
                .any(|&(name, c, _)| name == program.name && c == compiler);
            let engine = engine.clone();
            let program = program.clone();
            let name = program.name.clone();
            trials.push(
                Trial::test(name, move || run(&engine, &program))
                    .with_kind(compiler_name(compiler))
                    .with_ignored_flag(not_yet),
            );
        }
    }
    libtest_mimic::run(&args, trials).exit_code()
}

fn compiler_name(compiler: Compiler) -> &'static str {
    compiler.name()
}

/// The programs below `root`, sorted by directory, then file name.
fn programs(root: &Path) -> std::io::Result<Vec<Program>> {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(root)?
        .map(|entry| entry.map(|e| e.path()))
        .collect::<Result<_, _>>()?;
    dirs.retain(|path| path.is_dir());
    dirs.sort();
    let mut programs = Vec::new();
    for dir in dirs {
        let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)?
            .map(|entry| entry.map(|e| e.path()))
            .collect::<Result<_, _>>()?;
        files.retain(|path| path.extension().is_some_and(|e| e == "wasm"));
        files.sort();
        for file in files {
            let stem = file
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default();
            let name = if stem == "benchmark" {
                dir.file_name()
                    .map(|s| s.to_string_lossy().into_owned())
                    .unwrap_or_default()
            } else {
                stem.clone()
            };
            programs.push(Program {
                name,
                wasm: format!("{stem}.wasm"),
                stdout_expected: dir.join(format!("{stem}.stdout.expected")),
                stderr_expected: dir.join(format!("{stem}.stderr.expected")),
                dir: dir.clone(),
            });
        }
    }
    Ok(programs)
}

/// Fails the binary: the programs are not where they should be.
fn missing(dir: &Path, why: &str) -> ExitCode {
    eprintln!(
        "error: the sightglass benchmark programs are missing at {}: {why}\n       \
         put the shared test material beside the workspace as ../shared, \
         or set DUET_SHARED to its path",
        dir.display()
    );
    ExitCode::FAILURE
}

/// Runs `program` under `engine`'s compiler and compares its output.
fn run(engine: &Engine, program: &Program) -> Result<(), Failed> {
    let read = |path: &Path| {
        std::fs::read(path).map_err(|e| Failed::from(format!("{}: {e}", path.display())))
    };
    let stdout_expected = read(&program.stdout_expected)?;
    let stderr_expected = read(&program.stderr_expected)?;
    let wasm_path = program.dir.join(&program.wasm);
    let module = Module::from_file(engine, &wasm_path)
        .map_err(|e| format!("{}: {e}", wasm_path.display()))?;

    let (stdout, stderr) = (OutputBuffer::new(), OutputBuffer::new());
    let wasi = WasiCtx::builder()
        .arg(&program.wasm)
        .stdout(stdout.clone())
        .stderr(stderr.clone())
        .preopened_dir(&program.dir, ".")
        .build()?;
    let mut linker = Linker::new(engine);
    duet::wasi::add_to_linker(&mut linker, |wasi| wasi)?;
    for (module_name, name, ty) in module.imports() {
        if let ("bench", "start" | "end", ExternType::Func(ty)) = (module_name, name, ty) {
            linker.func_new("bench", name, ty, |_, _, _| Ok(()))?;
        }
    }
    let mut store = Store::new(engine, wasi);
    let instance = linker.instantiate(&mut store, &module)?;
    let start = instance
        .get_func(&store, "_start")?
        .ok_or("the program exports no `_start`")?;
    let exit_code = match start.call(&mut store, &[], &mut []) {
        Ok(()) => 0,
        Err(error) => match I32Exit::from_error(&error) {
            Some(code) => code,
            None => {
                return Err(format!(
                    "{error}\n{}",
                    output_so_far(&stdout.contents(), &stderr.contents())
                )
                .into());
            }
        },
    };
    let (stdout, stderr) = (stdout.contents(), stderr.contents());
    if exit_code != 0 {
        return Err(format!(
            "the program exited with code {exit_code}\n{}",
            output_so_far(&stdout, &stderr)
        )
        .into());
    }
    let mut mismatches = Vec::new();
    for (stream, actual, expected) in [
        ("stdout", &stdout, &stdout_expected),
        ("stderr", &stderr, &stderr_expected),
    ] {
        if let Some(mismatch) = compare(stream, actual, expected) {
            mismatches.push(mismatch);
        }
    }
    if mismatches.is_empty() {
        Ok(())
    } else {
        Err(mismatches.join("\n").into())
    }
}

/// The tail of what the program printed, for a failure message.
fn output_so_far(stdout: &[u8], stderr: &[u8]) -> String {
    let tail = |bytes: &[u8]| {
        let start = bytes.len().saturating_sub(400);
        String::from_utf8_lossy(&bytes[start..]).into_owned()
    };
    format!(
        "stdout ({} bytes, the last ones): {:?}\nstderr ({} bytes, the last ones): {:?}",
        stdout.len(),
        tail(stdout),
        stderr.len(),
        tail(stderr)
    )
}

/// `None` if `actual` is `expected`, else where they first differ, with
/// the bytes around it.
fn compare(stream: &str, actual: &[u8], expected: &[u8]) -> Option<String> {
    if actual == expected {
        return None;
    }
    let at = actual
        .iter()
        .zip(expected)
        .position(|(a, e)| a != e)
        .unwrap_or(actual.len().min(expected.len()));
    let around = |bytes: &[u8]| {
        let start = at.saturating_sub(80);
        let end = (at + 80).min(bytes.len());
        String::from_utf8_lossy(&bytes[start..end]).into_owned()
    };
    Some(format!(
        "{stream} differs from the expected output at byte {at} \
         ({} bytes printed, {} expected)\n  expected: {:?}\n  actual:   {:?}",
        actual.len(),
        expected.len(),
        around(expected),
        around(actual)
    ))
}
