//! Differential execution: duet's compilers against the wasmi interpreter.
//!
//! One module, several engines ("columns"), the same calls; every outcome
//! and every piece of exported state must agree with the reference's.
//!
//! ```text
//!   seed / fuzz bytes ──► wasm-smith (generate.rs) ──► module + fuel export
//!                                         │
//!          ┌──────────────────────────────┴─────────────────────┐
//!          ▼                                                    ▼
//!   wasmi (reference,            duet, a column for each of:
//!   `simd` feature on; for         winch: guard pages; explicit bounds checks;
//!   relaxed SIMD, duet's first            guard pages on SSE4.1 only
//!   column instead)                cranelift: the same three
//!          └──── instantiate: all succeed, or all trap alike ───┘
//!                                   │
//!        for each round, for each exported function, in export order:
//!          refill the fuel global; call with the same arguments;
//!          compare the outcome, then every exported global, memory
//!          and table (value.rs says what "agree" means)
//! ```
//!
//! # What is compared
//!
//! * **Instantiation**: refused by the reference (wasmi's own limits):
//!   the module is skipped, counted by reason. Refused by a duet column:
//!   a divergence (both tiers must take every WebAssembly 2.0 module, SIMD
//!   and relaxed SIMD included, on the host's features and on SSE4.1
//!   alike). A trap in one (a segment out of bounds, a trapping start
//!   function) must be a trap of the same kind in all.
//! * **Relaxed SIMD**: the spec lets engines differ, but duet's tiers
//!   promise the same choices (`duet_environ::simd`), so a module that
//!   uses a relaxed operator ([`Uses`]) has the first column (the
//!   baseline tier on the host's features) as its reference and the other
//!   duet columns compared with it; wasmi takes no part.
//! * **Calls**: every exported function, [`ROUNDS`] times, with arguments
//!   drawn from the seed (edge values mostly; a `v128`'s lanes too).
//!   Results compare by bits, except that an `f32` or `f64` NaN agrees
//!   with any NaN (a `v128` compares bit for bit, NaN lanes included:
//!   see below); traps compare by kind. A
//!   stack overflow agrees with any trap (the engines' limits differ), but
//!   each engine got a different distance before it, so the module's
//!   comparison ends there, as a skip; so does a stack overflow in one
//!   engine where the other finished.
//! * **State** after every call: each exported global (the fuel left
//!   included: the same number of loop iterations and calls ran), the
//!   bytes of each exported memory (its size with them), and each exported
//!   table's elements (functions named by their export, extern references
//!   by the number the harness gave them).
//!
//! # Why the comparison is sound
//!
//! Everything a generated module does is deterministic in WebAssembly
//! 2.0 except NaN payloads, resource exhaustion and stack limits (and
//! relaxed SIMD, compared only between duet's tiers, as above):
//! `generate.rs` canonicalizes NaNs in the module itself, memories and
//! tables have small maxima (growth beyond them fails in every engine, and
//! below them neither engine runs out), and stack overflows are compared
//! as above. Every call terminates because of the fuel; the stack budget
//! ([`STACK_BYTES`] for duet, `2 * FUEL` frames for wasmi) is well above
//! what `FUEL` calls deep can use, so overflows should not happen at all
//! (none has, in hundreds of thousands of modules).
//!
//! One nondeterminism is left on purpose: wasm-smith does not canonicalize
//! the NaN of `f32.demote_f64` and `f64.promote_f32`. Both engines convert
//! with x86's CVTSD2SS and CVTSS2SD (wasmi through Rust's `as`), which
//! keep the payload's top bits, so they agree; a third engine on another
//! machine might not.
//!
//! ## SIMD
//!
//! A `v128` (a result, a global, sixteen bytes of memory) compares bit for
//! bit. That is exact, not merely strict, because every vector operator
//! whose NaN results the spec leaves open is either canonicalized or
//! computed alike by both engines:
//!
//! * the arithmetic (`f32x4`/`f64x2` `add`, `sub`, `mul`, `div`, `sqrt`,
//!   `min`, `max`, `ceil`, `floor`, `trunc`, `nearest`): wasm-smith
//!   follows each with a `v128.bitselect` of the canonical NaN into the
//!   lanes where `eq` of the result with itself is false, as it does for
//!   the scalar operators;
//! * `abs`, `neg`, `pmin`, `pmax`, `splat`, `extract_lane`,
//!   `replace_lane`, shuffles, loads and stores move or select bits
//!   without arithmetic, so a NaN lane (an argument's, with its payload)
//!   comes out unchanged in every correct engine;
//! * `f32x4.demote_f64x2_zero` and `f64x2.promote_low_f32x4` are not
//!   canonicalized, as their scalar forms are not: both engines run x86's
//!   conversions (CVTPD2PS/CVTPS2PD in duet, CVTSD2SS/CVTSS2SD lane by lane
//!   in wasmi), which quiet a NaN and keep its payload's top bits alike;
//! * comparisons, conversions to integers (saturating) and the integer
//!   operators have one result for every input.
//!
//! Relaxed SIMD is left out (neither generated nor accepted by the
//! reference): its results are implementation-defined, so no bitwise
//! oracle exists for it.
//!
//! # The oracle
//!
//! wasmi is an interpreter with its own parser fork, translator and
//! executor, so a misreading of the spec it shares with duet is unlikely.
//! It is pinned to 1.1.0: 2.0.0, the newest, miscompiles a `select` whose
//! condition is a fused `i32.eqz` (`tests/differential.rs`,
//! `wasmi_2_select_of_eqz`, fails on it).
//!
//! # Reproducing and reducing
//!
//! A [`Divergence`] prints how to replay it (a seed, or the module's file
//! and the seed of its arguments), the module as text, the calls before it
//! and every column's outcome. [`reduce`] deletes the module's lines while
//! the divergence keeps its [`Divergence::signature`]; the `reduce` and
//! `wat_file` tests of `tests/differential.rs` drive it from the command
//! line.
//!
//! # Adding a column
//!
//! A column is a [`Tier`]. [`Columns::new`] asks duet's engine for every
//! [`Compiler`](duet::Compiler); a compiler `Engine::new` refuses (one
//! the build leaves out) is absent, and [`Columns::describe`] says so.

mod duet_tier;
mod generate;
mod reduce;
mod value;
mod wasmi_tier;

pub use duet_tier::{Bounds, DuetTier};
pub use generate::{
    Exports, FUEL, FUEL_EXPORT, Instructions, MAX_MEMORY_BYTES, MAX_TABLE_ELEMENTS, Uses,
    add_export, arguments, instructions_for_seed, module_for_seed, module_from_bytes, smith_config,
    uses_relaxed_simd, uses_simd,
};
pub use reduce::reduce;
pub use value::{Agreement, Outcome, State, TrapKind, Value, agreement};
pub use wasmi_tier::WasmiTier;

use crate::rng::XorShift;
use core::fmt;
use std::collections::BTreeMap;
use value::{show_outcome, show_values};

/// How many times each exported function is called (with new arguments
/// each time; the state carries over).
pub const ROUNDS: usize = 2;

/// The native stack duet's wasm may use, in bytes. The comparison runs on
/// a thread of its own ([`on_comparison_stack`]) with room for it.
pub const STACK_BYTES: usize = 32 << 20;

/// The stack size of the comparison thread: wasm's budget plus ample room
/// for the harness, the engines and the trap handler's host frames.
const THREAD_STACK_BYTES: usize = STACK_BYTES + (32 << 20);

/// One engine configuration under comparison.
pub trait Tier {
    /// The column's name in reports.
    fn name(&self) -> &str;

    /// Compiles and instantiates `wasm` (which has no imports), running its
    /// start function.
    fn instantiate(&self, wasm: &[u8]) -> Result<Box<dyn TierInstance>, Instantiation>;
}

/// An instance in one column.
pub trait TierInstance {
    /// Calls the exported function `func` with `args` (of its parameter
    /// types).
    fn call(&mut self, func: &str, args: &[Value]) -> Outcome;

    /// Sets the exported mutable global `name`.
    fn set_global(&mut self, name: &str, value: &Value);

    /// The exported globals, memories and tables that `exports` lists.
    fn state(&mut self, exports: &Exports) -> State;
}

/// Why a column has no instance.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Instantiation {
    /// The engine does not take the module (invalid, a limit of its own),
    /// with its message.
    Refused(String),
    /// The engine does not implement something the module uses (duet's
    /// `duet::ErrorKind::Unsupported`), with its message.
    Unsupported(String),
    /// Instantiation trapped.
    Trapped(TrapKind),
}

impl fmt::Display for Instantiation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Instantiation::Refused(why) => write!(f, "refused: {why}"),
            Instantiation::Unsupported(why) => write!(f, "refused as unsupported: {why}"),
            Instantiation::Trapped(kind) => write!(f, "{kind} while instantiating"),
        }
    }
}

/// The reference and the columns compared with it.
pub struct Columns {
    reference: WasmiTier,
    tiers: Vec<Box<dyn Tier>>,
    absent: Vec<String>,
}

impl Default for Columns {
    fn default() -> Columns {
        Columns::new()
    }
}

impl Columns {
    /// wasmi as the reference; duet with each compiler its engine accepts,
    /// with guard pages and with explicit bounds checks, on the host's CPU
    /// features; each compiler once more limited to SSE4.1 (the least
    /// their SIMD needs), so that the SSE4.1 sequences are compared as
    /// well as the AVX forms the host allows; and each compiler metered,
    /// with fuel and every epoch check's slow path taken
    /// ([`DuetTier::new`]); and tier-up, plain and metered, eager and
    /// synchronous: each export's first call runs baseline code, its
    /// second the optimized code. The first column is the baseline tier on
    /// the host's features: the reference of relaxed SIMD modules.
    pub fn new() -> Columns {
        use duet::{Compiler, CpuPreset};
        let mut tiers: Vec<Box<dyn Tier>> = Vec::new();
        let mut absent = Vec::new();
        let columns = [
            (Compiler::Winch, Bounds::GuardPages, CpuPreset::Host, false),
            (Compiler::Winch, Bounds::Explicit, CpuPreset::Host, false),
            (Compiler::Winch, Bounds::GuardPages, CpuPreset::Sse41, false),
            (Compiler::Winch, Bounds::GuardPages, CpuPreset::Host, true),
            (
                Compiler::Cranelift,
                Bounds::GuardPages,
                CpuPreset::Host,
                false,
            ),
            (
                Compiler::Cranelift,
                Bounds::Explicit,
                CpuPreset::Host,
                false,
            ),
            (
                Compiler::Cranelift,
                Bounds::GuardPages,
                CpuPreset::Sse41,
                false,
            ),
            (
                Compiler::Cranelift,
                Bounds::GuardPages,
                CpuPreset::Host,
                true,
            ),
            (Compiler::Tiered, Bounds::GuardPages, CpuPreset::Host, false),
            (Compiler::Tiered, Bounds::GuardPages, CpuPreset::Host, true),
        ];
        for (compiler, bounds, cpu, metered) in columns {
            match DuetTier::new(compiler, bounds, cpu, STACK_BYTES, metered) {
                Ok(tier) => tiers.push(Box::new(tier)),
                Err(why) if bounds == Bounds::GuardPages => {
                    absent.push(format!("{compiler:?} on {cpu} ({why})"))
                }
                Err(_) => {}
            }
        }
        Columns {
            reference: WasmiTier::new(2 * FUEL as usize),
            tiers,
            absent,
        }
    }

    /// A one-line description: the columns, and those duet refused.
    pub fn describe(&self) -> String {
        let names: Vec<&str> = self.tiers.iter().map(|t| t.name()).collect();
        let mut line = format!(
            "reference {}; columns: {}",
            self.reference.name(),
            names.join(", ")
        );
        if !self.absent.is_empty() {
            line.push_str(&format!("; absent: {}", self.absent.join(", ")));
        }
        line
    }
}

/// Why a module, or the rest of it, was not compared.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Skip {
    /// wasmi does not take the module (one of its limits).
    ReferenceRefused(String),
    /// A call or the start function trapped everywhere, and by a stack
    /// overflow somewhere: the states are no longer comparable.
    StackOverflowed {
        /// A column that overflowed, or whose trap met the reference's
        /// overflow.
        tier: String,
        /// The function called.
        func: String,
    },
    /// One engine overflowed its stack where the other finished.
    StackLimitsDiffer {
        /// The column that disagreed with the reference.
        tier: String,
        /// The function called.
        func: String,
    },
}

impl Skip {
    /// The reason's category, for counting.
    pub fn category(&self) -> &'static str {
        match self {
            Skip::ReferenceRefused(_) => "wasmi refused the module",
            Skip::StackOverflowed { .. } => "a stack overflow (the rest not compared)",
            Skip::StackLimitsDiffer { .. } => "stack overflow on one side only",
        }
    }
}

/// How a module's comparison ended without a divergence.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Verdict {
    /// What the module uses (SIMD, relaxed SIMD).
    pub uses: Uses,
    /// Calls compared (each against every column).
    pub calls: u64,
    /// How the compared calls ended: "returned", or the trap.
    pub outcomes: BTreeMap<String, u64>,
    /// Instantiation trapped in every engine, alike.
    pub instantiation_trapped: bool,
    /// Why the module, or its remaining calls, were skipped.
    pub skipped: Option<Skip>,
}

/// A disagreement between the reference and a column, with what it takes
/// to reproduce it.
#[derive(Clone, Debug)]
pub struct Divergence {
    /// The module.
    pub wasm: Vec<u8>,
    /// The seed that generated it, if a seed did.
    pub seed: Option<u64>,
    /// The seed of the calls' arguments.
    pub arguments_seed: u64,
    /// The reference (wasmi, or for relaxed SIMD a duet column).
    pub reference: String,
    /// The columns that disagreed with it.
    pub tiers: Vec<String>,
    /// What kind of disagreement this is, without values (e.g. `call:
    /// IntegerDivisionByZero / Unreachable`, `state: memory`): a reduced
    /// module must keep it.
    pub signature: String,
    /// What disagreed: the call with its arguments and both outcomes, or
    /// the state after it, or instantiation.
    pub what: String,
    /// The calls made before, in order, with their (agreed) outcomes: the
    /// state the divergent call started from.
    pub history: Vec<String>,
}

impl fmt::Display for Divergence {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = match self.seed {
            Some(seed) => format!("duet-differential-{seed}.wasm"),
            None => format!("duet-differential-{:016x}.wasm", fnv1a(&self.wasm)),
        };
        let path = std::env::temp_dir().join(name);
        let saved = std::fs::write(&path, &self.wasm);
        match self.seed {
            Some(seed) => writeln!(
                f,
                "DIVERGENCE at seed {seed} (reproduce: DUET_DIFF_SEED={seed} cargo test -p \
                 duet-tests --test differential -- --nocapture seeds)"
            )?,
            None => writeln!(
                f,
                "DIVERGENCE (reproduce: DUET_DIFF_WAT={} DUET_DIFF_ARGS={} cargo test -p \
                 duet-tests --test differential -- --ignored --nocapture wat_file)",
                path.display(),
                self.arguments_seed
            )?,
        }
        writeln!(
            f,
            "{} versus {}: {}",
            self.reference,
            self.tiers.join(", "),
            self.what
        )?;
        if self.history.is_empty() {
            writeln!(f, "(no calls before it)")?;
        } else {
            writeln!(f, "calls before it, all agreeing:")?;
            for call in &self.history {
                writeln!(f, "  {call}")?;
            }
        }
        match saved {
            Ok(()) => writeln!(f, "module: {}", path.display())?,
            Err(e) => writeln!(f, "module: (could not write {}: {e})", path.display())?,
        }
        match wasmprinter::print_bytes(&self.wasm) {
            Ok(wat) => write!(f, "{wat}"),
            Err(e) => write!(f, "(wasmprinter failed: {e})"),
        }
    }
}

/// FNV-1a: names a module or input by its bytes.
pub fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, &b| {
        (hash ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// Runs `f` on a thread whose stack holds [`STACK_BYTES`] of wasm, and
/// returns its result (a panic is resumed here).
pub fn on_comparison_stack<R: Send>(f: impl FnOnce() -> R + Send) -> R {
    std::thread::scope(|scope| {
        let thread = std::thread::Builder::new()
            .name("differential".to_string())
            .stack_size(THREAD_STACK_BYTES)
            .spawn_scoped(scope, f)
            .expect("a thread for the comparison");
        match thread.join() {
            Ok(result) => result,
            Err(panic) => std::panic::resume_unwind(panic),
        }
    })
}

/// Compares every column with the reference on `wasm`, with arguments
/// drawn from `arguments_seed`. `seed` is only reported. With `trace`,
/// every call and its outcome is printed. Call it on
/// [`on_comparison_stack`].
pub fn check_module(
    columns: &Columns,
    wasm: &[u8],
    seed: Option<u64>,
    arguments_seed: u64,
    trace: bool,
) -> Result<Verdict, Box<Divergence>> {
    let exports = Exports::of(wasm).unwrap_or_else(|e| panic!("the harness reads the module: {e}"));
    let mut verdict = Verdict {
        uses: Uses::of(wasm),
        ..Verdict::default()
    };

    // The reference: wasmi, or for relaxed SIMD (which wasmi need not
    // compute as duet does) duet's first column.
    let (reference_tier, tiers): (&dyn Tier, &[Box<dyn Tier>]) = if verdict.uses.relaxed_simd {
        (&*columns.tiers[0], &columns.tiers[1..])
    } else {
        (&columns.reference, &columns.tiers)
    };
    let reference_name = reference_tier.name();
    let divergence = |tiers: &[&str], signature: String, what: String, history: &[String]| {
        Box::new(Divergence {
            wasm: wasm.to_vec(),
            seed,
            reference: reference_name.to_string(),
            arguments_seed,
            signature,
            tiers: tiers.iter().map(|t| t.to_string()).collect(),
            what,
            history: history.to_vec(),
        })
    };
    // Instantiation as an outcome: success is `Ok(vec![])`, so that the
    // rules for calls (stack overflows included) apply unchanged.
    let (mut reference, expected) = match reference_tier.instantiate(wasm) {
        Ok(instance) => (Some(instance), Ok(vec![])),
        Err(Instantiation::Refused(why) | Instantiation::Unsupported(why)) => {
            verdict.skipped = Some(Skip::ReferenceRefused(why));
            return Ok(verdict);
        }
        Err(Instantiation::Trapped(kind)) => (None, Err(kind)),
    };
    if trace {
        println!("instantiation: {}", show_instantiation(&expected));
    }
    // The columns compared, each with its instance.
    let mut instances: Vec<(&dyn Tier, Box<dyn TierInstance>)> = Vec::new();
    for tier in tiers {
        let tier = &**tier;
        let (instance, actual) = match tier.instantiate(wasm) {
            Ok(instance) => (Some(instance), Ok(vec![])),
            Err(Instantiation::Trapped(kind)) => (None, Err(kind)),
            Err(refused) => {
                return Err(divergence(
                    &[tier.name()],
                    "instantiation refused".to_string(),
                    format!(
                        "instantiation: expected {}, got {refused}",
                        show_instantiation(&expected)
                    ),
                    &[],
                ));
            }
        };
        match agreement(&expected, &actual) {
            Agreement::Agree => instances.extend(instance.map(|instance| (tier, instance))),
            Agreement::StackOverflowed => {
                verdict.instantiation_trapped = true;
                verdict.skipped = Some(Skip::StackOverflowed {
                    tier: tier.name().to_string(),
                    func: "(start)".to_string(),
                });
                return Ok(verdict);
            }
            Agreement::StackLimitsDiffer => {
                verdict.skipped = Some(Skip::StackLimitsDiffer {
                    tier: tier.name().to_string(),
                    func: "(start)".to_string(),
                });
                return Ok(verdict);
            }
            Agreement::Disagree => {
                return Err(divergence(
                    &[tier.name()],
                    format!(
                        "instantiation: {} / {}",
                        outcome_class(&expected),
                        outcome_class(&actual)
                    ),
                    format!(
                        "instantiation: expected {}, got {}",
                        show_instantiation(&expected),
                        show_instantiation(&actual)
                    ),
                    &[],
                ));
            }
        }
    }
    let Some(reference) = reference.as_mut() else {
        verdict.instantiation_trapped = true;
        return Ok(verdict);
    };
    let fuel = Value::I32(FUEL as i32);

    let mut rng = XorShift::new(arguments_seed);
    let mut history = Vec::new();
    for _ in 0..ROUNDS {
        for func in &exports.funcs {
            let args = arguments(&mut rng, &func.params, &exports.funcs);
            if let Some(name) = &exports.fuel {
                reference.set_global(name, &fuel);
                for (_, instance) in &mut instances {
                    instance.set_global(name, &fuel);
                }
            }
            let expected = reference.call(&func.name, &args);
            let call = format!("{:?}({})", func.name, show_values(&args));
            if trace {
                println!("{call}: {}", show_outcome(&expected));
            }
            let actual: Vec<Outcome> = instances
                .iter_mut()
                .map(|(_, instance)| instance.call(&func.name, &args))
                .collect();
            let mut disagreeing = Vec::new();
            let mut overflowed = None;
            for ((tier, _), actual) in instances.iter().zip(&actual) {
                match agreement(&expected, actual) {
                    Agreement::Agree => {}
                    Agreement::StackOverflowed => overflowed = Some(tier.name()),
                    Agreement::StackLimitsDiffer => {
                        verdict.skipped = Some(Skip::StackLimitsDiffer {
                            tier: tier.name().to_string(),
                            func: func.name.clone(),
                        });
                        return Ok(verdict);
                    }
                    Agreement::Disagree => disagreeing.push((tier.name(), actual)),
                }
            }
            if !disagreeing.is_empty() {
                let mut what = format!(
                    "call {call}:\n  {reference_name}: {}",
                    show_outcome(&expected)
                );
                for ((tier, _), actual) in instances.iter().zip(&actual) {
                    what.push_str(&format!("\n  {}: {}", tier.name(), show_outcome(actual)));
                }
                let signature = format!(
                    "call: {} / {}",
                    outcome_class(&expected),
                    outcome_class(disagreeing[0].1)
                );
                let tiers: Vec<&str> = disagreeing.iter().map(|(tier, _)| *tier).collect();
                return Err(divergence(&tiers, signature, what, &history));
            }
            if let Some(tier) = overflowed {
                verdict.calls += 1;
                verdict.skipped = Some(Skip::StackOverflowed {
                    tier: tier.to_string(),
                    func: func.name.clone(),
                });
                return Ok(verdict);
            }
            let expected_state = reference.state(&exports);
            let differences: Vec<Option<String>> = instances
                .iter_mut()
                .map(|(_, instance)| expected_state.difference(&instance.state(&exports)))
                .collect();
            if let Some(first) = differences.iter().flatten().next() {
                let mut what = format!(
                    "state after call {call}:\n  {reference_name}: {}",
                    show_outcome(&expected)
                );
                let mut tiers = Vec::new();
                for (((tier, _), actual), difference) in
                    instances.iter().zip(&actual).zip(&differences)
                {
                    what.push_str(&format!("\n  {}: {}", tier.name(), show_outcome(actual)));
                    if let Some(difference) = difference {
                        what.push_str(&format!("; {difference}"));
                        tiers.push(tier.name());
                    }
                }
                let kind = first.split(' ').next().unwrap_or_default();
                return Err(divergence(&tiers, format!("state: {kind}"), what, &history));
            }
            verdict.calls += 1;
            *verdict
                .outcomes
                .entry(outcome_class(&expected))
                .or_default() += 1;
            history.push(format!("{call} {}", show_outcome(&expected)));
        }
    }
    Ok(verdict)
}

/// An outcome without its values: "returned", or the trap's kind.
fn outcome_class(outcome: &Outcome) -> String {
    match outcome {
        Ok(_) => "returned".to_string(),
        Err(TrapKind::Other(what)) => what.clone(),
        Err(kind) => format!("{kind:?}"),
    }
}

/// Shows an instantiation's outcome.
fn show_instantiation(outcome: &Outcome) -> String {
    match outcome {
        Ok(_) => "success".to_string(),
        Err(trap) => format!("{trap} while instantiating"),
    }
}

/// Counts over many modules, for the summary line.
#[derive(Clone, Debug, Default)]
pub struct Tally {
    /// Modules compared (including those skipped).
    pub modules: u64,
    /// Of those, the modules that use SIMD.
    pub simd_modules: u64,
    /// Calls compared in the modules that use SIMD.
    pub simd_calls: u64,
    /// Seeds for which wasm-smith made no module.
    pub not_generated: u64,
    /// Modules whose instantiation trapped alike everywhere.
    pub instantiation_traps: u64,
    /// Calls compared, each against every column.
    pub calls: u64,
    /// How the calls ended: "returned", or the trap.
    pub outcomes: BTreeMap<String, u64>,
    /// Skips by category, with the modules' labels (seeds).
    pub skipped: BTreeMap<&'static str, Vec<String>>,
    /// Of the modules with SIMD, those with relaxed SIMD, compared
    /// between duet's columns.
    pub relaxed_simd_modules: u64,
}

impl Tally {
    /// Adds one module's verdict; `label` names it in the skip lists.
    pub fn record(&mut self, label: impl Into<String>, verdict: &Verdict) {
        let label = label.into();
        self.modules += 1;
        self.calls += verdict.calls;
        if verdict.uses.simd {
            self.simd_modules += 1;
            self.simd_calls += verdict.calls;
        }
        self.relaxed_simd_modules += u64::from(verdict.uses.relaxed_simd);
        for (outcome, n) in &verdict.outcomes {
            *self.outcomes.entry(outcome.clone()).or_default() += n;
        }
        self.instantiation_traps += u64::from(verdict.instantiation_trapped);
        if let Some(skip) = &verdict.skipped {
            self.skipped.entry(skip.category()).or_default().push(label);
        }
    }
}

impl fmt::Display for Tally {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} modules ({} with SIMD, {} of them relaxed; {} more seeds made none), {} \
             instantiations trapped alike, {} calls compared ({} in modules with SIMD)",
            self.modules,
            self.simd_modules,
            self.relaxed_simd_modules,
            self.not_generated,
            self.instantiation_traps,
            self.calls,
            self.simd_calls
        )?;
        let outcomes: Vec<String> = self
            .outcomes
            .iter()
            .map(|(outcome, n)| format!("{outcome} {n}"))
            .collect();
        write!(f, "\n  calls: {}", outcomes.join(", "))?;
        let list = |labels: &[String]| {
            let shown: Vec<&str> = labels.iter().take(10).map(String::as_str).collect();
            let more = if labels.len() > shown.len() {
                ", ..."
            } else {
                ""
            };
            format!("{} ({}{more})", labels.len(), shown.join(", "))
        };
        if self.skipped.is_empty() {
            return write!(f, "\n  none skipped");
        }
        for (category, labels) in &self.skipped {
            write!(f, "\n  skipped, {category}: {}", list(labels))?;
        }
        Ok(())
    }
}

/// The fuzz target's check: a module from the input's bytes after the
/// first (whose bit 0 asks for trap avoidance, bits 1 to 3 for the
/// [`Instructions`]: 1 SIMD, 3 and 7 mostly SIMD, 5 relaxed SIMD, else
/// scalar), arguments
/// from its hash; a divergence panics with the full report, a skip is
/// said on stderr.
pub fn fuzz_one(data: &[u8]) {
    let Some((&first, rest)) = data.split_first() else {
        return;
    };
    let mut u = arbitrary::Unstructured::new(rest);
    let instructions = match first >> 1 & 7 {
        1 => Instructions::Simd,
        3 | 7 => Instructions::MostlySimd,
        5 => Instructions::RelaxedSimd,
        _ => Instructions::Scalar,
    };
    let Some(wasm) = module_from_bytes(&mut u, first & 1 == 1, instructions) else {
        return;
    };
    on_comparison_stack(|| {
        let columns = Columns::new();
        match check_module(&columns, &wasm, None, fnv1a(data), false) {
            Ok(Verdict {
                skipped: Some(skip),
                ..
            }) => eprintln!("differential: skipped: {skip:?}"),
            Ok(_) => {}
            Err(divergence) => panic!("{divergence}"),
        }
    });
}

/// Compares the columns on a hand-written module (a regression test):
/// any divergence or skip panics. Its functions are called with
/// arguments from seed 0.
pub fn check_wat(wat: &str) -> Verdict {
    check_wat_bytes(
        &wat::parse_str(wat).expect("the regression module parses"),
        0,
    )
}

/// [`check_wat`] for a binary module, with arguments from
/// `arguments_seed`, printing every call.
pub fn check_wat_bytes(wasm: &[u8], arguments_seed: u64) -> Verdict {
    on_comparison_stack(|| {
        let columns = Columns::new();
        match check_module(&columns, wasm, None, arguments_seed, true) {
            Ok(verdict) => {
                assert_eq!(verdict.skipped, None, "the regression module was skipped");
                verdict
            }
            Err(divergence) => panic!("{divergence}"),
        }
    })
}
