//! [`FunctionBuilder`]: builds IR instruction by instruction, with SSA form
//! constructed from mutable variables.
//!
//! A frontend (the wasm translator) declares a [`Variable`] per local,
//! assigns it with [`def_var`](FunctionBuilder::def_var) and reads it with
//! [`use_var`](FunctionBuilder::use_var); the builder finds the reaching
//! definition and adds block parameters where control flow merges, by the
//! algorithm of Braun et al., "Simple and Efficient Construction of Static
//! Single Assignment Form" (CC 2013):
//!
//! * a block is *sealed* once all its predecessors are known (the frontend
//!   says so with [`seal_block`](FunctionBuilder::seal_block));
//! * reading a variable in a block without a local definition looks in the
//!   predecessors: through a single one directly; in an unsealed block, or
//!   at a merge, through a new block parameter whose branch arguments are
//!   filled in now (merge) or at sealing (unsealed);
//! * a parameter whose arguments are all one value (or itself) is trivial
//!   and is removed, leaving an alias of that value.
//!
//! A variable read where no definition reaches (code after an
//! unconditional branch, which has no predecessors) is zero.
//!
//! The lookup is written as a loop over an explicit stack of steps rather
//! than as the paper's mutual recursion between reading a variable and
//! completing a parameter: a read at the end of a long chain of merges
//! (a wasm function with thousands of `if`s in a row) would otherwise
//! recurse once per merge and overflow the native stack.

use crate::entity::{EntityRef, SecondaryMap, entity_ref};
use crate::ir::{
    Block, ExtFuncData, FloatCC, FuncRef, Function, Inst, InstructionData, IntCC, JumpTable,
    JumpTableData, MemFlags, Opcode, SigRef, Signature, StackSlot, StackSlotData, Type, Value,
    ValueList, ValueListPool,
};
use cranelift_asm::{SourceLoc, TrapCode};
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

entity_ref! {
    /// A mutable variable of the frontend.
    Variable => "var";
}

/// The builder's state, reusable across functions to keep allocations.
#[derive(Default)]
pub struct FunctionBuilderContext {
    var_types: Vec<Type>,
    defs: HashMap<(Variable, Block), Value, BuildHasherDefault<EntityPairHasher>>,
    sealed: SecondaryMap<Block, bool>,
    /// Parameters made in unsealed blocks, filled at sealing.
    incomplete: SecondaryMap<Block, Vec<(Variable, Value)>>,
    /// Each block's predecessors: (block, branch), each edge once.
    preds: SecondaryMap<Block, Vec<(Block, Inst)>>,
    /// Whether a block has had an instruction appended or is the current
    /// block (for the "fill in order" rule).
    filled: SecondaryMap<Block, bool>,
    /// The pending steps of a variable lookup (see [`LookupStep`]).
    steps: Vec<LookupStep>,
    /// The values found by finished lookup steps, innermost last.
    found: Vec<Value>,
    /// The single-predecessor chains walked by pending lookups, each
    /// pending `AssignChain` step owning the top segment from its start.
    chain: Vec<Block>,
}

/// The hasher of `defs`' keys, two entity numbers: a multiply-and-rotate
/// per word (as rustc's FxHasher), several times faster than the default
/// SipHash on the builder's hottest map. The keys are small dense numbers
/// the builder hands out, not input an adversary chooses.
#[derive(Default)]
struct EntityPairHasher(u64);

impl Hasher for EntityPairHasher {
    fn write(&mut self, bytes: &[u8]) {
        for &byte in bytes {
            self.write_u64(u64::from(byte));
        }
    }

    fn write_u32(&mut self, n: u32) {
        self.write_u64(u64::from(n));
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = (self.0.rotate_left(5) ^ n).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

/// One step of a variable lookup, which runs as a loop over a stack of
/// these instead of recursing (see the [module docs](self)).
#[derive(Copy, Clone, Debug)]
enum LookupStep {
    /// Find the variable's value at the end of this block and push it on
    /// `found`.
    Read(Block),
    /// The values reaching `param` of `block` from each predecessor are the
    /// top `found` values, in predecessor order: pass them as branch
    /// arguments, remove the parameter if it is trivial, and push the value
    /// that stands for it.
    FinishParam { block: Block, param: Value },
    /// The blocks of `chain[start..]` (single-predecessor blocks walked on
    /// the way to a merge) get the value on top of `found`.
    AssignChain { start: usize },
}

impl FunctionBuilderContext {
    /// An empty context.
    pub fn new() -> Self {
        FunctionBuilderContext::default()
    }

    fn clear(&mut self) {
        self.var_types.clear();
        self.defs.clear();
        self.sealed.clear();
        self.incomplete.clear();
        self.preds.clear();
        self.filled.clear();
        self.steps.clear();
        self.found.clear();
        self.chain.clear();
    }
}

/// Builds the body of a function (see the [module docs](self)).
pub struct FunctionBuilder<'a> {
    /// The function being built.
    pub func: &'a mut Function,
    ctx: &'a mut FunctionBuilderContext,
    current: Option<Block>,
    srcloc: Option<SourceLoc>,
}

impl<'a> FunctionBuilder<'a> {
    /// A builder appending to `func`.
    pub fn new(func: &'a mut Function, ctx: &'a mut FunctionBuilderContext) -> Self {
        ctx.clear();
        FunctionBuilder {
            func,
            ctx,
            current: None,
            srcloc: None,
        }
    }

    /// Creates a block (not yet in the layout: it is appended when first
    /// switched to).
    pub fn create_block(&mut self) -> Block {
        self.func.dfg.make_block()
    }

    /// Gives `block` one parameter per function parameter and returns them.
    pub fn append_block_params_for_function_params(&mut self, block: Block) -> Vec<Value> {
        let params = self.func.signature.params.clone();
        params
            .into_iter()
            .map(|ty| self.func.dfg.append_block_param(block, ty))
            .collect()
    }

    /// Appends a parameter to `block`.
    pub fn append_block_param(&mut self, block: Block, ty: Type) -> Value {
        self.func.dfg.append_block_param(block, ty)
    }

    /// The parameters of `block`.
    pub fn block_params(&self, block: Block) -> &[Value] {
        self.func.dfg.block_params(block)
    }

    /// Makes `block` the block instructions are appended to, laying it out
    /// at the end of the function if it is not yet.
    pub fn switch_to_block(&mut self, block: Block) {
        if !self.func.layout.is_block_inserted(block) {
            self.func.layout.append_block(block);
        }
        self.ctx.filled[block] = true;
        self.current = Some(block);
    }

    /// Marks `block` as rarely run (see [`Layout::set_cold`](crate::ir::Layout::set_cold)).
    pub fn set_cold_block(&mut self, block: Block) {
        self.func.layout.set_cold(block);
    }

    /// The current block.
    pub fn current_block(&self) -> Option<Block> {
        self.current
    }

    /// Whether the current block already ends with a terminator (so code
    /// after it is unreachable).
    pub fn is_filled(&self) -> bool {
        self.current
            .and_then(|b| self.func.layout.last_inst(b))
            .is_some_and(|i| self.func.dfg.inst(i).opcode().is_terminator())
    }

    /// Declares that every predecessor of `block` is known.
    pub fn seal_block(&mut self, block: Block) {
        if self.ctx.sealed[block] {
            return;
        }
        let incomplete = core::mem::take(&mut self.ctx.incomplete[block]);
        self.ctx.sealed[block] = true;
        for (var, param) in incomplete {
            self.push_param_steps(block, param);
            self.run_lookup(var);
        }
    }

    /// Seals every block (when the frontend does not track sealing).
    pub fn seal_all_blocks(&mut self) {
        let blocks: Vec<Block> = self.func.layout.blocks().collect();
        for block in blocks {
            self.seal_block(block);
        }
    }

    /// Sets the source location of the instructions built next.
    pub fn set_srcloc(&mut self, loc: Option<SourceLoc>) {
        self.srcloc = loc;
    }

    // ---- Entities -------------------------------------------------------

    /// Declares a variable of type `ty`.
    pub fn declare_var(&mut self, ty: Type) -> Variable {
        self.ctx.var_types.push(ty);
        Variable::new(self.ctx.var_types.len() - 1)
    }

    /// Declares a signature for calls.
    pub fn import_signature(&mut self, sig: Signature) -> SigRef {
        self.func.dfg.signatures.push(sig)
    }

    /// Declares a function called directly.
    pub fn import_function(&mut self, data: ExtFuncData) -> FuncRef {
        self.func.dfg.ext_funcs.push(data)
    }

    /// Creates a stack slot.
    pub fn create_stack_slot(&mut self, data: StackSlotData) -> StackSlot {
        self.func.stack_slots.push(data)
    }

    // ---- Variables --------------------------------------------------------

    /// Assigns `value` to `var` in the current block.
    pub fn def_var(&mut self, var: Variable, value: Value) {
        let block = self.current.expect("def_var outside a block");
        debug_assert_eq!(
            self.func.dfg.value_type(value),
            self.ctx.var_types[var.index()],
            "{var} assigned a value of another type"
        );
        self.ctx.defs.insert((var, block), value);
    }

    /// The value of `var` in the current block.
    pub fn use_var(&mut self, var: Variable) -> Value {
        let block = self.current.expect("use_var outside a block");
        self.read_var(var, block)
    }

    fn read_var(&mut self, var: Variable, block: Block) -> Value {
        self.ctx.steps.push(LookupStep::Read(block));
        self.run_lookup(var)
    }

    /// Runs the pending lookup steps for `var` until none is left and
    /// returns the value the outermost one found.
    fn run_lookup(&mut self, var: Variable) -> Value {
        let ty = self.ctx.var_types[var.index()];
        while let Some(step) = self.ctx.steps.pop() {
            match step {
                LookupStep::Read(block) => self.read_step(var, ty, block),
                LookupStep::FinishParam { block, param } => {
                    let value = self.finish_param(var, block, param);
                    self.ctx.found.push(value);
                }
                LookupStep::AssignChain { start } => {
                    let value = *self.ctx.found.last().expect("the merge's value");
                    for i in start..self.ctx.chain.len() {
                        let b = self.ctx.chain[i];
                        self.ctx.defs.insert((var, b), value);
                    }
                    self.ctx.chain.truncate(start);
                }
            }
        }
        self.ctx.found.pop().expect("every lookup finds one value")
    }

    /// Looks for `var` from the end of `block` up single-predecessor
    /// chains. Where the value is known (a definition, a new parameter of
    /// an unsealed block, zero where nothing reaches) it is pushed at once;
    /// at a merge, a parameter is made and the steps that find its
    /// arguments are pushed instead.
    fn read_step(&mut self, var: Variable, ty: Type, block: Block) {
        let start = self.ctx.chain.len();
        let mut b = block;
        let value = loop {
            if let Some(&v) = self.ctx.defs.get(&(var, b)) {
                break self.func.dfg.resolve_aliases(v);
            }
            if !self.ctx.sealed[b] {
                let param = self.func.dfg.append_block_param(b, ty);
                self.ctx.incomplete[b].push((var, param));
                self.ctx.defs.insert((var, b), param);
                break param;
            }
            match self.ctx.preds[b].len() {
                0 => {
                    let zero = self.zero_at_start(b, ty);
                    self.ctx.defs.insert((var, b), zero);
                    break zero;
                }
                1 => {
                    self.ctx.chain.push(b);
                    b = self.ctx.preds[b][0].0;
                }
                _ => {
                    // Defined before its arguments are found, so that a
                    // path back into this block (a loop) finds the
                    // parameter itself.
                    let param = self.func.dfg.append_block_param(b, ty);
                    self.ctx.defs.insert((var, b), param);
                    self.ctx.steps.push(LookupStep::AssignChain { start });
                    self.push_param_steps(b, param);
                    return;
                }
            }
        };
        for i in start..self.ctx.chain.len() {
            let b = self.ctx.chain[i];
            self.ctx.defs.insert((var, b), value);
        }
        self.ctx.chain.truncate(start);
        self.ctx.found.push(value);
    }

    /// Pushes the steps completing `param` of `block`: a read in each
    /// predecessor (the first read runs first), then the finish.
    fn push_param_steps(&mut self, block: Block, param: Value) {
        self.ctx
            .steps
            .push(LookupStep::FinishParam { block, param });
        for &(pred, _) in self.ctx.preds[block].iter().rev() {
            self.ctx.steps.push(LookupStep::Read(pred));
        }
    }

    /// Adds the arguments of block parameter `param` (standing for `var`)
    /// to every branch into `block` (the values found for each
    /// predecessor, on top of `found`), then removes the parameter if it is
    /// trivial. Returns the value that stands for it.
    fn finish_param(&mut self, var: Variable, block: Block, param: Value) -> Value {
        let preds = self.ctx.preds[block].clone();
        let first = self.ctx.found.len() - preds.len();
        let args: Vec<Value> = self.ctx.found.drain(first..).collect();
        for (&(_, branch), &arg) in preds.iter().zip(&args) {
            self.append_branch_arg(branch, block, arg);
        }
        // Trivial: every argument is the parameter itself or one value.
        let param = self.func.dfg.resolve_aliases(param);
        let mut unique = None;
        for &arg in &args {
            let arg = self.func.dfg.resolve_aliases(arg);
            if arg == param || Some(arg) == unique {
                continue;
            }
            if unique.is_some() {
                return param;
            }
            unique = Some(arg);
        }
        let Some(replacement) = unique else {
            // Only self-references: unreachable in practice; keep it.
            return param;
        };
        let Some(n) = self
            .func
            .dfg
            .block_params(block)
            .iter()
            .position(|&p| p == param)
        else {
            return param;
        };
        for &(_, branch) in &preds {
            self.remove_branch_arg(branch, block, n);
        }
        self.func.dfg.remove_block_param(block, n);
        self.func.dfg.change_to_alias(param, replacement);
        self.ctx.defs.insert((var, block), replacement);
        replacement
    }

    /// Applies `f` to the argument list of every block call of `branch`
    /// that targets `block`.
    fn edit_calls_to(
        &mut self,
        branch: Inst,
        block: Block,
        mut f: impl FnMut(&mut ValueList, &mut ValueListPool),
    ) {
        let dfg = &mut self.func.dfg;
        let mut data = *dfg.inst(branch);
        match &mut data {
            InstructionData::Jump { dest, .. } if dest.block == block => {
                f(&mut dest.args, &mut dfg.value_lists);
            }
            InstructionData::Brif { blocks, .. } => {
                for call in blocks.iter_mut().filter(|c| c.block == block) {
                    f(&mut call.args, &mut dfg.value_lists);
                }
            }
            InstructionData::BranchTable { table, .. } => {
                let table = &mut dfg.jump_tables[*table];
                for call in table.all_mut().iter_mut().filter(|c| c.block == block) {
                    f(&mut call.args, &mut dfg.value_lists);
                }
            }
            _ => {}
        }
        *dfg.inst_mut(branch) = data;
    }

    fn append_branch_arg(&mut self, branch: Inst, block: Block, arg: Value) {
        self.edit_calls_to(branch, block, |args, pool| args.push(arg, pool));
    }

    fn remove_branch_arg(&mut self, branch: Inst, block: Block, n: usize) {
        self.edit_calls_to(branch, block, |args, pool| args.remove(n, pool));
    }

    /// A zero of type `ty` defined at the start of `block`.
    fn zero_at_start(&mut self, block: Block, ty: Type) -> Value {
        let data = match ty {
            Type::F32 => InstructionData::UnaryIeee32 {
                opcode: Opcode::F32const,
                imm: 0,
            },
            Type::F64 => InstructionData::UnaryIeee64 {
                opcode: Opcode::F64const,
                imm: 0,
            },
            _ => InstructionData::UnaryImm {
                opcode: Opcode::Iconst,
                imm: 0,
            },
        };
        let inst = self.func.dfg.make_inst(data);
        self.func.dfg.make_inst_results(inst, ty);
        match self.func.layout.first_inst(block) {
            Some(first) => self.func.layout.insert_inst_before(inst, first),
            None => self.func.layout.append_inst(inst, block),
        }
        self.func.dfg.first_result(inst)
    }

    // ---- Instructions ------------------------------------------------------

    /// Appends an instruction to the current block and returns it.
    pub fn insert(&mut self, data: InstructionData, ctrl: Type) -> Inst {
        let block = self.current.expect("an instruction outside a block");
        let inst = self.func.dfg.make_inst(data);
        self.func.dfg.make_inst_results(inst, ctrl);
        self.func.layout.append_inst(inst, block);
        self.func.srclocs[inst] = self.srcloc;
        if data.opcode().is_branch() {
            for call in self.func.dfg.branch_destinations(inst) {
                assert!(
                    !self.ctx.sealed[call.block],
                    "a branch to the sealed {}",
                    call.block
                );
                // One entry per branch and destination block: only this
                // branch has added entries since it was made, so a
                // repeat is the last entry (no search: O(1) for a
                // `br_table` of any size).
                let preds = &mut self.ctx.preds[call.block];
                if preds.last() != Some(&(block, inst)) {
                    preds.push((block, inst));
                }
            }
        }
        inst
    }

    /// Instruction constructors appending to the current block.
    pub fn ins(&mut self) -> InstBuilder<'_, 'a> {
        InstBuilder { builder: self }
    }

    /// Checks that every block was sealed, then leaves the function to the
    /// caller.
    pub fn finalize(self) {
        for block in self.func.layout.blocks() {
            debug_assert!(self.ctx.sealed[block], "{block} was never sealed");
        }
        let insts: Vec<Inst> = self
            .func
            .layout
            .blocks()
            .flat_map(|b| self.func.layout.block_insts(b).collect::<Vec<_>>())
            .collect();
        self.func.dfg.resolve_all_aliases(insts);
    }
}

/// The instruction constructors (see [`FunctionBuilder::ins`]).
pub struct InstBuilder<'b, 'a> {
    builder: &'b mut FunctionBuilder<'a>,
}

macro_rules! binary {
    ($($name:ident => $op:ident;)*) => {$(
        #[doc = concat!("`", stringify!($name), " a, b`")]
        pub fn $name(self, a: Value, b: Value) -> Value {
            let ty = self.builder.func.dfg.value_type(a);
            self.value(InstructionData::Binary { opcode: Opcode::$op, args: [a, b] }, ty)
        }
    )*};
}

macro_rules! unary {
    ($($name:ident => $op:ident;)*) => {$(
        #[doc = concat!("`", stringify!($name), " a`")]
        pub fn $name(self, a: Value) -> Value {
            let ty = self.builder.func.dfg.value_type(a);
            self.value(InstructionData::Unary { opcode: Opcode::$op, arg: a }, ty)
        }
    )*};
}

macro_rules! convert {
    ($($name:ident => $op:ident;)*) => {$(
        #[doc = concat!("`", stringify!($name), ".ty a`")]
        pub fn $name(self, ty: Type, a: Value) -> Value {
            self.value(InstructionData::Unary { opcode: Opcode::$op, arg: a }, ty)
        }
    )*};
}

macro_rules! load {
    ($($name:ident => $op:ident;)*) => {$(
        #[doc = concat!("`", stringify!($name), ".ty flags addr+offset`")]
        pub fn $name(self, ty: Type, flags: MemFlags, addr: Value, offset: i32) -> Value {
            self.value(InstructionData::Load { opcode: Opcode::$op, flags, arg: addr, offset }, ty)
        }
    )*};
}

macro_rules! store {
    ($($name:ident => $op:ident;)*) => {$(
        #[doc = concat!("`", stringify!($name), " flags value, addr+offset`")]
        pub fn $name(self, flags: MemFlags, value: Value, addr: Value, offset: i32) -> Inst {
            let ty = self.builder.func.dfg.value_type(value);
            self.builder.insert(InstructionData::Store { opcode: Opcode::$op, flags, args: [value, addr], offset }, ty)
        }
    )*};
}

impl InstBuilder<'_, '_> {
    fn value(self, data: InstructionData, ctrl: Type) -> Value {
        let inst = self.builder.insert(data, ctrl);
        self.builder.func.dfg.first_result(inst)
    }

    /// `iconst.ty imm` (the immediate is canonicalized: sign-extended
    /// from the type's width).
    pub fn iconst(self, ty: Type, imm: i64) -> Value {
        let imm = ty.sign_extend(imm);
        self.value(
            InstructionData::UnaryImm {
                opcode: Opcode::Iconst,
                imm,
            },
            ty,
        )
    }

    /// `f32const bits`
    pub fn f32const(self, bits: u32) -> Value {
        self.value(
            InstructionData::UnaryIeee32 {
                opcode: Opcode::F32const,
                imm: bits,
            },
            Type::F32,
        )
    }

    /// `f64const bits`
    pub fn f64const(self, bits: u64) -> Value {
        self.value(
            InstructionData::UnaryIeee64 {
                opcode: Opcode::F64const,
                imm: bits,
            },
            Type::F64,
        )
    }

    /// `vconst.ty bits`, a vector constant (lane 0 in the low bits).
    pub fn vconst(self, ty: Type, bits: u128) -> Value {
        let constant = self.builder.func.dfg.constant(bits);
        self.value(
            InstructionData::UnaryConst {
                opcode: Opcode::Vconst,
                constant,
            },
            ty,
        )
    }

    /// `splat.ty x`: the vector type `ty` with `x` in every lane.
    pub fn splat(self, ty: Type, x: Value) -> Value {
        self.value(
            InstructionData::Unary {
                opcode: Opcode::Splat,
                arg: x,
            },
            ty,
        )
    }

    /// `extractlane x, lane`: a scalar of `x`'s lane type.
    pub fn extractlane(self, x: Value, lane: u8) -> Value {
        let ty = self.builder.func.dfg.value_type(x).lane_type();
        self.value(
            InstructionData::BinaryImm8 {
                opcode: Opcode::Extractlane,
                arg: x,
                imm: lane,
            },
            ty,
        )
    }

    /// `insertlane x, y, lane`: `x` with lane `lane` replaced by `y`.
    pub fn insertlane(self, x: Value, y: Value, lane: u8) -> Value {
        let ty = self.builder.func.dfg.value_type(x);
        self.value(
            InstructionData::TernaryImm8 {
                opcode: Opcode::Insertlane,
                args: [x, y],
                imm: lane,
            },
            ty,
        )
    }

    /// `shuffle a, b, mask`: byte `i` is byte `mask[i]` of `a` then `b`.
    pub fn shuffle(self, a: Value, b: Value, mask: [u8; 16]) -> Value {
        let mask = self.builder.func.dfg.constant(u128::from_le_bytes(mask));
        self.value(
            InstructionData::Shuffle {
                opcode: Opcode::Shuffle,
                args: [a, b],
                mask,
            },
            Type::I8X16,
        )
    }

    /// `bitselect c, a, b`
    pub fn bitselect(self, c: Value, a: Value, b: Value) -> Value {
        let ty = self.builder.func.dfg.value_type(a);
        self.value(
            InstructionData::Ternary {
                opcode: Opcode::Bitselect,
                args: [c, a, b],
            },
            ty,
        )
    }

    binary! {
        sadd_sat => SaddSat; uadd_sat => UaddSat; ssub_sat => SsubSat; usub_sat => UsubSat;
        smin => Smin; umin => Umin; smax => Smax; umax => Umax; avg_round => AvgRound;
        band_not => BandNot; fmin_pseudo => FminPseudo; fmax_pseudo => FmaxPseudo;
        swizzle => Swizzle; sqmul_round_sat => SqmulRoundSat; iadd_pairwise => IaddPairwise;
    }

    unary! {
        iabs => Iabs;
    }

    /// `vany_true a` (an `i8`, 1 or 0)
    pub fn vany_true(self, a: Value) -> Value {
        let data = InstructionData::Unary {
            opcode: Opcode::VanyTrue,
            arg: a,
        };
        self.value(data, Type::I8)
    }

    /// `vall_true a` (an `i8`, 1 or 0)
    pub fn vall_true(self, a: Value) -> Value {
        let data = InstructionData::Unary {
            opcode: Opcode::VallTrue,
            arg: a,
        };
        self.value(data, Type::I8)
    }

    convert! {
        vhigh_bits => VhighBits; swiden_low => SwidenLow; swiden_high => SwidenHigh;
        uwiden_low => UwidenLow; uwiden_high => UwidenHigh;
        fcvt_low_from_sint => FcvtLowFromSint; fcvt_low_from_uint => FcvtLowFromUint;
        fvpromote_low => FvpromoteLow; fvdemote => Fvdemote;
    }

    /// `snarrow.ty a, b`
    pub fn snarrow(self, ty: Type, a: Value, b: Value) -> Value {
        let data = InstructionData::Binary {
            opcode: Opcode::Snarrow,
            args: [a, b],
        };
        self.value(data, ty)
    }

    /// `unarrow.ty a, b`
    pub fn unarrow(self, ty: Type, a: Value, b: Value) -> Value {
        let data = InstructionData::Binary {
            opcode: Opcode::Unarrow,
            args: [a, b],
        };
        self.value(data, ty)
    }

    /// `widening_pairwise_dot_product_s.i32x4 a, b`
    pub fn widening_pairwise_dot_product_s(self, a: Value, b: Value) -> Value {
        let data = InstructionData::Binary {
            opcode: Opcode::WideningPairwiseDotProductS,
            args: [a, b],
        };
        self.value(data, Type::I32X4)
    }

    /// `widening_pairwise_dot_product_us_sat.i16x8 a, b`
    pub fn widening_pairwise_dot_product_us_sat(self, a: Value, b: Value) -> Value {
        let data = InstructionData::Binary {
            opcode: Opcode::WideningPairwiseDotProductUsSat,
            args: [a, b],
        };
        self.value(data, Type::I16X8)
    }

    binary! {
        iadd => Iadd; isub => Isub; imul => Imul; sdiv => Sdiv; udiv => Udiv;
        srem => Srem; urem => Urem; band => Band; bor => Bor; bxor => Bxor;
        ishl => Ishl; ushr => Ushr; sshr => Sshr; rotl => Rotl; rotr => Rotr;
        fadd => Fadd; fsub => Fsub; fmul => Fmul; fdiv => Fdiv; fmin => Fmin;
        fmax => Fmax; fcopysign => Fcopysign;
    }

    unary! {
        bnot => Bnot; ineg => Ineg; clz => Clz; ctz => Ctz; popcnt => Popcnt;
        fneg => Fneg; fabs => Fabs; sqrt => Sqrt; ceil => Ceil; floor => Floor;
        trunc => Trunc; nearest => Nearest;
    }

    convert! {
        uextend => Uextend; sextend => Sextend; ireduce => Ireduce; bitcast => Bitcast;
        fpromote => Fpromote; fdemote => Fdemote; fcvt_to_sint => FcvtToSint;
        fcvt_to_uint => FcvtToUint; fcvt_to_sint_sat => FcvtToSintSat;
        fcvt_to_uint_sat => FcvtToUintSat; fcvt_from_sint => FcvtFromSint;
        fcvt_from_uint => FcvtFromUint;
    }

    load! {
        load => Load; uload8 => Uload8; sload8 => Sload8; uload16 => Uload16;
        sload16 => Sload16; uload32 => Uload32; sload32 => Sload32;
    }

    store! {
        store => Store; istore8 => Istore8; istore16 => Istore16; istore32 => Istore32;
    }

    /// `icmp cc a, b` (an `i8`, 1 or 0; for vectors, a mask of each
    /// lane's outcome, all ones or all zeros)
    pub fn icmp(self, cond: IntCC, a: Value, b: Value) -> Value {
        let ty = self.builder.func.dfg.value_type(a);
        self.value(
            InstructionData::IntCompare {
                opcode: Opcode::Icmp,
                cond,
                args: [a, b],
            },
            ty,
        )
    }

    /// `fcmp cc a, b` (an `i8`, 1 or 0; for vectors, a mask of integer
    /// lanes as wide as the operands')
    pub fn fcmp(self, cond: FloatCC, a: Value, b: Value) -> Value {
        let ty = self.builder.func.dfg.value_type(a);
        self.value(
            InstructionData::FloatCompare {
                opcode: Opcode::Fcmp,
                cond,
                args: [a, b],
            },
            ty,
        )
    }

    /// `select c, a, b`
    pub fn select(self, c: Value, a: Value, b: Value) -> Value {
        let ty = self.builder.func.dfg.value_type(a);
        self.value(
            InstructionData::Ternary {
                opcode: Opcode::Select,
                args: [c, a, b],
            },
            ty,
        )
    }

    /// `stack_load.ty slot+offset`
    pub fn stack_load(self, ty: Type, slot: StackSlot, offset: i32) -> Value {
        self.value(
            InstructionData::StackLoad {
                opcode: Opcode::StackLoad,
                slot,
                offset,
            },
            ty,
        )
    }

    /// `stack_store value, slot+offset`
    pub fn stack_store(self, value: Value, slot: StackSlot, offset: i32) -> Inst {
        let ty = self.builder.func.dfg.value_type(value);
        self.builder.insert(
            InstructionData::StackStore {
                opcode: Opcode::StackStore,
                arg: value,
                slot,
                offset,
            },
            ty,
        )
    }

    /// `stack_addr.i64 slot+offset`
    pub fn stack_addr(self, slot: StackSlot, offset: i32) -> Value {
        self.value(
            InstructionData::StackLoad {
                opcode: Opcode::StackAddr,
                slot,
                offset,
            },
            Type::I64,
        )
    }

    /// `jump block(args)`
    pub fn jump(self, block: Block, args: &[Value]) -> Inst {
        let dest = self.builder.func.dfg.block_call(block, args);
        self.builder.insert(
            InstructionData::Jump {
                opcode: Opcode::Jump,
                dest,
            },
            Type::I64,
        )
    }

    /// `brif c, then(then_args), else(else_args)`
    pub fn brif(
        self,
        c: Value,
        then_block: Block,
        then_args: &[Value],
        else_block: Block,
        else_args: &[Value],
    ) -> Inst {
        let dfg = &mut self.builder.func.dfg;
        let blocks = [
            dfg.block_call(then_block, then_args),
            dfg.block_call(else_block, else_args),
        ];
        self.builder.insert(
            InstructionData::Brif {
                opcode: Opcode::Brif,
                arg: c,
                blocks,
            },
            Type::I64,
        )
    }

    /// `br_table index, default, [targets]`; each target with its
    /// arguments.
    pub fn br_table(
        self,
        index: Value,
        default: (Block, &[Value]),
        targets: &[(Block, &[Value])],
    ) -> Inst {
        let dfg = &mut self.builder.func.dfg;
        let default = dfg.block_call(default.0, default.1);
        let targets: Vec<_> = targets
            .iter()
            .map(|&(b, args)| dfg.block_call(b, args))
            .collect();
        let table: JumpTable = dfg.jump_tables.push(JumpTableData::new(default, targets));
        self.builder.insert(
            InstructionData::BranchTable {
                opcode: Opcode::BrTable,
                arg: index,
                table,
            },
            Type::I64,
        )
    }

    /// `return values`
    pub fn return_(self, values: &[Value]) -> Inst {
        let args = self
            .builder
            .func
            .dfg
            .value_lists
            .alloc(values.iter().copied());
        self.builder.insert(
            InstructionData::MultiAry {
                opcode: Opcode::Return,
                args,
            },
            Type::I64,
        )
    }

    /// `call f(args)`; the results are the instruction's.
    pub fn call(self, func_ref: FuncRef, args: &[Value]) -> Inst {
        let args = self
            .builder
            .func
            .dfg
            .value_lists
            .alloc(args.iter().copied());
        self.builder.insert(
            InstructionData::Call {
                opcode: Opcode::Call,
                func_ref,
                args,
            },
            Type::I64,
        )
    }

    /// `call_indirect sig, callee(args)`
    pub fn call_indirect(self, sig_ref: SigRef, callee: Value, args: &[Value]) -> Inst {
        let args = self
            .builder
            .func
            .dfg
            .value_lists
            .alloc(core::iter::once(callee).chain(args.iter().copied()));
        self.builder.insert(
            InstructionData::CallIndirect {
                opcode: Opcode::CallIndirect,
                sig_ref,
                args,
            },
            Type::I64,
        )
    }

    /// `trap code`
    pub fn trap(self, code: TrapCode) -> Inst {
        self.builder.insert(
            InstructionData::Trap {
                opcode: Opcode::Trap,
                code,
            },
            Type::I64,
        )
    }

    /// `trapz c, code`
    pub fn trapz(self, c: Value, code: TrapCode) -> Inst {
        let ty = self.builder.func.dfg.value_type(c);
        self.builder.insert(
            InstructionData::CondTrap {
                opcode: Opcode::Trapz,
                arg: c,
                code,
            },
            ty,
        )
    }

    /// `trapnz c, code`
    pub fn trapnz(self, c: Value, code: TrapCode) -> Inst {
        let ty = self.builder.func.dfg.value_type(c);
        self.builder.insert(
            InstructionData::CondTrap {
                opcode: Opcode::Trapnz,
                arg: c,
                code,
            },
            ty,
        )
    }

    /// `uadd_overflow_trap a, b, code`
    pub fn uadd_overflow_trap(self, a: Value, b: Value, code: TrapCode) -> Value {
        let ty = self.builder.func.dfg.value_type(a);
        self.value(
            InstructionData::BinaryTrap {
                opcode: Opcode::UaddOverflowTrap,
                args: [a, b],
                code,
            },
            ty,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ir::CallConv;
    use crate::verifier::verify_function;

    fn sig(params: &[Type], returns: &[Type]) -> Signature {
        Signature {
            params: params.to_vec(),
            returns: returns.to_vec(),
            call_conv: CallConv::Wasm,
        }
    }

    /// `sum = 0; i = n; while i != 0 { sum += i; i -= 1 }; return sum`,
    /// with both variables mutable, built with a loop block sealed after
    /// its back edge.
    #[test]
    fn a_loop_gets_block_parameters_for_the_variables_it_changes() {
        let mut func = Function::new("sum", sig(&[Type::I32], &[Type::I32]));
        let mut ctx = FunctionBuilderContext::new();
        let mut b = FunctionBuilder::new(&mut func, &mut ctx);
        let (entry, header, body, exit) = (
            b.create_block(),
            b.create_block(),
            b.create_block(),
            b.create_block(),
        );
        let n = b.append_block_params_for_function_params(entry)[0];
        let (sum, i, unchanged) = (
            b.declare_var(Type::I32),
            b.declare_var(Type::I32),
            b.declare_var(Type::I32),
        );
        b.switch_to_block(entry);
        b.seal_block(entry);
        let zero = b.ins().iconst(Type::I32, 0);
        b.def_var(sum, zero);
        b.def_var(i, n);
        b.def_var(unchanged, n);
        b.ins().jump(header, &[]);

        b.switch_to_block(header);
        let iv = b.use_var(i);
        b.ins().brif(iv, body, &[], exit, &[]);

        b.switch_to_block(body);
        b.seal_block(body);
        let (s, iv) = (b.use_var(sum), b.use_var(i));
        let s2 = b.ins().iadd(s, iv);
        b.def_var(sum, s2);
        let one = b.ins().iconst(Type::I32, 1);
        let i2 = b.ins().isub(iv, one);
        b.def_var(i, i2);
        b.ins().jump(header, &[]);
        b.seal_block(header);

        b.switch_to_block(exit);
        b.seal_block(exit);
        let (s, u) = (b.use_var(sum), b.use_var(unchanged));
        let r = b.ins().iadd(s, u);
        b.ins().return_(&[r]);
        b.finalize();

        verify_function(&func).unwrap_or_else(|e| panic!("{e}\n{func}"));
        // `i` and `sum` change in the loop: two parameters on the header;
        // `unchanged` does not: its trivial parameter was removed.
        assert_eq!(func.dfg.block_params(header).len(), 2, "{func}");
        assert_eq!(
            func.to_string(),
            "function %sum(i32) -> i32 wasm {
block0(v0: i32):
    v1 = iconst.i32 0
    jump block1(v0, v1)

block1(v2: i32, v3: i32):
    brif v2, block2, block3

block2:
    v4 = iadd v3, v2
    v5 = iconst.i32 1
    v6 = isub v2, v5
    jump block1(v6, v4)

block3:
    v8 = iadd v3, v0
    return v8
}
"
        );
    }

    /// A read at the end of 50,000 merges in a row, none of which changes
    /// the variable: the lookup walks every merge (a parameter each, all
    /// trivial and removed) without recursing, so the test thread's small
    /// stack is enough (the recursive lookup overflowed it). Not verified:
    /// the verifier's dominance queries walk the dominator tree, which is
    /// as deep as the chain.
    #[test]
    fn a_read_after_a_long_chain_of_merges_does_not_recurse() {
        const MERGES: usize = 50_000;
        let mut func = Function::new("chain", sig(&[Type::I32], &[Type::I32]));
        let mut ctx = FunctionBuilderContext::new();
        let mut b = FunctionBuilder::new(&mut func, &mut ctx);
        let entry = b.create_block();
        let c = b.append_block_params_for_function_params(entry)[0];
        let x = b.declare_var(Type::I32);
        b.switch_to_block(entry);
        b.seal_block(entry);
        let five = b.ins().iconst(Type::I32, 5);
        b.def_var(x, five);
        for _ in 0..MERGES {
            let (then_block, else_block, merge) =
                (b.create_block(), b.create_block(), b.create_block());
            b.ins().brif(c, then_block, &[], else_block, &[]);
            for arm in [then_block, else_block] {
                b.seal_block(arm);
                b.switch_to_block(arm);
                b.ins().jump(merge, &[]);
            }
            b.seal_block(merge);
            b.switch_to_block(merge);
        }
        let v = b.use_var(x);
        b.ins().return_(&[v]);
        b.finalize();
        assert_eq!(func.dfg.resolve_aliases(v), five);
        let params: usize = func
            .layout
            .blocks()
            .map(|block| func.dfg.block_params(block).len())
            .sum();
        assert_eq!(params, 1, "only the entry's parameter is left");
    }

    #[test]
    fn variables_read_where_nothing_reaches_are_zero() {
        let mut func = Function::new("dead", sig(&[], &[Type::F64]));
        let mut ctx = FunctionBuilderContext::new();
        let mut b = FunctionBuilder::new(&mut func, &mut ctx);
        let (entry, dead) = (b.create_block(), b.create_block());
        let x = b.declare_var(Type::F64);
        b.switch_to_block(entry);
        b.seal_block(entry);
        let one = b.ins().f64const(1f64.to_bits());
        b.def_var(x, one);
        b.ins().return_(&[one]);
        b.switch_to_block(dead);
        b.seal_block(dead);
        let v = b.use_var(x);
        b.ins().return_(&[v]);
        b.finalize();
        verify_function(&func).unwrap();
        assert!(
            func.to_string().contains("f64const 0x0000000000000000"),
            "{func}"
        );
    }

    #[test]
    fn constants_are_canonical_and_branch_tables_record_their_edges() {
        let mut func = Function::new("t", sig(&[Type::I32], &[Type::I8]));
        let mut ctx = FunctionBuilderContext::new();
        let mut b = FunctionBuilder::new(&mut func, &mut ctx);
        let (entry, a, c) = (b.create_block(), b.create_block(), b.create_block());
        let p = b.append_block_params_for_function_params(entry)[0];
        let var = b.declare_var(Type::I8);
        b.switch_to_block(entry);
        b.seal_block(entry);
        let k = b.ins().iconst(Type::I8, 0xff);
        b.def_var(var, k);
        b.ins().br_table(p, (a, &[]), &[(c, &[]), (a, &[])]);
        b.switch_to_block(a);
        b.seal_block(a);
        let one = b.ins().iconst(Type::I8, 1);
        b.def_var(var, one);
        b.ins().jump(c, &[]);
        b.switch_to_block(c);
        b.seal_block(c);
        let v = b.use_var(var);
        b.ins().return_(&[v]);
        b.finalize();
        verify_function(&func).unwrap_or_else(|e| panic!("{e}\n{func}"));
        let text = func.to_string();
        assert!(text.contains("iconst.i8 -1"), "{text}");
        assert!(
            text.contains("br_table v0, block1, [block2(v1), block1]"),
            "{text}"
        );
    }
}
