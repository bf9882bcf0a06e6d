//! Arbitrary post-allocation [`MInst`]s: physical registers, every tied
//! destination in its source's register, rax/rdx/rcx where the instruction
//! fixes them, sizes and immediates the form accepts, labels and the
//! constant from [`Targets`]. Whatever the bytes, the result is an
//! instruction the encoder must accept.

use super::{Targets, call_info, external, g, gw, trap, xr, xwr};
use arbitrary::{Result, Unstructured};
use cranelift_asm::x64::JumpTableTargets;
use cranelift_asm::x64::inst::{self as vi, CallDest, ShiftAmount};
use cranelift_asm::x64::{
    AluOp, AvxBlendvOp, AvxExtractOp, AvxImmOp, AvxInsertOp, AvxMoveMaskOp, AvxOp, AvxShiftImmOp,
    AvxStoreOp, AvxTestOp, AvxUnaryImmOp, AvxUnaryOp, BitOp, CC, ExtMode, FloatSize, Gpr, MInst,
    OperandSize, RoundMode, Scale, ShiftOp, SseBlendvOp, SseExtractOp, SseImmOp, SseInsertOp,
    SseMovOp, SseMoveMaskOp, SseOp, SseRegOp, SseShiftImmOp, SseTestOp, SseUnaryImmOp, SseUnaryOp,
    UnaryOp, Virtual, Xmm,
};

/// Displacements on the disp8/disp32 boundaries.
pub const DISPLACEMENTS: [i32; 9] = [0, 1, -1, 127, 128, -128, -129, i32::MAX, i32::MIN];

/// 32-bit immediates on the imm8/imm16/imm32 boundaries.
pub const IMMEDIATES: [i32; 16] = [
    0,
    1,
    -1,
    127,
    128,
    -128,
    -129,
    255,
    256,
    32767,
    32768,
    -32768,
    -32769,
    65535,
    i32::MAX,
    i32::MIN,
];

/// Whether the encoder takes `value` as an immediate of an operation
/// `size` wide (8 and 16 bits: signed or unsigned values that fit).
pub fn imm_fits(value: i32, size: OperandSize) -> bool {
    match size {
        OperandSize::S8 => (-128..=255).contains(&value),
        OperandSize::S16 => (-32768..=65535).contains(&value),
        _ => true,
    }
}

/// Whether `mov r, imm` of `size` takes `value` (unsigned, or a negative
/// number sign-extended from `size`).
pub fn mov_imm_fits(value: u64, size: OperandSize) -> bool {
    let bits = match size {
        OperandSize::S8 => 8,
        OperandSize::S16 => 16,
        OperandSize::S32 => 32,
        OperandSize::S64 => return true,
    };
    value < (1 << bits) || (value as i64) >= -(1i64 << (bits - 1)) && (value as i64) < 0
}

fn gpr(u: &mut Unstructured) -> Result<Gpr> {
    Ok(*u.choose(&Gpr::ALL)?)
}

fn gpr_not(u: &mut Unstructured, avoid: &[Gpr]) -> Result<Gpr> {
    let allowed: Vec<Gpr> = Gpr::ALL
        .into_iter()
        .filter(|r| !avoid.contains(r))
        .collect();
    Ok(*u.choose(&allowed)?)
}

fn xmm(u: &mut Unstructured) -> Result<Xmm> {
    Ok(*u.choose(&Xmm::ALL)?)
}

fn xmm_not(u: &mut Unstructured, avoid: &[Xmm]) -> Result<Xmm> {
    let allowed: Vec<Xmm> = Xmm::ALL
        .into_iter()
        .filter(|r| !avoid.contains(r))
        .collect();
    Ok(*u.choose(&allowed)?)
}

fn size(u: &mut Unstructured) -> Result<OperandSize> {
    Ok(*u.choose(&OperandSize::ALL)?)
}

/// 16, 32 or 64 bits.
fn wide_size(u: &mut Unstructured) -> Result<OperandSize> {
    Ok(*u.choose(&OperandSize::ALL[1..])?)
}

/// 32 or 64 bits.
fn int_size(u: &mut Unstructured) -> Result<OperandSize> {
    Ok(*u.choose(&OperandSize::ALL[2..])?)
}

fn float_size(u: &mut Unstructured) -> Result<FloatSize> {
    Ok(*u.choose(&FloatSize::ALL)?)
}

fn cc(u: &mut Unstructured) -> Result<CC> {
    Ok(*u.choose(&CC::ALL)?)
}

fn trap_code(u: &mut Unstructured) -> Result<cranelift_asm::TrapCode> {
    Ok(trap(u.int_in_range(1..=255)?))
}

/// Mostly boundary values, sometimes anything.
fn interesting_i32(u: &mut Unstructured, edges: &[i32]) -> Result<i32> {
    if u.ratio(3, 4)? {
        Ok(*u.choose(edges)?)
    } else {
        u.arbitrary()
    }
}

fn immediate(u: &mut Unstructured, size: OperandSize) -> Result<i32> {
    let value = interesting_i32(u, &IMMEDIATES)?;
    Ok(match size {
        OperandSize::S8 if !imm_fits(value, size) => value as i8 as i32,
        OperandSize::S16 if !imm_fits(value, size) => value as i16 as i32,
        _ => value,
    })
}

fn scale(u: &mut Unstructured) -> Result<Scale> {
    Ok(*u.choose(&[Scale::One, Scale::Two, Scale::Four, Scale::Eight])?)
}

/// Any address: base and/or index (never rsp as index), boundary
/// displacements, a label or the constant, sometimes with a trap code.
pub fn amode(u: &mut Unstructured, t: &Targets) -> Result<vi::Amode> {
    let amode = match u.int_in_range(0..=9)? {
        0..=6 => {
            let base = if u.ratio(7, 8)? {
                Some(g(gpr(u)?))
            } else {
                None
            };
            let index = if u.ratio(1, 2)? {
                Some((g(gpr_not(u, &[Gpr::RSP])?), scale(u)?))
            } else {
                None
            };
            vi::Amode::Reg {
                base,
                index,
                disp: interesting_i32(u, &DISPLACEMENTS)?,
                trap: None,
            }
        }
        7 | 8 => vi::Amode::Label {
            label: *u.choose(&t.labels())?,
            offset: u.int_in_range(-64..=64)?,
            trap: None,
        },
        _ => cranelift_asm::x64::Amode::<Virtual>::constant(t.constant)
            .offset(u.int_in_range(0..=8)?),
    };
    Ok(if u.ratio(1, 4)? {
        amode.with_trap(trap_code(u)?)
    } else {
        amode
    })
}

/// The same address with no trap code.
pub fn without_trap(mut amode: vi::Amode) -> vi::Amode {
    let (vi::Amode::Reg { trap, .. }
    | vi::Amode::Label { trap, .. }
    | vi::Amode::Constant { trap, .. }) = &mut amode;
    *trap = None;
    amode
}

fn gpr_mem(u: &mut Unstructured, t: &Targets) -> Result<vi::GprMem> {
    Ok(if u.ratio(1, 2)? {
        vi::GprMem::Gpr(g(gpr(u)?))
    } else {
        vi::GprMem::Mem(amode(u, t)?)
    })
}

/// A register or memory; memory stated aligned or not, but always stated
/// aligned for a form that needs it (`aligned`), which refuses the other.
fn xmm_mem(u: &mut Unstructured, t: &Targets, aligned: bool) -> Result<vi::XmmMem> {
    Ok(match u.int_in_range(0..=3)? {
        0 | 1 => vi::XmmMem::Xmm(xr(xmm(u)?)),
        2 if !aligned => vi::XmmMem::Mem(amode(u, t)?),
        _ => vi::XmmMem::Aligned(amode(u, t)?),
    })
}

fn gpr_mem_imm(u: &mut Unstructured, t: &Targets, size: OperandSize) -> Result<vi::GprMemImm> {
    Ok(match u.int_in_range(0..=2)? {
        0 => vi::GprMemImm::Gpr(g(gpr(u)?)),
        1 => vi::GprMemImm::Mem(amode(u, t)?),
        _ => vi::GprMemImm::Imm(immediate(u, size)?),
    })
}

fn gpr_imm(u: &mut Unstructured, size: OperandSize) -> Result<vi::GprImm> {
    Ok(if u.ratio(1, 2)? {
        vi::GprImm::Gpr(g(gpr(u)?))
    } else {
        vi::GprImm::Imm(immediate(u, size)?)
    })
}

fn shift_amount(u: &mut Unstructured) -> Result<ShiftAmount> {
    Ok(if u.ratio(1, 4)? {
        ShiftAmount::Cl(g(Gpr::RCX))
    } else {
        ShiftAmount::Imm(*u.choose(&[0, 1, 2, 7, 8, 15, 16, 31, 32, 63, 64, 255])?)
    })
}

fn mov_immediate(u: &mut Unstructured, size: OperandSize) -> Result<u64> {
    const EDGES: [u64; 17] = [
        0,
        1,
        0x7f,
        0x80,
        0xff,
        0x7fff,
        0xffff,
        0x7fff_ffff,
        0x8000_0000,
        0xffff_ffff,
        0x1_0000_0000,
        u64::MAX,
        -128i64 as u64,
        i32::MIN as i64 as u64,
        i32::MIN as i64 as u64 - 1,
        1 << 63,
        i64::MAX as u64,
    ];
    for _ in 0..8 {
        let value = if u.ratio(3, 4)? {
            *u.choose(&EDGES)?
        } else {
            u.arbitrary()?
        };
        if mov_imm_fits(value, size) {
            return Ok(value);
        }
    }
    Ok(0)
}

/// An arbitrary post-allocation instruction.
pub fn inst(u: &mut Unstructured, t: &Targets) -> Result<MInst> {
    let (rax, rdx) = (Gpr::RAX, Gpr::RDX);
    Ok(match u.int_in_range(0..=82)? {
        0 => {
            let (size, dst) = (size(u)?, gpr(u)?);
            MInst::AluRmi {
                op: *u.choose(&AluOp::ALL)?,
                size,
                src1: g(dst),
                src2: gpr_mem_imm(u, t, size)?,
                dst: gw(dst),
            }
        }
        1 => {
            let size = size(u)?;
            MInst::AluMem {
                op: *u.choose(&AluOp::ALL)?,
                size,
                dst: amode(u, t)?,
                src: gpr_imm(u, size)?,
            }
        }
        2 => {
            let size = size(u)?;
            MInst::Cmp {
                size,
                lhs: g(gpr(u)?),
                rhs: gpr_mem_imm(u, t, size)?,
            }
        }
        3 => {
            let size = size(u)?;
            MInst::CmpMem {
                size,
                lhs: amode(u, t)?,
                rhs: gpr_imm(u, size)?,
            }
        }
        4 => {
            let size = size(u)?;
            MInst::Test {
                size,
                lhs: gpr_mem(u, t)?,
                rhs: gpr_imm(u, size)?,
            }
        }
        5 => {
            let dst = gpr(u)?;
            MInst::Unary {
                op: *u.choose(&UnaryOp::ALL)?,
                size: size(u)?,
                src: g(dst),
                dst: gw(dst),
            }
        }
        6 => MInst::UnaryMem {
            op: *u.choose(&UnaryOp::ALL)?,
            size: size(u)?,
            dst: amode(u, t)?,
        },
        7 => {
            let dst = gpr(u)?;
            MInst::Shift {
                op: *u.choose(&ShiftOp::ALL)?,
                size: size(u)?,
                src: g(dst),
                amount: shift_amount(u)?,
                dst: gw(dst),
            }
        }
        8 => MInst::ShiftMem {
            op: *u.choose(&ShiftOp::ALL)?,
            size: size(u)?,
            dst: amode(u, t)?,
            amount: shift_amount(u)?,
        },
        9 => {
            let dst = gpr(u)?;
            MInst::IMul {
                size: wide_size(u)?,
                src1: g(dst),
                src2: gpr_mem(u, t)?,
                dst: gw(dst),
            }
        }
        10 => {
            let size = wide_size(u)?;
            MInst::IMulImm {
                size,
                src: gpr_mem(u, t)?,
                imm: immediate(u, size)?,
                dst: gw(gpr(u)?),
            }
        }
        11 => MInst::MulWide {
            signed: u.arbitrary()?,
            size: wide_size(u)?,
            src1: g(rax),
            src2: gpr_mem(u, t)?,
            dst_lo: gw(rax),
            dst_hi: gw(rdx),
        },
        12 => MInst::Div {
            signed: u.arbitrary()?,
            size: wide_size(u)?,
            dividend_lo: g(rax),
            dividend_hi: g(rdx),
            // The division's own trap code is recorded at its offset; a
            // second one from the operand would make the table ambiguous.
            divisor: match gpr_mem(u, t)? {
                vi::GprMem::Mem(amode) => vi::GprMem::Mem(without_trap(amode)),
                reg => reg,
            },
            dst_quotient: gw(rax),
            dst_remainder: gw(rdx),
            trap: trap_code(u)?,
        },
        13 => MInst::SignExtendRaxRdx {
            size: wide_size(u)?,
            src: g(rax),
            dst: gw(rdx),
        },
        14 => MInst::CheckedSRemSeq {
            size: wide_size(u)?,
            dividend_lo: g(rax),
            dividend_hi: g(rdx),
            divisor: g(gpr_not(u, &[rax, rdx])?),
            dst_quotient: gw(rax),
            dst_remainder: gw(rdx),
            trap: trap_code(u)?,
        },
        15 => MInst::BitCount {
            op: *u.choose(&BitOp::ALL)?,
            size: wide_size(u)?,
            src: gpr_mem(u, t)?,
            dst: gw(gpr(u)?),
        },
        16 => {
            let dst = gpr(u)?;
            MInst::Bswap {
                size: int_size(u)?,
                src: g(dst),
                dst: gw(dst),
            }
        }
        17 => MInst::MovRR {
            size: size(u)?,
            src: g(gpr(u)?),
            dst: gw(gpr(u)?),
        },
        18 => {
            let size = size(u)?;
            MInst::MovImm {
                size,
                imm: mov_immediate(u, size)?,
                dst: gw(gpr(u)?),
            }
        }
        19 => MInst::MovRM {
            size: size(u)?,
            src: amode(u, t)?,
            dst: gw(gpr(u)?),
        },
        20 => MInst::MovMR {
            size: size(u)?,
            src: g(gpr(u)?),
            dst: amode(u, t)?,
        },
        21 => {
            let size = size(u)?;
            MInst::MovMI {
                size,
                imm: immediate(u, size)?,
                dst: amode(u, t)?,
            }
        }
        22 => MInst::Movzx {
            mode: *u.choose(&ExtMode::ALL)?,
            src: gpr_mem(u, t)?,
            dst: gw(gpr(u)?),
        },
        23 => MInst::Movsx {
            mode: *u.choose(&ExtMode::ALL)?,
            src: gpr_mem(u, t)?,
            dst: gw(gpr(u)?),
        },
        24 => {
            // lea reads no memory: no trap code on its address.
            MInst::Lea {
                size: wide_size(u)?,
                addr: without_trap(amode(u, t)?),
                dst: gw(gpr(u)?),
            }
        }
        25 => MInst::Setcc {
            cc: cc(u)?,
            dst: gw(gpr(u)?),
        },
        26 => {
            let dst = gpr(u)?;
            MInst::Cmov {
                cc: cc(u)?,
                size: wide_size(u)?,
                consequent: gpr_mem(u, t)?,
                alternative: g(dst),
                dst: gw(dst),
            }
        }
        27 => MInst::Push {
            src: gpr_mem_imm(u, t, OperandSize::S64)?,
        },
        28 => MInst::Pop { dst: gw(gpr(u)?) },
        29 => MInst::Jmp {
            target: *u.choose(&t.labels())?,
        },
        30 => MInst::JmpIf {
            cc: cc(u)?,
            taken: *u.choose(&t.labels())?,
        },
        31 => MInst::JmpCond {
            cc: cc(u)?,
            taken: *u.choose(&t.labels())?,
            not_taken: *u.choose(&t.labels())?,
        },
        32 => MInst::JmpIndirect {
            target: gpr_mem(u, t)?,
        },
        33 => {
            let index = gpr(u)?;
            // Temporaries come from the allocator, which never hands out
            // rsp (and tmp2 is an index register in the sequence).
            let tmp1 = gpr_not(u, &[Gpr::RSP])?;
            let tmp2 = gpr_not(u, &[tmp1, Gpr::RSP])?;
            let len = u.int_in_range(0..=6)?;
            let mut targets = Vec::with_capacity(len);
            for _ in 0..len {
                targets.push(*u.choose(&t.labels())?);
            }
            MInst::JmpTableSeq {
                index: g(index),
                tmp1: gw(tmp1),
                tmp2: gw(tmp2),
                table: Box::new(JumpTableTargets {
                    default: *u.choose(&t.labels())?,
                    targets,
                }),
            }
        }
        34 => MInst::TrapIf {
            cc: cc(u)?,
            trap: trap_code(u)?,
        },
        35 => MInst::Call {
            info: call_info(if u.arbitrary()? {
                CallDest::Label(*u.choose(&t.labels())?)
            } else {
                CallDest::External(external(u.arbitrary()?))
            }),
        },
        36 => MInst::CallIndirect {
            target: gpr_mem(u, t)?,
            info: call_info(CallDest::External(external(0))),
        },
        37 => MInst::Ret {
            stack_bytes_to_pop: if u.arbitrary()? { 0 } else { u.arbitrary()? },
        },
        38 => MInst::Ud2 {
            trap: trap_code(u)?,
        },
        39 => MInst::Int3,
        40 => MInst::Nop {
            len: u.int_in_range(0..=40)?,
        },
        41 => {
            let src = gpr(u)?;
            MInst::Xchg {
                size: size(u)?,
                mem: amode(u, t)?,
                src: g(src),
                dst: gw(src),
            }
        }
        42 => MInst::LockCmpxchg {
            size: size(u)?,
            mem: amode(u, t)?,
            expected: g(rax),
            replacement: g(gpr(u)?),
            dst_old: gw(rax),
        },
        43 => {
            let src = gpr(u)?;
            MInst::LockXadd {
                size: size(u)?,
                mem: amode(u, t)?,
                src: g(src),
                dst: gw(src),
            }
        }
        44 => MInst::Mfence,
        45 => MInst::XmmLoad {
            op: *u.choose(&SseMovOp::ALL)?,
            src: amode(u, t)?,
            dst: xwr(xmm(u)?),
        },
        46 => MInst::XmmStore {
            op: *u.choose(&SseMovOp::ALL)?,
            src: xr(xmm(u)?),
            dst: amode(u, t)?,
        },
        47 => MInst::XmmMovRR {
            src: xr(xmm(u)?),
            dst: xwr(xmm(u)?),
        },
        48 => {
            let dst = xmm(u)?;
            let op = *u.choose(&SseOp::ALL)?;
            MInst::XmmRmR {
                op,
                src1: xr(dst),
                src2: xmm_mem(u, t, op.aligned_memory())?,
                dst: xwr(dst),
            }
        }
        49 => {
            let dst = xmm(u)?;
            MInst::XmmRound {
                size: float_size(u)?,
                mode: *u.choose(&RoundMode::ALL)?,
                src1: xr(dst),
                src2: xmm_mem(u, t, false)?,
                dst: xwr(dst),
            }
        }
        50 => MInst::XmmCmp {
            size: float_size(u)?,
            lhs: xr(xmm(u)?),
            rhs: xmm_mem(u, t, false)?,
        },
        51 => MInst::GprToXmm {
            size: int_size(u)?,
            src: gpr_mem(u, t)?,
            dst: xwr(xmm(u)?),
        },
        52 => MInst::XmmToGpr {
            size: int_size(u)?,
            src: xr(xmm(u)?),
            dst: gw(gpr(u)?),
        },
        53 => {
            let dst = xmm(u)?;
            MInst::CvtIntToFloat {
                float_size: float_size(u)?,
                int_size: int_size(u)?,
                src1: xr(dst),
                src2: gpr_mem(u, t)?,
                dst: xwr(dst),
            }
        }
        54 => MInst::CvtFloatToInt {
            float_size: float_size(u)?,
            int_size: int_size(u)?,
            src: xmm_mem(u, t, false)?,
            dst: gw(gpr(u)?),
        },
        55 => {
            let src = xmm(u)?;
            MInst::CvtFloatToSintSeq {
                float_size: float_size(u)?,
                int_size: int_size(u)?,
                saturating: u.arbitrary()?,
                src: xr(src),
                dst: gw(gpr(u)?),
                tmp_xmm: xwr(xmm_not(u, &[src])?),
                trap_nan: trap_code(u)?,
                trap_overflow: trap_code(u)?,
            }
        }
        56 => {
            let src = xmm(u)?;
            let dst = gpr(u)?;
            let tmp_xmm = xmm_not(u, &[src])?;
            MInst::CvtFloatToUintSeq {
                float_size: float_size(u)?,
                int_size: int_size(u)?,
                saturating: u.arbitrary()?,
                src: xr(src),
                dst: gw(dst),
                tmp_gpr: gw(gpr_not(u, &[dst])?),
                tmp_xmm: xwr(tmp_xmm),
                tmp_xmm2: xwr(xmm_not(u, &[src, tmp_xmm])?),
                trap_nan: trap_code(u)?,
                trap_overflow: trap_code(u)?,
            }
        }
        57 => {
            let src = gpr(u)?;
            let tmp1 = gpr_not(u, &[src])?;
            MInst::CvtUint64ToFloatSeq {
                float_size: float_size(u)?,
                src: g(src),
                dst: xwr(xmm(u)?),
                tmp1: gw(tmp1),
                tmp2: gw(gpr_not(u, &[src, tmp1])?),
            }
        }
        58 => {
            let dst = xmm(u)?;
            MInst::XmmMinMaxSeq {
                size: float_size(u)?,
                is_min: u.arbitrary()?,
                lhs: xr(xmm(u)?),
                rhs: xr(dst),
                dst: xwr(dst),
            }
        }
        59 => {
            let op = *u.choose(&SseUnaryOp::ALL)?;
            MInst::XmmUnaryRmR {
                op,
                src: xmm_mem(u, t, op.aligned_memory())?,
                dst: xwr(xmm(u)?),
            }
        }
        60 => {
            let dst = xmm(u)?;
            let op = *u.choose(&SseImmOp::ALL)?;
            MInst::XmmRmRImm {
                op,
                imm: u.arbitrary()?,
                src1: xr(dst),
                src2: xmm_mem(u, t, op.aligned_memory())?,
                dst: xwr(dst),
            }
        }
        61 => {
            let op = *u.choose(&SseUnaryImmOp::ALL)?;
            MInst::XmmUnaryRmRImm {
                op,
                imm: u.arbitrary()?,
                src: xmm_mem(u, t, op.aligned_memory())?,
                dst: xwr(xmm(u)?),
            }
        }
        62 => {
            let dst = xmm(u)?;
            MInst::XmmShiftImm {
                op: *u.choose(&SseShiftImmOp::ALL)?,
                imm: u.arbitrary()?,
                src: xr(dst),
                dst: xwr(dst),
            }
        }
        63 => {
            let dst = xmm(u)?;
            MInst::XmmInsert {
                op: *u.choose(&SseInsertOp::ALL)?,
                lane: u.arbitrary()?,
                src1: xr(dst),
                src2: gpr_mem(u, t)?,
                dst: xwr(dst),
            }
        }
        64 => MInst::XmmExtract {
            op: *u.choose(&SseExtractOp::ALL)?,
            lane: u.arbitrary()?,
            src: xr(xmm(u)?),
            dst: gw(gpr(u)?),
        },
        65 => MInst::XmmExtractMem {
            op: *u.choose(&SseExtractOp::ALL)?,
            lane: u.arbitrary()?,
            src: xr(xmm(u)?),
            dst: amode(u, t)?,
        },
        66 => MInst::XmmMoveMask {
            op: *u.choose(&SseMoveMaskOp::ALL)?,
            src: xr(xmm(u)?),
            dst: gw(gpr(u)?),
        },
        67 => {
            let op = *u.choose(&SseTestOp::ALL)?;
            MInst::XmmTest {
                op,
                lhs: xr(xmm(u)?),
                rhs: xmm_mem(u, t, op.aligned_memory())?,
            }
        }
        68 => {
            let dst = xmm(u)?;
            let op = *u.choose(&SseBlendvOp::ALL)?;
            MInst::XmmBlendv {
                op,
                mask: xr(Xmm::XMM0),
                src1: xr(dst),
                src2: xmm_mem(u, t, op.aligned_memory())?,
                dst: xwr(dst),
            }
        }
        69 => MInst::XmmRmRVex {
            op: *u.choose(&AvxOp::ALL)?,
            src1: xr(xmm(u)?),
            src2: xmm_mem(u, t, false)?,
            dst: xwr(xmm(u)?),
        },
        70 => {
            let dst = xmm(u)?;
            MInst::XmmRR {
                op: *u.choose(&SseRegOp::ALL)?,
                src1: xr(dst),
                src2: xr(xmm(u)?),
                dst: xwr(dst),
            }
        }
        71 => MInst::XmmUnaryRmRVex {
            op: *u.choose(&AvxUnaryOp::ALL)?,
            src: xmm_mem(u, t, false)?,
            dst: xwr(xmm(u)?),
        },
        72 => MInst::XmmRmRImmVex {
            op: *u.choose(&AvxImmOp::ALL)?,
            imm: u.arbitrary()?,
            src1: xr(xmm(u)?),
            src2: xmm_mem(u, t, false)?,
            dst: xwr(xmm(u)?),
        },
        73 => MInst::XmmUnaryRmRImmVex {
            op: *u.choose(&AvxUnaryImmOp::ALL)?,
            imm: u.arbitrary()?,
            src: xmm_mem(u, t, false)?,
            dst: xwr(xmm(u)?),
        },
        74 => MInst::XmmShiftImmVex {
            op: *u.choose(&AvxShiftImmOp::ALL)?,
            imm: u.arbitrary()?,
            src: xr(xmm(u)?),
            dst: xwr(xmm(u)?),
        },
        75 => MInst::XmmInsertVex {
            op: *u.choose(&AvxInsertOp::ALL)?,
            lane: u.arbitrary()?,
            src1: xr(xmm(u)?),
            src2: gpr_mem(u, t)?,
            dst: xwr(xmm(u)?),
        },
        76 => MInst::XmmExtractVex {
            op: *u.choose(&AvxExtractOp::ALL)?,
            lane: u.arbitrary()?,
            src: xr(xmm(u)?),
            dst: gw(gpr(u)?),
        },
        77 => MInst::XmmExtractMemVex {
            op: *u.choose(&AvxExtractOp::ALL)?,
            lane: u.arbitrary()?,
            src: xr(xmm(u)?),
            dst: amode(u, t)?,
        },
        78 => MInst::XmmMoveMaskVex {
            op: *u.choose(&AvxMoveMaskOp::ALL)?,
            src: xr(xmm(u)?),
            dst: gw(gpr(u)?),
        },
        79 => MInst::XmmBlendvVex {
            op: *u.choose(&AvxBlendvOp::ALL)?,
            src1: xr(xmm(u)?),
            src2: xmm_mem(u, t, false)?,
            mask: xr(xmm(u)?),
            dst: xwr(xmm(u)?),
        },
        80 => MInst::XmmTestVex {
            op: *u.choose(&AvxTestOp::ALL)?,
            lhs: xr(xmm(u)?),
            rhs: xmm_mem(u, t, false)?,
        },
        81 => MInst::XmmStoreVex {
            op: *u.choose(&AvxStoreOp::ALL)?,
            src: xr(xmm(u)?),
            dst: amode(u, t)?,
        },
        _ => {
            // Sequences are rarer in the choice above; give the plain
            // register moves an extra share.
            MInst::MovRR {
                size: size(u)?,
                src: g(gpr(u)?),
                dst: gw(gpr(u)?),
            }
        }
    })
}
