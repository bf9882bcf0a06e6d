//! The wasm calling convention as the lowering applies it: where
//! arguments and results live ([`arg_locations`], [`ret_locations`]), what
//! a call clobbers, and the instructions that receive the entry's
//! arguments, make a call and return.
//!
//! ```text
//!   caller's frame   ┌──────────────────────┐  higher addresses
//!                    │ return area          │  results 2.. (8 bytes each)
//!                    ├──────────────────────┤  16-aligned
//!                    │ stack arguments      │  8 bytes each, in order
//!   rbp + 16 ──────► ├──────────────────────┤
//!                    │ return address       │
//!   rbp ───────────► │ saved rbp            │
//!                    └──────────────────────┘
//! ```
//!
//! A caller reserves both areas at the bottom of its outgoing-argument
//! space (`[rsp + offset]`); the callee reaches them above its frame
//! pointer (`[rbp + 16 + offset]`).

use super::{Lower, class_of};
use crate::CodegenError;
use crate::ir::{self, Inst, InstructionData, Type, Value};
use crate::machinst::VInst;
use cranelift_asm::reg::{PReg, PRegSet, Reg, RegClass, Writable};
use cranelift_asm::x64::inst::{Amode, CallDest, CallInfo, GprMem};
use cranelift_asm::x64::{Gpr, GprReg, MInst, Xmm};

/// Where the calling convention puts a value.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Loc {
    /// In a register.
    Reg(PReg),
    /// At this offset in the stack-argument area (arguments) or the return
    /// area (results).
    Stack(u32),
}

/// The locations of arguments of `types` (the wasm convention, which is
/// System V's for what System V can express): integers in `rdi, rsi, rdx,
/// rcx, r8, r9` (a wasm callee's VMContext is its first integer argument),
/// floats in `xmm0`-`xmm7`, the rest in 8-byte stack slots in order.
/// Also returns the stack area's size, rounded up to 16 bytes (where the
/// return area begins).
pub fn arg_locations(types: &[Type]) -> (Vec<Loc>, u32) {
    let mut ints = [Gpr::RDI, Gpr::RSI, Gpr::RDX, Gpr::RCX, Gpr::R8, Gpr::R9].into_iter();
    let mut floats = Xmm::ALL[..8].iter().copied();
    let mut stack = 0;
    let locs = types
        .iter()
        .map(|&ty| {
            let reg = match class_of(ty) {
                RegClass::Int => ints.next().map(|r| r.to_preg()),
                _ => floats.next().map(|r| r.to_preg()),
            };
            reg.map(Loc::Reg).unwrap_or_else(|| {
                stack += 8;
                Loc::Stack(stack - 8)
            })
        })
        .collect();
    // The return area starts 16-aligned after the stack arguments
    // (`duet_environ::abi::CallSignature`).
    (locs, stack.next_multiple_of(16))
}

/// The locations of results of `types`: the first in `rax` or `xmm0`, every
/// further one in the return area, 8 bytes each. Also returns the area's
/// size.
pub fn ret_locations(types: &[Type]) -> (Vec<Loc>, u32) {
    let mut area = 0;
    let locs = types
        .iter()
        .enumerate()
        .map(|(i, &ty)| match (i, class_of(ty)) {
            (0, RegClass::Int) => Loc::Reg(Gpr::RAX.to_preg()),
            (0, _) => Loc::Reg(Xmm::XMM0.to_preg()),
            _ => {
                area += 8;
                Loc::Stack(area - 8)
            }
        })
        .collect();
    (locs, area)
}

/// The registers a call may change: every caller-saved register.
fn call_clobbers() -> PRegSet {
    let mut set = PRegSet::empty();
    for r in [
        Gpr::RAX,
        Gpr::RCX,
        Gpr::RDX,
        Gpr::RSI,
        Gpr::RDI,
        Gpr::R8,
        Gpr::R9,
        Gpr::R10,
        Gpr::R11,
    ] {
        set.add(r.to_preg());
    }
    for r in Xmm::ALL {
        set.add(r.to_preg());
    }
    set
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
                Loc::Stack(offset) => loads.push((reg, ty, 16 + offset as i32)),
            }
        }
        self.vcode.push(VInst::Args(defs));
        for (reg, ty, disp) in loads {
            let addr = Amode::base(GprReg::from(Gpr::RBP), disp);
            self.load(reg, ty, addr);
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
                    let disp = 16 + stack_args as i32 + offset as i32;
                    let ty = func.dfg.value_type(v);
                    self.store(reg, ty, Amode::base(GprReg::from(Gpr::RBP), disp));
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
        let mut clobbers = call_clobbers();
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
        self.vcode.push(VInst::Machine(inst));
        for (reg, ty, disp) in loads {
            self.load(reg, ty, Amode::base(GprReg::from(Gpr::RSP), disp));
        }
        Ok(())
    }
}
