//! The `#[repr(C)]` records compiled code reads and writes, mirroring the
//! layout `duet_environ::vmoffsets` gives both compilers.
//!
//! `duet-environ` owns the numbers (offsets and sizes, in `u32`s both
//! compilers embed in instructions); this module owns the Rust types the
//! runtime fills in. The tests below check that the two agree field by
//! field, so a change on either side fails here rather than as corrupted
//! memory at run time.
//!
//! ```text
//!  VMFunctionImport   0 wasm_call  8 vmctx                      16
//!  VMFuncRef          0 wasm_call  8 vmctx  16 type_id (u32)    24
//!  VMTableDefinition  0 base       8 current_elements (u64)     16
//!  VMMemoryDefinition 0 base       8 current_length (u64)       16
//!  VMGlobalDefinition 0 value (16 bytes, 16-aligned)            16
//!  VMStoreContext     0 fuel_consumed (i64)                      8
//! ```
//!
//! `vmctx` pointers are untyped (`*mut u8`) until the runtime has an
//! instance type to point at.

/// An imported function, as stored in the importing instance's VMContext:
/// the code to call and the VMContext to call it with.
#[repr(C)]
#[derive(Copy, Clone, Debug)]
pub struct VMFunctionImport {
    /// The entry point, with the wasm calling convention (`docs/abi.md`).
    pub wasm_call: *const u8,
    /// The callee's VMContext, passed in `rdi`.
    pub vmctx: *mut u8,
}

/// What a function reference (a `funcref` value or table element) points
/// to; `call_indirect` compares `type_id` with the expected type's
/// engine-wide id before calling.
#[repr(C)]
#[derive(Copy, Clone, Debug)]
pub struct VMFuncRef {
    /// The entry point, with the wasm calling convention.
    pub wasm_call: *const u8,
    /// The VMContext to call it with.
    pub vmctx: *mut u8,
    /// The engine-wide id of the function's type.
    pub type_id: u32,
}

/// A table as compiled code sees it: pointer-sized elements (`0` is null)
/// and their number. Owned by a [`Table`](crate::table::Table), which
/// updates it whenever the elements move or grow.
#[repr(C)]
#[derive(Copy, Clone, Debug)]
pub struct VMTableDefinition {
    /// The first element.
    pub base: *mut usize,
    /// The number of elements.
    pub current_elements: u64,
}

/// A linear memory as compiled code sees it: its base and accessible
/// length. Owned by a [`LinearMemory`](crate::memory::LinearMemory), which
/// updates it on growth.
#[repr(C)]
#[derive(Copy, Clone, Debug)]
pub struct VMMemoryDefinition {
    /// The first byte.
    pub base: *mut u8,
    /// The accessible length in bytes.
    pub current_length: u64,
}

/// What a store's instances share while wasm runs; every VMContext of the
/// store points at the store's one (`VMContext::STORE_CONTEXT`). Compiled
/// code updates the fuel counter in place, so the runtime reads and writes
/// it only through the cell, and only while no wasm of the store runs.
#[repr(C)]
#[derive(Debug, Default)]
pub struct VMStoreContext {
    /// Fuel consumed minus fuel given: negative while fuel is left
    /// (`duet_environ::metering`).
    pub fuel_consumed: core::cell::UnsafeCell<i64>,
}

/// A global's value: 16 bytes (a `v128` fits), 16-aligned. Scalars live at
/// offset 0 in their natural width, little-endian; references as a
/// pointer-sized value.
#[repr(C, align(16))]
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub struct VMGlobalDefinition(pub [u8; 16]);

impl VMGlobalDefinition {
    /// An `i32` global.
    pub fn from_i32(value: i32) -> Self {
        Self::from_u128(value as u32 as u128)
    }

    /// An `i64` global.
    pub fn from_i64(value: i64) -> Self {
        Self::from_u128(value as u64 as u128)
    }

    /// An `f32` global, from its bits.
    pub fn from_f32_bits(bits: u32) -> Self {
        Self::from_u128(u128::from(bits))
    }

    /// An `f64` global, from its bits.
    pub fn from_f64_bits(bits: u64) -> Self {
        Self::from_u128(u128::from(bits))
    }

    /// A `v128` global, or any value given as its 16 little-endian bytes.
    pub fn from_u128(bits: u128) -> Self {
        VMGlobalDefinition(bits.to_le_bytes())
    }

    /// A reference global (`0` is null).
    pub fn from_reference(value: usize) -> Self {
        Self::from_u128(value as u128)
    }

    /// The value as an `i32`.
    pub fn as_i32(&self) -> i32 {
        self.as_u128() as u32 as i32
    }

    /// The value as an `i64`.
    pub fn as_i64(&self) -> i64 {
        self.as_u128() as u64 as i64
    }

    /// The bits of an `f32` value.
    pub fn as_f32_bits(&self) -> u32 {
        self.as_u128() as u32
    }

    /// The bits of an `f64` value.
    pub fn as_f64_bits(&self) -> u64 {
        self.as_u128() as u64
    }

    /// All 16 bytes, little-endian (a `v128` value).
    pub fn as_u128(&self) -> u128 {
        u128::from_le_bytes(self.0)
    }

    /// The value as a reference.
    pub fn as_reference(&self) -> usize {
        self.as_u128() as usize
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::mem::{align_of, offset_of, size_of};
    use duet_environ::vmoffsets as layout;

    fn u(n: usize) -> u32 {
        u32::try_from(n).unwrap()
    }

    #[test]
    fn function_import_matches_the_environ_layout() {
        assert_eq!(
            u(offset_of!(VMFunctionImport, wasm_call)),
            layout::VMFunctionImport::WASM_CALL
        );
        assert_eq!(
            u(offset_of!(VMFunctionImport, vmctx)),
            layout::VMFunctionImport::VMCTX
        );
        assert_eq!(
            u(size_of::<VMFunctionImport>()),
            layout::VMFunctionImport::SIZE
        );
    }

    #[test]
    fn func_ref_matches_the_environ_layout() {
        assert_eq!(
            u(offset_of!(VMFuncRef, wasm_call)),
            layout::VMFuncRef::WASM_CALL
        );
        assert_eq!(u(offset_of!(VMFuncRef, vmctx)), layout::VMFuncRef::VMCTX);
        assert_eq!(
            u(offset_of!(VMFuncRef, type_id)),
            layout::VMFuncRef::TYPE_ID
        );
        assert_eq!(u(size_of::<VMFuncRef>()), layout::VMFuncRef::SIZE);
    }

    #[test]
    fn table_definition_matches_the_environ_layout() {
        assert_eq!(
            u(offset_of!(VMTableDefinition, base)),
            layout::VMTableDefinition::BASE
        );
        assert_eq!(
            u(offset_of!(VMTableDefinition, current_elements)),
            layout::VMTableDefinition::CURRENT_ELEMENTS
        );
        assert_eq!(
            u(size_of::<VMTableDefinition>()),
            layout::VMTableDefinition::SIZE
        );
    }

    #[test]
    fn memory_definition_matches_the_environ_layout() {
        assert_eq!(
            u(offset_of!(VMMemoryDefinition, base)),
            layout::VMMemoryDefinition::BASE
        );
        assert_eq!(
            u(offset_of!(VMMemoryDefinition, current_length)),
            layout::VMMemoryDefinition::CURRENT_LENGTH
        );
        assert_eq!(
            u(size_of::<VMMemoryDefinition>()),
            layout::VMMemoryDefinition::SIZE
        );
    }

    #[test]
    fn store_context_matches_the_environ_layout() {
        assert_eq!(
            u(offset_of!(VMStoreContext, fuel_consumed)),
            layout::VMStoreContext::FUEL_CONSUMED
        );
        assert_eq!(u(size_of::<VMStoreContext>()), layout::VMStoreContext::SIZE);
    }

    #[test]
    fn global_definition_matches_the_environ_layout() {
        assert_eq!(
            u(size_of::<VMGlobalDefinition>()),
            layout::VMGlobalDefinition::SIZE
        );
        // The VMContext places globals at 16-aligned offsets.
        assert_eq!(align_of::<VMGlobalDefinition>(), 16);
    }

    #[test]
    fn global_values_sit_at_offset_zero_little_endian() {
        let g = VMGlobalDefinition::from_i32(-2);
        assert_eq!(g.0[..4], (-2i32).to_le_bytes());
        assert_eq!(g.0[4..], [0; 12]);
        assert_eq!(g.as_i32(), -2);
        assert_eq!(VMGlobalDefinition::from_i64(-3).as_i64(), -3);
        let f = 1.5f64.to_bits();
        assert_eq!(VMGlobalDefinition::from_f64_bits(f).as_f64_bits(), f);
        let f = 2.5f32.to_bits();
        assert_eq!(VMGlobalDefinition::from_f32_bits(f).as_f32_bits(), f);
        let v = 0x0011_2233_4455_6677_8899_aabb_ccdd_eeffu128;
        assert_eq!(VMGlobalDefinition::from_u128(v).as_u128(), v);
        assert_eq!(
            VMGlobalDefinition::from_reference(0x1000).as_reference(),
            0x1000
        );
    }
}
