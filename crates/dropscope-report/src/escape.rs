//! Escaping of untrusted text (anything that came from the logs) for HTML and Markdown.
//!
//! Both escapers also neutralise what could fool a reader without being markup: line breaks
//! (which would end a Markdown table row), other control characters, and Unicode bidirectional
//! overrides (which can make `evil-device` display as another id).

/// Whether `c` would be invisible or reorder the text around it.
fn is_sneaky(c: char) -> bool {
    c.is_control()
        || matches!(c, '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

/// Escapes text for HTML element content and quoted attribute values.
pub(crate) fn html(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            '\n' | '\r' | '\t' => out.push(' '),
            c if is_sneaky(c) => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
    out
}

/// Escapes text for Markdown (`CommonMark` and GitHub tables): every character that can start
/// a link, an image, emphasis, code, raw HTML, an autolink or a table cell gets a backslash, so
/// `](javascript:alert(1))` stays text. GitHub also links bare `https://...`, `www.` and
/// e-mail addresses; a backslash before the `:` of `://`, the `.` of `www.` and every `@` splits
/// the text where its autolinker would match, while the rendered text stays the same.
pub(crate) fn markdown(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 8);
    for (idx, c) in text.char_indices() {
        let rest = &text[idx..];
        let autolink = match c {
            ':' => rest.starts_with("://"),
            '.' => text[..idx].to_ascii_lowercase().ends_with("www"),
            '@' => true,
            _ => false,
        };
        if autolink {
            out.push('\\');
            out.push(c);
            continue;
        }
        match c {
            '\\' | '`' | '*' | '_' | '[' | ']' | '(' | ')' | '<' | '>' | '|' | '!' | '#' | '~'
            | '&' | '{' | '}' | '"' => {
                out.push('\\');
                out.push(c);
            }
            '\n' | '\r' | '\t' => out.push(' '),
            c if is_sneaky(c) => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(escape: fn(&str) -> String, input: &str, expected: &str) {
        assert_eq!(escape(input), expected, "{input}");
    }

    #[test]
    fn html_escapes_markup_and_quotes() {
        check(html, "<script>alert(1)</script>", "&lt;script&gt;alert(1)&lt;/script&gt;");
        check(html, "a\"b'c&d", "a&quot;b&#39;c&amp;d");
        check(html, "line\nbreak", "line break");
        check(html, "evil\u{202E}gpj.exe", "evil\u{FFFD}gpj.exe");
        check(html, "sensor-000042", "sensor-000042");
    }

    #[test]
    fn markdown_escapes_links_code_html_and_tables() {
        check(markdown, "](javascript:alert(1))", "\\]\\(javascript:alert\\(1\\)\\)");
        check(markdown, "[x](http://e)", "\\[x\\]\\(http\\://e\\)");
        check(markdown, "a|b", "a\\|b");
        check(markdown, "`code`", "\\`code\\`");
        check(markdown, "<img src=x>", "\\<img src=x\\>");
        check(markdown, "*_bold_*", "\\*\\_bold\\_\\*");
        check(markdown, "back\\slash", "back\\\\slash");
        check(markdown, "row\nbreak", "row break");
        check(markdown, "sensor-000042 24.9.142.XXX", "sensor-000042 24.9.142.XXX");
    }

    #[test]
    fn markdown_breaks_github_autolinks() {
        check(markdown, "https://evil.example/x", "https\\://evil.example/x");
        check(markdown, "WWW.evil.example", "WWW\\.evil.example");
        check(markdown, "ops@evil.example", "ops\\@evil.example");
        check(markdown, "a:b", "a:b");
    }
}
