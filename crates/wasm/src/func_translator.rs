//! The driver: one function body in, one IR [`Function`] out, validated
//! and translated in the same pass; and a module's functions on several
//! threads.
//!
//! ```text
//!   FunctionBodyData ──► locals ──────► Variables (parameters: entry block
//!   (body, validator)    define_locals   parameters; locals: zero)
//!                    └─► operators ───► validator.op(op) ─► Translator::operator
//!                        (OperatorsReader)                  (code_translator.rs)
//! ```
//!
//! Each operator is validated *before* it is translated, so the translator
//! only ever sees valid code: operand types and stack heights, branch
//! depths, indices into the module's spaces are all checked already. A
//! panic in the translator is therefore a bug in it, never a reaction to
//! input. A valid operator the translator does not handle is a
//! [`WasmError::UnsupportedOperator`] naming it at its offset.
//!
//! With fuel or epochs on (`metering.rs`), the entry block checks them
//! before the first operator; each reachable operator is counted by the
//! fuel meter, and its charge emitted, right before its translation, and
//! a `loop`'s header gets the checks right after it. Unreachable
//! operators are never counted, so the charges are the baseline tier's.
//!
//! Unreachable code (after a branch, `return` or `unreachable`, until the
//! enclosing frame's `else` or `end`) is validated and not translated.
//! There the translator does not look at which operator it has, only at
//! what the validator did with it ([`duet_environ::control`]): a frame
//! opened is a dead frame, closing a dead frame drops it, and the `else`
//! and `end` of a live frame are translated. So every operator the
//! validator accepts, of whatever proposal, keeps the frames matched in
//! unreachable code, including ones (`try_table`, legacy `try` with its
//! `catch`, `catch_all` and `delegate`) that are unsupported in reachable
//! code.

use crate::error::WasmError;
use crate::ir_types::{ir_type_of, wasm_signature};
use crate::metering::Metering;
use crate::state::{ControlFrame, FrameKind, TranslationState};
use cranelift_asm::SourceLoc;
use cranelift_codegen::builder::{FunctionBuilder, FunctionBuilderContext, Variable};
use cranelift_codegen::entity::EntityRef;
use cranelift_codegen::ir::{Block, FuncRef, Function, IntCC, MemFlags, SigRef, Type, Value};
use duet_environ::builtins::Builtin;
use duet_environ::control::{ControlSnapshot, FrameChange};
use duet_environ::module::{DefinedFuncIndex, FunctionBodyData, ModuleTranslation};
use duet_environ::module_env::ModuleEnvironment;
use duet_environ::parallel::compile_functions;
use duet_environ::tunables::Tunables;
use std::collections::HashMap;
use wasmparser::{
    FuncValidator, FuncValidatorAllocations, FunctionBody, Operator, OperatorsReader,
    OperatorsReaderAllocations, WasmModuleResources,
};

/// Translates function bodies to IR, keeping its allocations (the
/// builder's, the validator's, the operator reader's, the value and
/// control stacks) from one function to the next. One per thread.
#[derive(Default)]
pub struct FuncTranslator {
    builder_context: FunctionBuilderContext,
    validator_allocations: FuncValidatorAllocations,
    reader_allocations: OperatorsReaderAllocations,
    state: TranslationState,
}

impl FuncTranslator {
    /// A translator with nothing allocated yet.
    pub fn new() -> Self {
        FuncTranslator::default()
    }

    /// Validates and translates defined function `index`, whose body and
    /// validator are `body` (as [`duet_environ::module::translate`] hands
    /// them out).
    pub fn translate(
        &mut self,
        env: &ModuleEnvironment<'_>,
        index: DefinedFuncIndex,
        body: FunctionBodyData<'_>,
    ) -> Result<Function, WasmError> {
        let allocations = core::mem::take(&mut self.validator_allocations);
        let mut validator = body.validator.into_validator(allocations);
        let result = self.translate_body(env, index, &body.body, &mut validator);
        self.validator_allocations = validator.into_allocations();
        result
    }

    /// Like [`translate`](Self::translate), with a validator the caller
    /// made (the body's locals and operators are fed to it).
    pub fn translate_body<T: WasmModuleResources>(
        &mut self,
        env: &ModuleEnvironment<'_>,
        index: DefinedFuncIndex,
        body: &FunctionBody<'_>,
        validator: &mut FuncValidator<T>,
    ) -> Result<Function, WasmError> {
        self.translate_body_at(env, index, body, validator, None)
    }

    /// Validates and translates defined function `index` entered at the
    /// header of its `loop` at byte offset `loop_offset`, from a baseline
    /// frame (on-stack replacement, `duet_environ::tierup`): a function of
    /// type `[i64] -> results` whose `i64` is the baseline frame's locals
    /// pointer. The entry reads every local from there and jumps to the
    /// loop's header; the code before the loop is translated as usual
    /// behind a branch the entry never takes (the locals pointer is never
    /// null), so every block stays reachable and the code after the loop
    /// finds the frames around it. The loop must have no parameters and
    /// nothing on the operand stack below it; a loop that does not, or an
    /// offset that is no reachable loop's, is a [`WasmError::NoOsrEntry`].
    pub fn translate_osr(
        &mut self,
        env: &ModuleEnvironment<'_>,
        index: DefinedFuncIndex,
        body: FunctionBodyData<'_>,
        loop_offset: u64,
    ) -> Result<Function, WasmError> {
        let allocations = core::mem::take(&mut self.validator_allocations);
        let mut validator = body.validator.into_validator(allocations);
        let result =
            self.translate_body_at(env, index, &body.body, &mut validator, Some(loop_offset));
        self.validator_allocations = validator.into_allocations();
        result
    }

    fn translate_body_at<T: WasmModuleResources>(
        &mut self,
        env: &ModuleEnvironment<'_>,
        index: DefinedFuncIndex,
        body: &FunctionBody<'_>,
        validator: &mut FuncValidator<T>,
        osr: Option<u64>,
    ) -> Result<Function, WasmError> {
        let func_index = env.module().func_index(index).as_u32();
        let ty = env.func_type(func_index);
        let body_offset = body.range().start;
        let own_signature = wasm_signature(ty).map_err(|t| WasmError::UnsupportedType {
            ty: t.to_string(),
            offset: body_offset,
        })?;
        let signature = match osr {
            None => own_signature.clone(),
            Some(_) => {
                let mut osr_signature = own_signature.clone();
                osr_signature.params = vec![Type::I64, Type::I64];
                osr_signature
            }
        };
        let results = signature.returns.clone();
        let mut func = Function::new(format!("f{func_index}"), signature);
        let mut builder = FunctionBuilder::new(&mut func, &mut self.builder_context);
        let entry = builder.create_block();
        let mut params = builder.append_block_params_for_function_params(entry);
        builder.switch_to_block(entry);
        builder.seal_block(entry);
        self.state.clear();

        let mut translator = Translator {
            builder,
            env,
            state: &mut self.state,
            vmctx: params[0],
            offset: body_offset,
            local_types: Vec::new(),
            wasm_signatures: HashMap::new(),
            direct_functions: HashMap::new(),
            builtin_signatures: [None; Builtin::ALL.len()],
            metering: Metering::default(),
            osr: None,
        };
        if osr.is_some() {
            // The function's own parameters are zeros on the path the
            // entry never takes; its locals are variables `0..` as always.
            params.truncate(1);
            for &ty in &own_signature.params[1..] {
                let zero = translator.zero(ty);
                params.push(zero);
            }
        }
        translator.declare_locals(&params[1..], body, validator)?;
        translator.state.control.push(ControlFrame {
            kind: FrameKind::Function,
            destination: None,
            base: 0,
            num_params: 0,
            results,
        });
        translator.set_offset(body_offset);
        translator.metering_entry(body);
        if let Some(loop_offset) = osr {
            // The entry's checks are made; now the branch the entry never
            // takes to the function's own start.
            let frame = translator.builder.func.dfg.block_params(entry)[1];
            let (start, jump) = (
                translator.builder.create_block(),
                translator.builder.create_block(),
            );
            let null = translator.builder.ins().iconst(Type::I64, 0);
            let is_null = translator.builder.ins().icmp(IntCC::Equal, frame, null);
            translator
                .builder
                .ins()
                .brif(is_null, start, &[], jump, &[]);
            translator.builder.seal_block(start);
            translator.builder.seal_block(jump);
            translator.builder.switch_to_block(start);
            translator.osr = Some(OsrEntry {
                loop_offset,
                frame,
                jump,
                entered: false,
            });
        }

        let mut reader = body.get_binary_reader_for_operators()?;
        reader.set_features(*validator.features());
        let allocations = core::mem::take(&mut self.reader_allocations);
        let mut reader = OperatorsReader::new_with_allocs(reader, allocations);
        let outcome = translator.operators(&mut reader, validator);
        let outcome = outcome.and_then(|()| Ok(reader.finish()?));
        self.reader_allocations = reader.into_allocations();
        outcome?;
        if let Some(entry) = &translator.osr
            && !entry.entered
        {
            return Err(WasmError::NoOsrEntry {
                offset: entry.loop_offset,
            });
        }

        translator.builder.finalize();
        if cfg!(debug_assertions)
            && let Err(errors) = cranelift_codegen::verifier::verify_function(&func)
        {
            panic!("the translation of function {func_index} does not verify:\n{errors}\n{func}");
        }
        Ok(func)
    }
}

/// Validates and translates defined function `index` of the module `env`
/// describes, with fresh allocations (see [`FuncTranslator`] to reuse
/// them).
pub fn translate_function(
    env: &ModuleEnvironment<'_>,
    index: DefinedFuncIndex,
    body: FunctionBodyData<'_>,
) -> Result<Function, WasmError> {
    FuncTranslator::new().translate(env, index, body)
}

/// Translates every function a module defines on up to `threads` threads
/// (1: on this thread) through
/// [`duet_environ::parallel::compile_functions`], each thread with its own
/// [`FuncTranslator`]. The IR of defined function `i` is at position `i`;
/// on failure the error is the one of the lowest failing function, so it
/// does not depend on scheduling.
pub fn translate_module(
    translation: ModuleTranslation<'_>,
    tunables: Tunables,
    threads: usize,
) -> Result<Vec<Function>, WasmError> {
    let env = ModuleEnvironment::new(&translation.module, tunables);
    compile_functions(
        translation.function_bodies,
        threads,
        FuncTranslator::new,
        |translator, index, body| translator.translate(&env, index, body),
    )
}

/// The translation of one function in progress: the builder, the module's
/// facts, the value and control stacks, and the entities declared so far.
pub(crate) struct Translator<'a, 'f> {
    /// Builds the IR (SSA construction for the locals).
    pub builder: FunctionBuilder<'f>,
    /// The module around the function.
    pub env: &'a ModuleEnvironment<'a>,
    /// Value stack and control frames.
    pub state: &'a mut TranslationState,
    /// The VMContext: the entry block's first parameter.
    pub vmctx: Value,
    /// The byte offset of the operator being translated (for errors).
    pub offset: u64,
    /// The type of each local (parameters first); local `i` is
    /// `Variable::new(i)`.
    local_types: Vec<Type>,
    /// The signature declared for each wasm function type called.
    pub wasm_signatures: HashMap<u32, SigRef>,
    /// The external function declared for each function called directly.
    pub direct_functions: HashMap<u32, FuncRef>,
    /// The signature declared for each builtin called.
    pub builtin_signatures: [Option<SigRef>; Builtin::ALL.len()],
    /// The fuel meter and the pointers fuel and epoch checks use.
    pub(crate) metering: Metering,
    /// Where the function is entered, when it is translated for on-stack
    /// replacement ([`FuncTranslator::translate_osr`]).
    pub(crate) osr: Option<OsrEntry>,
}

/// The entry of a function translated for on-stack replacement.
pub(crate) struct OsrEntry {
    /// The `loop` it enters at the header of.
    pub loop_offset: u64,
    /// The baseline frame's locals pointer (the entry's second parameter).
    pub frame: Value,
    /// The block the entry branches to, which reads the locals and jumps
    /// to the loop's header (filled in when the loop is translated).
    pub jump: Block,
    /// Whether the loop was found.
    pub entered: bool,
}

impl Translator<'_, '_> {
    /// An error for a valid operator the translator does not handle.
    pub fn unsupported(&self, op: &Operator<'_>) -> WasmError {
        WasmError::UnsupportedOperator {
            operator: duet_environ::operator::operator_text_name(op),
            offset: self.offset,
        }
    }

    /// The IR type of a wasm type named by the body (locals, block types,
    /// typed `select`), or the error refusing it.
    pub fn ir_type(&self, ty: wasmparser::ValType) -> Result<Type, WasmError> {
        ir_type_of(ty).ok_or_else(|| WasmError::UnsupportedType {
            ty: ty.to_string(),
            offset: self.offset,
        })
    }

    /// Declares a variable per parameter (defined as the entry block's
    /// parameter) and per local (defined as zero), validating the local
    /// declarations.
    fn declare_locals<T: WasmModuleResources>(
        &mut self,
        params: &[Value],
        body: &FunctionBody<'_>,
        validator: &mut FuncValidator<T>,
    ) -> Result<(), WasmError> {
        for &param in params {
            let ty = self.builder.func.dfg.value_type(param);
            let var = self.builder.declare_var(ty);
            self.builder.def_var(var, param);
            self.local_types.push(ty);
        }
        // One zero per type, shared by every local of that type.
        let mut zeros: Vec<(Type, Value)> = Vec::new();
        let mut locals = body.get_locals_reader()?;
        for _ in 0..locals.get_count() {
            let offset = locals.original_position();
            let (count, ty) = locals.read()?;
            // The validator bounds the number of locals before any is made.
            validator.define_locals(offset, count, ty)?;
            self.offset = offset;
            let ty = self.ir_type(ty)?;
            let zero = match zeros.iter().find(|(t, _)| *t == ty) {
                Some(&(_, zero)) => zero,
                None => {
                    let zero = self.zero(ty);
                    zeros.push((ty, zero));
                    zero
                }
            };
            for _ in 0..count {
                let var = self.builder.declare_var(ty);
                self.builder.def_var(var, zero);
                self.local_types.push(ty);
            }
        }
        Ok(())
    }

    /// A zero of type `ty` (a null reference for `i64`).
    pub fn zero(&mut self, ty: Type) -> Value {
        match ty {
            Type::F32 => self.builder.ins().f32const(0),
            Type::F64 => self.builder.ins().f64const(0),
            ty if ty.is_vector() => self.builder.ins().vconst(ty, 0),
            _ => self.builder.ins().iconst(ty, 0),
        }
    }

    /// At a `loop` whose header is `header` (`no_params`: the loop takes
    /// none): if the function is translated for on-stack replacement at
    /// this loop, fills in the entry's jump block, which reads every local
    /// from the baseline frame (`duet_environ::tierup::osr_local_offset`)
    /// and the epoch deadline, if cached, and jumps to the header. Called
    /// with the loop's parameters popped and before the header is entered.
    pub(crate) fn enter_at_loop(
        &mut self,
        header: Block,
        no_params: bool,
    ) -> Result<(), WasmError> {
        let Some(entry) = &self.osr else {
            return Ok(());
        };
        if entry.loop_offset != self.offset {
            return Ok(());
        }
        if !no_params || !self.state.stack.is_empty() {
            return Err(WasmError::NoOsrEntry {
                offset: self.offset,
            });
        }
        let (frame, jump) = (entry.frame, entry.jump);
        self.builder.switch_to_block(jump);
        let mut below = 0u32;
        for i in 0..self.local_types.len() {
            let ty = self.local_types[i];
            below += duet_environ::tierup::osr_slot_size(ty.is_vector());
            // The frame's slots are 8-aligned, a `v128`'s too.
            let flags = if ty.is_vector() {
                MemFlags::new().with_notrap()
            } else {
                MemFlags::trusted()
            };
            let value = self.builder.ins().load(ty, flags, frame, -(below as i32));
            self.builder.def_var(Variable::new(i), value);
        }
        if let Some(var) = self.metering.deadline_variable() {
            self.reload_deadline(var);
        }
        self.builder.ins().jump(header, &[]);
        if let Some(entry) = &mut self.osr {
            entry.entered = true;
        }
        Ok(())
    }

    /// Local `index`'s variable (the validator checked the index).
    pub fn local(&self, index: u32) -> Variable {
        debug_assert!((index as usize) < self.local_types.len());
        Variable::new(index as usize)
    }

    /// Reads, validates and translates every operator of the body.
    fn operators<T: WasmModuleResources>(
        &mut self,
        reader: &mut OperatorsReader<'_>,
        validator: &mut FuncValidator<T>,
    ) -> Result<(), WasmError> {
        while !reader.eof() {
            let (op, offset) = reader.read_with_offset()?;
            if self.state.reachable {
                validator.op(offset, &op)?;
                self.set_offset(offset);
                self.metering_before(&op);
                self.operator(&op)?;
                self.metering_after(&op);
            } else {
                let before = ControlSnapshot::of(validator);
                validator.op(offset, &op)?;
                self.set_offset(offset);
                let change = before.change(ControlSnapshot::of(validator));
                self.unreachable_operator(&op, change)?;
            }
        }
        Ok(())
    }

    /// Makes `offset` the operator's offset, for errors and as the source
    /// location of the instructions it becomes.
    fn set_offset(&mut self, offset: u64) {
        self.offset = offset;
        self.builder
            .set_srcloc(u32::try_from(offset).ok().map(SourceLoc));
    }

    /// An operator in unreachable code, already validated: only what it did
    /// to the validator's control stack matters (see
    /// [`duet_environ::control`]). A frame it opens is dead; a dead frame
    /// is closed without a trace; the `else` and `end` of a live frame are
    /// translated, since the code after them may be reachable again.
    fn unreachable_operator(
        &mut self,
        op: &Operator<'_>,
        change: FrameChange,
    ) -> Result<(), WasmError> {
        let live = |kind: &FrameKind| !matches!(kind, FrameKind::Dead);
        let top = &self.state.control.last().expect("inside the function").kind;
        match change {
            FrameChange::Unchanged => {}
            FrameChange::Opened => self.push_dead_frame(),
            FrameChange::Replaced { .. } if !live(top) => {}
            FrameChange::Replaced {
                to: wasmparser::FrameKind::Else,
                ..
            } if matches!(top, FrameKind::If { .. }) => self.translate_else(),
            // Only an `if` is a live frame with a divider; a `catch` ends a
            // `try`, which is always dead (never translated).
            FrameChange::Replaced { .. } => return Err(self.unsupported(op)),
            FrameChange::Closed if !live(top) => {
                self.state.control.pop();
            }
            FrameChange::Closed => self.translate_end(),
        }
        Ok(())
    }
}
