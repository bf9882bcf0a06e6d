//! The layout: the order of blocks in the function and of instructions in
//! each block, as doubly linked lists threaded through secondary maps, so
//! that inserting and removing are O(1) and entities keep their numbers.

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
}

/// The layout of a function (see the module documentation in `ir/layout.rs`).
#[derive(Clone, Debug, Default)]
pub struct Layout {
    blocks: SecondaryMap<Block, BlockNode>,
    insts: SecondaryMap<Inst, InstNode>,
    first_block: Option<Block>,
    last_block: Option<Block>,
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
        self.insts[inst] = InstNode {
            block: Some(block),
            prev: last,
            next: None,
        };
        match last {
            Some(l) => self.insts[l].next = Some(inst),
            None => self.blocks[block].first_inst = Some(inst),
        }
        self.blocks[block].last_inst = Some(inst);
    }

    /// Inserts `inst` right before `before`.
    pub fn insert_inst_before(&mut self, inst: Inst, before: Inst) {
        assert!(
            self.insts[inst].block.is_none(),
            "{inst} is already laid out"
        );
        let block = self.insts[before].block.expect("the anchor is laid out");
        let prev = self.insts[before].prev;
        self.insts[inst] = InstNode {
            block: Some(block),
            prev,
            next: Some(before),
        };
        self.insts[before].prev = Some(inst);
        match prev {
            Some(p) => self.insts[p].next = Some(inst),
            None => self.blocks[block].first_inst = Some(inst),
        }
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
}
