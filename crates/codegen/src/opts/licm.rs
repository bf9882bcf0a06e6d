//! Loop-invariant code motion.
//!
//! A *natural loop* is found from each back edge `p -> h` (an edge to a
//! block `h` that dominates `p`): its header `h` and every block that
//! reaches `p` without passing through `h`. Back edges to one header make
//! one loop.
//!
//! A loop's instruction is *invariant* when it is pure (see
//! [`super::is_pure`]: no effect, no trap; `readonly notrap` loads
//! included) and each operand is defined outside the loop or by an
//! invariant instruction. Invariant instructions move, in order, to the
//! end of the loop's *preheader*: the header's one predecessor outside the
//! loop, when that predecessor ends in a `jump` to the header alone (every
//! wasm `loop` has one: the block holding the `loop` instruction jumps to
//! the header). A loop without such a block is left alone.
//!
//! Inner loops are processed first (smaller bodies first; a loop nested in
//! another has fewer blocks), so an instruction hoisted into an inner
//! loop's preheader, which lies in the outer loop, can move on out.
//!
//! Moving a pure instruction to a block that dominates its old place keeps
//! every use dominated, and a pure instruction computes the same value
//! wherever it runs; executing it when the loop runs zero times costs time
//! but changes nothing observable.

use super::is_pure;
use crate::dominator_tree::DominatorTree;
use crate::entity::SecondaryMap;
use crate::flowgraph::ControlFlowGraph;
use crate::ir::{Block, Function, Inst, InstructionData, ValueDef};

/// One natural loop.
struct Loop {
    header: Block,
    /// Its blocks, in reverse postorder.
    body: Vec<Block>,
}

/// The function's natural loops, innermost first.
fn find_loops(cfg: &ControlFlowGraph, domtree: &DominatorTree) -> Vec<Loop> {
    let mut loops = Vec::new();
    let mut mark: SecondaryMap<Block, u32> = SecondaryMap::default();
    for (number, &header) in domtree.rpo().iter().enumerate() {
        let latches: Vec<Block> = cfg
            .preds(header)
            .iter()
            .map(|&(pred, _)| pred)
            .filter(|&pred| domtree.is_reachable(pred) && domtree.block_dominates(header, pred))
            .collect();
        if latches.is_empty() {
            continue;
        }
        // Mark the body with the header's RPO number + 1.
        let tag = number as u32 + 1;
        mark[header] = tag;
        let mut stack = latches;
        while let Some(block) = stack.pop() {
            if mark[block] == tag {
                continue;
            }
            mark[block] = tag;
            stack.extend(
                cfg.preds(block)
                    .iter()
                    .map(|&(pred, _)| pred)
                    .filter(|&pred| domtree.is_reachable(pred)),
            );
        }
        let body = domtree
            .rpo()
            .iter()
            .copied()
            .filter(|&b| mark[b] == tag)
            .collect();
        loops.push(Loop { header, body });
    }
    // A nested loop's body is a strict subset of its parent's.
    loops.sort_by_key(|l| l.body.len());
    loops
}

/// The block ending in a `jump` to `header` alone from outside `body`, if
/// it is the header's only predecessor outside the loop.
fn preheader(func: &Function, cfg: &ControlFlowGraph, l: &Loop) -> Option<Block> {
    let mut outside = cfg
        .preds(l.header)
        .iter()
        .filter(|(pred, _)| !l.body.contains(pred));
    let &(pred, branch) = outside.next()?;
    if outside.next().is_some() {
        return None;
    }
    matches!(func.dfg.inst(branch), InstructionData::Jump { .. }).then_some(pred)
}

/// Hoists loop-invariant instructions (see the [module docs](self)).
pub fn hoist_loop_invariants(func: &mut Function, cfg: &ControlFlowGraph, domtree: &DominatorTree) {
    let loops = find_loops(cfg, domtree);
    // `inside[block]` is the loop being processed's tag.
    let mut inside: SecondaryMap<Block, u32> = SecondaryMap::default();
    for (n, l) in loops.iter().enumerate() {
        let Some(preheader) = preheader(func, cfg, l) else {
            continue;
        };
        let tag = n as u32 + 1;
        for &block in &l.body {
            inside[block] = tag;
        }
        let destination = func
            .layout
            .last_inst(preheader)
            .expect("a block with a successor has a terminator");
        for &block in &l.body {
            let insts: Vec<Inst> = func.layout.block_insts(block).collect();
            for inst in insts {
                if !is_pure(func, inst) {
                    continue;
                }
                let mut invariant = true;
                func.dfg.for_each_inst_arg(inst, |v| {
                    let def_block = match func.dfg.value_def(func.dfg.resolve_aliases(v)) {
                        ValueDef::Result(def, _) => func.layout.inst_block(def),
                        ValueDef::Param(block, _) => Some(block),
                        ValueDef::Alias(_) => None,
                    };
                    if def_block.is_some_and(|b| inside[b] == tag) {
                        invariant = false;
                    }
                });
                if invariant {
                    func.layout.remove_inst(inst);
                    func.layout.insert_inst_before(inst, destination);
                }
            }
        }
    }
}
