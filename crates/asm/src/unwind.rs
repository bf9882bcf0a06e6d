//! Unwind records: where a function's caller's frame is, at every offset
//! of its code, so that an unwinder (the system's, a debugger's, a
//! profiler's) can walk from a pc inside generated code to its caller.
//!
//! # The model
//!
//! The records follow the call-frame information (CFI) model of DWARF,
//! which every unwinder on ELF systems reads: at each pc, the **CFA**
//! (canonical frame address: the stack pointer just before the call that
//! entered this function) is some register plus an offset, and each
//! register the caller expects preserved is either untouched or saved at
//! `CFA - k`. The return address is one of those "registers" (on x86-64 a
//! column of its own, saved at `CFA - 8` by the call instruction).
//!
//! ```text
//!   what the ISA says at entry (UnwindConvention::entry, the CIE)
//!        │
//!        ▼  records, in code order; each holds from its offset on
//!   offset 1   CfaOffset 16         after `push rbp`
//!   offset 1   SavedAt rbp, 16      the caller's rbp is at CFA - 16
//!   offset 4   CfaRegister rbp      after `mov rbp, rsp`: CFA = rbp + 16
//!   offset 6   SavedAt r14, 24      after `push r14`
//!   …          (the body: pushes and pops do not move the CFA any more)
//!   offset n   RememberState        an epilogue starts
//!   offset n+k Restored r14         after `pop r14`
//!   offset n+l DefineCfa rsp, 8     after `pop rbp`
//!   offset n+l Restored rbp
//!   offset n+m RestoreState         after `ret`: code after the epilogue
//!                                   (trap stubs, other blocks) has the body's frame
//! ```
//!
//! A record at offset `o` describes the state *before the instruction at
//! `o`* executes, that is, after every instruction ending at or before
//! `o`. Compilers record right after emitting the instruction that
//! changed the frame ([`MachBuffer::add_unwind`]).
//!
//! # Keeping ISAs apart
//!
//! Registers are DWARF register numbers ([`UnwindReg`]), which each ISA's
//! register types map to (`x64::Gpr::dwarf`), and the state at a
//! function's entry comes from the ISA ([`UnwindConvention`], e.g.
//! [`x64::UNWIND_CONVENTION`](crate::x64::UNWIND_CONVENTION)). Nothing
//! here knows x86-64: AArch64's `stp x29, x30, [sp, #-16]!; mov x29, sp`
//! is `CfaOffset 16, SavedAt x29 16, SavedAt x30 8, CfaRegister x29`.
//! (Pointer authentication will need one more instruction kind.)
//!
//! # Records and the buffer's rewrites
//!
//! The buffer records nothing but what it is told, and its branch
//! rewrites never change what a frame looks like: a removed branch at the
//! tail takes the records made after it to its start (they then describe
//! the same next instruction as before). Recording unwind information
//! never changes the code's bytes.
//!
//! [`MachBuffer::add_unwind`]: crate::MachBuffer::add_unwind

use crate::buffer::CodeOffset;
use core::fmt;

/// A register as DWARF numbers it in the ISA's register mapping (x86-64:
/// `rax` 0, `rdx` 1, `rcx` 2, `rbx` 3, `rsi` 4, `rdi` 5, `rbp` 6, `rsp` 7,
/// `r8`-`r15` 8-15, the return address 16, `xmm0`-`xmm15` 17-32).
#[derive(Copy, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct UnwindReg(pub u16);

impl fmt::Debug for UnwindReg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "dwarf{}", self.0)
    }
}

/// One change to the description of a function's frame. See the
/// [module docs](self).
#[derive(Copy, Clone, PartialEq, Eq, Debug)]
pub enum UnwindInst {
    /// The CFA is `reg + offset`.
    DefineCfa {
        /// The register the CFA is computed from.
        reg: UnwindReg,
        /// What is added to it.
        offset: u32,
    },
    /// The CFA is computed from `reg`, with the same offset as before
    /// (after the stack pointer was copied into a frame pointer).
    CfaRegister {
        /// The new base register.
        reg: UnwindReg,
    },
    /// The CFA is the same register plus `offset` (after a push or pop
    /// moved the stack pointer it is computed from).
    CfaOffset {
        /// The new offset.
        offset: u32,
    },
    /// The caller's value of `reg` is saved at `CFA - below_cfa`.
    SavedAt {
        /// The saved register.
        reg: UnwindReg,
        /// How far below the CFA its slot is (positive).
        below_cfa: u32,
    },
    /// `reg` holds the caller's value again (an epilogue restored it).
    Restored {
        /// The restored register.
        reg: UnwindReg,
    },
    /// Remember the whole description (an epilogue in the middle of the
    /// code is about to change it).
    RememberState,
    /// Return to the description last remembered (the code after the
    /// epilogue's return has the frame the code before it had).
    RestoreState,
}

/// An [`UnwindInst`] that holds from `offset` on.
#[derive(Copy, Clone, PartialEq, Eq, Debug)]
pub struct UnwindRecord {
    /// The offset of the first instruction the change applies to.
    pub offset: CodeOffset,
    /// The change.
    pub inst: UnwindInst,
}

/// What an ISA's call instruction leaves and its unwinders assume: the
/// frame at every function's first instruction (DWARF's common
/// information entry, CIE).
#[derive(Copy, Clone, PartialEq, Eq, Debug)]
pub struct UnwindConvention {
    /// The column that holds the return address.
    pub return_address: UnwindReg,
    /// The description at a function's first instruction.
    pub entry: &'static [UnwindInst],
    /// Every instruction starts at a multiple of this (1 on x86-64).
    pub code_alignment: u8,
    /// Saved-register offsets are multiples of this (DWARF's data
    /// alignment factor, negative: slots grow down).
    pub data_alignment: i8,
}
