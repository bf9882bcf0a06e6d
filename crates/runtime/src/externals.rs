//! Handles to the entities a module imports and exports: [`Memory`],
//! [`Table`], [`Global`] (functions are in `func.rs`), and [`Extern`], any
//! of them.

use crate::error::{Error, ErrorKind};
use crate::func::Func;
use crate::image::MemoryImage;
use crate::memory::{LinearMemory, MemoryType as RtMemoryType};
use crate::store::{
    AsStore, AsStoreDataMut, AsStoreMut, StoreGlobal, StoreMemory, StoreOpaque, StoreTable, Val,
};
use crate::table::Table as RtTable;
use crate::vm::VMGlobalDefinition;
use duet_environ::module::{FuncType, GlobalType, MemoryType, TableType};
use std::sync::Arc;

/// The type of an import or export.
#[derive(Clone, Debug, PartialEq)]
pub enum ExternType {
    /// A function.
    Func(FuncType),
    /// A table.
    Table(TableType),
    /// A memory.
    Memory(MemoryType),
    /// A global.
    Global(GlobalType),
}

/// An entity that can be imported or exported.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Extern {
    /// A function.
    Func(Func),
    /// A table.
    Table(Table),
    /// A memory.
    Memory(Memory),
    /// A global.
    Global(Global),
}

impl From<Func> for Extern {
    fn from(f: Func) -> Extern {
        Extern::Func(f)
    }
}

impl From<Table> for Extern {
    fn from(t: Table) -> Extern {
        Extern::Table(t)
    }
}

impl From<Memory> for Extern {
    fn from(m: Memory) -> Extern {
        Extern::Memory(m)
    }
}

impl From<Global> for Extern {
    fn from(g: Global) -> Extern {
        Extern::Global(g)
    }
}

impl Extern {
    /// The function, if this is one.
    pub fn into_func(self) -> Option<Func> {
        match self {
            Extern::Func(f) => Some(f),
            _ => None,
        }
    }

    /// The memory, if this is one.
    pub fn into_memory(self) -> Option<Memory> {
        match self {
            Extern::Memory(m) => Some(m),
            _ => None,
        }
    }

    /// The table, if this is one.
    pub fn into_table(self) -> Option<Table> {
        match self {
            Extern::Table(t) => Some(t),
            _ => None,
        }
    }

    /// The global, if this is one.
    pub fn into_global(self) -> Option<Global> {
        match self {
            Extern::Global(g) => Some(g),
            _ => None,
        }
    }

    /// The entity's type.
    ///
    /// An entity of another store is an [`ErrorKind::Type`](crate::ErrorKind::Type) (see "Handles from
    /// another store" in the docs of [`Store`](crate::Store)).
    pub fn ty(&self, store: impl AsStore) -> Result<ExternType, Error> {
        Ok(match self {
            Extern::Func(f) => ExternType::Func(f.ty(&store)?),
            Extern::Table(t) => ExternType::Table(t.ty(&store)?),
            Extern::Memory(m) => ExternType::Memory(m.ty(&store)?),
            Extern::Global(g) => ExternType::Global(g.ty(&store)?),
        })
    }

    /// Whether the entity belongs to `store`: when it does not, every
    /// method given `store` and the entity returns an [`ErrorKind::Type`](crate::ErrorKind::Type) (see
    /// "Handles from another store" in the docs of
    /// [`Store`](crate::Store)).
    pub fn comes_from_same_store(&self, store: impl AsStore) -> bool {
        self.store_id() == store.as_store().id
    }

    pub(crate) fn store_id(&self) -> u64 {
        match self {
            Extern::Func(f) => f.store,
            Extern::Table(t) => t.store,
            Extern::Memory(m) => m.store,
            Extern::Global(g) => g.store,
        }
    }
}

/// A linear memory.
///
/// ```
/// use duet::{Engine, Memory, MemoryType, Store};
/// let engine = Engine::default();
/// let mut store = Store::new(&engine, ());
/// let ty = MemoryType {
///     minimum_pages: 1,
///     maximum_pages: Some(2),
///     memory64: false,
///     shared: false,
///     page_size_log2: 16,
/// };
/// let memory = Memory::new(&mut store, ty)?;
/// memory.write(&mut store, 100, b"bytes")?;
/// assert_eq!(&memory.data(&store)?[100..105], b"bytes");
/// assert_eq!(memory.grow(&mut store, 1)?, 1);
/// assert!(memory.grow(&mut store, 1).is_err()); // past the maximum
/// assert_eq!(memory.size(&store)?, 2);
/// # Ok::<(), duet::Error>(())
/// ```
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Memory {
    pub(crate) store: u64,
    pub(crate) index: u32,
}

/// Creates a store memory of type `ty` (not yet owned by an instance).
/// The limiter is not asked here: `Memory::new` and instantiation ask it
/// first.
pub(crate) fn new_memory(
    store: &StoreOpaque,
    ty: &MemoryType,
    image: Option<&Arc<MemoryImage>>,
) -> Result<StoreMemory, Error> {
    if ty.page_size_log2 != 16 {
        return Err(Error::from(ErrorKind::Unsupported(format!(
            "memories with {}-byte pages",
            1u64 << ty.page_size_log2
        ))));
    }
    if ty.shared {
        return Err(Error::from(ErrorKind::Unsupported(
            "shared memories".to_string(),
        )));
    }
    let rt = RtMemoryType {
        minimum: ty.minimum_pages,
        maximum: ty.maximum_pages,
        memory64: ty.memory64,
    };
    let create = || {
        LinearMemory::with_memory64_reservation(
            &rt,
            &store.engine.tunables(),
            store.engine.memory64_reservation(),
        )
        .map_err(|e| Error::from(ErrorKind::Resource(format!("cannot create memory: {e}"))))
    };
    let (memory, pooled) = match store.engine.pool() {
        Some(pool) => (pool.memory(&rt, image, create)?, true),
        None => {
            let mut memory = create()?;
            memory.set_image(image).map_err(|e| {
                Error::from(ErrorKind::Resource(format!("cannot create memory: {e}")))
            })?;
            (memory, false)
        }
    };
    Ok(StoreMemory {
        memory,
        ty: *ty,
        owner: core::ptr::null_mut(),
        pooled,
    })
}

impl Memory {
    /// A new memory of type `ty` in `store`.
    pub fn new(mut store: impl AsStoreMut, ty: MemoryType) -> Result<Memory, Error> {
        let store = store.as_store_mut();
        store.check_counts(0, 1, 0)?;
        store.check_new_memory(&ty)?;
        let memory = new_memory(store, &ty, None)?;
        store.memories.push(memory);
        Ok(Memory {
            store: store.id,
            index: store.memories.len() as u32 - 1,
        })
    }

    /// The memory's record, or an [`ErrorKind::Type`](crate::ErrorKind::Type) if the memory belongs
    /// to another store.
    fn get<'a>(&self, store: &'a StoreOpaque) -> Result<&'a StoreMemory, Error> {
        store.check(self.store, "the memory")?;
        Ok(&store.memories[self.index as usize])
    }

    /// The memory's record, for writing, or an [`ErrorKind::Type`](crate::ErrorKind::Type) if the
    /// memory belongs to another store.
    fn get_mut<'a>(&self, store: &'a mut StoreOpaque) -> Result<&'a mut StoreMemory, Error> {
        store.check(self.store, "the memory")?;
        Ok(&mut store.memories[self.index as usize])
    }

    /// The type, with the current size as the minimum.
    ///
    /// A memory of another store is an [`ErrorKind::Type`](crate::ErrorKind::Type) (see "Handles from
    /// another store" in the docs of [`Store`](crate::Store)).
    pub fn ty(&self, store: impl AsStore) -> Result<MemoryType, Error> {
        let memory = self.get(store.as_store())?;
        Ok(MemoryType {
            minimum_pages: memory.memory.pages(),
            ..memory.ty
        })
    }

    /// The size in pages.
    ///
    /// A memory of another store is an [`ErrorKind::Type`](crate::ErrorKind::Type) (see "Handles from
    /// another store" in the docs of [`Store`](crate::Store)).
    pub fn size(&self, store: impl AsStore) -> Result<u64, Error> {
        Ok(self.get(store.as_store())?.memory.pages())
    }

    /// Grows the memory by `delta` pages; returns the old size.
    ///
    /// A memory of another store is an [`ErrorKind::Type`](crate::ErrorKind::Type); growth past the
    /// maximum (for a 64-bit memory, its reservation) an
    /// [`ErrorKind::Resource`](crate::ErrorKind::Resource), and growth the store's
    /// [`ResourceLimiter`](crate::ResourceLimiter) refuses an
    /// [`ErrorKind::Limit`](crate::ErrorKind::Limit) (or the limiter's own error); the memory unchanged.
    pub fn grow(&self, mut store: impl AsStoreMut, delta: u64) -> Result<u64, Error> {
        let store = store.as_store_mut();
        store.check(self.store, "the memory")?;
        store
            .grow_memory(self.index as usize, delta)
            .map_err(|failure| failure.into_error("memory", delta, "pages"))
    }

    /// The memory's bytes.
    ///
    /// A memory of another store is an [`ErrorKind::Type`](crate::ErrorKind::Type) (see "Handles from
    /// another store" in the docs of [`Store`](crate::Store)).
    pub fn data<'a, S: AsStore>(&self, store: &'a S) -> Result<&'a [u8], Error> {
        Ok(self.get(store.as_store())?.memory.data())
    }

    /// The memory's bytes, for writing.
    ///
    /// A memory of another store is an [`ErrorKind::Type`](crate::ErrorKind::Type) (see "Handles from
    /// another store" in the docs of [`Store`](crate::Store)).
    pub fn data_mut<'a, S: AsStoreMut>(&self, store: &'a mut S) -> Result<&'a mut [u8], Error> {
        Ok(self.get_mut(store.as_store_mut())?.memory.data_mut())
    }

    /// Copies `buffer.len()` bytes at `offset` of the memory into `buffer`
    /// (Wasmtime's `Memory::read`): what a host function does with a
    /// pointer the guest passed it. A range past the memory's end, or a
    /// memory of another store, is a [`MemoryAccessError`] and reads
    /// nothing; never a panic.
    ///
    /// ```
    /// use duet::{Engine, Instance, Module, Store};
    /// let engine = Engine::default();
    /// let module = Module::new(&engine, r#"(module (memory (export "memory") 1)
    ///     (data (i32.const 8) "hello"))"#)?;
    /// let mut store = Store::new(&engine, ());
    /// let instance = Instance::new(&mut store, &module, &[])?;
    /// let memory = instance.get_memory(&store, "memory")?.unwrap();
    /// let mut buffer = [0; 5];
    /// memory.read(&store, 8, &mut buffer)?;
    /// assert_eq!(&buffer, b"hello");
    /// memory.write(&mut store, 8, b"HE")?;
    /// memory.read(&store, 8, &mut buffer)?;
    /// assert_eq!(&buffer, b"HEllo");
    /// assert!(memory.read(&store, 65535, &mut buffer).is_err());
    /// # Ok::<(), duet::Error>(())
    /// ```
    pub fn read(
        &self,
        store: impl AsStore,
        offset: usize,
        buffer: &mut [u8],
    ) -> Result<(), MemoryAccessError> {
        let store = store.as_store();
        let memory = self.get(store).map_err(|_| MemoryAccessError::OtherStore)?;
        let bytes = memory.memory.data();
        let range = MemoryAccessError::check(offset, buffer.len(), bytes.len())?;
        buffer.copy_from_slice(&bytes[range]);
        Ok(())
    }

    /// Copies `buffer` into the memory at `offset` (Wasmtime's
    /// `Memory::write`). A range past the memory's end, or a memory of
    /// another store, is a [`MemoryAccessError`] and writes nothing.
    pub fn write(
        &self,
        mut store: impl AsStoreMut,
        offset: usize,
        buffer: &[u8],
    ) -> Result<(), MemoryAccessError> {
        let store = store.as_store_mut();
        let memory = self
            .get_mut(store)
            .map_err(|_| MemoryAccessError::OtherStore)?;
        let bytes = memory.memory.data_mut();
        let range = MemoryAccessError::check(offset, buffer.len(), bytes.len())?;
        bytes[range].copy_from_slice(buffer);
        Ok(())
    }

    /// The memory's bytes and the store's data, both for writing: what a
    /// host function needs to read and write guest memory while it updates
    /// its own state (WASI's file table, say). The two do not overlap: the
    /// bytes belong to the store's memory, the data is the embedder's `T`.
    ///
    /// A memory of another store is an [`ErrorKind::Type`](crate::ErrorKind::Type) (see "Handles from
    /// another store" in the docs of [`Store`](crate::Store)).
    pub fn data_and_store_mut<'a, S: AsStoreDataMut>(
        &self,
        store: &'a mut S,
    ) -> Result<(&'a mut [u8], &'a mut S::Data), Error> {
        let (store, data) = store.store_and_data_mut();
        let bytes = self.get_mut(store)?.memory.data_mut();
        Ok((bytes, data))
    }
}

/// Why [`Memory::read`] or [`Memory::write`] did not happen.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum MemoryAccessError {
    /// The bytes `offset .. offset + len` are not all inside the memory,
    /// which has `size` bytes.
    OutOfBounds {
        /// The first byte asked for.
        offset: usize,
        /// How many bytes.
        len: usize,
        /// The memory's size in bytes.
        size: usize,
    },
    /// The memory belongs to another store than the one given.
    OtherStore,
}

impl MemoryAccessError {
    /// The range `offset .. offset + len` if it lies within `size` bytes.
    fn check(
        offset: usize,
        len: usize,
        size: usize,
    ) -> Result<core::ops::Range<usize>, MemoryAccessError> {
        match offset.checked_add(len) {
            Some(end) if end <= size => Ok(offset..end),
            _ => Err(MemoryAccessError::OutOfBounds { offset, len, size }),
        }
    }
}

impl core::fmt::Display for MemoryAccessError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            MemoryAccessError::OutOfBounds { offset, len, size } => write!(
                f,
                "out of bounds memory access: {len} bytes at offset {offset} of a memory of {size} bytes"
            ),
            MemoryAccessError::OtherStore => f.write_str("the memory belongs to another store"),
        }
    }
}

impl std::error::Error for MemoryAccessError {}

/// A table.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Table {
    pub(crate) store: u64,
    pub(crate) index: u32,
}

impl Table {
    /// A new table of type `ty` in `store`, every element `init`.
    pub fn new(mut store: impl AsStoreMut, ty: TableType, init: Val) -> Result<Table, Error> {
        let store = store.as_store_mut();
        store.check_type(&init, ty.element.into(), "a table's initial value")?;
        let raw = store.ref_to_raw(&init)?;
        store.check_counts(0, 0, 1)?;
        store.check_new_table(ty.minimum, ty.maximum)?;
        let table = RtTable::new(ty.minimum, ty.maximum, raw)
            .map_err(|e| Error::from(ErrorKind::Resource(format!("cannot create table: {e}"))))?;
        store.tables.push(StoreTable {
            table,
            ty,
            owner: core::ptr::null_mut(),
        });
        Ok(Table {
            store: store.id,
            index: store.tables.len() as u32 - 1,
        })
    }

    /// The table's record, or an [`ErrorKind::Type`](crate::ErrorKind::Type) if the table belongs to
    /// another store.
    fn get_table<'a>(&self, store: &'a StoreOpaque) -> Result<&'a StoreTable, Error> {
        store.check(self.store, "the table")?;
        Ok(&store.tables[self.index as usize])
    }

    /// The type, with the current size as the minimum.
    ///
    /// A table of another store is an [`ErrorKind::Type`](crate::ErrorKind::Type) (see "Handles from
    /// another store" in the docs of [`Store`](crate::Store)).
    pub fn ty(&self, store: impl AsStore) -> Result<TableType, Error> {
        let table = self.get_table(store.as_store())?;
        Ok(TableType {
            minimum: table.table.size(),
            ..table.ty.clone()
        })
    }

    /// The number of elements.
    ///
    /// A table of another store is an [`ErrorKind::Type`](crate::ErrorKind::Type) (see "Handles from
    /// another store" in the docs of [`Store`](crate::Store)).
    pub fn size(&self, store: impl AsStore) -> Result<u64, Error> {
        Ok(self.get_table(store.as_store())?.table.size())
    }

    /// Element `index`, or `None` out of bounds.
    ///
    /// A table of another store is an [`ErrorKind::Type`](crate::ErrorKind::Type) (see "Handles from
    /// another store" in the docs of [`Store`](crate::Store)).
    pub fn get(&self, store: impl AsStore, index: u64) -> Result<Option<Val>, Error> {
        let store = store.as_store();
        let table = self.get_table(store)?;
        Ok(table
            .table
            .get(index)
            .ok()
            .map(|raw| store.ref_from_raw(table.ty.element, raw)))
    }

    /// Sets element `index`.
    ///
    /// A table, or a reference value, of another store is an
    /// [`ErrorKind::Type`](crate::ErrorKind::Type).
    pub fn set(&self, mut store: impl AsStoreMut, index: u64, value: Val) -> Result<(), Error> {
        let store = store.as_store_mut();
        store.check(self.store, "the table")?;
        let element = store.tables[self.index as usize].ty.element;
        store.check_type(&value, element.into(), "a table element")?;
        let raw = store.ref_to_raw(&value)?;
        store.tables[self.index as usize]
            .table
            .set(index, raw)
            .map_err(|e| Error::from(ErrorKind::Resource(e.to_string())))
    }

    /// Grows the table by `delta` elements, each `init`; returns the old
    /// size.
    ///
    /// A table, or a reference value, of another store is an
    /// [`ErrorKind::Type`](crate::ErrorKind::Type).
    pub fn grow(&self, mut store: impl AsStoreMut, delta: u64, init: Val) -> Result<u64, Error> {
        let store = store.as_store_mut();
        store.check(self.store, "the table")?;
        let element = store.tables[self.index as usize].ty.element;
        store.check_type(&init, element.into(), "a table's new elements")?;
        let raw = store.ref_to_raw(&init)?;
        store
            .grow_table(self.index as usize, delta, raw)
            .map_err(|failure| failure.into_error("table", delta, "elements"))
    }
}

/// A global.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Global {
    pub(crate) store: u64,
    pub(crate) index: u32,
}

impl Global {
    /// A new global of type `ty` holding `value`.
    pub fn new(mut store: impl AsStoreMut, ty: GlobalType, value: Val) -> Result<Global, Error> {
        let store = store.as_store_mut();
        store.check_type(&value, ty.ty, "a global's value")?;
        let mut slot = [0u8; 16];
        store.write_slot(&value, &mut slot)?;
        let mut host = Box::new(VMGlobalDefinition(slot));
        store.globals.push(StoreGlobal {
            ty,
            definition: &mut *host,
            _host: Some(host),
        });
        Ok(Global {
            store: store.id,
            index: store.globals.len() as u32 - 1,
        })
    }

    /// The global's record, or an [`ErrorKind::Type`](crate::ErrorKind::Type) if the global belongs
    /// to another store.
    fn get_global<'a>(&self, store: &'a StoreOpaque) -> Result<&'a StoreGlobal, Error> {
        store.check(self.store, "the global")?;
        Ok(&store.globals[self.index as usize])
    }

    /// The type.
    ///
    /// A global of another store is an [`ErrorKind::Type`](crate::ErrorKind::Type) (see "Handles from
    /// another store" in the docs of [`Store`](crate::Store)).
    pub fn ty(&self, store: impl AsStore) -> Result<GlobalType, Error> {
        Ok(self.get_global(store.as_store())?.ty)
    }

    /// The value.
    ///
    /// A global of another store is an [`ErrorKind::Type`](crate::ErrorKind::Type) (see "Handles from
    /// another store" in the docs of [`Store`](crate::Store)).
    pub fn get(&self, store: impl AsStore) -> Result<Val, Error> {
        let store = store.as_store();
        let global = self.get_global(store)?;
        // SAFETY: the definition lives as long as the store, and wasm is
        // not running while the store is borrowed here.
        let slot = unsafe { (*global.definition).0 };
        Ok(store.read_slot(global.ty.ty, &slot))
    }

    /// Sets the value of a mutable global.
    ///
    /// A global, or a reference value, of another store is an
    /// [`ErrorKind::Type`](crate::ErrorKind::Type).
    pub fn set(&self, mut store: impl AsStoreMut, value: Val) -> Result<(), Error> {
        let store = store.as_store_mut();
        let global = self.get_global(store)?;
        if !global.ty.mutable {
            return Err(Error::from(ErrorKind::Type(
                "cannot set an immutable global".to_string(),
            )));
        }
        store.check_type(&value, global.ty.ty, "a global's value")?;
        let mut slot = [0u8; 16];
        store.write_slot(&value, &mut slot)?;
        // SAFETY: as in `get`, exclusively borrowed.
        unsafe { (*global.definition).0 = slot };
        Ok(())
    }
}
