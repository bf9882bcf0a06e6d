//! Printing functions in the text format (see the [module docs](super)).

use super::dfg::DataFlowGraph;
use super::entities::{Block, Inst, Value};
use super::function::Function;
use super::instructions::{BlockCall, InstructionData, Opcode};
use core::fmt::{self, Write};

impl Opcode {
    /// Whether the text format names the controlling type after the
    /// opcode: where no operand has it (constants, loads) or the operand's
    /// type differs (conversions).
    pub const fn prints_type(self) -> bool {
        matches!(
            self,
            Opcode::Iconst
                | Opcode::Vconst
                | Opcode::Splat
                | Opcode::Extractlane
                | Opcode::VhighBits
                | Opcode::SwidenLow
                | Opcode::SwidenHigh
                | Opcode::UwidenLow
                | Opcode::UwidenHigh
                | Opcode::Snarrow
                | Opcode::Unarrow
                | Opcode::WideningPairwiseDotProductS
                | Opcode::FcvtLowFromSint
                | Opcode::FcvtLowFromUint
                | Opcode::SmulWidenLow
                | Opcode::SmulWidenHigh
                | Opcode::UmulWidenLow
                | Opcode::UmulWidenHigh
                | Opcode::WideningPairwiseDotProductUsSat
                | Opcode::FvpromoteLow
                | Opcode::Fvdemote
                | Opcode::Load
                | Opcode::Uload8
                | Opcode::Sload8
                | Opcode::Uload16
                | Opcode::Sload16
                | Opcode::Uload32
                | Opcode::Sload32
                | Opcode::StackLoad
                | Opcode::StackAddr
                | Opcode::Uextend
                | Opcode::Sextend
                | Opcode::Ireduce
                | Opcode::Bitcast
                | Opcode::Fpromote
                | Opcode::Fdemote
                | Opcode::FcvtToSint
                | Opcode::FcvtToUint
                | Opcode::FcvtToSintSat
                | Opcode::FcvtToUintSat
                | Opcode::FcvtFromSint
                | Opcode::FcvtFromUint
        )
    }
}

/// Writes `func` in the text format.
pub fn write_function(w: &mut dyn Write, func: &Function) -> fmt::Result {
    writeln!(w, "function %{}{} {{", func.name, func.signature)?;
    let mut preamble = false;
    for (slot, data) in func.stack_slots.iter() {
        writeln!(
            w,
            "    {slot} = explicit_slot {}, align {}",
            data.size, data.align_shift
        )?;
        preamble = true;
    }
    for (sig, data) in func.dfg.signatures.iter() {
        writeln!(w, "    {sig} = {data}")?;
        preamble = true;
    }
    for (f, data) in func.dfg.ext_funcs.iter() {
        writeln!(w, "    {f} = {} {}", data.name, data.signature)?;
        preamble = true;
    }
    if preamble {
        writeln!(w)?;
    }
    for (i, block) in func.layout.blocks().enumerate() {
        if i > 0 {
            writeln!(w)?;
        }
        write_block_header(w, &func.dfg, block)?;
        for inst in func.layout.block_insts(block) {
            write_inst(w, func, inst)?;
        }
    }
    writeln!(w, "}}")
}

fn write_block_header(w: &mut dyn Write, dfg: &DataFlowGraph, block: Block) -> fmt::Result {
    write!(w, "{block}")?;
    let params = dfg.block_params(block);
    if !params.is_empty() {
        w.write_char('(')?;
        for (i, &v) in params.iter().enumerate() {
            if i > 0 {
                w.write_str(", ")?;
            }
            write!(w, "{v}: {}", dfg.value_type(v))?;
        }
        w.write_char(')')?;
    }
    writeln!(w, ":")
}

/// `v1, v2` (aliases resolved: the printed function uses only real values).
fn write_values(w: &mut dyn Write, dfg: &DataFlowGraph, values: &[Value]) -> fmt::Result {
    for (i, &v) in values.iter().enumerate() {
        if i > 0 {
            w.write_str(", ")?;
        }
        write!(w, "{}", dfg.resolve_aliases(v))?;
    }
    Ok(())
}

fn write_block_call(w: &mut dyn Write, dfg: &DataFlowGraph, call: &BlockCall) -> fmt::Result {
    write!(w, "{}", call.block)?;
    let args = call.args.as_slice(&dfg.value_lists);
    if !args.is_empty() {
        w.write_char('(')?;
        write_values(w, dfg, args)?;
        w.write_char(')')?;
    }
    Ok(())
}

/// `v0+8`, `v0-8` or `v0`.
fn write_offset(w: &mut dyn Write, offset: i32) -> fmt::Result {
    if offset != 0 {
        write!(w, "{offset:+}")?;
    }
    Ok(())
}

fn write_inst(w: &mut dyn Write, func: &Function, inst: Inst) -> fmt::Result {
    let dfg = &func.dfg;
    w.write_str("    ")?;
    if let Some(loc) = func.srclocs[inst] {
        write!(w, "@{:04x} ", loc.0)?;
    }
    let results = dfg.inst_results(inst);
    if !results.is_empty() {
        write_values(w, dfg, results)?;
        w.write_str(" = ")?;
    }
    let data = dfg.inst(inst);
    let opcode = data.opcode();
    w.write_str(opcode.name())?;
    if opcode.prints_type()
        && let Some(ty) = dfg.ctrl_type(inst)
    {
        write!(w, ".{ty}")?;
    }
    let r = |v: Value| dfg.resolve_aliases(v);
    match *data {
        InstructionData::UnaryImm { imm, .. } => write!(w, " {imm}")?,
        InstructionData::UnaryIeee32 { imm, .. } => write!(w, " {imm:#010x}")?,
        InstructionData::UnaryIeee64 { imm, .. } => write!(w, " {imm:#018x}")?,
        InstructionData::UnaryConst { constant, .. } => {
            write!(w, " {:#034x}", dfg.constant_bits(constant))?
        }
        InstructionData::BinaryImm8 { arg, imm, .. } => write!(w, " {}, {imm}", r(arg))?,
        InstructionData::TernaryImm8 { args, imm, .. } => {
            write!(w, " {}, {}, {imm}", r(args[0]), r(args[1]))?
        }
        InstructionData::Shuffle { args, mask, .. } => {
            write!(w, " {}, {}, [", r(args[0]), r(args[1]))?;
            let bytes = dfg.constant_bits(mask).to_le_bytes();
            for (i, byte) in bytes.iter().enumerate() {
                let sep = if i == 0 { "" } else { " " };
                write!(w, "{sep}{byte}")?;
            }
            w.write_char(']')?;
        }
        InstructionData::Unary { arg, .. } => write!(w, " {}", r(arg))?,
        InstructionData::Binary { args, .. } => write!(w, " {}, {}", r(args[0]), r(args[1]))?,
        InstructionData::Ternary { args, .. } => {
            write!(w, " {}, {}, {}", r(args[0]), r(args[1]), r(args[2]))?
        }
        InstructionData::IntCompare { cond, args, .. } => {
            write!(w, " {cond} {}, {}", r(args[0]), r(args[1]))?
        }
        InstructionData::FloatCompare { cond, args, .. } => {
            write!(w, " {cond} {}, {}", r(args[0]), r(args[1]))?
        }
        InstructionData::Load {
            flags, arg, offset, ..
        } => {
            write!(w, " {flags}{}", r(arg))?;
            write_offset(w, offset)?;
        }
        InstructionData::Store {
            flags,
            args,
            offset,
            ..
        } => {
            write!(w, " {flags}{}, {}", r(args[0]), r(args[1]))?;
            write_offset(w, offset)?;
        }
        InstructionData::StackLoad { slot, offset, .. } => {
            write!(w, " {slot}")?;
            write_offset(w, offset)?;
        }
        InstructionData::StackStore {
            arg, slot, offset, ..
        } => {
            write!(w, " {}, {slot}", r(arg))?;
            write_offset(w, offset)?;
        }
        InstructionData::Jump { dest, .. } => {
            w.write_char(' ')?;
            write_block_call(w, dfg, &dest)?;
        }
        InstructionData::Brif { arg, blocks, .. } => {
            write!(w, " {}, ", r(arg))?;
            write_block_call(w, dfg, &blocks[0])?;
            w.write_str(", ")?;
            write_block_call(w, dfg, &blocks[1])?;
        }
        InstructionData::BranchTable { arg, table, .. } => {
            let table = &dfg.jump_tables[table];
            write!(w, " {}, ", r(arg))?;
            write_block_call(w, dfg, &table.default())?;
            w.write_str(", [")?;
            for (i, call) in table.targets().iter().enumerate() {
                if i > 0 {
                    w.write_str(", ")?;
                }
                write_block_call(w, dfg, call)?;
            }
            w.write_char(']')?;
        }
        InstructionData::Call { func_ref, args, .. } => {
            write!(w, " {func_ref}(")?;
            write_values(w, dfg, args.as_slice(&dfg.value_lists))?;
            w.write_char(')')?;
        }
        InstructionData::CallIndirect { sig_ref, args, .. } => {
            let args = args.as_slice(&dfg.value_lists);
            write!(w, " {sig_ref}, {}(", r(args[0]))?;
            write_values(w, dfg, &args[1..])?;
            w.write_char(')')?;
        }
        InstructionData::MultiAry { args, .. } => {
            let args = args.as_slice(&dfg.value_lists);
            if !args.is_empty() {
                w.write_char(' ')?;
                write_values(w, dfg, args)?;
            }
        }
        InstructionData::Trap { code, .. } => write!(w, " {code}")?,
        InstructionData::CondTrap { arg, code, .. } => write!(w, " {}, {code}", r(arg))?,
        InstructionData::BinaryTrap { args, code, .. } => {
            write!(w, " {}, {}, {code}", r(args[0]), r(args[1]))?
        }
    }
    writeln!(w)
}

impl fmt::Display for Function {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_function(f, self)
    }
}
