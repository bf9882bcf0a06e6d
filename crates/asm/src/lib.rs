//! `cranelift-asm`: everything below the instruction level, shared by duet's
//! two WebAssembly compilers.
//!
//! ```text
//!   optimizing compiler (cranelift-codegen)      baseline compiler (winch-codegen)
//!   MInst values over virtual registers          direct calls, physical registers
//!        │ regalloc2 (via OperandVisitor)              │
//!        ▼                                             │
//!   x64::MInst::emit ──────────────► x64::Assembler ◄──┘   one method per form
//!                                         │   (the only code that writes bytes)
//!                                         ▼
//!                                    MachBuffer   labels, fix-ups, islands, branch
//!                                         │       simplification, constants, traps
//!                                         ▼
//!                                    FinishedCode bytes + relocations, trap table,
//!                                                 call sites, source locations,
//!                                                 unwind records
//! ```
//!
//! * [`buffer`] is ISA-independent: the [`MachBuffer`]
//!   takes bytes, labels and label uses and produces final code. An ISA plugs
//!   in through [`buffer::MachTarget`] (its label-use kinds and trap
//!   instruction).
//! * [`x64`] is the x86-64 ISA: registers, operands, CPU features, the
//!   [`x64::Assembler`] (one method per instruction form, emitting straight
//!   into the buffer) and [`x64::MInst`], the machine-instruction enum of
//!   the optimizing compiler. Every shape and form is declared once, in the
//!   instruction table (`xtask/src/x64/table.rs`, `docs/assembler.md`),
//!   from which `cargo xtask isle` generates the ISLE declarations, the
//!   operand walk, the encoder dispatch, the forms' encodings and
//!   features, and the per-form `Assembler` methods.
//! * [`unwind`] describes each function's frame at every offset (where the
//!   caller's frame and the saved registers are) in DWARF's call-frame
//!   model, with registers as DWARF numbers, for the runtime's unwind
//!   tables and debuggers.
//! * [`arith`] is integer arithmetic both compilers' instruction selection
//!   share (reciprocals for division by a constant).
//! * [`reg`] and [`operands`] are what the register allocator sees: registers
//!   that are virtual or physical, and the operand visitor that reports each
//!   instruction's uses, defs, constraints and clobbers.
//!
//! # Example
//!
//! Assemble a function that returns `a + b * 8`, finish it and disassemble it:
//!
//! ```
//! use cranelift_asm::x64::{Amode, Assembler, CpuFeatures, Gpr, OperandSize::*, Scale};
//!
//! let mut asm = Assembler::new(CpuFeatures::baseline());
//! // rax = [rdi + rsi*8]  (lea computes the address arithmetic)
//! asm.lea(S64, Gpr::RAX, &Amode::base_index(Gpr::RDI, Gpr::RSI, Scale::Eight, 0));
//! asm.ret();
//! let code = asm.finish().expect("nothing can go wrong here");
//! assert_eq!(code.code(), &[0x48, 0x8d, 0x04, 0xf7, 0xc3]);
//!
//! // Disassemble with an independent decoder (iced-x86).
//! use iced_x86::{Decoder, DecoderOptions, Formatter, IntelFormatter, Instruction};
//! let mut decoder = Decoder::new(64, code.code(), DecoderOptions::NONE);
//! let (mut formatter, mut text) = (IntelFormatter::new(), String::new());
//! let mut inst = Instruction::default();
//! while decoder.can_decode() {
//!     decoder.decode_out(&mut inst);
//!     text.clear();
//!     formatter.format(&inst, &mut text);
//!     println!("{:4x}: {text}", inst.ip());
//! }
//! ```

#![deny(unsafe_code)]

extern crate alloc;

pub mod arith;
pub mod buffer;
pub mod metadata;
pub mod operands;
pub mod reg;
pub mod unwind;
pub mod x64;

pub use buffer::{CodeOffset, FinishedCode, Label, MachBuffer};
pub use metadata::{ExternalName, RelocKind, SourceLoc, TrapCode};
