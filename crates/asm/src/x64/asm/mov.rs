//! Moves: MOV of every width, MOVZX/MOVSX/MOVSXD, LEA, SETcc, CMOVcc (base
//! instruction set).
//!
//! The forms (the manual's mnemonic and encoding, the CPU feature) are
//! declared in the instruction table (`xtask/src/x64/table.rs`, see
//! `docs/assembler.md`); the encoders here emit the declared forms.
//!
//! Zero-extension to 64 bits uses the 32-bit form: every write of a 32-bit
//! register clears bits 32-63, so `movzx eax, al` is `movzx rax, al` one
//! byte shorter, and `mov eax, ecx` is the zero-extension from 32 bits.
//! `SETcc m8` is left out (nothing stores a flag straight to memory).

use super::{AsmError, Assembler, Imm, Prefixes, Rm, forms};
use crate::metadata::{ExternalName, RelocKind};
use crate::x64::args::{Amode, GprMem};
use crate::x64::regs::Gpr;
use crate::x64::{CC, ExtMode, OperandSize};

impl ExtMode {
    /// The size of the source.
    pub const fn from_size(self) -> OperandSize {
        match self {
            ExtMode::BW | ExtMode::BL | ExtMode::BQ => OperandSize::S8,
            ExtMode::WL | ExtMode::WQ => OperandSize::S16,
            ExtMode::LQ => OperandSize::S32,
        }
    }

    /// The size of the destination.
    pub const fn to_size(self) -> OperandSize {
        match self {
            ExtMode::BW => OperandSize::S16,
            ExtMode::BL | ExtMode::WL => OperandSize::S32,
            ExtMode::BQ | ExtMode::WQ | ExtMode::LQ => OperandSize::S64,
        }
    }
}

/// Whether `value` is representable in `bits` bits, as an unsigned number or
/// as a sign-extended negative one.
fn fits_in(value: u64, bits: u32) -> bool {
    bits >= 64 || value >> bits == 0 || (value as i64) >> (bits - 1) == -1
}

impl Assembler {
    /// `mov dst, src` (registers). At 32 bits this zero-extends into the
    /// upper half; at 8 and 16 bits the rest of `dst` is left as it was.
    pub fn mov_rr(&mut self, size: OperandSize, dst: Gpr, src: Gpr) {
        let p = Prefixes::for_size(size)
            .byte_reg(size, dst.enc())
            .byte_reg(size, src.enc());
        let form = forms::form_mov_rr(size).expect("every size has a form");
        self.emit_form(form, p, src.enc(), Rm::Reg(dst.enc()), Imm::None);
    }

    /// `mov dst, [src]`: a load.
    pub fn mov_rm(&mut self, size: OperandSize, dst: Gpr, src: &Amode) {
        let p = Prefixes::for_size(size).byte_reg(size, dst.enc());
        let form = forms::form_mov_rm(size).expect("every size has a form");
        self.emit_form(form, p, dst.enc(), Rm::Mem(src), Imm::None);
    }

    /// `mov [dst], src`: a store.
    pub fn mov_mr(&mut self, size: OperandSize, dst: &Amode, src: Gpr) {
        let p = Prefixes::for_size(size).byte_reg(size, src.enc());
        let form = forms::form_mov_mr(size).expect("every size has a form");
        self.emit_form(form, p, src.enc(), Rm::Mem(dst), Imm::None);
    }

    /// `mov [dst], imm`: a store of an immediate (sign-extended at 64 bits).
    pub fn mov_mi(&mut self, size: OperandSize, dst: &Amode, imm: i32) {
        let Some(imm) = self.sized_imm(size, imm, "mov") else {
            return;
        };
        let form = forms::form_mov_mi(size).expect("every size has a form");
        self.emit_form(form, Prefixes::for_size(size), 0, Rm::Mem(dst), imm);
    }

    /// `mov dst, imm` in the shortest encoding: at 64 bits, `mov r32, imm32`
    /// when the value fits in 32 unsigned bits (the write zero-extends),
    /// `mov r/m64, imm32` when it fits sign-extended, and `movabs r64, imm64`
    /// otherwise. At 8, 16 and 32 bits the value must fit the width (as an
    /// unsigned number or a sign-extended negative one).
    pub fn mov_ri(&mut self, size: OperandSize, dst: Gpr, imm: u64) {
        if !fits_in(imm, size.bits()) {
            self.fail(AsmError::ImmediateOutOfRange {
                mnemonic: "mov",
                value: imm as i64,
                bits: size.bits() as u8,
            });
            return;
        }
        let reg = dst.enc();
        match size {
            OperandSize::S8 => {
                let p = Prefixes::NONE.byte_reg(size, reg);
                self.emit_form_opcode(forms::form_mov_imm_r8(), p, reg, Imm::I8(imm as i8));
            }
            OperandSize::S16 => self.emit_form_opcode(
                forms::form_mov_imm_r(),
                Prefixes::for_size(size),
                reg,
                Imm::I16(imm as i16),
            ),
            // A 32-bit write zero-extends: the form serves 64-bit values of
            // 32 unsigned bits too.
            OperandSize::S32 => self.emit_form_opcode(
                forms::form_mov_imm_r(),
                Prefixes::NONE,
                reg,
                Imm::I32(imm as i32),
            ),
            OperandSize::S64 if imm <= u64::from(u32::MAX) => self.emit_form_opcode(
                forms::form_mov_imm_r(),
                Prefixes::NONE,
                reg,
                Imm::I32(imm as i32),
            ),
            OperandSize::S64 if i32::try_from(imm as i64).is_ok() => self.emit_form(
                forms::form_mov_imm_sext(),
                Prefixes::NONE,
                0,
                Rm::Reg(reg),
                Imm::I32(imm as i32),
            ),
            OperandSize::S64 => self.emit_form_opcode(
                forms::form_mov_imm_r64(),
                Prefixes::NONE,
                reg,
                Imm::I64(imm as i64),
            ),
        }
    }

    /// `movabs dst, name`: the 64-bit address of an external symbol (an
    /// `Abs64` relocation against `name` on the 8-byte immediate, which
    /// the linker fills in; the code holds 0 until then).
    pub fn mov_ri64_external(&mut self, dst: Gpr, name: ExternalName) {
        let start = self.buffer.cur_offset();
        self.emit_form_opcode(
            forms::form_mov_imm_r64(),
            Prefixes::NONE,
            dst.enc(),
            Imm::I64(0),
        );
        let end = self.buffer.cur_offset();
        // Nothing emitted: the form was refused and the error recorded.
        if end > start {
            self.buffer
                .add_reloc_at_offset(end - 8, RelocKind::Abs64, name, 0);
        }
    }

    /// `movzx dst, src`: zero-extends `src` (`mode` names the widths). `LQ`
    /// is `mov r32, r/m32`; the `BQ` and `WQ` modes use the 32-bit form.
    pub fn movzx(&mut self, mode: ExtMode, dst: Gpr, src: &GprMem) {
        let form = forms::form_movzx(mode).expect("every mode has a form");
        let p = self.extension_source_prefix(Prefixes::NONE, mode, src);
        self.emit_form(form, p, dst.enc(), Rm::from(src), Imm::None);
    }

    /// `movsx dst, src` (`movsxd` for `LQ`): sign-extends `src`.
    pub fn movsx(&mut self, mode: ExtMode, dst: Gpr, src: &GprMem) {
        let form = forms::form_movsx(mode).expect("every mode has a form");
        let p = self.extension_source_prefix(Prefixes::NONE, mode, src);
        self.emit_form(form, p, dst.enc(), Rm::from(src), Imm::None);
    }

    /// An 8-bit source register spl..dil needs a REX prefix.
    fn extension_source_prefix(&self, p: Prefixes, mode: ExtMode, src: &GprMem) -> Prefixes {
        match src {
            GprMem::Gpr(r) => p.byte_reg(mode.from_size(), r.enc()),
            GprMem::Mem(_) => p,
        }
    }

    /// `lea dst, [addr]` (16, 32 or 64 bits). A trap code on `addr` is
    /// ignored: LEA does not access memory.
    pub fn lea(&mut self, size: OperandSize, dst: Gpr, addr: &Amode) {
        if size == OperandSize::S8 {
            self.fail(AsmError::InvalidOperand {
                mnemonic: "lea",
                reason: "there is no 8-bit form",
            });
            return;
        }
        // LEA computes the address without accessing memory, so it can never
        // fault: a trap code on the address does not apply.
        let mut addr = *addr;
        match &mut addr {
            Amode::Reg { trap, .. } | Amode::Label { trap, .. } | Amode::Constant { trap, .. } => {
                *trap = None
            }
        }
        let form = forms::form_lea();
        self.emit_form(
            form,
            Prefixes::for_size(size),
            dst.enc(),
            Rm::Mem(&addr),
            Imm::None,
        );
    }

    /// `setcc dst`: the low byte of `dst` = 1 if `cc` holds, else 0; the rest
    /// of `dst` is unchanged.
    pub fn setcc(&mut self, cc: CC, dst: Gpr) {
        let p = Prefixes::NONE.byte_reg(OperandSize::S8, dst.enc());
        let form = forms::form_setcc().with_cc(cc);
        self.emit_form(form, p, 0, Rm::Reg(dst.enc()), Imm::None);
    }

    /// `cmovcc dst, src`: dst = src if `cc` holds (16, 32 or 64 bits; at 32
    /// bits the upper half is cleared either way).
    pub fn cmov(&mut self, cc: CC, size: OperandSize, dst: Gpr, src: &GprMem) {
        let Some(form) = forms::form_cmov(size) else {
            self.fail(AsmError::InvalidOperand {
                mnemonic: "cmovcc",
                reason: "there is no 8-bit form",
            });
            return;
        };
        let form = form.with_cc(cc);
        self.emit_form(
            form,
            Prefixes::for_size(size),
            dst.enc(),
            Rm::from(src),
            Imm::None,
        );
    }
}
