//! [`ModuleEnvironment`]: what the compilation of one function reads about
//! the module around it, the same for both tiers.
//!
//! ```text
//!   Module (metadata) ─┐
//!   VMOffsets ─────────┼──► ModuleEnvironment ──► memory(i)  → MemoryPlan
//!   Tunables ──────────┘    (read-only, shared     table(i)   → TablePlan
//!                            by every function      global(i)  → GlobalPlan
//!                            on every thread)       func_type, type_at,
//!                                                   func_ref_offset
//! ```
//!
//! A *plan* is everything compiled code needs to reach an entity of the
//! module at run time: where its definition record lies relative to the
//! VMContext ([`Location`]) and the facts about its type that change the
//! code (index width, page size, element and value types, whether it can
//! move or change). Both compilers ask for the same plans, so a change of
//! the VMContext layout or of what the runtime guarantees (a memory that
//! never moves) reaches both tiers from here; a tier ignores the fields it
//! does not use (the baseline tier reloads a memory's base at every access
//! and so never looks at [`MemoryPlan::never_moves`]).
//!
//! Indices are the module's index spaces as the validator checked them
//! (imports first): every `u32` index a compiler passes in comes from a
//! validated operator, so it is in range, and an out-of-range index is a
//! broken invariant (a panic), not an input error.

use crate::module::{FuncIndex, FuncType, Module, RefType, ValType};
use crate::tunables::Tunables;
use crate::vmoffsets::VMOffsets;

/// Where an entity's definition record is, relative to the VMContext.
#[derive(Copy, Clone, PartialEq, Eq, Debug)]
pub enum Location {
    /// Inline in the VMContext (the module defines the entity).
    Defined {
        /// Offset of the record in the VMContext.
        offset: u32,
    },
    /// Behind a pointer in the VMContext (the module imports the entity).
    /// The pointer never changes while the instance lives.
    Imported {
        /// Offset of the pointer in the VMContext.
        pointer: u32,
    },
}

/// What compiled code needs to know about a linear memory.
#[derive(Copy, Clone, PartialEq, Eq, Debug)]
pub struct MemoryPlan {
    /// Where its `VMMemoryDefinition` is.
    pub location: Location,
    /// Whether addresses are `i64` (memory64).
    pub memory64: bool,
    /// log2 of the page size (16 unless custom page sizes).
    pub page_size_log2: u8,
    /// Whether the memory sits in a reservation and never moves, so its
    /// base address is the same for the instance's lifetime
    /// ([`Tunables::is_reserved`]).
    pub never_moves: bool,
}

/// What compiled code needs to know about a table.
#[derive(Copy, Clone, PartialEq, Eq, Debug)]
pub struct TablePlan {
    /// Where its `VMTableDefinition` is.
    pub location: Location,
    /// Whether it is indexed with `i64` (table64).
    pub table64: bool,
    /// The type of its elements.
    pub element: RefType,
}

/// What `global.get` and `global.set` need to know about a global.
#[derive(Copy, Clone, PartialEq, Eq, Debug)]
pub struct GlobalPlan {
    /// Where its `VMGlobalDefinition` is.
    pub location: Location,
    /// Its value type.
    pub ty: ValType,
    /// Whether `global.set` may change it.
    pub mutable: bool,
}

/// The module-level facts function compilation reads: the module's
/// metadata (types, imports, memories, tables, globals, escaped
/// functions), its VMContext layout, and the tunables that decide where
/// guard pages replace bounds checks.
#[derive(Debug)]
pub struct ModuleEnvironment<'m> {
    module: &'m Module,
    offsets: VMOffsets,
    tunables: Tunables,
}

impl<'m> ModuleEnvironment<'m> {
    /// The environment of `module`'s functions, with memories reserved as
    /// `tunables` say.
    pub fn new(module: &'m Module, tunables: Tunables) -> Self {
        ModuleEnvironment {
            module,
            offsets: VMOffsets::new(module.vm_counts()),
            tunables,
        }
    }

    /// The module.
    #[inline]
    pub fn module(&self) -> &'m Module {
        self.module
    }

    /// The VMContext layout.
    #[inline]
    pub fn offsets(&self) -> &VMOffsets {
        &self.offsets
    }

    /// How memories are reserved (which bounds checks guard pages replace).
    #[inline]
    pub fn tunables(&self) -> &Tunables {
        &self.tunables
    }

    /// The type of function `func` (imports first, as in the index space).
    #[inline]
    pub fn func_type(&self, func: u32) -> &'m FuncType {
        self.module.func_type(FuncIndex::from_u32(func))
    }

    /// The function type at `type_index` (for block types and
    /// `call_indirect`).
    #[inline]
    pub fn type_at(&self, type_index: u32) -> &'m FuncType {
        &self.module.types[type_index as usize]
    }

    /// Where the definition of entity `index` of a kind (memories, tables
    /// or globals) with `num_imported` imports is: behind the pointer at
    /// `imported(offsets, index)` for an import, inline at
    /// `defined(offsets, index - num_imported)` for a definition.
    #[inline]
    fn location(
        &self,
        index: u32,
        num_imported: u32,
        imported: impl FnOnce(&VMOffsets, u32) -> u32,
        defined: impl FnOnce(&VMOffsets, u32) -> u32,
    ) -> Location {
        match index.checked_sub(num_imported) {
            Some(d) => Location::Defined {
                offset: defined(&self.offsets, d),
            },
            None => Location::Imported {
                pointer: imported(&self.offsets, index),
            },
        }
    }

    /// Linear memory `index`.
    #[inline]
    pub fn memory(&self, index: u32) -> MemoryPlan {
        let ty = &self.module.memories[index as usize];
        let (imported, defined) = (VMOffsets::imported_memory, VMOffsets::defined_memory);
        MemoryPlan {
            location: self.location(index, self.module.num_imported_memories, imported, defined),
            memory64: ty.memory64,
            page_size_log2: ty.page_size_log2,
            never_moves: self.tunables.is_reserved(ty.memory64),
        }
    }

    /// Table `index`.
    #[inline]
    pub fn table(&self, index: u32) -> TablePlan {
        let ty = &self.module.tables[index as usize];
        let (imported, defined) = (VMOffsets::imported_table, VMOffsets::defined_table);
        TablePlan {
            location: self.location(index, self.module.num_imported_tables, imported, defined),
            table64: ty.table64,
            element: ty.element,
        }
    }

    /// Global `index`.
    #[inline]
    pub fn global(&self, index: u32) -> GlobalPlan {
        let ty = self.module.globals[index as usize];
        let (imported, defined) = (VMOffsets::imported_global, VMOffsets::defined_global);
        GlobalPlan {
            location: self.location(index, self.module.num_imported_globals, imported, defined),
            ty: ty.ty,
            mutable: ty.mutable,
        }
    }

    /// The VMContext offset of function `func`'s `VMFuncRef`, if its
    /// reference escapes (the validator lets `ref.func` name only such
    /// functions).
    #[inline]
    pub fn func_ref_offset(&self, func: u32) -> Option<u32> {
        let index = self.module.func_ref_index(FuncIndex::from_u32(func))?;
        Some(self.offsets.func_ref(index.as_u32()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::module::translate;

    /// The plans of a module with one imported and one defined entity of
    /// each kind point where an independently built [`VMOffsets`] says,
    /// behind a pointer for the import and inline for the definition.
    #[test]
    fn plans_locate_imports_behind_pointers_and_definitions_inline() {
        let wasm = wat::parse_str(
            r#"(module
                 (import "m" "mem" (memory 1))
                 (import "m" "tab" (table 1 funcref))
                 (import "m" "g" (global i32))
                 (memory i64 1)
                 (table 2 externref)
                 (global (mut f64) (f64.const 0))
                 (func $f (export "f")))"#,
        )
        .unwrap();
        let module = translate(&wasm, wasmparser::WasmFeatures::default())
            .unwrap()
            .module;
        let tunables = Tunables::default();
        let env = ModuleEnvironment::new(&module, tunables);
        let offsets = VMOffsets::new(module.vm_counts());

        let imported = env.memory(0);
        assert_eq!(
            imported.location,
            Location::Imported {
                pointer: offsets.imported_memory(0)
            }
        );
        assert!(!imported.memory64);
        assert_eq!(imported.never_moves, tunables.is_reserved(false));
        let defined = env.memory(1);
        assert_eq!(
            defined.location,
            Location::Defined {
                offset: offsets.defined_memory(0)
            }
        );
        assert!(defined.memory64);
        assert_eq!(defined.never_moves, tunables.is_reserved(true));
        assert_eq!(defined.page_size_log2, 16);

        assert_eq!(
            env.table(0),
            TablePlan {
                location: Location::Imported {
                    pointer: offsets.imported_table(0)
                },
                table64: false,
                element: RefType::FuncRef,
            }
        );
        assert_eq!(
            env.table(1),
            TablePlan {
                location: Location::Defined {
                    offset: offsets.defined_table(0)
                },
                table64: false,
                element: RefType::ExternRef,
            }
        );

        assert_eq!(
            env.global(0),
            GlobalPlan {
                location: Location::Imported {
                    pointer: offsets.imported_global(0)
                },
                ty: ValType::I32,
                mutable: false,
            }
        );
        assert_eq!(
            env.global(1),
            GlobalPlan {
                location: Location::Defined {
                    offset: offsets.defined_global(0)
                },
                ty: ValType::F64,
                mutable: true,
            }
        );

        // `$f` is exported, so its reference escapes: it has a VMFuncRef.
        assert_eq!(env.func_ref_offset(0), Some(offsets.func_ref(0)));
        assert!(env.func_type(0).params.is_empty());
    }
}
