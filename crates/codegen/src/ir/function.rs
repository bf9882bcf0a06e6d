//! A function: signature, data-flow graph, layout, stack slots and source
//! locations.

use super::dfg::{DataFlowGraph, Signature};
use super::entities::{Inst, StackSlot};
use super::layout::Layout;
use crate::entity::{PrimaryMap, SecondaryMap};
use cranelift_asm::SourceLoc;

/// A region of the function's stack frame.
#[derive(Copy, Clone, PartialEq, Eq, Hash, Debug)]
pub struct StackSlotData {
    /// Size in bytes.
    pub size: u32,
    /// Alignment as a power of two.
    pub align_shift: u8,
}

/// An IR function.
#[derive(Clone, Debug, Default)]
pub struct Function {
    /// The name (for printing; code is placed by the caller).
    pub name: String,
    /// Parameters and results; the entry block's parameters match the
    /// parameters.
    pub signature: Signature,
    /// What the instructions compute.
    pub dfg: DataFlowGraph,
    /// Where they are.
    pub layout: Layout,
    /// The frame's explicit slots.
    pub stack_slots: PrimaryMap<StackSlot, StackSlotData>,
    /// The wasm bytecode offset each instruction came from, if any.
    pub srclocs: SecondaryMap<Inst, Option<SourceLoc>>,
}

impl Function {
    /// An empty function.
    pub fn new(name: impl Into<String>, signature: Signature) -> Function {
        Function {
            name: name.into(),
            signature,
            ..Function::default()
        }
    }
}
