//! What the wasm-smith robustness tests share: modules from seeds, saving
//! a failing one, and a panic's message.

use crate::rng::XorShift;

/// A wasm-smith module from `seed`, generated from `min_len` plus up to
/// `spread` bytes of the seed's stream; `None` when wasm-smith gives up.
pub fn smith_module(
    seed: u64,
    config: &wasm_smith::Config,
    min_len: usize,
    spread: u64,
) -> Option<Vec<u8>> {
    let mut rng = XorShift::new(seed);
    let len = min_len + (rng.next() % spread) as usize;
    let data = rng.bytes(len);
    let mut u = arbitrary::Unstructured::new(&data);
    wasm_smith::Module::new(config.clone(), &mut u)
        .ok()
        .map(|m| m.to_bytes())
}

/// Writes a failing module to the temp dir as `NAME.wasm` and returns the
/// path (or why it could not).
pub fn save_module(name: &str, wasm: &[u8]) -> String {
    let path = std::env::temp_dir().join(format!("{name}.wasm"));
    match std::fs::write(&path, wasm) {
        Ok(()) => path.display().to_string(),
        Err(e) => format!("(could not write {}: {e})", path.display()),
    }
}

/// The message of a caught panic.
pub fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_else(|| "(non-string panic)".to_string())
}
