//! The oracle shared by the encoding tests and the fuzz target: what each
//! [`MInst`] means, written from the Intel manual independently of the
//! encoder, and a checker that decodes the encoder's bytes with iced-x86 and
//! compares.
//!
//! ```text
//!   MInst ──emit──► Assembler ──finish──► bytes ──iced decode──► mnemonic, operands
//!     │                                                                │
//!     └──expected() (hand-written from the manual) ──► Expected ──compare─┘
//! ```
//!
//! * [`expected`] maps every variant (an exhaustive `match`, no wildcard) to
//!   the instructions the decoder must see: iced [`Mnemonic`], registers as
//!   iced [`Register`]s computed from our register number and the operand
//!   size, memory operands by base/index/scale/displacement and width,
//!   immediates by value at the operation's width, branch targets by label.
//!   The mapping tables (`cc_*`, `round_imm`, ...) are typed in from the
//!   manual, not derived from the encoder's tables; an operation form's
//!   mnemonic is the one the instruction table declares beside its encoding
//!   (so a new form needs no line here), and the decoder must read that
//!   mnemonic out of the encoded bytes.
//! * [`emit`] encodes one instruction in a fixed surrounding (see
//!   [`Targets`]) with branch simplification off, so the bytes are exactly
//!   what the instruction emitted.
//! * [`check`] decodes and compares; [`check_metadata`] checks the trap
//!   table, relocations and call sites; [`check_sequence`] checks the
//!   multi-instruction `*Seq` variants structurally (valid opcodes, branch
//!   targets on instruction boundaries, trap stubs, jump-table entries).
//! * [`generate`] builds an arbitrary post-allocation `MInst` from an
//!   `arbitrary::Unstructured` (for the randomized test and the fuzz target).
//! * [`forms`] (generated from the instruction table by `cargo xtask isle`)
//!   lists every declared instruction form in every shape that takes it, over
//!   the operands of a [`Samples`].
//!
//! This module is compiled into several test binaries and into the fuzz
//! target, each using part of it.
#![allow(dead_code)]

pub mod forms;
pub mod generate;

use cranelift_asm::buffer::Constant;
use cranelift_asm::metadata::RelocKind;
use cranelift_asm::reg::{PRegSet, Writable};
use cranelift_asm::x64::inst::{
    self as vi, BoxCallInfo, CallDest, CallInfo, GprReg, ShiftAmount, XmmReg,
};
use cranelift_asm::x64::{
    AluOp, AsmError, Assembler, AvxExtractOp, AvxImmOp, AvxInsertOp, AvxUnaryOp, BitOp, CC,
    CpuFeatures, ExtMode, FloatSize, Gpr, MInst, OperandSize, RoundMode, ShiftOp, SseExtractOp,
    SseImmOp, SseInsertOp, SseMovOp, SseOp, SseUnaryOp, UnaryOp, Virtual, Xmm,
};
use cranelift_asm::{ExternalName, FinishedCode, Label, TrapCode};
use iced_x86::{
    Decoder, DecoderOptions, Formatter, Instruction, IntelFormatter, MemorySize, Mnemonic, OpKind,
    Register,
};
use std::fmt::Write as _;

// ---- Registers, from the manual's register-encoding tables ----------------

const GPR8: [Register; 16] = [
    Register::AL,
    Register::CL,
    Register::DL,
    Register::BL,
    Register::SPL,
    Register::BPL,
    Register::SIL,
    Register::DIL,
    Register::R8L,
    Register::R9L,
    Register::R10L,
    Register::R11L,
    Register::R12L,
    Register::R13L,
    Register::R14L,
    Register::R15L,
];
const GPR16: [Register; 16] = [
    Register::AX,
    Register::CX,
    Register::DX,
    Register::BX,
    Register::SP,
    Register::BP,
    Register::SI,
    Register::DI,
    Register::R8W,
    Register::R9W,
    Register::R10W,
    Register::R11W,
    Register::R12W,
    Register::R13W,
    Register::R14W,
    Register::R15W,
];
const GPR32: [Register; 16] = [
    Register::EAX,
    Register::ECX,
    Register::EDX,
    Register::EBX,
    Register::ESP,
    Register::EBP,
    Register::ESI,
    Register::EDI,
    Register::R8D,
    Register::R9D,
    Register::R10D,
    Register::R11D,
    Register::R12D,
    Register::R13D,
    Register::R14D,
    Register::R15D,
];
const GPR64: [Register; 16] = [
    Register::RAX,
    Register::RCX,
    Register::RDX,
    Register::RBX,
    Register::RSP,
    Register::RBP,
    Register::RSI,
    Register::RDI,
    Register::R8,
    Register::R9,
    Register::R10,
    Register::R11,
    Register::R12,
    Register::R13,
    Register::R14,
    Register::R15,
];
const XMM: [Register; 16] = [
    Register::XMM0,
    Register::XMM1,
    Register::XMM2,
    Register::XMM3,
    Register::XMM4,
    Register::XMM5,
    Register::XMM6,
    Register::XMM7,
    Register::XMM8,
    Register::XMM9,
    Register::XMM10,
    Register::XMM11,
    Register::XMM12,
    Register::XMM13,
    Register::XMM14,
    Register::XMM15,
];

/// The iced name of GPR number `enc` read at `size`.
pub fn gpr_at(enc: u8, size: OperandSize) -> Register {
    let table = match size {
        OperandSize::S8 => &GPR8,
        OperandSize::S16 => &GPR16,
        OperandSize::S32 => &GPR32,
        OperandSize::S64 => &GPR64,
    };
    table[usize::from(enc)]
}

fn r(reg: GprReg, size: OperandSize) -> Op {
    Op::Reg(gpr_at(reg.to_physical().enc(), size))
}

fn rw(reg: Writable<GprReg>, size: OperandSize) -> Op {
    r(reg.to_reg(), size)
}

fn x(reg: XmmReg) -> Op {
    Op::Reg(XMM[usize::from(reg.to_physical().enc())])
}

fn xw(reg: Writable<XmmReg>) -> Op {
    x(reg.to_reg())
}

// ---- What the decoder must see --------------------------------------------

/// An address as the decoder reports it.
#[derive(Clone, Debug, PartialEq)]
pub enum Addr {
    /// `[base + index * scale + disp]` (`Register::None` for a missing base or
    /// index; the scale is 1 without an index).
    Regs {
        base: Register,
        index: Register,
        scale: u32,
        disp: i64,
    },
    /// `[rip + label + offset]`.
    Label(Label, i32),
    /// `[rip + constant + offset]`.
    Constant(Constant, i32),
}

/// Where a branch goes.
#[derive(Clone, Debug, PartialEq)]
pub enum BranchTo {
    /// A label's final offset.
    Label(Label),
    /// A relocated call or jump whose field is still zero: the next
    /// instruction.
    Relocated,
    /// A deferred trap stub (`ud2`) recorded with this trap code.
    TrapStub(TrapCode),
}

/// One operand.
#[derive(Clone, Debug, PartialEq)]
pub enum Op {
    Reg(Register),
    /// Memory of `bytes` bytes (0 for `lea`, which reads none).
    Mem {
        addr: Addr,
        bytes: u32,
    },
    /// An immediate: the decoder's value must equal `value` in the low
    /// `bits` bits (the operation's width; the decoder sign-extends imm8
    /// forms, and 64-bit forms' imm32, to 64 bits).
    Imm {
        value: u64,
        bits: u32,
    },
    Branch(BranchTo),
}

/// One instruction.
#[derive(Clone, Debug, PartialEq)]
pub struct Expected {
    pub mnemonic: Mnemonic,
    /// `None`: the operands are not checked (multi-byte NOPs).
    pub ops: Option<Vec<Op>>,
    /// The lock prefix.
    pub lock: bool,
    /// The instruction's length, when the form fixes it.
    pub len: Option<usize>,
}

fn inst(mnemonic: Mnemonic, ops: Vec<Op>) -> Expected {
    Expected {
        mnemonic,
        ops: Some(ops),
        lock: false,
        len: None,
    }
}

fn locked(mnemonic: Mnemonic, ops: Vec<Op>) -> Expected {
    Expected {
        lock: true,
        ..inst(mnemonic, ops)
    }
}

fn mem(amode: &vi::Amode, bytes: u32) -> Op {
    let addr = match *amode {
        vi::Amode::Reg {
            base, index, disp, ..
        } => Addr::Regs {
            base: base.map_or(Register::None, |b| {
                gpr_at(b.to_physical().enc(), OperandSize::S64)
            }),
            index: index.map_or(Register::None, |(i, _)| {
                gpr_at(i.to_physical().enc(), OperandSize::S64)
            }),
            scale: index.map_or(1, |(_, s)| u32::from(s.factor())),
            disp: i64::from(disp),
        },
        vi::Amode::Label { label, offset, .. } => Addr::Label(label, offset),
        vi::Amode::Constant {
            constant, offset, ..
        } => Addr::Constant(constant, offset),
    };
    Op::Mem { addr, bytes }
}

fn bytes_of(size: OperandSize) -> u32 {
    match size {
        OperandSize::S8 => 1,
        OperandSize::S16 => 2,
        OperandSize::S32 => 4,
        OperandSize::S64 => 8,
    }
}

fn bits_of(size: OperandSize) -> u32 {
    bytes_of(size) * 8
}

fn gm(operand: &vi::GprMem, size: OperandSize) -> Op {
    match operand {
        vi::GprMem::Gpr(reg) => r(*reg, size),
        vi::GprMem::Mem(amode) => mem(amode, bytes_of(size)),
    }
}

fn xm(operand: &vi::XmmMem, bytes: u32) -> Op {
    match operand {
        vi::XmmMem::Xmm(reg) => x(*reg),
        vi::XmmMem::Mem(amode) | vi::XmmMem::Aligned(amode) => mem(amode, bytes),
    }
}

/// A signed 32-bit immediate of an operation `size` wide.
fn imm(value: i32, size: OperandSize) -> Op {
    Op::Imm {
        value: i64::from(value) as u64,
        bits: bits_of(size),
    }
}

fn gmi(operand: &vi::GprMemImm, size: OperandSize) -> Op {
    match operand {
        vi::GprMemImm::Gpr(reg) => r(*reg, size),
        vi::GprMemImm::Mem(amode) => mem(amode, bytes_of(size)),
        vi::GprMemImm::Imm(value) => imm(*value, size),
    }
}

fn gi(operand: &vi::GprImm, size: OperandSize) -> Op {
    match operand {
        vi::GprImm::Gpr(reg) => r(*reg, size),
        vi::GprImm::Imm(value) => imm(*value, size),
    }
}

fn float_bytes(size: FloatSize) -> u32 {
    match size {
        FloatSize::F32 => 4,
        FloatSize::F64 => 8,
    }
}

// ---- Mnemonic tables, from the manual --------------------------------------

fn alu_mnemonic(op: AluOp) -> Mnemonic {
    declared(op.mnemonic())
}

fn unary_mnemonic(op: UnaryOp) -> Mnemonic {
    declared(op.mnemonic())
}

fn shift_mnemonic(op: ShiftOp) -> Mnemonic {
    declared(op.mnemonic())
}

fn bit_mnemonic(op: BitOp) -> Mnemonic {
    declared(op.mnemonic())
}

/// Jcc, by the condition's meaning (iced names the canonical alias).
pub fn jcc_mnemonic(cc: CC) -> Mnemonic {
    match cc {
        CC::O => Mnemonic::Jo,
        CC::NO => Mnemonic::Jno,
        CC::B => Mnemonic::Jb,
        CC::AE => Mnemonic::Jae,
        CC::Z => Mnemonic::Je,
        CC::NZ => Mnemonic::Jne,
        CC::BE => Mnemonic::Jbe,
        CC::A => Mnemonic::Ja,
        CC::S => Mnemonic::Js,
        CC::NS => Mnemonic::Jns,
        CC::P => Mnemonic::Jp,
        CC::NP => Mnemonic::Jnp,
        CC::L => Mnemonic::Jl,
        CC::GE => Mnemonic::Jge,
        CC::LE => Mnemonic::Jle,
        CC::G => Mnemonic::Jg,
    }
}

fn setcc_mnemonic(cc: CC) -> Mnemonic {
    match cc {
        CC::O => Mnemonic::Seto,
        CC::NO => Mnemonic::Setno,
        CC::B => Mnemonic::Setb,
        CC::AE => Mnemonic::Setae,
        CC::Z => Mnemonic::Sete,
        CC::NZ => Mnemonic::Setne,
        CC::BE => Mnemonic::Setbe,
        CC::A => Mnemonic::Seta,
        CC::S => Mnemonic::Sets,
        CC::NS => Mnemonic::Setns,
        CC::P => Mnemonic::Setp,
        CC::NP => Mnemonic::Setnp,
        CC::L => Mnemonic::Setl,
        CC::GE => Mnemonic::Setge,
        CC::LE => Mnemonic::Setle,
        CC::G => Mnemonic::Setg,
    }
}

fn cmov_mnemonic(cc: CC) -> Mnemonic {
    match cc {
        CC::O => Mnemonic::Cmovo,
        CC::NO => Mnemonic::Cmovno,
        CC::B => Mnemonic::Cmovb,
        CC::AE => Mnemonic::Cmovae,
        CC::Z => Mnemonic::Cmove,
        CC::NZ => Mnemonic::Cmovne,
        CC::BE => Mnemonic::Cmovbe,
        CC::A => Mnemonic::Cmova,
        CC::S => Mnemonic::Cmovs,
        CC::NS => Mnemonic::Cmovns,
        CC::P => Mnemonic::Cmovp,
        CC::NP => Mnemonic::Cmovnp,
        CC::L => Mnemonic::Cmovl,
        CC::GE => Mnemonic::Cmovge,
        CC::LE => Mnemonic::Cmovle,
        CC::G => Mnemonic::Cmovg,
    }
}

/// The mnemonic and the width (bytes) of the memory form's source.
fn sse_mnemonic(op: SseOp) -> (Mnemonic, u32) {
    (declared(op.mnemonic()), sse_memory_bytes(op.mnemonic()))
}

fn sse_mov_mnemonic(op: SseMovOp) -> (Mnemonic, u32) {
    (declared(op.mnemonic()), sse_memory_bytes(op.mnemonic()))
}

/// iced-x86's mnemonic of the name an instruction form declares (the
/// instruction table, `xtask/src/x64/table.rs`). The declared name is the
/// table's; that the bytes decode to it is the check.
fn declared(name: &str) -> Mnemonic {
    Mnemonic::values()
        .find(|m| format!("{m:?}").eq_ignore_ascii_case(name))
        .unwrap_or_else(|| panic!("iced-x86 knows no mnemonic `{name}`"))
}

/// The width of an SSE form's memory operand, by the manual's naming
/// convention: the (source) type suffix `ss` is a 32-bit scalar, `sd` a
/// 64-bit one, and packed forms (`ps`, `pd`, and the integer `p...` forms,
/// whatever their suffix: `pminsd` is packed doublewords) read all 128 bits.
fn sse_memory_bytes(name: &str) -> u32 {
    if name.starts_with('p') {
        return 16;
    }
    let suffix = match name.strip_prefix("cvt") {
        Some(conversion) => &conversion[..2],
        None => &name[name.len() - 2..],
    };
    match suffix {
        "ss" => 4,
        "sd" => 8,
        _ => 16,
    }
}

/// The width of a packed unary form's memory operand (SDM, each form's
/// "Instruction" column): the widening forms and MOVQ read the low half, 64
/// bits (PMOVSXBW xmm1, xmm2/m64; CVTPS2PD xmm1, xmm2/m64; CVTDQ2PD xmm1,
/// xmm2/m64; MOVQ xmm1, xmm2/m64); the others a whole m128.
fn sse_unary_memory_bytes(op: SseUnaryOp) -> u32 {
    use SseUnaryOp as O;
    match op {
        O::Pmovsxbw | O::Pmovsxwd | O::Pmovsxdq => 8,
        O::Pmovzxbw | O::Pmovzxwd | O::Pmovzxdq => 8,
        O::Cvtps2pd | O::Cvtdq2pd | O::Movq => 8,
        O::Movdqu | O::Movdqa => 16,
        O::Pabsb | O::Pabsw | O::Pabsd | O::Sqrtps | O::Sqrtpd => 16,
        O::Cvtdq2ps | O::Cvttps2dq | O::Cvtpd2ps | O::Cvttpd2dq => 16,
    }
}

/// The width of an immediate form's memory operand: INSERTPS xmm1,
/// xmm2/m32, imm8 reads one float; the others an m128.
fn sse_imm_memory_bytes(op: SseImmOp) -> u32 {
    match op {
        SseImmOp::Insertps => 4,
        _ => 16,
    }
}

/// The register width and memory width of a lane insertion's source
/// (PINSRB xmm1, r32/m8, imm8 .. PINSRQ xmm1, r/m64, imm8).
fn insert_widths(op: SseInsertOp) -> (OperandSize, u32) {
    match op {
        SseInsertOp::Pinsrb => (OperandSize::S32, 1),
        SseInsertOp::Pinsrw => (OperandSize::S32, 2),
        SseInsertOp::Pinsrd => (OperandSize::S32, 4),
        SseInsertOp::Pinsrq => (OperandSize::S64, 8),
    }
}

/// The register width and memory width of a lane extraction's destination
/// (PEXTRB r32/m8, xmm2, imm8 .. PEXTRQ r/m64, xmm2, imm8; EXTRACTPS
/// r/m32, xmm1, imm8).
fn extract_widths(op: SseExtractOp) -> (OperandSize, u32) {
    match op {
        SseExtractOp::Pextrb => (OperandSize::S32, 1),
        SseExtractOp::Pextrw => (OperandSize::S32, 2),
        SseExtractOp::Pextrd | SseExtractOp::Extractps => (OperandSize::S32, 4),
        SseExtractOp::Pextrq => (OperandSize::S64, 8),
    }
}

/// The width of a VEX unary form's memory operand (SDM, each form's
/// "Instruction" column): as the legacy forms (VPMOVSXBW xmm1, xmm2/m64;
/// VCVTPS2PD xmm1, xmm2/m64; VMOVQ xmm1, xmm2/m64), the broadcasts their
/// element (VPBROADCASTB xmm1, xmm2/m8 .. VPBROADCASTQ xmm1, xmm2/m64), the
/// others an m128.
fn avx_unary_memory_bytes(op: AvxUnaryOp) -> u32 {
    use AvxUnaryOp as O;
    match op {
        O::Vpmovsxbw | O::Vpmovsxwd | O::Vpmovsxdq => 8,
        O::Vpmovzxbw | O::Vpmovzxwd | O::Vpmovzxdq => 8,
        O::Vcvtps2pd | O::Vcvtdq2pd | O::Vmovq => 8,
        O::Vpbroadcastb => 1,
        O::Vpbroadcastw => 2,
        O::Vpbroadcastd => 4,
        O::Vpbroadcastq => 8,
        O::Vmovdqu | O::Vmovups => 16,
        O::Vpabsb | O::Vpabsw | O::Vpabsd | O::Vsqrtps | O::Vsqrtpd => 16,
        O::Vcvtdq2ps | O::Vcvttps2dq | O::Vcvtpd2ps | O::Vcvttpd2dq => 16,
    }
}

/// VINSERTPS xmm1, xmm2, xmm3/m32, imm8 reads one float; the other VEX
/// immediate forms an m128.
fn avx_imm_memory_bytes(op: AvxImmOp) -> u32 {
    match op {
        AvxImmOp::Vinsertps => 4,
        _ => 16,
    }
}

/// VPINSRB xmm1, xmm2, r32/m8, imm8 .. VPINSRQ xmm1, xmm2, r/m64, imm8.
fn avx_insert_widths(op: AvxInsertOp) -> (OperandSize, u32) {
    match op {
        AvxInsertOp::Vpinsrb => (OperandSize::S32, 1),
        AvxInsertOp::Vpinsrw => (OperandSize::S32, 2),
        AvxInsertOp::Vpinsrd => (OperandSize::S32, 4),
        AvxInsertOp::Vpinsrq => (OperandSize::S64, 8),
    }
}

/// VPEXTRB r32/m8, xmm2, imm8 .. VPEXTRQ r/m64, xmm2, imm8; VEXTRACTPS
/// r/m32, xmm1, imm8.
fn avx_extract_widths(op: AvxExtractOp) -> (OperandSize, u32) {
    match op {
        AvxExtractOp::Vpextrb => (OperandSize::S32, 1),
        AvxExtractOp::Vpextrw => (OperandSize::S32, 2),
        AvxExtractOp::Vpextrd | AvxExtractOp::Vextractps => (OperandSize::S32, 4),
        AvxExtractOp::Vpextrq => (OperandSize::S64, 8),
    }
}

/// An 8-bit immediate operand.
fn imm8(value: u8) -> Op {
    Op::Imm {
        value: u64::from(value),
        bits: 8,
    }
}

/// ROUNDSS/ROUNDSD imm8 (SDM "ROUNDSD", table 4-18): bits 1:0 the rounding
/// (00 nearest, 01 down, 10 up, 11 truncate), bit 2 clear (use the
/// immediate), bit 3 set (suppress the precision exception).
fn round_imm(mode: RoundMode) -> u64 {
    match mode {
        RoundMode::Nearest => 0b1000,
        RoundMode::Down => 0b1001,
        RoundMode::Up => 0b1010,
        RoundMode::Zero => 0b1011,
    }
}

/// Whether `inst` is a multi-instruction sequence, checked by
/// [`check_sequence`] beyond its first instruction.
pub fn is_sequence(inst: &MInst) -> bool {
    matches!(
        inst,
        MInst::CheckedSRemSeq { .. }
            | MInst::JmpTableSeq { .. }
            | MInst::TrapIf { .. }
            | MInst::CvtFloatToSintSeq { .. }
            | MInst::CvtFloatToUintSeq { .. }
            | MInst::CvtUint64ToFloatSeq { .. }
            | MInst::XmmMinMaxSeq { .. }
    )
}

/// The trap code the instruction's first byte must carry in the trap table.
pub fn expected_trap(inst: &MInst) -> Option<TrapCode> {
    let amode_trap = |a: &vi::Amode| a.trap();
    let gm_trap = |g: &vi::GprMem| match g {
        vi::GprMem::Mem(a) => a.trap(),
        vi::GprMem::Gpr(_) => None,
    };
    let gmi_trap = |g: &vi::GprMemImm| match g {
        vi::GprMemImm::Mem(a) => a.trap(),
        _ => None,
    };
    let xm_trap = |g: &vi::XmmMem| match g {
        vi::XmmMem::Mem(a) | vi::XmmMem::Aligned(a) => a.trap(),
        vi::XmmMem::Xmm(_) => None,
    };
    match inst {
        MInst::AluRmi { src2, .. } => gmi_trap(src2),
        MInst::AluMem { dst, .. } => amode_trap(dst),
        MInst::Cmp { rhs, .. } => gmi_trap(rhs),
        MInst::CmpMem { lhs, .. } => amode_trap(lhs),
        MInst::Test { lhs, .. } => gm_trap(lhs),
        MInst::UnaryMem { dst, .. } | MInst::ShiftMem { dst, .. } => amode_trap(dst),
        MInst::IMul { src2, .. } | MInst::MulWide { src2, .. } => gm_trap(src2),
        MInst::IMulImm { src, .. } => gm_trap(src),
        MInst::Div { trap, .. } | MInst::Ud2 { trap } => Some(*trap),
        MInst::BitCount { src, .. } | MInst::Movzx { src, .. } | MInst::Movsx { src, .. } => {
            gm_trap(src)
        }
        MInst::MovRM { src, .. } => amode_trap(src),
        MInst::MovMR { dst, .. } | MInst::MovMI { dst, .. } => amode_trap(dst),
        MInst::Lea { addr, .. } => amode_trap(addr),
        MInst::Cmov { consequent, .. } => gm_trap(consequent),
        MInst::Push { src } => gmi_trap(src),
        MInst::JmpIndirect { target } | MInst::CallIndirect { target, .. } => gm_trap(target),
        MInst::Xchg { mem, .. } | MInst::LockCmpxchg { mem, .. } | MInst::LockXadd { mem, .. } => {
            amode_trap(mem)
        }
        MInst::XmmLoad { src, .. } => amode_trap(src),
        MInst::XmmStore { dst, .. } => amode_trap(dst),
        MInst::XmmRmR { src2, .. }
        | MInst::XmmRmRImm { src2, .. }
        | MInst::XmmRound { src2, .. } => xm_trap(src2),
        MInst::XmmUnaryRmR { src, .. } | MInst::XmmUnaryRmRImm { src, .. } => xm_trap(src),
        MInst::XmmInsert { src2, .. } => gm_trap(src2),
        MInst::XmmExtractMem { dst, .. } => amode_trap(dst),
        MInst::XmmTest { rhs, .. } => xm_trap(rhs),
        MInst::XmmBlendv { src2, .. } | MInst::XmmRmRVex { src2, .. } => xm_trap(src2),
        MInst::XmmUnaryRmRVex { src, .. } | MInst::XmmUnaryRmRImmVex { src, .. } => xm_trap(src),
        MInst::XmmRmRImmVex { src2, .. } | MInst::XmmBlendvVex { src2, .. } => xm_trap(src2),
        MInst::XmmInsertVex { src2, .. } => gm_trap(src2),
        MInst::XmmExtractMemVex { dst, .. } | MInst::XmmStoreVex { dst, .. } => amode_trap(dst),
        MInst::XmmTestVex { rhs, .. } => xm_trap(rhs),
        MInst::XmmCmp { rhs, .. } => xm_trap(rhs),
        MInst::GprToXmm { src, .. } | MInst::CvtIntToFloat { src2: src, .. } => gm_trap(src),
        MInst::CvtFloatToInt { src, .. } => xm_trap(src),
        _ => None,
    }
}

/// The instructions `inst` must decode to (for a sequence, its first).
pub fn expected(inst: &MInst) -> Vec<Expected> {
    use Mnemonic as M;
    let one = |e: Expected| vec![e];
    match inst {
        MInst::AluRmi {
            op,
            size,
            src2,
            dst,
            ..
        } => one(inst_(
            alu_mnemonic(*op),
            vec![rw(*dst, *size), gmi(src2, *size)],
        )),
        MInst::AluMem { op, size, dst, src } => one(inst_(
            alu_mnemonic(*op),
            vec![mem(dst, bytes_of(*size)), gi(src, *size)],
        )),
        MInst::Cmp { size, lhs, rhs } => one(inst_(M::Cmp, vec![r(*lhs, *size), gmi(rhs, *size)])),
        MInst::CmpMem { size, lhs, rhs } => one(inst_(
            M::Cmp,
            vec![mem(lhs, bytes_of(*size)), gi(rhs, *size)],
        )),
        MInst::Test { size, lhs, rhs } => one(inst_(M::Test, vec![gm(lhs, *size), gi(rhs, *size)])),
        MInst::Unary { op, size, dst, .. } => {
            one(inst_(unary_mnemonic(*op), vec![rw(*dst, *size)]))
        }
        MInst::UnaryMem { op, size, dst } => {
            one(inst_(unary_mnemonic(*op), vec![mem(dst, bytes_of(*size))]))
        }
        MInst::Shift {
            op,
            size,
            amount,
            dst,
            ..
        } => one(inst_(
            shift_mnemonic(*op),
            vec![rw(*dst, *size), shift_count(amount)],
        )),
        MInst::ShiftMem {
            op,
            size,
            dst,
            amount,
        } => one(inst_(
            shift_mnemonic(*op),
            vec![mem(dst, bytes_of(*size)), shift_count(amount)],
        )),
        MInst::IMul {
            size, src2, dst, ..
        } => one(inst_(M::Imul, vec![rw(*dst, *size), gm(src2, *size)])),
        MInst::IMulImm {
            size,
            src,
            imm: value,
            dst,
        } => one(inst_(
            M::Imul,
            vec![rw(*dst, *size), gm(src, *size), imm(*value, *size)],
        )),
        MInst::MulWide {
            signed, size, src2, ..
        } => one(inst_(
            if *signed { M::Imul } else { M::Mul },
            vec![gm(src2, *size)],
        )),
        MInst::Div {
            signed,
            size,
            divisor,
            ..
        } => one(inst_(
            if *signed { M::Idiv } else { M::Div },
            vec![gm(divisor, *size)],
        )),
        MInst::SignExtendRaxRdx { size, .. } => one(inst_(
            match size {
                OperandSize::S16 => M::Cwd,
                OperandSize::S32 => M::Cdq,
                OperandSize::S64 => M::Cqo,
                OperandSize::S8 => M::Cbw, // not a valid MInst; refused by the encoder
            },
            vec![],
        )),
        MInst::CheckedSRemSeq { size, divisor, .. } => {
            one(inst_(M::Cmp, vec![r(*divisor, *size), imm(-1, *size)]))
        }
        MInst::BitCount { op, size, src, dst } => one(inst_(
            bit_mnemonic(*op),
            vec![rw(*dst, *size), gm(src, *size)],
        )),
        MInst::Bswap { size, dst, .. } => one(inst_(M::Bswap, vec![rw(*dst, *size)])),
        MInst::MovRR { size, src, dst } => {
            one(inst_(M::Mov, vec![rw(*dst, *size), r(*src, *size)]))
        }
        MInst::MovImm { size, imm, dst } => one(mov_imm(*size, *imm, *dst)),
        MInst::MovRM { size, src, dst } => one(inst_(
            M::Mov,
            vec![rw(*dst, *size), mem(src, bytes_of(*size))],
        )),
        MInst::MovMR { size, src, dst } => one(inst_(
            M::Mov,
            vec![mem(dst, bytes_of(*size)), r(*src, *size)],
        )),
        MInst::MovMI {
            size,
            imm: value,
            dst,
        } => one(inst_(
            M::Mov,
            vec![mem(dst, bytes_of(*size)), imm(*value, *size)],
        )),
        MInst::Movzx { mode, src, dst } => {
            use OperandSize::*;
            // Zero-extension to 64 bits writes the 32-bit register (the CPU
            // clears the upper half); from 32 bits it is a plain 32-bit mov.
            let (mnemonic, to, from) = match mode {
                ExtMode::BW => (M::Movzx, S16, S8),
                ExtMode::BL | ExtMode::BQ => (M::Movzx, S32, S8),
                ExtMode::WL | ExtMode::WQ => (M::Movzx, S32, S16),
                ExtMode::LQ => (M::Mov, S32, S32),
            };
            one(inst_(mnemonic, vec![rw(*dst, to), gm(src, from)]))
        }
        MInst::Movsx { mode, src, dst } => {
            use OperandSize::*;
            let (mnemonic, to, from) = match mode {
                ExtMode::BW => (M::Movsx, S16, S8),
                ExtMode::BL => (M::Movsx, S32, S8),
                ExtMode::BQ => (M::Movsx, S64, S8),
                ExtMode::WL => (M::Movsx, S32, S16),
                ExtMode::WQ => (M::Movsx, S64, S16),
                ExtMode::LQ => (M::Movsxd, S64, S32),
            };
            one(inst_(mnemonic, vec![rw(*dst, to), gm(src, from)]))
        }
        MInst::Lea { size, addr, dst } => one(inst_(M::Lea, vec![rw(*dst, *size), mem(addr, 0)])),
        MInst::Setcc { cc, dst } => {
            one(inst_(setcc_mnemonic(*cc), vec![rw(*dst, OperandSize::S8)]))
        }
        MInst::Cmov {
            cc,
            size,
            consequent,
            dst,
            ..
        } => one(inst_(
            cmov_mnemonic(*cc),
            vec![rw(*dst, *size), gm(consequent, *size)],
        )),
        MInst::Push { src } => one(inst_(M::Push, vec![gmi(src, OperandSize::S64)])),
        MInst::Pop { dst } => one(inst_(M::Pop, vec![rw(*dst, OperandSize::S64)])),
        MInst::Jmp { target } => one(inst_(M::Jmp, vec![Op::Branch(BranchTo::Label(*target))])),
        MInst::JmpIf { cc, taken } => one(inst_(
            jcc_mnemonic(*cc),
            vec![Op::Branch(BranchTo::Label(*taken))],
        )),
        MInst::JmpCond {
            cc,
            taken,
            not_taken,
        } => vec![
            inst_(jcc_mnemonic(*cc), vec![Op::Branch(BranchTo::Label(*taken))]),
            inst_(M::Jmp, vec![Op::Branch(BranchTo::Label(*not_taken))]),
        ],
        MInst::JmpIndirect { target } => one(inst_(M::Jmp, vec![gm(target, OperandSize::S64)])),
        MInst::JmpTableSeq { index, table, .. } => one(inst_(
            M::Cmp,
            vec![
                r(*index, OperandSize::S32),
                imm(table.targets.len() as i32, OperandSize::S32),
            ],
        )),
        MInst::TrapIf { cc, trap } => one(inst_(
            jcc_mnemonic(*cc),
            vec![Op::Branch(BranchTo::TrapStub(*trap))],
        )),
        MInst::Call { info } => one(inst_(
            M::Call,
            vec![Op::Branch(match info.dest {
                CallDest::Label(label) => BranchTo::Label(label),
                CallDest::External(_) => BranchTo::Relocated,
            })],
        )),
        MInst::CallIndirect { target, .. } => {
            one(inst_(M::Call, vec![gm(target, OperandSize::S64)]))
        }
        MInst::Ret { stack_bytes_to_pop } => one(match stack_bytes_to_pop {
            0 => inst_(M::Ret, vec![]),
            n => inst_(
                M::Ret,
                vec![Op::Imm {
                    value: u64::from(*n),
                    bits: 16,
                }],
            ),
        }),
        MInst::Ud2 { .. } => one(inst_(M::Ud2, vec![])),
        MInst::Int3 => one(inst_(M::Int3, vec![])),
        MInst::Nop { len } => {
            // As few NOPs as possible, each 1 to 9 bytes.
            let mut left = usize::from(*len);
            let mut nops = Vec::new();
            while left > 0 {
                let n = left.min(9);
                nops.push(Expected {
                    mnemonic: M::Nop,
                    ops: None,
                    lock: false,
                    len: Some(n),
                });
                left -= n;
            }
            nops
        }
        MInst::Xchg {
            size, mem: m, src, ..
        } => one(inst_(
            M::Xchg,
            vec![mem(m, bytes_of(*size)), r(*src, *size)],
        )),
        MInst::LockCmpxchg {
            size,
            mem: m,
            replacement,
            ..
        } => one(locked(
            M::Cmpxchg,
            vec![mem(m, bytes_of(*size)), r(*replacement, *size)],
        )),
        MInst::LockXadd {
            size, mem: m, src, ..
        } => one(locked(
            M::Xadd,
            vec![mem(m, bytes_of(*size)), r(*src, *size)],
        )),
        MInst::Mfence => one(inst_(M::Mfence, vec![])),
        MInst::XmmLoad { op, src, dst } => {
            let (mnemonic, bytes) = sse_mov_mnemonic(*op);
            one(inst_(mnemonic, vec![xw(*dst), mem(src, bytes)]))
        }
        MInst::XmmStore { op, src, dst } => {
            let (mnemonic, bytes) = sse_mov_mnemonic(*op);
            one(inst_(mnemonic, vec![mem(dst, bytes), x(*src)]))
        }
        MInst::XmmMovRR { src, dst } => one(inst_(M::Movaps, vec![xw(*dst), x(*src)])),
        MInst::XmmRmR { op, src2, dst, .. } => {
            let (mnemonic, bytes) = sse_mnemonic(*op);
            one(inst_(mnemonic, vec![xw(*dst), xm(src2, bytes)]))
        }
        MInst::XmmUnaryRmR { op, src, dst } => one(inst_(
            declared(op.mnemonic()),
            vec![xw(*dst), xm(src, sse_unary_memory_bytes(*op))],
        )),
        MInst::XmmRmRImm {
            op, imm, src2, dst, ..
        } => one(inst_(
            declared(op.mnemonic()),
            vec![xw(*dst), xm(src2, sse_imm_memory_bytes(*op)), imm8(*imm)],
        )),
        MInst::XmmUnaryRmRImm { op, imm, src, dst } => one(inst_(
            declared(op.mnemonic()),
            vec![xw(*dst), xm(src, 16), imm8(*imm)],
        )),
        MInst::XmmRR { op, src2, dst, .. } => {
            one(inst_(declared(op.mnemonic()), vec![xw(*dst), x(*src2)]))
        }
        MInst::XmmInsert {
            op,
            lane,
            src2,
            dst,
            ..
        } => {
            let (size, bytes) = insert_widths(*op);
            let src = match src2 {
                vi::GprMem::Gpr(reg) => r(*reg, size),
                vi::GprMem::Mem(amode) => mem(amode, bytes),
            };
            one(inst_(
                declared(op.mnemonic()),
                vec![xw(*dst), src, imm8(*lane)],
            ))
        }
        MInst::XmmExtract { op, lane, src, dst } => one(inst_(
            declared(op.mnemonic()),
            vec![rw(*dst, extract_widths(*op).0), x(*src), imm8(*lane)],
        )),
        MInst::XmmExtractMem { op, lane, src, dst } => one(inst_(
            declared(op.mnemonic()),
            vec![mem(dst, extract_widths(*op).1), x(*src), imm8(*lane)],
        )),
        MInst::XmmMoveMask { op, src, dst } => one(inst_(
            declared(op.mnemonic()),
            vec![rw(*dst, OperandSize::S32), x(*src)],
        )),
        MInst::XmmTest { op, lhs, rhs } => {
            one(inst_(declared(op.mnemonic()), vec![x(*lhs), xm(rhs, 16)]))
        }
        // The manual's third operand, <XMM0>, is implicit: no bits encode
        // it, and the decoder lists the two explicit ones.
        MInst::XmmRmRVex {
            op,
            src1,
            src2,
            dst,
        } => one(inst_(
            declared(op.mnemonic()),
            vec![xw(*dst), x(*src1), xm(src2, 16)],
        )),
        MInst::XmmUnaryRmRVex { op, src, dst } => one(inst_(
            declared(op.mnemonic()),
            vec![xw(*dst), xm(src, avx_unary_memory_bytes(*op))],
        )),
        MInst::XmmRmRImmVex {
            op,
            imm,
            src1,
            src2,
            dst,
        } => one(inst_(
            declared(op.mnemonic()),
            vec![
                xw(*dst),
                x(*src1),
                xm(src2, avx_imm_memory_bytes(*op)),
                imm8(*imm),
            ],
        )),
        MInst::XmmUnaryRmRImmVex { op, imm, src, dst } => one(inst_(
            declared(op.mnemonic()),
            vec![xw(*dst), xm(src, 16), imm8(*imm)],
        )),
        // VEX.vvvv is the destination, ModRM.rm the source.
        MInst::XmmShiftImmVex { op, imm, src, dst } => one(inst_(
            declared(op.mnemonic()),
            vec![xw(*dst), x(*src), imm8(*imm)],
        )),
        MInst::XmmInsertVex {
            op,
            lane,
            src1,
            src2,
            dst,
        } => {
            let (size, bytes) = avx_insert_widths(*op);
            let src = match src2 {
                vi::GprMem::Gpr(reg) => r(*reg, size),
                vi::GprMem::Mem(amode) => mem(amode, bytes),
            };
            one(inst_(
                declared(op.mnemonic()),
                vec![xw(*dst), x(*src1), src, imm8(*lane)],
            ))
        }
        MInst::XmmExtractVex { op, lane, src, dst } => one(inst_(
            declared(op.mnemonic()),
            vec![rw(*dst, avx_extract_widths(*op).0), x(*src), imm8(*lane)],
        )),
        MInst::XmmExtractMemVex { op, lane, src, dst } => one(inst_(
            declared(op.mnemonic()),
            vec![mem(dst, avx_extract_widths(*op).1), x(*src), imm8(*lane)],
        )),
        MInst::XmmMoveMaskVex { op, src, dst } => one(inst_(
            declared(op.mnemonic()),
            vec![rw(*dst, OperandSize::S32), x(*src)],
        )),
        // The fourth register is named by imm8[7:4]; the decoder lists it
        // as a register operand.
        MInst::XmmBlendvVex {
            op,
            src1,
            src2,
            mask,
            dst,
        } => one(inst_(
            declared(op.mnemonic()),
            vec![xw(*dst), x(*src1), xm(src2, 16), x(*mask)],
        )),
        MInst::XmmTestVex { op, lhs, rhs } => {
            one(inst_(declared(op.mnemonic()), vec![x(*lhs), xm(rhs, 16)]))
        }
        MInst::XmmStoreVex { op, src, dst } => {
            one(inst_(declared(op.mnemonic()), vec![mem(dst, 16), x(*src)]))
        }
        MInst::XmmBlendv { op, src2, dst, .. } => {
            one(inst_(declared(op.mnemonic()), vec![xw(*dst), xm(src2, 16)]))
        }
        MInst::XmmShiftImm { op, imm, dst, .. } => {
            one(inst_(declared(op.mnemonic()), vec![xw(*dst), imm8(*imm)]))
        }
        MInst::XmmRound {
            size,
            mode,
            src2,
            dst,
            ..
        } => one(inst_(
            match size {
                FloatSize::F32 => M::Roundss,
                FloatSize::F64 => M::Roundsd,
            },
            vec![
                xw(*dst),
                xm(src2, float_bytes(*size)),
                Op::Imm {
                    value: round_imm(*mode),
                    bits: 8,
                },
            ],
        )),
        MInst::XmmCmp { size, lhs, rhs } => one(inst_(
            match size {
                FloatSize::F32 => M::Ucomiss,
                FloatSize::F64 => M::Ucomisd,
            },
            vec![x(*lhs), xm(rhs, float_bytes(*size))],
        )),
        MInst::GprToXmm { size, src, dst } => one(inst_(
            if *size == OperandSize::S64 {
                M::Movq
            } else {
                M::Movd
            },
            vec![xw(*dst), gm(src, *size)],
        )),
        MInst::XmmToGpr { size, src, dst } => one(inst_(
            if *size == OperandSize::S64 {
                M::Movq
            } else {
                M::Movd
            },
            vec![rw(*dst, *size), x(*src)],
        )),
        MInst::CvtIntToFloat {
            float_size,
            int_size,
            src2,
            dst,
            ..
        } => one(inst_(
            match float_size {
                FloatSize::F32 => M::Cvtsi2ss,
                FloatSize::F64 => M::Cvtsi2sd,
            },
            vec![xw(*dst), gm(src2, *int_size)],
        )),
        MInst::CvtFloatToInt {
            float_size,
            int_size,
            src,
            dst,
        } => one(inst_(
            cvtt_mnemonic(*float_size),
            vec![rw(*dst, *int_size), xm(src, float_bytes(*float_size))],
        )),
        MInst::CvtFloatToSintSeq {
            float_size,
            int_size,
            src,
            dst,
            ..
        } => one(inst_(
            cvtt_mnemonic(*float_size),
            vec![rw(*dst, *int_size), x(*src)],
        )),
        MInst::CvtFloatToUintSeq {
            float_size,
            saturating,
            src,
            tmp_xmm,
            ..
        } => one(if *saturating {
            inst_(M::Xorps, vec![xw(*tmp_xmm), xw(*tmp_xmm)])
        } else {
            inst_(ucomis_mnemonic(*float_size), vec![x(*src), x(*src)])
        }),
        MInst::CvtUint64ToFloatSeq { src, .. } => one(inst_(
            M::Test,
            vec![r(*src, OperandSize::S64), r(*src, OperandSize::S64)],
        )),
        MInst::XmmMinMaxSeq { size, lhs, dst, .. } => {
            one(inst_(ucomis_mnemonic(*size), vec![x(*lhs), xw(*dst)]))
        }
    }
}

fn inst_(mnemonic: Mnemonic, ops: Vec<Op>) -> Expected {
    inst(mnemonic, ops)
}

fn cvtt_mnemonic(size: FloatSize) -> Mnemonic {
    match size {
        FloatSize::F32 => Mnemonic::Cvttss2si,
        FloatSize::F64 => Mnemonic::Cvttsd2si,
    }
}

fn ucomis_mnemonic(size: FloatSize) -> Mnemonic {
    match size {
        FloatSize::F32 => Mnemonic::Ucomiss,
        FloatSize::F64 => Mnemonic::Ucomisd,
    }
}

fn shift_count(amount: &ShiftAmount) -> Op {
    match amount {
        ShiftAmount::Imm(n) => Op::Imm {
            value: u64::from(*n),
            bits: 8,
        },
        ShiftAmount::Cl(_) => Op::Reg(Register::CL),
    }
}

/// `mov r, imm`. At 64 bits the encoder picks the shortest form, so the
/// decoder sees `mov r32, imm32` for values up to u32::MAX (the write
/// zero-extends), `mov r/m64, imm32` (sign-extended) for small negatives
/// and `mov r64, imm64` otherwise; all three load the same value.
fn mov_imm(size: OperandSize, value: u64, dst: Writable<GprReg>) -> Expected {
    match size {
        OperandSize::S64 if value <= u64::from(u32::MAX) => inst(
            Mnemonic::Mov,
            vec![rw(dst, OperandSize::S32), Op::Imm { value, bits: 32 }],
        ),
        _ => inst(
            Mnemonic::Mov,
            vec![
                rw(dst, size),
                Op::Imm {
                    value,
                    bits: bits_of(size),
                },
            ],
        ),
    }
}

/// The MInst variant's name, as declared in `inst.isle`.
pub fn variant_name(inst: &MInst) -> &'static str {
    match inst {
        MInst::AluRmi { .. } => "AluRmi",
        MInst::AluMem { .. } => "AluMem",
        MInst::Cmp { .. } => "Cmp",
        MInst::CmpMem { .. } => "CmpMem",
        MInst::Test { .. } => "Test",
        MInst::Unary { .. } => "Unary",
        MInst::UnaryMem { .. } => "UnaryMem",
        MInst::Shift { .. } => "Shift",
        MInst::ShiftMem { .. } => "ShiftMem",
        MInst::IMul { .. } => "IMul",
        MInst::IMulImm { .. } => "IMulImm",
        MInst::MulWide { .. } => "MulWide",
        MInst::Div { .. } => "Div",
        MInst::SignExtendRaxRdx { .. } => "SignExtendRaxRdx",
        MInst::CheckedSRemSeq { .. } => "CheckedSRemSeq",
        MInst::BitCount { .. } => "BitCount",
        MInst::Bswap { .. } => "Bswap",
        MInst::MovRR { .. } => "MovRR",
        MInst::MovImm { .. } => "MovImm",
        MInst::MovRM { .. } => "MovRM",
        MInst::MovMR { .. } => "MovMR",
        MInst::MovMI { .. } => "MovMI",
        MInst::Movzx { .. } => "Movzx",
        MInst::Movsx { .. } => "Movsx",
        MInst::Lea { .. } => "Lea",
        MInst::Setcc { .. } => "Setcc",
        MInst::Cmov { .. } => "Cmov",
        MInst::Push { .. } => "Push",
        MInst::Pop { .. } => "Pop",
        MInst::Jmp { .. } => "Jmp",
        MInst::JmpIf { .. } => "JmpIf",
        MInst::JmpCond { .. } => "JmpCond",
        MInst::JmpIndirect { .. } => "JmpIndirect",
        MInst::JmpTableSeq { .. } => "JmpTableSeq",
        MInst::TrapIf { .. } => "TrapIf",
        MInst::Call { .. } => "Call",
        MInst::CallIndirect { .. } => "CallIndirect",
        MInst::Ret { .. } => "Ret",
        MInst::Ud2 { .. } => "Ud2",
        MInst::Int3 => "Int3",
        MInst::Nop { .. } => "Nop",
        MInst::Xchg { .. } => "Xchg",
        MInst::LockCmpxchg { .. } => "LockCmpxchg",
        MInst::LockXadd { .. } => "LockXadd",
        MInst::Mfence => "Mfence",
        MInst::XmmLoad { .. } => "XmmLoad",
        MInst::XmmStore { .. } => "XmmStore",
        MInst::XmmMovRR { .. } => "XmmMovRR",
        MInst::XmmRmR { .. } => "XmmRmR",
        MInst::XmmUnaryRmR { .. } => "XmmUnaryRmR",
        MInst::XmmRmRImm { .. } => "XmmRmRImm",
        MInst::XmmUnaryRmRImm { .. } => "XmmUnaryRmRImm",
        MInst::XmmShiftImm { .. } => "XmmShiftImm",
        MInst::XmmRR { .. } => "XmmRR",
        MInst::XmmInsert { .. } => "XmmInsert",
        MInst::XmmExtract { .. } => "XmmExtract",
        MInst::XmmExtractMem { .. } => "XmmExtractMem",
        MInst::XmmMoveMask { .. } => "XmmMoveMask",
        MInst::XmmTest { .. } => "XmmTest",
        MInst::XmmBlendv { .. } => "XmmBlendv",
        MInst::XmmRmRVex { .. } => "XmmRmRVex",
        MInst::XmmUnaryRmRVex { .. } => "XmmUnaryRmRVex",
        MInst::XmmRmRImmVex { .. } => "XmmRmRImmVex",
        MInst::XmmUnaryRmRImmVex { .. } => "XmmUnaryRmRImmVex",
        MInst::XmmShiftImmVex { .. } => "XmmShiftImmVex",
        MInst::XmmInsertVex { .. } => "XmmInsertVex",
        MInst::XmmExtractVex { .. } => "XmmExtractVex",
        MInst::XmmExtractMemVex { .. } => "XmmExtractMemVex",
        MInst::XmmMoveMaskVex { .. } => "XmmMoveMaskVex",
        MInst::XmmBlendvVex { .. } => "XmmBlendvVex",
        MInst::XmmTestVex { .. } => "XmmTestVex",
        MInst::XmmStoreVex { .. } => "XmmStoreVex",
        MInst::XmmRound { .. } => "XmmRound",
        MInst::XmmCmp { .. } => "XmmCmp",
        MInst::GprToXmm { .. } => "GprToXmm",
        MInst::XmmToGpr { .. } => "XmmToGpr",
        MInst::CvtIntToFloat { .. } => "CvtIntToFloat",
        MInst::CvtFloatToInt { .. } => "CvtFloatToInt",
        MInst::CvtFloatToSintSeq { .. } => "CvtFloatToSintSeq",
        MInst::CvtFloatToUintSeq { .. } => "CvtFloatToUintSeq",
        MInst::CvtUint64ToFloatSeq { .. } => "CvtUint64ToFloatSeq",
        MInst::XmmMinMaxSeq { .. } => "XmmMinMaxSeq",
    }
}

// ---- The surrounding an instruction is emitted in --------------------------

/// Labels and a constant every test instruction may refer to. Each
/// [`emit`] builds them in the same order in a fresh assembler, so their
/// values are the same every time.
///
/// ```text
///   0:            back:                    (bound first)
///                 nop * padding            (the distance back; <= ~126 gives rel8)
///   start:        the instruction
///   end:          fwd:
///                 nop * FAR_GAP
///                 far:
///                 int3
///                 trap stubs, constants    (the buffer's tail)
/// ```
#[derive(Copy, Clone, Debug)]
pub struct Targets {
    pub back: Label,
    pub fwd: Label,
    pub far: Label,
    pub constant: Constant,
    pub constant_label: Label,
}

/// 16 bytes, so that every SSE load width may read it.
pub const CONSTANT_DATA: [u8; 16] = *b"0123456789abcdef";
const FAR_GAP: usize = 300;

impl Targets {
    /// The labels, for choosing one.
    pub fn labels(&self) -> [Label; 3] {
        [self.back, self.fwd, self.far]
    }
}

/// A fresh assembler (branch simplification off) with the [`Targets`].
pub fn assembler(features: CpuFeatures) -> (Assembler, Targets) {
    let mut asm = Assembler::new(features);
    asm.buffer_mut().set_branch_simplification(false);
    let back = asm.new_label();
    asm.bind_label(back).expect("a fresh label");
    let fwd = asm.new_label();
    let far = asm.new_label();
    let constant = asm.add_constant(&CONSTANT_DATA, 16);
    let constant_label = asm.buffer_mut().constant_label(constant);
    let targets = Targets {
        back,
        fwd,
        far,
        constant,
        constant_label,
    };
    (asm, targets)
}

/// The targets every [`emit`] uses.
pub fn targets() -> Targets {
    assembler(CpuFeatures::all()).1
}

/// Code with one instruction in it, and where the instruction is.
pub struct Emitted {
    pub code: FinishedCode,
    pub targets: Targets,
    pub start: u32,
    pub end: u32,
}

/// Emits `inst` after `padding` bytes of NOPs, in the [`Targets`]
/// surrounding.
pub fn emit(inst: &MInst, padding: usize) -> Result<Emitted, AsmError> {
    let (mut asm, targets) = assembler(CpuFeatures::all());
    asm.nop(padding);
    let start = asm.cur_offset();
    inst.emit(&mut asm);
    let end = asm.cur_offset();
    asm.bind_label(targets.fwd)?;
    asm.nop(FAR_GAP);
    asm.bind_label(targets.far)?;
    asm.int3();
    let code = asm.finish()?;
    Ok(Emitted {
        code,
        targets,
        start,
        end,
    })
}

// ---- Decoding and comparing -------------------------------------------------

/// Decodes `bytes` placed at `ip`.
pub fn decode(bytes: &[u8], ip: u64) -> Vec<Instruction> {
    let mut decoder = Decoder::with_ip(64, bytes, ip, DecoderOptions::NONE);
    let mut out = Vec::new();
    while decoder.can_decode() {
        out.push(decoder.decode());
    }
    out
}

/// `bytes` in hex and the decoder's disassembly, for failure messages.
pub fn listing(bytes: &[u8], ip: u64) -> String {
    let mut text = String::new();
    let mut formatter = IntelFormatter::new();
    for instruction in decode(bytes, ip) {
        let start = (instruction.ip() - ip) as usize;
        let hex: Vec<String> = bytes[start..start + instruction.len()]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        let mut asm = String::new();
        formatter.format(&instruction, &mut asm);
        let _ = writeln!(
            text,
            "  {:6x}: {:<32} {}",
            instruction.ip(),
            hex.join(" "),
            asm
        );
    }
    text
}

/// The memory operand's width, in bytes, as iced's memory-size names it
/// (signedness and float-ness aside: those are iced's conventions, not the
/// encoding's).
fn memory_bytes(size: MemorySize) -> Option<u32> {
    use MemorySize as S;
    Some(match size {
        S::Unknown => 0,
        S::UInt8 | S::Int8 => 1,
        S::UInt16 | S::Int16 | S::WordOffset => 2,
        S::UInt32 | S::Int32 | S::Float32 | S::DwordOffset => 4,
        S::UInt64 | S::Int64 | S::Float64 | S::QwordOffset => 8,
        S::Packed64_Int8
        | S::Packed64_UInt8
        | S::Packed64_Int16
        | S::Packed64_UInt16
        | S::Packed64_Int32
        | S::Packed64_UInt32
        | S::Packed64_Float32 => 8,
        S::UInt128
        | S::Packed128_Float32
        | S::Packed128_Float64
        | S::Packed128_Int8
        | S::Packed128_UInt8
        | S::Packed128_Int16
        | S::Packed128_UInt16
        | S::Packed128_Int32
        | S::Packed128_UInt32
        | S::Packed128_Int64
        | S::Packed128_UInt64 => 16,
        _ => return None,
    })
}

/// The final offset of a label the instruction refers to.
fn label_offset(emitted: &Emitted, label: Label) -> u64 {
    u64::from(
        emitted
            .code
            .label_offset(label)
            .unwrap_or_else(|| panic!("{label} unbound after finish")),
    )
}

fn constant_label(emitted: &Emitted, constant: Constant) -> Label {
    assert_eq!(
        constant, emitted.targets.constant,
        "the tests use one constant"
    );
    emitted.targets.constant_label
}

/// Compares one decoded operand; `Err` says how it differs.
fn compare_operand(
    emitted: &Emitted,
    decoded: &Instruction,
    i: u32,
    want: &Op,
) -> Result<(), String> {
    let kind = decoded.op_kind(i);
    match want {
        Op::Reg(reg) => {
            if kind != OpKind::Register || decoded.op_register(i) != *reg {
                return Err(format!(
                    "operand {i}: want {reg:?}, got {kind:?} {:?}",
                    decoded.op_register(i)
                ));
            }
        }
        Op::Mem { addr, bytes } => {
            if kind != OpKind::Memory {
                return Err(format!("operand {i}: want memory, got {kind:?}"));
            }
            let got_bytes = memory_bytes(decoded.memory_size());
            if got_bytes != Some(*bytes) {
                return Err(format!(
                    "operand {i}: want {bytes} bytes of memory, got {:?}",
                    decoded.memory_size()
                ));
            }
            let got = (
                decoded.memory_base(),
                decoded.memory_index(),
                decoded.memory_index_scale(),
                decoded.memory_displacement64(),
            );
            let want = match *addr {
                Addr::Regs {
                    base,
                    index,
                    scale,
                    disp,
                } => (base, index, scale, disp as u64),
                Addr::Label(label, offset) => (
                    Register::RIP,
                    Register::None,
                    1,
                    label_offset(emitted, label).wrapping_add(offset as i64 as u64),
                ),
                Addr::Constant(constant, offset) => (
                    Register::RIP,
                    Register::None,
                    1,
                    label_offset(emitted, constant_label(emitted, constant))
                        .wrapping_add(offset as i64 as u64),
                ),
            };
            if got != want {
                return Err(format!(
                    "operand {i}: want [base {:?} index {:?} * {} + {:#x}], got [base {:?} index {:?} * {} + {:#x}]",
                    want.0, want.1, want.2, want.3, got.0, got.1, got.2, got.3
                ));
            }
        }
        Op::Imm { value, bits } => {
            let is_imm = matches!(
                kind,
                OpKind::Immediate8
                    | OpKind::Immediate16
                    | OpKind::Immediate32
                    | OpKind::Immediate64
                    | OpKind::Immediate8to16
                    | OpKind::Immediate8to32
                    | OpKind::Immediate8to64
                    | OpKind::Immediate32to64
            );
            let mask = if *bits >= 64 {
                u64::MAX
            } else {
                (1u64 << bits) - 1
            };
            if !is_imm || decoded.immediate(i) & mask != value & mask {
                return Err(format!(
                    "operand {i}: want immediate {value:#x} ({bits} bits), got {kind:?} {:#x}",
                    if is_imm { decoded.immediate(i) } else { 0 }
                ));
            }
        }
        Op::Branch(to) => {
            if kind != OpKind::NearBranch64 {
                return Err(format!("operand {i}: want a branch, got {kind:?}"));
            }
            let target = decoded.near_branch_target();
            match to {
                BranchTo::Label(label) => {
                    let want = label_offset(emitted, *label);
                    if target != want {
                        return Err(format!("branch to {target:#x}, want {label} at {want:#x}"));
                    }
                }
                BranchTo::Relocated => {
                    if target != decoded.next_ip() {
                        return Err(format!(
                            "relocated branch to {target:#x}, want its zero field (next instruction)"
                        ));
                    }
                }
                BranchTo::TrapStub(code) => check_trap_stub(emitted, target, *code)?,
            }
        }
    }
    Ok(())
}

/// `target` must be a `ud2` past the instruction's surroundings, in the trap
/// table with `code`.
fn check_trap_stub(emitted: &Emitted, target: u64, code: TrapCode) -> Result<(), String> {
    let bytes = emitted.code.code();
    let far = label_offset(emitted, emitted.targets.far);
    let t = target as usize;
    if target <= far || t + 2 > bytes.len() || bytes[t..t + 2] != [0x0F, 0x0B] {
        return Err(format!("branch to {target:#x}, which is not a trap stub"));
    }
    match emitted.code.trap_at(target as u32) {
        Some(got) if got == code => Ok(()),
        got => Err(format!(
            "trap stub at {target:#x} has trap {got:?}, want {code:?}"
        )),
    }
}

fn compare(emitted: &Emitted, decoded: &Instruction, want: &Expected) -> Result<(), String> {
    if decoded.is_invalid() {
        return Err("an invalid instruction".into());
    }
    if decoded.mnemonic() != want.mnemonic {
        return Err(format!(
            "mnemonic {:?}, want {:?}",
            decoded.mnemonic(),
            want.mnemonic
        ));
    }
    if decoded.has_lock_prefix() != want.lock {
        return Err(format!(
            "lock prefix {}, want {}",
            decoded.has_lock_prefix(),
            want.lock
        ));
    }
    if let Some(len) = want.len
        && decoded.len() != len
    {
        return Err(format!("{} bytes, want {len}", decoded.len()));
    }
    if let Some(ops) = &want.ops {
        if decoded.op_count() as usize != ops.len() {
            return Err(format!(
                "{} operands, want {}",
                decoded.op_count(),
                ops.len()
            ));
        }
        for (i, op) in ops.iter().enumerate() {
            compare_operand(emitted, decoded, i as u32, op)?;
        }
    }
    Ok(())
}

fn fail(emitted: &Emitted, what: &dyn std::fmt::Debug, why: &str) -> ! {
    let (start, end) = (emitted.start as usize, emitted.end as usize);
    panic!(
        "{what:?}\n{why}\nbytes at {start:#x}..{end:#x}:\n{}",
        listing(&emitted.code.code()[start..end], start as u64)
    );
}

/// Decodes the instruction's bytes and compares them with `expected`: the
/// same number of instructions covering exactly its bytes (for a sequence,
/// only the first is compared), each with the expected mnemonic, operand
/// count and operands. Panics with the bytes and disassembly on a mismatch.
pub fn check(emitted: &Emitted, expected: &[Expected], sequence: bool, what: &dyn std::fmt::Debug) {
    let (start, end) = (emitted.start as usize, emitted.end as usize);
    let decoded = decode(&emitted.code.code()[start..end], start as u64);
    // A sequence may end in data (a jump table): check_sequence decodes it.
    if !sequence && decoded.iter().any(|d| d.is_invalid()) {
        fail(emitted, what, "the bytes contain an invalid instruction");
    }
    if sequence {
        if decoded.is_empty() {
            fail(emitted, what, "an empty sequence");
        }
    } else if decoded.len() != expected.len() {
        fail(
            emitted,
            what,
            &format!("{} instructions, want {}", decoded.len(), expected.len()),
        );
    }
    for (d, want) in decoded.iter().zip(expected) {
        if let Err(why) = compare(emitted, d, want) {
            fail(emitted, what, &format!("{why}\nwant {want:?}"));
        }
    }
}

/// The trap table, relocations and call sites of one instruction.
pub fn check_metadata(emitted: &Emitted, inst: &MInst) {
    let code = &emitted.code;
    let (start, end) = (emitted.start, emitted.end);
    if !is_sequence(inst) {
        let got = code.trap_at(start);
        let want = expected_trap(inst);
        if got != want {
            fail(
                emitted,
                inst,
                &format!("trap {got:?} at the start, want {want:?}"),
            );
        }
    }
    let is_call = matches!(inst, MInst::Call { .. } | MInst::CallIndirect { .. });
    let returns: Vec<u32> = code.call_sites().iter().map(|c| c.return_offset).collect();
    if is_call != (returns == [end]) {
        fail(
            emitted,
            inst,
            &format!("call sites {returns:?}, call ending at {end:#x}"),
        );
    }
    let want_relocs = match inst {
        MInst::Call { info } => match info.dest {
            CallDest::External(name) => vec![(start + 1, RelocKind::CallPcRel32, name, -4)],
            CallDest::Label(_) => vec![],
        },
        _ => vec![],
    };
    let got_relocs: Vec<_> = code
        .relocations()
        .iter()
        .map(|r| (r.offset, r.kind, r.target, r.addend))
        .collect();
    if got_relocs != want_relocs {
        fail(
            emitted,
            inst,
            &format!("relocations {got_relocs:?}, want {want_relocs:?}"),
        );
    }
}

/// A multi-instruction sequence: every byte decodes to a valid instruction
/// (up to a jump table's entries), every direct branch lands on one of the
/// sequence's instruction boundaries, its end, a test label or a trap stub,
/// every RIP-relative operand points inside the code, every division is in
/// the trap table with the sequence's trap code, and a jump table's entries
/// point at its targets.
pub fn check_sequence(emitted: &Emitted, inst: &MInst) {
    let (start, end) = (emitted.start as usize, emitted.end as usize);
    let bytes = emitted.code.code();
    let mut decoder = Decoder::with_ip(64, &bytes[start..end], start as u64, DecoderOptions::NONE);
    let mut decoded = Vec::new();
    let mut table_at = None;
    while decoder.can_decode() {
        let instruction = decoder.decode();
        if instruction.is_invalid() {
            fail(
                emitted,
                inst,
                &format!("invalid instruction at {:#x}", instruction.ip()),
            );
        }
        let ends_in_table = matches!(inst, MInst::JmpTableSeq { .. })
            && instruction.mnemonic() == Mnemonic::Jmp
            && instruction.op_kind(0) == OpKind::Register;
        decoded.push(instruction);
        if ends_in_table {
            table_at = Some(instruction.next_ip() as usize);
            break;
        }
    }
    let boundaries: Vec<u64> = decoded.iter().map(|d| d.ip()).collect();
    let labels: Vec<u64> = emitted
        .targets
        .labels()
        .iter()
        .map(|l| label_offset(emitted, *l))
        .collect();
    let trap_code = match inst {
        MInst::CheckedSRemSeq { trap, .. } | MInst::TrapIf { trap, .. } => Some(*trap),
        _ => None,
    };
    for d in &decoded {
        if d.op_count() > 0 && d.op_kind(0) == OpKind::NearBranch64 {
            let target = d.near_branch_target();
            let ok = boundaries.contains(&target)
                || target == end as u64
                || labels.contains(&target)
                || (target as usize) < bytes.len()
                    && bytes[target as usize..].starts_with(&[0x0F, 0x0B])
                    && emitted.code.trap_at(target as u32).is_some();
            if !ok {
                fail(
                    emitted,
                    inst,
                    &format!(
                        "branch at {:#x} to {target:#x}, not an instruction boundary, label or trap stub",
                        d.ip()
                    ),
                );
            }
        }
        for i in 0..d.op_count() {
            if d.op_kind(i) == OpKind::Memory && d.memory_base() == Register::RIP {
                let target = d.memory_displacement64();
                if target as usize >= bytes.len() {
                    fail(
                        emitted,
                        inst,
                        &format!(
                            "RIP-relative operand at {:#x} points outside the code",
                            d.ip()
                        ),
                    );
                }
            }
        }
        if matches!(d.mnemonic(), Mnemonic::Div | Mnemonic::Idiv)
            && emitted.code.trap_at(d.ip() as u32) != trap_code
        {
            fail(
                emitted,
                inst,
                &format!(
                    "division at {:#x} not in the trap table with {trap_code:?}",
                    d.ip()
                ),
            );
        }
    }
    if let MInst::JmpTableSeq { table, .. } = inst {
        let Some(table_at) = table_at else {
            fail(emitted, inst, "no indirect jump before the table");
        };
        let lea = decoded.iter().find(|d| d.mnemonic() == Mnemonic::Lea);
        if lea.map(|l| l.memory_displacement64()) != Some(table_at as u64) {
            fail(emitted, inst, "the lea does not load the table's address");
        }
        if table_at + 4 * table.targets.len() != end {
            fail(emitted, inst, "the table does not end the sequence");
        }
        for (k, target) in table.targets.iter().enumerate() {
            let at = table_at + 4 * k;
            let entry = i32::from_le_bytes(bytes[at..at + 4].try_into().unwrap());
            let want = label_offset(emitted, *target) as i64 - table_at as i64;
            if i64::from(entry) != want {
                fail(emitted, inst, &format!("entry {k} is {entry}, want {want}"));
            }
        }
    }
}

/// Emits, decodes and checks `inst` (operands, metadata, sequence shape).
/// Returns the variant's name.
pub fn check_inst(inst: &MInst, padding: usize) -> &'static str {
    let emitted = emit(inst, padding).unwrap_or_else(|e| panic!("{inst:?} was refused: {e}"));
    check(&emitted, &expected(inst), is_sequence(inst), inst);
    check_metadata(&emitted, inst);
    if is_sequence(inst) {
        check_sequence(&emitted, inst);
    }
    variant_name(inst)
}

// ---- Building operands ------------------------------------------------------

pub fn g(reg: Gpr) -> GprReg {
    GprReg::from(reg)
}

pub fn gw(reg: Gpr) -> Writable<GprReg> {
    Writable::from_reg(GprReg::from(reg))
}

pub fn xr(reg: Xmm) -> XmmReg {
    XmmReg::from(reg)
}

pub fn xwr(reg: Xmm) -> Writable<XmmReg> {
    Writable::from_reg(XmmReg::from(reg))
}

/// A call description (the register lists do not affect encoding).
pub fn call_info(dest: CallDest) -> BoxCallInfo {
    Box::new(CallInfo {
        dest,
        uses: vec![],
        defs: vec![],
        clobbers: PRegSet::empty(),
    })
}

pub fn external(index: u32) -> ExternalName {
    ExternalName::new(1, index)
}

pub fn trap(code: u8) -> TrapCode {
    TrapCode::from_u8(code).expect("a non-zero trap code")
}

/// Builds an [`vi::Amode`] over physical registers.
pub fn amode_reg(
    base: Option<Gpr>,
    index: Option<(Gpr, cranelift_asm::x64::Scale)>,
    disp: i32,
) -> vi::Amode {
    cranelift_asm::x64::Amode::<Virtual>::Reg {
        base: base.map(g),
        index: index.map(|(i, s)| (g(i), s)),
        disp,
        trap: None,
    }
}

/// One operand of each kind, for building the generated [`forms`]. Every GPR
/// field gets one register (so a tied destination and its source agree),
/// likewise every XMM field.
pub struct Samples {
    pub size: OperandSize,
    pub float_size: cranelift_asm::x64::FloatSize,
    pub gpr: GprReg,
    pub writable_gpr: Writable<GprReg>,
    pub xmm: XmmReg,
    pub writable_xmm: Writable<XmmReg>,
    pub amode: vi::Amode,
    pub gpr_mem: vi::GprMem,
    pub gpr_mem_imm: vi::GprMemImm,
    pub gpr_imm: vi::GprImm,
    pub xmm_mem: vi::XmmMem,
    /// `xmm_mem`, its memory stated 16-byte aligned (for the forms that
    /// need it).
    pub aligned_xmm_mem: vi::XmmMem,
    pub shift_amount: ShiftAmount,
    pub trap: TrapCode,
}

impl Samples {
    /// A GPR operand the form fixes to `reg` (rax, rdx, rcx).
    pub fn fixed_gpr(&self, reg: Gpr) -> GprReg {
        g(reg)
    }

    /// An XMM operand the form fixes to `reg` (xmm0).
    pub fn fixed_xmm(&self, reg: Xmm) -> XmmReg {
        xr(reg)
    }

    /// A written GPR operand the form fixes to `reg`.
    pub fn fixed_writable_gpr(&self, reg: Gpr) -> Writable<GprReg> {
        gw(reg)
    }

    /// Samples over `gpr` and `xmm`, register operands where a form takes a
    /// register or memory when `memory` is false, `[base + disp]` otherwise.
    pub fn new(size: OperandSize, gpr: Gpr, xmm: Xmm, base: Gpr, memory: bool) -> Samples {
        let amode = amode_reg(Some(base), None, 0x44);
        Samples {
            size,
            float_size: match size {
                OperandSize::S64 => cranelift_asm::x64::FloatSize::F64,
                _ => cranelift_asm::x64::FloatSize::F32,
            },
            gpr: g(gpr),
            writable_gpr: gw(gpr),
            xmm: xr(xmm),
            writable_xmm: xwr(xmm),
            amode,
            gpr_mem: if memory {
                vi::GprMem::Mem(amode)
            } else {
                vi::GprMem::Gpr(g(gpr))
            },
            gpr_mem_imm: if memory {
                vi::GprMemImm::Mem(amode)
            } else {
                vi::GprMemImm::Imm(-3)
            },
            gpr_imm: if memory {
                vi::GprImm::Imm(100)
            } else {
                vi::GprImm::Gpr(g(gpr))
            },
            xmm_mem: if memory {
                vi::XmmMem::Mem(amode)
            } else {
                vi::XmmMem::Xmm(xr(xmm))
            },
            aligned_xmm_mem: if memory {
                vi::XmmMem::Aligned(amode)
            } else {
                vi::XmmMem::Xmm(xr(xmm))
            },
            shift_amount: if memory {
                ShiftAmount::Imm(5)
            } else {
                ShiftAmount::Cl(g(Gpr::RCX))
            },
            trap: trap(3),
        }
    }
}
