//! The machine-independent half of the backend: VCode (machine
//! instructions over virtual registers in blocks), register allocation
//! with regalloc2, and emission.

pub mod vcode;

pub use vcode::{StackLimit, VCode, VInst};
