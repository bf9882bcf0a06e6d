//! `duet run` with the tools that look at JIT code from outside: a perf
//! map for `perf report` (`--profile perfmap`) and DWARF for GDB
//! (`--debug-info`), under both tiers.
//!
//! The GDB test runs Debian's `gdb` in batch mode: a pending breakpoint on
//! a wasm function by name, `run`, `bt`. It needs gdb installed and fails
//! (never skips) without it; `.ci/run` installs it when missing.

use std::path::PathBuf;
use std::process::Command;

/// A module whose functions have names, with recursion so the backtrace
/// has several wasm frames.
const FIBONACCI: &str = r#"(module
  (func $fibonacci (export "fibonacci") (param i32) (result i32)
    (if (result i32) (i32.lt_u (local.get 0) (i32.const 2))
      (then (local.get 0))
      (else (i32.add
        (call $fibonacci (i32.sub (local.get 0) (i32.const 1)))
        (call $fibonacci (i32.sub (local.get 0) (i32.const 2)))))))
  (func $main (export "main") (param i32) (result i32)
    (call $fibonacci (local.get 0))))"#;

/// Writes `contents` to `name` in this test binary's scratch directory.
fn file(name: &str, contents: &str) -> PathBuf {
    let path = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(name);
    std::fs::write(&path, contents).unwrap();
    path
}

const COMPILERS: [&str; 2] = ["winch", "cranelift"];

#[test]
fn profile_perfmap_writes_a_line_per_compiled_function() {
    for compiler in COMPILERS {
        let path = file(&format!("perf_{compiler}.wat"), FIBONACCI);
        let child = Command::new(env!("CARGO_BIN_EXE_duet"))
            .args(["run", "--compiler", compiler, "--profile", "perfmap"])
            .args(["--invoke", "main"])
            .arg(&path)
            .arg("10")
            .stdout(std::process::Stdio::piped())
            .spawn()
            .expect("the duet binary runs");
        let map_path = PathBuf::from(format!("/tmp/perf-{}.map", child.id()));
        let output = child.wait_with_output().unwrap();
        assert!(output.status.success());
        assert_eq!(String::from_utf8_lossy(&output.stdout), "55\n");
        let map = std::fs::read_to_string(&map_path)
            .unwrap_or_else(|e| panic!("{compiler}: {}: {e}", map_path.display()));
        let _ = std::fs::remove_file(&map_path);
        let lines: Vec<(usize, usize, &str)> = map
            .lines()
            .map(|line| {
                let mut fields = line.splitn(3, ' ');
                let mut hex = || usize::from_str_radix(fields.next().unwrap(), 16).unwrap();
                (hex(), hex(), fields.next().unwrap())
            })
            .collect();
        // The module is named after the file; both functions, then the
        // trampolines of the type called.
        let names: Vec<&str> = lines.iter().map(|&(_, _, name)| name).collect();
        let stem = format!("perf_{compiler}");
        for expected in [
            format!("{stem}!fibonacci"),
            format!("{stem}!main"),
            "duet!entry_trampoline(i32)->(i32)".to_string(),
        ] {
            assert!(names.contains(&expected.as_str()), "{expected} in {map}");
        }
        for &(start, size, name) in &lines {
            assert!(start > 0 && size > 0, "{name}: {start:#x} {size:#x}");
        }
        // The module's two functions do not overlap.
        let module: Vec<_> = lines.iter().filter(|l| l.2.starts_with(&stem)).collect();
        assert_eq!(module.len(), 2, "{map}");
        let (a, b) = (module[0], module[1]);
        assert!(a.0 + a.1 <= b.0 || b.0 + b.1 <= a.0, "{map}");
    }
}

/// The wasm bytecode offsets of function `index`'s operators.
fn operator_offsets(wasm: &[u8], index: usize) -> Vec<u64> {
    let mut bodies = Vec::new();
    for payload in wasmparser::Parser::new(0).parse_all(wasm) {
        if let wasmparser::Payload::CodeSectionEntry(body) = payload.unwrap() {
            bodies.push(body);
        }
    }
    let mut reader = bodies[index].get_operators_reader().unwrap();
    let mut offsets = Vec::new();
    while !reader.eof() {
        offsets.push(reader.original_position());
        reader.read().unwrap();
    }
    offsets
}

/// `gdb -batch` on `duet run --debug-info`: a pending breakpoint on the
/// wasm function `fibonacci` is hit, named, at a line that is one of its
/// operators' bytecode offsets, and the backtrace names the wasm caller.
#[test]
fn gdb_breaks_on_a_wasm_function_by_name() {
    for compiler in COMPILERS {
        let path = file(&format!("gdb_{compiler}.wat"), FIBONACCI);
        let output = Command::new("gdb")
            .args([
                "-batch",
                "-nx",
                "-iex",
                "set debuginfod enabled off",
                "-ex",
                "set breakpoint pending on",
                "-ex",
                "break fibonacci",
                "-ex",
                "run",
                "-ex",
                "bt",
                "--args",
                env!("CARGO_BIN_EXE_duet"),
                "run",
                "--compiler",
                compiler,
                "--debug-info",
                "--invoke",
                "main",
            ])
            .arg(&path)
            .arg("10")
            .output()
            .unwrap_or_else(|e| {
                panic!(
                    "cannot run gdb ({e}): this test needs GDB installed \
                     (Debian: `apt-get install gdb`; .ci/run installs it)"
                )
            });
        let out = String::from_utf8_lossy(&output.stdout);
        let err = String::from_utf8_lossy(&output.stderr);
        let transcript = format!("{compiler}\n--- stdout\n{out}\n--- stderr\n{err}");

        // `Thread 1 "duet" hit Breakpoint 1, fibonacci () at gdb_winch.wasm:52`
        let hit = out
            .lines()
            .find(|l| l.contains("hit Breakpoint 1, ") || l.starts_with("Breakpoint 1, "))
            .unwrap_or_else(|| panic!("the breakpoint was not hit:\n{transcript}"));
        let wasm_file = format!("gdb_{compiler}.wasm:");
        let (_, after) = hit
            .split_once("Breakpoint 1, fibonacci () at ")
            .unwrap_or_else(|| panic!("the hit does not name fibonacci:\n{transcript}"));
        let line: u64 = after
            .strip_prefix(&wasm_file)
            .and_then(|l| l.trim().parse().ok())
            .unwrap_or_else(|| panic!("no wasm line in `{hit}`:\n{transcript}"));
        let wasm = wat::parse_str(FIBONACCI).unwrap();
        let offsets = operator_offsets(&wasm, 0);
        assert!(
            offsets.contains(&line),
            "line {line} is not an operator offset of fibonacci ({offsets:?}):\n{transcript}"
        );
        // The backtrace goes through the wasm caller and the trampoline
        // into the runtime (GDB unwinds with the image's .debug_frame).
        assert!(out.contains("#0  fibonacci () at "), "{transcript}");
        assert!(out.contains(" in main () at "), "{transcript}");
        assert!(
            out.contains(" in entry_trampoline(i32)->(i32) ()"),
            "{transcript}"
        );
        assert!(out.contains("duet::traps::call_wasm"), "{transcript}");
    }
}
