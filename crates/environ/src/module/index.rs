//! Typed indices into a module's index spaces.
//!
//! WebAssembly numbers functions, tables, memories and globals in one index
//! space per kind, imports first. The runtime and the compilers mostly need
//! the *defined* part of each space (what the VMContext stores inline), so
//! every kind has two newtypes: `FuncIndex` (the spec's index, imports
//! included) and `DefinedFuncIndex` (counting defined functions only).
//! Mixing them up is a type error; [`Module`](super::Module) converts between
//! them.
//!
//! All indices are `u32`: wasmparser's validator limits every index space far
//! below `u32::MAX`.

macro_rules! define_index {
    ($( $(#[$attr:meta])* $name:ident; )*) => {$(
        $(#[$attr])*
        #[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
        #[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
        pub struct $name(u32);

        impl $name {
            /// The index with the given number.
            pub const fn from_u32(index: u32) -> Self {
                Self(index)
            }

            /// The index's number.
            pub const fn as_u32(self) -> u32 {
                self.0
            }

            /// The index's number, for indexing a `Vec`.
            pub const fn index(self) -> usize {
                self.0 as usize
            }
        }

        impl core::fmt::Display for $name {
            fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
                core::fmt::Display::fmt(&self.0, f)
            }
        }
    )*};
}

define_index! {
    /// A type in the module's type section (all are function types today).
    TypeIndex;
    /// A function in the module's function index space: imports, then
    /// definitions.
    FuncIndex;
    /// A function defined (not imported) by the module, counting from 0.
    DefinedFuncIndex;
    /// A table in the module's table index space: imports, then definitions.
    TableIndex;
    /// A table defined (not imported) by the module, counting from 0.
    DefinedTableIndex;
    /// A memory in the module's memory index space: imports, then definitions.
    MemoryIndex;
    /// A memory defined (not imported) by the module, counting from 0.
    DefinedMemoryIndex;
    /// A global in the module's global index space: imports, then definitions.
    GlobalIndex;
    /// A global defined (not imported) by the module, counting from 0.
    DefinedGlobalIndex;
    /// An element segment.
    ElemIndex;
    /// A data segment.
    DataIndex;
    /// A slot in the VMContext's array of `VMFuncRef`s: one per escaped
    /// function (see [`Module::escaped_functions`](super::Module::escaped_functions)),
    /// numbered in the order the functions were first referenced.
    FuncRefIndex;
}

/// Any entity a module can import or export.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum EntityIndex {
    /// A function.
    Function(FuncIndex),
    /// A table.
    Table(TableIndex),
    /// A linear memory.
    Memory(MemoryIndex),
    /// A global.
    Global(GlobalIndex),
}
