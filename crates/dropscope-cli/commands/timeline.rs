//! `dropscope timeline`: one device's readable timeline, with its sessions rebuilt: every record
//! in order with what it did (opened, ended, failed), then the sessions with gaps and repairs.

use std::fmt::Write as _;
use std::path::Path;

use anyhow::Context as _;
use dropscope_engine::sessions::{self, EventRole, SessionTable};
use dropscope_logs::Ingested;
use dropscope_model::{Duration, Event, Session};
use dropscope_tables::frame::{TableFormat, write_events_to, write_sessions_to};

use crate::args::TimelineArgs;
use crate::commands::ingest::{load, summary_json};
use crate::{Context, ExitStatus};

pub(crate) fn run(args: &TimelineArgs, ctx: &Context) -> anyhow::Result<ExitStatus> {
    let ingested = load(&args.input, ctx)?;
    // Only this device's records: every module and hub under that id.
    let events: Vec<Event> =
        ingested.events.iter().filter(|e| e.device_id == args.device).cloned().collect();
    if events.is_empty() {
        anyhow::bail!(
            "no records for device `{}`\nhint: device ids are case-sensitive; `dropscope sessions` lists every device",
            args.device
        );
    }
    let table = sessions::build(&events);
    if args.json {
        let value = timeline_json(&ingested, &args.device, &events, &table)?;
        crate::print_out(&format!("{value}\n"))?;
    } else {
        crate::print_out(&render(&events, &table))?;
    }
    Ok(ExitStatus::Success)
}

/// The timeline as one JSON object: the reading summary, the device's records in timeline order
/// as rows of the events table (JSON Lines form) with their `role` and `session`, and its
/// sessions as rows of the sessions table.
fn timeline_json(
    ingested: &Ingested,
    device: &str,
    events: &[Event],
    table: &SessionTable,
) -> anyhow::Result<serde_json::Value> {
    let order: Vec<usize> =
        (0..table.n_devices()).flat_map(|d| ordered(events, table, d)).collect();
    let ordered_events: Vec<Event> = order.iter().map(|&i| events[i].clone()).collect();
    let mut rows = Vec::new();
    write_events_to(&mut rows, Path::new("-"), &ordered_events, TableFormat::JsonLines)?;
    let mut records = json_rows(&rows)?;
    let session_id = |s: u32| table.sessions.get(s as usize).map_or(s, |s| s.session_id);
    for (record, &i) in records.iter_mut().zip(&order) {
        let (role, session) = match table.roles[i] {
            EventRole::Opened(s) => ("opened", Some(session_id(s))),
            EventRole::Ended(s) => ("ended", Some(session_id(s))),
            EventRole::MergedEnd(s) => ("merged_end", Some(session_id(s))),
            EventRole::FailedConnect { next_session } => {
                ("failed_connect", next_session.map(session_id))
            }
        };
        if let Some(object) = record.as_object_mut() {
            object.insert("role".to_owned(), role.into());
            object.insert("session".to_owned(), session.into());
        }
    }
    let mut rows = Vec::new();
    write_sessions_to(&mut rows, Path::new("-"), &table.sessions, TableFormat::JsonLines)?;
    Ok(serde_json::json!({
        "schema_version": dropscope_report::SCHEMA_VERSION,
        "device": device,
        "reading": summary_json(ingested),
        "records": records,
        "sessions": json_rows(&rows)?,
    }))
}

/// Parses JSON Lines rows.
fn json_rows(bytes: &[u8]) -> anyhow::Result<Vec<serde_json::Value>> {
    bytes
        .split(|&b| b == b'\n')
        .filter(|line| !line.is_empty())
        .map(|line| serde_json::from_slice(line).context("reading back a JSON Lines row"))
        .collect()
}

/// The indexes of device `device`'s records in timeline order: by time, then a session's failed
/// connects, its connect, its end records.
fn ordered(events: &[Event], table: &SessionTable, device: usize) -> Vec<usize> {
    let mut idxs: Vec<usize> =
        (0..events.len()).filter(|&i| table.partition.event_device[i] as usize == device).collect();
    idxs.sort_by_key(|&i| (events[i].time, role_rank(table.roles[i]), i));
    idxs
}

/// The timeline text of every device (hub, module) in `table`.
fn render(events: &[Event], table: &SessionTable) -> String {
    let mut out = String::new();
    for device in 0..table.n_devices() {
        let idxs = ordered(events, table, device);
        let Some(&first) = idxs.first() else { continue };
        let head = &events[first];
        let _ = write!(out, "device {}", head.device_id);
        if let Some(module) = &head.module_id {
            let _ = write!(out, " module {module}");
        }
        if head.hub.is_empty() {
            out.push_str(" (no hub name in the records)\n");
        } else {
            let _ = writeln!(out, " on hub {}", head.hub);
        }
        out.push_str("records:\n");
        for &i in &idxs {
            render_event(&mut out, &events[i], table.roles[i], table);
        }
        let device_sessions = table.device(device);
        let _ = writeln!(out, "sessions ({}):", device_sessions.len());
        for session in device_sessions {
            render_session(&mut out, session);
        }
        out.push('\n');
    }
    out
}

/// Orders records that share a time: a session's failed connects, its connect, its end records.
fn role_rank(role: EventRole) -> (u32, u8) {
    match role {
        EventRole::FailedConnect { next_session: Some(s) } => (s, 0),
        EventRole::FailedConnect { next_session: None } => (u32::MAX, 0),
        EventRole::Opened(s) => (s, 1),
        EventRole::Ended(s) => (s, 2),
        EventRole::MergedEnd(s) => (s, 3),
    }
}

fn render_event(out: &mut String, event: &Event, role: EventRole, table: &SessionTable) {
    let _ = write!(
        out,
        "  {}  {:<10}  {:<11}",
        event.time,
        event.operation.as_str(),
        event.level.as_str()
    );
    if let Some(code) = event.code() {
        let _ = write!(out, "  {code}");
    }
    if let Some(description) = &event.result_description {
        let _ = write!(out, " {description}");
    }
    for field in [&event.protocol, &event.masked_ip].into_iter().flatten() {
        let _ = write!(out, "  {field}");
    }
    if let Some(sdk) = &event.sdk_version {
        let _ = write!(out, "  sdk {sdk}");
    }
    let session_id = |s: u32| table.sessions.get(s as usize).map_or(s, |s| s.session_id);
    let _ = match role {
        EventRole::Opened(s) => writeln!(out, "  -> opens session {}", session_id(s)),
        EventRole::Ended(s) => writeln!(out, "  -> ends session {}", session_id(s)),
        EventRole::MergedEnd(s) => {
            writeln!(out, "  -> second end record of session {} (merged)", session_id(s))
        }
        EventRole::FailedConnect { next_session: Some(s) } => {
            writeln!(out, "  -> failed connect before session {}", session_id(s))
        }
        EventRole::FailedConnect { next_session: None } => {
            writeln!(out, "  -> failed connect, no session followed")
        }
    };
}

fn render_session(out: &mut String, session: &Session) {
    let time = |t: Option<dropscope_model::Timestamp>, missing: &str| {
        t.map_or_else(|| missing.to_owned(), |t| t.to_string())
    };
    let _ = write!(
        out,
        "  #{:<3} {} .. {}",
        session.session_id,
        time(session.connect_time.get(), "(before the window)"),
        time(session.disconnect_time.get(), "(after the window)"),
    );
    if let Some(duration) = session.duration_ns() {
        let _ = write!(out, "  lasted {}", Duration(duration));
    }
    if let Some(gap) = session.gap_before_ns.get() {
        let _ = write!(out, "  after {} offline", Duration(gap));
    }
    if session.failed_connects_before > 0 {
        let _ = write!(out, "  after {} failed connect(s)", session.failed_connects_before);
    }
    match (session.end_result_type, session.end_level) {
        (Some(code), _) => {
            let _ = write!(out, "  ended by {code}");
        }
        (None, Some(level)) => {
            let _ = write!(out, "  ended ({level})");
        }
        (None, None) => {}
    }
    for field in [&session.protocol, &session.masked_ip].into_iter().flatten() {
        let _ = write!(out, "  {field}");
    }
    if session.overlap {
        out.push_str("  overlap");
    }
    if !session.repaired.is_empty() {
        let _ = write!(out, "  repaired: {}", session.repaired);
    }
    out.push('\n');
}
