//! The pooling instance allocator: a configured number of instance,
//! memory and table slots per engine, and linear memories that are kept
//! and reused rather than mapped and unmapped for every instance.
//!
//! # Why
//!
//! Instantiating a small module on demand spends most of its time in the
//! kernel: reserving a 32-bit memory's 6 GiB of address space (4 GiB and
//! the guard), allocating page tables as the data segments touch pages, and
//! at the store's end tearing all of it down again. A pooled memory keeps
//! its reservation and page tables: the next instance gets it back with
//! its pages discarded, which costs one `madvise` and the page faults of
//! the pages it touches.
//!
//! ```text
//!  Engine ── Pool { free: [LinearMemory, ...], live instances / memories / tables }
//!
//!  instantiate:  take an instance slot and one per defined table (or fail:
//!                all in use); each defined memory: pop a free memory and
//!                `reuse` it for the type (protection set to its minimum),
//!                or map a new one while fewer than `total_memories` live
//!  drop store:   each pooled memory is `clear`ed (madvise DONTNEED: every
//!                page reads as zero again) and pushed back on the free list;
//!                the store's instance and table slots are given back
//! ```
//!
//! # What a slot is
//!
//! A slot is a count: at most `total_core_instances` instances,
//! `total_memories` memories and `total_tables` tables are alive at once
//! across every store of the engine, and one more is an
//! [`ErrorKind::Resource`] naming the limit. Memories are also the reused
//! resource; VMContexts and table elements are small heap allocations that
//! the allocator recycles by itself. A slot is given back when the store
//! that took it is dropped, not earlier (a store frees nothing before it
//! ends), including the slots of an instantiation that failed part way.
//!
//! # Fresh memory, every time
//!
//! A reused memory must be indistinguishable from a new one: every byte
//! zero until data segments write it, `minimum` pages accessible and no
//! more. `clear` discards every accessible page when the memory comes back
//! (`MADV_DONTNEED` on a private anonymous mapping: the next touch maps a
//! zero page), and `reuse` makes exactly the new minimum accessible;
//! instantiation then applies the data segments as for any memory. A
//! memory that cannot be cleared is unmapped instead of reused.
//!
//! Only 32-bit memories in a reservation (the default tunables) are
//! reused; others (64-bit, or an engine without reservations) are mapped
//! and unmapped as on demand, but still take a memory slot.

use crate::error::{Error, ErrorKind};
use crate::image::MemoryImage;
use crate::memory::{LinearMemory, MemoryType, WASM_PAGE_SIZE};
use duet_environ::tunables::Tunables;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};

/// How an engine allocates instances' memories and tables (Wasmtime's
/// `InstanceAllocationStrategy`).
#[derive(Clone, Debug, Default)]
pub enum InstanceAllocationStrategy {
    /// Each memory and table is created when an instance needs it and
    /// freed with its store.
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
    max_memory_size: u64,
    table_elements: u64,
}

impl Default for PoolingAllocationConfig {
    /// 1000 instances, memories and tables, memories of up to 4 GiB,
    /// tables of up to 20,000 elements.
    fn default() -> Self {
        PoolingAllocationConfig {
            total_core_instances: 1000,
            total_memories: 1000,
            total_tables: 1000,
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

    /// The most bytes a memory may have: a larger minimum is refused, and
    /// growth past it fails (`memory.grow` returns -1).
    pub fn max_memory_size(&mut self, bytes: u64) -> &mut Self {
        self.max_memory_size = bytes;
        self
    }

    /// The most elements an instance's table may have: a larger minimum is
    /// refused, and growth past it fails.
    pub fn table_elements(&mut self, elements: u64) -> &mut Self {
        self.table_elements = elements;
        self
    }
}

/// An engine's pool: the free memories and the live counts.
pub(crate) struct Pool {
    config: PoolingAllocationConfig,
    /// The engine's memory layout, which every reused memory has.
    tunables: Tunables,
    /// Cleared memories, ready for `LinearMemory::reuse`.
    free_memories: Mutex<Vec<LinearMemory>>,
    instances: AtomicU32,
    memories: AtomicU32,
    tables: AtomicU32,
}

/// Takes one of `total` slots counted by `live`, or says which limit
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
            free_memories: Mutex::new(Vec::new()),
            instances: AtomicU32::new(0),
            memories: AtomicU32::new(0),
            tables: AtomicU32::new(0),
        }
    }

    /// The most elements a pooled table may have.
    pub(crate) fn table_elements(&self) -> u64 {
        self.config.table_elements
    }

    /// Takes an instance slot and `tables` table slots, after checking
    /// each table's minimum (`table_minimums`) against `table_elements`;
    /// nothing is taken if anything is refused.
    pub(crate) fn take_instance(
        &self,
        table_minimums: impl Iterator<Item = u64>,
    ) -> Result<u32, Error> {
        let mut tables = 0u32;
        for minimum in table_minimums {
            if minimum > self.config.table_elements {
                return Err(Error::from(ErrorKind::Resource(format!(
                    "a table of {minimum} elements is larger than the pooling allocator's \
                     {} (PoolingAllocationConfig::table_elements)",
                    self.config.table_elements
                ))));
            }
            tables += 1;
        }
        let config = &self.config;
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
        Ok(tables)
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
            let free = self
                .free_memories
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .pop();
            let mut memory = match free {
                Some(mut memory) if !ty.memory64 => {
                    memory.reuse(ty, &self.tunables).map_err(resource)?;
                    memory
                }
                Some(memory) => {
                    self.put_back(memory);
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

    /// Puts a cleared memory on the free list.
    fn put_back(&self, memory: LinearMemory) {
        self.free_memories
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(memory);
    }

    /// Gives back a store's slots: `instances` instance slots, `tables`
    /// table slots, and `memories`, which are cleared and kept for reuse
    /// (or unmapped if clearing fails).
    pub(crate) fn release(
        &self,
        instances: u32,
        tables: u32,
        memories: impl Iterator<Item = LinearMemory>,
    ) {
        for mut memory in memories {
            // Only memories `reuse` can turn into any 32-bit memory are
            // kept; the rest are unmapped here.
            if memory.can_reuse(&self.tunables) && memory.clear().is_ok() {
                self.put_back(memory);
            }
            self.memories.fetch_sub(1, Ordering::AcqRel);
        }
        self.instances.fetch_sub(instances, Ordering::AcqRel);
        self.tables.fetch_sub(tables, Ordering::AcqRel);
    }
}
