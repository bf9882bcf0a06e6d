//! Native unwinding through JIT code, under each tier: a host function
//! that wasm called, three wasm frames deep, walks the native stack with
//! the system unwinder (`backtrace::trace`, which is libgcc's
//! `_Unwind_Backtrace` here) and must come out in the Rust function that
//! called into wasm, having passed the host trampoline, the three wasm
//! frames (innermost first) and the entry trampoline.
//!
//! ```text
//!   walk (host closure) ◄─ host_shim ◄─ host trampoline ◄─ f3 ◄─ f2 ◄─ f1
//!     ◄─ entry trampoline ◄─ call_wasm ◄─ Func::call ◄─ call_into_wasm (this file)
//! ```
//!
//! The same walk runs through a module loaded from its precompiled
//! artifact, from bytes and from a mapped file: there the unwind section
//! is the artifact's own, pc-relative and registered in place.
//!
//! Without the runtime's unwind tables the walk stops at the first JIT
//! frame (the unwinder finds no FDE for the host trampoline's return
//! address); `native_unwind_info(false)` checks exactly that, so the test
//! cannot pass by accident.

use std::ops::Range;

use duet::{Compiler, Config, Engine, FuncType, Linker, Module, Store, Val, ValType};

const WAT: &str = r#"(module $unwinding
  (import "host" "walk" (func $walk (param i32) (result i32)))
  (func $f1 (export "f1") (param i32) (result i32)
    (i32.add (call $f2 (local.get 0)) (i32.const 1)))
  (func $f2 (param i32) (result i32)
    (i32.add (call $f3 (local.get 0)) (i32.const 2)))
  (func $f3 (param i32) (result i32)
    (i32.add (call $walk (local.get 0)) (i32.const 3))))"#;

/// What the walk saw: each frame's instruction pointer and, resolved
/// afterwards, its symbol's name (for Rust frames).
struct Walk {
    frames: Vec<backtrace::Frame>,
}

/// Calls `f1(10)` and returns its result; the frame the walk must reach.
#[inline(never)]
fn call_into_wasm(store: &mut Store<Walk>, f1: duet::Func) -> i32 {
    let mut results = [Val::I32(0)];
    f1.call(store, &[Val::I32(10)], &mut results)
        .expect("f1 runs");
    // Used after the call, so the call is not a tail call.
    std::hint::black_box(results[0].i32().expect("an i32"))
}

/// How the module under test comes to be.
#[derive(Copy, Clone, Debug)]
enum Load {
    /// `Module::new`.
    Compile,
    /// Compiled, serialized, then `Module::deserialize`.
    Deserialize,
    /// Compiled, written to a file, then `Module::deserialize_file`.
    DeserializeFile,
}

/// The test module in `engine`, made as `load` says.
fn module(engine: &Engine, load: Load) -> Module {
    let compiled = Module::new(engine, WAT).unwrap();
    let bytes = || compiled.serialize().unwrap();
    match load {
        Load::Compile => compiled,
        // SAFETY: the bytes were just made by `serialize` of this engine.
        Load::Deserialize => unsafe { Module::deserialize(engine, bytes()) }.unwrap(),
        Load::DeserializeFile => {
            let path = std::env::temp_dir().join(format!(
                "duet-unwind-{}-{:?}.cwasm",
                std::process::id(),
                std::thread::current().id()
            ));
            std::fs::write(&path, bytes()).unwrap();
            // SAFETY: as above; the file is not changed while mapped (it
            // is removed, which leaves the mapping intact).
            let module = unsafe { Module::deserialize_file(engine, &path) }.unwrap();
            std::fs::remove_file(&path).unwrap();
            module
        }
    }
}

/// Runs the module under `config`, made as `load` says, and returns the
/// module and the walk.
fn walk_from_host_function(config: &Config, load: Load) -> (Module, Vec<backtrace::Frame>) {
    let engine = Engine::new(config).unwrap();
    let module = module(&engine, load);
    let mut linker: Linker<Walk> = Linker::new(&engine);
    let ty = FuncType {
        params: [ValType::I32].into(),
        results: [ValType::I32].into(),
    };
    linker
        .func_new("host", "walk", ty, |mut caller, params, results| {
            let mut frames = Vec::new();
            backtrace::trace(|frame| {
                frames.push(frame.clone());
                true
            });
            caller.data_mut().frames = frames;
            results[0] = Val::I32(params[0].i32().unwrap() * 2);
            Ok(())
        })
        .unwrap();
    let mut store = Store::new(&engine, Walk { frames: Vec::new() });
    let instance = linker.instantiate(&mut store, &module).unwrap();
    let f1 = instance.get_func(&store, "f1").unwrap().unwrap();
    assert_eq!(call_into_wasm(&mut store, f1), 10 * 2 + 3 + 2 + 1);
    let frames = std::mem::take(&mut store.data_mut().frames);
    (module, frames)
}

/// The symbol names of `frame` (several when inlined).
fn names(frame: &backtrace::Frame) -> Vec<String> {
    let mut names = Vec::new();
    backtrace::resolve_frame(frame, |symbol| {
        if let Some(name) = symbol.name() {
            names.push(name.to_string());
        }
    });
    names
}

/// The position of the first frame in `call_into_wasm`.
fn caller_position(frames: &[backtrace::Frame]) -> Option<usize> {
    frames
        .iter()
        .position(|f| names(f).iter().any(|n| n.contains("call_into_wasm")))
}

/// The wasm function each frame is in (by name), or `None`.
fn wasm_function<'a>(
    ranges: &'a [(u32, String, Range<usize>)],
    frame: &backtrace::Frame,
) -> Option<&'a str> {
    let ip = frame.ip() as usize;
    ranges
        .iter()
        .find(|(_, _, range)| range.contains(&ip))
        .map(|(_, name, _)| name.as_str())
}

fn render(frames: &[backtrace::Frame], ranges: &[(u32, String, Range<usize>)]) -> String {
    frames
        .iter()
        .map(|f| {
            let what = wasm_function(ranges, f)
                .map(|n| format!("wasm {n}"))
                .or_else(|| names(f).first().cloned())
                .unwrap_or_else(|| "?".to_string());
            format!("  {:#x} {what}\n", f.ip() as usize)
        })
        .collect()
}

/// The walk passes three wasm frames, innermost first, and reaches
/// `call_into_wasm`, with the module compiled and loaded from its
/// artifact both ways.
fn check_walk_reaches_the_caller(compiler: Compiler) {
    for load in [Load::Compile, Load::Deserialize, Load::DeserializeFile] {
        check_walk_reaches_the_caller_in(compiler, load);
    }
}

fn check_walk_reaches_the_caller_in(compiler: Compiler, load: Load) {
    let mut config = Config::new();
    config.compiler(compiler);
    let (module, frames) = walk_from_host_function(&config, load);
    let ranges: Vec<_> = module.function_code().collect();
    let listing = render(&frames, &ranges);
    let caller = caller_position(&frames)
        .unwrap_or_else(|| panic!("the walk never reached call_into_wasm:\n{listing}"));
    let wasm: Vec<&str> = frames[..caller]
        .iter()
        .filter_map(|f| wasm_function(&ranges, f))
        .collect();
    assert_eq!(wasm, ["f3", "f2", "f1"], "{load:?}:\n{listing}");
    // Right outside the wasm frames are the trampolines: JIT code with no
    // Rust symbol (the host trampoline below f3, the entry trampoline
    // above f1), then Rust frames again.
    let first_wasm = frames
        .iter()
        .position(|f| wasm_function(&ranges, f).is_some())
        .unwrap();
    let (host_trampoline, entry_trampoline) = (&frames[first_wasm - 1], &frames[first_wasm + 3]);
    for trampoline in [host_trampoline, entry_trampoline] {
        assert!(
            names(trampoline).is_empty() && wasm_function(&ranges, trampoline).is_none(),
            "{listing}"
        );
    }
    assert!(!names(&frames[first_wasm - 2]).is_empty(), "{listing}");
    assert!(!names(&frames[first_wasm + 4]).is_empty(), "{listing}");
}

#[test]
fn the_unwinder_walks_through_baseline_frames_to_the_host_caller() {
    check_walk_reaches_the_caller(Compiler::Winch);
}

#[test]
fn the_unwinder_walks_through_optimized_frames_to_the_host_caller() {
    check_walk_reaches_the_caller(Compiler::Cranelift);
}

/// The check above depends on the tables: without them the walk stops
/// at the first JIT frame.
#[test]
fn without_unwind_tables_the_walk_stops_at_jit_code() {
    let loads = [Load::Compile, Load::Deserialize, Load::DeserializeFile];
    for (compiler, load) in [Compiler::Winch, Compiler::Cranelift]
        .into_iter()
        .flat_map(|compiler| loads.map(|load| (compiler, load)))
    {
        let mut config = Config::new();
        config.compiler(compiler).native_unwind_info(false);
        let (module, frames) = walk_from_host_function(&config, load);
        let ranges: Vec<_> = module.function_code().collect();
        let listing = render(&frames, &ranges);
        assert_eq!(caller_position(&frames), None, "{load:?}: {listing}");
        assert!(
            frames.iter().all(|f| wasm_function(&ranges, f).is_none()),
            "{listing}"
        );
    }
}

/// Traps keep their backtraces without unwind tables: they walk frame
/// pointers, not the tables.
#[test]
fn trap_backtraces_do_not_need_unwind_tables() {
    for compiler in [Compiler::Winch, Compiler::Cranelift] {
        let mut config = Config::new();
        config.compiler(compiler).native_unwind_info(false);
        let engine = Engine::new(&config).unwrap();
        let module = Module::new(
            &engine,
            r#"(module
                (func $inner (param i32) (result i32)
                  (i32.div_u (i32.const 1) (local.get 0)))
                (func $outer (export "outer") (param i32) (result i32)
                  (i32.add (call $inner (local.get 0)) (i32.const 1))))"#,
        )
        .unwrap();
        let mut store = Store::new(&engine, ());
        let instance = Linker::new(&engine)
            .instantiate(&mut store, &module)
            .unwrap();
        let outer = instance.get_func(&store, "outer").unwrap().unwrap();
        let mut results = [Val::I32(0)];
        let error = outer
            .call(&mut store, &[Val::I32(0)], &mut results)
            .unwrap_err();
        let trap = error.downcast_ref::<duet::Trap>().expect("a trap");
        let frames: Vec<Option<&str>> = trap
            .frames()
            .iter()
            .map(|f| f.func_name.as_deref())
            .collect();
        assert_eq!(frames, [Some("inner"), Some("outer")], "{compiler:?}");
        assert!(
            trap.frames().iter().all(|f| f.module_offset.is_some()),
            "{compiler:?}: {:?}",
            trap.frames()
        );
    }
}
