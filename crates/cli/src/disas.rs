//! Disassembly listings of finished code, for people to read: what
//! `duet compile --emit asm` prints and what the golden files under
//! `tests/disas/` hold.
//!
//! A listing has one line per instruction, then the trap table and the
//! relocations:
//!
//! ```text
//! function 0 (load):
//!   ...
//!   0027:  8b 45 f0                        mov       eax, [rbp-0x10]            ; wasm 0x59
//!   002a:  4d 8b 5e 60                     mov       r11, [r14+0x60]
//!   002e:  41 8b 44 03 04                  mov       eax, [r11+rax+4]           ; traps: MemoryOutOfBounds
//!   ...
//!
//! traps:
//!   002e: MemoryOutOfBounds
//!
//! relocations:
//!   0041: CallPcRel32 function 0 -4
//! ```
//!
//! Each line is the offset in the function's code, the bytes (continued on
//! the next lines past ten), the instruction in Intel syntax and a comment:
//! the wasm offset (below) and, for an instruction in the trap table, its
//! trap.
//!
//! The text comes from iced-x86, a decoder nobody here wrote, so the listing
//! shows what the processor will execute rather than what the assembler
//! meant to emit. Branch targets are offsets in the same listing.
//!
//! # Which bytes are instructions
//!
//! Finished code is instructions, then (emitted by the buffer's `finish`)
//! deferred trap stubs and the constant pool. A [`Listing`] decodes
//! `0..instructions_end` as instructions, except the `data` ranges inside it
//! (jump tables), which it shows as bytes. Past `instructions_end` it
//! decodes only at the offsets of the trap table (the stubs) and shows
//! everything else as data, 8-byte aligned so that an aligned constant sits
//! on a line of its own. For compiled wasm, `instructions_end` is where the
//! last source-location range ends: the compiler tags every instruction it
//! emits for an operator, the function's `end` (and so the epilogue)
//! included; the buffer tags each trap stub with the location of the
//! operator that deferred it and puts the constant pool after the stubs.
//! (Constants the buffer places in an island in the middle of a function
//! would be decoded as instructions; the baseline compiler uses no constant
//! pool yet, and functions short enough to read need no islands.)
//!
//! # Wasm offsets
//!
//! With [`Listing::wasm_offsets`], an instruction covered by a
//! source-location range is annotated with the range's wasm offset (the
//! byte offset of the operator in the module), but only where it differs
//! from the previous instruction's, so each operator's code starts with
//! the operator's offset and the rest of its lines stay quiet.

use core::fmt::Write as _;
use core::ops::Range;
use cranelift_asm::buffer::SrcLocRange;
use cranelift_asm::{ExternalName, FinishedCode, TrapCode};
use duet_environ::abi::FUNCTION_NAMESPACE;
use duet_environ::module::{DefinedFuncIndex, Module};
use duet_environ::tierup;
use duet_environ::trap::Trap;
use iced_x86::{Decoder, DecoderOptions, Formatter, Instruction, IntelFormatter};

/// Bytes shown per line of the listing (longer instructions and data
/// continue on the next line).
const BYTES_PER_LINE: usize = 10;

/// The column (within the instruction text) where comments start when they
/// are aligned (see [`Listing::wasm_offsets`]).
const COMMENT_COLUMN: usize = 36;

/// How to list one function's finished code (see the [module
/// documentation](self)).
#[derive(Clone, Debug)]
pub struct Listing<'a> {
    /// Bytes before this offset are instructions (except `data`); past it,
    /// only trap-table offsets are.
    pub instructions_end: u32,
    /// Data inside the instructions (jump tables), shown as bytes.
    pub data: &'a [Range<u32>],
    /// Whether to annotate instructions with the wasm offsets of the code's
    /// source locations. Comments are then on most lines and are aligned
    /// in a column; otherwise the rare comment (a trapping instruction)
    /// follows the instruction after four spaces.
    pub wasm_offsets: bool,
    /// How a trap code is named (in comments and the trap table).
    pub trap_name: fn(TrapCode) -> String,
    /// How a relocation's target is named.
    pub target_name: fn(ExternalName) -> String,
}

impl Listing<'static> {
    /// A listing of code with no wasm behind it (the assembler's own tests):
    /// trap codes and external names as the assembler prints them.
    pub fn assembler(instructions_end: u32, data: &[Range<u32>]) -> Listing<'_> {
        Listing {
            instructions_end,
            data,
            wasm_offsets: false,
            trap_name: |code| code.to_string(),
            target_name: |name| format!("{name:?}"),
        }
    }

    /// A listing of a compiled wasm function: annotated with wasm offsets,
    /// traps named by `duet-environ`, call targets as `function N`.
    pub fn wasm(code: &FinishedCode) -> Self {
        let instructions_end = code
            .srclocs()
            .iter()
            .map(|range| range.end)
            .max()
            .unwrap_or(code.code().len() as u32);
        Listing {
            instructions_end,
            data: &[],
            wasm_offsets: true,
            trap_name: wasm_trap_name,
            target_name: wasm_target_name,
        }
    }
}

/// A wasm trap by its name in [`Trap`] (`IntegerDivisionByZero`).
fn wasm_trap_name(code: TrapCode) -> String {
    match Trap::from_code(code) {
        Some(trap) => format!("{trap:?}"),
        None => code.to_string(),
    }
}

/// `function N` for a function of the module, `tier-up counter N` and
/// `tier-up entry N` for a tiered module's cells (defined indices), the
/// external name otherwise.
fn wasm_target_name(name: ExternalName) -> String {
    match name.namespace {
        FUNCTION_NAMESPACE => format!("function {}", name.index),
        tierup::COUNTER_NAMESPACE => format!("tier-up counter {}", name.index),
        tierup::ENTRY_NAMESPACE => format!("tier-up entry {}", name.index),
        _ => name.to_string(),
    }
}

impl Listing<'_> {
    /// The listing of `code`.
    pub fn render(&self, code: &FinishedCode) -> String {
        let mut out = String::new();
        self.render_into(code, &mut out);
        out
    }

    /// Appends the listing of `code` to `out`.
    pub fn render_into(&self, code: &FinishedCode, out: &mut String) {
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
        let mut wasm_offsets = WasmOffsets::new(code.srclocs());
        let mut text = String::new();
        let mut offset = 0u32;
        while (offset as usize) < bytes.len() {
            let in_data = self.data.iter().find(|r| r.contains(&offset));
            let decode = in_data.is_none() && (offset < self.instructions_end || is_trap(offset));
            if decode {
                let mut decoder = Decoder::with_ip(
                    64,
                    &bytes[offset as usize..],
                    u64::from(offset),
                    DecoderOptions::NONE,
                );
                let mut inst = Instruction::default();
                decoder.decode_out(&mut inst);
                text.clear();
                if inst.is_invalid() {
                    text.push_str("(invalid)");
                } else {
                    formatter.format(&inst, &mut text);
                }
                let wasm = match self.wasm_offsets {
                    true => wasm_offsets.changed_at(offset),
                    false => None,
                };
                let trap = code.trap_at(offset);
                if wasm.is_some() || trap.is_some() {
                    match self.wasm_offsets {
                        true => {
                            let width = text.chars().count();
                            text.extend(core::iter::repeat_n(
                                ' ',
                                COMMENT_COLUMN.saturating_sub(width),
                            ));
                            text.push(' ');
                        }
                        false => text.push_str("    "),
                    }
                    text.push_str("; ");
                    if let Some(wasm) = wasm {
                        let _ = write!(text, "wasm {wasm:#x}");
                    }
                    if let Some(trap) = trap {
                        let separator = if wasm.is_some() { ", " } else { "" };
                        let _ = write!(text, "{separator}traps: {}", (self.trap_name)(trap));
                    }
                }
                let len = inst.len().max(1) as u32;
                line(
                    out,
                    offset,
                    &bytes[offset as usize..][..len as usize],
                    &text,
                );
                offset += len;
            } else {
                // Data up to the next region that decodes (a trap stub, the
                // end of a jump table) or the next boundary: one 4-byte entry
                // of a jump table per line, and past the code, 8-byte aligned
                // lines so that an aligned constant sits on a line of its own.
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
                    let decodes =
                        is_trap(end) || (in_data.is_none() && end < self.instructions_end);
                    end >= limit || boundary || decodes
                };
                while !line_ends_at(end) {
                    end += 1;
                }
                line(out, offset, &bytes[offset as usize..end as usize], "(data)");
                offset = end;
            }
        }
        if !code.traps().is_empty() {
            out.push_str("\ntraps:\n");
            for trap in code.traps() {
                let _ = writeln!(
                    out,
                    "  {:04x}: {}",
                    trap.offset,
                    (self.trap_name)(trap.code)
                );
            }
        }
        if !code.relocations().is_empty() {
            out.push_str("\nrelocations:\n");
            for reloc in code.relocations() {
                let _ = writeln!(
                    out,
                    "  {:04x}: {:?} {} {:+}",
                    reloc.offset,
                    reloc.kind,
                    (self.target_name)(reloc.target),
                    reloc.addend
                );
            }
        }
    }
}

/// Finds the wasm offset of each instruction, for instructions visited in
/// increasing order of offset.
struct WasmOffsets<'a> {
    /// The code's source-location ranges, sorted by start. They do not
    /// overlap, so they are sorted by end too.
    ranges: &'a [SrcLocRange],
    /// Ranges before this one end at or before the last offset asked for.
    next: usize,
    /// The wasm offset of the previous instruction.
    previous: Option<u32>,
}

impl<'a> WasmOffsets<'a> {
    fn new(ranges: &'a [SrcLocRange]) -> Self {
        WasmOffsets {
            ranges,
            next: 0,
            previous: None,
        }
    }

    /// The wasm offset of the instruction at `offset` if it differs from
    /// the previous instruction's.
    fn changed_at(&mut self, offset: u32) -> Option<u32> {
        while self.ranges.get(self.next).is_some_and(|r| r.end <= offset) {
            self.next += 1;
        }
        let current = self
            .ranges
            .get(self.next)
            .filter(|r| r.start <= offset)
            .map(|r| r.loc.0);
        let previous = core::mem::replace(&mut self.previous, current);
        current.filter(|&c| Some(c) != previous)
    }
}

/// One listing line: offset, up to [`BYTES_PER_LINE`] bytes, text; longer
/// byte strings continue on following lines.
fn line(out: &mut String, offset: u32, bytes: &[u8], text: &str) {
    for (i, chunk) in bytes.chunks(BYTES_PER_LINE).enumerate() {
        let mut hex = String::with_capacity(3 * BYTES_PER_LINE);
        for (j, byte) in chunk.iter().enumerate() {
            let space = if j > 0 { " " } else { "" };
            let _ = write!(hex, "{space}{byte:02x}");
        }
        if i == 0 {
            let _ = writeln!(out, "  {offset:04x}:  {hex:<30}  {text}");
        } else {
            let _ = writeln!(out, "         {hex}");
        }
    }
}

/// The listing of every function `module` defines, in index order, each
/// under a header `function N (name):` (the name from the module's `name`
/// section, when it has one). `functions[i]` is defined function `i`'s
/// code, as `duet::Engine::compile_functions` returns it.
pub fn disassemble(module: &Module, functions: &[FinishedCode]) -> String {
    let mut out = String::new();
    for (i, code) in functions.iter().enumerate() {
        let index = module.func_index(DefinedFuncIndex::from_u32(i as u32));
        if i > 0 {
            out.push('\n');
        }
        let _ = match module.function_name(index) {
            Some(name) => writeln!(out, "function {} ({name}):", index.as_u32()),
            None => writeln!(out, "function {}:", index.as_u32()),
        };
        Listing::wasm(code).render_into(code, &mut out);
    }
    out
}
