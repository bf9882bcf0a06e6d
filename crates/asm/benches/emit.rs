//! Emission throughput: instructions per second into a `MachBuffer`.
//!
//! Two ways to produce the same instruction mix (ALU with registers,
//! immediates and memory, loads and stores with base+index addressing, moves,
//! SSE arithmetic and loads, a forward conditional branch, a backward jump,
//! an external call; 20 instructions per group, 500 groups):
//!
//! * `direct_api`: `Assembler` method calls with physical registers, as the
//!   baseline compiler does;
//! * `minst_emit`: `MInst` values over physical registers (as after register
//!   allocation), built once, then `MInst::emit` for each, as the optimizing
//!   compiler does.
//!
//! Each iteration starts from a fresh `Assembler` and ends with `finish()`
//! (label resolution, the constant pool and the trap table included).
//!
//! ```text
//! taskset -c 0 cargo bench -p cranelift-asm --bench emit -- --warm-up-time 1 --measurement-time 3
//! ```
//!
//! Figures and what they mean: `docs/benchmarks.md`.

use cranelift_asm::reg::{PRegSet, Writable};
use cranelift_asm::x64::inst::{self, CallDest, CallInfo};
use cranelift_asm::x64::{
    AluOp, Amode, Assembler, CC, CpuFeatures, Gpr, GprReg, MInst, OperandSize::*, Scale, ShiftOp,
    SseMovOp, SseOp, Xmm, XmmMem, XmmReg,
};
use cranelift_asm::{ExternalName, Label};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use std::hint::black_box;

const GROUPS: usize = 500;
const INSTRUCTIONS_PER_GROUP: usize = 20;
const INSTRUCTIONS: usize = GROUPS * INSTRUCTIONS_PER_GROUP;

/// One group through the direct API: `top` is bound at its start, `skip`
/// before its last instruction.
fn emit_group_direct(asm: &mut Assembler, top: Label, skip: Label) {
    asm.bind_label(top).unwrap();
    asm.mov_rm(
        S64,
        Gpr::RAX,
        &Amode::base_index(Gpr::RDI, Gpr::RSI, Scale::Eight, 16),
    );
    asm.add_rr(S64, Gpr::RAX, Gpr::RCX);
    asm.add_ri(S32, Gpr::RDX, 100);
    asm.sub_rm(S64, Gpr::RBX, &Amode::base(Gpr::RBP, -24));
    asm.and_ri(S64, Gpr::R8, 0xff);
    asm.mov_mr(
        S64,
        &Amode::base_index(Gpr::RDI, Gpr::RCX, Scale::Four, 8),
        Gpr::RAX,
    );
    asm.mov_rr(S64, Gpr::R9, Gpr::RAX);
    asm.mov_ri(S64, Gpr::R10, 0x1234_5678_9abc);
    asm.lea(
        S64,
        Gpr::R11,
        &Amode::base_index(Gpr::RAX, Gpr::RDX, Scale::Two, 4),
    );
    asm.xmm_rmr(SseOp::Addsd, Xmm::XMM0, &XmmMem::Xmm(Xmm::XMM1));
    asm.xmm_rmr(
        SseOp::Mulsd,
        Xmm::XMM2,
        &XmmMem::Mem(Amode::base(Gpr::RSI, 32)),
    );
    asm.xmm_load(
        SseMovOp::Movsd,
        Xmm::XMM3,
        &Amode::base_index(Gpr::RDI, Gpr::RCX, Scale::Eight, 0),
    );
    asm.xmm_store(
        SseMovOp::Movsd,
        &Amode::base_index(Gpr::R12, Gpr::RCX, Scale::Eight, 0),
        Xmm::XMM3,
    );
    asm.cmp_rr(S64, Gpr::RAX, Gpr::RDX);
    asm.jcc(CC::L, skip);
    asm.shift_ri(ShiftOp::Shl, S64, Gpr::RAX, 3);
    asm.imul_rr(S64, Gpr::RAX, Gpr::RCX);
    asm.call_external(ExternalName::new(0, 1));
    asm.add_rm(
        S32,
        Gpr::R13,
        &Amode::base_index(Gpr::R14, Gpr::R15, Scale::One, 0x100),
    );
    asm.bind_label(skip).unwrap();
    asm.jmp(top);
}

fn direct_api() -> usize {
    let mut asm = Assembler::new(CpuFeatures::all());
    for _ in 0..GROUPS {
        let (top, skip) = (asm.new_label(), asm.new_label());
        emit_group_direct(&mut asm, top, skip);
    }
    asm.finish().expect("assembles").code().len()
}

fn g(reg: Gpr) -> GprReg {
    GprReg::from(reg)
}

fn wg(reg: Gpr) -> Writable<GprReg> {
    Writable::from_reg(GprReg::from(reg))
}

fn x(reg: Xmm) -> XmmReg {
    XmmReg::from(reg)
}

fn wx(reg: Xmm) -> Writable<XmmReg> {
    Writable::from_reg(XmmReg::from(reg))
}

fn base_index(base: Gpr, index: Gpr, scale: Scale, disp: i32) -> inst::Amode {
    inst::Amode::base_index(g(base), g(index), scale, disp)
}

/// The same group as [`emit_group_direct`], as `MInst` values (the labels are
/// bound between instructions by the emitter, as a block boundary would be).
fn build_group(top: Label, skip: Label) -> Vec<MInst> {
    let alu = |op, size, dst, src2| MInst::AluRmi {
        op,
        size,
        src1: g(dst),
        src2,
        dst: wg(dst),
    };
    let xmm = |op, dst, src2| MInst::XmmRmR {
        op,
        src1: x(dst),
        src2,
        dst: wx(dst),
    };
    let group = vec![
        MInst::MovRM {
            size: S64,
            src: base_index(Gpr::RDI, Gpr::RSI, Scale::Eight, 16),
            dst: wg(Gpr::RAX),
        },
        alu(AluOp::Add, S64, Gpr::RAX, inst::GprMemImm::Gpr(g(Gpr::RCX))),
        alu(AluOp::Add, S32, Gpr::RDX, inst::GprMemImm::Imm(100)),
        alu(
            AluOp::Sub,
            S64,
            Gpr::RBX,
            inst::GprMemImm::Mem(inst::Amode::base(g(Gpr::RBP), -24)),
        ),
        alu(AluOp::And, S64, Gpr::R8, inst::GprMemImm::Imm(0xff)),
        MInst::MovMR {
            size: S64,
            src: g(Gpr::RAX),
            dst: base_index(Gpr::RDI, Gpr::RCX, Scale::Four, 8),
        },
        MInst::MovRR {
            size: S64,
            src: g(Gpr::RAX),
            dst: wg(Gpr::R9),
        },
        MInst::MovImm {
            size: S64,
            imm: 0x1234_5678_9abc,
            dst: wg(Gpr::R10),
        },
        MInst::Lea {
            size: S64,
            addr: base_index(Gpr::RAX, Gpr::RDX, Scale::Two, 4),
            dst: wg(Gpr::R11),
        },
        xmm(SseOp::Addsd, Xmm::XMM0, inst::XmmMem::Xmm(x(Xmm::XMM1))),
        xmm(
            SseOp::Mulsd,
            Xmm::XMM2,
            inst::XmmMem::Mem(inst::Amode::base(g(Gpr::RSI), 32)),
        ),
        MInst::XmmLoad {
            op: SseMovOp::Movsd,
            src: base_index(Gpr::RDI, Gpr::RCX, Scale::Eight, 0),
            dst: wx(Xmm::XMM3),
        },
        MInst::XmmStore {
            op: SseMovOp::Movsd,
            src: x(Xmm::XMM3),
            dst: base_index(Gpr::R12, Gpr::RCX, Scale::Eight, 0),
        },
        MInst::Cmp {
            size: S64,
            lhs: g(Gpr::RAX),
            rhs: inst::GprMemImm::Gpr(g(Gpr::RDX)),
        },
        MInst::JmpIf {
            cc: CC::L,
            taken: skip,
        },
        MInst::Shift {
            op: ShiftOp::Shl,
            size: S64,
            src: g(Gpr::RAX),
            amount: inst::ShiftAmount::Imm(3),
            dst: wg(Gpr::RAX),
        },
        MInst::IMul {
            size: S64,
            src1: g(Gpr::RAX),
            src2: inst::GprMem::Gpr(g(Gpr::RCX)),
            dst: wg(Gpr::RAX),
        },
        MInst::Call {
            info: Box::new(CallInfo {
                dest: CallDest::External(ExternalName::new(0, 1)),
                uses: Vec::new(),
                defs: Vec::new(),
                clobbers: PRegSet::empty(),
            }),
        },
        alu(
            AluOp::Add,
            S32,
            Gpr::R13,
            inst::GprMemImm::Mem(base_index(Gpr::R14, Gpr::R15, Scale::One, 0x100)),
        ),
        MInst::Jmp { target: top },
    ];
    assert_eq!(group.len(), INSTRUCTIONS_PER_GROUP);
    group
}

/// The program as `MInst` groups with their labels. Labels are numbered in
/// creation order, so a fresh assembler creating `2 * GROUPS` labels gets
/// exactly these.
fn build_program() -> Vec<(Label, Label, Vec<MInst>)> {
    let mut numbering = Assembler::new(CpuFeatures::all());
    (0..GROUPS)
        .map(|_| {
            let (top, skip) = (numbering.new_label(), numbering.new_label());
            (top, skip, build_group(top, skip))
        })
        .collect()
}

fn minst_emit(program: &[(Label, Label, Vec<MInst>)]) -> usize {
    let mut asm = Assembler::new(CpuFeatures::all());
    for _ in 0..2 * GROUPS {
        asm.new_label();
    }
    for (top, skip, group) in program {
        asm.bind_label(*top).unwrap();
        let (last, body) = group.split_last().expect("a non-empty group");
        for inst in body {
            inst.emit(&mut asm);
        }
        asm.bind_label(*skip).unwrap();
        last.emit(&mut asm);
    }
    asm.finish().expect("assembles").code().len()
}

fn emission(c: &mut Criterion) {
    let program = build_program();
    // Both paths must produce the same code, or the comparison is moot.
    let direct_bytes = direct_api();
    assert_eq!(direct_bytes, minst_emit(&program));
    eprintln!(
        "{INSTRUCTIONS} instructions, {direct_bytes} bytes per iteration ({:.2} bytes/instruction)",
        direct_bytes as f64 / INSTRUCTIONS as f64
    );

    let mut group = c.benchmark_group("emit");
    group.throughput(Throughput::Elements(INSTRUCTIONS as u64));
    group.bench_function("direct_api", |b| b.iter(|| black_box(direct_api())));
    group.bench_function("minst_emit", |b| {
        b.iter(|| black_box(minst_emit(black_box(&program))))
    });
    group.finish();
}

criterion_group!(benches, emission);
criterion_main!(benches);
