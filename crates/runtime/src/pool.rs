//! The pooling instance allocator: a configured number of instance,
//! memory and table slots per engine, whose storage (VMContexts, table
//! elements, linear memories) is kept and reused rather than allocated and
//! freed for every instance.
//!
//! # Why
//!
//! Instantiating a small module on demand spends most of its time in the
//! kernel: reserving a 32-bit memory's 6 GiB of address space (4 GiB and
//! the guard), allocating page tables as the data segments touch pages, and
//! at the store's end tearing all of it down again. A pooled memory keeps
//! its reservation and page tables: the next instance gets it back with
//! its pages discarded, which costs one `madvise` and the page faults of
//! the pages it touches. VMContexts and table elements are kept the same
//! way, in mappings of a fixed size that are zeroed when they come back,
//! so that an instantiation allocates none of them.
//!
//! ```text
//!  Engine ── Pool { free: FreeSlots { memories, vmctxs, tables },
//!                   live instances / memories / tables (counts) }
//!
//!  instantiate:  check the VMContext's size against max_core_instance_size
//!                and each table's minimum against table_elements, take an
//!                instance slot and one per defined table (or fail: all in
//!                use); pop a free VMContext slot (or map one); each
//!                defined table: pop a free table slot (or map one), fill
//!                its minimum with the initial element; each defined
//!                memory: pop a free memory and `reuse` it for the type
//!                (protection set to its minimum), or map a new one
//!  drop store:   each VMContext and table slot is zeroed (memset, or
//!                madvise DONTNEED past RESET_BY_DISCARD bytes) and pushed
//!                back; each memory is `clear`ed (madvise DONTNEED: every
//!                page reads as zero again) and pushed back; the store's
//!                instance, memory and table counts are given back
//! ```
//!
//! # What a slot is
//!
//! At most `total_core_instances` instances, `total_memories` memories and
//! `total_tables` tables are alive at once across every store of the
//! engine (live counts), and one more is an [`ErrorKind::Resource`] naming
//! the limit. Each live instance has a VMContext slot, each live defined
//! table a table slot and each memory a memory slot; a slot's storage is
//! made the first time it is needed (nothing is mapped up front) and then
//! kept on the pool's free list, so there are never more of each than the
//! limit. A slot is given back when the store that took it is dropped, not
//! earlier (a store frees nothing before it ends), including the slots of
//! an instantiation that failed part way.
//!
//! * A **VMContext slot** is a read-write mapping of
//!   `max_core_instance_size` bytes (rounded up to pages): a module whose
//!   VMContext is larger is refused at instantiation, before anything is
//!   taken.
//! * A **table slot** is a read-write mapping of `table_elements` elements
//!   (8 bytes each): a table whose minimum is larger is refused, and
//!   `table.grow` stays within the slot, so the elements never move and
//!   growth past `table_elements` fails (returns -1).
//! * A **memory slot** is a [`LinearMemory`] with its reservation.
//!
//! Tables made with [`Table::new`](crate::Table::new) are the host's, not
//! an instance's: they take no table slot and live on the heap.
//!
//! # Fresh storage, every time
//!
//! A reused slot must be indistinguishable from a new one. The invariant
//! that gives this: **a VMContext or table slot on the free list reads as
//! zero throughout**, as a fresh mapping does. Instantiation then writes
//! what it writes into a new VMContext (the header, type ids, imports,
//! definitions, globals, function references) and relies on the rest being
//! zero as in a fresh allocation (the `LAST_WASM_*` frame pointers, the
//! padding of records); a table's elements beyond its minimum are never
//! read before growth writes them, and its minimum is filled with its
//! initial element (nothing to write when that is null). When a slot comes
//! back, everything its instance could have written is zeroed: the
//! VMContext's `VMOffsets::size()` bytes, the table's elements up to its
//! size at the end (tables never shrink, so that is everything written).
//! Up to [`RESET_BY_DISCARD`] bytes that is a `memset`; past it the pages
//! are discarded with `madvise(MADV_DONTNEED)` (the next touch maps a zero
//! page), which costs a system call and later page faults but no writing.
//! A slot whose reset fails is unmapped instead of reused.
//!
//! A reused memory: every byte zero until data segments write it,
//! `minimum` pages accessible and no more. `clear` discards every
//! accessible page when the memory comes back (`MADV_DONTNEED` on a private
//! anonymous mapping: the next touch maps a zero page), and `reuse` makes
//! exactly the new minimum accessible; instantiation then applies the data
//! segments as for any memory. A memory that cannot be cleared is unmapped
//! instead of reused. Only 32-bit memories in a reservation (the default
//! tunables) are reused; others (64-bit, or an engine without
//! reservations) are mapped and unmapped as on demand, but still take a
//! memory slot.

use crate::error::{Error, ErrorKind};
use crate::image::MemoryImage;
use crate::memory::{LinearMemory, MemoryType, WASM_PAGE_SIZE};
use crate::mmap::{Mmap, MmapError};
use crate::table::{MAX_TABLE_ELEMENTS, Table};
use duet_environ::tunables::Tunables;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

/// How an engine allocates instances' memories and tables (Wasmtime's
/// `InstanceAllocationStrategy`).
#[derive(Clone, Debug, Default)]
pub enum InstanceAllocationStrategy {
    /// Each VMContext, memory and table is created when an instance needs
    /// it and freed with its store.
    #[default]
    OnDemand,
    /// From slots that the engine keeps and reuses, within the limits of
    /// the configuration (see the module docs of `pool.rs`).
    Pooling(PoolingAllocationConfig),
}

/// The limits of the pooling allocator, with Wasmtime's names and
/// defaults.
///
/// ```
/// use duet::{Config, Engine, InstanceAllocationStrategy, PoolingAllocationConfig};
/// let mut pooling = PoolingAllocationConfig::default();
/// pooling.total_core_instances(100).total_memories(100).max_memory_size(1 << 20);
/// let mut config = Config::new();
/// config.allocation_strategy(InstanceAllocationStrategy::Pooling(pooling));
/// let engine = Engine::new(&config)?;
/// # let _ = engine;
/// # Ok::<(), duet::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct PoolingAllocationConfig {
    total_core_instances: u32,
    total_memories: u32,
    total_tables: u32,
    max_core_instance_size: usize,
    max_memory_size: u64,
    table_elements: u64,
}

impl Default for PoolingAllocationConfig {
    /// 1000 instances, memories and tables, VMContexts of up to 1 MiB,
    /// memories of up to 4 GiB, tables of up to 20,000 elements.
    fn default() -> Self {
        PoolingAllocationConfig {
            total_core_instances: 1000,
            total_memories: 1000,
            total_tables: 1000,
            max_core_instance_size: 1 << 20,
            max_memory_size: 1 << 32,
            table_elements: 20_000,
        }
    }
}

impl PoolingAllocationConfig {
    /// The most instances alive at once, over every store of the engine.
    pub fn total_core_instances(&mut self, count: u32) -> &mut Self {
        self.total_core_instances = count;
        self
    }

    /// The most linear memories alive at once (defined by instances, or
    /// made with [`Memory::new`](crate::Memory::new)).
    pub fn total_memories(&mut self, count: u32) -> &mut Self {
        self.total_memories = count;
        self
    }

    /// The most tables defined by instances alive at once.
    pub fn total_tables(&mut self, count: u32) -> &mut Self {
        self.total_tables = count;
        self
    }

    /// The size of an instance's VMContext slot in bytes: a module whose
    /// VMContext (its header, type ids, imports, table and memory
    /// definitions, globals and function references) is larger is refused
    /// at instantiation. Wasmtime's limit of the same name also counts its
    /// `Instance` record; here it is the VMContext alone.
    pub fn max_core_instance_size(&mut self, bytes: usize) -> &mut Self {
        self.max_core_instance_size = bytes;
        self
    }

    /// The most bytes a memory may have: a larger minimum is refused, and
    /// growth past it fails (`memory.grow` returns -1).
    pub fn max_memory_size(&mut self, bytes: u64) -> &mut Self {
        self.max_memory_size = bytes;
        self
    }

    /// The most elements an instance's table may have, and the capacity
    /// of a table slot: a larger minimum is refused, and growth past it
    /// fails (`table.grow` returns -1). At most 10,000,000 (the runtime's
    /// limit for any table) is used.
    pub fn table_elements(&mut self, elements: u64) -> &mut Self {
        self.table_elements = elements;
        self
    }
}

/// Up to this many bytes, a slot coming back is zeroed with a `memset`;
/// past it, its pages are discarded with `madvise(MADV_DONTNEED)`. Writing
/// 64 KiB takes about as long as the system call and the page faults of
/// touching 16 pages again, and most VMContexts and tables are far
/// smaller.
pub(crate) const RESET_BY_DISCARD: usize = 64 << 10;

/// The storage of a VMContext or table slot: read-write pages of a fixed
/// size, page-aligned (so aligned for any record in them).
///
/// Invariant: a `SlotMemory` that no VMContext or table uses reads as zero
/// throughout. A new one is a fresh mapping; one that a VMContext or table
/// gives back is [`reset`](Self::reset) by its user before it goes
/// anywhere else.
#[derive(Debug)]
pub(crate) struct SlotMemory {
    pages: Mmap,
}

impl SlotMemory {
    /// A zeroed slot of at least `bytes` bytes.
    pub(crate) fn new(bytes: usize) -> Result<SlotMemory, MmapError> {
        Ok(SlotMemory {
            pages: Mmap::accessible(bytes.max(1))?,
        })
    }

    /// The first byte.
    pub(crate) fn as_ptr(&self) -> *const u8 {
        self.pages.as_ptr()
    }

    /// The first byte, for writing.
    pub(crate) fn as_mut_ptr(&mut self) -> *mut u8 {
        self.pages.as_mut_ptr()
    }

    /// The size in bytes (a multiple of the page size).
    pub(crate) fn len(&self) -> usize {
        self.pages.len()
    }

    /// Zeroes the first `used` bytes, everything written since the slot
    /// was taken (see "Fresh storage, every time" in the module docs), so
    /// that the slot reads as zero throughout again.
    pub(crate) fn reset(mut self, used: usize) -> Result<SlotMemory, MmapError> {
        let used = used.min(self.pages.len());
        if used <= RESET_BY_DISCARD {
            // SAFETY: `used` bytes from the start are inside the mapping,
            // which this value owns; whoever wrote them has given the slot
            // up (it is passed by value).
            unsafe { self.pages.as_mut_ptr().write_bytes(0, used) };
        } else {
            // Whole pages: the last one's bytes past `used` are zero
            // already, and discarding them keeps them so. Cannot overflow
            // or pass the end: the mapping's length is a page multiple no
            // smaller than `used`.
            let end = Mmap::round_up_to_page(used).unwrap_or(self.pages.len());
            self.pages.discard(0..end.min(self.pages.len()))?;
        }
        Ok(self)
    }
}

/// The slots the pool keeps for reuse, under one lock.
#[derive(Default)]
struct FreeSlots {
    /// Cleared memories, ready for `LinearMemory::reuse`.
    memories: Vec<LinearMemory>,
    /// Zeroed VMContext slots of `max_core_instance_size` bytes.
    vmctxs: Vec<SlotMemory>,
    /// Zeroed table slots of `table_elements` elements.
    tables: Vec<SlotMemory>,
}

/// An engine's pool: the free slots and the live counts.
pub(crate) struct Pool {
    config: PoolingAllocationConfig,
    /// The engine's memory layout, which every reused memory has.
    tunables: Tunables,
    free: Mutex<FreeSlots>,
    instances: AtomicU32,
    memories: AtomicU32,
    tables: AtomicU32,
}

/// Takes `count` of `total` slots counted by `live`, or says which limit
/// refused.
fn take(live: &AtomicU32, count: u32, total: u32, what: &str, limit: &str) -> Result<(), Error> {
    live.fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
        n.checked_add(count).filter(|&m| m <= total)
    })
    .map(drop)
    .map_err(|_| {
        Error::from(ErrorKind::Resource(format!(
            "the pooling allocator's {total} {what} slots are all in use \
             (PoolingAllocationConfig::{limit})"
        )))
    })
}

impl Pool {
    pub(crate) fn new(config: PoolingAllocationConfig, tunables: Tunables) -> Pool {
        Pool {
            config,
            tunables,
            free: Mutex::new(FreeSlots::default()),
            instances: AtomicU32::new(0),
            memories: AtomicU32::new(0),
            tables: AtomicU32::new(0),
        }
    }

    fn free(&self) -> MutexGuard<'_, FreeSlots> {
        // The free lists are consistent between any two statements that
        // touch them, so a panic elsewhere while holding the lock leaves
        // nothing half done.
        self.free.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The capacity of a table slot in elements.
    fn table_slot_elements(&self) -> u64 {
        self.config.table_elements.min(MAX_TABLE_ELEMENTS)
    }

    /// Takes an instance slot with its VMContext storage, for a VMContext
    /// of `vmctx_size` bytes, and `tables` table slots, after checking
    /// `vmctx_size` against `max_core_instance_size` and each table's
    /// minimum (`table_minimums`) against `table_elements`; nothing is
    /// taken if anything is refused. The VMContext storage reads as zero.
    pub(crate) fn take_instance(
        &self,
        vmctx_size: u32,
        table_minimums: impl Iterator<Item = u64>,
    ) -> Result<(SlotMemory, u32), Error> {
        let config = &self.config;
        if usize::try_from(vmctx_size).map_or(true, |size| size > config.max_core_instance_size) {
            return Err(Error::from(ErrorKind::Resource(format!(
                "the module's VMContext of {vmctx_size} bytes is larger than the pooling \
                 allocator's {} (PoolingAllocationConfig::max_core_instance_size)",
                config.max_core_instance_size
            ))));
        }
        let mut tables = 0u32;
        for minimum in table_minimums {
            if minimum > self.table_slot_elements() {
                return Err(Error::from(ErrorKind::Resource(format!(
                    "a table of {minimum} elements is larger than the pooling allocator's \
                     {} (PoolingAllocationConfig::table_elements)",
                    self.table_slot_elements()
                ))));
            }
            tables += 1;
        }
        take(
            &self.instances,
            1,
            config.total_core_instances,
            "instance",
            "total_core_instances",
        )?;
        if let Err(error) = take(
            &self.tables,
            tables,
            config.total_tables,
            "table",
            "total_tables",
        ) {
            self.instances.fetch_sub(1, Ordering::AcqRel);
            return Err(error);
        }
        let free = self.free().vmctxs.pop();
        let vmctx = match free {
            Some(slot) => Ok(slot),
            None => SlotMemory::new(config.max_core_instance_size).map_err(|e| {
                Error::from(ErrorKind::Resource(format!(
                    "cannot create a VMContext slot: {e}"
                )))
            }),
        };
        if vmctx.is_err() {
            self.instances.fetch_sub(1, Ordering::AcqRel);
            self.tables.fetch_sub(tables, Ordering::AcqRel);
        }
        Ok((vmctx?, tables))
    }

    /// A table in a table slot (one of those `take_instance` counted):
    /// `minimum` elements, each `init`, growing to at most `maximum` and
    /// `table_elements`.
    pub(crate) fn table(
        &self,
        minimum: u64,
        maximum: Option<u64>,
        init: usize,
    ) -> Result<Table, Error> {
        let capacity = self.table_slot_elements();
        let resource = |e: &dyn std::fmt::Display| {
            Error::from(ErrorKind::Resource(format!("cannot create table: {e}")))
        };
        let free = self.free().tables.pop();
        let slot = match free {
            Some(slot) => slot,
            // Cannot truncate: at most `MAX_TABLE_ELEMENTS` elements.
            None => {
                SlotMemory::new(capacity as usize * size_of::<usize>()).map_err(|e| resource(&e))?
            }
        };
        let maximum = maximum.unwrap_or(u64::MAX).min(capacity);
        Table::in_slot(slot, minimum, maximum, init).map_err(|e| resource(&e))
    }

    /// A memory of type `ty` in a memory slot, with `image` mapped: a free
    /// one reused (if it has `image` already, nothing is mapped), or a new
    /// one made by `create`.
    pub(crate) fn memory(
        &self,
        ty: &MemoryType,
        image: Option<&Arc<MemoryImage>>,
        create: impl FnOnce() -> Result<LinearMemory, Error>,
    ) -> Result<LinearMemory, Error> {
        let cap = self.config.max_memory_size / WASM_PAGE_SIZE;
        if ty.minimum > cap {
            return Err(Error::from(ErrorKind::Resource(format!(
                "a memory of {} pages is larger than the pooling allocator's {} bytes \
                 (PoolingAllocationConfig::max_memory_size)",
                ty.minimum, self.config.max_memory_size
            ))));
        }
        take(
            &self.memories,
            1,
            self.config.total_memories,
            "memory",
            "total_memories",
        )?;
        let resource = |e| Error::from(ErrorKind::Resource(format!("cannot create memory: {e}")));
        let made = (|| {
            let free = self.free().memories.pop();
            let mut memory = match free {
                Some(mut memory) if !ty.memory64 => {
                    memory.reuse(ty, &self.tunables).map_err(resource)?;
                    memory
                }
                Some(memory) => {
                    self.free().memories.push(memory);
                    create()?
                }
                None => create()?,
            };
            memory.cap_maximum(cap).map_err(resource)?;
            memory.set_image(image).map_err(resource)?;
            Ok(memory)
        })();
        if made.is_err() {
            self.memories.fetch_sub(1, Ordering::AcqRel);
        }
        made
    }

    /// Gives back a store's slots: `instances` instance slots with the
    /// zeroed storage of their VMContexts (`vmctxs`; fewer if some could
    /// not be reset, or an instantiation failed before its VMContext
    /// joined the store), `tables` table slots with the zeroed storage
    /// of the tables (`table_slots`, likewise), and `memories`, which are
    /// cleared and kept for reuse (or unmapped if clearing fails).
    pub(crate) fn release(
        &self,
        instances: u32,
        vmctxs: impl Iterator<Item = SlotMemory>,
        tables: u32,
        table_slots: impl Iterator<Item = SlotMemory>,
        memories: impl Iterator<Item = LinearMemory>,
    ) {
        // One lock per slot, so that no system call or `memset` (done by
        // the iterators, as each slot is reset) runs under the lock.
        for slot in vmctxs {
            self.free().vmctxs.push(slot);
        }
        for slot in table_slots {
            self.free().tables.push(slot);
        }
        for mut memory in memories {
            // Only memories `reuse` can turn into any 32-bit memory are
            // kept; the rest are unmapped here.
            if memory.can_reuse(&self.tunables) && memory.clear().is_ok() {
                self.free().memories.push(memory);
            }
            self.memories.fetch_sub(1, Ordering::AcqRel);
        }
        // The counts go back after the slots are on the free lists, so
        // that whoever takes a count next finds a slot rather than mapping
        // one more than the limit.
        self.instances.fetch_sub(instances, Ordering::AcqRel);
        self.tables.fetch_sub(tables, Ordering::AcqRel);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every byte of `slot`.
    fn bytes(slot: &SlotMemory) -> &[u8] {
        // SAFETY: the slot's `len()` bytes are mapped read-write, and
        // `&SlotMemory` keeps them from changing.
        unsafe { core::slice::from_raw_parts(slot.as_ptr(), slot.len()) }
    }

    #[test]
    fn a_reset_slot_reads_as_zero_by_memset_and_by_discard() {
        for used in [0, 1, 100, RESET_BY_DISCARD, RESET_BY_DISCARD + 1, 200 << 10] {
            let mut slot = SlotMemory::new(256 << 10).unwrap();
            let address = slot.as_ptr();
            // Scribble on `used` bytes, as a VMContext or table would.
            // SAFETY: `used` bytes are inside the slot.
            unsafe { slot.as_mut_ptr().write_bytes(0xa5, used) };
            assert_eq!(bytes(&slot).iter().filter(|&&b| b != 0).count(), used);
            let slot = slot.reset(used).unwrap();
            assert_eq!(slot.as_ptr(), address, "the same storage, kept");
            assert!(bytes(&slot).iter().all(|&b| b == 0), "used = {used}");
        }
    }

    fn pool(config: impl FnOnce(&mut PoolingAllocationConfig)) -> Pool {
        let mut pooling = PoolingAllocationConfig::default();
        config(&mut pooling);
        Pool::new(pooling, Tunables::default())
    }

    #[test]
    fn a_given_back_vmcontext_slot_is_the_next_one_taken() {
        let pool = pool(|p| {
            p.total_core_instances(2).max_core_instance_size(10_000);
        });
        let (mut first, tables) = pool.take_instance(9_000, [].into_iter()).unwrap();
        assert_eq!(tables, 0);
        assert!(first.len() >= 10_000);
        let address = first.as_ptr();
        // SAFETY: 9000 bytes are inside the slot.
        unsafe { first.as_mut_ptr().write_bytes(0xff, 9_000) };
        let (second, _) = pool.take_instance(16, [].into_iter()).unwrap();
        assert_ne!(second.as_ptr(), address);
        let error = pool.take_instance(16, [].into_iter()).unwrap_err();
        assert!(
            error.to_string().contains("total_core_instances"),
            "{error}"
        );
        let error = pool.take_instance(10_001, [].into_iter()).unwrap_err();
        assert!(
            error.to_string().contains("max_core_instance_size"),
            "{error}"
        );
        pool.release(
            1,
            [first.reset(9_000).unwrap()].into_iter(),
            0,
            [].into_iter(),
            [].into_iter(),
        );
        let (again, _) = pool.take_instance(10_000, [].into_iter()).unwrap();
        assert_eq!(again.as_ptr(), address, "reused, not mapped again");
        assert!(bytes(&again).iter().all(|&b| b == 0));
        drop((second, again));
    }

    #[test]
    fn a_given_back_table_slot_is_the_next_one_taken_with_only_nulls() {
        let pool = pool(|p| {
            p.table_elements(5000);
        });
        let mut table = pool.table(3, None, 0).unwrap();
        assert_eq!(table.maximum(), 5000);
        let base = table.elements().as_ptr();
        assert_eq!(table.grow(4997, 7), Some(3));
        assert_eq!(table.elements().as_ptr(), base, "grown in place");
        assert_eq!(table.grow(1, 7), None);
        let slot = table.take_slot().unwrap();
        assert_eq!(table.size(), 0);
        pool.release(0, [].into_iter(), 0, [slot].into_iter(), [].into_iter());
        let table = pool.table(4000, Some(4500), 0).unwrap();
        assert_eq!(table.elements().as_ptr(), base, "reused, not mapped again");
        assert!(table.elements().iter().all(|&e| e == 0));
        assert_eq!(table.maximum(), 4500);
        let table = pool.table(2, None, 9).unwrap();
        assert_eq!(table.elements(), &[9, 9]);
    }
}
