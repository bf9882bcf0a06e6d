//! Dominators, by the algorithm of Lengauer and Tarjan ("A Fast Algorithm
//! for Finding Dominators in a Flowgraph", 1979) in its simple form with
//! path compression: O(m log n) for m edges and n blocks, whatever the
//! shape of the graph. (The iterative algorithm of Cooper, Harvey and
//! Kennedy, used before, walks from every predecessor up to the common
//! dominator: a block with k predecessors in a chain, such as the exit of
//! a `block` with k `br_if`s, cost O(k^2).)
//!
//! ```text
//!   1. depth-first search from the entry: preorder numbers 1..n, each
//!      block's DFS-tree parent, and the postorder (the RPO is its reverse)
//!   2. semidominators, in decreasing preorder, through a forest linked as
//!      the search goes (eval with path compression); each block's
//!      immediate dominator is its semidominator or is deferred to it
//!   3. the deferred immediate dominators, in increasing preorder
//!   4. a depth-first numbering of the dominator tree, so that "a
//!      dominates b" is two comparisons: pre(a) <= pre(b) <= last(a)
//! ```
//!
//! A block `a` dominates `b` if every path from the entry to `b` passes
//! through `a`. Blocks unreachable from the entry have no dominator and
//! are dominated by nothing; instructions in them may use anything (they
//! never run), as Cranelift's verifier also allows.

use crate::entity::SecondaryMap;
use crate::flowgraph::ControlFlowGraph;
use crate::ir::{Block, Function, Inst};

/// Lengauer and Tarjan's EVAL with path compression: the block of least
/// semidominator number on the forest path above `v` (`v` itself at a
/// root). Iterative: the path is collected first, then compressed from
/// the top down, as the recursive COMPRESS would.
fn eval(v: u32, ancestor: &mut [u32], label: &mut [u32], semi: &[u32], path: &mut Vec<u32>) -> u32 {
    if ancestor[v as usize] == 0 {
        return v;
    }
    path.clear();
    let mut x = v;
    while ancestor[ancestor[x as usize] as usize] != 0 {
        path.push(x);
        x = ancestor[x as usize];
    }
    while let Some(x) = path.pop() {
        let (x, a) = (x as usize, ancestor[x as usize] as usize);
        if semi[label[a] as usize] < semi[label[x] as usize] {
            label[x] = label[a];
        }
        ancestor[x] = ancestor[a];
    }
    label[v as usize]
}

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
    /// Each reachable block's number in a preorder walk of the dominator
    /// tree (from 1), and the highest number in its subtree: `a`
    /// dominates `b` exactly when `b`'s number lies in `a`'s range.
    tree_pre: SecondaryMap<Block, u32>,
    tree_last: SecondaryMap<Block, u32>,
}

impl DominatorTree {
    /// The tree of `func` with its control-flow graph `cfg`.
    pub fn with_function(func: &Function, cfg: &ControlFlowGraph) -> Self {
        let mut tree = DominatorTree::default();
        let Some(entry) = func.layout.entry_block() else {
            return tree;
        };
        // 1. Depth-first search by an explicit stack (no recursion on deep
        // CFGs). `dfs[b]` is b's preorder number (0: not reached);
        // `vertex[i]` the block numbered i; `parent[i]` its DFS-tree
        // parent's number. Index 0 of the vectors is a sentinel.
        let mut dfs: SecondaryMap<Block, u32> = SecondaryMap::default();
        let mut vertex = vec![entry, entry];
        let mut parent = vec![0u32, 0];
        let mut postorder = Vec::new();
        let mut stack = vec![(entry, 0usize)];
        dfs[entry] = 1;
        while let Some((block, next)) = stack.last_mut() {
            let block = *block;
            if let Some(&succ) = cfg.succs(block).get(*next) {
                *next += 1;
                if dfs[succ] == 0 {
                    dfs[succ] = vertex.len() as u32;
                    vertex.push(succ);
                    parent.push(dfs[block]);
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

        // 2. Semidominators and (some) immediate dominators.
        let n = vertex.len() - 1;
        let mut semi: Vec<u32> = (0..=n as u32).collect();
        let mut label: Vec<u32> = (0..=n as u32).collect();
        let mut ancestor = vec![0u32; n + 1];
        let mut idom = vec![0u32; n + 1];
        // Buckets as linked lists: the blocks whose semidominator is i.
        let mut bucket_head = vec![0u32; n + 1];
        let mut bucket_next = vec![0u32; n + 1];
        let mut path = Vec::new();
        for w in (2..=n).rev() {
            for &(pred, _) in cfg.preds(vertex[w]) {
                let v = dfs[pred];
                if v == 0 {
                    continue; // an unreachable predecessor
                }
                let u = eval(v, &mut ancestor, &mut label, &semi, &mut path);
                if semi[u as usize] < semi[w] {
                    semi[w] = semi[u as usize];
                }
            }
            let s = semi[w] as usize;
            bucket_next[w] = bucket_head[s];
            bucket_head[s] = w as u32;
            let p = parent[w];
            ancestor[w] = p;
            let mut v = core::mem::take(&mut bucket_head[p as usize]);
            while v != 0 {
                let u = eval(v, &mut ancestor, &mut label, &semi, &mut path);
                idom[v as usize] = if semi[u as usize] < semi[v as usize] {
                    u
                } else {
                    p
                };
                v = bucket_next[v as usize];
            }
        }
        // 3. The deferred ones: a block whose semidominator is not its
        // immediate dominator has the immediate dominator of the block
        // eval chose, which comes earlier in preorder.
        for w in 2..=n {
            if idom[w] != semi[w] {
                idom[w] = idom[idom[w] as usize];
            }
        }
        tree.idom[entry] = Some(entry);
        for w in 2..=n {
            tree.idom[vertex[w]] = Some(vertex[idom[w] as usize]);
        }

        // 4. Number the dominator tree: children as linked lists, then a
        // preorder walk by an explicit stack.
        let mut first_child = vec![0u32; n + 1];
        let mut next_sibling = vec![0u32; n + 1];
        for w in (2..=n).rev() {
            let d = idom[w] as usize;
            next_sibling[w] = first_child[d];
            first_child[d] = w as u32;
        }
        let mut counter = 0u32;
        let mut walk = vec![1u32];
        let mut exits = Vec::new();
        while let Some(v) = walk.pop() {
            if v == 0 {
                // The end of the subtree whose root `exits` holds.
                let root = exits.pop().expect("an exit per subtree");
                tree.tree_last[vertex[root as usize]] = counter;
                continue;
            }
            counter += 1;
            tree.tree_pre[vertex[v as usize]] = counter;
            exits.push(v);
            walk.push(0);
            let mut child = first_child[v as usize];
            while child != 0 {
                walk.push(child);
                child = next_sibling[child as usize];
            }
        }
        tree
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
    /// O(1).
    pub fn block_dominates(&self, a: Block, b: Block) -> bool {
        if !self.is_reachable(a) || !self.is_reachable(b) {
            return false;
        }
        let (a_pre, b_pre) = (self.tree_pre[a], self.tree_pre[b]);
        a_pre <= b_pre && b_pre <= self.tree_last[a]
    }

    /// Whether instruction `a` comes before (or is) `b` on every path to
    /// `b`: same block and earlier in it, or `a`'s block strictly dominates
    /// `b`'s.
    pub fn inst_dominates(&self, func: &Function, a: Inst, b: Inst) -> bool {
        let (Some(ba), Some(bb)) = (func.layout.inst_block(a), func.layout.inst_block(b)) else {
            return false;
        };
        if ba == bb {
            return a == b || func.layout.inst_precedes(a, b);
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

    /// Dominance against its definition on random graphs: `a` dominates
    /// `b` when `b` cannot be reached from the entry once `a` is removed.
    #[test]
    fn dominance_matches_reachability_with_a_block_removed() {
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = move |bound: usize| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            (seed % bound as u64) as usize
        };
        for _ in 0..300 {
            let n = 2 + next(24);
            let mut text = String::from("function %f(i32) wasm {\nblock0(v0: i32):\n");
            let mut succs = vec![Vec::new(); n];
            for (b, succ) in succs.iter_mut().enumerate() {
                if b > 0 {
                    text += &format!("block{b}:\n");
                }
                match next(4) {
                    0 => text += "    return\n",
                    1 => {
                        let t = next(n);
                        succ.push(t);
                        text += &format!("    jump block{t}\n");
                    }
                    _ => {
                        let (t, e) = (next(n), next(n));
                        succ.extend([t, e]);
                        text += &format!("    brif v0, block{t}, block{e}\n");
                    }
                }
            }
            text += "}";
            let func = parse_function_text(&text).unwrap();
            let cfg = ControlFlowGraph::with_function(&func);
            let tree = DominatorTree::with_function(&func, &cfg);
            let reach_without = |removed: Option<usize>| {
                let mut seen = vec![false; n];
                let mut stack = vec![0];
                while let Some(b) = stack.pop() {
                    if seen[b] || Some(b) == removed {
                        continue;
                    }
                    seen[b] = true;
                    stack.extend(succs[b].iter().copied());
                }
                seen
            };
            let reachable = reach_without(None);
            for a in 0..n {
                let without_a = reach_without(Some(a));
                for b in 0..n {
                    let expected = reachable[a] && reachable[b] && (a == b || !without_a[b]);
                    let (ba, bb) = (Block::from_u32(a as u32), Block::from_u32(b as u32));
                    assert_eq!(
                        tree.block_dominates(ba, bb),
                        expected,
                        "{a} dom {b} in\n{text}"
                    );
                }
                let block = Block::from_u32(a as u32);
                assert_eq!(tree.is_reachable(block), reachable[a]);
                if let Some(d) = tree.idom(block) {
                    // The immediate dominator dominates, strictly, and
                    // every other strict dominator dominates it.
                    assert!(tree.block_dominates(d, block) && d != block);
                    for c in 0..n {
                        let c = Block::from_u32(c as u32);
                        if c != block && tree.block_dominates(c, block) {
                            assert!(tree.block_dominates(c, d), "{text}");
                        }
                    }
                }
            }
        }
    }
}
