//! Fuel metering and epoch interruption, as
//! [`duet_environ::metering`] prescribes, compiled to IR.
//!
//! Both are off by default, and then nothing here emits anything: the
//! code is the same as without this module.
//!
//! # Where
//!
//! The driver (`Translator::operators`) feeds every operator of
//! *reachable* code, and only those, to the function's
//! [`FuelMeter`] before translating it, and emits the charge it returns
//! before the operator's first instruction (so before a call's arguments
//! are passed, a `br_if`'s test, an `end`'s results). After a `loop` it
//! emits the checks at the header the loop's back edges jump to; the
//! function's entry block gets the fuel check before the first operator.
//! Since the meter sees the same operators in the same order as the
//! baseline tier's, both charge the same amounts at the same points.
//!
//! The epoch is checked at loop headers and, right after their charge,
//! before the calls [`calls_checked_for_epoch`] lists (for both tiers):
//! those that some path from the entry reaches unchecked. So a function
//! that makes no call to wasm or the host has no epoch check but its
//! loops', and a leaf function keeps the frame without a stack check it
//! has without epochs (the check's slow path would be a call).
//!
//! Code can also become unreachable in the middle of a region: a heap
//! access whose offset overflows traps unconditionally (`memory.rs`). The
//! region is then never charged (it traps before its end, as an access
//! out of bounds would at run time), so the meter starts afresh.
//!
//! # What
//!
//! The counter `FUEL_CONSUMED` lives in memory, where the host reads it
//! after a trap, and in an SSA variable `fuel` (a local the frontend's
//! SSA construction threads through the blocks like the wasm locals).
//! The instance's `EPOCH_DEADLINE` is compared where it is in memory
//! (`cmp rax, [vmctx+0x18]`, a load folded into the compare) before the
//! checked calls and at the headers of loops that make a call: a
//! variable would hold a register through the whole function and need a
//! reload after every call. In a loop that makes no call
//! ([`loops_without_calls`]), nothing but the check's own slow path can
//! move the deadline, so a variable `deadline` caches it there: loaded
//! just before the outermost loop of a nest of such loops, reloaded after
//! the slow path's call, compared in a register. The loop's checks then need neither the deadline's load
//! nor the VMContext pointer, which in a function that makes calls
//! elsewhere lives in a spill slot and would be reloaded on every
//! iteration.
//!
//! ```text
//!   entry:   ctx      = load.i64 notrap aligned readonly vmctx+STORE_CONTEXT
//!            epochp   = load.i64 notrap aligned readonly vmctx+EPOCH_COUNTER
//!            fuel     = load.i64 notrap aligned ctx+FUEL_CONSUMED
//!   charge k:
//!            fuel     = iadd fuel, k
//!                       store notrap aligned fuel, ctx+FUEL_CONSUMED
//!   after a call (wasm, host or builtin):
//!            fuel     = load.i64 notrap aligned ctx+FUEL_CONSUMED
//!   fuel check:
//!            out      = icmp sge fuel, 0
//!                       brif out, out_of_fuel (cold), next
//!   out_of_fuel:        trap OutOfFuel
//!   before the outermost of nested loops that make no call:
//!            deadline = load.i64 notrap aligned vmctx+EPOCH_DEADLINE
//!   epoch check:
//!            epoch    = load.i64 notrap aligned epochp
//!            deadline = load.i64 notrap aligned vmctx+EPOCH_DEADLINE
//!                       (in a loop that makes no call: the variable)
//!            due      = icmp uge epoch, deadline
//!                       brif due, new_epoch (cold), next
//!   new_epoch:          status = call NewEpoch(vmctx)   ; preserve_all
//!                       (fuel reloaded: it is a call; so is the
//!                       deadline variable, in a loop that makes no call)
//!                       trapnz status, Interrupt
//!                       jump next
//! ```
//!
//! Why the fuel variable is exact: only the function's own charges and the
//! calls it makes can change the counter while it runs (a store runs on
//! one thread, and the host can set the fuel only while no wasm runs or
//! from inside a call: a host function, a builtin, the epoch callback
//! that `NewEpoch` runs). Each charge stores the new value, so memory is
//! exact after every charge whatever traps next; each call is followed by
//! a reload; so at every point the variable equals memory, and the check
//! may compare the variable, in a register, instead of loading. The
//! stores and calls
//! have effects, which no pass moves or removes
//! (`cranelift_codegen::opts`), and neither do the branches of the
//! checks; so the order of charges, checks and traps is the one written.
//! The epoch itself is loaded at each check: another thread moves it.
//! That load is not `readonly`, so LICM leaves it in its loop, and
//! redundant-load elimination (`opts/rle.rs`) never merges two of them:
//! each check's `next` block joins the fast path and `new_epoch`, and a
//! join starts with nothing known. The deadline's load is not `readonly`
//! either (a call may move the deadline); merged with an earlier one by
//! redundant-load elimination, it is still exact, since no call came
//! between them.
//!
//! The two pointers never change while the instance lives, so they are
//! loaded once and flagged `readonly` (the mid-end may merge and hoist
//! them); they are plain values, not variables, so they add no block
//! parameters.
//!
//! The fuel check branches to a cold trap rather than using `trapnz`, so
//! that the compare fuses with the branch (`test; jge`). Cold blocks are
//! laid out after the function's other code and their instructions are
//! not hoisted out of loops, so the fast path of each check is one
//! compare and one branch not taken (plus the epoch's load, the
//! deadline's folded into the compare: `mov rax, [r13]; cmp rax,
//! [r14+0x18]; jae`).
//!
//! The checks cost the code around them no register. `NewEpoch` is a
//! System V function, which may change every caller-saved register; were
//! the cold call declared so, every value live across a check would need
//! a callee-saved register or a spill slot, and the allocator's splits
//! around the call would put moves in the loop. It is called with the
//! `preserve_all` convention instead
//! ([`CallConv::PreserveAll`](cranelift_codegen::ir::CallConv)): the
//! backend saves every caller-saved GPR but the status register and all
//! sixteen XMM registers (in full) around the call, in the cold block, so
//! the allocator sees a call that changes only its result, and the loop
//! keeps its values where they are
//! (`tests/disas/cranelift-metered/loop.disas`: the loop of `count` has
//! no move for the check). Taking the slow path costs some 50
//! instructions more, once per epoch. The slow path's jump back to
//! `next` is no loop's back edge, so `next` gets no loop alignment and
//! the fast path no padding (`machinst::vcode`).
//!
//! A smaller cost comes from the mid-end folding two charges
//! into one sum from the older counter (`fuel+8`, then `fuel+9` on the
//! loop's exit rather than `(fuel+8)+1`), which keeps both live at the
//! back edge's branch.

use crate::func_translator::Translator;
use cranelift_codegen::builder::Variable;
use cranelift_codegen::ir::{IntCC, MemFlags, Type, Value};
use duet_environ::builtins::Builtin;
use duet_environ::metering::{
    CallFreeLoop, FuelMeter, calls_checked_for_epoch, checks_at_header, loops_without_calls,
};
use duet_environ::trap::Trap;
use duet_environ::vmoffsets::{VMContext, VMStoreContext};
use wasmparser::{FunctionBody, Operator};

/// The per-function metering state: the meter, the pointers loaded at
/// entry, and the variable caching the fuel counter (`None` when the
/// feature is off).
#[derive(Default)]
pub(crate) struct Metering {
    meter: FuelMeter,
    /// The store's `VMStoreContext` and the variable holding its
    /// `FUEL_CONSUMED`, when fuel is on.
    fuel: Option<(Value, Variable)>,
    /// The engine's epoch counter, when epochs are on.
    epoch: Option<Value>,
    /// The variable caching the epoch deadline in loops that make no
    /// call, and the offsets of those loops' `loop` operators, ascending
    /// (when epochs are on).
    deadline: Option<(Variable, Vec<CallFreeLoop>)>,
    /// The offsets of the calls preceded by an epoch check, ascending
    /// (empty when epochs are off).
    checked_calls: Vec<u64>,
}

impl Metering {
    /// The variable caching the epoch deadline, if the function has one.
    pub(crate) fn deadline_variable(&self) -> Option<Variable> {
        self.deadline.as_ref().map(|(var, _)| *var)
    }
}

impl Translator<'_, '_> {
    /// At the function's entry, before the first operator: loads the
    /// pointers the checks and charges use and the fuel counter, then
    /// checks fuel (the epoch is checked before the calls
    /// `calls_checked_for_epoch` lists, not here).
    pub(crate) fn metering_entry(&mut self, body: &FunctionBody<'_>) {
        let tunables = self.env.tunables();
        let pointer = MemFlags::trusted().with_readonly();
        self.metering = Metering::default();
        if tunables.consume_fuel {
            let ctx = self.load_at(
                Type::I64,
                pointer,
                self.vmctx,
                u64::from(VMContext::STORE_CONTEXT),
            );
            let var = self.builder.declare_var(Type::I64);
            self.metering.fuel = Some((ctx, var));
            self.reload_fuel();
        }
        if tunables.epoch_interruption {
            let counter = self.load_at(
                Type::I64,
                pointer,
                self.vmctx,
                u64::from(VMContext::EPOCH_COUNTER),
            );
            self.metering.epoch = Some(counter);
            // Reads the body once more, twice: only with epochs on.
            let var = self.builder.declare_var(Type::I64);
            self.metering.deadline = Some((var, loops_without_calls(body)));
            self.metering.checked_calls = calls_checked_for_epoch(body).calls;
        }
        self.metering_checks(false, false);
    }

    /// The deadline variable and whether the loop is the outermost of its
    /// nest, if the `loop` at the current offset makes no call (so the
    /// variable may hold the deadline through it).
    fn call_free_loop(&self) -> Option<(Variable, bool)> {
        let (var, loops) = self.metering.deadline.as_ref()?;
        let i = loops
            .binary_search_by_key(&self.offset, |l| l.offset)
            .ok()?;
        Some((*var, loops[i].outermost))
    }

    /// Defines the deadline variable as the deadline in memory.
    pub(crate) fn reload_deadline(&mut self, var: Variable) {
        let deadline = self.load_at(
            Type::I64,
            MemFlags::trusted(),
            self.vmctx,
            u64::from(VMContext::EPOCH_DEADLINE),
        );
        self.builder.def_var(var, deadline);
    }

    /// Before translating `op`, in reachable code: counts it and emits the
    /// charge the meter asks for, in the variable and in memory; then, if
    /// `op` is a call that `calls_checked_for_epoch` lists, the epoch
    /// check.
    pub(crate) fn metering_before(&mut self, op: &Operator<'_>) {
        if checks_at_header(op)
            && let Some((var, true)) = self.call_free_loop()
        {
            // Before the jump into the outermost loop of a nest that makes
            // no call: the deadline their checks use (inside, the variable
            // holds it already).
            self.reload_deadline(var);
        }
        if let Some((ctx, var)) = self.metering.fuel {
            let k = self.metering.meter.charge(op);
            if k != 0 {
                let fuel = self.builder.use_var(var);
                let k = self.builder.ins().iconst(Type::I64, i64::from(k));
                let fuel = self.builder.ins().iadd(fuel, k);
                let offset = VMStoreContext::FUEL_CONSUMED as i32;
                self.builder
                    .ins()
                    .store(MemFlags::trusted(), fuel, ctx, offset);
                self.builder.def_var(var, fuel);
            }
        }
        if self
            .metering
            .checked_calls
            .binary_search(&self.offset)
            .is_ok()
        {
            self.epoch_check(false);
        }
    }

    /// After translating `op` (which was reachable): the checks at a loop
    /// header; and if `op` made the code unreachable in the middle of a
    /// region (see the module docs), the region's fuel is dropped.
    pub(crate) fn metering_after(&mut self, op: &Operator<'_>) {
        if !self.state.reachable {
            self.metering.meter = FuelMeter::new();
        } else if checks_at_header(op) {
            let call_free = self.call_free_loop().is_some();
            self.metering_checks(true, call_free);
        }
    }

    /// Right after any call (to wasm, to the host, to a builtin): the
    /// callee may have changed the fuel counter, so its variable reloads
    /// it.
    pub(crate) fn metering_after_call(&mut self) {
        if self.metering.fuel.is_some() {
            self.reload_fuel();
        }
    }

    /// Defines the counter's variable as the counter in memory.
    fn reload_fuel(&mut self) {
        let (ctx, var) = self.metering.fuel.expect("fuel is on");
        let offset = VMStoreContext::FUEL_CONSUMED as i32;
        let fuel = self
            .builder
            .ins()
            .load(Type::I64, MemFlags::trusted(), ctx, offset);
        self.builder.def_var(var, fuel);
    }

    /// The fuel check, then the epoch check, each if it is on (the
    /// latter only if `epoch`; against the deadline variable if
    /// `call_free`, the header of a loop that makes no call, else against
    /// the deadline in memory).
    fn metering_checks(&mut self, epoch: bool, call_free: bool) {
        if let Some((_, var)) = self.metering.fuel {
            let fuel = self.builder.use_var(var);
            let zero = self.builder.ins().iconst(Type::I64, 0);
            let out = self
                .builder
                .ins()
                .icmp(IntCC::SignedGreaterThanOrEqual, fuel, zero);
            // A branch to a cold trap, rather than `trapnz`: the branch
            // fuses with the compare.
            let trap = self.builder.create_block();
            let next = self.builder.create_block();
            self.builder.set_cold_block(trap);
            self.builder.ins().brif(out, trap, &[], next, &[]);
            self.builder.seal_block(trap);
            self.builder.seal_block(next);
            self.builder.switch_to_block(trap);
            self.builder.ins().trap(Trap::OutOfFuel.code());
            self.builder.switch_to_block(next);
        }
        if epoch {
            self.epoch_check(call_free);
        }
    }

    /// The epoch check (if epochs are on): against the deadline variable
    /// if `call_free`, the header of a loop that makes no call, else
    /// against the deadline in memory.
    fn epoch_check(&mut self, call_free: bool) {
        if let Some(counter) = self.metering.epoch {
            let flags = MemFlags::trusted();
            let epoch = self.builder.ins().load(Type::I64, flags, counter, 0);
            let cached = self
                .metering
                .deadline
                .as_ref()
                .map(|(var, _)| *var)
                .filter(|_| call_free);
            let deadline = match cached {
                Some(var) => self.builder.use_var(var),
                None => self.load_at(
                    Type::I64,
                    flags,
                    self.vmctx,
                    u64::from(VMContext::EPOCH_DEADLINE),
                ),
            };
            let due = self
                .builder
                .ins()
                .icmp(IntCC::UnsignedGreaterThanOrEqual, epoch, deadline);
            let new_epoch = self.builder.create_block();
            let next = self.builder.create_block();
            self.builder.set_cold_block(new_epoch);
            self.builder.ins().brif(due, new_epoch, &[], next, &[]);
            self.builder.seal_block(new_epoch);
            self.builder.switch_to_block(new_epoch);
            // Traps with `Interrupt` on a non-zero status, and reloads the
            // fuel counter (the callback may have changed it).
            self.call_builtin(Builtin::NewEpoch, &[]);
            if let Some(var) = cached {
                // The callback may have moved the deadline.
                self.reload_deadline(var);
            }
            self.builder.ins().jump(next, &[]);
            self.builder.seal_block(next);
            self.builder.switch_to_block(next);
        }
    }
}
