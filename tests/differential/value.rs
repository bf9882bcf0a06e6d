//! What the tiers are compared on, in a form neither engine owns: values,
//! traps, call outcomes and the state an instance exposes, and the rules
//! by which two of them agree.

use core::fmt;

/// A WebAssembly value as both engines can express it. References are
/// named portably: a function by the name it is exported under (the
/// generator exports everything), an extern reference by the number the
/// harness gave it when it passed it in.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Value {
    /// An `i32`.
    I32(i32),
    /// An `i64`.
    I64(i64),
    /// An `f32`, as its bits.
    F32(u32),
    /// An `f64`, as its bits.
    F64(u64),
    /// A `v128`, as its bits (lane 0 in the low bits, as memory holds it).
    V128(u128),
    /// A `funcref`: null, or the export name of the function. A function
    /// the module does not export is named `None` inside `Some` (the two
    /// engines could not be told apart on it).
    FuncRef(Option<Option<String>>),
    /// An `externref`: null, or the harness's number for it.
    ExternRef(Option<u32>),
}

impl Value {
    /// Whether `self` (from the reference) and `other` (from a tier under
    /// test) agree: equal bits, except that an `f32` or `f64` NaN agrees
    /// with any NaN. WebAssembly lets arithmetic produce any NaN payload
    /// (and sign), so only "is NaN" is portable.
    ///
    /// A `v128` agrees only bit for bit, its float lanes included. It has
    /// no type of its own lanes (the same bits are `i8x16` or `f32x4` to
    /// the next instruction), so "a NaN lane agrees with any NaN" would
    /// also accept differing integers; and it need not: the generator
    /// canonicalizes every vector operation that can make a NaN with an
    /// unspecified payload, and the remaining ones are the same on both
    /// sides (the parent module, "Why the comparison is sound").
    pub fn agrees_with(&self, other: &Value) -> bool {
        match (self, other) {
            (Value::F32(a), Value::F32(b)) => {
                a == b || (f32::from_bits(*a).is_nan() && f32::from_bits(*b).is_nan())
            }
            (Value::F64(a), Value::F64(b)) => {
                a == b || (f64::from_bits(*a).is_nan() && f64::from_bits(*b).is_nan())
            }
            _ => self == other,
        }
    }
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::I32(v) => write!(f, "i32:{v} ({:#x})", *v as u32),
            Value::I64(v) => write!(f, "i64:{v} ({:#x})", *v as u64),
            Value::F32(bits) => write!(f, "f32:{:?} ({bits:#010x})", f32::from_bits(*bits)),
            Value::F64(bits) => write!(f, "f64:{:?} ({bits:#018x})", f64::from_bits(*bits)),
            // As `v128.const i32x4` writes it: lane 0 first.
            Value::V128(bits) => write!(
                f,
                "v128:i32x4 {:#010x} {:#010x} {:#010x} {:#010x}",
                *bits as u32,
                (*bits >> 32) as u32,
                (*bits >> 64) as u32,
                (*bits >> 96) as u32
            ),
            Value::FuncRef(None) => f.write_str("funcref:null"),
            Value::FuncRef(Some(Some(name))) => write!(f, "funcref:{name:?}"),
            Value::FuncRef(Some(None)) => f.write_str("funcref:(not exported)"),
            Value::ExternRef(None) => f.write_str("externref:null"),
            Value::ExternRef(Some(n)) => write!(f, "externref:{n}"),
        }
    }
}

/// Why a call or an instantiation trapped, as far as both engines name it
/// alike. duet's and wasmi's trap codes map one to one on everything a
/// WebAssembly 2.0 module without imports can raise; anything else is
/// kept by name and only agrees with itself.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TrapKind {
    /// `unreachable` (also what the generator's fuel check executes).
    Unreachable,
    /// A memory access or bulk memory operation out of bounds.
    MemoryOutOfBounds,
    /// A table access out of bounds (also `call_indirect` past the end).
    TableOutOfBounds,
    /// `call_indirect` through a null element.
    IndirectCallToNull,
    /// `call_indirect` to a function of another type.
    BadSignature,
    /// Integer division or remainder by zero.
    IntegerDivisionByZero,
    /// `INT_MIN / -1`, or a float-to-integer conversion out of range.
    IntegerOverflow,
    /// A float-to-integer conversion of NaN.
    BadConversionToInteger,
    /// The engine's stack limit. Limits differ between engines, so this
    /// agrees with any trap (see [`agreement`]).
    StackOverflow,
    /// Anything else, by the engine's own name.
    Other(String),
}

impl fmt::Display for TrapKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TrapKind::Other(what) => write!(f, "trap ({what})"),
            kind => write!(f, "trap {kind:?}"),
        }
    }
}

/// What a call did.
pub type Outcome = Result<Vec<Value>, TrapKind>;

/// How two outcomes (of a call, or of an instantiation) relate.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Agreement {
    /// The same results (NaN for NaN), or traps of the same kind.
    Agree,
    /// Both trapped, and at least one by overflowing its stack: the
    /// outcomes agree, but the engines' limits differ, so each got a
    /// different distance before trapping and their states are no longer
    /// comparable.
    StackOverflowed,
    /// One side overflowed its stack and the other finished: the engines'
    /// limits differ, not their semantics. Nothing after this can be
    /// compared either.
    StackLimitsDiffer,
    /// A divergence.
    Disagree,
}

/// Compares the reference's `expected` with a tier's `actual`.
pub fn agreement(expected: &Outcome, actual: &Outcome) -> Agreement {
    let overflow = Err(TrapKind::StackOverflow);
    match (expected, actual) {
        (Ok(e), Ok(a)) => {
            if e.len() == a.len() && e.iter().zip(a).all(|(e, a)| e.agrees_with(a)) {
                Agreement::Agree
            } else {
                Agreement::Disagree
            }
        }
        (Err(_), Err(_)) if *expected == overflow || *actual == overflow => {
            Agreement::StackOverflowed
        }
        (Err(e), Err(a)) if e == a => Agreement::Agree,
        (Ok(_), Err(TrapKind::StackOverflow)) | (Err(TrapKind::StackOverflow), Ok(_)) => {
            Agreement::StackLimitsDiffer
        }
        _ => Agreement::Disagree,
    }
}

/// Shows an outcome: the results, or the trap.
pub fn show_outcome(outcome: &Outcome) -> String {
    match outcome {
        Ok(values) => format!("returned [{}]", show_values(values)),
        Err(trap) => trap.to_string(),
    }
}

/// Shows values separated by commas.
pub fn show_values(values: &[Value]) -> String {
    values
        .iter()
        .map(Value::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

/// Everything an instance exposes besides its functions, by export name,
/// in export order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct State {
    /// Every exported global's value.
    pub globals: Vec<(String, Value)>,
    /// Every exported memory's bytes (their length is the size).
    pub memories: Vec<(String, Vec<u8>)>,
    /// Every exported table's elements (their number is the size).
    pub tables: Vec<(String, Vec<Value>)>,
}

impl State {
    /// The first difference between the reference's state (`self`) and a
    /// tier's, described; `None` when they agree.
    pub fn difference(&self, actual: &State) -> Option<String> {
        for ((name, e), (_, a)) in self.globals.iter().zip(&actual.globals) {
            if !e.agrees_with(a) {
                return Some(format!("global {name:?}: expected {e}, got {a}"));
            }
        }
        for ((name, e), (_, a)) in self.memories.iter().zip(&actual.memories) {
            if e.len() != a.len() {
                return Some(format!(
                    "memory {name:?}: expected {} bytes, got {}",
                    e.len(),
                    a.len()
                ));
            }
            if let Some(at) = e.iter().zip(a).position(|(e, a)| e != a) {
                let differing = e.iter().zip(a).filter(|(e, a)| e != a).count();
                let window = at.saturating_sub(8)..(at + 24).min(e.len());
                return Some(format!(
                    "memory {name:?}: {differing} bytes differ, the first at {at:#x}\n  \
                     expected at {:#x}: {:02x?}\n  got      at {:#x}: {:02x?}",
                    window.start,
                    &e[window.clone()],
                    window.start,
                    &a[window.clone()],
                ));
            }
        }
        for ((name, e), (_, a)) in self.tables.iter().zip(&actual.tables) {
            if e.len() != a.len() {
                return Some(format!(
                    "table {name:?}: expected {} elements, got {}",
                    e.len(),
                    a.len()
                ));
            }
            if let Some(i) = e.iter().zip(a).position(|(e, a)| e != a) {
                return Some(format!(
                    "table {name:?}: element {i}: expected {}, got {}",
                    e[i], a[i]
                ));
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nan_agrees_with_any_nan_and_nothing_else() {
        let quiet = Value::F32(0x7fc0_0000);
        let negative_payload = Value::F32(0xffc0_0001);
        assert!(quiet.agrees_with(&negative_payload));
        assert!(!quiet.agrees_with(&Value::F32(0x7f80_0000)), "infinity");
        assert!(!Value::F32(0).agrees_with(&Value::F32(0x8000_0000)), "-0.0");
        assert!(Value::F64(0x7ff8_0000_0000_0000).agrees_with(&Value::F64(0xfff0_0000_0000_0001)));
        assert!(!Value::I32(1).agrees_with(&Value::I32(2)));
    }

    #[test]
    fn a_v128_agrees_bit_for_bit_only() {
        let canonical = 0x7fc0_0000_7fc0_0000_7fc0_0000_7fc0_0000u128;
        assert!(Value::V128(canonical).agrees_with(&Value::V128(canonical)));
        // Another NaN in one `f32x4` lane: the bits differ, so do the
        // vectors (an `i32x4` reading of them would).
        assert!(!Value::V128(canonical).agrees_with(&Value::V128(canonical | 1)));
        assert!(!Value::V128(0).agrees_with(&Value::V128(1 << 127)), "-0.0");
        assert_eq!(
            Value::V128(1 | 2 << 32 | 3 << 64 | 0xffff_ffff << 96).to_string(),
            "v128:i32x4 0x00000001 0x00000002 0x00000003 0xffffffff"
        );
    }

    #[test]
    fn stack_overflow_agrees_with_any_trap_only() {
        let overflow: Outcome = Err(TrapKind::StackOverflow);
        let unreachable: Outcome = Err(TrapKind::Unreachable);
        let returned: Outcome = Ok(vec![]);
        assert_eq!(
            agreement(&overflow, &unreachable),
            Agreement::StackOverflowed
        );
        assert_eq!(
            agreement(&unreachable, &overflow),
            Agreement::StackOverflowed
        );
        assert_eq!(agreement(&overflow, &overflow), Agreement::StackOverflowed);
        assert_eq!(
            agreement(&overflow, &returned),
            Agreement::StackLimitsDiffer
        );
        assert_eq!(
            agreement(&returned, &overflow),
            Agreement::StackLimitsDiffer
        );
        assert_eq!(
            agreement(&unreachable, &Err(TrapKind::MemoryOutOfBounds)),
            Agreement::Disagree
        );
        assert_eq!(agreement(&unreachable, &returned), Agreement::Disagree);
    }
}
