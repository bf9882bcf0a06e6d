//! Tables, references, indirect calls, `br_table`, and the table and bulk
//! memory operations that call runtime builtins.
//!
//! # `call_indirect`
//!
//! ```text
//!     cmp index, [table + current_elements]; jae trap(TableOutOfBounds)
//!     f = [[table + base] + index*8]          ; a *const VMFuncRef
//!     test f, f;                              jz  trap(IndirectCallToNull)
//!     cmp [f + type_id], [vmctx + type_id(expected)]; jne trap(BadSignature)
//!     rdi = [f + vmctx]; call [f + wasm_call]
//! ```
//!
//! Type ids are canonical across the engine, so the comparison is
//! structural type equality, as the spec requires across modules.

use crate::codegen::{Callee, CodeGen};
use crate::error::CompileError;
use crate::memory::BuiltinArg;
use crate::regs::{SCRATCH, VMCTX};
use cranelift_asm::x64::{Amode, CC, ExtMode, Gpr, GprMem, JumpTableTargets, OperandSize, Scale};
use duet_environ::abi::{CALLER_SAVED_GPRS, SYSTEM_V_ARGUMENT_GPRS, contains_gpr};
use duet_environ::builtins::Builtin;
use duet_environ::trap::Trap;
use duet_environ::vmoffsets::{VMFuncRef, VMTableDefinition};
use wasmparser::{BrTable, HeapType, RefType, ValType};

/// The registers that can hold a `call_indirect`'s function reference
/// while the arguments are placed: allocatable, and no native argument
/// register, so neither a wasm argument's nor the callee VMContext's.
const FUNC_REF_REGS: [Gpr; 2] = [Gpr::RAX, Gpr::R10];

const _: () = {
    let mut i = 0;
    while i < FUNC_REF_REGS.len() {
        assert!(!contains_gpr(&SYSTEM_V_ARGUMENT_GPRS, FUNC_REF_REGS[i]));
        assert!(contains_gpr(&CALLER_SAVED_GPRS, FUNC_REF_REGS[i]));
        assert!(FUNC_REF_REGS[i].enc() != SCRATCH.enc());
        i += 1;
    }
};

impl CodeGen<'_> {
    /// Checks `index` against table `table`'s size (trapping with
    /// `TableOutOfBounds`) and returns the address of its element. The
    /// element address is based on `base`, a register the caller took.
    fn table_element(&mut self, table: u32, index: Gpr, base: Gpr) -> Amode {
        let plan = self.env.table(table);
        let def = self.definition(plan.location);
        let length = def.offset(VMTableDefinition::CURRENT_ELEMENTS as i32);
        self.asm.cmp_rm(OperandSize::S64, index, &length);
        self.asm.trap_if(CC::AE, Trap::TableOutOfBounds.code());
        self.asm.mov_rm(
            OperandSize::S64,
            base,
            &def.offset(VMTableDefinition::BASE as i32),
        );
        Amode::base_index(base, index, Scale::Eight, 0)
    }

    /// `call_indirect`.
    pub(crate) fn emit_call_indirect(
        &mut self,
        type_index: u32,
        table: u32,
    ) -> Result<(), CompileError> {
        let ty = self.env.type_at(type_index);
        let index = self.pop_gpr();
        // The function reference must survive the arguments' moves: one of
        // FUNC_REF_REGS, and not the index. The arguments stay where they
        // are (the call moves them) unless neither is free, and then the
        // value stack is spilled to free one.
        let func_ref = FUNC_REF_REGS
            .into_iter()
            .find(|&reg| reg != index && self.regs.is_free(reg))
            .unwrap_or(if index == FUNC_REF_REGS[0] {
                FUNC_REF_REGS[1]
            } else {
                FUNC_REF_REGS[0]
            });
        self.alloc_specific(func_ref);
        let element = self.table_element(table, index, func_ref);
        self.asm.mov_rm(OperandSize::S64, func_ref, &element);
        self.free_gpr(index);
        self.asm.test_rr(OperandSize::S64, func_ref, func_ref);
        self.asm.trap_if(CC::Z, Trap::IndirectCallToNull.code());
        let expected = Amode::base(VMCTX, self.env.offsets().type_id(type_index) as i32);
        self.asm.mov_rm(
            OperandSize::S32,
            SCRATCH,
            &Amode::base(func_ref, VMFuncRef::TYPE_ID as i32),
        );
        self.asm.cmp_rm(OperandSize::S32, SCRATCH, &expected);
        self.asm.trap_if(CC::NZ, Trap::BadSignature.code());
        self.emit_call_to(ty, Callee::FuncRef(func_ref))
    }

    /// `table.get`.
    pub(crate) fn emit_table_get(&mut self, table: u32) {
        let element_type =
            duet_environ::module::ValType::from(self.env.table(table).element).into();
        let index = self.pop_gpr();
        let dst = self.alloc_gpr();
        let element = self.table_element(table, index, dst);
        self.asm.mov_rm(OperandSize::S64, dst, &element);
        self.free_gpr(index);
        self.push_gpr(dst, element_type);
    }

    /// `table.set`.
    pub(crate) fn emit_table_set(&mut self, table: u32) {
        let value = self.pop_gpr();
        let index = self.pop_gpr();
        let element = self.table_element(table, index, SCRATCH);
        self.asm.mov_mr(OperandSize::S64, &element, value);
        self.free_gpr(index);
        self.free_gpr(value);
    }

    /// `table.size`.
    pub(crate) fn emit_table_size(&mut self, table: u32) {
        let plan = self.env.table(table);
        let dst = self.alloc_gpr();
        let def = self.definition(plan.location);
        let length = def.offset(VMTableDefinition::CURRENT_ELEMENTS as i32);
        self.asm.mov_rm(OperandSize::S64, dst, &length);
        self.push_gpr(
            dst,
            if plan.table64 {
                ValType::I64
            } else {
                ValType::I32
            },
        );
    }

    /// `ref.null`.
    pub(crate) fn emit_ref_null(&mut self, heap_type: HeapType) -> Result<(), CompileError> {
        let Some(ty) = RefType::new(true, heap_type) else {
            return Err(self.unsupported("ref_null of this heap type"));
        };
        self.check_type(ValType::Ref(ty))?;
        let dst = self.alloc_gpr();
        self.asm.xor_rr(OperandSize::S32, dst, dst);
        self.push_gpr(dst, ValType::Ref(ty));
        Ok(())
    }

    /// `ref.is_null`.
    pub(crate) fn emit_ref_is_null(&mut self) {
        let reg = self.pop_gpr();
        self.asm.test_rr(OperandSize::S64, reg, reg);
        self.asm.setcc(CC::Z, reg);
        self.asm.movzx(ExtMode::BL, reg, &GprMem::Gpr(reg));
        self.push_gpr(reg, ValType::I32);
    }

    /// `ref.func`: the address of the function's `VMFuncRef`.
    pub(crate) fn emit_ref_func(&mut self, func_index: u32) {
        let dst = self.alloc_gpr();
        let offset = self
            .env
            .func_ref_offset(func_index)
            .expect("ref.func validated: the function escapes");
        self.asm
            .lea(OperandSize::S64, dst, &Amode::base(VMCTX, offset as i32));
        self.push_gpr(dst, ValType::FUNCREF);
    }

    /// A builtin with a status or size result, pushed as `ty` (a 32-bit
    /// result keeps its low half: -1 for a refused growth).
    fn call_builtin_with_result(&mut self, builtin: Builtin, args: &[BuiltinArg], ty: ValType) {
        let result = self
            .call_builtin(builtin, args)
            .expect("the builtin has a result");
        if ty == ValType::I32 {
            self.asm.mov_rr(OperandSize::S32, result, result);
        }
        self.alloc_specific(result);
        self.push_gpr(result, ty);
    }

    /// `table.grow`: operands `init, delta`.
    pub(crate) fn emit_table_grow(&mut self, table: u32) {
        let ty = if self.env.table(table).table64 {
            ValType::I64
        } else {
            ValType::I32
        };
        let args = [
            BuiltinArg::Imm(table.into()),
            BuiltinArg::Operand(1),
            BuiltinArg::Operand(0),
        ];
        self.call_builtin_with_result(Builtin::TableGrow, &args, ty);
    }

    /// The bulk operations: each calls its builtin (which traps on failure).
    pub(crate) fn emit_bulk(&mut self, builtin: Builtin, args: &[BuiltinArg]) {
        self.call_builtin(builtin, args);
    }

    /// `br_table`: a jump table to each target; a target whose branch must
    /// move operands gets a stub that does so.
    pub(crate) fn emit_br_table(&mut self, targets: &BrTable<'_>) -> Result<(), CompileError> {
        let depths = targets.targets().collect::<Result<Vec<u32>, _>>()?;
        let index = self.pop_gpr();
        let (tmp1, tmp2) = (self.alloc_gpr(), self.alloc_gpr());
        // One label per distinct depth: the frame's own, or a stub's.
        let mut stubs: Vec<(u32, cranelift_asm::Label)> = Vec::new();
        let mut label_for = |this: &mut Self, depth: u32| {
            if let Some(&(_, label)) = stubs.iter().find(|(d, _)| *d == depth) {
                return label;
            }
            let frame_index = this.control.len() - 1 - depth as usize;
            let label = if this.branch_needs_moves(frame_index) {
                this.asm.new_label()
            } else {
                this.control[frame_index].branched_to = true;
                this.control[frame_index].label
            };
            stubs.push((depth, label));
            label
        };
        let default = label_for(self, targets.default());
        let labels: Vec<_> = depths.iter().map(|&d| label_for(self, d)).collect();
        self.asm.jmp_table(
            index,
            tmp1,
            tmp2,
            &JumpTableTargets {
                default,
                targets: labels,
            },
        );
        for reg in [index, tmp1, tmp2] {
            self.free_gpr(reg);
        }
        for (depth, label) in stubs {
            let frame_index = self.control.len() - 1 - depth as usize;
            if label == self.control[frame_index].label {
                continue;
            }
            self.bind(label)?;
            let saved = (self.stack.clone(), self.regs.clone(), self.sp_offset);
            self.emit_branch(depth);
            (self.stack, self.regs, self.sp_offset) = saved;
        }
        Ok(())
    }
}
