//! The layout: the order of blocks in the function and of instructions in
//! each block, as doubly linked lists threaded through secondary maps, so
//! that inserting and removing are O(1) and entities keep their numbers.
//!
//! Each laid-out instruction also has a *sequence number*, increasing along
//! its block, so that "does `a` come before `b`" is one comparison
//! ([`Layout::inst_precedes`]) rather than a walk along the list (which
//! made value numbering quadratic in the length of a block). Appending
//! numbers an instruction [`SEQ_STRIDE`] past its predecessor; inserting
//! takes the midpoint of its neighbours' numbers and, when they are
//! adjacent, renumbers the instructions after it until the numbers make
//! room again ([`Layout::renumber_from`]). A renumbering that runs longer
//! than [`LOCAL_RENUMBER_LIMIT`] instructions renumbers the whole block
//! with the full stride instead, so that repeated insertions at one place
//! cost amortized O(1) each: after a whole-block renumbering, the next
//! `log2(SEQ_STRIDE)` insertions at one place find room, and a local
//! renumbering then stops at the first gap.

use super::entities::{Block, Inst};
use crate::entity::SecondaryMap;

#[derive(Copy, Clone, Debug, Default)]
struct BlockNode {
    inserted: bool,
    prev: Option<Block>,
    next: Option<Block>,
    first_inst: Option<Inst>,
    last_inst: Option<Inst>,
}

#[derive(Copy, Clone, Debug, Default)]
struct InstNode {
    block: Option<Block>,
    prev: Option<Inst>,
    next: Option<Inst>,
    /// Increasing along the block (see the module docs).
    seq: u32,
}

/// The distance between the sequence numbers of appended instructions.
const SEQ_STRIDE: u32 = 16;

/// How many instructions an insertion renumbers locally before it
/// renumbers the whole block instead.
const LOCAL_RENUMBER_LIMIT: usize = 64;

/// The layout of a function (see the module documentation in `ir/layout.rs`).
#[derive(Clone, Debug, Default)]
pub struct Layout {
    blocks: SecondaryMap<Block, BlockNode>,
    insts: SecondaryMap<Inst, InstNode>,
    first_block: Option<Block>,
    last_block: Option<Block>,
    /// Blocks marked cold (rarely run): the backend lays them out after
    /// the others.
    cold: SecondaryMap<Block, bool>,
}

impl Layout {
    /// An empty layout.
    pub fn new() -> Self {
        Layout::default()
    }

    /// The entry block: the first in the layout.
    pub fn entry_block(&self) -> Option<Block> {
        self.first_block
    }

    /// Whether `block` is in the layout.
    pub fn is_block_inserted(&self, block: Block) -> bool {
        self.blocks[block].inserted
    }

    /// Marks `block` as rarely run, so that the backend places it out of
    /// line, after the function's other code (it need not be laid out
    /// yet).
    pub fn set_cold(&mut self, block: Block) {
        self.cold[block] = true;
    }

    /// Whether `block` is marked cold.
    pub fn is_cold(&self, block: Block) -> bool {
        self.cold[block]
    }

    /// Appends `block` at the end of the function.
    pub fn append_block(&mut self, block: Block) {
        assert!(
            !self.is_block_inserted(block),
            "{block} is already laid out"
        );
        self.blocks[block] = BlockNode {
            inserted: true,
            prev: self.last_block,
            ..BlockNode::default()
        };
        match self.last_block {
            Some(last) => self.blocks[last].next = Some(block),
            None => self.first_block = Some(block),
        }
        self.last_block = Some(block);
    }

    /// Inserts `block` right after `after`.
    pub fn insert_block_after(&mut self, block: Block, after: Block) {
        assert!(
            !self.is_block_inserted(block),
            "{block} is already laid out"
        );
        assert!(self.is_block_inserted(after), "{after} is not laid out");
        let next = self.blocks[after].next;
        self.blocks[block] = BlockNode {
            inserted: true,
            prev: Some(after),
            next,
            ..BlockNode::default()
        };
        self.blocks[after].next = Some(block);
        match next {
            Some(n) => self.blocks[n].prev = Some(block),
            None => self.last_block = Some(block),
        }
    }

    /// Removes an empty `block` from the layout.
    pub fn remove_block(&mut self, block: Block) {
        let node = self.blocks[block];
        assert!(node.inserted, "{block} is not laid out");
        assert!(node.first_inst.is_none(), "{block} still has instructions");
        match node.prev {
            Some(p) => self.blocks[p].next = node.next,
            None => self.first_block = node.next,
        }
        match node.next {
            Some(n) => self.blocks[n].prev = node.prev,
            None => self.last_block = node.prev,
        }
        self.blocks[block] = BlockNode::default();
    }

    /// The blocks, in order.
    pub fn blocks(&self) -> impl Iterator<Item = Block> + '_ {
        core::iter::successors(self.first_block, |&b| self.blocks[b].next)
    }

    /// The block after `block`.
    pub fn next_block(&self, block: Block) -> Option<Block> {
        self.blocks[block].next
    }

    /// The block before `block`.
    pub fn prev_block(&self, block: Block) -> Option<Block> {
        self.blocks[block].prev
    }

    /// Appends `inst` at the end of `block`.
    pub fn append_inst(&mut self, inst: Inst, block: Block) {
        assert!(self.is_block_inserted(block), "{block} is not laid out");
        assert!(
            self.insts[inst].block.is_none(),
            "{inst} is already laid out"
        );
        let last = self.blocks[block].last_inst;
        let last_seq = last.map_or(0, |l| self.insts[l].seq);
        self.insts[inst] = InstNode {
            block: Some(block),
            prev: last,
            next: None,
            seq: last_seq.saturating_add(SEQ_STRIDE),
        };
        match last {
            Some(l) => self.insts[l].next = Some(inst),
            None => self.blocks[block].first_inst = Some(inst),
        }
        self.blocks[block].last_inst = Some(inst);
        if last_seq > u32::MAX - SEQ_STRIDE {
            self.renumber_block(block);
        }
    }

    /// Inserts `inst` right before `before`.
    pub fn insert_inst_before(&mut self, inst: Inst, before: Inst) {
        assert!(
            self.insts[inst].block.is_none(),
            "{inst} is already laid out"
        );
        let block = self.insts[before].block.expect("the anchor is laid out");
        let prev = self.insts[before].prev;
        let low = prev.map_or(0, |p| self.insts[p].seq);
        let high = self.insts[before].seq;
        self.insts[inst] = InstNode {
            block: Some(block),
            prev,
            next: Some(before),
            seq: low + (high - low) / 2,
        };
        self.insts[before].prev = Some(inst);
        match prev {
            Some(p) => self.insts[p].next = Some(inst),
            None => self.blocks[block].first_inst = Some(inst),
        }
        if high - low < 2 {
            self.renumber_from(inst, low);
        }
    }

    /// Gives `inst` and the instructions after it numbers above `low`,
    /// each at least one above the one before, stopping at the first that
    /// already is; the whole block if that takes too long.
    fn renumber_from(&mut self, inst: Inst, low: u32) {
        let mut seq = low;
        let mut cursor = Some(inst);
        for _ in 0..LOCAL_RENUMBER_LIMIT {
            let Some(i) = cursor else {
                return;
            };
            if self.insts[i].seq > seq && i != inst {
                return;
            }
            let Some(next_seq) = seq.checked_add(2) else {
                break;
            };
            seq = next_seq;
            self.insts[i].seq = seq;
            cursor = self.insts[i].next;
        }
        if cursor.is_some() {
            let block = self.insts[inst].block.expect("laid out");
            self.renumber_block(block);
        }
    }

    /// Numbers `block`'s instructions [`SEQ_STRIDE`] apart (tighter if
    /// the block is too long for that stride).
    fn renumber_block(&mut self, block: Block) {
        let count = self.block_insts(block).count() as u64;
        let stride = (u64::from(u32::MAX) / (count + 1)).clamp(1, SEQ_STRIDE.into()) as u32;
        let mut seq = 0u32;
        let mut cursor = self.blocks[block].first_inst;
        while let Some(i) = cursor {
            seq += stride;
            self.insts[i].seq = seq;
            cursor = self.insts[i].next;
        }
    }

    /// Whether `a` comes before `b`; both must be laid out in the same
    /// block. O(1), by sequence number.
    pub fn inst_precedes(&self, a: Inst, b: Inst) -> bool {
        debug_assert_eq!(self.insts[a].block, self.insts[b].block);
        debug_assert!(self.insts[a].block.is_some());
        self.insts[a].seq < self.insts[b].seq
    }

    /// Removes `inst` from the layout.
    pub fn remove_inst(&mut self, inst: Inst) {
        let node = self.insts[inst];
        let block = node.block.expect("removing an instruction not laid out");
        match node.prev {
            Some(p) => self.insts[p].next = node.next,
            None => self.blocks[block].first_inst = node.next,
        }
        match node.next {
            Some(n) => self.insts[n].prev = node.prev,
            None => self.blocks[block].last_inst = node.prev,
        }
        self.insts[inst] = InstNode::default();
    }

    /// The block `inst` is in.
    pub fn inst_block(&self, inst: Inst) -> Option<Block> {
        self.insts[inst].block
    }

    /// The instructions of `block`, in order.
    pub fn block_insts(&self, block: Block) -> impl DoubleEndedIterator<Item = Inst> + '_ {
        BlockInsts {
            layout: self,
            front: self.blocks[block].first_inst,
            back: self.blocks[block].last_inst,
        }
    }

    /// The first instruction of `block`.
    pub fn first_inst(&self, block: Block) -> Option<Inst> {
        self.blocks[block].first_inst
    }

    /// The last instruction of `block` (its terminator, once complete).
    pub fn last_inst(&self, block: Block) -> Option<Inst> {
        self.blocks[block].last_inst
    }

    /// The instruction after `inst` in its block.
    pub fn next_inst(&self, inst: Inst) -> Option<Inst> {
        self.insts[inst].next
    }

    /// The instruction before `inst` in its block.
    pub fn prev_inst(&self, inst: Inst) -> Option<Inst> {
        self.insts[inst].prev
    }
}

/// Iterates a block's instructions from both ends.
struct BlockInsts<'a> {
    layout: &'a Layout,
    front: Option<Inst>,
    back: Option<Inst>,
}

impl Iterator for BlockInsts<'_> {
    type Item = Inst;
    fn next(&mut self) -> Option<Inst> {
        let inst = self.front?;
        if Some(inst) == self.back {
            self.front = None;
            self.back = None;
        } else {
            self.front = self.layout.insts[inst].next;
        }
        Some(inst)
    }
}

impl DoubleEndedIterator for BlockInsts<'_> {
    fn next_back(&mut self) -> Option<Inst> {
        let inst = self.back?;
        if Some(inst) == self.front {
            self.front = None;
            self.back = None;
        } else {
            self.back = self.layout.insts[inst].prev;
        }
        Some(inst)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::entity::EntityRef;

    #[test]
    fn blocks_and_instructions_keep_their_order_through_edits() {
        let mut layout = Layout::new();
        let (b0, b1, b2) = (Block::new(0), Block::new(1), Block::new(2));
        layout.append_block(b0);
        layout.append_block(b2);
        layout.insert_block_after(b1, b0);
        assert_eq!(layout.blocks().collect::<Vec<_>>(), [b0, b1, b2]);
        let i = |n| Inst::new(n);
        layout.append_inst(i(0), b1);
        layout.append_inst(i(2), b1);
        layout.insert_inst_before(i(1), i(2));
        assert_eq!(
            layout.block_insts(b1).collect::<Vec<_>>(),
            [i(0), i(1), i(2)]
        );
        assert_eq!(
            layout.block_insts(b1).rev().collect::<Vec<_>>(),
            [i(2), i(1), i(0)]
        );
        layout.remove_inst(i(1));
        assert_eq!(layout.block_insts(b1).collect::<Vec<_>>(), [i(0), i(2)]);
        assert_eq!(layout.inst_block(i(2)), Some(b1));
        assert_eq!(layout.inst_block(i(1)), None);
        layout.remove_block(b2);
        assert_eq!(layout.blocks().collect::<Vec<_>>(), [b0, b1]);
    }

    /// Insertions at one place exhaust the gaps between sequence numbers
    /// again and again; the order stays the list's order.
    #[test]
    fn sequence_numbers_follow_the_order_through_repeated_insertions() {
        let mut layout = Layout::new();
        let b0 = Block::new(0);
        layout.append_block(b0);
        let i = |n| Inst::new(n);
        for n in 0..200 {
            layout.append_inst(i(n), b0);
        }
        // 1000 insertions right after i(10), each before the last one
        // inserted, and 1000 at the front.
        let mut anchor = i(11);
        for n in 200..1200 {
            layout.insert_inst_before(i(n), anchor);
            anchor = i(n);
        }
        let mut first = i(0);
        for n in 1200..2200 {
            layout.insert_inst_before(i(n), first);
            first = i(n);
        }
        let order: Vec<Inst> = layout.block_insts(b0).collect();
        assert_eq!(order.len(), 2200);
        for pair in order.windows(2) {
            assert!(layout.inst_precedes(pair[0], pair[1]), "{pair:?}");
            assert!(!layout.inst_precedes(pair[1], pair[0]), "{pair:?}");
        }
        assert!(layout.inst_precedes(order[0], order[2199]));
    }
}
