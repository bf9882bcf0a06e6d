//! Why a function could not be compiled.

use cranelift_asm::x64::{AsmError, Feature};

/// A function the compiler refused, with the byte offset in the module
/// where the problem is.
#[derive(Debug, thiserror::Error)]
pub enum CompileError {
    /// The function body is not valid WebAssembly.
    #[error("invalid function at offset {offset:#x}: {message}")]
    Invalid {
        /// The validator's message.
        message: String,
        /// Where in the module.
        offset: u64,
    },
    /// An operator the compiler does not support yet.
    #[error("unsupported operator `{operator}` at offset {offset:#x}")]
    Unsupported {
        /// The operator, named as the text format names it (`v128.const`,
        /// [`duet_environ::operator::text_name`]), perhaps with a word
        /// on why (`f32.ceil without sse4.1`).
        operator: String,
        /// Where in the module.
        offset: u64,
    },
    /// The function needs a CPU feature the target lacks.
    #[error("{what} at offset {offset:#x} needs {feature}, which the target CPU lacks")]
    MissingFeature {
        /// What needs it.
        what: &'static str,
        /// The feature.
        feature: Feature,
        /// Where in the module.
        offset: u64,
    },
    /// The assembler refused an instruction (a compiler bug: it names it).
    #[error("internal error: {0}")]
    Assembler(#[from] AsmError),
}

impl From<wasmparser::BinaryReaderError> for CompileError {
    fn from(error: wasmparser::BinaryReaderError) -> Self {
        CompileError::Invalid {
            message: error.message().to_string(),
            offset: error.offset(),
        }
    }
}
