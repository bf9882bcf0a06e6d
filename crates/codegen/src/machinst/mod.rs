//! The machine-independent half of the backend: VCode (machine
//! instructions over virtual registers in blocks), register allocation
//! with regalloc2, and emission.

pub mod vcode;

pub use vcode::{StackLimit, VCode, VInst};

/// Which of regalloc2's allocators assigns a function's registers.
///
/// Ion (backtracking, with live-range splitting) makes the best code, but
/// its cost is not linear on every shape of function: its liveness sets
/// cost O(blocks x live values), and its dominator computation (Cooper,
/// Harvey and Kennedy's) O(k^2) for a block with k predecessors in a chain.
/// A hostile module can make one function cost minutes. Fastalloc (one
/// backward pass, values spilled across blocks) is near-linear, with
/// slower code. [`Allocator::BySize`] takes Ion up to
/// [`ION_MAX_BLOCKS`] blocks and [`ION_MAX_INSTS`] instructions of VCode
/// and fastalloc beyond: every function of the real programs measured
/// (the largest in SpiderMonkey has 10,815 blocks and 36,072
/// instructions) stays on Ion, and a function at the limits costs Ion at
/// most a fraction of a second whatever its shape, so the cost of a
/// module grows linearly with its size (`docs/benchmarks.md`).
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub enum Allocator {
    /// Ion up to the limits, fastalloc beyond.
    #[default]
    BySize,
    /// Ion whatever the size (for tests and measurements).
    Ion,
    /// Fastalloc whatever the size (for tests and measurements).
    Fast,
}

/// The most VCode blocks [`Allocator::BySize`] gives to Ion.
pub const ION_MAX_BLOCKS: usize = 12_000;

/// The most VCode instructions [`Allocator::BySize`] gives to Ion.
pub const ION_MAX_INSTS: usize = 100_000;

impl Allocator {
    /// Whether a function of `blocks` blocks and `insts` instructions goes
    /// to the single-pass allocator.
    pub fn single_pass(self, blocks: usize, insts: usize) -> bool {
        match self {
            Allocator::BySize => blocks > ION_MAX_BLOCKS || insts > ION_MAX_INSTS,
            Allocator::Ion => false,
            Allocator::Fast => true,
        }
    }
}
