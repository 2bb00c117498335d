//! JSON Lines: one record per line, parsed in parallel chunks split at newlines.

use memchr::memchr;
use rayon::prelude::*;

use crate::read::record::{RawRecord, to_event};
use crate::read::{Parsed, scan};
use crate::{Form, RejectReason};

/// Chunks of about this size are parsed in parallel.
const CHUNK: usize = 1 << 20;

/// Parses `buf`, whose first line is line `first_line` of the input. `cut_at_end` says the input
/// ends here without a newline, so a last line that fails to parse for lack of bytes is
/// [`RejectReason::Truncated`]. Returns the records and the number of newlines in `buf`.
pub(crate) fn parse_lines_parallel(
    buf: &[u8],
    source: u32,
    first_line: u64,
    cut_at_end: bool,
) -> (Parsed, u64) {
    let mut chunks = Vec::with_capacity(buf.len() / CHUNK + 1);
    let mut rest = buf;
    while rest.len() > CHUNK {
        let split = memchr(b'\n', &rest[CHUNK..]).map_or(rest.len(), |i| CHUNK + i + 1);
        let (head, tail) = rest.split_at(split);
        chunks.push(head);
        rest = tail;
    }
    if !rest.is_empty() {
        chunks.push(rest);
    }
    let n_chunks = chunks.len();
    let parts: Vec<(Parsed, u64)> = chunks
        .into_par_iter()
        .enumerate()
        .map(|(idx, chunk)| parse_lines(chunk, source, cut_at_end && idx + 1 == n_chunks))
        .collect();
    let mut out = Parsed::default();
    let mut offset = first_line - 1;
    for (mut part, newlines) in parts {
        for event in &mut part.events {
            event.source_line += offset;
        }
        for reject in &mut part.rejects {
            reject.line += offset;
        }
        out.append(part);
        offset += newlines;
    }
    (out, offset + 1 - first_line)
}

/// Parses one chunk with line numbers starting at 1.
fn parse_lines(buf: &[u8], source: u32, cut_at_end: bool) -> (Parsed, u64) {
    let mut out = Parsed::default();
    let mut line_no = 1;
    let mut rest = buf;
    while !rest.is_empty() {
        let (line, next, had_newline) = match memchr(b'\n', rest) {
            Some(i) => (&rest[..i], &rest[i + 1..], true),
            None => (rest, &rest[rest.len()..], false),
        };
        let start = scan::skip_ws(line, 0);
        let line = line[start..].trim_ascii_end();
        if !line.is_empty() {
            parse_line(line, source, line_no, cut_at_end && !had_newline, &mut out);
        }
        if had_newline {
            line_no += 1;
        }
        rest = next;
    }
    (out, line_no - 1)
}

fn parse_line(line: &[u8], source: u32, line_no: u64, cut: bool, out: &mut Parsed) {
    let decoded = if line.first() == Some(&b'[') {
        serde_json::from_slice::<Vec<RawRecord<'_>>>(line)
    } else {
        serde_json::from_slice::<RawRecord<'_>>(line).map(|rec| vec![rec])
    };
    match decoded {
        Ok(records) => {
            for rec in records {
                emit(rec, Form::JsonLines, source, line_no, line, out);
            }
        }
        Err(error) => {
            out.count(Form::JsonLines);
            let reason =
                if cut && error.is_eof() { RejectReason::Truncated } else { RejectReason::BadJson };
            out.reject(source, line_no, reason, error.to_string(), line);
        }
    }
}

/// Turns one decoded record (or the records of an envelope) into events or rejects.
pub(crate) fn emit(
    rec: RawRecord<'_>,
    container: Form,
    source: u32,
    line: u64,
    text: &[u8],
    out: &mut Parsed,
) {
    emit_decoded(rec, container, source, line, text, false, out);
}

/// [`emit`], where `cut` says the record is the last of an input that ends without a newline, so
/// a `properties` string that ends early is [`RejectReason::Truncated`].
pub(crate) fn emit_decoded(
    rec: RawRecord<'_>,
    container: Form,
    source: u32,
    line: u64,
    text: &[u8],
    cut: bool,
    out: &mut Parsed,
) {
    if let Some(records) = rec.records {
        for inner in records {
            emit_decoded(inner, Form::RecordsEnvelope, source, line, text, cut, out);
        }
        return;
    }
    out.count(rec.form(container));
    match to_event(&rec, source, line) {
        Ok(event) => out.events.push(event),
        Err(rejection) => {
            let reason = if cut && rejection.reason == RejectReason::BadJson {
                RejectReason::Truncated
            } else {
                rejection.reason
            };
            out.reject(source, line, reason, rejection.detail, text);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(input: &str, expected: &str) {
        let (parsed, _) = parse_lines_parallel(input.as_bytes(), 0, 1, !input.ends_with('\n'));
        let mut got = Vec::new();
        for e in &parsed.events {
            got.push(format!("{}:{}", e.source_line, e.device_id));
        }
        for r in &parsed.rejects {
            got.push(format!("{}:{}", r.line, r.reason.as_str()));
        }
        assert_eq!(got.join(" "), expected, "{input:?}");
    }

    const REC: &str = r#"{"time":"2020-01-01T00:00:00Z","operationName":"deviceConnect","properties":"{\"deviceId\":\"a\"}"}"#;

    #[test]
    fn numbers_lines_and_rejects_cut_last_line() {
        check(&format!("{REC}\r\n\n{REC}\n"), "1:a 3:a");
        check(&format!("{REC}\nnot json\n{}", &REC[..30]), "1:a 2:bad_json 3:truncated");
        check(&format!("{REC}\n{}\n", &REC[..30]), "1:a 2:bad_json");
        check(&format!(r#"{{"records":[{REC},{REC}]}}"#), "1:a 1:a");
        check("", "");
    }

    #[test]
    fn chunks_keep_line_numbers() {
        let input = format!("{REC}\n").repeat(CHUNK / REC.len() * 3);
        let (parsed, newlines) = parse_lines_parallel(input.as_bytes(), 0, 5, false);
        assert_eq!(newlines, parsed.events.len() as u64);
        let lines: Vec<u64> = parsed.events.iter().map(|e| e.source_line).collect();
        let expected: Vec<u64> = (5..5 + lines.len() as u64).collect();
        assert_eq!(lines, expected);
    }
}
