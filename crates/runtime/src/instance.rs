//! [`Instance`]: a module's VMContext and the entities it defines, built by
//! instantiation.
//!
//! # Instantiation, in the spec's order
//!
//! 1. Each import is checked against the module's import type (functions by
//!    type, tables and memories by current size and maximum, globals by
//!    type and mutability); a mismatch is [`ErrorKind::Unlinkable`](crate::ErrorKind::Unlinkable).
//! 2. The VMContext is allocated (zeroed, on the heap or from a slot of
//!    the engine's pool: `pool.rs`) and filled: header (builtins, this
//!    instance's record, stack limit), canonical type ids, import records,
//!    then the defined memories, the function references (so that global
//!    initializers and segments can name them), the globals (each
//!    initializer sees the imported globals and the globals defined before
//!    it), and the tables.
//! 3. The instance is added to the store *before* the segments are applied:
//!    from here on a failure leaves writes to imported tables and memories
//!    in place, and those may point into this instance, which must then
//!    stay alive (the spec's `linking` tests check exactly this).
//! 4. Active element segments, then active data segments, each in order,
//!    are bounds-checked and copied; the first out of bounds traps.
//!    Active and declared segments are dropped.
//! 5. The start function runs.

use crate::error::{Error, ErrorKind, Trap};
use crate::externals::{Extern, Global, Memory, Table, new_memory};
use crate::func::{Func, HostContext, invoke, write_stack_limit};
use crate::module::Module;
use crate::pool::SlotMemory;
use crate::store::{AsStore, AsStoreMut, StoreGlobal, StoreOpaque, StoreTable};
use crate::table::Table as RtTable;
use crate::typed::{TypedFunc, WasmList};
use crate::vm::{VMFuncRef, VMFunctionImport, VMGlobalDefinition, VMStoreContext};
use duet_environ::module::{
    ConstEvalContext, ConstExpr, DataKind, ElementItems, ElementKind, EntityIndex, FuncIndex,
    GlobalIndex, Value,
};
use duet_environ::trap::Trap as TrapCode;
use duet_environ::vmoffsets::{VMContext, VMOffsets};

/// An instance of a module in a store.
///
/// ```
/// use duet::{Engine, Instance, Module, Store};
/// let engine = Engine::default();
/// let module = Module::new(&engine, r#"(module
///     (memory (export "memory") 1)
///     (data (i32.const 0) "duet")
///     (func (export "first_byte") (result i32) (i32.load8_u (i32.const 0))))"#)?;
/// let mut store = Store::new(&engine, ());
/// let instance = Instance::new(&mut store, &module, &[])?;
/// let first_byte = instance.get_typed_func::<(), i32>(&mut store, "first_byte")?;
/// assert_eq!(first_byte.call(&mut store, ())?, i32::from(b'd'));
/// let memory = instance.get_memory(&store, "memory")?.expect("exported");
/// assert_eq!(&memory.data(&store)?[..4], b"duet");
/// assert!(instance.get_func(&store, "missing")?.is_none());
/// # Ok::<(), duet::Error>(())
/// ```
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Instance {
    pub(crate) store: u64,
    pub(crate) index: u32,
}

/// What the store keeps of an instance. Boxed: the VMContext's `STORE`
/// field points at it, and builtins find the store through it.
pub(crate) struct InstanceData {
    pub(crate) module: Module,
    /// The store this instance is in.
    pub(crate) store: *mut StoreOpaque,
    /// This instance's index in the store.
    pub(crate) index: u32,
    /// The VMContext: the first byte of `vmctx_storage`.
    vmctx: *mut u8,
    /// 16-aligned storage for the VMContext, `offsets.size()` bytes or
    /// more; never reallocated.
    vmctx_storage: VmctxStorage,
    pub(crate) offsets: VMOffsets,
    /// Store indices of every function reference, by `FuncRefIndex`.
    pub(crate) func_refs: Vec<u32>,
    /// Store indices of every table, memory and global, imports first.
    pub(crate) tables: Vec<u32>,
    pub(crate) memories: Vec<u32>,
    pub(crate) globals: Vec<u32>,
    /// Each element segment's items (raw references), until dropped.
    pub(crate) elements: Vec<Option<Box<[usize]>>>,
    /// Whether each data segment was dropped.
    pub(crate) data_dropped: Vec<bool>,
    /// The contexts of imported host functions (one per import, naming
    /// this instance as the caller).
    #[allow(clippy::vec_box, reason = "import records point into the boxes")]
    _host_contexts: Vec<Box<HostContext>>,
}

/// Where a VMContext lives.
enum VmctxStorage {
    /// On demand: a zeroed heap allocation.
    Heap(#[allow(dead_code, reason = "owns what `vmctx` points at")] Box<[u128]>),
    /// A slot of the engine's pool, which read as zero when taken.
    Pooled(SlotMemory),
}

impl InstanceData {
    pub(crate) fn vmctx(&self) -> *mut u8 {
        self.vmctx
    }

    /// Hands back the VMContext's pool slot, zeroed as it was given
    /// (`pool.rs`), or `None` if it is on the heap or zeroing failed (then
    /// the slot is unmapped). Only when the store ends: the VMContext is
    /// gone, and nothing may run this instance's code again.
    pub(crate) fn take_vmctx_slot(&mut self) -> Option<SlotMemory> {
        let storage = core::mem::replace(&mut self.vmctx_storage, VmctxStorage::Heap(Box::new([])));
        self.vmctx = core::ptr::null_mut();
        match storage {
            VmctxStorage::Pooled(slot) => slot.reset(self.offsets.size() as usize).ok(),
            VmctxStorage::Heap(_) => None,
        }
    }

    /// The store index of the function whose `VMFuncRef` is at `raw`, if
    /// that is one of this instance's function references.
    pub(crate) fn func_at(&self, raw: usize) -> Option<u32> {
        if self.func_refs.is_empty() {
            return None;
        }
        let first = self.vmctx() as usize + self.offsets.func_ref(0) as usize;
        let size = duet_environ::vmoffsets::VMFuncRef::SIZE as usize;
        let offset = raw.checked_sub(first)?;
        if offset % size != 0 {
            return None;
        }
        self.func_refs.get(offset / size).copied()
    }

    pub(crate) fn set_stack_limit(&self, limit: usize) {
        // SAFETY: the VMContext is live as long as `self`.
        unsafe { write_stack_limit(self.vmctx(), limit) };
    }

    pub(crate) fn set_epoch_deadline(&self, deadline: u64) {
        // SAFETY: the VMContext is live as long as `self`, and the field
        // is 8-aligned; no wasm of the store runs while the store is
        // borrowed mutably to call this.
        unsafe { self.at::<u64>(VMContext::EPOCH_DEADLINE).write(deadline) };
    }

    /// A pointer to `offset` in the VMContext, as a `*mut T`.
    fn at<T>(&self, offset: u32) -> *mut T {
        debug_assert!(offset as usize + size_of::<T>() <= self.offsets.size() as usize);
        self.vmctx().wrapping_add(offset as usize).cast()
    }
}

/// The builtins' table, which every VMContext's `BUILTINS` field points at.
static BUILTINS: crate::builtins::BuiltinTable = crate::builtins::TABLE;

/// Evaluates constant expressions during instantiation: globals are read
/// from their definitions, and references are raw (`*const VMFuncRef`).
struct ConstContext<'a> {
    store: &'a StoreOpaque,
    instance: &'a InstanceData,
}

impl ConstEvalContext for ConstContext<'_> {
    type Ref = usize;

    fn global_get(&mut self, index: GlobalIndex) -> Option<Value<usize>> {
        let global = &self.store.globals[*self.instance.globals.get(index.index())? as usize];
        // SAFETY: the definition lives as long as the store.
        let slot = unsafe { (*global.definition).0 };
        use duet_environ::module::ValType as V;
        let u64_at = u64::from_le_bytes(slot[..8].try_into().unwrap());
        let u32_at = u64_at as u32;
        Some(match global.ty.ty {
            V::I32 => Value::I32(u32_at as i32),
            V::I64 => Value::I64(u64_at as i64),
            V::F32 => Value::F32(u32_at),
            V::F64 => Value::F64(u64_at),
            V::V128 => Value::V128(u128::from_le_bytes(slot)),
            V::FuncRef => Value::FuncRef((u64_at != 0).then_some(u64_at as usize)),
            V::ExternRef => Value::ExternRef((u64_at != 0).then_some(u64_at as usize)),
        })
    }

    fn ref_func(&mut self, index: FuncIndex) -> usize {
        let info = &self.instance.module.inner.info;
        let k = info
            .func_ref_index(index)
            .expect("ref.func names an escaped function (validated)");
        self.instance.vmctx() as usize + self.instance.offsets.func_ref(k.as_u32()) as usize
    }
}

impl ConstContext<'_> {
    fn eval(&mut self, expr: &ConstExpr) -> Result<Value<usize>, Error> {
        expr.eval(self)
            .map_err(|e| Error::from(ErrorKind::Compile(format!("constant expression: {e}"))))
    }

    fn eval_offset(&mut self, expr: &ConstExpr) -> Result<u64, Error> {
        match self.eval(expr)? {
            Value::I32(v) => Ok(u64::from(v as u32)),
            Value::I64(v) => Ok(v as u64),
            _ => Err(Error::from(ErrorKind::Compile(
                "a segment offset is not an integer".into(),
            ))),
        }
    }
}

/// A constant's raw 16-byte form.
fn value_slot(value: Value<usize>) -> [u8; 16] {
    let mut slot = [0u8; 16];
    match value {
        Value::I32(v) => slot[..4].copy_from_slice(&v.to_le_bytes()),
        Value::I64(v) => slot[..8].copy_from_slice(&v.to_le_bytes()),
        Value::F32(v) => slot[..4].copy_from_slice(&v.to_le_bytes()),
        Value::F64(v) => slot[..8].copy_from_slice(&v.to_le_bytes()),
        Value::V128(v) => slot = v.to_le_bytes(),
        Value::FuncRef(r) | Value::ExternRef(r) => {
            slot[..8].copy_from_slice(&(r.unwrap_or(0) as u64).to_le_bytes())
        }
    }
    slot
}

/// A reference constant's raw form.
fn raw_ref(value: Value<usize>) -> usize {
    match value {
        Value::FuncRef(r) | Value::ExternRef(r) => r.unwrap_or(0),
        _ => 0,
    }
}

/// Describes a type mismatch of import `i`.
fn incompatible(module: &Module, i: usize, why: String) -> Error {
    let import = &module.inner.info.imports[i];
    Error::from(ErrorKind::Unlinkable(format!(
        "incompatible import type for `{}`.`{}`: {why}",
        import.module, import.name
    )))
}

/// Whether limits `(min, max)` of an actual entity match those an import
/// asks for.
fn limits_match(actual: (u64, Option<u64>), wanted: (u64, Option<u64>)) -> bool {
    actual.0 >= wanted.0
        && match (actual.1, wanted.1) {
            (_, None) => true,
            (Some(a), Some(w)) => a <= w,
            (None, Some(_)) => false,
        }
}

impl Instance {
    /// Instantiates `module` in `store` with `imports`, one per import of
    /// the module, in order. An import from another store is an
    /// [`ErrorKind::Type`](crate::ErrorKind::Type), found before anything is created.
    pub fn new(
        mut store: impl AsStoreMut,
        module: &Module,
        imports: &[Extern],
    ) -> Result<Instance, Error> {
        instantiate(store.as_store_mut(), module, imports)
    }

    /// The instance's record, or an [`ErrorKind::Type`](crate::ErrorKind::Type) if the instance
    /// belongs to another store.
    fn data<'a>(&self, store: &'a StoreOpaque) -> Result<&'a InstanceData, Error> {
        store.check(self.store, "the instance")?;
        Ok(&store.instances[self.index as usize])
    }

    /// Whether the instance belongs to `store`: when it does not, every
    /// method given `store` and the instance returns an [`ErrorKind::Type`](crate::ErrorKind::Type)
    /// (see "Handles from another store" in the docs of
    /// [`Store`](crate::Store)).
    pub fn comes_from_same_store(&self, store: impl AsStore) -> bool {
        self.store == store.as_store().id
    }

    /// The module this is an instance of.
    ///
    /// An instance of another store is an [`ErrorKind::Type`](crate::ErrorKind::Type) (see "Handles
    /// from another store" in the docs of [`Store`](crate::Store)).
    pub fn module(&self, store: impl AsStore) -> Result<Module, Error> {
        Ok(self.data(store.as_store())?.module.clone())
    }

    /// The export `name`, or `None` if there is none.
    ///
    /// An instance of another store is an [`ErrorKind::Type`](crate::ErrorKind::Type) (see "Handles
    /// from another store" in the docs of [`Store`](crate::Store)).
    pub fn get_export(&self, store: impl AsStore, name: &str) -> Result<Option<Extern>, Error> {
        let store = store.as_store();
        let data = self.data(store)?;
        Ok(data
            .module
            .inner
            .info
            .export(name)
            .map(|entity| export(store, data, entity)))
    }

    /// The exported function `name`, or `None` if there is no export of
    /// that name or it is not a function.
    ///
    /// An instance of another store is an [`ErrorKind::Type`](crate::ErrorKind::Type) (see "Handles
    /// from another store" in the docs of [`Store`](crate::Store)).
    pub fn get_func(&self, store: impl AsStore, name: &str) -> Result<Option<Func>, Error> {
        Ok(self.get_export(store, name)?.and_then(Extern::into_func))
    }

    /// The exported function `name` as a [`TypedFunc`] of type `Params ->
    /// Results` (Wasmtime's `Instance::get_typed_func`): an
    /// [`ErrorKind::Unlinkable`](crate::ErrorKind::Unlinkable) if there is no such function, an
    /// [`ErrorKind::Type`](crate::ErrorKind::Type) if its type is another.
    pub fn get_typed_func<Params: WasmList, Results: WasmList>(
        &self,
        store: impl AsStore,
        name: &str,
    ) -> Result<TypedFunc<Params, Results>, Error> {
        let func = self.get_func(&store, name)?.ok_or_else(|| {
            Error::from(ErrorKind::Unlinkable(format!(
                "failed to find function export `{name}`"
            )))
        })?;
        func.typed(&store)
    }

    /// The exported memory `name`, or `None` if there is no export of
    /// that name or it is not a memory.
    ///
    /// An instance of another store is an [`ErrorKind::Type`](crate::ErrorKind::Type) (see "Handles
    /// from another store" in the docs of [`Store`](crate::Store)).
    pub fn get_memory(&self, store: impl AsStore, name: &str) -> Result<Option<Memory>, Error> {
        Ok(self.get_export(store, name)?.and_then(Extern::into_memory))
    }

    /// The exported table `name`, or `None` if there is no export of that
    /// name or it is not a table.
    ///
    /// An instance of another store is an [`ErrorKind::Type`](crate::ErrorKind::Type) (see "Handles
    /// from another store" in the docs of [`Store`](crate::Store)).
    pub fn get_table(&self, store: impl AsStore, name: &str) -> Result<Option<Table>, Error> {
        Ok(self.get_export(store, name)?.and_then(Extern::into_table))
    }

    /// The exported global `name`, or `None` if there is no export of
    /// that name or it is not a global.
    ///
    /// An instance of another store is an [`ErrorKind::Type`](crate::ErrorKind::Type) (see "Handles
    /// from another store" in the docs of [`Store`](crate::Store)).
    pub fn get_global(&self, store: impl AsStore, name: &str) -> Result<Option<Global>, Error> {
        Ok(self.get_export(store, name)?.and_then(Extern::into_global))
    }

    /// Every export, in order.
    ///
    /// An instance of another store is an [`ErrorKind::Type`](crate::ErrorKind::Type) (see "Handles
    /// from another store" in the docs of [`Store`](crate::Store)).
    pub fn exports(&self, store: impl AsStore) -> Result<Vec<(String, Extern)>, Error> {
        let store = store.as_store();
        let data = self.data(store)?;
        Ok(data
            .module
            .inner
            .info
            .exports()
            .iter()
            .map(|(name, entity)| (name.clone(), export(store, data, *entity)))
            .collect())
    }
}

/// The handle of an entity of an instance.
fn export(store: &StoreOpaque, data: &InstanceData, entity: EntityIndex) -> Extern {
    let id = store.id;
    match entity {
        EntityIndex::Function(f) => {
            let k = data
                .module
                .inner
                .info
                .func_ref_index(f)
                .expect("exported functions escape");
            Extern::Func(Func {
                store: id,
                index: data.func_refs[k.index()],
            })
        }
        EntityIndex::Table(t) => Extern::Table(Table {
            store: id,
            index: data.tables[t.index()],
        }),
        EntityIndex::Memory(m) => Extern::Memory(Memory {
            store: id,
            index: data.memories[m.index()],
        }),
        EntityIndex::Global(g) => Extern::Global(Global {
            store: id,
            index: data.globals[g.index()],
        }),
    }
}

pub(crate) fn instantiate(
    store: &mut StoreOpaque,
    module: &Module,
    imports: &[Extern],
) -> Result<Instance, Error> {
    if !crate::Engine::same(&store.engine, &module.inner.engine) {
        return Err(Error::from(ErrorKind::Type(
            "the module was compiled by another engine than the store's".into(),
        )));
    }
    let info = &module.inner.info;
    if imports.len() != info.imports.len() {
        return Err(Error::from(ErrorKind::Unlinkable(format!(
            "the module has {} imports, given {}",
            info.imports.len(),
            imports.len()
        ))));
    }
    for (i, item) in imports.iter().enumerate() {
        store.check(item.store_id(), "an import")?;
        check_import(store, module, i, item)?;
    }
    store.check_counts(
        1,
        info.memories.len() - info.num_imported_memories as usize,
        info.tables.len() - info.num_imported_tables as usize,
    )?;
    // Every initial size too, before anything is created: a refused
    // instantiation leaves the store as it was.
    for ty in &info.memories[info.num_imported_memories as usize..] {
        store.check_new_memory(ty)?;
    }
    for ty in &info.tables[info.num_imported_tables as usize..] {
        store.check_new_table(ty.minimum, ty.maximum)?;
    }
    let offsets = VMOffsets::new(info.vm_counts());
    let (vmctx, vmctx_storage) = match store.engine.pool() {
        Some(pool) => {
            let defined_tables = &info.tables[info.num_imported_tables as usize..];
            let (mut slot, tables) =
                pool.take_instance(offsets.size(), defined_tables.iter().map(|t| t.minimum))?;
            store.pooled_instances += 1;
            store.pooled_tables += tables;
            (slot.as_mut_ptr(), VmctxStorage::Pooled(slot))
        }
        None => {
            let mut storage =
                vec![0u128; (offsets.size() as usize).div_ceil(16).max(1)].into_boxed_slice();
            (storage.as_mut_ptr().cast(), VmctxStorage::Heap(storage))
        }
    };
    store.register_module(module);

    let index = store.instances.len() as u32;
    let instance = Instance {
        store: store.id,
        index,
    };
    let store_ptr: *mut StoreOpaque = store;
    let mut data = Box::new(InstanceData {
        module: module.clone(),
        store: store_ptr,
        index,
        vmctx,
        vmctx_storage,
        offsets,
        func_refs: Vec::with_capacity(info.escaped_functions().len()),
        tables: Vec::new(),
        memories: Vec::new(),
        globals: Vec::new(),
        elements: Vec::new(),
        data_dropped: Vec::new(),
        _host_contexts: Vec::new(),
    });
    let record: *const InstanceData = &*data;
    // SAFETY (all writes into the VMContext below): `at` computes pointers
    // inside the buffer at offsets `VMOffsets` laid out for this module,
    // each aligned for its record.
    unsafe {
        data.at::<u32>(VMContext::MAGIC)
            .write(VMContext::MAGIC_VALUE);
        data.at::<*const crate::builtins::BuiltinTable>(VMContext::BUILTINS)
            .write(&BUILTINS);
        data.at::<*const InstanceData>(VMContext::STORE)
            .write(record);
        data.at::<*mut VMStoreContext>(VMContext::STORE_CONTEXT)
            .write(&mut *store.vm_store_context);
        data.at::<u64>(VMContext::EPOCH_DEADLINE)
            .write(store.epoch_deadline);
        data.at::<*const u64>(VMContext::EPOCH_COUNTER)
            .write(store.engine.epoch_counter());
        for (t, &id) in module.inner.type_ids.iter().enumerate() {
            data.at::<u32>(offsets.type_id(t as u32)).write(id);
        }
    }
    data.set_stack_limit(store.stack_limit);

    // Imports.
    for (i, item) in imports.iter().enumerate() {
        match (info.imports[i].kind, item) {
            (EntityIndex::Function(f), Extern::Func(func)) => {
                let func = &store.funcs[func.index as usize];
                let record = match &func.host {
                    // A context of its own, which names this instance as the
                    // caller.
                    Some(host) => {
                        let mut context = HostContext::new(
                            store_ptr,
                            Some(instance),
                            func.ty().clone(),
                            &host.callback,
                        );
                        let record = VMFunctionImport {
                            wasm_call: host.trampolines.host(),
                            vmctx: (&mut *context as *mut HostContext).cast(),
                        };
                        data._host_contexts.push(context);
                        record
                    }
                    None => {
                        // SAFETY: the store keeps the VMFuncRef alive.
                        let func_ref = unsafe { &*func.func_ref };
                        VMFunctionImport {
                            wasm_call: func_ref.wasm_call,
                            vmctx: func_ref.vmctx,
                        }
                    }
                };
                // SAFETY: see above.
                unsafe {
                    data.at::<VMFunctionImport>(offsets.imported_function(f.as_u32()))
                        .write(record)
                };
            }
            (EntityIndex::Table(t), Extern::Table(table)) => {
                let definition = store.tables[table.index as usize]
                    .table
                    .vmtable_definition();
                // SAFETY: see above.
                unsafe {
                    data.at::<*mut crate::vm::VMTableDefinition>(offsets.imported_table(t.as_u32()))
                        .write(definition)
                };
                data.tables.push(table.index);
            }
            (EntityIndex::Memory(m), Extern::Memory(memory)) => {
                let definition = store.memories[memory.index as usize]
                    .memory
                    .vmmemory_definition();
                // SAFETY: see above.
                unsafe {
                    data.at::<*mut crate::vm::VMMemoryDefinition>(
                        offsets.imported_memory(m.as_u32()),
                    )
                    .write(definition)
                };
                data.memories.push(memory.index);
            }
            (EntityIndex::Global(g), Extern::Global(global)) => {
                let definition = store.globals[global.index as usize].definition;
                // SAFETY: see above.
                unsafe {
                    data.at::<*mut VMGlobalDefinition>(offsets.imported_global(g.as_u32()))
                        .write(definition)
                };
                data.globals.push(global.index);
            }
            _ => unreachable!("check_import compared the kinds"),
        }
    }

    // Defined memories, with their images if the module has them
    // (`image.rs`): then the data segments are in place from the start.
    let images = module.images();
    for m in info.num_imported_memories as usize..info.memories.len() {
        let defined = (m as u32) - info.num_imported_memories;
        let image = images.as_ref().and_then(|i| i[defined as usize].as_ref());
        let mut memory = new_memory(store, &info.memories[m], image)?;
        memory.owner = data.at(offsets.defined_memory(defined));
        // SAFETY: see above; the record is the owner's copy.
        unsafe { *memory.owner = *memory.memory.vmmemory_definition() };
        store.memories.push(memory);
        data.memories.push(store.memories.len() as u32 - 1);
    }

    // Function references: consecutive records, and consecutive store
    // functions.
    let escaped = info.escaped_functions();
    store.funcs.reserve(escaped.len());
    let first_ref = if escaped.is_empty() {
        0
    } else {
        offsets.func_ref(0)
    };
    for (k, &f) in escaped.iter().enumerate() {
        let (wasm_call, vmctx) = match info.defined_func_index(f) {
            Some(defined) => (module.inner.function_entry(defined.index()), data.vmctx()),
            None => {
                // SAFETY: the import record was written above.
                let import = unsafe {
                    data.at::<VMFunctionImport>(offsets.imported_function(f.as_u32()))
                        .read()
                };
                (import.wasm_call, import.vmctx)
            }
        };
        let type_id = module.inner.type_ids[info.functions[f.index()].index()];
        let func_ref: *mut VMFuncRef =
            data.at(first_ref + k as u32 * duet_environ::vmoffsets::VMFuncRef::SIZE);
        // SAFETY: see above.
        unsafe {
            func_ref.write(VMFuncRef {
                wasm_call,
                vmctx,
                type_id,
            })
        };
        // The type stays in the module, which the store keeps.
        let func = store.push_func(func_ref, info.func_type(f), None);
        data.func_refs.push(func.index);
    }

    // Globals, each initializer seeing the globals before it.
    for g in info.num_imported_globals as usize..info.globals.len() {
        let defined = info
            .defined_global_index(GlobalIndex::from_u32(g as u32))
            .expect("a defined global");
        let value = ConstContext {
            store,
            instance: &data,
        }
        .eval(info.global_initializer(defined))?;
        let definition: *mut VMGlobalDefinition = data.at(offsets.defined_global(defined.as_u32()));
        // SAFETY: see above.
        unsafe { definition.write(VMGlobalDefinition(value_slot(value))) };
        store.globals.push(StoreGlobal {
            ty: info.globals[g],
            definition,
            _host: None,
        });
        data.globals.push(store.globals.len() as u32 - 1);
    }

    // Defined tables.
    for t in info.num_imported_tables as usize..info.tables.len() {
        let ty = &info.tables[t];
        let init = match &ty.init {
            Some(expr) => raw_ref(
                ConstContext {
                    store,
                    instance: &data,
                }
                .eval(expr)?,
            ),
            None => 0,
        };
        // A pooled table lives in a slot and grows no further than the
        // pool's limit.
        let table = match store.engine.pool() {
            Some(pool) => pool.table(ty.minimum, ty.maximum, init)?,
            None => RtTable::new(ty.minimum, ty.maximum, init).map_err(|e| {
                Error::from(ErrorKind::Resource(format!("cannot create table: {e}")))
            })?,
        };
        let defined = (t as u32) - info.num_imported_tables;
        let owner = data.at(offsets.defined_table(defined));
        // SAFETY: see above.
        unsafe { *owner = *table.vmtable_definition() };
        store.tables.push(StoreTable {
            table,
            ty: ty.clone(),
            owner,
        });
        data.tables.push(store.tables.len() as u32 - 1);
    }

    // Element segments' items.
    let mut elements = Vec::with_capacity(info.elements.len());
    for segment in &info.elements {
        let mut context = ConstContext {
            store,
            instance: &data,
        };
        let items: Box<[usize]> = match &segment.items {
            ElementItems::Functions(funcs) => funcs
                .iter()
                .map(|f| f.map_or(0, |f| context.ref_func(f)))
                .collect(),
            ElementItems::Exprs(exprs) => exprs
                .iter()
                .map(|e| context.eval(e).map(raw_ref))
                .collect::<Result<_, _>>()?,
        };
        elements.push(Some(items));
    }
    data.elements = elements;
    data.data_dropped = vec![false; info.data.len()];

    // The instance joins the store: from here on it must outlive any
    // reference into it that a segment writes.
    store.instance_by_vmctx.insert(data.vmctx() as usize, index);
    store.instances.push(data);
    let data = &store.instances[index as usize];
    let data_ptr: *const InstanceData = &**data;
    // SAFETY: the box does not move while the store lives; segments below
    // change the store's tables and memories, not the instance record's
    // fields read through this pointer except those written via
    // `store.instances`.
    let data = unsafe { &*data_ptr };

    for (e, segment) in info.elements.iter().enumerate() {
        match &segment.kind {
            ElementKind::Active { table, offset } => {
                let offset = ConstContext {
                    store,
                    instance: data,
                }
                .eval_offset(offset)?;
                let items = data.elements[e].as_deref().unwrap_or(&[]);
                let table = &mut store.tables[data.tables[table.index()] as usize];
                table
                    .table
                    .init(offset, items)
                    .map_err(|_| Error::new(Trap::new(TrapCode::TableOutOfBounds)))?;
                store.instances[index as usize].elements[e] = None;
            }
            ElementKind::Declared => store.instances[index as usize].elements[e] = None,
            ElementKind::Passive => {}
        }
    }
    for (d, segment) in info.data.iter().enumerate() {
        if let (DataKind::Active { .. }, Some(_)) = (&segment.kind, images) {
            // Mapped with the memory's image.
            store.instances[index as usize].data_dropped[d] = true;
        } else if let DataKind::Active { memory, offset } = &segment.kind {
            let offset = ConstContext {
                store,
                instance: data,
            }
            .eval_offset(offset)?;
            let memory = &mut store.memories[data.memories[memory.index()] as usize].memory;
            let bytes = memory.data_mut();
            let range = usize::try_from(offset)
                .ok()
                .and_then(|start| Some(start..start.checked_add(segment.bytes.len())?))
                .filter(|range| range.end <= bytes.len())
                .ok_or_else(|| Error::new(Trap::new(TrapCode::MemoryOutOfBounds)))?;
            bytes[range].copy_from_slice(&segment.bytes);
            store.instances[index as usize].data_dropped[d] = true;
        }
    }

    if let Some(start) = info.start {
        let (wasm_call, vmctx) = match info.defined_func_index(start) {
            Some(defined) => (module.inner.function_entry(defined.index()), data.vmctx()),
            None => {
                // SAFETY: the import record was written above.
                let import = unsafe {
                    data.at::<VMFunctionImport>(data.offsets.imported_function(start.as_u32()))
                        .read()
                };
                (import.wasm_call, import.vmctx)
            }
        };
        let ty = info.func_type(start).clone();
        let mut values = [[0u8; 16]; 1];
        // SAFETY: the start function has type [] -> [], and its entry
        // point and VMContext come from this instance.
        unsafe { invoke(store, wasm_call, vmctx, &ty, &mut values)? };
    }
    Ok(instance)
}

/// Checks import `i` of `module` against `item`.
fn check_import(
    store: &StoreOpaque,
    module: &Module,
    i: usize,
    item: &Extern,
) -> Result<(), Error> {
    let info = &module.inner.info;
    match (info.imports[i].kind, item) {
        (EntityIndex::Function(f), Extern::Func(func)) => {
            let wanted = info.func_type(f);
            let actual = store.funcs[func.index as usize].ty();
            if wanted != actual {
                return Err(incompatible(
                    module,
                    i,
                    format!("expected {wanted}, found {actual}"),
                ));
            }
        }
        (EntityIndex::Table(t), Extern::Table(table)) => {
            let wanted = &info.tables[t.index()];
            let actual = &store.tables[table.index as usize];
            let size = actual.table.size();
            if wanted.element != actual.ty.element
                || wanted.table64 != actual.ty.table64
                || !limits_match((size, actual.ty.maximum), (wanted.minimum, wanted.maximum))
            {
                return Err(incompatible(
                    module,
                    i,
                    format!(
                        "expected a table of {:?} {}..{:?}, found {:?} {}..{:?}",
                        wanted.element,
                        wanted.minimum,
                        wanted.maximum,
                        actual.ty.element,
                        size,
                        actual.ty.maximum
                    ),
                ));
            }
        }
        (EntityIndex::Memory(m), Extern::Memory(memory)) => {
            let wanted = &info.memories[m.index()];
            let actual = &store.memories[memory.index as usize];
            let pages = actual.memory.pages();
            if wanted.memory64 != actual.ty.memory64
                || wanted.shared != actual.ty.shared
                || wanted.page_size_log2 != actual.ty.page_size_log2
                || !limits_match(
                    (pages, actual.ty.maximum_pages),
                    (wanted.minimum_pages, wanted.maximum_pages),
                )
            {
                return Err(incompatible(
                    module,
                    i,
                    format!(
                        "expected a memory of {}..{:?} pages, found {}..{:?}",
                        wanted.minimum_pages, wanted.maximum_pages, pages, actual.ty.maximum_pages
                    ),
                ));
            }
        }
        (EntityIndex::Global(g), Extern::Global(global)) => {
            let wanted = &info.globals[g.index()];
            let actual = &store.globals[global.index as usize].ty;
            if wanted != actual {
                return Err(incompatible(
                    module,
                    i,
                    format!("expected {wanted:?}, found {actual:?}"),
                ));
            }
        }
        (kind, _) => {
            let wanted = match kind {
                EntityIndex::Function(_) => "a function",
                EntityIndex::Table(_) => "a table",
                EntityIndex::Memory(_) => "a memory",
                EntityIndex::Global(_) => "a global",
            };
            return Err(incompatible(module, i, format!("expected {wanted}")));
        }
    }
    Ok(())
}
