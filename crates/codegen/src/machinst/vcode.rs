//! VCode: machine instructions over virtual registers, in blocks with
//! parameters, as regalloc2 sees them; then allocation and emission.
//!
//! ```text
//!   lowering ──► VCode { insts: [VInst], blocks: [VBlock{params, succs, branch args}] }
//!                   │  impl regalloc2::Function (operands collected once per inst)
//!                   ▼
//!               regalloc2::run ──► Output { allocs, edits, spill slots }
//!                   │
//!                   ▼
//!   emit: prologue (frame pointer, stack-limit check, callee-saved pushes,
//!         frame) ─► per block: bind label; edits as moves/spills/reloads;
//!         instructions rewritten with their allocations (AllocationRewriter)
//!         ─► Ret: epilogue
//! ```
//!
//! **Source locations.** Lowering tags each instruction with the source
//! location of the IR instruction it came from ([`VCode::set_srcloc`]);
//! emission opens a source-location range in the buffer wherever the tag
//! changes, so the finished code maps machine code back to wasm offsets
//! (trap backtraces, the debugger's line table). The allocator's moves
//! take the location open before them; the prologue has none.
//!
//! **Unwind information.** The prologue and every epilogue are emitted
//! through the assembler's frame methods (`push_frame`, `push_saved`,
//! `begin_epilogue`, `pop_saved`, `pop_frame`, `ret_from_frame`), which
//! record the frame at every instruction; an epilogue in the middle of
//! the code is bracketed so the blocks after it keep the body's frame.
//!
//! Pseudo-instructions carry what regalloc2 must know but the machine does
//! not execute: [`VInst::Args`] defines the incoming arguments in their ABI
//! registers (fixed defs at the entry, so the allocator knows those registers
//! are live from the first instruction), [`VInst::Ret`] uses the results in
//! theirs and becomes the epilogue. [`VInst::PreservingCall`] wraps a call
//! of the `preserve_all` convention: the allocator sees it clobber nothing
//! but its results, and emission saves and restores every other
//! caller-saved register around it (`emit_preserving_call`).
//!
//! Frame layout (`rbp`-based chain as `docs/abi.md` requires; spill slots
//! addressed from `rsp`, which does not move in the body, and the IR's
//! stack slots from `rbp`, since their place is known before allocation):
//!
//! ```text
//!   return address
//!   saved rbp            ◄── rbp
//!   stack slots          the IR's explicit slots, [rbp - area, rbp)
//!   saved callee-saved GPRs the allocation uses
//!   (padding to 16)
//!   spill slots          8 bytes for a GPR, 16 for an XMM register (a
//!                        float or a vector, saved whole with `movups`)
//!   outgoing area        calls' stack arguments, then their return areas
//!                        ◄── rsp (16-aligned: calls need no adjustment)
//! ```

use crate::CodegenError;
use crate::machinst::Allocator;
use cranelift_asm::FinishedCode;
use cranelift_asm::buffer::Label;
use cranelift_asm::operands::{AllocationRewriter, OperandCollector};
use cranelift_asm::reg::{PReg, PRegSet, Reg, RegClass, VReg, Writable};
use cranelift_asm::x64::{Amode, AsmError, Assembler, Gpr, MInst, OperandSize, SseMovOp, Xmm};
use cranelift_asm::{SourceLoc, TrapCode};
use regalloc2::{
    Allocation, Block, Edit, Function, Inst, InstOrEdit, InstRange, MachineEnv, Operand,
    RegallocOptions,
};

/// One instruction of VCode.
#[derive(Clone, Debug)]
pub enum VInst {
    /// Defines each vreg in its ABI register (emits nothing).
    Args(Vec<(Reg, PReg)>),
    /// A machine instruction.
    Machine(MInst),
    /// Returns with each vreg in its ABI register: the epilogue and `ret`.
    Ret(Vec<(Reg, PReg)>),
    /// A call (`MInst::Call` or `MInst::CallIndirect`, its clobber set
    /// empty) that changes no register but its defs: emitted between
    /// saves and restores of every other caller-saved register (the
    /// `preserve_all` convention; see `emit_preserving_call`).
    PreservingCall(MInst),
}

/// A block of VCode.
#[derive(Clone, Debug)]
struct VBlock {
    label: Label,
    first: usize,
    end: usize,
    succs: Vec<Block>,
    succ_args: Vec<Vec<VReg>>,
    preds: Vec<Block>,
    params: Vec<VReg>,
}

impl core::fmt::Display for VCode {
    /// The blocks with their parameters, instructions (`Debug` form, over
    /// virtual registers) and successors with arguments: what lowering
    /// handed the register allocator, for filetests and review.
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        for (i, block) in self.blocks.iter().enumerate() {
            let params: Vec<String> = block.params.iter().map(|v| format!("{v}")).collect();
            writeln!(f, "block{i}({}):", params.join(", "))?;
            for inst in &self.insts[block.first..block.end] {
                match inst {
                    VInst::Args(defs) => {
                        let defs: Vec<String> =
                            defs.iter().map(|(r, p)| format!("{r:?}={p}")).collect();
                        writeln!(f, "    args {}", defs.join(", "))?;
                    }
                    VInst::Ret(uses) => {
                        let uses: Vec<String> =
                            uses.iter().map(|(r, p)| format!("{r:?}={p}")).collect();
                        writeln!(f, "    ret {}", uses.join(", "))?;
                    }
                    VInst::Machine(inst) => writeln!(f, "    {inst:?}")?,
                    VInst::PreservingCall(inst) => writeln!(f, "    preserving {inst:?}")?,
                }
            }
            if !block.succs.is_empty() {
                let succs: Vec<String> = block
                    .succs
                    .iter()
                    .zip(&block.succ_args)
                    .map(|(b, args)| {
                        let args: Vec<String> = args.iter().map(|v| format!("{v}")).collect();
                        format!("block{}({})", b.index(), args.join(", "))
                    })
                    .collect();
                writeln!(f, "    ; successors: {}", succs.join(", "))?;
            }
        }
        Ok(())
    }
}

/// The most a leaf function without a stack-limit check pushes: `rbp`,
/// five callee-saved registers and 8 bytes of alignment.
pub const LEAF_UNCHECKED_BYTES: u32 = 56;

/// The alignment of loop headers, in bytes.
const LOOP_ALIGNMENT: u32 = 32;

/// The stack-limit check a wasm function's prologue makes.
///
/// A leaf function (no calls) whose frame holds nothing but the saved
/// `rbp` and callee-saved registers makes none, as Cranelift's leaves do:
/// it cannot recurse, and it goes at most [`LEAF_UNCHECKED_BYTES`] below
/// the stack pointer its caller checked, which the embedder's stack must
/// have room for below the limit.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct StackLimit {
    /// The register holding the VMContext on entry.
    pub vmctx: Gpr,
    /// The offset of the limit in the VMContext.
    pub offset: i32,
    /// The trap when `rsp` would go below it.
    pub trap: TrapCode,
}

/// See the [module docs](self).
pub struct VCode {
    /// Taken by `emit`.
    asm: Option<Assembler>,
    insts: Vec<VInst>,
    operands: Vec<Vec<Operand>>,
    clobbers: Vec<PRegSet>,
    /// Per instruction: the source location it came from.
    srclocs: Vec<Option<SourceLoc>>,
    /// What [`VCode::push`] tags instructions with.
    current_srcloc: Option<SourceLoc>,
    blocks: Vec<VBlock>,
    current: Option<usize>,
    next_vreg: usize,
    /// Bytes at the bottom of the frame for calls' stack arguments and
    /// return areas.
    outgoing_bytes: u32,
    /// Bytes right below the saved `rbp` for the function's stack slots (a
    /// multiple of 16).
    stack_slot_bytes: u32,
    /// The index of the first out-of-line block (`usize::MAX`: none).
    out_of_line: usize,
}

impl VCode {
    /// The CPU features the code may use (the assembler's).
    pub fn features(&self) -> cranelift_asm::x64::CpuFeatures {
        self.asm
            .as_ref()
            .expect("the assembler is there until emission")
            .features()
    }

    /// A constant-pool entry of `data` aligned to `align` bytes, emitted
    /// with the function (deduplicated): an operand `Amode::constant`.
    pub fn add_constant(&mut self, data: &[u8], align: u32) -> cranelift_asm::buffer::Constant {
        self.asm
            .as_mut()
            .expect("the assembler is there until emission")
            .add_constant(data, align)
    }

    /// Empty VCode emitting with `asm`. Virtual registers are numbered from
    /// the first after the pinned (physical) range up.
    pub fn new(asm: Assembler) -> VCode {
        VCode {
            asm: Some(asm),
            insts: Vec::new(),
            operands: Vec::new(),
            clobbers: Vec::new(),
            srclocs: Vec::new(),
            current_srcloc: None,
            blocks: Vec::new(),
            current: None,
            next_vreg: 0,
            outgoing_bytes: 0,
            stack_slot_bytes: 0,
            out_of_line: usize::MAX,
        }
    }

    /// Marks the blocks created from now on as out of line: laid out after
    /// the hot code (cold blocks and what only they lead to). A jump from
    /// one of them back into the hot code is no loop's back edge.
    pub fn start_out_of_line_blocks(&mut self) {
        self.out_of_line = self.out_of_line.min(self.blocks.len());
    }

    /// Tags the instructions pushed from now on with `loc` (the source
    /// location of the IR instruction being lowered).
    pub fn set_srcloc(&mut self, loc: Option<SourceLoc>) {
        self.current_srcloc = loc;
    }

    /// The source location instructions pushed now are tagged with.
    pub fn srcloc(&self) -> Option<SourceLoc> {
        self.current_srcloc
    }

    /// A new virtual register of `class`.
    pub fn vreg(&mut self, class: RegClass) -> Reg {
        self.next_vreg += 1;
        Reg::new_virtual(self.next_vreg - 1, class)
    }

    /// Makes the outgoing area at least `bytes` large (a call's stack
    /// arguments and return area, addressed from `rsp`).
    pub fn reserve_outgoing(&mut self, bytes: u32) {
        self.outgoing_bytes = self.outgoing_bytes.max(bytes.next_multiple_of(16));
    }

    /// Reserves `bytes` (a multiple of 16) right below the saved `rbp` for
    /// stack slots: they are at `[rbp - bytes, rbp)`, placed before the
    /// callee-saved registers' slots.
    pub fn reserve_stack_slots(&mut self, bytes: u32) {
        debug_assert_eq!(bytes % 16, 0, "the area keeps rsp 16-aligned");
        self.stack_slot_bytes = bytes;
    }

    /// A new block (not started) with parameters of the given registers.
    pub fn new_block(&mut self, params: Vec<Reg>) -> Block {
        let label = self.asm.as_mut().expect("not yet emitted").new_label();
        self.blocks.push(VBlock {
            label,
            first: 0,
            end: 0,
            succs: Vec::new(),
            succ_args: Vec::new(),
            preds: Vec::new(),
            params: params.into_iter().map(|r| r.to_vreg()).collect(),
        });
        Block::new(self.blocks.len() - 1)
    }

    /// The label of `block`.
    pub fn label(&self, block: Block) -> Label {
        self.blocks[block.index()].label
    }

    /// Starts appending to `block`. Blocks start in index order, so each
    /// block's instructions are one contiguous range.
    pub fn start_block(&mut self, block: Block) {
        let expected = self.current.map_or(0, |b| b + 1);
        assert_eq!(block.index(), expected, "VCode blocks start in index order");
        self.current = Some(block.index());
        self.blocks[block.index()].first = self.insts.len();
        self.blocks[block.index()].end = self.insts.len();
    }

    /// Appends an instruction to the current block.
    pub fn push(&mut self, inst: VInst) {
        let mut collector = OperandCollector::new();
        match &inst {
            VInst::Args(defs) => {
                for &(reg, preg) in defs {
                    collector
                        .operands
                        .push(Operand::reg_fixed_def(reg.to_vreg(), preg));
                }
            }
            VInst::Ret(uses) => {
                for &(reg, preg) in uses {
                    collector
                        .operands
                        .push(Operand::reg_fixed_use(reg.to_vreg(), preg));
                }
            }
            VInst::Machine(inst) | VInst::PreservingCall(inst) => {
                inst.clone().get_operands(&mut collector)
            }
        }
        let block = self.current.expect("an instruction outside a block");
        self.insts.push(inst);
        self.srclocs.push(self.current_srcloc);
        self.operands.push(collector.operands);
        self.clobbers.push(collector.clobbers);
        self.blocks[block].end = self.insts.len();
    }

    /// Ends the current block with `branch` to `succs`, passing `args` to
    /// each successor's parameters. A block with several successors passes
    /// no arguments (lowering splits those edges).
    pub fn branch(&mut self, branch: MInst, succs: &[(Block, Vec<Reg>)]) {
        let current = self.current.expect("a branch outside a block");
        debug_assert!(succs.len() == 1 || succs.iter().all(|(_, a)| a.is_empty()));
        self.push(VInst::Machine(branch));
        for (succ, args) in succs {
            self.blocks[current].succs.push(*succ);
            self.blocks[current]
                .succ_args
                .push(args.iter().map(|r| r.to_vreg()).collect());
            self.blocks[succ.index()].preds.push(Block::new(current));
        }
    }

    /// Allocates registers among `env`'s (with the allocator `allocator`
    /// picks for the function's size), then emits the function with its
    /// prologue (and `stack_limit` check) and epilogues.
    pub fn emit(
        mut self,
        env: &MachineEnv,
        stack_limit: Option<StackLimit>,
        allocator: Allocator,
    ) -> Result<FinishedCode, CodegenError> {
        let fast = allocator.single_pass(self.blocks.len(), self.insts.len());
        let options = RegallocOptions {
            // The SSA check computes dominators with regalloc2's own
            // algorithm, quadratic on some shapes: only where Ion runs.
            validate_ssa: cfg!(debug_assertions) && !fast,
            algorithm: if fast {
                regalloc2::Algorithm::Fastalloc
            } else {
                regalloc2::Algorithm::Ion
            },
            ..RegallocOptions::default()
        };
        let output = regalloc2::run(&self, env, &options)
            .map_err(|e| CodegenError::Regalloc(format!("{e:?}")))?;
        // Callee-saved registers the allocation uses.
        let used: Vec<Gpr> = duet_environ::abi::CALLEE_SAVED_GPRS
            .into_iter()
            .filter(|r| {
                output
                    .allocs
                    .iter()
                    .any(|a| a.as_reg().is_some_and(|p| p == r.to_preg()))
                    || output.edits.iter().any(|(_, e)| match e {
                        Edit::Move { to, .. } => to.as_reg() == Some(r.to_preg()),
                    })
            })
            .collect();
        // After `push rbp` and the saves, rsp is 16-aligned iff the number
        // of saves is odd... compute: return address + rbp = 16 bytes.
        let saves = used.len() as u32 * 8;
        let body = self.outgoing_bytes + output.num_spillslots as u32 * 8;
        let frame = (saves + body).next_multiple_of(16) - saves;
        let spill_base = self.outgoing_bytes;
        let slots = self.stack_slot_bytes;
        let slots_i32 = i32::try_from(slots).map_err(|_| CodegenError::FrameTooLarge)?;
        let mut asm = self.asm.take().expect("emitted once");
        use OperandSize::S64;
        let leaf = !self.insts.iter().any(|inst| {
            matches!(
                inst,
                VInst::Machine(MInst::Call { .. } | MInst::CallIndirect { .. })
                    | VInst::PreservingCall(_)
            )
        });
        let unchecked = leaf && slots == 0 && body == 0;
        debug_assert!(!unchecked || 8 + saves + frame <= LEAF_UNCHECKED_BYTES);
        if let Some(limit) = stack_limit.filter(|_| !unchecked) {
            // lea r11, [rsp - (slots + saves + frame + 16)]; cmp r11, [vmctx + off]; jb trap
            let needed = i32::try_from(u64::from(slots) + u64::from(saves + frame) + 16)
                .map_err(|_| CodegenError::FrameTooLarge)?;
            asm.lea(S64, Gpr::R11, &Amode::base(Gpr::RSP, -needed));
            asm.cmp_rm(S64, Gpr::R11, &Amode::base(limit.vmctx, limit.offset));
            asm.trap_if(cranelift_asm::x64::CC::B, limit.trap);
        }
        asm.push_frame();
        if slots > 0 {
            asm.sub_ri(S64, Gpr::RSP, slots_i32);
        }
        for (i, &r) in used.iter().enumerate() {
            asm.push_saved(r, slots + 8 * (i as u32 + 1));
        }
        let frame_i32 = i32::try_from(frame).map_err(|_| CodegenError::FrameTooLarge)?;
        if frame > 0 {
            asm.sub_ri(S64, Gpr::RSP, frame_i32);
        }
        let slot = |a: Allocation| -> Amode {
            let index = a.as_stack().expect("a spill slot").index() as u32;
            Amode::base(Gpr::RSP, (spill_base + index * 8) as i32)
        };
        // The location of the open source-location range.
        let mut open_srcloc = None;
        for b in 0..self.blocks.len() {
            let block = Block::new(b);
            // A loop header (a block some later block branches back to)
            // starts at 32 bytes, so a small loop sits in one 32-byte fetch
            // window (shootout-sieve's marking loop: 264 ms unaligned or
            // 16-aligned, 208 ms 32-aligned). An out-of-line block's jump
            // back into the hot code (the end of an epoch check's slow
            // path) makes no loop: aligning its target would put padding
            // on the hot path, inside the loop that contains the check.
            let back_edge = |p: &Block| {
                p.index() >= b && (p.index() < self.out_of_line || b >= self.out_of_line)
            };
            if self.blocks[b].preds.iter().any(back_edge) {
                asm.align_label(self.blocks[b].label, LOOP_ALIGNMENT);
            }
            asm.bind_label(self.blocks[b].label)
                .map_err(|e| CodegenError::Assembler(e.to_string()))?;
            for item in output.block_insts_and_edits(&self, block) {
                if let InstOrEdit::Inst(inst) = item {
                    let loc = self.srclocs[inst.index()];
                    if loc != open_srcloc {
                        match loc {
                            Some(loc) => asm.start_srcloc(loc),
                            None => asm.end_srcloc(),
                        }
                        open_srcloc = loc;
                    }
                }
                match item {
                    InstOrEdit::Edit(Edit::Move { from, to }) => {
                        emit_move(&mut asm, *from, *to, &slot)
                    }
                    InstOrEdit::Inst(inst) => match &self.insts[inst.index()] {
                        VInst::Args(_) => {}
                        VInst::Ret(_) => {
                            asm.begin_epilogue();
                            if frame > 0 {
                                asm.add_ri(S64, Gpr::RSP, frame_i32);
                            }
                            for &r in used.iter().rev() {
                                asm.pop_saved(r);
                            }
                            if slots > 0 {
                                asm.add_ri(S64, Gpr::RSP, slots_i32);
                            }
                            asm.pop_frame();
                            asm.ret_from_frame();
                        }
                        VInst::Machine(minst) => {
                            let mut minst = minst.clone();
                            let mut rewriter = AllocationRewriter::new(output.inst_allocs(inst));
                            minst.get_operands(&mut rewriter);
                            minst.emit(&mut asm);
                        }
                        VInst::PreservingCall(minst) => {
                            let mut minst = minst.clone();
                            let mut rewriter = AllocationRewriter::new(output.inst_allocs(inst));
                            minst.get_operands(&mut rewriter);
                            emit_preserving_call(&mut asm, &minst);
                        }
                    },
                }
            }
        }
        asm.end_srcloc();
        asm.finish().map_err(|e| match e {
            // An operation the target CPU cannot do and the lowering has no
            // other way for (`popcnt` without POPCNT): the module needs a
            // CPU it is not compiled for, no bug.
            AsmError::UnavailableFeature { .. } => CodegenError::Unsupported(e.to_string()),
            _ => CodegenError::Assembler(e.to_string()),
        })
    }
}

/// A `preserve_all` call (see [`crate::ir::CallConv::PreserveAll`]):
/// `call`, a System V call, between saves and restores of every register
/// it may change but its results (its defs, which it writes):
///
/// ```text
///     push every caller-saved GPR but the results   ; rax..r11
///     sub rsp, 16 * 16 (+ 8 if an odd number was pushed)
///     movups [rsp + 16 * i], xmmi                   ; i = 0..16, in full
///     call ...                                      ; arguments already in place
///     movups xmmi, [rsp + 16 * i]
///     add rsp, 16 * 16 (+ 8)
///     pop them
/// ```
///
/// Why this is sound: the register allocator placed the arguments in
/// their registers and the target in some register before the
/// instruction, and the saves change no register, so the call sees them;
/// every register but the results leaves as it came, which is what the
/// empty clobber set promised. `rsp` is 16-aligned in the body (see the
/// frame layout), and the pushes and the XMM area keep it so. The code
/// between the saves and the restores addresses nothing from `rsp` (the
/// convention has no stack arguments: the lowering refuses them), and the
/// unwind information needs no entry: after the prologue the frame is
/// described from `rbp` (CFA = rbp + 16), which the saves leave alone.
/// The flags are not preserved; no value lives in them across an
/// instruction.
fn emit_preserving_call(asm: &mut Assembler, call: &MInst) {
    use OperandSize::S64;
    let info = match call {
        MInst::Call { info } | MInst::CallIndirect { info, .. } => info,
        other => unreachable!("a preserving call wraps a call, not {other:?}"),
    };
    debug_assert!(
        info.clobbers == PRegSet::empty(),
        "a preserving call clobbers nothing"
    );
    let saved: Vec<Gpr> = duet_environ::abi::CALLER_SAVED_GPRS
        .into_iter()
        .filter(|r| !info.defs.iter().any(|(_, p)| *p == r.to_preg()))
        .collect();
    let xmms = duet_environ::abi::CALLER_SAVED_XMMS;
    let area = 16 * xmms.len() as i32 + if saved.len() % 2 == 1 { 8 } else { 0 };
    for &r in &saved {
        asm.push_r(r);
    }
    asm.sub_ri(S64, Gpr::RSP, area);
    for (i, &x) in xmms.iter().enumerate() {
        asm.xmm_store(SseMovOp::Movups, &Amode::base(Gpr::RSP, 16 * i as i32), x);
    }
    call.emit(asm);
    for (i, &x) in xmms.iter().enumerate() {
        asm.xmm_load(SseMovOp::Movups, x, &Amode::base(Gpr::RSP, 16 * i as i32));
    }
    asm.add_ri(S64, Gpr::RSP, area);
    for &r in saved.iter().rev() {
        asm.pop_r(r);
    }
}

/// A move regalloc2 inserted: register to register, or to or from a slot.
fn emit_move(
    asm: &mut Assembler,
    from: Allocation,
    to: Allocation,
    slot: &dyn Fn(Allocation) -> Amode,
) {
    use OperandSize::S64;
    match (from.as_reg(), to.as_reg()) {
        (Some(from), Some(to)) => {
            MInst::gen_move(Writable::from_reg(Reg::from(to)), Reg::from(from)).emit(asm)
        }
        (Some(from), None) => match from.class() {
            RegClass::Int => asm.mov_mr(S64, &slot(to), gpr(from)),
            _ => asm.xmm_store(SseMovOp::Movups, &slot(to), xmm(from)),
        },
        (None, Some(to)) => match to.class() {
            RegClass::Int => asm.mov_rm(S64, gpr(to), &slot(from)),
            _ => asm.xmm_load(SseMovOp::Movups, xmm(to), &slot(from)),
        },
        (None, None) => unreachable!("regalloc2 never moves between two stack slots"),
    }
}

fn gpr(preg: PReg) -> Gpr {
    Gpr::from_enc(preg.hw_enc() as u8).expect("an integer register")
}

fn xmm(preg: PReg) -> Xmm {
    Xmm::from_enc(preg.hw_enc() as u8).expect("a float register")
}

impl Function for VCode {
    fn num_insts(&self) -> usize {
        self.insts.len()
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
        matches!(self.insts[inst.index()], VInst::Ret(_))
            || matches!(self.insts[inst.index()], VInst::Machine(MInst::Ud2 { .. }))
                && self.is_last_in_block(inst)
    }

    fn is_branch(&self, inst: Inst) -> bool {
        matches!(
            self.insts[inst.index()],
            VInst::Machine(MInst::Jmp { .. } | MInst::JmpCond { .. } | MInst::JmpTableSeq { .. })
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
        cranelift_asm::reg::FIRST_VIRTUAL_REG + self.next_vreg
    }

    fn spillslot_size(&self, class: RegClass) -> usize {
        // In 8-byte slots: an XMM register holds a float or a 128-bit
        // vector, and the class does not say which.
        match class {
            RegClass::Int => 1,
            _ => 2,
        }
    }
}

impl VCode {
    fn is_last_in_block(&self, inst: Inst) -> bool {
        self.blocks.iter().any(|b| b.end == inst.index() + 1)
    }
}
