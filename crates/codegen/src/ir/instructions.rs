//! Opcodes and instruction data.
//!
//! Every opcode has one *format*, the shape of its operands
//! ([`InstructionData`]'s variants), and a set of properties passes consult
//! (terminator, branch, call, may trap, reads or writes memory). One table,
//! [`opcodes!`], declares all of it: the enum, the names of the text format,
//! the formats and the properties, so they cannot drift apart.
//!
//! Types are not part of the opcode: an instruction's *controlling type* is
//! the type of its first result (`iadd` on `i32`s makes an `i32`), or for
//! instructions without results, of their operands. The text format spells
//! it as a suffix where the operands do not give it away
//! (`iconst.i32 1`, `load.i64 v0`, `uextend.i64 v1`).

use super::condcodes::{FloatCC, IntCC};
use super::entities::{Block, Constant, FuncRef, JumpTable, SigRef, StackSlot, Value};
use super::memflags::MemFlags;
use super::valuelist::ValueList;
use cranelift_asm::TrapCode;

/// The operand shapes.
#[derive(Copy, Clone, PartialEq, Eq, Hash, Debug)]
pub enum InstructionFormat {
    /// An integer immediate (`iconst`).
    UnaryImm,
    /// A 32-bit float immediate, as bits.
    UnaryIeee32,
    /// A 64-bit float immediate, as bits.
    UnaryIeee64,
    /// A 128-bit immediate from the constant pool (`vconst`).
    UnaryConst,
    /// One value.
    Unary,
    /// Two values.
    Binary,
    /// Three values (`select`).
    Ternary,
    /// A value and a lane index (`extractlane`).
    BinaryImm8,
    /// Two values and a lane index (`insertlane`).
    TernaryImm8,
    /// Two values and a byte mask from the constant pool (`shuffle`).
    Shuffle,
    /// An integer condition and two values.
    IntCompare,
    /// A float condition and two values.
    FloatCompare,
    /// Flags, an address and an offset.
    Load,
    /// Flags, a value, an address and an offset.
    Store,
    /// A stack slot and an offset.
    StackLoad,
    /// A value, a stack slot and an offset.
    StackStore,
    /// A block call.
    Jump,
    /// A condition and two block calls.
    Brif,
    /// An index and a jump table.
    BranchTable,
    /// A function reference and arguments.
    Call,
    /// A signature, a callee and arguments.
    CallIndirect,
    /// A list of values (`return`).
    MultiAry,
    /// A trap code.
    Trap,
    /// A value and a trap code.
    CondTrap,
    /// Two values and a trap code.
    BinaryTrap,
}

/// Property bits of an opcode.
mod props {
    pub const TERMINATOR: u8 = 1;
    pub const BRANCH: u8 = 2;
    pub const CALL: u8 = 4;
    pub const CAN_TRAP: u8 = 8;
    pub const CAN_LOAD: u8 = 16;
    pub const CAN_STORE: u8 = 32;
}

/// Declares the opcodes: `Name "text" Format [properties];`.
macro_rules! opcodes {
    ($($(#[$attr:meta])* $name:ident $text:literal $format:ident [$($prop:ident)*];)*) => {
        /// An IR operation.
        #[derive(Copy, Clone, PartialEq, Eq, Hash, Debug, PartialOrd, Ord)]
        pub enum Opcode {
            $($(#[$attr])* $name,)*
        }

        impl Opcode {
            /// Every opcode.
            pub const ALL: &'static [Opcode] = &[$(Opcode::$name,)*];

            /// The name in the text format.
            pub const fn name(self) -> &'static str {
                match self {
                    $(Opcode::$name => $text,)*
                }
            }

            /// The operand shape.
            pub const fn format(self) -> InstructionFormat {
                match self {
                    $(Opcode::$name => InstructionFormat::$format,)*
                }
            }

            const fn props(self) -> u8 {
                match self {
                    $(Opcode::$name => 0 $(| props::$prop)*,)*
                }
            }
        }
    };
}

opcodes! {
    /// `v = iconst.T imm`: an integer constant.
    Iconst "iconst" UnaryImm [];
    /// `v = f32const bits`.
    F32const "f32const" UnaryIeee32 [];
    /// `v = f64const bits`.
    F64const "f64const" UnaryIeee64 [];

    /// Wrapping addition.
    Iadd "iadd" Binary [];
    /// Wrapping subtraction.
    Isub "isub" Binary [];
    /// Wrapping multiplication.
    Imul "imul" Binary [];
    /// Signed division; traps on zero and on overflow.
    Sdiv "sdiv" Binary [CAN_TRAP];
    /// Unsigned division; traps on zero.
    Udiv "udiv" Binary [CAN_TRAP];
    /// Signed remainder; traps on zero (`MIN % -1` is 0).
    Srem "srem" Binary [CAN_TRAP];
    /// Unsigned remainder; traps on zero.
    Urem "urem" Binary [CAN_TRAP];
    /// Bitwise and.
    Band "band" Binary [];
    /// Bitwise or.
    Bor "bor" Binary [];
    /// Bitwise exclusive or.
    Bxor "bxor" Binary [];
    /// Shift left by the amount modulo the width.
    Ishl "ishl" Binary [];
    /// Logical shift right by the amount modulo the width.
    Ushr "ushr" Binary [];
    /// Arithmetic shift right by the amount modulo the width.
    Sshr "sshr" Binary [];
    /// Rotate left.
    Rotl "rotl" Binary [];
    /// Rotate right.
    Rotr "rotr" Binary [];
    /// Bitwise not.
    Bnot "bnot" Unary [];
    /// Two's complement negation.
    Ineg "ineg" Unary [];
    /// Count leading zeros.
    Clz "clz" Unary [];
    /// Count trailing zeros.
    Ctz "ctz" Unary [];
    /// Count set bits.
    Popcnt "popcnt" Unary [];
    /// Zero-extend to the wider controlling type.
    Uextend "uextend" Unary [];
    /// Sign-extend to the wider controlling type.
    Sextend "sextend" Unary [];
    /// Truncate to the narrower controlling type.
    Ireduce "ireduce" Unary [];
    /// Reinterpret the bits as the same-sized controlling type.
    Bitcast "bitcast" Unary [];
    /// `v = icmp cc a, b`: 1 or 0, an `i8`.
    Icmp "icmp" IntCompare [];
    /// `v = select c, a, b`: `a` if `c` is non-zero, else `b`.
    Select "select" Ternary [];

    /// `v = vconst.T bits`: a vector constant, its 128 bits written as one
    /// hexadecimal number (lane 0 in the low bits).
    Vconst "vconst" UnaryConst [];
    /// `v = splat.T x`: a vector of type `T` with `x` in every lane.
    Splat "splat" Unary [];
    /// `v = extractlane.T x, i`: lane `i` of `x`, of `x`'s lane type `T`.
    Extractlane "extractlane" BinaryImm8 [];
    /// `v = insertlane x, y, i`: `x` with lane `i` replaced by `y`.
    Insertlane "insertlane" TernaryImm8 [];
    /// `v = shuffle a, b, [m0 .. m15]`: byte `i` of the result is byte
    /// `mi` of the 32 bytes of `a` (0 to 15) then `b` (16 to 31); `i8x16`s.
    Shuffle "shuffle" Shuffle [];
    /// Signed addition saturating at the lane type's bounds.
    SaddSat "sadd_sat" Binary [];
    /// Unsigned addition saturating at the lane type's bounds.
    UaddSat "uadd_sat" Binary [];
    /// Signed subtraction saturating at the lane type's bounds.
    SsubSat "ssub_sat" Binary [];
    /// Unsigned subtraction saturating at the lane type's bounds.
    UsubSat "usub_sat" Binary [];
    /// Signed minimum.
    Smin "smin" Binary [];
    /// Unsigned minimum.
    Umin "umin" Binary [];
    /// Signed maximum.
    Smax "smax" Binary [];
    /// Unsigned maximum.
    Umax "umax" Binary [];
    /// Unsigned average rounding up: `(a + b + 1) >> 1` without overflow.
    AvgRound "avg_round" Binary [];
    /// `a & !b`.
    BandNot "band_not" Binary [];
    /// Absolute value (of the minimum, itself).
    Iabs "iabs" Unary [];
    /// `v = bitselect c, a, b`: each bit from `a` where `c`'s is set, else
    /// from `b`.
    Bitselect "bitselect" Ternary [];
    /// Whether any bit of the vector is set: 1 or 0, an `i8`.
    VanyTrue "vany_true" Unary [];
    /// Whether every lane of the vector is non-zero: 1 or 0, an `i8`.
    VallTrue "vall_true" Unary [];
    /// `v = vhigh_bits.T x`: the lanes' top bits, lane `i` in bit `i` of
    /// the integer `T`.
    VhighBits "vhigh_bits" Unary [];
    /// `b < a ? b : a` (WebAssembly's `pmin`: NaNs and zeros as they fall).
    FminPseudo "fmin_pseudo" Binary [];
    /// `a < b ? b : a` (WebAssembly's `pmax`).
    FmaxPseudo "fmax_pseudo" Binary [];
    /// `v = swiden_low.T x`: the low half of `x`'s lanes, sign-extended
    /// to `T`'s lanes (twice as wide).
    SwidenLow "swiden_low" Unary [];
    /// The high half of the lanes, sign-extended.
    SwidenHigh "swiden_high" Unary [];
    /// The low half of the lanes, zero-extended.
    UwidenLow "uwiden_low" Unary [];
    /// The high half of the lanes, zero-extended.
    UwidenHigh "uwiden_high" Unary [];
    /// `v = snarrow.T a, b`: the lanes of `a` then `b`, each saturated to
    /// `T`'s signed lanes (half as wide).
    Snarrow "snarrow" Binary [];
    /// The same, the signed lanes saturated to unsigned ones.
    Unarrow "unarrow" Binary [];
    /// `v = swizzle x, i`: byte `k` is byte `i[k]` of `x`, or 0 if that
    /// index is 16 or more.
    Swizzle "swizzle" Binary [];
    /// `v = widening_pairwise_dot_product_s.i32x4 a, b` of two `i16x8`s:
    /// lane `k` is `a[2k]*b[2k] + a[2k+1]*b[2k+1]`.
    WideningPairwiseDotProductS "widening_pairwise_dot_product_s" Binary [];
    /// `v = fcvt_low_from_sint.f64x2 x`: the low two `i32` lanes of an
    /// `i32x4`, converted.
    FcvtLowFromSint "fcvt_low_from_sint" Unary [];
    /// `v = fvpromote_low.f64x2 x`: the low two lanes of an `f32x4`,
    /// promoted.
    FvpromoteLow "fvpromote_low" Unary [];
    /// `v = fvdemote.f32x4 x`: the two lanes of an `f64x2` demoted into
    /// the low lanes, the high two zero.
    Fvdemote "fvdemote" Unary [];
    /// Q15 multiplication rounding and saturating: `(a * b + 0x4000) >> 15`
    /// of `i16` lanes, saturated.
    SqmulRoundSat "sqmul_round_sat" Binary [];
    /// `v = fcvt_low_from_uint.f64x2 x`: the low two `u32` lanes of an
    /// `i32x4`, converted.
    FcvtLowFromUint "fcvt_low_from_uint" Unary [];
    /// `v = iadd_pairwise a, b` of `i16x8`s or `i32x4`s: the sums of
    /// neighbouring lanes (wrapping), `a`'s pairs in the low half of the
    /// result and `b`'s in the high half.
    IaddPairwise "iadd_pairwise" Binary [];
    /// `v = widening_pairwise_dot_product_us_sat.i16x8 a, b` of two
    /// `i8x16`s: lane `k` is `a[2k]*b[2k] + a[2k+1]*b[2k+1]` with `a`'s
    /// bytes unsigned and `b`'s signed, saturated to `i16` (relaxed SIMD's
    /// dot product, as both tiers compute it).
    WideningPairwiseDotProductUsSat "widening_pairwise_dot_product_us_sat" Binary [];
    /// `v = smul_widen_low.T a, b`: the low halves of `a`'s and `b`'s
    /// lanes sign-extended to `T`'s lanes (twice as wide) and multiplied
    /// (an extending multiply: `swiden_low` of both, then `imul`).
    SmulWidenLow "smul_widen_low" Binary [];
    /// The same of the high halves.
    SmulWidenHigh "smul_widen_high" Binary [];
    /// The same of the low halves, zero-extended.
    UmulWidenLow "umul_widen_low" Binary [];
    /// The same of the high halves, zero-extended.
    UmulWidenHigh "umul_widen_high" Binary [];

    /// Float addition.
    Fadd "fadd" Binary [];
    /// Float subtraction.
    Fsub "fsub" Binary [];
    /// Float multiplication.
    Fmul "fmul" Binary [];
    /// Float division.
    Fdiv "fdiv" Binary [];
    /// WebAssembly's `min`: NaN if either is NaN, and -0 < +0.
    Fmin "fmin" Binary [];
    /// WebAssembly's `max`.
    Fmax "fmax" Binary [];
    /// The magnitude of the first with the sign of the second.
    Fcopysign "fcopysign" Binary [];
    /// Flip the sign bit.
    Fneg "fneg" Unary [];
    /// Clear the sign bit.
    Fabs "fabs" Unary [];
    /// Square root.
    Sqrt "sqrt" Unary [];
    /// Round up.
    Ceil "ceil" Unary [];
    /// Round down.
    Floor "floor" Unary [];
    /// Round toward zero.
    Trunc "trunc" Unary [];
    /// Round to nearest, ties to even.
    Nearest "nearest" Unary [];
    /// `v = fcmp cc a, b`: 1 or 0, an `i8`.
    Fcmp "fcmp" FloatCompare [];
    /// `f32` to `f64`.
    Fpromote "fpromote" Unary [];
    /// `f64` to `f32`.
    Fdemote "fdemote" Unary [];
    /// Float to signed integer; traps on NaN or out of range.
    FcvtToSint "fcvt_to_sint" Unary [CAN_TRAP];
    /// Float to unsigned integer; traps on NaN or out of range.
    FcvtToUint "fcvt_to_uint" Unary [CAN_TRAP];
    /// Float to signed integer, saturating (NaN is 0). On vectors, an
    /// `f32x4` to an `i32x4`, or the two lanes of an `f64x2` into the low
    /// lanes of an `i32x4`, the high two zero.
    FcvtToSintSat "fcvt_to_sint_sat" Unary [];
    /// Float to unsigned integer, saturating (NaN is 0); on vectors as
    /// `fcvt_to_sint_sat`.
    FcvtToUintSat "fcvt_to_uint_sat" Unary [];
    /// Signed integer to float.
    FcvtFromSint "fcvt_from_sint" Unary [];
    /// Unsigned integer to float.
    FcvtFromUint "fcvt_from_uint" Unary [];

    /// Load of the controlling type's width.
    Load "load" Load [CAN_TRAP CAN_LOAD];
    /// Load 8 bits, zero-extended.
    Uload8 "uload8" Load [CAN_TRAP CAN_LOAD];
    /// Load 8 bits, sign-extended.
    Sload8 "sload8" Load [CAN_TRAP CAN_LOAD];
    /// Load 16 bits, zero-extended.
    Uload16 "uload16" Load [CAN_TRAP CAN_LOAD];
    /// Load 16 bits, sign-extended.
    Sload16 "sload16" Load [CAN_TRAP CAN_LOAD];
    /// Load 32 bits, zero-extended to `i64`.
    Uload32 "uload32" Load [CAN_TRAP CAN_LOAD];
    /// Load 32 bits, sign-extended to `i64`.
    Sload32 "sload32" Load [CAN_TRAP CAN_LOAD];
    /// Store the value's full width.
    Store "store" Store [CAN_TRAP CAN_STORE];
    /// Store the low 8 bits.
    Istore8 "istore8" Store [CAN_TRAP CAN_STORE];
    /// Store the low 16 bits.
    Istore16 "istore16" Store [CAN_TRAP CAN_STORE];
    /// Store the low 32 bits.
    Istore32 "istore32" Store [CAN_TRAP CAN_STORE];
    /// Load from a stack slot.
    StackLoad "stack_load" StackLoad [CAN_LOAD];
    /// Store to a stack slot.
    StackStore "stack_store" StackStore [CAN_STORE];
    /// The address of a stack slot.
    StackAddr "stack_addr" StackLoad [];

    /// Unconditional branch.
    Jump "jump" Jump [TERMINATOR BRANCH];
    /// `brif c, then, else`: to `then` if `c` is non-zero.
    Brif "brif" Brif [TERMINATOR BRANCH];
    /// `br_table i, default, [targets]`.
    BrTable "br_table" BranchTable [TERMINATOR BRANCH];
    /// Return from the function.
    Return "return" MultiAry [TERMINATOR];
    /// Trap unconditionally.
    Trap "trap" Trap [TERMINATOR CAN_TRAP];
    /// Trap if the value is zero.
    Trapz "trapz" CondTrap [CAN_TRAP];
    /// Trap if the value is non-zero.
    Trapnz "trapnz" CondTrap [CAN_TRAP];
    /// Unsigned addition that traps on overflow (bounds checks).
    UaddOverflowTrap "uadd_overflow_trap" BinaryTrap [CAN_TRAP];
    /// Direct call.
    Call "call" Call [CALL CAN_TRAP CAN_LOAD CAN_STORE];
    /// Indirect call through a code pointer.
    CallIndirect "call_indirect" CallIndirect [CALL CAN_TRAP CAN_LOAD CAN_STORE];
}

impl Opcode {
    /// The opcode named `name` in the text format.
    pub fn from_name(name: &str) -> Option<Opcode> {
        Opcode::ALL.iter().copied().find(|op| op.name() == name)
    }

    /// The controlling type when it is fixed by the opcode (float
    /// constants).
    pub const fn fixed_type(self) -> Option<super::types::Type> {
        match self {
            Opcode::F32const => Some(super::types::Type::F32),
            Opcode::F64const => Some(super::types::Type::F64),
            _ => None,
        }
    }

    /// Which value operand has the controlling type, when the text format
    /// does not spell it: the first, except for `select` (whose first
    /// operand is the condition).
    pub const fn ctrl_operand(self) -> usize {
        match self {
            Opcode::Select => 1,
            _ => 0,
        }
    }

    /// Whether it ends a block.
    pub const fn is_terminator(self) -> bool {
        self.props() & props::TERMINATOR != 0
    }

    /// Whether it branches to blocks of the function.
    pub const fn is_branch(self) -> bool {
        self.props() & props::BRANCH != 0
    }

    /// Whether it calls a function.
    pub const fn is_call(self) -> bool {
        self.props() & props::CALL != 0
    }

    /// Whether it may trap (for loads and stores: unless flagged `notrap`).
    pub const fn can_trap(self) -> bool {
        self.props() & props::CAN_TRAP != 0
    }

    /// Whether it may read memory.
    pub const fn can_load(self) -> bool {
        self.props() & props::CAN_LOAD != 0
    }

    /// Whether it may write memory.
    pub const fn can_store(self) -> bool {
        self.props() & props::CAN_STORE != 0
    }

    /// Whether it has any effect besides its results: removing it, or
    /// merging it with an equal instruction, would change behaviour.
    pub const fn has_side_effects(self) -> bool {
        self.props() & (props::TERMINATOR | props::CALL | props::CAN_TRAP | props::CAN_STORE) != 0
    }
}

/// A branch target with its arguments (the target's block parameters).
#[derive(Copy, Clone, PartialEq, Eq, Hash, Debug)]
pub struct BlockCall {
    /// The target.
    pub block: Block,
    /// The arguments.
    pub args: ValueList,
}

/// An instruction: its opcode and operands. Results live in the
/// data-flow graph.
#[derive(Copy, Clone, PartialEq, Eq, Hash, Debug)]
#[allow(missing_docs, reason = "the fields are described by the formats")]
pub enum InstructionData {
    UnaryImm {
        opcode: Opcode,
        imm: i64,
    },
    UnaryIeee32 {
        opcode: Opcode,
        imm: u32,
    },
    UnaryIeee64 {
        opcode: Opcode,
        imm: u64,
    },
    UnaryConst {
        opcode: Opcode,
        constant: Constant,
    },
    Unary {
        opcode: Opcode,
        arg: Value,
    },
    Binary {
        opcode: Opcode,
        args: [Value; 2],
    },
    Ternary {
        opcode: Opcode,
        args: [Value; 3],
    },
    BinaryImm8 {
        opcode: Opcode,
        arg: Value,
        imm: u8,
    },
    TernaryImm8 {
        opcode: Opcode,
        args: [Value; 2],
        imm: u8,
    },
    Shuffle {
        opcode: Opcode,
        args: [Value; 2],
        mask: Constant,
    },
    IntCompare {
        opcode: Opcode,
        cond: IntCC,
        args: [Value; 2],
    },
    FloatCompare {
        opcode: Opcode,
        cond: FloatCC,
        args: [Value; 2],
    },
    Load {
        opcode: Opcode,
        flags: MemFlags,
        arg: Value,
        offset: i32,
    },
    Store {
        opcode: Opcode,
        flags: MemFlags,
        args: [Value; 2],
        offset: i32,
    },
    StackLoad {
        opcode: Opcode,
        slot: StackSlot,
        offset: i32,
    },
    StackStore {
        opcode: Opcode,
        arg: Value,
        slot: StackSlot,
        offset: i32,
    },
    Jump {
        opcode: Opcode,
        dest: BlockCall,
    },
    Brif {
        opcode: Opcode,
        arg: Value,
        blocks: [BlockCall; 2],
    },
    BranchTable {
        opcode: Opcode,
        arg: Value,
        table: JumpTable,
    },
    Call {
        opcode: Opcode,
        func_ref: FuncRef,
        args: ValueList,
    },
    CallIndirect {
        opcode: Opcode,
        sig_ref: SigRef,
        args: ValueList,
    },
    MultiAry {
        opcode: Opcode,
        args: ValueList,
    },
    Trap {
        opcode: Opcode,
        code: TrapCode,
    },
    CondTrap {
        opcode: Opcode,
        arg: Value,
        code: TrapCode,
    },
    BinaryTrap {
        opcode: Opcode,
        args: [Value; 2],
        code: TrapCode,
    },
}

impl InstructionData {
    /// The opcode.
    pub const fn opcode(&self) -> Opcode {
        use InstructionData::*;
        match *self {
            UnaryImm { opcode, .. }
            | UnaryIeee32 { opcode, .. }
            | UnaryIeee64 { opcode, .. }
            | UnaryConst { opcode, .. }
            | Unary { opcode, .. }
            | Binary { opcode, .. }
            | Ternary { opcode, .. }
            | BinaryImm8 { opcode, .. }
            | TernaryImm8 { opcode, .. }
            | Shuffle { opcode, .. }
            | IntCompare { opcode, .. }
            | FloatCompare { opcode, .. }
            | Load { opcode, .. }
            | Store { opcode, .. }
            | StackLoad { opcode, .. }
            | StackStore { opcode, .. }
            | Jump { opcode, .. }
            | Brif { opcode, .. }
            | BranchTable { opcode, .. }
            | Call { opcode, .. }
            | CallIndirect { opcode, .. }
            | MultiAry { opcode, .. }
            | Trap { opcode, .. }
            | CondTrap { opcode, .. }
            | BinaryTrap { opcode, .. } => opcode,
        }
    }

    /// The format of these operands.
    pub const fn format(&self) -> InstructionFormat {
        use InstructionData as D;
        use InstructionFormat as F;
        match self {
            D::UnaryImm { .. } => F::UnaryImm,
            D::UnaryIeee32 { .. } => F::UnaryIeee32,
            D::UnaryIeee64 { .. } => F::UnaryIeee64,
            D::UnaryConst { .. } => F::UnaryConst,
            D::Unary { .. } => F::Unary,
            D::Binary { .. } => F::Binary,
            D::Ternary { .. } => F::Ternary,
            D::BinaryImm8 { .. } => F::BinaryImm8,
            D::TernaryImm8 { .. } => F::TernaryImm8,
            D::Shuffle { .. } => F::Shuffle,
            D::IntCompare { .. } => F::IntCompare,
            D::FloatCompare { .. } => F::FloatCompare,
            D::Load { .. } => F::Load,
            D::Store { .. } => F::Store,
            D::StackLoad { .. } => F::StackLoad,
            D::StackStore { .. } => F::StackStore,
            D::Jump { .. } => F::Jump,
            D::Brif { .. } => F::Brif,
            D::BranchTable { .. } => F::BranchTable,
            D::Call { .. } => F::Call,
            D::CallIndirect { .. } => F::CallIndirect,
            D::MultiAry { .. } => F::MultiAry,
            D::Trap { .. } => F::Trap,
            D::CondTrap { .. } => F::CondTrap,
            D::BinaryTrap { .. } => F::BinaryTrap,
        }
    }

    /// The memory flags of a load or store.
    pub const fn mem_flags(&self) -> Option<MemFlags> {
        match *self {
            InstructionData::Load { flags, .. } | InstructionData::Store { flags, .. } => {
                Some(flags)
            }
            _ => None,
        }
    }

    /// The trap code, for instructions that carry one.
    pub const fn trap_code(&self) -> Option<TrapCode> {
        match *self {
            InstructionData::Trap { code, .. }
            | InstructionData::CondTrap { code, .. }
            | InstructionData::BinaryTrap { code, .. } => Some(code),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_round_trip() {
        for &op in Opcode::ALL {
            assert_eq!(Opcode::from_name(op.name()), Some(op));
        }
        let mut names: Vec<_> = Opcode::ALL.iter().map(|op| op.name()).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), Opcode::ALL.len());
    }

    #[test]
    fn properties_follow_the_table() {
        assert!(Opcode::Jump.is_terminator() && Opcode::Jump.is_branch());
        assert!(Opcode::Return.is_terminator() && !Opcode::Return.is_branch());
        assert!(Opcode::Sdiv.can_trap() && !Opcode::Iadd.has_side_effects());
        assert!(Opcode::Load.can_load() && !Opcode::Load.can_store());
        assert!(Opcode::Call.is_call() && Opcode::Call.has_side_effects());
        assert_eq!(Opcode::StackAddr.format(), InstructionFormat::StackLoad);
    }
}
