//! `duet`: the runtime of the duet WebAssembly compilers.
//!
//! The runtime loads what the compilers produce, links it into executable
//! memory, and gives it the memories, tables and VMContext records that
//! `duet_environ` describes. It knows nothing about instruction encodings:
//! it sees finished code, relocations and trap tables.
//!
//! # The embedding API
//!
//! In the spirit of Wasmtime's:
//!
//! ```
//! use duet::{Engine, Instance, Module, Store, Val};
//!
//! let engine = Engine::default();
//! let module = Module::new(&engine, r#"(module
//!     (func (export "add") (param i32 i32) (result i32)
//!       (i32.add (local.get 0) (local.get 1))))"#)?;
//! let mut store = Store::new(&engine, ());
//! let instance = Instance::new(&mut store, &module, &[])?;
//! let add = instance.get_func(&store, "add")?.expect("exported");
//! let mut results = [Val::I32(0)];
//! add.call(&mut store, &[Val::I32(40), Val::I32(2)], &mut results)?;
//! assert_eq!(results[0].i32(), Some(42));
//! # Ok::<(), duet::Error>(())
//! ```
//!
//! ```text
//!   Engine   Config (compiler, CPU preset, features, parallelism, target = host only,
//!            wasm stack size, tunables, memory64 reservation); canonical
//!            function type ids and per-type entry/host trampolines, shared
//!            by its modules
//!   Module   translate + validate + compile every function (by the
//!            engine's compiler, or one chosen per module, so modules of
//!            both tiers can call each other) + link into W^X code,
//!            registered for trap handling, with the system unwinder, and
//!            (as configured) for perf and debuggers
//!   Store<T> owns instances, memories, tables, globals, functions, extern
//!            refs and the embedder's T; handles index into it (store.rs
//!            says where the records compiled code reads live)
//!   Instance instantiation in the spec's order (instance.rs)
//!   Linker   names -> imports; host functions made per store
//!   limits   ResourceLimiter (Store::limiter) and StoreLimits: asked before
//!            every memory or table growth (wasm's memory.grow/table.grow
//!            get -1 when refused, trap when the limiter fails, as with
//!            trap_on_grow_failure), initial size and instantiation (counts
//!            of instances, memories, tables); limits.rs
//!   Func     calls through entry trampolines (TypedFunc: checked once); host functions through host
//!            trampolines and a shim that parks errors and panics (func.rs)
//!   builtins memory.grow, bulk memory and table operations for compiled code
//!   wasi     WASI preview 1 for command programs: WasiCtx (args, env, stdio,
//!            pre-opened directories through cap-std), add_to_linker
//! ```
//!
//! The compilers are cargo features, `winch` and `cranelift`, both on by
//! default; a build with either alone works (the trampolines come from
//! `duet_environ::trampoline`), and choosing a compiler the build lacks is
//! an [`Error::Config`].
//!
//! A trap is an [`Error::Trap`] carrying a [`Trap`]: its [`TrapCode`], the
//! wasm frames (function index, name, bytecode offset) and, for a host
//! function's failure, the host's error as its
//! [`source`](std::error::Error::source): errors form a chain in which each
//! says only its own part. A trap that a host function passes on from its
//! own call into wasm keeps its code, with the frames of both activations.
//!
//! # The layers below
//!
//! The memory modules are public so the workspace's tests and compilers can
//! reach them, but hidden from the docs: they are not the embedding API.
//!
//! ```text
//!   mmap    Mmap: owned anonymous mappings; reserve, protect (never W+X), unmap
//!    ├── memory  LinearMemory: a reservation + guard that grows in place (4 GiB
//!    │           for 32-bit memories; memory64: its maximum, capped by a
//!    │           configured bound), or current + guard that moves on growth
//!    │           (32-bit, no reservation); keeps a VMMemoryDefinition at a
//!    │           stable address
//!    └── code    UnlinkedCode -> CodeMemory: lay functions out, apply
//!                relocations, make executable; map a pc to (function, offset)
//!   table   Table: pointer-sized elements with a VMTableDefinition; bounds-
//!           checked get/set/fill/copy/init, growth to a maximum
//!   vm      the #[repr(C)] records compiled code reads (VMFunctionImport,
//!           VMFuncRef, VMTableDefinition, VMMemoryDefinition,
//!           VMGlobalDefinition), checked against duet_environ::vmoffsets
//!   traps   RegisteredCode: code whose trap tables a process-wide registry
//!           holds; call_wasm: enter wasm through an entry trampoline and
//!           get a fault back as Err(TrapInfo { trap, pc, backtrace }),
//!           through a SIGSEGV/SIGBUS/SIGILL/SIGFPE handler that resumes at
//!           the trampoline (duet_environ::entry) and chains anything else
//!   loaded  LoadedCode: RegisteredCode plus the registrations below, for
//!           modules and trampolines alike, withdrawn before the code is freed
//!    ├── unwind     .eh_frame (gimli) from the compilers' unwind records,
//!    │              registered with __register_frame (libgcc / libunwind)
//!    ├── debug      an ELF image with symbols and DWARF (subprograms, a line
//!    │              table of wasm offsets, .debug_frame) for the GDB JIT
//!    │              interface (__jit_debug_descriptor, defined here only)
//!    └── profiling  /tmp/perf-<pid>.map lines for perf
//! ```
//!
//! # Unsafe code
//!
//! Mapping memory, changing its protection, calling generated code and
//! handling signals cannot be done safely. Each `unsafe` block is small,
//! sits in a function that checks what the block relies on, and says why it
//! holds in a `// SAFETY:` comment; `traps` argues in its module docs why
//! its signal handler is sound.

mod builtins;
#[doc(hidden)]
pub mod code;
mod debug;
mod engine;
mod error;
mod externals;
mod func;
mod instance;
mod limits;
mod linker;
mod loaded;
#[doc(hidden)]
pub mod memory;
#[doc(hidden)]
pub mod mmap;
mod module;
pub mod profiling;
mod store;
#[doc(hidden)]
pub mod table;
#[cfg(all(target_os = "linux", target_arch = "x86_64"))]
pub mod traps;
mod typed;
mod unwind;
#[doc(hidden)]
pub mod vm;
pub mod wasi;
mod wrap;

pub use cranelift_asm::x64::{CpuFeatures, Feature as CpuFeature};
pub use duet_environ::module::{FuncType, GlobalType, MemoryType, RefType, TableType, ValType};
pub use duet_environ::trap::Trap as TrapCode;
pub use duet_environ::tunables::Tunables;
pub use engine::{Compiler, Config, CpuPreset, Engine, ProfilingStrategy};
pub use error::{Error, FrameInfo, Trap};
pub use externals::{Extern, ExternType, Global, Memory, MemoryAccessError, Table};
pub use func::{Caller, Func};
pub use instance::Instance;
pub use limits::{
    DEFAULT_INSTANCE_LIMIT, DEFAULT_MEMORY_LIMIT, DEFAULT_TABLE_LIMIT, ResourceLimiter,
    StoreLimits, StoreLimitsBuilder,
};
pub use linker::{InstancePre, Linker};
pub use module::{Module, ModuleSource, NotAModule, NotText};
pub use store::{AsStore, AsStoreDataMut, AsStoreMut, ExternRef, Store, UpdateDeadline, Val};
pub use typed::{TypedFunc, WasmList, WasmTy};
pub use wasmparser::WasmFeatures;
pub use wrap::{IntoFunc, WasmRet};
