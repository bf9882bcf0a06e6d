//! The perf map (`ProfilingStrategy::PerfMap`): every compiled function
//! of a module, under each tier, is listed in `/tmp/perf-<pid>.map` with
//! its real start address and size (as `Module::function_code` reports
//! them) and its name, and so are the trampolines of the types called.

use std::collections::HashMap;

use duet::{Compiler, Config, Engine, Linker, Module, ProfilingStrategy, Store, Val};

const WAT: &str = r#"(module
  (func $add (export "add") (param i32 i32) (result i32)
    (i32.add (local.get 0) (local.get 1)))
  (func (param i32) (result i32)
    (i32.mul (local.get 0) (i32.const 3)))
  (func $twice_plus_one (export "twice_plus_one") (param i32) (result i32)
    (i32.add (call 1 (local.get 0)) (i32.const 1))))"#;

/// The map's lines as `name -> (start, size)`; a name listed more than
/// once keeps its last line (perf's rule too).
fn read_perf_map() -> HashMap<String, (usize, usize)> {
    let text = std::fs::read_to_string(duet::profiling::perf_map_path()).expect("the map exists");
    text.lines()
        .map(|line| {
            let mut fields = line.splitn(3, ' ');
            let mut hex = || usize::from_str_radix(fields.next().unwrap(), 16).unwrap();
            let (start, size) = (hex(), hex());
            (fields.next().unwrap().to_string(), (start, size))
        })
        .collect()
}

#[test]
fn the_perf_map_lists_every_compiled_function_with_its_address_range() {
    for compiler in [Compiler::Winch, Compiler::Cranelift] {
        let mut config = Config::new();
        config
            .compiler(compiler)
            .profiling_strategy(ProfilingStrategy::PerfMap);
        let engine = Engine::new(&config).unwrap();
        let module_name = format!("perfmap_{compiler:?}");
        let module = Module::new_named(&engine, WAT, &module_name).unwrap();
        assert_eq!(module.name(), module_name);
        // A named module keeps its own name.
        let named = Module::new_named(
            &engine,
            format!("(module ${module_name}_named (func $only))"),
            "ignored",
        )
        .unwrap();
        assert_eq!(named.name(), format!("{module_name}_named"));
        // A call makes the trampolines of `(i32) -> (i32)`.
        let mut store = Store::new(&engine, ());
        let instance = Linker::new(&engine)
            .instantiate(&mut store, &module)
            .unwrap();
        let f = instance
            .get_func(&store, "twice_plus_one")
            .unwrap()
            .unwrap();
        let mut results = [Val::I32(0)];
        f.call(&mut store, &[Val::I32(5)], &mut results).unwrap();
        assert_eq!(results[0].i32(), Some(16));

        let map = read_perf_map();
        let functions: Vec<_> = module.function_code().collect();
        let names: Vec<&str> = functions.iter().map(|(_, name, _)| name.as_str()).collect();
        assert_eq!(names, ["add", "wasm-function[1]", "twice_plus_one"]);
        for (index, name, range) in &functions {
            let symbol = format!("{module_name}!{name}");
            let listed = map.get(&symbol).unwrap_or_else(|| {
                panic!("{compiler:?}: function {index} ({symbol}) is not in the perf map")
            });
            assert_eq!(
                *listed,
                (range.start, range.len()),
                "{compiler:?}: {symbol}"
            );
            assert!(!range.is_empty());
        }
        let (_, _, only) = named.function_code().next().unwrap();
        assert_eq!(
            map.get(&format!("{module_name}_named!only")),
            Some(&(only.start, only.len()))
        );
        for trampoline in [
            "entry_trampoline(i32)->(i32)",
            "host_trampoline(i32)->(i32)",
        ] {
            let (start, size) = map
                .get(&format!("duet!{trampoline}"))
                .unwrap_or_else(|| panic!("{trampoline} is not in the perf map"));
            assert!(*start != 0 && *size > 0);
        }
    }
    // The map is this test process's own; leave /tmp as it was.
    let _ = std::fs::remove_file(duet::profiling::perf_map_path());
}
