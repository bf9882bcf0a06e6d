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
//! the header). A loop without such a block keeps its invariant
//! instructions unless an enclosing loop with a preheader takes them.
//! Instructions of a block marked cold (`Layout::is_cold`) are not
//! hoisted: the slow path they are on would cost the loop every time.
//!
//! Loops are found in near-linear time, innermost first, by walking
//! backwards from each header's latches over a union-find forest that
//! collapses every loop already found into its header (Havlak's scheme):
//! each block is visited once per loop it is the entry of, not once per
//! enclosing loop, so deep nests cost O(blocks + edges), not
//! O(blocks * depth). Each block gets its innermost loop; the loops form a
//! tree, numbered in preorder, so "is this block inside loop L" is two
//! comparisons.
//!
//! Instructions are visited once, in reverse postorder (operands before
//! users), and each invariant one moves out as far as it can at once: out
//! of its innermost loop into that loop's preheader (which lies in the
//! enclosing loop), then on out of the enclosing loop while it is
//! invariant there too. The steps outward are counted against a budget
//! proportional to the function's size ([`STEPS_PER_INST`] per
//! instruction), so a hostile nest of thousands of loops costs linear
//! time; real code, nested a few loops deep, never reaches it. Stopping
//! early leaves an instruction in a loop it could have left: slower, never
//! wrong.
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

/// How many loop levels per instruction of the function the hoisting
/// may move instructions through, in total (see the module docs).
const STEPS_PER_INST: usize = 4;

/// The function's natural loops.
struct Loops {
    /// Each loop's header, by loop number.
    headers: Vec<Block>,
    /// Each loop's enclosing loop.
    parents: Vec<Option<u32>>,
    /// The innermost loop of each block in a loop.
    innermost: SecondaryMap<Block, Option<u32>>,
    /// Each loop's preorder number in the loop tree, and the highest
    /// number in its subtree.
    pre: Vec<u32>,
    last: Vec<u32>,
}

impl Loops {
    /// Finds the loops (see the module docs).
    fn find(cfg: &ControlFlowGraph, domtree: &DominatorTree) -> Loops {
        let mut loops = Loops {
            headers: Vec::new(),
            parents: Vec::new(),
            innermost: SecondaryMap::default(),
            pre: Vec::new(),
            last: Vec::new(),
        };
        // The union-find forest: a block's representative is the header
        // of the outermost loop found so far that contains it.
        let mut up: SecondaryMap<Block, Option<Block>> = SecondaryMap::default();
        let find = |up: &mut SecondaryMap<Block, Option<Block>>, mut b: Block| {
            while let Some(parent) = up[b] {
                // Path halving.
                if let Some(grand) = up[parent] {
                    up[b] = Some(grand);
                }
                b = parent;
            }
            b
        };
        let mut stack = Vec::new();
        // Later headers first: a loop nested in another has its header
        // after the outer one's in reverse postorder.
        for &header in domtree.rpo().iter().rev() {
            stack.clear();
            stack.extend(
                cfg.preds(header)
                    .iter()
                    .map(|&(pred, _)| pred)
                    .filter(|&pred| domtree.block_dominates(header, pred)),
            );
            if stack.is_empty() {
                continue;
            }
            let number = loops.headers.len() as u32;
            loops.headers.push(header);
            loops.parents.push(None);
            loops.innermost[header] = Some(number);
            while let Some(block) = stack.pop() {
                let rep = find(&mut up, block);
                if rep == header {
                    continue;
                }
                match loops.innermost[rep] {
                    // The header of an inner loop: this loop encloses it.
                    Some(inner) if loops.headers[inner as usize] == rep => {
                        loops.parents[inner as usize] = Some(number);
                    }
                    _ => loops.innermost[rep] = Some(number),
                }
                up[rep] = Some(header);
                stack.extend(
                    cfg.preds(rep)
                        .iter()
                        .map(|&(pred, _)| pred)
                        .filter(|&pred| domtree.is_reachable(pred)),
                );
            }
        }
        // Number the loop tree in preorder (children as linked lists).
        let count = loops.headers.len();
        let mut first_child = vec![u32::MAX; count];
        let mut next_sibling = vec![u32::MAX; count];
        let mut roots = Vec::new();
        for l in (0..count).rev() {
            match loops.parents[l] {
                Some(p) => {
                    next_sibling[l] = first_child[p as usize];
                    first_child[p as usize] = l as u32;
                }
                None => roots.push(l as u32),
            }
        }
        loops.pre = vec![0; count];
        loops.last = vec![0; count];
        let mut counter = 0;
        let mut walk: Vec<(u32, bool)> = roots.into_iter().map(|r| (r, false)).collect();
        while let Some((l, done)) = walk.pop() {
            if done {
                loops.last[l as usize] = counter;
                continue;
            }
            counter += 1;
            loops.pre[l as usize] = counter;
            walk.push((l, true));
            let mut child = first_child[l as usize];
            while child != u32::MAX {
                walk.push((child, false));
                child = next_sibling[child as usize];
            }
        }
        loops
    }

    /// Whether `block` lies in loop `l` (or a loop inside it).
    fn contains(&self, l: u32, block: Block) -> bool {
        self.innermost[block].is_some_and(|inner| {
            let (l, inner) = (l as usize, inner as usize);
            self.pre[l] <= self.pre[inner] && self.pre[inner] <= self.last[l]
        })
    }

    /// The block ending in a `jump` to loop `l`'s header alone, if it is
    /// the header's only predecessor outside the loop.
    fn preheader(&self, func: &Function, cfg: &ControlFlowGraph, l: u32) -> Option<Block> {
        let header = self.headers[l as usize];
        let mut outside = cfg
            .preds(header)
            .iter()
            .filter(|&&(pred, _)| !self.contains(l, pred));
        let &(pred, branch) = outside.next()?;
        if outside.next().is_some() {
            return None;
        }
        matches!(func.dfg.inst(branch), InstructionData::Jump { .. }).then_some(pred)
    }
}

/// Hoists loop-invariant instructions (see the [module docs](self)).
pub fn hoist_loop_invariants(func: &mut Function, cfg: &ControlFlowGraph, domtree: &DominatorTree) {
    let loops = Loops::find(cfg, domtree);
    if loops.headers.is_empty() {
        return;
    }
    let preheaders: Vec<Option<Block>> = (0..loops.headers.len() as u32)
        .map(|l| loops.preheader(func, cfg, l))
        .collect();
    let mut budget = STEPS_PER_INST * func.dfg.num_insts();
    let mut operands = Vec::new();
    for &block in domtree.rpo() {
        let Some(innermost) = loops.innermost[block] else {
            continue;
        };
        // A cold block's instructions stay: they rarely run, and hoisted
        // they would run on every entry to the loop and hold a register
        // across it.
        if func.layout.is_cold(block) {
            continue;
        }
        let insts: Vec<Inst> = func.layout.block_insts(block).collect();
        for inst in insts {
            if !is_pure(func, inst) {
                continue;
            }
            operands.clear();
            func.dfg.for_each_inst_arg(inst, |v| {
                operands.push(match func.dfg.value_def(func.dfg.resolve_aliases(v)) {
                    ValueDef::Result(def, _) => func.layout.inst_block(def),
                    ValueDef::Param(block, _) => Some(block),
                    ValueDef::Alias(_) => None,
                })
            });
            // Out of loop after loop while invariant there.
            let mut target = None;
            let mut l = Some(innermost);
            while let Some(current) = l {
                if budget == 0
                    || operands
                        .iter()
                        .flatten()
                        .any(|&d| loops.contains(current, d))
                {
                    break;
                }
                budget -= 1;
                // A loop without a preheader is left for the one around
                // it, if that has one.
                l = match preheaders[current as usize] {
                    Some(preheader) => {
                        target = Some(preheader);
                        loops.innermost[preheader]
                    }
                    None => loops.parents[current as usize],
                };
            }
            if let Some(preheader) = target {
                let destination = func
                    .layout
                    .last_inst(preheader)
                    .expect("a block with a successor has a terminator");
                func.layout.remove_inst(inst);
                func.layout.insert_inst_before(inst, destination);
            }
        }
    }
}
