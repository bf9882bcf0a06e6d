//! Generation from the x86-64 instruction table ([`table`]): the ISLE
//! declarations of `MInst` and its operand enums, the Rust that walks,
//! encodes and feature-checks every `MInst`, and the instruction forms the
//! iced-x86 encoding test iterates over. `cargo xtask isle` writes them
//! (before compiling the ISLE units, which read the declarations) and
//! `--check` compares them, like every generated file.

pub mod table;

use std::fmt::Write as _;

use table::{
    Alignment, ENUMS, Emit, EnumDecl, EnumKind, Features, INSTS, InstDecl, VEX_MOVED_OPCODES,
    VEX_TWINS,
};

/// The ISLE declarations.
pub const ISLE_OUTPUT: &str = "isle/asm/x64/inst.isle";
/// The walk, the encoder dispatch, the feature table and the operation
/// enums' `ALL`, `mnemonic`, `feature` and `opcode`.
pub const RUST_OUTPUT: &str = "crates/asm/src/x64/inst/table.rs";
/// The per-form `Assembler` methods.
pub const METHODS_OUTPUT: &str = "crates/asm/src/x64/asm/forms.rs";
/// The forms of the encoding test.
pub const TEST_OUTPUT: &str = "crates/asm/tests/common/forms.rs";

const SOURCE: &str = "xtask/src/x64/table.rs";

/// A field of a shape, parsed from `name:Type[=tied|@fixed|!]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Field {
    pub name: String,
    pub ty: String,
    pub role: Role,
}

/// How a register field takes part in allocation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Role {
    /// Read (a register type) or no register at all.
    Plain,
    /// Written into the register of this read field.
    Tied(String),
    /// In this fixed register (`rax`, `rcx`, `rdx`; `xmm0`, read only).
    Fixed(String),
    /// Written before every input has been read.
    Early,
}

/// Parses a shape's field list, checking each role makes sense.
pub fn parse_fields(decl: &InstDecl) -> Result<Vec<Field>, String> {
    let mut fields: Vec<Field> = Vec::new();
    for token in decl.fields.split_whitespace() {
        let (name, rest) = token
            .split_once(':')
            .ok_or_else(|| format!("{}: field `{token}` is not `name:Type`", decl.name))?;
        let (ty, role) = if let Some((ty, tied)) = rest.split_once('=') {
            (ty, Role::Tied(tied.to_string()))
        } else if let Some((ty, reg)) = rest.split_once('@') {
            if fixed_class(reg).is_none() {
                return Err(format!("{}: `{reg}` is no fixed register", decl.name));
            }
            (ty, Role::Fixed(reg.to_string()))
        } else if let Some(ty) = rest.strip_suffix('!') {
            (ty, Role::Early)
        } else {
            (rest, Role::Plain)
        };
        let writable = ty.starts_with("Writable");
        match &role {
            Role::Tied(src) => {
                let source = fields.iter().find(|f| &f.name == src).ok_or_else(|| {
                    format!(
                        "{}: `{name}` is tied to `{src}`, an earlier field it lacks",
                        decl.name
                    )
                })?;
                if !writable || format!("Writable{}", source.ty) != ty {
                    return Err(format!(
                        "{}: `{name}:{ty}` cannot be tied to `{src}:{}`",
                        decl.name, source.ty
                    ));
                }
            }
            Role::Early if !writable => {
                return Err(format!(
                    "{}: only a written register can be early",
                    decl.name
                ));
            }
            Role::Fixed(reg) => match (fixed_class(reg), ty) {
                (Some("Gpr"), "Gpr" | "WritableGpr") | (Some("Xmm"), "Xmm") => {}
                _ => {
                    return Err(format!(
                        "{}: `{name}:{ty}` cannot be fixed to `{reg}`",
                        decl.name
                    ));
                }
            },
            _ => {}
        }
        if fields.iter().any(|f| f.name == name) {
            return Err(format!("{}: two fields named `{name}`", decl.name));
        }
        fields.push(Field {
            name: name.to_string(),
            ty: ty.to_string(),
            role,
        });
    }
    if fields
        .iter()
        .filter(|f| matches!(f.role, Role::Tied(_)))
        .count()
        > 1
    {
        return Err(format!("{}: at most one tied destination", decl.name));
    }
    Ok(fields)
}

/// The register class of a fixed register, by name: the implicit GPR
/// operands (`rax`, `rcx`, `rdx`: MUL, DIV, CMPXCHG, shifts by CL) and the
/// implicit mask register of the SSE4.1 variable blends (`xmm0`, read only).
fn fixed_class(reg: &str) -> Option<&'static str> {
    match reg {
        "rax" | "rcx" | "rdx" => Some("Gpr"),
        "xmm0" => Some("Xmm"),
        _ => None,
    }
}

/// The Rust path of a fixed register (`Gpr::RAX`, `Xmm::XMM0`).
fn fixed_path(reg: &str) -> String {
    let class = fixed_class(reg).expect("checked by parse_fields");
    format!("{class}::{}", reg.to_uppercase())
}

/// The fields in the order the register allocator sees them: a tied source
/// first (its destination's `reuse_def(0)` refers to it), then the rest.
fn walk_order(fields: &[Field]) -> Vec<&Field> {
    let tied = fields.iter().find_map(|f| match &f.role {
        Role::Tied(src) => Some(src.as_str()),
        _ => None,
    });
    let first = fields.iter().filter(|f| Some(f.name.as_str()) == tied);
    first
        .chain(fields.iter().filter(|f| Some(f.name.as_str()) != tied))
        .collect()
}

/// An encoding in the manual's notation, parsed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Encoding {
    /// A VEX encoding (`VEX.128.66.0F.WIG FE /r`): the prefix, map and W
    /// travel in the VEX prefix, which also names a second source register.
    pub vex: bool,
    /// The mandatory prefix (0x66, 0xF2, 0xF3), or 0 (VEX: its `pp`).
    pub prefix: u8,
    /// REX.W.
    pub w: bool,
    /// `Primary`, `M0F`, `M0F38` or `M0F3A`.
    pub map: &'static str,
    /// The opcode byte.
    pub opcode: u8,
    /// `/digit`, or `None` for `/r` or no ModRM byte.
    pub digit: Option<u8>,
    /// Whether a ModRM byte follows the opcode (`/r` or `/digit`).
    pub modrm: bool,
    /// What the opcode's low bits carry: `"cc"` (a condition, `40+cc`),
    /// `"r"` (a register, `C8+rd`), or nothing.
    pub plus: &'static str,
}

/// Parses `[66|F2|F3] [REX.W] [0F [38|3A]] opcode[+cc|+rb|+rw|+rd]
/// [/r|/digit] [ib|iw|id]`, or the VEX notation `VEX.128[.66|.F2|.F3].(0F|0F38|0F3A)[.W0|.W1|.WIG]
/// opcode (/r|/digit) [ib|/is4]` (128-bit forms only).
pub fn parse_encoding(text: &str) -> Result<Encoding, String> {
    let bad = |why: &str| format!("encoding `{text}`: {why}");
    let mut tokens: Vec<&str> = text.split_whitespace().collect();
    if let Some(vex) = tokens.first().and_then(|t| t.strip_prefix("VEX.")) {
        return parse_vex(vex, &tokens[1..]).map_err(|why| bad(&why));
    }
    // An immediate, or a branch's code offset (cb, cd).
    if matches!(
        tokens.last(),
        Some(&("ib" | "iw" | "id" | "io" | "cb" | "cd"))
    ) {
        tokens.pop();
    }
    let (digit, modrm) = match tokens.last().copied() {
        Some("/r") => (None, true),
        Some(d) if d.len() == 2 && d.starts_with('/') => {
            let digit = d[1..].parse::<u8>().map_err(|_| bad("bad /digit"))?;
            if digit > 7 {
                return Err(bad("/digit above 7"));
            }
            (Some(digit), true)
        }
        Some(d) if d.starts_with('/') => return Err(bad("bad /digit")),
        _ => (None, false),
    };
    if modrm {
        tokens.pop();
    }
    let mut plus = "";
    if let Some(last) = tokens.last_mut()
        && let Some((opcode, suffix)) = last.split_once('+')
    {
        plus = match suffix {
            "cc" => "cc",
            "rb" | "rw" | "rd" | "ro" if !modrm => "r",
            _ => return Err(bad("`+` takes cc, or rb/rw/rd/ro without a ModRM byte")),
        };
        *last = opcode;
    }
    let byte = |t: &str| u8::from_str_radix(t, 16).map_err(|_| bad("not a hex byte"));
    let mut rest = tokens.as_slice();
    let mut prefix = 0;
    if let [p @ ("66" | "F2" | "F3"), tail @ ..] = rest
        && !tail.is_empty()
    {
        prefix = byte(p)?;
        rest = tail;
    }
    let mut w = false;
    if let ["REX.W", tail @ ..] = rest {
        w = true;
        rest = tail;
    }
    let (map, opcode) = match rest {
        ["0F", "38", op] => ("M0F38", byte(op)?),
        ["0F", "3A", op] => ("M0F3A", byte(op)?),
        ["0F", op] => ("M0F", byte(op)?),
        [op] => ("Primary", byte(op)?),
        _ => return Err(bad("expected one opcode byte after the prefixes and map")),
    };
    let low_bits = match plus {
        "cc" => 0x0F,
        "r" => 0x07,
        _ => 0,
    };
    if opcode & low_bits != 0 {
        return Err(bad("a `+` opcode has the low bits it adds to clear"));
    }
    Ok(Encoding {
        vex: false,
        prefix,
        w,
        map,
        opcode,
        digit,
        modrm,
        plus,
    })
}

/// The VEX notation after `VEX.` (`128.66.0F.WIG`) and the tokens after
/// it (`FE /r`).
fn parse_vex(fields: &str, rest: &[&str]) -> Result<Encoding, String> {
    let mut fields = fields.split('.').peekable();
    if fields.next() != Some("128") {
        return Err("only VEX.128 forms are declared".into());
    }
    let prefix = match fields.peek() {
        Some(&"66") => 0x66,
        Some(&"F2") => 0xF2,
        Some(&"F3") => 0xF3,
        _ => 0,
    };
    if prefix != 0 {
        fields.next();
    }
    let map = match fields.next() {
        Some("0F") => "M0F",
        Some("0F38") => "M0F38",
        Some("0F3A") => "M0F3A",
        _ => return Err("a VEX form names its map: 0F, 0F38 or 0F3A".into()),
    };
    let w = match fields.next() {
        None | Some("W0" | "WIG") => false,
        Some("W1") => true,
        Some(other) => return Err(format!("`{other}` is no VEX.W")),
    };
    if fields.next().is_some() {
        return Err("VEX.128.pp.map.W has nothing after W".into());
    }
    // `ib` an immediate; `/is4` an immediate whose high nibble names a
    // fourth register (the variable blends): both are one byte the shape's
    // encoder supplies.
    let rest: Vec<&str> = match rest {
        [body @ .., "ib" | "/is4"] => body.to_vec(),
        body => body.to_vec(),
    };
    let (opcode, digit) = match rest.as_slice() {
        [op, "/r"] => (*op, None),
        [op, d] if d.len() == 2 && d.starts_with('/') => {
            let digit = d[1..].parse::<u8>().ok().filter(|d| *d <= 7);
            (*op, Some(digit.ok_or("bad /digit")?))
        }
        _ => return Err("a VEX form is `opcode (/r|/digit) [ib|/is4]`".into()),
    };
    let opcode = u8::from_str_radix(opcode, 16).map_err(|_| "not a hex byte")?;
    Ok(Encoding {
        vex: true,
        prefix,
        w,
        map,
        opcode,
        digit,
        modrm: true,
        plus: "",
    })
}

const FEATURES: &[&str] = &[
    "Base", "Sse", "Sse2", "Sse3", "Ssse3", "Sse41", "Sse42", "Popcnt", "Lzcnt", "Bmi1", "Bmi2",
    "Avx", "Avx2", "Fma",
];

fn check_feature(feature: &str) -> Result<(), String> {
    if FEATURES.contains(&feature) {
        Ok(())
    } else {
        Err(format!("unknown CPU feature `{feature}`"))
    }
}

/// Wraps `text` into `;; ` comment lines indented by `indent`.
fn isle_comment(out: &mut String, indent: &str, text: &str) {
    let mut line = String::new();
    for word in text.split_whitespace() {
        if !line.is_empty() && indent.len() + 3 + line.len() + 1 + word.len() > 80 {
            writeln!(out, "{indent};; {line}").unwrap();
            line.clear();
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(word);
    }
    if !line.is_empty() {
        writeln!(out, "{indent};; {line}").unwrap();
    }
}

const ISLE_PRELUDE: &str = "\
;; x86-64 machine instructions: the `MInst` enum and the enums its operands use.
;;
;; The optimizing compiler's lowering rules take this file as an input, with
;; these types turned into `extern` types (defined in cranelift-asm, not
;; generated again); `cargo xtask isle` compiles it into
;; `crates/asm/src/x64/inst/generated.rs`. See docs/assembler.md.
;;
;; One variant per instruction shape. Each variant says which operands are
;; read (`Gpr`, `Xmm`, `Amode`, ...) and which are written (`Writable...`).
;; x86's destructive two-operand forms appear with a separate `src1` and
;; `dst`: the operand walk ties `dst` to `src1`, so after allocation they are
;; the same register, as the ISA requires.

;;;; Operand types defined in Rust (crates/asm/src/x64/inst/mod.rs) ;;;;;;;;;;;

;; A general-purpose register operand: virtual before allocation, physical after.
(type Gpr (primitive GprReg))
(type WritableGpr (primitive WritableGpr))
;; An XMM register operand.
(type Xmm (primitive XmmReg))
(type WritableXmm (primitive WritableXmm))
;; A memory operand: [base + index*scale + disp], [rip + label], [rip + constant];
;; it may carry the trap code a fault at this access reports.
(type Amode (primitive Amode))
(type GprMem (primitive GprMem))
(type GprMemImm (primitive GprMemImm))
(type GprImm (primitive GprImm))
(type XmmMem (primitive XmmMem))
;; A shift count: an 8-bit immediate, or a register that must be allocated to rcx.
(type ShiftAmount (primitive ShiftAmount))
(type Label (primitive Label))
(type TrapCode (primitive TrapCode))
(type BoxCallInfo (primitive BoxCallInfo))
(type BoxJumpTable (primitive BoxJumpTable))
";

/// The ISLE declarations.
pub fn render_isle() -> Result<String, String> {
    let mut out = format!(
        ";; @generated by `cargo xtask isle` from {SOURCE}, the x86-64 instruction table.\n\
         ;; Do not edit: change the table and run `cargo xtask isle`.\n\n"
    );
    out.push_str(ISLE_PRELUDE);
    out.push_str(
        "\n;;;; Operand enums ;;;;;;;;;;;;;;;;;;;;;;;;;;;;;;;;;;;;;;;;;;;;;;;;;;;;;;;;;;;;;\n",
    );
    for e in ENUMS {
        out.push('\n');
        isle_comment(&mut out, "", e.doc);
        let names: Vec<&str> = match &e.kind {
            EnumKind::Values(values) => values.to_vec(),
            EnumKind::Forms(forms) => {
                for (name, mnemonic, encoding, feature) in forms.iter() {
                    parse_encoding(encoding)
                        .map_err(|error| format!("{}::{name}: {error}", e.name))?;
                    check_feature(feature)
                        .map_err(|error| format!("{}::{name}: {error}", e.name))?;
                    let _ = mnemonic;
                }
                forms.iter().map(|f| f.0).collect()
            }
        };
        writeln!(out, "(type {} (enum {}))", e.name, names.join(" ")).unwrap();
    }
    out.push_str("\n;;;; The machine instruction ;;;;;;;;;;;;;;;;;;;;;;;;;;;;;;;;;;;;;;;;;;;;;;;;;;\n\n(type MInst (enum\n");
    for (i, decl) in INSTS.iter().enumerate() {
        let fields = parse_fields(decl)?;
        if let Some(section) = decl.section {
            if i > 0 {
                out.push('\n');
            }
            writeln!(out, "  ;; --- {section} ---").unwrap();
        }
        isle_comment(&mut out, "  ", decl.doc);
        let fields: String = fields
            .iter()
            .map(|f| format!(" ({} {})", f.name, f.ty))
            .collect();
        writeln!(out, "  ({}{fields})", decl.name).unwrap();
    }
    out.push_str("))\n");
    Ok(out)
}

/// `XmmCmp` → `xmm_cmp`: the name of a shape's form function.
pub fn snake_case(name: &str) -> String {
    let mut out = String::new();
    let mut previous_lower = false;
    for c in name.chars() {
        if c.is_ascii_uppercase() && previous_lower {
            out.push('_');
        }
        previous_lower = c.is_ascii_lowercase();
        out.push(c.to_ascii_lowercase());
    }
    out
}

/// The form function of a shape with its own forms, and the type of its
/// selecting field (`None` for a single form).
fn form_function(
    decl: &InstDecl,
    fields: &[Field],
) -> Result<Option<(String, Option<String>)>, String> {
    let Some((key, forms)) = decl.forms else {
        if matches!(decl.features, Features::Form) {
            return Err(format!("{}: features `Form` without forms", decl.name));
        }
        return Ok(None);
    };
    let name = format!("form_{}", snake_case(decl.name));
    if key == NAMED {
        let mut seen = Vec::new();
        for form in forms.iter() {
            if form.0.is_empty() || seen.contains(&form.0) {
                return Err(format!("{}: named forms need distinct names", decl.name));
            }
            if form.3 != forms[0].3 {
                return Err(format!("{}: named forms need one CPU feature", decl.name));
            }
            seen.push(form.0);
        }
        return Ok(Some((name, Some(NAMED.to_string()))));
    }
    if key.is_empty() {
        if forms.len() != 1 || !forms[0].0.is_empty() {
            return Err(format!(
                "{}: a shape without a selecting field has one form",
                decl.name
            ));
        }
        return Ok(Some((name, None)));
    }
    let field = fields.iter().find(|f| f.name == key).ok_or_else(|| {
        format!(
            "{}: forms selected by `{key}`, which is no field",
            decl.name
        )
    })?;
    let values = ENUMS
        .iter()
        .find_map(|e| match (&e.kind, e.name == field.ty) {
            (EnumKind::Values(values), true) => Some(*values),
            _ => None,
        })
        .or((field.ty == "bool").then_some(&["false", "true"][..]))
        .ok_or_else(|| {
            format!(
                "{}: forms selected by a `{}`, which is no value enum",
                decl.name, field.ty
            )
        })?;
    let mut seen = Vec::new();
    for value in forms.iter().flat_map(|form| form.0.split('|')) {
        if !values.contains(&value) {
            return Err(format!("{}: `{value}` is no {}", decl.name, field.ty));
        }
        if seen.contains(&value) {
            return Err(format!("{}: two forms for `{value}`", decl.name));
        }
        seen.push(value);
    }
    Ok(Some((name, Some(field.ty.clone()))))
}

/// The selecting "field" of a shape whose forms have names and whose encoder
/// chooses among them (by an operand's kind or an immediate's value).
pub const NAMED: &str = "*";

/// Whether form `variant` of `e` needs its memory operand 16-byte aligned,
/// after checking the enum's [`Alignment`] names only its forms.
pub fn aligned_memory(e: &EnumDecl, variant: &str) -> Result<bool, String> {
    let forms = match &e.kind {
        EnumKind::Forms(forms) => forms,
        EnumKind::Values(_) => return Err(format!("{}: only forms have an alignment", e.name)),
    };
    Ok(match e.alignment {
        Alignment::Any => false,
        Alignment::AllBut(except) => {
            if let Some(unknown) = except.iter().find(|x| !forms.iter().any(|f| f.0 == **x)) {
                return Err(format!("{}: `{unknown}` is no form of the enum", e.name));
            }
            !except.contains(&variant)
        }
    })
}

/// The Rust `Opcode` literal of a parsed encoding.
fn opcode_literal(enc: &Encoding) -> String {
    let digit = match enc.digit {
        Some(d) => format!("Some({d})"),
        None => "None".to_string(),
    };
    let plus = match enc.plus {
        "cc" => "Plus::Cc",
        "r" => "Plus::Reg",
        _ => "Plus::None",
    };
    format!(
        "Opcode {{ vex: {}, prefix: {:#04X}, w: {}, map: Map::{}, byte: {:#04X}, modrm: {}, digit: {digit}, plus: {plus} }}",
        enc.vex, enc.prefix, enc.w, enc.map, enc.opcode, enc.modrm
    )
}

/// The Rust `Form` literal of a declared form.
fn form_literal(owner: &str, form: &table::Form) -> Result<String, String> {
    let (_, mnemonic, encoding, feature) = form;
    check_feature(feature).map_err(|e| format!("{owner}: {e}"))?;
    let enc = parse_encoding(encoding).map_err(|e| format!("{owner}: {e}"))?;
    Ok(format!(
        "Form {{ mnemonic: {mnemonic:?}, feature: Feature::{feature}, opcode: {}, aligned: false }}",
        opcode_literal(&enc)
    ))
}

/// The register-operand walk of one field, if it has registers.
fn walk_call(field: &Field) -> Option<String> {
    let f = &field.name;
    let fixed = |reg: &str| fixed_path(reg);
    Some(match (field.ty.as_str(), &field.role) {
        ("Gpr", Role::Fixed(reg)) => format!("fixed_use(v, {f}, {})", fixed(reg)),
        ("Gpr", _) => format!("use_gpr(v, {f})"),
        ("Xmm", Role::Fixed(reg)) => format!("fixed_use_xmm(v, {f}, {})", fixed(reg)),
        ("Xmm", _) => format!("use_xmm(v, {f})"),
        ("WritableGpr", Role::Fixed(reg)) => format!("fixed_def(v, {f}, {})", fixed(reg)),
        ("WritableGpr", Role::Tied(_)) => format!("reuse_gpr(v, {f})"),
        ("WritableGpr", Role::Early) => format!("early_def_gpr(v, {f})"),
        ("WritableGpr", _) => format!("def_gpr(v, {f})"),
        ("WritableXmm", Role::Tied(_)) => format!("reuse_xmm(v, {f})"),
        ("WritableXmm", Role::Early) => format!("early_def_xmm(v, {f})"),
        ("WritableXmm", _) => format!("def_xmm(v, {f})"),
        ("Amode", _) => format!("amode(v, {f})"),
        ("GprMem", _) => format!("gpr_mem(v, {f})"),
        ("GprMemImm", _) => format!("gpr_mem_imm(v, {f})"),
        ("GprImm", _) => format!("gpr_imm(v, {f})"),
        ("XmmMem", _) => format!("xmm_mem(v, {f})"),
        ("ShiftAmount", _) => format!("shift_amount(v, {f})"),
        ("BoxCallInfo", _) => format!("call(v, {f})"),
        _ => return None,
    })
}

fn pattern(name: &str, fields: &[Field], used: &[&str]) -> String {
    if fields.is_empty() {
        return format!("MInst::{name}");
    }
    let bound: Vec<&str> = fields
        .iter()
        .map(|f| f.name.as_str())
        .filter(|n| used.contains(n))
        .collect();
    let rest = if bound.len() < fields.len() { ".." } else { "" };
    let sep = if !bound.is_empty() && !rest.is_empty() {
        ", "
    } else {
        ""
    };
    format!("MInst::{name} {{ {}{sep}{rest} }}", bound.join(", "))
}

/// The argument expression of a field passed to an `Assembler` method.
fn emit_arg(field: &Field) -> String {
    let f = &field.name;
    match (field.ty.as_str(), &field.role) {
        ("WritableGpr", Role::Tied(src)) => format!("tied_gpr(*{f}, *{src})"),
        ("WritableXmm", Role::Tied(src)) => format!("tied_xmm(*{f}, *{src})"),
        ("WritableGpr", _) => format!("def(*{f})"),
        ("WritableXmm", _) => format!("def_xmm(*{f})"),
        ("Gpr" | "Xmm", _) => format!("{f}.to_physical()"),
        ("Amode" | "GprMem" | "GprMemImm" | "GprImm" | "XmmMem", _) => {
            format!("&{f}.to_physical()")
        }
        ("ShiftAmount", _) => format!("shift_count(*{f})"),
        ("BoxJumpTable" | "BoxCallInfo", _) => f.to_string(),
        _ => format!("*{f}"),
    }
}

fn feature_expr(features: &Features, form: Option<&(String, Option<String>)>) -> String {
    match features {
        Features::Form => match form {
            Some((function, None)) => {
                format!("CpuFeatures::base_only().with(forms::{function}().feature)")
            }
            Some((function, Some(_))) => format!(
                "match forms::{function}(*{key}) {{ Some(form) => CpuFeatures::base_only().with(form.feature), None => CpuFeatures::base_only() }}",
                key = "KEY"
            ),
            None => unreachable!("checked by form_function"),
        },
        Features::Base => "CpuFeatures::base_only()".to_string(),
        Features::Op(field) => format!("CpuFeatures::base_only().with({field}.feature())"),
        Features::Float(field) => format!(
            "CpuFeatures::base_only().with(match {field} {{ FloatSize::F32 => Feature::Sse, FloatSize::F64 => Feature::Sse2 }})"
        ),
    }
}

fn rust_header() -> String {
    format!(
        "// @generated by `cargo xtask isle` from {SOURCE}, the x86-64 instruction table.\n\
         // Do not edit: change the table and run `cargo xtask isle`; CI runs\n\
         // `cargo xtask isle --check`, which fails when this file is stale.\n"
    )
}

/// The Rust half of the instruction table, in cranelift-asm.
pub fn render_rust() -> Result<String, String> {
    let mut out = rust_header();
    out.push_str(
        "//! What the instruction table says of each `MInst` shape and each form:\n\
         //! the operand walk, the encoder each shape calls, the CPU features, and\n\
         //! the operation enums' `ALL`, `mnemonic`, `feature` and `opcode`.\n\n\
         use super::emit::{self as custom, *};\n\
         use super::operands as walk;\n\
         use super::*;\n\
         use crate::operands::OperandVisitor;\n\
         use crate::x64::asm::{forms, Form, Map, Opcode, Plus};\n\
         use crate::x64::features::{CpuFeatures, Feature};\n\
         use crate::x64::regs::{Gpr, Xmm};\n\
         use crate::x64::Assembler;\n\n",
    );
    let mut walk = String::new();
    let mut emit = String::new();
    let mut features = String::new();
    for decl in INSTS {
        let fields = parse_fields(decl)?;
        // The walk.
        let calls: Vec<(String, String)> = walk_order(&fields)
            .into_iter()
            .filter_map(|f| walk_call(f).map(|c| (f.name.clone(), c)))
            .collect();
        let used: Vec<&str> = calls.iter().map(|(n, _)| n.as_str()).collect();
        let body = if calls.is_empty() {
            "{}".to_string()
        } else {
            format!(
                "{{ {} }}",
                calls
                    .iter()
                    .map(|(_, c)| format!("walk::{c};"))
                    .collect::<String>()
            )
        };
        writeln!(walk, "{} => {body}", pattern(decl.name, &fields, &used)).unwrap();

        // The encoder.
        let mut checks = String::new();
        let mut used: Vec<&str> = Vec::new();
        for f in &fields {
            if let Role::Fixed(reg) = &f.role {
                let check = match f.ty.as_str() {
                    "Gpr" => format!("fixed(*{}, {});", f.name, fixed_path(reg)),
                    "Xmm" => format!("fixed_xmm(*{}, {});", f.name, fixed_path(reg)),
                    _ => format!("fixed({}.to_reg(), {});", f.name, fixed_path(reg)),
                };
                writeln!(checks, "{check}").unwrap();
                used.push(&f.name);
            }
        }
        let call = match &decl.emit {
            Emit::Call(method, args) => {
                let mut exprs = Vec::new();
                for arg in args.split_whitespace() {
                    let field = fields.iter().find(|f| f.name == arg).ok_or_else(|| {
                        format!("{}: `emit` names `{arg}`, which is no field", decl.name)
                    })?;
                    if matches!(field.role, Role::Fixed(_)) {
                        return Err(format!(
                            "{}: a fixed register (`{arg}`) is checked, not passed",
                            decl.name
                        ));
                    }
                    exprs.push(emit_arg(field));
                    used.push(&field.name);
                    if let Role::Tied(src) = &field.role {
                        used.push(src);
                    }
                }
                format!("asm.{method}({})", exprs.join(", "))
            }
            Emit::Custom(function) => {
                let exprs: Vec<String> = fields
                    .iter()
                    .map(|f| match f.ty.as_str() {
                        "BoxCallInfo" | "BoxJumpTable" => f.name.clone(),
                        _ => format!("*{}", f.name),
                    })
                    .collect();
                used = fields.iter().map(|f| f.name.as_str()).collect();
                format!("custom::{function}(asm, {})", exprs.join(", "))
            }
        };
        writeln!(
            emit,
            "{} => {{ {checks}{call} }}",
            pattern(decl.name, &fields, &used)
        )
        .unwrap();

        // The features.
        let form = form_function(decl, &fields)?;
        let used: Vec<&str> = match &decl.features {
            Features::Form => match decl.forms {
                Some((key, _)) if !key.is_empty() => vec![key],
                _ => vec![],
            },
            Features::Op(f) | Features::Float(f) => {
                if !fields.iter().any(|x| &x.name == f) {
                    return Err(format!(
                        "{}: features name `{f}`, which is no field",
                        decl.name
                    ));
                }
                vec![f]
            }
            Features::Base => vec![],
        };
        let expr = match (decl.forms, &form) {
            (Some((NAMED, forms)), Some((function, _))) => format!(
                "CpuFeatures::base_only().with(forms::{function}_{}().feature)",
                forms[0].0
            ),
            _ => feature_expr(&decl.features, form.as_ref()),
        };
        let expr = match decl.forms {
            Some((key, _)) => expr.replace("KEY", key),
            None => expr,
        };
        writeln!(
            features,
            "{} => {expr},",
            pattern(decl.name, &fields, &used)
        )
        .unwrap();
    }
    write!(
        out,
        "impl MInst {{\n\
         /// Reports every register operand to `visitor`, in the table's order\n\
         /// (fields in declaration order, a tied source first); the visitor may\n\
         /// rewrite them.\n\
         pub fn get_operands(&mut self, visitor: &mut impl OperandVisitor) {{\n\
         let v = visitor;\n\
         match self {{\n{walk}}}\n}}\n\n\
         /// Encodes the instruction (after register allocation) by calling its\n\
         /// shape's `Assembler` method with the physical registers.\n\
         ///\n\
         /// # Panics\n\
         ///\n\
         /// If a register is still virtual, or a tied or fixed operand is not\n\
         /// where its constraint put it: the allocator's output breaks its\n\
         /// contract.\n\
         pub fn emit(&self, asm: &mut Assembler) {{\n\
         match self {{\n{emit}}}\n}}\n\n\
         /// The CPU features the instruction needs.\n\
         pub fn required_features(&self) -> CpuFeatures {{\n\
         match self {{\n{features}}}\n}}\n}}\n"
    )
    .unwrap();

    for e in ENUMS {
        let names: Vec<&str> = match &e.kind {
            EnumKind::Values(values) => values.to_vec(),
            EnumKind::Forms(forms) => forms.iter().map(|f| f.0).collect(),
        };
        let ty = e.name;
        write!(
            out,
            "\nimpl {ty} {{\n/// Every value, in declaration order.\npub const ALL: [{ty}; {}] = [{}];\n",
            names.len(),
            names
                .iter()
                .map(|n| format!("{ty}::{n}"))
                .collect::<Vec<_>>()
                .join(", ")
        )
        .unwrap();
        if let EnumKind::Forms(forms) = &e.kind {
            let arms = |f: &dyn Fn(&table::Form) -> String| -> String {
                forms
                    .iter()
                    .map(|form| format!("{ty}::{} => {},\n", form.0, f(form)))
                    .collect()
            };
            let mut opcode_arms = String::new();
            let mut aligned_arms = String::new();
            for (name, _, encoding, _) in forms.iter() {
                let enc = parse_encoding(encoding)?;
                writeln!(opcode_arms, "{ty}::{name} => {},", opcode_literal(&enc)).unwrap();
                writeln!(
                    aligned_arms,
                    "{ty}::{name} => {},",
                    aligned_memory(e, name)?
                )
                .unwrap();
            }
            write!(
                out,
                "\n/// The manual's mnemonic.\npub const fn mnemonic(self) -> &'static str {{\nmatch self {{\n{}}}\n}}\n\
                 \n/// The CPU feature the form needs.\npub const fn feature(self) -> Feature {{\nmatch self {{\n{}}}\n}}\n\
                 \n/// The declared encoding (see the enum's declaration for the family it stands for).\n\
                 pub(crate) const fn opcode(self) -> Opcode {{\nmatch self {{\n{opcode_arms}}}\n}}\n\
                 \n/// Whether a memory operand must be 16-byte aligned (a legacy SSE form reading or\n\
                 /// writing 128 bits of memory); the assembler refuses one it does not know aligned.\n\
                 pub const fn aligned_memory(self) -> bool {{\nmatch self {{\n{aligned_arms}}}\n}}\n\
                 \n/// The declared form: mnemonic, feature, encoding and alignment.\n\
                 pub(crate) const fn form(self) -> Form {{\nForm {{ mnemonic: self.mnemonic(), feature: self.feature(), opcode: self.opcode(), aligned: self.aligned_memory() }}\n}}\n",
                arms(&|f| format!("{:?}", f.1)),
                arms(&|f| format!("Feature::{}", f.3)),
            )
            .unwrap();
            if let Some(twins) = vex_twins(e)? {
                out.push_str(&twins);
            }
        }
        out.push_str("}\n");
    }
    Ok(out)
}

/// The forms of the enum called `name`.
fn forms_of(name: &str) -> Result<&'static [table::Form], String> {
    ENUMS
        .iter()
        .find_map(|e| match &e.kind {
            EnumKind::Forms(forms) if e.name == name => Some(*forms),
            _ => None,
        })
        .ok_or_else(|| format!("`{name}` is no enum of forms"))
}

/// `vex(self)` of a legacy enum that [`VEX_TWINS`] pairs with a VEX enum:
/// each form's twin is the VEX form named `V` + its name, after checking
/// that the twin's mnemonic is the legacy one with a `v` before it and its
/// opcode the legacy one's (but for [`VEX_MOVED_OPCODES`]). `None` for an
/// enum without a twin.
fn vex_twins(e: &EnumDecl) -> Result<Option<String>, String> {
    let Some((_, vex_enum)) = VEX_TWINS.iter().find(|(legacy, _)| *legacy == e.name) else {
        return Ok(None);
    };
    let EnumKind::Forms(legacy_forms) = &e.kind else {
        return Err(format!("{}: a VEX twin needs an enum of forms", e.name));
    };
    let vex_forms = forms_of(vex_enum)?;
    let mut arms = String::new();
    for (name, mnemonic, encoding, _) in legacy_forms.iter() {
        let twin_name = format!("V{}", name.to_lowercase());
        let twin = vex_forms
            .iter()
            .find(|f| f.0.eq_ignore_ascii_case(&twin_name));
        let Some((twin_name, twin_mnemonic, twin_encoding, _)) = twin else {
            writeln!(arms, "{}::{name} => None,", e.name).unwrap();
            continue;
        };
        if *twin_mnemonic != format!("v{mnemonic}") {
            return Err(format!(
                "{vex_enum}::{twin_name} is `{twin_mnemonic}`, the twin of `{mnemonic}`"
            ));
        }
        let legacy = parse_encoding(encoding)?;
        let vex = parse_encoding(twin_encoding)?;
        let same = (
            legacy.prefix,
            legacy.map,
            legacy.opcode,
            legacy.digit,
            legacy.w,
        ) == (vex.prefix, vex.map, vex.opcode, vex.digit, vex.w);
        if !vex.vex || same == VEX_MOVED_OPCODES.contains(twin_name) {
            return Err(format!(
                "{vex_enum}::{twin_name} (`{twin_encoding}`) is not the VEX form of \
                 `{encoding}`, or is and is declared moved"
            ));
        }
        writeln!(arms, "{}::{name} => Some({vex_enum}::{twin_name}),", e.name).unwrap();
    }
    Ok(Some(format!(
        "\n/// The VEX.128 twin of the form (`{vex_enum}`): the same operation under \
         \n/// the mnemonic with a `v` before it, nondestructive (the legacy form's \
         \n/// read destination is a separate source) and taking memory of any \
         \n/// alignment; `None` where none is declared (`VEX_TWINS` in the table).\n\
         pub const fn vex(self) -> Option<{vex_enum}> {{\nmatch self {{\n{arms}}}\n}}\n"
    )))
}

/// The per-form `Assembler` methods (`add_rr`, `addss`, `lzcnt`, ...): for
/// every form of an enum, each of the enum's method templates.
pub fn render_methods() -> Result<String, String> {
    let mut out = rust_header();
    out.push_str(
        "//! The `Assembler` method of each instruction form (`add_rr`, `addss`,\n\
         //! `lzcnt`, ...), generated from the instruction table: each calls the\n\
         //! encoder of its shape with the form's operation.\n\n\
         use super::{Assembler, Form, Map, Opcode, Plus};\n\
         use crate::x64::args::{Amode, GprImm, GprMem, GprMemImm, XmmMem};\n\
         use crate::x64::features::Feature;\n\
         use crate::x64::regs::{Gpr, Xmm};\n\
         use crate::x64::{\n\
         AluOp, AvxBlendvOp, AvxExtractOp, AvxImmOp, AvxInsertOp, AvxMoveMaskOp, AvxOp, AvxShiftImmOp,\n\
         AvxStoreOp, AvxTestOp, AvxUnaryImmOp, AvxUnaryOp,\n\
         BitOp, ExtMode, FloatSize, OperandSize, SseBlendvOp, SseExtractOp, SseImmOp, SseInsertOp,\n\
         SseMoveMaskOp, SseOp, SseRegOp, SseShiftImmOp, SseTestOp, SseUnaryImmOp,\n\
         SseUnaryOp,\n\
         };\n\n",
    );
    for decl in INSTS {
        let fields = parse_fields(decl)?;
        let Some((function, key_ty)) = form_function(decl, &fields)? else {
            continue;
        };
        let (_, forms) = decl.forms.expect("a form function has forms");
        match key_ty {
            None => writeln!(
                out,
                "/// The form of `MInst::{}`.\npub(crate) const fn {function}() -> Form {{\n{}\n}}\n",
                decl.name,
                form_literal(decl.name, &forms[0])?
            )
            .unwrap(),
            Some(ty) if ty == NAMED => {
                for form in forms.iter() {
                    writeln!(
                        out,
                        "/// The `{}` form of `MInst::{}`.\npub(crate) const fn {function}_{}() -> Form {{\n{}\n}}\n",
                        form.0,
                        decl.name,
                        form.0,
                        form_literal(decl.name, form)?
                    )
                    .unwrap();
                }
            }
            Some(ty) => {
                let mut arms = String::new();
                for form in forms.iter() {
                    let values: Vec<String> = form
                        .0
                        .split('|')
                        .map(|value| match ty.as_str() {
                            "bool" => value.to_string(),
                            _ => format!("{ty}::{value}"),
                        })
                        .collect();
                    writeln!(arms, "{} => Some({}),", values.join(" | "), form_literal(decl.name, form)?)
                        .unwrap();
                }
                writeln!(
                    out,
                    "/// The form of `MInst::{}` for each `{key}`; `None` where there is none.\n\
                     #[allow(unreachable_patterns, reason = \"a form for every value makes the last arm unreachable\")]\n\
                     pub(crate) const fn {function}({key}: {ty}) -> Option<Form> {{\nmatch {key} {{\n{arms}_ => None,\n}}\n}}\n",
                    decl.name,
                    key = decl.forms.unwrap().0,
                )
                .unwrap();
            }
        }
    }
    out.push_str("impl Assembler {\n");
    for e in ENUMS {
        let EnumKind::Forms(forms) = &e.kind else {
            if !e.methods.is_empty() {
                return Err(format!("{}: only enums of forms have methods", e.name));
            }
            continue;
        };
        for (name, mnemonic, _, _) in forms.iter() {
            for m in e.methods {
                let fill = |text: &str| {
                    text.replace("{m}", mnemonic)
                        .replace("{op}", &format!("{}::{name}", e.name))
                };
                writeln!(
                    out,
                    "/// {}\npub fn {}(&mut self, {}) {{\n{}\n}}\n",
                    fill(m.doc),
                    fill(m.name),
                    m.params,
                    fill(m.body)
                )
                .unwrap();
            }
        }
    }
    out.push_str("}\n");
    Ok(out)
}

/// The sample value of a field in a generated test form.
fn sample(field: &Field) -> Result<String, String> {
    Ok(match field.ty.as_str() {
        "OperandSize" => "s.size".into(),
        "FloatSize" => "s.float_size".into(),
        "Gpr" => "s.gpr".into(),
        "WritableGpr" => "s.writable_gpr".into(),
        "Xmm" => "s.xmm".into(),
        "WritableXmm" => "s.writable_xmm".into(),
        "Amode" => "s.amode".into(),
        "GprMem" => "s.gpr_mem".into(),
        "GprMemImm" => "s.gpr_mem_imm".into(),
        "GprImm" => "s.gpr_imm".into(),
        "XmmMem" => "s.xmm_mem".into(),
        "ShiftAmount" => "s.shift_amount".into(),
        "RoundMode" => "RoundMode::Zero".into(),
        "i32" => "-7".into(),
        "u64" => "0x7f".into(),
        "u16" => "16".into(),
        "u8" => "0x1b".into(),
        "CC" => "CC::NZ".into(),
        "TrapCode" => "s.trap".into(),
        other => return Err(format!("no sample for a `{other}` field")),
    })
}

/// One entry of the test's forms: the shape over the samples, but for the
/// field that selects the form (`selector`: its name and value; an empty
/// name for a shape with a single form), and a memory operand known
/// 16-byte aligned for a form that needs one (`aligned`).
fn write_form_entry(
    out: &mut String,
    decl: &InstDecl,
    fields: &[Field],
    selector: (&str, &str),
    mnemonic: &str,
    feature: &str,
    aligned: bool,
) -> Result<(), String> {
    let mut inits = Vec::new();
    for f in fields {
        let value = match &f.role {
            _ if f.name == selector.0 => selector.1.to_string(),
            _ if aligned && f.ty == "XmmMem" => "s.aligned_xmm_mem".to_string(),
            Role::Fixed(reg) => {
                format!("s.fixed_{}({})", snake_case(&f.ty), fixed_path(reg))
            }
            _ => sample(f).map_err(|error| format!("{}: {error}", decl.name))?,
        };
        inits.push(format!("{}: {value}", f.name));
    }
    writeln!(
        out,
        "Form {{ shape: {:?}, mnemonic: {mnemonic:?}, feature: Feature::{feature}, inst: MInst::{} {{ {} }} }},",
        decl.name,
        decl.name,
        inits.join(", ")
    )
    .unwrap();
    Ok(())
}

/// Every form of every operation enum, in every shape that takes it, built
/// over the test's samples.
pub fn render_test_forms() -> Result<String, String> {
    let mut out = rust_header();
    out.push_str(
        "//! Every instruction form the table declares, in every shape that takes\n\
         //! its operation, and every shape's own forms, built over one set of sample operands: the entries\n\
         //! the iced-x86 encoding test iterates over (`tests/encoding.rs`).\n\n\
         use super::Samples;\n\
         use cranelift_asm::x64::inst::MInst;\n\
         use cranelift_asm::x64::{\n\
         AluOp, AvxBlendvOp, AvxExtractOp, AvxImmOp, AvxInsertOp, AvxMoveMaskOp, AvxOp, AvxShiftImmOp,\n\
         AvxStoreOp, AvxTestOp, AvxUnaryImmOp, AvxUnaryOp,\n\
         BitOp, CC, ExtMode, Feature, FloatSize, Gpr, OperandSize, RoundMode, ShiftOp, SseMovOp,\n\
         Xmm,\n\
         SseBlendvOp, SseExtractOp, SseImmOp, SseInsertOp, SseMoveMaskOp, SseOp, SseRegOp, SseShiftImmOp,\n\
         SseTestOp, SseUnaryImmOp, SseUnaryOp, UnaryOp,\n\
         };\n\n\
         /// A declared form in one shape.\n\
         pub struct Form {\n\
         /// The `MInst` variant.\n\
         pub shape: &'static str,\n\
         /// The manual's mnemonic, as declared.\n\
         pub mnemonic: &'static str,\n\
         /// The CPU feature, as declared.\n\
         pub feature: Feature,\n\
         /// The instruction over the samples.\n\
         pub inst: MInst,\n\
         }\n\n\
         /// Every declared form over `s`.\n\
         pub fn forms(s: &Samples) -> Vec<Form> {\n\
         vec![\n",
    );
    let mut enums_used = Vec::new();
    for e in ENUMS {
        let EnumKind::Forms(forms) = &e.kind else {
            continue;
        };
        enums_used.push(e.name);
        for decl in INSTS {
            let fields = parse_fields(decl)?;
            if !fields.iter().any(|f| f.name == "op" && f.ty == e.name) {
                continue;
            }
            for (name, mnemonic, _, feature) in forms.iter() {
                let op = format!("{}::{name}", e.name);
                let aligned = aligned_memory(e, name)?;
                write_form_entry(
                    &mut out,
                    decl,
                    &fields,
                    ("op", &op),
                    mnemonic,
                    feature,
                    aligned,
                )?;
            }
        }
    }
    for decl in INSTS {
        let fields = parse_fields(decl)?;
        let Some((key, forms)) = decl.forms else {
            continue;
        };
        // A branch to a label or a call is checked by the branch and call
        // tests (`tests/branches.rs`, `tests/encoding.rs`), in an assembler
        // with bound labels; an entry here has none.
        if fields
            .iter()
            .any(|f| matches!(f.ty.as_str(), "Label" | "BoxCallInfo"))
        {
            continue;
        }
        let key_ty = fields.iter().find(|f| f.name == key).map(|f| f.ty.clone());
        let selected = forms.iter().flat_map(|(values, mnemonic, _, feature)| {
            values.split('|').map(move |v| (v, mnemonic, feature))
        });
        for (value, mnemonic, feature) in selected {
            let value = match key_ty.as_deref() {
                Some("bool") => value.to_string(),
                Some(ty) => format!("{ty}::{value}"),
                None => String::new(),
            };
            write_form_entry(
                &mut out,
                decl,
                &fields,
                (key, &value),
                mnemonic,
                feature,
                false,
            )?;
        }
    }
    out.push_str("]\n}\n");
    let expected = [
        "AluOp",
        "UnaryOp",
        "ShiftOp",
        "BitOp",
        "SseOp",
        "SseUnaryOp",
        "SseImmOp",
        "SseUnaryImmOp",
        "SseShiftImmOp",
        "SseRegOp",
        "SseInsertOp",
        "SseExtractOp",
        "SseMoveMaskOp",
        "SseBlendvOp",
        "SseTestOp",
        "AvxOp",
        "AvxUnaryOp",
        "AvxImmOp",
        "AvxUnaryImmOp",
        "AvxShiftImmOp",
        "AvxInsertOp",
        "AvxExtractOp",
        "AvxMoveMaskOp",
        "AvxBlendvOp",
        "AvxTestOp",
        "AvxStoreOp",
        "SseMovOp",
    ];
    if enums_used != expected {
        return Err(format!(
            "the form enums are {enums_used:?}; update the imports of {TEST_OUTPUT} (in xtask/src/x64/mod.rs)"
        ));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodings_parse_as_the_manual_writes_them() {
        let e = parse_encoding("F3 0F 58 /r").unwrap();
        assert_eq!(
            (e.prefix, e.map, e.opcode, e.digit, e.w),
            (0xF3, "M0F", 0x58, None, false)
        );
        let e = parse_encoding("66 REX.W 0F 3A 0B /r ib").unwrap();
        assert_eq!(
            (e.prefix, e.map, e.opcode, e.w),
            (0x66, "M0F3A", 0x0B, true)
        );
        // A lone byte is the opcode, even when it looks like a prefix.
        let e = parse_encoding("F7 /3").unwrap();
        assert_eq!(
            (e.prefix, e.map, e.opcode, e.digit),
            (0, "Primary", 0xF7, Some(3))
        );
        let e = parse_encoding("0F 40+cc /r").unwrap();
        assert_eq!((e.opcode, e.plus, e.modrm), (0x40, "cc", true));
        let e = parse_encoding("REX.W 99").unwrap();
        assert_eq!((e.opcode, e.modrm, e.w, e.prefix), (0x99, false, true, 0));
        let e = parse_encoding("0F C8+rd").unwrap();
        assert_eq!((e.map, e.opcode, e.plus), ("M0F", 0xC8, "r"));
        let e = parse_encoding("VEX.128.66.0F.WIG FE /r").unwrap();
        assert_eq!(
            (e.vex, e.prefix, e.map, e.opcode, e.w, e.digit),
            (true, 0x66, "M0F", 0xFE, false, None)
        );
        let e = parse_encoding("VEX.128.0F38.W1 17 /r").unwrap();
        assert_eq!((e.vex, e.prefix, e.map, e.w), (true, 0, "M0F38", true));
        let e = parse_encoding("VEX.128.66.0F.WIG 72 /6 ib").unwrap();
        assert_eq!((e.opcode, e.digit), (0x72, Some(6)));
        let e = parse_encoding("VEX.128.66.0F3A.W0 4C /r /is4").unwrap();
        assert_eq!(
            (e.map, e.opcode, e.digit, e.w),
            ("M0F3A", 0x4C, None, false)
        );
        for bad in [
            "0F 58 /8",
            "0F 58 59 /r",
            "zz /r",
            "/r",
            "0F 41+cc /r",
            "C8+rd /r",
            "40+xx",
            "C9+rd",
            "VEX.256.66.0F.WIG FE /r",
            "VEX.128.66.WIG FE /r",
            "VEX.128.66.0F.W2 FE /r",
            "VEX.128.66.0F.WIG FE",
            "VEX.128.66.0F.WIG FE+rd",
            "VEX.128.66.0F3A.W0 4C /is4",
        ] {
            assert!(parse_encoding(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn roles_are_checked() {
        let decl = |fields| InstDecl {
            section: None,
            name: "X",
            doc: "",
            fields,
            features: Features::Base,
            emit: Emit::Custom("x"),
            forms: None,
        };
        assert!(parse_fields(&decl("a:Gpr b:WritableGpr=a")).is_ok());
        assert!(parse_fields(&decl("m:Xmm@xmm0 a:Xmm b:WritableXmm=a")).is_ok());
        for bad in [
            "b:WritableGpr=a a:Gpr", // the source comes later
            "a:Xmm b:WritableGpr=a", // another class
            "a:Gpr b:Gpr!",          // an early read
            "a:Xmm@rax",             // an XMM fixed to a GPR
            "a:Gpr@xmm0",            // a GPR fixed to an XMM register
            "a:WritableXmm@xmm0",    // a written fixed XMM
            "a:Gpr@rbx",             // not an implicit register
            "a:Gpr a:Gpr",           // twice
        ] {
            assert!(parse_fields(&decl(bad)).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_table_generates() {
        render_isle().unwrap();
        render_rust().unwrap();
        render_test_forms().unwrap();
        render_methods().unwrap();
    }

    #[test]
    fn alignment_names_forms_of_its_enum() {
        let sse = ENUMS.iter().find(|e| e.name == "SseOp").unwrap();
        assert!(aligned_memory(sse, "Paddd").unwrap());
        assert!(!aligned_memory(sse, "Addss").unwrap());
        let decl = EnumDecl {
            name: "X",
            alignment: Alignment::AllBut(&["Nope"]),
            doc: "",
            kind: EnumKind::Forms(&[("A", "a", "0F 58 /r", "Sse")]),
            methods: &[],
        };
        assert!(aligned_memory(&decl, "A").is_err());
        let values = EnumDecl {
            kind: EnumKind::Values(&["A"]),
            alignment: Alignment::Any,
            ..decl
        };
        assert!(aligned_memory(&values, "A").is_err());
    }

    #[test]
    fn legacy_forms_name_their_vex_twins() {
        let find = |name| ENUMS.iter().find(|e| e.name == name).unwrap();
        let sse = vex_twins(find("SseOp")).unwrap().unwrap();
        assert!(sse.contains("SseOp::Paddd => Some(AvxOp::Vpaddd),"));
        assert!(sse.contains("SseOp::Addss => None,"));
        let blendv = vex_twins(find("SseBlendvOp")).unwrap().unwrap();
        assert!(blendv.contains("SseBlendvOp::Pblendvb => Some(AvxBlendvOp::Vpblendvb),"));
        let insert = vex_twins(find("SseInsertOp")).unwrap().unwrap();
        assert!(insert.contains("SseInsertOp::Pinsrq => Some(AvxInsertOp::Vpinsrq),"));
        assert!(vex_twins(find("SseRegOp")).unwrap().is_none());
        for (legacy, vex) in VEX_TWINS {
            assert!(forms_of(legacy).is_ok() && forms_of(vex).is_ok());
        }
    }

    #[test]
    fn shape_names_become_function_names() {
        assert_eq!(snake_case("XmmCmp"), "xmm_cmp");
        assert_eq!(snake_case("IMul"), "imul");
        assert_eq!(snake_case("CvtIntToFloat"), "cvt_int_to_float");
        assert_eq!(snake_case("XmmMovRR"), "xmm_mov_rr");
    }

    #[test]
    fn a_tied_source_is_walked_first() {
        let decl = InstDecl {
            section: None,
            name: "X",
            doc: "",
            fields: "a:GprMem b:Gpr c:WritableGpr=b",
            features: Features::Base,
            emit: Emit::Custom("x"),
            forms: None,
        };
        let fields = parse_fields(&decl).unwrap();
        let order: Vec<&str> = walk_order(&fields)
            .iter()
            .map(|f| f.name.as_str())
            .collect();
        assert_eq!(order, ["b", "a", "c"]);
    }
}
