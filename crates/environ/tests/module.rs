//! Module translation: index spaces, entity types, constant expressions,
//! segments, exports, escaped functions, names, the feature switch, function
//! bodies handed out for fused validation, and robustness on bad input.

use duet_environ::module::{
    ConstExpr, ConstOp, DataKind, DefinedFuncIndex, DefinedGlobalIndex, ElementItems, ElementKind,
    EntityIndex, FuncIndex, FuncRefIndex, FunctionBodyData, GlobalIndex, MemoryIndex,
    ModuleTranslation, RefType, TableIndex, TranslationError, TypeIndex, ValType, Value, translate,
};
use wasmparser::WasmFeatures;

/// Translates a module written in the text format under `features`.
fn translate_wat(
    wat: &str,
    features: WasmFeatures,
) -> Result<ModuleTranslation<'static>, TranslationError> {
    let wasm: &'static [u8] = Vec::leak(wat::parse_str(wat).expect("test module parses"));
    translate(wasm, features)
}

/// Translates a module that must translate under WebAssembly 3.0.
fn translate_ok(wat: &str) -> ModuleTranslation<'static> {
    translate_wat(wat, WasmFeatures::WASM3).expect("module translates")
}

fn func(index: u32) -> FuncIndex {
    FuncIndex::from_u32(index)
}

fn global(index: u32) -> GlobalIndex {
    GlobalIndex::from_u32(index)
}

/// Evaluates a constant expression whose references are function indices.
fn eval(expr: &ConstExpr, globals: &mut [Value<FuncIndex>]) -> Value<FuncIndex> {
    expr.eval(globals).expect("constant expression evaluates")
}

#[test]
fn imports_come_first_in_every_index_space() {
    let translation = translate_ok(
        r#"(module
            (type $v (func))
            (type $ii (func (param i32) (result i32)))
            (import "env" "f" (func $f (type $ii)))
            (import "env" "t" (table 1 funcref))
            (import "env" "m" (memory 1))
            (import "env" "g" (global i64))
            (import "env" "h" (func $h (type $v)))
            (func $a (type $v))
            (func $b (type $ii) local.get 0)
            (table 2 externref)
            (memory 3)
            (global f32 (f32.const 1.5))
        )"#,
    );
    let module = &translation.module;
    assert_eq!(module.types.len(), 2);
    assert_eq!(&*module.types[1].params, &[ValType::I32]);
    assert_eq!(&*module.types[1].results, &[ValType::I32]);
    let t = TypeIndex::from_u32;
    assert_eq!(module.functions, [t(1), t(0), t(0), t(1)]);
    assert_eq!(module.num_imported_functions, 2);
    assert_eq!(module.num_defined_functions(), 2);
    assert_eq!(module.defined_func_index(func(0)), None);
    assert_eq!(module.defined_func_index(func(1)), None);
    assert_eq!(
        module.defined_func_index(func(2)),
        Some(DefinedFuncIndex::from_u32(0))
    );
    assert_eq!(module.func_index(DefinedFuncIndex::from_u32(1)), func(3));
    assert!(module.is_imported_function(func(1)));
    assert!(!module.is_imported_function(func(2)));
    assert_eq!(module.func_type(func(3)), &module.types[1]);

    let kinds: Vec<_> = module
        .imports
        .iter()
        .map(|i| (i.module.as_str(), i.name.as_str(), i.kind))
        .collect();
    assert_eq!(
        kinds,
        [
            ("env", "f", EntityIndex::Function(func(0))),
            ("env", "t", EntityIndex::Table(TableIndex::from_u32(0))),
            ("env", "m", EntityIndex::Memory(MemoryIndex::from_u32(0))),
            ("env", "g", EntityIndex::Global(global(0))),
            ("env", "h", EntityIndex::Function(func(1))),
        ]
    );
    assert_eq!(module.tables.len(), 2);
    assert_eq!(module.tables[0].element, RefType::FuncRef);
    assert_eq!(module.tables[1].element, RefType::ExternRef);
    assert_eq!(
        module
            .defined_table_index(TableIndex::from_u32(1))
            .map(|i| i.as_u32()),
        Some(0)
    );
    assert_eq!(module.memories[1].minimum_pages, 3);
    assert_eq!(module.defined_memory_index(MemoryIndex::from_u32(0)), None);
    assert_eq!(module.globals[0].ty, ValType::I64);
    assert_eq!(module.globals[1].ty, ValType::F32);
    assert_eq!(
        module.global_index(DefinedGlobalIndex::from_u32(0)),
        global(1)
    );
    assert_eq!(module.global_initializers.len(), 1);
    assert_eq!(
        module
            .global_initializer(DefinedGlobalIndex::from_u32(0))
            .ops(),
        &[ConstOp::F32Const(1.5f32.to_bits())]
    );

    let counts = module.vm_counts();
    assert_eq!(counts.num_types, 2);
    assert_eq!(counts.num_imported_functions, 2);
    assert_eq!(counts.num_imported_tables, 1);
    assert_eq!(counts.num_imported_memories, 1);
    assert_eq!(counts.num_imported_globals, 1);
    assert_eq!(counts.num_defined_tables, 1);
    assert_eq!(counts.num_defined_memories, 1);
    assert_eq!(counts.num_defined_globals, 1);
    assert_eq!(counts.num_func_refs, 0);
    assert_eq!(translation.function_bodies.len(), 2);
}

#[test]
fn tables_keep_limits_and_initializer_expressions() {
    let translation = translate_ok(
        r#"(module
            (table 1 funcref)
            (table 2 10 funcref (ref.func $f))
            (table i64 3 externref)
            (func $f)
        )"#,
    );
    let tables = &translation.module.tables;
    assert_eq!(
        (
            tables[0].minimum,
            tables[0].maximum,
            tables[0].init.as_ref()
        ),
        (1, None, None)
    );
    assert_eq!((tables[1].minimum, tables[1].maximum), (2, Some(10)));
    let init = tables[1].init.as_ref().expect("table 1 has an initializer");
    assert_eq!(init.as_ref_func(), Some(func(0)));
    assert_eq!(eval(init, &mut []), Value::FuncRef(Some(func(0))));
    assert!(!tables[1].table64);
    assert!(tables[2].table64);
    // A function in a table initializer escapes.
    assert_eq!(
        translation.module.func_ref_index(func(0)),
        Some(FuncRefIndex::from_u32(0))
    );
}

#[test]
fn memories_and_memory64_follow_the_feature_switch() {
    let wat = r#"(module
        (memory 1 2)
        (memory i64 5)
        (memory 1 4 shared)
    )"#;
    let translation = translate_wat(wat, WasmFeatures::WASM3).unwrap();
    let memories = &translation.module.memories;
    assert_eq!(
        (memories[0].minimum_pages, memories[0].maximum_pages),
        (1, Some(2))
    );
    assert!(!memories[0].memory64 && !memories[0].shared);
    assert_eq!(memories[0].page_size_log2, 16);
    assert_eq!(memories[0].maximum_bytes(), Some(2 << 16));
    assert!(memories[1].memory64);
    assert_eq!(memories[1].minimum_bytes(), 5 << 16);
    assert!(memories[2].shared);

    let without_memory64 = WasmFeatures::WASM3.difference(WasmFeatures::MEMORY64);
    let error = translate_wat(wat, without_memory64)
        .err()
        .expect("memory64 is off");
    assert!(matches!(error, TranslationError::Invalid { .. }), "{error}");
    let error = translate_wat("(module (memory i64 1))", WasmFeatures::WASM2)
        .err()
        .unwrap();
    assert!(matches!(error, TranslationError::Invalid { .. }), "{error}");
}

#[test]
fn memory_whose_size_does_not_fit_in_u64_exceeds_a_limit() {
    // 2^48 pages of 64 KiB is valid memory64 but is 2^64 bytes.
    let error = translate_wat("(module (memory i64 0x1000000000000))", WasmFeatures::WASM3)
        .err()
        .expect("too large");
    assert!(
        matches!(error, TranslationError::LimitExceeded { .. }),
        "{error}"
    );
    assert!(error.to_string().contains("offset 0x"), "{error}");
}

#[test]
fn globals_with_extended_constant_expressions_evaluate() {
    let translation = translate_ok(
        r#"(module
            (import "env" "base" (global i32))
            (global i32 (i32.add (global.get 0) (i32.const 1)))
            (global i32 (i32.mul (global.get 1) (i32.sub (i32.const 0) (i32.const 3))))
            (global i64 (i64.mul (i64.const 0x4000000000000000) (i64.const 4)))
            (global i64 (i64.sub (i64.add (i64.const 10) (i64.const 5)) (i64.const 20)))
            (global (mut f64) (f64.const -0.5))
            (global v128 (v128.const i32x4 1 2 3 4))
            (global externref (ref.null extern))
            (global i32 (i32.add (i32.const 0x7fffffff) (i32.const 1)))
        )"#,
    );
    let module = &translation.module;
    assert_eq!(module.num_imported_globals, 1);
    assert!(module.globals[5].mutable);
    assert_eq!(module.globals[6].ty, ValType::V128);
    assert_eq!(module.globals[7].ty, ValType::ExternRef);

    // Instantiate: evaluate the defined globals in order, each seeing the
    // imported value and the globals before it.
    let mut values: Vec<Value<FuncIndex>> = vec![Value::I32(41)];
    for init in &module.global_initializers {
        let value = eval(init, &mut values);
        values.push(value);
    }
    let v128 = 1u128 | 2 << 32 | 3 << 64 | 4 << 96;
    assert_eq!(
        values,
        [
            Value::I32(41),
            Value::I32(42),
            Value::I32(-126),
            Value::I64(0), // wraps
            Value::I64(-5),
            Value::F64((-0.5f64).to_bits()),
            Value::V128(v128),
            Value::ExternRef(None),
            Value::I32(i32::MIN), // wraps
        ]
    );
}

#[test]
fn constant_expression_evaluation_reports_a_mismatched_context() {
    let expr = ConstExpr::new(vec![ConstOp::GlobalGet(global(3))]);
    let error = expr
        .eval(&mut [Value::<FuncIndex>::I32(0)][..])
        .unwrap_err();
    assert_eq!(
        error.to_string(),
        "constant expression reads global 3, which the context does not provide"
    );
    let expr = ConstExpr::new(vec![
        ConstOp::GlobalGet(global(0)),
        ConstOp::I32Const(1),
        ConstOp::I32Add,
    ]);
    assert!(expr.eval(&mut [Value::<FuncIndex>::I64(0)][..]).is_err());
    assert!(
        ConstExpr::new(vec![])
            .eval(&mut [] as &mut [Value<FuncIndex>])
            .is_err()
    );
}

#[test]
fn element_segments_of_every_kind() {
    let translation = translate_ok(
        r#"(module
            (import "env" "g" (global funcref))
            (import "env" "off" (global i32))
            (table $t0 10 funcref)
            (table $t1 10 funcref)
            (func $a) (func $b) (func $c) (func $d)
            (elem (i32.const 1) $a $b)
            (elem (table $t1) (global.get 1) funcref (ref.func $c) (ref.null func))
            (elem func $d)
            (elem funcref (ref.func $a) (global.get 0))
            (elem declare func $c)
            (elem externref (ref.null extern))
        )"#,
    );
    let elements = &translation.module.elements;
    assert_eq!(elements.len(), 6);

    let ElementKind::Active { table, offset } = &elements[0].kind else {
        panic!("segment 0 is active")
    };
    assert_eq!(*table, TableIndex::from_u32(0));
    assert_eq!(offset.as_constant_offset(), Some(1));
    assert_eq!(elements[0].element_type, RefType::FuncRef);
    assert_eq!(
        elements[0].items,
        ElementItems::Functions(vec![Some(func(0)), Some(func(1))])
    );

    // An expression segment of ref.func and ref.null reads as functions.
    let ElementKind::Active { table, offset } = &elements[1].kind else {
        panic!("segment 1 is active")
    };
    assert_eq!(*table, TableIndex::from_u32(1));
    assert_eq!(offset.ops(), &[ConstOp::GlobalGet(global(1))]);
    assert_eq!(
        eval(offset, &mut [Value::FuncRef(None), Value::I32(7)]),
        Value::I32(7)
    );
    assert_eq!(
        elements[1].items,
        ElementItems::Functions(vec![Some(func(2)), None])
    );

    assert_eq!(elements[2].kind, ElementKind::Passive);
    assert_eq!(
        elements[2].items,
        ElementItems::Functions(vec![Some(func(3))])
    );

    // global.get keeps an expression segment as expressions.
    assert_eq!(elements[3].kind, ElementKind::Passive);
    let ElementItems::Exprs(exprs) = &elements[3].items else {
        panic!("segment 3 has expressions")
    };
    assert_eq!(exprs.len(), 2);
    assert_eq!(exprs[1].ops(), &[ConstOp::GlobalGet(global(0))]);
    assert_eq!(elements[3].items.len(), 2);

    assert_eq!(elements[4].kind, ElementKind::Declared);
    assert_eq!(elements[5].element_type, RefType::ExternRef);
    assert!(
        matches!(&elements[5].items, ElementItems::Exprs(e) if e[0].ops() == [ConstOp::RefNull(RefType::ExternRef)])
    );
}

#[test]
fn data_segments_active_and_passive() {
    let translation = translate_ok(
        r#"(module
            (memory $m0 1)
            (memory $m1 i64 1)
            (data (i32.const 8) "hello")
            (data "passive")
            (data (memory $m1) (i64.const 0x10000) "\00\ff")
            (func (data.drop 1))
        )"#,
    );
    let module = &translation.module;
    assert_eq!(module.data_count, Some(3));
    assert_eq!(module.data.len(), 3);
    let DataKind::Active { memory, offset } = &module.data[0].kind else {
        panic!("segment 0 is active")
    };
    assert_eq!(
        (*memory, offset.as_constant_offset()),
        (MemoryIndex::from_u32(0), Some(8))
    );
    assert_eq!(&*module.data[0].bytes, b"hello");
    assert_eq!(module.data[1].kind, DataKind::Passive);
    assert_eq!(&*module.data[1].bytes, b"passive");
    let DataKind::Active { memory, offset } = &module.data[2].kind else {
        panic!("segment 2 is active")
    };
    assert_eq!(
        (*memory, offset.as_constant_offset()),
        (MemoryIndex::from_u32(1), Some(0x10000))
    );
    assert_eq!(&*module.data[2].bytes, &[0, 0xff]);

    let without_count = translate_ok(r#"(module (memory 1) (data (i32.const 0) "x"))"#);
    assert_eq!(without_count.module.data_count, None);
}

#[test]
fn exports_are_ordered_and_found_by_name() {
    let translation = translate_ok(
        r#"(module
            (import "env" "f" (func))
            (func $main)
            (table 1 funcref)
            (memory 1)
            (global i32 (i32.const 0))
            (export "zeta" (func $main))
            (export "alpha" (memory 0))
            (export "mid" (global 0))
            (export "tab" (table 0))
            (export "reexported" (func 0))
            (start $main)
        )"#,
    );
    let module = &translation.module;
    let names: Vec<&str> = module
        .exports()
        .iter()
        .map(|(name, _)| name.as_str())
        .collect();
    assert_eq!(names, ["zeta", "alpha", "mid", "tab", "reexported"]);
    assert_eq!(module.export("zeta"), Some(EntityIndex::Function(func(1))));
    assert_eq!(
        module.export("alpha"),
        Some(EntityIndex::Memory(MemoryIndex::from_u32(0)))
    );
    assert_eq!(module.export("mid"), Some(EntityIndex::Global(global(0))));
    assert_eq!(
        module.export("tab"),
        Some(EntityIndex::Table(TableIndex::from_u32(0)))
    );
    assert_eq!(
        module.export("reexported"),
        Some(EntityIndex::Function(func(0)))
    );
    assert_eq!(module.export("missing"), None);
    assert_eq!(module.export(""), None);
    assert_eq!(module.start, Some(func(1)));
}

#[test]
fn escaped_functions_are_numbered_in_first_seen_order() {
    let translation = translate_ok(
        r#"(module
            (import "env" "imported" (func $imported))
            (func $called)
            (func $in_global)
            (func $exported (call $called))
            (func $in_elem)
            (func $everywhere (ref.func $in_elem) drop)
            (table 4 funcref)
            (global funcref (ref.func $in_global))
            (export "e" (func $exported))
            (export "e2" (func $everywhere))
            (export "i" (func $imported))
            (elem (i32.const 0) $in_elem $everywhere $exported)
        )"#,
    );
    let module = &translation.module;
    // Sections come in order global, export, elem.
    let expected = [func(2), func(3), func(5), func(0), func(4)];
    assert_eq!(module.escaped_functions(), expected);
    for (slot, f) in expected.iter().enumerate() {
        assert_eq!(
            module.func_ref_index(*f),
            Some(FuncRefIndex::from_u32(slot as u32))
        );
    }
    // Only called: no VMFuncRef needed.
    assert_eq!(module.func_ref_index(func(1)), None);
    assert_eq!(module.vm_counts().num_func_refs, 5);
}

#[test]
fn function_names_come_from_the_name_section() {
    let translation = translate_ok(
        r#"(module
            (import "env" "host" (func $host_function))
            (func $first)
            (func)
            (func $third)
        )"#,
    );
    let module = &translation.module;
    assert_eq!(module.function_name(func(0)), Some("host_function"));
    assert_eq!(module.function_name(func(1)), Some("first"));
    assert_eq!(module.function_name(func(2)), None);
    assert_eq!(module.function_name(func(3)), Some("third"));
    assert_eq!(module.function_names().len(), 3);
    assert_eq!(module.name, None);

    let nameless = translate(
        &wat::parse_str("(module (func))").unwrap(),
        WasmFeatures::WASM3,
    )
    .unwrap()
    .module;
    assert!(nameless.function_names().is_empty());

    let named = translate_ok("(module $calculator (func $add))");
    assert_eq!(named.module.name.as_deref(), Some("calculator"));
}

#[test]
fn malformed_name_section_is_ignored() {
    let mut wasm = wat::parse_str("(module (func))").unwrap();
    // Custom section "name" whose function subsection claims 5 entries
    // but holds none.
    wasm.extend_from_slice(&[0, 8, 4, b'n', b'a', b'm', b'e', 1, 1, 5]);
    let module = translate(&wasm, WasmFeatures::WASM3).unwrap().module;
    assert!(module.function_names().is_empty());
}

/// 2.0 constant expressions may read imported globals only; 3.0 (through
/// GC) lets them read any earlier immutable global. The 2.0 spec suite's
/// data.wast and elem.wast assert the first rule ("unknown global"), 3.0's
/// data.wast the second, so a runtime running both suites must pass the
/// suite's feature set.
#[test]
fn global_get_of_a_defined_global_in_an_offset_depends_on_the_features() {
    let wat = r#"(module (memory 1) (global $g i32 (i32.const 4)) (data (global.get $g) "a"))"#;

    let translation = translate_wat(wat, WasmFeatures::WASM3).expect("valid under 3.0");
    let DataKind::Active { offset, .. } = &translation.module.data[0].kind else {
        panic!("active segment")
    };
    let mut values: Vec<Value<FuncIndex>> = Vec::new();
    for init in &translation.module.global_initializers {
        let value = eval(init, &mut values);
        values.push(value);
    }
    assert_eq!(eval(offset, &mut values), Value::I32(4));
    assert!(translate_wat(wat, WasmFeatures::default()).is_ok());

    let error = translate_wat(wat, WasmFeatures::WASM2)
        .err()
        .expect("invalid under 2.0");
    let TranslationError::Invalid { message, offset } = &error else {
        panic!("{error}")
    };
    assert!(
        message.contains("global.get of locally defined global"),
        "{message}"
    );
    assert!(*offset > 0);
    assert!(
        error.to_string().contains(&format!("offset {offset:#x}")),
        "{error}"
    );

    // Reading an imported global is valid under both.
    let imported =
        r#"(module (import "env" "g" (global i32)) (memory 1) (data (global.get 0) "a"))"#;
    assert!(translate_wat(imported, WasmFeatures::WASM2).is_ok());
    assert!(translate_wat(imported, WasmFeatures::WASM3).is_ok());
}

#[test]
fn function_bodies_are_handed_out_unvalidated_with_their_validator() {
    let translation = translate_ok(
        r#"(module
            (import "env" "f" (func (param i32) (result i32)))
            (func (param i32) (result i32) (local i64 f32)
                local.get 0
                i32.const 1
                i32.add
                call 0)
            (func (result i32)
                f32.const 1
                i32.const 2
                i32.add)
        )"#,
    );
    assert_eq!(translation.function_bodies.len(), 2);

    let valid = translation.function_body(DefinedFuncIndex::from_u32(0));
    assert_eq!(valid.validator.index, 1);
    assert_eq!(valid.validator.ty, 0);
    let mut bodies = translation.function_bodies.into_iter();
    validate_operator_by_operator(bodies.next().unwrap()).expect("body 0 is valid");

    // Translation accepted the module: the invalid body is only found when
    // a compiler validates it.
    let error = validate_operator_by_operator(bodies.next().unwrap()).unwrap_err();
    assert!(
        error.message().contains("type mismatch"),
        "{}",
        error.message()
    );
}

/// Validates a body the way a single-pass compiler does: locals, then each
/// operator through the validator's visitor, then the end of the body.
fn validate_operator_by_operator(data: FunctionBodyData<'_>) -> wasmparser::Result<()> {
    let mut validator = data.validator.into_validator(Default::default());
    let mut locals = data.body.get_locals_reader()?;
    for _ in 0..locals.get_count() {
        let offset = locals.original_position();
        let (count, ty) = locals.read()?;
        validator.define_locals(offset, count, ty)?;
    }
    let mut operators = data.body.get_operators_reader()?.get_binary_reader();
    while !operators.eof() {
        operators.visit_operator(&mut validator.visitor(operators.original_position()))??;
    }
    operators.finish_expression(&validator.visitor(operators.original_position()))
}

#[test]
fn function_body_data_is_send() {
    fn assert_send<T: Send>() {}
    assert_send::<FunctionBodyData<'static>>();
    assert_send::<duet_environ::module::Module>();
}

#[test]
fn unsupported_features_are_named() {
    let cases = [
        ("(module (type (struct (field i32))))", "gc"),
        ("(module (rec (type (func)) (type (func))))", "gc"),
        (
            "(module (type $t (sub (func))) (type (sub $t (func))))",
            "gc",
        ),
        ("(module (tag))", "exception handling"),
        (
            "(module (import \"env\" \"t\" (tag)))",
            "exception handling",
        ),
        ("(module (func (param (ref func))))", "function references"),
        ("(module (global anyref (ref.null any)))", "gc"),
        (
            "(module (global (ref null i31) (ref.i31 (i32.const 1))))",
            "gc",
        ),
    ];
    for (wat, feature) in cases {
        match translate_wat(wat, WasmFeatures::WASM3) {
            Err(error @ TranslationError::Unsupported { .. }) => {
                let TranslationError::Unsupported { feature: named, .. } = &error else {
                    unreachable!()
                };
                assert!(named.starts_with(feature), "{wat}: {error}");
                assert!(error.to_string().contains("offset 0x"), "{error}");
            }
            other => panic!("{wat}: expected Unsupported, got {:?}", other.map(|_| ())),
        }
    }
}

#[test]
fn invalid_modules_report_the_validator_message_and_offset() {
    let error = translate(b"\0asm\x01\0\0\0\x01", WasmFeatures::WASM3)
        .err()
        .unwrap();
    assert!(matches!(error, TranslationError::Invalid { .. }), "{error}");
    let error = translate(b"not wasm", WasmFeatures::WASM3).err().unwrap();
    assert!(
        matches!(error, TranslationError::Invalid { offset: 0, .. }),
        "{error}"
    );
    let wasm = wat::parse_str("(module (func (export \"f\")) (export \"f\" (func 0)))").unwrap();
    let error = translate(&wasm, WasmFeatures::WASM3).err().unwrap();
    let TranslationError::Invalid { message, .. } = &error else {
        panic!("{error}")
    };
    assert!(message.contains("duplicate export"), "{message}");
}

#[test]
fn invalid_takes_precedence_over_unsupported() {
    // The struct type is unsupported, the duplicate export makes the module
    // invalid: validation goes on after the unsupported type.
    let wat = r#"(module
        (type (struct))
        (func (export "f"))
        (export "f" (func 0))
    )"#;
    let error = translate_wat(wat, WasmFeatures::WASM3).err().unwrap();
    assert!(matches!(error, TranslationError::Invalid { .. }), "{error}");
    let valid = r#"(module (type (struct)) (func (export "f")))"#;
    let error = translate_wat(valid, WasmFeatures::WASM3).err().unwrap();
    assert!(
        matches!(error, TranslationError::Unsupported { .. }),
        "{error}"
    );
}

/// From the 2.0 spec suite's binary-leb128.wast: without memory64, memory
/// limits are `u32`, so a six-byte LEB128 is malformed; with memory64 the
/// decoder reads `u64` limits. The parser must decode by the same features
/// as the validator.
#[test]
fn decoding_follows_the_feature_set() {
    let wasm = b"\0asm\x01\0\0\0\x05\x08\x01\x00\x82\x80\x80\x80\x80\x00";
    let error = translate(wasm, WasmFeatures::WASM2)
        .err()
        .expect("malformed under 2.0");
    let TranslationError::Invalid { message, .. } = &error else {
        panic!("{error}")
    };
    assert!(
        message.contains("integer representation too long"),
        "{message}"
    );
    let module = translate(wasm, WasmFeatures::WASM3)
        .expect("u64 limits under 3.0")
        .module;
    assert_eq!(module.memories[0].minimum_pages, 2);
}

/// A module that touches every section translation reads.
const EVERYTHING: &str = r#"(module
    (type $ii (func (param i32) (result i32)))
    (import "env" "f" (func $f (type $ii)))
    (import "env" "g" (global $g i32))
    (import "env" "m" (memory 1 2))
    (table $t 4 funcref)
    (global $h (mut i64) (i64.const 5))
    (global $k funcref (ref.func $body))
    (export "body" (func $body))
    (export "t" (table $t))
    (start $start)
    (elem (i32.const 0) $body $f)
    (elem funcref (ref.func $start) (ref.null func))
    (data (i32.const 16) "data")
    (data "passive")
    (func $start)
    (func $body (type $ii)
        local.get 0
        global.get $g
        i32.add
        call $f
        i32.const 0
        call_indirect (type $ii))
)"#;

#[test]
fn truncated_modules_are_errors_not_panics() {
    let wasm = wat::parse_str(EVERYTHING).unwrap();
    assert!(translate(&wasm, WasmFeatures::WASM3).is_ok());
    // Where each section ends: only there can a prefix be a module (a
    // module may stop after any section, provided the function and code
    // sections agree).
    let mut section_ends = vec![8];
    for payload in wasmparser::Parser::new(0).parse_all(&wasm) {
        if let Some((_, range)) = payload.unwrap().as_section() {
            section_ends.push(range.end);
        }
    }
    let mut complete_prefixes = 0;
    for length in 0..wasm.len() {
        if translate(&wasm[..length], WasmFeatures::WASM3).is_ok() {
            assert!(
                section_ends.contains(&(length as u64)),
                "prefix of {length} bytes"
            );
            complete_prefixes += 1;
        }
    }
    // Header only, types, imports, ..., code, data (without the name section).
    assert!(complete_prefixes >= 3, "{complete_prefixes}");
}

#[test]
fn mutated_modules_are_errors_not_panics() {
    let wasm = wat::parse_str(EVERYTHING).unwrap();
    let mut state: u64 = 0x2545_f491_4f6c_dd1d;
    let mut next = move || {
        // xorshift64
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let mut accepted = 0;
    for _ in 0..4000 {
        let mut mutant = wasm.clone();
        for _ in 0..1 + next() % 4 {
            let position = (next() % mutant.len() as u64) as usize;
            match next() % 4 {
                0 => mutant[position] = next() as u8,
                1 => mutant[position] ^= 1 << (next() % 8),
                2 => {
                    mutant.remove(position);
                }
                _ => mutant.insert(position, next() as u8),
            }
        }
        for features in [
            WasmFeatures::WASM2,
            WasmFeatures::WASM3,
            WasmFeatures::all(),
        ] {
            if let Ok(translation) = translate(&mutant, features) {
                accepted += 1;
                // Whatever was accepted must be internally consistent.
                let module = &translation.module;
                assert_eq!(
                    translation.function_bodies.len(),
                    module.num_defined_functions() as usize
                );
                for f in module.escaped_functions() {
                    assert!(f.index() < module.functions.len());
                }
            }
        }
    }
    // Some mutations (inside data bytes or names) keep the module valid.
    eprintln!("{accepted} of 12000 translations of mutants succeeded");
    assert!(accepted > 0);
}
