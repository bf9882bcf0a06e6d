//! Translation of small modules: what is refused and how, the traps each
//! checked operator carries, source locations, and translation on threads.
//! (The IR itself is reviewed in the golden files of `tests/ir/` of the
//! workspace; the spec suite's functions are verified in
//! `tests/wasm_spec_ir.rs`.)

use cranelift_codegen::ir::{Function, InstructionData, Opcode, Type};
use cranelift_codegen::verifier::verify_function;
use cranelift_wasm::{ModuleEnvironment, WasmError, translate_function, translate_module};
use duet_environ::module::{DefinedFuncIndex, translate};
use duet_environ::trap::Trap;
use duet_environ::tunables::Tunables;
use wasmparser::WasmFeatures;

/// The IR of every function of `wat`, validated with `features`.
fn ir_with(
    wat: &str,
    tunables: Tunables,
    features: WasmFeatures,
    threads: usize,
) -> Result<Vec<Function>, WasmError> {
    let wasm = wat::parse_str(wat).unwrap();
    let translation = translate(&wasm, features).unwrap();
    translate_module(translation, tunables, threads)
}

/// The IR of every function of `wat` with the default features and
/// tunables, each function verified.
fn ir(wat: &str) -> Result<Vec<Function>, WasmError> {
    let functions = ir_with(wat, Tunables::default(), WasmFeatures::default(), 1)?;
    for func in &functions {
        verify_function(func).unwrap_or_else(|e| panic!("{e}\n{func}"));
    }
    Ok(functions)
}

/// Every opcode of `func`, in layout order.
fn opcodes(func: &Function) -> Vec<Opcode> {
    func.layout
        .blocks()
        .flat_map(|b| func.layout.block_insts(b).collect::<Vec<_>>())
        .map(|i| func.dfg.inst(i).opcode())
        .collect()
}

/// Every trap a trapping instruction of `func` names, in layout order.
fn traps(func: &Function) -> Vec<Trap> {
    func.layout
        .blocks()
        .flat_map(|b| func.layout.block_insts(b).collect::<Vec<_>>())
        .filter_map(|i| func.dfg.inst(i).trap_code())
        .map(|code| Trap::from_code(code).expect("a wasm trap code"))
        .collect()
}

#[test]
fn post_2_0_operators_are_refused_by_their_text_format_names() {
    let err = ir("(module (func $f (result i32) return_call $f))").unwrap_err();
    assert!(
        matches!(&err, WasmError::UnsupportedOperator { operator, .. } if operator == "return_call"),
        "{err}"
    );
    assert!(err.to_string().contains("offset 0x"), "{err}");
}

#[test]
fn v128_values_are_i8x16s() {
    for wat in [
        "(module (func (param v128)))",
        "(module (func (local v128)))",
        "(module (func block (result v128) unreachable end drop))",
        "(module (global v128 (v128.const i64x2 0 0)) (func global.get 0 drop))",
    ] {
        ir(wat).unwrap_or_else(|e| panic!("{wat}: {e}"));
    }
    let functions = ir("(module (func (param v128) (result v128)
        (local v128) (i32x4.add (local.get 0) (local.get 1))))")
    .unwrap();
    let func = &functions[0];
    assert_eq!(func.signature.params[1..], [Type::I8X16]);
    assert_eq!(func.signature.returns, [Type::I8X16]);
    // The add reads `i32x4`s and makes one: `bitcast`s around it.
    assert_eq!(
        opcodes(func),
        [
            Opcode::Vconst,
            Opcode::Bitcast,
            Opcode::Bitcast,
            Opcode::Iadd,
            Opcode::Bitcast,
            Opcode::Return
        ]
    );
}

#[test]
fn unreachable_code_is_validated_but_not_translated() {
    // A SIMD operator after `unreachable` is valid and never runs.
    let functions =
        ir("(module (func (result i32) unreachable v128.const i64x2 0 0 drop i32.const 0))")
            .unwrap();
    assert_eq!(opcodes(&functions[0]), [Opcode::Trap]);
    // An invalid one is still refused.
    let err = ir_with(
        "(module (func (result i32) unreachable i64.const 0 i32.add))",
        Tunables::default(),
        WasmFeatures::default(),
        1,
    )
    .unwrap_err();
    assert!(matches!(err, WasmError::Invalid { .. }), "{err}");
}

#[test]
fn invalid_bodies_are_errors_with_their_offset() {
    let err = ir("(module (func (result i32) i64.const 0))").unwrap_err();
    let WasmError::Invalid { message, offset } = &err else {
        panic!("{err}")
    };
    assert!(message.contains("type mismatch"), "{err}");
    assert!(*offset > 0, "{err}");
}

#[test]
fn each_checked_operator_traps_with_its_own_code() {
    let cases: [(&str, &[Trap]); 7] = [
        (
            "(func (param i32 i32) (result i32) local.get 0 local.get 1 i32.div_s)",
            &[Trap::IntegerDivisionByZero, Trap::IntegerOverflow],
        ),
        (
            "(func (param i64 i64) (result i64) local.get 0 local.get 1 i64.rem_u)",
            &[Trap::IntegerDivisionByZero],
        ),
        (
            "(func (param i32) (result i32) local.get 0 i32.const 7 i32.div_s)",
            &[],
        ),
        (
            "(func (param i32) (result i32) local.get 0 i32.const -1 i32.div_s)",
            &[Trap::IntegerOverflow],
        ),
        (
            "(func (param i32) (result i32) local.get 0 local.get 0 call_indirect (type 0))",
            &[
                Trap::TableOutOfBounds,
                Trap::IndirectCallToNull,
                Trap::BadSignature,
            ],
        ),
        (
            "(func (param i32 i32 i32) local.get 0 local.get 1 local.get 2 memory.copy)",
            &[Trap::MemoryOutOfBounds],
        ),
        ("(func unreachable)", &[Trap::UnreachableCodeReached]),
    ];
    for (func, expected) in cases {
        let wat = format!(
            "(module (type (func (param i32) (result i32))) (memory 1) (table 1 funcref) {func})"
        );
        let functions = ir(&wat).unwrap();
        assert_eq!(traps(&functions[0]), expected, "{func}\n{}", functions[0]);
    }
}

#[test]
fn bounds_checks_follow_the_tunables() {
    let wat = "(module (memory 1) (func (param i32) (result i32) local.get 0 i32.load offset=4))";
    let guarded = &ir_with(wat, Tunables::default(), WasmFeatures::default(), 1).unwrap()[0];
    assert!(traps(guarded).is_empty(), "{guarded}");
    let no_reservation = Tunables::NO_RESERVATION;
    let explicit = &ir_with(wat, no_reservation, WasmFeatures::default(), 1).unwrap()[0];
    assert_eq!(traps(explicit), [Trap::MemoryOutOfBounds], "{explicit}");
    // The heap access itself: may trap under guard pages, cannot after the
    // explicit check.
    let heap_flags = |func: &Function| {
        func.layout
            .blocks()
            .flat_map(|b| func.layout.block_insts(b).collect::<Vec<_>>())
            .filter_map(|i| func.dfg.inst(i).mem_flags())
            .find(|flags| flags.heap())
            .expect("a heap access")
    };
    assert!(!heap_flags(guarded).notrap());
    assert!(heap_flags(explicit).notrap());
}

#[test]
fn a_64_bit_memory_checks_for_wrapping() {
    let wat = "(module (memory i64 1) (func (param i64) (result i32) local.get 0 i32.load))";
    let func = &ir_with(wat, Tunables::default(), WasmFeatures::default(), 1).unwrap()[0];
    verify_function(func).unwrap();
    assert!(opcodes(func).contains(&Opcode::UaddOverflowTrap), "{func}");
    assert_eq!(
        traps(func),
        [Trap::MemoryOutOfBounds, Trap::MemoryOutOfBounds],
        "{func}"
    );
}

#[test]
fn every_operator_carries_its_offset() {
    let wat = "(module (memory 1) (func (param i32) (result i32) (local i64)
        local.get 0 i32.load local.get 0 i32.add))";
    let wasm = wat::parse_str(wat).unwrap();
    let translation = translate(&wasm, WasmFeatures::default()).unwrap();
    let body = translation.function_bodies[0].body.range();
    let func = &translate_module(translation, Tunables::default(), 1).unwrap()[0];
    for block in func.layout.blocks() {
        for inst in func.layout.block_insts(block) {
            let zero_of_a_local = matches!(
                func.dfg.inst(inst),
                InstructionData::UnaryImm { imm: 0, .. }
            );
            match func.srclocs[inst] {
                Some(loc) => assert!(body.contains(&u64::from(loc.0)), "{func}"),
                None => assert!(zero_of_a_local, "{inst} has no source location\n{func}"),
            }
        }
    }
}

#[test]
fn translation_on_threads_gives_the_same_functions_and_the_first_error() {
    let mut wat = String::from("(module (memory 1)");
    for i in 0..24 {
        wat.push_str(&format!(
            "(func (param i32) (result i32) local.get 0 i32.const {i} i32.add i32.load)"
        ));
    }
    wat.push(')');
    let text = |functions: Vec<Function>| -> Vec<String> {
        functions.iter().map(|f| f.to_string()).collect()
    };
    let one = text(ir_with(&wat, Tunables::default(), WasmFeatures::default(), 1).unwrap());
    let four = text(ir_with(&wat, Tunables::default(), WasmFeatures::default(), 4).unwrap());
    assert_eq!(one, four);

    // Functions 5 and 17 are refused; the error is always function 5's.
    let mut wat = String::from("(module");
    for i in 0..24 {
        match i {
            5 | 17 => wat.push_str("(func return_call 0)"),
            _ => wat.push_str("(func)"),
        }
    }
    wat.push(')');
    let first = ir_with(&wat, Tunables::default(), WasmFeatures::default(), 1).unwrap_err();
    for _ in 0..4 {
        let err = ir_with(&wat, Tunables::default(), WasmFeatures::default(), 4).unwrap_err();
        assert_eq!(err, first);
    }
}

#[test]
fn one_function_can_be_translated_on_its_own() {
    let wat = "(module (func (param i32) (result i32) local.get 0)
                       (func (param i64) (result i64) local.get 0 i64.popcnt))";
    let wasm = wat::parse_str(wat).unwrap();
    let translation = translate(&wasm, WasmFeatures::default()).unwrap();
    let env = ModuleEnvironment::new(&translation.module, Tunables::default());
    let mut bodies = translation.function_bodies;
    let second = bodies.pop().unwrap();
    let func = translate_function(&env, DefinedFuncIndex::from_u32(1), second).unwrap();
    assert_eq!(func.name, "f1");
    assert_eq!(opcodes(&func), [Opcode::Popcnt, Opcode::Return]);
}

/// 20,000 `if`s in a row, then a read of a local set before them: SSA
/// construction looks through every merge. It must not recurse once per
/// merge (that overflowed the test thread's stack).
#[test]
fn a_read_after_thousands_of_merges_does_not_overflow_the_stack() {
    let mut wat = String::from("(module (func (param i32) (result i32) (local i32)\n");
    wat.push_str("i32.const 5 local.set 1\n");
    for _ in 0..20_000 {
        wat.push_str("local.get 0 if nop else nop end\n");
    }
    wat.push_str("local.get 1))");
    let func = &ir(&wat).unwrap()[0];
    let text = func.to_string();
    assert!(text.contains("return v"), "{text}");
    // The local's value is the constant: every merge's parameter for it was
    // trivial and removed.
    let params: usize = func
        .layout
        .blocks()
        .map(|b| func.dfg.block_params(b).len())
        .sum();
    assert_eq!(params, 2, "only the entry's parameters are left");
}
