//! The verifier: checks a function's invariants and reports every
//! violation (not just the first), each naming the instruction or block.
//!
//! What holds in a verified function:
//!
//! * **Structure.** There is an entry block, whose parameters have the
//!   signature's types. Every laid-out block is non-empty and ends with its
//!   only terminator. Branches target laid-out blocks other than the entry.
//! * **Operands.** Each instruction's operands have its opcode's format,
//!   name existing entities (values, blocks, slots, signatures, functions),
//!   and the results are those the opcode and controlling type make.
//! * **Types.** Each opcode's operand and result types fit its rule (both
//!   operands of `iadd` and its result share one integer type, `uextend`
//!   widens, loads take an `i64` address, branch arguments match the
//!   target's parameters, returns match the signature, ...). A lane-wise
//!   operation takes vectors where it takes scalars, of integer or float
//!   lanes as it takes integers or floats (a shift amount stays a scalar);
//!   a comparison makes its operands' mask type; lane indexes are below
//!   the lane count, shuffle mask bytes below 32.
//! * **SSA.** Every value used is defined, and its definition dominates
//!   the use (a block parameter: its block dominates the use's block).
//!   Code unreachable from the entry is exempt, as it never runs.
//!
//! The optimizing pipeline runs the verifier after each pass in debug builds
//! and tests.

use crate::dominator_tree::DominatorTree;
use crate::entity::EntityRef;
use crate::flowgraph::ControlFlowGraph;
use crate::ir::{Block, BlockCall, Function, Inst, InstructionData, Opcode, Type, Value, ValueDef};
use core::fmt;

/// Where a problem is.
#[derive(Copy, Clone, PartialEq, Eq, Debug)]
pub enum Location {
    /// The function as a whole.
    Function,
    /// A block.
    Block(Block),
    /// An instruction.
    Inst(Inst),
}

/// One violated invariant.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct VerifierError {
    /// Where.
    pub location: Location,
    /// What.
    pub message: String,
}

/// Every violation found in a function.
#[derive(Clone, PartialEq, Eq, Debug, thiserror::Error)]
pub struct VerifierErrors(pub Vec<VerifierError>);

impl fmt::Display for VerifierErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            match e.location {
                Location::Function => write!(f, "function: {}", e.message)?,
                Location::Block(b) => write!(f, "{b}: {}", e.message)?,
                Location::Inst(inst) => write!(f, "{inst}: {}", e.message)?,
            }
        }
        Ok(())
    }
}

/// Checks `func`.
pub fn verify_function(func: &Function) -> Result<(), VerifierErrors> {
    let cfg = ControlFlowGraph::with_function(func);
    let domtree = DominatorTree::with_function(func, &cfg);
    let mut v = Verifier {
        func,
        domtree: &domtree,
        errors: Vec::new(),
    };
    v.run();
    if v.errors.is_empty() {
        Ok(())
    } else {
        Err(VerifierErrors(v.errors))
    }
}

struct Verifier<'a> {
    func: &'a Function,
    domtree: &'a DominatorTree,
    errors: Vec<VerifierError>,
}

impl Verifier<'_> {
    fn error(&mut self, location: Location, message: impl Into<String>) {
        self.errors.push(VerifierError {
            location,
            message: message.into(),
        });
    }

    fn run(&mut self) {
        let func = self.func;
        let Some(entry) = func.layout.entry_block() else {
            self.error(Location::Function, "no entry block");
            return;
        };
        let params: Vec<Type> = func
            .dfg
            .block_params(entry)
            .iter()
            .map(|&v| func.dfg.value_type(v))
            .collect();
        if params != func.signature.params {
            self.error(
                Location::Block(entry),
                format!(
                    "the entry block's parameters {params:?} differ from the signature's {:?}",
                    func.signature.params
                ),
            );
        }
        for block in func.layout.blocks() {
            let last = func.layout.last_inst(block);
            if last.is_none() {
                self.error(Location::Block(block), "an empty block");
            }
            for inst in func.layout.block_insts(block) {
                let opcode = func.dfg.inst(inst).opcode();
                if opcode.is_terminator() && Some(inst) != last {
                    self.error(
                        Location::Inst(inst),
                        "a terminator in the middle of a block",
                    );
                }
                if !opcode.is_terminator() && Some(inst) == last {
                    self.error(
                        Location::Inst(inst),
                        "the block does not end with a terminator",
                    );
                }
                self.inst(inst, entry);
            }
        }
    }

    fn ty(&self, v: Value) -> Type {
        self.func.dfg.value_type(v)
    }

    /// Checks that `v` is defined where `inst` uses it.
    fn use_of(&mut self, inst: Inst, v: Value) {
        let dfg = &self.func.dfg;
        if !dfg.value_is_valid(v) {
            self.error(
                Location::Inst(inst),
                format!("uses {v}, which does not exist"),
            );
            return;
        }
        let v = dfg.resolve_aliases(v);
        if dfg.is_placeholder(v) {
            self.error(
                Location::Inst(inst),
                format!("uses {v}, which is never defined"),
            );
            return;
        }
        let Some(use_block) = self.func.layout.inst_block(inst) else {
            return;
        };
        if !self.domtree.is_reachable(use_block) {
            return;
        }
        let dominated = match dfg.value_def(v) {
            ValueDef::Result(def, _) => {
                def != inst && self.domtree.inst_dominates(self.func, def, inst)
            }
            ValueDef::Param(block, _) => {
                self.func.layout.is_block_inserted(block)
                    && self.domtree.block_dominates(block, use_block)
            }
            ValueDef::Alias(_) => false,
        };
        if !dominated {
            self.error(
                Location::Inst(inst),
                format!("uses {v}, whose definition does not dominate the use"),
            );
        }
    }

    fn block_call(&mut self, inst: Inst, call: &BlockCall, entry: Block) {
        let dfg = &self.func.dfg;
        if !dfg.block_is_valid(call.block) || !self.func.layout.is_block_inserted(call.block) {
            self.error(
                Location::Inst(inst),
                format!("branches to {}, which is not laid out", call.block),
            );
            return;
        }
        if call.block == entry {
            self.error(Location::Inst(inst), "branches to the entry block");
        }
        let args: Vec<Type> = call
            .args
            .as_slice(&dfg.value_lists)
            .iter()
            .map(|&v| self.ty(v))
            .collect();
        let params: Vec<Type> = dfg
            .block_params(call.block)
            .iter()
            .map(|&v| self.ty(v))
            .collect();
        if args != params {
            self.error(
                Location::Inst(inst),
                format!(
                    "passes {args:?} to {}, whose parameters are {params:?}",
                    call.block
                ),
            );
        }
    }

    fn inst(&mut self, inst: Inst, entry: Block) {
        let func = self.func;
        let dfg = &func.dfg;
        let data = *dfg.inst(inst);
        let opcode = data.opcode();
        let here = Location::Inst(inst);
        if data.format() != opcode.format() {
            self.error(
                here,
                format!("`{}` with operands of the wrong format", opcode.name()),
            );
            return;
        }
        let mut args = Vec::new();
        dfg.for_each_inst_arg(inst, |v| args.push(v));
        for &v in &args {
            self.use_of(inst, v);
        }
        if args.iter().any(|&v| !dfg.value_is_valid(v)) {
            return;
        }
        let results = dfg.inst_results(inst);
        let result = results.first().map(|&v| self.ty(v));
        if let Some(ctrl) = dfg.ctrl_type(inst) {
            let expected = dfg.result_types(&data, ctrl);
            let actual: Vec<Type> = results.iter().map(|&v| self.ty(v)).collect();
            if expected != actual {
                self.error(here, format!("results {actual:?}, expected {expected:?}"));
                return;
            }
        }
        let t = |v: Value| self.ty(v);
        let mut problem: Option<String> = None;
        let mut require = |ok: bool, what: &str| {
            if !ok && problem.is_none() {
                problem = Some(what.to_string());
            }
        };
        use InstructionData as D;
        use Opcode as O;
        match data {
            D::UnaryImm { imm, .. } => {
                let r = result.unwrap_or(Type::I64);
                require(r.is_int(), "iconst makes an integer");
                require(
                    r.bits() == 64
                        || (imm >= -(1i64 << (r.bits() - 1)) && imm < (1i64 << r.bits())),
                    "the immediate does not fit the type",
                );
            }
            D::UnaryIeee32 { .. } => require(result == Some(Type::F32), "f32const makes an f32"),
            D::UnaryIeee64 { .. } => require(result == Some(Type::F64), "f64const makes an f64"),
            D::UnaryConst { constant, .. } => {
                require(dfg.constant_is_valid(constant), "a constant in the pool");
                require(result.is_some_and(Type::is_vector), "makes a vector");
            }
            D::BinaryImm8 { arg, imm, .. } => {
                let a = t(arg);
                require(
                    a.is_vector() && result == Some(a.lane_type()),
                    "a vector and a result of its lane type",
                );
                require(
                    u32::from(imm) < a.lane_count(),
                    "a lane index below the lane count",
                );
            }
            D::TernaryImm8 {
                args: [a, b], imm, ..
            } => {
                let (a, b) = (t(a), t(b));
                require(
                    a.is_vector() && b == a.lane_type() && result == Some(a),
                    "a vector and a value of its lane type",
                );
                require(
                    u32::from(imm) < a.lane_count(),
                    "a lane index below the lane count",
                );
            }
            D::Shuffle {
                args: [a, b], mask, ..
            } => {
                require(
                    t(a) == Type::I8X16 && t(b) == Type::I8X16,
                    "two i8x16 operands",
                );
                let in_range = dfg.constant_is_valid(mask)
                    && dfg
                        .constant_bits(mask)
                        .to_le_bytes()
                        .iter()
                        .all(|&m| m < 32);
                require(in_range, "mask bytes below 32");
            }
            D::Unary { arg, .. } => {
                let (a, r) = (t(arg), result.unwrap_or(t(arg)));
                match opcode {
                    O::Bnot | O::Ineg | O::Clz | O::Ctz | O::Popcnt | O::Iabs => require(
                        a.is_int_lanes() && a == r,
                        "an integer operand and result of its type",
                    ),
                    O::Fneg | O::Fabs | O::Sqrt | O::Ceil | O::Floor | O::Trunc | O::Nearest => {
                        require(
                            a.is_float_lanes() && a == r,
                            "a float operand and result of its type",
                        )
                    }
                    O::SwidenLow | O::SwidenHigh | O::UwidenLow | O::UwidenHigh => require(
                        a.is_vector()
                            && a.is_int_lanes()
                            && r.is_vector()
                            && r.is_int_lanes()
                            && r.lane_type().bits() == 2 * a.lane_type().bits(),
                        "integer lanes widened to twice their width",
                    ),
                    O::VanyTrue | O::VallTrue => {
                        require(a.is_vector() && r == Type::I8, "a vector and an i8 result")
                    }
                    O::VhighBits => require(
                        a.is_vector() && r.is_int() && r.bits() >= a.lane_count(),
                        "a vector and an integer result with a bit per lane",
                    ),
                    O::Splat => require(
                        r.is_vector() && a == r.lane_type(),
                        "a vector result and an operand of its lane type",
                    ),
                    O::Uextend | O::Sextend => require(
                        a.is_int() && r.is_int() && a.bits() < r.bits(),
                        "extends to a wider integer",
                    ),
                    O::Ireduce => require(
                        a.is_int() && r.is_int() && a.bits() > r.bits(),
                        "reduces to a narrower integer",
                    ),
                    O::Bitcast => require(
                        a.bits() == r.bits() && a != r,
                        "reinterprets as another type of its size",
                    ),
                    O::Fpromote => require(a == Type::F32 && r == Type::F64, "f32 to f64"),
                    O::Fdemote => require(a == Type::F64 && r == Type::F32, "f64 to f32"),
                    O::FcvtToSint | O::FcvtToUint => require(
                        a.is_float() && matches!(r, Type::I32 | Type::I64),
                        "a float to i32 or i64",
                    ),
                    O::FcvtToSintSat | O::FcvtToUintSat => require(
                        (a.is_float() && matches!(r, Type::I32 | Type::I64))
                            || (matches!(a, Type::F32X4 | Type::F64X2) && r == Type::I32X4),
                        "a float to i32 or i64, or an f32x4 or f64x2 to an i32x4",
                    ),
                    O::FcvtFromSint | O::FcvtFromUint => require(
                        (matches!(a, Type::I32 | Type::I64) && r.is_float())
                            || (a == Type::I32X4 && r == Type::F32X4),
                        "i32 or i64 to a float, or an i32x4 to an f32x4",
                    ),
                    O::FcvtLowFromSint | O::FcvtLowFromUint => {
                        require(a == Type::I32X4 && r == Type::F64X2, "an i32x4 to an f64x2")
                    }
                    O::FvpromoteLow => {
                        require(a == Type::F32X4 && r == Type::F64X2, "an f32x4 to an f64x2")
                    }
                    O::Fvdemote => {
                        require(a == Type::F64X2 && r == Type::F32X4, "an f64x2 to an f32x4")
                    }
                    _ => require(false, "not a unary opcode"),
                }
            }
            D::Binary { args: [a, b], .. } => {
                let (a, b, r) = (t(a), t(b), result.unwrap_or(t(a)));
                match opcode {
                    O::Ishl | O::Ushr | O::Sshr | O::Rotl | O::Rotr => require(
                        a.is_int_lanes() && b.is_int() && a == r,
                        "an integer (or integer lanes) shifted by an integer",
                    ),
                    O::Fadd
                    | O::Fsub
                    | O::Fmul
                    | O::Fdiv
                    | O::Fmin
                    | O::Fmax
                    | O::Fcopysign
                    | O::FminPseudo
                    | O::FmaxPseudo => require(
                        a.is_float_lanes() && a == b && a == r,
                        "two floats of one type",
                    ),
                    O::Snarrow | O::Unarrow => require(
                        a.is_vector()
                            && a.is_int_lanes()
                            && a == b
                            && r.is_vector()
                            && r.is_int_lanes()
                            && 2 * r.lane_type().bits() == a.lane_type().bits(),
                        "two vectors of integer lanes narrowed to half their width",
                    ),
                    O::Swizzle => require(
                        a == Type::I8X16 && b == Type::I8X16 && r == Type::I8X16,
                        "two i8x16s",
                    ),
                    O::WideningPairwiseDotProductS => require(
                        a == Type::I16X8 && b == Type::I16X8 && r == Type::I32X4,
                        "two i16x8s and an i32x4 result",
                    ),
                    O::WideningPairwiseDotProductUsSat => require(
                        a == Type::I8X16 && b == Type::I8X16 && r == Type::I16X8,
                        "two i8x16s and an i16x8 result",
                    ),
                    O::SmulWidenLow | O::SmulWidenHigh | O::UmulWidenLow | O::UmulWidenHigh => {
                        require(
                            a.is_vector()
                                && a.is_int_lanes()
                                && a == b
                                && r.is_vector()
                                && r.is_int_lanes()
                                && r.lane_type().bits() == 2 * a.lane_type().bits(),
                            "two vectors of integer lanes and a result of lanes twice as wide",
                        )
                    }
                    O::IaddPairwise => require(
                        matches!(a, Type::I16X8 | Type::I32X4) && a == b && a == r,
                        "two i16x8s or two i32x4s",
                    ),
                    _ => require(
                        a.is_int_lanes() && a == b && a == r,
                        "two integers of one type",
                    ),
                }
            }
            D::Ternary {
                args: [c, a, b], ..
            } => match opcode {
                O::Bitselect => require(
                    t(c).is_vector() && t(c) == t(a) && t(a) == t(b) && Some(t(a)) == result,
                    "three vectors of one type",
                ),
                _ => require(
                    t(c).is_int() && t(a) == t(b) && Some(t(a)) == result,
                    "an integer condition and two values of one type",
                ),
            },
            D::IntCompare { args: [a, b], .. } => {
                require(
                    t(a).is_int_lanes() && t(a) == t(b),
                    "two integers of one type",
                );
                require(result == Some(t(a).mask_type()), "the operands' mask type");
            }
            D::FloatCompare { args: [a, b], .. } => {
                require(
                    t(a).is_float_lanes() && t(a) == t(b),
                    "two floats of one type",
                );
                require(result == Some(t(a).mask_type()), "the operands' mask type");
            }
            D::Load { arg, .. } => {
                require(t(arg) == Type::I64, "an i64 address");
                let r = result.unwrap_or(Type::I64);
                let ok = match opcode {
                    O::Load => true,
                    O::Uload8 | O::Sload8 => r.is_int() && r.bits() > 8,
                    O::Uload16 | O::Sload16 => matches!(r, Type::I32 | Type::I64),
                    O::Uload32 | O::Sload32 => r == Type::I64,
                    _ => false,
                };
                require(ok, "a result wider than the access");
            }
            D::Store {
                args: [v, addr], ..
            } => {
                require(t(addr) == Type::I64, "an i64 address");
                let v = t(v);
                let ok = match opcode {
                    O::Store => true,
                    O::Istore8 => v.is_int() && v.bits() > 8,
                    O::Istore16 => matches!(v, Type::I32 | Type::I64),
                    O::Istore32 => v == Type::I64,
                    _ => false,
                };
                require(ok, "a value wider than the access");
            }
            D::StackLoad { slot, offset, .. } => {
                let size = match opcode {
                    O::StackAddr => {
                        require(result == Some(Type::I64), "an i64 address");
                        0
                    }
                    _ => result.map_or(0, |r| r.bytes()),
                };
                match func.stack_slots.get(slot) {
                    Some(s) => require(
                        offset >= 0 && offset as u64 + u64::from(size) <= u64::from(s.size),
                        "an access inside the slot",
                    ),
                    None => require(false, "an existing stack slot"),
                }
            }
            D::StackStore {
                arg, slot, offset, ..
            } => match func.stack_slots.get(slot) {
                Some(s) => require(
                    offset >= 0 && offset as u64 + u64::from(t(arg).bytes()) <= u64::from(s.size),
                    "an access inside the slot",
                ),
                None => require(false, "an existing stack slot"),
            },
            D::Jump { dest, .. } => self.block_call(inst, &dest, entry),
            D::Brif { arg, blocks, .. } => {
                require(t(arg).is_int(), "an integer condition");
                for call in blocks {
                    self.block_call(inst, &call, entry);
                }
            }
            D::BranchTable { arg, table, .. } => {
                require(t(arg) == Type::I32, "an i32 index");
                match dfg.jump_tables.get(table) {
                    Some(table) => {
                        for call in table.all() {
                            self.block_call(inst, call, entry);
                        }
                    }
                    None => require(false, "an existing jump table"),
                }
            }
            D::Call {
                func_ref,
                args: list,
                ..
            } => match dfg.ext_funcs.get(func_ref) {
                Some(ext) => match dfg.signatures.get(ext.signature) {
                    Some(sig) => {
                        let given: Vec<Type> = list
                            .as_slice(&dfg.value_lists)
                            .iter()
                            .map(|&v| t(v))
                            .collect();
                        require(
                            given == sig.params,
                            "arguments of the callee's parameter types",
                        );
                    }
                    None => require(false, "an existing signature"),
                },
                None => require(false, "an existing function"),
            },
            D::CallIndirect {
                sig_ref,
                args: list,
                ..
            } => match dfg.signatures.get(sig_ref) {
                Some(sig) => {
                    let all: Vec<Type> = list
                        .as_slice(&dfg.value_lists)
                        .iter()
                        .map(|&v| t(v))
                        .collect();
                    require(all.first() == Some(&Type::I64), "an i64 callee");
                    require(
                        all.get(1..) == Some(&sig.params[..]),
                        "arguments of the signature's parameter types",
                    );
                }
                None => require(false, "an existing signature"),
            },
            D::MultiAry { args: list, .. } => {
                let given: Vec<Type> = list
                    .as_slice(&dfg.value_lists)
                    .iter()
                    .map(|&v| t(v))
                    .collect();
                require(
                    given == func.signature.returns,
                    "values of the signature's result types",
                );
            }
            D::Trap { .. } => {}
            D::CondTrap { arg, .. } => require(t(arg).is_int(), "an integer condition"),
            D::BinaryTrap { args: [a, b], .. } => require(
                t(a).is_int() && t(a) == t(b) && Some(t(a)) == result,
                "two integers of one type",
            ),
        }
        if let Some(p) = problem {
            self.error(here, format!("`{}` needs {p}", opcode.name()));
        }
        // Catch entity numbers past the end (instructions built by hand).
        debug_assert!(inst.index() < dfg.num_insts());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parser::parse_function_text;

    fn errors(text: &str) -> String {
        let func = parse_function_text(text).unwrap();
        match verify_function(&func) {
            Ok(()) => String::new(),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn valid_functions_pass() {
        let text = "function %f(i64, i32) -> i32 wasm {
block0(v0: i64, v1: i32):
    v2 = load.i32 heap v0+8
    v3 = iadd v1, v2
    v4 = icmp slt v3, v1
    brif v4, block1(v3), block2
block1(v5: i32):
    return v5
block2:
    v6 = uextend.i64 v1
    v7 = ireduce.i32 v6
    return v7
}";
        assert_eq!(errors(text), "");
    }

    #[test]
    fn each_kind_of_violation_is_reported() {
        let cases = [
            // Type rules.
            (
                "block0(v0: i64, v1: i32):\n    v2 = iadd v0, v1\n    return v1",
                "two integers of one type",
            ),
            (
                "block0(v0: i64, v1: i32):\n    v2 = uextend.i32 v1\n    return v1",
                "extends to a wider integer",
            ),
            (
                "block0(v0: i64, v1: i32):\n    v2 = load.i32 v1\n    return v2",
                "an i64 address",
            ),
            (
                "block0(v0: i64, v1: i32):\n    return v0",
                "the signature's result types",
            ),
            (
                "block0(v0: i64, v1: i32):\n    v2 = fadd v1, v1\n    return v1",
                "two floats",
            ),
            // Vectors: lane types, lane indexes, masks.
            (
                "block0(v0: i64, v1: i32):\n    v2 = splat.i16x8 v1\n    return v1",
                "an operand of its lane type",
            ),
            (
                "block0(v0: i64, v1: i32):\n    v2 = splat.i32x4 v1\n    v3 = extractlane.i32 v2, 4\n    return v1",
                "a lane index below the lane count",
            ),
            (
                "block0(v0: i64, v1: i32):\n    v2 = splat.i32x4 v1\n    v3 = extractlane.i64 v2, 1\n    return v1",
                "a result of its lane type",
            ),
            (
                "block0(v0: i64, v1: i32):\n    v2 = splat.i32x4 v1\n    v3 = insertlane v2, v0, 1\n    return v1",
                "a value of its lane type",
            ),
            (
                "block0(v0: i64, v1: i32):\n    v2 = splat.i32x4 v1\n    v3 = shuffle v2, v2, [0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15]\n    return v1",
                "two i8x16 operands",
            ),
            (
                "block0(v0: i64, v1: i32):\n    v2 = vconst.i8x16 0\n    v3 = shuffle v2, v2, [0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 32]\n    return v1",
                "mask bytes below 32",
            ),
            (
                "block0(v0: i64, v1: i32):\n    v2 = splat.f32x4 v1\n    return v1",
                "an operand of its lane type",
            ),
            (
                "block0(v0: i64, v1: i32):\n    v2 = vconst.f32x4 0\n    v3 = iadd v2, v2\n    return v1",
                "two integers of one type",
            ),
            (
                "block0(v0: i64, v1: i32):\n    v2 = vconst.i32x4 0\n    v3 = ishl v2, v2\n    return v1",
                "shifted by an integer",
            ),
            (
                "block0(v0: i64, v1: i32):\n    v2 = vconst.i32 0\n    return v1",
                "makes a vector",
            ),
            // Structure.
            (
                "block0(v0: i64, v1: i32):\n    v2 = iconst.i32 1",
                "does not end with a terminator",
            ),
            (
                "block0(v0: i64, v1: i32):\n    return v1\n    return v1",
                "in the middle of a block",
            ),
            (
                "block0(v0: i64):\n    return v0",
                "differ from the signature",
            ),
            (
                "block0(v0: i64, v1: i32):\n    jump block0",
                "branches to the entry block",
            ),
            (
                "block0(v0: i64, v1: i32):\n    jump block1\nblock1(v2: i32):\n    return v2",
                "passes [] to block1",
            ),
            // SSA.
            (
                "block0(v0: i64, v1: i32):\n    brif v1, block1, block2\nblock1:\n    v2 = iconst.i32 1\n    jump block2\nblock2:\n    return v2",
                "does not dominate",
            ),
            (
                "block0(v0: i64, v1: i32):\n    v2 = iadd v3, v1\n    v3 = iadd v1, v1\n    return v2",
                "does not dominate",
            ),
            (
                "block0(v0: i64, v1: i32):\n    v2 = iconst.i8 300\n    return v1",
                "does not fit",
            ),
        ];
        for (body, message) in cases {
            let text = format!("function %f(i64, i32) -> i32 wasm {{\n{body}\n}}");
            let found = errors(&text);
            assert!(
                found.contains(message),
                "{body}\nexpected `{message}`, got `{found}`"
            );
        }
    }

    #[test]
    fn unreachable_code_may_use_anything() {
        let text = "function %f(i32) -> i32 wasm {
block0(v0: i32):
    return v0
block1:
    v1 = iadd v2, v2
    jump block2(v1)
block2(v2: i32):
    jump block1
}";
        assert_eq!(errors(text), "");
    }
}
