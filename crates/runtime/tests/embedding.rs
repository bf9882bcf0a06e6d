//! The parts of the embedding API a Wasmtime user reaches for first, one
//! by one: `Memory::read`/`write`, a `Store` moved to another thread,
//! `Func::wrap`/`Linker::func_wrap`, `Linker::instantiate_pre`.
//! (`wasmtime_style.rs` puts them together as a Wasmtime program.)

use duet::{
    Caller, Engine, Instance, Linker, Memory, MemoryAccessError, MemoryType, Module, Store,
};

fn memory_type(pages: u64) -> MemoryType {
    MemoryType {
        minimum_pages: pages,
        maximum_pages: None,
        memory64: false,
        shared: false,
        page_size_log2: 16,
    }
}

#[test]
fn memory_read_and_write_check_bounds_and_never_panic() {
    let engine = Engine::default();
    let mut store = Store::new(&engine, ());
    let memory = Memory::new(&mut store, memory_type(1)).unwrap();
    memory.write(&mut store, 65530, b"edge!!").unwrap();
    let mut buffer = [0; 6];
    memory.read(&store, 65530, &mut buffer).unwrap();
    assert_eq!(&buffer, b"edge!!");
    // One byte past the end, an offset past the end, an offset whose sum
    // with the length overflows: errors, and nothing written.
    assert_eq!(
        memory.write(&mut store, 65531, b"edge!!"),
        Err(MemoryAccessError::OutOfBounds {
            offset: 65531,
            len: 6,
            size: 65536
        })
    );
    assert!(memory.read(&store, 70000, &mut [0; 1]).is_err());
    assert!(memory.read(&store, usize::MAX, &mut [0; 2]).is_err());
    memory.read(&store, 65536, &mut []).unwrap();
    memory.read(&store, 65530, &mut buffer).unwrap();
    assert_eq!(&buffer, b"edge!!");
    let error = memory.read(&store, 65531, &mut buffer).unwrap_err();
    assert_eq!(
        error.to_string(),
        "out of bounds memory access: 6 bytes at offset 65531 of a memory of 65536 bytes"
    );
    // The error goes into `Box<dyn Error + Send + Sync>` and `duet::Error`.
    let boxed: Box<dyn std::error::Error + Send + Sync> = Box::new(error);
    assert!(boxed.to_string().starts_with("out of bounds"));
    // A memory of another store.
    let mut other = Store::new(&engine, ());
    assert_eq!(
        memory.write(&mut other, 0, b"x"),
        Err(MemoryAccessError::OtherStore)
    );
    // After growth the new bytes are reachable.
    memory.grow(&mut store, 1).unwrap();
    memory.write(&mut store, 65536 + 10, b"grown").unwrap();
    assert_eq!(&memory.data(&store).unwrap()[65546..65551], b"grown");
}

#[test]
fn host_functions_read_guest_memory_through_their_caller() {
    let engine = Engine::default();
    let module = Module::new(
        &engine,
        r#"(module
            (import "host" "log" (func $log (param i32 i32)))
            (memory (export "memory") 1)
            (data (i32.const 100) "from the guest")
            (func (export "run") (call $log (i32.const 100) (i32.const 14))))"#,
    )
    .unwrap();
    let mut linker = Linker::<Vec<String>>::new(&engine);
    linker
        .func_new(
            "host",
            "log",
            duet::FuncType {
                params: [duet::ValType::I32, duet::ValType::I32].into(),
                results: [].into(),
            },
            |mut caller: Caller<'_, Vec<String>>, params, _| {
                let memory = caller
                    .get_export("memory")
                    .and_then(|e| e.into_memory())
                    .expect("a memory export");
                let (ptr, len) = (params[0].i32().unwrap(), params[1].i32().unwrap());
                let mut bytes = vec![0; len as usize];
                memory.read(&caller, ptr as usize, &mut bytes)?;
                memory.write(&mut caller, ptr as usize, b"FROM")?;
                caller.data_mut().push(String::from_utf8(bytes).unwrap());
                Ok(())
            },
        )
        .unwrap();
    let mut store = Store::new(&engine, Vec::new());
    let instance = linker.instantiate(&mut store, &module).unwrap();
    let run = instance
        .get_func(&store, "run")
        .unwrap()
        .unwrap()
        .typed::<(), ()>(&store)
        .unwrap();
    run.call(&mut store, ()).unwrap();
    assert_eq!(store.data(), &["from the guest".to_string()]);
    let memory = instance.get_memory(&store, "memory").unwrap().unwrap();
    let mut bytes = [0; 14];
    memory.read(&store, 100, &mut bytes).unwrap();
    assert_eq!(&bytes, b"FROM the guest");
}

fn assert_send<T: Send>() {}
fn assert_sync<T: Sync>() {}

#[test]
fn stores_linkers_and_modules_are_send_and_sync() {
    assert_send::<Store<()>>();
    assert_sync::<Store<()>>();
    assert_send::<Store<Vec<String>>>();
    assert_send::<Linker<()>>();
    assert_sync::<Linker<()>>();
    assert_send::<Module>();
    assert_sync::<Module>();
    assert_send::<Engine>();
    assert_sync::<Engine>();
    assert_send::<duet::Error>();
    assert_sync::<duet::Error>();
}

#[test]
fn a_store_moves_to_another_thread_and_runs_there() {
    let engine = Engine::default();
    let module = Module::new(
        &engine,
        r#"(module
            (import "host" "bump" (func $bump (param i32) (result i32)))
            (memory (export "memory") 1)
            (global $g (mut i32) (i32.const 0))
            (func (export "step") (result i32)
              (global.set $g (call $bump (global.get $g)))
              (i32.store (i32.const 0) (global.get $g))
              (global.get $g)))"#,
    )
    .unwrap();
    let mut linker = Linker::<u32>::new(&engine);
    linker
        .func_new(
            "host",
            "bump",
            duet::FuncType {
                params: [duet::ValType::I32].into(),
                results: [duet::ValType::I32].into(),
            },
            |mut caller: Caller<'_, u32>, params, results| {
                *caller.data_mut() += 1;
                results[0] = duet::Val::I32(params[0].i32().unwrap() + 10);
                Ok(())
            },
        )
        .unwrap();
    let mut store = Store::new(&engine, 0u32);
    let instance = linker.instantiate(&mut store, &module).unwrap();
    let step = instance
        .get_func(&store, "step")
        .unwrap()
        .unwrap()
        .typed::<(), i32>(&store)
        .unwrap();
    assert_eq!(step.call(&mut store, ()).unwrap(), 10);
    // Move the store (and the handles) to another thread, twice over, and
    // keep going where it left off.
    let store = std::thread::spawn(move || {
        assert_eq!(step.call(&mut store, ()).unwrap(), 20);
        store
    })
    .join()
    .unwrap();
    let mut store = std::thread::spawn(move || {
        let mut store = store;
        assert_eq!(step.call(&mut store, ()).unwrap(), 30);
        store
    })
    .join()
    .unwrap();
    assert_eq!(step.call(&mut store, ()).unwrap(), 40);
    assert_eq!(*store.data(), 4);
    let memory = instance.get_memory(&store, "memory").unwrap().unwrap();
    let mut word = [0; 4];
    memory.read(&store, 0, &mut word).unwrap();
    assert_eq!(i32::from_le_bytes(word), 40);
    // Shared references on two threads at once (`Store: Sync`).
    std::thread::scope(|scope| {
        for _ in 0..2 {
            scope.spawn(|| assert_eq!(memory.data(&store).unwrap()[0], 40));
        }
    });
}

/// Counts the allocations made on the thread that asks for them
/// ([`allocations_during`]), to show that wasm calls wrapped host
/// functions without allocating.
struct CountingAllocator;

static ALLOCATIONS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

thread_local! {
    static COUNTING: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

// SAFETY: every method forwards to the system allocator unchanged; the
// counting touches only an atomic and a const-initialized thread-local.
unsafe impl std::alloc::GlobalAlloc for CountingAllocator {
    unsafe fn alloc(&self, layout: std::alloc::Layout) -> *mut u8 {
        if COUNTING.with(|c| c.get()) {
            ALLOCATIONS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
        // SAFETY: the caller's contract, passed on.
        unsafe { std::alloc::System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: std::alloc::Layout) {
        // SAFETY: the caller's contract, passed on.
        unsafe { std::alloc::System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: CountingAllocator = CountingAllocator;

/// How many allocations `f` made on this thread (tests run on several
/// threads, so the count is started and stopped here only).
fn allocations_during(f: impl FnOnce()) -> usize {
    let before = ALLOCATIONS.load(std::sync::atomic::Ordering::Relaxed);
    COUNTING.with(|c| c.set(true));
    f();
    COUNTING.with(|c| c.set(false));
    ALLOCATIONS.load(std::sync::atomic::Ordering::Relaxed) - before
}

/// A module that calls its import `host`.`f` of type `[i32 i64 f32 f64] ->
/// [i32]` `n` times, summing the results.
const CALLS_HOST: &str = r#"(module
    (import "host" "f" (func $f (param i32 i64 f32 f64) (result i32)))
    (func (export "run") (param $n i32) (result i32) (local $sum i32)
      (block $done (loop $again
        (br_if $done (i32.eqz (local.get $n)))
        (local.set $sum (i32.add (local.get $sum)
          (call $f (local.get $n) (i64.const -5) (f32.const 1.5) (f64.const 2.25))))
        (local.set $n (i32.sub (local.get $n) (i32.const 1)))
        (br $again)))
      (local.get $sum)))"#;

#[test]
fn wrapped_host_functions_take_and_return_rust_values_without_allocating() {
    let engine = Engine::default();
    let module = Module::new(&engine, CALLS_HOST).unwrap();
    let mut linker = Linker::<u64>::new(&engine);
    linker
        .func_wrap(
            "host",
            "f",
            |mut caller: Caller<'_, u64>, n: i32, m: i64, x: f32, y: f64| -> i32 {
                assert_eq!((m, x, y), (-5, 1.5, 2.25));
                *caller.data_mut() += 1;
                n * 2
            },
        )
        .unwrap();
    let mut store = Store::new(&engine, 0);
    let instance = linker.instantiate(&mut store, &module).unwrap();
    let run = instance
        .get_typed_func::<i32, i32>(&mut store, "run")
        .unwrap();
    assert_eq!(run.call(&mut store, 3).unwrap(), 2 * (3 + 2 + 1));
    assert_eq!(*store.data(), 3);
    // A thousand host calls allocate no more than one does: whatever the
    // call from the host allocates, the calls from wasm add nothing.
    let once = allocations_during(|| {
        run.call(&mut store, 1).unwrap();
    });
    let many = allocations_during(|| {
        run.call(&mut store, 1000).unwrap();
    });
    assert_eq!(once, many, "wasm-to-host calls allocate");
    assert_eq!(*store.data(), 3 + 1 + 1000);
}

#[test]
fn wrapped_host_functions_of_every_shape() {
    use duet::{ExternRef, Func, TrapCode};
    let engine = Engine::default();
    let mut store = Store::new(&engine, 7i64);
    // No Caller, no parameters, no results.
    let nothing = Func::wrap(&mut store, || {});
    nothing
        .typed::<(), ()>(&store)
        .unwrap()
        .call(&mut store, ())
        .unwrap();
    // A tuple of results, of every numeric type and v128.
    let swap = Func::wrap(&mut store, |a: i64, b: f32, c: f64, v: u128| (v, c, b, a));
    assert_eq!(
        swap.typed::<(i64, f32, f64, u128), (u128, f64, f32, i64)>(&store)
            .unwrap()
            .call(&mut store, (-1, 0.5, -0.25, u128::MAX - 1))
            .unwrap(),
        (u128::MAX - 1, -0.25, 0.5, -1)
    );
    // The type the closure has is the function's type.
    let ty = swap.ty(&store).unwrap();
    assert_eq!(
        ty.to_string(),
        "(func (param i64 f32 f64 v128) (result v128 f64 f32 i64))"
    );
    assert!(swap.typed::<(i32, f32, f64, u128), ()>(&store).is_err());
    // References.
    let first_non_null = Func::wrap(&mut store, |a: Option<ExternRef>, f: Option<Func>| {
        (a.is_some() as i32, f)
    });
    let reference = ExternRef::new(&mut store, "hello");
    let (is_some, func) = first_non_null
        .typed::<(Option<ExternRef>, Option<Func>), (i32, Option<Func>)>(&store)
        .unwrap()
        .call(&mut store, (Some(reference), Some(nothing)))
        .unwrap();
    assert_eq!((is_some, func), (1, Some(nothing)));
    // With a Caller; a Result with the crate's error.
    let checked = Func::wrap(
        &mut store,
        |caller: Caller<'_, i64>, x: i64| -> Result<i64, duet::Error> {
            if x < 0 {
                return Err(duet::Error::msg("negative"));
            }
            Ok(x + *caller.data())
        },
    );
    let checked = checked.typed::<i64, i64>(&store).unwrap();
    assert_eq!(checked.call(&mut store, 5).unwrap(), 12);
    let error = checked.call(&mut store, -5).unwrap_err();
    assert!(
        error.to_string().starts_with("host function error"),
        "{error}"
    );
    assert_eq!(error.source().unwrap().to_string(), "negative");
    // A Result with an io::Error: `?` on it compiles in a host function.
    let io = Func::wrap(&mut store, |path_len: i32| -> Result<i32, std::io::Error> {
        let bytes = std::fs::read(format!("/nonexistent/duet-{path_len}"))?;
        Ok(bytes.len() as i32)
    });
    let error = io
        .typed::<i32, i32>(&store)
        .unwrap()
        .call(&mut store, 3)
        .unwrap_err();
    let source = error.source().unwrap();
    assert_eq!(source.to_string(), "No such file or directory (os error 2)");
    assert!(source.downcast_ref::<std::io::Error>().is_some());
    assert_eq!(
        error.downcast_ref::<duet::Trap>().unwrap().code(),
        TrapCode::HostError
    );
}

#[test]
fn a_trap_that_a_wrapped_host_function_passes_on_unwinds_as_itself() {
    use duet::TrapCode;
    let engine = Engine::default();
    let module = Module::new(
        &engine,
        r#"(module
            (import "host" "reenter" (func $reenter (result i32)))
            (func (export "boom") (result i32) unreachable)
            (func (export "outer") (result i32) call $reenter))"#,
    )
    .unwrap();
    let mut linker = Linker::<Option<Instance>>::new(&engine);
    linker
        .func_wrap(
            "host",
            "reenter",
            |mut caller: Caller<'_, Option<Instance>>| -> Result<i32, duet::Error> {
                let instance = caller.data().expect("set before the call");
                let boom = instance.get_typed_func::<(), i32>(&mut caller, "boom")?;
                boom.call(&mut caller, ())
            },
        )
        .unwrap();
    let mut store = Store::new(&engine, None);
    let instance = linker.instantiate(&mut store, &module).unwrap();
    *store.data_mut() = Some(instance);
    let outer = instance
        .get_typed_func::<(), i32>(&mut store, "outer")
        .unwrap();
    let error = outer.call(&mut store, ()).unwrap_err();
    let trap = error.downcast_ref::<duet::Trap>().expect("a trap");
    assert_eq!(trap.code(), TrapCode::UnreachableCodeReached);
    assert_eq!(trap.frames().len(), 2, "{trap}");
    // A missing export and a wrong type are errors, not panics.
    assert!(
        instance
            .get_typed_func::<(), i32>(&mut store, "missing")
            .unwrap_err()
            .to_string()
            .contains("failed to find function export `missing`")
    );
    assert!(
        instance
            .get_typed_func::<i32, i32>(&mut store, "boom")
            .is_err()
    );
}

#[test]
fn one_instance_pre_instantiates_in_many_stores_on_many_threads() {
    use duet::InstancePre;
    let engine = Engine::default();
    let module = Module::new(
        &engine,
        r#"(module
            (import "host" "id" (func $id (result i64)))
            (memory (export "memory") 1)
            (data (i32.const 0) "\2a")
            (func (export "get") (result i64)
              (i64.add (call $id) (i64.load8_u (i32.const 0))))
            (func (export "set") (param i32) (i32.store8 (i32.const 0) (local.get 0))))"#,
    )
    .unwrap();
    let mut linker = Linker::<i64>::new(&engine);
    linker
        .func_wrap("host", "id", |caller: Caller<'_, i64>| *caller.data())
        .unwrap();
    let pre: InstancePre<i64> = linker.instantiate_pre(&module).unwrap();
    assert_send::<InstancePre<i64>>();
    assert_sync::<InstancePre<i64>>();
    let threads: Vec<_> = (0..4i64)
        .map(|thread| {
            let pre = pre.clone();
            let engine = engine.clone();
            std::thread::spawn(move || {
                for round in 0..3i64 {
                    let id = thread * 1000 + round * 10;
                    let mut store = Store::new(&engine, id);
                    let instance = pre.instantiate(&mut store).unwrap();
                    let get = instance
                        .get_typed_func::<(), i64>(&mut store, "get")
                        .unwrap();
                    let set = instance
                        .get_typed_func::<i32, ()>(&mut store, "set")
                        .unwrap();
                    // Each store starts from the data segment, whatever
                    // the others wrote.
                    assert_eq!(get.call(&mut store, ()).unwrap(), id + 42);
                    set.call(&mut store, 1).unwrap();
                    assert_eq!(get.call(&mut store, ()).unwrap(), id + 1);
                }
            })
        })
        .collect();
    for thread in threads {
        thread.join().unwrap();
    }
    assert!(std::ptr::eq(pre.module(), pre.module()));
}

#[test]
fn instance_pre_reports_missing_imports_and_foreign_definitions() {
    let engine = Engine::default();
    let module = Module::new(
        &engine,
        r#"(module (import "env" "memory" (memory 1)) (import "env" "f" (func)))"#,
    )
    .unwrap();
    let mut linker = Linker::<()>::new(&engine);
    linker.func_wrap("env", "f", || {}).unwrap();
    let error = linker.instantiate_pre(&module).unwrap_err();
    assert_eq!(
        error.to_string(),
        "unknown import: `env`.`memory` has not been defined"
    );
    // A memory of one store: the pre instantiates there, and is refused
    // elsewhere with an error.
    let mut store = Store::new(&engine, ());
    let memory = Memory::new(&mut store, memory_type(1)).unwrap();
    linker.define("env", "memory", memory).unwrap();
    let pre = linker.instantiate_pre(&module).unwrap();
    pre.instantiate(&mut store).unwrap();
    let mut other = Store::new(&engine, ());
    let error = pre.instantiate(&mut other).unwrap_err();
    assert!(error.to_string().contains("another store"), "{error}");
    // A module of another engine.
    let other_engine = Engine::default();
    let foreign = Module::new(&other_engine, "(module)").unwrap();
    assert!(linker.instantiate_pre(&foreign).is_err());
}
