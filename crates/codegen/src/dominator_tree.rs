//! Dominators, by the iterative algorithm of Cooper, Harvey and Kennedy
//! ("A Simple, Fast Dominance Algorithm") over the reverse postorder.
//!
//! A block `a` dominates `b` if every path from the entry to `b` passes
//! through `a`. Blocks unreachable from the entry have no dominator and
//! are dominated by nothing; instructions in them may use anything (they
//! never run), as Cranelift's verifier also allows.

use crate::entity::SecondaryMap;
use crate::flowgraph::ControlFlowGraph;
use crate::ir::{Block, Function, Inst};

/// The dominator tree of a function.
#[derive(Clone, Debug, Default)]
pub struct DominatorTree {
    /// Immediate dominator of each reachable block (the entry: itself).
    idom: SecondaryMap<Block, Option<Block>>,
    /// Position of each reachable block in the reverse postorder (the
    /// entry is 1; 0 is unreachable).
    rpo_number: SecondaryMap<Block, u32>,
    /// The reachable blocks in reverse postorder.
    rpo: Vec<Block>,
}

impl DominatorTree {
    /// The tree of `func` with its control-flow graph `cfg`.
    pub fn with_function(func: &Function, cfg: &ControlFlowGraph) -> Self {
        let mut tree = DominatorTree::default();
        let Some(entry) = func.layout.entry_block() else {
            return tree;
        };
        // Postorder by an explicit stack (no recursion on deep CFGs).
        let mut visited: SecondaryMap<Block, bool> = SecondaryMap::default();
        let mut postorder = Vec::new();
        let mut stack = vec![(entry, 0usize)];
        visited[entry] = true;
        while let Some((block, next)) = stack.last_mut() {
            let block = *block;
            let succs = cfg.succs(block);
            if let Some(&succ) = succs.get(*next) {
                *next += 1;
                if !visited[succ] {
                    visited[succ] = true;
                    stack.push((succ, 0));
                }
            } else {
                postorder.push(block);
                stack.pop();
            }
        }
        tree.rpo = postorder.into_iter().rev().collect();
        for (i, &block) in tree.rpo.iter().enumerate() {
            tree.rpo_number[block] = i as u32 + 1;
        }
        tree.idom[entry] = Some(entry);
        let mut changed = true;
        while changed {
            changed = false;
            for &block in &tree.rpo[1..] {
                let mut new_idom = None;
                for &(pred, _) in cfg.preds(block) {
                    if tree.idom[pred].is_none() {
                        continue;
                    }
                    new_idom = Some(match new_idom {
                        None => pred,
                        Some(current) => tree.intersect(current, pred),
                    });
                }
                if new_idom.is_some() && tree.idom[block] != new_idom {
                    tree.idom[block] = new_idom;
                    changed = true;
                }
            }
        }
        tree
    }

    fn intersect(&self, mut a: Block, mut b: Block) -> Block {
        while a != b {
            while self.rpo_number[a] > self.rpo_number[b] {
                a = self.idom[a].expect("a processed block has an idom");
            }
            while self.rpo_number[b] > self.rpo_number[a] {
                b = self.idom[b].expect("a processed block has an idom");
            }
        }
        a
    }

    /// Whether `block` is reachable from the entry.
    pub fn is_reachable(&self, block: Block) -> bool {
        self.rpo_number[block] != 0
    }

    /// The immediate dominator of `block` (`None` for the entry and for
    /// unreachable blocks).
    pub fn idom(&self, block: Block) -> Option<Block> {
        self.idom[block].filter(|&d| d != block)
    }

    /// The reachable blocks in reverse postorder.
    pub fn rpo(&self) -> &[Block] {
        &self.rpo
    }

    /// Whether block `a` dominates block `b` (every block dominates itself).
    pub fn block_dominates(&self, a: Block, mut b: Block) -> bool {
        if !self.is_reachable(a) || !self.is_reachable(b) {
            return false;
        }
        loop {
            if a == b {
                return true;
            }
            if self.rpo_number[b] < self.rpo_number[a] {
                return false;
            }
            match self.idom(b) {
                Some(d) => b = d,
                None => return false,
            }
        }
    }

    /// Whether instruction `a` comes before (or is) `b` on every path to
    /// `b`: same block and earlier in it, or `a`'s block strictly dominates
    /// `b`'s.
    pub fn inst_dominates(&self, func: &Function, a: Inst, b: Inst) -> bool {
        let (Some(ba), Some(bb)) = (func.layout.inst_block(a), func.layout.inst_block(b)) else {
            return false;
        };
        if ba == bb {
            let mut cursor = Some(a);
            while let Some(i) = cursor {
                if i == b {
                    return true;
                }
                cursor = func.layout.next_inst(i);
            }
            return false;
        }
        self.block_dominates(ba, bb)
    }

    /// The number of blocks in the RPO (reachable blocks).
    pub fn num_reachable(&self) -> usize {
        self.rpo.len()
    }

    /// A block's RPO position (1-based; 0 if unreachable).
    pub fn rpo_number(&self, block: Block) -> usize {
        self.rpo_number[block] as usize
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parser::parse_function_text;

    #[test]
    fn a_loop_with_a_diamond_has_the_expected_dominators() {
        let func = parse_function_text(
            "function %f(i32) wasm {
block0(v0: i32):
    jump block1
block1:
    brif v0, block2, block3
block2:
    jump block4
block3:
    jump block4
block4:
    brif v0, block1, block5
block5:
    return
block6:
    jump block4
}",
        )
        .unwrap();
        let cfg = ControlFlowGraph::with_function(&func);
        let tree = DominatorTree::with_function(&func, &cfg);
        let b = Block::from_u32;
        assert_eq!(tree.idom(b(1)), Some(b(0)));
        assert_eq!(tree.idom(b(2)), Some(b(1)));
        assert_eq!(tree.idom(b(4)), Some(b(1)), "the join's idom is the branch");
        assert_eq!(tree.idom(b(5)), Some(b(4)));
        assert!(tree.block_dominates(b(1), b(5)));
        assert!(!tree.block_dominates(b(2), b(4)));
        assert!(!tree.is_reachable(b(6)));
        assert_eq!(tree.num_reachable(), 6);
        assert_eq!(cfg.preds(b(4)).len(), 3);
    }
}
