//! Integer arithmetic and logic: ADD ADC SUB SBB AND OR XOR CMP TEST, and
//! NOT NEG INC DEC. All need only the base instruction set.
//!
//! The eight two-operand operations share one opcode layout (SDM Vol. 2,
//! "ADD"; the others follow the same pattern):
//!
//! ```text
//!  op    r/m8,r8  r/m,r   r8,r/m8  r,r/m   r/m8,imm8  r/m,imm32  r/m,imm8
//!  ADD   00 /r    01 /r   02 /r    03 /r   80 /0 ib   81 /0 id   83 /0 ib
//!  OR    08 /r    09 /r   0A /r    0B /r   80 /1 ib   81 /1 id   83 /1 ib
//!  ADC   10 /r    11 /r   12 /r    13 /r   80 /2 ib   81 /2 id   83 /2 ib
//!  SBB   18 /r    19 /r   1A /r    1B /r   80 /3 ib   81 /3 id   83 /3 ib
//!  AND   20 /r    21 /r   22 /r    23 /r   80 /4 ib   81 /4 id   83 /4 ib
//!  SUB   28 /r    29 /r   2A /r    2B /r   80 /5 ib   81 /5 id   83 /5 ib
//!  XOR   30 /r    31 /r   32 /r    33 /r   80 /6 ib   81 /6 id   83 /6 ib
//!  CMP   38 /r    39 /r   3A /r    3B /r   80 /7 ib   81 /7 id   83 /7 ib
//! ```
//!
//! (16-bit forms add the 66 prefix and take `iw`; 64-bit forms add REX.W
//! and sign-extend `id`.) An immediate that fits in a signed byte takes the
//! `83` form. The accumulator short forms (`04`, `05`, ...) are left out:
//! they save one byte only for `al`/`eax` and complicate nothing else.

use super::{AsmError, Assembler, Imm, Map, Prefixes, Rm, forms};
use crate::buffer::CodeOffset;
use crate::x64::args::{Amode, GprImm, GprMem, GprMemImm};
use crate::x64::regs::Gpr;
use crate::x64::{AluOp, OperandSize, UnaryOp};

/// The opcode row (`/digit` of the immediate forms) of each operation: the
/// instruction table's declared `81 /digit id` form (CMP's is `Cmp`'s).
const fn alu_row(op: Option<AluOp>) -> u8 {
    match op {
        Some(op) => op.form().opcode.extension(),
        None => forms::form_cmp().opcode.extension(),
    }
}

/// The imm32 field of an instruction whose immediate is written later
/// ([`Assembler::sub_ri_patchable`], [`Assembler::patch_imm32`]).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
#[must_use = "the immediate is a placeholder until patched"]
pub struct PatchableImm32 {
    /// The field's offset; `None` when the instruction was refused.
    field: Option<CodeOffset>,
}

impl Assembler {
    /// `op dst, src`: dst = dst op src, for a register, memory or immediate
    /// source.
    pub fn alu_rmi(&mut self, op: AluOp, size: OperandSize, dst: Gpr, src: &GprMemImm) {
        self.alu_or_cmp_rmi(Some(op), op.mnemonic(), size, dst, src);
    }

    /// `sub dst, imm32` whose immediate is given later, with
    /// [`Assembler::patch_imm32`]: for a value known only once the code
    /// after it is emitted (a frame's size, in a prologue's stack check).
    /// The instruction always takes the imm32 form (`81 /5 id`), so its
    /// length does not depend on the value; the placeholder is
    /// `i32::MAX`. Only the assembler knows where the field is, so no
    /// compiler writes instruction bytes.
    pub fn sub_ri_patchable(&mut self, size: OperandSize, dst: Gpr) -> PatchableImm32 {
        let before = self.cur_offset();
        self.alu_rmi(AluOp::Sub, size, dst, &GprMemImm::Imm(i32::MAX));
        let after = self.cur_offset();
        // Refused (an error `finish` returns): nothing to patch.
        PatchableImm32 {
            field: (after >= before + 4).then(|| after - 4),
        }
    }

    /// Writes `value` into the immediate of an instruction emitted by a
    /// `*_patchable` method. The value must not have been given before
    /// any branch simplification that moved the code (the field is an
    /// offset into the code so far).
    pub fn patch_imm32(&mut self, imm: PatchableImm32, value: i32) {
        if let Some(field) = imm.field {
            self.buffer_mut().patch_bytes(field, &value.to_le_bytes());
        }
    }

    /// `op [dst], src`: a read-modify-write of memory.
    pub fn alu_mem(&mut self, op: AluOp, size: OperandSize, dst: &Amode, src: &GprImm) {
        self.alu_or_cmp_mem(Some(op), op.mnemonic(), size, dst, src);
    }

    /// The constructive form `dst = src1 op src2`, for callers that do not
    /// want to think in x86's destructive forms: emits `op dst, src2` after
    /// `mov dst, src1` when `dst` is not already `src1`, or `op dst, src1`
    /// when `dst` is `src2` and the operation commutes. `dst == src2 != src1`
    /// with SUB or SBB has no two-instruction form and is refused.
    pub fn alu_rrr(&mut self, op: AluOp, size: OperandSize, dst: Gpr, src1: Gpr, src2: Gpr) {
        if dst == src1 {
            self.alu_rmi(op, size, dst, &GprMemImm::Gpr(src2));
        } else if dst == src2 {
            if matches!(op, AluOp::Sub | AluOp::Sbb) {
                self.fail(AsmError::InvalidOperand {
                    mnemonic: op.mnemonic(),
                    reason: "the destination of a three-operand subtraction may not be its subtrahend",
                });
                return;
            }
            self.alu_rmi(op, size, dst, &GprMemImm::Gpr(src1));
        } else {
            // A 32-bit move suffices below 64 bits: the operation writes only
            // `size` bits, and the bits above are unspecified either way.
            let move_size = if size == OperandSize::S64 {
                size
            } else {
                OperandSize::S32
            };
            self.mov_rr(move_size, dst, src1);
            self.alu_rmi(op, size, dst, &GprMemImm::Gpr(src2));
        }
    }

    /// `cmp lhs, rhs`: sets the flags as `lhs - rhs` does.
    pub fn cmp_rmi(&mut self, size: OperandSize, lhs: Gpr, rhs: &GprMemImm) {
        self.alu_or_cmp_rmi(None, "cmp", size, lhs, rhs);
    }

    /// `cmp lhs, rhs` (registers).
    pub fn cmp_rr(&mut self, size: OperandSize, lhs: Gpr, rhs: Gpr) {
        self.cmp_rmi(size, lhs, &GprMemImm::Gpr(rhs));
    }

    /// `cmp lhs, imm`.
    pub fn cmp_ri(&mut self, size: OperandSize, lhs: Gpr, imm: i32) {
        self.cmp_rmi(size, lhs, &GprMemImm::Imm(imm));
    }

    /// `cmp lhs, [rhs]`.
    pub fn cmp_rm(&mut self, size: OperandSize, lhs: Gpr, rhs: &Amode) {
        self.cmp_rmi(size, lhs, &GprMemImm::Mem(*rhs));
    }

    /// `cmp [lhs], rhs`: sets the flags as `[lhs] - rhs` does.
    pub fn cmp_mem(&mut self, size: OperandSize, lhs: &Amode, rhs: &GprImm) {
        self.alu_or_cmp_mem(None, "cmp", size, lhs, rhs);
    }

    /// `cmp [lhs], rhs` (memory, register).
    pub fn cmp_mr(&mut self, size: OperandSize, lhs: &Amode, rhs: Gpr) {
        self.cmp_mem(size, lhs, &GprImm::Gpr(rhs));
    }

    /// `cmp [lhs], imm`.
    pub fn cmp_mi(&mut self, size: OperandSize, lhs: &Amode, imm: i32) {
        self.cmp_mem(size, lhs, &GprImm::Imm(imm));
    }

    /// `test lhs, rhs`: sets the flags as `lhs & rhs` does.
    /// TEST r/m, r is `84/85 /r`; TEST r/m, imm is `F6 /0 ib`, `F7 /0 id`.
    pub fn test(&mut self, size: OperandSize, lhs: &GprMem, rhs: &GprImm) {
        let lhs_rm = Rm::from(lhs);
        let mut p = Prefixes::for_size(size);
        if let GprMem::Gpr(r) = lhs {
            p = p.byte_reg(size, r.enc());
        }
        match *rhs {
            GprImm::Gpr(r) => {
                let p = p.byte_reg(size, r.enc());
                let form = forms::form_test_mr().at_size(size);
                self.emit_form(form, p, r.enc(), lhs_rm, Imm::None);
            }
            GprImm::Imm(value) => {
                let Some(imm) = self.sized_imm(size, value, "test") else {
                    return;
                };
                let form = forms::form_test_mi().at_size(size);
                self.emit_form(form, p, 0, lhs_rm, imm);
            }
        }
    }

    /// `test lhs, rhs` (registers).
    pub fn test_rr(&mut self, size: OperandSize, lhs: Gpr, rhs: Gpr) {
        self.test(size, &GprMem::Gpr(lhs), &GprImm::Gpr(rhs));
    }

    /// `test lhs, imm`.
    pub fn test_ri(&mut self, size: OperandSize, lhs: Gpr, imm: i32) {
        self.test(size, &GprMem::Gpr(lhs), &GprImm::Imm(imm));
    }

    /// `test [lhs], rhs`.
    pub fn test_mr(&mut self, size: OperandSize, lhs: &Amode, rhs: Gpr) {
        self.test(size, &GprMem::Mem(*lhs), &GprImm::Gpr(rhs));
    }

    /// `test [lhs], imm`.
    pub fn test_mi(&mut self, size: OperandSize, lhs: &Amode, imm: i32) {
        self.test(size, &GprMem::Mem(*lhs), &GprImm::Imm(imm));
    }

    /// `op dst` (NOT, NEG, INC, DEC) on a register or memory.
    pub fn unary(&mut self, op: UnaryOp, size: OperandSize, dst: &GprMem) {
        let mut p = Prefixes::for_size(size);
        if let GprMem::Gpr(r) = dst {
            p = p.byte_reg(size, r.enc());
        }
        self.emit_form(op.form().at_size(size), p, 0, Rm::from(dst), Imm::None);
    }

    /// `not dst`.
    pub fn not_r(&mut self, size: OperandSize, dst: Gpr) {
        self.unary(UnaryOp::Not, size, &GprMem::Gpr(dst));
    }

    /// `neg dst`.
    pub fn neg_r(&mut self, size: OperandSize, dst: Gpr) {
        self.unary(UnaryOp::Neg, size, &GprMem::Gpr(dst));
    }

    /// `inc dst`.
    pub fn inc_r(&mut self, size: OperandSize, dst: Gpr) {
        self.unary(UnaryOp::Inc, size, &GprMem::Gpr(dst));
    }

    /// `dec dst`.
    pub fn dec_r(&mut self, size: OperandSize, dst: Gpr) {
        self.unary(UnaryOp::Dec, size, &GprMem::Gpr(dst));
    }

    fn alu_or_cmp_rmi(
        &mut self,
        op: Option<AluOp>,
        mnemonic: &'static str,
        size: OperandSize,
        dst: Gpr,
        src: &GprMemImm,
    ) {
        let row = alu_row(op);
        let p = Prefixes::for_size(size).byte_reg(size, dst.enc());
        let wide = (size != OperandSize::S8) as u8;
        match *src {
            // `op r/m, r` (the MR form, as assemblers use for reg-reg).
            GprMemImm::Gpr(src) => {
                let p = p.byte_reg(size, src.enc());
                self.emit_modrm(
                    mnemonic,
                    p,
                    Map::Primary,
                    row << 3 | wide,
                    src.enc(),
                    Rm::Reg(dst.enc()),
                    Imm::None,
                );
            }
            // `op r, r/m` (the RM form).
            GprMemImm::Mem(ref mem) => {
                self.emit_modrm(
                    mnemonic,
                    p,
                    Map::Primary,
                    row << 3 | 2 | wide,
                    dst.enc(),
                    Rm::Mem(mem),
                    Imm::None,
                );
            }
            GprMemImm::Imm(value) => {
                self.alu_imm(mnemonic, row, size, p, Rm::Reg(dst.enc()), value)
            }
        }
    }

    fn alu_or_cmp_mem(
        &mut self,
        op: Option<AluOp>,
        mnemonic: &'static str,
        size: OperandSize,
        dst: &Amode,
        src: &GprImm,
    ) {
        let row = alu_row(op);
        let p = Prefixes::for_size(size);
        let wide = (size != OperandSize::S8) as u8;
        match *src {
            GprImm::Gpr(src) => {
                let p = p.byte_reg(size, src.enc());
                self.emit_modrm(
                    mnemonic,
                    p,
                    Map::Primary,
                    row << 3 | wide,
                    src.enc(),
                    Rm::Mem(dst),
                    Imm::None,
                );
            }
            GprImm::Imm(value) => self.alu_imm(mnemonic, row, size, p, Rm::Mem(dst), value),
        }
    }

    /// `80 /row ib`, `83 /row ib` (sign-extended byte) or `81 /row iw/id`.
    fn alu_imm(
        &mut self,
        mnemonic: &'static str,
        row: u8,
        size: OperandSize,
        p: Prefixes,
        rm: Rm<'_>,
        value: i32,
    ) {
        let (opcode, imm) = match size {
            OperandSize::S8 => match self.sized_imm(size, value, mnemonic) {
                Some(imm) => (0x80, imm),
                None => return,
            },
            _ if i8::try_from(value).is_ok() => (0x83, Imm::I8(value as i8)),
            _ => match self.sized_imm(size, value, mnemonic) {
                Some(imm) => (0x81, imm),
                None => return,
            },
        };
        self.emit_modrm(mnemonic, p, Map::Primary, opcode, row, rm, imm);
    }
}

#[cfg(test)]
mod tests {
    use crate::x64::{AluOp, AsmError, Assembler, CpuFeatures, Gpr, OperandSize};

    fn bytes(emit: impl FnOnce(&mut Assembler)) -> Result<Vec<u8>, AsmError> {
        let mut asm = Assembler::new(CpuFeatures::baseline());
        emit(&mut asm);
        asm.finish().map(|code| code.code().to_vec())
    }

    #[test]
    fn constructive_form_inserts_the_move_only_when_needed() {
        use OperandSize::S64;
        let (rax, rcx, rdx) = (Gpr::RAX, Gpr::RCX, Gpr::RDX);
        // dst = src1: just the operation.
        assert_eq!(
            bytes(|a| a.alu_rrr(AluOp::Sub, S64, rax, rax, rcx)),
            bytes(|a| a.sub_rr(S64, rax, rcx))
        );
        // dst = src2, commutative: the operands swap.
        assert_eq!(
            bytes(|a| a.alu_rrr(AluOp::Xor, S64, rcx, rax, rcx)),
            bytes(|a| a.xor_rr(S64, rcx, rax))
        );
        // Distinct registers: a move first.
        assert_eq!(
            bytes(|a| a.alu_rrr(AluOp::Sub, S64, rdx, rax, rcx)),
            bytes(|a| {
                a.mov_rr(S64, rdx, rax);
                a.sub_rr(S64, rdx, rcx);
            })
        );
        // At 32 bits and below the move is a 32-bit one.
        assert_eq!(
            bytes(|a| a.alu_rrr(AluOp::And, OperandSize::S16, rdx, rax, rcx)),
            bytes(|a| {
                a.mov_rr(OperandSize::S32, rdx, rax);
                a.and_rr(OperandSize::S16, rdx, rcx);
            })
        );
    }

    #[test]
    fn constructive_subtraction_into_its_subtrahend_is_refused() {
        let result =
            bytes(|a| a.alu_rrr(AluOp::Sub, OperandSize::S32, Gpr::RCX, Gpr::RAX, Gpr::RCX));
        assert!(
            matches!(
                result,
                Err(AsmError::InvalidOperand {
                    mnemonic: "sub",
                    ..
                })
            ),
            "{result:?}"
        );
    }
}
