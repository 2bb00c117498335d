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

use dropscope_formats::write::{self as writer, TextForm, WriteOptions};
use dropscope_model::{Cause, Event, Timestamp};
use flate2::Compression;
use flate2::write::GzEncoder;
use rayon::prelude::*;

use crate::fleet::tag;
use crate::rng::Rng;
use crate::walk::{Op, Rec};
use crate::{Error, Result, Simulation};

const HOUR_NS: i64 = 3_600_000_000_000;

/// The export form of the logs.
#[derive(Debug, Clone, Copy)]
pub enum LogForm {
    /// Storage-blob JSON Lines in the real tree:
    /// `insights-logs-connections/resourceId=/SUBSCRIPTIONS/.../y=/m=/d=/h=/m=00/PT1H.json`.
    JsonLines,
    /// Another text form, one file per hour.
    Text(TextForm),
    /// A table form (Parquet, Arrow IPC), one file per hour, written by `write`. A function
    /// rather than a polars-gated variant, so a caller with polars can ask for it whether or not
    /// this crate's `polars` feature is on; [`LogForm::parquet`] and [`LogForm::arrow`] build it.
    Table {
        /// The file extension, without the dot.
        extension: &'static str,
        /// Writes one file.
        write: TableWriter,
    },
}

impl LogForm {
    /// Whether this is an Event Grid form (either schema): it holds only connection-state
    /// changes (`DeviceConnected` on an accepted connect, `DeviceDisconnected` once per closed
    /// connection), each with its `sequenceNumber`.
    fn is_event_grid(self) -> bool {
        matches!(self, LogForm::Text(TextForm::EventGrid | TextForm::CloudEvents))
    }
}

/// Writes events to one table file.
pub type TableWriter = fn(&Path, &[Event]) -> dropscope_formats::Result<()>;

#[cfg(feature = "polars")]
impl LogForm {
    /// dropscope's Parquet events table.
    pub fn parquet() -> LogForm {
        LogForm::Table {
            extension: "parquet",
            write: dropscope_formats::frame::write_events_parquet,
        }
    }

    /// dropscope's Arrow IPC events table.
    pub fn arrow() -> LogForm {
        LogForm::Table { extension: "arrow", write: dropscope_formats::frame::write_events_ipc }
    }
}

/// How and where to write.
#[derive(Debug, Clone)]
pub struct OutputConfig {
    /// The export form.
    pub form: LogForm,
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
    /// Records the hub logged in this form (for the Event Grid forms, the connection-state
    /// changes: failed connects and the 404104 completing a 401003 close are not events there).
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
struct Fault {
    drop: bool,
    dup: bool,
    late: bool,
}

/// One hour's file: the records written, in order (`true` marks the second copy of a duplicate).
struct HourOut {
    items: Vec<(u32, bool)>,
    malformed: u64,
    file: bool,
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

        let event_grid = config.form.is_event_grid();
        let mut summary = Summary::default();
        let mut labels = Labels::new(self, config.truth, dir)?;
        let batch = rayon::current_num_threads().max(1) * 2;
        let hours: Vec<usize> = (0..n_hours).collect();
        for chunk in hours.chunks(batch) {
            let outs: Vec<Result<HourOut>> = chunk
                .par_iter()
                .map(|&h| self.write_hour(config, &opts, &logs, base, h, &bounds, &malformed))
                .collect();
            for (h, out) in chunk.iter().zip(outs) {
                let out = out?;
                summary.files += u64::from(out.file);
                summary.malformed += out.malformed;
                for &(idx, copy) in &out.items {
                    summary.written += 1;
                    if copy {
                        summary.duplicated += 1;
                    } else {
                        labels.record(self, &self.records[idx as usize])?;
                    }
                }
                labels.end_file();
                progress(*h as u64 + 1, n_hours as u64);
            }
        }
        for rec in self.records.iter().filter(|rec| !event_grid || rec.state_change) {
            summary.records += 1;
            let fault = self.fault(rec);
            summary.dropped += u64::from(fault.drop);
            summary.late += u64::from(fault.late && !fault.drop);
        }
        summary.labels = labels.finish()?;
        summary.sessions = self.sessions.len() as u64;
        if config.truth {
            self.write_truth(dir, &summary)?;
        }
        Ok(summary)
    }

    fn fault(&self, rec: &Rec) -> Fault {
        let ex = &self.scenario.export;
        if ex.drop_rate <= 0.0 && ex.duplicate_rate <= 0.0 && ex.late_rate <= 0.0 {
            return Fault { drop: false, dup: false, late: false };
        }
        let mut rng =
            Rng::new(&[self.options.seed, tag::EXPORT, u64::from(rec.device), u64::from(rec.seq)]);
        Fault {
            drop: rng.chance(ex.drop_rate),
            dup: rng.chance(ex.duplicate_rate),
            late: rng.chance(ex.late_rate),
        }
    }

    /// Where the malformed lines go: (hour, position as a fraction of the blob), by hour.
    fn malformed_plan(&self, form: LogForm, n_hours: usize) -> Vec<(usize, f64)> {
        if !matches!(form, LogForm::JsonLines) {
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

    #[allow(clippy::too_many_arguments, reason = "one hour of one write: all fixed per call")]
    fn write_hour(
        &self,
        config: &OutputConfig,
        opts: &WriteOptions,
        logs: &Path,
        base: i64,
        h: usize,
        bounds: &[usize],
        malformed: &[(usize, f64)],
    ) -> Result<HourOut> {
        let event_grid = config.form.is_event_grid();
        let mut items: Vec<(u32, bool)> = Vec::new();
        let mut push = |idx: usize, fault: Fault| {
            items.push((idx as u32, false));
            if fault.dup {
                items.push((idx as u32, true));
            }
        };
        if h > 0 {
            for idx in bounds[h - 1]..bounds[h] {
                let rec = &self.records[idx];
                if event_grid && !rec.state_change {
                    continue;
                }
                let fault = self.fault(rec);
                if fault.late && !fault.drop {
                    push(idx, fault);
                }
            }
        }
        if h + 1 < bounds.len() {
            for idx in bounds[h]..bounds[h + 1] {
                let rec = &self.records[idx];
                if event_grid && !rec.state_change {
                    continue;
                }
                let fault = self.fault(rec);
                if !fault.late && !fault.drop {
                    push(idx, fault);
                }
            }
        }
        let cuts: Vec<f64> = malformed.iter().filter(|m| m.0 == h).map(|m| m.1).collect();
        if items.is_empty() && cuts.is_empty() {
            return Ok(HourOut { items, malformed: 0, file: false });
        }
        let events: Vec<Event> = items
            .iter()
            .map(|&(idx, _)| {
                let rec = &self.records[idx as usize];
                let mut event = self.event(rec);
                if event_grid {
                    event.seq = Some(sequence_number(rec));
                }
                event
            })
            .collect();
        let hour = Timestamp(base + h as i64 * HOUR_NS);
        let (y, m, d, hh) = hour.ymdh();
        let stem = format!("{}-{y:04}-{m:02}-{d:02}T{hh:02}", self.hub);
        match config.form {
            LogForm::JsonLines => {
                let rel = writer::storage_blob_path(&self.hub, hour, opts);
                let path = logs.join("insights-logs-connections").join(rel);
                let mut buf = Vec::with_capacity(events.len() * 420);
                let mut cut_iter = cuts.iter().peekable();
                let mut line = Vec::with_capacity(512);
                for (pos, event) in events.iter().enumerate() {
                    while cut_iter.next_if(|c| **c * (events.len() as f64) <= pos as f64).is_some()
                    {
                        push_cut_line(&mut buf, event, opts);
                    }
                    line.clear();
                    writer::push_json_line(&mut line, event, opts);
                    buf.extend_from_slice(&line);
                    buf.push(b'\n');
                }
                for _ in cut_iter {
                    match events.last() {
                        Some(event) => push_cut_line(&mut buf, event, opts),
                        None => buf.extend_from_slice(b"{\"time\":\"\n"),
                    }
                }
                write_file(&path, &buf, config.gzip)?;
            }
            LogForm::Text(form) => {
                let ext = if form == TextForm::LogAnalyticsCsv { "csv" } else { "json" };
                let path = logs.join(format!("{stem}.{ext}"));
                let mut buf = Vec::with_capacity(events.len() * 500);
                writer::write_events(&mut buf, form, &events, opts)
                    .map_err(|source| Error::Write { path: path.clone(), source })?;
                write_file(&path, &buf, config.gzip)?;
            }
            LogForm::Table { extension, write } => {
                let path = logs.join(format!("{stem}.{extension}"));
                write(&path, &events)
                    .map_err(|source| Error::Table { path: path.clone(), source })?;
            }
        }
        Ok(HourOut { items, malformed: cuts.len() as u64, file: true })
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

/// A record line cut off halfway: what an interrupted download or a torn write leaves.
fn push_cut_line(buf: &mut Vec<u8>, event: &Event, opts: &WriteOptions) {
    let mut line = Vec::with_capacity(512);
    writer::push_json_line(&mut line, event, opts);
    line.truncate(line.len() / 2);
    buf.extend_from_slice(&line);
    buf.push(b'\n');
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

    fn record(&mut self, sim: &Simulation, rec: &Rec) -> Result<()> {
        let key = (rec.device, rec.time, rec.op == Op::Disconnect);
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
                    &Timestamp(rec.time).to_rfc3339(self.digits),
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

fn write_file(path: &Path, bytes: &[u8], gzip: bool) -> Result<()> {
    let err = |source| Error::Write { path: path.to_path_buf(), source };
    if let Some(parent) = path.parent() {
        create_dir(parent)?;
    }
    if gzip {
        let mut name = path.as_os_str().to_owned();
        name.push(".gz");
        let gz_path = PathBuf::from(name);
        let gz_err = |source| Error::Write { path: gz_path.clone(), source };
        let file = File::create(&gz_path).map_err(gz_err)?;
        let mut enc = GzEncoder::new(BufWriter::new(file), Compression::fast());
        enc.write_all(bytes).map_err(gz_err)?;
        enc.finish().and_then(|mut w| w.flush()).map_err(gz_err)
    } else {
        std::fs::write(path, bytes).map_err(err)
    }
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
