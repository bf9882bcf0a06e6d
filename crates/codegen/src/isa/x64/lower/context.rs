//! The Rust side of the lowering rules: the `Context` whose methods the
//! generated code calls for every `extern` term of
//! `isle/codegen/x64/lower.isle` (registers, types, immediates, emission).
//!
//! The extractors that fold one instruction into another
//! (`sinkable_load`, `fusable_icmp`, `lea_amode`, `amode`) fold only what
//! the folding policy allows (`fold`): a load at a `Load` site of the
//! instruction being lowered, and otherwise only deferred definitions.

use super::fold::Fold;
use super::{
    GprMem, GprMemImm, InstOutput, Lower, ShiftAmount, Unit, ValueArray2, ValueArray3,
    ValueRegsPair, WritableGpr, generated,
};
use crate::ir::{Constant, Inst, InstructionData, IntCC, Opcode, Type, Value, ValueDef};
use crate::machinst::VInst;
use cranelift_asm::reg::{RegClass, Writable};
use cranelift_asm::x64::inst::{Amode, FloatSize, GprImm, TrapCode, WritableXmm, XmmMem, XmmReg};
use cranelift_asm::x64::inst::{
    AvxImmOp, AvxInsertOp, AvxOp, AvxShiftImmOp, SseImmOp, SseInsertOp, SseOp, SseShiftImmOp,
};
use cranelift_asm::x64::{Feature, GprReg, MInst, OperandSize};

impl generated::Context for Lower<'_> {
    fn inst_data(&mut self, inst: Inst) -> InstructionData {
        *self.func.dfg.inst(inst)
    }

    fn unpack_value_array_2(&mut self, args: ValueArray2) -> (Value, Value) {
        (args[0], args[1])
    }

    fn result_type(&mut self, inst: Inst) -> Option<Type> {
        self.func
            .dfg
            .inst_results(inst)
            .first()
            .map(|&v| self.func.dfg.value_type(v))
    }

    fn def_inst(&mut self, v: Value) -> Option<Inst> {
        match self.func.dfg.value_def(v) {
            ValueDef::Result(inst, _) => Some(inst),
            _ => None,
        }
    }

    fn has_bit_op(&mut self, op: &cranelift_asm::x64::BitOp) -> bool {
        self.vcode.features().has(op.feature())
    }

    fn vector_ty(&mut self, ty: &Type) -> Option<Type> {
        ty.is_vector().then_some(*ty)
    }

    fn avx_twin(&mut self, op: &SseOp) -> Option<AvxOp> {
        let features = self.vcode.features();
        op.vex().filter(|_| features.has(Feature::Avx))
    }

    fn avx_imm_twin(&mut self, op: &SseImmOp) -> Option<AvxImmOp> {
        let features = self.vcode.features();
        op.vex().filter(|_| features.has(Feature::Avx))
    }

    fn avx_insert_twin(&mut self, op: &SseInsertOp) -> Option<AvxInsertOp> {
        let features = self.vcode.features();
        op.vex().filter(|_| features.has(Feature::Avx))
    }

    fn avx_shift_twin(&mut self, op: &SseShiftImmOp) -> Option<AvxShiftImmOp> {
        let features = self.vcode.features();
        op.vex().filter(|_| features.has(Feature::Avx))
    }

    fn vec_shift_const(&mut self, v: Value, ty: &Type) -> Option<u8> {
        let n = self.iconst_value(v)?;
        Some((n as u64 % u64::from(ty.lane_type().bits())) as u8)
    }

    fn lane_shift_mask(&mut self, ty: &Type) -> i64 {
        i64::from(ty.lane_type().bits() - 1)
    }

    fn unit(&mut self) {}

    fn has_sse_op(&mut self, op: &SseOp) -> bool {
        self.vcode.features().has(op.feature())
    }

    fn i64_sign_bit_shifted(&mut self, n: u8) -> i64 {
        (1u64 << 63 >> n) as i64
    }

    fn byte_shift_mask(&mut self, op: &Opcode, n: u8) -> i64 {
        let byte = match op {
            Opcode::Ishl => 0xffu8 << n,
            _ => 0xffu8 >> n,
        };
        i64::from_ne_bytes([byte; 8])
    }

    fn u8_add(&mut self, a: u8, b: u8) -> u8 {
        a + b
    }

    fn insertps_imm(&mut self, lane: u8) -> u8 {
        lane << 4
    }

    fn shuffle_mask(&mut self, mask: Constant, second: bool, high: bool) -> i64 {
        let bytes = self.func.dfg.constant_bytes(mask);
        let from = if second { 16..32 } else { 0..16 };
        let pick: Vec<u8> = bytes
            .iter()
            .map(|&m| {
                if from.contains(&m) {
                    m - from.start
                } else {
                    0x80
                }
            })
            .collect();
        let half = if high { &pick[8..] } else { &pick[..8] };
        i64::from_le_bytes(half.try_into().expect("8 bytes"))
    }

    fn shuffle_uses(&mut self, mask: Constant, second: bool) -> bool {
        let bytes = self.func.dfg.constant_bytes(mask);
        bytes.iter().any(|&m| (m >= 16) == second)
    }

    fn shuffle_identity(&mut self, mask: Constant, second: bool) -> bool {
        self.func.dfg.shuffle_is_identity(mask, second)
    }

    fn shuffle_pshufd(&mut self, mask: Constant, second: bool) -> Option<u8> {
        let dwords = mask_dwords(&self.func.dfg.constant_bytes(mask))?;
        let base = if second { 4 } else { 0 };
        dwords.iter().rev().try_fold(0u8, |imm, &k| {
            (base..base + 4).contains(&k).then(|| imm << 2 | (k - base))
        })
    }

    fn shuffle_shufps(&mut self, mask: Constant) -> Option<u8> {
        let [k0, k1, k2, k3] = mask_dwords(&self.func.dfg.constant_bytes(mask))?;
        (k0 < 4 && k1 < 4 && k2 >= 4 && k3 >= 4)
            .then(|| k0 | k1 << 2 | (k2 - 4) << 4 | (k3 - 4) << 6)
    }

    fn shuffle_palignr(&mut self, mask: Constant) -> Option<u8> {
        let bytes = self.func.dfg.constant_bytes(mask);
        let n = bytes[0];
        let consecutive = bytes
            .iter()
            .enumerate()
            .all(|(i, &m)| usize::from(m) == usize::from(n) + i);
        (consecutive && (1..16).contains(&n)).then_some(n)
    }

    fn shuffle_pblendw(&mut self, mask: Constant) -> Option<u8> {
        let bytes = self.func.dfg.constant_bytes(mask);
        (0..8).try_fold(0u8, |imm, word| {
            let (lo, hi) = (bytes[2 * word], bytes[2 * word + 1]);
            let at = 2 * word as u8;
            match (lo, hi) {
                _ if lo == at && hi == at + 1 => Some(imm),
                _ if lo == at + 16 && hi == at + 17 => Some(imm | 1 << word),
                _ => None,
            }
        })
    }

    fn shuffle_unpack(&mut self, mask: Constant, swapped: bool) -> Option<SseOp> {
        let bytes = self.func.dfg.constant_bytes(mask);
        UNPACKS
            .iter()
            .find_map(|&(op, size, high)| (unpack_mask(size, high, swapped) == bytes).then_some(op))
    }

    fn vec_pool_amode(&mut self, lo: i64, hi: i64) -> Amode {
        let bits = u128::from(lo as u64) | (u128::from(hi as u64) << 64);
        Amode::constant(self.vcode.add_constant(&bits.to_le_bytes(), 16))
    }

    fn constant_lo(&mut self, constant: Constant) -> i64 {
        self.func.dfg.constant_bits(constant) as u64 as i64
    }

    fn constant_hi(&mut self, constant: Constant) -> i64 {
        (self.func.dfg.constant_bits(constant) >> 64) as u64 as i64
    }

    fn int_ty(&mut self, ty: &Type) -> Option<Type> {
        matches!(ty, Type::I32 | Type::I64).then_some(*ty)
    }

    fn narrow_ty(&mut self, ty: &Type) -> Option<Type> {
        matches!(ty, Type::I8 | Type::I16).then_some(*ty)
    }

    fn any_int_ty(&mut self, ty: &Type) -> Option<Type> {
        ty.is_int().then_some(*ty)
    }

    fn i64_sub(&mut self, a: i64, b: i64) -> i64 {
        a - b
    }

    fn i64_shl(&mut self, a: i64, b: i64) -> i64 {
        a << b
    }

    fn store_width(&mut self, op: &Opcode, ty: &Type) -> OperandSize {
        match (op, ty.bits()) {
            (Opcode::Istore8, _) | (Opcode::Store, 8) => OperandSize::S8,
            (Opcode::Istore16, _) | (Opcode::Store, 16) => OperandSize::S16,
            (Opcode::Istore32, _) | (Opcode::Store, 32) => OperandSize::S32,
            _ => OperandSize::S64,
        }
    }

    fn store_imm(&mut self, op: &Opcode, v: Value) -> Option<i32> {
        let ty = self.func.dfg.value_type(v);
        if !ty.is_int() {
            return None;
        }
        let n = self.iconst_value(v)?;
        // The immediate the instruction sign-extends to its width.
        match self.store_width(op, &ty) {
            OperandSize::S8 => Some(i32::from(n as i8)),
            OperandSize::S16 => Some(i32::from(n as i16)),
            OperandSize::S32 => Some(n as i32),
            OperandSize::S64 => i32::try_from(n).ok(),
        }
    }

    fn shift_count_reg(&mut self, count: GprReg) -> ShiftAmount {
        ShiftAmount::Cl(count)
    }

    fn shift_amount_imm(&mut self, by: u8) -> ShiftAmount {
        ShiftAmount::Imm(by)
    }

    fn u8_sub(&mut self, a: u8, b: u8) -> u8 {
        a - b
    }

    fn imm_operand(&mut self, n: i64) -> GprMemImm {
        GprMemImm::Imm(i32::try_from(n).expect("a small immediate"))
    }

    fn put_in_gpr(&mut self, v: Value) -> GprReg {
        self.gpr(v)
    }

    fn temp_writable_gpr(&mut self) -> WritableGpr {
        let reg = self.vcode.vreg(RegClass::Int);
        Writable::from_reg(GprReg::new(reg).expect("an integer vreg"))
    }

    fn writable_gpr_to_gpr(&mut self, w: WritableGpr) -> GprReg {
        w.to_reg()
    }

    fn gpr_to_gpr_mem_imm(&mut self, g: GprReg) -> GprMemImm {
        GprMemImm::Gpr(g)
    }

    fn gpr_to_gpr_mem(&mut self, g: GprReg) -> GprMem {
        GprMem::Gpr(g)
    }

    fn low32_mask(&mut self, v: Value) -> Option<()> {
        (self.func.dfg.value_type(v) == Type::I64 && self.iconst_value(v) == Some(0xffff_ffff))
            .then_some(())
    }

    fn simm32_operand(&mut self, v: Value) -> Option<GprMemImm> {
        let ValueDef::Result(inst, _) = self.func.dfg.value_def(v) else {
            return None;
        };
        let InstructionData::UnaryImm {
            opcode: Opcode::Iconst,
            imm,
        } = *self.func.dfg.inst(inst)
        else {
            return None;
        };
        let ty = self.func.dfg.value_type(v);
        let imm = if ty.bits() < 32 {
            // Narrow values are kept zero-extended, and so are their
            // immediates (the 32-bit instruction must not set high bits).
            ty.zero_extend(imm) as i32
        } else if ty.bits() == 32 {
            ty.sign_extend(imm) as i32
        } else {
            i32::try_from(imm).ok()?
        };
        Some(GprMemImm::Imm(imm))
    }

    fn output_gpr(&mut self, g: GprReg) -> InstOutput {
        vec![g.to_reg()]
    }

    fn emit(&mut self, inst: &MInst) -> Unit {
        self.vcode.push(VInst::Machine(inst.clone()));
    }

    fn imm(&mut self, ty: &Type, n: i64) -> GprReg {
        let dst = self.temp_writable_gpr();
        self.vcode.push(VInst::Machine(MInst::MovImm {
            size: if ty.bits() == 64 {
                OperandSize::S64
            } else {
                OperandSize::S32
            },
            imm: ty.zero_extend(n),
            dst,
        }));
        dst.to_reg()
    }

    fn value_type(&mut self, v: Value) -> Type {
        self.func.dfg.value_type(v)
    }

    fn shift_amount(&mut self, v: Value) -> ShiftAmount {
        if let ValueDef::Result(inst, _) = self.func.dfg.value_def(v)
            && let InstructionData::UnaryImm { imm, .. } = *self.func.dfg.inst(inst)
        {
            return ShiftAmount::Imm((imm & 63) as u8);
        }
        ShiftAmount::Cl(self.gpr(v))
    }

    fn div_trap(&mut self) -> TrapCode {
        self.traps.integer_division_by_zero
    }

    fn gpr_pair(&mut self, a: GprReg, b: GprReg) -> ValueRegsPair {
        (a, b)
    }

    fn pair_first(&mut self, p: ValueRegsPair) -> GprReg {
        p.0
    }

    fn pair_second(&mut self, p: ValueRegsPair) -> GprReg {
        p.1
    }

    fn unpack_value_array_3(&mut self, args: ValueArray3) -> (Value, Value, Value) {
        (args[0], args[1], args[2])
    }

    fn gpr_to_gpr_imm(&mut self, g: GprReg) -> GprImm {
        GprImm::Gpr(g)
    }

    fn amode(&mut self, inst: Inst) -> Amode {
        let (flags, addr, offset) = match *self.func.dfg.inst(inst) {
            InstructionData::Load {
                flags, arg, offset, ..
            } => (flags, arg, offset),
            InstructionData::Store {
                flags,
                args,
                offset,
                ..
            } => (flags, args[1], offset),
            _ => unreachable!("amode of a load or store"),
        };
        let trap = (!flags.notrap()).then_some(self.traps.memory_out_of_bounds);
        let (base, index, disp) = self.address(addr, offset);
        Amode::Reg {
            base,
            index,
            disp,
            trap,
        }
    }

    fn fusable_icmp(&mut self, v: Value) -> Option<(IntCC, Value, Value)> {
        match self.deferred_fold(v) {
            Some((Fold::Compare, InstructionData::IntCompare { cond, args, .. }))
                if self.folds_here(v, Fold::Compare) =>
            {
                Some((cond, args[0], args[1]))
            }
            _ => None,
        }
    }

    fn upper_half_zero(&mut self, v: Value) -> bool {
        // The instructions whose `i32` lowering always ends in a 32-bit
        // write (ALU, shift, `lea`, `imul`, bit counts, loads, `mov`
        // immediates, `movzx`/`movsx` to 32 bits, `setcc; movzx`, 32-bit
        // `cmov`). Not: block parameters, arguments and call results
        // (whatever the sender left), `ireduce` (the same register), nor
        // anything else, to stay on the safe side.
        let v = self.func.dfg.resolve_aliases(v);
        let ValueDef::Result(inst, _) = self.func.dfg.value_def(v) else {
            return false;
        };
        if self.func.dfg.value_type(v) != Type::I32 {
            return false;
        }
        matches!(
            self.func.dfg.inst(inst).opcode(),
            Opcode::Iconst
                | Opcode::Iadd
                | Opcode::Isub
                | Opcode::Imul
                | Opcode::Band
                | Opcode::Bor
                | Opcode::Bxor
                | Opcode::Ishl
                | Opcode::Ushr
                | Opcode::Sshr
                | Opcode::Load
                | Opcode::Uload8
                | Opcode::Uload16
                | Opcode::Sload8
                | Opcode::Sload16
                | Opcode::Uextend
                | Opcode::Sextend
        )
    }

    fn sinkable_load(&mut self, v: Value) -> Option<Inst> {
        let v = self.func.dfg.resolve_aliases(v);
        let ValueDef::Result(load, _) = self.func.dfg.value_def(v) else {
            return None;
        };
        let sinkable = self.deferred[load]
            && self.uses[v] == 1
            && self.user[v] == self.current
            && Fold::of(&self.func.dfg, load) == Some(Fold::Load)
            && self.folds_here(v, Fold::Load);
        sinkable.then_some(load)
    }

    fn sinkable_vector_load(&mut self, op: &SseOp, v: Value) -> Option<Inst> {
        let v = self.func.dfg.resolve_aliases(v);
        let ValueDef::Result(load, _) = self.func.dfg.value_def(v) else {
            return None;
        };
        // A VEX memory operand may be unaligned; a legacy SSE one may not.
        let vex = self.vcode.features().has(Feature::Avx) && op.vex().is_some();
        let sinkable = vex
            && self.deferred[load]
            && self.uses[v] == 1
            && self.user[v] == self.current
            && Fold::of(&self.func.dfg, load) == Some(Fold::VectorLoad)
            && self.folds_here(v, Fold::VectorLoad);
        sinkable.then_some(load)
    }

    fn sink_load(&mut self, load: Inst) -> Amode {
        self.deferred[load] = false;
        self.amode(load)
    }

    fn amode_to_gpr_mem_imm(&mut self, a: Amode) -> GprMemImm {
        GprMemImm::Mem(a)
    }

    fn amode_to_xmm_mem(&mut self, a: Amode) -> XmmMem {
        XmmMem::Mem(a)
    }

    fn lea_amode(&mut self, x: Value, y: Value) -> Option<Amode> {
        // Worth an `lea` over an `add`: a scaled index, or a sum of three
        // (a deferred sum beside a constant).
        let folds = |this: &Self, v: Value, fold: Fold| {
            matches!(this.deferred_fold(v), Some((f, _)) if f == fold) && this.folds_here(v, fold)
        };
        // Or a sum whose operands both stay live (used elsewhere too):
        // `add` would need a copy first, `lea` writes a third register.
        let live = |this: &Self, v: Value| this.uses[this.func.dfg.resolve_aliases(v)] > 1;
        let keeps_operands = live(self, x) && (live(self, y) || self.iconst_value(y).is_some());
        if !(folds(self, x, Fold::ScaledIndex)
            || folds(self, y, Fold::ScaledIndex)
            || folds(self, x, Fold::Sum)
            || folds(self, y, Fold::Sum)
            || keeps_operands)
        {
            return None;
        }
        let (base, index, disp) = self.address_sum(x, y, 0);
        Some(Amode::Reg {
            base,
            index,
            disp,
            trap: None,
        })
    }

    fn amode_to_gpr_mem(&mut self, a: Amode) -> GprMem {
        GprMem::Mem(a)
    }

    fn output_none(&mut self) -> InstOutput {
        Vec::new()
    }

    fn put_in_xmm(&mut self, v: Value) -> XmmReg {
        XmmReg::new(self.reg(v)).expect("a float value in an XMM register")
    }

    fn temp_writable_xmm(&mut self) -> WritableXmm {
        let reg = self.vcode.vreg(RegClass::Float);
        Writable::from_reg(XmmReg::new(reg).expect("a float vreg"))
    }

    fn writable_xmm_to_xmm(&mut self, w: WritableXmm) -> XmmReg {
        w.to_reg()
    }

    fn xmm_to_xmm_mem(&mut self, x: XmmReg) -> XmmMem {
        XmmMem::Xmm(x)
    }

    fn output_xmm(&mut self, x: XmmReg) -> InstOutput {
        vec![x.to_reg()]
    }

    fn float_size(&mut self, ty: &Type) -> Option<FloatSize> {
        match ty {
            Type::F32 => Some(FloatSize::F32),
            Type::F64 => Some(FloatSize::F64),
            _ => None,
        }
    }

    fn u32_to_i64(&mut self, bits: u32) -> i64 {
        i64::from(bits)
    }

    fn u64_to_i64(&mut self, bits: u64) -> i64 {
        bits as i64
    }

    fn conversion_nan_trap(&mut self) -> TrapCode {
        self.traps.bad_conversion_to_integer
    }

    fn conversion_overflow_trap(&mut self) -> TrapCode {
        self.traps.integer_overflow
    }
}

/// The shuffle as one of doublewords, if it moves whole aligned
/// doublewords: which of the eight (`a`'s 0 to 3, `b`'s 4 to 7) each
/// result doubleword is.
fn mask_dwords(bytes: &[u8; 16]) -> Option<[u8; 4]> {
    let mut dwords = [0; 4];
    for (i, chunk) in bytes.chunks(4).enumerate() {
        let k = chunk[0] / 4;
        let whole = chunk[0] % 4 == 0 && chunk.iter().zip(chunk[0]..).all(|(&m, n)| m == n);
        if !whole {
            return None;
        }
        dwords[i] = k;
    }
    Some(dwords)
}

/// The interleaving unpacks: the operation, its element size in bytes, and
/// whether it takes the high halves.
const UNPACKS: [(SseOp, u8, bool); 8] = [
    (SseOp::Punpcklbw, 1, false),
    (SseOp::Punpcklwd, 2, false),
    (SseOp::Punpckldq, 4, false),
    (SseOp::Punpcklqdq, 8, false),
    (SseOp::Punpckhbw, 1, true),
    (SseOp::Punpckhwd, 2, true),
    (SseOp::Punpckhdq, 4, true),
    (SseOp::Punpckhqdq, 8, true),
];

/// The shuffle mask of `punpck{l,h}{size} a, b` (`swapped`: of `b, a`):
/// element `2j` of the result is element `j` of the first operand's low
/// (or high) half, element `2j + 1` the second's.
fn unpack_mask(size: u8, high: bool, swapped: bool) -> [u8; 16] {
    let (first, second) = if swapped { (16, 0) } else { (0, 16) };
    let half = if high { 8 } else { 0 };
    core::array::from_fn(|i| {
        let (element, byte) = (i as u8 / size, i as u8 % size);
        let source = if element % 2 == 0 { first } else { second };
        source + half + (element / 2) * size + byte
    })
}

#[cfg(test)]
mod tests {
    use crate::ir::{FloatCC, IntCC, Opcode, Type};

    /// The words of the `(type NAME extern (enum ...))` declaration in the
    /// lowering rules (variant names only).
    fn isle_enum(text: &str, name: &str) -> Vec<String> {
        let start = text
            .find(&format!("(type {name} extern (enum"))
            .unwrap_or_else(|| panic!("{name} is declared"));
        let body = &text[start..];
        let end = body.find("))").expect("the declaration ends");
        body[..end]
            .split_whitespace()
            .skip(4)
            .map(|w| w.trim_matches(|c| c == '(' || c == ')').to_string())
            .collect()
    }

    /// The lowering rules and the mid-end rules both declare the IR's
    /// enums; both lists must match the Rust ones.
    #[test]
    fn the_isle_declarations_list_the_ir_enums_exactly() {
        let lower = include_str!("../../../../../../isle/codegen/x64/lower.isle");
        let opts = include_str!("../../../../../../isle/codegen/opts/opts.isle");
        let opcodes: Vec<String> = Opcode::ALL.iter().map(|op| format!("{op:?}")).collect();
        let types: Vec<String> = Type::ALL.iter().map(|t| format!("{t:?}")).collect();
        for text in [lower, opts] {
            assert_eq!(isle_enum(text, "Opcode"), opcodes);
            assert_eq!(isle_enum(text, "Type"), types);
        }
        let conds: Vec<String> = IntCC::ALL.iter().map(|c| format!("{c:?}")).collect();
        assert_eq!(isle_enum(lower, "IntCC"), conds);
        assert_eq!(isle_enum(opts, "IntCC"), conds);
        let fconds: Vec<String> = FloatCC::ALL.iter().map(|c| format!("{c:?}")).collect();
        assert_eq!(isle_enum(lower, "FloatCC"), fconds);
    }
}
