//! Fuel metering and epoch interruption under both compilers
//! (`duet_environ::metering`): endless loops and endless recursion through
//! calls are stopped by fuel and by the epoch deadline, fuel counts are
//! exact on programs counted by hand from the cost model, the deadline
//! callback moves the deadline or fails, host functions see and change the
//! fuel, and after every stop the same store runs the next call. A stress
//! test runs stores on several threads while another advances the epoch.

use duet::{
    Caller, Compiler, Config, Engine, Error, Func, FuncType, Instance, Linker, Module, Store,
    TrapCode, UpdateDeadline, Val, ValType,
};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

const COMPILERS: [Compiler; 2] = [Compiler::Winch, Compiler::Cranelift];

fn engine(compiler: Compiler, fuel: bool, epochs: bool) -> Engine {
    let mut config = Config::new();
    config
        .compiler(compiler)
        .consume_fuel(fuel)
        .epoch_interruption(epochs);
    Engine::new(&config).unwrap()
}

fn func_type(params: &[ValType], results: &[ValType]) -> FuncType {
    FuncType {
        params: params.into(),
        results: results.into(),
    }
}

/// A store with `data` and an instance of `wat` in it.
fn instantiate<T>(engine: &Engine, wat: &str, data: T) -> (Store<T>, Instance) {
    let module = Module::new(engine, wat).unwrap();
    let mut store = Store::new(engine, data);
    let instance = Instance::new(&mut store, &module, &[]).unwrap();
    (store, instance)
}

/// Calls export `name` of `instance`, with one or no result.
fn call<T>(
    store: &mut Store<T>,
    instance: Instance,
    name: &str,
    args: &[Val],
) -> Result<Option<Val>, Error> {
    let func = instance.get_func(&*store, name).unwrap().expect("exported");
    let results = func.ty(&*store).unwrap().results.len();
    let mut out = vec![Val::I32(0); results];
    func.call(&mut *store, args, &mut out)?;
    Ok(out.first().copied())
}

/// The trap code of a failed call, and the names of its frames.
fn trapped(outcome: Result<Option<Val>, Error>) -> (TrapCode, Vec<String>) {
    match outcome.map_err(|e| e.downcast::<duet::Trap>()) {
        Err(Ok(trap)) => (
            trap.code(),
            trap.frames()
                .iter()
                .map(|f| f.func_name.clone().unwrap_or_default())
                .collect(),
        ),
        other => panic!("expected a trap, got {other:?}"),
    }
}

/// A module that never ends in two ways (`spin`: a loop; `recurse`: a
/// binary tree of calls as deep as its argument, with no loop anywhere),
/// `count` (counted by hand in [`fuel_counts_are_exact`]) and `add` to
/// show the store still works.
const PROGRAMS: &str = r#"(module
    (func $spin (export "spin") (loop br 0))
    (func $recurse (export "recurse") (param $depth i32)
        (if (local.get $depth) (then
            (call $recurse (i32.sub (local.get $depth) (i32.const 1)))
            (call $recurse (i32.sub (local.get $depth) (i32.const 1))))))
    (func $leaf (result i32) i32.const 7)
    (func (export "count") (param $n i32) (result i32)
        (local $i i32)
        loop
            local.get $i
            i32.const 1
            i32.add
            local.tee $i
            local.get $n
            i32.lt_u
            br_if 0
        end
        call $leaf
        local.get $i
        i32.add)
    (func (export "add") (param i32 i32) (result i32)
        (i32.add (local.get 0) (local.get 1))))"#;

/// `add(2, 3)` is 5: the store runs calls after whatever came before.
fn assert_store_works<T>(store: &mut Store<T>, instance: Instance) {
    assert_eq!(
        call(store, instance, "add", &[Val::I32(2), Val::I32(3)])
            .unwrap()
            .and_then(|v| v.i32()),
        Some(5)
    );
}

#[test]
fn fuel_stops_a_loop_and_recursion_and_the_store_runs_on_after_refuelling() {
    for compiler in COMPILERS {
        let engine = engine(compiler, true, false);
        let (mut store, instance) = instantiate(&engine, PROGRAMS, ());

        store.set_fuel(100_000).unwrap();
        let (code, frames) = trapped(call(&mut store, instance, "spin", &[]));
        assert_eq!(code, TrapCode::OutOfFuel, "{compiler:?}");
        assert_eq!(frames, ["spin"], "{compiler:?}: the trap is in the loop");
        assert_eq!(store.get_fuel().unwrap(), 0);

        // 2^40 calls, no loop: stopped at a function entry.
        store.set_fuel(100_000).unwrap();
        let (code, frames) = trapped(call(&mut store, instance, "recurse", &[Val::I32(40)]));
        assert_eq!(code, TrapCode::OutOfFuel, "{compiler:?}");
        assert!(
            frames.len() > 2 && frames.iter().all(|f| f == "recurse"),
            "{compiler:?}: {frames:?}"
        );

        // Out of fuel, even a call that needs little traps at once...
        let (code, _) = trapped(call(
            &mut store,
            instance,
            "add",
            &[Val::I32(1), Val::I32(1)],
        ));
        assert_eq!(code, TrapCode::OutOfFuel, "{compiler:?}");
        // ... and refuelled, the store runs on.
        store.set_fuel(1_000).unwrap();
        assert_store_works(&mut store, instance);
    }
}

#[test]
fn fuel_counts_are_exact() {
    // `count(n)`: the loop body is 7 operators (local.get, i32.const,
    // i32.add, local.tee, local.get, i32.lt_u, br_if), charged at the
    // `br_if`; after the loop, `call $leaf` (1, charged before the call),
    // the leaf's `i32.const` (1, charged at its `end`), then `local.get`
    // and `i32.add` (2, charged at the function's `end`): 7n + 4.
    for compiler in COMPILERS {
        let engine = engine(compiler, true, false);
        let (mut store, instance) = instantiate(&engine, PROGRAMS, ());
        for n in [1, 2, 10, 1000] {
            store.set_fuel(1_000_000).unwrap();
            let result = call(&mut store, instance, "count", &[Val::I32(n)]).unwrap();
            assert_eq!(result.and_then(|v| v.i32()), Some(n + 7));
            assert_eq!(
                store.get_fuel().unwrap(),
                1_000_000 - (7 * n as u64 + 4),
                "{compiler:?}: count({n})"
            );
        }
        // The checks: with 7k fuel, k iterations pass their header check
        // and the next header finds the fuel exhausted.
        store.set_fuel(7 * 5).unwrap();
        let (code, _) = trapped(call(&mut store, instance, "count", &[Val::I32(100)]));
        assert_eq!(code, TrapCode::OutOfFuel);
        // `count(6)` needs 6 iterations (42 units); with 43 the call to
        // the leaf is paid and the leaf's entry check finds the fuel
        // exhausted...
        store.set_fuel(7 * 6 + 1).unwrap();
        let (code, frames) = trapped(call(&mut store, instance, "count", &[Val::I32(6)]));
        assert_eq!(
            (code, frames.len()),
            (TrapCode::OutOfFuel, 2),
            "{compiler:?}"
        );
        // ... with 44 the leaf runs, and the call ends 2 units in debt
        // (paid after the last check): a store may end a call a little
        // past its fuel, and then has none left.
        store.set_fuel(7 * 6 + 2).unwrap();
        let result = call(&mut store, instance, "count", &[Val::I32(6)]).unwrap();
        assert_eq!(result.and_then(|v| v.i32()), Some(13), "{compiler:?}");
        assert_eq!(store.get_fuel().unwrap(), 0);
    }
}

#[test]
fn fuel_is_off_unless_the_engine_consumes_it() {
    let engine = engine(Compiler::Winch, false, false);
    let mut store = Store::new(&engine, ());
    assert!(matches!(
        store.set_fuel(10).unwrap_err().downcast_ref(),
        Some(duet::ErrorKind::Config(_))
    ));
    assert!(matches!(
        store.get_fuel().unwrap_err().downcast_ref(),
        Some(duet::ErrorKind::Config(_))
    ));
}

#[test]
fn host_functions_see_the_fuel_charged_before_the_call_and_may_change_it() {
    // Before `call $host`: `i32.const 1` (1), `drop` (0), the call (1) = 2.
    // The host function sees the store 2 units down, gives it 500, and
    // after the call `i64.const` and the `end` cost 1 more.
    let wat = r#"(module
        (import "host" "fuel" (func $host (result i64)))
        (func (export "f") (result i64)
            i32.const 1
            drop
            call $host
            i64.const 0
            i64.add))"#;
    for compiler in COMPILERS {
        let engine = engine(compiler, true, false);
        let module = Module::new(&engine, wat).unwrap();
        let mut store = Store::new(&engine, ());
        let mut linker = Linker::new(&engine);
        linker
            .func_new(
                "host",
                "fuel",
                func_type(&[], &[ValType::I64]),
                |mut caller: Caller<'_, ()>, _, results| {
                    let seen = caller.get_fuel()?;
                    caller.set_fuel(500)?;
                    results[0] = Val::I64(seen as i64);
                    Ok(())
                },
            )
            .unwrap();
        let instance = linker.instantiate(&mut store, &module).unwrap();
        store.set_fuel(1_000).unwrap();
        let seen = call(&mut store, instance, "f", &[]).unwrap();
        assert_eq!(seen.and_then(|v| v.i64()), Some(998), "{compiler:?}");
        assert_eq!(store.get_fuel().unwrap(), 498, "{compiler:?}");
    }
}

#[test]
fn a_trap_for_fuel_inside_a_host_call_unwinds_as_itself() {
    // `outer` calls the host, which calls `spin` back through its caller's
    // export: out of fuel there, the host passes the trap on, and the
    // outer call fails with it, its backtrace through both wasm frames.
    let wat = r#"(module
        (import "host" "call_spin" (func $call_spin))
        (func $spin (export "spin") (loop br 0))
        (func $outer (export "outer") call $call_spin)
        (func (export "add") (param i32 i32) (result i32)
            (i32.add (local.get 0) (local.get 1))))"#;
    for compiler in COMPILERS {
        let engine = engine(compiler, true, false);
        let module = Module::new(&engine, wat).unwrap();
        let mut store = Store::new(&engine, ());
        let mut linker = Linker::new(&engine);
        linker
            .func_new(
                "host",
                "call_spin",
                func_type(&[], &[]),
                |mut caller: Caller<'_, ()>, _, _| {
                    let spin = caller.get_export("spin").unwrap().into_func().unwrap();
                    spin.call(&mut caller, &[], &mut [])
                },
            )
            .unwrap();
        let instance = linker.instantiate(&mut store, &module).unwrap();
        store.set_fuel(10_000).unwrap();
        let (code, frames) = trapped(call(&mut store, instance, "outer", &[]));
        assert_eq!(code, TrapCode::OutOfFuel, "{compiler:?}");
        assert_eq!(frames, ["spin", "outer"], "{compiler:?}");
        store.set_fuel(100).unwrap();
        assert_store_works(&mut store, instance);
    }
}

/// Advances `engine`'s epoch every `period` until `stop` is set.
fn ticker(engine: &Engine, period: Duration, stop: Arc<AtomicBool>) -> std::thread::JoinHandle<()> {
    let engine = engine.clone();
    std::thread::spawn(move || {
        while !stop.load(Ordering::Relaxed) {
            std::thread::sleep(period);
            engine.increment_epoch();
        }
    })
}

#[test]
fn the_epoch_deadline_stops_a_loop_and_recursion_and_the_store_runs_on() {
    for compiler in COMPILERS {
        let engine = engine(compiler, false, true);
        let (mut store, instance) = instantiate(&engine, PROGRAMS, ());
        store.set_epoch_deadline(1);
        let stop = Arc::new(AtomicBool::new(false));
        let ticks = ticker(&engine, Duration::from_millis(5), stop.clone());

        let started = Instant::now();
        let (code, frames) = trapped(call(&mut store, instance, "spin", &[]));
        assert_eq!(code, TrapCode::Interrupt, "{compiler:?}");
        assert_eq!(frames, ["spin"]);
        store.set_epoch_deadline(2);
        let (code, _) = trapped(call(&mut store, instance, "recurse", &[Val::I32(40)]));
        assert_eq!(code, TrapCode::Interrupt, "{compiler:?}");
        assert!(started.elapsed() < Duration::from_secs(10));

        // A deadline far away: the store runs on.
        store.set_epoch_deadline(1_000_000);
        assert_store_works(&mut store, instance);
        stop.store(true, Ordering::Relaxed);
        ticks.join().unwrap();
        // A deadline reached: a function stops at its first check (`count`:
        // its loop's header); one that has none (`add`: no loop, no call)
        // runs to its end (time bounded by its size).
        store.set_epoch_deadline(0);
        let (code, frames) = trapped(call(&mut store, instance, "count", &[Val::I32(0)]));
        assert_eq!((code, frames.len()), (TrapCode::Interrupt, 1));
        let sum = call(&mut store, instance, "add", &[Val::I32(1), Val::I32(1)]);
        assert_eq!(sum.unwrap().and_then(|v| v.i32()), Some(2), "{compiler:?}");
    }
}

#[test]
fn the_deadline_callback_extends_the_deadline_then_fails() {
    for compiler in COMPILERS {
        let engine = engine(compiler, false, true);
        let (mut store, instance) = instantiate(&engine, PROGRAMS, 0u32);
        store.set_epoch_deadline(1);
        store.epoch_deadline_callback(|mut caller| {
            let calls = caller.data_mut();
            *calls += 1;
            if *calls < 5 {
                Ok(UpdateDeadline::Continue(1))
            } else {
                Err(Error::msg("enough"))
            }
        });
        let stop = Arc::new(AtomicBool::new(false));
        let ticks = ticker(&engine, Duration::from_millis(2), stop.clone());
        let error = call(&mut store, instance, "spin", &[]).unwrap_err();
        stop.store(true, Ordering::Relaxed);
        ticks.join().unwrap();
        let trap = error.downcast_ref::<duet::Trap>().expect("a trap");
        assert_eq!(trap.code(), TrapCode::Interrupt, "{compiler:?}");
        assert_eq!(
            *store.data(),
            5,
            "{compiler:?}: four extensions, then the error"
        );
        let source = std::error::Error::source(trap).expect("the callback's error");
        assert_eq!(source.to_string(), "enough");

        // Back to trapping: a deadline at the current epoch stops at once.
        store.epoch_deadline_trap();
        store.set_epoch_deadline(0);
        let (code, _) = trapped(call(&mut store, instance, "spin", &[]));
        assert_eq!(code, TrapCode::Interrupt);
        assert_eq!(*store.data(), 5, "the callback is gone");
        store.set_epoch_deadline(100);
        assert_store_works(&mut store, instance);
    }
}

/// The callback runs once per deadline reached: a deadline it extends is
/// not due again until the epoch moves, also in a loop that makes no call
/// (where the optimizing tier keeps the deadline in a register, reloaded
/// after the callback).
#[test]
fn a_deadline_the_callback_extends_is_not_due_again_until_the_epoch_moves() {
    const LOOP: &str = r#"(module
        (func (export "iterate") (param $n i32) (result i32)
            (local $i i32)
            (loop
                (local.set $i (i32.add (local.get $i) (i32.const 1)))
                (br_if 0 (i32.lt_u (local.get $i) (local.get $n))))
            (local.get $i)))"#;
    for compiler in COMPILERS {
        let engine = engine(compiler, false, true);
        let (mut store, instance) = instantiate(&engine, LOOP, 0u32);
        // Due at the loop's first check; the epoch does not move after.
        store.set_epoch_deadline(0);
        store.epoch_deadline_callback(|mut caller| {
            *caller.data_mut() += 1;
            Ok(UpdateDeadline::Continue(1))
        });
        let result = call(&mut store, instance, "iterate", &[Val::I32(100_000)]).unwrap();
        assert_eq!(result.and_then(|v| v.i32()), Some(100_000));
        assert_eq!(*store.data(), 1, "{compiler:?}: the callback ran once");
    }
}

/// The epoch check before a call (`metering::calls_checked_for_epoch`:
/// none at a function's entry, one before the first call of each path
/// that calls) takes its slow path with values live in registers: the
/// call's operands, and in the baseline tier the values below them, which
/// the slow path saves and restores. With the deadline always due
/// (`Continue(0)`), the callback runs at every check, once per call that
/// recurses and never on the base case's path, and the result is the one
/// computed without epochs.
#[test]
fn checks_before_calls_run_once_per_recursing_call_and_keep_registers() {
    const RECURSIVE: &str = r#"(module
        (func $walk (export "walk") (param $n i32) (param $x f64) (param $k i64) (result f64)
            (if (result f64) (i32.lt_s (local.get $n) (i32.const 2))
                (then (f64.add (local.get $x) (f64.convert_i64_s (local.get $k))))
                (else
                    (f64.add
                        (f64.mul (local.get $x) (f64.const 0.5))
                        (f64.add
                            (f64.convert_i64_s (i64.mul (local.get $k) (i64.const 3)))
                            (call $walk
                                (i32.sub (local.get $n) (i32.const 1))
                                (f64.add (local.get $x) (f64.const 1.25))
                                (i64.add (local.get $k) (i64.const 7)))))))))"#;
    fn walk(n: i32, x: f64, k: i64) -> f64 {
        if n < 2 {
            x + k as f64
        } else {
            x * 0.5 + ((k * 3) as f64 + walk(n - 1, x + 1.25, k + 7))
        }
    }
    let args = [Val::I32(40), Val::F64(3.5f64.to_bits()), Val::I64(11)];
    let expected = walk(40, 3.5, 11);
    for compiler in COMPILERS {
        let engine = engine(compiler, false, true);
        let (mut store, instance) = instantiate(&engine, RECURSIVE, 0u32);
        store.set_epoch_deadline(1_000);
        let result = call(&mut store, instance, "walk", &args).unwrap();
        assert_eq!(result.and_then(|v| v.f64()), Some(expected), "{compiler:?}");
        store.set_epoch_deadline(0);
        store.epoch_deadline_callback(|mut caller| {
            *caller.data_mut() += 1;
            Ok(UpdateDeadline::Continue(0))
        });
        let result = call(&mut store, instance, "walk", &args).unwrap();
        assert_eq!(result.and_then(|v| v.f64()), Some(expected), "{compiler:?}");
        // Calls with n = 40 down to 2 recurse; the one with n = 1 does not.
        assert_eq!(*store.data(), 39, "{compiler:?}");
    }
}

#[test]
fn a_panicking_deadline_callback_is_resumed_in_the_host() {
    for compiler in COMPILERS {
        let engine = engine(compiler, false, true);
        let (mut store, instance) = instantiate(&engine, PROGRAMS, ());
        store.epoch_deadline_callback(|_| panic!("callback panicked"));
        let panic = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            let _ = call(&mut store, instance, "spin", &[]);
        }))
        .unwrap_err();
        assert_eq!(panic.downcast_ref::<&str>(), Some(&"callback panicked"));
        store.epoch_deadline_trap();
        store.set_epoch_deadline(100);
        assert_store_works(&mut store, instance);
    }
}

#[test]
fn fuel_and_epochs_together_stop_whichever_comes_first() {
    for compiler in COMPILERS {
        let engine = engine(compiler, true, true);
        let (mut store, instance) = instantiate(&engine, PROGRAMS, ());
        store.set_epoch_deadline(1_000);
        store.set_fuel(50_000).unwrap();
        let (code, _) = trapped(call(&mut store, instance, "spin", &[]));
        assert_eq!(code, TrapCode::OutOfFuel, "{compiler:?}");
        store.set_fuel(u64::MAX).unwrap();
        store.set_epoch_deadline(0);
        let (code, _) = trapped(call(&mut store, instance, "spin", &[]));
        assert_eq!(code, TrapCode::Interrupt, "{compiler:?}");
        store.set_epoch_deadline(1_000);
        assert_store_works(&mut store, instance);
    }
}

#[test]
fn many_stores_on_many_threads_with_the_epoch_advancing() {
    // Each thread runs its own store: a bounded computation (whose result
    // is checked) under a callback that keeps extending the deadline, then
    // an endless loop that the deadline ends. One thread advances the
    // epoch meanwhile.
    const THREADS: usize = 4;
    let wat = r#"(module
        (func (export "sum") (param $n i32) (result i32)
            (local $i i32) (local $acc i32)
            (loop
                (local.set $acc (i32.add (local.get $acc) (local.get $i)))
                (local.set $i (i32.add (local.get $i) (i32.const 1)))
                (br_if 0 (i32.lt_u (local.get $i) (local.get $n))))
            (local.get $acc))
        (func (export "spin") (loop br 0)))"#;
    for compiler in COMPILERS {
        let engine = engine(compiler, false, true);
        let module = Module::new(&engine, wat).unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let ticks = ticker(&engine, Duration::from_micros(200), stop.clone());
        let workers: Vec<_> = (0..THREADS)
            .map(|t| {
                let (engine, module) = (engine.clone(), module.clone());
                std::thread::spawn(move || {
                    for round in 0..5u32 {
                        let mut store = Store::new(&engine, 0u64);
                        store.set_epoch_deadline(1);
                        store.epoch_deadline_callback(|mut caller| {
                            *caller.data_mut() += 1;
                            Ok(UpdateDeadline::Continue(1))
                        });
                        let instance = Instance::new(&mut store, &module, &[]).unwrap();
                        let n = 3_000_000 + (t as i32) * 1000 + round as i32;
                        let sum = call(&mut store, instance, "sum", &[Val::I32(n)]).unwrap();
                        let expected = (0..n).fold(0i32, |acc, i| acc.wrapping_add(i));
                        assert_eq!(sum.and_then(|v| v.i32()), Some(expected));
                        store.epoch_deadline_trap();
                        store.set_epoch_deadline(1);
                        let (code, _) = trapped(call(&mut store, instance, "spin", &[]));
                        assert_eq!(code, TrapCode::Interrupt);
                    }
                })
            })
            .collect();
        for worker in workers {
            worker.join().expect("a worker failed");
        }
        stop.store(true, Ordering::Relaxed);
        ticks.join().unwrap();
    }
}

#[test]
fn a_host_function_made_with_func_new_is_not_charged() {
    // Host functions cost nothing beyond the `call` that reaches them.
    for compiler in COMPILERS {
        let engine = engine(compiler, true, false);
        let mut store = Store::new(&engine, ());
        let host = Func::new(&mut store, func_type(&[], &[]), |_, _, _| Ok(()));
        let module = Module::new(
            &engine,
            r#"(module (import "" "h" (func $h)) (func (export "f") call $h call $h))"#,
        )
        .unwrap();
        let instance = Instance::new(&mut store, &module, &[host.into()]).unwrap();
        store.set_fuel(10).unwrap();
        call(&mut store, instance, "f", &[]).unwrap();
        assert_eq!(store.get_fuel().unwrap(), 8, "{compiler:?}");
    }
}
