//! What an operator did to the validator's control stack: how both
//! compilers keep their frames matched in unreachable code.
//!
//! Both tiers validate each operator just before compiling it, and keep
//! a control frame of their own per open construct. In reachable code
//! they compile every operator, so each frame the validator opens is one
//! the tier opened too (or the tier refused the operator as unsupported
//! and stopped). Unreachable code (after `br`, `br_table`, `return`,
//! `unreachable`, `throw`, ...) is validated but not compiled, and there
//! the tiers ask the validator what the operator did instead of knowing
//! which operators open, divide and close constructs:
//!
//! ```text
//!   validator's control stack        FrameChange  the tier, unreachable
//!   ───────────────────────────────  ───────────  ──────────────────────────────
//!   one frame more                   Opened       pushes a dead frame
//!   (block, loop, if, try_table,
//!    try, and whatever opens one
//!    in a later proposal)
//!   top frame replaced by one of     Replaced     dead top: nothing; live `if`
//!   another kind (else: If → Else,               and `to` Else: its `else`
//!   catch, catch_all)
//!   one frame fewer (end, delegate)  Closed       dead top: pops it; live top:
//!                                                 its `end` (reachable again?)
//!   anything else                    Unchanged    nothing
//! ```
//!
//! A *dead* frame is one opened in unreachable code: nothing in it runs,
//! no branch to it is compiled, and it is never reachable. A *live* frame
//! is one a tier compiled (a `block`, `loop`, `if` or the function body),
//! and since reachability only ever resumes at a live frame's `else` or
//! `end`, dead frames are always above live ones.
//!
//! The change is read off the validator (its control-stack height and the
//! innermost frame's kind, before and after the operator), so it cannot
//! fall out of step with it: an operator a tier has never heard of still
//! opens or closes exactly the frames the validator says. The one change
//! it cannot see is a legacy `catch` after a `catch` (a frame replaced by
//! one of the same kind, reported as `Unchanged`); only a `try` frame has
//! such dividers, and no tier compiles `try`, so a `try` is always dead
//! and its dividers do not matter.

use wasmparser::{FrameKind, FuncValidator, WasmModuleResources};

/// The validator's control stack as far as [`FrameChange`] needs it: its
/// height and the innermost frame's kind.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct ControlSnapshot {
    height: u32,
    innermost: Option<FrameKind>,
}

impl ControlSnapshot {
    /// The control stack of `validator` now.
    pub fn of<T: WasmModuleResources>(validator: &FuncValidator<T>) -> Self {
        ControlSnapshot {
            height: validator.control_stack_height(),
            innermost: validator.get_control_frame(0).map(|frame| frame.kind),
        }
    }

    /// What one operator did, from the snapshot before it (`self`) and
    /// the one after it.
    pub fn change(self, after: ControlSnapshot) -> FrameChange {
        match after.height.cmp(&self.height) {
            core::cmp::Ordering::Greater => FrameChange::Opened,
            core::cmp::Ordering::Less => FrameChange::Closed,
            core::cmp::Ordering::Equal => match (self.innermost, after.innermost) {
                (Some(from), Some(to)) if from != to => FrameChange::Replaced { from, to },
                _ => FrameChange::Unchanged,
            },
        }
    }
}

/// What one operator did to the validator's control stack (see the
/// [module docs](self)).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum FrameChange {
    /// The frames are as they were.
    Unchanged,
    /// A frame was opened.
    Opened,
    /// The innermost frame was replaced by one of another kind: `else`
    /// (`If` to `Else`), `catch` or `catch_all` after `try`, `catch_all`
    /// after `catch`.
    Replaced {
        /// The kind of the frame replaced.
        from: FrameKind,
        /// The kind of the frame that replaced it.
        to: FrameKind,
    },
    /// The innermost frame was closed (`end`, `delegate`).
    Closed,
}

#[cfg(test)]
mod tests {
    use super::*;
    use wasmparser::{Operator, Parser, Payload, Validator, WasmFeatures};

    /// The change each operator of the first function body of `wat`
    /// makes, in order.
    fn changes(wat: &str) -> Vec<FrameChange> {
        let wasm = wat::parse_str(wat).unwrap();
        let mut validator = Validator::new_with_features(WasmFeatures::all());
        for payload in Parser::new(0).parse_all(&wasm) {
            let payload = payload.unwrap();
            if let Payload::CodeSectionEntry(body) = &payload {
                let func = validator.code_section_entry(body).unwrap();
                let mut func = func.into_validator(Default::default());
                let mut locals = body.get_locals_reader().unwrap();
                for _ in 0..locals.get_count() {
                    let offset = locals.original_position();
                    let (count, ty) = locals.read().unwrap();
                    func.define_locals(offset, count, ty).unwrap();
                }
                let mut reader = body.get_operators_reader().unwrap();
                let mut out = Vec::new();
                while !reader.eof() {
                    let (op, offset) = reader.read_with_offset().unwrap();
                    let before = ControlSnapshot::of(&func);
                    func.op(offset, &op).unwrap();
                    out.push(before.change(ControlSnapshot::of(&func)));
                    if matches!(op, Operator::End) && func.control_stack_height() == 0 {
                        break;
                    }
                }
                return out;
            }
            validator.payload(&payload).unwrap();
        }
        panic!("no function body")
    }

    #[test]
    fn every_construct_opens_and_closes_one_frame() {
        use FrameChange::*;
        use FrameKind::{Else, If, LegacyCatch, LegacyCatchAll, LegacyTry};
        let replaced = |from, to| Replaced { from, to };
        assert_eq!(
            changes(
                "(module (tag $t) (func
                   block loop i32.const 0 if nop else end end end
                   try_table (catch_all 0) end
                   try catch $t catch_all end
                   try delegate 0
                   unreachable try_table end))"
            ),
            [
                Opened, // block
                Opened, // loop
                Unchanged,
                Opened, // if
                Unchanged,
                replaced(If, Else),
                Closed,
                Closed,
                Closed,
                Opened, // try_table
                Closed,
                Opened, // try
                replaced(LegacyTry, LegacyCatch),
                replaced(LegacyCatch, LegacyCatchAll),
                Closed,
                Opened, // try
                Closed, // delegate
                Unchanged,
                Opened, // try_table in unreachable code
                Closed,
                Closed, // the function
            ]
        );
    }
}
