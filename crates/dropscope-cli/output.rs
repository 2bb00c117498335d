//! Where a command's output file goes and in what form: a file named by `-o`, or stdout for
//! `-o -`, with the form taken from `--format` or else from the file's extension.
//!
//! Writing to stdout goes through [`StdoutSink`], which remembers a closed pipe: the table and
//! report writers wrap IO errors in their own, so `main` asks [`stdout_closed`] rather than
//! looking for the `BrokenPipe` in the error's chain alone.

use std::io::{IsTerminal, Write};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};

use anyhow::Context as _;
use dropscope_report::Format;
use dropscope_tables::frame::TableFormat;

use crate::args::{Command, ReportForm, TableForm};

/// Set once a write to stdout failed because its reader closed it.
static STDOUT_CLOSED: AtomicBool = AtomicBool::new(false);

/// Whether a write to stdout found it closed by its reader (`dropscope ... | head`).
pub(crate) fn stdout_closed() -> bool {
    STDOUT_CLOSED.load(Ordering::Relaxed)
}

/// Whether `-o` names stdout.
pub(crate) fn is_stdout(output: &Path) -> bool {
    output.as_os_str() == "-"
}

/// How the output is named in messages: its path, or `stdout`.
pub(crate) fn name(output: &Path) -> String {
    if is_stdout(output) { "stdout".to_owned() } else { output.display().to_string() }
}

/// Refuses `--json` together with `-o -`: both would go to stdout.
pub(crate) fn check_json(output: &Path, json: bool) -> anyhow::Result<()> {
    if json && is_stdout(output) {
        anyhow::bail!(
            "--json and -o - both write to stdout\nhint: write the output to a file, or drop --json (the summary is also on stderr)"
        );
    }
    Ok(())
}

/// The table form of `output`: `--format` when given, else the form its extension names, checked
/// before any input is read (a typo in the output should not cost the whole run first). `-o -`
/// needs `--format`, and a binary form is not written to a terminal.
pub(crate) fn table_form(output: &Path, format: Option<TableForm>) -> anyhow::Result<TableFormat> {
    let form = match format {
        Some(TableForm::Parquet) => TableFormat::Parquet,
        Some(TableForm::Arrow) => TableFormat::ArrowIpc,
        Some(TableForm::Csv) => TableFormat::Csv,
        Some(TableForm::Jsonl) => TableFormat::JsonLines,
        None if is_stdout(output) => anyhow::bail!(
            "-o - writes to stdout, which has no extension to tell the table's form\nhint: add --format parquet, --format arrow, --format csv or --format jsonl"
        ),
        None => TableFormat::from_path(output)
            .with_context(|| format!("{}: {}", output.display(), TableFormat::EXTENSIONS_RULE))?,
    };
    let binary = matches!(form, TableFormat::Parquet | TableFormat::ArrowIpc);
    if binary && is_stdout(output) && std::io::stdout().is_terminal() {
        anyhow::bail!(
            "not writing a binary table to a terminal\nhint: redirect stdout to a file or a pipe (`> events.parquet`), or pick --format csv or --format jsonl"
        );
    }
    Ok(form)
}

/// Stdout, remembering when its reader closed it; buffer it for small writes.
pub(crate) struct StdoutSink(std::io::Stdout);

impl StdoutSink {
    pub(crate) fn new() -> StdoutSink {
        StdoutSink(std::io::stdout())
    }

    fn note(result: std::io::Result<usize>) -> std::io::Result<usize> {
        if let Err(err) = &result
            && err.kind() == std::io::ErrorKind::BrokenPipe
        {
            STDOUT_CLOSED.store(true, Ordering::Relaxed);
        }
        result
    }
}

impl Write for StdoutSink {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        StdoutSink::note(self.0.write(buf))
    }

    fn flush(&mut self) -> std::io::Result<()> {
        StdoutSink::note(self.0.flush().map(|()| 0)).map(|_| ())
    }
}

/// A buffered writer to `output`: the file it names (created), or stdout for `-o -`.
pub(crate) fn create(output: &Path) -> anyhow::Result<Box<dyn Write + Send>> {
    if is_stdout(output) {
        return Ok(Box::new(std::io::BufWriter::new(StdoutSink::new())));
    }
    let file =
        std::fs::File::create(output).with_context(|| format!("creating {}", output.display()))?;
    Ok(Box::new(std::io::BufWriter::new(file)))
}

/// The report form of `output`: `--format` when given, else the form its extension names.
/// `-o -` needs `--format`.
pub(crate) fn report_form(output: &Path, format: Option<ReportForm>) -> anyhow::Result<Format> {
    match format {
        Some(ReportForm::Html) => Ok(Format::Html),
        Some(ReportForm::Md) => Ok(Format::Markdown),
        Some(ReportForm::Json) => Ok(Format::Json),
        None if is_stdout(output) => anyhow::bail!(
            "-o - writes to stdout, which has no extension to tell the report's form\nhint: add --format html, --format md or --format json"
        ),
        None => Format::from_path(output).with_context(|| {
            format!(
                "cannot tell the report form from {}\nhint: name the output .html, .md or .json",
                output.display()
            )
        }),
    }
}

/// Writes `text` to `output`: the file it names, or stdout for `-o -`.
pub(crate) fn write_text(output: &Path, text: &str) -> anyhow::Result<()> {
    if is_stdout(output) {
        let mut out = create(output)?;
        out.write_all(text.as_bytes()).and_then(|()| out.flush()).context("writing stdout")
    } else {
        std::fs::write(output, text).with_context(|| format!("writing {}", output.display()))
    }
}

/// Refuses, before anything is read, an output file (`-o`, `--rejects`) that is one of the
/// command's inputs or a file below an input directory: the same file (device and inode), by
/// whatever path or link it is named. Writing it would destroy the logs being read.
pub(crate) fn refuse_overwriting_inputs(command: &Command) -> anyhow::Result<()> {
    let (inputs, outputs): (&[std::path::PathBuf], Vec<(&str, &Path)>) = match command {
        Command::Ingest(a) => (&a.input.inputs, vec![("-o", a.output.as_path())]),
        Command::Sessions(a) => (&a.input.inputs, vec![("-o", a.output.as_path())]),
        Command::Curve(a) => (&a.input.inputs, vec![("-o", a.output.as_path())]),
        Command::Classify(a) => (&a.input.inputs, vec![("-o", a.output.as_path())]),
        Command::Report(a) => (&a.input.inputs, vec![("-o", a.output.as_path())]),
        Command::Inspect(a) => (&a.input.inputs, vec![]),
        Command::Timeline(a) => (&a.input.inputs, vec![]),
        Command::Incidents(a) => (&a.input.inputs, vec![]),
        Command::Diagnose(a) => (&a.input.inputs, vec![]),
        Command::Evaluate(_) | Command::Simulate(_) | Command::Demo(_) => return Ok(()),
    };
    let rejects = match command {
        Command::Ingest(a) => a.input.rejects.as_deref(),
        Command::Sessions(a) => a.input.rejects.as_deref(),
        Command::Curve(a) => a.input.rejects.as_deref(),
        Command::Classify(a) => a.input.rejects.as_deref(),
        Command::Report(a) => a.input.rejects.as_deref(),
        Command::Inspect(a) => a.input.rejects.as_deref(),
        Command::Timeline(a) => a.input.rejects.as_deref(),
        Command::Incidents(a) => a.input.rejects.as_deref(),
        Command::Diagnose(a) => a.input.rejects.as_deref(),
        Command::Evaluate(_) | Command::Simulate(_) | Command::Demo(_) => None,
    };
    let mut outputs = outputs;
    outputs.extend(rejects.map(|path| ("--rejects", path)));
    // Only outputs that exist can be inputs.
    let existing: Vec<(&str, &Path, FileId)> = outputs
        .into_iter()
        .filter(|(_, path)| !is_stdout(path))
        .filter_map(|(flag, path)| file_id(path).map(|id| (flag, path, id)))
        .collect();
    if existing.is_empty() {
        return Ok(());
    }
    let files = dropscope_logs::ingest::expand(inputs).map(|e| e.files).unwrap_or_default();
    for input in inputs.iter().chain(&files).filter(|p| p.as_os_str() != "-") {
        let Some(id) = file_id(input) else { continue };
        if let Some((flag, output, _)) = existing.iter().find(|(_, _, out)| *out == id) {
            let output = dropscope_logs::ingest::display_path(output);
            let input = dropscope_logs::ingest::display_path(input);
            anyhow::bail!(
                "{flag} {output} is an input ({input}): refusing to overwrite it\nhint: write the output outside the inputs"
            );
        }
    }
    Ok(())
}

/// What identifies a file whatever its path: device and inode (on Unix), links followed.
#[cfg(unix)]
type FileId = (u64, u64);
#[cfg(not(unix))]
type FileId = std::path::PathBuf;

#[cfg(unix)]
fn file_id(path: &Path) -> Option<FileId> {
    use std::os::unix::fs::MetadataExt as _;
    std::fs::metadata(path).ok().map(|m| (m.dev(), m.ino()))
}

#[cfg(not(unix))]
fn file_id(path: &Path) -> Option<FileId> {
    std::fs::canonicalize(path).ok()
}
