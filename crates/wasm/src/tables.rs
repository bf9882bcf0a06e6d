//! Calls, tables and references.
//!
//! # Calls
//!
//! Every wasm-to-wasm call passes the callee's VMContext first
//! (`duet_environ::abi`):
//!
//! ```text
//!   defined   call fn(vmctx, args)           fn = u0:<function index>,
//!                                            resolved by relocation
//!   imported  callee_vmctx = load [vmctx + import + VMCTX]       readonly
//!             code         = load [vmctx + import + WASM_CALL]   readonly
//!             call_indirect sig, code(callee_vmctx, args)
//!   indirect  see below
//! ```
//!
//! # `call_indirect` and table elements
//!
//! ```text
//!   index64 = uextend.i64 index
//!   oob     = icmp uge index64, [table + current_elements]
//!             trapnz oob, TableOutOfBounds
//!   f       = load [[table + base] + index64 * 8]      a *const VMFuncRef
//!             trapz f, IndirectCallToNull
//!   ne      = icmp ne [f + type_id], [vmctx + type_id(expected)]
//!             trapnz ne, BadSignature
//!   call_indirect sig, [f + wasm_call]([f + vmctx], args)
//! ```
//!
//! The table's length and base are not `readonly` (`table.grow` changes
//! them, and may move the elements). The `VMFuncRef`'s fields never change,
//! but they are not marked `readonly` either: `readonly` lets a load move
//! freely, and these are only safe to read after the null check. Type ids
//! are canonical across the engine, so comparing them is structural type
//! equality, as the spec requires across modules.
//!
//! A `funcref` is a pointer to a `VMFuncRef` and an `externref` a host
//! handle, both `i64` in the IR with null as 0; `ref.func f` is the address
//! of `f`'s `VMFuncRef` inside the VMContext.

use crate::error::WasmError;
use crate::func_translator::Translator;
use crate::ir_types::wasm_signature;
use cranelift_asm::ExternalName;
use cranelift_codegen::ir::{ExtFuncData, IntCC, MemFlags, SigRef, Type, Value};
use duet_environ::abi::FUNCTION_NAMESPACE;
use duet_environ::builtins::Builtin;
use duet_environ::trap::Trap;
use duet_environ::vmoffsets::{VMFuncRef, VMFunctionImport, VMTableDefinition};
use wasmparser::{AbstractHeapType, HeapType};

impl Translator<'_, '_> {
    // ---- Calls -------------------------------------------------------------

    /// The IR signature of wasm function type `type_index`, declared once.
    fn wasm_signature_ref(&mut self, type_index: u32) -> Result<SigRef, WasmError> {
        if let Some(&sig) = self.wasm_signatures.get(&type_index) {
            return Ok(sig);
        }
        let signature = wasm_signature(self.env.type_at(type_index)).map_err(|t| {
            WasmError::UnsupportedType {
                ty: t.to_string(),
                offset: self.offset,
            }
        })?;
        let sig = self.builder.import_signature(signature);
        self.wasm_signatures.insert(type_index, sig);
        Ok(sig)
    }

    /// Pops `count` arguments and returns them after `callee_vmctx`.
    fn call_arguments(&mut self, callee_vmctx: Value, count: usize) -> Vec<Value> {
        let mut args = Vec::with_capacity(count + 1);
        args.push(callee_vmctx);
        args.extend_from_slice(self.state.peekn(count));
        self.state.popn(count);
        args
    }

    /// Pushes the results of call instruction `call`.
    fn push_call_results(&mut self, call: cranelift_codegen::ir::Inst) {
        let results = self.builder.func.dfg.inst_results(call);
        self.state.stack.extend_from_slice(results);
        self.metering_after_call();
    }

    pub(crate) fn translate_call(&mut self, func: u32) -> Result<(), WasmError> {
        let type_index = self.env.module().functions[func as usize].as_u32();
        let sig = self.wasm_signature_ref(type_index)?;
        let count = self.env.func_type(func).params.len();
        if func < self.env.module().num_imported_functions {
            let import = u64::from(self.env.offsets().imported_function(func));
            let readonly = MemFlags::trusted().with_readonly();
            let callee_vmctx = self.load_at(
                Type::I64,
                readonly,
                self.vmctx,
                import + u64::from(VMFunctionImport::VMCTX),
            );
            let code = self.load_at(
                Type::I64,
                readonly,
                self.vmctx,
                import + u64::from(VMFunctionImport::WASM_CALL),
            );
            let args = self.call_arguments(callee_vmctx, count);
            let call = self.builder.ins().call_indirect(sig, code, &args);
            self.push_call_results(call);
            return Ok(());
        }
        let func_ref = match self.direct_functions.get(&func) {
            Some(&f) => f,
            None => {
                let f = self.builder.import_function(ExtFuncData {
                    name: ExternalName::new(FUNCTION_NAMESPACE, func),
                    signature: sig,
                });
                self.direct_functions.insert(func, f);
                f
            }
        };
        let args = self.call_arguments(self.vmctx, count);
        let call = self.builder.ins().call(func_ref, &args);
        self.push_call_results(call);
        Ok(())
    }

    pub(crate) fn translate_call_indirect(
        &mut self,
        type_index: u32,
        table: u32,
    ) -> Result<(), WasmError> {
        let sig = self.wasm_signature_ref(type_index)?;
        let index = self.state.pop1();
        let element = self.table_element(table, index);
        let func_ref = self
            .builder
            .ins()
            .load(Type::I64, MemFlags::trusted(), element, 0);
        self.builder
            .ins()
            .trapz(func_ref, Trap::IndirectCallToNull.code());
        let actual = self.builder.ins().load(
            Type::I32,
            MemFlags::trusted(),
            func_ref,
            VMFuncRef::TYPE_ID as i32,
        );
        let expected = self.load_at(
            Type::I32,
            MemFlags::trusted().with_readonly(),
            self.vmctx,
            u64::from(self.env.offsets().type_id(type_index)),
        );
        let mismatch = self.builder.ins().icmp(IntCC::NotEqual, actual, expected);
        self.builder
            .ins()
            .trapnz(mismatch, Trap::BadSignature.code());
        let callee_vmctx = self.builder.ins().load(
            Type::I64,
            MemFlags::trusted(),
            func_ref,
            VMFuncRef::VMCTX as i32,
        );
        let code = self.builder.ins().load(
            Type::I64,
            MemFlags::trusted(),
            func_ref,
            VMFuncRef::WASM_CALL as i32,
        );
        let count = self.env.type_at(type_index).params.len();
        let args = self.call_arguments(callee_vmctx, count);
        let call = self.builder.ins().call_indirect(sig, code, &args);
        self.push_call_results(call);
        Ok(())
    }

    // ---- Tables ------------------------------------------------------------

    /// The address of element `index` of `table`, after checking it is in
    /// bounds (`TableOutOfBounds` otherwise).
    fn table_element(&mut self, table: u32, index: Value) -> Value {
        let plan = self.env.table(table);
        let index = self.extend_to_u64(index);
        let (def, offset) = self.definition(plan.location);
        let length = self.load_at(
            Type::I64,
            MemFlags::trusted(),
            def,
            offset + u64::from(VMTableDefinition::CURRENT_ELEMENTS),
        );
        let out_of_bounds =
            self.builder
                .ins()
                .icmp(IntCC::UnsignedGreaterThanOrEqual, index, length);
        self.builder
            .ins()
            .trapnz(out_of_bounds, Trap::TableOutOfBounds.code());
        let base = self.load_at(
            Type::I64,
            MemFlags::trusted(),
            def,
            offset + u64::from(VMTableDefinition::BASE),
        );
        let three = self.builder.ins().iconst(Type::I64, 3);
        let scaled = self.builder.ins().ishl(index, three);
        self.builder.ins().iadd(base, scaled)
    }

    pub(crate) fn translate_table_get(&mut self, table: u32) {
        let index = self.state.pop1();
        let element = self.table_element(table, index);
        let v = self
            .builder
            .ins()
            .load(Type::I64, MemFlags::trusted(), element, 0);
        self.state.stack.push(v);
    }

    pub(crate) fn translate_table_set(&mut self, table: u32) {
        let (index, value) = self.state.pop2();
        let element = self.table_element(table, index);
        self.builder
            .ins()
            .store(MemFlags::trusted(), value, element, 0);
    }

    pub(crate) fn translate_table_size(&mut self, table: u32) {
        let plan = self.env.table(table);
        let (def, offset) = self.definition(plan.location);
        let length = self.load_at(
            Type::I64,
            MemFlags::trusted(),
            def,
            offset + u64::from(VMTableDefinition::CURRENT_ELEMENTS),
        );
        let v = if plan.table64 {
            length
        } else {
            self.builder.ins().ireduce(Type::I32, length)
        };
        self.state.stack.push(v);
    }

    /// `table.grow`: operands `init, delta`; the old size or -1.
    pub(crate) fn translate_table_grow(&mut self, table: u32) {
        let table64 = self.env.table(table).table64;
        let (init, delta) = self.state.pop2();
        let index = self.index_arg(table);
        let delta = self.extend_to_u64(delta);
        let old = self
            .call_builtin(Builtin::TableGrow, &[index, delta, init])
            .expect("table_grow returns the old size");
        let v = if table64 {
            old
        } else {
            self.builder.ins().ireduce(Type::I32, old)
        };
        self.state.stack.push(v);
    }

    /// `table.fill`: operands `dst, value, len`.
    pub(crate) fn translate_table_fill(&mut self, table: u32) {
        let (dst, value, len) = self.state.pop3();
        let index = self.index_arg(table);
        let (dst, len) = (self.extend_to_u64(dst), self.extend_to_u64(len));
        self.call_builtin(Builtin::TableFill, &[index, dst, value, len]);
    }

    /// `table.copy`: operands `dst, src, len`.
    pub(crate) fn translate_table_copy(&mut self, dst_table: u32, src_table: u32) {
        let (dst, src, len) = self.state.pop3();
        let dst_index = self.index_arg(dst_table);
        let src_index = self.index_arg(src_table);
        let (dst, src, len) = (
            self.extend_to_u64(dst),
            self.extend_to_u64(src),
            self.extend_to_u64(len),
        );
        self.call_builtin(Builtin::TableCopy, &[dst_index, src_index, dst, src, len]);
    }

    /// `table.init`: operands `dst, src, len` (the last two `i32`s into
    /// the segment).
    pub(crate) fn translate_table_init(&mut self, elem: u32, table: u32) {
        let (dst, src, len) = self.state.pop3();
        let table = self.index_arg(table);
        let elem = self.index_arg(elem);
        let dst = self.extend_to_u64(dst);
        self.call_builtin(Builtin::TableInit, &[table, elem, dst, src, len]);
    }

    /// `elem.drop`.
    pub(crate) fn translate_elem_drop(&mut self, elem: u32) {
        let elem = self.index_arg(elem);
        self.call_builtin(Builtin::ElemDrop, &[elem]);
    }

    // ---- References ----------------------------------------------------------

    /// `ref.null`: 0, of `funcref` or `externref`.
    pub(crate) fn translate_ref_null(&mut self, heap_type: HeapType) -> Result<(), WasmError> {
        match heap_type {
            HeapType::Abstract {
                shared: false,
                ty: AbstractHeapType::Func | AbstractHeapType::Extern,
            } => {
                let v = self.builder.ins().iconst(Type::I64, 0);
                self.state.stack.push(v);
                Ok(())
            }
            // Named as the text format spells it: `exnref`, `(ref null 3)`.
            other => Err(WasmError::UnsupportedType {
                ty: wasmparser::RefType::new(true, other)
                    .map_or_else(|| format!("(ref null {other:?})"), |ty| ty.to_string()),
                offset: self.offset,
            }),
        }
    }

    /// `ref.func f`: `vmctx + func_ref(f)`.
    pub(crate) fn translate_ref_func(&mut self, func: u32) -> Result<(), WasmError> {
        // The validator lets `ref.func` name only declared functions, which
        // are exactly those the module translation gave a `VMFuncRef`; a
        // missing one would be a bug there, reported rather than panicked on.
        let offset =
            self.env
                .func_ref_offset(func)
                .ok_or_else(|| WasmError::UnsupportedOperator {
                    operator: format!("ref.func of undeclared function {func}"),
                    offset: self.offset,
                })?;
        let offset = self.builder.ins().iconst(Type::I64, i64::from(offset));
        let v = self.builder.ins().iadd(self.vmctx, offset);
        self.state.stack.push(v);
        Ok(())
    }
}
