//! `duet bench`: compile time, peak memory and run time of WASI programs
//! under each compiler, as medians of several runs.
//!
//! # Design
//!
//! ```text
//!   duet bench [--compiler winch|cranelift|both] [--cpu PRESET] [--fuel] [--epochs]
//!              [--runs N] [--json] FILES...
//!     │  for each file, each compiler, each run i of N (progress on stderr):
//!     │
//!     ├─► duet bench-child --compiler C --cpu P [--fuel] [--epochs] NAME.wasm
//!     │                                                  cwd = the file's directory
//!     │     1. Module::from_binary, one thread           ─► compile_ms
//!     │     2. Module::from_binary, parallel (new engine) ─► compile_parallel_ms
//!     │     3. instantiate with WASI ("." pre-opened), call _start;
//!     │        bench.start .. bench.end                    ─► run_ms
//!     │        2.'s start .. _start's call / return        ─► first_ms / total_ms
//!     │     4. VmHWM of /proc/self/status                  ─► peak_rss_kb
//!     │     └─► stdout: "ok compile_ms=… compile_parallel_ms=… compile_threads=…
//!     │                     run_ms=… markers=1 first_ms=… total_ms=… peak_rss_kb=…"
//!     │                                                     (Sample::to_report)
//!     │          or "error" and the message on the lines after it
//!     │
//!     └─► median of each figure over the N runs (Summary)
//!           ─► --json: one line per (file, compiler) as soon as it is measured
//!           ─► else:   one table row per file, the compilers side by side
//! ```
//!
//! **One process per run.** Peak RSS is a high-water mark of the whole
//! process: it never goes down, so a program measured after another in the
//! same process would report the larger of the two. Each run is therefore a
//! fresh child (the current executable, re-run with the hidden
//! `bench-child` subcommand), which also makes every run start from the same
//! state (an empty heap, no code mapped), as `duet run` does.
//!
//! **What each figure is.**
//!
//! * `compile_ms`: `Module::from_binary` (validate, translate, compile every
//!   function, load the code into executable memory) on the calling thread.
//!   It is the first compilation in the process, as a compile-time
//!   measurement of a command would be. That module is dropped before the
//!   next compilation.
//! * `compile_parallel_ms`: the same with parallel compilation on
//!   `compile_threads` threads (one per core the process may run on, so
//!   one under `taskset -c 0`). It runs second, so it finds the allocator
//!   warm.
//! * `run_ms`: the time between the program's calls to the host functions
//!   `bench.start` and `bench.end` (summed if it calls them more than once),
//!   as sightglass measures; a program that never calls them is timed over
//!   its whole `_start` call (`markers=0`, shown as `*` in the table).
//!   Instantiation is outside it either way.
//! * `first_ms` and `total_ms`: from the start of the parallel compilation
//!   to `_start`'s first instruction (compile, link, instantiate) and to
//!   its return: what a user of `duet run` waits for, the figures tier-up
//!   (`--compiler tiered`) is measured by. Background compilation still
//!   running at the end is not waited for.
//! * `peak_rss_kb`: the child's peak resident set (`VmHWM`, KiB): the most
//!   memory the process held at once, over both compilations and the run.
//!
//! **Metering.** With `--fuel` the code is compiled to consume fuel and
//! the store is given `u64::MAX` (which never runs out); with `--epochs` it
//! checks the epoch, with a deadline of `u64::MAX / 2` epochs (never
//! reached). So the figures are the cost of the checks alone, measured the
//! way `anchor-bench` measures Wasmtime's with `ANCHOR_FUEL=1` and
//! `ANCHOR_EPOCH=1`.
//!
//! **The program's environment** is sightglass's: its directory is the
//! working directory and is pre-opened as `.` (so it reads `default.input`
//! and the like from beside it, and nothing outside), its only argument is
//! the file's name, no environment variables, an empty stdin. Its stdout and
//! stderr are discarded, so that nothing it prints can corrupt `--json`
//! output; with `--show-output` both are kept in memory and written to
//! stderr when the run ends.
//!
//! **Failures.** A file that cannot be read, does not compile, has an
//! import other than WASI and `bench.start`/`bench.end`, traps, or exits
//! with a code other than 0, is reported on stderr as `error: FILE
//! (COMPILER): what went wrong`; the remaining runs of that file under that
//! compiler are skipped, everything else is still measured, and
//! [`bench()`] returns `false` at the end (the command exits with 1).

use std::fmt::Write as _;
use std::io::{self, IsTerminal as _, Write as _};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The hidden subcommand that measures one run in a fresh process.
pub const CHILD_SUBCOMMAND: &str = "bench-child";

/// The name a compiler has on the command line and in the output.
pub fn compiler_name(compiler: duet::Compiler) -> &'static str {
    compiler.name()
}

/// What one run measured (one child process), or the median of several.
#[derive(Copy, Clone, Debug, PartialEq)]
pub struct Sample {
    /// `Module::from_binary` on one thread, in milliseconds.
    pub compile_ms: f64,
    /// `Module::from_binary` with parallel compilation, in milliseconds.
    pub compile_parallel_ms: f64,
    /// How many threads parallel compilation used.
    pub compile_threads: usize,
    /// From `bench.start` to `bench.end`, or the whole `_start` call if
    /// `markers` is false, in milliseconds.
    pub run_ms: f64,
    /// Whether the program called `bench.start` and `bench.end`.
    pub markers: bool,
    /// From the start of the parallel compilation to the call of
    /// `_start` (compilation, linking, instantiation): the time to the
    /// program's first instruction, in milliseconds.
    pub first_ms: f64,
    /// From the start of the parallel compilation to `_start`'s return:
    /// compile and run, in milliseconds.
    pub total_ms: f64,
    /// The process's peak resident set, in KiB.
    pub peak_rss_kb: u64,
}

impl Sample {
    /// The line a child prints for the parent: `ok` and `KEY=VALUE` pairs.
    pub fn to_report(&self) -> String {
        format!(
            "ok compile_ms={:.4} compile_parallel_ms={:.4} compile_threads={} run_ms={:.4} \
             markers={} first_ms={:.4} total_ms={:.4} peak_rss_kb={}",
            self.compile_ms,
            self.compile_parallel_ms,
            self.compile_threads,
            self.run_ms,
            u8::from(self.markers),
            self.first_ms,
            self.total_ms,
            self.peak_rss_kb
        )
    }

    /// Reads [`to_report`](Self::to_report)'s line back; `None` if it is
    /// not one (a key missing, unknown or unreadable).
    pub fn from_report(line: &str) -> Option<Sample> {
        let mut fields = line.strip_prefix("ok ")?.split(' ');
        let mut value = |key: &str| fields.next()?.strip_prefix(key)?.strip_prefix('=');
        let sample = Sample {
            compile_ms: value("compile_ms")?.parse().ok()?,
            compile_parallel_ms: value("compile_parallel_ms")?.parse().ok()?,
            compile_threads: value("compile_threads")?.parse().ok()?,
            run_ms: value("run_ms")?.parse().ok()?,
            markers: match value("markers")? {
                "0" => false,
                "1" => true,
                _ => return None,
            },
            first_ms: value("first_ms")?.parse().ok()?,
            total_ms: value("total_ms")?.parse().ok()?,
            peak_rss_kb: value("peak_rss_kb")?.parse().ok()?,
        };
        fields.next().is_none().then_some(sample)
    }

    /// The median of each figure over `samples` separately (for an even
    /// count, the mean of the middle two); `markers` only if every run
    /// called them. `None` for no samples.
    pub fn median(samples: &[Sample]) -> Option<Sample> {
        let first = samples.first()?;
        let median_of = |figure: fn(&Sample) -> f64| {
            let mut values: Vec<f64> = samples.iter().map(figure).collect();
            values.sort_by(f64::total_cmp);
            let middle = values.len() / 2;
            if values.len() % 2 == 1 {
                values[middle]
            } else {
                (values[middle - 1] + values[middle]) / 2.0
            }
        };
        Some(Sample {
            compile_ms: median_of(|s| s.compile_ms),
            compile_parallel_ms: median_of(|s| s.compile_parallel_ms),
            compile_threads: first.compile_threads,
            run_ms: median_of(|s| s.run_ms),
            markers: samples.iter().all(|s| s.markers),
            first_ms: median_of(|s| s.first_ms),
            total_ms: median_of(|s| s.total_ms),
            peak_rss_kb: median_of(|s| s.peak_rss_kb as f64).round() as u64,
        })
    }
}

/// The medians of one file under one compiler.
#[derive(Clone, Debug)]
pub struct Summary {
    /// The file as given on the command line.
    pub file: String,
    /// The compiler.
    pub compiler: duet::Compiler,
    /// How many runs the medians are of.
    pub runs: usize,
    /// The medians.
    pub median: Sample,
}

impl Summary {
    /// One JSON object, on one line, without the newline.
    pub fn to_json(&self) -> String {
        let m = &self.median;
        format!(
            "{{\"file\":{},\"compiler\":\"{}\",\"compile_ms\":{:.3},\"compile_parallel_ms\":{:.3},\
             \"compile_threads\":{},\"run_ms\":{:.3},\"run_measured\":\"{}\",\"first_ms\":{:.3},\
             \"total_ms\":{:.3},\"peak_rss_kb\":{},\"runs\":{}}}",
            json_string(&self.file),
            compiler_name(self.compiler),
            m.compile_ms,
            m.compile_parallel_ms,
            m.compile_threads,
            m.run_ms,
            if m.markers {
                "bench.start..bench.end"
            } else {
                "_start"
            },
            m.first_ms,
            m.total_ms,
            m.peak_rss_kb,
            self.runs
        )
    }
}

/// `text` as a JSON string literal.
fn json_string(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// The table of `summaries`: one row per file (in the order of `files`),
/// one group of columns per compiler of `compilers`; a file without a
/// summary for a compiler (it failed) shows `-` there.
pub fn table(files: &[String], compilers: &[duet::Compiler], summaries: &[Summary]) -> String {
    const COLUMNS: [&str; 4] = ["compile ms", "parallel ms", "run ms", "peak MB"];
    const WIDTH: usize = 12;
    let group_width = COLUMNS.len() * WIDTH;
    let file_width = files
        .iter()
        .map(|f| f.chars().count())
        .chain([4])
        .max()
        .unwrap_or(4);
    let mut out = String::new();
    let _ = write!(out, "{:file_width$}", "");
    for &compiler in compilers {
        let label = format!(" {} ", compiler_name(compiler));
        let _ = write!(out, "  {label:-^group_width$}");
    }
    out.push('\n');
    let _ = write!(out, "{:file_width$}", "file");
    for _ in compilers {
        out.push_str("  ");
        for column in COLUMNS {
            let _ = write!(out, "{column:>WIDTH$}");
        }
    }
    out.push('\n');
    let mut any_without_markers = false;
    let mut threads = None;
    for file in files {
        let _ = write!(out, "{file:file_width$}");
        for &compiler in compilers {
            out.push_str("  ");
            let summary = summaries
                .iter()
                .find(|s| &s.file == file && s.compiler == compiler);
            let Some(Summary { median: m, .. }) = summary else {
                for _ in COLUMNS {
                    let _ = write!(out, "{:>WIDTH$}", "-");
                }
                continue;
            };
            threads.get_or_insert(m.compile_threads);
            let run = if m.markers {
                format!("{:.2}", m.run_ms)
            } else {
                any_without_markers = true;
                format!("{:.2}*", m.run_ms)
            };
            let _ = write!(
                out,
                "{:>WIDTH$.2}{:>WIDTH$.2}{run:>WIDTH$}{:>WIDTH$.1}",
                m.compile_ms,
                m.compile_parallel_ms,
                m.peak_rss_kb as f64 / 1024.0
            );
        }
        out.push('\n');
    }
    if let Some(runs) = summaries.first().map(|s| s.runs) {
        let _ = writeln!(
            out,
            "\nmedians of {runs} run(s); compile: Module::from_binary on 1 thread, \
             parallel: on {} thread(s); run: bench.start to bench.end; \
             peak: the process's peak RSS (MiB)",
            threads.unwrap_or(1)
        );
    }
    if any_without_markers {
        out.push_str(
            "* the program does not call bench.start/bench.end: its whole _start is timed\n",
        );
    }
    out
}

/// Whether the measured code meters fuel and checks epochs (see the
/// module docs).
#[derive(Copy, Clone, Default, Debug, PartialEq, Eq)]
pub struct Metering {
    /// Fuel metering, with fuel that never runs out.
    pub fuel: bool,
    /// Epoch checks, with a deadline never reached.
    pub epochs: bool,
}

/// What `duet bench` was asked for.
pub struct Options {
    /// The compilers, in the order of the table's column groups.
    pub compilers: Vec<duet::Compiler>,
    /// The CPU features the code may use.
    pub cpu: duet::CpuPreset,
    /// Fuel metering and epoch checks in the measured code.
    pub metering: Metering,
    /// Runs per file and compiler (at least 1).
    pub runs: usize,
    /// One JSON line per file and compiler instead of the table.
    pub json: bool,
    /// Write the programs' stdout and stderr to stderr after each run.
    pub show_output: bool,
}

/// Runs `duet bench`: measures every file of `files` under every compiler
/// of `options`, each run in a child process started from `exe` (the
/// `duet` executable), and writes the table or the JSON lines to `out`.
/// Failures are reported on stderr as they happen; returns whether there
/// were none.
pub fn bench(
    exe: &Path,
    files: &[PathBuf],
    options: &Options,
    out: &mut impl io::Write,
) -> io::Result<bool> {
    let runs = options.runs.max(1);
    let mut progress = Progress::new(files.len() * options.compilers.len() * runs);
    let mut summaries = Vec::new();
    let mut all_succeeded = true;
    let names: Vec<String> = files.iter().map(|f| f.display().to_string()).collect();
    for (file, name) in files.iter().zip(&names) {
        if let Err(error) = std::fs::File::open(file).and_then(|f| f.metadata()) {
            progress.clear();
            eprintln!("error: {name}: cannot read the file: {error}");
            all_succeeded = false;
            progress.skip(options.compilers.len() * runs);
            continue;
        }
        for &compiler in &options.compilers {
            let mut samples = Vec::with_capacity(runs);
            for run in 1..=runs {
                progress.show(&format!(
                    "{name} {} run {run}/{runs}",
                    compiler_name(compiler)
                ));
                match run_child(exe, file, compiler, options) {
                    Ok(sample) => samples.push(sample),
                    Err(message) => {
                        progress.clear();
                        eprintln!("error: {name} ({}): {message}", compiler_name(compiler));
                        all_succeeded = false;
                        progress.skip(runs - run);
                        samples.clear();
                        break;
                    }
                }
            }
            let Some(median) = Sample::median(&samples) else {
                continue;
            };
            let summary = Summary {
                file: name.clone(),
                compiler,
                runs,
                median,
            };
            if options.json {
                progress.clear();
                writeln!(out, "{}", summary.to_json())?;
                out.flush()?;
            }
            summaries.push(summary);
        }
    }
    progress.clear();
    if !options.json && !summaries.is_empty() {
        out.write_all(table(&names, &options.compilers, &summaries).as_bytes())?;
    }
    Ok(all_succeeded)
}

/// Runs one measurement of `file` under `compiler` (and the CPU preset and
/// metering of `options`) in a child process (see the module docs) and
/// reads its report.
fn run_child(
    exe: &Path,
    file: &Path,
    compiler: duet::Compiler,
    options: &Options,
) -> Result<Sample, String> {
    let dir = match file.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    let file_name = file
        .file_name()
        .ok_or_else(|| "not a file name".to_string())?;
    let mut command = Command::new(exe);
    command
        .arg(CHILD_SUBCOMMAND)
        .arg("--compiler")
        .arg(compiler_name(compiler))
        .arg("--cpu")
        .arg(options.cpu.name());
    if options.metering.fuel {
        command.arg("--fuel");
    }
    if options.metering.epochs {
        command.arg("--epochs");
    }
    if options.show_output {
        command.arg("--show-output");
    }
    let output = command
        .arg("--")
        .arg(file_name)
        .current_dir(dir)
        .stdin(Stdio::null())
        .stderr(Stdio::inherit())
        .output()
        .map_err(|e| format!("cannot start `{} {CHILD_SUBCOMMAND}`: {e}", exe.display()))?;
    let report = String::from_utf8_lossy(&output.stdout);
    let (first, rest) = report.split_once('\n').unwrap_or((&report, ""));
    if first == "error" {
        return Err(rest.trim_end().to_string());
    }
    match Sample::from_report(first) {
        Some(sample) if output.status.success() => Ok(sample),
        _ => Err(format!(
            "the measuring process ended with {} and reported {:?}",
            output.status, report
        )),
    }
}

/// The progress line on stderr, `[#####.....] 12/40 FILE COMPILER run
/// 2/5`, redrawn in place; drawn only when stderr is a terminal.
struct Progress {
    enabled: bool,
    total: usize,
    done: usize,
    /// Whether a line is on the screen, to be cleared before other output.
    drawn: bool,
}

impl Progress {
    const BAR: usize = 24;

    fn new(total: usize) -> Progress {
        Progress {
            enabled: io::stderr().is_terminal(),
            total: total.max(1),
            done: 0,
            drawn: false,
        }
    }

    /// Draws the bar for the next step, described by `what`; the step
    /// counts as done at the next call.
    fn show(&mut self, what: &str) {
        self.done += 1;
        if !self.enabled {
            return;
        }
        let filled = (self.done - 1) * Self::BAR / self.total;
        // Long paths are cut from the left: the end names the program.
        let what: String = match what.char_indices().rev().nth(59) {
            Some((at, _)) => format!("…{}", &what[at..]),
            None => what.to_string(),
        };
        let mut err = io::stderr().lock();
        let _ = write!(
            err,
            "\r\x1b[K[{}{}] {}/{} {what}",
            "#".repeat(filled),
            ".".repeat(Self::BAR - filled),
            self.done,
            self.total
        );
        let _ = err.flush();
        self.drawn = true;
    }

    /// Counts `steps` as done without running them.
    fn skip(&mut self, steps: usize) {
        self.done += steps;
    }

    /// Removes the line, if drawn.
    fn clear(&mut self) {
        if self.drawn {
            let mut err = io::stderr().lock();
            let _ = write!(err, "\r\x1b[K");
            let _ = err.flush();
            self.drawn = false;
        }
    }
}

/// The child's side: measures `file` (a file name in the working
/// directory) under `compiler`, `cpu` and `metering` once and returns the
/// sample, or what went wrong. With `show_output` the program's stdout and
/// stderr are written to this process's stderr afterwards (also when it
/// fails).
pub fn measure_once(
    file: &Path,
    compiler: duet::Compiler,
    cpu: duet::CpuPreset,
    metering: Metering,
    show_output: bool,
) -> Result<Sample, String> {
    let bytes = std::fs::read(file).map_err(|e| format!("cannot read the file: {e}"))?;
    // Text is accepted too; its parsing is not compile time.
    let wasm = crate::module_binary(&bytes).map_err(|e| match e {
        crate::ModuleFileError::Text(_) => {
            format!("not a WebAssembly module: no `\\0asm` header, and not valid text: {e}")
        }
        crate::ModuleFileError::NotAModule(_) => e.to_string(),
    })?;
    let engine = |parallel: bool| {
        let mut config = duet::Config::new();
        config
            .compiler(compiler)
            .cpu_features(cpu)
            .consume_fuel(metering.fuel)
            .epoch_interruption(metering.epochs)
            .parallel_compilation(parallel);
        duet::Engine::new(&config).map_err(|e| e.to_string())
    };
    let compile = |engine: &duet::Engine| {
        let start = Instant::now();
        let module = duet::Module::from_binary(engine, &wasm).map_err(|e| e.to_string())?;
        Ok::<_, String>((module, start.elapsed()))
    };
    let single = engine(false)?;
    let (module, compile_single) = compile(&single)?;
    drop((module, single));
    let engine = engine(true)?;
    let compile_threads = engine.compilation_threads();
    let began = Instant::now();
    let (module, compile_parallel) = compile(&engine)?;

    let (stdout, stderr) = (
        duet::wasi::OutputBuffer::new(),
        duet::wasi::OutputBuffer::new(),
    );
    let mut wasi = duet::wasi::WasiCtx::builder();
    wasi.arg(file.display().to_string()).preopened_dir(".", ".");
    if show_output {
        wasi.stdout(stdout.clone()).stderr(stderr.clone());
    }
    let state = BenchState {
        wasi: wasi.build().map_err(|e| e.to_string())?,
        started: None,
        measured: Duration::ZERO,
        markers: false,
    };
    let ran = run_program(&engine, &module, metering, state, began);
    if show_output {
        let mut err = io::stderr().lock();
        let _ = err.write_all(&stdout.contents());
        let _ = err.write_all(&stderr.contents());
        let _ = err.flush();
    }
    let Ran {
        measured,
        markers,
        first,
        total,
    } = ran?;
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    Ok(Sample {
        compile_ms: ms(compile_single),
        compile_parallel_ms: ms(compile_parallel),
        compile_threads,
        run_ms: ms(measured),
        markers,
        first_ms: ms(first),
        total_ms: ms(total),
        peak_rss_kb: peak_rss_kb()?,
    })
}

/// The store's data while a program runs.
struct BenchState {
    wasi: duet::wasi::WasiCtx,
    /// When `bench.start` was last called, if `bench.end` has not been
    /// since.
    started: Option<Instant>,
    /// The sum of the `bench.start`..`bench.end` intervals so far.
    measured: Duration,
    /// Whether `bench.end` ended an interval.
    markers: bool,
}

/// What [`run_program`] measured.
struct Ran {
    /// The time measured: between the markers, or the whole call.
    measured: Duration,
    /// Whether the markers measured it.
    markers: bool,
    /// From `began` to the call of `_start`.
    first: Duration,
    /// From `began` to `_start`'s return.
    total: Duration,
}

/// Instantiates `module` and calls `_start`, timing it (`began`: when its
/// compilation began).
fn run_program(
    engine: &duet::Engine,
    module: &duet::Module,
    metering: Metering,
    state: BenchState,
    began: Instant,
) -> Result<Ran, String> {
    let mut linker = duet::Linker::new(engine);
    let error = |e: duet::Error| e.to_string();
    duet::wasi::add_to_linker(&mut linker, |state: &mut BenchState| &mut state.wasi)
        .map_err(error)?;
    for (module_name, name, ty) in module.imports() {
        match (module_name, name, ty) {
            (duet::wasi::WASI_MODULE, _, _) => {}
            ("bench", "start", duet::ExternType::Func(ty)) => {
                linker
                    .func_new("bench", "start", ty, |mut caller, _, _| {
                        caller.data_mut().started = Some(Instant::now());
                        Ok(())
                    })
                    .map_err(error)?;
            }
            ("bench", "end", duet::ExternType::Func(ty)) => {
                linker
                    .func_new("bench", "end", ty, |mut caller, _, _| {
                        let ended = Instant::now();
                        let state = caller.data_mut();
                        if let Some(started) = state.started.take() {
                            state.measured += ended - started;
                            state.markers = true;
                        }
                        Ok(())
                    })
                    .map_err(error)?;
            }
            _ => {
                return Err(format!(
                    "unknown import `{module_name}`.`{name}` (`duet bench` provides `{}` and \
                     `bench`.`start`/`end`)",
                    duet::wasi::WASI_MODULE
                ));
            }
        }
    }
    let mut store = duet::Store::new(engine, state);
    if metering.fuel {
        store.set_fuel(u64::MAX).map_err(error)?;
    }
    if metering.epochs {
        store.set_epoch_deadline(u64::MAX / 2);
    }
    let instance = linker.instantiate(&mut store, module).map_err(error)?;
    let start = instance
        .get_func(&store, "_start")
        .map_err(error)?
        .ok_or("the program exports no `_start`")?;
    let started = Instant::now();
    let called = start.call(&mut store, &[], &mut []);
    let ended = Instant::now();
    let whole = ended - started;
    if let Err(error) = called {
        match duet::wasi::I32Exit::from_error(&error) {
            Some(0) => {}
            Some(code) => return Err(format!("the program exited with code {code}")),
            None => return Err(crate::error_report(error.as_ref())),
        }
    }
    let state = store.data();
    Ok(Ran {
        measured: if state.markers { state.measured } else { whole },
        markers: state.markers,
        first: started - began,
        total: ended - began,
    })
}

/// This process's peak resident set in KiB (`VmHWM` in
/// `/proc/self/status`).
fn peak_rss_kb() -> Result<u64, String> {
    let status = std::fs::read_to_string("/proc/self/status")
        .map_err(|e| format!("cannot read the peak RSS from /proc/self/status: {e}"))?;
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|value| value.trim().strip_suffix("kB")?.trim().parse().ok())
        .ok_or_else(|| "no VmHWM line in /proc/self/status".to_string())
}

/// Runs the child's side and prints its report on stdout (see the module
/// docs); returns whether it measured.
pub fn child_main(
    file: &Path,
    compiler: duet::Compiler,
    cpu: duet::CpuPreset,
    metering: Metering,
    show_output: bool,
) -> bool {
    let (report, ok) = match measure_once(file, compiler, cpu, metering, show_output) {
        Ok(sample) => (sample.to_report(), true),
        Err(message) => (format!("error\n{message}"), false),
    };
    let mut out = io::stdout().lock();
    let _ = writeln!(out, "{report}");
    let _ = out.flush();
    ok
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(run_ms: f64, peak_rss_kb: u64) -> Sample {
        Sample {
            compile_ms: 1.5,
            compile_parallel_ms: 1.0,
            compile_threads: 2,
            run_ms,
            markers: true,
            first_ms: 2.0,
            total_ms: 2.0 + run_ms,
            peak_rss_kb,
        }
    }

    #[test]
    fn a_report_reads_back() {
        let s = sample(12.25, 4096);
        assert_eq!(Sample::from_report(&s.to_report()), Some(s));
        assert_eq!(Sample::from_report("ok compile_ms=1"), None);
        assert_eq!(
            Sample::from_report(&format!("{} extra=1", s.to_report())),
            None
        );
    }

    #[test]
    fn medians_are_taken_per_figure() {
        let m = Sample::median(&[sample(3.0, 10), sample(1.0, 30), sample(2.0, 20)]).unwrap();
        assert_eq!((m.run_ms, m.peak_rss_kb), (2.0, 20));
        let m = Sample::median(&[sample(3.0, 10), sample(1.0, 30)]).unwrap();
        assert_eq!((m.run_ms, m.peak_rss_kb), (2.0, 20));
        assert_eq!(Sample::median(&[]), None);
    }

    #[test]
    fn json_strings_are_escaped() {
        assert_eq!(json_string("a\"b\\c\n\u{1}é"), "\"a\\\"b\\\\c\\n\\u0001é\"");
    }
}
