//! [`Store`]: owns every instance, memory, table, global, function and
//! external reference made in it; handles ([`Func`], [`Memory`], ...) are
//! indices into it, tagged with the store's id.
//!
//! # Where the records compiled code reads live
//!
//! * A memory or table has one definition record of its own (a stable
//!   `Box` inside [`LinearMemory`] / [`RtTable`]), which importing
//!   instances point at. A memory or table an instance *defines* is also
//!   read from a copy inline in that instance's VMContext (compiled code
//!   reads a defined memory's base with one load); every growth goes
//!   through the store (a builtin or the API), which rewrites that copy
//!   (`owner`) right after the record.
//! * A global an instance defines lives in its VMContext; one the host
//!   makes lives in a `Box` here. Importers point at either.
//! * A function is a `VMFuncRef`: in its instance's VMContext, or for a
//!   host function in a `Box` here.
//!
//! Everything is freed with the store, never earlier: a table of another
//! instance may hold a reference into any instance's VMContext.

use crate::engine::{Engine, TypeTrampolines};
use crate::error::{Error, ErrorKind};
use crate::func::{Caller, EntryPoint, Func, HostContext};
use crate::instance::{Instance, InstanceData};
use crate::limits::ResourceLimiter;
use crate::memory::LinearMemory;
use crate::module::Module;
use crate::table::Table as RtTable;
use crate::vm::VMStoreContext;
use crate::vm::{VMFuncRef, VMGlobalDefinition, VMMemoryDefinition, VMTableDefinition};
use core::any::Any;
use duet_environ::module::{FuncType, GlobalType, MemoryType, RefType, TableType, ValType};
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

static NEXT_STORE_ID: AtomicU64 = AtomicU64::new(1);

/// A memory of the store.
pub(crate) struct StoreMemory {
    pub(crate) memory: LinearMemory,
    /// The declared type, with the minimum as created.
    pub(crate) ty: MemoryType,
    /// The copy of the definition in the defining instance's VMContext, or
    /// null for a host memory.
    pub(crate) owner: *mut VMMemoryDefinition,
    /// Whether the memory is in a slot of the engine's pool, to which the
    /// store gives it back when dropped.
    pub(crate) pooled: bool,
}

impl StoreMemory {
    /// Grows the memory, keeping the owner's copy of the definition in
    /// step.
    pub(crate) fn grow(&mut self, delta: u64) -> Option<u64> {
        let old = self.memory.grow(delta)?;
        self.sync_owner();
        Some(old)
    }

    fn sync_owner(&mut self) {
        if !self.owner.is_null() {
            // SAFETY: `owner` points into a VMContext the store keeps alive;
            // compiled code only reads it, and is not running during a
            // growth (it waits in the builtin that called this).
            unsafe { *self.owner = *self.memory.vmmemory_definition() };
        }
    }
}

/// A table of the store.
pub(crate) struct StoreTable {
    pub(crate) table: RtTable,
    pub(crate) ty: TableType,
    /// As for [`StoreMemory::owner`].
    pub(crate) owner: *mut VMTableDefinition,
}

impl StoreTable {
    /// Grows the table, keeping the owner's copy in step (the elements may
    /// move).
    pub(crate) fn grow(&mut self, delta: u64, init: usize) -> Option<u64> {
        let old = self.table.grow(delta, init)?;
        if !self.owner.is_null() {
            // SAFETY: as in `StoreMemory::sync_owner`.
            unsafe { *self.owner = *self.table.vmtable_definition() };
        }
        Some(old)
    }
}

/// A global of the store.
pub(crate) struct StoreGlobal {
    pub(crate) ty: GlobalType,
    pub(crate) definition: *mut VMGlobalDefinition,
    /// The storage of a host global (`definition` points into it).
    pub(crate) _host: Option<Box<VMGlobalDefinition>>,
}

/// A host function's parts: what wasm and the host call it through.
pub(crate) struct HostFuncParts {
    pub(crate) callback: crate::func::HostFn,
    /// The context of calls through the function's own `VMFuncRef`.
    pub(crate) _context: Box<HostContext>,
    pub(crate) _func_ref: Box<VMFuncRef>,
    pub(crate) trampolines: Arc<TypeTrampolines>,
}

/// A function of the store.
pub(crate) struct StoreFunc {
    pub(crate) func_ref: *const VMFuncRef,
    /// The type: in the instance's module (which the store keeps), or in
    /// the host function's boxed `HostContext`. Borrowed rather than
    /// cloned, so that instantiation does not allocate a type per function.
    ty: *const FuncType,
    /// Boxed: most functions are an instance's, and a small `StoreFunc`
    /// makes instantiation's pushes cheap.
    pub(crate) host: Option<Box<HostFuncParts>>,
    /// The entry trampoline of `ty`, found on the first call from the
    /// host (null until then): later calls skip the engine's lookup, and
    /// its lock. The engine, which the store holds, keeps it alive.
    pub(crate) entry: *const u8,
}

impl StoreFunc {
    /// The function's type.
    pub(crate) fn ty(&self) -> &FuncType {
        // SAFETY: `ty` points into a module or host context the store
        // keeps as long as the function.
        unsafe { &*self.ty }
    }
}

/// The part of a store that does not depend on its data type. Public only
/// so that [`AsStore`] can name it; nothing of it is.
#[doc(hidden)]
pub struct StoreOpaque {
    pub(crate) id: u64,
    pub(crate) engine: Engine,
    #[allow(clippy::vec_box, reason = "VMContexts point at the records")]
    pub(crate) instances: Vec<Box<InstanceData>>,
    pub(crate) memories: Vec<StoreMemory>,
    pub(crate) tables: Vec<StoreTable>,
    pub(crate) globals: Vec<StoreGlobal>,
    pub(crate) funcs: Vec<StoreFunc>,
    /// The host function owning each host `VMFuncRef` address, to turn
    /// references read from tables and globals back into [`Func`]s. An
    /// instance's function references are found through
    /// `instance_by_vmctx` instead: one entry per instance rather than one
    /// hash per function at instantiation.
    pub(crate) func_by_ref: HashMap<usize, u32>,
    /// Each instance by its VMContext's address.
    pub(crate) instance_by_vmctx: BTreeMap<usize, u32>,
    pub(crate) externrefs: Vec<Box<dyn Any + Send + Sync>>,
    /// The modules instantiated here (for backtraces), each once.
    pub(crate) modules: Vec<Module>,
    /// A host function's error, between its failure and the trap's return
    /// to the host.
    pub(crate) host_error: Option<Error>,
    /// A host function's panic, resumed once back in the host.
    pub(crate) host_panic: Option<Box<dyn Any + Send>>,
    /// How many calls into wasm are in progress.
    pub(crate) depth: u32,
    /// The lowest address wasm's stack may reach in the outermost call in
    /// progress.
    pub(crate) stack_limit: usize,
    /// The embedder's [`ResourceLimiter`], if [`Store::limiter`] set one.
    pub(crate) limiter: Option<LimiterHook>,
    /// What compiled code shares across the store's instances (the fuel
    /// counter); every VMContext's `STORE_CONTEXT` points here.
    pub(crate) vm_store_context: Box<VMStoreContext>,
    /// The epoch at which running code stops ([`Store::set_epoch_deadline`]),
    /// copied into every VMContext of the store.
    pub(crate) epoch_deadline: u64,
    /// What happens at the deadline: `None` traps with `Interrupt`.
    pub(crate) epoch_callback: Option<EpochCallback>,
    /// The instance and table slots of the engine's pool this store took
    /// (the slots' storage is in its instances and tables; its pooled
    /// memories say so themselves), given back when it is dropped.
    pub(crate) pooled_instances: u32,
    pub(crate) pooled_tables: u32,
}

/// Gives the store's pooled slots back to the engine's pool (`pool.rs`):
/// the VMContexts' and tables' slots zeroed, the memories to be cleared.
/// Nothing runs between this and the fields' own drops, so the instances,
/// whose VMContexts are gone and whose function references tables may
/// still hold, are never used again.
impl Drop for StoreOpaque {
    fn drop(&mut self) {
        if let Some(pool) = self.engine.pool() {
            let vmctxs = self
                .instances
                .iter_mut()
                .filter_map(|instance| instance.take_vmctx_slot());
            let tables = self
                .tables
                .iter_mut()
                .filter_map(|table| table.table.take_slot());
            let memories = self
                .memories
                .drain(..)
                .filter(|memory| memory.pooled)
                .map(|memory| memory.memory);
            pool.release(
                self.pooled_instances,
                vmctxs,
                self.pooled_tables,
                tables,
                memories,
            );
        }
    }
}

// SAFETY: `Store<T>` is `Send` when `T` is, and `Sync` when `T` is, as
// Wasmtime's is; `StoreOpaque` is the part that is not `Send` by itself,
// only because of raw pointers (and `host_panic`, which is `Send` but not
// `Sync`). Every raw pointer in it (and in the `InstanceData`,
// `HostContext` and `VMFuncRef` boxes it owns) points either into memory
// the store itself owns (VMContexts, definition records, linear memories,
// host function contexts, the store itself) or into code and trampolines
// that its `Engine` and `Module`s keep alive, which are `Send + Sync`.
// None of it is tied to a thread: the only thread-local state a call uses
// (the trap handler's activation record in `traps`) lives for the call,
// and a call borrows the store mutably, so it starts and ends on one
// thread. Moving the store moves the `Box` that owns all of this, and no
// address inside changes.
unsafe impl Send for StoreOpaque {}
// SAFETY: through `&StoreOpaque` nothing is written: the methods taking
// `&self` read the vectors and records, and the only interior mutability,
// the fuel counter's `UnsafeCell` in `VMStoreContext`, is written only by
// wasm (which runs under `&mut`) and by `set_fuel(&mut self)`; `host_panic`
// and `host_error` are only touched under `&mut`. Shared references on
// several threads therefore only read.
unsafe impl Sync for StoreOpaque {}

/// A [`Store::epoch_deadline_callback`] with the store's data type erased:
/// it is given a pointer to the `StoreInner<T>` it was made for and the
/// instance whose code reached the deadline.
pub(crate) type EpochCallback =
    Box<dyn FnMut(*mut StoreOpaque, Instance) -> Result<UpdateDeadline, Error> + Send + Sync>;

/// What an epoch deadline callback ([`Store::epoch_deadline_callback`])
/// tells the interrupted code.
#[derive(Copy, Clone, PartialEq, Eq, Debug)]
pub enum UpdateDeadline {
    /// Go on, with the deadline this many epochs after the current one.
    Continue(u64),
}

/// How the store reaches its limiter: the embedder's closure over `T`,
/// erased, called with a callback that receives the limiter.
pub(crate) type LimiterHook =
    Box<dyn FnMut(&mut dyn FnMut(&mut dyn ResourceLimiter)) + Send + Sync>;

/// The store's data, as the limiter hook reaches it (the hook lives in the
/// same store as the data, and is only called while the store is borrowed
/// mutably).
struct DataPtr<T>(*mut T);

// SAFETY: the pointer is the store's own data, used only through the store
// (so on the thread that holds it mutably); `Store<T>` is `Send` only if
// `T` is, which the bound on `Store::limiter` keeps.
unsafe impl<T: Send> Send for DataPtr<T> {}
// SAFETY: as above; the hook is never called through a shared reference.
unsafe impl<T: Send> Sync for DataPtr<T> {}

/// A `Store<T>`'s box: the opaque part first, so that a pointer to it is a
/// pointer to the whole (host functions recover `T` that way).
#[repr(C)]
pub(crate) struct StoreInner<T> {
    pub(crate) opaque: StoreOpaque,
    pub(crate) data: T,
}

/// Everything instances create and use, with the embedder's data `T`.
///
/// # Handles from another store
///
/// A handle ([`Func`], [`Memory`](crate::Memory), [`Table`](crate::Table),
/// [`Global`](crate::Global), [`Instance`](crate::Instance),
/// [`ExternRef`]) belongs to the store that made it. Every method that
/// takes a store returns [`ErrorKind::Type`](crate::ErrorKind::Type) ("the memory belongs to another
/// store", and so on) when given a handle from another one, or a reference
/// value ([`Val::FuncRef`], [`Val::ExternRef`]) from another one, and
/// touches nothing: the accessors (`ty`, `size`, `data`, `data_mut`,
/// `data_and_store_mut`, `Table::get`, `Global::get`, `Extern::ty`,
/// `ExternRef::data`, `Instance::module`, `Instance::get_export` and its
/// typed forms, `Instance::exports`) as much as the methods that change or
/// run something (`Memory::grow`, `Table::set`, `Table::grow`,
/// `Global::set`, `Func::call`, `Func::typed`, `TypedFunc::call`,
/// `Instance::new` and `Linker::instantiate` for their imports,
/// `Linker::instance`, `Table::new` and `Global::new` for their initial
/// values). No method panics on a foreign handle.
///
/// This differs from Wasmtime, whose accessors that cannot otherwise fail
/// (`Memory::size`, `Global::get`, `Instance::get_export`, ...) panic when
/// given a handle from another store. Here a wrong store is the
/// embedder's mistake like a value of the wrong type, and is reported the
/// same way by every method, so that no method panics on what an embedder
/// passes it; the price is a `?` (or an `unwrap`) after each accessor. An
/// embedder that juggles several stores can also ask first with
/// `comes_from_same_store` ([`crate::Extern`], [`crate::Instance`],
/// [`ExternRef`]).
///
/// # Threads
///
/// A `Store<T>` is `Send` when `T` is, and `Sync` when `T` is, as in
/// Wasmtime: a store can be made on one thread and used on another (one
/// thread at a time: calls take `&mut Store`).
///
/// ```
/// use duet::{Engine, Instance, Module, Store};
/// let engine = Engine::default();
/// let module = Module::new(&engine, r#"(module
///     (global $n (mut i32) (i32.const 0))
///     (func (export "next") (result i32)
///       (global.set $n (i32.add (global.get $n) (i32.const 1)))
///       (global.get $n)))"#)?;
/// let mut store = Store::new(&engine, "my data");
/// let instance = Instance::new(&mut store, &module, &[])?;
/// let next = instance.get_typed_func::<(), i32>(&mut store, "next")?;
/// assert_eq!(next.call(&mut store, ())?, 1);
/// let mut store = std::thread::spawn(move || {
///     assert_eq!(next.call(&mut store, ()).unwrap(), 2);
///     store
/// })
/// .join()
/// .unwrap();
/// assert_eq!(next.call(&mut store, ())?, 3);
/// assert_eq!(*store.data(), "my data");
/// # Ok::<(), duet::Error>(())
/// ```
pub struct Store<T> {
    pub(crate) inner: Box<StoreInner<T>>,
}

impl<T> Store<T> {
    /// An empty store for modules of `engine`.
    pub fn new(engine: &Engine, data: T) -> Store<T> {
        Store {
            inner: Box::new(StoreInner {
                opaque: StoreOpaque {
                    id: NEXT_STORE_ID.fetch_add(1, Ordering::Relaxed),
                    engine: engine.clone(),
                    instances: Vec::new(),
                    memories: Vec::new(),
                    tables: Vec::new(),
                    globals: Vec::new(),
                    funcs: Vec::new(),
                    func_by_ref: HashMap::new(),
                    instance_by_vmctx: BTreeMap::new(),
                    externrefs: Vec::new(),
                    modules: Vec::new(),
                    host_error: None,
                    host_panic: None,
                    depth: 0,
                    stack_limit: 0,
                    limiter: None,
                    vm_store_context: Box::default(),
                    epoch_deadline: 0,
                    epoch_callback: None,
                    pooled_instances: 0,
                    pooled_tables: 0,
                },
                data,
            }),
        }
    }

    /// The embedder's data.
    pub fn data(&self) -> &T {
        &self.inner.data
    }

    /// The embedder's data, for writing.
    pub fn data_mut(&mut self) -> &mut T {
        &mut self.inner.data
    }

    /// The engine.
    pub fn engine(&self) -> &Engine {
        &self.inner.opaque.engine
    }

    /// Installs a [`ResourceLimiter`], found in the store's data by
    /// `limiter`: from now on every growth of a memory or table of the
    /// store, every new memory or table and every instantiation asks it
    /// first (`limits.rs` says what a refusal does on each path).
    ///
    /// ```
    /// use duet::{Engine, Instance, Module, Store, StoreLimits, StoreLimitsBuilder};
    /// let engine = Engine::default();
    /// let limits = StoreLimitsBuilder::new().memory_size(1 << 16).build();
    /// let mut store = Store::new(&engine, limits);
    /// store.limiter(|limits| limits);
    /// let module = Module::new(&engine, "(module (memory 2))")?;
    /// let error = Instance::new(&mut store, &module, &[]).unwrap_err();
    /// assert!(error.to_string().contains("memory_size"));
    /// # Ok::<(), duet::Error>(())
    /// ```
    pub fn limiter(
        &mut self,
        mut limiter: impl (FnMut(&mut T) -> &mut dyn ResourceLimiter) + Send + Sync + 'static,
    ) where
        T: Send + 'static,
    {
        let data = DataPtr(&mut self.inner.data as *mut T);
        self.inner.opaque.limiter = Some(Box::new(move |f| {
            let data = &data;
            // SAFETY: `data` is this store's data, in its box, which lives
            // as long as the hook; the hook runs only while the store is
            // borrowed mutably and the data itself is not borrowed (the
            // store's methods call it on the opaque part alone).
            f(limiter(unsafe { &mut *data.0 }))
        }));
    }

    /// Gives the store `fuel` units of fuel, replacing what was left
    /// ([`Config::consume_fuel`]; an [`ErrorKind::Config`](crate::ErrorKind::Config) if the engine does
    /// not consume fuel). At most `i64::MAX` counts.
    ///
    /// ```
    /// use duet::{Config, Engine, Instance, Module, Store, Trap, TrapCode};
    /// let engine = Engine::new(Config::new().consume_fuel(true))?;
    /// let module = Module::new(&engine, r#"(module (func (export "spin") (loop br 0)))"#)?;
    /// let mut store = Store::new(&engine, ());
    /// store.set_fuel(10_000)?;
    /// let instance = Instance::new(&mut store, &module, &[])?;
    /// let spin = instance.get_func(&store, "spin")?.unwrap().typed::<(), ()>(&store)?;
    /// let trap = spin.call(&mut store, ()).unwrap_err();
    /// assert_eq!(trap.downcast_ref::<Trap>().map(Trap::code), Some(TrapCode::OutOfFuel));
    /// assert_eq!(store.get_fuel()?, 0);
    /// # Ok::<(), duet::Error>(())
    /// ```
    ///
    /// [`Config::consume_fuel`]: crate::Config::consume_fuel
    pub fn set_fuel(&mut self, fuel: u64) -> Result<(), Error> {
        self.inner.opaque.set_fuel(fuel)
    }

    /// The fuel left ([`Store::set_fuel`]); 0 once exhausted, even if the
    /// last call ran a little past the end (code checks only at function
    /// entries and loop headers).
    pub fn get_fuel(&self) -> Result<u64, Error> {
        self.inner.opaque.get_fuel()
    }

    /// Sets the deadline `delta` epochs after the engine's current one
    /// ([`Config::epoch_interruption`]): wasm of this store that runs
    /// when [`Engine::increment_epoch`] has reached it stops at its next
    /// check: a loop header, or before a call. Until set, the deadline is epoch 0,
    /// which has always been reached.
    ///
    /// [`Config::epoch_interruption`]: crate::Config::epoch_interruption
    pub fn set_epoch_deadline(&mut self, delta: u64) {
        self.inner.opaque.set_epoch_deadline(delta);
    }

    /// At the deadline, trap with [`TrapCode::Interrupt`](crate::TrapCode::Interrupt)
    /// (the default; undoes [`Store::epoch_deadline_callback`]).
    pub fn epoch_deadline_trap(&mut self) {
        self.inner.opaque.epoch_callback = None;
    }

    /// At the deadline, run `callback` with the store (and the instance
    /// whose code reached it, as the [`Caller`]): `Ok(UpdateDeadline::Continue(delta))`
    /// moves the deadline `delta` epochs past the current one and the code
    /// goes on; an error traps with [`TrapCode::Interrupt`](crate::TrapCode::Interrupt),
    /// the error as the trap's source.
    ///
    /// ```
    /// use duet::{Config, Engine, Instance, Module, Store, UpdateDeadline};
    /// let engine = Engine::new(Config::new().epoch_interruption(true))?;
    /// // Counts to 3 in a loop: the loop's header checks the epoch.
    /// let module = Module::new(&engine, r#"(module
    ///     (func (export "f") (result i32) (local $i i32)
    ///         (loop (br_if 0 (i32.lt_u
    ///             (local.tee $i (i32.add (local.get $i) (i32.const 1)))
    ///             (i32.const 3))))
    ///         local.get $i))"#)?;
    /// let mut store = Store::new(&engine, 0u32);
    /// store.epoch_deadline_callback(|mut caller| {
    ///     *caller.data_mut() += 1;
    ///     Ok(UpdateDeadline::Continue(1))
    /// });
    /// let instance = Instance::new(&mut store, &module, &[])?;
    /// let f = instance.get_func(&store, "f")?.unwrap().typed::<(), i32>(&store)?;
    /// assert_eq!(f.call(&mut store, ())?, 3);
    /// assert_eq!(*store.data(), 1); // the deadline was epoch 0: called once
    /// # Ok::<(), duet::Error>(())
    /// ```
    pub fn epoch_deadline_callback(
        &mut self,
        mut callback: impl FnMut(Caller<'_, T>) -> Result<UpdateDeadline, Error> + Send + Sync + 'static,
    ) where
        T: 'static,
    {
        self.inner.opaque.epoch_callback = Some(Box::new(move |store, instance| {
            // SAFETY: the callback is only called by `new_epoch` with the
            // store it was installed in, a `StoreInner<T>` whose opaque
            // part is its first field, while nothing else borrows it.
            let store = unsafe { &mut *store.cast::<StoreInner<T>>() };
            callback(Caller {
                store,
                caller: Some(instance),
            })
        }));
    }
}

impl StoreOpaque {
    /// [`Store::set_fuel`].
    pub(crate) fn set_fuel(&mut self, fuel: u64) -> Result<(), Error> {
        self.check_fuel_enabled()?;
        let fuel = i64::try_from(fuel).unwrap_or(i64::MAX);
        // SAFETY: no wasm of this store runs while it is borrowed mutably
        // (a host function's `Caller` runs between wasm frames, which
        // wrote the counter back before calling).
        unsafe { *self.vm_store_context.fuel_consumed.get() = -fuel };
        Ok(())
    }

    /// [`Store::get_fuel`].
    pub(crate) fn get_fuel(&self) -> Result<u64, Error> {
        self.check_fuel_enabled()?;
        // SAFETY: as in `set_fuel`.
        let consumed = unsafe { *self.vm_store_context.fuel_consumed.get() };
        Ok(consumed.min(0).unsigned_abs())
    }

    fn check_fuel_enabled(&self) -> Result<(), Error> {
        if self.engine.tunables().consume_fuel {
            Ok(())
        } else {
            Err(Error::from(ErrorKind::Config(
                "fuel is not enabled in this engine (Config::consume_fuel)".to_string(),
            )))
        }
    }

    /// [`Store::set_epoch_deadline`].
    pub(crate) fn set_epoch_deadline(&mut self, delta: u64) {
        self.epoch_deadline = self.engine.current_epoch().saturating_add(delta);
        for instance in &self.instances {
            instance.set_epoch_deadline(self.epoch_deadline);
        }
    }
}

impl<T> core::fmt::Debug for Store<T> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Store")
            .field("id", &self.inner.opaque.id)
            .finish_non_exhaustive()
    }
}

/// What API calls take as a store: a [`Store`] or a host function's
/// [`Caller`], by reference.
pub trait AsStore {
    #[doc(hidden)]
    fn as_store(&self) -> &StoreOpaque;
}

/// [`AsStore`] for calls that change the store.
pub trait AsStoreMut: AsStore {
    #[doc(hidden)]
    fn as_store_mut(&mut self) -> &mut StoreOpaque;
}

impl<T> AsStore for Store<T> {
    fn as_store(&self) -> &StoreOpaque {
        &self.inner.opaque
    }
}

impl<T> AsStoreMut for Store<T> {
    fn as_store_mut(&mut self) -> &mut StoreOpaque {
        &mut self.inner.opaque
    }
}

impl<T> AsStore for Caller<'_, T> {
    fn as_store(&self) -> &StoreOpaque {
        &self.store.opaque
    }
}

impl<T> AsStoreMut for Caller<'_, T> {
    fn as_store_mut(&mut self) -> &mut StoreOpaque {
        &mut self.store.opaque
    }
}

/// [`AsStoreMut`] that also reaches the store's data `T`, apart from the
/// rest of the store, so that a host function can hold a memory's bytes
/// and its own state at once ([`Memory::data_and_store_mut`]).
///
/// [`Memory::data_and_store_mut`]: crate::Memory::data_and_store_mut
pub trait AsStoreDataMut: AsStoreMut {
    /// The store's data type.
    type Data;

    #[doc(hidden)]
    fn store_and_data_mut(&mut self) -> (&mut StoreOpaque, &mut Self::Data);
}

impl<T> AsStoreDataMut for Store<T> {
    type Data = T;

    fn store_and_data_mut(&mut self) -> (&mut StoreOpaque, &mut T) {
        let inner = &mut *self.inner;
        (&mut inner.opaque, &mut inner.data)
    }
}

impl<T> AsStoreDataMut for Caller<'_, T> {
    type Data = T;

    fn store_and_data_mut(&mut self) -> (&mut StoreOpaque, &mut T) {
        let inner = &mut *self.store;
        (&mut inner.opaque, &mut inner.data)
    }
}

impl<S: AsStoreDataMut + ?Sized> AsStoreDataMut for &mut S {
    type Data = S::Data;

    fn store_and_data_mut(&mut self) -> (&mut StoreOpaque, &mut S::Data) {
        (**self).store_and_data_mut()
    }
}

impl<S: AsStore + ?Sized> AsStore for &S {
    fn as_store(&self) -> &StoreOpaque {
        (**self).as_store()
    }
}

impl<S: AsStore + ?Sized> AsStore for &mut S {
    fn as_store(&self) -> &StoreOpaque {
        (**self).as_store()
    }
}

impl<S: AsStoreMut + ?Sized> AsStoreMut for &mut S {
    fn as_store_mut(&mut self) -> &mut StoreOpaque {
        (**self).as_store_mut()
    }
}

/// A reference to a host value (`externref`), owned by its store.
#[derive(Copy, Clone, PartialEq, Eq, Hash, Debug)]
pub struct ExternRef {
    pub(crate) store: u64,
    pub(crate) index: u32,
}

impl ExternRef {
    /// A reference to `value`, which lives as long as the store.
    pub fn new(mut store: impl AsStoreMut, value: impl Any + Send + Sync) -> ExternRef {
        let store = store.as_store_mut();
        store.externrefs.push(Box::new(value));
        ExternRef {
            store: store.id,
            index: store.externrefs.len() as u32 - 1,
        }
    }

    /// The value referenced.
    ///
    /// A reference made in another store is an [`ErrorKind::Type`](crate::ErrorKind::Type) (see
    /// "Handles from another store" in the docs of [`Store`]).
    pub fn data<'a>(&self, store: &'a impl AsStore) -> Result<&'a (dyn Any + Send + Sync), Error> {
        let store = store.as_store();
        store.check(self.store, "the extern reference")?;
        Ok(&*store.externrefs[self.index as usize])
    }

    /// Whether the reference was made in `store`: when it was not,
    /// [`ExternRef::data`] and every method given it as a value return an
    /// [`ErrorKind::Type`](crate::ErrorKind::Type).
    pub fn comes_from_same_store(&self, store: impl AsStore) -> bool {
        self.store == store.as_store().id
    }
}

/// A WebAssembly value.
#[derive(Copy, Clone, Debug)]
pub enum Val {
    /// An `i32`.
    I32(i32),
    /// An `i64`.
    I64(i64),
    /// An `f32`, as its bits (NaN payloads survive).
    F32(u32),
    /// An `f64`, as its bits.
    F64(u64),
    /// A `v128`, as a little-endian integer: byte `i` of the vector is
    /// bits `8 * i ..= 8 * i + 7`, so lane 0 of every shape is the lowest
    /// (`v128.const i32x4 1 2 3 4` is `0x00000004_00000003_00000002_00000001`).
    V128(u128),
    /// A `funcref`; `None` is null.
    FuncRef(Option<Func>),
    /// An `externref`; `None` is null.
    ExternRef(Option<ExternRef>),
}

impl Val {
    /// The value's type.
    pub fn ty(&self) -> ValType {
        match self {
            Val::I32(_) => ValType::I32,
            Val::I64(_) => ValType::I64,
            Val::F32(_) => ValType::F32,
            Val::F64(_) => ValType::F64,
            Val::V128(_) => ValType::V128,
            Val::FuncRef(_) => ValType::FuncRef,
            Val::ExternRef(_) => ValType::ExternRef,
        }
    }

    /// The null reference of type `ty`.
    pub fn null(ty: RefType) -> Val {
        match ty {
            RefType::FuncRef => Val::FuncRef(None),
            RefType::ExternRef => Val::ExternRef(None),
        }
    }

    /// The zero of `ty` (null for references).
    pub fn default_for(ty: ValType) -> Val {
        match ty {
            ValType::I32 => Val::I32(0),
            ValType::I64 => Val::I64(0),
            ValType::F32 => Val::F32(0),
            ValType::F64 => Val::F64(0),
            ValType::V128 => Val::V128(0),
            ValType::FuncRef => Val::FuncRef(None),
            ValType::ExternRef => Val::ExternRef(None),
        }
    }

    /// The `i32`, if this is one.
    pub fn i32(&self) -> Option<i32> {
        match *self {
            Val::I32(v) => Some(v),
            _ => None,
        }
    }

    /// The `i64`, if this is one.
    pub fn i64(&self) -> Option<i64> {
        match *self {
            Val::I64(v) => Some(v),
            _ => None,
        }
    }

    /// The `f32`, if this is one.
    pub fn f32(&self) -> Option<f32> {
        match *self {
            Val::F32(v) => Some(f32::from_bits(v)),
            _ => None,
        }
    }

    /// The `f64`, if this is one.
    pub fn f64(&self) -> Option<f64> {
        match *self {
            Val::F64(v) => Some(f64::from_bits(v)),
            _ => None,
        }
    }

    /// The `v128`, if this is one: its 16 bytes as a little-endian
    /// integer, so lane 0 of any shape is the lowest bits.
    pub fn v128(&self) -> Option<u128> {
        match *self {
            Val::V128(v) => Some(v),
            _ => None,
        }
    }
}

impl From<i32> for Val {
    fn from(v: i32) -> Val {
        Val::I32(v)
    }
}

impl From<i64> for Val {
    fn from(v: i64) -> Val {
        Val::I64(v)
    }
}

impl From<f32> for Val {
    fn from(v: f32) -> Val {
        Val::F32(v.to_bits())
    }
}

impl From<f64> for Val {
    fn from(v: f64) -> Val {
        Val::F64(v.to_bits())
    }
}

impl From<u128> for Val {
    fn from(v: u128) -> Val {
        Val::V128(v)
    }
}

impl StoreOpaque {
    /// Checks that a handle with store id `id` belongs here: an
    /// [`ErrorKind::Type`](crate::ErrorKind::Type) saying `what` belongs to another store if not. Every
    /// API method given a store and a handle checks this before it uses the
    /// handle's index (which means nothing in another store).
    pub(crate) fn check(&self, id: u64, what: &str) -> Result<(), Error> {
        if id == self.id {
            Ok(())
        } else {
            Err(Error::from(ErrorKind::Type(format!(
                "{what} belongs to another store"
            ))))
        }
    }

    /// The raw form compiled code uses of a reference value: a
    /// `*const VMFuncRef` or an extern reference's index + 1; 0 is null.
    pub(crate) fn ref_to_raw(&self, value: &Val) -> Result<usize, Error> {
        match value {
            Val::FuncRef(None) | Val::ExternRef(None) => Ok(0),
            Val::FuncRef(Some(f)) => {
                self.check(f.store, "a function")?;
                Ok(self.funcs[f.index as usize].func_ref as usize)
            }
            Val::ExternRef(Some(r)) => {
                self.check(r.store, "an extern reference")?;
                Ok(r.index as usize + 1)
            }
            other => Err(Error::from(ErrorKind::Type(format!(
                "expected a reference, got a value of type {}",
                other.ty()
            )))),
        }
    }

    /// The value of type `ty` whose raw form is `raw`.
    pub(crate) fn ref_from_raw(&self, ty: RefType, raw: usize) -> Val {
        if raw == 0 {
            return Val::null(ty);
        }
        match ty {
            RefType::FuncRef => Val::FuncRef(Some(Func {
                store: self.id,
                index: self
                    .func_by_ref
                    .get(&raw)
                    .copied()
                    .or_else(|| {
                        let (_, &instance) = self.instance_by_vmctx.range(..=raw).next_back()?;
                        self.instances[instance as usize].func_at(raw)
                    })
                    .expect("every VMFuncRef that reaches wasm is registered"),
            })),
            RefType::ExternRef => Val::ExternRef(Some(ExternRef {
                store: self.id,
                index: raw as u32 - 1,
            })),
        }
    }

    /// Writes `value` into a 16-byte slot (a global, or an argument).
    pub(crate) fn write_slot(&self, value: &Val, slot: &mut [u8; 16]) -> Result<(), Error> {
        // One store of the zero-extended value (see `WasmTy::store`).
        let bits = match *value {
            Val::I32(v) => u128::from(v as u32),
            Val::I64(v) => u128::from(v as u64),
            Val::F32(v) => u128::from(v),
            Val::F64(v) => u128::from(v),
            Val::V128(v) => v,
            Val::FuncRef(_) | Val::ExternRef(_) => self.ref_to_raw(value)? as u128,
        };
        *slot = bits.to_le_bytes();
        Ok(())
    }

    /// Reads a value of type `ty` from a 16-byte slot.
    pub(crate) fn read_slot(&self, ty: ValType, slot: &[u8; 16]) -> Val {
        let u32_at = || u32::from_le_bytes(slot[..4].try_into().unwrap());
        let u64_at = || u64::from_le_bytes(slot[..8].try_into().unwrap());
        match ty {
            ValType::I32 => Val::I32(u32_at() as i32),
            ValType::I64 => Val::I64(u64_at() as i64),
            ValType::F32 => Val::F32(u32_at()),
            ValType::F64 => Val::F64(u64_at()),
            ValType::V128 => Val::V128(u128::from_le_bytes(*slot)),
            ValType::FuncRef => self.ref_from_raw(RefType::FuncRef, u64_at() as usize),
            ValType::ExternRef => self.ref_from_raw(RefType::ExternRef, u64_at() as usize),
        }
    }

    /// Registers a function whose `VMFuncRef` lives at `func_ref`, of type
    /// `*ty` (which lives as long as the store): a host function's
    /// reference in `func_by_ref`, while an instance's is found through
    /// its VMContext (`instance_by_vmctx`).
    pub(crate) fn push_func(
        &mut self,
        func_ref: *const VMFuncRef,
        ty: *const FuncType,
        host: Option<Box<HostFuncParts>>,
    ) -> Func {
        let index = self.funcs.len() as u32;
        if host.is_some() {
            self.func_by_ref.insert(func_ref as usize, index);
        }
        self.funcs.push(StoreFunc {
            func_ref,
            ty,
            host,
            entry: core::ptr::null(),
        });
        Func {
            store: self.id,
            index,
        }
    }

    /// Where a call from the host of function `index` enters wasm: its
    /// type's entry trampoline (looked up in the engine on the first call
    /// only), its code and its VMContext.
    pub(crate) fn entry_point(&mut self, index: u32) -> Result<EntryPoint, Error> {
        let func = &mut self.funcs[index as usize];
        if func.entry.is_null() {
            func.entry = self.engine.trampolines(func.ty())?.entry();
        }
        // SAFETY: the VMFuncRef lives as long as the store.
        let func_ref = unsafe { &*func.func_ref };
        Ok(EntryPoint {
            trampoline: func.entry,
            wasm_call: func_ref.wasm_call,
            vmctx: func_ref.vmctx,
        })
    }

    /// Remembers `module` for backtraces.
    pub(crate) fn register_module(&mut self, module: &Module) {
        if !self
            .modules
            .iter()
            .any(|m| Arc::ptr_eq(&m.inner, &module.inner))
        {
            self.modules.push(module.clone());
        }
    }

    /// Whether `value` has type `ty`.
    pub(crate) fn check_type(&self, value: &Val, ty: ValType, what: &str) -> Result<(), Error> {
        if value.ty() == ty {
            Ok(())
        } else {
            Err(Error::from(ErrorKind::Type(format!(
                "{what}: expected a value of type {ty}, got {}",
                value.ty()
            ))))
        }
    }
}

/// Why a growth of a memory or table did not happen.
pub(crate) enum GrowFailure {
    /// Past the maximum, or the kernel refused memory (`ErrorKind::Resource`
    /// from the API).
    Failed,
    /// The limiter refused it (`Ok(false)`): this [`ErrorKind::Limit`](crate::ErrorKind::Limit) from the
    /// API, -1 in wasm.
    Refused(Error),
    /// The limiter failed (`Err`): its error from the API, a trap in wasm.
    Limiter(Error),
}

impl GrowFailure {
    /// The API's error for a growth by `delta` `units` of `what`.
    pub(crate) fn into_error(self, what: &str, delta: u64, units: &str) -> Error {
        match self {
            GrowFailure::Failed => Error::from(ErrorKind::Resource(format!(
                "cannot grow {what} by {delta} {units}"
            ))),
            GrowFailure::Refused(error) | GrowFailure::Limiter(error) => error,
        }
    }

    /// What a growth builtin returns to compiled code: -1 for a failure or
    /// a refusal; for the limiter's error, [`Builtin::GROW_TRAP`] after
    /// parking the error where the trap's return picks it up as its source
    /// (as a host function's error is).
    ///
    /// [`Builtin::GROW_TRAP`]: duet_environ::builtins::Builtin::GROW_TRAP
    pub(crate) fn into_builtin_result(self, store: &mut StoreOpaque) -> u64 {
        match self {
            GrowFailure::Failed | GrowFailure::Refused(_) => u64::MAX,
            GrowFailure::Limiter(error) => {
                store.host_error = Some(error);
                duet_environ::builtins::Builtin::GROW_TRAP as i64 as u64
            }
        }
    }
}

/// What the limiter said about a growth.
pub(crate) enum Growth {
    /// Allowed (or no limiter).
    Allowed,
    /// Refused: fails as growth past a maximum does.
    Refused,
    /// The limiter's own error.
    Failed(Error),
}

impl StoreOpaque {
    /// Calls the limiter, if there is one.
    fn with_limiter<R>(&mut self, f: impl FnOnce(&mut dyn ResourceLimiter) -> R) -> Option<R> {
        // Taken out for the call, so that the hook and the store are never
        // borrowed at once; put back whatever the limiter does.
        let mut hook = self.limiter.take()?;
        let mut f = Some(f);
        let mut out = None;
        hook(&mut |limiter| out = f.take().map(|f| f(limiter)));
        self.limiter = Some(hook);
        out
    }

    /// Asks the limiter whether a memory may grow from `current` to
    /// `desired` pages (`maximum`: its declared maximum in pages). Sizes
    /// the limiter cannot hold in bytes are refused.
    pub(crate) fn memory_growing(
        &mut self,
        current: u64,
        desired: u64,
        maximum: Option<u64>,
    ) -> Growth {
        const PAGE: u64 = 1 << 16;
        let bytes = |pages: u64| usize::try_from(pages.checked_mul(PAGE)?).ok();
        let (Some(current), Some(desired)) = (bytes(current), bytes(desired)) else {
            return if self.limiter.is_some() {
                Growth::Refused
            } else {
                Growth::Allowed
            };
        };
        let maximum = maximum.and_then(bytes);
        Growth::from(self.with_limiter(|l| l.memory_growing(current, desired, maximum)))
    }

    /// As [`StoreOpaque::memory_growing`], for a table (in elements).
    pub(crate) fn table_growing(
        &mut self,
        current: u64,
        desired: u64,
        maximum: Option<u64>,
    ) -> Growth {
        let count = |n: u64| usize::try_from(n).unwrap_or(usize::MAX);
        let maximum = maximum.map(count);
        Growth::from(
            self.with_limiter(|l| l.table_growing(count(current), count(desired), maximum)),
        )
    }

    /// Whether the store may take `memories` more memories, `tables` more
    /// tables and `instances` more instances: an [`ErrorKind::Limit`](crate::ErrorKind::Limit) naming the
    /// first count exceeded if not.
    pub(crate) fn check_counts(
        &mut self,
        instances: usize,
        memories: usize,
        tables: usize,
    ) -> Result<(), Error> {
        let have = (self.instances.len(), self.memories.len(), self.tables.len());
        let exceeded = self.with_limiter(|l| {
            [
                ("instances", have.0, instances, l.instances()),
                ("memories", have.1, memories, l.memories()),
                ("tables", have.2, tables, l.tables()),
            ]
            .into_iter()
            .find(|&(_, have, more, limit)| more > 0 && have + more > limit)
        });
        match exceeded.flatten() {
            None => Ok(()),
            Some((name, have, more, limit)) => Err(Error::from(ErrorKind::Limit(format!(
                "store limit `{name}` exceeded: {} {name} wanted, the limit is {limit}",
                have + more
            )))),
        }
    }
}

impl From<Option<Result<bool, Error>>> for Growth {
    fn from(answer: Option<Result<bool, Error>>) -> Growth {
        match answer {
            None | Some(Ok(true)) => Growth::Allowed,
            Some(Ok(false)) => Growth::Refused,
            Some(Err(error)) => Growth::Failed(error),
        }
    }
}

impl StoreOpaque {
    /// Grows memory `index` of the store by `delta` pages after asking the
    /// limiter: the old size, or why not. The path of every growth, wasm's
    /// and the API's.
    pub(crate) fn grow_memory(&mut self, index: usize, delta: u64) -> Result<u64, GrowFailure> {
        let memory = &self.memories[index];
        let current = memory.memory.pages();
        let desired = current.checked_add(delta).ok_or(GrowFailure::Failed)?;
        if delta > 0 {
            match self.memory_growing(current, desired, memory.ty.maximum_pages) {
                Growth::Allowed => {}
                Growth::Refused => {
                    return Err(GrowFailure::Refused(Error::from(ErrorKind::Limit(
                        format!(
                            "store limit `memory_size` refused growing a memory from {current} to {desired} pages"
                        ),
                    ))));
                }
                Growth::Failed(error) => return Err(GrowFailure::Limiter(error)),
            }
        }
        self.memories[index].grow(delta).ok_or(GrowFailure::Failed)
    }

    /// As [`StoreOpaque::grow_memory`], for table `index`, the new elements
    /// `init`.
    pub(crate) fn grow_table(
        &mut self,
        index: usize,
        delta: u64,
        init: usize,
    ) -> Result<u64, GrowFailure> {
        let table = &self.tables[index];
        let current = table.table.size();
        let desired = current.checked_add(delta).ok_or(GrowFailure::Failed)?;
        if delta > 0 {
            match self.table_growing(current, desired, table.ty.maximum) {
                Growth::Allowed => {}
                Growth::Refused => {
                    return Err(GrowFailure::Refused(Error::from(ErrorKind::Limit(
                        format!(
                            "store limit `table_elements` refused growing a table from {current} to {desired} elements"
                        ),
                    ))));
                }
                Growth::Failed(error) => return Err(GrowFailure::Limiter(error)),
            }
        }
        self.tables[index]
            .grow(delta, init)
            .ok_or(GrowFailure::Failed)
    }

    /// Asks the limiter about a new memory of `minimum` pages: an
    /// [`ErrorKind::Limit`](crate::ErrorKind::Limit) naming the limit when refused.
    pub(crate) fn check_new_memory(&mut self, ty: &MemoryType) -> Result<(), Error> {
        match self.memory_growing(0, ty.minimum_pages, ty.maximum_pages) {
            Growth::Allowed => Ok(()),
            Growth::Refused => Err(Error::from(ErrorKind::Limit(format!(
                "store limit `memory_size` exceeded: a memory's minimum of {} pages ({} bytes) is over the limit",
                ty.minimum_pages,
                u128::from(ty.minimum_pages) << 16
            )))),
            Growth::Failed(error) => Err(error),
        }
    }

    /// As [`StoreOpaque::check_new_memory`], for a table of `minimum`
    /// elements.
    pub(crate) fn check_new_table(
        &mut self,
        minimum: u64,
        maximum: Option<u64>,
    ) -> Result<(), Error> {
        match self.table_growing(0, minimum, maximum) {
            Growth::Allowed => Ok(()),
            Growth::Refused => Err(Error::from(ErrorKind::Limit(format!(
                "store limit `table_elements` exceeded: a table's minimum of {minimum} elements is over the limit"
            )))),
            Growth::Failed(error) => Err(error),
        }
    }
}
