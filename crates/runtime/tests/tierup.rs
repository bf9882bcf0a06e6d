//! Tier-up (`Compiler::Tiered`, `crates/runtime/src/tier.rs`): a hot
//! function's later calls run optimized code, by every path a call can
//! take (direct, `call_indirect`, from the host, from another instance);
//! traps and backtraces name the tier of each frame; fuel is charged the
//! same by both versions; a long loop in a function called once moves to
//! optimized code by on-stack replacement; many threads calling one module while its functions
//! tier up all get the right results.

use duet::{
    Compiler, Config, Engine, Error, Instance, Linker, Module, ProfilingStrategy, Store, Trap, Val,
};
use std::time::{Duration, Instant};

/// A tiered engine: `budget`, compiled before the call goes on or not.
fn tiered(budget: u32, synchronous: bool) -> Engine {
    let mut config = Config::new();
    config
        .compiler(Compiler::Tiered)
        .tier_up_budget(budget)
        .tier_up_synchronous(synchronous);
    Engine::new(&config).unwrap()
}

/// Calls export `name` with `args`; its one (`i32`) result, or the
/// error.
fn call(store: &mut Store<()>, instance: Instance, name: &str, args: &[i32]) -> Result<i32, Error> {
    let func = instance.get_func(&*store, name).unwrap().expect("exported");
    let args: Vec<Val> = args.iter().map(|&a| Val::I32(a)).collect();
    let mut out = [Val::I32(0)];
    func.call(&mut *store, &args, &mut out)?;
    Ok(out[0].i32().expect("an i32 result"))
}

/// The trap of a failed call.
fn trap_of(outcome: Result<i32, Error>) -> Trap {
    outcome
        .expect_err("the call traps")
        .downcast::<Trap>()
        .expect("a trap")
}

/// `check(n)` traps when `n` is 0 (`unreachable`) and is `n * 2 + 1`
/// otherwise; `loop_sum(n)` sums `0..n` in a loop; `via_table(i, n)`
/// calls `check` through a table; `recurse(n)` calls itself `n` deep.
const PROGRAM: &str = r#"(module
    (type $t (func (param i32) (result i32)))
    (table 1 funcref)
    (elem (i32.const 0) $check)
    (func $check (export "check") (type $t)
      (if (i32.eqz (local.get 0)) (then unreachable))
      (i32.add (i32.mul (local.get 0) (i32.const 2)) (i32.const 1)))
    (func (export "loop_sum") (param $n i32) (result i32)
      (local $i i32) (local $sum i32)
      (block $done
        (loop $next
          (br_if $done (i32.ge_u (local.get $i) (local.get $n)))
          (local.set $sum (i32.add (local.get $sum) (local.get $i)))
          (local.set $i (i32.add (local.get $i) (i32.const 1)))
          (br $next)))
      (local.get $sum))
    (func (export "via_table") (param i32) (result i32)
      (call_indirect (type $t) (local.get 0) (i32.const 0)))
    (func $recurse (export "recurse") (param i32) (result i32)
      (if (result i32) (i32.eqz (local.get 0))
        (then (call $check (i32.const 0)))
        (else (i32.add (call $recurse (i32.sub (local.get 0) (i32.const 1))) (i32.const 1))))))"#;

/// The function indices in `PROGRAM`.
const CHECK: u32 = 0;
const LOOP_SUM: u32 = 1;
const RECURSE: u32 = 3;

/// Before its budget is spent a function runs baseline code; the call
/// that spends it compiles it (synchronous mode), and every later call
/// runs optimized code, with the same results; the trap's innermost frame
/// says which version ran.
#[test]
fn a_hot_function_runs_optimized_code_from_the_call_after_its_budget() {
    let engine = tiered(5, true);
    let module = Module::new(&engine, PROGRAM).unwrap();
    let mut store = Store::new(&engine, ());
    let instance = Instance::new(&mut store, &module, &[]).unwrap();
    assert_eq!(module.compiler(), Compiler::Tiered);
    assert_eq!(module.num_optimized_functions(), 0);

    let trap = trap_of(call(&mut store, instance, "check", &[0]));
    assert_eq!(trap.frames()[0].compiler, Compiler::Winch);
    // A budget of 5 lets five calls by; the sixth (this one, and four
    // more) spends it and asks.
    for n in 1..=4 {
        assert_eq!(
            call(&mut store, instance, "check", &[n]).unwrap(),
            2 * n + 1
        );
        assert_eq!(module.tier_of(CHECK), Some(Compiler::Winch), "call {n}");
    }
    assert_eq!(call(&mut store, instance, "check", &[5]).unwrap(), 11);
    assert_eq!(module.tier_of(CHECK), Some(Compiler::Cranelift));
    assert_eq!(module.tier_of(LOOP_SUM), Some(Compiler::Winch));
    assert_eq!(module.num_optimized_functions(), 1);
    let trap = trap_of(call(&mut store, instance, "check", &[0]));
    assert_eq!(trap.code(), duet::TrapCode::UnreachableCodeReached);
    assert_eq!(trap.frames()[0].compiler, Compiler::Cranelift);
    assert_eq!(trap.frames()[0].func_index, CHECK);
    assert_eq!(call(&mut store, instance, "check", &[7]).unwrap(), 15);
    // Imports and out-of-range indices have no tier.
    assert_eq!(module.tier_of(99), None);
}

/// Every path reaches the installed code: through the table, and from a
/// recursion in baseline code (a direct call through the jump stub), and
/// a backtrace through both tiers names each frame's.
#[test]
fn indirect_and_direct_calls_reach_the_optimized_code_and_backtraces_mix_tiers() {
    let engine = tiered(2, true);
    let module = Module::new(&engine, PROGRAM).unwrap();
    let mut store = Store::new(&engine, ());
    let instance = Instance::new(&mut store, &module, &[]).unwrap();
    for n in 1..=4 {
        assert_eq!(
            call(&mut store, instance, "check", &[n]).unwrap(),
            2 * n + 1
        );
    }
    assert_eq!(module.tier_of(CHECK), Some(Compiler::Cranelift));
    // `via_table` is called once: still baseline; `check` through the
    // table is the optimized code.
    let trap = trap_of(call(&mut store, instance, "via_table", &[0]));
    let tiers: Vec<(u32, Compiler)> = trap
        .frames()
        .iter()
        .map(|f| (f.func_index, f.compiler))
        .collect();
    assert_eq!(tiers, [(CHECK, Compiler::Cranelift), (2, Compiler::Winch)]);
    // `recurse(2)`: three baseline frames of `recurse` (called once so
    // far), then the optimized `check`, reached by a direct call.
    let trap = trap_of(call(&mut store, instance, "recurse", &[2]));
    let tiers: Vec<(u32, Compiler)> = trap
        .frames()
        .iter()
        .map(|f| (f.func_index, f.compiler))
        .collect();
    assert_eq!(
        tiers,
        [
            (CHECK, Compiler::Cranelift),
            (RECURSE, Compiler::Winch),
            (RECURSE, Compiler::Winch),
            (RECURSE, Compiler::Winch)
        ]
    );
    // That call spent `recurse`'s budget of 2 on its way down: the
    // activations already running finished on baseline code, and the
    // next call runs the optimized code all the way.
    assert_eq!(module.tier_of(RECURSE), Some(Compiler::Cranelift));
    let trap = trap_of(call(&mut store, instance, "recurse", &[1]));
    assert_eq!(trap.frames().len(), 3);
    assert!(
        trap.frames()
            .iter()
            .all(|f| f.compiler == Compiler::Cranelift)
    );
}

/// A module importing a tiered module's function reaches its optimized
/// code once it is installed: the import record points at the stub.
#[test]
fn another_instance_reaches_the_optimized_code_through_its_import() {
    let engine = tiered(1, true);
    let exporter = Module::new(&engine, PROGRAM).unwrap();
    // Baseline code of its own, without counters: it stays on it.
    let importer = Module::new_with_compiler(
        &engine,
        r#"(module (import "p" "check" (func $check (param i32) (result i32)))
             (func (export "go") (param i32) (result i32) (call $check (local.get 0))))"#,
        Compiler::Winch,
    )
    .unwrap();
    let mut store = Store::new(&engine, ());
    let mut linker = Linker::new(&engine);
    let program = linker.instantiate(&mut store, &exporter).unwrap();
    linker.instance(&mut store, "p", program).unwrap();
    let user = linker.instantiate(&mut store, &importer).unwrap();
    assert_eq!(call(&mut store, user, "go", &[3]).unwrap(), 7);
    assert_eq!(call(&mut store, user, "go", &[4]).unwrap(), 9);
    assert_eq!(exporter.tier_of(CHECK), Some(Compiler::Cranelift));
    let trap = trap_of(call(&mut store, user, "go", &[0]));
    assert_eq!(trap.frames()[0].compiler, Compiler::Cranelift);
    assert_eq!(trap.frames()[1].compiler, Compiler::Winch);
}

/// In the background (the default mode), a function called in a loop is
/// optimized after a while and keeps returning the right results; a
/// long loop in a function called once gives the right result whether
/// its on-stack replacement entry arrives in time or not.
#[test]
fn background_compilation_installs_while_calls_go_on() {
    let engine = tiered(0, false);
    let module = Module::new(&engine, PROGRAM).unwrap();
    let mut store = Store::new(&engine, ());
    let instance = Instance::new(&mut store, &module, &[]).unwrap();
    let deadline = Instant::now() + Duration::from_secs(120);
    let mut n = 1;
    while module.tier_of(CHECK) != Some(Compiler::Cranelift) {
        assert!(Instant::now() < deadline, "not optimized after two minutes");
        assert_eq!(
            call(&mut store, instance, "check", &[n]).unwrap(),
            2 * n + 1
        );
        n = n % 1000 + 1;
        std::thread::yield_now();
    }
    let trap = trap_of(call(&mut store, instance, "check", &[0]));
    assert_eq!(trap.frames()[0].compiler, Compiler::Cranelift);
    let n = 3_000_000;
    let expected = (0..n).sum::<u64>() as u32 as i32;
    assert_eq!(
        call(&mut store, instance, "loop_sum", &[n as i32]).unwrap(),
        expected
    );
}

/// Fuel is charged the same by a function's two versions.
#[test]
fn both_versions_charge_the_same_fuel() {
    let mut config = Config::new();
    config
        .compiler(Compiler::Tiered)
        .tier_up_budget(0)
        .tier_up_synchronous(true)
        .consume_fuel(true);
    let engine = Engine::new(&config).unwrap();
    let module = Module::new(&engine, PROGRAM).unwrap();
    let mut store = Store::new(&engine, ());
    store.set_fuel(1_000_000).unwrap();
    let instance = Instance::new(&mut store, &module, &[]).unwrap();
    let mut charged = Vec::new();
    for _ in 0..3 {
        let before = store.get_fuel().unwrap();
        assert_eq!(
            call(&mut store, instance, "loop_sum", &[100]).unwrap(),
            4950
        );
        charged.push(before - store.get_fuel().unwrap());
    }
    // The first call ran baseline code and asked; the others the optimized.
    assert_eq!(module.tier_of(LOOP_SUM), Some(Compiler::Cranelift));
    assert!(
        charged.iter().all(|&c| c == charged[0] && c > 100),
        "{charged:?}"
    );
}

/// Eight threads, each with its own store and instance of one module,
/// call its functions while they tier up in the background, and every
/// result is right.
#[test]
fn many_threads_call_one_module_while_it_tiers_up() {
    let mut config = Config::new();
    config
        .compiler(Compiler::Tiered)
        .tier_up_budget(50)
        .tier_up_threads(2);
    let engine = Engine::new(&config).unwrap();
    let module = Module::new(&engine, PROGRAM).unwrap();
    std::thread::scope(|scope| {
        for thread in 0..8 {
            let (engine, module) = (&engine, &module);
            scope.spawn(move || {
                let mut store = Store::new(engine, ());
                let instance = Instance::new(&mut store, module, &[]).unwrap();
                for i in 0..2000 {
                    let n = (i * 7 + thread) % 50 + 1;
                    let expected = 2 * n + 1;
                    assert_eq!(call(&mut store, instance, "check", &[n]).unwrap(), expected);
                    assert_eq!(
                        call(&mut store, instance, "via_table", &[n]).unwrap(),
                        expected
                    );
                    let sum = (0..n).sum::<i32>();
                    assert_eq!(call(&mut store, instance, "loop_sum", &[n]).unwrap(), sum);
                    let trap = trap_of(call(&mut store, instance, "recurse", &[n % 5]));
                    assert_eq!(trap.frames()[0].func_index, CHECK);
                }
            });
        }
    });
    let deadline = Instant::now() + Duration::from_secs(120);
    while module.num_optimized_functions() < 4 {
        assert!(
            Instant::now() < deadline,
            "{} optimized",
            module.num_optimized_functions()
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// A tiered module cannot be precompiled: its code points at this
/// process's tier-up state.
#[test]
fn a_tiered_module_is_not_serialized() {
    let engine = tiered(10, false);
    let module = Module::new(&engine, PROGRAM).unwrap();
    let error = module.serialize().unwrap_err();
    assert!(
        matches!(error.downcast_ref::<duet::ErrorKind>(), Some(duet::ErrorKind::Config(m)) if m.contains("tiered")),
        "{error}"
    );
}

/// The perf map names both versions of a function.
#[test]
fn the_perf_map_names_the_optimized_version() {
    let mut config = Config::new();
    config
        .compiler(Compiler::Tiered)
        .tier_up_budget(0)
        .tier_up_synchronous(true)
        .profiling_strategy(ProfilingStrategy::PerfMap);
    let engine = Engine::new(&config).unwrap();
    let module = Module::new_named(&engine, PROGRAM, "tierup_perfmap").unwrap();
    let mut store = Store::new(&engine, ());
    let instance = Instance::new(&mut store, &module, &[]).unwrap();
    call(&mut store, instance, "check", &[1]).unwrap();
    assert_eq!(module.tier_of(CHECK), Some(Compiler::Cranelift));
    let map = std::fs::read_to_string(duet::profiling::perf_map_path()).unwrap();
    let named = |suffix: &str| {
        map.lines()
            .any(|line| line.ends_with(&format!("tierup_perfmap!check{suffix}")))
    };
    assert!(named(""), "the baseline version:\n{map}");
    assert!(named(" [optimized]"), "the optimized version:\n{map}");
}

/// A loop in a function called once moves to optimized code by on-stack
/// replacement after its budget of 10 iterations: `countdown(1000)` gets
/// the right sum of its 995 iterations, its locals of every class read
/// from the baseline frame; `divide(50)` traps in its loop when its
/// divisor reaches 0, in its first call, so from the optimized entry at
/// the loop (one frame: the baseline activation it left is not listed).
/// A loop with a value below it on the operand stack (no entry possible)
/// finishes on baseline code.
#[test]
fn a_long_loop_in_a_function_called_once_moves_to_optimized_code() {
    const LOOPS: &str = r#"(module
        (func $countdown (export "countdown") (param $n i32) (result i32)
          (local $sum i32) (local $wide i64) (local $v v128) (local $f f64)
          (local.set $v (v128.const i32x4 1 2 3 4))
          (local.set $f (f64.const 0.5))
          (loop $next
            (local.set $sum (i32.add (local.get $sum)
              (i32.div_u (i32.const 1000000) (local.get $n))))
            (local.set $wide (i64.add (local.get $wide) (i64.const 3)))
            (local.set $n (i32.sub (local.get $n) (i32.const 1)))
            (br_if $next (i32.ne (local.get $n) (i32.const 5))))
          (i32.add (local.get $sum)
            (i32.add (i32.wrap_i64 (local.get $wide))
              (i32.add (i32x4.extract_lane 3 (local.get $v))
                (i32.trunc_f64_s (f64.mul (local.get $f) (f64.const 4)))))))
        (func (export "divide") (param $n i32) (result i32)
          (local $sum i32)
          (loop $next
            (local.set $sum (i32.add (local.get $sum)
              (i32.div_u (i32.const 1000) (local.get $n))))
            (local.set $n (i32.sub (local.get $n) (i32.const 1)))
            (br $next))
          (local.get $sum))
        (func (export "below") (param $n i32) (result i32)
          (i32.add (i32.const 7)
            (block (result i32)
              (loop $next (result i32)
                (local.set $n (i32.sub (local.get $n) (i32.const 1)))
                (br_if $next (local.get $n))
                (local.get $n))))))"#;
    let engine = tiered(10, true);
    let module = Module::new(&engine, LOOPS).unwrap();
    let mut store = Store::new(&engine, ());
    let instance = Instance::new(&mut store, &module, &[]).unwrap();
    // 1000 iterations, down to 6: the sum of 1000000 / n for n = 1000..6,
    // 3 per iteration in $wide, 4 from the vector and 2 from the float.
    let expected: i32 = (6..=1000).map(|n| 1_000_000 / n).sum::<i32>() + 3 * 995 + 4 + 2;
    assert_eq!(
        call(&mut store, instance, "countdown", &[1000]).unwrap(),
        expected
    );
    assert_eq!(module.tier_of(0), Some(Compiler::Cranelift));
    let trap = trap_of(call(&mut store, instance, "divide", &[50]));
    assert_eq!(trap.code(), duet::TrapCode::IntegerDivisionByZero);
    assert_eq!(trap.frames().len(), 1, "{:?}", trap.frames());
    assert_eq!(trap.frames()[0].compiler, Compiler::Cranelift);
    assert_eq!(call(&mut store, instance, "below", &[100_000]).unwrap(), 7);
}
