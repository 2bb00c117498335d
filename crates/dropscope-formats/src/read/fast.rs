//! A fast path for the usual storage-blob record: one hand-written pass over the line that finds
//! the top-level keys and decodes the `properties` string's inner fields, with no DOM and no
//! allocation (escaped text is decoded into reusable buffers).
//!
//! It accepts only what it is sure of: one object of printable ASCII whose values are strings or
//! `null`, keys from a short list, simple escapes. Anything else (a number, a nested object or
//! array, `\u` escapes, an unknown or repeated key, another record shape) returns `None`, and the
//! caller decodes the line with serde instead, so events and rejects are the same either way.
//! When only the inner `properties` text is unusual, the record is still returned but without
//! decoded [`Props`], and [`crate::read::record::to_event_with`] decodes that text with serde.

use std::borrow::Cow;

use crate::read::record::{Props, PropsValue, RawRecord, Scalar};
use crate::read::scan::skip_ws;

/// Buffers reused from line to line for text with escapes.
#[derive(Debug, Default)]
pub(crate) struct Scratch {
    /// The decoded `properties` string, when it has escapes (it always has in real exports).
    props: Vec<u8>,
    /// Other decoded values, one after another.
    values: Vec<u8>,
}

/// Where a value's text is.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
enum Span {
    /// Absent or `null`.
    #[default]
    Null,
    /// Bytes `start..end` of the text it was found in, which hold no escapes.
    Raw(usize, usize),
    /// Bytes `start..end` of [`Scratch::values`].
    Decoded(usize, usize),
}

/// The index of a top-level field the fast path reads (`properties` last, at [`PROPERTIES`]);
/// a `match`, which compiles to a length switch and one comparison.
fn outer(key: &[u8]) -> Option<usize> {
    Some(match key {
        b"time" => 0,
        b"resourceId" => 1,
        b"operationName" => 2,
        b"category" => 3,
        b"level" => 4,
        b"resultType" => 5,
        b"resultDescription" => 6,
        b"properties" => PROPERTIES,
        _ => return None,
    })
}
const PROPERTIES: usize = 7;

/// Top-level keys a storage record may carry that the decoder ignores. Any other key (the
/// Log Analytics, legacy and Event Grid spellings included) sends the line to serde.
fn ignored(key: &[u8]) -> bool {
    matches!(
        key,
        b"location"
            | b"durationMs"
            | b"callerIpAddress"
            | b"correlationId"
            | b"resultSignature"
            | b"tenantId"
            | b"Type"
    )
}

/// The index of a `properties` field of [`Props`]; other inner keys are skipped.
fn inner_field(key: &[u8]) -> Option<usize> {
    Some(match key {
        b"deviceId" => 0,
        b"moduleId" => 1,
        b"protocol" => 2,
        b"authType" => 3,
        b"maskedIpAddress" => 4,
        b"sdkVersion" => 5,
        b"statusCode" => 6,
        _ => return None,
    })
}

/// Whether every byte is printable ASCII (space to `~`, and DEL): then the line is valid UTF-8,
/// and no string in it holds a raw control character. Written to vectorise.
fn printable_ascii(bytes: &[u8]) -> bool {
    bytes
        .chunks(32)
        .all(|chunk| chunk.iter().fold(true, |ok, &b| ok & (b.wrapping_sub(0x20) < 0x60)))
}

/// The first `"` or `\\` at or after `from`. Eight bytes at a time (SWAR): strings here are
/// short and dense with escapes, where a SIMD search costs more to start than it saves.
fn quote_or_backslash(b: &[u8], from: usize) -> Option<usize> {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGHS: u64 = 0x8080_8080_8080_8080;
    let rest = b.get(from..)?;
    let mut words = rest.chunks_exact(8);
    let mut offset = from;
    for word in &mut words {
        let mut le = [0; 8];
        le.copy_from_slice(word);
        let x = u64::from_le_bytes(le);
        let q = x ^ (ONES * u64::from(b'"'));
        let s = x ^ (ONES * u64::from(b'\\'));
        // A zero byte in q or s marks a match; bytes are ASCII, so no false positives.
        let found = (q.wrapping_sub(ONES) & !q | s.wrapping_sub(ONES) & !s) & HIGHS;
        if found != 0 {
            return Some(offset + found.trailing_zeros() as usize / 8);
        }
        offset += 8;
    }
    let tail = words.remainder();
    tail.iter().position(|&c| c == b'"' || c == b'\\').map(|k| offset + k)
}

/// The (ASCII) character a simple escape (the byte after `\\`) stands for; `None` for `\\u`
/// and anything invalid.
fn escaped(byte: u8) -> Option<u8> {
    Some(match byte {
        b'"' => b'"',
        b'\\' => b'\\',
        b'/' => b'/',
        b'b' => 0x08,
        b'f' => 0x0c,
        b'n' => b'\n',
        b'r' => b'\r',
        b't' => b'\t',
        _ => return None,
    })
}

/// A string whose opening quote is at `pos`: its content `start..end` and whether it holds
/// escapes. `None` at the end of the input or at an escape other than the simple ones.
fn string(b: &[u8], pos: usize) -> Option<(usize, usize, bool)> {
    let start = pos + 1;
    let mut at = start;
    let mut escapes = false;
    loop {
        let found = quote_or_backslash(b, at)?;
        if b[found] == b'"' {
            return Some((start, found, escapes));
        }
        escaped(*b.get(found + 1)?)?;
        escapes = true;
        at = found + 2;
    }
}

/// Decodes the string whose opening quote is at `pos` in `b` onto `out`, in the same pass
/// that finds its end. Returns the position after the closing quote and whether a control
/// character was decoded; `None` as [`string`]. Bytes, not `str`: the input is printable ASCII
/// and so is every simple escape, so the output is ASCII, with no boundary checks on the way.
fn decode_string(b: &[u8], pos: usize, out: &mut Vec<u8>) -> Option<(usize, bool)> {
    let mut from = pos + 1;
    let mut control = false;
    loop {
        let found = quote_or_backslash(b, from)?;
        out.extend_from_slice(&b[from..found]);
        if b[found] == b'"' {
            return Some((found + 1, control));
        }
        let decoded = escaped(*b.get(found + 1)?)?;
        control |= decoded.is_ascii_control();
        out.push(decoded);
        from = found + 2;
    }
}

/// Appends the decoded content of a string checked by [`string`].
fn unescape(raw: &[u8], out: &mut Vec<u8>) {
    let mut from = 0;
    // The content holds no bare quote, so the next quote-or-backslash is a backslash.
    while let Some(found) = quote_or_backslash(raw, from) {
        out.extend_from_slice(&raw[from..found]);
        let Some(decoded) = raw.get(found + 1).and_then(|&b| escaped(b)) else { break };
        out.push(decoded);
        from = found + 2;
    }
    out.extend_from_slice(raw.get(from..).unwrap_or_default());
}

/// A value: a string (content span, escaped) or `null`.
#[derive(Clone, Copy)]
enum Value {
    Str(usize, usize, bool),
    Null,
}

/// The value at `pos`, a string or `null`, and the position after it.
fn value(b: &[u8], pos: usize) -> Option<(Value, usize)> {
    match b.get(pos)? {
        b'"' => {
            let (start, end, escapes) = string(b, pos)?;
            Some((Value::Str(start, end, escapes), end + 1))
        }
        b'n' if b[pos..].starts_with(b"null") => Some((Value::Null, pos + 4)),
        _ => None,
    }
}

/// Walks the members of the object at the start of `b` (after whitespace): `each(key, pos)`
/// reads the value at `pos` and returns the position after it, or `None` to give up. Checks
/// that nothing but whitespace follows the object.
fn members(b: &[u8], mut each: impl FnMut(&[u8], usize) -> Option<usize>) -> Option<()> {
    let mut pos = skip_ws(b, 0);
    if b.get(pos) != Some(&b'{') {
        return None;
    }
    pos = skip_ws(b, pos + 1);
    if b.get(pos) == Some(&b'}') {
        pos += 1;
    } else {
        loop {
            if b.get(pos) != Some(&b'"') {
                return None;
            }
            let (key_start, key_end, key_escapes) = string(b, pos)?;
            if key_escapes {
                return None;
            }
            pos = skip_ws(b, key_end + 1);
            if b.get(pos) != Some(&b':') {
                return None;
            }
            let after = each(&b[key_start..key_end], skip_ws(b, pos + 1))?;
            let sep = skip_ws(b, after);
            match b.get(sep)? {
                b',' => pos = skip_ws(b, sep + 1),
                b'}' => {
                    pos = sep + 1;
                    break;
                }
                _ => return None,
            }
        }
    }
    (skip_ws(b, pos) == b.len()).then_some(())
}

/// The span of a value, decoding escapes into `values`.
fn span(b: &[u8], value: Value, values: &mut Vec<u8>) -> Span {
    match value {
        Value::Null => Span::Null,
        Value::Str(start, end, false) => Span::Raw(start, end),
        Value::Str(start, end, true) => {
            let from = values.len();
            unescape(b.get(start..end).unwrap_or_default(), values);
            Span::Decoded(from, values.len())
        }
    }
}

fn scalar<'a>(span: Span, raw: &'a str, values: &'a str) -> Scalar<'a> {
    let text = match span {
        Span::Null => return Scalar::Null,
        Span::Raw(start, end) => raw.get(start..end),
        Span::Decoded(start, end) => values.get(start..end),
    };
    text.map_or(Scalar::Null, |t| Scalar::Text(Cow::Borrowed(t)))
}

/// The inner fields of a `properties` text, or `None` when serde should decode it.
fn inner(b: &[u8], values: &mut Vec<u8>) -> Option<[Span; 7]> {
    let mut spans = [Span::Null; 7];
    let mut seen = 0_u8;
    members(b, |key, pos| {
        let (value, after) = value(b, pos)?;
        if let Some(idx) = inner_field(key) {
            // serde rejects a repeated field: let it say so.
            if seen & (1 << idx) != 0 {
                return None;
            }
            seen |= 1 << idx;
            spans[idx] = span(b, value, values);
        }
        Some(after)
    })?;
    Some(spans)
}

/// The record on `line` (already trimmed) and, when its `properties` text could be decoded
/// here, that text's fields; `None` when the line needs the serde decoder.
pub(crate) fn record<'s>(
    line: &'s [u8],
    scratch: &'s mut Scratch,
) -> Option<(RawRecord<'s>, Option<Props<'s>>)> {
    if line.first() != Some(&b'{') || !printable_ascii(line) {
        return None;
    }
    let text = std::str::from_utf8(line).ok()?;
    let Scratch { props, values } = scratch;
    props.clear();
    values.clear();
    let mut found = [None::<Value>; PROPERTIES];
    // `None` while absent; then whether the text is null, or decoded control characters.
    let mut props_seen: Option<Option<bool>> = None;
    members(line, |key, pos| {
        if key == b"properties" {
            if props_seen.is_some() {
                return None;
            }
            if line.get(pos) == Some(&b'"') {
                let (after, control) = decode_string(line, pos, props)?;
                props_seen = Some(Some(control));
                Some(after)
            } else {
                let (value, after) = value(line, pos)?;
                props_seen = Some(None);
                matches!(value, Value::Null).then_some(after)
            }
        } else if let Some(idx) = outer(key) {
            if found[idx].is_some() {
                return None;
            }
            let (value, after) = value(line, pos)?;
            found[idx] = Some(value);
            Some(after)
        } else if ignored(key) {
            value(line, pos).map(|(_, after)| after)
        } else {
            None
        }
    })?;

    let mut spans = [Span::Null; PROPERTIES];
    for (slot, value) in spans.iter_mut().zip(found) {
        *slot = value.map_or(Span::Null, |v| span(line, v, values));
    }
    // ASCII (see `decode_string`): this check never fails and is one fast pass.
    let props: &'s str = std::str::from_utf8(props).ok()?;
    let (props_text, props_control) = match props_seen {
        Some(Some(control)) => (Some(props), control),
        _ => (None, false),
    };
    let inner_spans = match props_text {
        Some(p) if !props_control && !p.trim().is_empty() => inner(p.as_bytes(), values),
        _ => None,
    };

    let values: &'s str = std::str::from_utf8(values).ok()?;
    let field = |idx: usize| scalar(spans[idx], text, values);
    let rec = RawRecord {
        time: field(0),
        resource_id: field(1),
        operation: field(2),
        category: field(3),
        level: field(4),
        result_type: field(5),
        result_description: field(6),
        properties: props_text.map_or(PropsValue::Null, |p| PropsValue::Text(Cow::Borrowed(p))),
        ..RawRecord::default()
    };
    let props = match (props_text, inner_spans) {
        (Some(p), Some(s)) => {
            let f = |idx: usize| scalar(s[idx], p, values);
            Some(Props {
                device_id: f(0),
                module_id: f(1),
                protocol: f(2),
                auth_type: f(3),
                masked_ip_address: f(4),
                sdk_version: f(5),
                status_code: f(6),
            })
        }
        _ => None,
    };
    Some((rec, props))
}

#[cfg(test)]
mod tests {
    use std::fmt::Write as _;

    use super::*;

    /// The fast path's view of `line`: `None` when it gives up, else the fields it found and
    /// whether it decoded `properties` itself.
    fn check(line: &str, expected: Option<&str>) {
        let mut scratch = Scratch::default();
        let got = record(line.as_bytes(), &mut scratch).map(|(rec, props)| {
            let mut out = format!(
                "time={:?} op={:?} level={:?} rt={:?}",
                rec.time.text(),
                rec.operation.text(),
                rec.level.text(),
                rec.result_type.text()
            );
            if let Some(p) = props {
                let _ = write!(
                    out,
                    " dev={:?} auth={:?} status={:?}",
                    p.device_id.text(),
                    p.auth_type.text(),
                    p.status_code.text()
                );
            }
            out
        });
        assert_eq!(got.as_deref(), expected, "{line}");
    }

    #[test]
    fn reads_the_usual_record() {
        check(
            r#"{"time":"2023-09-21T22:33:34Z","operationName":"deviceDisconnect","level":"Error","resultType":"404104","properties":"{\"deviceId\":\"d\\\"1\",\"authType\":\"{\\\"scope\\\":\\\"device\\\"}\",\"statusCode\":null,\"errorMessage\":\"x\"}","location":"centralus"}"#,
            Some(
                r#"time=Some("2023-09-21T22:33:34Z") op=Some("deviceDisconnect") level=Some("Error") rt=Some("404104") dev=Some("d\"1") auth=Some("{\"scope\":\"device\"}") status=None"#,
            ),
        );
        check(
            r#"{ "time" : "t\n" , "properties" : null }"#,
            Some(r#"time=Some("t\n") op=None level=None rt=None"#),
        );
        check("{}", Some("time=None op=None level=None rt=None"));
    }

    #[test]
    fn decodes_every_field_the_writer_writes() {
        let mut event = dropscope_model::Event::new(
            dropscope_model::Timestamp(1_600_000_000_000_000_000),
            "hub",
            "d\"1",
            dropscope_model::Operation::Disconnect,
        );
        event.module_id = Some("m".into());
        event.result_type = Some(404_104);
        event.result_description = Some("Closed".into());
        event.protocol = Some("Mqtt".into());
        event.masked_ip = Some("1.2.3.XXX".into());
        event.sdk_version = Some("sdk/1 (x)".into());
        event.auth_type = Some(r#"{"scope":"device"}"#.into());
        event.status_code = Some("404".into());
        let mut line = Vec::new();
        crate::write::push_json_line(&mut line, &event, &crate::write::WriteOptions::default());
        let mut scratch = Scratch::default();
        let decoded = record(&line, &mut scratch).and_then(|(rec, props)| {
            crate::read::record::to_event_with(&rec, props.as_ref(), 0, 0)
                .ok()
                .zip(props.map(|_| ()))
        });
        assert_eq!(decoded.map(|(e, ())| e), Some(event));
    }

    #[test]
    fn leaves_unusual_properties_to_serde() {
        let expected = Some("time=None op=None level=None rt=None");
        check(r#"{"properties":"{\"deviceId\":1}"}"#, expected);
        check(r#"{"properties":"{\"deviceId\":\"a\",\"deviceId\":\"b\"}"}"#, expected);
        check(r#"{"properties":"{\"a\":{}}"}"#, expected);
        check(r#"{"properties":"{\"a\":\"\\u0041\"}"}"#, expected);
        check(r#"{"properties":"{\n}"}"#, expected);
        check(r#"{"properties":"{} x"}"#, expected);
    }

    #[test]
    fn gives_up_on_anything_unusual() {
        for line in [
            r#"{"time":"a","time":"b"}"#,
            r#"{"deviceId":"a"}"#,
            r#"{"resultType":404}"#,
            r#"{"properties":{"deviceId":"a"}}"#,
            r#"{"time":"\u0041"}"#,
            r#"{"time":"\x"}"#,
            r#"{"time":"a",}"#,
            r#"{"time":"a"} x"#,
            r#"{"time":nul}"#,
            r#"{"time":"a""#,
            "{\"time\":\"\u{e9}\"}",
            "{\"time\":\"\t\"}",
            r#"[{"time":"a"}]"#,
            r#"{"ti\"me":"a"}"#,
            r#"{"records":[]}"#,
        ] {
            check(line, None);
        }
    }
}
