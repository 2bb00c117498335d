//! Renders the fixed sample findings (the snapshot tests' input) to a file, for looking at the
//! report in a browser: `cargo run -p dropscope-report --example sample_report -- /tmp/report.html`.
#![allow(clippy::print_stderr, reason = "an example reports where it wrote")]

#[path = "../tests/common/sample.rs"]
mod sample;

use std::path::PathBuf;
use std::process::ExitCode;

fn main() -> ExitCode {
    let path =
        PathBuf::from(std::env::args().nth(1).unwrap_or_else(|| "sample-report.html".to_owned()));
    let Some(format) = dropscope_report::Format::from_path(&path) else {
        eprintln!("error: {} does not end in .html, .md or .json", path.display());
        return ExitCode::from(2);
    };
    let text = dropscope_report::render(format, &sample::findings());
    if let Err(err) = std::fs::write(&path, text) {
        eprintln!("error: writing {}: {err}", path.display());
        return ExitCode::from(2);
    }
    eprintln!("wrote {}", path.display());
    ExitCode::SUCCESS
}
