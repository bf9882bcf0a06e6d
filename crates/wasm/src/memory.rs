//! Linear memories, globals, and calls to the runtime's builtins.
//!
//! # Where things are
//!
//! Every record compiled code reads is reached from the VMContext (the
//! function's first parameter): a *defined* memory, table or global has its
//! definition inline at a fixed offset; an *imported* one is behind a
//! pointer at a fixed offset, loaded first. Loads and stores of these
//! records are flagged `notrap aligned` ([`MemFlags::trusted`]), plus
//! `readonly` where the value cannot change while the instance lives:
//! import pointers, a memory's base when the memory never moves, the
//! builtin table, immutable globals. A memory's length and a mutable
//! global are never `readonly` (a call may grow or set them).
//!
//! # Heap accesses
//!
//! ```text
//!   index64 = uextend.i64 index                (a 32-bit memory's index)
//!   ; explicit bounds check only:
//!   end     = iadd index64, offset+size        (uadd_overflow_trap for a
//!   length  = load.i64 notrap aligned def+8     64-bit memory: it may wrap)
//!   oob     = icmp ugt end, length
//!             trapnz oob, MemoryOutOfBounds
//!   base    = load.i64 notrap aligned [readonly] def+0
//!   addr    = iadd base, index64
//!   value   = load.T heap [notrap] addr+offset
//! ```
//!
//! [`Tunables::bounds_check`](duet_environ::tunables::Tunables::bounds_check)
//! decides between the two forms. With the guard region (`ElidedByGuard`)
//! there is no check: an out-of-bounds address lands in inaccessible memory,
//! the access faults, and since it is flagged `heap` without `notrap` the
//! backend records it as a `MemoryOutOfBounds` trap site. With the explicit
//! check the access is known to be in bounds and is flagged `heap notrap`.
//! For a 32-bit memory `index + offset + size < 2^33` cannot wrap a 64-bit
//! addition, so a plain `iadd` suffices; only 64-bit memories need
//! `uadd_overflow_trap`. An offset that does not fit the load's 32-bit
//! displacement is added to the address instead.
//!
//! # Builtins
//!
//! `memory.grow` and the bulk operations call the runtime
//! ([`duet_environ::builtins`]) with the System V convention through the
//! table of addresses at `[vmctx + BUILTINS]`: `call_indirect` of a
//! `system_v` signature, the VMContext first. A builtin that can fail
//! returns a status, non-zero on failure: `trapnz status, Builtin::trap()`.

use crate::error::WasmError;
use crate::func_translator::Translator;
use crate::ir_types::ir_type;
use cranelift_codegen::ir::{
    CallConv, InstructionData, IntCC, MemFlags, Opcode, Signature, Type, Value,
};
use duet_environ::builtins::{Builtin, BuiltinType};
use duet_environ::module_env::Location;
use duet_environ::trap::Trap;
use duet_environ::tunables::BoundsCheck;
use duet_environ::vmoffsets::{VMContext, VMMemoryDefinition};
use wasmparser::{MemArg, MemArgTarget};

impl Translator<'_, '_> {
    // ---- Runtime records -------------------------------------------------

    /// A load of type `ty` from `base + offset`, with `offset` folded into
    /// the instruction when it fits its 32-bit displacement.
    pub(crate) fn load_at(&mut self, ty: Type, flags: MemFlags, base: Value, offset: u64) -> Value {
        let (addr, offset) = self.address_with_offset(base, offset);
        self.builder.ins().load(ty, flags, addr, offset)
    }

    /// `base` and `offset` as a load's or store's operands: the offset
    /// itself when it fits `i32`, else added to the base.
    pub(crate) fn address_with_offset(&mut self, base: Value, offset: u64) -> (Value, i32) {
        match i32::try_from(offset) {
            Ok(offset) => (base, offset),
            Err(_) => {
                let offset = self.builder.ins().iconst(Type::I64, offset as i64);
                (self.builder.ins().iadd(base, offset), 0)
            }
        }
    }

    /// The address of a definition record and the offset of the record
    /// from it: the VMContext and the record's offset for a defined entity,
    /// the loaded import pointer and 0 for an imported one.
    pub(crate) fn definition(&mut self, location: Location) -> (Value, u64) {
        match location {
            Location::Defined { offset } => (self.vmctx, u64::from(offset)),
            Location::Imported { pointer } => {
                let flags = MemFlags::trusted().with_readonly();
                let def = self.load_at(Type::I64, flags, self.vmctx, u64::from(pointer));
                (def, 0)
            }
        }
    }

    /// A `u64` builtin argument from a wasm index or length: an `i32` of a
    /// 32-bit memory or table is zero-extended.
    pub(crate) fn extend_to_u64(&mut self, v: Value) -> Value {
        match self.builder.func.dfg.value_type(v) {
            Type::I64 => v,
            _ => self.builder.ins().uextend(Type::I64, v),
        }
    }

    /// Calls `builtin` with `args` (after the VMContext, which is passed
    /// first) and returns its result, if it has one. A builtin that
    /// reports failure is followed by the trap it calls for.
    ///
    /// `NewEpoch` is called with the `preserve_all` convention: it is
    /// only called from the cold path of an epoch check, and so costs the
    /// loop around the check no register (`metering.rs`).
    pub(crate) fn call_builtin(&mut self, builtin: Builtin, args: &[Value]) -> Option<Value> {
        let slot = builtin.index() as usize;
        let signature = match self.builtin_signatures[slot] {
            Some(sig) => sig,
            None => {
                let ir = |ty: BuiltinType| match ty {
                    BuiltinType::U32 => Type::I32,
                    BuiltinType::VMContext | BuiltinType::U64 | BuiltinType::Ref => Type::I64,
                };
                let sig = self.builder.import_signature(Signature {
                    params: builtin.params().iter().map(|&t| ir(t)).collect(),
                    returns: builtin.result().into_iter().map(ir).collect(),
                    call_conv: match builtin {
                        Builtin::NewEpoch => CallConv::PreserveAll,
                        _ => CallConv::SystemV,
                    },
                });
                self.builtin_signatures[slot] = Some(sig);
                sig
            }
        };
        let readonly = MemFlags::trusted().with_readonly();
        let table = self.load_at(
            Type::I64,
            readonly,
            self.vmctx,
            u64::from(VMContext::BUILTINS),
        );
        let callee = self.load_at(Type::I64, readonly, table, 8 * u64::from(builtin.index()));
        let mut call_args = Vec::with_capacity(args.len() + 1);
        call_args.push(self.vmctx);
        call_args.extend_from_slice(args);
        let call = self
            .builder
            .ins()
            .call_indirect(signature, callee, &call_args);
        let result = self.builder.func.dfg.inst_results(call).first().copied();
        self.metering_after_call();
        if let (Some(trap), Some(status)) = (builtin.trap(), result) {
            self.builder.ins().trapnz(status, trap.code());
        }
        if let (Some(trap), Some(old)) = (builtin.grow_trap(), result) {
            let sentinel = self
                .builder
                .ins()
                .iconst(Type::I64, i64::from(Builtin::GROW_TRAP));
            let must_trap = self.builder.ins().icmp(IntCC::Equal, old, sentinel);
            self.builder.ins().trapnz(must_trap, trap.code());
        }
        result
    }

    /// An `i32` constant (a memory, table, segment index for a builtin).
    pub(crate) fn index_arg(&mut self, index: u32) -> Value {
        self.builder.ins().iconst(Type::I32, i64::from(index))
    }

    // ---- Heap accesses ---------------------------------------------------

    /// Pops an index and returns the address and constant offset of an
    /// access of `size` bytes at `memarg`, after the bounds check it needs,
    /// with the access's flags. `None` if no index can make the access fit:
    /// a trap was emitted and the code after it is unreachable.
    fn heap_address(
        &mut self,
        memarg: &MemArg,
        size: u8,
    ) -> Result<Option<(Value, i32, MemFlags)>, WasmError> {
        let MemArgTarget::Memory(memory) = memarg.target else {
            return Err(WasmError::UnsupportedOperator {
                operator: "GC array access".to_string(),
                offset: self.offset,
            });
        };
        let plan = self.env.memory(memory);
        let index = self.state.pop1();
        let index = self.extend_to_u64(index);
        let (def, def_offset) = self.definition(plan.location);
        let check = self
            .env
            .tunables()
            .bounds_check(plan.memory64, memarg.offset, size);
        let flags = match check {
            BoundsCheck::ElidedByGuard => MemFlags::new().with_heap(),
            BoundsCheck::Explicit => {
                let Some(extent) = memarg.offset.checked_add(u64::from(size)) else {
                    self.builder.ins().trap(Trap::MemoryOutOfBounds.code());
                    self.set_unreachable();
                    return Ok(None);
                };
                let extent = self.builder.ins().iconst(Type::I64, extent as i64);
                let end = if plan.memory64 {
                    self.builder.ins().uadd_overflow_trap(
                        index,
                        extent,
                        Trap::MemoryOutOfBounds.code(),
                    )
                } else {
                    self.builder.ins().iadd(index, extent)
                };
                let length = self.load_at(
                    Type::I64,
                    MemFlags::trusted(),
                    def,
                    def_offset + u64::from(VMMemoryDefinition::CURRENT_LENGTH),
                );
                let out_of_bounds =
                    self.builder
                        .ins()
                        .icmp(IntCC::UnsignedGreaterThan, end, length);
                self.builder
                    .ins()
                    .trapnz(out_of_bounds, Trap::MemoryOutOfBounds.code());
                MemFlags::new().with_heap().with_notrap()
            }
        };
        let base_flags = if plan.never_moves {
            MemFlags::trusted().with_readonly()
        } else {
            MemFlags::trusted()
        };
        let base = self.load_at(
            Type::I64,
            base_flags,
            def,
            def_offset + u64::from(VMMemoryDefinition::BASE),
        );
        let addr = self.builder.ins().iadd(base, index);
        let (addr, offset) = self.address_with_offset(addr, memarg.offset);
        Ok(Some((addr, offset, flags)))
    }

    /// A load of `size` bytes with `opcode` (`load`, `uload8`, ...)
    /// producing a `ty`.
    pub(crate) fn translate_load(
        &mut self,
        memarg: &MemArg,
        opcode: Opcode,
        ty: Type,
        size: u8,
    ) -> Result<(), WasmError> {
        let Some((addr, offset, flags)) = self.heap_address(memarg, size)? else {
            return Ok(());
        };
        let data = InstructionData::Load {
            opcode,
            flags,
            arg: addr,
            offset,
        };
        let inst = self.builder.insert(data, ty);
        let v = self.builder.func.dfg.first_result(inst);
        self.state.stack.push(v);
        Ok(())
    }

    /// A store of `size` bytes of the top value with `opcode` (`store`,
    /// `istore8`, ...).
    pub(crate) fn translate_store(
        &mut self,
        memarg: &MemArg,
        opcode: Opcode,
        size: u8,
    ) -> Result<(), WasmError> {
        let value = self.state.pop1();
        let Some((addr, offset, flags)) = self.heap_address(memarg, size)? else {
            return Ok(());
        };
        let ty = self.builder.func.dfg.value_type(value);
        let data = InstructionData::Store {
            opcode,
            flags,
            args: [value, addr],
            offset,
        };
        self.builder.insert(data, ty);
        Ok(())
    }

    /// `memory.size`: the current length in pages.
    pub(crate) fn translate_memory_size(&mut self, memory: u32) {
        let plan = self.env.memory(memory);
        let (def, def_offset) = self.definition(plan.location);
        let length = self.load_at(
            Type::I64,
            MemFlags::trusted(),
            def,
            def_offset + u64::from(VMMemoryDefinition::CURRENT_LENGTH),
        );
        let shift = self
            .builder
            .ins()
            .iconst(Type::I64, i64::from(plan.page_size_log2));
        let pages = self.builder.ins().ushr(length, shift);
        let v = if plan.memory64 {
            pages
        } else {
            self.builder.ins().ireduce(Type::I32, pages)
        };
        self.state.stack.push(v);
    }

    /// `memory.grow`: the old size in pages, or -1 (the builtin's
    /// `u64::MAX`, whose low half is -1 for a 32-bit memory).
    pub(crate) fn translate_memory_grow(&mut self, memory: u32) {
        let memory64 = self.env.memory(memory).memory64;
        let delta = self.state.pop1();
        let delta = self.extend_to_u64(delta);
        let index = self.index_arg(memory);
        let old = self
            .call_builtin(Builtin::MemoryGrow, &[index, delta])
            .expect("memory_grow returns the old size");
        let v = if memory64 {
            old
        } else {
            self.builder.ins().ireduce(Type::I32, old)
        };
        self.state.stack.push(v);
    }

    /// `memory.fill`: operands `dst, value, len`.
    pub(crate) fn translate_memory_fill(&mut self, memory: u32) {
        let (dst, byte, len) = self.state.pop3();
        let index = self.index_arg(memory);
        let (dst, len) = (self.extend_to_u64(dst), self.extend_to_u64(len));
        self.call_builtin(Builtin::MemoryFill, &[index, dst, byte, len]);
    }

    /// `memory.copy`: operands `dst, src, len`.
    pub(crate) fn translate_memory_copy(&mut self, dst_memory: u32, src_memory: u32) {
        let (dst, src, len) = self.state.pop3();
        let dst_index = self.index_arg(dst_memory);
        let src_index = self.index_arg(src_memory);
        let (dst, src, len) = (
            self.extend_to_u64(dst),
            self.extend_to_u64(src),
            self.extend_to_u64(len),
        );
        self.call_builtin(Builtin::MemoryCopy, &[dst_index, dst, src_index, src, len]);
    }

    /// `memory.init`: operands `dst, src, len` (the last two `i32`s into
    /// the segment).
    pub(crate) fn translate_memory_init(&mut self, data: u32, memory: u32) {
        let (dst, src, len) = self.state.pop3();
        let memory = self.index_arg(memory);
        let data = self.index_arg(data);
        let dst = self.extend_to_u64(dst);
        self.call_builtin(Builtin::MemoryInit, &[memory, data, dst, src, len]);
    }

    /// `data.drop`.
    pub(crate) fn translate_data_drop(&mut self, data: u32) {
        let data = self.index_arg(data);
        self.call_builtin(Builtin::DataDrop, &[data]);
    }

    // ---- Globals -----------------------------------------------------------

    /// The address of global `index`'s value, its IR type and the flags of
    /// an access to it.
    fn global_access(&mut self, index: u32) -> Result<(Value, u64, Type, MemFlags), WasmError> {
        let plan = self.env.global(index);
        let ty = ir_type(plan.ty).ok_or_else(|| WasmError::UnsupportedType {
            ty: plan.ty.to_string(),
            offset: self.offset,
        })?;
        let flags = if plan.mutable {
            MemFlags::trusted()
        } else {
            MemFlags::trusted().with_readonly()
        };
        let (def, offset) = self.definition(plan.location);
        Ok((def, offset, ty, flags))
    }

    pub(crate) fn translate_global_get(&mut self, index: u32) -> Result<(), WasmError> {
        let (def, offset, ty, flags) = self.global_access(index)?;
        let v = self.load_at(ty, flags, def, offset);
        self.state.stack.push(v);
        Ok(())
    }

    pub(crate) fn translate_global_set(&mut self, index: u32) -> Result<(), WasmError> {
        let (def, offset, _, flags) = self.global_access(index)?;
        let value = self.state.pop1();
        let (addr, offset) = self.address_with_offset(def, offset);
        self.builder.ins().store(flags, value, addr, offset);
        Ok(())
    }
}
