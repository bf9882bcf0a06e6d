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
    /// post-2.0 proposals), named as in the text format with `_` for `.`
    /// (`v128_load`, `return_call`).
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
}

impl From<wasmparser::BinaryReaderError> for WasmError {
    fn from(error: wasmparser::BinaryReaderError) -> Self {
        WasmError::Invalid {
            message: error.message().to_string(),
            offset: error.offset(),
        }
    }
}

/// The snake-case name of an operator (`I32AtomicRmw8AddU` becomes
/// `i32_atomic_rmw8_add_u`), from its `Debug` spelling: the variant's name,
/// split before each capital that follows a lower-case letter or a digit.
pub(crate) fn operator_name(op: &wasmparser::Operator<'_>) -> String {
    let debug = format!("{op:?}");
    let variant = debug
        .split(|c: char| !c.is_ascii_alphanumeric())
        .next()
        .unwrap_or_default();
    let mut name = String::with_capacity(variant.len() + 4);
    let mut previous: Option<char> = None;
    for c in variant.chars() {
        if c.is_ascii_uppercase()
            && previous.is_some_and(|p| p.is_ascii_lowercase() || p.is_ascii_digit())
        {
            name.push('_');
        }
        name.push(c.to_ascii_lowercase());
        previous = Some(c);
    }
    name
}

#[cfg(test)]
mod tests {
    use super::*;
    use wasmparser::{MemArg, Operator};

    #[test]
    fn operator_names_follow_the_text_format() {
        let memarg = MemArg {
            align: 0,
            max_align: 0,
            offset: 0,
            target: Default::default(),
            ordering: None,
        };
        assert_eq!(operator_name(&Operator::V128Load { memarg }), "v128_load");
        assert_eq!(
            operator_name(&Operator::I32AtomicRmw8AddU { memarg }),
            "i32_atomic_rmw8_add_u"
        );
        assert_eq!(operator_name(&Operator::I8x16Swizzle), "i8x16_swizzle");
        assert_eq!(
            operator_name(&Operator::ReturnCall { function_index: 3 }),
            "return_call"
        );
    }
}
