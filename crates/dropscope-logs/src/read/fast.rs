//! A fast path for the usual storage-blob record: one hand-written pass over the line that finds
//! the top-level keys and reads the `properties` string's inner fields where they stand in the
//! escaped text, with no DOM and no allocation (the few values with escapes are decoded into a
//! reusable buffer). Each string's end is found from the line's [`Marks`], made first in one
//! SIMD pass.
//!
//! It accepts only what it is sure of: one object of valid UTF-8 whose values are strings
//! (with no raw control characters) or `null`, keys from a short list, simple escapes. Anything
//! else (a number, a nested object or array, `\u` escapes, an unknown or repeated key, another
//! record shape) returns `None`, and the caller decodes the line with serde instead, so events
//! and rejects are the same either way.
//! When the `properties` text is not in the usual compact shape it is decoded into a buffer and
//! read from there; when even that text is unusual, the record is still returned with the text,
//! and [`crate::read::record::to_event`] decodes it with serde.
//!
//! That both paths give the same events and rejects is tested, not assumed: proptests in
//! `read/lines.rs` read written and mutated records both ways, and the fuzz target
//! `read_jsonl_fast_agrees` does the same on arbitrary bytes.
//!
//! The marking pass also tells whether the line is ASCII; an ASCII line is valid UTF-8, so it
//! is taken as a `str` with no second check (the module's one `unsafe` block), where checking
//! UTF-8 again was 3% of the reader's instructions.
//!
//! The result is a [`FastRecord`] of the eight fields the reader reads, not the serde
//! path's [`RawRecord`](crate::read::record::RawRecord), which holds every form's fields and is
//! more than twice the size. Both become events through one function,
//! `record::storage_event`, over a borrowed view of their fields, so what a field means is
//! decided in one place only.
//!
//! A log repeats a few escaped inner values (a connect's `authType` is itself an escaped JSON
//! text), so the reader remembers the last one and its decoding ([`LastEscaped`]): the same
//! escaped bytes followed by the closing `\"` are neither scanned nor decoded again. That is
//! exact because the scan reads no byte outside them, so it would find the same string.

use std::borrow::Cow;

use crate::read::marks::Marks;
use crate::read::record::{ABSENT, Fields, NO_FLAT, Props, PropsValue, Scalar};
use crate::read::scan::skip_ws;

/// Buffers reused from line to line for text with escapes.
#[derive(Debug, Default)]
pub(crate) struct Scratch {
    /// The decoded `properties` string, when it is not read in place.
    props: Vec<u8>,
    /// Other decoded values, one after another.
    values: Vec<u8>,
    /// The line's marks.
    marks: Marks,
    /// The marks of [`Scratch::props`].
    props_marks: Marks,
    /// The last inner value with escapes read in place, and its decoding.
    last_escaped: LastEscaped,
}

/// The last inner value with escapes that [`props_in_place`] decoded, escaped and decoded: a
/// log repeats a few `authType` texts (`{\\\"scope\\\":\\\"device\\\",...}`), and comparing and
/// copying one costs a fraction of decoding it again.
#[derive(Debug, Default)]
struct LastEscaped {
    raw: Vec<u8>,
    decoded: Vec<u8>,
}

impl LastEscaped {
    /// The position after the inner string at `pos` when it is the last value again: `\"`,
    /// the same escaped bytes, `\"`. [`inner_string`] reads no byte outside those, so it would
    /// find the same string: neither its scan nor its decoding needs doing again.
    fn repeated(&self, b: &[u8], pos: usize) -> Option<usize> {
        let start = pos + 2;
        let end = start + self.raw.len();
        // The first byte first: most values are not the last one, and this is no call.
        let same = self.raw.first().is_some_and(|first| b.get(start) == Some(first))
            && b.get(pos..start)? == b"\\\""
            && b.get(start..end)? == self.raw
            && b.get(end..end + 2)? == b"\\\"";
        same.then_some(end + 2)
    }

    /// [`unescape_twice`], through the memory of the last value.
    fn unescape_twice(&mut self, raw: &[u8], out: &mut Vec<u8>) {
        if raw != self.raw {
            self.raw.clear();
            self.raw.extend_from_slice(raw);
            self.decoded.clear();
            unescape_twice(raw, &mut self.decoded);
        }
        out.extend_from_slice(&self.decoded);
    }
}

/// A text and its [`Marks`]: where each string of it ends is found from them.
#[derive(Clone, Copy)]
struct Marked<'a> {
    b: &'a [u8],
    marks: &'a Marks,
}

impl<'a> Marked<'a> {
    /// `text`, marked into `marks`.
    fn new(text: &'a [u8], marks: &'a mut Marks) -> Marked<'a> {
        marks.mark(text);
        Marked { b: text, marks }
    }

    /// The first quote, backslash or control character at or after `from`.
    fn next(self, from: usize) -> Option<usize> {
        self.marks.next(from)
    }

    /// The text as a `str`, `None` when it is not UTF-8. An ASCII text (nearly every log line)
    /// is known to be one from its marks, found in the same pass: checking UTF-8 again was 3% of
    /// the reader's instructions.
    #[allow(unsafe_code)]
    fn text(self) -> Option<&'a str> {
        if self.marks.is_ascii() {
            debug_assert!(self.b.is_ascii());
            // SAFETY: `Marked::new` marked exactly `self.b`, and its marks found no byte at or
            // above 0x80 in it: every byte is ASCII, and ASCII is UTF-8.
            Some(unsafe { std::str::from_utf8_unchecked(self.b) })
        } else {
            std::str::from_utf8(self.b).ok()
        }
    }
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

/// The first `"`, `\\` or control character (below a space) at or after `from`, in a value
/// with escapes, which has no [`Marks`] of its own: eight bytes at a time (SWAR), which for
/// such short strings costs less than marking them. A control character is never valid in a
/// JSON string, so the callers give up there.
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
        // A zero byte in q or s, or a byte of x below 0x20, sets that byte's high bit. Bytes
        // of 0x80 and above never match, and a borrow only sets bits above a true match, so
        // the lowest set bit is the first match.
        let found = (q.wrapping_sub(ONES) & !q
            | s.wrapping_sub(ONES) & !s
            | x.wrapping_sub(ONES * 0x20) & !x)
            & HIGHS;
        if found != 0 {
            return Some(offset + found.trailing_zeros() as usize / 8);
        }
        offset += 8;
    }
    let tail = words.remainder();
    tail.iter().position(|&c| c == b'"' || c == b'\\' || c < 0x20).map(|k| offset + k)
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
/// escapes. `None` at the end of the input, at a control character, or at an escape other
/// than the simple ones.
#[inline]
fn string(t: Marked<'_>, pos: usize) -> Option<(usize, usize, bool)> {
    let b = t.b;
    let start = pos + 1;
    let mut at = start;
    let mut escapes = false;
    loop {
        let found = t.next(at)?;
        match b[found] {
            b'"' => return Some((start, found, escapes)),
            b'\\' => {}
            _ => return None,
        }
        escaped(*b.get(found + 1)?)?;
        escapes = true;
        at = found + 2;
    }
}

/// Decodes the string whose opening quote is at `pos` in `b` onto `out`, in the same pass
/// that finds its end. Returns the position after the closing quote and whether a control
/// character was decoded; `None` as [`string`]. Bytes, not `str`: the input is UTF-8, cut only
/// at ASCII quotes and backslashes, and every simple escape decodes to ASCII, so the output is
/// UTF-8, with no boundary checks on the way.
fn decode_string(t: Marked<'_>, pos: usize, out: &mut Vec<u8>) -> Option<(usize, bool)> {
    let b = t.b;
    let mut from = pos + 1;
    let mut control = false;
    loop {
        let found = t.next(from)?;
        out.extend_from_slice(&b[from..found]);
        match b[found] {
            b'"' => return Some((found + 1, control)),
            b'\\' => {}
            _ => return None,
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
fn value(t: Marked<'_>, pos: usize) -> Option<(Value, usize)> {
    let b = t.b;
    match b.get(pos)? {
        b'"' => {
            let (start, end, escapes) = string(t, pos)?;
            Some((Value::Str(start, end, escapes), end + 1))
        }
        b'n' if b[pos..].starts_with(b"null") => Some((Value::Null, pos + 4)),
        _ => None,
    }
}

/// Walks the members of the object at the start of `b` (after whitespace): `each(key, pos)`
/// reads the value at `pos` and returns the position after it, or `None` to give up. Checks
/// that nothing but whitespace follows the object.
fn members(t: Marked<'_>, mut each: impl FnMut(&[u8], usize) -> Option<usize>) -> Option<()> {
    let b = t.b;
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
            let (key_start, key_end, key_escapes) = string(t, pos)?;
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

/// The span of a value, decoding escapes into `values`. Inlined: its usual cases are a move,
/// and as a call (seven a record) its prologue cost more than they do.
#[inline]
fn span(b: &[u8], value: Value, values: &mut Vec<u8>) -> Span {
    match value {
        Value::Null => Span::Null,
        Value::Str(start, end, false) => Span::Raw(start, end),
        Value::Str(start, end, true) => decoded(b.get(start..end).unwrap_or_default(), values),
    }
}

/// The span of `raw`'s content decoded onto `values`.
#[inline(never)]
fn decoded(raw: &[u8], values: &mut Vec<u8>) -> Span {
    let from = values.len();
    unescape(raw, values);
    Span::Decoded(from, values.len())
}

fn scalar<'a>(span: Span, raw: &'a str, values: &'a str) -> Scalar<'a> {
    let text = match span {
        Span::Null => return Scalar::Null,
        Span::Raw(start, end) => raw.get(start..end),
        Span::Decoded(start, end) => values.get(start..end),
    };
    text.map_or(Scalar::Null, |t| Scalar::Text(Cow::Borrowed(t)))
}

/// The end of the inner string whose opening `\"` is at `pos` in an escaped `properties`
/// text: its content `start..end` (escaped twice), the position after its closing `\"`, and
/// whether the content holds escapes. `None` for anything [`string`] would not accept once the
/// text is decoded, and for an escaped control character or `/` outside an inner escape (legal,
/// but never written by IoT Hub: the decoding path handles it).
#[inline]
fn inner_string(t: Marked<'_>, pos: usize) -> Option<(usize, usize, usize, bool)> {
    let b = t.b;
    if b.get(pos..pos + 2)? != b"\\\"" {
        return None;
    }
    let start = pos + 2;
    let mut at = start;
    let mut escapes = false;
    loop {
        let found = t.next(at)?;
        // A bare quote ends the `properties` string inside an inner one; a control character
        // is invalid.
        if b[found] != b'\\' {
            return None;
        }
        match *b.get(found + 1)? {
            b'"' => return Some((start, found, found + 2, escapes)),
            // `\\` is an inner backslash: an inner escape, whose character is `\"`, `\\`
            // or `\/` escaped once more, or a letter.
            b'\\' => {
                at = match *b.get(found + 2)? {
                    b'\\' if matches!(b.get(found + 3)?, b'"' | b'\\' | b'/') => found + 4,
                    b'/' | b'b' | b'f' | b'n' | b'r' | b't' => found + 3,
                    _ => return None,
                };
                escapes = true;
            }
            _ => return None,
        }
    }
}

/// Appends the content of an inner string checked by [`inner_string`], decoded twice.
fn unescape_twice(raw: &[u8], out: &mut Vec<u8>) {
    let mut from = 0;
    while let Some(found) = quote_or_backslash(raw, from) {
        out.extend_from_slice(&raw[from..found]);
        // Checked: `\\` then either `\` and a quote, backslash or slash, or a letter.
        let (byte, len) = match raw.get(found + 2) {
            Some(b'\\') => (raw.get(found + 3).copied(), 4),
            other => (other.copied(), 3),
        };
        let Some(decoded) = byte.and_then(escaped) else { break };
        out.push(decoded);
        from = found + len;
    }
    out.extend_from_slice(raw.get(from..).unwrap_or_default());
}

/// The inner fields of the `properties` string whose opening quote is at `pos`, read in place
/// from the escaped text (no decoded copy, no second pass), and the position after its closing
/// quote. Only the compact shape IoT Hub writes: `{`, members `\"key\":` then `\"text\"`
/// or `null`, separated by `,`, `}`, no whitespace, no repeated field. `None` otherwise: the
/// caller then decodes the string and reads that.
fn props_in_place(
    t: Marked<'_>,
    pos: usize,
    values: &mut Vec<u8>,
    last: &mut LastEscaped,
) -> Option<([Span; 7], usize)> {
    let b = t.b;
    let mut spans = [Span::Null; 7];
    let mut at = pos + 1;
    if b.get(at) != Some(&b'{') {
        return None;
    }
    at += 1;
    if b.get(at) == Some(&b'}') {
        at += 1;
    } else {
        let mut seen = 0_u8;
        loop {
            let (key_start, key_end, after_key, key_escapes) = inner_string(t, at)?;
            if key_escapes || b.get(after_key) != Some(&b':') {
                return None;
            }
            at = after_key + 1;
            let value = if b.get(at..at + 4)? == b"null" {
                at += 4;
                Span::Null
            } else if let Some(after) = last.repeated(b, at) {
                at = after;
                let from = values.len();
                values.extend_from_slice(&last.decoded);
                Span::Decoded(from, values.len())
            } else {
                let (start, end, after, escapes) = inner_string(t, at)?;
                at = after;
                if escapes {
                    let from = values.len();
                    last.unescape_twice(&b[start..end], values);
                    Span::Decoded(from, values.len())
                } else {
                    Span::Raw(start, end)
                }
            };
            if let Some(idx) = inner_field(&b[key_start..key_end]) {
                if seen & (1 << idx) != 0 {
                    return None;
                }
                seen |= 1 << idx;
                spans[idx] = value;
            }
            match b.get(at)? {
                b',' => at += 1,
                b'}' => {
                    at += 1;
                    break;
                }
                _ => return None,
            }
        }
    }
    (b.get(at) == Some(&b'"')).then_some((spans, at + 1))
}

/// The inner fields of a `properties` text, or `None` when serde should decode it.
fn inner(t: Marked<'_>, values: &mut Vec<u8>) -> Option<[Span; 7]> {
    let b = t.b;
    let mut spans = [Span::Null; 7];
    let mut seen = 0_u8;
    members(t, |key, pos| {
        let (value, after) = value(t, pos)?;
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

/// A record as the fast reader reads it: the fields of the usual storage-blob record only.
/// [`crate::read::record::RawRecord`], which has the fields of every form, is more than twice the
/// size: building, moving and dropping one a line cost 6% of the reader's instructions.
#[derive(Debug)]
pub(crate) struct FastRecord<'a> {
    pub(crate) time: Scalar<'a>,
    pub(crate) resource_id: Scalar<'a>,
    pub(crate) operation: Scalar<'a>,
    pub(crate) category: Scalar<'a>,
    pub(crate) level: Scalar<'a>,
    pub(crate) result_type: Scalar<'a>,
    pub(crate) result_description: Scalar<'a>,
    pub(crate) properties: PropsValue<'a>,
}

impl<'a> FastRecord<'a> {
    /// The fields [`crate::read::record::storage_event`] reads. A record the fast reader
    /// accepts is never an Event Grid, Log Analytics or legacy record (those have keys it
    /// gives up on), so it counts as JSON Lines and becomes an event through that function.
    pub(crate) fn fields(&self) -> Fields<'_, 'a> {
        Fields {
            time: &self.time,
            resource_id: &self.resource_id,
            resource: &ABSENT,
            operation: &self.operation,
            category: &self.category,
            level: &self.level,
            result_type: &self.result_type,
            result_description: &self.result_description,
            status_type: &ABSENT,
            status_description: &ABSENT,
            properties: &self.properties,
            flat: &NO_FLAT,
        }
    }
}

/// What the `properties` member held.
enum PropsSeen {
    Absent,
    Null,
    /// The usual compact text, read in place: spans of the line.
    InPlace([Span; 7]),
    /// A string decoded into [`Scratch::props`]; whether that holds control characters.
    Decoded {
        control: bool,
    },
}

/// The record on `line` (already trimmed), its `properties` fields decoded when they could be
/// here (then [`FastRecord::properties`] is [`PropsValue::Object`]); `None` when the line needs
/// the serde decoder.
#[inline]
pub(crate) fn record<'s>(line: &'s [u8], scratch: &'s mut Scratch) -> Option<FastRecord<'s>> {
    if line.first() != Some(&b'{') {
        return None;
    }
    let Scratch { props, values, marks, props_marks, last_escaped } = scratch;
    props.clear();
    values.clear();
    let t = Marked::new(line, marks);
    // One check of the whole line is cheaper than one per field.
    let text = t.text()?;
    let mut found = [None::<Value>; PROPERTIES];
    let mut seen = PropsSeen::Absent;
    members(t, |key, pos| {
        if key == b"properties" {
            if !matches!(seen, PropsSeen::Absent) {
                return None;
            }
            if line.get(pos) == Some(&b'"') {
                // A failed attempt may leave bytes in `values`; no span points at them.
                if let Some((spans, after)) = props_in_place(t, pos, values, last_escaped) {
                    seen = PropsSeen::InPlace(spans);
                    return Some(after);
                }
                let (after, control) = decode_string(t, pos, props)?;
                seen = PropsSeen::Decoded { control };
                Some(after)
            } else {
                let (value, after) = value(t, pos)?;
                seen = PropsSeen::Null;
                matches!(value, Value::Null).then_some(after)
            }
        } else if let Some(idx) = outer(key) {
            if found[idx].is_some() {
                return None;
            }
            let (value, after) = value(t, pos)?;
            found[idx] = Some(value);
            Some(after)
        } else if ignored(key) {
            value(t, pos).map(|(_, after)| after)
        } else {
            None
        }
    })?;

    let mut spans = [Span::Null; PROPERTIES];
    for (slot, value) in spans.iter_mut().zip(found) {
        *slot = value.map_or(Span::Null, |v| span(line, v, values));
    }
    // The inner fields' spans and the text they point into, or the text for serde.
    let (inner_spans, props_text): (Option<([Span; 7], &str)>, Option<&str>) = match seen {
        PropsSeen::Absent | PropsSeen::Null => (None, None),
        PropsSeen::InPlace(inner) => (Some((inner, text)), None),
        PropsSeen::Decoded { control } => {
            // UTF-8 (see `decode_string`): this check never fails.
            let props = std::str::from_utf8(props).ok()?;
            let decoded = if control || props.trim().is_empty() {
                None
            } else {
                inner(Marked::new(props.as_bytes(), props_marks), values)
            };
            match decoded {
                Some(inner) => (Some((inner, props)), None),
                None => (None, Some(props)),
            }
        }
    };

    // UTF-8, as above.
    let values: &'s str = std::str::from_utf8(values).ok()?;
    let field = |idx: usize| scalar(spans[idx], text, values);
    let properties = match (inner_spans, props_text) {
        (Some((s, base)), _) => {
            let f = |idx: usize| scalar(s[idx], base, values);
            PropsValue::Object(Props {
                device_id: f(0),
                module_id: f(1),
                protocol: f(2),
                auth_type: f(3),
                masked_ip_address: f(4),
                sdk_version: f(5),
                status_code: f(6),
            })
        }
        (None, Some(props)) => PropsValue::Text(Cow::Borrowed(props)),
        (None, None) => PropsValue::Null,
    };
    Some(FastRecord {
        time: field(0),
        resource_id: field(1),
        operation: field(2),
        category: field(3),
        level: field(4),
        result_type: field(5),
        result_description: field(6),
        properties,
    })
}

#[cfg(test)]
mod tests {
    use std::fmt::Write as _;

    use super::*;

    /// The fast path's view of `line`: `None` when it gives up, else the fields it found and
    /// whether it decoded `properties` itself.
    fn check(line: &str, expected: Option<&str>) {
        let mut scratch = Scratch::default();
        let got = record(line.as_bytes(), &mut scratch).map(|rec| {
            let mut out = format!(
                "time={:?} op={:?} level={:?} rt={:?}",
                rec.time.text(),
                rec.operation.text(),
                rec.level.text(),
                rec.result_type.text()
            );
            if let PropsValue::Object(p) = &rec.properties {
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
        check("{\"time\":\"\u{e9}\"}", Some("time=Some(\"\u{e9}\") op=None level=None rt=None"));
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
        event.result_type = dropscope_model::ResultCode::new(404_104);
        event.result_description = Some("Closed".into());
        event.protocol = Some("Mqtt".into());
        event.masked_ip = Some("1.2.3.XXX".into());
        event.sdk_version = Some("sdk/1 (x)".into());
        event.auth_type = Some(r#"{"scope":"device"}"#.into());
        event.status_code = Some("404".into());
        let mut line = Vec::new();
        crate::write::push_json_line(&mut line, &event, &crate::write::WriteOptions::default());
        let mut scratch = Scratch::default();
        let decoded = record(&line, &mut scratch).and_then(|rec| {
            matches!(rec.properties, PropsValue::Object(_))
                .then(|| {
                    crate::read::record::storage_event(
                        &rec.fields(),
                        &mut crate::read::record::Recent::default(),
                        0,
                        0,
                    )
                    .ok()
                })
                .flatten()
        });
        assert_eq!(decoded, Some(event));
    }

    #[test]
    fn reads_the_usual_properties_in_place() {
        let line = br#""{\"deviceId\":\"d\",\"authType\":\"{\\\"scope\\\":\\\"device\\\",\\\"t\\\":\\\"a\\\\b\\/c\\nd\\\"}\",\"statusCode\":null,\"errorMessage\":\"x\"}" x"#;
        let mut values = Vec::new();
        let mut marks = Marks::default();
        let (spans, after) = props_in_place(
            Marked::new(line, &mut marks),
            0,
            &mut values,
            &mut LastEscaped::default(),
        )
        .expect("in place");
        assert_eq!(&line[after..], b" x");
        assert_eq!(spans[0], Span::Raw(17, 18));
        assert_eq!(spans[6], Span::Null);
        let (line, values) =
            (std::str::from_utf8(line).unwrap(), String::from_utf8(values).unwrap());
        assert_eq!(
            scalar(spans[3], line, &values).text(),
            Some("{\"scope\":\"device\",\"t\":\"a\\b/c\nd\"}")
        );
        // Shapes it leaves to the decoding path.
        let mut values = Vec::new();
        for text in [r#""{ }""#, r#""{\"a\" :null}""#, r#""{\"a\":\"\/\"}""#, r#""{\"a\":1}""#] {
            let text = Marked::new(text.as_bytes(), &mut marks);
            assert_eq!(props_in_place(text, 0, &mut values, &mut LastEscaped::default()), None);
        }
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
            "{\"time\":\"\t\"}",
            r#"[{"time":"a"}]"#,
            r#"{"ti\"me":"a"}"#,
            r#"{"records":[]}"#,
        ] {
            check(line, None);
        }
    }
}
