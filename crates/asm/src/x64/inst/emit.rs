//! Encoding an [`MInst`](super::MInst): the generated `emit` (`table.rs`)
//! calls each shape's [`Assembler`] method with the physical registers the
//! allocator chose, through the conversions here; the shapes the table cannot
//! express call the functions at the end of this file. No bytes are written
//! here.

use super::{
    Amode, BoxCallInfo, CallDest, GprMem as VGprMem, GprReg, ShiftAmount, WritableGpr, WritableXmm,
    XmmReg,
};
use crate::buffer::Label;
use crate::metadata::TrapCode;
use crate::x64::args::{GprMem, ShiftCount};
use crate::x64::regs::{Gpr, Xmm};
use crate::x64::{Assembler, FloatSize, OperandSize, ShiftOp, UnaryOp};

/// The destination of a destructive form, which the allocator placed in the
/// register of its tied source.
pub(super) fn tied_gpr(dst: WritableGpr, src: GprReg) -> Gpr {
    let (dst, src) = (dst.to_reg().to_physical(), src.to_physical());
    assert_eq!(
        dst, src,
        "a tied destination was allocated apart from its source"
    );
    dst
}

pub(super) fn tied_xmm(dst: WritableXmm, src: XmmReg) -> Xmm {
    let (dst, src) = (dst.to_reg().to_physical(), src.to_physical());
    assert_eq!(
        dst, src,
        "a tied destination was allocated apart from its source"
    );
    dst
}

/// A register the instruction requires in `fixed` (rax, rdx, rcx).
pub(super) fn fixed(reg: GprReg, fixed: Gpr) {
    assert_eq!(
        reg.to_physical(),
        fixed,
        "an operand fixed to {fixed} was allocated elsewhere"
    );
}

/// An XMM register the instruction requires in `fixed` (xmm0).
pub(super) fn fixed_xmm(reg: XmmReg, fixed: Xmm) {
    assert_eq!(
        reg.to_physical(),
        fixed,
        "an operand fixed to {fixed} was allocated elsewhere"
    );
}

pub(super) fn def(dst: WritableGpr) -> Gpr {
    dst.to_reg().to_physical()
}

pub(super) fn def_xmm(dst: WritableXmm) -> Xmm {
    dst.to_reg().to_physical()
}

pub(super) fn shift_count(amount: ShiftAmount) -> ShiftCount {
    match amount {
        ShiftAmount::Imm(n) => ShiftCount::Imm(n),
        ShiftAmount::Cl(reg) => {
            fixed(reg, Gpr::RCX);
            ShiftCount::Cl
        }
    }
}

impl super::MInst {
    /// Whether a CPU with `features` can run the instruction.
    pub fn is_available(&self, features: crate::x64::CpuFeatures) -> bool {
        self.required_features().iter().all(|f| features.has(f))
    }
}

// ---- Shapes the table cannot express -------------------------------------

pub(super) fn unary(
    asm: &mut Assembler,
    op: UnaryOp,
    size: OperandSize,
    src: GprReg,
    dst: WritableGpr,
) {
    asm.unary(op, size, &GprMem::Gpr(tied_gpr(dst, src)))
}

pub(super) fn unary_mem(asm: &mut Assembler, op: UnaryOp, size: OperandSize, dst: Amode) {
    asm.unary(op, size, &GprMem::Mem(dst.to_physical()))
}

pub(super) fn shift(
    asm: &mut Assembler,
    op: ShiftOp,
    size: OperandSize,
    src: GprReg,
    amount: ShiftAmount,
    dst: WritableGpr,
) {
    let dst = tied_gpr(dst, src);
    asm.shift(op, size, &GprMem::Gpr(dst), shift_count(amount))
}

pub(super) fn shift_mem(
    asm: &mut Assembler,
    op: ShiftOp,
    size: OperandSize,
    dst: Amode,
    amount: ShiftAmount,
) {
    asm.shift(
        op,
        size,
        &GprMem::Mem(dst.to_physical()),
        shift_count(amount),
    )
}

/// DIV/IDIV; the table has checked the implicit registers.
#[allow(
    clippy::too_many_arguments,
    reason = "one argument per field of the shape"
)]
pub(super) fn div(
    asm: &mut Assembler,
    signed: bool,
    size: OperandSize,
    _dividend_lo: GprReg,
    _dividend_hi: GprReg,
    divisor: VGprMem,
    _dst_quotient: WritableGpr,
    _dst_remainder: WritableGpr,
    trap: TrapCode,
) {
    asm.div(signed, size, &divisor.to_physical(), Some(trap))
}

pub(super) fn jmp_cond(asm: &mut Assembler, cc: crate::x64::CC, taken: Label, not_taken: Label) {
    asm.jcc(cc, taken);
    asm.jmp(not_taken);
}

pub(super) fn call(asm: &mut Assembler, info: &BoxCallInfo) {
    match info.dest {
        CallDest::Label(label) => asm.call(label),
        CallDest::External(name) => asm.call_external(name),
    }
}

pub(super) fn nop(asm: &mut Assembler, len: u8) {
    asm.nop(usize::from(len))
}

#[allow(
    clippy::too_many_arguments,
    reason = "one argument per field of the shape"
)]
pub(super) fn cvt_float_to_sint_seq(
    asm: &mut Assembler,
    float_size: FloatSize,
    int_size: OperandSize,
    saturating: bool,
    src: XmmReg,
    dst: WritableGpr,
    tmp_xmm: WritableXmm,
    trap_nan: TrapCode,
    trap_overflow: TrapCode,
) {
    let (src, dst, tmp) = (src.to_physical(), def(dst), def_xmm(tmp_xmm));
    if saturating {
        asm.cvt_float_to_sint_sat(float_size, int_size, dst, src, tmp);
    } else {
        let on_nan = asm.defer_trap(trap_nan);
        let on_overflow = asm.defer_trap(trap_overflow);
        asm.cvt_float_to_sint(float_size, int_size, dst, src, tmp, on_nan, on_overflow);
    }
}

#[allow(
    clippy::too_many_arguments,
    reason = "one argument per field of the shape"
)]
pub(super) fn cvt_float_to_uint_seq(
    asm: &mut Assembler,
    float_size: FloatSize,
    int_size: OperandSize,
    saturating: bool,
    src: XmmReg,
    dst: WritableGpr,
    tmp_gpr: WritableGpr,
    tmp_xmm: WritableXmm,
    tmp_xmm2: WritableXmm,
    trap_nan: TrapCode,
    trap_overflow: TrapCode,
) {
    let (src, dst, tmp_gpr) = (src.to_physical(), def(dst), def(tmp_gpr));
    let (tmp_xmm, tmp_xmm2) = (def_xmm(tmp_xmm), def_xmm(tmp_xmm2));
    if saturating {
        asm.cvt_float_to_uint_sat(float_size, int_size, dst, src, tmp_gpr, tmp_xmm, tmp_xmm2);
    } else {
        let on_nan = asm.defer_trap(trap_nan);
        let on_overflow = asm.defer_trap(trap_overflow);
        asm.cvt_float_to_uint(
            float_size,
            int_size,
            dst,
            src,
            tmp_gpr,
            tmp_xmm,
            tmp_xmm2,
            on_nan,
            on_overflow,
        );
    }
}
