//! The runtime functions compiled code calls for what it does not inline:
//! growing memories and tables, the bulk memory and table operations, and
//! the store's decision at an epoch deadline, and tier-up requests.
//!
//! Compiled code finds them in a table of addresses whose pointer is in the
//! VMContext ([`VMContext::BUILTINS`](crate::vmoffsets::VMContext::BUILTINS)),
//! at `8 * Builtin::index()`, and calls them with the System V convention
//! (`extern "sysv64"`, [`Builtin::signature`]), the caller's VMContext
//! first. So a builtin is an ordinary Rust function of the runtime, and
//! compiled code needs no relocation to reach it.
//!
//! A builtin that can trap returns `u32`: 0 when it succeeded, otherwise it
//! did nothing and the caller traps with [`Builtin::trap`] (the operation
//! was out of bounds). Growing returns the old size, `u64::MAX` when the
//! request is refused (which is not a trap: `memory.grow` / `table.grow`
//! give -1), or [`Builtin::GROW_TRAP`] when the store's resource limiter
//! failed, after which the caller traps with [`Builtin::grow_trap`] (the
//! runtime has parked the limiter's error as the trap's source). No size
//! in pages or elements reaches `u64::MAX - 1`, so the three never meet.

use crate::abi::{AbiType, CallSignature};
use crate::trap::Trap;

/// A builtin's parameter or result type, as System V passes it.
#[derive(Copy, Clone, PartialEq, Eq, Debug)]
pub enum BuiltinType {
    /// The caller's `*mut VMContext`.
    VMContext,
    /// A `u32` (indices, byte values, 32-bit lengths).
    U32,
    /// A `u64` (addresses and lengths in a memory or table).
    U64,
    /// A pointer-sized reference (`*const VMFuncRef` or an `externref`).
    Ref,
}

impl BuiltinType {
    /// The type a call passes it as.
    pub const fn abi_type(self) -> AbiType {
        match self {
            BuiltinType::U32 => AbiType::I32,
            BuiltinType::VMContext | BuiltinType::U64 | BuiltinType::Ref => AbiType::I64,
        }
    }
}

/// A runtime builtin.
#[derive(Copy, Clone, PartialEq, Eq, Hash, Debug)]
pub enum Builtin {
    /// `memory_grow(vmctx, memory, delta_pages: u64) -> u64`: the old size
    /// in pages, or `u64::MAX`.
    MemoryGrow,
    /// `memory_fill(vmctx, memory, dst: u64, byte: u32, len: u64) -> u32`.
    MemoryFill,
    /// `memory_copy(vmctx, dst_memory, dst: u64, src_memory, src: u64, len: u64) -> u32`.
    MemoryCopy,
    /// `memory_init(vmctx, memory, data, dst: u64, src: u32, len: u32) -> u32`.
    MemoryInit,
    /// `data_drop(vmctx, data)`.
    DataDrop,
    /// `table_grow(vmctx, table, delta: u64, init: ref) -> u64`: the old
    /// size, or `u64::MAX`.
    TableGrow,
    /// `table_fill(vmctx, table, dst: u64, value: ref, len: u64) -> u32`.
    TableFill,
    /// `table_copy(vmctx, dst_table, src_table, dst: u64, src: u64, len: u64) -> u32`.
    TableCopy,
    /// `table_init(vmctx, table, elem, dst: u64, src: u32, len: u32) -> u32`.
    TableInit,
    /// `elem_drop(vmctx, elem)`.
    ElemDrop,
    /// `new_epoch(vmctx) -> u32`: called when the engine's epoch reached
    /// the store's deadline (`metering`); 0 when the store moved the
    /// deadline and the code goes on, non-zero to trap with `Interrupt`.
    NewEpoch,
    /// `tier_up(vmctx, defined_function: u32) -> u32`: baseline code of a
    /// tiered module spent defined function `defined_function`'s budget
    /// (`crate::tierup`); the runtime queues it for the optimizing tier
    /// (or compiles it there and then) and returns the loop iterations
    /// the activation runs before it asks for an on-stack replacement.
    TierUp,
    /// `tier_up_osr(vmctx, defined_function: u32, loop_offset: u32) ->
    /// u64`: a loop of a tiered module's baseline code that can be
    /// entered by on-stack replacement spent its activation's budget
    /// (`crate::tierup`): the entry's code, once compiled; 0 to ask again
    /// later, 1 never to ask again.
    TierUpOsr,
}

impl Builtin {
    /// Every builtin, in table order.
    pub const ALL: [Builtin; 13] = [
        Builtin::MemoryGrow,
        Builtin::MemoryFill,
        Builtin::MemoryCopy,
        Builtin::MemoryInit,
        Builtin::DataDrop,
        Builtin::TableGrow,
        Builtin::TableFill,
        Builtin::TableCopy,
        Builtin::TableInit,
        Builtin::ElemDrop,
        Builtin::NewEpoch,
        Builtin::TierUp,
        Builtin::TierUpOsr,
    ];

    /// The builtin's slot in the table of addresses.
    pub const fn index(self) -> u32 {
        self as u32
    }

    /// The parameters, after the VMContext.
    pub const fn params(self) -> &'static [BuiltinType] {
        use BuiltinType::*;
        match self {
            Builtin::MemoryGrow => &[VMContext, U32, U64],
            Builtin::MemoryFill => &[VMContext, U32, U64, U32, U64],
            Builtin::MemoryCopy => &[VMContext, U32, U64, U32, U64, U64],
            Builtin::MemoryInit => &[VMContext, U32, U32, U64, U32, U32],
            Builtin::DataDrop => &[VMContext, U32],
            Builtin::TableGrow => &[VMContext, U32, U64, Ref],
            Builtin::TableFill => &[VMContext, U32, U64, Ref, U64],
            Builtin::TableCopy => &[VMContext, U32, U32, U64, U64, U64],
            Builtin::TableInit => &[VMContext, U32, U32, U64, U32, U32],
            Builtin::ElemDrop => &[VMContext, U32],
            Builtin::NewEpoch => &[VMContext],
            Builtin::TierUp => &[VMContext, U32],
            Builtin::TierUpOsr => &[VMContext, U32, U32],
        }
    }

    /// Where a call passes the arguments and finds the result: the native
    /// convention ([`CallSignature::system_v`]), the VMContext first.
    pub fn signature(self) -> CallSignature {
        let params: Vec<AbiType> = self.params().iter().map(|t| t.abi_type()).collect();
        let result: Vec<AbiType> = self.result().iter().map(|t| t.abi_type()).collect();
        CallSignature::system_v(&params, &result)
    }

    /// The result, if any.
    pub const fn result(self) -> Option<BuiltinType> {
        match self {
            Builtin::MemoryGrow | Builtin::TableGrow | Builtin::TierUpOsr => Some(BuiltinType::U64),
            Builtin::DataDrop | Builtin::ElemDrop => None,
            _ => Some(BuiltinType::U32),
        }
    }

    /// The trap the caller raises when the builtin returns non-zero.
    pub const fn trap(self) -> Option<Trap> {
        match self {
            Builtin::MemoryFill | Builtin::MemoryCopy | Builtin::MemoryInit => {
                Some(Trap::MemoryOutOfBounds)
            }
            Builtin::TableFill | Builtin::TableCopy | Builtin::TableInit => {
                Some(Trap::TableOutOfBounds)
            }
            Builtin::NewEpoch => Some(Trap::Interrupt),
            Builtin::MemoryGrow
            | Builtin::TableGrow
            | Builtin::DataDrop
            | Builtin::ElemDrop
            | Builtin::TierUp
            | Builtin::TierUpOsr => None,
        }
    }

    /// What a growth builtin returns when the caller must trap with
    /// [`Builtin::grow_trap`]: `u64::MAX - 1` (-2 as a sign-extended
    /// 32-bit immediate).
    pub const GROW_TRAP: i32 = -2;

    /// The trap a growth builtin's caller raises when the builtin returns
    /// [`Builtin::GROW_TRAP`]: a host error, whose source the runtime
    /// holds (the store's resource limiter failed or asked for a trap).
    pub const fn grow_trap(self) -> Option<Trap> {
        match self {
            Builtin::MemoryGrow | Builtin::TableGrow => Some(Trap::HostError),
            _ => None,
        }
    }

    /// The name, for disassembly and errors.
    pub const fn name(self) -> &'static str {
        match self {
            Builtin::MemoryGrow => "memory_grow",
            Builtin::MemoryFill => "memory_fill",
            Builtin::MemoryCopy => "memory_copy",
            Builtin::MemoryInit => "memory_init",
            Builtin::DataDrop => "data_drop",
            Builtin::TableGrow => "table_grow",
            Builtin::TableFill => "table_fill",
            Builtin::TableCopy => "table_copy",
            Builtin::TableInit => "table_init",
            Builtin::ElemDrop => "elem_drop",
            Builtin::NewEpoch => "new_epoch",
            Builtin::TierUp => "tier_up",
            Builtin::TierUpOsr => "tier_up_osr",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_order_is_the_index_and_every_builtin_takes_the_vmctx_first() {
        for (i, builtin) in Builtin::ALL.into_iter().enumerate() {
            assert_eq!(builtin.index() as usize, i);
            assert_eq!(
                builtin.params()[0],
                BuiltinType::VMContext,
                "{}",
                builtin.name()
            );
            // System V passes at most six integer arguments in registers.
            assert!(builtin.params().len() <= 6, "{}", builtin.name());
            // A builtin that reports failure returns a status.
            if builtin.trap().is_some() {
                assert_eq!(builtin.result(), Some(BuiltinType::U32));
            }
        }
    }
}
