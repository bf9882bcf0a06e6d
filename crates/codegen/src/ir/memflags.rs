//! Flags of loads and stores.

use core::fmt;

/// What the compiler may assume about a memory access.
#[derive(Copy, Clone, PartialEq, Eq, Hash, Debug, Default)]
pub struct MemFlags {
    bits: u8,
}

/// Each flag: its bit and its name in the text format.
const FLAGS: [(u8, &str); 4] = [
    (MemFlags::NOTRAP, "notrap"),
    (MemFlags::ALIGNED, "aligned"),
    (MemFlags::READONLY, "readonly"),
    (MemFlags::HEAP, "heap"),
];

impl MemFlags {
    const NOTRAP: u8 = 1;
    const ALIGNED: u8 = 2;
    const READONLY: u8 = 4;
    const HEAP: u8 = 8;

    /// No assumptions: the access may trap (a wasm heap access under guard
    /// pages), may be misaligned, and memory may change.
    pub const fn new() -> MemFlags {
        MemFlags { bits: 0 }
    }

    /// An access to VMContext fields and other runtime records: never
    /// traps, naturally aligned.
    pub const fn trusted() -> MemFlags {
        MemFlags {
            bits: MemFlags::NOTRAP | MemFlags::ALIGNED,
        }
    }

    /// Whether the access cannot trap.
    pub const fn notrap(self) -> bool {
        self.bits & MemFlags::NOTRAP != 0
    }

    /// Whether the address is a multiple of the access size.
    pub const fn aligned(self) -> bool {
        self.bits & MemFlags::ALIGNED != 0
    }

    /// Whether the memory never changes while the function runs (so loads
    /// may move and merge freely).
    pub const fn readonly(self) -> bool {
        self.bits & MemFlags::READONLY != 0
    }

    /// Whether this accesses a wasm linear memory (not a runtime record): a
    /// heap store cannot change a VMContext field and vice versa.
    pub const fn heap(self) -> bool {
        self.bits & MemFlags::HEAP != 0
    }

    /// With `notrap` set.
    pub const fn with_notrap(self) -> MemFlags {
        MemFlags {
            bits: self.bits | MemFlags::NOTRAP,
        }
    }

    /// With `aligned` set.
    pub const fn with_aligned(self) -> MemFlags {
        MemFlags {
            bits: self.bits | MemFlags::ALIGNED,
        }
    }

    /// With `readonly` set.
    pub const fn with_readonly(self) -> MemFlags {
        MemFlags {
            bits: self.bits | MemFlags::READONLY,
        }
    }

    /// With `heap` set.
    pub const fn with_heap(self) -> MemFlags {
        MemFlags {
            bits: self.bits | MemFlags::HEAP,
        }
    }

    /// Sets the flag named `name`; `false` if there is no such flag.
    pub fn set_by_name(&mut self, name: &str) -> bool {
        match FLAGS.iter().find(|(_, n)| *n == name) {
            Some(&(bit, _)) => {
                self.bits |= bit;
                true
            }
            None => false,
        }
    }
}

/// The set flags' names, each followed by a space.
impl fmt::Display for MemFlags {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (bit, name) in FLAGS {
            if self.bits & bit != 0 {
                write!(f, "{name} ")?;
            }
        }
        Ok(())
    }
}
