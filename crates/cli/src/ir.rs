//! The IR listing `duet compile --compiler cranelift --emit ir` prints, and
//! the golden files of `tests/ir/` hold: each function's IR in the text
//! format of `cranelift_codegen`, after a comment line naming the function
//! (its index, and its name from the `name` section if it has one).
//!
//! Comments are what the IR parser skips, so the whole listing parses back
//! with `cranelift_codegen::parser::parse_functions`.

use core::fmt::Write as _;
use cranelift_codegen::ir::Function;
use duet_environ::module::{DefinedFuncIndex, Module};

/// The IR of `functions`, the translations of `module`'s defined
/// functions in order.
pub fn print_ir(module: &Module, functions: &[Function]) -> String {
    let mut out = String::new();
    for (i, func) in functions.iter().enumerate() {
        let index = module.func_index(DefinedFuncIndex::from_u32(i as u32));
        if i > 0 {
            out.push('\n');
        }
        // A name may hold any character; escaped, it stays on the line.
        let _ = match module.function_name(index) {
            Some(name) => writeln!(
                out,
                "; function {} ({})",
                index.as_u32(),
                name.escape_debug()
            ),
            None => writeln!(out, "; function {}", index.as_u32()),
        };
        let _ = write!(out, "{func}");
    }
    out
}
