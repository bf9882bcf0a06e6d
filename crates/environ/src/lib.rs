//! `duet-environ`: what duet's two compilers and its runtime must agree on.
//!
//! * [`trap`]: the WebAssembly trap codes, as the assembler's opaque
//!   [`TrapCode`](cranelift_asm::TrapCode)s, with the spec's messages;
//! * [`vmoffsets`]: the layout of an instance's VMContext, computed per
//!   module;
//! * [`abi`]: the wasm calling convention both tiers use, so a function
//!   compiled by one can call a function compiled by the other, and the
//!   native (System V) one of builtins and host functions: every register
//!   fact about a call boundary;
//! * [`entry`]: how the host enters wasm (entry trampolines) and how a trap
//!   returns to the host;
//! * [`trampoline`]: the entry and host trampolines themselves, built from
//!   [`abi`] through `cranelift-asm`, so the runtime needs neither compiler
//!   for them;
//! * [`builtins`]: the runtime functions compiled code calls (memory.grow,
//!   table and bulk-memory operations), with their signatures;
//! * [`control`]: what an operator did to the validator's control stack,
//!   which is how both compilers keep their frames matched in unreachable
//!   code;
//! * [`metering`]: what each operator costs in fuel, where a function's
//!   charges are added up and where fuel and the epoch are checked, the
//!   same in both tiers;
//! * [`module`]: a module's metadata (types, imports, functions, tables,
//!   memories, globals, exports, elements, data), translated from the binary
//!   with wasmparser and validated with a configurable feature set;
//! * [`module_env`]: what compiling one function reads about the module
//!   around it (the memory, table and global plans, function types,
//!   `VMFuncRef` offsets), the same for both tiers;
//! * [`operator`]: operators named as the text format names them, for
//!   both tiers' errors;
//! * [`parallel`]: the driver that compiles a module's functions on
//!   several threads, with results independent of the scheduling;
//! * [`simd`]: what each relaxed SIMD operator computes, the same in both
//!   tiers;
//! * [`tierup`]: the counters baseline code of a tiered module keeps and
//!   the jump stubs every call of its functions goes through, so the
//!   runtime can move a hot function to optimized code while it runs;
//! * [`tunables`]: how linear memories are reserved (guard pages), which
//!   decides where a compiler may leave out bounds checks, and whether
//!   code meters fuel and checks epochs.
//!
//! `docs/abi.md` pictures the VMContext and a stack frame.

pub mod abi;
pub mod builtins;
pub mod control;
pub mod entry;
pub mod metering;
pub mod module;
pub mod module_env;
pub mod operator;
pub mod parallel;
pub mod simd;
pub mod tierup;
pub mod trampoline;
pub mod trap;
pub mod tunables;
pub mod vmoffsets;
