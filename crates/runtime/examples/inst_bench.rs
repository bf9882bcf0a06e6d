//! Instantiation and call overhead, measured the way `anchor-bench inst`
//! measures Wasmtime's (`../shared/tools/anchor-bench`), plus the cost of a
//! call from wasm to a host function, which `anchor-bench` does not measure.
//!
//! ```text
//! cargo run --release -p duet --example inst_bench -- winch|cranelift N FILE [EXPORT] [pooling]
//! ```
//!
//! FILE has no imports and exports EXPORT (default `run`) of type
//! `[] -> [i32]`; `examples/small.wat` is the module the figures in
//! `docs/benchmarks.md` use. Printed, one figure per line:
//!
//! * `instantiate+call_us`: per fresh store, `InstancePre::instantiate`,
//!   `get_typed_func` and one call, averaged over N;
//! * `call_ns`: one `TypedFunc::call` of EXPORT, averaged over 100 N
//!   calls in one store; `func_call_ns`: the same through the untyped
//!   `Func::call`;
//! * `host_call_ns`: one call from wasm to a `Func::wrap` host function
//!   `(i32, i32) -> i32`, averaged over a loop of 100 N calls in wasm (the
//!   loop's own few instructions included);
//! * `compile+instantiate+call_us`: all of the above from the module's
//!   bytes, averaged over N / 10.
//!
//! With `pooling`, the engine allocates instances from a pool
//! ([`InstanceAllocationStrategy::Pooling`]) with the default limits.

use duet::{
    Compiler, Config, Engine, InstanceAllocationStrategy, Linker, Module, PoolingAllocationConfig,
    Store, Val,
};
use std::time::Instant;

/// A loop that calls the imported `host.add` `$n` times.
const HOST_CALLS: &str = r#"(module
  (import "host" "add" (func $add (param i32 i32) (result i32)))
  (func (export "loop") (param $n i32) (result i32) (local $acc i32)
    (block $done
      (loop $next
        (br_if $done (i32.eqz (local.get $n)))
        (local.set $acc (call $add (local.get $acc) (local.get $n)))
        (local.set $n (i32.sub (local.get $n) (i32.const 1)))
        (br $next)))
    (local.get $acc)))"#;

fn main() -> duet::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let usage = "usage: inst_bench winch|cranelift N FILE [EXPORT] [pooling]";
    let (Some(compiler), Some(n), Some(file)) = (args.get(1), args.get(2), args.get(3)) else {
        return Err(duet::Error::msg(usage));
    };
    let compiler = match compiler.as_str() {
        "winch" => Compiler::Winch,
        "cranelift" => Compiler::Cranelift,
        _ => return Err(duet::Error::msg(usage)),
    };
    let n: usize = n.parse()?;
    let export = args.get(4).map_or("run", String::as_str);
    let pooling = args.get(5).is_some_and(|s| s == "pooling");
    let name = format!("duet {}{}", args[1], if pooling { "+pooling" } else { "" });

    let mut config = Config::new();
    config.compiler(compiler);
    if pooling {
        config.allocation_strategy(InstanceAllocationStrategy::Pooling(
            PoolingAllocationConfig::default(),
        ));
    }
    let engine = Engine::new(&config)?;
    let bytes = std::fs::read(file)?;
    let module = Module::new(&engine, &bytes)?;
    let linker: Linker<()> = Linker::new(&engine);
    let pre = linker.instantiate_pre(&module)?;

    let start = Instant::now();
    for _ in 0..n {
        let mut store = Store::new(&engine, ());
        let instance = pre.instantiate(&mut store)?;
        let run = instance.get_typed_func::<(), i32>(&mut store, export)?;
        run.call(&mut store, ())?;
    }
    let instantiate = start.elapsed().as_secs_f64() / n as f64;

    let mut store = Store::new(&engine, ());
    let instance = pre.instantiate(&mut store)?;
    let run = instance.get_typed_func::<(), i32>(&mut store, export)?;
    let calls = n * 100;
    let start = Instant::now();
    for _ in 0..calls {
        run.call(&mut store, ())?;
    }
    let call = start.elapsed().as_secs_f64() / calls as f64;
    let func = run.func();
    let mut results = [Val::I32(0)];
    let start = Instant::now();
    for _ in 0..calls {
        func.call(&mut store, &[], &mut results)?;
    }
    let func_call = start.elapsed().as_secs_f64() / calls as f64;

    let host_module = Module::new(&engine, HOST_CALLS)?;
    let mut host_linker: Linker<()> = Linker::new(&engine);
    host_linker.func_wrap("host", "add", |a: i32, b: i32| a.wrapping_add(b))?;
    let mut store = Store::new(&engine, ());
    let instance = host_linker.instantiate(&mut store, &host_module)?;
    let host_loop = instance.get_typed_func::<i32, i32>(&mut store, "loop")?;
    let count = i32::try_from(calls)?;
    let start = Instant::now();
    let sum = host_loop.call(&mut store, count)?;
    let host_call = start.elapsed().as_secs_f64() / calls as f64;
    let expected = (1..=count).fold(0i32, |acc, k| acc.wrapping_add(k));
    assert_eq!(sum, expected, "the host function's results reach wasm");

    let cold_n = (n / 10).max(1);
    let start = Instant::now();
    for _ in 0..cold_n {
        let module = Module::new(&engine, &bytes)?;
        let pre = linker.instantiate_pre(&module)?;
        let mut store = Store::new(&engine, ());
        let instance = pre.instantiate(&mut store)?;
        let run = instance.get_typed_func::<(), i32>(&mut store, export)?;
        run.call(&mut store, ())?;
    }
    let cold = start.elapsed().as_secs_f64() / cold_n as f64;

    println!("{name} compile+instantiate+call_us={:.1}", cold * 1e6);
    println!(
        "{name} instantiate+call_us={:.2} call_ns={:.1} func_call_ns={:.1} host_call_ns={:.1}",
        instantiate * 1e6,
        call * 1e9,
        func_call * 1e9,
        host_call * 1e9
    );
    Ok(())
}
