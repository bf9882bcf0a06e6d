//! Bit counting, bit scanning and byte swapping.
//!
//! The forms (the manual's mnemonic and encoding, the CPU feature) are
//! declared in the instruction table (`xtask/src/x64/table.rs`, see
//! `docs/assembler.md`); the encoders here emit the declared forms.
//!
//! All have 16-, 32- and 64-bit forms (BSWAP 32 and 64 only). On a CPU
//! without LZCNT (TZCNT) the F3-prefixed encoding silently runs as BSR
//! (BSF), with different results, which is why the feature check matters.

use super::{AsmError, Assembler, Imm, Prefixes, Rm, forms};
use crate::x64::args::GprMem;
use crate::x64::regs::Gpr;
use crate::x64::{BitOp, OperandSize};

impl Assembler {
    /// `op dst, src` for LZCNT, TZCNT, POPCNT, BSR and BSF.
    pub fn bit_count(&mut self, op: BitOp, size: OperandSize, dst: Gpr, src: &GprMem) {
        if !self.require(op.feature(), op.mnemonic()) {
            return;
        }
        if size == OperandSize::S8 {
            self.fail(AsmError::InvalidOperand {
                mnemonic: op.mnemonic(),
                reason: "there is no 8-bit form",
            });
            return;
        }
        self.emit_form(
            op.form(),
            Prefixes::for_size(size),
            dst.enc(),
            Rm::from(src),
            Imm::None,
        );
    }

    /// `bswap dst` (32 or 64 bits).
    pub fn bswap(&mut self, size: OperandSize, dst: Gpr) {
        if matches!(size, OperandSize::S8 | OperandSize::S16) {
            // BSWAP of a 16-bit register is undefined in the manual.
            self.fail(AsmError::InvalidOperand {
                mnemonic: "bswap",
                reason: "only 32- and 64-bit forms exist",
            });
            return;
        }
        let form = forms::form_bswap(size).expect("32 and 64 bits have a form");
        self.emit_form_opcode(form, Prefixes::for_size(size), dst.enc(), Imm::None);
    }
}
