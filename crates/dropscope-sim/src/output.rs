//! Writing a simulation: logs in the real export layout, hour by hour, with the export faults
//! applied; and the ground truth under `truth/`.
//!
//! Hours are rendered and written in parallel batches (each hour is its own file); labels are
//! then taken in file order, since a label's `occurrence` counts the records that came before it
//! in the written input.

use std::collections::HashMap;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use dropscope_logs::Form;
use dropscope_logs::write::{self as writer, WriteOptions};
use dropscope_model::{Cause, Event, Timestamp};
use flate2::Compression;
use flate2::write::GzEncoder;
use rayon::prelude::*;

use crate::fleet::tag;
use crate::rng::Rng;
use crate::walk::{Op, Rec};
use crate::{Error, Result, Simulation};

const HOUR_NS: i64 = 3_600_000_000_000;

/// The most events in one Parquet or Arrow file: a bigger hour is split into parts.
const TABLE_PART_ROWS: usize = 1 << 20;

/// Whether this build writes `form`: an error before anything is written when it does not.
fn check_form(form: Form) -> Result<()> {
    let reason = if !form.is_written() {
        "dropscope reads this form but does not write it"
    } else if form.is_table() && !cfg!(feature = "tables") {
        "Parquet and Arrow IPC need dropscope-sim built with the `tables` feature"
    } else {
        return Ok(());
    };
    Err(Error::Form { form, reason })
}

/// Writes `events` to the table file `path` in `form` (Parquet or Arrow IPC), encoding it on
/// the calling thread: hours are written in parallel already.
#[cfg(feature = "tables")]
fn write_table(form: Form, path: &Path, events: &[Event]) -> Result<()> {
    let written = if form == Form::Parquet {
        dropscope_tables::frame::write_events_parquet(path, events)
    } else {
        dropscope_tables::frame::write_events_ipc(path, events)
    };
    written.map_err(|source| Error::Table { path: path.to_owned(), source })
}

/// Without the `tables` feature [`check_form`] refuses the table forms before anything is written.
#[cfg(not(feature = "tables"))]
fn write_table(form: Form, _path: &Path, _events: &[Event]) -> Result<()> {
    check_form(form)
}

/// How and where to write.
#[derive(Debug, Clone)]
pub struct OutputConfig {
    /// The export form: JSON Lines as storage blobs in the real tree
    /// (`insights-logs-connections/resourceId=/SUBSCRIPTIONS/.../y=/m=/d=/h=/m=00/PT1H.json`),
    /// any other form one file per hour (a big hour of Parquet or Arrow IPC in parts). The
    /// forms dropscope writes ([`Form::is_written`]); Parquet and Arrow IPC need the `tables`
    /// feature.
    pub form: Form,
    /// gzip every log file (text forms), adding `.gz`.
    pub gzip: bool,
    /// Write the ground truth under `truth/`.
    pub truth: bool,
    /// Resource names written in the records; its `frac_digits` is taken from the simulation.
    pub write: WriteOptions,
}

/// What was written, with every export fault counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Summary {
    /// Records the hub logged in this form (for the Event Grid and routed forms, the
    /// connection-state events its 60 s snapshots published: failed connects, the 404104 completing a 401003
    /// close and changes undone within a snapshot window are not events there).
    pub records: u64,
    /// Record copies written (duplicates included).
    pub written: u64,
    /// Records the export lost.
    pub dropped: u64,
    /// Records written twice.
    pub duplicated: u64,
    /// Records filed in the next hour's blob.
    pub late: u64,
    /// Malformed lines written.
    pub malformed: u64,
    /// Log files written.
    pub files: u64,
    /// Rows of truth/labels.csv (counted even when truth is not written).
    pub labels: u64,
    /// Rows of truth/sessions.csv.
    pub sessions: u64,
}

#[derive(Debug, Clone, Copy)]
#[expect(clippy::struct_excessive_bools, reason = "one flag per export fault, packed by bits()")]
struct Fault {
    drop: bool,
    dup: bool,
    /// Received in the next hour's blob.
    late: bool,
    /// Received minutes late within its own hour: later in the blob.
    delayed: bool,
    /// How late it was received, in seconds (not kept in the bits).
    latency: f64,
}

impl Fault {
    const NONE: Fault =
        Fault { drop: false, dup: false, late: false, delayed: false, latency: 0.0 };

    /// One byte a record, for [`HourWrite::faults`].
    fn bits(self) -> u8 {
        u8::from(self.drop)
            | u8::from(self.dup) << 1
            | u8::from(self.late) << 2
            | u8::from(self.delayed) << 3
    }

    fn from_bits(bits: u8) -> Fault {
        Fault {
            drop: bits & 1 != 0,
            dup: bits & 2 != 0,
            late: bits & 4 != 0,
            delayed: bits & 8 != 0,
            latency: 0.0,
        }
    }
}

/// One hour's file: the records written, in order (`true` marks the second copy of a duplicate),
/// and the faults of the records the hub logged in that hour.
struct HourOut {
    items: Vec<(u32, bool)>,
    malformed: u64,
    files: u64,
    dropped: u64,
    late: u64,
}

/// What every hour's write shares.
struct HourWrite<'a> {
    config: &'a OutputConfig,
    opts: &'a WriteOptions,
    logs: &'a Path,
    /// The first hour's start (ns).
    base: i64,
    /// `records[bounds[h]..bounds[h + 1]]` were logged in hour `h`.
    bounds: &'a [usize],
    malformed: &'a [(usize, f64)],
    /// Each record's [`Fault`] bits, drawn once: hour `h` also reads hour `h - 1`'s records
    /// (for the late ones).
    faults: &'a [u8],
    /// For the Event Grid forms: each record's published `eventTime` (ns), or
    /// [`UNPUBLISHED`] when Event Grid does not report it.
    published: &'a [i64],
    scratch: Scratch,
}

/// A record Event Grid does not report (not a state change, or lost in a 60 s snapshot).
const UNPUBLISHED: i64 = i64::MIN;

impl HourWrite<'_> {
    /// The time record `idx` is written with: its Event Grid `eventTime`, else its own time.
    fn time_of(&self, records: &[Rec], idx: usize) -> i64 {
        match self.published.get(idx) {
            Some(&t) if t != UNPUBLISHED => t,
            _ => records[idx].time,
        }
    }

    fn is_published(&self, idx: usize) -> bool {
        self.published.get(idx).is_some_and(|t| *t != UNPUBLISHED)
    }
}

/// Event buffers reused from hour to hour (one per hour in flight), so an hour's events reuse
/// memory already touched instead of faulting in fresh pages.
#[derive(Default)]
struct Scratch(Mutex<Vec<Vec<Event>>>);

impl Scratch {
    /// A buffer of the events `make` makes of `items`, reusing a returned buffer's memory.
    fn fill(&self, items: &[(u32, bool)], make: impl Fn(u32) -> Event) -> Vec<Event> {
        let mut events = self.0.lock().ok().and_then(|mut pool| pool.pop()).unwrap_or_default();
        events.clear();
        events.reserve(items.len());
        events.extend(items.iter().map(|&(idx, _)| make(idx)));
        events
    }

    fn put(&self, events: Vec<Event>) {
        if let Ok(mut pool) = self.0.lock() {
            pool.push(events);
        }
    }
}

/// A log file being written, plain or gzipped, through a buffer.
struct LogFile {
    out: Sink,
    path: PathBuf,
}

enum Sink {
    Plain(BufWriter<File>),
    /// Boxed: the encoder's state is large and files are few.
    Gzip(Box<GzEncoder<BufWriter<File>>>),
}

impl Write for Sink {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match self {
            Sink::Plain(out) => out.write(buf),
            Sink::Gzip(out) => out.write(buf),
        }
    }

    fn write_all(&mut self, buf: &[u8]) -> std::io::Result<()> {
        match self {
            Sink::Plain(out) => out.write_all(buf),
            Sink::Gzip(out) => out.write_all(buf),
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        match self {
            Sink::Plain(out) => out.flush(),
            Sink::Gzip(out) => out.flush(),
        }
    }
}

impl LogFile {
    fn create(path: &Path, gzip: bool) -> Result<LogFile> {
        if let Some(parent) = path.parent() {
            create_dir(parent)?;
        }
        let path = if gzip {
            let mut name = path.as_os_str().to_owned();
            name.push(".gz");
            PathBuf::from(name)
        } else {
            path.to_path_buf()
        };
        let file =
            File::create(&path).map_err(|source| Error::Write { path: path.clone(), source })?;
        let buf = BufWriter::with_capacity(1 << 20, file);
        let out = if gzip {
            Sink::Gzip(Box::new(GzEncoder::new(buf, Compression::fast())))
        } else {
            Sink::Plain(buf)
        };
        Ok(LogFile { out, path })
    }

    fn write(&mut self, bytes: &[u8]) -> Result<()> {
        self.out.write_all(bytes).map_err(|source| Error::Write { path: self.path.clone(), source })
    }

    /// Flushes, after writing the gzip trailer.
    fn finish(self) -> Result<()> {
        let err = |source| Error::Write { path: self.path.clone(), source };
        match self.out {
            Sink::Plain(mut out) => out.flush().map_err(err),
            Sink::Gzip(out) => out.finish().and_then(|mut out| out.flush()).map_err(err),
        }
    }
}

impl Simulation {
    /// Writes the logs under `dir/logs/` and, when asked, the truth under `dir/truth/`.
    /// `progress(done, total)` is called after each hour.
    pub fn write(
        &self,
        config: &OutputConfig,
        dir: &Path,
        progress: &(dyn Fn(u64, u64) + Sync),
    ) -> Result<Summary> {
        check_form(config.form)?;
        let opts = WriteOptions { frac_digits: self.options.frac_digits, ..config.write.clone() };
        let logs = dir.join("logs");
        create_dir(&logs)?;
        let base = self.start.nanos().div_euclid(HOUR_NS) * HOUR_NS;
        let end = self.start.nanos() + i64::from(self.scenario.window.hours) * HOUR_NS;
        // One more hour than the window holds, for late records of the last hour.
        let n_hours = ((end - base + HOUR_NS - 1) / HOUR_NS + 1) as usize;
        let bounds: Vec<usize> = (0..=n_hours)
            .map(|h| self.records.partition_point(|r| r.time < base + h as i64 * HOUR_NS))
            .collect();
        let malformed = self.malformed_plan(config.form, n_hours - 1);

        // The routed connection-state events are modelled as Event Grid's: the same
        // notifications (one `sequenceNumber` layout), so the same 60 s snapshots, an assumption
        // (docs/research/iothub-logs.md §2.3).
        let event_grid = config.form.is_state_changes();
        let mut summary = Summary::default();
        let mut labels = Labels::new(self, config.truth, dir)?;
        let faults: Vec<u8> = self.records.par_iter().map(|rec| self.fault(rec).bits()).collect();
        let published = if event_grid { self.snapshots() } else { Vec::new() };
        let hw = HourWrite {
            config,
            opts: &opts,
            logs: &logs,
            base,
            bounds: &bounds,
            malformed: &malformed,
            faults: &faults,
            published: &published,
            scratch: Scratch::default(),
        };
        let batch = rayon::current_num_threads().max(1) * 2;
        let hours: Vec<usize> = (0..n_hours).collect();
        for chunk in hours.chunks(batch) {
            let outs: Vec<Result<HourOut>> =
                chunk.par_iter().map(|&h| self.write_hour(&hw, h)).collect();
            for (h, out) in chunk.iter().zip(outs) {
                let out = out?;
                summary.files += out.files;
                summary.malformed += out.malformed;
                summary.dropped += out.dropped;
                summary.late += out.late;
                for &(idx, copy) in &out.items {
                    summary.written += 1;
                    if copy {
                        summary.duplicated += 1;
                    } else {
                        let time = hw.time_of(&self.records, idx as usize);
                        labels.record(self, &self.records[idx as usize], time)?;
                    }
                }
                labels.end_file();
                progress(*h as u64 + 1, n_hours as u64);
            }
        }
        summary.records = if event_grid {
            published.iter().filter(|t| **t != UNPUBLISHED).count() as u64
        } else {
            self.records.len() as u64
        };
        summary.labels = labels.finish()?;
        summary.sessions = self.sessions.len() as u64;
        if config.truth {
            self.write_truth(dir, &summary)?;
        }
        Ok(summary)
    }

    /// A record's export faults (monitor-iot-hub.md: resource-log events "aren't guaranteed to be
    /// reliable or ordered. Some events might be lost or delivered out of order ... it may take
    /// several minutes for events to be logged"; docs/research/sdk-behaviour.md §11). Lost
    /// batches and bursts are keyed by the minute, so they hit every record of that minute;
    /// their sizes are modelling parameters.
    fn fault(&self, rec: &Rec) -> Fault {
        let ex = &self.scenario.export;
        if ex.drop_rate <= 0.0
            && ex.duplicate_rate <= 0.0
            && ex.late_rate <= 0.0
            && ex.lost_batches_per_day <= 0.0
        {
            return Fault::NONE;
        }
        let seed = self.options.seed;
        let minute = rec.time.div_euclid(60_000_000_000) as u64;
        let lost = ex.lost_batches_per_day > 0.0
            && Rng::new(&[seed, tag::EXPORT, minute, 2]).chance(ex.lost_batches_per_day / 1440.0);
        let scale = if ex.burst_minutes_per_day > 0.0 {
            let burst =
                Rng::new(&[seed, tag::EXPORT, minute, 1]).chance(ex.burst_minutes_per_day / 1440.0);
            if burst { 1440.0 / ex.burst_minutes_per_day } else { 0.0 }
        } else {
            1.0
        };
        let mut rng = Rng::new(&[seed, tag::EXPORT, u64::from(rec.device), u64::from(rec.seq)]);
        let drop = rng.chance(ex.drop_rate * scale) || lost;
        let dup = rng.chance(ex.duplicate_rate * scale);
        let slow = rng.chance(ex.late_rate * scale);
        let latency = if slow { rng.log_uniform(60.0, 900.0) } else { 0.0 };
        let crosses = slow && rec.time.rem_euclid(HOUR_NS) + (latency * 1e9) as i64 >= HOUR_NS;
        Fault { drop, dup, late: crosses, delayed: slow && !crosses, latency }
    }

    /// Puts the records received minutes late where they were received (later in the blob),
    /// and each duplicate copy a few to a few hundred records after its original, not next to
    /// it: overlapping exports re-deliver a batch later (docs/research/sdk-behaviour.md §11;
    /// the distances are modelling choices).
    fn disorder(
        &self,
        hw: &HourWrite<'_>,
        h: usize,
        items: &mut Vec<(u32, bool)>,
        mut delayed: Vec<(i64, u32)>,
    ) {
        if !delayed.is_empty() {
            delayed.sort_unstable();
            let mut merged = Vec::with_capacity(items.len() + delayed.len());
            let mut late = delayed.into_iter().peekable();
            for &item in items.iter() {
                let time = self.records[item.0 as usize].time;
                while let Some((_, idx)) = late.next_if(|d| d.0 < time) {
                    merged.push((idx, false));
                }
                merged.push(item);
            }
            merged.extend(late.map(|(_, idx)| (idx, false)));
            *items = merged;
        }
        let n = items.len();
        let mut rng = Rng::new(&[self.options.seed, tag::EXPORT, h as u64, 3]);
        let mut copies: Vec<(usize, u32)> = items
            .iter()
            .enumerate()
            .filter(|(_, item)| Fault::from_bits(hw.faults[item.0 as usize]).dup)
            .map(|(pos, item)| ((pos + 2 + rng.below(300) as usize).min(n), item.0))
            .collect();
        if copies.is_empty() {
            return;
        }
        copies.sort_by_key(|c| c.0);
        let mut with = Vec::with_capacity(n + copies.len());
        let mut copies = copies.into_iter().peekable();
        for (pos, &item) in items.iter().enumerate() {
            while let Some((_, idx)) = copies.next_if(|c| c.0 == pos) {
                with.push((idx, true));
            }
            with.push(item);
        }
        with.extend(copies.map(|(_, idx)| (idx, true)));
        *items = with;
    }

    /// Event Grid's view of the connection states: "IoT Hub does not report each individual
    /// device connect and disconnect, but rather publishes the current connection state taken at
    /// a periodic 60 second snapshot" (iot-hub-event-grid.md); "state change reports may be
    /// delayed up to one minute and individual state changes may be unreported if multiple
    /// events happen within the 60-second window" (monitor-device-connection-state.md;
    /// docs/research/sdk-behaviour.md §8). Each device is polled every 60 s from a phase of its
    /// own; at each poll, its latest state change since the last poll is published, at the
    /// poll's time, if the state differs from the last one published. A window whose changes
    /// end in the published state publishes it again half the time ("the same connection state
    /// event with different sequence numbers"; the two docs differ, so it is randomised).
    /// Returns each record's `eventTime`, or [`UNPUBLISHED`].
    fn snapshots(&self) -> Vec<i64> {
        const POLL_NS: i64 = 60_000_000_000;
        /// A device's snapshot state: the state last published, and the window in progress
        /// (its latest change, its poll time, how many changes).
        #[derive(Clone, Copy)]
        struct Window {
            published: bool,
            latest: usize,
            poll: i64,
            changes: u32,
        }
        let seed = self.options.seed;
        let mut out = vec![UNPUBLISHED; self.records.len()];
        let mut windows = vec![
            Window { published: true, latest: usize::MAX, poll: 0, changes: 0 };
            self.devices.len()
        ];
        let close = |w: &mut Window, device: u32, out: &mut [i64]| {
            if w.latest == usize::MAX {
                return;
            }
            let connected = self.records[w.latest].op == Op::Connect;
            let again = w.changes > 1
                && Rng::new(&[seed, tag::EXPORT, u64::from(device), w.poll as u64, 5]).chance(0.5);
            if connected != w.published || again {
                out[w.latest] = w.poll;
                w.published = connected;
            }
            w.latest = usize::MAX;
            w.changes = 0;
        };
        for (idx, rec) in self.records.iter().enumerate() {
            if !rec.state_change {
                continue;
            }
            let phase = Rng::new(&[seed, tag::EXPORT, u64::from(rec.device), 6]).below(60) as i64
                * 1_000_000_000;
            let poll = phase + (rec.time - phase).div_euclid(POLL_NS) * POLL_NS + POLL_NS;
            let w = &mut windows[rec.device as usize];
            if w.latest != usize::MAX && w.poll != poll {
                close(w, rec.device, &mut out);
            }
            w.latest = idx;
            w.poll = poll;
            w.changes += 1;
        }
        for (device, w) in windows.iter_mut().enumerate() {
            close(w, device as u32, &mut out);
        }
        out
    }

    /// Where the malformed lines go: (hour, position as a fraction of the blob), by hour.
    fn malformed_plan(&self, form: Form, n_hours: usize) -> Vec<(usize, f64)> {
        if form != Form::JsonLines {
            return Vec::new();
        }
        let mut plan: Vec<(usize, f64)> = (0..self.scenario.export.malformed_lines)
            .map(|k| {
                let mut rng = Rng::new(&[self.options.seed, tag::MALFORMED, u64::from(k)]);
                (rng.below(n_hours as u64) as usize, rng.unit())
            })
            .collect();
        plan.sort_by(|a, b| a.0.cmp(&b.0).then(a.1.total_cmp(&b.1)));
        plan
    }

    fn write_hour(&self, hw: &HourWrite<'_>, h: usize) -> Result<HourOut> {
        let (config, opts, bounds) = (hw.config, hw.opts, hw.bounds);
        let event_grid = config.form.is_state_changes();
        let mut out = HourOut { items: Vec::new(), malformed: 0, files: 0, dropped: 0, late: 0 };
        // Duplicates are placed later, after the whole order is known: not next to their twin.
        let push = |items: &mut Vec<(u32, bool)>, idx: usize, _: Fault| {
            items.push((idx as u32, false));
        };
        let mut delayed: Vec<(i64, u32)> = Vec::new();
        if h > 0 {
            for idx in bounds[h - 1]..bounds[h] {
                if event_grid && !hw.is_published(idx) {
                    continue;
                }
                let fault = Fault::from_bits(hw.faults[idx]);
                if fault.late && !fault.drop {
                    push(&mut out.items, idx, fault);
                }
            }
        }
        if h + 1 < bounds.len() {
            for idx in bounds[h]..bounds[h + 1] {
                let rec = &self.records[idx];
                if event_grid && !hw.is_published(idx) {
                    continue;
                }
                let fault = Fault::from_bits(hw.faults[idx]);
                out.dropped += u64::from(fault.drop);
                out.late += u64::from(fault.late && !fault.drop);
                if fault.delayed && !fault.drop {
                    let latency = self.fault(rec).latency;
                    delayed.push((rec.time + (latency * 1e9) as i64, idx as u32));
                } else if !fault.late && !fault.drop {
                    push(&mut out.items, idx, fault);
                }
            }
        }
        self.disorder(hw, h, &mut out.items, delayed);
        if config.form.is_event_grid() {
            // Routing writes the messages of a partition in their order.
            shuffle_batches(&mut out.items, self.options.seed, h);
        }
        let cuts: Vec<f64> = hw.malformed.iter().filter(|m| m.0 == h).map(|m| m.1).collect();
        out.malformed = cuts.len() as u64;
        if out.items.is_empty() && cuts.is_empty() {
            return Ok(out);
        }
        out.files = 1;
        let hour = Timestamp(hw.base + h as i64 * HOUR_NS);
        let (year, month, day, hh) = hour.ymdh();
        let stem = format!("{}-{year:04}-{month:02}-{day:02}T{hh:02}", self.hub);
        let make = |idx: u32| {
            let rec = &self.records[idx as usize];
            let mut event = self.event(rec);
            if event_grid {
                event.seq = Some(sequence_number(rec).into());
                event.time = Timestamp(hw.time_of(&self.records, idx as usize));
            }
            event
        };
        match config.form {
            Form::JsonLines => {
                // Streamed record by record through one reused event: no hour held in memory.
                let rel = writer::storage_blob_path(&self.hub, hour, opts);
                let path = hw.logs.join("insights-logs-connections").join(rel);
                let mut file = LogFile::create(&path, config.gzip)?;
                let n = out.items.len();
                let mut cut_iter = cuts.iter().peekable();
                let mut line = Vec::with_capacity(1024);
                let mut event =
                    Event::new(Timestamp(0), "", "", dropscope_model::Operation::Connect);
                for (pos, &(idx, _)) in out.items.iter().enumerate() {
                    event = make(idx);
                    while cut_iter.next_if(|c| **c * (n as f64) <= pos as f64).is_some() {
                        push_cut_line(&mut line, &event, opts);
                        file.write(&line)?;
                    }
                    line.clear();
                    writer::push_json_line(&mut line, &event, opts);
                    line.push(b'\n');
                    file.write(&line)?;
                }
                for _ in cut_iter {
                    if n == 0 {
                        file.write(b"{\"time\":\"\n")?;
                    } else {
                        push_cut_line(&mut line, &event, opts);
                        file.write(&line)?;
                    }
                }
                file.finish()?;
            }
            form if form.is_table() => {
                // A big hour goes in parts (`-p00`, `-p01` ...: path order is record order), so
                // memory holds at most `TABLE_PART_ROWS` events per hour in flight.
                let n_parts = out.items.len().div_ceil(TABLE_PART_ROWS);
                out.files = n_parts as u64;
                for (k, part) in out.items.chunks(TABLE_PART_ROWS).enumerate() {
                    let name = if n_parts > 1 {
                        format!("{stem}-p{k:02}.{}", form.extension())
                    } else {
                        format!("{stem}.{}", form.extension())
                    };
                    let path = hw.logs.join(name);
                    let events = hw.scratch.fill(part, make);
                    let written = write_table(form, &path, &events[..part.len()]);
                    hw.scratch.put(events);
                    written?;
                }
            }
            form => {
                let path = hw.logs.join(format!("{stem}.{}", form.extension()));
                let events = hw.scratch.fill(&out.items, make);
                let mut file = LogFile::create(&path, config.gzip)?;
                let written =
                    writer::write_events(&mut file.out, form, &events[..out.items.len()], opts)
                        .map_err(|source| Error::Write { path: path.clone(), source });
                hw.scratch.put(events);
                written?;
                file.finish()?;
            }
        }
        Ok(out)
    }

    fn write_truth(&self, dir: &Path, summary: &Summary) -> Result<()> {
        let truth = dir.join("truth");
        create_dir(&truth)?;
        let digits = self.options.frac_digits;
        let fmt = |t: Option<Timestamp>| t.map(|t| t.to_rfc3339(digits)).unwrap_or_default();

        let path = truth.join("sessions.csv");
        let mut out = csv_writer(&path)?;
        write_row(&mut out, &path, &["device_id", "connect_time", "disconnect_time"])?;
        for s in &self.sessions {
            let id = &self.devices[s.device as usize].id;
            write_row(&mut out, &path, &[id, &fmt(s.connect), &fmt(s.disconnect)])?;
        }
        flush(out, &path)?;

        let path = truth.join("incidents.csv");
        let mut out = csv_writer(&path)?;
        write_row(&mut out, &path, &["start", "end", "kind", "affected_devices"])?;
        for i in &self.incidents {
            let devices = i.devices.to_string();
            write_row(
                &mut out,
                &path,
                &[&fmt(Some(i.start)), &fmt(Some(i.end)), i.kind.as_str(), &devices],
            )?;
        }
        flush(out, &path)?;

        let path = truth.join("export.csv");
        let mut out = csv_writer(&path)?;
        write_row(&mut out, &path, &["fault", "count"])?;
        for (name, count) in [
            ("records", summary.records),
            ("written", summary.written),
            ("dropped", summary.dropped),
            ("duplicated", summary.duplicated),
            ("late", summary.late),
            ("malformed", summary.malformed),
        ] {
            write_row(&mut out, &path, &[name, &count.to_string()])?;
        }
        flush(out, &path)
    }
}

/// Event Grid's `sequenceNumber` for a connection-state change: 64 upper-case hex digits, laid
/// out as in Microsoft's samples (`0000000000000000 01D4132452F67CE2 00000002
/// 000000000000000000000001`): 16 zeros, the change's time as a Windows FILETIME (100 ns ticks
/// since 1601; in the samples it precedes `eventTime` by the snapshot delay), `00000002`, and a
/// counter, here the record's index in the device's log plus one. Time and index both grow
/// with each of the device's records, so the string is strictly increasing per device, and
/// string order is numeric order. The meaning of the fields is inferred, not documented.
pub(crate) fn sequence_number(rec: &Rec) -> String {
    /// 100 ns ticks from 1601-01-01 to 1970-01-01.
    const FILETIME_UNIX_EPOCH: i64 = 116_444_736_000_000_000;
    let ticks = rec.time.div_euclid(100) + FILETIME_UNIX_EPOCH;
    format!("0000000000000000{ticks:016X}00000002{:024X}", u64::from(rec.seq) + 1)
}

/// Event Grid delivers batches whose events are not in time order ("Messages can arrive out of
/// order or after a delay", iot-hub-event-grid.md): the events of an hour are shuffled in
/// batches of 64 (the batch size is a modelling choice).
fn shuffle_batches(items: &mut [(u32, bool)], seed: u64, hour: usize) {
    let mut rng = Rng::new(&[seed, tag::EXPORT, hour as u64, 4]);
    for batch in items.chunks_mut(64) {
        for i in (1..batch.len()).rev() {
            let j = rng.below(i as u64 + 1) as usize;
            batch.swap(i, j);
        }
    }
}

/// A record line cut off halfway: what an interrupted download or a torn write leaves.
fn push_cut_line(line: &mut Vec<u8>, event: &Event, opts: &WriteOptions) {
    line.clear();
    writer::push_json_line(line, event, opts);
    line.truncate(line.len() / 2);
    line.push(b'\n');
}

/// Label rows in file order, with `occurrence` counted over the distinct records before them.
struct Labels {
    out: Option<(csv::Writer<BufWriter<File>>, PathBuf)>,
    prev: HashMap<(u32, i64, bool), u32>,
    cur: HashMap<(u32, i64, bool), u32>,
    n: u64,
    digits: u32,
}

impl Labels {
    fn new(sim: &Simulation, truth: bool, dir: &Path) -> Result<Labels> {
        let out = if truth {
            let truth = dir.join("truth");
            create_dir(&truth)?;
            let path = truth.join("labels.csv");
            let mut out = csv_writer(&path)?;
            write_row(&mut out, &path, &["device_id", "time", "operation", "occurrence", "cause"])?;
            Some((out, path))
        } else {
            None
        };
        Ok(Labels {
            out,
            prev: HashMap::new(),
            cur: HashMap::new(),
            n: 0,
            digits: sim.options.frac_digits,
        })
    }

    /// Labels `rec`, written with `time` (its Event Grid `eventTime`, else its own).
    fn record(&mut self, sim: &Simulation, rec: &Rec, time: i64) -> Result<()> {
        if self.out.is_none() {
            // Only the count is asked for: no occurrence to track.
            self.n += u64::from(rec.op != Op::Connect);
            return Ok(());
        }
        let key = (rec.device, time, rec.op == Op::Disconnect);
        // A record's same-key siblings are in this file or, when late, in the previous one.
        let before = self.prev.get(&key).copied().unwrap_or(0);
        let count = self.cur.entry(key).or_insert(0);
        let occurrence = before + *count;
        *count += 1;
        if rec.op == Op::Connect {
            return Ok(());
        }
        self.n += 1;
        if let Some((out, path)) = &mut self.out {
            let operation = if rec.op == Op::Disconnect { "disconnect" } else { "connect" };
            let cause: Cause = rec.cause;
            write_row(
                out,
                path,
                &[
                    &sim.devices[rec.device as usize].id,
                    &Timestamp(time).to_rfc3339(self.digits),
                    operation,
                    &occurrence.to_string(),
                    cause.as_str(),
                ],
            )?;
        }
        Ok(())
    }

    fn end_file(&mut self) {
        // A record's same-key siblings are in its own hour's file or, when late, the next one.
        self.prev = std::mem::take(&mut self.cur);
    }

    fn finish(self) -> Result<u64> {
        if let Some((out, path)) = self.out {
            flush(out, &path)?;
        }
        Ok(self.n)
    }
}

fn create_dir(path: &Path) -> Result<()> {
    std::fs::create_dir_all(path)
        .map_err(|source| Error::Write { path: path.to_path_buf(), source })
}

fn csv_writer(path: &Path) -> Result<csv::Writer<BufWriter<File>>> {
    let file =
        File::create(path).map_err(|source| Error::Write { path: path.to_path_buf(), source })?;
    Ok(csv::WriterBuilder::new().from_writer(BufWriter::new(file)))
}

fn write_row(out: &mut csv::Writer<BufWriter<File>>, path: &Path, row: &[&str]) -> Result<()> {
    out.write_record(row)
        .map_err(|err| Error::Write { path: path.to_path_buf(), source: err.into() })
}

fn flush(out: csv::Writer<BufWriter<File>>, path: &Path) -> Result<()> {
    let err = |source| Error::Write { path: path.to_path_buf(), source };
    let mut inner = out.into_inner().map_err(|e| err(e.into_error()))?;
    inner.flush().map_err(err)
}
