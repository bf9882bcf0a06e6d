//! Whole modules through the optimizing tier: translate each function to IR
//! and compile it to machine code in one step.

use crate::{FuncTranslator, WasmError};
use cranelift_asm::FinishedCode;
use cranelift_asm::x64::CpuFeatures;
use cranelift_codegen::CodegenError;
use cranelift_codegen::isa::x64::{CompileOptions, ImplicitTraps, compile_function};
use cranelift_codegen::machinst::{Allocator, StackLimit};
use duet_environ::module::{DefinedFuncIndex, FunctionBodyData, Module, ModuleTranslation};
use duet_environ::module_env::ModuleEnvironment;
use duet_environ::parallel::compile_functions;
use duet_environ::trap::Trap;
use duet_environ::tunables::Tunables;
use duet_environ::vmoffsets::VMContext;

/// Why a module could not be compiled by the optimizing tier.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CompileError {
    /// The translation to IR failed (invalid or unsupported input).
    #[error(transparent)]
    Wasm(#[from] WasmError),
    /// The backend failed on defined function `index`.
    #[error("defined function {index}: {error}")]
    Codegen {
        /// The function.
        index: u32,
        /// What went wrong.
        error: CodegenError,
    },
}

/// The backend options of wasm functions on a CPU with `features`: the
/// stack-limit check against the VMContext (which arrives in `rdi`), and
/// the runtime's trap codes (duet-environ) for the faults the IR implies.
pub fn compile_options(features: CpuFeatures) -> CompileOptions {
    CompileOptions {
        features,
        stack_limit: Some(StackLimit {
            vmctx: duet_environ::abi::VMCTX,
            offset: VMContext::STACK_LIMIT as i32,
            trap: Trap::StackOverflow.code(),
        }),
        traps: ImplicitTraps {
            memory_out_of_bounds: Trap::MemoryOutOfBounds.code(),
            integer_division_by_zero: Trap::IntegerDivisionByZero.code(),
            integer_overflow: Trap::IntegerOverflow.code(),
            bad_conversion_to_integer: Trap::BadConversionToInteger.code(),
        },
        allocator: Allocator::BySize,
    }
}

/// Translates, optimizes (the mid-end, `cranelift_codegen::opts`) and
/// compiles every function a module defines (verifying the IR after each
/// step in debug builds), on up to `threads` threads through
/// [`duet_environ::parallel::compile_functions`], each thread with its own
/// [`FuncTranslator`]. Each function's IR is compiled as soon as it is
/// made, so only one function's IR per thread is alive at a time. The code
/// of defined function `i` is at position `i`; on failure the error is the
/// lowest-numbered failing function's, whatever the scheduling.
pub fn compile_module(
    translation: ModuleTranslation<'_>,
    tunables: Tunables,
    features: CpuFeatures,
    threads: usize,
) -> Result<Vec<FinishedCode>, CompileError> {
    let options = compile_options(features);
    let env = ModuleEnvironment::new(&translation.module, tunables);
    compile_functions(
        translation.function_bodies,
        threads,
        FuncTranslator::new,
        |translator, index, body| compile_one(translator, &env, &options, index, body, None),
    )
}

/// Compiles some of a module's defined functions, each given with its
/// index, on this thread: what tier-up compiles (the module's other
/// functions run another tier's code). Each function's outcome, in the
/// order given: one that fails does not keep the others from compiling.
pub fn compile_some_functions<'data>(
    module: &Module,
    tunables: Tunables,
    features: CpuFeatures,
    bodies: impl IntoIterator<Item = (DefinedFuncIndex, FunctionBodyData<'data>)>,
) -> Vec<Result<FinishedCode, CompileError>> {
    let options = compile_options(features);
    let env = ModuleEnvironment::new(module, tunables);
    let mut translator = FuncTranslator::new();
    bodies
        .into_iter()
        .map(|(index, body)| compile_one(&mut translator, &env, &options, index, body, None))
        .collect()
}

/// Compiles defined function `index` entered at the header of its `loop`
/// at byte offset `loop_offset`, for on-stack replacement from baseline
/// code ([`FuncTranslator::translate_osr`], `duet_environ::tierup`).
pub fn compile_osr_entry(
    module: &Module,
    tunables: Tunables,
    features: CpuFeatures,
    index: DefinedFuncIndex,
    body: FunctionBodyData<'_>,
    loop_offset: u64,
) -> Result<FinishedCode, CompileError> {
    let options = compile_options(features);
    let env = ModuleEnvironment::new(module, tunables);
    let mut translator = FuncTranslator::new();
    compile_one(
        &mut translator,
        &env,
        &options,
        index,
        body,
        Some(loop_offset),
    )
}

/// Translates, optimizes and compiles one function (entered at the
/// `loop` at offset `osr`, if given).
fn compile_one(
    translator: &mut FuncTranslator,
    env: &ModuleEnvironment<'_>,
    options: &CompileOptions,
    index: DefinedFuncIndex,
    body: FunctionBodyData<'_>,
    osr: Option<u64>,
) -> Result<FinishedCode, CompileError> {
    let codegen_error = move |error| CompileError::Codegen {
        index: index.as_u32(),
        error,
    };
    let mut func = match osr {
        None => translator.translate(env, index, body)?,
        Some(loop_offset) => translator.translate_osr(env, index, body, loop_offset)?,
    };
    // In debug builds: the translation's output verifies (and
    // `compile_function` verifies the optimized IR).
    if cfg!(debug_assertions) {
        cranelift_codegen::verifier::verify_function(&func).map_err(|e| {
            codegen_error(CodegenError::Verifier {
                stage: "after translation",
                message: e.to_string(),
            })
        })?;
    }
    cranelift_codegen::opts::optimize(&mut func);
    compile_function(&func, options).map_err(codegen_error)
}
