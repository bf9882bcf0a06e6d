//! x86-64 registers.
//!
//! Two views of the same sixteen GPRs and sixteen XMM registers:
//!
//! * [`Gpr`] and [`Xmm`] are *physical* registers: a hardware encoding
//!   (0 to 15). The [`Assembler`](super::Assembler) takes only these, so the
//!   baseline compiler, which assigns registers itself, cannot hand it
//!   anything the encoder would have to check.
//! * [`GprReg`] and [`XmmReg`] are register *operands* of [`MInst`](super::MInst):
//!   a [`Reg`] of the right class, virtual before allocation and physical
//!   after. [`GprReg::to_physical`] is where the two meet, at emission.
//!
//! The width an instruction reads of a GPR comes from the instruction's
//! operand size, not from the register: `Gpr::RAX` at 32 bits is `eax`.

use super::OperandSize;
use crate::reg::{PReg, Reg, RegClass, Writable};
use crate::unwind::UnwindReg;
use core::fmt;

/// A physical general-purpose register.
#[derive(Copy, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Gpr(u8);

impl Gpr {
    /// rax (encoding 0).
    pub const RAX: Gpr = Gpr(0);
    /// rcx (encoding 1).
    pub const RCX: Gpr = Gpr(1);
    /// rdx (encoding 2).
    pub const RDX: Gpr = Gpr(2);
    /// rbx (encoding 3).
    pub const RBX: Gpr = Gpr(3);
    /// rsp (encoding 4).
    pub const RSP: Gpr = Gpr(4);
    /// rbp (encoding 5).
    pub const RBP: Gpr = Gpr(5);
    /// rsi (encoding 6).
    pub const RSI: Gpr = Gpr(6);
    /// rdi (encoding 7).
    pub const RDI: Gpr = Gpr(7);
    /// r8.
    pub const R8: Gpr = Gpr(8);
    /// r9.
    pub const R9: Gpr = Gpr(9);
    /// r10.
    pub const R10: Gpr = Gpr(10);
    /// r11.
    pub const R11: Gpr = Gpr(11);
    /// r12.
    pub const R12: Gpr = Gpr(12);
    /// r13.
    pub const R13: Gpr = Gpr(13);
    /// r14.
    pub const R14: Gpr = Gpr(14);
    /// r15.
    pub const R15: Gpr = Gpr(15);

    /// All sixteen, in encoding order.
    pub const ALL: [Gpr; 16] = {
        let mut all = [Gpr(0); 16];
        let mut i = 0;
        while i < 16 {
            all[i] = Gpr(i as u8);
            i += 1;
        }
        all
    };

    /// The register with hardware encoding `enc`, if there is one.
    pub const fn from_enc(enc: u8) -> Option<Gpr> {
        if enc < 16 { Some(Gpr(enc)) } else { None }
    }

    /// The hardware encoding (0 to 15).
    pub const fn enc(self) -> u8 {
        self.0
    }

    /// The register's DWARF number (the x86-64 psABI's mapping, which
    /// unwind tables and debug information use; not the encoding order).
    pub const fn dwarf(self) -> UnwindReg {
        const DWARF: [u16; 16] = [0, 2, 1, 3, 7, 6, 4, 5, 8, 9, 10, 11, 12, 13, 14, 15];
        UnwindReg(DWARF[self.0 as usize])
    }

    /// The register as regalloc2 names it.
    pub const fn to_preg(self) -> PReg {
        PReg::new(self.0 as usize, RegClass::Int)
    }

    /// The register as an instruction operand.
    pub const fn to_reg(self) -> Reg {
        Reg::from_preg(self.to_preg())
    }

    /// The register's name at `size` (`eax`, `sil`, `r9w`, ...).
    pub fn name(self, size: OperandSize) -> &'static str {
        const NAMES: [[&str; 4]; 16] = [
            ["al", "ax", "eax", "rax"],
            ["cl", "cx", "ecx", "rcx"],
            ["dl", "dx", "edx", "rdx"],
            ["bl", "bx", "ebx", "rbx"],
            ["spl", "sp", "esp", "rsp"],
            ["bpl", "bp", "ebp", "rbp"],
            ["sil", "si", "esi", "rsi"],
            ["dil", "di", "edi", "rdi"],
            ["r8b", "r8w", "r8d", "r8"],
            ["r9b", "r9w", "r9d", "r9"],
            ["r10b", "r10w", "r10d", "r10"],
            ["r11b", "r11w", "r11d", "r11"],
            ["r12b", "r12w", "r12d", "r12"],
            ["r13b", "r13w", "r13d", "r13"],
            ["r14b", "r14w", "r14d", "r14"],
            ["r15b", "r15w", "r15d", "r15"],
        ];
        let column = match size {
            OperandSize::S8 => 0,
            OperandSize::S16 => 1,
            OperandSize::S32 => 2,
            OperandSize::S64 => 3,
        };
        NAMES[self.0 as usize][column]
    }

    /// Whether the low three bits of the encoding are `low` (the registers
    /// that share ModRM/SIB quirks: rsp/r12 need a SIB byte as a base,
    /// rbp/r13 need a displacement).
    pub(crate) const fn low_bits(self) -> u8 {
        self.0 & 7
    }
}

impl fmt::Debug for Gpr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name(OperandSize::S64))
    }
}

impl fmt::Display for Gpr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}

/// A physical XMM register.
#[derive(Copy, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Xmm(u8);

impl Xmm {
    /// All sixteen, in encoding order.
    pub const ALL: [Xmm; 16] = {
        let mut all = [Xmm(0); 16];
        let mut i = 0;
        while i < 16 {
            all[i] = Xmm(i as u8);
            i += 1;
        }
        all
    };
    /// xmm0.
    pub const XMM0: Xmm = Xmm(0);
    /// xmm1.
    pub const XMM1: Xmm = Xmm(1);
    /// xmm2.
    pub const XMM2: Xmm = Xmm(2);
    /// xmm3.
    pub const XMM3: Xmm = Xmm(3);
    /// xmm4.
    pub const XMM4: Xmm = Xmm(4);
    /// xmm5.
    pub const XMM5: Xmm = Xmm(5);
    /// xmm6.
    pub const XMM6: Xmm = Xmm(6);
    /// xmm7.
    pub const XMM7: Xmm = Xmm(7);
    /// xmm8.
    pub const XMM8: Xmm = Xmm(8);
    /// xmm9.
    pub const XMM9: Xmm = Xmm(9);
    /// xmm10.
    pub const XMM10: Xmm = Xmm(10);
    /// xmm11.
    pub const XMM11: Xmm = Xmm(11);
    /// xmm12.
    pub const XMM12: Xmm = Xmm(12);
    /// xmm13.
    pub const XMM13: Xmm = Xmm(13);
    /// xmm14.
    pub const XMM14: Xmm = Xmm(14);
    /// xmm15.
    pub const XMM15: Xmm = Xmm(15);

    /// The register with hardware encoding `enc`, if there is one.
    pub const fn from_enc(enc: u8) -> Option<Xmm> {
        if enc < 16 { Some(Xmm(enc)) } else { None }
    }

    /// The hardware encoding (0 to 15).
    pub const fn enc(self) -> u8 {
        self.0
    }

    /// The register's DWARF number (17 to 32).
    pub const fn dwarf(self) -> UnwindReg {
        UnwindReg(17 + self.0 as u16)
    }

    /// The register as regalloc2 names it.
    pub const fn to_preg(self) -> PReg {
        PReg::new(self.0 as usize, RegClass::Float)
    }

    /// The register as an instruction operand.
    pub const fn to_reg(self) -> Reg {
        Reg::from_preg(self.to_preg())
    }
}

impl fmt::Debug for Xmm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "xmm{}", self.0)
    }
}

impl fmt::Display for Xmm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}

/// Defines a class-checked register-operand newtype over [`Reg`].
macro_rules! register_operand {
    ($(#[$doc:meta])* $name:ident, $physical:ident, $class:ident) => {
        $(#[$doc])*
        #[derive(Copy, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(Reg);

        impl $name {
            /// `reg` as an operand of this class, if it has this class.
            pub fn new(reg: Reg) -> Option<Self> {
                (reg.class() == RegClass::$class).then_some($name(reg))
            }

            /// The `n`th virtual register of this class.
            pub fn new_virtual(n: usize) -> Self {
                $name(Reg::new_virtual(n, RegClass::$class))
            }

            /// The register.
            pub const fn to_reg(self) -> Reg {
                self.0
            }

            /// The register, for the operand visitor (which keeps its class).
            pub fn reg_mut(&mut self) -> &mut Reg {
                &mut self.0
            }

            /// The physical register this operand was allocated to.
            ///
            /// # Panics
            ///
            /// If the operand is still virtual: instructions are encoded only
            /// after register allocation has rewritten every operand.
            pub fn to_physical(self) -> $physical {
                let preg = self.0.to_preg().unwrap_or_else(|| {
                    panic!("{:?} reached the encoder before register allocation", self.0)
                });
                $physical(preg.hw_enc() as u8)
            }
        }

        impl From<$physical> for $name {
            fn from(reg: $physical) -> Self {
                $name(reg.to_reg())
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                match self.0.to_preg() {
                    Some(preg) => fmt::Debug::fmt(&$physical(preg.hw_enc() as u8), f),
                    None => fmt::Debug::fmt(&self.0, f),
                }
            }
        }
    };
}

register_operand!(
    /// A general-purpose register operand of an [`MInst`](super::MInst):
    /// virtual before allocation, physical after.
    GprReg,
    Gpr,
    Int
);
register_operand!(
    /// An XMM register operand of an [`MInst`](super::MInst).
    XmmReg,
    Xmm,
    Float
);

/// A GPR an instruction writes.
pub type WritableGpr = Writable<GprReg>;
/// An XMM register an instruction writes.
pub type WritableXmm = Writable<XmmReg>;
