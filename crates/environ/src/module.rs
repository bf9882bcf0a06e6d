//! A WebAssembly module's metadata: everything about a module except the
//! code of its functions, as both compilers and the runtime read it.
//!
//! ```text
//!   wasm bytes ──► translate() ──► ModuleTranslation<'data>
//!                  (wasmparser       ├─ module: Module            owned; the runtime keeps it
//!                   Parser +         └─ function_bodies[i]:       borrowed from the bytes; each
//!                   Validator,            FunctionBodyData         compiled (in parallel) by a
//!                   one pass)             { body, validator }      tier that validates the body
//!                                                                  as it compiles it
//! ```
//!
//! [`translate`] parses the module once with wasmparser's [`Parser`]
//! and validates each payload with a [`Validator`] configured with the
//! caller's [`WasmFeatures`] *before* reading it, so everything this module
//! records comes from valid sections: indices are in range, types match,
//! constant expressions are well typed. Function bodies are the exception:
//! they are not validated here. Each is handed out with its
//! [`FuncToValidate`], which a compiler turns into a `FuncValidator` and
//! drives operator by operator while it compiles, so a body is read once.
//!
//! What [`Module`] holds, and the rules it keeps:
//!
//! * **Index spaces follow the spec.** `functions`, `tables`, `memories` and
//!   `globals` list the imported entities first, in import order, then the
//!   defined ones; `num_imported_*` says where definitions start. Typed
//!   indices ([`FuncIndex`] versus [`DefinedFuncIndex`], …) keep the two
//!   numberings apart, and [`Module`]'s methods convert between them.
//! * **Types are duet's own** ([`ValType`], [`FuncType`], …): only what the
//!   compilers handle. Anything else a feature set lets through (GC types,
//!   typed function references, tags, shared globals, components) is a
//!   [`TranslationError::Unsupported`] naming the proposal, never a panic.
//! * **Escaped functions.** A function whose reference can leave the code
//!   (exported, placed in an element segment, named by `ref.func` in a
//!   constant expression) needs a `VMFuncRef` in the instance's VMContext.
//!   Every function a body's `ref.func` may name is one of these (the
//!   validator requires it to be *declared* by one of those means), so the
//!   set is known before any body is compiled. Each escaped function gets a
//!   [`FuncRefIndex`], numbered in the order the binary first references
//!   it.
//! * **Constant expressions are kept, not evaluated** ([`ConstExpr`]): they
//!   may read imported globals, so only the runtime can evaluate them.
//!
//! Input can never make translation panic: every malformed, invalid or
//! unsupported module is an error carrying the byte offset.

mod const_expr;
mod index;
mod translate;
mod types;

pub use const_expr::{ConstEvalContext, ConstEvalError, ConstExpr, ConstOp, Value};
pub use index::{
    DataIndex, DefinedFuncIndex, DefinedGlobalIndex, DefinedMemoryIndex, DefinedTableIndex,
    ElemIndex, EntityIndex, FuncIndex, FuncRefIndex, GlobalIndex, MemoryIndex, TableIndex,
    TypeIndex,
};
pub use translate::{FunctionBodyData, ModuleTranslation, TranslationError, translate};
pub use types::{
    DataKind, DataSegment, ElementItems, ElementKind, ElementSegment, FuncType, GlobalType, Import,
    MemoryType, RefType, TableType, ValType,
};

use crate::vmoffsets::VMCounts;
#[cfg(doc)]
use wasmparser::{FuncToValidate, Parser, Validator, WasmFeatures};

/// A module's metadata (see the [module documentation](self)).
///
/// The plain lists are public fields. Exports, escaped functions and
/// function names are private behind methods because each keeps a lookup
/// table beside it that must stay in step.
#[derive(Clone, Debug, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Module {
    /// The type section, indexed by [`TypeIndex`].
    pub types: Vec<FuncType>,
    /// The type of every function, indexed by [`FuncIndex`]: imports first.
    pub functions: Vec<TypeIndex>,
    /// How many of `functions` are imported.
    pub num_imported_functions: u32,
    /// Every table, indexed by [`TableIndex`]: imports first.
    pub tables: Vec<TableType>,
    /// How many of `tables` are imported.
    pub num_imported_tables: u32,
    /// Every memory, indexed by [`MemoryIndex`]: imports first.
    pub memories: Vec<MemoryType>,
    /// How many of `memories` are imported.
    pub num_imported_memories: u32,
    /// Every global, indexed by [`GlobalIndex`]: imports first.
    pub globals: Vec<GlobalType>,
    /// How many of `globals` are imported.
    pub num_imported_globals: u32,
    /// The initializer of every defined global, indexed by
    /// [`DefinedGlobalIndex`].
    pub global_initializers: Vec<ConstExpr>,
    /// The imports, in order.
    pub imports: Vec<Import>,
    /// The start function.
    pub start: Option<FuncIndex>,
    /// The element segments, indexed by [`ElemIndex`].
    pub elements: Vec<ElementSegment>,
    /// The data segments, indexed by [`DataIndex`].
    pub data: Vec<DataSegment>,
    /// The data count section's count, if the module has one (required
    /// for `memory.init` and `data.drop`).
    pub data_count: Option<u32>,
    /// The module's name from the `name` section, if it has one.
    pub name: Option<String>,

    /// The exports, in order.
    exports: Vec<(String, EntityIndex)>,
    /// Indices into `exports`, sorted by name (names are unique).
    exports_by_name: Vec<u32>,
    /// The escaped functions, indexed by [`FuncRefIndex`].
    escaped_functions: Vec<FuncIndex>,
    /// For each [`FuncIndex`], its [`FuncRefIndex`] or [`NO_FUNC_REF`]; may
    /// be shorter than `functions` (missing entries are `NO_FUNC_REF`).
    func_ref_indices: Vec<u32>,
    /// Function names from the `name` section, sorted by index, unique.
    function_names: Vec<(FuncIndex, String)>,
}

/// `func_ref_indices`' mark for a function that does not escape.
const NO_FUNC_REF: u32 = u32::MAX;

/// Converts between the full and the defined numbering of one index space.
macro_rules! index_space_conversions {
    ($($kind:literal: $defined:ident / $full:ident, $num_imported:ident, $to_defined:ident, $to_full:ident, $is_imported:ident;)*) => {$(
        #[doc = concat!("The defined-", $kind, " index of `index`, or `None` if it is imported.")]
        pub fn $to_defined(&self, index: $full) -> Option<$defined> {
            index.as_u32().checked_sub(self.$num_imported).map($defined::from_u32)
        }

        #[doc = concat!("The ", $kind, " index of defined ", $kind, " `index`.")]
        pub fn $to_full(&self, index: $defined) -> $full {
            $full::from_u32(self.$num_imported + index.as_u32())
        }

        #[doc = concat!("Whether ", $kind, " `index` is imported.")]
        pub fn $is_imported(&self, index: $full) -> bool {
            index.as_u32() < self.$num_imported
        }
    )*};
}

impl Module {
    index_space_conversions! {
        "function": DefinedFuncIndex / FuncIndex, num_imported_functions,
            defined_func_index, func_index, is_imported_function;
        "table": DefinedTableIndex / TableIndex, num_imported_tables,
            defined_table_index, table_index, is_imported_table;
        "memory": DefinedMemoryIndex / MemoryIndex, num_imported_memories,
            defined_memory_index, memory_index, is_imported_memory;
        "global": DefinedGlobalIndex / GlobalIndex, num_imported_globals,
            defined_global_index, global_index, is_imported_global;
    }

    /// How many functions the module defines (and the code section holds).
    pub fn num_defined_functions(&self) -> u32 {
        self.functions.len() as u32 - self.num_imported_functions
    }

    /// How many tables the module defines.
    pub fn num_defined_tables(&self) -> u32 {
        self.tables.len() as u32 - self.num_imported_tables
    }

    /// How many memories the module defines.
    pub fn num_defined_memories(&self) -> u32 {
        self.memories.len() as u32 - self.num_imported_memories
    }

    /// How many globals the module defines.
    pub fn num_defined_globals(&self) -> u32 {
        self.globals.len() as u32 - self.num_imported_globals
    }

    /// The signature of function `func`. Panics if `func` is out of range
    /// (indices come from this module, so it is a caller's bug).
    #[inline]
    pub fn func_type(&self, func: FuncIndex) -> &FuncType {
        &self.types[self.functions[func.index()].index()]
    }

    /// The initializer of defined global `global`.
    pub fn global_initializer(&self, global: DefinedGlobalIndex) -> &ConstExpr {
        &self.global_initializers[global.index()]
    }

    /// The exports, in the order of the export section.
    pub fn exports(&self) -> &[(String, EntityIndex)] {
        &self.exports
    }

    /// The entity exported as `name`.
    pub fn export(&self, name: &str) -> Option<EntityIndex> {
        let position = self
            .exports_by_name
            .binary_search_by(|&i| self.exports[i as usize].0.as_str().cmp(name))
            .ok()?;
        Some(self.exports[self.exports_by_name[position] as usize].1)
    }

    /// The escaped functions (see the [module documentation](self)),
    /// indexed by [`FuncRefIndex`].
    pub fn escaped_functions(&self) -> &[FuncIndex] {
        &self.escaped_functions
    }

    /// The `VMFuncRef` slot of function `func`, or `None` if its reference
    /// never escapes (it is only called directly).
    pub fn func_ref_index(&self, func: FuncIndex) -> Option<FuncRefIndex> {
        match self.func_ref_indices.get(func.index()) {
            Some(&index) if index != NO_FUNC_REF => Some(FuncRefIndex::from_u32(index)),
            _ => None,
        }
    }

    /// The name of function `func` in the `name` section, if any.
    pub fn function_name(&self, func: FuncIndex) -> Option<&str> {
        let position = self
            .function_names
            .binary_search_by_key(&func, |(index, _)| *index)
            .ok()?;
        Some(&self.function_names[position].1)
    }

    /// All function names of the `name` section, sorted by index.
    pub fn function_names(&self) -> &[(FuncIndex, String)] {
        &self.function_names
    }

    /// The entity counts the VMContext layout is computed from.
    pub fn vm_counts(&self) -> VMCounts {
        VMCounts {
            num_types: self.types.len() as u32,
            num_imported_functions: self.num_imported_functions,
            num_imported_tables: self.num_imported_tables,
            num_imported_memories: self.num_imported_memories,
            num_imported_globals: self.num_imported_globals,
            num_defined_tables: self.num_defined_tables(),
            num_defined_memories: self.num_defined_memories(),
            num_defined_globals: self.num_defined_globals(),
            num_func_refs: self.escaped_functions.len() as u32,
        }
    }

    /// Gives `func` a [`FuncRefIndex`] unless it has one.
    fn escape_function(&mut self, func: FuncIndex) {
        let slot = func.index();
        if slot >= self.func_ref_indices.len() {
            self.func_ref_indices.resize(slot + 1, NO_FUNC_REF);
        }
        if self.func_ref_indices[slot] == NO_FUNC_REF {
            self.func_ref_indices[slot] = self.escaped_functions.len() as u32;
            self.escaped_functions.push(func);
        }
    }
}
