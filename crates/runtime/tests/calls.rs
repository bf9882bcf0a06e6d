//! Calls across the host/wasm boundary through the fast paths: every
//! value type through `TypedFunc::call` and `Func::call` (results checked
//! against Rust's own arithmetic), host functions with many parameters,
//! traps through the typed path, and stores on several threads sharing one
//! engine and module.

use duet::{
    Caller, Compiler, Config, Engine, ExternRef, Func, Instance, InstanceAllocationStrategy,
    Linker, Module, Store, Trap, TrapCode, Val,
};

fn engines() -> Vec<Engine> {
    [Compiler::Winch, Compiler::Cranelift]
        .into_iter()
        .map(|c| Engine::new(Config::new().compiler(c)).unwrap())
        .collect()
}

/// Both tiers with the pooling allocator.
fn pooled_engines() -> Vec<Engine> {
    [Compiler::Winch, Compiler::Cranelift]
        .into_iter()
        .map(|c| {
            let mut config = Config::new();
            config
                .compiler(c)
                .allocation_strategy(InstanceAllocationStrategy::Pooling(Default::default()));
            Engine::new(&config).unwrap()
        })
        .collect()
}

/// One function per value type that computes something from its
/// arguments, so that a value read from the wrong slot or register shows.
const EVERY_TYPE: &str = r#"(module
  (func (export "i32") (param i32 i32) (result i32) (i32.sub (local.get 0) (local.get 1)))
  (func (export "i64") (param i64 i64) (result i64) (i64.mul (local.get 0) (local.get 1)))
  (func (export "f32") (param f32 f32) (result f32) (f32.div (local.get 0) (local.get 1)))
  (func (export "f64") (param f64 f64) (result f64) (f64.sub (local.get 0) (local.get 1)))
  (func (export "v128") (param v128 v128) (result v128) (i32x4.add (local.get 0) (local.get 1)))
  (func (export "funcref") (param funcref) (result funcref) (local.get 0))
  (func (export "externref") (param externref) (result externref) (local.get 0))
  (func (export "mixed") (param i32 i64 f32 f64 v128) (result f64 i64 i32 v128 f32)
    (local.get 3) (local.get 1) (local.get 0) (local.get 4) (local.get 2))
  (func (export "six") (param i32 i32 i32 i32 i32 i32) (result i32 i32 i32 i32 i32 i32)
    (local.get 5) (local.get 4) (local.get 3) (local.get 2) (local.get 1) (local.get 0))
  ;; More values than `Func::call` keeps on the stack: a weighted sum.
  (func (export "twenty")
    (param i64 i64 i64 i64 i64 i64 i64 i64 i64 i64 i64 i64 i64 i64 i64 i64 i64 i64 i64 i64)
    (result i64) (local $i i32) (local $s i64)
    (local.set $s
      (i64.add (i64.mul (local.get 0) (i64.const 1)) (i64.mul (local.get 19) (i64.const 20))))
    (i64.add (local.get $s) (i64.mul (local.get 10) (i64.const 11)))))"#;

/// `i32x4.add` of two `v128`s as `u128`s, lane by lane.
fn i32x4_add(a: u128, b: u128) -> u128 {
    (0..4).fold(0u128, |acc, lane| {
        let x = (a >> (32 * lane)) as u32;
        let y = (b >> (32 * lane)) as u32;
        acc | (u128::from(x.wrapping_add(y)) << (32 * lane))
    })
}

#[test]
fn every_value_type_goes_through_typed_and_untyped_calls() {
    for engine in engines() {
        let module = Module::new(&engine, EVERY_TYPE).unwrap();
        let mut store = Store::new(&engine, ());
        let instance = Instance::new(&mut store, &module, &[]).unwrap();
        let typed =
            |store: &mut Store<()>, name| instance.get_func(&*store, name).unwrap().unwrap();

        let f = typed(&mut store, "i32")
            .typed::<(i32, i32), i32>(&store)
            .unwrap();
        assert_eq!(f.call(&mut store, (5, 12)).unwrap(), -7);
        assert_eq!(f.call(&mut store, (i32::MIN, 1)).unwrap(), i32::MAX);
        let f = typed(&mut store, "i64")
            .typed::<(i64, i64), i64>(&store)
            .unwrap();
        let (a, b) = (0x1234_5678_9abc_i64, -77);
        assert_eq!(f.call(&mut store, (a, b)).unwrap(), a.wrapping_mul(b));
        let f = typed(&mut store, "f32")
            .typed::<(f32, f32), f32>(&store)
            .unwrap();
        assert_eq!(f.call(&mut store, (1.0, 3.0)).unwrap(), 1.0f32 / 3.0);
        assert!(f.call(&mut store, (0.0, 0.0)).unwrap().is_nan());
        let f = typed(&mut store, "f64")
            .typed::<(f64, f64), f64>(&store)
            .unwrap();
        assert_eq!(f.call(&mut store, (0.1, 0.3)).unwrap(), 0.1f64 - 0.3);
        let f = typed(&mut store, "v128")
            .typed::<(u128, u128), u128>(&store)
            .unwrap();
        let (a, b) = (
            0xffff_ffff_0000_0001_7fff_ffff_1234_5678u128,
            0x1_0000_0002_0000_0001_0000_0003,
        );
        assert_eq!(f.call(&mut store, (a, b)).unwrap(), i32x4_add(a, b));

        // References: a function of the store comes back as itself, an
        // extern reference as itself, null as null.
        let add = Func::wrap(&mut store, |a: i32, b: i32| a.wrapping_add(b));
        let f = typed(&mut store, "funcref")
            .typed::<Option<Func>, Option<Func>>(&store)
            .unwrap();
        assert_eq!(f.call(&mut store, Some(add)).unwrap(), Some(add));
        assert_eq!(f.call(&mut store, None).unwrap(), None);
        let run = typed(&mut store, "i32");
        assert_eq!(f.call(&mut store, Some(run)).unwrap(), Some(run));
        let r = ExternRef::new(&mut store, 17u64);
        let f = typed(&mut store, "externref")
            .typed::<Option<ExternRef>, Option<ExternRef>>(&store)
            .unwrap();
        let back = f.call(&mut store, Some(r)).unwrap().unwrap();
        assert_eq!(back.data(&store).unwrap().downcast_ref::<u64>(), Some(&17));

        // Several results, in order, typed and untyped.
        let v = 0x0102_0304_0506_0708_090a_0b0c_0d0e_0f10u128;
        let f = typed(&mut store, "mixed")
            .typed::<(i32, i64, f32, f64, u128), (f64, i64, i32, u128, f32)>(&store)
            .unwrap();
        assert_eq!(
            f.call(&mut store, (-3, i64::MIN, 2.5, -0.75, v)).unwrap(),
            (-0.75, i64::MIN, -3, v, 2.5)
        );
        let mut results = [Val::I32(0); 5];
        f.func()
            .call(
                &mut store,
                &[
                    Val::I32(-3),
                    Val::I64(i64::MIN),
                    Val::F32(2.5f32.to_bits()),
                    Val::F64((-0.75f64).to_bits()),
                    Val::V128(v),
                ],
                &mut results,
            )
            .unwrap();
        assert_eq!(results[0].f64(), Some(-0.75));
        assert_eq!(results[1].i64(), Some(i64::MIN));
        assert_eq!(results[2].i32(), Some(-3));
        assert_eq!(results[3].v128(), Some(v));
        assert_eq!(results[4].f32(), Some(2.5));
        let mut one_i64 = [Val::I64(0)];
        let f = typed(&mut store, "six")
            .typed::<(i32, i32, i32, i32, i32, i32), (i32, i32, i32, i32, i32, i32)>(&store)
            .unwrap();
        assert_eq!(
            f.call(&mut store, (1, 2, 3, 4, 5, 6)).unwrap(),
            (6, 5, 4, 3, 2, 1)
        );

        // Twenty arguments: the untyped path's slots on the heap.
        let twenty = typed(&mut store, "twenty");
        let args: Vec<Val> = (1..=20).map(|k| Val::I64(k * 1000)).collect();
        twenty.call(&mut store, &args, &mut one_i64).unwrap();
        assert_eq!(one_i64[0].i64(), Some(1000 + 20 * 20_000 + 11 * 11_000));

        // The untyped path still checks what it is given.
        let mut one = [Val::I32(0)];
        let error = run
            .call(&mut store, &[Val::I32(1), Val::I64(2)], &mut one)
            .unwrap_err();
        assert_eq!(
            error.to_string(),
            "argument 1: expected a value of type i32, got i64"
        );
        assert!(run.call(&mut store, &[Val::I32(1)], &mut one).is_err());
        assert!(
            run.call(&mut store, &[Val::I32(1), Val::I32(2)], &mut [])
                .is_err()
        );
        run.call(&mut store, &[Val::I32(9), Val::I32(2)], &mut one)
            .unwrap();
        assert_eq!(one[0].i32(), Some(7));
    }
}

#[test]
fn host_functions_receive_many_parameters_of_every_type_from_wasm() {
    for engine in engines() {
        let mut linker: Linker<Vec<String>> = Linker::new(&engine);
        // Ten parameters: more than the argument registers of either
        // class, so some come on the stack.
        linker
            .func_wrap(
                "host",
                "ten",
                |mut caller: Caller<'_, Vec<String>>,
                 a: i32,
                 b: i64,
                 c: f32,
                 d: f64,
                 e: i32,
                 f: i64,
                 g: f32,
                 h: f64,
                 i: u128,
                 j: i32|
                 -> (i64, f64) {
                    caller
                        .data_mut()
                        .push(format!("{a} {b} {c} {d} {e} {f} {g} {h} {i:#x} {j}"));
                    let ints =
                        i64::from(a) + b + i64::from(e) + f + i64::from(j) + (i as u64 as i64);
                    (ints, f64::from(c) + d + f64::from(g) + h)
                },
            )
            .unwrap();
        let module = Module::new(
            &engine,
            r#"(module
              (import "host" "ten" (func $ten (param i32 i64 f32 f64 i32 i64 f32 f64 v128 i32) (result i64 f64)))
              (func (export "go") (result i64 f64)
                (call $ten (i32.const -1) (i64.const 1000000000000) (f32.const 0.5) (f64.const 0.25)
                           (i32.const 7) (i64.const -8) (f32.const 1.5) (f64.const 2.25)
                           (v128.const i64x2 5 0) (i32.const 100))))"#,
        )
        .unwrap();
        let mut store = Store::new(&engine, Vec::new());
        let instance = linker.instantiate(&mut store, &module).unwrap();
        let go = instance
            .get_typed_func::<(), (i64, f64)>(&mut store, "go")
            .unwrap();
        let expected_ints = -1 + 1_000_000_000_000 + 7 - 8 + 100 + 5;
        assert_eq!(
            go.call(&mut store, ()).unwrap(),
            (expected_ints, 0.5 + 0.25 + 1.5 + 2.25)
        );
        assert_eq!(
            store.data().as_slice(),
            ["-1 1000000000000 0.5 0.25 7 -8 1.5 2.25 0x5 100"]
        );
    }
}

/// A closure that adds `k`: every closure it returns has the same type.
fn adder(k: i32) -> impl Fn(i32) -> i32 + Send + Sync + 'static {
    move |x| x.wrapping_add(k)
}

/// The shim a host trampoline calls is made per closure type; closures of
/// one type, as imports of one instance, through `Func::wrap` and the
/// linker, must each still run with their own captures.
#[test]
fn host_closures_of_one_type_keep_their_own_captures() {
    for engine in engines() {
        let mut linker: Linker<()> = Linker::new(&engine);
        linker.func_wrap("host", "a", adder(1)).unwrap();
        linker.func_wrap("host", "b", adder(1000)).unwrap();
        let mut store = Store::new(&engine, ());
        let c = Func::wrap(&mut store, adder(-7));
        linker.define("host", "c", c).unwrap();
        let module = Module::new(
            &engine,
            r#"(module
              (import "host" "a" (func $a (param i32) (result i32)))
              (import "host" "b" (func $b (param i32) (result i32)))
              (import "host" "c" (func $c (param i32) (result i32)))
              (func (export "go") (param i32) (result i32 i32 i32)
                (call $a (local.get 0)) (call $b (local.get 0)) (call $c (local.get 0))))"#,
        )
        .unwrap();
        let instance = linker.instantiate(&mut store, &module).unwrap();
        let go = instance
            .get_typed_func::<i32, (i32, i32, i32)>(&mut store, "go")
            .unwrap();
        assert_eq!(go.call(&mut store, 5).unwrap(), (6, 1005, -2));
        // The host side calls the same closures.
        let mut results = [Val::I32(0)];
        c.call(&mut store, &[Val::I32(5)], &mut results).unwrap();
        assert_eq!(results[0].i32(), Some(-2));
    }
}

#[test]
fn traps_through_the_typed_path_keep_their_code_and_backtrace() {
    for engine in engines() {
        let module = Module::new(
            &engine,
            r#"(module
              (func $inner (export "inner") (param i32) (result i32)
                (i32.div_s (i32.const 1) (local.get 0)))
              (func $outer (export "outer") (param i32) (result i32)
                (i32.add (call $inner (local.get 0)) (i32.const 1))))"#,
        )
        .unwrap();
        let mut store = Store::new(&engine, ());
        let instance = Instance::new(&mut store, &module, &[]).unwrap();
        let outer = instance
            .get_typed_func::<i32, i32>(&mut store, "outer")
            .unwrap();
        for _ in 0..3 {
            let error = outer.call(&mut store, 0).unwrap_err();
            let trap = error.downcast_ref::<Trap>().expect("a trap");
            assert_eq!(trap.code(), TrapCode::IntegerDivisionByZero);
            let names: Vec<_> = trap.frames().iter().map(|f| f.func_name()).collect();
            assert_eq!(names, [Some("inner"), Some("outer")]);
            // The store is usable after the trap.
            assert_eq!(outer.call(&mut store, 1).unwrap(), 2);
        }
    }
}

#[test]
fn stores_on_several_threads_share_one_engine_and_module() {
    for engine in engines().into_iter().chain(pooled_engines()) {
        let module = Module::new(
            &engine,
            r#"(module
              (import "host" "twice" (func $twice (param i32) (result i32)))
              (memory 1)
              (data (i32.const 0) "\05")
              (global $n (mut i32) (i32.const 0))
              (func (export "bump") (param i32) (result i32)
                (global.set $n (i32.add (global.get $n) (call $twice (local.get 0))))
                (i32.store8 (i32.const 0) (i32.add (i32.load8_u (i32.const 0)) (i32.const 1)))
                (i32.add (global.get $n) (i32.load8_u (i32.const 0)))))"#,
        )
        .unwrap();
        let mut linker: Linker<u32> = Linker::new(&engine);
        linker
            .func_wrap("host", "twice", |mut caller: Caller<'_, u32>, x: i32| {
                *caller.data_mut() += 1;
                x * 2
            })
            .unwrap();
        let pre = linker.instantiate_pre(&module).unwrap();
        let threads: Vec<_> = (0..4)
            .map(|t| {
                let (engine, pre) = (engine.clone(), pre.clone());
                std::thread::spawn(move || {
                    for _ in 0..50 {
                        let mut store = Store::new(&engine, 0u32);
                        let instance = pre.instantiate(&mut store).unwrap();
                        let bump = instance
                            .get_typed_func::<i32, i32>(&mut store, "bump")
                            .unwrap();
                        // n = 2t after one call, 4t after two; the byte
                        // counts 5, 6, 7 in each fresh instance.
                        assert_eq!(bump.call(&mut store, t).unwrap(), 2 * t + 6);
                        assert_eq!(bump.call(&mut store, t).unwrap(), 4 * t + 7);
                        assert_eq!(*store.data(), 2);
                    }
                })
            })
            .collect();
        for thread in threads {
            thread.join().unwrap();
        }
    }
}
