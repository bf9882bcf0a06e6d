//! `MInst` over virtual registers, through regalloc2, emitted and run.
//!
//! The register-allocator interface is `MInst::get_operands` with an
//! [`OperandCollector`] (constraints in), and the same walk with an
//! [`AllocationRewriter`] (allocations out). These tests build small
//! functions as `MInst`s over virtual registers, implement
//! [`regalloc2::Function`] for them, allocate, rewrite, emit, run the code
//! natively and compare its result with the same computation in Rust. A
//! wrong constraint (a tied destination not tied, an implicit register not
//! fixed, a temporary not early) shows up as a wrong result, or as an
//! assertion in `MInst::emit`.
//!
//! ```text
//!   Node::Args (fixed defs in the ABI registers)   ─┐
//!   Node::Inst(MInst) ...                           ├─ TestFunction ── regalloc2::run
//!   MovRR result -> rax / xmm0; Ret                ─┘          │
//!                                                              ▼
//!   prologue: push callee-saved; sub rsp, frame       per block: bind label;
//!   edits: mov/movsd between registers and [rsp+8*slot]   edits and rewritten insts
//!   Ret: add rsp, frame; pop callee-saved; ret
//! ```
//!
//! Arguments come in through a pseudo-instruction that defines every
//! argument vreg with a fixed-register def, so the allocator knows those
//! registers hold values from the first instruction on (a `MovRR` from a
//! physical register would be a non-allocatable mention that does not stop
//! the allocator from reusing an argument register before it is read).
//!
//! Soundness of the `unsafe` calls: each function implements exactly the
//! `extern "sysv64"` signature it is called through, keeps the stack
//! 16-byte aligned, saves the callee-saved registers, touches only its own
//! frame, and its [`exec::NativeCode`] outlives every call.

#![allow(unsafe_code)]

mod exec;

use cranelift_asm::TrapCode;
use cranelift_asm::buffer::Label;
use cranelift_asm::operands::{AllocationRewriter, OperandCollector};
use cranelift_asm::reg::{FIRST_VIRTUAL_REG, PReg, PRegSet, Reg, RegClass, VReg, Writable};
use cranelift_asm::x64::inst::{GprMem, GprMemImm, ShiftAmount, XmmMem};
use cranelift_asm::x64::{
    AluOp, Amode, Assembler, CC, FloatSize, Gpr, GprReg, MInst, OperandSize, ShiftOp, SseBlendvOp,
    SseMovOp, SseOp, Xmm, XmmReg,
};
use exec::{CALLEE_SAVED, Failures, NativeCode, Rng, host_assembler, save_callee_saved};
use regalloc2::{
    Allocation, Block, Edit, Function, Inst, InstOrEdit, InstRange, MachineEnv, Operand,
    RegallocOptions,
};

use GprMemImm as Gmi;
use OperandSize::S64;

// ---- The function regalloc2 sees -------------------------------------------------

/// One instruction of a test function.
enum Node {
    /// Defines each vreg in its ABI register (emits nothing).
    Args(Vec<(Reg, PReg)>),
    /// A machine instruction.
    Inst(MInst),
}

/// A basic block: its instructions, successors (with the values passed to
/// each one's parameters) and parameters.
struct BlockData {
    label: Label,
    first: usize,
    end: usize,
    succs: Vec<Block>,
    succ_args: Vec<Vec<VReg>>,
    preds: Vec<Block>,
    params: Vec<VReg>,
}

/// A function under construction, then the [`regalloc2::Function`].
struct TestFunction {
    asm: Assembler,
    nodes: Vec<Node>,
    operands: Vec<Vec<Operand>>,
    clobbers: Vec<PRegSet>,
    blocks: Vec<BlockData>,
    current: Option<usize>,
    next_vreg: usize,
}

impl TestFunction {
    /// An empty function with one block, the entry, started.
    fn new() -> TestFunction {
        let mut function = TestFunction {
            asm: host_assembler(),
            nodes: Vec::new(),
            operands: Vec::new(),
            clobbers: Vec::new(),
            blocks: Vec::new(),
            current: None,
            next_vreg: 0,
        };
        let entry = function.new_block(&[]);
        function.start_block(entry);
        function
    }

    fn gpr(&mut self) -> GprReg {
        self.next_vreg += 1;
        GprReg::new_virtual(self.next_vreg - 1)
    }

    fn xmm(&mut self) -> XmmReg {
        self.next_vreg += 1;
        XmmReg::new_virtual(self.next_vreg - 1)
    }

    /// The entry's argument pseudo-instruction: one GPR vreg per integer
    /// register in `gprs`, one XMM vreg per register in `xmms`.
    fn args(&mut self, gprs: &[Gpr], xmms: &[Xmm]) -> (Vec<GprReg>, Vec<XmmReg>) {
        let ints: Vec<GprReg> = gprs.iter().map(|_| self.gpr()).collect();
        let floats: Vec<XmmReg> = xmms.iter().map(|_| self.xmm()).collect();
        let mut defs: Vec<(Reg, PReg)> = ints
            .iter()
            .zip(gprs)
            .map(|(v, r)| (v.to_reg(), r.to_preg()))
            .collect();
        defs.extend(
            floats
                .iter()
                .zip(xmms)
                .map(|(v, r)| (v.to_reg(), r.to_preg())),
        );
        self.push_node(Node::Args(defs));
        (ints, floats)
    }

    /// A new block (not started) with parameters of the given classes.
    fn new_block(&mut self, params: &[RegClass]) -> Block {
        let label = self.asm.new_label();
        let params = params
            .iter()
            .map(|&class| {
                self.next_vreg += 1;
                Reg::new_virtual(self.next_vreg - 1, class).to_vreg()
            })
            .collect();
        self.blocks.push(BlockData {
            label,
            first: 0,
            end: 0,
            succs: Vec::new(),
            succ_args: Vec::new(),
            preds: Vec::new(),
            params,
        });
        Block::new(self.blocks.len() - 1)
    }

    fn label(&self, block: Block) -> Label {
        self.blocks[block.index()].label
    }

    fn param(&self, block: Block, i: usize) -> Reg {
        Reg::from_vreg(self.blocks[block.index()].params[i])
    }

    /// Starts emitting into `block`. Blocks are laid out in the order they
    /// are started, which must be their index order (so each block's
    /// instructions are one contiguous range).
    fn start_block(&mut self, block: Block) {
        let expected = self.current.map_or(0, |b| b + 1);
        assert_eq!(block.index(), expected, "blocks start in index order");
        self.current = Some(block.index());
        self.blocks[block.index()].first = self.nodes.len();
        self.blocks[block.index()].end = self.nodes.len();
    }

    fn current_block(&self) -> usize {
        self.current.expect("a started block")
    }

    fn push_node(&mut self, node: Node) {
        let mut collector = OperandCollector::new();
        match &node {
            Node::Args(defs) => {
                for &(reg, preg) in defs {
                    collector
                        .operands
                        .push(Operand::reg_fixed_def(reg.to_vreg(), preg));
                }
            }
            Node::Inst(inst) => inst.clone().get_operands(&mut collector),
        }
        let block = self.current_block();
        self.nodes.push(node);
        self.operands.push(collector.operands);
        self.clobbers.push(collector.clobbers);
        self.blocks[block].end = self.nodes.len();
    }

    fn push(&mut self, inst: MInst) {
        self.push_node(Node::Inst(inst));
    }

    /// Ends the current block with `branch` to `succs`, passing `args` to
    /// each successor's parameters.
    fn branch(&mut self, branch: MInst, succs: &[(Block, Vec<Reg>)]) {
        let current = self.current_block();
        self.push(branch);
        for (succ, args) in succs {
            self.blocks[current].succs.push(*succ);
            self.blocks[current]
                .succ_args
                .push(args.iter().map(|r| r.to_vreg()).collect());
            self.blocks[succ.index()].preds.push(Block::new(current));
        }
    }

    /// Returns `value` (in rax or xmm0).
    fn ret(&mut self, value: Reg) {
        let inst = match (GprReg::new(value), XmmReg::new(value)) {
            (Some(src), _) => MInst::MovRR {
                size: S64,
                src,
                dst: Writable::from_reg(GprReg::from(Gpr::RAX)),
            },
            (_, Some(src)) => MInst::XmmMovRR {
                src,
                dst: Writable::from_reg(XmmReg::from(Xmm::XMM0)),
            },
            _ => unreachable!(),
        };
        self.push(inst);
        self.push(MInst::Ret {
            stack_bytes_to_pop: 0,
        });
    }

    // Instruction shorthands (results in new vregs).

    fn alu(&mut self, op: AluOp, src1: GprReg, src2: Gmi) -> GprReg {
        let dst = self.gpr();
        self.push(MInst::AluRmi {
            op,
            size: S64,
            src1,
            src2,
            dst: Writable::from_reg(dst),
        });
        dst
    }

    fn imm(&mut self, imm: u64) -> GprReg {
        let dst = self.gpr();
        self.push(MInst::MovImm {
            size: S64,
            imm,
            dst: Writable::from_reg(dst),
        });
        dst
    }

    fn sse(&mut self, op: SseOp, src1: XmmReg, src2: XmmReg) -> XmmReg {
        let dst = self.xmm();
        self.push(MInst::XmmRmR {
            op,
            src1,
            src2: XmmMem::Xmm(src2),
            dst: Writable::from_reg(dst),
        });
        dst
    }

    /// Allocates registers among `env`'s and emits the function.
    fn compile(mut self, env: &MachineEnv) -> Compiled {
        let options = RegallocOptions {
            validate_ssa: true,
            ..RegallocOptions::default()
        };
        let output = regalloc2::run(&self, env, &options).expect("regalloc2 allocates");
        // 48 bytes of pushes and the return address leave rsp 8 bytes off a
        // 16-byte boundary; the frame restores the alignment.
        let frame = (output.num_spillslots * 8 + 8).next_multiple_of(16) - 8;
        let frame = i32::try_from(frame).unwrap();
        let mut asm = std::mem::replace(&mut self.asm, host_assembler());
        save_callee_saved(&mut asm);
        asm.sub_ri(S64, Gpr::RSP, frame);
        for block in 0..self.blocks.len() {
            let block = Block::new(block);
            asm.bind_label(self.label(block)).unwrap();
            for item in output.block_insts_and_edits(&self, block) {
                match item {
                    InstOrEdit::Edit(Edit::Move { from, to }) => emit_move(&mut asm, *from, *to),
                    InstOrEdit::Inst(inst) => {
                        let Node::Inst(minst) = &self.nodes[inst.index()] else {
                            continue;
                        };
                        let mut minst = minst.clone();
                        let mut rewriter = AllocationRewriter::new(output.inst_allocs(inst));
                        minst.get_operands(&mut rewriter);
                        assert!(rewriter.is_exhausted(), "{minst:?} left allocations");
                        if let MInst::Ret { .. } = minst {
                            asm.add_ri(S64, Gpr::RSP, frame);
                            for reg in CALLEE_SAVED.iter().rev() {
                                asm.pop_r(*reg);
                            }
                        }
                        minst.emit(&mut asm);
                    }
                }
            }
        }
        Compiled {
            code: NativeCode::new(asm),
            spill_slots: output.num_spillslots,
            moves: output.edits.len(),
        }
    }
}

/// A function after allocation and emission.
struct Compiled {
    code: NativeCode,
    /// How many spill slots the allocator used.
    spill_slots: usize,
    /// How many moves it inserted.
    moves: usize,
}

impl Compiled {
    /// Prints the allocation statistics; `name` is the environment.
    fn report(&self, what: &str, name: &str) {
        println!(
            "{what} in the {name} environment: {} spill slots, {} moves",
            self.spill_slots, self.moves
        );
    }
}

/// The spill slot's address.
fn slot_address(allocation: Allocation) -> Amode {
    let slot = allocation.as_stack().expect("a spill slot").index();
    Amode::base(Gpr::RSP, i32::try_from(slot * 8).unwrap())
}

/// A move regalloc2 inserted: register to register, or to or from a slot.
fn emit_move(asm: &mut Assembler, from: Allocation, to: Allocation) {
    match (from.as_reg(), to.as_reg()) {
        (Some(from), Some(to)) => {
            MInst::gen_move(Writable::from_reg(Reg::from(to)), Reg::from(from)).emit(asm)
        }
        (Some(from), None) => match from.class() {
            RegClass::Int => asm.mov_mr(S64, &slot_address(to), gpr(from)),
            _ => asm.xmm_store(SseMovOp::Movsd, &slot_address(to), xmm(from)),
        },
        (None, Some(to)) => match to.class() {
            RegClass::Int => asm.mov_rm(S64, gpr(to), &slot_address(from)),
            _ => asm.xmm_load(SseMovOp::Movsd, xmm(to), &slot_address(from)),
        },
        (None, None) => panic!("regalloc2 never moves between two stack slots"),
    }
}

fn gpr(preg: PReg) -> Gpr {
    Gpr::from_enc(preg.hw_enc() as u8).unwrap()
}

fn xmm(preg: PReg) -> Xmm {
    Xmm::from_enc(preg.hw_enc() as u8).unwrap()
}

impl Function for TestFunction {
    fn num_insts(&self) -> usize {
        self.nodes.len()
    }

    fn num_blocks(&self) -> usize {
        self.blocks.len()
    }

    fn entry_block(&self) -> Block {
        Block::new(0)
    }

    fn block_insns(&self, block: Block) -> InstRange {
        let data = &self.blocks[block.index()];
        InstRange::new(Inst::new(data.first), Inst::new(data.end))
    }

    fn block_succs(&self, block: Block) -> &[Block] {
        &self.blocks[block.index()].succs
    }

    fn block_preds(&self, block: Block) -> &[Block] {
        &self.blocks[block.index()].preds
    }

    fn block_params(&self, block: Block) -> &[VReg] {
        &self.blocks[block.index()].params
    }

    fn is_ret(&self, inst: Inst) -> bool {
        matches!(self.nodes[inst.index()], Node::Inst(MInst::Ret { .. }))
    }

    fn is_branch(&self, inst: Inst) -> bool {
        matches!(
            self.nodes[inst.index()],
            Node::Inst(MInst::Jmp { .. } | MInst::JmpCond { .. } | MInst::JmpTableSeq { .. })
        )
    }

    fn branch_blockparams(&self, block: Block, _: Inst, succ: usize) -> &[VReg] {
        &self.blocks[block.index()].succ_args[succ]
    }

    fn inst_operands(&self, inst: Inst) -> &[Operand] {
        &self.operands[inst.index()]
    }

    fn inst_clobbers(&self, inst: Inst) -> PRegSet {
        self.clobbers[inst.index()]
    }

    fn num_vregs(&self) -> usize {
        self.next_vreg + FIRST_VIRTUAL_REG
    }

    fn spillslot_size(&self, _: RegClass) -> usize {
        1
    }
}

// ---- Register environments ------------------------------------------------------

/// An environment allocating `gprs` and `xmms`.
fn env(gprs: &[Gpr], xmms: &[Xmm]) -> MachineEnv {
    let mut int = PRegSet::empty();
    for reg in gprs {
        int.add(reg.to_preg());
    }
    let mut float = PRegSet::empty();
    for reg in xmms {
        float.add(reg.to_preg());
    }
    MachineEnv {
        preferred_regs_by_class: [int, float, PRegSet::empty()],
        non_preferred_regs_by_class: [PRegSet::empty(); 3],
        scratch_by_class: [None; 3],
        fixed_stack_slots: Vec::new(),
    }
}

/// Every GPR but rsp and rbp, every XMM register.
fn full_env() -> MachineEnv {
    let gprs: Vec<Gpr> = Gpr::ALL
        .into_iter()
        .filter(|&r| r != Gpr::RSP && r != Gpr::RBP)
        .collect();
    env(&gprs, &Xmm::ALL)
}

/// Four GPRs and three XMM registers: values spill and move.
fn small_env() -> MachineEnv {
    env(
        &[Gpr::RAX, Gpr::RCX, Gpr::RDX, Gpr::RSI],
        &[Xmm::XMM0, Xmm::XMM1, Xmm::XMM2],
    )
}

fn environments() -> [(&'static str, MachineEnv); 2] {
    [("full", full_env()), ("small", small_env())]
}

const DIV_TRAP: u8 = 3;

fn trap(code: u8) -> TrapCode {
    TrapCode::from_u8(code).unwrap()
}

fn random_u64s(rng: &mut Rng) -> Vec<u64> {
    let mut values = vec![0, 1, 2, u64::MAX, 1 << 63, (1 << 63) - 1, 0xFFFF_FFFF];
    values.extend((0..1500).map(|_| {
        let x = rng.next_u64();
        match rng.below(3) {
            0 => x,
            1 => x >> rng.below(64),
            _ => (x as i64 >> rng.below(64)) as u64,
        }
    }));
    values
}

// ---- Integer arithmetic: tied, fixed and early operands -------------------------

/// `f(a, b, c, d)` built from two-operand ALU forms, a shift by cl, a wide
/// multiply and a division (rax/rdx), a compare and cmov, and the checked
/// signed remainder; every input stays live to the end.
fn integer_chain() -> TestFunction {
    let mut f = TestFunction::new();
    let (args, _) = f.args(&[Gpr::RDI, Gpr::RSI, Gpr::RDX, Gpr::RCX], &[]);
    let [a, b, c, d] = [args[0], args[1], args[2], args[3]];
    let t1 = f.alu(AluOp::Add, a, Gmi::Gpr(b));
    let t2 = f.alu(AluOp::Xor, t1, Gmi::Gpr(c));
    let t3 = f.gpr();
    f.push(MInst::Shift {
        op: ShiftOp::Shl,
        size: S64,
        src: t2,
        amount: ShiftAmount::Cl(d),
        dst: Writable::from_reg(t3),
    });
    let t4 = f.alu(AluOp::Sub, a, Gmi::Gpr(t3));
    let (lo, hi) = (f.gpr(), f.gpr());
    f.push(MInst::MulWide {
        signed: false,
        size: S64,
        src1: t4,
        src2: GprMem::Gpr(b),
        dst_lo: Writable::from_reg(lo),
        dst_hi: Writable::from_reg(hi),
    });
    let t5 = f.alu(AluOp::Add, lo, Gmi::Gpr(hi));
    let zero = f.imm(0);
    let divisor = f.alu(AluOp::Or, c, Gmi::Imm(1));
    let (quotient, remainder) = (f.gpr(), f.gpr());
    f.push(MInst::Div {
        signed: false,
        size: S64,
        dividend_lo: t5,
        dividend_hi: zero,
        divisor: GprMem::Gpr(divisor),
        dst_quotient: Writable::from_reg(quotient),
        dst_remainder: Writable::from_reg(remainder),
        trap: trap(DIV_TRAP),
    });
    let t6 = f.alu(AluOp::Xor, quotient, Gmi::Gpr(remainder));
    f.push(MInst::Cmp {
        size: S64,
        lhs: t6,
        rhs: Gmi::Gpr(a),
    });
    let t7 = f.gpr();
    f.push(MInst::Cmov {
        cc: CC::B,
        size: S64,
        consequent: GprMem::Gpr(b),
        alternative: t6,
        dst: Writable::from_reg(t7),
    });
    // t7 srem (b | 1): b | 1 is -1 for b = -1 and b = -2.
    let sign = f.gpr();
    f.push(MInst::SignExtendRaxRdx {
        size: S64,
        src: t7,
        dst: Writable::from_reg(sign),
    });
    let odd_b = f.alu(AluOp::Or, b, Gmi::Imm(1));
    let (q2, rem) = (f.gpr(), f.gpr());
    f.push(MInst::CheckedSRemSeq {
        size: S64,
        dividend_lo: t7,
        dividend_hi: sign,
        divisor: odd_b,
        dst_quotient: Writable::from_reg(q2),
        dst_remainder: Writable::from_reg(rem),
        trap: trap(DIV_TRAP),
    });
    let t8 = f.gpr();
    f.push(MInst::IMulImm {
        size: S64,
        src: GprMem::Gpr(d),
        imm: 3,
        dst: Writable::from_reg(t8),
    });
    let mut sum = f.alu(AluOp::Add, rem, Gmi::Gpr(t8));
    for x in [t7, a, b, c, d] {
        sum = f.alu(AluOp::Add, sum, Gmi::Gpr(x));
    }
    f.ret(sum.to_reg());
    f
}

fn integer_chain_reference(a: u64, b: u64, c: u64, d: u64) -> u64 {
    let t1 = a.wrapping_add(b);
    let t2 = t1 ^ c;
    let t3 = t2.wrapping_shl(d as u32); // x86 masks the count to 6 bits, as does wrapping_shl
    let t4 = a.wrapping_sub(t3);
    let wide = u128::from(t4) * u128::from(b);
    let (lo, hi) = (wide as u64, (wide >> 64) as u64);
    let t5 = lo.wrapping_add(hi);
    let divisor = c | 1;
    let t6 = (t5 / divisor) ^ (t5 % divisor);
    let t7 = if t6 < a { b } else { t6 };
    let rem = (t7 as i64).wrapping_rem((b | 1) as i64) as u64;
    let mut sum = rem.wrapping_add(d.wrapping_mul(3));
    for x in [t7, a, b, c, d] {
        sum = sum.wrapping_add(x);
    }
    sum
}

#[test]
fn integer_chain_matches_rust() {
    let mut failures = Failures::new("integer chain");
    let mut rng = Rng::new(0x01A7_E6E4);
    let inputs = random_u64s(&mut rng);
    for (name, env) in environments() {
        let compiled = integer_chain().compile(&env);
        compiled.report("integer chain", name);
        let code = compiled.code;
        // SAFETY: the function takes four integers and returns one (module
        // docs); `code` outlives the calls.
        let run: extern "sysv64" fn(u64, u64, u64, u64) -> u64 = unsafe { code.function() };
        for i in 0..inputs.len() {
            let a = inputs[i];
            let b = inputs[(i * 7 + 1) % inputs.len()];
            let c = inputs[(i * 13 + 5) % inputs.len()];
            let d = inputs[(i * 31 + 11) % inputs.len()];
            let (got, expected) = (run(a, b, c, d), integer_chain_reference(a, b, c, d));
            failures.check(got == expected, || {
                format!(
                    "{name}: f({a:#x}, {b:#x}, {c:#x}, {d:#x}) = {got:#x}, expected {expected:#x}"
                )
            });
        }
        let traps = code.finished().traps();
        assert_eq!(traps.len(), 2, "{name}: the div and the idiv: {traps:?}");
        assert!(traps.iter().all(|t| t.code == trap(DIV_TRAP)));
    }
    failures.finish();
}

// ---- Register pressure ---------------------------------------------------------

/// Twelve values live at once, mixed pairwise: spills and reloads with four
/// GPRs.
fn pressure_chain() -> TestFunction {
    let mut f = TestFunction::new();
    let (args, _) = f.args(&[Gpr::RDI, Gpr::RSI], &[]);
    let (a, b) = (args[0], args[1]);
    let values: Vec<GprReg> = (0..12)
        .map(|i| {
            let scaled = f.gpr();
            f.push(MInst::IMulImm {
                size: S64,
                src: GprMem::Gpr(a),
                imm: 2 * i + 1,
                dst: Writable::from_reg(scaled),
            });
            f.alu(AluOp::Xor, scaled, Gmi::Gpr(b))
        })
        .collect();
    let mut acc = f.imm(0x1234_5678_9ABC_DEF0);
    for (i, &v) in values.iter().enumerate() {
        let count = f.imm(i as u64 * 5 + 1);
        let rotated = f.gpr();
        f.push(MInst::Shift {
            op: ShiftOp::Rol,
            size: S64,
            src: acc,
            amount: ShiftAmount::Cl(count),
            dst: Writable::from_reg(rotated),
        });
        let op = [AluOp::Add, AluOp::Xor, AluOp::Sub][i % 3];
        acc = f.alu(op, rotated, Gmi::Gpr(v));
    }
    // Read them all again, in reverse, so all twelve stay live until here.
    for &v in values.iter().rev() {
        acc = f.alu(AluOp::Sub, acc, Gmi::Gpr(v));
    }
    f.ret(acc.to_reg());
    f
}

fn pressure_reference(a: u64, b: u64) -> u64 {
    let values: Vec<u64> = (0..12).map(|i| a.wrapping_mul(2 * i + 1) ^ b).collect();
    let mut acc: u64 = 0x1234_5678_9ABC_DEF0;
    for (i, &v) in values.iter().enumerate() {
        let rotated = acc.rotate_left(i as u32 * 5 + 1);
        acc = match i % 3 {
            0 => rotated.wrapping_add(v),
            1 => rotated ^ v,
            _ => rotated.wrapping_sub(v),
        };
    }
    for &v in values.iter().rev() {
        acc = acc.wrapping_sub(v);
    }
    acc
}

#[test]
fn spilled_values_survive() {
    let mut failures = Failures::new("register pressure");
    let mut rng = Rng::new(0x5B111);
    let inputs = random_u64s(&mut rng);
    for (name, env) in environments() {
        let compiled = pressure_chain().compile(&env);
        compiled.report("pressure chain", name);
        if name == "small" {
            assert!(
                compiled.spill_slots > 0,
                "twelve live values spill with four GPRs"
            );
        }
        let code = compiled.code;
        // SAFETY: `fn(u64, u64) -> u64` (module docs); `code` outlives the calls.
        let run: extern "sysv64" fn(u64, u64) -> u64 = unsafe { code.function() };
        for i in 0..inputs.len() {
            let (a, b) = (inputs[i], inputs[(i * 17 + 3) % inputs.len()]);
            let (got, expected) = (run(a, b), pressure_reference(a, b));
            failures.check(got == expected, || {
                format!("{name}: f({a:#x}, {b:#x}) = {got:#x}, expected {expected:#x}")
            });
        }
    }
    failures.finish();
}

// ---- Floats: tied SSE forms, conversions and sequences --------------------------

/// `g(x, y, n)`: SSE arithmetic, min, int-to-float conversions (the tied
/// CvtIntToFloat and the u64 sequence), a saturating float-to-int
/// sequence, all inputs live to the end.
fn float_chain() -> TestFunction {
    let mut f = TestFunction::new();
    let (ints, floats) = f.args(&[Gpr::RDI], &[Xmm::XMM0, Xmm::XMM1]);
    let (n, x, y) = (ints[0], floats[0], floats[1]);
    let f1 = f.sse(SseOp::Addsd, x, y);
    let f2 = f.sse(SseOp::Mulsd, f1, x);
    let f3 = f.xmm();
    f.push(MInst::XmmMinMaxSeq {
        size: FloatSize::F64,
        is_min: true,
        lhs: f2,
        rhs: y,
        dst: Writable::from_reg(f3),
    });
    let n_signed = f.xmm();
    f.push(MInst::CvtIntToFloat {
        float_size: FloatSize::F64,
        int_size: S64,
        src1: x,
        src2: GprMem::Gpr(n),
        dst: Writable::from_reg(n_signed),
    });
    let f4 = f.sse(SseOp::Subsd, f3, n_signed);
    let (n_unsigned, tmp1, tmp2) = (f.xmm(), f.gpr(), f.gpr());
    f.push(MInst::CvtUint64ToFloatSeq {
        float_size: FloatSize::F64,
        src: n,
        dst: Writable::from_reg(n_unsigned),
        tmp1: Writable::from_reg(tmp1),
        tmp2: Writable::from_reg(tmp2),
    });
    let f5 = f.sse(SseOp::Addsd, f4, n_unsigned);
    let (truncated, tmp_xmm) = (f.gpr(), f.xmm());
    f.push(MInst::CvtFloatToSintSeq {
        float_size: FloatSize::F64,
        int_size: S64,
        saturating: true,
        src: f5,
        dst: Writable::from_reg(truncated),
        tmp_xmm: Writable::from_reg(tmp_xmm),
        trap_nan: trap(1),
        trap_overflow: trap(2),
    });
    let mixed = f.alu(AluOp::Xor, truncated, Gmi::Gpr(n));
    let back = f.xmm();
    f.push(MInst::CvtIntToFloat {
        float_size: FloatSize::F64,
        int_size: S64,
        src1: f5,
        src2: GprMem::Gpr(mixed),
        dst: Writable::from_reg(back),
    });
    let f6 = f.sse(SseOp::Addsd, f5, back);
    let f7 = f.sse(SseOp::Mulsd, f6, y);
    let f8 = f.sse(SseOp::Subsd, f7, x);
    f.ret(f8.to_reg());
    f
}

fn wasm_min(a: f64, b: f64) -> f64 {
    if a.is_nan() || b.is_nan() {
        f64::NAN
    } else if a == 0.0 && b == 0.0 {
        if a.is_sign_negative() { a } else { b }
    } else if a < b {
        a
    } else {
        b
    }
}

fn float_chain_reference(x: f64, y: f64, n: u64) -> f64 {
    let f1 = x + y;
    let f2 = f1 * x;
    let f3 = wasm_min(f2, y);
    let f4 = f3 - n as i64 as f64;
    let f5 = f4 + n as f64;
    let truncated = f5 as i64 as u64;
    let back = (truncated ^ n) as i64 as f64;
    let f6 = f5 + back;
    f6 * y - x
}

#[test]
fn float_chain_matches_rust() {
    let mut failures = Failures::new("float chain");
    let mut rng = Rng::new(0xF10A7);
    let mut floats = vec![
        0.0,
        -0.0,
        1.5,
        -2.25,
        1e300,
        -1e-300,
        f64::INFINITY,
        f64::NAN,
    ];
    floats.extend((0..1000).map(|_| {
        let scale = 2f64.powi(rng.below(80) as i32 - 20);
        (rng.next_u64() as i64 as f64 / 2f64.powi(63)) * scale
    }));
    floats.extend((0..200).map(|_| f64::from_bits(rng.next_u64())));
    let ints = random_u64s(&mut rng);
    for (name, env) in environments() {
        let compiled = float_chain().compile(&env);
        compiled.report("float chain", name);
        let code = compiled.code;
        // SAFETY: `fn(u64, f64, f64) -> f64` (rdi, xmm0, xmm1 -> xmm0, module
        // docs); `code` outlives the calls.
        let run: extern "sysv64" fn(u64, f64, f64) -> f64 = unsafe { code.function() };
        for i in 0..floats.len() {
            let x = floats[i];
            let y = floats[(i * 7 + 3) % floats.len()];
            let n = ints[i % ints.len()];
            let (got, expected) = (run(n, x, y), float_chain_reference(x, y, n));
            let ok = if expected.is_nan() {
                got.is_nan()
            } else {
                got.to_bits() == expected.to_bits()
            };
            failures.check(ok, || {
                format!("{name}: g({x:e}, {y:e}, {n:#x}) = {got:e}, expected {expected:e}")
            });
        }
    }
    failures.finish();
}

// ---- A fixed XMM operand: the blend's mask in xmm0 ----------------------------------

/// `b(a, b, mask)`: BLENDVPD's low lane (b where mask's sign bit is set, a
/// otherwise), plus the mask. The mask arrives in xmm2 and `a` in xmm0, the
/// register the blend fixes the mask to, so the allocator must move both;
/// the mask stays live after the blend.
fn blend_chain() -> TestFunction {
    let mut f = TestFunction::new();
    let (_, floats) = f.args(&[], &[Xmm::XMM0, Xmm::XMM1, Xmm::XMM2]);
    let (a, b, mask) = (floats[0], floats[1], floats[2]);
    let blended = f.xmm();
    f.push(MInst::XmmBlendv {
        op: SseBlendvOp::Blendvpd,
        mask,
        src1: a,
        src2: XmmMem::Xmm(b),
        dst: Writable::from_reg(blended),
    });
    let sum = f.sse(SseOp::Addsd, blended, mask);
    let result = f.sse(SseOp::Mulsd, sum, a);
    f.ret(result.to_reg());
    f
}

fn blend_chain_reference(a: f64, b: f64, mask: f64) -> f64 {
    let blended = if mask.is_sign_negative() { b } else { a };
    (blended + mask) * a
}

#[test]
fn fixed_xmm0_mask_matches_rust() {
    let mut failures = Failures::new("blend chain");
    let mut rng = Rng::new(0xB1E4D);
    let mut floats = vec![
        0.0,
        -0.0,
        1.5,
        -2.25,
        f64::INFINITY,
        -f64::INFINITY,
        f64::NAN,
    ];
    floats.extend((0..300).map(|_| f64::from_bits(rng.next_u64())));
    for (name, env) in environments() {
        let compiled = blend_chain().compile(&env);
        compiled.report("blend chain", name);
        let code = compiled.code;
        // SAFETY: `fn(f64, f64, f64) -> f64` (xmm0, xmm1, xmm2 -> xmm0,
        // module docs); `code` outlives the calls.
        let run: extern "sysv64" fn(f64, f64, f64) -> f64 = unsafe { code.function() };
        for i in 0..floats.len() {
            let a = floats[i];
            let b = floats[(i * 7 + 3) % floats.len()];
            let mask = floats[(i * 13 + 5) % floats.len()];
            let (got, expected) = (run(a, b, mask), blend_chain_reference(a, b, mask));
            let ok = if expected.is_nan() {
                got.is_nan()
            } else {
                got.to_bits() == expected.to_bits()
            };
            failures.check(ok, || {
                format!("{name}: b({a:e}, {b:e}, {mask:e}) = {got:e}, expected {expected:e}")
            });
        }
    }
    failures.finish();
}

// ---- Control flow --------------------------------------------------------------

/// `|a - b|` as unsigned numbers, plus `a ^ b`, through a diamond:
///
/// ```text
///   b0: cmp a, b; jb b2 else b1
///   b1: r = a - b; jmp b3(r)         b2: r = b - a; jmp b3(r)
///   b3(r): return r + (a ^ b)
/// ```
fn diamond() -> TestFunction {
    let mut f = TestFunction::new();
    let (args, _) = f.args(&[Gpr::RDI, Gpr::RSI], &[]);
    let (a, b) = (args[0], args[1]);
    let b1 = f.new_block(&[]);
    let b2 = f.new_block(&[]);
    let b3 = f.new_block(&[RegClass::Int]);
    f.push(MInst::Cmp {
        size: S64,
        lhs: a,
        rhs: Gmi::Gpr(b),
    });
    let (l1, l2, l3) = (f.label(b1), f.label(b2), f.label(b3));
    f.branch(
        MInst::JmpCond {
            cc: CC::B,
            taken: l2,
            not_taken: l1,
        },
        &[(b2, vec![]), (b1, vec![])],
    );
    f.start_block(b1);
    let r1 = f.alu(AluOp::Sub, a, Gmi::Gpr(b));
    f.branch(MInst::Jmp { target: l3 }, &[(b3, vec![r1.to_reg()])]);
    f.start_block(b2);
    let r2 = f.alu(AluOp::Sub, b, Gmi::Gpr(a));
    f.branch(MInst::Jmp { target: l3 }, &[(b3, vec![r2.to_reg()])]);
    f.start_block(b3);
    let r = GprReg::new(f.param(b3, 0)).unwrap();
    let x = f.alu(AluOp::Xor, a, Gmi::Gpr(b));
    let sum = f.alu(AluOp::Add, r, Gmi::Gpr(x));
    f.ret(sum.to_reg());
    f
}

/// `sum over i < n of (i * i) ^ a`, with a loop carrying `i` and the sum
/// in block parameters:
///
/// ```text
///   b0: jmp b1(0, 0)
///   b1(i, acc): cmp i, n; jb b2 else b3
///   b2: jmp b1(i + 1, acc + ((i * i) ^ a))
///   b3: return acc
/// ```
fn counted_loop() -> TestFunction {
    let mut f = TestFunction::new();
    let (args, _) = f.args(&[Gpr::RDI, Gpr::RSI], &[]);
    let (n, a) = (args[0], args[1]);
    let header = f.new_block(&[RegClass::Int, RegClass::Int]);
    let body = f.new_block(&[]);
    let exit = f.new_block(&[]);
    let zero = f.imm(0);
    let zero2 = f.imm(0);
    let l_header = f.label(header);
    f.branch(
        MInst::Jmp { target: l_header },
        &[(header, vec![zero.to_reg(), zero2.to_reg()])],
    );
    f.start_block(header);
    let i = GprReg::new(f.param(header, 0)).unwrap();
    let acc = GprReg::new(f.param(header, 1)).unwrap();
    f.push(MInst::Cmp {
        size: S64,
        lhs: i,
        rhs: Gmi::Gpr(n),
    });
    let (l_body, l_exit) = (f.label(body), f.label(exit));
    f.branch(
        MInst::JmpCond {
            cc: CC::B,
            taken: l_body,
            not_taken: l_exit,
        },
        &[(body, vec![]), (exit, vec![])],
    );
    f.start_block(body);
    let square = f.gpr();
    f.push(MInst::IMul {
        size: S64,
        src1: i,
        src2: GprMem::Gpr(i),
        dst: Writable::from_reg(square),
    });
    let term = f.alu(AluOp::Xor, square, Gmi::Gpr(a));
    let next_acc = f.alu(AluOp::Add, acc, Gmi::Gpr(term));
    let next_i = f.alu(AluOp::Add, i, Gmi::Imm(1));
    f.branch(
        MInst::Jmp { target: l_header },
        &[(header, vec![next_i.to_reg(), next_acc.to_reg()])],
    );
    f.start_block(exit);
    f.ret(acc.to_reg());
    f
}

#[test]
fn branches_and_block_parameters() {
    let mut failures = Failures::new("control flow");
    let mut rng = Rng::new(0xD1A);
    let inputs = random_u64s(&mut rng);
    for (name, env) in environments() {
        let compiled = diamond().compile(&env);
        compiled.report("diamond", name);
        let code = compiled.code;
        // SAFETY: `fn(u64, u64) -> u64` (module docs); `code` outlives the calls.
        let run: extern "sysv64" fn(u64, u64) -> u64 = unsafe { code.function() };
        for i in 0..inputs.len() {
            let (a, b) = (inputs[i], inputs[(i * 5 + 1) % inputs.len()]);
            let expected = a.abs_diff(b).wrapping_add(a ^ b);
            let got = run(a, b);
            failures.check(got == expected, || {
                format!("{name}: diamond({a:#x}, {b:#x}) = {got:#x}, expected {expected:#x}")
            });
        }
        let compiled = counted_loop().compile(&env);
        compiled.report("loop", name);
        let code = compiled.code;
        // SAFETY: as above.
        let run: extern "sysv64" fn(u64, u64) -> u64 = unsafe { code.function() };
        for n in (0..40).chain([100, 1000]) {
            let a = rng.next_u64();
            let expected = (0..n).fold(0u64, |acc, i: u64| acc.wrapping_add(i.wrapping_mul(i) ^ a));
            let got = run(n, a);
            failures.check(got == expected, || {
                format!("{name}: loop({n}, {a:#x}) = {got:#x}, expected {expected:#x}")
            });
        }
    }
    failures.finish();
}

// ---- Sequences whose inputs die --------------------------------------------------

/// Each sequence's input is used for the last time by that sequence, so the
/// allocator may give its register to a def unless the def is early: a
/// temporary or destination written before the input is last read would
/// overwrite it.
///
/// `h(n, m, x) = trunc_sat_u64(min(u64_to_f64(n), x))
///             + 3 * trunc_sat_s64(u64_to_f64(m))
///             + trunc_sat_u32(f32(u64_to_f64(m)))`
fn dying_inputs_chain() -> TestFunction {
    let mut f = TestFunction::new();
    let (ints, floats) = f.args(&[Gpr::RDI, Gpr::RSI], &[Xmm::XMM0]);
    let (n, m, x) = (ints[0], ints[1], floats[0]);
    let u64_to_f64 = |f: &mut TestFunction, src: GprReg| {
        let (dst, tmp1, tmp2) = (f.xmm(), f.gpr(), f.gpr());
        f.push(MInst::CvtUint64ToFloatSeq {
            float_size: FloatSize::F64,
            src,
            dst: Writable::from_reg(dst),
            tmp1: Writable::from_reg(tmp1),
            tmp2: Writable::from_reg(tmp2),
        });
        dst
    };
    let trunc_sat_unsigned = |f: &mut TestFunction, float_size, int_size, src: XmmReg| {
        let (dst, tmp_gpr, tmp_xmm, tmp_xmm2) = (f.gpr(), f.gpr(), f.xmm(), f.xmm());
        f.push(MInst::CvtFloatToUintSeq {
            float_size,
            int_size,
            saturating: true,
            src,
            dst: Writable::from_reg(dst),
            tmp_gpr: Writable::from_reg(tmp_gpr),
            tmp_xmm: Writable::from_reg(tmp_xmm),
            tmp_xmm2: Writable::from_reg(tmp_xmm2),
            trap_nan: trap(1),
            trap_overflow: trap(2),
        });
        dst
    };
    let a = u64_to_f64(&mut f, n);
    let b = f.xmm();
    f.push(MInst::XmmMinMaxSeq {
        size: FloatSize::F64,
        is_min: true,
        lhs: a,
        rhs: x,
        dst: Writable::from_reg(b),
    });
    let c = trunc_sat_unsigned(&mut f, FloatSize::F64, S64, b);
    let d = u64_to_f64(&mut f, m);
    let single = f.sse(SseOp::Cvtsd2ss, d, d);
    let (e, tmp) = (f.gpr(), f.xmm());
    f.push(MInst::CvtFloatToSintSeq {
        float_size: FloatSize::F64,
        int_size: S64,
        saturating: true,
        src: d,
        dst: Writable::from_reg(e),
        tmp_xmm: Writable::from_reg(tmp),
        trap_nan: trap(1),
        trap_overflow: trap(2),
    });
    let g = trunc_sat_unsigned(&mut f, FloatSize::F32, OperandSize::S32, single);
    let e3 = f.gpr();
    f.push(MInst::IMulImm {
        size: S64,
        src: GprMem::Gpr(e),
        imm: 3,
        dst: Writable::from_reg(e3),
    });
    let sum = f.alu(AluOp::Add, c, Gmi::Gpr(e3));
    let sum = f.alu(AluOp::Add, sum, Gmi::Gpr(g));
    f.ret(sum.to_reg());
    f
}

fn dying_inputs_reference(n: u64, m: u64, x: f64) -> u64 {
    let c = wasm_min(n as f64, x) as u64;
    let d = m as f64;
    let e = d as i64 as u64;
    let g = u64::from(d as f32 as u32);
    c.wrapping_add(e.wrapping_mul(3)).wrapping_add(g)
}

#[test]
fn sequence_temporaries_do_not_overwrite_dying_inputs() {
    let mut failures = Failures::new("dying inputs");
    let mut rng = Rng::new(0xD1E5);
    let ints = random_u64s(&mut rng);
    let mut floats = vec![
        0.0,
        -0.0,
        f64::INFINITY,
        -f64::INFINITY,
        f64::NAN,
        1e19,
        2e19,
    ];
    floats.extend((0..500).map(|_| (rng.next_u64() >> rng.below(64)) as f64 * 1.25));
    let tight = (
        "tight",
        env(
            &[Gpr::RAX, Gpr::RCX, Gpr::RDX],
            &[Xmm::XMM0, Xmm::XMM1, Xmm::XMM2],
        ),
    );
    for (name, env) in environments().into_iter().chain([tight]) {
        let compiled = dying_inputs_chain().compile(&env);
        compiled.report("dying inputs", name);
        let code = compiled.code;
        // SAFETY: `fn(u64, u64, f64) -> u64` (rdi, rsi, xmm0 -> rax, module
        // docs); `code` outlives the calls.
        let run: extern "sysv64" fn(u64, u64, f64) -> u64 = unsafe { code.function() };
        for i in 0..ints.len() {
            let (n, m) = (ints[i], ints[(i * 11 + 7) % ints.len()]);
            let x = floats[i % floats.len()];
            let (got, expected) = (run(n, m, x), dying_inputs_reference(n, m, x));
            failures.check(got == expected, || {
                format!("{name}: h({n:#x}, {m:#x}, {x:e}) = {got:#x}, expected {expected:#x}")
            });
        }
    }
    failures.finish();
}

/// `br_table` through `JmpTableSeq` with the index dying at the branch:
///
/// ```text
///   b0: br_table idx [b1, b2, b3] default b4
///   b1: return v + 1     b2: return v * 3     b3: return v ^ 0x55     b4: return 0
/// ```
fn switch() -> TestFunction {
    let mut f = TestFunction::new();
    let (args, _) = f.args(&[Gpr::RDI, Gpr::RSI], &[]);
    let (index, v) = (args[0], args[1]);
    let blocks: Vec<Block> = (0..4).map(|_| f.new_block(&[])).collect();
    let labels: Vec<Label> = blocks.iter().map(|&b| f.label(b)).collect();
    let (tmp1, tmp2) = (f.gpr(), f.gpr());
    let table = cranelift_asm::x64::JumpTableTargets {
        default: labels[3],
        targets: labels[..3].to_vec(),
    };
    let succs: Vec<(Block, Vec<Reg>)> = blocks.iter().map(|&b| (b, vec![])).collect();
    f.branch(
        MInst::JmpTableSeq {
            index,
            tmp1: Writable::from_reg(tmp1),
            tmp2: Writable::from_reg(tmp2),
            table: Box::new(table),
        },
        &succs,
    );
    for (i, &block) in blocks.iter().enumerate() {
        f.start_block(block);
        let result = match i {
            0 => f.alu(AluOp::Add, v, Gmi::Imm(1)),
            1 => {
                let dst = f.gpr();
                f.push(MInst::IMulImm {
                    size: S64,
                    src: GprMem::Gpr(v),
                    imm: 3,
                    dst: Writable::from_reg(dst),
                });
                dst
            }
            2 => f.alu(AluOp::Xor, v, Gmi::Imm(0x55)),
            _ => f.imm(0),
        };
        f.ret(result.to_reg());
    }
    f
}

#[test]
fn jump_table_sequence_after_allocation() {
    let mut failures = Failures::new("br_table after allocation");
    let mut rng = Rng::new(0x5A17C4);
    for (name, env) in environments() {
        let compiled = switch().compile(&env);
        compiled.report("switch", name);
        let code = compiled.code;
        // SAFETY: `fn(u64, u64) -> u64` (module docs); `code` outlives the calls.
        let run: extern "sysv64" fn(u64, u64) -> u64 = unsafe { code.function() };
        for i in 0..2000u64 {
            let index = match i % 4 {
                0 => i % 5,
                1 => rng.next_u64() & !0xFFFF_FFFF | (i % 5),
                _ => rng.next_u64(),
            };
            let v = rng.next_u64();
            let expected = match index as u32 {
                0 => v.wrapping_add(1),
                1 => v.wrapping_mul(3),
                2 => v ^ 0x55,
                _ => 0,
            };
            let got = run(index, v);
            failures.check(got == expected, || {
                format!("{name}: switch({index:#x}, {v:#x}) = {got:#x}, expected {expected:#x}")
            });
        }
    }
    failures.finish();
}

// ---- Constraints of the sequences, read directly --------------------------------

/// The allocator is free, not forced, to give a dying input's register to a
/// late def, so the runs above may miss a temporary that is not early. This
/// checks the constraints themselves: every sequence that writes a
/// destination or temporary before it has read all its inputs (seq.rs's
/// "must differ" requirements) reports those defs as early, fixed or tied,
/// and every tie names a use of the same class.
#[test]
fn sequence_defs_are_early_fixed_or_tied() {
    use regalloc2::{OperandConstraint, OperandKind, OperandPos};
    let mut f = TestFunction::new();
    let (g, x) = (
        |f: &mut TestFunction| f.gpr(),
        |f: &mut TestFunction| f.xmm(),
    );
    let label = f.asm.new_label();
    let sequences = vec![
        MInst::CvtFloatToSintSeq {
            float_size: FloatSize::F64,
            int_size: S64,
            saturating: false,
            src: x(&mut f),
            dst: Writable::from_reg(g(&mut f)),
            tmp_xmm: Writable::from_reg(x(&mut f)),
            trap_nan: trap(1),
            trap_overflow: trap(2),
        },
        MInst::CvtFloatToUintSeq {
            float_size: FloatSize::F64,
            int_size: S64,
            saturating: false,
            src: x(&mut f),
            dst: Writable::from_reg(g(&mut f)),
            tmp_gpr: Writable::from_reg(g(&mut f)),
            tmp_xmm: Writable::from_reg(x(&mut f)),
            tmp_xmm2: Writable::from_reg(x(&mut f)),
            trap_nan: trap(1),
            trap_overflow: trap(2),
        },
        MInst::CvtUint64ToFloatSeq {
            float_size: FloatSize::F64,
            src: g(&mut f),
            dst: Writable::from_reg(x(&mut f)),
            tmp1: Writable::from_reg(g(&mut f)),
            tmp2: Writable::from_reg(g(&mut f)),
        },
        MInst::XmmMinMaxSeq {
            size: FloatSize::F64,
            is_min: true,
            lhs: x(&mut f),
            rhs: x(&mut f),
            dst: Writable::from_reg(x(&mut f)),
        },
        MInst::JmpTableSeq {
            index: g(&mut f),
            tmp1: Writable::from_reg(g(&mut f)),
            tmp2: Writable::from_reg(g(&mut f)),
            table: Box::new(cranelift_asm::x64::JumpTableTargets {
                default: label,
                targets: vec![label],
            }),
        },
        MInst::CheckedSRemSeq {
            size: S64,
            dividend_lo: g(&mut f),
            dividend_hi: g(&mut f),
            divisor: g(&mut f),
            dst_quotient: Writable::from_reg(g(&mut f)),
            dst_remainder: Writable::from_reg(g(&mut f)),
            trap: trap(DIV_TRAP),
        },
    ];
    for mut inst in sequences {
        let mut collector = OperandCollector::new();
        inst.get_operands(&mut collector);
        let operands = &collector.operands;
        for operand in operands {
            if operand.kind() != OperandKind::Def {
                continue;
            }
            match operand.constraint() {
                OperandConstraint::FixedReg(_) => {}
                OperandConstraint::Reuse(input) => {
                    let tied = operands[input];
                    assert_eq!(tied.kind(), OperandKind::Use, "{inst:?}: {operand}");
                    assert_eq!(tied.class(), operand.class(), "{inst:?}: {operand}");
                }
                _ => assert_eq!(
                    operand.pos(),
                    OperandPos::Early,
                    "{inst:?}: {operand} is written before the inputs are all read"
                ),
            }
        }
    }
}
