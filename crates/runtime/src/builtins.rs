//! The runtime builtins compiled code calls (`duet_environ::builtins`):
//! growth (asking the store's limiter first), and the bulk memory and
//! table operations.
//!
//! Each receives the calling instance's VMContext, whose `STORE` field
//! points at the instance's record in the store; indices are in that
//! instance's index spaces. A builtin that can fail returns a non-zero
//! status and the caller raises the trap (`Builtin::trap`): no Rust frame
//! is ever unwound by a trap.

use crate::instance::InstanceData;
use crate::store::StoreOpaque;
use crate::vm::VMMemoryDefinition;
use duet_environ::builtins::Builtin;
use duet_environ::vmoffsets::VMContext;

/// The table of builtin addresses, in [`Builtin::ALL`] order.
#[repr(C)]
pub(crate) struct BuiltinTable {
    memory_grow: unsafe extern "sysv64" fn(*mut u8, u32, u64) -> u64,
    memory_fill: unsafe extern "sysv64" fn(*mut u8, u32, u64, u32, u64) -> u32,
    memory_copy: unsafe extern "sysv64" fn(*mut u8, u32, u64, u32, u64, u64) -> u32,
    memory_init: unsafe extern "sysv64" fn(*mut u8, u32, u32, u64, u32, u32) -> u32,
    data_drop: unsafe extern "sysv64" fn(*mut u8, u32),
    table_grow: unsafe extern "sysv64" fn(*mut u8, u32, u64, usize) -> u64,
    table_fill: unsafe extern "sysv64" fn(*mut u8, u32, u64, usize, u64) -> u32,
    table_copy: unsafe extern "sysv64" fn(*mut u8, u32, u32, u64, u64, u64) -> u32,
    table_init: unsafe extern "sysv64" fn(*mut u8, u32, u32, u64, u32, u32) -> u32,
    elem_drop: unsafe extern "sysv64" fn(*mut u8, u32),
    new_epoch: unsafe extern "sysv64" fn(*mut u8) -> u32,
    tier_up: unsafe extern "sysv64" fn(*mut u8, u32) -> u32,
    tier_up_osr: unsafe extern "sysv64" fn(*mut u8, u32, u32) -> u64,
}

const _: () = {
    use core::mem::offset_of;
    assert!(offset_of!(BuiltinTable, memory_grow) == Builtin::MemoryGrow.index() as usize * 8);
    assert!(offset_of!(BuiltinTable, memory_fill) == Builtin::MemoryFill.index() as usize * 8);
    assert!(offset_of!(BuiltinTable, memory_copy) == Builtin::MemoryCopy.index() as usize * 8);
    assert!(offset_of!(BuiltinTable, memory_init) == Builtin::MemoryInit.index() as usize * 8);
    assert!(offset_of!(BuiltinTable, data_drop) == Builtin::DataDrop.index() as usize * 8);
    assert!(offset_of!(BuiltinTable, table_grow) == Builtin::TableGrow.index() as usize * 8);
    assert!(offset_of!(BuiltinTable, table_fill) == Builtin::TableFill.index() as usize * 8);
    assert!(offset_of!(BuiltinTable, table_copy) == Builtin::TableCopy.index() as usize * 8);
    assert!(offset_of!(BuiltinTable, table_init) == Builtin::TableInit.index() as usize * 8);
    assert!(offset_of!(BuiltinTable, elem_drop) == Builtin::ElemDrop.index() as usize * 8);
    assert!(offset_of!(BuiltinTable, new_epoch) == Builtin::NewEpoch.index() as usize * 8);
    assert!(offset_of!(BuiltinTable, tier_up) == Builtin::TierUp.index() as usize * 8);
    assert!(offset_of!(BuiltinTable, tier_up_osr) == Builtin::TierUpOsr.index() as usize * 8);
    assert!(size_of::<BuiltinTable>() == Builtin::ALL.len() * 8);
};

pub(crate) const TABLE: BuiltinTable = BuiltinTable {
    memory_grow,
    memory_fill,
    memory_copy,
    memory_init,
    data_drop,
    table_grow,
    table_fill,
    table_copy,
    table_init,
    elem_drop,
    new_epoch,
    tier_up,
    tier_up_osr,
};

/// The store and the calling instance's index.
///
/// # Safety
///
/// `vmctx` is the VMContext of a live instance, whose store is suspended in
/// a call into wasm (so nothing else uses it).
unsafe fn context<'a>(vmctx: *mut u8) -> (&'a mut StoreOpaque, usize) {
    // SAFETY: the caller's contract; instantiation wrote the field.
    unsafe {
        let instance = *(vmctx.add(VMContext::STORE as usize) as *const *const InstanceData);
        let index = (*instance).index as usize;
        (&mut *(*instance).store, index)
    }
}

/// `start .. start + len` if it lies within `0 .. size`.
fn range(start: u64, len: u64, size: usize) -> Option<core::ops::Range<usize>> {
    let end = start.checked_add(len)?;
    (end <= size as u64).then_some(start as usize..end as usize)
}

/// Runs `grow` (which asks the embedder's resource limiter) and turns its
/// outcome into a growth builtin's result: the old size, -1 for a
/// refusal, or [`Builtin::GROW_TRAP`] for the limiter's error. A panic in
/// the limiter must not unwind through compiled code (it would abort the
/// process): it is parked in the store, the builtin traps, and the call
/// that entered wasm resumes the panic in the host, as for a host
/// function's panic (`func.rs`).
fn grow_outcome(
    store: &mut StoreOpaque,
    grow: impl FnOnce(&mut StoreOpaque) -> Result<u64, crate::store::GrowFailure>,
) -> u64 {
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| grow(store)));
    match outcome {
        Ok(Ok(old)) => old,
        Ok(Err(failure)) => failure.into_builtin_result(store),
        Err(panic) => {
            store.host_panic = Some(panic);
            Builtin::GROW_TRAP as i64 as u64
        }
    }
}

/// The engine's epoch reached the store's deadline: trap (0 → 1), or
/// run the store's callback, which moves the deadline (0: go on) or fails
/// (1, its error parked as the `Interrupt` trap's source). A panic in the
/// callback is parked and resumed in the host, as in [`grow_outcome`].
unsafe extern "sysv64" fn new_epoch(vmctx: *mut u8) -> u32 {
    // SAFETY: called by compiled code with its VMContext.
    let (store, i) = unsafe { context(vmctx) };
    let Some(mut callback) = store.epoch_callback.take() else {
        return 1;
    };
    let instance = crate::instance::Instance {
        store: store.id,
        index: i as u32,
    };
    let store_ptr: *mut StoreOpaque = store;
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        callback(store_ptr, instance)
    }));
    // SAFETY: the callback's borrow of the store has ended.
    let store = unsafe { &mut *store_ptr };
    // Keep the callback unless it installed another one.
    if store.epoch_callback.is_none() {
        store.epoch_callback = Some(callback);
    }
    match outcome {
        Ok(Ok(crate::store::UpdateDeadline::Continue(delta))) => {
            store.set_epoch_deadline(delta);
            0
        }
        Ok(Err(error)) => {
            store.host_error = Some(error);
            1
        }
        Err(panic) => {
            store.host_panic = Some(panic);
            1
        }
    }
}

/// Baseline code of a tiered module spent defined function `function`'s
/// budget: queue it for the optimizing tier (`tier.rs`); the activation's
/// loop budget. Never fails and never unwinds: `tier` catches the
/// compiler's panics.
unsafe extern "sysv64" fn tier_up(vmctx: *mut u8, function: u32) -> u32 {
    // SAFETY: called by compiled code with its VMContext.
    let (store, i) = unsafe { context(vmctx) };
    let module = store.instances[i].module.inner.clone();
    crate::tier::request(&module, function as usize)
}

/// A loop of a tiered module's baseline code spent its activation's
/// budget: the on-stack replacement entry at it, 0 (later) or 1 (never)
/// (`tier.rs`).
unsafe extern "sysv64" fn tier_up_osr(vmctx: *mut u8, function: u32, loop_offset: u32) -> u64 {
    // SAFETY: called by compiled code with its VMContext.
    let (store, i) = unsafe { context(vmctx) };
    let module = store.instances[i].module.inner.clone();
    crate::tier::request_osr(&module, function as usize, loop_offset) as u64
}

unsafe extern "sysv64" fn memory_grow(vmctx: *mut u8, memory: u32, delta: u64) -> u64 {
    // SAFETY: called by compiled code with its VMContext.
    let (store, i) = unsafe { context(vmctx) };
    let m = store.instances[i].memories[memory as usize] as usize;
    // -1 for a refusal, a trap for the limiter's error (limits.rs).
    grow_outcome(store, |store| store.grow_memory(m, delta))
}

unsafe extern "sysv64" fn memory_fill(
    vmctx: *mut u8,
    memory: u32,
    dst: u64,
    byte: u32,
    len: u64,
) -> u32 {
    // SAFETY: called by compiled code with its VMContext.
    let to = unsafe { memory_definition(vmctx, memory) };
    match range(dst, len, to.current_length as usize) {
        Some(r) => {
            // SAFETY: the range is inside the memory (checked).
            unsafe { core::ptr::write_bytes(to.base.add(r.start), byte as u8, r.len()) };
            0
        }
        None => 1,
    }
}

unsafe extern "sysv64" fn memory_copy(
    vmctx: *mut u8,
    dst_memory: u32,
    dst: u64,
    src_memory: u32,
    src: u64,
    len: u64,
) -> u32 {
    // SAFETY: called by compiled code with its VMContext.
    let (to, from) = unsafe {
        (
            memory_definition(vmctx, dst_memory),
            memory_definition(vmctx, src_memory),
        )
    };
    let (to_len, from_len) = (to.current_length as usize, from.current_length as usize);
    match (range(dst, len, to_len), range(src, len, from_len)) {
        (Some(t), Some(f)) => {
            // SAFETY: both ranges are inside their memories (checked); they
            // may overlap (one memory), which `copy` allows.
            unsafe { core::ptr::copy(from.base.add(f.start), to.base.add(t.start), t.len()) };
            0
        }
        _ => 1,
    }
}

/// The base and length of the calling instance's memory `index`, read
/// where compiled code reads them: from the VMContext for a defined memory,
/// through its pointer for an imported one. Three dependent loads, against
/// the seven of going through the store's tables, which matters to
/// `memory.copy` right after a large copy has pushed those tables out of
/// the L1 cache (sightglass `memmove`: 3.5 % of its run time).
///
/// # Safety
///
/// As for [`context`]; `index` is a memory of the instance.
unsafe fn memory_definition(vmctx: *mut u8, index: u32) -> VMMemoryDefinition {
    // SAFETY: the caller's contract; instantiation wrote the fields read.
    unsafe {
        let instance = &**(vmctx.add(VMContext::STORE as usize) as *const *const InstanceData);
        let imported = instance.offsets.counts().num_imported_memories;
        let definition = match index.checked_sub(imported) {
            Some(defined) => vmctx.add(instance.offsets.defined_memory(defined) as usize)
                as *const VMMemoryDefinition,
            None => {
                *(vmctx.add(instance.offsets.imported_memory(index) as usize)
                    as *const *const VMMemoryDefinition)
            }
        };
        *definition
    }
}

unsafe extern "sysv64" fn memory_init(
    vmctx: *mut u8,
    memory: u32,
    data: u32,
    dst: u64,
    src: u32,
    len: u32,
) -> u32 {
    // SAFETY: called by compiled code with its VMContext.
    let (store, i) = unsafe { context(vmctx) };
    let instance = &store.instances[i];
    let segment: &[u8] = if instance.data_dropped[data as usize] {
        &[]
    } else {
        &instance.module.inner.info.data[data as usize].bytes
    };
    let m = instance.memories[memory as usize] as usize;
    let bytes = store.memories[m].memory.data_mut();
    match (
        range(dst, u64::from(len), bytes.len()),
        range(u64::from(src), u64::from(len), segment.len()),
    ) {
        (Some(to), Some(from)) => {
            bytes[to].copy_from_slice(&segment[from]);
            0
        }
        _ => 1,
    }
}

unsafe extern "sysv64" fn data_drop(vmctx: *mut u8, data: u32) {
    // SAFETY: called by compiled code with its VMContext.
    let (store, i) = unsafe { context(vmctx) };
    store.instances[i].data_dropped[data as usize] = true;
}

unsafe extern "sysv64" fn table_grow(vmctx: *mut u8, table: u32, delta: u64, init: usize) -> u64 {
    // SAFETY: called by compiled code with its VMContext.
    let (store, i) = unsafe { context(vmctx) };
    let t = store.instances[i].tables[table as usize] as usize;
    // As in `memory_grow`.
    grow_outcome(store, |store| store.grow_table(t, delta, init))
}

unsafe extern "sysv64" fn table_fill(
    vmctx: *mut u8,
    table: u32,
    dst: u64,
    value: usize,
    len: u64,
) -> u32 {
    // SAFETY: called by compiled code with its VMContext.
    let (store, i) = unsafe { context(vmctx) };
    let t = store.instances[i].tables[table as usize] as usize;
    u32::from(store.tables[t].table.fill(dst, value, len).is_err())
}

unsafe extern "sysv64" fn table_copy(
    vmctx: *mut u8,
    dst_table: u32,
    src_table: u32,
    dst: u64,
    src: u64,
    len: u64,
) -> u32 {
    // SAFETY: called by compiled code with its VMContext.
    let (store, i) = unsafe { context(vmctx) };
    let instance = &store.instances[i];
    let (d, s) = (
        instance.tables[dst_table as usize] as usize,
        instance.tables[src_table as usize] as usize,
    );
    let result = if d == s {
        store.tables[d].table.copy_within(dst, src, len)
    } else {
        let (dst_t, src_t) = if d < s {
            let (low, high) = store.tables.split_at_mut(s);
            (&mut low[d], &high[0])
        } else {
            let (low, high) = store.tables.split_at_mut(d);
            (&mut high[0], &low[s])
        };
        crate::table::Table::copy(&mut dst_t.table, dst, &src_t.table, src, len)
    };
    u32::from(result.is_err())
}

unsafe extern "sysv64" fn table_init(
    vmctx: *mut u8,
    table: u32,
    elem: u32,
    dst: u64,
    src: u32,
    len: u32,
) -> u32 {
    // SAFETY: called by compiled code with its VMContext.
    let (store, i) = unsafe { context(vmctx) };
    let instance = &store.instances[i];
    let items = instance.elements[elem as usize].as_deref().unwrap_or(&[]);
    let Some(from) = range(u64::from(src), u64::from(len), items.len()) else {
        return 1;
    };
    let t = instance.tables[table as usize] as usize;
    u32::from(store.tables[t].table.init(dst, &items[from]).is_err())
}

unsafe extern "sysv64" fn elem_drop(vmctx: *mut u8, elem: u32) {
    // SAFETY: called by compiled code with its VMContext.
    let (store, i) = unsafe { context(vmctx) };
    store.instances[i].elements[elem as usize] = None;
}
