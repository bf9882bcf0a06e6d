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
//! returned (`Err(Error::Trap(..))`, typically passed on with `?`) does not
//! add a level: the trap unwinds on as itself, keeping its code, its
//! source, and its frames followed by those of the wasm that called the
//! host function (`func.rs` says how).

use core::fmt;
use duet_environ::trap::Trap as TrapCode;

/// Everything the embedding API can fail with.
#[derive(Debug, thiserror::Error)]
pub enum Error {
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
    /// A trap: while running wasm, or while instantiating (a segment out of
    /// bounds, a trapping start function).
    #[error(transparent)]
    Trap(#[from] Trap),
    /// A host function's own error. When it unwinds through wasm it comes
    /// back as the source of a [`Trap`] with code
    /// [`TrapCode::HostError`]. Transparent: it displays as the error it
    /// holds, and its [`source`](std::error::Error::source) is that
    /// error's, so a chain of errors reads the same with or without this
    /// wrapper.
    #[error(transparent)]
    Host(Box<dyn std::error::Error + Send + Sync>),
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
    /// Reading a file (a module) or writing one (the perf map) failed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// What went wrong.
        source: std::io::Error,
    },
}

impl Error {
    /// A host error from a message (for host functions that fail).
    pub fn msg(message: impl Into<String>) -> Error {
        Error::Host(message.into().into())
    }

    /// The trap, if this is one.
    pub fn as_trap(&self) -> Option<&Trap> {
        match self {
            Error::Trap(trap) => Some(trap),
            _ => None,
        }
    }
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
    source: Option<Box<Error>>,
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
        self.source = Some(Box::new(source));
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
    /// [`MAX_BACKTRACE_FRAMES`](crate::traps::MAX_BACKTRACE_FRAMES)).
    pub fn is_truncated(&self) -> bool {
        self.truncated
    }

    /// The host function's error behind a [`TrapCode::HostError`].
    pub fn host_error(&self) -> Option<&Error> {
        self.source.as_deref()
    }
}

impl Trap {
    /// This trap, continuing to unwind through an outer activation whose
    /// wasm frames (innermost first) are `outer`, with `outer_truncated`
    /// saying whether that backtrace was cut off: `outer` is appended, up
    /// to [`MAX_BACKTRACE_FRAMES`](crate::traps::MAX_BACKTRACE_FRAMES) in
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
            .as_deref()
            .map(|e| e as &(dyn std::error::Error + 'static))
    }
}
