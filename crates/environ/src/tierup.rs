//! Tier-up: what the baseline tier's code, the jump stubs and the runtime
//! agree on so that a tiered module starts on baseline code and moves
//! each hot function to optimized code while it runs.
//!
//! ```text
//!   caller (either tier, the host's entry trampoline, a VMFuncRef)
//!     │ call stub[f]                       every way of reaching defined
//!     ▼                                    function f goes through its stub
//!   stub[f]:  movabs r11, &entry[f]
//!             jmp  [r11]                   entry[f]: baseline code of f, until
//!     │                                    the runtime stores f's optimized
//!     ▼                                    code's address there (once)
//!   baseline f:  prologue
//!                movabs r11, &counter[f]
//!                sub  dword [r11], 1       each call, in the counter (memory);
//!                mov  ebx, [r11]           each loop iteration, in a copy the
//!                js   budget_spent         activation keeps in a register
//!              resume: …                   (out of line: call tier_up(vmctx, f),
//!   loop:        sub ebx, 1; js …           then back to resume)
//! ```
//!
//! # Counters
//!
//! Each defined function of a tiered module has a 32-bit counter, which
//! starts at the engine's budget. Baseline code subtracts one on entry
//! (after the prologue, where every parameter is in its slot and no
//! register holds a value) and keeps what is left in a register for the
//! activation, from which it subtracts one at every loop header (where
//! the value stack is in memory): a loop-carried decrement of memory would
//! cost a store-to-load forwarding per iteration. When the result is
//! negative it calls the
//! [`Builtin::TierUp`](crate::builtins::Builtin::TierUp) builtin with the
//! function's index, out of line, sets the activation's copy out of reach
//! (it asked once) and goes on. So a function asks when its calls, or the
//! iterations of one activation plus the calls before it, spend the
//! budget. The fast path is one decrement and one branch (and at entry
//! the counter's address, an immediate, and the copy's load); nothing is
//! saved. A budget of 0 asks for the optimizing tier on the first call.
//! Which register holds the copy is the baseline tier's choice
//! (callee-saved, so calls leave it alone).

//! The counters are the module's, shared by every instance and thread:
//! the decrement is not atomic, so two threads may lose a count of each
//! other's, which only delays the request. The runtime sets a counter far
//! from zero when it takes a request, so a function whose activation goes
//! on looping on baseline code (there is no on-stack replacement) asks
//! again only after 2^31 more counts, and the runtime ignores a request
//! for a function it already took.
//!
//! Optimized code counts nothing.
//!
//! # Jump stubs
//!
//! Every call of a tiered module's defined function `f`, direct (a call
//! relocation against `f` in [`FUNCTION_NAMESPACE`]), indirect (its
//! `VMFuncRef`'s code pointer), from another instance (an import's) or
//! from the host (the entry trampoline calls the `VMFuncRef`'s code
//! pointer), reaches `f`'s stub, which jumps through `f`'s entry: a
//! pointer-sized cell in the runtime's memory holding the baseline code's
//! address at first, and the optimized code's once the runtime installs
//! it. Installing is one aligned pointer store; the runtime's module docs
//! (`duet::tier`) give the memory-ordering argument. The stub clobbers
//! [`STUB_SCRATCH`] only, which no call passes anything in: a callee may
//! find it changed on entry, as it may every caller-saved register.
//!
//! [`FUNCTION_NAMESPACE`]: crate::abi::FUNCTION_NAMESPACE

use crate::abi::{self, CALLER_SAVED_GPRS, SYSTEM_V_ARGUMENT_GPRS, contains_gpr};
use cranelift_asm::x64::{Amode, AsmError, Assembler, CpuFeatures, Gpr, GprMem};
use cranelift_asm::{ExternalName, FinishedCode};

/// The [`ExternalName`] namespace of the tier-up counters: an `Abs64`
/// relocation against `ExternalName::new(COUNTER_NAMESPACE, i)` is the
/// address of defined function `i`'s counter (an `i32`).
pub const COUNTER_NAMESPACE: u32 = 1;

/// The [`ExternalName`] namespace of the entries the jump stubs go
/// through: an `Abs64` relocation against `ExternalName::new(ENTRY_NAMESPACE,
/// i)` is the address of defined function `i`'s entry cell (a pointer).
pub const ENTRY_NAMESPACE: u32 = 2;

/// The register the jump stubs clobber: caller-saved, and neither an
/// argument register nor the VMContext's.
pub const STUB_SCRATCH: Gpr = Gpr::R11;

const _: () = assert!(contains_gpr(&CALLER_SAVED_GPRS, STUB_SCRATCH));
const _: () = assert!(!contains_gpr(&SYSTEM_V_ARGUMENT_GPRS, STUB_SCRATCH));
const _: () = assert!(STUB_SCRATCH.enc() != abi::RESULT_GPR.enc());

/// The name of defined function `index`'s counter.
pub const fn counter(index: u32) -> ExternalName {
    ExternalName::new(COUNTER_NAMESPACE, index)
}

/// The name of defined function `index`'s entry cell.
pub const fn entry(index: u32) -> ExternalName {
    ExternalName::new(ENTRY_NAMESPACE, index)
}

/// The jump stub of defined function `index`: `movabs r11, &entry[index];
/// jmp [r11]`. It has no frame (it is never on the stack: it jumps, and
/// nothing in it can fault but a damaged entry), so no unwind records.
pub fn jump_stub(index: u32, features: CpuFeatures) -> Result<FinishedCode, AsmError> {
    let mut asm = Assembler::new(features);
    asm.mov_ri64_external(STUB_SCRATCH, entry(index));
    asm.jmp_indirect(&GprMem::Mem(Amode::base(STUB_SCRATCH, 0)));
    asm.finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use cranelift_asm::RelocKind;

    /// A stub is one relocated `movabs` and an indirect jump through the
    /// address it loads, in 13 bytes.
    #[test]
    fn a_stub_loads_its_entry_and_jumps_through_it() {
        let stub = jump_stub(7, CpuFeatures::baseline()).unwrap();
        // 49 bb imm64: movabs r11; 41 ff 23: jmp [r11].
        assert_eq!(stub.code()[..2], [0x49, 0xbb]);
        assert_eq!(stub.code()[10..], [0x41, 0xff, 0x23]);
        let [relocation] = stub.relocations() else {
            panic!("one relocation: {:?}", stub.relocations());
        };
        assert_eq!(relocation.kind, RelocKind::Abs64);
        assert_eq!(relocation.offset, 2);
        assert_eq!(relocation.target, entry(7));
        assert_eq!(relocation.addend, 0);
    }
}
