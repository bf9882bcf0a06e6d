//! The `duet` binary as a user runs it: exit codes, what it prints on
//! stdout, and one-line errors on stderr.

use std::path::PathBuf;
use std::process::{Command, Output};

/// Writes `contents` to a file named `name` in this test binary's scratch
/// directory and returns its path.
fn file(name: &str, contents: impl AsRef<[u8]>) -> PathBuf {
    let path = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(name);
    std::fs::write(&path, contents).unwrap();
    path
}

/// Runs `duet` with `args`.
fn duet(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_duet"))
        .args(args)
        .output()
        .expect("the duet binary runs")
}

fn stdout(output: &Output) -> String {
    String::from_utf8(output.stdout.clone()).unwrap()
}

fn stderr(output: &Output) -> String {
    String::from_utf8(output.stderr.clone()).unwrap()
}

/// Checks that `output` is a failure with exit code 1, nothing on stdout
/// and exactly one line on stderr, `error: ...` naming `file`, and returns
/// that line.
fn one_error_line(output: &Output, file: &str) -> String {
    let err = stderr(output);
    assert_eq!(output.status.code(), Some(1), "stderr: {err}");
    assert_eq!(stdout(output), "");
    assert_eq!(err.lines().count(), 1, "more than one line: {err}");
    assert!(err.starts_with("error: "), "{err}");
    assert!(err.contains(file), "the error does not name {file}: {err}");
    err
}

const ADD: &str = r#"
    (module
      (func $add (export "add") (param i32 i32) (result i32)
        local.get 0
        local.get 1
        i32.add))
"#;

#[test]
fn compiling_a_valid_module_prints_nothing_and_succeeds() {
    let path = file("add.wat", ADD);
    let output = duet(&["compile", path.to_str().unwrap()]);
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(stdout(&output), "");
    assert_eq!(stderr(&output), "");
}

#[test]
fn binary_input_and_spec_feature_sets_are_accepted() {
    let path = file("add.wasm", wat::parse_str(ADD).unwrap());
    for spec in [None, Some("2.0"), Some("3.0")] {
        let mut args = vec!["compile", "--compiler", "winch"];
        if let Some(spec) = spec {
            args.extend(["--spec", spec]);
        }
        args.push(path.to_str().unwrap());
        let output = duet(&args);
        assert!(output.status.success(), "{args:?}: {}", stderr(&output));
    }
}

#[test]
fn emit_asm_prints_each_function_with_wasm_offsets() {
    let path = file("add_emit.wat", ADD);
    let output = duet(&["compile", "--emit", "asm", path.to_str().unwrap()]);
    assert!(output.status.success(), "{}", stderr(&output));
    let out = stdout(&output);
    assert!(out.starts_with("function 0 (add):\n"), "{out}");
    assert!(out.contains(" ret"), "{out}");
    assert!(out.contains("; wasm 0x"), "{out}");
    assert!(out.contains("\ntraps:\n"), "{out}");
}

#[test]
fn stats_report_functions_sizes_and_time() {
    let path = file("add_stats.wat", ADD);
    let output = duet(&["compile", "--stats", path.to_str().unwrap()]);
    assert!(output.status.success(), "{}", stderr(&output));
    let out = stdout(&output);
    for key in ["functions:  1", "wasm bytes:", "code bytes:", " ms"] {
        assert!(out.contains(key), "no {key:?} in {out}");
    }
}

#[test]
fn an_invalid_function_body_is_one_error_naming_the_offset() {
    let path = file(
        "invalid_body.wat",
        "(module (func (result i32) i64.const 0))",
    );
    let output = duet(&["compile", path.to_str().unwrap()]);
    let err = one_error_line(&output, "invalid_body.wat");
    assert!(err.contains("offset 0x"), "{err}");
    assert!(err.contains("type mismatch"), "{err}");
}

#[test]
fn a_malformed_binary_is_one_error_naming_the_offset() {
    let path = file("truncated.wasm", b"\0asm\x01\0\0\0\x01");
    let output = duet(&["compile", path.to_str().unwrap()]);
    let err = one_error_line(&output, "truncated.wasm");
    assert!(err.contains("offset 0x9"), "{err}");
}

#[test]
fn a_text_syntax_error_is_one_error_naming_line_and_column() {
    let path = file(
        "syntax.wat",
        "(module\n  (func (result i32) i32.const 1)\n  (func oops))",
    );
    let output = duet(&["compile", path.to_str().unwrap()]);
    let err = one_error_line(&output, "syntax.wat");
    assert!(err.contains("syntax.wat: 3:"), "{err}");
}

#[test]
fn an_unsupported_operator_is_one_error_naming_it() {
    let path = file(
        "simd.wat",
        "(module (func (result i32) v128.const i64x2 0 0 drop i32.const 0))",
    );
    let output = duet(&["compile", path.to_str().unwrap()]);
    let err = one_error_line(&output, "simd.wat");
    assert!(err.contains("unsupported operator `v128_const`"), "{err}");
}

#[test]
fn the_optimizing_compiler_is_refused_clearly() {
    let path = file("add_cranelift.wat", ADD);
    let output = duet(&["compile", "--compiler", "cranelift", path.to_str().unwrap()]);
    let err = one_error_line(&output, "add_cranelift.wat");
    assert!(err.contains("not built yet"), "{err}");
}

#[test]
fn a_missing_file_is_one_error() {
    let path = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("does-not-exist.wasm");
    let output = duet(&["compile", path.to_str().unwrap()]);
    let err = one_error_line(&output, "does-not-exist.wasm");
    assert!(err.contains("cannot read"), "{err}");
}
