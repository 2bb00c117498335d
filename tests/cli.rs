//! Snapshots of what `dropscope` prints: the `--help` of the top command and of every
//! subcommand, and the stdout, stderr and exit status of every subcommand run on small committed
//! inputs (the fixtures under data/golden/fixtures, copied into the test's temp dir) or on a tiny
//! simulation with a fixed seed, including the errors people meet (unreadable input, bad flag,
//! `-o -` without a form). A change to any output shows up here as a snapshot diff to review.
//!
//! Each test runs the built binary in its own temp dir with relative paths, so no temp path
//! reaches the output (a filter replaces one that would with `[TEMP]`); nothing dropscope prints
//! depends on the clock. `demo` is snapshotted by its help and its refusal only: a real run
//! simulates 5,000 devices, too slow here (tests/report.rs runs it under `DROPSCOPE_SLOW_TESTS`).
//!
//! The snapshots live in tests/snapshots/ (`integration__cli__*.snap`). After an intended change
//! of output, regenerate them and review the diff before committing:
//!
//! ```sh
//! INSTA_UPDATE=always cargo test --test integration cli::
//! git diff tests/snapshots/
//! ```
//!
//! (`cargo insta review` works too, where cargo-insta is installed.) CI runs with `CI=true`,
//! where insta fails on any mismatch and writes nothing.

use std::io::{BufRead as _, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};

use insta_cmd::assert_cmd_snapshot;

use crate::util::data;

/// Every subcommand, in the order `dropscope --help` lists them.
const SUBCOMMANDS: [&str; 12] = [
    "ingest",
    "inspect",
    "sessions",
    "timeline",
    "curve",
    "incidents",
    "classify",
    "evaluate",
    "diagnose",
    "report",
    "simulate",
    "demo",
];

/// A temp dir holding `fixtures/` (a copy of data/golden/fixtures) and, when asked, `sim/`: a
/// tiny site outage (30 devices, 3 h, seed 17) with its ground truth.
struct Scratch {
    dir: tempfile::TempDir,
}

impl Scratch {
    fn new() -> Scratch {
        let dir = tempfile::tempdir().expect("a temp dir");
        let fixtures = dir.path().join("fixtures");
        std::fs::create_dir(&fixtures).expect("create fixtures/");
        for entry in std::fs::read_dir(data("golden/fixtures")).expect("the fixtures") {
            let path = entry.expect("a fixture").path();
            std::fs::copy(&path, fixtures.join(path.file_name().expect("a name")))
                .expect("copy a fixture");
        }
        Scratch { dir }
    }

    fn with_sim() -> Scratch {
        let scratch = Scratch::new();
        let output = scratch
            .command(&[
                "--quiet",
                "simulate",
                "--scenario",
                "site-outage-storm",
                "--devices",
                "30",
                "--hours",
                "3",
                "--seed",
                "17",
                "--truth",
                "-o",
                "sim",
            ])
            .output()
            .expect("the binary runs");
        assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
        scratch
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    /// `dropscope ARGS` in the temp dir, stdin closed, with no environment that would change
    /// what it prints (colour, terminal width).
    fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_dropscope"));
        command
            .args(args)
            .current_dir(self.path())
            .env_remove("NO_COLOR")
            .env_remove("CLICOLOR_FORCE")
            .env_remove("COLUMNS")
            .stdin(Stdio::null());
        command
    }

    /// Runs `dropscope ARGS` and snapshots its exit status, stdout and stderr as `name`.
    fn snapshot(&self, name: &str, args: &[&str]) {
        let temp = regex_escape(&self.path().display().to_string());
        insta::with_settings!({ filters => vec![(temp.as_str(), "[TEMP]")] }, {
            assert_cmd_snapshot!(name, self.command(args));
        });
    }
}

/// `text` with the regex metacharacters escaped (for the temp-path filter).
fn regex_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if "\\.+*?()|[]{}^$#&-~".contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

#[test]
fn help() {
    let scratch = Scratch::new();
    scratch.snapshot("help", &["--help"]);
    for subcommand in SUBCOMMANDS {
        scratch.snapshot(&format!("help_{subcommand}"), &[subcommand, "--help"]);
    }
}

#[test]
fn inspect() {
    let scratch = Scratch::new();
    scratch.snapshot("inspect", &["inspect", "fixtures"]);
    scratch.snapshot("inspect_json", &["inspect", "fixtures", "--json"]);
}

#[test]
fn ingest() {
    let scratch = Scratch::new();
    scratch.snapshot("ingest_stdout_csv", &["ingest", "fixtures", "-o", "-", "--format", "csv"]);
    scratch.snapshot("ingest_json", &["ingest", "fixtures", "-o", "events.jsonl", "--json"]);
    scratch.snapshot(
        "ingest_stdout_jsonl",
        &["--quiet", "ingest", "fixtures", "-o", "-", "--format", "jsonl"],
    );
}

#[test]
fn sessions() {
    let scratch = Scratch::new();
    scratch
        .snapshot("sessions_stdout_csv", &["sessions", "fixtures", "-o", "-", "--format", "csv"]);
    scratch
        .snapshot("sessions_json", &["sessions", "fixtures", "-o", "sessions.parquet", "--json"]);
}

#[test]
fn timeline() {
    let scratch = Scratch::new();
    scratch.snapshot("timeline", &["timeline", "fixtures", "--device", "IoTDevice42"]);
    scratch.snapshot(
        "timeline_json",
        &["--quiet", "timeline", "fixtures", "--device", "IoTDevice42", "--json"],
    );
    scratch.snapshot("timeline_unknown_device", &["timeline", "fixtures", "--device", "nobody"]);
}

#[test]
fn curve() {
    let scratch = Scratch::with_sim();
    scratch.snapshot("curve_stdout", &["--quiet", "curve", "sim/logs", "-o", "-"]);
    scratch.snapshot("curve_json", &["curve", "sim/logs", "-o", "curve.csv", "--json"]);
}

#[test]
fn incidents() {
    let scratch = Scratch::with_sim();
    scratch.snapshot("incidents", &["incidents", "sim/logs"]);
    scratch.snapshot("incidents_json", &["--quiet", "incidents", "sim/logs", "--json"]);
}

#[test]
fn classify() {
    let scratch = Scratch::new();
    scratch.snapshot("classify_stdout", &["classify", "fixtures", "-o", "-"]);
    scratch.snapshot("classify_json", &["classify", "fixtures", "-o", "p.csv", "--json"]);
}

#[test]
fn evaluate() {
    let scratch = Scratch::with_sim();
    scratch.snapshot("evaluate", &["evaluate", "sim/logs", "--truth", "sim/truth/labels.csv"]);
    scratch.snapshot(
        "evaluate_json",
        &["--quiet", "evaluate", "sim/logs", "--truth", "sim/truth/labels.csv", "--json"],
    );
}

#[test]
fn diagnose() {
    let scratch = Scratch::with_sim();
    scratch.snapshot("diagnose", &["diagnose", "sim/logs"]);
    scratch.snapshot("diagnose_json", &["--quiet", "diagnose", "sim/logs", "--json"]);
}

#[test]
fn report() {
    // Not the fixtures: their six years make a curve of three million minutes, slow in debug.
    let scratch = Scratch::with_sim();
    scratch.snapshot("report_stdout_md", &["report", "sim/logs", "-o", "-", "--format", "md"]);
    scratch.snapshot("report_json", &["report", "sim/logs", "-o", "report.html", "--json"]);
}

#[test]
fn simulate() {
    let scratch = Scratch::new();
    let args = ["simulate", "--scenario", "hub-fault", "--devices", "20", "--hours", "2"];
    scratch.snapshot("simulate", &[&args[..], &["--seed", "5", "-o", "a"]].concat());
    scratch.snapshot(
        "simulate_json",
        &[&args[..], &["--seed", "5", "--truth", "-o", "b", "--json"]].concat(),
    );
}

#[test]
fn demo_refuses_a_directory_it_did_not_write() {
    let scratch = Scratch::new();
    std::fs::create_dir_all(scratch.path().join("mine/logs")).expect("create mine/logs");
    scratch.snapshot("demo_refuses", &["demo", "-o", "mine"]);
}

/// The errors people meet, one of each kind.
#[test]
fn errors() {
    let scratch = Scratch::new();
    scratch.snapshot("error_unreadable_input", &["inspect", "missing.json"]);
    scratch.snapshot("error_bad_flag", &["inspect", "fixtures", "--bogus"]);
    scratch.snapshot("error_no_output", &["sessions", "fixtures"]);
    scratch.snapshot("error_no_subcommand", &[]);
    scratch.snapshot("error_bad_extension", &["ingest", "fixtures", "-o", "events.txt"]);
    scratch.snapshot("error_stdout_without_format", &["ingest", "fixtures", "-o", "-"]);
    scratch.snapshot("error_report_stdout_without_format", &["report", "fixtures", "-o", "-"]);
    scratch.snapshot("error_json_and_stdout", &["classify", "fixtures", "-o", "-", "--json"]);
    scratch.snapshot("error_strict", &["--quiet", "inspect", "fixtures", "--strict"]);
    scratch.snapshot("error_bad_format", &["ingest", "fixtures", "-o", "-", "--format", "xlsx"]);
}

/// `-o - --format F` writes to stdout the bytes `-o FILE.F` writes to the file, the binary forms
/// included (a pipe is not a terminal), and nothing else.
#[test]
fn stdout_is_the_file() {
    let scratch = Scratch::with_sim();
    for (command, form, file) in [
        ("ingest", "parquet", "e.parquet"),
        ("ingest", "arrow", "e.arrow"),
        ("sessions", "parquet", "s.parquet"),
        ("sessions", "jsonl", "s.jsonl"),
        ("report", "json", "r.json"),
        ("report", "html", "r.html"),
    ] {
        let to_file = scratch.command(&["--quiet", command, "sim/logs", "-o", file]).output();
        assert!(to_file.expect("the binary runs").status.success(), "{command} -o {file}");
        let to_stdout = scratch
            .command(&[command, "sim/logs", "-o", "-", "--format", form])
            .output()
            .expect("the binary runs");
        assert!(to_stdout.status.success(), "{command} -o - --format {form}");
        let written = std::fs::read(scratch.path().join(file)).expect("written");
        assert!(to_stdout.stdout == written, "{command} --format {form}: stdout is not the file");
    }
}

/// A reader that closes stdout early (`dropscope ... | head -1`) ends the run with 0 and no
/// message, whether the output is a table (`-o -`) or text.
#[test]
fn a_closed_pipe_exits_0_quietly() {
    let scratch = Scratch::new();
    let run = scratch
        .command(&[
            "--quiet",
            "simulate",
            "--scenario",
            "site-outage-storm",
            "--devices",
            "200",
            "--hours",
            "6",
            "--seed",
            "17",
            "-o",
            "big",
        ])
        .output()
        .expect("the binary runs");
    assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stderr));
    // Each prints far more than a pipe holds (64 KiB), so the writer meets the closed pipe.
    for args in [
        &["--quiet", "ingest", "big/logs", "-o", "-", "--format", "csv"][..],
        &["--quiet", "sessions", "big/logs", "-o", "-", "--format", "jsonl"],
        &["--quiet", "classify", "big/logs", "-o", "-"],
        &["--quiet", "report", "big/logs", "-o", "-", "--format", "html"],
    ] {
        let mut child = scratch
            .command(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("the binary runs");
        let mut stdout = BufReader::new(child.stdout.take().expect("piped"));
        let mut first = Vec::new();
        stdout.read_until(b'\n', &mut first).expect("a first line");
        drop(stdout);
        let output = child.wait_with_output().expect("the run ends");
        assert_eq!(output.status.code(), Some(0), "{args:?}");
        assert_eq!(String::from_utf8_lossy(&output.stderr), "", "{args:?}");
    }
}
