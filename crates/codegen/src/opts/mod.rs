//! The mid-end: IR-to-IR optimization before lowering.
//!
//! ```text
//!   simplify   ISLE rules (isle/codegen/opts/), applied to every result of
//!              a pure instruction in reverse postorder: constant folding,
//!              canonical operand order, reassociation, algebraic
//!              identities, strength reduction, extension clean-up; a
//!              match makes the value an alias of the rule's result, and
//!              a rule's new instruction is simplified on the spot
//!   GVN        pure instructions with equal opcode, operands and type are
//!              merged when the first dominates the second; a conditional
//!              trap on the same condition as a dominating one is removed
//!   RLE        redundant loads and loads of just-stored values become the
//!              known value (`rle.rs`)
//!   DCE        pure instructions whose results are unused are removed,
//!              to a fixpoint
//!   retype     a vector load used only by a bitcast loads the bitcast's
//!              type (`retype_vector_loads`), so that its user may fold it
//!   LICM       loop-invariant pure instructions move to the loop's
//!              preheader (`licm.rs`)
//! ```
//!
//! *Pure* (`is_pure`) means: computes its results and does nothing
//! else. Besides arithmetic that cannot trap, that covers `readonly
//! notrap` loads (VMContext fields fixed for the instance's life, such as
//! a heap base that never moves: merging, removing and hoisting them is
//! what makes wasm's repeated heap-base loads cheap) and divisions by a
//! constant that cannot trap.
//!
//! # Why a fixpoint rewriter rather than an e-graph
//!
//! Cranelift applies its rules in an acyclic e-graph and elaborates the
//! best version of each value back into the layout. duet applies the same
//! kind of rules destructively, in reverse postorder: an instruction's
//! operands are simplified before it (definitions dominate uses, and RPO
//! visits dominators first), so one pass reaches what a rule set without
//! cycles can reach, and a second pass confirms nothing changed. What an
//! e-graph adds (choosing among several equivalent forms by cost) matters
//! once rules can rewrite in both directions; duet's rules only simplify
//! or canonicalize, so the simpler machinery reaches the same result at a
//! fraction of the compile time and memory. Cranelift's elaboration also
//! hoists loop invariants and rematerializes constants; here LICM is its
//! own pass and the backend materializes constants in each block that
//! uses them.
//!
//! Instructions that may trap or write memory are never simplified,
//! merged or removed, except loads that RLE proves redundant and repeated
//! conditional traps.

#[allow(missing_docs, clippy::all)]
mod generated;
mod licm;
mod rle;

use crate::dominator_tree::DominatorTree;
use crate::entity::SecondaryMap;
use crate::flowgraph::ControlFlowGraph;
use crate::ir::{Constant, Function, Inst, InstructionData, IntCC, Opcode, Type, Value, ValueDef};
use std::collections::HashMap;

// The names the generated code refers to (`use super::*`).
type ValueArray2 = [Value; 2];
type ValueArray3 = [Value; 3];

/// The rewriting context: the function and the instruction being
/// simplified (new constants are inserted before it).
struct Rewriter<'f> {
    func: &'f mut Function,
    at: Inst,
}

impl generated::Context for Rewriter<'_> {
    fn def_data(&mut self, v: Value) -> Option<InstructionData> {
        match self.func.dfg.value_def(v) {
            ValueDef::Result(inst, _) => Some(*self.func.dfg.inst(inst)),
            _ => None,
        }
    }

    fn unpack_value_array_2(&mut self, args: ValueArray2) -> (Value, Value) {
        (args[0], args[1])
    }

    fn value_type(&mut self, v: Value) -> Type {
        self.func.dfg.value_type(v)
    }

    fn is_scalar(&mut self, v: Value) -> bool {
        !self.func.dfg.value_type(v).is_vector()
    }

    fn iconst_new(&mut self, ty: &Type, imm: i64) -> Value {
        let data = InstructionData::UnaryImm {
            opcode: Opcode::Iconst,
            imm: ty.sign_extend(imm),
        };
        self.insert(data, *ty)
    }

    fn fold_binary(&mut self, op: &Opcode, ty: &Type, a: i64, b: i64) -> Option<i64> {
        fold_binary(*op, *ty, a, b)
    }

    fn same_value(&mut self, x: Value, y: Value) -> bool {
        self.func.dfg.resolve_aliases(x) == self.func.dfg.resolve_aliases(y)
    }

    fn same_type(&mut self, x: Value, y: Value) -> bool {
        self.func.dfg.value_type(x) == self.func.dfg.value_type(y)
    }

    fn same_opcode(&mut self, a: &Opcode, b: &Opcode) -> bool {
        a == b
    }

    fn binary_new(&mut self, op: &Opcode, ty: &Type, x: Value, y: Value) -> Value {
        self.insert(
            InstructionData::Binary {
                opcode: *op,
                args: [x, y],
            },
            *ty,
        )
    }

    fn unary_new(&mut self, op: &Opcode, ty: &Type, x: Value) -> Value {
        self.insert(
            InstructionData::Unary {
                opcode: *op,
                arg: x,
            },
            *ty,
        )
    }

    fn fold_unary(&mut self, op: &Opcode, from: &Type, to: &Type, a: i64) -> Option<i64> {
        if !from.is_int() || !to.is_int() {
            return None;
        }
        let value = match op {
            Opcode::Uextend => from.zero_extend(a) as i64,
            Opcode::Sextend => from.sign_extend(a),
            Opcode::Ireduce => a,
            Opcode::Bnot => !a,
            Opcode::Ineg => a.wrapping_neg(),
            _ => return None,
        };
        Some(to.sign_extend(value))
    }

    fn fold_icmp(&mut self, cc: &IntCC, ty: &Type, a: i64, b: i64) -> i64 {
        i64::from(cc.eval(ty.sign_extend(a), ty.sign_extend(b), ty.bits()))
    }

    fn icmp_self(&mut self, cc: &IntCC) -> i64 {
        self.fold_icmp(cc, &Type::I64, 0, 0)
    }

    fn log2(&mut self, ty: &Type, n: i64) -> Option<i64> {
        let n = ty.zero_extend(n);
        (n.is_power_of_two() && n > 1).then(|| i64::from(n.trailing_zeros()))
    }

    fn udiv32_reciprocal(&mut self, n: i64) -> Option<generated::U32Reciprocal> {
        let r = cranelift_asm::arith::udiv32_reciprocal(Type::I32.zero_extend(n) as u32)?;
        let (m, k) = (i64::from(r.multiplier), i64::from(r.shift));
        Some(if r.increment {
            generated::U32Reciprocal::RoundDown { m, k }
        } else {
            generated::U32Reciprocal::RoundUp { m, k }
        })
    }

    fn commutative(&mut self, op: &Opcode) -> Option<Opcode> {
        matches!(
            op,
            Opcode::Iadd | Opcode::Imul | Opcode::Band | Opcode::Bor | Opcode::Bxor
        )
        .then_some(*op)
    }

    fn reassociates(&mut self, op: &Opcode) -> Option<Opcode> {
        self.commutative(op)
    }

    fn unpack_value_array_3(&mut self, args: ValueArray3) -> (Value, Value, Value) {
        (args[0], args[1], args[2])
    }

    fn vconst_new(&mut self, ty: &Type, constant: Constant) -> Value {
        let data = InstructionData::UnaryConst {
            opcode: Opcode::Vconst,
            constant,
        };
        self.insert(data, *ty)
    }

    fn shuffle_new(&mut self, a: Value, b: Value, mask: Constant) -> Value {
        let data = InstructionData::Shuffle {
            opcode: Opcode::Shuffle,
            args: [a, b],
            mask,
        };
        self.insert(data, Type::I8X16)
    }

    fn bitselect_new(&mut self, ty: &Type, c: Value, a: Value, b: Value) -> Value {
        let data = InstructionData::Ternary {
            opcode: Opcode::Bitselect,
            args: [c, a, b],
        };
        self.insert(data, *ty)
    }

    fn widen_mul(&mut self, widen: &Opcode) -> Option<Opcode> {
        Some(match widen {
            Opcode::SwidenLow => Opcode::SmulWidenLow,
            Opcode::SwidenHigh => Opcode::SmulWidenHigh,
            Opcode::UwidenLow => Opcode::UmulWidenLow,
            Opcode::UwidenHigh => Opcode::UmulWidenHigh,
            _ => return None,
        })
    }

    fn int_vector(&mut self, ty: &Type) -> Option<Type> {
        (ty.is_vector() && ty.is_int_lanes()).then_some(*ty)
    }

    fn constant_splat(&mut self, ty: &Type, x: i64) -> Constant {
        let width = ty.lane_type().bits();
        let lane = u128::from(x as u64) & lane_mask(width);
        let bits = (0..ty.lane_count()).fold(0, |acc, i| acc | lane << (i * width));
        self.func.dfg.constant(bits)
    }

    fn constant_lane(&mut self, ty: &Type, c: Constant, lane: u8) -> i64 {
        let width = ty.lane_type().bits();
        let bits = self.func.dfg.constant_bits(c) >> (u32::from(lane) * width) & lane_mask(width);
        ty.lane_type().sign_extend(bits as u64 as i64)
    }

    fn constant_insert(&mut self, ty: &Type, c: Constant, lane: u8, x: i64) -> Constant {
        let width = ty.lane_type().bits();
        let shift = u32::from(lane) * width;
        let cleared = self.func.dfg.constant_bits(c) & !(lane_mask(width) << shift);
        let bits = cleared | (u128::from(x as u64) & lane_mask(width)) << shift;
        self.func.dfg.constant(bits)
    }

    fn constant_shuffle(&mut self, a: Constant, b: Constant, mask: Constant) -> Constant {
        let dfg = &self.func.dfg;
        let (a, b) = (dfg.constant_bits(a), dfg.constant_bits(b));
        let both = [a.to_le_bytes(), b.to_le_bytes()].concat();
        let bytes = dfg
            .constant_bits(mask)
            .to_le_bytes()
            .map(|m| both[usize::from(m)]);
        self.func.dfg.constant(u128::from_le_bytes(bytes))
    }

    fn constant_bitwise(&mut self, op: &Opcode, a: Constant, b: Constant) -> Option<Constant> {
        let dfg = &self.func.dfg;
        let (a, b) = (dfg.constant_bits(a), dfg.constant_bits(b));
        let bits = match op {
            Opcode::Band => a & b,
            Opcode::Bor => a | b,
            Opcode::Bxor => a ^ b,
            Opcode::BandNot => a & !b,
            _ => return None,
        };
        Some(self.func.dfg.constant(bits))
    }

    fn constant_not(&mut self, c: Constant) -> Constant {
        let bits = !self.func.dfg.constant_bits(c);
        self.func.dfg.constant(bits)
    }

    fn shuffle_identity(&mut self, mask: Constant, second: bool) -> bool {
        self.func.dfg.shuffle_is_identity(mask, second)
    }

    fn one_input_mask(&mut self, mask: Constant, same: bool) -> Option<Constant> {
        let bytes = self.func.dfg.constant_bytes(mask);
        let second = bytes.iter().filter(|&&m| m >= 16).count();
        let wanted = if same {
            // One value twice: any byte of the second operand is the same
            // byte of the first (none: nothing to do).
            second > 0
        } else {
            // Two values, one of which is read.
            second == 0 || second == 16
        };
        wanted.then(|| {
            self.func
                .dfg
                .constant(u128::from_le_bytes(bytes.map(|m| m % 16)))
        })
    }

    fn splat_lanes(&mut self, v: Value) -> Option<Type> {
        let dfg = &self.func.dfg;
        let mut v = dfg.resolve_aliases(v);
        if let ValueDef::Result(inst, _) = dfg.value_def(v)
            && let InstructionData::Unary {
                opcode: Opcode::Bitcast,
                arg,
            } = *dfg.inst(inst)
        {
            v = dfg.resolve_aliases(arg);
        }
        let ValueDef::Result(inst, _) = dfg.value_def(v) else {
            return None;
        };
        matches!(
            dfg.inst(inst),
            InstructionData::Unary {
                opcode: Opcode::Splat,
                ..
            }
        )
        .then(|| dfg.value_type(v))
    }

    fn keeps_lane_bytes(&mut self, mask: Constant, ty: &Type) -> bool {
        let lane = (ty.lane_type().bits() / 8) as usize;
        self.func
            .dfg
            .constant_bytes(mask)
            .iter()
            .enumerate()
            .all(|(i, &m)| usize::from(m) % lane == i % lane)
    }

    fn reads_second(&mut self, mask: Constant) -> bool {
        self.func.dfg.constant_bytes(mask).iter().all(|&m| m >= 16)
    }
}

/// The lowest `width` bits set.
fn lane_mask(width: u32) -> u128 {
    u128::MAX >> (128 - width)
}

impl Rewriter<'_> {
    /// Inserts `data` (of controlling type `ty`) before the instruction
    /// being simplified and returns its result.
    fn insert(&mut self, data: InstructionData, ty: Type) -> Value {
        let inst = self.func.dfg.make_inst(data);
        self.func.dfg.make_inst_results(inst, ty);
        self.func.layout.insert_inst_before(inst, self.at);
        self.func.srclocs[inst] = self.func.srclocs[self.at];
        self.func.dfg.first_result(inst)
    }
}

/// `op` on two integer constants of type `ty`, canonicalized; `None` where
/// the result is not defined here (division, whose traps stay).
fn fold_binary(op: Opcode, ty: Type, a: i64, b: i64) -> Option<i64> {
    if !ty.is_int() {
        return None;
    }
    let bits = ty.bits();
    let (ua, ub) = (ty.zero_extend(a), ty.zero_extend(b));
    let shift = (ub % u64::from(bits)) as u32;
    let rotate = |left: bool| -> u64 {
        if shift == 0 {
            return ua;
        }
        let (l, r) = if left {
            (shift, bits - shift)
        } else {
            (bits - shift, shift)
        };
        (ua << l) | (ua >> r)
    };
    let value = match op {
        Opcode::Iadd => a.wrapping_add(b),
        Opcode::Isub => a.wrapping_sub(b),
        Opcode::Imul => a.wrapping_mul(b),
        Opcode::Band => a & b,
        Opcode::Bor => a | b,
        Opcode::Bxor => a ^ b,
        Opcode::Ishl => (ua << shift) as i64,
        Opcode::Ushr => (ua >> shift) as i64,
        Opcode::Sshr => ty.sign_extend(a) >> shift,
        Opcode::Rotl => rotate(true) as i64,
        Opcode::Rotr => rotate(false) as i64,
        _ => return None,
    };
    Some(ty.sign_extend(value))
}

/// Whether `inst` may be simplified, merged with an equal one, or removed
/// when unused: it computes its results and does nothing else.
fn is_pure(func: &Function, inst: Inst) -> bool {
    let data = func.dfg.inst(inst);
    if func.dfg.inst_results(inst).is_empty() {
        return false;
    }
    match *data {
        // Memory nothing writes, at an address that cannot fault: the
        // VMContext's fields fixed for an instance's life (a heap base that
        // cannot move, a table's base, function references).
        InstructionData::Load { flags, .. } => flags.readonly() && flags.notrap(),
        // A division by a constant that cannot trap: not by 0, and for a
        // signed one not by -1 (`MIN / -1` overflows).
        InstructionData::Binary {
            opcode: opcode @ (Opcode::Udiv | Opcode::Urem | Opcode::Sdiv | Opcode::Srem),
            args,
        } => {
            let ty = func.dfg.value_type(args[1]);
            match func.dfg.value_def(func.dfg.resolve_aliases(args[1])) {
                ValueDef::Result(def, _) => match *func.dfg.inst(def) {
                    InstructionData::UnaryImm {
                        opcode: Opcode::Iconst,
                        imm,
                    } => {
                        let n = ty.sign_extend(imm);
                        n != 0 && (n != -1 || matches!(opcode, Opcode::Udiv | Opcode::Urem))
                    }
                    _ => false,
                },
                _ => false,
            }
        }
        _ => !data.opcode().has_side_effects() && !data.opcode().can_load(),
    }
}

/// How many rules may rewrite one value in a row (each one simplifies, so
/// a chain is short; the bound keeps a faulty rule set from looping).
const MAX_REWRITES: usize = 8;

/// Optimizes `func` in place (see the [module docs](self)). The result
/// verifies if the input did.
pub fn optimize(func: &mut Function) {
    let cfg = ControlFlowGraph::with_function(func);
    let domtree = DominatorTree::with_function(func, &cfg);
    let order: Vec<Inst> = domtree
        .rpo()
        .iter()
        .flat_map(|&b| func.layout.block_insts(b).collect::<Vec<_>>())
        .collect();
    // Simplify, twice at most: the second pass only confirms.
    for _ in 0..2 {
        let mut changed = false;
        for &inst in &order {
            if !is_pure(func, inst) || func.dfg.inst_results(inst).len() != 1 {
                continue;
            }
            let result = func.dfg.first_result(inst);
            if func.dfg.resolve_aliases(result) != result {
                continue;
            }
            // A rule's result may be a new instruction another rule
            // simplifies further (canonicalized, then an identity).
            let mut value = result;
            for _ in 0..MAX_REWRITES {
                let mut rewriter = Rewriter {
                    func: &mut *func,
                    at: inst,
                };
                match generated::constructor_simplify(&mut rewriter, value) {
                    Some(new) if func.dfg.resolve_aliases(new) != value => {
                        value = func.dfg.resolve_aliases(new);
                    }
                    _ => break,
                }
            }
            if value != result {
                func.dfg.change_to_alias(result, value);
                changed = true;
            }
        }
        if !changed {
            break;
        }
    }
    // GVN, then RLE (its keys need equal addresses merged), then GVN
    // again (loads RLE merged make more equal instructions).
    value_numbering(func, &domtree);
    rle::eliminate_redundant_loads(func, &cfg, &domtree);
    value_numbering(func, &domtree);
    let all: Vec<Inst> = func
        .layout
        .blocks()
        .flat_map(|b| func.layout.block_insts(b).collect::<Vec<_>>())
        .collect();
    func.dfg.resolve_all_aliases(all.iter().copied());
    eliminate_dead_code(func, &all);
    retype_vector_loads(func);
    licm::hoist_loop_invariants(func, &cfg, &domtree);
}

/// A vector `load` whose one use is a `bitcast` loads the bitcast's type
/// instead, and the bitcast goes: the load keeps its place, address, size
/// and trap, and its user now reads the loaded value directly, so that the
/// backend can fold the load into that user's memory operand. (The
/// frontend loads every `v128` as an `i8x16` and bitcasts it to the lanes
/// the operator reads.)
fn retype_vector_loads(func: &mut Function) {
    let insts: Vec<Inst> = func
        .layout
        .blocks()
        .flat_map(|b| func.layout.block_insts(b).collect::<Vec<_>>())
        .collect();
    let mut uses: SecondaryMap<Value, u32> = SecondaryMap::default();
    for &inst in &insts {
        func.dfg.for_each_inst_arg(inst, |v| uses[v] += 1);
    }
    for &inst in &insts {
        let InstructionData::Unary {
            opcode: Opcode::Bitcast,
            arg,
        } = *func.dfg.inst(inst)
        else {
            continue;
        };
        let ValueDef::Result(load, _) = func.dfg.value_def(arg) else {
            continue;
        };
        let is_vector_load = matches!(
            func.dfg.inst(load),
            InstructionData::Load {
                opcode: Opcode::Load,
                ..
            }
        ) && func.dfg.value_type(arg).is_vector();
        let result = func.dfg.first_result(inst);
        let ty = func.dfg.value_type(result);
        if !is_vector_load || uses[arg] != 1 || !ty.is_vector() {
            continue;
        }
        func.dfg.set_value_def(arg, ty, ValueDef::Result(load, 0));
        func.layout.remove_inst(inst);
        func.dfg.change_to_alias(result, arg);
    }
    func.dfg.resolve_all_aliases(insts.iter().copied());
}

/// Global value numbering over the dominator tree, and the removal of
/// conditional traps a dominating equal one makes redundant.
fn value_numbering(func: &mut Function, domtree: &DominatorTree) {
    let order: Vec<Inst> = domtree
        .rpo()
        .iter()
        .flat_map(|&b| func.layout.block_insts(b).collect::<Vec<_>>())
        .collect();
    let mut seen: HashMap<(InstructionData, Type), Inst> = HashMap::new();
    // A conditional trap on the same condition as one that dominates it
    // cannot trap (the first did not): the frontend's repeated checks.
    let mut checks: HashMap<InstructionData, Inst> = HashMap::new();
    for &inst in &order {
        if let InstructionData::CondTrap { .. } = func.dfg.inst(inst) {
            func.dfg.resolve_all_aliases([inst]);
            let key = *func.dfg.inst(inst);
            match checks.get(&key) {
                Some(&earlier) if domtree.inst_dominates(func, earlier, inst) => {
                    func.layout.remove_inst(inst);
                }
                _ => {
                    checks.insert(key, inst);
                }
            }
            continue;
        }
        if !is_pure(func, inst) || func.dfg.inst_results(inst).len() != 1 {
            continue;
        }
        let result = func.dfg.first_result(inst);
        if func.dfg.resolve_aliases(result) != result {
            continue;
        }
        func.dfg.resolve_all_aliases([inst]);
        let key = (*func.dfg.inst(inst), func.dfg.value_type(result));
        match seen.get(&key) {
            Some(&earlier) if domtree.inst_dominates(func, earlier, inst) => {
                let earlier = func.dfg.first_result(earlier);
                func.dfg.change_to_alias(result, earlier);
            }
            _ => {
                seen.insert(key, inst);
            }
        }
    }
}

/// Removes pure instructions whose results nothing uses, to a fixpoint.
fn eliminate_dead_code(func: &mut Function, insts: &[Inst]) {
    let mut uses: SecondaryMap<Value, u32> = SecondaryMap::default();
    for &inst in insts {
        func.dfg.for_each_inst_arg(inst, |v| uses[v] += 1);
    }
    let mut worklist: Vec<Inst> = insts.iter().rev().copied().collect();
    while let Some(inst) = worklist.pop() {
        if func.layout.inst_block(inst).is_none() || !is_pure(func, inst) {
            continue;
        }
        if func.dfg.inst_results(inst).iter().any(|&v| uses[v] > 0) {
            continue;
        }
        func.layout.remove_inst(inst);
        let mut args = Vec::new();
        func.dfg.for_each_inst_arg(inst, |v| args.push(v));
        for v in args {
            uses[v] -= 1;
            if uses[v] == 0
                && let ValueDef::Result(def, _) = func.dfg.value_def(v)
            {
                worklist.push(def);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folding_follows_each_types_width() {
        assert_eq!(
            fold_binary(Opcode::Iadd, Type::I32, 0x7fff_ffff, 1),
            Some(-0x8000_0000)
        );
        assert_eq!(fold_binary(Opcode::Ushr, Type::I32, -1, 28), Some(15));
        assert_eq!(fold_binary(Opcode::Sshr, Type::I32, -16, 2), Some(-4));
        assert_eq!(fold_binary(Opcode::Ishl, Type::I32, 1, 33), Some(2));
        assert_eq!(
            fold_binary(Opcode::Rotl, Type::I32, 0x8000_0001u32 as i32 as i64, 1),
            Some(3)
        );
        assert_eq!(fold_binary(Opcode::Rotr, Type::I64, 1, 1), Some(i64::MIN));
        assert_eq!(fold_binary(Opcode::Udiv, Type::I32, 4, 2), None);
        for a in [0i64, 1, -1, 0x1234_5678, i64::MIN, i64::MAX] {
            for b in [0i64, 1, 5, 31, 32, 63, -1] {
                let want = (a as i32).wrapping_mul(b as i32) as i64;
                assert_eq!(
                    fold_binary(
                        Opcode::Imul,
                        Type::I32,
                        Type::I32.sign_extend(a),
                        Type::I32.sign_extend(b)
                    ),
                    Some(want)
                );
                let want = (a as i32).rotate_left(b as u32 % 32) as i64;
                assert_eq!(
                    fold_binary(Opcode::Rotl, Type::I32, Type::I32.sign_extend(a), b),
                    Some(want)
                );
            }
        }
    }
}
