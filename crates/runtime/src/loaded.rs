//! Loaded code: linked, executable code together with every registration
//! that tells the rest of the process where it is and what it is.
//!
//! ```text
//!   CodeMemory + the FinishedCodes it was made from + names
//!     │
//!     ├─► RegisteredCode      trap tables, for the signal handler (always)
//!     ├─► UnwindRegistration  .eh_frame for the system unwinder
//!     │                       (Config::native_unwind_info, on by default)
//!     ├─► GdbJitRegistration  ELF + DWARF image for debuggers
//!     │                       (Config::debug_info)
//!     └─► perf map lines      /tmp/perf-<pid>.map (Config::profiling_strategy)
//! ```
//!
//! Both compilers' modules and the engine's trampolines are loaded this
//! way, so a native stack walk, a debugger or a profiler sees every frame
//! between a host function wasm called and the host code that called wasm.
//!
//! **Order of release.** Every registration names addresses inside the
//! code. Dropping a [`LoadedCode`] withdraws the debugger image, then
//! deregisters the unwind tables, then drops the [`RegisteredCode`], which
//! leaves the trap registry before unmapping the code: nothing is ever
//! registered for freed memory. (The perf map is append-only by design;
//! see `profiling`.)

use core::ops::Range;

use cranelift_asm::FinishedCode;
use cranelift_asm::x64::UNWIND_CONVENTION;

use crate::code::CodeMemory;
use crate::debug::{GdbJitRegistration, debug_image};
use crate::engine::{Config, ProfilingStrategy};
use crate::error::{Error, ErrorKind};
use crate::profiling::{perf_map_path, write_perf_map};
use crate::traps::{CodeId, RegisteredCode};
use crate::unwind::{UnwindRegistration, frame_table};

/// One function of loaded code, as unwind tables, debug information and
/// profilers see it.
#[derive(Clone, Debug)]
pub(crate) struct JitFunction<'a> {
    /// Its name (for profilers and debuggers).
    pub name: &'a str,
    /// The addresses it occupies.
    pub range: Range<usize>,
    /// What the compiler produced: unwind records, source locations.
    pub code: &'a FinishedCode,
}

/// What loaded code is called in profiles and debuggers.
#[derive(Clone, Debug)]
pub(crate) struct CodeNames {
    /// The module's name (`module` in `module!function`).
    pub module: String,
    /// Each function's name, in the code's order.
    pub functions: Vec<String>,
}

/// Executable code and its registrations. See the [module docs](self).
#[derive(Debug)]
pub(crate) struct LoadedCode {
    // Fields drop in declaration order: the registrations before the code
    // they describe. They are held for their `Drop`.
    #[allow(dead_code, reason = "held until the code is freed")]
    debug: Option<GdbJitRegistration>,
    #[allow(dead_code, reason = "held until the code is freed")]
    unwind: Option<UnwindRegistration>,
    code: RegisteredCode,
}

impl LoadedCode {
    /// Registers `code`, whose function `i` was compiled as
    /// `functions[i]`, as `config` asks; `names` is called only when a
    /// profiler or debugger needs the names.
    pub(crate) fn new(
        config: &Config,
        code: CodeMemory,
        functions: &[FinishedCode],
        names: impl FnOnce() -> CodeNames,
    ) -> Result<LoadedCode, Error> {
        let code = RegisteredCode::new(code, functions);
        // Code without functions has no addresses to describe.
        let debug_info = config.debug_info && !functions.is_empty();
        let perf_map = config.profiling == ProfilingStrategy::PerfMap && !functions.is_empty();
        let names = (debug_info || perf_map).then(names);
        let placeholder = String::new();
        let jit: Vec<JitFunction<'_>> = functions
            .iter()
            .enumerate()
            .map(|(i, finished)| JitFunction {
                name: names.as_ref().map_or(&placeholder, |n| &n.functions[i]),
                range: code
                    .code()
                    .function_range(i)
                    .expect("RegisteredCode::new checked the counts"),
                code: finished,
            })
            .collect();

        let unwind = if config.native_unwind_info {
            UnwindRegistration::new(&UNWIND_CONVENTION, &jit)
                .map_err(|e| Error::from(ErrorKind::Compile(format!("unwind tables: {e}"))))?
        } else {
            None
        };
        let debug = match &names {
            Some(names) if debug_info => {
                let frames = frame_table(&UNWIND_CONVENTION, &jit);
                let image = debug_image(&names.module, &jit, frames.as_ref()).map_err(|e| {
                    Error::from(ErrorKind::Compile(format!("debug information: {e}")))
                })?;
                Some(GdbJitRegistration::new(image))
            }
            _ => None,
        };
        if let Some(names) = &names
            && perf_map
        {
            write_perf_map(&names.module, &jit).map_err(|source| {
                Error::from(ErrorKind::Io {
                    path: perf_map_path().display().to_string(),
                    source,
                })
            })?;
        }
        Ok(LoadedCode {
            debug,
            unwind,
            code,
        })
    }

    /// The code.
    pub(crate) fn code(&self) -> &CodeMemory {
        self.code.code()
    }

    /// The id of the code's trap registration (frames of trap backtraces
    /// carry it).
    pub(crate) fn id(&self) -> CodeId {
        self.code.id()
    }
}
