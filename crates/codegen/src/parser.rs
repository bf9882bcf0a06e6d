//! The text format back into [`Function`]s.
//!
//! The format is line-oriented (one declaration, block header or
//! instruction per line; `;` starts a comment), so the parser reads a
//! function in two steps:
//!
//! 1. Each line is tokenized and parsed into a small syntax tree, numbers of
//!    values, blocks and entities as written.
//! 2. The function is built keeping every number: placeholders are made for
//!    all values up to the largest, then block parameters are attached,
//!    then instructions are created in order. An instruction whose type
//!    comes from an operand defined later in the text waits for it (a
//!    worklist round), so text order need not be dominance order.
//!
//! Printing a parsed function gives back the same text (modulo spacing and
//! comments), which the tests check for every opcode.

use crate::entity::EntityRef;
use crate::ir::{
    Block, BlockCall, CallConv, ExtFuncData, FloatCC, FuncRef, Function, InstructionData,
    InstructionFormat, IntCC, JumpTable, JumpTableData, MemFlags, Opcode, SigRef, Signature,
    StackSlot, StackSlotData, Type, Value, ValueDef,
};
use cranelift_asm::{ExternalName, SourceLoc, TrapCode};

/// A syntax error, with its line (1-based).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {message}")]
pub struct ParseError {
    /// The line.
    pub line: usize,
    /// What is wrong.
    pub message: String,
}

/// A token of one line.
#[derive(Clone, Debug, PartialEq)]
enum Tok {
    /// A word: names, opcodes, `v1`, `block2`, `i32`, `%name`.
    Word(String),
    /// An integer, signed or hex.
    Num(i128),
    /// Punctuation.
    Punct(char),
    /// `->`.
    Arrow,
}

fn tokenize(line: &str, n: usize) -> Result<Vec<Tok>, ParseError> {
    let line = line.split(';').next().unwrap_or("");
    let chars: Vec<char> = line.chars().collect();
    let mut toks = Vec::new();
    let mut i = 0;
    let word_char = |c: char| c.is_ascii_alphanumeric() || c == '_' || c == '.' || c == '%';
    while i < chars.len() {
        let c = chars[i];
        if c.is_whitespace() {
            i += 1;
        } else if c == '-' && chars.get(i + 1) == Some(&'>') {
            toks.push(Tok::Arrow);
            i += 2;
        } else if c.is_ascii_digit()
            || ((c == '-' || c == '+') && chars.get(i + 1).is_some_and(|d| d.is_ascii_digit()))
        {
            let start = i;
            i += 1;
            while i < chars.len() && (chars[i].is_ascii_alphanumeric() || chars[i] == '_') {
                i += 1;
            }
            let text: String = chars[start..i].iter().collect();
            let (negative, digits) = match text.as_bytes()[0] {
                b'-' => (true, &text[1..]),
                b'+' => (false, &text[1..]),
                _ => (false, &text[..]),
            };
            let digits = digits.replace('_', "");
            let value = match digits.strip_prefix("0x") {
                // 128 bits of hex (a `vconst`) keep their bits.
                Some(hex) => u128::from_str_radix(hex, 16).map(|v| v as i128),
                None => digits.parse::<i128>(),
            }
            .map_err(|_| ParseError {
                line: n,
                message: format!("bad number `{text}`"),
            })?;
            toks.push(Tok::Num(if negative { -value } else { value }));
        } else if word_char(c) {
            let start = i;
            while i < chars.len() && word_char(chars[i]) {
                i += 1;
            }
            toks.push(Tok::Word(chars[start..i].iter().collect()));
        } else if c == '@' {
            // A source location: hex digits, kept as a word.
            toks.push(Tok::Punct('@'));
            i += 1;
            let start = i;
            while i < chars.len() && chars[i].is_ascii_hexdigit() {
                i += 1;
            }
            toks.push(Tok::Word(chars[start..i].iter().collect()));
        } else if "(),:=[]{}".contains(c) {
            toks.push(Tok::Punct(c));
            i += 1;
        } else {
            return Err(ParseError {
                line: n,
                message: format!("unexpected character `{c}`"),
            });
        }
    }
    Ok(toks)
}

/// A cursor over one line's tokens.
struct Line<'a> {
    toks: &'a [Tok],
    pos: usize,
    n: usize,
}

impl Line<'_> {
    fn err<T>(&self, message: impl Into<String>) -> Result<T, ParseError> {
        Err(ParseError {
            line: self.n,
            message: message.into(),
        })
    }

    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.pos)
    }

    fn at_end(&self) -> bool {
        self.pos >= self.toks.len()
    }

    fn next(&mut self) -> Option<&Tok> {
        let t = self.toks.get(self.pos);
        self.pos += 1;
        t
    }

    fn eat(&mut self, c: char) -> bool {
        if self.peek() == Some(&Tok::Punct(c)) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    fn expect(&mut self, c: char) -> Result<(), ParseError> {
        if self.eat(c) {
            Ok(())
        } else {
            self.err(format!("expected `{c}`, found {}", self.describe()))
        }
    }

    fn describe(&self) -> String {
        match self.peek() {
            None => "the end of the line".to_string(),
            Some(Tok::Word(w)) => format!("`{w}`"),
            Some(Tok::Num(n)) => format!("`{n}`"),
            Some(Tok::Punct(c)) => format!("`{c}`"),
            Some(Tok::Arrow) => "`->`".to_string(),
        }
    }

    fn word(&mut self) -> Result<String, ParseError> {
        match self.peek() {
            Some(Tok::Word(w)) => {
                let w = w.clone();
                self.pos += 1;
                Ok(w)
            }
            _ => self.err(format!("expected a name, found {}", self.describe())),
        }
    }

    fn num(&mut self) -> Result<i128, ParseError> {
        match self.peek() {
            Some(&Tok::Num(n)) => {
                self.pos += 1;
                Ok(n)
            }
            _ => self.err(format!("expected a number, found {}", self.describe())),
        }
    }

    fn int<T: TryFrom<i128>>(&mut self, what: &str) -> Result<T, ParseError> {
        let n = self.num()?;
        T::try_from(n).or_else(|_| self.err(format!("{what} {n} out of range")))
    }

    /// An entity `prefix` + number.
    fn entity(&mut self, prefix: &str) -> Result<u32, ParseError> {
        let w = self.word()?;
        match w.strip_prefix(prefix).and_then(|d| d.parse::<u32>().ok()) {
            Some(n) => Ok(n),
            None => self.err(format!("expected `{prefix}N`, found `{w}`")),
        }
    }

    fn peek_entity(&self, prefix: &str) -> bool {
        matches!(self.peek(), Some(Tok::Word(w)) if w.strip_prefix(prefix).is_some_and(|d| !d.is_empty() && d.bytes().all(|b| b.is_ascii_digit())))
    }

    fn value(&mut self) -> Result<u32, ParseError> {
        self.entity("v")
    }

    fn ty(&mut self) -> Result<Type, ParseError> {
        let w = self.word()?;
        Type::from_name(&w).map_or_else(|| self.err(format!("unknown type `{w}`")), Ok)
    }

    fn types_until(&mut self, close: char) -> Result<Vec<Type>, ParseError> {
        let mut types = Vec::new();
        if self.eat(close) {
            return Ok(types);
        }
        loop {
            types.push(self.ty()?);
            if self.eat(close) {
                return Ok(types);
            }
            self.expect(',')?;
        }
    }

    fn signature(&mut self) -> Result<Signature, ParseError> {
        self.expect('(')?;
        let params = self.types_until(')')?;
        let mut returns = Vec::new();
        if self.peek() == Some(&Tok::Arrow) {
            self.pos += 1;
            loop {
                returns.push(self.ty()?);
                if !self.eat(',') {
                    break;
                }
            }
        }
        let call_conv = match self.word()?.as_str() {
            "wasm" => CallConv::Wasm,
            "system_v" => CallConv::SystemV,
            "preserve_all" => CallConv::PreserveAll,
            other => return self.err(format!("unknown calling convention `{other}`")),
        };
        Ok(Signature {
            params,
            returns,
            call_conv,
        })
    }

    /// Values separated by commas, up to `close` (consumed) or, with no
    /// `close`, the end of the line.
    fn values(&mut self, close: Option<char>) -> Result<Vec<u32>, ParseError> {
        let mut values = Vec::new();
        let done = |l: &mut Line<'_>| match close {
            Some(c) => l.eat(c),
            None => l.at_end(),
        };
        if done(self) {
            return Ok(values);
        }
        loop {
            values.push(self.value()?);
            if done(self) {
                return Ok(values);
            }
            self.expect(',')?;
        }
    }

    fn block_call(&mut self) -> Result<(u32, Vec<u32>), ParseError> {
        let block = self.entity("block")?;
        let args = if self.eat('(') {
            self.values(Some(')'))?
        } else {
            Vec::new()
        };
        Ok((block, args))
    }

    fn offset(&mut self) -> Result<i32, ParseError> {
        match self.peek() {
            Some(Tok::Num(_)) => self.int("offset"),
            _ => Ok(0),
        }
    }

    fn trap_code(&mut self) -> Result<TrapCode, ParseError> {
        let w = self.word()?;
        w.strip_prefix("trap")
            .and_then(|d| d.parse::<u8>().ok())
            .and_then(TrapCode::from_u8)
            .map_or_else(
                || self.err(format!("expected a trap code `trapN`, found `{w}`")),
                Ok,
            )
    }

    fn mem_flags(&mut self) -> MemFlags {
        let mut flags = MemFlags::new();
        while let Some(Tok::Word(w)) = self.peek() {
            let w = w.clone();
            if !flags.set_by_name(&w) {
                break;
            }
            self.pos += 1;
        }
        flags
    }
}

/// An instruction's operands as written (numbers, not yet entities).
#[derive(Debug)]
enum Operands {
    Imm(i64),
    Bits(u64),
    Const(u128),
    Values(Vec<u32>),
    Lane(u32, u8),
    Lanes([u32; 2], u8),
    Shuffle([u32; 2], [u8; 16]),
    IntCmp(IntCC, [u32; 2]),
    FloatCmp(FloatCC, [u32; 2]),
    Load(MemFlags, u32, i32),
    Store(MemFlags, [u32; 2], i32),
    StackLoad(u32, i32),
    StackStore(u32, u32, i32),
    Jump((u32, Vec<u32>)),
    Brif(u32, [(u32, Vec<u32>); 2]),
    BrTable(u32, (u32, Vec<u32>), Vec<(u32, Vec<u32>)>),
    Call(u32, Vec<u32>),
    CallIndirect(u32, Vec<u32>),
    Trap(TrapCode),
    CondTrap(u32, TrapCode),
    BinaryTrap([u32; 2], TrapCode),
}

/// A block as written: number, parameters (value number, type), body.
type BlockSyntax = (u32, Vec<(u32, Type)>, Vec<InstSyntax>);

#[derive(Debug)]
struct InstSyntax {
    line: usize,
    srcloc: Option<SourceLoc>,
    results: Vec<u32>,
    opcode: Opcode,
    ty: Option<Type>,
    operands: Operands,
}

fn parse_inst(l: &mut Line<'_>) -> Result<InstSyntax, ParseError> {
    let srcloc = if l.eat('@') {
        // `@0012`: hex digits, which may lex as a number or a word.
        let text = match l.next() {
            Some(Tok::Num(n)) => n.to_string(),
            Some(Tok::Word(w)) => w.clone(),
            _ => return l.err("expected a source location after `@`"),
        };
        let loc = u32::from_str_radix(&text, 16).or_else(|_| l.err("bad source location"))?;
        Some(SourceLoc(loc))
    } else {
        None
    };
    // Results: `v1, v2 =` (a value list followed by `=`).
    let mut results = Vec::new();
    let save = l.pos;
    if l.peek_entity("v") {
        loop {
            results.push(l.value()?);
            if !l.eat(',') {
                break;
            }
        }
        if !l.eat('=') {
            results.clear();
            l.pos = save;
        }
    }
    let name = l.word()?;
    let (op_name, ty) = match name.split_once('.') {
        Some((op, t)) => (
            op.to_string(),
            Some(Type::from_name(t).map_or_else(|| l.err(format!("unknown type `{t}`")), Ok)?),
        ),
        None => (name.clone(), None),
    };
    let Some(opcode) = Opcode::from_name(&op_name) else {
        return l.err(format!("unknown opcode `{op_name}`"));
    };
    use InstructionFormat as F;
    let pair = |l: &mut Line<'_>| -> Result<[u32; 2], ParseError> {
        let a = l.value()?;
        l.expect(',')?;
        Ok([a, l.value()?])
    };
    let operands = match opcode.format() {
        F::UnaryImm => Operands::Imm(l.int("immediate")?),
        F::UnaryIeee32 | F::UnaryIeee64 => {
            let n = l.num()?;
            Operands::Bits(u64::try_from(n).or_else(|_| l.err("float bits out of range"))?)
        }
        F::UnaryConst => Operands::Const(l.num()? as u128),
        F::Unary | F::Binary | F::Ternary | F::MultiAry => Operands::Values(l.values(None)?),
        F::BinaryImm8 => {
            let v = l.value()?;
            l.expect(',')?;
            Operands::Lane(v, l.int("lane index")?)
        }
        F::TernaryImm8 => {
            let args = pair(l)?;
            l.expect(',')?;
            Operands::Lanes(args, l.int("lane index")?)
        }
        F::Shuffle => {
            let args = pair(l)?;
            l.expect(',')?;
            l.expect('[')?;
            let mut mask = [0u8; 16];
            for byte in &mut mask {
                if l.eat(']') {
                    return l.err("a shuffle mask has 16 bytes");
                }
                *byte = l.int("mask byte")?;
            }
            l.expect(']')?;
            Operands::Shuffle(args, mask)
        }
        F::IntCompare => {
            let w = l.word()?;
            let cc = IntCC::from_name(&w)
                .map_or_else(|| l.err(format!("unknown condition `{w}`")), Ok)?;
            Operands::IntCmp(cc, pair(l)?)
        }
        F::FloatCompare => {
            let w = l.word()?;
            let cc = FloatCC::from_name(&w)
                .map_or_else(|| l.err(format!("unknown condition `{w}`")), Ok)?;
            Operands::FloatCmp(cc, pair(l)?)
        }
        F::Load => {
            let flags = l.mem_flags();
            let addr = l.value()?;
            Operands::Load(flags, addr, l.offset()?)
        }
        F::Store => {
            let flags = l.mem_flags();
            let args = pair(l)?;
            Operands::Store(flags, args, l.offset()?)
        }
        F::StackLoad => {
            let slot = l.entity("ss")?;
            Operands::StackLoad(slot, l.offset()?)
        }
        F::StackStore => {
            let v = l.value()?;
            l.expect(',')?;
            let slot = l.entity("ss")?;
            Operands::StackStore(v, slot, l.offset()?)
        }
        F::Jump => Operands::Jump(l.block_call()?),
        F::Brif => {
            let c = l.value()?;
            l.expect(',')?;
            let a = l.block_call()?;
            l.expect(',')?;
            Operands::Brif(c, [a, l.block_call()?])
        }
        F::BranchTable => {
            let i = l.value()?;
            l.expect(',')?;
            let default = l.block_call()?;
            l.expect(',')?;
            l.expect('[')?;
            let mut targets = Vec::new();
            if !l.eat(']') {
                loop {
                    targets.push(l.block_call()?);
                    if l.eat(']') {
                        break;
                    }
                    l.expect(',')?;
                }
            }
            Operands::BrTable(i, default, targets)
        }
        F::Call => {
            let f = l.entity("fn")?;
            l.expect('(')?;
            Operands::Call(f, l.values(Some(')'))?)
        }
        F::CallIndirect => {
            let sig = l.entity("sig")?;
            l.expect(',')?;
            let callee = l.value()?;
            l.expect('(')?;
            let mut args = vec![callee];
            args.extend(l.values(Some(')'))?);
            Operands::CallIndirect(sig, args)
        }
        F::Trap => Operands::Trap(l.trap_code()?),
        F::CondTrap => {
            let v = l.value()?;
            l.expect(',')?;
            Operands::CondTrap(v, l.trap_code()?)
        }
        F::BinaryTrap => {
            let args = pair(l)?;
            l.expect(',')?;
            Operands::BinaryTrap(args, l.trap_code()?)
        }
    };
    if !l.at_end() {
        return l.err(format!("unexpected {} after the instruction", l.describe()));
    }
    let expected_values = match opcode.format() {
        F::Unary => Some(1),
        F::Binary => Some(2),
        F::Ternary => Some(3),
        _ => None,
    };
    if let (Some(n), Operands::Values(v)) = (expected_values, &operands)
        && v.len() != n
    {
        return l.err(format!("`{op_name}` takes {n} operands, given {}", v.len()));
    }
    Ok(InstSyntax {
        line: l.n,
        srcloc,
        results,
        opcode,
        ty,
        operands,
    })
}

/// Parses every function in `text`.
pub fn parse_functions(text: &str) -> Result<Vec<Function>, ParseError> {
    let lines: Vec<(usize, Vec<Tok>)> = text
        .lines()
        .enumerate()
        .map(|(i, line)| tokenize(line, i + 1).map(|t| (i + 1, t)))
        .filter(|r| r.as_ref().map_or(true, |(_, t)| !t.is_empty()))
        .collect::<Result<_, _>>()?;
    let mut functions = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let (n, toks) = &lines[i];
        let end = lines[i..]
            .iter()
            .position(|(_, t)| t.as_slice() == [Tok::Punct('}')])
            .map(|p| i + p)
            .ok_or(ParseError {
                line: *n,
                message: "a function without its closing `}`".into(),
            })?;
        functions.push(parse_function(*n, toks, &lines[i + 1..end])?);
        i = end + 1;
    }
    Ok(functions)
}

/// Parses `text`, which holds one function.
pub fn parse_function_text(text: &str) -> Result<Function, ParseError> {
    let mut functions = parse_functions(text)?;
    match functions.len() {
        1 => Ok(functions.pop().unwrap()),
        n => Err(ParseError {
            line: 1,
            message: format!("expected one function, found {n}"),
        }),
    }
}

fn parse_function(
    n: usize,
    header: &[Tok],
    body: &[(usize, Vec<Tok>)],
) -> Result<Function, ParseError> {
    let mut l = Line {
        toks: header,
        pos: 0,
        n,
    };
    if l.word()? != "function" {
        return l.err("expected `function`");
    }
    let name = l.word()?;
    let Some(name) = name.strip_prefix('%') else {
        return l.err("a function's name starts with `%`");
    };
    let signature = l.signature()?;
    l.expect('{')?;
    if !l.at_end() {
        return l.err("unexpected tokens after `{`");
    }
    let mut func = Function::new(name, signature);

    // Step 1: declarations, block headers and instructions.
    let mut blocks: Vec<BlockSyntax> = Vec::new();
    for (n, toks) in body {
        let mut l = Line {
            toks,
            pos: 0,
            n: *n,
        };
        if l.peek_entity("ss") && toks.get(1) == Some(&Tok::Punct('=')) {
            let k = l.entity("ss")?;
            l.expect('=')?;
            if l.word()? != "explicit_slot" {
                return l.err("expected `explicit_slot`");
            }
            let size = l.int("slot size")?;
            l.expect(',')?;
            if l.word()? != "align" {
                return l.err("expected `align`");
            }
            let align_shift = l.int("alignment")?;
            if k as usize != func.stack_slots.len() {
                return l.err(format!("expected ss{} next", func.stack_slots.len()));
            }
            func.stack_slots.push(StackSlotData { size, align_shift });
        } else if l.peek_entity("sig") {
            let k = l.entity("sig")?;
            l.expect('=')?;
            let sig = l.signature()?;
            if k as usize != func.dfg.signatures.len() {
                return l.err(format!("expected sig{} next", func.dfg.signatures.len()));
            }
            func.dfg.signatures.push(sig);
        } else if l.peek_entity("fn") {
            let k = l.entity("fn")?;
            l.expect('=')?;
            let namespace = l.entity("u")?;
            l.expect(':')?;
            let index = l.int("external name index")?;
            let sig = l.entity("sig")?;
            if sig as usize >= func.dfg.signatures.len() {
                return l.err(format!("sig{sig} is not declared"));
            }
            if k as usize != func.dfg.ext_funcs.len() {
                return l.err(format!("expected fn{} next", func.dfg.ext_funcs.len()));
            }
            func.dfg.ext_funcs.push(ExtFuncData {
                name: ExternalName::new(namespace, index),
                signature: SigRef::from_u32(sig),
            });
        } else if l.peek_entity("block") && toks.last() == Some(&Tok::Punct(':')) {
            let b = l.entity("block")?;
            let mut params = Vec::new();
            if l.eat('(') {
                loop {
                    let v = l.value()?;
                    l.expect(':')?;
                    params.push((v, l.ty()?));
                    if l.eat(')') {
                        break;
                    }
                    l.expect(',')?;
                }
            }
            l.expect(':')?;
            if !l.at_end() {
                return l.err("unexpected tokens after the block header");
            }
            blocks.push((b, params, Vec::new()));
        } else {
            let inst = parse_inst(&mut l)?;
            match blocks.last_mut() {
                Some((_, _, insts)) => insts.push(inst),
                None => return l.err("an instruction before the first block"),
            }
        }
    }

    // Step 2: entities with their numbers as written.
    let mut max_value = None::<u32>;
    let mut max_block = None::<u32>;
    let mut note_value = |v: u32| max_value = Some(max_value.map_or(v, |m| m.max(v)));
    for (b, params, insts) in &blocks {
        max_block = Some(max_block.map_or(*b, |m| m.max(*b)));
        params.iter().for_each(|&(v, _)| note_value(v));
        for inst in insts {
            inst.results.iter().copied().for_each(&mut note_value);
        }
    }
    if let Some(m) = max_value {
        for _ in 0..=m {
            func.dfg.make_placeholder(Type::I64);
        }
    }
    if let Some(m) = max_block {
        for _ in 0..=m {
            func.dfg.make_block();
        }
    }
    let mut defined = vec![false; max_value.map_or(0, |m| m as usize + 1)];
    for (b, params, _) in &blocks {
        let block = Block::from_u32(*b);
        if func.layout.is_block_inserted(block) {
            return Err(ParseError {
                line: n,
                message: format!("{block} is defined twice"),
            });
        }
        func.layout.append_block(block);
        for &(v, ty) in params {
            if std::mem::replace(&mut defined[v as usize], true) {
                return Err(ParseError {
                    line: n,
                    message: format!("v{v} is defined twice"),
                });
            }
            func.dfg.attach_block_param(block, Value::from_u32(v), ty);
        }
    }
    // Instructions: create all (so the layout order is the text's), then
    // define results in rounds until every controlling type is known.
    let mut pending = Vec::new();
    for (b, _, insts) in &blocks {
        for syntax in insts {
            let data = build_data(&mut func, syntax, max_value, max_block)?;
            let inst = func.dfg.make_inst(data);
            func.layout.append_inst(inst, Block::from_u32(*b));
            func.srclocs[inst] = syntax.srcloc;
            pending.push((inst, syntax));
        }
    }
    while !pending.is_empty() {
        let before = pending.len();
        let mut waiting = Vec::new();
        for (inst, syntax) in pending {
            let ctrl = match syntax.ty.or(syntax.opcode.fixed_type()) {
                Some(ty) => Some(ty),
                None => {
                    let mut operands = Vec::new();
                    func.dfg.for_each_inst_arg(inst, |v| operands.push(v));
                    match operands.get(syntax.opcode.ctrl_operand()).copied() {
                        Some(v) if !defined[v.index()] => None,
                        Some(v) => Some(func.dfg.value_type(v)),
                        None => Some(Type::I64),
                    }
                }
            };
            let Some(ctrl) = ctrl else {
                waiting.push((inst, syntax));
                continue;
            };
            let results: Vec<Value> = syntax.results.iter().map(|&v| Value::from_u32(v)).collect();
            for &v in &syntax.results {
                if std::mem::replace(&mut defined[v as usize], true) {
                    return Err(ParseError {
                        line: syntax.line,
                        message: format!("v{v} is defined twice"),
                    });
                }
            }
            func.dfg
                .attach_inst_results(inst, &results, ctrl)
                .map_err(|expected| ParseError {
                    line: syntax.line,
                    message: format!(
                        "`{}` has {expected} results, {} written",
                        syntax.opcode.name(),
                        results.len()
                    ),
                })?;
        }
        if waiting.len() == before {
            let (_, syntax) = &waiting[0];
            return Err(ParseError {
                line: syntax.line,
                message: "an operand is never defined, so the type is unknown".into(),
            });
        }
        pending = waiting;
    }
    // Every value used must be defined.
    for block in func.layout.blocks().collect::<Vec<_>>() {
        for inst in func.layout.block_insts(block).collect::<Vec<_>>() {
            let mut undefined = None;
            func.dfg.for_each_inst_arg(inst, |v| {
                if !defined[v.index()] {
                    undefined.get_or_insert(v);
                }
            });
            if let Some(v) = undefined {
                return Err(ParseError {
                    line: n,
                    message: format!("{v} is used but never defined"),
                });
            }
        }
    }
    debug_assert!(
        (0..func.dfg.num_values())
            .map(Value::new)
            .filter(|&v| defined[v.index()])
            .all(|v| !matches!(func.dfg.value_def_raw(v), ValueDef::Alias(_)))
    );
    Ok(func)
}

/// The instruction data of `syntax`, checking the entities it names.
fn build_data(
    func: &mut Function,
    syntax: &InstSyntax,
    max_value: Option<u32>,
    max_block: Option<u32>,
) -> Result<InstructionData, ParseError> {
    let err = |message: String| ParseError {
        line: syntax.line,
        message,
    };
    let value = |v: u32| -> Result<Value, ParseError> {
        if max_value.is_some_and(|m| v <= m) {
            Ok(Value::from_u32(v))
        } else {
            Err(err(format!("v{v} is used but never defined")))
        }
    };
    let opcode = syntax.opcode;
    let block_call = |func: &mut Function,
                      (b, args): &(u32, Vec<u32>)|
     -> Result<BlockCall, ParseError> {
        if max_block.is_none_or(|m| *b > m) || !func.layout.is_block_inserted(Block::from_u32(*b)) {
            return Err(err(format!("block{b} is not defined")));
        }
        let args = args
            .iter()
            .map(|&v| value(v))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(func.dfg.block_call(Block::from_u32(*b), &args))
    };
    let slot = |func: &Function, s: u32| -> Result<StackSlot, ParseError> {
        let slot = StackSlot::from_u32(s);
        if func.stack_slots.is_valid(slot) {
            Ok(slot)
        } else {
            Err(err(format!("ss{s} is not declared")))
        }
    };
    Ok(match &syntax.operands {
        Operands::Imm(imm) => InstructionData::UnaryImm { opcode, imm: *imm },
        Operands::Bits(bits) => match opcode.format() {
            InstructionFormat::UnaryIeee32 => InstructionData::UnaryIeee32 {
                opcode,
                imm: u32::try_from(*bits).map_err(|_| err("f32 bits out of range".into()))?,
            },
            _ => InstructionData::UnaryIeee64 { opcode, imm: *bits },
        },
        Operands::Const(bits) => InstructionData::UnaryConst {
            opcode,
            constant: func.dfg.constant(*bits),
        },
        Operands::Lane(v, imm) => InstructionData::BinaryImm8 {
            opcode,
            arg: value(*v)?,
            imm: *imm,
        },
        Operands::Lanes([a, b], imm) => InstructionData::TernaryImm8 {
            opcode,
            args: [value(*a)?, value(*b)?],
            imm: *imm,
        },
        Operands::Shuffle([a, b], mask) => InstructionData::Shuffle {
            opcode,
            args: [value(*a)?, value(*b)?],
            mask: func.dfg.constant(u128::from_le_bytes(*mask)),
        },
        Operands::Values(vs) => {
            let vs = vs
                .iter()
                .map(|&v| value(v))
                .collect::<Result<Vec<_>, _>>()?;
            match opcode.format() {
                InstructionFormat::Unary => InstructionData::Unary { opcode, arg: vs[0] },
                InstructionFormat::Binary => InstructionData::Binary {
                    opcode,
                    args: [vs[0], vs[1]],
                },
                InstructionFormat::Ternary => InstructionData::Ternary {
                    opcode,
                    args: [vs[0], vs[1], vs[2]],
                },
                _ => InstructionData::MultiAry {
                    opcode,
                    args: func.dfg.value_lists.alloc(vs),
                },
            }
        }
        Operands::IntCmp(cond, [a, b]) => InstructionData::IntCompare {
            opcode,
            cond: *cond,
            args: [value(*a)?, value(*b)?],
        },
        Operands::FloatCmp(cond, [a, b]) => InstructionData::FloatCompare {
            opcode,
            cond: *cond,
            args: [value(*a)?, value(*b)?],
        },
        Operands::Load(flags, addr, offset) => InstructionData::Load {
            opcode,
            flags: *flags,
            arg: value(*addr)?,
            offset: *offset,
        },
        Operands::Store(flags, [v, addr], offset) => InstructionData::Store {
            opcode,
            flags: *flags,
            args: [value(*v)?, value(*addr)?],
            offset: *offset,
        },
        Operands::StackLoad(s, offset) => InstructionData::StackLoad {
            opcode,
            slot: slot(func, *s)?,
            offset: *offset,
        },
        Operands::StackStore(v, s, offset) => InstructionData::StackStore {
            opcode,
            arg: value(*v)?,
            slot: slot(func, *s)?,
            offset: *offset,
        },
        Operands::Jump(dest) => InstructionData::Jump {
            opcode,
            dest: block_call(func, dest)?,
        },
        Operands::Brif(c, [a, b]) => InstructionData::Brif {
            opcode,
            arg: value(*c)?,
            blocks: [block_call(func, a)?, block_call(func, b)?],
        },
        Operands::BrTable(i, default, targets) => {
            let default = block_call(func, default)?;
            let targets = targets
                .iter()
                .map(|t| block_call(func, t))
                .collect::<Result<Vec<_>, _>>()?;
            let table: JumpTable = func
                .dfg
                .jump_tables
                .push(JumpTableData::new(default, targets));
            InstructionData::BranchTable {
                opcode,
                arg: value(*i)?,
                table,
            }
        }
        Operands::Call(f, args) => {
            let func_ref = FuncRef::from_u32(*f);
            if !func.dfg.ext_funcs.is_valid(func_ref) {
                return Err(err(format!("fn{f} is not declared")));
            }
            let args = args
                .iter()
                .map(|&v| value(v))
                .collect::<Result<Vec<_>, _>>()?;
            InstructionData::Call {
                opcode,
                func_ref,
                args: func.dfg.value_lists.alloc(args),
            }
        }
        Operands::CallIndirect(sig, args) => {
            let sig_ref = SigRef::from_u32(*sig);
            if !func.dfg.signatures.is_valid(sig_ref) {
                return Err(err(format!("sig{sig} is not declared")));
            }
            let args = args
                .iter()
                .map(|&v| value(v))
                .collect::<Result<Vec<_>, _>>()?;
            InstructionData::CallIndirect {
                opcode,
                sig_ref,
                args: func.dfg.value_lists.alloc(args),
            }
        }
        Operands::Trap(code) => InstructionData::Trap {
            opcode,
            code: *code,
        },
        Operands::CondTrap(v, code) => InstructionData::CondTrap {
            opcode,
            arg: value(*v)?,
            code: *code,
        },
        Operands::BinaryTrap([a, b], code) => InstructionData::BinaryTrap {
            opcode,
            args: [value(*a)?, value(*b)?],
            code: *code,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every opcode and format, printed as the printer prints.
    const ALL_FORMS: &str = "function %all(i64, i32, f64) -> i32, i64 wasm {
    ss0 = explicit_slot 16, align 3
    sig0 = (i64, i32) -> i32 wasm
    sig1 = (i64) system_v
    sig2 = (i64) -> i32 preserve_all
    fn0 = u0:7 sig0

block0(v0: i64, v1: i32, v2: f64):
    v3 = iconst.i32 -5
    v4 = f32const 0x3f800000
    v5 = f64const 0x3ff0000000000000
    v6 = iadd v1, v3
    v7 = isub v6, v1
    v8 = imul v7, v7
    v9 = sdiv v8, v1
    v10 = udiv v9, v1
    v11 = srem v10, v1
    v12 = urem v11, v1
    v13 = band v12, v1
    v14 = bor v13, v1
    v15 = bxor v14, v1
    v16 = ishl v15, v1
    v17 = ushr v16, v1
    v18 = sshr v17, v1
    v19 = rotl v18, v1
    v20 = rotr v19, v1
    v21 = bnot v20
    v22 = ineg v21
    v23 = clz v22
    v24 = ctz v23
    v25 = popcnt v24
    v26 = uextend.i64 v25
    v27 = sextend.i64 v25
    v28 = ireduce.i32 v27
    v29 = bitcast.f32 v28
    v30 = icmp slt v28, v25
    v31 = select v30, v28, v25
    v32 = fadd v2, v5
    v33 = fsub v32, v5
    v34 = fmul v33, v5
    v35 = fdiv v34, v5
    v36 = fmin v35, v5
    v37 = fmax v36, v5
    v38 = fcopysign v37, v5
    v39 = fneg v38
    v40 = fabs v39
    v41 = sqrt v40
    v42 = ceil v41
    v43 = floor v42
    v44 = trunc v43
    v45 = nearest v44
    v46 = fcmp uno v45, v2
    v47 = fpromote.f64 v4
    v48 = fdemote.f32 v47
    v49 = fcvt_to_sint.i32 v45
    v50 = fcvt_to_uint.i64 v45
    v51 = fcvt_to_sint_sat.i32 v48
    v52 = fcvt_to_uint_sat.i64 v48
    v53 = fcvt_from_sint.f64 v49
    v54 = fcvt_from_uint.f32 v50
    @002a v55 = load.i32 heap v0+8
    v56 = uload8.i32 notrap aligned v0-4
    v57 = sload8.i64 v0
    v58 = uload16.i32 readonly v0+2
    v59 = sload16.i64 v0
    v60 = uload32.i64 v0
    v61 = sload32.i64 v0
    store heap v55, v0+16
    istore8 v55, v0
    istore16 v55, v0
    istore32 v61, v0
    v62 = stack_load.i64 ss0+8
    stack_store v62, ss0
    v63 = stack_addr.i64 ss0
    trapz v55, trap1
    trapnz v55, trap2
    v64 = uadd_overflow_trap v60, v61, trap3
    v65 = call fn0(v0, v55)
    v66 = call_indirect sig0, v63(v0, v65)
    v67 = vconst.i32x4 0x00000004000000030000000200000001
    v68 = splat.i32x4 v1
    v69 = extractlane.i32 v68, 3
    v70 = insertlane v67, v69, 0
    v71 = bitcast.i8x16 v70
    v72 = shuffle v71, v71, [0 1 2 3 16 17 18 19 4 5 6 7 20 21 22 31]
    v73 = icmp eq v70, v68
    v74 = sadd_sat v71, v71
    v75 = uadd_sat v74, v71
    v76 = ssub_sat v75, v71
    v77 = usub_sat v76, v71
    v78 = smin v70, v68
    v79 = umin v78, v68
    v80 = smax v79, v68
    v81 = umax v80, v68
    v82 = avg_round v77, v71
    v83 = band_not v82, v71
    v84 = iabs v81
    v85 = bitselect v83, v82, v71
    v86 = vany_true v85
    v87 = vall_true v84
    v88 = vhigh_bits.i32 v85
    v89 = bitcast.f32x4 v70
    v91 = fmin_pseudo v89, v89
    v92 = fmax_pseudo v91, v89
    v93 = swiden_low.i16x8 v71
    v94 = swiden_high.i16x8 v71
    v95 = uwiden_low.i32x4 v93
    v96 = uwiden_high.i32x4 v94
    v97 = snarrow.i16x8 v95, v96
    v98 = unarrow.i8x16 v97, v93
    v99 = swizzle v98, v71
    v100 = widening_pairwise_dot_product_s.i32x4 v97, v93
    v101 = fcvt_low_from_sint.f64x2 v70
    v102 = fvpromote_low.f64x2 v89
    v103 = fvdemote.f32x4 v102
    v104 = sqmul_round_sat v97, v97
    v105 = fcvt_from_sint.f32x4 v70
    v106 = fcvt_low_from_uint.f64x2 v70
    v107 = iadd_pairwise v97, v97
    v108 = widening_pairwise_dot_product_us_sat.i16x8 v71, v98
    v109 = fcvt_to_sint_sat.i32x4 v89
    v110 = fcvt_to_uint_sat.i32x4 v101
    v111 = smul_widen_low.i16x8 v71, v71
    v112 = smul_widen_high.i32x4 v97, v97
    v113 = umul_widen_low.i64x2 v70, v70
    v114 = umul_widen_high.i64x2 v70, v70
    brif v30, block1(v66), block2

block1(v90: i32):
    br_table v90, block2, [block1(v90), block3]

block2:
    jump block3

block3:
    trap trap4

block4:
    return v1, v0
}
";

    #[test]
    fn every_opcode_round_trips_through_the_text_format() {
        let func = parse_function_text(ALL_FORMS).unwrap();
        assert_eq!(func.to_string(), ALL_FORMS);
        crate::verifier::verify_function(&func).unwrap();
        let mut seen: Vec<Opcode> = func
            .layout
            .blocks()
            .flat_map(|b| func.layout.block_insts(b).collect::<Vec<_>>())
            .map(|i| func.dfg.inst(i).opcode())
            .collect();
        seen.sort();
        seen.dedup();
        assert_eq!(seen, Opcode::ALL.to_vec(), "the test covers every opcode");
    }

    #[test]
    fn forward_references_and_sparse_numbers_keep_their_numbers() {
        let text = "function %loop(i32) -> i32 wasm {
block0(v0: i32):
    jump block5(v0)

block5(v7: i32):
    v9 = iadd v7, v8
    brif v9, block5(v9), block6

block6:
    v8 = iconst.i32 1
    return v9
}
";
        let func = parse_function_text(text).unwrap();
        assert_eq!(func.to_string(), text);
    }

    #[test]
    fn errors_name_the_line() {
        let cases = [
            (
                "function %f() wasm {\nblock0:\n    v0 = bogus v1\n}",
                3,
                "unknown opcode",
            ),
            (
                "function %f() wasm {\nblock0:\n    return v4\n}",
                3,
                "never defined",
            ),
            (
                "function %f() wasm {\nblock0:\n    jump block1\n}",
                3,
                "block1 is not defined",
            ),
            (
                "function %f() wasm {\nblock0:\n    v0 = iconst.i32 1\n    v0 = iconst.i32 2\n}",
                4,
                "defined twice",
            ),
            (
                "function %f() wasm {\nblock0:\n    v0 = iadd v1\n}",
                3,
                "takes 2 operands",
            ),
            (
                "function %f() wasm {\n    v0 = iconst.i32 1\n}",
                2,
                "before the first block",
            ),
            (
                "function %f() wasm {\nblock0:\n    v0, v1 = iconst.i32 1\n}",
                3,
                "has 1 results",
            ),
            ("function %f() wasm {\nblock0:\n    return\n", 1, "closing"),
            (
                "function %f(i8x16) wasm {\nblock0(v0: i8x16):\n    v1 = shuffle v0, v0, [0 1]\n}",
                3,
                "mask has 16 bytes",
            ),
        ];
        for (text, line, message) in cases {
            let error = parse_functions(text).unwrap_err();
            assert_eq!(error.line, line, "{text}: {error}");
            assert!(error.message.contains(message), "{text}: {error}");
        }
    }
}
