//! Atomic read-modify-write instructions, for the threads proposal.
//!
//! The forms (the manual's mnemonic and encoding, the CPU feature) are
//! declared in the instruction table (`xtask/src/x64/table.rs`, see
//! `docs/assembler.md`); the encoders here emit the declared forms.
//!
//! XCHG with a memory operand is locked by the CPU without a prefix.
//! CMPXCHG16B and the LOCK-prefixed forms of the ALU instructions are left
//! out until the threads work needs them.

use super::{Assembler, Imm, Prefixes, Rm, forms};
use crate::x64::OperandSize;
use crate::x64::args::Amode;
use crate::x64::regs::Gpr;

impl Assembler {
    /// `xchg [mem], src`: swaps atomically; `src` receives the old value.
    pub fn xchg_mr(&mut self, size: OperandSize, mem: &Amode, src: Gpr) {
        let p = Prefixes::for_size(size).byte_reg(size, src.enc());
        let form = forms::form_xchg(size).expect("every size has a form");
        self.emit_form(form, p, src.enc(), Rm::Mem(mem), Imm::None);
    }

    /// `lock cmpxchg [mem], replacement`: if `[mem]` equals rax, stores
    /// `replacement`; rax receives the old value; ZF tells which happened.
    pub fn lock_cmpxchg(&mut self, size: OperandSize, mem: &Amode, replacement: Gpr) {
        let p = Prefixes::for_size(size)
            .lock()
            .byte_reg(size, replacement.enc());
        let form = forms::form_lock_cmpxchg(size).expect("every size has a form");
        self.emit_form(form, p, replacement.enc(), Rm::Mem(mem), Imm::None);
    }

    /// `lock xadd [mem], src`: adds atomically; `src` receives the old value.
    pub fn lock_xadd(&mut self, size: OperandSize, mem: &Amode, src: Gpr) {
        let p = Prefixes::for_size(size).lock().byte_reg(size, src.enc());
        let form = forms::form_lock_xadd(size).expect("every size has a form");
        self.emit_form(form, p, src.enc(), Rm::Mem(mem), Imm::None);
    }

    /// `mfence`: orders all earlier loads and stores before later ones.
    pub fn mfence(&mut self) {
        // ModRM F0: mod 11, reg /6, rm 0.
        self.emit_form(
            forms::form_mfence(),
            Prefixes::NONE,
            0,
            Rm::Reg(0),
            Imm::None,
        );
    }
}
