//! WebAssembly traps and their trap codes.
//!
//! The assembler carries opaque [`TrapCode`]s from a trapping instruction to
//! the finished code's trap table; this module gives them their meaning.
//! Both compilers tag instructions with `Trap::X.code()`, and the runtime
//! turns a fault at a tagged instruction back into a [`Trap`] with
//! [`Trap::from_code`].
//!
//! [`Trap::message`] is the spec interpreter's wording, which the spec
//! suite's `assert_trap` directives expect (a runner checks that the message
//! *contains* the expected text; where the suite uses two wordings for one
//! trap, the message holds both).

use core::fmt;
use cranelift_asm::TrapCode;

/// Why WebAssembly code trapped.
#[derive(Copy, Clone, PartialEq, Eq, Hash, Debug)]
#[repr(u8)]
pub enum Trap {
    /// The call stack ran into the stack limit.
    StackOverflow = 1,
    /// A load or store outside its linear memory (or a bulk memory operation
    /// out of bounds).
    MemoryOutOfBounds,
    /// An atomic access at a misaligned address.
    HeapMisaligned,
    /// A table access out of bounds (including `call_indirect` past the
    /// table's end).
    TableOutOfBounds,
    /// `call_indirect` through a null table element.
    IndirectCallToNull,
    /// `call_indirect` to a function of another type.
    BadSignature,
    /// Signed division overflow (`INT_MIN / -1`) or a float-to-integer
    /// conversion whose result does not fit.
    IntegerOverflow,
    /// Integer division or remainder by zero.
    IntegerDivisionByZero,
    /// Float-to-integer conversion of NaN.
    BadConversionToInteger,
    /// `unreachable` was executed.
    UnreachableCodeReached,
    /// An epoch deadline passed (interruption).
    Interrupt,
    /// The fuel ran out.
    OutOfFuel,
    /// A null reference was dereferenced (GC proposal).
    NullReference,
    /// A host function called from wasm returned an error; the runtime
    /// reports that error (see `duet_environ::entry::VMHostContext`).
    HostError,
}

impl Trap {
    /// Every trap.
    pub const ALL: [Trap; 14] = [
        Trap::StackOverflow,
        Trap::MemoryOutOfBounds,
        Trap::HeapMisaligned,
        Trap::TableOutOfBounds,
        Trap::IndirectCallToNull,
        Trap::BadSignature,
        Trap::IntegerOverflow,
        Trap::IntegerDivisionByZero,
        Trap::BadConversionToInteger,
        Trap::UnreachableCodeReached,
        Trap::Interrupt,
        Trap::OutOfFuel,
        Trap::NullReference,
        Trap::HostError,
    ];

    /// The trap code compiled code records for this trap.
    pub const fn code(self) -> TrapCode {
        match TrapCode::from_u8(self as u8) {
            Some(code) => code,
            None => unreachable!(),
        }
    }

    /// The trap a trap code stands for, if it is one of these.
    pub fn from_code(code: TrapCode) -> Option<Trap> {
        Trap::ALL.into_iter().find(|trap| trap.code() == code)
    }

    /// The spec interpreter's message for this trap.
    pub const fn message(self) -> &'static str {
        match self {
            Trap::StackOverflow => "call stack exhausted",
            Trap::MemoryOutOfBounds => "out of bounds memory access",
            Trap::HeapMisaligned => "unaligned atomic",
            // `call_indirect` past the end says "undefined element", table
            // instructions say "out of bounds table access".
            Trap::TableOutOfBounds => "undefined element: out of bounds table access",
            Trap::IndirectCallToNull => "uninitialized element",
            Trap::BadSignature => "indirect call type mismatch",
            Trap::IntegerOverflow => "integer overflow",
            Trap::IntegerDivisionByZero => "integer divide by zero",
            Trap::BadConversionToInteger => "invalid conversion to integer",
            Trap::UnreachableCodeReached => "unreachable",
            Trap::Interrupt => "interrupt",
            Trap::OutOfFuel => "all fuel consumed",
            Trap::NullReference => "null reference",
            Trap::HostError => "host function error",
        }
    }
}

impl fmt::Display for Trap {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.message())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_trap_round_trips_through_its_code() {
        let mut seen = std::collections::HashSet::new();
        for trap in Trap::ALL {
            assert!(seen.insert(trap.code()), "{trap:?} shares a code");
            assert_eq!(Trap::from_code(trap.code()), Some(trap));
        }
        assert_eq!(Trap::from_code(TrapCode::from_u8(200).unwrap()), None);
    }

    #[test]
    fn messages_contain_the_spec_suites_wording() {
        assert!(
            Trap::TableOutOfBounds
                .message()
                .contains("undefined element")
        );
        assert!(
            Trap::TableOutOfBounds
                .message()
                .contains("out of bounds table access")
        );
        assert_eq!(
            Trap::IntegerDivisionByZero.to_string(),
            "integer divide by zero"
        );
    }
}
