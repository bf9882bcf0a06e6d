//! Registers as the register allocator sees them: virtual or physical.
//!
//! A [`Reg`] wraps a regalloc2 [`VReg`]. The first [`FIRST_VIRTUAL_REG`]
//! virtual-register numbers are *pinned*: number `n` stands for the physical
//! register whose regalloc2 [`PReg::index`] is `n`. Every other number is a
//! genuine virtual register. So one 32-bit value names either kind, an
//! instruction can mix them (a fixed `rcx` shift count beside virtual
//! operands), and rewriting an instruction after allocation is replacing each
//! virtual `Reg` by the pinned `Reg` of its allocation.
//!
//! ISA code wraps `Reg` in class-checked newtypes (`x64::GprReg`,
//! `x64::XmmReg`); [`Writable`] marks the registers an instruction writes.

use core::fmt;

pub use regalloc2::{PReg, PRegSet, RegClass, VReg};

/// Virtual-register numbers below this one are physical registers.
pub const FIRST_VIRTUAL_REG: usize = PReg::NUM_INDEX;

/// A register operand: a virtual register before allocation, or a physical
/// register (always after allocation; before it, where an instruction needs a
/// particular register).
#[derive(Copy, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Reg(VReg);

impl Reg {
    /// The physical register `preg`.
    pub const fn from_preg(preg: PReg) -> Reg {
        Reg(VReg::new(preg.index(), preg.class()))
    }

    /// The virtual register `vreg`, which must be numbered at least
    /// [`FIRST_VIRTUAL_REG`] (smaller numbers are the physical registers).
    pub fn from_vreg(vreg: VReg) -> Reg {
        assert!(
            vreg.vreg() >= FIRST_VIRTUAL_REG,
            "virtual register {vreg:?} is numbered inside the pinned (physical) range"
        );
        Reg(vreg)
    }

    /// The `n`th virtual register of `class` (numbered from
    /// [`FIRST_VIRTUAL_REG`] on).
    pub fn new_virtual(n: usize, class: RegClass) -> Reg {
        Reg(VReg::new(FIRST_VIRTUAL_REG + n, class))
    }

    /// The register as regalloc2 names it (pinned vregs for physical ones).
    pub const fn to_vreg(self) -> VReg {
        self.0
    }

    /// The physical register, if this is one.
    pub const fn to_preg(self) -> Option<PReg> {
        if self.0.vreg() < FIRST_VIRTUAL_REG {
            Some(PReg::from_index(self.0.vreg()))
        } else {
            None
        }
    }

    /// Whether this is a virtual register.
    pub const fn is_virtual(self) -> bool {
        self.to_preg().is_none()
    }

    /// The register's class.
    pub const fn class(self) -> RegClass {
        self.0.class()
    }
}

impl From<PReg> for Reg {
    fn from(preg: PReg) -> Reg {
        Reg::from_preg(preg)
    }
}

impl fmt::Debug for Reg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.to_preg() {
            Some(preg) => write!(f, "{preg}"),
            None => write!(
                f,
                "v{}{}",
                self.0.vreg() - FIRST_VIRTUAL_REG,
                class_suffix(self.class())
            ),
        }
    }
}

fn class_suffix(class: RegClass) -> &'static str {
    match class {
        RegClass::Int => "i",
        RegClass::Float => "f",
        RegClass::Vector => "v",
    }
}

/// A register an instruction writes. Only code that defines values makes
/// these; reading one back as a source takes [`Writable::to_reg`].
#[derive(Copy, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Writable<R>(R);

impl<R: Copy> Writable<R> {
    /// Marks `reg` as written.
    pub const fn from_reg(reg: R) -> Self {
        Writable(reg)
    }

    /// The register itself.
    pub const fn to_reg(self) -> R {
        self.0
    }

    /// A mutable reference to the register (for rewriting after allocation).
    pub fn reg_mut(&mut self) -> &mut R {
        &mut self.0
    }

    /// Applies `f` to the register, keeping it writable.
    pub fn map<S>(self, f: impl FnOnce(R) -> S) -> Writable<S> {
        Writable(f(self.0))
    }
}

impl<R: fmt::Debug> fmt::Debug for Writable<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pinned_and_virtual_registers_round_trip() {
        let preg = PReg::new(5, RegClass::Float);
        let reg = Reg::from_preg(preg);
        assert_eq!(reg.to_preg(), Some(preg));
        assert_eq!(reg.class(), RegClass::Float);
        assert!(!reg.is_virtual());

        let v = Reg::new_virtual(0, RegClass::Int);
        assert!(v.is_virtual());
        assert_eq!(v.to_preg(), None);
        assert_eq!(v.to_vreg().vreg(), FIRST_VIRTUAL_REG);
        assert_eq!(format!("{v:?}"), "v0i");
    }

    #[test]
    #[should_panic(expected = "pinned")]
    fn a_virtual_register_cannot_alias_a_physical_one() {
        Reg::from_vreg(VReg::new(3, RegClass::Int));
    }
}
