//! What the compiler needs to know about the module around a function.

use duet_environ::tunables::Tunables;
use duet_environ::vmoffsets::VMOffsets;
use wasmparser::{FuncType, ValType};

/// Where an entity's definition record is, relative to the VMContext.
#[derive(Copy, Clone, PartialEq, Eq, Debug)]
pub enum Location {
    /// Inline, at this offset (the module defines it).
    Defined {
        /// Offset of the record in the VMContext.
        offset: u32,
    },
    /// Behind a pointer at this offset (the module imports it).
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
    /// Whether addresses are `i64`.
    pub memory64: bool,
    /// log2 of the page size (16 unless custom page sizes).
    pub page_size_log2: u8,
}

/// What compiled code needs to know about a table.
#[derive(Copy, Clone, PartialEq, Eq, Debug)]
pub struct TablePlan {
    /// Where its `VMTableDefinition` is.
    pub location: Location,
    /// Whether it is indexed with `i64` (table64).
    pub table64: bool,
    /// The type of its elements.
    pub element: ValType,
}

/// What compiled code needs to know about a global.
#[derive(Copy, Clone, PartialEq, Eq, Debug)]
pub struct GlobalPlan {
    /// Where its `VMGlobalDefinition` is.
    pub location: Location,
    /// Its value type.
    pub ty: ValType,
}

/// The module-level facts a function's compilation reads: the types of the
/// functions it calls and of its blocks, and the VMContext layout. The
/// runtime implements it over `duet-environ`'s module metadata; tests
/// implement it directly.
pub trait FuncEnv {
    /// The type of function `func_index` (imported functions first, as in
    /// the module's function index space).
    fn func_type(&self, func_index: u32) -> &FuncType;

    /// The function type at `type_index` (for block types).
    fn type_at(&self, type_index: u32) -> &FuncType;

    /// How many functions the module imports (they come first in the index
    /// space).
    fn num_imported_functions(&self) -> u32;

    /// The VMContext layout.
    fn vmoffsets(&self) -> &VMOffsets;

    /// Linear memory `index`.
    fn memory(&self, index: u32) -> MemoryPlan;

    /// Global `index`.
    fn global(&self, index: u32) -> GlobalPlan;

    /// Table `index`.
    fn table(&self, index: u32) -> TablePlan;

    /// The VMContext offset of function `func_index`'s `VMFuncRef` (the
    /// function is one a reference can be taken of: `ref.func` validated).
    fn func_ref(&self, func_index: u32) -> u32;

    /// How memories are reserved (which bounds checks guard pages replace).
    fn tunables(&self) -> &Tunables;
}

/// [`FuncEnv`] over a translated module (`duet-environ`'s metadata): what
/// the runtime compiles with.
pub struct ModuleEnv<'m> {
    module: &'m duet_environ::module::Module,
    types: Vec<FuncType>,
    offsets: VMOffsets,
    tunables: Tunables,
}

/// A value type as wasmparser (and so the validator and this compiler)
/// names it.
fn wasmparser_type(ty: duet_environ::module::ValType) -> wasmparser::ValType {
    ty.into()
}

impl<'m> ModuleEnv<'m> {
    /// The environment of `module`'s functions, with memories reserved
    /// according to `tunables`.
    pub fn new(module: &'m duet_environ::module::Module, tunables: Tunables) -> Self {
        let types = module.types.iter().map(FuncType::from).collect();
        ModuleEnv {
            module,
            types,
            offsets: VMOffsets::new(module.vm_counts()),
            tunables,
        }
    }
}

impl FuncEnv for ModuleEnv<'_> {
    fn func_type(&self, func_index: u32) -> &FuncType {
        let type_index = self.module.functions[func_index as usize];
        &self.types[type_index.index()]
    }

    fn type_at(&self, type_index: u32) -> &FuncType {
        &self.types[type_index as usize]
    }

    fn num_imported_functions(&self) -> u32 {
        self.module.num_imported_functions
    }

    fn vmoffsets(&self) -> &VMOffsets {
        &self.offsets
    }

    fn memory(&self, index: u32) -> MemoryPlan {
        let ty = &self.module.memories[index as usize];
        let imported = self.module.num_imported_memories;
        let location = match index.checked_sub(imported) {
            Some(defined) => Location::Defined {
                offset: self.offsets.defined_memory(defined),
            },
            None => Location::Imported {
                pointer: self.offsets.imported_memory(index),
            },
        };
        MemoryPlan {
            location,
            memory64: ty.memory64,
            page_size_log2: ty.page_size_log2,
        }
    }

    fn global(&self, index: u32) -> GlobalPlan {
        let ty = wasmparser_type(self.module.globals[index as usize].ty);
        let imported = self.module.num_imported_globals;
        let location = match index.checked_sub(imported) {
            Some(defined) => Location::Defined {
                offset: self.offsets.defined_global(defined),
            },
            None => Location::Imported {
                pointer: self.offsets.imported_global(index),
            },
        };
        GlobalPlan { location, ty }
    }

    fn tunables(&self) -> &Tunables {
        &self.tunables
    }

    fn table(&self, index: u32) -> TablePlan {
        let ty = &self.module.tables[index as usize];
        let imported = self.module.num_imported_tables;
        let location = match index.checked_sub(imported) {
            Some(defined) => Location::Defined {
                offset: self.offsets.defined_table(defined),
            },
            None => Location::Imported {
                pointer: self.offsets.imported_table(index),
            },
        };
        TablePlan {
            location,
            table64: ty.table64,
            element: match ty.element {
                duet_environ::module::RefType::FuncRef => ValType::FUNCREF,
                duet_environ::module::RefType::ExternRef => ValType::EXTERNREF,
            },
        }
    }

    fn func_ref(&self, func_index: u32) -> u32 {
        let func = duet_environ::module::FuncIndex::from_u32(func_index);
        let index = self
            .module
            .func_ref_index(func)
            .expect("ref.func validated: the function escapes");
        self.offsets.func_ref(index.as_u32())
    }
}
