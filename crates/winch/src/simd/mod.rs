//! SIMD: `v128` values and every operator of WebAssembly 2.0's fixed-width
//! SIMD and of relaxed SIMD, on SSE4.1 (AVX's VEX forms where the CPU has
//! them).
//!
//! A `v128` lives where a float does: in an XMM register, a 16-byte slot
//! of the frame (a local's, a spilled value's, a block parameter's; see
//! `stack::slot_size`), or its callers' and callees' XMM argument
//! registers and 16-byte stack slots (`duet_environ::abi`). Slots are
//! read and written with `movups`, since a slot's alignment depends on the
//! 8-byte slots around it. A `v128.const` is loaded at once from the
//! function's constant pool (16-byte aligned, so a legacy SSE form may
//! take it as a memory operand), or made with `pxor` (zero) or `pcmpeqd`
//! (all ones).
//!
//! The visitor hands every SIMD operator here as a
//! [`wasmparser::Operator`]; each group of operators has its module and
//! returns `None` for operators not its own:
//!
//! * this module: constants, whole-vector loads and stores, the bitwise
//!   operators, and the helpers every group uses;
//! * `int.rs`: integer arithmetic, comparisons, shifts, `bitselect`,
//!   `any_true`/`all_true`, `bitmask`, narrowing and extension;
//! * `float.rs`: float arithmetic, `min`/`max`, roundings, comparisons and
//!   the conversions;
//! * `lanes.rs`: splats, lanes, shuffles, `swizzle`, and the loads and
//!   stores of part of a vector.
//!
//! Every SIMD operator needs SSE4.1 ([`CodeGen::check_simd`]): a module
//! using one on a CPU without it is refused with an error naming the
//! feature. The code for a CPU with exactly SSE4.1 (the `sse4.1` preset)
//! is complete and exact: forms of later extensions (SSE4.2's `pcmpgtq`,
//! AVX2's broadcasts) are used where the CPU has them, with an SSE4.1
//! sequence otherwise, and the spec suites run under both in
//! `tests/spec.rs`.
//!
//! Every packed instruction goes through the assembler's choosers
//! ([`Assembler::packed`] for a binary form, written `packed(op, dst, dst,
//! src)` where the legacy form is `op dst, src`; `packed_unary`,
//! `packed_imm`, `packed_unary_imm`, `packed_shift_imm`, `packed_insert`,
//! `packed_extract`, `packed_extract_mem`, `packed_move_mask`,
//! `packed_blendv` and `packed_test` for the other shapes): where the CPU
//! has AVX they emit the form's VEX.128 twin, the legacy destination also
//! the first source, so each sequence computes the same thing in the same
//! registers and only its encoding changes; without AVX they emit the
//! legacy form, byte for byte. Left legacy under AVX, having no twin: the
//! MOVUPS loads and stores of slots, the MOVAPS register copies and
//! constant loads, the scalar MOVSS/MOVSD merges, MOVLHPS/MOVHLPS and
//! MOVD/MOVQ. A VEX.128 form clears the upper half of its YMM register, so
//! mixing the two encodings costs no SSE/AVX transition.
//!
//! # Relaxed SIMD
//!
//! Each relaxed operator behaves as `duet_environ::simd` says, on every
//! CPU preset and in both tiers: one with a deterministic twin
//! (`relaxed_swizzle` is `swizzle`, ...) is compiled as that twin;
//! `relaxed_madd`/`relaxed_nmadd` (`float.rs`) and the two relaxed dot
//! products (`int.rs`) are compiled here as that table says.
//!
//! [`Assembler::packed`]: cranelift_asm::x64::Assembler::packed

use crate::codegen::CodeGen;
use crate::error::CompileError;
use crate::stack::Val;
use cranelift_asm::x64::{Amode, SseMovOp, SseOp, Xmm, XmmMem};
use wasmparser::{MemArg, Operator, ValType};

mod float;
mod int;
mod lanes;

/// The `v128` whose every lane of `lane_bytes` bytes is the low bytes of
/// `bits`.
pub(crate) fn splat_bits(bits: u64, lane_bytes: u8) -> u128 {
    let width = 8 * u32::from(lane_bytes);
    let lane = u128::from(bits) & (u128::MAX >> (128 - width));
    (0..128 / width).fold(0, |acc, i| acc | lane << (i * width))
}

/// The result of a group's compile function: `None` if the operator is not
/// the group's.
pub(crate) type Compiled = Option<Result<(), CompileError>>;

impl CodeGen<'_> {
    /// Compiles SIMD operator `op` (validated), which an error calls
    /// `name`.
    pub(crate) fn simd_operator(
        &mut self,
        op: &Operator<'_>,
        name: &'static str,
    ) -> Result<(), CompileError> {
        self.check_simd()?;
        // A relaxed operator with a deterministic twin is that twin
        // (`duet_environ::simd`, the same in the optimizing tier).
        let twin = duet_environ::simd::relaxed_as(op);
        let op = twin.as_ref().unwrap_or(op);
        let compiled = self
            .compile_simd_core(op)
            .or_else(|| self.compile_simd_int(op))
            .or_else(|| self.compile_simd_float(op))
            .or_else(|| self.compile_simd_lanes(op));
        compiled.unwrap_or_else(|| Err(self.unsupported(name)))
    }

    /// Constants, whole-vector loads and stores, bitwise operators.
    fn compile_simd_core(&mut self, op: &Operator<'_>) -> Compiled {
        match *op {
            Operator::V128Const { value } => self.v128_const(value.i128() as u128),
            Operator::V128Load { memarg } => self.v128_load(&memarg),
            Operator::V128Store { memarg } => self.v128_store(&memarg),
            Operator::V128And => self.v128_binop(SseOp::Pand),
            Operator::V128Or => self.v128_binop(SseOp::Por),
            Operator::V128Xor => self.v128_binop(SseOp::Pxor),
            Operator::V128AndNot => {
                // `pandn dst, src` is `!dst & src`: the right operand is
                // the destination.
                let rhs = self.pop_v128();
                let lhs = self.pop_v128();
                self.asm.packed(SseOp::Pandn, rhs, rhs, &XmmMem::Xmm(lhs));
                self.free_xmm(lhs);
                self.push_v128(rhs);
            }
            Operator::V128Not => {
                let src = self.pop_v128();
                let ones = self.v128_const_operand(u128::MAX);
                self.asm.packed(SseOp::Pxor, src, src, &ones);
                self.push_v128(src);
            }
            _ => return None,
        }
        Some(Ok(()))
    }

    // ---- Helpers for every group ----------------------------------------

    /// Pushes the constant `bits` in a new register.
    pub(crate) fn v128_const(&mut self, bits: u128) {
        let dst = self.alloc_xmm();
        self.load_v128_const(dst, bits);
        self.push_xmm(dst, ValType::V128);
    }

    /// Loads the constant `bits` into `dst`: `pxor` for zero, `pcmpeqd` for
    /// all ones (neither reads `dst`'s old value, which the CPU knows), and
    /// otherwise from the constant pool.
    pub(crate) fn load_v128_const(&mut self, dst: Xmm, bits: u128) {
        match bits {
            0 => self.asm.packed(SseOp::Pxor, dst, dst, &XmmMem::Xmm(dst)),
            u128::MAX => self.asm.packed(SseOp::Pcmpeqd, dst, dst, &XmmMem::Xmm(dst)),
            _ => {
                let src = self.v128_const_amode(bits);
                self.asm.xmm_load(SseMovOp::Movaps, dst, &src);
            }
        }
    }

    /// The constant `bits` in the constant pool, 16-byte aligned.
    pub(crate) fn v128_const_amode(&mut self, bits: u128) -> Amode {
        let constant = self.asm.add_constant(&bits.to_le_bytes(), 16);
        Amode::constant(constant)
    }

    /// The constant `bits` as the source operand of an SSE form (aligned,
    /// so the legacy forms take it too).
    pub(crate) fn v128_const_operand(&mut self, bits: u128) -> XmmMem {
        XmmMem::Mem(self.v128_const_amode(bits))
    }

    /// Pops a `v128` into some XMM register, which the caller now owns.
    pub(crate) fn pop_v128(&mut self) -> Xmm {
        self.pop_xmm()
    }

    /// Sets every bit of `reg` to 0 (`pxor reg, reg`, which the CPU
    /// recognizes as independent of the old value).
    pub(super) fn xmm_zero(&mut self, reg: Xmm) {
        self.asm.packed(SseOp::Pxor, reg, reg, &XmmMem::Xmm(reg));
    }

    /// Sets every bit of `reg` to 1 (`pcmpeqd reg, reg`).
    pub(super) fn xmm_all_ones(&mut self, reg: Xmm) {
        self.asm.packed(SseOp::Pcmpeqd, reg, reg, &XmmMem::Xmm(reg));
    }

    /// Pushes XMM register `reg` as a `v128`.
    pub(crate) fn push_v128(&mut self, reg: Xmm) {
        self.push_xmm(reg, ValType::V128);
    }

    /// `lhs op rhs` for a binary packed operation: the result replaces the
    /// left operand in its register. `Assembler::packed` emits the VEX twin
    /// (`vpand lhs, lhs, rhs`) where the CPU has AVX and the legacy form
    /// (`pand lhs, rhs`) otherwise; with the destination the first source,
    /// neither needs a copy.
    pub(crate) fn v128_binop(&mut self, op: SseOp) {
        let rhs = self.pop_v128();
        let lhs = self.pop_v128();
        self.asm.packed(op, lhs, lhs, &XmmMem::Xmm(rhs));
        self.free_xmm(rhs);
        self.push_v128(lhs);
    }

    // ---- Whole-vector memory accesses -------------------------------------

    /// `v128.load`: 16 bytes, any alignment.
    fn v128_load(&mut self, memarg: &MemArg) {
        // The destination first: allocating may spill, which would clobber
        // the memory base in the scratch register.
        let dst = self.alloc_xmm();
        let (amode, index) = self.memory_operand(memarg, 16);
        self.asm.xmm_load(SseMovOp::Movups, dst, &amode);
        self.free_gpr(index);
        self.stack.push(Val::Xmm {
            reg: dst,
            ty: ValType::V128,
        });
    }

    /// `v128.store`: 16 bytes, any alignment.
    fn v128_store(&mut self, memarg: &MemArg) {
        let value = self.pop_v128();
        let (amode, index) = self.memory_operand(memarg, 16);
        self.asm.xmm_store(SseMovOp::Movups, &amode, value);
        self.free_gpr(index);
        self.free_xmm(value);
    }
}
