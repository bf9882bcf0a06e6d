//! Profiling support: naming JIT code for `perf`.
//!
//! With [`ProfilingStrategy::PerfMap`](crate::ProfilingStrategy::PerfMap),
//! every piece of code the engine loads (a module's functions, the
//! per-type trampolines) is appended to `/tmp/perf-<pid>.map`, the file
//! `perf report` reads to name samples in anonymous executable memory:
//!
//! ```text
//!   START SIZE NAME            START and SIZE in hex without 0x, one line
//!   7f3a5c001000 4b calc!add   per function; NAME is `module!function`
//! ```
//!
//! Function names come from the module's name section, else
//! `wasm-function[N]` (N the function index, imports counted); the module
//! name from the name section, else the name the module was loaded under
//! (`Module::from_file`'s file stem, [`Module::new_named`]), else `wasm`.
//! Trampolines are `duet!entry_trampoline(i32,i32)->(i32)` and
//! `duet!host_trampoline(...)`.
//!
//! The file is append-only, as perf expects: code that is freed keeps its
//! lines (perf resolves a sample with the last line covering its address,
//! so reused addresses name the newer code). Lines of one load are written
//! in one `write` under a process-wide lock, so concurrent loads do not
//! interleave.
//!
//! [`Module::new_named`]: crate::Module::new_named

use std::fmt::Write as _;
use std::fs::{File, OpenOptions};
use std::io::Write as _;
use std::path::PathBuf;
use std::sync::Mutex;

use crate::loaded::JitFunction;

/// The perf map of this process.
pub fn perf_map_path() -> PathBuf {
    PathBuf::from(format!("/tmp/perf-{}.map", std::process::id()))
}

/// The open map file, shared by every engine of the process.
static PERF_MAP: Mutex<Option<File>> = Mutex::new(None);

/// The lines of `functions` of module `module`.
fn perf_map_lines(module: &str, functions: &[JitFunction<'_>]) -> String {
    let mut lines = String::new();
    for function in functions {
        // `writeln!` into a `String` cannot fail.
        let _ = writeln!(
            lines,
            "{:x} {:x} {module}!{}",
            function.range.start,
            function.range.len(),
            // A newline would end the line early; perf reads the rest of
            // the line as the name, spaces included.
            function.name.replace('\n', " ")
        );
    }
    lines
}

/// Appends the lines of `functions` to this process's perf map.
pub(crate) fn write_perf_map(module: &str, functions: &[JitFunction<'_>]) -> std::io::Result<()> {
    let lines = perf_map_lines(&module.replace('\n', " "), functions);
    let mut file = PERF_MAP.lock().unwrap_or_else(|e| e.into_inner());
    if file.is_none() {
        *file = Some(
            OpenOptions::new()
                .create(true)
                .append(true)
                .open(perf_map_path())?,
        );
    }
    let file = file.as_mut().expect("opened above");
    file.write_all(lines.as_bytes())?;
    file.flush()
}

#[cfg(test)]
mod tests {
    use super::*;
    use cranelift_asm::x64::{Assembler, CpuFeatures};

    #[test]
    fn lines_are_start_size_and_name_in_hex() {
        let mut asm = Assembler::new(CpuFeatures::baseline());
        asm.ret();
        let code = asm.finish().unwrap();
        let functions = [
            JitFunction {
                name: "add",
                range: 0x7f00_0000_1000..0x7f00_0000_104b,
                unwind: code.unwind(),
                srclocs: code.srclocs().into(),
            },
            JitFunction {
                name: "wasm-function[3]",
                range: 0x7f00_0000_1050..0x7f00_0000_1051,
                unwind: code.unwind(),
                srclocs: code.srclocs().into(),
            },
        ];
        assert_eq!(
            perf_map_lines("calc", &functions),
            "7f0000001000 4b calc!add\n7f0000001050 1 calc!wasm-function[3]\n"
        );
    }
}
