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
//! ```
//!
//! Still to come (issue 4): the mid-end rewrite rules (ISLE), lowering to
//! cranelift-asm's `MInst` over virtual registers (ISLE), register
//! allocation with regalloc2, the ABI and emission.

pub mod builder;
pub mod dominator_tree;
pub mod entity;
pub mod flowgraph;
pub mod ir;
pub mod parser;
pub mod verifier;
