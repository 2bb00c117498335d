//! `dropscope timeline`: one device's readable timeline, with its sessions rebuilt: every record
//! in order with what it did (opened, ended, failed), then the sessions with gaps and repairs.

use std::fmt::Write as _;

use dropscope_engine::sessions::{self, EventRole, SessionTable};
use dropscope_model::{Duration, Event, Session};

use crate::args::TimelineArgs;
use crate::commands::ingest::load;
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
    crate::print_out(&render(&events, &table))?;
    Ok(ExitStatus::Success)
}

/// The timeline text of every device (hub, module) in `table`.
fn render(events: &[Event], table: &SessionTable) -> String {
    let mut out = String::new();
    for device in 0..table.n_devices() {
        let mut idxs: Vec<usize> =
            (0..events.len()).filter(|&i| table.event_device[i] as usize == device).collect();
        idxs.sort_by_key(|&i| (events[i].time, role_rank(table.roles[i]), i));
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
    if let Some(code) = event.result_type {
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
        time(session.connect_time, "(before the window)"),
        time(session.disconnect_time, "(after the window)"),
    );
    if let Some(duration) = session.duration_ns {
        let _ = write!(out, "  lasted {}", Duration(duration));
    }
    if let Some(gap) = session.gap_before_ns {
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
