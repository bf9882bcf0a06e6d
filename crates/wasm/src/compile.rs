//! Whole modules through the optimizing tier: translate each function to IR
//! and compile it to machine code in one step.

use crate::{FuncTranslator, ModuleEnvironment, WasmError};
use cranelift_asm::FinishedCode;
use cranelift_asm::x64::CpuFeatures;
use cranelift_codegen::CodegenError;
use cranelift_codegen::isa::x64::{CompileOptions, ImplicitTraps, compile_function};
use cranelift_codegen::machinst::{Allocator, StackLimit};
use duet_environ::module::{DefinedFuncIndex, ModuleTranslation};
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
/// step in debug builds), on up to
/// `threads` threads. Each function's IR is compiled as soon as it is
/// made, so only one function's IR per thread is alive at a time. The code
/// of defined function `i` is at position `i`; on failure the error is the
/// lowest-numbered failing function's, whatever the scheduling.
pub fn compile_module(
    translation: ModuleTranslation<'_>,
    tunables: Tunables,
    features: CpuFeatures,
    threads: usize,
) -> Result<Vec<FinishedCode>, CompileError> {
    use std::sync::Mutex;
    use std::sync::atomic::{AtomicUsize, Ordering};

    let options = compile_options(features);
    let env = ModuleEnvironment::new(&translation.module, tunables);
    let bodies: Vec<Mutex<Option<_>>> = translation
        .function_bodies
        .into_iter()
        .map(|body| Mutex::new(Some(body)))
        .collect();
    let next = AtomicUsize::new(0);
    let work = || {
        let mut translator = FuncTranslator::new();
        let mut done = Vec::new();
        loop {
            let i = next.fetch_add(1, Ordering::Relaxed);
            let Some(slot) = bodies.get(i) else {
                return done;
            };
            let body = slot
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .take()
                .expect("each body is taken once");
            let index = DefinedFuncIndex::from_u32(i as u32);
            let result = translator
                .translate(&env, index, body)
                .map_err(CompileError::from)
                .and_then(|mut func| {
                    // In debug builds: the translation's output verifies
                    // (and `compile_function` verifies the optimized IR).
                    if cfg!(debug_assertions) {
                        cranelift_codegen::verifier::verify_function(&func).map_err(|e| {
                            CompileError::Codegen {
                                index: i as u32,
                                error: CodegenError::Verifier {
                                    stage: "after translation",
                                    message: e.to_string(),
                                },
                            }
                        })?;
                    }
                    cranelift_codegen::opts::optimize(&mut func);
                    compile_function(&func, &options).map_err(|error| CompileError::Codegen {
                        index: i as u32,
                        error,
                    })
                });
            done.push((i, result));
        }
    };
    let threads = threads.clamp(1, bodies.len().max(1));
    let mut results = if threads == 1 {
        work()
    } else {
        std::thread::scope(|scope| {
            let workers: Vec<_> = (0..threads).map(|_| scope.spawn(work)).collect();
            workers
                .into_iter()
                .flat_map(|w| w.join().expect("a compilation thread panicked"))
                .collect()
        })
    };
    results.sort_by_key(|(i, _)| *i);
    results.into_iter().map(|(_, r)| r).collect()
}
