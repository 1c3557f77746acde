//! What the tests that run the real binary share: running it, reading what it printed, and
//! failing with both of its streams when it did not succeed. Each test crate uses a part.
#![allow(dead_code)]
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "a test helper fails the test with its message")]

use std::path::Path;
use std::process::{Command, Output};

/// The `modulab` binary with `args`, not yet run.
pub fn command(args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_modulab"));
    command.args(args);
    command
}

/// Run `modulab` with `args` to the end.
pub fn modulab(args: &[&str]) -> Output {
    command(args).output().expect("the binary runs")
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// The command succeeded (else fail with what it printed).
pub fn check(o: &Output) {
    assert!(o.status.success(), "stdout: {}\nstderr: {}", stdout(o), stderr(o));
}

/// The command succeeded: its standard output.
pub fn ok(o: Output) -> String {
    check(&o);
    stdout(&o)
}

/// A file the command wrote.
pub fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}
