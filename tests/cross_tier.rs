//! Calls across the tiers: a function compiled by one compiler calls a
//! function compiled by the other, for many signatures, and gets what Rust
//! computes. Both tiers read the calling convention from
//! `duet_environ::abi`; this test is what shows they agree on it, and that
//! the trampolines (`duet_environ::trampoline`) agree with both.
//!
//! # Setup
//!
//! One engine, one store. For each tier, a *callee* module (compiled with
//! [`Module::new_with_compiler`]) defines one function per signature; for
//! each pair of tiers, a *caller* module of the first tier imports the
//! callees of the second and calls each one directly (`call` of an import)
//! and through `call_indirect` (a table of the imports), returning the
//! callee's results and its own hash of the arguments it received. A third kind of
//! callee is a host function of the same signature, which wasm reaches
//! through the host trampoline; every call from the test into wasm goes
//! through the entry trampoline.
//!
//! ```text
//!   host ──entry──► caller (tier A) ──call / call_indirect──► callee (tier B)
//!                                   └──host trampoline──────► Rust callee
//! ```
//!
//! # Signatures and the oracle
//!
//! The signatures mix `i32`, `i64`, `f32`, `f64` and `v128`; many have more
//! integer arguments than the convention's five argument GPRs and more
//! float and vector arguments than its eight XMM registers, so both
//! classes reach the stack, and zero to four results, so the return area
//! is used (16-byte slots for vectors). A callee's result `j` folds every
//! argument into a 64-bit hash by Horner's rule with a multiplier of its
//! own (integers sign-extended, floats by their bits, a `v128` as its two
//! 64-bit halves), so a dropped, swapped or misplaced argument changes
//! every result, and two results swapped differ; a `v128` result is the
//! hash in its low half and its complement in the high half.
//! [`expected`] computes the same in Rust.

use duet::{Compiler, Engine, FuncType, Linker, Module, Store, Val, ValType};
use duet_tests::rng::XorShift;
use std::fmt::Write;

/// The types the signatures use.
const TYPES: [ValType; 5] = [
    ValType::I32,
    ValType::I64,
    ValType::F32,
    ValType::F64,
    ValType::V128,
];

/// A signature the generator made.
#[derive(Clone, Debug)]
struct Signature {
    params: Vec<ValType>,
    results: Vec<ValType>,
}

/// The signatures: a few chosen for the stack (both classes past their
/// registers, results past the first), then random ones.
fn signatures() -> Vec<Signature> {
    use ValType::*;
    let mut list = vec![
        Signature {
            params: vec![],
            results: vec![],
        },
        Signature {
            params: vec![I32],
            results: vec![I32],
        },
        // Eight integers (three on the stack), ten floats (two on the
        // stack), interleaved; four results (three in the return area).
        Signature {
            params: [I64, F64, I32, F32]
                .into_iter()
                .cycle()
                .take(18)
                .chain([I32, I64])
                .collect(),
            results: vec![F64, I64, F32, I32],
        },
        // Only stack-passed floats after the registers, one float result
        // and an integer one in the return area.
        Signature {
            params: vec![F32; 12],
            results: vec![F32, I64],
        },
        Signature {
            params: vec![I64; 9],
            results: vec![I32, I32, I32],
        },
        // Vectors: ten (two on the stack) among floats, and vector results
        // in the return area.
        Signature {
            params: [V128, F64]
                .into_iter()
                .cycle()
                .take(14)
                .chain([V128; 3])
                .collect(),
            results: vec![V128, F32, V128, V128],
        },
    ];
    let mut rng = XorShift::new(12);
    for _ in 0..40 {
        let params = (0..rng.below(21)).map(|_| rng.pick(&TYPES)).collect();
        let results = (0..rng.below(5)).map(|_| rng.pick(&TYPES)).collect();
        list.push(Signature { params, results });
    }
    list
}

/// The multiplier and the initial value of result `j`'s hash.
fn hash_constants(j: usize) -> (i64, i64) {
    (0x100_0000_01b3 + 2 * j as i64, 0x9e37_79b9 * (j as i64 + 1))
}

/// A value as the hash reads it: integers sign-extended, floats by their
/// bits (an `f32`'s zero-extended), a `v128` as its low then its high 64
/// bits.
fn hash_inputs(value: &Val) -> Vec<i64> {
    match *value {
        Val::I32(v) => vec![v.into()],
        Val::I64(v) => vec![v],
        Val::F32(bits) => vec![bits.into()],
        Val::F64(bits) => vec![bits as i64],
        Val::V128(bits) => vec![bits as u64 as i64, (bits >> 64) as u64 as i64],
        ref other => panic!("the signatures have no {other:?}"),
    }
}

/// Hash `j` of `args`.
fn hash(args: &[Val], j: usize) -> i64 {
    let (multiplier, init) = hash_constants(j);
    args.iter().flat_map(hash_inputs).fold(init, |acc, input| {
        acc.wrapping_mul(multiplier).wrapping_add(input)
    })
}

/// The hash a caller adds to its callee's results: one no result uses.
const CALLER_HASH: usize = 4;

/// What a callee of `sig` returns for `args`.
fn expected(sig: &Signature, args: &[Val]) -> Vec<Val> {
    sig.results
        .iter()
        .enumerate()
        .map(|(j, &ty)| {
            let hash = hash(args, j);
            // The float results are exact conversions (24 and 53 bits).
            match ty {
                ValType::I32 => Val::I32(hash as i32),
                ValType::I64 => Val::I64(hash),
                ValType::F32 => Val::F32((((hash >> 40) as i32) as f32).to_bits()),
                ValType::F64 => Val::F64(((hash >> 11) as f64).to_bits()),
                ValType::V128 => {
                    Val::V128(u128::from(hash as u64) | u128::from(!hash as u64) << 64)
                }
                other => panic!("the signatures have no {other:?}"),
            }
        })
        .collect()
}

/// What a caller of `sig` returns for `args`: its callee's results and its
/// own hash of the arguments it received.
fn expected_of_caller(sig: &Signature, args: &[Val]) -> Vec<Val> {
    let mut results = expected(sig, args);
    results.push(Val::I64(hash(args, CALLER_HASH)));
    results
}

/// Whether two lists of values are equal, bit for bit.
fn same_values(a: &[Val], b: &[Val]) -> bool {
    let key = |v: &Val| (v.ty(), hash_inputs(v));
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| key(x) == key(y))
}

/// The text of a value type.
fn wat_type(ty: ValType) -> &'static str {
    match ty {
        ValType::I32 => "i32",
        ValType::I64 => "i64",
        ValType::F32 => "f32",
        ValType::F64 => "f64",
        ValType::V128 => "v128",
        other => panic!("the signatures have no {other:?}"),
    }
}

/// `(param ...) (result ...)` of `sig`.
fn wat_signature(sig: &Signature) -> String {
    let list = |types: &[ValType]| types.iter().map(|&t| wat_type(t)).collect::<Vec<_>>();
    format!(
        "(param {}) (result {})",
        list(&sig.params).join(" "),
        list(&sig.results).join(" ")
    )
}

/// The type section: type `s` is signature `s`.
fn wat_types(sigs: &[Signature]) -> String {
    sigs.iter()
        .enumerate()
        .map(|(s, sig)| format!("  (type $t{s} (func {}))\n", wat_signature(sig)))
        .collect()
}

/// The instructions pushing hash `j` of the parameters `params`.
fn wat_hash(params: &[ValType], j: usize) -> String {
    let (multiplier, init) = hash_constants(j);
    let mut wat = format!("i64.const {init}");
    for (k, &param) in params.iter().enumerate() {
        let inputs: &[&str] = match param {
            ValType::I32 => &["i64.extend_i32_s"],
            ValType::I64 => &[""],
            ValType::F32 => &["i32.reinterpret_f32 i64.extend_i32_u"],
            ValType::F64 => &["i64.reinterpret_f64"],
            ValType::V128 => &["i64x2.extract_lane 0", "i64x2.extract_lane 1"],
            other => panic!("the signatures have no {other:?}"),
        };
        for widen in inputs {
            write!(
                wat,
                "\n    i64.const {multiplier} i64.mul local.get {k} {widen} i64.add"
            )
            .unwrap();
        }
    }
    wat
}

/// The callee module: `callee{s}` computes [`expected`] for signature `s`.
fn callee_module(sigs: &[Signature]) -> String {
    let mut wat = format!("(module\n{}", wat_types(sigs));
    for (s, sig) in sigs.iter().enumerate() {
        write!(wat, "  (func (export \"callee{s}\") (type $t{s})").unwrap();
        for (j, &ty) in sig.results.iter().enumerate() {
            let narrow = match ty {
                ValType::I32 => "i32.wrap_i64",
                ValType::I64 => "",
                ValType::F32 => "i64.const 40 i64.shr_s i32.wrap_i64 f32.convert_i32_s",
                ValType::F64 => "i64.const 11 i64.shr_s f64.convert_i64_s",
                ValType::V128 => "i64x2.splat v128.const i64x2 0 -1 v128.xor",
                other => panic!("the signatures have no {other:?}"),
            };
            write!(wat, "\n    {}\n    {narrow}", wat_hash(&sig.params, j)).unwrap();
        }
        wat.push_str(")\n");
    }
    wat.push(')');
    wat
}

/// The caller module: it imports `callee{s}` from module `from` and
/// exports `direct{s}` (a `call` of the import) and `indirect{s}` (a
/// `call_indirect` of it through a table), each passing its arguments on
/// and returning the callee's results followed by its own hash of the
/// arguments ([`expected_of_caller`]). The hash catches a caller that
/// reads its arguments from the wrong places: passing them on alone
/// would not, as a caller that reads two arguments swapped and writes
/// them swapped passes them on unchanged.
fn caller_module(sigs: &[Signature], from: &str) -> String {
    let mut wat = format!("(module\n{}", wat_types(sigs));
    for s in 0..sigs.len() {
        writeln!(
            wat,
            "  (import \"{from}\" \"callee{s}\" (func $callee{s} (type $t{s})))"
        )
        .unwrap();
    }
    let elements: Vec<String> = (0..sigs.len()).map(|s| format!("$callee{s}")).collect();
    writeln!(wat, "  (table {} funcref)", sigs.len()).unwrap();
    writeln!(wat, "  (elem (i32.const 0) func {})", elements.join(" ")).unwrap();
    for (s, sig) in sigs.iter().enumerate() {
        let args: String = (0..sig.params.len())
            .map(|k| format!("local.get {k} "))
            .collect();
        let own = wat_hash(&sig.params, CALLER_HASH);
        let ty = wat_signature(sig);
        writeln!(
            wat,
            "  (func (export \"direct{s}\") {ty} (result i64)\n    {args}call $callee{s}\n    {own})"
        )
        .unwrap();
        writeln!(
            wat,
            "  (func (export \"indirect{s}\") {ty} (result i64)\n    {args}i32.const {s} call_indirect (type $t{s})\n    {own})"
        )
        .unwrap();
    }
    wat.push(')');
    wat
}

/// Arguments for `sig`: random values of every width (floats finite, so
/// that their bits are what the callee reads whatever the moves do).
fn arguments(sig: &Signature, rng: &mut XorShift) -> Vec<Val> {
    sig.params
        .iter()
        .map(|&ty| match ty {
            ValType::I32 => Val::I32(rng.next() as i32),
            ValType::I64 => Val::I64(rng.next() as i64),
            ValType::F32 => Val::F32((rng.next() as i32 as f32 / 7.0).to_bits()),
            ValType::F64 => Val::F64((rng.next() as i64 as f64 / 3.0).to_bits()),
            ValType::V128 => Val::V128(u128::from(rng.next()) | u128::from(rng.next()) << 64),
            other => panic!("the signatures have no {other:?}"),
        })
        .collect()
}

/// The function type of `sig`.
fn func_type(sig: &Signature) -> FuncType {
    FuncType {
        params: sig.params.clone().into(),
        results: sig.results.clone().into(),
    }
}

/// Where `callee{s}` comes from.
#[derive(Copy, Clone, Debug)]
enum Callee {
    /// A module compiled by this compiler.
    Wasm(Compiler),
    /// Host functions computing [`expected`] (through the host trampoline).
    Host,
}

/// Runs every signature through callers of each tier calling `callee`,
/// directly and indirectly, from the host through the entry trampoline,
/// and checks the results against [`expected_of_caller`]; also calls the
/// callees from the host directly, against [`expected`]. Returns the failures, one line each.
fn run(callee: Callee) -> Vec<String> {
    let sigs = signatures();
    let engine = Engine::default();
    let mut store = Store::new(&engine, ());
    let mut linker: Linker<()> = Linker::new(&engine);
    let callee_name = format!("{callee:?}");
    match callee {
        Callee::Wasm(compiler) => {
            let module = Module::new_with_compiler(&engine, callee_module(&sigs), compiler)
                .expect("the callee module compiles");
            let instance = linker
                .instantiate(&mut store, &module)
                .expect("the callee module instantiates");
            linker
                .instance(&mut store, &callee_name, instance)
                .expect("the callee's exports are defined");
        }
        Callee::Host => {
            for (s, sig) in sigs.iter().enumerate() {
                let signature = sig.clone();
                linker
                    .func_new(
                        &callee_name,
                        &format!("callee{s}"),
                        func_type(sig),
                        move |_, params, results| {
                            results.clone_from_slice(&expected(&signature, params));
                            Ok(())
                        },
                    )
                    .expect("a new name");
            }
        }
    }

    let mut failures = Vec::new();
    let mut rng = XorShift::new(7);
    let mut check = |what: String,
                     func: duet::Func,
                     store: &mut Store<()>,
                     sig: &Signature,
                     expected: fn(&Signature, &[Val]) -> Vec<Val>| {
        for _ in 0..4 {
            let args = arguments(sig, &mut rng);
            let want = expected(sig, &args);
            let mut results = vec![Val::I32(0); want.len()];
            match func.call(&mut *store, &args, &mut results) {
                Ok(()) if same_values(&results, &want) => {}
                Ok(()) => failures.push(format!(
                    "{what} {sig:?} with {args:?}: got {results:?}, expected {want:?}"
                )),
                Err(e) => failures.push(format!("{what} {sig:?}: {e}")),
            }
        }
    };
    for caller in [Compiler::Winch, Compiler::Cranelift] {
        let module = Module::new_with_compiler(&engine, caller_module(&sigs, &callee_name), caller)
            .expect("the caller module compiles");
        let instance = linker
            .instantiate(&mut store, &module)
            .expect("the caller module instantiates");
        for (s, sig) in sigs.iter().enumerate() {
            for kind in ["direct", "indirect"] {
                let func = instance
                    .get_func(&store, &format!("{kind}{s}"))
                    .unwrap()
                    .expect("exported");
                check(
                    format!("{caller:?} {kind} to {callee_name}"),
                    func,
                    &mut store,
                    sig,
                    expected_of_caller,
                );
            }
        }
    }
    // The callee from the host, through the entry trampoline.
    for (s, sig) in sigs.iter().enumerate() {
        let func = linker
            .get(&mut store, &callee_name, &format!("callee{s}"))
            .and_then(|e| e.into_func())
            .expect("defined");
        check(
            format!("host to {callee_name}"),
            func,
            &mut store,
            sig,
            expected,
        );
    }
    failures
}

/// Asserts `failures` is empty, showing the first few.
fn assert_none(failures: Vec<String>) {
    assert!(
        failures.is_empty(),
        "{} failed calls, the first:\n{}",
        failures.len(),
        failures[..failures.len().min(5)].join("\n")
    );
}

#[test]
fn both_tiers_call_winch_code() {
    assert_none(run(Callee::Wasm(Compiler::Winch)));
}

#[test]
fn both_tiers_call_cranelift_code() {
    assert_none(run(Callee::Wasm(Compiler::Cranelift)));
}

#[test]
fn both_tiers_call_host_functions() {
    assert_none(run(Callee::Host));
}

#[test]
fn the_signatures_use_the_stack_and_the_return_area() {
    use duet_environ::abi::{ArgLocation, CallSignature};
    let (mut gpr_stack, mut xmm_stack, mut return_area) = (false, false, false);
    let mut vector_stack = false;
    for sig in signatures() {
        let ty = FuncType {
            params: sig.params.clone().into(),
            results: sig.results.clone().into(),
        };
        let locations = CallSignature::of_func_type(&ty);
        for (&param, location) in sig.params.iter().zip(&locations.params) {
            if let ArgLocation::Stack { .. } = location {
                match param {
                    ValType::I32 | ValType::I64 => gpr_stack = true,
                    ValType::V128 => vector_stack = true,
                    _ => xmm_stack = true,
                }
            }
        }
        return_area |= locations.return_area_size > 0;
    }
    assert!(gpr_stack && xmm_stack && vector_stack && return_area);
}

/// An `i32` result in the return area has an undefined upper half in the
/// calling convention (the optimizing tier stores four bytes): the
/// baseline tier reads it zero-extended, as its invariant for `i32`
/// values wants. The return area's slots first hold -1 from a call that
/// returns `i64`s there, so a caller that read the whole slot would give
/// `f64.convert_i32_u` (which converts the whole register in the baseline
/// tier) `0xffff_ffff_0000_0003`. Found by the differential test's tiered
/// column (seed 344), where baseline code calls optimized code.
#[test]
fn an_i32_result_in_the_return_area_is_read_zero_extended() {
    let engine = Engine::default();
    let callee = Module::new_with_compiler(
        &engine,
        r#"(module
             (func (export "wide") (result i64 i64 i64)
               (i64.const -1) (i64.const -1) (i64.const -1))
             (func (export "narrow") (result i32 i32 i32)
               (i32.const 1) (i32.const 2) (i32.const 3)))"#,
        Compiler::Cranelift,
    )
    .unwrap();
    let caller = Module::new_with_compiler(
        &engine,
        r#"(module
             (import "callee" "wide" (func $wide (result i64 i64 i64)))
             (import "callee" "narrow" (func $narrow (result i32 i32 i32)))
             (func (export "go") (result f64)
               (local $second f64) (local $third f64)
               (block (call $wide) (drop) (drop) (drop))
               (call $narrow)
               (local.set $third (f64.convert_i32_u))
               (local.set $second (f64.convert_i32_u))
               (f64.add
                 (f64.add (f64.convert_i32_u) (local.get $second))
                 (local.get $third))))"#,
        Compiler::Winch,
    )
    .unwrap();
    let mut store = Store::new(&engine, ());
    let mut linker = Linker::new(&engine);
    let instance = linker.instantiate(&mut store, &callee).unwrap();
    linker.instance(&mut store, "callee", instance).unwrap();
    let instance = linker.instantiate(&mut store, &caller).unwrap();
    let go = instance
        .get_typed_func::<(), f64>(&mut store, "go")
        .unwrap();
    assert_eq!(go.call(&mut store, ()).unwrap(), 6.0);
}
