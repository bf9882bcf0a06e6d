//! How wasm types become IR types: values ([`ir_type`], [`ir_type_of`])
//! and function signatures under the wasm calling convention
//! ([`wasm_signature`]).
//!
//! What the translation reads about the module around a function (the
//! memory, table and global plans, function types) is
//! [`duet_environ::module_env::ModuleEnvironment`], which the baseline tier
//! reads too.

use cranelift_codegen::ir::{CallConv, Signature, Type};
use duet_environ::module::{FuncType, ValType};

/// The IR type holding a wasm value of type `ty`: references are pointers
/// (`i64`, null is 0), a `v128` is an `i8x16` (`simd.rs`).
pub(crate) fn ir_type(ty: ValType) -> Option<Type> {
    match ty {
        ValType::I32 => Some(Type::I32),
        ValType::I64 => Some(Type::I64),
        ValType::F32 => Some(Type::F32),
        ValType::F64 => Some(Type::F64),
        ValType::FuncRef | ValType::ExternRef => Some(Type::I64),
        ValType::V128 => Some(Type::I8X16),
    }
}

/// [`ir_type`] of a type as wasmparser spells it (locals, block types,
/// typed `select`): `funcref` and `externref`, nullable or not, are
/// pointers; every other reference type is refused.
pub(crate) fn ir_type_of(ty: wasmparser::ValType) -> Option<Type> {
    match ty {
        wasmparser::ValType::I32 => Some(Type::I32),
        wasmparser::ValType::I64 => Some(Type::I64),
        wasmparser::ValType::F32 => Some(Type::F32),
        wasmparser::ValType::F64 => Some(Type::F64),
        wasmparser::ValType::Ref(r) if r.is_func_ref() || r.is_extern_ref() => Some(Type::I64),
        wasmparser::ValType::V128 => Some(Type::I8X16),
        wasmparser::ValType::Ref(_) => None,
    }
}

/// The IR signature of a wasm function type under the wasm calling
/// convention: the callee's VMContext (`i64`) first, then the parameters;
/// the results as they are. `Err` names the first type the IR cannot hold.
pub(crate) fn wasm_signature(ty: &FuncType) -> Result<Signature, ValType> {
    let convert = |types: &[ValType]| -> Result<Vec<Type>, ValType> {
        types.iter().map(|&t| ir_type(t).ok_or(t)).collect()
    };
    let mut params = vec![Type::I64];
    params.extend(convert(&ty.params)?);
    Ok(Signature {
        params,
        returns: convert(&ty.results)?,
        call_conv: CallConv::Wasm,
    })
}
