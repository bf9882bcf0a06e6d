//! The data-flow graph: instructions, their results, blocks and their
//! parameters, values, and what calls and branches refer to (signatures,
//! external functions, jump tables).
//!
//! The DFG says *what* each instruction computes; the [`Layout`](super::Layout)
//! says *where* it sits. An instruction can exist in the DFG without being
//! in the layout (while a pass builds it, or after it was removed).
//!
//! A value may be an *alias* of another: passes that replace a value
//! (`v3` is really `v1`) turn it into an alias instead of finding every use;
//! [`DataFlowGraph::resolve_aliases`] follows the chain, and
//! [`DataFlowGraph::resolve_all_aliases`] rewrites every use at the end.

use super::entities::{Block, Constant, FuncRef, Inst, JumpTable, SigRef, Value};
use super::instructions::{BlockCall, InstructionData, Opcode};
use super::types::Type;
use super::valuelist::{ValueList, ValueListPool};
use crate::entity::{PrimaryMap, SecondaryMap};
use core::fmt;
use cranelift_asm::ExternalName;

/// Where a value comes from.
#[derive(Copy, Clone, PartialEq, Eq, Hash, Debug)]
pub enum ValueDef {
    /// Result `n` of an instruction.
    Result(Inst, u16),
    /// Parameter `n` of a block.
    Param(Block, u16),
    /// The same value as another.
    Alias(Value),
}

#[derive(Copy, Clone, Debug)]
struct ValueData {
    ty: Type,
    def: ValueDef,
}

/// A calling convention.
#[derive(Copy, Clone, PartialEq, Eq, Hash, Debug, Default)]
pub enum CallConv {
    /// duet's wasm convention (`duet_environ::abi`): the first parameter
    /// is the VMContext; shared with the baseline compiler.
    #[default]
    Wasm,
    /// System V, for calls into the runtime (builtins, host functions).
    SystemV,
    /// A System V callee, called as if it preserved every register but
    /// its results: the backend saves every caller-saved register the
    /// call could change around the call itself (x64: every caller-saved
    /// GPR that is no result, and all sixteen XMM registers in full), so
    /// the register allocator sees a call that clobbers nothing but its
    /// results, and values live across it stay where they are.
    ///
    /// For calls on cold paths inside hot code (the epoch check's
    /// `NewEpoch` in a loop; GC barriers' and tier-up counters' slow
    /// paths would be others): the call costs some 50 extra instructions
    /// when taken, and the code around it no register.
    PreserveAll,
}

impl CallConv {
    /// The name in the text format.
    pub const fn name(self) -> &'static str {
        match self {
            CallConv::Wasm => "wasm",
            CallConv::SystemV => "system_v",
            CallConv::PreserveAll => "preserve_all",
        }
    }
}

/// A function signature.
#[derive(Clone, PartialEq, Eq, Hash, Debug, Default)]
pub struct Signature {
    /// Parameter types.
    pub params: Vec<Type>,
    /// Result types.
    pub returns: Vec<Type>,
    /// The calling convention.
    pub call_conv: CallConv,
}

impl fmt::Display for Signature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let list = |f: &mut fmt::Formatter<'_>, types: &[Type]| -> fmt::Result {
            for (i, t) in types.iter().enumerate() {
                if i > 0 {
                    f.write_str(", ")?;
                }
                write!(f, "{t}")?;
            }
            Ok(())
        };
        f.write_str("(")?;
        list(f, &self.params)?;
        f.write_str(")")?;
        if !self.returns.is_empty() {
            f.write_str(" -> ")?;
            list(f, &self.returns)?;
        }
        write!(f, " {}", self.call_conv.name())
    }
}

/// A function called directly: its name (resolved by relocation) and
/// signature.
#[derive(Copy, Clone, PartialEq, Eq, Hash, Debug)]
pub struct ExtFuncData {
    /// What the relocation names.
    pub name: ExternalName,
    /// The signature.
    pub signature: SigRef,
}

/// A `br_table`'s targets: the default first, then one per index, in one
/// vector, so that a branch's destinations are one slice
/// ([`DataFlowGraph::branch_destinations`]).
#[derive(Clone, PartialEq, Eq, Hash, Debug)]
pub struct JumpTableData {
    calls: Vec<BlockCall>,
}

impl JumpTableData {
    /// A table going to `targets[i]` for index `i`, to `default` past the
    /// end.
    pub fn new(default: BlockCall, targets: impl IntoIterator<Item = BlockCall>) -> Self {
        JumpTableData {
            calls: core::iter::once(default).chain(targets).collect(),
        }
    }

    /// Where indices past the end go.
    pub fn default(&self) -> BlockCall {
        self.calls[0]
    }

    /// Where each index goes.
    pub fn targets(&self) -> &[BlockCall] {
        &self.calls[1..]
    }

    /// The default, then the targets.
    pub fn all(&self) -> &[BlockCall] {
        &self.calls
    }

    /// The default, then the targets, to change.
    pub fn all_mut(&mut self) -> &mut [BlockCall] {
        &mut self.calls
    }
}

/// What a function's instructions compute: instructions, results, blocks, values (see the module documentation in `ir/dfg.rs`).
#[derive(Clone, Debug, Default)]
pub struct DataFlowGraph {
    insts: PrimaryMap<Inst, InstructionData>,
    results: SecondaryMap<Inst, ValueList>,
    blocks: PrimaryMap<Block, ValueList>,
    values: PrimaryMap<Value, ValueData>,
    /// The storage of every value list of the function.
    pub value_lists: ValueListPool,
    /// Signatures of calls.
    pub signatures: PrimaryMap<SigRef, Signature>,
    /// Functions called directly.
    pub ext_funcs: PrimaryMap<FuncRef, ExtFuncData>,
    /// Jump tables.
    pub jump_tables: PrimaryMap<JumpTable, JumpTableData>,
    /// The 128-bit immediates ([`DataFlowGraph::constant`]).
    constants: ConstantPool,
}

/// The function's 128-bit immediates, each stored once: equal immediates
/// have one [`Constant`], so instructions that differ only in which
/// handle they hold do not exist (value numbering compares handles).
#[derive(Clone, Debug, Default)]
struct ConstantPool {
    values: PrimaryMap<Constant, u128>,
    handles: std::collections::HashMap<u128, Constant>,
}

impl DataFlowGraph {
    /// An empty graph.
    pub fn new() -> Self {
        DataFlowGraph::default()
    }

    // ---- Constants -----------------------------------------------------

    /// The handle of the 128-bit immediate `bits` (lane 0 in the low
    /// bits), added to the pool if it is new.
    pub fn constant(&mut self, bits: u128) -> Constant {
        let pool = &mut self.constants;
        *pool
            .handles
            .entry(bits)
            .or_insert_with(|| pool.values.push(bits))
    }

    /// The 128-bit immediate `constant` stands for.
    pub fn constant_bits(&self, constant: Constant) -> u128 {
        self.constants.values[constant]
    }

    /// The 16 bytes of `constant`, lane 0's first (a shuffle's mask).
    pub fn constant_bytes(&self, constant: Constant) -> [u8; 16] {
        self.constant_bits(constant).to_le_bytes()
    }

    /// Whether the shuffle mask `mask` picks the bytes of its second
    /// operand (`second`) or first in order: the shuffle is that operand.
    pub fn shuffle_is_identity(&self, mask: Constant, second: bool) -> bool {
        let base = if second { 16 } else { 0 };
        self.constant_bytes(mask)
            .iter()
            .enumerate()
            .all(|(i, &m)| usize::from(m) == base + i)
    }

    /// Whether `constant` is in the pool.
    pub fn constant_is_valid(&self, constant: Constant) -> bool {
        self.constants.values.is_valid(constant)
    }

    // ---- Instructions --------------------------------------------------

    /// Creates an instruction (without results; see
    /// [`make_inst_results`](Self::make_inst_results)).
    pub fn make_inst(&mut self, data: InstructionData) -> Inst {
        self.insts.push(data)
    }

    /// How many instructions were created.
    pub fn num_insts(&self) -> usize {
        self.insts.len()
    }

    /// Whether `inst` exists.
    pub fn inst_is_valid(&self, inst: Inst) -> bool {
        self.insts.is_valid(inst)
    }

    /// The instruction's data.
    pub fn inst(&self, inst: Inst) -> &InstructionData {
        &self.insts[inst]
    }

    /// The instruction's data, for changing (operands only: replacing the
    /// opcode by one with other results needs care).
    pub fn inst_mut(&mut self, inst: Inst) -> &mut InstructionData {
        &mut self.insts[inst]
    }

    /// The result types of `opcode` with controlling type `ctrl` (calls:
    /// their signature's).
    pub fn result_types(&self, data: &InstructionData, ctrl: Type) -> Vec<Type> {
        match *data {
            InstructionData::Call { func_ref, .. } => {
                let sig = self.ext_funcs[func_ref].signature;
                self.signatures[sig].returns.clone()
            }
            InstructionData::CallIndirect { sig_ref, .. } => {
                self.signatures[sig_ref].returns.clone()
            }
            _ => match data.opcode() {
                // 1 or 0 for scalars, a mask of each lane's outcome for
                // vectors (`ctrl` is then the operands' type or the mask's).
                Opcode::Icmp | Opcode::Fcmp => vec![ctrl.mask_type()],
                Opcode::VanyTrue | Opcode::VallTrue => vec![Type::I8],
                op if op.is_terminator()
                    || op.can_store() && !op.is_call()
                    || matches!(op, Opcode::Trapz | Opcode::Trapnz) =>
                {
                    vec![]
                }
                _ => vec![ctrl],
            },
        }
    }

    /// Creates the results of `inst` for controlling type `ctrl`.
    pub fn make_inst_results(&mut self, inst: Inst, ctrl: Type) -> &[Value] {
        let types = self.result_types(&self.insts[inst], ctrl);
        let first = self.values.next_key().as_u32();
        for (n, ty) in types.iter().enumerate() {
            self.values.push(ValueData {
                ty: *ty,
                def: ValueDef::Result(inst, n as u16),
            });
        }
        let list = self
            .value_lists
            .alloc((first..first + types.len() as u32).map(Value::from_u32));
        self.results[inst] = list;
        list.as_slice(&self.value_lists)
    }

    /// Makes the placeholders `values` the results of `inst` for
    /// controlling type `ctrl` (the parser's way to keep value numbers).
    /// Returns the number of results expected if `values` has another.
    pub fn attach_inst_results(
        &mut self,
        inst: Inst,
        values: &[Value],
        ctrl: Type,
    ) -> Result<(), usize> {
        let types = self.result_types(&self.insts[inst], ctrl);
        if types.len() != values.len() {
            return Err(types.len());
        }
        for (n, (&v, &ty)) in values.iter().zip(&types).enumerate() {
            self.values[v] = ValueData {
                ty,
                def: ValueDef::Result(inst, n as u16),
            };
        }
        self.results[inst] = self.value_lists.alloc(values.iter().copied());
        Ok(())
    }

    /// The results of `inst`.
    pub fn inst_results(&self, inst: Inst) -> &[Value] {
        self.results[inst].as_slice(&self.value_lists)
    }

    /// The first result of `inst`. Panics if it has none.
    pub fn first_result(&self, inst: Inst) -> Value {
        self.inst_results(inst)[0]
    }

    /// The controlling type of `inst`: its first result's type, or for an
    /// instruction without results, its first value operand's.
    pub fn ctrl_type(&self, inst: Inst) -> Option<Type> {
        if let Some(&v) = self.inst_results(inst).first() {
            return Some(self.value_type(v));
        }
        let mut first = None;
        self.for_each_inst_arg(inst, |v| {
            first.get_or_insert(v);
        });
        first.map(|v| self.value_type(v))
    }

    /// Calls `f` with every value `inst` uses, in order (branch arguments
    /// after the instruction's own operands).
    pub fn for_each_inst_arg(&self, inst: Inst, mut f: impl FnMut(Value)) {
        let pool = &self.value_lists;
        match &self.insts[inst] {
            InstructionData::UnaryImm { .. }
            | InstructionData::UnaryIeee32 { .. }
            | InstructionData::UnaryIeee64 { .. }
            | InstructionData::UnaryConst { .. }
            | InstructionData::StackLoad { .. }
            | InstructionData::Trap { .. } => {}
            InstructionData::Unary { arg, .. }
            | InstructionData::BinaryImm8 { arg, .. }
            | InstructionData::Load { arg, .. }
            | InstructionData::StackStore { arg, .. }
            | InstructionData::CondTrap { arg, .. } => f(*arg),
            InstructionData::Binary { args, .. }
            | InstructionData::IntCompare { args, .. }
            | InstructionData::FloatCompare { args, .. }
            | InstructionData::Store { args, .. }
            | InstructionData::Shuffle { args, .. }
            | InstructionData::TernaryImm8 { args, .. }
            | InstructionData::BinaryTrap { args, .. } => args.iter().copied().for_each(f),
            InstructionData::Ternary { args, .. } => args.iter().copied().for_each(f),
            InstructionData::Jump { dest, .. } => {
                dest.args.as_slice(pool).iter().copied().for_each(f)
            }
            InstructionData::Brif { arg, blocks, .. } => {
                f(*arg);
                for call in blocks {
                    call.args.as_slice(pool).iter().copied().for_each(&mut f);
                }
            }
            InstructionData::BranchTable { arg, table, .. } => {
                f(*arg);
                for call in self.jump_tables[*table].all() {
                    call.args.as_slice(pool).iter().copied().for_each(&mut f);
                }
            }
            InstructionData::Call { args, .. }
            | InstructionData::CallIndirect { args, .. }
            | InstructionData::MultiAry { args, .. } => {
                args.as_slice(pool).iter().copied().for_each(f)
            }
        }
    }

    /// Replaces every value `inst` uses by `f(value)`, in the order of
    /// [`for_each_inst_arg`](Self::for_each_inst_arg).
    pub fn map_inst_args(&mut self, inst: Inst, mut f: impl FnMut(Value) -> Value) {
        let pool = &mut self.value_lists;
        let map_list =
            |list: ValueList, pool: &mut ValueListPool, f: &mut dyn FnMut(Value) -> Value| {
                for v in list.as_mut_slice(pool) {
                    *v = f(*v);
                }
            };
        match &mut self.insts[inst] {
            InstructionData::UnaryImm { .. }
            | InstructionData::UnaryIeee32 { .. }
            | InstructionData::UnaryIeee64 { .. }
            | InstructionData::UnaryConst { .. }
            | InstructionData::StackLoad { .. }
            | InstructionData::Trap { .. } => {}
            InstructionData::Unary { arg, .. }
            | InstructionData::BinaryImm8 { arg, .. }
            | InstructionData::Load { arg, .. }
            | InstructionData::StackStore { arg, .. }
            | InstructionData::CondTrap { arg, .. } => *arg = f(*arg),
            InstructionData::Binary { args, .. }
            | InstructionData::IntCompare { args, .. }
            | InstructionData::FloatCompare { args, .. }
            | InstructionData::Store { args, .. }
            | InstructionData::Shuffle { args, .. }
            | InstructionData::TernaryImm8 { args, .. }
            | InstructionData::BinaryTrap { args, .. } => {
                for a in args {
                    *a = f(*a);
                }
            }
            InstructionData::Ternary { args, .. } => {
                for a in args {
                    *a = f(*a);
                }
            }
            InstructionData::Jump { dest, .. } => map_list(dest.args, pool, &mut f),
            InstructionData::Brif { arg, blocks, .. } => {
                *arg = f(*arg);
                for call in blocks {
                    map_list(call.args, pool, &mut f);
                }
            }
            InstructionData::BranchTable { arg, table, .. } => {
                *arg = f(*arg);
                for call in self.jump_tables[*table].all() {
                    map_list(call.args, pool, &mut f);
                }
            }
            InstructionData::Call { args, .. }
            | InstructionData::CallIndirect { args, .. }
            | InstructionData::MultiAry { args, .. } => map_list(*args, pool, &mut f),
        }
    }

    /// The block calls of a branch, in order (`brif`: then, else;
    /// `br_table`: default, then the targets).
    pub fn branch_destinations(&self, inst: Inst) -> &[BlockCall] {
        match &self.insts[inst] {
            InstructionData::Jump { dest, .. } => core::slice::from_ref(dest),
            InstructionData::Brif { blocks, .. } => blocks,
            InstructionData::BranchTable { table, .. } => self.jump_tables[*table].all(),
            _ => &[],
        }
    }

    /// A block call to `block` with `args`.
    pub fn block_call(&mut self, block: Block, args: &[Value]) -> BlockCall {
        BlockCall {
            block,
            args: self.value_lists.alloc(args.iter().copied()),
        }
    }

    // ---- Blocks ----------------------------------------------------------

    /// Creates a block without parameters.
    pub fn make_block(&mut self) -> Block {
        self.blocks.push(ValueList::EMPTY)
    }

    /// How many blocks were created.
    pub fn num_blocks(&self) -> usize {
        self.blocks.len()
    }

    /// Whether `block` exists.
    pub fn block_is_valid(&self, block: Block) -> bool {
        self.blocks.is_valid(block)
    }

    /// Appends a parameter of type `ty` to `block`.
    pub fn append_block_param(&mut self, block: Block, ty: Type) -> Value {
        let n = self.blocks[block].len() as u16;
        let value = self.values.push(ValueData {
            ty,
            def: ValueDef::Param(block, n),
        });
        let mut params = self.blocks[block];
        params.push(value, &mut self.value_lists);
        self.blocks[block] = params;
        value
    }

    /// Makes the placeholder `value` the next parameter of `block`, of type
    /// `ty` (the parser's way to keep value numbers).
    pub fn attach_block_param(&mut self, block: Block, value: Value, ty: Type) {
        let n = self.blocks[block].len() as u16;
        self.values[value] = ValueData {
            ty,
            def: ValueDef::Param(block, n),
        };
        let mut params = self.blocks[block];
        params.push(value, &mut self.value_lists);
        self.blocks[block] = params;
    }

    /// Removes parameter `n` of `block` (its value must be unused, or made
    /// an alias first); later parameters move down.
    pub fn remove_block_param(&mut self, block: Block, n: usize) {
        let mut params = self.blocks[block];
        params.remove(n, &mut self.value_lists);
        self.blocks[block] = params;
        for (i, &v) in params
            .as_slice(&self.value_lists)
            .iter()
            .enumerate()
            .skip(n)
        {
            self.values[v].def = ValueDef::Param(block, i as u16);
        }
    }

    /// The parameters of `block`.
    pub fn block_params(&self, block: Block) -> &[Value] {
        self.blocks[block].as_slice(&self.value_lists)
    }

    // ---- Values ------------------------------------------------------------

    /// How many values were created.
    pub fn num_values(&self) -> usize {
        self.values.len()
    }

    /// Whether `value` exists.
    pub fn value_is_valid(&self, value: Value) -> bool {
        self.values.is_valid(value)
    }

    /// The type of `value`.
    pub fn value_type(&self, value: Value) -> Type {
        self.values[value].ty
    }

    /// Where `value` comes from (an alias resolved to its target's
    /// definition).
    pub fn value_def(&self, value: Value) -> ValueDef {
        self.values[self.resolve_aliases(value)].def
    }

    /// Where `value` comes from, aliases not followed.
    pub fn value_def_raw(&self, value: Value) -> ValueDef {
        self.values[value].def
    }

    /// The value `value` stands for, following aliases.
    pub fn resolve_aliases(&self, mut value: Value) -> Value {
        // A chain never cycles (`change_to_alias` checks), and is at most as
        // long as there are values.
        for _ in 0..=self.values.len() {
            match self.values[value].def {
                // A placeholder (an alias of itself) stands for itself.
                ValueDef::Alias(target) if target != value => value = target,
                _ => return value,
            }
        }
        unreachable!("an alias cycle through {value}")
    }

    /// Makes `value` an alias of `target` (same type). Its old definition
    /// (a result or parameter) is left without a value of its own.
    pub fn change_to_alias(&mut self, value: Value, target: Value) {
        let target = self.resolve_aliases(target);
        assert_ne!(value, target, "aliasing {value} to itself");
        assert_eq!(
            self.value_type(value),
            self.value_type(target),
            "aliasing {value} to a value of another type"
        );
        self.values[value].def = ValueDef::Alias(target);
    }

    /// Creates a value that is an alias of `target` (for the parser, which
    /// may meet a use of an alias before its target's definition).
    pub fn make_alias(&mut self, target: Value, ty: Type) -> Value {
        self.values.push(ValueData {
            ty,
            def: ValueDef::Alias(target),
        })
    }

    /// Creates a value standing for nothing yet (the parser's forward
    /// references), to be defined by [`set_value_def`](Self::set_value_def).
    /// Until then it is an alias of itself, which the verifier reports as
    /// undefined.
    pub fn make_placeholder(&mut self, ty: Type) -> Value {
        let v = self.values.next_key();
        self.values.push(ValueData {
            ty,
            def: ValueDef::Alias(v),
        })
    }

    /// Whether `value` is a placeholder never defined.
    pub fn is_placeholder(&self, value: Value) -> bool {
        self.values[value].def == ValueDef::Alias(value)
    }

    /// Defines a placeholder.
    pub fn set_value_def(&mut self, value: Value, ty: Type, def: ValueDef) {
        self.values[value] = ValueData { ty, def };
    }

    /// Replaces every use of an alias by its target, in every instruction
    /// in `insts`.
    pub fn resolve_all_aliases(&mut self, insts: impl IntoIterator<Item = Inst>) {
        for inst in insts {
            let values = &self.values;
            let resolve = |mut v: Value| {
                while let ValueDef::Alias(t) = values[v].def {
                    if t == v {
                        break;
                    }
                    v = t;
                }
                v
            };
            let mut resolved = Vec::new();
            self.for_each_inst_arg(inst, |v| resolved.push(resolve(v)));
            let mut next = resolved.into_iter();
            self.map_inst_args(inst, |v| next.next().unwrap_or(v));
        }
    }
}
