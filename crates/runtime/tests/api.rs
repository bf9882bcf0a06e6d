//! The embedding API end to end: compile, instantiate, call, link, trap.

use duet::{
    Engine, Error, Extern, ExternRef, Func, FuncType, Global, GlobalType, Instance, Linker, Memory,
    MemoryType, Module, Store, Table, TrapCode, Val, ValType,
};

fn func_type(params: &[ValType], results: &[ValType]) -> FuncType {
    FuncType {
        params: params.into(),
        results: results.into(),
    }
}

fn call(
    store: &mut Store<()>,
    instance: Instance,
    name: &str,
    args: &[Val],
) -> Result<Vec<Val>, Error> {
    let func = instance.get_func(&*store, name)?.expect("exported");
    let ty = func.ty(&*store)?;
    let mut results = vec![Val::I32(0); ty.results.len()];
    func.call(&mut *store, args, &mut results)?;
    Ok(results)
}

#[test]
fn fib_runs_and_returns_its_result() {
    let engine = Engine::default();
    let module = Module::new(
        &engine,
        r#"(module
            (func $fib (export "fib") (param i32) (result i32)
              (if (result i32) (i32.lt_u (local.get 0) (i32.const 2))
                (then (local.get 0))
                (else (i32.add (call $fib (i32.sub (local.get 0) (i32.const 1)))
                               (call $fib (i32.sub (local.get 0) (i32.const 2))))))))"#,
    )
    .unwrap();
    let mut store = Store::new(&engine, ());
    let instance = Instance::new(&mut store, &module, &[]).unwrap();
    let results = call(&mut store, instance, "fib", &[Val::I32(20)]).unwrap();
    assert_eq!(results[0].i32(), Some(6765));
}

#[test]
fn traps_are_values_with_backtraces() {
    let engine = Engine::default();
    let module = Module::new(
        &engine,
        r#"(module
            (func $inner (param i32) (result i32) (i32.div_s (i32.const 1) (local.get 0)))
            (func (export "outer") (param i32) (result i32) (call $inner (local.get 0)))
            (func $rec (export "rec") (call $rec)))"#,
    )
    .unwrap();
    let mut store = Store::new(&engine, ());
    let instance = Instance::new(&mut store, &module, &[]).unwrap();
    let error = call(&mut store, instance, "outer", &[Val::I32(0)]).unwrap_err();
    let trap = error.downcast_ref::<duet::Trap>().expect("a trap");
    assert_eq!(trap.code(), TrapCode::IntegerDivisionByZero);
    let funcs: Vec<u32> = trap.frames().iter().map(|f| f.func_index).collect();
    assert_eq!(funcs, [0, 1]);
    assert!(trap.frames()[0].module_offset.is_some());
    let error = call(&mut store, instance, "rec", &[]).unwrap_err();
    assert_eq!(
        error.downcast_ref::<duet::Trap>().unwrap().code(),
        TrapCode::StackOverflow
    );
    // The store still works.
    let results = call(&mut store, instance, "outer", &[Val::I32(1)]).unwrap();
    assert_eq!(results[0].i32(), Some(1));
}

#[test]
fn host_functions_are_called_and_their_errors_unwind_as_traps() {
    let engine = Engine::default();
    let mut linker: Linker<u32> = Linker::new(&engine);
    linker
        .func_new(
            "host",
            "twice",
            func_type(&[ValType::I64], &[ValType::I64]),
            |mut caller, params, results| {
                *caller.data_mut() += 1;
                let v = params[0].i64().unwrap();
                if v < 0 {
                    return Err(Error::msg("negative"));
                }
                results[0] = Val::I64(v * 2);
                Ok(())
            },
        )
        .unwrap();
    let module = Module::new(
        &engine,
        r#"(module (import "host" "twice" (func $twice (param i64) (result i64)))
            (func (export "f") (param i64) (result i64)
              (i64.add (call $twice (local.get 0)) (i64.const 1))))"#,
    )
    .unwrap();
    let mut store = Store::new(&engine, 0u32);
    let instance = linker.instantiate(&mut store, &module).unwrap();
    let f = instance.get_func(&store, "f").unwrap().unwrap();
    let mut results = [Val::I64(0)];
    f.call(&mut store, &[Val::I64(20)], &mut results).unwrap();
    assert_eq!(results[0].i64(), Some(41));
    let error = f
        .call(&mut store, &[Val::I64(-1)], &mut results)
        .unwrap_err();
    let trap = error.downcast_ref::<duet::Trap>().unwrap();
    assert_eq!(trap.code(), TrapCode::HostError);
    assert_eq!(trap.host_error().unwrap().to_string(), "negative");
    assert_eq!(*store.data(), 2);
}

#[test]
fn instances_share_memories_globals_and_functions() {
    let engine = Engine::default();
    let mut store = Store::new(&engine, ());
    let memory = Memory::new(
        &mut store,
        MemoryType {
            minimum_pages: 1,
            maximum_pages: Some(3),
            memory64: false,
            shared: false,
            page_size_log2: 16,
        },
    )
    .unwrap();
    let global = Global::new(
        &mut store,
        GlobalType {
            ty: ValType::I32,
            mutable: true,
        },
        Val::I32(7),
    )
    .unwrap();
    let a = Module::new(
        &engine,
        r#"(module (import "env" "mem" (memory 1)) (import "env" "g" (global (mut i32)))
            (data (i32.const 16) "\2a")
            (func (export "grow") (result i32) (memory.grow (i32.const 1)))
            (func (export "load") (param i32) (result i32) (i32.load8_u (local.get 0)))
            (func (export "bump") (global.set 0 (i32.add (global.get 0) (i32.const 1)))))"#,
    )
    .unwrap();
    let mut linker = Linker::new(&engine);
    linker.define("env", "mem", memory).unwrap();
    linker.define("env", "g", global).unwrap();
    let instance = linker.instantiate(&mut store, &a).unwrap();
    assert_eq!(memory.data(&store).unwrap()[16], 42);
    assert_eq!(
        call(&mut store, instance, "grow", &[]).unwrap()[0].i32(),
        Some(1)
    );
    assert_eq!(memory.size(&store).unwrap(), 2);
    memory.data_mut(&mut store).unwrap()[65536 + 5] = 9;
    assert_eq!(
        call(&mut store, instance, "load", &[Val::I32(65541)]).unwrap()[0].i32(),
        Some(9)
    );
    call(&mut store, instance, "bump", &[]).unwrap();
    assert_eq!(global.get(&store).unwrap().i32(), Some(8));
    // A second module calls the first's export through an import.
    linker.instance(&mut store, "a", instance).unwrap();
    let b = Module::new(
        &engine,
        r#"(module (import "a" "load" (func $load (param i32) (result i32)))
            (func (export "f") (result i32) (call $load (i32.const 16))))"#,
    )
    .unwrap();
    let b = linker.instantiate(&mut store, &b).unwrap();
    assert_eq!(call(&mut store, b, "f", &[]).unwrap()[0].i32(), Some(42));
    // Out of bounds through the shared memory traps.
    let error = call(&mut store, instance, "load", &[Val::I32(3 * 65536)]).unwrap_err();
    assert_eq!(
        error.downcast_ref::<duet::Trap>().unwrap().code(),
        TrapCode::MemoryOutOfBounds
    );
    assert!(matches!(
        Extern::from(memory),
        Extern::Memory(m) if m == memory
    ));
    let unknown = Module::new(&engine, r#"(module (import "x" "y" (func)))"#).unwrap();
    let error = linker.instantiate(&mut store, &unknown).unwrap_err();
    assert!(error.to_string().contains("unknown import"), "{error}");
    let _ = Func::new(&mut store, func_type(&[], &[]), |_, _, _| Ok(()));
}

#[test]
fn bulk_memory_operations_see_every_growth() {
    // `memory.fill` and `memory.copy` run in the runtime, which finds the
    // memory's base and length where compiled code does: in the VMContext
    // for a defined memory, through a pointer for an imported one. Growth
    // from the host must be visible to both, under both compilers.
    let bulk = r#"
        (func (export "fill") (param i32 i32 i32)
          (memory.fill (local.get 0) (local.get 1) (local.get 2)))
        (func (export "copy") (param i32 i32 i32)
          (memory.copy (local.get 0) (local.get 1) (local.get 2)))"#;
    let page = 65536;
    for compiler in [duet::Compiler::Winch, duet::Compiler::Cranelift] {
        let mut config = duet::Config::new();
        config.compiler(compiler);
        let engine = Engine::new(&config).unwrap();
        let mut store = Store::new(&engine, ());
        let defined = Module::new(
            &engine,
            format!(r#"(module (memory (export "mem") 1 4) {bulk})"#),
        )
        .unwrap();
        let imported = Module::new(
            &engine,
            format!(r#"(module (import "env" "mem" (memory 1)) {bulk})"#),
        )
        .unwrap();
        let host = Memory::new(
            &mut store,
            MemoryType {
                minimum_pages: 1,
                maximum_pages: Some(4),
                memory64: false,
                shared: false,
                page_size_log2: 16,
            },
        )
        .unwrap();
        let mut linker = Linker::new(&engine);
        linker.define("env", "mem", host).unwrap();
        let a = Instance::new(&mut store, &defined, &[]).unwrap();
        let a_memory = a.get_memory(&store, "mem").unwrap().unwrap();
        let b = linker.instantiate(&mut store, &imported).unwrap();
        for (instance, memory) in [(a, a_memory), (b, host)] {
            let run = |store: &mut Store<()>, name: &str, args: [i32; 3]| {
                call(store, instance, name, &args.map(Val::I32))
            };
            let oob = |result: Result<Vec<Val>, Error>| {
                result
                    .unwrap_err()
                    .downcast_ref::<duet::Trap>()
                    .map(|t| t.code())
                    == Some(TrapCode::MemoryOutOfBounds)
            };
            assert!(
                oob(run(&mut store, "fill", [page - 2, 7, 4])),
                "{compiler:?}"
            );
            assert!(
                oob(run(&mut store, "copy", [page - 2, 0, 4])),
                "{compiler:?}"
            );
            assert_eq!(memory.grow(&mut store, 1).unwrap(), 1);
            run(&mut store, "fill", [page - 2, 7, 4]).unwrap();
            run(&mut store, "copy", [2 * page - 3, page - 1, 3]).unwrap();
            let data = memory.data(&store).unwrap();
            assert_eq!(
                &data[page as usize - 3..page as usize + 3],
                &[0, 7, 7, 7, 7, 0]
            );
            assert_eq!(&data[2 * page as usize - 3..], &[7, 7, 7], "{compiler:?}");
            assert!(
                oob(run(&mut store, "fill", [2 * page - 1, 7, 2])),
                "{compiler:?}"
            );
            assert!(
                oob(run(&mut store, "copy", [0, 2 * page - 1, 2])),
                "{compiler:?}"
            );
        }
    }
}

#[test]
fn typed_calls_check_the_type_once() {
    let engine = Engine::default();
    let module = Module::new(
        &engine,
        r#"(module (func (export "swap") (param i64 f64) (result f64 i64)
            (local.get 1) (local.get 0)))"#,
    )
    .unwrap();
    let mut store = Store::new(&engine, ());
    let instance = Instance::new(&mut store, &module, &[]).unwrap();
    let swap = instance.get_func(&store, "swap").unwrap().unwrap();
    let typed = swap.typed::<(i64, f64), (f64, i64)>(&store).unwrap();
    assert_eq!(typed.call(&mut store, (3, 1.5)).unwrap(), (1.5, 3));
    let error = swap.typed::<(i64, f64), f64>(&store).unwrap_err();
    assert!(
        error
            .to_string()
            .contains("(func (param i64 f64) (result f64 i64))"),
        "{error}"
    );
}

#[test]
fn engines_refuse_other_targets_and_both_compilers_agree() {
    let mut config = duet::Config::new();
    config.target("aarch64-unknown-linux-gnu");
    let error = Engine::new(&config).unwrap_err();
    assert!(
        error.to_string().contains("aarch64-unknown-linux-gnu"),
        "{error}"
    );
    let mut config = duet::Config::new();
    config.target("not a triple");
    assert!(Engine::new(&config).is_err());
    // Both compilers give the same results.
    for compiler in [duet::Compiler::Winch, duet::Compiler::Cranelift] {
        let mut config = duet::Config::new();
        config.compiler(compiler);
        let engine = Engine::new(&config).unwrap();
        let module = Module::new(
            &engine,
            r#"(module (func (export "f") (param i64) (result i64)
                (i64.mul (local.get 0) (i64.add (local.get 0) (i64.const 3)))))"#,
        )
        .unwrap();
        let mut store = Store::new(&engine, ());
        let instance = Instance::new(&mut store, &module, &[]).unwrap();
        let results = call(&mut store, instance, "f", &[Val::I64(-7)]).unwrap();
        assert_eq!(results[0].i64(), Some(28), "{compiler:?}");
    }
    let mut config = duet::Config::new();
    config
        .target(&target_lexicon::Triple::host().to_string())
        .parallel_compilation(false);
    assert!(Engine::new(&config).is_ok());
}

#[test]
fn every_kind_of_trap_comes_back_with_its_code() {
    let engine = Engine::default();
    let module = Module::new(
        &engine,
        r#"(module
            (type $v (func))
            (table 2 funcref) (elem (i32.const 0) $f)
            (memory 1)
            (func $f (param i32) (result i32) (local.get 0))
            (func (export "unreachable") unreachable)
            (func (export "conversion") (drop (i32.trunc_f32_s (f32.const nan))))
            (func (export "overflow") (drop (i32.div_s (i32.const 0x80000000) (i32.const -1))))
            (func (export "null") (call_indirect (type $v) (i32.const 1)))
            (func (export "signature") (call_indirect (type $v) (i32.const 0)))
            (func (export "table") (call_indirect (type $v) (i32.const 2)))
            (func (export "memory") (drop (i64.load (i32.const 65530))))
            (func $deep (export "deep") (param i32) (result i32)
              (i32.add (call $deep (local.get 0)) (i32.const 1))))"#,
    )
    .unwrap();
    let mut store = Store::new(&engine, ());
    let instance = Instance::new(&mut store, &module, &[]).unwrap();
    for (name, code) in [
        ("unreachable", TrapCode::UnreachableCodeReached),
        ("conversion", TrapCode::BadConversionToInteger),
        ("overflow", TrapCode::IntegerOverflow),
        ("null", TrapCode::IndirectCallToNull),
        ("signature", TrapCode::BadSignature),
        ("table", TrapCode::TableOutOfBounds),
        ("memory", TrapCode::MemoryOutOfBounds),
    ] {
        let error = call(&mut store, instance, name, &[]).unwrap_err();
        let trap = error
            .downcast_ref::<duet::Trap>()
            .unwrap_or_else(|| panic!("{name}: {error}"));
        assert_eq!(trap.code(), code, "{name}");
        assert_eq!(trap.frames().len(), 1, "{name}: {trap}");
        assert!(!trap.is_truncated());
    }
    let error = call(&mut store, instance, "deep", &[Val::I32(0)]).unwrap_err();
    let trap = error.downcast_ref::<duet::Trap>().unwrap();
    assert_eq!(trap.code(), TrapCode::StackOverflow);
    assert!(trap.is_truncated());
    assert!(
        trap.to_string().ends_with("(outer frames left out)"),
        "{trap}"
    );
    // The frames kept are one recursion: listed as the first of them and
    // one line counting the rest.
    let text = trap.to_string();
    let lines: Vec<&str> = text.lines().collect();
    let kept = trap.frames().len();
    assert!(kept > 3, "{text}");
    let repeated = trap.frames().iter().skip(1).all(|f| *f == trap.frames()[1]);
    assert!(repeated, "{text}");
    assert_eq!(lines.len(), 5, "{text}");
    assert_eq!(
        lines[3],
        format!("  ... the frame above repeated {} more times", kept - 2),
        "{text}"
    );
}

#[test]
fn memory64_grows_in_place_up_to_the_configured_reservation() {
    // 2,048 one-page growths of a 64-bit memory, under both compilers, for
    // a memory the module defines and one it imports: each growth keeps
    // what was written before it, compiled code sees every new page (the
    // VMContext's base and length follow), the bytes never move, and
    // growth past the engine's bound fails with -1 rather than aborting.
    const GROWTHS: u64 = 2048;
    let page = 65536u64;
    let code = r#"
        (func (export "grow") (param i64) (result i64) (memory.grow (local.get 0)))
        (func (export "size") (result i64) (memory.size))
        (func (export "store") (param i64 i64) (i64.store (local.get 0) (local.get 1)))
        (func (export "load") (param i64) (result i64) (i64.load (local.get 0)))"#;
    for compiler in [duet::Compiler::Winch, duet::Compiler::Cranelift] {
        let mut config = duet::Config::new();
        config
            .compiler(compiler)
            .memory64_reservation((GROWTHS + 1) * page);
        let engine = Engine::new(&config).unwrap();
        let mut store = Store::new(&engine, ());
        let defined = Module::new(
            &engine,
            format!(r#"(module (memory (export "mem") i64 1) {code})"#),
        )
        .unwrap();
        let imported = Module::new(
            &engine,
            format!(r#"(module (import "env" "mem" (memory i64 1)) {code})"#),
        )
        .unwrap();
        let host = Memory::new(
            &mut store,
            MemoryType {
                minimum_pages: 1,
                maximum_pages: None,
                memory64: true,
                shared: false,
                page_size_log2: 16,
            },
        )
        .unwrap();
        let a = Instance::new(&mut store, &defined, &[]).unwrap();
        let a_memory = a.get_memory(&store, "mem").unwrap().unwrap();
        let b = Instance::new(&mut store, &imported, &[host.into()]).unwrap();
        for (instance, memory) in [(a, a_memory), (b, host)] {
            let run = |store: &mut Store<()>, name: &str, args: &[i64]| {
                let args: Vec<Val> = args.iter().map(|&v| Val::I64(v)).collect();
                call(store, instance, name, &args).map(|r| r.first().and_then(Val::i64))
            };
            run(&mut store, "store", &[8, 0x1122_3344]).unwrap();
            let base = memory.data(&store).unwrap().as_ptr();
            for old in 1..=GROWTHS {
                let grown = run(&mut store, "grow", &[1]).unwrap();
                assert_eq!(grown, Some(old as i64), "{compiler:?}");
                // The last word of the new page, written by compiled code.
                let last = ((old + 1) * page - 8) as i64;
                run(&mut store, "store", &[last, old as i64]).unwrap();
            }
            assert_eq!(
                memory.data(&store).unwrap().as_ptr(),
                base,
                "grown in place"
            );
            assert_eq!(memory.size(&store).unwrap(), GROWTHS + 1);
            assert_eq!(
                run(&mut store, "size", &[]).unwrap(),
                Some(GROWTHS as i64 + 1)
            );
            assert_eq!(run(&mut store, "load", &[8]).unwrap(), Some(0x1122_3344));
            for old in [1, 2, GROWTHS / 2, GROWTHS] {
                let last = ((old + 1) * page - 8) as i64;
                assert_eq!(run(&mut store, "load", &[last]).unwrap(), Some(old as i64));
            }
            // The bound is the maximum: one more page, or a terabyte, is -1.
            assert_eq!(
                run(&mut store, "grow", &[1]).unwrap(),
                Some(-1),
                "{compiler:?}"
            );
            assert_eq!(run(&mut store, "grow", &[1 << 24]).unwrap(), Some(-1));
            assert!(memory.grow(&mut store, 1).is_err());
            assert_eq!(memory.size(&store).unwrap(), GROWTHS + 1);
            let past_the_end = ((GROWTHS + 1) * page - 7) as i64;
            let trap = run(&mut store, "load", &[past_the_end]).unwrap_err();
            assert_eq!(
                trap.downcast_ref::<duet::Trap>().map(|t| t.code()),
                Some(TrapCode::MemoryOutOfBounds)
            );
        }
    }
}

#[test]
fn a_memory64_reservation_above_one_tebibyte_is_refused() {
    let mut config = duet::Config::new();
    config.memory64_reservation((1 << 40) + 65536);
    let error = Engine::new(&config).unwrap_err();
    assert!(
        matches!(
            error.downcast_ref::<duet::ErrorKind>(),
            Some(duet::ErrorKind::Config(_))
        ),
        "{error}"
    );
    config.memory64_reservation(1 << 40);
    Engine::new(&config).unwrap();
}

/// A module with one entity of each kind, for the cross-store tests.
const ENTITIES: &str = r#"(module
    (memory (export "mem") 1)
    (table (export "table") 2 funcref)
    (global (export "global") (mut i32) (i32.const 7))
    (global (export "ref") (mut funcref) (ref.null func))
    (func (export "func") (result i32) (i32.const 42))
    (func (export "takes_func") (param funcref))
    (func (export "takes_extern") (param externref)))"#;

/// Asserts that `result` is the error a handle from another store gets.
#[track_caller]
fn assert_from_another_store<T: std::fmt::Debug>(result: Result<T, Error>, what: &str) {
    match result.map_err(|e| e.downcast::<duet::ErrorKind>()) {
        Err(Ok(duet::ErrorKind::Type(message))) => {
            assert!(message.contains("another store"), "{what}: {message}")
        }
        other => panic!("{what}: expected a type error, got {other:?}"),
    }
}

#[test]
fn a_handle_or_value_from_another_store_is_an_error_where_something_changes_or_runs() {
    let engine = Engine::default();
    let module = Module::new(&engine, ENTITIES).unwrap();
    let importer = Module::new(&engine, r#"(module (import "env" "mem" (memory 1)))"#).unwrap();
    let mut a = Store::new(&engine, ());
    let instance = Instance::new(&mut a, &module, &[]).unwrap();
    let memory = instance.get_memory(&a, "mem").unwrap().unwrap();
    let table = instance.get_table(&a, "table").unwrap().unwrap();
    let global = instance.get_global(&a, "global").unwrap().unwrap();
    let func = instance.get_func(&a, "func").unwrap().unwrap();
    let reference = ExternRef::new(&mut a, 5u32);

    let mut b = Store::new(&engine, ());
    let b_instance = Instance::new(&mut b, &module, &[]).unwrap();
    let b_table = b_instance.get_table(&b, "table").unwrap().unwrap();
    let b_ref = b_instance.get_global(&b, "ref").unwrap().unwrap();
    let takes_func = b_instance.get_func(&b, "takes_func").unwrap().unwrap();
    let takes_extern = b_instance.get_func(&b, "takes_extern").unwrap().unwrap();
    let a_func = Val::FuncRef(Some(func));

    // A's memory, table, global, function and instance with B.
    assert_from_another_store(memory.grow(&mut b, 1), "Memory::grow");
    assert_from_another_store(table.set(&mut b, 0, Val::FuncRef(None)), "Table::set");
    assert_from_another_store(table.grow(&mut b, 1, Val::FuncRef(None)), "Table::grow");
    assert_from_another_store(global.set(&mut b, Val::I32(1)), "Global::set");
    let mut results = [Val::I32(0)];
    assert_from_another_store(func.call(&mut b, &[], &mut results), "Func::call");
    assert_from_another_store(func.typed::<(), i32>(&b), "Func::typed");
    let typed = func.typed::<(), i32>(&a).unwrap();
    assert_from_another_store(typed.call(&mut b, ()), "TypedFunc::call");
    assert_from_another_store(
        Instance::new(&mut b, &importer, &[memory.into()]),
        "Instance::new",
    );
    let mut linker: Linker<()> = Linker::new(&engine);
    assert_from_another_store(
        linker.instance(&mut b, "a", instance).map(|_| ()),
        "Linker::instance",
    );
    linker.define("env", "mem", memory).unwrap();
    assert_from_another_store(linker.instantiate(&mut b, &importer), "Linker::instantiate");

    // A's function and extern reference as values in B.
    let funcref_table = duet::TableType {
        element: duet::RefType::FuncRef,
        minimum: 1,
        maximum: None,
        table64: false,
        init: None,
    };
    assert_from_another_store(Table::new(&mut b, funcref_table, a_func), "Table::new");
    let funcref_global = GlobalType {
        ty: ValType::FuncRef,
        mutable: true,
    };
    assert_from_another_store(Global::new(&mut b, funcref_global, a_func), "Global::new");
    assert_from_another_store(b_table.set(&mut b, 0, a_func), "Table::set (value)");
    assert_from_another_store(b_table.grow(&mut b, 1, a_func), "Table::grow (value)");
    assert_from_another_store(b_ref.set(&mut b, a_func), "Global::set (value)");
    assert_from_another_store(takes_func.call(&mut b, &[a_func], &mut []), "argument");
    assert_from_another_store(
        takes_extern.call(&mut b, &[Val::ExternRef(Some(reference))], &mut []),
        "extern reference argument",
    );
    // A host function of B returning A's function: its result is refused,
    // and the error comes back as the host function's.
    let returns_a_func = Func::new(
        &mut b,
        func_type(&[], &[ValType::FuncRef]),
        move |_, _, results| {
            results[0] = a_func;
            Ok(())
        },
    );
    let mut result = [Val::FuncRef(None)];
    let error = returns_a_func.call(&mut b, &[], &mut result).unwrap_err();
    let trap = error
        .downcast_ref::<duet::Trap>()
        .expect("a host function's failure is a trap");
    assert_from_another_store(
        Err::<(), _>(match trap.host_error().and_then(|e| e.downcast_ref()) {
            Some(duet::ErrorKind::Type(message)) => {
                Error::new(duet::ErrorKind::Type(message.clone()))
            }
            other => panic!("{other:?}"),
        }),
        "host function result",
    );

    // Nothing of either store changed, and both still work.
    assert_eq!(memory.size(&a).unwrap(), 1);
    assert_eq!(table.size(&a).unwrap(), 2);
    assert_eq!(global.get(&a).unwrap().i32(), Some(7));
    assert_eq!(b_table.size(&b).unwrap(), 2);
    assert_eq!(typed.call(&mut a, ()).unwrap(), 42);
    takes_func
        .call(&mut b, &[Val::FuncRef(None)], &mut [])
        .unwrap();
    // And an embedder can ask first.
    for item in [
        Extern::from(memory),
        table.into(),
        global.into(),
        func.into(),
    ] {
        assert!(item.comes_from_same_store(&a));
        assert!(!item.comes_from_same_store(&b));
    }
    assert!(instance.comes_from_same_store(&a) && !instance.comes_from_same_store(&b));
    assert!(reference.comes_from_same_store(&a) && !reference.comes_from_same_store(&b));
}

#[test]
fn every_accessor_given_a_handle_from_another_store_returns_a_type_error() {
    // The accessors that cannot otherwise fail return an `Error::Type` for
    // a handle of another store too, unlike Wasmtime's, which panic (see
    // "Handles from another store" in `Store`'s docs). Store B holds an
    // instance of the same module, so a missing check would not panic on
    // an index out of B's records either: it would read B's entities and
    // return `Ok`, which this test reports.
    let engine = Engine::default();
    let module = Module::new(&engine, ENTITIES).unwrap();
    let mut a = Store::new(&engine, ());
    let instance = Instance::new(&mut a, &module, &[]).unwrap();
    let memory = instance.get_memory(&a, "mem").unwrap().unwrap();
    let table = instance.get_table(&a, "table").unwrap().unwrap();
    let global = instance.get_global(&a, "global").unwrap().unwrap();
    let func = instance.get_func(&a, "func").unwrap().unwrap();
    let reference = ExternRef::new(&mut a, 5u32);
    let mut b = Store::new(&engine, 0u8);
    Instance::new(&mut b, &module, &[]).unwrap();
    ExternRef::new(&mut b, 6u32);

    /// A method's outcome, its `Ok` value described for the failure
    /// message.
    fn described<T: std::fmt::Debug>(result: Result<T, Error>) -> Result<String, Error> {
        result.map(|value| format!("{value:?}"))
    }
    type Check = Box<dyn Fn(&mut Store<u8>) -> Result<String, Error>>;
    let checks: Vec<(&str, Check)> = vec![
        ("Memory::ty", Box::new(move |b| described(memory.ty(&*b)))),
        (
            "Memory::size",
            Box::new(move |b| described(memory.size(&*b))),
        ),
        (
            "Memory::data",
            Box::new(move |b| described(memory.data(b).map(<[u8]>::len))),
        ),
        (
            "Memory::data_mut",
            Box::new(move |b| described(memory.data_mut(b).map(|bytes| bytes.len()))),
        ),
        (
            "Memory::data_and_store_mut",
            Box::new(move |b| {
                described(
                    memory
                        .data_and_store_mut(b)
                        .map(|(bytes, data)| (bytes.len(), *data)),
                )
            }),
        ),
        ("Table::ty", Box::new(move |b| described(table.ty(&*b)))),
        ("Table::size", Box::new(move |b| described(table.size(&*b)))),
        (
            "Table::get",
            Box::new(move |b| described(table.get(&*b, 0))),
        ),
        ("Global::ty", Box::new(move |b| described(global.ty(&*b)))),
        ("Global::get", Box::new(move |b| described(global.get(&*b)))),
        ("Func::ty", Box::new(move |b| described(func.ty(&*b)))),
        (
            "Extern::ty (memory)",
            Box::new(move |b| described(Extern::from(memory).ty(&*b))),
        ),
        (
            "Extern::ty (table)",
            Box::new(move |b| described(Extern::from(table).ty(&*b))),
        ),
        (
            "Extern::ty (global)",
            Box::new(move |b| described(Extern::from(global).ty(&*b))),
        ),
        (
            "Extern::ty (function)",
            Box::new(move |b| described(Extern::from(func).ty(&*b))),
        ),
        (
            "ExternRef::data",
            Box::new(move |b| described(reference.data(b).map(|data| data.downcast_ref::<u32>()))),
        ),
        (
            "Instance::module",
            Box::new(move |b| described(instance.module(&*b).map(|_| ()))),
        ),
        (
            "Instance::get_export",
            Box::new(move |b| described(instance.get_export(&*b, "mem"))),
        ),
        (
            // Not `Ok(None)`: the store is wrong whatever the name.
            "Instance::get_export (no such export)",
            Box::new(move |b| described(instance.get_export(&*b, "missing"))),
        ),
        (
            "Instance::get_func",
            Box::new(move |b| described(instance.get_func(&*b, "func"))),
        ),
        (
            "Instance::get_memory",
            Box::new(move |b| described(instance.get_memory(&*b, "mem"))),
        ),
        (
            "Instance::get_table",
            Box::new(move |b| described(instance.get_table(&*b, "table"))),
        ),
        (
            "Instance::get_global",
            Box::new(move |b| described(instance.get_global(&*b, "global"))),
        ),
        (
            "Instance::exports",
            Box::new(move |b| described(instance.exports(&*b))),
        ),
    ];
    for (method, check) in checks {
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| check(&mut b)))
            .unwrap_or_else(|_| panic!("{method} panicked instead of returning an error"));
        assert_from_another_store(outcome, method);
    }
    // Store A is untouched, and its accessors work with it.
    assert_eq!(memory.size(&a).unwrap(), 1);
    assert_eq!(table.size(&a).unwrap(), 2);
    assert_eq!(global.get(&a).unwrap().i32(), Some(7));
    assert_eq!(func.ty(&a).unwrap(), func_type(&[], &[ValType::I32]));
    assert_eq!(reference.data(&a).unwrap().downcast_ref(), Some(&5u32));
    assert_eq!(instance.exports(&a).unwrap().len(), 7);
}

#[test]
fn bytes_that_are_neither_binary_nor_text_are_reported_as_such() {
    let engine = Engine::default();
    for (bytes, expected) in [
        (&b""[..], "invalid module: the input is empty (0 bytes)"),
        (
            &b"\0\0\0\x01"[..],
            "invalid module: neither a WebAssembly binary (bad magic number: found 00 00 00 01",
        ),
        (
            &b"\0asm\x02\0\0\0"[..],
            "invalid module: neither a WebAssembly binary (unsupported version: found 02 00 00 00",
        ),
        (
            &b"\xfe\xff(module)"[..],
            "invalid module: neither a WebAssembly binary (bad magic number: found fe ff 28 6d",
        ),
    ] {
        let error = Module::new(&engine, bytes).unwrap_err();
        assert!(
            matches!(
                error.downcast_ref::<duet::ErrorKind>(),
                Some(duet::ErrorKind::Invalid(_))
            ),
            "{error:?}"
        );
        assert!(
            error.to_string().starts_with(expected),
            "{bytes:?}: {error}"
        );
    }
    // Text and binaries are still both accepted.
    let text = "(module (func (export \"f\")))";
    Module::new(&engine, text).unwrap();
    Module::new(&engine, wat::parse_str(text).unwrap()).unwrap();
}

/// `v128` values through the API without wasm code: host functions of
/// `v128` type called from the host (through the entry and host
/// trampolines' 16-byte slots) and re-exported by a module, and `v128`
/// globals made by a constant expression or by the host. Wasm code passing
/// them is the next test.
#[test]
fn v128_values_pass_through_host_functions_and_globals() {
    let engine = Engine::default();
    let mut store = Store::new(&engine, ());
    // Swaps the two 64-bit halves and adds the i32 to the low lane.
    let ty = func_type(&[ValType::V128, ValType::I32], &[ValType::V128]);
    let swap = Func::new(&mut store, ty, |_, params, results| {
        let v = params[0].v128().expect("a v128");
        let n = params[1].i32().expect("an i32") as u128;
        results[0] = Val::V128(v.rotate_left(64).wrapping_add(n));
        Ok(())
    });
    let input: u128 = 0x0123_4567_89ab_cdef_fedc_ba98_7654_3210;
    let swapped: u128 = 0xfedc_ba98_7654_3210_0123_4567_89ab_cdef;
    let typed = swap.typed::<(u128, i32), u128>(&store).unwrap();
    assert_eq!(typed.call(&mut store, (input, 1)).unwrap(), swapped + 1);
    let wrong = swap.typed::<(i64, i32), u128>(&store).unwrap_err();
    assert!(
        wrong.to_string().contains("(param v128 i32) (result v128)"),
        "{wrong}"
    );

    let module = Module::new(
        &engine,
        r#"(module
             (import "host" "swap" (func $swap (param v128 i32) (result v128)))
             (import "host" "g" (global $imported (mut v128)))
             (export "swap" (func $swap))
             (export "imported" (global $imported))
             (global (export "lanes") (mut v128) (v128.const i32x4 1 2 3 -1))
             (global (export "floats") v128 (v128.const f32x4 1.0 -0.0 nan inf)))"#,
    )
    .unwrap();
    let host_global = Global::new(
        &mut store,
        GlobalType {
            ty: ValType::V128,
            mutable: true,
        },
        Val::V128(input),
    )
    .unwrap();
    let mut linker = Linker::new(&engine);
    linker.define("host", "swap", swap).unwrap();
    linker.define("host", "g", host_global).unwrap();
    let instance = linker.instantiate(&mut store, &module).unwrap();

    let exported = instance.get_func(&store, "swap").unwrap().unwrap();
    let exported = exported.typed::<(u128, i32), u128>(&store).unwrap();
    assert_eq!(exported.call(&mut store, (swapped, 0)).unwrap(), input);

    let global = |store: &Store<()>, name| instance.get_global(store, name).unwrap().unwrap();
    let lanes = global(&store, "lanes");
    // Lane 0 in the lowest bits; -1 is all ones.
    let expected: u128 = 0xffff_ffff_0000_0003_0000_0002_0000_0001;
    assert_eq!(lanes.get(&store).unwrap().v128(), Some(expected));
    lanes.set(&mut store, Val::V128(swapped)).unwrap();
    assert_eq!(lanes.get(&store).unwrap().v128(), Some(swapped));
    let mismatch = lanes.set(&mut store, Val::I64(0)).unwrap_err();
    assert!(
        matches!(
            mismatch.downcast_ref::<duet::ErrorKind>(),
            Some(duet::ErrorKind::Type(_))
        ),
        "{mismatch}"
    );
    let floats: u128 = 0x7f80_0000_7fc0_0000_8000_0000_3f80_0000;
    assert_eq!(
        global(&store, "floats").get(&store).unwrap().v128(),
        Some(floats)
    );
    let imported = global(&store, "imported");
    imported.set(&mut store, Val::V128(u128::MAX)).unwrap();
    assert_eq!(host_global.get(&store).unwrap().v128(), Some(u128::MAX));
}

/// `v128` values through wasm code compiled by the baseline tier
/// (`tests/simd_tiers.rs` checks the optimizing tier's): a `Val` call of a function
/// with ten `v128` parameters (two travel on the stack) and several
/// results, a typed (`u128`) call of one that calls a host function of
/// `v128` type, and a `v128` global that wasm writes and the host reads.
#[test]
fn v128_values_pass_through_wasm_code() {
    let mut config = duet::Config::new();
    config.compiler(duet::Compiler::Winch);
    let engine = Engine::new(&config).unwrap();
    let mut store = Store::new(&engine, ());
    let host_ty = func_type(&[ValType::V128], &[ValType::V128]);
    // Adds 1 to each 32-bit lane.
    let bump = Func::new(&mut store, host_ty, |_, params, results| {
        let v = params[0].v128().expect("a v128");
        let lanes: [u32; 4] = core::array::from_fn(|i| (v >> (32 * i)) as u32);
        let sum = lanes.iter().enumerate().fold(0u128, |acc, (i, &l)| {
            acc | u128::from(l.wrapping_add(1)) << (32 * i)
        });
        results[0] = Val::V128(sum);
        Ok(())
    });
    let module = Module::new(
        &engine,
        r#"(module
             (import "host" "bump" (func $bump (param v128) (result v128)))
             (global $last (export "last") (mut v128) (v128.const i64x2 0 0))
             ;; a + b + ... + j (i32x4 lanes), and a's lanes reversed, and
             ;; the i32 lane 3 of j.
             (func (export "sum") (param v128 v128 v128 v128 v128 v128 v128 v128 v128 v128)
                                  (result v128 v128 i32)
               (local $acc v128)
               (local.set $acc (i32x4.add (local.get 0) (local.get 1)))
               (local.set $acc (i32x4.add (local.get $acc) (local.get 2)))
               (local.set $acc (i32x4.add (local.get $acc) (local.get 3)))
               (local.set $acc (i32x4.add (local.get $acc) (local.get 4)))
               (local.set $acc (i32x4.add (local.get $acc) (local.get 5)))
               (local.set $acc (i32x4.add (local.get $acc) (local.get 6)))
               (local.set $acc (i32x4.add (local.get $acc) (local.get 7)))
               (local.set $acc (i32x4.add (local.get $acc) (local.get 8)))
               (global.set $last (i32x4.add (local.get $acc) (local.get 9)))
               (global.get $last)
               (i8x16.shuffle 12 13 14 15 8 9 10 11 4 5 6 7 0 1 2 3
                 (local.get 0) (local.get 0))
               (i32x4.extract_lane 3 (local.get 9)))
             (func (export "bump_twice") (param v128) (result v128)
               (call $bump (call $bump (local.get 0)))))"#,
    )
    .unwrap();
    let mut linker = Linker::new(&engine);
    linker.define("host", "bump", bump).unwrap();
    let instance = linker.instantiate(&mut store, &module).unwrap();

    let lanes = |l: [u32; 4]| -> u128 {
        l.iter()
            .enumerate()
            .fold(0, |acc, (i, &x)| acc | u128::from(x) << (32 * i))
    };
    let args: [u128; 10] =
        core::array::from_fn(|k| lanes([k as u32, 10 * k as u32, u32::MAX, 1 << k]));
    let want_sum = lanes([45, 450, 0u32.wrapping_sub(10), 1023]);
    let want_reversed = lanes([1, u32::MAX, 0, 0]);
    let sum = instance.get_func(&store, "sum").unwrap().unwrap();
    let vals: Vec<Val> = args.iter().map(|&v| Val::V128(v)).collect();
    let mut results = [Val::I32(0), Val::I32(0), Val::I32(0)];
    sum.call(&mut store, &vals, &mut results).unwrap();
    assert_eq!(results[0].v128(), Some(want_sum));
    assert_eq!(results[1].v128(), Some(want_reversed));
    assert_eq!(results[2].i32(), Some(512));
    let last = instance.get_global(&store, "last").unwrap().unwrap();
    assert_eq!(last.get(&store).unwrap().v128(), Some(want_sum));

    let bump_twice = instance.get_func(&store, "bump_twice").unwrap().unwrap();
    let bump_twice = bump_twice.typed::<u128, u128>(&store).unwrap();
    assert_eq!(
        bump_twice
            .call(&mut store, lanes([1, u32::MAX, 7, u32::MAX - 1]))
            .unwrap(),
        lanes([3, 1, 9, 0])
    );
}

/// The CPU presets: each is accepted exactly when the host has every
/// feature it names (the standard library's detection is the oracle), and
/// a refused one names what the host lacks.
#[test]
fn a_cpu_preset_is_accepted_only_when_the_host_has_its_features() {
    use duet::{Config, CpuFeature, CpuPreset};
    let detected = |feature: CpuFeature| match feature {
        CpuFeature::Base | CpuFeature::Sse | CpuFeature::Sse2 => true,
        CpuFeature::Sse3 => std::is_x86_feature_detected!("sse3"),
        CpuFeature::Ssse3 => std::is_x86_feature_detected!("ssse3"),
        CpuFeature::Sse41 => std::is_x86_feature_detected!("sse4.1"),
        CpuFeature::Sse42 => std::is_x86_feature_detected!("sse4.2"),
        CpuFeature::Popcnt => std::is_x86_feature_detected!("popcnt"),
        CpuFeature::Lzcnt => std::is_x86_feature_detected!("lzcnt"),
        CpuFeature::Bmi1 => std::is_x86_feature_detected!("bmi1"),
        CpuFeature::Bmi2 => std::is_x86_feature_detected!("bmi2"),
        CpuFeature::Avx => std::is_x86_feature_detected!("avx"),
        CpuFeature::Avx2 => std::is_x86_feature_detected!("avx2"),
        CpuFeature::Fma => std::is_x86_feature_detected!("fma"),
    };
    let sse41 = CpuPreset::Sse41.features();
    assert!(sse41.has(CpuFeature::Ssse3) && sse41.has(CpuFeature::Sse41));
    for absent in [
        CpuFeature::Sse42,
        CpuFeature::Popcnt,
        CpuFeature::Lzcnt,
        CpuFeature::Avx,
    ] {
        assert!(!sse41.has(absent), "{absent}");
    }
    let baseline = CpuPreset::Baseline.features();
    assert!(baseline.has(CpuFeature::Sse2) && !baseline.has(CpuFeature::Sse3));
    assert!(CpuPreset::Avx2.features().has(CpuFeature::Fma));
    for preset in CpuPreset::ALL {
        assert_eq!(CpuPreset::from_name(preset.name()), Some(preset));
        let mut config = Config::new();
        config.cpu_features(preset);
        let missing: Vec<_> = preset.features().iter().filter(|f| !detected(*f)).collect();
        match Engine::new(&config).map_err(|e| e.downcast::<duet::ErrorKind>()) {
            Ok(engine) => {
                assert!(missing.is_empty(), "{preset} accepted without {missing:?}");
                assert_eq!(engine.cpu_features(), preset.features());
            }
            Err(Ok(duet::ErrorKind::Config(message))) => {
                assert!(!missing.is_empty(), "{preset} refused: {message}");
                for feature in missing {
                    assert!(message.contains(feature.name()), "{message}");
                }
            }
            Err(other) => panic!("{preset}: {other:?}"),
        }
    }
    assert_eq!(CpuPreset::from_name("sse4"), None);
}
