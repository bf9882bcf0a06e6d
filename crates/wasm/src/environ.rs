//! [`ModuleEnvironment`]: what the translation of one function body reads
//! about the module around it, and how wasm types become IR types.
//!
//! Everything here is read-only and shared: one environment serves every
//! function of a module, on as many threads as translate them.

use cranelift_codegen::ir::{CallConv, Signature, Type};
use duet_environ::module::{FuncIndex, FuncType, Module, ValType};
use duet_environ::tunables::Tunables;
use duet_environ::vmoffsets::VMOffsets;

/// Where an entity's definition record is, relative to the VMContext.
#[derive(Copy, Clone, PartialEq, Eq, Debug)]
pub(crate) enum Location {
    /// Inline in the VMContext, at this offset (the module defines it).
    Defined(u32),
    /// Behind a pointer at this offset of the VMContext (the module
    /// imports it). The pointer never changes while the instance lives.
    Imported(u32),
}

/// What a memory access needs to know about its linear memory.
#[derive(Copy, Clone, Debug)]
pub(crate) struct MemoryPlan {
    /// Where its `VMMemoryDefinition` is.
    pub location: Location,
    /// Whether addresses are `i64`.
    pub memory64: bool,
    /// log2 of the page size.
    pub page_size_log2: u8,
    /// Whether the memory sits in a reservation and never moves, so its
    /// base address is the same for the instance's lifetime.
    pub never_moves: bool,
}

/// What a table access needs to know about its table.
#[derive(Copy, Clone, Debug)]
pub(crate) struct TablePlan {
    /// Where its `VMTableDefinition` is.
    pub location: Location,
    /// Whether it is indexed with `i64`.
    pub table64: bool,
}

/// What `global.get` and `global.set` need to know about a global.
#[derive(Copy, Clone, Debug)]
pub(crate) struct GlobalPlan {
    /// Where its `VMGlobalDefinition` is.
    pub location: Location,
    /// Its value type.
    pub ty: ValType,
    /// Whether `global.set` may change it.
    pub mutable: bool,
}

/// The module-level facts function translation reads: the module's
/// metadata (types, imports, memories, tables, globals, escaped
/// functions), its VMContext layout, and the tunables that decide where
/// guard pages replace bounds checks.
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
    pub fn module(&self) -> &'m Module {
        self.module
    }

    /// The VMContext layout.
    pub fn offsets(&self) -> &VMOffsets {
        &self.offsets
    }

    /// The tunables.
    pub fn tunables(&self) -> &Tunables {
        &self.tunables
    }

    /// The type of function `func` (imports first, as in the index space).
    pub(crate) fn func_type(&self, func: u32) -> &'m FuncType {
        self.module.func_type(FuncIndex::from_u32(func))
    }

    /// The function type at `type_index`.
    pub(crate) fn type_at(&self, type_index: u32) -> &'m FuncType {
        &self.module.types[type_index as usize]
    }

    /// Where the definition of a memory, table or global is: inline after
    /// `num_imported`, behind a pointer before.
    fn location(
        index: u32,
        num_imported: u32,
        defined: impl FnOnce(u32) -> u32,
        imported: impl FnOnce(u32) -> u32,
    ) -> Location {
        match index.checked_sub(num_imported) {
            Some(d) => Location::Defined(defined(d)),
            None => Location::Imported(imported(index)),
        }
    }

    pub(crate) fn memory(&self, index: u32) -> MemoryPlan {
        let ty = &self.module.memories[index as usize];
        let o = &self.offsets;
        MemoryPlan {
            location: Self::location(
                index,
                self.module.num_imported_memories,
                |d| o.defined_memory(d),
                |i| o.imported_memory(i),
            ),
            memory64: ty.memory64,
            page_size_log2: ty.page_size_log2,
            never_moves: self.tunables.is_reserved(ty.memory64),
        }
    }

    pub(crate) fn table(&self, index: u32) -> TablePlan {
        let o = &self.offsets;
        TablePlan {
            location: Self::location(
                index,
                self.module.num_imported_tables,
                |d| o.defined_table(d),
                |i| o.imported_table(i),
            ),
            table64: self.module.tables[index as usize].table64,
        }
    }

    pub(crate) fn global(&self, index: u32) -> GlobalPlan {
        let ty = self.module.globals[index as usize];
        let o = &self.offsets;
        GlobalPlan {
            location: Self::location(
                index,
                self.module.num_imported_globals,
                |d| o.defined_global(d),
                |i| o.imported_global(i),
            ),
            ty: ty.ty,
            mutable: ty.mutable,
        }
    }

    /// The VMContext offset of function `func`'s `VMFuncRef`, if its
    /// reference escapes (the validator lets `ref.func` name only such
    /// functions).
    pub(crate) fn func_ref_offset(&self, func: u32) -> Option<u32> {
        let index = self.module.func_ref_index(FuncIndex::from_u32(func))?;
        Some(self.offsets.func_ref(index.as_u32()))
    }
}

/// The IR type holding a wasm value of type `ty`: references are pointers
/// (`i64`, null is 0). `None` for `v128`, which the IR cannot hold yet.
pub(crate) fn ir_type(ty: ValType) -> Option<Type> {
    match ty {
        ValType::I32 => Some(Type::I32),
        ValType::I64 => Some(Type::I64),
        ValType::F32 => Some(Type::F32),
        ValType::F64 => Some(Type::F64),
        ValType::FuncRef | ValType::ExternRef => Some(Type::I64),
        ValType::V128 => None,
    }
}

/// [`ir_type`] of a type as wasmparser spells it (locals, block types,
/// typed `select`): `funcref` and `externref`, nullable or not, are
/// pointers; every other reference type is refused.
pub(crate) fn ir_type_of(ty: wasmparser::ValType) -> Option<Type> {
    match ty {
        wasmparser::ValType::I32 => Some(Type::I32),
        wasmparser::ValType::I64 => Some(Type::I64),
        wasmparser::ValType::F32 => Some(Type::F32),
        wasmparser::ValType::F64 => Some(Type::F64),
        wasmparser::ValType::Ref(r) if r.is_func_ref() || r.is_extern_ref() => Some(Type::I64),
        wasmparser::ValType::Ref(_) | wasmparser::ValType::V128 => None,
    }
}

/// The IR signature of a wasm function type under the wasm calling
/// convention: the callee's VMContext (`i64`) first, then the parameters;
/// the results as they are. `Err` names the first type the IR cannot hold.
pub(crate) fn wasm_signature(ty: &FuncType) -> Result<Signature, ValType> {
    let convert = |types: &[ValType]| -> Result<Vec<Type>, ValType> {
        types.iter().map(|&t| ir_type(t).ok_or(t)).collect()
    };
    let mut params = vec![Type::I64];
    params.extend(convert(&ty.params)?);
    Ok(Signature {
        params,
        returns: convert(&ty.results)?,
        call_conv: CallConv::Wasm,
    })
}
