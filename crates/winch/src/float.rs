//! Scalar `f32` and `f64` operators, with WebAssembly's semantics.
//!
//! A float value lives in the low lane of an XMM register (`Val::Xmm`), in
//! an 8-byte slot (a local's or a spilled value's, stored with MOVSS or
//! MOVSD), or is a constant (its bits). An `f32` is always read 32 bits at a
//! time, so the upper half of its slot or the rest of its lane is undefined
//! (unlike an `i32`'s, invariant 2 of the crate docs), and slots are still
//! copied 64 bits at a time.
//!
//! Where SSE and WebAssembly differ, the code says how it closes the gap:
//!
//! * `min`/`max`: MINSS/MAXSS return the second operand for NaN and for
//!   `±0` pairs; the assembler's `xmm_min_max` sequence gives NaN and orders
//!   `-0 < +0`.
//! * comparisons: UCOMISS sets ZF, PF and CF all for unordered operands, so
//!   `gt`/`ge` are `a`/`ae` (false for NaN), `lt`/`le` the same with the
//!   operands swapped, `eq` is `ZF && !PF` and `ne` is `!ZF || PF`.
//! * `abs`, `neg`, `copysign`: bit masks, never arithmetic (which would
//!   touch NaN payloads and the sign of zero). The masks are 16-byte
//!   constants because the packed logical forms read 16 aligned bytes.
//! * float to integer: CVTTSS2SI gives the "integer indefinite" value for
//!   NaN and out-of-range inputs; the assembler's `cvt_float_to_*`
//!   sequences tell those apart, trapping or saturating.
//! * unsigned integer to float: a `u32` is already zero-extended in its
//!   register (invariant 2), so it converts as a signed 64-bit integer; a
//!   `u64` goes through `cvt_uint64_to_float`.
//! * `ceil`, `floor`, `trunc`, `nearest`: ROUNDSS/ROUNDSD (SSE4.1), whose
//!   "nearest" mode rounds ties to even, as `nearest` must. Without SSE4.1
//!   they are refused for now.

use crate::codegen::{CodeGen, float_size};
use crate::error::CompileError;
use crate::regs::{SCRATCH, XMM_SCRATCH};
use crate::stack::Val;
use cranelift_asm::x64::{
    Amode, CC, ExtMode, Feature, GprMem, OperandSize, RoundMode, SseOp, XmmMem,
};
use duet_environ::trap::Trap;
use wasmparser::ValType;

/// A float comparison.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(crate) enum FloatCompare {
    Eq,
    Ne,
    Lt,
    Gt,
    Le,
    Ge,
}

/// A sign-bit operation.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(crate) enum SignOp {
    Abs,
    Neg,
    Copysign,
}

/// The `f32` form of an operation if `ty` is `f32`, otherwise the `f64` one.
fn by_size(ty: ValType, f32_op: SseOp, f64_op: SseOp) -> SseOp {
    match ty {
        ValType::F32 => f32_op,
        _ => f64_op,
    }
}

/// The 16 bytes of a lane mask for `ty`: `bits` in every lane.
fn lane_mask(ty: ValType, sign_bit_only: bool) -> [u8; 16] {
    let mut bytes = [0; 16];
    match ty {
        ValType::F32 => {
            let lane: u32 = if sign_bit_only { 1 << 31 } else { !(1 << 31) };
            for chunk in bytes.chunks_exact_mut(4) {
                chunk.copy_from_slice(&lane.to_le_bytes());
            }
        }
        _ => {
            let lane: u64 = if sign_bit_only { 1 << 63 } else { !(1 << 63) };
            for chunk in bytes.chunks_exact_mut(8) {
                chunk.copy_from_slice(&lane.to_le_bytes());
            }
        }
    }
    bytes
}

impl CodeGen<'_> {
    /// A constant-pool operand holding the sign-bit mask of `ty` (or its
    /// complement), 16-byte aligned for the packed logical forms.
    fn sign_mask(&mut self, ty: ValType, sign_bit_only: bool) -> XmmMem {
        let constant = self.asm.add_constant(&lane_mask(ty, sign_bit_only), 16);
        XmmMem::Mem(Amode::constant(constant))
    }

    /// `add`, `sub`, `mul`, `div` (`op` is the form of `ty`'s size):
    /// `lhs op= rhs`.
    pub(crate) fn float_binop(&mut self, ty: ValType, op: SseOp) -> Result<(), CompileError> {
        let rhs = self.pop_xmm_mem();
        let lhs = self.pop_xmm();
        self.asm.xmm_rmr(op, lhs, &rhs);
        self.free_xmm_mem(rhs);
        self.push_xmm(lhs, ty);
        Ok(())
    }

    /// A one-operand SSE operation in place (`sqrt`, and the conversions
    /// between `f32` and `f64`), giving a `to` value.
    pub(crate) fn float_unop(&mut self, op: SseOp, to: ValType) -> Result<(), CompileError> {
        let reg = self.pop_xmm();
        self.asm.xmm_rmr(op, reg, &XmmMem::Xmm(reg));
        self.push_xmm(reg, to);
        Ok(())
    }

    /// `min` and `max`, through the assembler's NaN- and zero-aware
    /// sequence (the result replaces the right operand).
    pub(crate) fn float_min_max(&mut self, ty: ValType, is_min: bool) -> Result<(), CompileError> {
        let rhs = self.pop_xmm();
        let lhs = self.pop_xmm();
        self.asm.xmm_min_max(float_size(ty), is_min, rhs, lhs);
        self.free_xmm(lhs);
        self.push_xmm(rhs, ty);
        Ok(())
    }

    /// `abs`, `neg` and `copysign`: only the sign bit changes, so NaN
    /// payloads survive, as WebAssembly requires of these three.
    pub(crate) fn float_sign_op(&mut self, ty: ValType, op: SignOp) -> Result<(), CompileError> {
        let and = by_size(ty, SseOp::Andps, SseOp::Andpd);
        match op {
            SignOp::Abs => {
                let reg = self.pop_xmm();
                let mask = self.sign_mask(ty, false);
                self.asm.xmm_rmr(and, reg, &mask);
                self.push_xmm(reg, ty);
            }
            SignOp::Neg => {
                let reg = self.pop_xmm();
                let mask = self.sign_mask(ty, true);
                let xor = by_size(ty, SseOp::Xorps, SseOp::Xorpd);
                self.asm.xmm_rmr(xor, reg, &mask);
                self.push_xmm(reg, ty);
            }
            SignOp::Copysign => {
                // lhs = (lhs & !sign) | (rhs & sign)
                let rhs = self.pop_xmm();
                let lhs = self.pop_xmm();
                let sign = self.sign_mask(ty, true);
                let magnitude = self.sign_mask(ty, false);
                self.asm.xmm_rmr(and, rhs, &sign);
                self.asm.xmm_rmr(and, lhs, &magnitude);
                let or = by_size(ty, SseOp::Orps, SseOp::Orpd);
                self.asm.xmm_rmr(or, lhs, &XmmMem::Xmm(rhs));
                self.free_xmm(rhs);
                self.push_xmm(lhs, ty);
            }
        }
        Ok(())
    }

    /// `ceil`, `floor`, `trunc`, `nearest` with ROUNDSS/ROUNDSD; refused
    /// (as `operator`, which names the operator and SSE4.1) on a CPU
    /// without SSE4.1.
    pub(crate) fn float_round(
        &mut self,
        ty: ValType,
        mode: RoundMode,
        operator: &'static str,
    ) -> Result<(), CompileError> {
        if !self.asm.features().has(Feature::Sse41) {
            return Err(self.unsupported(operator));
        }
        let reg = self.pop_xmm();
        self.asm.round(float_size(ty), mode, reg, &XmmMem::Xmm(reg));
        self.push_xmm(reg, ty);
        Ok(())
    }

    /// A comparison, giving an `i32` 0 or 1.
    pub(crate) fn float_compare(
        &mut self,
        ty: ValType,
        compare: FloatCompare,
    ) -> Result<(), CompileError> {
        // `lt`/`le` compare the other way round (`b > a`, `b >= a`), so the
        // conditions that are false for unordered operands serve all four.
        let swapped = matches!(compare, FloatCompare::Lt | FloatCompare::Le);
        let (first, second) = if swapped {
            let rhs = self.pop_xmm();
            let lhs = self.pop_xmm_mem();
            (rhs, lhs)
        } else {
            let rhs = self.pop_xmm_mem();
            let lhs = self.pop_xmm();
            (lhs, rhs)
        };
        // Allocate before the comparison: spilling may write the flags.
        let dst = self.alloc_gpr();
        self.asm.ucomis(float_size(ty), first, &second);
        match compare {
            FloatCompare::Gt | FloatCompare::Lt => self.asm.setcc(CC::A, dst),
            FloatCompare::Ge | FloatCompare::Le => self.asm.setcc(CC::AE, dst),
            FloatCompare::Eq => {
                // Equal and ordered: ZF && !PF.
                self.asm.setcc(CC::Z, dst);
                self.asm.setcc(CC::NP, SCRATCH);
                self.asm.and_rr(OperandSize::S32, dst, SCRATCH);
            }
            FloatCompare::Ne => {
                // Different or unordered: !ZF || PF.
                self.asm.setcc(CC::NZ, dst);
                self.asm.setcc(CC::P, SCRATCH);
                self.asm.or_rr(OperandSize::S32, dst, SCRATCH);
            }
        }
        // Only the low byte is meaningful so far.
        self.asm.movzx(ExtMode::BL, dst, &GprMem::Gpr(dst));
        self.free_xmm(first);
        self.free_xmm_mem(second);
        self.push_gpr(dst, ValType::I32);
        Ok(())
    }

    /// `fNN.convert_iMM_s/u`.
    pub(crate) fn float_from_int(
        &mut self,
        from: ValType,
        to: ValType,
        signed: bool,
    ) -> Result<(), CompileError> {
        let src = self.pop_gpr();
        let dst = self.alloc_xmm();
        let size = float_size(to);
        match (from, signed) {
            (ValType::I32, true) => {
                self.asm
                    .cvtsi2f(size, OperandSize::S32, dst, &GprMem::Gpr(src))
            }
            // Invariant 2: the u32 is zero-extended, so as an i64 it is
            // non-negative and converts exactly as the u32 would.
            (ValType::I32, false) | (_, true) => {
                self.asm
                    .cvtsi2f(size, OperandSize::S64, dst, &GprMem::Gpr(src))
            }
            (_, false) => {
                let tmp = self.alloc_gpr();
                self.asm.cvt_uint64_to_float(size, dst, src, SCRATCH, tmp);
                self.free_gpr(tmp);
            }
        }
        self.free_gpr(src);
        self.push_xmm(dst, to);
        Ok(())
    }

    /// `iNN.trunc_fMM_s/u` (trapping) and `iNN.trunc_sat_fMM_s/u`. The
    /// results are written at their size, so an `i32`'s upper half is clear
    /// (invariant 2; the unsigned 32-bit forms convert to 64 bits and leave
    /// only in-range values, below 2^32).
    pub(crate) fn float_to_int(
        &mut self,
        from: ValType,
        to: ValType,
        signed: bool,
        saturating: bool,
    ) -> Result<(), CompileError> {
        let (float, int) = (float_size(from), crate::codegen::int_size(to));
        let src = self.pop_xmm();
        let dst = self.alloc_gpr();
        match (signed, saturating) {
            (true, false) => {
                let nan = self.asm.defer_trap(Trap::BadConversionToInteger.code());
                let overflow = self.asm.defer_trap(Trap::IntegerOverflow.code());
                self.asm
                    .cvt_float_to_sint(float, int, dst, src, XMM_SCRATCH, nan, overflow);
            }
            (true, true) => self
                .asm
                .cvt_float_to_sint_sat(float, int, dst, src, XMM_SCRATCH),
            (false, _) => {
                let tmp = self.alloc_xmm();
                if saturating {
                    self.asm
                        .cvt_float_to_uint_sat(float, int, dst, src, SCRATCH, XMM_SCRATCH, tmp);
                } else {
                    let nan = self.asm.defer_trap(Trap::BadConversionToInteger.code());
                    let overflow = self.asm.defer_trap(Trap::IntegerOverflow.code());
                    self.asm.cvt_float_to_uint(
                        float,
                        int,
                        dst,
                        src,
                        SCRATCH,
                        XMM_SCRATCH,
                        tmp,
                        nan,
                        overflow,
                    );
                }
                self.free_xmm(tmp);
            }
        }
        self.free_xmm(src);
        self.push_gpr(dst, to);
        Ok(())
    }

    /// `reinterpret`: the same bits as a value of type `to` (the other
    /// register class). Constants are relabelled without code.
    pub(crate) fn reinterpret(&mut self, to: ValType) -> Result<(), CompileError> {
        let val = self.stack.pop().expect("validated");
        let relabelled = match val {
            Val::I32(v) => Some(Val::F32(v as u32)),
            Val::I64(v) => Some(Val::F64(v as u64)),
            Val::F32(bits) => Some(Val::I32(bits as i32)),
            Val::F64(bits) => Some(Val::I64(bits as i64)),
            _ => None,
        };
        if let Some(constant) = relabelled {
            self.stack.push(constant);
            return Ok(());
        }
        match to {
            ValType::F32 | ValType::F64 => {
                let reg = self.val_to_xmm(val);
                self.push_xmm(reg, to);
            }
            _ => {
                let reg = self.val_to_gpr(val);
                // An f32's upper half is undefined, in a slot and in an XMM
                // register (whose move to a GPR is 64 bits wide); an i32's
                // must be clear (invariant 2).
                if to == ValType::I32 {
                    self.asm.mov_rr(OperandSize::S32, reg, reg);
                }
                self.push_gpr(reg, to);
            }
        }
        Ok(())
    }

    /// `select` of two floats: the first unless the condition is zero.
    pub(crate) fn float_select(&mut self) -> Result<(), CompileError> {
        let condition = self.pop_gpr();
        let if_false = self.pop_xmm();
        let ty = self.stack.last().expect("validated").ty();
        let result = self.pop_xmm();
        // Everything is popped: nothing can spill (and write the flags)
        // between the test and the branch.
        let done = self.asm.new_label();
        self.asm.test_rr(OperandSize::S32, condition, condition);
        self.asm.jcc(CC::NZ, done);
        self.asm.movaps_rr(result, if_false);
        self.bind(done)?;
        self.free_gpr(condition);
        self.free_xmm(if_false);
        self.push_xmm(result, ty);
        Ok(())
    }
}
