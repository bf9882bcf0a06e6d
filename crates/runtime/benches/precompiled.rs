//! Loading a precompiled module against compiling it: SpiderMonkey
//! (`$DUET_SHARED/bench/compile/spidermonkey.wasm`, else
//! `../shared/bench/compile/spidermonkey.wasm` beside the workspace).
//!
//! * `compile_winch`: `Module::from_binary` with the baseline compiler on
//!   one thread (translate, compile, link, register), as `duet compile
//!   --threads 1` times it;
//! * `deserialize_file`: `Module::deserialize_file` of the same module's
//!   artifact (map the file, check the checksum and the fingerprint,
//!   decode the module info, check the tables' structure, map the code
//!   from the file and make it executable, register the tables and the
//!   unwind section in place);
//! * `deserialize`: `Module::deserialize` of the artifact's bytes already
//!   in memory (the tables and the code copied);
//! * `translate_only`: `duet_environ::module::translate` alone (parse and
//!   validate every section but the function bodies): what loading would
//!   cost on top of the code if the artifact kept the wasm and translated
//!   it again instead of storing the module info.
//!
//! Each figure leaves out dropping the module (`iter_with_large_drop`):
//! what is timed is what an embedder waits for before it can instantiate.
//!
//! ```text
//! taskset -c 1 cargo bench -p duet --bench precompiled
//! ```
//!
//! Figures and what they mean: `docs/benchmarks.md`, "Precompiled modules".

use criterion::{Criterion, criterion_group, criterion_main};
use duet::{Config, Engine, Module, WasmFeatures};
use std::path::PathBuf;

/// The SpiderMonkey module; a missing file fails loudly.
fn spidermonkey() -> Vec<u8> {
    let shared = std::env::var_os("DUET_SHARED").map_or_else(
        || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared"),
        PathBuf::from,
    );
    let path = shared.join("bench/compile/spidermonkey.wasm");
    std::fs::read(&path).unwrap_or_else(|e| {
        panic!(
            "{}: {e} (put the shared material beside the workspace as ../shared, or set \
             DUET_SHARED to its path)",
            path.display()
        )
    })
}

fn precompiled(c: &mut Criterion) {
    let wasm = spidermonkey();
    let engine = Engine::new(Config::new().parallel_compilation(false)).unwrap();
    let artifact = Module::from_binary(&engine, &wasm)
        .and_then(|module| module.serialize())
        .unwrap();
    let path = std::env::temp_dir().join(format!("duet-bench-{}.cwasm", std::process::id()));
    std::fs::write(&path, &artifact).unwrap();
    eprintln!(
        "spidermonkey: {} bytes of wasm, an artifact of {} bytes",
        wasm.len(),
        artifact.len()
    );

    let mut group = c.benchmark_group("spidermonkey");
    group.sample_size(10);
    group.bench_function("compile_winch", |b| {
        b.iter_with_large_drop(|| Module::from_binary(&engine, &wasm).unwrap())
    });
    // SAFETY: the artifact was written above by `serialize` of this
    // engine, and nothing changes the file meanwhile.
    group.bench_function("deserialize_file", |b| {
        b.iter_with_large_drop(|| unsafe { Module::deserialize_file(&engine, &path) }.unwrap())
    });
    group.bench_function("deserialize", |b| {
        b.iter_with_large_drop(|| unsafe { Module::deserialize(&engine, &artifact) }.unwrap())
    });
    group.bench_function("translate_only", |b| {
        b.iter(|| duet_environ::module::translate(&wasm, WasmFeatures::default()).unwrap())
    });
    group.finish();
    std::fs::remove_file(&path).ok();
}

criterion_group!(benches, precompiled);
criterion_main!(benches);
