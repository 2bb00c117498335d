//! `labels.csv` and `predictions.csv`: the ground-truth and prediction files of docs/DESIGN.md.
//!
//! Both have the header `device_id,time,operation,occurrence,cause`; predictions add `confidence`.
//! Columns are found by name, so their order does not matter and extra columns are ignored.
//! `time` is kept as an instant ([`Timestamp`]): `...05Z`, `...05.0000000Z` and `...05+00:00`
//! are the same label.

use std::borrow::Borrow;
use std::io::{Read, Write};
use std::path::Path;

use dropscope_model::{Cause, Label, Operation, Timestamp};

use crate::{Error, Result};

/// The columns of `labels.csv`, in the order they are written.
pub const LABEL_COLUMNS: [&str; 5] = ["device_id", "time", "operation", "occurrence", "cause"];

/// Reads a labels or predictions file.
pub fn read_labels(path: &Path) -> Result<Vec<Label>> {
    let file = std::fs::File::open(path)
        .map_err(|source| Error::Read { path: path.to_path_buf(), source })?;
    parse_labels(std::io::BufReader::new(file), path)
}

/// Parses labels or predictions from `reader`; `path` only names the input in errors.
pub fn parse_labels<R: Read>(reader: R, path: &Path) -> Result<Vec<Label>> {
    let labels_error =
        |line: u64, reason: String| Error::Labels { path: path.to_path_buf(), line, reason };
    let mut csv_reader =
        csv::ReaderBuilder::new().flexible(true).trim(csv::Trim::All).from_reader(reader);
    let header = csv_reader.headers().map_err(|err| labels_error(1, err.to_string()))?.clone();
    let column = |name: &str| header.iter().position(|h| h.trim_start_matches('\u{feff}') == name);
    let mut idx = [0_usize; 5];
    for (slot, name) in idx.iter_mut().zip(LABEL_COLUMNS) {
        *slot = column(name).ok_or_else(|| {
            labels_error(
                1,
                format!("missing column `{name}` (expected {})", LABEL_COLUMNS.join(",")),
            )
        })?;
    }
    let confidence_idx = column("confidence");
    let mut labels = Vec::new();
    for record in csv_reader.records() {
        let record = record.map_err(|err| {
            let line = err.position().map_or(0, csv::Position::line);
            labels_error(line, err.to_string())
        })?;
        let line = record.position().map_or(0, csv::Position::line);
        if record.iter().all(str::is_empty) {
            continue;
        }
        let field = |i: usize| record.get(i).unwrap_or("");
        let [device_idx, time_idx, operation_idx, occurrence_idx, cause_idx] = idx;
        let device_id = field(device_idx);
        if device_id.is_empty() {
            return Err(labels_error(line, "empty device_id".to_owned()));
        }
        let time = Timestamp::parse_rfc3339(field(time_idx))
            .map_err(|err| labels_error(line, format!("time `{}`: {err}", field(time_idx))))?;
        let operation = match field(operation_idx) {
            "connect" => Operation::Connect,
            "disconnect" => Operation::Disconnect,
            other => {
                return Err(labels_error(
                    line,
                    format!("operation `{other}` is neither `connect` nor `disconnect`"),
                ));
            }
        };
        let occurrence = field(occurrence_idx).parse::<u32>().map_err(|_| {
            labels_error(line, format!("occurrence `{}` is not a count", field(occurrence_idx)))
        })?;
        let cause_text = field(cause_idx);
        let cause = Cause::parse(&cause_text.to_ascii_lowercase())
            .ok_or_else(|| labels_error(line, format!("unknown cause `{cause_text}`")))?;
        let confidence = match confidence_idx.map(field) {
            None | Some("") => None,
            Some(text) => match text.parse::<f64>() {
                Ok(value) if (0.0..=1.0).contains(&value) => Some(value),
                _ => {
                    return Err(labels_error(
                        line,
                        format!("confidence `{text}` is not in [0, 1]"),
                    ));
                }
            },
        };
        labels.push(Label {
            device_id: device_id.to_owned(),
            time,
            operation,
            occurrence,
            cause,
            confidence,
        });
    }
    Ok(labels)
}

/// Writes `labels.csv` (no confidence column); `path` only names the output in errors.
pub fn write_labels<W: Write>(out: W, path: &Path, labels: &[Label]) -> Result<()> {
    write_rows(out, path, labels, false)
}

/// Writes `predictions.csv`: the labels columns plus `confidence` (empty when unknown). The rows
/// may be made as they are written (an iterator), so millions of them need not be held at once.
pub fn write_predictions<W: Write, L: Borrow<Label>>(
    out: W,
    path: &Path,
    labels: impl IntoIterator<Item = L>,
) -> Result<()> {
    write_rows(out, path, labels, true)
}

/// One row of `labels.csv` or `predictions.csv`, borrowing its device id: what
/// [`write_predictions_indexed`] makes from the events without a `String` a row.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LabelRow<'a> {
    /// The device identity.
    pub device_id: &'a str,
    /// The record's time.
    pub time: Timestamp,
    /// Connect (a failed connect) or disconnect.
    pub operation: Operation,
    /// The 0-based index among the distinct records with the same `(device_id, time, operation)`.
    pub occurrence: u32,
    /// The cause.
    pub cause: Cause,
    /// How sure the classifier is, in `[0, 1]`.
    pub confidence: Option<f64>,
}

impl<'a> From<&'a Label> for LabelRow<'a> {
    fn from(label: &'a Label) -> LabelRow<'a> {
        LabelRow {
            device_id: &label.device_id,
            time: label.time,
            operation: label.operation,
            occurrence: label.occurrence,
            cause: label.cause,
            confidence: label.confidence,
        }
    }
}

/// Rows formatted by one task of [`write_predictions_indexed`].
const ROWS_PER_TASK: usize = 1 << 15;

/// Rows formatted before they are written: bounds the memory to a few tens of MB however many
/// rows there are (about 70 bytes a row, [`BYTES_PER_ROW`]).
const ROWS_PER_WAVE: usize = 1 << 20;

/// Room for one row of predictions.csv: a row of a simulated fleet is about 70 bytes; longer
/// rows grow their task's buffer.
const BYTES_PER_ROW: usize = 80;

/// [`write_predictions`] of the rows `row(0)`, `row(1)`, ... `row(n - 1)` (`None` skips an
/// index), formatted in parallel on the current rayon pool and written in order: the same bytes
/// as the serial writer at any thread count. Formatting is most of the work of writing millions
/// of rows, and the rows are made as they are formatted, about a million at a time.
pub fn write_predictions_indexed<'a, W: Write + Send>(
    mut out: W,
    path: &Path,
    n: usize,
    row: impl Fn(usize) -> Option<LabelRow<'a>> + Sync,
) -> Result<()> {
    use rayon::prelude::*;
    let write_error = |source: std::io::Error| Error::Write { path: path.to_path_buf(), source };
    let csv_error = |err: csv::Error| write_error(err.into());
    let mut header = csv::Writer::from_writer(Vec::new());
    header.write_record(LABEL_COLUMNS.iter().chain(&["confidence"])).map_err(csv_error)?;
    out.write_all(&header.into_inner().map_err(|err| write_error(err.into_error()))?)
        .map_err(write_error)?;
    // Each task formats into a buffer of a wave before last: a fresh buffer a task, grown as it
    // filled, was the 400 MB of a 10 M-record run's predictions faulted in and copied again.
    let format = |wave: usize, mut spare: Vec<String>| -> Vec<String> {
        let starts: Vec<usize> =
            (wave..n.min(wave + ROWS_PER_WAVE)).step_by(ROWS_PER_TASK).collect();
        spare.resize_with(starts.len(), String::new);
        starts
            .into_par_iter()
            .zip(spare)
            .map(|(start, mut text)| {
                let rows = start..n.min(start + ROWS_PER_TASK);
                text.clear();
                text.reserve(BYTES_PER_ROW * rows.len());
                let mut last = LastTexts::default();
                for label in rows.filter_map(&row) {
                    push_prediction(&mut text, &label, &mut last);
                }
                text
            })
            .collect()
    };
    let write = |out: &mut W, chunks: Vec<String>| -> Result<Vec<String>> {
        chunks.iter().try_for_each(|chunk| out.write_all(chunk.as_bytes())).map_err(write_error)?;
        Ok(chunks)
    };
    // Each wave is written while the next is formatted.
    let mut formatted = format(0, Vec::new());
    let mut spare = Vec::new();
    for wave in (ROWS_PER_WAVE..n).step_by(ROWS_PER_WAVE) {
        let (written, next) = rayon::join(|| write(&mut out, formatted), || format(wave, spare));
        spare = written?;
        formatted = next;
    }
    write(&mut out, formatted)?;
    out.flush().map_err(write_error)
}

/// The time and confidence of the last row formatted, with their texts: rows in input order
/// mostly repeat both (most of a day's records share their second with the next, and most
/// confidences are one of a few values), and formatting them was most of the work of a row.
#[derive(Default)]
struct LastTexts {
    time: Option<(Timestamp, String)>,
    confidence: Option<(u64, String)>,
}

/// Appends one predictions.csv row, as the `csv` crate's default writer writes it (the serial
/// writers use that crate; a test holds the two to the same bytes): only the device id can hold
/// a delimiter, a quote or a line break, and is then quoted, its quotes doubled.
fn push_prediction(out: &mut String, label: &LabelRow<'_>, last: &mut LastTexts) {
    use std::fmt::Write as _;
    let id = label.device_id;
    if id.contains([',', '"', '\n', '\r']) {
        out.push('"');
        for part in id.split_inclusive('"') {
            out.push_str(part);
            if part.ends_with('"') {
                out.push('"');
            }
        }
        out.push('"');
    } else {
        out.push_str(id);
    }
    out.push(',');
    match &last.time {
        Some((time, text)) if *time == label.time => out.push_str(text),
        _ => {
            let mut text = String::new();
            label.time.write_rfc3339_exact(&mut text);
            out.push_str(&text);
            last.time = Some((label.time, text));
        }
    }
    out.push(',');
    out.push_str(label.operation.as_str());
    out.push(',');
    if label.occurrence == 0 {
        out.push('0');
    } else {
        // Writing to a String cannot fail.
        let _ = write!(out, "{}", label.occurrence);
    }
    out.push(',');
    out.push_str(label.cause.as_str());
    out.push(',');
    if let Some(value) = label.confidence {
        let bits = value.to_bits();
        match &last.confidence {
            Some((seen, text)) if *seen == bits => out.push_str(text),
            _ => {
                let text = format!("{:.3}", value.clamp(0.0, 1.0));
                out.push_str(&text);
                last.confidence = Some((bits, text));
            }
        }
    }
    out.push('\n');
}

fn write_rows<W: Write, L: Borrow<Label>>(
    out: W,
    path: &Path,
    labels: impl IntoIterator<Item = L>,
    with_confidence: bool,
) -> Result<()> {
    let write_error = |source: std::io::Error| Error::Write { path: path.to_path_buf(), source };
    let mut writer = csv::Writer::from_writer(out);
    let mut header: Vec<&str> = LABEL_COLUMNS.to_vec();
    if with_confidence {
        header.push("confidence");
    }
    writer.write_record(&header).map_err(|err| write_error(err.into()))?;
    let mut scratch = Scratch::default();
    for label in labels {
        let label = LabelRow::from(label.borrow());
        write_row(&mut writer, &label, with_confidence, &mut scratch)
            .map_err(|err| write_error(err.into()))?;
    }
    writer.flush().map_err(write_error)
}

/// The text fields of a row, reused from row to row.
#[derive(Default)]
struct Scratch {
    occurrence: String,
    time: String,
    confidence: String,
}

fn write_row<W: Write>(
    writer: &mut csv::Writer<W>,
    label: &LabelRow<'_>,
    with_confidence: bool,
    scratch: &mut Scratch,
) -> csv::Result<()> {
    use std::fmt::Write as _;
    let Scratch { occurrence, time, confidence } = scratch;
    occurrence.clear();
    // Writing to a String cannot fail.
    let _ = write!(occurrence, "{}", label.occurrence);
    time.clear();
    label.time.write_rfc3339_exact(time);
    let fields = [
        label.device_id,
        time.as_str(),
        label.operation.as_str(),
        occurrence.as_str(),
        label.cause.as_str(),
    ];
    if !with_confidence {
        return writer.write_record(fields);
    }
    confidence.clear();
    if let Some(value) = label.confidence {
        let _ = write!(confidence, "{:.3}", value.clamp(0.0, 1.0));
    }
    writer.write_record(fields.iter().copied().chain([confidence.as_str()]))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A label as (device, time, operation, occurrence, cause, confidence).
    type Row<'a> = (&'a str, &'a str, &'a str, u32, &'a str, Option<f64>);

    fn check(input: &str, expected: std::result::Result<Vec<Row<'_>>, &str>) {
        let got = parse_labels(input.as_bytes(), Path::new("labels.csv"));
        match (got, expected) {
            (Ok(labels), Ok(rows)) => {
                let rows: Vec<Label> = rows
                    .into_iter()
                    .map(|(device, time, operation, occurrence, cause, confidence)| Label {
                        device_id: device.to_owned(),
                        time: Timestamp::parse_rfc3339(time).unwrap(),
                        operation: Operation::parse(operation).unwrap(),
                        occurrence,
                        cause: Cause::parse(cause).unwrap(),
                        confidence,
                    })
                    .collect();
                assert_eq!(labels, rows, "{input}");
            }
            (Err(err), Err(message)) => assert_eq!(err.to_string(), message, "{input}"),
            (got, expected) => panic!("{input}: got {got:?}, expected {expected:?}"),
        }
    }

    #[test]
    fn reads_labels_and_predictions() {
        check(
            "device_id,time,operation,occurrence,cause\n\
             sensor-000042,2026-11-26T13:00:05.1234567Z,disconnect,0,token_expiry\n\
             sensor-000042,2026-11-26T13:00:05+00:00,connect,1,auth_failure\n",
            Ok(vec![
                (
                    "sensor-000042",
                    "2026-11-26T13:00:05.1234567Z",
                    "disconnect",
                    0,
                    "token_expiry",
                    None,
                ),
                ("sensor-000042", "2026-11-26T13:00:05Z", "connect", 1, "auth_failure", None),
            ]),
        );
        check(
            "cause,confidence,device_id,operation,occurrence,time\n\
             network_outage,0.75,d1,disconnect,2,2026-11-26T13:00:05Z\n\
             \n\
             unknown,,d2,disconnect,0,2026-11-26T13:00:06Z\n",
            Ok(vec![
                ("d1", "2026-11-26T13:00:05Z", "disconnect", 2, "network_outage", Some(0.75)),
                ("d2", "2026-11-26T13:00:06Z", "disconnect", 0, "unknown", None),
            ]),
        );
        check("device_id,time,operation,occurrence,cause\n", Ok(vec![]));
    }

    #[test]
    fn bad_rows_name_their_line() {
        check(
            "device_id,time,operation,cause\n",
            Err(
                "labels.csv:1: missing column `occurrence` (expected device_id,time,operation,occurrence,cause)",
            ),
        );
        check(
            "device_id,time,operation,occurrence,cause\nd1,yesterday,disconnect,0,unknown\n",
            Err(
                "labels.csv:2: time `yesterday`: not an RFC 3339 timestamp (YYYY-MM-DDTHH:MM:SS[.f][Z|±HH:MM])",
            ),
        );
        check(
            "device_id,time,operation,occurrence,cause\nd1,2026-11-26T13:00:05Z,disconnect,0,gremlins\n",
            Err("labels.csv:2: unknown cause `gremlins`"),
        );
        check(
            "device_id,time,operation,occurrence,cause\nd1,2026-11-26T13:00:05Z,drop,0,unknown\n",
            Err("labels.csv:2: operation `drop` is neither `connect` nor `disconnect`"),
        );
        check(
            "device_id,time,operation,occurrence,cause\nd1,2026-11-26T13:00:05Z,connect,-1,unknown\n",
            Err("labels.csv:2: occurrence `-1` is not a count"),
        );
        check(
            "device_id,time,operation,occurrence,cause,confidence\nd1,2026-11-26T13:00:05Z,connect,0,unknown,1.5\n",
            Err("labels.csv:2: confidence `1.5` is not in [0, 1]"),
        );
    }

    #[test]
    fn writes_what_it_reads() {
        let labels = vec![
            Label {
                device_id: "d,1".to_owned(),
                time: Timestamp::parse_rfc3339("2026-11-26T13:00:05.5Z").unwrap(),
                operation: Operation::Disconnect,
                occurrence: 0,
                cause: Cause::ServiceUpgrade,
                confidence: Some(0.9),
            },
            Label {
                device_id: "d2".to_owned(),
                time: Timestamp::parse_rfc3339("2026-11-26T13:00:05Z").unwrap(),
                operation: Operation::Connect,
                occurrence: 3,
                cause: Cause::Throttling,
                confidence: None,
            },
        ];
        let mut out = Vec::new();
        write_predictions(&mut out, Path::new("p.csv"), &labels).unwrap();
        assert_eq!(
            String::from_utf8(out.clone()).unwrap(),
            "device_id,time,operation,occurrence,cause,confidence\n\
             \"d,1\",2026-11-26T13:00:05.5000000Z,disconnect,0,service_upgrade,0.900\n\
             d2,2026-11-26T13:00:05Z,connect,3,throttling,\n"
        );
        assert_eq!(parse_labels(out.as_slice(), Path::new("p.csv")).unwrap(), labels);
        let mut out = Vec::new();
        write_labels(&mut out, Path::new("l.csv"), &labels).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(text.starts_with("device_id,time,operation,occurrence,cause\n\"d,1\""), "{text}");
    }

    #[test]
    fn parallel_rows_are_the_serial_bytes_at_any_thread_count() {
        // More rows than a task and a wave formats, some skipped, some needing quotes, times and
        // confidences repeated in runs (the formatter reuses the last one's text).
        let n = ROWS_PER_WAVE + 3 * ROWS_PER_TASK + 17;
        let t0 = Timestamp::parse_rfc3339("2026-11-26T13:00:05Z").unwrap();
        let odd = ["d\"1,x", "d,2", "\"", "a\nb", "c\rd", " e ", "f\"\"g\"", "ü,ß", "#h", "'i"];
        let ids: Vec<String> = (0..97_usize)
            .map(|i| {
                if i.is_multiple_of(7) {
                    format!("{}{i}", odd[i / 7 % odd.len()])
                } else {
                    format!("d{i}")
                }
            })
            .collect();
        let label = |i: usize| Label {
            device_id: ids[i % ids.len()].clone(),
            time: Timestamp(t0.0 + (i / 3) as i64 * 1_000_000_123),
            operation: if i.is_multiple_of(3) { Operation::Connect } else { Operation::Disconnect },
            occurrence: (i % 4) as u32,
            cause: Cause::ALL[i % Cause::ALL.len()],
            confidence: (!i.is_multiple_of(5)).then_some((i / 2 % 1000) as f64 / 999.0),
        };
        let kept = |i: usize| i % 11 != 3;
        let labels: Vec<Label> = (0..n).filter(|&i| kept(i)).map(label).collect();
        let mut serial = Vec::new();
        write_predictions(&mut serial, Path::new("p.csv"), &labels).unwrap();
        for threads in [1, 2, 3] {
            let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
            let mut parallel = Vec::new();
            let rows: Vec<Label> = (0..n).map(label).collect();
            pool.install(|| {
                write_predictions_indexed(&mut parallel, Path::new("p.csv"), n, |i| {
                    kept(i).then(|| LabelRow::from(&rows[i]))
                })
            })
            .unwrap();
            assert!(parallel == serial, "{threads} threads: the bytes differ");
        }
        let mut empty = Vec::new();
        write_predictions_indexed(&mut empty, Path::new("p.csv"), 0, |_| None).unwrap();
        assert_eq!(empty, b"device_id,time,operation,occurrence,cause,confidence\n");
    }
}
