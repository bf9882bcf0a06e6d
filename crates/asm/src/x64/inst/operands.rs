//! The register-operand walk of each kind of operand (see
//! [`crate::operands`]); the walk of every [`MInst`](super::MInst), generated
//! from the instruction table (`table.rs`), calls these per field.
//!
//! Conventions:
//! * a destructive form visits its tied source first (operand 0) and its
//!   destination as `reuse_def(0)`;
//! * registers inside memory operands are plain uses;
//! * implicit registers (rax/rdx of MUL/DIV/CMPXCHG, rcx of a shift count)
//!   are fixed uses and fixed defs;
//! * sequences with internal control flow write their destination and
//!   temporaries before they finish reading their inputs, so those are
//!   early defs: the allocator keeps them apart from every input.

use super::{Amode, CallInfo, GprMem, GprMemImm, GprReg, ShiftAmount, XmmMem, XmmReg};
use crate::operands::OperandVisitor;
use crate::reg::Writable;
use crate::x64::args::GprImm;
use crate::x64::regs::{Gpr, Xmm};

pub(super) fn amode(v: &mut impl OperandVisitor, amode: &mut Amode) {
    for reg in amode.regs_mut() {
        v.reg_use(reg.reg_mut());
    }
}

pub(super) fn gpr_mem(v: &mut impl OperandVisitor, operand: &mut GprMem) {
    match operand {
        GprMem::Gpr(reg) => v.reg_use(reg.reg_mut()),
        GprMem::Mem(mem) => amode(v, mem),
    }
}

pub(super) fn gpr_mem_imm(v: &mut impl OperandVisitor, operand: &mut GprMemImm) {
    match operand {
        GprMemImm::Gpr(reg) => v.reg_use(reg.reg_mut()),
        GprMemImm::Mem(mem) => amode(v, mem),
        GprMemImm::Imm(_) => {}
    }
}

pub(super) fn gpr_imm(v: &mut impl OperandVisitor, operand: &mut GprImm<crate::x64::Virtual>) {
    if let GprImm::Gpr(reg) = operand {
        v.reg_use(reg.reg_mut());
    }
}

pub(super) fn xmm_mem(v: &mut impl OperandVisitor, operand: &mut XmmMem) {
    match operand {
        XmmMem::Xmm(reg) => v.reg_use(reg.reg_mut()),
        XmmMem::Mem(mem) | XmmMem::Aligned(mem) => amode(v, mem),
    }
}

pub(super) fn use_gpr(v: &mut impl OperandVisitor, reg: &mut GprReg) {
    v.reg_use(reg.reg_mut());
}

pub(super) fn use_xmm(v: &mut impl OperandVisitor, reg: &mut XmmReg) {
    v.reg_use(reg.reg_mut());
}

pub(super) fn def_gpr(v: &mut impl OperandVisitor, reg: &mut Writable<GprReg>) {
    v.reg_def(reg.reg_mut().reg_mut());
}

pub(super) fn def_xmm(v: &mut impl OperandVisitor, reg: &mut Writable<XmmReg>) {
    v.reg_def(reg.reg_mut().reg_mut());
}

pub(super) fn early_def_gpr(v: &mut impl OperandVisitor, reg: &mut Writable<GprReg>) {
    v.reg_early_def(reg.reg_mut().reg_mut());
}

pub(super) fn early_def_xmm(v: &mut impl OperandVisitor, reg: &mut Writable<XmmReg>) {
    v.reg_early_def(reg.reg_mut().reg_mut());
}

pub(super) fn reuse_gpr(v: &mut impl OperandVisitor, reg: &mut Writable<GprReg>) {
    v.reg_reuse_def(reg.reg_mut().reg_mut(), 0);
}

pub(super) fn reuse_xmm(v: &mut impl OperandVisitor, reg: &mut Writable<XmmReg>) {
    v.reg_reuse_def(reg.reg_mut().reg_mut(), 0);
}

pub(super) fn fixed_use(v: &mut impl OperandVisitor, reg: &mut GprReg, fixed: Gpr) {
    v.reg_fixed_use(reg.reg_mut(), fixed.to_preg());
}

pub(super) fn fixed_use_xmm(v: &mut impl OperandVisitor, reg: &mut XmmReg, fixed: Xmm) {
    v.reg_fixed_use(reg.reg_mut(), fixed.to_preg());
}

pub(super) fn fixed_def(v: &mut impl OperandVisitor, reg: &mut Writable<GprReg>, fixed: Gpr) {
    v.reg_fixed_def(reg.reg_mut().reg_mut(), fixed.to_preg());
}

pub(super) fn shift_amount(v: &mut impl OperandVisitor, amount: &mut ShiftAmount) {
    if let ShiftAmount::Cl(reg) = amount {
        fixed_use(v, reg, Gpr::RCX);
    }
}

pub(super) fn call(v: &mut impl OperandVisitor, info: &mut CallInfo) {
    for (reg, preg) in &mut info.uses {
        v.reg_fixed_use(reg, *preg);
    }
    for (reg, preg) in &mut info.defs {
        v.reg_fixed_def(reg.reg_mut(), *preg);
    }
    v.add_clobbers(info.clobbers);
}
