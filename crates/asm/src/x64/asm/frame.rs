//! Frame set-up and tear-down, each instruction with the unwind records
//! that describe what it did to the frame ([`crate::unwind`]).
//!
//! Every frame duet makes (wasm functions of both tiers, trampolines) has
//! the shape `docs/abi.md` draws, and these methods are the only way the
//! compilers build and leave it:
//!
//! ```text
//!   push_frame          push rbp          CFA = rsp + 16, rbp at CFA - 16
//!                       mov rbp, rsp      CFA = rbp + 16 (for the whole body)
//!   push_saved(r, 8)    push r            r at CFA - 24 (8 bytes below rbp)
//!   …body…
//!   begin_epilogue                        (remember the body's frame)
//!   pop_saved(r)        pop r             r restored
//!   pop_frame           pop rbp           CFA = rsp + 8, rbp restored
//!   ret_from_frame      ret               (the body's frame again after it)
//! ```
//!
//! Because the CFA is computed from `rbp` once the frame pointer is set,
//! pushes, pops and `rsp` adjustments in the body need no records, and the
//! description is exact at every instruction: in the prologue, in the
//! body, in each epilogue and in the code after an epilogue (other blocks,
//! trap stubs). The one exception is code that a jump reaches from before
//! the frame exists (the optimizing tier's stack-limit check, which runs
//! before `push rbp` and whose trap stub sits after the body): the stub is
//! described with the body's frame. Traps never unwind through the tables
//! (the runtime's signal handler walks frame pointers), so only a debugger
//! stopped on that `ud2` sees the difference.
//!
//! `rsp` must be restored to `rbp - (bytes pushed by push_saved)` before
//! the `pop_saved`s; that is the epilogue's business, not the records'.

use super::Assembler;
use crate::unwind::UnwindInst;
use crate::x64::OperandSize;
use crate::x64::regs::Gpr;

impl Assembler {
    /// Records an unwind instruction at the current offset (after the
    /// instruction just emitted).
    pub fn unwind(&mut self, inst: UnwindInst) {
        self.buffer.add_unwind(inst);
    }

    /// `push rbp; mov rbp, rsp`: the frame pointer, as the first
    /// instructions of a frame (or after code that did not move `rsp`).
    pub fn push_frame(&mut self) {
        self.push_r(Gpr::RBP);
        self.unwind(UnwindInst::CfaOffset { offset: 16 });
        self.unwind(UnwindInst::SavedAt {
            reg: Gpr::RBP.dwarf(),
            below_cfa: 16,
        });
        self.mov_rr(OperandSize::S64, Gpr::RBP, Gpr::RSP);
        self.unwind(UnwindInst::CfaRegister {
            reg: Gpr::RBP.dwarf(),
        });
    }

    /// `push reg`, saving a callee-saved register in the frame whose slot
    /// is `below_fp` bytes below `rbp` (8 for the first push after
    /// [`push_frame`](Self::push_frame), 16 for the second, ...).
    pub fn push_saved(&mut self, reg: Gpr, below_fp: u32) {
        self.push_r(reg);
        self.unwind(UnwindInst::SavedAt {
            reg: reg.dwarf(),
            below_cfa: 16 + below_fp,
        });
    }

    /// Starts an epilogue: the description of the body's frame is
    /// remembered, to be restored after [`ret_from_frame`](Self::ret_from_frame).
    pub fn begin_epilogue(&mut self) {
        self.unwind(UnwindInst::RememberState);
    }

    /// `pop reg`, restoring a register [`push_saved`](Self::push_saved)
    /// saved (`rsp` must point at its slot).
    pub fn pop_saved(&mut self, reg: Gpr) {
        self.pop_r(reg);
        self.unwind(UnwindInst::Restored { reg: reg.dwarf() });
    }

    /// `pop rbp`: leaves the frame (`rsp` must point at the saved `rbp`);
    /// the CFA is `rsp + 8` again, as at the function's entry.
    pub fn pop_frame(&mut self) {
        self.pop_r(Gpr::RBP);
        self.unwind(UnwindInst::DefineCfa {
            reg: Gpr::RSP.dwarf(),
            offset: 8,
        });
        self.unwind(UnwindInst::Restored {
            reg: Gpr::RBP.dwarf(),
        });
    }

    /// `ret`, ending an epilogue begun with
    /// [`begin_epilogue`](Self::begin_epilogue): whatever code follows has
    /// the frame the code before the epilogue had.
    pub fn ret_from_frame(&mut self) {
        self.ret();
        self.unwind(UnwindInst::RestoreState);
    }
}

#[cfg(test)]
mod tests {
    use crate::unwind::{UnwindInst::*, UnwindRecord, UnwindReg};
    use crate::x64::{Assembler, CpuFeatures, Gpr};

    #[test]
    fn a_frame_is_described_at_every_instruction() {
        let mut asm = Assembler::new(CpuFeatures::baseline());
        asm.push_frame(); // 55 / 48 89 e5
        asm.push_saved(Gpr::R14, 8); // 41 56
        asm.begin_epilogue();
        asm.pop_saved(Gpr::R14); // 41 5e
        asm.pop_frame(); // 5d
        asm.ret_from_frame(); // c3
        let code = asm.finish().unwrap();
        assert_eq!(
            code.code(),
            [0x55, 0x48, 0x89, 0xe5, 0x41, 0x56, 0x41, 0x5e, 0x5d, 0xc3]
        );
        let (rbp, rsp, r14) = (UnwindReg(6), UnwindReg(7), UnwindReg(14));
        let expected = [
            (1, CfaOffset { offset: 16 }),
            (
                1,
                SavedAt {
                    reg: rbp,
                    below_cfa: 16,
                },
            ),
            (4, CfaRegister { reg: rbp }),
            (
                6,
                SavedAt {
                    reg: r14,
                    below_cfa: 24,
                },
            ),
            (6, RememberState),
            (8, Restored { reg: r14 }),
            (
                9,
                DefineCfa {
                    reg: rsp,
                    offset: 8,
                },
            ),
            (9, Restored { reg: rbp }),
            (10, RestoreState),
        ]
        .map(|(offset, inst)| UnwindRecord { offset, inst });
        assert_eq!(code.unwind(), expected);
    }

    #[test]
    fn dwarf_numbers_follow_the_psabi() {
        let numbers: Vec<u16> = Gpr::ALL.iter().map(|r| r.dwarf().0).collect();
        // rax rcx rdx rbx rsp rbp rsi rdi in encoding order.
        assert_eq!(numbers[..8], [0, 2, 1, 3, 7, 6, 4, 5]);
        assert_eq!(numbers[8..], [8, 9, 10, 11, 12, 13, 14, 15]);
        assert_eq!(crate::x64::Xmm::XMM15.dwarf().0, 32);
    }
}
