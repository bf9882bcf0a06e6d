//! Precompiled modules: a compiled [`Module`] written out as bytes (a
//! `.cwasm` file, [`Module::serialize`]) and loaded back into executable
//! memory without compiling anything ([`Module::deserialize`],
//! [`Module::deserialize_file`]).
//!
//! # The format
//!
//! ```text
//!   0 ┌───────────────────────────────────────────────────────────┐
//!     │ magic number  "\0duet-cwasm"                   11 bytes   │
//!  11 │ format version                                 u32 LE     │
//!  15 ├───────────────────────────────────────────────────────────┤
//!     │ header (postcard): the duet version, then the engine       │
//!     │   fingerprint: target, compiler, wasm features, tunables,  │
//!     │   CPU features the code was compiled for                   │
//!     ├───────────────────────────────────────────────────────────┤
//!     │ metadata (postcard): the module's name, its module info    │
//!     │   (duet_environ::module::Module), the code's absolute      │
//!     │   relocations (none today), the lengths of the three parts │
//!     │   below                                                    │
//!     ├───────────────────────────────────────────────────────────┤
//!     │ code tables (tables.rs): function ranges, trap tables and  │
//!     │   source locations, columns of u32 as they are searched    │
//!     ├─ zeros up to a multiple of 4096 ──────────────────────────┤
//!     │ code image: the module's code memory as linked, function 0 │
//!     │   at offset 0, int3 padding between functions              │
//!     ├─ zeros up to a multiple of 8 (only with a section) ───────┤
//!     │ .eh_frame: one CIE per 4096 functions, an FDE per function │
//!     │   with a frame, addresses pc-relative (DW_EH_PE_pcrel),    │
//!     │   a zero terminator                                        │
//!     ├───────────────────────────────────────────────────────────┤
//!     │ checksum: XXH3-64 of every byte above                u64 LE│
//!     └───────────────────────────────────────────────────────────┘
//! ```
//!
//! Loading checks, in this order, and refuses with a
//! [`PrecompiledError`] naming what is wrong: the magic number (a wasm
//! binary is told apart and named as one), the format version, the
//! checksum (any damaged or missing byte), the duet version, then each
//! field of the fingerprint against the loading engine's (naming the
//! field and both values). Then the metadata is decoded and the three
//! parts' lengths must add up to the artifact's; the tables' structure is
//! checked (`CodeTables::parse`: counts, function ranges in order and
//! inside the code, record bounds, in time linear in the functions) and
//! so is the unwind section's (each entry inside it, the terminator at
//! its end). Nothing else is decoded: the module info is the only
//! per-load deserialization, and no per-function structure is built.
//!
//! # Loading in place
//!
//! The layout is chosen so that a load touches each byte as it is meant
//! to be used ([`Module::deserialize_file`]):
//!
//! * the file is mapped read-only once; the checksum reads it (the
//!   mapping is populated in one go, from the page cache);
//! * the tables are searched where they lie in that mapping, which the
//!   module keeps (an `Arc`) for as long as its code is registered: the
//!   trap registry's entry for the module is the tables themselves;
//! * the image, page-aligned in the file, is mapped a second time,
//!   private and read-only, then made read+execute: no copy, its pages
//!   come from the page cache as they run. An absolute relocation (none
//!   today) makes the mapping writable while it is patched, so only the
//!   pages it patches are copied (copy-on-write), then read+execute;
//! * the `.eh_frame` section lies in the same mapping right after the
//!   code, and names its functions relative to itself, so it is right
//!   wherever the image lands: it is registered with the unwinder as it
//!   is (libgcc sorts its FDEs at the first lookup, not at registration).
//!
//! [`Module::deserialize`] (bytes already in memory) copies the tables
//! into one heap buffer and the image into fresh executable memory,
//! the rest as above.
//!
//! # Why the code is stored linked
//!
//! The compilers' relocations name only other functions of the same
//! module (builtins are reached through the VMContext), and every one they
//! emit is PC-relative: `S + A - P` with `S` and `P` in the same image is
//! the same wherever the image is placed. The linked image is therefore
//! position-independent, and loading maps or copies it as one block
//! instead of laying out and relinking thousands of functions. Relocations
//! whose value does depend on the address (`Abs64`, which no compiler
//! emits today) are kept in the metadata and applied again on load
//! (`UnlinkedCode::from_image`, `UnlinkedCode::from_file`).
//!
//! # Why the module info is serialized, not translated again
//!
//! The alternative, storing the wasm bytes and running
//! `duet_environ::module::translate` again (without compiling bodies),
//! would be cheap too (1.2 ms for SpiderMonkey, `benches/precompiled.rs`),
//! but puts a second copy of the wasm (4.2 MB) into the artifact and under
//! the checksum, and makes a load depend on the translator giving the very
//! module info the code was compiled against. Serializing it (serde's
//! derive behind `duet-environ`'s `serde` feature, postcard) keeps the
//! artifact self-contained; decoding it is most of what a load still
//! costs besides the checksum (`docs/benchmarks.md`, "Precompiled
//! modules").
//!
//! # Trust
//!
//! The checksum catches corruption (a truncated download, a flipped bit),
//! not malice: anyone can write a matching checksum. A checksummed
//! artifact's code is run as it is, so loading one is `unsafe`: the caller
//! promises the bytes came from [`Module::serialize`] of a duet engine.
//! The structural checks after the checksum are not a defence against a
//! crafted artifact either; they make sure that no table lookup, and no
//! walk of the unwind section, can leave the bytes it was given, and that
//! damage the checksum cannot see (one rewritten on purpose) is an error,
//! not a panic. A module loaded from a file reads its code and tables
//! from the file for as long as it lives, so the file must not change
//! meanwhile ([`Module::deserialize_file`]'s contract).

use core::ops::Range;
use std::borrow::Cow;
use std::path::Path;

use cranelift_asm::buffer::Relocation;
use cranelift_asm::{ExternalName, RelocKind};
use duet_environ::module::Module as ModuleInfo;
use serde::{Deserialize, Serialize};

use crate::engine::{Compiler, Engine};
use crate::error::{Error, ErrorKind};
#[cfg(doc)]
use crate::module::Module;
use crate::module::hex;

/// The bytes every precompiled module starts with.
pub(crate) const MAGIC: [u8; 11] = *b"\0duet-cwasm";

/// The format this duet writes and reads. Any change to the layout above
/// or to a serialized type increments it.
pub const FORMAT_VERSION: u32 = 2;

/// The duet version, which a loading duet must match: code and metadata
/// assume that version's VMContext layout, calling convention and builtins.
const DUET_VERSION: &str = env!("CARGO_PKG_VERSION");

/// The magic number and the format version.
const PREFIX_LEN: usize = MAGIC.len() + 4;

/// The trailing checksum.
const CHECKSUM_LEN: usize = 8;

/// Why bytes could not be loaded as a precompiled module. Each message is
/// one line.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PrecompiledError {
    /// The bytes are a WebAssembly binary, which [`Module::new`] compiles.
    #[error(
        "this is a WebAssembly binary, not a precompiled module (compile it with Module::new, \
         or `duet compile -o FILE.cwasm` to precompile it)"
    )]
    WasmBinary,
    /// The bytes do not start with the magic number.
    #[error(
        "not a precompiled duet module: it starts with {found}, not the magic number {expected}",
        expected = hex(&MAGIC)
    )]
    NotAnArtifact {
        /// The first bytes (up to the magic number's length).
        found: String,
    },
    /// Another version of the format.
    #[error(
        "the artifact has format version {found}, this duet reads version {FORMAT_VERSION}: \
         compile the module again"
    )]
    FormatVersion {
        /// The artifact's format version.
        found: u32,
    },
    /// The checksum does not match, or the bytes cannot be decoded.
    #[error("the artifact is corrupt: {0}")]
    Corrupt(String),
    /// Written by another version of duet.
    #[error(
        "the artifact was compiled by duet {found}, this is duet {DUET_VERSION}: compile the module again"
    )]
    DuetVersion {
        /// The artifact's duet version.
        found: String,
    },
    /// Compiled with a setting the loading engine does not have.
    #[error(
        "the artifact was compiled with {setting} {artifact}, the engine's {setting} is {engine}"
    )]
    Mismatch {
        /// The setting (`compiler`, `CPU features`, `consume_fuel`, ...).
        setting: &'static str,
        /// The artifact's value.
        artifact: String,
        /// The engine's value.
        engine: String,
    },
}

impl PrecompiledError {
    /// As the embedding API reports it: an [`ErrorKind::Precompiled`].
    pub(crate) fn into_error(self) -> Error {
        Error::from(ErrorKind::Precompiled(self))
    }
}

/// Whether `bytes` start with a precompiled module's magic number.
pub(crate) fn is_precompiled(bytes: &[u8]) -> bool {
    bytes.starts_with(&MAGIC)
}

/// Everything about an engine (and the compiler a module used) that the
/// code depends on: an artifact loads only into an engine with the same.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
struct Fingerprint {
    /// The target triple (the host's: duet compiles for the host only).
    target: String,
    /// The compiler's name.
    compiler: String,
    /// `wasmparser::WasmFeatures`' bits: what the module was validated
    /// against and what the code may use.
    wasm_features: u64,
    /// `Tunables::memory_reservation`: bounds checks were elided for it.
    memory_reservation: u64,
    /// `Tunables::memory_guard_size`: likewise.
    memory_guard_size: u64,
    /// Whether the code charges fuel.
    consume_fuel: bool,
    /// Whether the code checks the epoch.
    epoch_interruption: bool,
    /// The CPU features the code may use, by name.
    cpu_features: Vec<String>,
}

impl Fingerprint {
    /// `engine`'s fingerprint, for code compiled by `compiler`.
    fn of(engine: &Engine, compiler: Compiler) -> Fingerprint {
        let tunables = engine.tunables();
        Fingerprint {
            target: target_lexicon::Triple::host().to_string(),
            compiler: compiler.name().to_string(),
            wasm_features: engine.features().bits(),
            memory_reservation: tunables.memory_reservation,
            memory_guard_size: tunables.memory_guard_size,
            consume_fuel: tunables.consume_fuel,
            epoch_interruption: tunables.epoch_interruption,
            cpu_features: engine
                .cpu_features()
                .iter()
                .map(|f| f.name().to_string())
                .collect(),
        }
    }

    /// The first field in which the artifact's fingerprint (`self`)
    /// differs from the engine's, as an error naming it.
    fn check(&self, engine: &Fingerprint) -> Result<(), PrecompiledError> {
        let mismatch = |setting, artifact: String, engine: String| {
            Err(PrecompiledError::Mismatch {
                setting,
                artifact,
                engine,
            })
        };
        if self.target != engine.target {
            return mismatch("target", self.target.clone(), engine.target.clone());
        }
        if self.compiler != engine.compiler {
            return mismatch("compiler", self.compiler.clone(), engine.compiler.clone());
        }
        if self.wasm_features != engine.wasm_features {
            let names = |bits: u64| {
                wasmparser::WasmFeatures::from_bits_retain(bits)
                    .iter_names()
                    .map(|(name, _)| name.to_lowercase())
                    .collect::<Vec<_>>()
            };
            let (ours, theirs) = (names(self.wasm_features), names(engine.wasm_features));
            return mismatch(
                "WebAssembly features",
                set_difference("only", &ours, &theirs),
                set_difference("only", &theirs, &ours),
            );
        }
        let on = |b: bool| if b { "on" } else { "off" }.to_string();
        if self.consume_fuel != engine.consume_fuel {
            return mismatch(
                "consume_fuel",
                on(self.consume_fuel),
                on(engine.consume_fuel),
            );
        }
        if self.epoch_interruption != engine.epoch_interruption {
            return mismatch(
                "epoch_interruption",
                on(self.epoch_interruption),
                on(engine.epoch_interruption),
            );
        }
        if self.memory_reservation != engine.memory_reservation {
            return mismatch(
                "memory_reservation",
                self.memory_reservation.to_string(),
                engine.memory_reservation.to_string(),
            );
        }
        if self.memory_guard_size != engine.memory_guard_size {
            return mismatch(
                "memory_guard_size",
                self.memory_guard_size.to_string(),
                engine.memory_guard_size.to_string(),
            );
        }
        if self.cpu_features != engine.cpu_features {
            return mismatch(
                "CPU features",
                format!("[{}]", self.cpu_features.join(", ")),
                format!(
                    "[{}] ({}; {})",
                    engine.cpu_features.join(", "),
                    set_difference(
                        "only the artifact's",
                        &self.cpu_features,
                        &engine.cpu_features
                    ),
                    set_difference(
                        "only the engine's",
                        &engine.cpu_features,
                        &self.cpu_features
                    ),
                ),
            );
        }
        Ok(())
    }
}

/// `LABEL: a, b` for the items of `set` not in `other`, or `LABEL: none`.
fn set_difference(label: &str, set: &[String], other: &[String]) -> String {
    let only: Vec<&str> = set
        .iter()
        .filter(|item| !other.contains(item))
        .map(String::as_str)
        .collect();
    if only.is_empty() {
        format!("{label}: none")
    } else {
        format!("{label}: {}", only.join(", "))
    }
}

/// The header after the prefix: who wrote the artifact, and for what.
#[derive(Serialize, Deserialize)]
struct Header {
    duet_version: Cow<'static, str>,
    fingerprint: Fingerprint,
}

/// A relocation whose value depends on where the code is (`Abs64`), kept
/// to be applied again on load.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct AbsoluteRelocation {
    /// The function it patches.
    function: u32,
    /// The field's offset in the function.
    offset: u32,
    /// The target's namespace and index (`ExternalName`).
    namespace: u32,
    index: u32,
    addend: i64,
}

impl AbsoluteRelocation {
    /// Function `function`'s `relocation`, if it is absolute.
    pub(crate) fn of(function: usize, relocation: &Relocation) -> Option<AbsoluteRelocation> {
        (relocation.kind == RelocKind::Abs64).then_some(AbsoluteRelocation {
            function: function as u32,
            offset: relocation.offset,
            namespace: relocation.target.namespace,
            index: relocation.target.index,
            addend: relocation.addend,
        })
    }

    /// The function's index and the relocation, as linking takes them.
    pub(crate) fn relocation(&self) -> (usize, Relocation) {
        (
            self.function as usize,
            Relocation {
                offset: self.offset,
                kind: RelocKind::Abs64,
                target: ExternalName::new(self.namespace, self.index),
                addend: self.addend,
            },
        )
    }
}

/// What rebuilds the module around its tables and code image.
#[derive(Serialize, Deserialize)]
struct Metadata<'a> {
    /// [`Module::name`].
    name: Cow<'a, str>,
    /// The module info, as translation made it.
    info: Cow<'a, ModuleInfo>,
    /// The code's absolute relocations (none from today's compilers).
    relocations: Cow<'a, [AbsoluteRelocation]>,
    /// The code tables' length in bytes.
    tables_len: u64,
    /// The code's length in bytes (the image's first part).
    code_len: u64,
    /// The `.eh_frame` section's length in bytes (0 for none).
    eh_frame_len: u64,
}

/// The code image's alignment in the file: a page, so that it can be
/// mapped in place.
const IMAGE_ALIGNMENT: usize = 4096;

/// The `.eh_frame` section's alignment after the code.
const EH_FRAME_ALIGNMENT: usize = 8;

/// Where the `.eh_frame` section starts in an image with `code_len`
/// bytes of code.
pub(crate) fn eh_frame_offset(code_len: usize) -> usize {
    code_len.next_multiple_of(EH_FRAME_ALIGNMENT)
}

/// A module's parts, as [`serialize`] writes them.
pub(crate) struct ArtifactParts<'a> {
    /// [`Module::name`].
    pub name: &'a str,
    /// The module info.
    pub info: &'a ModuleInfo,
    /// The code's absolute relocations.
    pub relocations: &'a [AbsoluteRelocation],
    /// The code tables (`tables.rs`).
    pub tables: &'a [u8],
    /// The linked code, function 0 at offset 0.
    pub code: &'a [u8],
    /// The `.eh_frame` section, its addresses relative to itself and
    /// placed at [`eh_frame_offset`] after `code`; empty for none.
    pub eh_frame: &'a [u8],
}

/// What [`load`] found in an artifact: the decoded metadata, and where
/// the other parts are in its bytes.
pub(crate) struct LoadedArtifact {
    pub compiler: Compiler,
    pub name: String,
    pub info: ModuleInfo,
    pub relocations: Vec<AbsoluteRelocation>,
    /// The code tables' bytes.
    pub tables: Range<usize>,
    /// The image's bytes (code, then the unwind section), starting at a
    /// multiple of [`IMAGE_ALIGNMENT`].
    pub image: Range<usize>,
    /// The code's length, at the image's start.
    pub code_len: usize,
    /// The unwind section's bytes in the image (empty for none).
    pub eh_frame: Range<usize>,
}

/// The artifact of a module: see the [module docs](self).
pub(crate) fn serialize(
    engine: &Engine,
    compiler: Compiler,
    parts: &ArtifactParts<'_>,
) -> Result<Vec<u8>, Error> {
    let encoding = |e: postcard::Error| {
        Error::from(ErrorKind::Compile(format!(
            "encoding the precompiled module: {e}"
        )))
    };
    let image_len = eh_frame_offset(parts.code.len()) + parts.eh_frame.len();
    let mut out = Vec::with_capacity(parts.tables.len() + image_len + 2 * IMAGE_ALIGNMENT);
    out.extend_from_slice(&MAGIC);
    out.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
    let header = Header {
        duet_version: Cow::Borrowed(DUET_VERSION),
        fingerprint: Fingerprint::of(engine, compiler),
    };
    let metadata = Metadata {
        name: Cow::Borrowed(parts.name),
        info: Cow::Borrowed(parts.info),
        relocations: Cow::Borrowed(parts.relocations),
        tables_len: parts.tables.len() as u64,
        code_len: parts.code.len() as u64,
        eh_frame_len: parts.eh_frame.len() as u64,
    };
    let mut out = postcard::to_extend(&header, out).map_err(encoding)?;
    out = postcard::to_extend(&metadata, out).map_err(encoding)?;
    out.extend_from_slice(parts.tables);
    out.resize(out.len().next_multiple_of(IMAGE_ALIGNMENT), 0);
    out.extend_from_slice(parts.code);
    if !parts.eh_frame.is_empty() {
        out.resize(out.len().next_multiple_of(EH_FRAME_ALIGNMENT), 0);
        out.extend_from_slice(parts.eh_frame);
    }
    let checksum = xxhash_rust::xxh3::xxh3_64(&out);
    out.extend_from_slice(&checksum.to_le_bytes());
    Ok(out)
}

/// Checks `bytes` as an artifact for `engine` (see the [module
/// docs](self) for the order), decodes its metadata and says where the
/// tables and the image are.
pub(crate) fn load(engine: &Engine, bytes: &[u8]) -> Result<LoadedArtifact, PrecompiledError> {
    if !is_precompiled(bytes) {
        if bytes.starts_with(b"\0asm") {
            return Err(PrecompiledError::WasmBinary);
        }
        return Err(PrecompiledError::NotAnArtifact {
            found: hex(&bytes[..bytes.len().min(MAGIC.len())]),
        });
    }
    let Some(version) = bytes.get(MAGIC.len()..PREFIX_LEN) else {
        return Err(cut_short(bytes.len()));
    };
    let version = u32::from_le_bytes(version.try_into().expect("4 bytes"));
    if version != FORMAT_VERSION {
        return Err(PrecompiledError::FormatVersion { found: version });
    }
    if bytes.len() < PREFIX_LEN + CHECKSUM_LEN {
        return Err(cut_short(bytes.len()));
    }
    let (checked, stored) = bytes.split_at(bytes.len() - CHECKSUM_LEN);
    let stored = u64::from_le_bytes(stored.try_into().expect("8 bytes"));
    let computed = xxhash_rust::xxh3::xxh3_64(checked);
    if stored != computed {
        return Err(PrecompiledError::Corrupt(format!(
            "checksum mismatch (stored {stored:016x}, computed {computed:016x}): the file is \
             damaged or cut short"
        )));
    }
    let undecodable =
        |what: &str, e: postcard::Error| PrecompiledError::Corrupt(format!("its {what}: {e}"));
    let (header, rest): (Header, _) =
        postcard::take_from_bytes(&checked[PREFIX_LEN..]).map_err(|e| undecodable("header", e))?;
    if header.duet_version != DUET_VERSION {
        return Err(PrecompiledError::DuetVersion {
            found: header.duet_version.into_owned(),
        });
    }
    // The code was compiled by the artifact's compiler; it must be the
    // engine's, as every other setting must be.
    let compiler = engine.compiler();
    header
        .fingerprint
        .check(&Fingerprint::of(engine, compiler))?;
    let (metadata, rest): (Metadata<'static>, _) =
        postcard::take_from_bytes(rest).map_err(|e| undecodable("metadata", e))?;
    // The parts after the metadata, each where `serialize` put it; the
    // lengths are checked in u64 so that no sum can overflow.
    let tables_start = checked.len() - rest.len();
    let tables_end = tables_start as u64 + metadata.tables_len;
    let image_start = tables_end.next_multiple_of(IMAGE_ALIGNMENT as u64);
    let eh_frame_start = metadata
        .code_len
        .next_multiple_of(EH_FRAME_ALIGNMENT as u64);
    let image_len = match metadata.eh_frame_len {
        0 => metadata.code_len,
        len => eh_frame_start + len,
    };
    let expected = image_start.checked_add(image_len);
    if metadata.tables_len > checked.len() as u64
        || metadata.code_len > checked.len() as u64
        || metadata.eh_frame_len > checked.len() as u64
        || expected != Some(checked.len() as u64)
    {
        return Err(PrecompiledError::Corrupt(format!(
            "its parts (tables of {} bytes, code of {}, unwind tables of {}) do not add up to \
             its {} bytes",
            metadata.tables_len,
            metadata.code_len,
            metadata.eh_frame_len,
            bytes.len()
        )));
    }
    let (image_start, code_len) = (image_start as usize, metadata.code_len as usize);
    let eh_frame = match metadata.eh_frame_len {
        0 => 0..0,
        len => eh_frame_start as usize..(eh_frame_start + len) as usize,
    };
    Ok(LoadedArtifact {
        compiler,
        name: metadata.name.into_owned(),
        info: metadata.info.into_owned(),
        relocations: metadata.relocations.into_owned(),
        tables: tables_start..tables_end as usize,
        image: image_start..checked.len(),
        code_len,
        eh_frame,
    })
}

/// An artifact shorter than its fixed parts.
fn cut_short(len: usize) -> PrecompiledError {
    PrecompiledError::Corrupt(format!(
        "it has {len} bytes, fewer than the {} of an empty artifact's fixed parts",
        PREFIX_LEN + CHECKSUM_LEN
    ))
}

/// `path` opened and mapped read-only (shared with the page cache, read
/// ahead in one go: the checksum reads every byte); `None` for an empty
/// file, which cannot be mapped.
///
/// # Safety
///
/// The file must not change while it is mapped (another process
/// truncating it would fault this one).
pub(crate) unsafe fn map_file(
    path: &Path,
) -> Result<(std::fs::File, Option<memmap2::Mmap>), Error> {
    let io = |source| {
        Error::from(ErrorKind::Io {
            path: path.display().to_string(),
            source,
        })
    };
    let file = std::fs::File::open(path).map_err(io)?;
    let len = file.metadata().map_err(io)?.len();
    if len == 0 {
        return Ok((file, None));
    }
    // SAFETY: the caller promises the file does not change while mapped.
    let mapping = unsafe { memmap2::MmapOptions::new().populate().map(&file) }.map_err(io)?;
    Ok((file, Some(mapping)))
}
