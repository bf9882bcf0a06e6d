//! [`compile_functions`]: the parallel compile driver both tiers run a
//! module's function bodies through.
//!
//! ```text
//!   bodies[0..n] ──► queue: next index (in order) ──► worker 0: state, compile(i, body)
//!                    one lock per hand-out         ├► worker 1: state, compile(i, body)
//!                                                  └► ... (the calling thread is one)
//!   results ◄── placed by index; on failure, the lowest failing index's error
//! ```
//!
//! The driver knows nothing about either compiler: a tier passes a closure
//! that compiles one function (the baseline tier: validate and emit; the
//! optimizing tier: validate, translate to IR, optimize, lower) and a
//! constructor of the per-thread state that closure reuses from one
//! function to the next (validator and translator allocations).
//!
//! # Invariants
//!
//! * **Results do not depend on scheduling.** The output of defined
//!   function `i` is at position `i`, whatever the thread count and
//!   however the functions were spread over threads. This needs the
//!   compile closure's result to depend only on the function, not on the
//!   history of the per-thread state; the state is for reusing
//!   allocations, nothing else.
//! * **The error is the lowest-numbered failing function's.** Functions
//!   are handed out in index order. Once function `f` has failed, no
//!   worker starts a function after `f`; every function before `f` was
//!   handed out before `f` was, so it is still compiled to the end. Hence
//!   the lowest failing function is always compiled, fails, and is the
//!   one reported, and work after a failure stops within one function per
//!   thread.
//! * **One thread costs nothing extra.** With one thread, or with fewer
//!   than two functions, the bodies are compiled in a plain loop on the
//!   calling thread: no thread, no lock, no atomics, and the loop stops at
//!   the first error. With more threads, the calling thread is one of the
//!   workers, so `threads` threads do the work and `threads - 1` are
//!   spawned.
//!
//! A panic in a worker (a broken invariant of a compiler) is passed on to
//! the caller as it is.

use crate::module::DefinedFuncIndex;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

/// Compiles defined functions `0..bodies.len()` with `compile` on up to
/// `threads` threads (0 counts as 1), each with its own state made by
/// `new_state`. Returns the outputs in index order, or the error of the
/// lowest-numbered function that failed (see the module docs).
pub fn compile_functions<B, S, T, E>(
    bodies: Vec<B>,
    threads: usize,
    new_state: impl Fn() -> S + Sync,
    compile: impl Fn(&mut S, DefinedFuncIndex, B) -> Result<T, E> + Sync,
) -> Result<Vec<T>, E>
where
    B: Send,
    T: Send,
    E: Send,
{
    let count = bodies.len();
    let threads = threads.clamp(1, count.max(1));
    if threads == 1 {
        let mut state = new_state();
        return bodies
            .into_iter()
            .enumerate()
            .map(|(i, body)| compile(&mut state, index(i), body))
            .collect();
    }

    let queue = Mutex::new(bodies.into_iter().enumerate());
    // The lowest index that failed so far (`usize::MAX`: none).
    let first_failure = AtomicUsize::new(usize::MAX);
    let work = || {
        let mut state = new_state();
        let mut done = Vec::new();
        loop {
            let next = queue.lock().unwrap_or_else(|e| e.into_inner()).next();
            let Some((i, body)) = next else {
                return (done, None);
            };
            // Every function before `i` was handed out already, so a
            // failure before `i` decides the result: `i` need not run.
            if i > first_failure.load(Ordering::Relaxed) {
                return (done, None);
            }
            match compile(&mut state, index(i), body) {
                Ok(output) => done.push((i, output)),
                Err(error) => {
                    first_failure.fetch_min(i, Ordering::Relaxed);
                    return (done, Some((i, error)));
                }
            }
        }
    };
    let finished: Vec<_> = std::thread::scope(|scope| {
        let spawned: Vec<_> = (1..threads).map(|_| scope.spawn(work)).collect();
        let mine = work();
        std::iter::once(mine)
            .chain(spawned.into_iter().map(|worker| {
                worker
                    .join()
                    .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
            }))
            .collect()
    });

    let mut outputs: Vec<Option<T>> = std::iter::repeat_with(|| None).take(count).collect();
    let mut failure: Option<(usize, E)> = None;
    for (done, error) in finished {
        for (i, output) in done {
            outputs[i] = Some(output);
        }
        if let Some((i, error)) = error
            && failure.as_ref().is_none_or(|(f, _)| i < *f)
        {
            failure = Some((i, error));
        }
    }
    match failure {
        Some((_, error)) => Err(error),
        None => Ok(outputs
            .into_iter()
            .map(|output| output.expect("without a failure, every function is compiled"))
            .collect()),
    }
}

/// Defined function `i`.
fn index(i: usize) -> DefinedFuncIndex {
    DefinedFuncIndex::from_u32(u32::try_from(i).expect("a module has at most 2^32 functions"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    /// A stand-in compiler: "compiles" body `b` of function `i` to a value
    /// computed from both, fails on the bodies in `failing` (naming the
    /// function), and sleeps for a time given by the body so that
    /// functions finish out of order on several threads.
    fn fake_compile(
        state: &mut Vec<u32>,
        i: DefinedFuncIndex,
        body: (u32, u64),
        failing: &[u32],
    ) -> Result<u64, String> {
        let (b, delay) = body;
        // The state is reused: it must not leak into the output.
        state.push(b);
        std::thread::sleep(Duration::from_micros(delay));
        if failing.contains(&b) {
            return Err(format!("function {} failed", i.as_u32()));
        }
        Ok(u64::from(b) * 1000 + u64::from(i.as_u32()))
    }

    /// Bodies whose compile times vary (longest first, so later functions
    /// overtake earlier ones on other threads).
    fn bodies(n: u32) -> Vec<(u32, u64)> {
        (0..n).map(|b| (b, u64::from((n - b) % 7) * 300)).collect()
    }

    #[test]
    fn outputs_are_in_index_order_for_any_thread_count() {
        // The oracle: each function's output computed on its own.
        let expected: Vec<u64> = (0..40u64).map(|i| i * 1000 + i).collect();
        for threads in [0, 1, 2, 3, 8, 100] {
            let outputs = compile_functions(bodies(40), threads, Vec::new, |s, i, b| {
                fake_compile(s, i, b, &[])
            });
            assert_eq!(outputs, Ok(expected.clone()), "{threads} threads");
        }
    }

    #[test]
    fn an_empty_module_compiles_to_nothing() {
        for threads in [1, 4] {
            let outputs =
                compile_functions(Vec::<(u32, u64)>::new(), threads, Vec::new, |s, i, b| {
                    fake_compile(s, i, b, &[])
                });
            assert_eq!(outputs, Ok(Vec::new()));
        }
    }

    #[test]
    fn the_lowest_failing_function_is_reported_whatever_the_scheduling() {
        // Function 30 fails fast while the slower function 12 also fails:
        // on several threads 30 tends to fail first in time, and 12 must
        // still be the one reported.
        let mut bodies = bodies(40);
        bodies[12].1 = 3000;
        bodies[30].1 = 0;
        for threads in [1, 2, 4, 8] {
            for _ in 0..5 {
                let result = compile_functions(bodies.clone(), threads, Vec::new, |s, i, b| {
                    fake_compile(s, i, b, &[12, 30])
                });
                assert_eq!(result, Err("function 12 failed".to_string()), "{threads}");
            }
        }
    }

    #[test]
    fn no_function_after_a_failure_is_started_on_one_thread() {
        let started = AtomicUsize::new(0);
        let result = compile_functions(bodies(10), 1, Vec::new, |s, i, b| {
            started.fetch_add(1, Ordering::Relaxed);
            fake_compile(s, i, b, &[3])
        });
        assert_eq!(result, Err("function 3 failed".to_string()));
        assert_eq!(started.load(Ordering::Relaxed), 4);
    }

    #[test]
    fn each_thread_makes_its_own_state() {
        let states = AtomicUsize::new(0);
        let new_state = || {
            states.fetch_add(1, Ordering::Relaxed);
            Vec::new()
        };
        let outputs = compile_functions(bodies(20), 3, new_state, |s, i, b| {
            fake_compile(s, i, b, &[])
        });
        assert_eq!(outputs.map(|o| o.len()), Ok(20));
        assert_eq!(states.load(Ordering::Relaxed), 3);
        // Two functions and many threads: no more threads than functions.
        states.store(0, Ordering::Relaxed);
        let outputs = compile_functions(bodies(2), 16, new_state, |s, i, b| {
            fake_compile(s, i, b, &[])
        });
        assert_eq!(outputs.map(|o| o.len()), Ok(2));
        assert_eq!(states.load(Ordering::Relaxed), 2);
    }

    #[test]
    #[should_panic(expected = "a broken compiler")]
    fn a_panic_in_a_worker_reaches_the_caller() {
        let _ = compile_functions(bodies(20), 4, Vec::new, |s, i, b| {
            if i.as_u32() == 17 {
                panic!("a broken compiler");
            }
            fake_compile(s, i, b, &[])
        });
    }
}
