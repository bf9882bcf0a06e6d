//! The value stack: wasm's operand stack, each value where it currently is.

use cranelift_asm::x64::{Gpr, Xmm};
use wasmparser::ValType;

/// A value on the value stack.
#[derive(Copy, Clone, Debug, PartialEq)]
pub(crate) enum Val {
    /// An `i32` constant, not yet in a register.
    I32(i32),
    /// An `i64` constant, not yet in a register.
    I64(i64),
    /// An `f32` constant (its bits), not yet in a register.
    F32(u32),
    /// An `f64` constant (its bits), not yet in a register.
    F64(u64),
    /// A value in a register.
    Gpr {
        /// The register.
        reg: Gpr,
        /// The value's type.
        ty: ValType,
    },
    /// A float value in the low lane of an XMM register.
    Xmm {
        /// The register.
        reg: Xmm,
        /// The value's type (`f32` or `f64`).
        ty: ValType,
    },
    /// The current value of a local, not yet loaded (the local must not
    /// change while this entry exists: `local.set` spills first).
    Local {
        /// The local.
        index: u32,
        /// Its type.
        ty: ValType,
    },
    /// A machine-stack slot at `rbp - offset`.
    Memory {
        /// Bytes below `rbp`.
        offset: u32,
        /// The value's type.
        ty: ValType,
    },
}

impl Val {
    /// The value's type.
    pub(crate) fn ty(&self) -> ValType {
        match *self {
            Val::I32(_) => ValType::I32,
            Val::I64(_) => ValType::I64,
            Val::F32(_) => ValType::F32,
            Val::F64(_) => ValType::F64,
            Val::Gpr { ty, .. }
            | Val::Xmm { ty, .. }
            | Val::Local { ty, .. }
            | Val::Memory { ty, .. } => ty,
        }
    }

    /// Whether the value is a constant (of any type).
    pub(crate) fn is_constant(&self) -> bool {
        matches!(self, Val::I32(_) | Val::I64(_) | Val::F32(_) | Val::F64(_))
    }

    /// The bits of a constant, zero-extended to 64 (an `i32`'s and an
    /// `f32`'s upper half clear).
    pub(crate) fn constant_bits(&self) -> Option<u64> {
        match *self {
            Val::I32(v) => Some(v as u32 as u64),
            Val::I64(v) => Some(v as u64),
            Val::F32(bits) => Some(bits as u64),
            Val::F64(bits) => Some(bits),
            _ => None,
        }
    }

    /// A constant that fits a sign-extended 32-bit immediate.
    pub(crate) fn as_imm32(&self) -> Option<i32> {
        match *self {
            Val::I32(v) => Some(v),
            Val::I64(v) => i32::try_from(v).ok(),
            _ => None,
        }
    }
}

/// The size of every value-stack slot on the machine stack.
pub(crate) const SLOT_SIZE: u32 = 8;
