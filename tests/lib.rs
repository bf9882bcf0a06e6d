//! Shared helpers for the workspace integration tests.
//!
//! * [`listing`] turns finished code into a review-friendly disassembly:
//!   offsets, bytes and Intel syntax (iced-x86), data regions as bytes, then
//!   the trap table and relocations.
//! * [`check_golden`] compares a listing with its golden file, or rewrites
//!   the file when `BLESS=1` is set.

use core::fmt::Write as _;
use core::ops::Range;
use cranelift_asm::FinishedCode;
use iced_x86::{Decoder, DecoderOptions, Formatter, Instruction, IntelFormatter};
use std::path::Path;

/// Bytes shown per line of the listing (longer instructions and data
/// continue on the next line).
const BYTES_PER_LINE: usize = 10;

/// The disassembly of `code`.
///
/// `0..instructions_end` is decoded as instructions, except the `data`
/// ranges inside it (jump tables), which are shown as bytes. Past
/// `instructions_end` (constants and trap stubs, emitted by `finish`), the
/// offsets in the trap table are decoded as instructions and everything else
/// is shown as data.
pub fn listing(code: &FinishedCode, instructions_end: u32, data: &[Range<u32>]) -> String {
    let bytes = code.code();
    let mut formatter = IntelFormatter::new();
    let options = formatter.options_mut();
    options.set_hex_prefix("0x");
    options.set_hex_suffix("");
    options.set_uppercase_hex(false);
    options.set_branch_leading_zeros(false);
    options.set_space_after_operand_separator(true);
    options.set_first_operand_char_index(10);

    let is_trap = |offset: u32| code.trap_at(offset).is_some();
    let mut out = String::new();
    let mut offset = 0u32;
    while (offset as usize) < bytes.len() {
        let in_data = data.iter().find(|r| r.contains(&offset));
        let decode = in_data.is_none() && (offset < instructions_end || is_trap(offset));
        if decode {
            let mut decoder = Decoder::with_ip(
                64,
                &bytes[offset as usize..],
                u64::from(offset),
                DecoderOptions::NONE,
            );
            let mut inst = Instruction::default();
            decoder.decode_out(&mut inst);
            let mut text = String::new();
            if inst.is_invalid() {
                text.push_str("(invalid)");
            } else {
                formatter.format(&inst, &mut text);
            }
            if let Some(trap) = code.trap_at(offset) {
                let _ = write!(text, "    ; traps: {trap}");
            }
            let len = inst.len().max(1) as u32;
            line(
                &mut out,
                offset,
                &bytes[offset as usize..][..len as usize],
                &text,
            );
            offset += len;
        } else {
            // Data up to the next region that decodes (a trap stub, the end
            // of a jump table) or the next boundary: one 4-byte entry of a
            // jump table per line, and past the code, 8-byte aligned lines so
            // that an aligned constant sits on a line of its own.
            let mut end = offset + 1;
            let limit = match in_data {
                Some(range) => range.end,
                None => bytes.len() as u32,
            };
            let line_ends_at = |end: u32| {
                let boundary = match in_data {
                    Some(range) => (end - range.start).is_multiple_of(4),
                    None => end.is_multiple_of(8),
                };
                let decodes = is_trap(end) || (in_data.is_none() && end < instructions_end);
                end >= limit || boundary || decodes
            };
            while !line_ends_at(end) {
                end += 1;
            }
            line(
                &mut out,
                offset,
                &bytes[offset as usize..end as usize],
                "(data)",
            );
            offset = end;
        }
    }
    if !code.traps().is_empty() {
        out.push_str("\ntraps:\n");
        for trap in code.traps() {
            let _ = writeln!(out, "  {:04x}: {}", trap.offset, trap.code);
        }
    }
    if !code.relocations().is_empty() {
        out.push_str("\nrelocations:\n");
        for reloc in code.relocations() {
            let _ = writeln!(
                out,
                "  {:04x}: {:?} {:?} {:+}",
                reloc.offset, reloc.kind, reloc.target, reloc.addend
            );
        }
    }
    out
}

/// One listing line: offset, up to [`BYTES_PER_LINE`] bytes, text; longer
/// byte strings continue on following lines.
fn line(out: &mut String, offset: u32, bytes: &[u8], text: &str) {
    for (i, chunk) in bytes.chunks(BYTES_PER_LINE).enumerate() {
        let hex: Vec<String> = chunk.iter().map(|b| format!("{b:02x}")).collect();
        let hex = hex.join(" ");
        if i == 0 {
            let _ = writeln!(out, "  {offset:04x}:  {hex:<30}  {text}");
        } else {
            let _ = writeln!(out, "         {hex}");
        }
    }
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
