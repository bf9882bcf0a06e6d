//! Precompiled modules (`Module::serialize`, `Module::deserialize`,
//! `Module::deserialize_file`): a loaded artifact behaves as the freshly
//! compiled module (results, traps, trap locations and backtraces) under
//! both compilers; every mismatch between the artifact and the loading
//! engine, and every damaged byte, is refused with an error naming what
//! is wrong, never a panic and never a loaded module.

use duet::{
    Compiler, Config, CpuPreset, Engine, ErrorKind, Linker, Module, NotAModule, PrecompiledError,
    Store, Trap, TrapCode, Tunables, Val, WasmFeatures,
};

/// Calls, a loop, memory with a data segment, a global, `call_indirect`
/// through a table, an import, and functions that trap in different ways
/// (named, so backtraces carry names).
const WAT: &str = r#"(module
  (import "host" "double" (func $double (param i32) (result i32)))
  (type $binary (func (param i32 i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 16) "precompiled")
  (global $counter (mut i32) (i32.const 100))
  (table 2 funcref)
  (elem (i32.const 0) $add $mul)
  (func $add (type $binary) (i32.add (local.get 0) (local.get 1)))
  (func $mul (type $binary) (i32.mul (local.get 0) (local.get 1)))
  (func (export "apply") (param i32 i32 i32) (result i32)
    (call_indirect (type $binary) (local.get 1) (local.get 2) (local.get 0)))
  (func $fac (export "fac") (param i64) (result i64)
    (if (result i64) (i64.le_u (local.get 0) (i64.const 1))
      (then (i64.const 1))
      (else (i64.mul (local.get 0) (call $fac (i64.sub (local.get 0) (i64.const 1)))))))
  (func (export "sum_bytes") (param i32 i32) (result i32) (local $sum i32)
    (block $done
      (loop $next
        (br_if $done (i32.eqz (local.get 1)))
        (local.set $sum (i32.add (local.get $sum) (i32.load8_u (local.get 0))))
        (local.set 0 (i32.add (local.get 0) (i32.const 1)))
        (local.set 1 (i32.sub (local.get 1) (i32.const 1)))
        (br $next)))
    (local.get $sum))
  (func (export "bump") (result i32)
    (global.set $counter (i32.add (global.get $counter) (call $double (i32.const 21))))
    (global.get $counter))
  (func (export "f64_mix") (param f64 f64) (result f64)
    (f64.add (f64.sqrt (local.get 0)) (f64.mul (local.get 1) (f64.const 0.5))))
  (func $divide (export "divide") (param i32 i32) (result i32)
    (i32.div_s (local.get 0) (local.get 1)))
  (func $load_far (export "load_far") (param i32) (result i32)
    (i32.load (local.get 0)))
  (func $inner (unreachable))
  (func $outer (export "outer") (call $inner))
)"#;

fn engine(compiler: Compiler) -> Engine {
    Engine::new(Config::new().compiler(compiler)).unwrap()
}

/// What a call returned, or the trap it raised: code, and each frame's
/// function index, name and wasm offset.
#[derive(Debug, PartialEq)]
enum Outcome {
    Returned(Vec<String>),
    Trapped(TrapCode, Vec<(u32, Option<String>, Option<u32>)>),
}

/// Instantiates `module` (with the `double` import) and makes every call
/// of the test program, recording each outcome.
fn exercise(engine: &Engine, module: &Module) -> Vec<Outcome> {
    let mut linker: Linker<()> = Linker::new(engine);
    linker.func_wrap("host", "double", |x: i32| x * 2).unwrap();
    let mut store = Store::new(engine, ());
    let instance = linker.instantiate(&mut store, module).unwrap();
    let calls: &[(&str, Vec<Val>)] = &[
        ("apply", vec![Val::I32(0), Val::I32(20), Val::I32(22)]),
        ("apply", vec![Val::I32(1), Val::I32(6), Val::I32(7)]),
        ("apply", vec![Val::I32(2), Val::I32(6), Val::I32(7)]),
        ("fac", vec![Val::I64(20)]),
        ("sum_bytes", vec![Val::I32(16), Val::I32(11)]),
        ("bump", vec![]),
        ("bump", vec![]),
        (
            "f64_mix",
            vec![Val::F64(16f64.to_bits()), Val::F64(3f64.to_bits())],
        ),
        ("divide", vec![Val::I32(-7), Val::I32(2)]),
        ("divide", vec![Val::I32(1), Val::I32(0)]),
        ("load_far", vec![Val::I32(65534)]),
        ("outer", vec![]),
    ];
    calls
        .iter()
        .map(|(name, params)| {
            let func = instance.get_func(&store, name).unwrap().unwrap();
            let mut results = vec![Val::I32(0); func.ty(&store).unwrap().results.len()];
            match func.call(&mut store, params, &mut results) {
                Ok(()) => Outcome::Returned(results.iter().map(|v| format!("{v:?}")).collect()),
                Err(error) => {
                    let trap = error.downcast_ref::<Trap>().expect("a trap");
                    let frames = trap
                        .frames()
                        .iter()
                        .map(|f| (f.func_index, f.func_name.clone(), f.module_offset))
                        .collect();
                    Outcome::Trapped(trap.code(), frames)
                }
            }
        })
        .collect()
}

/// The outcomes the test program must have, worked out by hand: the
/// independent check that both the fresh and the loaded module are right.
fn expected_outcomes(outcomes: &[Outcome]) {
    let returned = |i: usize| match &outcomes[i] {
        Outcome::Returned(values) => values.join(","),
        other => panic!("call {i}: {other:?}"),
    };
    assert_eq!(returned(0), format!("{:?}", Val::I32(42)));
    assert_eq!(returned(1), format!("{:?}", Val::I32(42)));
    assert_eq!(
        returned(3),
        format!("{:?}", Val::I64(2_432_902_008_176_640_000))
    );
    let sum: i32 = b"precompiled".iter().map(|&b| i32::from(b)).sum();
    assert_eq!(returned(4), format!("{:?}", Val::I32(sum)));
    assert_eq!(returned(5), format!("{:?}", Val::I32(142)));
    assert_eq!(returned(6), format!("{:?}", Val::I32(184)));
    assert_eq!(returned(7), format!("{:?}", Val::F64(5.5f64.to_bits())));
    assert_eq!(returned(8), format!("{:?}", Val::I32(-3)));
    let trapped = |i: usize| match &outcomes[i] {
        Outcome::Trapped(code, frames) => (*code, frames.clone()),
        other => panic!("call {i}: {other:?}"),
    };
    assert_eq!(trapped(2).0, TrapCode::TableOutOfBounds);
    assert_eq!(trapped(9).0, TrapCode::IntegerDivisionByZero);
    assert_eq!(trapped(10).0, TrapCode::MemoryOutOfBounds);
    let (code, frames) = trapped(11);
    assert_eq!(code, TrapCode::UnreachableCodeReached);
    let names: Vec<_> = frames.iter().map(|f| f.1.as_deref()).collect();
    assert_eq!(names, [Some("inner"), Some("outer")]);
    assert!(frames.iter().all(|f| f.2.is_some()), "{frames:?}");
}

#[test]
fn a_loaded_artifact_behaves_as_the_compiled_module_under_both_compilers() {
    for compiler in [Compiler::Winch, Compiler::Cranelift] {
        let engine = engine(compiler);
        let module = Module::new(&engine, WAT).unwrap();
        let fresh = exercise(&engine, &module);
        expected_outcomes(&fresh);

        let bytes = module.serialize().unwrap();
        // SAFETY: the bytes were just made by `serialize`.
        let loaded = unsafe { Module::deserialize(&engine, &bytes) }.unwrap();
        assert_eq!(exercise(&engine, &loaded), fresh, "{compiler:?}");
        assert_eq!(loaded.name(), module.name());
        assert_eq!(
            loaded.num_defined_functions(),
            module.num_defined_functions()
        );
        assert_eq!(loaded.code_size(), module.code_size());
        let names = |m: &Module| {
            m.function_code()
                .map(|(i, name, _)| (i, name))
                .collect::<Vec<_>>()
        };
        assert_eq!(names(&loaded), names(&module));
        assert_eq!(
            loaded
                .imports()
                .map(|(m, n, t)| format!("{m}.{n}: {t:?}"))
                .collect::<Vec<_>>(),
            module
                .imports()
                .map(|(m, n, t)| format!("{m}.{n}: {t:?}"))
                .collect::<Vec<_>>()
        );

        // Another engine with the same settings loads it too (type ids
        // are the engine's own), and the original module is still fine.
        let other = self::engine(compiler);
        let elsewhere = unsafe { Module::deserialize(&other, &bytes) }.unwrap();
        assert_eq!(exercise(&other, &elsewhere), fresh, "{compiler:?}");
        assert_eq!(exercise(&engine, &module), fresh, "{compiler:?}");

        // An artifact of a loaded module is the same artifact.
        assert_eq!(loaded.serialize().unwrap(), bytes, "{compiler:?}");
    }
}

/// Loaded from a file, the code runs in place from the file's pages (a
/// private, read+execute mapping of the file, not a copy), under both
/// compilers, with the same results, traps, trap codes, wasm offsets and
/// backtraces as the freshly compiled module; the module keeps working
/// after the file is removed (the mapping holds it), and serializes to
/// the very bytes it was loaded from.
#[test]
fn a_file_artifact_runs_in_place_and_behaves_as_the_compiled_module() {
    for compiler in [Compiler::Winch, Compiler::Cranelift] {
        let engine = engine(compiler);
        let module = Module::new(&engine, WAT).unwrap();
        let fresh = exercise(&engine, &module);
        expected_outcomes(&fresh);
        let bytes = module.serialize().unwrap();
        let path = std::env::temp_dir().join(format!(
            "duet-in-place-{}-{compiler:?}.cwasm",
            std::process::id()
        ));
        std::fs::write(&path, &bytes).unwrap();
        // SAFETY: written by `serialize` just above; only removed (which
        // leaves the mapping intact) while the module lives.
        let loaded = unsafe { Module::deserialize_file(&engine, &path) }.unwrap();
        let (_, _, code) = loaded.function_code().next().unwrap();
        let maps = std::fs::read_to_string("/proc/self/maps").unwrap();
        let line = maps
            .lines()
            .find(|line| {
                let (start, end) = line
                    .split_whitespace()
                    .next()
                    .unwrap()
                    .split_once('-')
                    .unwrap();
                let (start, end) = (
                    usize::from_str_radix(start, 16).unwrap(),
                    usize::from_str_radix(end, 16).unwrap(),
                );
                (start..end).contains(&code.start)
            })
            .expect("the code is mapped");
        assert!(line.contains(" r-xp "), "{line}");
        assert!(line.ends_with(path.to_str().unwrap()), "{line}");
        std::fs::remove_file(&path).unwrap();

        assert_eq!(exercise(&engine, &loaded), fresh, "{compiler:?}");
        assert_eq!(loaded.serialize().unwrap(), bytes, "{compiler:?}");
        assert_eq!(loaded.code_size(), module.code_size());
    }
}

#[test]
fn a_module_loads_from_a_file_and_a_missing_file_is_an_io_error() {
    let engine = engine(Compiler::Winch);
    let module = Module::new(&engine, WAT).unwrap();
    let dir = std::env::temp_dir().join(format!("duet-precompiled-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("module.cwasm");
    std::fs::write(&path, module.serialize().unwrap()).unwrap();
    // SAFETY: written by `serialize` just above; nothing changes it.
    let loaded = unsafe { Module::deserialize_file(&engine, &path) }.unwrap();
    assert_eq!(exercise(&engine, &loaded), exercise(&engine, &module));

    let empty = dir.join("empty.cwasm");
    std::fs::write(&empty, b"").unwrap();
    let error = unsafe { Module::deserialize_file(&engine, &empty) }.unwrap_err();
    assert!(
        matches!(
            error.downcast_ref::<ErrorKind>(),
            Some(ErrorKind::Precompiled(
                PrecompiledError::NotAnArtifact { .. }
            ))
        ),
        "{error}"
    );
    let missing = dir.join("missing.cwasm");
    let error = unsafe { Module::deserialize_file(&engine, &missing) }.unwrap_err();
    assert!(
        matches!(
            error.downcast_ref::<ErrorKind>(),
            Some(ErrorKind::Io { .. })
        ),
        "{error}"
    );
    assert!(error.to_string().contains("missing.cwasm"), "{error}");
    std::fs::remove_dir_all(&dir).ok();
}

/// The [`PrecompiledError`] `bytes` are refused with by `engine`.
fn refusal(engine: &Engine, bytes: &[u8]) -> PrecompiledError {
    // SAFETY: refused before any code could run (the test asserts it).
    match unsafe { Module::deserialize(engine, bytes) } {
        Ok(_) => panic!("loaded"),
        Err(error) => match error.downcast::<ErrorKind>() {
            Ok(ErrorKind::Precompiled(reason)) => reason,
            other => panic!("not a Precompiled error: {other:?}"),
        },
    }
}

/// The mismatch `engine` refuses an artifact of `from` with: the setting,
/// the artifact's value and the engine's, and the message.
fn mismatch(from: &Config, to: &Config) -> (&'static str, String, String, String) {
    let module = Module::new(&Engine::new(from).unwrap(), WAT).unwrap();
    let bytes = module.serialize().unwrap();
    match refusal(&Engine::new(to).unwrap(), &bytes) {
        error @ PrecompiledError::Mismatch { .. } => {
            let message = error.to_string();
            let PrecompiledError::Mismatch {
                setting,
                artifact,
                engine,
            } = error
            else {
                unreachable!()
            };
            (setting, artifact, engine, message)
        }
        other => panic!("not a mismatch: {other}"),
    }
}

#[test]
fn every_setting_the_code_depends_on_is_compared_and_named() {
    let base = Config::new();
    let with = |change: &dyn Fn(&mut Config)| {
        let mut config = Config::new();
        change(&mut config);
        config
    };

    let (setting, artifact, engine, message) = mismatch(
        &base,
        &with(&|c| {
            c.compiler(Compiler::Cranelift);
        }),
    );
    assert_eq!(
        (setting, &*artifact, &*engine),
        ("compiler", "winch", "cranelift")
    );
    assert_eq!(
        message,
        "the artifact was compiled with compiler winch, the engine's compiler is cranelift"
    );
    let (setting, artifact, engine, _) = mismatch(
        &with(&|c| {
            c.compiler(Compiler::Cranelift);
        }),
        &base,
    );
    assert_eq!(
        (setting, &*artifact, &*engine),
        ("compiler", "cranelift", "winch")
    );

    let (setting, artifact, engine, _) = mismatch(
        &base,
        &with(&|c| {
            c.consume_fuel(true);
        }),
    );
    assert_eq!(
        (setting, &*artifact, &*engine),
        ("consume_fuel", "off", "on")
    );
    let (setting, artifact, engine, _) = mismatch(
        &with(&|c| {
            c.epoch_interruption(true);
        }),
        &base,
    );
    assert_eq!(
        (setting, &*artifact, &*engine),
        ("epoch_interruption", "on", "off")
    );

    let (setting, artifact, engine, _) = mismatch(
        &base,
        &with(&|c| {
            c.tunables(Tunables::NO_RESERVATION);
        }),
    );
    assert_eq!(
        (setting, &*artifact, &*engine),
        ("memory_reservation", "4294967296", "0")
    );
    let (setting, _, _, _) = mismatch(
        &base,
        &with(&|c| {
            c.tunables(Tunables {
                memory_guard_size: 1 << 30,
                ..Tunables::DEFAULT
            });
        }),
    );
    assert_eq!(setting, "memory_guard_size");

    // WASM2 lacks features the default set has; the message names them.
    let (setting, artifact, engine, _) = mismatch(
        &base,
        &with(&|c| {
            c.wasm_features(WasmFeatures::WASM2);
        }),
    );
    assert_eq!(setting, "WebAssembly features");
    assert!(artifact.contains("memory64"), "{artifact}");
    assert_eq!(engine, "only: none");

    // This machine has SSE4.1 (the test needs it: it compares two presets
    // the host can both run).
    assert!(duet::CpuFeatures::host().has(duet::CpuFeature::Sse41));
    let (setting, artifact, engine, message) = mismatch(
        &with(&|c| {
            c.cpu_features(CpuPreset::Sse41);
        }),
        &with(&|c| {
            c.cpu_features(CpuPreset::Baseline);
        }),
    );
    assert_eq!(setting, "CPU features");
    assert!(artifact.contains("sse4.1"), "{artifact}");
    assert!(
        engine.contains("only the artifact's: sse3, ssse3, sse4.1; only the engine's: none"),
        "{message}"
    );
}

/// An artifact of a small module, and the engine that made it.
fn small_artifact() -> (Engine, Vec<u8>) {
    let engine = engine(Compiler::Winch);
    let module = Module::new(
        &engine,
        r#"(module (func (export "f") (param i32) (result i32) (i32.add (local.get 0) (i32.const 1))))"#,
    )
    .unwrap();
    let bytes = module.serialize().unwrap();
    (engine, bytes)
}

/// `bytes` with the checksum written again, as a tool that rewrote a
/// field on purpose would (the format: XXH3-64 of all bytes before the
/// last 8, little-endian, in those 8).
fn rechecksummed(mut bytes: Vec<u8>) -> Vec<u8> {
    let body = bytes.len() - 8;
    let checksum = xxhash_rust::xxh3::xxh3_64(&bytes[..body]);
    bytes[body..].copy_from_slice(&checksum.to_le_bytes());
    bytes
}

#[test]
fn other_formats_versions_and_files_are_refused_saying_what_they_are() {
    let (engine, bytes) = small_artifact();
    assert!(Module::is_precompiled(&bytes));

    // Another format version: named, before the checksum is looked at.
    let mut newer = bytes.clone();
    newer[11..15].copy_from_slice(&(duet::PRECOMPILED_FORMAT_VERSION + 1).to_le_bytes());
    let error = refusal(&engine, &newer);
    assert_eq!(
        error,
        PrecompiledError::FormatVersion {
            found: duet::PRECOMPILED_FORMAT_VERSION + 1
        }
    );
    assert!(
        error.to_string().contains("compile the module again"),
        "{error}"
    );

    // Another duet version, with a checksum that matches.
    let version = env!("CARGO_PKG_VERSION").as_bytes();
    let at = bytes
        .windows(version.len())
        .position(|w| w == version)
        .expect("the header names the duet version");
    let mut other = bytes.clone();
    other[at] = if other[at] == b'9' { b'8' } else { b'9' };
    let found = String::from_utf8(other[at..at + version.len()].to_vec()).unwrap();
    let error = refusal(&engine, &rechecksummed(other));
    assert_eq!(
        error,
        PrecompiledError::DuetVersion {
            found: found.clone()
        }
    );
    assert!(error.to_string().contains(&found), "{error}");

    // A wasm binary, text, nothing, other bytes.
    let wasm = wat::parse_str("(module)").unwrap();
    assert_eq!(refusal(&engine, &wasm), PrecompiledError::WasmBinary);
    assert!(
        refusal(&engine, &wasm)
            .to_string()
            .contains("a WebAssembly binary, not a precompiled module"),
    );
    for not_an_artifact in [
        &b"(module)"[..],
        b"",
        b"\0duet-cwas",
        b"\x7fELF\x02\x01\x01",
    ] {
        assert!(
            matches!(
                refusal(&engine, not_an_artifact),
                PrecompiledError::NotAnArtifact { .. }
            ),
            "{not_an_artifact:?}"
        );
    }
    assert_eq!(
        refusal(&engine, b"(module)").to_string(),
        "not a precompiled duet module: it starts with 28 6d 6f 64 75 6c 65 29, not the magic \
         number 00 64 75 65 74 2d 63 77 61 73 6d"
    );

    // And the other way: an artifact is not wasm.
    let error = Module::new(&engine, &bytes).unwrap_err();
    assert!(
        error.to_string().contains("a precompiled duet module"),
        "{error}"
    );
    assert_eq!(
        duet::ModuleSource::detect(&bytes),
        Err(NotAModule::Precompiled)
    );
}

#[test]
fn every_truncation_and_every_flipped_bit_is_refused() {
    let (engine, bytes) = small_artifact();
    // SAFETY: (all loads below) a damaged artifact must be refused before
    // any of its code runs; the test asserts that it is.
    let load = |bytes: &[u8]| unsafe { Module::deserialize(&engine, bytes) };
    assert!(load(&bytes).is_ok());

    for len in 0..bytes.len() {
        let error = load(&bytes[..len]).map(drop).unwrap_err();
        assert!(
            matches!(
                error.downcast_ref::<ErrorKind>(),
                Some(ErrorKind::Precompiled(_))
            ),
            "cut to {len} bytes: {error}"
        );
    }
    // One more byte is damage too.
    let mut longer = bytes.clone();
    longer.push(0);
    assert!(load(&longer).is_err());

    let mut damaged = bytes.clone();
    let mut corrupt = 0;
    for bit in 0..bytes.len() * 8 {
        damaged[bit / 8] ^= 1 << (bit % 8);
        match load(&damaged) {
            Ok(_) => panic!("bit {bit} flipped, and the artifact loaded"),
            Err(error) => match error.downcast_ref::<ErrorKind>() {
                Some(ErrorKind::Precompiled(PrecompiledError::Corrupt(message))) => {
                    assert!(message.contains("checksum mismatch"), "{message}");
                    corrupt += 1;
                }
                // A flip in the magic number or the format version is
                // named as such, before the checksum.
                Some(ErrorKind::Precompiled(
                    PrecompiledError::NotAnArtifact { .. }
                    | PrecompiledError::WasmBinary
                    | PrecompiledError::FormatVersion { .. },
                )) => assert!(bit < 15 * 8, "bit {bit}: {error}"),
                _ => panic!("bit {bit}: {error}"),
            },
        }
        damaged[bit / 8] ^= 1 << (bit % 8);
    }
    assert_eq!(corrupt, (bytes.len() - 15) * 8);
    assert!(load(&damaged).is_ok(), "every bit was restored");
}

#[test]
fn a_large_artifact_refuses_damage_in_its_code_image_and_metadata() {
    // The test program under the optimizing compiler: a few bytes in each
    // region of a larger artifact, and truncations in steps.
    let engine = engine(Compiler::Cranelift);
    let bytes = Module::new(&engine, WAT).unwrap().serialize().unwrap();
    let load = |bytes: &[u8]| unsafe { Module::deserialize(&engine, bytes) };
    for at in (15..bytes.len()).step_by(7) {
        let mut damaged = bytes.clone();
        damaged[at] = damaged[at].wrapping_add(1);
        assert!(load(&damaged).is_err(), "byte {at} changed, and it loaded");
    }
    for len in (0..bytes.len()).step_by(5) {
        assert!(load(&bytes[..len]).is_err(), "cut to {len}");
    }
    // A rewritten body with a matching checksum is trusted (the checksum
    // is against corruption, not malice) but still decoded safely: cut the
    // metadata short and the decoder refuses it.
    let cut = rechecksummed([&bytes[..40], &[0u8; 8][..]].concat());
    assert!(matches!(
        refusal(&engine, &cut),
        PrecompiledError::Corrupt(_)
    ));
}
