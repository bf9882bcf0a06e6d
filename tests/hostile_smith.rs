//! Hostile input: valid modules using every proposal wasmparser validates,
//! compiled (not run) by both tiers through the embedding API. No module
//! may make either tier panic, and no module the validator accepts may be
//! called invalid.
//!
//! Two randomized passes, each over a fixed range of seeds
//! (`duet_tests::rng`'s xorshift PRNG, so a seed names a module for good):
//!
//! 1. **wasm-smith with random features**
//!    (`random_features_never_panic_or_call_valid_modules_invalid`). Per
//!    seed:
//!    * *the module*: wasm-smith with each of its proposals switched on or
//!      off at random (SIMD, relaxed SIMD, exceptions, GC and typed
//!      function references, tail calls, memory64, multi-memory, threads
//!      and shared memory, shared-everything threads, custom page sizes,
//!      wide arithmetic, extended constants, bulk memory, reference types,
//!      multi-value, saturating conversions, sign extension, compact
//!      imports, custom descriptors, acquire/release atomics), with random
//!      over-long LEB128 encodings and NaN canonicalization. Every module is
//!      valid: wasm-smith's `allow_invalid_funcs` stays off;
//!    * *the engine's features*: `WasmFeatures::default()` (what
//!      `duet::Config` uses) or `WasmFeatures::all()` (legacy exceptions,
//!      stack switching, ... on too);
//!    * *the memory strategy*: 4 GiB reservations with guard pages, or none
//!      (explicit bounds checks).
//! 2. **Structured control** (`structured_control_in_unreachable_code`):
//!    random nestings of every construct (`block`, `loop`, `if`/`else`,
//!    `try_table`, and the legacy `try`/`catch_all`/`delegate` that
//!    wasm-smith never generates), of no result or an `i32`, mostly in
//!    unreachable code, with branches, `return` and `unreachable` between
//!    them (see [`soup`]), under `WasmFeatures::all()`. Every body must
//!    compile, or be refused for a `try_table` or `try` in reachable code.
//!
//! The oracle, for each tier (`duet::Module::new` under an `Engine` whose
//! `Config` selects winch or cranelift):
//!
//! 1. **no panic** (`catch_unwind`); a panic fails the test with the seed,
//!    the tier and the path of the module's bytes, saved under the system
//!    temp dir (`wasm-tools print` shows it as text; the structured-control
//!    pass prints the text itself);
//! 2. **no false "invalid"**: when
//!    `wasmparser::Validator::new_with_features(<the engine's features>)`
//!    accepts the module, `ErrorKind::Invalid` fails the test, and so does
//!    `ErrorKind::Compile` (a compiler bug by definition). `Unsupported` is
//!    fine: the summary counts it by reason (operator, type or proposal).
//!    A module the validator refuses (a proposal outside `default()`) is
//!    still compiled, and only a panic fails it.
//!
//! `cargo test` runs seeds `0..DEFAULT_ITERS` of the first pass and
//! `0..DEFAULT_SOUP_ITERS` of the second (about 7 s in the debug profile);
//! `DUET_HOSTILE_ITERS` sets how many seeds each pass runs and
//! `DUET_HOSTILE_FROM` the first, e.g. in release:
//!
//! ```text
//! DUET_HOSTILE_ITERS=200000 cargo test --release -p duet-tests --test hostile_smith -- --nocapture
//! ```
//!
//! `DUET_HOSTILE_PRINT=1` prints each structured-control body.
//!
//! Failures found this way are kept below as small regression modules,
//! each with a comment saying what broke.

use std::collections::BTreeMap;
use std::panic::{AssertUnwindSafe, catch_unwind};

use duet::{Compiler, Config, Engine, ErrorKind, Instance, Module, Store, TrapCode, Val};
use duet_environ::tunables::Tunables;
use duet_tests::env_u64;
use duet_tests::rng::XorShift;
use duet_tests::smith::{panic_message, save_module, smith_module};
use wasmparser::{Validator, WasmFeatures};

/// Seeds under plain `cargo test` (about 6 s of CPU in the debug profile),
/// unless `DUET_HOSTILE_ITERS` says otherwise.
const DEFAULT_ITERS: u64 = 20_000;

/// How many `Unsupported` reasons the summary lists per tier, commonest
/// first.
const SUMMARY_REASONS: usize = 30;

/// Both tiers, in the order the summary lists them.
const TIERS: [(Compiler, &str); 2] = [
    (Compiler::Winch, "winch"),
    (Compiler::Cranelift, "cranelift"),
];

/// The engine features a case validates and compiles under.
#[derive(Copy, Clone)]
enum Features {
    /// `WasmFeatures::default()`, what `duet::Config::new` uses.
    Default,
    /// `WasmFeatures::all()`.
    All,
}

impl Features {
    fn wasm_features(self) -> WasmFeatures {
        match self {
            Features::Default => WasmFeatures::default(),
            Features::All => WasmFeatures::all(),
        }
    }
}

/// The tunables: guard pages (the default), or no reservation at all, so
/// every access is bounds-checked explicitly.
fn tunables(explicit_bounds_checks: bool) -> Tunables {
    if explicit_bounds_checks {
        Tunables::NO_RESERVATION
    } else {
        Tunables::default()
    }
}

/// An engine compiling with `compiler` under `features` and `tunables`,
/// on the calling thread (a panic is caught where it happens).
fn engine(compiler: Compiler, features: Features, explicit_bounds_checks: bool) -> Engine {
    let mut config = Config::new();
    config
        .compiler(compiler)
        .wasm_features(features.wasm_features())
        .tunables(tunables(explicit_bounds_checks))
        .parallel_compilation(false);
    Engine::new(&config).expect("the host is supported")
}

/// One seed's choices.
struct Case {
    smith: wasm_smith::Config,
    features: Features,
    explicit_bounds_checks: bool,
}

/// The case for `seed`: every wasm-smith proposal on or off at random
/// (a stream of its own, apart from the module's bytes).
fn case(seed: u64) -> Case {
    let mut rng = XorShift::new(seed ^ 0x4057_11e5_eed5);
    let mut coin = || rng.next() & 1 == 1;
    let smith = wasm_smith::Config {
        simd_enabled: coin(),
        relaxed_simd_enabled: coin(),
        exceptions_enabled: coin(),
        // A quarter of the seeds: the module translation refuses most GC
        // modules before any body is compiled.
        gc_enabled: coin() && coin(),
        tail_call_enabled: coin(),
        memory64_enabled: coin(),
        threads_enabled: coin(),
        shared_everything_threads_enabled: coin(),
        custom_page_sizes_enabled: coin(),
        wide_arithmetic_enabled: coin(),
        extended_const_enabled: coin(),
        bulk_memory_enabled: coin(),
        reference_types_enabled: coin(),
        multi_value_enabled: coin(),
        saturating_float_to_int_enabled: coin(),
        sign_extension_ops_enabled: coin(),
        compact_imports_enabled: coin(),
        custom_descriptors_enabled: coin(),
        acquire_release_atomics_enabled: coin(),
        multibyte_array_access_enabled: coin(),
        canonicalize_nans: coin(),
        disallow_traps: coin(),
        ..wasm_smith::Config::default()
    };
    let features = if coin() {
        Features::All
    } else {
        Features::Default
    };
    let explicit_bounds_checks = coin();
    let mut pick = |choices: &[usize]| choices[(rng.next() % choices.len() as u64) as usize];
    let smith = wasm_smith::Config {
        // Several memories make multi-memory; up to 5 bytes per LEB128.
        max_memories: pick(&[1, 1, 2, 4]),
        max_tables: pick(&[1, 2, 3]),
        min_uleb_size: pick(&[1, 1, 1, 2, 5]) as u8,
        min_funcs: 1,
        max_funcs: 6,
        max_instructions: 200,
        max_nesting_depth: 10,
        max_types: 20,
        // Tags are refused before any body is compiled; without them,
        // `try_table` still comes with `catch_all` and `throw_ref`.
        max_tags: pick(&[0, 0, 1, 4]),
        ..smith
    };
    Case {
        smith,
        features,
        explicit_bounds_checks,
    }
}

/// What one tier made of one module.
#[derive(Debug)]
enum Outcome {
    Compiled,
    Unsupported(String),
    /// `ErrorKind::Invalid`, with its message.
    Invalid(String),
    /// Any other error (`ErrorKind::Compile` is a compiler bug).
    Other(String),
    /// The panic's message.
    Panic(String),
}

/// Compiles `wasm` with `engine`, catching a panic.
fn compile(engine: &Engine, wasm: &[u8]) -> Outcome {
    match catch_unwind(AssertUnwindSafe(|| Module::new(engine, wasm))) {
        Ok(Ok(_)) => Outcome::Compiled,
        Ok(Err(e)) => match e.downcast::<ErrorKind>() {
            Ok(ErrorKind::Unsupported(message)) => Outcome::Unsupported(message),
            Ok(ErrorKind::Invalid(message)) => Outcome::Invalid(message),
            Ok(e) => Outcome::Other(e.to_string()),
            Err(e) => Outcome::Other(e.to_string()),
        },
        Err(payload) => Outcome::Panic(panic_message(&*payload)),
    }
}

/// What an `Unsupported` message refuses, for the summary: the operator
/// or type it names in backquotes, else the feature after its offset
/// (`unsupported WebAssembly feature at offset 0x..: gc: subtyping`), else
/// the message.
fn reason(message: &str) -> String {
    if let Some(start) = message.find('`')
        && let Some(len) = message[start + 1..].find('`')
    {
        return message[start + 1..start + 1 + len].to_string();
    }
    if let Some(at) = message.find(" at offset ")
        && let Some(colon) = message[at..].find(": ")
    {
        return message[at + colon + 2..].to_string();
    }
    message.to_string()
}

/// Whether the validator, with `features`, accepts `wasm`.
fn validates(wasm: &[u8], features: WasmFeatures) -> bool {
    Validator::new_with_features(features)
        .validate_all(wasm)
        .is_ok()
}

/// Per-tier counts for the summary.
#[derive(Default)]
struct Tally {
    compiled: u64,
    unsupported: BTreeMap<String, u64>,
    /// Errors on modules the engine's validator refuses (expected).
    refused: u64,
}

#[test]
fn random_features_never_panic_or_call_valid_modules_invalid() {
    let from = env_u64("DUET_HOSTILE_FROM").unwrap_or(0);
    let iters = env_u64("DUET_HOSTILE_ITERS").unwrap_or(DEFAULT_ITERS);
    // Engines by (tier, features, explicit bounds checks), made once.
    let engines: Vec<Vec<[Engine; 2]>> = TIERS
        .iter()
        .map(|&(compiler, _)| {
            [Features::Default, Features::All]
                .iter()
                .map(|&f| [engine(compiler, f, false), engine(compiler, f, true)])
                .collect()
        })
        .collect();
    let mut tallies: Vec<Tally> = TIERS.iter().map(|_| Tally::default()).collect();
    let mut failures = Vec::new();
    let (mut modules, mut outside_features) = (0u64, 0u64);
    for seed in from..from + iters {
        let case = case(seed);
        let Some(wasm) = smith_module(seed, &case.smith, 256, 8192) else {
            continue;
        };
        modules += 1;
        let valid = validates(&wasm, case.features.wasm_features());
        if !valid {
            outside_features += 1;
        }
        for (tier, &(_, name)) in TIERS.iter().enumerate() {
            let engine =
                &engines[tier][case.features as usize][case.explicit_bounds_checks as usize];
            let tally = &mut tallies[tier];
            let failure = match compile(engine, &wasm) {
                Outcome::Panic(message) => Some(format!("PANIC: {message}")),
                _ if !valid => {
                    tally.refused += 1;
                    None
                }
                Outcome::Compiled => {
                    tally.compiled += 1;
                    None
                }
                Outcome::Unsupported(message) => {
                    *tally.unsupported.entry(reason(&message)).or_default() += 1;
                    None
                }
                Outcome::Invalid(message) => {
                    Some(format!("a valid module called invalid: {message}"))
                }
                Outcome::Other(message) => Some(message),
            };
            if let Some(failure) = failure {
                let path = save_module(&format!("hostile-smith-{seed}"), &wasm);
                failures.push(format!("seed {seed}, {name}: {failure}, module {path}"));
            }
        }
    }
    println!(
        "hostile_smith: seeds {from}..{}, {modules} modules, {outside_features} outside the engine's features",
        from + iters
    );
    for (tally, (_, name)) in tallies.iter().zip(TIERS) {
        let unsupported: u64 = tally.unsupported.values().sum();
        let mut reasons: Vec<_> = tally.unsupported.iter().collect();
        reasons.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
        println!(
            "  {name}: {} compiled, {unsupported} unsupported, {} refused outside the features; \
             unsupported by reason ({} reasons):",
            tally.compiled,
            tally.refused,
            reasons.len()
        );
        for (reason, count) in reasons.iter().take(SUMMARY_REASONS) {
            println!("    {count:7} {reason}");
        }
        if reasons.len() > SUMMARY_REASONS {
            let rest: u64 = reasons[SUMMARY_REASONS..].iter().map(|(_, n)| **n).sum();
            println!(
                "    {rest:7} ({} other reasons)",
                reasons.len() - SUMMARY_REASONS
            );
        }
    }
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

// ---- Structured control in unreachable code ------------------------------------

/// Seeds of the structured-control pass under plain `cargo test`, unless
/// `DUET_HOSTILE_ITERS` says otherwise.
const DEFAULT_SOUP_ITERS: u64 = 5000;

/// The kind of a construct the soup generator has open.
#[derive(Copy, Clone, PartialEq)]
enum Construct {
    Block,
    Loop,
    If {
        has_else: bool,
    },
    TryTable,
    /// A legacy `try`, before or after its `catch_all`.
    Try {
        catching: bool,
    },
}

/// One open construct: its kind, whether it yields an `i32`, and whether
/// the code at this point in it is dead (after `unreachable`, `br`,
/// `return`, or inside a construct opened dead).
struct Open {
    construct: Construct,
    typed: bool,
    dead: bool,
}

/// A function body of random structured control, with every construct
/// wasmparser knows (`block`, `loop`, `if`/`else`, `try_table` with
/// `catch_all` clauses, legacy `try` with `catch_all` and `delegate`), each
/// of no result or one `i32`, in reachable and (mostly) unreachable code,
/// with branches, `return` and `unreachable` in between. Valid under
/// `WasmFeatures::all()` by construction. `try_table` and `try` are
/// opened in live code only now and then: both tiers refuse them there.
fn soup(seed: u64) -> String {
    let mut rng = XorShift::new(seed ^ 0x50_0b);
    let mut open: Vec<Open> = Vec::new();
    let mut body = Vec::new();
    let len = 10 + rng.below(100);
    let dead = |open: &Vec<Open>| open.last().is_some_and(|o| o.dead);
    // The label of the frame `depth` out: whether a branch there carries
    // an `i32` (a loop's label takes its parameters: none here).
    let carries = |open: &Vec<Open>, depth: usize| {
        let o = &open[open.len() - 1 - depth];
        o.typed && o.construct != Construct::Loop
    };
    for _ in 0..len {
        let is_dead = dead(&open);
        let typed = rng.below(3) == 0;
        let result = if typed { " (result i32)" } else { "" };
        // The function's own code only opens constructs: after a trap
        // there, everything up to its end would be dead.
        let action = if open.is_empty() { 0 } else { rng.below(12) };
        match action {
            0 | 1 if open.len() < 12 => {
                let construct = match rng.below(5) {
                    0 => Construct::Block,
                    1 => Construct::Loop,
                    2 => Construct::If { has_else: false },
                    _ if !is_dead && rng.below(8) != 0 => Construct::Block,
                    3 => Construct::TryTable,
                    _ => Construct::Try { catching: false },
                };
                match construct {
                    Construct::Block => body.push(format!("block{result}")),
                    Construct::Loop => body.push(format!("loop{result}")),
                    Construct::If { .. } => body.push(format!("i32.const 1 if{result}")),
                    Construct::TryTable => {
                        // `catch_all` needs a label without values.
                        let labels: Vec<usize> =
                            (0..open.len()).filter(|&d| !carries(&open, d)).collect();
                        let mut clauses = String::new();
                        for _ in 0..rng.below(3) {
                            if !labels.is_empty() {
                                let label = rng.pick(&labels);
                                clauses.push_str(&format!(" (catch_all {label})"));
                            }
                        }
                        body.push(format!("try_table{result}{clauses}"));
                    }
                    Construct::Try { .. } => body.push(format!("try{result}")),
                }
                open.push(Open {
                    construct,
                    typed,
                    dead: is_dead,
                });
            }
            2 if !open.is_empty() => {
                // An `else` or `catch_all` where the construct allows one.
                // The arm is as reachable as the construct's start.
                let start_dead = open.len() > 1 && open[open.len() - 2].dead;
                let top = open.last_mut().unwrap();
                let divider = match top.construct {
                    Construct::If { has_else: false } => {
                        top.construct = Construct::If { has_else: true };
                        "else"
                    }
                    Construct::Try { catching: false } => {
                        top.construct = Construct::Try { catching: true };
                        "catch_all"
                    }
                    _ => continue,
                };
                if top.typed {
                    body.push("i32.const 2".to_string());
                }
                body.push(divider.to_string());
                top.dead = start_dead;
            }
            3..=5 if !open.is_empty() => {
                let top = open.pop().unwrap();
                if top.typed {
                    body.push("i32.const 3".to_string());
                }
                match top.construct {
                    // An `if` with a result needs its `else`.
                    Construct::If { has_else: false } if top.typed => {
                        body.push("else i32.const 4 end".to_string())
                    }
                    Construct::Try { catching: false } if rng.below(2) == 0 => {
                        body.push(format!("delegate {}", rng.below(open.len() as u64 + 1)))
                    }
                    _ => body.push("end".to_string()),
                }
                if top.typed {
                    body.push("drop".to_string());
                }
            }
            6 => {
                body.push("unreachable".to_string());
                if let Some(top) = open.last_mut() {
                    top.dead = true;
                }
            }
            7 => {
                // A branch to any label, the function's included.
                let depth = rng.below(open.len() as u64 + 1) as usize;
                if depth < open.len() && carries(&open, depth) {
                    body.push("i32.const 5".to_string());
                }
                body.push(format!("br {depth}"));
                if let Some(top) = open.last_mut() {
                    top.dead = true;
                }
            }
            8 => {
                body.push("return".to_string());
                if let Some(top) = open.last_mut() {
                    top.dead = true;
                }
            }
            9 => body.push("i32.const 6 drop".to_string()),
            _ => body.push("nop".to_string()),
        }
    }
    while let Some(top) = open.pop() {
        if top.typed {
            body.push("i32.const 3".to_string());
        }
        match top.construct {
            Construct::If { has_else: false } if top.typed => {
                body.push("else i32.const 4 end".to_string())
            }
            _ => body.push("end".to_string()),
        }
        if top.typed {
            body.push("drop".to_string());
        }
    }
    format!("(module (func (export \"f\")\n  {}))", body.join("\n  "))
}

/// Random structured control (see [`soup`]) compiles under both tiers,
/// or is refused as unsupported for a `try_table` or `try` in reachable
/// code; never a panic, never "invalid".
#[test]
fn structured_control_in_unreachable_code() {
    let from = env_u64("DUET_HOSTILE_FROM").unwrap_or(0);
    let iters = env_u64("DUET_HOSTILE_ITERS").unwrap_or(DEFAULT_SOUP_ITERS);
    let engines: Vec<Engine> = TIERS
        .iter()
        .map(|&(compiler, _)| engine(compiler, Features::All, false))
        .collect();
    let mut failures = Vec::new();
    let (mut compiled, mut unsupported) = (0u64, 0u64);
    for seed in from..from + iters {
        let wat = soup(seed);
        if std::env::var_os("DUET_HOSTILE_PRINT").is_some() {
            println!("seed {seed}:\n{wat}");
        }
        let wasm = wat::parse_str(&wat).expect("the generator writes valid text");
        if let Err(e) = Validator::new_with_features(WasmFeatures::all()).validate_all(&wasm) {
            failures.push(format!(
                "seed {seed}: the generator made an invalid body: {e}\n{wat}"
            ));
            continue;
        }
        for (engine, (_, name)) in engines.iter().zip(TIERS) {
            match compile(engine, &wasm) {
                Outcome::Compiled => compiled += 1,
                Outcome::Unsupported(m) if ["try", "try_table"].contains(&reason(&m).as_str()) => {
                    unsupported += 1
                }
                Outcome::Unsupported(m) | Outcome::Invalid(m) | Outcome::Other(m) => {
                    failures.push(format!("seed {seed}, {name}: {m}\n{wat}"))
                }
                Outcome::Panic(m) => {
                    failures.push(format!("seed {seed}, {name}: PANIC: {m}\n{wat}"))
                }
            }
        }
    }
    println!(
        "structured control: seeds {from}..{}, {compiled} compiled, {unsupported} unsupported",
        from + iters
    );
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

// ---- Regressions -------------------------------------------------------------

/// What each tier makes of `wat` under `features`, with guard pages and
/// with explicit bounds checks: (tier, outcome), four in all. The module
/// must be valid under `features` (or the regression tests nothing).
fn outcomes(wat: &str, features: Features) -> Vec<(&'static str, Outcome)> {
    let wasm = wat::parse_str(wat).expect("the regression module parses");
    if let Err(e) = Validator::new_with_features(features.wasm_features()).validate_all(&wasm) {
        panic!("the regression module is invalid: {e}");
    }
    let mut out = Vec::new();
    for (compiler, name) in TIERS {
        for explicit in [false, true] {
            out.push((name, compile(&engine(compiler, features, explicit), &wasm)));
        }
    }
    out
}

/// `wat` compiles under both tiers.
fn compiles(wat: &str, features: Features) {
    for (tier, outcome) in outcomes(wat, features) {
        match outcome {
            Outcome::Compiled => {}
            Outcome::Unsupported(m) | Outcome::Invalid(m) | Outcome::Other(m) => {
                panic!("{tier}: {m}")
            }
            Outcome::Panic(m) => panic!("{tier} panicked: {m}"),
        }
    }
}

/// Under both tiers (and both memory strategies), export `f` of `wat`
/// called with the `i32` `arg` returns `expected` (`None`: traps with
/// `unreachable`). Checks that the code after a construct in unreachable
/// code is compiled right, not only that it compiles.
fn calls(wat: &str, features: Features, arg: i32, expected: Option<i32>) {
    for (compiler, tier) in TIERS {
        for explicit in [false, true] {
            let engine = engine(compiler, features, explicit);
            let module = Module::new(&engine, wat).unwrap_or_else(|e| panic!("{tier}: {e}"));
            let mut store = Store::new(&engine, ());
            let instance = Instance::new(&mut store, &module, &[]).expect("instantiates");
            let f = instance.get_func(&store, "f").unwrap().expect("exports f");
            let mut results = [Val::I32(0)];
            match (f.call(&mut store, &[Val::I32(arg)], &mut results), expected) {
                (Ok(()), Some(expected)) => {
                    assert_eq!(results[0].i32(), Some(expected), "{tier}: f({arg})")
                }
                (Err(e), None) => assert_eq!(
                    e.downcast_ref::<duet::Trap>().map(|t| t.code()),
                    Some(TrapCode::UnreachableCodeReached),
                    "{tier}: f({arg})"
                ),
                (outcome, _) => panic!("{tier}: f({arg}) gave {outcome:?}, not {expected:?}"),
            }
        }
    }
}

/// Both tiers refuse `wat` as unsupported, naming `what` at `offset`.
fn unsupported_at(wat: &str, features: Features, what: &str, offset: u64) {
    for (tier, outcome) in outcomes(wat, features) {
        match outcome {
            Outcome::Unsupported(m) => {
                assert_eq!(reason(&m), what, "{tier}: {m}");
                assert!(m.contains(&format!("at offset {offset:#x}")), "{tier}: {m}");
            }
            Outcome::Compiled => panic!("{tier} compiled it"),
            Outcome::Invalid(m) | Outcome::Other(m) => panic!("{tier}: {m}"),
            Outcome::Panic(m) => panic!("{tier} panicked: {m}"),
        }
    }
}

/// The byte offset of the `n`th operator (from 0) of the first function
/// body of `wat`.
fn operator_offset(wat: &str, n: usize) -> u64 {
    let wasm = wat::parse_str(wat).unwrap();
    for payload in wasmparser::Parser::new(0).parse_all(&wasm) {
        if let wasmparser::Payload::CodeSectionEntry(body) = payload.unwrap() {
            let mut reader = body.get_operators_reader().unwrap();
            for _ in 0..n {
                reader.read().unwrap();
            }
            return reader.original_position();
        }
    }
    panic!("no function body")
}

/// The issue's first module (and 689 of 200,000 random ones): a
/// `try_table` in unreachable code. Only `block`, `loop`, `if`, `else` and
/// `end` were followed there, so its frame was never opened and its `end`
/// closed the function's: the optimizing tier indexed an empty control
/// stack (index out of bounds in `translate_end`), and the baseline tier,
/// whose decoder asked the code generator's frames which construct it was
/// in, called the function's real `end` "operators remaining after end of
/// function body".
#[test]
fn try_table_in_unreachable_code() {
    compiles(
        r#"(module (func (export "f") unreachable try_table end))"#,
        Features::Default,
    );
}

/// The issue's second module: with code after the `try_table`, the
/// baseline tier went on compiling after the function's premature end,
/// with an empty value stack under `f32.neg` ("validated" in float.rs).
#[test]
fn try_table_in_unreachable_code_followed_by_code() {
    compiles(
        r#"(module (func (result f32) unreachable try_table end f32.const 1 f32.neg))"#,
        Features::Default,
    );
}

/// The shape behind the random modules' "`else` found outside `If`
/// block" (baseline) and "the validator checked the operand stack's
/// height" (optimizing): a `try_table` in the unreachable end of an `if`'s
/// then arm closed the `if` early, so the baseline tier's decoder refused
/// the `else`, and the optimizing tier took the `if`'s values off the
/// enclosing frame.
#[test]
fn try_table_with_catches_in_an_unreachable_then_arm() {
    let wat = r#"(module
          (func (export "f") (param i32) (result i32)
            i32.const 1
            local.get 0
            if (result i32)
              unreachable
              block
                try_table (result i32) (catch_all 0)
                  i32.const 1
                end
                drop
              end
              i32.const 2
            else
              i32.const 3
            end
            i32.add))"#;
    compiles(wat, Features::Default);
    calls(wat, Features::Default, 0, Some(4));
    calls(wat, Features::Default, 1, None);
}

/// The legacy exception operators in unreachable code (wasm-smith never
/// makes them): `try` opens a frame, `catch_all` divides it, `delegate`
/// closes it, `rethrow` ends a catch arm. Each is followed by code that is
/// reachable again and uses the enclosing frames' values. (`catch` needs a
/// tag, and modules with tags are refused before any body is compiled.)
#[test]
fn legacy_try_in_unreachable_code() {
    let wat = r#"(module
          (func (export "f") (param i32) (result i32)
            i32.const 5
            block (result i32)
              i32.const 1
              br 0
              try (result i32)
                i32.const 2
              catch_all
                i32.const 4
              end
              try
                nop
              delegate 0
              try (param i32) (result i32)
              catch_all
                try
                catch_all
                  rethrow 0
                end
                i32.const 6
              end
            end
            local.get 0
            if (result i32)
              unreachable
              try
              catch_all
              end
              i32.const 7
            else
              i32.const 8
            end
            i32.add
            i32.add))"#;
    compiles(wat, Features::All);
    calls(wat, Features::All, 0, Some(5 + 1 + 8));
    calls(wat, Features::All, 1, None);
}

/// Reachable, the operators neither tier compiles are refused by name at
/// their offset, not called invalid and not a panic.
#[test]
fn exception_operators_in_reachable_code_are_unsupported_by_name() {
    let try_table = r#"(module (func try_table end))"#;
    unsupported_at(
        try_table,
        Features::Default,
        "try_table",
        operator_offset(try_table, 0),
    );
    let legacy_try = r#"(module (func nop try catch_all end))"#;
    unsupported_at(
        legacy_try,
        Features::All,
        "try",
        operator_offset(legacy_try, 1),
    );
}

/// A `v128` in a function's signature, once refused by the optimizing tier
/// at the body's start (and by the baseline tier, when it had no SIMD, at
/// "offset 0x0": it checked the signature before setting any offset), is
/// compiled by both tiers.
#[test]
fn v128_in_a_signature_compiles_in_both_tiers() {
    let param = r#"(module (func (param v128)))"#;
    let result = r#"(module (func (result v128) unreachable))"#;
    let both = r#"(module (func (param v128) (result v128) local.get 0))"#;
    for wat in [param, result, both] {
        for (tier, outcome) in outcomes(wat, Features::Default) {
            assert!(
                matches!(outcome, Outcome::Compiled),
                "{tier}: {wat}: {outcome:?}"
            );
        }
    }
}

/// `ref.null exn` (exceptions, no tag needed): the optimizing tier named
/// the type by wasmparser's `Debug` spelling of its heap type, "`(ref null
/// Abstract { shared: false, ty: Exn })`"; it is `exnref` now.
#[test]
fn unsupported_reference_types_are_named_as_the_text_format_spells_them() {
    let wat = r#"(module (func ref.null exn drop))"#;
    for (tier, outcome) in outcomes(wat, Features::Default) {
        let Outcome::Unsupported(m) = outcome else {
            panic!("{tier}: not unsupported");
        };
        if tier == "cranelift" {
            assert_eq!(reason(&m), "exnref", "{m}");
        }
    }
}
