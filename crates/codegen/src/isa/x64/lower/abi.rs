//! The wasm calling convention as the lowering applies it: where
//! arguments and results live ([`arg_locations`], [`ret_locations`]), what
//! a call clobbers, and the instructions that receive the entry's
//! arguments, make a call and return.
//!
//! ```text
//!   caller's frame   ┌──────────────────────┐  higher addresses
//!                    │ return area          │  results 2.. (8 bytes, v128 16)
//!                    ├──────────────────────┤  16-aligned
//!                    │ stack arguments      │  8 bytes (v128 16), in order
//!   rbp + 16 ──────► ├──────────────────────┤
//!                    │ return address       │
//!   rbp ───────────► │ saved rbp            │
//!                    └──────────────────────┘
//! ```
//!
//! A call of the `preserve_all` convention (`ir::CallConv::PreserveAll`)
//! places its arguments and result as System V does, but declares no
//! clobbers: it becomes a `VInst::PreservingCall`, which saves and
//! restores around the call every register the callee may change but the
//! result. It has no stack arguments or return area (lowering refuses
//! them: the saves move `rsp`).
//!
//! Where each value goes is `duet_environ::abi`'s to say (the one
//! statement of the convention both tiers and the trampolines read); this
//! module maps IR types to it. A caller reserves both areas at the bottom of
//! its outgoing-argument space (`[rsp + offset]`); the callee reaches them
//! above its frame pointer (`abi::incoming_slot`).

use super::{Lower, class_of};
use crate::CodegenError;
use crate::ir::{self, CallConv, Inst, InstructionData, Type, Value};
use crate::machinst::VInst;
use cranelift_asm::reg::{PReg, PRegSet, Reg, Writable};
use cranelift_asm::x64::inst::{Amode, CallDest, CallInfo, GprMem};
use cranelift_asm::x64::{Gpr, GprReg, MInst};
use duet_environ::abi::{self, AbiType, ArgLocation, CallSignature};

/// Where the calling convention puts a value.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Loc {
    /// In a register.
    Reg(PReg),
    /// At this offset in the stack-argument area (arguments) or the return
    /// area (results).
    Stack(u32),
}

/// The calling-convention type of an IR type (narrow integers travel as
/// `i32`s).
fn abi_type(ty: Type) -> AbiType {
    match ty {
        Type::I8 | Type::I16 | Type::I32 => AbiType::I32,
        Type::I64 => AbiType::I64,
        Type::F32 => AbiType::F32,
        Type::F64 => AbiType::F64,
        Type::I8X16 | Type::I16X8 | Type::I32X4 | Type::I64X2 | Type::F32X4 | Type::F64X2 => {
            AbiType::V128
        }
    }
}

/// Where `duet_environ::abi` puts a value.
fn loc(location: ArgLocation) -> Loc {
    match location {
        ArgLocation::Gpr(reg) => Loc::Reg(reg.to_preg()),
        ArgLocation::Xmm(reg) => Loc::Reg(reg.to_preg()),
        ArgLocation::Stack { offset } => Loc::Stack(offset),
    }
}

/// The locations of arguments of `types`: `duet_environ::abi`'s
/// [`CallSignature::system_v`], every parameter explicit. A wasm
/// function's IR takes its VMContext as the first integer parameter, which
/// so lands in `abi::VMCTX`, and the rest where the wasm convention wants
/// them. Also returns the stack area's size (where the return area
/// begins).
pub fn arg_locations(types: &[Type]) -> (Vec<Loc>, u32) {
    let params: Vec<AbiType> = types.iter().map(|&ty| abi_type(ty)).collect();
    let sig = CallSignature::system_v(&params, &[]);
    (
        sig.params.into_iter().map(loc).collect(),
        sig.stack_args_size,
    )
}

/// The locations of results of `types`, as `duet_environ::abi` puts them:
/// the first in a register, every further one in the return area (offsets
/// from the area's start, which does not depend on the arguments). Also
/// returns the area's size.
pub fn ret_locations(types: &[Type]) -> (Vec<Loc>, u32) {
    let results: Vec<AbiType> = types.iter().map(|&ty| abi_type(ty)).collect();
    let sig = CallSignature::system_v(&[], &results);
    (
        sig.results.into_iter().map(loc).collect(),
        sig.return_area_size,
    )
}

/// The registers a call may change: every caller-saved register
/// (`duet_environ::abi`); none for a `preserve_all` call, whose saves and
/// restores `VInst::PreservingCall` emits.
fn call_clobbers() -> PRegSet {
    let mut set = PRegSet::empty();
    for r in abi::CALLER_SAVED_GPRS {
        set.add(r.to_preg());
    }
    for r in abi::CALLER_SAVED_XMMS {
        set.add(r.to_preg());
    }
    set
}

/// The callee's address of the incoming stack slot at `offset` (an argument,
/// or past the arguments a return-area slot): [`abi::incoming_slot`], over
/// the allocator's registers.
fn incoming(offset: u32) -> Amode {
    Amode::base(
        GprReg::from(abi::FRAME_POINTER),
        abi::INCOMING_SLOTS_FROM_FRAME_POINTER + offset as i32,
    )
}

impl Lower<'_> {
    /// The entry's arguments where the convention puts them: registers
    /// through the `Args` pseudo-instruction, stack arguments loaded from
    /// the caller's frame (`[rbp + 16 + offset]`).
    pub(super) fn lower_args(&mut self, entry: ir::Block) -> Result<(), CodegenError> {
        let func = self.func;
        let params = func.dfg.block_params(entry);
        let types: Vec<Type> = params.iter().map(|&v| func.dfg.value_type(v)).collect();
        let (locs, _) = arg_locations(&types);
        let mut defs: Vec<(Reg, PReg)> = Vec::new();
        let mut loads = Vec::new();
        for ((&v, &ty), loc) in params.iter().zip(&types).zip(locs) {
            let reg = self.vcode.vreg(class_of(ty));
            self.regs[v] = Some(reg);
            match loc {
                Loc::Reg(preg) => defs.push((reg, preg)),
                Loc::Stack(offset) => loads.push((reg, ty, offset)),
            }
        }
        self.vcode.push(VInst::Args(defs));
        for (reg, ty, offset) in loads {
            self.load(reg, ty, incoming(offset));
        }
        Ok(())
    }

    /// `return`: the first result in its register, the others stored into
    /// the caller's return area.
    pub(super) fn lower_return(&mut self, values: &[Value]) {
        let func = self.func;
        let (locs, _) = ret_locations(&func.signature.returns);
        let (_, stack_args) = arg_locations(&func.signature.params);
        let mut uses = Vec::new();
        for (&v, loc) in values.iter().zip(locs) {
            let reg = self.reg(v);
            match loc {
                Loc::Reg(preg) => uses.push((reg, preg)),
                // The caller's return area follows its stack
                // arguments, above the return address and saved rbp.
                Loc::Stack(offset) => {
                    let ty = func.dfg.value_type(v);
                    self.store(reg, ty, incoming(stack_args + offset));
                }
            }
        }
        self.vcode.push(VInst::Ret(uses));
    }

    /// A `call` or `call_indirect`.
    pub(super) fn lower_call_inst(&mut self, inst: Inst) -> Result<(), CodegenError> {
        let func = self.func;
        let results = func.dfg.inst_results(inst).to_vec();
        match *func.dfg.inst(inst) {
            InstructionData::Call { func_ref, args, .. } => {
                let ext = func.dfg.ext_funcs[func_ref];
                let sig = func.dfg.signatures[ext.signature].clone();
                let args = args.as_slice(&func.dfg.value_lists).to_vec();
                self.lower_call(CallDest::External(ext.name), None, &sig, &args, &results)
            }
            InstructionData::CallIndirect { sig_ref, args, .. } => {
                let sig = func.dfg.signatures[sig_ref].clone();
                let all = args.as_slice(&func.dfg.value_lists).to_vec();
                // `CallIndirect` ignores `dest`; its target is the operand.
                let dest = CallDest::External(cranelift_asm::ExternalName::new(u32::MAX, 0));
                self.lower_call(dest, Some(all[0]), &sig, &all[1..], &results)
            }
            ref other => unreachable!("`{}` is not a call", other.opcode().name()),
        }
    }

    /// A call to `dest` (or through `target`) with `args`, results into
    /// `results`: stack arguments stored into the outgoing area, register
    /// arguments as fixed uses, the first result as a fixed def, the rest
    /// loaded from the return area after the stack arguments.
    fn lower_call(
        &mut self,
        dest: CallDest,
        target: Option<Value>,
        sig: &ir::Signature,
        args: &[Value],
        results: &[Value],
    ) -> Result<(), CodegenError> {
        let (arg_locs, stack_args) = arg_locations(&sig.params);
        let (ret_locs, ret_area) = ret_locations(&sig.returns);
        let preserve_all = sig.call_conv == CallConv::PreserveAll;
        if preserve_all && stack_args + ret_area > 0 {
            // The callee would find them from an `rsp` the saves moved.
            return Err(CodegenError::Unsupported(
                "a `preserve_all` call with arguments or results in memory".into(),
            ));
        }
        self.vcode.reserve_outgoing(stack_args + ret_area);
        let mut uses = Vec::new();
        for (&v, (&ty, loc)) in args.iter().zip(sig.params.iter().zip(arg_locs)) {
            let reg = self.reg(v);
            match loc {
                Loc::Reg(preg) => uses.push((reg, preg)),
                Loc::Stack(offset) => {
                    self.store(reg, ty, Amode::base(GprReg::from(Gpr::RSP), offset as i32))
                }
            }
        }
        let mut defs = Vec::new();
        let mut loads = Vec::new();
        for (&v, (&ty, loc)) in results.iter().zip(sig.returns.iter().zip(ret_locs)) {
            let reg = self.vcode.vreg(class_of(ty));
            self.regs[v] = Some(reg);
            match loc {
                Loc::Reg(preg) => defs.push((Writable::from_reg(reg), preg)),
                Loc::Stack(offset) => loads.push((reg, ty, (stack_args + offset) as i32)),
            }
        }
        // A `preserve_all` call is wrapped in saves and restores of
        // everything else (`VInst::PreservingCall`): it clobbers nothing.
        let mut clobbers = if preserve_all {
            PRegSet::empty()
        } else {
            call_clobbers()
        };
        for (_, preg) in &defs {
            clobbers.remove(*preg);
        }
        let info = Box::new(CallInfo {
            dest,
            uses,
            defs,
            clobbers,
        });
        let inst = match target {
            None => MInst::Call { info },
            Some(callee) => MInst::CallIndirect {
                target: GprMem::Gpr(self.gpr(callee)),
                info,
            },
        };
        if preserve_all {
            self.vcode.push(VInst::PreservingCall(inst));
        } else {
            self.vcode.push(VInst::Machine(inst));
        }
        for (reg, ty, disp) in loads {
            self.load(reg, ty, Amode::base(GprReg::from(Gpr::RSP), disp));
        }
        Ok(())
    }
}
