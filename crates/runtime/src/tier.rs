//! Tier-up ([`Compiler::Tiered`](crate::Compiler::Tiered)): a module
//! starts on baseline code and each hot function moves to optimized code
//! while the module runs, on other threads, without a pause.
//!
//! ```text
//!  Module::new ─► winch, with counters (Tunables::tier_up) ─► one mapping:
//!                 [f0 f1 … fn-1 | stub0 … stubn-1]   every call of f reaches stub[f]
//!                 entry[f] = &baseline f            (duet_environ::tierup)
//!
//!  baseline f spends its budget ─► tier_up(vmctx, f) builtin ─► Tiering::request:
//!      counter[f] = i32::MAX; state[f]: Baseline ─CAS─► Requested (else done)
//!      background: the engine's TierUpQueue ─► a worker takes f and every
//!                  other queued function of the module (a batch)
//!      synchronous: compiled before the builtin returns (Config::tier_up_synchronous)
//!
//!  a loop of a baseline activation spends its budget, the operand stack
//!  empty at its header ─► tier_up_osr(vmctx, f, loop) builtin ─► request_osr:
//!      the entry's code if installed; else queued (or compiled now) as a
//!      job of its own: 0, ask again in 1024 iterations; 1 if it cannot be
//!      made ─► baseline code calls the entry with its locals pointer and
//!      returns what it returns (on-stack replacement, duet_environ::tierup)
//!
//!  install(batch): cranelift compiles each function (one that fails stays
//!      on baseline code: Failed) ─► one new mapping [g0 … gk-1 | stubs of
//!      their callees] (a call of a function of the batch, or of one
//!      already optimized within reach, is direct) ─► linked, made
//!      read+execute ─► LoadedCode: trap
//!      tables, unwind tables, perf map, debugger (all before publication)
//!      ─► pushed onto `installed` ─► entry[g] = &optimized g (Release),
//!      then state[g] = Optimized (Release)
//! ```
//!
//! # Publication and memory ordering
//!
//! Code memory is never writable and executable at once: a batch is
//! copied and linked in a read-write mapping that becomes read+execute
//! before anything can jump to it (`code.rs`), and existing code never
//! changes. The only thing that changes is an entry cell, one aligned
//! pointer, which the jump stubs read with a plain 8-byte load (atomic on
//! x86-64, never torn) and which [`install`] writes once, with a `Release`
//! store, after everything the new code needs:
//!
//! 1. the code's bytes, written and relocated in the read-write mapping;
//! 2. `mprotect` to read+execute, a system call that shoots the mapping's
//!    old translations down on every CPU running the process (an
//!    inter-processor interrupt, which serializes the instruction stream
//!    of each CPU it reaches; a CPU not running the process serializes
//!    when it switches to it), so no CPU can execute the new addresses
//!    from anything but the final bytes;
//! 3. the registrations: the trap registry (the signal handler finds a
//!    fault in the new code), the unwind tables, the debugger and the
//!    perf map;
//! 4. the `Release` store of the entry.
//!
//! A thread that loads the new entry in a stub therefore runs the final
//! bytes, and a trap in them finds their tables: x86-64 keeps stores in
//! order (TSO), so a load that sees store 4 sees 1 and 3, and 2 happened
//! before 4 on the installing thread. A thread that loads the old entry
//! runs baseline code, which stays valid as long as the module: both
//! versions are correct, so a call racing with the installation may take
//! either. Activations already running keep running their version, but
//! for the loops that can move by on-stack replacement: such an entry is
//! published through the OSR map's mutex, after the same steps 1 to 3, and
//! only the activation that asked for it jumps there, through the address
//! the builtin returns.
//!
//! The function's state (`Baseline`, `Requested`, `Optimized`, `Failed`)
//! is written after the entry, so a later batch that finds a callee
//! `Optimized` (`Acquire`) reads its final entry and may call the
//! optimized code directly instead of through a stub.
//!
//! # Lifetime
//!
//! Everything here belongs to the module: the entries and counters
//! (which its code's relocations point at), and every installed batch,
//! which lives as long as the module (instances hold the module, so no
//! code is freed under a running activation). A queued job holds the
//! module weakly: a module dropped before its turn is not compiled.

use core::ops::Range;
use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicI32, AtomicU8, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, Weak};

use cranelift_asm::{ExternalName, FinishedCode};
use duet_environ::abi::FUNCTION_NAMESPACE;
use duet_environ::module::{DefinedFuncIndex, FunctionBodyData, ModuleTranslation};
use duet_environ::tierup;
use wasmparser::{BinaryReader, FuncToValidate, FunctionBody, ValidatorResources, WasmFeatures};

use crate::code::UnlinkedCode;
use crate::loaded::{CodeDetails, CodeNames, LoadedCode};
use crate::module::ModuleInner;
use crate::traps::CodeId;

/// How a tiered module's functions move to the optimizing tier
/// ([`Config::tier_up_budget`](crate::Config::tier_up_budget) and the
/// settings beside it).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(crate) struct TierUpConfig {
    /// Calls and loop iterations a function runs on baseline code before
    /// it asks for the optimizing tier (0: on its first call).
    pub budget: u32,
    /// The most background threads compiling at once.
    pub threads: usize,
    /// Compile before the requesting call goes on, instead of in the
    /// background.
    pub synchronous: bool,
}

impl Default for TierUpConfig {
    fn default() -> Self {
        TierUpConfig {
            budget: 1000,
            threads: 1,
            synchronous: false,
        }
    }
}

/// Where a defined function is.
const BASELINE: u8 = 0;
const REQUESTED: u8 = 1;
const OPTIMIZED: u8 = 2;
const FAILED: u8 = 3;

/// What the optimizing tier needs to compile a function later: where its
/// body is in the module's bytes, and what validating it needs.
struct Body {
    range: Range<usize>,
    resources: ValidatorResources,
    index: u32,
    ty: u32,
    features: WasmFeatures,
}

/// One installed batch of optimized code.
struct Installed {
    code: LoadedCode,
    /// The defined index of the code's function `k`, for the first
    /// `functions.len()` functions (the rest are jump stubs).
    functions: Box<[u32]>,
    /// Whether the code is an on-stack replacement entry.
    osr: bool,
}

/// A tiered module's tier-up state. See the [module docs](self).
pub(crate) struct Tiering {
    /// The module's bytes, which the optimizing tier compiles from.
    wasm: Box<[u8]>,
    bodies: Box<[Body]>,
    /// Defined function `f`'s entry: the code its stub jumps to.
    entries: Box<[AtomicUsize]>,
    /// Defined function `f`'s budget left (`duet_environ::tierup`).
    counters: Box<[AtomicI32]>,
    states: Box<[AtomicU8]>,
    installed: Mutex<Vec<Installed>>,
    /// The on-stack replacement entries asked for, by defined function
    /// and `loop` offset.
    osr: Mutex<HashMap<(u32, u32), OsrState>>,
    config: TierUpConfig,
}

/// Where an on-stack replacement entry is.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
enum OsrState {
    /// Queued or being compiled.
    Compiling,
    /// Compiled and installed at this address.
    Ready(usize),
    /// The optimizing tier could not make it: the loop stays on baseline
    /// code.
    Failed,
}

impl Tiering {
    /// The state of a module about to be compiled from `wasm` (whose
    /// translation is `translation`) with `config`. The entries are set by
    /// [`Tiering::set_baseline`] once the baseline code is laid out.
    pub(crate) fn new(
        wasm: &[u8],
        translation: &ModuleTranslation<'_>,
        config: TierUpConfig,
    ) -> Tiering {
        let bodies: Box<[Body]> = translation
            .function_bodies
            .iter()
            .map(|data| Body {
                range: data.body.range().start as usize..data.body.range().end as usize,
                resources: data.validator.resources.clone(),
                index: data.validator.index,
                ty: data.validator.ty,
                features: data.validator.features,
            })
            .collect();
        let count = bodies.len();
        let budget = i32::try_from(config.budget).unwrap_or(i32::MAX);
        Tiering {
            wasm: wasm.into(),
            bodies,
            entries: (0..count).map(|_| AtomicUsize::new(0)).collect(),
            counters: (0..count).map(|_| AtomicI32::new(budget)).collect(),
            states: (0..count).map(|_| AtomicU8::new(BASELINE)).collect(),
            installed: Mutex::new(Vec::new()),
            osr: Mutex::new(HashMap::new()),
            config,
        }
    }

    /// The number of defined functions.
    pub(crate) fn len(&self) -> usize {
        self.bodies.len()
    }

    /// Sets each function's entry to its baseline code's address, before
    /// anything can call it.
    pub(crate) fn set_baseline(&self, addresses: impl Iterator<Item = usize>) {
        for (entry, address) in self.entries.iter().zip(addresses) {
            entry.store(address, Ordering::Relaxed);
        }
    }

    /// The address a relocation in the tier-up namespaces names: a
    /// counter or an entry cell.
    pub(crate) fn resolve_cell(&self, name: ExternalName) -> Option<usize> {
        let index = name.index as usize;
        match name.namespace {
            tierup::COUNTER_NAMESPACE => Some(self.counters.get(index)?.as_ptr() as usize),
            tierup::ENTRY_NAMESPACE => Some(self.entries.get(index)?.as_ptr() as usize),
            _ => None,
        }
    }

    /// Whether defined function `index` runs optimized code from its next
    /// call on.
    pub(crate) fn is_optimized(&self, index: usize) -> bool {
        self.states
            .get(index)
            .is_some_and(|state| state.load(Ordering::Acquire) == OPTIMIZED)
    }

    /// How many functions run optimized code.
    pub(crate) fn optimized_count(&self) -> usize {
        self.states
            .iter()
            .filter(|state| state.load(Ordering::Acquire) == OPTIMIZED)
            .count()
    }

    /// The defined function an installed batch's function `function` is,
    /// if `code` is one of this module's batches, and whether it is an
    /// on-stack replacement entry (whose caller is the function's own
    /// baseline activation).
    pub(crate) fn optimized_function(&self, code: CodeId, function: usize) -> Option<(u32, bool)> {
        let installed = self.installed.lock().unwrap_or_else(|e| e.into_inner());
        let batch = installed.iter().find(|batch| batch.code.id() == code)?;
        Some((*batch.functions.get(function)?, batch.osr))
    }

    /// Defined function `index`'s body, as the optimizing tier compiles it.
    fn body(&self, index: usize) -> FunctionBodyData<'_> {
        let body = &self.bodies[index];
        let bytes = &self.wasm[body.range.clone()];
        FunctionBodyData {
            body: FunctionBody::new(BinaryReader::new_features(
                bytes,
                body.range.start as u64,
                body.features,
            )),
            validator: FuncToValidate {
                resources: body.resources.clone(),
                index: body.index,
                ty: body.ty,
                features: body.features,
            },
        }
    }
}

/// Baseline code of `module` spent defined function `index`'s budget:
/// queue it for the optimizing tier, or compile it now in synchronous
/// mode. Returns the loop iterations the activation runs before it asks
/// for an on-stack replacement entry: the budget. Called by the `tier_up`
/// builtin; never fails (a function the optimizing tier cannot compile
/// stays on baseline code).
pub(crate) fn request(module: &Arc<ModuleInner>, index: usize) -> u32 {
    let Some(tiering) = &module.tiering else {
        return u32::MAX >> 1;
    };
    let budget = tiering.config.budget.min(i32::MAX as u32);
    let Some(state) = tiering.states.get(index) else {
        return budget;
    };

    // Far from zero: an activation still looping on baseline code asks
    // again only after 2^31 counts.
    tiering.counters[index].store(i32::MAX, Ordering::Relaxed);
    if state
        .compare_exchange(BASELINE, REQUESTED, Ordering::AcqRel, Ordering::Relaxed)
        .is_err()
    {
        return budget;
    }
    let job = Job::Function(index as u32);
    if tiering.config.synchronous {
        if !synchronously(|| run(module, &[job])) {
            tiering.states[index].store(FAILED, Ordering::Release);
        }
    } else {
        module
            .engine
            .tier_up_queue()
            .submit(Arc::downgrade(module), job);
    }
    budget
}

/// A loop (at byte offset `loop_offset`) of `module`'s defined function
/// `index` spent its activation's budget in baseline code and can be
/// entered by on-stack replacement (`duet_environ::tierup`): the entry's
/// code once it is installed; else 0 (it is being compiled: ask again
/// later) or 1 (it cannot be made: never ask again). The function itself
/// is requested too. Called by the `tier_up_osr` builtin; never fails.
pub(crate) fn request_osr(module: &Arc<ModuleInner>, index: usize, loop_offset: u32) -> usize {
    const LATER: usize = 0;
    const NEVER: usize = 1;
    let Some(tiering) = &module.tiering else {
        return NEVER;
    };
    if index >= tiering.len() {
        return NEVER;
    }
    request(module, index);
    let key = (index as u32, loop_offset);
    let state = |tiering: &Tiering| {
        let osr = tiering.osr.lock().unwrap_or_else(|e| e.into_inner());
        osr.get(&key).copied()
    };
    match state(tiering) {
        Some(OsrState::Ready(address)) => return address,
        Some(OsrState::Failed) => return NEVER,
        Some(OsrState::Compiling) => return LATER,
        None => {}
    }
    {
        let mut osr = tiering.osr.lock().unwrap_or_else(|e| e.into_inner());
        if osr.contains_key(&key) {
            return LATER;
        }
        osr.insert(key, OsrState::Compiling);
    }
    let job = Job::Osr(index as u32, loop_offset);
    if !tiering.config.synchronous {
        module
            .engine
            .tier_up_queue()
            .submit(Arc::downgrade(module), job);
        return LATER;
    }
    if !synchronously(|| run(module, &[job])) {
        set_osr(tiering, key, OsrState::Failed);
    }
    match state(tiering) {
        Some(OsrState::Ready(address)) => address,
        _ => NEVER,
    }
}

/// Runs `work` before returning, on a thread of its own with a stack of
/// its own: a request may come from deep in a wasm recursion, with little
/// native stack left. False if no thread could be made.
fn synchronously(work: impl FnOnce() + Send) -> bool {
    std::thread::scope(|scope| {
        std::thread::Builder::new()
            .name("duet-tier-up".to_string())
            .stack_size(COMPILER_STACK)
            .spawn_scoped(scope, work)
            // `run` catches the compiler's panics itself.
            .map(|thread| drop(thread.join()))
            .is_ok()
    })
}

fn set_osr(tiering: &Tiering, key: (u32, u32), state: OsrState) {
    let mut osr = tiering.osr.lock().unwrap_or_else(|e| e.into_inner());
    osr.insert(key, state);
}

/// What the optimizing tier is asked to compile.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
enum Job {
    /// A defined function, installed behind its entry.
    Function(u32),
    /// A defined function's on-stack replacement entry at a `loop` offset.
    Osr(u32, u32),
}

/// Compiles and installs `jobs` (all of `module`): the functions as one
/// batch, each OSR entry on its own.
fn run(module: &ModuleInner, jobs: &[Job]) {
    let functions: Vec<u32> = jobs
        .iter()
        .filter_map(|job| match *job {
            Job::Function(index) => Some(index),
            Job::Osr(..) => None,
        })
        .collect();
    if !functions.is_empty() {
        install(module, &functions);
    }
    for job in jobs {
        if let &Job::Osr(index, loop_offset) = job {
            install_osr(module, index, loop_offset);
        }
    }
}

/// Compiles and installs the OSR entry of defined function `index` at
/// `loop_offset`; records it as `Ready` or `Failed`.
fn install_osr(module: &ModuleInner, index: u32, loop_offset: u32) {
    let Some(tiering) = &module.tiering else {
        return;
    };
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let code = compile_osr(module, tiering, index, loop_offset).ok_or(NotInstalled)?;
        load(module, tiering, vec![index], vec![code], true)
    }));
    let state = match outcome {
        Ok(Ok(addresses)) => OsrState::Ready(addresses[0]),
        _ => OsrState::Failed,
    };
    set_osr(tiering, (index, loop_offset), state);
}

/// The native stack a tier-up compilation thread gets.
const COMPILER_STACK: usize = 8 << 20;

/// Compiles `indices` (requested functions of `module`) with the
/// optimizing tier and installs what compiled; see the module docs.
fn install(module: &ModuleInner, indices: &[u32]) {
    let Some(tiering) = &module.tiering else {
        return;
    };
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        install_batch(module, tiering, indices)
    }));
    // Whatever did not install stays on baseline code for good.
    if !matches!(outcome, Ok(Ok(()))) {
        for &index in indices {
            let state = &tiering.states[index as usize];
            if state.load(Ordering::Acquire) == REQUESTED {
                state.store(FAILED, Ordering::Release);
            }
        }
    }
}

/// Why a batch was not installed (the functions stay on baseline code).
#[derive(Debug)]
struct NotInstalled;

fn install_batch(
    module: &ModuleInner,
    tiering: &Tiering,
    indices: &[u32],
) -> Result<(), NotInstalled> {
    let outcomes = compile_optimized(module, tiering, indices);
    let mut functions: Vec<u32> = Vec::new();
    let mut code: Vec<FinishedCode> = Vec::new();
    for (&index, outcome) in indices.iter().zip(outcomes) {
        match outcome {
            Some(finished) => {
                functions.push(index);
                code.push(finished);
            }
            None => tiering.states[index as usize].store(FAILED, Ordering::Release),
        }
    }
    if functions.is_empty() {
        return Ok(());
    }
    let addresses = load(module, tiering, functions.clone(), code, false)?;
    // Publication (module docs): the entry, then the state.
    for (&index, address) in functions.iter().zip(addresses) {
        tiering.entries[index as usize].store(address, Ordering::Release);
        tiering.states[index as usize].store(OPTIMIZED, Ordering::Release);
    }
    Ok(())
}

/// Links `code` (the optimizing tier's code of defined functions
/// `functions`, or with `osr` the on-stack replacement entry of the one
/// function) in a mapping of its own, registers it, keeps it for the
/// module's lifetime, and returns each function's address. Nothing calls
/// it yet.
fn load(
    module: &ModuleInner,
    tiering: &Tiering,
    functions: Vec<u32>,
    mut code: Vec<FinishedCode>,
    osr: bool,
) -> Result<Vec<usize>, NotInstalled> {
    let engine = &module.engine;
    let info = &module.info;
    // A call of a function of the batch goes straight to it; of one
    // already optimized, straight to its code if that is within a 32-bit
    // displacement of the whole batch (its code never changes again);
    // otherwise through a stub of the batch's own (the module's stubs may
    // lie out of reach), which reads the entry, so the call reaches the
    // optimized code once it is installed. (An OSR entry is no entry of
    // its function: its calls of the function go to the function.)
    let imported = info.num_imported_functions;
    let in_batch = |callee: u32| !osr && functions.contains(&callee);
    let mut callees: Vec<u32> = code
        .iter()
        .flat_map(|finished| finished.relocations())
        .filter(|r| r.target.namespace == FUNCTION_NAMESPACE)
        .filter_map(|r| r.target.index.checked_sub(imported))
        .filter(|&callee| !in_batch(callee))
        .collect();
    callees.sort_unstable();
    callees.dedup();
    for &callee in &callees {
        code.push(tierup::jump_stub(callee, engine.inner.cpu).map_err(|_| NotInstalled)?);
    }
    let unlinked = UnlinkedCode::new(&code).map_err(|_| NotInstalled)?;
    let batch: Vec<usize> = unlinked.function_addresses().collect();
    let (low, high) = (batch[0], batch[batch.len() - 1] + 16);
    let in_reach = |target: usize| {
        const REACH: usize = (1 << 31) - 1;
        target.abs_diff(low) < REACH && target.abs_diff(high) < REACH
    };
    let target = |callee: u32| -> Option<usize> {
        if let Some(k) = functions.iter().position(|&f| f == callee)
            && !osr
        {
            return Some(batch[k]);
        }
        if tiering.is_optimized(callee as usize) {
            let entry = tiering.entries[callee as usize].load(Ordering::Acquire);
            if in_reach(entry) {
                return Some(entry);
            }
        }
        let k = callees.binary_search(&callee).ok()?;
        Some(batch[functions.len() + k])
    };
    let linked = unlinked
        .link(|name| match name.namespace {
            FUNCTION_NAMESPACE => target(name.index.checked_sub(imported)?),
            _ => tiering.resolve_cell(name),
        })
        .map_err(|_| NotInstalled)?;
    let addresses: Vec<usize> = (0..functions.len())
        .map(|k| linked.function(k).map(|p| p as usize))
        .collect::<Option<_>>()
        .ok_or(NotInstalled)?;
    let loaded = LoadedCode::new(
        &engine.inner.config,
        linked,
        CodeDetails::Compiled(&code),
        || batch_names(module, &functions, &callees, osr),
    )
    .map_err(|_| NotInstalled)?;
    tiering
        .installed
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .push(Installed {
            code: loaded,
            functions: functions.clone().into_boxed_slice(),
            osr,
        });
    Ok(addresses)
}

/// Each of `indices` compiled by the optimizing tier, or `None` where it
/// failed (a function the optimizing tier refuses stays on baseline code).
#[cfg(feature = "cranelift")]
fn compile_optimized(
    module: &ModuleInner,
    tiering: &Tiering,
    indices: &[u32],
) -> Vec<Option<FinishedCode>> {
    let engine = &module.engine;
    cranelift_wasm::compile_some_functions(
        &module.info,
        engine.tunables(),
        engine.inner.cpu,
        indices
            .iter()
            .map(|&i| (DefinedFuncIndex::from_u32(i), tiering.body(i as usize))),
    )
    .into_iter()
    .map(Result::ok)
    .collect()
}

/// Defined function `index`'s on-stack replacement entry at
/// `loop_offset`, or `None` if the optimizing tier cannot make it.
#[cfg(feature = "cranelift")]
fn compile_osr(
    module: &ModuleInner,
    tiering: &Tiering,
    index: u32,
    loop_offset: u32,
) -> Option<FinishedCode> {
    let engine = &module.engine;
    cranelift_wasm::compile_osr_entry(
        &module.info,
        engine.tunables(),
        engine.inner.cpu,
        DefinedFuncIndex::from_u32(index),
        tiering.body(index as usize),
        u64::from(loop_offset),
    )
    .ok()
}

#[cfg(not(feature = "cranelift"))]
fn compile_osr(
    _module: &ModuleInner,
    _tiering: &Tiering,
    _index: u32,
    _loop_offset: u32,
) -> Option<FinishedCode> {
    None
}

/// Without the optimizing tier there is no tiered module
/// (`Compiler::Tiered` is not built in), so nothing to compile.
#[cfg(not(feature = "cranelift"))]
fn compile_optimized(
    _module: &ModuleInner,
    _tiering: &Tiering,
    indices: &[u32],
) -> Vec<Option<FinishedCode>> {
    indices.iter().map(|_| None).collect()
}

/// What a batch's functions are called in profiles and debuggers: the
/// baseline version's name with `[optimized]` (`[osr]` for an on-stack
/// replacement entry), and each stub's with `[stub]`.
fn batch_names(module: &ModuleInner, functions: &[u32], callees: &[u32], osr: bool) -> CodeNames {
    let kind = if osr { "osr" } else { "optimized" };
    let imported = module.info.num_imported_functions;
    let name = |index: u32, suffix: &str| {
        format!(
            "{} [{suffix}]",
            crate::module::function_name(&module.info, imported + index)
        )
    };
    CodeNames {
        module: module.name().to_string(),
        functions: functions
            .iter()
            .map(|&f| name(f, kind))
            .chain(callees.iter().map(|&f| name(f, "stub")))
            .collect(),
    }
}

/// The engine's background compilation: a queue of requested functions
/// and up to [`TierUpConfig::threads`] workers, started on demand. See
/// the [module docs](self).
pub(crate) struct TierUpQueue {
    state: Mutex<QueueState>,
    ready: Condvar,
    max_workers: usize,
}

struct QueueState {
    jobs: VecDeque<(Weak<ModuleInner>, Job)>,
    workers: usize,
    idle: usize,
    shut_down: bool,
}

/// The most functions one worker takes at once.
const MAX_BATCH: usize = 64;

impl TierUpQueue {
    pub(crate) fn new(max_workers: usize) -> Arc<TierUpQueue> {
        Arc::new(TierUpQueue {
            state: Mutex::new(QueueState {
                jobs: VecDeque::new(),
                workers: 0,
                idle: 0,
                shut_down: false,
            }),
            ready: Condvar::new(),
            max_workers: max_workers.max(1),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, QueueState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Queues `job` of `module`, starting a worker if none is idle and
    /// there is room for one.
    fn submit(self: &Arc<Self>, module: Weak<ModuleInner>, job: Job) {
        let mut state = self.lock();
        if state.shut_down {
            return;
        }
        state.jobs.push_back((module, job));
        if state.idle == 0 && state.workers < self.max_workers {
            let queue = self.clone();
            let spawned = std::thread::Builder::new()
                .name("duet-tier-up".to_string())
                .stack_size(COMPILER_STACK)
                .spawn(move || queue.work());
            if spawned.is_ok() {
                state.workers += 1;
            }
        }
        drop(state);
        self.ready.notify_one();
    }

    /// A worker: takes a batch (the first job and every other queued job
    /// of the same module, up to `MAX_BATCH`), installs it, and repeats
    /// until the engine is dropped.
    fn work(self: Arc<Self>) {
        loop {
            let mut state = self.lock();
            while state.jobs.is_empty() && !state.shut_down {
                state.idle += 1;
                state = self.ready.wait(state).unwrap_or_else(|e| e.into_inner());
                state.idle -= 1;
            }
            let Some((module, first)) = state.jobs.pop_front() else {
                state.workers -= 1;
                return;
            };
            let mut batch = vec![first];
            let mut k = 0;
            while k < state.jobs.len() && batch.len() < MAX_BATCH {
                if Weak::ptr_eq(&state.jobs[k].0, &module) {
                    let (_, index) = state.jobs.remove(k).expect("k < len");
                    batch.push(index);
                } else {
                    k += 1;
                }
            }
            drop(state);
            if let Some(module) = module.upgrade() {
                run(&module, &batch);
            }
        }
    }

    /// Stops the workers once the queue is empty (the engine is gone;
    /// queued jobs of live modules still finish).
    pub(crate) fn shut_down(&self) {
        self.lock().shut_down = true;
        self.ready.notify_all();
    }
}
