//! Fuzz target: an arbitrary post-allocation `MInst` (built from the fuzzer's
//! bytes by `tests/common/generate.rs`) must encode to bytes that iced-x86
//! decodes back to the instruction's meaning (`tests/common/mod.rs`), with
//! the right trap records, relocations and call sites. The same property as
//! `tests/roundtrip.rs`, with coverage guidance.
#![no_main]

#[path = "../../tests/common/mod.rs"]
mod common;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut u = arbitrary::Unstructured::new(data);
    let targets = common::targets();
    let Ok(inst) = common::generate::inst(&mut u, &targets) else {
        return;
    };
    let padding = u.int_in_range(0..=160).unwrap_or(0);
    common::check_inst(&inst, padding);
});
