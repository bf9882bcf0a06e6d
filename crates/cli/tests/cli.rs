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

// ---- duet run ---------------------------------------------------------

const ARITH: &str = r#"
    (module
      (func (export "add") (param i32 i32) (result i32)
        (i32.add (local.get 0) (local.get 1)))
      (func (export "mixed") (param i64 f32 f64) (result i64 f32 f64)
        (local.get 0) (local.get 1) (local.get 2))
      (func (export "div") (param i32 i32) (result i32)
        (i32.div_s (local.get 0) (local.get 1))))
"#;

#[test]
fn run_prints_each_result_on_its_own_line() {
    let path = file("run_arith.wat", ARITH);
    let path = path.to_str().unwrap();
    let output = duet(&["run", path, "--invoke", "add", "40", "2"]);
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(stdout(&output), "42\n");
    assert_eq!(stderr(&output), "");

    let output = duet(&["run", path, "--invoke", "add", "0xffffffff", "-1"]);
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(stdout(&output), "-2\n");

    let output = duet(&["run", path, "--invoke", "mixed", "-7", "1.5", "-inf"]);
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(stdout(&output), "-7\n1.5\n-inf\n");
}

#[test]
fn run_refuses_bad_arguments_in_one_line() {
    let path = file("run_bad_args.wat", ARITH);
    let path = path.to_str().unwrap();
    let output = duet(&["run", path, "--invoke", "add", "1"]);
    let err = one_error_line(&output, "run_bad_args.wat");
    assert!(err.contains("takes 2 argument"), "{err}");

    let output = duet(&["run", path, "--invoke", "add", "1", "two"]);
    let err = one_error_line(&output, "run_bad_args.wat");
    assert!(err.contains("`two` is not a valid i32"), "{err}");

    let output = duet(&["run", path, "--invoke", "add", "1", "4294967296"]);
    let err = one_error_line(&output, "run_bad_args.wat");
    assert!(err.contains("not a valid i32"), "{err}");

    let output = duet(&["run", path, "--invoke", "nope"]);
    let err = one_error_line(&output, "run_bad_args.wat");
    assert!(err.contains("no exported function `nope`"), "{err}");

    let output = duet(&["run", path]);
    let err = one_error_line(&output, "run_bad_args.wat");
    assert!(err.contains("_start"), "{err}");
}

#[test]
fn run_reports_a_trap_with_its_backtrace() {
    let path = file("run_trap.wat", ARITH);
    let output = duet(&["run", path.to_str().unwrap(), "--invoke", "div", "1", "0"]);
    let err = stderr(&output);
    assert_eq!(output.status.code(), Some(1), "stderr: {err}");
    assert_eq!(stdout(&output), "");
    let first = err.lines().next().unwrap_or_default();
    assert!(first.starts_with("error: "), "{err}");
    assert!(first.contains("run_trap.wat"), "{err}");
    assert!(first.contains("integer divide by zero"), "{err}");
}

#[test]
fn run_calls_start_by_default_and_refuses_imports() {
    let path = file(
        "run_start.wat",
        r#"(module (func (export "_start") (result i32) i32.const 7))"#,
    );
    let output = duet(&["run", path.to_str().unwrap()]);
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(stdout(&output), "7\n");

    let path = file(
        "run_import.wat",
        r#"(module (import "env" "f" (func)) (func (export "_start")))"#,
    );
    let output = duet(&["run", path.to_str().unwrap()]);
    let err = one_error_line(&output, "run_import.wat");
    assert!(err.contains("unknown import `env`.`f`"), "{err}");
}

#[test]
fn run_works_on_the_shipped_example() {
    let example = concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples/fib.wat");
    let output = duet(&["run", example, "--invoke", "fib", "20"]);
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(stdout(&output), "6765\n");
    let output = duet(&["run", example, "--invoke", "fib_loop", "90"]);
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(stdout(&output), "2880067194370816120\n");
}

// ---- duet wast --------------------------------------------------------

const SCRIPT: &str = r#"
(module $m
  (func (export "add") (param i32 i32) (result i32)
    (i32.add (local.get 0) (local.get 1)))
  (func (export "nan") (result f32) (f32.div (f32.const 0) (f32.const 0)))
  (func (export "boom") unreachable)
  (global (export "g") i32 (i32.const 5)))
(register "m" $m)
(module (import "m" "add" (func (param i32 i32) (result i32))))
(assert_return (invoke $m "add" (i32.const 1) (i32.const 2)) (i32.const 3))
(assert_return (invoke $m "nan") (f32.const nan:canonical))
(assert_return (get $m "g") (i32.const 5))
(assert_trap (invoke $m "boom") "unreachable")
(assert_invalid (module (func (result i32) (i64.const 0))) "type mismatch")
(assert_malformed (module quote "(func") "unexpected end")
(assert_unlinkable (module (import "m" "missing" (func))) "unknown import")
"#;

#[test]
fn wast_counts_passes_and_exits_successfully() {
    let path = file("pass.wast", SCRIPT);
    let output = duet(&[
        "wast",
        "--compiler",
        "winch",
        "--spec",
        "2.0",
        path.to_str().unwrap(),
    ]);
    assert!(
        output.status.success(),
        "{}{}",
        stdout(&output),
        stderr(&output)
    );
    // 2 modules + 7 assertions; `register` is an action.
    assert_eq!(stdout(&output), "9 passed, 0 failed\n");
}

#[test]
fn wast_reports_each_failure_with_its_location_and_exits_with_1() {
    let failing = format!(
        "{SCRIPT}\
         (assert_return (invoke $m \"add\" (i32.const 1) (i32.const 2)) (i32.const 4))\n\
         (assert_trap (invoke $m \"add\" (i32.const 1) (i32.const 2)) \"unreachable\")\n"
    );
    let path = file("fail.wast", failing);
    let output = duet(&["wast", path.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    let out = stdout(&output);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 3, "{out}");
    assert!(lines[0].contains("fail.wast:17:2: assert_return:"), "{out}");
    assert!(lines[0].contains("expected i32 4, got i32 3"), "{out}");
    assert!(lines[1].contains("fail.wast:18:2: assert_trap:"), "{out}");
    assert_eq!(lines[2], "9 passed, 2 failed");
}

#[test]
fn wast_refuses_a_script_that_does_not_parse() {
    let path = file("syntax.wast", "(assert_return (invoke \"f\")\n(oops)");
    let output = duet(&["wast", path.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(1));
    let err = stderr(&output);
    assert!(err.starts_with("error: "), "{err}");
    assert!(err.contains("syntax.wast:"), "{err}");
    assert_eq!(stdout(&output), "0 passed, 0 failed\n");
}
