//! How linear memories are reserved, and what that lets compiled code leave
//! out; and whether compiled code meters fuel and checks epochs
//! ([`crate::metering`]).
//!
//! A 32-bit memory is placed in a reservation of [`Tunables::memory_reservation`]
//! bytes (4 GiB by default) followed by [`Tunables::memory_guard_size`]
//! bytes (2 GiB) that are never accessible. Only the first `current_length`
//! bytes are readable and writable; the rest of the reservation is
//! inaccessible until the memory grows into it, and growing never moves the
//! memory. An access computes `base + index + offset` with a 32-bit `index`
//! and a constant `offset`, and reaches at most `index + offset + size - 1 <
//! 2^32 + offset + size`: when that stays inside reservation plus guard,
//! every out-of-bounds access lands on inaccessible memory and faults, and
//! the runtime turns the fault into a `MemoryOutOfBounds` trap. The compiler
//! then emits no bounds check at all. Otherwise (64-bit memories, huge
//! offsets, or a configuration without the reservation) it compares against
//! `current_length` explicitly.

/// Memory and code-generation settings both compilers and the runtime read.
#[derive(Copy, Clone, PartialEq, Eq, Debug)]
pub struct Tunables {
    /// Bytes of address space reserved for each 32-bit linear memory
    /// (0 for no reservation: memories are allocated at their current size
    /// and every access is bounds-checked).
    pub memory_reservation: u64,
    /// Bytes of inaccessible address space after the reservation.
    pub memory_guard_size: u64,
    /// Whether compiled code charges fuel and traps with `OutOfFuel` when
    /// the store's runs out (`metering`).
    pub consume_fuel: bool,
    /// Whether compiled code checks the engine's epoch against the store's
    /// deadline at loop headers and before the calls that need it
    /// (`metering`).
    pub epoch_interruption: bool,
    /// Whether baseline code counts calls and loop iterations against a
    /// tier-up budget (`tierup`): the code of a tiered module's baseline
    /// tier. The optimizing tier ignores it.
    pub tier_up: bool,
}

impl Tunables {
    /// The defaults, as a constant: 4 GiB reservations, 2 GiB guards, no
    /// fuel, no epochs, no tier-up counters.
    pub const DEFAULT: Tunables = Tunables {
        memory_reservation: 1 << 32,
        memory_guard_size: 2 << 30,
        consume_fuel: false,
        epoch_interruption: false,
        tier_up: false,
    };

    /// No reservation and no guard: memories are allocated at their size
    /// and every access is bounds-checked explicitly.
    pub const NO_RESERVATION: Tunables = Tunables {
        memory_reservation: 0,
        memory_guard_size: 0,
        ..Tunables::DEFAULT
    };
}

impl Default for Tunables {
    fn default() -> Self {
        Tunables::DEFAULT
    }
}

/// Whether a memory access needs an explicit bounds check.
#[derive(Copy, Clone, PartialEq, Eq, Debug)]
pub enum BoundsCheck {
    /// The guard region catches every out-of-bounds access: no check.
    ElidedByGuard,
    /// Compare `index + offset + size` with the memory's current length.
    Explicit,
}

impl Tunables {
    /// Whether a 32-bit memory is placed in a reservation that never moves.
    pub fn is_reserved(&self, memory64: bool) -> bool {
        !memory64 && self.memory_reservation >= 1 << 32
    }

    /// How an access of `size` bytes at constant `offset` into a memory is
    /// checked.
    pub fn bounds_check(&self, memory64: bool, offset: u64, size: u8) -> BoundsCheck {
        if !self.is_reserved(memory64) {
            return BoundsCheck::Explicit;
        }
        // The highest byte touched is below 2^32 + offset + size; it must
        // fall inside reservation + guard.
        let covered = self
            .memory_reservation
            .saturating_add(self.memory_guard_size);
        let reach = (1u64 << 32)
            .checked_add(offset)
            .and_then(|r| r.checked_add(u64::from(size)));
        match reach {
            Some(reach) if reach <= covered => BoundsCheck::ElidedByGuard,
            _ => BoundsCheck::Explicit,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_guard_covers_offsets_below_two_gib() {
        let t = Tunables::default();
        assert_eq!(t.bounds_check(false, 0, 8), BoundsCheck::ElidedByGuard);
        assert_eq!(
            t.bounds_check(false, (2 << 30) - 8, 8),
            BoundsCheck::ElidedByGuard
        );
        assert_eq!(
            t.bounds_check(false, (2 << 30) - 7, 8),
            BoundsCheck::Explicit
        );
        assert_eq!(t.bounds_check(false, u64::MAX, 1), BoundsCheck::Explicit);
    }

    #[test]
    fn without_a_reservation_or_for_64_bit_memories_every_access_is_checked() {
        let none = Tunables::NO_RESERVATION;
        assert_eq!(none.bounds_check(false, 0, 1), BoundsCheck::Explicit);
        assert_eq!(
            Tunables::default().bounds_check(true, 0, 1),
            BoundsCheck::Explicit
        );
    }
}
