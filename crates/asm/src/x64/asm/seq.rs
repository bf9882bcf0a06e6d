//! Multi-instruction sequences with internal control flow, shared by both
//! compilers: checked and saturating float-to-integer conversions, unsigned
//! 64-bit integer to float, WebAssembly's NaN-aware min/max, a bounds-checked
//! jump table, and a signed remainder that survives `INT_MIN % -1`.
//!
//! Every internal branch targets a buffer [`Label`], never a hand-counted
//! byte offset, so the sequences stay correct whatever size each branch
//! ends up (rel8 or rel32) and whatever the buffer simplifies. Trapping
//! sequences take the labels to jump to on each failure; a compiler passes
//! [`Assembler::defer_trap`] labels (or its own handlers).
//!
//! Register requirements are stated per method: temporaries and the
//! destination must be distinct from the inputs they would clobber (the
//! `MInst` forms tell the register allocator so with early defs).

use super::{AsmError, Assembler};
use crate::buffer::Label;
use crate::metadata::TrapCode;
use crate::x64::args::{Amode, GprMem, GprMemImm, XmmMem};
use crate::x64::regs::{Gpr, Xmm};
use crate::x64::{AluOp, CC, FloatSize, LabelUse, OperandSize, SseMovOp, SseOp};

/// The targets of a jump table: one label per index, and the label taken
/// for any index past the end.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JumpTableTargets {
    /// Taken for `index >= targets.len()`.
    pub default: Label,
    /// Taken for `index`.
    pub targets: Vec<Label>,
}

/// Scalar float operations by size.
fn sse_op(size: FloatSize, f32_op: SseOp, f64_op: SseOp) -> SseOp {
    match size {
        FloatSize::F32 => f32_op,
        FloatSize::F64 => f64_op,
    }
}

impl Assembler {
    /// Binds a label this module made (and so never bound before).
    fn bind_internal(&mut self, label: Label) {
        if let Err(error) = self.buffer.bind_label(label) {
            self.fail(AsmError::Buffer(error));
        }
    }

    /// A constant-pool operand holding `value` at `size`.
    fn float_constant(&mut self, size: FloatSize, value: f64) -> Amode {
        let constant = match size {
            FloatSize::F32 => self.buffer.add_constant(&(value as f32).to_le_bytes(), 4),
            FloatSize::F64 => self.buffer.add_constant(&value.to_le_bytes(), 8),
        };
        Amode::constant(constant)
    }

    /// Loads a float constant into `dst`.
    fn load_float_constant(&mut self, size: FloatSize, dst: Xmm, value: f64) {
        let constant = self.float_constant(size, value);
        let op = match size {
            FloatSize::F32 => SseMovOp::Movss,
            FloatSize::F64 => SseMovOp::Movsd,
        };
        self.xmm_load(op, dst, &constant);
    }

    /// `dst = trunc(src)` as a signed integer, jumping to `on_nan` when `src`
    /// is NaN and to `on_overflow` when the truncated value does not fit
    /// (WebAssembly's `iNN.trunc_fMM_s`). `tmp` must differ from `src`; `dst`
    /// may be any GPR.
    ///
    /// ```text
    ///     cvttsd2si dst, src        ; INT_MIN for NaN and out of range
    ///     cmp dst, 1                ; overflows exactly when dst == INT_MIN
    ///     jno done
    ///     ucomisd src, src
    ///     jp on_nan
    ///     movsd tmp, [lowest]       ; INT_MIN, or INT_MIN - 1 for f64 -> i32
    ///     ucomisd src, tmp
    ///     jb/jbe on_overflow        ; below the range
    ///     xorpd tmp, tmp
    ///     ucomisd src, tmp
    ///     jae on_overflow           ; INT_MIN from a non-negative input: too big
    ///   done:
    /// ```
    #[allow(clippy::too_many_arguments)]
    pub fn cvt_float_to_sint(
        &mut self,
        float_size: FloatSize,
        int_size: OperandSize,
        dst: Gpr,
        src: Xmm,
        tmp: Xmm,
        on_nan: Label,
        on_overflow: Label,
    ) {
        let done = self.new_label();
        self.cvttf2si(float_size, int_size, dst, &XmmMem::Xmm(src));
        self.cmp_ri(int_size, dst, 1);
        self.jcc(CC::NO, done);
        self.ucomis(float_size, src, &XmmMem::Xmm(src));
        self.jcc(CC::P, on_nan);
        // INT_MIN is the true result only when src truncates to it: src is
        // at least INT_MIN, or, where INT_MIN - 1 is representable (f64 to
        // i32), above INT_MIN - 1.
        let (lowest, below) = match (float_size, int_size) {
            (FloatSize::F64, OperandSize::S32) => (-2147483649.0, CC::BE),
            (_, OperandSize::S32) => (-2147483648.0, CC::B),
            _ => (-9223372036854775808.0, CC::B),
        };
        self.load_float_constant(float_size, tmp, lowest);
        self.ucomis(float_size, src, &XmmMem::Xmm(tmp));
        self.jcc(below, on_overflow);
        self.xmm_rmr(SseOp::Xorps, tmp, &XmmMem::Xmm(tmp));
        self.ucomis(float_size, src, &XmmMem::Xmm(tmp));
        self.jcc(CC::AE, on_overflow);
        self.bind_internal(done);
    }

    /// `dst = trunc(src)` as a signed integer, saturating: NaN gives 0, values
    /// below (above) the range give INT_MIN (INT_MAX) (WebAssembly's
    /// `iNN.trunc_sat_fMM_s`). `tmp` must differ from `src`.
    pub fn cvt_float_to_sint_sat(
        &mut self,
        float_size: FloatSize,
        int_size: OperandSize,
        dst: Gpr,
        src: Xmm,
        tmp: Xmm,
    ) {
        let done = self.new_label();
        let not_nan = self.new_label();
        self.cvttf2si(float_size, int_size, dst, &XmmMem::Xmm(src));
        self.cmp_ri(int_size, dst, 1);
        self.jcc(CC::NO, done);
        self.ucomis(float_size, src, &XmmMem::Xmm(src));
        self.jcc(CC::NP, not_nan);
        self.xor_rr(OperandSize::S32, dst, dst);
        self.jmp(done);
        self.bind_internal(not_nan);
        // dst is INT_MIN: right for negative inputs; positive ones saturate
        // to INT_MAX, which is !INT_MIN.
        self.xmm_rmr(SseOp::Xorps, tmp, &XmmMem::Xmm(tmp));
        self.ucomis(float_size, src, &XmmMem::Xmm(tmp));
        self.jcc(CC::B, done);
        self.not_r(int_size, dst);
        self.bind_internal(done);
    }

    /// `dst = trunc(src)` as an unsigned integer, jumping to `on_nan` when
    /// `src` is NaN and to `on_overflow` when the truncated value does not fit
    /// (WebAssembly's `iNN.trunc_fMM_u`). The temporaries must differ from
    /// `src` and `dst` and from each other.
    ///
    /// 32-bit results convert to a 64-bit signed integer (exact for every
    /// in-range input) and check that the upper half is clear. 64-bit results
    /// convert inputs at or above 2^63 after subtracting 2^63, then set bit 63.
    #[allow(clippy::too_many_arguments)]
    pub fn cvt_float_to_uint(
        &mut self,
        float_size: FloatSize,
        int_size: OperandSize,
        dst: Gpr,
        src: Xmm,
        tmp_gpr: Gpr,
        tmp_xmm: Xmm,
        tmp_xmm2: Xmm,
        on_nan: Label,
        on_overflow: Label,
    ) {
        self.ucomis(float_size, src, &XmmMem::Xmm(src));
        self.jcc(CC::P, on_nan);
        if int_size != OperandSize::S64 {
            // -1 < src < 2^32 exactly when the 64-bit result's upper half is
            // clear (inputs beyond 2^63 give INT64_MIN, whose upper half is not).
            self.cvttf2si(float_size, OperandSize::S64, dst, &XmmMem::Xmm(src));
            self.mov_rr(OperandSize::S64, tmp_gpr, dst);
            self.shr_ri(OperandSize::S64, tmp_gpr, 32);
            self.jcc(CC::NZ, on_overflow);
            return;
        }
        let done = self.new_label();
        let big = self.new_label();
        self.load_float_constant(float_size, tmp_xmm, 9223372036854775808.0);
        self.ucomis(float_size, src, &XmmMem::Xmm(tmp_xmm));
        self.jcc(CC::AE, big);
        // src < 2^63: a negative result means src <= -1.
        self.cvttf2si(float_size, OperandSize::S64, dst, &XmmMem::Xmm(src));
        self.test_rr(OperandSize::S64, dst, dst);
        self.jcc(CC::S, on_overflow);
        self.jmp(done);
        self.bind_internal(big);
        self.subtract_two_to_the_63(float_size, dst, src, tmp_gpr, tmp_xmm, tmp_xmm2);
        // src >= 2^64 converts to INT64_MIN (negative).
        self.jcc(CC::S, on_overflow);
        self.or_rr(OperandSize::S64, dst, tmp_gpr);
        self.bind_internal(done);
    }

    /// dst = (src - 2^63) converted, then tested, with tmp_gpr = 2^63 (bit 63).
    fn subtract_two_to_the_63(
        &mut self,
        float_size: FloatSize,
        dst: Gpr,
        src: Xmm,
        tmp_gpr: Gpr,
        tmp_xmm: Xmm,
        tmp_xmm2: Xmm,
    ) {
        self.movaps_rr(tmp_xmm2, src);
        self.xmm_rmr(
            sse_op(float_size, SseOp::Subss, SseOp::Subsd),
            tmp_xmm2,
            &XmmMem::Xmm(tmp_xmm),
        );
        self.cvttf2si(float_size, OperandSize::S64, dst, &XmmMem::Xmm(tmp_xmm2));
        self.mov_ri(OperandSize::S64, tmp_gpr, 1 << 63);
        self.test_rr(OperandSize::S64, dst, dst);
    }

    /// `dst = trunc(src)` as an unsigned integer, saturating: NaN and values
    /// at or below zero give 0, values above the range give the maximum
    /// (WebAssembly's `iNN.trunc_sat_fMM_u`). Temporaries as for
    /// [`cvt_float_to_uint`](Self::cvt_float_to_uint).
    #[allow(clippy::too_many_arguments)]
    pub fn cvt_float_to_uint_sat(
        &mut self,
        float_size: FloatSize,
        int_size: OperandSize,
        dst: Gpr,
        src: Xmm,
        tmp_gpr: Gpr,
        tmp_xmm: Xmm,
        tmp_xmm2: Xmm,
    ) {
        let done = self.new_label();
        let zero = self.new_label();
        let max = self.new_label();
        self.xmm_rmr(SseOp::Xorps, tmp_xmm, &XmmMem::Xmm(tmp_xmm));
        self.ucomis(float_size, src, &XmmMem::Xmm(tmp_xmm));
        // Unordered (NaN) sets ZF, PF and CF, so `jbe` takes NaN too.
        self.jcc(CC::BE, zero);
        let is_64 = int_size == OperandSize::S64;
        let limit = if is_64 {
            9223372036854775808.0
        } else {
            4294967296.0
        };
        self.load_float_constant(float_size, tmp_xmm, limit);
        self.ucomis(float_size, src, &XmmMem::Xmm(tmp_xmm));
        if is_64 {
            let big = self.new_label();
            self.jcc(CC::AE, big);
            self.cvttf2si(float_size, OperandSize::S64, dst, &XmmMem::Xmm(src));
            self.jmp(done);
            self.bind_internal(big);
            self.subtract_two_to_the_63(float_size, dst, src, tmp_gpr, tmp_xmm, tmp_xmm2);
            self.jcc(CC::S, max);
            self.or_rr(OperandSize::S64, dst, tmp_gpr);
            self.jmp(done);
        } else {
            self.jcc(CC::AE, max);
            self.cvttf2si(float_size, OperandSize::S64, dst, &XmmMem::Xmm(src));
            self.jmp(done);
        }
        self.bind_internal(zero);
        self.xor_rr(OperandSize::S32, dst, dst);
        self.jmp(done);
        self.bind_internal(max);
        self.mov_ri(int_size, dst, u64::MAX >> (64 - int_size.bits()));
        self.bind_internal(done);
    }

    /// `dst = src` converted from an unsigned 64-bit integer to float
    /// (WebAssembly's `fNN.convert_i64_u`), rounding to nearest. Values with
    /// bit 63 set are halved (keeping the lost bit, so rounding stays
    /// correct), converted and doubled. `tmp1` and `tmp2` must differ from
    /// `src` and each other.
    pub fn cvt_uint64_to_float(
        &mut self,
        float_size: FloatSize,
        dst: Xmm,
        src: Gpr,
        tmp1: Gpr,
        tmp2: Gpr,
    ) {
        let done = self.new_label();
        let negative = self.new_label();
        self.test_rr(OperandSize::S64, src, src);
        self.jcc(CC::S, negative);
        self.cvtsi2f(float_size, OperandSize::S64, dst, &GprMem::Gpr(src));
        self.jmp(done);
        self.bind_internal(negative);
        self.mov_rr(OperandSize::S64, tmp1, src);
        self.shr_ri(OperandSize::S64, tmp1, 1);
        self.mov_rr(OperandSize::S64, tmp2, src);
        self.and_ri(OperandSize::S64, tmp2, 1);
        self.or_rr(OperandSize::S64, tmp1, tmp2);
        self.cvtsi2f(float_size, OperandSize::S64, dst, &GprMem::Gpr(tmp1));
        self.xmm_rmr(
            sse_op(float_size, SseOp::Addss, SseOp::Addsd),
            dst,
            &XmmMem::Xmm(dst),
        );
        self.bind_internal(done);
    }

    /// `dst = min(lhs, dst)` or `max(lhs, dst)` with WebAssembly's rules: a
    /// NaN operand gives NaN, and -0 is less than +0 (MINSS/MAXSS alone
    /// return the second operand in both cases).
    ///
    /// ```text
    ///     ucomiss lhs, dst
    ///     jne minmax                ; ordered and different
    ///     jp nan
    ///     orps/andps dst, lhs       ; equal: -0 wins a min, +0 a max
    ///     jmp done
    ///   nan:
    ///     addss dst, lhs            ; NaN + x is a quiet NaN
    ///     jmp done
    ///   minmax:
    ///     minss/maxss dst, lhs
    ///   done:
    /// ```
    pub fn xmm_min_max(&mut self, size: FloatSize, is_min: bool, dst: Xmm, lhs: Xmm) {
        let done = self.new_label();
        let nan = self.new_label();
        let minmax = self.new_label();
        let lhs_operand = XmmMem::Xmm(lhs);
        self.ucomis(size, lhs, &XmmMem::Xmm(dst));
        self.jcc(CC::NZ, minmax);
        self.jcc(CC::P, nan);
        let equal_op = match (is_min, size) {
            (true, FloatSize::F32) => SseOp::Orps,
            (true, FloatSize::F64) => SseOp::Orpd,
            (false, FloatSize::F32) => SseOp::Andps,
            (false, FloatSize::F64) => SseOp::Andpd,
        };
        self.xmm_rmr(equal_op, dst, &lhs_operand);
        self.jmp(done);
        self.bind_internal(nan);
        self.xmm_rmr(sse_op(size, SseOp::Addss, SseOp::Addsd), dst, &lhs_operand);
        self.jmp(done);
        self.bind_internal(minmax);
        let op = match is_min {
            true => sse_op(size, SseOp::Minss, SseOp::Minsd),
            false => sse_op(size, SseOp::Maxss, SseOp::Maxsd),
        };
        self.xmm_rmr(op, dst, &lhs_operand);
        self.bind_internal(done);
    }

    /// Jumps to `targets.targets[index]`, or to `targets.default` when the
    /// 32-bit `index` is past the end (WebAssembly's `br_table`). `tmp1` and
    /// `tmp2` must differ from each other; `index` is only read.
    ///
    /// ```text
    ///     cmp index32, len
    ///     jae default
    ///     mov tmp2_32, index32      ; zero-extends the index
    ///     lea tmp1, [rip + table]
    ///     movsxd tmp2, [tmp1 + tmp2*4]
    ///     add tmp1, tmp2
    ///     jmp tmp1
    ///   table:
    ///     .long target0 - table, target1 - table, ...
    /// ```
    pub fn jmp_table(&mut self, index: Gpr, tmp1: Gpr, tmp2: Gpr, targets: &JumpTableTargets) {
        let Ok(len) = i32::try_from(targets.targets.len()) else {
            self.fail(AsmError::InvalidOperand {
                mnemonic: "jump table",
                reason: "more than 2^31 entries",
            });
            return;
        };
        let table = self.new_label();
        self.cmp_rmi(OperandSize::S32, index, &GprMemImm::Imm(len));
        self.jcc(CC::AE, targets.default);
        self.mov_rr(OperandSize::S32, tmp2, index);
        self.lea(OperandSize::S64, tmp1, &Amode::label(table));
        let entry = Amode::base_index(tmp1, tmp2, crate::x64::Scale::Four, 0);
        self.movsx(crate::x64::ExtMode::LQ, tmp2, &GprMem::Mem(entry));
        self.alu_rmi(AluOp::Add, OperandSize::S64, tmp1, &GprMemImm::Gpr(tmp2));
        self.jmp_indirect(&GprMem::Gpr(tmp1));
        self.bind_internal(table);
        let table_offset = self.buffer.cur_offset();
        for &target in &targets.targets {
            let entry = self.buffer.cur_offset();
            // Rel32 adds `target - entry` to the field's contents, leaving
            // `target - table`.
            self.emit_bytes(&((entry - table_offset) as i32).to_le_bytes());
            self.buffer
                .use_label_at_offset(entry, target, LabelUse::Rel32);
        }
    }

    /// `rdx = rdx:rax % divisor` (signed), with `INT_MIN % -1` giving 0 instead
    /// of faulting (WebAssembly's `iNN.rem_s`). The dividend must already be
    /// sign-extended into rdx; rax is clobbered. `trap` is the trap code of
    /// the division (a zero divisor faults).
    pub fn checked_srem(&mut self, size: OperandSize, divisor: Gpr, trap: TrapCode) {
        let done = self.new_label();
        let divide = self.new_label();
        self.cmp_ri(size, divisor, -1);
        self.jcc(CC::NZ, divide);
        self.xor_rr(OperandSize::S32, Gpr::RDX, Gpr::RDX);
        self.jmp(done);
        self.bind_internal(divide);
        self.div(true, size, &GprMem::Gpr(divisor), Some(trap));
        self.bind_internal(done);
    }
}
