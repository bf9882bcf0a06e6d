//! Encoding an [`MInst`]: each variant calls its [`Assembler`] method with
//! the physical registers the allocator chose. No bytes are written here.

use super::{CallDest, GprReg, MInst, ShiftAmount, WritableGpr, WritableXmm, XmmReg};
use crate::x64::args::{GprMem, ShiftCount};
use crate::x64::features::{CpuFeatures, Feature};
use crate::x64::regs::{Gpr, Xmm};
use crate::x64::{Assembler, FloatSize};

/// The destination of a destructive form, which the allocator placed in the
/// register of its tied source.
fn tied_gpr(dst: WritableGpr, src: GprReg) -> Gpr {
    let (dst, src) = (dst.to_reg().to_physical(), src.to_physical());
    assert_eq!(
        dst, src,
        "a tied destination was allocated apart from its source"
    );
    dst
}

fn tied_xmm(dst: WritableXmm, src: XmmReg) -> Xmm {
    let (dst, src) = (dst.to_reg().to_physical(), src.to_physical());
    assert_eq!(
        dst, src,
        "a tied destination was allocated apart from its source"
    );
    dst
}

/// A register the instruction requires in `fixed` (rax, rdx, rcx).
fn fixed(reg: GprReg, fixed: Gpr) {
    assert_eq!(
        reg.to_physical(),
        fixed,
        "an operand fixed to {fixed} was allocated elsewhere"
    );
}

/// Division's implicit registers: dividend in rdx:rax, quotient in rax,
/// remainder in rdx.
fn division_registers(lo: GprReg, hi: GprReg, quotient: WritableGpr, remainder: WritableGpr) {
    fixed(lo, Gpr::RAX);
    fixed(hi, Gpr::RDX);
    fixed(quotient.to_reg(), Gpr::RAX);
    fixed(remainder.to_reg(), Gpr::RDX);
}

fn def(dst: WritableGpr) -> Gpr {
    dst.to_reg().to_physical()
}

fn def_xmm(dst: WritableXmm) -> Xmm {
    dst.to_reg().to_physical()
}

fn shift_count(amount: ShiftAmount) -> ShiftCount {
    match amount {
        ShiftAmount::Imm(n) => ShiftCount::Imm(n),
        ShiftAmount::Cl(reg) => {
            fixed(reg, Gpr::RCX);
            ShiftCount::Cl
        }
    }
}

impl MInst {
    /// Encodes the instruction (after register allocation).
    ///
    /// # Panics
    ///
    /// If a register is still virtual, or a tied or fixed operand is not
    /// where its constraint put it: the allocator's output breaks its
    /// contract.
    pub fn emit(&self, asm: &mut Assembler) {
        match self {
            MInst::AluRmi {
                op,
                size,
                src1,
                src2,
                dst,
            } => asm.alu_rmi(*op, *size, tied_gpr(*dst, *src1), &src2.to_physical()),
            MInst::AluMem { op, size, dst, src } => {
                asm.alu_mem(*op, *size, &dst.to_physical(), &src.to_physical())
            }
            MInst::Cmp { size, lhs, rhs } => {
                asm.cmp_rmi(*size, lhs.to_physical(), &rhs.to_physical())
            }
            MInst::CmpMem { size, lhs, rhs } => {
                asm.cmp_mem(*size, &lhs.to_physical(), &rhs.to_physical())
            }
            MInst::Test { size, lhs, rhs } => {
                asm.test(*size, &lhs.to_physical(), &rhs.to_physical())
            }
            MInst::Unary { op, size, src, dst } => {
                asm.unary(*op, *size, &GprMem::Gpr(tied_gpr(*dst, *src)))
            }
            MInst::UnaryMem { op, size, dst } => {
                asm.unary(*op, *size, &GprMem::Mem(dst.to_physical()))
            }
            MInst::Shift {
                op,
                size,
                src,
                amount,
                dst,
            } => {
                let dst = tied_gpr(*dst, *src);
                asm.shift(*op, *size, &GprMem::Gpr(dst), shift_count(*amount))
            }
            MInst::ShiftMem {
                op,
                size,
                dst,
                amount,
            } => asm.shift(
                *op,
                *size,
                &GprMem::Mem(dst.to_physical()),
                shift_count(*amount),
            ),
            MInst::IMul {
                size,
                src1,
                src2,
                dst,
            } => asm.imul_rm(*size, tied_gpr(*dst, *src1), &src2.to_physical()),
            MInst::IMulImm {
                size,
                src,
                imm,
                dst,
            } => asm.imul_rmi(*size, def(*dst), &src.to_physical(), *imm),
            MInst::MulWide {
                signed,
                size,
                src1,
                src2,
                dst_lo,
                dst_hi,
            } => {
                fixed(*src1, Gpr::RAX);
                fixed(dst_lo.to_reg(), Gpr::RAX);
                fixed(dst_hi.to_reg(), Gpr::RDX);
                asm.mul_wide(*signed, *size, &src2.to_physical())
            }
            MInst::Div {
                signed,
                size,
                dividend_lo,
                dividend_hi,
                divisor,
                dst_quotient,
                dst_remainder,
                trap,
            } => {
                division_registers(*dividend_lo, *dividend_hi, *dst_quotient, *dst_remainder);
                asm.div(*signed, *size, &divisor.to_physical(), Some(*trap))
            }
            MInst::SignExtendRaxRdx { size, src, dst } => {
                fixed(*src, Gpr::RAX);
                fixed(dst.to_reg(), Gpr::RDX);
                asm.sign_extend_rax_into_rdx(*size)
            }
            MInst::CheckedSRemSeq {
                size,
                dividend_lo,
                dividend_hi,
                divisor,
                dst_quotient,
                dst_remainder,
                trap,
            } => {
                division_registers(*dividend_lo, *dividend_hi, *dst_quotient, *dst_remainder);
                asm.checked_srem(*size, divisor.to_physical(), *trap)
            }
            MInst::BitCount { op, size, src, dst } => {
                asm.bit_count(*op, *size, def(*dst), &src.to_physical())
            }
            MInst::Bswap { size, src, dst } => asm.bswap(*size, tied_gpr(*dst, *src)),
            MInst::MovRR { size, src, dst } => asm.mov_rr(*size, def(*dst), src.to_physical()),
            MInst::MovImm { size, imm, dst } => asm.mov_ri(*size, def(*dst), *imm),
            MInst::MovRM { size, src, dst } => asm.mov_rm(*size, def(*dst), &src.to_physical()),
            MInst::MovMR { size, src, dst } => {
                asm.mov_mr(*size, &dst.to_physical(), src.to_physical())
            }
            MInst::MovMI { size, imm, dst } => asm.mov_mi(*size, &dst.to_physical(), *imm),
            MInst::Movzx { mode, src, dst } => asm.movzx(*mode, def(*dst), &src.to_physical()),
            MInst::Movsx { mode, src, dst } => asm.movsx(*mode, def(*dst), &src.to_physical()),
            MInst::Lea { size, addr, dst } => asm.lea(*size, def(*dst), &addr.to_physical()),
            MInst::Setcc { cc, dst } => asm.setcc(*cc, def(*dst)),
            MInst::Cmov {
                cc,
                size,
                consequent,
                alternative,
                dst,
            } => asm.cmov(
                *cc,
                *size,
                tied_gpr(*dst, *alternative),
                &consequent.to_physical(),
            ),
            MInst::Push { src } => asm.push(&src.to_physical()),
            MInst::Pop { dst } => asm.pop_r(def(*dst)),
            MInst::Jmp { target } => asm.jmp(*target),
            MInst::JmpIf { cc, taken } => asm.jcc(*cc, *taken),
            MInst::JmpCond {
                cc,
                taken,
                not_taken,
            } => {
                asm.jcc(*cc, *taken);
                asm.jmp(*not_taken);
            }
            MInst::JmpIndirect { target } => asm.jmp_indirect(&target.to_physical()),
            MInst::JmpTableSeq {
                index,
                tmp1,
                tmp2,
                table,
            } => asm.jmp_table(index.to_physical(), def(*tmp1), def(*tmp2), table),
            MInst::TrapIf { cc, trap } => asm.trap_if(*cc, *trap),
            MInst::Call { info } => match info.dest {
                CallDest::Label(label) => asm.call(label),
                CallDest::External(name) => asm.call_external(name),
            },
            MInst::CallIndirect { target, info: _ } => asm.call_indirect(&target.to_physical()),
            MInst::Ret { stack_bytes_to_pop } => asm.ret_imm(*stack_bytes_to_pop),
            MInst::Ud2 { trap } => asm.ud2(*trap),
            MInst::Int3 => asm.int3(),
            MInst::Nop { len } => asm.nop(usize::from(*len)),
            MInst::Xchg {
                size,
                mem,
                src,
                dst,
            } => asm.xchg_mr(*size, &mem.to_physical(), tied_gpr(*dst, *src)),
            MInst::LockCmpxchg {
                size,
                mem,
                expected,
                replacement,
                dst_old,
            } => {
                fixed(*expected, Gpr::RAX);
                fixed(dst_old.to_reg(), Gpr::RAX);
                asm.lock_cmpxchg(*size, &mem.to_physical(), replacement.to_physical())
            }
            MInst::LockXadd {
                size,
                mem,
                src,
                dst,
            } => asm.lock_xadd(*size, &mem.to_physical(), tied_gpr(*dst, *src)),
            MInst::Mfence => asm.mfence(),
            MInst::XmmLoad { op, src, dst } => asm.xmm_load(*op, def_xmm(*dst), &src.to_physical()),
            MInst::XmmStore { op, src, dst } => {
                asm.xmm_store(*op, &dst.to_physical(), src.to_physical())
            }
            MInst::XmmMovRR { src, dst } => asm.movaps_rr(def_xmm(*dst), src.to_physical()),
            MInst::XmmRmR {
                op,
                src1,
                src2,
                dst,
            } => asm.xmm_rmr(*op, tied_xmm(*dst, *src1), &src2.to_physical()),
            MInst::XmmRound {
                size,
                mode,
                src1,
                src2,
                dst,
            } => asm.round(*size, *mode, tied_xmm(*dst, *src1), &src2.to_physical()),
            MInst::XmmCmp { size, lhs, rhs } => {
                asm.ucomis(*size, lhs.to_physical(), &rhs.to_physical())
            }
            MInst::GprToXmm { size, src, dst } => {
                asm.movd_to_xmm(*size, def_xmm(*dst), &src.to_physical())
            }
            MInst::XmmToGpr { size, src, dst } => {
                asm.movd_from_xmm(*size, def(*dst), src.to_physical())
            }
            MInst::CvtIntToFloat {
                float_size,
                int_size,
                src1,
                src2,
                dst,
            } => asm.cvtsi2f(
                *float_size,
                *int_size,
                tied_xmm(*dst, *src1),
                &src2.to_physical(),
            ),
            MInst::CvtFloatToInt {
                float_size,
                int_size,
                src,
                dst,
            } => asm.cvttf2si(*float_size, *int_size, def(*dst), &src.to_physical()),
            MInst::CvtFloatToSintSeq {
                float_size,
                int_size,
                saturating,
                src,
                dst,
                tmp_xmm,
                trap_nan,
                trap_overflow,
            } => {
                let (src, dst, tmp) = (src.to_physical(), def(*dst), def_xmm(*tmp_xmm));
                if *saturating {
                    asm.cvt_float_to_sint_sat(*float_size, *int_size, dst, src, tmp);
                } else {
                    let on_nan = asm.defer_trap(*trap_nan);
                    let on_overflow = asm.defer_trap(*trap_overflow);
                    asm.cvt_float_to_sint(
                        *float_size,
                        *int_size,
                        dst,
                        src,
                        tmp,
                        on_nan,
                        on_overflow,
                    );
                }
            }
            MInst::CvtFloatToUintSeq {
                float_size,
                int_size,
                saturating,
                src,
                dst,
                tmp_gpr,
                tmp_xmm,
                tmp_xmm2,
                trap_nan,
                trap_overflow,
            } => {
                let (src, dst, tmp_gpr) = (src.to_physical(), def(*dst), def(*tmp_gpr));
                let (tmp_xmm, tmp_xmm2) = (def_xmm(*tmp_xmm), def_xmm(*tmp_xmm2));
                if *saturating {
                    asm.cvt_float_to_uint_sat(
                        *float_size,
                        *int_size,
                        dst,
                        src,
                        tmp_gpr,
                        tmp_xmm,
                        tmp_xmm2,
                    );
                } else {
                    let on_nan = asm.defer_trap(*trap_nan);
                    let on_overflow = asm.defer_trap(*trap_overflow);
                    asm.cvt_float_to_uint(
                        *float_size,
                        *int_size,
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
            MInst::CvtUint64ToFloatSeq {
                float_size,
                src,
                dst,
                tmp1,
                tmp2,
            } => asm.cvt_uint64_to_float(
                *float_size,
                def_xmm(*dst),
                src.to_physical(),
                def(*tmp1),
                def(*tmp2),
            ),
            MInst::XmmMinMaxSeq {
                size,
                is_min,
                lhs,
                rhs,
                dst,
            } => asm.xmm_min_max(*size, *is_min, tied_xmm(*dst, *rhs), lhs.to_physical()),
        }
    }

    /// The CPU features the instruction needs: the base set plus, for SSE
    /// and the optional extensions, the feature its form names in its
    /// instruction table. (Exhaustive on purpose: a new variant must say.)
    pub fn required_features(&self) -> CpuFeatures {
        let needs = |feature: Feature| CpuFeatures::base_only().with(feature);
        let sse_for = |size: FloatSize| match size {
            FloatSize::F32 => needs(Feature::Sse),
            FloatSize::F64 => needs(Feature::Sse2),
        };
        match self {
            MInst::AluRmi { .. }
            | MInst::AluMem { .. }
            | MInst::Cmp { .. }
            | MInst::CmpMem { .. }
            | MInst::Test { .. }
            | MInst::Unary { .. }
            | MInst::UnaryMem { .. }
            | MInst::Shift { .. }
            | MInst::ShiftMem { .. }
            | MInst::IMul { .. }
            | MInst::IMulImm { .. }
            | MInst::MulWide { .. }
            | MInst::Div { .. }
            | MInst::SignExtendRaxRdx { .. }
            | MInst::CheckedSRemSeq { .. }
            | MInst::Bswap { .. }
            | MInst::MovRR { .. }
            | MInst::MovImm { .. }
            | MInst::MovRM { .. }
            | MInst::MovMR { .. }
            | MInst::MovMI { .. }
            | MInst::Movzx { .. }
            | MInst::Movsx { .. }
            | MInst::Lea { .. }
            | MInst::Setcc { .. }
            | MInst::Cmov { .. }
            | MInst::Push { .. }
            | MInst::Pop { .. }
            | MInst::Jmp { .. }
            | MInst::JmpIf { .. }
            | MInst::JmpCond { .. }
            | MInst::JmpIndirect { .. }
            | MInst::JmpTableSeq { .. }
            | MInst::TrapIf { .. }
            | MInst::Call { .. }
            | MInst::CallIndirect { .. }
            | MInst::Ret { .. }
            | MInst::Ud2 { .. }
            | MInst::Int3
            | MInst::Nop { .. }
            | MInst::Xchg { .. }
            | MInst::LockCmpxchg { .. }
            | MInst::LockXadd { .. } => CpuFeatures::base_only(),
            MInst::Mfence | MInst::GprToXmm { .. } | MInst::XmmToGpr { .. } => needs(Feature::Sse2),
            MInst::BitCount { op, .. } => needs(op.feature()),
            MInst::XmmLoad { op, .. } | MInst::XmmStore { op, .. } => needs(op.feature()),
            MInst::XmmMovRR { .. } => needs(Feature::Sse),
            MInst::XmmRmR { op, .. } => needs(op.feature()),
            MInst::XmmRound { .. } => needs(Feature::Sse41),
            MInst::XmmCmp { size, .. } | MInst::XmmMinMaxSeq { size, .. } => sse_for(*size),
            MInst::CvtIntToFloat { float_size, .. }
            | MInst::CvtFloatToInt { float_size, .. }
            | MInst::CvtFloatToSintSeq { float_size, .. }
            | MInst::CvtFloatToUintSeq { float_size, .. }
            | MInst::CvtUint64ToFloatSeq { float_size, .. } => sse_for(*float_size),
        }
    }

    /// Whether a CPU with `features` can run the instruction.
    pub fn is_available(&self, features: CpuFeatures) -> bool {
        self.required_features().iter().all(|f| features.has(f))
    }
}
