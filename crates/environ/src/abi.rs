//! The calling conventions on x86-64, the only place that says where a
//! call's VMContext, arguments and results are and which registers a call
//! preserves. Both compilers, the trampolines ([`crate::trampoline`]) and
//! the runtime read it, so a change here changes every side of every call
//! boundary at once.
//!
//! # Two conventions, one algorithm
//!
//! * The **native** convention is System V's: what a builtin, a host
//!   function or a trampoline called from Rust (`extern "sysv64"`) expects.
//!   Integer and pointer arguments take [`SYSTEM_V_ARGUMENT_GPRS`] (`rdi,
//!   rsi, rdx, rcx, r8, r9`), float arguments [`ARGUMENT_XMMS`]
//!   (`xmm0`-`xmm7`), the rest go on the stack; one result comes back in
//!   `rax` or `xmm0`.
//! * The **wasm** convention, for every wasm-to-wasm call (direct,
//!   imported, indirect) of either tier, is the native one applied to the
//!   callee's VMContext followed by the wasm parameters: the VMContext is
//!   the first integer argument, so it is in `rdi` ([`VMCTX`]) and the
//!   wasm integer arguments take the rest ([`ARGUMENT_GPRS`]). System V has
//!   no answer for several results: the first comes back in `rax` or
//!   `xmm0`, every further one is written by the callee into the caller's
//!   *return area*, which directly follows the stack arguments.
//!
//! Both are computed by one function: [`CallSignature::system_v`] takes
//! every parameter explicitly (the optimizing tier's IR functions take the
//! VMContext as their first integer parameter, so it reads their
//! signatures this way); [`CallSignature::new`] is the wasm view, with the
//! VMContext implicit in [`VMCTX`].
//!
//! The rest is common to both:
//!
//! * stack arguments take one 8-byte slot each (16 for `v128`, 16-aligned),
//!   in argument order, starting at `rsp` at the call instruction;
//! * `rsp` is [`STACK_ALIGNMENT`]-aligned at the call instruction;
//! * the callee preserves [`CALLEE_SAVED_GPRS`] and the frame pointer
//!   [`FRAME_POINTER`] (`rbx, rbp, r12-r15`); a call may clobber every other
//!   GPR ([`CALLER_SAVED_GPRS`]) and every XMM register
//!   ([`CALLER_SAVED_XMMS`]). Together with `rsp` these partition the
//!   sixteen GPRs (a test checks it).
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
//! is at `rsp_on_entry + 8 + o`, and so at [`incoming_slot`]`(o)`, `rbp +
//! 16 + o`, once the frame pointer is set up; the return-area slot of
//! result `i` likewise.

use cranelift_asm::x64::{Amode, Gpr, Xmm};

/// System V's integer and pointer argument registers, in order.
pub const SYSTEM_V_ARGUMENT_GPRS: [Gpr; 6] =
    [Gpr::RDI, Gpr::RSI, Gpr::RDX, Gpr::RCX, Gpr::R8, Gpr::R9];

/// The register holding the callee's VMContext at a wasm call: the first
/// native integer argument.
pub const VMCTX: Gpr = SYSTEM_V_ARGUMENT_GPRS[0];

/// The registers of a wasm call's integer and reference arguments, in
/// order: the native ones after the VMContext's.
pub const ARGUMENT_GPRS: [Gpr; 5] = {
    let [_vmctx, rest @ ..] = SYSTEM_V_ARGUMENT_GPRS;
    rest
};

/// The registers of float and vector arguments, in order (both
/// conventions).
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

/// The frame pointer. Every function and trampoline saves the caller's on
/// entry and points it at that saved value, which chains the frames for
/// trap backtraces and unwinding.
pub const FRAME_POINTER: Gpr = Gpr::RBP;

/// The GPRs a callee preserves, besides [`FRAME_POINTER`]: a function that
/// uses one saves and restores it.
pub const CALLEE_SAVED_GPRS: [Gpr; 5] = [Gpr::RBX, Gpr::R12, Gpr::R13, Gpr::R14, Gpr::R15];

/// The GPRs a call may change: every one but `rsp`, the frame pointer and
/// the callee-saved ones. The argument and result registers are among them.
pub const CALLER_SAVED_GPRS: [Gpr; 9] = [
    Gpr::RAX,
    Gpr::RCX,
    Gpr::RDX,
    Gpr::RSI,
    Gpr::RDI,
    Gpr::R8,
    Gpr::R9,
    Gpr::R10,
    Gpr::R11,
];

/// The XMM registers a call may change: all of them (System V preserves
/// none).
pub const CALLER_SAVED_XMMS: [Xmm; 16] = Xmm::ALL;

/// Whether `set` holds `reg`: `const`, for compile-time assertions about
/// a compiler's or a trampoline's own register choices (for example that
/// a scratch register is caller-saved and no argument register).
pub const fn contains_gpr(set: &[Gpr], reg: Gpr) -> bool {
    let mut i = 0;
    while i < set.len() {
        if set[i].enc() == reg.enc() {
            return true;
        }
        i += 1;
    }
    false
}

/// Where the callee finds the stack argument or return-area slot at
/// `offset` ([`ArgLocation::Stack`]) once its frame pointer is set up:
/// above the saved `rbp` and the return address.
pub fn incoming_slot(offset: u32) -> Amode {
    Amode::base(
        FRAME_POINTER,
        INCOMING_SLOTS_FROM_FRAME_POINTER + offset as i32,
    )
}

/// Bytes from the frame pointer to the first incoming stack slot: the saved
/// `rbp` and the return address.
pub const INCOMING_SLOTS_FROM_FRAME_POINTER: i32 = 16;

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
    /// `i64`, or a pointer (the VMContext).
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

impl From<wasmparser::ValType> for AbiType {
    fn from(ty: wasmparser::ValType) -> AbiType {
        use wasmparser::ValType;
        match ty {
            ValType::I32 => AbiType::I32,
            ValType::I64 => AbiType::I64,
            ValType::F32 => AbiType::F32,
            ValType::F64 => AbiType::F64,
            ValType::V128 => AbiType::V128,
            ValType::Ref(_) => AbiType::Ref,
        }
    }
}

impl From<crate::module::ValType> for AbiType {
    fn from(ty: crate::module::ValType) -> AbiType {
        use crate::module::ValType;
        match ty {
            ValType::I32 => AbiType::I32,
            ValType::I64 => AbiType::I64,
            ValType::F32 => AbiType::F32,
            ValType::F64 => AbiType::F64,
            ValType::V128 => AbiType::V128,
            ValType::FuncRef | ValType::ExternRef => AbiType::Ref,
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
    /// Bytes of stack arguments (a multiple of 16: the return area starts
    /// 16-aligned).
    pub stack_args_size: u32,
    /// Bytes of the return area (a multiple of 16).
    pub return_area_size: u32,
}

impl CallSignature {
    /// The locations of a wasm call to a function with `params` and
    /// `results`; the callee's VMContext, in [`VMCTX`], is not among
    /// `params`. This is [`CallSignature::system_v`] of the VMContext
    /// followed by `params`, without the VMContext's location.
    pub fn new(params: &[AbiType], results: &[AbiType]) -> CallSignature {
        CallSignature::wasm(params.iter().copied(), results.iter().copied())
    }

    /// [`CallSignature::new`] over iterators (no list is built on the way).
    fn wasm(
        params: impl IntoIterator<Item = AbiType>,
        results: impl IntoIterator<Item = AbiType>,
    ) -> CallSignature {
        let mut sig = CallSignature::locate(std::iter::once(AbiType::I64).chain(params), results);
        let vmctx = sig.params.remove(0);
        debug_assert_eq!(vmctx, ArgLocation::Gpr(VMCTX));
        sig
    }

    /// The locations of a call with every parameter explicit, by System
    /// V's rules: integers and pointers in [`SYSTEM_V_ARGUMENT_GPRS`],
    /// floats and vectors in [`ARGUMENT_XMMS`], the rest on the stack in
    /// order; the first result in [`RESULT_GPR`] or [`RESULT_XMM`], further
    /// results (which System V cannot return) in the return area after the
    /// stack arguments. A native callee (a builtin, a host function, a
    /// trampoline) has at most one result, and then this is exactly System
    /// V.
    pub fn system_v(params: &[AbiType], results: &[AbiType]) -> CallSignature {
        CallSignature::locate(params.iter().copied(), results.iter().copied())
    }

    /// The one location algorithm ([`CallSignature::system_v`]).
    fn locate(
        params: impl IntoIterator<Item = AbiType>,
        results: impl IntoIterator<Item = AbiType>,
    ) -> CallSignature {
        let (mut gprs, mut xmms) = (SYSTEM_V_ARGUMENT_GPRS.iter(), ARGUMENT_XMMS.iter());
        let mut stack = 0u32;
        let mut on_stack = |ty: AbiType| {
            let offset = stack.next_multiple_of(ty.slot_size());
            stack = offset + ty.slot_size();
            ArgLocation::Stack { offset }
        };
        let params = params
            .into_iter()
            .map(|ty| {
                match ty.is_float() {
                    false => gprs.next().map(|&r| ArgLocation::Gpr(r)),
                    true => xmms.next().map(|&r| ArgLocation::Xmm(r)),
                }
                .unwrap_or_else(|| on_stack(ty))
            })
            .collect();
        let stack_args_size = stack.next_multiple_of(STACK_ALIGNMENT);

        let mut area = stack_args_size;
        let results = results
            .into_iter()
            .enumerate()
            .map(|(i, ty)| match (i, ty.is_float()) {
                (0, false) => ArgLocation::Gpr(RESULT_GPR),
                (0, true) => ArgLocation::Xmm(RESULT_XMM),
                _ => {
                    let offset = area.next_multiple_of(ty.slot_size());
                    area = offset + ty.slot_size();
                    ArgLocation::Stack { offset }
                }
            })
            .collect();
        let return_area_size = (area - stack_args_size).next_multiple_of(STACK_ALIGNMENT);
        CallSignature {
            params,
            results,
            stack_args_size,
            return_area_size,
        }
    }

    /// The locations of a wasm call to a function of type `ty`.
    pub fn of_func_type(ty: &crate::module::FuncType) -> CallSignature {
        CallSignature::wasm(
            ty.params.iter().map(|&t| t.into()),
            ty.results.iter().map(|&t| t.into()),
        )
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
    fn system_v_is_the_native_convention() {
        // memory.copy's builtin: (vmctx, u32, u64, u32, u64, u64) -> u32,
        // one argument past the six registers, and a float in between.
        let sig = CallSignature::system_v(&[I64, I32, I64, F64, I32, I64, I64, I64], &[I32]);
        use ArgLocation as L;
        assert_eq!(
            sig.params,
            [
                L::Gpr(Gpr::RDI),
                L::Gpr(Gpr::RSI),
                L::Gpr(Gpr::RDX),
                L::Xmm(Xmm::XMM0),
                L::Gpr(Gpr::RCX),
                L::Gpr(Gpr::R8),
                L::Gpr(Gpr::R9),
                L::Stack { offset: 0 },
            ]
        );
        assert_eq!(sig.results, [L::Gpr(Gpr::RAX)]);
        assert_eq!(sig.outgoing_area_size(), 16);
    }

    #[test]
    fn a_wasm_call_is_a_native_call_with_the_vmctx_first() {
        let types = [I32, F64, I64, Ref, F32, V128, I32, I64, I64, F64];
        for n in 0..=types.len() {
            let params = &types[..n];
            let results = &types[types.len() - n..];
            let wasm = CallSignature::new(params, results);
            let native: Vec<AbiType> = [I64].iter().chain(params).copied().collect();
            let mut native = CallSignature::system_v(&native, results);
            assert_eq!(native.params.remove(0), ArgLocation::Gpr(VMCTX));
            assert_eq!(wasm, native);
        }
    }

    #[test]
    fn the_registers_partition_the_gprs() {
        let mut all: Vec<Gpr> = CALLER_SAVED_GPRS
            .iter()
            .chain(&CALLEE_SAVED_GPRS)
            .copied()
            .chain([FRAME_POINTER, Gpr::RSP])
            .collect();
        all.sort();
        assert_eq!(all, Gpr::ALL);
        for reg in SYSTEM_V_ARGUMENT_GPRS.into_iter().chain([RESULT_GPR]) {
            assert!(contains_gpr(&CALLER_SAVED_GPRS, reg), "{reg:?}");
        }
        assert!(!contains_gpr(&CALLER_SAVED_GPRS, FRAME_POINTER));
        assert!(contains_gpr(&CALLEE_SAVED_GPRS, Gpr::R14));
    }

    #[test]
    fn the_vmctx_register_is_no_wasm_argument_register() {
        assert!(!ARGUMENT_GPRS.contains(&VMCTX));
        assert_eq!(ARGUMENT_GPRS, SYSTEM_V_ARGUMENT_GPRS[1..]);
    }
}
