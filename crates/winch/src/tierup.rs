//! Tier-up counters, as `duet_environ::tierup` places them (its module
//! docs are the design; this is how the baseline tier compiles them).
//!
//! With `Tunables::tier_up` on, calls count in the function's counter in
//! memory, shared by every activation, and loop iterations in `rbx`
//! (`regs::TIER_UP_BUDGET`, callee-saved: the prologue saves the
//! caller's), which the entry loads from the counter: a loop-carried
//! read-modify-write of memory would cost a store-to-load forwarding per
//! iteration (a tight loop ran 1.37x slower so). The counts sit before
//! the fuel and epoch checks (`metering.rs`), where every value is in
//! memory:
//!
//! ```text
//!   entry:   movabs r11, &counter[f]     ; an Abs64 relocation, filled in at link
//!            sub    dword [r11], 1
//!            mov    ebx, [r11]           ; (leaves the flags alone)
//!            js     spent
//!   loop:    sub    ebx, 1
//!            js     spent
//!          resume:
//!            ...
//!            (after the epilogue, with the other out-of-line code)
//!   spent:   call tier_up(vmctx, f)      ; CodeGen::call_builtin
//!            mov  ebx, 0x7fffffff        ; asked once: the activation goes on
//!            jmp  resume
//! ```
//!
//! The entry's slow path sets `ebx` to what `tier_up` returns, the
//! activation's loop budget (the engine's budget), so a long loop of an
//! activation whose call asked goes on counting; a loop header's sets it
//! out of reach, except at a loop that can be entered by on-stack
//! replacement (the value stack empty at its header: no parameters,
//! nothing below; `duet_environ::tierup`), where it asks for the entry:
//!
//! ```text
//!   osr:     call tier_up_osr(vmctx, f, loop offset)    ; rax: 0, 1 or the entry's code
//!            cmp  rax, 1
//!            ja   transfer
//!            mov  ebx, 1023 (0: later) or 0x7fffffff (1: never)
//!            jmp  resume
//!   transfer:
//!            mov  r11, rax
//!            sub  rsp, return area (16-aligned)
//!            lea  rsi, [rbp - saved registers]          ; the locals pointer
//!            mov  rdi, r14
//!            call r11                                   ; runs the rest of the activation
//!            copy results 1.. from its return area to this function's
//!            jmp  epilogue                              ; result 0 is in rax / xmm0
//! ```
//!
//! No register holds a value at any of these places, so the slow paths
//! save nothing; `r11` is the scratch register, free between
//! instructions.

use crate::codegen::CodeGen;
use crate::error::CompileError;
use crate::memory::BuiltinArg;
use crate::regs::{SCRATCH, TIER_UP_BUDGET, VMCTX, XMM_SCRATCH};
use cranelift_asm::buffer::Label;
use cranelift_asm::metadata::SourceLoc;
use cranelift_asm::x64::{Amode, CC, Gpr, GprMem, OperandSize, SseMovOp};
use duet_environ::abi::{self, AbiType, ArgLocation, CallSignature};
use duet_environ::builtins::Builtin;
use duet_environ::tierup;
use wasmparser::ValType;

/// A spent budget's slow path, emitted after the epilogue.
#[derive(Clone, Debug)]
pub(crate) struct TierUpStub {
    /// Where the count jumps when the budget is spent.
    spent: Label,
    /// Where the stub jumps back to.
    resume: Label,
    /// `sp_offset` at the count.
    sp_offset: u32,
    /// The count's wasm offset.
    loc: SourceLoc,
    /// Where the count is.
    site: CountSite,
}

/// Where a count is, which decides its slow path.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
enum CountSite {
    /// The function's entry: ask, and take the loop budget returned.
    Entry,
    /// A loop header that cannot be entered by on-stack replacement.
    Loop,
    /// A loop header that can, at this `loop`'s offset.
    OsrLoop(u32),
}

/// The loop iterations an activation runs before it asks for an on-stack
/// replacement entry again, while the entry is being compiled.
const OSR_RETRY: u32 = 1023;

impl CodeGen<'_> {
    /// Counts a call (at the entry) or a loop iteration (at a
    /// `loop_header`) against the function's budget, if it has one.
    /// Every value must be in memory (no register, no pending comparison:
    /// the `sub` writes the flags).
    pub(crate) fn count_for_tier_up(&mut self, loop_header: bool) {
        let Some(index) = self.tier_up else {
            return;
        };
        debug_assert!(self.pending_condition_reg().is_none());
        debug_assert!(self.regs.all_free(), "a register holds a value at a count");
        let site = if !loop_header {
            let counter = Amode::base(SCRATCH, 0);
            self.asm.mov_ri64_external(SCRATCH, tierup::counter(index));
            self.asm.sub_mi(OperandSize::S32, &counter, 1);
            self.asm.mov_rm(OperandSize::S32, TIER_UP_BUDGET, &counter);
            CountSite::Entry
        } else {
            self.asm.sub_ri(OperandSize::S32, TIER_UP_BUDGET, 1);
            match u32::try_from(self.offset) {
                Ok(offset) if self.stack.is_empty() => CountSite::OsrLoop(offset),
                _ => CountSite::Loop,
            }
        };
        let (spent, resume) = (self.asm.new_label(), self.asm.new_label());
        self.asm.jcc(CC::S, spent);
        self.asm
            .bind_label(resume)
            .expect("a new label is bound once");
        self.tier_up_stubs.push(TierUpStub {
            spent,
            resume,
            sp_offset: self.sp_offset,
            loc: SourceLoc(self.offset as u32),
            site,
        });
    }

    /// The slow paths of the counts, after the epilogue (module docs).
    pub(crate) fn emit_tier_up_stubs(&mut self) -> Result<(), CompileError> {
        let Some(index) = self.tier_up else {
            return Ok(());
        };
        let end_sp_offset = self.sp_offset;
        for stub in std::mem::take(&mut self.tier_up_stubs) {
            self.asm.start_srcloc(stub.loc);
            self.asm.bind_label(stub.spent)?;
            self.sp_offset = stub.sp_offset;
            let function = BuiltinArg::Imm(u64::from(index));
            match stub.site {
                CountSite::Entry => {
                    let budget = self
                        .call_builtin(Builtin::TierUp, &[function])
                        .expect("tier_up returns the loop budget");
                    // (A register the stub reads at once: nothing takes it.)
                    self.asm.mov_rr(OperandSize::S32, TIER_UP_BUDGET, budget);
                }
                CountSite::Loop => {
                    self.call_builtin(Builtin::TierUp, &[function]);
                    self.asm
                        .mov_ri(OperandSize::S32, TIER_UP_BUDGET, i32::MAX as u64);
                }
                CountSite::OsrLoop(offset) => {
                    let args = [function, BuiltinArg::Imm(u64::from(offset))];
                    let code = self
                        .call_builtin(Builtin::TierUpOsr, &args)
                        .expect("tier_up_osr returns the entry");
                    self.asm.cmp_ri(OperandSize::S64, code, 1);
                    let transfer = self.asm.new_label();
                    self.asm.jcc(CC::A, transfer);
                    // 0: later; 1: never. `mov` leaves the flags alone.
                    let again = self.asm.new_label();
                    self.asm
                        .mov_ri(OperandSize::S32, TIER_UP_BUDGET, u64::from(OSR_RETRY));
                    self.asm.jcc(CC::B, again);
                    self.asm
                        .mov_ri(OperandSize::S32, TIER_UP_BUDGET, i32::MAX as u64);
                    self.asm.bind_label(again)?;
                    self.asm.jmp(stub.resume);
                    self.asm.bind_label(transfer)?;
                    self.asm.mov_rr(OperandSize::S64, SCRATCH, code);
                    self.transfer_to_osr_entry()?;
                    self.asm.end_srcloc();
                    continue;
                }
            }
            self.asm.jmp(stub.resume);
            self.asm.end_srcloc();
        }
        self.sp_offset = end_sp_offset;
        Ok(())
    }

    /// Calls the on-stack replacement entry in `r11` with this frame's
    /// locals and returns what it returns (module docs). The value stack
    /// is empty.
    fn transfer_to_osr_entry(&mut self) -> Result<(), CompileError> {
        let results: Vec<AbiType> = self.results.iter().map(|&t| t.into()).collect();
        let osr = CallSignature::new(&[AbiType::I64], &results);
        let area = osr.outgoing_area_size();
        let below = (self.sp_offset + area).next_multiple_of(abi::STACK_ALIGNMENT) - self.sp_offset;
        if below > 0 {
            self.asm.sub_ri(OperandSize::S64, Gpr::RSP, below as i32);
        }
        // In the frame the prologue's stack check covers.
        self.grow_stack(below);
        let frame = Amode::base(Gpr::RBP, -(self.saved_regs_size() as i32));
        let ArgLocation::Gpr(locals) = osr.params[0] else {
            unreachable!("the first integer argument is in a register")
        };
        self.asm.lea(OperandSize::S64, locals, &frame);
        self.asm.mov_rr(OperandSize::S64, abi::VMCTX, VMCTX);
        self.asm.call_indirect(&GprMem::Gpr(SCRATCH));
        // Results after the first: from the call's return area to this
        // function's (the first is where both want it).
        let own = self.signature.results.clone();
        for (j, (&from, to)) in osr.results.iter().zip(own).enumerate().skip(1) {
            let (ArgLocation::Stack { offset: from }, ArgLocation::Stack { offset: to }) =
                (from, to)
            else {
                unreachable!("results after the first are in the return area")
            };
            let (from, to) = (Amode::base(Gpr::RSP, from as i32), abi::incoming_slot(to));
            if self.results[j] == ValType::V128 {
                self.asm.xmm_load(SseMovOp::Movups, XMM_SCRATCH, &from);
                self.asm.xmm_store(SseMovOp::Movups, &to, XMM_SCRATCH);
            } else {
                self.asm.mov_rm(OperandSize::S64, SCRATCH, &from);
                self.asm.mov_mr(OperandSize::S64, &to, SCRATCH);
            }
        }
        let epilogue = self.epilogue.expect("the function's end is known");
        self.asm.jmp(epilogue);
        Ok(())
    }
}
