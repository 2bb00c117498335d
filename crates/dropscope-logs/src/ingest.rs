//! Reading inputs: files, directories and stdin -> events plus rejects, every record accounted for.
//!
//! [`ingest`] expands directories (recursively, files in byte-wise order of their path relative to
//! the input root, hidden entries skipped), reads `-` as stdin, gunzips by magic bytes, detects each
//! file's form, parses files in parallel (and big JSON Lines files in parallel chunks of blocks read
//! as a stream, so a multi-gigabyte tree is never held as text), then removes duplicate records
//! across all inputs, keeping the first copy in input order.
//!
//! # Reading JSON Lines
//!
//! A JSON Lines input is read in blocks of 8 MiB ([`IngestConfig::block_size`]), each cut at
//! newlines into chunks of about 512 KiB that are parsed in parallel. Three things overlap:
//! parsing a block, reading the next one, and appending the previous block's records to the
//! input's events, so memory holds a few blocks of the file, never all of its text.
//!
//! On Linux a regular file is memory-mapped instead (`mapped.rs`) and parsed where the page
//! cache holds it: copying it out with `read` was 7% of the CPU time of `dropscope sessions`.
//! Its blocks are [`MAPPED_BLOCKS`] times larger (32 MiB), because a mapped block costs no
//! buffer, and fewer blocks leave a thread idle less often while another finishes a block's
//! last chunk. Each block's pages are mapped in ahead of the parse (`MADV_POPULATE_READ`) and
//! unmapped once it is parsed (`MADV_DONTNEED`), so the resident set holds about two blocks of
//! the file, as with `read`. The mapped reader reads the same blocks, line numbers, records and
//! rejects as the stream reader, which a proptest checks. A mapped file cut short by another
//! process while it is read is read again as a stream (the `SIGBUS` guard of `mapped.rs`);
//! [`IngestConfig::mmap`] (`--no-mmap`) reads every file as a stream. Gzip, stdin, and every
//! input that is not JSON Lines are read as streams.
//!
//! # Untrusted inputs
//!
//! Every input is bounded: a JSON Lines line longer than [`IngestConfig::max_line`] is a
//! [`RejectReason::TooLong`], skipped to its newline without being held (the stream reader reads
//! it a block at a time into the buffer it was in; the mapped reader unmaps its pages as it
//! passes them); a gzip stream stops at [`IngestConfig::max_gzip_ratio`] times the compressed
//! bytes read (at least [`IngestConfig::gzip_floor`]), checked as it is decompressed. In
//! directories only regular files (and links to them) are read ([`expand`]). An input that
//! cannot be read, or is a gzip bomb, is listed in [`Ingested::unreadable`] and stops nothing
//! else. Multi-line documents (envelopes, pretty JSON, arrays), CSV and Avro are still read
//! whole into memory, as their parsers need: a gzip one is bounded by the gzip bound, a plain
//! one by its size.
//!
//! # Duplicates
//!
//! A record read twice, from whatever forms, is kept once: its first copy in input order, which
//! is flagged as having had copies. Each event gets a 32-bit hash of the fields
//! [`Event::same_record`] compares (texts by handle, so no text is hashed), 4 bytes an event
//! while duplicates are found. The `(hash, index)` pairs are counting-sorted by the hash's top
//! bits into buckets of about 16,384 events, in parallel: each part of the events writes into
//! its own share of each bucket ([`dropscope_model::shares`]), so each bucket stays in input
//! order. Each bucket then goes through its own open-addressing table of 256 KB, which stays in
//! the cache (one table per thread's share of the hash space, 16 MB on 2 M events, was a cache
//! and often a TLB miss a probe), the buckets in parallel. A probe compares the hashes first
//! and reads an event only when they match. All copies of a record hash alike, so they meet in
//! one bucket, which visits them in input order: the result does not depend on the thread
//! count.

use std::collections::BTreeMap;
use std::fmt;
use std::fs::{self, File};
use std::hash::{Hash, Hasher};
use std::io::{self, Cursor, Read};
use std::path::{Path, PathBuf};

use dropscope_model::{Event, FxHasher, Sym, table_of};
use flate2::read::MultiGzDecoder;
use rayon::prelude::*;

use crate::detect::{self, Layout};
use crate::read::{self, Parsed};
use crate::{Error, Form, Result};

/// Why a record was rejected. Each reason has a stable name ([`RejectReason::as_str`]) used as a
/// key in summaries and in the rejects CSV.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum RejectReason {
    /// The record is not valid JSON (or a CSV row is malformed).
    BadJson,
    /// The last line of a file is cut off, as after an interrupted download.
    Truncated,
    /// The time is missing or not a valid timestamp (e.g. the documented placeholder).
    InvalidTime,
    /// The record's category is not `Connections`, or its event type is not a connection event.
    WrongCategory,
    /// The operation is missing or not `deviceConnect`/`deviceDisconnect`.
    BadOperation,
    /// No device id.
    MissingDeviceId,
    /// A field has a value of the wrong kind (a non-numeric resultType, an unknown level, ...).
    BadField,
    /// An Avro container's header or a block of it cannot be decoded: one reject for the rest
    /// of the file, whose "line" is the index of the first record not read (1-based).
    BadAvro,
    /// A JSON Lines line longer than the bound (`IngestConfig::max_line`, `--max-line`, 32 MiB by
    /// default): skipped unparsed, up to its newline.
    TooLong,
}

impl RejectReason {
    /// The stable name.
    pub const fn as_str(self) -> &'static str {
        match self {
            RejectReason::BadJson => "bad_json",
            RejectReason::Truncated => "truncated",
            RejectReason::InvalidTime => "invalid_time",
            RejectReason::WrongCategory => "wrong_category",
            RejectReason::BadOperation => "bad_operation",
            RejectReason::MissingDeviceId => "missing_device_id",
            RejectReason::BadField => "bad_field",
            RejectReason::BadAvro => "bad_avro",
            RejectReason::TooLong => "too_long",
        }
    }
}

/// One rejected record: where it was and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reject {
    /// Index into [`Ingested::sources`].
    pub source: u32,
    /// The 1-based line of the record's first byte; in an Avro container, the record's 1-based
    /// index in the file.
    pub line: u64,
    /// Why it was rejected.
    pub reason: RejectReason,
    /// A human detail ("time \" UTC timestamp\" is not RFC 3339").
    pub detail: String,
    /// The start of the record's text, cut to at most 200 characters.
    pub text: String,
}

/// Counts that account for every record read.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IngestStats {
    /// Input files read (after walking directories).
    pub files: usize,
    /// Records read: `parsed + duplicates + rejected`.
    pub records_read: u64,
    /// Distinct records kept.
    pub parsed: u64,
    /// Records dropped as copies of a kept record.
    pub duplicates: u64,
    /// Records rejected.
    pub rejected: u64,
    /// Records read per form.
    pub forms: BTreeMap<Form, u64>,
    /// Rejects per reason.
    pub reject_reasons: BTreeMap<RejectReason, u64>,
}

/// The result of reading inputs.
#[derive(Debug, Clone, Default)]
pub struct Ingested {
    /// Distinct events, in input order: files in byte-wise order of their path relative to the
    /// input root, then by line.
    pub events: Vec<Event>,
    /// Every reject, in input order.
    pub rejects: Vec<Reject>,
    /// The counts.
    pub stats: IngestStats,
    /// The input files, indexed by `Event::source` and `Reject::source` (`-` for stdin).
    pub sources: Vec<PathBuf>,
    /// Inputs skipped because their bytes match no export form (a README or a binary file beside
    /// the logs), as indexes into `sources`. They hold no records, so they are not rejects; show
    /// them to the user.
    pub unrecognised: Vec<u32>,
    /// Inputs that could not be read, in byte-wise order of their path: a file that cannot be
    /// opened or read, a directory that cannot be listed, a symbolic link that loops or leads
    /// nowhere, a gzip stream past its bound. The other inputs are read all the same; none of
    /// these files' records is counted.
    pub unreadable: Vec<Unreadable>,
    /// Entries of input directories that are not read, with why: FIFOs, sockets and devices
    /// (opening a FIFO waits for a writer), links to directories (they could loop).
    pub skipped: Vec<(PathBuf, &'static str)>,
}

/// An input that could not be read, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unreadable {
    /// The file or directory.
    pub path: PathBuf,
    /// Why, without the path ("Permission denied (os error 13)").
    pub error: String,
}

/// How to read inputs.
#[derive(Clone, Copy)]
pub struct IngestConfig<'a> {
    /// Called with the number of input bytes just read (as stored: compressed bytes for gzip
    /// inputs), from any thread; the sum over a run is the inputs' total size.
    pub progress: Option<&'a (dyn Fn(u64) + Sync)>,
    /// The size of the blocks big JSON Lines inputs are streamed in. Memory holds about one block
    /// per file being read. A mapped file (on Linux) is parsed in blocks [`MAPPED_BLOCKS`] times
    /// this size.
    pub block_size: usize,
    /// Whether a regular JSON Lines file may be memory-mapped (on Linux) rather than read as a
    /// stream; on by default, for speed (see `mapped.rs`). A mapped file cut short by another
    /// process while it is read is read again as a stream (see `mapped.rs` for what that
    /// guarantees). The records, rejects and counts are the same either way.
    pub mmap: bool,
    /// Called after each large input's events were moved into the merged list and their own
    /// buffer freed, from the calling thread: a caller whose allocator keeps freed memory a while
    /// (dropscope's CLI: mimalloc, for a second) returns it to the system here, so the inputs'
    /// buffers and the merged list are not resident together (that doubled the reader's peak).
    pub release: Option<&'a (dyn Fn() + Sync)>,
    /// The longest JSON Lines line parsed, in bytes (its newline not counted): a longer one is
    /// rejected as [`RejectReason::TooLong`] and skipped to its newline, so a reader never holds
    /// more of one line than this plus a block ([`read::DEFAULT_MAX_LINE`] by default).
    pub max_line: usize,
    /// The gzip bound: a gzip input may decompress to at most `max_gzip_ratio` times the
    /// compressed bytes read so far, or [`IngestConfig::gzip_floor`] bytes if that is more. The
    /// bound is checked as the stream is decompressed, so a gzip bomb is stopped (the file is
    /// [`Ingested::unreadable`], with an error saying so) before more than the bound is held.
    /// Logs compress 10 to 30 times; 100 by default.
    pub max_gzip_ratio: u64,
    /// The decompressed size any gzip input may reach whatever its ratio: 64 MiB by default.
    pub gzip_floor: u64,
}

/// An input whose events take at least this many bytes calls [`IngestConfig::release`] once
/// they are merged: returning a few megabytes is worth the call; many small files are not.
pub const RELEASE_BYTES: usize = 4 << 20;

/// How many stream blocks make one block of a mapped file. A mapped block costs no buffer, and
/// fewer, larger ones leave a thread idle less often while the other finishes a block's last
/// chunk: 32 MiB blocks took `sessions` on 1.25 GB of JSON Lines from 1.89 to 1.78 s (median of
/// six), for ~10 MB more peak memory.
pub const MAPPED_BLOCKS: usize = 4;

impl IngestConfig<'_> {
    /// The default block size: 8 MiB, sixteen 512 KiB chunks to parse in parallel. Larger
    /// stream blocks only add fresh memory to fault in: 32 MiB cost ~50 MB more peak memory and
    /// 0.1-0.2 s on 1.25 GB of JSON Lines (BENCHMARKS.md).
    pub const DEFAULT_BLOCK_SIZE: usize = 8 << 20;
    /// The default [`IngestConfig::max_gzip_ratio`].
    pub const DEFAULT_MAX_GZIP_RATIO: u64 = 100;
    /// The default [`IngestConfig::gzip_floor`]: 64 MiB.
    pub const DEFAULT_GZIP_FLOOR: u64 = 64 << 20;
}

impl Default for IngestConfig<'_> {
    fn default() -> Self {
        IngestConfig {
            progress: None,
            block_size: IngestConfig::DEFAULT_BLOCK_SIZE,
            mmap: true,
            release: None,
            max_line: read::DEFAULT_MAX_LINE,
            max_gzip_ratio: IngestConfig::DEFAULT_MAX_GZIP_RATIO,
            gzip_floor: IngestConfig::DEFAULT_GZIP_FLOOR,
        }
    }
}

impl fmt::Debug for IngestConfig<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IngestConfig")
            .field("progress", &self.progress.map(|_| "Fn(u64)"))
            .field("block_size", &self.block_size)
            .field("mmap", &self.mmap)
            .field("release", &self.release.map(|_| "Fn()"))
            .field("max_line", &self.max_line)
            .field("max_gzip_ratio", &self.max_gzip_ratio)
            .field("gzip_floor", &self.gzip_floor)
            .finish()
    }
}

/// The files `inputs` stand for, and what was found but cannot be read or is not read.
#[derive(Debug, Clone, Default)]
pub struct Expanded {
    /// The files to read, in reading order.
    pub files: Vec<PathBuf>,
    /// Directories that cannot be listed, and links that loop or lead nowhere.
    pub unreadable: Vec<Unreadable>,
    /// FIFOs, sockets, devices and links to directories met in directories, with why.
    pub skipped: Vec<(PathBuf, &'static str)>,
}

/// The files `inputs` stand for, in reading order: each input in the order given; a directory
/// replaced by the regular files below it, in byte-wise order of their path relative to it,
/// hidden entries (names starting with `.`) skipped; `-` kept as stdin. See [`expand`].
pub fn expand_inputs(inputs: &[PathBuf]) -> Result<Vec<PathBuf>> {
    Ok(expand(inputs)?.files)
}

/// [`expand_inputs`], with what cannot be read. Below a directory, only regular files and links
/// to them are read: a FIFO would block the reader until something writes to it, and a link to
/// a directory could loop, so those are [`Expanded::skipped`]; a link that loops or leads
/// nowhere, and a directory that cannot be listed, are [`Expanded::unreadable`]. An input named
/// on the command line is read whatever it is (a FIFO there is what the user asked for, as in
/// `<(zcat x.gz)`). Only an input that does not exist is an error.
pub fn expand(inputs: &[PathBuf]) -> Result<Expanded> {
    let mut out = Expanded::default();
    for input in inputs {
        if input.as_os_str() == "-" {
            out.files.push(input.clone());
            continue;
        }
        let metadata = match fs::metadata(input) {
            Ok(metadata) => metadata,
            Err(source) if source.kind() == io::ErrorKind::NotFound => {
                return Err(Error::Read { path: input.clone(), source });
            }
            Err(error) => {
                out.unreadable.push(Unreadable { path: input.clone(), error: error.to_string() });
                continue;
            }
        };
        if metadata.is_dir() {
            let mut below = Expanded::default();
            walk(input, Path::new(""), &mut below);
            below.files.sort_by(|a, b| {
                a.as_os_str().as_encoded_bytes().cmp(b.as_os_str().as_encoded_bytes())
            });
            out.files.extend(below.files.into_iter().map(|relative| input.join(relative)));
            out.unreadable.extend(below.unreadable);
            out.skipped.extend(below.skipped);
        } else {
            out.files.push(input.clone());
        }
    }
    Ok(out)
}

/// Adds the files below `root/relative` to `out.files` (relative to `root`), and what cannot or
/// should not be read to `out.unreadable` and `out.skipped` (with their full path).
fn walk(root: &Path, relative: &Path, out: &mut Expanded) {
    let dir = root.join(relative);
    let unreadable = |out: &mut Expanded, path: PathBuf, error: &io::Error| {
        out.unreadable.push(Unreadable { path, error: error.to_string() });
    };
    let entries = match fs::read_dir(&dir) {
        Ok(entries) => entries,
        Err(error) => return unreadable(out, dir, &error),
    };
    for entry in entries {
        let entry = match entry {
            Ok(entry) => entry,
            Err(error) => return unreadable(out, dir, &error),
        };
        let name = entry.file_name();
        if name.as_encoded_bytes().starts_with(b".") {
            continue;
        }
        let file_type = match entry.file_type() {
            Ok(file_type) => file_type,
            Err(error) => {
                unreadable(out, entry.path(), &error);
                continue;
            }
        };
        let path = relative.join(&name);
        if file_type.is_dir() {
            walk(root, &path, out);
        } else if file_type.is_file() {
            out.files.push(path);
        } else if file_type.is_symlink() {
            // Follow links to files; links to directories could loop. A link that loops
            // (ELOOP) or leads nowhere cannot be read.
            match fs::metadata(entry.path()) {
                Ok(target) if target.is_file() => out.files.push(path),
                Ok(target) if target.is_dir() => {
                    out.skipped.push((entry.path(), "a link to a directory"));
                }
                Ok(_) => out.skipped.push((entry.path(), "a link to a FIFO, socket or device")),
                Err(error) => unreadable(out, entry.path(), &error),
            }
        } else {
            out.skipped.push((entry.path(), "a FIFO, socket or device"));
        }
    }
}

/// Reads every input (files, directories, `-` for stdin) into distinct events and rejects.
///
/// Only an input named in `inputs` that does not exist is an error. An input that cannot be
/// read (a file that cannot be opened, or fails while read; a directory that cannot be listed;
/// a gzip stream past its bound; Parquet or Arrow IPC without the `tables` feature) is listed in
/// [`Ingested::unreadable`], and the others are read all the same. Bad records are rejects, and
/// `parsed + duplicates + rejected == records_read` holds in the returned stats.
pub fn ingest(inputs: &[PathBuf], config: &IngestConfig<'_>) -> Result<Ingested> {
    let Expanded { files: sources, mut unreadable, skipped } = expand(inputs)?;
    let parts: Vec<Result<Parsed>> = sources
        .par_iter()
        .enumerate()
        .map(|(idx, path)| read_path(path, idx as u32, config))
        .collect();
    let mut failed = 0;
    let parts: Vec<Parsed> = parts
        .into_iter()
        .zip(&sources)
        .map(|(part, path)| {
            part.unwrap_or_else(|error| {
                failed += 1;
                unreadable.push(Unreadable { path: path.clone(), error: why(&error) });
                Parsed::default()
            })
        })
        .collect();
    unreadable.sort_by(|a, b| {
        a.path.as_os_str().as_encoded_bytes().cmp(b.path.as_os_str().as_encoded_bytes())
    });
    let mut ingested = assemble(sources, parts, config.release);
    ingested.stats.files -= failed;
    ingested.unreadable = unreadable;
    ingested.skipped = skipped;
    Ok(ingested)
}

/// Why `error` happened, without the path it names: its innermost cause's message.
fn why(error: &Error) -> String {
    let mut cause: &dyn std::error::Error = error;
    while let Some(source) = cause.source() {
        cause = source;
    }
    cause.to_string()
}

/// `path` for messages: its bytes as text, each byte that is not UTF-8 written `\xNN` (a file
/// name need not be UTF-8 on Unix; `Path::display` would replace such bytes with U+FFFD, and
/// two different names could read the same).
pub fn display_path(path: &Path) -> String {
    let mut out = String::new();
    for chunk in path.as_os_str().as_encoded_bytes().utf8_chunks() {
        out.push_str(chunk.valid());
        for byte in chunk.invalid() {
            use std::fmt::Write as _;
            let _ = write!(out, "\\x{byte:02x}");
        }
    }
    out
}

/// Reads one input held in memory (gzip-compressed or not), named `name` in
/// [`Ingested::sources`]. Never fails: what [`ingest`] would return as an error becomes a reject.
pub fn ingest_bytes(name: &str, bytes: &[u8]) -> Ingested {
    ingest_bytes_with(name, bytes, &IngestConfig::default())
}

/// [`ingest_bytes`] with `config` (its block size, line and gzip bounds).
pub fn ingest_bytes_with(name: &str, bytes: &[u8], config: &IngestConfig<'_>) -> Ingested {
    let path = PathBuf::from(name);
    let parsed =
        read_stream(bytes, &path, 0, config, Some(bytes.len() as u64)).unwrap_or_else(|error| {
            let mut parsed = Parsed::default();
            parsed.reject(0, 1, RejectReason::BadField, error.to_string(), b"");
            parsed
        });
    assemble(vec![path], vec![parsed], None)
}

fn read_path(path: &Path, source: u32, config: &IngestConfig<'_>) -> Result<Parsed> {
    if path.as_os_str() == "-" {
        return read_stream(io::stdin(), path, source, config, None);
    }
    let file = File::open(path).map_err(|source| Error::Read { path: path.to_owned(), source })?;
    let size = file.metadata().ok().filter(fs::Metadata::is_file).map(|m| m.len());
    #[cfg(target_os = "linux")]
    if config.mmap
        && let Some(map) = size.and_then(|size| crate::mapped::Mapped::new(&file, size))
        && let Some(parsed) = read_mapped_lines(&map, source, config)
    {
        return Ok(parsed);
    }
    read_stream(file, path, source, config, size)
}

/// Counts bytes read for the progress callback.
struct Counting<'a, R> {
    inner: R,
    progress: Option<&'a (dyn Fn(u64) + Sync)>,
}

impl<R: Read> Read for Counting<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        if let (Some(progress), true) = (self.progress, n > 0) {
            progress(n as u64);
        }
        Ok(n)
    }
}

/// Counts the bytes read through it: the compressed bytes a gzip decoder took.
struct Tally<R> {
    inner: R,
    bytes: u64,
}

impl<R: Read> Read for Tally<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.bytes += n as u64;
        Ok(n)
    }
}

/// A gzip stream decompressed within [`IngestConfig::max_gzip_ratio`] and
/// [`IngestConfig::gzip_floor`]: past the bound, a read fails with a [`GzipBomb`] error, before
/// the caller has been handed more than the bound (and one read).
struct BoundedGz<R: Read> {
    decoder: MultiGzDecoder<Tally<R>>,
    out: u64,
    ratio: u64,
    floor: u64,
}

impl<R: Read> Read for BoundedGz<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.decoder.read(buf)?;
        self.out += n as u64;
        let compressed = self.decoder.get_ref().bytes;
        let bound = self.floor.max(self.ratio.saturating_mul(compressed));
        if self.out > bound {
            return Err(io::Error::other(GzipBomb {
                bound,
                compressed,
                ratio: self.ratio,
                floor: self.floor,
            }));
        }
        Ok(n)
    }
}

/// A gzip stream that decompresses past its bound (see [`IngestConfig::max_gzip_ratio`]).
#[derive(Debug)]
struct GzipBomb {
    bound: u64,
    compressed: u64,
    ratio: u64,
    floor: u64,
}

impl fmt::Display for GzipBomb {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "gzip stream decompresses to more than {} bytes from {} compressed bytes (the bound is {} times the compressed size, at least {} bytes): stopped, as a gzip bomb; --max-gzip-ratio raises the bound",
            self.bound, self.compressed, self.ratio, self.floor
        )
    }
}

impl std::error::Error for GzipBomb {}

/// Whether `error` is a [`GzipBomb`]: it ends the input as an error, where a corrupt gzip
/// stream ends it with a reject.
fn is_gzip_bomb(error: &io::Error) -> bool {
    matches!(error.get_ref(), Some(inner) if inner.is::<GzipBomb>())
}

/// A decompressed input. A gzip stream that ends early or is corrupt ends the input there (the
/// records before it are kept) and remembers why; one past its bound is an error.
struct Input<'a> {
    inner: Box<dyn Read + Send + 'a>,
    gzip: bool,
    broken: Option<io::Error>,
}

impl Input<'_> {
    /// Appends up to `want` bytes to `buf`; `true` at the end of the input.
    fn fill(&mut self, buf: &mut Vec<u8>, want: usize) -> io::Result<bool> {
        let start = buf.len();
        match (&mut self.inner).take(want as u64).read_to_end(buf) {
            Ok(_) => Ok(buf.len() - start < want),
            Err(error) if self.gzip && !is_gzip_bomb(&error) => {
                self.broken = Some(error);
                Ok(true)
            }
            Err(error) => Err(error),
        }
    }
}

impl Read for Input<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.broken.is_some() {
            return Ok(0);
        }
        match self.inner.read(buf) {
            Err(error) if self.gzip && !is_gzip_bomb(&error) => {
                self.broken = Some(error);
                Ok(0)
            }
            other => other,
        }
    }
}

/// Reads one input. `size` is its length in bytes when known (a regular file), used to size the
/// event list once instead of growing it.
fn read_stream<'a>(
    reader: impl Read + Send + 'a,
    path: &Path,
    source: u32,
    config: &IngestConfig<'a>,
    size: Option<u64>,
) -> Result<Parsed> {
    let io_error = |source: io::Error| Error::Read { path: path.to_owned(), source };
    let mut reader = Counting { inner: reader, progress: config.progress };
    let mut magic = Vec::with_capacity(2);
    (&mut reader).take(2).read_to_end(&mut magic).map_err(io_error)?;
    let gzip = magic == [0x1f, 0x8b];
    let chained = Cursor::new(magic).chain(reader);
    let inner: Box<dyn Read + Send + 'a> = if gzip {
        Box::new(BoundedGz {
            decoder: MultiGzDecoder::new(Tally { inner: chained, bytes: 0 }),
            out: 0,
            ratio: config.max_gzip_ratio,
            floor: config.gzip_floor,
        })
    } else {
        Box::new(chained)
    };
    let mut input = Input { inner, gzip, broken: None };
    let block = config.block_size.max(1 << 10);

    let first = size.map_or(block, |size| usize::try_from(size).unwrap_or(block).min(block));
    // Room for the cut-off line a block carries into the next (see `read_lines`).
    let mut buf = Vec::with_capacity(first + first / 8 + 64);
    let eof = input.fill(&mut buf, block).map_err(io_error)?;
    if buf.starts_with(b"\xEF\xBB\xBF") {
        buf.drain(..3);
    }
    let mut parsed = match detect::sniff(&buf) {
        // The first block decides; the rest of a file of no known form is not read.
        None => read::unrecognised(&buf),
        Some((_, Layout::Lines)) => {
            let size = size.filter(|_| !gzip);
            let max_line = config.max_line;
            read_lines(&mut input, buf, eof, block, source, size, max_line).map_err(io_error)?
        }
        Some((_, Layout::Csv)) => {
            read::read_csv_stream(Cursor::new(buf).chain(&mut input), source).map_err(io_error)?
        }
        Some((_, Layout::Document)) => {
            read_rest(&mut input, &mut buf, size.filter(|_| !gzip)).map_err(io_error)?;
            read::read_json_document(&buf, source)
        }
        Some((form, Layout::Columnar)) => {
            read_rest(&mut input, &mut buf, size.filter(|_| !gzip)).map_err(io_error)?;
            columnar(form, &buf, path, source)?
        }
        Some((_, Layout::Avro)) => {
            read_rest(&mut input, &mut buf, size.filter(|_| !gzip)).map_err(io_error)?;
            read::read_avro(&buf, source)
                .map_err(|source| Error::Read { path: path.to_owned(), source })?
        }
    };
    if let Some(error) = input.broken
        && parsed.rejects.last().is_none_or(|r| r.reason != RejectReason::Truncated)
    {
        let line = parsed
            .events
            .last()
            .map(|e| e.source_line)
            .max(parsed.rejects.last().map(|r| r.line))
            .map_or(1, |line| line + 1);
        parsed.reject(
            source,
            line,
            RejectReason::Truncated,
            format!("the gzip stream ends early: {error}"),
            b"",
        );
    }
    Ok(parsed)
}

/// Reads the rest of `input` into `buf`, sized once when the input's `size` is known: grown by
/// doubling from the first block, an 11 MB Parquet file was copied once more and its buffer
/// took 2,800 page faults more.
fn read_rest(input: &mut Input<'_>, buf: &mut Vec<u8>, size: Option<u64>) -> io::Result<()> {
    if let Some(size) = size.and_then(|size| usize::try_from(size).ok()) {
        // One byte more, so `read_to_end` sees the end without growing the buffer.
        buf.reserve_exact((size + 1).saturating_sub(buf.len()));
    }
    input.read_to_end(buf)?;
    Ok(())
}

/// Reads JSON Lines from `input`, whose first `buf` bytes are read (all of it when `eof`), in
/// blocks of `block` bytes. Three things overlap: parsing a block (in parallel chunks), reading
/// the next, and appending the previous block's records to the result.
///
/// A line that grows past `max_line` bytes is rejected as [`RejectReason::TooLong`] and skipped
/// to its newline, read a block at a time into the buffer it was in, so the reader holds no
/// more of it than `max_line` and a block.
fn read_lines(
    input: &mut Input<'_>,
    mut buf: Vec<u8>,
    mut eof: bool,
    block: usize,
    source: u32,
    size: Option<u64>,
    max_line: usize,
) -> io::Result<Parsed> {
    let mut parsed = Parsed::default();
    if let Some(size) = size.filter(|_| !eof) {
        reserve_events(&mut parsed, size, &buf);
    }
    // `buf[..len]` holds the data; both buffers stay initialised, so reads never zero memory.
    let mut len = buf.len();
    let mut next = Vec::new();
    let mut pending = read::Chunks::default();
    let mut line = 1;
    loop {
        if eof {
            line += pending.append_to(line, &mut parsed);
            let cut = !buf[..len].ends_with(b"\n");
            read::parse_lines_parallel(&buf[..len], source, line, cut, max_line, &mut parsed);
            return Ok(parsed);
        }
        let done = memchr::memrchr(b'\n', &buf[..len]).map_or(0, |i| i + 1);
        let tail = len - done;
        if tail > max_line {
            // The line at `done` is too long: parse the lines before it, reject it, and read
            // on to its newline, a block at a time, keeping none of it.
            line += std::mem::take(&mut pending).append_to(line, &mut parsed);
            line += read::parse_lines_parallel(
                &buf[..done],
                source,
                line,
                false,
                max_line,
                &mut parsed,
            );
            read::too_long(&mut parsed, source, line, &buf[done..len], max_line);
            line += 1;
            let room = block.min(buf.len());
            loop {
                let (end, ended) = fill_slice(input, &mut buf[..room], 0)?;
                if let Some(newline) = memchr::memchr(b'\n', &buf[..end]) {
                    buf.copy_within(newline + 1..end, 0);
                    (len, eof) = (end - newline - 1, ended);
                    break;
                }
                if ended {
                    (len, eof) = (0, true);
                    break;
                }
            }
            continue;
        }
        if next.len() < tail + block {
            // With room for longer cut-off lines: a buffer that grows again is a fresh
            // allocation whose pages the kernel must zero. Growing by a line's length every
            // block or two cost 2,700 page faults (2 MB each) on a 1.25 GB input; now ~750.
            next.resize((tail + block).max(block + block / 8), 0);
        }
        let previous = std::mem::take(&mut pending);
        let (chunks, filled) = rayon::join(
            || read::parse_chunks(&buf[..done], source, false, max_line),
            || {
                line += previous.append_to(line, &mut parsed);
                next[..tail].copy_from_slice(&buf[done..len]);
                fill_slice(input, &mut next[..tail + block], tail)
            },
        );
        pending = chunks;
        (len, eof) = filled?;
        std::mem::swap(&mut buf, &mut next);
    }
}

/// Sizes the event list of an input of `size` bytes from the line density of its first block,
/// with a little slack; pages never written are never resident, so over-estimating costs no
/// memory.
fn reserve_events(parsed: &mut Parsed, size: u64, first_block: &[u8]) {
    if first_block.is_empty() {
        return;
    }
    let lines = memchr::memchr_iter(b'\n', first_block).count() as u64;
    let estimate =
        u128::from(size) * u128::from(lines + lines / 16 + 1) / first_block.len() as u128;
    // Too big to reserve: the list grows as needed instead.
    let _ = parsed.events.try_reserve(usize::try_from(estimate).unwrap_or(0));
}

/// Reads a mapped file of JSON Lines as [`read_stream`] reads it (the same blocks, line
/// numbers, records and rejects), parsing each block where the page cache holds it instead of
/// copying it out. Two things overlap: parsing a block, and appending the previous block's
/// records while its pages are unmapped and the next block's mapped in. `None` when the file is
/// gzip-compressed or not JSON Lines, or was cut short while it was read (see `mapped.rs`): the
/// caller reads it as a stream instead. A line longer than [`IngestConfig::max_line`] is
/// rejected and skipped as [`read_lines`] does, its pages unmapped as they are passed.
#[cfg(target_os = "linux")]
fn read_mapped_lines(
    map: &crate::mapped::Mapped,
    source: u32,
    config: &IngestConfig<'_>,
) -> Option<Parsed> {
    let all = map.bytes();
    let block = config.block_size.max(1 << 10);
    let max_line = config.max_line;
    // The first block as `read_stream` sees it; see `IngestConfig::block_size` for `MAPPED_BLOCKS`.
    let first = ..all.len().min(block);
    let block = block.saturating_mul(MAPPED_BLOCKS);
    if all.starts_with(&[0x1f, 0x8b]) {
        return None;
    }
    // As `read_stream` sees it: the first block, less a byte-order mark.
    let skip = if all.starts_with(b"\xEF\xBB\xBF") { 3 } else { 0 };
    let first = &all[first][skip..];
    if !matches!(detect::sniff(first), Some((_, Layout::Lines))) {
        return None;
    }
    let progress = |bytes: usize| {
        if let Some(progress) = config.progress
            && bytes > 0
        {
            progress(bytes as u64);
        }
    };
    progress(skip);
    let text = &all[skip..];
    let mut parsed = Parsed::default();
    if text.len() > block {
        // From the first MiB: counting a whole block's lines, and mapping the block in, were
        // 10 ms before the other thread had anything to do; the first block's pages are mapped
        // in as they are parsed, on both threads.
        reserve_events(&mut parsed, all.len() as u64, &first[..first.len().min(1 << 20)]);
    }
    let mut pending = read::Chunks::default();
    let mut line = 1;
    // The previous block, `parsed_from..start`, is parsed; `start..` is not.
    let mut parsed_from = 0;
    let mut start = 0;
    loop {
        // The block ends after its last newline; a line longer than a block stretches it, up
        // to `max_line`.
        let end = (start + block).min(text.len());
        let limit = start.saturating_add(max_line).saturating_add(1).min(text.len()).max(end);
        let done = memchr::memrchr(b'\n', &text[start..end])
            .map(|i| start + i + 1)
            .or_else(|| memchr::memchr(b'\n', &text[end..limit]).map(|i| end + i + 1))
            .or_else(|| (limit == text.len() && text.len() - start <= max_line).then_some(limit));
        let Some(done) = done else {
            // The line at `start` is longer than `max_line`: reject it and skip to its newline,
            // unmapping its pages as they are passed.
            line += std::mem::take(&mut pending).append_to(line, &mut parsed);
            read::too_long(&mut parsed, source, line, &text[start..limit], max_line);
            line += 1;
            let mut at = limit;
            let next = loop {
                let stop = at.saturating_add(block).min(text.len());
                if let Some(i) = memchr::memchr(b'\n', &text[at..stop]) {
                    break at + i + 1;
                }
                if stop == text.len() {
                    break stop;
                }
                map.release(skip + parsed_from..skip + stop);
                parsed_from = stop;
                at = stop;
            };
            progress(next - start);
            map.release(skip + parsed_from..skip + next);
            (parsed_from, start) = (next, next);
            continue;
        };
        if done == text.len() {
            line += pending.append_to(line, &mut parsed);
            let rest = &text[start..];
            let cut = !rest.ends_with(b"\n");
            read::parse_lines_parallel(rest, source, line, cut, max_line, &mut parsed);
            progress(rest.len());
            return (!map.cut_short()).then_some(parsed);
        }
        let previous = std::mem::take(&mut pending);
        let (chunks, ()) = rayon::join(
            || read::parse_chunks(&text[start..done], source, false, max_line),
            || {
                line += previous.append_to(line, &mut parsed);
                map.release(skip + parsed_from..skip + start);
                map.populate(skip + done..skip + done + block);
            },
        );
        pending = chunks;
        progress(done - start);
        (parsed_from, start) = (start, done);
    }
}

/// Reads into `buf[at..]` until it is full or the input ends. Returns the end of the data and
/// whether the input ended.
fn fill_slice(input: &mut Input<'_>, buf: &mut [u8], mut at: usize) -> io::Result<(usize, bool)> {
    while at < buf.len() {
        match input.read(&mut buf[at..]) {
            Ok(0) => return Ok((at, true)),
            Ok(n) => at += n,
            Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
            Err(error) => return Err(error),
        }
    }
    Ok((at, false))
}

#[cfg(feature = "tables")]
fn columnar(form: Form, bytes: &[u8], path: &Path, source: u32) -> Result<Parsed> {
    let events = dropscope_tables::frame::read_events(bytes, source).map_err(|err| err.at(path))?;
    let mut parsed = Parsed::default();
    parsed.forms.insert(form, events.len() as u64);
    parsed.events = events;
    Ok(parsed)
}

#[cfg(not(feature = "tables"))]
fn columnar(form: Form, _bytes: &[u8], path: &Path, _source: u32) -> Result<Parsed> {
    Err(Error::Read {
        path: path.to_owned(),
        source: io::Error::new(
            io::ErrorKind::Unsupported,
            format!("{form} input needs dropscope-logs built with the `tables` feature"),
        ),
    })
}

/// A 32-bit hash of the fields [`Event::same_record`] compares (4 bytes an event while
/// duplicates are found: a `u64` a record was 16 MB more on 2 M records, at the command's peak).
fn record_hash(event: &Event) -> u32 {
    let mut hasher = FxHasher::default();
    event.time.hash(&mut hasher);
    event.operation.hash(&mut hasher);
    event.level.hash(&mut hasher);
    event.code().hash(&mut hasher);
    // Interned texts hash by handle: equal texts have equal handles within the process, and
    // the hash never leaves it.
    hasher.write_u32(event.device_id.handle());
    hasher.write_u32(event.hub.handle());
    for sym in [
        event.module_id,
        event.result_description,
        event.protocol,
        event.masked_ip,
        event.sdk_version,
        event.auth_type,
        event.status_code,
    ] {
        hasher.write_u32(sym.map_or(0, Sym::handle));
    }
    event.seq.hash(&mut hasher);
    let hash = hasher.finish();
    // Fx's high bits are its best: fold them into the low ones, which place a record in a table.
    (hash ^ hash >> 32) as u32
}

/// Which events are the first copy of their record, in order, and which first copies had later
/// copies.
///
/// The events' `(hash, index)` pairs are first sorted by the hash's top bits into buckets of
/// about [`BUCKET`] events, keeping input order within each (a counting sort); then each bucket
/// goes through its own open-addressing table (see [`bucket_copies`]), the buckets in parallel.
/// All copies of a record hash alike, so they meet in one bucket, which visits them in input
/// order: the result does not depend on the number of threads. One table per thread's share of
/// the hash space (16 MB on 2 M events) was probed at random, a cache and often a TLB miss a
/// probe; a bucket's table stays in the cache.
fn first_copies(events: &[Event]) -> (Vec<bool>, Vec<usize>) {
    let hashes: Vec<u32> = events.par_iter().map(record_hash).collect();
    let bits = (events.len() / BUCKET).next_power_of_two().trailing_zeros().min(16);
    let buckets = 1_usize << bits;
    let bucket = |hash: u32| if bits == 0 { 0 } else { (hash >> (32 - bits)) as usize };
    // The counting sort, in parallel over parts of the events (serial, it was 25 ms of one
    // core on 2 M events while the other waited): each part counts its hashes per bucket, then
    // writes its pairs into its own share of each bucket, after the earlier parts' shares.
    let part = hashes.len().div_ceil(4 * rayon::current_num_threads()).max(1 << 16);
    let counts: Vec<Vec<usize>> = hashes
        .par_chunks(part)
        .map(|hashes| {
            let mut counts = vec![0_usize; buckets];
            for &hash in hashes {
                counts[bucket(hash)] += 1;
            }
            counts
        })
        .collect();
    let mut starts = vec![0_usize; buckets + 1];
    for b in 0..buckets {
        starts[b + 1] = starts[b] + counts.iter().map(|counts| counts[b]).sum::<usize>();
    }
    let mut pairs = vec![(0_u32, 0_u32); hashes.len()];
    let shares =
        dropscope_model::shares(&mut pairs, counts.len(), buckets, 0..buckets, |p, b| counts[p][b]);
    hashes.par_chunks(part).zip(shares).enumerate().for_each(|(n, (hashes, mut share))| {
        for (idx, &hash) in ((n * part) as u32..).zip(hashes) {
            dropscope_model::put(&mut share[bucket(hash)], (hash, idx));
        }
    });
    drop(hashes);
    let buckets: Vec<(Vec<usize>, Vec<usize>)> = starts
        .par_windows(2)
        .map(|range| bucket_copies(events, &pairs[range[0]..range[1]]))
        .collect();
    let mut keep = vec![true; events.len()];
    let mut copied = Vec::new();
    for (later, first) in buckets {
        for idx in later {
            keep[idx] = false;
        }
        copied.extend(first);
    }
    copied.sort_unstable();
    (keep, copied)
}

/// About this many events a bucket: its table (at most two thirds full) then takes 256 KB.
const BUCKET: usize = 1 << 14;

/// A slot of a duplicate table: 0 when empty, otherwise the event's hash over its index + 1 (an
/// index fits in 32 bits: 2^32 events would take 340 GB of memory). A probe compares the hash
/// in the slot, so it reads no other event's hash and almost never its event.
type Slot = u64;

fn slot(hash: u32, idx: usize) -> Slot {
    u64::from(hash) << 32 | (idx as u64 + 1)
}

fn slot_hash(slot: Slot) -> u32 {
    (slot >> 32) as u32
}

fn slot_index(slot: Slot) -> usize {
    (slot & 0xffff_ffff) as usize - 1
}

/// The later copies, and the first copies that had them, among one bucket's events (`(hash,
/// index)` pairs in input order), through an open-addressing table indexed by the hash's low
/// bits (linear probing, at most two thirds full).
fn bucket_copies(events: &[Event], pairs: &[(u32, u32)]) -> (Vec<usize>, Vec<usize>) {
    let slots = (pairs.len() + pairs.len() / 2 + 1).next_power_of_two().max(16);
    let mut table: Vec<Slot> = table_of(slots, 0);
    let mask = slots - 1;
    let (mut later, mut first) = (Vec::new(), Vec::new());
    for &(hash, idx) in pairs {
        let idx = idx as usize;
        let mut at = hash as usize & mask;
        loop {
            match table[at] {
                0 => {
                    table[at] = slot(hash, idx);
                    break;
                }
                old => {
                    let other = slot_index(old);
                    if slot_hash(old) == hash && events[other].same_record(&events[idx]) {
                        later.push(idx);
                        first.push(other);
                        break;
                    }
                }
            }
            at = (at + 1) & mask;
        }
    }
    (later, first)
}

/// Merges the inputs' results in order, removes duplicates and counts.
fn assemble(
    sources: Vec<PathBuf>,
    parts: Vec<Parsed>,
    release: Option<&(dyn Fn() + Sync)>,
) -> Ingested {
    let mut all = Parsed::default();
    // One allocation for all inputs' events (many hourly files would otherwise grow it by
    // doubling, copying every event a few times).
    let total = parts.iter().map(|part| part.events.len()).sum::<usize>();
    if parts.iter().all(|part| part.events.len() < total) {
        all.events.reserve_exact(total);
    }
    let mut unrecognised = Vec::new();
    for (idx, part) in parts.into_iter().enumerate() {
        if part.unrecognised {
            unrecognised.push(idx as u32);
        }
        let large = size_of_val(part.events.as_slice()) >= RELEASE_BYTES;
        all.append(part);
        if large && let Some(release) = release {
            release();
        }
    }
    let records_read = all.records_read();
    let (keep, copied) = first_copies(&all.events);
    let mut events = all.events;
    for idx in copied {
        events[idx].had_copies = true;
    }
    let mut keep = keep.into_iter();
    events.retain(|_| keep.next().unwrap_or(true));
    let mut reject_reasons = BTreeMap::new();
    for reject in &all.rejects {
        *reject_reasons.entry(reject.reason).or_default() += 1;
    }
    let rejected = all.rejects.len() as u64;
    let parsed = events.len() as u64;
    let stats = IngestStats {
        files: sources.len(),
        records_read,
        parsed,
        duplicates: records_read - rejected - parsed,
        rejected,
        forms: all.forms,
        reject_reasons,
    };
    Ingested {
        events,
        rejects: all.rejects,
        stats,
        sources,
        unrecognised,
        unreadable: Vec::new(),
        skipped: Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use std::fmt::Write as _;

    use super::*;

    fn check(input: &[u8], expected: &str) {
        let ingested = ingest_bytes("x", input);
        let s = &ingested.stats;
        let mut got = format!(
            "read={} parsed={} dup={} rej={}",
            s.records_read, s.parsed, s.duplicates, s.rejected
        );
        for r in &ingested.rejects {
            let _ = write!(got, " {}:{}", r.line, r.reason.as_str());
        }
        assert_eq!(got, expected);
    }

    const REC: &str = r#"{"time":"2020-01-01T00:00:00Z","operationName":"deviceConnect","properties":"{\"deviceId\":\"a\"}"}"#;

    #[test]
    fn duplicates_do_not_depend_on_the_thread_count() {
        // 3,000 events over 500 distinct records (many copies, some far apart), and 100,000 over
        // 20,000, enough for several buckets.
        for (n, distinct) in [(3_000_u32, 500), (100_000, 20_000)] {
            let record = |i: u32| (i * 7919) % distinct;
            let events: Vec<Event> = (0..n)
                .map(|i| {
                    let k = record(i);
                    let mut e = Event::new(
                        dropscope_model::Timestamp(i64::from(k) * 1_000_000_000),
                        "hub",
                        &format!("d{}", k % 37),
                        dropscope_model::Operation::Connect,
                    );
                    e.source_line = u64::from(i);
                    e
                })
                .collect();
            // The reference: the first index of each record (each `k`) in input order.
            let mut first_of = std::collections::HashMap::new();
            let mut expected_keep = Vec::new();
            let mut expected_copied = std::collections::BTreeSet::new();
            for i in 0..n {
                match first_of.entry(record(i)) {
                    std::collections::hash_map::Entry::Occupied(first) => {
                        expected_keep.push(false);
                        expected_copied.insert(*first.get());
                    }
                    std::collections::hash_map::Entry::Vacant(slot) => {
                        slot.insert(i as usize);
                        expected_keep.push(true);
                    }
                }
            }
            let expected_copied: Vec<usize> = expected_copied.into_iter().collect();
            for threads in [1, 2, 3, 8] {
                let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
                let (keep, mut copied) = pool.install(|| first_copies(&events));
                copied.dedup();
                assert!(keep == expected_keep, "{n} events, {threads} threads");
                assert!(copied == expected_copied, "{n} events, {threads} threads");
            }
        }
    }

    #[test]
    fn counts_duplicates_and_rejects() {
        check(format!("{REC}\n{REC}\nnope\n").as_bytes(), "read=3 parsed=1 dup=1 rej=1 3:bad_json");
        check(b"", "read=0 parsed=0 dup=0 rej=0");
        check(b"\x00\x01binary", "read=0 parsed=0 dup=0 rej=0");
        assert_eq!(ingest_bytes("x", b"# README").unrecognised, vec![0]);
        assert_eq!(ingest_bytes("x", b" \n").unrecognised, Vec::<u32>::new());
        check(b"PAR1", "read=1 parsed=0 dup=0 rej=1 1:bad_field");
    }

    #[test]
    fn any_block_size_reads_the_same() {
        let bad = REC.replace("deviceConnect", "deviceTelemetry");
        let text = format!("{REC}\n{bad}\n\nnope\n").repeat(40) + &REC[..50];
        let whole = read::read_json_lines(text.as_bytes(), 0);
        for block in [1024, 1500, 4096, 1 << 20] {
            let config = IngestConfig { block_size: block, ..IngestConfig::default() };
            let size = Some(text.len() as u64);
            let parsed = read_stream(text.as_bytes(), Path::new("x"), 0, &config, size);
            assert_eq!(parsed.ok().as_ref(), Some(&whole), "block {block}");
        }
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn mapped_files_read_as_streams_do() {
        use std::io::Write as _;

        let bad = REC.replace("deviceConnect", "deviceTelemetry");
        // Longer than a mapped block of 1024-byte stream blocks.
        let long = REC.replace(r#"\"a\""#, &format!(r#"\"{}\""#, "x".repeat(5000)));
        assert!(long.len() > 5000);
        let lines = format!("{REC}\n{bad}\r\n\n{long}\nnope\n").repeat(30);
        let texts = [
            lines.clone(),
            lines.clone() + &REC[..50],
            format!("\u{feff}{lines}{REC}"),
            long.clone(),
            "a,b\n1,2\n".to_owned(),
        ];
        for text in &texts {
            let mut file = tempfile::tempfile().unwrap();
            file.write_all(text.as_bytes()).unwrap();
            let map = crate::mapped::Mapped::new(&file, text.len() as u64).unwrap();
            for block in [1024, 1500, 4096, 1 << 20] {
                let config = IngestConfig { block_size: block, ..IngestConfig::default() };
                let size = Some(text.len() as u64);
                let streamed = read_stream(text.as_bytes(), Path::new("x"), 0, &config, size);
                let mapped = read_mapped_lines(&map, 0, &config);
                if text.starts_with("a,b") {
                    assert!(mapped.is_none());
                } else {
                    let mapped = mapped.unwrap();
                    assert!(!mapped.events.is_empty());
                    assert_eq!(Some(mapped), streamed.ok(), "block {block}");
                }
            }
        }
        let mut gz = tempfile::tempfile().unwrap();
        gz.write_all(&[0x1f, 0x8b, 8, 0]).unwrap();
        let map = crate::mapped::Mapped::new(&gz, 4).unwrap();
        assert!(read_mapped_lines(&map, 0, &IngestConfig::default()).is_none());
    }

    #[cfg(target_os = "linux")]
    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(48))]
        /// Any mix of lines (long ones, blank ones, bad ones, CRLF, a cut last line) and any
        /// block size: the mapped reader reads what the stream reader reads, and reports every
        /// byte to the progress callback once.
        #[test]
        fn mapped_and_streamed_agree(
            lines in proptest::collection::vec((0_usize..6, 0_usize..14_000, proptest::bool::ANY), 1..40),
            end in 0_usize..3,
            block in 1024_usize..3000,
            max_line in proptest::prop_oneof![proptest::strategy::Just(usize::MAX), 100_usize..16_000],
        ) {
            use std::io::Write as _;
            use std::sync::atomic::{AtomicU64, Ordering};

            let mut text = format!("{REC}\n");
            for (kind, len, crlf) in lines {
                match kind {
                    0 => text.push_str(REC),
                    1 => text.push_str(&REC.replace(r#"\"a\""#, &format!(r#"\"{}\""#, "x".repeat(len)))),
                    2 => text.push_str(&" ".repeat(len % 3)),
                    3 => text.push_str(&REC[..len % REC.len()]),
                    4 => text.push_str(&REC.replace("deviceConnect", "deviceTelemetry")),
                    _ => text.push_str("nope"),
                }
                text.push_str(if crlf { "\r\n" } else { "\n" });
            }
            match end {
                0 => {}
                1 => text.push_str(REC),
                _ => text.push_str(&REC[..30]),
            }
            let mut file = tempfile::tempfile().unwrap();
            file.write_all(text.as_bytes()).unwrap();
            let map = crate::mapped::Mapped::new(&file, text.len() as u64).unwrap();
            let seen = AtomicU64::new(0);
            let progress = |bytes: u64| {
                seen.fetch_add(bytes, Ordering::Relaxed);
            };
            let config = IngestConfig {
                block_size: block,
                progress: Some(&progress),
                max_line,
                ..IngestConfig::default()
            };
            // The first line makes it JSON Lines, so the mapped reader takes it.
            let mapped = read_mapped_lines(&map, 0, &config);
            proptest::prop_assert_eq!(seen.load(Ordering::Relaxed), text.len() as u64);
            let config = IngestConfig { block_size: block, max_line, ..IngestConfig::default() };
            let size = Some(text.len() as u64);
            let streamed = read_stream(text.as_bytes(), Path::new("x"), 0, &config, size);
            proptest::prop_assert_eq!(mapped, streamed.ok());
        }
    }

    #[test]
    fn skips_a_long_line_without_holding_it() {
        let long = format!("{{\"time\":\"{}\"}}", "x".repeat(50_000));
        let text = format!("{REC}\n{long}\n{REC}\n{long}");
        let config = IngestConfig { block_size: 1024, max_line: 4000, ..IngestConfig::default() };
        let parsed = read_stream(text.as_bytes(), Path::new("x"), 0, &config, None).unwrap();
        let got: Vec<(u64, &str)> =
            parsed.rejects.iter().map(|r| (r.line, r.reason.as_str())).collect();
        assert_eq!(got, [(2, "too_long"), (4, "too_long")]);
        assert_eq!(parsed.events.iter().map(|e| e.source_line).collect::<Vec<_>>(), [1, 3]);
        assert_eq!(parsed.rejects[0].text.len(), 200);
    }

    #[test]
    fn a_gzip_bomb_stops_at_the_bound() {
        use std::io::Write as _;

        let line = format!("{REC}\n");
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        for _ in 0..(4 << 20) / line.len() {
            gz.write_all(line.as_bytes()).unwrap();
        }
        let bomb = gz.finish().unwrap();
        let low = IngestConfig { gzip_floor: 1 << 20, ..IngestConfig::default() };
        let error = read_stream(&bomb[..], Path::new("b.gz"), 0, &low, None).unwrap_err();
        let why = why(&error);
        assert!(why.contains("gzip bomb") && why.contains("--max-gzip-ratio"), "{why}");
        // Within a larger ratio, or the default floor, it reads.
        let high = IngestConfig { max_gzip_ratio: 10_000, ..low };
        let parsed = read_stream(&bomb[..], Path::new("b.gz"), 0, &high, None).unwrap();
        assert_eq!(parsed.events.len(), (4 << 20) / line.len());
        assert!(
            read_stream(&bomb[..], Path::new("b.gz"), 0, &IngestConfig::default(), None).is_ok()
        );
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn a_mapped_file_cut_short_is_read_again_as_a_stream() {
        use std::io::Write as _;

        let text = format!("{REC}\n").repeat(20_000);
        let mut file = tempfile::tempfile().unwrap();
        file.write_all(text.as_bytes()).unwrap();
        let map = crate::mapped::Mapped::new(&file, text.len() as u64).unwrap();
        file.set_len(8192).unwrap();
        assert!(read_mapped_lines(&map, 0, &IngestConfig::default()).is_none());
    }

    #[test]
    fn streams_in_small_blocks() {
        let text = format!("{REC}\n").repeat(100) + &REC[..40];
        let config = IngestConfig { block_size: 1024, ..IngestConfig::default() };
        let parsed =
            read_stream(text.as_bytes(), Path::new("x"), 0, &config, None).unwrap_or_default();
        assert_eq!(parsed.events.len(), 100);
        assert_eq!(parsed.events.last().map(|e| e.source_line), Some(100));
        assert_eq!(
            parsed.rejects.iter().map(|r| (r.line, r.reason)).collect::<Vec<_>>(),
            vec![(101, RejectReason::Truncated)]
        );
    }
}
