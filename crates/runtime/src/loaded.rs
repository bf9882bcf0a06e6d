//! Loaded code: linked, executable code together with every registration
//! that tells the rest of the process where it is and what it is.
//!
//! ```text
//!   CodeMemory + what describes its functions (CodeDetails) + names
//!     │          (the FinishedCodes it was compiled from, or a
//!     │           precompiled module's tables and .eh_frame)
//!     ├─► RegisteredCode      CodeTables (function ranges, trap tables,
//!     │                       source locations), for the signal handler
//!     │                       (always)
//!     ├─► UnwindRegistration  .eh_frame for the system unwinder
//!     │                       (Config::native_unwind_info, on by default):
//!     │                       built from the unwind records, or a
//!     │                       precompiled module's, registered in place
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
use std::borrow::Cow;

use cranelift_asm::FinishedCode;
use cranelift_asm::buffer::SrcLocRange;
use cranelift_asm::unwind::UnwindRecord;
use cranelift_asm::x64::UNWIND_CONVENTION;

use crate::code::CodeMemory;
use crate::debug::{DebugFrames, GdbJitRegistration, debug_image};
use crate::engine::{Config, ProfilingStrategy};
use crate::error::{Error, ErrorKind};
use crate::profiling::{perf_map_path, write_perf_map};
use crate::tables::CodeTables;
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
    /// The compiler's unwind records (none for precompiled code, whose
    /// `.eh_frame` section comes ready-made).
    pub unwind: &'a [UnwindRecord],
    /// Its source-location ranges (filled only where debug information
    /// needs them).
    pub srclocs: Cow<'a, [SrcLocRange]>,
}

/// What loaded code is called in profiles and debuggers.
#[derive(Clone, Debug)]
pub(crate) struct CodeNames {
    /// The module's name (`module` in `module!function`).
    pub module: String,
    /// Each function's name, in the code's order.
    pub functions: Vec<String>,
}

/// What describes the functions of code being loaded.
#[derive(Debug)]
pub(crate) enum CodeDetails<'a> {
    /// Freshly compiled: function `i` was compiled as the `i`th; its
    /// tables and unwind section are built from these.
    Compiled(&'a [FinishedCode]),
    /// A precompiled module's: its tables, used as they are, and its
    /// `.eh_frame` section at `eh_frame` in the code's own mapping
    /// (pc-relative; empty when no function recorded a frame).
    Precompiled {
        /// The functions' ranges, trap tables and source locations.
        tables: CodeTables,
        /// The unwind section's byte range in the code's mapping.
        eh_frame: Range<usize>,
    },
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
    /// Registers `code`, whose functions `details` describes, as `config`
    /// asks; `names` is called only when a profiler or debugger needs the
    /// names.
    pub(crate) fn new(
        config: &Config,
        code: CodeMemory,
        details: CodeDetails<'_>,
        names: impl FnOnce() -> CodeNames,
    ) -> Result<LoadedCode, Error> {
        let (tables, compiled, eh_frame) = match details {
            CodeDetails::Compiled(functions) => {
                let tables =
                    CodeTables::build(code.function_offsets(), functions).ok_or_else(|| {
                        Error::from(ErrorKind::Resource("code of 4 GiB or more".to_string()))
                    })?;
                (tables, Some(functions), None)
            }
            CodeDetails::Precompiled { tables, eh_frame } => (tables, None, Some(eh_frame)),
        };
        // Code without functions has no addresses to describe.
        let has_functions = tables.len() > 0;
        let debug_info = config.debug_info && has_functions;
        let perf_map = config.profiling == ProfilingStrategy::PerfMap && has_functions;
        let build_unwind = config.native_unwind_info && compiled.is_some();
        let names = (debug_info || perf_map).then(names);
        let placeholder = String::new();
        let jit: Vec<JitFunction<'_>> = if debug_info || perf_map || build_unwind {
            (0..tables.len())
                .map(|i| JitFunction {
                    name: names.as_ref().map_or(&placeholder, |n| &n.functions[i]),
                    range: code
                        .function_range(i)
                        .expect("the tables describe the code's functions"),
                    unwind: compiled.map_or(&[], |functions| functions[i].unwind()),
                    srclocs: match compiled {
                        Some(functions) => Cow::Borrowed(functions[i].srclocs()),
                        None if debug_info => Cow::Owned(tables.srclocs(i)),
                        None => Cow::Borrowed(&[]),
                    },
                })
                .collect()
        } else {
            Vec::new()
        };
        let code = RegisteredCode::with_tables(code, tables);

        let unwind = match &eh_frame {
            _ if !config.native_unwind_info => None,
            None => UnwindRegistration::new(&UNWIND_CONVENTION, &jit)
                .map_err(|e| Error::from(ErrorKind::Compile(format!("unwind tables: {e}"))))?,
            Some(range) if range.is_empty() => None,
            Some(range) => {
                let section = code.code().bytes(range.clone()).ok_or_else(|| {
                    Error::from(ErrorKind::Compile(format!(
                        "unwind tables at {range:?}, past the code's mapping"
                    )))
                })?;
                crate::unwind::check_section(section)
                    .map_err(|e| Error::from(ErrorKind::Compile(format!("unwind tables: {e}"))))?;
                // SAFETY: the section lies in the code's mapping, which
                // `code` owns and drops after `unwind` (field order), and
                // which never changes once executable; its entries were
                // just checked to be well-formed, and what they say is
                // trusted as the code is (loading an artifact is unsafe).
                Some(unsafe { UnwindRegistration::in_place(section) })
            }
        };
        let debug = match &names {
            Some(names) if debug_info => {
                // Freshly compiled code's frames are written from its
                // unwind records; a precompiled module's section is
                // copied as it is, at its address.
                let table = frame_table(&UNWIND_CONVENTION, &jit);
                let section = eh_frame
                    .as_ref()
                    .and_then(|range| code.code().bytes(range.clone()).map(|s| (range, s)));
                let frames = match (&table, section) {
                    (Some(table), _) => DebugFrames::Table(table),
                    (None, Some((range, section))) if !section.is_empty() => DebugFrames::EhFrame {
                        section,
                        address: (code.code().base() + range.start) as u64,
                    },
                    _ => DebugFrames::None,
                };
                let image = debug_image(&names.module, &jit, frames).map_err(|e| {
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

    /// The code's tables (what [`Module::serialize`](crate::Module::serialize)
    /// writes beside the code).
    pub(crate) fn tables(&self) -> &CodeTables {
        self.code.tables()
    }

    /// The id of the code's trap registration (frames of trap backtraces
    /// carry it).
    pub(crate) fn id(&self) -> CodeId {
        self.code.id()
    }
}
