//! The wasm calling convention on x86-64: how a call passes the callee's
//! VMContext, the arguments and the results. Both compilers use it for every
//! wasm-to-wasm call (direct, imported, indirect), so a function compiled by
//! one tier can call one compiled by the other; the runtime's entry and
//! exit trampolines use it too.
//!
//! It is the System V convention where System V has an answer, extended for
//! multiple results:
//!
//! * `rdi` holds the callee's VMContext;
//! * integer and reference arguments take `rsi, rdx, rcx, r8, r9` in order,
//!   float (and later vector) arguments `xmm0`-`xmm7`; the rest go on the
//!   stack, one 8-byte slot each (16 for `v128`, 16-aligned), in argument
//!   order, starting at `rsp` at the call instruction;
//! * the first result comes back in `rax` (integer, reference) or `xmm0`
//!   (float, vector); every further result is written by the callee into
//!   the caller's *return area*, which directly follows the stack arguments;
//! * `rsp` is 16-byte aligned at the call instruction;
//! * `rbx, rbp, r12-r15` are preserved by the callee; every other GPR and
//!   every XMM register may be clobbered.
//!
//! ```text
//!   caller's frame          higher addresses
//!   ├─ return area         results 1.., 8 bytes each (16 for v128)
//!   ├─ stack arguments     arguments past the registers
//!   │                      ◄── rsp at the call instruction (16-aligned)
//!   ├─ return address      ◄── rsp on entry to the callee
//!   ├─ saved rbp           ◄── rbp in the callee (the frame-pointer chain
//!   │                          that trap backtraces walk)
//!   ├─ callee-saved GPRs the callee uses
//!   ├─ locals and spill slots
//!   └─ outgoing arguments and return areas of calls the callee makes
//!                           lower addresses
//! ```
//!
//! In the callee, stack argument `k` (offset `o` in [`ArgLocation::Stack`])
//! is at `rsp_on_entry + 8 + o`, and so at `rbp + 16 + o` once the frame
//! pointer is set up; the return-area slot of result `i` likewise.

use cranelift_asm::x64::{Gpr, Xmm};

/// The register holding the callee's VMContext at a call.
pub const VMCTX: Gpr = Gpr::RDI;

/// The registers of integer and reference arguments, in order.
pub const ARGUMENT_GPRS: [Gpr; 5] = [Gpr::RSI, Gpr::RDX, Gpr::RCX, Gpr::R8, Gpr::R9];

/// The registers of float and vector arguments, in order.
pub const ARGUMENT_XMMS: [Xmm; 8] = [
    Xmm::XMM0,
    Xmm::XMM1,
    Xmm::XMM2,
    Xmm::XMM3,
    Xmm::XMM4,
    Xmm::XMM5,
    Xmm::XMM6,
    Xmm::XMM7,
];

/// The register of the first result, if it is an integer or reference.
pub const RESULT_GPR: Gpr = Gpr::RAX;

/// The register of the first result, if it is a float or vector.
pub const RESULT_XMM: Xmm = Xmm::XMM0;

/// The registers a callee preserves.
pub const CALLEE_SAVED_GPRS: [Gpr; 6] =
    [Gpr::RBX, Gpr::RBP, Gpr::R12, Gpr::R13, Gpr::R14, Gpr::R15];

/// The [`ExternalName`](cranelift_asm::ExternalName) namespace of the
/// module's functions: a direct call to function `f` is a call relocation
/// against `ExternalName::new(FUNCTION_NAMESPACE, f)`, which the runtime
/// resolves to `f`'s code when it links the module.
pub const FUNCTION_NAMESPACE: u32 = 0;

/// The stack alignment at a call instruction.
pub const STACK_ALIGNMENT: u32 = 16;

/// The type of a value as the calling convention sees it.
#[derive(Copy, Clone, PartialEq, Eq, Hash, Debug)]
pub enum AbiType {
    /// `i32`.
    I32,
    /// `i64`.
    I64,
    /// `f32`.
    F32,
    /// `f64`.
    F64,
    /// `v128`.
    V128,
    /// A reference (`funcref`, `externref`): a pointer.
    Ref,
}

impl AbiType {
    /// Whether the value travels in an XMM register.
    pub const fn is_float(self) -> bool {
        matches!(self, AbiType::F32 | AbiType::F64 | AbiType::V128)
    }

    /// The size of its stack slot (and the slot's alignment).
    pub const fn slot_size(self) -> u32 {
        match self {
            AbiType::V128 => 16,
            _ => 8,
        }
    }
}

/// Where an argument or result is.
#[derive(Copy, Clone, PartialEq, Eq, Debug)]
pub enum ArgLocation {
    /// In a general-purpose register.
    Gpr(Gpr),
    /// In an XMM register.
    Xmm(Xmm),
    /// On the stack, `offset` bytes above `rsp` at the call instruction.
    Stack {
        /// Bytes above `rsp` at the call.
        offset: u32,
    },
}

/// Where a function type's arguments and results go.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct CallSignature {
    /// One location per parameter, in order.
    pub params: Vec<ArgLocation>,
    /// One location per result, in order: the first in a register, the
    /// others in the return area (their `offset`s count from `rsp` at the
    /// call, past the stack arguments).
    pub results: Vec<ArgLocation>,
    /// Bytes of stack arguments.
    pub stack_args_size: u32,
    /// Bytes of the return area.
    pub return_area_size: u32,
}

impl CallSignature {
    /// The locations for a function with `params` and `results`.
    pub fn new(params: &[AbiType], results: &[AbiType]) -> CallSignature {
        let (mut gprs, mut xmms) = (ARGUMENT_GPRS.iter(), ARGUMENT_XMMS.iter());
        let mut stack = 0u32;
        let mut on_stack = |ty: AbiType| {
            let offset = stack.next_multiple_of(ty.slot_size());
            stack = offset + ty.slot_size();
            ArgLocation::Stack { offset }
        };
        let params = params
            .iter()
            .map(|&ty| {
                match ty.is_float() {
                    false => gprs.next().map(|&r| ArgLocation::Gpr(r)),
                    true => xmms.next().map(|&r| ArgLocation::Xmm(r)),
                }
                .unwrap_or_else(|| on_stack(ty))
            })
            .collect();
        let stack_args_size = stack.next_multiple_of(16);

        let mut area = stack_args_size;
        let results = results
            .iter()
            .enumerate()
            .map(|(i, &ty)| match (i, ty.is_float()) {
                (0, false) => ArgLocation::Gpr(RESULT_GPR),
                (0, true) => ArgLocation::Xmm(RESULT_XMM),
                _ => {
                    let offset = area.next_multiple_of(ty.slot_size());
                    area = offset + ty.slot_size();
                    ArgLocation::Stack { offset }
                }
            })
            .collect();
        let return_area_size = (area - stack_args_size).next_multiple_of(16);
        CallSignature {
            params,
            results,
            stack_args_size,
            return_area_size,
        }
    }

    /// The stack bytes a caller reserves below its frame for the call:
    /// arguments and return area (a multiple of 16, so `rsp` stays aligned).
    pub fn outgoing_area_size(&self) -> u32 {
        self.stack_args_size + self.return_area_size
    }
}

#[cfg(test)]
mod tests {
    use super::AbiType::*;
    use super::*;

    #[test]
    fn registers_first_then_the_stack_in_argument_order() {
        let sig = CallSignature::new(&[I32, F64, I64, I32, I32, I32, Ref, F32, I64], &[]);
        use ArgLocation as L;
        assert_eq!(
            sig.params,
            [
                L::Gpr(Gpr::RSI),
                L::Xmm(Xmm::XMM0),
                L::Gpr(Gpr::RDX),
                L::Gpr(Gpr::RCX),
                L::Gpr(Gpr::R8),
                L::Gpr(Gpr::R9),
                L::Stack { offset: 0 },
                L::Xmm(Xmm::XMM1),
                L::Stack { offset: 8 },
            ]
        );
        assert_eq!(sig.stack_args_size, 16);
        assert_eq!(sig.outgoing_area_size(), 16);
    }

    #[test]
    fn the_first_result_in_a_register_the_rest_after_the_stack_arguments() {
        let params = [F32; 9]; // one on the stack
        let sig = CallSignature::new(&params, &[F64, I32, V128, I64]);
        assert_eq!(sig.params[8], ArgLocation::Stack { offset: 0 });
        assert_eq!(sig.stack_args_size, 16);
        assert_eq!(
            sig.results,
            [
                ArgLocation::Xmm(Xmm::XMM0),
                ArgLocation::Stack { offset: 16 },
                ArgLocation::Stack { offset: 32 }, // v128: 16-aligned
                ArgLocation::Stack { offset: 48 },
            ]
        );
        assert_eq!(sig.return_area_size, 48);
        assert_eq!(sig.outgoing_area_size() % STACK_ALIGNMENT, 0);
    }

    #[test]
    fn nothing_on_the_stack_for_small_signatures() {
        let sig = CallSignature::new(&[I32, I32], &[I64]);
        assert_eq!(sig.results, [ArgLocation::Gpr(Gpr::RAX)]);
        assert_eq!(sig.outgoing_area_size(), 0);
    }

    #[test]
    fn the_vmctx_register_is_no_argument_register() {
        assert!(!ARGUMENT_GPRS.contains(&VMCTX));
        assert!(!CALLEE_SAVED_GPRS.contains(&VMCTX));
    }
}
