//! Running assembled code natively, for tests that check what the code does
//! rather than how it is encoded.
//!
//! ```text
//!   Assembler ──finish──► FinishedCode ──copy──► anonymous mapping ──make_exec──► call
//! ```
//!
//! Test functions follow the System V calling convention (`extern "sysv64"`):
//! integer arguments in rdi, rsi; float arguments in xmm0, xmm1; results in
//! rax (and rdx for a two-word struct) or xmm0. Wrappers save every
//! callee-saved GPR on entry ([`save_callee_saved`]) so that the code under
//! test may use any register but rsp, and restore them at every exit
//! ([`restore_and_return`]).
//!
//! Soundness: a [`NativeCode`] owns the executable mapping for as long as a
//! function pointer taken from it may be called (callers keep it alive), the
//! code needs no relocation (checked), and each test states the exact
//! signature its wrapper implements.

#![allow(unsafe_code, dead_code)]

use cranelift_asm::FinishedCode;
use cranelift_asm::x64::{Assembler, CpuFeatures, Gpr};
use memmap2::{Mmap, MmapMut};

/// The callee-saved GPRs of the System V ABI (besides rsp), pushed in this
/// order on entry.
pub const CALLEE_SAVED: [Gpr; 6] = [Gpr::RBX, Gpr::RBP, Gpr::R12, Gpr::R13, Gpr::R14, Gpr::R15];

/// A bit pattern that no result should ever contain by accident: written into
/// destinations and temporaries before a sequence runs.
pub const GARBAGE: u64 = 0xDEAD_BEEF_CAFE_F00D;

/// An assembler for the machine the tests run on.
pub fn host_assembler() -> Assembler {
    Assembler::new(CpuFeatures::host())
}

/// Pushes every callee-saved GPR.
pub fn save_callee_saved(asm: &mut Assembler) {
    for reg in CALLEE_SAVED {
        asm.push_r(reg);
    }
}

/// Pops what [`save_callee_saved`] pushed and returns.
pub fn restore_and_return(asm: &mut Assembler) {
    for reg in CALLEE_SAVED.iter().rev() {
        asm.pop_r(*reg);
    }
    asm.ret();
}

/// Finished code mapped executable.
pub struct NativeCode {
    map: Mmap,
    finished: FinishedCode,
}

impl NativeCode {
    /// Finishes `asm` and maps the code.
    ///
    /// # Panics
    ///
    /// If assembling failed or the code needs relocations (tests build
    /// self-contained functions).
    pub fn new(asm: Assembler) -> NativeCode {
        let finished = asm.finish().expect("the test function assembles");
        assert!(
            finished.relocations().is_empty(),
            "test functions are self-contained"
        );
        let bytes = finished.code();
        let mut map = MmapMut::map_anon(bytes.len().max(1)).expect("an anonymous mapping");
        map[..bytes.len()].copy_from_slice(bytes);
        let map = map.make_exec().expect("the mapping becomes executable");
        NativeCode { map, finished }
    }

    /// The finished code (bytes, trap table, ...).
    pub fn finished(&self) -> &FinishedCode {
        &self.finished
    }

    /// The entry point as a function pointer of type `F`.
    ///
    /// # Safety
    ///
    /// `F` must be an `extern "sysv64" fn` type matching what the code does
    /// with its arguments and results, and the pointer must not be called
    /// after `self` is dropped.
    pub unsafe fn function<F: Copy>(&self) -> F {
        assert_eq!(
            size_of::<F>(),
            size_of::<*const u8>(),
            "F is a function pointer"
        );
        let entry = self.map.as_ptr();
        // SAFETY: F is a function pointer type (same size as a pointer, as
        // checked) whose signature the caller vouches for.
        unsafe { core::mem::transmute_copy::<*const u8, F>(&entry) }
    }
}

/// xorshift64*: a fixed-seed, dependency-free pseudo-random generator.
pub struct Rng(u64);

impl Rng {
    /// A generator seeded with `seed` (any non-zero value).
    pub fn new(seed: u64) -> Rng {
        Rng(seed.max(1))
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// A value in `0..bound` (`bound` > 0).
    pub fn below(&mut self, bound: u64) -> u64 {
        self.next_u64() % bound
    }
}

/// Collects mismatches and fails with the first few of them.
pub struct Failures {
    what: &'static str,
    checked: usize,
    messages: Vec<String>,
    count: usize,
}

impl Failures {
    /// An empty record for the test `what`.
    pub fn new(what: &'static str) -> Failures {
        Failures {
            what,
            checked: 0,
            messages: Vec::new(),
            count: 0,
        }
    }

    /// Records one check: a failure with `message()` unless `ok`.
    pub fn check(&mut self, ok: bool, message: impl FnOnce() -> String) {
        self.checked += 1;
        if !ok {
            self.count += 1;
            if self.messages.len() < 20 {
                self.messages.push(message());
            }
        }
    }

    /// Panics with the recorded failures, if any; returns the number of
    /// checks otherwise.
    pub fn finish(self) -> usize {
        assert!(
            self.count == 0,
            "{}: {} of {} checks failed, first ones:\n{}",
            self.what,
            self.count,
            self.checked,
            self.messages.join("\n")
        );
        println!("{}: {} checks passed", self.what, self.checked);
        self.checked
    }
}
