//! Fuel metering and epoch interruption: what compiled code charges, and
//! where it checks, the same in both tiers.
//!
//! Both are off unless the engine asks for them
//! ([`Tunables::consume_fuel`](crate::tunables::Tunables::consume_fuel),
//! [`Tunables::epoch_interruption`](crate::tunables::Tunables::epoch_interruption)),
//! and a tier compiles them from this module alone: [`cost`] says what
//! each operator costs, [`FuelMeter`] where the charges are added up, and
//! [`checks_at_header`] where the checks go. So a function compiled by one
//! tier charges exactly what the other's would, to the unit, whatever the
//! execution (and a test compares them on generated modules).
//!
//! # Fuel
//!
//! The store's [`VMStoreContext::FUEL_CONSUMED`] counts up towards zero:
//! giving the store `n` fuel sets it to `-n`. Each operator costs
//! [`cost`] (Wasmtime's model: 0 for `nop`, `drop`, `block`, `loop`,
//! `end`, `else`, `unreachable` and `return`, 1 for every other).
//! Charging every operator as it runs would cost a memory update each;
//! instead the tier adds up at compile time the costs of a straight-line
//! region and adds the sum to the counter once, at the region's end,
//! before the operator that ends it ([`FuelMeter::charge`]): a branch, a
//! call, `return`, `unreachable`, or a construct's start or end — every
//! point where control may go elsewhere or arrive from elsewhere. The
//! ending operator's own cost is part of the sum, so a call is paid before
//! the callee runs; a trap in the middle of a region (a load out of
//! bounds, a division by zero) leaves that region's charge unpaid, in both
//! tiers alike.
//!
//! The check — `FUEL_CONSUMED >= 0` traps with `OutOfFuel` — is made at
//! two places only: on entry to every function (before its body) and at
//! every loop header (each iteration). Between checks code runs on, so a
//! store may end a call slightly in debt (the counter above zero); every
//! unbounded execution passes a check infinitely often, since wasm without
//! loops or calls runs in time linear in its size.
//!
//! ```text
//!   func entry:   check                         ─┐ region 1
//!                 i32.const, local.get, i32.add  │ 3 (summed at compile time)
//!                 charge 3, then `loop`         ◄─┘
//!   loop header:  check                         ─┐ region 2
//!                 local.get, i32.eqz             │ 2
//!                 charge 3, then `br_if 0`      ◄─┘ (+1 for br_if)
//!                 charge 0, then `end`  (nothing emitted for 0)
//! ```
//!
//! # Epochs
//!
//! The engine has one epoch counter; [`VMContext::EPOCH_COUNTER`] points at
//! it. Each instance's [`VMContext::EPOCH_DEADLINE`] holds its store's
//! deadline. At the same two places as the fuel check (function entries,
//! but for functions that make no call, and loop headers; after the fuel
//! check when both are on) the tier
//! loads the epoch and compares it with the deadline; at or past the
//! deadline it calls the [`Builtin::NewEpoch`](crate::builtins::Builtin::NewEpoch)
//! builtin, which asks the store (trap with `Interrupt`, or run the
//! embedder's callback, which may move the deadline) and either returns 0
//! to go on or non-zero, on which the code traps with `Interrupt`.
//!
//! A function that makes no call (to wasm or to the host; builtins do not
//! count, as none runs wasm) need not check the epoch at its entry: an
//! unbounded execution inside it passes one of its loop headers over and
//! over, and an unbounded chain of calls passes the entries of functions
//! that make calls. So neither tier checks it there
//! ([`checks_epoch_at_entry`]): the small leaf functions a hot loop calls
//! then cost nothing more (in the optimizing tier they keep the frame
//! without a stack check they have with epochs off). A call to such a
//! function past the deadline runs to its end, in time bounded by its
//! size, and the next check stops the code. Fuel is checked at
//! every entry, so that `OutOfFuel` traps at a function's entry as
//! Wasmtime's does.
//!
//! Only the host moves the deadline: the embedder between calls, a host
//! function, or the callback `NewEpoch` runs. So inside a loop that makes
//! no call the deadline changes only through that loop's own checks'
//! slow paths, and a tier may keep it in a register there, reloaded after
//! the slow path ([`loops_without_calls`] finds those loops; the
//! optimizing tier does this, the baseline tier compares with the
//! deadline in memory everywhere).
//!
//! [`VMStoreContext::FUEL_CONSUMED`]: crate::vmoffsets::VMStoreContext::FUEL_CONSUMED
//! [`VMContext::EPOCH_COUNTER`]: crate::vmoffsets::VMContext::EPOCH_COUNTER
//! [`VMContext::EPOCH_DEADLINE`]: crate::vmoffsets::VMContext::EPOCH_DEADLINE

use wasmparser::{FunctionBody, Operator};

/// The fuel an operator costs: 0 for those that do nothing at run time or
/// only end execution, 1 for every other.
pub fn cost(op: &Operator) -> u32 {
    match op {
        Operator::Nop
        | Operator::Drop
        | Operator::Block { .. }
        | Operator::Loop { .. }
        | Operator::End
        | Operator::Else
        | Operator::Unreachable
        | Operator::Return => 0,
        _ => 1,
    }
}

/// Whether the straight-line region ends before `op`: `op` may send
/// control elsewhere (a branch, a call, a return, a throw, a trap that
/// always happens) or is where control arrives from elsewhere (a loop's
/// header, the end of a construct, an `else`, a handler).
fn ends_region(op: &Operator) -> bool {
    matches!(
        op,
        Operator::Unreachable
            | Operator::Return
            | Operator::Br { .. }
            | Operator::BrIf { .. }
            | Operator::BrTable { .. }
            | Operator::BrOnNull { .. }
            | Operator::BrOnNonNull { .. }
            | Operator::BrOnCast { .. }
            | Operator::BrOnCastFail { .. }
            | Operator::If { .. }
            | Operator::Else
            | Operator::End
            | Operator::Loop { .. }
            | Operator::Call { .. }
            | Operator::CallIndirect { .. }
            | Operator::CallRef { .. }
            | Operator::ReturnCall { .. }
            | Operator::ReturnCallIndirect { .. }
            | Operator::ReturnCallRef { .. }
            | Operator::Throw { .. }
            | Operator::ThrowRef
            | Operator::Rethrow { .. }
            | Operator::TryTable { .. }
            | Operator::Try { .. }
            | Operator::Catch { .. }
            | Operator::CatchAll
            | Operator::Delegate { .. }
    )
}

/// Whether a function with this body checks the epoch at its entry:
/// whether it makes a call, to wasm or the host (see the module docs).
/// A body that does not decode is taken to make calls (its validation
/// fails anyway). Both tiers ask this before compiling the body, so they
/// agree; it reads the body once more, which only functions compiled
/// with epochs on pay.
pub fn checks_epoch_at_entry(body: &FunctionBody<'_>) -> bool {
    let Ok(mut reader) = body.get_operators_reader() else {
        return true;
    };
    while !reader.eof() {
        match reader.read() {
            Ok(op) if !is_call(&op) => {}
            _ => return true,
        }
    }
    false
}

/// Whether `op` calls wasm or the host (directly, indirectly or as a tail
/// call): what may run the host's code, which alone may move the epoch
/// deadline (a builtin does not, but for the epoch check's own).
fn is_call(op: &Operator<'_>) -> bool {
    matches!(
        op,
        Operator::Call { .. }
            | Operator::CallIndirect { .. }
            | Operator::CallRef { .. }
            | Operator::ReturnCall { .. }
            | Operator::ReturnCallIndirect { .. }
            | Operator::ReturnCallRef { .. }
    )
}

/// A `loop` whose loop makes no call ([`loops_without_calls`]).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct CallFreeLoop {
    /// The `loop` operator's offset.
    pub offset: u64,
    /// Whether the loop is the outermost of a nest of loops that make no
    /// call: its innermost enclosing loop, if any, makes a call. A tier
    /// that keeps the deadline in a register loads it before such a loop
    /// only; inside one, the register already holds it.
    pub outermost: bool,
}

/// The `loop` operators in this body whose loop (the `loop` to its `end`,
/// nested loops included) makes no call, by ascending offset. In such a
/// loop nothing but the epoch check's own slow path can move the epoch
/// deadline, so a tier may keep the deadline in a register across it (the
/// optimizing tier does). A body that does not decode has none (its
/// validation fails anyway). O(n log n) in the body.
pub fn loops_without_calls(body: &FunctionBody<'_>) -> Vec<CallFreeLoop> {
    let Ok(mut reader) = body.get_operators_reader() else {
        return Vec::new();
    };
    // The open blocks (whether each is a loop), and the open loops: each
    // one's offset and whether it calls. A call marks the innermost open
    // loop only; a loop that calls marks its enclosing one when it ends,
    // so each operator costs O(1).
    let mut open: Vec<bool> = Vec::new();
    let mut loops: Vec<(u64, bool)> = Vec::new();
    // The loops that make no call, each with its enclosing loop's offset.
    let mut found: Vec<(u64, Option<u64>)> = Vec::new();
    while !reader.eof() {
        let Ok((op, offset)) = reader.read_with_offset() else {
            return Vec::new();
        };
        match op {
            Operator::Loop { .. } => {
                open.push(true);
                loops.push((offset, false));
            }
            Operator::Block { .. }
            | Operator::If { .. }
            | Operator::TryTable { .. }
            | Operator::Try { .. } => open.push(false),
            Operator::End | Operator::Delegate { .. } if open.pop() == Some(true) => {
                let (offset, calls) = loops.pop().expect("an open loop");
                let outer = loops.last_mut();
                if !calls {
                    found.push((offset, outer.map(|o| o.0)));
                } else if let Some(outer) = outer {
                    outer.1 = true;
                }
            }
            ref op if is_call(op) => {
                if let Some(innermost) = loops.last_mut() {
                    innermost.1 = true;
                }
            }
            _ => {}
        }
    }
    found.sort_unstable();
    let call_free = |offset: u64| found.binary_search_by_key(&offset, |l| l.0).is_ok();
    found
        .iter()
        .map(|&(offset, outer)| CallFreeLoop {
            offset,
            outermost: !outer.is_some_and(call_free),
        })
        .collect()
}

/// Whether a tier checks fuel and the epoch right after compiling `op`'s
/// start, at the header it opens: a `loop`. (Function entries are checked
/// too, before the first operator.)
pub fn checks_at_header(op: &Operator) -> bool {
    matches!(op, Operator::Loop { .. })
}

/// The fuel of the straight-line region being compiled: the sum of its
/// operators' costs, not yet charged.
///
/// A tier makes one per function and calls [`FuelMeter::charge`] before
/// compiling each operator in reachable code (and never for unreachable
/// code: every operator after which code is unreachable ends a region, so
/// nothing is pending there). When it returns a non-zero amount the tier
/// adds it to the fuel counter before the operator's code.
#[derive(Debug, Default)]
pub struct FuelMeter {
    pending: u32,
}

impl FuelMeter {
    /// Fuel a region may add up before it is charged even though it has
    /// not ended, so that a charge always fits a sign-extended 32-bit
    /// immediate (a function body of a billion operators would reach it).
    pub const MAX_CHARGE: u32 = 1 << 30;

    /// A meter at a function's entry, with nothing pending.
    pub fn new() -> FuelMeter {
        FuelMeter::default()
    }

    /// Counts `op` into the region and returns what the tier must add to
    /// the fuel counter before `op`'s code: the region's sum if `op` ends
    /// it (or the sum reached [`FuelMeter::MAX_CHARGE`]), otherwise 0.
    pub fn charge(&mut self, op: &Operator) -> u32 {
        self.pending += cost(op);
        if ends_region(op) || self.pending >= FuelMeter::MAX_CHARGE {
            core::mem::take(&mut self.pending)
        } else {
            0
        }
    }

    /// The fuel counted but not yet charged (0 at every region's end).
    pub fn pending(&self) -> u32 {
        self.pending
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use wasmparser::{BlockType, Operator};

    #[test]
    fn a_region_is_charged_once_at_the_operator_that_ends_it() {
        let mut meter = FuelMeter::new();
        let ops = [
            Operator::I32Const { value: 1 },
            Operator::Nop,
            Operator::LocalGet { local_index: 0 },
            Operator::I32Add,
            Operator::Drop,
            Operator::Loop {
                blockty: BlockType::Empty,
            },
            Operator::LocalGet { local_index: 0 },
            Operator::BrIf { relative_depth: 0 },
            Operator::End,
            Operator::Call { function_index: 0 },
            Operator::Return,
        ];
        let charges: Vec<u32> = ops.iter().map(|op| meter.charge(op)).collect();
        assert_eq!(charges, [0, 0, 0, 0, 0, 3, 0, 2, 0, 1, 0]);
        assert_eq!(meter.pending(), 0);
    }

    #[test]
    fn loops_without_calls_are_found_through_nesting() {
        let bytes = [
            0x00, // no locals
            0x03, 0x40, // 1: loop, calls (through the loop inside)
            0x03, 0x40, // 3: loop, calls
            0x10, 0x00, // call 0
            0x0b, // end
            0x03, 0x40, // 8: loop, no call
            0x01, // nop
            0x0b, // end
            0x0b, // end
            0x02, 0x40, // block
            0x03, 0x40, // 15: loop, no call
            0x0b, // end
            0x0b, // end
            0x0b, // end of the function
        ];
        let body = FunctionBody::new(wasmparser::BinaryReader::new(&bytes, 0));
        let free = |offset, outermost| CallFreeLoop { offset, outermost };
        assert_eq!(loops_without_calls(&body), [free(8, true), free(15, true)]);
        assert!(checks_epoch_at_entry(&body));
        // Two loops that make no call, one inside the other.
        let leaf = [0x00, 0x03, 0x40, 0x03, 0x40, 0x0b, 0x0b, 0x0b];
        let body = FunctionBody::new(wasmparser::BinaryReader::new(&leaf, 0));
        assert_eq!(loops_without_calls(&body), [free(1, true), free(3, false)]);
        assert!(!checks_epoch_at_entry(&body));
    }

    #[test]
    fn only_a_loop_opens_a_checked_header() {
        assert!(checks_at_header(&Operator::Loop {
            blockty: BlockType::Empty
        }));
        assert!(!checks_at_header(&Operator::Block {
            blockty: BlockType::Empty
        }));
        assert!(!checks_at_header(&Operator::End));
    }
}
