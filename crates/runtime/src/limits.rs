//! Store limits: what an embedder bounds untrusted code with.
//!
//! A store may carry a [`ResourceLimiter`] ([`Store::limiter`]), which is
//! asked before anything in the store grows or is created:
//!
//! ```text
//!   wasm memory.grow / table.grow ──► builtin ─┐
//!   Memory::grow / Table::grow (API) ──────────┼─► StoreOpaque::memory_growing
//!   a memory's / table's initial size ─────────┘    / table_growing ──► limiter
//!   Instance::new (counts) ─────────────────────────► instances / memories / tables
//! ```
//!
//! * A growth the limiter refuses (`Ok(false)`) fails as growth past a
//!   declared maximum does: wasm's `memory.grow` / `table.grow` return -1,
//!   `Memory::grow` / `Table::grow` return [`ErrorKind::Limit`](crate::ErrorKind::Limit), and a memory or
//!   table whose *initial* size is refused makes the instantiation (or
//!   `Memory::new` / `Table::new`) fail with [`ErrorKind::Limit`](crate::ErrorKind::Limit) naming the
//!   limit. Nothing is created or changed by a refused request.
//! * A limiter's error (`Err`) is returned as is from the API and from
//!   instantiation; inside wasm's `memory.grow` / `table.grow` it is a trap
//!   (code [`TrapCode::HostError`](crate::TrapCode::HostError), the
//!   limiter's error as its source), which returns to the host as an
//!   [`Trap`](crate::Trap) and leaves the store usable. [`StoreLimits`] fails
//!   that way, with an [`ErrorKind::Limit`](crate::ErrorKind::Limit), instead of refusing when built
//!   with [`StoreLimitsBuilder::trap_on_grow_failure`].
//! * Counts: an instantiation that would take the store past
//!   [`ResourceLimiter::instances`], [`ResourceLimiter::memories`] or
//!   [`ResourceLimiter::tables`] (counting every memory and table of the
//!   store, host-made ones included) fails before it creates anything.
//!
//! The design is Wasmtime's (`ResourceLimiter`, `StoreLimitsBuilder`,
//! `Store::limiter`), sizes in bytes for memories and in elements for
//! tables.
//!
//! [`Store::limiter`]: crate::Store::limiter

use crate::error::{Error, ErrorKind};

/// The count limit a [`ResourceLimiter`] has unless it says otherwise
/// (Wasmtime's default too).
pub const DEFAULT_INSTANCE_LIMIT: usize = 10_000;
/// As [`DEFAULT_INSTANCE_LIMIT`], for tables.
pub const DEFAULT_TABLE_LIMIT: usize = 10_000;
/// As [`DEFAULT_INSTANCE_LIMIT`], for memories.
pub const DEFAULT_MEMORY_LIMIT: usize = 10_000;

/// Decides whether memories and tables of a store may grow, and how many
/// instances, memories and tables it may hold.
///
/// Installed with [`Store::limiter`](crate::Store::limiter). The trivial
/// implementation is [`StoreLimits`].
pub trait ResourceLimiter {
    /// A memory wants to grow from `current` to `desired` bytes (`current`
    /// is 0 when the memory is being created); `maximum` is its declared
    /// maximum in bytes, if any. `Ok(true)` allows it, `Ok(false)` refuses
    /// it (see the module docs for what a refusal and an error do).
    fn memory_growing(
        &mut self,
        current: usize,
        desired: usize,
        maximum: Option<usize>,
    ) -> Result<bool, Error>;

    /// A table wants to grow from `current` to `desired` elements (0 when
    /// being created); `maximum` is its declared maximum, if any.
    fn table_growing(
        &mut self,
        current: usize,
        desired: usize,
        maximum: Option<usize>,
    ) -> Result<bool, Error>;

    /// The most instances the store may hold.
    fn instances(&self) -> usize {
        DEFAULT_INSTANCE_LIMIT
    }

    /// The most tables the store may hold.
    fn tables(&self) -> usize {
        DEFAULT_TABLE_LIMIT
    }

    /// The most memories the store may hold.
    fn memories(&self) -> usize {
        DEFAULT_MEMORY_LIMIT
    }
}

/// A ready [`ResourceLimiter`]: fixed bounds, built with
/// [`StoreLimitsBuilder`]. Unset bounds are unlimited (counts: the
/// defaults of [`ResourceLimiter`]).
///
/// ```
/// use duet::{Engine, Store, StoreLimits, StoreLimitsBuilder};
/// struct State { limits: StoreLimits }
/// let engine = Engine::default();
/// let limits = StoreLimitsBuilder::new().memory_size(1 << 20).instances(2).build();
/// let mut store = Store::new(&engine, State { limits });
/// store.limiter(|state| &mut state.limits);
/// ```
#[derive(Clone, Debug)]
pub struct StoreLimits {
    memory_size: Option<usize>,
    table_elements: Option<usize>,
    instances: usize,
    tables: usize,
    memories: usize,
    trap_on_grow_failure: bool,
}

impl Default for StoreLimits {
    fn default() -> StoreLimits {
        StoreLimits {
            memory_size: None,
            table_elements: None,
            instances: DEFAULT_INSTANCE_LIMIT,
            tables: DEFAULT_TABLE_LIMIT,
            memories: DEFAULT_MEMORY_LIMIT,
            trap_on_grow_failure: false,
        }
    }
}

impl StoreLimits {
    /// `Ok(true)` if `desired` is within `limit`; else a refusal, or with
    /// `trap_on_grow_failure` an [`ErrorKind::Limit`](crate::ErrorKind::Limit) naming the limit.
    fn allow(
        &self,
        limit: Option<usize>,
        desired: usize,
        name: &str,
        unit: &str,
    ) -> Result<bool, Error> {
        match limit {
            Some(limit) if desired > limit => {
                if self.trap_on_grow_failure {
                    Err(Error::from(ErrorKind::Limit(format!(
                        "store limit `{name}` of {limit} {unit} exceeded: {desired} {unit} wanted"
                    ))))
                } else {
                    Ok(false)
                }
            }
            _ => Ok(true),
        }
    }
}

impl ResourceLimiter for StoreLimits {
    fn memory_growing(
        &mut self,
        _: usize,
        desired: usize,
        _: Option<usize>,
    ) -> Result<bool, Error> {
        self.allow(self.memory_size, desired, "memory_size", "bytes")
    }

    fn table_growing(&mut self, _: usize, desired: usize, _: Option<usize>) -> Result<bool, Error> {
        self.allow(self.table_elements, desired, "table_elements", "elements")
    }

    fn instances(&self) -> usize {
        self.instances
    }

    fn tables(&self) -> usize {
        self.tables
    }

    fn memories(&self) -> usize {
        self.memories
    }
}

/// Builds a [`StoreLimits`].
#[derive(Clone, Debug, Default)]
pub struct StoreLimitsBuilder(StoreLimits);

impl StoreLimitsBuilder {
    /// No bounds beyond the default counts.
    pub fn new() -> StoreLimitsBuilder {
        StoreLimitsBuilder::default()
    }

    /// The most bytes each memory may have.
    pub fn memory_size(mut self, bytes: usize) -> StoreLimitsBuilder {
        self.0.memory_size = Some(bytes);
        self
    }

    /// The most elements each table may have.
    pub fn table_elements(mut self, elements: usize) -> StoreLimitsBuilder {
        self.0.table_elements = Some(elements);
        self
    }

    /// The most instances of the store.
    pub fn instances(mut self, count: usize) -> StoreLimitsBuilder {
        self.0.instances = count;
        self
    }

    /// The most tables of the store.
    pub fn tables(mut self, count: usize) -> StoreLimitsBuilder {
        self.0.tables = count;
        self
    }

    /// The most memories of the store.
    pub fn memories(mut self, count: usize) -> StoreLimitsBuilder {
        self.0.memories = count;
        self
    }

    /// Whether a growth past `memory_size` or `table_elements` fails with
    /// an [`ErrorKind::Limit`](crate::ErrorKind::Limit) (a trap in wasm's `memory.grow` / `table.grow`)
    /// instead of being refused (-1). Off by default.
    pub fn trap_on_grow_failure(mut self, trap: bool) -> StoreLimitsBuilder {
        self.0.trap_on_grow_failure = trap;
        self
    }

    /// The limits.
    pub fn build(self) -> StoreLimits {
        self.0
    }
}
