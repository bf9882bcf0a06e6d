//! The `duet` command.
//!
//! ```text
//! duet compile [--compiler winch|cranelift|tiered] [--cpu PRESET] [--spec 2.0|3.0] [--emit asm|ir]
//!              [--stats] [-o FILE.cwasm [--fuel] [--epochs]] FILE
//! duet run [--compiler winch|cranelift|tiered] [--cpu PRESET] [--spec 2.0|3.0] [--profile perfmap]
//!          [--debug-info] [--tier-up-budget N] [--tier-up-sync] [--dir HOST[::GUEST]]... [--env NAME[=VALUE]]... [--invoke NAME]
//!          [--fuel N] [--timeout DURATION] [--allow-precompiled] ... FILE [ARGS...]
//! duet wast [--compiler winch|cranelift|tiered] [--cpu PRESET] [--spec 2.0|3.0]
//!           [--tier-up-budget N] [--tier-up-sync] FILE.wast...
//! duet bench [--compiler winch|cranelift|tiered|both|all] [--cpu PRESET] [--runs N] [--json]
//!            [--show-output] FILE...
//! ```
//!
//! `--cpu` picks the CPU features the compiled code may use
//! ([`duet::CpuPreset`]): `host` (the default), `baseline` (SSE2),
//! `sse4.1` or `avx2`; a preset with a feature this CPU lacks is refused.
//!
//! `compile` translates and compiles every function of a module and exits;
//! it prints nothing on success unless asked to (`--emit asm` for the
//! disassembly, `--stats` for sizes and compile time). Compile time is
//! measured on this command, so it does nothing it is not asked to do.
//! With the optimizing compiler (`--compiler cranelift`), `--emit ir`
//! prints each function's IR before code generation
//! ([`duet_cli::print_ir`]); `--emit asm` its machine code.
//!
//! `compile -o FILE.cwasm` also writes the compiled module to FILE.cwasm,
//! a precompiled module ([`duet::Module::serialize`]) that `run
//! --allow-precompiled FILE.cwasm` loads without compiling. The artifact
//! records the compiler, wasm features, tunables and CPU features it was
//! compiled with, and `run` refuses it, naming the setting, unless its own
//! options match: `--compiler`, `--cpu` and `--spec` as given to
//! `compile`, and `compile --fuel` / `--epochs` for `run --fuel` /
//! `--timeout`. Without `--allow-precompiled`, `run` refuses a
//! precompiled module (its machine code runs as it is, so running one is
//! the user's explicit choice, as in Wasmtime); a `.cwasm` is told apart
//! by its magic number and never handed to the wasm parsers, and a damaged
//! one fails its checksum.
//!
//! `run` instantiates a module and calls one of its functions. `run`'s own
//! options come before FILE; everything after FILE is the guest's, as it
//! is written (`--help`, `--env` and `--` too). A module
//! that imports `wasi_snapshot_preview1` is a WASI program: it gets WASI
//! preview 1 ([`duet::wasi`]) with the host's stdin, stdout and stderr,
//! the arguments `FILE ARGS...`, the `--env` variables (`NAME=VALUE`, or
//! `NAME` for the host's value of `NAME` if it has one; nothing else of the
//! host's environment) and the `--dir` directories (`HOST` under the name
//! `GUEST`, by default `HOST` as written; `--dir .` is the working
//! directory); its `_start` runs and the process exits with the program's
//! exit code: the one given to `proc_exit`, else 0. As in Wasmtime,
//! `proc_exit` takes 0 to 125 (126 and up are the shell's and signals');
//! a larger code (or a negative one) is a host function's failure, "exit
//! with invalid exit status", exit code 1. Any module may import
//! `bench.start` and `bench.end` (the markers sightglass benchmarks call
//! around the measured work),
//! which do nothing here; other imports are an error.
//!
//! `run --max-memory-size BYTES` bounds each memory and
//! `--max-table-elements N` each table (a [`duet::StoreLimits`]): growth
//! past the bound fails as the spec allows (`memory.grow` / `table.grow`
//! return -1 and the program decides), and a module whose memory or table
//! *minimum* is past it is not instantiated: one line on stderr naming the
//! bound (`error: FILE: --max-memory-size 65536: store limit
//! `memory_size` exceeded: ...`) and exit code 3.
//!
//! `run --fuel N` gives the program N units of fuel (the code is compiled
//! to consume it, `duet_environ::metering`; about one unit per operator)
//! and `--timeout DURATION` (`1s`, `500ms`, `2m`) stops it after that
//! long, with epoch interruption and a timer thread that advances the
//! epoch when the time is up. A program stopped by either ends with one
//! line naming the bound (`error: FILE: the program ran out of fuel
//! (--fuel 1000000): all fuel consumed`, `... ran past its timeout
//! (--timeout 1s): interrupt`), the wasm backtrace below it, and exit code
//! 4 (fuel) or 5 (timeout). `--fuel-report` prints the fuel consumed on
//! stderr when the run ends, whatever the outcome.
//!
//! With `--invoke NAME`, or for a module that is not a WASI program, `run`
//! calls `NAME` (by default `_start`) with `ARGS` parsed by the function's
//! parameter types and prints each result on its own line (a WASI program
//! still sees `FILE ARGS...` as its arguments). A `v128` is written as
//! `0x` and up to 32 hex digits (the vector as a little-endian integer:
//! lane 0 in the lowest bits) or lane by lane as `SHAPE:LANE,...`
//! (`i32x4:1,2,3,-1`, `f64x2:0.5,-inf`), and printed as `0x` and 32 hex
//! digits ([`duet_cli::v128`]); a `funcref` or `externref` is written
//! and printed as `null`.
//!
//! For profilers and debuggers (`run` and `wast`): `--profile perfmap`
//! appends every compiled function to `/tmp/perf-<pid>.map` as `START
//! SIZE module!function`, so `perf record duet run --profile perfmap ...`
//! then `perf report` names wasm functions; `--debug-info` announces DWARF
//! for the code through the GDB JIT interface, so `gdb --args duet run
//! --debug-info FILE ...` can `break` on a wasm function by name and maps
//! its code to wasm bytecode offsets (the line numbers). The module is
//! named after the file (its stem) unless its name section names it.
//!
//! `wast` runs spec scripts ([`duet_cli::wast`]), prints one line per
//! failure and ends with `N passed, M failed`; it exits with 1 when anything
//! failed or a script could not be read or parsed.
//!
//! `bench` measures WASI programs under each compiler: compile time (on
//! one thread and in parallel), peak memory and the run time between the
//! program's `bench.start` and `bench.end` calls (with `--fuel` or
//! `--epochs`, of code compiled with fuel metering or epoch checks), each
//! a median of `--runs` runs in fresh processes, printed as a table with the compilers
//! side by side or as JSON lines ([`duet_cli::bench`], which says how
//! each figure is taken).
//!
//! Every command reads a module file the same way
//! ([`duet_cli::module_binary`]): a binary (`\0asm`, version 1) is taken as
//! is, UTF-8 text is parsed, and anything else (an empty file, a NUL first
//! byte, a damaged magic number or an unknown version, bytes that are not
//! UTF-8) is refused as neither, naming the bytes found.
//!
//! Every failure (an unreadable file, a file that is no module, a
//! text-format syntax error, an invalid module, an operator or feature the
//! compiler does not support, named as the text format names it
//! (`v128.const`), a bad argument) is one line on stderr,
//! `error: FILE: what went wrong` naming the offset or the line and column,
//! and exit code 1 (a trap: 134, below); a trap adds its wasm backtrace
//! below that line, and for a host function's failure a `  caused by: ...`
//! line per error in the chain behind it (each saying its own part once,
//! however deeply host functions and wasm called each other). Usage errors
//! are clap's (exit code 2).
//!
//! A trap's backtrace lists one line per wasm frame, innermost first; a
//! frame repeated (deep recursion) is listed once, then `... the frame
//! above repeated N more times` ([`duet::Trap`]'s `Display`).
//!
//! Exit codes of `run` (also in `duet run --help`):
//!
//! | code | when |
//! |---|---|
//! | 0-125 | a WASI program's own exit code (`proc_exit`; 0 when `_start` returns) |
//! | 0 | success |
//! | 1 | any failure above: the file, the module, an import, an argument, a host function's failure, `proc_exit` past 125 |
//! | 2 | a usage error (clap's) |
//! | 3 | a `--max-memory-size` / `--max-table-elements` bound refused instantiation |
//! | 4 | the program ran out of `--fuel` |
//! | 5 | the program ran past `--timeout` |
//! | 134 | wasm trapped: 128 + SIGABRT, as Wasmtime's CLI on Unix; no WASI program's own code is 134 |
//!
//! A WASI program's codes 1 to 5 are also `duet`'s; only a trap has a code
//! of its own.

use clap::{Args, Parser, Subcommand, ValueEnum};
use cranelift_wasm::WasmError;
use duet_environ::module::{ModuleTranslation, TranslationError, translate};
use duet_environ::tunables::Tunables;
use std::fmt;
use std::io::{self, Write as _};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};
use wasmparser::WasmFeatures;

/// duet: a WebAssembly compiler toolkit.
#[derive(Parser)]
#[command(name = "duet", version)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Compile every function of a module, then exit.
    Compile(CompileArgs),
    /// Instantiate a module and call one of its exported functions.
    ///
    /// duet's options come before FILE: everything after it is the
    /// guest's (`duet run prog.wasm --help` passes `--help` to prog.wasm).
    ///
    /// Exit codes:
    ///   0-125  a WASI program's own exit code (`proc_exit`; 0 when it returns)
    ///   0      success (a function called with `--invoke` returned)
    ///   1      an error: the file, the module, an import, an argument,
    ///          a host function's failure, `proc_exit` with a code past 125
    ///   2      a usage error
    ///   3      `--max-memory-size` or `--max-table-elements` refused
    ///          instantiation
    ///   4      the program ran out of `--fuel`
    ///   5      the program ran past `--timeout`
    ///   134    wasm trapped (128 + SIGABRT, as Wasmtime on Unix), which no
    ///          WASI program's own code can be
    #[command(verbatim_doc_comment)]
    Run(RunArgs),
    /// Run WebAssembly spec scripts (`.wast`) and report what failed.
    Wast(WastArgs),
    /// Measure WASI programs: compile time, peak memory and run time.
    ///
    /// Each program runs as sightglass runs it: in its own directory,
    /// which is pre-opened as `.`, with its file name as its only
    /// argument. Its stdout and stderr are discarded (see
    /// `--show-output`), so that stdout holds only the results. Every run
    /// is a fresh process, so peak memory is that run's alone.
    ///
    /// Prints a table with one row per program and the compilers side by
    /// side: compile time on one thread and in parallel (ms), run time
    /// between the program's calls to `bench.start` and `bench.end` (ms;
    /// the whole `_start` call, marked `*`, if it makes none) and peak
    /// resident memory (MiB), each the median of the runs. With `--json`,
    /// one JSON object per line per program and compiler instead:
    /// `file`, `compiler`, `compile_ms` (one thread), `compile_parallel_ms`,
    /// `compile_threads`, `run_ms`, `run_measured`
    /// (`bench.start..bench.end` or `_start`), `first_ms` and `total_ms`
    /// (from the start of the parallel compilation to `_start`'s call and
    /// to its return), `peak_rss_kb` and `runs`.
    ///
    /// A file that cannot be read or compiled, or a program that traps or
    /// exits with a non-zero code, is an error on stderr naming the file
    /// and compiler; the other programs are still measured and the command
    /// exits with 1 at the end. A progress line is drawn on stderr when it
    /// is a terminal.
    Bench(BenchArgs),
    /// One measurement of `duet bench`, in a fresh process; prints one
    /// report line (not for direct use).
    #[command(name = "bench-child", hide = true)]
    BenchChild(BenchChildArgs),
}

/// The engine's configuration, shared by `run` and `wast`.
#[derive(Args)]
struct EngineArgs {
    /// Which compiler.
    #[arg(long, value_enum, default_value_t = Compiler::Winch)]
    compiler: Compiler,
    /// The CPU features the compiled code may use.
    #[arg(long, value_name = "PRESET", default_value = "host", value_parser = cpu_preset())]
    cpu: duet::CpuPreset,
    /// Validate against this WebAssembly specification's feature set
    /// (default: everything the engine supports).
    #[arg(long, value_enum)]
    spec: Option<Spec>,
    /// Describe the compiled code for a profiler: `perfmap` writes
    /// `/tmp/perf-<pid>.map` for `perf report`.
    #[arg(long, value_enum, value_name = "PROFILER")]
    profile: Option<Profile>,
    /// Give debuggers DWARF for the compiled code (GDB JIT interface):
    /// function names and wasm offsets as line numbers.
    #[arg(long)]
    debug_info: bool,
    /// With `--compiler tiered`: the calls and loop iterations a function
    /// runs on baseline code before it is compiled by the optimizing
    /// compiler (0: on its first call).
    #[arg(long, value_name = "N")]
    tier_up_budget: Option<u32>,
    /// With `--compiler tiered`: compile a hot function before the call
    /// that made it hot goes on, instead of in the background
    /// (deterministic; for tests).
    #[arg(long)]
    tier_up_sync: bool,
}

/// `--cpu`'s parser: the runtime's preset names ([`duet::CpuPreset::name`]).
fn cpu_preset() -> impl clap::builder::TypedValueParser<Value = duet::CpuPreset> {
    use clap::builder::TypedValueParser as _;
    clap::builder::PossibleValuesParser::new(duet::CpuPreset::ALL.map(duet::CpuPreset::name))
        .map(|name: String| duet::CpuPreset::from_name(&name).expect("one of the possible values"))
}

/// The profilers `--profile` knows.
#[derive(Copy, Clone, PartialEq, Eq, ValueEnum)]
enum Profile {
    /// `/tmp/perf-<pid>.map`, for `perf report`.
    Perfmap,
}

impl EngineArgs {
    /// The engine these options describe.
    fn engine(&self) -> Result<duet::Engine, duet::Error> {
        duet::Engine::new(&self.config())
    }

    /// The configuration these options describe.
    fn config(&self) -> duet::Config {
        let mut config = duet::Config::new();
        config
            .compiler(self.compiler.runtime())
            .cpu_features(self.cpu);
        if let Some(spec) = self.spec {
            config.wasm_features(spec.features());
        }
        if let Some(Profile::Perfmap) = self.profile {
            config.profiling_strategy(duet::ProfilingStrategy::PerfMap);
        }
        config.debug_info(self.debug_info);
        if let Some(budget) = self.tier_up_budget {
            config.tier_up_budget(budget);
        }
        config.tier_up_synchronous(self.tier_up_sync);
        config
    }
}

#[derive(Args)]
struct RunArgs {
    #[command(flatten)]
    engine: EngineArgs,
    /// The exported function to call (default: `_start`).
    #[arg(long, value_name = "NAME")]
    invoke: Option<String>,
    /// Give a WASI program the host directory HOST, under the name GUEST
    /// (default: HOST as written). Repeatable.
    #[arg(long = "dir", value_name = "HOST[::GUEST]")]
    dirs: Vec<String>,
    /// Give a WASI program the environment variable NAME with VALUE, or
    /// with the host's value when `=VALUE` is left out (not set if the
    /// host has none). Repeatable.
    #[arg(long = "env", value_name = "NAME[=VALUE]")]
    envs: Vec<String>,
    /// The most bytes each memory may have: growth past it fails
    /// (`memory.grow` returns -1), and a memory whose minimum is larger
    /// fails instantiation (exit code 3).
    #[arg(long, value_name = "BYTES")]
    max_memory_size: Option<usize>,
    /// The most elements each table may have: growth past it fails
    /// (`table.grow` returns -1), and a table whose minimum is larger
    /// fails instantiation (exit code 3).
    #[arg(long, value_name = "N")]
    max_table_elements: Option<usize>,
    /// Run with N units of fuel (one per operator, roughly): a program
    /// that uses them up stops (exit code 4).
    #[arg(long, value_name = "N")]
    fuel: Option<u64>,
    /// Print the fuel consumed on stderr when the run ends (needs
    /// `--fuel`).
    #[arg(long, requires = "fuel")]
    fuel_report: bool,
    /// Stop the program after this long (`1s`, `500ms`, `2m`, `1.5s`):
    /// a timer advances the engine's epoch past the deadline (exit code
    /// 5).
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    timeout: Option<Duration>,
    /// Also run precompiled modules (`duet compile -o FILE.cwasm`), whose
    /// machine code runs as it is: only for files you trust to come from
    /// duet. Without it a precompiled module is refused.
    #[arg(long)]
    allow_precompiled: bool,
    /// The module (WebAssembly binary or text, told apart by content),
    /// then the guest's arguments: everything after FILE is the guest's,
    /// `--help` and `--env` too, so `duet`'s options come before FILE. A
    /// WASI program gets them as its arguments; the function called (with
    /// `--invoke`, or for other modules) as its parameters: integers in
    /// decimal or 0x hex, floats in decimal (also `nan`, `inf`, `-inf`),
    /// v128 as 0x and up to 32 hex digits or SHAPE:LANE,...
    /// (`i32x4:1,2,3,4`), references as `null`.
    #[arg(
        required = true,
        trailing_var_arg = true,
        allow_hyphen_values = true,
        value_name = "FILE [ARGS]"
    )]
    module_and_args: Vec<String>,
    /// The module file: the first of `module_and_args`.
    #[arg(skip)]
    file: PathBuf,
    /// The guest's arguments: the rest of `module_and_args`.
    #[arg(skip)]
    args: Vec<String>,
}

impl RunArgs {
    /// Splits `module_and_args` into the file and the guest's arguments.
    fn split_file_and_args(&mut self) {
        let mut rest = std::mem::take(&mut self.module_and_args).into_iter();
        self.file = rest.next().map(PathBuf::from).unwrap_or_default();
        self.args = rest.collect();
    }
}

#[derive(Args)]
struct WastArgs {
    #[command(flatten)]
    engine: EngineArgs,
    /// The scripts.
    #[arg(required = true)]
    files: Vec<PathBuf>,
}

#[derive(Args)]
struct BenchArgs {
    /// Which compiler, or both side by side.
    #[arg(long, value_enum, default_value_t = BenchCompilers::Both)]
    compiler: BenchCompilers,
    /// The CPU features the compiled code may use.
    #[arg(long, value_name = "PRESET", default_value = "host", value_parser = cpu_preset())]
    cpu: duet::CpuPreset,
    /// Compile the programs to consume fuel (with fuel that never runs
    /// out), to measure what metering costs.
    #[arg(long)]
    fuel: bool,
    /// Compile the programs to check the epoch (with a deadline never
    /// reached), to measure what the checks cost.
    #[arg(long)]
    epochs: bool,
    /// Runs per program and compiler; every figure is the median.
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..))]
    runs: u32,
    /// One JSON object per line per program and compiler instead of the
    /// table.
    #[arg(long)]
    json: bool,
    /// Write each program's stdout and stderr to stderr after each run
    /// (they are kept in memory meanwhile, which counts in peak memory).
    #[arg(long)]
    show_output: bool,
    /// The programs: WASI modules (binary or text) exporting `_start`.
    #[arg(required = true)]
    files: Vec<PathBuf>,
}

#[derive(Args)]
struct BenchChildArgs {
    #[arg(long, value_enum)]
    compiler: Compiler,
    #[arg(long, value_parser = cpu_preset())]
    cpu: duet::CpuPreset,
    #[arg(long)]
    fuel: bool,
    #[arg(long)]
    epochs: bool,
    #[arg(long)]
    show_output: bool,
    /// A file name in the working directory.
    file: PathBuf,
}

#[derive(Copy, Clone, PartialEq, Eq, ValueEnum)]
enum BenchCompilers {
    /// The baseline compiler.
    Winch,
    /// The optimizing compiler.
    Cranelift,
    /// Tier-up: the baseline compiler, then the optimizing one for hot
    /// functions.
    Tiered,
    /// The baseline and the optimizing compiler, side by side.
    Both,
    /// All three, side by side.
    All,
}

impl BenchCompilers {
    fn compilers(self) -> Vec<duet::Compiler> {
        use duet::Compiler::{Cranelift, Tiered, Winch};
        match self {
            BenchCompilers::Winch => vec![Winch],
            BenchCompilers::Cranelift => vec![Cranelift],
            BenchCompilers::Tiered => vec![Tiered],
            BenchCompilers::Both => vec![Winch, Cranelift],
            BenchCompilers::All => vec![Winch, Cranelift, Tiered],
        }
    }
}

impl Compiler {
    /// The runtime's name for this compiler.
    fn runtime(self) -> duet::Compiler {
        match self {
            Compiler::Winch => duet::Compiler::Winch,
            Compiler::Cranelift => duet::Compiler::Cranelift,
            Compiler::Tiered => duet::Compiler::Tiered,
        }
    }
}

#[derive(Args)]
struct CompileArgs {
    /// Which compiler.
    #[arg(long, value_enum, default_value_t = Compiler::Winch)]
    compiler: Compiler,
    /// The CPU features the compiled code may use.
    #[arg(long, value_name = "PRESET", default_value = "host", value_parser = cpu_preset())]
    cpu: duet::CpuPreset,
    /// Validate against this WebAssembly specification's feature set
    /// (default: wasmparser's default features).
    #[arg(long, value_enum)]
    spec: Option<Spec>,
    /// Print the compiled code (`asm`) or, with `--compiler cranelift`,
    /// the IR (`ir`).
    #[arg(long, value_enum)]
    emit: Option<Emit>,
    /// Print the number of functions, the module's and the code's size in
    /// bytes, and the time translating and compiling took.
    #[arg(long)]
    stats: bool,
    /// Compile on this many threads (default: one per core; 1 compiles on
    /// the main thread, as compile-time measurements do).
    #[arg(long)]
    threads: Option<usize>,
    /// Write the compiled module to FILE (a precompiled module, `.cwasm`),
    /// which `duet run --allow-precompiled FILE` runs without compiling.
    #[arg(short, long, value_name = "FILE", conflicts_with = "emit")]
    output: Option<PathBuf>,
    /// Compile the code to consume fuel, as `duet run --fuel` needs it.
    #[arg(long, requires = "output")]
    fuel: bool,
    /// Compile the code to check the epoch, as `duet run --timeout` needs it.
    #[arg(long, requires = "output")]
    epochs: bool,
    /// The module: WebAssembly binary or text, told apart by content.
    file: PathBuf,
}

#[derive(Copy, Clone, PartialEq, Eq, ValueEnum)]
enum Compiler {
    /// The single-pass baseline compiler (winch-codegen).
    Winch,
    /// The optimizing compiler (cranelift-wasm, cranelift-codegen).
    Cranelift,
    /// The baseline compiler first, then the optimizing one for each hot
    /// function, in the background (tier-up).
    Tiered,
}

#[derive(Copy, Clone, PartialEq, Eq, ValueEnum)]
enum Spec {
    /// WebAssembly 2.0.
    #[value(name = "2.0")]
    Wasm2,
    /// WebAssembly 3.0.
    #[value(name = "3.0")]
    Wasm3,
}

impl Spec {
    /// The validator's features for this specification.
    fn features(self) -> WasmFeatures {
        match self {
            Spec::Wasm2 => WasmFeatures::WASM2,
            Spec::Wasm3 => WasmFeatures::WASM3,
        }
    }
}

#[derive(Copy, Clone, PartialEq, Eq, ValueEnum)]
enum Emit {
    /// Each function's disassembly, annotated with wasm offsets, with its
    /// trap table and relocations.
    Asm,
    /// Each function's IR in cranelift-codegen's text format, as the
    /// optimizing compiler's frontend makes it (`--compiler cranelift`).
    Ir,
}

/// Why `compile` failed. Each displays as one line.
#[derive(Debug)]
enum Failure {
    /// `--emit ir` with the baseline compiler (or tiered, which starts on
    /// its code), which makes no IR.
    NoIr,
    /// The file could not be read.
    Read(io::Error),
    /// The file is neither WebAssembly format, or text that does not
    /// parse.
    Parse(duet_cli::ModuleFileError),
    /// The module is malformed, invalid or uses an unsupported feature.
    Translate(TranslationError),
    /// A function body is invalid or uses an operator the optimizing
    /// compiler's frontend does not translate.
    TranslateIr(WasmError),
    /// The runtime refused the module or one of its functions (invalid,
    /// unsupported, or no memory for its code).
    Runtime(duet::Error),
    /// `-o FILE` could not be written.
    Write(PathBuf, io::Error),
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Failure::NoIr => f.write_str(
                "`--emit ir` needs `--compiler cranelift`: the baseline compiler makes no IR \
                 (and `tiered` starts on the baseline compiler's code)",
            ),
            Failure::Read(error) => write!(f, "cannot read the file: {error}"),
            Failure::Parse(error) => write!(f, "{error}"),
            Failure::Translate(error) => write!(f, "{error}"),
            Failure::TranslateIr(error) => write!(f, "{error}"),
            Failure::Runtime(error) => write!(f, "{error}"),
            Failure::Write(path, error) => write!(f, "cannot write {}: {error}", path.display()),
        }
    }
}

/// Runs `duet compile`; returns what to print on stdout.
fn compile(args: &CompileArgs) -> Result<String, Failure> {
    if args.compiler != Compiler::Cranelift && args.emit == Some(Emit::Ir) {
        return Err(Failure::NoIr);
    }
    let bytes = std::fs::read(&args.file).map_err(Failure::Read)?;
    // Binary input (`\0asm`) is passed through without a copy.
    let wasm = duet_cli::module_binary(&bytes).map_err(Failure::Parse)?;
    let features = args.spec.map_or_else(WasmFeatures::default, Spec::features);
    // The runtime's engine decides the compiler, its options and the
    // thread count, for every kind of output.
    let mut config = duet::Config::new();
    config
        .wasm_features(features)
        .compiler(args.compiler.runtime())
        .cpu_features(args.cpu)
        .consume_fuel(args.fuel)
        .epoch_interruption(args.epochs);
    if let Some(threads) = args.threads {
        config
            .parallel_compilation(threads > 1)
            .compilation_threads(threads);
    }
    let engine = duet::Engine::new(&config).map_err(Failure::Runtime)?;
    let Some(emit) = args.emit else {
        return compile_module(args, &engine, &wasm);
    };
    let start = Instant::now();
    let translation = translate(&wasm, features).map_err(Failure::Translate)?;
    let translated = start.elapsed();
    match emit {
        Emit::Asm => list_code(args, &engine, wasm.len(), translation, translated),
        Emit::Ir => list_ir(
            args,
            wasm.len(),
            translation,
            engine.compilation_threads(),
            translated,
        ),
    }
}

/// `duet compile --emit asm`: every function's code, compiled as the
/// runtime compiles it ([`duet::Engine::compile_functions`]) and listed.
/// `translated` is how long the translation took.
fn list_code(
    args: &CompileArgs,
    engine: &duet::Engine,
    wasm_bytes: usize,
    translation: ModuleTranslation<'_>,
    translated: Duration,
) -> Result<String, Failure> {
    // The listing needs the module's metadata after compilation consumes
    // the translation; the copy is left out of the time.
    let module = translation.module.clone();
    let start = Instant::now();
    let functions = engine
        .compile_functions(translation)
        .map_err(Failure::Runtime)?;
    let elapsed = translated + start.elapsed();

    let mut out = duet_cli::disassemble(&module, &functions);
    if args.stats {
        if !out.is_empty() {
            out.push('\n');
        }
        let code_bytes: usize = functions.iter().map(|f| f.code().len()).sum();
        out.push_str(&stats(
            functions.len(),
            wasm_bytes,
            ("code bytes", code_bytes),
            elapsed,
            "translate and compile",
        ));
    }
    Ok(out)
}

/// `duet compile --compiler cranelift --emit ir`: every function's IR as
/// the optimizing compiler's frontend makes it, translated on `threads`
/// threads (the engine's). `translated` is how long the module's
/// translation took.
fn list_ir(
    args: &CompileArgs,
    wasm_bytes: usize,
    translation: ModuleTranslation<'_>,
    threads: usize,
    translated: Duration,
) -> Result<String, Failure> {
    let module = translation.module.clone();
    let start = Instant::now();
    let mut functions = cranelift_wasm::translate_module(translation, Tunables::default(), threads)
        .map_err(Failure::TranslateIr)?;
    // The IR as the backend receives it: after the mid-end.
    for func in &mut functions {
        cranelift_codegen::opts::optimize(func);
    }
    let elapsed = translated + start.elapsed();
    let mut out = duet_cli::print_ir(&module, &functions);
    if args.stats {
        out.push('\n');
        let instructions: usize = functions.iter().map(|f| f.dfg.num_insts()).sum();
        out.push_str(&stats(
            functions.len(),
            wasm_bytes,
            ("IR instructions", instructions),
            elapsed,
            "translate to IR and optimize",
        ));
    }
    Ok(out)
}

/// `duet compile` without a listing: what the runtime does to a module
/// before it can run (translate, compile every function, link the code
/// into executable memory and register its trap tables), timed whole;
/// with `-o FILE`, then written to FILE as a precompiled module (not
/// timed).
fn compile_module(
    args: &CompileArgs,
    engine: &duet::Engine,
    wasm: &[u8],
) -> Result<String, Failure> {
    let start = Instant::now();
    let module = duet::Module::from_binary(engine, wasm).map_err(Failure::Runtime)?;
    let elapsed = start.elapsed();
    if let Some(output) = &args.output {
        let artifact = module.serialize().map_err(Failure::Runtime)?;
        std::fs::write(output, artifact).map_err(|e| Failure::Write(output.clone(), e))?;
    }
    Ok(if args.stats {
        stats(
            module.num_defined_functions(),
            wasm.len(),
            ("code bytes", module.code_size()),
            elapsed,
            "translate, compile and load",
        )
    } else {
        String::new()
    })
}

/// The `--stats` report; `output` is what was made and how much (code
/// bytes, IR instructions).
fn stats(
    functions: usize,
    wasm_bytes: usize,
    output: (&str, usize),
    elapsed: Duration,
    timed: &str,
) -> String {
    let ms = elapsed.as_secs_f64() * 1e3;
    let mb_per_s = wasm_bytes as f64 / 1e6 / elapsed.as_secs_f64().max(1e-9);
    let (what, amount) = output;
    format!(
        "functions:  {functions}\n\
         wasm bytes: {wasm_bytes}\n\
         {what}: {amount}\n\
         time:       {ms:.3} ms ({timed}, {mb_per_s:.1} MB/s of wasm)\n"
    )
}

/// Why `run` failed.
#[derive(Debug)]
enum RunFailure {
    /// Anything but a trap: one line.
    Message(String),
    /// A trap at instantiation (the start function) or in the call; printed
    /// as the message, one line per wasm frame, then a `caused by:` line
    /// per error behind it ([`duet_cli::error_report`]).
    Trap(duet::Trap),
    /// A `--max-...` bound refused instantiation: one line, exit code
    /// [`LIMIT_EXIT_CODE`].
    Limit(String),
    /// The program ran out of `--fuel` or past `--timeout`: a line naming
    /// the bound, the trap's backtrace below it, and the bound's exit code.
    Stopped {
        bound: String,
        trap: duet::Trap,
        exit_code: u8,
    },
}

/// `duet run`'s exit code when a `--max-...` bound refused instantiation.
const LIMIT_EXIT_CODE: u8 = 3;
/// `duet run`'s exit code when the program ran out of `--fuel`.
const FUEL_EXIT_CODE: u8 = 4;
/// `duet run`'s exit code when the program ran past `--timeout`.
const TIMEOUT_EXIT_CODE: u8 = 5;
/// `duet run`'s exit code when wasm trapped: 128 + SIGABRT, as a native
/// program that aborts and as Wasmtime's CLI on Unix. A WASI program's own
/// codes are 0 to 125 (`proc_exit` refuses larger ones), so a trap is told
/// apart from any of them. A host function's failure (not a trap of wasm
/// code) is 1, as any other error.
const TRAP_EXIT_CODE: u8 = 134;

/// Parses a `--timeout`: a number (decimals allowed) and a unit, `ns`,
/// `us`, `ms`, `s`, `m` or `h`.
fn parse_duration(text: &str) -> Result<Duration, String> {
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .ok_or_else(|| format!("`{text}` has no unit (ns, us, ms, s, m or h)"))?;
    let (number, unit) = text.split_at(split);
    let number: f64 = number
        .parse()
        .map_err(|_| format!("`{text}` does not start with a number"))?;
    let seconds = match unit {
        "ns" => 1e-9,
        "us" => 1e-6,
        "ms" => 1e-3,
        "s" => 1.0,
        "m" => 60.0,
        "h" => 3600.0,
        _ => return Err(format!("`{unit}` is not a unit (ns, us, ms, s, m or h)")),
    };
    Duration::try_from_secs_f64(number * seconds).map_err(|e| format!("`{text}`: {e}"))
}

impl From<String> for RunFailure {
    fn from(message: String) -> RunFailure {
        RunFailure::Message(message)
    }
}

impl From<duet::Error> for RunFailure {
    fn from(error: duet::Error) -> RunFailure {
        match error
            .downcast::<duet::Trap>()
            .map_err(|e| e.downcast::<duet::ErrorKind>())
        {
            Ok(trap) => RunFailure::Trap(trap),
            Err(Ok(duet::ErrorKind::Limit(message))) => RunFailure::Limit(first_line(&message)),
            Err(Ok(other)) => RunFailure::Message(first_line(&other.to_string())),
            Err(Err(other)) => RunFailure::Message(first_line(&other.to_string())),
        }
    }
}

/// The first line of a message (the engine's errors are one line; this
/// keeps the promise of one-line errors if one is not).
fn first_line(message: &str) -> String {
    message.lines().next().unwrap_or_default().to_string()
}

/// What `duet run` did: what to print on stdout, and the exit code.
struct Ran {
    out: String,
    exit_code: u8,
}

/// What a `duet run` store holds: the WASI context and the `--max-...`
/// bounds.
struct RunState {
    wasi: duet::wasi::WasiCtx,
    limits: duet::StoreLimits,
}

/// The WASI context `duet run` gives a WASI program (see the module docs).
fn wasi_context(args: &RunArgs) -> Result<duet::wasi::WasiCtx, RunFailure> {
    let mut builder = duet::wasi::WasiCtx::builder();
    builder
        .inherit_stdio()
        .arg(args.file.display().to_string())
        .args(args.args.iter().cloned());
    for env in &args.envs {
        match env.split_once('=') {
            Some((name, value)) => {
                builder.env(name, value);
            }
            // `--env NAME`: the host's value, if it has one.
            None => match std::env::var(env) {
                Ok(value) => {
                    builder.env(env, &value);
                }
                Err(std::env::VarError::NotPresent) => {}
                Err(std::env::VarError::NotUnicode(_)) => {
                    return Err(format!("`--env {env}`: the host's value is not UTF-8").into());
                }
            },
        }
    }
    for dir in &args.dirs {
        let (host, guest) = dir.split_once("::").unwrap_or((dir, dir));
        builder.preopened_dir(host, guest);
    }
    Ok(builder.build()?)
}

/// The linker `duet run` instantiates with: WASI preview 1, and
/// `bench.start`/`bench.end` as functions that do nothing, with whatever
/// type `module` imports them at. Any other import is an error.
fn run_linker(
    engine: &duet::Engine,
    module: &duet::Module,
) -> Result<duet::Linker<RunState>, RunFailure> {
    let mut linker = duet::Linker::new(engine);
    duet::wasi::add_to_linker(&mut linker, |state: &mut RunState| &mut state.wasi)?;
    for (module_name, name, ty) in module.imports() {
        match (module_name, name, ty) {
            (duet::wasi::WASI_MODULE, _, _) => {}
            ("bench", "start" | "end", duet::ExternType::Func(ty)) => {
                linker.func_new("bench", name, ty, |_, _, _| Ok(()))?;
            }
            _ => {
                return Err(format!(
                    "unknown import `{module_name}`.`{name}` (`duet run` provides \
                     `{}` and `bench`.`start`/`end`)",
                    duet::wasi::WASI_MODULE
                )
                .into());
            }
        }
    }
    Ok(linker)
}

/// Runs `duet run` (see the module docs); with `--fuel-report`, sets
/// `fuel_report` to the line to print last.
fn run(args: &RunArgs, fuel_report: &mut Option<String>) -> Result<Ran, RunFailure> {
    let mut config = args.engine.config();
    config
        .consume_fuel(args.fuel.is_some())
        .epoch_interruption(args.timeout.is_some());
    let engine = duet::Engine::new(&config)?;
    let module = load_module(args, &engine)?;
    let is_wasi_program = module
        .imports()
        .any(|(module_name, _, _)| module_name == duet::wasi::WASI_MODULE);
    let linker = run_linker(&engine, &module)?;
    let wasi = if is_wasi_program {
        wasi_context(args)?
    } else {
        duet::wasi::WasiCtx::builder().build()?
    };
    let mut limits = duet::StoreLimitsBuilder::new();
    if let Some(bytes) = args.max_memory_size {
        limits = limits.memory_size(bytes);
    }
    if let Some(elements) = args.max_table_elements {
        limits = limits.table_elements(elements);
    }
    let limits = limits.build();
    let mut store = duet::Store::new(&engine, RunState { wasi, limits });
    store.limiter(|state| &mut state.limits);
    if let Some(fuel) = args.fuel {
        store.set_fuel(fuel)?;
    }
    if let Some(timeout) = args.timeout {
        // The deadline is the next epoch, which the timer starts when the
        // time is up; the thread dies with the process.
        store.set_epoch_deadline(1);
        let engine = engine.clone();
        std::thread::spawn(move || {
            std::thread::sleep(timeout);
            engine.increment_epoch();
        });
    }
    let outcome = run_in(args, &module, &linker, &mut store, is_wasi_program);
    if args.fuel_report {
        let given = args.fuel.unwrap_or_default();
        let left = store.get_fuel()?;
        *fuel_report = Some(format!(
            "fuel consumed: {} of {given} (left: {left})",
            given.saturating_sub(left)
        ));
    }
    outcome
}

/// The module `duet run` runs: compiled from wasm, or a precompiled
/// module loaded (mapped, not read) with `--allow-precompiled` and
/// refused without it. A precompiled module is told apart by its magic
/// number, never handed to the wasm parsers.
fn load_module(args: &RunArgs, engine: &duet::Engine) -> Result<duet::Module, RunFailure> {
    let cannot_read = |e: io::Error| format!("cannot read the file: {e}");
    if duet_cli::is_precompiled_file(&args.file).map_err(cannot_read)? {
        if !args.allow_precompiled {
            return Err(String::from(
                "this is a precompiled module (`duet compile -o`), whose machine code would run \
                 as it is; pass --allow-precompiled to run it",
            )
            .into());
        }
        // SAFETY: `--allow-precompiled` is the user's word that the file
        // comes from `duet compile -o` and is not changed while it loads.
        return Ok(unsafe { duet::Module::deserialize_file(engine, &args.file) }?);
    }
    let bytes = std::fs::read(&args.file).map_err(cannot_read)?;
    let wasm = duet_cli::module_binary(&bytes).map_err(|e| e.to_string())?;
    let name = args
        .file
        .file_stem()
        .map_or_else(|| "wasm".into(), |stem| stem.to_string_lossy());
    Ok(duet::Module::new_named(engine, &*wasm, &name)?)
}

/// Instantiates `module` in `store` and makes the call `duet run` was asked
/// for.
fn run_in(
    args: &RunArgs,
    module: &duet::Module,
    linker: &duet::Linker<RunState>,
    store: &mut duet::Store<RunState>,
    is_wasi_program: bool,
) -> Result<Ran, RunFailure> {
    let exited = |error: duet::Error| match duet::wasi::I32Exit::from_error(&error) {
        Some(code) => Ok(Ran {
            out: String::new(),
            exit_code: code as u8,
        }),
        None => Err(stopped_by_bound(args, error)),
    };
    let instance = match linker
        .instantiate(&mut *store, module)
        .map_err(|e| e.downcast::<duet::ErrorKind>())
    {
        Ok(instance) => instance,
        Err(Ok(duet::ErrorKind::Limit(message))) => {
            let bound = if message.contains("`memory_size`") {
                format!(
                    "--max-memory-size {}",
                    args.max_memory_size.unwrap_or_default()
                )
            } else {
                format!(
                    "--max-table-elements {}",
                    args.max_table_elements.unwrap_or_default()
                )
            };
            return Err(RunFailure::Limit(format!("{bound}: {message}")));
        }
        Err(Ok(error)) => return exited(error.into()),
        Err(Err(error)) => return exited(error),
    };
    let name = args.invoke.as_deref().unwrap_or("_start");
    let func = instance
        .get_func(&*store, name)?
        .ok_or_else(|| match &args.invoke {
            Some(_) => format!("no exported function `{name}`"),
            None => "no `_start` export; choose a function with `--invoke NAME`".to_string(),
        })?;
    let ty = func.ty(&*store)?;
    // A WASI program's `_start` takes its arguments from WASI.
    let call_args: &[String] = if is_wasi_program && args.invoke.is_none() {
        &[]
    } else {
        &args.args
    };
    if call_args.len() != ty.params.len() {
        return Err(format!(
            "`{name}` takes {} argument(s) ({}), got {}",
            ty.params.len(),
            ty.params
                .iter()
                .map(|&ty| type_name(ty))
                .collect::<Vec<_>>()
                .join(" "),
            call_args.len()
        )
        .into());
    }
    let params = call_args
        .iter()
        .zip(ty.params.iter())
        .map(|(text, &ty)| {
            parse_argument(text, ty).ok_or_else(|| {
                format!(
                    "`{name}`: argument `{text}` is not a valid {}",
                    type_name(ty)
                )
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    let mut results = vec![duet::Val::I32(0); ty.results.len()];
    if let Err(error) = func.call(&mut *store, &params, &mut results) {
        return exited(error);
    }
    let mut out = String::new();
    for result in &results {
        out.push_str(&format_result(result));
        out.push('\n');
    }
    Ok(Ran { out, exit_code: 0 })
}

/// `error` as `duet run` reports it: running out of `--fuel` and an
/// interruption by `--timeout` name their bound, anything else is itself.
fn stopped_by_bound(args: &RunArgs, error: duet::Error) -> RunFailure {
    let trap = match error.downcast::<duet::Trap>() {
        Ok(trap) => trap,
        Err(error) => return RunFailure::from(error),
    };
    let (bound, exit_code) = match (trap.code(), args.fuel, args.timeout) {
        (duet::TrapCode::OutOfFuel, Some(fuel), _) => (
            format!("the program ran out of fuel (--fuel {fuel})"),
            FUEL_EXIT_CODE,
        ),
        (duet::TrapCode::Interrupt, _, Some(timeout)) => (
            format!("the program ran past its timeout (--timeout {timeout:?})"),
            TIMEOUT_EXIT_CODE,
        ),
        _ => return RunFailure::Trap(trap),
    };
    RunFailure::Stopped {
        bound,
        trap,
        exit_code,
    }
}

/// Parses a command-line argument as a value of type `ty`: integers in
/// decimal (signed or unsigned range) or `0x` hex, optionally negated;
/// floats as Rust reads them (`1.5`, `-2e10`, `nan`, `inf`, `-inf`);
/// vectors as `0x` and up to 32 hex digits or `SHAPE:LANE,...`
/// ([`duet_cli::v128::parse_v128`]); references as `null` (the only
/// reference a command line can name).
fn parse_argument(text: &str, ty: duet::ValType) -> Option<duet::Val> {
    use duet::{Val, ValType};
    Some(match ty {
        ValType::I32 => Val::I32(parse_integer(text, 32)? as u32 as i32),
        ValType::I64 => Val::I64(parse_integer(text, 64)? as i64),
        ValType::F32 => Val::F32(text.parse::<f32>().ok()?.to_bits()),
        ValType::F64 => Val::F64(text.parse::<f64>().ok()?.to_bits()),
        ValType::V128 => Val::V128(duet_cli::v128::parse_v128(text, parse_integer)?),
        ValType::FuncRef if text == "null" => Val::FuncRef(None),
        ValType::ExternRef if text == "null" => Val::ExternRef(None),
        ValType::FuncRef | ValType::ExternRef => return None,
    })
}

/// `text` as the bits of an integer of `bits` bits (at most 64): decimal
/// in the signed or unsigned range, or `0x` hex, optionally negated.
fn parse_integer(text: &str, bits: u32) -> Option<u64> {
    let (negative, digits) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    let magnitude = match digits
        .strip_prefix("0x")
        .or_else(|| digits.strip_prefix("0X"))
    {
        Some(hex) => u64::from_str_radix(hex, 16).ok()?,
        None => digits.parse::<u64>().ok()?,
    };
    // Signed range when negative, signed or unsigned otherwise.
    let limit = if negative {
        1u64 << (bits - 1)
    } else {
        u64::MAX >> (64 - bits)
    };
    if magnitude > limit || digits.starts_with(['+', '-']) {
        return None;
    }
    Some(if negative {
        magnitude.wrapping_neg() & (u64::MAX >> (64 - bits))
    } else {
        magnitude
    })
}

/// A value type's name in the text format.
fn type_name(ty: duet::ValType) -> &'static str {
    use duet::ValType;
    match ty {
        ValType::I32 => "i32",
        ValType::I64 => "i64",
        ValType::F32 => "f32",
        ValType::F64 => "f64",
        ValType::V128 => "v128",
        ValType::FuncRef => "funcref",
        ValType::ExternRef => "externref",
    }
}

/// A result as `duet run` prints it.
fn format_result(value: &duet::Val) -> String {
    use duet::Val;
    match value {
        Val::I32(v) => v.to_string(),
        Val::I64(v) => v.to_string(),
        Val::F32(bits) => f32::from_bits(*bits).to_string(),
        Val::F64(bits) => f64::from_bits(*bits).to_string(),
        Val::V128(v) => format!("0x{v:032x}"),
        Val::FuncRef(None) | Val::ExternRef(None) => "null".to_string(),
        Val::FuncRef(Some(_)) => "funcref".to_string(),
        Val::ExternRef(Some(_)) => "externref".to_string(),
    }
}

/// Runs `duet wast`; returns whether everything passed.
fn wast(args: &WastArgs, out: &mut impl io::Write) -> io::Result<bool> {
    let engine = match args.engine.engine() {
        Ok(engine) => engine,
        Err(error) => {
            eprintln!("error: {}", first_line(&error.to_string()));
            return Ok(false);
        }
    };
    let runner = duet_cli::wast::WastRunner::new(engine);
    let mut total = duet_cli::wast::Summary::default();
    let mut all_scripts_ran = true;
    for file in &args.files {
        match runner.run_file(file) {
            Ok(summary) => {
                for failure in &summary.failures {
                    writeln!(out, "{failure}")?;
                }
                total.passed += summary.passed;
                total.failed += summary.failed;
            }
            Err(error) => {
                eprintln!("error: {error}");
                all_scripts_ran = false;
            }
        }
    }
    writeln!(out, "{total}")?;
    Ok(all_scripts_ran && total.failed == 0)
}

/// Writes `out` to stdout; a closed pipe (`duet … | head`) is not an error.
fn write_stdout(out: &str) -> ExitCode {
    match io::stdout().lock().write_all(out.as_bytes()) {
        Err(error) if error.kind() != io::ErrorKind::BrokenPipe => {
            eprintln!("error: writing the output: {error}");
            ExitCode::FAILURE
        }
        _ => ExitCode::SUCCESS,
    }
}

/// The exit code of a command that reports its own failures as it goes:
/// success when everything passed; a write error on stdout is reported
/// (unless the reader went away: a closed pipe ends the command quietly).
fn report_outcome(outcome: io::Result<bool>) -> ExitCode {
    match outcome {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(error) if error.kind() == io::ErrorKind::BrokenPipe => ExitCode::FAILURE,
        Err(error) => {
            eprintln!("error: writing the output: {error}");
            ExitCode::FAILURE
        }
    }
}

/// Prints what `duet run` did (its results on stdout, or its failure on
/// stderr) and returns its exit code (see the module docs).
fn report_run(args: &RunArgs, outcome: Result<Ran, RunFailure>) -> ExitCode {
    match outcome {
        Ok(Ran { out, exit_code }) => {
            let written = write_stdout(&out);
            if exit_code == 0 {
                written
            } else {
                ExitCode::from(exit_code)
            }
        }
        Err(failure) => {
            let file = args.file.display();
            match failure {
                RunFailure::Message(message) => eprintln!("error: {file}: {message}"),
                RunFailure::Trap(trap) => {
                    eprintln!("error: {file}: {}", duet_cli::error_report(&trap));
                    // A host function's failure is an error like any other.
                    if trap.code() != duet::TrapCode::HostError {
                        return ExitCode::from(TRAP_EXIT_CODE);
                    }
                }
                RunFailure::Limit(message) => {
                    eprintln!("error: {file}: {message}");
                    return ExitCode::from(LIMIT_EXIT_CODE);
                }
                RunFailure::Stopped {
                    bound,
                    trap,
                    exit_code,
                } => {
                    eprintln!("error: {file}: {bound}: {}", duet_cli::error_report(&trap));
                    return ExitCode::from(exit_code);
                }
            }
            ExitCode::FAILURE
        }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Run(mut args) => {
            args.split_file_and_args();
            let mut fuel_report = None;
            let outcome = run(&args, &mut fuel_report);
            let code = report_run(&args, outcome);
            // After the program's output and any error: the last line.
            if let Some(report) = fuel_report {
                eprintln!("{report}");
            }
            code
        }
        Command::Wast(args) => report_outcome(wast(&args, &mut io::stdout().lock())),
        Command::Bench(args) => {
            let options = duet_cli::bench::Options {
                compilers: args.compiler.compilers(),
                cpu: args.cpu,
                metering: duet_cli::bench::Metering {
                    fuel: args.fuel,
                    epochs: args.epochs,
                },
                runs: args.runs as usize,
                json: args.json,
                show_output: args.show_output,
            };
            let exe = match std::env::current_exe() {
                Ok(exe) => exe,
                Err(error) => {
                    eprintln!("error: cannot find the duet executable to measure in: {error}");
                    return ExitCode::FAILURE;
                }
            };
            report_outcome(duet_cli::bench::bench(
                &exe,
                &args.files,
                &options,
                &mut io::stdout().lock(),
            ))
        }
        Command::BenchChild(args) => {
            if duet_cli::bench::child_main(
                &args.file,
                args.compiler.runtime(),
                args.cpu,
                duet_cli::bench::Metering {
                    fuel: args.fuel,
                    epochs: args.epochs,
                },
                args.show_output,
            ) {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            }
        }
        Command::Compile(args) => match compile(&args) {
            Ok(out) => write_stdout(&out),
            Err(failure) => {
                eprintln!("error: {}: {failure}", args.file.display());
                ExitCode::FAILURE
            }
        },
    }
}
