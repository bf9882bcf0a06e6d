//! [`Module`]: a validated, compiled module, its code in executable memory.

use crate::code::UnlinkedCode;
use crate::engine::{Compiler, Engine};
use crate::error::Error;
use crate::externals::ExternType;
use crate::loaded::{CodeNames, LoadedCode};
use core::ops::Range;
use duet_environ::abi::FUNCTION_NAMESPACE;
use duet_environ::module::{
    EntityIndex, FuncIndex, Module as ModuleInfo, TranslationError, translate,
};
use std::path::Path;
use std::sync::Arc;

pub(crate) struct ModuleInner {
    pub(crate) engine: Engine,
    pub(crate) info: ModuleInfo,
    /// The name profiles and debuggers show (see [`Module::name`]).
    name: String,
    /// The defined functions, in order.
    pub(crate) code: LoadedCode,
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
        Module::from_bytes(engine, bytes.as_ref(), None)
    }

    /// Like [`Module::new`], naming the module `name` in profiles and
    /// debuggers unless its name section names it.
    pub fn new_named(
        engine: &Engine,
        bytes: impl AsRef<[u8]>,
        name: &str,
    ) -> Result<Module, Error> {
        Module::from_bytes(engine, bytes.as_ref(), Some(name))
    }

    /// Binary or text, with a fallback name.
    fn from_bytes(engine: &Engine, bytes: &[u8], name: Option<&str>) -> Result<Module, Error> {
        if bytes.starts_with(b"\0asm") {
            return Module::from_binary_named(engine, bytes, name);
        }
        let text = core::str::from_utf8(bytes)
            .map_err(|e| Error::Invalid(format!("neither a binary module nor UTF-8 text: {e}")))?;
        let binary = wat::parse_str(text).map_err(|e| Error::Invalid(e.to_string()))?;
        Module::from_binary_named(engine, &binary, name)
    }

    /// Reads and compiles the module in `path` (binary or text), named
    /// after the file (its stem) unless its name section names it.
    pub fn from_file(engine: &Engine, path: impl AsRef<Path>) -> Result<Module, Error> {
        let path = path.as_ref();
        let bytes = std::fs::read(path).map_err(|source| Error::Io {
            path: path.display().to_string(),
            source,
        })?;
        match path.file_stem() {
            Some(stem) => Module::new_named(engine, bytes, &stem.to_string_lossy()),
            None => Module::new(engine, bytes),
        }
    }

    /// Validates and compiles a binary module.
    pub fn from_binary(engine: &Engine, wasm: &[u8]) -> Result<Module, Error> {
        Module::from_binary_named(engine, wasm, None)
    }

    /// Validates and compiles a binary module, with a fallback name.
    fn from_binary_named(
        engine: &Engine,
        wasm: &[u8],
        name: Option<&str>,
    ) -> Result<Module, Error> {
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
        let name = info.name.as_deref().or(name).unwrap_or("wasm").to_string();
        let names = || CodeNames {
            module: name.clone(),
            functions: (0..functions.len())
                .map(|i| function_name(&info, imported + i as u32))
                .collect(),
        };
        let code = LoadedCode::new(&engine.inner.config, linked, &functions, names)?;
        let type_ids = info.types.iter().map(|t| engine.type_id(t)).collect();
        Ok(Module {
            inner: Arc::new(ModuleInner {
                engine: engine.clone(),
                info,
                name,
                code,
                type_ids,
            }),
        })
    }

    /// The module's name in profiles and debuggers: its name section's,
    /// else the name it was loaded under ([`Module::new_named`],
    /// [`Module::from_file`]), else `wasm`.
    pub fn name(&self) -> &str {
        &self.inner.name
    }

    /// Where the machine code of each function the module defines is:
    /// the function's index (imports counted), its name in profiles and
    /// debuggers (the name section's, else `wasm-function[INDEX]`) and
    /// the addresses of its code. For profilers and tests; the code lives
    /// as long as the module.
    pub fn function_code(&self) -> impl ExactSizeIterator<Item = (u32, String, Range<usize>)> + '_ {
        let info = &self.inner.info;
        let code = self.inner.code.code();
        (0..code.len()).map(move |i| {
            let index = info.num_imported_functions + i as u32;
            let range = code.function_range(i).expect("i < len");
            (index, function_name(info, index), range)
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

/// Function `index`'s name in profiles and debuggers: the name section's,
/// else `wasm-function[INDEX]`.
fn function_name(info: &ModuleInfo, index: u32) -> String {
    info.function_name(FuncIndex::from_u32(index))
        .map_or_else(|| format!("wasm-function[{index}]"), str::to_string)
}
