//! A structural JSON scanner: finds where values end without decoding them, so multi-line documents
//! can be cut into records (each with its line) and one bad record does not hide the others.

use memchr::memchr2;

/// The input ended inside a value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Eof;

/// The first index at or after `pos` that is not JSON whitespace.
pub(crate) fn skip_ws(buf: &[u8], mut pos: usize) -> usize {
    while pos < buf.len() && matches!(buf[pos], b' ' | b'\t' | b'\n' | b'\r') {
        pos += 1;
    }
    pos
}

/// The index just after the string that starts with the quote at `start`.
pub(crate) fn string_end(buf: &[u8], start: usize) -> Result<usize, Eof> {
    let mut pos = start + 1;
    loop {
        let rest = buf.get(pos..).ok_or(Eof)?;
        match memchr2(b'"', b'\\', rest) {
            None => return Err(Eof),
            Some(k) if rest[k] == b'\\' => pos += k + 2,
            Some(k) => return Ok(pos + k + 1),
        }
    }
}

/// The index just after the value that starts at `start` (which must be in bounds and not
/// whitespace). Brackets are only counted, not matched: a mismatched document is cut somewhere
/// and the decoder then rejects the piece. Always returns more than `start`.
pub(crate) fn value_end(buf: &[u8], start: usize) -> Result<usize, Eof> {
    match buf.get(start) {
        None => Err(Eof),
        Some(b'"') => string_end(buf, start),
        Some(b'{' | b'[') => {
            let mut depth: u64 = 0;
            let mut pos = start;
            while pos < buf.len() {
                match buf[pos] {
                    b'"' => {
                        pos = string_end(buf, pos)?;
                        continue;
                    }
                    b'{' | b'[' => depth += 1,
                    b'}' | b']' => {
                        depth -= 1;
                        if depth == 0 {
                            return Ok(pos + 1);
                        }
                    }
                    _ => {}
                }
                pos += 1;
            }
            Err(Eof)
        }
        Some(_) => {
            let mut pos = start;
            while pos < buf.len()
                && !matches!(buf[pos], b',' | b'}' | b']' | b' ' | b'\t' | b'\n' | b'\r')
            {
                pos += 1;
            }
            Ok(pos.max(start + 1))
        }
    }
}

/// The top-level members of the object that starts at `obj_start`: each key's raw bytes (without
/// quotes) and where its value starts. Stops quietly at the first thing that is not a member
/// (the end of the object, a syntax error, the end of the input), after at most `limit` members.
pub(crate) fn members(buf: &[u8], obj_start: usize, limit: usize) -> Vec<(&[u8], usize)> {
    let mut out = Vec::new();
    let mut pos = obj_start + 1;
    while out.len() < limit {
        pos = skip_ws(buf, pos);
        if buf.get(pos) != Some(&b'"') {
            break;
        }
        let Ok(key_end) = string_end(buf, pos) else { break };
        let key = &buf[pos + 1..key_end - 1];
        pos = skip_ws(buf, key_end);
        if buf.get(pos) != Some(&b':') {
            break;
        }
        let value_start = skip_ws(buf, pos + 1);
        if value_start >= buf.len() {
            break;
        }
        out.push((key, value_start));
        let Ok(end) = value_end(buf, value_start) else { break };
        pos = skip_ws(buf, end);
        if buf.get(pos) == Some(&b',') {
            pos += 1;
        }
    }
    out
}

/// One element of an array, as found by [`elements`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Element {
    /// Where it starts.
    pub(crate) start: usize,
    /// Where it ends, or `Err(Eof)` when the input ends inside it.
    pub(crate) end: Result<usize, Eof>,
}

/// Calls `each` on every element of the array that starts at `arr_start`, in order, and returns
/// the index after the array (`Err(Eof)` when the input ends first). Stray commas are skipped.
pub(crate) fn elements(
    buf: &[u8],
    arr_start: usize,
    mut each: impl FnMut(Element),
) -> Result<usize, Eof> {
    let mut pos = arr_start + 1;
    loop {
        pos = skip_ws(buf, pos);
        match buf.get(pos) {
            None => return Err(Eof),
            Some(b']') => return Ok(pos + 1),
            Some(b',') => pos += 1,
            Some(_) => {
                let end = value_end(buf, pos);
                each(Element { start: pos, end });
                pos = end?;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(input: &str, expected: Result<&str, Eof>) {
        let start = skip_ws(input.as_bytes(), 0);
        let got = value_end(input.as_bytes(), start).map(|end| &input[start..end]);
        assert_eq!(got, expected, "{input:?}");
    }

    #[test]
    fn finds_value_ends() {
        check(r#" {"a":"}\"{","b":[1,{}]} tail"#, Ok(r#"{"a":"}\"{","b":[1,{}]}"#));
        check(r#""x\\" y"#, Ok(r#""x\\""#));
        check("12,3", Ok("12"));
        check("]", Ok("]"));
        check(r#"{"a":"#, Err(Eof));
        check(r#"{"a":"b\"#, Err(Eof));
        check("[", Err(Eof));
    }

    #[test]
    fn lists_members_and_elements() {
        let doc = br#"{ "records" : [ {"a":1}, 2 ,{"b":[3]} ], "x": null }"#;
        let keys: Vec<&[u8]> = members(doc, 0, 10).into_iter().map(|(k, _)| k).collect();
        assert_eq!(keys, vec![&b"records"[..], &b"x"[..]]);
        let arr = members(doc, 0, 10)[0].1;
        let mut found = Vec::new();
        let end = elements(doc, arr, |e| {
            found.push(
                String::from_utf8_lossy(&doc[e.start..e.end.unwrap_or(doc.len())]).into_owned(),
            );
        });
        assert_eq!(found, vec![r#"{"a":1}"#, "2", r#"{"b":[3]}"#]);
        assert_eq!(end.map(|e| doc[e - 1]), Ok(b']'));
        assert_eq!(elements(b"[1, {", 0, |_| {}), Err(Eof));
    }
}
