//! The IR's entity references: four-byte indices into a function's tables.

use crate::entity::entity_ref;

entity_ref! {
    /// A basic block (extended: one entry, a terminator at the end).
    Block => "block";
    /// An SSA value: an instruction's result or a block parameter.
    Value => "v";
    /// An instruction.
    Inst => "inst";
    /// A stack slot of the function's frame.
    StackSlot => "ss";
    /// A signature used by calls.
    SigRef => "sig";
    /// A function called directly.
    FuncRef => "fn";
    /// A jump table of a `br_table`.
    JumpTable => "jt";
    /// A 128-bit immediate in the function's constant pool (a `vconst`'s
    /// value, a `shuffle`'s mask).
    Constant => "const";
}
