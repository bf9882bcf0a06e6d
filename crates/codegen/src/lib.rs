//! `cranelift-codegen`: duet's optimizing compiler.
//!
//! Built in layers, as Cranelift is:
//!
//! ```text
//!   ir        SSA IR: values, instructions in blocks with parameters,
//!             a data-flow graph and a layout; a text format
//!   builder   FunctionBuilder: SSA construction from mutable variables
//!   verifier  the IR's invariants, checked (on in debug builds and tests)
//!   parser    the text format back into a Function (round-trips with ir)
//!
//!   isa/x64   lowering (ISLE rules in isle/codegen/x64/) to cranelift-asm's
//!             MInst over virtual registers
//!   machinst  VCode, register allocation (regalloc2), prologue, epilogue
//!             and emission into a MachBuffer
//! ```
//!
//! The backend lowers every scalar opcode of the IR (integers of 8 to 64
//! bits, floats, stack slots, calls and the wasm ABI, System V, and
//! [`ir::CallConv::PreserveAll`] for cold calls that must cost the code
//! around them no register); the mid-end (`opts`)
//! applies the ISLE rewrite rules, GVN, redundant-load elimination, DCE
//! and LICM. The IR also has 128-bit vector types and their lane
//! operations (`ir::types`), which the mid-end handles and the backend
//! does not lower yet: an instruction it has no lowering for is
//! [`CodegenError::Unsupported`]. Every analysis is near-linear in the
//! function's size whatever its shape, and register allocation switches to
//! regalloc2's single-pass allocator past a size
//! ([`machinst::Allocator`]), so a hostile module cannot make compilation
//! quadratic.

extern crate alloc;

pub mod builder;
pub mod dominator_tree;
pub mod entity;
pub mod flowgraph;
pub mod ir;
pub mod isa;
pub mod machinst;
pub mod opts;
pub mod parser;
pub mod verifier;

/// Why a function could not be compiled.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CodegenError {
    /// An instruction or feature the backend does not handle yet.
    #[error("unsupported: {0}")]
    Unsupported(String),
    /// The register allocator failed (a bug in the operands it was given).
    #[error("register allocation failed: {0}")]
    Regalloc(String),
    /// The assembler refused an instruction (a bug: it names it).
    #[error("internal error: {0}")]
    Assembler(String),
    /// The stack frame does not fit in 2 GiB.
    #[error("the stack frame is too large")]
    FrameTooLarge,
    /// The IR does not verify (checked in debug builds: a bug in whatever
    /// made or transformed it).
    #[error("the IR does not verify ({stage}): {message}")]
    Verifier {
        /// Where it was checked.
        stage: &'static str,
        /// The verifier's complaint.
        message: String,
    },
}
