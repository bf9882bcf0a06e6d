//! `cranelift-wasm`: WebAssembly function bodies to cranelift-codegen's SSA
//! IR, against duet-environ's VMContext layout and calling convention.
//!
//! The optimizing tier's frontend. Its output is what the baseline tier
//! (winch-codegen) computes in one pass straight to machine code, written
//! down as IR for the mid-end and the backend: the same accesses of the
//! same VMContext fields, the same builtins, the same traps for the same
//! reasons, so that code of either tier behaves alike and can call the
//! other's.
//!
//! ```text
//!   ModuleTranslation ──► translate_module (threads) ──► Vec<ir::Function>
//!     module metadata        │ per function: FuncTranslator
//!     function bodies        ▼
//!                  locals ─► Variables ──┐
//!                  operator ─► validate ─┴► Translator ─► FunctionBuilder
//!                  (wasmparser)             value stack,     SSA construction,
//!                                           control frames   blocks, instructions
//! ```
//!
//! # Design
//!
//! * **Validation is fused.** Each operator goes to the body's
//!   `FuncValidator` first and to the translator second, so the body is
//!   read once and the translator only sees valid code
//!   (`func_translator.rs`).
//! * **Locals are variables.** Each parameter and local is a
//!   [`Variable`](cranelift_codegen::builder::Variable) of the builder,
//!   defined at entry (the entry block's parameter, or zero), then by
//!   `local.set`/`local.tee`; the builder's SSA construction adds block
//!   parameters where control flow merges different definitions.
//! * **Operands are SSA values** on a value stack that mirrors wasm's
//!   (`state.rs`): an operator pops its operands' values and pushes its
//!   results'. Nothing is spilled or materialized here; where values live
//!   at run time is the register allocator's business.
//! * **Control frames become blocks** (`state.rs`, `code_translator.rs`):
//!   a loop is a header block whose parameters are the loop's parameters;
//!   a `block`'s or `if`'s end is a destination block whose parameters are
//!   its results, made only if something branches there; an `if` is a
//!   `brif` to two arm blocks; `br_table` is an IR `br_table` whose every
//!   target carries the branch's values. Code after an unconditional
//!   branch is validated but not translated.
//! * **Every VMContext access is spelled out** (`memory.rs`, `tables.rs`):
//!   loads of the memory's base and length, of import records, of table
//!   definitions, with [`MemFlags`](cranelift_codegen::ir::MemFlags) that
//!   say what may be assumed (`notrap aligned` for runtime records,
//!   `readonly` where a value cannot change, `heap` for linear-memory
//!   accesses). Redundant loads repeat per access; merging them is the
//!   mid-end's job, which the flags make possible.
//! * **Traps are explicit** where the IR needs it: bounds checks that guard
//!   pages do not cover, integer division's zero and overflow checks, the
//!   table, null and signature checks of `call_indirect`, the status of
//!   bulk-operation builtins. Heap accesses under guard pages,
//!   float-to-integer truncation and `unreachable` trap in the instruction
//!   itself.
//! * **Fuel and epochs are metered as `duet_environ::metering` says**
//!   (`metering.rs`), when the tunables ask for it: the driver gives each
//!   reachable operator to the shared `FuelMeter` before translating it
//!   and adds the charge it returns to the store's counter, both in
//!   memory (exact after every charge) and in an SSA variable that the
//!   fuel checks at function entry and loop headers compare, reloaded after
//!   every call. The epoch check (at loop headers and before the calls
//!   `duet_environ::metering::calls_checked_for_epoch` lists) loads the
//!   epoch and compares it with the
//!   deadline, in memory or, in a loop that makes no call, cached in a
//!   variable, and calls its builtin from a cold block, laid out after the
//!   rest of the function. Both off, nothing is emitted.
//!
//! Every WebAssembly 2.0 operator is translated, SIMD included, and relaxed
//! SIMD (`simd.rs`), plus what comes with no new operator: multi-memory,
//! memory64 and table64 indices. Anything else is a
//! [`WasmError::UnsupportedOperator`] naming it. No input makes the
//! translator panic: invalid bodies are [`WasmError::Invalid`].
//!
//! In debug builds each function is checked by the IR verifier before it is
//! returned.

mod code_translator;
mod compile;
mod error;
mod func_translator;
mod ir_types;
mod memory;
mod metering;
mod simd;
mod state;
mod tables;

pub use compile::{
    CompileError, compile_module, compile_options, compile_osr_entry, compile_some_functions,
};
pub use duet_environ::module_env::ModuleEnvironment;
pub use error::WasmError;
pub use func_translator::{FuncTranslator, translate_function, translate_module};
