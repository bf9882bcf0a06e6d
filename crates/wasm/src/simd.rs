//! SIMD and relaxed SIMD operators to IR.
//!
//! A wasm `v128` is an `i8x16` in the IR wherever it is kept: on the
//! operand stack, in locals and globals, in block parameters, call
//! arguments and results. An operator `bitcast`s each operand to the lane
//! type it reads (`i32x4.add` reads two `i32x4`s), works on that type and
//! `bitcast`s its result back to `i8x16`, so that nothing else in the
//! translator needs to know which lanes a `v128` last had. A `bitcast`
//! between vector types keeps the register as it is: the lowering emits
//! nothing for it.
//!
//! Every operator of WebAssembly 2.0's SIMD and of relaxed SIMD is
//! translated. A relaxed operator behaves as `duet_environ::simd` says,
//! as the baseline tier's does: one with a deterministic twin is
//! translated as that twin, the others (`relaxed_madd`, `relaxed_nmadd`,
//! the two dot products) here. Where the IR has no one opcode for an
//! operator, it is a short sequence: an extending multiply is two widens
//! and an `imul`, `extadd_pairwise` an `iadd_pairwise` of the two widened
//! halves, an extending load a 64-bit load into lane 0 then a widen, a
//! `loadN_splat` a scalar load then a `splat`, a `loadN_zero` or
//! `loadN_lane` a scalar load into a lane (of zeros, or of the vector), a
//! `storeN_lane` an `extractlane` then a scalar store.

use crate::error::WasmError;
use crate::func_translator::Translator;
use cranelift_codegen::ir::{FloatCC, IntCC, Opcode, Type, Value};
use wasmparser::{MemArg, Operator};

impl Translator<'_, '_> {
    /// Translates SIMD operator `op`; `Ok(false)` if `op` is not one this
    /// module translates (the caller reports it unsupported).
    pub(crate) fn translate_simd(&mut self, op: &Operator<'_>) -> Result<bool, WasmError> {
        use Operator as O;
        use Type::{F32X4, F64X2, I8X16, I16X8, I32X4, I64X2};
        // A relaxed operator with a deterministic twin is that twin
        // (`duet_environ::simd`, the same in the baseline tier).
        let twin = duet_environ::simd::relaxed_as(op);
        let op = twin.as_ref().unwrap_or(op);
        match *op {
            O::V128Const { value } => {
                let bits = u128::from_le_bytes(*value.bytes());
                let v = self.builder.ins().vconst(I8X16, bits);
                self.state.stack.push(v);
            }
            O::V128Load { memarg } => self.translate_load(&memarg, Opcode::Load, I8X16, 16)?,
            O::V128Store { memarg } => self.translate_store(&memarg, Opcode::Store, 16)?,

            O::V128Not => {
                let a = self.state.pop1();
                let v = self.builder.ins().bnot(a);
                self.state.stack.push(v);
            }
            O::V128And => self.lanewise(I8X16, Opcode::Band),
            O::V128Or => self.lanewise(I8X16, Opcode::Bor),
            O::V128Xor => self.lanewise(I8X16, Opcode::Bxor),
            O::V128AndNot => self.lanewise(I8X16, Opcode::BandNot),
            O::V128Bitselect => {
                let (a, b, c) = self.state.pop3();
                let v = self.builder.ins().bitselect(c, a, b);
                self.state.stack.push(v);
            }
            O::V128AnyTrue => {
                let x = self.state.pop1();
                let t = self.builder.ins().vany_true(x);
                let v = self.builder.ins().uextend(Type::I32, t);
                self.state.stack.push(v);
            }
            O::I8x16AllTrue => self.all_true(I8X16),
            O::I16x8AllTrue => self.all_true(I16X8),
            O::I32x4AllTrue => self.all_true(I32X4),
            O::I64x2AllTrue => self.all_true(I64X2),
            O::I8x16Bitmask => self.bitmask(I8X16),
            O::I16x8Bitmask => self.bitmask(I16X8),
            O::I32x4Bitmask => self.bitmask(I32X4),
            O::I64x2Bitmask => self.bitmask(I64X2),

            O::I8x16Neg => self.unary(I8X16, Opcode::Ineg),
            O::I16x8Neg => self.unary(I16X8, Opcode::Ineg),
            O::I32x4Neg => self.unary(I32X4, Opcode::Ineg),
            O::I64x2Neg => self.unary(I64X2, Opcode::Ineg),
            O::I8x16Abs => self.unary(I8X16, Opcode::Iabs),
            O::I16x8Abs => self.unary(I16X8, Opcode::Iabs),
            O::I32x4Abs => self.unary(I32X4, Opcode::Iabs),
            O::I8x16MinS => self.lanewise(I8X16, Opcode::Smin),
            O::I8x16MinU => self.lanewise(I8X16, Opcode::Umin),
            O::I8x16MaxS => self.lanewise(I8X16, Opcode::Smax),
            O::I8x16MaxU => self.lanewise(I8X16, Opcode::Umax),
            O::I16x8MinS => self.lanewise(I16X8, Opcode::Smin),
            O::I16x8MinU => self.lanewise(I16X8, Opcode::Umin),
            O::I16x8MaxS => self.lanewise(I16X8, Opcode::Smax),
            O::I16x8MaxU => self.lanewise(I16X8, Opcode::Umax),
            O::I32x4MinS => self.lanewise(I32X4, Opcode::Smin),
            O::I32x4MinU => self.lanewise(I32X4, Opcode::Umin),
            O::I32x4MaxS => self.lanewise(I32X4, Opcode::Smax),
            O::I32x4MaxU => self.lanewise(I32X4, Opcode::Umax),
            O::I8x16AddSatS => self.lanewise(I8X16, Opcode::SaddSat),
            O::I8x16AddSatU => self.lanewise(I8X16, Opcode::UaddSat),
            O::I8x16SubSatS => self.lanewise(I8X16, Opcode::SsubSat),
            O::I8x16SubSatU => self.lanewise(I8X16, Opcode::UsubSat),
            O::I16x8AddSatS => self.lanewise(I16X8, Opcode::SaddSat),
            O::I16x8AddSatU => self.lanewise(I16X8, Opcode::UaddSat),
            O::I16x8SubSatS => self.lanewise(I16X8, Opcode::SsubSat),
            O::I16x8SubSatU => self.lanewise(I16X8, Opcode::UsubSat),
            O::I8x16AvgrU => self.lanewise(I8X16, Opcode::AvgRound),
            O::I16x8AvgrU => self.lanewise(I16X8, Opcode::AvgRound),

            O::I8x16Add => self.lanewise(I8X16, Opcode::Iadd),
            O::I16x8Add => self.lanewise(I16X8, Opcode::Iadd),
            O::I32x4Add => self.lanewise(I32X4, Opcode::Iadd),
            O::I64x2Add => self.lanewise(I64X2, Opcode::Iadd),
            O::I8x16Sub => self.lanewise(I8X16, Opcode::Isub),
            O::I16x8Sub => self.lanewise(I16X8, Opcode::Isub),
            O::I32x4Sub => self.lanewise(I32X4, Opcode::Isub),
            O::I64x2Sub => self.lanewise(I64X2, Opcode::Isub),
            O::I16x8Mul => self.lanewise(I16X8, Opcode::Imul),
            O::I32x4Mul => self.lanewise(I32X4, Opcode::Imul),

            O::I16x8Shl => self.shift(I16X8, Opcode::Ishl),
            O::I32x4Shl => self.shift(I32X4, Opcode::Ishl),
            O::I64x2Shl => self.shift(I64X2, Opcode::Ishl),
            O::I16x8ShrU => self.shift(I16X8, Opcode::Ushr),
            O::I32x4ShrU => self.shift(I32X4, Opcode::Ushr),
            O::I64x2ShrU => self.shift(I64X2, Opcode::Ushr),
            O::I16x8ShrS => self.shift(I16X8, Opcode::Sshr),
            O::I32x4ShrS => self.shift(I32X4, Opcode::Sshr),

            O::I8x16LtS => self.compare(I8X16, IntCC::SignedLessThan),
            O::I8x16LtU => self.compare(I8X16, IntCC::UnsignedLessThan),
            O::I8x16GtS => self.compare(I8X16, IntCC::SignedGreaterThan),
            O::I8x16GtU => self.compare(I8X16, IntCC::UnsignedGreaterThan),
            O::I8x16LeS => self.compare(I8X16, IntCC::SignedLessThanOrEqual),
            O::I8x16LeU => self.compare(I8X16, IntCC::UnsignedLessThanOrEqual),
            O::I8x16GeS => self.compare(I8X16, IntCC::SignedGreaterThanOrEqual),
            O::I8x16GeU => self.compare(I8X16, IntCC::UnsignedGreaterThanOrEqual),
            O::I16x8LtS => self.compare(I16X8, IntCC::SignedLessThan),
            O::I16x8LtU => self.compare(I16X8, IntCC::UnsignedLessThan),
            O::I16x8GtS => self.compare(I16X8, IntCC::SignedGreaterThan),
            O::I16x8GtU => self.compare(I16X8, IntCC::UnsignedGreaterThan),
            O::I16x8LeS => self.compare(I16X8, IntCC::SignedLessThanOrEqual),
            O::I16x8LeU => self.compare(I16X8, IntCC::UnsignedLessThanOrEqual),
            O::I16x8GeS => self.compare(I16X8, IntCC::SignedGreaterThanOrEqual),
            O::I16x8GeU => self.compare(I16X8, IntCC::UnsignedGreaterThanOrEqual),
            O::I32x4LtS => self.compare(I32X4, IntCC::SignedLessThan),
            O::I32x4LtU => self.compare(I32X4, IntCC::UnsignedLessThan),
            O::I32x4GtS => self.compare(I32X4, IntCC::SignedGreaterThan),
            O::I32x4GtU => self.compare(I32X4, IntCC::UnsignedGreaterThan),
            O::I32x4LeS => self.compare(I32X4, IntCC::SignedLessThanOrEqual),
            O::I32x4LeU => self.compare(I32X4, IntCC::UnsignedLessThanOrEqual),
            O::I32x4GeS => self.compare(I32X4, IntCC::SignedGreaterThanOrEqual),
            O::I32x4GeU => self.compare(I32X4, IntCC::UnsignedGreaterThanOrEqual),

            O::V128Load8Splat { memarg } => self.load_splat(&memarg, I8X16)?,
            O::V128Load16Splat { memarg } => self.load_splat(&memarg, I16X8)?,
            O::V128Load32Splat { memarg } => self.load_splat(&memarg, I32X4)?,
            O::V128Load64Splat { memarg } => self.load_splat(&memarg, I64X2)?,
            O::V128Load32Zero { memarg } => self.load_zero(&memarg, I32X4)?,
            O::V128Load64Zero { memarg } => self.load_zero(&memarg, I64X2)?,

            O::I8x16Eq => self.compare(I8X16, IntCC::Equal),
            O::I16x8Eq => self.compare(I16X8, IntCC::Equal),
            O::I32x4Eq => self.compare(I32X4, IntCC::Equal),
            O::I64x2Eq => self.compare(I64X2, IntCC::Equal),
            O::I8x16Ne => self.compare(I8X16, IntCC::NotEqual),
            O::I16x8Ne => self.compare(I16X8, IntCC::NotEqual),
            O::I32x4Ne => self.compare(I32X4, IntCC::NotEqual),
            O::I64x2Ne => self.compare(I64X2, IntCC::NotEqual),

            O::F32x4Add => self.lanewise(F32X4, Opcode::Fadd),
            O::F64x2Add => self.lanewise(F64X2, Opcode::Fadd),
            O::F32x4Sub => self.lanewise(F32X4, Opcode::Fsub),
            O::F64x2Sub => self.lanewise(F64X2, Opcode::Fsub),
            O::F32x4Mul => self.lanewise(F32X4, Opcode::Fmul),
            O::F64x2Mul => self.lanewise(F64X2, Opcode::Fmul),
            O::F32x4Div => self.lanewise(F32X4, Opcode::Fdiv),
            O::F64x2Div => self.lanewise(F64X2, Opcode::Fdiv),
            O::F32x4Neg => self.unary(F32X4, Opcode::Fneg),
            O::F64x2Neg => self.unary(F64X2, Opcode::Fneg),
            O::F32x4Abs => self.unary(F32X4, Opcode::Fabs),
            O::F64x2Abs => self.unary(F64X2, Opcode::Fabs),
            O::F32x4Sqrt => self.unary(F32X4, Opcode::Sqrt),
            O::F64x2Sqrt => self.unary(F64X2, Opcode::Sqrt),
            O::F32x4Ceil => self.unary(F32X4, Opcode::Ceil),
            O::F64x2Ceil => self.unary(F64X2, Opcode::Ceil),
            O::F32x4Floor => self.unary(F32X4, Opcode::Floor),
            O::F64x2Floor => self.unary(F64X2, Opcode::Floor),
            O::F32x4Trunc => self.unary(F32X4, Opcode::Trunc),
            O::F64x2Trunc => self.unary(F64X2, Opcode::Trunc),
            O::F32x4Nearest => self.unary(F32X4, Opcode::Nearest),
            O::F64x2Nearest => self.unary(F64X2, Opcode::Nearest),
            O::F32x4PMin => self.lanewise(F32X4, Opcode::FminPseudo),
            O::F64x2PMin => self.lanewise(F64X2, Opcode::FminPseudo),
            O::F32x4PMax => self.lanewise(F32X4, Opcode::FmaxPseudo),
            O::F64x2PMax => self.lanewise(F64X2, Opcode::FmaxPseudo),
            O::F32x4Eq => self.float_compare(F32X4, FloatCC::Equal),
            O::F64x2Eq => self.float_compare(F64X2, FloatCC::Equal),
            O::F32x4Ne => self.float_compare(F32X4, FloatCC::NotEqual),
            O::F64x2Ne => self.float_compare(F64X2, FloatCC::NotEqual),
            O::F32x4Lt => self.float_compare(F32X4, FloatCC::LessThan),
            O::F64x2Lt => self.float_compare(F64X2, FloatCC::LessThan),
            O::F32x4Gt => self.float_compare(F32X4, FloatCC::GreaterThan),
            O::F64x2Gt => self.float_compare(F64X2, FloatCC::GreaterThan),
            O::F32x4Le => self.float_compare(F32X4, FloatCC::LessThanOrEqual),
            O::F64x2Le => self.float_compare(F64X2, FloatCC::LessThanOrEqual),
            O::F32x4Ge => self.float_compare(F32X4, FloatCC::GreaterThanOrEqual),
            O::F64x2Ge => self.float_compare(F64X2, FloatCC::GreaterThanOrEqual),

            O::I8x16Splat => self.splat(I8X16),
            O::I16x8Splat => self.splat(I16X8),
            O::I32x4Splat => self.splat(I32X4),
            O::I64x2Splat => self.splat(I64X2),
            O::F32x4Splat => self.splat(F32X4),
            O::F64x2Splat => self.splat(F64X2),
            O::I8x16ExtractLaneS { lane } => self.extract_lane(I8X16, lane, Some(true)),
            O::I8x16ExtractLaneU { lane } => self.extract_lane(I8X16, lane, Some(false)),
            O::I16x8ExtractLaneS { lane } => self.extract_lane(I16X8, lane, Some(true)),
            O::I16x8ExtractLaneU { lane } => self.extract_lane(I16X8, lane, Some(false)),
            O::I32x4ExtractLane { lane } => self.extract_lane(I32X4, lane, None),
            O::I64x2ExtractLane { lane } => self.extract_lane(I64X2, lane, None),
            O::F32x4ExtractLane { lane } => self.extract_lane(F32X4, lane, None),
            O::F64x2ExtractLane { lane } => self.extract_lane(F64X2, lane, None),
            O::I8x16ReplaceLane { lane } => self.replace_lane(I8X16, lane),
            O::I16x8ReplaceLane { lane } => self.replace_lane(I16X8, lane),
            O::I32x4ReplaceLane { lane } => self.replace_lane(I32X4, lane),
            O::I64x2ReplaceLane { lane } => self.replace_lane(I64X2, lane),
            O::F32x4ReplaceLane { lane } => self.replace_lane(F32X4, lane),
            O::F64x2ReplaceLane { lane } => self.replace_lane(F64X2, lane),
            O::I16x8ExtendLowI8x16S => self.convert(I8X16, I16X8, Opcode::SwidenLow),
            O::I16x8ExtendHighI8x16S => self.convert(I8X16, I16X8, Opcode::SwidenHigh),
            O::I16x8ExtendLowI8x16U => self.convert(I8X16, I16X8, Opcode::UwidenLow),
            O::I16x8ExtendHighI8x16U => self.convert(I8X16, I16X8, Opcode::UwidenHigh),
            O::I32x4ExtendLowI16x8S => self.convert(I16X8, I32X4, Opcode::SwidenLow),
            O::I32x4ExtendHighI16x8S => self.convert(I16X8, I32X4, Opcode::SwidenHigh),
            O::I32x4ExtendLowI16x8U => self.convert(I16X8, I32X4, Opcode::UwidenLow),
            O::I32x4ExtendHighI16x8U => self.convert(I16X8, I32X4, Opcode::UwidenHigh),
            O::I64x2ExtendLowI32x4S => self.convert(I32X4, I64X2, Opcode::SwidenLow),
            O::I64x2ExtendHighI32x4S => self.convert(I32X4, I64X2, Opcode::SwidenHigh),
            O::I64x2ExtendLowI32x4U => self.convert(I32X4, I64X2, Opcode::UwidenLow),
            O::I64x2ExtendHighI32x4U => self.convert(I32X4, I64X2, Opcode::UwidenHigh),
            O::I16x8ExtMulLowI8x16S => self.ext_mul(I8X16, I16X8, Opcode::SwidenLow),
            O::I16x8ExtMulHighI8x16S => self.ext_mul(I8X16, I16X8, Opcode::SwidenHigh),
            O::I16x8ExtMulLowI8x16U => self.ext_mul(I8X16, I16X8, Opcode::UwidenLow),
            O::I16x8ExtMulHighI8x16U => self.ext_mul(I8X16, I16X8, Opcode::UwidenHigh),
            O::I32x4ExtMulLowI16x8S => self.ext_mul(I16X8, I32X4, Opcode::SwidenLow),
            O::I32x4ExtMulHighI16x8S => self.ext_mul(I16X8, I32X4, Opcode::SwidenHigh),
            O::I32x4ExtMulLowI16x8U => self.ext_mul(I16X8, I32X4, Opcode::UwidenLow),
            O::I32x4ExtMulHighI16x8U => self.ext_mul(I16X8, I32X4, Opcode::UwidenHigh),
            O::I8x16NarrowI16x8S => self.narrow(I16X8, I8X16, Opcode::Snarrow),
            O::I8x16NarrowI16x8U => self.narrow(I16X8, I8X16, Opcode::Unarrow),
            O::I16x8NarrowI32x4S => self.narrow(I32X4, I16X8, Opcode::Snarrow),
            O::I16x8NarrowI32x4U => self.narrow(I32X4, I16X8, Opcode::Unarrow),
            O::I8x16Swizzle => self.lanewise(I8X16, Opcode::Swizzle),
            O::I8x16Popcnt => self.unary(I8X16, Opcode::Popcnt),
            O::I16x8Q15MulrSatS => self.lanewise(I16X8, Opcode::SqmulRoundSat),
            O::F32x4ConvertI32x4S => self.convert(I32X4, F32X4, Opcode::FcvtFromSint),
            O::F64x2ConvertLowI32x4S => self.convert(I32X4, F64X2, Opcode::FcvtLowFromSint),
            O::F64x2PromoteLowF32x4 => self.convert(F32X4, F64X2, Opcode::FvpromoteLow),
            O::F32x4DemoteF64x2Zero => self.convert(F64X2, F32X4, Opcode::Fvdemote),
            O::I32x4DotI16x8S => {
                let b = self.pop_vector(I16X8);
                let a = self.pop_vector(I16X8);
                let v = self.builder.ins().widening_pairwise_dot_product_s(a, b);
                self.push_vector(v);
            }
            O::V128Load8x8S { memarg } => self.load_extend(&memarg, I8X16, Opcode::SwidenLow)?,
            O::V128Load8x8U { memarg } => self.load_extend(&memarg, I8X16, Opcode::UwidenLow)?,
            O::V128Load16x4S { memarg } => self.load_extend(&memarg, I16X8, Opcode::SwidenLow)?,
            O::V128Load16x4U { memarg } => self.load_extend(&memarg, I16X8, Opcode::UwidenLow)?,
            O::V128Load32x2S { memarg } => self.load_extend(&memarg, I32X4, Opcode::SwidenLow)?,
            O::V128Load32x2U { memarg } => self.load_extend(&memarg, I32X4, Opcode::UwidenLow)?,
            O::I64x2Mul => self.lanewise(I64X2, Opcode::Imul),
            O::I64x2Abs => self.unary(I64X2, Opcode::Iabs),
            O::I8x16Shl => self.shift(I8X16, Opcode::Ishl),
            O::I8x16ShrS => self.shift(I8X16, Opcode::Sshr),
            O::I8x16ShrU => self.shift(I8X16, Opcode::Ushr),
            O::I64x2ShrS => self.shift(I64X2, Opcode::Sshr),
            O::I64x2LtS => self.compare(I64X2, IntCC::SignedLessThan),
            O::I64x2GtS => self.compare(I64X2, IntCC::SignedGreaterThan),
            O::I64x2LeS => self.compare(I64X2, IntCC::SignedLessThanOrEqual),
            O::I64x2GeS => self.compare(I64X2, IntCC::SignedGreaterThanOrEqual),
            O::I64x2ExtMulLowI32x4S => self.ext_mul(I32X4, I64X2, Opcode::SwidenLow),
            O::I64x2ExtMulHighI32x4S => self.ext_mul(I32X4, I64X2, Opcode::SwidenHigh),
            O::I64x2ExtMulLowI32x4U => self.ext_mul(I32X4, I64X2, Opcode::UwidenLow),
            O::I64x2ExtMulHighI32x4U => self.ext_mul(I32X4, I64X2, Opcode::UwidenHigh),
            O::I16x8ExtAddPairwiseI8x16S => self.extadd_pairwise(I8X16, I16X8, true),
            O::I16x8ExtAddPairwiseI8x16U => self.extadd_pairwise(I8X16, I16X8, false),
            O::I32x4ExtAddPairwiseI16x8S => self.extadd_pairwise(I16X8, I32X4, true),
            O::I32x4ExtAddPairwiseI16x8U => self.extadd_pairwise(I16X8, I32X4, false),
            O::F32x4Min => self.lanewise(F32X4, Opcode::Fmin),
            O::F64x2Min => self.lanewise(F64X2, Opcode::Fmin),
            O::F32x4Max => self.lanewise(F32X4, Opcode::Fmax),
            O::F64x2Max => self.lanewise(F64X2, Opcode::Fmax),
            O::I32x4TruncSatF32x4S => self.convert(F32X4, I32X4, Opcode::FcvtToSintSat),
            O::I32x4TruncSatF32x4U => self.convert(F32X4, I32X4, Opcode::FcvtToUintSat),
            O::I32x4TruncSatF64x2SZero => self.convert(F64X2, I32X4, Opcode::FcvtToSintSat),
            O::I32x4TruncSatF64x2UZero => self.convert(F64X2, I32X4, Opcode::FcvtToUintSat),
            O::F32x4ConvertI32x4U => self.convert(I32X4, F32X4, Opcode::FcvtFromUint),
            O::F64x2ConvertLowI32x4U => self.convert(I32X4, F64X2, Opcode::FcvtLowFromUint),
            O::V128Load8Lane { memarg, lane } => self.load_lane(&memarg, I8X16, lane)?,
            O::V128Load16Lane { memarg, lane } => self.load_lane(&memarg, I16X8, lane)?,
            O::V128Load32Lane { memarg, lane } => self.load_lane(&memarg, I32X4, lane)?,
            O::V128Load64Lane { memarg, lane } => self.load_lane(&memarg, I64X2, lane)?,
            O::V128Store8Lane { memarg, lane } => self.store_lane(&memarg, I8X16, lane)?,
            O::V128Store16Lane { memarg, lane } => self.store_lane(&memarg, I16X8, lane)?,
            O::V128Store32Lane { memarg, lane } => self.store_lane(&memarg, I32X4, lane)?,
            O::V128Store64Lane { memarg, lane } => self.store_lane(&memarg, I64X2, lane)?,

            // The relaxed operators without a deterministic twin, as
            // `duet_environ::simd` says.
            O::F32x4RelaxedMadd => self.relaxed_madd(F32X4, false),
            O::F32x4RelaxedNmadd => self.relaxed_madd(F32X4, true),
            O::F64x2RelaxedMadd => self.relaxed_madd(F64X2, false),
            O::F64x2RelaxedNmadd => self.relaxed_madd(F64X2, true),
            O::I16x8RelaxedDotI8x16I7x16S => {
                let (a, b) = self.state.pop2();
                let v = self
                    .builder
                    .ins()
                    .widening_pairwise_dot_product_us_sat(b, a);
                self.push_vector(v);
            }
            O::I32x4RelaxedDotI8x16I7x16AddS => {
                let c = self.pop_vector(I32X4);
                let (a, b) = self.state.pop2();
                let pairs = self
                    .builder
                    .ins()
                    .widening_pairwise_dot_product_us_sat(b, a);
                let ones = self
                    .builder
                    .ins()
                    .vconst(I16X8, 0x0001_0001_0001_0001_0001_0001_0001_0001);
                let sums = self
                    .builder
                    .ins()
                    .widening_pairwise_dot_product_s(pairs, ones);
                let v = self.builder.ins().iadd(sums, c);
                self.push_vector(v);
            }
            O::I8x16Shuffle { lanes } => {
                let (a, b) = self.state.pop2();
                let v = self.builder.ins().shuffle(a, b, lanes);
                self.state.stack.push(v);
            }
            _ => return Ok(false),
        }
        Ok(true)
    }

    /// Pops a `v128` (an `i8x16`) as a vector of type `ty`.
    fn pop_vector(&mut self, ty: Type) -> Value {
        let v = self.state.pop1();
        self.as_vector(v, ty)
    }

    /// `v` as a vector of type `ty` (a `bitcast` if it has another).
    fn as_vector(&mut self, v: Value, ty: Type) -> Value {
        if self.builder.func.dfg.value_type(v) == ty {
            v
        } else {
            self.builder.ins().bitcast(ty, v)
        }
    }

    /// Pushes the vector `v` as a `v128` (an `i8x16`).
    fn push_vector(&mut self, v: Value) {
        let v = self.as_vector(v, Type::I8X16);
        self.state.stack.push(v);
    }

    /// A binary lane-wise `opcode` on two vectors of type `ty`.
    fn lanewise(&mut self, ty: Type, opcode: Opcode) {
        let b = self.pop_vector(ty);
        let a = self.pop_vector(ty);
        let data = cranelift_codegen::ir::InstructionData::Binary {
            opcode,
            args: [a, b],
        };
        let inst = self.builder.insert(data, ty);
        let v = self.builder.func.dfg.first_result(inst);
        self.push_vector(v);
    }

    /// The wasm scalar on the stack as a lane of `ty`: an `i32` reduced to
    /// an `i8` or `i16` lane, any other as it is.
    fn pop_lane(&mut self, ty: Type) -> Value {
        let x = self.state.pop1();
        match ty.lane_type() {
            lane @ (Type::I8 | Type::I16) => self.builder.ins().ireduce(lane, x),
            _ => x,
        }
    }

    /// `splat`: the scalar on the stack in every lane of a `ty`.
    fn splat(&mut self, ty: Type) {
        let x = self.pop_lane(ty);
        let v = self.builder.ins().splat(ty, x);
        self.push_vector(v);
    }

    /// `extract_lane`: lane `lane` of a `ty`, an `i8` or `i16` lane
    /// sign-extended (`Some(true)`) or zero-extended to `i32`.
    fn extract_lane(&mut self, ty: Type, lane: u8, signed: Option<bool>) {
        let x = self.pop_vector(ty);
        let v = self.builder.ins().extractlane(x, lane);
        let v = match signed {
            Some(true) => self.builder.ins().sextend(Type::I32, v),
            Some(false) => self.builder.ins().uextend(Type::I32, v),
            None => v,
        };
        self.state.stack.push(v);
    }

    /// `replace_lane`: a `ty` with lane `lane` replaced by the scalar.
    fn replace_lane(&mut self, ty: Type, lane: u8) {
        let y = self.pop_lane(ty);
        let x = self.pop_vector(ty);
        let v = self.builder.ins().insertlane(x, y, lane);
        self.push_vector(v);
    }

    /// A unary lane-wise `opcode` on a vector of type `ty`.
    fn unary(&mut self, ty: Type, opcode: Opcode) {
        let x = self.pop_vector(ty);
        let data = cranelift_codegen::ir::InstructionData::Unary { opcode, arg: x };
        let inst = self.builder.insert(data, ty);
        let v = self.builder.func.dfg.first_result(inst);
        self.push_vector(v);
    }

    /// `all_true`: 1 if no lane of the `ty` is zero.
    fn all_true(&mut self, ty: Type) {
        let x = self.pop_vector(ty);
        let t = self.builder.ins().vall_true(x);
        let v = self.builder.ins().uextend(Type::I32, t);
        self.state.stack.push(v);
    }

    /// `bitmask`: the lanes' top bits of the `ty` as an `i32`.
    fn bitmask(&mut self, ty: Type) {
        let x = self.pop_vector(ty);
        let v = self.builder.ins().vhigh_bits(Type::I32, x);
        self.state.stack.push(v);
    }

    /// A shift of every lane of a `ty` by the `i32` on the stack (modulo
    /// the lane's width, as the IR's shifts are).
    fn shift(&mut self, ty: Type, opcode: Opcode) {
        let amount = self.state.pop1();
        let x = self.pop_vector(ty);
        let data = cranelift_codegen::ir::InstructionData::Binary {
            opcode,
            args: [x, amount],
        };
        let inst = self.builder.insert(data, ty);
        let v = self.builder.func.dfg.first_result(inst);
        self.push_vector(v);
    }

    /// The lane at `memarg` in every lane of a `ty` (`v128.loadN_splat`):
    /// a scalar load, then a splat.
    fn load_splat(&mut self, memarg: &MemArg, ty: Type) -> Result<(), WasmError> {
        let lane = ty.lane_type();
        let (opcode, loaded) = match lane {
            Type::I8 => (Opcode::Uload8, Type::I32),
            Type::I16 => (Opcode::Uload16, Type::I32),
            _ => (Opcode::Load, lane),
        };
        self.translate_load(memarg, opcode, loaded, lane.bytes() as u8)?;
        if self.state.reachable {
            self.splat(ty);
        }
        Ok(())
    }

    /// The lane at `memarg` in lane 0 of a `ty`, the others zero
    /// (`v128.loadN_zero`).
    fn load_zero(&mut self, memarg: &MemArg, ty: Type) -> Result<(), WasmError> {
        let lane = ty.lane_type();
        self.translate_load(memarg, Opcode::Load, lane, lane.bytes() as u8)?;
        if self.state.reachable {
            let x = self.state.pop1();
            let zero = self.builder.ins().vconst(ty, 0);
            let v = self.builder.ins().insertlane(zero, x, 0);
            self.push_vector(v);
        }
        Ok(())
    }

    /// The unary `opcode` of `x`, making a `to` (a widening, a
    /// conversion).
    fn unary_to(&mut self, x: Value, to: Type, opcode: Opcode) -> Value {
        let data = cranelift_codegen::ir::InstructionData::Unary { opcode, arg: x };
        let inst = self.builder.insert(data, to);
        self.builder.func.dfg.first_result(inst)
    }

    /// A conversion or an extend (`i16x8.extend_low_i8x16_s`, ...) by
    /// `opcode` of a `from` to a `to`.
    fn convert(&mut self, from: Type, to: Type, opcode: Opcode) {
        let x = self.pop_vector(from);
        let v = self.unary_to(x, to, opcode);
        self.push_vector(v);
    }

    /// An extending multiply: both operands' halves extended, multiplied.
    fn ext_mul(&mut self, from: Type, to: Type, opcode: Opcode) {
        let b = self.pop_vector(from);
        let a = self.pop_vector(from);
        let a = self.unary_to(a, to, opcode);
        let b = self.unary_to(b, to, opcode);
        let v = self.builder.ins().imul(a, b);
        self.push_vector(v);
    }

    /// A narrow of two `from`s to one `to` with half-width lanes.
    fn narrow(&mut self, from: Type, to: Type, opcode: Opcode) {
        let b = self.pop_vector(from);
        let a = self.pop_vector(from);
        let v = match opcode {
            Opcode::Snarrow => self.builder.ins().snarrow(to, a, b),
            _ => self.builder.ins().unarrow(to, a, b),
        };
        self.push_vector(v);
    }

    /// An extending load (`v128.load8x8_s`, ...): 64 bits loaded into the
    /// low half of a `from`, whose low lanes `opcode` extends.
    fn load_extend(
        &mut self,
        memarg: &MemArg,
        from: Type,
        opcode: Opcode,
    ) -> Result<(), WasmError> {
        self.translate_load(memarg, Opcode::Load, Type::I64, 8)?;
        if self.state.reachable {
            let x = self.state.pop1();
            let zero = self.builder.ins().vconst(Type::I64X2, 0);
            let v = self.builder.ins().insertlane(zero, x, 0);
            let v = self.builder.ins().bitcast(from, v);
            let to = Type::vector_of(Type::int(2 * from.lane_type().bits()).expect("a wider lane"))
                .expect("a vector");
            let v = self.unary_to(v, to, opcode);
            self.push_vector(v);
        }
        Ok(())
    }

    /// `extadd_pairwise`: the lanes of a `from` extended to a `to`
    /// (`signed` or not), neighbours added.
    fn extadd_pairwise(&mut self, from: Type, to: Type, signed: bool) {
        let x = self.pop_vector(from);
        let (low, high) = if signed {
            (Opcode::SwidenLow, Opcode::SwidenHigh)
        } else {
            (Opcode::UwidenLow, Opcode::UwidenHigh)
        };
        let low = self.unary_to(x, to, low);
        let high = self.unary_to(x, to, high);
        let v = self.builder.ins().iadd_pairwise(low, high);
        self.push_vector(v);
    }

    /// `relaxed_madd` (`a * b + c`) and `relaxed_nmadd` (`c - a * b`) of
    /// `ty`s, unfused: rounded after the multiply and after the add.
    fn relaxed_madd(&mut self, ty: Type, negate: bool) {
        let c = self.pop_vector(ty);
        let b = self.pop_vector(ty);
        let a = self.pop_vector(ty);
        let product = self.builder.ins().fmul(a, b);
        let v = if negate {
            self.builder.ins().fsub(c, product)
        } else {
            self.builder.ins().fadd(product, c)
        };
        self.push_vector(v);
    }

    /// `v128.loadN_lane`: the vector with lane `lane` of a `ty` replaced
    /// by the lane loaded from `memarg`.
    fn load_lane(&mut self, memarg: &MemArg, ty: Type, lane: u8) -> Result<(), WasmError> {
        let vector = self.state.pop1();
        let lane_ty = ty.lane_type();
        let (opcode, loaded) = match lane_ty {
            Type::I8 => (Opcode::Uload8, Type::I32),
            Type::I16 => (Opcode::Uload16, Type::I32),
            _ => (Opcode::Load, lane_ty),
        };
        self.translate_load(memarg, opcode, loaded, lane_ty.bytes() as u8)?;
        if self.state.reachable {
            let x = self.state.pop1();
            self.state.stack.push(vector);
            self.state.stack.push(x);
            self.replace_lane(ty, lane);
        }
        Ok(())
    }

    /// `v128.storeN_lane`: lane `lane` of a `ty` stored at `memarg`.
    fn store_lane(&mut self, memarg: &MemArg, ty: Type, lane: u8) -> Result<(), WasmError> {
        let x = self.pop_vector(ty);
        let v = self.builder.ins().extractlane(x, lane);
        let (opcode, v) = match ty.lane_type() {
            Type::I8 => (Opcode::Istore8, self.builder.ins().uextend(Type::I32, v)),
            Type::I16 => (Opcode::Istore16, self.builder.ins().uextend(Type::I32, v)),
            _ => (Opcode::Store, v),
        };
        self.state.stack.push(v);
        self.translate_store(memarg, opcode, ty.lane_type().bytes() as u8)
    }

    /// A lane-wise float comparison of two vectors of type `ty`: a mask.
    fn float_compare(&mut self, ty: Type, cc: FloatCC) {
        let b = self.pop_vector(ty);
        let a = self.pop_vector(ty);
        let v = self.builder.ins().fcmp(cc, a, b);
        self.push_vector(v);
    }

    /// A lane-wise integer comparison of two vectors of type `ty`: a mask.
    fn compare(&mut self, ty: Type, cc: IntCC) {
        let b = self.pop_vector(ty);
        let a = self.pop_vector(ty);
        let v = self.builder.ins().icmp(cc, a, b);
        self.push_vector(v);
    }
}
