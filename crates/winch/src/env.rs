//! What the compiler needs to know about the module around a function.

use duet_environ::vmoffsets::VMOffsets;
use wasmparser::FuncType;

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
}

/// [`FuncEnv`] over a translated module (`duet-environ`'s metadata): what
/// the runtime compiles with.
pub struct ModuleEnv<'m> {
    module: &'m duet_environ::module::Module,
    types: Vec<FuncType>,
    offsets: VMOffsets,
}

/// A value type as wasmparser (and so the validator and this compiler)
/// names it.
fn wasmparser_type(ty: duet_environ::module::ValType) -> wasmparser::ValType {
    use duet_environ::module::ValType as V;
    match ty {
        V::I32 => wasmparser::ValType::I32,
        V::I64 => wasmparser::ValType::I64,
        V::F32 => wasmparser::ValType::F32,
        V::F64 => wasmparser::ValType::F64,
        V::V128 => wasmparser::ValType::V128,
        V::FuncRef => wasmparser::ValType::FUNCREF,
        V::ExternRef => wasmparser::ValType::EXTERNREF,
    }
}

impl<'m> ModuleEnv<'m> {
    /// The environment of `module`'s functions.
    pub fn new(module: &'m duet_environ::module::Module) -> Self {
        let types = module
            .types
            .iter()
            .map(|t| {
                let params = t.params.iter().map(|&v| wasmparser_type(v));
                let results = t.results.iter().map(|&v| wasmparser_type(v));
                FuncType::new(params, results)
            })
            .collect();
        ModuleEnv {
            module,
            types,
            offsets: VMOffsets::new(module.vm_counts()),
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
}
