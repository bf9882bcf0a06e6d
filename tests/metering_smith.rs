//! Both tiers charge the same fuel for the same execution, to the unit
//! (`duet_environ::metering`): wasm-smith modules, free to loop and recurse
//! forever, run under the baseline and the optimizing compiler with fuel
//! on, and after instantiation and after every call the fuel left must
//! agree, as must the outcome (the results, or the trap).
//!
//! Each call gets a budget of its own, small ones (which end most calls
//! with `OutOfFuel`, so the trap's place is compared) and larger ones.
//! The one execution the tiers may legitimately differ on is a stack
//! overflow: their frames differ in size, so the depth at which it comes
//! does too. A module is compared up to its first `StackOverflow` in
//! either tier, and no further (the memory may differ after it).
//!
//! `cargo test` compares the modules of seeds `0..DEFAULT_ITERS`; more with
//! `DUET_FUEL_ITERS=5000 cargo test --release -p duet-tests --test
//! metering_smith`, one seed with `DUET_FUEL_SEED=N` (which also prints
//! every call).

use duet::{Compiler, Config, Engine, Error, Instance, Module, Store, TrapCode, Val, ValType};
use duet_tests::differential::{Instructions, smith_config};
use duet_tests::env_u64;
use duet_tests::rng::XorShift;

const DEFAULT_ITERS: u64 = 300;

/// The budgets a call is given, in turn.
const BUDGETS: [u64; 4] = [50, 1_000, 20_000, 200_000];

/// A scalar wasm-smith module for `seed`, without the termination fuel
/// the differential test adds (here fuel is what ends it).
fn module(seed: u64) -> Option<Vec<u8>> {
    let mut rng = XorShift::new(seed);
    let len = 256 + rng.below(16_384) as usize;
    let data = rng.bytes(len);
    let mut u = arbitrary::Unstructured::new(&data);
    let config = smith_config(seed % 3 == 2, Instructions::Scalar);
    wasm_smith::Module::new(config, &mut u)
        .ok()
        .map(|m| m.to_bytes())
}

/// What one step (instantiation, or a call) did: the results or the
/// trap, and the fuel left.
#[derive(Debug, Clone, PartialEq)]
struct Step {
    what: String,
    outcome: Result<Vec<Bits>, String>,
    fuel_left: u64,
}

/// A result, comparable: integers as themselves, floats by their bits
/// with every NaN the same (wasm-smith canonicalizes NaNs, but a NaN's
/// sign is not what this test is about).
#[derive(Debug, Clone, PartialEq)]
enum Bits {
    Int(i64),
    Float(Option<u64>),
    Other(String),
}

fn bits(val: &Val) -> Bits {
    match *val {
        Val::I32(v) => Bits::Int(v.into()),
        Val::I64(v) => Bits::Int(v),
        Val::F32(b) => Bits::Float((!f32::from_bits(b).is_nan()).then_some(b.into())),
        Val::F64(b) => Bits::Float((!f64::from_bits(b).is_nan()).then_some(b)),
        Val::V128(v) => Bits::Other(format!("{v:#x}")),
        Val::FuncRef(f) => Bits::Other(format!("funcref null={}", f.is_none())),
        Val::ExternRef(r) => Bits::Other(format!("externref null={}", r.is_none())),
    }
}

/// An argument of type `ty` from `rng` (null for references).
fn argument(ty: ValType, rng: &mut XorShift) -> Val {
    let r = rng.next();
    let small = (r % 7) as i64 - 3;
    match ty {
        ValType::I32 => Val::I32(if r & 8 == 0 { small as i32 } else { r as i32 }),
        ValType::I64 => Val::I64(if r & 8 == 0 { small } else { r as i64 }),
        ValType::F32 => Val::F32((small as f32).to_bits()),
        ValType::F64 => Val::F64((small as f64 * 0.5).to_bits()),
        other => Val::default_for(other),
    }
}

fn outcome_of(result: Result<(), Error>, results: &[Val]) -> Result<Vec<Bits>, String> {
    match result {
        Ok(()) => Ok(results.iter().map(bits).collect()),
        Err(error) => match error.downcast_ref::<duet::Trap>() {
            Some(trap) => Err(format!("trap {:?}", trap.code())),
            None => Err(format!("error {error}")),
        },
    }
}

fn is_stack_overflow(step: &Step) -> bool {
    step.outcome == Err(format!("trap {:?}", TrapCode::StackOverflow))
}

/// Runs `wasm` under `compiler`: instantiation, then each exported
/// function with each budget; stops after a stack overflow.
fn run(compiler: Compiler, wasm: &[u8], seed: u64) -> Result<Vec<Step>, String> {
    let mut config = Config::new();
    config
        .compiler(compiler)
        .consume_fuel(true)
        .parallel_compilation(false)
        .wasm_features(duet::WasmFeatures::WASM2);
    let engine = Engine::new(&config).map_err(|e| e.to_string())?;
    let module = Module::from_binary(&engine, wasm).map_err(|e| e.to_string())?;
    let mut store = Store::new(&engine, ());
    store.set_fuel(BUDGETS[2]).unwrap();
    let mut steps = Vec::new();
    let instance = Instance::new(&mut store, &module, &[]);
    let step = Step {
        what: "instantiation".into(),
        outcome: instance.as_ref().map(|_| Vec::new()).map_err(|e| {
            match e.downcast_ref::<duet::Trap>() {
                Some(trap) => format!("trap {:?}", trap.code()),
                None => format!("error {e}"),
            }
        }),
        fuel_left: store.get_fuel().unwrap(),
    };
    let stop = is_stack_overflow(&step);
    steps.push(step);
    let Ok(instance) = instance else {
        return Ok(steps);
    };
    if stop {
        return Ok(steps);
    }
    let mut funcs: Vec<(String, duet::Func)> = instance
        .exports(&store)
        .unwrap()
        .into_iter()
        .filter_map(|(name, item)| Some((name, item.into_func()?)))
        .collect();
    funcs.sort_by(|a, b| a.0.cmp(&b.0));
    let mut rng = XorShift::new(seed ^ 0x5eed);
    for budget in BUDGETS {
        for (name, func) in &funcs {
            let ty = func.ty(&store).unwrap();
            let args: Vec<Val> = ty.params.iter().map(|&t| argument(t, &mut rng)).collect();
            let mut results: Vec<Val> = ty.results.iter().map(|&t| Val::default_for(t)).collect();
            store.set_fuel(budget).unwrap();
            let result = func.call(&mut store, &args, &mut results);
            let step = Step {
                what: format!("{name} with {budget} fuel"),
                outcome: outcome_of(result, &results),
                fuel_left: store.get_fuel().unwrap(),
            };
            let stop = is_stack_overflow(&step);
            steps.push(step);
            if stop {
                return Ok(steps);
            }
        }
    }
    Ok(steps)
}

#[test]
fn both_tiers_charge_the_same_fuel() {
    let (seeds, trace) = match env_u64("DUET_FUEL_SEED") {
        Some(seed) => (seed..seed + 1, true),
        None => (
            0..env_u64("DUET_FUEL_ITERS").unwrap_or(DEFAULT_ITERS),
            false,
        ),
    };
    let (mut compared, mut steps_compared, mut out_of_fuel) = (0, 0, 0);
    let mut failures = Vec::new();
    for seed in seeds {
        let Some(wasm) = module(seed) else {
            continue;
        };
        let winch = run(Compiler::Winch, &wasm, seed);
        let cranelift = run(Compiler::Cranelift, &wasm, seed);
        let (winch, cranelift) = match (winch, cranelift) {
            (Ok(w), Ok(c)) => (w, c),
            (w, c) => {
                failures.push(format!("seed {seed}: compiled {w:?} / {c:?}"));
                continue;
            }
        };
        compared += 1;
        if trace {
            for (w, c) in winch.iter().zip(&cranelift) {
                println!("winch     {w:?}\ncranelift {c:?}");
            }
        }
        // Up to the first stack overflow in either tier.
        let end = winch
            .iter()
            .zip(&cranelift)
            .position(|(w, c)| is_stack_overflow(w) || is_stack_overflow(c))
            .unwrap_or(winch.len().min(cranelift.len()));
        for (w, c) in winch[..end].iter().zip(&cranelift[..end]) {
            steps_compared += 1;
            if w.outcome == Err(format!("trap {:?}", TrapCode::OutOfFuel)) {
                out_of_fuel += 1;
            }
            if w != c {
                failures.push(format!(
                    "seed {seed}: {}:\n  winch     {:?}, fuel left {}\n  cranelift {:?}, fuel left {}",
                    w.what, w.outcome, w.fuel_left, c.outcome, c.fuel_left
                ));
                break;
            }
        }
        if end == winch.len().min(cranelift.len()) && winch.len() != cranelift.len() {
            failures.push(format!(
                "seed {seed}: {} steps under winch, {} under cranelift",
                winch.len(),
                cranelift.len()
            ));
        }
    }
    println!(
        "{compared} modules, {steps_compared} steps compared, {out_of_fuel} of them out of fuel"
    );
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    // The comparison means something only if calls ran out of fuel and
    // others ran to their end.
    if !trace {
        assert!(compared > 0 && out_of_fuel > 0 && out_of_fuel < steps_compared);
    }
}
