//! The code generator's state and the operations every operator is built
//! from: materializing values, spilling, the frame, branches and calls.
//!
//! # The frame
//!
//! ```text
//!   rbp + 16 + o   stack arguments and return area (duet_environ::abi)
//!   rbp + 8        return address
//!   rbp            saved rbp
//!   rbp - 8        saved r14 (the caller's; ours holds the VMContext)
//!   rbp - 16 ...   saved r12, r13, r15, only those metering uses (`metering.rs`),
//!                  and rbx if that makes an even count (alignment padding)
//!   ...            locals, one slot each (8 bytes, 16 for a v128), index 0 highest
//!   ...            spilled values, pushed as they spill   ◄── rsp = rbp - sp_offset
//! ```
//!
//! `sp_offset` tracks `rbp - rsp` at every point of the code; `max_sp_offset`
//! its maximum, which the prologue's stack-limit check needs and which is
//! known only at the end, so the check's immediate is patched then.

use crate::error::CompileError;
use crate::regs::{
    EPOCH_COUNTER, FUEL, FUEL_ADDRESS, RegSet, SCRATCH, TIER_UP_BUDGET, VMCTX, XMM_SCRATCH,
};
use crate::stack::{Val, ValueStack, slot_size, slots_size};
use cranelift_asm::ExternalName;
use cranelift_asm::buffer::Label;
use cranelift_asm::x64::{
    Amode, Assembler, CC, Feature, FloatSize, Gpr, GprMem, GprMemImm, OperandSize, PatchableImm32,
    SseMovOp, Xmm, XmmMem,
};
use duet_environ::abi::{self, AbiType, ArgLocation, CallSignature};
use duet_environ::module::FuncType;
use duet_environ::module_env::ModuleEnvironment;
use duet_environ::trap::Trap;
use duet_environ::vmoffsets::{VMContext, VMFuncRef, VMFunctionImport};
use wasmparser::ValType;

/// Where a call goes.
#[derive(Copy, Clone, Debug)]
pub(crate) enum Callee {
    /// A function this module defines (a call relocation).
    Defined(u32),
    /// An imported function: its `VMFunctionImport` is at this offset.
    Imported {
        /// The record's offset in the VMContext.
        offset: u32,
    },
    /// A `VMFuncRef` whose address is in this register (never an argument
    /// register; the call frees it).
    FuncRef(Gpr),
}

/// What kind of construct a control frame is.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(crate) enum FrameKind {
    /// The function body: branching to it returns.
    Function,
    /// `block`: branches go to its end.
    Block,
    /// `loop`: branches go to its start.
    Loop,
    /// `if` (before `else`): `else_label` is where the else arm starts.
    If { else_label: Label },
    /// The `else` arm of an `if`.
    Else,
    /// A construct opened in unreachable code, of any kind (see
    /// [`CodeGen::push_dead_frame`]).
    Dead,
}

/// A block, loop, if or the function body being compiled, or a construct
/// in unreachable code (a dead frame).
#[derive(Clone, Debug)]
pub(crate) struct ControlFrame {
    pub(crate) kind: FrameKind,
    pub(crate) params: Vec<ValType>,
    pub(crate) results: Vec<ValType>,
    /// Value-stack length below the frame's parameters.
    pub(crate) base_height: usize,
    /// `sp_offset` below the frame's parameters (they are in memory slots
    /// right above it on entry).
    pub(crate) base_sp_offset: u32,
    /// Where branches to the frame go (its end, or a loop's start).
    pub(crate) label: Label,
    /// Whether anything branches to the frame's end (so its end is
    /// reachable even if its body's end is not).
    pub(crate) branched_to: bool,
}

impl ControlFrame {
    /// The types a branch to this frame carries.
    pub(crate) fn branch_types(&self) -> &[ValType] {
        match self.kind {
            FrameKind::Loop => &self.params,
            _ => &self.results,
        }
    }
}

/// A local's slot.
#[derive(Copy, Clone, Debug)]
struct LocalSlot {
    ty: ValType,
    /// Bytes below `rbp`.
    offset: u32,
    /// The straight-line region ([`CodeGen::region`]) that last stored the
    /// local's slot.
    stored_in: u32,
}

/// The code generator of one function.
pub(crate) struct CodeGen<'e> {
    pub(crate) env: &'e ModuleEnvironment<'e>,
    pub(crate) asm: Assembler,
    pub(crate) stack: ValueStack,
    pub(crate) regs: RegSet,
    locals: Vec<LocalSlot>,
    pub(crate) sp_offset: u32,
    max_sp_offset: u32,
    pub(crate) control: Vec<ControlFrame>,
    /// Whether the current position can be reached; code for unreachable
    /// operators is not emitted (they are still validated).
    pub(crate) reachable: bool,
    pub(crate) results: Vec<ValType>,
    pub(crate) signature: CallSignature,
    /// The prologue's frame-size immediate, given at the end.
    frame_size: Option<PatchableImm32>,
    /// The callee-saved registers the prologue saves, in push order:
    /// `VMCTX`, then the metering registers the tunables need.
    saved_regs: Vec<Gpr>,
    /// The operator being compiled (its offset in the module).
    pub(crate) offset: u64,
    /// A comparison whose result is still only in the flags: the value on
    /// top of the value stack is this register, which does not hold it yet.
    /// `br_if`, `if` and `i32.eqz` use the condition code directly; before
    /// any other operator `materialize_condition` writes the register.
    /// Sound because nothing between the comparison and its consumer writes
    /// the flags (invariant 5).
    pending_condition: Option<(CC, Gpr)>,
    /// Numbers the straight-line regions of the code: it grows at every
    /// bound label. A local stored in the current region is read into a
    /// register rather than folded into an ALU instruction as a memory
    /// operand (see [`CodeGen::pop_operands`]).
    region: u32,
    /// The fuel of the straight-line region being compiled, when the
    /// tunables ask for fuel metering (`metering.rs`).
    pub(crate) fuel: Option<duet_environ::metering::FuelMeter>,
    /// The out-of-line epoch calls, emitted after the epilogue
    /// (`metering.rs`).
    pub(crate) epoch_stubs: Vec<crate::metering::EpochStub>,
    /// When the function checks the epoch (the tunables ask for epoch
    /// interruption and it has a loop or a call to check before): the
    /// offsets of the calls preceded by a check
    /// (`duet_environ::metering::calls_checked_for_epoch`), ascending.
    pub(crate) epoch: Option<Vec<u64>>,
    /// The function's defined index, when it counts against a tier-up
    /// budget (the tunables ask for it: `tierup.rs`).
    pub(crate) tier_up: Option<u32>,
    /// The out-of-line tier-up requests, emitted after the epilogue
    /// (`tierup.rs`).
    pub(crate) tier_up_stubs: Vec<crate::tierup::TierUpStub>,
    /// The epilogue's label, where results are in their return locations
    /// (the on-stack replacement path returns through it).
    pub(crate) epilogue: Option<Label>,
}

/// The operand size of an integer value type.
pub(crate) fn int_size(ty: ValType) -> OperandSize {
    match ty {
        ValType::I32 => OperandSize::S32,
        _ => OperandSize::S64,
    }
}

/// The width to read a value of type `ty` from its 8-byte slot with into a
/// GPR: 32 bits for `i32` and `f32`, whose stores may be 32 bits wide (a
/// wider load of a narrower store still in flight cannot be forwarded and
/// waits for the store to retire), 64 otherwise. A 32-bit load clears the
/// upper half, as invariant 2 wants.
pub(crate) fn slot_load_size(ty: ValType) -> OperandSize {
    match ty {
        ValType::I32 | ValType::F32 => OperandSize::S32,
        _ => OperandSize::S64,
    }
}

/// The float size of a float value type.
pub(crate) fn float_size(ty: ValType) -> FloatSize {
    match ty {
        ValType::F32 => FloatSize::F32,
        _ => FloatSize::F64,
    }
}

/// The move that loads or stores a value of type `ty` in an XMM register:
/// the scalar `movss` (32 bits, for `f32` and `i32`) or `movsd` (64 bits,
/// the low lane), or `movups` for a whole `v128` (unaligned: slots and
/// wasm memory need not be 16-byte aligned).
pub(crate) fn xmm_mov_op(ty: ValType) -> SseMovOp {
    match ty {
        ValType::F32 | ValType::I32 => SseMovOp::Movss,
        ValType::V128 => SseMovOp::Movups,
        _ => SseMovOp::Movsd,
    }
}

/// Whether values of type `ty` live in XMM registers (`f32`, `f64` and
/// `v128`).
pub(crate) fn in_xmm(ty: ValType) -> bool {
    matches!(ty, ValType::F32 | ValType::F64 | ValType::V128)
}

/// `[rbp - offset]`.
fn frame_slot(offset: u32) -> Amode {
    Amode::base(Gpr::RBP, -(offset as i32))
}

impl<'e> CodeGen<'e> {
    /// A code generator for a function of type `params -> results`, with
    /// epoch checks before the calls at the offsets `epoch` lists and at
    /// loop headers, if it is given (see the field).
    pub(crate) fn new(
        env: &'e ModuleEnvironment<'e>,
        asm: Assembler,
        params: &[ValType],
        results: &[ValType],
        epoch: Option<Vec<u64>>,
        tier_up: Option<u32>,
    ) -> Self {
        let abi_params: Vec<AbiType> = params.iter().map(|&t| t.into()).collect();
        let abi_results: Vec<AbiType> = results.iter().map(|&t| t.into()).collect();
        let tunables = env.tunables();
        let mut saved_regs = vec![VMCTX];
        if epoch.is_some() {
            saved_regs.push(EPOCH_COUNTER);
        }
        if tunables.consume_fuel {
            saved_regs.extend([FUEL_ADDRESS, FUEL]);
        }
        if tier_up.is_some() {
            saved_regs.push(TIER_UP_BUDGET);
        }
        // An odd number of saved registers keeps the slots where the
        // unmetered frame has them, 8 mod 16 below `rbp`: `v128` slots are
        // moved with `movups`, and shifting them all by 8 puts some across
        // cache lines (blake3-simd ran 1.45x slower with epochs on, one
        // register saved more, before this padding). `rbx` is never used,
        // so saving it is only the padding (or, when it holds the tier-up
        // budget, the first callee-saved register metering leaves unused).
        if saved_regs.len() % 2 == 0 {
            let unused = [Gpr::RBX, EPOCH_COUNTER, FUEL_ADDRESS, FUEL]
                .into_iter()
                .find(|r| !saved_regs.contains(r))
                .expect("five callee-saved registers, four at most in use");
            saved_regs.push(unused);
        }
        let saved_regs_size = 8 * saved_regs.len() as u32;
        CodeGen {
            env,
            asm,
            stack: ValueStack::default(),
            regs: RegSet::new(),
            locals: Vec::new(),
            sp_offset: saved_regs_size,
            max_sp_offset: saved_regs_size,
            control: Vec::new(),
            reachable: true,
            results: results.to_vec(),
            signature: CallSignature::new(&abi_params, &abi_results),
            frame_size: None,
            saved_regs,
            offset: 0,
            pending_condition: None,
            region: 0,
            fuel: env
                .tunables()
                .consume_fuel
                .then(duet_environ::metering::FuelMeter::new),
            epoch_stubs: Vec::new(),
            epoch,
            tier_up,
            tier_up_stubs: Vec::new(),
            epilogue: None,
        }
    }

    /// An error for an operator (or value type) not supported yet;
    /// `operator` is its snake-case name (`v128_const`, as wasmparser's
    /// visitor methods have it), which the error spells as the text
    /// format does (`v128.const`).
    pub(crate) fn unsupported(&self, operator: &str) -> CompileError {
        CompileError::Unsupported {
            operator: duet_environ::operator::text_name(operator),
            offset: self.offset,
        }
    }

    /// Refuses value types the compiler cannot hold yet.
    pub(crate) fn check_type(&self, ty: ValType) -> Result<(), CompileError> {
        match ty {
            ValType::I32 | ValType::I64 | ValType::F32 | ValType::F64 => Ok(()),
            ValType::V128 => self.check_simd(),
            ValType::Ref(r) if r.is_func_ref() || r.is_extern_ref() => Ok(()),
            ValType::Ref(_) => Err(self.unsupported("GC reference values")),
        }
    }

    /// Refuses SIMD on a CPU without SSE4.1, which the vector code assumes
    /// throughout (`pshufb`, `pblendvb`, `ptest`, `pmovsx`, `pminsd`,
    /// `roundps`, ...): an error naming the feature, never a fallback
    /// that could differ.
    pub(crate) fn check_simd(&self) -> Result<(), CompileError> {
        if self.asm.features().has(Feature::Sse41) {
            return Ok(());
        }
        Err(CompileError::MissingFeature {
            what: "SIMD (v128)",
            feature: Feature::Sse41,
            offset: self.offset,
        })
    }

    pub(crate) fn grow_stack(&mut self, bytes: u32) {
        self.sp_offset += bytes;
        self.max_sp_offset = self.max_sp_offset.max(self.sp_offset);
    }

    // ---- Pending comparisons ----------------------------------------------

    /// Pushes `reg` as the pending result of a comparison whose condition
    /// code is `cc` (the register is written only if something reads it).
    pub(crate) fn set_pending_condition(&mut self, cc: CC, reg: Gpr) {
        self.pending_condition = Some((cc, reg));
        self.push_gpr(reg, ValType::I32);
    }

    /// The condition code of the top value, if it is a pending comparison.
    pub(crate) fn pending_condition_on_top(&self) -> Option<CC> {
        let (cc, reg) = self.pending_condition?;
        matches!(self.stack.last(), Some(Val::Gpr { reg: top, .. }) if *top == reg).then_some(cc)
    }

    /// The register of the pending comparison, if there is one: it holds
    /// nothing yet, so code before the comparison's consumer may use it
    /// as long as it leaves the flags alone.
    pub(crate) fn pending_condition_reg(&self) -> Option<Gpr> {
        self.pending_condition.map(|(_, reg)| reg)
    }

    /// Forgets the pending comparison (its consumer took it).
    pub(crate) fn clear_pending_condition(&mut self) {
        self.pending_condition = None;
    }

    /// Writes a pending comparison's result into its register.
    pub(crate) fn materialize_condition(&mut self) {
        if let Some((cc, reg)) = self.pending_condition.take() {
            self.asm.setcc(cc, reg);
            self.asm
                .movzx(cranelift_asm::x64::ExtMode::BL, reg, &GprMem::Gpr(reg));
        }
    }

    // ---- Prologue and epilogue -----------------------------------------

    /// Bytes below `rbp` taken before the locals: the saved registers.
    pub(crate) fn saved_regs_size(&self) -> u32 {
        8 * self.saved_regs.len() as u32
    }

    /// The prologue: frame pointer, VMContext, stack-limit check, locals.
    /// `locals` are every local after the parameters. The frame's unwind
    /// records come with the pushes (`Assembler::push_frame`).
    pub(crate) fn emit_prologue(&mut self, params: &[ValType], locals: &[ValType]) {
        use OperandSize::S64;
        self.asm.push_frame();
        for (i, &reg) in self.saved_regs.iter().enumerate() {
            self.asm.push_saved(reg, 8 * (i as u32 + 1));
        }
        self.asm.mov_rr(S64, VMCTX, abi::VMCTX);

        // r11 = rsp - (frame size); the size is known at the end.
        self.asm.mov_rr(S64, SCRATCH, Gpr::RSP);
        self.frame_size = Some(self.asm.sub_ri_patchable(S64, SCRATCH));
        self.asm.cmp_rm(
            S64,
            SCRATCH,
            &Amode::base(VMCTX, VMContext::STACK_LIMIT as i32),
        );
        self.asm.trap_if(CC::B, Trap::StackOverflow.code());

        // Locals: one slot each below the saved registers.
        for &ty in params.iter().chain(locals) {
            self.grow_stack(slot_size(ty));
            // The prologue stores every slot (parameters, and zeros) in
            // the first region.
            self.locals.push(LocalSlot {
                ty,
                offset: self.sp_offset,
                stored_in: 0,
            });
        }
        let locals_size = self.sp_offset - self.saved_regs_size();
        if locals_size > 0 {
            self.asm.sub_ri(S64, Gpr::RSP, locals_size as i32);
        }
        // Parameters go to their slots whole; an i32's upper half is
        // undefined in the calling convention, so it is cleared first (the
        // slot invariant: an i32 slot's upper half is zero). Floats are
        // stored at their size (an f32 slot's upper half is undefined).
        for (i, location) in self.signature.params.clone().into_iter().enumerate() {
            let (slot, size) = (
                frame_slot(self.locals[i].offset),
                int_size(self.locals[i].ty),
            );
            match location {
                ArgLocation::Gpr(reg) => {
                    if size == OperandSize::S32 {
                        self.asm.mov_rr(size, reg, reg);
                    }
                    self.asm.mov_mr(S64, &slot, reg)
                }
                ArgLocation::Stack { offset } if self.locals[i].ty == ValType::V128 => {
                    let op = xmm_mov_op(ValType::V128);
                    self.asm
                        .xmm_load(op, XMM_SCRATCH, &abi::incoming_slot(offset));
                    self.asm.xmm_store(op, &slot, XMM_SCRATCH);
                }
                ArgLocation::Stack { offset } => {
                    self.asm.mov_rm(size, SCRATCH, &abi::incoming_slot(offset));
                    self.asm.mov_mr(S64, &slot, SCRATCH);
                }
                ArgLocation::Xmm(reg) => {
                    self.asm
                        .xmm_store(xmm_mov_op(self.locals[i].ty), &slot, reg)
                }
            }
        }
        if !locals.is_empty() {
            self.asm.xor_rr(OperandSize::S32, SCRATCH, SCRATCH);
            for local in &self.locals[params.len()..] {
                // A v128 slot is two 8-byte halves.
                for half in (0..slot_size(local.ty)).step_by(8) {
                    let slot = frame_slot(local.offset - half);
                    self.asm.mov_mr(S64, &slot, SCRATCH);
                }
            }
        }
        self.load_metering_registers();
    }

    /// Gives the prologue's stack check the frame size.
    pub(crate) fn patch_frame_size(&mut self) {
        // The deepest the function goes below the check's rsp (which is
        // below the saved registers). The pushes made before the check
        // (rbp and the saved registers, at most 40 bytes) may land below
        // the limit before the check traps: the limit leaves the thread's
        // stack far more room than that (`Engine::max_wasm_stack`).
        let size = self.max_sp_offset - self.saved_regs_size();
        let field = self.frame_size.take().expect("the prologue was emitted");
        // A frame beyond i32::MAX bytes cannot be checked with an imm32;
        // the biggest wasm frame is far smaller (locals and the value
        // stack are bounded by the validator's limits).
        self.asm
            .patch_imm32(field, i32::try_from(size).unwrap_or(i32::MAX));
    }

    /// Restores the caller's registers and returns (results are already in
    /// their return locations). Trap stubs and constants follow it, with
    /// the body's frame as far as unwinding is concerned.
    pub(crate) fn emit_epilogue(&mut self) {
        self.asm.begin_epilogue();
        self.asm.lea(
            OperandSize::S64,
            Gpr::RSP,
            &Amode::base(Gpr::RBP, -(self.saved_regs_size() as i32)),
        );
        for i in (0..self.saved_regs.len()).rev() {
            self.asm.pop_saved(self.saved_regs[i]);
        }
        self.asm.pop_frame();
        self.asm.ret_from_frame();
    }

    // ---- Registers and materialization ---------------------------------

    /// A free GPR, spilling the value stack if none is.
    pub(crate) fn alloc_gpr(&mut self) -> Gpr {
        if let Some(reg) = self.regs.take_gpr() {
            return reg;
        }
        self.spill_all();
        self.regs
            .take_gpr()
            .expect("spilling the value stack frees every register")
    }

    /// Takes `reg` for the current operation, spilling the value stack if a
    /// value holds it.
    pub(crate) fn alloc_specific(&mut self, reg: Gpr) {
        if !self.regs.take_specific(reg) {
            self.spill_all();
            assert!(
                self.regs.take_specific(reg),
                "{reg} is held by an operand being computed"
            );
        }
    }

    /// Returns a register no longer needed.
    pub(crate) fn free_gpr(&mut self, reg: Gpr) {
        self.regs.free(reg);
    }

    /// A free XMM register, spilling the value stack if none is.
    pub(crate) fn alloc_xmm(&mut self) -> Xmm {
        if let Some(reg) = self.regs.take_xmm() {
            return reg;
        }
        self.spill_all();
        self.regs
            .take_xmm()
            .expect("spilling the value stack frees every register")
    }

    /// Takes XMM register `reg` for the current operation, spilling the
    /// value stack if a value holds it.
    pub(crate) fn alloc_specific_xmm(&mut self, reg: Xmm) {
        if !self.regs.take_specific_xmm(reg) {
            self.spill_all();
            assert!(
                self.regs.take_specific_xmm(reg),
                "{reg} is held by an operand being computed"
            );
        }
    }

    /// Returns an XMM register no longer needed.
    pub(crate) fn free_xmm(&mut self, reg: Xmm) {
        self.regs.free_xmm(reg);
    }

    /// Releases the register `val` holds, if any.
    pub(crate) fn free_val(&mut self, val: Val) {
        match val {
            Val::Gpr { reg, .. } => self.free_gpr(reg),
            Val::Xmm { reg, .. } => self.free_xmm(reg),
            _ => {}
        }
    }

    /// Moves `val` into `dst`, popping its machine-stack slot if it has one
    /// (it must then be the top of the machine stack).
    fn materialize(&mut self, val: Val, dst: Gpr) {
        match val {
            Val::I32(v) => self.asm.mov_ri(OperandSize::S32, dst, v as u32 as u64),
            Val::I64(v) => self.asm.mov_ri(OperandSize::S64, dst, v as u64),
            Val::F32(bits) => self.asm.mov_ri(OperandSize::S32, dst, bits as u64),
            Val::F64(bits) => self.asm.mov_ri(OperandSize::S64, dst, bits),
            Val::Gpr { reg, ty } => {
                if reg != dst {
                    self.asm.mov_rr(int_size(ty), dst, reg);
                }
            }
            Val::Xmm { reg, ty } => self.asm.movd_from_xmm(int_size(ty), dst, reg),
            Val::Local { index, ty } => {
                let offset = self.locals[index as usize].offset;
                self.asm
                    .mov_rm(slot_load_size(ty), dst, &frame_slot(offset));
            }
            Val::Memory { offset, ty } => {
                if offset == self.sp_offset {
                    self.asm.pop_r(dst);
                    self.sp_offset -= slot_size(ty);
                } else {
                    self.asm
                        .mov_rm(slot_load_size(ty), dst, &frame_slot(offset));
                    self.release_down_to(offset, ty);
                }
            }
        }
    }

    /// Moves `val`'s bits into the low lane of `dst`, popping its
    /// machine-stack slot if it has one (it must then be the top of the
    /// machine stack). Any value goes (reinterpretations move integers); an
    /// `f32` or `i32` is 32 bits, the rest of the lane is then undefined
    /// or, from memory and GPRs, clear. No instruction here writes the
    /// flags (the slot is released with `lea`, not `add`).
    fn materialize_xmm(&mut self, val: Val, dst: Xmm) {
        match val {
            Val::I32(_) | Val::I64(_) | Val::F32(_) | Val::F64(_) => {
                match val.constant_bits().expect("a constant") {
                    // xorps leaves the flags alone, like every form here.
                    0 => self.asm.xorps(dst, dst),
                    bits => {
                        let size = int_size(val.ty());
                        self.asm.mov_ri(size, SCRATCH, bits);
                        self.asm.movd_to_xmm(size, dst, &GprMem::Gpr(SCRATCH));
                    }
                }
            }
            Val::Gpr { reg, ty } => self.asm.movd_to_xmm(int_size(ty), dst, &GprMem::Gpr(reg)),
            Val::Xmm { reg, .. } => {
                if reg != dst {
                    self.asm.movaps_rr(dst, reg);
                }
            }
            Val::Local { index, ty } => {
                let offset = self.locals[index as usize].offset;
                self.asm.xmm_load(xmm_mov_op(ty), dst, &frame_slot(offset));
            }
            Val::Memory { offset, ty } => {
                self.asm.xmm_load(xmm_mov_op(ty), dst, &frame_slot(offset));
                self.release_down_to(offset, ty);
            }
        }
    }

    /// Releases the machine-stack slot at `offset` (the topmost live memory
    /// entry, of type `ty`, just read) and every slot above it. By
    /// invariant 1 nothing above the topmost memory entry is live: slots
    /// there are dead copies left by `spill_everything`. `lea` leaves the
    /// flags alone.
    fn release_down_to(&mut self, offset: u32, ty: ValType) {
        assert!(
            offset <= self.sp_offset,
            "a memory value above the stack pointer (operator at {:#x})",
            self.offset
        );
        let new_sp = offset - slot_size(ty);
        self.asm
            .lea(OperandSize::S64, Gpr::RSP, &frame_slot(new_sp));
        self.sp_offset = new_sp;
    }

    /// Pops the top value into some XMM register.
    pub(crate) fn pop_xmm(&mut self) -> Xmm {
        let val = self.stack.pop().expect("the validator checked the operand");
        self.val_to_xmm(val)
    }

    /// `val` (already popped) in some XMM register (its own if it has one).
    pub(crate) fn val_to_xmm(&mut self, val: Val) -> Xmm {
        if let Val::Xmm { reg, .. } = val {
            return reg;
        }
        // As in `val_to_gpr`: a memory value is on top of the machine stack,
        // so it is popped via the scratch before spilling can push above it.
        if let Val::Memory { .. } = val
            && self
                .regs
                .take_xmm()
                .map(|r| self.regs.free_xmm(r))
                .is_none()
        {
            self.materialize_xmm(val, XMM_SCRATCH);
            let reg = self.alloc_xmm();
            self.asm.movaps_rr(reg, XMM_SCRATCH);
            return reg;
        }
        let reg = self.alloc_xmm();
        if let Val::Gpr { reg: src, .. } = val {
            self.free_gpr(src);
        }
        self.materialize_xmm(val, reg);
        reg
    }

    /// Pops the top value as an operand for the source of an SSE
    /// instruction: a local's slot, or an XMM register.
    pub(crate) fn pop_xmm_mem(&mut self) -> XmmMem {
        let val = self.stack.pop().expect("validated");
        if let Val::Local { index, .. } = val {
            return XmmMem::Mem(frame_slot(self.locals[index as usize].offset));
        }
        XmmMem::Xmm(self.val_to_xmm(val))
    }

    /// Frees the register of an operand popped with [`Self::pop_xmm_mem`].
    pub(crate) fn free_xmm_mem(&mut self, operand: XmmMem) {
        if let XmmMem::Xmm(reg) = operand {
            self.free_xmm(reg);
        }
    }

    /// Pushes an XMM register value.
    pub(crate) fn push_xmm(&mut self, reg: Xmm, ty: ValType) {
        self.stack.push(Val::Xmm { reg, ty });
    }

    /// Pops the top value into some GPR.
    pub(crate) fn pop_gpr(&mut self) -> Gpr {
        let val = self.stack.pop().expect("the validator checked the operand");
        self.val_to_gpr(val)
    }

    /// `val` (already popped) in some GPR.
    pub(crate) fn val_to_gpr(&mut self, val: Val) -> Gpr {
        if let Val::Gpr { reg, .. } = val {
            return reg;
        }
        // A memory value is on top of the machine stack: spilling first (to
        // find a register) would push above it, so pop it via the scratch.
        if let Val::Memory { .. } = val
            && self.regs.take_gpr().map(|r| self.regs.free(r)).is_none()
        {
            self.materialize(val, SCRATCH);
            let reg = self.alloc_gpr();
            self.asm.mov_rr(OperandSize::S64, reg, SCRATCH);
            return reg;
        }
        let reg = self.alloc_gpr();
        self.materialize(val, reg);
        if let Val::Xmm { reg: src, .. } = val {
            self.free_xmm(src);
        }
        reg
    }

    /// Pops the top value into `reg`, which the caller has taken.
    pub(crate) fn pop_into(&mut self, reg: Gpr) {
        let val = self.stack.pop().expect("the validator checked the operand");
        if let Val::Gpr { reg: src, .. } = val
            && src != reg
        {
            self.free_gpr(src);
        }
        self.materialize(val, reg);
    }

    /// Pushes a register value.
    pub(crate) fn push_gpr(&mut self, reg: Gpr, ty: ValType) {
        self.stack.push(Val::Gpr { reg, ty });
    }

    /// Spills entry `i` to a new slot on top of the machine stack: always
    /// for registers and locals, and for constants and memory entries too
    /// when `force`d.
    fn spill_entry(&mut self, i: usize, force: bool) {
        let val = self.stack[i];
        match val {
            Val::Gpr { reg, .. } => {
                self.asm.push_r(reg);
                self.regs.free(reg);
            }
            Val::Xmm { reg, ty } => {
                self.push_xmm_slot(reg, ty);
                self.regs.free_xmm(reg);
            }
            Val::Local {
                index,
                ty: ValType::V128,
            } => {
                let offset = self.locals[index as usize].offset;
                self.asm
                    .xmm_load(SseMovOp::Movups, XMM_SCRATCH, &frame_slot(offset));
                self.push_xmm_slot(XMM_SCRATCH, ValType::V128);
            }
            Val::Memory {
                offset,
                ty: ValType::V128,
            } if force => {
                self.asm
                    .xmm_load(SseMovOp::Movups, XMM_SCRATCH, &frame_slot(offset));
                self.push_xmm_slot(XMM_SCRATCH, ValType::V128);
            }
            Val::Local { index, ty } => {
                let offset = self.locals[index as usize].offset;
                self.asm
                    .mov_rm(slot_load_size(ty), SCRATCH, &frame_slot(offset));
                self.asm.push_r(SCRATCH);
            }
            Val::I32(_) | Val::I64(_) | Val::F32(_) | Val::F64(_) if force => {
                let imm = val.constant_bits().expect("a constant");
                self.asm.mov_ri(OperandSize::S64, SCRATCH, imm);
                self.asm.push_r(SCRATCH);
            }
            Val::Memory { offset, .. } if force => {
                self.asm.push(&GprMemImm::Mem(frame_slot(offset)));
            }
            Val::I32(_) | Val::I64(_) | Val::F32(_) | Val::F64(_) | Val::Memory { .. } => return,
        }
        self.grow_stack(slot_size(val.ty()));
        self.stack.spill(
            i,
            Val::Memory {
                offset: self.sp_offset,
                ty: val.ty(),
            },
        );
    }

    /// Pushes XMM register `reg`'s value of type `ty` on the machine stack
    /// in a new slot (the caller grows `sp_offset`). `lea`, like `push`,
    /// leaves the flags alone.
    fn push_xmm_slot(&mut self, reg: Xmm, ty: ValType) {
        let size = slot_size(ty) as i32;
        self.asm
            .lea(OperandSize::S64, Gpr::RSP, &Amode::base(Gpr::RSP, -size));
        self.asm
            .xmm_store(xmm_mov_op(ty), &Amode::base(Gpr::RSP, 0), reg);
    }

    /// Spills every register and local entry of the value stack to the
    /// machine stack, bottom up. Keeps invariant 1 (crate docs): existing
    /// memory entries stay below everything spilled now.
    pub(crate) fn spill_all(&mut self) {
        for i in self.stack.no_registers()..self.stack.len() {
            self.spill_entry(i, false);
        }
        self.stack.no_registers_left();
    }

    /// Puts the whole value stack in memory, constants included (the
    /// canonical state at control-flow joins, invariant 3). A constant can
    /// only get a slot on top of the machine stack, so from the first
    /// constant up every entry is pushed again, in order (memory entries
    /// there leave a dead slot behind, reclaimed when the enclosing block
    /// resets `rsp`).
    pub(crate) fn spill_everything(&mut self) {
        // Entries below `in_memory` are memory: neither constants nor
        // anything to spill.
        let start = self.stack.in_memory();
        let first_constant = self.stack[start..].iter().position(Val::is_constant);
        let first_constant = first_constant.map_or(self.stack.len(), |p| start + p);
        for i in start..self.stack.len() {
            self.spill_entry(i, i >= first_constant);
        }
        self.stack.all_in_memory();
    }

    // ---- Locals ----------------------------------------------------------

    /// The type of local `index`.
    pub(crate) fn local_type(&self, index: u32) -> ValType {
        self.locals[index as usize].ty
    }

    /// Pops the top value into local `index`.
    pub(crate) fn set_local(&mut self, index: u32) {
        self.store_local(index, false);
    }

    /// `local.tee`: stores the top value into the local and leaves it on
    /// the stack as it was (a constant stays a constant, a register stays
    /// in its register), so the next use does not reload the local.
    pub(crate) fn tee_local(&mut self, index: u32) {
        self.store_local(index, true);
    }

    /// Pops the top value into local `index`; with `keep`, pushes it back
    /// as a constant or in the register it was stored from.
    fn store_local(&mut self, index: u32, keep: bool) {
        // Entries that still stand for the local's old value must be
        // loaded before it changes.
        if self.stack[self.stack.no_registers()..]
            .iter()
            .any(|v| matches!(v, Val::Local { index: i, .. } if *i == index))
        {
            let top = self.stack.pop().expect("validated");
            self.spill_all();
            self.stack.push(top);
        }
        let slot = frame_slot(self.locals[index as usize].offset);
        let ty = self.locals[index as usize].ty;
        self.locals[index as usize].stored_in = self.region;
        let val = self.stack.pop().expect("validated");
        if in_xmm(ty) {
            match val {
                // An f32 constant is a 32-bit immediate; an f64 one when it
                // sign-extends from one.
                Val::F32(bits) => self.asm.mov_mi(OperandSize::S32, &slot, bits as i32),
                Val::F64(bits) if i32::try_from(bits as i64).is_ok() => {
                    self.asm.mov_mi(OperandSize::S64, &slot, bits as i32)
                }
                _ => {
                    let reg = self.val_to_xmm(val);
                    self.asm.xmm_store(xmm_mov_op(ty), &slot, reg);
                    if keep {
                        self.push_xmm(reg, ty);
                    } else {
                        self.free_xmm(reg);
                    }
                    return;
                }
            }
        } else {
            match val.as_imm32() {
                // A 32-bit store leaves an i32 slot's (zero) upper half alone.
                Some(imm) => self.asm.mov_mi(int_size(ty), &slot, imm),
                None => {
                    let reg = self.val_to_gpr(val);
                    self.asm.mov_mr(int_size(ty), &slot, reg);
                    if keep {
                        self.push_gpr(reg, ty);
                    } else {
                        self.free_gpr(reg);
                    }
                    return;
                }
            }
        }
        if keep {
            // A constant, stored as an immediate.
            self.stack.push(val);
        }
    }

    // ---- Branches ----------------------------------------------------------

    /// Moves the top `count` values into the canonical slots of a frame
    /// whose base is at `base_sp_offset` (the slots right above it), and
    /// sets `rsp` below them; the values are popped.
    ///
    /// Why the moves cannot clobber a value still to be read: the `i`th
    /// destination ends `D(i) = base + s(0) + ... + s(i)` below `rbp`
    /// (`s` the slot sizes), and the source slot of a later value `k` in
    /// memory ends at least `D(k)` below, since the values below it in
    /// memory take their slots under it (values only ever stack up above
    /// the base, and by invariant 1 no register or constant lies below a
    /// memory entry); so it starts no higher than `D(k) - s(k) >= D(i)`,
    /// past the `i`th destination, and moving in order from the first
    /// value writes only slots no later value reads.
    pub(crate) fn move_to_frame_slots(&mut self, count: usize, base_sp_offset: u32) {
        let first = self.stack.len() - count;
        let values: Vec<Val> = self.stack.drain_from(first);
        // Destinations deeper than rsp (operands that were constants or
        // registers take no slot yet): lower rsp first, so nothing is ever
        // written below the stack pointer. The sources all lie above it.
        let new_sp = base_sp_offset + values.iter().map(|v| slot_size(v.ty())).sum::<u32>();
        if new_sp > self.sp_offset {
            self.asm
                .lea(OperandSize::S64, Gpr::RSP, &frame_slot(new_sp));
            self.sp_offset = new_sp;
            self.max_sp_offset = self.max_sp_offset.max(new_sp);
        }
        let mut dest_offset = base_sp_offset;
        for val in &values {
            dest_offset += slot_size(val.ty());
            let dest = frame_slot(dest_offset);
            match *val {
                Val::I32(v) => {
                    // Zero-extended: the slot's upper half must be clear.
                    self.asm.mov_ri(OperandSize::S32, SCRATCH, v as u32 as u64);
                    self.asm.mov_mr(OperandSize::S64, &dest, SCRATCH);
                }
                Val::I64(v) if i32::try_from(v).is_ok() => {
                    self.asm.mov_mi(OperandSize::S64, &dest, v as i32)
                }
                Val::I64(v) => {
                    self.asm.mov_ri(OperandSize::S64, SCRATCH, v as u64);
                    self.asm.mov_mr(OperandSize::S64, &dest, SCRATCH);
                }
                Val::F32(_) | Val::F64(_) => {
                    let bits = val.constant_bits().expect("a constant");
                    self.asm.mov_ri(OperandSize::S64, SCRATCH, bits);
                    self.asm.mov_mr(OperandSize::S64, &dest, SCRATCH);
                }
                Val::Gpr { reg, .. } => self.asm.mov_mr(OperandSize::S64, &dest, reg),
                Val::Xmm { reg, ty } => self.asm.xmm_store(xmm_mov_op(ty), &dest, reg),
                Val::Local {
                    index,
                    ty: ValType::V128,
                } => {
                    let offset = self.locals[index as usize].offset;
                    self.copy_v128(&frame_slot(offset), &dest);
                }
                Val::Memory {
                    offset,
                    ty: ValType::V128,
                } => {
                    if dest != frame_slot(offset) {
                        self.copy_v128(&frame_slot(offset), &dest);
                    }
                }
                Val::Local { index, ty } => {
                    let offset = self.locals[index as usize].offset;
                    self.asm
                        .mov_rm(slot_load_size(ty), SCRATCH, &frame_slot(offset));
                    self.asm.mov_mr(OperandSize::S64, &dest, SCRATCH);
                }
                Val::Memory { offset, ty } => {
                    if dest != frame_slot(offset) {
                        self.asm
                            .mov_rm(slot_load_size(ty), SCRATCH, &frame_slot(offset));
                        self.asm.mov_mr(OperandSize::S64, &dest, SCRATCH);
                    }
                }
            }
        }
        for val in values {
            self.free_val(val);
        }
        if new_sp != self.sp_offset {
            self.asm
                .lea(OperandSize::S64, Gpr::RSP, &frame_slot(new_sp));
        }
        self.sp_offset = new_sp;
        self.max_sp_offset = self.max_sp_offset.max(new_sp);
    }

    /// Copies the 16 bytes of a `v128` from `src` to `dest` through the
    /// XMM scratch register.
    fn copy_v128(&mut self, src: &Amode, dest: &Amode) {
        self.asm.xmm_load(SseMovOp::Movups, XMM_SCRATCH, src);
        self.asm.xmm_store(SseMovOp::Movups, dest, XMM_SCRATCH);
    }

    /// Puts the top values (the function's results) into their return
    /// locations and pops them.
    pub(crate) fn move_to_return_locations(&mut self) {
        let count = self.results.len();
        let first = self.stack.len() - count;
        let values: Vec<Val> = self.stack.drain_from(first);
        // Return-area results first (they may need rax as a scratch-free
        // path), the register result last.
        for (i, val) in values.iter().enumerate().skip(1) {
            let ArgLocation::Stack { offset } = self.signature.results[i] else {
                unreachable!("results after the first are in the return area")
            };
            let dest = abi::incoming_slot(offset);
            if let Val::Xmm { reg, ty } = *val {
                self.asm.xmm_store(xmm_mov_op(ty), &dest, reg);
                continue;
            }
            if val.ty() == ValType::V128 {
                // Not a register: a local or a memory entry (constants
                // are materialized at once).
                let src = self.val_slot(*val);
                self.copy_v128(&src, &dest);
                continue;
            }
            let reg = self.val_ref_to_scratch(*val);
            self.asm.mov_mr(OperandSize::S64, &dest, reg);
        }
        if let Some(&val) = values.first() {
            match self.signature.results[0] {
                ArgLocation::Gpr(reg) => {
                    let src = self.val_ref_to_scratch(val);
                    if src != reg {
                        self.asm.mov_rr(OperandSize::S64, reg, src);
                    }
                }
                // Loading xmm0 last cannot clobber another result: they are
                // all stored already.
                ArgLocation::Xmm(reg) => match val {
                    Val::Memory { offset, ty } => {
                        self.asm.xmm_load(xmm_mov_op(ty), reg, &frame_slot(offset))
                    }
                    _ => self.materialize_xmm(val, reg),
                },
                ArgLocation::Stack { .. } => unreachable!("the first result is in a register"),
            }
        }
        for val in values {
            self.free_val(val);
        }
    }

    /// The slot of a local or memory entry.
    pub(crate) fn val_slot(&self, val: Val) -> Amode {
        match val {
            Val::Local { index, .. } => frame_slot(self.locals[index as usize].offset),
            Val::Memory { offset, .. } => frame_slot(offset),
            _ => unreachable!("{val:?} has no slot"),
        }
    }

    /// A register holding `val` without popping machine-stack slots (a
    /// register value's own register, otherwise the scratch register).
    fn val_ref_to_scratch(&mut self, val: Val) -> Gpr {
        match val {
            Val::Gpr { reg, .. } => reg,
            Val::I32(v) => {
                self.asm.mov_ri(OperandSize::S32, SCRATCH, v as u32 as u64);
                SCRATCH
            }
            Val::I64(v) => {
                self.asm.mov_ri(OperandSize::S64, SCRATCH, v as u64);
                SCRATCH
            }
            Val::F32(_) | Val::F64(_) => {
                let bits = val.constant_bits().expect("a constant");
                self.asm.mov_ri(OperandSize::S64, SCRATCH, bits);
                SCRATCH
            }
            Val::Xmm { reg, ty } => {
                self.asm.movd_from_xmm(int_size(ty), SCRATCH, reg);
                SCRATCH
            }
            Val::Local { index, ty } => {
                let offset = self.locals[index as usize].offset;
                self.asm
                    .mov_rm(slot_load_size(ty), SCRATCH, &frame_slot(offset));
                SCRATCH
            }
            Val::Memory { offset, ty } => {
                self.asm
                    .mov_rm(slot_load_size(ty), SCRATCH, &frame_slot(offset));
                SCRATCH
            }
        }
    }

    /// Emits a branch to the frame `depth` levels up (its operands are on
    /// top of the value stack, which the branch consumes; the code after it
    /// is unreachable unless the caller restores the stack).
    pub(crate) fn emit_branch(&mut self, depth: u32) {
        let index = self.control.len() - 1 - depth as usize;
        let frame = &mut self.control[index];
        frame.branched_to = true;
        let (kind, count, base_sp, label) = (
            frame.kind,
            frame.branch_types().len(),
            frame.base_sp_offset,
            frame.label,
        );
        if kind == FrameKind::Function {
            self.move_to_return_locations();
        } else {
            self.move_to_frame_slots(count, base_sp);
        }
        self.asm.jmp(label);
    }

    /// Whether a branch to frame `index` (of the control stack) has to move
    /// operands or reset `rsp`, or is a plain jump.
    pub(crate) fn branch_needs_moves(&self, index: usize) -> bool {
        let frame = &self.control[index];
        match frame.kind {
            FrameKind::Function => !frame.results.is_empty(),
            _ => !frame.branch_types().is_empty() || self.sp_offset != frame.base_sp_offset,
        }
    }

    // ---- Calls ---------------------------------------------------------------

    /// A call of function `func_index`: defined (a relocation) or imported
    /// (through its `VMFunctionImport`).
    pub(crate) fn emit_call(&mut self, func_index: u32) -> Result<(), CompileError> {
        let ty = self.env.func_type(func_index);
        let callee = match func_index.checked_sub(self.env.module().num_imported_functions) {
            Some(_) => Callee::Defined(func_index),
            None => Callee::Imported {
                offset: self.env.offsets().imported_function(func_index),
            },
        };
        self.emit_call_to(ty, callee)
    }

    /// A call of `callee`, whose type is `ty` (as the module environment
    /// holds it: converted to wasmparser's types one value at a time, with
    /// no allocation), with its arguments on top of the value stack.
    pub(crate) fn emit_call_to(
        &mut self,
        ty: &FuncType,
        callee: Callee,
    ) -> Result<(), CompileError> {
        for &t in ty.params.iter().chain(&ty.results) {
            self.check_type(t.into())?;
        }
        let sig = CallSignature::of_func_type(ty);

        // The arguments go straight from where they are to where the
        // calling convention wants them.
        let args = self.take_call_operands(sig.params.len());
        let released_sp = self.release_point(&args);

        // Outgoing area below the arguments, with rsp 16-aligned at the call
        // (rbp is 16-aligned, so rsp's alignment is sp_offset's).
        let area = sig.outgoing_area_size();
        let below = (self.sp_offset + area).next_multiple_of(abi::STACK_ALIGNMENT) - self.sp_offset;
        if below > 0 {
            self.asm.sub_ri(OperandSize::S64, Gpr::RSP, below as i32);
        }
        self.grow_stack(below);
        self.place_arguments(&args, &sig.params);
        for &val in &args {
            self.free_val(val);
        }
        match callee {
            Callee::Defined(func_index) => {
                self.asm.mov_rr(OperandSize::S64, abi::VMCTX, VMCTX);
                self.asm
                    .call_external(ExternalName::new(abi::FUNCTION_NAMESPACE, func_index));
            }
            Callee::Imported { offset } => {
                let import = |field: u32| Amode::base(VMCTX, (offset + field) as i32);
                self.asm.mov_rm(
                    OperandSize::S64,
                    abi::VMCTX,
                    &import(VMFunctionImport::VMCTX),
                );
                self.asm
                    .call_indirect(&GprMem::Mem(import(VMFunctionImport::WASM_CALL)));
            }
            Callee::FuncRef(reg) => {
                let field = |field: u32| Amode::base(reg, field as i32);
                self.asm
                    .mov_rm(OperandSize::S64, abi::VMCTX, &field(VMFuncRef::VMCTX));
                self.asm
                    .call_indirect(&GprMem::Mem(field(VMFuncRef::WASM_CALL)));
                self.free_gpr(reg);
            }
        }
        // Any callee may have charged fuel or set it (a host function).
        self.reload_fuel();

        // The arguments' slots and the outgoing area are now dead: with at
        // most one result, release them and take the result from rax.
        let freed = self.sp_offset - released_sp;
        if sig.results.len() <= 1 {
            if freed > 0 {
                self.asm.add_ri(OperandSize::S64, Gpr::RSP, freed as i32);
            }
            self.sp_offset -= freed;
            if let Some(&ty) = ty.results.first() {
                let ty = ValType::from(ty);
                match sig.results[0] {
                    ArgLocation::Xmm(reg) => {
                        self.alloc_specific_xmm(reg);
                        self.push_xmm(reg, ty);
                    }
                    ArgLocation::Gpr(reg) => {
                        self.alloc_specific(reg);
                        if ty == ValType::I32 {
                            // Whoever the callee is, keep invariant 2.
                            self.asm.mov_rr(OperandSize::S32, reg, reg);
                        }
                        self.push_gpr(reg, ty);
                    }
                    ArgLocation::Stack { .. } => unreachable!("the first result is in a register"),
                }
            }
            return Ok(());
        }
        // Several results: push them in order above the dead area (which
        // still holds the return area), as memory entries; the dead area is
        // reclaimed when the enclosing block resets rsp.
        let sp_at_call = self.sp_offset;
        for (i, (&rty, location)) in ty.results.iter().zip(&sig.results).enumerate() {
            let rty = ValType::from(rty);
            match *location {
                ArgLocation::Gpr(reg) if i == 0 => self.asm.push_r(reg),
                ArgLocation::Xmm(reg) if i == 0 => self.push_xmm_slot(reg, rty),
                ArgLocation::Stack { offset } if rty == ValType::V128 => {
                    let slot = frame_slot(sp_at_call - offset);
                    self.asm.xmm_load(SseMovOp::Movups, XMM_SCRATCH, &slot);
                    self.push_xmm_slot(XMM_SCRATCH, rty);
                }
                ArgLocation::Stack { offset } if rty == ValType::I32 => {
                    // The calling convention leaves an i32 result's upper
                    // half undefined (the optimizing tier stores 4 bytes);
                    // an i32 slot's is zero here (invariant 2).
                    let slot = frame_slot(sp_at_call - offset);
                    self.asm.mov_rm(OperandSize::S32, SCRATCH, &slot);
                    self.asm.push_r(SCRATCH);
                }
                ArgLocation::Stack { offset } => {
                    // rsp at the call + offset = rbp - (sp_at_call - offset).
                    let slot = frame_slot(sp_at_call - offset);
                    self.asm.push(&GprMemImm::Mem(slot));
                }
                _ => unreachable!("results after the first are in the return area"),
            }
            self.grow_stack(slot_size(rty));
            self.stack.push(Val::Memory {
                offset: self.sp_offset,
                ty: rty,
            });
        }
        Ok(())
    }

    /// Pops the top `count` entries, the operands of a call, after
    /// spilling every live value below them (the call clobbers every
    /// allocatable register; constants stay constants). The operands stay
    /// where they are, for [`Self::place_arguments`].
    pub(crate) fn take_call_operands(&mut self, count: usize) -> Vec<Val> {
        let base = self.stack.len() - count;
        for i in 0..base {
            self.spill_entry(i, false);
        }
        self.stack.drain_from(base)
    }

    /// What `sp_offset` goes back to once a call whose operands were
    /// `operands` returns: the slot below the first operand in memory, or
    /// the current `sp_offset`. By invariant 1, everything above that slot
    /// is an operand or dead, and if an operand is in memory, nothing below
    /// it was just spilled.
    pub(crate) fn release_point(&self, operands: &[Val]) -> u32 {
        let first_in_memory = operands.iter().find_map(|v| match v {
            Val::Memory { offset, ty } => Some(*offset - slot_size(*ty)),
            _ => None,
        });
        match first_in_memory {
            Some(below) => below,
            None => self.sp_offset,
        }
    }

    /// Moves call arguments from their value-stack entries to their
    /// locations: stack arguments first (their sources are all still
    /// intact), then the register-to-register moves as one parallel move,
    /// then the loads and constants (whose destinations no remaining move
    /// reads any more). Uses only `SCRATCH` and `XMM_SCRATCH` besides the
    /// destinations; memory entries are read in place, not popped.
    pub(crate) fn place_arguments(&mut self, args: &[Val], locations: &[ArgLocation]) {
        let mut gpr_moves = Vec::new();
        let mut xmm_moves = Vec::new();
        for (&val, &location) in args.iter().zip(locations) {
            match (location, val) {
                (ArgLocation::Stack { offset }, _) => {
                    let dst = Amode::base(Gpr::RSP, offset as i32);
                    match val {
                        Val::Gpr { reg, .. } => self.asm.mov_mr(OperandSize::S64, &dst, reg),
                        Val::Xmm { reg, ty } => self.asm.xmm_store(xmm_mov_op(ty), &dst, reg),
                        Val::Local { .. } | Val::Memory { .. } if val.ty() == ValType::V128 => {
                            let src = self.val_slot(val);
                            self.copy_v128(&src, &dst);
                        }
                        // A constant whose 64 bits an imm32 sign-extends to.
                        _ if val
                            .constant_bits()
                            .is_some_and(|bits| i32::try_from(bits as i64).is_ok()) =>
                        {
                            let bits = val.constant_bits().expect("a constant");
                            self.asm.mov_mi(OperandSize::S64, &dst, bits as i64 as i32);
                        }
                        _ => {
                            self.load_argument(val, SCRATCH);
                            self.asm.mov_mr(OperandSize::S64, &dst, SCRATCH);
                        }
                    }
                }
                (ArgLocation::Gpr(dst), Val::Gpr { reg, .. }) => gpr_moves.push((dst, reg)),
                (ArgLocation::Xmm(dst), Val::Xmm { reg, .. }) => xmm_moves.push((dst, reg)),
                _ => {}
            }
        }
        parallel_move(&mut gpr_moves, SCRATCH, |dst, src| {
            self.asm.mov_rr(OperandSize::S64, dst, src)
        });
        parallel_move(&mut xmm_moves, XMM_SCRATCH, |dst, src| {
            self.asm.movaps_rr(dst, src)
        });
        for (&val, &location) in args.iter().zip(locations) {
            match (location, val) {
                (ArgLocation::Gpr(_), Val::Gpr { .. }) | (ArgLocation::Xmm(_), Val::Xmm { .. }) => {
                }
                (ArgLocation::Gpr(dst), _) => self.load_argument(val, dst),
                (ArgLocation::Xmm(dst), _) => match val {
                    Val::Memory { offset, ty } => {
                        self.asm.xmm_load(xmm_mov_op(ty), dst, &frame_slot(offset))
                    }
                    _ => self.materialize_xmm(val, dst),
                },
                (ArgLocation::Stack { .. }, _) => {}
            }
        }
    }

    /// Loads an argument that is not in a register (a constant, a local or
    /// a memory entry, left in place) into `dst`.
    fn load_argument(&mut self, val: Val, dst: Gpr) {
        match val {
            Val::Memory { offset, ty } => {
                self.asm
                    .mov_rm(slot_load_size(ty), dst, &frame_slot(offset))
            }
            Val::Local { index, ty } => {
                let offset = self.locals[index as usize].offset;
                self.asm
                    .mov_rm(slot_load_size(ty), dst, &frame_slot(offset));
            }
            _ => self.materialize(val, dst),
        }
    }

    /// The two operands of an integer ALU instruction (or comparison): the
    /// left one in a register, which is also the destination, and the right
    /// one as an immediate, a local's slot, or a register.
    ///
    /// A local stored earlier in the same straight-line region is not used
    /// in place but loaded into `SCRATCH` with a plain `mov`, after the left
    /// operand is in its register. Its store is likely still in flight, and
    /// on AMD's Zen cores a plain load from the same `[rbp + disp]` takes
    /// the stored value much sooner than a load folded into an ALU
    /// instruction does (memory renaming, as far as we can tell): on the
    /// SipHash rounds of sightglass `ratelimit`, which keep their state in
    /// locals, folding those reloads made the loop 1.4x slower. A local
    /// not stored in the region (a loop-invariant bound, say) is still used
    /// in place, which saves an instruction.
    pub(crate) fn pop_operands(&mut self) -> (Gpr, GprMemImm) {
        let val = self.stack.pop().expect("validated");
        if let Some(imm) = val.as_imm32() {
            return (self.pop_gpr(), GprMemImm::Imm(imm));
        }
        if let Val::Local { index, ty } = val {
            let local = self.locals[index as usize];
            if local.stored_in != self.region {
                return (self.pop_gpr(), GprMemImm::Mem(frame_slot(local.offset)));
            }
            // Popping the left operand may use the scratch register (or
            // spill, which does not touch locals), so load after it.
            let lhs = self.pop_gpr();
            self.asm
                .mov_rm(int_size(ty), SCRATCH, &frame_slot(local.offset));
            return (lhs, GprMemImm::Gpr(SCRATCH));
        }
        let rhs = self.val_to_gpr(val);
        (self.pop_gpr(), GprMemImm::Gpr(rhs))
    }

    /// Frees the register of a right operand from [`Self::pop_operands`].
    pub(crate) fn free_rmi(&mut self, operand: GprMemImm) {
        if let GprMemImm::Gpr(reg) = operand
            && reg != SCRATCH
        {
            self.free_gpr(reg);
        }
    }

    /// Creates the control frame of a block, loop or if whose parameters are
    /// on top of the value stack, spilling the value stack to make the
    /// state canonical (invariant 3). Only in reachable code: a construct
    /// met in unreachable code gets a [dead frame](Self::push_dead_frame).
    pub(crate) fn push_frame(
        &mut self,
        kind: FrameKind,
        params: Vec<ValType>,
        results: Vec<ValType>,
        label: Label,
    ) {
        debug_assert!(self.reachable, "a live frame opened in unreachable code");
        self.spill_everything();
        self.control.push(ControlFrame {
            kind,
            base_height: self.stack.len() - params.len(),
            base_sp_offset: self.sp_offset - slots_size(&params),
            params,
            results,
            label,
            branched_to: false,
        });
    }

    /// Opens a dead frame: a construct of any kind (`block`, `try_table`,
    /// ...) met in unreachable code. Nothing in it is compiled, nothing
    /// branches to it, and it never becomes reachable. Its base is the value
    /// stack as it is: in unreachable code nothing is pushed there (the
    /// validator's stack is polymorphic), so a construct's parameters are
    /// not on it, and taking them off would reach into the enclosing frame's
    /// values (wasm-smith seeds 14268, 10162, 13802 in `tests/winch_smith.rs`).
    pub(crate) fn push_dead_frame(&mut self) {
        let label = self.asm.new_label();
        self.control.push(ControlFrame {
            kind: FrameKind::Dead,
            params: Vec::new(),
            results: Vec::new(),
            base_height: self.stack.len(),
            base_sp_offset: self.sp_offset,
            label,
            branched_to: false,
        });
    }

    /// Closes the innermost frame, a dead one. Nothing was compiled since
    /// it opened, so the value stack and `sp_offset` are as it found them.
    pub(crate) fn pop_dead_frame(&mut self) {
        let frame = self.control.pop().expect("a frame to close");
        debug_assert_eq!(frame.kind, FrameKind::Dead);
        debug_assert_eq!(
            (self.stack.len(), self.sp_offset),
            (frame.base_height, frame.base_sp_offset)
        );
    }

    /// Makes the value stack what it is at the end of `frame` (its results
    /// in their canonical slots) without emitting code, after a path that
    /// moved them there.
    pub(crate) fn reset_to_frame_end(&mut self, frame: &ControlFrame) {
        self.truncate_stack(frame.base_height);
        self.push_frame_slots(frame.base_sp_offset, &frame.results);
    }

    /// Makes the value stack what it is on entry to `frame` (its parameters
    /// in their slots), for an `else` arm.
    pub(crate) fn reset_to_frame_entry(&mut self, frame: &ControlFrame) {
        self.truncate_stack(frame.base_height);
        self.push_frame_slots(frame.base_sp_offset, &frame.params);
    }

    /// Pushes memory entries of `types` in the slots right above
    /// `base_sp_offset`, which `sp_offset` then ends.
    fn push_frame_slots(&mut self, base_sp_offset: u32, types: &[ValType]) {
        self.sp_offset = base_sp_offset;
        for &ty in types {
            self.sp_offset += slot_size(ty);
            self.stack.push(Val::Memory {
                offset: self.sp_offset,
                ty,
            });
        }
    }

    /// Drops value-stack entries down to `height` (releasing registers; the
    /// machine stack is reset by the caller).
    pub(crate) fn truncate_stack(&mut self, height: usize) {
        while self.stack.len() > height {
            if let Some(val) = self.stack.pop() {
                self.free_val(val);
            }
        }
    }

    /// Drops the top value, releasing its register or machine-stack slot.
    pub(crate) fn drop_top(&mut self) {
        match self.stack.pop().expect("validated") {
            Val::Gpr { reg, .. } => self.free_gpr(reg),
            Val::Xmm { reg, .. } => self.free_xmm(reg),
            Val::Memory { offset, ty } => self.release_down_to(offset, ty),
            _ => {}
        }
    }

    /// Binds `label` here.
    pub(crate) fn bind(&mut self, label: Label) -> Result<(), CompileError> {
        self.asm.bind_label(label)?;
        self.region += 1;
        Ok(())
    }
}

/// Emits the register moves `moves` (destination, source) as if they all
/// happened at once: a move goes once no other pending move still reads
/// its destination, and a cycle is broken by copying one register to
/// `scratch`. Destinations must be distinct.
fn parallel_move<R: Copy + PartialEq>(
    moves: &mut Vec<(R, R)>,
    scratch: R,
    mut emit: impl FnMut(R, R),
) {
    moves.retain(|&(dst, src)| dst != src);
    while !moves.is_empty() {
        let ready = moves
            .iter()
            .position(|&(dst, _)| moves.iter().all(|&(_, src)| src != dst));
        match ready {
            Some(i) => {
                let (dst, src) = moves.swap_remove(i);
                emit(dst, src);
            }
            None => {
                // Every destination is still read: the moves are cycles.
                // Save one destination's value and read it from there.
                let saved = moves[0].0;
                emit(scratch, saved);
                for (_, src) in moves.iter_mut() {
                    if *src == saved {
                        *src = scratch;
                    }
                }
            }
        }
    }
}
