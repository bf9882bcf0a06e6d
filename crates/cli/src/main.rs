//! The `duet` command.
//!
//! ```text
//! duet compile [--compiler winch] [--spec 2.0|3.0] [--emit asm] [--stats] FILE
//! ```
//!
//! `compile` translates and compiles every function of a module and exits;
//! it prints nothing on success unless asked to (`--emit asm` for the
//! disassembly, `--stats` for sizes and compile time). Compile time is
//! measured on this command, so it does nothing it is not asked to do.
//!
//! Every failure (an unreadable file, a text-format syntax error, an invalid
//! module, an operator or feature the compiler does not support) is one line
//! on stderr, `error: FILE: what went wrong` naming the offset or the line
//! and column, and exit code 1. Usage errors are clap's (exit code 2).

use clap::{Args, Parser, Subcommand, ValueEnum};
use cranelift_asm::x64::CpuFeatures;
use duet_environ::module::{TranslationError, translate};
use duet_environ::tunables::Tunables;
use std::fmt;
use std::io::{self, Write as _};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};
use wasmparser::WasmFeatures;
use winch_codegen::CompileError;

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
}

#[derive(Args)]
struct CompileArgs {
    /// Which compiler.
    #[arg(long, value_enum, default_value_t = Compiler::Winch)]
    compiler: Compiler,
    /// Validate against this WebAssembly specification's feature set
    /// (default: wasmparser's default features).
    #[arg(long, value_enum)]
    spec: Option<Spec>,
    /// Print the compiled code.
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
    /// The module: WebAssembly binary or text, told apart by content.
    file: PathBuf,
}

#[derive(Copy, Clone, PartialEq, Eq, ValueEnum)]
enum Compiler {
    /// The single-pass baseline compiler (winch-codegen).
    Winch,
    /// The optimizing compiler (not built yet).
    Cranelift,
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

#[derive(Copy, Clone, PartialEq, Eq, ValueEnum)]
enum Emit {
    /// Each function's disassembly, annotated with wasm offsets, with its
    /// trap table and relocations.
    Asm,
}

/// Why `compile` failed. Each displays as one line.
#[derive(Debug)]
enum Failure {
    /// `--compiler cranelift`.
    CompilerNotBuilt,
    /// The file could not be read.
    Read(io::Error),
    /// The file is not WebAssembly text or binary.
    Parse(wat::Error),
    /// The module is malformed, invalid or uses an unsupported feature.
    Translate(TranslationError),
    /// A function body is invalid or uses an unsupported operator.
    Compile(CompileError),
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Failure::CompilerNotBuilt => f.write_str(
                "the optimizing compiler (cranelift) is not built yet; use `--compiler winch`",
            ),
            Failure::Read(error) => write!(f, "cannot read the file: {error}"),
            Failure::Parse(error) => f.write_str(&wat_error_line(error)),
            Failure::Translate(error) => write!(f, "{error}"),
            Failure::Compile(error) => write!(f, "{error}"),
        }
    }
}

/// A `wat` error on one line, `LINE:COLUMN: message`. `wat` renders an
/// error in the text format as the message, then `--> FILE:LINE:COLUMN`
/// and the offending source line under it; other errors are one line
/// already.
fn wat_error_line(error: &wat::Error) -> String {
    let rendered = error.to_string();
    let mut lines = rendered.lines();
    let message = lines.next().unwrap_or_default().trim();
    let location = lines.find_map(|line| line.trim_start().strip_prefix("--> "));
    // The file name is printed in front of every error; keep LINE:COLUMN.
    let line_column = location.and_then(|location| {
        let mut parts = location.rsplitn(3, ':');
        let column = parts.next()?;
        let line = parts.next()?;
        Some(format!("{line}:{column}"))
    });
    match line_column {
        Some(line_column) => format!("{line_column}: {message}"),
        None => message.to_string(),
    }
}

/// Runs `duet compile`; returns what to print on stdout.
fn compile(args: &CompileArgs) -> Result<String, Failure> {
    if args.compiler == Compiler::Cranelift {
        return Err(Failure::CompilerNotBuilt);
    }
    let bytes = std::fs::read(&args.file).map_err(Failure::Read)?;
    // Binary input (`\0asm`) is passed through without a copy.
    let wasm = wat::parse_bytes(&bytes).map_err(Failure::Parse)?;
    let features = match args.spec {
        None => WasmFeatures::default(),
        Some(Spec::Wasm2) => WasmFeatures::WASM2,
        Some(Spec::Wasm3) => WasmFeatures::WASM3,
    };

    let start = Instant::now();
    let translation = translate(&wasm, features).map_err(Failure::Translate)?;
    let mut elapsed = start.elapsed();
    // The listing needs the module's metadata after compilation consumes
    // the translation; the copy is left out of the time.
    let module = (args.emit == Some(Emit::Asm)).then(|| translation.module.clone());
    let start = Instant::now();
    let threads = args.threads.unwrap_or_else(|| {
        std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get)
    });
    let functions = winch_codegen::compile_module_on_threads(
        translation,
        Tunables::default(),
        CpuFeatures::host(),
        threads,
    )
    .map_err(Failure::Compile)?;
    elapsed += start.elapsed();

    let mut out = String::new();
    if let Some(module) = module {
        out = duet_cli::disassemble(&module, &functions);
    }
    if args.stats {
        if !out.is_empty() {
            out.push('\n');
        }
        let code_bytes: usize = functions.iter().map(|f| f.code().len()).sum();
        out.push_str(&stats(functions.len(), wasm.len(), code_bytes, elapsed));
    }
    Ok(out)
}

/// The `--stats` report.
fn stats(functions: usize, wasm_bytes: usize, code_bytes: usize, elapsed: Duration) -> String {
    let ms = elapsed.as_secs_f64() * 1e3;
    let mb_per_s = wasm_bytes as f64 / 1e6 / elapsed.as_secs_f64().max(1e-9);
    format!(
        "functions:  {functions}\n\
         wasm bytes: {wasm_bytes}\n\
         code bytes: {code_bytes}\n\
         time:       {ms:.3} ms (translate and compile, {mb_per_s:.1} MB/s of wasm)\n"
    )
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Compile(args) => match compile(&args) {
            Ok(out) => match io::stdout().lock().write_all(out.as_bytes()) {
                // `duet compile --emit asm big.wasm | head` is not a failure.
                Err(error) if error.kind() != io::ErrorKind::BrokenPipe => {
                    eprintln!("error: writing the output: {error}");
                    ExitCode::FAILURE
                }
                _ => ExitCode::SUCCESS,
            },
            Err(failure) => {
                eprintln!("error: {}: {failure}", args.file.display());
                ExitCode::FAILURE
            }
        },
    }
}
