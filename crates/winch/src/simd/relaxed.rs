//! Relaxed SIMD: each operator with one of the behaviours the proposal allows, the same on every CPU preset (and, once the optimizing tier has SIMD, in both tiers).

use super::Compiled;
use crate::codegen::CodeGen;
use wasmparser::Operator;

impl CodeGen<'_> {
    /// Compiles `op` if it is one of this module's operators.
    pub(super) fn compile_simd_relaxed(&mut self, op: &Operator<'_>) -> Compiled {
        #[allow(clippy::match_single_binding)]
        match *op {
            _ => None,
        }
    }
}
