//! Control flow: JMP, Jcc, CALL, RET, UD2, INT3, NOP (base instruction set).
//!
//! The forms (the manual's mnemonic and encoding, the CPU feature) are
//! declared in the instruction table (`xtask/src/x64/table.rs`, see
//! `docs/assembler.md`); the encoders here emit the declared forms.
//! NOP is the manual's recommended sequences of 1 to 9 bytes (`NOPS`).
//!
//! Branches to a label go through the buffer's branch API so that branch
//! simplification sees them. A branch whose target is already bound within
//! reach (a backward branch) takes the 2-byte rel8 form, with the
//! displacement encoded at once; every other branch takes rel32 with a
//! fix-up. (The buffer keeps rel8 branches correct: a label only moves when
//! everything after it is truncated, so an encoded backward displacement
//! never goes stale.)

use super::{AsmError, Assembler, Form, Imm, Prefixes, Rm, forms};
use crate::buffer::Label;
use crate::metadata::{ExternalName, RelocKind, TrapCode};
use crate::x64::args::GprMem;
use crate::x64::{CC, LabelUse};

/// The initial contents of a rel32 field: the `Rel32` addend that makes the
/// displacement relative to the end of the field.
const REL32_ADDEND: [u8; 4] = (-4i32).to_le_bytes();

/// A branch or call whose bytes the buffer places whole: a declared form's
/// opcode and its code offset (`cb`, `cd`).
struct Branch {
    bytes: [u8; 7],
    len: usize,
    /// Where the code offset starts.
    field: u32,
}

impl Branch {
    fn bytes(&self) -> &[u8] {
        &self.bytes[..self.len]
    }
}

/// `form`'s opcode followed by `offset` (the code offset's initial bytes).
fn with_code_offset(form: Form, offset: &[u8]) -> Branch {
    let (opcode, len) = form.opcode.bytes();
    let mut bytes = [0; 7];
    bytes[..len].copy_from_slice(&opcode[..len]);
    bytes[len..len + offset.len()].copy_from_slice(offset);
    Branch {
        bytes,
        len: len + offset.len(),
        field: len as u32,
    }
}

/// The recommended multi-byte NOPs, by length (SDM Vol. 2B, "NOP").
const NOPS: [&[u8]; 9] = [
    &[0x90],
    &[0x66, 0x90],
    &[0x0F, 0x1F, 0x00],
    &[0x0F, 0x1F, 0x40, 0x00],
    &[0x0F, 0x1F, 0x44, 0x00, 0x00],
    &[0x66, 0x0F, 0x1F, 0x44, 0x00, 0x00],
    &[0x0F, 0x1F, 0x80, 0x00, 0x00, 0x00, 0x00],
    &[0x0F, 0x1F, 0x84, 0x00, 0x00, 0x00, 0x00, 0x00],
    &[0x66, 0x0F, 0x1F, 0x84, 0x00, 0x00, 0x00, 0x00, 0x00],
];

impl Assembler {
    /// The rel8 displacement from a 2-byte branch here to `target`, if the
    /// target is bound and within reach.
    fn short_displacement(&self, target: Label) -> Option<i8> {
        let target = self.buffer.label_offset(target)?;
        let next = i64::from(self.buffer.cur_offset()) + 2;
        i8::try_from(i64::from(target) - next).ok()
    }

    /// `jmp target`.
    pub fn jmp(&mut self, target: Label) {
        if let Some(disp) = self.short_displacement(target) {
            let branch = with_code_offset(forms::form_jmp_rel8(), &[disp as u8]);
            self.buffer.put_uncond_branch(branch.bytes(), target, None);
        } else {
            let branch = with_code_offset(forms::form_jmp_rel32(), &REL32_ADDEND);
            let field = Some((branch.field, LabelUse::Rel32));
            self.buffer.put_uncond_branch(branch.bytes(), target, field);
        }
    }

    /// `jcc target`: jumps if `cc` holds, falls through otherwise.
    pub fn jcc(&mut self, cc: CC, target: Label) {
        if let Some(disp) = self.short_displacement(target) {
            let form = forms::form_jmp_if_rel8().with_cc(cc);
            let branch = with_code_offset(form, &[disp as u8]);
            self.buffer
                .put_cond_branch(branch.bytes(), None, target, None);
        } else {
            let form = forms::form_jmp_if_rel32();
            let taken = with_code_offset(form.with_cc(cc), &REL32_ADDEND);
            let inverted = with_code_offset(form.with_cc(cc.invert()), &REL32_ADDEND);
            let field = Some((taken.field, LabelUse::Rel32));
            self.buffer
                .put_cond_branch(taken.bytes(), Some(inverted.bytes()), target, field);
        }
    }

    /// `jcc` to a trap stub that traps with `code` (emitted at the end of the
    /// function, with the current source location).
    pub fn trap_if(&mut self, cc: CC, code: TrapCode) {
        let stub = self.buffer.defer_trap(code);
        self.jcc(cc, stub);
    }

    /// `jmp target`: an indirect jump through a register or memory.
    pub fn jmp_indirect(&mut self, target: &GprMem) {
        let form = forms::form_jmp_indirect();
        self.emit_form(form, Prefixes::NONE, 0, Rm::from(target), Imm::None);
    }

    /// `jmp name`: a tail jump to an external symbol (a `CallPcRel32`
    /// relocation).
    pub fn jmp_external(&mut self, name: ExternalName) {
        self.external_branch(forms::form_jmp_rel32(), name);
    }

    /// `call target` (a label in this function's code); records a call site.
    pub fn call(&mut self, target: Label) {
        let start = self.buffer.cur_offset();
        let call = with_code_offset(forms::form_call(), &REL32_ADDEND);
        self.emit_bytes(call.bytes());
        self.buffer
            .use_label_at_offset(start + call.field, target, LabelUse::Rel32);
        self.buffer.add_call_site();
    }

    /// `call name` (an external symbol, through a `CallPcRel32`
    /// relocation); records a call site.
    pub fn call_external(&mut self, name: ExternalName) {
        self.external_branch(forms::form_call(), name);
        self.buffer.add_call_site();
    }

    /// `call target`: an indirect call through a register or memory; records
    /// a call site.
    pub fn call_indirect(&mut self, target: &GprMem) {
        let form = forms::form_call_indirect();
        self.emit_form(form, Prefixes::NONE, 0, Rm::from(target), Imm::None);
        self.buffer.add_call_site();
    }

    /// A rel32 branch or call (`form`) to an external symbol.
    fn external_branch(&mut self, form: Form, name: ExternalName) {
        let branch = with_code_offset(form, &[0; 4]);
        let field = self.buffer.cur_offset() + branch.field;
        self.emit_bytes(branch.bytes());
        // S + A - P with P the field: A = -4 makes it relative to the end.
        self.buffer
            .add_reloc_at_offset(field, RelocKind::CallPcRel32, name, -4);
    }

    /// `ret`.
    pub fn ret(&mut self) {
        self.emit_form_opcode(forms::form_ret_near(), Prefixes::NONE, 0, Imm::None);
    }

    /// `ret imm16`: returns and pops `bytes` more bytes of arguments.
    pub fn ret_imm(&mut self, bytes: u16) {
        if bytes == 0 {
            return self.ret();
        }
        let imm = Imm::I16(bytes as i16);
        self.emit_form_opcode(forms::form_ret_iw(), Prefixes::NONE, 0, imm);
    }

    /// `ud2`, in the trap table with `code`.
    pub fn ud2(&mut self, code: TrapCode) {
        self.buffer.add_trap(code);
        self.emit_form_opcode(forms::form_ud2(), Prefixes::NONE, 0, Imm::None);
    }

    /// `int3` (a breakpoint).
    pub fn int3(&mut self) {
        self.emit_form_opcode(forms::form_int3(), Prefixes::NONE, 0, Imm::None);
    }

    /// NOPs totalling `len` bytes, in as few instructions as possible.
    pub fn nop(&mut self, mut len: usize) {
        while len > 0 {
            let n = len.min(NOPS.len());
            self.emit_bytes(NOPS[n - 1]);
            len -= n;
        }
    }

    /// Aligns the place `label` is bound next (a loop header) to `align`:
    /// branches to `label` just before are removed first, so code arriving
    /// from above falls through the NOPs rather than jumping over them.
    /// The caller binds `label` next.
    pub fn align_label(&mut self, label: Label, align: u32) {
        self.buffer.elide_branches_to(label);
        self.align_code(align);
    }

    /// NOPs up to the next multiple of `align` (a power of two; loop headers,
    /// for instance). The function's code is then placed at an address
    /// aligned to at least `align` too, so the offset's alignment is the
    /// address's.
    pub fn align_code(&mut self, align: u32) {
        if !align.is_power_of_two() {
            self.fail(AsmError::InvalidOperand {
                mnemonic: "align",
                reason: "the alignment is not a power of two",
            });
            return;
        }
        self.buffer.require_alignment(align);
        let misalignment = self.buffer.cur_offset() & (align - 1);
        if misalignment != 0 {
            self.nop((align - misalignment) as usize);
        }
    }
}
