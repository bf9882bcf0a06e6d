//! Shifts and rotates: ROL ROR SHL SHR SAR (base instruction set).
//!
//! ```text
//!  form             8-bit      16/32/64-bit   extension
//!  op r/m, 1        D0 /n      D1 /n          ROL /0  ROR /1
//!  op r/m, cl       D2 /n      D3 /n          SHL /4  SHR /5
//!  op r/m, imm8     C0 /n ib   C1 /n ib       SAR /7
//! ```
//!
//! A count of 1 takes the shorter `D0/D1` form. RCL/RCR (/2, /3) and SAL (an
//! alias of SHL) are left out.

use super::{Assembler, Imm, Prefixes, Rm};
use crate::x64::args::{Amode, GprMem, ShiftCount};
use crate::x64::regs::Gpr;
use crate::x64::{OperandSize, ShiftOp};

impl Assembler {
    /// `op dst, count` on a register or memory.
    pub fn shift(&mut self, op: ShiftOp, size: OperandSize, dst: &GprMem, count: ShiftCount) {
        let mut p = Prefixes::for_size(size);
        if let GprMem::Gpr(r) = dst {
            p = p.byte_reg(size, r.enc());
        }
        // The declared form is `op r/m, cl` (`D3 /n`); the family's other
        // opcodes share its /n.
        let form = op.form();
        let wide = (size != OperandSize::S8) as u8;
        let (opcode, imm) = match count {
            ShiftCount::Imm(1) => (0xD0 | wide, Imm::None),
            ShiftCount::Imm(n) => (0xC0 | wide, Imm::I8(n as i8)),
            ShiftCount::Cl => (0xD2 | wide, Imm::None),
        };
        self.emit_modrm(
            form.mnemonic,
            p,
            form.opcode.map,
            opcode,
            form.opcode.extension(),
            Rm::from(dst),
            imm,
        );
    }

    /// `op dst, imm8`.
    pub fn shift_ri(&mut self, op: ShiftOp, size: OperandSize, dst: Gpr, count: u8) {
        self.shift(op, size, &GprMem::Gpr(dst), ShiftCount::Imm(count));
    }

    /// `op dst, cl`.
    pub fn shift_rcl(&mut self, op: ShiftOp, size: OperandSize, dst: Gpr) {
        self.shift(op, size, &GprMem::Gpr(dst), ShiftCount::Cl);
    }

    /// `op [dst], imm8`.
    pub fn shift_mi(&mut self, op: ShiftOp, size: OperandSize, dst: &Amode, count: u8) {
        self.shift(op, size, &GprMem::Mem(*dst), ShiftCount::Imm(count));
    }

    /// `op [dst], cl`.
    pub fn shift_mcl(&mut self, op: ShiftOp, size: OperandSize, dst: &Amode) {
        self.shift(op, size, &GprMem::Mem(*dst), ShiftCount::Cl);
    }

    /// `shl dst, imm8`.
    pub fn shl_ri(&mut self, size: OperandSize, dst: Gpr, count: u8) {
        self.shift_ri(ShiftOp::Shl, size, dst, count);
    }

    /// `shr dst, imm8`.
    pub fn shr_ri(&mut self, size: OperandSize, dst: Gpr, count: u8) {
        self.shift_ri(ShiftOp::Shr, size, dst, count);
    }

    /// `sar dst, imm8`.
    pub fn sar_ri(&mut self, size: OperandSize, dst: Gpr, count: u8) {
        self.shift_ri(ShiftOp::Sar, size, dst, count);
    }
}
