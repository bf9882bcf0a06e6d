//! Debug information for loaded code, handed to GDB (and LLDB) through
//! the GDB JIT interface, so a debugger can name wasm functions, set
//! breakpoints on them, map their machine code to wasm bytecode offsets
//! and unwind through them.
//!
//! # The image
//!
//! With `Config::debug_info(true)`, every piece of loaded code gets an
//! in-memory ELF file describing it at its real addresses:
//!
//! ```text
//!   ELF64 x86-64, ET_EXEC (nothing in it is relocated: every address is absolute)
//!   .text          SHT_NOBITS, ALLOC|EXECINSTR, sh_addr = the code's address,
//!                  sh_size = its length (the bytes stay in the process)
//!   .symtab        one STT_FUNC symbol per function: its name, address, size
//!   .debug_info    one compile unit (name `MODULE.wasm`, producer `duet`,
//!                  low_pc/high_pc over the whole code), one DW_TAG_subprogram
//!                  per function with name, low_pc, high_pc
//!   .debug_abbrev, .debug_str
//!   .debug_line    one sequence per function: machine-code offsets -> lines
//!   .debug_frame   the unwind tables (the same CFI as `.eh_frame`), or
//!   .eh_frame      for a precompiled module, its own section (addresses
//!                  relative to itself), ALLOC at the address it lies at
//!   .strtab, .shstrtab
//! ```
//!
//! A debugger takes section addresses of a JIT image as absolute (GDB's
//! `jit_bfd_try_read_symtab` says so), so with `.text` at the code's
//! address and absolute addresses in the DWARF, nothing needs relocating.
//! `.text` is `NOBITS` so the image does not copy the code: the debugger
//! reads it from the process.
//!
//! **Lines are wasm bytecode offsets.** The line table's one file is
//! `MODULE.wasm` and a row's line is the byte offset, in the module's
//! binary encoding, of the operator the machine code came from (the
//! compilers' source locations: winch tags each operator, cranelift each
//! IR instruction with the operator it was made for). So `info line *$pc`
//! or a backtrace's `at calc.wasm:57` reads "module offset 57", which is
//! what `wasm-objdump -d` and `wasm-tools print --offsets` print next to
//! each operator, and what trap backtraces report. (A text module's
//! offsets are those of its binary translation.) A row at the function's
//! start carries its first operator's line, so the prologue belongs to the
//! function's first line; the row of the first operator is marked
//! `prologue_end`, where debuggers put a breakpoint on the function.
//! Code with no source location (trampolines) has symbols and
//! subprograms but no line rows.
//!
//! # The GDB JIT interface
//!
//! GDB's protocol (its manual, "JIT Compilation Interface"): the process
//! defines `__jit_debug_descriptor`, a list of `{next, prev, symfile_addr,
//! symfile_size}` entries, and a function `__jit_debug_register_code` on
//! which the debugger sets a breakpoint. To announce an image, the process
//! links its entry into the list, points `relevant_entry` at it, sets
//! `action_flag` to `JIT_REGISTER_FN` and calls the function; the debugger
//! stops there, reads the image from the process's memory and loads it as
//! an object file (re-resolving pending breakpoints, so `break f` before
//! `run` stops in wasm function `f`). Unregistering is the same with
//! `JIT_UNREGISTER_FN` after unlinking; it happens before the code is
//! unmapped. A process-wide lock serialises the list's updates.
//!
//! Both symbols must exist exactly once per process under these unmangled
//! names, so they are defined here, in the runtime, and nowhere else in
//! duet. `__jit_debug_register_code` is never inlined and its body is a
//! compiler fence, so calls to it are neither removed nor merged.

use core::ptr;
use std::sync::Mutex;

use gimli::write::{
    Address, AttributeValue, DebugFrame, DwarfUnit, EndianVec, FrameTable, LineProgram, LineString,
    Sections,
};
use gimli::{Encoding, Format, LineEncoding, LittleEndian};
use object::elf;
use object::write::StringId;
use object::write::elf::{FileHeader, SectionHeader, Sym, Writer};

use crate::loaded::JitFunction;

/// Why an image could not be built (a broken internal invariant: the
/// inputs come from the compilers, not from the user).
#[derive(Debug, thiserror::Error)]
pub(crate) enum DebugInfoError {
    /// gimli refused the DWARF.
    #[error("DWARF: {0}")]
    Dwarf(#[from] gimli::write::Error),
    /// object refused the ELF file.
    #[error("ELF: {0}")]
    Elf(#[from] object::write::Error),
}

/// The DWARF version and form of the image: version 4 (which every
/// debugger in use reads), 32-bit offsets, 8-byte addresses.
fn dwarf_encoding() -> Encoding {
    Encoding {
        format: Format::Dwarf32,
        version: 4,
        address_size: 8,
    }
}

/// The DWARF sections describing `functions` of module `module`
/// (`.debug_info`, `.debug_abbrev`, `.debug_line`, `.debug_str`).
fn dwarf_sections(
    module: &str,
    functions: &[JitFunction<'_>],
) -> Result<Sections<EndianVec<LittleEndian>>, DebugInfoError> {
    use gimli::constants::*;
    let encoding = dwarf_encoding();
    let mut dwarf = DwarfUnit::new(encoding);
    let file_name = format!("{module}.wasm").into_bytes();
    dwarf.unit.line_program = LineProgram::new(
        encoding,
        LineEncoding::default(),
        LineString::new(&b"."[..], encoding, &mut dwarf.line_strings),
        None,
        LineString::new(file_name.clone(), encoding, &mut dwarf.line_strings),
        None,
    );
    let directory = dwarf.unit.line_program.default_directory();
    let file = dwarf.unit.line_program.add_file(
        LineString::new(file_name.clone(), encoding, &mut dwarf.line_strings),
        directory,
        None,
    );

    let low = functions.iter().map(|f| f.range.start).min().unwrap_or(0);
    let high = functions.iter().map(|f| f.range.end).max().unwrap_or(0);
    let root = dwarf.unit.root();
    let unit = dwarf.unit.get_mut(root);
    unit.set(DW_AT_producer, AttributeValue::String(b"duet".to_vec()));
    unit.set(DW_AT_name, AttributeValue::String(file_name));
    unit.set(DW_AT_comp_dir, AttributeValue::String(b".".to_vec()));
    unit.set(DW_AT_language, AttributeValue::Language(DW_LANG_C99));
    unit.set(
        DW_AT_low_pc,
        AttributeValue::Address(Address::Constant(low as u64)),
    );
    unit.set(DW_AT_high_pc, AttributeValue::Udata((high - low) as u64));

    for function in functions {
        let start = function.range.start as u64;
        let len = function.range.len() as u64;
        let id = dwarf.unit.add(root, DW_TAG_subprogram);
        let entry = dwarf.unit.get_mut(id);
        entry.set(
            DW_AT_name,
            AttributeValue::String(function.name.as_bytes().to_vec()),
        );
        entry.set(DW_AT_external, AttributeValue::Flag(true));
        entry.set(
            DW_AT_low_pc,
            AttributeValue::Address(Address::Constant(start)),
        );
        entry.set(DW_AT_high_pc, AttributeValue::Udata(len));

        let srclocs = &function.srclocs;
        let Some(first) = srclocs.first() else {
            continue;
        };
        let program = &mut dwarf.unit.line_program;
        program.begin_sequence(Some(Address::Constant(start)));
        let mut emit_row = |offset: u32, line: u32, prologue_end: bool| {
            let row = program.row();
            row.address_offset = u64::from(offset);
            row.file = file;
            row.line = u64::from(line);
            row.prologue_end = prologue_end;
            program.generate_row();
        };
        if first.start > 0 {
            // The prologue, on the function's first line.
            emit_row(0, first.loc.0, false);
        }
        for (i, range) in srclocs.iter().enumerate() {
            emit_row(range.start, range.loc.0, i == 0);
        }
        program.end_sequence(len);
    }

    let mut sections = Sections::new(EndianVec::new(LittleEndian));
    dwarf.write(&mut sections)?;
    Ok(sections)
}

/// The unwind tables a debug image carries.
#[derive(Copy, Clone, Debug)]
pub(crate) enum DebugFrames<'a> {
    /// None (no function recorded a frame).
    None,
    /// A frame table, written as `.debug_frame` (absolute addresses).
    Table(&'a FrameTable),
    /// A ready-made `.eh_frame` section (a precompiled module's, whose
    /// addresses are relative to the section) at `address` in the
    /// process: copied into the image as `.eh_frame` with that address,
    /// which is what its relative addresses are read against.
    EhFrame {
        /// The section's bytes.
        section: &'a [u8],
        /// Where it lies in the process.
        address: u64,
    },
}

/// The in-memory ELF image describing `functions` of module `module`
/// (see the [module docs](self)); `frames` are their unwind tables.
pub(crate) fn debug_image(
    module: &str,
    functions: &[JitFunction<'_>],
    frames: DebugFrames<'_>,
) -> Result<Vec<u8>, DebugInfoError> {
    let mut sections = dwarf_sections(module, functions)?;
    if let DebugFrames::Table(frames) = frames {
        let mut debug_frame = DebugFrame(EndianVec::new(LittleEndian));
        frames.write_debug_frame(&mut debug_frame)?;
        sections.debug_frame = debug_frame;
    }
    // Each section: name, bytes, and for `.eh_frame` its address (it is
    // the only one a debugger reads as loaded at an address).
    let mut debug_sections: Vec<(&'static str, &[u8], Option<u64>)> = Vec::new();
    sections.for_each(|id, data| {
        if !data.slice().is_empty() {
            debug_sections.push((id.name(), data.slice(), None));
        }
        Ok::<(), gimli::write::Error>(())
    })?;
    if let DebugFrames::EhFrame { section, address } = frames {
        debug_sections.push((".eh_frame", section, Some(address)));
    }

    let text_start = functions.iter().map(|f| f.range.start).min().unwrap_or(0);
    let text_end = functions.iter().map(|f| f.range.end).max().unwrap_or(0);

    let mut buffer = Vec::new();
    let mut writer = Writer::new(object::Endianness::Little, true, &mut buffer);
    // Phase one: names, indices and file ranges.
    writer.reserve_file_header();
    let text_name = writer.add_section_name(b".text");
    let text_index = writer.reserve_section_index();
    let debug_names: Vec<StringId> = debug_sections
        .iter()
        .map(|(name, _, _)| {
            let name = writer.add_section_name(name.as_bytes());
            writer.reserve_section_index();
            name
        })
        .collect();
    writer.reserve_null_symbol_index();
    let symbol_names: Vec<StringId> = functions
        .iter()
        .map(|function| {
            let name = writer.add_string(function.name.as_bytes());
            writer.reserve_symbol_index(Some(text_index));
            name
        })
        .collect();
    writer.reserve_symtab_section_index();
    writer.reserve_strtab_section_index();
    writer.reserve_shstrtab_section_index();
    // Each DWARF section: its name, file offset and contents.
    let debug: Vec<(StringId, u64, &[u8], Option<u64>)> = debug_names
        .into_iter()
        .zip(&debug_sections)
        .map(|(name, &(_, data, address))| {
            (name, writer.reserve(data.len() as u64, 1), data, address)
        })
        .collect();
    writer.reserve_symtab();
    writer.reserve_strtab()?;
    writer.reserve_shstrtab()?;
    writer.reserve_section_headers();

    // Phase two: the same, in the same order.
    writer.write_file_header(&FileHeader {
        os_abi: elf::ELFOSABI_NONE,
        abi_version: 0,
        e_type: elf::ET_EXEC,
        e_machine: elf::EM_X86_64,
        e_entry: 0,
        e_flags: Default::default(),
    })?;
    for &(_, offset, data, _) in &debug {
        writer.pad_until(offset);
        writer.write(data);
    }
    writer.write_null_symbol();
    for (function, &name) in functions.iter().zip(&symbol_names) {
        writer.write_symbol(&Sym {
            section: Some(text_index.0),
            st_name: writer.string_offset(Some(name)),
            st_info: elf::SymbolInfo::new(elf::STB_GLOBAL, elf::STT_FUNC),
            st_other: elf::STV_DEFAULT.into(),
            st_shndx: Default::default(),
            st_value: function.range.start as u64,
            st_size: function.range.len() as u64,
        });
    }
    writer.write_strtab();
    writer.write_shstrtab();
    writer.write_null_section_header();
    writer.write_section_header(&SectionHeader {
        sh_name: writer.section_name_offset(Some(text_name)),
        sh_type: elf::SHT_NOBITS,
        sh_flags: elf::SHF_ALLOC | elf::SHF_EXECINSTR,
        sh_addr: text_start as u64,
        sh_offset: 0,
        sh_size: (text_end - text_start) as u64,
        sh_link: 0,
        sh_info: 0,
        sh_addralign: 16,
        sh_entsize: 0,
    });
    for &(name, offset, data, address) in &debug {
        writer.write_section_header(&SectionHeader {
            sh_name: writer.section_name_offset(Some(name)),
            sh_type: elf::SHT_PROGBITS,
            sh_flags: match address {
                Some(_) => elf::SHF_ALLOC,
                None => Default::default(),
            },
            sh_addr: address.unwrap_or(0),
            sh_offset: offset,
            sh_size: data.len() as u64,
            sh_link: 0,
            sh_info: 0,
            sh_addralign: 1,
            sh_entsize: 0,
        });
    }
    // Only the null symbol is local.
    writer.write_symtab_section_header(1);
    writer.write_strtab_section_header();
    writer.write_shstrtab_section_header();
    debug_assert_eq!(writer.reserved_len(), writer.len());
    Ok(buffer)
}

// ---- The GDB JIT interface ------------------------------------------------

/// `jit_code_entry`: one image in the debugger's list.
#[repr(C)]
struct JitCodeEntry {
    next_entry: *mut JitCodeEntry,
    prev_entry: *mut JitCodeEntry,
    symfile_addr: *const u8,
    symfile_size: u64,
}

/// `jit_descriptor`: the list and the pending action.
#[repr(C)]
struct JitDescriptor {
    version: u32,
    action_flag: u32,
    relevant_entry: *mut JitCodeEntry,
    first_entry: *mut JitCodeEntry,
}

/// `jit_actions_t`.
const JIT_NOACTION: u32 = 0;
const JIT_REGISTER_FN: u32 = 1;
const JIT_UNREGISTER_FN: u32 = 2;

/// The descriptor the debugger reads. Only written under [`JIT_LOCK`].
#[unsafe(no_mangle)]
static mut __jit_debug_descriptor: JitDescriptor = JitDescriptor {
    version: 1,
    action_flag: JIT_NOACTION,
    relevant_entry: ptr::null_mut(),
    first_entry: ptr::null_mut(),
};

/// The function the debugger breaks on to learn of an action.
#[unsafe(no_mangle)]
#[inline(never)]
extern "C" fn __jit_debug_register_code() {
    // Opaque to the optimiser: the call (and so the debugger's stop) stays.
    std::hint::black_box(&raw const __jit_debug_descriptor);
    std::sync::atomic::compiler_fence(std::sync::atomic::Ordering::SeqCst);
}

/// Serialises every update of the descriptor's list.
static JIT_LOCK: Mutex<()> = Mutex::new(());

/// An image announced to debuggers through the GDB JIT interface;
/// dropping it withdraws it.
#[derive(Debug)]
pub(crate) struct GdbJitRegistration {
    /// The list entry (from `Box::into_raw`), linked while this lives.
    entry: *mut JitCodeEntry,
    /// The image the entry points to (read by the debugger, through the
    /// entry).
    #[allow(
        dead_code,
        reason = "owned for the debugger, which reads it through `entry`"
    )]
    image: Box<[u8]>,
}

// SAFETY: the entry is only touched under `JIT_LOCK`, and the image is
// never written after registration.
unsafe impl Send for GdbJitRegistration {}
// SAFETY: as for `Send`; `&self` gives access to nothing.
unsafe impl Sync for GdbJitRegistration {}

impl GdbJitRegistration {
    /// Announces `image` (an ELF file) to an attached debugger, if any.
    pub(crate) fn new(image: Vec<u8>) -> GdbJitRegistration {
        let image = image.into_boxed_slice();
        let entry = Box::into_raw(Box::new(JitCodeEntry {
            next_entry: ptr::null_mut(),
            prev_entry: ptr::null_mut(),
            symfile_addr: image.as_ptr(),
            symfile_size: image.len() as u64,
        }));
        let _guard = JIT_LOCK.lock().unwrap_or_else(|e| e.into_inner());
        let descriptor = &raw mut __jit_debug_descriptor;
        // SAFETY: the descriptor and every entry in its list are only
        // accessed under `JIT_LOCK`, which is held; `entry` is a fresh,
        // valid allocation that stays alive until `drop` unlinks it.
        unsafe {
            let first = (*descriptor).first_entry;
            (*entry).next_entry = first;
            if !first.is_null() {
                (*first).prev_entry = entry;
            }
            (*descriptor).first_entry = entry;
            (*descriptor).relevant_entry = entry;
            (*descriptor).action_flag = JIT_REGISTER_FN;
            __jit_debug_register_code();
            (*descriptor).action_flag = JIT_NOACTION;
            (*descriptor).relevant_entry = ptr::null_mut();
        }
        GdbJitRegistration { entry, image }
    }

    /// The registered image.
    #[cfg(test)]
    pub(crate) fn image(&self) -> &[u8] {
        &self.image
    }
}

impl Drop for GdbJitRegistration {
    fn drop(&mut self) {
        let entry = self.entry;
        {
            let _guard = JIT_LOCK.lock().unwrap_or_else(|e| e.into_inner());
            let descriptor = &raw mut __jit_debug_descriptor;
            // SAFETY: as in `new`; `entry` is linked (by `new`) and is
            // unlinked here, under the lock.
            unsafe {
                let (prev, next) = ((*entry).prev_entry, (*entry).next_entry);
                if prev.is_null() {
                    (*descriptor).first_entry = next;
                } else {
                    (*prev).next_entry = next;
                }
                if !next.is_null() {
                    (*next).prev_entry = prev;
                }
                (*descriptor).relevant_entry = entry;
                (*descriptor).action_flag = JIT_UNREGISTER_FN;
                __jit_debug_register_code();
                (*descriptor).action_flag = JIT_NOACTION;
                (*descriptor).relevant_entry = ptr::null_mut();
            }
        }
        // SAFETY: `entry` came from `Box::into_raw` in `new` and is no
        // longer in the list, so nothing else refers to it.
        drop(unsafe { Box::from_raw(entry) });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cranelift_asm::SourceLoc;
    use cranelift_asm::x64::{Assembler, CpuFeatures, UNWIND_CONVENTION};
    use object::{Object, ObjectSection, ObjectSymbol};

    /// A framed function whose body is tagged with wasm offsets 40 and 42.
    fn function() -> cranelift_asm::FinishedCode {
        let mut asm = Assembler::new(CpuFeatures::baseline());
        asm.push_frame();
        asm.start_srcloc(SourceLoc(40));
        asm.nop(1);
        asm.start_srcloc(SourceLoc(42));
        asm.nop(2);
        asm.begin_epilogue();
        asm.pop_frame();
        asm.ret_from_frame();
        asm.end_srcloc();
        asm.finish().unwrap()
    }

    #[test]
    fn the_image_names_functions_and_maps_code_to_wasm_offsets() {
        let code = function();
        let functions = [
            JitFunction {
                name: "first",
                range: 0x5000_0000..0x5000_0000 + code.code().len(),
                unwind: code.unwind(),
                srclocs: code.srclocs().into(),
            },
            JitFunction {
                name: "second",
                range: 0x5000_0010..0x5000_0010 + code.code().len(),
                unwind: code.unwind(),
                srclocs: code.srclocs().into(),
            },
        ];
        let frames = crate::unwind::frame_table(&UNWIND_CONVENTION, &functions).unwrap();
        let image = debug_image("calc", &functions, DebugFrames::Table(&frames)).unwrap();

        let file = object::File::parse(&*image).unwrap();
        let text = file.section_by_name(".text").unwrap();
        assert_eq!(text.address(), 0x5000_0000);
        assert_eq!(text.size(), 0x10 + code.code().len() as u64);
        let symbols: Vec<(String, u64, u64)> = file
            .symbols()
            .map(|s| (s.name().unwrap().to_string(), s.address(), s.size()))
            .collect();
        let len = code.code().len() as u64;
        assert_eq!(
            symbols,
            [
                ("first".to_string(), 0x5000_0000, len),
                ("second".to_string(), 0x5000_0010, len)
            ]
        );
        for name in [
            ".debug_info",
            ".debug_abbrev",
            ".debug_line",
            ".debug_frame",
        ] {
            assert!(file.section_by_name(name).is_some(), "{name}");
        }

        // The line table, read back with gimli: offset -> wasm offset.
        let section = |id: gimli::SectionId| -> gimli::EndianSlice<'_, LittleEndian> {
            let data = file
                .section_by_name(id.name())
                .map_or(&[][..], |s| s.data().unwrap());
            gimli::EndianSlice::new(data, LittleEndian)
        };
        let dwarf = gimli::Dwarf::load(|id| Ok::<_, ()>(section(id))).unwrap();
        let mut units = dwarf.units();
        let header = units.next().unwrap().unwrap();
        let unit = dwarf.unit(header).unwrap();
        let program = unit.line_program.clone().unwrap();
        let mut rows = program.rows();
        let mut lines = Vec::new();
        while let Some((_, row)) = rows.next_row().unwrap() {
            if !row.end_sequence() {
                lines.push((row.address(), row.line().map(|l| l.get())));
            }
        }
        // push rbp; mov rbp, rsp = 4 bytes of prologue on line 40.
        let f = 0x5000_0000;
        assert_eq!(
            lines[..3],
            [(f, Some(40)), (f + 4, Some(40)), (f + 5, Some(42))]
        );
        assert_eq!(lines.len(), 6, "three rows per function");

        // The subprograms.
        let mut entries = unit.entries();
        let mut names = Vec::new();
        while let Some(entry) = entries.next_dfs().unwrap() {
            if entry.tag() == gimli::DW_TAG_subprogram {
                let name = entry.attr_value(gimli::DW_AT_name).unwrap();
                let name = dwarf.attr_string(&unit, name).unwrap();
                names.push(name.to_string().unwrap().to_string());
            }
        }
        assert_eq!(names, ["first", "second"]);
    }

    /// A precompiled module's image carries its `.eh_frame` as it is, at
    /// the address it lies at: read there, its FDEs name the functions'
    /// addresses (and there is no `.debug_frame`).
    #[test]
    fn a_ready_made_eh_frame_is_carried_at_its_address() {
        let code = function();
        let len = code.code().len();
        let at = |base: usize, start: usize| JitFunction {
            name: "f",
            range: base + start..base + start + len,
            unwind: code.unwind(),
            srclocs: code.srclocs().into(),
        };
        let section_offset = 0x40;
        let relative = [at(0, 0), at(0, 0x10)];
        let section = crate::unwind::eh_frame(
            &UNWIND_CONVENTION,
            &relative,
            crate::unwind::FdeAddresses::RelativeToSection { section_offset },
        )
        .unwrap()
        .unwrap();
        let base = 0x6000_0000;
        let functions = [at(base, 0), at(base, 0x10)];
        let address = (base + section_offset) as u64;
        let frames = DebugFrames::EhFrame {
            section: &section,
            address,
        };
        let image = debug_image("calc", &functions, frames).unwrap();
        let file = object::File::parse(&*image).unwrap();
        assert!(file.section_by_name(".debug_frame").is_none());
        let eh_frame = file.section_by_name(".eh_frame").unwrap();
        assert_eq!(eh_frame.address(), address);
        assert_eq!(eh_frame.data().unwrap(), &section[..]);
        use gimli::UnwindSection;
        let parsed = gimli::EhFrame::new(eh_frame.data().unwrap(), LittleEndian);
        let bases = gimli::BaseAddresses::default().set_eh_frame(address);
        let mut entries = parsed.entries(&bases);
        let mut starts = Vec::new();
        while let Some(entry) = entries.next().unwrap() {
            if let gimli::CieOrFde::Fde(partial) = entry {
                let fde = partial.parse(gimli::EhFrame::cie_from_offset).unwrap();
                starts.push(fde.initial_address());
            }
        }
        assert_eq!(starts, [base as u64, base as u64 + 0x10]);
    }

    #[test]
    fn registrations_link_and_unlink_entries() {
        let count = || {
            let _guard = JIT_LOCK.lock().unwrap();
            let mut n = 0;
            // SAFETY: read under the lock.
            unsafe {
                let descriptor = &raw const __jit_debug_descriptor;
                let mut entry = (*descriptor).first_entry;
                while !entry.is_null() {
                    n += 1;
                    entry = (*entry).next_entry;
                }
            }
            n
        };
        let before = count();
        let a = GdbJitRegistration::new(vec![1, 2, 3]);
        let b = GdbJitRegistration::new(vec![4]);
        assert_eq!(count(), before + 2);
        assert_eq!(a.image(), [1, 2, 3]);
        drop(a);
        assert_eq!(count(), before + 1);
        drop(b);
        assert_eq!(count(), before);
    }
}
