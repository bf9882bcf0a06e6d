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

/// The size of a value's slot on the machine stack (a local's, a spilled
/// value's, a block parameter's): 16 bytes for a `v128`, 8 for every other
/// type. A slot at offset `o` (bytes below `rbp`) covers `rbp - o` up to
/// `rbp - o + slot_size`, so the offset of a value pushed on the machine
/// stack is the new `sp_offset`. Slots are read and written with
/// unaligned moves (`movups`): `rbp` is 16-byte aligned but the 8-byte
/// slots around a `v128` slot need not keep it so.
pub(crate) const fn slot_size(ty: ValType) -> u32 {
    // The locals' slots are what an on-stack replacement entry reads
    // (`duet_environ::tierup`'s module docs): its sizes are these.
    duet_environ::tierup::osr_slot_size(matches!(ty, ValType::V128))
}

/// The bytes the slots of values of `types` take, one after the other.
pub(crate) fn slots_size(types: &[ValType]) -> u32 {
    types.iter().map(|&ty| slot_size(ty)).sum()
}

/// The value stack: [`Val`]s, bottom first, read as a slice, changed only
/// at the top (plus [`ValueStack::spill`]), so that it can keep two facts
/// that save a walk over the whole stack at every control-flow construct
/// and `local.set`:
///
/// ```text
///   [ Memory ... Memory | Memory or constant ... | anything ... ]
///   0                in_memory               no_registers     len
/// ```
///
/// Without them, each `block`, `if` and `local.set` walked the whole
/// stack (to spill it, or to find entries standing for a local), and a
/// function holding thousands of values on the stack across thousands of
/// constructs compiled in quadratic time. With them, each walk starts at
/// a mark, and the walk leaves everything it visited below the mark
/// until the stack shrinks under it: each entry is visited once per push,
/// so the walks cost amortized O(1) per entry.
#[derive(Clone, Debug, Default)]
pub(crate) struct ValueStack {
    vals: Vec<Val>,
    /// `vals[..in_memory]` are all [`Val::Memory`].
    in_memory: usize,
    /// `vals[..no_registers]` are all [`Val::Memory`] or constants: no
    /// register, no local.
    no_registers: usize,
}

impl ValueStack {
    /// Pushes `val` on top.
    pub(crate) fn push(&mut self, val: Val) {
        self.vals.push(val);
    }

    /// Pops the top entry.
    pub(crate) fn pop(&mut self) -> Option<Val> {
        let val = self.vals.pop();
        self.lower_marks(self.vals.len());
        val
    }

    /// Removes the entries from `first` up, returning them bottom first.
    pub(crate) fn drain_from(&mut self, first: usize) -> Vec<Val> {
        self.lower_marks(first);
        self.vals.drain(first..).collect()
    }

    fn lower_marks(&mut self, len: usize) {
        self.in_memory = self.in_memory.min(len);
        self.no_registers = self.no_registers.min(len);
    }

    /// Replaces entry `i` by the memory slot it was spilled to.
    pub(crate) fn spill(&mut self, i: usize, memory: Val) {
        debug_assert!(matches!(memory, Val::Memory { .. }));
        self.vals[i] = memory;
    }

    /// Where a walk looking for entries in memory or constants must
    /// start: every entry below is in memory.
    pub(crate) fn in_memory(&self) -> usize {
        self.in_memory
    }

    /// Where a walk looking for registers or locals must start: no entry
    /// below is one.
    pub(crate) fn no_registers(&self) -> usize {
        self.no_registers
    }

    /// Records that every entry is now in memory.
    pub(crate) fn all_in_memory(&mut self) {
        // Checked from the old mark only: checking everything would make
        // debug builds quadratic again.
        debug_assert!(
            self.vals[self.in_memory..]
                .iter()
                .all(|v| matches!(v, Val::Memory { .. }))
        );
        self.in_memory = self.vals.len();
        self.no_registers = self.vals.len();
    }

    /// Records that no entry is now a register or a local.
    pub(crate) fn no_registers_left(&mut self) {
        debug_assert!(
            self.vals[self.no_registers..]
                .iter()
                .all(|v| matches!(v, Val::Memory { .. }) || v.is_constant())
        );
        self.no_registers = self.vals.len();
    }
}

impl core::ops::Deref for ValueStack {
    type Target = [Val];

    fn deref(&self) -> &[Val] {
        &self.vals
    }
}
