//! The modules and arguments the tiers are compared on.
//!
//! A module is wasm-smith's, from [`smith_config`] (WebAssembly 2.0, with
//! SIMD for half of the seeds, mixed with everything else or mostly SIMD
//! ([`Instructions`]), and without it for the other half; no imports,
//! everything exported, bounded memories and tables, NaNs canonicalized),
//! made to terminate with wasm-smith's `ensure_termination`:
//! a fuel global, decremented at each function entry and loop head (and by
//! the length of each bulk operation), that executes `unreachable` when it
//! runs out. [`add_export`] then exports that global as [`FUEL_EXPORT`], so
//! the harness can refill it before every call (each call gets the same
//! budget, and a call after a runaway one still does something) and compare
//! what is left after it, which checks that both engines ran the same
//! number of loop iterations and calls.

use super::value::Value;
use crate::rng::XorShift;
use arbitrary::Unstructured;
use wasmparser::{ExternalKind, Parser, Payload, ValType, Validator, WasmFeatures};

/// The fuel every call starts with. It bounds the recursion depth too,
/// which the engines' stacks must hold (see `StackBudget` in the parent
/// module).
pub const FUEL: u32 = 2_000;

/// The name the fuel global is exported under (or that with `'`s added,
/// if the module already exports something by this name).
pub const FUEL_EXPORT: &str = "fuel";

/// The largest memory a module may declare: 16 pages. Every memory has a
/// maximum (so `memory.grow` cannot ask an engine for gigabytes), and
/// comparing 1 MiB after each call is cheap.
pub const MAX_MEMORY_BYTES: u64 = 16 << 16;

/// The largest table: every table has a maximum of at most this many
/// elements.
pub const MAX_TABLE_ELEMENTS: u64 = 64;

/// Which instructions a module is made of.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Instructions {
    /// WebAssembly 2.0 without SIMD.
    Scalar,
    /// WebAssembly 2.0 with SIMD, every instruction as likely as any other
    /// that fits the operand stack. The vector operators are then rare:
    /// wasm-smith picks among the instructions valid on the current stack,
    /// and most need one or two `v128`s on top where the scalar ones need
    /// an `i32`; in 2,000 such modules, 15 `i32x4.add` in 1.4 million
    /// instructions.
    Simd,
    /// WebAssembly 2.0 with SIMD, straight-line code of vector,
    /// parametric (`select`, `drop`) and variable (locals, globals)
    /// instructions only: no scalar numeric, memory or control
    /// instruction competes with the vector ones, so a function is a
    /// chain of them over `v128.const`s, SIMD loads and stores, splats and
    /// lane operations of its parameters and locals. The fuel checks, NaN
    /// canonicalization, the mixing of dropped values into globals and
    /// the constants a function's results need are added by wasm-smith
    /// outside the choice, so they stay. Control flow and calls with
    /// `v128`s are [`Instructions::Simd`]'s part. A wrong `i16x8.abs`
    /// (PABSB for PABSW) diverges in 18 of the first 2,000 seeds, 16 of
    /// them of this kind.
    MostlySimd,
    /// [`Instructions::Simd`] with relaxed SIMD too. Whatever the spec
    /// lets engines choose, duet's two tiers promise the same choices
    /// (`duet_environ::simd`), so such a module is compared between duet's
    /// columns, the baseline tier on the host's features the reference.
    RelaxedSimd,
}

/// wasm-smith's configuration: WebAssembly 2.0 (multi-value, bulk memory,
/// reference types with several tables, sign extension, saturating
/// conversions; one memory) with `instructions` (SIMD or not), never
/// relaxed SIMD (whose results the spec lets differ between engines), as
/// `tests/winch_smith.rs` pass 1, plus what differential execution needs:
///
/// * no imports: nothing to provide, in either engine;
/// * every function, global, memory and table exported: all of it is
///   called or compared;
/// * memories and tables with a small maximum;
/// * NaNs canonicalized after every float operation. WebAssembly lets
///   arithmetic produce any NaN payload, and the two engines do differ
///   (x86's operand order decides which NaN propagates); a payload stored
///   to memory or reinterpreted as an integer would be a false divergence.
///   Scalar values compared directly still treat any NaN as any NaN.
///   wasm-smith does the same for the vector arithmetic (`f32x4` and
///   `f64x2` `add`, `sub`, `mul`, `div`, `sqrt`, `min`, `max`, `ceil`,
///   `floor`, `trunc`, `nearest`): after each, `f32x4.eq`/`f64x2.eq` of the
///   result with itself selects (`v128.bitselect`) the canonical NaN into
///   every lane that is a NaN, so vectors compare bit for bit.
///
/// With `avoid_traps`, wasm-smith guards the operations that could trap
/// (an out-of-bounds load yields 0, a division by zero some value, ...):
/// most calls then run to their end instead of stopping at the first
/// trap, which exercises longer computations.
pub fn smith_config(avoid_traps: bool, instructions: Instructions) -> wasm_smith::Config {
    use wasm_smith::{InstructionKind, InstructionKinds};
    let allowed_instructions = match instructions {
        Instructions::Scalar | Instructions::Simd | Instructions::RelaxedSimd => {
            InstructionKinds::all()
        }
        Instructions::MostlySimd => InstructionKinds::new(&[
            InstructionKind::Vector,
            InstructionKind::Parametric,
            InstructionKind::Variable,
        ]),
    };
    wasm_smith::Config {
        simd_enabled: instructions != Instructions::Scalar,
        allowed_instructions,
        relaxed_simd_enabled: instructions == Instructions::RelaxedSimd,
        multi_value_enabled: true,
        bulk_memory_enabled: true,
        reference_types_enabled: true,
        sign_extension_ops_enabled: true,
        saturating_float_to_int_enabled: true,
        threads_enabled: false,
        shared_everything_threads_enabled: false,
        tail_call_enabled: false,
        gc_enabled: false,
        exceptions_enabled: false,
        memory64_enabled: false,
        custom_page_sizes_enabled: false,
        wide_arithmetic_enabled: false,
        extended_const_enabled: false,
        compact_imports_enabled: false,
        max_imports: 0,
        export_everything: true,
        canonicalize_nans: true,
        max_memories: 1,
        memory_max_size_required: true,
        max_memory32_bytes: MAX_MEMORY_BYTES,
        max_tables: 3,
        table_max_size_required: true,
        max_table_elements: MAX_TABLE_ELEMENTS,
        min_funcs: 4,
        max_funcs: 10,
        max_instructions: 200,
        max_nesting_depth: 8,
        disallow_traps: avoid_traps,
        ..wasm_smith::Config::default()
    }
}

/// The module seed `seed` names: [`smith_config`] with the [`Instructions`]
/// of [`instructions_for_seed`] (avoiding traps for every third seed,
/// independently) fed from a xorshift stream of 256 to 16,640 bytes.
/// `None` when wasm-smith gives up (it runs out of bytes, or
/// `ensure_termination` refuses; a few percent of seeds).
pub fn module_for_seed(seed: u64) -> Option<Vec<u8>> {
    let mut rng = XorShift::new(seed);
    let len = 256 + rng.below(16_384) as usize;
    let data = rng.bytes(len);
    let instructions = instructions_for_seed(seed);
    module_from_bytes(&mut Unstructured::new(&data), seed % 3 == 2, instructions)
}

/// Even seeds are scalar, so that the scalar operators keep their share;
/// odd seeds have SIMD, mixed with everything else (1 mod 4, a quarter of
/// them, 5 mod 16, with relaxed SIMD too) or mostly SIMD (3 mod 4).
pub fn instructions_for_seed(seed: u64) -> Instructions {
    match seed % 4 {
        1 if seed % 16 == 5 => Instructions::RelaxedSimd,
        1 => Instructions::Simd,
        3 => Instructions::MostlySimd,
        _ => Instructions::Scalar,
    }
}

/// A module from arbitrary bytes (the fuzz target's input), made to
/// terminate and with its fuel exported; `None` if wasm-smith gives up.
pub fn module_from_bytes(
    u: &mut Unstructured<'_>,
    avoid_traps: bool,
    instructions: Instructions,
) -> Option<Vec<u8>> {
    let mut module = wasm_smith::Module::new(smith_config(avoid_traps, instructions), u).ok()?;
    let fuel = module.ensure_termination(FUEL).ok()?;
    let wasm = module.to_bytes();
    let name = unused_export_name(&wasm, FUEL_EXPORT)?;
    add_export(&wasm, &name, ExternalKind::Global, fuel)
}

/// What a module uses that decides how it is compared and counted.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Uses {
    /// SIMD ([`uses_simd`]).
    pub simd: bool,
    /// Relaxed SIMD ([`uses_relaxed_simd`]): the reference is then a duet
    /// column, not wasmi.
    pub relaxed_simd: bool,
}

impl Uses {
    /// What `wasm`, a valid WebAssembly 2.0 module (with relaxed SIMD),
    /// uses.
    pub fn of(wasm: &[u8]) -> Uses {
        Uses {
            simd: uses_simd(wasm),
            relaxed_simd: uses_relaxed_simd(wasm),
        }
    }
}

/// Whether `wasm`, a valid module of WebAssembly 2.0 with relaxed SIMD,
/// uses a relaxed SIMD operator: exactly the modules that do not
/// validate without that feature.
pub fn uses_relaxed_simd(wasm: &[u8]) -> bool {
    Validator::new_with_features(WasmFeatures::WASM2)
        .validate_all(wasm)
        .is_err()
}

/// Whether `wasm`, a valid WebAssembly 2.0 module (with relaxed SIMD),
/// uses SIMD: a `v128`
/// anywhere (a type, a local, a global) or a vector instruction. Exactly
/// the modules that do not validate without the SIMD feature.
pub fn uses_simd(wasm: &[u8]) -> bool {
    Validator::new_with_features(WasmFeatures::WASM2.difference(WasmFeatures::SIMD))
        .validate_all(wasm)
        .is_err()
}

/// `base`, or `base` with `'`s appended, whichever the module does not
/// export yet.
fn unused_export_name(wasm: &[u8], base: &str) -> Option<String> {
    let exports = exports(wasm).ok()?;
    let mut name = base.to_string();
    while exports.iter().any(|(n, _, _)| *n == name) {
        name.push('\'');
    }
    Some(name)
}

/// The module's exports: name, kind, index.
fn exports(wasm: &[u8]) -> Result<Vec<(String, ExternalKind, u32)>, String> {
    let mut found = Vec::new();
    for payload in Parser::new(0).parse_all(wasm) {
        if let Payload::ExportSection(reader) = payload.map_err(|e| e.to_string())? {
            for export in reader {
                let export = export.map_err(|e| e.to_string())?;
                found.push((export.name.to_string(), export.kind, export.index));
            }
        }
    }
    Ok(found)
}

/// `wasm` with one more export, appended to its export section. `None`
/// if the module has no export section (never, with `export_everything`
/// and at least one function) or is malformed.
///
/// The sections are walked by hand rather than with wasmparser's
/// `Parser`, which reports a section's contents but not where its id and
/// size start (the size's LEB128 may be padded: `min_uleb_size`).
pub fn add_export(wasm: &[u8], name: &str, kind: ExternalKind, index: u32) -> Option<Vec<u8>> {
    const EXPORT_SECTION: u8 = 7;
    let mut out = wasm.get(..8)?.to_vec();
    let mut at = 8;
    let mut added = false;
    while at < wasm.len() {
        let id = wasm[at];
        let (size, size_len) = read_leb_u32(&wasm[at + 1..])?;
        let contents = at + 1 + size_len..at + 1 + size_len + size as usize;
        let body = wasm.get(contents.clone())?;
        if id == EXPORT_SECTION {
            let (count, count_len) = read_leb_u32(body)?;
            let mut new_body = Vec::new();
            write_leb_u32(&mut new_body, count + 1);
            new_body.extend_from_slice(&body[count_len..]);
            write_leb_u32(&mut new_body, name.len() as u32);
            new_body.extend_from_slice(name.as_bytes());
            new_body.push(match kind {
                ExternalKind::Func => 0,
                ExternalKind::Table => 1,
                ExternalKind::Memory => 2,
                ExternalKind::Global => 3,
                _ => return None,
            });
            write_leb_u32(&mut new_body, index);
            out.push(id);
            write_leb_u32(&mut out, new_body.len() as u32);
            out.extend_from_slice(&new_body);
            added = true;
        } else {
            out.extend_from_slice(&wasm[at..contents.end]);
        }
        at = contents.end;
    }
    added.then_some(out)
}

fn read_leb_u32(bytes: &[u8]) -> Option<(u32, usize)> {
    let mut value = 0u64;
    for (i, &byte) in bytes.iter().enumerate().take(5) {
        value |= u64::from(byte & 0x7f) << (7 * i);
        if byte & 0x80 == 0 {
            return Some((u32::try_from(value).ok()?, i + 1));
        }
    }
    None
}

fn write_leb_u32(out: &mut Vec<u8>, mut value: u32) {
    loop {
        let byte = (value & 0x7f) as u8;
        value >>= 7;
        if value == 0 {
            out.push(byte);
            return;
        }
        out.push(byte | 0x80);
    }
}

/// An exported function: its export name and type.
#[derive(Clone, Debug)]
pub struct ExportedFunc {
    /// The export name.
    pub name: String,
    /// The parameter types.
    pub params: Vec<ValType>,
    /// The result types.
    pub results: Vec<ValType>,
}

/// What the harness calls and compares: the module's exports, by kind, in
/// export order. Read from the binary with wasmparser, so that neither
/// engine's view of the module is trusted.
#[derive(Clone, Debug, Default)]
pub struct Exports {
    /// The exported functions.
    pub funcs: Vec<ExportedFunc>,
    /// The exported globals' names.
    pub globals: Vec<String>,
    /// The exported memories' names.
    pub memories: Vec<String>,
    /// The exported tables' names.
    pub tables: Vec<String>,
    /// The exported fuel global's name, if the module has one (wasm-smith
    /// modules do; a regression module need not).
    pub fuel: Option<String>,
}

impl Exports {
    /// The exports of `wasm`; an error for a malformed module or one with
    /// imports (the harness provides none).
    pub fn of(wasm: &[u8]) -> Result<Exports, String> {
        let mut types = Vec::new();
        let mut func_types = Vec::new();
        let mut found = Exports::default();
        for payload in Parser::new(0).parse_all(wasm) {
            match payload.map_err(|e| e.to_string())? {
                Payload::TypeSection(reader) => {
                    for ty in reader.into_iter_err_on_gc_types() {
                        types.push(ty.map_err(|e| e.to_string())?);
                    }
                }
                Payload::ImportSection(reader) if reader.count() > 0 => {
                    return Err("the module has imports".to_string());
                }
                Payload::FunctionSection(reader) => {
                    for ty in reader {
                        func_types.push(ty.map_err(|e| e.to_string())?);
                    }
                }
                Payload::ExportSection(reader) => {
                    for export in reader {
                        let export = export.map_err(|e| e.to_string())?;
                        let name = export.name.to_string();
                        match export.kind {
                            ExternalKind::Func => {
                                let ty = func_types
                                    .get(export.index as usize)
                                    .and_then(|&t| types.get(t as usize))
                                    .ok_or("an export of an undeclared function")?;
                                found.funcs.push(ExportedFunc {
                                    name,
                                    params: ty.params().to_vec(),
                                    results: ty.results().to_vec(),
                                });
                            }
                            ExternalKind::Global => found.globals.push(name),
                            ExternalKind::Memory => found.memories.push(name),
                            ExternalKind::Table => found.tables.push(name),
                            other => return Err(format!("an export of kind {other:?}")),
                        }
                    }
                }
                _ => {}
            }
        }
        // The fuel global is the last export `module_from_bytes` added.
        found.fuel = found
            .globals
            .iter()
            .rev()
            .find(|name| {
                name.starts_with(FUEL_EXPORT) && name.trim_end_matches('\'') == FUEL_EXPORT
            })
            .cloned();
        Ok(found)
    }
}

/// Arguments for a function with parameters `params`: edge values most of
/// the time, random bits otherwise. A `funcref` is null or one of the
/// module's exported functions (`funcs`); an `externref` is null or a
/// small number the engines wrap as a host reference.
pub fn arguments(rng: &mut XorShift, params: &[ValType], funcs: &[ExportedFunc]) -> Vec<Value> {
    params
        .iter()
        .map(|ty| match ty {
            ValType::I32 => Value::I32(integer(rng) as i32),
            ValType::I64 => Value::I64(integer(rng) as i64),
            ValType::F32 => Value::F32(f32_bits(rng)),
            ValType::F64 => Value::F64(f64_bits(rng)),
            ValType::Ref(r) if r.is_func_ref() => {
                if funcs.is_empty() || rng.below(3) == 0 {
                    Value::FuncRef(None)
                } else {
                    let f = &funcs[rng.below(funcs.len() as u64) as usize];
                    Value::FuncRef(Some(Some(f.name.clone())))
                }
            }
            ValType::Ref(_) => {
                if rng.below(3) == 0 {
                    Value::ExternRef(None)
                } else {
                    Value::ExternRef(Some(rng.below(100) as u32))
                }
            }
            ValType::V128 => Value::V128(v128_bits(rng)),
        })
        .collect()
}

/// An integer argument (truncated to 32 bits for `i32`): often a small
/// number or a small address (loads and stores then land in memory),
/// often a boundary, sometimes random bits.
fn integer(rng: &mut XorShift) -> u64 {
    match rng.below(8) {
        0 | 1 => rng.below(16),
        2 | 3 => rng.below(MAX_MEMORY_BYTES + 64),
        4 | 5 => rng.pick(&[
            0,
            1,
            u64::MAX,
            0x7fff_ffff,
            0x8000_0000,
            0xffff_ffff,
            0x1_0000_0000,
            i64::MAX as u64,
            i64::MIN as u64,
            0x80,
            0xff,
            0x7fff,
            0x8000,
            0xffff,
            63,
            64,
            (-2i64) as u64,
        ]),
        _ => rng.next(),
    }
}

/// An `f32` argument's bits: special values, values at conversion
/// boundaries, or random bits (which may be NaNs with payloads).
fn f32_bits(rng: &mut XorShift) -> u32 {
    const SPECIAL: &[f32] = &[
        0.0,
        -0.0,
        1.0,
        -1.0,
        0.5,
        -0.5,
        1.5,
        2.5,
        -2.5,
        f32::INFINITY,
        f32::NEG_INFINITY,
        f32::NAN,
        f32::MIN_POSITIVE,
        f32::MAX,
        f32::MIN,
        2147483648.0,
        -2147483904.0,
        4294967296.0,
        9223372036854775808.0,
        -1.0e-40,
    ];
    match rng.below(4) {
        0 | 1 => rng.pick(SPECIAL).to_bits(),
        2 => (rng.below(2001) as f32 - 1000.0).to_bits() ^ ((rng.below(2) as u32) << 31),
        _ => rng.next() as u32,
    }
}

/// An `f64` argument's bits, as [`f32_bits`].
fn f64_bits(rng: &mut XorShift) -> u64 {
    const SPECIAL: &[f64] = &[
        0.0,
        -0.0,
        1.0,
        -1.0,
        0.5,
        -0.5,
        1.5,
        2.5,
        -2.5,
        f64::INFINITY,
        f64::NEG_INFINITY,
        f64::NAN,
        f64::MIN_POSITIVE,
        f64::MAX,
        f64::MIN,
        2147483648.0,
        -2147483649.0,
        4294967296.0,
        9223372036854775808.0,
        -1.0e-310,
    ];
    match rng.below(4) {
        0 | 1 => rng.pick(SPECIAL).to_bits(),
        2 => (rng.below(2001) as f64 - 1000.0).to_bits(),
        _ => rng.next(),
    }
}

/// A `v128` argument's bits: its four 32-bit or two 64-bit lanes drawn as
/// `i32`/`i64` or `f32`/`f64` arguments are (edge values of every lane
/// reading: 0, -1, sign bits, infinities, NaNs with payloads), or
/// sixteen bytes each a boundary of `i8` (0, 1, 0x7f, 0x80, 0xff), or
/// random bits.
fn v128_bits(rng: &mut XorShift) -> u128 {
    let lanes32 = |rng: &mut XorShift, lane: fn(&mut XorShift) -> u32| {
        (0..4).fold(0u128, |v, i| v | u128::from(lane(rng)) << (32 * i))
    };
    let lanes64 = |rng: &mut XorShift, lane: fn(&mut XorShift) -> u64| {
        (0..2).fold(0u128, |v, i| v | u128::from(lane(rng)) << (64 * i))
    };
    match rng.below(6) {
        0 => lanes32(rng, |rng| integer(rng) as u32),
        1 => lanes64(rng, integer),
        2 => lanes32(rng, f32_bits),
        3 => lanes64(rng, f64_bits),
        4 => (0..16).fold(0u128, |v, i| {
            v | u128::from(rng.pick(&[0u8, 1, 0x7f, 0x80, 0xff])) << (8 * i)
        }),
        _ => u128::from(rng.next()) | u128::from(rng.next()) << 64,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_added_export_is_read_back() {
        let wasm =
            wat::parse_str(r#"(module (global (mut i32) (i32.const 7)) (func (export "f")))"#)
                .unwrap();
        let wasm = add_export(&wasm, "fuel", ExternalKind::Global, 0).unwrap();
        wasmparser::Validator::new().validate_all(&wasm).unwrap();
        let exports = Exports::of(&wasm).unwrap();
        assert_eq!(exports.funcs.len(), 1);
        assert_eq!(exports.globals, ["fuel"]);
        assert_eq!(exports.fuel.as_deref(), Some("fuel"));
    }

    #[test]
    fn generated_modules_export_their_fuel() {
        let mut with_fuel = 0;
        for seed in 0..20 {
            if let Some(wasm) = module_for_seed(seed) {
                wasmparser::Validator::new().validate_all(&wasm).unwrap();
                assert!(Exports::of(&wasm).unwrap().fuel.is_some(), "seed {seed}");
                with_fuel += 1;
            }
        }
        assert!(with_fuel > 10);
    }

    #[test]
    fn odd_seeds_make_simd_modules() {
        let simd: Vec<u64> = (0..100)
            .filter(|&seed| module_for_seed(seed).is_some_and(|wasm| uses_simd(&wasm)))
            .collect();
        assert!(simd.iter().all(|seed| seed % 2 == 1), "{simd:?}");
        assert!(simd.len() > 15, "{simd:?}");
        let scalar = wat::parse_str(r#"(module (func (result i32) i32.const 1))"#).unwrap();
        let vector = wat::parse_str(r#"(module (func (local v128)))"#).unwrap();
        assert!(!uses_simd(&scalar));
        assert!(uses_simd(&vector));
    }
}
