//! The embedding API's errors, and traps as values.
//!
//! # Errors are chains
//!
//! Each error displays its own part only and names what caused it through
//! [`std::error::Error::source`]: a [`Trap`] says what trapped and where
//! (its code's message, then one line per wasm frame), and a
//! [`TrapCode::HostError`] trap's source is the host function's error, whose
//! own source may be another trap from a call the host function made, and
//! so on. Printing the whole story is the reader's walk down the chain (the
//! `duet` command prints each cause on a `caused by:` line); nothing is
//! repeated, however deep host functions and wasm call each other.
//!
//! A host function that fails with the very trap its own call into wasm
//! returned (an [`Error`] that is that [`Trap`], typically passed on with
//! `?`) does not
//! add a level: the trap unwinds on as itself, keeping its code, its
//! source, and its frames followed by those of the wasm that called the
//! host function (`func.rs` says how).

use core::fmt;
use duet_environ::trap::Trap as TrapCode;

/// Everything the embedding API can fail with: [`anyhow::Error`], as in
/// Wasmtime. What failed is the error it holds, found with
/// [`downcast_ref`](anyhow::Error::downcast_ref): a [`Trap`] for a trap
/// (`err.downcast_ref::<duet::Trap>()`), an [`ErrorKind`] for the
/// runtime's other failures, and a host function's own error (an
/// [`std::io::Error`], say) as itself. `?` converts any
/// `std::error::Error + Send + Sync + 'static` into it, so host functions
/// and embedders mix duet's results with their own and with `anyhow`'s.
/// `docs/embedding.md` says why this and not an enum.
pub type Error = anyhow::Error;

/// A result with [`Error`]; `duet::Result<T>` as `wasmtime::Result<T>`.
pub type Result<T, E = Error> = core::result::Result<T, E>;

/// The runtime's failures other than traps: what an [`Error`] holds when
/// a module does not compile or link, a value has the wrong type, a limit
/// refuses, and so on (`err.downcast_ref::<duet::ErrorKind>()`). Each
/// message is one line.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The module is malformed or invalid (wasmparser's message, with the
    /// byte offset), or its text does not parse.
    #[error("invalid module: {0}")]
    Invalid(String),
    /// The module uses a feature or operator the engine does not support.
    #[error("unsupported: {0}")]
    Unsupported(String),
    /// The compiler failed for another reason (a compiler bug; it names
    /// the instruction).
    #[error("compilation failed: {0}")]
    Compile(String),
    /// An import is missing or has the wrong type.
    #[error("{0}")]
    Unlinkable(String),
    /// A value or entity of the wrong type, from another store, or a write
    /// to an immutable global: the embedder's mistake.
    #[error("{0}")]
    Type(String),
    /// A memory or table could not be created or grown.
    #[error("{0}")]
    Resource(String),
    /// A store's [`ResourceLimiter`](crate::ResourceLimiter) refused a
    /// memory or table (its initial size or a growth through the API) or an
    /// instantiation past a count; the message names the limit.
    #[error("{0}")]
    Limit(String),
    /// The engine's configuration cannot be honoured.
    #[error("configuration: {0}")]
    Config(String),
    /// Bytes given to [`Module::deserialize`](crate::Module::deserialize)
    /// are not a precompiled module this engine can load: the reason says
    /// which check refused them.
    #[error("precompiled module: {0}")]
    Precompiled(crate::PrecompiledError),
    /// Reading a file (a module) or writing one (the perf map) failed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// What went wrong.
        source: std::io::Error,
    },
}

/// One wasm frame of a trap's backtrace.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FrameInfo {
    /// The function's index in its module's function index space.
    pub func_index: u32,
    /// The function's name from the `name` section, if any.
    pub func_name: Option<String>,
    /// The byte offset in the module of the trapping instruction (innermost
    /// frame) or of the call (outer frames), when known.
    pub module_offset: Option<u32>,
    /// Whose code the frame ran: [`Compiler::Winch`](crate::Compiler::Winch) or
    /// [`Compiler::Cranelift`](crate::Compiler::Cranelift) (a tiered module's frames say which of its
    /// function's two versions ran).
    pub compiler: crate::Compiler,
}

/// The fields as methods, under the names Wasmtime's `FrameInfo` gives
/// them, so that code written for Wasmtime reads a frame unchanged.
impl FrameInfo {
    /// [`FrameInfo::func_index`](field@FrameInfo::func_index).
    pub fn func_index(&self) -> u32 {
        self.func_index
    }

    /// [`FrameInfo::func_name`](field@FrameInfo::func_name).
    pub fn func_name(&self) -> Option<&str> {
        self.func_name.as_deref()
    }

    /// [`FrameInfo::module_offset`](field@FrameInfo::module_offset), as
    /// Wasmtime's `usize`.
    pub fn module_offset(&self) -> Option<usize> {
        self.module_offset.map(|offset| offset as usize)
    }
}

impl fmt::Display for FrameInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.func_name {
            Some(name) => write!(f, "{name} (func {})", self.func_index)?,
            None => write!(f, "func {}", self.func_index)?,
        }
        if let Some(offset) = self.module_offset {
            write!(f, " at offset {offset:#x}")?;
        }
        Ok(())
    }
}

/// A wasm trap: its code, the wasm frames on the stack, innermost first,
/// and for [`TrapCode::HostError`] the host function's error.
#[derive(Debug)]
pub struct Trap {
    code: TrapCode,
    frames: Vec<FrameInfo>,
    /// Whether outer frames were left out (the backtrace is capped).
    truncated: bool,
    source: Option<Error>,
}

impl Trap {
    /// A trap without frames (instantiation's own traps).
    pub(crate) fn new(code: TrapCode) -> Trap {
        Trap {
            code,
            frames: Vec::new(),
            truncated: false,
            source: None,
        }
    }

    pub(crate) fn with_frames(code: TrapCode, frames: Vec<FrameInfo>, truncated: bool) -> Trap {
        Trap {
            code,
            frames,
            truncated,
            source: None,
        }
    }

    pub(crate) fn with_source(mut self, source: Error) -> Trap {
        self.source = Some(source);
        self
    }

    /// What trapped.
    pub fn code(&self) -> TrapCode {
        self.code
    }

    /// The wasm frames, innermost first (empty when the trap happened
    /// outside wasm code, as during instantiation).
    pub fn frames(&self) -> &[FrameInfo] {
        &self.frames
    }

    /// Whether the outermost frames were left out of [`frames`](Self::frames)
    /// (a deep stack: the backtrace holds at most
    /// `traps::MAX_BACKTRACE_FRAMES`, 64 frames).
    pub fn is_truncated(&self) -> bool {
        self.truncated
    }

    /// The host function's error behind a [`TrapCode::HostError`].
    pub fn host_error(&self) -> Option<&Error> {
        self.source.as_ref()
    }
}

impl Trap {
    /// This trap, continuing to unwind through an outer activation whose
    /// wasm frames (innermost first) are `outer`, with `outer_truncated`
    /// saying whether that backtrace was cut off: `outer` is appended, up
    /// to `traps::MAX_BACKTRACE_FRAMES` in
    /// all. A backtrace already cut off gets nothing appended (its
    /// outermost frames are missing, and frames after a gap would mislead).
    pub(crate) fn unwound_through(
        mut self,
        mut outer: Vec<FrameInfo>,
        outer_truncated: bool,
    ) -> Trap {
        if self.truncated {
            return self;
        }
        let room = crate::traps::MAX_BACKTRACE_FRAMES.saturating_sub(self.frames.len());
        let cut = outer.len() > room;
        outer.truncate(room);
        self.frames.append(&mut outer);
        self.truncated = cut || outer_truncated;
        self
    }
}

/// The code's message and the frames, one line each and numbered from the
/// innermost; a run of three or more identical frames (deep recursion) is
/// its first frame and one line `... the frame above repeated N more
/// times`. The
/// host error, if any, is the [`source`](std::error::Error::source), not
/// part of this text (see the module docs).
impl fmt::Display for Trap {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code.message())?;
        let mut i = 0;
        while let Some(frame) = self.frames.get(i) {
            write!(f, "\n  {i}: {frame}")?;
            let repeats = self.frames[i + 1..]
                .iter()
                .take_while(|next| *next == frame)
                .count();
            // Two identical frames are listed as they are: a line for a
            // line.
            if repeats < 2 {
                i += 1;
                continue;
            }
            write!(f, "\n  ... the frame above repeated {repeats} more times")?;
            i += 1 + repeats;
        }
        if self.truncated {
            write!(f, "\n  ... (outer frames left out)")?;
        }
        Ok(())
    }
}

impl std::error::Error for Trap {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source
            .as_ref()
            .map(|e| e.as_ref() as &(dyn std::error::Error + 'static))
    }
}
