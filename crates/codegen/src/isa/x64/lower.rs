//! Lowering a function to VCode: the driver, and the Rust side of the ISLE
//! rules (`isle/codegen/x64/lower.isle`, generated into [`generated`]).
//!
//! # Order and block layout
//!
//! Blocks are lowered in reverse postorder, so every value's definition is
//! lowered before its uses (definitions dominate uses, and a dominator comes
//! first in RPO): a value's register is known when a use needs it, without
//! renaming. Unreachable blocks are not lowered.
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
//! `cmp; jcc`), `return` (results in the ABI registers), `trap` (`ud2`).
//! An instruction no rule covers yet is [`CodegenError::Unsupported`],
//! naming it.

#[allow(missing_docs, clippy::all)]
pub mod generated;

use super::{CompileOptions, ImplicitTraps};
use crate::CodegenError;
use crate::dominator_tree::DominatorTree;
use crate::entity::SecondaryMap;
use crate::flowgraph::ControlFlowGraph;
use crate::ir::{self, Function, InstructionData, Opcode, ValueDef};
use crate::machinst::{VCode, VInst};
use cranelift_asm::reg::{PReg, PRegSet, Reg, RegClass, Writable};
use cranelift_asm::x64::inst::{CallDest, CallInfo, GprMem, GprMemImm, WritableGpr};
use cranelift_asm::x64::{Assembler, CC, Gpr, GprReg, JumpTableTargets, MInst, OperandSize, Scale};
use duet_environ::abi::{self, AbiType, ArgLocation, CallSignature};

// The names the generated code refers to (`use super::*`).
pub use cranelift_asm::x64::inst::{
    AluOp, Amode, BitOp, BoxCallInfo, BoxJumpTable, ExtMode, FloatSize, GprImm, Label, RoundMode,
    ShiftAmount, ShiftOp, SseMovOp, SseOp, TrapCode, UnaryOp, WritableXmm, XmmMem, XmmReg,
};
pub use ir::{FloatCC, Inst, IntCC, Type, Value};

/// Two result registers (quotient and remainder).
pub type ValueRegsPair = (GprReg, GprReg);
/// Three values of a ternary instruction.
pub type ValueArray3 = [Value; 3];
pub use ir::MemFlags;

/// ISLE's unit type.
pub type Unit = ();
/// Two values of a binary instruction.
pub type ValueArray2 = [Value; 2];
/// The registers holding an instruction's results.
pub type InstOutput = Vec<Reg>;

/// Where the calling convention puts a value.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Loc {
    /// In a register.
    Reg(PReg),
    /// At this offset in the stack-argument area (arguments) or the return
    /// area (results).
    Stack(u32),
}

/// The calling-convention type of an IR type (narrow integers travel as
/// `i32`s).
fn abi_type(ty: Type) -> AbiType {
    match ty {
        Type::I8 | Type::I16 | Type::I32 => AbiType::I32,
        Type::I64 => AbiType::I64,
        Type::F32 => AbiType::F32,
        Type::F64 => AbiType::F64,
        Type::V128 => AbiType::V128,
    }
}

/// Where `duet_environ::abi` puts a value.
fn loc(location: ArgLocation) -> Loc {
    match location {
        ArgLocation::Gpr(reg) => Loc::Reg(reg.to_preg()),
        ArgLocation::Xmm(reg) => Loc::Reg(reg.to_preg()),
        ArgLocation::Stack { offset } => Loc::Stack(offset),
    }
}

/// The locations of arguments of `types`: `duet_environ::abi`'s
/// [`CallSignature::system_v`], every parameter explicit. A wasm
/// function's IR takes its VMContext as the first integer parameter, which
/// so lands in `abi::VMCTX`, and the rest where the wasm convention wants
/// them. Also returns the stack area's size (where the return area
/// begins).
pub fn arg_locations(types: &[Type]) -> (Vec<Loc>, u32) {
    let params: Vec<AbiType> = types.iter().map(|&ty| abi_type(ty)).collect();
    let sig = CallSignature::system_v(&params, &[]);
    (
        sig.params.into_iter().map(loc).collect(),
        sig.stack_args_size,
    )
}

/// The locations of results of `types`, as `duet_environ::abi` puts them:
/// the first in a register, every further one in the return area (offsets
/// from the area's start, which does not depend on the arguments). Also
/// returns the area's size.
pub fn ret_locations(types: &[Type]) -> (Vec<Loc>, u32) {
    let results: Vec<AbiType> = types.iter().map(|&ty| abi_type(ty)).collect();
    let sig = CallSignature::system_v(&[], &results);
    (
        sig.results.into_iter().map(loc).collect(),
        sig.return_area_size,
    )
}

/// The registers a call may change: every caller-saved register
/// (`duet_environ::abi`).
fn call_clobbers() -> PRegSet {
    let mut set = PRegSet::empty();
    for r in abi::CALLER_SAVED_GPRS {
        set.add(r.to_preg());
    }
    for r in abi::CALLER_SAVED_XMMS {
        set.add(r.to_preg());
    }
    set
}

/// The lowering state of one function.
struct Lower<'f> {
    func: &'f Function,
    vcode: VCode,
    /// The register of each value lowered so far.
    regs: SecondaryMap<Value, Option<Reg>>,
    /// How many instructions use each value.
    uses: SecondaryMap<Value, u32>,
    /// The one instruction using each value, when [`Lower::uses`] is 1.
    user: SecondaryMap<Value, Option<Inst>>,
    /// Values used in a block other than their definition's.
    escapes: SecondaryMap<Value, bool>,
    /// Values with a use no rule can fold them into: anything but a load's
    /// or store's address, an operand of an `iadd` with a constant (an
    /// address mode's displacement, or a three-operand `lea`) and a
    /// `select`'s condition.
    unfoldable_use: SecondaryMap<Value, bool>,
    /// Values with a use that is not an `iadd` operand (where a shift by 1
    /// to 3 folds as a scaled index).
    non_sum_use: SecondaryMap<Value, bool>,
    /// Each instruction's place in the layout, counting from 0 over all
    /// blocks in RPO.
    position: SecondaryMap<Inst, u32>,
    /// `icmp`s folded into the `brif` that uses them.
    sunk: SecondaryMap<Inst, bool>,
    /// Instructions whose lowering waits for a use (see the module docs).
    deferred: SecondaryMap<Inst, bool>,
    /// The deferred loads of the current block, in order.
    pending_loads: Vec<Inst>,
    /// Constants materialized in a VCode block: `(block serial, register)`.
    constants: SecondaryMap<Value, Option<(u32, Reg)>>,
    /// Counts the VCode blocks started, naming the current one.
    serial: u32,
    /// The instruction being lowered.
    current: Option<Inst>,
    /// The first instruction found unlowerable while materializing a value.
    error: Option<CodegenError>,
    /// Each stack slot's displacement from `rbp`.
    slot_disp: SecondaryMap<ir::StackSlot, i32>,
    traps: ImplicitTraps,
}

/// The register class of a type.
fn class_of(ty: Type) -> RegClass {
    if ty.is_float() || ty == Type::V128 {
        RegClass::Float
    } else {
        RegClass::Int
    }
}

/// Whether `opcode` makes a constant, which is materialized afresh in
/// every block that needs it in a register.
fn is_constant(opcode: Opcode) -> bool {
    matches!(opcode, Opcode::Iconst | Opcode::F32const | Opcode::F64const)
}

impl Lower<'_> {
    /// The register holding `v`, lowering its deferred definition (or
    /// materializing its constant in this block) on the first demand.
    fn reg(&mut self, v: Value) -> Reg {
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

    fn gpr(&mut self, v: Value) -> GprReg {
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
    /// that nothing but constants (a flag-preserving `mov`) is emitted in
    /// the middle of the rule's sequence. Left deferred: constants (a rule
    /// may fold them as immediates), the address of a load or store and
    /// the address parts of a deferred load (folded into address modes;
    /// their leaves are materialized here instead), a deferred load the
    /// rule may fold into a memory operand, the sum or shift an `iadd`
    /// may fold into an `lea`, and the `icmp` a `select` may fuse.
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
        for v in args {
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
            if data.opcode() == Opcode::Iadd && matches!(def_opcode, Opcode::Iadd | Opcode::Ishl) {
                // The rules may fold it into an `lea` (they emit nothing
                // before asking).
                continue;
            }
            if let InstructionData::Ternary {
                opcode: Opcode::Select,
                args,
            } = data
                && def_opcode == Opcode::Icmp
                && func.dfg.resolve_aliases(args[0]) == v
            {
                // The rules may fuse it (`cmp; cmov`), and ask first.
                continue;
            }
            if Some(v) == address {
                self.address(v, 0);
            } else if let InstructionData::Load { arg, offset, .. } = *func.dfg.inst(def) {
                self.address(arg, offset);
            } else {
                self.materialize(def);
            }
        }
    }

    /// Lowers the deferred loads still pending that may not move past
    /// `before`, an instruction with effects: all of them before a store,
    /// a call or a terminator, and the ones that may trap before another
    /// instruction that may. A load `before` itself uses stays pending
    /// (it may fold into it); so do `readonly` loads that cannot trap, and
    /// loads nothing uses that cannot trap (dropped).
    fn flush_loads(&mut self, before: Inst) {
        let opcode = self.func.dfg.inst(before).opcode();
        let barrier = opcode.can_store() || opcode.is_call() || opcode.is_terminator();
        for load in std::mem::take(&mut self.pending_loads) {
            if !self.deferred[load] {
                continue;
            }
            let result = self.func.dfg.first_result(load);
            let traps = self.has_effects(load);
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
            let used_here = user == Some(before) && !opcode.is_terminator();
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

    /// The definition of `v` if it is still deferred and has `opcode`.
    fn deferred_def(&self, v: Value, opcode: Opcode) -> Option<InstructionData> {
        let v = self.func.dfg.resolve_aliases(v);
        let ValueDef::Result(inst, _) = self.func.dfg.value_def(v) else {
            return None;
        };
        let data = *self.func.dfg.inst(inst);
        (self.deferred[inst] && data.opcode() == opcode).then_some(data)
    }

    /// The constant `v` if it is an `iconst`.
    fn iconst_value(&self, v: Value) -> Option<i64> {
        let v = self.func.dfg.resolve_aliases(v);
        let ValueDef::Result(inst, _) = self.func.dfg.value_def(v) else {
            return None;
        };
        match *self.func.dfg.inst(inst) {
            InstructionData::UnaryImm {
                opcode: Opcode::Iconst,
                imm,
            } => Some(self.func.dfg.value_type(v).sign_extend(imm)),
            _ => None,
        }
    }

    /// `x + y + disp` as an address mode's parts: a constant folds into
    /// the displacement, a deferred `ishl` by 1 to 3 into the index's
    /// scale.
    fn address_sum(&mut self, x: Value, y: Value, disp: i32) -> AddressParts {
        for (a, b) in [(x, y), (y, x)] {
            if let Some(c) = self.iconst_value(b)
                && let Some(disp) = i32::try_from(c).ok().and_then(|c| c.checked_add(disp))
            {
                return self.address(a, disp);
            }
        }
        for (a, b) in [(x, y), (y, x)] {
            if let Some(InstructionData::Binary { args, .. }) = self.deferred_def(b, Opcode::Ishl)
                && let Some(shift @ 1..=3) = self.iconst_value(args[1])
            {
                let scale = Scale::new(1 << shift).expect("1 to 3 make a scale");
                let index = self.gpr(args[0]);
                return (Some(self.gpr(a)), Some((index, scale)), disp);
            }
        }
        // The index first: in wasm it is the `uextend` of an address
        // computed before the heap base is loaded.
        let index = self.gpr(y);
        (Some(self.gpr(x)), Some((index, Scale::One)), disp)
    }

    /// The address `v + disp` as an address mode's parts, folding a
    /// deferred 64-bit `iadd` (the sum of a heap base and an index).
    fn address(&mut self, v: Value, disp: i32) -> AddressParts {
        if self.func.dfg.value_type(v) == Type::I64
            && let Some(InstructionData::Binary { args, .. }) = self.deferred_def(v, Opcode::Iadd)
        {
            return self.address_sum(args[0], args[1], disp);
        }
        (Some(self.gpr(v)), None, disp)
    }
}

/// An address mode's base, index and displacement.
type AddressParts = (Option<GprReg>, Option<(GprReg, Scale)>, i32);

impl generated::Context for Lower<'_> {
    fn inst_data(&mut self, inst: Inst) -> InstructionData {
        *self.func.dfg.inst(inst)
    }

    fn unpack_value_array_2(&mut self, args: ValueArray2) -> (Value, Value) {
        (args[0], args[1])
    }

    fn result_type(&mut self, inst: Inst) -> Option<Type> {
        self.func
            .dfg
            .inst_results(inst)
            .first()
            .map(|&v| self.func.dfg.value_type(v))
    }

    fn def_inst(&mut self, v: Value) -> Option<Inst> {
        match self.func.dfg.value_def(v) {
            ValueDef::Result(inst, _) => Some(inst),
            _ => None,
        }
    }

    fn int_ty(&mut self, ty: &Type) -> Option<Type> {
        matches!(ty, Type::I32 | Type::I64).then_some(*ty)
    }

    fn narrow_ty(&mut self, ty: &Type) -> Option<Type> {
        matches!(ty, Type::I8 | Type::I16).then_some(*ty)
    }

    fn any_int_ty(&mut self, ty: &Type) -> Option<Type> {
        ty.is_int().then_some(*ty)
    }

    fn i64_sub(&mut self, a: i64, b: i64) -> i64 {
        a - b
    }

    fn i64_shl(&mut self, a: i64, b: i64) -> i64 {
        a << b
    }

    fn store_width(&mut self, op: &Opcode, ty: &Type) -> OperandSize {
        match (op, ty.bits()) {
            (Opcode::Istore8, _) | (Opcode::Store, 8) => OperandSize::S8,
            (Opcode::Istore16, _) | (Opcode::Store, 16) => OperandSize::S16,
            (Opcode::Istore32, _) | (Opcode::Store, 32) => OperandSize::S32,
            _ => OperandSize::S64,
        }
    }

    fn store_imm(&mut self, op: &Opcode, v: Value) -> Option<i32> {
        let ty = self.func.dfg.value_type(v);
        if !ty.is_int() {
            return None;
        }
        let n = self.iconst_value(v)?;
        // The immediate the instruction sign-extends to its width.
        match self.store_width(op, &ty) {
            OperandSize::S8 => Some(i32::from(n as i8)),
            OperandSize::S16 => Some(i32::from(n as i16)),
            OperandSize::S32 => Some(n as i32),
            OperandSize::S64 => i32::try_from(n).ok(),
        }
    }

    fn shift_count_reg(&mut self, count: GprReg) -> ShiftAmount {
        ShiftAmount::Cl(count)
    }

    fn imm_operand(&mut self, n: i64) -> GprMemImm {
        GprMemImm::Imm(i32::try_from(n).expect("a small immediate"))
    }

    fn put_in_gpr(&mut self, v: Value) -> GprReg {
        self.gpr(v)
    }

    fn temp_writable_gpr(&mut self) -> WritableGpr {
        let reg = self.vcode.vreg(RegClass::Int);
        Writable::from_reg(GprReg::new(reg).expect("an integer vreg"))
    }

    fn writable_gpr_to_gpr(&mut self, w: WritableGpr) -> GprReg {
        w.to_reg()
    }

    fn gpr_to_gpr_mem_imm(&mut self, g: GprReg) -> GprMemImm {
        GprMemImm::Gpr(g)
    }

    fn gpr_to_gpr_mem(&mut self, g: GprReg) -> GprMem {
        GprMem::Gpr(g)
    }

    fn low32_mask(&mut self, v: Value) -> Option<()> {
        (self.func.dfg.value_type(v) == Type::I64 && self.iconst_value(v) == Some(0xffff_ffff))
            .then_some(())
    }

    fn simm32_operand(&mut self, v: Value) -> Option<GprMemImm> {
        let ValueDef::Result(inst, _) = self.func.dfg.value_def(v) else {
            return None;
        };
        let InstructionData::UnaryImm {
            opcode: Opcode::Iconst,
            imm,
        } = *self.func.dfg.inst(inst)
        else {
            return None;
        };
        let ty = self.func.dfg.value_type(v);
        let imm = if ty.bits() < 32 {
            // Narrow values are kept zero-extended, and so are their
            // immediates (the 32-bit instruction must not set high bits).
            ty.zero_extend(imm) as i32
        } else if ty.bits() == 32 {
            ty.sign_extend(imm) as i32
        } else {
            i32::try_from(imm).ok()?
        };
        Some(GprMemImm::Imm(imm))
    }

    fn output_gpr(&mut self, g: GprReg) -> InstOutput {
        vec![g.to_reg()]
    }

    fn emit(&mut self, inst: &MInst) -> Unit {
        self.vcode.push(VInst::Machine(inst.clone()));
    }

    fn imm(&mut self, ty: &Type, n: i64) -> GprReg {
        let dst = self.temp_writable_gpr();
        self.vcode.push(VInst::Machine(MInst::MovImm {
            size: if ty.bits() == 64 {
                OperandSize::S64
            } else {
                OperandSize::S32
            },
            imm: ty.zero_extend(n),
            dst,
        }));
        dst.to_reg()
    }

    fn value_type(&mut self, v: Value) -> Type {
        self.func.dfg.value_type(v)
    }

    fn shift_amount(&mut self, v: Value) -> ShiftAmount {
        if let ValueDef::Result(inst, _) = self.func.dfg.value_def(v)
            && let InstructionData::UnaryImm { imm, .. } = *self.func.dfg.inst(inst)
        {
            return ShiftAmount::Imm((imm & 63) as u8);
        }
        ShiftAmount::Cl(self.gpr(v))
    }

    fn div_trap(&mut self) -> TrapCode {
        self.traps.integer_division_by_zero
    }

    fn gpr_pair(&mut self, a: GprReg, b: GprReg) -> ValueRegsPair {
        (a, b)
    }

    fn pair_first(&mut self, p: ValueRegsPair) -> GprReg {
        p.0
    }

    fn pair_second(&mut self, p: ValueRegsPair) -> GprReg {
        p.1
    }

    fn unpack_value_array_3(&mut self, args: ValueArray3) -> (Value, Value, Value) {
        (args[0], args[1], args[2])
    }

    fn gpr_to_gpr_imm(&mut self, g: GprReg) -> GprImm {
        GprImm::Gpr(g)
    }

    fn amode(&mut self, inst: Inst) -> Amode {
        let (flags, addr, offset) = match *self.func.dfg.inst(inst) {
            InstructionData::Load {
                flags, arg, offset, ..
            } => (flags, arg, offset),
            InstructionData::Store {
                flags,
                args,
                offset,
                ..
            } => (flags, args[1], offset),
            _ => unreachable!("amode of a load or store"),
        };
        let trap = (!flags.notrap()).then_some(self.traps.memory_out_of_bounds);
        let (base, index, disp) = self.address(addr, offset);
        Amode::Reg {
            base,
            index,
            disp,
            trap,
        }
    }

    fn fusable_icmp(&mut self, v: Value) -> Option<(IntCC, Value, Value)> {
        let v = self.func.dfg.resolve_aliases(v);
        let ValueDef::Result(inst, _) = self.func.dfg.value_def(v) else {
            return None;
        };
        match *self.func.dfg.inst(inst) {
            InstructionData::IntCompare { cond, args, .. }
                if self.deferred[inst]
                    && matches!(self.func.dfg.value_type(args[0]), Type::I32 | Type::I64) =>
            {
                Some((cond, args[0], args[1]))
            }
            _ => None,
        }
    }

    fn upper_half_zero(&mut self, v: Value) -> bool {
        // The instructions whose `i32` lowering always ends in a 32-bit
        // write (ALU, shift, `lea`, `imul`, bit counts, loads, `mov`
        // immediates, `movzx`/`movsx` to 32 bits, `setcc; movzx`, 32-bit
        // `cmov`). Not: block parameters, arguments and call results
        // (whatever the sender left), `ireduce` (the same register), nor
        // anything else, to stay on the safe side.
        let v = self.func.dfg.resolve_aliases(v);
        let ValueDef::Result(inst, _) = self.func.dfg.value_def(v) else {
            return false;
        };
        if self.func.dfg.value_type(v) != Type::I32 {
            return false;
        }
        matches!(
            self.func.dfg.inst(inst).opcode(),
            Opcode::Iconst
                | Opcode::Iadd
                | Opcode::Isub
                | Opcode::Imul
                | Opcode::Band
                | Opcode::Bor
                | Opcode::Bxor
                | Opcode::Ishl
                | Opcode::Ushr
                | Opcode::Sshr
                | Opcode::Load
                | Opcode::Uload8
                | Opcode::Uload16
                | Opcode::Sload8
                | Opcode::Sload16
                | Opcode::Uextend
                | Opcode::Sextend
        )
    }

    fn sinkable_load(&mut self, v: Value) -> Option<Inst> {
        let v = self.func.dfg.resolve_aliases(v);
        let ValueDef::Result(load, _) = self.func.dfg.value_def(v) else {
            return None;
        };
        let sinkable = self.deferred[load]
            && self.uses[v] == 1
            && self.user[v] == self.current
            && matches!(
                self.func.dfg.inst(load),
                InstructionData::Load {
                    opcode: Opcode::Load,
                    ..
                }
            )
            && matches!(
                self.func.dfg.value_type(v),
                Type::I32 | Type::I64 | Type::F32 | Type::F64
            );
        sinkable.then_some(load)
    }

    fn sink_load(&mut self, load: Inst) -> Amode {
        self.deferred[load] = false;
        self.amode(load)
    }

    fn amode_to_gpr_mem_imm(&mut self, a: Amode) -> GprMemImm {
        GprMemImm::Mem(a)
    }

    fn amode_to_xmm_mem(&mut self, a: Amode) -> XmmMem {
        XmmMem::Mem(a)
    }

    fn lea_amode(&mut self, x: Value, y: Value) -> Option<Amode> {
        // Worth an `lea` over an `add`: a scaled index, or a sum of three.
        let scaled = |this: &Self, v: Value| {
            this.deferred_def(v, Opcode::Ishl)
                .is_some_and(|d| matches!(d, InstructionData::Binary { args, .. } if matches!(this.iconst_value(args[1]), Some(1..=3))))
        };
        let three = |this: &Self, a: Value, b: Value| {
            this.iconst_value(b)
                .is_some_and(|c| i32::try_from(c).is_ok())
                && this.deferred_def(a, Opcode::Iadd).is_some()
                && this.func.dfg.value_type(a) == Type::I64
        };
        // Or a sum whose operands both stay live (used elsewhere too):
        // `add` would need a copy first, `lea` writes a third register.
        let live = |this: &Self, v: Value| this.uses[this.func.dfg.resolve_aliases(v)] > 1;
        let keeps_operands = live(self, x) && (live(self, y) || self.iconst_value(y).is_some());
        if !(scaled(self, x)
            || scaled(self, y)
            || three(self, x, y)
            || three(self, y, x)
            || keeps_operands)
        {
            return None;
        }
        let (base, index, disp) = self.address_sum(x, y, 0);
        Some(Amode::Reg {
            base,
            index,
            disp,
            trap: None,
        })
    }

    fn amode_to_gpr_mem(&mut self, a: Amode) -> GprMem {
        GprMem::Mem(a)
    }

    fn output_none(&mut self) -> InstOutput {
        Vec::new()
    }

    fn put_in_xmm(&mut self, v: Value) -> XmmReg {
        XmmReg::new(self.reg(v)).expect("a float value in an XMM register")
    }

    fn temp_writable_xmm(&mut self) -> WritableXmm {
        let reg = self.vcode.vreg(RegClass::Float);
        Writable::from_reg(XmmReg::new(reg).expect("a float vreg"))
    }

    fn writable_xmm_to_xmm(&mut self, w: WritableXmm) -> XmmReg {
        w.to_reg()
    }

    fn xmm_to_xmm_mem(&mut self, x: XmmReg) -> XmmMem {
        XmmMem::Xmm(x)
    }

    fn output_xmm(&mut self, x: XmmReg) -> InstOutput {
        vec![x.to_reg()]
    }

    fn float_size(&mut self, ty: &Type) -> Option<FloatSize> {
        match ty {
            Type::F32 => Some(FloatSize::F32),
            Type::F64 => Some(FloatSize::F64),
            _ => None,
        }
    }

    fn u32_to_i64(&mut self, bits: u32) -> i64 {
        i64::from(bits)
    }

    fn u64_to_i64(&mut self, bits: u64) -> i64 {
        bits as i64
    }

    fn conversion_nan_trap(&mut self) -> TrapCode {
        self.traps.bad_conversion_to_integer
    }

    fn conversion_overflow_trap(&mut self) -> TrapCode {
        self.traps.integer_overflow
    }
}

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
        non_sum_use: SecondaryMap::default(),
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
            let foldable = lower.foldable_operands(inst);
            let sum = func.dfg.inst(inst).opcode() == Opcode::Iadd;
            let mut operand = 0;
            func.dfg.for_each_inst_arg(inst, |v| {
                let v = func.dfg.resolve_aliases(v);
                lower.uses[v] += 1;
                lower.user[v] = Some(inst);
                lower.unfoldable_use[v] |= !foldable.contains(&operand);
                lower.non_sum_use[v] |= !sum;
                operand += 1;
                let def_block = match func.dfg.value_def(v) {
                    ValueDef::Result(def, _) => func.layout.inst_block(def),
                    ValueDef::Param(b, _) => Some(b),
                    ValueDef::Alias(_) => None,
                };
                if def_block != Some(block) {
                    lower.escapes[v] = true;
                }
            });
        }
    }
    // Plan the VCode blocks: each IR block in RPO, followed by its edge
    // blocks.
    let mut plan = BlockPlan {
        main: SecondaryMap::with_default(None),
        edges: Default::default(),
        order: Vec::new(),
    };
    for &block in domtree.rpo() {
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
    fn lower_block(&mut self, block: ir::Block, plan: &BlockPlan) -> Result<(), CodegenError> {
        let func = self.func;
        self.vcode.start_block(plan.main[block].expect("planned"));
        self.serial += 1;
        if Some(block) == func.layout.entry_block() {
            self.lower_args(block)?;
        }
        // Fold an `icmp` used only by the block's `brif` into it, through
        // `uextend`s used only there (wasm's `i32.eqz; br_if`).
        if let Some(last) = func.layout.last_inst(block)
            && let InstructionData::Brif { arg, .. } = *func.dfg.inst(last)
        {
            let mut chain = Vec::new();
            let mut cond = func.dfg.resolve_aliases(arg);
            while let ValueDef::Result(def, _) = func.dfg.value_def(cond)
                && self.uses[cond] == 1
                && func.layout.inst_block(def) == Some(block)
            {
                match *func.dfg.inst(def) {
                    InstructionData::Unary {
                        opcode: Opcode::Uextend,
                        arg,
                    } => {
                        chain.push(def);
                        cond = func.dfg.resolve_aliases(arg);
                    }
                    InstructionData::IntCompare { args, .. }
                        if matches!(func.dfg.value_type(args[0]), Type::I32 | Type::I64) =>
                    {
                        chain.push(def);
                        for inst in chain.drain(..) {
                            self.sunk[inst] = true;
                        }
                        break;
                    }
                    _ => break,
                }
            }
        }
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
            let effects = self.has_effects(inst);
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
            match data {
                InstructionData::Call { func_ref, args, .. } => {
                    let ext = func.dfg.ext_funcs[func_ref];
                    let sig = func.dfg.signatures[ext.signature].clone();
                    let args = args.as_slice(&func.dfg.value_lists).to_vec();
                    let results = results.to_vec();
                    self.lower_call(CallDest::External(ext.name), None, &sig, &args, &results)?;
                }
                InstructionData::CallIndirect { sig_ref, args, .. } => {
                    let sig = func.dfg.signatures[sig_ref].clone();
                    let all = args.as_slice(&func.dfg.value_lists).to_vec();
                    let results = results.to_vec();
                    // `CallIndirect` ignores `dest`; its target is the operand.
                    let dest = CallDest::External(cranelift_asm::ExternalName::new(u32::MAX, 0));
                    self.lower_call(dest, Some(all[0]), &sig, &all[1..], &results)?;
                }
                _ => {
                    let output = self.lower_inst(inst);
                    for (&v, reg) in results.iter().zip(output) {
                        self.regs[v] = Some(reg);
                    }
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

    /// The operands of `inst`, by position in `for_each_inst_arg`'s order,
    /// a rule may fold: a load's or store's address, the non-constant
    /// operand of an `iadd` with a constant, a `select`'s condition.
    fn foldable_operands(&self, inst: Inst) -> &'static [usize] {
        match *self.func.dfg.inst(inst) {
            InstructionData::Load { .. } => &[0],
            InstructionData::Store { .. } => &[1],
            InstructionData::Binary {
                opcode: Opcode::Iadd,
                args,
            } => match (self.iconst_value(args[0]), self.iconst_value(args[1])) {
                (None, Some(_)) => &[0],
                (Some(_), None) => &[1],
                _ => &[],
            },
            InstructionData::Ternary {
                opcode: Opcode::Select,
                ..
            } => &[0],
            _ => &[],
        }
    }

    /// Whether pure `inst` should wait for its uses instead of being
    /// lowered where it stands: only what a rule can fold into every one of
    /// its users. That is a 64-bit `iadd` (an address's sum, or part of a
    /// three-operand `lea`), an `ishl` by 1 to 3 (a scaled index) and an
    /// `icmp` (a `select`'s condition). Everything else is lowered in
    /// program order, which keeps the order the mid-end left, and with it
    /// the register pressure: lowering an `imul` at its first use instead
    /// would keep its operands live until then.
    fn worth_deferring(&self, inst: Inst) -> bool {
        let dfg = &self.func.dfg;
        let &[v] = dfg.inst_results(inst) else {
            return false;
        };
        match *dfg.inst(inst) {
            InstructionData::Binary {
                opcode: Opcode::Iadd,
                ..
            } => !self.unfoldable_use[v] && dfg.value_type(v) == Type::I64,
            InstructionData::Binary {
                opcode: Opcode::Ishl,
                args,
            } => !self.non_sum_use[v] && matches!(self.iconst_value(args[1]), Some(1..=3)),
            InstructionData::IntCompare { .. } => !self.unfoldable_use[v],
            _ => false,
        }
    }

    /// Whether `inst` must stay where it is: it writes memory, calls,
    /// branches, or may trap (a load or store flagged `notrap` cannot).
    fn has_effects(&self, inst: Inst) -> bool {
        let data = self.func.dfg.inst(inst);
        let opcode = data.opcode();
        let trap = match data {
            InstructionData::Load { flags, .. } | InstructionData::Store { flags, .. } => {
                !flags.notrap()
            }
            _ => opcode.can_trap(),
        };
        trap || opcode.can_store() || opcode.is_call() || opcode.is_terminator()
    }

    /// The entry's arguments where the convention puts them: registers
    /// through the `Args` pseudo-instruction, stack arguments loaded from
    /// the caller's frame (`[rbp + 16 + offset]`).
    fn lower_args(&mut self, entry: ir::Block) -> Result<(), CodegenError> {
        let func = self.func;
        let params = func.dfg.block_params(entry);
        let types: Vec<Type> = params.iter().map(|&v| func.dfg.value_type(v)).collect();
        let (locs, _) = arg_locations(&types);
        let mut defs: Vec<(Reg, PReg)> = Vec::new();
        let mut loads = Vec::new();
        for ((&v, &ty), loc) in params.iter().zip(&types).zip(locs) {
            let reg = self.vcode.vreg(class_of(ty));
            self.regs[v] = Some(reg);
            match loc {
                Loc::Reg(preg) => defs.push((reg, preg)),
                Loc::Stack(offset) => loads.push((reg, ty, 16 + offset as i32)),
            }
        }
        self.vcode.push(VInst::Args(defs));
        for (reg, ty, disp) in loads {
            let addr = Amode::base(GprReg::from(Gpr::RBP), disp);
            self.load(reg, ty, addr);
        }
        Ok(())
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
    fn load(&mut self, reg: Reg, ty: Type, addr: Amode) {
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
                op: if ty == Type::F32 {
                    SseMovOp::Movss
                } else {
                    SseMovOp::Movsd
                },
                src: addr,
                dst: Writable::from_reg(XmmReg::new(reg).expect("a float vreg")),
            },
        };
        self.vcode.push(VInst::Machine(inst));
    }

    /// `[addr] = reg`, a whole value of type `ty` (a narrow one its width).
    fn store(&mut self, reg: Reg, ty: Type, addr: Amode) {
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
                op: if ty == Type::F32 {
                    SseMovOp::Movss
                } else {
                    SseMovOp::Movsd
                },
                src: XmmReg::new(reg).expect("a float vreg"),
                dst: addr,
            },
        };
        self.vcode.push(VInst::Machine(inst));
    }

    /// A call to `dest` (or through `target`) with `args`, results into
    /// `results`: stack arguments stored into the outgoing area, register
    /// arguments as fixed uses, the first result as a fixed def, the rest
    /// loaded from the return area after the stack arguments.
    fn lower_call(
        &mut self,
        dest: CallDest,
        target: Option<Value>,
        sig: &ir::Signature,
        args: &[Value],
        results: &[Value],
    ) -> Result<(), CodegenError> {
        let (arg_locs, stack_args) = arg_locations(&sig.params);
        let (ret_locs, ret_area) = ret_locations(&sig.returns);
        self.vcode.reserve_outgoing(stack_args + ret_area);
        let mut uses = Vec::new();
        for (&v, (&ty, loc)) in args.iter().zip(sig.params.iter().zip(arg_locs)) {
            let reg = self.reg(v);
            match loc {
                Loc::Reg(preg) => uses.push((reg, preg)),
                Loc::Stack(offset) => {
                    self.store(reg, ty, Amode::base(GprReg::from(Gpr::RSP), offset as i32))
                }
            }
        }
        let mut defs = Vec::new();
        let mut loads = Vec::new();
        for (&v, (&ty, loc)) in results.iter().zip(sig.returns.iter().zip(ret_locs)) {
            let reg = self.vcode.vreg(class_of(ty));
            self.regs[v] = Some(reg);
            match loc {
                Loc::Reg(preg) => defs.push((Writable::from_reg(reg), preg)),
                Loc::Stack(offset) => loads.push((reg, ty, (stack_args + offset) as i32)),
            }
        }
        let mut clobbers = call_clobbers();
        for (_, preg) in &defs {
            clobbers.remove(*preg);
        }
        let info = Box::new(CallInfo {
            dest,
            uses,
            defs,
            clobbers,
        });
        let inst = match target {
            None => MInst::Call { info },
            Some(callee) => MInst::CallIndirect {
                target: GprMem::Gpr(self.gpr(callee)),
                info,
            },
        };
        self.vcode.push(VInst::Machine(inst));
        for (reg, ty, disp) in loads {
            self.load(reg, ty, Amode::base(GprReg::from(Gpr::RSP), disp));
        }
        Ok(())
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
                        let rhs = generated::Context::simm32_operand(self, args[1])
                            .unwrap_or_else(|| GprMemImm::Gpr(self.gpr(args[1])));
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
                let (locs, _) = ret_locations(&func.signature.returns);
                let (_, stack_args) = arg_locations(&func.signature.params);
                let mut uses = Vec::new();
                for (&v, loc) in values.iter().zip(locs) {
                    let reg = self.reg(v);
                    match loc {
                        Loc::Reg(preg) => uses.push((reg, preg)),
                        // The caller's return area follows its stack
                        // arguments, above the return address and saved rbp.
                        Loc::Stack(offset) => {
                            let disp = 16 + stack_args as i32 + offset as i32;
                            let ty = func.dfg.value_type(v);
                            self.store(reg, ty, Amode::base(GprReg::from(Gpr::RBP), disp));
                        }
                    }
                }
                self.vcode.push(VInst::Ret(uses));
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

#[cfg(test)]
mod tests {
    use super::*;

    /// The words of the `(type NAME extern (enum ...))` declaration in the
    /// lowering rules (variant names only).
    fn isle_enum(text: &str, name: &str) -> Vec<String> {
        let start = text
            .find(&format!("(type {name} extern (enum"))
            .unwrap_or_else(|| panic!("{name} is declared"));
        let body = &text[start..];
        let end = body.find("))").expect("the declaration ends");
        body[..end]
            .split_whitespace()
            .skip(4)
            .map(|w| w.trim_matches(|c| c == '(' || c == ')').to_string())
            .collect()
    }

    /// The lowering rules and the mid-end rules both declare the IR's
    /// enums; both lists must match the Rust ones.
    #[test]
    fn the_isle_declarations_list_the_ir_enums_exactly() {
        let lower = include_str!("../../../../../isle/codegen/x64/lower.isle");
        let opts = include_str!("../../../../../isle/codegen/opts/opts.isle");
        let opcodes: Vec<String> = Opcode::ALL.iter().map(|op| format!("{op:?}")).collect();
        let types: Vec<String> = Type::ALL.iter().map(|t| format!("{t:?}")).collect();
        for text in [lower, opts] {
            assert_eq!(isle_enum(text, "Opcode"), opcodes);
            assert_eq!(isle_enum(text, "Type"), types);
        }
        let conds: Vec<String> = IntCC::ALL.iter().map(|c| format!("{c:?}")).collect();
        assert_eq!(isle_enum(lower, "IntCC"), conds);
        assert_eq!(isle_enum(opts, "IntCC"), conds);
        let fconds: Vec<String> = FloatCC::ALL.iter().map(|c| format!("{c:?}")).collect();
        assert_eq!(isle_enum(lower, "FloatCC"), fconds);
    }
}
