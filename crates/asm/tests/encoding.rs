//! Table-driven encoding test: every `MInst` variant, with every operation
//! and valid size, each operand slot run over its edge cases while the
//! others hold a default, is emitted and decoded by iced-x86, and must
//! decode to what `common::expected` (written from the Intel manual) says.
//!
//! Edge cases: rsp/rbp/r12/r13 as base, no base, every scale, displacements
//! on the disp8/disp32 boundaries, imm8/imm16/imm32 boundaries, r8-r15 and
//! xmm8-xmm15, spl/bpl/sil/dil, every label distance (rel8 and rel32
//! branches), RIP-relative labels and constants, trap codes on addresses.
//! Combinations: every base with every index and scale for one load; all
//! 16x16 register pairs for one ALU form at every size and one SSE form.
//!
//! Also here: a check that the table covers every variant declared in
//! `isle/asm/x64/inst.isle`, the assembler's refusals (each an `AsmError`
//! from `finish`, with no bytes emitted), and the direct-API forms that have
//! no `MInst` of their own.

mod common;

use common::generate::{DISPLACEMENTS, IMMEDIATES, imm_fits, mov_imm_fits};
use common::{Targets, amode_reg, call_info, external, g, gw, trap, xr, xwr};
use cranelift_asm::metadata::{RelocKind, TrapCode};
use cranelift_asm::x64::inst::{self as vi, CallDest, ShiftAmount};
use cranelift_asm::x64::{
    AluOp, Amode, AsmError, Assembler, AvxBlendvOp, AvxExtractOp, AvxImmOp, AvxInsertOp,
    AvxMoveMaskOp, AvxOp, AvxShiftImmOp, AvxStoreOp, AvxTestOp, AvxUnaryImmOp, AvxUnaryOp, BitOp,
    CC, CpuFeatures, ExtMode, FloatSize, Gpr, GprMem, JumpTableTargets, MInst, OperandSize,
    RoundMode, Scale, ShiftOp, SseBlendvOp, SseExtractOp, SseImmOp, SseInsertOp, SseMovOp,
    SseMoveMaskOp, SseOp, SseRegOp, SseShiftImmOp, SseTestOp, SseUnaryImmOp, SseUnaryOp, UnaryOp,
    Virtual, Xmm, XmmMem,
};
use iced_x86::Mnemonic;
use std::collections::BTreeSet;

/// 8-bit immediates on their boundaries (and the sign bit).
const IMM8S: [u8; 5] = [0, 1, 0x7f, 0x80, 0xff];
const SCALES: [Scale; 4] = [Scale::One, Scale::Two, Scale::Four, Scale::Eight];
const WIDE: [OperandSize; 3] = [OperandSize::S16, OperandSize::S32, OperandSize::S64];
const INT: [OperandSize; 2] = [OperandSize::S32, OperandSize::S64];
/// Registers whose encodings are special somewhere: rsp/rbp/r12/r13 in
/// addresses, spl/bpl/sil/dil at 8 bits, r8-r15 needing REX.
const SPECIAL_GPRS: [Gpr; 9] = [
    Gpr::RAX,
    Gpr::RSP,
    Gpr::RBP,
    Gpr::RSI,
    Gpr::RDI,
    Gpr::R8,
    Gpr::R12,
    Gpr::R13,
    Gpr::R15,
];

/// Addresses over the edge cases of each of their parts.
fn amodes(t: &Targets) -> Vec<vi::Amode> {
    let mut all = Vec::new();
    for base in [Gpr::RAX, Gpr::RSP, Gpr::RBP, Gpr::R12, Gpr::R13, Gpr::R15] {
        for disp in DISPLACEMENTS {
            all.push(amode_reg(Some(base), None, disp));
        }
    }
    for index in [Gpr::RAX, Gpr::RBP, Gpr::R12, Gpr::R13, Gpr::R15] {
        for scale in SCALES {
            for disp in [0, 1, -1, i32::MIN] {
                all.push(amode_reg(None, Some((index, scale)), disp));
            }
        }
    }
    for (base, index) in [
        (Gpr::RSP, Gpr::RBP),
        (Gpr::R13, Gpr::R12),
        (Gpr::RBP, Gpr::R13),
    ] {
        for scale in SCALES {
            for disp in [0, -128, 128] {
                all.push(amode_reg(Some(base), Some((index, scale)), disp));
            }
        }
    }
    for disp in DISPLACEMENTS {
        all.push(amode_reg(None, None, disp));
    }
    for label in t.labels() {
        for offset in [0, 7, -9] {
            all.push(vi::Amode::Label {
                label,
                offset,
                trap: None,
            });
        }
    }
    all.push(Amode::<Virtual>::constant(t.constant));
    all.push(Amode::<Virtual>::constant(t.constant).offset(8));
    all.push(amode_reg(Some(Gpr::R12), None, 16).with_trap(trap(7)));
    all.push(Amode::<Virtual>::label(t.far).with_trap(trap(8)));
    all.push(Amode::<Virtual>::constant(t.constant).with_trap(trap(9)));
    all
}

fn gpr_mems(t: &Targets) -> Vec<vi::GprMem> {
    let mut all: Vec<vi::GprMem> = Gpr::ALL.iter().map(|&r| vi::GprMem::Gpr(g(r))).collect();
    all.extend(amodes(t).into_iter().map(vi::GprMem::Mem));
    all
}

/// Every XMM register and address; the addresses stated 16-byte aligned
/// when `aligned` (what a form that needs it takes).
fn xmm_mems(t: &Targets, aligned: bool) -> Vec<vi::XmmMem> {
    let mut all: Vec<vi::XmmMem> = Xmm::ALL.iter().map(|&r| vi::XmmMem::Xmm(xr(r))).collect();
    let memory = if aligned {
        vi::XmmMem::Aligned
    } else {
        vi::XmmMem::Mem
    };
    all.extend(amodes(t).into_iter().map(memory));
    all
}

fn immediates(size: OperandSize) -> impl Iterator<Item = i32> {
    IMMEDIATES.into_iter().filter(move |&v| imm_fits(v, size))
}

fn gpr_mem_imms(t: &Targets, size: OperandSize) -> Vec<vi::GprMemImm> {
    let mut all: Vec<vi::GprMemImm> = Gpr::ALL.iter().map(|&r| vi::GprMemImm::Gpr(g(r))).collect();
    all.extend(amodes(t).into_iter().map(vi::GprMemImm::Mem));
    all.extend(immediates(size).map(vi::GprMemImm::Imm));
    all
}

fn gpr_imms(size: OperandSize) -> Vec<vi::GprImm> {
    let mut all: Vec<vi::GprImm> = Gpr::ALL.iter().map(|&r| vi::GprImm::Gpr(g(r))).collect();
    all.extend(immediates(size).map(vi::GprImm::Imm));
    all
}

fn shift_amounts() -> Vec<ShiftAmount> {
    let mut all: Vec<ShiftAmount> = [0u8, 1, 2, 7, 8, 31, 32, 63, 64, 255]
        .into_iter()
        .map(ShiftAmount::Imm)
        .collect();
    all.push(ShiftAmount::Cl(g(Gpr::RCX)));
    all
}

const MOV_IMMEDIATES: [u64; 17] = [
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

/// Every instruction the table checks, with the padding before it (which
/// sets the distance of backward branches).
fn table(t: &Targets) -> Vec<(MInst, usize)> {
    let mut all: Vec<MInst> = Vec::new();
    let mut far_back: Vec<MInst> = Vec::new();
    let amodes = amodes(t);
    let gpr_mems = gpr_mems(t);
    let aligned_xmm_mems = xmm_mems(t, true);
    let xmm_mems = xmm_mems(t, false);
    let xmm_mems_of = |aligned: bool| {
        if aligned {
            &aligned_xmm_mems
        } else {
            &xmm_mems
        }
    };
    let (rax, rcx, rdx) = (Gpr::RAX, Gpr::RCX, Gpr::RDX);
    let (d, d2) = (Gpr::RBX, Gpr::R9);
    let default_amode = amode_reg(Some(Gpr::RSI), None, 8);
    let default_gm = vi::GprMem::Gpr(g(Gpr::R10));
    let (xd, xs) = (Xmm::XMM3, Xmm::XMM12);
    let default_xm = vi::XmmMem::Xmm(xr(xs));

    // --- ALU ---
    for op in AluOp::ALL {
        for size in OperandSize::ALL {
            let alu = |dst: Gpr, src2: vi::GprMemImm| MInst::AluRmi {
                op,
                size,
                src1: g(dst),
                src2,
                dst: gw(dst),
            };
            for dst in Gpr::ALL {
                all.push(alu(dst, vi::GprMemImm::Gpr(g(d2))));
            }
            for src2 in gpr_mem_imms(t, size) {
                all.push(alu(d, src2));
            }
            for dst in amodes.iter() {
                all.push(MInst::AluMem {
                    op,
                    size,
                    dst: *dst,
                    src: vi::GprImm::Gpr(g(d)),
                });
            }
            for src in gpr_imms(size) {
                all.push(MInst::AluMem {
                    op,
                    size,
                    dst: default_amode,
                    src,
                });
            }
        }
    }
    // All 16x16 register pairs, at every size (REX.R/B, spl..dil).
    for size in OperandSize::ALL {
        for dst in Gpr::ALL {
            for src in Gpr::ALL {
                all.push(MInst::AluRmi {
                    op: AluOp::Add,
                    size,
                    src1: g(dst),
                    src2: vi::GprMemImm::Gpr(g(src)),
                    dst: gw(dst),
                });
            }
        }
    }
    for size in OperandSize::ALL {
        for lhs in Gpr::ALL {
            all.push(MInst::Cmp {
                size,
                lhs: g(lhs),
                rhs: vi::GprMemImm::Imm(1),
            });
        }
        for rhs in gpr_mem_imms(t, size) {
            all.push(MInst::Cmp {
                size,
                lhs: g(d),
                rhs,
            });
        }
        for lhs in amodes.iter() {
            all.push(MInst::CmpMem {
                size,
                lhs: *lhs,
                rhs: vi::GprImm::Imm(-1),
            });
        }
        for rhs in gpr_imms(size) {
            all.push(MInst::CmpMem {
                size,
                lhs: default_amode,
                rhs,
            });
        }
        for lhs in gpr_mems.iter() {
            all.push(MInst::Test {
                size,
                lhs: *lhs,
                rhs: vi::GprImm::Gpr(g(d)),
            });
        }
        for rhs in gpr_imms(size) {
            all.push(MInst::Test {
                size,
                lhs: default_gm,
                rhs,
            });
        }
        for op in UnaryOp::ALL {
            for dst in Gpr::ALL {
                all.push(MInst::Unary {
                    op,
                    size,
                    src: g(dst),
                    dst: gw(dst),
                });
            }
            for dst in amodes.iter() {
                all.push(MInst::UnaryMem {
                    op,
                    size,
                    dst: *dst,
                });
            }
        }
        // --- Shifts ---
        for op in ShiftOp::ALL {
            for dst in Gpr::ALL {
                all.push(MInst::Shift {
                    op,
                    size,
                    src: g(dst),
                    amount: ShiftAmount::Imm(3),
                    dst: gw(dst),
                });
            }
            for amount in shift_amounts() {
                all.push(MInst::Shift {
                    op,
                    size,
                    src: g(d),
                    amount,
                    dst: gw(d),
                });
                all.push(MInst::ShiftMem {
                    op,
                    size,
                    dst: default_amode,
                    amount,
                });
            }
            for dst in amodes.iter() {
                all.push(MInst::ShiftMem {
                    op,
                    size,
                    dst: *dst,
                    amount: ShiftAmount::Cl(g(rcx)),
                });
            }
        }
        // --- Moves ---
        for dst in Gpr::ALL {
            all.push(MInst::MovRR {
                size,
                src: g(d2),
                dst: gw(dst),
            });
            all.push(MInst::MovRR {
                size,
                src: g(dst),
                dst: gw(d),
            });
            all.push(MInst::MovImm {
                size,
                imm: 0x7f,
                dst: gw(dst),
            });
            all.push(MInst::MovRM {
                size,
                src: default_amode,
                dst: gw(dst),
            });
            all.push(MInst::MovMR {
                size,
                src: g(dst),
                dst: default_amode,
            });
            all.push(MInst::Setcc {
                cc: CC::Z,
                dst: gw(dst),
            });
        }
        for imm in MOV_IMMEDIATES
            .into_iter()
            .filter(|&v| mov_imm_fits(v, size))
        {
            all.push(MInst::MovImm {
                size,
                imm,
                dst: gw(Gpr::R11),
            });
        }
        for m in amodes.iter() {
            all.push(MInst::MovRM {
                size,
                src: *m,
                dst: gw(d),
            });
            all.push(MInst::MovMR {
                size,
                src: g(Gpr::RSI),
                dst: *m,
            });
            all.push(MInst::MovMI {
                size,
                imm: -2,
                dst: *m,
            });
            all.push(MInst::Xchg {
                size,
                mem: *m,
                src: g(d),
                dst: gw(d),
            });
            all.push(MInst::LockCmpxchg {
                size,
                mem: *m,
                expected: g(rax),
                replacement: g(d),
                dst_old: gw(rax),
            });
            all.push(MInst::LockXadd {
                size,
                mem: *m,
                src: g(d),
                dst: gw(d),
            });
        }
        for imm in immediates(size) {
            all.push(MInst::MovMI {
                size,
                imm,
                dst: default_amode,
            });
        }
        for reg in Gpr::ALL {
            all.push(MInst::Xchg {
                size,
                mem: default_amode,
                src: g(reg),
                dst: gw(reg),
            });
            all.push(MInst::LockCmpxchg {
                size,
                mem: default_amode,
                expected: g(rax),
                replacement: g(reg),
                dst_old: gw(rax),
            });
            all.push(MInst::LockXadd {
                size,
                mem: default_amode,
                src: g(reg),
                dst: gw(reg),
            });
        }
    }
    // Every base with every index and scale.
    for base in Gpr::ALL {
        for index in Gpr::ALL.into_iter().filter(|&r| r != Gpr::RSP) {
            for scale in SCALES {
                all.push(MInst::MovRM {
                    size: OperandSize::S64,
                    src: amode_reg(Some(base), Some((index, scale)), 0),
                    dst: gw(d),
                });
            }
        }
    }

    // --- 16/32/64-bit-only forms ---
    for size in WIDE {
        for dst in Gpr::ALL {
            all.push(MInst::IMul {
                size,
                src1: g(dst),
                src2: default_gm,
                dst: gw(dst),
            });
            all.push(MInst::IMulImm {
                size,
                src: default_gm,
                imm: 3,
                dst: gw(dst),
            });
            all.push(MInst::Lea {
                size,
                addr: default_amode,
                dst: gw(dst),
            });
        }
        for src in gpr_mems.iter() {
            all.push(MInst::IMul {
                size,
                src1: g(d),
                src2: *src,
                dst: gw(d),
            });
            all.push(MInst::IMulImm {
                size,
                src: *src,
                imm: -100,
                dst: gw(d),
            });
            for signed in [false, true] {
                all.push(MInst::MulWide {
                    signed,
                    size,
                    src1: g(rax),
                    src2: *src,
                    dst_lo: gw(rax),
                    dst_hi: gw(rdx),
                });
                let divisor = match *src {
                    vi::GprMem::Mem(m) => vi::GprMem::Mem(common::generate::without_trap(m)),
                    reg => reg,
                };
                all.push(MInst::Div {
                    signed,
                    size,
                    dividend_lo: g(rax),
                    dividend_hi: g(rdx),
                    divisor,
                    dst_quotient: gw(rax),
                    dst_remainder: gw(rdx),
                    trap: trap(3),
                });
            }
            for op in BitOp::ALL {
                all.push(MInst::BitCount {
                    op,
                    size,
                    src: *src,
                    dst: gw(d),
                });
            }
            for cc in [CC::O, CC::G] {
                all.push(MInst::Cmov {
                    cc,
                    size,
                    consequent: *src,
                    alternative: g(d),
                    dst: gw(d),
                });
            }
        }
        for imm in IMMEDIATES.into_iter().filter(|&v| imm_fits(v, size)) {
            all.push(MInst::IMulImm {
                size,
                src: default_gm,
                imm,
                dst: gw(d),
            });
        }
        for addr in amodes.iter() {
            all.push(MInst::Lea {
                size,
                addr: common::generate::without_trap(*addr),
                dst: gw(d),
            });
        }
        for op in BitOp::ALL {
            for dst in Gpr::ALL {
                all.push(MInst::BitCount {
                    op,
                    size,
                    src: default_gm,
                    dst: gw(dst),
                });
            }
        }
        for cc in CC::ALL {
            for dst in Gpr::ALL {
                all.push(MInst::Cmov {
                    cc,
                    size,
                    consequent: default_gm,
                    alternative: g(dst),
                    dst: gw(dst),
                });
            }
        }
        all.push(MInst::SignExtendRaxRdx {
            size,
            src: g(rax),
            dst: gw(rdx),
        });
        for divisor in SPECIAL_GPRS.into_iter().filter(|&r| r != rax) {
            all.push(MInst::CheckedSRemSeq {
                size,
                dividend_lo: g(rax),
                dividend_hi: g(rdx),
                divisor: g(divisor),
                dst_quotient: gw(rax),
                dst_remainder: gw(rdx),
                trap: trap(4),
            });
        }
    }
    for size in INT {
        for dst in Gpr::ALL {
            all.push(MInst::Bswap {
                size,
                src: g(dst),
                dst: gw(dst),
            });
            all.push(MInst::XmmToGpr {
                size,
                src: xr(xs),
                dst: gw(dst),
            });
        }
        for src in Xmm::ALL {
            all.push(MInst::XmmToGpr {
                size,
                src: xr(src),
                dst: gw(d),
            });
            all.push(MInst::GprToXmm {
                size,
                src: default_gm,
                dst: xwr(src),
            });
        }
        for src in gpr_mems.iter() {
            all.push(MInst::GprToXmm {
                size,
                src: *src,
                dst: xwr(xd),
            });
        }
        for float_size in FloatSize::ALL {
            for src2 in gpr_mems.iter() {
                all.push(MInst::CvtIntToFloat {
                    float_size,
                    int_size: size,
                    src1: xr(xd),
                    src2: *src2,
                    dst: xwr(xd),
                });
            }
            for src in xmm_mems.iter() {
                all.push(MInst::CvtFloatToInt {
                    float_size,
                    int_size: size,
                    src: *src,
                    dst: gw(d),
                });
            }
            for reg in 0..16 {
                all.push(MInst::CvtIntToFloat {
                    float_size,
                    int_size: size,
                    src1: xr(Xmm::ALL[reg]),
                    src2: default_gm,
                    dst: xwr(Xmm::ALL[reg]),
                });
                all.push(MInst::CvtFloatToInt {
                    float_size,
                    int_size: size,
                    src: default_xm,
                    dst: gw(Gpr::ALL[reg]),
                });
            }
            for saturating in [false, true] {
                for (src, dst, tmp) in [
                    (Xmm::XMM0, Gpr::RAX, Xmm::XMM1),
                    (Xmm::XMM15, Gpr::R15, Xmm::XMM8),
                    (Xmm::XMM9, Gpr::RSI, Xmm::XMM2),
                ] {
                    all.push(MInst::CvtFloatToSintSeq {
                        float_size,
                        int_size: size,
                        saturating,
                        src: xr(src),
                        dst: gw(dst),
                        tmp_xmm: xwr(tmp),
                        trap_nan: trap(10),
                        trap_overflow: trap(11),
                    });
                    all.push(MInst::CvtFloatToUintSeq {
                        float_size,
                        int_size: size,
                        saturating,
                        src: xr(src),
                        dst: gw(dst),
                        tmp_gpr: gw(Gpr::R11),
                        tmp_xmm: xwr(tmp),
                        tmp_xmm2: xwr(Xmm::XMM14),
                        trap_nan: trap(10),
                        trap_overflow: trap(11),
                    });
                }
            }
        }
    }

    // --- Extensions ---
    for mode in ExtMode::ALL {
        for src in gpr_mems.iter() {
            all.push(MInst::Movzx {
                mode,
                src: *src,
                dst: gw(d),
            });
            all.push(MInst::Movsx {
                mode,
                src: *src,
                dst: gw(d),
            });
        }
        for dst in Gpr::ALL {
            all.push(MInst::Movzx {
                mode,
                src: vi::GprMem::Gpr(g(Gpr::RSI)),
                dst: gw(dst),
            });
            all.push(MInst::Movsx {
                mode,
                src: vi::GprMem::Gpr(g(Gpr::RDI)),
                dst: gw(dst),
            });
        }
    }
    for cc in CC::ALL {
        all.push(MInst::Setcc {
            cc,
            dst: gw(Gpr::RSI),
        });
    }

    // --- Stack ---
    for src in gpr_mem_imms(t, OperandSize::S64) {
        all.push(MInst::Push { src });
    }
    for dst in Gpr::ALL {
        all.push(MInst::Pop { dst: gw(dst) });
    }

    // --- Control flow (branches to every label distance) ---
    let labels = t.labels();
    for label in labels {
        all.push(MInst::Jmp { target: label });
        far_back.push(MInst::Jmp { target: label });
        all.push(MInst::Call {
            info: call_info(CallDest::Label(label)),
        });
        for cc in CC::ALL {
            all.push(MInst::JmpIf { cc, taken: label });
            far_back.push(MInst::JmpIf { cc, taken: label });
            for not_taken in labels {
                all.push(MInst::JmpCond {
                    cc,
                    taken: label,
                    not_taken,
                });
            }
        }
    }
    for cc in CC::ALL {
        all.push(MInst::TrapIf { cc, trap: trap(12) });
    }
    for target in gpr_mems.iter() {
        all.push(MInst::JmpIndirect { target: *target });
        all.push(MInst::CallIndirect {
            target: *target,
            info: call_info(CallDest::External(external(0))),
        });
    }
    for index in [0, 1, 0xffff_fffe] {
        all.push(MInst::Call {
            info: call_info(CallDest::External(external(index))),
        });
    }
    for (index, tmp1, tmp2) in [
        (Gpr::RAX, Gpr::RCX, Gpr::RDX),
        (Gpr::R12, Gpr::R13, Gpr::RBP),
        (Gpr::RSP, Gpr::R15, Gpr::R8),
    ] {
        for len in [0, 1, 3] {
            all.push(MInst::JmpTableSeq {
                index: g(index),
                tmp1: gw(tmp1),
                tmp2: gw(tmp2),
                table: Box::new(JumpTableTargets {
                    default: t.fwd,
                    targets: labels.iter().copied().cycle().take(len).collect(),
                }),
            });
        }
    }
    for stack_bytes_to_pop in [0, 1, 8, 0x7fff, 0xffff] {
        all.push(MInst::Ret { stack_bytes_to_pop });
    }
    all.push(MInst::Ud2 { trap: trap(1) });
    all.push(MInst::Ud2 { trap: trap(255) });
    all.push(MInst::Int3);
    all.push(MInst::Mfence);
    for len in 0..=30 {
        all.push(MInst::Nop { len });
    }
    all.push(MInst::Nop { len: 255 });

    // --- SSE ---
    for op in SseMovOp::ALL {
        for m in amodes.iter() {
            all.push(MInst::XmmLoad {
                op,
                src: *m,
                dst: xwr(xd),
            });
            all.push(MInst::XmmStore {
                op,
                src: xr(xs),
                dst: *m,
            });
        }
        for reg in Xmm::ALL {
            all.push(MInst::XmmLoad {
                op,
                src: default_amode,
                dst: xwr(reg),
            });
            all.push(MInst::XmmStore {
                op,
                src: xr(reg),
                dst: default_amode,
            });
        }
    }
    for dst in Xmm::ALL {
        for src in Xmm::ALL {
            all.push(MInst::XmmMovRR {
                src: xr(src),
                dst: xwr(dst),
            });
            all.push(MInst::XmmRmR {
                op: SseOp::Addsd,
                src1: xr(dst),
                src2: vi::XmmMem::Xmm(xr(src)),
                dst: xwr(dst),
            });
        }
    }
    for op in SseOp::ALL {
        for src2 in xmm_mems_of(op.aligned_memory()).iter() {
            all.push(MInst::XmmRmR {
                op,
                src1: xr(xd),
                src2: *src2,
                dst: xwr(xd),
            });
        }
        for dst in Xmm::ALL {
            all.push(MInst::XmmRmR {
                op,
                src1: xr(dst),
                src2: default_xm,
                dst: xwr(dst),
            });
        }
    }
    // The packed shapes: each operation over every source operand and every
    // destination, the immediates over their 8-bit boundaries.
    for op in SseUnaryOp::ALL {
        for src in xmm_mems_of(op.aligned_memory()).iter() {
            all.push(MInst::XmmUnaryRmR {
                op,
                src: *src,
                dst: xwr(xd),
            });
        }
        for dst in Xmm::ALL {
            all.push(MInst::XmmUnaryRmR {
                op,
                src: default_xm,
                dst: xwr(dst),
            });
        }
    }
    for op in SseImmOp::ALL {
        for src2 in xmm_mems_of(op.aligned_memory()).iter() {
            all.push(MInst::XmmRmRImm {
                op,
                imm: 0x4e,
                src1: xr(xd),
                src2: *src2,
                dst: xwr(xd),
            });
        }
        for (dst, imm) in Xmm::ALL.into_iter().zip(IMM8S.into_iter().cycle()) {
            all.push(MInst::XmmRmRImm {
                op,
                imm,
                src1: xr(dst),
                src2: default_xm,
                dst: xwr(dst),
            });
        }
    }
    for op in SseUnaryImmOp::ALL {
        for src in xmm_mems_of(op.aligned_memory()).iter() {
            all.push(MInst::XmmUnaryRmRImm {
                op,
                imm: 0xb1,
                src: *src,
                dst: xwr(xd),
            });
        }
        for (dst, imm) in Xmm::ALL.into_iter().zip(IMM8S.into_iter().cycle()) {
            all.push(MInst::XmmUnaryRmRImm {
                op,
                imm,
                src: default_xm,
                dst: xwr(dst),
            });
        }
    }
    for op in SseShiftImmOp::ALL {
        for dst in Xmm::ALL {
            for imm in IMM8S {
                all.push(MInst::XmmShiftImm {
                    op,
                    imm,
                    src: xr(dst),
                    dst: xwr(dst),
                });
            }
        }
    }
    // Lanes to and from GPRs and memory, the mask moves and PTEST: every
    // GPR, XMM register and address in each slot.
    for op in SseRegOp::ALL {
        for reg in Xmm::ALL {
            all.push(MInst::XmmRR {
                op,
                src1: xr(reg),
                src2: xr(xs),
                dst: xwr(reg),
            });
            all.push(MInst::XmmRR {
                op,
                src1: xr(xd),
                src2: xr(reg),
                dst: xwr(xd),
            });
        }
    }
    for op in SseInsertOp::ALL {
        for src2 in gpr_mems.iter() {
            all.push(MInst::XmmInsert {
                op,
                lane: 3,
                src1: xr(xd),
                src2: *src2,
                dst: xwr(xd),
            });
        }
        for (dst, lane) in Xmm::ALL.into_iter().zip(IMM8S.into_iter().cycle()) {
            all.push(MInst::XmmInsert {
                op,
                lane,
                src1: xr(dst),
                src2: default_gm,
                dst: xwr(dst),
            });
        }
    }
    for op in SseExtractOp::ALL {
        for dst in Gpr::ALL {
            all.push(MInst::XmmExtract {
                op,
                lane: 1,
                src: xr(xs),
                dst: gw(dst),
            });
        }
        for (src, lane) in Xmm::ALL.into_iter().zip(IMM8S.into_iter().cycle()) {
            all.push(MInst::XmmExtract {
                op,
                lane,
                src: xr(src),
                dst: gw(d2),
            });
            all.push(MInst::XmmExtractMem {
                op,
                lane,
                src: xr(src),
                dst: default_amode,
            });
        }
        for m in amodes.iter() {
            all.push(MInst::XmmExtractMem {
                op,
                lane: 2,
                src: xr(xs),
                dst: *m,
            });
        }
    }
    for op in SseMoveMaskOp::ALL {
        for dst in Gpr::ALL {
            all.push(MInst::XmmMoveMask {
                op,
                src: xr(xs),
                dst: gw(dst),
            });
        }
        for src in Xmm::ALL {
            all.push(MInst::XmmMoveMask {
                op,
                src: xr(src),
                dst: gw(d),
            });
        }
    }
    for op in SseBlendvOp::ALL {
        for src2 in xmm_mems_of(op.aligned_memory()).iter() {
            all.push(MInst::XmmBlendv {
                op,
                mask: xr(Xmm::XMM0),
                src1: xr(xd),
                src2: *src2,
                dst: xwr(xd),
            });
        }
        for dst in Xmm::ALL {
            all.push(MInst::XmmBlendv {
                op,
                mask: xr(Xmm::XMM0),
                src1: xr(dst),
                src2: default_xm,
                dst: xwr(dst),
            });
        }
    }
    // VEX.128: each register slot over every register (R, vvvv and B/X
    // inverted in the prefix; C5 or C4), memory of any alignment.
    for op in AvxOp::ALL {
        for src2 in xmm_mems.iter() {
            all.push(MInst::XmmRmRVex {
                op,
                src1: xr(xs),
                src2: *src2,
                dst: xwr(xd),
            });
        }
        for reg in Xmm::ALL {
            all.push(MInst::XmmRmRVex {
                op,
                src1: xr(reg),
                src2: default_xm,
                dst: xwr(xd),
            });
            all.push(MInst::XmmRmRVex {
                op,
                src1: xr(xs),
                src2: default_xm,
                dst: xwr(reg),
            });
        }
    }
    // The other VEX.128 shapes: each register slot (ModRM.reg, VEX.vvvv,
    // ModRM.rm, imm8[7:4]) over every register, memory of any alignment,
    // the immediates over their 8-bit boundaries.
    for op in AvxUnaryOp::ALL {
        for src in xmm_mems.iter() {
            all.push(MInst::XmmUnaryRmRVex {
                op,
                src: *src,
                dst: xwr(xd),
            });
        }
        for dst in Xmm::ALL {
            all.push(MInst::XmmUnaryRmRVex {
                op,
                src: default_xm,
                dst: xwr(dst),
            });
        }
    }
    for op in AvxImmOp::ALL {
        for src2 in xmm_mems.iter() {
            all.push(MInst::XmmRmRImmVex {
                op,
                imm: 0x4e,
                src1: xr(xs),
                src2: *src2,
                dst: xwr(xd),
            });
        }
        for (reg, imm) in Xmm::ALL.into_iter().zip(IMM8S.into_iter().cycle()) {
            all.push(MInst::XmmRmRImmVex {
                op,
                imm,
                src1: xr(reg),
                src2: default_xm,
                dst: xwr(xd),
            });
            all.push(MInst::XmmRmRImmVex {
                op,
                imm,
                src1: xr(xs),
                src2: default_xm,
                dst: xwr(reg),
            });
        }
    }
    for op in AvxUnaryImmOp::ALL {
        for src in xmm_mems.iter() {
            all.push(MInst::XmmUnaryRmRImmVex {
                op,
                imm: 0xb1,
                src: *src,
                dst: xwr(xd),
            });
        }
        for (dst, imm) in Xmm::ALL.into_iter().zip(IMM8S.into_iter().cycle()) {
            all.push(MInst::XmmUnaryRmRImmVex {
                op,
                imm,
                src: default_xm,
                dst: xwr(dst),
            });
        }
    }
    for op in AvxShiftImmOp::ALL {
        for reg in Xmm::ALL {
            for imm in IMM8S {
                all.push(MInst::XmmShiftImmVex {
                    op,
                    imm,
                    src: xr(reg),
                    dst: xwr(xd),
                });
            }
            all.push(MInst::XmmShiftImmVex {
                op,
                imm: 3,
                src: xr(xs),
                dst: xwr(reg),
            });
        }
    }
    for op in AvxInsertOp::ALL {
        for src2 in gpr_mems.iter() {
            all.push(MInst::XmmInsertVex {
                op,
                lane: 3,
                src1: xr(xs),
                src2: *src2,
                dst: xwr(xd),
            });
        }
        for (reg, lane) in Xmm::ALL.into_iter().zip(IMM8S.into_iter().cycle()) {
            all.push(MInst::XmmInsertVex {
                op,
                lane,
                src1: xr(reg),
                src2: default_gm,
                dst: xwr(xd),
            });
            all.push(MInst::XmmInsertVex {
                op,
                lane,
                src1: xr(xs),
                src2: default_gm,
                dst: xwr(reg),
            });
        }
    }
    for op in AvxExtractOp::ALL {
        for dst in Gpr::ALL {
            all.push(MInst::XmmExtractVex {
                op,
                lane: 1,
                src: xr(xs),
                dst: gw(dst),
            });
        }
        for (src, lane) in Xmm::ALL.into_iter().zip(IMM8S.into_iter().cycle()) {
            all.push(MInst::XmmExtractVex {
                op,
                lane,
                src: xr(src),
                dst: gw(d2),
            });
            all.push(MInst::XmmExtractMemVex {
                op,
                lane,
                src: xr(src),
                dst: default_amode,
            });
        }
        for m in amodes.iter() {
            all.push(MInst::XmmExtractMemVex {
                op,
                lane: 2,
                src: xr(xs),
                dst: *m,
            });
        }
    }
    for op in AvxMoveMaskOp::ALL {
        for dst in Gpr::ALL {
            all.push(MInst::XmmMoveMaskVex {
                op,
                src: xr(xs),
                dst: gw(dst),
            });
        }
        for src in Xmm::ALL {
            all.push(MInst::XmmMoveMaskVex {
                op,
                src: xr(src),
                dst: gw(d),
            });
        }
    }
    for op in AvxBlendvOp::ALL {
        for src2 in xmm_mems.iter() {
            all.push(MInst::XmmBlendvVex {
                op,
                src1: xr(xs),
                src2: *src2,
                mask: xr(Xmm::XMM9),
                dst: xwr(xd),
            });
        }
        for reg in Xmm::ALL {
            for (src1, mask, dst) in [(reg, xs, xd), (xs, reg, xd), (xs, xd, reg)] {
                all.push(MInst::XmmBlendvVex {
                    op,
                    src1: xr(src1),
                    src2: default_xm,
                    mask: xr(mask),
                    dst: xwr(dst),
                });
            }
        }
    }
    for op in AvxTestOp::ALL {
        for rhs in xmm_mems.iter() {
            all.push(MInst::XmmTestVex {
                op,
                lhs: xr(xd),
                rhs: *rhs,
            });
        }
        for lhs in Xmm::ALL {
            all.push(MInst::XmmTestVex {
                op,
                lhs: xr(lhs),
                rhs: default_xm,
            });
        }
    }
    for op in AvxStoreOp::ALL {
        for m in amodes.iter() {
            all.push(MInst::XmmStoreVex {
                op,
                src: xr(xs),
                dst: *m,
            });
        }
        for src in Xmm::ALL {
            all.push(MInst::XmmStoreVex {
                op,
                src: xr(src),
                dst: default_amode,
            });
        }
    }
    for op in SseTestOp::ALL {
        for rhs in xmm_mems_of(op.aligned_memory()).iter() {
            all.push(MInst::XmmTest {
                op,
                lhs: xr(xd),
                rhs: *rhs,
            });
        }
        for lhs in Xmm::ALL {
            all.push(MInst::XmmTest {
                op,
                lhs: xr(lhs),
                rhs: default_xm,
            });
        }
    }
    for size in FloatSize::ALL {
        for mode in RoundMode::ALL {
            for src2 in xmm_mems.iter() {
                all.push(MInst::XmmRound {
                    size,
                    mode,
                    src1: xr(xd),
                    src2: *src2,
                    dst: xwr(xd),
                });
            }
            for dst in Xmm::ALL {
                all.push(MInst::XmmRound {
                    size,
                    mode,
                    src1: xr(dst),
                    src2: default_xm,
                    dst: xwr(dst),
                });
            }
        }
        for rhs in xmm_mems.iter() {
            all.push(MInst::XmmCmp {
                size,
                lhs: xr(xd),
                rhs: *rhs,
            });
        }
        for lhs in Xmm::ALL {
            all.push(MInst::XmmCmp {
                size,
                lhs: xr(lhs),
                rhs: default_xm,
            });
        }
        for is_min in [false, true] {
            for (lhs, dst) in [
                (Xmm::XMM0, Xmm::XMM1),
                (Xmm::XMM8, Xmm::XMM15),
                (Xmm::XMM7, Xmm::XMM7),
            ] {
                all.push(MInst::XmmMinMaxSeq {
                    size,
                    is_min,
                    lhs: xr(lhs),
                    rhs: xr(dst),
                    dst: xwr(dst),
                });
            }
        }
        for (src, dst, tmp1, tmp2) in [
            (Gpr::RAX, Xmm::XMM0, Gpr::RCX, Gpr::RDX),
            (Gpr::R15, Xmm::XMM15, Gpr::R12, Gpr::R13),
            (Gpr::RSP, Xmm::XMM8, Gpr::RBP, Gpr::RSI),
        ] {
            all.push(MInst::CvtUint64ToFloatSeq {
                float_size: size,
                src: g(src),
                dst: xwr(dst),
                tmp1: gw(tmp1),
                tmp2: gw(tmp2),
            });
        }
    }

    let mut entries: Vec<(MInst, usize)> = all.into_iter().map(|i| (i, 3)).collect();
    // The same branches with a label 0 bytes and 200 bytes behind (rel8
    // and rel32 backward branches).
    entries.extend(far_back.iter().cloned().map(|i| (i, 0)));
    entries.extend(far_back.into_iter().map(|i| (i, 200)));
    entries
}

#[test]
fn every_form_decodes_to_what_it_means() {
    let t = common::targets();
    let table = table(&t);
    let mut per_variant = std::collections::BTreeMap::<&str, usize>::new();
    for (inst, padding) in &table {
        *per_variant
            .entry(common::check_inst(inst, *padding))
            .or_default() += 1;
    }
    eprintln!(
        "checked {} instructions over {} variants: {per_variant:?}",
        table.len(),
        per_variant.len()
    );
}

/// The `MInst` variant names declared in `inst.isle`.
fn declared_variants() -> BTreeSet<String> {
    let path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../isle/asm/x64/inst.isle");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let start = text
        .find("(type MInst (enum")
        .expect("the MInst declaration");
    let mut names = BTreeSet::new();
    for line in text[start..].lines().skip(1) {
        let line = line.trim();
        if line.starts_with("))") {
            break;
        }
        if let Some(rest) = line.strip_prefix('(') {
            let name: String = rest
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            if name.starts_with(|c: char| c.is_ascii_uppercase()) {
                names.insert(name);
            }
        }
    }
    names
}

#[test]
fn the_table_covers_every_declared_variant() {
    let declared = declared_variants();
    assert!(declared.len() > 50, "found only {declared:?} in inst.isle");
    let t = common::targets();
    let covered: BTreeSet<String> = table(&t)
        .iter()
        .map(|(inst, _)| common::variant_name(inst).to_string())
        .collect();
    let missing: Vec<_> = declared.difference(&covered).collect();
    assert!(missing.is_empty(), "the table never checks {missing:?}");
    let unknown: Vec<_> = covered.difference(&declared).collect();
    assert!(
        unknown.is_empty(),
        "variant names not in inst.isle: {unknown:?}"
    );
}

// ---- Refusals ----------------------------------------------------------------

/// Runs `emit` on a fresh assembler; it must emit nothing and make `finish`
/// fail with an error `is_expected` accepts.
fn refuses(
    features: CpuFeatures,
    emit: impl FnOnce(&mut Assembler),
    is_expected: impl Fn(&AsmError) -> bool,
) {
    let mut asm = Assembler::new(features);
    emit(&mut asm);
    assert_eq!(asm.cur_offset(), 0, "a refused form emitted bytes");
    match asm.finish() {
        Ok(code) => panic!("accepted: {:02x?}", code.code()),
        Err(e) => assert!(is_expected(&e), "unexpected error {e:?}"),
    }
}

#[test]
fn missing_features_are_refused() {
    let base = CpuFeatures::baseline();
    let src = GprMem::Gpr(Gpr::RCX);
    let unavailable = |e: &AsmError| matches!(e, AsmError::UnavailableFeature { .. });
    refuses(
        base,
        |a| a.lzcnt(OperandSize::S32, Gpr::RAX, &src),
        unavailable,
    );
    refuses(
        base,
        |a| a.tzcnt(OperandSize::S64, Gpr::RAX, &src),
        unavailable,
    );
    refuses(
        base,
        |a| a.popcnt(OperandSize::S16, Gpr::RAX, &src),
        unavailable,
    );
    for size in FloatSize::ALL {
        refuses(
            base,
            |a| a.round(size, RoundMode::Up, Xmm::XMM0, &XmmMem::Xmm(Xmm::XMM1)),
            unavailable,
        );
    }
    // The baseline has BSR/BSF and SSE2.
    let mut asm = Assembler::new(base);
    asm.bit_count(BitOp::Bsr, OperandSize::S32, Gpr::RAX, &src);
    asm.addsd(Xmm::XMM0, Xmm::XMM1);
    asm.finish().expect("baseline forms");
}

/// A legacy SSE form that reads 128 bits of memory faults on an unaligned
/// address (Intel SDM Vol. 1, "Memory Alignment" in the AVX chapter), so
/// the assembler takes its memory operand only when stated aligned or known
/// aligned (a 16-byte-aligned constant);
/// the scalar forms, the m64/m32 forms and MOVDQU take any address.
#[test]
fn unaligned_packed_memory_operands_are_refused() {
    let all = CpuFeatures::all();
    let unaligned = |e: &AsmError| matches!(e, AsmError::InvalidOperand { .. });
    let addresses = [
        Amode::base(Gpr::RSP, 16),
        Amode::base_index(Gpr::RAX, Gpr::RCX, Scale::Eight, 0),
        Amode::absolute(0x1000),
    ];
    for m in addresses {
        let m = XmmMem::Mem(m);
        refuses(all, |a| a.paddd(Xmm::XMM0, m), unaligned);
        refuses(all, |a| a.andps(Xmm::XMM0, m), unaligned);
        refuses(all, |a| a.pmaxud(Xmm::XMM0, m), unaligned);
        refuses(all, |a| a.sqrtps(Xmm::XMM0, m), unaligned);
        refuses(all, |a| a.movdqa(Xmm::XMM0, m), unaligned);
        refuses(all, |a| a.pshufd(Xmm::XMM0, m, 0x1b), unaligned);
        refuses(all, |a| a.shufps(Xmm::XMM0, m, 0x1b), unaligned);
        refuses(all, |a| a.pblendvb(Xmm::XMM1, m), unaligned);
        refuses(all, |a| a.ptest(Xmm::XMM1, m), unaligned);
        // Stated aligned, and the forms that read less or need no alignment.
        let mut asm = Assembler::new(all);
        let XmmMem::Mem(amode) = m else {
            unreachable!()
        };
        asm.paddd(Xmm::XMM0, XmmMem::Aligned(amode));
        asm.pshufd(Xmm::XMM0, XmmMem::Aligned(amode), 0x1b);
        asm.addss(Xmm::XMM0, m);
        asm.pmovzxbw(Xmm::XMM0, m);
        asm.cvtdq2pd(Xmm::XMM0, m);
        asm.insertps(Xmm::XMM0, m, 0x10);
        asm.movdqu(Xmm::XMM0, m);
        let code = asm.finish().expect("aligned or scalar operands");
        assert_eq!(common::decode(code.code(), 0).len(), 7);
    }
    // A constant is known aligned at 16 or more, at a multiple of 16 into it.
    let mut asm = Assembler::new(all);
    let wide = asm.add_constant(&[0xff; 32], 16);
    asm.pand(Xmm::XMM0, XmmMem::Mem(Amode::constant(wide)));
    asm.pand(Xmm::XMM0, XmmMem::Mem(Amode::constant(wide).offset(16)));
    asm.finish().expect("aligned constants");
    refuses(
        all,
        |a| {
            let wide = a.add_constant(&[0xff; 32], 16);
            a.pand(Xmm::XMM0, XmmMem::Mem(Amode::constant(wide).offset(8)))
        },
        unaligned,
    );
    refuses(
        all,
        |a| {
            let narrow = a.add_constant(&[0xff; 16], 8);
            a.pand(Xmm::XMM0, XmmMem::Mem(Amode::constant(narrow)))
        },
        unaligned,
    );
}

#[test]
fn immediates_that_do_not_fit_are_refused() {
    let all = CpuFeatures::all();
    let range = |e: &AsmError| matches!(e, AsmError::ImmediateOutOfRange { .. });
    let m = Amode::base(Gpr::RAX, 0);
    for value in [256, -129, 1000, i32::MIN] {
        refuses(all, |a| a.add_ri(OperandSize::S8, Gpr::RAX, value), range);
        refuses(all, |a| a.cmp_mi(OperandSize::S8, &m, value), range);
        refuses(all, |a| a.test_ri(OperandSize::S8, Gpr::RCX, value), range);
        refuses(all, |a| a.mov_mi(OperandSize::S8, &m, value), range);
    }
    for value in [65536, -32769] {
        refuses(all, |a| a.sub_ri(OperandSize::S16, Gpr::RAX, value), range);
        refuses(all, |a| a.mov_mi(OperandSize::S16, &m, value), range);
        refuses(
            all,
            |a| a.imul_rmi(OperandSize::S16, Gpr::RAX, &GprMem::Gpr(Gpr::RCX), value),
            range,
        );
    }
    refuses(all, |a| a.mov_ri(OperandSize::S8, Gpr::RAX, 256), range);
    refuses(
        all,
        |a| a.mov_ri(OperandSize::S32, Gpr::RAX, 1 << 32),
        range,
    );
}

#[test]
fn impossible_operands_are_refused() {
    let all = CpuFeatures::all();
    let invalid = |e: &AsmError| matches!(e, AsmError::InvalidOperand { .. });
    let rsp_index = Amode::base_index(Gpr::RAX, Gpr::RSP, Scale::Two, 0);
    refuses(
        all,
        |a| a.mov_rm(OperandSize::S64, Gpr::RAX, &rsp_index),
        invalid,
    );
    refuses(
        all,
        |a| {
            a.add_mr(
                OperandSize::S32,
                &Amode::index(Gpr::RSP, Scale::One, 0),
                Gpr::RAX,
            )
        },
        invalid,
    );
    refuses(
        all,
        |a| a.imul_rr(OperandSize::S8, Gpr::RAX, Gpr::RCX),
        invalid,
    );
    refuses(
        all,
        |a| a.imul_rmi(OperandSize::S8, Gpr::RAX, &GprMem::Gpr(Gpr::RCX), 3),
        invalid,
    );
    refuses(
        all,
        |a| a.lea(OperandSize::S8, Gpr::RAX, &Amode::base(Gpr::RCX, 0)),
        invalid,
    );
    refuses(
        all,
        |a| a.cmov(CC::Z, OperandSize::S8, Gpr::RAX, &GprMem::Gpr(Gpr::RCX)),
        invalid,
    );
    refuses(all, |a| a.bswap(OperandSize::S16, Gpr::RAX), invalid);
    refuses(all, |a| a.align_code(12), invalid);
    let trapping = Amode::base(Gpr::RCX, 8).with_trap(TrapCode::from_u8(1).unwrap());
    refuses(
        all,
        |a| {
            a.div(
                true,
                OperandSize::S32,
                &GprMem::Mem(trapping),
                TrapCode::from_u8(2),
            )
        },
        invalid,
    );
    refuses(
        all,
        |a| a.movd_to_xmm(OperandSize::S8, Xmm::XMM0, &GprMem::Gpr(Gpr::RAX)),
        invalid,
    );
    refuses(
        all,
        |a| a.movd_from_xmm(OperandSize::S16, Gpr::RAX, Xmm::XMM0),
        invalid,
    );
}

#[test]
fn label_misuse_is_refused() {
    let buffer_error = |e: &AsmError| matches!(e, AsmError::Buffer(_));
    let mut asm = Assembler::new(CpuFeatures::all());
    let label = asm.new_label();
    asm.bind_label(label).expect("first binding");
    assert!(asm.bind_label(label).is_err(), "second binding accepted");
    let error = asm.finish().expect_err("a label bound twice");
    assert!(buffer_error(&error), "{error:?}");

    let mut asm = Assembler::new(CpuFeatures::all());
    let label = asm.new_label();
    asm.jmp(label);
    let error = asm.finish().expect_err("an unbound label");
    assert!(buffer_error(&error), "{error:?}");
}

// ---- Direct-API forms --------------------------------------------------------

fn decoded(asm: Assembler) -> (cranelift_asm::FinishedCode, Vec<iced_x86::Instruction>) {
    let code = asm.finish().expect("assembles");
    let insts = common::decode(code.code(), 0);
    (code, insts)
}

#[test]
fn jmp_external_is_relocated() {
    let mut asm = Assembler::new(CpuFeatures::all());
    asm.int3();
    asm.jmp_external(external(5));
    let (code, insts) = decoded(asm);
    assert_eq!(insts[1].mnemonic(), Mnemonic::Jmp);
    assert_eq!(insts[1].len(), 5);
    let reloc = code.relocations();
    assert_eq!(reloc.len(), 1);
    assert_eq!(
        (
            reloc[0].offset,
            reloc[0].kind,
            reloc[0].target,
            reloc[0].addend
        ),
        (2, RelocKind::CallPcRel32, external(5), -4)
    );
    assert!(
        code.call_sites().is_empty(),
        "a tail jump is not a call site"
    );
}

/// `movabs` of an external address: iced-x86 decodes `mov r64, imm64`
/// into the register (low and high registers), and the immediate is an
/// `Abs64` relocation at its first byte.
#[test]
fn mov_ri64_external_is_an_absolute_relocation() {
    for (reg, register) in [
        (Gpr::RAX, iced_x86::Register::RAX),
        (Gpr::R11, iced_x86::Register::R11),
    ] {
        let mut asm = Assembler::new(CpuFeatures::baseline());
        asm.int3();
        asm.mov_ri64_external(reg, external(9));
        let (code, insts) = decoded(asm);
        assert_eq!(insts.len(), 2);
        assert_eq!(insts[1].code(), iced_x86::Code::Mov_r64_imm64);
        assert_eq!(insts[1].op0_register(), register);
        assert_eq!(insts[1].immediate64(), 0, "zero until linked");
        let reloc = code.relocations();
        assert_eq!(reloc.len(), 1);
        assert_eq!(
            (
                reloc[0].offset,
                reloc[0].kind,
                reloc[0].target,
                reloc[0].addend
            ),
            (3, RelocKind::Abs64, external(9), 0)
        );
    }
}

#[test]
fn align_code_pads_with_nops() {
    for before in 0..40 {
        let mut asm = Assembler::new(CpuFeatures::all());
        asm.nop(before);
        asm.align_code(16);
        assert_eq!(asm.cur_offset() % 16, 0);
        assert!(asm.cur_offset() < before as u32 + 16);
        asm.int3();
        let (_, insts) = decoded(asm);
        let (last, nops) = insts.split_last().unwrap();
        assert!(
            nops.iter().all(|i| i.mnemonic() == Mnemonic::Nop),
            "{before}: {nops:?}"
        );
        assert_eq!(last.mnemonic(), Mnemonic::Int3);
    }
}

#[test]
fn aligned_code_raises_the_function_alignment() {
    // An offset aligned to 32 is only an address aligned to 32 if the
    // function is placed at one.
    for align in [16, 32, 64] {
        let mut asm = Assembler::new(CpuFeatures::all());
        asm.nop(3);
        asm.align_code(align);
        asm.int3();
        let code = asm.finish().unwrap();
        assert!(code.alignment() >= align, "{align}: {}", code.alignment());
    }
}

#[test]
fn ret_push_and_sign_extension_forms() {
    let mut asm = Assembler::new(CpuFeatures::all());
    asm.ret_imm(0);
    asm.ret_imm(16);
    asm.push(&127.into());
    asm.push(&(-128).into());
    asm.push(&128.into());
    asm.push(&i32::MIN.into());
    asm.cdq();
    asm.cqo();
    let (_, insts) = decoded(asm);
    let summary: Vec<(Mnemonic, usize, u32)> = insts
        .iter()
        .map(|i| (i.mnemonic(), i.len(), i.op_count()))
        .collect();
    assert_eq!(
        summary,
        [
            (Mnemonic::Ret, 1, 0),
            (Mnemonic::Ret, 3, 1),
            (Mnemonic::Push, 2, 1),
            (Mnemonic::Push, 2, 1),
            (Mnemonic::Push, 5, 1),
            (Mnemonic::Push, 5, 1),
            (Mnemonic::Cdq, 1, 0),
            (Mnemonic::Cqo, 2, 0),
        ]
    );
    assert_eq!(insts[1].immediate(0), 16);
    let pushed: Vec<i64> = insts[2..6].iter().map(|i| i.immediate(0) as i64).collect();
    assert_eq!(pushed, [127, -128, 128, i32::MIN as i64]);
}

/// Backward branches to a label within reach take rel8; farther or
/// unbound ones take rel32, and all land on the label.
#[test]
fn branch_forms_by_distance() {
    for gap in [0usize, 1, 100, 123, 124, 125, 126, 127, 128, 129, 200, 1000] {
        for conditional in [false, true] {
            let mut asm = Assembler::new(CpuFeatures::all());
            asm.buffer_mut().set_branch_simplification(false);
            let back = asm.new_label();
            let ahead = asm.new_label();
            asm.bind_label(back).unwrap();
            asm.nop(gap);
            let branch = |asm: &mut Assembler, label| {
                if conditional {
                    asm.jcc(CC::L, label)
                } else {
                    asm.jmp(label)
                }
            };
            branch(&mut asm, back);
            branch(&mut asm, ahead);
            asm.int3();
            asm.bind_label(ahead).unwrap();
            asm.int3();
            let ahead_offset = asm.cur_offset() - 1;
            let (_, insts) = decoded(asm);
            let branches: Vec<_> = insts
                .iter()
                .filter(|i| matches!(i.mnemonic(), Mnemonic::Jmp | Mnemonic::Jl))
                .collect();
            assert_eq!(branches.len(), 2);
            // The rel8 displacement is relative to the end of the 2-byte
            // branch: reach is 128 bytes back from there.
            let short = gap + 2 <= 128;
            let (short_len, long_len) = if conditional { (2, 6) } else { (2, 5) };
            assert_eq!(
                branches[0].len(),
                if short { short_len } else { long_len },
                "gap {gap}"
            );
            assert_eq!(branches[0].near_branch_target(), 0, "gap {gap}");
            assert_eq!(branches[1].len(), long_len, "an unbound label takes rel32");
            assert_eq!(branches[1].near_branch_target(), u64::from(ahead_offset));
        }
    }
}

#[test]
fn lea_records_no_trap_and_a_trapping_divisor_without_its_own_code_is_fine() {
    let code = TrapCode::from_u8(7).unwrap();
    let mut asm = Assembler::new(CpuFeatures::all());
    asm.lea(
        OperandSize::S64,
        Gpr::RAX,
        &Amode::base(Gpr::RCX, 8).with_trap(code),
    );
    let div_at = asm.cur_offset();
    asm.div(
        false,
        OperandSize::S64,
        &GprMem::Mem(Amode::base(Gpr::RCX, 8).with_trap(code)),
        None,
    );
    let finished = asm.finish().expect("valid forms");
    assert_eq!(finished.trap_at(0), None, "lea cannot fault");
    assert_eq!(
        finished.trap_at(div_at),
        Some(code),
        "the memory operand's code"
    );
    assert_eq!(finished.traps().len(), 1);
}

/// Every form the instruction table declares (`common::forms`, generated),
/// over register and memory operands and low and high registers, encodes to
/// one instruction that iced-x86 decodes with the declared mnemonic; with
/// the declared feature missing, the assembler refuses it.
#[test]
fn every_declared_form_decodes_as_its_mnemonic() {
    let samples = [
        common::Samples::new(OperandSize::S32, Gpr::RCX, Xmm::XMM2, Gpr::RSP, false),
        common::Samples::new(OperandSize::S64, Gpr::R13, Xmm::XMM14, Gpr::R12, false),
        common::Samples::new(OperandSize::S64, Gpr::RDI, Xmm::XMM9, Gpr::RBP, true),
        common::Samples::new(OperandSize::S32, Gpr::R8, Xmm::XMM0, Gpr::R13, true),
    ];
    let mut checked = 0;
    for s in &samples {
        for form in common::forms::forms(s) {
            let mut asm = Assembler::new(CpuFeatures::all());
            form.inst.emit(&mut asm);
            let code = asm
                .finish()
                .unwrap_or_else(|e| panic!("{} ({}): {e}", form.mnemonic, form.shape));
            let decoded = common::decode(code.code(), 0);
            assert_eq!(
                decoded.len(),
                1,
                "{}: {}",
                form.mnemonic,
                common::listing(code.code(), 0)
            );
            let mnemonic = format!("{:?}", decoded[0].mnemonic()).to_lowercase();
            // A `+cc` form is declared as `setcc`, `cmovcc`: the decoder
            // names the condition (`setne`).
            let declared = match form.mnemonic.strip_suffix("cc") {
                Some(stem) if mnemonic.starts_with(stem) => &mnemonic,
                _ => form.mnemonic,
            };
            assert_eq!(
                mnemonic,
                declared,
                "{} in {}: {}",
                form.mnemonic,
                form.shape,
                common::listing(code.code(), 0)
            );
            assert_eq!(decoded[0].len(), code.code().len());
            assert!(form.inst.required_features().has(form.feature));
            if form.feature != cranelift_asm::x64::Feature::Base {
                let lacking = CpuFeatures::all().without(form.feature);
                refuses(
                    lacking,
                    |a| form.inst.emit(a),
                    |e| matches!(e, AsmError::UnavailableFeature { feature, .. } if *feature == form.feature),
                );
            }
            checked += 1;
        }
    }
    // Every form of every operation enum appears, and every shape with its
    // own forms (XmmCmp's ucomiss and ucomisd, ...).
    let entries = common::forms::forms(&samples[0]);
    let listed: BTreeSet<&str> = entries.iter().map(|f| f.mnemonic).collect();
    let op_forms = AluOp::ALL
        .iter()
        .map(|op| op.mnemonic())
        .chain(UnaryOp::ALL.iter().map(|op| op.mnemonic()))
        .chain(ShiftOp::ALL.iter().map(|op| op.mnemonic()))
        .chain(BitOp::ALL.iter().map(|op| op.mnemonic()))
        .chain(SseOp::ALL.iter().map(|op| op.mnemonic()))
        .chain(SseUnaryOp::ALL.iter().map(|op| op.mnemonic()))
        .chain(SseImmOp::ALL.iter().map(|op| op.mnemonic()))
        .chain(SseUnaryImmOp::ALL.iter().map(|op| op.mnemonic()))
        .chain(SseShiftImmOp::ALL.iter().map(|op| op.mnemonic()))
        .chain(SseRegOp::ALL.iter().map(|op| op.mnemonic()))
        .chain(SseInsertOp::ALL.iter().map(|op| op.mnemonic()))
        .chain(SseExtractOp::ALL.iter().map(|op| op.mnemonic()))
        .chain(SseMoveMaskOp::ALL.iter().map(|op| op.mnemonic()))
        .chain(SseBlendvOp::ALL.iter().map(|op| op.mnemonic()))
        .chain(SseTestOp::ALL.iter().map(|op| op.mnemonic()))
        .chain(AvxOp::ALL.iter().map(|op| op.mnemonic()))
        .chain(AvxUnaryOp::ALL.iter().map(|op| op.mnemonic()))
        .chain(AvxImmOp::ALL.iter().map(|op| op.mnemonic()))
        .chain(AvxUnaryImmOp::ALL.iter().map(|op| op.mnemonic()))
        .chain(AvxShiftImmOp::ALL.iter().map(|op| op.mnemonic()))
        .chain(AvxInsertOp::ALL.iter().map(|op| op.mnemonic()))
        .chain(AvxExtractOp::ALL.iter().map(|op| op.mnemonic()))
        .chain(AvxMoveMaskOp::ALL.iter().map(|op| op.mnemonic()))
        .chain(AvxBlendvOp::ALL.iter().map(|op| op.mnemonic()))
        .chain(AvxTestOp::ALL.iter().map(|op| op.mnemonic()))
        .chain(AvxStoreOp::ALL.iter().map(|op| op.mnemonic()))
        .chain(SseMovOp::ALL.iter().map(|op| op.mnemonic()));
    let own_forms = ["ucomiss", "ucomisd", "cvtsi2sd", "movq", "roundss", "lea"];
    for mnemonic in op_forms.chain(own_forms) {
        assert!(
            listed.contains(mnemonic),
            "{mnemonic} is not in the generated forms"
        );
    }
    assert_eq!(checked, samples.len() * entries.len());
}
