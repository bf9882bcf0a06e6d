//! `cargo xtask isle`: compile the ISLE sources under `isle/` into the Rust
//! files that are checked in beside the crates that use them.
//!
//! Each [`GenerationUnit`] turns one directory of `.isle` files into one Rust
//! file:
//!
//! ```text
//!   isle/asm/x64/*.isle  (sorted by file name, named relative to the workspace root)
//!        │  lex + parse (cranelift_isle::parser)
//!        ▼
//!   AST ──► cranelift_isle::compile ──► Rust ──► + `@generated` header ──► rustfmt --edition 2024
//!                                                                              │
//!                           crates/asm/src/x64/inst/generated.rs  ◄────────────┘
//! ```
//!
//! Invariants the generated file keeps:
//!
//! - **Deterministic.** Inputs are read in file-name order and named by their
//!   workspace-relative path (ISLE prints those names in its own header and in
//!   a doc comment on every generated type), so every machine produces the
//!   same bytes and `--check` can compare bytes.
//! - **Formatted.** The text is passed through `rustfmt --edition 2024`, the
//!   edition of the workspace, so `cargo fmt --check` accepts the checked-in
//!   file as it is.
//! - **Never edited by hand.** The header says where the file comes from and
//!   how to regenerate it; `cargo xtask isle --check` (run by `.ci/run`) fails
//!   when the file differs from what the sources generate.
//!
//! # Declarations shared between units
//!
//! The assembler's ISLE files declare the machine-instruction types (`MInst`
//! and its operand types) and cranelift-isle generates their Rust definitions
//! into `cranelift-asm`. The optimizing compiler's lowering rules construct
//! those same instructions, so a later unit compiles them *together with* the
//! assembler's declarations, but must not define the types a second time: it
//! has to use `cranelift_asm`'s. [`compile_with_extern_types`] does this by
//! parsing the declaration files and marking every enum and struct type they
//! declare `extern` before compiling. ISLE then treats them exactly as if they
//! had been written `(type MInst extern (enum ...))`: their variants can still
//! be matched and constructed (`MInst::Ret { .. }` in the output), but no
//! `pub enum MInst` is emitted. A unit lists such directories in
//! [`GenerationUnit::declarations_from`].

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;

use cranelift_isle::ast;
use cranelift_isle::codegen::CodegenOptions;
use cranelift_isle::error::Errors;
use cranelift_isle::files::Files;
use cranelift_isle::lexer::Lexer;

/// The cranelift-isle version named in every generated header. A test checks
/// it against `Cargo.lock`, so the header cannot go on naming an old version
/// after the dependency is bumped.
pub const ISLE_VERSION: &str = "0.135.8";

/// One generated Rust file and the ISLE sources it is generated from. All
/// paths are relative to the workspace root and use `/`.
#[derive(Debug)]
pub struct GenerationUnit {
    /// Directories whose `*.isle` files are compiled ahead of this unit's own
    /// with their enum and struct types made `extern`: this unit may use their
    /// types and terms, but the Rust types are defined by another unit's output.
    pub declarations_from: &'static [&'static str],
    /// The directory whose `*.isle` files (not its subdirectories) this unit
    /// compiles.
    pub input_dir: &'static str,
    /// The Rust file this unit writes.
    pub output: &'static str,
}

/// The assembler's x64 instruction types and constructors.
pub const ASM_X64: GenerationUnit = GenerationUnit {
    declarations_from: &[],
    input_dir: "isle/asm/x64",
    output: "crates/asm/src/x64/inst/generated.rs",
};

/// Every generation unit, in the order they are generated and checked.
pub const UNITS: &[GenerationUnit] = &[ASM_X64, CODEGEN_X64, CODEGEN_OPTS];

/// The optimizing compiler's mid-end rewrite rules (IR to IR).
pub const CODEGEN_OPTS: GenerationUnit = GenerationUnit {
    declarations_from: &[],
    input_dir: "isle/codegen/opts",
    output: "crates/codegen/src/opts/generated.rs",
};

/// The optimizing compiler's x64 lowering rules, over the assembler's
/// declarations.
pub const CODEGEN_X64: GenerationUnit = GenerationUnit {
    declarations_from: &["isle/asm/x64"],
    input_dir: "isle/codegen/x64",
    output: "crates/codegen/src/isa/x64/lower/generated.rs",
};

/// One ISLE source file.
#[derive(Clone, Debug)]
pub struct IsleSource {
    /// The workspace-relative path, which is what ISLE prints in the output
    /// and in error messages.
    pub name: String,
    /// The file's contents.
    pub text: String,
}

/// Reads every `*.isle` file directly inside `dir` (relative to `root`),
/// sorted by file name. A directory without any is an error: a unit with no
/// sources is a misconfigured table, not an empty output.
pub fn read_sources(root: &Path, dir: &str) -> Result<Vec<IsleSource>, String> {
    let entries = std::fs::read_dir(root.join(dir))
        .map_err(|error| format!("cannot list ISLE sources in {dir}: {error}"))?;
    let mut file_names = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|error| format!("cannot list ISLE sources in {dir}: {error}"))?;
        let file_name = entry
            .file_name()
            .into_string()
            .map_err(|name| format!("ISLE source names must be UTF-8; found {name:?} in {dir}"))?;
        if file_name.ends_with(".isle") && entry.path().is_file() {
            file_names.push(file_name);
        }
    }
    if file_names.is_empty() {
        return Err(format!("no *.isle files in {dir}"));
    }
    file_names.sort();
    file_names
        .into_iter()
        .map(|file_name| {
            let name = format!("{dir}/{file_name}");
            let text = std::fs::read_to_string(root.join(&name))
                .map_err(|error| format!("cannot read {name}: {error}"))?;
            Ok(IsleSource { name, text })
        })
        .collect()
}

/// Compiles `declarations` followed by `sources` as one ISLE program, with
/// every enum and struct type declared in `declarations` made `extern` (see
/// the module documentation). Their terms, constructors and extractors are
/// unchanged. With no declarations this is a plain compile of `sources`.
///
/// Errors are cranelift-isle's, whose `Display` names `file:line:column`.
pub fn compile_with_extern_types(
    declarations: &[IsleSource],
    sources: &[IsleSource],
) -> Result<String, Errors> {
    let all_sources = declarations.iter().chain(sources);
    let files = Arc::new(Files::from_names_and_contents(
        all_sources
            .clone()
            .map(|source| (source.name.clone(), source.text.clone())),
    ));

    let mut defs = Vec::new();
    for (file_index, source) in all_sources.enumerate() {
        let parsed = Lexer::new(file_index, &source.text).and_then(cranelift_isle::parser::parse);
        match parsed {
            Ok(file_defs) => defs.extend(file_defs),
            Err(error) => return Err(Errors::new(vec![error], files)),
        }
    }

    for def in &mut defs {
        if let ast::Def::Type(ty) = def {
            let declared_in_declarations = ty.pos.file < declarations.len();
            let is_enum_or_struct =
                matches!(ty.ty, ast::TypeValue::Enum(..) | ast::TypeValue::Struct(..));
            if declared_in_declarations && is_enum_or_struct {
                ty.is_extern = true;
                // ISLE rejects `extern nodebug`: `nodebug` only stops it from
                // deriving `Debug`, and an extern type derives nothing here.
                ty.is_nodebug = false;
            }
        }
    }

    cranelift_isle::compile::compile(files, &defs, &CodegenOptions::default())
}

/// The comment that opens every generated file. ISLE's own output follows it;
/// that output starts with more comments and then `#![allow(..)]` inner
/// attributes, which is valid because the generated file is a module of its
/// own (`mod generated;`).
fn header(unit: &GenerationUnit) -> String {
    let mut header = format!(
        "// @generated by `cargo xtask isle` from {}/*.isle with cranelift-isle {ISLE_VERSION}.\n",
        unit.input_dir
    );
    for dir in unit.declarations_from {
        writeln!(
            header,
            "// The types declared in {dir}/*.isle are extern here: they are defined elsewhere."
        )
        .unwrap();
    }
    header.push_str(
        "// Do not edit: change the ISLE sources and run `cargo xtask isle`; CI runs\n\
         // `cargo xtask isle --check`, which fails when this file is stale.\n",
    );
    header
}

/// Formats Rust source with `rustfmt --edition 2024` (stdin to stdout), run in
/// `root` so that it reads the same configuration as `cargo fmt`. Honours the
/// `RUSTFMT` environment variable, as `cargo fmt` does.
fn rustfmt(root: &Path, source: String) -> Result<String, String> {
    let program = std::env::var_os("RUSTFMT").unwrap_or_else(|| "rustfmt".into());
    let mut child = Command::new(&program)
        .args(["--edition", "2024"])
        .current_dir(root)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|error| {
            format!(
                "cannot run {}: {error} (install it with `rustup component add rustfmt`)",
                program.display()
            )
        })?;
    // Write from another thread: the output can be larger than a pipe buffer,
    // and rustfmt may start writing before it has read all of its input.
    let mut stdin = child.stdin.take().expect("stdin was piped");
    let writer = std::thread::spawn(move || stdin.write_all(source.as_bytes()));
    let output = child
        .wait_with_output()
        .map_err(|error| format!("rustfmt failed: {error}"))?;
    writer
        .join()
        .expect("the rustfmt stdin writer does not panic")
        .map_err(|error| format!("cannot write to rustfmt: {error}"))?;
    if !output.status.success() {
        return Err(format!(
            "rustfmt rejected the generated code ({}):\n{}",
            output.status,
            String::from_utf8_lossy(&output.stderr)
        ));
    }
    String::from_utf8(output.stdout).map_err(|error| format!("rustfmt printed non-UTF-8: {error}"))
}

/// Produces the complete contents `unit.output` should have.
pub fn render(root: &Path, unit: &GenerationUnit) -> Result<String, String> {
    let mut declarations = Vec::new();
    for dir in unit.declarations_from {
        declarations.extend(read_sources(root, dir)?);
    }
    let sources = read_sources(root, unit.input_dir)?;
    let rust = compile_with_extern_types(&declarations, &sources).map_err(|errors| {
        let errors = errors.to_string();
        format!(
            "cannot compile {}/*.isle into {}:\n{}",
            unit.input_dir,
            unit.output,
            errors.trim_end()
        )
    })?;
    rustfmt(root, header(unit) + &rust)
}

/// How a checked-in generated file compares with a fresh generation.
#[derive(Debug, PartialEq, Eq)]
pub enum Freshness {
    /// Byte-for-byte what the sources generate.
    UpToDate,
    /// The file does not exist.
    Missing,
    /// The file differs, first at this (1-based) line.
    Stale { first_different_line: usize },
}

fn freshness(root: &Path, unit: &GenerationUnit, expected: &str) -> Result<Freshness, String> {
    file_freshness(root, unit.output, expected)
}

/// Regenerates `unit.output`, writing it only if its contents change.
/// Returns whether it wrote.
pub fn generate(root: &Path, unit: &GenerationUnit) -> Result<bool, String> {
    let expected = render(root, unit)?;
    if freshness(root, unit, &expected)? == Freshness::UpToDate {
        return Ok(false);
    }
    let path = root.join(unit.output);
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)
            .map_err(|error| format!("cannot create {}: {error}", parent.display()))?;
    }
    std::fs::write(&path, &expected)
        .map_err(|error| format!("cannot write {}: {error}", unit.output))?;
    Ok(true)
}

/// Checks `unit.output` against a fresh generation; writes nothing.
pub fn check(root: &Path, unit: &GenerationUnit) -> Result<Freshness, String> {
    let expected = render(root, unit)?;
    freshness(root, unit, &expected)
}

/// The files generated from the x86-64 instruction table
/// (`xtask/src/x64/table.rs`): each path and its complete contents. They
/// come first: the ISLE units read the declarations they write.
pub fn table_outputs(root: &Path) -> Result<Vec<(&'static str, String)>, String> {
    Ok(vec![
        (crate::x64::ISLE_OUTPUT, crate::x64::render_isle()?),
        (
            crate::x64::RUST_OUTPUT,
            rustfmt(root, crate::x64::render_rust()?)?,
        ),
        (
            crate::x64::METHODS_OUTPUT,
            rustfmt(root, crate::x64::render_methods()?)?,
        ),
        (
            crate::x64::TEST_OUTPUT,
            rustfmt(root, crate::x64::render_test_forms()?)?,
        ),
    ])
}

fn file_freshness(root: &Path, path: &str, expected: &str) -> Result<Freshness, String> {
    let actual = match std::fs::read_to_string(root.join(path)) {
        Ok(actual) => actual,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
            return Ok(Freshness::Missing);
        }
        Err(error) => return Err(format!("cannot read {path}: {error}")),
    };
    if actual == expected {
        return Ok(Freshness::UpToDate);
    }
    // Lines compared past the end of the shorter file are `None`, so a file
    // that is a prefix of the other still reports a difference.
    let mut actual_lines = actual.lines();
    let mut expected_lines = expected.lines();
    let mut line = 1;
    while actual_lines.next() == expected_lines.next() {
        line += 1;
    }
    Ok(Freshness::Stale {
        first_different_line: line,
    })
}

/// `cargo xtask isle`.
pub fn generate_all(root: &Path) -> Result<(), String> {
    for (path, expected) in table_outputs(root)? {
        if file_freshness(root, path, &expected)? == Freshness::UpToDate {
            println!("unchanged {path}");
        } else {
            std::fs::write(root.join(path), &expected)
                .map_err(|error| format!("cannot write {path}: {error}"))?;
            println!("wrote {path} (from the x86-64 instruction table)");
        }
    }
    for unit in UNITS {
        if generate(root, unit)? {
            println!("wrote {} (from {}/*.isle)", unit.output, unit.input_dir);
        } else {
            println!("unchanged {}", unit.output);
        }
    }
    Ok(())
}

/// `cargo xtask isle --check`: reports every stale unit, not just the first.
pub fn check_all(root: &Path) -> Result<(), String> {
    let mut problems = Vec::new();
    for (path, expected) in table_outputs(root)? {
        match file_freshness(root, path, &expected)? {
            Freshness::UpToDate => println!("up to date {path}"),
            Freshness::Missing => problems.push(format!("{path} is missing")),
            Freshness::Stale {
                first_different_line,
            } => problems.push(format!(
                "{path} is stale: line {first_different_line} differs from what the x86-64 instruction table generates"
            )),
        }
    }
    for unit in UNITS {
        match check(root, unit)? {
            Freshness::UpToDate => println!("up to date {}", unit.output),
            Freshness::Missing => problems.push(format!("{} is missing", unit.output)),
            Freshness::Stale {
                first_different_line,
            } => problems.push(format!(
                "{} is stale: line {first_different_line} differs from what {}/*.isle generates",
                unit.output, unit.input_dir
            )),
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "{}\nrun `cargo xtask isle` and commit the regenerated files",
            problems.join("\n")
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    /// A small stand-in for the assembler's declarations, so the mechanism is
    /// tested whatever state `isle/asm/x64/` is in.
    const FIXTURE_DECLARATIONS: &str = "
        (type GprReg (primitive GprReg))
        (type AluOp (enum Add Sub))
        (type Amode nodebug (struct (base GprReg) (offset i32)))
        (type MInst nodebug (enum (AluRmi (op AluOp) (src GprReg)) (Ret (stack_bytes_to_pop u16)) (Int3)))
        (decl int3 () MInst)
        (rule (int3) (MInst.Int3))
    ";

    fn source(name: &str, text: &str) -> IsleSource {
        IsleSource {
            name: name.to_string(),
            text: text.to_string(),
        }
    }

    /// A fresh directory under the system temporary directory, removed when
    /// dropped.
    struct ScratchDir(PathBuf);

    impl ScratchDir {
        fn new(test_name: &str) -> Self {
            let path =
                std::env::temp_dir().join(format!("duet-xtask-{}-{test_name}", std::process::id()));
            let _ = std::fs::remove_dir_all(&path);
            std::fs::create_dir_all(&path).unwrap();
            ScratchDir(path)
        }
    }

    impl Drop for ScratchDir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    /// The enum and struct types declared in `defs`, by name.
    fn declared_enum_and_struct_names(defs: &[ast::Def]) -> Vec<String> {
        defs.iter()
            .filter_map(|def| match def {
                ast::Def::Type(ast::Type {
                    name,
                    ty: ast::TypeValue::Enum(..) | ast::TypeValue::Struct(..),
                    ..
                }) => Some(name.0.clone()),
                _ => None,
            })
            .collect()
    }

    fn parse_all(sources: &[IsleSource]) -> Vec<ast::Def> {
        let mut defs = Vec::new();
        for (index, source) in sources.iter().enumerate() {
            let lexer = Lexer::new(index, &source.text).unwrap();
            defs.extend(cranelift_isle::parser::parse(lexer).unwrap());
        }
        defs
    }

    fn assert_defines_none_of(rust: &str, type_names: &[String]) {
        for name in type_names {
            assert!(
                !rust.contains(&format!("pub enum {name} "))
                    && !rust.contains(&format!("pub struct {name} ")),
                "type {name} was generated again although it is extern"
            );
        }
    }

    #[test]
    fn header_version_matches_the_locked_cranelift_isle() {
        let lock = std::fs::read_to_string(crate::workspace_root().join("Cargo.lock")).unwrap();
        let locked = lock
            .split("[[package]]")
            .find(|package| package.contains("\nname = \"cranelift-isle\"\n"))
            .expect("cranelift-isle is in Cargo.lock");
        assert!(
            locked.contains(&format!("\nversion = \"{ISLE_VERSION}\"\n")),
            "ISLE_VERSION is {ISLE_VERSION} but Cargo.lock has:{locked}"
        );
    }

    #[test]
    fn plain_compile_defines_the_types() {
        let rust = compile_with_extern_types(&[], &[source("fixture.isle", FIXTURE_DECLARATIONS)])
            .unwrap_or_else(|errors| panic!("{errors}"));
        assert!(rust.contains("pub enum MInst {"));
        assert!(rust.contains("pub struct Amode {"));
    }

    #[test]
    fn extern_declarations_are_used_but_not_defined() {
        let declarations = [source("fixture.isle", FIXTURE_DECLARATIONS)];
        let lowering = source(
            "lower.isle",
            "(decl lower_add (GprReg) MInst)
             (rule (lower_add src) (MInst.AluRmi (AluOp.Add) src))
             (decl lower_trap () MInst)
             (rule (lower_trap) (int3))",
        );
        let rust = compile_with_extern_types(&declarations, &[lowering])
            .unwrap_or_else(|errors| panic!("{errors}"));
        assert_defines_none_of(
            &rust,
            &declared_enum_and_struct_names(&parse_all(&declarations)),
        );
        assert!(rust.contains("MInst::AluRmi"));
        assert!(rust.contains("AluOp::Add"));
        assert!(rust.contains("pub fn constructor_lower_add"));
    }

    #[test]
    fn errors_name_the_file_and_line() {
        let broken = source(
            "isle/broken.isle",
            "(type MInst (enum (Ret)))\n(rule (nope) (MInst.Ret))\n",
        );
        let errors = compile_with_extern_types(&[], &[broken]).unwrap_err();
        let message = errors.to_string();
        assert!(message.contains("isle/broken.isle:2:"), "{message}");
    }

    /// The real assembler declarations feed a later compile, as the optimizing
    /// compiler's lowering will. Only assumes that `isle/asm/x64/` declares an
    /// `MInst` enum with at least one variant: the rule constructs its first
    /// variant, taking one argument per field.
    #[test]
    fn asm_x64_declarations_are_reusable_with_extern_types() {
        let declarations = read_sources(&crate::workspace_root(), ASM_X64.input_dir)
            .unwrap_or_else(|error| {
                panic!("this test needs the assembler's ISLE sources: {error}")
            });
        let defs = parse_all(&declarations);
        let minst_variants = defs
            .iter()
            .find_map(|def| match def {
                ast::Def::Type(ast::Type {
                    name,
                    ty: ast::TypeValue::Enum(variants, _),
                    ..
                }) if name.0 == "MInst" => Some(variants),
                _ => None,
            })
            .expect("isle/asm/x64 declares `(type MInst (enum ...))`");
        let variant = minst_variants.first().expect("MInst has a variant");
        let field_types: Vec<&str> = match &variant.fields {
            ast::Fields::Unit => vec![],
            ast::Fields::Struct(fields) => fields.fields.iter().map(|f| f.ty.0.as_str()).collect(),
            ast::Fields::Tuple(fields) => fields.fields.iter().map(|f| f.ty.0.as_str()).collect(),
        };
        let arguments: Vec<String> = (0..field_types.len()).map(|i| format!("a{i}")).collect();
        let lowering = format!(
            "(decl lower_to_minst ({}) MInst)\n(rule (lower_to_minst {args}) (MInst.{} {args}))\n",
            field_types.join(" "),
            variant.name.0,
            args = arguments.join(" "),
        );

        let rust = compile_with_extern_types(&declarations, &[source("lower.isle", &lowering)])
            .unwrap_or_else(|errors| panic!("{errors}\nwhile compiling:\n{lowering}"));
        assert!(!rust.contains("pub enum MInst"));
        assert_defines_none_of(&rust, &declared_enum_and_struct_names(&defs));
        assert!(rust.contains(&format!("MInst::{}", variant.name.0)));
    }

    #[test]
    fn generate_writes_once_and_check_detects_staleness() {
        let scratch = ScratchDir::new("generate");
        let root = &scratch.0;
        std::fs::create_dir_all(root.join("isle/x")).unwrap();
        std::fs::write(
            root.join("isle/x/b.isle"),
            "(decl ret () MInst)\n(rule (ret) (MInst.Ret 0))\n",
        )
        .unwrap();
        std::fs::write(root.join("isle/x/a.isle"), FIXTURE_DECLARATIONS).unwrap();
        std::fs::write(root.join("isle/x/notes.txt"), "not ISLE").unwrap();
        let unit = GenerationUnit {
            declarations_from: &[],
            input_dir: "isle/x",
            output: "out/generated.rs",
        };

        assert_eq!(check(root, &unit).unwrap(), Freshness::Missing);
        assert!(generate(root, &unit).unwrap());
        assert!(
            !generate(root, &unit).unwrap(),
            "second run rewrote an unchanged file"
        );
        assert_eq!(check(root, &unit).unwrap(), Freshness::UpToDate);

        let written = std::fs::read_to_string(root.join(unit.output)).unwrap();
        assert!(written.starts_with(&header(&unit)));
        assert!(written.contains("// - isle/x/a.isle\n// - isle/x/b.isle\n"));
        assert!(
            !written.contains(root.to_str().unwrap()),
            "absolute path leaked into the output"
        );
        assert!(
            written.contains("pub enum MInst {"),
            "not rustfmt-formatted:\n{written}"
        );

        std::fs::write(root.join(unit.output), written.replace("Int3", "Int4")).unwrap();
        assert!(matches!(
            check(root, &unit).unwrap(),
            Freshness::Stale { .. }
        ));
        std::fs::write(root.join(unit.output), &written[..written.len() - 2]).unwrap();
        assert!(matches!(
            check(root, &unit).unwrap(),
            Freshness::Stale { .. }
        ));
    }

    #[test]
    fn a_unit_with_declarations_from_renders_without_redefining_them() {
        let scratch = ScratchDir::new("declarations-from");
        let root = &scratch.0;
        std::fs::create_dir_all(root.join("isle/asm")).unwrap();
        std::fs::create_dir_all(root.join("isle/lower")).unwrap();
        std::fs::write(root.join("isle/asm/inst.isle"), FIXTURE_DECLARATIONS).unwrap();
        std::fs::write(
            root.join("isle/lower/lower.isle"),
            "(decl lower_sub (GprReg) MInst)\n(rule (lower_sub src) (MInst.AluRmi (AluOp.Sub) src))\n",
        )
        .unwrap();
        let unit = GenerationUnit {
            declarations_from: &["isle/asm"],
            input_dir: "isle/lower",
            output: "lower.rs",
        };
        let rust = render(root, &unit).unwrap();
        assert!(rust.contains("// The types declared in isle/asm/*.isle are extern here"));
        assert!(!rust.contains("pub enum MInst"));
        assert!(rust.contains("MInst::AluRmi"));
    }

    #[test]
    fn check_reports_the_first_different_line() {
        let scratch = ScratchDir::new("first-line");
        let unit = GenerationUnit {
            declarations_from: &[],
            input_dir: "unused",
            output: "generated.rs",
        };
        std::fs::write(scratch.0.join(unit.output), "one\ntwo\nthree\n").unwrap();
        assert_eq!(
            freshness(&scratch.0, &unit, "one\ntwo\nTHREE\n").unwrap(),
            Freshness::Stale {
                first_different_line: 3
            }
        );
        assert_eq!(
            freshness(&scratch.0, &unit, "one\ntwo\nthree\nfour\n").unwrap(),
            Freshness::Stale {
                first_different_line: 4
            }
        );
    }

    #[test]
    fn missing_sources_are_an_error() {
        let scratch = ScratchDir::new("missing");
        std::fs::create_dir_all(scratch.0.join("isle/empty")).unwrap();
        assert!(
            read_sources(&scratch.0, "isle/empty")
                .unwrap_err()
                .contains("no *.isle files")
        );
        assert!(read_sources(&scratch.0, "isle/absent").is_err());
    }
}
