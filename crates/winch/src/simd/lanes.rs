//! Lanes and memory: splats, `extract_lane`/`replace_lane`,
//! `i8x16.shuffle`, `i8x16.swizzle` (and `i8x16.relaxed_swizzle`), and the
//! SIMD loads and stores other than whole vectors (extending, splatting,
//! zeroing, lane loads and stores). Everything here is SSE4.1 (with
//! SSSE3's `pshufb` and `palignr`); nothing needs AVX.
//!
//! # Splats
//!
//! A constant operand folds into a `v128.const`. Otherwise the scalar goes
//! into the low lane of an XMM register (`movd`/`movq` from a GPR, or a
//! float already there), and one shuffle copies that lane everywhere:
//!
//! ```text
//!   i8x16   pxor xmm15, xmm15; pshufb x, xmm15     every byte from byte 0
//!   i16x8   pshuflw x, x, 0; pshufd x, x, 0        word 0 to words 0-3, then dword 0
//!   i32x4   pshufd x, x, 0x00                      (f32x4 alike)
//!   i64x2   pshufd x, x, 0x44                      dwords 0,1,0,1 (f64x2 alike)
//! ```
//!
//! Where the CPU has AVX2, one `vpbroadcast{b,w,d,q}` replaces the
//! shuffles, and a splatting load (`v128.loadN_splat`) broadcasts straight
//! from memory.
//!
//! # Lanes
//!
//! Integer lanes are read with `pextrb/w/d/q` into a GPR, which zero-extend
//! into the 32- or 64-bit register, so an `i32` result keeps its upper half
//! clear (invariant 2 of the crate docs); `_s` adds a 32-bit `movsx`. A
//! float lane stays in an XMM register, moved to lane 0 (`pshufd` for
//! `f32`, `movhlps` for `f64`), the rest of the register being undefined
//! as for any `f32`/`f64` value. A lane of a vector still in its local's
//! slot is loaded from the slot directly (`movzx`, `movsx`, `mov`,
//! `movss`, `movsd` at the lane's offset: lanes are little-endian in the
//! slot as in the register).
//!
//! `replace_lane` writes into the vector's register: `pinsrb/w/d/q` from a
//! GPR or straight from a local's slot, `insertps` for `f32` (its
//! immediate's bits 5:4 name the destination lane, and bits 7:6 the
//! source's lane 0), `movsd` (register form: the low 64 bits only) and
//! `movlhps` for `f64`.
//!
//! # Shuffles
//!
//! `i8x16.shuffle` picks each result byte from the 32 bytes of its two
//! operands. The general case is two `pshufb`s and a `por`: each operand
//! shuffled with a constant mask whose byte is the index where the result
//! byte comes from that operand and `0x80` (giving zero) where it does not.
//! Masks that are one instruction are recognized first:
//!
//! * one operand only: nothing for the identity, `pshufd` when every dword
//!   is a whole dword of the source, otherwise one `pshufb`;
//! * `punpckl*`/`punpckh*`: the interleave of the low or high halves of the
//!   two operands (either way round), at 8, 16, 32 or 64 bits;
//! * `palignr`: a window of 16 consecutive bytes of the concatenation
//!   `lhs:rhs` (or `rhs:lhs`, which is where windows that wrap past byte
//!   31 come from): `palignr dst, src, n` is bytes `n..n+16` of
//!   `src` followed by `dst`;
//! * `shufps`: whole dwords, the two low ones from one operand and the two
//!   high ones from the other;
//! * `pblendw`: each 16-bit lane in place, from either operand.
//!
//! # Swizzle
//!
//! `i8x16.swizzle` gives zero for an index of 16 or more; `pshufb` gives
//! zero for an index byte with its top bit set and otherwise uses its low
//! four bits. A saturating `paddusb` of `0x70` maps 0-15 to `0x70-0x7f`
//! (top bit clear, low bits the index) and 16-255 to `0x80-0xff` (top bit
//! set), so `pshufb` after it is exactly the swizzle.
//! `i8x16.relaxed_swizzle` is compiled as exactly `i8x16.swizzle`. The
//! proposal also allows byte `index % 16` for indices 16-127, which the
//! bare `pshufb` would give, saving the `paddusb`; the exact result costs
//! one instruction and is the same on every CPU preset.
//!
//! # Memory
//!
//! Every access goes through `memory_operand` with the access's own size
//! (1, 2, 4 or 8 bytes), so an explicit bounds check checks exactly the
//! bytes read or written, and a fault in the guard region traps through
//! the instruction's trap record. Destination registers are taken before
//! the operand (which may use the scratch register as its base).
//!
//! ```text
//!   load8x8_s/u ... load32x2_s/u   pmovsx*/pmovzx* x, m64   (no alignment needed)
//!   load8_splat, load16_splat      movzx r, m8/m16; movd x, r; then as i8x16/i16x8.splat
//!   load32_splat, load64_splat     movss/movsd x, m; pshufd
//!   load32_zero, load64_zero       movss/movsd x, m         (clear the rest)
//!   loadN_lane                     pinsrb/w/d/q x, mN, lane
//!   storeN_lane                    pextrb/w/d/q mN, x, lane (movss/movsd for lane 0)
//! ```

use super::{Compiled, splat_bits};
use crate::codegen::CodeGen;
use crate::regs::XMM_SCRATCH;
use crate::stack::Val;
use cranelift_asm::x64::{
    ExtMode, Feature, GprMem, OperandSize, SseExtractOp, SseImmOp, SseInsertOp, SseMovOp, SseOp,
    SseUnaryImmOp, SseUnaryOp, Xmm, XmmMem,
};
use wasmparser::{MemArg, Operator, ValType};

/// The lane layout of a `v128`.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
enum Shape {
    I8x16,
    I16x8,
    I32x4,
    I64x2,
    F32x4,
    F64x2,
}

impl Shape {
    /// The bytes of one lane.
    fn lane_bytes(self) -> u8 {
        match self {
            Shape::I8x16 => 1,
            Shape::I16x8 => 2,
            Shape::I32x4 | Shape::F32x4 => 4,
            Shape::I64x2 | Shape::F64x2 => 8,
        }
    }

    /// The type of one lane as a wasm value.
    fn lane_type(self) -> ValType {
        match self {
            Shape::I8x16 | Shape::I16x8 | Shape::I32x4 => ValType::I32,
            Shape::I64x2 => ValType::I64,
            Shape::F32x4 => ValType::F32,
            Shape::F64x2 => ValType::F64,
        }
    }
}

/// The `pshufb` mask of a byte shuffle of one operand: byte `i` is
/// `lanes[i]`, or `0x80` (zero) where `lanes[i]` is `None`.
fn pshufb_mask(lanes: impl Iterator<Item = Option<u8>>) -> u128 {
    lanes.enumerate().fold(0, |acc, (i, lane)| {
        acc | u128::from(lane.unwrap_or(0x80)) << (8 * i)
    })
}

/// The dwords a byte shuffle takes whole: `d[j]` when result bytes
/// `4j..4j+4` are bytes `4d[j]..4d[j]+4` of the sources (in order).
fn whole_dwords(lanes: &[u8; 16]) -> Option<[u8; 4]> {
    let mut dwords = [0; 4];
    for (j, dword) in dwords.iter_mut().enumerate() {
        let first = lanes[4 * j];
        if !first.is_multiple_of(4) || (1..4).any(|k| lanes[4 * j + k] != first + k as u8) {
            return None;
        }
        *dword = first / 4;
    }
    Some(dwords)
}

/// The immediate of `pshufd`/`shufps` selecting dwords `d` (each 0-3).
fn dword_imm(d: [u8; 4]) -> u8 {
    d[0] | d[1] << 2 | d[2] << 4 | d[3] << 6
}

/// The interleaves, in the order tried: element width in bytes, whether
/// it is the high halves, and the form interleaving `dst` and `src`.
const INTERLEAVES: [(usize, bool, SseOp); 8] = [
    (1, false, SseOp::Punpcklbw),
    (2, false, SseOp::Punpcklwd),
    (4, false, SseOp::Punpckldq),
    (8, false, SseOp::Punpcklqdq),
    (1, true, SseOp::Punpckhbw),
    (2, true, SseOp::Punpckhwd),
    (4, true, SseOp::Punpckhdq),
    (8, true, SseOp::Punpckhqdq),
];

/// The shuffle `punpck{l,h}* a, b` is, with `a` bytes 0-15 and `b` bytes
/// 16-31: elements of `width` bytes alternate between `a` and `b`, taken in
/// order from the low (or high) half of each.
fn interleave_lanes(width: usize, high: bool) -> [u8; 16] {
    let mut lanes = [0; 16];
    for (i, lane) in lanes.iter_mut().enumerate() {
        let element = i / width;
        let source = (element % 2) * 16;
        let first = if high { 8 } else { 0 };
        *lane = (source + first + (element / 2) * width + i % width) as u8;
    }
    lanes
}

impl CodeGen<'_> {
    /// Compiles `op` if it is one of this module's operators.
    pub(super) fn compile_simd_lanes(&mut self, op: &Operator<'_>) -> Compiled {
        use Shape::*;
        match *op {
            Operator::I8x16Splat => self.splat(I8x16),
            Operator::I16x8Splat => self.splat(I16x8),
            Operator::I32x4Splat => self.splat(I32x4),
            Operator::I64x2Splat => self.splat(I64x2),
            Operator::F32x4Splat => self.splat(F32x4),
            Operator::F64x2Splat => self.splat(F64x2),

            Operator::I8x16ExtractLaneS { lane } => self.extract_lane(I8x16, lane, true),
            Operator::I8x16ExtractLaneU { lane } => self.extract_lane(I8x16, lane, false),
            Operator::I16x8ExtractLaneS { lane } => self.extract_lane(I16x8, lane, true),
            Operator::I16x8ExtractLaneU { lane } => self.extract_lane(I16x8, lane, false),
            Operator::I32x4ExtractLane { lane } => self.extract_lane(I32x4, lane, false),
            Operator::I64x2ExtractLane { lane } => self.extract_lane(I64x2, lane, false),
            Operator::F32x4ExtractLane { lane } => self.extract_lane(F32x4, lane, false),
            Operator::F64x2ExtractLane { lane } => self.extract_lane(F64x2, lane, false),

            Operator::I8x16ReplaceLane { lane } => self.replace_lane(I8x16, lane),
            Operator::I16x8ReplaceLane { lane } => self.replace_lane(I16x8, lane),
            Operator::I32x4ReplaceLane { lane } => self.replace_lane(I32x4, lane),
            Operator::I64x2ReplaceLane { lane } => self.replace_lane(I64x2, lane),
            Operator::F32x4ReplaceLane { lane } => self.replace_lane(F32x4, lane),
            Operator::F64x2ReplaceLane { lane } => self.replace_lane(F64x2, lane),

            Operator::I8x16Shuffle { lanes } => self.shuffle(&lanes),
            // The relaxed swizzle behaves as the exact one (module docs).
            Operator::I8x16Swizzle => self.swizzle(),

            Operator::V128Load8x8S { memarg } => self.load_extend(&memarg, SseUnaryOp::Pmovsxbw),
            Operator::V128Load8x8U { memarg } => self.load_extend(&memarg, SseUnaryOp::Pmovzxbw),
            Operator::V128Load16x4S { memarg } => self.load_extend(&memarg, SseUnaryOp::Pmovsxwd),
            Operator::V128Load16x4U { memarg } => self.load_extend(&memarg, SseUnaryOp::Pmovzxwd),
            Operator::V128Load32x2S { memarg } => self.load_extend(&memarg, SseUnaryOp::Pmovsxdq),
            Operator::V128Load32x2U { memarg } => self.load_extend(&memarg, SseUnaryOp::Pmovzxdq),

            Operator::V128Load8Splat { memarg } => self.load_splat(&memarg, I8x16),
            Operator::V128Load16Splat { memarg } => self.load_splat(&memarg, I16x8),
            Operator::V128Load32Splat { memarg } => self.load_splat(&memarg, I32x4),
            Operator::V128Load64Splat { memarg } => self.load_splat(&memarg, I64x2),
            Operator::V128Load32Zero { memarg } => self.load_zero(&memarg, SseMovOp::Movss, 4),
            Operator::V128Load64Zero { memarg } => self.load_zero(&memarg, SseMovOp::Movsd, 8),

            Operator::V128Load8Lane { memarg, lane } => self.load_lane(&memarg, I8x16, lane),
            Operator::V128Load16Lane { memarg, lane } => self.load_lane(&memarg, I16x8, lane),
            Operator::V128Load32Lane { memarg, lane } => self.load_lane(&memarg, I32x4, lane),
            Operator::V128Load64Lane { memarg, lane } => self.load_lane(&memarg, I64x2, lane),
            Operator::V128Store8Lane { memarg, lane } => self.store_lane(&memarg, I8x16, lane),
            Operator::V128Store16Lane { memarg, lane } => self.store_lane(&memarg, I16x8, lane),
            Operator::V128Store32Lane { memarg, lane } => self.store_lane(&memarg, I32x4, lane),
            Operator::V128Store64Lane { memarg, lane } => self.store_lane(&memarg, I64x2, lane),
            _ => return None,
        }
        Some(Ok(()))
    }

    // ---- Splats ------------------------------------------------------------

    /// `*.splat`: the scalar on top of the stack in every lane.
    fn splat(&mut self, shape: Shape) {
        let val = self.stack.pop().expect("validated");
        if let Some(bits) = val.constant_bits() {
            self.v128_const(splat_bits(bits, shape.lane_bytes()));
            return;
        }
        // Any value goes into the low lane of an XMM register: an integer
        // by `movd`/`movq` (or a load from its slot), a float where it is.
        let reg = self.val_to_xmm(val);
        self.broadcast_lane0(reg, shape);
        self.push_v128(reg);
    }

    /// Copies lane 0 of `reg` (of `shape`) into every lane: one
    /// `vpbroadcast*` where the CPU has AVX2, else one or two shuffles.
    fn broadcast_lane0(&mut self, reg: Xmm, shape: Shape) {
        if self.asm.features().has(Feature::Avx2) {
            self.vpbroadcast(shape, reg, XmmMem::Xmm(reg));
            return;
        }
        match shape {
            Shape::I8x16 => {
                // An all-zero mask picks byte 0 for every byte.
                self.xmm_zero(XMM_SCRATCH);
                self.asm
                    .packed(SseOp::Pshufb, reg, reg, &XmmMem::Xmm(XMM_SCRATCH));
            }
            Shape::I16x8 => {
                self.asm
                    .packed_unary_imm(SseUnaryImmOp::Pshuflw, reg, &XmmMem::Xmm(reg), 0);
                self.asm
                    .packed_unary_imm(SseUnaryImmOp::Pshufd, reg, &XmmMem::Xmm(reg), 0);
            }
            Shape::I32x4 | Shape::F32x4 => {
                self.asm
                    .packed_unary_imm(SseUnaryImmOp::Pshufd, reg, &XmmMem::Xmm(reg), 0)
            }
            Shape::I64x2 | Shape::F64x2 => self.asm.packed_unary_imm(
                SseUnaryImmOp::Pshufd,
                reg,
                &XmmMem::Xmm(reg),
                dword_imm([0, 1, 0, 1]),
            ),
        }
    }

    // ---- Lanes -------------------------------------------------------------

    /// `*.extract_lane[_s|_u]`: lane `lane` as a scalar, sign-extended to 32
    /// bits if `signed`, zero-extended otherwise.
    fn extract_lane(&mut self, shape: Shape, lane: u8, signed: bool) {
        let val = self.stack.pop().expect("validated");
        let ty = shape.lane_type();
        if let Val::Local { .. } = val {
            // Straight from the local's slot, at the lane's offset.
            let lane_offset = i32::from(lane) * i32::from(shape.lane_bytes());
            let src = self.val_slot(val).offset(lane_offset);
            if matches!(shape, Shape::F32x4 | Shape::F64x2) {
                let dst = self.alloc_xmm();
                let op = if shape == Shape::F32x4 {
                    SseMovOp::Movss
                } else {
                    SseMovOp::Movsd
                };
                self.asm.xmm_load(op, dst, &src);
                self.push_xmm(dst, ty);
                return;
            }
            let dst = self.alloc_gpr();
            let mem = GprMem::Mem(src);
            match (shape, signed) {
                (Shape::I8x16, true) => self.asm.movsx(ExtMode::BL, dst, &mem),
                (Shape::I8x16, false) => self.asm.movzx(ExtMode::BL, dst, &mem),
                (Shape::I16x8, true) => self.asm.movsx(ExtMode::WL, dst, &mem),
                (Shape::I16x8, false) => self.asm.movzx(ExtMode::WL, dst, &mem),
                (Shape::I32x4, _) => self.asm.mov_rm(OperandSize::S32, dst, &src),
                _ => self.asm.mov_rm(OperandSize::S64, dst, &src),
            }
            self.push_gpr(dst, ty);
            return;
        }
        let src = self.val_to_xmm(val);
        match shape {
            Shape::F32x4 => {
                if lane != 0 {
                    self.asm
                        .packed_unary_imm(SseUnaryImmOp::Pshufd, src, &XmmMem::Xmm(src), lane);
                }
                self.push_xmm(src, ty);
            }
            Shape::F64x2 => {
                if lane != 0 {
                    self.asm.movhlps(src, src);
                }
                self.push_xmm(src, ty);
            }
            _ => {
                let dst = self.alloc_gpr();
                match shape {
                    Shape::I8x16 => {
                        self.asm
                            .packed_extract(SseExtractOp::Pextrb, dst, src, lane);
                        if signed {
                            self.asm.movsx(ExtMode::BL, dst, &GprMem::Gpr(dst));
                        }
                    }
                    Shape::I16x8 => {
                        self.asm
                            .packed_extract(SseExtractOp::Pextrw, dst, src, lane);
                        if signed {
                            self.asm.movsx(ExtMode::WL, dst, &GprMem::Gpr(dst));
                        }
                    }
                    Shape::I32x4 if lane == 0 => self.asm.movd_from_xmm(OperandSize::S32, dst, src),
                    Shape::I32x4 => self
                        .asm
                        .packed_extract(SseExtractOp::Pextrd, dst, src, lane),
                    _ if lane == 0 => self.asm.movd_from_xmm(OperandSize::S64, dst, src),
                    _ => self
                        .asm
                        .packed_extract(SseExtractOp::Pextrq, dst, src, lane),
                }
                self.free_xmm(src);
                self.push_gpr(dst, ty);
            }
        }
    }

    /// `*.replace_lane`: the vector with lane `lane` replaced by the scalar
    /// on top of the stack.
    fn replace_lane(&mut self, shape: Shape, lane: u8) {
        match shape {
            Shape::F32x4 => {
                // insertps: bits 5:4 the destination lane; from memory it
                // reads 32 bits, from a register its lane 0 (bits 7:6 = 0).
                let scalar = self.pop_xmm_mem();
                let vector = self.pop_v128();
                self.asm
                    .packed_imm(SseImmOp::Insertps, vector, &scalar, lane << 4);
                self.free_xmm_mem(scalar);
                self.push_v128(vector);
            }
            Shape::F64x2 => {
                let scalar = self.pop_xmm();
                let vector = self.pop_v128();
                if lane == 0 {
                    // The register form of movsd writes the low 64 bits only.
                    self.asm.movsd(vector, XmmMem::Xmm(scalar));
                } else {
                    self.asm.movlhps(vector, scalar);
                }
                self.free_xmm(scalar);
                self.push_v128(vector);
            }
            _ => {
                let val = self.stack.pop().expect("validated");
                // A local is read in place (pinsr* reads just the lane's
                // bytes, the low ones of its slot); anything else from a GPR.
                let scalar = match val {
                    Val::Local { .. } => GprMem::Mem(self.val_slot(val)),
                    _ => GprMem::Gpr(self.val_to_gpr(val)),
                };
                let vector = self.pop_v128();
                match shape {
                    Shape::I8x16 => {
                        self.asm
                            .packed_insert(SseInsertOp::Pinsrb, vector, &scalar, lane)
                    }
                    Shape::I16x8 => {
                        self.asm
                            .packed_insert(SseInsertOp::Pinsrw, vector, &scalar, lane)
                    }
                    Shape::I32x4 => {
                        self.asm
                            .packed_insert(SseInsertOp::Pinsrd, vector, &scalar, lane)
                    }
                    _ => self
                        .asm
                        .packed_insert(SseInsertOp::Pinsrq, vector, &scalar, lane),
                }
                if let GprMem::Gpr(reg) = scalar {
                    self.free_gpr(reg);
                }
                self.push_v128(vector);
            }
        }
    }

    // ---- Shuffles ------------------------------------------------------------

    /// `i8x16.shuffle`: result byte `i` is byte `lanes[i]` of `lhs:rhs`.
    fn shuffle(&mut self, lanes: &[u8; 16]) {
        let rhs = self.pop_v128();
        let lhs = self.pop_v128();
        let result = self.emit_shuffle(lhs, rhs, lanes);
        self.free_xmm(if result == lhs { rhs } else { lhs });
        self.push_v128(result);
    }

    /// Emits the shuffle of `lhs` and `rhs` by `lanes` (module docs), in one
    /// of the two registers, which it returns; the other is clobbered.
    fn emit_shuffle(&mut self, lhs: Xmm, rhs: Xmm, lanes: &[u8; 16]) -> Xmm {
        // One operand only.
        if lanes.iter().all(|&l| l < 16) {
            self.shuffle_one(lhs, lanes);
            return lhs;
        }
        if lanes.iter().all(|&l| l >= 16) {
            self.shuffle_one(rhs, &lanes.map(|l| l - 16));
            return rhs;
        }
        // Interleaves: `punpck* dst, src` with dst's bytes 0-15, src's
        // 16-31; the same pattern with the operands swapped toggles bit 4.
        for (width, high, op) in INTERLEAVES {
            let pattern = interleave_lanes(width, high);
            if *lanes == pattern {
                self.asm.packed(op, lhs, lhs, &XmmMem::Xmm(rhs));
                return lhs;
            }
            if *lanes == pattern.map(|l| l ^ 16) {
                self.asm.packed(op, rhs, rhs, &XmmMem::Xmm(lhs));
                return rhs;
            }
        }
        // A window of the concatenation (it uses both operands, so it does
        // not start at 0 or 16).
        let start = lanes[0];
        if (0..16).all(|i| lanes[i] == (start + i as u8) % 32) {
            if start < 16 {
                // rhs:lhs shifted right by `start` bytes.
                self.asm
                    .packed_imm(SseImmOp::Palignr, rhs, &XmmMem::Xmm(lhs), start);
                return rhs;
            }
            // lhs:rhs shifted right by `start - 16` bytes: the window
            // wraps from rhs's top into lhs.
            self.asm
                .packed_imm(SseImmOp::Palignr, lhs, &XmmMem::Xmm(rhs), start - 16);
            return lhs;
        }
        if let Some(d) = whole_dwords(lanes) {
            // shufps dst, src: the low two dwords from dst, the high two
            // from src.
            if d[0] < 4 && d[1] < 4 && d[2] >= 4 && d[3] >= 4 {
                self.asm.packed_imm(
                    SseImmOp::Shufps,
                    lhs,
                    &XmmMem::Xmm(rhs),
                    dword_imm([d[0], d[1], d[2] - 4, d[3] - 4]),
                );
                return lhs;
            }
            if d[0] >= 4 && d[1] >= 4 && d[2] < 4 && d[3] < 4 {
                self.asm.packed_imm(
                    SseImmOp::Shufps,
                    rhs,
                    &XmmMem::Xmm(lhs),
                    dword_imm([d[0] - 4, d[1] - 4, d[2], d[3]]),
                );
                return rhs;
            }
        }
        // Every 16-bit lane in place, from one operand or the other.
        let words_in_place = (0..8).all(|w| {
            let (lo, hi) = (lanes[2 * w], lanes[2 * w + 1]);
            lo % 16 == 2 * w as u8 && hi == lo + 1
        });
        if words_in_place {
            let from_rhs = (0..8).fold(0u8, |imm, w| imm | u8::from(lanes[2 * w] >= 16) << w);
            self.asm
                .packed_imm(SseImmOp::Pblendw, lhs, &XmmMem::Xmm(rhs), from_rhs);
            return lhs;
        }
        // The general case: each operand's bytes where they go, zero
        // elsewhere, and the two or'ed.
        let lhs_mask = pshufb_mask(lanes.iter().map(|&l| (l < 16).then_some(l)));
        let rhs_mask = pshufb_mask(lanes.iter().map(|&l| (l >= 16).then(|| l - 16)));
        let lhs_mask = self.v128_const_operand(lhs_mask);
        let rhs_mask = self.v128_const_operand(rhs_mask);
        self.asm.packed(SseOp::Pshufb, lhs, lhs, &lhs_mask);
        self.asm.packed(SseOp::Pshufb, rhs, rhs, &rhs_mask);
        self.asm.packed(SseOp::Por, lhs, lhs, &XmmMem::Xmm(rhs));
        lhs
    }

    /// Shuffles the bytes of `reg` by `lanes` (each 0-15) in place.
    fn shuffle_one(&mut self, reg: Xmm, lanes: &[u8; 16]) {
        if lanes.iter().enumerate().all(|(i, &l)| usize::from(l) == i) {
            return;
        }
        if let Some(d) = whole_dwords(lanes) {
            self.asm
                .packed_unary_imm(SseUnaryImmOp::Pshufd, reg, &XmmMem::Xmm(reg), dword_imm(d));
            return;
        }
        let mask = self.v128_const_operand(pshufb_mask(lanes.iter().map(|&l| Some(l))));
        self.asm.packed(SseOp::Pshufb, reg, reg, &mask);
    }

    /// `i8x16.swizzle`: byte `i` is the vector's byte `indices[i]`, or 0 for
    /// an index of 16 or more (module docs).
    fn swizzle(&mut self) {
        let indices = self.pop_v128();
        let vector = self.pop_v128();
        let bias = self.v128_const_operand(splat_bits(0x70, 1));
        self.asm.packed(SseOp::Paddusb, indices, indices, &bias);
        self.asm
            .packed(SseOp::Pshufb, vector, vector, &XmmMem::Xmm(indices));
        self.free_xmm(indices);
        self.push_v128(vector);
    }

    // ---- Memory ----------------------------------------------------------------

    /// `v128.load8x8_s` ... `v128.load32x2_u`: 8 bytes, each half, quarter
    /// or eighth widened to a lane by `op` (a `pmovsx*`/`pmovzx*`, whose
    /// 64-bit memory operand needs no alignment).
    fn load_extend(&mut self, memarg: &MemArg, op: SseUnaryOp) {
        // The destination first: allocating may spill, which would clobber
        // the memory base in the scratch register.
        let dst = self.alloc_xmm();
        let (amode, index) = self.memory_operand(memarg, 8);
        self.asm.packed_unary(op, dst, &XmmMem::Mem(amode));
        self.free_gpr(index);
        self.push_v128(dst);
    }

    /// `vpbroadcast{b,w,d,q} dst, src` for the lane size of `shape` (AVX2).
    fn vpbroadcast(&mut self, shape: Shape, dst: Xmm, src: XmmMem) {
        match shape.lane_bytes() {
            1 => self.asm.vpbroadcastb(dst, src),
            2 => self.asm.vpbroadcastw(dst, src),
            4 => self.asm.vpbroadcastd(dst, src),
            _ => self.asm.vpbroadcastq(dst, src),
        }
    }

    /// `v128.loadN_splat`: one lane's bytes, in every lane (straight from
    /// memory by `vpbroadcast*` where the CPU has AVX2).
    fn load_splat(&mut self, memarg: &MemArg, shape: Shape) {
        let dst = self.alloc_xmm();
        let (amode, index) = self.memory_operand(memarg, shape.lane_bytes());
        if self.asm.features().has(Feature::Avx2) {
            self.vpbroadcast(shape, dst, XmmMem::Mem(amode));
            self.free_gpr(index);
            self.push_v128(dst);
            return;
        }
        match shape {
            // Through the address register (free once the address is
            // formed): `pinsrb`/`pinsrw` from memory would also read
            // `dst`'s stale value, a dependency on whatever wrote it last.
            Shape::I8x16 | Shape::I16x8 => {
                let mode = if shape == Shape::I8x16 {
                    ExtMode::BL
                } else {
                    ExtMode::WL
                };
                self.asm.movzx(mode, index, &GprMem::Mem(amode));
                self.asm
                    .movd_to_xmm(OperandSize::S32, dst, &GprMem::Gpr(index));
            }
            Shape::I32x4 => self.asm.xmm_load(SseMovOp::Movss, dst, &amode),
            _ => self.asm.xmm_load(SseMovOp::Movsd, dst, &amode),
        }
        self.free_gpr(index);
        self.broadcast_lane0(dst, shape);
        self.push_v128(dst);
    }

    /// `v128.load32_zero`, `v128.load64_zero`: `size` bytes into lane 0,
    /// by `movss`/`movsd`, whose loads clear the rest of the register.
    fn load_zero(&mut self, memarg: &MemArg, op: SseMovOp, size: u8) {
        let dst = self.alloc_xmm();
        let (amode, index) = self.memory_operand(memarg, size);
        self.asm.xmm_load(op, dst, &amode);
        self.free_gpr(index);
        self.push_v128(dst);
    }

    /// `v128.loadN_lane`: the vector with lane `lane` loaded from memory.
    fn load_lane(&mut self, memarg: &MemArg, shape: Shape, lane: u8) {
        // The vector is above the address; popping it first also takes
        // its register before the memory operand uses the scratch register.
        let vector = self.pop_v128();
        let (amode, index) = self.memory_operand(memarg, shape.lane_bytes());
        let src = GprMem::Mem(amode);
        match shape {
            Shape::I8x16 => self
                .asm
                .packed_insert(SseInsertOp::Pinsrb, vector, &src, lane),
            Shape::I16x8 => self
                .asm
                .packed_insert(SseInsertOp::Pinsrw, vector, &src, lane),
            Shape::I32x4 => self
                .asm
                .packed_insert(SseInsertOp::Pinsrd, vector, &src, lane),
            _ => self
                .asm
                .packed_insert(SseInsertOp::Pinsrq, vector, &src, lane),
        }
        self.free_gpr(index);
        self.push_v128(vector);
    }

    /// `v128.storeN_lane`: lane `lane` of the vector stored.
    fn store_lane(&mut self, memarg: &MemArg, shape: Shape, lane: u8) {
        let vector = self.pop_v128();
        let (amode, index) = self.memory_operand(memarg, shape.lane_bytes());
        match (shape, lane) {
            (Shape::I8x16, _) => {
                self.asm
                    .packed_extract_mem(SseExtractOp::Pextrb, &amode, vector, lane)
            }
            (Shape::I16x8, _) => {
                self.asm
                    .packed_extract_mem(SseExtractOp::Pextrw, &amode, vector, lane)
            }
            (Shape::I32x4, 0) => self.asm.xmm_store(SseMovOp::Movss, &amode, vector),
            (Shape::I32x4, _) => {
                self.asm
                    .packed_extract_mem(SseExtractOp::Pextrd, &amode, vector, lane)
            }
            (_, 0) => self.asm.xmm_store(SseMovOp::Movsd, &amode, vector),
            _ => self
                .asm
                .packed_extract_mem(SseExtractOp::Pextrq, &amode, vector, lane),
        }
        self.free_gpr(index);
        self.free_xmm(vector);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splat_bits_repeats_the_low_lane() {
        assert_eq!(
            splat_bits(0x1ab, 1),
            0xabab_abab_abab_abab_abab_abab_abab_abab
        );
        assert_eq!(
            splat_bits(0x1_2345, 2),
            0x2345_2345_2345_2345_2345_2345_2345_2345
        );
        assert_eq!(splat_bits(u64::MAX, 8), u128::MAX);
    }

    #[test]
    fn interleaves_match_the_manual() {
        let lanes = |v: &[u8]| -> [u8; 16] { v.try_into().unwrap() };
        // punpcklbw: a0 b0 a1 b1 ... a7 b7.
        assert_eq!(
            interleave_lanes(1, false),
            lanes(&[0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23])
        );
        // punpckhdq: a2 b2 a3 b3 (dwords).
        assert_eq!(
            interleave_lanes(4, true),
            lanes(&[8, 9, 10, 11, 24, 25, 26, 27, 12, 13, 14, 15, 28, 29, 30, 31])
        );
        // punpcklqdq: a0 b0 (qwords).
        assert_eq!(
            interleave_lanes(8, false),
            lanes(&[0, 1, 2, 3, 4, 5, 6, 7, 16, 17, 18, 19, 20, 21, 22, 23])
        );
    }

    #[test]
    fn whole_dwords_and_their_immediate() {
        let lanes = [12, 13, 14, 15, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11];
        assert_eq!(whole_dwords(&lanes), Some([3, 0, 1, 2]));
        assert_eq!(dword_imm([3, 0, 1, 2]), 0b10_01_00_11);
        let mut unaligned = lanes;
        unaligned[5] = 2;
        assert_eq!(whole_dwords(&unaligned), None);
    }
}
