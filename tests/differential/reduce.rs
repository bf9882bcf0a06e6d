//! A test-case reducer for divergences: deletes lines of a module's text
//! while it still diverges the same way.
//!
//! wasmprinter prints one instruction per line (`block`, `loop`, `if`,
//! `else` and `end` on lines of their own), so deleting a range of lines
//! deletes instructions, whole constructs, functions, exports or segments.
//! Most deletions make the module invalid; those candidates are dropped.
//! The rest are kept when [`check_module`] still reports a divergence with
//! the same [`Divergence::signature`] (for the same columns' kind of
//! disagreement, not necessarily the same values), so the reduction does
//! not wander to another bug.
//!
//! # Termination survives
//!
//! Every loop and function of a generated module starts with a fuel check
//! (see `generate.rs`). Deleting one would let a candidate loop forever,
//! and neither engine can be interrupted. So lines are grouped into
//! *atoms*, deleted whole: a fuel check belongs to the atom of the line
//! that opens its loop, or of the `(func` line (and `(local` lines) of its
//! function. A loop keeps its check until the `loop` line goes, which
//! makes the body straight-line code; a function keeps its check until the
//! function goes.
//!
//! # The search
//!
//! The usual greedy one of delta debugging: try deleting chunks of half
//! the atoms, then of a quarter, ..., down to single atoms, keeping every
//! deletion that preserves the divergence, and repeating a chunk size
//! while it makes progress. Where deleting a chunk leaves the module
//! invalid, replacing it with `unreachable` often does not (a function's
//! body, the code producing a block's results). A `block` or `loop` can
//! also go with its `end`, keeping its body. Each step deletes atoms
//! or turns atoms that are not `unreachable` into one that is, so the
//! search ends; what is left is 1-minimal in atoms: deleting any one more
//! loses the divergence.

use super::{Columns, Divergence, Exports, check_module};
use std::panic::{AssertUnwindSafe, catch_unwind};
use wasmparser::{Validator, WasmFeatures};

/// `wat` reduced while `check_module` (with `arguments_seed`) still
/// reports a divergence of `signature`. Call it on the comparison stack.
/// Returns the reduced text and how many candidates were tried.
pub fn reduce(columns: &Columns, wat: &str, signature: &str, arguments_seed: u64) -> (String, u64) {
    let mut tried = 0u64;
    let mut diverges = |lines: &[&str]| {
        tried += 1;
        same_divergence(columns, &lines.join("\n"), signature, arguments_seed)
    };
    let mut atoms = atoms(wat);
    assert!(
        diverges(&atoms.concat()),
        "the module to reduce does not diverge as `{signature}`"
    );
    let mut chunk = atoms.len().div_ceil(2);
    while chunk >= 1 {
        let mut progressed = false;
        let mut at = 0;
        while at < atoms.len() {
            let end = (at + chunk).min(atoms.len());
            let candidate = [&atoms[..at], &atoms[end..]].concat();
            if diverges(&candidate.concat()) {
                atoms = candidate;
                progressed = true;
                continue;
            }
            // Deleting a function's body, or the code that produces a
            // block's results, leaves the function or block invalid;
            // `unreachable` in their place type-checks.
            // A `block` or `loop` can go with its `end`, keeping its body
            // (whose values then flow on unchanged, when the types allow).
            if chunk == 1
                && let Some(close) = matching_end(&atoms, at)
            {
                let candidate = [&atoms[..at], &atoms[at + 1..close], &atoms[close + 1..]].concat();
                if diverges(&candidate.concat()) {
                    atoms = candidate;
                    progressed = true;
                    continue;
                }
            }
            let already =
                end - at == 1 && atoms[at].len() == 1 && instruction(atoms[at][0]) == "unreachable";
            let unreachable = vec![vec!["unreachable"]];
            let candidate = [&atoms[..at], &unreachable, &atoms[end..]].concat();
            if !already && diverges(&candidate.concat()) {
                atoms = candidate;
                progressed = true;
                at += 1;
            } else {
                at += chunk;
            }
        }
        if !progressed {
            chunk /= 2;
        }
    }
    (atoms.concat().join("\n"), tried)
}

/// The lines of `wat`, grouped so that no fuel check is deleted without
/// its loop's opening line or its whole function (see the module docs).
fn atoms(wat: &str) -> Vec<Vec<&str>> {
    let lines: Vec<&str> = wat.lines().collect();
    let mut atoms: Vec<Vec<&str>> = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        if is_fuel_check(&lines[i..]) {
            let check = &lines[i..i + FUEL_CHECK.len()];
            let opener = atoms.last().map(|atom| instruction(atom[0]));
            match opener {
                // The loop's line, alone in its atom so far.
                Some(op) if op.starts_with("loop") => atoms.last_mut().unwrap().extend(check),
                // A function entry: back to the `(func` line.
                _ => {
                    let start = atoms
                        .iter()
                        .rposition(|atom| instruction(atom[0]).starts_with("(func"))
                        .expect("a function-entry fuel check is inside a function");
                    let merged: Vec<&str> = atoms.drain(start..).flatten().collect();
                    atoms.push(merged.into_iter().chain(check.iter().copied()).collect());
                }
            }
            i += FUEL_CHECK.len();
        } else {
            atoms.push(vec![lines[i]]);
            i += 1;
        }
    }
    atoms
}

/// The index of the atom holding the `end` of the `block` or `loop` that
/// atom `at` opens; `None` if it opens neither.
fn matching_end(atoms: &[Vec<&str>], at: usize) -> Option<usize> {
    let opens = |atom: &Vec<&str>| {
        let op = instruction(atom[0]);
        op.starts_with("block") || op.starts_with("loop") || op.starts_with("if")
    };
    let first = instruction(atoms[at][0]);
    if !(first.starts_with("block") || first.starts_with("loop")) {
        return None;
    }
    let mut depth = 0;
    for (i, atom) in atoms.iter().enumerate().skip(at) {
        if opens(atom) {
            depth += 1;
        } else if instruction(atom[0]) == "end" {
            depth -= 1;
            if depth == 0 {
                return Some(i);
            }
        }
    }
    None
}

/// The fuel check `ensure_termination` puts at each function entry and
/// loop head, as wasmprinter prints it (`_` is the fuel global's index).
const FUEL_CHECK: [&str; 9] = [
    "global.get _",
    "i32.eqz",
    "if",
    "unreachable",
    "end",
    "global.get _",
    "i32.const 1",
    "i32.sub",
    "global.set _",
];

/// Whether `lines` start with a fuel check.
fn is_fuel_check(lines: &[&str]) -> bool {
    lines.len() >= FUEL_CHECK.len()
        && lines.iter().zip(FUEL_CHECK).all(|(line, pattern)| {
            let line = instruction(line);
            match pattern.strip_suffix('_') {
                Some(prefix) => line
                    .strip_prefix(prefix)
                    .is_some_and(|index| index.parse::<u32>().is_ok()),
                None => line == pattern,
            }
        })
}

/// A line without indentation and comments.
fn instruction(line: &str) -> &str {
    line.split(";;").next().unwrap_or_default().trim()
}

/// Whether `wat` is a valid WebAssembly 2.0 module on which the columns
/// diverge as `signature`. A panic (in any engine, or the harness) counts
/// as no: the reducer looks for this divergence, not for crashes.
fn same_divergence(columns: &Columns, wat: &str, signature: &str, arguments_seed: u64) -> bool {
    let Ok(wasm) = wat::parse_str(wat) else {
        return false;
    };
    if Validator::new_with_features(WasmFeatures::WASM2)
        .validate_all(&wasm)
        .is_err()
        || Exports::of(&wasm).is_err()
    {
        return false;
    }
    let hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let outcome = catch_unwind(AssertUnwindSafe(|| {
        check_module(columns, &wasm, None, arguments_seed, false)
    }));
    std::panic::set_hook(hook);
    matches!(outcome, Ok(Err(divergence)) if same_signature(&divergence, signature))
}

fn same_signature(divergence: &Divergence, signature: &str) -> bool {
    divergence.signature == signature
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fuel_checks_stay_with_their_loop_or_function() {
        let wat = "(module\n  (func (;0;) (type 0)\n    (local i32)\n    global.get 3\n    \
                   i32.eqz\n    if ;; label = @1\n      unreachable\n    end\n    global.get 3\n    \
                   i32.const 1\n    i32.sub\n    global.set 3\n    nop\n    loop ;; label = @1\n      \
                   global.get 3\n      i32.eqz\n      if ;; label = @2\n        unreachable\n      \
                   end\n      global.get 3\n      i32.const 1\n      i32.sub\n      global.set 3\n    \
                   end\n  )\n)";
        let atoms = atoms(wat);
        let sizes: Vec<usize> = atoms.iter().map(Vec::len).collect();
        // `(module`; `(func`, `(local` and the entry check; `nop`; `loop`
        // and its check; `end`; `)`; `)`.
        assert_eq!(sizes, [1, 11, 1, 10, 1, 1, 1]);
        assert_eq!(atoms.concat().join("\n"), wat);
    }
}
