//! Fuel metering and epoch interruption: what compiled code charges, and
//! where it checks, the same in both tiers.
//!
//! Both are off unless the engine asks for them
//! ([`Tunables::consume_fuel`](crate::tunables::Tunables::consume_fuel),
//! [`Tunables::epoch_interruption`](crate::tunables::Tunables::epoch_interruption)),
//! and a tier compiles them from this module alone: [`cost`] says what
//! each operator costs, [`FuelMeter`] where the charges are added up, and
//! [`checks_at_header`] and [`calls_checked_for_epoch`] where the checks go. So a function compiled by one
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
//! deadline. At each loop header (after the fuel check when both are on)
//! and before some calls (below), the tier loads the epoch and compares
//! it with the deadline; at or past the deadline it calls the
//! [`Builtin::NewEpoch`](crate::builtins::Builtin::NewEpoch)
//! builtin, which asks the store (trap with `Interrupt`, or run the
//! embedder's callback, which may move the deadline) and either returns 0
//! to go on or non-zero, on which the code traps with `Interrupt`.
//!
//! An unbounded execution either stays in one call of a function, and
//! then passes one of its loop headers over and over, or makes calls
//! without end. For the latter it is enough that every call of a function
//! checks the epoch once before the function makes its first call (to
//! wasm or to the host, a tail call included; builtins do not count, as
//! none runs wasm): then each call in an unbounded chain of calls is
//! preceded by a check in its caller. That check need not be at the
//! function's entry. It is made before each call that some path from the
//! entry reaches without passing a check (a loop header, or another such
//! call): [`calls_checked_for_epoch`] finds them, by a forward pass over
//! the structured control flow that keeps whether every path to the
//! current point is checked, joined at the ends of blocks. So a function
//! that makes no call has no such check (the small leaf functions a hot
//! loop calls cost nothing more; in the optimizing tier they keep the
//! frame without a stack check they have with epochs off), and a
//! recursive function pays only on the paths that recurse: `fib`'s and
//! `ackermann`'s base cases, most of their calls, return unchecked. Code
//! that runs past the deadline before a check stops it runs in time
//! bounded by its size (straight-line code, and the calls it makes, which
//! check before they call further). Fuel is checked at every entry, so
//! that `OutOfFuel` traps at a function's entry as Wasmtime's does.
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

/// Where a function checks the epoch ([`calls_checked_for_epoch`]).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct EpochChecks {
    /// The offsets of the calls before which a tier checks the epoch,
    /// ascending.
    pub calls: Vec<u64>,
    /// Whether the body has a loop (whose header is checked).
    pub loops: bool,
}

impl EpochChecks {
    /// Whether the function checks the epoch anywhere (if not, a tier
    /// need not load what the checks use).
    pub fn any(&self) -> bool {
        self.loops || !self.calls.is_empty()
    }
}

/// Where a function with this body checks the epoch besides its loop
/// headers: the calls before which a tier checks it, the function's
/// "entry" check placed where it is needed rather than at the entry (see
/// the module docs). A call is listed unless every path from the
/// function's entry to it passes a check already: a loop header, or a
/// listed call. A body that does not decode has none (its validation
/// fails anyway). Both tiers ask this before compiling the body, so they
/// agree; it reads the body once more, which only functions compiled with
/// epochs on pay. O(n) in the body.
pub fn calls_checked_for_epoch(body: &FunctionBody<'_>) -> EpochChecks {
    let Ok(mut reader) = body.get_operators_reader() else {
        return EpochChecks::default();
    };
    // A forward "must" analysis over the structured control flow: whether
    // every path to the current point has passed a check. Code after an
    // unconditional branch is unreachable and counts as checked, so that it
    // weakens no join. Each open construct keeps whether every path to its
    // end seen so far is checked (branches to it, its fall-through).
    struct Open {
        /// Branches to a loop go to its header, which is checked.
        is_loop: bool,
        /// An `if` without its `else` yet: the state at its start, which
        /// the `else` (or, without one, the `end`'s implicit else) starts from.
        if_start: Option<bool>,
        /// Whether every path to the construct's end seen so far is checked.
        end: bool,
    }
    let mut open: Vec<Open> = vec![Open {
        is_loop: false,
        if_start: None,
        end: true,
    }];
    let mut checked = false;
    let mut found = EpochChecks::default();
    // A branch to the `depth`-th enclosing construct joins its end.
    fn branch(open: &mut [Open], depth: u32, checked: bool) {
        let Some(i) = open.len().checked_sub(depth as usize + 1) else {
            return;
        };
        if !open[i].is_loop {
            open[i].end &= checked;
        }
    }
    while !reader.eof() {
        let Ok((op, offset)) = reader.read_with_offset() else {
            return EpochChecks::default();
        };
        match op {
            ref op if is_call(op) => {
                if !checked {
                    found.calls.push(offset);
                }
                // Checked from here on (and after a tail call, unreachable).
                checked = true;
            }
            Operator::Block { .. } | Operator::Try { .. } => open.push(Open {
                is_loop: false,
                if_start: None,
                end: true,
            }),
            Operator::TryTable { ref try_table } => {
                // A catch branches from a throw inside, at a point at least
                // as checked as this one: join this state (depths are
                // counted from outside the `try_table`).
                for catch in &try_table.catches {
                    let depth = match *catch {
                        wasmparser::Catch::One { label, .. }
                        | wasmparser::Catch::OneRef { label, .. }
                        | wasmparser::Catch::All { label }
                        | wasmparser::Catch::AllRef { label } => label,
                    };
                    branch(&mut open, depth, checked);
                }
                open.push(Open {
                    is_loop: false,
                    if_start: None,
                    end: true,
                });
            }
            Operator::Loop { .. } => {
                open.push(Open {
                    is_loop: true,
                    if_start: None,
                    end: true,
                });
                // The header's check.
                checked = true;
                found.loops = true;
            }
            Operator::If { .. } => open.push(Open {
                is_loop: false,
                if_start: Some(checked),
                end: true,
            }),
            Operator::Else => {
                if let Some(top) = open.last_mut() {
                    top.end &= checked;
                    checked = top.if_start.take().unwrap_or(true);
                }
            }
            Operator::Catch { .. } | Operator::CatchAll => {
                // A legacy handler, reached from a throw anywhere inside the
                // `try`: assumed unchecked.
                if let Some(top) = open.last_mut() {
                    top.end &= checked;
                }
                checked = false;
            }
            Operator::End | Operator::Delegate { .. } => {
                let Some(top) = open.pop() else {
                    break;
                };
                // An `if` without `else` falls through from its start too.
                checked = top.end && checked && top.if_start.unwrap_or(true);
                if open.is_empty() {
                    break;
                }
            }
            Operator::Br { relative_depth } => {
                branch(&mut open, relative_depth, checked);
                checked = true;
            }
            Operator::BrIf { relative_depth }
            | Operator::BrOnNull { relative_depth }
            | Operator::BrOnNonNull { relative_depth }
            | Operator::BrOnCast { relative_depth, .. }
            | Operator::BrOnCastFail { relative_depth, .. } => {
                branch(&mut open, relative_depth, checked);
            }
            Operator::BrTable { ref targets } => {
                branch(&mut open, targets.default(), checked);
                for target in targets.targets() {
                    let Ok(depth) = target else {
                        return EpochChecks::default();
                    };
                    branch(&mut open, depth, checked);
                }
                checked = true;
            }
            Operator::Return
            | Operator::Unreachable
            | Operator::Throw { .. }
            | Operator::ThrowRef
            | Operator::Rethrow { .. } => checked = true,
            _ => {}
        }
    }
    found
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
/// for fuel too, before the first operator; the epoch is checked before
/// the calls [`calls_checked_for_epoch`] lists.)
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
        // The only call is in a loop, after its header's check.
        let checks = calls_checked_for_epoch(&body);
        assert!(checks.calls.is_empty() && checks.loops && checks.any());
        // Two loops that make no call, one inside the other.
        let leaf = [0x00, 0x03, 0x40, 0x03, 0x40, 0x0b, 0x0b, 0x0b];
        let body = FunctionBody::new(wasmparser::BinaryReader::new(&leaf, 0));
        assert_eq!(loops_without_calls(&body), [free(1, true), free(3, false)]);
        assert!(calls_checked_for_epoch(&body).calls.is_empty());
        // No loop, no call: no check at all.
        let straight = [0x00, 0x01, 0x0b];
        let body = FunctionBody::new(wasmparser::BinaryReader::new(&straight, 0));
        assert!(!calls_checked_for_epoch(&body).any());
    }

    /// The offsets `calls_checked_for_epoch` finds in the function whose
    /// body (locals and `end` included) is the text `body`.
    fn checked_calls(body: &str) -> Vec<u64> {
        let wat = format!("(module (func $f (param i32) (result i32) {body}))");
        let wasm = wat::parse_str(&wat).expect("valid text");
        for payload in wasmparser::Parser::new(0).parse_all(&wasm) {
            if let Ok(wasmparser::Payload::CodeSectionEntry(body)) = payload {
                let start = body.range().start;
                return calls_checked_for_epoch(&body)
                    .calls
                    .into_iter()
                    .map(|offset| offset - start)
                    .collect();
            }
        }
        panic!("no function body")
    }

    #[test]
    fn the_epoch_is_checked_before_the_first_call_on_every_path() {
        // fib: the base case returns unchecked, the recursion checks once
        // (at the first call; the second follows it on every path).
        // 0: locals, 1: local.get 0, 3: i32.const 2, 5: i32.lt_s,
        // 6: if, 8: local.get 0, 10: return, 11: end, 12: local.get 0,
        // 14: i32.const 1, 16: i32.sub, 17: call, 19: ...
        let fib = "local.get 0 i32.const 2 i32.lt_s if local.get 0 return end
                   local.get 0 i32.const 1 i32.sub call $f
                   local.get 0 i32.const 2 i32.sub call $f i32.add";
        assert_eq!(checked_calls(fib), [17]);
        // A call in one arm of an `if` does not check the path of the
        // other: the first call after the `if` is checked too.
        // 0: locals, 1: local.get, 3: if, 5: local.get, 7: call, 9: drop,
        // 10: end, 11: local.get, 13: call, 15: local.get, 17: call, 19: i32.add
        let one_arm = "local.get 0 if local.get 0 call $f drop end
                       local.get 0 call $f local.get 0 call $f i32.add";
        assert_eq!(checked_calls(one_arm), [7, 13]);
        // Both arms call: the join is checked.
        // 1: local.get, 3: if (result i32), 5: local.get, 7: call, 9: else,
        // 10: local.get, 12: call, 14: end, 15: call
        let both_arms = "local.get 0 if (result i32) local.get 0 call $f
                         else local.get 0 call $f end call $f";
        assert_eq!(checked_calls(both_arms), [7, 12]);
        // A branch out of a block before the call leaves the block's end
        // unchecked; a loop's header checks what follows it.
        // 1: block, 3: local.get, 5: br_if 0, 7: local.get, 9: call,
        // 11: drop, 12: end, 13: local.get, 15: call, 17: drop,
        // 18: loop, 20: end, 21: local.get, 23: call
        let branch = "block local.get 0 br_if 0 local.get 0 call $f drop end
                      local.get 0 call $f drop loop end local.get 0 call $f";
        assert_eq!(checked_calls(branch), [9, 15]);
        // Code after an unconditional branch weakens no join.
        // 1: block, 3: local.get, 5: call, 7: drop, 8: br 0, 10: end,
        // 11: local.get, 13: call
        let after_br = "block local.get 0 call $f drop br 0 end local.get 0 call $f";
        assert_eq!(checked_calls(after_br), [5]);
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
