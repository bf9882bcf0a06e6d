//! Entry trampolines: how the host calls a wasm function of a given type
//! (the contract is `duet_environ::entry`).
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
//! Both trampolines record their frames' unwind information (through the
//! assembler's frame methods), so the system unwinder can walk from a host
//! function, through the host trampoline and the wasm frames, through the
//! entry trampoline, into the host code that called wasm.

use crate::codegen::abi_type;
use crate::error::CompileError;
use cranelift_asm::FinishedCode;
use cranelift_asm::x64::{Amode, Assembler, CpuFeatures, Gpr, GprMem, OperandSize, SseMovOp, Xmm};
use duet_environ::abi::{AbiType, ArgLocation, CALLEE_SAVED_GPRS, CallSignature};
use duet_environ::entry::{EntryState, VALUE_SLOT_SIZE, VMHostContext};
use duet_environ::trap::Trap;
use wasmparser::FuncType;

/// The registers the trampoline saves, in push order (rbp first, set up as
/// the frame pointer).
const SAVED: [Gpr; 5] = [Gpr::RBX, Gpr::R12, Gpr::R13, Gpr::R14, Gpr::R15];

/// Holds the `values` pointer across the call.
const VALUES: Gpr = Gpr::R12;
/// Holds the callee across the argument moves.
const CALLEE: Gpr = Gpr::R13;

/// The load or store of a slot's value of type `ty` in an XMM register.
fn xmm_move(ty: AbiType) -> SseMovOp {
    match ty {
        AbiType::F32 => SseMovOp::Movss,
        AbiType::V128 => SseMovOp::Movups,
        _ => SseMovOp::Movsd,
    }
}

/// Compiles the entry trampoline for functions of type `ty`.
pub fn compile_entry_trampoline(
    ty: &FuncType,
    features: CpuFeatures,
) -> Result<FinishedCode, CompileError> {
    use OperandSize::S64;
    debug_assert!(SAVED.iter().all(|r| CALLEE_SAVED_GPRS.contains(r)));
    let params: Vec<AbiType> = ty.params().iter().map(|&t| abi_type(t)).collect();
    let results: Vec<AbiType> = ty.results().iter().map(|&t| abi_type(t)).collect();
    let sig = CallSignature::new(&params, &results);
    let slot = |i: usize| Amode::base(VALUES, (i as u32 * VALUE_SLOT_SIZE) as i32);
    let (state, values, callee) = (Gpr::RCX, Gpr::RDX, Gpr::RSI);

    let mut asm = Assembler::new(features);
    asm.push_frame();
    for (i, reg) in SAVED.into_iter().enumerate() {
        asm.push_saved(reg, 8 * (i as u32 + 1));
    }
    asm.sub_ri(S64, Gpr::RSP, 8);
    asm.mov_mr(
        S64,
        &Amode::base(state, EntryState::RESUME_SP as i32),
        Gpr::RSP,
    );
    let resume = asm.new_label();
    asm.lea(S64, Gpr::R11, &Amode::label(resume));
    asm.mov_mr(
        S64,
        &Amode::base(state, EntryState::RESUME_PC as i32),
        Gpr::R11,
    );
    asm.mov_rr(S64, VALUES, values);
    asm.mov_rr(S64, CALLEE, callee);

    let area = sig.outgoing_area_size();
    if area > 0 {
        asm.sub_ri(S64, Gpr::RSP, area as i32);
    }
    // rdi holds the callee's VMContext already (the trampoline's first
    // argument, and the wasm convention's).
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
    asm.xor_rr(OperandSize::S32, Gpr::RAX, Gpr::RAX);
    // Both ways in (the fall-through, and a trap's landing with `rsp =
    // resume_sp`) arrive with the body's frame, which the unwind records
    // describe up to here.
    asm.bind_label(resume)?;
    asm.begin_epilogue();
    asm.add_ri(S64, Gpr::RSP, 8);
    for reg in SAVED.into_iter().rev() {
        asm.pop_saved(reg);
    }
    asm.pop_frame();
    asm.ret_from_frame();
    Ok(asm.finish()?)
}

/// Compiles the host trampoline for imported host functions of type `ty`
/// (the contract is `duet_environ::entry::VMHostContext`).
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
) -> Result<FinishedCode, CompileError> {
    use OperandSize::S64;
    let params: Vec<AbiType> = ty.params().iter().map(|&t| abi_type(t)).collect();
    let results: Vec<AbiType> = ty.results().iter().map(|&t| abi_type(t)).collect();
    let sig = CallSignature::new(&params, &results);
    let slots = params.len().max(results.len()) as u32;
    let slot = |i: usize| Amode::base(Gpr::RSP, (i as u32 * VALUE_SLOT_SIZE) as i32);
    // Incoming stack arguments and the return area, above the return address.
    let incoming = |offset: u32| Amode::base(Gpr::RBP, 16 + offset as i32);

    let mut asm = Assembler::new(features);
    asm.push_frame();
    let frame = (slots * VALUE_SLOT_SIZE).next_multiple_of(16);
    if frame > 0 {
        asm.sub_ri(S64, Gpr::RSP, frame as i32);
    }
    for (i, (&ty, location)) in params.iter().zip(&sig.params).enumerate() {
        match *location {
            ArgLocation::Gpr(reg) => asm.mov_mr(S64, &slot(i), reg),
            ArgLocation::Xmm(reg) => asm.xmm_store(xmm_move(ty), &slot(i), reg),
            ArgLocation::Stack { offset } => copy_slot(&mut asm, ty, &incoming(offset), &slot(i)),
        }
    }
    asm.mov_rr(S64, Gpr::RSI, Gpr::RSP);
    let func = Amode::base(Gpr::RDI, VMHostContext::FUNC as i32);
    asm.call_indirect(&GprMem::Mem(func));
    asm.test_rr(OperandSize::S32, Gpr::RAX, Gpr::RAX);
    asm.trap_if(cranelift_asm::x64::CC::NZ, Trap::HostError.code());
    for (i, (&ty, location)) in results.iter().zip(&sig.results).enumerate() {
        match *location {
            ArgLocation::Gpr(reg) => asm.mov_rm(S64, reg, &slot(i)),
            ArgLocation::Xmm(reg) => asm.xmm_load(xmm_move(ty), reg, &slot(i)),
            ArgLocation::Stack { offset } => copy_slot(&mut asm, ty, &slot(i), &incoming(offset)),
        }
    }
    asm.begin_epilogue();
    asm.mov_rr(S64, Gpr::RSP, Gpr::RBP);
    asm.pop_frame();
    // The `HostError` stub follows, inside the frame.
    asm.ret_from_frame();
    Ok(asm.finish()?)
}

/// Copies one value of type `ty` between two memory slots (through r11, or
/// xmm15 for a `v128`).
fn copy_slot(asm: &mut Assembler, ty: AbiType, from: &Amode, to: &Amode) {
    if ty == AbiType::V128 {
        asm.xmm_load(SseMovOp::Movups, Xmm::XMM15, from);
        asm.xmm_store(SseMovOp::Movups, to, Xmm::XMM15);
    } else {
        asm.mov_rm(OperandSize::S64, Gpr::R11, from);
        asm.mov_mr(OperandSize::S64, to, Gpr::R11);
    }
}
