//! Lanes and memory: splats, `extract_lane`/`replace_lane`, `i8x16.shuffle`, `swizzle`, and the SIMD loads and stores other than whole vectors (extending, splatting, zeroing, lane loads and stores).

use super::Compiled;
use crate::codegen::CodeGen;
use wasmparser::Operator;

impl CodeGen<'_> {
    /// Compiles `op` if it is one of this module's operators.
    pub(super) fn compile_simd_lanes(&mut self, op: &Operator<'_>) -> Compiled {
        #[allow(clippy::match_single_binding)]
        match *op {
            _ => None,
        }
    }
}
