//! `duet`: the runtime of the duet WebAssembly compilers.
//!
//! The runtime loads what the compilers produce, links it into executable
//! memory, and gives it the memories, tables and VMContext records that
//! `duet_environ` describes. It knows nothing about instruction encodings:
//! it sees finished code, relocations and trap tables.
//!
//! # The embedding API
//!
//! Wasmtime's, for the common cases (`docs/embedding.md` lists where it
//! differs):
//!
//! ```
//! use duet::{Caller, Engine, Linker, Module, Store, Trap, TrapCode};
//!
//! let engine = Engine::default();
//! let module = Module::new(&engine, r#"(module
//!     (import "host" "print" (func $print (param i32 i32)))
//!     (memory (export "memory") 1)
//!     (data (i32.const 0) "hi")
//!     (func (export "add") (param i32 i32) (result i32)
//!       (call $print (i32.const 0) (i32.const 2))
//!       (i32.add (local.get 0) (local.get 1)))
//!     (func (export "crash") unreachable))"#)?;
//! let mut linker = Linker::new(&engine);
//! linker.func_wrap(
//!     "host",
//!     "print",
//!     |mut caller: Caller<'_, Vec<String>>, ptr: i32, len: i32| -> duet::Result<()> {
//!         let memory = caller.get_export("memory").and_then(|e| e.into_memory()).unwrap();
//!         let mut text = vec![0; len as usize];
//!         memory.read(&caller, ptr as usize, &mut text)?;
//!         caller.data_mut().push(String::from_utf8(text)?);
//!         Ok(())
//!     },
//! )?;
//! let pre = linker.instantiate_pre(&module)?;
//! let mut store = Store::new(&engine, Vec::new());
//! let instance = pre.instantiate(&mut store)?;
//! let add = instance.get_typed_func::<(i32, i32), i32>(&mut store, "add")?;
//! assert_eq!(add.call(&mut store, (40, 2))?, 42);
//! assert_eq!(store.data(), &["hi"]);
//! let crash = instance.get_typed_func::<(), ()>(&mut store, "crash")?;
//! let error = crash.call(&mut store, ()).unwrap_err();
//! assert_eq!(error.downcast_ref::<Trap>().map(Trap::code), Some(TrapCode::UnreachableCodeReached));
//! # Ok::<(), duet::Error>(())
//! ```
//!
//! ```text
//!   Engine   Config (compiler, CPU preset, features, parallelism, target = host only,
//!            wasm stack size, tunables, memory64 reservation, allocation
//!            strategy); canonical function type ids and per-type
//!            entry/host trampolines, shared by its modules; with pooling,
//!            the slots (VMContexts, table elements, memories) kept for
//!            reuse (pool.rs)
//!   Module   translate + validate + compile every function (by the
//!            engine's compiler, or one chosen per module, so modules of
//!            both tiers can call each other) + link into W^X code,
//!            registered for trap handling, with the system unwinder, and
//!            (as configured) for perf and debuggers
//!   Store<T> owns instances, memories, tables, globals, functions, extern
//!            refs and the embedder's T; handles index into it (store.rs
//!            says where the records compiled code reads live)
//!   Instance instantiation in the spec's order (instance.rs); a module's
//!            data segments as memory images mapped copy-on-write, built
//!            once per module where that is the same (image.rs)
//!   Linker   names -> imports; host functions made per store; InstancePre:
//!            the imports of one module resolved once, for many stores
//!   limits   ResourceLimiter (Store::limiter) and StoreLimits: asked before
//!            every memory or table growth (wasm's memory.grow/table.grow
//!            get -1 when refused, trap when the limiter fails, as with
//!            trap_on_grow_failure), initial size and instantiation (counts
//!            of instances, memories, tables); limits.rs
//!   Func     calls through entry trampolines, no allocation or lock per call
//!            (TypedFunc: checked once, values straight into slots); host functions through host
//!            trampolines and a shim per closure type that parks errors and panics (func.rs):
//!            Func::new over Val slices, Func::wrap over Rust values read
//!            from the trampoline's slots in place, no allocation (wrap.rs)
//!   Memory   read/write (bounds-checked, MemoryAccessError), data, grow
//!   builtins memory.grow, bulk memory and table operations for compiled code
//!   wasi     WASI preview 1 for command programs: WasiCtx (args, env, stdio,
//!            pre-opened directories through cap-std), add_to_linker
//! ```
//!
//! The compilers are cargo features, `winch` and `cranelift`, both on by
//! default; a build with either alone works (the trampolines come from
//! `duet_environ::trampoline`), and choosing a compiler the build lacks is
//! an [`ErrorKind::Config`].
//!
//! # Errors
//!
//! [`Error`] is [`anyhow::Error`], as in Wasmtime, and [`Result`] its
//! result. A trap is an [`Error`] holding a [`Trap`]
//! (`err.downcast_ref::<Trap>()`, also after `?` has carried it into an
//! `anyhow::Error` of the embedder's): its [`TrapCode`], the wasm frames
//! (function index, name, bytecode offset) and, for a host function's
//! failure, the host's error as its
//! [`source`](std::error::Error::source): errors form a chain in which each
//! says only its own part. A trap that a host function passes on from its
//! own call into wasm keeps its code, with the frames of both activations.
//! The runtime's other failures hold an [`ErrorKind`]. `docs/embedding.md`
//! says why, and where duet differs from Wasmtime.
//!
//! # The layers below
//!
//! The memory modules, `traps` and `profiling` are public so the
//! workspace's tests, compilers and command can reach them, but hidden from
//! the docs: they are not the embedding API. (`unwind`, `debug` and
//! `loaded` are private.)
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
//!   tables  CodeTables: a module's function ranges, trap tables and source
//!           locations as one flat byte string, searched in place (built
//!           for fresh code, a precompiled module's used from its file)
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

mod artifact;
mod builtins;
#[doc(hidden)]
pub mod code;
mod debug;
mod engine;
mod error;
mod externals;
mod func;
mod image;
mod instance;
mod limits;
mod linker;
mod loaded;
#[doc(hidden)]
pub mod memory;
#[doc(hidden)]
pub mod mmap;
mod module;
mod pool;
#[doc(hidden)]
pub mod profiling;
mod store;
#[doc(hidden)]
pub mod table;
mod tables;
// Without the optimizing tier no module is tiered (`Compiler::Tiered`
// needs both compilers): the half that compiles for it is unused then.
#[cfg_attr(not(feature = "cranelift"), allow(dead_code, unused_imports))]
mod tier;
#[cfg(all(target_os = "linux", target_arch = "x86_64"))]
#[doc(hidden)]
pub mod traps;
mod typed;
mod unwind;
#[doc(hidden)]
pub mod vm;
pub mod wasi;
mod wrap;

pub use artifact::{FORMAT_VERSION as PRECOMPILED_FORMAT_VERSION, PrecompiledError};
pub use cranelift_asm::x64::{CpuFeatures, Feature as CpuFeature};
pub use duet_environ::module::{FuncType, GlobalType, MemoryType, RefType, TableType, ValType};
pub use duet_environ::trap::Trap as TrapCode;
pub use duet_environ::tunables::Tunables;
pub use engine::{Compiler, Config, CpuPreset, Engine, ProfilingStrategy};
pub use error::{Error, ErrorKind, FrameInfo, Result, Trap};
pub use externals::{Extern, ExternType, Global, Memory, MemoryAccessError, Table};
pub use func::{Caller, Func};
pub use instance::Instance;
pub use limits::{
    DEFAULT_INSTANCE_LIMIT, DEFAULT_MEMORY_LIMIT, DEFAULT_TABLE_LIMIT, ResourceLimiter,
    StoreLimits, StoreLimitsBuilder,
};
pub use linker::{InstancePre, Linker};
pub use module::{Module, ModuleSource, NotAModule, NotText};
pub use pool::{InstanceAllocationStrategy, PoolingAllocationConfig};
pub use store::{AsStore, AsStoreDataMut, AsStoreMut, ExternRef, Store, UpdateDeadline, Val};
pub use typed::{TypedFunc, WasmList, WasmTy};
pub use wasmparser::WasmFeatures;
pub use wrap::{IntoFunc, WasmRet};
