//! The x86-64 ISA.
//!
//! * [`regs`]: physical registers ([`Gpr`], [`Xmm`]) and register operands
//!   ([`GprReg`], [`XmmReg`]) for instructions built before allocation;
//! * [`args`]: memory operands ([`Amode`]) and the register/memory/immediate
//!   operand unions, generic over [`Physical`] or [`Virtual`] registers;
//! * [`features`]: CPU features and which forms need them;
//! * [`Assembler`]: one method per instruction form, straight into the
//!   buffer (what the baseline compiler uses);
//! * [`MInst`]: the same instructions as values over virtual registers, with
//!   a register-operand visitor and `emit` (what the optimizing compiler
//!   uses), declared with every instruction form in the instruction table
//!   (`xtask/src/x64/table.rs`), which generates `isle/asm/x64/inst.isle`
//!   and the Rust that walks, encodes and feature-checks each `MInst`;
//! * [`UNWIND_CONVENTION`] and the assembler's frame methods
//!   ([`Assembler::push_frame`] and its siblings), which emit the frame
//!   set-up and tear-down together with their unwind records.
//!
//! Label references on x86-64 are all 32-bit PC-relative ([`LabelUse::Rel32`]):
//! they reach any offset in a function (functions are limited to
//! [`MAX_CODE_SIZE`]), so x86-64 code never needs an island. Branches to a
//! label already bound within 128 bytes behind take the 2-byte rel8 form.

pub mod args;
pub mod asm;
pub mod features;
pub mod inst;
pub mod regs;

pub use args::{
    Amode, GprImm, GprMem, GprMemImm, Physical, RegFamily, Scale, ShiftCount, Virtual, XmmMem,
};
pub use asm::{AsmError, Assembler, JumpTableTargets, PatchableImm32};
pub use features::{CpuFeatures, Feature};
pub use inst::{
    AluOp, AvxBlendvOp, AvxExtractOp, AvxImmOp, AvxInsertOp, AvxMoveMaskOp, AvxOp, AvxShiftImmOp,
    AvxStoreOp, AvxTestOp, AvxUnaryImmOp, AvxUnaryOp, BitOp, CC, ExtMode, FloatSize, MInst,
    OperandSize, RoundMode, ShiftOp, SseBlendvOp, SseExtractOp, SseImmOp, SseInsertOp, SseMovOp,
    SseMoveMaskOp, SseOp, SseRegOp, SseShiftImmOp, SseTestOp, SseUnaryImmOp, SseUnaryOp, UnaryOp,
};
pub use regs::{Gpr, GprReg, WritableGpr, WritableXmm, Xmm, XmmReg};

use crate::buffer::{CodeOffset, MachTarget};
use crate::unwind::{UnwindConvention, UnwindInst, UnwindReg};

/// The frame at every x86-64 function's first instruction: the call
/// pushed the return address, so the CFA is `rsp + 8` and the return
/// address (DWARF column 16) is at `CFA - 8`.
pub const UNWIND_CONVENTION: UnwindConvention = UnwindConvention {
    return_address: RETURN_ADDRESS,
    entry: &[
        UnwindInst::DefineCfa {
            reg: Gpr::RSP.dwarf(),
            offset: 8,
        },
        UnwindInst::SavedAt {
            reg: RETURN_ADDRESS,
            below_cfa: 8,
        },
    ],
    code_alignment: 1,
    data_alignment: -8,
};

/// The return address's DWARF column on x86-64.
const RETURN_ADDRESS: UnwindReg = UnwindReg(16);

/// The largest function the x86-64 assembler accepts (1 GiB), so that every
/// 32-bit PC-relative reference, with its addend, reaches every offset.
pub const MAX_CODE_SIZE: CodeOffset = 1 << 30;

/// The x86-64 target of a [`MachBuffer`](crate::MachBuffer).
#[derive(Copy, Clone, Debug)]
pub struct X64;

impl MachTarget for X64 {
    type LabelUse = LabelUse;
    /// `ud2`.
    const TRAP_INSTRUCTION: &'static [u8] = &[0x0F, 0x0B];
    /// `int3`: a stray jump into padding stops at once.
    const PADDING_BYTE: u8 = 0xCC;
    const FUNCTION_ALIGNMENT: u32 = 16;
}

/// The kinds of label reference x86-64 code makes.
#[derive(Copy, Clone, PartialEq, Eq, Debug)]
pub enum LabelUse {
    /// A signed 32-bit field holding `label - field + addend`, where the
    /// addend is the field's initial contents: `-4` for a branch (relative to
    /// the end of the field, which ends the instruction), `-(4 + n)` for a
    /// RIP-relative operand followed by an `n`-byte immediate, and
    /// `entry - table` for a jump-table entry.
    Rel32,
}

impl crate::buffer::LabelUse for LabelUse {
    fn max_pos_range(self) -> CodeOffset {
        MAX_CODE_SIZE
    }

    fn max_neg_range(self) -> CodeOffset {
        MAX_CODE_SIZE
    }

    fn patch_size(self) -> CodeOffset {
        4
    }

    fn patch(self, field: &mut [u8], use_offset: CodeOffset, label_offset: CodeOffset) {
        let addend = i32::from_le_bytes(field[..4].try_into().expect("a 4-byte field"));
        // Both offsets are below MAX_CODE_SIZE (2^30) and addends are small,
        // so the sum fits in 32 bits.
        let value = (label_offset as i32)
            .wrapping_sub(use_offset as i32)
            .wrapping_add(addend);
        field[..4].copy_from_slice(&value.to_le_bytes());
    }

    fn veneer_size(self) -> Option<CodeOffset> {
        None
    }

    fn worst_case_veneer_size() -> CodeOffset {
        0
    }

    fn generate_veneer(self, _: &mut [u8], _: CodeOffset) -> (CodeOffset, Self) {
        unreachable!("x86-64 label uses reach the whole function and have no veneers")
    }
}

impl CC {
    /// The condition's number: the low nibble of Jcc (70+cc, 0F 80+cc),
    /// SETcc (0F 90+cc) and CMOVcc (0F 40+cc).
    pub const fn enc(self) -> u8 {
        self as u8
    }

    /// The opposite condition (conditions come in pairs differing in bit 0).
    pub const fn invert(self) -> CC {
        CC::ALL[(self as usize) ^ 1]
    }
}

impl OperandSize {
    /// The width in bits.
    pub const fn bits(self) -> u32 {
        match self {
            OperandSize::S8 => 8,
            OperandSize::S16 => 16,
            OperandSize::S32 => 32,
            OperandSize::S64 => 64,
        }
    }

    /// The width in bytes.
    pub const fn bytes(self) -> u32 {
        self.bits() / 8
    }
}

#[cfg(test)]
mod tests {
    use super::CC;

    /// The ISLE declaration order is the hardware numbering (SDM Vol. 2,
    /// "Jcc"); `enc` and `invert` depend on it.
    #[test]
    fn condition_codes_are_numbered_as_in_the_manual() {
        let manual = [
            (CC::O, 0x0),
            (CC::NO, 0x1),
            (CC::B, 0x2),
            (CC::AE, 0x3),
            (CC::Z, 0x4),
            (CC::NZ, 0x5),
            (CC::BE, 0x6),
            (CC::A, 0x7),
            (CC::S, 0x8),
            (CC::NS, 0x9),
            (CC::P, 0xA),
            (CC::NP, 0xB),
            (CC::L, 0xC),
            (CC::GE, 0xD),
            (CC::LE, 0xE),
            (CC::G, 0xF),
        ];
        for (cc, enc) in manual {
            assert_eq!(cc.enc(), enc, "{cc:?}");
        }
        let opposites = [
            (CC::Z, CC::NZ),
            (CC::B, CC::AE),
            (CC::L, CC::GE),
            (CC::A, CC::BE),
            (CC::P, CC::NP),
        ];
        for (cc, opposite) in opposites {
            assert_eq!(cc.invert(), opposite);
            assert_eq!(opposite.invert(), cc);
        }
    }
}
