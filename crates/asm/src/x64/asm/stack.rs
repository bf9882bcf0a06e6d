//! PUSH and POP (base instruction set; 64-bit operands only).
//!
//! The forms (the manual's mnemonic and encoding, the CPU feature) are
//! declared in the instruction table (`xtask/src/x64/table.rs`, see
//! `docs/assembler.md`); the encoders here emit the declared forms.
//!
//! `POP r/m64` (8F /0) is left out: nothing pops straight into memory.

use super::{Assembler, Imm, Prefixes, Rm, forms};
use crate::x64::args::GprMemImm;
use crate::x64::regs::Gpr;

impl Assembler {
    /// `push src`: `rsp -= 8; [rsp] = src`.
    pub fn push(&mut self, src: &GprMemImm) {
        let none = Prefixes::NONE;
        match *src {
            GprMemImm::Gpr(r) => {
                self.emit_form_opcode(forms::form_push_r(), none, r.enc(), Imm::None)
            }
            GprMemImm::Mem(ref m) => {
                self.emit_form(forms::form_push_m(), none, 0, Rm::Mem(m), Imm::None)
            }
            GprMemImm::Imm(v) if i8::try_from(v).is_ok() => {
                self.emit_form_opcode(forms::form_push_ib(), none, 0, Imm::I8(v as i8))
            }
            GprMemImm::Imm(v) => self.emit_form_opcode(forms::form_push_id(), none, 0, Imm::I32(v)),
        }
    }

    /// `push src` (a register).
    pub fn push_r(&mut self, src: Gpr) {
        self.push(&GprMemImm::Gpr(src));
    }

    /// `pop dst`: `dst = [rsp]; rsp += 8`.
    pub fn pop_r(&mut self, dst: Gpr) {
        self.emit_form_opcode(forms::form_pop(), Prefixes::NONE, dst.enc(), Imm::None);
    }
}
