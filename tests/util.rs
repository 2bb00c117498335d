//! Running the `dropscope` binary in a temp dir and reading what it printed.

use std::path::{Path, PathBuf};
use std::process::Command;

/// What one run printed and how it exited.
pub(crate) struct Run {
    pub(crate) code: i32,
    pub(crate) stdout: String,
    pub(crate) stderr: String,
}

/// Runs `dropscope` with `args` in `dir`, stdin closed.
pub(crate) fn dropscope(dir: &Path, args: &[&str]) -> Run {
    let output = Command::new(env!("CARGO_BIN_EXE_dropscope"))
        .args(args)
        .current_dir(dir)
        .env_remove("NO_COLOR")
        .stdin(std::process::Stdio::null())
        .output()
        .expect("the binary runs");
    Run {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

/// The repository's `data/` directory.
pub(crate) fn data(relative: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("data").join(relative)
}

/// Simulates `scenario` (300 devices, 6 h, seed 17) into `dir/sim`: the small storm several tests
/// read.
pub(crate) fn simulate(dir: &Path, scenario: &str) {
    let args = [
        "--quiet",
        "simulate",
        "--scenario",
        scenario,
        "--devices",
        "300",
        "--hours",
        "6",
        "--seed",
        "17",
        "-o",
        "sim",
    ];
    let run = dropscope(dir, &args);
    assert_eq!(run.code, 0, "{}", run.stderr);
}
