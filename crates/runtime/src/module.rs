//! [`Module`]: a validated, compiled module, its code in executable memory.

use crate::artifact::{self, AbsoluteRelocation, ArtifactParts, PrecompiledError};
use crate::code::{CodeMemory, UnlinkedCode};
use crate::engine::{Compiler, Engine};
use crate::error::{Error, ErrorKind};
use crate::externals::ExternType;
use crate::loaded::{CodeDetails, CodeNames, JitFunction, LoadedCode};
use crate::tables::{CodeTables, SharedBytes};
use crate::tier::Tiering;
use crate::traps::CodeId;
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
    /// What [`Module::serialize`] needs beside the code and its tables.
    provenance: Provenance,
    /// The engine's canonical id of each type of the type section.
    pub(crate) type_ids: Box<[u32]>,
    /// The memory images (`image.rs`), built on the first instantiation.
    pub(crate) images: std::sync::OnceLock<crate::image::ModuleImages>,
    /// A tiered module's tier-up state (`tier.rs`): its code holds the
    /// baseline functions and then one jump stub per function, which
    /// every call goes through.
    pub(crate) tiering: Option<Tiering>,
}

impl ModuleInner {
    /// The name profiles and debuggers show (see [`Module::name`]).
    pub(crate) fn name(&self) -> &str {
        &self.name
    }

    /// Where a call of defined function `index` goes: its code, or in a
    /// tiered module its jump stub (which goes to the version installed
    /// last).
    pub(crate) fn function_entry(&self, index: usize) -> *const u8 {
        let stubs = self.tiering.as_ref().map_or(0, Tiering::len);
        self.code
            .code()
            .function(stubs + index)
            .expect("a compiled function per defined function")
    }

    /// The defined function that function `function` of registered code
    /// `code` is, the compiler of that code, and whether it is an on-stack
    /// replacement entry (`tier.rs`), if the code is this module's (its
    /// own, or a batch tier-up installed).
    pub(crate) fn frame_function(
        &self,
        code: CodeId,
        function: usize,
    ) -> Option<(u32, Compiler, bool)> {
        if code == self.code.id() {
            let compiler = match self.compiler {
                Compiler::Tiered => Compiler::Winch,
                compiler => compiler,
            };
            return Some((function as u32, compiler, false));
        }
        let (index, osr) = self.tiering.as_ref()?.optimized_function(code, function)?;
        Some((index, Compiler::Cranelift, osr))
    }
}

/// Where a module's code came from, and what of it [`Module::serialize`]
/// needs beyond the code and its tables (`LoadedCode` holds both).
enum Provenance {
    /// Compiled here: each defined function's metadata, without its bytes
    /// (which are in the code), for the absolute relocations and the
    /// unwind records the artifact's `.eh_frame` is written from.
    Compiled(Box<[FinishedCode]>),
    /// Loaded from an artifact: its absolute relocations, and where its
    /// `.eh_frame` section lies in the code's mapping (written out as it
    /// is).
    Precompiled {
        relocations: Box<[AbsoluteRelocation]>,
        eh_frame: Range<usize>,
    },
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
        let tiering = (compiler == Compiler::Tiered)
            .then(|| Tiering::new(wasm, &translation, engine.inner.config.tier_up));
        let mut functions = engine.compile_functions_with(compiler, translation)?;
        let defined = functions.len();
        if tiering.is_some() {
            for index in 0..defined as u32 {
                let stub = duet_environ::tierup::jump_stub(index, engine.inner.cpu)
                    .map_err(|e| Error::from(ErrorKind::Compile(format!("jump stub: {e}"))))?;
                functions.push(stub);
            }
        }
        let unlinked = UnlinkedCode::new(&functions)
            .map_err(|e| Error::from(ErrorKind::Resource(format!("code memory: {e}"))))?;
        if let Some(tiering) = &tiering {
            tiering.set_baseline(unlinked.function_addresses().take(defined));
        }
        let linked = link(unlinked, &info, tiering.as_ref())?;
        let name = info.name.as_deref().or(name).unwrap_or("wasm").to_string();
        Module::from_linked_code(engine, compiler, info, name, linked, functions, tiering)
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
        tiering: Option<Tiering>,
    ) -> Result<Module, Error> {
        let code = LoadedCode::new(
            &engine.inner.config,
            linked,
            CodeDetails::Compiled(&functions),
            || code_names(&info, &name, functions.len(), tiering.is_some()),
        )?;
        // The bytes are in `code` now; the rest is kept for `serialize`.
        functions.iter_mut().for_each(FinishedCode::strip_code);
        let provenance = Provenance::Compiled(functions.into_boxed_slice());
        let mut module = Module::wrap(engine, compiler, info, name, code, provenance);
        Arc::get_mut(&mut module.inner)
            .expect("the module was just made")
            .tiering = tiering;
        Ok(module)
    }

    /// The module around registered code.
    fn wrap(
        engine: &Engine,
        compiler: Compiler,
        info: ModuleInfo,
        name: String,
        code: LoadedCode,
        provenance: Provenance,
    ) -> Module {
        let type_ids = info.types.iter().map(|t| engine.type_id(t)).collect();
        Module {
            inner: Arc::new(ModuleInner {
                engine: engine.clone(),
                info,
                name,
                code,
                compiler,
                provenance,
                type_ids,
                images: std::sync::OnceLock::new(),
                tiering: None,
            }),
        }
    }

    /// The module as a precompiled artifact (a `.cwasm` file's bytes):
    /// its machine code, the code's tables and the module's metadata,
    /// with a fingerprint of the engine's settings the code depends on
    /// and a checksum. [`Module::deserialize`] loads it without compiling
    /// into an engine with the same settings (a module compiled by
    /// [`Module::new_with_compiler`] with the other compiler loads only
    /// into an engine configured with that compiler); the format is
    /// described in `crates/runtime/src/artifact.rs`. A tiered module
    /// ([`Compiler::Tiered`]) is refused with an
    /// [`ErrorKind::Config`](crate::ErrorKind::Config): its code is tied
    /// to its tier-up state in this process.
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
        if inner.tiering.is_some() {
            // Its code points at its tier-up state (counters, entries),
            // which lives in this process only.
            return Err(Error::from(ErrorKind::Config(
                "a tiered module cannot be precompiled: compile it with `winch` or \
                 `cranelift` to serialize it"
                    .to_string(),
            )));
        }
        let code = inner.code.code();
        let image = code.image();
        let eh_frame_offset = artifact::eh_frame_offset(image.len());
        let (relocations, eh_frame): (Vec<AbsoluteRelocation>, Vec<u8>) = match &inner.provenance {
            Provenance::Compiled(functions) => {
                let relocations = functions
                    .iter()
                    .enumerate()
                    .flat_map(|(i, f)| {
                        f.relocations()
                            .iter()
                            .filter_map(move |r| AbsoluteRelocation::of(i, r))
                    })
                    .collect();
                // The unwind section the loaded code registers in place:
                // pc-relative, at its offset after the code.
                let jit: Vec<JitFunction<'_>> = functions
                    .iter()
                    .zip(code.function_offsets())
                    .map(|(function, range)| JitFunction {
                        name: "",
                        range: range.clone(),
                        unwind: function.unwind(),
                        srclocs: Default::default(),
                    })
                    .collect();
                let addresses = crate::unwind::FdeAddresses::RelativeToSection {
                    section_offset: eh_frame_offset,
                };
                let eh_frame = crate::unwind::eh_frame(
                    &cranelift_asm::x64::UNWIND_CONVENTION,
                    &jit,
                    addresses,
                )
                .map_err(|e| Error::from(ErrorKind::Compile(format!("unwind tables: {e}"))))?;
                (relocations, eh_frame.unwrap_or_default())
            }
            Provenance::Precompiled {
                relocations,
                eh_frame,
            } => {
                let section = code
                    .bytes(eh_frame.clone())
                    .expect("the unwind section was checked to be in the mapping on load");
                (relocations.to_vec(), section.to_vec())
            }
        };
        artifact::serialize(
            &inner.engine,
            inner.compiler,
            &ArtifactParts {
                name: &inner.name,
                info: &inner.info,
                relocations: &relocations,
                tables: inner.code.tables().bytes(),
                code: image,
                eh_frame: &eh_frame,
            },
        )
    }

    /// Loads a module [`Module::serialize`] wrote, without compiling: the
    /// code is copied into executable memory and registered as
    /// [`Module::new`] registers compiled code, its tables (trap tables,
    /// source locations) copied as one block and searched as they are.
    /// Refused with an
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
        let bytes = bytes.as_ref();
        let loaded = artifact::load(engine, bytes).map_err(PrecompiledError::into_error)?;
        let tables = SharedBytes::owned(bytes[loaded.tables.clone()].to_vec());
        let image = &bytes[loaded.image.clone()];
        Module::from_artifact(engine, loaded, tables, |ranges, relocations| {
            UnlinkedCode::from_image(image, ranges, relocations)
        })
    }

    /// [`Module::deserialize`] from a file, mapped rather than read, and
    /// used in place: the code is mapped from the file (private,
    /// read+execute: nothing is copied, pages are read as the code runs)
    /// and the tables are searched where they lie in the file's mapping,
    /// which the module keeps until it is dropped.
    ///
    /// # Safety
    ///
    /// As for [`Module::deserialize`]; and the file must not be changed
    /// (truncated, rewritten) while the module (or anything it made)
    /// lives, as its code and tables are read from the file's mapping.
    pub unsafe fn deserialize_file(
        engine: &Engine,
        path: impl AsRef<Path>,
    ) -> Result<Module, Error> {
        // SAFETY: the caller promises the file does not change meanwhile.
        let (file, mapping) = unsafe { artifact::map_file(path.as_ref())? };
        let Some(mapping) = mapping else {
            // SAFETY: no bytes, no code: refused before anything runs.
            return unsafe { Module::deserialize(engine, b"") };
        };
        let mapping: Arc<dyn AsRef<[u8]> + Send + Sync> = Arc::new(mapping);
        let bytes = (*mapping).as_ref();
        let loaded = artifact::load(engine, bytes).map_err(PrecompiledError::into_error)?;
        let tables = SharedBytes::slice_of(mapping.clone(), loaded.tables.clone())
            .expect("`load` found the tables inside the artifact");
        let image = loaded.image.clone();
        Module::from_artifact(engine, loaded, tables, |ranges, relocations| {
            if crate::mmap::Mmap::is_page_aligned(image.start) {
                UnlinkedCode::from_file(&file, image.start as u64, image.len(), ranges, relocations)
            } else {
                // Pages larger than the artifact's alignment: copy.
                UnlinkedCode::from_image(&bytes[image], ranges, relocations)
            }
        })
    }

    /// Whether `bytes` start as a precompiled module does (the magic
    /// number [`Module::serialize`] writes), whatever follows; for telling
    /// a `.cwasm` file from a wasm one before choosing how to load it.
    pub fn is_precompiled(bytes: &[u8]) -> bool {
        artifact::is_precompiled(bytes)
    }

    /// Builds a module from a checked artifact: parses its `tables`, has
    /// `place` put the image into memory (function `i` at the tables'
    /// range `i`, with the absolute relocations to apply again), links and
    /// registers it.
    fn from_artifact(
        engine: &Engine,
        loaded: artifact::LoadedArtifact,
        tables: SharedBytes,
        place: impl FnOnce(
            Vec<Range<usize>>,
            Vec<(usize, cranelift_asm::buffer::Relocation)>,
        ) -> Result<UnlinkedCode, crate::code::CodeError>,
    ) -> Result<Module, Error> {
        let corrupt = |message: String| PrecompiledError::Corrupt(message).into_error();
        let tables = CodeTables::parse(tables, loaded.code_len).map_err(corrupt)?;
        let relocations = loaded.relocations.iter().map(|r| r.relocation()).collect();
        let unlinked = place(tables.function_ranges(), relocations)
            .map_err(|e| corrupt(format!("its code: {e}")))?;
        let linked = link(unlinked, &loaded.info, None)?;
        if !loaded.eh_frame.is_empty() {
            // The unwinder walks the section's entries by their lengths:
            // they must stay inside it (`load` put the section inside the
            // image, so inside the code's mapping).
            let section = linked.bytes(loaded.eh_frame.clone()).ok_or_else(|| {
                corrupt(format!(
                    "its unwind tables at {:?} lie past its code",
                    loaded.eh_frame
                ))
            })?;
            crate::unwind::check_section(section)
                .map_err(|e| corrupt(format!("its unwind tables: {e}")))?;
        }
        let (info, name) = (loaded.info, loaded.name);
        let functions = tables.len();
        let code = LoadedCode::new(
            &engine.inner.config,
            linked,
            CodeDetails::Precompiled {
                tables,
                eh_frame: loaded.eh_frame.clone(),
            },
            || code_names(&info, &name, functions, false),
        )?;
        let provenance = Provenance::Precompiled {
            relocations: loaded.relocations.into_boxed_slice(),
            eh_frame: loaded.eh_frame,
        };
        Ok(Module::wrap(
            engine,
            loaded.compiler,
            info,
            name,
            code,
            provenance,
        ))
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
        (0..self.num_defined_functions()).map(move |i| {
            let index = info.num_imported_functions + i as u32;
            let range = code.function_range(i).expect("i < len");
            (index, function_name(info, index), range)
        })
    }

    /// How many functions the module defines (and compiled).
    pub fn num_defined_functions(&self) -> usize {
        let stubs = self.inner.tiering.as_ref().map_or(0, Tiering::len);
        self.inner.code.code().len() - stubs
    }

    /// The compiler the module was compiled with.
    pub fn compiler(&self) -> Compiler {
        self.inner.compiler
    }

    /// Which tier's code the next call of function `func_index` (imports
    /// counted) runs: the module's compiler's, or in a tiered module
    /// [`Compiler::Winch`] until the function's optimized code is
    /// installed and [`Compiler::Cranelift`] from then on. `None` for an
    /// imported function or an index past the module's functions.
    ///
    /// ```
    /// use duet::{Compiler, Config, Engine, Instance, Module, Store};
    /// let mut config = Config::new();
    /// // Every function asks for the optimizing tier on its first call,
    /// // and is compiled before that call goes on.
    /// config.compiler(Compiler::Tiered).tier_up_budget(0).tier_up_synchronous(true);
    /// let engine = Engine::new(&config)?;
    /// let module = Module::new(&engine, r#"(module
    ///     (func (export "double") (param i32) (result i32)
    ///       (i32.add (local.get 0) (local.get 0))))"#)?;
    /// assert_eq!(module.tier_of(0), Some(Compiler::Winch));
    /// let mut store = Store::new(&engine, ());
    /// let instance = Instance::new(&mut store, &module, &[])?;
    /// let double = instance.get_typed_func::<i32, i32>(&mut store, "double")?;
    /// assert_eq!(double.call(&mut store, 21)?, 42); // baseline code
    /// assert_eq!(module.tier_of(0), Some(Compiler::Cranelift));
    /// assert_eq!(double.call(&mut store, 4)?, 8); // optimized code
    /// # Ok::<(), duet::Error>(())
    /// ```
    pub fn tier_of(&self, func_index: u32) -> Option<Compiler> {
        let info = &self.inner.info;
        let defined = func_index.checked_sub(info.num_imported_functions)? as usize;
        if defined >= self.num_defined_functions() {
            return None;
        }
        Some(match (&self.inner.tiering, self.inner.compiler) {
            (Some(tiering), _) if tiering.is_optimized(defined) => Compiler::Cranelift,
            (Some(_), _) => Compiler::Winch,
            (None, compiler) => compiler,
        })
    }

    /// How many of a tiered module's functions run optimized code (0 for
    /// a module of one tier).
    pub fn num_optimized_functions(&self) -> usize {
        self.inner
            .tiering
            .as_ref()
            .map_or(0, Tiering::optimized_count)
    }

    /// The bytes of machine code of the module's functions (a tiered
    /// module's baseline code).
    pub fn code_size(&self) -> usize {
        let code = self.inner.code.code();
        (0..self.num_defined_functions())
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
            // The baseline tier, counting against the tier-up budget
            // (`tier.rs`).
            #[cfg(all(feature = "winch", feature = "cranelift"))]
            Compiler::Tiered => winch_codegen::compile_module_on_threads(
                translation,
                duet_environ::tunables::Tunables {
                    tier_up: true,
                    ..self.tunables()
                },
                self.inner.cpu,
                self.compilation_threads(),
            )
            .map_err(|e| winch_error(self, e)),
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
/// functions, in `FUNCTION_NAMESPACE` by function index (imports counted),
/// and in a tiered module the counters and entry cells of `tiering`; a
/// tiered module's calls go to the functions' jump stubs, which follow
/// the functions.
fn link(
    unlinked: UnlinkedCode,
    info: &ModuleInfo,
    tiering: Option<&Tiering>,
) -> Result<CodeMemory, Error> {
    let addresses: Vec<usize> = unlinked.function_addresses().collect();
    let imported = info.num_imported_functions;
    let stubs = tiering.map_or(0, Tiering::len);
    unlinked
        .link(|name| {
            if name.namespace != FUNCTION_NAMESPACE {
                return tiering?.resolve_cell(name);
            }
            let defined = name.index.checked_sub(imported)? as usize;
            addresses.get(stubs + defined).copied()
        })
        .map_err(|e| Error::from(ErrorKind::Compile(format!("linking: {e}"))))
}

/// What a module's `count` functions are called in profiles and
/// debuggers: its defined functions, and with `stubs` a jump stub for
/// each after them (`[stub]`).
fn code_names(info: &ModuleInfo, name: &str, count: usize, stubs: bool) -> CodeNames {
    let imported = info.num_imported_functions;
    let defined = if stubs { count / 2 } else { count };
    CodeNames {
        module: name.to_string(),
        functions: (0..count)
            .map(|i| match i.checked_sub(defined) {
                None => function_name(info, imported + i as u32),
                Some(k) => format!("{} [stub]", function_name(info, imported + k as u32)),
            })
            .collect(),
    }
}

/// Function `index`'s name in profiles and debuggers: the name section's,
/// else `wasm-function[INDEX]`.
pub(crate) fn function_name(info: &ModuleInfo, index: u32) -> String {
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

    /// `bytes` with the checksum written again (as a tool that rewrote a
    /// field on purpose would).
    fn rechecksummed(mut bytes: Vec<u8>) -> Vec<u8> {
        let body = bytes.len() - 8;
        let checksum = xxhash_rust::xxh3::xxh3_64(&bytes[..body]);
        bytes[body..].copy_from_slice(&checksum.to_le_bytes());
        bytes
    }

    /// Damage the checksum cannot see (a hand-made artifact whose
    /// checksum was recomputed) in the code tables and the unwind section
    /// is refused as corrupt, naming the part, never a panic or a read
    /// out of bounds, from bytes and from a file alike.
    #[test]
    fn damaged_tables_with_a_matching_checksum_are_refused() {
        let engine = Engine::default();
        let module = Module::new(
            &engine,
            r#"(module
                (func (export "f") (param i32) (result i32)
                  (i32.div_s (i32.const 1) (local.get 0)))
                (func (export "g") (result i32) (call 0 (i32.const 1))))"#,
        )
        .unwrap();
        let bytes = module.serialize().unwrap();
        let parts = artifact::load(&engine, &bytes).unwrap();
        let (tables, image) = (parts.tables.start, parts.image.start);
        let eh_frame = image + parts.eh_frame.start;
        assert!(!parts.eh_frame.is_empty(), "both functions have frames");
        let write = |at: usize, value: u32| {
            let mut damaged = bytes.clone();
            damaged[at..at + 4].copy_from_slice(&value.to_le_bytes());
            rechecksummed(damaged)
        };
        // Two functions: the header (16 bytes), two starts, two ends, then
        // three trap bounds.
        let cases = [
            ("one function more", write(tables, 3), "code tables"),
            ("a trap record more", write(tables + 4, 1000), "code tables"),
            (
                "a function past the code",
                write(tables + 24, u32::MAX),
                "out of order or outside the code",
            ),
            (
                "trap bounds past their count",
                write(tables + 32 + 4, u32::MAX),
                "trap bounds",
            ),
            (
                "an unwind entry longer than the section",
                write(eh_frame, 0x7fff_fff0),
                ".eh_frame",
            ),
            (
                "an unwind section without terminator",
                {
                    let end = image + parts.eh_frame.end - 4;
                    write(end, 4)
                },
                ".eh_frame",
            ),
        ];
        let dir = std::env::temp_dir();
        for (what, damaged, expected) in cases {
            let path = dir.join(format!("duet-damaged-tables-{}.cwasm", std::process::id()));
            std::fs::write(&path, &damaged).unwrap();
            // SAFETY: refused before any code could run (asserted).
            let from_bytes = unsafe { Module::deserialize(&engine, &damaged) };
            let from_file = unsafe { Module::deserialize_file(&engine, &path) };
            for result in [from_bytes, from_file] {
                let error = result.map(drop).unwrap_err();
                assert!(
                    matches!(
                        error.downcast_ref::<ErrorKind>(),
                        Some(ErrorKind::Precompiled(PrecompiledError::Corrupt(message)))
                            if message.contains(expected)
                    ),
                    "{what}: {error}"
                );
            }
            std::fs::remove_file(&path).ok();
        }
        // SAFETY: made by `serialize` just above.
        assert!(unsafe { Module::deserialize(&engine, &bytes) }.is_ok());
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
