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
//! So a function asks when its calls, or the iterations of one of its
//! activations plus the calls before it, reach the budget. No register
//! holds a value at either place, so the slow path saves nothing; `r11`
//! is the scratch register, free between instructions.

use crate::codegen::CodeGen;
use crate::error::CompileError;
use crate::memory::BuiltinArg;
use crate::regs::{SCRATCH, TIER_UP_BUDGET};
use cranelift_asm::buffer::Label;
use cranelift_asm::metadata::SourceLoc;
use cranelift_asm::x64::{Amode, CC, OperandSize};
use duet_environ::builtins::Builtin;
use duet_environ::tierup;

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
}

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
        if loop_header {
            self.asm.sub_ri(OperandSize::S32, TIER_UP_BUDGET, 1);
        } else {
            let counter = Amode::base(SCRATCH, 0);
            self.asm.mov_ri64_external(SCRATCH, tierup::counter(index));
            self.asm.sub_mi(OperandSize::S32, &counter, 1);
            self.asm.mov_rm(OperandSize::S32, TIER_UP_BUDGET, &counter);
        }
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
        });
    }

    /// The slow paths of the counts, after the epilogue: each asks the
    /// runtime for the optimizing tier, sets the activation's budget out
    /// of reach and goes back.
    pub(crate) fn emit_tier_up_stubs(&mut self) -> Result<(), CompileError> {
        let Some(index) = self.tier_up else {
            return Ok(());
        };
        let end_sp_offset = self.sp_offset;
        for stub in std::mem::take(&mut self.tier_up_stubs) {
            self.asm.start_srcloc(stub.loc);
            self.asm.bind_label(stub.spent)?;
            self.sp_offset = stub.sp_offset;
            self.call_builtin(Builtin::TierUp, &[BuiltinArg::Imm(u64::from(index))]);
            self.asm
                .mov_ri(OperandSize::S32, TIER_UP_BUDGET, i32::MAX as u64);
            self.asm.jmp(stub.resume);
            self.asm.end_srcloc();
        }
        self.sp_offset = end_sp_offset;
        Ok(())
    }
}
