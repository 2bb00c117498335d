//! Multi-line JSON documents: pretty concatenated objects, records envelopes, arrays of records,
//! rows or events. The structural scanner cuts the document into records, so each gets its own
//! line number and a bad or cut record does not hide the others.

use memchr::memchr_iter;

use crate::read::Parsed;
use crate::read::lines::emit;
use crate::read::record::RawRecord;
use crate::read::record::routed::is_monitor_status;
use crate::read::scan::{self, Element, Eof};
use crate::{Form, RejectReason};

/// Maps byte offsets to 1-based line numbers, for offsets that only grow.
struct LineCounter<'a> {
    buf: &'a [u8],
    pos: usize,
    line: u64,
}

impl LineCounter<'_> {
    fn line_at(&mut self, pos: usize) -> u64 {
        if pos > self.pos {
            self.line += memchr_iter(b'\n', &self.buf[self.pos..pos]).count() as u64;
            self.pos = pos;
        }
        self.line
    }
}

pub(crate) fn read(buf: &[u8], source: u32) -> Parsed {
    let mut out = Parsed::default();
    let mut lines = LineCounter { buf, pos: 0, line: 1 };
    let mut pos = 0;
    loop {
        pos = scan::skip_ws(buf, pos);
        while buf.get(pos) == Some(&b',') {
            pos = scan::skip_ws(buf, pos + 1);
        }
        let Some(&first) = buf.get(pos) else { break };
        let result = match first {
            b'{' => object(buf, pos, source, &mut lines, &mut out),
            b'[' => array(buf, pos, Form::RecordsEnvelope, source, &mut lines, &mut out),
            _ if is_monitor_status(&buf[pos..line_end(buf, pos)]) => Ok(line_end(buf, pos)),
            _ => {
                let end = next_value_line(buf, pos);
                let line = lines.line_at(pos);
                out.count(Form::PrettyConcatenated);
                out.reject(
                    source,
                    line,
                    RejectReason::BadJson,
                    "not a JSON object or array".to_owned(),
                    &buf[pos..end],
                );
                Ok(end)
            }
        };
        match result {
            Ok(end) => pos = end,
            Err(Eof) => break,
        }
    }
    out
}

/// The end of the line at `pos` (its newline, or the end).
fn line_end(buf: &[u8], pos: usize) -> usize {
    memchr::memchr(b'\n', &buf[pos..]).map_or(buf.len(), |i| pos + i)
}

/// The start of the next line that begins with `{` or `[` after `pos`, or the end.
fn next_value_line(buf: &[u8], pos: usize) -> usize {
    memchr_iter(b'\n', &buf[pos..])
        .map(|i| scan::skip_ws(buf, pos + i + 1))
        .find(|&p| matches!(buf.get(p), Some(b'{' | b'[')))
        .unwrap_or(buf.len())
}

/// A top-level object: a records envelope, or one record.
fn object(
    buf: &[u8],
    start: usize,
    source: u32,
    lines: &mut LineCounter<'_>,
    out: &mut Parsed,
) -> Result<usize, Eof> {
    let records = scan::members(buf, start, usize::MAX)
        .into_iter()
        .find(|(key, value)| *key == b"records" && buf[*value] == b'[');
    if let Some((_, arr_start)) = records {
        let end = array(buf, arr_start, Form::RecordsEnvelope, source, lines, out)?;
        // The rest of the envelope (other keys, the closing brace) holds no records.
        return scan::value_end(buf, start).or(Ok(end));
    }
    let end = scan::value_end(buf, start);
    record(buf, Element { start, end }, Form::PrettyConcatenated, source, lines, out);
    end
}

/// The elements of an array, each one record.
fn array(
    buf: &[u8],
    start: usize,
    container: Form,
    source: u32,
    lines: &mut LineCounter<'_>,
    out: &mut Parsed,
) -> Result<usize, Eof> {
    scan::elements(buf, start, |element| record(buf, element, container, source, lines, out))
}

fn record(
    buf: &[u8],
    element: Element,
    container: Form,
    source: u32,
    lines: &mut LineCounter<'_>,
    out: &mut Parsed,
) {
    let line = lines.line_at(element.start);
    let Ok(end) = element.end else {
        out.count(container);
        out.reject(
            source,
            line,
            RejectReason::Truncated,
            "the input ends inside this record".to_owned(),
            &buf[element.start..],
        );
        return;
    };
    let text = &buf[element.start..end];
    match serde_json::from_slice::<RawRecord<'_>>(text) {
        Ok(rec) => emit(rec, container, source, line, text, out),
        Err(error) => {
            out.count(container);
            out.reject(source, line, RejectReason::BadJson, error.to_string(), text);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(input: &str, expected: &str) {
        let parsed = read(input.as_bytes(), 0);
        let mut got = Vec::new();
        for e in &parsed.events {
            got.push(format!("{}:{}", e.source_line, e.device_id));
        }
        for r in &parsed.rejects {
            got.push(format!("{}:{}", r.line, r.reason.as_str()));
        }
        let forms: Vec<String> = parsed.forms.iter().map(|(f, n)| format!("{f}={n}")).collect();
        got.push(forms.join(","));
        assert_eq!(got.join(" "), expected, "{input:?}");
    }

    const REC: &str = "{\n \"time\": \"2020-01-01T00:00:00Z\",\n \"operationName\": \"deviceConnect\",\n \"properties\": \"{\\\"deviceId\\\":\\\"a\\\"}\"\n}";

    #[test]
    fn reads_pretty_envelopes_and_arrays() {
        check(&format!("{REC}\n{REC}\n"), "1:a 6:a pretty=2");
        check(&format!("{{\"records\": [\n{REC},\n{REC}\n]}}"), "2:a 7:a records-envelope=2");
        check(&format!("[{REC}, 5]"), "1:a 5:bad_json records-envelope=2");
        check(&format!("{REC}\ngarbage\n{REC}"), "1:a 7:a 6:bad_json pretty=3");
        check(&format!("{REC}\n{}", &REC[..20]), "1:a 6:truncated pretty=2");
        check(
            &format!("{{\"records\": [\n{REC},\n{}", &REC[..20]),
            "2:a 7:truncated records-envelope=2",
        );
        check("  \n", "");
    }

    #[test]
    fn reads_a_stream_of_monitor_events() {
        // As `az iot hub monitor-events` prints them: one object after another, pretty.
        let event = |device: &str, op: &str| {
            format!(
                "{{\n    \"event\": {{\n        \"origin\": \"{device}\",\n        \"properties\": {{\n            \"application\": {{\"opType\": \"{op}\", \"operationTimestamp\": \"2022-06-01T18:43:04Z\"}}\n        }},\n        \"payload\": {{\"sequenceNumber\": \"0A\"}}\n    }}\n}}"
            )
        };
        let input = [
            event("d1", "deviceConnected"),
            event("d2", "updateTwin"),
            event("d3", "deviceDisconnected"),
        ]
        .join("\n");
        check(&input, "1:d1 19:d3 10:wrong_category routed-monitor-events=3");
        // Saved from the terminal: the monitor's own status lines are not records.
        let saved = format!(
            "Starting event monitor, use ctrl-c to stop...\n{input}\nSuccessfully parsed 3 message(s).\nStopping event monitor...\n"
        );
        check(&saved, "2:d1 20:d3 11:wrong_category routed-monitor-events=3");
        check("Stopping event monitor...\nnope\n", "2:bad_json pretty=1");
    }
}
