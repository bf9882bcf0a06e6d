//! PUSH and POP (base instruction set; 64-bit operands only).
//!
//! ```text
//!  PUSH r64      50+rd        POP r64      58+rd
//!  PUSH r/m64    FF /6
//!  PUSH imm8     6A ib        PUSH imm32   68 id      (sign-extended to 64 bits)
//! ```
//!
//! `POP r/m64` (8F /0) is left out: nothing pops straight into memory.

use super::{Assembler, Imm, Map, Prefixes, Rm};
use crate::x64::args::GprMemImm;
use crate::x64::regs::Gpr;

impl Assembler {
    /// `push src`: `rsp -= 8; [rsp] = src`.
    pub fn push(&mut self, src: &GprMemImm) {
        match *src {
            GprMemImm::Gpr(r) => {
                self.emit_opcode_reg(Prefixes::NONE, Map::Primary, 0x50, r.enc(), Imm::None)
            }
            GprMemImm::Mem(ref m) => self.emit_modrm(
                "push",
                Prefixes::NONE,
                Map::Primary,
                0xFF,
                6,
                Rm::Mem(m),
                Imm::None,
            ),
            GprMemImm::Imm(v) if i8::try_from(v).is_ok() => self.emit_bytes(&[0x6A, v as u8]),
            GprMemImm::Imm(v) => {
                let [a, b, c, d] = v.to_le_bytes();
                self.emit_bytes(&[0x68, a, b, c, d]);
            }
        }
    }

    /// `push src` (a register).
    pub fn push_r(&mut self, src: Gpr) {
        self.push(&GprMemImm::Gpr(src));
    }

    /// `pop dst`: `dst = [rsp]; rsp += 8`.
    pub fn pop_r(&mut self, dst: Gpr) {
        self.emit_opcode_reg(Prefixes::NONE, Map::Primary, 0x58, dst.enc(), Imm::None);
    }
}
