//! Instruction sets. Only x86-64 exists; AArch64 will sit beside it with
//! its own lowering rules over the same IR and VCode.

pub mod x64;
