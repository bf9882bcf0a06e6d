//! `winch-codegen`: duet's single-pass baseline compiler. It reads each
//! function body once with wasmparser's operator visitor, validates every
//! operator in the same pass, and emits x86-64 through cranelift-asm's
//! [`Assembler`](cranelift_asm::x64::Assembler) with physical registers: no
//! IR, no register allocator pass, and no instruction bytes written here.
//!
//! # The pieces
//!
//! ```text
//!  operators ──► Validated<visitor> ──► CodeGen ──► Assembler ──► MachBuffer
//!                (wasmparser's          value stack,  (cranelift-asm)
//!                 FuncValidator first)  registers, frame,
//!                                       control frames
//! ```
//!
//! * **The value stack** (`stack.rs`) mirrors wasm's operand stack, holding
//!   each value where it currently is: a constant (not yet materialized, so
//!   it can fold into an immediate), a local (not yet loaded, so it can fold
//!   into a memory operand), a register (a GPR for integers, an XMM register
//!   for `f32`, `f64` and `v128`), or a slot of the machine stack (8 bytes,
//!   16 for a `v128`).
//! * **Registers** (`regs.rs`) are handed out on the fly from the caller-saved
//!   registers of each class; when none of the class is free, the whole
//!   value stack is spilled.
//! * **Floats** (`float.rs`) are compiled with scalar SSE and the
//!   assembler's sequences where SSE and WebAssembly differ (min/max,
//!   checked and saturating truncation, unsigned conversions).
//! * **The frame** holds the locals in fixed slots below the frame pointer and
//!   grows below them, push by push, as values spill.
//! * **Control frames** record, for each block, loop and if, where its
//!   branch operands live, so that every branch leaves the machine state the
//!   target expects.
//!
//! # Invariants
//!
//! 1. *Memory entries are ordered.* Every `Memory` entry of the value stack
//!    lies deeper (at a larger offset below `rbp`) than every entry above it
//!    and no register or local entry lies below a memory entry. Spilling goes
//!    from the bottom up over every register and local entry, so it keeps
//!    this; hence the topmost memory entry is the top of the machine stack,
//!    and popping it is a `pop` (a `movups` and `lea` for a `v128`).
//! 2. *An `i32` in a register, or in an 8-byte slot (a local's or a
//!    spilled value's), has its upper 32 bits clear.* Every 32-bit
//!    instruction writes its destination zero-extended; incoming `i32`
//!    parameters and call results (whose upper halves the calling
//!    convention leaves undefined) are cleared with a 32-bit move; `i32`
//!    constants are stored zero-extended and `i32` locals with 32-bit
//!    stores. So slots can be copied, pushed and popped 64 bits at a time,
//!    and memory addressing can use an `i32` register as a 64-bit index.
//!    Floats are the exception: an `f32` is only ever read 32 bits at a
//!    time (MOVSS, UCOMISS, CVTSS2SD, ...), so the upper half of its slot
//!    and the rest of its XMM lane are undefined; reinterpreting one as an
//!    `i32` clears the upper half explicitly.
//! 3. *At every control-flow join, the machine state is canonical.* On entry
//!    to a block, loop or if, the value stack is spilled, so the block's
//!    parameters are the topmost memory slots above its base. A branch to
//!    the block (or the fall-through into its end) leaves the branch's
//!    operands in the slots right above the base, in order, and `rsp` just
//!    below them; a branch to the function's outermost block leaves them in
//!    the return locations of the calling convention. Every path into a join
//!    agrees, so code after the join may assume it.
//! 4. *The frame pointer chain is intact.* Every function keeps `rbp` as its
//!    frame pointer (`duet_environ::abi`), so traps can walk wasm frames.
//!    The frame is built and left only through the assembler's frame
//!    methods (`push_frame`, `push_saved`, ..., `ret_from_frame`), which
//!    record its unwind information with it, exact at every instruction.
//! 5. *Materializing and spilling leave the flags alone.* A value is popped
//!    with `pop` or a load and `lea rsp, [rsp + 8]`, spilled with `push` or
//!    `lea rsp, [rsp - 8]` and a store, and constants are loaded with `mov`
//!    (or `xorps` for a zero float). Operators still pop their operands and
//!    take their registers before the instruction that sets the flags they
//!    read. This is also what lets an integer comparison's result stay in the
//!    flags until `br_if`, `if` or `i32.eqz` consumes it (the code
//!    generator's pending condition), fusing the comparison with the branch.
//!
//! What a function reads about the module around it (the memory, table
//! and global plans, function types, `VMFuncRef` offsets) is
//! [`duet_environ::module_env::ModuleEnvironment`], the environment the
//! optimizing tier reads too; [`compile_module_on_threads`] runs a module's
//! functions through the shared driver, [`duet_environ::parallel`].
//!
//! Memory accesses and globals are in `memory.rs`: loads and stores of every
//! width with bounds checks left to guard pages where the tunables allow and
//! explicit otherwise, `memory.size`, `memory.grow` through a runtime
//! builtin, `global.get`/`global.set` of defined and imported globals.
//!
//! Tables, references, `call_indirect` (bounds, null and signature checks),
//! `br_table` (a jump table, through stubs where a target needs its
//! operands moved), and the bulk memory and table operations (runtime
//! builtins) are in `tables.rs`; calls of imported functions go through
//! their `VMFunctionImport`.
//!
//! Fuel metering and epoch interruption (when the tunables ask for them)
//! are in `metering.rs`, compiled exactly as `duet_environ::metering`
//! places them: the visitor feeds every operator of reachable code to the
//! shared `FuelMeter` and emits each charge it returns before the
//! operator's code. The fuel counter's value and address and the epoch
//! counter's address live in callee-saved registers for the whole
//! function (saved by the prologue only when asked for), so a charge is a
//! flag-preserving `lea` and a store and the fuel check a register test;
//! the fuel and epoch checks follow the prologue and each loop's header,
//! the epoch check's builtin call out of line after the epilogue. With
//! both off, nothing in the code changes.
//!
//! The baseline code of a tiered module (`Tunables::tier_up`) counts calls
//! and loop iterations against a budget where the fuel is checked, and
//! asks the runtime for the optimizing tier out of line when it is spent
//! (`tierup.rs`, as `duet_environ::tierup` places it).
//!
//! SIMD and relaxed SIMD are in `simd/` (its module docs): every operator,
//! on any CPU with SSE4.1, with AVX's forms where the CPU has them, and
//! relaxed SIMD with one documented behaviour on every CPU.
//!
//! Left for later, with an error naming the operator (or the CPU feature)
//! until then: SIMD, and `ceil`/`floor`/`trunc`/`nearest`, on a CPU without
//! SSE4.1 (they need a library call or an SSE2 sequence), and the post-2.0
//! proposals (tail calls, exceptions, GC, atomics).

mod codegen;
pub mod error;
mod float;
mod memory;
mod metering;
mod regs;
mod simd;
mod stack;
mod tables;
mod tierup;
mod visit;

pub use error::CompileError;
pub use visit::{compile_function, compile_module, compile_module_on_threads};
