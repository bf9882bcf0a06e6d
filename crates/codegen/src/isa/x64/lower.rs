//! Lowering a function to VCode: each IR instruction becomes x64 `MInst`s
//! over virtual registers, chosen by the ISLE rules of
//! `isle/codegen/x64/lower.isle` (generated into [`generated`]) and driven
//! from Rust. The Rust side is split by job:
//!
//! ```text
//!   driver   lower_function: blocks in reverse postorder, edge blocks,
//!      │     deferral, terminators, stack slots
//!      ├──────────────► abi      where the wasm convention puts arguments
//!      │                         and results; `Args`, calls, `return`
//!      ▼
//!   generated::constructor_lower  (the rules, from lower.isle)
//!      │ extern terms
//!      ▼
//!   context  the `Context` the rules call: registers, types, immediates,
//!      │     and the extractors that fold one instruction into another
//!      ▼
//!   fold     the folding policy: which definition may fold into which
//!            operand of which instruction, which ones wait for their use
//!            (deferral), what keeps a load in place; address modes
//! ```
//!
//! `fold` is the one statement of what folds into what (`fold::SITES`).
//! The driver holds back a definition for a rule to fold exactly where it
//! allows, and the rules fold through extractors that accept only what it
//! allows: see its module docs for how each side obeys it, and the test
//! there that checks they agree.
//!
//! `Lower` is the state of one function's lowering, shared by all four
//! (its fields are private to this module and its submodules).

mod abi;
mod context;
mod driver;
mod fold;
#[allow(missing_docs, clippy::all)]
pub mod generated;

pub use abi::{Loc, arg_locations, ret_locations};
pub use driver::lower_function;

use super::ImplicitTraps;
use crate::CodegenError;
use crate::entity::SecondaryMap;
use crate::ir::{self, Function, InstructionData, Opcode};
use crate::machinst::VCode;
use cranelift_asm::reg::{Reg, RegClass};
use cranelift_asm::x64::inst::{GprMem, GprMemImm, WritableGpr};
use cranelift_asm::x64::{CC, GprReg, MInst, OperandSize};

// The names the generated code refers to (`use super::*`).
pub use cranelift_asm::x64::inst::{
    AluOp, Amode, AvxImmOp, AvxInsertOp, AvxOp, AvxShiftImmOp, BitOp, BoxCallInfo, BoxJumpTable,
    ExtMode, FloatSize, GprImm, Label, RoundMode, ShiftAmount, ShiftOp, SseExtractOp, SseImmOp,
    SseInsertOp, SseMovOp, SseMoveMaskOp, SseOp, SseShiftImmOp, SseTestOp, SseUnaryImmOp,
    SseUnaryOp, TrapCode, UnaryOp, WritableXmm, XmmMem, XmmReg,
};
pub use ir::{Constant, FloatCC, Inst, IntCC, Type, Value};

/// Two result registers (quotient and remainder).
pub type ValueRegsPair = (GprReg, GprReg);
/// Three values of a ternary instruction.
pub type ValueArray3 = [Value; 3];
pub use ir::MemFlags;

/// ISLE's unit type.
pub type Unit = ();
/// Two values of a binary instruction.
pub type ValueArray2 = [Value; 2];
/// The registers holding an instruction's results.
pub type InstOutput = Vec<Reg>;

/// The lowering state of one function.
struct Lower<'f> {
    func: &'f Function,
    vcode: VCode,
    /// The register of each value lowered so far.
    regs: SecondaryMap<Value, Option<Reg>>,
    /// How many instructions use each value.
    uses: SecondaryMap<Value, u32>,
    /// The one instruction using each value, when [`Lower::uses`] is 1.
    user: SecondaryMap<Value, Option<Inst>>,
    /// Values used in a block other than their definition's.
    escapes: SecondaryMap<Value, bool>,
    /// Values with a use that the folding policy does not let their
    /// definition fold into (`fold::Fold::of`, `fold::folds_into`):
    /// such a definition is not worth deferring.
    unfoldable_use: SecondaryMap<Value, bool>,
    /// Each instruction's place in the layout, counting from 0 over all
    /// blocks in RPO.
    position: SecondaryMap<Inst, u32>,
    /// `icmp`s (and the `uextend`s between) folded into the `brif` that
    /// uses them.
    sunk: SecondaryMap<Inst, bool>,
    /// Instructions whose lowering waits for a use (see `driver`).
    deferred: SecondaryMap<Inst, bool>,
    /// The deferred loads of the current block, in order.
    pending_loads: Vec<Inst>,
    /// Constants materialized in a VCode block: `(block serial, register)`.
    constants: SecondaryMap<Value, Option<(u32, Reg)>>,
    /// Counts the VCode blocks started, naming the current one.
    serial: u32,
    /// The instruction being lowered.
    current: Option<Inst>,
    /// The first instruction found unlowerable while materializing a value.
    error: Option<CodegenError>,
    /// Each stack slot's displacement from `rbp`.
    slot_disp: SecondaryMap<ir::StackSlot, i32>,
    traps: ImplicitTraps,
}

/// The register class of a type.
fn class_of(ty: Type) -> RegClass {
    if ty.is_float() || ty.is_vector() {
        RegClass::Float
    } else {
        RegClass::Int
    }
}

/// Whether `opcode` makes a constant, which is materialized afresh in
/// every block that needs it in a register.
fn is_constant(opcode: Opcode) -> bool {
    matches!(opcode, Opcode::Iconst | Opcode::F32const | Opcode::F64const)
}
