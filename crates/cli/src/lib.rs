//! `duet-cli`: the `duet` command, and the parts of it that tests share.
//!
//! The binary (`src/main.rs`) parses the command line and drives the
//! pipeline:
//!
//! ```text
//!   FILE ──► module_binary ──────► duet_environ::module::translate ──► duet::Engine::compile_functions
//!            (text or binary,      (sections validated under           (the engine's compiler and
//!             detected by content)  --spec's features)                  threads; each body validated
//!                                                                       while it is compiled)
//!                                                                             │
//!                                       --emit asm: disassemble() ◄───────────┘
//!
//!   --compiler cranelift --emit ir:  translate ──► cranelift_wasm::translate_module ──► print_ir()
//!                                                  (each body validated while it is
//!                                                   translated to IR)
//! ```
//!
//! Every command asks the runtime ([`duet`]) which compiler compiles and on
//! how many threads: an `Engine` configured by `--compiler`, `--spec` and
//! (for `compile`) `--threads`. `duet compile` without `--emit` loads the
//! module as `duet run` does; with `--emit asm` it lists what the engine's
//! compiler made. `duet run` and `duet wast` go through the embedding API:
//! a `Store`, a `Linker`, instances and calls.
//!
//! The library holds what is worth sharing: [`disas`], the disassembly
//! listing that `duet compile --emit asm` prints and that the golden files
//! of `tests/disas/` are made of, so a golden file shows exactly what the
//! command shows; [`ir`], the IR listing of `duet compile --compiler
//! cranelift --emit ir` and of the golden files in `tests/ir/`; and
//! [`wast`], the spec-script runner behind `duet wast`, which the
//! workspace's spec-suite test runs file by file. [`bench`](mod@bench) is
//! `duet bench`: it runs each measurement in a child process, which is
//! this same executable re-run with a hidden subcommand. [`v128`] cuts
//! `v128` values into lanes, for `duet run`'s arguments and `duet wast`'s
//! lane-by-lane comparison.

pub mod bench;
pub mod disas;
pub mod ir;
pub mod v128;
pub mod wast;

pub use disas::disassemble;
pub use ir::print_ir;

use std::borrow::Cow;
use std::fmt;

/// `error` and everything that caused it, as the `duet` command prints
/// them: the error's own text, then each cause of its
/// [`source`](std::error::Error::source) chain on a line of its own,
/// `  caused by: ...`, the further lines of a cause's text (a trap's
/// frames) indented under it. Each error of the chain displays only its
/// own part (see `duet`'s error docs), so nothing is repeated.
///
/// ```text
/// host function error
///   0: outer (func 1) at offset 0x57
///   caused by: level 1 could not call back into wasm
///   caused by: host function error
///     0: down (func 2) at offset 0x36
///   caused by: boom
/// ```
pub fn error_report(error: &(dyn std::error::Error + 'static)) -> String {
    let mut report = error.to_string();
    let mut cause = error.source();
    while let Some(error) = cause {
        report.push_str("\n  caused by: ");
        report.push_str(&error.to_string().replace('\n', "\n  "));
        cause = error.source();
    }
    report
}

/// Why a file's bytes are not a module: neither WebAssembly format (said
/// by [`duet::NotAModule`]: empty, a bad magic number or version, not
/// UTF-8), or text that does not parse. Displays as one line.
#[derive(Debug)]
pub enum ModuleFileError {
    /// Neither a binary nor text.
    NotAModule(duet::NotAModule),
    /// Text, but not a valid module in the text format.
    Text(wat::Error),
}

impl fmt::Display for ModuleFileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ModuleFileError::NotAModule(error) => write!(f, "{error}"),
            ModuleFileError::Text(error) => f.write_str(&wat_error_line(error)),
        }
    }
}

impl std::error::Error for ModuleFileError {}

/// The binary module in a file's `bytes`, told apart from text by content
/// as the runtime does ([`duet::ModuleSource::detect`]): a binary is passed
/// through without a copy, text is parsed. Every command that reads a
/// module file goes through here, so each says the same of a file that is
/// neither.
pub fn module_binary(bytes: &[u8]) -> Result<Cow<'_, [u8]>, ModuleFileError> {
    match duet::ModuleSource::detect(bytes).map_err(ModuleFileError::NotAModule)? {
        duet::ModuleSource::Binary(binary) => Ok(Cow::Borrowed(binary)),
        duet::ModuleSource::Text(text) => wat::parse_str(text)
            .map(Cow::Owned)
            .map_err(ModuleFileError::Text),
    }
}

/// Whether the file at `path` starts with a precompiled module's magic
/// number ([`duet::Module::is_precompiled`]); reads only that far.
pub fn is_precompiled_file(path: &std::path::Path) -> std::io::Result<bool> {
    use std::io::Read as _;
    let mut head = Vec::with_capacity(16);
    std::fs::File::open(path)?.take(16).read_to_end(&mut head)?;
    Ok(duet::Module::is_precompiled(&head))
}

/// A `wat` error on one line, `LINE:COLUMN: message`. `wat` renders an
/// error in the text format as the message, then `--> FILE:LINE:COLUMN`
/// and the offending source line under it; other errors are one line
/// already.
pub fn wat_error_line(error: &wat::Error) -> String {
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

#[cfg(test)]
mod tests {
    use super::*;

    /// An error with a message, a source and a line per frame.
    #[derive(Debug)]
    struct Chained {
        text: &'static str,
        source: Option<Box<Chained>>,
    }

    impl fmt::Display for Chained {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str(self.text)
        }
    }

    impl std::error::Error for Chained {
        fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
            self.source
                .as_deref()
                .map(|e| e as &(dyn std::error::Error + 'static))
        }
    }

    #[test]
    fn an_error_report_has_a_line_per_cause() {
        let error = Chained {
            text: "host function error\n  0: f",
            source: Some(Box::new(Chained {
                text: "unreachable\n  0: g\n  1: f",
                source: Some(Box::new(Chained {
                    text: "boom",
                    source: None,
                })),
            })),
        };
        assert_eq!(
            error_report(&error),
            "host function error\n  0: f\n  caused by: unreachable\n    0: g\n    1: f\n  \
             caused by: boom"
        );
        let alone = Chained {
            text: "alone",
            source: None,
        };
        assert_eq!(error_report(&alone), "alone");
    }
}
