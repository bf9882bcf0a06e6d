//! Translation of small modules: errors, traps, structure.

use cranelift_codegen::ir::Function;
use cranelift_wasm::{WasmError, translate_module};
use duet_environ::module::translate;
use duet_environ::tunables::Tunables;
use wasmparser::WasmFeatures;

/// The IR of every function of `wat`.
fn ir(wat: &str) -> Result<Vec<Function>, WasmError> {
    ir_with(wat, Tunables::default(), WasmFeatures::default())
}

fn ir_with(
    wat: &str,
    tunables: Tunables,
    features: WasmFeatures,
) -> Result<Vec<Function>, WasmError> {
    let wasm = wat::parse_str(wat).unwrap();
    let translation = translate(&wasm, features).unwrap();
    translate_module(translation, tunables, 1)
}

fn text(wat: &str) -> String {
    ir(wat)
        .unwrap()
        .iter()
        .map(|f| f.to_string())
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn scratch() {
    println!(
        "{}",
        text(
            r#"(module
      (memory 1)
      (table 2 funcref)
      (global $g (mut i32) (i32.const 0))
      (type $t (func (param i32) (result i32)))
      (func $f (param i32 i32) (result i32)
        (local i64 f32)
        block (result i32)
          local.get 0
          local.get 1
          br_if 0
          drop
          local.get 1
        end
        loop $l (param i32) (result i32)
          i32.const 1
          i32.sub
          local.tee 0
          local.get 0
          br_if $l
        end
        if (result i32) i32.const 1 else i32.const 2 end
        i32.load offset=8
        global.get $g
        i32.div_s
        i32.const 3
        call_indirect (type $t)
      )
    )"#
        )
    );
}
