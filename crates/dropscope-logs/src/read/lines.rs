//! JSON Lines: one record per line, parsed in parallel chunks split at newlines. Each line is
//! first tried by the hand-written [`fast`] reader, and decoded with serde when it declines.
//!
//! A block of lines is cut at newlines into chunks of about 512 KiB, parsed in parallel, each
//! numbering its lines from 1. Their records are kept per chunk, not yet appended to the
//! input's, so that the appending, which is serial, overlaps the parsing of the next block.

use memchr::memchr;
use rayon::prelude::*;

use crate::read::fast::{self, Scratch};
use crate::read::record::{RawRecord, Recent, storage_event, to_event};
use crate::read::{Parsed, scan};
use crate::{Form, RejectReason};

/// Chunks of about this size are parsed in parallel: small enough that the last of a block
/// leaves the other threads idle briefly, large enough that each costs one task.
const CHUNK: usize = 1 << 19;

/// Parses `buf`, whose first line is line `first_line` of the input, appending to `out`.
/// `cut_at_end` says the input ends here without a newline, so a last line that fails to parse
/// for lack of bytes is [`RejectReason::Truncated`]. A line longer than `max_line` bytes (its
/// newline not counted) is [`RejectReason::TooLong`], unparsed. Returns the number of newlines in
/// `buf`.
pub(crate) fn parse_lines_parallel(
    buf: &[u8],
    source: u32,
    first_line: u64,
    cut_at_end: bool,
    max_line: usize,
    out: &mut Parsed,
) -> u64 {
    parse_chunks(buf, source, cut_at_end, max_line).append_to(first_line, out)
}

/// Rejects line `line_no` as [`RejectReason::TooLong`]; `head` is the start of the line (at least
/// `max_line + 1` bytes of it, or all). Every reader of JSON Lines rejects a long line through
/// this, with the same detail and text, whether it held the line or skipped it.
pub(crate) fn too_long(out: &mut Parsed, source: u32, line_no: u64, head: &[u8], max_line: usize) {
    let head = &head[..head.len().min(max_line.saturating_add(1))];
    out.count(Form::JsonLines);
    let start = scan::skip_ws(head, 0);
    out.reject(
        source,
        line_no,
        RejectReason::TooLong,
        format!("the line is longer than {max_line} bytes (--max-line)"),
        &head[start..],
    );
}

/// The records of a block of lines, parsed in chunks, each numbered from line 1, not yet
/// appended to the input's records (so that appending, which is serial, can overlap the
/// parsing of the next block).
#[derive(Debug, Default)]
pub(crate) struct Chunks(Vec<(Parsed, u64)>);

/// Parses `buf` in parallel chunks; see [`parse_lines_parallel`].
pub(crate) fn parse_chunks(buf: &[u8], source: u32, cut_at_end: bool, max_line: usize) -> Chunks {
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
    Chunks(
        chunks
            .into_par_iter()
            .enumerate()
            .map(|(idx, chunk)| {
                parse_lines(chunk, source, cut_at_end && idx + 1 == n_chunks, max_line, true)
            })
            .collect(),
    )
}

impl Chunks {
    /// Appends the records to `out`, numbering lines from `first_line`. Returns the number of
    /// newlines in the block.
    pub(crate) fn append_to(self, first_line: u64, out: &mut Parsed) -> u64 {
        out.events.reserve(self.0.iter().map(|(part, _)| part.events.len()).sum());
        let mut offset = first_line - 1;
        for (mut part, newlines) in self.0 {
            for event in &mut part.events {
                event.source_line += offset;
            }
            for reject in &mut part.rejects {
                reject.line += offset;
            }
            out.append(part);
            offset += newlines;
        }
        offset + 1 - first_line
    }
}

/// Parses one chunk with line numbers starting at 1; `fast` tries [`fast::record`] first.
fn parse_lines(
    buf: &[u8],
    source: u32,
    cut_at_end: bool,
    max_line: usize,
    fast: bool,
) -> (Parsed, u64) {
    let mut out = Parsed::default();
    // Records are rarely shorter than this: one allocation per chunk, seldom a second.
    out.events.reserve(buf.len() / 256);
    let mut scratch = Scratch::default();
    let mut recent = Recent::default();
    let mut line_no = 1;
    let mut rest = buf;
    while !rest.is_empty() {
        let (line, next, had_newline) = match memchr(b'\n', rest) {
            Some(i) => (&rest[..i], &rest[i + 1..], true),
            None => (rest, &rest[rest.len()..], false),
        };
        if line.len() > max_line {
            too_long(&mut out, source, line_no, line, max_line);
            if had_newline {
                line_no += 1;
            }
            rest = next;
            continue;
        }
        let start = scan::skip_ws(line, 0);
        let line = line[start..].trim_ascii_end();
        if !line.is_empty() {
            let cut = cut_at_end && !had_newline;
            if !(fast && parse_fast(line, source, line_no, &mut scratch, &mut recent, &mut out)) {
                parse_line(line, source, line_no, cut, &mut out);
            }
        }
        if had_newline {
            line_no += 1;
        }
        rest = next;
    }
    (out, line_no - 1)
}

/// `buf` read by the hand-written reader and by serde alone, as one chunk (a last line with no
/// newline counted as cut).
fn fast_and_serde(buf: &[u8]) -> ((Parsed, u64), (Parsed, u64)) {
    let cut = !buf.ends_with(b"\n");
    (parse_lines(buf, 0, cut, usize::MAX, true), parse_lines(buf, 0, cut, usize::MAX, false))
}

/// Panics unless the hand-written reader and serde read `buf` the same way (events, rejects,
/// forms, line counts): the differential fuzz target `read_jsonl_fast_agrees`.
pub(crate) fn assert_fast_agrees(buf: &[u8]) {
    let (fast, serde) = fast_and_serde(buf);
    assert!(
        fast == serde,
        "the fast reader and serde differ on {:?}",
        String::from_utf8_lossy(buf)
    );
}

/// Reads `line` with [`fast::record`]; `false` when it needs [`parse_line`].
fn parse_fast(
    line: &[u8],
    source: u32,
    line_no: u64,
    scratch: &mut Scratch,
    recent: &mut Recent,
    out: &mut Parsed,
) -> bool {
    let Some(rec) = fast::record(line, scratch) else {
        return false;
    };
    // See `FastRecord::fields`: what `RawRecord::form` says of every record it reads.
    out.count(Form::JsonLines);
    match storage_event(&rec.fields(), recent, source, line_no) {
        Ok(event) => out.events.push(event),
        Err(rejection) => out.reject(source, line_no, rejection.reason, rejection.detail, line),
    }
    true
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
        let mut parsed = Parsed::default();
        parse_lines_parallel(
            input.as_bytes(),
            0,
            1,
            !input.ends_with('\n'),
            usize::MAX,
            &mut parsed,
        );
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
    fn rejects_lines_longer_than_the_bound_unparsed() {
        let max = REC.len();
        let input = format!("{REC}\n{REC} \nnope\r\n {REC}");
        let mut parsed = Parsed::default();
        parse_lines_parallel(input.as_bytes(), 0, 1, true, max, &mut parsed);
        let got: Vec<(u64, &str)> =
            parsed.rejects.iter().map(|r| (r.line, r.reason.as_str())).collect();
        assert_eq!(got, [(2, "too_long"), (3, "bad_json"), (4, "too_long")]);
        assert_eq!(parsed.events.len(), 1);
        assert_eq!(parsed.forms.values().sum::<u64>(), 4);
        // The text is the line's start, leading blanks skipped.
        assert!(parsed.rejects[2].text.starts_with("{\"time\""));
    }

    #[test]
    fn chunks_keep_line_numbers() {
        let input = format!("{REC}\n").repeat(CHUNK / REC.len() * 3);
        let mut parsed = Parsed::default();
        let newlines = parse_lines_parallel(input.as_bytes(), 0, 5, false, usize::MAX, &mut parsed);
        assert_eq!(newlines, parsed.events.len() as u64);
        let lines: Vec<u64> = parsed.events.iter().map(|e| e.source_line).collect();
        let expected: Vec<u64> = (5..5 + lines.len() as u64).collect();
        assert_eq!(lines, expected);
    }
}

#[cfg(test)]
mod fast_path_tests {
    use proptest::prelude::*;

    use super::*;
    use crate::write::{WriteOptions, push_json_line};
    use dropscope_model::Sym;

    /// Bytes that make JSON unusual when put anywhere in a record.
    const NASTY: &[u8] = b"\"\\{}[],:nu0 \t\n/x\xC3\xFF";

    fn lines(events: &[dropscope_model::Event], frac_digits: u32) -> Vec<u8> {
        let opts = WriteOptions { frac_digits, ..WriteOptions::default() };
        let mut out = Vec::new();
        for event in events {
            push_json_line(&mut out, event, &opts);
            out.push(b'\n');
        }
        out
    }

    /// The fast path and the serde path read `text` the same way.
    fn same(text: &[u8]) -> Result<(), TestCaseError> {
        let (fast, serde) = fast_and_serde(text);
        prop_assert_eq!(fast, serde, "{}", String::from_utf8_lossy(text));
        Ok(())
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(200))]

        #[test]
        fn written_records_read_the_same(
            events in proptest::collection::vec(dropscope_model::proptest::event(), 1..8),
            frac in prop_oneof![Just(0_u32), Just(7)],
        ) {
            let text = lines(&events, frac);
            same(&text)?;
            let parsed = parse_lines(&text, 0, false, usize::MAX, true).0;
            prop_assert_eq!(parsed.events.len(), events.len());
        }

        #[test]
        fn mutated_records_read_the_same(
            events in proptest::collection::vec(dropscope_model::proptest::event(), 1..4),
            edits in proptest::collection::vec(
                (any::<proptest::sample::Index>(), 0..3_u8, proptest::sample::select(NASTY)),
                1..4,
            ),
        ) {
            let mut text = lines(&events, 0);
            for (at, kind, byte) in edits {
                let at = at.index(text.len().max(1)).min(text.len());
                match kind {
                    0 if at < text.len() => {
                        text.remove(at);
                    }
                    1 if at < text.len() => text[at] = byte,
                    _ => text.insert(at, byte),
                }
            }
            same(&text)?;
        }
    }

    /// An escaped inner value read again from memory: only when the same bytes are followed by
    /// its closing quote, not when they begin a longer value or a broken one.
    #[test]
    fn repeated_escaped_values_read_the_same() {
        let line = |auth: &str| {
            format!(
                r#"{{"time":"2020-01-01T00:00:00Z","operationName":"deviceConnect","properties":"{{\"deviceId\":\"a\",\"authType\":{auth},\"protocol\":\"Mqtt\"}}"}}"#
            )
        };
        let first = r#"\"{\\\"s\\\":1}\""#;
        let text = [
            line(first),
            line(first),
            line(r#"\"{\\\"s\\\":1}x\""#),
            line(first),
            line(r#"\"{\\\"s\\\":1}"#),
            line(first),
            line(r#"\"{\\\"s\\\":1}AB"#),
            line(r#"\"{\\\"s\\\":1}\\\"\""#),
            line(first),
            line(r#"\"{\\\"s\\\":2}\""#),
        ]
        .join("\n");
        assert!(same(text.as_bytes()).is_ok(), "{text}");
        let parsed = parse_lines(text.as_bytes(), 0, false, usize::MAX, true).0;
        let auth: Vec<_> = parsed.events.iter().map(|e| e.auth_type.map(Sym::as_str)).collect();
        assert_eq!(auth[2], Some(r#"{"s":1}x"#));
        assert_eq!(auth[3], Some(r#"{"s":1}"#));
    }

    #[test]
    fn hand_made_oddities_read_the_same() {
        let base = r#"{"time":"2020-01-01T00:00:00Z","operationName":"deviceConnect","properties":"{\"deviceId\":\"a\"}"}"#;
        for line in [
            base.to_owned(),
            base.replace("deviceConnect", "deviceTelemetry"),
            base.replace("2020", " UTC"),
            base.replace(r#""time""#, r#""category":"Routes","time""#),
            base.replace(r#""time""#, r#""level":"Verbose","time""#),
            base.replace(r#""time""#, r#""resultType":"x","time""#),
            base.replace(r#"\"a\""#, r#"\"a\",\"deviceId\":\"b\""#),
            base.replace(r#"\"a\""#, r#"\"\\u0041\""#),
            base.replace(r#"{\"deviceId\":\"a\"}"#, "  "),
            base.replace(r#"{\"deviceId\":\"a\"}"#, r#"{\"deviceId\":"#),
            base.replace(r#"{\"deviceId\":\"a\"}"#, r#"{\"deviceId\":null}"#),
            base.replace(r#"\"a\""#, r#"\"a\",\"authType\":\"{\\\"s\\\":1}\""#),
            base.replace(r#"\"a\""#, r#"\"a\\tb\\n\""#),
            base.replace(r#"\"a\""#, r#"\"a\\\\b\\/c\\\"d\\\/e\""#),
            base.replace(r#"\"a\""#, r#"\"a\/b\""#),
            base.replace(r#"\"a\""#, r#"\"a\nb\""#),
            base.replace(r#"\"a\""#, r#"\"a\\u0041\""#),
            base.replace(r#"\"a\""#, r#"\"a\\x\""#),
            base.replace(r#"\"a\""#, r#"\"a\\\\\""#),
            base.replace(r#"\"a\""#, r#"\"a\",\"x\":\"\\\"\""#),
            base.replace(r#"\"a\""#, r#"\"a\", \"protocol\":null"#),
            base.replace(r#"\"a\""#, r#"\"a\",\"protocol\":nul"#),
            base.replace(r#"\"a\""#, r#"\"a\",\"protocol\":1"#),
            base.replace(r#"\"a\""#, r#"\"a\",\"protocol\":\"x\",\"protocol\":null"#),
            base.replace(r#"\"a\""#, r#"\"a\",\"pro\\tocol\":\"x\""#),
            base.replace(r#"\"a\"}"#, r#"\"a\"}}"#),
            base.replace(r#"\"a\"}"#, r#"\"a\""#),
            base.replace(r#"{\"deviceId\":\"a\"}"#, "{}"),
            base.replace(r#"{\"deviceId\":\"a\"}"#, r#"{\"deviceId\":\"a"#),
            base.replace(r#"{\"deviceId\":\"a\"}"#, r#"{\"deviceId\":\"a\"\"#),
            base.replace(r#"\"a\"}"#, r#"\"a\"}\n"#),
            base.replace(r#""operationName""#, r#""eventType":"x","operationName""#),
        ] {
            assert!(same(format!("{line}\n{line}").as_bytes()).is_ok(), "{line}");
        }
    }
}
