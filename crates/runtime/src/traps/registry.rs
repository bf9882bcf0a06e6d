//! The process-wide registry of loaded wasm code, which the signal handler
//! reads to decide whether a faulting pc is a wasm trap.
//!
//! ```text
//!  REGISTRY: RwLock<BTreeMap<start address, CodeInfo>>
//!
//!   CodeInfo { id, start..end,
//!              functions: [ FunctionInfo { start..end, trap table, srclocs }, … ] }
//! ```
//!
//! A [`RegisteredCode`] owns its [`CodeMemory`] and the registry entry
//! describing it; dropping it removes the entry *before* the code is
//! unmapped, so the registry never names freed code. Every table is built
//! (and every allocation made) before the write lock is taken, and a
//! removed entry is freed after it is released, so a writer holds the lock
//! only for one `BTreeMap` insertion or removal.
//!
//! The signal handler never blocks on the lock: [`Registry::try_read`]
//! retries a bounded number of times (a writer is done within
//! microseconds, and it cannot be waiting for the faulting thread, which
//! was running wasm) and then gives up, and the fault is treated as not
//! ours. Lookups are binary searches over sorted boxed slices and a
//! `BTreeMap` range query; none allocates.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{RwLock, RwLockReadGuard, TryLockError};

use cranelift_asm::buffer::{SrcLocRange, TrapRecord};
use cranelift_asm::{FinishedCode, TrapCode};

use crate::code::CodeMemory;

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

/// What the handler needs to know about one function.
#[derive(Debug)]
struct FunctionInfo {
    /// The function's first byte.
    start: usize,
    /// One past its last byte.
    end: usize,
    /// Its trap table, sorted by offset.
    traps: Box<[TrapRecord]>,
    /// Its source-location ranges, sorted by start offset.
    srclocs: Box<[SrcLocRange]>,
}

/// What the handler needs to know about one region of code.
#[derive(Debug)]
struct CodeInfo {
    id: CodeId,
    /// The first function's first byte.
    start: usize,
    /// One past the last function's last byte.
    end: usize,
    /// Sorted by address (the order `CodeMemory` lays functions out in).
    functions: Box<[FunctionInfo]>,
}

static REGISTRY: RwLock<BTreeMap<usize, CodeInfo>> = RwLock::new(BTreeMap::new());

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
    id: CodeId,
    /// The registry key, or `None` for code without functions (which is
    /// not registered: it has no address range of its own).
    key: Option<usize>,
}

impl RegisteredCode {
    /// Registers `code`, whose function `i` was assembled as
    /// `functions[i]` (its trap table and source locations are copied from
    /// there).
    ///
    /// Panics if the number of functions differs from `code.len()`: the
    /// caller built `code` from these very functions.
    pub fn new<'a>(
        code: CodeMemory,
        functions: impl IntoIterator<Item = &'a FinishedCode>,
    ) -> RegisteredCode {
        let functions: Box<[FunctionInfo]> = functions
            .into_iter()
            .enumerate()
            .map(|(index, function)| {
                let range = code
                    .function_range(index)
                    .expect("RegisteredCode::new: more FinishedCodes than functions in the code");
                FunctionInfo {
                    start: range.start,
                    end: range.end,
                    traps: function.traps().into(),
                    srclocs: function.srclocs().into(),
                }
            })
            .collect();
        assert_eq!(
            functions.len(),
            code.len(),
            "RegisteredCode::new: fewer FinishedCodes than functions in the code"
        );
        let id = CodeId(NEXT_CODE_ID.fetch_add(1, Ordering::Relaxed));
        let key = match (functions.first(), functions.last()) {
            (Some(first), Some(last)) => {
                let info = CodeInfo {
                    id,
                    start: first.start,
                    end: last.end,
                    functions,
                };
                let key = info.start;
                let previous = write_registry().insert(key, info);
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
        RegisteredCode { code, id, key }
    }

    /// The code.
    pub fn code(&self) -> &CodeMemory {
        &self.code
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
            let removed = write_registry().remove(&key);
            debug_assert!(removed.is_some_and(|info| info.id == self.id));
        }
        // `self.code` is unmapped after this returns, when nothing can find
        // it any more.
    }
}

/// The write lock. Nothing panics while holding it, but a poisoned lock
/// still guards a consistent map (every update is one insert or remove).
fn write_registry() -> std::sync::RwLockWriteGuard<'static, BTreeMap<usize, CodeInfo>> {
    REGISTRY
        .write()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Where a pc is: a function of registered code.
#[derive(Copy, Clone, Debug)]
pub(super) struct CodeLocation<'a> {
    code: &'a CodeInfo,
    function_index: usize,
    function: &'a FunctionInfo,
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
        let traps = &self.function.traps;
        traps
            .binary_search_by_key(&self.offset, |record| record.offset)
            .ok()
            .map(|index| traps[index].code)
    }

    /// The source location of the code byte at `offset` of this function.
    pub fn srcloc_at(&self, offset: u32) -> Option<u32> {
        let srclocs = &self.function.srclocs;
        let index = srclocs
            .partition_point(|range| range.start <= offset)
            .checked_sub(1)?;
        let range = &srclocs[index];
        (offset < range.end).then_some(range.loc.0)
    }
}

/// A read lock on the registry, for lookups. See the [module docs](self).
pub(super) struct Registry(RwLockReadGuard<'static, BTreeMap<usize, CodeInfo>>);

impl Registry {
    /// How many times [`Registry::try_read`] asks for the lock.
    const READ_ATTEMPTS: u32 = 100;

    /// A read lock, or `None` if a writer kept it through every attempt.
    /// Never blocks and never allocates: safe in a signal handler.
    pub fn try_read() -> Option<Registry> {
        for _ in 0..Self::READ_ATTEMPTS {
            match REGISTRY.try_read() {
                Ok(guard) => return Some(Registry(guard)),
                Err(TryLockError::Poisoned(poisoned)) => {
                    return Some(Registry(poisoned.into_inner()));
                }
                Err(TryLockError::WouldBlock) => {
                    // SAFETY: `sched_yield` takes no arguments, touches no
                    // memory of ours and is a plain system call.
                    unsafe { libc::sched_yield() };
                }
            }
        }
        None
    }

    /// The function of registered code containing `pc`, if any.
    pub fn lookup(&self, pc: usize) -> Option<CodeLocation<'_>> {
        let (_, code) = self.0.range(..=pc).next_back()?;
        if pc >= code.end {
            return None;
        }
        let function_index = code
            .functions
            .partition_point(|function| function.start <= pc)
            .checked_sub(1)?;
        let function = &code.functions[function_index];
        if pc >= function.end {
            return None; // padding between functions
        }
        Some(CodeLocation {
            code,
            function_index,
            function,
            // Function offsets fit in `u32` (the assembler's offsets do).
            offset: (pc - function.start) as u32,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cranelift_asm::SourceLoc;
    use cranelift_asm::x64::{Assembler, CpuFeatures, Gpr, OperandSize::*};

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
