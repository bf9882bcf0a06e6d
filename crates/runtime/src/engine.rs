//! [`Config`] and [`Engine`]: what compiles, for which machine and
//! features, and what every module of an engine shares (canonical function
//! type ids and per-type trampolines).

use crate::code::CodeMemory;
use crate::error::{Error, ErrorKind};
use crate::loaded::{CodeDetails, CodeNames, LoadedCode};
use crate::memory::{DEFAULT_MEMORY64_RESERVATION, MAX_MEMORY64_RESERVATION};
use crate::pool::{InstanceAllocationStrategy, Pool};
use crate::tier::{TierUpConfig, TierUpQueue};
use cranelift_asm::x64::{CpuFeatures, Feature};
use duet_environ::module::FuncType;
use duet_environ::trampoline;
use duet_environ::tunables::Tunables;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use wasmparser::WasmFeatures;

/// Which compiler turns function bodies into machine code. Each is built
/// in with the cargo feature of its name (both by default);
/// [`Engine::new`] refuses one that is not.
#[derive(Copy, Clone, PartialEq, Eq, Debug)]
pub enum Compiler {
    /// The single-pass baseline compiler (`winch-codegen`).
    Winch,
    /// The optimizing compiler (`cranelift-wasm` to IR, `cranelift-codegen`
    /// to machine code). Its backend does not lower every instruction yet:
    /// a module using one it does not is refused with
    /// [`ErrorKind::Unsupported`](crate::ErrorKind::Unsupported)(crate::Error::Unsupported).
    Cranelift,
    /// Both, tiered: a module is compiled by the baseline compiler, whose
    /// code counts each function's calls and loop iterations; a function
    /// that spends its budget ([`Config::tier_up_budget`]) is compiled by
    /// the optimizing compiler in the background and every later call
    /// runs the optimized code (`crates/runtime/src/tier.rs`). Needs both
    /// cargo features.
    Tiered,
}

impl Compiler {
    /// Whether this build includes the compiler (its cargo feature).
    pub const fn is_built_in(self) -> bool {
        match self {
            Compiler::Winch => cfg!(feature = "winch"),
            Compiler::Cranelift => cfg!(feature = "cranelift"),
            Compiler::Tiered => cfg!(all(feature = "winch", feature = "cranelift")),
        }
    }

    /// An [`ErrorKind::Config`](crate::ErrorKind::Config) naming the cargo feature if this build does not
    /// include the compiler.
    pub(crate) fn check_built_in(self) -> Result<(), Error> {
        if self.is_built_in() {
            return Ok(());
        }
        let features = match self {
            Compiler::Tiered => "features `winch` and `cranelift` are not both on",
            Compiler::Winch => "feature `winch` is off",
            Compiler::Cranelift => "feature `cranelift` is off",
        };
        Err(Error::from(ErrorKind::Config(format!(
            "the {self:?} compiler is not built in (the `duet` crate's cargo {features})"
        ))))
    }

    /// The compiler's name, which is also the `duet` command's (`winch`,
    /// `cranelift`, `tiered`) and, for the first two, its cargo
    /// feature's.
    pub const fn name(self) -> &'static str {
        match self {
            Compiler::Winch => "winch",
            Compiler::Cranelift => "cranelift",
            Compiler::Tiered => "tiered",
        }
    }
}

impl Default for Compiler {
    /// The baseline compiler, or the optimizing one in a build without
    /// the baseline one.
    fn default() -> Compiler {
        if Compiler::Winch.is_built_in() {
            Compiler::Winch
        } else {
            Compiler::Cranelift
        }
    }
}

/// Which profiler the engine describes its code for.
#[derive(Copy, Clone, PartialEq, Eq, Debug, Default)]
pub enum ProfilingStrategy {
    /// None (the default).
    #[default]
    None,
    /// `perf`: every function the engine loads (modules' functions and
    /// trampolines) is appended to `/tmp/perf-<pid>.map` as `START SIZE
    /// module!name`, so `perf report` names wasm functions.
    PerfMap,
}

/// Which x86-64 CPU the compilers generate code for: the host's features
/// (the default) or a fixed preset, so that the code paths for an older
/// CPU (SSE4.1 without AVX, or the bare x86-64 baseline) run and are tested
/// on a newer one.
///
/// A preset only ever removes features: [`Engine::new`] refuses one that
/// asks for a feature the host lacks, since code using it could not run
/// here. Both compilers and the engine's trampolines get the preset's
/// [`CpuFeatures`]: they choose instructions by them (both tiers count
/// leading and trailing zeros with BSR and BSF without LZCNT and BMI1, and
/// set bits with a shift-and-mask sequence without POPCNT), and the
/// assembler checks every form they emit against them. A module that needs
/// a feature the preset lacks is refused naming the feature, never
/// compiled to code that would fault: an [`ErrorKind::Unsupported`](crate::ErrorKind::Unsupported) (SIMD
/// without SSE4.1).
#[derive(Copy, Clone, PartialEq, Eq, Debug, Default)]
pub enum CpuPreset {
    /// Every feature the host has (`host`).
    #[default]
    Host,
    /// The x86-64 baseline every x86-64 CPU has: SSE and SSE2 only
    /// (`baseline`).
    Baseline,
    /// The baseline plus SSE3, SSSE3 and SSE4.1; no SSE4.2, POPCNT, LZCNT,
    /// BMI or AVX (`sse4.1`).
    Sse41,
    /// x86-64-v3 as far as the assembler knows its features: SSE4.2,
    /// POPCNT, LZCNT, BMI1, BMI2, AVX, AVX2 and FMA (`avx2`).
    Avx2,
}

impl CpuPreset {
    /// Every preset, in the order of [`CpuPreset::name`]'s documentation.
    pub const ALL: [CpuPreset; 4] = [
        CpuPreset::Host,
        CpuPreset::Baseline,
        CpuPreset::Sse41,
        CpuPreset::Avx2,
    ];

    /// The preset's name: `host`, `baseline`, `sse4.1` or `avx2`.
    pub const fn name(self) -> &'static str {
        match self {
            CpuPreset::Host => "host",
            CpuPreset::Baseline => "baseline",
            CpuPreset::Sse41 => "sse4.1",
            CpuPreset::Avx2 => "avx2",
        }
    }

    /// The preset called `name` ([`CpuPreset::name`]).
    pub fn from_name(name: &str) -> Option<CpuPreset> {
        CpuPreset::ALL.into_iter().find(|p| p.name() == name)
    }

    /// The features code compiled for this preset may use.
    pub fn features(self) -> CpuFeatures {
        let baseline = CpuFeatures::baseline();
        match self {
            CpuPreset::Host => CpuFeatures::host(),
            CpuPreset::Baseline => baseline,
            CpuPreset::Sse41 => baseline.with(Feature::Sse41),
            CpuPreset::Avx2 => [
                Feature::Popcnt,
                Feature::Lzcnt,
                Feature::Bmi1,
                Feature::Bmi2,
                Feature::Avx2,
                Feature::Fma,
            ]
            .into_iter()
            .fold(baseline, CpuFeatures::with),
        }
    }
}

impl core::fmt::Display for CpuPreset {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.name())
    }
}

/// How an [`Engine`] compiles and runs modules.
#[derive(Clone, Debug)]
pub struct Config {
    compiler: Compiler,
    cpu: CpuPreset,
    features: WasmFeatures,
    parallel: bool,
    max_threads: Option<usize>,
    target: Option<String>,
    max_wasm_stack: usize,
    tunables: Tunables,
    memory64_reservation: u64,
    pub(crate) native_unwind_info: bool,
    pub(crate) profiling: ProfilingStrategy,
    pub(crate) debug_info: bool,
    consume_fuel: bool,
    epoch_interruption: bool,
    allocation: InstanceAllocationStrategy,
    pub(crate) tier_up: TierUpConfig,
}

impl Default for Config {
    fn default() -> Config {
        Config::new()
    }
}

impl Config {
    /// The defaults: the baseline compiler ([`Compiler::default`]), code
    /// for the host's CPU features ([`CpuPreset::Host`]), every wasm
    /// feature the engine supports, parallel compilation, the host as the
    /// target, 512 KiB of wasm stack, 32-bit memories in 4 GiB reservations
    /// with guard pages, 64-bit memories in reservations of up to 8 GiB;
    /// unwind tables registered, no profiler, no debug information.
    pub fn new() -> Config {
        Config {
            compiler: Compiler::default(),
            cpu: CpuPreset::Host,
            features: WasmFeatures::default(),
            parallel: true,
            max_threads: None,
            target: None,
            max_wasm_stack: 512 << 10,
            tunables: Tunables::default(),
            memory64_reservation: DEFAULT_MEMORY64_RESERVATION,
            native_unwind_info: true,
            profiling: ProfilingStrategy::None,
            debug_info: false,
            consume_fuel: false,
            epoch_interruption: false,
            allocation: InstanceAllocationStrategy::OnDemand,
            tier_up: TierUpConfig::default(),
        }
    }

    /// How instances' VMContexts, memories and tables are allocated: on
    /// demand (the default), or from a pool of slots whose storage is
    /// reused (`pool.rs`; Wasmtime's `Config::allocation_strategy`).
    ///
    /// ```
    /// use duet::{Config, Engine, Instance, InstanceAllocationStrategy, Module, Store};
    /// let mut config = Config::new();
    /// config.allocation_strategy(InstanceAllocationStrategy::Pooling(Default::default()));
    /// let engine = Engine::new(&config)?;
    /// let module = Module::new(&engine, r#"(module (memory (export "m") 1)
    ///     (data (i32.const 0) "\2a") (func (export "f") (result i32) (i32.load8_u (i32.const 0))))"#)?;
    /// for _ in 0..3 {
    ///     // Each store's instance reuses the memory the previous one gave back.
    ///     let mut store = Store::new(&engine, ());
    ///     let instance = Instance::new(&mut store, &module, &[])?;
    ///     assert_eq!(instance.get_typed_func::<(), i32>(&mut store, "f")?.call(&mut store, ())?, 42);
    /// }
    /// # Ok::<(), duet::Error>(())
    /// ```
    pub fn allocation_strategy(&mut self, strategy: InstanceAllocationStrategy) -> &mut Self {
        self.allocation = strategy;
        self
    }

    /// How many calls and loop iterations a function of a tiered module
    /// ([`Compiler::Tiered`]) runs on baseline code before it asks for
    /// the optimizing tier (default 1000; each call and each loop
    /// iteration counts one). 0 is eager: every function asks on its first
    /// call, and runs optimized code from the call after the one that
    /// compiled it (with [`Config::tier_up_synchronous`]; otherwise once
    /// the background compilation is done).
    pub fn tier_up_budget(&mut self, budget: u32) -> &mut Self {
        self.tier_up.budget = budget;
        self
    }

    /// How many background threads compile a tiered module's hot
    /// functions at most (default 1; they start on the first request and
    /// are shared by every module of the engine).
    pub fn tier_up_threads(&mut self, threads: usize) -> &mut Self {
        self.tier_up.threads = threads.max(1);
        self
    }

    /// Whether a tiered module's function that spends its budget is
    /// compiled by the optimizing tier before the call that spent it goes
    /// on (on a thread of its own, which the call waits for), instead of
    /// in the background: slower, but deterministic, for tests (default
    /// off).
    pub fn tier_up_synchronous(&mut self, on: bool) -> &mut Self {
        self.tier_up.synchronous = on;
        self
    }

    /// Which compiler to use.
    pub fn compiler(&mut self, compiler: Compiler) -> &mut Self {
        self.compiler = compiler;
        self
    }

    /// Which CPU features the compiled code may use (the host's by
    /// default); [`Engine::new`] refuses a preset with a feature the host
    /// lacks.
    pub fn cpu_features(&mut self, preset: CpuPreset) -> &mut Self {
        self.cpu = preset;
        self
    }

    /// The CPU preset ([`Config::cpu_features`]).
    pub fn cpu_preset(&self) -> CpuPreset {
        self.cpu
    }

    /// The WebAssembly features modules are validated against
    /// (`WasmFeatures::WASM2` for exactly WebAssembly 2.0).
    pub fn wasm_features(&mut self, features: WasmFeatures) -> &mut Self {
        self.features = features;
        self
    }

    /// Whether a module's functions are compiled on all cores (the default)
    /// or on the calling thread.
    pub fn parallel_compilation(&mut self, parallel: bool) -> &mut Self {
        self.parallel = parallel;
        self
    }

    /// How many threads parallel compilation uses (default: one per core).
    pub fn compilation_threads(&mut self, threads: usize) -> &mut Self {
        self.max_threads = Some(threads.max(1));
        self
    }

    /// The target triple to compile for; only the host's is supported.
    pub fn target(&mut self, triple: &str) -> &mut Self {
        self.target = Some(triple.to_string());
        self
    }

    /// How many bytes of native stack wasm may use below the host frame
    /// that calls it; deeper recursion traps with
    /// [`TrapCode::StackOverflow`](crate::TrapCode::StackOverflow). The
    /// thread's stack must extend a little further: the optimizing tier's
    /// leaf functions without a frame skip the check and may go
    /// `cranelift_codegen::machinst::vcode::LEAF_UNCHECKED_BYTES` (56)
    /// bytes past the limit.
    pub fn max_wasm_stack(&mut self, bytes: usize) -> &mut Self {
        self.max_wasm_stack = bytes;
        self
    }

    /// Whether compiled code consumes fuel (off by default): every
    /// operator costs fuel (`duet_environ::metering` says how much), a
    /// store starts with none ([`Store::set_fuel`] gives it some), and code
    /// that finds the store's fuel exhausted at a function entry or loop
    /// header traps with [`TrapCode::OutOfFuel`]. Both compilers charge
    /// exactly the same fuel for the same execution.
    ///
    /// [`Store::set_fuel`]: crate::Store::set_fuel
    /// [`TrapCode::OutOfFuel`]: crate::TrapCode::OutOfFuel
    pub fn consume_fuel(&mut self, on: bool) -> &mut Self {
        self.consume_fuel = on;
        self
    }

    /// Whether compiled code checks the engine's epoch (off by default): at
    /// every loop header, and before a function's first call on each path
    /// that calls (in place of its entry: a call that makes no further call
    /// runs in time bounded by its size), it compares the epoch
    /// ([`Engine::increment_epoch`]) with the store's deadline
    /// ([`Store::set_epoch_deadline`], 0 until set) and, once reached,
    /// traps with [`TrapCode::Interrupt`] or runs the store's callback
    /// ([`Store::epoch_deadline_callback`]). The check is a load and a
    /// compare; this is the cheap way to bound the time wasm runs.
    ///
    /// [`Store::set_epoch_deadline`]: crate::Store::set_epoch_deadline
    /// [`Store::epoch_deadline_callback`]: crate::Store::epoch_deadline_callback
    /// [`TrapCode::Interrupt`]: crate::TrapCode::Interrupt
    pub fn epoch_interruption(&mut self, on: bool) -> &mut Self {
        self.epoch_interruption = on;
        self
    }

    /// How linear memories are reserved, and so how bounds are checked.
    /// (Its `consume_fuel` and `epoch_interruption` fields are ignored:
    /// [`Config::consume_fuel`] and [`Config::epoch_interruption`] decide
    /// them.)
    pub fn tunables(&mut self, tunables: Tunables) -> &mut Self {
        self.tunables = tunables;
        self
    }

    /// How much address space each 64-bit memory (memory64) reserves, in
    /// bytes (rounded down to whole 64 KiB pages): its declared maximum, but
    /// never more than this. That bound is also the most the memory can
    /// grow to, whatever its declared maximum: `memory.grow` past it
    /// returns -1 and [`Memory::grow`](crate::Memory::grow) an error, and a
    /// module whose memory64 minimum is larger cannot be instantiated.
    ///
    /// Growth within the reservation is in place: the new pages are made
    /// accessible and nothing is copied; the kernel commits a page when
    /// the guest first touches it. The default is 8 GiB; at most 1 TiB is
    /// accepted ([`Engine::new`] refuses more). A guard region of
    /// [`Tunables::memory_guard_size`] bytes follows each reservation.
    /// 32-bit memories are placed by [`tunables`](Self::tunables) instead.
    pub fn memory64_reservation(&mut self, bytes: u64) -> &mut Self {
        self.memory64_reservation = bytes;
        self
    }

    /// Whether the engine registers unwind tables (`.eh_frame`) for its
    /// code with the system unwinder (on by default), so that native stack
    /// walks (a panic's backtrace in a host function, `backtrace::trace`,
    /// a C++ exception) pass through wasm frames into the host code that
    /// called wasm. Traps and their backtraces do not need them.
    pub fn native_unwind_info(&mut self, on: bool) -> &mut Self {
        self.native_unwind_info = on;
        self
    }

    /// Which profiler to describe the code for (none by default).
    pub fn profiling_strategy(&mut self, strategy: ProfilingStrategy) -> &mut Self {
        self.profiling = strategy;
        self
    }

    /// Whether to give debuggers DWARF for the code (off by default):
    /// every module and trampoline is announced through the GDB JIT
    /// interface as an ELF image with a symbol and a subprogram per
    /// function and a line table mapping machine code to wasm bytecode
    /// offsets, so `break NAME` in GDB stops in a wasm function.
    pub fn debug_info(&mut self, on: bool) -> &mut Self {
        self.debug_info = on;
        self
    }
}

/// An [`ErrorKind::Config`](crate::ErrorKind::Config) naming every feature of `preset` (whose features
/// are `wanted`) that `host` lacks: code using them could not run here.
fn check_cpu_preset(
    preset: CpuPreset,
    wanted: CpuFeatures,
    host: CpuFeatures,
) -> Result<(), Error> {
    let missing: Vec<&str> = wanted
        .iter()
        .filter(|feature| !host.has(*feature))
        .map(Feature::name)
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    Err(Error::from(ErrorKind::Config(format!(
        "the CPU preset `{preset}` needs {}, which this host's CPU lacks (code using it could not run here)",
        missing.join(", ")
    ))))
}

/// The code an engine made for one function type: an entry trampoline
/// (host calls wasm) and a host trampoline (wasm calls the host).
pub(crate) struct TypeTrampolines {
    code: LoadedCode,
}

impl TypeTrampolines {
    pub(crate) fn entry(&self) -> *const u8 {
        self.code
            .code()
            .function(0)
            .expect("compiled with two functions")
    }

    pub(crate) fn host(&self) -> *const u8 {
        self.code
            .code()
            .function(1)
            .expect("compiled with two functions")
    }
}

pub(crate) struct EngineInner {
    pub(crate) config: Config,
    pub(crate) cpu: CpuFeatures,
    /// Canonical type ids: structurally equal function types share one
    /// across every module of the engine, which is what lets
    /// `call_indirect` compare ids across instances.
    types: Mutex<HashMap<FuncType, u32>>,
    /// Never emptied while the engine lives: stores keep raw pointers to
    /// entry trampolines (`StoreFunc::entry`) and hold the engine.
    trampolines: Mutex<HashMap<u32, Arc<TypeTrampolines>>>,
    /// The pooling allocator's slots, with `InstanceAllocationStrategy::Pooling`.
    pool: Option<Pool>,
    /// The epoch (`Config::epoch_interruption`); every VMContext of the
    /// engine's stores points at it, and compiled code reads it with
    /// plain aligned loads.
    epoch: AtomicU64,
    /// Tiered modules' background compilation (`tier.rs`).
    tier_up: Arc<TierUpQueue>,
}

impl Drop for EngineInner {
    fn drop(&mut self) {
        // No module of the engine is left: its workers may go.
        self.tier_up.shut_down();
    }
}

/// A compilation environment shared by modules and stores. Cheap to
/// clone (a reference count); `Send + Sync`, so one engine serves every
/// thread.
///
/// ```
/// use duet::{Compiler, Config, Engine, Module};
/// // The default: the baseline compiler, the host's CPU features.
/// let engine = Engine::default();
/// // Or configured: the optimizing compiler, fuel metering.
/// let optimizing = Engine::new(Config::new().compiler(Compiler::Cranelift).consume_fuel(true))?;
/// let module = Module::new(&optimizing, "(module (func (export \"f\")))")?;
/// assert_eq!(module.num_defined_functions(), 1);
/// # let _ = engine;
/// # Ok::<(), duet::Error>(())
/// ```
#[derive(Clone)]
pub struct Engine {
    pub(crate) inner: Arc<EngineInner>,
}

impl core::fmt::Debug for Engine {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Engine")
            .field("config", &self.inner.config)
            .finish_non_exhaustive()
    }
}

impl Default for Engine {
    fn default() -> Engine {
        Engine::new(&Config::new()).expect("the default configuration is supported")
    }
}

impl Engine {
    /// An engine with `config`; refuses a compiler this build does not
    /// include ([`Compiler::is_built_in`]), a target other than the host, a
    /// host other than x86-64, a CPU preset with a feature the host lacks
    /// ([`Config::cpu_features`]), and a 64-bit memory reservation above
    /// 1 TiB ([`Config::memory64_reservation`]).
    pub fn new(config: &Config) -> Result<Engine, Error> {
        config.compiler.check_built_in()?;
        if config.memory64_reservation > MAX_MEMORY64_RESERVATION {
            return Err(Error::from(ErrorKind::Config(format!(
                "a 64-bit memory reservation of {} bytes is more than the {} bytes (1 TiB) allowed",
                config.memory64_reservation, MAX_MEMORY64_RESERVATION
            ))));
        }
        let host = target_lexicon::Triple::host();
        if let Some(target) = &config.target {
            let triple: target_lexicon::Triple = target
                .parse()
                .map_err(|e| Error::from(ErrorKind::Config(format!("target `{target}`: {e}"))))?;
            if triple != host {
                return Err(Error::from(ErrorKind::Config(format!(
                    "cannot compile for `{triple}`: duet compiles for the host (`{host}`) only"
                ))));
            }
        }
        if host.architecture != target_lexicon::Architecture::X86_64 {
            return Err(Error::from(ErrorKind::Config(format!(
                "duet generates x86-64 code; this host is `{host}`"
            ))));
        }
        let cpu = config.cpu.features();
        check_cpu_preset(config.cpu, cpu, CpuFeatures::host())?;
        Ok(Engine {
            inner: Arc::new(EngineInner {
                config: config.clone(),
                cpu,
                types: Mutex::new(HashMap::new()),
                trampolines: Mutex::new(HashMap::new()),
                pool: match &config.allocation {
                    InstanceAllocationStrategy::OnDemand => None,
                    InstanceAllocationStrategy::Pooling(pooling) => Some(Pool::new(
                        pooling.clone(),
                        Tunables {
                            consume_fuel: config.consume_fuel,
                            epoch_interruption: config.epoch_interruption,
                            ..config.tunables
                        },
                    )),
                },
                epoch: AtomicU64::new(0),
                tier_up: TierUpQueue::new(config.tier_up.threads),
            }),
        })
    }

    /// The configuration the engine was made with.
    pub fn config(&self) -> &Config {
        &self.inner.config
    }

    /// The CPU features the engine's code may use (its
    /// [`Config::cpu_features`] preset's).
    pub fn cpu_features(&self) -> CpuFeatures {
        self.inner.cpu
    }

    pub(crate) fn compiler(&self) -> Compiler {
        self.inner.config.compiler
    }

    pub(crate) fn features(&self) -> WasmFeatures {
        self.inner.config.features
    }

    /// The tunables both compilers and the runtime read, with the
    /// metering the configuration asks for.
    /// The pooling allocator, if the engine pools instances.
    pub(crate) fn pool(&self) -> Option<&Pool> {
        self.inner.pool.as_ref()
    }

    pub(crate) fn tunables(&self) -> Tunables {
        let config = &self.inner.config;
        Tunables {
            consume_fuel: config.consume_fuel,
            epoch_interruption: config.epoch_interruption,
            ..config.tunables
        }
    }

    /// Advances the engine's epoch by one. Callable from any thread (a
    /// timer thread, typically) while wasm runs in the engine's stores:
    /// code running past its store's deadline notices at its next function
    /// entry or loop header ([`Config::epoch_interruption`]).
    pub fn increment_epoch(&self) {
        self.inner.epoch.fetch_add(1, Ordering::Release);
    }

    /// The engine's epoch: how many times [`Engine::increment_epoch`] was
    /// called.
    pub fn current_epoch(&self) -> u64 {
        self.inner.epoch.load(Ordering::Acquire)
    }

    /// Tiered modules' background compilation.
    pub(crate) fn tier_up_queue(&self) -> &Arc<TierUpQueue> {
        &self.inner.tier_up
    }

    /// Where compiled code reads the epoch.
    pub(crate) fn epoch_counter(&self) -> *const u64 {
        self.inner.epoch.as_ptr().cast_const()
    }

    /// The most bytes a 64-bit memory reserves and grows to.
    pub(crate) fn memory64_reservation(&self) -> u64 {
        self.inner.config.memory64_reservation
    }

    /// How many threads compile a module's functions: 1 without
    /// [`Config::parallel_compilation`], else
    /// [`Config::compilation_threads`] or, by default, one per core.
    pub fn compilation_threads(&self) -> usize {
        let config = &self.inner.config;
        if !config.parallel {
            return 1;
        }
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        config.max_threads.unwrap_or(cores)
    }

    pub(crate) fn max_wasm_stack(&self) -> usize {
        self.inner.config.max_wasm_stack
    }

    /// The canonical id of `ty`.
    pub(crate) fn type_id(&self, ty: &FuncType) -> u32 {
        let mut types = self.inner.types.lock().unwrap_or_else(|e| e.into_inner());
        let next = types.len() as u32;
        *types.entry(ty.clone()).or_insert(next)
    }

    /// Whether two engines are the same one.
    pub fn same(a: &Engine, b: &Engine) -> bool {
        Arc::ptr_eq(&a.inner, &b.inner)
    }

    /// The trampolines for functions of type `ty`, compiled on first use.
    pub(crate) fn trampolines(&self, ty: &FuncType) -> Result<Arc<TypeTrampolines>, Error> {
        let id = self.type_id(ty);
        let mut cache = self
            .inner
            .trampolines
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        if let Some(found) = cache.get(&id) {
            return Ok(found.clone());
        }
        let compile = |r: Result<_, cranelift_asm::x64::AsmError>| {
            r.map_err(|e| Error::from(ErrorKind::Compile(format!("trampoline for {ty}: {e}"))))
        };
        let entry = compile(trampoline::compile_entry_trampoline(ty, self.inner.cpu))?;
        let host = compile(trampoline::compile_host_trampoline(ty, self.inner.cpu))?;
        let functions = [entry, host];
        let code = CodeMemory::new(&functions, |_| None)
            .map_err(|e| Error::from(ErrorKind::Resource(format!("trampoline code: {e}"))))?;
        let names = || {
            let list = |types: &[duet_environ::module::ValType]| {
                types
                    .iter()
                    .map(|t| t.to_string())
                    .collect::<Vec<_>>()
                    .join(",")
            };
            let signature = format!("({})->({})", list(&ty.params), list(&ty.results));
            CodeNames {
                module: "duet".to_string(),
                functions: vec![
                    format!("entry_trampoline{signature}"),
                    format!("host_trampoline{signature}"),
                ],
            }
        };
        let trampolines = Arc::new(TypeTrampolines {
            code: LoadedCode::new(
                &self.inner.config,
                code,
                CodeDetails::Compiled(&functions),
                names,
            )?,
        });
        cache.insert(id, trampolines.clone());
        Ok(trampolines)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// On a host with only the x86-64 baseline (not this one), every
    /// preset but `baseline` is refused, naming exactly what it lacks.
    #[test]
    fn a_preset_beyond_the_host_names_the_missing_features() {
        let host = CpuFeatures::baseline();
        let check = |preset: CpuPreset| check_cpu_preset(preset, preset.features(), host);
        assert!(check(CpuPreset::Baseline).is_ok());
        assert_eq!(
            check(CpuPreset::Sse41).unwrap_err().to_string(),
            "configuration: the CPU preset `sse4.1` needs sse3, ssse3, sse4.1, which this \
             host's CPU lacks (code using it could not run here)"
        );
        let avx2 = check(CpuPreset::Avx2).unwrap_err().to_string();
        assert!(
            avx2.contains(
                "needs sse3, ssse3, sse4.1, sse4.2, popcnt, lzcnt, bmi1, bmi2, avx, avx2, fma,"
            ),
            "{avx2}"
        );
        let sse41_host = CpuPreset::Sse41.features();
        assert!(check_cpu_preset(CpuPreset::Sse41, sse41_host, sse41_host).is_ok());
    }
}
