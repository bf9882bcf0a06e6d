//! Unwind tables for loaded code, registered with the system unwinder, so
//! that a native stack walk (a panic's backtrace, `backtrace::trace`,
//! `_Unwind_Backtrace`, a C++ exception, a profiler using the unwinder)
//! passes through wasm frames and trampolines into the host code below.
//!
//! ```text
//!   FinishedCode::unwind()      records at code offsets (cranelift_asm::unwind),
//!         │                      DWARF register numbers
//!         ▼  eh_frame()
//!   .eh_frame bytes             one CIE (x64::UNWIND_CONVENTION: CFA = rsp + 8,
//!   (gimli::write)              return address at CFA - 8), one FDE per function
//!         │                      that recorded its frame, absolute addresses,
//!         │                      a zero-length terminator
//!         ▼  UnwindRegistration::new
//!   __register_frame            the system unwinder finds the FDEs from now on;
//!   __deregister_frame          Drop, before the code is unmapped
//! ```
//!
//! **Records to CFI.** Each record becomes one call-frame instruction at
//! its offset: `DefineCfa` is `DW_CFA_def_cfa`, `CfaRegister`
//! `DW_CFA_def_cfa_register`, `CfaOffset` `DW_CFA_def_cfa_offset`,
//! `SavedAt` `DW_CFA_offset` (with the negative, factored offset),
//! `Restored` `DW_CFA_restore` (back to the CIE's rule: the register is
//! the caller's), `RememberState`/`RestoreState` their namesakes. A
//! function that recorded nothing gets no FDE: an unwinder stops there
//! instead of guessing. The compilers describe every instruction exactly
//! (`cranelift_asm::x64`'s frame methods), so a walk from any pc is right,
//! not only from call sites.
//!
//! **Which `__register_frame`.** The two unwinders on ELF systems disagree
//! on its argument:
//!
//! * libgcc (`libgcc_s`, what Rust programs on Linux with glibc use, and
//!   this machine): the start of a whole `.eh_frame` section, CIEs and
//!   FDEs, ending with a zero-length entry; `__deregister_frame` takes the
//!   same pointer. The section must stay at its address until then
//!   (libgcc parses it lazily, at the first lookup).
//! * LLVM's libunwind (macOS, some musl and BSD systems): one FDE per
//!   call; the CIE is found through the FDE's pointer.
//!
//! libunwind is recognised by its `__unw_add_dynamic_fde` symbol, and then
//! each FDE is registered on its own; otherwise the section is registered
//! whole. Both deregister exactly what they registered.
//!
//! Traps do not use these tables: the signal handler walks frame pointers
//! (`traps`), so trap backtraces work with `Config::native_unwind_info`
//! off, and unwinding bugs cannot break them.

use cranelift_asm::unwind::{UnwindConvention, UnwindInst};
use gimli::write::{
    Address, CallFrameInstruction, CommonInformationEntry, EhFrame, EndianVec,
    FrameDescriptionEntry, FrameTable, Writer,
};
use gimli::{Encoding, Format, LittleEndian, Register};

use crate::loaded::JitFunction;

/// The CFI encoding of `.eh_frame` (CIE version 1) and `.debug_frame`.
fn cfi_encoding() -> Encoding {
    Encoding {
        format: Format::Dwarf32,
        version: 1,
        address_size: 8,
    }
}

/// The call-frame instruction a record stands for.
fn call_frame_instruction(inst: UnwindInst) -> CallFrameInstruction {
    let register = |reg: cranelift_asm::unwind::UnwindReg| Register(reg.0);
    match inst {
        UnwindInst::DefineCfa { reg, offset } => {
            CallFrameInstruction::Cfa(register(reg), offset as i32)
        }
        UnwindInst::CfaRegister { reg } => CallFrameInstruction::CfaRegister(register(reg)),
        UnwindInst::CfaOffset { offset } => CallFrameInstruction::CfaOffset(offset as i32),
        UnwindInst::SavedAt { reg, below_cfa } => {
            CallFrameInstruction::Offset(register(reg), -(below_cfa as i32))
        }
        UnwindInst::Restored { reg } => CallFrameInstruction::Restore(register(reg)),
        UnwindInst::RememberState => CallFrameInstruction::RememberState,
        UnwindInst::RestoreState => CallFrameInstruction::RestoreState,
    }
}

/// How an FDE names the first byte of its function.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(crate) enum FdeAddresses {
    /// By absolute address (`DW_EH_PE_absptr`): the functions' ranges are
    /// addresses, and the section is valid for code at those addresses
    /// only.
    Absolute,
    /// Relative to the field that holds it (`DW_EH_PE_pcrel |
    /// DW_EH_PE_sdata4`, what linkers write into executables): the
    /// functions' ranges are offsets in a code image whose byte
    /// `section_offset` is where the section is placed. The section is
    /// then valid wherever the image is mapped, as long as it stays at
    /// that distance from the code (a precompiled module maps both
    /// together).
    RelativeToSection {
        /// The section's offset in the image.
        section_offset: usize,
    },
}

/// The frame table of `functions`: the ISA's CIE and an FDE for each
/// function that recorded its frame, at its absolute address. `None` when
/// no function did.
pub(crate) fn frame_table(
    convention: &UnwindConvention,
    functions: &[JitFunction<'_>],
) -> Option<FrameTable> {
    frame_table_with(convention, functions, FdeAddresses::Absolute)
}

/// [`frame_table`], with the FDEs' addresses written as `addresses`
/// says.
fn frame_table_with(
    convention: &UnwindConvention,
    functions: &[JitFunction<'_>],
    addresses: FdeAddresses,
) -> Option<FrameTable> {
    let mut cie = CommonInformationEntry::new(
        cfi_encoding(),
        convention.code_alignment,
        convention.data_alignment,
        Register(convention.return_address.0),
    );
    if let FdeAddresses::RelativeToSection { .. } = addresses {
        cie.fde_address_encoding = gimli::DW_EH_PE_pcrel | gimli::DW_EH_PE_sdata4;
    }
    let address = |start: usize| match addresses {
        FdeAddresses::Absolute => Address::Constant(start as u64),
        // gimli writes a pc-relative pointer as this value (an offset from
        // the section's start, two's complement) minus the field's offset
        // in the section, and refuses one that does not fit in 32 bits.
        FdeAddresses::RelativeToSection { section_offset } => {
            Address::Constant(start.wrapping_sub(section_offset) as u64)
        }
    };
    for &inst in convention.entry {
        cie.add_instruction(call_frame_instruction(inst));
    }
    let mut table = FrameTable::default();
    let cie = table.add_cie(cie);
    let mut any = false;
    for function in functions {
        let records = function.unwind;
        if records.is_empty() {
            continue;
        }
        let len = u32::try_from(function.range.len())
            .expect("a function's code is smaller than the assembler's limit");
        let mut fde = FrameDescriptionEntry::new(address(function.range.start), len);
        for record in records {
            fde.add_instruction(record.offset, call_frame_instruction(record.inst));
        }
        table.add_fde(cie, fde);
        any = true;
    }
    any.then_some(table)
}

/// A whole `.eh_frame` section for `functions`, terminated by a
/// zero-length entry, with addresses as `addresses` says; `None` when no
/// function recorded its frame.
pub(crate) fn eh_frame(
    convention: &UnwindConvention,
    functions: &[JitFunction<'_>],
    addresses: FdeAddresses,
) -> Result<Option<Vec<u8>>, gimli::write::Error> {
    // gimli's table holds every FDE's instructions as values, several
    // times the size of the bytes written: built for a whole module of a
    // million small functions it was most of the module's peak memory
    // (700 MB). A table per chunk of functions, each written after the
    // one before with its own copy of the CIE (FDEs name their CIE by
    // offset, so a section may hold several), keeps that transient small.
    const FUNCTIONS_PER_TABLE: usize = 4096;
    let mut eh_frame = EhFrame(EndianVec::new(LittleEndian));
    let mut any = false;
    for chunk in functions.chunks(FUNCTIONS_PER_TABLE) {
        if let Some(table) = frame_table_with(convention, chunk, addresses) {
            table.write_eh_frame(&mut eh_frame)?;
            any = true;
        }
    }
    if !any {
        return Ok(None);
    }
    // The terminator libgcc's walk over the section stops at.
    eh_frame.0.write_u32(0)?;
    Ok(Some(eh_frame.0.into_vec()))
}

/// The unwinder's registration functions (libgcc's and LLVM libunwind's
/// share these names; see the module docs for their arguments).
mod sys {
    unsafe extern "C" {
        pub fn __register_frame(begin: *const u8);
        pub fn __deregister_frame(begin: *const u8);
    }
}

/// Whether the process unwinds with LLVM's libunwind (one FDE per
/// `__register_frame`) rather than libgcc (a whole section).
fn using_libunwind() -> bool {
    static LIBUNWIND: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *LIBUNWIND.get_or_init(|| {
        // SAFETY: `dlsym` with RTLD_DEFAULT and a NUL-terminated name only
        // looks the symbol up.
        let symbol = unsafe { libc::dlsym(libc::RTLD_DEFAULT, c"__unw_add_dynamic_fde".as_ptr()) };
        !symbol.is_null()
    })
}

/// Checks that `section` is a sequence of entries each within the
/// section (32-bit DWARF lengths, as gimli writes), ending with the
/// zero-length terminator at its very end: what walking it (here, in
/// [`fde_offsets`], and in the unwinder) relies on to stay inside it. The
/// entries' contents are not checked.
pub(crate) fn check_section(section: &[u8]) -> Result<(), String> {
    let mut at = 0;
    loop {
        let Some(length) = section.get(at..at + 4) else {
            return Err(format!(
                "the .eh_frame section of {} bytes has no terminator",
                section.len()
            ));
        };
        let length = u32::from_le_bytes(length.try_into().expect("4 bytes")) as usize;
        if length == 0 {
            return match at + 4 == section.len() {
                true => Ok(()),
                false => Err(format!(
                    "the .eh_frame section of {} bytes ends at byte {}",
                    section.len(),
                    at + 4
                )),
            };
        }
        // At least the CIE id or pointer, and within the section.
        match (at + 4).checked_add(length) {
            Some(end) if length >= 4 && length != 0xffff_ffff && end <= section.len() => at = end,
            _ => {
                return Err(format!(
                    "an .eh_frame entry at byte {at} of length {length} does not fit in the \
                     section's {} bytes",
                    section.len()
                ));
            }
        }
    }
}

/// The offsets of the FDEs (not the CIEs) of an `.eh_frame` section.
fn fde_offsets(section: &[u8]) -> Vec<usize> {
    let word = |at: usize| u32::from_le_bytes(section[at..at + 4].try_into().expect("4 bytes"));
    let mut offsets = Vec::new();
    let mut at = 0;
    // Each entry: length (u32, not counting itself), CIE id or pointer
    // (0 for a CIE), contents. gimli writes 32-bit DWARF, never the
    // 0xffff_ffff escape.
    while at + 4 <= section.len() {
        let len = word(at) as usize;
        if len == 0 {
            break;
        }
        if word(at + 4) != 0 {
            offsets.push(at);
        }
        at += 4 + len;
    }
    offsets
}

/// An `.eh_frame` section registered with the system unwinder; dropping
/// it deregisters it (before the code it describes may be unmapped: the
/// owner drops this first).
#[derive(Debug)]
pub(crate) struct UnwindRegistration {
    /// The section, at the address the unwinder was given, when this
    /// registration owns it (built for freshly compiled code); `None` for
    /// a section that lies in the code's own mapping (a precompiled
    /// module's, [`UnwindRegistration::in_place`]).
    #[allow(
        dead_code,
        reason = "owned for the unwinder, which reads it through `registered`"
    )]
    owned: Option<Box<[u8]>>,
    /// What was passed to `__register_frame`: the section's start
    /// (libgcc) or each FDE (libunwind).
    registered: Vec<usize>,
}

impl UnwindRegistration {
    /// Registers unwind tables for `functions` (whose code must stay
    /// mapped until the registration is dropped); `None` when none of them
    /// recorded a frame.
    pub(crate) fn new(
        convention: &UnwindConvention,
        functions: &[JitFunction<'_>],
    ) -> Result<Option<UnwindRegistration>, gimli::write::Error> {
        let Some(section) = eh_frame(convention, functions, FdeAddresses::Absolute)? else {
            return Ok(None);
        };
        let section = section.into_boxed_slice();
        // SAFETY: the section is moved into the registration below, so it
        // stays at its address until the registration is dropped; it
        // describes `functions`, which the caller keeps mapped until then.
        let mut registration = unsafe { UnwindRegistration::in_place(&section) };
        registration.owned = Some(section);
        Ok(Some(registration))
    }

    /// Registers `section`, a whole `.eh_frame` section (terminated) that
    /// someone else owns, without copying it: a precompiled module's,
    /// which lies after its code in the code's mapping and names the
    /// functions pc-relatively ([`FdeAddresses::RelativeToSection`]).
    /// libgcc reads nothing now (it sorts the FDEs at the first lookup),
    /// so this costs no work per function.
    ///
    /// # Safety
    ///
    /// `section` must be a well-formed `.eh_frame` section (the unwinder
    /// trusts it), must stay at its address, unchanged, and the code it
    /// describes mapped, until the registration is dropped.
    pub(crate) unsafe fn in_place(section: &[u8]) -> UnwindRegistration {
        let base = section.as_ptr() as usize;
        let registered: Vec<usize> = if using_libunwind() {
            fde_offsets(section).into_iter().map(|o| base + o).collect()
        } else {
            vec![base]
        };
        for &entry in &registered {
            // SAFETY: `entry` is the section's start (libgcc) or one of its
            // FDEs (libunwind), which the caller keeps at its address until
            // `drop` deregisters it, describing code the caller keeps
            // mapped until then.
            unsafe { sys::__register_frame(entry as *const u8) };
        }
        UnwindRegistration {
            owned: None,
            registered,
        }
    }

    /// The registered `.eh_frame` section, when owned.
    #[cfg(test)]
    pub(crate) fn section(&self) -> &[u8] {
        self.owned.as_deref().unwrap_or_default()
    }
}

impl Drop for UnwindRegistration {
    fn drop(&mut self) {
        for &entry in self.registered.iter().rev() {
            // SAFETY: registered in `in_place` with this very pointer, and
            // not deregistered since; the section is still alive (owned
            // here, or by the code's mapping, which outlives this).
            unsafe { sys::__deregister_frame(entry as *const u8) };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cranelift_asm::FinishedCode;
    use cranelift_asm::x64::{Assembler, CpuFeatures, Gpr, UNWIND_CONVENTION};
    use gimli::{BaseAddresses, CieOrFde, UnwindSection};

    fn framed_function() -> FinishedCode {
        let mut asm = Assembler::new(CpuFeatures::baseline());
        asm.push_frame();
        asm.push_saved(Gpr::RBX, 8);
        asm.nop(1);
        asm.begin_epilogue();
        asm.pop_saved(Gpr::RBX);
        asm.pop_frame();
        asm.ret_from_frame();
        asm.finish().unwrap()
    }

    #[test]
    fn the_section_holds_one_cie_and_an_fde_per_framed_function() {
        let framed = framed_function();
        let mut asm = Assembler::new(CpuFeatures::baseline());
        asm.ret();
        let frameless = asm.finish().unwrap();
        let functions = [
            JitFunction {
                name: "framed",
                range: 0x10000..0x10000 + framed.code().len(),
                unwind: framed.unwind(),
                srclocs: framed.srclocs().into(),
            },
            JitFunction {
                name: "frameless",
                range: 0x10010..0x10011,
                unwind: frameless.unwind(),
                srclocs: frameless.srclocs().into(),
            },
        ];
        let section = eh_frame(&UNWIND_CONVENTION, &functions, FdeAddresses::Absolute)
            .unwrap()
            .unwrap();
        assert_eq!(section[section.len() - 4..], [0, 0, 0, 0], "terminator");
        assert_eq!(fde_offsets(&section).len(), 1);

        // Read it back with gimli's parser and ask for the rows.
        let eh_frame = gimli::EhFrame::new(&section, LittleEndian);
        let bases = BaseAddresses::default().set_eh_frame(0);
        let mut entries = eh_frame.entries(&bases);
        let mut fdes = Vec::new();
        while let Some(entry) = entries.next().unwrap() {
            if let CieOrFde::Fde(partial) = entry {
                fdes.push(partial.parse(gimli::EhFrame::cie_from_offset).unwrap());
            }
        }
        assert_eq!(fdes.len(), 1);
        let fde = &fdes[0];
        assert_eq!(fde.initial_address(), 0x10000);
        let mut context = gimli::UnwindContext::new();
        let row_at = |context: &mut gimli::UnwindContext<usize>, offset: u64| {
            fde.unwind_info_for_address(&eh_frame, &bases, context, 0x10000 + offset)
                .unwrap_or_else(|e| panic!("offset {offset}: {e:?} (fde {fde:?})"))
                .clone()
        };
        let (rsp, rbp, rbx) = (Register(7), Register(6), Register(3));
        let cfa = |row: &gimli::UnwindTableRow<usize>| match *row.cfa() {
            gimli::CfaRule::RegisterAndOffset { register, offset } => (register, offset),
            _ => panic!("an expression"),
        };
        // Entry: CFA = rsp + 8; after push rbp: rsp + 16; after mov: rbp + 16.
        assert_eq!(cfa(&row_at(&mut context, 0)), (rsp, 8));
        assert_eq!(cfa(&row_at(&mut context, 1)), (rsp, 16));
        let body = row_at(&mut context, 5);
        assert_eq!(cfa(&body), (rbp, 16));
        assert_eq!(body.register(rbp), Some(gimli::RegisterRule::Offset(-16)));
        assert_eq!(body.register(rbx), Some(gimli::RegisterRule::Offset(-24)));
        assert_eq!(
            body.register(Register(16)),
            Some(gimli::RegisterRule::Offset(-8))
        );
        // push rbp; mov rbp, rsp; push rbx; nop; pop rbx; pop rbp (at 7);
        // ret: after `pop rbp`, CFA = rsp + 8 again and rbp is the caller's.
        let before_ret = row_at(&mut context, 8);
        assert_eq!(cfa(&before_ret), (rsp, 8));
        assert_eq!(
            before_ret.register(rbp),
            None,
            "the CIE's rule: the caller's value"
        );
    }

    /// A section written relative to itself names, wherever it is put,
    /// the functions at the same distance before it: read back with
    /// gimli at two section addresses, each FDE starts at the section's
    /// address minus its offset in the image plus the function's offset.
    /// It passes `check_section`, and damage to its lengths does not.
    #[test]
    fn a_relative_section_names_its_functions_wherever_it_is_placed() {
        let framed = framed_function();
        let len = framed.code().len();
        let functions: Vec<JitFunction<'_>> = [0x40, 0x1000]
            .into_iter()
            .map(|start| JitFunction {
                name: "framed",
                range: start..start + len,
                unwind: framed.unwind(),
                srclocs: Default::default(),
            })
            .collect();
        let section_offset = 0x2008;
        let addresses = FdeAddresses::RelativeToSection { section_offset };
        let section = eh_frame(&UNWIND_CONVENTION, &functions, addresses)
            .unwrap()
            .unwrap();
        assert_eq!(check_section(&section), Ok(()));
        for section_address in [0x7f00_0000_2008u64, 0x5555_0000_a008] {
            let eh_frame = gimli::EhFrame::new(&section, LittleEndian);
            let bases = BaseAddresses::default().set_eh_frame(section_address);
            let mut entries = eh_frame.entries(&bases);
            let mut starts = Vec::new();
            while let Some(entry) = entries.next().unwrap() {
                if let CieOrFde::Fde(partial) = entry {
                    let fde = partial.parse(gimli::EhFrame::cie_from_offset).unwrap();
                    assert_eq!(fde.len(), len as u64);
                    starts.push(fde.initial_address());
                }
            }
            let image = section_address - section_offset as u64;
            assert_eq!(starts, [image + 0x40, image + 0x1000]);
        }

        let mut long = section.clone();
        long[..4].copy_from_slice(&(section.len() as u32).to_le_bytes());
        assert!(check_section(&long).is_err());
        assert!(check_section(&section[..section.len() - 4]).is_err());
        assert!(check_section(&[section.as_slice(), &[0; 4]].concat()).is_err());
        assert!(check_section(&[]).is_err());
    }

    #[test]
    fn registering_and_deregistering_round_trips() {
        let framed = framed_function();
        let functions = [JitFunction {
            name: "framed",
            range: 0x20000..0x20000 + framed.code().len(),
            unwind: framed.unwind(),
            srclocs: framed.srclocs().into(),
        }];
        let registration = UnwindRegistration::new(&UNWIND_CONVENTION, &functions)
            .unwrap()
            .expect("a framed function");
        assert!(!registration.section().is_empty());
        drop(registration); // deregisters; libgcc aborts on an unknown one
        assert!(
            UnwindRegistration::new(&UNWIND_CONVENTION, &[])
                .unwrap()
                .is_none()
        );
    }

    /// A module with more functions than one gimli table takes is
    /// written as several tables, each with its CIE: every FDE still
    /// parses, against a CIE, and covers its own function.
    #[test]
    fn many_functions_are_written_in_tables_of_their_own() {
        let framed = framed_function();
        let len = framed.code().len();
        let count = 10_000;
        let functions: Vec<JitFunction<'_>> = (0..count)
            .map(|i| JitFunction {
                name: "framed",
                range: 0x100000 + i * 64..0x100000 + i * 64 + len,
                unwind: framed.unwind(),
                srclocs: framed.srclocs().into(),
            })
            .collect();
        let section = eh_frame(&UNWIND_CONVENTION, &functions, FdeAddresses::Absolute)
            .unwrap()
            .unwrap();
        assert_eq!(fde_offsets(&section).len(), count);
        let eh_frame = gimli::EhFrame::new(&section, LittleEndian);
        let bases = BaseAddresses::default().set_eh_frame(0);
        let mut entries = eh_frame.entries(&bases);
        let (mut cies, mut starts) = (0, Vec::new());
        while let Some(entry) = entries.next().unwrap() {
            match entry {
                CieOrFde::Cie(_) => cies += 1,
                CieOrFde::Fde(partial) => {
                    let fde = partial.parse(gimli::EhFrame::cie_from_offset).unwrap();
                    assert_eq!(fde.len(), len as u64);
                    starts.push(fde.initial_address());
                }
            }
        }
        assert_eq!(cies, count.div_ceil(4096), "a CIE per table");
        let expected: Vec<u64> = (0..count).map(|i| 0x100000 + i as u64 * 64).collect();
        assert_eq!(starts, expected);
    }
}
