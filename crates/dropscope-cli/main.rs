//! The `dropscope` command line: parses arguments, builds the thread pool, runs one command, and
//! turns its result into an exit status. Only this crate touches argv, env, stdout and exit codes,
//! and only it uses anyhow: the libraries return their own typed errors, and `main` prints the
//! cause chain.
//!
//! It also sets up the process for the libraries' work:
//!
//! - mimalloc is the global allocator: with glibc's malloc, allocating on every thread spent
//!   11-15% of the CPU and fragmented the heap (BENCHMARKS.md);
//! - on Linux, transparent huge pages are off for the process
//!   (`rustix::thread::disable_transparent_huge_pages`; rustix was already in the tree through
//!   clap and polars): the kernel zeroes a whole 2 MB page on the first touch of any byte of
//!   it, and that cost the big commands 10-20% of their time (BENCHMARKS.md);
//! - `release_free_memory` hands the memory mimalloc holds free back to the system (`mi_collect`:
//!   the calling thread's heap and the shared arenas) between a phase that freed much of what
//!   it allocated and one that allocates anew. mimalloc keeps freed pages for a second, longer
//!   than a run of `dropscope sessions`, so the reader's freed buffers would otherwise stay
//!   resident beside the sessions and set the command's peak memory.
#![allow(clippy::print_stdout, clippy::print_stderr, reason = "the CLI is where output belongs")]

mod args;
mod commands;
mod output;
mod summary;

use std::io::IsTerminal;
use std::process::ExitCode;

use clap::Parser;

use crate::args::{Cli, Command};

/// mimalloc instead of the system allocator: parsing allocates a few strings per record on every
/// thread, and glibc's malloc spent 11-15% of the CPU and fragmented the heap (measured with perf
/// on 2 M records; BENCHMARKS.md).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Hands memory the allocator holds free back to the system (what the calling thread's heap and
/// the shared arenas hold; free pages still cached in other threads' heaps stay), between a
/// phase that freed much of what it allocated and one that allocates anew: mimalloc keeps freed
/// pages for a second before it gives them back, and a run of `dropscope sessions` is shorter
/// than that, so the reader's freed buffers stayed resident beside the sessions phase's own and
/// set the peak (the call took the resident set from about 315 to 190 MB on 2 M events).
pub(crate) fn release_free_memory() {
    #[allow(unsafe_code)]
    // SAFETY: `mi_collect` takes no pointers and only frees memory mimalloc itself holds free;
    // it is safe to call at any time from any thread.
    unsafe {
        libmimalloc_sys::mi_collect(true);
    }
}

/// mimalloc's `mi_option_purge_delay` (its place in `mi_option_e`, mimalloc.h; libmimalloc-sys
/// names no constant for it).
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

/// Has mimalloc give freed pages back to the system at once rather than after its purge delay:
/// the analysis frees large temporaries (a device pass's contexts, the ranking's tallies) and
/// allocates the next step's at once, and pages kept for later stayed resident beside them. On
/// a simulated day of 10.2 M records this took `classify` from 1.88 to 1.50 GB and `report`
/// from 2.38 to 2.19 GB of peak memory, in about the same time (BENCHMARKS.md).
fn purge_freed_pages_at_once() {
    #[allow(unsafe_code)]
    // SAFETY: `mi_option_set` takes no pointers; it only changes an option mimalloc reads when
    // it next purges, and is documented as callable at any time.
    unsafe {
        libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, 0);
    }
}

/// How a run ended: 0 success, 2 an error (bad arguments, a missing input, an output that would
/// overwrite an input, a record rejected under `--strict`), and 2 also when some input files
/// could not be read, once the outputs from the others are written. A reader that closes stdout
/// early (`dropscope ... | head`) ends the run with 0, quietly. The top-level `--help` (`EXIT_STATUS` in args.rs) and README.md say the same.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ExitStatus {
    Success,
    Error,
}

impl From<ExitStatus> for ExitCode {
    fn from(status: ExitStatus) -> ExitCode {
        match status {
            ExitStatus::Success => ExitCode::SUCCESS,
            ExitStatus::Error => ExitCode::from(2),
        }
    }
}

/// What every command needs to know about how it was run.
#[derive(Debug, Clone)]
#[allow(clippy::struct_excessive_bools, reason = "independent switches of one run, not a state")]
pub(crate) struct Context {
    /// `--quiet`: no summary, no progress.
    pub(crate) quiet: bool,
    /// Whether stderr may carry colour (a terminal, and `NO_COLOR` unset).
    pub(crate) color: bool,
    /// Whether stderr is a terminal, so progress bars are drawn.
    pub(crate) progress: bool,
    /// `--threads`.
    pub(crate) threads: Option<usize>,
    /// Whether JSON Lines files may be memory-mapped (not `--no-mmap`).
    pub(crate) mmap: bool,
    /// `--max-line`.
    pub(crate) max_line: usize,
    /// `--max-gzip-ratio`.
    pub(crate) max_gzip_ratio: u64,
    /// `--gzip-floor` (hidden).
    pub(crate) gzip_floor: u64,
}

impl Context {
    /// A progress bar on stderr, hidden when quiet or when stderr is not a terminal.
    pub(crate) fn progress_bar(&self, len: u64, message: &'static str) -> indicatif::ProgressBar {
        self.bar(len, message, "{msg:>12} [{bar:30}] {pos}/{len} ({eta} left)")
    }

    /// [`Context::progress_bar`] counting bytes (`len` of them), shown as sizes.
    pub(crate) fn bytes_bar(&self, len: u64, message: &'static str) -> indicatif::ProgressBar {
        self.bar(len, message, "{msg:>12} [{bar:30}] {bytes}/{total_bytes} ({eta} left)")
    }

    fn bar(&self, len: u64, message: &'static str, template: &str) -> indicatif::ProgressBar {
        if self.quiet || !self.progress {
            return indicatif::ProgressBar::hidden();
        }
        let style = indicatif::ProgressStyle::with_template(template)
            .expect("the template is valid")
            .progress_chars("=> ");
        indicatif::ProgressBar::new(len).with_style(style).with_message(message)
    }
}

fn main() -> ExitCode {
    // No transparent huge pages: on first touch the kernel zeroes a whole 2 MB page however
    // little of it the allocator uses, and that zeroing was a fifth of `inspect`'s CPU time.
    // Without them `inspect`, `sessions` and `classify` ran 10-20% faster in less memory
    // (BENCHMARKS.md). Best effort: a kernel without the flag just keeps them.
    #[cfg(target_os = "linux")]
    let _ = rustix::thread::disable_transparent_huge_pages(true);
    purge_freed_pages_at_once();
    let cli = Cli::parse();
    let stderr_tty = std::io::stderr().is_terminal();
    let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
    let ctx = Context {
        quiet: cli.global.quiet,
        color: stderr_tty && !no_color,
        progress: stderr_tty,
        threads: cli.global.threads,
        mmap: !cli.global.no_mmap,
        max_line: usize::try_from(cli.global.max_line).unwrap_or(usize::MAX),
        max_gzip_ratio: cli.global.max_gzip_ratio,
        gzip_floor: cli.global.gzip_floor,
    };
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(ctx.color)
        .with_target(false)
        .without_time()
        .with_max_level(if ctx.quiet { tracing::Level::ERROR } else { tracing::Level::WARN })
        .init();

    let pool = match dropscope_engine::thread_pool(ctx.threads) {
        Ok(pool) => pool,
        Err(err) => {
            eprintln!("error: {err}");
            return ExitStatus::Error.into();
        }
    };
    let result = output::refuse_overwriting_inputs(&cli.command)
        .and_then(|()| pool.install(|| run(&cli.command, &ctx)));
    match result {
        Ok(ExitStatus::Success) if commands::ingest::unreadable_inputs() > 0 => {
            eprintln!(
                "error: {} input(s) could not be read (named above); the outputs cover the others",
                commands::ingest::unreadable_inputs()
            );
            ExitStatus::Error.into()
        }
        Ok(status) => status.into(),
        Err(err) => {
            if is_broken_pipe(&err) || output::stdout_closed() {
                return ExitCode::SUCCESS;
            }
            eprintln!("error: {err}");
            for cause in err.chain().skip(1) {
                eprintln!("  caused by: {cause}");
            }
            ExitStatus::Error.into()
        }
    }
}

fn run(command: &Command, ctx: &Context) -> anyhow::Result<ExitStatus> {
    match command {
        Command::Ingest(args) => commands::ingest::run(args, ctx),
        Command::Inspect(args) => commands::ingest::run_inspect(args, ctx),
        Command::Sessions(args) => commands::sessions::run(args, ctx),
        Command::Timeline(args) => commands::timeline::run(args, ctx),
        Command::Curve(args) => commands::curve::run(args, ctx),
        Command::Incidents(args) => commands::incidents::run(args, ctx),
        Command::Classify(args) => commands::classify::run(args, ctx),
        Command::Evaluate(args) => commands::evaluate::run(args, ctx),
        Command::Diagnose(args) => commands::diagnose::run(args, ctx),
        Command::Report(args) => commands::report::run(args, ctx),
        Command::Simulate(args) => commands::simulate::run(args, ctx),
        Command::Demo(args) => commands::demo::run(args, ctx),
    }
}

/// Writes `text` to stdout. Unlike `print!`, a closed pipe (`dropscope ... | head`) is an error
/// the caller returns, which `main` turns into a quiet exit 0, instead of a panic.
/// Prints one `--json` document on one line: `value`, an object, with the `schema_version` every
/// document carries (docs/json.md).
pub(crate) fn print_json(mut value: serde_json::Value) -> std::io::Result<()> {
    if let Some(object) = value.as_object_mut() {
        object.insert("schema_version".to_owned(), dropscope_report::SCHEMA_VERSION.into());
    }
    print_out(&format!("{value}\n"))
}

pub(crate) fn print_out(text: &str) -> std::io::Result<()> {
    use std::io::Write as _;
    let mut stdout = std::io::stdout().lock();
    stdout.write_all(text.as_bytes())?;
    stdout.flush()
}

fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain().any(|cause| {
        cause
            .downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}
