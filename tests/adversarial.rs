//! Adversarial inputs through the CLI (issue 19): symbolic-link loops, a gzip bomb, a runaway
//! line, files that shrink or grow while read, unreadable files among readable ones, FIFOs,
//! non-UTF-8 file names, and outputs that name an input. Each run must end (no hang, no crash),
//! say what it could not read, and account for every record it read
//! (`parsed + duplicates + rejected == records_read`). Big inputs are built in temp dirs.
#![allow(clippy::print_stderr, reason = "a test skipped for its environment says so")]

use std::fs;
use std::io::Write as _;
use std::path::Path;

use serde_json::Value;

use crate::util::{Run, data, dropscope};

/// One record of device `d{i}` at a time that differs with `i`.
fn record(i: usize) -> String {
    format!(
        r#"{{"time":"2023-09-21T{:02}:{:02}:{:02}Z","operationName":"deviceConnect","category":"Connections","level":"Information","properties":"{{\"deviceId\":\"d{i}\"}}"}}"#,
        i / 3600 % 24,
        i / 60 % 60,
        i % 60
    )
}

/// `bytes` as one gzip member.
fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    gz.write_all(bytes).unwrap();
    gz.finish().unwrap()
}

/// `n` distinct records, one a line.
fn records(n: usize) -> String {
    (0..n).map(|i| record(i) + "\n").collect()
}

/// `dropscope [pre...] inspect --json [args...]` in `dir`: the run and its JSON summary.
fn inspect(dir: &Path, pre: &[&str], args: &[&str]) -> (Run, Value) {
    let mut all = pre.to_vec();
    all.extend(["inspect", "--json"]);
    all.extend(args);
    let run = dropscope(dir, &all);
    let value = serde_json::from_str(&run.stdout)
        .unwrap_or_else(|e| panic!("{e}: {:?} (stderr {})", run.stdout, run.stderr));
    (run, value)
}

/// `parsed + duplicates + rejected == records_read`; returns `records_read`.
fn accounted(summary: &Value) -> u64 {
    let n = |key: &str| summary[key].as_u64().unwrap_or_else(|| panic!("{key} in {summary}"));
    assert_eq!(n("parsed") + n("duplicates") + n("rejected"), n("records_read"), "{summary}");
    n("records_read")
}

/// The files `--json` lists as unreadable.
fn unreadable(summary: &Value) -> Vec<String> {
    summary["unreadable_files"]
        .as_array()
        .expect("unreadable_files")
        .iter()
        .map(|u| u["file"].as_str().expect("a file").to_owned())
        .collect()
}

/// A folder `logs/` in `dir` holding a copy of a fixture of 2 records.
fn logs_with_a_fixture(dir: &Path) {
    fs::create_dir_all(dir.join("logs")).unwrap();
    fs::copy(data("golden/fixtures/learn-lab-2023.jsonl"), dir.join("logs/a.jsonl")).unwrap();
}

/// Whether this process runs as root (then permissions deny nothing): the owner of a file it
/// just made.
#[cfg(unix)]
fn is_root(dir: &Path) -> bool {
    use std::os::unix::fs::MetadataExt as _;
    fs::metadata(dir).unwrap().uid() == 0
}

#[cfg(unix)]
#[test]
fn symbolic_link_loops_are_unreadable_not_a_hang() {
    use std::os::unix::fs::symlink;

    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    logs_with_a_fixture(dir);
    symlink("self", dir.join("logs/self")).unwrap();
    symlink("pong", dir.join("logs/ping")).unwrap();
    symlink("ping", dir.join("logs/pong")).unwrap();
    symlink("nowhere", dir.join("logs/dangling")).unwrap();
    fs::create_dir(dir.join("logs/sub")).unwrap();
    symlink("..", dir.join("logs/sub/up")).unwrap();
    symlink(".", dir.join("logs/sub/here")).unwrap();
    let (run, summary) = inspect(dir, &[], &["logs"]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert_eq!(accounted(&summary), 2);
    assert_eq!(summary["files"], 1);
    assert_eq!(unreadable(&summary), ["logs/dangling", "logs/ping", "logs/pong", "logs/self"]);
    assert!(run.stderr.contains("error: cannot read logs/self: "), "{}", run.stderr);
    assert!(run.stderr.contains("symbolic links"), "{}", run.stderr);
    assert!(run.stderr.contains("logs/sub/up (a link to a directory)"), "{}", run.stderr);
    assert!(run.stderr.contains("error: 4 input(s) could not be read"), "{}", run.stderr);
}

#[test]
fn a_gzip_bomb_stops_at_the_bound_and_names_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    logs_with_a_fixture(dir);
    // An envelope of 65 MiB of blanks, just over the 64 MiB floor: gzip members (which a
    // reader must take one after the other), one of 1 MiB of blanks repeated, 70 KiB in all.
    let blanks = gzip(&vec![b' '; 1 << 20]);
    let bomb = [gzip(b"{\"records\":["), blanks.repeat(65), gzip(b"]}")].concat();
    assert!(bomb.len() < 100 << 10, "{} bytes", bomb.len());
    fs::write(dir.join("logs/bomb.json.gz"), &bomb).unwrap();
    let (run, summary) = inspect(dir, &[], &["logs"]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert_eq!(accounted(&summary), 2);
    assert_eq!(unreadable(&summary), ["logs/bomb.json.gz"]);
    let error = summary["unreadable_files"][0]["error"].as_str().unwrap();
    assert!(error.contains("more than 67108864 bytes"), "{error}");
    assert!(error.contains("gzip bomb") && error.contains("--max-gzip-ratio"), "{error}");
    assert!(run.stderr.contains("error: cannot read logs/bomb.json.gz: gzip stream"));

    // The bound scales with what was read: records that gzip 500 to 1 (a record repeated) pass
    // a ratio of 1000 and stop at 100, past the (lowered) floor, at the same place each time.
    let line = record(7) + "\n";
    let lines = (64 << 10) / line.len();
    fs::write(dir.join("logs/bomb.json.gz"), gzip(line.repeat(lines).as_bytes()).repeat(128))
        .unwrap();
    let floor = ["--gzip-floor", "1MiB"];
    let (run, summary) = inspect(dir, &floor, &["logs"]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert_eq!(accounted(&summary), 2);
    assert!(summary["unreadable_files"][0]["error"].as_str().unwrap().contains("gzip bomb"));
    let (run, summary) =
        inspect(dir, &[&floor[..], &["--max-gzip-ratio", "1000"]].concat(), &["logs"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(accounted(&summary), 2 + 128 * lines as u64);
    assert_eq!(summary["parsed"], 3);
}

#[test]
fn a_line_past_max_line_is_rejected_unread() {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    let long = format!(r#"{{"time":"{}"}}"#, "x".repeat(5 << 20));
    fs::write(dir.join("long.jsonl"), format!("{}\n{long}\n{}\n", record(1), record(2))).unwrap();
    for mmap in [&[][..], &["--no-mmap"]] {
        let pre = [mmap, &["--max-line", "1MiB"]].concat();
        let (run, summary) = inspect(dir, &pre, &["long.jsonl", "--rejects", "r.csv"]);
        assert_eq!(run.code, 0, "{}", run.stderr);
        assert_eq!(accounted(&summary), 3);
        assert_eq!(summary["reject_reasons"]["too_long"], 1);
        let rejects = fs::read_to_string(dir.join("r.csv")).unwrap();
        assert!(rejects.contains("long.jsonl,2,too_long,the line is longer than 1048576 bytes"));
        // The default bound reads it (and rejects it as a record with no device).
        let (run, summary) = inspect(dir, mmap, &["long.jsonl"]);
        assert_eq!(run.code, 0, "{}", run.stderr);
        assert_eq!(accounted(&summary), 3);
        assert!(summary["reject_reasons"].get("too_long").is_none(), "{summary}");
    }
}

/// A file of one 1 GiB line (sparse: a hole of zero bytes inside a JSON string), between two
/// records, at the default bound: rejected, and read without holding it (the test's time and
/// memory are those of the scan).
#[test]
fn a_one_gib_line_at_the_default_bound() {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    let path = dir.join("huge.jsonl");
    let mut file = fs::File::create(&path).unwrap();
    let head = format!("{}{{\"time\":\"", record(1) + "\n");
    file.write_all(head.as_bytes()).unwrap();
    file.set_len(head.len() as u64 + (1 << 30)).unwrap();
    let mut file = fs::OpenOptions::new().append(true).open(&path).unwrap();
    file.write_all(format!("\"}}\n{}", record(2) + "\n").as_bytes()).unwrap();
    drop(file);
    for mmap in [&[][..], &["--no-mmap"]] {
        let (run, summary) = inspect(dir, mmap, &["huge.jsonl", "--rejects", "r.csv"]);
        assert_eq!(run.code, 0, "{}", run.stderr);
        assert_eq!(accounted(&summary), 3);
        assert_eq!(summary["parsed"], 2);
        assert_eq!(summary["reject_reasons"]["too_long"], 1);
        let rejects = fs::read_to_string(dir.join("r.csv")).unwrap();
        assert!(rejects.contains("huge.jsonl,2,too_long,the line is longer than 33554432 bytes"));
    }
}

/// Files cut short and grown while `dropscope` reads them, over and over: every run ends
/// normally (a mapped file cut short would have been SIGBUS) with consistent counts.
#[test]
fn files_that_shrink_or_grow_while_read() {
    use std::sync::atomic::{AtomicBool, Ordering};

    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    let text = records(150_000);
    let path = dir.join("moving.jsonl");
    fs::write(&path, &text).unwrap();
    let stop = AtomicBool::new(false);
    std::thread::scope(|scope| {
        scope.spawn(|| {
            let mut round = 0_u64;
            while !stop.load(Ordering::Relaxed) {
                round += 1;
                let file = fs::OpenOptions::new().write(true).open(&path).unwrap();
                // Cut to a third, then grow it back (in place, so a mapping sees both).
                file.set_len(text.len() as u64 / 3).unwrap();
                std::thread::sleep(std::time::Duration::from_millis(3 + round % 7));
                fs::write(&path, &text).unwrap();
                if round.is_multiple_of(3) {
                    let mut file = fs::OpenOptions::new().append(true).open(&path).unwrap();
                    file.write_all(records(1000).as_bytes()).unwrap();
                }
                std::thread::sleep(std::time::Duration::from_millis(2 + round % 5));
            }
        });
        for pre in [&[][..], &["--threads", "1"], &["--no-mmap"], &[], &["--threads", "1"], &[]] {
            let (run, summary) = inspect(dir, pre, &["moving.jsonl"]);
            assert_eq!(run.code, 0, "{pre:?}: {}", run.stderr);
            let read = accounted(&summary);
            assert!(read <= 151_000, "{read} records");
        }
        stop.store(true, Ordering::Relaxed);
    });
}

#[cfg(unix)]
#[test]
fn unreadable_files_among_readable_ones() {
    use std::os::unix::fs::{PermissionsExt as _, symlink};

    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    logs_with_a_fixture(dir);
    fs::write(dir.join("logs/b.jsonl"), records(3)).unwrap();
    // Unreadable even to root: a link that leads nowhere.
    symlink("gone.jsonl", dir.join("logs/c.jsonl")).unwrap();
    let mut expected = vec!["logs/c.jsonl"];
    if is_root(dir) {
        eprintln!("running as root: chmod 000 denies nothing, so only the dangling link is tested");
    } else {
        fs::write(dir.join("logs/d.jsonl"), records(2)).unwrap();
        fs::set_permissions(dir.join("logs/d.jsonl"), fs::Permissions::from_mode(0o000)).unwrap();
        fs::create_dir(dir.join("logs/e")).unwrap();
        fs::write(dir.join("logs/e/f.jsonl"), records(2)).unwrap();
        fs::set_permissions(dir.join("logs/e"), fs::Permissions::from_mode(0o000)).unwrap();
        expected.extend(["logs/d.jsonl", "logs/e"]);
    }
    let (run, summary) = inspect(dir, &[], &["logs"]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert_eq!(accounted(&summary), 5);
    assert_eq!(unreadable(&summary), expected);
    for path in &expected {
        assert!(run.stderr.contains(&format!("error: cannot read {path}: ")), "{}", run.stderr);
    }
    // The outputs are written from the readable files before the run ends with status 2.
    let run = dropscope(dir, &["--quiet", "sessions", "logs", "-o", "sessions.csv"]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    let sessions = fs::read_to_string(dir.join("sessions.csv")).unwrap();
    assert!(sessions.lines().count() > 1, "{sessions}");
    assert!(run.stderr.contains("error: cannot read logs/c.jsonl: "), "{}", run.stderr);
    // An input named on the command line that does not exist is still an error up front.
    let run = dropscope(dir, &["inspect", "logs", "missing.jsonl"]);
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("cannot read missing.jsonl"), "{}", run.stderr);
    for path in ["logs/d.jsonl", "logs/e"] {
        let _ = fs::set_permissions(dir.join(path), fs::Permissions::from_mode(0o700));
    }
}

#[cfg(unix)]
#[test]
fn a_fifo_in_a_folder_is_skipped_not_waited_on() {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    logs_with_a_fixture(dir);
    let made = std::process::Command::new("mkfifo").arg(dir.join("logs/pipe.jsonl")).status();
    if !made.is_ok_and(|status| status.success()) {
        eprintln!("skipped: mkfifo is not available");
        return;
    }
    let (run, summary) = inspect(dir, &[], &["logs"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(accounted(&summary), 2);
    assert!(
        run.stderr
            .contains("skipped 1 entry(ies) not read: logs/pipe.jsonl (a FIFO, socket or device)"),
        "{}",
        run.stderr
    );
}

#[cfg(unix)]
#[test]
fn non_utf8_file_names_are_read_and_named_escaped() {
    use std::ffi::OsStr;
    use std::os::unix::ffi::OsStrExt as _;
    use std::os::unix::fs::symlink;

    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    fs::create_dir(dir.join("logs")).unwrap();
    let name = OsStr::from_bytes(b"caf\xe9-\xff.jsonl");
    if fs::write(dir.join("logs").join(name), records(2) + "not json\n").is_err() {
        eprintln!("skipped: this file system refuses non-UTF-8 names");
        return;
    }
    symlink("gone", dir.join("logs").join(OsStr::from_bytes(b"lost-\xfe.jsonl"))).unwrap();
    let (run, summary) = inspect(dir, &[], &["logs", "--rejects", "r.csv"]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert_eq!(accounted(&summary), 3);
    assert_eq!(summary["parsed"], 2);
    assert_eq!(unreadable(&summary), ["logs/lost-\\xfe.jsonl"]);
    assert!(run.stderr.contains("error: cannot read logs/lost-\\xfe.jsonl: "), "{}", run.stderr);
    let rejects = fs::read_to_string(dir.join("r.csv")).unwrap();
    assert!(rejects.contains("logs/caf\\xe9-\\xff.jsonl,3,bad_json"), "{rejects}");
}

#[test]
fn outputs_that_name_an_input_are_refused_before_reading() {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    logs_with_a_fixture(dir);
    let before = fs::read(dir.join("logs/a.jsonl")).unwrap();
    let refused = |args: &[&str], flag: &str| {
        let run = dropscope(dir, args);
        assert_eq!(run.code, 2, "{args:?}: {}", run.stderr);
        assert!(run.stderr.contains(&format!("error: {flag} ")), "{}", run.stderr);
        assert!(run.stderr.contains("refusing to overwrite it"), "{}", run.stderr);
        // Refused before anything was read: no summary.
        assert!(!run.stderr.contains("read 1 file(s)"), "{}", run.stderr);
        assert_eq!(fs::read(dir.join("logs/a.jsonl")).unwrap(), before);
    };
    refused(&["sessions", "logs", "-o", "logs/a.jsonl"], "-o");
    refused(&["ingest", "logs/a.jsonl", "-o", "./logs/../logs/a.jsonl"], "-o");
    refused(&["inspect", "logs", "--rejects", "logs/a.jsonl"], "--rejects");
    refused(&["classify", "logs", "-o", "logs"], "-o");
    #[cfg(unix)]
    {
        std::os::unix::fs::symlink("logs/a.jsonl", dir.join("link.csv")).unwrap();
        refused(&["curve", "logs", "-o", "link.csv"], "-o");
        refused(&["timeline", "logs", "--device", "x", "--rejects", "link.csv"], "--rejects");
    }
    // An output beside the inputs is written as before.
    let run = dropscope(dir, &["--quiet", "sessions", "logs", "-o", "sessions.csv"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
}
