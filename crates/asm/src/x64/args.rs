//! Instruction operands: memory addresses and the register-or-memory (and
//! immediate) unions the instruction forms take.
//!
//! Every operand type is generic over a [`RegFamily`]: [`Physical`] (the
//! default) holds hardware registers and is what the
//! [`Assembler`](super::Assembler) encodes; [`Virtual`] holds allocatable
//! register operands and is what [`MInst`](super::MInst) carries. Converting
//! `Virtual` to `Physical` (after register allocation) is the only place the
//! two meet.

use super::regs::{Gpr, GprReg, Xmm, XmmReg};
use crate::buffer::{Constant, Label};
use crate::metadata::TrapCode;
use core::fmt::Debug;
use core::hash::Hash;

/// A family of register types an operand can be built from.
pub trait RegFamily: Copy + Eq + Debug + Hash {
    /// General-purpose registers of this family.
    type Gpr: Copy + Eq + Debug + Hash;
    /// XMM registers of this family.
    type Xmm: Copy + Eq + Debug + Hash;
}

/// Operands over hardware registers (what the assembler encodes).
#[derive(Copy, Clone, PartialEq, Eq, Debug, Hash)]
pub struct Physical;

impl RegFamily for Physical {
    type Gpr = Gpr;
    type Xmm = Xmm;
}

/// Operands over register-allocator operands (what [`MInst`](super::MInst)
/// carries).
#[derive(Copy, Clone, PartialEq, Eq, Debug, Hash)]
pub struct Virtual;

impl RegFamily for Virtual {
    type Gpr = GprReg;
    type Xmm = XmmReg;
}

/// The scale of an index register.
#[derive(Copy, Clone, PartialEq, Eq, Debug, Hash)]
pub enum Scale {
    /// index * 1
    One,
    /// index * 2
    Two,
    /// index * 4
    Four,
    /// index * 8
    Eight,
}

impl Scale {
    /// The scale that multiplies by `factor` (1, 2, 4 or 8).
    pub const fn new(factor: u8) -> Option<Scale> {
        match factor {
            1 => Some(Scale::One),
            2 => Some(Scale::Two),
            4 => Some(Scale::Four),
            8 => Some(Scale::Eight),
            _ => None,
        }
    }

    /// The SIB byte's two scale bits.
    pub const fn bits(self) -> u8 {
        match self {
            Scale::One => 0,
            Scale::Two => 1,
            Scale::Four => 2,
            Scale::Eight => 3,
        }
    }

    /// The factor (1, 2, 4 or 8).
    pub const fn factor(self) -> u8 {
        1 << self.bits()
    }
}

/// A memory operand, optionally tagged with the trap code a fault at this
/// access reports (the assembler records it in the trap table at the
/// instruction's offset).
#[derive(Copy, Clone, PartialEq, Eq, Debug, Hash)]
pub enum Amode<F: RegFamily = Physical> {
    /// `[base + index * scale + disp]`; with neither base nor index it is the
    /// absolute address `disp`. The index may not be `rsp`.
    Reg {
        /// The base register.
        base: Option<F::Gpr>,
        /// The index register and its scale.
        index: Option<(F::Gpr, Scale)>,
        /// The displacement.
        disp: i32,
        /// The trap code of a fault at this access.
        trap: Option<TrapCode>,
    },
    /// `[rip + label + offset]`.
    Label {
        /// The label.
        label: Label,
        /// Bytes past the label.
        offset: i32,
        /// The trap code of a fault at this access.
        trap: Option<TrapCode>,
    },
    /// `[rip + constant + offset]`: a constant-pool entry.
    Constant {
        /// The constant.
        constant: Constant,
        /// Bytes past the constant's start.
        offset: i32,
        /// The trap code of a fault at this access.
        trap: Option<TrapCode>,
    },
}

impl<F: RegFamily> Amode<F> {
    /// `[base + disp]`.
    pub fn base(base: F::Gpr, disp: i32) -> Self {
        Amode::Reg {
            base: Some(base),
            index: None,
            disp,
            trap: None,
        }
    }

    /// `[base + index * scale + disp]`.
    pub fn base_index(base: F::Gpr, index: F::Gpr, scale: Scale, disp: i32) -> Self {
        Amode::Reg {
            base: Some(base),
            index: Some((index, scale)),
            disp,
            trap: None,
        }
    }

    /// `[index * scale + disp]` (no base).
    pub fn index(index: F::Gpr, scale: Scale, disp: i32) -> Self {
        Amode::Reg {
            base: None,
            index: Some((index, scale)),
            disp,
            trap: None,
        }
    }

    /// The absolute address `[disp]`.
    pub fn absolute(disp: i32) -> Self {
        Amode::Reg {
            base: None,
            index: None,
            disp,
            trap: None,
        }
    }

    /// `[rip + label]`.
    pub fn label(label: Label) -> Self {
        Amode::Label {
            label,
            offset: 0,
            trap: None,
        }
    }

    /// `[rip + constant]`.
    pub fn constant(constant: Constant) -> Self {
        Amode::Constant {
            constant,
            offset: 0,
            trap: None,
        }
    }

    /// The same address, reporting `code` when an access through it faults.
    pub fn with_trap(mut self, code: TrapCode) -> Self {
        match &mut self {
            Amode::Reg { trap, .. } | Amode::Label { trap, .. } | Amode::Constant { trap, .. } => {
                *trap = Some(code)
            }
        }
        self
    }

    /// The trap code of a fault at this access.
    pub fn trap(&self) -> Option<TrapCode> {
        match *self {
            Amode::Reg { trap, .. } | Amode::Label { trap, .. } | Amode::Constant { trap, .. } => {
                trap
            }
        }
    }

    /// The same address `bytes` further on.
    pub fn offset(mut self, bytes: i32) -> Self {
        match &mut self {
            Amode::Reg { disp, .. } => *disp = disp.wrapping_add(bytes),
            Amode::Label { offset, .. } | Amode::Constant { offset, .. } => {
                *offset = offset.wrapping_add(bytes)
            }
        }
        self
    }

    /// The registers the address reads, for the operand visitor.
    pub fn regs_mut(&mut self) -> impl Iterator<Item = &mut F::Gpr> {
        let (base, index) = match self {
            Amode::Reg { base, index, .. } => (base.as_mut(), index.as_mut().map(|(i, _)| i)),
            _ => (None, None),
        };
        base.into_iter().chain(index)
    }
}

impl Amode<Virtual> {
    /// The address over the registers the operands were allocated to.
    pub fn to_physical(&self) -> Amode<Physical> {
        match *self {
            Amode::Reg {
                base,
                index,
                disp,
                trap,
            } => Amode::Reg {
                base: base.map(GprReg::to_physical),
                index: index.map(|(i, s)| (i.to_physical(), s)),
                disp,
                trap,
            },
            Amode::Label {
                label,
                offset,
                trap,
            } => Amode::Label {
                label,
                offset,
                trap,
            },
            Amode::Constant {
                constant,
                offset,
                trap,
            } => Amode::Constant {
                constant,
                offset,
                trap,
            },
        }
    }
}

/// A GPR or memory operand (the manual's `r/m`).
#[derive(Copy, Clone, PartialEq, Eq, Debug, Hash)]
pub enum GprMem<F: RegFamily = Physical> {
    /// A register.
    Gpr(F::Gpr),
    /// Memory.
    Mem(Amode<F>),
}

/// A GPR, memory or 32-bit immediate operand (`r/m` or `imm`). The
/// immediate is sign-extended at 64 bits and truncated at 8 and 16 bits,
/// where it must fit.
#[derive(Copy, Clone, PartialEq, Eq, Debug, Hash)]
pub enum GprMemImm<F: RegFamily = Physical> {
    /// A register.
    Gpr(F::Gpr),
    /// Memory.
    Mem(Amode<F>),
    /// An immediate.
    Imm(i32),
}

/// A GPR or immediate operand.
#[derive(Copy, Clone, PartialEq, Eq, Debug, Hash)]
pub enum GprImm<F: RegFamily = Physical> {
    /// A register.
    Gpr(F::Gpr),
    /// An immediate.
    Imm(i32),
}

/// An XMM register or memory operand (`xmm/m`).
///
/// A legacy SSE form that reads 128 bits of memory (`paddd`, `andps`, ...:
/// the forms whose `aligned_memory()` holds) faults on an address that is
/// not a multiple of 16, so the assembler takes a memory operand for it
/// only as [`XmmMem::Aligned`], or as a constant-pool entry it knows
/// 16-byte aligned; any other [`XmmMem::Mem`] is refused (see
/// `docs/assembler.md`, "Alignment").
#[derive(Copy, Clone, PartialEq, Eq, Debug, Hash)]
pub enum XmmMem<F: RegFamily = Physical> {
    /// A register.
    Xmm(F::Xmm),
    /// Memory, of any alignment.
    Mem(Amode<F>),
    /// Memory the caller guarantees 16-byte aligned (an aligned slot of an
    /// aligned frame, say): a statement the assembler cannot check.
    Aligned(Amode<F>),
}

/// The count of a shift or rotate.
#[derive(Copy, Clone, PartialEq, Eq, Debug, Hash)]
pub enum ShiftCount {
    /// An immediate count (the hardware masks it to 5 or 6 bits).
    Imm(u8),
    /// The count in `cl`.
    Cl,
}

macro_rules! from_impls {
    ($($ty:ident { $($variant:ident($from:ty)),* })*) => {$($(
        impl From<$from> for $ty<Physical> {
            fn from(value: $from) -> Self {
                $ty::$variant(value)
            }
        }
    )*)*};
}

from_impls! {
    GprMem { Gpr(Gpr), Mem(Amode) }
    GprMemImm { Gpr(Gpr), Mem(Amode), Imm(i32) }
    GprImm { Gpr(Gpr), Imm(i32) }
    XmmMem { Xmm(Xmm), Mem(Amode) }
}

impl GprMem<Virtual> {
    /// The operand over allocated registers.
    pub fn to_physical(&self) -> GprMem {
        match self {
            GprMem::Gpr(r) => GprMem::Gpr(r.to_physical()),
            GprMem::Mem(m) => GprMem::Mem(m.to_physical()),
        }
    }
}

impl GprMemImm<Virtual> {
    /// The operand over allocated registers.
    pub fn to_physical(&self) -> GprMemImm {
        match self {
            GprMemImm::Gpr(r) => GprMemImm::Gpr(r.to_physical()),
            GprMemImm::Mem(m) => GprMemImm::Mem(m.to_physical()),
            GprMemImm::Imm(i) => GprMemImm::Imm(*i),
        }
    }
}

impl GprImm<Virtual> {
    /// The operand over allocated registers.
    pub fn to_physical(&self) -> GprImm {
        match self {
            GprImm::Gpr(r) => GprImm::Gpr(r.to_physical()),
            GprImm::Imm(i) => GprImm::Imm(*i),
        }
    }
}

impl XmmMem<Virtual> {
    /// The operand over allocated registers.
    pub fn to_physical(&self) -> XmmMem {
        match self {
            XmmMem::Xmm(r) => XmmMem::Xmm(r.to_physical()),
            XmmMem::Mem(m) => XmmMem::Mem(m.to_physical()),
            XmmMem::Aligned(m) => XmmMem::Aligned(m.to_physical()),
        }
    }
}
