//! `duet-cli`: the `duet` command, and the parts of it that tests share.
//!
//! The binary (`src/main.rs`) parses the command line and drives the
//! pipeline:
//!
//! ```text
//!   FILE ──► wat::parse_bytes ──► duet_environ::module::translate ──► winch_codegen::compile_module
//!            (text or binary,      (sections validated under           (each body validated
//!             detected by content)  --spec's features)                  while it is compiled)
//!                                                                             │
//!                                       --emit asm: disassemble() ◄───────────┘
//!
//!   --compiler cranelift --emit ir:  translate ──► cranelift_wasm::translate_module ──► print_ir()
//!                                                  (each body validated while it is
//!                                                   translated to IR)
//! ```
//!
//! `duet run` and `duet wast` go through the runtime's embedding API
//! ([`duet`]): an `Engine` configured by `--compiler` and `--spec`, a
//! `Store`, a `Linker`, instances and calls.
//!
//! The library holds what is worth sharing: [`disas`], the disassembly
//! listing that `duet compile --emit asm` prints and that the golden files
//! of `tests/disas/` are made of, so a golden file shows exactly what the
//! command shows; [`ir`], the IR listing of `duet compile --compiler
//! cranelift --emit ir` and of the golden files in `tests/ir/`; and
//! [`wast`], the spec-script runner behind `duet wast`, which the
//! workspace's spec-suite test runs file by file.

pub mod disas;
pub mod ir;
pub mod wast;

pub use disas::disassemble;
pub use ir::print_ir;
