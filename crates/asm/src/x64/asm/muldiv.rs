//! Multiplication and division (base instruction set).
//!
//! The forms (the manual's mnemonic and encoding, the CPU feature) are
//! declared in the instruction table (`xtask/src/x64/table.rs`, see
//! `docs/assembler.md`); the encoders here emit the declared forms.
//!
//! The 8-bit forms (`F6 /4..7`, which use `ax` rather than `rdx:rax`) are
//! left out: WebAssembly has no 8-bit arithmetic.

use super::{AsmError, Assembler, Imm, Prefixes, Rm, forms};
use crate::metadata::TrapCode;
use crate::x64::OperandSize;
use crate::x64::args::GprMem;
use crate::x64::regs::Gpr;

impl Assembler {
    /// Rejects an 8-bit size for a form that has none.
    fn no_byte_form(&mut self, size: OperandSize, mnemonic: &'static str) -> bool {
        if size == OperandSize::S8 {
            self.fail(AsmError::InvalidOperand {
                mnemonic,
                reason: "there is no 8-bit form",
            });
            return false;
        }
        true
    }

    /// `imul dst, src`: dst = dst * src (truncated).
    pub fn imul_rm(&mut self, size: OperandSize, dst: Gpr, src: &GprMem) {
        if self.no_byte_form(size, "imul") {
            let form = forms::form_imul();
            self.emit_form(
                form,
                Prefixes::for_size(size),
                dst.enc(),
                Rm::from(src),
                Imm::None,
            );
        }
    }

    /// `imul dst, src` (registers).
    pub fn imul_rr(&mut self, size: OperandSize, dst: Gpr, src: Gpr) {
        self.imul_rm(size, dst, &GprMem::Gpr(src));
    }

    /// `imul dst, src, imm`: dst = src * imm (three-operand form).
    pub fn imul_rmi(&mut self, size: OperandSize, dst: Gpr, src: &GprMem, imm: i32) {
        if !self.no_byte_form(size, "imul") {
            return;
        }
        let (form, imm) = if i8::try_from(imm).is_ok() {
            (forms::form_imul_imm_ib(), Imm::I8(imm as i8))
        } else {
            match self.sized_imm(size, imm, "imul") {
                Some(imm) => (forms::form_imul_imm_id(), imm),
                None => return,
            }
        };
        self.emit_form(
            form,
            Prefixes::for_size(size),
            dst.enc(),
            Rm::from(src),
            imm,
        );
    }

    /// `mul src` (unsigned) or `imul src` (signed): rdx:rax = rax * src.
    pub fn mul_wide(&mut self, signed: bool, size: OperandSize, src: &GprMem) {
        let form = forms::form_mul_wide(signed).expect("both have a form");
        if self.no_byte_form(size, form.mnemonic) {
            self.emit_form(form, Prefixes::for_size(size), 0, Rm::from(src), Imm::None);
        }
    }

    /// `div divisor` (unsigned) or `idiv divisor` (signed): rax = rdx:rax /
    /// divisor, rdx = rdx:rax % divisor. When `trap` is given, the
    /// instruction is in the trap table with it (the CPU faults on a zero
    /// divisor and on a quotient that does not fit); a memory divisor then
    /// may not carry a trap code of its own.
    pub fn div(
        &mut self,
        signed: bool,
        size: OperandSize,
        divisor: &GprMem,
        trap: Option<TrapCode>,
    ) {
        let form = forms::form_div(signed).expect("both have a form");
        let mnemonic = form.mnemonic;
        if !self.no_byte_form(size, mnemonic) {
            return;
        }
        if let Some(code) = trap {
            if let GprMem::Mem(m) = divisor
                && m.trap().is_some()
            {
                // The trap table maps an instruction to one code; this one
                // could fault for two reasons.
                self.fail(AsmError::InvalidOperand {
                    mnemonic,
                    reason: "a divisor in memory with its own trap code would give the division two trap codes; load it first",
                });
                return;
            }
            self.buffer.add_trap(code);
        }
        self.emit_form(
            form,
            Prefixes::for_size(size),
            0,
            Rm::from(divisor),
            Imm::None,
        );
    }

    /// `cwd`, `cdq` or `cqo`: fills rdx (dx, edx) with the sign of rax.
    pub fn sign_extend_rax_into_rdx(&mut self, size: OperandSize) {
        if self.no_byte_form(size, "cdq") {
            let form = forms::form_sign_extend_rax_rdx(size).expect("16, 32 and 64 bits have one");
            self.emit_form_opcode(form, Prefixes::NONE, 0, Imm::None);
        }
    }

    /// `cdq`: edx = sign of eax.
    pub fn cdq(&mut self) {
        self.sign_extend_rax_into_rdx(OperandSize::S32);
    }

    /// `cqo`: rdx = sign of rax.
    pub fn cqo(&mut self) {
        self.sign_extend_rax_into_rdx(OperandSize::S64);
    }
}
