//! The module's entity types, in duet's own small vocabulary.
//!
//! wasmparser's types describe every proposal (GC, exact references,
//! shared-everything threads, …). Both compilers and the runtime handle a
//! smaller set, and matching on types they cannot meet is noise, so
//! translation maps wasmparser's types onto these and rejects everything else
//! with [`TranslationError::Unsupported`](super::TranslationError::Unsupported).

use super::EntityIndex;
use super::const_expr::ConstExpr;
use super::index::{FuncIndex, MemoryIndex, TableIndex};

/// A value type: what a local, a global, a parameter or a stack slot holds.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum ValType {
    /// 32-bit integer.
    I32,
    /// 64-bit integer.
    I64,
    /// 32-bit IEEE 754 float.
    F32,
    /// 64-bit IEEE 754 float.
    F64,
    /// 128-bit SIMD vector.
    V128,
    /// Nullable reference to a function (`funcref`, `(ref null func)`).
    FuncRef,
    /// Nullable reference to a host object (`externref`, `(ref null extern)`).
    ExternRef,
}

impl ValType {
    /// The reference type, if this is one.
    pub const fn as_ref_type(self) -> Option<RefType> {
        match self {
            ValType::FuncRef => Some(RefType::FuncRef),
            ValType::ExternRef => Some(RefType::ExternRef),
            _ => None,
        }
    }
}

/// A reference type: what a table holds.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum RefType {
    /// Nullable reference to a function.
    FuncRef,
    /// Nullable reference to a host object.
    ExternRef,
}

impl From<RefType> for ValType {
    fn from(ty: RefType) -> ValType {
        match ty {
            RefType::FuncRef => ValType::FuncRef,
            RefType::ExternRef => ValType::ExternRef,
        }
    }
}

/// A function signature.
#[derive(Clone, PartialEq, Eq, Hash, Debug)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct FuncType {
    /// Parameter types, in order.
    pub params: Box<[ValType]>,
    /// Result types, in order (multi-value allows several).
    pub results: Box<[ValType]>,
}

impl From<ValType> for wasmparser::ValType {
    fn from(ty: ValType) -> wasmparser::ValType {
        match ty {
            ValType::I32 => wasmparser::ValType::I32,
            ValType::I64 => wasmparser::ValType::I64,
            ValType::F32 => wasmparser::ValType::F32,
            ValType::F64 => wasmparser::ValType::F64,
            ValType::V128 => wasmparser::ValType::V128,
            ValType::FuncRef => wasmparser::ValType::FUNCREF,
            ValType::ExternRef => wasmparser::ValType::EXTERNREF,
        }
    }
}

impl From<&FuncType> for wasmparser::FuncType {
    fn from(ty: &FuncType) -> wasmparser::FuncType {
        let params = ty.params.iter().map(|&v| v.into());
        let results = ty.results.iter().map(|&v| v.into());
        wasmparser::FuncType::new(params, results)
    }
}

impl core::fmt::Display for ValType {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            ValType::I32 => "i32",
            ValType::I64 => "i64",
            ValType::F32 => "f32",
            ValType::F64 => "f64",
            ValType::V128 => "v128",
            ValType::FuncRef => "funcref",
            ValType::ExternRef => "externref",
        })
    }
}

impl core::fmt::Display for FuncType {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let list = |f: &mut core::fmt::Formatter<'_>, types: &[ValType]| {
            for (i, ty) in types.iter().enumerate() {
                if i > 0 {
                    f.write_str(" ")?;
                }
                write!(f, "{ty}")?;
            }
            Ok(())
        };
        f.write_str("(func (param ")?;
        list(f, &self.params)?;
        f.write_str(") (result ")?;
        list(f, &self.results)?;
        f.write_str("))")
    }
}

/// A table: its element type, limits, and for defined tables the
/// initializer of every element.
#[derive(Clone, PartialEq, Debug)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct TableType {
    /// What the table holds.
    pub element: RefType,
    /// Initial size, in elements.
    pub minimum: u64,
    /// Maximum size, in elements, if bounded.
    pub maximum: Option<u64>,
    /// Whether the table is indexed with `i64` (memory64 proposal's table64).
    pub table64: bool,
    /// The value every element starts with, for a defined table declared
    /// with an initializer expression (function-references proposal).
    /// `None` means null for a defined table, and is always `None` for an
    /// imported one.
    pub init: Option<ConstExpr>,
}

/// A linear memory's type.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct MemoryType {
    /// Initial size, in pages. Translation checks that the size in bytes
    /// fits a `u64` (see [`MemoryType::minimum_bytes`]).
    pub minimum_pages: u64,
    /// Maximum size, in pages, if bounded.
    pub maximum_pages: Option<u64>,
    /// Whether addresses are `i64` (memory64 proposal).
    pub memory64: bool,
    /// Whether the memory is shared between threads (threads proposal).
    pub shared: bool,
    /// log2 of the page size: 16 (64 KiB) unless the custom-page-sizes
    /// proposal chose another (0 for 1-byte pages). Always below 64
    /// ([`MemoryType::page_size`] relies on it).
    pub page_size_log2: u8,
}

impl MemoryType {
    /// The page size in bytes.
    pub const fn page_size(&self) -> u64 {
        1 << self.page_size_log2
    }

    /// The initial size in bytes. Translation guarantees it does not
    /// overflow; a hand-built type that overflows saturates at `u64::MAX`.
    pub fn minimum_bytes(&self) -> u64 {
        self.minimum_pages.saturating_mul(self.page_size())
    }

    /// The maximum size in bytes, if bounded, saturating at `u64::MAX`
    /// (a memory64 maximum of 2^48 pages of 64 KiB is exactly 2^64 bytes).
    pub fn maximum_bytes(&self) -> Option<u64> {
        self.maximum_pages
            .map(|pages| pages.saturating_mul(self.page_size()))
    }
}

/// A global's type.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct GlobalType {
    /// What the global holds.
    pub ty: ValType,
    /// Whether `global.set` may change it.
    pub mutable: bool,
}

/// An import: where it comes from and which entity of the module it
/// defines. The entity's type is the module's entry at that index
/// (`functions`, `tables`, `memories`, `globals`).
#[derive(Clone, PartialEq, Eq, Hash, Debug)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Import {
    /// The module name (first string).
    pub module: String,
    /// The field name (second string).
    pub name: String,
    /// The index the imported entity takes in its index space.
    pub kind: EntityIndex,
}

/// An element segment.
#[derive(Clone, PartialEq, Debug)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct ElementSegment {
    /// When the segment is applied.
    pub kind: ElementKind,
    /// The type of every item.
    pub element_type: RefType,
    /// The items.
    pub items: ElementItems,
}

/// When an element segment is applied.
#[derive(Clone, PartialEq, Debug)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum ElementKind {
    /// Only by `table.init`; dropped by `elem.drop`.
    Passive,
    /// Copied into `table` at `offset` at instantiation, then dropped.
    Active {
        /// The table written.
        table: TableIndex,
        /// The first element written (an `i32`, or an `i64` for a table64).
        offset: ConstExpr,
    },
    /// Never applied; only declares functions that `ref.func` may name.
    /// Dropped at instantiation.
    Declared,
}

/// The items of an element segment.
#[derive(Clone, PartialEq, Debug)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum ElementItems {
    /// Function references, `None` for a null reference. Segments written
    /// with function indices take this form, and so do expression segments
    /// made only of `ref.func` and `ref.null func` (the common case), so
    /// that instantiation need not evaluate them.
    Functions(Vec<Option<FuncIndex>>),
    /// Any other constant expressions, one per item.
    Exprs(Vec<ConstExpr>),
}

impl ElementItems {
    /// How many items the segment has.
    pub fn len(&self) -> usize {
        match self {
            ElementItems::Functions(items) => items.len(),
            ElementItems::Exprs(items) => items.len(),
        }
    }

    /// Whether the segment has no items.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A data segment.
#[derive(Clone, PartialEq, Debug)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct DataSegment {
    /// When the segment is applied.
    pub kind: DataKind,
    /// The bytes (copied out of the module).
    #[cfg_attr(feature = "serde", serde(with = "byte_string"))]
    pub bytes: Box<[u8]>,
}

/// When a data segment is applied.
#[derive(Clone, PartialEq, Debug)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum DataKind {
    /// Only by `memory.init`; dropped by `data.drop`.
    Passive,
    /// Copied into `memory` at `offset` at instantiation, then dropped.
    Active {
        /// The memory written.
        memory: MemoryIndex,
        /// The first byte written (an `i32`, or an `i64` for a memory64).
        offset: ConstExpr,
    },
}

/// `#[serde(with = "byte_string")]`: bytes as one byte string rather than
/// a sequence of `u8`s, which serde decodes one element at a time (a data
/// segment can be megabytes).
#[cfg(feature = "serde")]
mod byte_string {
    use serde::de::{Deserializer, Visitor};
    use serde::ser::Serializer;

    pub(super) fn serialize<S: Serializer>(bytes: &[u8], serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_bytes(bytes)
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Box<[u8]>, D::Error> {
        struct Bytes;
        impl Visitor<'_> for Bytes {
            type Value = Box<[u8]>;
            fn expecting(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
                f.write_str("a byte string")
            }
            fn visit_bytes<E: serde::de::Error>(self, bytes: &[u8]) -> Result<Box<[u8]>, E> {
                Ok(bytes.into())
            }
        }
        deserializer.deserialize_bytes(Bytes)
    }
}
