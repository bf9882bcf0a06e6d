//! The translation state: the value stack and the control frames.
//!
//! The **value stack** mirrors wasm's operand stack, holding the IR value
//! of each operand. Operators pop their operands' values and push their
//! results' values; no operand ever lives anywhere else, because SSA values
//! may be used wherever their definition dominates, and the definition of
//! every value on the stack dominates the current block (it was made on
//! the path that reached here, and every join passes the values it
//! merges as block parameters).
//!
//! A **control frame** per open `block`, `loop`, `if` (and the function
//! body) says where branches to it go and what they carry:
//!
//! ```text
//!   frame      branch target             branch carries   after `end`
//!   ─────────  ────────────────────────  ───────────────  ──────────────────────────
//!   function   exit block (made lazily)  the results      `return` of the results
//!   block      destination (lazily)      the results      destination, or in place
//!   if/else    destination (lazily)      the results      destination
//!   loop       header (made at `loop`)   the parameters   in place (only the
//!                                                         fall-through gets there)
//! ```
//!
//! The destination of a `block` is created only when something branches to
//! it: a block that is only fallen out of needs no IR block at all, and its
//! code simply continues in the current IR block. Block parameters carry
//! the values that flow into a join (a destination's parameters are the
//! frame's results, a loop header's the loop's parameters).
//!
//! Code after `br`, `br_table`, `return` or `unreachable` is unreachable
//! until the end of the frame (or an `else`). The translator then only
//! validates operators, and follows what each did to the validator's
//! control stack ([`duet_environ::control`]): any operator that opens a
//! frame there (`block`, `loop`, `if`, `try_table`, `try`, ... even one
//! the translator refuses in reachable code) opens a [`FrameKind::Dead`]
//! frame, whose dividers and `end` (or `delegate`) are matched without
//! creating anything. Only a live frame's `else` and `end` are
//! translated there, since the code after them may be reachable.

use cranelift_codegen::ir::{Block, Type, Value};

/// What kind of construct a frame is, with what only that kind needs.
#[derive(Clone, Debug)]
pub(crate) enum FrameKind {
    /// The function body.
    Function,
    /// A `block`.
    Block,
    /// A `loop`, whose header branches return to.
    Loop {
        /// The header: its parameters are the loop's parameters.
        header: Block,
    },
    /// An `if`, before or after its `else`.
    If {
        /// Where the condition goes when false.
        else_block: Block,
        /// The `if`'s parameters, which the `else` arm (or, without one,
        /// the false edge to the end) starts from.
        params: Vec<Value>,
        /// Whether `else` was met.
        has_else: bool,
    },
    /// A construct opened in unreachable code (of any kind, `try_table`
    /// and `try` included): nothing inside runs.
    Dead,
}

/// One open construct (see the [module docs](self)).
#[derive(Clone, Debug)]
pub(crate) struct ControlFrame {
    /// Which construct.
    pub kind: FrameKind,
    /// Where branches to the frame's end go, once something needs it.
    pub destination: Option<Block>,
    /// The height of the value stack below the frame's parameters.
    pub base: usize,
    /// How many parameters the frame takes from the stack.
    pub num_params: usize,
    /// The types of the frame's results.
    pub results: Vec<Type>,
}

impl ControlFrame {
    /// How many values a branch to this frame carries.
    pub fn branch_arity(&self) -> usize {
        match self.kind {
            FrameKind::Loop { .. } => self.num_params,
            _ => self.results.len(),
        }
    }
}

/// The value stack and control frames of the function being translated,
/// reused from one function to the next.
#[derive(Default)]
pub(crate) struct TranslationState {
    /// The value stack.
    pub stack: Vec<Value>,
    /// The open frames, the function's first.
    pub control: Vec<ControlFrame>,
    /// Whether the current position can be reached (see the module docs).
    pub reachable: bool,
}

impl TranslationState {
    /// Empties the state for the next function.
    pub fn clear(&mut self) {
        self.stack.clear();
        self.control.clear();
        self.reachable = true;
    }

    /// Pops one value.
    pub fn pop1(&mut self) -> Value {
        self.stack
            .pop()
            .expect("the validator checked the operand stack's height")
    }

    /// Pops two values, in push order.
    pub fn pop2(&mut self) -> (Value, Value) {
        let b = self.pop1();
        let a = self.pop1();
        (a, b)
    }

    /// Pops three values, in push order.
    pub fn pop3(&mut self) -> (Value, Value, Value) {
        let c = self.pop1();
        let (a, b) = self.pop2();
        (a, b, c)
    }

    /// The top `n` values, in push order.
    pub fn peekn(&self, n: usize) -> &[Value] {
        &self.stack[self.stack.len() - n..]
    }

    /// Removes the top `n` values.
    pub fn popn(&mut self, n: usize) {
        let len = self.stack.len() - n;
        self.stack.truncate(len);
    }

    /// The frame `depth` levels out from the innermost (a branch's
    /// relative depth).
    pub fn frame_index(&self, depth: u32) -> usize {
        self.control.len() - 1 - depth as usize
    }
}
