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
    let mut occurrence = String::new();
    let mut confidence = String::new();
    for label in labels {
        let label = label.borrow();
        occurrence.clear();
        occurrence.push_str(&label.occurrence.to_string());
        let time = label.time.to_rfc3339_exact();
        let mut row = vec![
            label.device_id.as_str(),
            time.as_str(),
            label.operation.as_str(),
            occurrence.as_str(),
            label.cause.as_str(),
        ];
        if with_confidence {
            confidence.clear();
            if let Some(value) = label.confidence {
                confidence = format!("{:.3}", value.clamp(0.0, 1.0));
            }
            row.push(confidence.as_str());
        }
        writer.write_record(&row).map_err(|err| write_error(err.into()))?;
    }
    writer.flush().map_err(write_error)
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
}
