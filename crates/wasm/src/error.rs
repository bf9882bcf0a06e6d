//! Why a function body could not be translated.

/// A function the translator refused, with the byte offset in the module
/// where the problem is.
#[derive(Clone, PartialEq, Eq, Debug, thiserror::Error)]
pub enum WasmError {
    /// The body is malformed or invalid: wasmparser's decoder or
    /// validator said so.
    #[error("invalid function at offset {offset:#x}: {message}")]
    Invalid {
        /// wasmparser's message.
        message: String,
        /// Where in the module.
        offset: u64,
    },
    /// A valid operator the translator does not handle (SIMD, the
    /// post-2.0 proposals), named as the text format names it
    /// (`v128.load`, `return_call`:
    /// [`duet_environ::operator::operator_text_name`]).
    #[error("unsupported operator `{operator}` at offset {offset:#x}")]
    UnsupportedOperator {
        /// The operator's name.
        operator: String,
        /// Where in the module.
        offset: u64,
    },
    /// A value type the IR cannot hold yet (`v128`) or a reference type
    /// outside WebAssembly 2.0's `funcref` and `externref`.
    #[error("unsupported value type `{ty}` at offset {offset:#x}")]
    UnsupportedType {
        /// The type, as wasmparser prints it.
        ty: String,
        /// Where in the module.
        offset: u64,
    },
    /// An on-stack replacement entry asked for at a `loop` that cannot
    /// have one: none is reachable at that offset, or it has parameters
    /// or values below it on the operand stack
    /// (`FuncTranslator::translate_osr`).
    #[error("no on-stack replacement entry at offset {offset:#x}")]
    NoOsrEntry {
        /// The offset asked for.
        offset: u64,
    },
}

impl From<wasmparser::BinaryReaderError> for WasmError {
    fn from(error: wasmparser::BinaryReaderError) -> Self {
        WasmError::Invalid {
            message: error.message().to_string(),
            offset: error.offset(),
        }
    }
}
