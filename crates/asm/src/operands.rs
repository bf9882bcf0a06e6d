//! The register-operand visitor: how an instruction tells the register
//! allocator what it reads, writes and clobbers, and how the allocator's
//! answer is written back into it.
//!
//! Every machine instruction implements `get_operands(&mut self, &mut impl
//! OperandVisitor)`, calling the visitor once per register mention, in a fixed
//! order. The same walk serves two purposes:
//!
//! * **collection** ([`OperandCollector`]): each mention becomes a regalloc2
//!   [`Operand`] (use or def, early or late, with its constraint: any
//!   register, a fixed register, or "reuse the register of input `i`" for
//!   x86's destructive two-operand forms); clobbers become a [`PRegSet`];
//! * **rewriting** ([`AllocationRewriter`]): regalloc2 returns one
//!   [`Allocation`] per operand in the same order, and the walk replaces each
//!   register by its allocation, leaving an instruction over physical
//!   registers that the assembler can encode.
//!
//! Invariants an instruction's `get_operands` keeps: the order of mentions
//! never depends on anything but the instruction's shape; a reuse constraint
//! `Reuse(i)` names the index `i` of a use made earlier in the same walk; a
//! register that is already physical is reported all the same (the collector
//! turns it into a fixed, non-allocatable operand, and the rewriter leaves it
//! alone).

use crate::reg::{PReg, PRegSet, Reg};
use regalloc2::{Allocation, Operand, OperandConstraint, OperandKind, OperandPos};

/// Receives an instruction's register mentions; see the [module docs](self).
pub trait OperandVisitor {
    /// One register mention with its regalloc2 constraint, kind and position.
    fn add_operand(
        &mut self,
        reg: &mut Reg,
        constraint: OperandConstraint,
        kind: OperandKind,
        pos: OperandPos,
    );

    /// Physical registers the instruction overwrites without naming them as
    /// operands (a call's caller-saved registers).
    fn add_clobbers(&mut self, regs: PRegSet);

    /// A read, at the start of the instruction, of any register.
    fn reg_use(&mut self, reg: &mut Reg) {
        self.add_operand(
            reg,
            OperandConstraint::Reg,
            OperandKind::Use,
            OperandPos::Early,
        );
    }

    /// A read that must stay valid until the instruction's end, so that no
    /// def may share its register (multi-instruction sequences).
    fn reg_late_use(&mut self, reg: &mut Reg) {
        self.add_operand(
            reg,
            OperandConstraint::Reg,
            OperandKind::Use,
            OperandPos::Late,
        );
    }

    /// A write, at the end of the instruction, of any register.
    fn reg_def(&mut self, reg: &mut Reg) {
        self.add_operand(
            reg,
            OperandConstraint::Reg,
            OperandKind::Def,
            OperandPos::Late,
        );
    }

    /// A write that may happen before all inputs are read, so that it must not
    /// share a register with any input (temporaries of sequences).
    fn reg_early_def(&mut self, reg: &mut Reg) {
        self.add_operand(
            reg,
            OperandConstraint::Reg,
            OperandKind::Def,
            OperandPos::Early,
        );
    }

    /// A write into the register of the use numbered `input` (x86's
    /// destructive forms: `add dst, src` reads and writes `dst`).
    fn reg_reuse_def(&mut self, reg: &mut Reg, input: usize) {
        self.add_operand(
            reg,
            OperandConstraint::Reuse(input),
            OperandKind::Def,
            OperandPos::Late,
        );
    }

    /// A read that must be in the physical register `preg`.
    fn reg_fixed_use(&mut self, reg: &mut Reg, preg: PReg) {
        self.add_operand(
            reg,
            OperandConstraint::FixedReg(preg),
            OperandKind::Use,
            OperandPos::Early,
        );
    }

    /// A read in `preg` that stays valid until the instruction's end.
    fn reg_fixed_late_use(&mut self, reg: &mut Reg, preg: PReg) {
        self.add_operand(
            reg,
            OperandConstraint::FixedReg(preg),
            OperandKind::Use,
            OperandPos::Late,
        );
    }

    /// A write that lands in the physical register `preg`.
    fn reg_fixed_def(&mut self, reg: &mut Reg, preg: PReg) {
        self.add_operand(
            reg,
            OperandConstraint::FixedReg(preg),
            OperandKind::Def,
            OperandPos::Late,
        );
    }
}

/// Collects an instruction's operands for regalloc2.
#[derive(Default, Debug)]
pub struct OperandCollector {
    /// The operands, in visit order.
    pub operands: Vec<Operand>,
    /// Everything the instruction clobbers.
    pub clobbers: PRegSet,
}

impl OperandCollector {
    /// An empty collector.
    pub fn new() -> Self {
        Self::default()
    }

    /// Forgets what was collected, keeping the allocation.
    pub fn clear(&mut self) {
        self.operands.clear();
        self.clobbers = PRegSet::empty();
    }
}

impl OperandVisitor for OperandCollector {
    fn add_operand(
        &mut self,
        reg: &mut Reg,
        constraint: OperandConstraint,
        kind: OperandKind,
        pos: OperandPos,
    ) {
        let operand = match reg.to_preg() {
            // A physical register already in the instruction is not the
            // allocator's to move: it is a fixed, non-allocatable mention.
            Some(preg) => Operand::fixed_nonallocatable(preg),
            None => Operand::new(reg.to_vreg(), constraint, kind, pos),
        };
        self.operands.push(operand);
    }

    fn add_clobbers(&mut self, regs: PRegSet) {
        self.clobbers.union_from(regs);
    }
}

/// Rewrites an instruction's registers with regalloc2's allocations (one per
/// operand, in visit order).
#[derive(Debug)]
pub struct AllocationRewriter<'a> {
    allocations: core::slice::Iter<'a, Allocation>,
}

impl<'a> AllocationRewriter<'a> {
    /// A rewriter that hands out `allocations` in order.
    pub fn new(allocations: &'a [Allocation]) -> Self {
        AllocationRewriter {
            allocations: allocations.iter(),
        }
    }

    /// Whether every allocation was consumed (the walk matched the
    /// collection walk).
    pub fn is_exhausted(&self) -> bool {
        self.allocations.len() == 0
    }
}

impl OperandVisitor for AllocationRewriter<'_> {
    fn add_operand(&mut self, reg: &mut Reg, _: OperandConstraint, _: OperandKind, _: OperandPos) {
        let allocation = self
            .allocations
            .next()
            .expect("an instruction's operand walk visited more registers than were allocated");
        if reg.is_virtual() {
            let preg = allocation.as_reg().unwrap_or_else(|| {
                panic!("{reg:?} was allocated {allocation}, but its operand requires a register")
            });
            *reg = Reg::from_preg(preg);
        }
    }

    fn add_clobbers(&mut self, _: PRegSet) {}
}
