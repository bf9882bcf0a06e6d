//! [`Module`]: a validated, compiled module, its code in executable memory.

use crate::artifact::{self, PrecompiledError};
use crate::code::{CodeMemory, UnlinkedCode};
use crate::engine::{Compiler, Engine};
use crate::error::{Error, ErrorKind};
use crate::externals::ExternType;
use crate::loaded::{CodeNames, LoadedCode};
use core::ops::Range;
use cranelift_asm::FinishedCode;
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
    /// The compiler the code is from.
    compiler: Compiler,
    /// Each defined function's metadata, without its bytes (which are in
    /// `code`): what [`Module::serialize`] writes beside the code.
    functions: Box<[FinishedCode]>,
    /// The engine's canonical id of each type of the type section.
    pub(crate) type_ids: Box<[u32]>,
    /// The memory images (`image.rs`), built on the first instantiation.
    pub(crate) images: std::sync::OnceLock<crate::image::ModuleImages>,
}

/// A compiled WebAssembly module, ready to be instantiated in any store of
/// its engine. Cheap to clone.
///
/// ```
/// use duet::{Engine, ExternType, Module};
/// let engine = Engine::default();
/// // Text or binary, told apart by content.
/// let module = Module::new(&engine, r#"(module
///     (import "host" "log" (func (param i32)))
///     (memory (export "memory") 1))"#)?;
/// let imports: Vec<_> = module.imports().map(|(m, n, _)| format!("{m}.{n}")).collect();
/// assert_eq!(imports, ["host.log"]);
/// let (name, ty) = module.exports().next().unwrap();
/// assert!(name == "memory" && matches!(ty, ExternType::Memory(_)));
/// // Bytes that are neither are an error, not a panic.
/// assert!(Module::new(&engine, b"\0asm\x02").is_err());
/// # Ok::<(), duet::Error>(())
/// ```
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

/// The bytes of a module in one of WebAssembly's two formats, told apart
/// by content ([`ModuleSource::detect`]).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum ModuleSource<'a> {
    /// The binary format: starts with the magic number `\0asm` and version
    /// 1 (or ends within the version, which the binary parser reports).
    Binary(&'a [u8]),
    /// The text format: UTF-8 that does not start with a NUL byte.
    Text(&'a str),
}

/// The magic number every WebAssembly binary starts with.
const WASM_MAGIC: [u8; 4] = *b"\0asm";

/// The version of the core binary format (a component's is `0d 00 01 00`).
const WASM_VERSION: [u8; 4] = [1, 0, 0, 0];

/// Bytes that are not a module in either format, told apart before any
/// parser sees them so that the message says what the bytes are instead of
/// where a text parser stumbled (`1:1: unexpected character '\u{0}'`).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum NotAModule {
    /// No bytes at all.
    #[error("the input is empty (0 bytes): neither a WebAssembly binary nor text")]
    Empty,
    /// Binary-looking bytes (a NUL first byte, a damaged `\0asm`, or not
    /// UTF-8) without the magic number.
    #[error(
        "neither a WebAssembly binary (bad magic number: found {}, expected {}) nor text ({why})",
        hex(found),
        hex(&WASM_MAGIC)
    )]
    BadMagic {
        /// The first bytes (up to four).
        found: Vec<u8>,
        /// Why the bytes are not text either.
        why: NotText,
    },
    /// A precompiled module ([`Module::serialize`]), which
    /// [`Module::deserialize`] loads.
    #[error(
        "a precompiled duet module (`.cwasm`), not WebAssembly: load it with Module::deserialize \
         (`duet run --allow-precompiled`)"
    )]
    Precompiled,
    /// The magic number, followed by a version other than 1.
    #[error(
        "neither a WebAssembly binary (unsupported version: found {}, expected {}{}) nor text",
        hex(found),
        hex(&WASM_VERSION),
        if *found == [0x0d, 0, 1, 0] { "; this is a component, not a core module" } else { "" }
    )]
    BadVersion {
        /// The four version bytes.
        found: [u8; 4],
    },
}

/// Why bytes without the binary magic number are not text either.
#[derive(Copy, Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum NotText {
    /// The first byte is NUL, which no text module starts with.
    #[error("it starts with a NUL byte")]
    StartsWithNul,
    /// A binary header whose magic number is damaged (`?asm` and version 1).
    #[error("it has a binary module's header")]
    BinaryHeader,
    /// The bytes are not UTF-8.
    #[error("invalid UTF-8 at byte {offset}")]
    InvalidUtf8 {
        /// The offset of the first byte that is not UTF-8.
        offset: usize,
    },
}

/// `bytes` as `00 61 73 6d`.
pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(" ")
}

impl<'a> ModuleSource<'a> {
    /// Tells the binary format from the text format:
    ///
    /// * empty bytes are [`NotAModule::Empty`];
    /// * `\0asm` then version 1 (or a header cut short after the magic
    ///   number) is [`Binary`](Self::Binary); `\0asm` then another version
    ///   is [`NotAModule::BadVersion`];
    /// * a NUL first byte, or `?asm` then version 1 (a damaged magic
    ///   number), is [`NotAModule::BadMagic`]: no text starts that way;
    ///   a precompiled module's magic number is [`NotAModule::Precompiled`];
    /// * UTF-8 is [`Text`](Self::Text), left to the text parser; anything
    ///   else is [`NotAModule::BadMagic`] with the offset of the first byte
    ///   that is not UTF-8.
    pub fn detect(bytes: &'a [u8]) -> Result<ModuleSource<'a>, NotAModule> {
        let Some(&first) = bytes.first() else {
            return Err(NotAModule::Empty);
        };
        let magic = &bytes[..bytes.len().min(4)];
        let bad_magic = |why| NotAModule::BadMagic {
            found: magic.to_vec(),
            why,
        };
        let version = bytes.get(4..8);
        if magic == WASM_MAGIC {
            return match version {
                Some(version) if version != WASM_VERSION => Err(NotAModule::BadVersion {
                    found: version.try_into().expect("4 bytes"),
                }),
                // Version 1, or a header cut short, which the binary parser
                // reports with its offset.
                _ => Ok(ModuleSource::Binary(bytes)),
            };
        }
        if artifact::is_precompiled(bytes) {
            return Err(NotAModule::Precompiled);
        }
        if first == 0 {
            return Err(bad_magic(NotText::StartsWithNul));
        }
        if magic.get(1..) == Some(&WASM_MAGIC[1..]) && version == Some(&WASM_VERSION[..]) {
            return Err(bad_magic(NotText::BinaryHeader));
        }
        core::str::from_utf8(bytes)
            .map(ModuleSource::Text)
            .map_err(|e| {
                bad_magic(NotText::InvalidUtf8 {
                    offset: e.valid_up_to(),
                })
            })
    }
}

/// A translation error as the API reports it.
fn translation_error(error: TranslationError) -> Error {
    match error {
        TranslationError::Unsupported { .. } => {
            Error::from(ErrorKind::Unsupported(error.to_string()))
        }
        _ => Error::from(ErrorKind::Invalid(error.to_string())),
    }
}

impl Module {
    /// Validates and compiles `bytes`: a binary module, or the text format,
    /// told apart by content ([`ModuleSource::detect`]). Bytes that are
    /// neither (empty, starting with a NUL byte or a damaged binary header,
    /// not UTF-8) are an [`ErrorKind::Invalid`](crate::ErrorKind::Invalid) saying so, not a text parser's
    /// complaint about the first character.
    pub fn new(engine: &Engine, bytes: impl AsRef<[u8]>) -> Result<Module, Error> {
        Module::from_bytes(engine, bytes.as_ref(), None, engine.compiler())
    }

    /// Like [`Module::new`], compiled by `compiler` rather than the
    /// engine's [`Config::compiler`](crate::Config::compiler). Modules of
    /// one engine compiled by different compilers link and call each other
    /// directly: both follow `duet_environ::abi` (`tests/cross_tier.rs`
    /// checks it). A compiler this build does not include is an
    /// [`ErrorKind::Config`](crate::ErrorKind::Config).
    pub fn new_with_compiler(
        engine: &Engine,
        bytes: impl AsRef<[u8]>,
        compiler: Compiler,
    ) -> Result<Module, Error> {
        Module::from_bytes(engine, bytes.as_ref(), None, compiler)
    }

    /// Like [`Module::new`], naming the module `name` in profiles and
    /// debuggers unless its name section names it.
    pub fn new_named(
        engine: &Engine,
        bytes: impl AsRef<[u8]>,
        name: &str,
    ) -> Result<Module, Error> {
        Module::from_bytes(engine, bytes.as_ref(), Some(name), engine.compiler())
    }

    /// Binary or text ([`ModuleSource::detect`]), with a fallback name.
    fn from_bytes(
        engine: &Engine,
        bytes: &[u8],
        name: Option<&str>,
        compiler: Compiler,
    ) -> Result<Module, Error> {
        match ModuleSource::detect(bytes)
            .map_err(|e| Error::from(ErrorKind::Invalid(e.to_string())))?
        {
            ModuleSource::Binary(binary) => {
                Module::from_binary_named(engine, binary, name, compiler)
            }
            ModuleSource::Text(text) => {
                let binary = wat::parse_str(text)
                    .map_err(|e| Error::from(ErrorKind::Invalid(e.to_string())))?;
                Module::from_binary_named(engine, &binary, name, compiler)
            }
        }
    }

    /// Reads and compiles the module in `path` (binary or text), named
    /// after the file (its stem) unless its name section names it.
    pub fn from_file(engine: &Engine, path: impl AsRef<Path>) -> Result<Module, Error> {
        let path = path.as_ref();
        let bytes = std::fs::read(path).map_err(|source| {
            Error::from(ErrorKind::Io {
                path: path.display().to_string(),
                source,
            })
        })?;
        match path.file_stem() {
            Some(stem) => Module::new_named(engine, bytes, &stem.to_string_lossy()),
            None => Module::new(engine, bytes),
        }
    }

    /// Validates and compiles a binary module.
    pub fn from_binary(engine: &Engine, wasm: &[u8]) -> Result<Module, Error> {
        Module::from_binary_named(engine, wasm, None, engine.compiler())
    }

    /// Validates and compiles a binary module with `compiler`, with a
    /// fallback name.
    fn from_binary_named(
        engine: &Engine,
        wasm: &[u8],
        name: Option<&str>,
        compiler: Compiler,
    ) -> Result<Module, Error> {
        compiler.check_built_in()?;
        let translation = translate(wasm, engine.features()).map_err(translation_error)?;
        let info = translation.module.clone();
        let functions = engine.compile_functions_with(compiler, translation)?;
        let unlinked = UnlinkedCode::new(&functions)
            .map_err(|e| Error::from(ErrorKind::Resource(format!("code memory: {e}"))))?;
        let linked = link(unlinked, &info)?;
        let name = info.name.as_deref().or(name).unwrap_or("wasm").to_string();
        Module::from_linked_code(engine, compiler, info, name, linked, functions)
    }

    /// Registers linked code whose function `i` was compiled as
    /// `functions[i]` (bytes or not) and wraps it in a module.
    fn from_linked_code(
        engine: &Engine,
        compiler: Compiler,
        info: ModuleInfo,
        name: String,
        linked: CodeMemory,
        mut functions: Vec<FinishedCode>,
    ) -> Result<Module, Error> {
        let imported = info.num_imported_functions;
        let names = || CodeNames {
            module: name.clone(),
            functions: (0..functions.len())
                .map(|i| function_name(&info, imported + i as u32))
                .collect(),
        };
        let code = LoadedCode::new(&engine.inner.config, linked, &functions, names)?;
        // The bytes are in `code` now; the rest is kept for `serialize`.
        functions.iter_mut().for_each(FinishedCode::strip_code);
        let type_ids = info.types.iter().map(|t| engine.type_id(t)).collect();
        Ok(Module {
            inner: Arc::new(ModuleInner {
                engine: engine.clone(),
                info,
                name,
                code,
                compiler,
                functions: functions.into_boxed_slice(),
                type_ids,
                images: std::sync::OnceLock::new(),
            }),
        })
    }

    /// The module as a precompiled artifact (a `.cwasm` file's bytes):
    /// its machine code, the code's tables and the module's metadata,
    /// with a fingerprint of the engine's settings the code depends on
    /// and a checksum. [`Module::deserialize`] loads it without compiling
    /// into an engine with the same settings (a module compiled by
    /// [`Module::new_with_compiler`] with the other compiler loads only
    /// into an engine configured with that compiler); the format is
    /// described in `crates/runtime/src/artifact.rs`.
    ///
    /// ```
    /// use duet::{Engine, Instance, Module, Store};
    /// let engine = Engine::default();
    /// let module = Module::new(&engine, r#"(module (func (export "answer") (result i32) i32.const 42))"#)?;
    /// let bytes = module.serialize()?;
    /// // SAFETY: the bytes were just made by `serialize` of this engine.
    /// let loaded = unsafe { Module::deserialize(&engine, &bytes)? };
    /// let mut store = Store::new(&engine, ());
    /// let instance = Instance::new(&mut store, &loaded, &[])?;
    /// let answer = instance.get_typed_func::<(), i32>(&mut store, "answer")?;
    /// assert_eq!(answer.call(&mut store, ())?, 42);
    /// # Ok::<(), duet::Error>(())
    /// ```
    pub fn serialize(&self) -> Result<Vec<u8>, Error> {
        let inner = &self.inner;
        let code = inner.code.code();
        artifact::serialize(
            &inner.engine,
            inner.compiler,
            &inner.name,
            &inner.info,
            &inner.functions,
            code.function_offsets(),
            code.image(),
        )
    }

    /// Loads a module [`Module::serialize`] wrote, without compiling: the
    /// code is copied into executable memory and registered as
    /// [`Module::new`] registers compiled code. Refused with an
    /// [`ErrorKind::Precompiled`](crate::ErrorKind::Precompiled) naming
    /// the reason ([`PrecompiledError`]) when the bytes are not an
    /// artifact (a wasm binary among them), are of another format or duet
    /// version, fail their checksum, or were compiled with a compiler,
    /// wasm features, tunables (fuel, epochs, memory reservation) or CPU
    /// features other than the engine's.
    ///
    /// # Safety
    ///
    /// The bytes must come from [`Module::serialize`] (of any engine of
    /// this duet version; the checks above tell a mismatching one). Their
    /// machine code runs as it is: the checksum catches corruption, not
    /// a crafted artifact, whose code could do anything.
    pub unsafe fn deserialize(engine: &Engine, bytes: impl AsRef<[u8]>) -> Result<Module, Error> {
        Module::from_artifact(engine, bytes.as_ref())
    }

    /// [`Module::deserialize`] from a file, mapped rather than read: the
    /// only copy made of the code is the one into executable memory.
    ///
    /// # Safety
    ///
    /// As for [`Module::deserialize`]; and the file must not be changed
    /// (truncated, rewritten) while this call runs, as it is mapped.
    pub unsafe fn deserialize_file(
        engine: &Engine,
        path: impl AsRef<Path>,
    ) -> Result<Module, Error> {
        // SAFETY: the caller promises the file does not change meanwhile.
        unsafe {
            artifact::with_mapped_file(path.as_ref(), |bytes| Module::from_artifact(engine, bytes))
        }
    }

    /// Whether `bytes` start as a precompiled module does (the magic
    /// number [`Module::serialize`] writes), whatever follows; for telling
    /// a `.cwasm` file from a wasm one before choosing how to load it.
    pub fn is_precompiled(bytes: &[u8]) -> bool {
        artifact::is_precompiled(bytes)
    }

    /// Checks and loads an artifact (see [`Module::deserialize`]).
    fn from_artifact(engine: &Engine, bytes: &[u8]) -> Result<Module, Error> {
        let loaded = artifact::load(engine, bytes).map_err(PrecompiledError::into_error)?;
        let absolute = loaded.functions.iter().enumerate().flat_map(|(i, f)| {
            f.relocations()
                .iter()
                .map(move |&relocation| (i, relocation))
        });
        let unlinked = UnlinkedCode::from_image(loaded.image, loaded.ranges, absolute)
            .map_err(|e| PrecompiledError::Corrupt(format!("its code: {e}")).into_error())?;
        let linked = link(unlinked, &loaded.info)?;
        Module::from_linked_code(
            engine,
            loaded.compiler,
            loaded.info,
            loaded.name,
            linked,
            loaded.functions,
        )
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

impl Engine {
    /// Compiles every function a module defines with the engine's
    /// [`Compiler`], tunables, CPU features and
    /// [`compilation_threads`](Engine::compilation_threads): the code of
    /// defined function `i` at position `i`, not yet loaded or linked.
    /// This is the one place that picks a compiler; [`Module::new`] loads
    /// what it returns, and tools that show the code (`duet compile
    /// --emit asm`) print it.
    pub fn compile_functions(
        &self,
        translation: duet_environ::module::ModuleTranslation<'_>,
    ) -> Result<Vec<cranelift_asm::FinishedCode>, Error> {
        self.compile_functions_with(self.compiler(), translation)
    }

    /// [`compile_functions`](Engine::compile_functions) with `compiler`
    /// instead of the engine's ([`Module::new_with_compiler`]).
    pub(crate) fn compile_functions_with(
        &self,
        compiler: Compiler,
        translation: duet_environ::module::ModuleTranslation<'_>,
    ) -> Result<Vec<cranelift_asm::FinishedCode>, Error> {
        compiler.check_built_in()?;
        match compiler {
            #[cfg(feature = "winch")]
            Compiler::Winch => winch_codegen::compile_module_on_threads(
                translation,
                self.tunables(),
                self.inner.cpu,
                self.compilation_threads(),
            )
            .map_err(|e| winch_error(self, e)),
            #[cfg(feature = "cranelift")]
            Compiler::Cranelift => compile_with_cranelift(self, translation),
            #[cfg(not(all(feature = "winch", feature = "cranelift")))]
            absent => {
                // A build without this compiler has nothing to give it.
                drop(translation);
                unreachable!("check_built_in refused {absent:?}, which is not built in")
            }
        }
    }
}

/// The embedding API's error for the baseline tier's `error`. An
/// instruction form the engine's CPU preset lacks a feature for is the
/// module's need, not a compiler bug: an [`ErrorKind::Unsupported`](crate::ErrorKind::Unsupported) naming the
/// feature and the preset ([`Config::cpu_features`](crate::Config::cpu_features)).
#[cfg(feature = "winch")]
fn winch_error(engine: &Engine, error: winch_codegen::CompileError) -> Error {
    use cranelift_asm::x64::AsmError;
    use winch_codegen::CompileError;
    match error {
        CompileError::Invalid { .. } => Error::from(ErrorKind::Invalid(error.to_string())),
        CompileError::Unsupported { .. } => Error::from(ErrorKind::Unsupported(error.to_string())),
        CompileError::Assembler(AsmError::UnavailableFeature { mnemonic, feature }) => {
            Error::from(ErrorKind::Unsupported(format!(
                "the module needs the CPU feature {feature} (for `{mnemonic}`), which the \
                 engine's CPU preset `{}` does not include",
                engine.config().cpu_preset()
            )))
        }
        CompileError::MissingFeature { .. } => Error::from(ErrorKind::Unsupported(format!(
            "{error} (the engine's CPU preset is `{}`)",
            engine.config().cpu_preset()
        ))),
        CompileError::Assembler(_) => Error::from(ErrorKind::Compile(error.to_string())),
    }
}

/// Compiles with the optimizing tier (`cranelift_wasm::compile_module`).
#[cfg(feature = "cranelift")]
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
        CompileError::Wasm(WasmError::Invalid { .. }) => {
            Error::from(ErrorKind::Invalid(e.to_string()))
        }
        CompileError::Wasm(_)
        | CompileError::Codegen {
            error: cranelift_codegen::CodegenError::Unsupported(_),
            ..
        } => Error::from(ErrorKind::Unsupported(e.to_string())),
        CompileError::Codegen { .. } => Error::from(ErrorKind::Compile(e.to_string())),
    })
}

/// Links a module's code: relocations name the module's defined
/// functions, in `FUNCTION_NAMESPACE` by function index (imports counted).
fn link(unlinked: UnlinkedCode, info: &ModuleInfo) -> Result<CodeMemory, Error> {
    let addresses: Vec<usize> = unlinked.function_addresses().collect();
    let imported = info.num_imported_functions;
    unlinked
        .link(|name| {
            if name.namespace != FUNCTION_NAMESPACE {
                return None;
            }
            addresses
                .get(name.index.checked_sub(imported)? as usize)
                .copied()
        })
        .map_err(|e| Error::from(ErrorKind::Compile(format!("linking: {e}"))))
}

/// Function `index`'s name in profiles and debuggers: the name section's,
/// else `wasm-function[INDEX]`.
fn function_name(info: &ModuleInfo, index: u32) -> String {
    info.function_name(FuncIndex::from_u32(index))
        .map_or_else(|| format!("wasm-function[{index}]"), str::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A compiler compiles when built in and is a configuration error
    /// when not (the second case runs in a build with one compiler, e.g.
    /// `cargo test -p duet --lib --no-default-features --features winch`).
    #[test]
    fn a_compiler_not_built_in_is_a_configuration_error() {
        let engine = Engine::default();
        for compiler in [Compiler::Winch, Compiler::Cranelift] {
            let module = Module::new_with_compiler(&engine, "(module (func))", compiler);
            let mut config = crate::Config::new();
            config.compiler(compiler);
            let configured = Engine::new(&config);
            if compiler.is_built_in() {
                assert!(module.is_ok() && configured.is_ok(), "{compiler:?}");
            } else {
                for result in [module.map(drop), configured.map(drop)] {
                    assert!(
                        matches!(
                            result.as_ref().map_err(|e| e.downcast_ref::<ErrorKind>()),
                            Err(Some(ErrorKind::Config(m))) if m.contains("feature")
                        ),
                        "{compiler:?}: {result:?}"
                    );
                }
            }
        }
    }

    /// The plumbing for a module needing a CPU feature the preset lacks:
    /// the assembler's refusal of a form (made by hand here: the compilers
    /// check features before they emit), and a SIMD module on a CPU without
    /// SSE4.1, which the baseline tier refuses naming the feature.
    #[cfg(feature = "winch")]
    #[test]
    fn a_missing_cpu_feature_is_unsupported_and_named() {
        use cranelift_asm::x64::{AsmError, Feature};
        let mut config = crate::Config::new();
        config.cpu_features(crate::CpuPreset::Baseline);
        let engine = Engine::new(&config).unwrap();
        let refused = AsmError::UnavailableFeature {
            mnemonic: "pshufb",
            feature: Feature::Ssse3,
        };
        let error = winch_error(&engine, winch_codegen::CompileError::Assembler(refused));
        assert_eq!(
            error.to_string(),
            "unsupported: the module needs the CPU feature ssse3 (for `pshufb`), which the \
             engine's CPU preset `baseline` does not include"
        );
        assert!(matches!(
            error.downcast_ref::<ErrorKind>(),
            Some(ErrorKind::Unsupported(_))
        ));

        let simd = wat::parse_str("(module (func (param v128)))").unwrap();
        let error = Module::new(&engine, &simd).map(drop).unwrap_err();
        let message = error.to_string();
        assert!(
            matches!(
                error.downcast_ref::<ErrorKind>(),
                Some(ErrorKind::Unsupported(_))
            ),
            "{message}"
        );
        assert!(
            message.contains("sse4.1") && message.contains("`baseline`"),
            "{message}"
        );
    }

    fn not_a_module(bytes: &[u8]) -> String {
        ModuleSource::detect(bytes).unwrap_err().to_string()
    }

    #[test]
    fn binaries_and_text_are_told_apart_by_content() {
        let binary = b"\0asm\x01\0\0\0";
        assert_eq!(
            ModuleSource::detect(binary),
            Ok(ModuleSource::Binary(binary))
        );
        // Cut short after the magic number: the binary parser's to report.
        assert_eq!(
            ModuleSource::detect(b"\0asm\x01"),
            Ok(ModuleSource::Binary(b"\0asm\x01"))
        );
        assert_eq!(
            ModuleSource::detect(b"(module)"),
            Ok(ModuleSource::Text("(module)"))
        );
        // Text the text parser will refuse is still text.
        assert_eq!(ModuleSource::detect(b"x"), Ok(ModuleSource::Text("x")));
    }

    #[test]
    fn bytes_that_are_neither_say_so() {
        assert_eq!(ModuleSource::detect(b""), Err(NotAModule::Empty));
        assert_eq!(
            not_a_module(b""),
            "the input is empty (0 bytes): neither a WebAssembly binary nor text"
        );
        assert_eq!(
            not_a_module(b"\0\0\0\x01rest"),
            "neither a WebAssembly binary (bad magic number: found 00 00 00 01, \
             expected 00 61 73 6d) nor text (it starts with a NUL byte)"
        );
        assert_eq!(
            not_a_module(b"\0a"),
            "neither a WebAssembly binary (bad magic number: found 00 61, \
             expected 00 61 73 6d) nor text (it starts with a NUL byte)"
        );
        assert_eq!(
            not_a_module(b"\x01asm\x01\0\0\0"),
            "neither a WebAssembly binary (bad magic number: found 01 61 73 6d, \
             expected 00 61 73 6d) nor text (it has a binary module's header)"
        );
        assert_eq!(
            not_a_module(b"(mod\xffule)"),
            "neither a WebAssembly binary (bad magic number: found 28 6d 6f 64, \
             expected 00 61 73 6d) nor text (invalid UTF-8 at byte 4)"
        );
        assert_eq!(
            not_a_module(b"\0asm\x02\0\0\0"),
            "neither a WebAssembly binary (unsupported version: found 02 00 00 00, \
             expected 01 00 00 00) nor text"
        );
        assert!(
            not_a_module(b"\0asm\x0d\0\x01\0").contains("this is a component"),
            "{}",
            not_a_module(b"\0asm\x0d\0\x01\0")
        );
    }
}
