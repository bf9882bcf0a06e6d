//! The x86-64 instruction table: every machine-instruction shape (`MInst`
//! variant) and every instruction form of the operation enums, declared once.
//!
//! `cargo xtask isle` turns this table into the ISLE declarations
//! (`isle/asm/x64/inst.isle`), the Rust that walks, encodes and
//! feature-checks each `MInst` (`crates/asm/src/x64/inst/table.rs`), the
//! per-form `Assembler` methods (`crates/asm/src/x64/asm/forms.rs`), and the
//! forms the iced-x86 encoding test iterates over
//! (`crates/asm/tests/common/forms.rs`). See `docs/assembler.md` for how to
//! add an instruction, with a worked example.
//!
//! # Operation enums ([`ENUMS`])
//!
//! An enum either lists plain values (`CC`, `OperandSize`, ...) or
//! *forms*: one line per instruction form, naming the variant, the manual's
//! mnemonic, the encoding in the manual's notation and the CPU feature the
//! form needs. Encodings are parsed and checked here: `[66|F2|F3] [REX.W]
//! [0F [38|3A]] opcode (/r | /digit) [ib|iw|id]`, or for a VEX form
//! `VEX.128[.66|.F2|.F3].(0F|0F38|0F3A)[.W0|.W1|.WIG] opcode (/r | /digit) [ib | /is4]`. The encoder of the shape
//! that uses the enum reads the parsed opcode (`Opcode` in cranelift-asm);
//! where one line stands for a family (the 8-bit opcode is one below the
//! declared one, a store is one above its load) the encoder's module docs
//! state the rule.
//!
//! [`VEX_TWINS`] pairs each legacy SSE enum with its VEX.128 enum, from
//! which every legacy form's twin follows by name (`Pabsb`, `Vpabsb`); the
//! generator checks each pair and emits `vex()` on the legacy enum.
//!
//! # Shapes ([`INSTS`])
//!
//! A shape is one `MInst` variant. Its fields are written `name:Type`, in the
//! order ISLE constructors take them, with the operand's role as a suffix:
//!
//! * a register type (`Gpr`, `Xmm`) is read; a `Writable…` type is written;
//! * `=src` ties a written register to the read register `src` (x86's
//!   destructive two-operand forms: the allocator gives both one register);
//! * `@rax` fixes the register (implicit operands of MUL, DIV, CMPXCHG;
//!   `@xmm0` the mask of the variable blends);
//! * `!` makes a write *early*: it happens before every read is done (the
//!   sequences with internal control flow), so no input may share it;
//! * memory and mixed operands (`Amode`, `GprMem`, `GprMemImm`, `GprImm`,
//!   `XmmMem`) and `ShiftAmount` are read through their registers.
//!
//! The register allocator sees the operands in field order, except that a
//! tied source comes first. `emit` names the `Assembler` method and the
//! fields it takes, in the method's parameter order; fixed registers are
//! checked, not passed. A shape the table cannot express (a conditional
//! sequence, a call) names a hand-written function in
//! `crates/asm/src/x64/inst/emit.rs` instead.

/// A feature: the CPU feature named as in `cranelift_asm::x64::Feature`.
pub type FeatureName = &'static str;

/// One operation enum.
pub struct EnumDecl {
    pub name: &'static str,
    /// Which forms need their memory operand 16-byte aligned.
    pub alignment: Alignment,
    pub doc: &'static str,
    pub kind: EnumKind,
    /// The `Assembler` methods each form gets (only for forms).
    pub methods: &'static [Method],
}

/// A per-form `Assembler` method, generated for every form of an enum.
/// In each string `{m}` stands for the form's mnemonic and `{op}` for its
/// enum value (`SseOp::Addss`).
pub struct Method {
    /// The method's name (`{m}_rr`).
    pub name: &'static str,
    /// Its parameters after `&mut self`.
    pub params: &'static str,
    /// Its body: a call of the shape's encoder.
    pub body: &'static str,
    /// Its documentation.
    pub doc: &'static str,
}

const fn method(
    name: &'static str,
    params: &'static str,
    body: &'static str,
    doc: &'static str,
) -> Method {
    Method {
        name,
        params,
        body,
        doc,
    }
}

/// Which forms of an enum need their memory operand 16-byte aligned: the
/// legacy SSE forms that read or write 128 bits of memory fault on an
/// unaligned address (Intel SDM Vol. 1, "Memory Alignment" in the AVX
/// chapter: only the VEX forms and the unaligned moves accept one). The assembler refuses such a form's memory
/// operand unless it is known aligned (`docs/assembler.md`, "Alignment").
pub enum Alignment {
    /// None: no form has a 128-bit memory operand, or the caller names the
    /// alignment by the form it picks (MOVAPS versus MOVUPS in `SseMovOp`).
    Any,
    /// Every form but the listed ones, whose memory operand is narrower (a
    /// scalar, the m64 of a widening form, INSERTPS's m32) or unaligned
    /// by definition (MOVDQU).
    AllBut(&'static [&'static str]),
}

pub enum EnumKind {
    /// Plain values, in declaration order.
    Values(&'static [&'static str]),
    /// Instruction forms.
    Forms(&'static [Form]),
}

/// One instruction form: (variant, the manual's mnemonic, its encoding in
/// the manual's notation, the CPU feature it needs). In a shape's own forms
/// the first element is the values of the selecting field that take the
/// form, separated by `|` (`""` if none).
pub type Form = (&'static str, &'static str, &'static str, FeatureName);

/// What a shape needs of the CPU.
pub enum Features {
    /// The base instruction set.
    Base,
    /// The feature of the form in field `op`.
    Op(&'static str),
    /// SSE for `F32`, SSE2 for `F64`, by the `FloatSize` in this field.
    Float(&'static str),
    /// The feature of the shape's form (see [`InstDecl::forms`]).
    Form,
}

/// How a shape is encoded.
pub enum Emit {
    /// `asm.method(fields...)`.
    Call(&'static str, &'static str),
    /// A hand-written function in emit.rs taking the instruction and the
    /// assembler.
    Custom(&'static str),
}

/// One `MInst` variant.
pub struct InstDecl {
    /// The section this variant opens (a heading), if any.
    pub section: Option<&'static str>,
    pub name: &'static str,
    pub doc: &'static str,
    pub fields: &'static str,
    pub features: Features,
    pub emit: Emit,
    /// The shape's own forms, when it has no operation enum: the field that
    /// selects one (`""` for a single form) and, per value of that field,
    /// the form. Values without a form have no encoding (the encoder
    /// refuses them).
    pub forms: Option<(&'static str, &'static [Form])>,
}

const fn inst(
    name: &'static str,
    doc: &'static str,
    fields: &'static str,
    features: Features,
    emit: Emit,
) -> InstDecl {
    InstDecl {
        section: None,
        name,
        doc,
        fields,
        features,
        emit,
        forms: None,
    }
}

/// A shape with its own forms, selected by field `key` (see
/// [`InstDecl::forms`]), or named and chosen by the encoder when `key` is
/// `"*"` (by an operand's kind or an immediate's value); its features are
/// its form's.
const fn keyed(key: &'static str, forms: &'static [Form], decl: InstDecl) -> InstDecl {
    InstDecl {
        forms: Some((key, forms)),
        features: Features::Form,
        ..decl
    }
}

const fn section(heading: &'static str, decl: InstDecl) -> InstDecl {
    InstDecl {
        section: Some(heading),
        ..decl
    }
}

use Alignment::{AllBut, Any};
use Emit::{Call, Custom};
use Features::{Base, Float, Op};

/// The placeholder of a keyed shape's features: [`keyed`] sets them.
const FORM: Features = Features::Form;

pub const ENUMS: &[EnumDecl] = &[
    EnumDecl {
        name: "OperandSize",
        alignment: Any,
        doc: "The width an integer instruction operates on.",
        kind: EnumKind::Values(&["S8", "S16", "S32", "S64"]),
        methods: &[],
    },
    EnumDecl {
        name: "FloatSize",
        alignment: Any,
        doc: "The width of a scalar float.",
        kind: EnumKind::Values(&["F32", "F64"]),
        methods: &[],
    },
    EnumDecl {
        name: "CC",
        alignment: Any,
        doc: "Condition codes, in encoding order (the low nibble of Jcc/SETcc/CMOVcc).",
        kind: EnumKind::Values(&[
            "O", "NO", "B", "AE", "Z", "NZ", "BE", "A", "S", "NS", "P", "NP", "L", "GE", "LE", "G",
        ]),
        methods: &[],
    },
    EnumDecl {
        name: "AluOp",
        alignment: Any,
        doc: "Two-operand integer arithmetic and logic (CMP has its own shapes). The \
              declared form is `op r/m, imm32`; its /digit is the operation's row of the \
              ALU opcode table (asm/alu.rs), from which the other forms follow.",
        kind: EnumKind::Forms(&[
            ("Add", "add", "81 /0 id", "Base"),
            ("Adc", "adc", "81 /2 id", "Base"),
            ("Sub", "sub", "81 /5 id", "Base"),
            ("Sbb", "sbb", "81 /3 id", "Base"),
            ("And", "and", "81 /4 id", "Base"),
            ("Or", "or", "81 /1 id", "Base"),
            ("Xor", "xor", "81 /6 id", "Base"),
        ]),
        methods: &[
            method(
                "{m}_rr",
                "size: OperandSize, dst: Gpr, src: Gpr",
                "self.alu_rmi({op}, size, dst, &GprMemImm::Gpr(src))",
                "`{m} dst, src` (register, register).",
            ),
            method(
                "{m}_rm",
                "size: OperandSize, dst: Gpr, src: &Amode",
                "self.alu_rmi({op}, size, dst, &GprMemImm::Mem(*src))",
                "`{m} dst, [src]` (register, memory).",
            ),
            method(
                "{m}_ri",
                "size: OperandSize, dst: Gpr, imm: i32",
                "self.alu_rmi({op}, size, dst, &GprMemImm::Imm(imm))",
                "`{m} dst, imm` (register, immediate).",
            ),
            method(
                "{m}_mr",
                "size: OperandSize, dst: &Amode, src: Gpr",
                "self.alu_mem({op}, size, dst, &GprImm::Gpr(src))",
                "`{m} [dst], src` (memory, register).",
            ),
            method(
                "{m}_mi",
                "size: OperandSize, dst: &Amode, imm: i32",
                "self.alu_mem({op}, size, dst, &GprImm::Imm(imm))",
                "`{m} [dst], imm` (memory, immediate).",
            ),
        ],
    },
    EnumDecl {
        name: "UnaryOp",
        alignment: Any,
        doc: "One-operand integer arithmetic. The declared form is the 16/32/64-bit \
              one; the 8-bit opcode is one below it.",
        kind: EnumKind::Forms(&[
            ("Not", "not", "F7 /2", "Base"),
            ("Neg", "neg", "F7 /3", "Base"),
            ("Inc", "inc", "FF /0", "Base"),
            ("Dec", "dec", "FF /1", "Base"),
        ]),
        methods: &[],
    },
    EnumDecl {
        name: "ShiftOp",
        alignment: Any,
        doc: "Shifts and rotates. The declared form is `op r/m, cl`; the count-1 and \
              imm8 forms share its /digit (asm/shift.rs).",
        kind: EnumKind::Forms(&[
            ("Rol", "rol", "D3 /0", "Base"),
            ("Ror", "ror", "D3 /1", "Base"),
            ("Shl", "shl", "D3 /4", "Base"),
            ("Shr", "shr", "D3 /5", "Base"),
            ("Sar", "sar", "D3 /7", "Base"),
        ]),
        methods: &[],
    },
    EnumDecl {
        name: "BitOp",
        alignment: Any,
        doc: "Bit counting and scanning: `op r, r/m` (16, 32 and 64 bits).",
        kind: EnumKind::Forms(&[
            ("Lzcnt", "lzcnt", "F3 0F BD /r", "Lzcnt"),
            ("Tzcnt", "tzcnt", "F3 0F BC /r", "Bmi1"),
            ("Popcnt", "popcnt", "F3 0F B8 /r", "Popcnt"),
            ("Bsr", "bsr", "0F BD /r", "Base"),
            ("Bsf", "bsf", "0F BC /r", "Base"),
        ]),
        methods: &[method(
            "{m}",
            "size: OperandSize, dst: Gpr, src: &GprMem",
            "self.bit_count({op}, size, dst, src)",
            "`{m} dst, src`.",
        )],
    },
    EnumDecl {
        name: "ExtMode",
        alignment: Any,
        doc: "Widening moves: from (B)yte, (W)ord, (L)ong to (W)ord, (L)ong, (Q)uad.",
        kind: EnumKind::Values(&["BW", "BL", "BQ", "WL", "WQ", "LQ"]),
        methods: &[],
    },
    EnumDecl {
        name: "SseOp",
        alignment: AllBut(&[
            "Addss", "Addsd", "Subss", "Subsd", "Mulss", "Mulsd", "Divss", "Divsd", "Minss",
            "Minsd", "Maxss", "Maxsd", "Sqrtss", "Sqrtsd", "Cvtss2sd", "Cvtsd2ss", "Movss",
            "Movsd",
        ]),
        doc: "SSE operations of the form `op xmm1, xmm2/m` (xmm1 is read and written): \
              the scalar forms (ss, sd) write xmm1's low lane, the packed ones (ps, pd \
              and the integer p... forms) the whole register and need a memory operand \
              16-byte aligned (all but the scalar forms). The shifts by a register (psllw .. psrad) take the count \
              from the low 64 bits of xmm2/m128.",
        kind: EnumKind::Forms(&[
            ("Addss", "addss", "F3 0F 58 /r", "Sse"),
            ("Addsd", "addsd", "F2 0F 58 /r", "Sse2"),
            ("Subss", "subss", "F3 0F 5C /r", "Sse"),
            ("Subsd", "subsd", "F2 0F 5C /r", "Sse2"),
            ("Mulss", "mulss", "F3 0F 59 /r", "Sse"),
            ("Mulsd", "mulsd", "F2 0F 59 /r", "Sse2"),
            ("Divss", "divss", "F3 0F 5E /r", "Sse"),
            ("Divsd", "divsd", "F2 0F 5E /r", "Sse2"),
            ("Minss", "minss", "F3 0F 5D /r", "Sse"),
            ("Minsd", "minsd", "F2 0F 5D /r", "Sse2"),
            ("Maxss", "maxss", "F3 0F 5F /r", "Sse"),
            ("Maxsd", "maxsd", "F2 0F 5F /r", "Sse2"),
            ("Sqrtss", "sqrtss", "F3 0F 51 /r", "Sse"),
            ("Sqrtsd", "sqrtsd", "F2 0F 51 /r", "Sse2"),
            ("Cvtss2sd", "cvtss2sd", "F3 0F 5A /r", "Sse2"),
            ("Cvtsd2ss", "cvtsd2ss", "F2 0F 5A /r", "Sse2"),
            ("Movss", "movss", "F3 0F 10 /r", "Sse"),
            ("Movsd", "movsd", "F2 0F 10 /r", "Sse2"),
            ("Andps", "andps", "0F 54 /r", "Sse"),
            ("Andpd", "andpd", "66 0F 54 /r", "Sse2"),
            ("Andnps", "andnps", "0F 55 /r", "Sse"),
            ("Andnpd", "andnpd", "66 0F 55 /r", "Sse2"),
            ("Orps", "orps", "0F 56 /r", "Sse"),
            ("Orpd", "orpd", "66 0F 56 /r", "Sse2"),
            ("Xorps", "xorps", "0F 57 /r", "Sse"),
            ("Xorpd", "xorpd", "66 0F 57 /r", "Sse2"),
            ("Addps", "addps", "0F 58 /r", "Sse"),
            ("Addpd", "addpd", "66 0F 58 /r", "Sse2"),
            // Packed float arithmetic and interleaving.
            ("Subps", "subps", "0F 5C /r", "Sse"),
            ("Subpd", "subpd", "66 0F 5C /r", "Sse2"),
            ("Mulps", "mulps", "0F 59 /r", "Sse"),
            ("Mulpd", "mulpd", "66 0F 59 /r", "Sse2"),
            ("Divps", "divps", "0F 5E /r", "Sse"),
            ("Divpd", "divpd", "66 0F 5E /r", "Sse2"),
            ("Minps", "minps", "0F 5D /r", "Sse"),
            ("Minpd", "minpd", "66 0F 5D /r", "Sse2"),
            ("Maxps", "maxps", "0F 5F /r", "Sse"),
            ("Maxpd", "maxpd", "66 0F 5F /r", "Sse2"),
            ("Unpcklps", "unpcklps", "0F 14 /r", "Sse"),
            ("Unpckhps", "unpckhps", "0F 15 /r", "Sse"),
            ("Unpcklpd", "unpcklpd", "66 0F 14 /r", "Sse2"),
            ("Unpckhpd", "unpckhpd", "66 0F 15 /r", "Sse2"),
            // Packed integer addition and subtraction (wrapping, signed- and
            // unsigned-saturating).
            ("Paddb", "paddb", "66 0F FC /r", "Sse2"),
            ("Paddw", "paddw", "66 0F FD /r", "Sse2"),
            ("Paddd", "paddd", "66 0F FE /r", "Sse2"),
            ("Paddq", "paddq", "66 0F D4 /r", "Sse2"),
            ("Psubb", "psubb", "66 0F F8 /r", "Sse2"),
            ("Psubw", "psubw", "66 0F F9 /r", "Sse2"),
            ("Psubd", "psubd", "66 0F FA /r", "Sse2"),
            ("Psubq", "psubq", "66 0F FB /r", "Sse2"),
            ("Paddsb", "paddsb", "66 0F EC /r", "Sse2"),
            ("Paddsw", "paddsw", "66 0F ED /r", "Sse2"),
            ("Paddusb", "paddusb", "66 0F DC /r", "Sse2"),
            ("Paddusw", "paddusw", "66 0F DD /r", "Sse2"),
            ("Psubsb", "psubsb", "66 0F E8 /r", "Sse2"),
            ("Psubsw", "psubsw", "66 0F E9 /r", "Sse2"),
            ("Psubusb", "psubusb", "66 0F D8 /r", "Sse2"),
            ("Psubusw", "psubusw", "66 0F D9 /r", "Sse2"),
            // Packed integer multiplication, averages and horizontal adds.
            ("Pmullw", "pmullw", "66 0F D5 /r", "Sse2"),
            ("Pmulld", "pmulld", "66 0F 38 40 /r", "Sse41"),
            ("Pmuludq", "pmuludq", "66 0F F4 /r", "Sse2"),
            ("Pmuldq", "pmuldq", "66 0F 38 28 /r", "Sse41"),
            ("Pmaddwd", "pmaddwd", "66 0F F5 /r", "Sse2"),
            ("Pmaddubsw", "pmaddubsw", "66 0F 38 04 /r", "Ssse3"),
            ("Pmulhrsw", "pmulhrsw", "66 0F 38 0B /r", "Ssse3"),
            ("Pmulhw", "pmulhw", "66 0F E5 /r", "Sse2"),
            ("Pmulhuw", "pmulhuw", "66 0F E4 /r", "Sse2"),
            ("Pavgb", "pavgb", "66 0F E0 /r", "Sse2"),
            ("Pavgw", "pavgw", "66 0F E3 /r", "Sse2"),
            ("Phaddw", "phaddw", "66 0F 38 01 /r", "Ssse3"),
            ("Phaddd", "phaddd", "66 0F 38 02 /r", "Ssse3"),
            // Packed integer minimum and maximum.
            ("Pminsb", "pminsb", "66 0F 38 38 /r", "Sse41"),
            ("Pminsw", "pminsw", "66 0F EA /r", "Sse2"),
            ("Pminsd", "pminsd", "66 0F 38 39 /r", "Sse41"),
            ("Pminub", "pminub", "66 0F DA /r", "Sse2"),
            ("Pminuw", "pminuw", "66 0F 38 3A /r", "Sse41"),
            ("Pminud", "pminud", "66 0F 38 3B /r", "Sse41"),
            ("Pmaxsb", "pmaxsb", "66 0F 38 3C /r", "Sse41"),
            ("Pmaxsw", "pmaxsw", "66 0F EE /r", "Sse2"),
            ("Pmaxsd", "pmaxsd", "66 0F 38 3D /r", "Sse41"),
            ("Pmaxub", "pmaxub", "66 0F DE /r", "Sse2"),
            ("Pmaxuw", "pmaxuw", "66 0F 38 3E /r", "Sse41"),
            ("Pmaxud", "pmaxud", "66 0F 38 3F /r", "Sse41"),
            // Packed integer comparisons (all-ones lanes where true).
            ("Pcmpeqb", "pcmpeqb", "66 0F 74 /r", "Sse2"),
            ("Pcmpeqw", "pcmpeqw", "66 0F 75 /r", "Sse2"),
            ("Pcmpeqd", "pcmpeqd", "66 0F 76 /r", "Sse2"),
            ("Pcmpeqq", "pcmpeqq", "66 0F 38 29 /r", "Sse41"),
            ("Pcmpgtb", "pcmpgtb", "66 0F 64 /r", "Sse2"),
            ("Pcmpgtw", "pcmpgtw", "66 0F 65 /r", "Sse2"),
            ("Pcmpgtd", "pcmpgtd", "66 0F 66 /r", "Sse2"),
            ("Pcmpgtq", "pcmpgtq", "66 0F 38 37 /r", "Sse42"),
            // Packed integer logic.
            ("Pand", "pand", "66 0F DB /r", "Sse2"),
            ("Pandn", "pandn", "66 0F DF /r", "Sse2"),
            ("Por", "por", "66 0F EB /r", "Sse2"),
            ("Pxor", "pxor", "66 0F EF /r", "Sse2"),
            // Narrowing with saturation, interleaving and the byte shuffle.
            ("Packsswb", "packsswb", "66 0F 63 /r", "Sse2"),
            ("Packssdw", "packssdw", "66 0F 6B /r", "Sse2"),
            ("Packuswb", "packuswb", "66 0F 67 /r", "Sse2"),
            ("Packusdw", "packusdw", "66 0F 38 2B /r", "Sse41"),
            ("Punpcklbw", "punpcklbw", "66 0F 60 /r", "Sse2"),
            ("Punpcklwd", "punpcklwd", "66 0F 61 /r", "Sse2"),
            ("Punpckldq", "punpckldq", "66 0F 62 /r", "Sse2"),
            ("Punpcklqdq", "punpcklqdq", "66 0F 6C /r", "Sse2"),
            ("Punpckhbw", "punpckhbw", "66 0F 68 /r", "Sse2"),
            ("Punpckhwd", "punpckhwd", "66 0F 69 /r", "Sse2"),
            ("Punpckhdq", "punpckhdq", "66 0F 6A /r", "Sse2"),
            ("Punpckhqdq", "punpckhqdq", "66 0F 6D /r", "Sse2"),
            ("Pshufb", "pshufb", "66 0F 38 00 /r", "Ssse3"),
            // Shifts of every lane by the count in xmm2/m128's low 64 bits.
            ("Psllw", "psllw", "66 0F F1 /r", "Sse2"),
            ("Pslld", "pslld", "66 0F F2 /r", "Sse2"),
            ("Psllq", "psllq", "66 0F F3 /r", "Sse2"),
            ("Psrlw", "psrlw", "66 0F D1 /r", "Sse2"),
            ("Psrld", "psrld", "66 0F D2 /r", "Sse2"),
            ("Psrlq", "psrlq", "66 0F D3 /r", "Sse2"),
            ("Psraw", "psraw", "66 0F E1 /r", "Sse2"),
            ("Psrad", "psrad", "66 0F E2 /r", "Sse2"),
        ]),
        methods: &[method(
            "{m}",
            "dst: Xmm, src: impl Into<XmmMem>",
            "self.xmm_rmr({op}, dst, &src.into())",
            "`{m} dst, src`.",
        )],
    },
    EnumDecl {
        name: "SseUnaryOp",
        alignment: AllBut(&[
            "Pmovsxbw", "Pmovsxwd", "Pmovsxdq", "Pmovzxbw", "Pmovzxwd", "Pmovzxdq", "Cvtps2pd",
            "Cvtdq2pd", "Movq", "Movdqu",
        ]),
        doc: "Packed SSE operations of the form `op xmm1, xmm2/m` that write xmm1 \
              without reading it: sign and zero extension (of the source's low 64 \
              bits), absolute values, square roots and conversions. The memory operand \
              is 128 bits, 16-byte aligned, except for the forms that read 64 (pmovsx, \
              pmovzx, cvtps2pd, cvtdq2pd, movq) and movdqu, which need no alignment.",
        kind: EnumKind::Forms(&[
            ("Pmovsxbw", "pmovsxbw", "66 0F 38 20 /r", "Sse41"),
            ("Pmovsxwd", "pmovsxwd", "66 0F 38 23 /r", "Sse41"),
            ("Pmovsxdq", "pmovsxdq", "66 0F 38 25 /r", "Sse41"),
            ("Pmovzxbw", "pmovzxbw", "66 0F 38 30 /r", "Sse41"),
            ("Pmovzxwd", "pmovzxwd", "66 0F 38 33 /r", "Sse41"),
            ("Pmovzxdq", "pmovzxdq", "66 0F 38 35 /r", "Sse41"),
            ("Pabsb", "pabsb", "66 0F 38 1C /r", "Ssse3"),
            ("Pabsw", "pabsw", "66 0F 38 1D /r", "Ssse3"),
            ("Pabsd", "pabsd", "66 0F 38 1E /r", "Ssse3"),
            ("Sqrtps", "sqrtps", "0F 51 /r", "Sse"),
            ("Sqrtpd", "sqrtpd", "66 0F 51 /r", "Sse2"),
            ("Cvtdq2ps", "cvtdq2ps", "0F 5B /r", "Sse2"),
            ("Cvttps2dq", "cvttps2dq", "F3 0F 5B /r", "Sse2"),
            ("Cvtps2pd", "cvtps2pd", "0F 5A /r", "Sse2"),
            ("Cvtpd2ps", "cvtpd2ps", "66 0F 5A /r", "Sse2"),
            ("Cvtdq2pd", "cvtdq2pd", "F3 0F E6 /r", "Sse2"),
            ("Cvttpd2dq", "cvttpd2dq", "66 0F E6 /r", "Sse2"),
            // Moves: the low 64 bits, clearing the high ones, and the
            // unaligned and aligned 128-bit loads.
            ("Movq", "movq", "F3 0F 7E /r", "Sse2"),
            ("Movdqu", "movdqu", "F3 0F 6F /r", "Sse2"),
            ("Movdqa", "movdqa", "66 0F 6F /r", "Sse2"),
        ]),
        methods: &[method(
            "{m}",
            "dst: Xmm, src: impl Into<XmmMem>",
            "self.xmm_unary({op}, dst, &src.into())",
            "`{m} dst, src`.",
        )],
    },
    EnumDecl {
        name: "SseImmOp",
        alignment: AllBut(&["Insertps"]),
        doc: "Packed SSE operations of the form `op xmm1, xmm2/m, imm8` (xmm1 is read \
              and written): shuffles, blends, byte alignment, insertion and compares, \
              whose immediate selects the lanes or the predicate. The memory operand is \
              128 bits, 16-byte aligned, but for insertps's 32.",
        kind: EnumKind::Forms(&[
            ("Shufps", "shufps", "0F C6 /r ib", "Sse"),
            ("Shufpd", "shufpd", "66 0F C6 /r ib", "Sse2"),
            ("Cmpps", "cmpps", "0F C2 /r ib", "Sse"),
            ("Cmppd", "cmppd", "66 0F C2 /r ib", "Sse2"),
            ("Palignr", "palignr", "66 0F 3A 0F /r ib", "Ssse3"),
            ("Pblendw", "pblendw", "66 0F 3A 0E /r ib", "Sse41"),
            ("Blendps", "blendps", "66 0F 3A 0C /r ib", "Sse41"),
            ("Blendpd", "blendpd", "66 0F 3A 0D /r ib", "Sse41"),
            ("Insertps", "insertps", "66 0F 3A 21 /r ib", "Sse41"),
        ]),
        methods: &[method(
            "{m}",
            "dst: Xmm, src: impl Into<XmmMem>, imm: u8",
            "self.xmm_rmr_imm({op}, dst, &src.into(), imm)",
            "`{m} dst, src, imm`.",
        )],
    },
    EnumDecl {
        name: "SseUnaryImmOp",
        alignment: AllBut(&[]),
        doc: "Packed SSE operations of the form `op xmm1, xmm2/m128, imm8` that write \
              xmm1 without reading it: the shuffles of 32- and 16-bit lanes and the \
              packed roundings (the immediate as ROUNDSS's). The memory operand is \
              16-byte aligned.",
        kind: EnumKind::Forms(&[
            ("Pshufd", "pshufd", "66 0F 70 /r ib", "Sse2"),
            ("Pshuflw", "pshuflw", "F2 0F 70 /r ib", "Sse2"),
            ("Pshufhw", "pshufhw", "F3 0F 70 /r ib", "Sse2"),
            ("Roundps", "roundps", "66 0F 3A 08 /r ib", "Sse41"),
            ("Roundpd", "roundpd", "66 0F 3A 09 /r ib", "Sse41"),
        ]),
        methods: &[method(
            "{m}",
            "dst: Xmm, src: impl Into<XmmMem>, imm: u8",
            "self.xmm_unary_imm({op}, dst, &src.into(), imm)",
            "`{m} dst, src, imm`.",
        )],
    },
    EnumDecl {
        name: "SseShiftImmOp",
        alignment: Any,
        doc: "Packed shifts by an immediate, `op xmm1, imm8` (xmm1 is read and \
              written): of each lane, or for pslldq/psrldq of the whole register by \
              bytes. The /digit selects the shift within its opcode's group.",
        kind: EnumKind::Forms(&[
            ("Psllw", "psllw", "66 0F 71 /6 ib", "Sse2"),
            ("Psrlw", "psrlw", "66 0F 71 /2 ib", "Sse2"),
            ("Psraw", "psraw", "66 0F 71 /4 ib", "Sse2"),
            ("Pslld", "pslld", "66 0F 72 /6 ib", "Sse2"),
            ("Psrld", "psrld", "66 0F 72 /2 ib", "Sse2"),
            ("Psrad", "psrad", "66 0F 72 /4 ib", "Sse2"),
            ("Psllq", "psllq", "66 0F 73 /6 ib", "Sse2"),
            ("Psrlq", "psrlq", "66 0F 73 /2 ib", "Sse2"),
            ("Pslldq", "pslldq", "66 0F 73 /7 ib", "Sse2"),
            ("Psrldq", "psrldq", "66 0F 73 /3 ib", "Sse2"),
        ]),
        methods: &[method(
            "{m}_imm",
            "dst: Xmm, imm: u8",
            "self.xmm_shift_imm({op}, dst, imm)",
            "`{m} dst, imm`.",
        )],
    },
    EnumDecl {
        name: "SseRegOp",
        alignment: Any,
        doc: "Register-only SSE forms, `op xmm1, xmm2` (xmm1 is read and written), \
              whose memory encodings are other instructions (MOVLPS, MOVHPS): the \
              moves of a register's low half into the other's high half and back.",
        kind: EnumKind::Forms(&[
            ("Movlhps", "movlhps", "0F 16 /r", "Sse"),
            ("Movhlps", "movhlps", "0F 12 /r", "Sse"),
        ]),
        methods: &[method(
            "{m}",
            "dst: Xmm, src: Xmm",
            "self.xmm_rr({op}, dst, src)",
            "`{m} dst, src`.",
        )],
    },
    EnumDecl {
        name: "SseInsertOp",
        alignment: Any,
        doc: "Lane insertion from a GPR or memory, `op xmm1, r32/m, imm8` (xmm1 is \
              read and written; the immediate is the lane): pinsrb/pinsrw/pinsrd read \
              the low 8/16/32 bits of a 32-bit register or that many bytes of memory, \
              pinsrq a 64-bit register or 8 bytes.",
        kind: EnumKind::Forms(&[
            ("Pinsrb", "pinsrb", "66 0F 3A 20 /r ib", "Sse41"),
            ("Pinsrw", "pinsrw", "66 0F C4 /r ib", "Sse2"),
            ("Pinsrd", "pinsrd", "66 0F 3A 22 /r ib", "Sse41"),
            ("Pinsrq", "pinsrq", "66 REX.W 0F 3A 22 /r ib", "Sse41"),
        ]),
        methods: &[method(
            "{m}",
            "dst: Xmm, src: &GprMem, lane: u8",
            "self.xmm_insert({op}, dst, src, lane)",
            "`{m} dst, src, lane`.",
        )],
    },
    EnumDecl {
        name: "SseExtractOp",
        alignment: Any,
        doc: "Lane extraction to a GPR or memory, `op r32/m, xmm, imm8` (the immediate \
              is the lane): pextrb/pextrw zero-extend into a 32-bit register (whose \
              write clears the upper half) or store 1/2 bytes, pextrd and extractps \
              a 32-bit lane, pextrq a 64-bit one. PEXTRW's SSE4.1 form (0F 3A 15) is the one that \
              stores; its SSE2 form (0F C5) is left out.",
        kind: EnumKind::Forms(&[
            ("Pextrb", "pextrb", "66 0F 3A 14 /r ib", "Sse41"),
            ("Pextrw", "pextrw", "66 0F 3A 15 /r ib", "Sse41"),
            ("Pextrd", "pextrd", "66 0F 3A 16 /r ib", "Sse41"),
            ("Pextrq", "pextrq", "66 REX.W 0F 3A 16 /r ib", "Sse41"),
            ("Extractps", "extractps", "66 0F 3A 17 /r ib", "Sse41"),
        ]),
        methods: &[
            method(
                "{m}",
                "dst: Gpr, src: Xmm, lane: u8",
                "self.xmm_extract({op}, dst, src, lane)",
                "`{m} dst, src, lane` (to a GPR).",
            ),
            method(
                "{m}_mem",
                "dst: &Amode, src: Xmm, lane: u8",
                "self.xmm_extract_mem({op}, dst, src, lane)",
                "`{m} [dst], src, lane` (a store).",
            ),
        ],
    },
    EnumDecl {
        name: "SseMoveMaskOp",
        alignment: Any,
        doc: "The sign bits of each lane into the low bits of a 32-bit GPR (the rest \
              cleared), `op r32, xmm`.",
        kind: EnumKind::Forms(&[
            ("Pmovmskb", "pmovmskb", "66 0F D7 /r", "Sse2"),
            ("Movmskps", "movmskps", "0F 50 /r", "Sse"),
            ("Movmskpd", "movmskpd", "66 0F 50 /r", "Sse2"),
        ]),
        methods: &[method(
            "{m}",
            "dst: Gpr, src: Xmm",
            "self.xmm_move_mask({op}, dst, src)",
            "`{m} dst, src`.",
        )],
    },
    EnumDecl {
        name: "SseBlendvOp",
        alignment: AllBut(&[]),
        doc: "The variable blends, `op xmm1, xmm2/m128, <XMM0>` (xmm1 is read and \
              written): each lane (byte, float, double) from xmm2 where the same lane \
              of the implicit XMM0 has its top bit set, from xmm1 otherwise. The memory \
              operand is 16-byte aligned.",
        kind: EnumKind::Forms(&[
            ("Pblendvb", "pblendvb", "66 0F 38 10 /r", "Sse41"),
            ("Blendvps", "blendvps", "66 0F 38 14 /r", "Sse41"),
            ("Blendvpd", "blendvpd", "66 0F 38 15 /r", "Sse41"),
        ]),
        methods: &[method(
            "{m}",
            "dst: Xmm, src: impl Into<XmmMem>",
            "self.xmm_blendv({op}, dst, &src.into())",
            "`{m} dst, src, xmm0` (the mask must be in xmm0).",
        )],
    },
    EnumDecl {
        name: "SseTestOp",
        alignment: AllBut(&[]),
        doc: "The flag-setting packed test, `op xmm1, xmm2/m128`.",
        kind: EnumKind::Forms(&[("Ptest", "ptest", "66 0F 38 17 /r", "Sse41")]),
        methods: &[method(
            "{m}",
            "lhs: Xmm, rhs: impl Into<XmmMem>",
            "self.xmm_test({op}, lhs, &rhs.into())",
            "`{m} lhs, rhs`: ZF = (lhs & rhs) == 0, CF = (!lhs & rhs) == 0.",
        )],
    },
    EnumDecl {
        name: "AvxOp",
        alignment: Any,
        doc: "VEX.128 forms of the packed operations, `op xmm1, xmm2, xmm3/m128`: \
              three operands, none tied, and a memory operand of any alignment: every \
              binary packed integer and float operation of the legacy list (arithmetic, \
              saturating arithmetic, averages, minimum and maximum, comparisons, logic, \
              packs and unpacks, byte shuffle, shifts by an XMM count). A compiler \
              chooses them over their legacy forms when the CPU has AVX.",
        kind: EnumKind::Forms(&[
            ("Vpaddb", "vpaddb", "VEX.128.66.0F.WIG FC /r", "Avx"),
            ("Vpaddw", "vpaddw", "VEX.128.66.0F.WIG FD /r", "Avx"),
            ("Vpaddd", "vpaddd", "VEX.128.66.0F.WIG FE /r", "Avx"),
            ("Vpaddq", "vpaddq", "VEX.128.66.0F.WIG D4 /r", "Avx"),
            ("Vpsubb", "vpsubb", "VEX.128.66.0F.WIG F8 /r", "Avx"),
            ("Vpsubw", "vpsubw", "VEX.128.66.0F.WIG F9 /r", "Avx"),
            ("Vpsubd", "vpsubd", "VEX.128.66.0F.WIG FA /r", "Avx"),
            ("Vpsubq", "vpsubq", "VEX.128.66.0F.WIG FB /r", "Avx"),
            ("Vpand", "vpand", "VEX.128.66.0F.WIG DB /r", "Avx"),
            ("Vpandn", "vpandn", "VEX.128.66.0F.WIG DF /r", "Avx"),
            ("Vpor", "vpor", "VEX.128.66.0F.WIG EB /r", "Avx"),
            ("Vpxor", "vpxor", "VEX.128.66.0F.WIG EF /r", "Avx"),
            ("Vpcmpeqb", "vpcmpeqb", "VEX.128.66.0F.WIG 74 /r", "Avx"),
            ("Vpcmpeqw", "vpcmpeqw", "VEX.128.66.0F.WIG 75 /r", "Avx"),
            ("Vpcmpeqd", "vpcmpeqd", "VEX.128.66.0F.WIG 76 /r", "Avx"),
            ("Vpmullw", "vpmullw", "VEX.128.66.0F.WIG D5 /r", "Avx"),
            ("Vpmulld", "vpmulld", "VEX.128.66.0F38.WIG 40 /r", "Avx"),
            ("Vaddps", "vaddps", "VEX.128.0F.WIG 58 /r", "Avx"),
            ("Vaddpd", "vaddpd", "VEX.128.66.0F.WIG 58 /r", "Avx"),
            ("Vsubps", "vsubps", "VEX.128.0F.WIG 5C /r", "Avx"),
            ("Vsubpd", "vsubpd", "VEX.128.66.0F.WIG 5C /r", "Avx"),
            ("Vmulps", "vmulps", "VEX.128.0F.WIG 59 /r", "Avx"),
            ("Vmulpd", "vmulpd", "VEX.128.66.0F.WIG 59 /r", "Avx"),
            ("Vdivps", "vdivps", "VEX.128.0F.WIG 5E /r", "Avx"),
            ("Vdivpd", "vdivpd", "VEX.128.66.0F.WIG 5E /r", "Avx"),
            ("Vpaddsb", "vpaddsb", "VEX.128.66.0F.WIG EC /r", "Avx"),
            ("Vpaddsw", "vpaddsw", "VEX.128.66.0F.WIG ED /r", "Avx"),
            ("Vpaddusb", "vpaddusb", "VEX.128.66.0F.WIG DC /r", "Avx"),
            ("Vpaddusw", "vpaddusw", "VEX.128.66.0F.WIG DD /r", "Avx"),
            ("Vpsubsb", "vpsubsb", "VEX.128.66.0F.WIG E8 /r", "Avx"),
            ("Vpsubsw", "vpsubsw", "VEX.128.66.0F.WIG E9 /r", "Avx"),
            ("Vpsubusb", "vpsubusb", "VEX.128.66.0F.WIG D8 /r", "Avx"),
            ("Vpsubusw", "vpsubusw", "VEX.128.66.0F.WIG D9 /r", "Avx"),
            ("Vpmuludq", "vpmuludq", "VEX.128.66.0F.WIG F4 /r", "Avx"),
            ("Vpmuldq", "vpmuldq", "VEX.128.66.0F38.WIG 28 /r", "Avx"),
            ("Vpmaddwd", "vpmaddwd", "VEX.128.66.0F.WIG F5 /r", "Avx"),
            (
                "Vpmaddubsw",
                "vpmaddubsw",
                "VEX.128.66.0F38.WIG 04 /r",
                "Avx",
            ),
            ("Vpmulhrsw", "vpmulhrsw", "VEX.128.66.0F38.WIG 0B /r", "Avx"),
            ("Vpmulhw", "vpmulhw", "VEX.128.66.0F.WIG E5 /r", "Avx"),
            ("Vpmulhuw", "vpmulhuw", "VEX.128.66.0F.WIG E4 /r", "Avx"),
            ("Vpavgb", "vpavgb", "VEX.128.66.0F.WIG E0 /r", "Avx"),
            ("Vpavgw", "vpavgw", "VEX.128.66.0F.WIG E3 /r", "Avx"),
            ("Vpminsb", "vpminsb", "VEX.128.66.0F38.WIG 38 /r", "Avx"),
            ("Vpminsw", "vpminsw", "VEX.128.66.0F.WIG EA /r", "Avx"),
            ("Vpminsd", "vpminsd", "VEX.128.66.0F38.WIG 39 /r", "Avx"),
            ("Vpminub", "vpminub", "VEX.128.66.0F.WIG DA /r", "Avx"),
            ("Vpminuw", "vpminuw", "VEX.128.66.0F38.WIG 3A /r", "Avx"),
            ("Vpminud", "vpminud", "VEX.128.66.0F38.WIG 3B /r", "Avx"),
            ("Vpmaxsb", "vpmaxsb", "VEX.128.66.0F38.WIG 3C /r", "Avx"),
            ("Vpmaxsw", "vpmaxsw", "VEX.128.66.0F.WIG EE /r", "Avx"),
            ("Vpmaxsd", "vpmaxsd", "VEX.128.66.0F38.WIG 3D /r", "Avx"),
            ("Vpmaxub", "vpmaxub", "VEX.128.66.0F.WIG DE /r", "Avx"),
            ("Vpmaxuw", "vpmaxuw", "VEX.128.66.0F38.WIG 3E /r", "Avx"),
            ("Vpmaxud", "vpmaxud", "VEX.128.66.0F38.WIG 3F /r", "Avx"),
            ("Vpcmpeqq", "vpcmpeqq", "VEX.128.66.0F38.WIG 29 /r", "Avx"),
            ("Vpcmpgtb", "vpcmpgtb", "VEX.128.66.0F.WIG 64 /r", "Avx"),
            ("Vpcmpgtw", "vpcmpgtw", "VEX.128.66.0F.WIG 65 /r", "Avx"),
            ("Vpcmpgtd", "vpcmpgtd", "VEX.128.66.0F.WIG 66 /r", "Avx"),
            ("Vpcmpgtq", "vpcmpgtq", "VEX.128.66.0F38.WIG 37 /r", "Avx"),
            ("Vpacksswb", "vpacksswb", "VEX.128.66.0F.WIG 63 /r", "Avx"),
            ("Vpackssdw", "vpackssdw", "VEX.128.66.0F.WIG 6B /r", "Avx"),
            ("Vpackuswb", "vpackuswb", "VEX.128.66.0F.WIG 67 /r", "Avx"),
            ("Vpackusdw", "vpackusdw", "VEX.128.66.0F38.WIG 2B /r", "Avx"),
            ("Vpunpcklbw", "vpunpcklbw", "VEX.128.66.0F.WIG 60 /r", "Avx"),
            ("Vpunpcklwd", "vpunpcklwd", "VEX.128.66.0F.WIG 61 /r", "Avx"),
            ("Vpunpckldq", "vpunpckldq", "VEX.128.66.0F.WIG 62 /r", "Avx"),
            (
                "Vpunpcklqdq",
                "vpunpcklqdq",
                "VEX.128.66.0F.WIG 6C /r",
                "Avx",
            ),
            ("Vpunpckhbw", "vpunpckhbw", "VEX.128.66.0F.WIG 68 /r", "Avx"),
            ("Vpunpckhwd", "vpunpckhwd", "VEX.128.66.0F.WIG 69 /r", "Avx"),
            ("Vpunpckhdq", "vpunpckhdq", "VEX.128.66.0F.WIG 6A /r", "Avx"),
            (
                "Vpunpckhqdq",
                "vpunpckhqdq",
                "VEX.128.66.0F.WIG 6D /r",
                "Avx",
            ),
            ("Vpshufb", "vpshufb", "VEX.128.66.0F38.WIG 00 /r", "Avx"),
            ("Vpsllw", "vpsllw", "VEX.128.66.0F.WIG F1 /r", "Avx"),
            ("Vpslld", "vpslld", "VEX.128.66.0F.WIG F2 /r", "Avx"),
            ("Vpsllq", "vpsllq", "VEX.128.66.0F.WIG F3 /r", "Avx"),
            ("Vpsrlw", "vpsrlw", "VEX.128.66.0F.WIG D1 /r", "Avx"),
            ("Vpsrld", "vpsrld", "VEX.128.66.0F.WIG D2 /r", "Avx"),
            ("Vpsrlq", "vpsrlq", "VEX.128.66.0F.WIG D3 /r", "Avx"),
            ("Vpsraw", "vpsraw", "VEX.128.66.0F.WIG E1 /r", "Avx"),
            ("Vpsrad", "vpsrad", "VEX.128.66.0F.WIG E2 /r", "Avx"),
            ("Vminps", "vminps", "VEX.128.0F.WIG 5D /r", "Avx"),
            ("Vminpd", "vminpd", "VEX.128.66.0F.WIG 5D /r", "Avx"),
            ("Vmaxps", "vmaxps", "VEX.128.0F.WIG 5F /r", "Avx"),
            ("Vmaxpd", "vmaxpd", "VEX.128.66.0F.WIG 5F /r", "Avx"),
            ("Vandps", "vandps", "VEX.128.0F.WIG 54 /r", "Avx"),
            ("Vandpd", "vandpd", "VEX.128.66.0F.WIG 54 /r", "Avx"),
            ("Vandnps", "vandnps", "VEX.128.0F.WIG 55 /r", "Avx"),
            ("Vandnpd", "vandnpd", "VEX.128.66.0F.WIG 55 /r", "Avx"),
            ("Vorps", "vorps", "VEX.128.0F.WIG 56 /r", "Avx"),
            ("Vorpd", "vorpd", "VEX.128.66.0F.WIG 56 /r", "Avx"),
            ("Vxorps", "vxorps", "VEX.128.0F.WIG 57 /r", "Avx"),
            ("Vxorpd", "vxorpd", "VEX.128.66.0F.WIG 57 /r", "Avx"),
            ("Vunpcklps", "vunpcklps", "VEX.128.0F.WIG 14 /r", "Avx"),
            ("Vunpckhps", "vunpckhps", "VEX.128.0F.WIG 15 /r", "Avx"),
            ("Vunpcklpd", "vunpcklpd", "VEX.128.66.0F.WIG 14 /r", "Avx"),
            ("Vunpckhpd", "vunpckhpd", "VEX.128.66.0F.WIG 15 /r", "Avx"),
        ]),
        methods: &[method(
            "{m}",
            "dst: Xmm, src1: Xmm, src2: impl Into<XmmMem>",
            "self.xmm_rmr_vex({op}, dst, src1, &src2.into())",
            "`{m} dst, src1, src2`.",
        )],
    },
    EnumDecl {
        name: "AvxUnaryOp",
        alignment: Any,
        doc: "VEX.128 forms of `op xmm1, xmm2/m` writing xmm1 without reading it \
              (VEX.vvvv unused, 1111b): the twins of the legacy unary forms (sign and \
              zero extension, absolute values, square roots, conversions, MOVQ, the \
              MOVDQU load), the MOVUPS load, and AVX2's broadcasts of the low byte, \
              word, doubleword or quadword of xmm2/m8..m64 to every lane. Memory of \
              any alignment; VMOVDQA, which faults on an unaligned address like its \
              legacy form, is left out (VMOVDQU serves).",
        kind: EnumKind::Forms(&[
            ("Vpmovsxbw", "vpmovsxbw", "VEX.128.66.0F38.WIG 20 /r", "Avx"),
            ("Vpmovsxwd", "vpmovsxwd", "VEX.128.66.0F38.WIG 23 /r", "Avx"),
            ("Vpmovsxdq", "vpmovsxdq", "VEX.128.66.0F38.WIG 25 /r", "Avx"),
            ("Vpmovzxbw", "vpmovzxbw", "VEX.128.66.0F38.WIG 30 /r", "Avx"),
            ("Vpmovzxwd", "vpmovzxwd", "VEX.128.66.0F38.WIG 33 /r", "Avx"),
            ("Vpmovzxdq", "vpmovzxdq", "VEX.128.66.0F38.WIG 35 /r", "Avx"),
            ("Vpabsb", "vpabsb", "VEX.128.66.0F38.WIG 1C /r", "Avx"),
            ("Vpabsw", "vpabsw", "VEX.128.66.0F38.WIG 1D /r", "Avx"),
            ("Vpabsd", "vpabsd", "VEX.128.66.0F38.WIG 1E /r", "Avx"),
            ("Vsqrtps", "vsqrtps", "VEX.128.0F.WIG 51 /r", "Avx"),
            ("Vsqrtpd", "vsqrtpd", "VEX.128.66.0F.WIG 51 /r", "Avx"),
            ("Vcvtdq2ps", "vcvtdq2ps", "VEX.128.0F.WIG 5B /r", "Avx"),
            ("Vcvttps2dq", "vcvttps2dq", "VEX.128.F3.0F.WIG 5B /r", "Avx"),
            ("Vcvtps2pd", "vcvtps2pd", "VEX.128.0F.WIG 5A /r", "Avx"),
            ("Vcvtpd2ps", "vcvtpd2ps", "VEX.128.66.0F.WIG 5A /r", "Avx"),
            ("Vcvtdq2pd", "vcvtdq2pd", "VEX.128.F3.0F.WIG E6 /r", "Avx"),
            ("Vcvttpd2dq", "vcvttpd2dq", "VEX.128.66.0F.WIG E6 /r", "Avx"),
            // Moves: the low 64 bits (clearing the rest) and the unaligned
            // 128-bit loads.
            ("Vmovq", "vmovq", "VEX.128.F3.0F.WIG 7E /r", "Avx"),
            ("Vmovdqu", "vmovdqu", "VEX.128.F3.0F.WIG 6F /r", "Avx"),
            ("Vmovups", "vmovups", "VEX.128.0F.WIG 10 /r", "Avx"),
            // Broadcasts (AVX2).
            (
                "Vpbroadcastb",
                "vpbroadcastb",
                "VEX.128.66.0F38.W0 78 /r",
                "Avx2",
            ),
            (
                "Vpbroadcastw",
                "vpbroadcastw",
                "VEX.128.66.0F38.W0 79 /r",
                "Avx2",
            ),
            (
                "Vpbroadcastd",
                "vpbroadcastd",
                "VEX.128.66.0F38.W0 58 /r",
                "Avx2",
            ),
            (
                "Vpbroadcastq",
                "vpbroadcastq",
                "VEX.128.66.0F38.W0 59 /r",
                "Avx2",
            ),
        ]),
        methods: &[method(
            "{m}",
            "dst: Xmm, src: impl Into<XmmMem>",
            "self.xmm_unary_vex({op}, dst, &src.into())",
            "`{m} dst, src`.",
        )],
    },
    EnumDecl {
        name: "AvxImmOp",
        alignment: Any,
        doc: "VEX.128 forms of `op xmm1, xmm2, xmm3/m, imm8` (nothing tied): the twins \
              of the legacy shuffles, blends, byte alignment, insertion and compares \
              (xmm2 is the legacy form's destination operand). The memory operand is \
              128 bits of any alignment, but for vinsertps's 32.",
        kind: EnumKind::Forms(&[
            ("Vshufps", "vshufps", "VEX.128.0F.WIG C6 /r ib", "Avx"),
            ("Vshufpd", "vshufpd", "VEX.128.66.0F.WIG C6 /r ib", "Avx"),
            ("Vcmpps", "vcmpps", "VEX.128.0F.WIG C2 /r ib", "Avx"),
            ("Vcmppd", "vcmppd", "VEX.128.66.0F.WIG C2 /r ib", "Avx"),
            (
                "Vpalignr",
                "vpalignr",
                "VEX.128.66.0F3A.WIG 0F /r ib",
                "Avx",
            ),
            (
                "Vpblendw",
                "vpblendw",
                "VEX.128.66.0F3A.WIG 0E /r ib",
                "Avx",
            ),
            (
                "Vblendps",
                "vblendps",
                "VEX.128.66.0F3A.WIG 0C /r ib",
                "Avx",
            ),
            (
                "Vblendpd",
                "vblendpd",
                "VEX.128.66.0F3A.WIG 0D /r ib",
                "Avx",
            ),
            (
                "Vinsertps",
                "vinsertps",
                "VEX.128.66.0F3A.WIG 21 /r ib",
                "Avx",
            ),
        ]),
        methods: &[method(
            "{m}",
            "dst: Xmm, src1: Xmm, src2: impl Into<XmmMem>, imm: u8",
            "self.xmm_rmr_imm_vex({op}, dst, src1, &src2.into(), imm)",
            "`{m} dst, src1, src2, imm`.",
        )],
    },
    EnumDecl {
        name: "AvxUnaryImmOp",
        alignment: Any,
        doc: "VEX.128 forms of `op xmm1, xmm2/m128, imm8` writing xmm1 without reading \
              it (VEX.vvvv unused): the twins of the legacy shuffles of 32- and 16-bit \
              lanes and the packed roundings.",
        kind: EnumKind::Forms(&[
            ("Vpshufd", "vpshufd", "VEX.128.66.0F.WIG 70 /r ib", "Avx"),
            ("Vpshuflw", "vpshuflw", "VEX.128.F2.0F.WIG 70 /r ib", "Avx"),
            ("Vpshufhw", "vpshufhw", "VEX.128.F3.0F.WIG 70 /r ib", "Avx"),
            (
                "Vroundps",
                "vroundps",
                "VEX.128.66.0F3A.WIG 08 /r ib",
                "Avx",
            ),
            (
                "Vroundpd",
                "vroundpd",
                "VEX.128.66.0F3A.WIG 09 /r ib",
                "Avx",
            ),
        ]),
        methods: &[method(
            "{m}",
            "dst: Xmm, src: impl Into<XmmMem>, imm: u8",
            "self.xmm_unary_imm_vex({op}, dst, &src.into(), imm)",
            "`{m} dst, src, imm`.",
        )],
    },
    EnumDecl {
        name: "AvxShiftImmOp",
        alignment: Any,
        doc: "VEX.128 shifts by an immediate, `op xmm1, xmm2, imm8`: the destination \
              travels in VEX.vvvv, the source in ModRM.rm, and the /digit in ModRM.reg \
              selects the shift within its opcode's group, as in the legacy forms.",
        kind: EnumKind::Forms(&[
            ("Vpsllw", "vpsllw", "VEX.128.66.0F.WIG 71 /6 ib", "Avx"),
            ("Vpsrlw", "vpsrlw", "VEX.128.66.0F.WIG 71 /2 ib", "Avx"),
            ("Vpsraw", "vpsraw", "VEX.128.66.0F.WIG 71 /4 ib", "Avx"),
            ("Vpslld", "vpslld", "VEX.128.66.0F.WIG 72 /6 ib", "Avx"),
            ("Vpsrld", "vpsrld", "VEX.128.66.0F.WIG 72 /2 ib", "Avx"),
            ("Vpsrad", "vpsrad", "VEX.128.66.0F.WIG 72 /4 ib", "Avx"),
            ("Vpsllq", "vpsllq", "VEX.128.66.0F.WIG 73 /6 ib", "Avx"),
            ("Vpsrlq", "vpsrlq", "VEX.128.66.0F.WIG 73 /2 ib", "Avx"),
            ("Vpslldq", "vpslldq", "VEX.128.66.0F.WIG 73 /7 ib", "Avx"),
            ("Vpsrldq", "vpsrldq", "VEX.128.66.0F.WIG 73 /3 ib", "Avx"),
        ]),
        methods: &[method(
            "{m}_imm",
            "dst: Xmm, src: Xmm, imm: u8",
            "self.xmm_shift_imm_vex({op}, dst, src, imm)",
            "`{m} dst, src, imm`.",
        )],
    },
    EnumDecl {
        name: "AvxInsertOp",
        alignment: Any,
        doc: "VEX.128 lane insertion, `op xmm1, xmm2, r32/m, imm8`: xmm2 with lane \
              `imm8` replaced by the low bits of the GPR (or that many bytes of \
              memory) into xmm1; vpinsrq (VEX.W1) reads a 64-bit register.",
        kind: EnumKind::Forms(&[
            ("Vpinsrb", "vpinsrb", "VEX.128.66.0F3A.W0 20 /r ib", "Avx"),
            ("Vpinsrw", "vpinsrw", "VEX.128.66.0F.W0 C4 /r ib", "Avx"),
            ("Vpinsrd", "vpinsrd", "VEX.128.66.0F3A.W0 22 /r ib", "Avx"),
            ("Vpinsrq", "vpinsrq", "VEX.128.66.0F3A.W1 22 /r ib", "Avx"),
        ]),
        methods: &[method(
            "{m}",
            "dst: Xmm, src1: Xmm, src2: &GprMem, lane: u8",
            "self.xmm_insert_vex({op}, dst, src1, src2, lane)",
            "`{m} dst, src1, src2, lane`.",
        )],
    },
    EnumDecl {
        name: "AvxExtractOp",
        alignment: Any,
        doc: "VEX.128 lane extraction, `op r32/m, xmm, imm8`, as the legacy forms: \
              vpextrb/vpextrw zero-extend into a 32-bit register or store 1/2 bytes, \
              vpextrd and vextractps a 32-bit lane, vpextrq (VEX.W1) a 64-bit one.",
        kind: EnumKind::Forms(&[
            ("Vpextrb", "vpextrb", "VEX.128.66.0F3A.W0 14 /r ib", "Avx"),
            ("Vpextrw", "vpextrw", "VEX.128.66.0F3A.W0 15 /r ib", "Avx"),
            ("Vpextrd", "vpextrd", "VEX.128.66.0F3A.W0 16 /r ib", "Avx"),
            ("Vpextrq", "vpextrq", "VEX.128.66.0F3A.W1 16 /r ib", "Avx"),
            (
                "Vextractps",
                "vextractps",
                "VEX.128.66.0F3A.WIG 17 /r ib",
                "Avx",
            ),
        ]),
        methods: &[
            method(
                "{m}",
                "dst: Gpr, src: Xmm, lane: u8",
                "self.xmm_extract_vex({op}, dst, src, lane)",
                "`{m} dst, src, lane` (to a GPR).",
            ),
            method(
                "{m}_mem",
                "dst: &Amode, src: Xmm, lane: u8",
                "self.xmm_extract_mem_vex({op}, dst, src, lane)",
                "`{m} [dst], src, lane` (a store).",
            ),
        ],
    },
    EnumDecl {
        name: "AvxMoveMaskOp",
        alignment: Any,
        doc: "VEX.128 sign-bit masks, `op r32, xmm` (the rest of the register cleared).",
        kind: EnumKind::Forms(&[
            ("Vpmovmskb", "vpmovmskb", "VEX.128.66.0F.WIG D7 /r", "Avx"),
            ("Vmovmskps", "vmovmskps", "VEX.128.0F.WIG 50 /r", "Avx"),
            ("Vmovmskpd", "vmovmskpd", "VEX.128.66.0F.WIG 50 /r", "Avx"),
        ]),
        methods: &[method(
            "{m}",
            "dst: Gpr, src: Xmm",
            "self.xmm_move_mask_vex({op}, dst, src)",
            "`{m} dst, src`.",
        )],
    },
    EnumDecl {
        name: "AvxBlendvOp",
        alignment: Any,
        doc: "VEX.128 variable blends, `op xmm1, xmm2, xmm3/m128, xmm4`: each lane from \
              xmm3/m128 where xmm4's lane has its top bit set, from xmm2 otherwise. \
              The mask register is any XMM register, named in imm8[7:4] (`/is4`); \
              the manual puts these forms at 0F3A 4A-4C, not at their legacy \
              opcodes.",
        kind: EnumKind::Forms(&[
            (
                "Vpblendvb",
                "vpblendvb",
                "VEX.128.66.0F3A.W0 4C /r /is4",
                "Avx",
            ),
            (
                "Vblendvps",
                "vblendvps",
                "VEX.128.66.0F3A.W0 4A /r /is4",
                "Avx",
            ),
            (
                "Vblendvpd",
                "vblendvpd",
                "VEX.128.66.0F3A.W0 4B /r /is4",
                "Avx",
            ),
        ]),
        methods: &[method(
            "{m}",
            "dst: Xmm, src1: Xmm, src2: impl Into<XmmMem>, mask: Xmm",
            "self.xmm_blendv_vex({op}, dst, src1, &src2.into(), mask)",
            "`{m} dst, src1, src2, mask`.",
        )],
    },
    EnumDecl {
        name: "AvxTestOp",
        alignment: Any,
        doc: "The VEX.128 flag-setting packed test, `op xmm1, xmm2/m128`.",
        kind: EnumKind::Forms(&[("Vptest", "vptest", "VEX.128.66.0F38.WIG 17 /r", "Avx")]),
        methods: &[method(
            "{m}",
            "lhs: Xmm, rhs: impl Into<XmmMem>",
            "self.xmm_test_vex({op}, lhs, &rhs.into())",
            "`{m} lhs, rhs`: ZF = (lhs & rhs) == 0, CF = (!lhs & rhs) == 0.",
        )],
    },
    EnumDecl {
        name: "AvxStoreOp",
        alignment: Any,
        doc: "VEX.128 unaligned stores, `op m128, xmm` (their loads are forms of \
              `AvxUnaryOp`; VMOVDQU's store is 7F, not the load's 6F plus one).",
        kind: EnumKind::Forms(&[
            ("Vmovups", "vmovups", "VEX.128.0F.WIG 11 /r", "Avx"),
            ("Vmovdqu", "vmovdqu", "VEX.128.F3.0F.WIG 7F /r", "Avx"),
        ]),
        methods: &[method(
            "{m}_store",
            "dst: &Amode, src: Xmm",
            "self.xmm_store_vex({op}, dst, src)",
            "`{m} [dst], src`.",
        )],
    },
    EnumDecl {
        name: "SseMovOp",
        alignment: Any,
        doc: "SSE loads and stores. The declared form is the load `op xmm, m`; the \
              store `op m, xmm` is the next opcode.",
        kind: EnumKind::Forms(&[
            ("Movss", "movss", "F3 0F 10 /r", "Sse"),
            ("Movsd", "movsd", "F2 0F 10 /r", "Sse2"),
            ("Movaps", "movaps", "0F 28 /r", "Sse"),
            ("Movapd", "movapd", "66 0F 28 /r", "Sse2"),
            ("Movups", "movups", "0F 10 /r", "Sse"),
            ("Movupd", "movupd", "66 0F 10 /r", "Sse2"),
        ]),
        methods: &[],
    },
    EnumDecl {
        name: "RoundMode",
        alignment: Any,
        doc: "The rounding of ROUNDSS/ROUNDSD.",
        kind: EnumKind::Values(&["Nearest", "Down", "Up", "Zero"]),
        methods: &[],
    },
];

/// The VEX twin of each legacy SSE enum: `(legacy, VEX)`. A legacy form's
/// twin is the VEX enum's form named `V` + its name (`SseUnaryOp::Pabsb`,
/// `AvxUnaryOp::Vpabsb`), which must be its mnemonic with a `v` before it and
/// the same opcode (prefix, map, byte, /digit, W) in VEX form, or, for the
/// variable blends, which the manual moved to 0F3A 4A-4C, the declared
/// exception. `cargo xtask isle` checks both and generates
/// `SseUnaryOp::vex(self) -> Option<AvxUnaryOp>`; a form without a twin
/// (the scalar forms, MOVLHPS/MOVHLPS, MOVDQA) maps to `None`.
pub const VEX_TWINS: &[(&str, &str)] = &[
    ("SseOp", "AvxOp"),
    ("SseUnaryOp", "AvxUnaryOp"),
    ("SseImmOp", "AvxImmOp"),
    ("SseUnaryImmOp", "AvxUnaryImmOp"),
    ("SseShiftImmOp", "AvxShiftImmOp"),
    ("SseInsertOp", "AvxInsertOp"),
    ("SseExtractOp", "AvxExtractOp"),
    ("SseMoveMaskOp", "AvxMoveMaskOp"),
    ("SseBlendvOp", "AvxBlendvOp"),
    ("SseTestOp", "AvxTestOp"),
];

/// The VEX forms whose opcode is not their legacy twin's (Intel SDM Vol. 2,
/// "BLENDVPS", "BLENDVPD", "PBLENDVB": the VEX forms take a fourth register
/// in `imm8[7:4]` and live in map 0F3A).
pub const VEX_MOVED_OPCODES: &[&str] = &["Vpblendvb", "Vblendvps", "Vblendvpd"];

pub const INSTS: &[InstDecl] = &[
    section(
        "Integer arithmetic and logic (asm/alu.rs)",
        inst(
            "AluRmi",
            "op dst, src2 (dst = src1): ADD/ADC/SUB/SBB/AND/OR/XOR r, r/m | imm.",
            "op:AluOp size:OperandSize src1:Gpr src2:GprMemImm dst:WritableGpr=src1",
            Op("op"),
            Call("alu_rmi", "op size dst src2"),
        ),
    ),
    inst(
        "AluMem",
        "op [dst], src: read-modify-write memory.",
        "op:AluOp size:OperandSize dst:Amode src:GprImm",
        Op("op"),
        Call("alu_mem", "op size dst src"),
    ),
    keyed(
        "",
        &[("", "cmp", "81 /7 id", "Base")],
        inst(
            "Cmp",
            "cmp lhs, rhs: flags of lhs - rhs. Its form is the row of the ALU opcode \
             table (asm/alu.rs) that `CmpMem` shares.",
            "size:OperandSize lhs:Gpr rhs:GprMemImm",
            FORM,
            Call("cmp_rmi", "size lhs rhs"),
        ),
    ),
    inst(
        "CmpMem",
        "cmp [lhs], rhs.",
        "size:OperandSize lhs:Amode rhs:GprImm",
        Base,
        Call("cmp_mem", "size lhs rhs"),
    ),
    keyed(
        "*",
        &[
            ("mr", "test", "85 /r", "Base"),
            ("mi", "test", "F7 /0 id", "Base"),
        ],
        inst(
            "Test",
            "test lhs, rhs: flags of lhs & rhs. The forms are the 16/32/64-bit ones; the \
             8-bit opcodes are one below.",
            "size:OperandSize lhs:GprMem rhs:GprImm",
            FORM,
            Call("test", "size lhs rhs"),
        ),
    ),
    inst(
        "Unary",
        "NOT/NEG/INC/DEC dst (dst = src).",
        "op:UnaryOp size:OperandSize src:Gpr dst:WritableGpr=src",
        Op("op"),
        Custom("unary"),
    ),
    inst(
        "UnaryMem",
        "NOT/NEG/INC/DEC [dst].",
        "op:UnaryOp size:OperandSize dst:Amode",
        Op("op"),
        Custom("unary_mem"),
    ),
    section(
        "Shifts and rotates (asm/shift.rs)",
        inst(
            "Shift",
            "op dst, imm8 | cl (dst = src).",
            "op:ShiftOp size:OperandSize src:Gpr amount:ShiftAmount dst:WritableGpr=src",
            Op("op"),
            Custom("shift"),
        ),
    ),
    inst(
        "ShiftMem",
        "op [dst], imm8 | cl.",
        "op:ShiftOp size:OperandSize dst:Amode amount:ShiftAmount",
        Op("op"),
        Custom("shift_mem"),
    ),
    section(
        "Multiplication and division (asm/muldiv.rs)",
        keyed(
            "",
            &[("", "imul", "0F AF /r", "Base")],
            inst(
                "IMul",
                "imul dst, src2 (dst = src1); 16, 32 and 64 bits.",
                "size:OperandSize src1:Gpr src2:GprMem dst:WritableGpr=src1",
                FORM,
                Call("imul_rm", "size dst src2"),
            ),
        ),
    ),
    keyed(
        "*",
        &[
            ("ib", "imul", "6B /r ib", "Base"),
            ("id", "imul", "69 /r id", "Base"),
        ],
        inst(
            "IMulImm",
            "imul dst, src, imm (the imm8 form when the value fits).",
            "size:OperandSize src:GprMem imm:i32 dst:WritableGpr",
            FORM,
            Call("imul_rmi", "size dst src imm"),
        ),
    ),
    keyed(
        "signed",
        &[
            ("false", "mul", "F7 /4", "Base"),
            ("true", "imul", "F7 /5", "Base"),
        ],
        inst(
            "MulWide",
            "mul/imul src2: rdx:rax = rax * src2 (src1 and dst_lo in rax, dst_hi in rdx); \
             16, 32 and 64 bits.",
            "signed:bool size:OperandSize src1:Gpr@rax src2:GprMem dst_lo:WritableGpr@rax \
             dst_hi:WritableGpr@rdx",
            FORM,
            Call("mul_wide", "signed size src2"),
        ),
    ),
    keyed(
        "signed",
        &[
            ("false", "div", "F7 /6", "Base"),
            ("true", "idiv", "F7 /7", "Base"),
        ],
        inst(
            "Div",
            "div/idiv divisor: rax = rdx:rax / divisor, rdx = remainder; a fault \
             (division by zero, quotient overflow) reports `trap`; 16, 32 and 64 bits.",
            "signed:bool size:OperandSize dividend_lo:Gpr@rax dividend_hi:Gpr@rdx \
             divisor:GprMem dst_quotient:WritableGpr@rax dst_remainder:WritableGpr@rdx \
             trap:TrapCode",
            FORM,
            Custom("div"),
        ),
    ),
    keyed(
        "size",
        &[
            ("S16", "cwd", "66 99", "Base"),
            ("S32", "cdq", "99", "Base"),
            ("S64", "cqo", "REX.W 99", "Base"),
        ],
        inst(
            "SignExtendRaxRdx",
            "cwd/cdq/cqo: rdx = sign of rax.",
            "size:OperandSize src:Gpr@rax dst:WritableGpr@rdx",
            FORM,
            Call("sign_extend_rax_into_rdx", "size"),
        ),
    ),
    inst(
        "CheckedSRemSeq",
        "Signed remainder that yields 0 for INT_MIN % -1 instead of faulting.",
        "size:OperandSize dividend_lo:Gpr@rax dividend_hi:Gpr@rdx divisor:Gpr \
         dst_quotient:WritableGpr@rax dst_remainder:WritableGpr@rdx trap:TrapCode",
        Base,
        Call("checked_srem", "size divisor trap"),
    ),
    section(
        "Bit counting and byte order (asm/bits.rs)",
        inst(
            "BitCount",
            "LZCNT/TZCNT/POPCNT/BSR/BSF dst, src.",
            "op:BitOp size:OperandSize src:GprMem dst:WritableGpr",
            Op("op"),
            Call("bit_count", "op size dst src"),
        ),
    ),
    keyed(
        "size",
        &[("S32|S64", "bswap", "0F C8+rd", "Base")],
        inst(
            "Bswap",
            "bswap dst (dst = src).",
            "size:OperandSize src:Gpr dst:WritableGpr=src",
            FORM,
            Call("bswap", "size dst"),
        ),
    ),
    section(
        "Moves (asm/mov.rs)",
        keyed(
            "size",
            &[
                ("S8", "mov", "88 /r", "Base"),
                ("S16|S32|S64", "mov", "89 /r", "Base"),
            ],
            inst(
                "MovRR",
                "mov dst, src (8- and 16-bit forms leave dst's upper bits unspecified).",
                "size:OperandSize src:Gpr dst:WritableGpr",
                FORM,
                Call("mov_rr", "size dst src"),
            ),
        ),
    ),
    keyed(
        "*",
        &[
            ("r8", "mov", "B0+rb ib", "Base"),
            ("r", "mov", "B8+rd id", "Base"),
            ("sext", "mov", "REX.W C7 /0 id", "Base"),
            ("r64", "mov", "REX.W B8+rd io", "Base"),
        ],
        inst(
            "MovImm",
            "mov dst, imm: the shortest encoding of the value (`r` at 16 bits takes \
             66 and an iw; at 64 bits it serves values of 32 unsigned bits).",
            "size:OperandSize imm:u64 dst:WritableGpr",
            FORM,
            Call("mov_ri", "size dst imm"),
        ),
    ),
    keyed(
        "size",
        &[
            ("S8", "mov", "8A /r", "Base"),
            ("S16|S32|S64", "mov", "8B /r", "Base"),
        ],
        inst(
            "MovRM",
            "mov dst, [src] (a load).",
            "size:OperandSize src:Amode dst:WritableGpr",
            FORM,
            Call("mov_rm", "size dst src"),
        ),
    ),
    keyed(
        "size",
        &[
            ("S8", "mov", "88 /r", "Base"),
            ("S16|S32|S64", "mov", "89 /r", "Base"),
        ],
        inst(
            "MovMR",
            "mov [dst], src (a store).",
            "size:OperandSize src:Gpr dst:Amode",
            FORM,
            Call("mov_mr", "size dst src"),
        ),
    ),
    keyed(
        "size",
        &[
            ("S8", "mov", "C6 /0 ib", "Base"),
            ("S16", "mov", "C7 /0 iw", "Base"),
            ("S32|S64", "mov", "C7 /0 id", "Base"),
        ],
        inst(
            "MovMI",
            "mov [dst], imm (sign-extended at 64 bits).",
            "size:OperandSize imm:i32 dst:Amode",
            FORM,
            Call("mov_mi", "size dst imm"),
        ),
    ),
    keyed(
        "mode",
        &[
            ("BW", "movzx", "66 0F B6 /r", "Base"),
            ("BL|BQ", "movzx", "0F B6 /r", "Base"),
            ("WL|WQ", "movzx", "0F B7 /r", "Base"),
            ("LQ", "mov", "8B /r", "Base"),
        ],
        inst(
            "Movzx",
            "movzx dst, src; BQ and WQ use the 32-bit form (whose write zero-extends), \
             LQ is `mov r32, r/m32`.",
            "mode:ExtMode src:GprMem dst:WritableGpr",
            FORM,
            Call("movzx", "mode dst src"),
        ),
    ),
    keyed(
        "mode",
        &[
            ("BW", "movsx", "66 0F BE /r", "Base"),
            ("BL", "movsx", "0F BE /r", "Base"),
            ("BQ", "movsx", "REX.W 0F BE /r", "Base"),
            ("WL", "movsx", "0F BF /r", "Base"),
            ("WQ", "movsx", "REX.W 0F BF /r", "Base"),
            ("LQ", "movsxd", "REX.W 63 /r", "Base"),
        ],
        inst(
            "Movsx",
            "movsx/movsxd dst, src.",
            "mode:ExtMode src:GprMem dst:WritableGpr",
            FORM,
            Call("movsx", "mode dst src"),
        ),
    ),
    keyed(
        "",
        &[("", "lea", "8D /r", "Base")],
        inst(
            "Lea",
            "lea dst, [addr]; 16, 32 and 64 bits.",
            "size:OperandSize addr:Amode dst:WritableGpr",
            FORM,
            Call("lea", "size dst addr"),
        ),
    ),
    keyed(
        "",
        &[("", "setcc", "0F 90+cc /0", "Base")],
        inst(
            "Setcc",
            "setcc dst (writes the low byte only).",
            "cc:CC dst:WritableGpr",
            FORM,
            Call("setcc", "cc dst"),
        ),
    ),
    keyed(
        "size",
        &[("S16|S32|S64", "cmovcc", "0F 40+cc /r", "Base")],
        inst(
            "Cmov",
            "cmovcc dst, consequent (dst = alternative when cc does not hold).",
            "cc:CC size:OperandSize consequent:GprMem alternative:Gpr \
             dst:WritableGpr=alternative",
            FORM,
            Call("cmov", "cc size dst consequent"),
        ),
    ),
    section(
        "Stack (asm/stack.rs)",
        keyed(
            "*",
            &[
                ("r", "push", "50+rd", "Base"),
                ("m", "push", "FF /6", "Base"),
                ("ib", "push", "6A ib", "Base"),
                ("id", "push", "68 id", "Base"),
            ],
            inst(
                "Push",
                "push src (8 bytes).",
                "src:GprMemImm",
                FORM,
                Call("push", "src"),
            ),
        ),
    ),
    keyed(
        "",
        &[("", "pop", "58+rd", "Base")],
        inst(
            "Pop",
            "pop dst (8 bytes).",
            "dst:WritableGpr",
            FORM,
            Call("pop_r", "dst"),
        ),
    ),
    section(
        "Control flow (asm/control.rs)",
        keyed(
            "*",
            &[
                ("rel8", "jmp", "EB cb", "Base"),
                ("rel32", "jmp", "E9 cd", "Base"),
            ],
            inst(
                "Jmp",
                "jmp target (rel8 to a bound label within reach, rel32 otherwise and to \
                 an external symbol).",
                "target:Label",
                FORM,
                Call("jmp", "target"),
            ),
        ),
    ),
    keyed(
        "*",
        &[
            ("rel8", "jcc", "70+cc cb", "Base"),
            ("rel32", "jcc", "0F 80+cc cd", "Base"),
        ],
        inst(
            "JmpIf",
            "jcc taken; falls through otherwise.",
            "cc:CC taken:Label",
            FORM,
            Call("jcc", "cc taken"),
        ),
    ),
    inst(
        "JmpCond",
        "jcc taken; jmp not_taken (the buffer drops the jmp when not_taken follows).",
        "cc:CC taken:Label not_taken:Label",
        Base,
        Custom("jmp_cond"),
    ),
    keyed(
        "",
        &[("", "jmp", "FF /4", "Base")],
        inst(
            "JmpIndirect",
            "jmp target (an indirect jump).",
            "target:GprMem",
            FORM,
            Call("jmp_indirect", "target"),
        ),
    ),
    inst(
        "JmpTableSeq",
        "Bounds-checked jump through a table of label offsets.",
        "index:Gpr tmp1:WritableGpr! tmp2:WritableGpr! table:BoxJumpTable",
        Base,
        Call("jmp_table", "index tmp1 tmp2 table"),
    ),
    inst(
        "TrapIf",
        "jcc to a deferred trap stub.",
        "cc:CC trap:TrapCode",
        Base,
        Call("trap_if", "cc trap"),
    ),
    keyed(
        "",
        &[("", "call", "E8 cd", "Base")],
        inst(
            "Call",
            "call (a label or a relocated symbol).",
            "info:BoxCallInfo",
            FORM,
            Custom("call"),
        ),
    ),
    keyed(
        "",
        &[("", "call", "FF /2", "Base")],
        inst(
            "CallIndirect",
            "call target (an indirect call).",
            "target:GprMem info:BoxCallInfo",
            FORM,
            Call("call_indirect", "target"),
        ),
    ),
    keyed(
        "*",
        &[
            ("near", "ret", "C3", "Base"),
            ("iw", "ret", "C2 iw", "Base"),
        ],
        inst(
            "Ret",
            "ret [imm16].",
            "stack_bytes_to_pop:u16",
            FORM,
            Call("ret_imm", "stack_bytes_to_pop"),
        ),
    ),
    keyed(
        "",
        &[("", "ud2", "0F 0B", "Base")],
        inst(
            "Ud2",
            "ud2, trapping with `trap`.",
            "trap:TrapCode",
            FORM,
            Call("ud2", "trap"),
        ),
    ),
    keyed(
        "",
        &[("", "int3", "CC", "Base")],
        inst("Int3", "int3.", "", FORM, Call("int3", "")),
    ),
    inst(
        "Nop",
        "A nop of `len` bytes.",
        "len:u8",
        Base,
        Custom("nop"),
    ),
    section(
        "Atomics (asm/atomic.rs)",
        keyed(
            "size",
            &[
                ("S8", "xchg", "86 /r", "Base"),
                ("S16|S32|S64", "xchg", "87 /r", "Base"),
            ],
            inst(
                "Xchg",
                "xchg [mem], src (implicitly locked): dst = old value (dst = src).",
                "size:OperandSize mem:Amode src:Gpr dst:WritableGpr=src",
                FORM,
                Call("xchg_mr", "size mem dst"),
            ),
        ),
    ),
    keyed(
        "size",
        &[
            ("S8", "cmpxchg", "0F B0 /r", "Base"),
            ("S16|S32|S64", "cmpxchg", "0F B1 /r", "Base"),
        ],
        inst(
            "LockCmpxchg",
            "lock cmpxchg [mem], replacement: compares with rax (expected) and leaves \
             the old value in rax (dst_old).",
            "size:OperandSize mem:Amode expected:Gpr@rax replacement:Gpr \
             dst_old:WritableGpr@rax",
            FORM,
            Call("lock_cmpxchg", "size mem replacement"),
        ),
    ),
    keyed(
        "size",
        &[
            ("S8", "xadd", "0F C0 /r", "Base"),
            ("S16|S32|S64", "xadd", "0F C1 /r", "Base"),
        ],
        inst(
            "LockXadd",
            "lock xadd [mem], src: dst = old value (dst = src).",
            "size:OperandSize mem:Amode src:Gpr dst:WritableGpr=src",
            FORM,
            Call("lock_xadd", "size mem dst"),
        ),
    ),
    keyed(
        "",
        &[("", "mfence", "0F AE /6", "Sse2")],
        inst(
            "Mfence",
            "mfence (its ModRM byte is F0: /6 over register 0).",
            "",
            FORM,
            Call("mfence", ""),
        ),
    ),
    section(
        "SSE: scalar and packed (asm/sse.rs)",
        inst(
            "XmmLoad",
            "op dst, [src].",
            "op:SseMovOp src:Amode dst:WritableXmm",
            Op("op"),
            Call("xmm_load", "op dst src"),
        ),
    ),
    inst(
        "XmmStore",
        "op [dst], src.",
        "op:SseMovOp src:Xmm dst:Amode",
        Op("op"),
        Call("xmm_store", "op dst src"),
    ),
    keyed(
        "",
        &[("", "movaps", "0F 28 /r", "Sse")],
        inst(
            "XmmMovRR",
            "movaps dst, src: a whole-register copy.",
            "src:Xmm dst:WritableXmm",
            FORM,
            Call("movaps_rr", "dst src"),
        ),
    ),
    inst(
        "XmmRmR",
        "op dst, src2 (dst = src1).",
        "op:SseOp src1:Xmm src2:XmmMem dst:WritableXmm=src1",
        Op("op"),
        Call("xmm_rmr", "op dst src2"),
    ),
    inst(
        "XmmUnaryRmR",
        "op dst, src: a packed operation writing dst without reading it.",
        "op:SseUnaryOp src:XmmMem dst:WritableXmm",
        Op("op"),
        Call("xmm_unary", "op dst src"),
    ),
    inst(
        "XmmRmRImm",
        "op dst, src2, imm (dst = src1): a packed shuffle, blend or compare.",
        "op:SseImmOp imm:u8 src1:Xmm src2:XmmMem dst:WritableXmm=src1",
        Op("op"),
        Call("xmm_rmr_imm", "op dst src2 imm"),
    ),
    inst(
        "XmmUnaryRmRImm",
        "op dst, src, imm: a packed shuffle or rounding writing dst without reading it.",
        "op:SseUnaryImmOp imm:u8 src:XmmMem dst:WritableXmm",
        Op("op"),
        Call("xmm_unary_imm", "op dst src imm"),
    ),
    inst(
        "XmmShiftImm",
        "op dst, imm (dst = src): a packed shift by an immediate.",
        "op:SseShiftImmOp imm:u8 src:Xmm dst:WritableXmm=src",
        Op("op"),
        Call("xmm_shift_imm", "op dst imm"),
    ),
    inst(
        "XmmRR",
        "op dst, src2 (dst = src1): a register-only form.",
        "op:SseRegOp src1:Xmm src2:Xmm dst:WritableXmm=src1",
        Op("op"),
        Call("xmm_rr", "op dst src2"),
    ),
    inst(
        "XmmInsert",
        "op dst, src2, lane (dst = src1): a GPR or memory into one lane.",
        "op:SseInsertOp lane:u8 src1:Xmm src2:GprMem dst:WritableXmm=src1",
        Op("op"),
        Call("xmm_insert", "op dst src2 lane"),
    ),
    inst(
        "XmmExtract",
        "op dst, src, lane: one lane into a GPR.",
        "op:SseExtractOp lane:u8 src:Xmm dst:WritableGpr",
        Op("op"),
        Call("xmm_extract", "op dst src lane"),
    ),
    inst(
        "XmmExtractMem",
        "op [dst], src, lane: one lane stored.",
        "op:SseExtractOp lane:u8 src:Xmm dst:Amode",
        Op("op"),
        Call("xmm_extract_mem", "op dst src lane"),
    ),
    inst(
        "XmmMoveMask",
        "op dst, src: the lanes' sign bits into a GPR.",
        "op:SseMoveMaskOp src:Xmm dst:WritableGpr",
        Op("op"),
        Call("xmm_move_mask", "op dst src"),
    ),
    inst(
        "XmmBlendv",
        "op dst, src2, mask (dst = src1): a blend selected by mask's lanes' top bits; \
         the mask is the implicit xmm0.",
        "op:SseBlendvOp mask:Xmm@xmm0 src1:Xmm src2:XmmMem dst:WritableXmm=src1",
        Op("op"),
        Call("xmm_blendv", "op dst src2"),
    ),
    inst(
        "XmmTest",
        "op lhs, rhs: flags only (ptest: ZF = (lhs & rhs) == 0, CF = (!lhs & rhs) == 0).",
        "op:SseTestOp lhs:Xmm rhs:XmmMem",
        Op("op"),
        Call("xmm_test", "op lhs rhs"),
    ),
    inst(
        "XmmRmRVex",
        "op dst, src1, src2: a VEX.128 form (three operands, nothing tied).",
        "op:AvxOp src1:Xmm src2:XmmMem dst:WritableXmm",
        Op("op"),
        Call("xmm_rmr_vex", "op dst src1 src2"),
    ),
    inst(
        "XmmUnaryRmRVex",
        "op dst, src: a VEX.128 form writing dst without reading it (VEX.vvvv unused).",
        "op:AvxUnaryOp src:XmmMem dst:WritableXmm",
        Op("op"),
        Call("xmm_unary_vex", "op dst src"),
    ),
    inst(
        "XmmRmRImmVex",
        "op dst, src1, src2, imm: a VEX.128 shuffle, blend or compare (nothing tied).",
        "op:AvxImmOp imm:u8 src1:Xmm src2:XmmMem dst:WritableXmm",
        Op("op"),
        Call("xmm_rmr_imm_vex", "op dst src1 src2 imm"),
    ),
    inst(
        "XmmUnaryRmRImmVex",
        "op dst, src, imm: a VEX.128 shuffle or rounding writing dst without reading it.",
        "op:AvxUnaryImmOp imm:u8 src:XmmMem dst:WritableXmm",
        Op("op"),
        Call("xmm_unary_imm_vex", "op dst src imm"),
    ),
    inst(
        "XmmShiftImmVex",
        "op dst, src, imm: a VEX.128 shift by an immediate (dst in VEX.vvvv, nothing tied).",
        "op:AvxShiftImmOp imm:u8 src:Xmm dst:WritableXmm",
        Op("op"),
        Call("xmm_shift_imm_vex", "op dst src imm"),
    ),
    inst(
        "XmmInsertVex",
        "op dst, src1, src2, lane: src1 with a GPR's or memory's bits in one lane (VEX.128).",
        "op:AvxInsertOp lane:u8 src1:Xmm src2:GprMem dst:WritableXmm",
        Op("op"),
        Call("xmm_insert_vex", "op dst src1 src2 lane"),
    ),
    inst(
        "XmmExtractVex",
        "op dst, src, lane: one lane into a GPR (VEX.128).",
        "op:AvxExtractOp lane:u8 src:Xmm dst:WritableGpr",
        Op("op"),
        Call("xmm_extract_vex", "op dst src lane"),
    ),
    inst(
        "XmmExtractMemVex",
        "op [dst], src, lane: one lane stored (VEX.128).",
        "op:AvxExtractOp lane:u8 src:Xmm dst:Amode",
        Op("op"),
        Call("xmm_extract_mem_vex", "op dst src lane"),
    ),
    inst(
        "XmmMoveMaskVex",
        "op dst, src: the lanes' sign bits into a GPR (VEX.128).",
        "op:AvxMoveMaskOp src:Xmm dst:WritableGpr",
        Op("op"),
        Call("xmm_move_mask_vex", "op dst src"),
    ),
    inst(
        "XmmBlendvVex",
        "op dst, src1, src2, mask: a VEX.128 blend selected by mask's lanes' top bits; \
         the mask is any register (imm8[7:4]).",
        "op:AvxBlendvOp src1:Xmm src2:XmmMem mask:Xmm dst:WritableXmm",
        Op("op"),
        Call("xmm_blendv_vex", "op dst src1 src2 mask"),
    ),
    inst(
        "XmmTestVex",
        "op lhs, rhs: flags only (vptest, as ptest).",
        "op:AvxTestOp lhs:Xmm rhs:XmmMem",
        Op("op"),
        Call("xmm_test_vex", "op lhs rhs"),
    ),
    inst(
        "XmmStoreVex",
        "op [dst], src: a VEX.128 unaligned store.",
        "op:AvxStoreOp src:Xmm dst:Amode",
        Op("op"),
        Call("xmm_store_vex", "op dst src"),
    ),
    keyed(
        "size",
        &[
            ("F32", "roundss", "66 0F 3A 0A /r ib", "Sse41"),
            ("F64", "roundsd", "66 0F 3A 0B /r ib", "Sse41"),
        ],
        inst(
            "XmmRound",
            "roundss/roundsd dst, src2, mode (dst = src1).",
            "size:FloatSize mode:RoundMode src1:Xmm src2:XmmMem dst:WritableXmm=src1",
            FORM,
            Call("round", "size mode dst src2"),
        ),
    ),
    keyed(
        "size",
        &[
            ("F32", "ucomiss", "0F 2E /r", "Sse"),
            ("F64", "ucomisd", "66 0F 2E /r", "Sse2"),
        ],
        inst(
            "XmmCmp",
            "ucomiss/ucomisd lhs, rhs.",
            "size:FloatSize lhs:Xmm rhs:XmmMem",
            FORM,
            Call("ucomis", "size lhs rhs"),
        ),
    ),
    keyed(
        "size",
        &[
            ("S32", "movd", "66 0F 6E /r", "Sse2"),
            ("S64", "movq", "66 REX.W 0F 6E /r", "Sse2"),
        ],
        inst(
            "GprToXmm",
            "movd/movq dst, src: into the low lane, clearing the rest.",
            "size:OperandSize src:GprMem dst:WritableXmm",
            FORM,
            Call("movd_to_xmm", "size dst src"),
        ),
    ),
    keyed(
        "size",
        &[
            ("S32", "movd", "66 0F 7E /r", "Sse2"),
            ("S64", "movq", "66 REX.W 0F 7E /r", "Sse2"),
        ],
        inst(
            "XmmToGpr",
            "movd/movq dst, src: the low lane.",
            "size:OperandSize src:Xmm dst:WritableGpr",
            FORM,
            Call("movd_from_xmm", "size dst src"),
        ),
    ),
    keyed(
        "float_size",
        &[
            ("F32", "cvtsi2ss", "F3 0F 2A /r", "Sse"),
            ("F64", "cvtsi2sd", "F2 0F 2A /r", "Sse2"),
        ],
        inst(
            "CvtIntToFloat",
            "cvtsi2ss/cvtsi2sd dst, src2 (dst = src1: only the low lane is written); \
             REX.W for a 64-bit integer.",
            "float_size:FloatSize int_size:OperandSize src1:Xmm src2:GprMem dst:WritableXmm=src1",
            FORM,
            Call("cvtsi2f", "float_size int_size dst src2"),
        ),
    ),
    keyed(
        "float_size",
        &[
            ("F32", "cvttss2si", "F3 0F 2C /r", "Sse"),
            ("F64", "cvttsd2si", "F2 0F 2C /r", "Sse2"),
        ],
        inst(
            "CvtFloatToInt",
            "cvttss2si/cvttsd2si dst, src; REX.W for a 64-bit integer.",
            "float_size:FloatSize int_size:OperandSize src:XmmMem dst:WritableGpr",
            FORM,
            Call("cvttf2si", "float_size int_size dst src"),
        ),
    ),
    section(
        "Sequences with internal control flow (asm/seq.rs)",
        inst(
            "CvtFloatToSintSeq",
            "Float to signed integer: trapping (wasm trunc) or saturating (trunc_sat).",
            "float_size:FloatSize int_size:OperandSize saturating:bool src:Xmm dst:WritableGpr! \
             tmp_xmm:WritableXmm! trap_nan:TrapCode trap_overflow:TrapCode",
            Float("float_size"),
            Custom("cvt_float_to_sint_seq"),
        ),
    ),
    inst(
        "CvtFloatToUintSeq",
        "Float to unsigned integer: trapping or saturating.",
        "float_size:FloatSize int_size:OperandSize saturating:bool src:Xmm dst:WritableGpr! \
         tmp_gpr:WritableGpr! tmp_xmm:WritableXmm! tmp_xmm2:WritableXmm! trap_nan:TrapCode \
         trap_overflow:TrapCode",
        Float("float_size"),
        Custom("cvt_float_to_uint_seq"),
    ),
    inst(
        "CvtUint64ToFloatSeq",
        "Unsigned 64-bit integer to float.",
        "float_size:FloatSize src:Gpr dst:WritableXmm! tmp1:WritableGpr! tmp2:WritableGpr!",
        Float("float_size"),
        Call("cvt_uint64_to_float", "float_size dst src tmp1 tmp2"),
    ),
    inst(
        "XmmMinMaxSeq",
        "WebAssembly's min/max: NaN in, NaN out; -0 < +0 (dst = rhs).",
        "size:FloatSize is_min:bool lhs:Xmm rhs:Xmm dst:WritableXmm=rhs",
        Float("size"),
        Call("xmm_min_max", "size is_min dst lhs"),
    ),
];
