//! Condition codes of `icmp` and `fcmp`.

use core::fmt;

/// An integer comparison.
#[derive(Copy, Clone, PartialEq, Eq, Hash, Debug)]
pub enum IntCC {
    /// `==`
    Equal,
    /// `!=`
    NotEqual,
    /// signed `<`
    SignedLessThan,
    /// signed `>=`
    SignedGreaterThanOrEqual,
    /// signed `>`
    SignedGreaterThan,
    /// signed `<=`
    SignedLessThanOrEqual,
    /// unsigned `<`
    UnsignedLessThan,
    /// unsigned `>=`
    UnsignedGreaterThanOrEqual,
    /// unsigned `>`
    UnsignedGreaterThan,
    /// unsigned `<=`
    UnsignedLessThanOrEqual,
}

impl IntCC {
    /// Every condition.
    pub const ALL: [IntCC; 10] = [
        IntCC::Equal,
        IntCC::NotEqual,
        IntCC::SignedLessThan,
        IntCC::SignedGreaterThanOrEqual,
        IntCC::SignedGreaterThan,
        IntCC::SignedLessThanOrEqual,
        IntCC::UnsignedLessThan,
        IntCC::UnsignedGreaterThanOrEqual,
        IntCC::UnsignedGreaterThan,
        IntCC::UnsignedLessThanOrEqual,
    ];

    /// The name in the text format.
    pub const fn name(self) -> &'static str {
        match self {
            IntCC::Equal => "eq",
            IntCC::NotEqual => "ne",
            IntCC::SignedLessThan => "slt",
            IntCC::SignedGreaterThanOrEqual => "sge",
            IntCC::SignedGreaterThan => "sgt",
            IntCC::SignedLessThanOrEqual => "sle",
            IntCC::UnsignedLessThan => "ult",
            IntCC::UnsignedGreaterThanOrEqual => "uge",
            IntCC::UnsignedGreaterThan => "ugt",
            IntCC::UnsignedLessThanOrEqual => "ule",
        }
    }

    /// The condition named `name`.
    pub fn from_name(name: &str) -> Option<IntCC> {
        IntCC::ALL.into_iter().find(|c| c.name() == name)
    }

    /// The condition that holds exactly when this one does not.
    pub const fn inverse(self) -> IntCC {
        match self {
            IntCC::Equal => IntCC::NotEqual,
            IntCC::NotEqual => IntCC::Equal,
            IntCC::SignedLessThan => IntCC::SignedGreaterThanOrEqual,
            IntCC::SignedGreaterThanOrEqual => IntCC::SignedLessThan,
            IntCC::SignedGreaterThan => IntCC::SignedLessThanOrEqual,
            IntCC::SignedLessThanOrEqual => IntCC::SignedGreaterThan,
            IntCC::UnsignedLessThan => IntCC::UnsignedGreaterThanOrEqual,
            IntCC::UnsignedGreaterThanOrEqual => IntCC::UnsignedLessThan,
            IntCC::UnsignedGreaterThan => IntCC::UnsignedLessThanOrEqual,
            IntCC::UnsignedLessThanOrEqual => IntCC::UnsignedGreaterThan,
        }
    }

    /// The condition with the operands swapped (`a < b` is `b > a`).
    pub const fn swap_args(self) -> IntCC {
        match self {
            IntCC::Equal | IntCC::NotEqual => self,
            IntCC::SignedLessThan => IntCC::SignedGreaterThan,
            IntCC::SignedGreaterThanOrEqual => IntCC::SignedLessThanOrEqual,
            IntCC::SignedGreaterThan => IntCC::SignedLessThan,
            IntCC::SignedLessThanOrEqual => IntCC::SignedGreaterThanOrEqual,
            IntCC::UnsignedLessThan => IntCC::UnsignedGreaterThan,
            IntCC::UnsignedGreaterThanOrEqual => IntCC::UnsignedLessThanOrEqual,
            IntCC::UnsignedGreaterThan => IntCC::UnsignedLessThan,
            IntCC::UnsignedLessThanOrEqual => IntCC::UnsignedGreaterThanOrEqual,
        }
    }

    /// Evaluates the condition on two integers of `bits` bits (given
    /// sign-extended to 64).
    pub fn eval(self, a: i64, b: i64, bits: u32) -> bool {
        let mask = if bits >= 64 {
            u64::MAX
        } else {
            (1u64 << bits) - 1
        };
        let (ua, ub) = (a as u64 & mask, b as u64 & mask);
        match self {
            IntCC::Equal => ua == ub,
            IntCC::NotEqual => ua != ub,
            IntCC::SignedLessThan => a < b,
            IntCC::SignedGreaterThanOrEqual => a >= b,
            IntCC::SignedGreaterThan => a > b,
            IntCC::SignedLessThanOrEqual => a <= b,
            IntCC::UnsignedLessThan => ua < ub,
            IntCC::UnsignedGreaterThanOrEqual => ua >= ub,
            IntCC::UnsignedGreaterThan => ua > ub,
            IntCC::UnsignedLessThanOrEqual => ua <= ub,
        }
    }
}

/// A float comparison. Ordered conditions are false when either operand is
/// NaN; `ne` and `uno` are true then.
#[derive(Copy, Clone, PartialEq, Eq, Hash, Debug)]
pub enum FloatCC {
    /// `==` (ordered)
    Equal,
    /// `!=` (unordered or not equal)
    NotEqual,
    /// `<` (ordered)
    LessThan,
    /// `<=` (ordered)
    LessThanOrEqual,
    /// `>` (ordered)
    GreaterThan,
    /// `>=` (ordered)
    GreaterThanOrEqual,
    /// Neither operand is NaN.
    Ordered,
    /// Either operand is NaN.
    Unordered,
}

impl FloatCC {
    /// Every condition.
    pub const ALL: [FloatCC; 8] = [
        FloatCC::Equal,
        FloatCC::NotEqual,
        FloatCC::LessThan,
        FloatCC::LessThanOrEqual,
        FloatCC::GreaterThan,
        FloatCC::GreaterThanOrEqual,
        FloatCC::Ordered,
        FloatCC::Unordered,
    ];

    /// The name in the text format.
    pub const fn name(self) -> &'static str {
        match self {
            FloatCC::Equal => "eq",
            FloatCC::NotEqual => "ne",
            FloatCC::LessThan => "lt",
            FloatCC::LessThanOrEqual => "le",
            FloatCC::GreaterThan => "gt",
            FloatCC::GreaterThanOrEqual => "ge",
            FloatCC::Ordered => "ord",
            FloatCC::Unordered => "uno",
        }
    }

    /// The condition named `name`.
    pub fn from_name(name: &str) -> Option<FloatCC> {
        FloatCC::ALL.into_iter().find(|c| c.name() == name)
    }

    /// The condition with the operands swapped.
    pub const fn swap_args(self) -> FloatCC {
        match self {
            FloatCC::LessThan => FloatCC::GreaterThan,
            FloatCC::LessThanOrEqual => FloatCC::GreaterThanOrEqual,
            FloatCC::GreaterThan => FloatCC::LessThan,
            FloatCC::GreaterThanOrEqual => FloatCC::LessThanOrEqual,
            other => other,
        }
    }

    /// Evaluates the condition.
    pub fn eval(self, a: f64, b: f64) -> bool {
        match self {
            FloatCC::Equal => a == b,
            FloatCC::NotEqual => a != b,
            FloatCC::LessThan => a < b,
            FloatCC::LessThanOrEqual => a <= b,
            FloatCC::GreaterThan => a > b,
            FloatCC::GreaterThanOrEqual => a >= b,
            FloatCC::Ordered => !a.is_nan() && !b.is_nan(),
            FloatCC::Unordered => a.is_nan() || b.is_nan(),
        }
    }
}

impl fmt::Display for IntCC {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl fmt::Display for FloatCC {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inverses_and_swaps_agree_with_evaluation() {
        let samples = [i64::MIN, -2, -1, 0, 1, 2, i64::MAX];
        for cc in IntCC::ALL {
            assert_eq!(IntCC::from_name(cc.name()), Some(cc));
            for a in samples {
                for b in samples {
                    assert_eq!(cc.inverse().eval(a, b, 64), !cc.eval(a, b, 64));
                    assert_eq!(cc.swap_args().eval(b, a, 64), cc.eval(a, b, 64));
                }
            }
        }
        let floats = [f64::NAN, -1.0, -0.0, 0.0, 1.0, f64::INFINITY];
        for cc in FloatCC::ALL {
            assert_eq!(FloatCC::from_name(cc.name()), Some(cc));
            for a in floats {
                for b in floats {
                    assert_eq!(cc.swap_args().eval(b, a), cc.eval(a, b));
                }
            }
        }
    }
}
