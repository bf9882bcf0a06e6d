//! The intermediate representation: SSA values, instructions in extended
//! basic blocks, block parameters instead of phi nodes.
//!
//! ```text
//!   Function ─┬─ Signature (params, returns, calling convention)
//!             ├─ DataFlowGraph: insts ─► InstructionData (opcode + operands)
//!             │                 results[inst] ─► values
//!             │                 blocks ─► parameters (values)
//!             │                 values ─► type + definition (result, param, alias)
//!             │                 signatures, ext_funcs, jump_tables, value lists
//!             ├─ Layout: block order; instruction order in each block
//!             ├─ stack slots
//!             └─ srclocs: wasm offset per instruction
//! ```
//!
//! The text format (`write.rs`, parsed by `crate::parser`) round-trips:
//!
//! ```text
//! function %add(i64, i32, i32) -> i32 wasm {
//!     ss0 = explicit_slot 8, align 3
//!     sig0 = (i64, i32) -> i32 wasm
//!     fn0 = u0:3 sig0
//!
//! block0(v0: i64, v1: i32, v2: i32):
//!     v3 = iadd v1, v2
//!     v4 = call fn0(v0, v3)
//!     return v4
//! }
//! ```

mod condcodes;
mod dfg;
mod entities;
mod function;
mod instructions;
mod layout;
mod memflags;
mod types;
mod valuelist;
mod write;

pub use condcodes::{FloatCC, IntCC};
pub use dfg::{CallConv, DataFlowGraph, ExtFuncData, JumpTableData, Signature, ValueDef};
pub use entities::{Block, Constant, FuncRef, Inst, JumpTable, SigRef, StackSlot, Value};
pub use function::{Function, StackSlotData};
pub use instructions::{BlockCall, InstructionData, InstructionFormat, Opcode};
pub use layout::Layout;
pub use memflags::MemFlags;
pub use types::Type;
pub use valuelist::{ValueList, ValueListPool};
pub use write::write_function;
