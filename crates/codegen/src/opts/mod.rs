//! The mid-end: IR-to-IR optimization before lowering.
//!
//! ```text
//!   simplify   ISLE rules (isle/codegen/opts/), applied to every result of
//!              a pure instruction in reverse postorder: constant folding,
//!              algebraic identities; a match makes the value an alias of
//!              the rule's result
//!   GVN        pure instructions with equal opcode, operands and type are
//!              merged when the first dominates the second
//!   DCE        pure instructions whose results are unused are removed,
//!              to a fixpoint
//! ```
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
//! once rules can rewrite in both directions; duet's rules only simplify,
//! so the simpler machinery reaches the same result at a fraction of the
//! compile time and memory.
//!
//! Instructions that may trap, touch memory or have other effects are never
//! simplified, merged or removed; loads are left alone (redundant-load
//! elimination needs memory-state tracking, which comes later, as does
//! loop-invariant code motion).

#[allow(missing_docs, clippy::all)]
mod generated;

use crate::dominator_tree::DominatorTree;
use crate::entity::SecondaryMap;
use crate::flowgraph::ControlFlowGraph;
use crate::ir::{Function, Inst, InstructionData, Opcode, Type, Value, ValueDef};
use std::collections::HashMap;

// The names the generated code refers to (`use super::*`).
type ValueArray2 = [Value; 2];

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

    fn iconst_new(&mut self, ty: &Type, imm: i64) -> Value {
        let ty = *ty;
        let inst = self.func.dfg.make_inst(InstructionData::UnaryImm {
            opcode: Opcode::Iconst,
            imm: ty.sign_extend(imm),
        });
        self.func.dfg.make_inst_results(inst, ty);
        self.func.layout.insert_inst_before(inst, self.at);
        self.func.srclocs[inst] = self.func.srclocs[self.at];
        self.func.dfg.first_result(inst)
    }

    fn fold_binary(&mut self, op: &Opcode, ty: &Type, a: i64, b: i64) -> Option<i64> {
        fold_binary(*op, *ty, a, b)
    }

    fn same_value(&mut self, x: Value, y: Value) -> bool {
        self.func.dfg.resolve_aliases(x) == self.func.dfg.resolve_aliases(y)
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
    let opcode = func.dfg.inst(inst).opcode();
    !opcode.has_side_effects() && !opcode.can_load() && !func.dfg.inst_results(inst).is_empty()
}

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
            let mut rewriter = Rewriter {
                func: &mut *func,
                at: inst,
            };
            if let Some(new) = generated::constructor_simplify(&mut rewriter, result) {
                let new = func.dfg.resolve_aliases(new);
                if new != result {
                    func.dfg.change_to_alias(result, new);
                    changed = true;
                }
            }
        }
        if !changed {
            break;
        }
    }
    // Global value numbering over the dominator tree.
    let order: Vec<Inst> = domtree
        .rpo()
        .iter()
        .flat_map(|&b| func.layout.block_insts(b).collect::<Vec<_>>())
        .collect();
    let mut seen: HashMap<(InstructionData, Type), Inst> = HashMap::new();
    for &inst in &order {
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
    let all: Vec<Inst> = func
        .layout
        .blocks()
        .flat_map(|b| func.layout.block_insts(b).collect::<Vec<_>>())
        .collect();
    func.dfg.resolve_all_aliases(all.iter().copied());
    eliminate_dead_code(func, &all);
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
