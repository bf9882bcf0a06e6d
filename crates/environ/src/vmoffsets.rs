//! The VMContext: the per-instance block of memory compiled code reaches
//! through its `vmctx` argument, and its layout, computed per module.
//!
//! ```text
//!  vmctx ──► ┌──────────────────────────────────────────┐ 0
//!            │ header (fixed offsets, VMContext::*)      │
//!            │   magic, stack_limit, store context      │
//!            │   pointer (fuel), epoch deadline, epoch  │
//!            │   counter pointer, builtins pointer,     │
//!            │   store pointer, last wasm exit fp/pc,   │
//!            │   entry fp                               │
//!            ├──────────────────────────────────────────┤ type_ids
//!            │ u32 × types: engine-wide signature id of │
//!            │ each module type (call_indirect checks)  │
//!            ├──────────────────────────────────────────┤ imported_functions
//!            │ VMFunctionImport × imported functions    │
//!            │   { wasm_call, vmctx }                   │
//!            ├──────────────────────────────────────────┤ imported_tables
//!            │ *mut VMTableDefinition × imported tables │
//!            ├──────────────────────────────────────────┤ imported_memories
//!            │ *mut VMMemoryDefinition × imported mems  │
//!            ├──────────────────────────────────────────┤ imported_globals
//!            │ *mut VMGlobalDefinition × imported globs │
//!            ├──────────────────────────────────────────┤ defined_tables
//!            │ VMTableDefinition × defined tables       │
//!            │   { base, current_elements }             │
//!            ├──────────────────────────────────────────┤ defined_memories
//!            │ VMMemoryDefinition × defined memories    │
//!            │   { base, current_length }               │
//!            ├──────────────────────────────────────────┤ defined_globals (16-aligned)
//!            │ VMGlobalDefinition × defined globals     │
//!            │   16 bytes: i32/i64/f32/f64/v128/ref     │
//!            ├──────────────────────────────────────────┤ func_refs
//!            │ VMFuncRef × escaped functions            │
//!            │   { wasm_call, vmctx, type_id }          │
//!            └──────────────────────────────────────────┘ size
//! ```
//!
//! Imported entities are reached through a pointer to their definition
//! (inside the exporting instance's VMContext, or a host-owned definition),
//! so that growing a memory or table, or setting a global, is seen by every
//! instance that shares it. Defined entities live inline.
//!
//! A function reference (`funcref` value, table element) is a pointer to a
//! [`VMFuncRef`] (null for `ref.null func`); `call_indirect` loads it,
//! checks it is not null, compares its `type_id` with the expected type's id
//! from `type_ids`, and calls `wasm_call` with its `vmctx`. An `externref` is
//! a pointer-sized host handle (null for `ref.null extern`).
//!
//! All offsets are in bytes from `vmctx`, and fit in `u32` (the validator's
//! limits on counts bound the size).

/// Offsets and sizes of the fixed header and of the records the VMContext
/// holds. These mirror `#[repr(C)]` structs the runtime defines; its tests
/// check each against `offset_of!`.
pub struct VMContext;

impl VMContext {
    /// `u32` magic number ("duet" little-endian), for sanity checks.
    pub const MAGIC: u32 = 0;
    /// The value of the magic number.
    pub const MAGIC_VALUE: u32 = u32::from_le_bytes(*b"duet");
    /// `usize`: the lowest `rsp` a wasm function may use; every prologue
    /// compares its new stack pointer with it and traps with
    /// `StackOverflow` below it.
    pub const STACK_LIMIT: u32 = 8;
    /// `*mut VMStoreContext`: the state the store's instances share
    /// while wasm runs (the fuel counter), one per store.
    pub const STORE_CONTEXT: u32 = 16;
    /// `u64`: the epoch at which running code must stop and ask the store
    /// what to do (`metering`). The store's deadline, copied into each of
    /// its instances (as the stack limit is) so that the check is one
    /// compare against the VMContext.
    pub const EPOCH_DEADLINE: u32 = 24;
    /// `*const u64`: the engine's epoch counter, which
    /// `Engine::increment_epoch` advances from any thread.
    pub const EPOCH_COUNTER: u32 = 32;
    /// `*const usize`: the table of builtin function addresses, indexed by
    /// [`Builtin::index`](crate::builtins::Builtin::index).
    pub const BUILTINS: u32 = 40;
    /// `*const ()`: the runtime's record of the instance, through which
    /// builtins reach its store.
    pub const STORE: u32 = 48;
    /// `usize`: frame pointer of the last wasm frame that called the host
    /// (for backtraces from host functions and builtins).
    pub const LAST_WASM_EXIT_FP: u32 = 56;
    /// `usize`: return address into wasm of that call.
    pub const LAST_WASM_EXIT_PC: u32 = 64;
    /// `usize`: frame pointer of the host frame that entered wasm.
    pub const LAST_WASM_ENTRY_FP: u32 = 72;
    /// The header's size; the per-module arrays start here.
    pub const HEADER_SIZE: u32 = 80;
}

/// What the instances of one store share while wasm runs, reached through
/// [`VMContext::STORE_CONTEXT`]. Compiled code writes it, so it cannot be
/// copied into each instance as the read-only header fields are: fuel
/// consumed in one instance must be seen by the next it calls.
pub struct VMStoreContext;

impl VMStoreContext {
    /// `i64`: fuel consumed so far, minus the fuel the store was given:
    /// negative while fuel is left; code that finds it `>= 0` at a check
    /// traps with `OutOfFuel` (`metering`).
    pub const FUEL_CONSUMED: u32 = 0;
    /// Size in bytes.
    pub const SIZE: u32 = 8;
}

/// An imported function: its code and the VMContext to call it with.
pub struct VMFunctionImport;

impl VMFunctionImport {
    /// `*const u8`: the entry point, with the wasm calling convention.
    pub const WASM_CALL: u32 = 0;
    /// `*mut VMContext`: the callee's VMContext.
    pub const VMCTX: u32 = 8;
    /// Size in bytes.
    pub const SIZE: u32 = 16;
}

/// A table: its elements (pointer-sized: `*const VMFuncRef` or an
/// `externref` handle; 0 is null) and their number.
pub struct VMTableDefinition;

impl VMTableDefinition {
    /// `*mut usize`: the first element.
    pub const BASE: u32 = 0;
    /// `u64`: the number of elements.
    pub const CURRENT_ELEMENTS: u32 = 8;
    /// Size in bytes.
    pub const SIZE: u32 = 16;
}

/// A linear memory: its base address and current length in bytes.
pub struct VMMemoryDefinition;

impl VMMemoryDefinition {
    /// `*mut u8`: the first byte.
    pub const BASE: u32 = 0;
    /// `u64`: the accessible length in bytes.
    pub const CURRENT_LENGTH: u32 = 8;
    /// Size in bytes.
    pub const SIZE: u32 = 16;
}

/// A global's value, in 16 bytes (enough for `v128`), 16-aligned; scalars
/// sit at offset 0 in their natural width, references as a pointer.
pub struct VMGlobalDefinition;

impl VMGlobalDefinition {
    /// Size in bytes.
    pub const SIZE: u32 = 16;
}

/// What a function reference points to.
pub struct VMFuncRef;

impl VMFuncRef {
    /// `*const u8`: the entry point, with the wasm calling convention.
    pub const WASM_CALL: u32 = 0;
    /// `*mut VMContext`: the VMContext to call it with.
    pub const VMCTX: u32 = 8;
    /// `u32`: the engine-wide id of the function's type.
    pub const TYPE_ID: u32 = 16;
    /// Size in bytes.
    pub const SIZE: u32 = 24;
}

/// The counts a module's VMContext layout depends on.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub struct VMCounts {
    /// Function types.
    pub num_types: u32,
    /// Imported functions.
    pub num_imported_functions: u32,
    /// Imported tables.
    pub num_imported_tables: u32,
    /// Imported memories.
    pub num_imported_memories: u32,
    /// Imported globals.
    pub num_imported_globals: u32,
    /// Tables the module defines.
    pub num_defined_tables: u32,
    /// Memories the module defines.
    pub num_defined_memories: u32,
    /// Globals the module defines.
    pub num_defined_globals: u32,
    /// Functions that can be referenced (`ref.func`, tables, exports).
    pub num_func_refs: u32,
}

/// The VMContext layout of one module.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct VMOffsets {
    counts: VMCounts,
    type_ids: u32,
    imported_functions: u32,
    imported_tables: u32,
    imported_memories: u32,
    imported_globals: u32,
    defined_tables: u32,
    defined_memories: u32,
    defined_globals: u32,
    func_refs: u32,
    size: u32,
}

impl VMOffsets {
    /// The layout for a module with `counts`.
    ///
    /// # Panics
    ///
    /// If the layout does not fit in 4 GiB, which the validator's limits on
    /// counts rule out for any module that validated.
    pub fn new(counts: VMCounts) -> VMOffsets {
        let mut at = u64::from(VMContext::HEADER_SIZE);
        let mut array = |count: u32, size: u32, align: u64| {
            at = at.next_multiple_of(align);
            let start = at;
            at += u64::from(count) * u64::from(size);
            u32::try_from(start).expect("a VMContext larger than 4 GiB")
        };
        let type_ids = array(counts.num_types, 4, 4);
        let imported_functions = array(counts.num_imported_functions, VMFunctionImport::SIZE, 8);
        let imported_tables = array(counts.num_imported_tables, 8, 8);
        let imported_memories = array(counts.num_imported_memories, 8, 8);
        let imported_globals = array(counts.num_imported_globals, 8, 8);
        let defined_tables = array(counts.num_defined_tables, VMTableDefinition::SIZE, 8);
        let defined_memories = array(counts.num_defined_memories, VMMemoryDefinition::SIZE, 8);
        let defined_globals = array(counts.num_defined_globals, VMGlobalDefinition::SIZE, 16);
        let func_refs = array(counts.num_func_refs, VMFuncRef::SIZE, 8);
        let size = array(0, 0, 16);
        VMOffsets {
            counts,
            type_ids,
            imported_functions,
            imported_tables,
            imported_memories,
            imported_globals,
            defined_tables,
            defined_memories,
            defined_globals,
            func_refs,
            size,
        }
    }

    /// The counts the layout was made for.
    #[inline]
    pub fn counts(&self) -> &VMCounts {
        &self.counts
    }

    /// The VMContext's size in bytes (a multiple of 16; the VMContext is
    /// 16-aligned).
    pub fn size(&self) -> u32 {
        self.size
    }

    // Inlined across crates: the runtime's bulk-memory builtins look
    // memories up on every call.
    #[inline]
    fn element(base: u32, index: u32, count: u32, size: u32, what: &str) -> u32 {
        assert!(
            index < count,
            "{what} {index} out of range ({count} in the module)"
        );
        base + index * size
    }

    /// The `u32` signature id of module type `type_index`.
    pub fn type_id(&self, type_index: u32) -> u32 {
        Self::element(self.type_ids, type_index, self.counts.num_types, 4, "type")
    }

    /// The [`VMFunctionImport`] of imported function `index`.
    pub fn imported_function(&self, index: u32) -> u32 {
        let count = self.counts.num_imported_functions;
        Self::element(
            self.imported_functions,
            index,
            count,
            VMFunctionImport::SIZE,
            "imported function",
        )
    }

    /// The pointer to imported table `index`'s [`VMTableDefinition`].
    pub fn imported_table(&self, index: u32) -> u32 {
        Self::element(
            self.imported_tables,
            index,
            self.counts.num_imported_tables,
            8,
            "imported table",
        )
    }

    /// The pointer to imported memory `index`'s [`VMMemoryDefinition`].
    #[inline]
    pub fn imported_memory(&self, index: u32) -> u32 {
        Self::element(
            self.imported_memories,
            index,
            self.counts.num_imported_memories,
            8,
            "imported memory",
        )
    }

    /// The pointer to imported global `index`'s [`VMGlobalDefinition`].
    pub fn imported_global(&self, index: u32) -> u32 {
        Self::element(
            self.imported_globals,
            index,
            self.counts.num_imported_globals,
            8,
            "imported global",
        )
    }

    /// The [`VMTableDefinition`] of defined table `index`.
    pub fn defined_table(&self, index: u32) -> u32 {
        let count = self.counts.num_defined_tables;
        Self::element(
            self.defined_tables,
            index,
            count,
            VMTableDefinition::SIZE,
            "defined table",
        )
    }

    /// The [`VMMemoryDefinition`] of defined memory `index`.
    #[inline]
    pub fn defined_memory(&self, index: u32) -> u32 {
        let count = self.counts.num_defined_memories;
        Self::element(
            self.defined_memories,
            index,
            count,
            VMMemoryDefinition::SIZE,
            "defined memory",
        )
    }

    /// The [`VMGlobalDefinition`] of defined global `index`.
    pub fn defined_global(&self, index: u32) -> u32 {
        let count = self.counts.num_defined_globals;
        Self::element(
            self.defined_globals,
            index,
            count,
            VMGlobalDefinition::SIZE,
            "defined global",
        )
    }

    /// The [`VMFuncRef`] of function reference `index`.
    pub fn func_ref(&self, index: u32) -> u32 {
        Self::element(
            self.func_refs,
            index,
            self.counts.num_func_refs,
            VMFuncRef::SIZE,
            "function reference",
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn counts() -> VMCounts {
        VMCounts {
            num_types: 3,
            num_imported_functions: 2,
            num_imported_tables: 1,
            num_imported_memories: 1,
            num_imported_globals: 2,
            num_defined_tables: 2,
            num_defined_memories: 1,
            num_defined_globals: 3,
            num_func_refs: 4,
        }
    }

    #[test]
    fn regions_follow_each_other_without_overlap_and_aligned() {
        let o = VMOffsets::new(counts());
        let regions = [
            (o.type_id(0), 3 * 4, 4),
            (o.imported_function(0), 2 * VMFunctionImport::SIZE, 8),
            (o.imported_table(0), 8, 8),
            (o.imported_memory(0), 8, 8),
            (o.imported_global(0), 2 * 8, 8),
            (o.defined_table(0), 2 * VMTableDefinition::SIZE, 8),
            (o.defined_memory(0), VMMemoryDefinition::SIZE, 8),
            (o.defined_global(0), 3 * VMGlobalDefinition::SIZE, 16),
            (o.func_ref(0), 4 * VMFuncRef::SIZE, 8),
        ];
        let mut end = VMContext::HEADER_SIZE;
        for (start, len, align) in regions {
            assert!(
                start >= end,
                "region at {start} overlaps the one ending at {end}"
            );
            assert_eq!(start % align, 0, "region at {start} is not {align}-aligned");
            end = start + len;
        }
        assert!(o.size() >= end && o.size().is_multiple_of(16));
        assert_eq!(o.defined_global(2), o.defined_global(0) + 32);
        assert_eq!(o.func_ref(3), o.func_ref(0) + 3 * VMFuncRef::SIZE);
    }

    #[test]
    fn an_empty_module_has_just_the_header() {
        let o = VMOffsets::new(VMCounts::default());
        assert_eq!(o.size(), VMContext::HEADER_SIZE);
    }

    #[test]
    #[should_panic(expected = "defined memory 1 out of range")]
    fn indices_past_the_counts_are_refused() {
        VMOffsets::new(counts()).defined_memory(1);
    }

    #[test]
    fn the_header_fields_do_not_overlap() {
        let fields = [
            (VMContext::MAGIC, 4),
            (VMContext::STACK_LIMIT, 8),
            (VMContext::STORE_CONTEXT, 8),
            (VMContext::EPOCH_DEADLINE, 8),
            (VMContext::EPOCH_COUNTER, 8),
            (VMContext::BUILTINS, 8),
            (VMContext::STORE, 8),
            (VMContext::LAST_WASM_EXIT_FP, 8),
            (VMContext::LAST_WASM_EXIT_PC, 8),
            (VMContext::LAST_WASM_ENTRY_FP, 8),
        ];
        for pair in fields.windows(2) {
            assert!(pair[0].0 + pair[0].1 <= pair[1].0);
            assert_eq!(pair[1].0 % 8, 0);
        }
        let (last, len) = fields[fields.len() - 1];
        assert_eq!(last + len, VMContext::HEADER_SIZE);
    }
}
