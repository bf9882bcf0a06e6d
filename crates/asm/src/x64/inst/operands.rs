//! The register-operand walk of every [`MInst`] (see [`crate::operands`]).
//!
//! Conventions, variant by variant below:
//! * a destructive form visits its tied source first (operand 0) and its
//!   destination last, as `reuse_def(0)`;
//! * registers inside memory operands are plain uses;
//! * implicit registers (rax/rdx of MUL/DIV/CMPXCHG, rcx of a shift count)
//!   are fixed uses and fixed defs;
//! * sequences with internal control flow write their destination and
//!   temporaries before they finish reading their inputs, so those are
//!   early defs: the allocator keeps them apart from every input.

use super::{Amode, CallInfo, GprMem, GprMemImm, GprReg, MInst, ShiftAmount, XmmMem, XmmReg};
use crate::operands::OperandVisitor;
use crate::reg::Writable;
use crate::x64::args::GprImm;
use crate::x64::regs::Gpr;

fn amode(v: &mut impl OperandVisitor, amode: &mut Amode) {
    for reg in amode.regs_mut() {
        v.reg_use(reg.reg_mut());
    }
}

fn gpr_mem(v: &mut impl OperandVisitor, operand: &mut GprMem) {
    match operand {
        GprMem::Gpr(reg) => v.reg_use(reg.reg_mut()),
        GprMem::Mem(mem) => amode(v, mem),
    }
}

fn gpr_mem_imm(v: &mut impl OperandVisitor, operand: &mut GprMemImm) {
    match operand {
        GprMemImm::Gpr(reg) => v.reg_use(reg.reg_mut()),
        GprMemImm::Mem(mem) => amode(v, mem),
        GprMemImm::Imm(_) => {}
    }
}

fn gpr_imm(v: &mut impl OperandVisitor, operand: &mut GprImm<crate::x64::Virtual>) {
    if let GprImm::Gpr(reg) = operand {
        v.reg_use(reg.reg_mut());
    }
}

fn xmm_mem(v: &mut impl OperandVisitor, operand: &mut XmmMem) {
    match operand {
        XmmMem::Xmm(reg) => v.reg_use(reg.reg_mut()),
        XmmMem::Mem(mem) => amode(v, mem),
    }
}

fn use_gpr(v: &mut impl OperandVisitor, reg: &mut GprReg) {
    v.reg_use(reg.reg_mut());
}

fn use_xmm(v: &mut impl OperandVisitor, reg: &mut XmmReg) {
    v.reg_use(reg.reg_mut());
}

fn def_gpr(v: &mut impl OperandVisitor, reg: &mut Writable<GprReg>) {
    v.reg_def(reg.reg_mut().reg_mut());
}

fn def_xmm(v: &mut impl OperandVisitor, reg: &mut Writable<XmmReg>) {
    v.reg_def(reg.reg_mut().reg_mut());
}

fn early_def_gpr(v: &mut impl OperandVisitor, reg: &mut Writable<GprReg>) {
    v.reg_early_def(reg.reg_mut().reg_mut());
}

fn early_def_xmm(v: &mut impl OperandVisitor, reg: &mut Writable<XmmReg>) {
    v.reg_early_def(reg.reg_mut().reg_mut());
}

fn reuse_gpr(v: &mut impl OperandVisitor, reg: &mut Writable<GprReg>) {
    v.reg_reuse_def(reg.reg_mut().reg_mut(), 0);
}

fn reuse_xmm(v: &mut impl OperandVisitor, reg: &mut Writable<XmmReg>) {
    v.reg_reuse_def(reg.reg_mut().reg_mut(), 0);
}

fn fixed_use(v: &mut impl OperandVisitor, reg: &mut GprReg, fixed: Gpr) {
    v.reg_fixed_use(reg.reg_mut(), fixed.to_preg());
}

fn fixed_def(v: &mut impl OperandVisitor, reg: &mut Writable<GprReg>, fixed: Gpr) {
    v.reg_fixed_def(reg.reg_mut().reg_mut(), fixed.to_preg());
}

fn shift_amount(v: &mut impl OperandVisitor, amount: &mut ShiftAmount) {
    if let ShiftAmount::Cl(reg) = amount {
        fixed_use(v, reg, Gpr::RCX);
    }
}

/// x86 division's implicit registers: the dividend in rdx:rax, the quotient
/// and remainder back in rax and rdx; `divisor` visits the divisor between.
fn division<V: OperandVisitor>(
    v: &mut V,
    dividend_lo: &mut GprReg,
    dividend_hi: &mut GprReg,
    dst_quotient: &mut Writable<GprReg>,
    dst_remainder: &mut Writable<GprReg>,
    divisor: impl FnOnce(&mut V),
) {
    fixed_use(v, dividend_lo, Gpr::RAX);
    fixed_use(v, dividend_hi, Gpr::RDX);
    divisor(v);
    fixed_def(v, dst_quotient, Gpr::RAX);
    fixed_def(v, dst_remainder, Gpr::RDX);
}

fn call(v: &mut impl OperandVisitor, info: &mut CallInfo) {
    for (reg, preg) in &mut info.uses {
        v.reg_fixed_use(reg, *preg);
    }
    for (reg, preg) in &mut info.defs {
        v.reg_fixed_def(reg.reg_mut(), *preg);
    }
    v.add_clobbers(info.clobbers);
}

impl MInst {
    /// Reports every register operand to `visitor`, in a fixed order (see the
    /// conventions in `x64/inst/operands.rs`); the visitor may rewrite them.
    pub fn get_operands(&mut self, visitor: &mut impl OperandVisitor) {
        let v = visitor;
        match self {
            MInst::AluRmi {
                src1, src2, dst, ..
            } => {
                use_gpr(v, src1);
                gpr_mem_imm(v, src2);
                reuse_gpr(v, dst);
            }
            MInst::AluMem { dst, src, .. } => {
                amode(v, dst);
                gpr_imm(v, src);
            }
            MInst::Cmp { lhs, rhs, .. } => {
                use_gpr(v, lhs);
                gpr_mem_imm(v, rhs);
            }
            MInst::CmpMem { lhs, rhs, .. } => {
                amode(v, lhs);
                gpr_imm(v, rhs);
            }
            MInst::Test { lhs, rhs, .. } => {
                gpr_mem(v, lhs);
                gpr_imm(v, rhs);
            }
            MInst::Unary { src, dst, .. } | MInst::Bswap { src, dst, .. } => {
                use_gpr(v, src);
                reuse_gpr(v, dst);
            }
            MInst::UnaryMem { dst, .. } => amode(v, dst),
            MInst::Shift {
                src, amount, dst, ..
            } => {
                use_gpr(v, src);
                shift_amount(v, amount);
                reuse_gpr(v, dst);
            }
            MInst::ShiftMem { dst, amount, .. } => {
                amode(v, dst);
                shift_amount(v, amount);
            }
            MInst::IMul {
                src1, src2, dst, ..
            } => {
                use_gpr(v, src1);
                gpr_mem(v, src2);
                reuse_gpr(v, dst);
            }
            MInst::IMulImm { src, dst, .. } => {
                gpr_mem(v, src);
                def_gpr(v, dst);
            }
            MInst::MulWide {
                src1,
                src2,
                dst_lo,
                dst_hi,
                ..
            } => {
                fixed_use(v, src1, Gpr::RAX);
                gpr_mem(v, src2);
                fixed_def(v, dst_lo, Gpr::RAX);
                fixed_def(v, dst_hi, Gpr::RDX);
            }
            MInst::Div {
                dividend_lo,
                dividend_hi,
                divisor,
                dst_quotient,
                dst_remainder,
                ..
            } => division(
                v,
                dividend_lo,
                dividend_hi,
                dst_quotient,
                dst_remainder,
                |v| gpr_mem(v, divisor),
            ),
            MInst::CheckedSRemSeq {
                dividend_lo,
                dividend_hi,
                divisor,
                dst_quotient,
                dst_remainder,
                ..
            } => division(
                v,
                dividend_lo,
                dividend_hi,
                dst_quotient,
                dst_remainder,
                |v| use_gpr(v, divisor),
            ),
            MInst::SignExtendRaxRdx { src, dst, .. } => {
                fixed_use(v, src, Gpr::RAX);
                fixed_def(v, dst, Gpr::RDX);
            }
            MInst::BitCount { src, dst, .. }
            | MInst::Movzx { src, dst, .. }
            | MInst::Movsx { src, dst, .. } => {
                gpr_mem(v, src);
                def_gpr(v, dst);
            }
            MInst::MovRR { src, dst, .. } => {
                use_gpr(v, src);
                def_gpr(v, dst);
            }
            MInst::MovImm { dst, .. } | MInst::Setcc { dst, .. } | MInst::Pop { dst } => {
                def_gpr(v, dst)
            }
            MInst::MovRM { src, dst, .. } => {
                amode(v, src);
                def_gpr(v, dst);
            }
            MInst::Lea { addr, dst, .. } => {
                amode(v, addr);
                def_gpr(v, dst);
            }
            MInst::MovMR { src, dst, .. } => {
                use_gpr(v, src);
                amode(v, dst);
            }
            MInst::MovMI { dst, .. } => amode(v, dst),
            MInst::Cmov {
                consequent,
                alternative,
                dst,
                ..
            } => {
                use_gpr(v, alternative);
                gpr_mem(v, consequent);
                reuse_gpr(v, dst);
            }
            MInst::Push { src } => gpr_mem_imm(v, src),
            MInst::Jmp { .. }
            | MInst::JmpIf { .. }
            | MInst::JmpCond { .. }
            | MInst::TrapIf { .. }
            | MInst::Ret { .. }
            | MInst::Ud2 { .. }
            | MInst::Int3
            | MInst::Nop { .. }
            | MInst::Mfence => {}
            MInst::JmpIndirect { target } => gpr_mem(v, target),
            MInst::JmpTableSeq {
                index, tmp1, tmp2, ..
            } => {
                use_gpr(v, index);
                early_def_gpr(v, tmp1);
                early_def_gpr(v, tmp2);
            }
            MInst::Call { info } => call(v, info),
            MInst::CallIndirect { target, info } => {
                gpr_mem(v, target);
                call(v, info);
            }
            MInst::Xchg { mem, src, dst, .. } | MInst::LockXadd { mem, src, dst, .. } => {
                use_gpr(v, src);
                amode(v, mem);
                reuse_gpr(v, dst);
            }
            MInst::LockCmpxchg {
                mem,
                expected,
                replacement,
                dst_old,
                ..
            } => {
                fixed_use(v, expected, Gpr::RAX);
                use_gpr(v, replacement);
                amode(v, mem);
                fixed_def(v, dst_old, Gpr::RAX);
            }
            MInst::XmmLoad { src, dst, .. } => {
                amode(v, src);
                def_xmm(v, dst);
            }
            MInst::XmmStore { src, dst, .. } => {
                use_xmm(v, src);
                amode(v, dst);
            }
            MInst::XmmMovRR { src, dst } => {
                use_xmm(v, src);
                def_xmm(v, dst);
            }
            MInst::XmmRmR {
                src1, src2, dst, ..
            }
            | MInst::XmmRound {
                src1, src2, dst, ..
            } => {
                use_xmm(v, src1);
                xmm_mem(v, src2);
                reuse_xmm(v, dst);
            }
            MInst::XmmCmp { lhs, rhs, .. } => {
                use_xmm(v, lhs);
                xmm_mem(v, rhs);
            }
            MInst::GprToXmm { src, dst, .. } => {
                gpr_mem(v, src);
                def_xmm(v, dst);
            }
            MInst::XmmToGpr { src, dst, .. } => {
                use_xmm(v, src);
                def_gpr(v, dst);
            }
            MInst::CvtIntToFloat {
                src1, src2, dst, ..
            } => {
                use_xmm(v, src1);
                gpr_mem(v, src2);
                reuse_xmm(v, dst);
            }
            MInst::CvtFloatToInt { src, dst, .. } => {
                xmm_mem(v, src);
                def_gpr(v, dst);
            }
            MInst::CvtFloatToSintSeq {
                src, dst, tmp_xmm, ..
            } => {
                use_xmm(v, src);
                early_def_gpr(v, dst);
                early_def_xmm(v, tmp_xmm);
            }
            MInst::CvtFloatToUintSeq {
                src,
                dst,
                tmp_gpr,
                tmp_xmm,
                tmp_xmm2,
                ..
            } => {
                use_xmm(v, src);
                early_def_gpr(v, dst);
                early_def_gpr(v, tmp_gpr);
                early_def_xmm(v, tmp_xmm);
                early_def_xmm(v, tmp_xmm2);
            }
            MInst::CvtUint64ToFloatSeq {
                src,
                dst,
                tmp1,
                tmp2,
                ..
            } => {
                use_gpr(v, src);
                early_def_xmm(v, dst);
                early_def_gpr(v, tmp1);
                early_def_gpr(v, tmp2);
            }
            MInst::XmmMinMaxSeq { lhs, rhs, dst, .. } => {
                use_xmm(v, rhs);
                use_xmm(v, lhs);
                reuse_xmm(v, dst);
            }
        }
    }
}
