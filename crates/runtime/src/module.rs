//! [`Module`]: a validated, compiled module, its code in executable memory.

use crate::code::UnlinkedCode;
use crate::engine::{Compiler, Engine};
use crate::error::Error;
use crate::externals::ExternType;
use crate::traps::RegisteredCode;
use duet_environ::abi::FUNCTION_NAMESPACE;
use duet_environ::module::{EntityIndex, Module as ModuleInfo, TranslationError, translate};
use std::path::Path;
use std::sync::Arc;

pub(crate) struct ModuleInner {
    pub(crate) engine: Engine,
    pub(crate) info: ModuleInfo,
    /// The defined functions, in order.
    pub(crate) code: RegisteredCode,
    /// The engine's canonical id of each type of the type section.
    pub(crate) type_ids: Box<[u32]>,
}

/// A compiled WebAssembly module, ready to be instantiated in any store of
/// its engine. Cheap to clone.
#[derive(Clone)]
pub struct Module {
    pub(crate) inner: Arc<ModuleInner>,
}

impl core::fmt::Debug for Module {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Module")
            .field("functions", &self.inner.info.functions.len())
            .finish_non_exhaustive()
    }
}

/// A translation error as the API reports it.
fn translation_error(error: TranslationError) -> Error {
    match error {
        TranslationError::Unsupported { .. } => Error::Unsupported(error.to_string()),
        _ => Error::Invalid(error.to_string()),
    }
}

impl Module {
    /// Validates and compiles `bytes`: a binary module, or (if it does not
    /// start with the binary magic) the text format.
    pub fn new(engine: &Engine, bytes: impl AsRef<[u8]>) -> Result<Module, Error> {
        let bytes = bytes.as_ref();
        if bytes.starts_with(b"\0asm") {
            return Module::from_binary(engine, bytes);
        }
        let text = core::str::from_utf8(bytes)
            .map_err(|e| Error::Invalid(format!("neither a binary module nor UTF-8 text: {e}")))?;
        let binary = wat::parse_str(text).map_err(|e| Error::Invalid(e.to_string()))?;
        Module::from_binary(engine, &binary)
    }

    /// Reads and compiles the module in `path` (binary or text).
    pub fn from_file(engine: &Engine, path: impl AsRef<Path>) -> Result<Module, Error> {
        let path = path.as_ref();
        let bytes = std::fs::read(path).map_err(|source| Error::Io {
            path: path.display().to_string(),
            source,
        })?;
        Module::new(engine, bytes)
    }

    /// Validates and compiles a binary module.
    pub fn from_binary(engine: &Engine, wasm: &[u8]) -> Result<Module, Error> {
        let translation = translate(wasm, engine.features()).map_err(translation_error)?;
        let info = translation.module.clone();
        let functions = match engine.compiler() {
            Compiler::Winch => {
                let threads = engine.compilation_threads();
                winch_codegen::compile_module_on_threads(
                    translation,
                    engine.tunables(),
                    engine.inner.cpu,
                    threads,
                )
                .map_err(|e| match e {
                    winch_codegen::CompileError::Invalid { .. } => Error::Invalid(e.to_string()),
                    winch_codegen::CompileError::Unsupported { .. } => {
                        Error::Unsupported(e.to_string())
                    }
                    winch_codegen::CompileError::Assembler(_) => Error::Compile(e.to_string()),
                })?
            }
            Compiler::Cranelift => compile_with_cranelift(engine, translation)?,
        };
        let unlinked = UnlinkedCode::new(&functions)
            .map_err(|e| Error::Resource(format!("code memory: {e}")))?;
        let addresses: Vec<usize> = unlinked.function_addresses().collect();
        let imported = info.num_imported_functions;
        let linked = unlinked
            .link(|name| {
                if name.namespace != FUNCTION_NAMESPACE {
                    return None;
                }
                addresses
                    .get(name.index.checked_sub(imported)? as usize)
                    .copied()
            })
            .map_err(|e| Error::Compile(format!("linking: {e}")))?;
        let code = RegisteredCode::new(linked, &functions);
        let type_ids = info.types.iter().map(|t| engine.type_id(t)).collect();
        Ok(Module {
            inner: Arc::new(ModuleInner {
                engine: engine.clone(),
                info,
                code,
                type_ids,
            }),
        })
    }

    /// How many functions the module defines (and compiled).
    pub fn num_defined_functions(&self) -> usize {
        self.inner.code.code().len()
    }

    /// The bytes of machine code of the module's functions.
    pub fn code_size(&self) -> usize {
        let code = self.inner.code.code();
        (0..code.len())
            .filter_map(|i| code.function_range(i))
            .map(|range| range.len())
            .sum()
    }

    /// The engine the module was compiled by.
    pub fn engine(&self) -> &Engine {
        &self.inner.engine
    }

    /// The imports, in order: module name, field name, type.
    pub fn imports(&self) -> impl ExactSizeIterator<Item = (&str, &str, ExternType)> + '_ {
        let info = &self.inner.info;
        info.imports
            .iter()
            .map(|i| (i.module.as_str(), i.name.as_str(), self.entity_type(i.kind)))
    }

    /// The exports, in order: name, type.
    pub fn exports(&self) -> impl ExactSizeIterator<Item = (&str, ExternType)> + '_ {
        self.inner
            .info
            .exports()
            .iter()
            .map(|(name, entity)| (name.as_str(), self.entity_type(*entity)))
    }

    /// The type of an entity of the module.
    pub(crate) fn entity_type(&self, entity: EntityIndex) -> ExternType {
        let info = &self.inner.info;
        match entity {
            EntityIndex::Function(f) => ExternType::Func(info.func_type(f).clone()),
            EntityIndex::Table(t) => ExternType::Table(info.tables[t.index()].clone()),
            EntityIndex::Memory(m) => ExternType::Memory(info.memories[m.index()]),
            EntityIndex::Global(g) => ExternType::Global(info.globals[g.index()]),
        }
    }
}

/// Compiles with the optimizing tier (`cranelift_wasm::compile_module`).
fn compile_with_cranelift(
    engine: &Engine,
    translation: duet_environ::module::ModuleTranslation<'_>,
) -> Result<Vec<cranelift_asm::FinishedCode>, Error> {
    use cranelift_wasm::{CompileError, WasmError};
    cranelift_wasm::compile_module(
        translation,
        engine.tunables(),
        engine.inner.cpu,
        engine.compilation_threads(),
    )
    .map_err(|e| match &e {
        CompileError::Wasm(WasmError::Invalid { .. }) => Error::Invalid(e.to_string()),
        CompileError::Wasm(_)
        | CompileError::Codegen {
            error: cranelift_codegen::CodegenError::Unsupported(_),
            ..
        } => Error::Unsupported(e.to_string()),
        CompileError::Codegen { .. } => Error::Compile(e.to_string()),
    })
}
