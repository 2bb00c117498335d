//! JSON string literals written by hand, byte for byte the same wherever dropscope writes JSON
//! text without serde: the log writers of dropscope-logs and the JSON Lines tables of
//! dropscope-tables.

/// Bytes that must be escaped inside a JSON string: quotes, backslashes, control characters.
const NEEDS_ESCAPE: [bool; 256] = {
    let mut table = [false; 256];
    let mut b = 0;
    while b < 0x20 {
        table[b] = true;
        b += 1;
    }
    table[b'"' as usize] = true;
    table[b'\\' as usize] = true;
    table
};

/// Appends `text` as a JSON string literal, escaping quotes, backslashes and control characters.
/// Runs without escapes, the common case, are copied whole.
///
/// ```
/// let mut out = Vec::new();
/// dropscope_model::json::push_str(&mut out, "a\"b\n");
/// assert_eq!(out, br#""a\"b\n""#);
/// ```
pub fn push_str(out: &mut Vec<u8>, text: &str) {
    out.reserve(text.len() + 2);
    out.push(b'"');
    push_escaped(out, text.as_bytes());
    out.push(b'"');
}

/// Appends the escaped form of `bytes` (valid UTF-8), without the surrounding quotes.
pub fn push_escaped(out: &mut Vec<u8>, bytes: &[u8]) {
    let mut start = 0;
    for (idx, &b) in bytes.iter().enumerate() {
        if !NEEDS_ESCAPE[b as usize] {
            continue;
        }
        out.extend_from_slice(&bytes[start..idx]);
        match b {
            b'"' => out.extend_from_slice(b"\\\""),
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            b'\t' => out.extend_from_slice(b"\\t"),
            _ => {
                const HEX: &[u8; 16] = b"0123456789abcdef";
                out.extend_from_slice(b"\\u00");
                out.push(HEX[usize::from(b >> 4)]);
                out.push(HEX[usize::from(b & 0xf)]);
            }
        }
        start = idx + 1;
    }
    out.extend_from_slice(&bytes[start..]);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_strings_escape_controls_and_quotes() {
        let mut out = Vec::new();
        push_str(&mut out, "a\"b\\c\n\u{1}<é>");
        assert_eq!(String::from_utf8(out).expect("utf-8"), r#""a\"b\\c\n\u0001<é>""#);
    }
}
