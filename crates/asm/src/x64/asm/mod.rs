//! The instruction-level x86-64 assembler: one method per instruction form,
//! emitting straight into a [`MachBuffer`].
//!
//! The baseline compiler calls these methods directly with physical
//! registers; nothing is built in between. [`MInst::emit`](super::MInst::emit)
//! calls the same methods after register allocation, so every byte of x86
//! either compiler produces is written here, by the one encoder in this
//! module (`Assembler::emit_modrm` and its siblings).
//!
//! Methods follow the manual: Intel operand order (destination first), the
//! ISA's destructive two-operand semantics (`add_rr(size, dst, src)` is
//! `dst += src`), an operand size where the manual has one form per width.
//! Method suffixes name the operand kinds: `r` register, `m` memory, `i`
//! immediate, `cl` the count register (`add_mi` is `add [mem], imm`).
//!
//! # Encoding
//!
//! ```text
//!  [F0 lock] [66 opsize] [F2/F3 mandatory] [REX 0100WRXB] [0F [38|3A]] opcode
//!  [ModRM mod:2 reg:3 rm:3] [SIB scale:2 index:3 base:3] [disp8/32] [imm]
//! ```
//!
//! A VEX form (AVX, `emit_vex_form`) replaces the legacy prefixes, REX and
//! the escape bytes with one prefix, which also names a second source
//! register (`vvvv`), all inverted but `pp`, L and W:
//!
//! ```text
//!  C5 [R̄ v̄v̄v̄v̄ L pp]              (map 0F, W = X = B = 0)
//!  C4 [R̄ X̄ B̄ mmmmm] [W v̄v̄v̄v̄ L pp]  otherwise;   then opcode ModRM ...
//! ```
//!
//! REX is emitted when W (64-bit operand), R/X/B (r8-r15, xmm8-xmm15) is
//! needed, or when an 8-bit operand is spl/bpl/sil/dil (without REX those
//! encodings mean ah/ch/dh/bh, which this assembler never uses). Memory
//! operands take the shortest form: no displacement when it is zero (except
//! with rbp/r13 as base, whose mod=00 encoding means RIP- or no-base), disp8
//! when it fits, disp32 otherwise; rsp/r12 as base need a SIB byte.
//!
//! # Errors
//!
//! A form the CPU lacks, an immediate that does not fit, or an impossible
//! operand (`rsp` as an index) emits nothing and records an [`AsmError`];
//! [`Assembler::finish`] returns the first one. Callers check once, at the
//! end, and never get code that silently does something else.

mod alu;
mod atomic;
mod bits;
mod control;
pub(crate) mod forms;
mod frame;
mod mov;
mod muldiv;
mod seq;
mod shift;
mod sse;
mod stack;

pub use alu::PatchableImm32;
pub use seq::JumpTableTargets;

use super::args::{Amode, GprMem, XmmMem};
use super::features::{CpuFeatures, Feature};
use super::regs::Gpr;
use super::{CC, LabelUse, OperandSize, X64};
use crate::buffer::{BufferError, CodeOffset, Constant, FinishedCode, Label, MachBuffer};
use crate::metadata::{SourceLoc, TrapCode};

/// A reason the assembler refused to emit an instruction.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum AsmError {
    /// The buffer refused (a label bound twice, an unbound label, ...).
    #[error(transparent)]
    Buffer(#[from] BufferError),
    /// The instruction form needs a CPU feature the target lacks.
    #[error("`{mnemonic}` needs the CPU feature {feature}, which the target CPU lacks")]
    UnavailableFeature {
        /// The instruction.
        mnemonic: &'static str,
        /// What it needs.
        feature: Feature,
    },
    /// An immediate does not fit the instruction's immediate field.
    #[error("`{mnemonic}`: the immediate {value} does not fit in {bits} bits")]
    ImmediateOutOfRange {
        /// The instruction.
        mnemonic: &'static str,
        /// The immediate.
        value: i64,
        /// The field's width.
        bits: u8,
    },
    /// An operand the instruction cannot encode.
    #[error("`{mnemonic}`: {reason}")]
    InvalidOperand {
        /// The instruction.
        mnemonic: &'static str,
        /// What is wrong.
        reason: &'static str,
    },
}

/// Emits x86-64 instructions into a [`MachBuffer`]. See the [module docs](self).
pub struct Assembler {
    buffer: MachBuffer<X64>,
    features: CpuFeatures,
    error: Option<AsmError>,
}

/// The legacy prefixes and REX bits of one encoding.
#[derive(Copy, Clone, Default, Debug)]
pub(crate) struct Prefixes {
    /// F0: the lock prefix.
    pub lock: bool,
    /// 66: the operand-size override (16-bit operands, or a mandatory 66).
    pub opsize: bool,
    /// F2 or F3 (a mandatory prefix), or 0.
    pub rep: u8,
    /// REX.W: 64-bit operand size.
    pub w: bool,
    /// Emit a REX prefix even when no bit is set (8-bit spl/bpl/sil/dil).
    pub force_rex: bool,
}

impl Prefixes {
    /// No prefix at all.
    pub const NONE: Prefixes = Prefixes {
        lock: false,
        opsize: false,
        rep: 0,
        w: false,
        force_rex: false,
    };

    /// The prefixes that select an integer operand size (66 for 16 bits,
    /// REX.W for 64); 8-bit forms use their own opcodes.
    pub const fn for_size(size: OperandSize) -> Prefixes {
        Prefixes {
            opsize: matches!(size, OperandSize::S16),
            w: matches!(size, OperandSize::S64),
            ..Prefixes::NONE
        }
    }

    /// A mandatory SSE prefix (0x66, 0xF2 or 0xF3; 0 for none).
    pub const fn sse(mandatory: u8) -> Prefixes {
        match mandatory {
            0x66 => Prefixes {
                opsize: true,
                ..Prefixes::NONE
            },
            0xF2 | 0xF3 => Prefixes {
                rep: mandatory,
                ..Prefixes::NONE
            },
            _ => Prefixes::NONE,
        }
    }

    /// A form's own prefixes (its mandatory prefix) joined with `extra`'s
    /// (operand size, lock, a REX for spl..dil).
    pub const fn join(self, extra: Prefixes) -> Prefixes {
        Prefixes {
            lock: self.lock || extra.lock,
            opsize: self.opsize || extra.opsize,
            w: self.w || extra.w,
            force_rex: self.force_rex || extra.force_rex,
            rep: self.rep,
        }
    }

    /// With REX.W set.
    pub const fn w(self) -> Prefixes {
        Prefixes { w: true, ..self }
    }

    /// With the lock prefix.
    pub const fn lock(self) -> Prefixes {
        Prefixes { lock: true, ..self }
    }

    /// With a REX prefix forced when `reg` is used as an 8-bit register and
    /// is one of spl/bpl/sil/dil.
    pub const fn byte_reg(self, size: OperandSize, reg: u8) -> Prefixes {
        let needs = matches!(size, OperandSize::S8) && reg >= 4 && reg <= 7;
        Prefixes {
            force_rex: self.force_rex || needs,
            ..self
        }
    }
}

/// An encoding as the instruction table declares it (`xtask/src/x64/table.rs`,
/// in the manual's notation, e.g. `F3 0F 58 /r`): what an operation enum's
/// `opcode()` returns and its shape's encoder reads.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(crate) struct Opcode {
    /// A VEX encoding: the prefix, REX.W and map travel in the VEX prefix.
    pub vex: bool,
    /// The mandatory prefix (0x66, 0xF2, 0xF3), or 0 (a VEX form's `pp`).
    pub prefix: u8,
    /// REX.W.
    pub w: bool,
    /// The opcode map.
    pub map: Map,
    /// The opcode byte.
    pub byte: u8,
    /// Whether a ModRM byte follows.
    pub modrm: bool,
    /// The ModRM `reg` field's opcode extension (`/digit`), or `None` for
    /// `/r` (a register there) or no ModRM byte.
    pub digit: Option<u8>,
    /// What the opcode byte's low bits carry.
    pub plus: Plus,
}

/// What an opcode's low bits carry (`+cc`, `+rd` in the manual).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(crate) enum Plus {
    /// Nothing: the opcode is the byte.
    None,
    /// A condition code (`0F 40+cc`: CMOVcc, SETcc).
    Cc,
    /// A register's low three bits, its fourth in REX.B (`C8+rd`: BSWAP).
    Reg,
}

impl Opcode {
    /// The prefixes the encoding itself names (its mandatory prefix and
    /// REX.W).
    pub const fn prefixes(self) -> Prefixes {
        let p = Prefixes::sse(self.prefix);
        if self.w { p.w() } else { p }
    }

    /// The escape bytes of the map and the opcode byte, in `bytes[..len]`:
    /// what a branch or call the buffer places whole starts with (its forms
    /// have no prefix).
    pub const fn bytes(self) -> ([u8; 4], usize) {
        assert!(self.prefix == 0 && !self.w && !self.modrm);
        match self.map {
            Map::Primary => ([self.byte, 0, 0, 0], 1),
            Map::M0F => ([0x0F, self.byte, 0, 0], 2),
            Map::M0F38 => ([0x0F, 0x38, self.byte, 0], 3),
            Map::M0F3A => ([0x0F, 0x3A, self.byte, 0], 3),
        }
    }

    /// The `/digit` of a form that has one.
    pub const fn extension(self) -> u8 {
        match self.digit {
            Some(digit) => digit,
            None => panic!("the form has no opcode extension"),
        }
    }
}

/// A shape's own form, as the instruction table declares it: what the
/// generated `forms::form_*` functions return and the shape's encoder reads.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(crate) struct Form {
    /// The manual's mnemonic.
    pub mnemonic: &'static str,
    /// The CPU feature it needs.
    pub feature: Feature,
    /// Its encoding.
    pub opcode: Opcode,
    /// Whether its memory operand must be 16-byte aligned (a legacy SSE
    /// form reading or writing 128 bits of memory).
    pub aligned: bool,
}

impl Form {
    /// The 8-bit form of a 16/32/64-bit form whose family puts the 8-bit
    /// opcode one below (TEST, and the ALU and unary families); other
    /// sizes take the form as it is.
    pub(crate) const fn at_size(self, size: OperandSize) -> Form {
        match size {
            OperandSize::S8 => Form {
                opcode: Opcode {
                    byte: self.opcode.byte - 1,
                    ..self.opcode
                },
                ..self
            },
            _ => self,
        }
    }

    /// The form for condition `cc` of a `+cc` form.
    pub(crate) const fn with_cc(self, cc: CC) -> Form {
        assert!(matches!(self.opcode.plus, Plus::Cc));
        Form {
            opcode: Opcode {
                byte: self.opcode.byte | cc.enc(),
                plus: Plus::None,
                ..self.opcode
            },
            ..self
        }
    }
}

/// The opcode map (the escape bytes before the opcode). VEX encodings
/// carry the same map in their `mmmmm` field.
#[derive(Copy, Clone, PartialEq, Eq, Debug)]
pub(crate) enum Map {
    /// One-byte opcodes.
    Primary,
    /// 0F xx.
    M0F,
    /// 0F 38 xx (SSSE3/SSE4.1/SSE4.2 packed forms: pshufb, pmovzx, ...).
    M0F38,
    /// 0F 3A xx.
    M0F3A,
}

/// What precedes an encoding's opcode byte.
#[derive(Copy, Clone, Debug)]
enum Escape {
    /// Legacy prefixes, REX and the map's escape bytes.
    Legacy(Prefixes, Map),
    /// A VEX prefix, carrying the mandatory prefix (`pp`), the map, W and a
    /// second source register (`vvvv`).
    Vex { pp: u8, map: Map, w: bool, vvvv: u8 },
}

/// The `r/m` operand of an encoding.
#[derive(Copy, Clone, Debug)]
pub(crate) enum Rm<'a> {
    /// A register (hardware encoding 0-15).
    Reg(u8),
    /// Memory.
    Mem(&'a Amode),
    /// Memory the caller states 16-byte aligned ([`XmmMem::Aligned`]).
    Aligned(&'a Amode),
}

impl<'a> From<&'a GprMem> for Rm<'a> {
    fn from(operand: &'a GprMem) -> Self {
        match operand {
            GprMem::Gpr(r) => Rm::Reg(r.enc()),
            GprMem::Mem(m) => Rm::Mem(m),
        }
    }
}

impl<'a> From<&'a XmmMem> for Rm<'a> {
    fn from(operand: &'a XmmMem) -> Self {
        match operand {
            XmmMem::Xmm(r) => Rm::Reg(r.enc()),
            XmmMem::Mem(m) => Rm::Mem(m),
            XmmMem::Aligned(m) => Rm::Aligned(m),
        }
    }
}

/// An immediate operand, by encoded width.
#[derive(Copy, Clone, Debug)]
pub(crate) enum Imm {
    None,
    I8(i8),
    I16(i16),
    I32(i32),
    I64(i64),
}

impl Imm {
    const fn len(self) -> u32 {
        match self {
            Imm::None => 0,
            Imm::I8(_) => 1,
            Imm::I16(_) => 2,
            Imm::I32(_) => 4,
            Imm::I64(_) => 8,
        }
    }
}

/// At most 15 bytes: the longest x86 instruction.
struct InstBytes {
    bytes: [u8; 16],
    len: usize,
}

impl InstBytes {
    fn new() -> Self {
        InstBytes {
            bytes: [0; 16],
            len: 0,
        }
    }
    fn push(&mut self, byte: u8) {
        self.bytes[self.len] = byte;
        self.len += 1;
    }
    fn extend(&mut self, bytes: &[u8]) {
        self.bytes[self.len..self.len + bytes.len()].copy_from_slice(bytes);
        self.len += bytes.len();
    }
}

/// A RIP-relative reference inside an instruction being encoded.
struct RipReference {
    /// Offset of the disp32 field within the instruction.
    field: usize,
    /// What it refers to.
    target: RipTarget,
}

enum RipTarget {
    Label(Label),
    Constant(Constant),
}

impl Assembler {
    /// An empty assembler for a CPU with `features`.
    pub fn new(features: CpuFeatures) -> Self {
        Assembler {
            buffer: MachBuffer::new(),
            features,
            error: None,
        }
    }

    /// The CPU features this assembler may use.
    pub fn features(&self) -> CpuFeatures {
        self.features
    }

    /// The buffer, for what the assembler does not wrap.
    pub fn buffer(&self) -> &MachBuffer<X64> {
        &self.buffer
    }

    /// The buffer, for what the assembler does not wrap (constants, traps,
    /// call sites, islands).
    pub fn buffer_mut(&mut self) -> &mut MachBuffer<X64> {
        &mut self.buffer
    }

    /// The offset of the next instruction.
    pub fn cur_offset(&self) -> CodeOffset {
        self.buffer.cur_offset()
    }

    /// A new, unbound label.
    pub fn new_label(&mut self) -> Label {
        self.buffer.new_label()
    }

    /// Binds `label` here. Binding a label twice is an error.
    pub fn bind_label(&mut self, label: Label) -> Result<(), AsmError> {
        self.buffer.bind_label(label).map_err(AsmError::from)
    }

    /// A label of a trap stub (emitted at the end of the function) that traps
    /// with `code`, tagged with the current source location.
    pub fn defer_trap(&mut self, code: TrapCode) -> Label {
        self.buffer.defer_trap(code)
    }

    /// A constant-pool entry holding `data`, aligned to `align` bytes
    /// (deduplicated).
    pub fn add_constant(&mut self, data: &[u8], align: u32) -> Constant {
        self.buffer.add_constant(data, align)
    }

    /// Tags the following code with source location `loc`.
    pub fn start_srcloc(&mut self, loc: SourceLoc) {
        self.buffer.start_srcloc(loc)
    }

    /// Ends the current source location.
    pub fn end_srcloc(&mut self) {
        self.buffer.end_srcloc()
    }

    /// The first error met, if any (without finishing).
    pub fn error(&self) -> Option<&AsmError> {
        self.error.as_ref()
    }

    /// Resolves labels and returns the code and its metadata, or the first
    /// error met while assembling.
    pub fn finish(self) -> Result<FinishedCode, AsmError> {
        if let Some(error) = self.error {
            return Err(error);
        }
        Ok(self.buffer.finish()?)
    }

    // ---- Checks shared by every form ------------------------------------

    /// Records `error` (keeping the first one).
    pub(crate) fn fail(&mut self, error: AsmError) {
        if self.error.is_none() {
            self.error = Some(error);
        }
    }

    /// Whether the target CPU has `feature`; records an error if not.
    pub(crate) fn require(&mut self, feature: Feature, mnemonic: &'static str) -> bool {
        let has = self.features.has(feature);
        if !has {
            self.fail(AsmError::UnavailableFeature { mnemonic, feature });
        }
        has
    }

    /// The immediate of an integer form of `size`: 8 bits for 8-bit forms,
    /// 16 for 16-bit ones (each accepting signed or unsigned values that
    /// fit), and a sign-extended 32-bit value otherwise.
    pub(crate) fn sized_imm(
        &mut self,
        size: OperandSize,
        value: i32,
        mnemonic: &'static str,
    ) -> Option<Imm> {
        let fits = |bits: u8| value >= -(1 << (bits - 1)) && value < (1 << bits);
        match size {
            OperandSize::S8 if fits(8) => Some(Imm::I8(value as i8)),
            OperandSize::S16 if fits(16) => Some(Imm::I16(value as i16)),
            OperandSize::S32 | OperandSize::S64 => Some(Imm::I32(value)),
            OperandSize::S8 | OperandSize::S16 => {
                let bits = if size == OperandSize::S8 { 8 } else { 16 };
                self.fail(AsmError::ImmediateOutOfRange {
                    mnemonic,
                    value: value.into(),
                    bits,
                });
                None
            }
        }
    }

    // ---- The encoder --------------------------------------------------------

    /// Emits a declared form with a ModRM byte: the form's own prefixes
    /// (mandatory prefix, REX.W) joined with `extra` (66 or REX.W of the
    /// operand size when the form is sized by it, a REX for spl..dil, lock),
    /// after checking the CPU has the form's feature.
    #[inline]
    pub(crate) fn emit_form(&mut self, form: Form, extra: Prefixes, reg: u8, rm: Rm<'_>, imm: Imm) {
        if !self.require(form.feature, form.mnemonic) || !self.memory_allowed(form, rm) {
            return;
        }
        debug_assert!(form.opcode.modrm && matches!(form.opcode.plus, Plus::None));
        debug_assert!(!form.opcode.vex, "a VEX form goes through emit_vex_form");
        let p = form.opcode.prefixes().join(extra);
        let reg = match form.opcode.digit {
            Some(digit) => digit,
            None => reg,
        };
        self.emit_modrm(
            form.mnemonic,
            p,
            form.opcode.map,
            form.opcode.byte,
            reg,
            rm,
            imm,
        );
    }

    /// Emits a declared VEX.128 form: `reg` in ModRM.reg, `vvvv` the second
    /// source register (the VEX prefix's extra operand; 0 where the form has
    /// none), `rm` the last operand. VEX forms take memory operands of any
    /// alignment.
    pub(crate) fn emit_vex_form(&mut self, form: Form, reg: u8, vvvv: u8, rm: Rm<'_>, imm: Imm) {
        if !self.require(form.feature, form.mnemonic) {
            return;
        }
        let opcode = form.opcode;
        debug_assert!(opcode.vex && opcode.modrm && matches!(opcode.plus, Plus::None));
        let escape = Escape::Vex {
            pp: opcode.prefix,
            map: opcode.map,
            w: opcode.w,
            vvvv,
        };
        let reg = opcode.digit.unwrap_or(reg);
        self.emit_escaped(form.mnemonic, escape, opcode.byte, reg, rm, imm);
    }

    /// Whether `form` may take `rm`: anything but memory not known 16-byte
    /// aligned for a form that needs it, which records an error.
    pub(crate) fn memory_allowed<'a>(&mut self, form: Form, rm: impl Into<Rm<'a>>) -> bool {
        if form.aligned
            && let Rm::Mem(amode) = rm.into()
            && !self.known_aligned(amode)
        {
            self.fail(AsmError::InvalidOperand {
                mnemonic: form.mnemonic,
                reason: "the memory operand must be 16-byte aligned: pass it as \
                         XmmMem::Aligned, or load it first with movups",
            });
            return false;
        }
        true
    }

    /// Whether `amode` is known 16-byte aligned without the caller's word:
    /// a constant-pool entry emitted at 16 or more, at a multiple of 16
    /// into it (the finished code is placed at the largest constant
    /// alignment, so its offset's alignment is its address's).
    fn known_aligned(&self, amode: &Amode) -> bool {
        match *amode {
            Amode::Constant {
                constant, offset, ..
            } => offset % 16 == 0 && self.buffer.constant_alignment(constant) >= 16,
            Amode::Reg { .. } | Amode::Label { .. } => false,
        }
    }

    /// Emits a declared form without a ModRM byte: its opcode, with `reg`
    /// in the low bits of a `+rd` form (0 otherwise), and `imm`.
    pub(crate) fn emit_form_opcode(&mut self, form: Form, extra: Prefixes, reg: u8, imm: Imm) {
        if !self.require(form.feature, form.mnemonic) {
            return;
        }
        debug_assert!(!form.opcode.modrm && !matches!(form.opcode.plus, Plus::Cc));
        debug_assert!(reg == 0 || matches!(form.opcode.plus, Plus::Reg));
        let p = form.opcode.prefixes().join(extra);
        self.emit_opcode_reg(p, form.opcode.map, form.opcode.byte, reg, imm);
    }

    /// Emits `prefixes map opcode ModRM(reg, rm) [SIB] [disp] [imm]`. `reg` is
    /// a register encoding (0-15) or an opcode extension (`/digit`, 0-7).
    #[allow(
        clippy::too_many_arguments,
        reason = "one argument per field of the encoding, as the manual lists them"
    )]
    pub(crate) fn emit_modrm(
        &mut self,
        mnemonic: &'static str,
        prefixes: Prefixes,
        map: Map,
        opcode: u8,
        reg: u8,
        rm: Rm<'_>,
        imm: Imm,
    ) {
        let escape = Escape::Legacy(prefixes, map);
        self.emit_escaped(mnemonic, escape, opcode, reg, rm, imm);
    }

    /// Emits `escape opcode ModRM(reg, rm) [SIB] [disp] [imm]`: the legacy
    /// and the VEX encodings share everything after their prefixes.
    fn emit_escaped(
        &mut self,
        mnemonic: &'static str,
        escape: Escape,
        opcode: u8,
        reg: u8,
        rm: Rm<'_>,
        imm: Imm,
    ) {
        // An aligned operand's alignment was checked by `emit_form`; its
        // encoding is that of any memory operand.
        let mut bytes = InstBytes::new();
        let (rex_x, rex_b) = match rm {
            Rm::Reg(r) => (0, r >> 3),
            Rm::Mem(Amode::Reg { base, index, .. })
            | Rm::Aligned(Amode::Reg { base, index, .. }) => {
                if let Some((index, _)) = index
                    && *index == Gpr::RSP
                {
                    self.fail(AsmError::InvalidOperand {
                        mnemonic,
                        reason: "rsp cannot be an index register",
                    });
                    return;
                }
                (
                    index.map_or(0, |(i, _)| i.enc() >> 3),
                    base.map_or(0, |b| b.enc() >> 3),
                )
            }
            Rm::Mem(_) | Rm::Aligned(_) => (0, 0),
        };
        let rex_r = (reg >> 3) & 1;
        match escape {
            Escape::Legacy(prefixes, map) => {
                Self::put_prefixes(&mut bytes, prefixes, rex_r, rex_x, rex_b, map)
            }
            Escape::Vex { pp, map, w, vvvv } => {
                Self::put_vex(&mut bytes, pp, map, w, vvvv, rex_r, rex_x, rex_b)
            }
        }
        bytes.push(opcode);
        let rip = match rm {
            Rm::Reg(r) => {
                bytes.push(0b11_000_000 | (reg & 7) << 3 | (r & 7));
                None
            }
            Rm::Mem(amode) | Rm::Aligned(amode) => Self::put_memory(&mut bytes, reg, amode, imm),
        };
        Self::put_imm(&mut bytes, imm);

        let start = self.buffer.cur_offset();
        self.buffer.put_inst_bytes(&bytes.bytes, bytes.len);
        if let Rm::Mem(amode) | Rm::Aligned(amode) = rm
            && let Some(code) = amode.trap()
        {
            self.buffer.add_trap_at(start, code);
        }
        if let Some(rip) = rip {
            let label = match rip.target {
                RipTarget::Label(label) => label,
                RipTarget::Constant(constant) => self.buffer.constant_label(constant),
            };
            self.buffer.use_label_at_offset(
                start + rip.field as CodeOffset,
                label,
                LabelUse::Rel32,
            );
        }
    }

    /// Emits `prefixes map (opcode + reg) [imm]`: the `+rb/+rw/+rd/+rq` forms.
    pub(crate) fn emit_opcode_reg(
        &mut self,
        prefixes: Prefixes,
        map: Map,
        opcode: u8,
        reg: u8,
        imm: Imm,
    ) {
        let mut bytes = InstBytes::new();
        Self::put_prefixes(&mut bytes, prefixes, 0, 0, reg >> 3, map);
        bytes.push(opcode | (reg & 7));
        Self::put_imm(&mut bytes, imm);
        self.buffer.put_inst_bytes(&bytes.bytes, bytes.len);
    }

    /// Emits fixed bytes.
    pub(crate) fn emit_bytes(&mut self, bytes: &[u8]) {
        self.buffer.put_bytes(bytes);
    }

    fn put_prefixes(bytes: &mut InstBytes, p: Prefixes, r: u8, x: u8, b: u8, map: Map) {
        if p.lock {
            bytes.push(0xF0);
        }
        if p.opsize {
            bytes.push(0x66);
        }
        if p.rep != 0 {
            bytes.push(p.rep);
        }
        let rex = 0x40 | (p.w as u8) << 3 | r << 2 | x << 1 | b;
        if rex != 0x40 || p.force_rex {
            bytes.push(rex);
        }
        match map {
            Map::Primary => {}
            Map::M0F => bytes.push(0x0F),
            Map::M0F38 => bytes.extend(&[0x0F, 0x38]),
            Map::M0F3A => bytes.extend(&[0x0F, 0x3A]),
        }
    }

    /// The VEX prefix of a 128-bit form (L = 0): the two-byte `C5` form when
    /// the map is 0F and W, X and B are clear, the three-byte `C4` form
    /// otherwise. R, X, B and vvvv are stored inverted; `pp` encodes the
    /// mandatory prefix (none, 66, F3, F2).
    #[allow(
        clippy::too_many_arguments,
        reason = "one argument per field of the VEX prefix, as the manual lists them"
    )]
    fn put_vex(bytes: &mut InstBytes, pp: u8, map: Map, w: bool, vvvv: u8, r: u8, x: u8, b: u8) {
        let pp = match pp {
            0x66 => 0b01,
            0xF3 => 0b10,
            0xF2 => 0b11,
            _ => 0b00,
        };
        let tail = (!vvvv & 0xF) << 3 | pp;
        if map == Map::M0F && !w && x == 0 && b == 0 {
            bytes.extend(&[0xC5, (r ^ 1) << 7 | tail]);
        } else {
            let mmmmm = match map {
                Map::M0F => 0b00001,
                Map::M0F38 => 0b00010,
                Map::M0F3A => 0b00011,
                Map::Primary => unreachable!("a VEX form has a 0F map"),
            };
            let byte1 = (r ^ 1) << 7 | (x ^ 1) << 6 | (b ^ 1) << 5 | mmmmm;
            bytes.extend(&[0xC4, byte1, (w as u8) << 7 | tail]);
        }
    }

    /// ModRM, SIB and displacement of a memory operand. Returns the
    /// RIP-relative reference to patch, if any.
    fn put_memory(bytes: &mut InstBytes, reg: u8, amode: &Amode, imm: Imm) -> Option<RipReference> {
        let reg = (reg & 7) << 3;
        match *amode {
            Amode::Reg {
                base: None,
                index,
                disp,
                ..
            } => {
                // mod=00 rm=100 with SIB base=101: [index*scale + disp32], or
                // no index (100) for an absolute address.
                let (index_bits, scale) =
                    index.map_or((0b100, 0), |(i, s)| (i.enc() & 7, s.bits()));
                bytes.push(0b00_000_100 | reg);
                bytes.push(scale << 6 | index_bits << 3 | 0b101);
                bytes.extend(&disp.to_le_bytes());
                None
            }
            Amode::Reg {
                base: Some(base),
                index,
                disp,
                ..
            } => {
                // rbp/r13 (low bits 101) with mod=00 would mean "no base":
                // they always take a displacement.
                let (mode, disp_len) = if disp == 0 && base.low_bits() != 0b101 {
                    (0b00, 0)
                } else if i8::try_from(disp).is_ok() {
                    (0b01, 1)
                } else {
                    (0b10, 4)
                };
                match index {
                    // rsp/r12 (low bits 100) as rm mean "a SIB byte follows".
                    None if base.low_bits() != 0b100 => {
                        bytes.push(mode << 6 | reg | base.low_bits())
                    }
                    None => {
                        bytes.push(mode << 6 | reg | 0b100);
                        bytes.push(0b00_100_100);
                    }
                    Some((index, scale)) => {
                        bytes.push(mode << 6 | reg | 0b100);
                        bytes.push(scale.bits() << 6 | (index.enc() & 7) << 3 | base.low_bits());
                    }
                }
                match disp_len {
                    0 => {}
                    1 => bytes.push(disp as u8),
                    _ => bytes.extend(&disp.to_le_bytes()),
                }
                None
            }
            Amode::Label { label, offset, .. } => Some(Self::put_rip(
                bytes,
                reg,
                RipTarget::Label(label),
                offset,
                imm,
            )),
            Amode::Constant {
                constant, offset, ..
            } => Some(Self::put_rip(
                bytes,
                reg,
                RipTarget::Constant(constant),
                offset,
                imm,
            )),
        }
    }

    /// `mod=00 rm=101`: `[rip + disp32]`. The CPU adds the displacement to the
    /// address of the *next* instruction, so the field starts out holding
    /// `offset - (4 + immediate bytes)`, the addend the `Rel32` patch adds to
    /// `label - field`.
    fn put_rip(
        bytes: &mut InstBytes,
        reg: u8,
        target: RipTarget,
        offset: i32,
        imm: Imm,
    ) -> RipReference {
        bytes.push(0b00_000_101 | reg);
        let field = bytes.len;
        let addend = offset.wrapping_sub(4 + imm.len() as i32);
        bytes.extend(&addend.to_le_bytes());
        RipReference { field, target }
    }

    fn put_imm(bytes: &mut InstBytes, imm: Imm) {
        match imm {
            Imm::None => {}
            Imm::I8(v) => bytes.push(v as u8),
            Imm::I16(v) => bytes.extend(&v.to_le_bytes()),
            Imm::I32(v) => bytes.extend(&v.to_le_bytes()),
            Imm::I64(v) => bytes.extend(&v.to_le_bytes()),
        }
    }
}
