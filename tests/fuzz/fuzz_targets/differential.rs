//! libFuzzer's bytes become a wasm-smith module, run in duet and in wasmi
//! and compared: `duet_tests::differential::fuzz_one`, the same check as
//! `tests/differential.rs` (see its module docs). A divergence panics with
//! the module as text and both outcomes.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| duet_tests::differential::fuzz_one(data));
