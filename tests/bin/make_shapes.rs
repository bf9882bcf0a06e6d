//! Writes one module of each pathological shape (`duet_tests::shapes`),
//! about `BYTES` long, into `DIR` as `SHAPE.wasm`, for timing the
//! compilers by hand (`docs/benchmarks.md`):
//!
//! ```text
//! cargo run --release -p duet-tests --bin make-shapes -- DIR [BYTES]
//! ```
//!
//! `BYTES` defaults to 1 MB; many-locals stops at wasmparser's local limit.

use duet_tests::shapes::Shape;
use std::path::PathBuf;

fn main() {
    let mut args = std::env::args().skip(1);
    let Some(dir) = args.next().map(PathBuf::from) else {
        eprintln!("usage: make-shapes DIR [BYTES]");
        std::process::exit(2);
    };
    let bytes: usize = match args.next().map(|b| b.parse()) {
        None => 1_000_000,
        Some(Ok(b)) => b,
        Some(Err(e)) => {
            eprintln!("make-shapes: BYTES: {e}");
            std::process::exit(2);
        }
    };
    if let Err(e) = std::fs::create_dir_all(&dir) {
        eprintln!("make-shapes: {}: {e}", dir.display());
        std::process::exit(1);
    }
    for shape in Shape::ALL {
        let n = shape.count_for_size(bytes);
        let module = shape.module(n);
        let path = dir.join(format!("{}.wasm", shape.name()));
        if let Err(e) = std::fs::write(&path, &module) {
            eprintln!("make-shapes: {}: {e}", path.display());
            std::process::exit(1);
        }
        println!("{}\tn = {n}\t{} bytes", path.display(), module.len());
    }
}
