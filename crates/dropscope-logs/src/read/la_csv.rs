//! The Log Analytics CSV export of `AzureDiagnostics`: a header naming the columns (in any order,
//! with any extra columns), one record per row, the device fields inside `properties_s`.

use std::io::{self, Read};

use csv::{ByteRecord, ReaderBuilder};

use crate::read::Parsed;
use crate::read::lines::emit_decoded;
use crate::read::record::{PropsValue, RawRecord, Scalar};
use crate::{Form, RejectReason};

/// Where each column the events need is, by header position.
#[derive(Debug, Default)]
struct Columns {
    time: Option<usize>,
    operation: Option<usize>,
    level: Option<usize>,
    result_type: Option<usize>,
    result_description: Option<usize>,
    category: Option<usize>,
    properties: Option<usize>,
    resource_id: Option<usize>,
    resource: Option<usize>,
    device_id: Option<usize>,
    module_id: Option<usize>,
    protocol: Option<usize>,
    auth_type: Option<usize>,
    masked_ip: Option<usize>,
    sdk_version: Option<usize>,
    status_code: Option<usize>,
}

impl Columns {
    fn new(headers: &ByteRecord) -> Columns {
        let mut columns = Columns::default();
        for (idx, raw) in headers.iter().enumerate() {
            let name = String::from_utf8_lossy(raw);
            let name = name.trim().trim_start_matches('\u{feff}').to_ascii_lowercase();
            let slot = match name.as_str() {
                "timegenerated" | "timegenerated [utc]" => &mut columns.time,
                "operationname" => &mut columns.operation,
                "level" => &mut columns.level,
                "resulttype" => &mut columns.result_type,
                "resultdescription" => &mut columns.result_description,
                "category" => &mut columns.category,
                "properties_s" | "properties" => &mut columns.properties,
                "_resourceid" | "resourceid" => &mut columns.resource_id,
                "resource" => &mut columns.resource,
                "deviceid_s" | "deviceid" => &mut columns.device_id,
                "moduleid_s" | "moduleid" => &mut columns.module_id,
                "protocol_s" | "protocol" => &mut columns.protocol,
                "authtype_s" | "authtype" => &mut columns.auth_type,
                "maskedipaddress_s" | "maskedipaddress" => &mut columns.masked_ip,
                "sdkversion_s" | "sdkversion" => &mut columns.sdk_version,
                "statuscode_s" | "statuscode" => &mut columns.status_code,
                _ => continue,
            };
            slot.get_or_insert(idx);
        }
        columns
    }
}

/// A reader that remembers the last byte it returned, to tell whether the input ends with a newline.
struct LastByte<R> {
    inner: R,
    last: Option<u8>,
}

impl<R: Read> Read for LastByte<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        if n > 0 {
            self.last = Some(buf[n - 1]);
        }
        Ok(n)
    }
}

/// Reads CSV rows from `input` as they come. Only IO errors of `input` are errors.
pub(crate) fn read_csv_stream(input: impl Read, source: u32) -> io::Result<Parsed> {
    let mut out = Parsed::default();
    // Rows end at `\n` only, so `Position::line` counts CRLF rows right (with the default
    // terminator the `\n` of a CRLF is read with the next row, which then reports the line
    // before); the `\r` left on a row's last field is trimmed below.
    let mut reader = ReaderBuilder::new()
        .terminator(csv::Terminator::Any(b'\n'))
        .flexible(true)
        .has_headers(true)
        .from_reader(LastByte { inner: input, last: None });
    let headers = match reader.byte_headers() {
        Ok(headers) => headers.clone(),
        Err(error) => return csv_error(error, source, 1, &mut out).map(|()| out),
    };
    let columns = Columns::new(&headers);
    let mut current = ByteRecord::new();
    let mut next = ByteRecord::new();
    let mut have_current = match reader.read_byte_record(&mut current) {
        Ok(more) => more,
        Err(error) => return csv_error(error, source, 2, &mut out).map(|()| out),
    };
    while have_current {
        let line = current.position().map_or(0, csv::Position::line);
        let have_next = match reader.read_byte_record(&mut next) {
            Ok(more) => more,
            Err(error) => {
                row(&current, &columns, headers.len(), source, line, false, &mut out);
                return csv_error(error, source, line + 1, &mut out).map(|()| out);
            }
        };
        let cut = !have_next && reader.get_ref().last != Some(b'\n');
        row(&current, &columns, headers.len(), source, line, cut, &mut out);
        std::mem::swap(&mut current, &mut next);
        have_current = have_next;
    }
    Ok(out)
}

/// A CSV error: IO errors stop the read; anything else rejects the rest of the input.
fn csv_error(error: csv::Error, source: u32, line: u64, out: &mut Parsed) -> io::Result<()> {
    match error.into_kind() {
        csv::ErrorKind::Io(error) => Err(error),
        other => {
            out.count(Form::LogAnalyticsCsv);
            out.reject(source, line, RejectReason::BadJson, format!("CSV: {other:?}"), b"");
            Ok(())
        }
    }
}

fn row(
    record: &ByteRecord,
    columns: &Columns,
    n_headers: usize,
    source: u32,
    line: u64,
    cut: bool,
    out: &mut Parsed,
) {
    let text = record.iter().collect::<Vec<_>>().join(&b","[..]);
    let mut fields = Vec::with_capacity(record.len());
    for (idx, raw) in record.iter().enumerate() {
        match std::str::from_utf8(raw) {
            Ok(field) if idx + 1 == record.len() => fields.push(field.trim_end_matches('\r')),
            Ok(field) => fields.push(field),
            Err(_) => {
                out.count(Form::LogAnalyticsCsv);
                out.reject(
                    source,
                    line,
                    RejectReason::BadField,
                    format!("column {} is not UTF-8", idx + 1),
                    &text,
                );
                return;
            }
        }
    }
    if cut && fields.len() < n_headers {
        out.count(Form::LogAnalyticsCsv);
        out.reject(
            source,
            line,
            RejectReason::Truncated,
            format!("the input ends inside this row ({} of {n_headers} columns)", fields.len()),
            &text,
        );
        return;
    }
    let cell = |column: Option<usize>| {
        column.and_then(|idx| fields.get(idx)).map_or(Scalar::Null, |f| Scalar::cell(f))
    };
    let mut rec = RawRecord {
        time: cell(columns.time),
        resource_id: cell(columns.resource_id),
        resource: cell(columns.resource),
        operation: cell(columns.operation),
        category: cell(columns.category),
        level: cell(columns.level),
        result_type: cell(columns.result_type),
        result_description: cell(columns.result_description),
        log_analytics: true,
        ..RawRecord::default()
    };
    rec.flat.device_id = cell(columns.device_id);
    rec.flat.module_id = cell(columns.module_id);
    rec.flat.protocol = cell(columns.protocol);
    rec.flat.auth_type = cell(columns.auth_type);
    rec.flat.masked_ip_address = cell(columns.masked_ip);
    rec.flat.sdk_version = cell(columns.sdk_version);
    rec.flat.status_code = cell(columns.status_code);
    if let Scalar::Text(props) = cell(columns.properties) {
        rec.properties = PropsValue::Text(props);
    }
    emit_decoded(rec, Form::LogAnalyticsCsv, source, line, &text, cut, out);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(input: &str, expected: &str) {
        let parsed = read_csv_stream(input.as_bytes(), 0).unwrap_or_default();
        let mut got = Vec::new();
        for e in &parsed.events {
            got.push(format!(
                "{}:{}:{}:{}:{:?}:{:?}",
                e.source_line,
                e.device_id,
                e.hub,
                e.time.to_rfc3339(0),
                e.code(),
                e.protocol
            ));
        }
        for r in &parsed.rejects {
            got.push(format!("{}:{}", r.line, r.reason.as_str()));
        }
        assert_eq!(got.join(" "), expected, "{input:?}");
    }

    #[test]
    fn reads_rows_with_extra_columns_in_any_order() {
        let header = "TenantId,TimeGenerated [UTC],OperationName,Level,ResultType,Category,properties_s,_ResourceId,Extra\n";
        let row = r#"t,"9/21/2023, 10:33:34.000 PM",deviceDisconnect,Error,404104,Connections,"{""deviceId"":""d1"",""protocol"":""Mqtt""}",/S/IOTHUBS/HUB,x"#;
        check(
            &format!("{header}{row}\n"),
            r#"2:d1:hub:2023-09-21T22:33:34Z:Some(404104):Some("Mqtt")"#,
        );
        check(
            &format!("{header}{row}\r\n{row}"),
            r#"2:d1:hub:2023-09-21T22:33:34Z:Some(404104):Some("Mqtt") 3:d1:hub:2023-09-21T22:33:34Z:Some(404104):Some("Mqtt")"#,
        );
        check(
            &format!("{header}{row}\n{}", &row[..60]),
            r#"2:d1:hub:2023-09-21T22:33:34Z:Some(404104):Some("Mqtt") 3:truncated"#,
        );
        let multiline = "TimeGenerated,OperationName,ResourceId,properties_s\n2020-01-01T00:00:00Z,deviceConnect,/h/H2,\"{\"\"deviceId\"\":\n\"\"d2\"\"}\"\n2020-01-01T00:00:00Z,deviceConnect,/h/H2,{}\n";
        check(multiline, "2:d2:h2:2020-01-01T00:00:00Z:None:None 4:missing_device_id");
        check(header, "");
    }
}
