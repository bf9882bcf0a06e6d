//! libFuzzer's bytes become a wasm-smith module, run in duet and in wasmi
//! and compared: `duet_tests::differential::fuzz_one`, the same check as
//! `tests/differential.rs` (see its module docs). A divergence panics with
//! the module as text and every column's outcome.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| duet_tests::differential::fuzz_one(data));

/// AddressSanitizer's defaults for this target (`ASAN_OPTIONS` still
/// overrides them): no fake stacks. With `detect_stack_use_after_return`,
/// a local variable lives in a heap-allocated fake frame, and duet derives
/// wasm's stack limit from a local's address (`Func::call`), so the limit
/// lands anywhere and calls "overflow" at random (a quarter of the runs
/// were skipped that way).
#[unsafe(no_mangle)]
pub extern "C" fn __asan_default_options() -> *const core::ffi::c_char {
    c"detect_stack_use_after_return=0".as_ptr()
}
