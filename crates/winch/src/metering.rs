//! Fuel metering and epoch interruption, as `duet_environ::metering`
//! places them (its module docs are the design; this is how the baseline
//! tier compiles it).
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
//!   mov  r11, [r14 + STORE_CONTEXT]
//!   add  qword [r11 + FUEL_CONSUMED], k
//! ```
//!
//! `r11` is the scratch register, free between operators. `add` writes
//! the flags, which hold nothing between operators except a pending
//! comparison (`CodeGen::pending_condition`): before any operator but
//! `br_if`, `if` and `i32.eqz` the comparison is materialized first, and
//! before those three (a `br_if` or `if` always ends a region, so it is
//! charged) the charge leaves the flags alone, going through the
//! comparison's register, which holds nothing until the comparison is
//! materialized:
//!
//! ```text
//!   mov  r11, [r14 + STORE_CONTEXT]
//!   mov  reg, [r11 + FUEL_CONSUMED]
//!   lea  reg, [reg + k]
//!   mov  [r11 + FUEL_CONSUMED], reg
//! ```
//!
//! So both tiers charge the same amounts at the same points: the meter
//! sees the same operators in the same order (the reachable ones, which
//! both tiers agree on as the validator does).
//!
//! # Checks
//!
//! At function entry (after the prologue: the parameters are in their
//! slots, no register holds a value) and at each loop header (after
//! `loop`'s label: the value stack is spilled, invariant 3), the fuel
//! check and then the epoch check:
//!
//! ```text
//!   mov  r11, [r14 + STORE_CONTEXT]        ; fuel
//!   cmp  qword [r11 + FUEL_CONSUMED], 0
//!   jge  trap (OutOfFuel)
//!   mov  r11, [r14 + EPOCH_COUNTER]        ; epoch
//!   mov  r11, [r11]
//!   cmp  r11, [r14 + EPOCH_DEADLINE]
//!   jae  slow
//! resume:
//!   ...
//!   (after the epilogue, with the other out-of-line code)
//! slow:
//!   call new_epoch(vmctx)                  ; CodeGen::call_builtin
//!   test eax, eax
//!   jnz  trap (Interrupt)
//!   jmp  resume
//! ```
//!
//! The slow path is out of line, after the epilogue, where the body's
//! frame still describes the code (`Assembler::ret_from_frame`); it calls
//! the builtin with `rsp` where the check left it (`EpochStub::sp_offset`),
//! and since at both places every value is in memory, nothing else needs
//! saving. The traps carry the check's wasm offset: the loop's, or at
//! function entry the first operator's.

use crate::codegen::CodeGen;
use crate::error::CompileError;
use crate::regs::{SCRATCH, VMCTX};
use cranelift_asm::buffer::Label;
use cranelift_asm::metadata::SourceLoc;
use cranelift_asm::x64::{Amode, CC, OperandSize};
use duet_environ::builtins::Builtin;
use duet_environ::metering::FuelMeter;
use duet_environ::trap::Trap;
use duet_environ::vmoffsets::{VMContext, VMStoreContext};
use wasmparser::Operator;

/// An epoch check's slow path, emitted after the epilogue.
#[derive(Copy, Clone, Debug)]
pub(crate) struct EpochStub {
    /// Where the check jumps when the deadline has passed.
    slow: Label,
    /// Where the stub jumps back to.
    resume: Label,
    /// `sp_offset` at the check.
    sp_offset: u32,
    /// The check's wasm offset.
    loc: SourceLoc,
}

/// `[r11 + FUEL_CONSUMED]`, once `r11` holds the store context.
fn fuel_counter() -> Amode {
    Amode::base(SCRATCH, VMStoreContext::FUEL_CONSUMED as i32)
}

impl CodeGen<'_> {
    /// Whether the tunables ask for fuel metering or epoch checks.
    pub(crate) fn metering(&self) -> bool {
        self.fuel.is_some() || self.env.tunables().epoch_interruption
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
        // At most FuelMeter::MAX_CHARGE, so a sign-extended imm32.
        const _: () = assert!(FuelMeter::MAX_CHARGE <= i32::MAX as u32);
        let charge = charge as i32;
        self.asm.mov_rm(
            OperandSize::S64,
            SCRATCH,
            &Amode::base(VMCTX, VMContext::STORE_CONTEXT as i32),
        );
        match self.pending_condition_reg() {
            None => self.asm.add_mi(OperandSize::S64, &fuel_counter(), charge),
            // The flags hold a comparison the operator consumes: add
            // without writing them, through the comparison's register.
            Some(reg) => {
                self.asm.mov_rm(OperandSize::S64, reg, &fuel_counter());
                self.asm
                    .lea(OperandSize::S64, reg, &Amode::base(reg, charge));
                self.asm.mov_mr(OperandSize::S64, &fuel_counter(), reg);
            }
        }
    }

    /// The checks of a function entry or a loop header: fuel, then the
    /// epoch, as the tunables ask. Every value must be in memory (no
    /// register, no pending comparison).
    pub(crate) fn emit_metering_checks(&mut self) {
        debug_assert!(
            self.pending_condition_reg().is_none(),
            "a comparison is pending at a checked header"
        );
        if self.fuel.is_some() {
            self.asm.mov_rm(
                OperandSize::S64,
                SCRATCH,
                &Amode::base(VMCTX, VMContext::STORE_CONTEXT as i32),
            );
            self.asm.cmp_mi(OperandSize::S64, &fuel_counter(), 0);
            self.asm.trap_if(CC::GE, Trap::OutOfFuel.code());
        }
        if self.env.tunables().epoch_interruption {
            self.asm.mov_rm(
                OperandSize::S64,
                SCRATCH,
                &Amode::base(VMCTX, VMContext::EPOCH_COUNTER as i32),
            );
            self.asm
                .mov_rm(OperandSize::S64, SCRATCH, &Amode::base(SCRATCH, 0));
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
            // No operands: the value stack is empty after the body, and
            // was all in memory at the check.
            self.call_builtin(Builtin::NewEpoch, &[]);
            self.asm.jmp(stub.resume);
            self.asm.end_srcloc();
        }
        self.sp_offset = end_sp_offset;
        Ok(())
    }
}
