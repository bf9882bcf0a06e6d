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
//! function's index, out of line, and goes on: at the entry with the
//! loop budget the builtin returns (the engine's budget) in the
//! activation's copy, at a loop header asking for an on-stack
//! replacement entry (below) where the loop can have one, else with the
//! copy out of reach. So a function asks when its calls, or the
//! iterations of one activation plus the calls before it, spend the
//! budget. The fast path is one decrement and one branch (and at entry
//! the counter's address, an immediate, and the copy's load); nothing is
//! saved. A budget of 0 asks for the optimizing tier on the first call.
//! Which register holds the copy is the baseline tier's choice
//! (callee-saved, so calls leave it alone).

//! The counters are the module's, shared by every instance and thread:
//! the decrement is not atomic, so two threads may lose a count of each
//! other's, which only delays the request. The runtime sets a counter far
//! from zero when it takes a request, so a function called ever more asks
//! again only after 2^31 more calls, and the runtime ignores a request
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

//! # On-stack replacement
//!
//! A function called once that loops for the rest of the program would
//! never leave baseline code, so a loop header whose operand stack is
//! empty (no loop parameters, nothing below) is an entry the optimizing
//! tier can compile: an *OSR entry* of the function at that `loop`'s byte
//! offset. When such a loop's activation spends its budget, baseline code
//! calls [`Builtin::TierUpOsr`](crate::builtins::Builtin::TierUpOsr) with
//! the function and the loop's offset, which returns the entry's code
//! once it is compiled (0 until then, 1 for never). Baseline code then
//! calls that code as a wasm function of type `[i64] -> results` (the
//! function's results), passing the VMContext and its *locals pointer*,
//! and returns what it returns: the optimized code runs the rest of the
//! activation, from the loop's header on, with the locals it reads from
//! the baseline frame:
//!
//! ```text
//!   local i (in declaration order, parameters first) is at
//!       locals pointer - osr_local_offset(i),
//!   osr_local_offset(i) = osr_slot_size(local 0) + … + osr_slot_size(local i)
//!   (16 bytes for a v128, 8 for any other type; the value at the slot's
//!   lowest address, an i32 or f32 in its low 4 bytes)
//! ```
//!
//! That is the baseline tier's frame layout (the locals below its saved
//! registers, each in its slot from the top down), stated here so the
//! optimizing tier can read it. The baseline frame stays on the stack
//! under the optimized one until the activation returns.

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

/// The bytes a local's slot takes in a baseline frame, as an OSR entry
/// reads it (module docs): 16 for a `v128`, 8 for any other type.
pub const fn osr_slot_size(v128: bool) -> u32 {
    if v128 { 16 } else { 8 }
}

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
