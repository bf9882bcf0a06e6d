//! What the compiler needs to know about the module around a function.

use duet_environ::vmoffsets::VMOffsets;
use wasmparser::FuncType;

/// The module-level facts a function's compilation reads: the types of the
/// functions it calls and of its blocks, and the VMContext layout. The
/// runtime implements it over `duet-environ`'s module metadata; tests
/// implement it directly.
pub trait FuncEnv {
    /// The type of function `func_index` (imported functions first, as in
    /// the module's function index space).
    fn func_type(&self, func_index: u32) -> &FuncType;

    /// The function type at `type_index` (for block types).
    fn type_at(&self, type_index: u32) -> &FuncType;

    /// How many functions the module imports (they come first in the index
    /// space).
    fn num_imported_functions(&self) -> u32;

    /// The VMContext layout.
    fn vmoffsets(&self) -> &VMOffsets;
}
