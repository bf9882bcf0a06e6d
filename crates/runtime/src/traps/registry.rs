//! The process-wide registry of loaded wasm code, which the signal handler
//! reads to decide whether a faulting pc is a wasm trap.
//!
//! ```text
//!  REGISTRY: RwLock<BTreeMap<start address, CodeInfo>>
//!
//!   CodeInfo { id, base, start..end,
//!              tables: CodeTables (function ranges, trap tables, srclocs) }
//! ```
//!
//! The tables are the module's `CodeTables` (`tables.rs`), shared, not
//! copied: a heap buffer for freshly compiled code, the artifact's own
//! bytes for a precompiled module; registering is one insertion whatever
//! the number of functions.
//!
//! A [`RegisteredCode`] owns its [`CodeMemory`] and the registry entry
//! describing it; dropping it removes the entry *before* the code is
//! unmapped, so the registry never names freed code. Every table is built
//! (and every allocation made) before the write lock is taken, and a
//! removed entry is freed after it is released, so a writer holds the lock
//! only for one `BTreeMap` insertion or removal.
//!
//! The signal handler never blocks on the lock: [`Registry::try_read`]
//! retries, yielding the CPU between attempts, until it gets it. A writer
//! holds the lock for one insertion or removal, but on a loaded machine it
//! may be descheduled meanwhile, and `RwLock` refuses new readers while a
//! writer waits, so the retries are bounded by time (`READ_DEADLINE`, far
//! beyond any scheduling delay), not by count: a wasm trap on one thread
//! while another registers or drops code is a trap, however busy the
//! machine. It cannot wait for itself: a thread that holds the write lock
//! is running the registry's code, not wasm, so a fault there is never a
//! trap, and the handler gives up at once on that thread (`WRITING`).
//! Only after the deadline is the fault treated as not ours. Lookups are
//! binary searches over the tables' columns and a `BTreeMap` range query;
//! none allocates.

use std::cell::Cell;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{RwLock, RwLockReadGuard, TryLockError};

use cranelift_asm::{FinishedCode, TrapCode};

use crate::code::CodeMemory;
use crate::tables::CodeTables;

/// Identifies one registered code region for as long as the process runs
/// (ids are never reused).
#[derive(Copy, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Debug)]
pub struct CodeId(u64);

impl CodeId {
    /// The id's number.
    pub fn as_u64(self) -> u64 {
        self.0
    }
}

/// What the handler needs to know about one region of code.
#[derive(Debug)]
struct CodeInfo {
    id: CodeId,
    /// The address of the code image's byte 0 (the tables' offsets are
    /// from there).
    base: usize,
    /// The first function's first byte.
    start: usize,
    /// One past the last function's last byte.
    end: usize,
    /// Where the functions are, their traps and source locations.
    tables: CodeTables,
}

static REGISTRY: RwLock<BTreeMap<usize, CodeInfo>> = RwLock::new(BTreeMap::new());

thread_local! {
    /// Whether this thread holds (or is taking) the registry's write lock.
    /// `const`-initialised and without a destructor, so the signal handler
    /// may read it.
    static WRITING: Cell<bool> = const { Cell::new(false) };
}

static NEXT_CODE_ID: AtomicU64 = AtomicU64::new(0);

/// Executable code whose traps the signal handler turns into
/// [`Trap`](duet_environ::trap::Trap)s: a [`CodeMemory`] together with its
/// entry in the process-wide registry. Dropping it unregisters the code,
/// then frees it.
#[derive(Debug)]
pub struct RegisteredCode {
    // `Drop::drop` unregisters before any field, and so the mapping, is
    // dropped.
    code: CodeMemory,
    /// The tables the registry's entry shares.
    tables: CodeTables,
    id: CodeId,
    /// The registry key, or `None` for code without functions (which is
    /// not registered: it has no address range of its own).
    key: Option<usize>,
}

impl RegisteredCode {
    /// Registers `code`, whose function `i` was assembled as
    /// `functions[i]` (its trap table and source locations are copied from
    /// there into the code's tables).
    ///
    /// Panics if the number of functions differs from `code.len()`: the
    /// caller built `code` from these very functions.
    pub fn new<'a>(
        code: CodeMemory,
        functions: impl IntoIterator<Item = &'a FinishedCode>,
    ) -> RegisteredCode {
        let functions: Vec<&FinishedCode> = functions.into_iter().collect();
        let tables = CodeTables::build(code.function_offsets(), &functions)
            .expect("a CodeMemory's offsets fit in 32 bits");
        RegisteredCode::with_tables(code, tables)
    }

    /// Registers `code` with its tables, shared (not copied).
    ///
    /// Panics if the tables do not describe the code's functions: the
    /// caller built `code` from them or them from `code`.
    pub(crate) fn with_tables(code: CodeMemory, tables: CodeTables) -> RegisteredCode {
        assert_eq!(
            tables.len(),
            code.len(),
            "RegisteredCode: the tables describe another number of functions than the code has"
        );
        let id = CodeId(NEXT_CODE_ID.fetch_add(1, Ordering::Relaxed));
        let key = match (code.function_range(0), code.len().checked_sub(1)) {
            (Some(first), Some(last)) => {
                let last = code.function_range(last).expect("last < len");
                let info = CodeInfo {
                    id,
                    base: code.base(),
                    start: first.start,
                    end: last.end,
                    tables: tables.clone(),
                };
                let key = info.start;
                let previous = update_registry(|map| map.insert(key, info));
                // Two live mappings cannot share an address, and each
                // `RegisteredCode` owns its mapping.
                assert!(
                    previous.is_none(),
                    "the registry already held code at {key:#x}, which a live mapping owns"
                );
                Some(key)
            }
            _ => None,
        };
        RegisteredCode {
            code,
            tables,
            id,
            key,
        }
    }

    /// The code.
    pub fn code(&self) -> &CodeMemory {
        &self.code
    }

    /// The code's tables (shared with the registry's entry).
    pub(crate) fn tables(&self) -> &CodeTables {
        &self.tables
    }

    /// The id frames of this code carry in backtraces.
    pub fn id(&self) -> CodeId {
        self.id
    }
}

impl Drop for RegisteredCode {
    fn drop(&mut self) {
        if let Some(key) = self.key {
            // Take the entry out under the lock, free it after.
            let removed = update_registry(|map| map.remove(&key));
            debug_assert!(removed.is_some_and(|info| info.id == self.id));
        }
        // `self.code` is unmapped after this returns, when nothing can find
        // it any more.
    }
}

/// Runs `update` under the write lock, with this thread marked as the
/// writer (`WRITING`) while it takes and holds it. Nothing panics while
/// holding it, but a poisoned lock still guards a consistent map (every
/// update is one insert or remove).
fn update_registry<R>(update: impl FnOnce(&mut BTreeMap<usize, CodeInfo>) -> R) -> R {
    WRITING.set(true);
    let result = {
        let mut map = REGISTRY
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        update(&mut map)
    };
    WRITING.set(false);
    result
}

/// The monotonic clock in nanoseconds (`clock_gettime` is
/// async-signal-safe).
fn monotonic_nanos() -> u64 {
    let mut now = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `now` is a valid `timespec` to write; CLOCK_MONOTONIC always
    // exists on Linux.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut now) };
    (now.tv_sec as u64)
        .saturating_mul(1_000_000_000)
        .saturating_add(now.tv_nsec as u64)
}

/// Where a pc is: a function of registered code.
#[derive(Copy, Clone, Debug)]
pub(super) struct CodeLocation<'a> {
    code: &'a CodeInfo,
    function_index: usize,
    /// The pc's offset in the function.
    pub offset: u32,
}

impl CodeLocation<'_> {
    /// The registered code's id.
    pub fn code_id(&self) -> CodeId {
        self.code.id
    }

    /// The function's index in its code.
    pub fn function_index(&self) -> usize {
        self.function_index
    }

    /// The trap code recorded for the instruction at this location.
    pub fn trap_code(&self) -> Option<TrapCode> {
        self.code.tables.trap_code(self.function_index, self.offset)
    }

    /// The source location of the code byte at `offset` of this function.
    pub fn srcloc_at(&self, offset: u32) -> Option<u32> {
        self.code.tables.srcloc_at(self.function_index, offset)
    }
}

/// A read lock on the registry, for lookups. See the [module docs](self).
pub(super) struct Registry(RwLockReadGuard<'static, BTreeMap<usize, CodeInfo>>);

impl Registry {
    /// How long [`Registry::try_read`] retries before it gives up: far
    /// beyond any writer's time under the lock, descheduled or not.
    const READ_DEADLINE_NANOS: u64 = 2_000_000_000;

    /// A read lock, or `None` on the thread that holds the write lock or
    /// if writers kept it past the deadline. Never blocks on the lock and
    /// never allocates: safe in a signal handler.
    pub fn try_read() -> Option<Registry> {
        if WRITING.get() {
            return None;
        }
        let mut deadline = None;
        loop {
            match REGISTRY.try_read() {
                Ok(guard) => return Some(Registry(guard)),
                Err(TryLockError::Poisoned(poisoned)) => {
                    return Some(Registry(poisoned.into_inner()));
                }
                Err(TryLockError::WouldBlock) => {
                    let now = monotonic_nanos();
                    let deadline = *deadline.get_or_insert(now + Self::READ_DEADLINE_NANOS);
                    if now >= deadline {
                        return None;
                    }
                    // SAFETY: `sched_yield` takes no arguments, touches no
                    // memory of ours and is a plain system call.
                    unsafe { libc::sched_yield() };
                }
            }
        }
    }

    /// The function of registered code containing `pc`, if any.
    pub fn lookup(&self, pc: usize) -> Option<CodeLocation<'_>> {
        let (_, code) = self.0.range(..=pc).next_back()?;
        if pc >= code.end {
            return None;
        }
        let (function_index, offset) = code.tables.lookup(pc - code.base)?;
        Some(CodeLocation {
            code,
            function_index,
            offset,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cranelift_asm::SourceLoc;
    use cranelift_asm::x64::{Assembler, CpuFeatures, Gpr, OperandSize::*};

    /// A writer that holds the lock for a long time (as one descheduled on a
    /// loaded machine does) delays a reader but does not make it give up;
    /// the writer's own thread gives up at once instead of waiting for
    /// itself.
    #[test]
    fn a_slow_writer_delays_the_handler_but_its_own_thread_never_waits() {
        let (held, release) = (std::sync::Barrier::new(2), std::sync::Barrier::new(2));
        std::thread::scope(|scope| {
            scope.spawn(|| {
                update_registry(|_| {
                    held.wait();
                    assert!(Registry::try_read().is_none(), "the writer's thread waited");
                    release.wait();
                    std::thread::sleep(std::time::Duration::from_millis(200));
                });
            });
            held.wait();
            release.wait();
            let start = std::time::Instant::now();
            assert!(
                Registry::try_read().is_some(),
                "the reader gave up on a slow writer"
            );
            assert!(start.elapsed() >= std::time::Duration::from_millis(100));
        });
    }

    /// `nop; nop; [srcloc 7: ud2]; ret` and `ret`.
    fn functions() -> [FinishedCode; 2] {
        let mut asm = Assembler::new(CpuFeatures::baseline());
        asm.nop(2);
        asm.start_srcloc(SourceLoc(7));
        asm.ud2(TrapCode::from_u8(3).unwrap());
        asm.end_srcloc();
        asm.ret();
        let first = asm.finish().unwrap();
        let mut asm = Assembler::new(CpuFeatures::baseline());
        asm.mov_rr(S64, Gpr::RAX, Gpr::RDI);
        asm.ret();
        [first, asm.finish().unwrap()]
    }

    #[test]
    fn lookups_find_functions_traps_and_source_locations() {
        let functions = functions();
        let registered =
            RegisteredCode::new(CodeMemory::new(&functions, |_| None).unwrap(), &functions);
        let f0 = registered.code().function_range(0).unwrap();
        let f1 = registered.code().function_range(1).unwrap();
        let registry = Registry::try_read().unwrap();

        let at_ud2 = registry.lookup(f0.start + 2).unwrap();
        assert_eq!(at_ud2.code_id(), registered.id());
        assert_eq!((at_ud2.function_index(), at_ud2.offset), (0, 2));
        assert_eq!(at_ud2.trap_code(), TrapCode::from_u8(3));
        assert_eq!(at_ud2.srcloc_at(2), Some(7));
        assert_eq!(at_ud2.srcloc_at(3), Some(7));
        assert_eq!(at_ud2.srcloc_at(4), None, "the ret is outside the range");
        assert_eq!(at_ud2.srcloc_at(1), None);

        let before = registry.lookup(f0.start + 1).unwrap();
        assert_eq!(before.trap_code(), None);
        assert!(registry.lookup(f0.end).is_none(), "padding");
        let second = registry.lookup(f1.end - 1).unwrap();
        assert_eq!((second.function_index(), second.offset), (1, 3));
        assert!(registry.lookup(f1.end).is_none());
        drop(registry);

        let (start, id) = (f0.start, registered.id());
        drop(registered);
        let registry = Registry::try_read().unwrap();
        // (Another test's code may have been mapped there since.)
        assert!(
            registry
                .lookup(start + 2)
                .is_none_or(|location| location.code_id() != id),
            "dropping unregisters"
        );
    }

    #[test]
    fn code_without_functions_is_not_registered() {
        let registered = RegisteredCode::new(CodeMemory::new([], |_| None).unwrap(), []);
        assert_eq!(registered.key, None);
    }
}
