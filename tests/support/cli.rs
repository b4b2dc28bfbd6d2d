//! Running the `stampede` binary from integration tests.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The binary under test.
pub fn stampede() -> Command {
    Command::new(env!("CARGO_BIN_EXE_stampede"))
}

/// A shipped scenario, by file name.
pub fn scenario(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("scenarios")
        .join(name)
}

/// Output bytes as text.
pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// `out`, after checking that the command (`what`) exited 0; its output otherwise.
pub fn ok(out: Output, what: &str) -> Output {
    assert_eq!(
        out.status.code(),
        Some(0),
        "{what} failed: {}{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    out
}
