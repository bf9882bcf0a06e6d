//! Linear memories, globals and calls to runtime builtins.
//!
//! # Memory accesses
//!
//! ```text
//!   (explicit check only)      end = index + offset + size
//!                              cmp end, [def + current_length]; ja trap
//!   r11 = [def + base]
//!   load/store [r11 + index + offset]       tagged MemoryOutOfBounds
//! ```
//!
//! `def` is the memory's `VMMemoryDefinition`: inline in the VMContext for
//! a defined memory, behind one more load for an imported one. Whether the
//! explicit check is needed is the tunables' decision
//! (`Tunables::bounds_check`): with the default 4 GiB reservation and 2 GiB
//! guard, every 32-bit access with a constant offset below 2 GiB faults in
//! inaccessible memory when out of bounds, and the access instruction's
//! trap record turns the fault into `MemoryOutOfBounds`. A 32-bit index is
//! used as a 64-bit one directly (invariant 2 of the crate docs).

use crate::codegen::{CodeGen, in_xmm, int_size, xmm_mov_op};
use crate::error::CompileError;
use crate::regs::{SCRATCH, VMCTX};
use crate::stack::Val;
use cranelift_asm::x64::{Amode, CC, ExtMode, Gpr, GprMem, OperandSize, Scale};
use duet_environ::abi::ArgLocation;
use duet_environ::builtins::Builtin;
use duet_environ::module_env::Location;
use duet_environ::trap::Trap;
use duet_environ::tunables::BoundsCheck;
use duet_environ::vmoffsets::{VMContext, VMMemoryDefinition};
use wasmparser::{MemArg, MemArgTarget, ValType};

/// How a load widens what it reads.
#[derive(Copy, Clone, Debug)]
pub(crate) enum LoadKind {
    /// A plain load of the operand size.
    Plain(OperandSize),
    /// Zero-extending.
    ZeroExtend(ExtMode),
    /// Sign-extending.
    SignExtend(ExtMode),
}

/// An argument of a builtin call.
#[derive(Copy, Clone, Debug)]
pub(crate) enum BuiltinArg {
    /// A constant (an index from the instruction).
    Imm(u64),
    /// Operand `k` of those taken from the top of the value stack, the
    /// deepest being 0.
    Operand(usize),
}

/// The immediate a store of `size` bytes writes for a constant `value`: its
/// low bytes (stores truncate), or `None` when the value must go through a
/// register (a 64-bit store of a constant beyond a sign-extended imm32).
fn store_immediate(value: Val, size: OperandSize) -> Option<i32> {
    let value = match value {
        Val::I32(v) => i64::from(v),
        Val::I64(v) => v,
        _ => return None,
    };
    match size {
        OperandSize::S8 => Some(i32::from(value as i8)),
        OperandSize::S16 => Some(i32::from(value as i16)),
        OperandSize::S32 => Some(value as i32),
        OperandSize::S64 => i32::try_from(value).ok(),
    }
}

impl CodeGen<'_> {
    /// The address of a definition record. An imported one is reached
    /// through its pointer, loaded into the scratch register (so nothing may
    /// use the scratch register until the record has been read).
    pub(crate) fn definition(&mut self, location: Location) -> Amode {
        match location {
            Location::Defined { offset } => Amode::base(VMCTX, offset as i32),
            Location::Imported { pointer } => {
                self.asm.mov_rm(
                    OperandSize::S64,
                    SCRATCH,
                    &Amode::base(VMCTX, pointer as i32),
                );
                Amode::base(SCRATCH, 0)
            }
        }
    }

    /// Pops an address and returns the memory operand of an access of
    /// `size` bytes at `memarg`, after any bounds check it needs, and the
    /// register that held the address (free for the caller to reuse).
    pub(crate) fn memory_operand(&mut self, memarg: &MemArg, size: u8) -> (Amode, Gpr) {
        let MemArgTarget::Memory(memory) = memarg.target else {
            unreachable!("GC array accesses are refused before code generation")
        };
        let plan = self.env.memory(memory);
        let index = self.pop_gpr();
        let check = self
            .env
            .tunables()
            .bounds_check(plan.memory64, memarg.offset, size);
        // Registers first: allocating may spill, and spilling uses the
        // scratch register, which is about to hold the definition.
        let end = (check == BoundsCheck::Explicit).then(|| self.alloc_gpr());
        let offset_reg = i32::try_from(memarg.offset)
            .is_err()
            .then(|| self.alloc_gpr());
        let def = self.definition(plan.location);
        if let Some(end) = end {
            match memarg.offset.checked_add(u64::from(size)) {
                Some(extent) => {
                    self.asm.mov_ri(OperandSize::S64, end, extent);
                    self.asm.add_rr(OperandSize::S64, end, index);
                    if plan.memory64 {
                        // index + extent wrapped around: out of bounds.
                        self.asm.trap_if(CC::B, Trap::MemoryOutOfBounds.code());
                    }
                    let length = def.offset(VMMemoryDefinition::CURRENT_LENGTH as i32);
                    self.asm.cmp_rm(OperandSize::S64, end, &length);
                    self.asm.trap_if(CC::A, Trap::MemoryOutOfBounds.code());
                }
                // No index makes this access fit.
                None => self.asm.ud2(Trap::MemoryOutOfBounds.code()),
            }
            self.free_gpr(end);
        }
        self.asm.mov_rm(
            OperandSize::S64,
            SCRATCH,
            &def.offset(VMMemoryDefinition::BASE as i32),
        );
        let disp = match offset_reg {
            Some(reg) => {
                // An offset beyond a 32-bit displacement joins the index.
                self.asm.mov_ri(OperandSize::S64, reg, memarg.offset);
                self.asm.add_rr(OperandSize::S64, index, reg);
                self.free_gpr(reg);
                0
            }
            None => memarg.offset as i32,
        };
        let amode = Amode::base_index(SCRATCH, index, Scale::One, disp);
        (amode.with_trap(Trap::MemoryOutOfBounds.code()), index)
    }

    /// A load of `size` bytes producing a `ty` value.
    pub(crate) fn emit_load(&mut self, memarg: &MemArg, size: u8, kind: LoadKind, ty: ValType) {
        let (amode, dst) = self.memory_operand(memarg, size);
        let src = GprMem::Mem(amode);
        match kind {
            LoadKind::Plain(size) => self.asm.mov_rm(size, dst, &amode),
            LoadKind::ZeroExtend(mode) => self.asm.movzx(mode, dst, &src),
            LoadKind::SignExtend(mode) => self.asm.movsx(mode, dst, &src),
        }
        self.push_gpr(dst, ty);
    }

    /// A store of the low `size` of the top value.
    pub(crate) fn emit_store(&mut self, memarg: &MemArg, size: OperandSize) {
        let value = self.stack.pop().expect("validated");
        let imm = store_immediate(value, size);
        let value_reg = match imm {
            Some(_) => None,
            None => Some(self.val_to_gpr(value)),
        };
        let bytes = size.bytes() as u8;
        let (amode, index) = self.memory_operand(memarg, bytes);
        match (imm, value_reg) {
            (Some(imm), _) => self.asm.mov_mi(size, &amode, imm),
            (None, Some(reg)) => {
                self.asm.mov_mr(size, &amode, reg);
                self.free_gpr(reg);
            }
            (None, None) => unreachable!(),
        }
        self.free_gpr(index);
    }

    /// `memory.size`: the current size in pages.
    pub(crate) fn emit_memory_size(&mut self, memory: u32) {
        let plan = self.env.memory(memory);
        let dst = self.alloc_gpr();
        let def = self.definition(plan.location);
        let length = def.offset(VMMemoryDefinition::CURRENT_LENGTH as i32);
        self.asm.mov_rm(OperandSize::S64, dst, &length);
        self.asm.shr_ri(OperandSize::S64, dst, plan.page_size_log2);
        let ty = if plan.memory64 {
            ValType::I64
        } else {
            ValType::I32
        };
        self.push_gpr(dst, ty);
    }

    /// `memory.grow`: the old size in pages, or -1.
    pub(crate) fn emit_memory_grow(&mut self, memory: u32) {
        let plan = self.env.memory(memory);
        let result = self
            .call_builtin(
                Builtin::MemoryGrow,
                &[BuiltinArg::Imm(memory.into()), BuiltinArg::Operand(0)],
            )
            .expect("memory.grow returns the old size");
        // The builtin returns a u64 (u64::MAX on failure); a 32-bit memory's
        // result is its low half (-1 on failure).
        let ty = if plan.memory64 {
            ValType::I64
        } else {
            ValType::I32
        };
        if ty == ValType::I32 {
            self.asm.mov_rr(OperandSize::S32, result, result);
        }
        self.alloc_specific(result);
        self.push_gpr(result, ty);
    }

    /// A float load (`f32.load`, `f64.load`).
    pub(crate) fn emit_float_load(&mut self, memarg: &MemArg, ty: ValType) {
        // The destination first: allocating may spill, which would clobber
        // the memory base in the scratch register.
        let dst = self.alloc_xmm();
        let (amode, index) = self.memory_operand(memarg, if ty == ValType::F32 { 4 } else { 8 });
        self.asm.xmm_load(xmm_mov_op(ty), dst, &amode);
        self.free_gpr(index);
        self.stack.push(Val::Xmm { reg: dst, ty });
    }

    /// A float store (`f32.store`, `f64.store`): 4 or 8 bytes from an XMM
    /// register (an f32 slot's upper half is undefined, so never 64 bits).
    pub(crate) fn emit_float_store(&mut self, memarg: &MemArg, ty: ValType) {
        let value = self.pop_xmm();
        let (amode, index) = self.memory_operand(memarg, if ty == ValType::F32 { 4 } else { 8 });
        self.asm.xmm_store(xmm_mov_op(ty), &amode, value);
        self.free_gpr(index);
        self.free_xmm(value);
    }

    /// `global.get`.
    pub(crate) fn emit_global_get(&mut self, global: u32) -> Result<(), CompileError> {
        let plan = self.env.global(global);
        let ty = wasmparser::ValType::from(plan.ty);
        self.check_type(ty)?;
        if in_xmm(ty) {
            let dst = self.alloc_xmm();
            let def = self.definition(plan.location);
            self.asm.xmm_load(xmm_mov_op(ty), dst, &def);
            self.stack.push(Val::Xmm { reg: dst, ty });
            return Ok(());
        }
        let dst = self.alloc_gpr();
        let def = self.definition(plan.location);
        self.asm.mov_rm(int_size(ty), dst, &def);
        self.push_gpr(dst, ty);
        Ok(())
    }

    /// `global.set`.
    pub(crate) fn emit_global_set(&mut self, global: u32) -> Result<(), CompileError> {
        let plan = self.env.global(global);
        let ty = wasmparser::ValType::from(plan.ty);
        self.check_type(ty)?;
        if in_xmm(ty) {
            let value = self.pop_xmm();
            let def = self.definition(plan.location);
            self.asm.xmm_store(xmm_mov_op(ty), &def, value);
            self.free_xmm(value);
            return Ok(());
        }
        let size = int_size(ty);
        let value = self.stack.pop().expect("validated");
        match value.as_imm32() {
            Some(imm) => {
                let def = self.definition(plan.location);
                self.asm.mov_mi(size, &def, imm);
            }
            None => {
                let reg = self.val_to_gpr(value);
                let def = self.definition(plan.location);
                self.asm.mov_mr(size, &def, reg);
                self.free_gpr(reg);
            }
        }
        Ok(())
    }

    /// Calls `builtin` ([`Builtin::signature`]: the VMContext first, then
    /// `args`), taking its `Operand` arguments from the top of the value
    /// stack; a builtin that can fail is followed by its trap. Returns the
    /// register the result is in, if any, which the caller takes.
    pub(crate) fn call_builtin(&mut self, builtin: Builtin, args: &[BuiltinArg]) -> Option<Gpr> {
        debug_assert_eq!(args.len() + 1, builtin.params().len(), "{}", builtin.name());
        let sig = builtin.signature();
        let gpr = |location: ArgLocation| match location {
            ArgLocation::Gpr(reg) => reg,
            _ => unreachable!("a builtin takes and returns integers in registers"),
        };
        let operands = args
            .iter()
            .filter(|a| matches!(a, BuiltinArg::Operand(_)))
            .count();
        let values = self.take_call_operands(operands);
        let released_sp = self.release_point(&values);
        let padding = self.sp_offset.next_multiple_of(16) - self.sp_offset;
        if padding > 0 {
            self.asm.sub_ri(OperandSize::S64, Gpr::RSP, padding as i32);
        }
        self.grow_stack(padding);
        // The VMContext goes to its register last: an operand may be there.
        let moved: Vec<Val> = args
            .iter()
            .map(|arg| match *arg {
                BuiltinArg::Imm(value) => Val::I64(value as i64),
                BuiltinArg::Operand(k) => values[k],
            })
            .collect();
        self.place_arguments(&moved, &sig.params[1..]);
        for &value in &values {
            self.free_val(value);
        }
        self.asm.mov_rr(OperandSize::S64, gpr(sig.params[0]), VMCTX);
        self.asm.mov_rm(
            OperandSize::S64,
            SCRATCH,
            &Amode::base(VMCTX, VMContext::BUILTINS as i32),
        );
        let slot = Amode::base(SCRATCH, 8 * builtin.index() as i32);
        self.asm.call_indirect(&GprMem::Mem(slot));
        // A builtin may set the fuel (`NewEpoch`'s callback, a host
        // function a builtin runs); the result register is left alone.
        self.reload_fuel();
        let freed = self.sp_offset - released_sp;
        if freed > 0 {
            self.asm.add_ri(OperandSize::S64, Gpr::RSP, freed as i32);
        }
        self.sp_offset -= freed;
        let result = sig.results.first().map(|&location| gpr(location));
        if let Some(trap) = builtin.trap() {
            let status = result.expect("a builtin that can fail returns its status");
            self.asm.test_rr(OperandSize::S32, status, status);
            self.asm.trap_if(CC::NZ, trap.code());
        }
        if let Some(trap) = builtin.grow_trap() {
            let old = result.expect("a growth builtin returns the old size");
            self.asm.cmp_ri(OperandSize::S64, old, Builtin::GROW_TRAP);
            self.asm.trap_if(CC::Z, trap.code());
        }
        result
    }
}
