//! Compile time and memory grow at most like n log n with the input, in
//! both tiers, whatever the module's shape.
//!
//! Each shape of [`duet_tests::shapes`] (one huge function of one
//! construct repeated, or many small functions) is compiled at a size `n`
//! and at `4n`, on this thread, and the work is compared:
//!
//! * the number of heap allocations and the bytes allocated, counted by
//!   this binary's global allocator, per thread (deterministic);
//! * the peak of live heap bytes during the compilation;
//! * the CPU time of the compiling thread (the least of a few runs).
//!
//! Linear work grows 4x, n log n a little more; a quadratic algorithm 16x.
//! The bounds ([`MAX_COUNT_RATIO`], [`MAX_CPU_RATIO`]) sit between.
//! Instructions retired would be the better measure of work, but these
//! machines (virtual, no hardware counters) have no counter to read, so
//! the CPU time of the thread, which other processes do not inflate the
//! way they inflate wall time, stands in for them, with a wider bound.
//!
//! The sizes are chosen so that the optimizing tier's functions are past
//! the limits of `cranelift_codegen::machinst::Allocator::BySize` at
//! least at `4n` where the shape makes many blocks: below them, Ion's own
//! quadratic parts are bounded by the limits, a constant, and a 1 MB
//! module's real times are in `docs/benchmarks.md`.

use duet::{Compiler, Config, Engine, Module};
use duet_tests::shapes::Shape;
use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

/// Allocations and bytes may grow this much from `n` to `4n`.
const MAX_COUNT_RATIO: f64 = 6.0;

/// CPU time may grow this much from `n` to `4n`.
const MAX_CPU_RATIO: f64 = 8.0;

struct Counting;

thread_local! {
    static ALLOCATIONS: Cell<u64> = const { Cell::new(0) };
    static ALLOCATED: Cell<u64> = const { Cell::new(0) };
    static LIVE: Cell<i64> = const { Cell::new(0) };
    static PEAK: Cell<i64> = const { Cell::new(0) };
}

fn note_allocation(size: usize) {
    ALLOCATIONS.with(|c| c.set(c.get() + 1));
    ALLOCATED.with(|c| c.set(c.get() + size as u64));
    let live = LIVE.with(|c| {
        c.set(c.get() + size as i64);
        c.get()
    });
    PEAK.with(|c| c.set(c.get().max(live)));
}

fn note_free(size: usize) {
    LIVE.with(|c| c.set(c.get() - size as i64));
}

// SAFETY: every method forwards to the system allocator unchanged; the
// bookkeeping touches only const-initialized thread-locals (no
// allocation, no destructor).
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        note_allocation(layout.size());
        // SAFETY: the caller's contract is the system allocator's.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        note_allocation(layout.size());
        // SAFETY: as above.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        note_free(layout.size());
        // SAFETY: as above.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        note_free(layout.size());
        note_allocation(new_size);
        // SAFETY: as above.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// What compiling one module cost this thread.
#[derive(Clone, Copy, Debug)]
struct Work {
    allocations: u64,
    allocated: u64,
    peak: i64,
    cpu_seconds: f64,
}

fn thread_cpu_seconds() -> f64 {
    let t = rustix::time::clock_gettime(rustix::time::ClockId::ThreadCPUTime);
    t.tv_sec as f64 + t.tv_nsec as f64 * 1e-9
}

/// Compiles `wasm` on this thread with `engine`, `runs` times; the counts
/// of the last run and the least CPU time.
fn measure(engine: &Engine, wasm: &[u8], runs: usize) -> Work {
    let mut work = None::<Work>;
    for _ in 0..runs {
        let (allocations, allocated) = (ALLOCATIONS.with(Cell::get), ALLOCATED.with(Cell::get));
        let live = LIVE.with(Cell::get);
        PEAK.with(|c| c.set(live));
        let start = thread_cpu_seconds();
        let module = Module::new(engine, wasm);
        let cpu_seconds = thread_cpu_seconds() - start;
        let run = Work {
            allocations: ALLOCATIONS.with(Cell::get) - allocations,
            allocated: ALLOCATED.with(Cell::get) - allocated,
            peak: PEAK.with(Cell::get) - live,
            cpu_seconds,
        };
        if let Err(e) = module {
            panic!("the module does not compile: {e}");
        }
        work = Some(match work {
            Some(w) => Work {
                cpu_seconds: w.cpu_seconds.min(run.cpu_seconds),
                ..run
            },
            None => run,
        });
    }
    work.expect("at least one run")
}

/// The module sizes (bytes, about) measured for a tier: `n`'s; `4n`'s is
/// four times that.
fn base_size(compiler: Compiler) -> usize {
    match compiler {
        Compiler::Winch | Compiler::Tiered => 40_000,
        Compiler::Cranelift => 48_000,
    }
}

fn check_tier(compiler: Compiler) {
    let mut config = Config::new();
    config.compiler(compiler).compilation_threads(1);
    let engine = Engine::new(&config).unwrap();
    let mut failures = Vec::new();
    for shape in Shape::ALL {
        let n = shape.count_for_size(base_size(compiler));
        let four_n = n.saturating_mul(4).min(shape.max_count());
        let (small, large) = (shape.module(n), shape.module(four_n));
        // Warm up (code paths, the engine's caches), then measure.
        measure(&engine, &small, 1);
        let (a, b) = (measure(&engine, &small, 3), measure(&engine, &large, 3));
        let scale = four_n as f64 / n as f64;
        let ratio = |x: f64, y: f64| (y / x.max(1e-9)) * 4.0 / scale;
        let counts = [
            (
                "allocations",
                ratio(a.allocations as f64, b.allocations as f64),
            ),
            (
                "bytes allocated",
                ratio(a.allocated as f64, b.allocated as f64),
            ),
            ("peak live bytes", ratio(a.peak as f64, b.peak as f64)),
        ];
        let cpu = ratio(a.cpu_seconds, b.cpu_seconds);
        println!(
            "{compiler:?} {:>22}: n = {n:>7} ({:>7} B) -> 4n ({:>7} B): allocations x{:.2}, bytes x{:.2}, peak x{:.2}, cpu x{cpu:.2} ({:.1} -> {:.1} ms)",
            shape.name(),
            small.len(),
            large.len(),
            counts[0].1,
            counts[1].1,
            counts[2].1,
            a.cpu_seconds * 1e3,
            b.cpu_seconds * 1e3,
        );
        for (what, r) in counts {
            if r > MAX_COUNT_RATIO {
                failures.push(format!(
                    "{}: {what} grew x{r:.2} for 4x the input",
                    shape.name()
                ));
            }
        }
        if cpu > MAX_CPU_RATIO {
            failures.push(format!(
                "{}: CPU time grew x{cpu:.2} for 4x the input",
                shape.name()
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{compiler:?} does not scale:\n{}",
        failures.join("\n")
    );
}

#[test]
fn the_baseline_tier_scales_linearly() {
    check_tier(Compiler::Winch);
}

#[test]
fn the_optimizing_tier_scales_linearly() {
    check_tier(Compiler::Cranelift);
}
