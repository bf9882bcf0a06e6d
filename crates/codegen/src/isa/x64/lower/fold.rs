//! The folding policy of the x64 lowering, stated once: which definitions
//! may fold into which operand of which instruction, which of them wait
//! for their use to do so, and what keeps a load in place.
//!
//! # What folds into what
//!
//! A definition *folds* into an instruction using it when the machine
//! instructions that use is lowered to absorb the definition instead of
//! reading its result from a register. Four kinds of definitions fold
//! ([`Fold`]):
//!
//! ```text
//!   Fold          definition                          becomes
//!   Load          `load` of an i32, i64, f32 or f64   the memory operand   add eax, [rdi+8]
//!   VectorLoad    `load` of a vector                  the memory operand   vpaddd x, y, [rdi]
//!                 (with AVX only)
//!   Sum           64-bit `iadd`                       address base+index   mov eax, [rdi+rsi+8]
//!   ScaledIndex   i32/i64 `ishl` by 1, 2 or 3         index*scale          lea rax, [rdi+rsi*4]
//!                                                                        lea eax, [rsi*4+16]
//!   Compare       `icmp` of i32s or i64s              the flags            cmp edi, esi; cmovl
//! ```
//!
//! and [`SITES`] lists, one line each, the operands each may fold into.
//! A vector load folds only where the CPU has AVX: a legacy SSE memory
//! operand must be 16-byte aligned, which a wasm address need not be,
//! while a VEX one need not (`sinkable_vector_load` in `context` asks
//! for AVX, for a VEX twin of the user's operation, and for this table).
//! [`folds_into`] answers from that table alone.
//!
//! Two folds are not in the table, because one side alone does them:
//!
//! - *Immediates.* A constant is never lowered where it stands: it is
//!   materialized in each block that needs it in a register, at that use
//!   (`Lower::reg`), by a flag-preserving `mov`. So whether a rule takes it
//!   as an immediate (`simm32_operand`, `store_imm`, `shift_amount`,
//!   `low32_mask` in `context`) changes nothing the driver decides; the
//!   rules alone choose.
//! - *A `brif`'s condition.* `brif` is lowered in Rust, not by a rule:
//!   [`Lower::sink_brif_compare`] says when its compare folds into it,
//!   and [`Lower::branch_foldable_load`] when that compare's second
//!   operand, a load that cannot trap, becomes the `cmp`'s memory operand
//!   (`Lower::flush_loads` keeps such a load waiting for the branch).
//!
//! # How the driver and the rules obey it
//!
//! *The driver* (`driver`) lowers most instructions where they stand. It
//! *defers* a `Sum`, a `ScaledIndex` or a `Compare` (lowers it at a use,
//! or never if every use folds it) exactly when every use of it is a site
//! of its fold ([`Lower::worth_deferring`], over `Lower::unfoldable_use`,
//! which the driver fills from [`folds_into`]). Before a rule runs,
//! `prepare_operands` leaves to it the deferred operands at sites, and
//! materializes every other deferred operand first. A local load is
//! always deferred, to be lowered at its first use at the latest or where
//! an effect stops it (below); it folds only at a `Load` site.
//!
//! *The rules* (`isle/codegen/x64/lower.isle`) fold only through the
//! extractors in `context`: `sinkable_load` (a load at a `Load` site of
//! the instruction being lowered: it asks [`folds_into`]), and
//! `fusable_icmp`, `lea_amode` and `amode` (the latter two through
//! [`Lower::address_sum`] and [`Lower::address`]), which take nothing but
//! deferred definitions
//! ([`Lower::deferred_fold`]). A deferred definition has only uses at
//! sites, so these fold at sites only.
//!
//! So no rule can fold anything at an operand the table does not name.
//! The converse, that a rule does fold at every site the table names (so
//! that the driver never defers a value for nothing), is what the test at
//! the end of this file checks, for every operand of every instruction
//! shape in its list: the fold happens exactly where [`folds_into`] says.
//! Were they to disagree after all, the code stays correct: a deferred
//! definition no rule folds is lowered on demand where it is used (it
//! keeps its operands live longer, which is why deferral is kept to
//! sites).
//!
//! # Effects: what keeps a load in place
//!
//! A deferred load moves to its use, so it must not cross what could
//! change its result or the order of traps. [`has_effects`] says which
//! instructions stay where they are (they write memory, call, branch or
//! may trap); [`stops_loads`] which of them no load moves past (a store,
//! a call, a terminator). A load that may trap moves past no other
//! instruction that may. `Lower::flush_loads` in the driver applies
//! this.

use super::Lower;
use crate::ir::{DataFlowGraph, Inst, InstructionData, Opcode, Type, Value, ValueDef};
use cranelift_asm::x64::{GprReg, Scale};

/// A kind of definition that may fold into an instruction using it.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(super) enum Fold {
    /// A `load` of a whole `i32`, `i64`, `f32` or `f64`: the user's
    /// memory operand.
    Load,
    /// A 64-bit `iadd`: an address mode's base and index.
    Sum,
    /// An `ishl` of an `i32` or `i64` by 1, 2 or 3: an address mode's
    /// scaled index.
    ScaledIndex,
    /// An `icmp` of `i32`s or `i64`s: the flags the user tests.
    Compare,
    /// A `load` of a vector: the memory operand of the user's VEX form,
    /// where the CPU has AVX.
    VectorLoad,
}

/// Which operand of the user a [`Site`] is.
#[derive(Copy, Clone, Debug)]
pub(super) enum Operand {
    /// The operand at this index, in `DataFlowGraph::for_each_inst_arg`
    /// order.
    At(usize),
    /// Any operand.
    Any,
}

/// What the other operand of a binary user must be.
#[derive(Copy, Clone, Debug)]
pub(super) enum Beside {
    /// Anything.
    Anything,
    /// An `iconst` that fits a displacement (a signed 32-bit one), which is
    /// also what fits an instruction's 32-bit immediate.
    Displacement,
    /// Anything but such a constant.
    NoDisplacement,
}

/// The results a [`Site`]'s user must have.
#[derive(Copy, Clone, Debug)]
pub(super) enum Results {
    /// Whatever they are.
    Any,
    /// An integer (of any width).
    Integer,
}

/// An operand a [`Fold`] may fold into.
#[derive(Copy, Clone, Debug)]
pub(super) struct Site {
    /// The using instruction.
    pub user: Opcode,
    /// The result type the user must have.
    pub results: Results,
    /// Which of its operands.
    pub operand: Operand,
    /// What its other operand must be.
    pub beside: Beside,
    /// What may fold there.
    pub fold: Fold,
}

const fn site(user: Opcode, operand: Operand, fold: Fold) -> Site {
    Site {
        user,
        results: Results::Any,
        operand,
        beside: Beside::Anything,
        fold,
    }
}

/// Every operand a definition may fold into; the rules that do it in
/// `isle/codegen/x64/lower.isle` are named beside each group.
pub(super) const SITES: &[Site] = &[
    // `put_in_gpr_mem_imm`: `alu r, [m]`, `cmp r, [m]`; the second
    // operand only. An `iadd` with a constant first takes the constant as
    // the immediate and the second operand in a register (there is no
    // `alu r, [m], imm`).
    Site {
        beside: Beside::NoDisplacement,
        ..site(Opcode::Iadd, Operand::At(1), Fold::Load)
    },
    site(Opcode::Isub, Operand::At(1), Fold::Load),
    site(Opcode::Band, Operand::At(1), Fold::Load),
    site(Opcode::Bor, Operand::At(1), Fold::Load),
    site(Opcode::Bxor, Operand::At(1), Fold::Load),
    site(Opcode::Icmp, Operand::At(1), Fold::Load),
    site(Opcode::UaddOverflowTrap, Operand::At(1), Fold::Load),
    // `put_in_xmm_mem`: `addsd x, [m]`.
    site(Opcode::Fadd, Operand::At(1), Fold::Load),
    site(Opcode::Fsub, Operand::At(1), Fold::Load),
    site(Opcode::Fmul, Operand::At(1), Fold::Load),
    site(Opcode::Fdiv, Operand::At(1), Fold::Load),
    // `put_in_vec_mem` (`simd.isle`): `vpaddd x, y, [m]`, the lane-wise
    // operations of one packed instruction; the second operand only.
    site(Opcode::Iadd, Operand::At(1), Fold::VectorLoad),
    site(Opcode::Isub, Operand::At(1), Fold::VectorLoad),
    site(Opcode::Band, Operand::At(1), Fold::VectorLoad),
    site(Opcode::Bor, Operand::At(1), Fold::VectorLoad),
    site(Opcode::Bxor, Operand::At(1), Fold::VectorLoad),
    site(Opcode::SaddSat, Operand::At(1), Fold::VectorLoad),
    site(Opcode::UaddSat, Operand::At(1), Fold::VectorLoad),
    site(Opcode::SsubSat, Operand::At(1), Fold::VectorLoad),
    site(Opcode::UsubSat, Operand::At(1), Fold::VectorLoad),
    site(Opcode::Smin, Operand::At(1), Fold::VectorLoad),
    site(Opcode::Umin, Operand::At(1), Fold::VectorLoad),
    site(Opcode::Smax, Operand::At(1), Fold::VectorLoad),
    site(Opcode::Umax, Operand::At(1), Fold::VectorLoad),
    site(Opcode::AvgRound, Operand::At(1), Fold::VectorLoad),
    site(Opcode::Fadd, Operand::At(1), Fold::VectorLoad),
    site(Opcode::Fsub, Operand::At(1), Fold::VectorLoad),
    site(Opcode::Fmul, Operand::At(1), Fold::VectorLoad),
    site(Opcode::Fdiv, Operand::At(1), Fold::VectorLoad),
    // `amode`: a load's or store's address.
    site(Opcode::Load, Operand::At(0), Fold::Sum),
    site(Opcode::Uload8, Operand::At(0), Fold::Sum),
    site(Opcode::Sload8, Operand::At(0), Fold::Sum),
    site(Opcode::Uload16, Operand::At(0), Fold::Sum),
    site(Opcode::Sload16, Operand::At(0), Fold::Sum),
    site(Opcode::Uload32, Operand::At(0), Fold::Sum),
    site(Opcode::Sload32, Operand::At(0), Fold::Sum),
    site(Opcode::Store, Operand::At(1), Fold::Sum),
    site(Opcode::Istore8, Operand::At(1), Fold::Sum),
    site(Opcode::Istore16, Operand::At(1), Fold::Sum),
    site(Opcode::Istore32, Operand::At(1), Fold::Sum),
    // `lea_amode`: `lea` of three parts (a sum and a displacement), or
    // with a scaled index (beside a register or a displacement).
    Site {
        beside: Beside::Displacement,
        ..site(Opcode::Iadd, Operand::Any, Fold::Sum)
    },
    site(Opcode::Iadd, Operand::Any, Fold::ScaledIndex),
    // `fusable_icmp`: `cmp; cmovcc` (`cmov` has no XMM form).
    Site {
        results: Results::Integer,
        ..site(Opcode::Select, Operand::At(0), Fold::Compare)
    },
];

/// For each opcode (by its index in [`Opcode::ALL`]), a bit per [`Fold`]
/// that has a [`SITES`] line with it as the user: derived from the table at
/// compile time, so that [`folds_into`] answers the common "never" without
/// reading the table.
const USER_FOLDS: [u8; Opcode::ALL.len()] = {
    let mut bits = [0u8; Opcode::ALL.len()];
    let mut i = 0;
    while i < SITES.len() {
        bits[SITES[i].user as usize] |= 1 << SITES[i].fold as u8;
        i += 1;
    }
    bits
};

impl Fold {
    /// How `inst` may fold into its users, if it may.
    pub(super) fn of(dfg: &DataFlowGraph, inst: Inst) -> Option<Fold> {
        let &[result] = dfg.inst_results(inst) else {
            return None;
        };
        let ty = dfg.value_type(result);
        match *dfg.inst(inst) {
            InstructionData::Load {
                opcode: Opcode::Load,
                ..
            } if matches!(ty, Type::I32 | Type::I64 | Type::F32 | Type::F64) => Some(Fold::Load),
            InstructionData::Load {
                opcode: Opcode::Load,
                ..
            } if ty.is_vector() => Some(Fold::VectorLoad),
            InstructionData::Binary {
                opcode: Opcode::Iadd,
                ..
            } if ty == Type::I64 => Some(Fold::Sum),
            InstructionData::Binary {
                opcode: Opcode::Ishl,
                args,
            } if matches!(ty, Type::I32 | Type::I64) && index_scale(dfg, args[1]).is_some() => {
                Some(Fold::ScaledIndex)
            }
            InstructionData::IntCompare { args, .. }
                if matches!(dfg.value_type(args[0]), Type::I32 | Type::I64) =>
            {
                Some(Fold::Compare)
            }
            _ => None,
        }
    }
}

/// Whether `fold` may fold into operand `operand` of `user` ([`SITES`]).
pub(super) fn folds_into(dfg: &DataFlowGraph, user: Inst, operand: usize, fold: Fold) -> bool {
    let data = dfg.inst(user);
    if USER_FOLDS[data.opcode() as usize] & (1 << fold as u8) == 0 {
        return false;
    }
    let results_ok = |results: Results| match results {
        Results::Any => true,
        Results::Integer => dfg
            .inst_results(user)
            .first()
            .is_some_and(|&v| dfg.value_type(v).is_int()),
    };
    let beside_ok = |beside: Beside| {
        let other = match *data {
            InstructionData::Binary { args, .. } if operand < 2 => args[1 - operand],
            _ => return matches!(beside, Beside::Anything),
        };
        match beside {
            Beside::Anything => true,
            Beside::Displacement => displacement(dfg, other).is_some(),
            Beside::NoDisplacement => displacement(dfg, other).is_none(),
        }
    };
    SITES.iter().any(|site| {
        site.fold == fold
            && site.user == data.opcode()
            && results_ok(site.results)
            && match site.operand {
                Operand::At(i) => i == operand,
                Operand::Any => true,
            }
            && beside_ok(site.beside)
    })
}

/// Whether `inst` must stay where it is: it writes memory, calls,
/// branches, or may trap (a load or store flagged `notrap` cannot).
pub(super) fn has_effects(dfg: &DataFlowGraph, inst: Inst) -> bool {
    let data = dfg.inst(inst);
    let opcode = data.opcode();
    let trap = match data {
        InstructionData::Load { flags, .. } | InstructionData::Store { flags, .. } => {
            !flags.notrap()
        }
        _ => opcode.can_trap(),
    };
    trap || opcode.can_store() || opcode.is_call() || opcode.is_terminator()
}

/// Whether no load moves past an instruction with `opcode`, trapping or
/// not: it may write what the load reads (a store, a call), or leaves the
/// block (a terminator).
pub(super) fn stops_loads(opcode: Opcode) -> bool {
    opcode.can_store() || opcode.is_call() || opcode.is_terminator()
}

/// The constant `v` if it is an `iconst` (sign-extended from its type).
pub(super) fn iconst_value(dfg: &DataFlowGraph, v: Value) -> Option<i64> {
    let v = dfg.resolve_aliases(v);
    let ValueDef::Result(inst, _) = dfg.value_def(v) else {
        return None;
    };
    match *dfg.inst(inst) {
        InstructionData::UnaryImm {
            opcode: Opcode::Iconst,
            imm,
        } => Some(dfg.value_type(v).sign_extend(imm)),
        _ => None,
    }
}

/// The constant `v` if it is an `iconst` that fits a displacement.
fn displacement(dfg: &DataFlowGraph, v: Value) -> Option<i32> {
    iconst_value(dfg, v).and_then(|c| i32::try_from(c).ok())
}

/// The scale of an index shifted left by `amount`, if it is a constant 1,
/// 2 or 3.
fn index_scale(dfg: &DataFlowGraph, amount: Value) -> Option<Scale> {
    match iconst_value(dfg, amount)? {
        shift @ 1..=3 => Some(Scale::new(1 << shift).expect("1 to 3 make a scale")),
        _ => None,
    }
}

/// An address mode's base, index and displacement.
pub(super) type AddressParts = (Option<GprReg>, Option<(GprReg, Scale)>, i32);

impl Lower<'_> {
    /// Whether pure `inst` should wait for its uses instead of being
    /// lowered where it stands: when a rule may fold it into every one of
    /// them. Everything else is lowered in program order, which keeps the
    /// order the mid-end left, and with it the register pressure: lowering
    /// an `imul` at its first use instead would keep its operands live
    /// until then.
    pub(super) fn worth_deferring(&self, inst: Inst) -> bool {
        let dfg = &self.func.dfg;
        matches!(
            Fold::of(dfg, inst),
            Some(Fold::Sum | Fold::ScaledIndex | Fold::Compare)
        ) && !self.unfoldable_use[dfg.first_result(inst)]
    }

    /// How the definition of `v` folds, and its data, if it is still
    /// deferred: the only definitions the rules' extractors fold.
    pub(super) fn deferred_fold(&self, v: Value) -> Option<(Fold, InstructionData)> {
        let dfg = &self.func.dfg;
        let ValueDef::Result(inst, _) = dfg.value_def(dfg.resolve_aliases(v)) else {
            return None;
        };
        if !self.deferred[inst] {
            return None;
        }
        Fold::of(dfg, inst).map(|fold| (fold, *dfg.inst(inst)))
    }

    /// Whether `v` may fold into the instruction being lowered as `fold`:
    /// it is one of its operands at a site of `fold`.
    pub(super) fn folds_here(&self, v: Value, fold: Fold) -> bool {
        let dfg = &self.func.dfg;
        let Some(user) = self.current else {
            return false;
        };
        let v = dfg.resolve_aliases(v);
        let mut operand = 0;
        let mut here = false;
        dfg.for_each_inst_arg(user, |arg| {
            here |= dfg.resolve_aliases(arg) == v && folds_into(dfg, user, operand, fold);
            operand += 1;
        });
        here
    }

    /// The constant `v` if it is an `iconst`.
    pub(super) fn iconst_value(&self, v: Value) -> Option<i64> {
        iconst_value(&self.func.dfg, v)
    }

    /// `x + y + disp` as an address mode's parts: a constant folds into
    /// the displacement, a deferred [`Fold::ScaledIndex`] into the index
    /// and its scale.
    pub(super) fn address_sum(&mut self, x: Value, y: Value, disp: i32) -> AddressParts {
        let dfg = &self.func.dfg;
        for (a, b) in [(x, y), (y, x)] {
            if let Some(disp) = displacement(dfg, b).and_then(|c| c.checked_add(disp)) {
                return self.address(a, disp);
            }
        }
        for (a, b) in [(x, y), (y, x)] {
            if let Some((Fold::ScaledIndex, InstructionData::Binary { args, .. })) =
                self.deferred_fold(b)
            {
                let scale = index_scale(&self.func.dfg, args[1]).expect("a scaled index");
                let index = self.gpr(args[0]);
                return (Some(self.gpr(a)), Some((index, scale)), disp);
            }
        }
        // The index first: in wasm it is the `uextend` of an address
        // computed before the heap base is loaded.
        let index = self.gpr(y);
        (Some(self.gpr(x)), Some((index, Scale::One)), disp)
    }

    /// The address `v + disp` as an address mode's parts, folding a
    /// deferred [`Fold::Sum`] (the sum of a heap base and an index) or
    /// [`Fold::ScaledIndex`] (an index without a base: `address_sum`
    /// of a shift and a constant).
    pub(super) fn address(&mut self, v: Value, disp: i32) -> AddressParts {
        match self.deferred_fold(v) {
            Some((Fold::Sum, InstructionData::Binary { args, .. })) => {
                self.address_sum(args[0], args[1], disp)
            }
            Some((Fold::ScaledIndex, InstructionData::Binary { args, .. })) => {
                let scale = index_scale(&self.func.dfg, args[1]).expect("a scaled index");
                (None, Some((self.gpr(args[0]), scale)), disp)
            }
            _ => (Some(self.gpr(v)), None, disp),
        }
    }

    /// The load defining `v`, the second operand of `compare` (the `icmp`
    /// sunk into the block's `brif`), when it may be the `cmp`'s memory
    /// operand: a whole `i32` or `i64` load used there only, still
    /// deferred, that cannot trap (a load that may trap is not kept
    /// waiting for the branch: `flush_loads`).
    pub(super) fn branch_foldable_load(&self, compare: Inst, v: Value) -> Option<Inst> {
        let dfg = &self.func.dfg;
        let v = dfg.resolve_aliases(v);
        let ValueDef::Result(load, _) = dfg.value_def(v) else {
            return None;
        };
        let foldable = self.deferred[load]
            && self.uses[v] == 1
            && self.user[v] == Some(compare)
            && Fold::of(dfg, load) == Some(Fold::Load)
            && !has_effects(dfg, load)
            && folds_into(dfg, compare, 1, Fold::Load);
        foldable.then_some(load)
    }

    /// Marks [`Lower::sunk`] the `icmp` of `i32`s or `i64`s that `block`'s
    /// `brif` tests, when the `brif` is its only use (through `uextend`s
    /// used only there, wasm's `i32.eqz; br_if`) and it is in `block`:
    /// the `brif` becomes `cmp; jcc` (`driver`'s `lower_terminator`).
    pub(super) fn sink_brif_compare(&mut self, block: crate::ir::Block) {
        let func = self.func;
        let Some(last) = func.layout.last_inst(block) else {
            return;
        };
        let InstructionData::Brif { arg, .. } = *func.dfg.inst(last) else {
            return;
        };
        let mut chain = Vec::new();
        let mut cond = func.dfg.resolve_aliases(arg);
        while let ValueDef::Result(def, _) = func.dfg.value_def(cond)
            && self.uses[cond] == 1
            && func.layout.inst_block(def) == Some(block)
        {
            match *func.dfg.inst(def) {
                InstructionData::Unary {
                    opcode: Opcode::Uextend,
                    arg,
                } => {
                    chain.push(def);
                    cond = func.dfg.resolve_aliases(arg);
                }
                InstructionData::IntCompare { .. }
                    if Fold::of(&func.dfg, def) == Some(Fold::Compare) =>
                {
                    chain.push(def);
                    for inst in chain.drain(..) {
                        self.sunk[inst] = true;
                    }
                    break;
                }
                _ => break,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    //! The rules fold exactly where the table says: every foldable
    //! definition under every operand of many instruction shapes, lowered,
    //! and the VCode searched for the definition's own instruction.

    use super::{Fold, folds_into};
    use crate::ir::{Function, Inst};
    use crate::isa::x64::lower::lower_function;
    use crate::isa::x64::{CompileOptions, ImplicitTraps};
    use crate::machinst::Allocator;
    use crate::parser::parse_function_text;
    use cranelift_asm::TrapCode;
    use cranelift_asm::x64::CpuFeatures;

    const FOLDS: [Fold; 5] = [
        Fold::Load,
        Fold::Sum,
        Fold::ScaledIndex,
        Fold::Compare,
        Fold::VectorLoad,
    ];

    /// The instruction shapes: text with `{0}`, `{1}`, `{2}` for operands,
    /// operand types, result type. `return {0}` stands for the function's
    /// `return`.
    fn users() -> Vec<(String, Vec<&'static str>, Option<&'static str>)> {
        let mut users = Vec::new();
        for t in ["i32", "i64"] {
            for op in [
                "iadd", "isub", "imul", "band", "bor", "bxor", "ishl", "ushr", "sshr", "rotl",
                "rotr", "udiv", "sdiv", "urem", "srem",
            ] {
                users.push((format!("{op} {{0}}, {{1}}"), vec![t, t], Some(t)));
            }
            users.push(("icmp slt {0}, {1}".into(), vec![t, t], Some("i8")));
            users.push((
                "uadd_overflow_trap {0}, {1}, trap3".into(),
                vec![t, t],
                Some(t),
            ));
            for cond in ["i8", t] {
                users.push(("select {0}, {1}, {2}".into(), vec![cond, t, t], Some(t)));
            }
            for op in ["bnot", "ineg", "clz", "popcnt"] {
                users.push((format!("{op} {{0}}"), vec![t], Some(t)));
            }
            for op in ["load", "uload8", "sload16"] {
                let text = format!("{op}.{t} notrap aligned {{0}}+8");
                users.push((text, vec!["i64"], Some(t)));
            }
            for op in ["store", "istore8"] {
                let text = format!("{op} notrap aligned {{0}}, {{1}}+8");
                users.push((text, vec![t, "i64"], None));
            }
            users.push(("return {0}".into(), vec![t], Some(t)));
        }
        users.push(("uextend.i64 {0}".into(), vec!["i32"], Some("i64")));
        users.push(("uextend.i32 {0}".into(), vec!["i8"], Some("i32")));
        users.push(("return {0}".into(), vec!["i8"], Some("i8")));
        for f in ["f32", "f64"] {
            for op in ["fadd", "fsub", "fmul", "fdiv", "fmin", "fmax", "fcopysign"] {
                users.push((format!("{op} {{0}}, {{1}}"), vec![f, f], Some(f)));
            }
            users.push(("fcmp lt {0}, {1}".into(), vec![f, f], Some("i8")));
            users.push(("sqrt {0}".into(), vec![f], Some(f)));
            users.push(("select {0}, {1}, {2}".into(), vec!["i8", f, f], Some(f)));
            let load = format!("load.{f} notrap aligned {{0}}+8");
            users.push((load, vec!["i64"], Some(f)));
            let store = "store notrap aligned {0}, {1}+8".to_string();
            users.push((store, vec![f, "i64"], None));
            users.push(("return {0}".into(), vec![f], Some(f)));
        }
        // Vectors: the one-instruction lane-wise operations (a load folds
        // into the second operand), and others that take no memory operand.
        for (t, ops) in [
            (
                "i8x16",
                &[
                    "iadd",
                    "sadd_sat",
                    "umin",
                    "avg_round",
                    "band_not",
                    "swizzle",
                ][..],
            ),
            (
                "i32x4",
                &["isub", "imul", "band", "bor", "bxor", "smax"][..],
            ),
            ("i64x2", &["iadd", "imul"][..]),
            ("f64x2", &["fadd", "fsub", "fmul", "fdiv", "fmin"][..]),
        ] {
            for op in ops {
                users.push((format!("{op} {{0}}, {{1}}"), vec![t, t], Some(t)));
            }
            if t != "f64x2" {
                users.push(("bnot {0}".into(), vec![t], Some(t)));
            }
            users.push(("return {0}".into(), vec![t], Some(t)));
        }
        users
    }

    /// The definition of `fold` as an operand of type `ty`, as lines
    /// defining `v{first}` onwards, the last one the operand (`None` if it
    /// cannot have that type). Operands come from the parameters `v0` to
    /// `v4`.
    fn definition(fold: Fold, ty: &str, first: usize) -> Option<Vec<String>> {
        let v = |i: usize| format!("v{}", first + i);
        Some(match (fold, ty) {
            (Fold::Load, "i32" | "i64" | "f32" | "f64") => {
                vec![format!("{} = load.{ty} notrap aligned v0+64", v(0))]
            }
            (Fold::Sum, "i64") => vec![format!("{} = iadd v1, v2", v(0))],
            (Fold::ScaledIndex, "i32" | "i64") => vec![
                format!("{} = iconst.{ty} 3", v(0)),
                format!(
                    "{} = ishl {}, {}",
                    v(1),
                    if ty == "i64" { "v1" } else { "v3" },
                    v(0)
                ),
            ],
            (Fold::Compare, "i8") => vec![format!("{} = icmp slt v3, v4", v(0))],
            (Fold::VectorLoad, "i8x16" | "i32x4" | "i64x2" | "f64x2") => {
                vec![format!("{} = load.{ty} notrap aligned v0+64", v(0))]
            }
            _ => return None,
        })
    }

    /// Whether the VCode shows `fold`'s definition folded: none of the
    /// instructions that lower it on its own is there.
    fn folded(fold: Fold, vcode: &str) -> bool {
        let mut lines = vcode.lines().map(str::trim);
        match fold {
            // The load of `[v0 + 64]` is nowhere a `mov` of its own.
            Fold::Load | Fold::VectorLoad => !lines.any(|l| {
                (l.starts_with("MovRM {") || l.starts_with("XmmLoad {")) && l.contains("disp: 64")
            }),
            // An address mode adds two registers: the sum's.
            Fold::Sum => vcode.contains("index: Some("),
            // No shift by 3.
            Fold::ScaledIndex => !lines.any(|l| l.starts_with("Shift {") && l.contains("Imm(3)")),
            // The comparison's result is never set from the flags.
            Fold::Compare => !vcode.contains("Setcc"),
        }
    }

    /// A function computing `user` over `operands` with `fold`'s
    /// definition as operand `at` (of type `types[at]`), the others
    /// parameters or, if `constants`, integer constants where they can be.
    fn shape(
        user: &str,
        types: &[&str],
        result: Option<&str>,
        at: usize,
        fold: Fold,
        constants: bool,
    ) -> Option<(String, String)> {
        const FIXED: [&str; 5] = ["i64", "i64", "i64", "i32", "i32"];
        let params: Vec<String> = FIXED
            .iter()
            .chain(types)
            .enumerate()
            .map(|(i, ty)| format!("v{i}: {ty}"))
            .collect();
        let mut next = params.len();
        let mut lines = definition(fold, types[at], next)?;
        next += lines.len();
        let def = format!("v{}", next - 1);
        let mut operands = Vec::new();
        for (i, &ty) in types.iter().enumerate() {
            if i == at {
                operands.push(def.clone());
            } else if constants && matches!(ty, "i32" | "i64") {
                lines.push(format!("v{next} = iconst.{ty} 100"));
                operands.push(format!("v{next}"));
                next += 1;
            } else {
                operands.push(format!("v{}", FIXED.len() + i));
            }
        }
        let mut text = user.to_string();
        for (i, operand) in operands.iter().enumerate() {
            text = text.replace(&format!("{{{i}}}"), operand);
        }
        let user_line = match text.strip_prefix("return ") {
            Some(value) => format!("return {value}"),
            None if result.is_some() => format!("v{next} = {text}\n    return v{next}"),
            None => format!("{text}\n    return"),
        };
        let sig: Vec<&str> = FIXED.iter().chain(types).copied().collect();
        let func = format!(
            "function %shape({}){} wasm {{\nblock0({}):\n    {}\n    {user_line}\n}}\n",
            sig.join(", "),
            result.map(|r| format!(" -> {r}")).unwrap_or_default(),
            params.join(", "),
            lines.join("\n    "),
        );
        Some((func, text))
    }

    /// The instruction using the folded definition: the `return`, or the
    /// one before it.
    fn user_inst(func: &Function, is_return: bool) -> Inst {
        let block = func.layout.entry_block().expect("a block");
        let insts: Vec<Inst> = func.layout.block_insts(block).collect();
        insts[insts.len() - if is_return { 1 } else { 2 }]
    }

    #[test]
    fn the_quick_reject_agrees_with_the_table() {
        use super::{SITES, USER_FOLDS};
        use crate::ir::Opcode;
        for (i, &opcode) in Opcode::ALL.iter().enumerate() {
            assert_eq!(opcode as usize, i, "USER_FOLDS indexes by discriminant");
            for fold in FOLDS {
                let listed = SITES.iter().any(|s| s.user == opcode && s.fold == fold);
                assert_eq!(
                    USER_FOLDS[i] & (1 << fold as u8) != 0,
                    listed,
                    "{opcode:?} {fold:?}"
                );
            }
        }
    }

    #[test]
    fn the_rules_fold_exactly_where_the_policy_says() {
        let trap = |n| TrapCode::from_u8(n).unwrap();
        let options = CompileOptions {
            features: CpuFeatures::all(),
            stack_limit: None,
            traps: ImplicitTraps {
                memory_out_of_bounds: trap(1),
                integer_division_by_zero: trap(2),
                integer_overflow: trap(3),
                bad_conversion_to_integer: trap(4),
            },
            allocator: Allocator::default(),
        };
        let mut checked = [0usize; 5];
        let mut sites = [0usize; 5];
        let mut failures = Vec::new();
        for (user, types, result) in users() {
            for at in 0..types.len() {
                for (k, fold) in FOLDS.into_iter().enumerate() {
                    for constants in [false, true] {
                        let Some((text, user_text)) =
                            shape(&user, &types, result, at, fold, constants)
                        else {
                            continue;
                        };
                        let func =
                            parse_function_text(&text).unwrap_or_else(|e| panic!("{e}\n{text}"));
                        crate::verifier::verify_function(&func)
                            .unwrap_or_else(|e| panic!("{e}\n{text}"));
                        let user_inst = user_inst(&func, user.starts_with("return"));
                        let allowed = folds_into(&func.dfg, user_inst, at, fold);
                        let vcode = lower_function(&func, &options)
                            .unwrap_or_else(|e| panic!("{e}\n{text}"))
                            .to_string();
                        checked[k] += 1;
                        sites[k] += usize::from(allowed);
                        if folded(fold, &vcode) != allowed {
                            failures.push(format!(
                                "{fold:?} as operand {at} of `{user_text}`: the policy says {}, \
                                 the rules {}\n{text}{vcode}",
                                if allowed { "fold" } else { "no fold" },
                                if allowed { "do not fold" } else { "fold" },
                            ));
                        }
                    }
                }
            }
        }
        assert!(failures.is_empty(), "{}", failures.join("\n"));
        // Every fold was seen at sites and elsewhere.
        for k in 0..FOLDS.len() {
            assert!(
                sites[k] > 0 && sites[k] < checked[k],
                "{:?}: {} of {}",
                FOLDS[k],
                sites[k],
                checked[k]
            );
        }
    }
}
