//! Fuel metering and epoch interruption, as `duet_environ::metering`
//! places them (its module docs are the design; this is how the baseline
//! tier compiles it).
//!
//! # Registers
//!
//! A loop-carried read-modify-write of the counter in memory costs a
//! store-to-load forwarding per charge (about 5 cycles in a tight loop),
//! so the function keeps what it needs in callee-saved registers
//! (`regs.rs`), which the prologue saves (with unwind records, like `r14`)
//! and loads, and every epilogue restores; only the ones the tunables ask
//! for, so with both off the code is unchanged:
//!
//! ```text
//!   fuel:   r13 = [r14 + STORE_CONTEXT] + FUEL_CONSUMED   (the counter's address)
//!           r15 = [r13]                                     (its value)
//!   epochs: r12 = [r14 + EPOCH_COUNTER]                     (the engine's epoch's address)
//! ```
//!
//! (`r12` only in a function that checks the epoch somewhere: one without
//! a loop and without a call, a small leaf most often, saves and loads
//! nothing for epochs.)
//!
//! `r15` equals the counter in memory everywhere in the body: a charge
//! writes both, and only a call can change the counter otherwise (a wasm
//! callee's charges, a host function's or the `NewEpoch` callback's
//! `set_fuel`), so `r15` is reloaded right after every call instruction
//! (wasm, `call_indirect`, imports, every builtin). Traps need no care: a
//! trap abandons the frame, and the entry trampoline restores the host's
//! callee-saved registers itself (`duet_environ::entry`).
//!
//! # Charges
//!
//! The visitor feeds every operator of reachable code, SIMD included, to
//! the function's [`FuelMeter`] before compiling it, and never an operator
//! of unreachable code (the visitor skips those before it gets here). A
//! non-zero charge `k` is emitted right there, before any of the
//! operator's code (a call's argument moves, a branch's test, an `end`'s
//! result moves), so the counter in memory is exact wherever the operator
//! may trap, call or branch:
//!
//! ```text
//!   lea  r15, [r15 + k]
//!   mov  [r13], r15
//! ```
//!
//! Neither instruction writes the flags, so a pending comparison
//! (`CodeGen::pending_condition`) that the operator consumes (`br_if`,
//! `if`, `i32.eqz`) survives the charge. The store is not read back in
//! the body (`r15` is), so it is off the loop-carried dependency chain.
//!
//! So both tiers charge the same amounts at the same points: the meter
//! sees the same operators in the same order (the reachable ones, which
//! both tiers agree on as the validator does).
//!
//! # Checks
//!
//! At function entry (after the prologue: the parameters are in their
//! slots, no register holds a value), the fuel check; at each loop header
//! (after `loop`'s label: the value stack is spilled, invariant 3), the
//! fuel check and then the epoch check; and the epoch check before each
//! call that `duet_environ::metering::calls_checked_for_epoch` lists
//! (which reads the body before it is compiled), after the call's charge,
//! where the call's operands may still be in registers:
//!
//! ```text
//!   test r15, r15                          ; fuel
//!   jge  trap (OutOfFuel)
//!   mov  r11, [r12]                        ; epoch
//!   cmp  r11, [r14 + EPOCH_DEADLINE]
//!   jae  slow
//! resume:
//!   ...
//!   (after the epilogue, with the other out-of-line code)
//! slow:
//!   push the registers holding values      ; (before a call: its operands)
//!   call new_epoch(vmctx)                  ; CodeGen::call_builtin
//!   mov  r15, [r13]                        ; (with fuel) the callback may set it
//!   test eax, eax
//!   jnz  trap (Interrupt)
//!   pop  them
//!   jmp  resume
//! ```
//!
//! The deadline is read from the VMContext at every check, since the
//! runtime moves it (`Store::set_epoch_deadline`, the callback). The slow
//! path is out of line, after the epilogue, where the body's frame still
//! describes the code (`Assembler::ret_from_frame`); it calls the builtin
//! with `rsp` where the check left it (`EpochStub::sp_offset`). At a loop
//! header every value is in memory; before a call, the registers that
//! hold values (the check records them) are pushed before the builtin's
//! call and popped after it, so the fast path moves nothing. The traps
//! carry the check's wasm offset: the loop's or the call's; the fuel
//! check's at function entry, the first operator's.

use crate::codegen::CodeGen;
use crate::error::CompileError;
use crate::regs::{EPOCH_COUNTER, FUEL, FUEL_ADDRESS, SCRATCH, VMCTX};
use cranelift_asm::buffer::Label;
use cranelift_asm::metadata::SourceLoc;
use cranelift_asm::x64::{Amode, CC, Gpr, OperandSize, SseMovOp, Xmm};
use duet_environ::builtins::Builtin;
use duet_environ::metering::FuelMeter;
use duet_environ::trap::Trap;
use duet_environ::vmoffsets::{VMContext, VMStoreContext};
use wasmparser::Operator;

/// An epoch check's slow path, emitted after the epilogue.
#[derive(Clone, Debug)]
pub(crate) struct EpochStub {
    /// Where the check jumps when the deadline has passed.
    slow: Label,
    /// Where the stub jumps back to.
    resume: Label,
    /// `sp_offset` at the check.
    sp_offset: u32,
    /// The check's wasm offset.
    loc: SourceLoc,
    /// The registers that hold values at the check (before a call, its
    /// operands may be in registers), which the slow path saves around its
    /// call and restores.
    live_gprs: Vec<Gpr>,
    live_xmms: Vec<Xmm>,
}

/// `[r13]`: the fuel counter, once `r13` holds its address.
fn fuel_counter() -> Amode {
    Amode::base(FUEL_ADDRESS, 0)
}

impl CodeGen<'_> {
    /// Whether the function meters fuel, checks the epoch or counts
    /// against a tier-up budget: whether anything happens at its entry
    /// and loop headers.
    pub(crate) fn metering(&self) -> bool {
        self.fuel.is_some() || self.epoch.is_some() || self.tier_up.is_some()
    }

    /// The end of the prologue: loads the registers metering keeps for the
    /// whole function (the prologue saved the caller's).
    pub(crate) fn load_metering_registers(&mut self) {
        use OperandSize::S64;
        if self.fuel.is_some() {
            self.asm.mov_rm(
                S64,
                FUEL_ADDRESS,
                &Amode::base(VMCTX, VMContext::STORE_CONTEXT as i32),
            );
            if VMStoreContext::FUEL_CONSUMED != 0 {
                self.asm.lea(
                    S64,
                    FUEL_ADDRESS,
                    &Amode::base(FUEL_ADDRESS, VMStoreContext::FUEL_CONSUMED as i32),
                );
            }
            self.asm.mov_rm(S64, FUEL, &fuel_counter());
        }
        if self.epoch.is_some() {
            self.asm.mov_rm(
                S64,
                EPOCH_COUNTER,
                &Amode::base(VMCTX, VMContext::EPOCH_COUNTER as i32),
            );
        }
    }

    /// After a call instruction: the callee may have charged or set the
    /// fuel, so `r15` takes the counter's value again. Writes no flags and
    /// no register but `r15`.
    pub(crate) fn reload_fuel(&mut self) {
        if self.fuel.is_some() {
            self.asm.mov_rm(OperandSize::S64, FUEL, &fuel_counter());
        }
    }

    /// Counts `op` (an operator of reachable code, about to be compiled)
    /// into the fuel meter and emits the charge it ends with, if any.
    pub(crate) fn charge_fuel(&mut self, op: &Operator) {
        let Some(meter) = &mut self.fuel else {
            return;
        };
        let charge = meter.charge(op);
        if charge == 0 {
            return;
        }
        // At most FuelMeter::MAX_CHARGE, so a sign-extended disp32.
        const _: () = assert!(FuelMeter::MAX_CHARGE <= i32::MAX as u32);
        // `lea` and `mov` leave the flags alone: a pending comparison the
        // operator consumes survives.
        self.asm
            .lea(OperandSize::S64, FUEL, &Amode::base(FUEL, charge as i32));
        self.asm.mov_mr(OperandSize::S64, &fuel_counter(), FUEL);
    }

    /// The checks of a function entry or (`loop_header`) a loop header:
    /// the tier-up count (`tierup.rs`), fuel, then at a loop header the
    /// epoch, as the tunables ask. Every value must be in memory (no
    /// register, no pending comparison).
    pub(crate) fn emit_metering_checks(&mut self, loop_header: bool) {
        debug_assert!(
            self.pending_condition_reg().is_none(),
            "a comparison is pending at a checked header"
        );
        self.count_for_tier_up(loop_header);
        if self.fuel.is_some() {
            self.asm.test_rr(OperandSize::S64, FUEL, FUEL);
            self.asm.trap_if(CC::GE, Trap::OutOfFuel.code());
        }
        if loop_header {
            self.emit_epoch_check();
        }
    }

    /// Before the call at the current offset: the epoch check, if
    /// `calls_checked_for_epoch` listed it. The call's operands and the
    /// values below them may be in registers (a pending comparison is
    /// materialized by then); the slow path saves those.
    pub(crate) fn epoch_check_before_call(&mut self) {
        let listed = |calls: &Vec<u64>| calls.binary_search(&self.offset).is_ok();
        if self.epoch.as_ref().is_some_and(listed) {
            self.emit_epoch_check();
        }
    }

    /// The epoch check, if the function checks the epoch: no pending
    /// comparison (the `cmp` writes the flags); registers that hold values
    /// are saved by the slow path.
    fn emit_epoch_check(&mut self) {
        debug_assert!(self.pending_condition_reg().is_none());
        if self.epoch.is_some() {
            self.asm
                .mov_rm(OperandSize::S64, SCRATCH, &Amode::base(EPOCH_COUNTER, 0));
            self.asm.cmp_rm(
                OperandSize::S64,
                SCRATCH,
                &Amode::base(VMCTX, VMContext::EPOCH_DEADLINE as i32),
            );
            let (slow, resume) = (self.asm.new_label(), self.asm.new_label());
            self.asm.jcc(CC::AE, slow);
            self.asm
                .bind_label(resume)
                .expect("a new label is bound once");
            self.epoch_stubs.push(EpochStub {
                slow,
                resume,
                sp_offset: self.sp_offset,
                loc: SourceLoc(self.offset as u32),
                live_gprs: self.regs.taken_gprs().collect(),
                live_xmms: self.regs.taken_xmms().collect(),
            });
        }
    }

    /// The epoch checks' slow paths, after the epilogue: each calls
    /// `new_epoch`, traps with `Interrupt` if it says so, and goes back.
    pub(crate) fn emit_epoch_stubs(&mut self) -> Result<(), CompileError> {
        let end_sp_offset = self.sp_offset;
        for stub in std::mem::take(&mut self.epoch_stubs) {
            self.asm.start_srcloc(stub.loc);
            self.asm.bind_label(stub.slow)?;
            self.sp_offset = stub.sp_offset;
            // The registers that held values at the check, pushed (XMMs in
            // full, 16 bytes each) and restored around the call.
            for &reg in &stub.live_gprs {
                self.asm.push_r(reg);
                self.grow_stack(8);
            }
            for &reg in &stub.live_xmms {
                self.asm
                    .lea(OperandSize::S64, Gpr::RSP, &Amode::base(Gpr::RSP, -16));
                self.asm
                    .xmm_store(SseMovOp::Movups, &Amode::base(Gpr::RSP, 0), reg);
                self.grow_stack(16);
            }
            // No operands: the value stack is empty after the body (what
            // it held at the check is in memory or saved above).
            self.call_builtin(Builtin::NewEpoch, &[]);
            for &reg in stub.live_xmms.iter().rev() {
                self.asm
                    .xmm_load(SseMovOp::Movups, reg, &Amode::base(Gpr::RSP, 0));
                self.asm
                    .lea(OperandSize::S64, Gpr::RSP, &Amode::base(Gpr::RSP, 16));
            }
            for &reg in stub.live_gprs.iter().rev() {
                self.asm.pop_r(reg);
            }
            self.asm.jmp(stub.resume);
            self.asm.end_srcloc();
        }
        self.sp_offset = end_sp_offset;
        Ok(())
    }
}
