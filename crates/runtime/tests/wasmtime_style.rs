//! The acceptance test of issue 16's "API a Wasmtime user knows": a
//! program written as one writes it against Wasmtime 48 (an engine, a
//! module from text, a `func_wrap` host function that reads a string from
//! guest memory through its `Caller`, `instantiate_pre`, a typed call, a
//! trap downcast through `anyhow`), compiled against duet by renaming the
//! crate. Where a line has to differ from Wasmtime it says so, and
//! `docs/embedding.md` lists the difference.

use duet as wasmtime;

use std::sync::{Arc, Mutex};
use wasmtime::{Caller, Engine, Extern, InstancePre, Linker, Module, Store, Trap, TypedFunc};

const GUEST: &str = r#"(module
    (import "host" "log" (func $log (param i32 i32)))
    (import "host" "read_config" (func $read_config (result i32)))
    (memory (export "memory") 1)
    (data (i32.const 16) "hello from the guest")
    (func (export "add") (param i32 i32) (result i32)
      (i32.add (local.get 0) (local.get 1)))
    (func (export "greet")
      (call $log (i32.const 16) (i32.const 20)))
    (func (export "log_out_of_bounds")
      (call $log (i32.const 65530) (i32.const 100)))
    (func (export "config") (result i32) (call $read_config))
    (func $crash (export "crash") unreachable)
    (func (export "crash_deep") (call $crash)))"#;

/// The store's data: what the host function saw.
struct Host {
    logged: Arc<Mutex<Vec<String>>>,
}

/// The linker, as a Wasmtime embedder writes it.
fn linker(engine: &Engine) -> anyhow::Result<Linker<Host>> {
    let mut linker = Linker::new(engine);
    linker.func_wrap(
        "host",
        "log",
        |mut caller: Caller<'_, Host>, ptr: i32, len: i32| -> anyhow::Result<()> {
            let memory = match caller.get_export("memory") {
                Some(Extern::Memory(memory)) => memory,
                _ => anyhow::bail!("failed to find the guest's memory"),
            };
            let mut buffer = vec![0; len as usize];
            memory.read(&caller, ptr as usize, &mut buffer)?;
            let text = String::from_utf8(buffer)?;
            caller.data_mut().logged.lock().unwrap().push(text);
            Ok(())
        },
    )?;
    // `?` on an `io::Error` inside a host function.
    linker.func_wrap("host", "read_config", || -> anyhow::Result<i32> {
        let text = std::fs::read_to_string("/nonexistent/duet-wasmtime-style.toml")?;
        Ok(text.len() as i32)
    })?;
    Ok(linker)
}

fn run(pre: &InstancePre<Host>, logged: Arc<Mutex<Vec<String>>>) -> anyhow::Result<()> {
    let mut store = Store::new(pre.module().engine(), Host { logged });
    let instance = pre.instantiate(&mut store)?;

    let add = instance.get_typed_func::<(i32, i32), i32>(&mut store, "add")?;
    assert_eq!(add.call(&mut store, (1, 2))?, 3);
    assert_eq!(add.call(&mut store, (i32::MAX, 1))?, i32::MIN);

    let greet: TypedFunc<(), ()> = instance.get_typed_func(&mut store, "greet")?;
    greet.call(&mut store, ())?;
    Ok(())
}

/// A call that traps, passed on with `?` into an `anyhow::Error`.
fn crash(pre: &InstancePre<Host>, name: &str) -> anyhow::Result<()> {
    let mut store = Store::new(
        pre.module().engine(),
        Host {
            logged: Arc::default(),
        },
    );
    let instance = pre.instantiate(&mut store)?;
    let crash = instance.get_typed_func::<(), ()>(&mut store, name)?;
    crash.call(&mut store, ())?;
    Ok(())
}

#[test]
fn a_wasmtime_program_runs_against_duet() -> anyhow::Result<()> {
    let engine = Engine::default();
    let module = Module::new(&engine, GUEST)?;
    let linker = linker(&engine)?;
    let pre = linker.instantiate_pre(&module)?;

    // The host function really read the guest's string, in every store
    // the pre instantiated, on this thread and on others.
    let logged = Arc::new(Mutex::new(Vec::new()));
    run(&pre, logged.clone())?;
    let threads: Vec<_> = (0..2)
        .map(|_| {
            let (pre, logged) = (pre.clone(), logged.clone());
            std::thread::spawn(move || run(&pre, logged))
        })
        .collect();
    for thread in threads {
        thread.join().unwrap()?;
    }
    assert_eq!(*logged.lock().unwrap(), ["hello from the guest"; 3]);

    // A trap, downcast from the `anyhow::Error` it became.
    let err = crash(&pre, "crash").unwrap_err();
    let trap = err.downcast_ref::<Trap>().expect("the call trapped");
    // Wasmtime: `assert_eq!(*trap, Trap::UnreachableCodeReached)`; duet's
    // `Trap` carries the code and the frames (docs/embedding.md).
    assert_eq!(trap.code(), wasmtime::TrapCode::UnreachableCodeReached);
    assert_eq!(trap.frames().len(), 1);
    assert_eq!(trap.frames()[0].func_name(), Some("crash"));
    assert!(trap.frames()[0].module_offset().is_some());
    let err = crash(&pre, "crash_deep").unwrap_err();
    let trap = err.downcast::<Trap>()?;
    assert_eq!(trap.code(), wasmtime::TrapCode::UnreachableCodeReached);
    let names: Vec<_> = trap.frames().iter().map(|f| f.func_name()).collect();
    assert_eq!(names, [Some("crash"), None]);

    // A host function's `io::Error` (`?` in the closure) is the root cause
    // of the error the call returns, as in Wasmtime.
    let mut store = Store::new(
        &engine,
        Host {
            logged: Arc::default(),
        },
    );
    let instance = pre.instantiate(&mut store)?;
    let config = instance.get_typed_func::<(), i32>(&mut store, "config")?;
    let err = config.call(&mut store, ()).unwrap_err();
    let io = err
        .root_cause()
        .downcast_ref::<std::io::Error>()
        .expect("the host function's io::Error");
    assert_eq!(io.kind(), std::io::ErrorKind::NotFound);

    // `Memory::read` out of bounds inside the host function: an error the
    // guest's call returns, never a panic.
    let log = instance.get_typed_func::<(), ()>(&mut store, "log_out_of_bounds")?;
    let err = log.call(&mut store, ()).unwrap_err();
    assert!(
        err.root_cause()
            .downcast_ref::<wasmtime::MemoryAccessError>()
            .is_some(),
        "{err:?}"
    );
    // The store is still usable.
    let add = instance.get_typed_func::<(i32, i32), i32>(&mut store, "add")?;
    assert_eq!(add.call(&mut store, (40, 2))?, 42);

    // Every error of the API goes into `anyhow::Error` with `?`, and a
    // missing export is an error.
    let missing = instance.get_typed_func::<(), ()>(&mut store, "missing");
    assert!(missing.is_err());
    Ok(())
}
