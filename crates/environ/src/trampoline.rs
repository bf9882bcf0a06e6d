//! The entry and host trampolines (the contracts are in [`crate::entry`]),
//! built from [`crate::abi`] through `cranelift-asm`'s [`Assembler`].
//!
//! They live here, beside the conventions they translate between, rather
//! than in a compiler: a trampoline depends only on a function type and the
//! two conventions, so the runtime builds them whichever compilers it was
//! built with, and a tier's own tests can enter its code without the
//! runtime.
//!
//! The **entry trampoline** is called from Rust with the native convention
//! and calls wasm with the wasm convention:
//!
//! ```text
//!     push rbp; mov rbp, rsp
//!     push rbx; push r12; push r13; push r14; push r15
//!     sub rsp, 8                      ; rsp 16-aligned from here on
//!     mov [state + resume_sp], rsp
//!     lea r11, [rip + resume]; mov [state + resume_pc], r11
//!     r12 = values, r13 = callee       ; callee-saved: they survive the call
//!     sub rsp, outgoing area           ; stack arguments, return area
//!     arguments: values[i] -> registers / [rsp + offset]; rdi = vmctx already
//!     call r13
//!     results: rax / xmm0 / [rsp + offset] -> values[i]
//!     add rsp, outgoing area
//!     xor eax, eax
//!   resume:                            ; a trap lands here, rsp = resume_sp, eax != 0
//!     add rsp, 8
//!     pop r15; pop r14; pop r13; pop r12; pop rbx; pop rbp
//!     ret
//! ```
//!
//! It saves every callee-saved register, used or not: a trap abandons the
//! wasm frames without running their epilogues, so only the trampoline can
//! restore what the host expects preserved.
//!
//! The **host trampoline** is called by wasm with the wasm convention and
//! calls the host function with the native one; see
//! [`compile_host_trampoline`].
//!
//! Both rely on one coincidence the ABI guarantees: the wasm convention's
//! VMContext register is the native convention's first argument register
//! ([`abi::VMCTX`]), so the entry trampoline's first argument is already
//! where its callee wants it, and the host trampoline's VMContext (the
//! `VMHostContext`) is already where the host function wants its first
//! argument.
//!
//! Both record their frames' unwind information (through the assembler's
//! frame methods), so the system unwinder can walk from a host function,
//! through the host trampoline and the wasm frames, through the entry
//! trampoline, into the host code that called wasm.

use crate::abi::{
    self, AbiType, ArgLocation, CALLEE_SAVED_GPRS, CALLER_SAVED_GPRS, CallSignature, FRAME_POINTER,
    SYSTEM_V_ARGUMENT_GPRS, contains_gpr, incoming_slot,
};
use crate::entry::{EntryState, VALUE_SLOT_SIZE, VMHostContext};
use crate::module::FuncType;
use crate::trap::Trap;
use cranelift_asm::FinishedCode;
use cranelift_asm::x64::{
    Amode, AsmError, Assembler, CC, CpuFeatures, Gpr, GprMem, OperandSize, SseMovOp, Xmm,
};

/// Holds the `values` pointer across the entry trampoline's call.
const VALUES: Gpr = Gpr::R12;
/// Holds the callee across the entry trampoline's argument moves.
const CALLEE: Gpr = Gpr::R13;
/// The GPR a memory-to-memory copy goes through.
const SCRATCH: Gpr = Gpr::R11;
/// The XMM register a `v128` memory-to-memory copy goes through.
const XMM_SCRATCH: Xmm = Xmm::XMM15;

// VALUES and CALLEE survive the call; SCRATCH is free to clobber and is no
// argument register (it is used while arguments are being placed).
const _: () = assert!(contains_gpr(&CALLEE_SAVED_GPRS, VALUES));
const _: () = assert!(contains_gpr(&CALLEE_SAVED_GPRS, CALLEE));
const _: () = assert!(contains_gpr(&CALLER_SAVED_GPRS, SCRATCH));
const _: () = assert!(!contains_gpr(&SYSTEM_V_ARGUMENT_GPRS, SCRATCH));
const _: () = assert!(XMM_SCRATCH.enc() >= abi::ARGUMENT_XMMS.len() as u8);

/// The registers of the `N` pointer arguments of a native call to a
/// function taking `N` pointers and returning a `u32`.
fn native_pointer_arguments<const N: usize>() -> [Gpr; N] {
    let sig = CallSignature::system_v(&[AbiType::I64; N], &[AbiType::I32]);
    std::array::from_fn(|i| match sig.params[i] {
        ArgLocation::Gpr(reg) => reg,
        other => unreachable!("System V passes the first six pointers in GPRs, not {other:?}"),
    })
}

/// The load or store of a slot's value of type `ty` in an XMM register.
fn xmm_move(ty: AbiType) -> SseMovOp {
    match ty {
        AbiType::F32 => SseMovOp::Movss,
        AbiType::V128 => SseMovOp::Movups,
        _ => SseMovOp::Movsd,
    }
}

/// The calling-convention types of `ty`'s parameters and results.
fn abi_types(ty: &FuncType) -> (Vec<AbiType>, Vec<AbiType>) {
    let params = ty.params.iter().map(|&t| t.into()).collect();
    let results = ty.results.iter().map(|&t| t.into()).collect();
    (params, results)
}

/// Compiles the entry trampoline for functions of type `ty` (see the
/// [module docs](self)).
pub fn compile_entry_trampoline(
    ty: &FuncType,
    features: CpuFeatures,
) -> Result<FinishedCode, AsmError> {
    use OperandSize::S64;
    let (params, results) = abi_types(ty);
    let sig = CallSignature::new(&params, &results);
    let slot = |i: usize| Amode::base(VALUES, (i as u32 * VALUE_SLOT_SIZE) as i32);
    // The trampoline's own arguments: `(callee_vmctx, callee, values, state)`.
    let [vmctx, callee, values, state] = native_pointer_arguments();
    debug_assert_eq!(vmctx, abi::VMCTX, "the callee's VMContext stays in place");

    let mut asm = Assembler::new(features);
    asm.push_frame();
    for (i, reg) in CALLEE_SAVED_GPRS.into_iter().enumerate() {
        asm.push_saved(reg, 8 * (i as u32 + 1));
    }
    // The return address, rbp and an odd number of saved registers: one
    // more slot realigns rsp.
    const _: () = assert!(CALLEE_SAVED_GPRS.len() % 2 == 1);
    asm.sub_ri(S64, Gpr::RSP, 8);
    asm.mov_mr(
        S64,
        &Amode::base(state, EntryState::RESUME_SP as i32),
        Gpr::RSP,
    );
    let resume = asm.new_label();
    asm.lea(S64, SCRATCH, &Amode::label(resume));
    asm.mov_mr(
        S64,
        &Amode::base(state, EntryState::RESUME_PC as i32),
        SCRATCH,
    );
    asm.mov_rr(S64, VALUES, values);
    asm.mov_rr(S64, CALLEE, callee);

    let area = sig.outgoing_area_size();
    if area > 0 {
        asm.sub_ri(S64, Gpr::RSP, area as i32);
    }
    for (i, (&ty, location)) in params.iter().zip(&sig.params).enumerate() {
        match *location {
            ArgLocation::Gpr(reg) => asm.mov_rm(S64, reg, &slot(i)),
            ArgLocation::Xmm(reg) => asm.xmm_load(xmm_move(ty), reg, &slot(i)),
            ArgLocation::Stack { offset } => copy_slot(
                &mut asm,
                ty,
                &slot(i),
                &Amode::base(Gpr::RSP, offset as i32),
            ),
        }
    }
    asm.call_indirect(&GprMem::Gpr(CALLEE));
    for (i, (&ty, location)) in results.iter().zip(&sig.results).enumerate() {
        match *location {
            ArgLocation::Gpr(reg) => asm.mov_mr(S64, &slot(i), reg),
            ArgLocation::Xmm(reg) => asm.xmm_store(xmm_move(ty), &slot(i), reg),
            ArgLocation::Stack { offset } => copy_slot(
                &mut asm,
                ty,
                &Amode::base(Gpr::RSP, offset as i32),
                &slot(i),
            ),
        }
    }
    if area > 0 {
        asm.add_ri(S64, Gpr::RSP, area as i32);
    }
    asm.xor_rr(OperandSize::S32, abi::RESULT_GPR, abi::RESULT_GPR);
    // Both ways in (the fall-through, and a trap's landing with `rsp =
    // resume_sp`) arrive with the body's frame, which the unwind records
    // describe up to here.
    asm.bind_label(resume)?;
    asm.begin_epilogue();
    asm.add_ri(S64, Gpr::RSP, 8);
    for reg in CALLEE_SAVED_GPRS.into_iter().rev() {
        asm.pop_saved(reg);
    }
    asm.pop_frame();
    asm.ret_from_frame();
    asm.finish()
}

/// Compiles the host trampoline for imported host functions of type `ty`
/// (the contract is [`VMHostContext`]).
///
/// ```text
///     push rbp; mov rbp, rsp
///     sub rsp, 16 * slots             ; the values array (16-aligned)
///     arguments: registers / [rbp + 16 + offset] -> values[i]
///     rsi = rsp; call [rdi + FUNC]     ; rdi = the host context already
///     test eax, eax; jnz fail
///     results: values[i] -> rax / xmm0 / [rbp + 16 + offset]
///     mov rsp, rbp; pop rbp; ret
///   fail:
///     ud2                              ; Trap::HostError
/// ```
pub fn compile_host_trampoline(
    ty: &FuncType,
    features: CpuFeatures,
) -> Result<FinishedCode, AsmError> {
    use OperandSize::S64;
    let (params, results) = abi_types(ty);
    let sig = CallSignature::new(&params, &results);
    // The host function's arguments: `(context, values)`.
    let [context, values] = native_pointer_arguments();
    debug_assert_eq!(context, abi::VMCTX, "the host context stays in place");
    let slots = params.len().max(results.len()) as u32;
    let slot = |i: usize| Amode::base(Gpr::RSP, (i as u32 * VALUE_SLOT_SIZE) as i32);

    let mut asm = Assembler::new(features);
    asm.push_frame();
    let frame = (slots * VALUE_SLOT_SIZE).next_multiple_of(abi::STACK_ALIGNMENT);
    if frame > 0 {
        asm.sub_ri(S64, Gpr::RSP, frame as i32);
    }
    for (i, (&ty, location)) in params.iter().zip(&sig.params).enumerate() {
        match *location {
            ArgLocation::Gpr(reg) => asm.mov_mr(S64, &slot(i), reg),
            ArgLocation::Xmm(reg) => asm.xmm_store(xmm_move(ty), &slot(i), reg),
            ArgLocation::Stack { offset } => {
                copy_slot(&mut asm, ty, &incoming_slot(offset), &slot(i))
            }
        }
    }
    asm.mov_rr(S64, values, Gpr::RSP);
    let func = Amode::base(context, VMHostContext::FUNC as i32);
    asm.call_indirect(&GprMem::Mem(func));
    asm.test_rr(OperandSize::S32, abi::RESULT_GPR, abi::RESULT_GPR);
    asm.trap_if(CC::NZ, Trap::HostError.code());
    for (i, (&ty, location)) in results.iter().zip(&sig.results).enumerate() {
        match *location {
            ArgLocation::Gpr(reg) => asm.mov_rm(S64, reg, &slot(i)),
            ArgLocation::Xmm(reg) => asm.xmm_load(xmm_move(ty), reg, &slot(i)),
            ArgLocation::Stack { offset } => {
                copy_slot(&mut asm, ty, &slot(i), &incoming_slot(offset))
            }
        }
    }
    asm.begin_epilogue();
    asm.mov_rr(S64, Gpr::RSP, FRAME_POINTER);
    asm.pop_frame();
    // The `HostError` stub follows, inside the frame.
    asm.ret_from_frame();
    asm.finish()
}

/// Copies one value of type `ty` between two memory slots (through the
/// scratch registers).
fn copy_slot(asm: &mut Assembler, ty: AbiType, from: &Amode, to: &Amode) {
    if ty == AbiType::V128 {
        asm.xmm_load(SseMovOp::Movups, XMM_SCRATCH, from);
        asm.xmm_store(SseMovOp::Movups, to, XMM_SCRATCH);
    } else {
        asm.mov_rm(OperandSize::S64, SCRATCH, from);
        asm.mov_mr(OperandSize::S64, to, SCRATCH);
    }
}
