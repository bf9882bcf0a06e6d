//! SSE, SSE2, SSSE3, SSE4.1 and SSE4.2 in their legacy (non-VEX) encodings:
//! scalar float arithmetic, comparisons, conversions, moves between XMM
//! registers, memory and GPRs, and the packed (128-bit) integer and float
//! forms; the VEX.128 (AVX, AVX2) forms of the packed ones; and the
//! choosers ([`Assembler::packed`] and one per other shape), which pick
//! between a legacy form and its VEX twin by the CPU's features.
//!
//! The forms (the manual's mnemonic and encoding, the CPU feature) are
//! declared in the instruction table (`xtask/src/x64/table.rs`, see
//! `docs/assembler.md`); the encoders here emit the declared forms, one
//! encoder per shape:
//!
//! ```text
//!  shape            operands                  operation enum
//!  XmmRmR           op xmm1, xmm2/m           SseOp          xmm1 read and written
//!  XmmUnaryRmR      op xmm1, xmm2/m           SseUnaryOp     xmm1 written only
//!  XmmRmRImm        op xmm1, xmm2/m, imm8     SseImmOp       xmm1 read and written
//!  XmmUnaryRmRImm   op xmm1, xmm2/m, imm8     SseUnaryImmOp  xmm1 written only
//!  XmmShiftImm      op xmm1, imm8             SseShiftImmOp  /digit in ModRM.reg
//!  XmmRR            op xmm1, xmm2             SseRegOp       register only
//!  XmmInsert        op xmm1, r/m, imm8        SseInsertOp    xmm1 read and written
//!  XmmExtract       op r, xmm1, imm8          SseExtractOp   xmm1 in ModRM.reg
//!  XmmExtractMem    op m, xmm1, imm8          SseExtractOp   (a store)
//!  XmmMoveMask      op r32, xmm1              SseMoveMaskOp  r32 in ModRM.reg
//!  XmmBlendv        op xmm1, xmm2/m, <xmm0>   SseBlendvOp    xmm0 fixed, read
//!  XmmTest          op xmm1, xmm2/m128        SseTestOp      flags only
//!
//!  VEX.128 (nothing tied; memory of any alignment):
//!  XmmRmRVex          op xmm1, xmm2, xmm3/m         AvxOp          reg, vvvv, rm
//!  XmmUnaryRmRVex     op xmm1, xmm2/m               AvxUnaryOp     reg, rm (vvvv 1111b)
//!  XmmRmRImmVex       op xmm1, xmm2, xmm3/m, imm8   AvxImmOp       reg, vvvv, rm
//!  XmmUnaryRmRImmVex  op xmm1, xmm2/m, imm8         AvxUnaryImmOp  reg, rm
//!  XmmShiftImmVex     op xmm1, xmm2, imm8           AvxShiftImmOp  vvvv, rm; /digit in reg
//!  XmmInsertVex       op xmm1, xmm2, r/m, imm8      AvxInsertOp    reg, vvvv, rm
//!  XmmExtractVex      op r, xmm1, imm8              AvxExtractOp   xmm1 in reg
//!  XmmExtractMemVex   op m, xmm1, imm8              AvxExtractOp   (a store)
//!  XmmMoveMaskVex     op r32, xmm1                  AvxMoveMaskOp  r32 in reg
//!  XmmBlendvVex       op xmm1, xmm2, xmm3/m, xmm4   AvxBlendvOp    xmm4 in imm8[7:4]
//!  XmmTestVex         op xmm1, xmm2/m128            AvxTestOp      flags only
//!  XmmStoreVex        op m128, xmm1                 AvxStoreOp     vmovups, vmovdqu
//! ```
//!
//! Each legacy form's VEX twin, where the table declares one, is
//! `op.vex()` (`SseOp::Paddd.vex() == Some(AvxOp::Vpaddd)`): the same
//! operation, nondestructive and taking unaligned memory. A compiler takes
//! the twin where the CPU has AVX; for a binary packed operation
//! [`Assembler::packed`] does the choosing:
//!
//! ```text
//!  AVX and a twin      vop dst, src1, src2
//!  dst == src1         op dst, src2
//!  otherwise           movaps dst, src1; op dst, src2
//!  refused             dst == src2 != src1; unaligned memory; a missing feature
//! ```
//!
//! Every other shape has its chooser, taking the legacy form's operands
//! and emitting the twin under AVX with the legacy destination also the
//! VEX first source where the shape has one (so the result is the legacy
//! form's), the legacy form otherwise: [`Assembler::packed_unary`],
//! [`Assembler::packed_imm`], [`Assembler::packed_unary_imm`],
//! [`Assembler::packed_shift_imm`], [`Assembler::packed_insert`],
//! [`Assembler::packed_extract`], [`Assembler::packed_extract_mem`],
//! [`Assembler::packed_move_mask`], [`Assembler::packed_blendv`] and
//! [`Assembler::packed_test`] (`pblendvb dst, src` becomes `vpblendvb dst,
//! dst, src, xmm0`, `psllw dst, imm` becomes `vpsllw dst, dst, imm`).
//!
//! VEX.128 forms clear bits 255:128 of their destination's YMM register, so
//! mixing them with legacy forms never leaves the upper halves dirty (no
//! SSE/AVX transition penalty).
//!
//! The scalar forms write only the low lane of the destination and keep the
//! rest (a memory-source MOVSS/MOVSD clears it instead). The packed forms
//! with a 128-bit memory operand need it 16-byte aligned (a misaligned one
//! faults): `emit_form` refuses a memory operand of a form declared so
//! unless it is `XmmMem::Aligned` or a constant known aligned. A store is
//! the opcode after its load's. Left out for now:
//! COMISS/COMISD, CVTSS2SI (rounding by MXCSR), the MOVDQA/MOVDQU stores
//! (MOVUPS/MOVAPS store the same bits).

use super::{AsmError, Assembler, Form, Imm, Opcode, Prefixes, Rm, forms};
use crate::x64::args::{Amode, GprMem, XmmMem};
use crate::x64::regs::{Gpr, Xmm};
use crate::x64::{
    AvxBlendvOp, AvxExtractOp, AvxImmOp, AvxInsertOp, AvxMoveMaskOp, AvxOp, AvxShiftImmOp,
    AvxStoreOp, AvxTestOp, AvxUnaryImmOp, AvxUnaryOp, FloatSize, OperandSize, RoundMode,
    SseBlendvOp, SseExtractOp, SseImmOp, SseInsertOp, SseMovOp, SseMoveMaskOp, SseOp, SseRegOp,
    SseShiftImmOp, SseTestOp, SseUnaryImmOp, SseUnaryOp,
};

impl RoundMode {
    /// The ROUNDSS/ROUNDSD immediate: the rounding in bits 0-1, bit 2 clear
    /// (use the immediate, not MXCSR), bit 3 set (suppress the precision
    /// exception).
    pub const fn imm(self) -> u8 {
        let rounding = match self {
            RoundMode::Nearest => 0,
            RoundMode::Down => 1,
            RoundMode::Up => 2,
            RoundMode::Zero => 3,
        };
        rounding | 0b1000
    }
}

impl Assembler {
    /// Emits `form` with `reg` in ModRM.reg and `src` in r/m: the encoding
    /// of every `op xmm1, xmm2/m [, imm8]` form.
    fn xmm_form(&mut self, form: Form, reg: Xmm, src: &XmmMem, imm: Imm) {
        self.emit_form(form, Prefixes::NONE, reg.enc(), Rm::from(src), imm);
    }

    /// `op dst, src` for the scalar arithmetic, conversion, merge-move and
    /// logical forms, and the packed ones.
    pub fn xmm_rmr(&mut self, op: SseOp, dst: Xmm, src: &XmmMem) {
        self.xmm_form(op.form(), dst, src, Imm::None);
    }

    /// `op dst, src` for the packed forms that write `dst` without reading
    /// it (sign and zero extension, absolute values, square roots,
    /// conversions).
    pub fn xmm_unary(&mut self, op: SseUnaryOp, dst: Xmm, src: &XmmMem) {
        self.xmm_form(op.form(), dst, src, Imm::None);
    }

    /// `op dst, src, imm` for the packed shuffles, blends and compares that
    /// read and write `dst`.
    pub fn xmm_rmr_imm(&mut self, op: SseImmOp, dst: Xmm, src: &XmmMem, imm: u8) {
        self.xmm_form(op.form(), dst, src, Imm::I8(imm as i8));
    }

    /// `op dst, src, imm` for the packed shuffles and roundings that write
    /// `dst` without reading it.
    pub fn xmm_unary_imm(&mut self, op: SseUnaryImmOp, dst: Xmm, src: &XmmMem, imm: u8) {
        self.xmm_form(op.form(), dst, src, Imm::I8(imm as i8));
    }

    /// `op dst, src1, src2`: a VEX.128 form, whose second source travels in
    /// the VEX prefix; nothing is tied and memory may be unaligned.
    pub fn xmm_rmr_vex(&mut self, op: AvxOp, dst: Xmm, src1: Xmm, src2: &XmmMem) {
        let rm = Rm::from(src2);
        self.emit_vex_form(op.form(), dst.enc(), src1.enc(), rm, Imm::None);
    }

    /// `op dst, src`: a VEX.128 form writing `dst` without reading it
    /// (VEX.vvvv unused, encoded 1111b).
    pub fn xmm_unary_vex(&mut self, op: AvxUnaryOp, dst: Xmm, src: &XmmMem) {
        self.emit_vex_form(op.form(), dst.enc(), 0, Rm::from(src), Imm::None);
    }

    /// `op dst, src1, src2, imm`: a VEX.128 shuffle, blend or compare.
    pub fn xmm_rmr_imm_vex(&mut self, op: AvxImmOp, dst: Xmm, src1: Xmm, src2: &XmmMem, imm: u8) {
        let imm = Imm::I8(imm as i8);
        self.emit_vex_form(op.form(), dst.enc(), src1.enc(), Rm::from(src2), imm);
    }

    /// `op dst, src, imm`: a VEX.128 shuffle or rounding writing `dst`
    /// without reading it.
    pub fn xmm_unary_imm_vex(&mut self, op: AvxUnaryImmOp, dst: Xmm, src: &XmmMem, imm: u8) {
        let imm = Imm::I8(imm as i8);
        self.emit_vex_form(op.form(), dst.enc(), 0, Rm::from(src), imm);
    }

    /// `op dst, src, imm`: a VEX.128 shift by an immediate; `dst` travels
    /// in VEX.vvvv, `src` in ModRM.rm, the `/digit` in ModRM.reg.
    pub fn xmm_shift_imm_vex(&mut self, op: AvxShiftImmOp, dst: Xmm, src: Xmm, imm: u8) {
        let imm = Imm::I8(imm as i8);
        self.emit_vex_form(op.form(), 0, dst.enc(), Rm::Reg(src.enc()), imm);
    }

    /// `op dst, src1, src2, lane`: `src1` with lane `lane` replaced by a
    /// GPR's low bits (or memory).
    pub fn xmm_insert_vex(
        &mut self,
        op: AvxInsertOp,
        dst: Xmm,
        src1: Xmm,
        src2: &GprMem,
        lane: u8,
    ) {
        let imm = Imm::I8(lane as i8);
        self.emit_vex_form(op.form(), dst.enc(), src1.enc(), Rm::from(src2), imm);
    }

    /// `op dst, src, lane`: lane `lane` of `src` into a GPR, zero-extended.
    pub fn xmm_extract_vex(&mut self, op: AvxExtractOp, dst: Gpr, src: Xmm, lane: u8) {
        let imm = Imm::I8(lane as i8);
        self.emit_vex_form(op.form(), src.enc(), 0, Rm::Reg(dst.enc()), imm);
    }

    /// `op [dst], src, lane`: lane `lane` of `src` stored.
    pub fn xmm_extract_mem_vex(&mut self, op: AvxExtractOp, dst: &Amode, src: Xmm, lane: u8) {
        let imm = Imm::I8(lane as i8);
        self.emit_vex_form(op.form(), src.enc(), 0, Rm::Mem(dst), imm);
    }

    /// `op dst, src`: the sign bit of each lane of `src` into the low bits
    /// of `dst`, the rest cleared.
    pub fn xmm_move_mask_vex(&mut self, op: AvxMoveMaskOp, dst: Gpr, src: Xmm) {
        let rm = Rm::Reg(src.enc());
        self.emit_vex_form(op.form(), dst.enc(), 0, rm, Imm::None);
    }

    /// `op dst, src1, src2, mask`: each lane from `src2` where `mask`'s lane
    /// has its top bit set, from `src1` otherwise; `mask` is named by
    /// `imm8[7:4]` (`/is4`), the low nibble zero.
    pub fn xmm_blendv_vex(
        &mut self,
        op: AvxBlendvOp,
        dst: Xmm,
        src1: Xmm,
        src2: &XmmMem,
        mask: Xmm,
    ) {
        let imm = Imm::I8((mask.enc() << 4) as i8);
        self.emit_vex_form(op.form(), dst.enc(), src1.enc(), Rm::from(src2), imm);
    }

    /// `op lhs, rhs`: flags only (`vptest`, as `ptest`).
    pub fn xmm_test_vex(&mut self, op: AvxTestOp, lhs: Xmm, rhs: &XmmMem) {
        self.emit_vex_form(op.form(), lhs.enc(), 0, Rm::from(rhs), Imm::None);
    }

    /// `op [dst], src`: a VEX.128 unaligned store (`vmovups`, `vmovdqu`).
    pub fn xmm_store_vex(&mut self, op: AvxStoreOp, dst: &Amode, src: Xmm) {
        self.emit_vex_form(op.form(), src.enc(), 0, Rm::Mem(dst), Imm::None);
    }

    /// `dst = src1 op src2` for a packed operation, in the best encoding the
    /// CPU has (the rule in `docs/assembler.md`, "VEX"):
    ///
    /// * with AVX and a declared VEX twin (`op.vex()`): `vop dst, src1,
    ///   src2`, nondestructive, `src2` memory of any alignment;
    /// * otherwise the legacy form, destructive: `movaps dst, src1` first
    ///   when the registers differ, then `op dst, src2`.
    ///
    /// Refused with an `AsmError` (nothing emitted) where the legacy path
    /// cannot be right: `dst` is `src2`'s register but not `src1` (the copy
    /// would overwrite the second source), or `src2` is memory the form
    /// needs aligned and is not known to be; and, as every form, where the
    /// CPU lacks the form's feature.
    pub fn packed(&mut self, op: SseOp, dst: Xmm, src1: Xmm, src2: &XmmMem) {
        if let Some(twin) = op.vex()
            && self.features().has(twin.feature())
        {
            self.xmm_rmr_vex(twin, dst, src1, src2);
            return;
        }
        let form = op.form();
        if !self.require(form.feature, form.mnemonic) || !self.memory_allowed(form, src2) {
            return;
        }
        if dst != src1 {
            if *src2 == XmmMem::Xmm(dst) {
                self.fail(AsmError::InvalidOperand {
                    mnemonic: form.mnemonic,
                    reason: "the destination is the second source but not the first: \
                             the copy of the first would overwrite it",
                });
                return;
            }
            self.movaps_rr(dst, src1);
        }
        self.xmm_rmr(op, dst, src2);
    }

    /// `op dst, src` for a packed form that writes `dst` without reading it
    /// (sign and zero extension, absolute values, square roots,
    /// conversions), in the best encoding the CPU has: with AVX and a
    /// declared twin `vop dst, src` (`src` memory of any alignment), else
    /// the legacy form exactly as [`Assembler::xmm_unary`] emits it.
    pub fn packed_unary(&mut self, op: SseUnaryOp, dst: Xmm, src: &XmmMem) {
        match op.vex() {
            Some(twin) if self.features().has(twin.feature()) => {
                self.xmm_unary_vex(twin, dst, src);
            }
            _ => self.xmm_unary(op, dst, src),
        }
    }

    /// `op dst, src, imm` for a packed shuffle, blend or compare that reads
    /// and writes `dst`: with AVX and a declared twin `vop dst, dst, src,
    /// imm` (the legacy destination is also the VEX first source, so the
    /// result is the same), else the legacy `op dst, src, imm`.
    pub fn packed_imm(&mut self, op: SseImmOp, dst: Xmm, src: &XmmMem, imm: u8) {
        match op.vex() {
            Some(twin) if self.features().has(twin.feature()) => {
                self.xmm_rmr_imm_vex(twin, dst, dst, src, imm);
            }
            _ => self.xmm_rmr_imm(op, dst, src, imm),
        }
    }

    /// `op dst, src, imm` for a packed shuffle or rounding that writes `dst`
    /// without reading it: with AVX and a declared twin `vop dst, src,
    /// imm`, else the legacy form.
    pub fn packed_unary_imm(&mut self, op: SseUnaryImmOp, dst: Xmm, src: &XmmMem, imm: u8) {
        match op.vex() {
            Some(twin) if self.features().has(twin.feature()) => {
                self.xmm_unary_imm_vex(twin, dst, src, imm);
            }
            _ => self.xmm_unary_imm(op, dst, src, imm),
        }
    }

    /// `op dst, imm`, a packed shift by an immediate: with AVX and a
    /// declared twin `vop dst, dst, imm`, else the legacy `op dst, imm`.
    pub fn packed_shift_imm(&mut self, op: SseShiftImmOp, dst: Xmm, imm: u8) {
        match op.vex() {
            Some(twin) if self.features().has(twin.feature()) => {
                self.xmm_shift_imm_vex(twin, dst, dst, imm);
            }
            _ => self.xmm_shift_imm(op, dst, imm),
        }
    }

    /// `op dst, src, lane`, a GPR's low bits (or memory) into lane `lane` of
    /// `dst`: with AVX and a declared twin `vop dst, dst, src, lane`, else
    /// the legacy form.
    pub fn packed_insert(&mut self, op: SseInsertOp, dst: Xmm, src: &GprMem, lane: u8) {
        match op.vex() {
            Some(twin) if self.features().has(twin.feature()) => {
                self.xmm_insert_vex(twin, dst, dst, src, lane);
            }
            _ => self.xmm_insert(op, dst, src, lane),
        }
    }

    /// `op dst, src, lane`, lane `lane` of `src` into a GPR: with AVX and a
    /// declared twin its VEX form, else the legacy form.
    pub fn packed_extract(&mut self, op: SseExtractOp, dst: Gpr, src: Xmm, lane: u8) {
        match op.vex() {
            Some(twin) if self.features().has(twin.feature()) => {
                self.xmm_extract_vex(twin, dst, src, lane);
            }
            _ => self.xmm_extract(op, dst, src, lane),
        }
    }

    /// `op [dst], src, lane`, lane `lane` of `src` stored: with AVX and a
    /// declared twin its VEX form, else the legacy form.
    pub fn packed_extract_mem(&mut self, op: SseExtractOp, dst: &Amode, src: Xmm, lane: u8) {
        match op.vex() {
            Some(twin) if self.features().has(twin.feature()) => {
                self.xmm_extract_mem_vex(twin, dst, src, lane);
            }
            _ => self.xmm_extract_mem(op, dst, src, lane),
        }
    }

    /// `op dst, src`, the sign bits of `src`'s lanes into `dst`: with AVX
    /// and a declared twin its VEX form, else the legacy form.
    pub fn packed_move_mask(&mut self, op: SseMoveMaskOp, dst: Gpr, src: Xmm) {
        match op.vex() {
            Some(twin) if self.features().has(twin.feature()) => {
                self.xmm_move_mask_vex(twin, dst, src);
            }
            _ => self.xmm_move_mask(op, dst, src),
        }
    }

    /// `op dst, src, xmm0`, each lane from `src` where xmm0's lane has its
    /// top bit set: with AVX and a declared twin `vop dst, dst, src, xmm0`
    /// (the mask named explicitly, still xmm0, so the caller's placement is
    /// the same under both), else the legacy form.
    pub fn packed_blendv(&mut self, op: SseBlendvOp, dst: Xmm, src: &XmmMem) {
        match op.vex() {
            Some(twin) if self.features().has(twin.feature()) => {
                self.xmm_blendv_vex(twin, dst, dst, src, Xmm::XMM0);
            }
            _ => self.xmm_blendv(op, dst, src),
        }
    }

    /// `op lhs, rhs`, flags only: with AVX and a declared twin `vptest`,
    /// else the legacy `ptest`.
    pub fn packed_test(&mut self, op: SseTestOp, lhs: Xmm, rhs: &XmmMem) {
        match op.vex() {
            Some(twin) if self.features().has(twin.feature()) => {
                self.xmm_test_vex(twin, lhs, rhs);
            }
            _ => self.xmm_test(op, lhs, rhs),
        }
    }

    /// `op dst, imm`: a packed shift by an immediate; the form's `/digit`
    /// takes ModRM.reg and `dst` is the r/m register.
    pub fn xmm_shift_imm(&mut self, op: SseShiftImmOp, dst: Xmm, imm: u8) {
        let imm = Imm::I8(imm as i8);
        self.emit_form(op.form(), Prefixes::NONE, 0, Rm::Reg(dst.enc()), imm);
    }

    /// `op dst, src` for the register-only forms (MOVLHPS, MOVHLPS).
    pub fn xmm_rr(&mut self, op: SseRegOp, dst: Xmm, src: Xmm) {
        let rm = Rm::Reg(src.enc());
        self.emit_form(op.form(), Prefixes::NONE, dst.enc(), rm, Imm::None);
    }

    /// `op dst, src, lane`: a GPR's low bits (or memory) into lane `lane` of
    /// `dst`, the other lanes kept.
    pub fn xmm_insert(&mut self, op: SseInsertOp, dst: Xmm, src: &GprMem, lane: u8) {
        let imm = Imm::I8(lane as i8);
        self.emit_form(op.form(), Prefixes::NONE, dst.enc(), Rm::from(src), imm);
    }

    /// `op dst, src, lane`: lane `lane` of `src` into a GPR, zero-extended.
    pub fn xmm_extract(&mut self, op: SseExtractOp, dst: Gpr, src: Xmm, lane: u8) {
        let imm = Imm::I8(lane as i8);
        self.emit_form(
            op.form(),
            Prefixes::NONE,
            src.enc(),
            Rm::Reg(dst.enc()),
            imm,
        );
    }

    /// `op [dst], src, lane`: lane `lane` of `src` stored.
    pub fn xmm_extract_mem(&mut self, op: SseExtractOp, dst: &Amode, src: Xmm, lane: u8) {
        let imm = Imm::I8(lane as i8);
        self.emit_form(op.form(), Prefixes::NONE, src.enc(), Rm::Mem(dst), imm);
    }

    /// `op dst, src`: the sign bit of each lane of `src` into the low bits
    /// of `dst`, the rest cleared.
    pub fn xmm_move_mask(&mut self, op: SseMoveMaskOp, dst: Gpr, src: Xmm) {
        let rm = Rm::Reg(src.enc());
        self.emit_form(op.form(), Prefixes::NONE, dst.enc(), rm, Imm::None);
    }

    /// `op dst, src, xmm0`: each lane from `src` where xmm0's lane has its
    /// top bit set; the caller (or the allocator, by `MInst::XmmBlendv`'s
    /// fixed mask) puts the mask in xmm0.
    pub fn xmm_blendv(&mut self, op: SseBlendvOp, dst: Xmm, src: &XmmMem) {
        self.xmm_form(op.form(), dst, src, Imm::None);
    }

    /// `op lhs, rhs`: flags only (`ptest`: ZF set when `lhs & rhs` is zero,
    /// CF when `!lhs & rhs` is).
    pub fn xmm_test(&mut self, op: SseTestOp, lhs: Xmm, rhs: &XmmMem) {
        self.xmm_form(op.form(), lhs, rhs, Imm::None);
    }

    /// A load: `movss/movsd/movaps/movapd/movups/movupd dst, [src]`.
    pub fn xmm_load(&mut self, op: SseMovOp, dst: Xmm, src: &Amode) {
        self.emit_form(
            op.form(),
            Prefixes::NONE,
            dst.enc(),
            Rm::Mem(src),
            Imm::None,
        );
    }

    /// A store: `movss/movsd/movaps/movapd/movups/movupd [dst], src`, whose
    /// opcode is the one after its load's (`0F 10`/`0F 11`, `0F 28`/`0F 29`).
    pub fn xmm_store(&mut self, op: SseMovOp, dst: &Amode, src: Xmm) {
        let load = op.form();
        let store = Form {
            opcode: Opcode {
                byte: load.opcode.byte + 1,
                ..load.opcode
            },
            ..load
        };
        self.emit_form(store, Prefixes::NONE, src.enc(), Rm::Mem(dst), Imm::None);
    }

    /// `movaps dst, src`: copies the whole register.
    pub fn movaps_rr(&mut self, dst: Xmm, src: Xmm) {
        let form = forms::form_xmm_mov_rr();
        self.emit_form(
            form,
            Prefixes::NONE,
            dst.enc(),
            Rm::Reg(src.enc()),
            Imm::None,
        );
    }

    /// `movss dst, [src]`: loads 32 bits, clearing the rest of `dst`.
    pub fn movss_load(&mut self, dst: Xmm, src: &Amode) {
        self.xmm_load(SseMovOp::Movss, dst, src);
    }

    /// `movsd dst, [src]`: loads 64 bits, clearing the rest of `dst`.
    pub fn movsd_load(&mut self, dst: Xmm, src: &Amode) {
        self.xmm_load(SseMovOp::Movsd, dst, src);
    }

    /// `roundss`/`roundsd dst, src, mode` (SSE4.1).
    pub fn round(&mut self, size: FloatSize, mode: RoundMode, dst: Xmm, src: &XmmMem) {
        let form = forms::form_xmm_round(size).expect("both sizes have a form");
        let imm = Imm::I8(mode.imm() as i8);
        self.emit_form(form, Prefixes::NONE, dst.enc(), Rm::from(src), imm);
    }

    /// `ucomiss`/`ucomisd lhs, rhs`: ZF, PF, CF = (equal, unordered, less);
    /// all three are set when either operand is NaN.
    pub fn ucomis(&mut self, size: FloatSize, lhs: Xmm, rhs: &XmmMem) {
        let form = forms::form_xmm_cmp(size).expect("both sizes have a form");
        self.emit_form(form, Prefixes::NONE, lhs.enc(), Rm::from(rhs), Imm::None);
    }

    /// `movd`/`movq dst, src`: a GPR (or memory) into the low lane of an XMM
    /// register, clearing the rest.
    pub fn movd_to_xmm(&mut self, size: OperandSize, dst: Xmm, src: &GprMem) {
        if let Some(form) = self.movd_form(forms::form_gpr_to_xmm(size)) {
            self.emit_form(form, Prefixes::NONE, dst.enc(), Rm::from(src), Imm::None);
        }
    }

    /// `movd`/`movq dst, src`: the low 32 or 64 bits of an XMM register into
    /// a GPR.
    pub fn movd_from_xmm(&mut self, size: OperandSize, dst: Gpr, src: Xmm) {
        if let Some(form) = self.movd_form(forms::form_xmm_to_gpr(size)) {
            self.emit_form(
                form,
                Prefixes::NONE,
                src.enc(),
                Rm::Reg(dst.enc()),
                Imm::None,
            );
        }
    }

    /// The MOVD/MOVQ form of a size, or an error for 8 and 16 bits.
    fn movd_form(&mut self, form: Option<Form>) -> Option<Form> {
        if form.is_none() {
            self.fail(super::AsmError::InvalidOperand {
                mnemonic: "movd",
                reason: "only 32- and 64-bit forms exist",
            });
        }
        form
    }

    /// `cvtsi2ss`/`cvtsi2sd dst, src`: a signed 32- or 64-bit integer to
    /// float (rounding by MXCSR, round-to-nearest by default), into the low
    /// lane of `dst`.
    pub fn cvtsi2f(
        &mut self,
        float_size: FloatSize,
        int_size: OperandSize,
        dst: Xmm,
        src: &GprMem,
    ) {
        let form = forms::form_cvt_int_to_float(float_size).expect("both sizes have a form");
        if let Some(w) = self.conversion_width(int_size, form.mnemonic) {
            self.emit_form(form, w, dst.enc(), Rm::from(src), Imm::None);
        }
    }

    /// `cvttss2si`/`cvttsd2si dst, src`: float to signed 32- or 64-bit
    /// integer, truncating; NaN and out-of-range values give the "integer
    /// indefinite" value (the most negative integer).
    pub fn cvttf2si(
        &mut self,
        float_size: FloatSize,
        int_size: OperandSize,
        dst: Gpr,
        src: &XmmMem,
    ) {
        let form = forms::form_cvt_float_to_int(float_size).expect("both sizes have a form");
        if let Some(w) = self.conversion_width(int_size, form.mnemonic) {
            self.emit_form(form, w, dst.enc(), Rm::from(src), Imm::None);
        }
    }

    /// REX.W for a 64-bit integer side; an error for 8 and 16 bits.
    fn conversion_width(
        &mut self,
        int_size: OperandSize,
        mnemonic: &'static str,
    ) -> Option<Prefixes> {
        match int_size {
            OperandSize::S32 => Some(Prefixes::NONE),
            OperandSize::S64 => Some(Prefixes::NONE.w()),
            _ => {
                self.fail(super::AsmError::InvalidOperand {
                    mnemonic,
                    reason: "only 32- and 64-bit integers convert",
                });
                None
            }
        }
    }
}
