//! One operator at a time: control flow, locals, numeric operators.
//! Memories and globals are in `memory.rs`; tables, references and calls
//! in `tables.rs`.
//!
//! # Control flow
//!
//! ```text
//!   block     frame only; destination made when first branched to
//!   loop      jump header(params); switch to header; header's params
//!             replace the params on the stack; header sealed at `end`
//!   if        brif cond, then, else (both sealed at once); the params
//!             are kept for the else arm
//!   else      jump destination(results); switch to else; params back
//!   end       jump destination(results) if reachable; an if without else
//!             adds else: jump destination(params); switch to the
//!             destination and seal it (every branch to it is behind us).
//!             With no destination (nothing branched there): go on in
//!             place, or in the else block of an if without else whose
//!             then arm does not fall through
//!   br        jump target(args)                 ─┐ then unreachable
//!   br_table  br_table index, default, [targets] ├ until else/end
//!   return    return results                    ─┘
//!   br_if     brif cond, target(args), next (a fresh block, sealed)
//! ```
//!
//! A block is sealed exactly when no branch to it can be added any more:
//! the entry at once, an arm of an `if` and the fall-through of a `br_if`
//! right after the branch that is their only predecessor, a loop header at
//! the loop's `end` (branches to it come only from inside), a destination
//! when its frame ends.
//!
//! # Numbers
//!
//! Most operators are one IR instruction. The exceptions:
//!
//! * comparisons produce an `i8` in the IR and are zero-extended to the
//!   wasm `i32` (`eqz` is a comparison with zero);
//! * integer division traps by explicit checks before the IR division:
//!   `trapz divisor, IntegerDivisionByZero`, and for `div_s`
//!   `trapnz (a == MIN) & (b == -1), IntegerOverflow` (`rem_s` needs no
//!   overflow check: IR `srem` defines `MIN % -1` as 0). A constant divisor
//!   drops the checks it rules out;
//! * the sign-extension operators reduce to the narrow type and
//!   sign-extend back.
//!
//! Float-to-integer truncation is IR `fcvt_to_sint`/`fcvt_to_uint`, whose
//! lowering traps with `BadConversionToInteger` on NaN and
//! `IntegerOverflow` out of range; the saturating forms are
//! `fcvt_to_*_sat`. `min`, `max`, `nearest` and the comparisons have
//! WebAssembly's semantics in the IR already.

use crate::error::WasmError;
use crate::func_translator::Translator;
use crate::state::{ControlFrame, FrameKind};
use cranelift_codegen::ir::{Block, FloatCC, InstructionData, IntCC, Opcode, Type, Value};
use duet_environ::trap::Trap;
use wasmparser::{BlockType, Operator};

/// Pops one operand, applies `$method`, pushes the result.
macro_rules! unop {
    ($t:ident, $method:ident) => {{
        let a = $t.state.pop1();
        let v = $t.builder.ins().$method(a);
        $t.state.stack.push(v);
    }};
}

/// Pops two operands, applies `$method`, pushes the result.
macro_rules! binop {
    ($t:ident, $method:ident) => {{
        let (a, b) = $t.state.pop2();
        let v = $t.builder.ins().$method(a, b);
        $t.state.stack.push(v);
    }};
}

/// Pops one operand, converts it to `$ty` with `$method`, pushes it.
macro_rules! convert {
    ($t:ident, $method:ident, $ty:expr) => {{
        let a = $t.state.pop1();
        let v = $t.builder.ins().$method($ty, a);
        $t.state.stack.push(v);
    }};
}

impl Translator<'_, '_> {
    /// Translates one validated operator.
    pub(crate) fn operator(&mut self, op: &Operator<'_>) -> Result<(), WasmError> {
        use Operator as O;
        use Type::{F32, F64, I32, I64};
        match *op {
            // ---- Control ----------------------------------------------------
            O::Nop => {}
            O::Unreachable => {
                self.builder.ins().trap(Trap::UnreachableCodeReached.code());
                self.set_unreachable();
            }
            O::Block { blockty } => self.translate_block(blockty)?,
            O::Loop { blockty } => self.translate_loop(blockty)?,
            O::If { blockty } => self.translate_if(blockty)?,
            O::Else => self.translate_else(),
            O::End => self.translate_end(),
            O::Br { relative_depth } => {
                let (target, arity) = self.branch_target(relative_depth);
                let args = self.state.peekn(arity).to_vec();
                self.builder.ins().jump(target, &args);
                self.set_unreachable();
            }
            O::BrIf { relative_depth } => {
                let condition = self.state.pop1();
                let (target, arity) = self.branch_target(relative_depth);
                let args = self.state.peekn(arity).to_vec();
                let next = self.builder.create_block();
                self.builder.ins().brif(condition, target, &args, next, &[]);
                self.builder.seal_block(next);
                self.builder.switch_to_block(next);
            }
            O::BrTable { ref targets } => {
                let depths = targets.targets().collect::<Result<Vec<u32>, _>>()?;
                self.translate_br_table(targets.default(), &depths);
            }
            O::Return => {
                let arity = self.state.control[0].results.len();
                let results = self.state.peekn(arity).to_vec();
                self.builder.ins().return_(&results);
                self.set_unreachable();
            }

            // ---- Calls, tables and references (tables.rs) --------------------
            O::Call { function_index } => self.translate_call(function_index)?,
            O::CallIndirect {
                type_index,
                table_index,
            } => self.translate_call_indirect(type_index, table_index)?,
            O::TableGet { table } => self.translate_table_get(table),
            O::TableSet { table } => self.translate_table_set(table),
            O::TableSize { table } => self.translate_table_size(table),
            O::TableGrow { table } => self.translate_table_grow(table),
            O::TableFill { table } => self.translate_table_fill(table),
            O::TableCopy {
                dst_table,
                src_table,
            } => self.translate_table_copy(dst_table, src_table),
            O::TableInit { elem_index, table } => self.translate_table_init(elem_index, table),
            O::ElemDrop { elem_index } => self.translate_elem_drop(elem_index),
            O::RefNull { hty } => self.translate_ref_null(hty)?,
            O::RefIsNull => {
                let r = self.state.pop1();
                let null = self.builder.ins().iconst(I64, 0);
                let is_null = self.builder.ins().icmp(IntCC::Equal, r, null);
                let v = self.builder.ins().uextend(I32, is_null);
                self.state.stack.push(v);
            }
            O::RefFunc { function_index } => self.translate_ref_func(function_index)?,

            // ---- Memories and globals (memory.rs) ----------------------------
            O::I32Load { memarg } => self.translate_load(&memarg, Opcode::Load, I32, 4)?,
            O::I64Load { memarg } => self.translate_load(&memarg, Opcode::Load, I64, 8)?,
            O::F32Load { memarg } => self.translate_load(&memarg, Opcode::Load, F32, 4)?,
            O::F64Load { memarg } => self.translate_load(&memarg, Opcode::Load, F64, 8)?,
            O::I32Load8S { memarg } => self.translate_load(&memarg, Opcode::Sload8, I32, 1)?,
            O::I32Load8U { memarg } => self.translate_load(&memarg, Opcode::Uload8, I32, 1)?,
            O::I32Load16S { memarg } => self.translate_load(&memarg, Opcode::Sload16, I32, 2)?,
            O::I32Load16U { memarg } => self.translate_load(&memarg, Opcode::Uload16, I32, 2)?,
            O::I64Load8S { memarg } => self.translate_load(&memarg, Opcode::Sload8, I64, 1)?,
            O::I64Load8U { memarg } => self.translate_load(&memarg, Opcode::Uload8, I64, 1)?,
            O::I64Load16S { memarg } => self.translate_load(&memarg, Opcode::Sload16, I64, 2)?,
            O::I64Load16U { memarg } => self.translate_load(&memarg, Opcode::Uload16, I64, 2)?,
            O::I64Load32S { memarg } => self.translate_load(&memarg, Opcode::Sload32, I64, 4)?,
            O::I64Load32U { memarg } => self.translate_load(&memarg, Opcode::Uload32, I64, 4)?,
            O::I32Store { memarg } | O::F32Store { memarg } => {
                self.translate_store(&memarg, Opcode::Store, 4)?
            }
            O::I64Store { memarg } | O::F64Store { memarg } => {
                self.translate_store(&memarg, Opcode::Store, 8)?
            }
            O::I32Store8 { memarg } | O::I64Store8 { memarg } => {
                self.translate_store(&memarg, Opcode::Istore8, 1)?
            }
            O::I32Store16 { memarg } | O::I64Store16 { memarg } => {
                self.translate_store(&memarg, Opcode::Istore16, 2)?
            }
            O::I64Store32 { memarg } => self.translate_store(&memarg, Opcode::Istore32, 4)?,
            O::MemorySize { mem } => self.translate_memory_size(mem),
            O::MemoryGrow { mem } => self.translate_memory_grow(mem),
            O::MemoryFill { mem } => self.translate_memory_fill(mem),
            O::MemoryCopy { dst_mem, src_mem } => self.translate_memory_copy(dst_mem, src_mem),
            O::MemoryInit { data_index, mem } => self.translate_memory_init(data_index, mem),
            O::DataDrop { data_index } => self.translate_data_drop(data_index),
            O::GlobalGet { global_index } => self.translate_global_get(global_index)?,
            O::GlobalSet { global_index } => self.translate_global_set(global_index)?,

            // ---- Parametric and locals -----------------------------------------
            O::Drop => {
                self.state.pop1();
            }
            O::Select => self.translate_select(),
            O::TypedSelect { ty } => {
                self.ir_type(ty)?;
                self.translate_select();
            }
            O::LocalGet { local_index } => {
                let v = self.builder.use_var(self.local(local_index));
                self.state.stack.push(v);
            }
            O::LocalSet { local_index } => {
                let v = self.state.pop1();
                self.builder.def_var(self.local(local_index), v);
            }
            O::LocalTee { local_index } => {
                let v = *self.state.stack.last().expect("validated: an operand");
                self.builder.def_var(self.local(local_index), v);
            }

            // ---- Integer operators ---------------------------------------------
            O::I32Const { value } => {
                let v = self.builder.ins().iconst(I32, i64::from(value));
                self.state.stack.push(v);
            }
            O::I64Const { value } => {
                let v = self.builder.ins().iconst(I64, value);
                self.state.stack.push(v);
            }
            O::I32Add | O::I64Add => binop!(self, iadd),
            O::I32Sub | O::I64Sub => binop!(self, isub),
            O::I32Mul | O::I64Mul => binop!(self, imul),
            O::I32And | O::I64And => binop!(self, band),
            O::I32Or | O::I64Or => binop!(self, bor),
            O::I32Xor | O::I64Xor => binop!(self, bxor),
            O::I32Shl | O::I64Shl => binop!(self, ishl),
            O::I32ShrS | O::I64ShrS => binop!(self, sshr),
            O::I32ShrU | O::I64ShrU => binop!(self, ushr),
            O::I32Rotl | O::I64Rotl => binop!(self, rotl),
            O::I32Rotr | O::I64Rotr => binop!(self, rotr),
            O::I32Clz | O::I64Clz => unop!(self, clz),
            O::I32Ctz | O::I64Ctz => unop!(self, ctz),
            O::I32Popcnt | O::I64Popcnt => unop!(self, popcnt),
            O::I32DivS | O::I64DivS => self.translate_division(Opcode::Sdiv),
            O::I32DivU | O::I64DivU => self.translate_division(Opcode::Udiv),
            O::I32RemS | O::I64RemS => self.translate_division(Opcode::Srem),
            O::I32RemU | O::I64RemU => self.translate_division(Opcode::Urem),
            O::I32Eqz | O::I64Eqz => {
                let a = self.state.pop1();
                let ty = self.builder.func.dfg.value_type(a);
                let zero = self.builder.ins().iconst(ty, 0);
                self.push_icmp(IntCC::Equal, a, zero);
            }
            O::I32Eq | O::I64Eq => self.translate_icmp(IntCC::Equal),
            O::I32Ne | O::I64Ne => self.translate_icmp(IntCC::NotEqual),
            O::I32LtS | O::I64LtS => self.translate_icmp(IntCC::SignedLessThan),
            O::I32LtU | O::I64LtU => self.translate_icmp(IntCC::UnsignedLessThan),
            O::I32GtS | O::I64GtS => self.translate_icmp(IntCC::SignedGreaterThan),
            O::I32GtU | O::I64GtU => self.translate_icmp(IntCC::UnsignedGreaterThan),
            O::I32LeS | O::I64LeS => self.translate_icmp(IntCC::SignedLessThanOrEqual),
            O::I32LeU | O::I64LeU => self.translate_icmp(IntCC::UnsignedLessThanOrEqual),
            O::I32GeS | O::I64GeS => self.translate_icmp(IntCC::SignedGreaterThanOrEqual),
            O::I32GeU | O::I64GeU => self.translate_icmp(IntCC::UnsignedGreaterThanOrEqual),

            // ---- Integer conversions ---------------------------------------------
            O::I32WrapI64 => convert!(self, ireduce, I32),
            O::I64ExtendI32S => convert!(self, sextend, I64),
            O::I64ExtendI32U => convert!(self, uextend, I64),
            O::I32Extend8S => self.translate_sign_extend(Type::I8, I32),
            O::I32Extend16S => self.translate_sign_extend(Type::I16, I32),
            O::I64Extend8S => self.translate_sign_extend(Type::I8, I64),
            O::I64Extend16S => self.translate_sign_extend(Type::I16, I64),
            O::I64Extend32S => self.translate_sign_extend(I32, I64),

            // ---- Float operators ---------------------------------------------------
            O::F32Const { value } => {
                let v = self.builder.ins().f32const(value.bits());
                self.state.stack.push(v);
            }
            O::F64Const { value } => {
                let v = self.builder.ins().f64const(value.bits());
                self.state.stack.push(v);
            }
            O::F32Add | O::F64Add => binop!(self, fadd),
            O::F32Sub | O::F64Sub => binop!(self, fsub),
            O::F32Mul | O::F64Mul => binop!(self, fmul),
            O::F32Div | O::F64Div => binop!(self, fdiv),
            O::F32Min | O::F64Min => binop!(self, fmin),
            O::F32Max | O::F64Max => binop!(self, fmax),
            O::F32Copysign | O::F64Copysign => binop!(self, fcopysign),
            O::F32Neg | O::F64Neg => unop!(self, fneg),
            O::F32Abs | O::F64Abs => unop!(self, fabs),
            O::F32Sqrt | O::F64Sqrt => unop!(self, sqrt),
            O::F32Ceil | O::F64Ceil => unop!(self, ceil),
            O::F32Floor | O::F64Floor => unop!(self, floor),
            O::F32Trunc | O::F64Trunc => unop!(self, trunc),
            O::F32Nearest | O::F64Nearest => unop!(self, nearest),
            O::F32Eq | O::F64Eq => self.translate_fcmp(FloatCC::Equal),
            O::F32Ne | O::F64Ne => self.translate_fcmp(FloatCC::NotEqual),
            O::F32Lt | O::F64Lt => self.translate_fcmp(FloatCC::LessThan),
            O::F32Gt | O::F64Gt => self.translate_fcmp(FloatCC::GreaterThan),
            O::F32Le | O::F64Le => self.translate_fcmp(FloatCC::LessThanOrEqual),
            O::F32Ge | O::F64Ge => self.translate_fcmp(FloatCC::GreaterThanOrEqual),

            // ---- Float conversions -------------------------------------------------
            O::F32DemoteF64 => convert!(self, fdemote, F32),
            O::F64PromoteF32 => convert!(self, fpromote, F64),
            O::F32ConvertI32S | O::F32ConvertI64S => convert!(self, fcvt_from_sint, F32),
            O::F64ConvertI32S | O::F64ConvertI64S => convert!(self, fcvt_from_sint, F64),
            O::F32ConvertI32U | O::F32ConvertI64U => convert!(self, fcvt_from_uint, F32),
            O::F64ConvertI32U | O::F64ConvertI64U => convert!(self, fcvt_from_uint, F64),
            O::I32TruncF32S | O::I32TruncF64S => convert!(self, fcvt_to_sint, I32),
            O::I64TruncF32S | O::I64TruncF64S => convert!(self, fcvt_to_sint, I64),
            O::I32TruncF32U | O::I32TruncF64U => convert!(self, fcvt_to_uint, I32),
            O::I64TruncF32U | O::I64TruncF64U => convert!(self, fcvt_to_uint, I64),
            O::I32TruncSatF32S | O::I32TruncSatF64S => convert!(self, fcvt_to_sint_sat, I32),
            O::I64TruncSatF32S | O::I64TruncSatF64S => convert!(self, fcvt_to_sint_sat, I64),
            O::I32TruncSatF32U | O::I32TruncSatF64U => convert!(self, fcvt_to_uint_sat, I32),
            O::I64TruncSatF32U | O::I64TruncSatF64U => convert!(self, fcvt_to_uint_sat, I64),
            O::I32ReinterpretF32 => convert!(self, bitcast, I32),
            O::I64ReinterpretF64 => convert!(self, bitcast, I64),
            O::F32ReinterpretI32 => convert!(self, bitcast, F32),
            O::F64ReinterpretI64 => convert!(self, bitcast, F64),

            // SIMD (simd.rs), then threads, tail calls, exceptions, GC, ...
            _ if self.translate_simd(op)? => {}
            _ => return Err(self.unsupported(op)),
        }
        Ok(())
    }

    // ---- Control -------------------------------------------------------------

    /// The rest of the current frame is unreachable (after a branch, a
    /// return or a trap): its operands are dead.
    pub(crate) fn set_unreachable(&mut self) {
        let base = self.state.control.last().map_or(0, |f| f.base);
        self.state.stack.truncate(base.min(self.state.stack.len()));
        self.state.reachable = false;
    }

    /// The parameter and result types of a block type.
    fn block_signature(&self, ty: BlockType) -> Result<(Vec<Type>, Vec<Type>), WasmError> {
        match ty {
            BlockType::Empty => Ok((Vec::new(), Vec::new())),
            BlockType::Type(t) => Ok((Vec::new(), vec![self.ir_type(t)?])),
            BlockType::FuncType(index) => {
                let ty = self.env.type_at(index);
                let convert = |types: &[duet_environ::module::ValType]| {
                    types
                        .iter()
                        .map(|&t| {
                            crate::ir_types::ir_type(t).ok_or_else(|| WasmError::UnsupportedType {
                                ty: t.to_string(),
                                offset: self.offset,
                            })
                        })
                        .collect::<Result<Vec<Type>, WasmError>>()
                };
                Ok((convert(&ty.params)?, convert(&ty.results)?))
            }
        }
    }

    /// A frame opened in unreachable code (by whatever operator: see
    /// `Translator::unreachable_operator`).
    pub(crate) fn push_dead_frame(&mut self) {
        self.state.control.push(ControlFrame {
            kind: FrameKind::Dead,
            destination: None,
            base: self.state.stack.len(),
            num_params: 0,
            results: Vec::new(),
        });
    }

    fn translate_block(&mut self, blockty: BlockType) -> Result<(), WasmError> {
        let (params, results) = self.block_signature(blockty)?;
        self.state.control.push(ControlFrame {
            kind: FrameKind::Block,
            destination: None,
            base: self.state.stack.len() - params.len(),
            num_params: params.len(),
            results,
        });
        Ok(())
    }

    fn translate_loop(&mut self, blockty: BlockType) -> Result<(), WasmError> {
        let (params, results) = self.block_signature(blockty)?;
        let header = self.builder.create_block();
        for &ty in &params {
            self.builder.append_block_param(header, ty);
        }
        let args = self.state.peekn(params.len()).to_vec();
        self.builder.ins().jump(header, &args);
        self.state.popn(params.len());
        self.enter_at_loop(header, params.is_empty())?;
        self.builder.switch_to_block(header);
        let base = self.state.stack.len();
        self.state
            .stack
            .extend_from_slice(self.builder.block_params(header));
        self.state.control.push(ControlFrame {
            kind: FrameKind::Loop { header },
            destination: None,
            base,
            num_params: params.len(),
            results,
        });
        Ok(())
    }

    fn translate_if(&mut self, blockty: BlockType) -> Result<(), WasmError> {
        let condition = self.state.pop1();
        let (params, results) = self.block_signature(blockty)?;
        let (then_block, else_block) = (self.builder.create_block(), self.builder.create_block());
        self.builder
            .ins()
            .brif(condition, then_block, &[], else_block, &[]);
        // Each arm's only predecessor is the branch just made.
        self.builder.seal_block(then_block);
        self.builder.seal_block(else_block);
        self.builder.switch_to_block(then_block);
        self.state.control.push(ControlFrame {
            kind: FrameKind::If {
                else_block,
                params: self.state.peekn(params.len()).to_vec(),
                has_else: false,
            },
            destination: None,
            base: self.state.stack.len() - params.len(),
            num_params: params.len(),
            results,
        });
        Ok(())
    }

    /// The destination block of frame `index`, made (with the frame's
    /// results as parameters) when first needed.
    fn destination(&mut self, index: usize) -> Block {
        if let Some(block) = self.state.control[index].destination {
            return block;
        }
        let block = self.builder.create_block();
        for i in 0..self.state.control[index].results.len() {
            let ty = self.state.control[index].results[i];
            self.builder.append_block_param(block, ty);
        }
        self.state.control[index].destination = Some(block);
        block
    }

    /// Where a branch `depth` frames out goes, and how many values it
    /// carries.
    fn branch_target(&mut self, depth: u32) -> (Block, usize) {
        let index = self.state.frame_index(depth);
        let frame = &self.state.control[index];
        let arity = frame.branch_arity();
        match frame.kind {
            FrameKind::Loop { header } => (header, arity),
            _ => (self.destination(index), arity),
        }
    }

    fn translate_br_table(&mut self, default: u32, depths: &[u32]) {
        let index = self.state.pop1();
        let (default, arity) = self.branch_target(default);
        // Every target takes the same values: the validator checked that
        // all have the default's arity and types.
        let args = self.state.peekn(arity).to_vec();
        if depths.is_empty() {
            self.builder.ins().jump(default, &args);
        } else {
            let targets: Vec<Block> = depths.iter().map(|&d| self.branch_target(d).0).collect();
            let calls: Vec<(Block, &[Value])> = targets.iter().map(|&b| (b, &args[..])).collect();
            self.builder.ins().br_table(index, (default, &args), &calls);
        }
        self.set_unreachable();
    }

    /// The `else` of the innermost frame, a live `if` (the validator
    /// checked that it is an `if`; a dead one's `else` never gets here).
    pub(crate) fn translate_else(&mut self) {
        let index = self.state.control.len() - 1;
        let FrameKind::If {
            else_block,
            ref params,
            ..
        } = self.state.control[index].kind
        else {
            panic!("`else` reached a live frame that is not an `if`");
        };
        let params = params.clone();
        if self.state.reachable {
            let destination = self.destination(index);
            let arity = self.state.control[index].results.len();
            let results = self.state.peekn(arity).to_vec();
            self.builder.ins().jump(destination, &results);
        }
        let frame = &mut self.state.control[index];
        if let FrameKind::If { has_else, .. } = &mut frame.kind {
            *has_else = true;
        }
        let base = frame.base;
        self.state.stack.truncate(base);
        self.state.stack.extend_from_slice(&params);
        self.builder.switch_to_block(else_block);
        self.state.reachable = true;
    }

    /// The `end` of the innermost frame, a live one (a dead frame's `end`
    /// never gets here).
    pub(crate) fn translate_end(&mut self) {
        let index = self.state.control.len() - 1;
        let (base, arity) = {
            let frame = &self.state.control[index];
            (frame.base, frame.results.len())
        };
        match self.state.control[index].kind {
            FrameKind::Dead => panic!("`end` of a dead frame reached the translator"),
            FrameKind::Loop { header } => {
                // Branches to the header come only from inside the loop.
                self.builder.seal_block(header);
                // Only the fall-through reaches the end of a loop: the
                // results stay where they are.
                self.state.control.pop();
                if !self.state.reachable {
                    self.state.stack.truncate(base);
                }
                return;
            }
            FrameKind::Function | FrameKind::Block | FrameKind::If { .. } => {}
        }
        let is_function = matches!(self.state.control[index].kind, FrameKind::Function);
        let open_else = match &self.state.control[index].kind {
            FrameKind::If {
                else_block,
                params,
                has_else: false,
            } => Some((*else_block, params.clone())),
            _ => None,
        };
        if self.state.reachable {
            let results = self.state.peekn(arity).to_vec();
            if open_else.is_none() && self.state.control[index].destination.is_none() {
                // Nothing branches here: the code goes on in this block.
                self.state.control.pop();
                if is_function {
                    self.builder.ins().return_(&results);
                    self.state.reachable = false;
                }
                return;
            }
            let destination = self.destination(index);
            self.builder.ins().jump(destination, &results);
        }
        if let Some((else_block, params)) = open_else {
            // Without `else`, a false condition goes straight to the end
            // with the parameters as the results (the validator checked
            // that they have the same types).
            if !self.state.reachable && self.state.control[index].destination.is_none() {
                // Nothing else gets there (the `then` arm trapped, returned
                // or branched elsewhere): the code goes on in the else
                // block itself.
                self.state.control.pop();
                self.state.stack.truncate(base);
                self.state.stack.extend_from_slice(&params);
                self.builder.switch_to_block(else_block);
                self.state.reachable = true;
                return;
            }
            let destination = self.destination(index);
            self.builder.switch_to_block(else_block);
            self.builder.ins().jump(destination, &params);
        }
        let frame = self.state.control.pop().expect("the frame just looked at");
        self.state.stack.truncate(base);
        match frame.destination {
            Some(destination) => {
                self.builder.switch_to_block(destination);
                self.builder.seal_block(destination);
                let params = self.builder.block_params(destination).to_vec();
                if is_function {
                    self.builder.ins().return_(&params);
                    self.state.reachable = false;
                } else {
                    self.state.stack.extend_from_slice(&params);
                    self.state.reachable = true;
                }
            }
            None => self.state.reachable = false,
        }
    }

    // ---- Parametric ------------------------------------------------------------

    fn translate_select(&mut self) {
        let (if_true, if_false, condition) = self.state.pop3();
        let v = self.builder.ins().select(condition, if_true, if_false);
        self.state.stack.push(v);
    }

    // ---- Numbers ---------------------------------------------------------------

    /// Pushes `icmp cc a, b` as an `i32`.
    fn push_icmp(&mut self, cc: IntCC, a: Value, b: Value) {
        let flag = self.builder.ins().icmp(cc, a, b);
        let v = self.builder.ins().uextend(Type::I32, flag);
        self.state.stack.push(v);
    }

    fn translate_icmp(&mut self, cc: IntCC) {
        let (a, b) = self.state.pop2();
        self.push_icmp(cc, a, b);
    }

    fn translate_fcmp(&mut self, cc: FloatCC) {
        let (a, b) = self.state.pop2();
        let flag = self.builder.ins().fcmp(cc, a, b);
        let v = self.builder.ins().uextend(Type::I32, flag);
        self.state.stack.push(v);
    }

    /// `extendN_s`: the low `narrow` bits, sign-extended to `wide`.
    fn translate_sign_extend(&mut self, narrow: Type, wide: Type) {
        let a = self.state.pop1();
        let low = self.builder.ins().ireduce(narrow, a);
        let v = self.builder.ins().sextend(wide, low);
        self.state.stack.push(v);
    }

    /// The value of `v` if an `iconst` defines it.
    pub(crate) fn constant(&self, v: Value) -> Option<i64> {
        let dfg = &self.builder.func.dfg;
        match dfg.value_def(v) {
            cranelift_codegen::ir::ValueDef::Result(inst, 0) => match *dfg.inst(inst) {
                InstructionData::UnaryImm {
                    opcode: Opcode::Iconst,
                    imm,
                } => Some(imm),
                _ => None,
            },
            _ => None,
        }
    }

    /// `div_s`, `div_u`, `rem_s`, `rem_u` with their traps made explicit
    /// (see the module docs).
    fn translate_division(&mut self, opcode: Opcode) {
        let (a, b) = self.state.pop2();
        let ty = self.builder.func.dfg.value_type(a);
        // A constant divisor is canonical (sign-extended), so -1 is -1 at
        // either width.
        let divisor = self.constant(b);
        if divisor.is_none_or(|d| d == 0) {
            self.builder
                .ins()
                .trapz(b, Trap::IntegerDivisionByZero.code());
        }
        if opcode == Opcode::Sdiv && divisor.is_none_or(|d| d == -1) {
            let min = self.builder.ins().iconst(ty, i64::MIN >> (64 - ty.bits()));
            let is_min = self.builder.ins().icmp(IntCC::Equal, a, min);
            let minus_one = self.builder.ins().iconst(ty, -1);
            let is_minus_one = self.builder.ins().icmp(IntCC::Equal, b, minus_one);
            let overflows = self.builder.ins().band(is_min, is_minus_one);
            self.builder
                .ins()
                .trapnz(overflows, Trap::IntegerOverflow.code());
        }
        let v = match opcode {
            Opcode::Sdiv => self.builder.ins().sdiv(a, b),
            Opcode::Udiv => self.builder.ins().udiv(a, b),
            Opcode::Srem => self.builder.ins().srem(a, b),
            _ => self.builder.ins().urem(a, b),
        };
        self.state.stack.push(v);
    }
}
