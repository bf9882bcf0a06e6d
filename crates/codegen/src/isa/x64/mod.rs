//! The x86-64 backend: lowering (ISLE rules in `isle/codegen/x64/`, driven
//! by [`lower`]), the wasm calling convention, register allocation and
//! emission through cranelift-asm.

pub mod lower;

use crate::CodegenError;
use crate::ir::Function;
use crate::machinst::{Allocator, StackLimit};
use cranelift_asm::reg::PRegSet;
use cranelift_asm::x64::CpuFeatures;
use cranelift_asm::{FinishedCode, TrapCode};
use duet_environ::abi;
use regalloc2::MachineEnv;

/// What compiling a function needs besides the function.
#[derive(Copy, Clone, Debug)]
pub struct CompileOptions {
    /// The CPU the code runs on.
    pub features: CpuFeatures,
    /// The prologue's stack-limit check, for wasm functions.
    pub stack_limit: Option<StackLimit>,
    /// The trap codes of faults the IR implies without naming a code.
    pub traps: ImplicitTraps,
    /// The register allocator (by default, chosen by the function's size).
    pub allocator: Allocator,
}

/// The trap codes the embedder assigns to faults that IR instructions
/// imply: a trapping load or store, a hardware division fault, a failed
/// float-to-integer conversion.
#[derive(Copy, Clone, Debug)]
pub struct ImplicitTraps {
    /// A load or store without `notrap` that faults.
    pub memory_out_of_bounds: TrapCode,
    /// `div`/`idiv` by zero.
    pub integer_division_by_zero: TrapCode,
    /// `fcvt_to_sint`/`fcvt_to_uint` out of range.
    pub integer_overflow: TrapCode,
    /// `fcvt_to_sint`/`fcvt_to_uint` of NaN.
    pub bad_conversion_to_integer: TrapCode,
}

/// Lowers `func` to VCode over virtual registers (before register
/// allocation), as [`compile_function`] does first.
pub fn lower_to_vcode(
    func: &Function,
    options: &CompileOptions,
) -> Result<crate::machinst::VCode, CodegenError> {
    lower::lower_function(func, options)
}

/// Compiles `func` to machine code. In debug builds the IR is verified
/// first.
pub fn compile_function(
    func: &Function,
    options: &CompileOptions,
) -> Result<FinishedCode, CodegenError> {
    if cfg!(debug_assertions) {
        crate::verifier::verify_function(func).map_err(|e| CodegenError::Verifier {
            stage: "before lowering",
            message: e.to_string(),
        })?;
    }
    let vcode = lower::lower_function(func, options)?;
    vcode.emit(&machine_env(), options.stack_limit, options.allocator)
}

/// The registers the allocator may use: the caller-saved ones first (no
/// save needed), then the callee-saved ones (saved in the prologue if used),
/// as `duet_environ::abi` lists them. `rsp` and the frame pointer are
/// never allocated.
pub fn machine_env() -> MachineEnv {
    let mut preferred = PRegSet::empty();
    for r in abi::CALLER_SAVED_GPRS {
        preferred.add(r.to_preg());
    }
    let mut non_preferred = PRegSet::empty();
    for r in abi::CALLEE_SAVED_GPRS {
        non_preferred.add(r.to_preg());
    }
    let mut floats = PRegSet::empty();
    for r in abi::CALLER_SAVED_XMMS {
        floats.add(r.to_preg());
    }
    MachineEnv {
        preferred_regs_by_class: [preferred, floats, PRegSet::empty()],
        non_preferred_regs_by_class: [non_preferred, PRegSet::empty(), PRegSet::empty()],
        scratch_by_class: [None; 3],
        fixed_stack_slots: Vec::new(),
    }
}
