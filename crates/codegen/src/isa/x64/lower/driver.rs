//! The lowering driver: which IR instruction is lowered when and where,
//! and into which VCode block.
//!
//! # Order and block layout
//!
//! Blocks are lowered in reverse postorder, so every value's definition is
//! lowered before its uses (definitions dominate uses, and a dominator comes
//! first in RPO): a value's register is known when a use needs it, without
//! renaming. Unreachable blocks are not lowered. Blocks marked cold (a
//! slow path such as a runtime call that rarely happens), and what only
//! they lead to, are moved after the others, still each after its
//! dominators, so the hot path falls through them without a jump.
//!
//! regalloc2 wants no critical edges, and lets only a block with one
//! successor pass arguments. So each edge out of a `brif` goes through an
//! *edge block* of its own, holding just `jmp target(args)`, laid out right
//! after the branching block. Most edge blocks are empty jumps the
//! MachBuffer's branch simplification removes.
//!
//! # What instructions become
//!
//! Value instructions go through the ISLE `lower` term. Terminators are
//! lowered here: `jump`, `brif` (fused with an `icmp` that has no other use:
//! `cmp; jcc`, `Lower::sink_brif_compare`), `br_table`, `return` (results
//! where `abi` puts them), `trap` (`ud2`). Calls and the entry's arguments
//! are `abi`'s; `stack_load`, `stack_store` and `stack_addr` are lowered
//! here, where the stack slots are placed (below the saved `rbp`). An
//! instruction no rule covers yet is [`CodegenError::Unsupported`], naming
//! it.
//!
//! # Deferral
//!
//! Most instructions are lowered where they stand, in program order. Two
//! kinds wait (`Lower::deferred`) for a use, which lowers them on demand
//! (`Lower::reg`) unless it folds them (`fold`):
//!
//! - a pure definition the folding policy may fold into every one of its
//!   uses (`Lower::worth_deferring`), when all its uses are in its block;
//! - a load whose uses are all in its block: it is lowered at its first
//!   use at the latest, and before whatever it may not move past
//!   (`Lower::flush_loads`; the rules are `fold::has_effects` and
//!   `fold::stops_loads`).
//!
//! A deferred value is only ever lowered in its own block: its uses are
//! there, and terminators, whose branch arguments are passed in edge
//! blocks, materialize their deferred operands before the branch
//! (`Lower::prepare_operands`).
//!
//! Constants are not lowered where they stand either: each block that
//! needs one in a register materializes it there, once.

use super::fold::{self, Fold};
use super::{Lower, class_of, generated, is_constant};
use crate::CodegenError;
use crate::dominator_tree::DominatorTree;
use crate::entity::SecondaryMap;
use crate::flowgraph::ControlFlowGraph;
use crate::ir::{self, Function, Inst, InstructionData, Opcode, Type, Value, ValueDef};
use crate::isa::x64::CompileOptions;
use crate::machinst::{VCode, VInst};
use cranelift_asm::reg::{Reg, RegClass, Writable};
use cranelift_asm::x64::inst::{Amode, ExtMode, GprImm, GprMem, GprMemImm, SseMovOp, XmmReg};
use cranelift_asm::x64::{Assembler, CC, Gpr, GprReg, JumpTableTargets, MInst, OperandSize};

/// The operand size of an integer type (8 and 16 bits work on 32).
fn size_of_type(ty: Type) -> OperandSize {
    if ty.bits() == 64 {
        OperandSize::S64
    } else {
        OperandSize::S32
    }
}

/// The VCode block of each IR block, and the edge blocks of each branch.
struct BlockPlan {
    main: SecondaryMap<ir::Block, Option<regalloc2::Block>>,
    /// `(ir block, successor index) -> edge block`, for branches with
    /// several successors.
    edges: std::collections::HashMap<(ir::Block, usize), regalloc2::Block>,
    /// In layout order: the IR block, and for an edge block its successor
    /// index.
    order: Vec<(ir::Block, Option<usize>)>,
}

/// The order the blocks are lowered and laid out in: reverse postorder,
/// except that cold blocks (`Layout::is_cold`) and the blocks they
/// dominate go last, in reverse postorder among themselves. Each block
/// still comes after its dominators (a moved block's dominators are
/// either not moved, so earlier, or moved and earlier in RPO; an unmoved
/// block's are all unmoved), so definitions are still lowered before
/// their uses.
/// Also returns how many blocks are hot (the rest are out of line).
fn layout_order(func: &Function, domtree: &DominatorTree) -> (Vec<ir::Block>, usize) {
    let mut moved: SecondaryMap<ir::Block, bool> = SecondaryMap::default();
    let (mut hot, mut cold) = (Vec::new(), Vec::new());
    for &block in domtree.rpo() {
        let out_of_line =
            func.layout.is_cold(block) || domtree.idom(block).is_some_and(|idom| moved[idom]);
        if out_of_line {
            moved[block] = true;
            cold.push(block);
        } else {
            hot.push(block);
        }
    }
    let hot_blocks = hot.len();
    hot.extend(cold);
    (hot, hot_blocks)
}

/// Lowers `func` (which must verify) to VCode.
pub fn lower_function(func: &Function, options: &CompileOptions) -> Result<VCode, CodegenError> {
    let cfg = ControlFlowGraph::with_function(func);
    let domtree = DominatorTree::with_function(func, &cfg);
    let mut lower = Lower {
        func,
        vcode: VCode::new(Assembler::new(options.features)),
        traps: options.traps,
        regs: SecondaryMap::with_default(None),
        uses: SecondaryMap::default(),
        user: SecondaryMap::with_default(None),
        escapes: SecondaryMap::default(),
        unfoldable_use: SecondaryMap::default(),
        position: SecondaryMap::default(),
        sunk: SecondaryMap::default(),
        deferred: SecondaryMap::default(),
        pending_loads: Vec::new(),
        constants: SecondaryMap::with_default(None),
        serial: 0,
        current: None,
        error: None,
        slot_disp: SecondaryMap::default(),
    };
    // Stack slots right below the saved rbp (16-aligned), each at its
    // alignment (at most 16).
    let mut end = 0u32;
    let mut placed = Vec::new();
    for (slot, data) in func.stack_slots.iter() {
        let align = 1u32 << data.align_shift.min(4);
        let offset = end.next_multiple_of(align);
        end = offset
            .checked_add(data.size)
            .ok_or(CodegenError::FrameTooLarge)?;
        placed.push((slot, offset));
    }
    let area = end.next_multiple_of(16);
    if area > i32::MAX as u32 / 2 {
        return Err(CodegenError::FrameTooLarge);
    }
    for (slot, offset) in placed {
        lower.slot_disp[slot] = offset as i32 - area as i32;
    }
    lower.vcode.reserve_stack_slots(area);
    let mut position = 0;
    for &block in domtree.rpo() {
        for inst in func.layout.block_insts(block) {
            lower.position[inst] = position;
            position += 1;
            let mut operand = 0;
            func.dfg.for_each_inst_arg(inst, |v| {
                let v = func.dfg.resolve_aliases(v);
                lower.uses[v] += 1;
                lower.user[v] = Some(inst);
                let def_block = match func.dfg.value_def(v) {
                    ValueDef::Result(def, _) => {
                        let folds = Fold::of(&func.dfg, def)
                            .is_some_and(|fold| fold::folds_into(&func.dfg, inst, operand, fold));
                        lower.unfoldable_use[v] |= !folds;
                        func.layout.inst_block(def)
                    }
                    ValueDef::Param(b, _) => Some(b),
                    ValueDef::Alias(_) => None,
                };
                operand += 1;
                if def_block != Some(block) {
                    lower.escapes[v] = true;
                }
            });
        }
    }
    // Plan the VCode blocks: each IR block in RPO, followed by its edge
    // blocks; cold ones last.
    let mut plan = BlockPlan {
        main: SecondaryMap::with_default(None),
        edges: Default::default(),
        order: Vec::new(),
    };
    let (order, hot_blocks) = layout_order(func, &domtree);
    for (i, block) in order.into_iter().enumerate() {
        if i == hot_blocks {
            lower.vcode.start_out_of_line_blocks();
        }
        let params: Vec<Reg> = if Some(block) == func.layout.entry_block() {
            Vec::new()
        } else {
            func.dfg
                .block_params(block)
                .iter()
                .map(|&v| {
                    let reg = lower.vcode.vreg(class_of(func.dfg.value_type(v)));
                    lower.regs[v] = Some(reg);
                    reg
                })
                .collect()
        };
        plan.main[block] = Some(lower.vcode.new_block(params));
        plan.order.push((block, None));
        let last = func
            .layout
            .last_inst(block)
            .expect("a verified block is not empty");
        let succs = func.dfg.branch_destinations(last);
        if succs.len() > 1 {
            for i in 0..succs.len() {
                plan.edges
                    .insert((block, i), lower.vcode.new_block(Vec::new()));
                plan.order.push((block, Some(i)));
            }
        }
    }
    for &(block, edge) in &plan.order.clone() {
        match edge {
            None => lower.lower_block(block, &plan)?,
            Some(i) => {
                let vblock = plan.edges[&(block, i)];
                lower.vcode.start_block(vblock);
                lower.serial += 1;
                let last = func.layout.last_inst(block).expect("not empty");
                let call = func.dfg.branch_destinations(last)[i];
                lower.jump_to(&plan, call);
            }
        }
    }
    Ok(lower.vcode)
}

impl Lower<'_> {
    /// The register holding `v`, lowering its deferred definition (or
    /// materializing its constant in this block) on the first demand.
    pub(super) fn reg(&mut self, v: Value) -> Reg {
        let v = self.func.dfg.resolve_aliases(v);
        if let Some(reg) = self.regs[v] {
            return reg;
        }
        let ValueDef::Result(inst, _) = self.func.dfg.value_def(v) else {
            panic!("{v} used before it was lowered")
        };
        if is_constant(self.func.dfg.inst(inst).opcode()) {
            if let Some((serial, reg)) = self.constants[v]
                && serial == self.serial
            {
                return reg;
            }
            let reg = self.lower_inst(inst)[0];
            self.constants[v] = Some((self.serial, reg));
            return reg;
        }
        assert!(self.deferred[inst], "{v} used before it was lowered");
        self.materialize(inst);
        self.regs[v].expect("a materialized value has a register")
    }

    pub(super) fn gpr(&mut self, v: Value) -> GprReg {
        GprReg::new(self.reg(v)).expect("an integer value in a GPR")
    }

    /// Lowers `inst` through the ISLE rules and returns its results'
    /// registers. A failure is kept in [`Lower::error`] (materializing has
    /// no way to return it) and answered with fresh registers.
    fn lower_inst(&mut self, inst: Inst) -> Vec<Reg> {
        let outer = self.current.replace(inst);
        // A deferred instruction lowered at its use keeps its own wasm
        // offset.
        let outer_srcloc = self.vcode.srcloc();
        self.vcode.set_srcloc(self.func.srclocs[inst]);
        let output = match self.lower_stack_access(inst) {
            Ok(Some(output)) => Some(output),
            Ok(None) => generated::constructor_lower(self, inst),
            Err(error) => {
                self.error.get_or_insert(error);
                None
            }
        };
        self.vcode.set_srcloc(outer_srcloc);
        self.current = outer;
        output.unwrap_or_else(|| {
            let func = self.func;
            let results = func.dfg.inst_results(inst);
            if self.error.is_none() {
                self.error = Some(CodegenError::Unsupported(format!(
                    "lowering `{}` of {:?}",
                    func.dfg.inst(inst).opcode().name(),
                    results.first().map(|&v| func.dfg.value_type(v))
                )));
            }
            results
                .iter()
                .map(|&v| self.vcode.vreg(class_of(func.dfg.value_type(v))))
                .collect()
        })
    }

    /// Lowers the deferred `inst` here: its operands first, then itself.
    fn materialize(&mut self, inst: Inst) {
        self.deferred[inst] = false;
        self.prepare_operands(inst);
        let output = self.lower_inst(inst);
        for (&v, reg) in self.func.dfg.inst_results(inst).iter().zip(output) {
            self.regs[v] = Some(reg);
        }
    }

    /// Materializes `inst`'s deferred operands before its rule runs, so
    /// that nothing but constants and loads (a flag-preserving `mov`) is
    /// emitted in the middle of the rule's sequence. Left to the rule: the
    /// deferred definitions at a site of theirs in `inst` (`fold`: the
    /// rule folds them, and asks before emitting anything), and deferred
    /// loads, whose address parts are materialized here instead (the rule
    /// folds the load or lowers it on demand). The address of a load or
    /// store is folded into its address mode here, which materializes the
    /// mode's parts.
    fn prepare_operands(&mut self, inst: Inst) {
        let func = self.func;
        let data = *func.dfg.inst(inst);
        let address = match data {
            InstructionData::Load { arg, .. } => Some(arg),
            InstructionData::Store { args, .. } => Some(args[1]),
            _ => None,
        };
        let mut args = Vec::new();
        func.dfg
            .for_each_inst_arg(inst, |v| args.push(func.dfg.resolve_aliases(v)));
        for (operand, v) in args.into_iter().enumerate() {
            let ValueDef::Result(def, _) = func.dfg.value_def(v) else {
                continue;
            };
            let def_opcode = func.dfg.inst(def).opcode();
            if self.regs[v].is_some() || !self.deferred[def] || is_constant(def_opcode) {
                continue;
            }
            if data.opcode().is_terminator() {
                // A branch argument is passed in an edge block after this
                // one (`brif`, `br_table`): lowered there, a deferred
                // value would be defined in one edge and used in another.
                // Nothing folds into a branch argument: lower it whole.
                self.materialize(def);
                continue;
            }
            let fold = Fold::of(&func.dfg, def)
                .filter(|&fold| fold::folds_into(&func.dfg, inst, operand, fold));
            match fold {
                Some(Fold::ScaledIndex | Fold::Compare) => {}
                Some(Fold::Sum) if Some(v) != address => {}
                _ if Some(v) == address => {
                    self.address(v, 0);
                }
                _ => {
                    if let InstructionData::Load { arg, offset, .. } = *func.dfg.inst(def) {
                        self.address(arg, offset);
                    } else {
                        self.materialize(def);
                    }
                }
            }
        }
    }

    /// Lowers the deferred loads still pending that may not move past
    /// `before`, an instruction with effects (`fold::has_effects`): all of
    /// them before a store, a call or a terminator (`fold::stops_loads`),
    /// and the ones that may trap before another instruction that may. A load `before` itself uses stays pending
    /// (it may fold into it); so do `readonly` loads that cannot trap, and
    /// loads nothing uses that cannot trap (dropped).
    fn flush_loads(&mut self, before: Inst) {
        let opcode = self.func.dfg.inst(before).opcode();
        let barrier = fold::stops_loads(opcode);
        for load in std::mem::take(&mut self.pending_loads) {
            if !self.deferred[load] {
                continue;
            }
            let result = self.func.dfg.first_result(load);
            let traps = fold::has_effects(&self.func.dfg, load);
            if self.uses[result] == 0 && !traps {
                continue;
            }
            if let InstructionData::Load { flags, .. } = self.func.dfg.inst(load)
                && flags.readonly()
                && !traps
            {
                // Nothing writes what it reads: it may move anywhere.
                self.pending_loads.push(load);
                continue;
            }
            let user = self.user[result];
            // A load that cannot trap, used by the compare sunk into the
            // `brif` ending the block, waits for it: it may fold into the
            // `cmp` (`lower_terminator`).
            let compared_here =
                opcode == Opcode::Brif && !traps && user.is_some_and(|user| self.sunk[user]);
            let used_here = (user == Some(before) && !opcode.is_terminator()) || compared_here;
            if used_here || !(barrier || traps) {
                self.pending_loads.push(load);
            } else if let Some(user) = user
                && self.deferred[user]
                && self.position[user] < self.position[before]
            {
                // Lower its deferred user now, which may fold it.
                self.materialize(user);
                if self.deferred[load] {
                    self.materialize(load);
                }
            } else {
                self.materialize(load);
            }
        }
    }

    fn lower_block(&mut self, block: ir::Block, plan: &BlockPlan) -> Result<(), CodegenError> {
        let func = self.func;
        self.vcode.start_block(plan.main[block].expect("planned"));
        self.serial += 1;
        if Some(block) == func.layout.entry_block() {
            self.lower_args(block)?;
        }
        self.sink_brif_compare(block);
        for inst in func.layout.block_insts(block) {
            if self.sunk[inst] {
                continue;
            }
            self.vcode.set_srcloc(func.srclocs[inst]);
            let data = *func.dfg.inst(inst);
            let opcode = data.opcode();
            let results = func.dfg.inst_results(inst);
            if is_constant(opcode) {
                // Materialized where it is needed (`Lower::reg`).
                continue;
            }
            let effects = fold::has_effects(&func.dfg, inst);
            let local = !results.is_empty() && results.iter().all(|&v| !self.escapes[v]);
            if local && matches!(data, InstructionData::Load { .. }) {
                // Kept in order with effects by `flush_loads`.
                self.deferred[inst] = true;
                self.pending_loads.push(inst);
                continue;
            }
            if local && !effects && !opcode.can_load() && self.worth_deferring(inst) {
                self.deferred[inst] = true;
                continue;
            }
            let used = results.iter().any(|&v| self.uses[v] > 0);
            if !used && !effects {
                continue;
            }
            if effects {
                self.flush_loads(inst);
            }
            self.prepare_operands(inst);
            self.current = Some(inst);
            if opcode.is_terminator() {
                self.lower_terminator(inst, plan)?;
                continue;
            }
            if matches!(
                data,
                InstructionData::Call { .. } | InstructionData::CallIndirect { .. }
            ) {
                self.lower_call_inst(inst)?;
            } else {
                let output = self.lower_inst(inst);
                for (&v, reg) in results.iter().zip(output) {
                    self.regs[v] = Some(reg);
                }
            }
            if let Some(error) = self.error.take() {
                return Err(error);
            }
        }
        // The terminator flushed every load but `readonly` ones that cannot
        // trap, which stay deferred: whatever still needs them lowered
        // them already.
        self.pending_loads.clear();
        self.error.take().map_or(Ok(()), Err)
    }

    /// `stack_load`, `stack_store` and `stack_addr` (their slots' places
    /// are the lowering's, not the rules'); `None` for anything else.
    fn lower_stack_access(&mut self, inst: Inst) -> Result<Option<Vec<Reg>>, CodegenError> {
        let func = self.func;
        match *func.dfg.inst(inst) {
            InstructionData::StackLoad {
                opcode,
                slot,
                offset,
            } => {
                let addr = self.stack_amode(slot, offset)?;
                let ty = func.dfg.value_type(func.dfg.first_result(inst));
                let reg = self.vcode.vreg(class_of(ty));
                if opcode == Opcode::StackAddr {
                    let dst = Writable::from_reg(GprReg::new(reg).expect("an integer vreg"));
                    self.vcode.push(VInst::Machine(MInst::Lea {
                        size: OperandSize::S64,
                        addr,
                        dst,
                    }));
                } else {
                    self.load(reg, ty, addr);
                }
                Ok(Some(vec![reg]))
            }
            InstructionData::StackStore {
                arg, slot, offset, ..
            } => {
                let addr = self.stack_amode(slot, offset)?;
                let ty = func.dfg.value_type(arg);
                let reg = self.reg(arg);
                self.store(reg, ty, addr);
                Ok(Some(Vec::new()))
            }
            _ => Ok(None),
        }
    }

    /// `[rbp + slot's displacement + offset]`.
    fn stack_amode(&self, slot: ir::StackSlot, offset: i32) -> Result<Amode, CodegenError> {
        let disp = self.slot_disp[slot]
            .checked_add(offset)
            .ok_or(CodegenError::FrameTooLarge)?;
        Ok(Amode::base(GprReg::from(Gpr::RBP), disp))
    }

    /// `reg = [addr]`, a whole value of type `ty` (a narrow one
    /// zero-extended).
    pub(super) fn load(&mut self, reg: Reg, ty: Type, addr: Amode) {
        let dst = |reg: Reg| Writable::from_reg(GprReg::new(reg).expect("an integer vreg"));
        let inst = match class_of(ty) {
            RegClass::Int if ty.bits() < 32 => MInst::Movzx {
                mode: if ty.bits() == 8 {
                    ExtMode::BL
                } else {
                    ExtMode::WL
                },
                src: GprMem::Mem(addr),
                dst: dst(reg),
            },
            RegClass::Int => MInst::MovRM {
                size: size_of_type(ty),
                src: addr,
                dst: dst(reg),
            },
            _ => MInst::XmmLoad {
                op: xmm_mov_op(ty),
                src: addr,
                dst: Writable::from_reg(XmmReg::new(reg).expect("a float vreg")),
            },
        };
        self.vcode.push(VInst::Machine(inst));
    }

    /// `[addr] = reg`, a whole value of type `ty` (a narrow one its width).
    pub(super) fn store(&mut self, reg: Reg, ty: Type, addr: Amode) {
        let inst = match class_of(ty) {
            RegClass::Int => MInst::MovMR {
                size: match ty.bits() {
                    8 => OperandSize::S8,
                    16 => OperandSize::S16,
                    _ => size_of_type(ty),
                },
                src: GprReg::new(reg).expect("an integer vreg"),
                dst: addr,
            },
            _ => MInst::XmmStore {
                op: xmm_mov_op(ty),
                src: XmmReg::new(reg).expect("a float vreg"),
                dst: addr,
            },
        };
        self.vcode.push(VInst::Machine(inst));
    }

    fn jump_to(&mut self, plan: &BlockPlan, call: ir::BlockCall) {
        let target = plan.main[call.block].expect("a reachable target is planned");
        let args: Vec<Reg> = call
            .args
            .as_slice(&self.func.dfg.value_lists)
            .iter()
            .map(|&v| self.reg(v))
            .collect();
        let label = self.vcode.label(target);
        self.vcode
            .branch(MInst::Jmp { target: label }, &[(target, args)]);
    }

    fn lower_terminator(&mut self, inst: Inst, plan: &BlockPlan) -> Result<(), CodegenError> {
        let func = self.func;
        let block = func.layout.inst_block(inst).expect("laid out");
        match *func.dfg.inst(inst) {
            InstructionData::Jump { dest, .. } => self.jump_to(plan, dest),
            InstructionData::Brif { arg, .. } => {
                let (then_edge, else_edge) = (plan.edges[&(block, 0)], plan.edges[&(block, 1)]);
                // Skip the sunk extensions to the sunk comparison.
                let mut arg = func.dfg.resolve_aliases(arg);
                while let ValueDef::Result(def, _) = func.dfg.value_def(arg)
                    && self.sunk[def]
                    && let InstructionData::Unary { arg: inner, .. } = *func.dfg.inst(def)
                {
                    arg = func.dfg.resolve_aliases(inner);
                }
                let cc = match func.dfg.value_def(arg) {
                    ValueDef::Result(def, _) if self.sunk[def] => {
                        let InstructionData::IntCompare { cond, args, .. } = *func.dfg.inst(def)
                        else {
                            unreachable!("only icmps are sunk")
                        };
                        let size = match func.dfg.value_type(args[0]) {
                            Type::I64 => OperandSize::S64,
                            _ => OperandSize::S32,
                        };
                        // The second operand may be an immediate or, if
                        // it is a load that cannot trap left waiting for
                        // the branch (`flush_loads`), the memory operand.
                        let rhs = match self.branch_foldable_load(def, args[1]) {
                            Some(load) => GprMemImm::Mem(generated::Context::sink_load(self, load)),
                            None => generated::Context::simm32_operand(self, args[1])
                                .unwrap_or_else(|| GprMemImm::Gpr(self.gpr(args[1]))),
                        };
                        let lhs = self.gpr(args[0]);
                        // `test x, x` sets the flags `cmp x, 0` does (CF
                        // and OF clear), one byte shorter.
                        let inst = match rhs {
                            GprMemImm::Imm(0) => MInst::Test {
                                size,
                                lhs: GprMem::Gpr(lhs),
                                rhs: GprImm::Gpr(lhs),
                            },
                            rhs => MInst::Cmp { size, lhs, rhs },
                        };
                        self.vcode.push(VInst::Machine(inst));
                        generated::constructor_cc_of(self, &cond)
                    }
                    _ => {
                        let size = match func.dfg.value_type(arg) {
                            Type::I64 => OperandSize::S64,
                            _ => OperandSize::S32,
                        };
                        let reg = self.gpr(arg);
                        self.vcode.push(VInst::Machine(MInst::Test {
                            size,
                            lhs: GprMem::Gpr(reg),
                            rhs: GprImm::Gpr(reg),
                        }));
                        CC::NZ
                    }
                };
                let (taken, not_taken) = (self.vcode.label(then_edge), self.vcode.label(else_edge));
                self.vcode.branch(
                    MInst::JmpCond {
                        cc,
                        taken,
                        not_taken,
                    },
                    &[(then_edge, Vec::new()), (else_edge, Vec::new())],
                );
            }
            InstructionData::MultiAry {
                opcode: Opcode::Return,
                args,
            } => {
                let values = args.as_slice(&func.dfg.value_lists).to_vec();
                self.lower_return(&values);
            }
            InstructionData::Trap { code, .. } => {
                self.vcode.push(VInst::Machine(MInst::Ud2 { trap: code }));
            }
            InstructionData::BranchTable { arg, table, .. } => {
                let data = &func.dfg.jump_tables[table];
                if data.targets().is_empty() {
                    self.jump_to(plan, data.default());
                    return Ok(());
                }
                let edges: Vec<regalloc2::Block> = (0..=data.targets().len())
                    .map(|i| plan.edges[&(block, i)])
                    .collect();
                // The sequence indexes with the whole register: clear the
                // upper half an i32 may carry.
                let index = generated::Context::temp_writable_gpr(self);
                let src = self.gpr(arg);
                self.vcode.push(VInst::Machine(MInst::MovRR {
                    size: OperandSize::S32,
                    src,
                    dst: index,
                }));
                let (tmp1, tmp2) = (
                    generated::Context::temp_writable_gpr(self),
                    generated::Context::temp_writable_gpr(self),
                );
                let targets = JumpTableTargets {
                    default: self.vcode.label(edges[0]),
                    targets: edges[1..].iter().map(|&e| self.vcode.label(e)).collect(),
                };
                let succs: Vec<(regalloc2::Block, Vec<Reg>)> =
                    edges.iter().map(|&e| (e, Vec::new())).collect();
                self.vcode.branch(
                    MInst::JmpTableSeq {
                        index: index.to_reg(),
                        tmp1,
                        tmp2,
                        table: Box::new(targets),
                    },
                    &succs,
                );
            }
            ref other => {
                return Err(CodegenError::Unsupported(format!(
                    "lowering `{}`",
                    other.opcode().name()
                )));
            }
        }
        Ok(())
    }
}

/// The move of a whole value of type `ty` (a float or a vector) between
/// an XMM register and memory.
fn xmm_mov_op(ty: Type) -> SseMovOp {
    match ty {
        Type::F32 => SseMovOp::Movss,
        Type::F64 => SseMovOp::Movsd,
        _ => SseMovOp::Movups,
    }
}
