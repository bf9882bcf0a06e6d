//! Float SIMD operators: arithmetic, `sqrt`, `abs`/`neg`, `min`/`max` with wasm's NaN and signed-zero rules, `pmin`/`pmax`, `ceil`/`floor`/`trunc`/`nearest`, comparisons, and the conversions (`trunc_sat`, `convert`, `demote`, `promote`).

use super::Compiled;
use crate::codegen::CodeGen;
use wasmparser::Operator;

impl CodeGen<'_> {
    /// Compiles `op` if it is one of this module's operators.
    pub(super) fn compile_simd_float(&mut self, op: &Operator<'_>) -> Compiled {
        #[allow(clippy::match_single_binding)]
        match *op {
            _ => None,
        }
    }
}
