//! Project automation for duet, run as `cargo xtask <task>`.
//!
//! `.cargo/config.toml` aliases `cargo xtask` to `cargo run --package xtask --`,
//! so these tasks need nothing installed beyond the Rust toolchain (and its
//! `rustfmt` component). The tasks:
//!
//! ```text
//! cargo xtask isle           regenerate the ISLE-generated Rust files that changed
//! cargo xtask isle --check   fail, writing nothing, if any generated file is stale (CI)
//! ```
//!
//! Arguments are parsed by hand: two fixed forms do not justify a dependency,
//! and the only dependency this crate has is the ISLE compiler itself. See
//! `isle.rs` for the generation units and `docs/isle.md` for the workflow.

mod isle;
mod x64;

use std::path::PathBuf;
use std::process::ExitCode;

const USAGE: &str = "\
usage: cargo xtask isle            regenerate the ISLE-generated Rust files
       cargo xtask isle --check    fail if a generated file is stale; writes nothing";

/// A task named on the command line.
#[derive(Debug, PartialEq, Eq)]
enum Task {
    /// `isle`: write every generated file whose contents changed.
    IsleGenerate,
    /// `isle --check`: compare every generated file with a fresh generation.
    IsleCheck,
    /// `help`, `--help` or `-h`.
    Help,
}

/// Turns the arguments after `cargo xtask` into a task, or `None` when they
/// match no known form (the caller prints the usage).
fn parse_task(args: &[String]) -> Option<Task> {
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    match args.as_slice() {
        ["isle"] => Some(Task::IsleGenerate),
        ["isle", "--check"] => Some(Task::IsleCheck),
        ["help" | "--help" | "-h"] => Some(Task::Help),
        _ => None,
    }
}

/// The workspace root: the parent of this crate's directory. Every path that
/// xtask reads, writes or prints is relative to it.
fn workspace_root() -> PathBuf {
    // `cargo run` sets the variable for the process too: prefer it, so a
    // binary built from another checkout sharing the target directory
    // (its path baked in at compile time) still works on this one.
    let manifest_dir = std::env::var_os("CARGO_MANIFEST_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")));
    manifest_dir
        .parent()
        .expect("invariant: the xtask crate lives one directory below the workspace root")
        .to_path_buf()
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(task) = parse_task(&args) else {
        if args.is_empty() {
            eprintln!("error: no task given\n{USAGE}");
        } else {
            eprintln!("error: unrecognised arguments {args:?}\n{USAGE}");
        }
        return ExitCode::from(2);
    };
    let root = workspace_root();
    let result = match task {
        Task::Help => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Task::IsleGenerate => isle::generate_all(&root),
        Task::IsleCheck => isle::check_all(&root),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(words: &[&str]) -> Vec<String> {
        words.iter().map(|word| word.to_string()).collect()
    }

    #[test]
    fn parses_the_two_isle_forms() {
        assert_eq!(parse_task(&args(&["isle"])), Some(Task::IsleGenerate));
        assert_eq!(
            parse_task(&args(&["isle", "--check"])),
            Some(Task::IsleCheck)
        );
        assert_eq!(parse_task(&args(&["--help"])), Some(Task::Help));
    }

    #[test]
    fn rejects_anything_else() {
        for words in [
            &[][..],
            &["isle", "--chek"],
            &["--check", "isle"],
            &["isle", "--check", "extra"],
            &["fmt"],
        ] {
            assert_eq!(parse_task(&args(words)), None, "{words:?}");
        }
    }

    #[test]
    fn workspace_root_holds_the_workspace_manifest() {
        let manifest = std::fs::read_to_string(workspace_root().join("Cargo.toml")).unwrap();
        assert!(manifest.contains("[workspace]"));
    }
}
