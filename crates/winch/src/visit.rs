//! The single pass: each operator is validated, then compiled.
//!
//! [`Validated`] is the visitor wasmparser drives. For every operator it
//! first runs the function's `FuncValidator` (so nothing invalid reaches the
//! code generator) and then the code generator's method for it, from the
//! [`Ops`] trait. `Ops` has a default method per operator that refuses it
//! with an error naming it; the code generator overrides the ones it
//! supports (any other valid operator is [`CompileError::Unsupported`],
//! named, at its offset).
//!
//! Code is not generated for operators in unreachable code (after `br`,
//! `br_table`, `return`, `unreachable`, until the enclosing frame's `else`
//! or `end`). There the visitor does not look at which operator it has,
//! only at what the validator did with it ([`duet_environ::control`]): an
//! operator that opens a frame (`block`, `loop`, `if`, `try_table`, legacy
//! `try`, ...) opens a dead frame in the code generator, closing one
//! (`end`, `delegate`) drops it, and only a live frame's `else` and `end`
//! are compiled. So every operator the validator accepts keeps the frames
//! matched, whether or not the code generator supports it. The decoder's
//! question of which construct it is in (to decode `else`, `catch`,
//! `delegate`) is answered by the validator's frames too (the
//! `wasmparser::FrameStack` impl below).

use crate::codegen::{CodeGen, FrameKind, int_size};
use crate::error::CompileError;
use crate::float::{FloatCompare, SignOp};
use crate::memory::{BuiltinArg, LoadKind};
use crate::regs::SCRATCH;
use crate::stack::Val;
use cranelift_asm::FinishedCode;
use cranelift_asm::arith::{Reciprocal32, udiv32_reciprocal};
use cranelift_asm::metadata::SourceLoc;
use cranelift_asm::x64::{
    AluOp, Assembler, CC, CpuFeatures, ExtMode, Feature, GprMem, GprMemImm, OperandSize, RoundMode,
    ShiftOp, SseOp,
};
use cranelift_asm::x64::{Amode, BitOp, Gpr};
use duet_environ::builtins::Builtin;
use duet_environ::control::{ControlSnapshot, FrameChange};
use duet_environ::metering::{EpochChecks, calls_checked_for_epoch, checks_at_header};
use duet_environ::module_env::ModuleEnvironment;
use duet_environ::trap::Trap;
use wasmparser::{
    BlockType, FuncValidator, FunctionBody, MemArg, ValType, VisitOperator, WasmModuleResources,
};

/// Compiles function `func_index` (a defined function; its body and
/// validator as the module's translation hands them out) for a CPU with
/// `features`.
pub fn compile_function<T: WasmModuleResources>(
    env: &ModuleEnvironment<'_>,
    func_index: u32,
    body: &FunctionBody<'_>,
    validator: &mut FuncValidator<T>,
    features: CpuFeatures,
) -> Result<FinishedCode, CompileError> {
    let ty = env.func_type(func_index);
    let params: Vec<ValType> = ty.params.iter().map(|&t| t.into()).collect();
    let results: Vec<ValType> = ty.results.iter().map(|&t| t.into()).collect();
    // Reads the body once more: only with epochs on.
    let epoch = env
        .tunables()
        .epoch_interruption
        .then(|| calls_checked_for_epoch(body))
        .filter(EpochChecks::any)
        .map(|checks| checks.calls);
    let tier_up = env
        .tunables()
        .tier_up
        .then(|| func_index - env.module().num_imported_functions);
    let mut codegen = CodeGen::new(
        env,
        Assembler::new(features),
        &params,
        &results,
        epoch,
        tier_up,
    );
    // A type the code generator refuses in the signature is reported at the
    // body's start, as the optimizing tier does.
    codegen.offset = body.range().start;
    for &t in params.iter().chain(&results) {
        codegen.check_type(t)?;
    }

    let mut locals = Vec::new();
    let mut locals_reader = body.get_locals_reader()?;
    for _ in 0..locals_reader.get_count() {
        let offset = locals_reader.original_position();
        let (count, ty) = locals_reader.read()?;
        validator.define_locals(offset, count, ty)?;
        codegen.offset = offset;
        codegen.check_type(ty)?;
        locals.extend(std::iter::repeat_n(ty, count as usize));
    }

    codegen.emit_prologue(&params, &locals);
    let epilogue = codegen.asm.new_label();
    codegen.epilogue = Some(epilogue);
    codegen.push_frame(FrameKind::Function, Vec::new(), results, epilogue);

    let mut reader = body.get_binary_reader_for_operators()?;
    reader.set_features(*validator.features());
    if codegen.metering() {
        // The entry's fuel check is tagged with the first operator's offset.
        codegen.offset = reader.original_position();
        codegen.asm.start_srcloc(SourceLoc(codegen.offset as u32));
        codegen.emit_metering_checks(false);
        codegen.asm.end_srcloc();
    }
    let mut visitor = Validated {
        validator,
        codegen: &mut codegen,
        offset: 0,
    };
    while !reader.eof() {
        let offset = reader.original_position();
        visitor.offset = offset;
        visitor.codegen.offset = offset;
        visitor.codegen.asm.start_srcloc(SourceLoc(offset as u32));
        reader.visit_operator(&mut visitor)??;
        visitor.codegen.asm.end_srcloc();
    }
    let offset = reader.original_position();
    reader.finish_expression(&validator.visitor(offset))?;
    debug_assert!(
        codegen.regs.all_free(),
        "a register is still taken after the function's end"
    );
    codegen.emit_epoch_stubs()?;
    codegen.emit_tier_up_stubs()?;
    codegen.patch_frame_size();
    Ok(codegen.asm.finish()?)
}

/// Compiles every function a module defines, in index order (the code of
/// defined function `i` is at position `i`), on this thread.
pub fn compile_module(
    translation: duet_environ::module::ModuleTranslation<'_>,
    tunables: duet_environ::tunables::Tunables,
    features: CpuFeatures,
) -> Result<Vec<FinishedCode>, CompileError> {
    compile_module_on_threads(translation, tunables, features, 1)
}

/// Compiles every function a module defines on up to `threads` threads
/// (1: on this thread) through
/// [`duet_environ::parallel::compile_functions`], each thread reusing its
/// own validator allocations. The result is the same as
/// [`compile_module`]'s, and on failure the error is the one of the lowest
/// failing function index, so it does not depend on scheduling.
pub fn compile_module_on_threads(
    translation: duet_environ::module::ModuleTranslation<'_>,
    tunables: duet_environ::tunables::Tunables,
    features: CpuFeatures,
    threads: usize,
) -> Result<Vec<FinishedCode>, CompileError> {
    let env = ModuleEnvironment::new(&translation.module, tunables);
    duet_environ::parallel::compile_functions(
        translation.function_bodies,
        threads,
        wasmparser::FuncValidatorAllocations::default,
        |allocations, index, data| {
            let mut validator = data.validator.into_validator(std::mem::take(allocations));
            let func_index = translation.module.func_index(index).as_u32();
            let result = compile_function(&env, func_index, &data.body, &mut validator, features);
            *allocations = validator.into_allocations();
            result
        },
    )
}

/// Validates each operator, then compiles it (see the module docs).
struct Validated<'v, 'c, 'e, T: WasmModuleResources> {
    validator: &'v mut FuncValidator<T>,
    codegen: &'c mut CodeGen<'e>,
    offset: u64,
}

/// The decoder asks which construct it is inside (to decode `else`,
/// `catch`, `delegate`, and to refuse operators after the function's
/// `end`); the validator's control frames say. They hold every construct
/// the body opened, of every proposal, while the code generator's hold
/// only the ones it compiled and dead frames.
impl<T: WasmModuleResources> wasmparser::FrameStack for Validated<'_, '_, '_, T> {
    fn current_frame(&self) -> Option<wasmparser::FrameKind> {
        self.validator.get_control_frame(0).map(|frame| frame.kind)
    }
}

impl<T: WasmModuleResources> Validated<'_, '_, '_, T> {
    /// Validates an operator in unreachable code and keeps the code
    /// generator's frames matched with the validator's, from what the
    /// operator did to the validator's control stack
    /// ([`duet_environ::control`]): a frame opened is a dead frame, a dead
    /// frame closed is dropped, and only the `else` and `end` of a live
    /// frame are compiled (the code after them may be reachable).
    /// `operator` names it for an error.
    fn unreachable_operator(
        &mut self,
        operator: &'static str,
        validate: impl FnOnce(&mut FuncValidator<T>) -> Result<(), CompileError>,
    ) -> Result<(), CompileError> {
        let before = ControlSnapshot::of(self.validator);
        validate(self.validator)?;
        let change = before.change(ControlSnapshot::of(self.validator));
        let codegen = &mut *self.codegen;
        let top = codegen.control.last().expect("inside the function").kind;
        match change {
            FrameChange::Unchanged => Ok(()),
            FrameChange::Opened => {
                codegen.push_dead_frame();
                Ok(())
            }
            FrameChange::Replaced { .. } if top == FrameKind::Dead => Ok(()),
            FrameChange::Replaced {
                to: wasmparser::FrameKind::Else,
                ..
            } if matches!(top, FrameKind::If { .. }) => {
                codegen.materialize_condition();
                Ops::visit_else(codegen)
            }
            // Only an `if` is a live frame with a divider; a `catch` ends a
            // `try`, which is always dead (never compiled).
            FrameChange::Replaced { .. } => Err(codegen.unsupported(operator)),
            FrameChange::Closed if top == FrameKind::Dead => {
                codegen.pop_dead_frame();
                Ok(())
            }
            FrameChange::Closed => {
                codegen.materialize_condition();
                Ops::visit_end(codegen)
            }
        }
    }
}

/// Whether an operator takes a pending comparison result straight from the
/// flags (see `CodeGen::pending_condition`); before any other operator the
/// result is materialized.
const fn consumes_condition(visit: &str) -> bool {
    matches!(
        visit.as_bytes(),
        b"visit_br_if" | b"visit_if" | b"visit_i32_eqz"
    )
}

macro_rules! define_validated {
    ($( @$proposal:ident $op:ident $({ $($arg:ident: $argty:ty),* })? => $visit:ident ($($ann:tt)*))*) => {
        $(
            fn $visit(&mut self $($(,$arg: $argty)*)?) -> Self::Output {
                if !self.codegen.reachable {
                    let offset = self.offset;
                    return self.unreachable_operator(&stringify!($visit)[6..], |validator| {
                        Ok(validator.visitor(offset).$visit($($($arg),*)?)?)
                    });
                }
                self.validator.visitor(self.offset).$visit($($($arg.clone()),*)?)?;
                if !consumes_condition(stringify!($visit)) {
                    self.codegen.materialize_condition();
                }
                if self.codegen.metering() {
                    // The charge goes before the operator's code, the
                    // header checks after a loop's (metering.rs).
                    let op = wasmparser::Operator::$op $({ $($arg: $arg.clone()),* })?;
                    self.codegen.charge_fuel(&op);
                    self.codegen.epoch_check_before_call();
                    Ops::$visit(&mut *self.codegen $($(,$arg)*)?)?;
                    if checks_at_header(&op) {
                        self.codegen.emit_metering_checks(true);
                    }
                    return Ok(());
                }
                Ops::$visit(&mut *self.codegen $($(,$arg)*)?)
            }
        )*
    };
}

impl<'a, T: WasmModuleResources> VisitOperator<'a> for Validated<'_, '_, '_, T> {
    type Output = Result<(), CompileError>;

    fn simd_visitor(
        &mut self,
    ) -> Option<&mut dyn wasmparser::VisitSimdOperator<'a, Output = Self::Output>> {
        Some(self)
    }

    wasmparser::for_each_visit_operator!(define_validated);
}

macro_rules! define_validated_simd {
    ($( @$proposal:ident $op:ident $({ $($arg:ident: $argty:ty),* })? => $visit:ident ($($ann:tt)*))*) => {
        $(
            fn $visit(&mut self $($(,$arg: $argty)*)?) -> Self::Output {
                if !self.codegen.reachable {
                    let offset = self.offset;
                    return self.unreachable_operator(&stringify!($visit)[6..], |validator| {
                        Ok(validator.simd_visitor(offset).$visit($($($arg),*)?)?)
                    });
                }
                let mut validator = self.validator.simd_visitor(self.offset);
                validator.$visit($($($arg.clone()),*)?)?;
                self.codegen.materialize_condition();
                let op = wasmparser::Operator::$op $({ $($arg),* })?;
                self.codegen.charge_fuel(&op);
                self.codegen.simd_operator(&op, &stringify!($visit)[6..])
            }
        )*
    };
}

impl<'a, T: WasmModuleResources> wasmparser::VisitSimdOperator<'a> for Validated<'_, '_, '_, T> {
    wasmparser::for_each_visit_simd_operator!(define_validated_simd);
}

macro_rules! define_ops_trait {
    ($( @$proposal:ident $op:ident $({ $($arg:ident: $argty:ty),* })? => $visit:ident ($($ann:tt)*))*) => {
        /// One method per operator; each refuses its operator unless the code
        /// generator overrides it.
        pub(crate) trait Ops<'a> {
            /// The error for an operator the compiler does not support.
            fn unsupported_operator(&self, name: &'static str) -> CompileError;
            $(
                #[allow(unused_variables)]
                fn $visit(&mut self $($(,$arg: $argty)*)?) -> Result<(), CompileError> {
                    // `visit_i32_add` names `i32_add`.
                    Err(self.unsupported_operator(&stringify!($visit)[6..]))
                }
            )*
        }
    };
}

wasmparser::for_each_visit_operator!(define_ops_trait);

/// A builtin's arguments: `indices` (from the instruction) as immediates,
/// then the top `operands` values of the value stack, deepest first.
fn indices_then_operands(indices: &[u32], operands: usize) -> Vec<BuiltinArg> {
    let indices = indices.iter().map(|&i| BuiltinArg::Imm(i.into()));
    indices
        .chain((0..operands).map(BuiltinArg::Operand))
        .collect()
}

/// The parameter and result types of a block type.
fn block_signature(env: &ModuleEnvironment<'_>, ty: BlockType) -> (Vec<ValType>, Vec<ValType>) {
    match ty {
        BlockType::Empty => (Vec::new(), Vec::new()),
        BlockType::Type(t) => (Vec::new(), vec![t]),
        BlockType::FuncType(index) => {
            let ty = env.type_at(index);
            let wasm = |types: &[duet_environ::module::ValType]| -> Vec<ValType> {
                types.iter().map(|&t| t.into()).collect()
            };
            (wasm(&ty.params), wasm(&ty.results))
        }
    }
}

impl CodeGen<'_> {
    fn block_types(&self, ty: BlockType) -> Result<(Vec<ValType>, Vec<ValType>), CompileError> {
        let (params, results) = block_signature(self.env, ty);
        for &t in params.iter().chain(&results) {
            self.check_type(t)?;
        }
        Ok((params, results))
    }

    /// The rest of the current frame is unreachable: drop its operands.
    fn set_unreachable(&mut self) {
        let base = self
            .control
            .last()
            .expect("inside the function")
            .base_height;
        self.truncate_stack(base.min(self.stack.len()));
        self.reachable = false;
    }

    fn int_binop(&mut self, ty: ValType, op: AluOp) -> Result<(), CompileError> {
        // `x & 0xffffffff` on 64 bits: a 32-bit move zero-extends, and the
        // mask (no imm32) needs no register.
        if op == AluOp::And && self.stack.last() == Some(&Val::I64(0xffff_ffff)) {
            self.stack.pop();
            let lhs = self.pop_gpr();
            self.asm.mov_rr(OperandSize::S32, lhs, lhs);
            self.push_gpr(lhs, ty);
            return Ok(());
        }
        let (lhs, rhs) = self.pop_operands();
        self.asm.alu_rmi(op, int_size(ty), lhs, &rhs);
        self.free_rmi(rhs);
        self.push_gpr(lhs, ty);
        Ok(())
    }

    fn int_mul(&mut self, ty: ValType) -> Result<(), CompileError> {
        let size = int_size(ty);
        let (lhs, rhs) = self.pop_operands();
        match rhs {
            GprMemImm::Imm(imm) => self.asm.imul_rmi(size, lhs, &GprMem::Gpr(lhs), imm),
            GprMemImm::Gpr(r) => self.asm.imul_rr(size, lhs, r),
            GprMemImm::Mem(m) => self.asm.imul_rm(size, lhs, &GprMem::Mem(m)),
        }
        self.free_rmi(rhs);
        self.push_gpr(lhs, ty);
        Ok(())
    }

    /// A comparison: its result stays pending in the flags (see
    /// `CodeGen::pending_condition`), in the register of its left operand.
    fn int_compare(&mut self, ty: ValType, cc: CC) -> Result<(), CompileError> {
        let (lhs, rhs) = self.pop_operands();
        self.asm.cmp_rmi(int_size(ty), lhs, &rhs);
        self.free_rmi(rhs);
        self.set_pending_condition(cc, lhs);
        Ok(())
    }

    /// `eqz`: of a pending condition, its inverse (no code); otherwise a
    /// test whose result stays pending.
    fn int_eqz(&mut self, ty: ValType) -> Result<(), CompileError> {
        if let Some(cc) = self.pending_condition_on_top() {
            let Some(Val::Gpr { reg, .. }) = self.stack.pop() else {
                unreachable!()
            };
            self.set_pending_condition(cc.invert(), reg);
            return Ok(());
        }
        let reg = self.pop_gpr();
        self.asm.test_rr(int_size(ty), reg, reg);
        self.set_pending_condition(CC::Z, reg);
        Ok(())
    }

    /// Pops a condition (an `i32`) and returns the condition code that holds
    /// when it is non-zero: a pending comparison's own, or `NZ` after a test.
    fn take_condition(&mut self) -> CC {
        if let Some(cc) = self.pending_condition_on_top() {
            let Some(Val::Gpr { reg, .. }) = self.stack.pop() else {
                unreachable!()
            };
            self.clear_pending_condition();
            self.free_gpr(reg);
            return cc;
        }
        let reg = self.pop_gpr();
        self.asm.test_rr(OperandSize::S32, reg, reg);
        self.free_gpr(reg);
        CC::NZ
    }

    /// Pops the top value into `reg` (taking `reg`).
    fn pop_to_specific(&mut self, reg: Gpr) {
        if let Some(Val::Gpr { reg: top, .. }) = self.stack.last()
            && *top == reg
        {
            self.stack.pop();
            return;
        }
        self.alloc_specific(reg);
        self.pop_into(reg);
    }

    fn int_shift(&mut self, ty: ValType, op: ShiftOp) -> Result<(), CompileError> {
        let size = int_size(ty);
        if let Some(count) = self.stack.last().and_then(Val::as_imm32) {
            self.stack.pop();
            let lhs = self.pop_gpr();
            let mask = size.bits() as i32 - 1;
            self.asm.shift_ri(op, size, lhs, (count & mask) as u8);
            self.push_gpr(lhs, ty);
        } else {
            self.pop_to_specific(Gpr::RCX);
            let lhs = self.pop_gpr();
            self.asm.shift_rcl(op, size, lhs);
            self.free_gpr(Gpr::RCX);
            self.push_gpr(lhs, ty);
        }
        Ok(())
    }

    /// `i32.div_u` or `i32.rem_u` of the top of the stack by the constant
    /// `d`, through its reciprocal (`cranelift_asm::arith`): a 64-bit
    /// `imul` and a shift, several times faster than `div`. The dividend
    /// is zero-extended in its register (invariant 2), so 64-bit
    /// arithmetic on it is exact, and the quotient is below 2^32.
    fn udiv32_by_reciprocal(&mut self, d: i32, reciprocal: Reciprocal32, remainder: bool) {
        let x = self.pop_gpr();
        let q = self.alloc_gpr();
        let increment = i32::from(reciprocal.increment);
        self.asm
            .lea(OperandSize::S64, q, &Amode::base(x, increment));
        self.asm
            .mov_ri(OperandSize::S32, SCRATCH, u64::from(reciprocal.multiplier));
        self.asm.imul_rr(OperandSize::S64, q, SCRATCH);
        self.asm.shr_ri(OperandSize::S64, q, reciprocal.shift as u8);
        if remainder {
            // x - q * d, in 32 bits (the low half of q * d is exact).
            self.asm.imul_rmi(OperandSize::S32, q, &GprMem::Gpr(q), d);
            self.asm
                .alu_rmi(AluOp::Sub, OperandSize::S32, x, &GprMemImm::Gpr(q));
            self.free_gpr(q);
            self.push_gpr(x, ValType::I32);
        } else {
            self.free_gpr(x);
            self.push_gpr(q, ValType::I32);
        }
    }

    fn int_div(&mut self, ty: ValType, signed: bool, remainder: bool) -> Result<(), CompileError> {
        if !signed
            && let Some(&Val::I32(d)) = self.stack.last()
            && let Some(reciprocal) = udiv32_reciprocal(d as u32)
        {
            self.stack.pop();
            self.udiv32_by_reciprocal(d, reciprocal, remainder);
            return Ok(());
        }
        let size = int_size(ty);
        // A constant divisor rules checks out: zero only for 0, signed
        // overflow only for -1.
        let known = match self.stack.last() {
            Some(Val::I32(v)) => Some(i64::from(*v)),
            Some(Val::I64(v)) => Some(*v),
            _ => None,
        };
        let may_be_zero = known.is_none_or(|d| d == 0);
        let may_be_minus_one = known.is_none_or(|d| d == -1);
        // Reserve rax and rdx while everything is still on the value stack
        // (spilling is only safe then), then take the operands.
        self.alloc_specific(Gpr::RAX);
        self.alloc_specific(Gpr::RDX);
        let divisor = self.pop_gpr();
        self.free_gpr(Gpr::RAX);
        self.pop_to_specific(Gpr::RAX);
        if may_be_zero {
            self.asm.test_rr(size, divisor, divisor);
            self.asm.trap_if(CC::Z, Trap::IntegerDivisionByZero.code());
        }
        let divide_by = GprMem::Gpr(divisor);
        match (signed, remainder) {
            (true, false) if !may_be_minus_one => {
                self.asm.sign_extend_rax_into_rdx(size);
                self.asm.div(
                    true,
                    size,
                    &divide_by,
                    Some(Trap::IntegerDivisionByZero.code()),
                );
            }
            (true, true) if !may_be_minus_one => {
                // Only INT_MIN % -1 needs the checked sequence.
                self.asm.sign_extend_rax_into_rdx(size);
                self.asm.div(
                    true,
                    size,
                    &divide_by,
                    Some(Trap::IntegerDivisionByZero.code()),
                );
            }
            (true, false) => {
                // INT_MIN / -1 overflows.
                let divide = self.asm.new_label();
                self.asm.cmp_ri(size, divisor, -1);
                self.asm.jcc(CC::NZ, divide);
                if size == OperandSize::S32 {
                    self.asm.cmp_ri(size, Gpr::RAX, i32::MIN);
                } else {
                    self.asm.mov_ri(size, crate::regs::SCRATCH, i64::MIN as u64);
                    self.asm.cmp_rr(size, Gpr::RAX, crate::regs::SCRATCH);
                }
                self.asm.trap_if(CC::Z, Trap::IntegerOverflow.code());
                self.bind(divide)?;
                self.asm.sign_extend_rax_into_rdx(size);
                self.asm.div(
                    true,
                    size,
                    &divide_by,
                    Some(Trap::IntegerDivisionByZero.code()),
                );
            }
            (true, true) => {
                self.asm.sign_extend_rax_into_rdx(size);
                self.asm
                    .checked_srem(size, divisor, Trap::IntegerDivisionByZero.code());
            }
            (false, _) => {
                self.asm.xor_rr(OperandSize::S32, Gpr::RDX, Gpr::RDX);
                self.asm.div(
                    false,
                    size,
                    &divide_by,
                    Some(Trap::IntegerDivisionByZero.code()),
                );
            }
        }
        self.free_gpr(divisor);
        let (result, other) = if remainder {
            (Gpr::RDX, Gpr::RAX)
        } else {
            (Gpr::RAX, Gpr::RDX)
        };
        self.free_gpr(other);
        self.push_gpr(result, ty);
        Ok(())
    }

    fn int_bit_count(&mut self, ty: ValType, op: BitOp) -> Result<(), CompileError> {
        let size = int_size(ty);
        let src = self.pop_gpr();
        if self.asm.features().has(op.feature()) {
            self.asm.bit_count(op, size, src, &GprMem::Gpr(src));
            self.push_gpr(src, ty);
            return Ok(());
        }
        let bits = size.bits();
        let scratch = crate::regs::SCRATCH;
        match op {
            // bsr gives the index of the highest set bit (undefined for 0):
            // clz = index ^ (bits - 1); for 0 use 2*bits - 1, giving bits.
            BitOp::Lzcnt => {
                self.asm.mov_ri(size, scratch, u64::from(2 * bits - 1));
                self.asm.bit_count(BitOp::Bsr, size, src, &GprMem::Gpr(src));
                self.asm.cmov(CC::Z, size, src, &GprMem::Gpr(scratch));
                self.asm.xor_ri(size, src, bits as i32 - 1);
            }
            BitOp::Tzcnt => {
                self.asm.mov_ri(size, scratch, u64::from(bits));
                self.asm.bit_count(BitOp::Bsf, size, src, &GprMem::Gpr(src));
                self.asm.cmov(CC::Z, size, src, &GprMem::Gpr(scratch));
            }
            _ => self.popcount_swar(size, src),
        }
        self.push_gpr(src, ty);
        Ok(())
    }

    /// Population count of `x` in place on a CPU without POPCNT: the SWAR
    /// sum (Hacker's Delight, figure 5-2). Bits are summed in pairs
    /// (`x - ((x >> 1) & 0x55..)`, each 2-bit field then holds its count,
    /// at most 2), pairs into nibbles (`(x & 0x33..) + ((x >> 2) & 0x33..)`,
    /// at most 4), nibbles into bytes (`(x + (x >> 4)) & 0x0f..`, at most 8),
    /// and the bytes into the top byte by a multiplication with `0x01..`
    /// (the top byte of the product is the sum of every byte, at most 64,
    /// so no carry crosses into it), shifted down. The masks are too wide
    /// for an `i64` immediate, so they go through the scratch register.
    fn popcount_swar(&mut self, size: OperandSize, x: Gpr) {
        let bits = size.bits();
        let repeated = |byte: u8| u64::from_le_bytes([byte; 8]) >> (64 - bits);
        let (t, m) = (self.alloc_gpr(), crate::regs::SCRATCH);
        let shifted = |cg: &mut Self, by: u8| {
            cg.asm.mov_rr(size, t, x);
            cg.asm.shift_ri(ShiftOp::Shr, size, t, by);
        };
        shifted(self, 1);
        self.asm.mov_ri(size, m, repeated(0x55));
        self.asm.alu_rmi(AluOp::And, size, t, &GprMemImm::Gpr(m));
        self.asm.alu_rmi(AluOp::Sub, size, x, &GprMemImm::Gpr(t));
        shifted(self, 2);
        self.asm.mov_ri(size, m, repeated(0x33));
        self.asm.alu_rmi(AluOp::And, size, t, &GprMemImm::Gpr(m));
        self.asm.alu_rmi(AluOp::And, size, x, &GprMemImm::Gpr(m));
        self.asm.alu_rmi(AluOp::Add, size, x, &GprMemImm::Gpr(t));
        shifted(self, 4);
        self.asm.alu_rmi(AluOp::Add, size, x, &GprMemImm::Gpr(t));
        self.asm.mov_ri(size, m, repeated(0x0f));
        self.asm.alu_rmi(AluOp::And, size, x, &GprMemImm::Gpr(m));
        self.asm.mov_ri(size, m, repeated(0x01));
        self.asm.imul_rr(size, x, m);
        self.asm.shift_ri(ShiftOp::Shr, size, x, (bits - 8) as u8);
        self.free_gpr(t);
    }

    fn extend(&mut self, mode: ExtMode, to: ValType) -> Result<(), CompileError> {
        let reg = self.pop_gpr();
        self.asm.movsx(mode, reg, &GprMem::Gpr(reg));
        self.push_gpr(reg, to);
        Ok(())
    }
}

impl<'a> Ops<'a> for CodeGen<'_> {
    fn unsupported_operator(&self, name: &'static str) -> CompileError {
        self.unsupported(name)
    }

    // ---- Control ---------------------------------------------------------

    fn visit_nop(&mut self) -> Result<(), CompileError> {
        Ok(())
    }

    fn visit_unreachable(&mut self) -> Result<(), CompileError> {
        self.asm.ud2(Trap::UnreachableCodeReached.code());
        self.set_unreachable();
        Ok(())
    }

    fn visit_block(&mut self, ty: BlockType) -> Result<(), CompileError> {
        let (params, results) = self.block_types(ty)?;
        let label = self.asm.new_label();
        self.push_frame(FrameKind::Block, params, results, label);
        Ok(())
    }

    fn visit_loop(&mut self, ty: BlockType) -> Result<(), CompileError> {
        let (params, results) = self.block_types(ty)?;
        let label = self.asm.new_label();
        self.push_frame(FrameKind::Loop, params, results, label);
        // Loop headers start at 16 bytes (the optimizing tier uses 32;
        // winch's loops are longer, and 32 measured no better).
        self.asm.align_label(label, 16);
        self.bind(label)?;
        Ok(())
    }

    fn visit_if(&mut self, ty: BlockType) -> Result<(), CompileError> {
        let (params, results) = self.block_types(ty)?;
        let (end, else_label) = (self.asm.new_label(), self.asm.new_label());
        // The flags survive push_frame's spilling (invariant 5).
        let cc = self.take_condition();
        self.push_frame(FrameKind::If { else_label }, params, results, end);
        self.asm.jcc(cc.invert(), else_label);
        Ok(())
    }

    fn visit_else(&mut self) -> Result<(), CompileError> {
        let frame = self.control.last().expect("validated").clone();
        let FrameKind::If { else_label } = frame.kind else {
            unreachable!("validated")
        };
        if self.reachable {
            self.move_to_frame_slots(frame.results.len(), frame.base_sp_offset);
            self.asm.jmp(frame.label);
            self.control.last_mut().expect("validated").branched_to = true;
        }
        // The `if` was reachable (it is live), so its else arm is.
        self.bind(else_label)?;
        self.reset_to_frame_entry(&frame);
        self.reachable = true;
        self.control.last_mut().expect("validated").kind = FrameKind::Else;
        Ok(())
    }

    fn visit_end(&mut self) -> Result<(), CompileError> {
        let frame = self.control.pop().expect("validated");
        match frame.kind {
            FrameKind::Function => {
                if self.reachable {
                    self.move_to_return_locations();
                }
                self.bind(frame.label)?;
                self.emit_epilogue();
                self.reachable = false;
                return Ok(());
            }
            FrameKind::Loop => {
                // Only the fall-through reaches a loop's end: the values stay
                // where they are.
                if !self.reachable {
                    self.reset_to_frame_end(&frame);
                }
                return Ok(());
            }
            FrameKind::Block | FrameKind::If { .. } | FrameKind::Else => {}
            FrameKind::Dead => unreachable!("a dead frame is closed by `pop_dead_frame`"),
        }
        if self.reachable {
            self.move_to_frame_slots(frame.results.len(), frame.base_sp_offset);
        }
        // An `if` without `else` falls to its end when the condition is false
        // (the `if` was reachable: it is live).
        let else_path = match frame.kind {
            FrameKind::If { else_label } => {
                self.bind(else_label)?;
                true
            }
            _ => false,
        };
        let reachable = self.reachable || frame.branched_to || else_path;
        if frame.branched_to || self.reachable || else_path {
            self.bind(frame.label)?;
        }
        self.reset_to_frame_end(&frame);
        self.reachable = reachable;
        Ok(())
    }

    fn visit_br(&mut self, depth: u32) -> Result<(), CompileError> {
        self.emit_branch(depth);
        self.set_unreachable();
        Ok(())
    }

    fn visit_br_if(&mut self, depth: u32) -> Result<(), CompileError> {
        let cc = self.take_condition();
        let index = self.control.len() - 1 - depth as usize;
        if !self.branch_needs_moves(index) {
            let label = self.control[index].label;
            self.control[index].branched_to = true;
            self.asm.jcc(cc, label);
            return Ok(());
        }
        // The taken path moves the branch operands; the fall-through keeps
        // the value stack as it is.
        let skip = self.asm.new_label();
        self.asm.jcc(cc.invert(), skip);
        let (stack, regs, sp_offset) = (self.stack.clone(), self.regs.clone(), self.sp_offset);
        self.emit_branch(depth);
        (self.stack, self.regs, self.sp_offset) = (stack, regs, sp_offset);
        self.bind(skip)
    }

    fn visit_return(&mut self) -> Result<(), CompileError> {
        self.emit_branch(self.control.len() as u32 - 1);
        self.set_unreachable();
        Ok(())
    }

    fn visit_call(&mut self, function_index: u32) -> Result<(), CompileError> {
        self.emit_call(function_index)
    }

    // ---- Tables, references, indirect calls (tables.rs) -----------------------

    fn visit_br_table(&mut self, targets: wasmparser::BrTable<'a>) -> Result<(), CompileError> {
        self.emit_br_table(&targets)?;
        self.set_unreachable();
        Ok(())
    }
    fn visit_call_indirect(
        &mut self,
        type_index: u32,
        table_index: u32,
    ) -> Result<(), CompileError> {
        self.emit_call_indirect(type_index, table_index)
    }
    fn visit_table_get(&mut self, table: u32) -> Result<(), CompileError> {
        self.emit_table_get(table);
        Ok(())
    }
    fn visit_table_set(&mut self, table: u32) -> Result<(), CompileError> {
        self.emit_table_set(table);
        Ok(())
    }
    fn visit_table_size(&mut self, table: u32) -> Result<(), CompileError> {
        self.emit_table_size(table);
        Ok(())
    }
    fn visit_table_grow(&mut self, table: u32) -> Result<(), CompileError> {
        self.emit_table_grow(table);
        Ok(())
    }
    fn visit_table_fill(&mut self, table: u32) -> Result<(), CompileError> {
        self.emit_bulk(Builtin::TableFill, &indices_then_operands(&[table], 3));
        Ok(())
    }
    fn visit_table_copy(&mut self, dst_table: u32, src_table: u32) -> Result<(), CompileError> {
        let args = indices_then_operands(&[dst_table, src_table], 3);
        self.emit_bulk(Builtin::TableCopy, &args);
        Ok(())
    }
    fn visit_table_init(&mut self, elem_index: u32, table: u32) -> Result<(), CompileError> {
        let args = indices_then_operands(&[table, elem_index], 3);
        self.emit_bulk(Builtin::TableInit, &args);
        Ok(())
    }
    fn visit_elem_drop(&mut self, elem_index: u32) -> Result<(), CompileError> {
        self.emit_bulk(Builtin::ElemDrop, &indices_then_operands(&[elem_index], 0));
        Ok(())
    }
    fn visit_memory_fill(&mut self, mem: u32) -> Result<(), CompileError> {
        self.emit_bulk(Builtin::MemoryFill, &indices_then_operands(&[mem], 3));
        Ok(())
    }
    fn visit_memory_copy(&mut self, dst_mem: u32, src_mem: u32) -> Result<(), CompileError> {
        let (dst, src) = (
            BuiltinArg::Imm(dst_mem.into()),
            BuiltinArg::Imm(src_mem.into()),
        );
        let args = [
            dst,
            BuiltinArg::Operand(0),
            src,
            BuiltinArg::Operand(1),
            BuiltinArg::Operand(2),
        ];
        self.emit_bulk(Builtin::MemoryCopy, &args);
        Ok(())
    }
    fn visit_memory_init(&mut self, data_index: u32, mem: u32) -> Result<(), CompileError> {
        let args = indices_then_operands(&[mem, data_index], 3);
        self.emit_bulk(Builtin::MemoryInit, &args);
        Ok(())
    }
    fn visit_data_drop(&mut self, data_index: u32) -> Result<(), CompileError> {
        self.emit_bulk(Builtin::DataDrop, &indices_then_operands(&[data_index], 0));
        Ok(())
    }
    fn visit_ref_null(&mut self, hty: wasmparser::HeapType) -> Result<(), CompileError> {
        self.emit_ref_null(hty)
    }
    fn visit_ref_is_null(&mut self) -> Result<(), CompileError> {
        self.emit_ref_is_null();
        Ok(())
    }
    fn visit_ref_func(&mut self, function_index: u32) -> Result<(), CompileError> {
        self.emit_ref_func(function_index);
        Ok(())
    }

    // ---- Memory and globals (memory.rs) ----------------------------------------

    fn visit_i32_load(&mut self, memarg: MemArg) -> Result<(), CompileError> {
        self.emit_load(&memarg, 4, LoadKind::Plain(OperandSize::S32), ValType::I32);
        Ok(())
    }
    fn visit_i64_load(&mut self, memarg: MemArg) -> Result<(), CompileError> {
        self.emit_load(&memarg, 8, LoadKind::Plain(OperandSize::S64), ValType::I64);
        Ok(())
    }
    fn visit_i32_load8_s(&mut self, memarg: MemArg) -> Result<(), CompileError> {
        self.emit_load(&memarg, 1, LoadKind::SignExtend(ExtMode::BL), ValType::I32);
        Ok(())
    }
    fn visit_i32_load8_u(&mut self, memarg: MemArg) -> Result<(), CompileError> {
        self.emit_load(&memarg, 1, LoadKind::ZeroExtend(ExtMode::BL), ValType::I32);
        Ok(())
    }
    fn visit_i32_load16_s(&mut self, memarg: MemArg) -> Result<(), CompileError> {
        self.emit_load(&memarg, 2, LoadKind::SignExtend(ExtMode::WL), ValType::I32);
        Ok(())
    }
    fn visit_i32_load16_u(&mut self, memarg: MemArg) -> Result<(), CompileError> {
        self.emit_load(&memarg, 2, LoadKind::ZeroExtend(ExtMode::WL), ValType::I32);
        Ok(())
    }
    fn visit_i64_load8_s(&mut self, memarg: MemArg) -> Result<(), CompileError> {
        self.emit_load(&memarg, 1, LoadKind::SignExtend(ExtMode::BQ), ValType::I64);
        Ok(())
    }
    fn visit_i64_load8_u(&mut self, memarg: MemArg) -> Result<(), CompileError> {
        self.emit_load(&memarg, 1, LoadKind::ZeroExtend(ExtMode::BQ), ValType::I64);
        Ok(())
    }
    fn visit_i64_load16_s(&mut self, memarg: MemArg) -> Result<(), CompileError> {
        self.emit_load(&memarg, 2, LoadKind::SignExtend(ExtMode::WQ), ValType::I64);
        Ok(())
    }
    fn visit_i64_load16_u(&mut self, memarg: MemArg) -> Result<(), CompileError> {
        self.emit_load(&memarg, 2, LoadKind::ZeroExtend(ExtMode::WQ), ValType::I64);
        Ok(())
    }
    fn visit_i64_load32_s(&mut self, memarg: MemArg) -> Result<(), CompileError> {
        self.emit_load(&memarg, 4, LoadKind::SignExtend(ExtMode::LQ), ValType::I64);
        Ok(())
    }
    fn visit_i64_load32_u(&mut self, memarg: MemArg) -> Result<(), CompileError> {
        // A 32-bit load zero-extends.
        self.emit_load(&memarg, 4, LoadKind::Plain(OperandSize::S32), ValType::I64);
        Ok(())
    }
    fn visit_f32_load(&mut self, memarg: MemArg) -> Result<(), CompileError> {
        self.emit_float_load(&memarg, ValType::F32);
        Ok(())
    }
    fn visit_f64_load(&mut self, memarg: MemArg) -> Result<(), CompileError> {
        self.emit_float_load(&memarg, ValType::F64);
        Ok(())
    }
    fn visit_f32_store(&mut self, memarg: MemArg) -> Result<(), CompileError> {
        self.emit_float_store(&memarg, ValType::F32);
        Ok(())
    }
    fn visit_f64_store(&mut self, memarg: MemArg) -> Result<(), CompileError> {
        self.emit_float_store(&memarg, ValType::F64);
        Ok(())
    }
    fn visit_i32_store(&mut self, memarg: MemArg) -> Result<(), CompileError> {
        self.emit_store(&memarg, OperandSize::S32);
        Ok(())
    }
    fn visit_i64_store(&mut self, memarg: MemArg) -> Result<(), CompileError> {
        self.emit_store(&memarg, OperandSize::S64);
        Ok(())
    }
    fn visit_i32_store8(&mut self, memarg: MemArg) -> Result<(), CompileError> {
        self.emit_store(&memarg, OperandSize::S8);
        Ok(())
    }
    fn visit_i64_store8(&mut self, memarg: MemArg) -> Result<(), CompileError> {
        self.emit_store(&memarg, OperandSize::S8);
        Ok(())
    }
    fn visit_i32_store16(&mut self, memarg: MemArg) -> Result<(), CompileError> {
        self.emit_store(&memarg, OperandSize::S16);
        Ok(())
    }
    fn visit_i64_store16(&mut self, memarg: MemArg) -> Result<(), CompileError> {
        self.emit_store(&memarg, OperandSize::S16);
        Ok(())
    }
    fn visit_i64_store32(&mut self, memarg: MemArg) -> Result<(), CompileError> {
        self.emit_store(&memarg, OperandSize::S32);
        Ok(())
    }
    fn visit_memory_size(&mut self, mem: u32) -> Result<(), CompileError> {
        self.emit_memory_size(mem);
        Ok(())
    }
    fn visit_memory_grow(&mut self, mem: u32) -> Result<(), CompileError> {
        self.emit_memory_grow(mem);
        Ok(())
    }
    fn visit_global_get(&mut self, global_index: u32) -> Result<(), CompileError> {
        self.emit_global_get(global_index)
    }
    fn visit_global_set(&mut self, global_index: u32) -> Result<(), CompileError> {
        self.emit_global_set(global_index)
    }

    // ---- Parametric --------------------------------------------------------

    fn visit_drop(&mut self) -> Result<(), CompileError> {
        self.drop_top();
        Ok(())
    }

    fn visit_select(&mut self) -> Result<(), CompileError> {
        let operand = self.stack[self.stack.len() - 2];
        if crate::codegen::in_xmm(operand.ty()) {
            return self.float_select();
        }
        let condition = self.pop_gpr();
        let if_false = self.stack.pop().expect("validated");
        let if_false = match if_false {
            Val::Gpr { reg, .. } => reg,
            other => self.val_to_gpr(other),
        };
        let ty = self.stack.last().expect("validated").ty();
        let result = self.pop_gpr();
        self.asm.test_rr(OperandSize::S32, condition, condition);
        self.asm
            .cmov(CC::Z, int_size(ty), result, &GprMem::Gpr(if_false));
        self.free_gpr(condition);
        self.free_gpr(if_false);
        self.push_gpr(result, ty);
        Ok(())
    }

    fn visit_typed_select(&mut self, ty: ValType) -> Result<(), CompileError> {
        self.check_type(ty)?;
        self.visit_select()
    }

    // ---- Locals ------------------------------------------------------------

    fn visit_local_get(&mut self, index: u32) -> Result<(), CompileError> {
        let ty = self.local_type(index);
        self.stack.push(Val::Local { index, ty });
        Ok(())
    }

    fn visit_local_set(&mut self, index: u32) -> Result<(), CompileError> {
        self.set_local(index);
        Ok(())
    }

    fn visit_local_tee(&mut self, index: u32) -> Result<(), CompileError> {
        self.tee_local(index);
        Ok(())
    }

    // ---- Integers ------------------------------------------------------------

    fn visit_i32_const(&mut self, value: i32) -> Result<(), CompileError> {
        self.stack.push(Val::I32(value));
        Ok(())
    }

    fn visit_i64_const(&mut self, value: i64) -> Result<(), CompileError> {
        self.stack.push(Val::I64(value));
        Ok(())
    }

    fn visit_i32_add(&mut self) -> Result<(), CompileError> {
        self.int_binop(ValType::I32, AluOp::Add)
    }
    fn visit_i64_add(&mut self) -> Result<(), CompileError> {
        self.int_binop(ValType::I64, AluOp::Add)
    }
    fn visit_i32_sub(&mut self) -> Result<(), CompileError> {
        self.int_binop(ValType::I32, AluOp::Sub)
    }
    fn visit_i64_sub(&mut self) -> Result<(), CompileError> {
        self.int_binop(ValType::I64, AluOp::Sub)
    }
    fn visit_i32_and(&mut self) -> Result<(), CompileError> {
        self.int_binop(ValType::I32, AluOp::And)
    }
    fn visit_i64_and(&mut self) -> Result<(), CompileError> {
        self.int_binop(ValType::I64, AluOp::And)
    }
    fn visit_i32_or(&mut self) -> Result<(), CompileError> {
        self.int_binop(ValType::I32, AluOp::Or)
    }
    fn visit_i64_or(&mut self) -> Result<(), CompileError> {
        self.int_binop(ValType::I64, AluOp::Or)
    }
    fn visit_i32_xor(&mut self) -> Result<(), CompileError> {
        self.int_binop(ValType::I32, AluOp::Xor)
    }
    fn visit_i64_xor(&mut self) -> Result<(), CompileError> {
        self.int_binop(ValType::I64, AluOp::Xor)
    }
    fn visit_i32_mul(&mut self) -> Result<(), CompileError> {
        self.int_mul(ValType::I32)
    }
    fn visit_i64_mul(&mut self) -> Result<(), CompileError> {
        self.int_mul(ValType::I64)
    }
    fn visit_i32_div_s(&mut self) -> Result<(), CompileError> {
        self.int_div(ValType::I32, true, false)
    }
    fn visit_i64_div_s(&mut self) -> Result<(), CompileError> {
        self.int_div(ValType::I64, true, false)
    }
    fn visit_i32_div_u(&mut self) -> Result<(), CompileError> {
        self.int_div(ValType::I32, false, false)
    }
    fn visit_i64_div_u(&mut self) -> Result<(), CompileError> {
        self.int_div(ValType::I64, false, false)
    }
    fn visit_i32_rem_s(&mut self) -> Result<(), CompileError> {
        self.int_div(ValType::I32, true, true)
    }
    fn visit_i64_rem_s(&mut self) -> Result<(), CompileError> {
        self.int_div(ValType::I64, true, true)
    }
    fn visit_i32_rem_u(&mut self) -> Result<(), CompileError> {
        self.int_div(ValType::I32, false, true)
    }
    fn visit_i64_rem_u(&mut self) -> Result<(), CompileError> {
        self.int_div(ValType::I64, false, true)
    }
    fn visit_i32_shl(&mut self) -> Result<(), CompileError> {
        self.int_shift(ValType::I32, ShiftOp::Shl)
    }
    fn visit_i64_shl(&mut self) -> Result<(), CompileError> {
        self.int_shift(ValType::I64, ShiftOp::Shl)
    }
    fn visit_i32_shr_s(&mut self) -> Result<(), CompileError> {
        self.int_shift(ValType::I32, ShiftOp::Sar)
    }
    fn visit_i64_shr_s(&mut self) -> Result<(), CompileError> {
        self.int_shift(ValType::I64, ShiftOp::Sar)
    }
    fn visit_i32_shr_u(&mut self) -> Result<(), CompileError> {
        self.int_shift(ValType::I32, ShiftOp::Shr)
    }
    fn visit_i64_shr_u(&mut self) -> Result<(), CompileError> {
        self.int_shift(ValType::I64, ShiftOp::Shr)
    }
    fn visit_i32_rotl(&mut self) -> Result<(), CompileError> {
        self.int_shift(ValType::I32, ShiftOp::Rol)
    }
    fn visit_i64_rotl(&mut self) -> Result<(), CompileError> {
        self.int_shift(ValType::I64, ShiftOp::Rol)
    }
    fn visit_i32_rotr(&mut self) -> Result<(), CompileError> {
        self.int_shift(ValType::I32, ShiftOp::Ror)
    }
    fn visit_i64_rotr(&mut self) -> Result<(), CompileError> {
        self.int_shift(ValType::I64, ShiftOp::Ror)
    }
    fn visit_i32_clz(&mut self) -> Result<(), CompileError> {
        self.int_bit_count(ValType::I32, BitOp::Lzcnt)
    }
    fn visit_i64_clz(&mut self) -> Result<(), CompileError> {
        self.int_bit_count(ValType::I64, BitOp::Lzcnt)
    }
    fn visit_i32_ctz(&mut self) -> Result<(), CompileError> {
        self.int_bit_count(ValType::I32, BitOp::Tzcnt)
    }
    fn visit_i64_ctz(&mut self) -> Result<(), CompileError> {
        self.int_bit_count(ValType::I64, BitOp::Tzcnt)
    }
    fn visit_i32_popcnt(&mut self) -> Result<(), CompileError> {
        self.int_bit_count(ValType::I32, BitOp::Popcnt)
    }
    fn visit_i64_popcnt(&mut self) -> Result<(), CompileError> {
        self.int_bit_count(ValType::I64, BitOp::Popcnt)
    }
    fn visit_i32_eqz(&mut self) -> Result<(), CompileError> {
        self.int_eqz(ValType::I32)
    }
    fn visit_i64_eqz(&mut self) -> Result<(), CompileError> {
        self.int_eqz(ValType::I64)
    }
    fn visit_i32_eq(&mut self) -> Result<(), CompileError> {
        self.int_compare(ValType::I32, CC::Z)
    }
    fn visit_i64_eq(&mut self) -> Result<(), CompileError> {
        self.int_compare(ValType::I64, CC::Z)
    }
    fn visit_i32_ne(&mut self) -> Result<(), CompileError> {
        self.int_compare(ValType::I32, CC::NZ)
    }
    fn visit_i64_ne(&mut self) -> Result<(), CompileError> {
        self.int_compare(ValType::I64, CC::NZ)
    }
    fn visit_i32_lt_s(&mut self) -> Result<(), CompileError> {
        self.int_compare(ValType::I32, CC::L)
    }
    fn visit_i64_lt_s(&mut self) -> Result<(), CompileError> {
        self.int_compare(ValType::I64, CC::L)
    }
    fn visit_i32_lt_u(&mut self) -> Result<(), CompileError> {
        self.int_compare(ValType::I32, CC::B)
    }
    fn visit_i64_lt_u(&mut self) -> Result<(), CompileError> {
        self.int_compare(ValType::I64, CC::B)
    }
    fn visit_i32_gt_s(&mut self) -> Result<(), CompileError> {
        self.int_compare(ValType::I32, CC::G)
    }
    fn visit_i64_gt_s(&mut self) -> Result<(), CompileError> {
        self.int_compare(ValType::I64, CC::G)
    }
    fn visit_i32_gt_u(&mut self) -> Result<(), CompileError> {
        self.int_compare(ValType::I32, CC::A)
    }
    fn visit_i64_gt_u(&mut self) -> Result<(), CompileError> {
        self.int_compare(ValType::I64, CC::A)
    }
    fn visit_i32_le_s(&mut self) -> Result<(), CompileError> {
        self.int_compare(ValType::I32, CC::LE)
    }
    fn visit_i64_le_s(&mut self) -> Result<(), CompileError> {
        self.int_compare(ValType::I64, CC::LE)
    }
    fn visit_i32_le_u(&mut self) -> Result<(), CompileError> {
        self.int_compare(ValType::I32, CC::BE)
    }
    fn visit_i64_le_u(&mut self) -> Result<(), CompileError> {
        self.int_compare(ValType::I64, CC::BE)
    }
    fn visit_i32_ge_s(&mut self) -> Result<(), CompileError> {
        self.int_compare(ValType::I32, CC::GE)
    }
    fn visit_i64_ge_s(&mut self) -> Result<(), CompileError> {
        self.int_compare(ValType::I64, CC::GE)
    }
    fn visit_i32_ge_u(&mut self) -> Result<(), CompileError> {
        self.int_compare(ValType::I32, CC::AE)
    }
    fn visit_i64_ge_u(&mut self) -> Result<(), CompileError> {
        self.int_compare(ValType::I64, CC::AE)
    }

    // ---- Conversions between integers ---------------------------------------

    fn visit_i32_wrap_i64(&mut self) -> Result<(), CompileError> {
        let reg = self.pop_gpr();
        // A 32-bit move clears the upper half (invariant 2).
        self.asm.mov_rr(OperandSize::S32, reg, reg);
        self.push_gpr(reg, ValType::I32);
        Ok(())
    }

    fn visit_i64_extend_i32_u(&mut self) -> Result<(), CompileError> {
        // Invariant 2: the upper half of an i32 register is already clear.
        let reg = self.pop_gpr();
        self.push_gpr(reg, ValType::I64);
        Ok(())
    }

    fn visit_i64_extend_i32_s(&mut self) -> Result<(), CompileError> {
        self.extend(ExtMode::LQ, ValType::I64)
    }
    fn visit_i32_extend8_s(&mut self) -> Result<(), CompileError> {
        self.extend(ExtMode::BL, ValType::I32)
    }
    fn visit_i32_extend16_s(&mut self) -> Result<(), CompileError> {
        self.extend(ExtMode::WL, ValType::I32)
    }
    fn visit_i64_extend8_s(&mut self) -> Result<(), CompileError> {
        self.extend(ExtMode::BQ, ValType::I64)
    }
    fn visit_i64_extend16_s(&mut self) -> Result<(), CompileError> {
        self.extend(ExtMode::WQ, ValType::I64)
    }
    fn visit_i64_extend32_s(&mut self) -> Result<(), CompileError> {
        self.extend(ExtMode::LQ, ValType::I64)
    }

    // ---- Floats ----------------------------------------------------------------

    fn visit_f32_const(&mut self, value: wasmparser::Ieee32) -> Result<(), CompileError> {
        self.stack.push(Val::F32(value.bits()));
        Ok(())
    }

    fn visit_f64_const(&mut self, value: wasmparser::Ieee64) -> Result<(), CompileError> {
        self.stack.push(Val::F64(value.bits()));
        Ok(())
    }

    fn visit_f32_add(&mut self) -> Result<(), CompileError> {
        self.float_binop(ValType::F32, SseOp::Addss)
    }
    fn visit_f64_add(&mut self) -> Result<(), CompileError> {
        self.float_binop(ValType::F64, SseOp::Addsd)
    }
    fn visit_f32_sub(&mut self) -> Result<(), CompileError> {
        self.float_binop(ValType::F32, SseOp::Subss)
    }
    fn visit_f64_sub(&mut self) -> Result<(), CompileError> {
        self.float_binop(ValType::F64, SseOp::Subsd)
    }
    fn visit_f32_mul(&mut self) -> Result<(), CompileError> {
        self.float_binop(ValType::F32, SseOp::Mulss)
    }
    fn visit_f64_mul(&mut self) -> Result<(), CompileError> {
        self.float_binop(ValType::F64, SseOp::Mulsd)
    }
    fn visit_f32_div(&mut self) -> Result<(), CompileError> {
        self.float_binop(ValType::F32, SseOp::Divss)
    }
    fn visit_f64_div(&mut self) -> Result<(), CompileError> {
        self.float_binop(ValType::F64, SseOp::Divsd)
    }
    fn visit_f32_sqrt(&mut self) -> Result<(), CompileError> {
        self.float_unop(SseOp::Sqrtss, ValType::F32)
    }
    fn visit_f64_sqrt(&mut self) -> Result<(), CompileError> {
        self.float_unop(SseOp::Sqrtsd, ValType::F64)
    }
    fn visit_f32_min(&mut self) -> Result<(), CompileError> {
        self.float_min_max(ValType::F32, true)
    }
    fn visit_f64_min(&mut self) -> Result<(), CompileError> {
        self.float_min_max(ValType::F64, true)
    }
    fn visit_f32_max(&mut self) -> Result<(), CompileError> {
        self.float_min_max(ValType::F32, false)
    }
    fn visit_f64_max(&mut self) -> Result<(), CompileError> {
        self.float_min_max(ValType::F64, false)
    }
    fn visit_f32_abs(&mut self) -> Result<(), CompileError> {
        self.float_sign_op(ValType::F32, SignOp::Abs)
    }
    fn visit_f64_abs(&mut self) -> Result<(), CompileError> {
        self.float_sign_op(ValType::F64, SignOp::Abs)
    }
    fn visit_f32_neg(&mut self) -> Result<(), CompileError> {
        self.float_sign_op(ValType::F32, SignOp::Neg)
    }
    fn visit_f64_neg(&mut self) -> Result<(), CompileError> {
        self.float_sign_op(ValType::F64, SignOp::Neg)
    }
    fn visit_f32_copysign(&mut self) -> Result<(), CompileError> {
        self.float_sign_op(ValType::F32, SignOp::Copysign)
    }
    fn visit_f64_copysign(&mut self) -> Result<(), CompileError> {
        self.float_sign_op(ValType::F64, SignOp::Copysign)
    }
    fn visit_f32_ceil(&mut self) -> Result<(), CompileError> {
        self.float_round(ValType::F32, RoundMode::Up, "f32_ceil without sse4.1")
    }
    fn visit_f64_ceil(&mut self) -> Result<(), CompileError> {
        self.float_round(ValType::F64, RoundMode::Up, "f64_ceil without sse4.1")
    }
    fn visit_f32_floor(&mut self) -> Result<(), CompileError> {
        self.float_round(ValType::F32, RoundMode::Down, "f32_floor without sse4.1")
    }
    fn visit_f64_floor(&mut self) -> Result<(), CompileError> {
        self.float_round(ValType::F64, RoundMode::Down, "f64_floor without sse4.1")
    }
    fn visit_f32_trunc(&mut self) -> Result<(), CompileError> {
        self.float_round(ValType::F32, RoundMode::Zero, "f32_trunc without sse4.1")
    }
    fn visit_f64_trunc(&mut self) -> Result<(), CompileError> {
        self.float_round(ValType::F64, RoundMode::Zero, "f64_trunc without sse4.1")
    }
    fn visit_f32_nearest(&mut self) -> Result<(), CompileError> {
        self.float_round(
            ValType::F32,
            RoundMode::Nearest,
            "f32_nearest without sse4.1",
        )
    }
    fn visit_f64_nearest(&mut self) -> Result<(), CompileError> {
        self.float_round(
            ValType::F64,
            RoundMode::Nearest,
            "f64_nearest without sse4.1",
        )
    }
    fn visit_f32_eq(&mut self) -> Result<(), CompileError> {
        self.float_compare(ValType::F32, FloatCompare::Eq)
    }
    fn visit_f64_eq(&mut self) -> Result<(), CompileError> {
        self.float_compare(ValType::F64, FloatCompare::Eq)
    }
    fn visit_f32_ne(&mut self) -> Result<(), CompileError> {
        self.float_compare(ValType::F32, FloatCompare::Ne)
    }
    fn visit_f64_ne(&mut self) -> Result<(), CompileError> {
        self.float_compare(ValType::F64, FloatCompare::Ne)
    }
    fn visit_f32_lt(&mut self) -> Result<(), CompileError> {
        self.float_compare(ValType::F32, FloatCompare::Lt)
    }
    fn visit_f64_lt(&mut self) -> Result<(), CompileError> {
        self.float_compare(ValType::F64, FloatCompare::Lt)
    }
    fn visit_f32_gt(&mut self) -> Result<(), CompileError> {
        self.float_compare(ValType::F32, FloatCompare::Gt)
    }
    fn visit_f64_gt(&mut self) -> Result<(), CompileError> {
        self.float_compare(ValType::F64, FloatCompare::Gt)
    }
    fn visit_f32_le(&mut self) -> Result<(), CompileError> {
        self.float_compare(ValType::F32, FloatCompare::Le)
    }
    fn visit_f64_le(&mut self) -> Result<(), CompileError> {
        self.float_compare(ValType::F64, FloatCompare::Le)
    }
    fn visit_f32_ge(&mut self) -> Result<(), CompileError> {
        self.float_compare(ValType::F32, FloatCompare::Ge)
    }
    fn visit_f64_ge(&mut self) -> Result<(), CompileError> {
        self.float_compare(ValType::F64, FloatCompare::Ge)
    }

    // ---- Conversions involving floats ------------------------------------------

    fn visit_f32_demote_f64(&mut self) -> Result<(), CompileError> {
        self.float_unop(SseOp::Cvtsd2ss, ValType::F32)
    }
    fn visit_f64_promote_f32(&mut self) -> Result<(), CompileError> {
        self.float_unop(SseOp::Cvtss2sd, ValType::F64)
    }
    fn visit_f32_convert_i32_s(&mut self) -> Result<(), CompileError> {
        self.float_from_int(ValType::I32, ValType::F32, true)
    }
    fn visit_f32_convert_i32_u(&mut self) -> Result<(), CompileError> {
        self.float_from_int(ValType::I32, ValType::F32, false)
    }
    fn visit_f32_convert_i64_s(&mut self) -> Result<(), CompileError> {
        self.float_from_int(ValType::I64, ValType::F32, true)
    }
    fn visit_f32_convert_i64_u(&mut self) -> Result<(), CompileError> {
        self.float_from_int(ValType::I64, ValType::F32, false)
    }
    fn visit_f64_convert_i32_s(&mut self) -> Result<(), CompileError> {
        self.float_from_int(ValType::I32, ValType::F64, true)
    }
    fn visit_f64_convert_i32_u(&mut self) -> Result<(), CompileError> {
        self.float_from_int(ValType::I32, ValType::F64, false)
    }
    fn visit_f64_convert_i64_s(&mut self) -> Result<(), CompileError> {
        self.float_from_int(ValType::I64, ValType::F64, true)
    }
    fn visit_f64_convert_i64_u(&mut self) -> Result<(), CompileError> {
        self.float_from_int(ValType::I64, ValType::F64, false)
    }
    fn visit_i32_trunc_f32_s(&mut self) -> Result<(), CompileError> {
        self.float_to_int(ValType::F32, ValType::I32, true, false)
    }
    fn visit_i32_trunc_f32_u(&mut self) -> Result<(), CompileError> {
        self.float_to_int(ValType::F32, ValType::I32, false, false)
    }
    fn visit_i32_trunc_f64_s(&mut self) -> Result<(), CompileError> {
        self.float_to_int(ValType::F64, ValType::I32, true, false)
    }
    fn visit_i32_trunc_f64_u(&mut self) -> Result<(), CompileError> {
        self.float_to_int(ValType::F64, ValType::I32, false, false)
    }
    fn visit_i64_trunc_f32_s(&mut self) -> Result<(), CompileError> {
        self.float_to_int(ValType::F32, ValType::I64, true, false)
    }
    fn visit_i64_trunc_f32_u(&mut self) -> Result<(), CompileError> {
        self.float_to_int(ValType::F32, ValType::I64, false, false)
    }
    fn visit_i64_trunc_f64_s(&mut self) -> Result<(), CompileError> {
        self.float_to_int(ValType::F64, ValType::I64, true, false)
    }
    fn visit_i64_trunc_f64_u(&mut self) -> Result<(), CompileError> {
        self.float_to_int(ValType::F64, ValType::I64, false, false)
    }
    fn visit_i32_trunc_sat_f32_s(&mut self) -> Result<(), CompileError> {
        self.float_to_int(ValType::F32, ValType::I32, true, true)
    }
    fn visit_i32_trunc_sat_f32_u(&mut self) -> Result<(), CompileError> {
        self.float_to_int(ValType::F32, ValType::I32, false, true)
    }
    fn visit_i32_trunc_sat_f64_s(&mut self) -> Result<(), CompileError> {
        self.float_to_int(ValType::F64, ValType::I32, true, true)
    }
    fn visit_i32_trunc_sat_f64_u(&mut self) -> Result<(), CompileError> {
        self.float_to_int(ValType::F64, ValType::I32, false, true)
    }
    fn visit_i64_trunc_sat_f32_s(&mut self) -> Result<(), CompileError> {
        self.float_to_int(ValType::F32, ValType::I64, true, true)
    }
    fn visit_i64_trunc_sat_f32_u(&mut self) -> Result<(), CompileError> {
        self.float_to_int(ValType::F32, ValType::I64, false, true)
    }
    fn visit_i64_trunc_sat_f64_s(&mut self) -> Result<(), CompileError> {
        self.float_to_int(ValType::F64, ValType::I64, true, true)
    }
    fn visit_i64_trunc_sat_f64_u(&mut self) -> Result<(), CompileError> {
        self.float_to_int(ValType::F64, ValType::I64, false, true)
    }
    fn visit_i32_reinterpret_f32(&mut self) -> Result<(), CompileError> {
        self.reinterpret(ValType::I32)
    }
    fn visit_i64_reinterpret_f64(&mut self) -> Result<(), CompileError> {
        self.reinterpret(ValType::I64)
    }
    fn visit_f32_reinterpret_i32(&mut self) -> Result<(), CompileError> {
        self.reinterpret(ValType::F32)
    }
    fn visit_f64_reinterpret_i64(&mut self) -> Result<(), CompileError> {
        self.reinterpret(ValType::F64)
    }
}

// Keep the feature enum in scope for the docs of `int_bit_count`.
const _: Option<Feature> = None;
