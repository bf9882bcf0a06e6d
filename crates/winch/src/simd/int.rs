//! Integer SIMD operators: arithmetic (saturating too), multiplies, `extmul`, `extadd_pairwise`, `q15mulr_sat_s`, `dot`, min/max, `abs`, `avgr_u`, `popcnt`, comparisons, shifts, `bitselect`, `any_true`/`all_true`, `bitmask`, narrowing and extension.

use super::Compiled;
use crate::codegen::CodeGen;
use wasmparser::Operator;

impl CodeGen<'_> {
    /// Compiles `op` if it is one of this module's operators.
    pub(super) fn compile_simd_int(&mut self, op: &Operator<'_>) -> Compiled {
        #[allow(clippy::match_single_binding)]
        match *op {
            _ => None,
        }
    }
}
