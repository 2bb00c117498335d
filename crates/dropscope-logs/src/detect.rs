//! Form detection: which export form an input is, decided from its bytes, never its name.

use crate::Form;
use crate::read::record::routed::is_monitor_status;
use crate::read::scan;

/// How an input is cut into records, beyond its [`Form`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Layout {
    /// One record per line: streamed in blocks and parsed in parallel.
    Lines,
    /// One multi-line JSON document (or several concatenated): read whole.
    Document,
    /// A CSV with a header: streamed row by row.
    Csv,
    /// Parquet or Arrow IPC.
    Columnar,
    /// An Avro container: read whole.
    Avro,
}

/// The export form of an input, from its bytes (after gzip is removed). `None` when the input is
/// empty or whitespace, or is none of the forms.
///
/// Only the start of the input is looked at, so a prefix of a few kilobytes is enough. The JSON
/// forms are told apart by the keys of the first record: a `records` array is the envelope,
/// `event` is a routed connection-state event as `az iot hub monitor-events` prints it,
/// `Properties` with `SystemProperties` or `Body` a routed message, `eventType` is Event Grid, `specversion` or `type` is CloudEvents, `TimeGenerated` and the
/// other Log Analytics column names are a Log Analytics export, a flat `deviceId` without
/// `properties` is a legacy operations-monitoring record; otherwise a first record that ends on
/// its first line means JSON Lines and a longer one pretty-printed objects. A CSV is recognised
/// by a header naming `TimeGenerated` and `OperationName`.
///
/// ```
/// use dropscope_logs::Form;
/// use dropscope_logs::detect::detect;
///
/// assert_eq!(detect(b"PAR1\x15\x04"), Some(Form::Parquet));
/// assert_eq!(detect(b"{\"records\": []}"), Some(Form::RecordsEnvelope));
/// assert_eq!(detect(b"TimeGenerated [UTC],OperationName,properties_s\n"), Some(Form::LogAnalyticsCsv));
/// assert_eq!(detect(b"   "), None);
/// ```
pub fn detect(bytes: &[u8]) -> Option<Form> {
    sniff(bytes).map(|(form, _)| form)
}

/// [`detect`], with the layout the reader needs.
pub(crate) fn sniff(bytes: &[u8]) -> Option<(Form, Layout)> {
    if bytes.starts_with(b"PAR1") {
        return Some((Form::Parquet, Layout::Columnar));
    }
    if bytes.starts_with(b"ARROW1") {
        return Some((Form::ArrowIpc, Layout::Columnar));
    }
    if bytes.starts_with(b"Obj\x01") {
        return Some((Form::Avro, Layout::Avro));
    }
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let mut start = scan::skip_ws(bytes, 0);
    // A saved `az iot hub monitor-events` output starts with the monitor's status line.
    while let Some(end) = memchr::memchr(b'\n', &bytes[start..]).map(|i| start + i)
        && is_monitor_status(&bytes[start..end])
    {
        start = scan::skip_ws(bytes, end + 1);
    }
    match bytes.get(start)? {
        b'{' => Some(sniff_object(bytes, start)),
        b'[' => Some(sniff_array(bytes, start)),
        _ => is_csv_header(&bytes[start..]).then_some((Form::LogAnalyticsCsv, Layout::Csv)),
    }
}

fn is_csv_header(bytes: &[u8]) -> bool {
    let end = memchr::memchr(b'\n', bytes).unwrap_or(bytes.len());
    let header = String::from_utf8_lossy(&bytes[..end]).to_ascii_lowercase();
    header.contains("timegenerated") && header.contains("operationname")
}

/// The form a record's keys say, when they say one.
fn form_of_keys(keys: &[(&[u8], usize)]) -> Option<Form> {
    let has = |name: &[u8]| keys.iter().any(|(key, _)| *key == name);
    if has(b"event") {
        Some(Form::RoutedMonitorEvents)
    } else if has(b"Properties") && (has(b"SystemProperties") || has(b"Body"))
        || has(b"EnqueuedTimeUtc") && has(b"Body")
    {
        Some(Form::RoutedJson)
    } else if has(b"eventType") {
        Some(Form::EventGrid)
    } else if has(b"specversion") || has(b"type") && has(b"data") {
        Some(Form::CloudEvents)
    } else if has(b"TimeGenerated")
        || has(b"TimeGenerated [UTC]")
        || has(b"OperationName")
        || has(b"properties_s")
        || has(b"_ResourceId")
    {
        Some(Form::LogAnalyticsJson)
    } else if has(b"deviceId") && !has(b"properties") {
        Some(Form::LegacyOperationsMonitoring)
    } else {
        None
    }
}

fn sniff_object(bytes: &[u8], start: usize) -> (Form, Layout) {
    let keys = scan::members(bytes, start, 256);
    if keys.iter().any(|(key, value)| *key == b"records" && bytes[*value] == b'[') {
        return (Form::RecordsEnvelope, Layout::Document);
    }
    let first_newline = memchr::memchr(b'\n', &bytes[start..]).map(|i| start + i);
    let one_line = match (scan::value_end(bytes, start), first_newline) {
        (_, None) => true,
        (Ok(end), Some(newline)) => end <= newline,
        // The first value is cut short or unbalanced: JSON Lines if the next line starts a record
        // too (a bad first line), a document otherwise. A pretty record's second line holds a key.
        (Err(_), Some(newline)) => {
            let first_line = bytes[start..newline].trim_ascii_end();
            let next = scan::skip_ws(bytes, newline + 1);
            first_line.len() > 1 && bytes.get(next) == Some(&b'{')
        }
    };
    let layout = if one_line { Layout::Lines } else { Layout::Document };
    let container = if one_line { Form::JsonLines } else { Form::PrettyConcatenated };
    (form_of_keys(&keys).unwrap_or(container), layout)
}

fn sniff_array(bytes: &[u8], start: usize) -> (Form, Layout) {
    let first = scan::skip_ws(bytes, start + 1);
    let form = if bytes.get(first) == Some(&b'{') {
        form_of_keys(&scan::members(bytes, first, 256)).unwrap_or(Form::RecordsEnvelope)
    } else {
        // `[]`: what an export of zero rows looks like.
        Form::LogAnalyticsJson
    };
    (form, Layout::Document)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(input: &str, expected: Option<(Form, Layout)>) {
        assert_eq!(sniff(input.as_bytes()), expected, "{input:?}");
    }

    #[test]
    fn detects_each_form() {
        let diag = r#"{"time":"t","operationName":"deviceConnect","properties":"{}"}"#;
        check(&format!("{diag}\n{diag}\n"), Some((Form::JsonLines, Layout::Lines)));
        check(&format!("\u{feff}{diag}"), Some((Form::JsonLines, Layout::Lines)));
        check(
            "{\n \"time\": \"t\",\n \"properties\": \"{}\"\n}\n",
            Some((Form::PrettyConcatenated, Layout::Document)),
        );
        check(
            "{\n\"time\": \"t\",\n{\"time\":\"t\"}",
            Some((Form::PrettyConcatenated, Layout::Document)),
        );
        check(
            "{\"time\": \"t\", \"x\": 1\n{\"time\":\"t\"}",
            Some((Form::JsonLines, Layout::Lines)),
        );
        check("{\n\"records\": [", Some((Form::RecordsEnvelope, Layout::Document)));
        check(r#"[{"eventType":"x","data":{}}]"#, Some((Form::EventGrid, Layout::Document)));
        check(r#"[{"type":"x","data":{}}]"#, Some((Form::CloudEvents, Layout::Document)));
        check("{\n\"specversion\": \"1.0\"}", Some((Form::CloudEvents, Layout::Document)));
        check(
            r#"[{"TimeGenerated":"t","OperationName":"deviceConnect"}]"#,
            Some((Form::LogAnalyticsJson, Layout::Document)),
        );
        check("[]", Some((Form::LogAnalyticsJson, Layout::Document)));
        check(
            "{\n    \"event\": {\n        \"origin\": \"d\"",
            Some((Form::RoutedMonitorEvents, Layout::Document)),
        );
        check(
            r#"{"EnqueuedTimeUtc":"t","Properties":{},"SystemProperties":{},"Body":"e30="}"#,
            Some((Form::RoutedJson, Layout::Lines)),
        );
        check(
            "{\n \"Body\": {},\n \"Properties\": {}\n}",
            Some((Form::RoutedJson, Layout::Document)),
        );
        check(
            "Starting event monitor, filtering on device: d1, use ctrl-c to stop...\n{\n    \"event\": {",
            Some((Form::RoutedMonitorEvents, Layout::Document)),
        );
        check("Starting event monitor, use ctrl-c to stop...\n", None);
        check(
            r#"[{"time":"t","properties":"{}"}]"#,
            Some((Form::RecordsEnvelope, Layout::Document)),
        );
        check(
            r#"{"deviceId":"d","ipAddress":"x"}"#,
            Some((Form::LegacyOperationsMonitoring, Layout::Lines)),
        );
        check(
            "\"TimeGenerated [UTC]\",\"OperationName\"\r\n",
            Some((Form::LogAnalyticsCsv, Layout::Csv)),
        );
        check("PAR1", Some((Form::Parquet, Layout::Columnar)));
        check("ARROW1\0\0", Some((Form::ArrowIpc, Layout::Columnar)));
        check("Obj\u{1}\u{4}", Some((Form::Avro, Layout::Avro)));
        check("time,operation\n", None);
        check(" \n ", None);
        check("", None);
    }
}
