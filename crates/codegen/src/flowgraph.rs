//! The control-flow graph: each block's predecessors (with the branch
//! instruction) and successors, computed from the layout's terminators.

use crate::entity::SecondaryMap;
use crate::ir::{Block, Function, Inst};

/// Predecessors and successors of every block in the layout.
#[derive(Clone, Debug, Default)]
pub struct ControlFlowGraph {
    preds: SecondaryMap<Block, Vec<(Block, Inst)>>,
    succs: SecondaryMap<Block, Vec<Block>>,
}

impl ControlFlowGraph {
    /// The graph of `func`.
    pub fn with_function(func: &Function) -> Self {
        let mut cfg = ControlFlowGraph::default();
        cfg.compute(func);
        cfg
    }

    /// Recomputes the graph after `func` changed.
    pub fn compute(&mut self, func: &Function) {
        self.preds.clear();
        self.succs.clear();
        // `added[b]`: the block whose successors last took `b`, so that a
        // `br_table` with many targets lists each successor once in
        // O(targets), not O(targets * successors).
        let mut added: SecondaryMap<Block, Option<Block>> = SecondaryMap::default();
        for block in func.layout.blocks() {
            for inst in func.layout.block_insts(block) {
                for call in func.dfg.branch_destinations(inst) {
                    if added[call.block] != Some(block) {
                        added[call.block] = Some(block);
                        self.succs[block].push(call.block);
                    }
                    self.preds[call.block].push((block, inst));
                }
            }
        }
    }

    /// The blocks that branch to `block`, with the branching instruction
    /// (a block appears once per edge).
    pub fn preds(&self, block: Block) -> &[(Block, Inst)] {
        &self.preds[block]
    }

    /// The blocks `block` may branch to, each once, in branch order.
    pub fn succs(&self, block: Block) -> &[Block] {
        &self.succs[block]
    }
}
