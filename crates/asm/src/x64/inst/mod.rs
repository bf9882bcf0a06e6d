//! [`MInst`]: x86-64 instructions as values, for the optimizing compiler.
//!
//! Every shape (variant) and every operation enum is declared once, in the
//! x86-64 instruction table (`xtask/src/x64/table.rs`; `docs/assembler.md`
//! shows how to add a form). `cargo xtask isle` generates from it the ISLE
//! declarations (`isle/asm/x64/inst.isle`, compiled into [`generated`]) and
//! `table.rs` here, which implements:
//!
//! * [`MInst::get_operands`]: the register-operand walk that feeds regalloc2
//!   and rewrites registers after allocation (per operand kind in
//!   `operands.rs`);
//! * [`MInst::emit`]: encoding, by calling the
//!   [`Assembler`](super::Assembler) method of each shape (conversions and
//!   the few hand-written shapes in `emit.rs`), so the optimizing compiler's
//!   bytes come from the same encoder as the baseline compiler's;
//! * [`MInst::required_features`]: the CPU features an instruction needs;
//! * each operation enum's `ALL`, and for the enums of forms (`SseOp`,
//!   `AluOp`, ...) `mnemonic`, `feature` and the declared encoding.
//!
//! This module defines the Rust types the declarations name (the operand
//! types over [`Virtual`] registers).
//!
//! An `MInst` holds virtual registers until allocation; `emit` needs every
//! register physical and every tied pair (a destructive form's `dst` and
//! `src1`) in one register, and panics otherwise: both are invariants of the
//! allocator's output, not of user input.

mod emit;
mod operands;
mod table;

#[allow(missing_docs, clippy::all)]
pub mod generated;

pub use generated::{
    AluOp, AvxBlendvOp, AvxExtractOp, AvxImmOp, AvxInsertOp, AvxMoveMaskOp, AvxOp, AvxShiftImmOp,
    AvxStoreOp, AvxTestOp, AvxUnaryImmOp, AvxUnaryOp, BitOp, CC, ExtMode, FloatSize, MInst,
    OperandSize, RoundMode, ShiftOp, SseBlendvOp, SseExtractOp, SseImmOp, SseInsertOp, SseMovOp,
    SseMoveMaskOp, SseOp, SseRegOp, SseShiftImmOp, SseTestOp, SseUnaryImmOp, SseUnaryOp, UnaryOp,
};

use super::args::{self, Virtual};
use super::asm::JumpTableTargets;
pub use super::regs::{GprReg, WritableGpr, WritableXmm, XmmReg};
pub use crate::buffer::Label;
pub use crate::metadata::{ExternalName, TrapCode};
use crate::reg::{PReg, PRegSet, Reg, Writable};

/// A memory operand over allocatable registers.
pub type Amode = args::Amode<Virtual>;
/// A register-or-memory operand over allocatable registers.
pub type GprMem = args::GprMem<Virtual>;
/// A register, memory or immediate operand over allocatable registers.
pub type GprMemImm = args::GprMemImm<Virtual>;
/// A register or immediate operand over allocatable registers.
pub type GprImm = args::GprImm<Virtual>;
/// An XMM-or-memory operand over allocatable registers.
pub type XmmMem = args::XmmMem<Virtual>;
/// A call's description, boxed to keep `MInst` small.
pub type BoxCallInfo = Box<CallInfo>;
/// A jump table, boxed to keep `MInst` small.
pub type BoxJumpTable = Box<JumpTableTargets>;

/// The count of a shift: an immediate, or a register the allocator must
/// place in `rcx`.
#[derive(Copy, Clone, PartialEq, Eq, Debug, Hash)]
pub enum ShiftAmount {
    /// An immediate count.
    Imm(u8),
    /// A count in a register (allocated to `rcx`).
    Cl(GprReg),
}

/// Where a call goes.
#[derive(Copy, Clone, PartialEq, Eq, Debug)]
pub enum CallDest {
    /// A label in the same code.
    Label(Label),
    /// An external symbol (a relocation).
    External(ExternalName),
}

/// What the register allocator must know about a call: the registers its
/// arguments are passed in, the registers its results come back in, and
/// everything else it clobbers. The calling convention (duet-environ) fills
/// it in.
#[derive(Clone, Debug)]
pub struct CallInfo {
    /// The callee (ignored by `CallIndirect`, which has its own operand).
    pub dest: CallDest,
    /// Arguments: each value and the register it is passed in.
    pub uses: Vec<(Reg, PReg)>,
    /// Results: each value and the register it comes back in.
    pub defs: Vec<(Writable<Reg>, PReg)>,
    /// Registers the call clobbers (besides `defs`).
    pub clobbers: PRegSet,
}

impl MInst {
    /// A register-to-register move (what the register allocator inserts).
    pub fn gen_move(dst: Writable<Reg>, src: Reg) -> MInst {
        match (GprReg::new(src), XmmReg::new(src)) {
            (Some(src), _) => MInst::MovRR {
                size: OperandSize::S64,
                src,
                dst: dst.map(|r| GprReg::new(r).expect("a move keeps the register class")),
            },
            (_, Some(src)) => MInst::XmmMovRR {
                src,
                dst: dst.map(|r| XmmReg::new(r).expect("a move keeps the register class")),
            },
            _ => unreachable!("x86-64 registers are GPRs or XMM registers"),
        }
    }
}
