//! The HTML rendering: one self-contained page with inline CSS and inline SVG charts.
//!
//! The page loads nothing: no script, font, image, stylesheet or frame, and a
//! Content-Security-Policy of `default-src 'none'` makes the browser refuse any load even if a
//! string slipped through. Every log-derived string goes through [`escape::html`].

use std::fmt::Write as _;

use dropscope_model::Cause;
use dropscope_model::findings::{Breakdown, Findings};

use crate::summary::{lowest_minute, peak, problem_events, top_problem};
use crate::{charts, escape, text};

/// Writes to a `String`; writing to a `String` cannot fail.
macro_rules! w {
    ($out:expr, $($arg:tt)*) => {{ let _ = write!($out, $($arg)*); }};
}

const STYLE: &str = r#"
:root { --ink:#1f2937; --muted:#6b7280; --line:#e5e7eb; --bg:#f8fafc; --red:#dc2626; --amber:#ea580c; --blue:#2563eb; --grey:#6b7280; }
* { box-sizing: border-box; }
body { margin: 0; background: var(--bg); color: var(--ink); font: 14px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; }
main { max-width: 1160px; margin: 0 auto; padding: 24px 28px 48px; }
header h1 { font-size: 26px; margin: 0 0 4px; }
header .meta { color: var(--muted); margin: 0; }
nav { margin: 14px 0 6px; font-size: 13px; }
nav a { color: var(--blue); text-decoration: none; margin-right: 14px; }
section { background: #fff; border: 1px solid var(--line); border-radius: 10px; padding: 18px 22px; margin: 18px 0; }
h2 { font-size: 18px; margin: 0 0 10px; }
h3 { font-size: 15px; margin: 14px 0 6px; }
p { margin: 6px 0; }
.note { color: var(--muted); font-size: 13px; }
.cards { display: grid; grid-template-columns: repeat(6, 1fr); gap: 12px; margin: 18px 0; }
.card { background: #fff; border: 1px solid var(--line); border-radius: 10px; padding: 12px 14px; }
.card .label { color: var(--muted); font-size: 12px; text-transform: uppercase; letter-spacing: .04em; }
.card .value { font-size: 24px; font-weight: 650; margin-top: 2px; }
.card .sub { color: var(--muted); font-size: 12px; }
.card.bad .value { color: var(--red); }
.callout { border-left: 6px solid var(--red); }
.callout.ok { border-left-color: #16a34a; }
.callout .lead { font-size: 17px; margin: 0 0 6px; }
.wrap { overflow-x: auto; }
table { width: 100%; border-collapse: collapse; font-size: 13px; margin: 8px 0; }
th, td { text-align: left; padding: 6px 8px; border-bottom: 1px solid var(--line); vertical-align: top; }
th { background: #f1f5f9; font-weight: 600; white-space: nowrap; }
td.n, th.n { text-align: right; white-space: nowrap; font-variant-numeric: tabular-nums; }
td.t { white-space: nowrap; font-variant-numeric: tabular-nums; }
tr.benign td { color: var(--muted); }
.id { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: 12px; overflow-wrap: break-word; }
.nw { white-space: nowrap; }
tr.row td { border-bottom: none; padding-bottom: 2px; }
tr.why td { padding-top: 0; color: #374151; }
tr.why .grid { display: grid; grid-template-columns: 3fr 2fr; gap: 18px; }
tr.why .k { color: var(--muted); font-size: 11px; text-transform: uppercase; letter-spacing: .04em; display: block; }
.cause { display: inline-block; font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: 12px; padding: 1px 7px; border-radius: 999px; background: #fee2e2; color: #991b1b; white-space: nowrap; }
.cause.benign { background: #e5e7eb; color: #374151; }
.tag { display: inline-block; font-size: 11px; padding: 0 6px; border-radius: 4px; background: #e5e7eb; color: #374151; margin-left: 4px; }
.tag.bad { background: #fee2e2; color: #991b1b; }
.chart svg { width: 100%; height: auto; display: block; }
footer { color: var(--muted); font-size: 12px; margin-top: 24px; }
@media (max-width: 900px) { .cards { grid-template-columns: repeat(3, 1fr); } }
@media print {
  @page { size: A4; margin: 12mm; }
  body { background: #fff; font-size: 10pt; }
  main { max-width: none; padding: 0; }
  nav { display: none; }
  section { border: none; border-top: 1px solid var(--line); border-radius: 0; padding: 10px 0; break-inside: avoid; }
  .wrap { overflow: visible; }
  .cards { grid-template-columns: repeat(6, 1fr); }
  .card { border-color: #ccc; }
  th { background: #eee; -webkit-print-color-adjust: exact; print-color-adjust: exact; }
  .cause, .tag, .chart { -webkit-print-color-adjust: exact; print-color-adjust: exact; }
}
"#;

/// Renders the findings as one self-contained HTML page.
pub fn render_html(f: &Findings) -> String {
    let e = escape::html;
    let mut out = String::with_capacity(64 * 1024);
    out.push_str("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n");
    out.push_str("<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\">\n");
    out.push_str("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n");
    w!(out, "<title>{}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n<main>\n", e(&f.title));

    let hubs = if f.hubs.is_empty() {
        "–".to_owned()
    } else {
        f.hubs.iter().map(|h| e(h)).collect::<Vec<_>>().join(", ")
    };
    w!(
        out,
        "<header>\n<h1>{}</h1>\n<p class=\"meta\">Hub <b>{hubs}</b> · {} · {} devices · {} sessions</p>\n</header>\n",
        e(&f.title),
        text::window(f.window_start, f.window_end),
        text::count(f.devices),
        text::count(f.sessions)
    );
    out.push_str(
        "<nav><a href=\"#causes\">Causes</a><a href=\"#curve\">Connected devices</a><a href=\"#alert\">Alert replay</a>\
         <a href=\"#incidents\">Incidents</a><a href=\"#suspects\">Suspects</a><a href=\"#flapping\">Flapping</a>\
         <a href=\"#breakdown\">SDK &amp; protocol</a><a href=\"#sessions\">Session lengths</a><a href=\"#quality\">Data quality</a></nav>\n",
    );

    cards(&mut out, f);
    callout(&mut out, f);
    causes(&mut out, f);
    curve(&mut out, f);
    alert(&mut out, f);
    incidents(&mut out, f);
    suspects(&mut out, f);
    flapping(&mut out, f);
    breakdowns(&mut out, f);
    session_lengths(&mut out, f);
    benign(&mut out, f);
    quality(&mut out, f);
    out.push_str(
        "<footer>Generated by dropscope from the hub's connection logs (diagnostic settings, category Connections). \
         Times are UTC. This page is self-contained: it loads nothing from the network.</footer>\n</main>\n</body>\n</html>\n",
    );
    out
}

fn ratio(part: u64, whole: u64) -> f64 {
    if whole == 0 { 0.0 } else { part as f64 / whole as f64 }
}

fn badge(cause: Cause, benign: bool) -> String {
    format!(
        "<span class=\"cause{}\">{}</span>",
        if benign { " benign" } else { "" },
        cause.as_str()
    )
}

fn card(out: &mut String, label: &str, value: &str, sub: &str, bad: bool) {
    w!(
        out,
        "<div class=\"card{}\"><div class=\"label\">{label}</div><div class=\"value\">{value}</div><div class=\"sub\">{sub}</div></div>\n",
        if bad { " bad" } else { "" }
    );
}

fn cards(out: &mut String, f: &Findings) {
    let classified = f.classified_events();
    let problems = problem_events(f);
    out.push_str("<div class=\"cards\">\n");
    card(
        out,
        "Devices",
        &text::count(f.devices),
        &format!("peak {} connected", text::count(peak(&f.curve))),
        false,
    );
    card(
        out,
        "Disconnects",
        &text::count(f.disconnects),
        &format!("+ {} failed connects", text::count(f.failed_connects)),
        false,
    );
    card(
        out,
        "Real problems",
        &text::count(problems),
        &format!("{} of events", text::percent(ratio(problems, classified))),
        problems > 0,
    );
    card(
        out,
        "Benign churn",
        &text::count(f.benign.events),
        &format!("filtered out · {} devices", text::count(f.benign.devices)),
        false,
    );
    card(
        out,
        "Incidents",
        &f.incidents.len().to_string(),
        "above fleet baseline",
        !f.incidents.is_empty(),
    );
    let real_firings = f.alert.firings.len() - f.alert.benign_firings();
    card(
        out,
        "Alert firings",
        &f.alert.firings.len().to_string(),
        &format!("{} benign churn", f.alert.benign_firings()),
        real_firings > 0,
    );
    out.push_str("</div>\n");
}

fn callout(out: &mut String, f: &Findings) {
    match top_problem(f) {
        Some(top) => {
            w!(
                out,
                "<section class=\"callout\">\n<p class=\"lead\"><b>Main problem:</b> {} — {} events on {} devices, {} device-hours offline ({} of all events).</p>\n",
                badge(top.cause, false),
                text::count(top.events()),
                text::count(top.devices),
                text::hours(top.device_hours_offline),
                text::percent(top.share)
            );
            w!(out, "<p><b>Evidence:</b> {}</p>\n", escape::html(&top.evidence));
            w!(out, "<p><b>What to do:</b> {}</p>\n</section>\n", escape::html(&top.resolution));
        }
        None => out.push_str(
            "<section class=\"callout ok\">\n<p class=\"lead\"><b>No problem found:</b> every disconnect was benign churn.</p>\n</section>\n",
        ),
    }
}

fn chart(out: &mut String, svg: Option<String>, alt: &str) {
    match svg {
        Some(svg) => {
            w!(out, "<div class=\"chart\" role=\"img\" aria-label=\"{alt}\">\n{svg}\n</div>\n");
        }
        None => w!(out, "<p class=\"note\">No chart: {alt} has no data.</p>\n"),
    }
}

fn causes(out: &mut String, f: &Findings) {
    out.push_str("<section id=\"causes\">\n<h2>Ranked causes</h2>\n");
    if f.causes.is_empty() {
        out.push_str("<p>No disconnect or failed connect in the window.</p>\n</section>\n");
        return;
    }
    out.push_str("<p class=\"note\">Ordered by impact: device-hours offline, then devices, then events. Grey rows are benign churn.</p>\n");
    chart(out, charts::causes(&f.causes), "device-hours offline by cause");
    out.push_str(
        "<div class=\"wrap\"><table id=\"ranking\">\n<thead><tr><th class=\"n\">#</th><th>Cause</th><th class=\"n\">Events</th>\
         <th class=\"n\">Devices</th><th class=\"n\">Device-hours offline</th><th class=\"n\">Share</th><th class=\"n\">Confidence</th>\
         <th class=\"n\">Median reconnect</th></tr></thead>\n<tbody>\n",
    );
    for (idx, c) in f.causes.iter().enumerate() {
        w!(
            out,
            "<tr class=\"row{}\"><td class=\"n\">{}</td><td>{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td>\
             <td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td></tr>\n\
             <tr class=\"why{}\"><td></td><td colspan=\"7\"><div class=\"grid\"><div><span class=\"k\">Evidence</span>{}</div>\
             <div><span class=\"k\">Resolution</span>{}</div></div></td></tr>\n",
            if c.benign { " benign" } else { "" },
            idx + 1,
            badge(c.cause, c.benign),
            text::count(c.events()),
            text::count(c.devices),
            text::hours(c.device_hours_offline),
            text::percent(c.share),
            text::confidence(c.mean_confidence),
            text::opt_duration(c.median_reconnect_delay_ns),
            if c.benign { " benign" } else { "" },
            escape::html(&c.evidence),
            escape::html(&c.resolution)
        );
    }
    out.push_str("</tbody></table></div>\n</section>\n");
}

fn curve(out: &mut String, f: &Findings) {
    out.push_str("<section id=\"curve\">\n<h2>Connected devices</h2>\n");
    if let Some(low) = lowest_minute(&f.curve) {
        w!(
            out,
            "<p class=\"note\">The IoT Hub <i>Connected devices</i> metric, rebuilt per minute from the sessions: average line, \
             min–max band, incidents shaded red and numbered, the replayed alert's threshold dashed and its firings along the bottom. \
             Peak {} devices; lowest average {} at {} UTC.</p>\n",
            text::count(peak(&f.curve)),
            text::count(low.avg.max(0.0).round() as u64),
            text::minute(low.minute)
        );
    }
    chart(out, charts::connected_devices(f), "the Connected-devices curve");
    out.push_str("</section>\n");
}

fn alert(out: &mut String, f: &Findings) {
    let a = &f.alert;
    out.push_str("<section id=\"alert\">\n<h2>Alert replay</h2>\n");
    w!(
        out,
        "<p>Rule: <i>Connected devices</i> below <b>{}</b>{} for <b>{}</b> (per-minute average). \
         It would have fired <b>{}</b> times; <b>{}</b> of them were benign churn.</p>\n",
        text::count(a.threshold),
        if a.threshold_derived { " (derived: 90% of the median connected)" } else { "" },
        text::duration(a.for_ns),
        a.firings.len(),
        a.benign_firings()
    );
    if !a.firings.is_empty() {
        out.push_str(
            "<div class=\"wrap\"><table>\n<thead><tr><th class=\"n\">#</th><th>Below since</th><th>Fired</th><th>Cleared</th>\
             <th class=\"n\">Lowest</th><th>Incident</th><th>Verdict</th></tr></thead>\n<tbody>\n",
        );
        for (idx, firing) in a.firings.iter().enumerate() {
            w!(
                out,
                "<tr><td class=\"n\">{}</td><td class=\"t\">{}</td><td class=\"t\">{}</td><td class=\"t\">{}</td><td class=\"n\">{}</td><td>{}</td><td>{}</td></tr>\n",
                idx + 1,
                text::time(firing.below_since),
                text::time(firing.fired_at),
                firing.cleared_at.map_or_else(|| "still firing".to_owned(), text::time),
                text::count(firing.lowest),
                firing.incident.map_or_else(
                    || "–".to_owned(),
                    |i| format!("<a href=\"#incident-{}\">#{}</a>", i + 1, i + 1)
                ),
                if firing.benign {
                    "<span class=\"tag\">benign churn</span>"
                } else {
                    "<span class=\"tag bad\">real</span>"
                }
            );
        }
        out.push_str("</tbody></table></div>\n");
    }
    out.push_str("</section>\n");
}

fn incidents(out: &mut String, f: &Findings) {
    out.push_str("<section id=\"incidents\">\n<h2>Incidents</h2>\n");
    if f.incidents.is_empty() {
        out.push_str(
            "<p>None: disconnects never rose far above the fleet's baseline.</p>\n</section>\n",
        );
        return;
    }
    out.push_str(
        "<div class=\"wrap\"><table>\n<thead><tr><th class=\"n\">#</th><th>Start</th><th>End</th><th class=\"n\">Duration</th>\
         <th class=\"n\">Events</th><th class=\"n\">Devices</th><th>Dominant cause</th><th>Networks (/24)</th><th>Codes</th></tr></thead>\n<tbody>\n",
    );
    for (idx, i) in f.incidents.iter().enumerate() {
        let networks: Vec<String> = i
            .networks
            .iter()
            .map(|n| {
                format!(
                    "<span class=\"nw\"><span class=\"id\">{}.x</span> {}</span>",
                    escape::html(&n.prefix),
                    text::percent(n.share)
                )
            })
            .collect();
        let codes: Vec<String> = i
            .codes
            .iter()
            .map(|c| format!("{} ×{}", text::code(c.code), text::count(c.count())))
            .collect();
        w!(
            out,
            "<tr id=\"incident-{}\"><td class=\"n\">{}</td><td class=\"t\">{}</td><td class=\"t\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td>\
             <td class=\"n\">{}</td><td>{} {}</td><td>{}</td><td>{}</td></tr>\n",
            idx + 1,
            idx + 1,
            text::time(i.start),
            text::time(i.end),
            text::duration(i.end.0 - i.start.0),
            text::count(i.events()),
            text::count(i.devices),
            badge(i.dominant_cause, i.dominant_cause.is_benign()),
            text::percent(i.dominant_share),
            or_dash(&networks.join("<br>")),
            or_dash(&codes.join(", "))
        );
    }
    out.push_str("</tbody></table></div>\n</section>\n");
}

fn or_dash(text: &str) -> String {
    if text.is_empty() { "–".to_owned() } else { text.to_owned() }
}

fn list(items: &[String]) -> String {
    or_dash(
        &items
            .iter()
            .map(|item| format!("<span class=\"id nw\">{}</span>", escape::html(item)))
            .collect::<Vec<_>>()
            .join("<br>"),
    )
}

fn suspects(out: &mut String, f: &Findings) {
    out.push_str("<section id=\"suspects\">\n<h2>Duplicate-identity suspects</h2>\n");
    if f.duplicate_suspects.is_empty() {
        out.push_str("<p>None found.</p>\n</section>\n");
        return;
    }
    out.push_str(
        "<p class=\"note\">Two clients seem to share each of these identities: repeated 400027/409002 conflicts with alternating IPs \
         or SDK versions. Give each client its own identity.</p>\n<div class=\"wrap\"><table>\n<thead><tr><th>Device</th>\
         <th class=\"n\">Conflicts</th><th class=\"n\">Alternations</th><th>Masked IPs</th><th>SDK versions</th><th>First</th><th>Last</th></tr></thead>\n<tbody>\n",
    );
    for s in &f.duplicate_suspects {
        w!(
            out,
            "<tr><td class=\"id nw\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td>{}</td><td>{}</td><td class=\"t\">{}</td><td class=\"t\">{}</td></tr>\n",
            escape::html(&s.device_id),
            text::count(s.conflicts),
            text::count(s.alternations),
            list(&s.masked_ips),
            list(&s.sdk_versions),
            text::time(s.first_seen),
            text::time(s.last_seen)
        );
    }
    out.push_str("</tbody></table></div>\n</section>\n");
}

fn opt_id(value: Option<&str>, class: &str) -> String {
    value.map_or_else(
        || "–".to_owned(),
        |v| format!("<span class=\"{class}\">{}</span>", escape::html(v)),
    )
}

fn flapping(out: &mut String, f: &Findings) {
    out.push_str("<section id=\"flapping\">\n<h2>Top flapping devices</h2>\n");
    if f.flapping.is_empty() {
        out.push_str("<p>None found.</p>\n</section>\n");
        return;
    }
    out.push_str(
        "<p class=\"note\">Devices with the most disconnects that were not benign churn.</p>\n<div class=\"wrap\"><table>\n<thead><tr><th>Device</th>\
         <th class=\"n\">Disconnects</th><th class=\"n\">Sessions</th><th class=\"n\">Median session</th><th>Main cause</th><th>Masked IP</th><th>SDK</th></tr></thead>\n<tbody>\n",
    );
    for d in &f.flapping {
        w!(
            out,
            "<tr><td class=\"id nw\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td>{}</td><td>{}</td><td>{}</td></tr>\n",
            escape::html(&d.device_id),
            text::count(d.disconnects),
            text::count(d.sessions),
            text::opt_duration(d.median_session_ns),
            badge(d.dominant_cause, d.dominant_cause.is_benign()),
            opt_id(d.masked_ip.as_deref(), "id nw"),
            opt_id(d.sdk_version.as_deref(), "id")
        );
    }
    out.push_str("</tbody></table></div>\n</section>\n");
}

fn breakdown_table(out: &mut String, title: &str, key: &str, rows: &[Breakdown]) {
    w!(out, "<div>\n<h3>{title}</h3>\n");
    if rows.is_empty() {
        out.push_str("<p>No data.</p>\n</div>\n");
        return;
    }
    w!(
        out,
        "<div class=\"wrap\"><table>\n<thead><tr><th>{key}</th><th class=\"n\">Devices</th><th class=\"n\">Events</th>\
         <th class=\"n\">Problems</th><th class=\"n\">Dev-h offline</th><th>Top problem</th></tr></thead>\n<tbody>\n"
    );
    for b in rows {
        w!(
            out,
            "<tr><td class=\"id\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td>{}</td></tr>\n",
            escape::html(&b.key),
            text::count(b.devices),
            text::count(b.events),
            text::count(b.problem_events),
            text::hours(b.device_hours_offline),
            b.top_cause.map_or_else(|| "–".to_owned(), |c| badge(c, c.is_benign()))
        );
    }
    out.push_str("</tbody></table></div>\n</div>\n");
}

fn breakdowns(out: &mut String, f: &Findings) {
    out.push_str("<section id=\"breakdown\">\n<h2>By SDK and protocol</h2>\n");
    breakdown_table(out, "By SDK", "SDK", &f.by_sdk);
    breakdown_table(out, "By protocol", "Protocol", &f.by_protocol);
    out.push_str("</section>\n");
}

fn session_lengths(out: &mut String, f: &Findings) {
    out.push_str("<section id=\"sessions\">\n<h2>Session lengths</h2>\n");
    let total: u64 = f.session_lengths.iter().map(|b| b.sessions).sum();
    w!(
        out,
        "<p class=\"note\">{} closed sessions. Spikes at an SDK's token lifetime (dashed: Node 45 min, C 48 min, Python 58 min, .NET/Java about 65 min) \
         are SAS renewals, which are benign.</p>\n",
        text::count(total)
    );
    chart(out, charts::session_lengths(&f.session_lengths), "the session-length histogram");
    out.push_str("</section>\n");
}

fn benign(out: &mut String, f: &Findings) {
    out.push_str("<section id=\"benign\">\n<h2>Benign churn (filtered out)</h2>\n");
    w!(
        out,
        "<p>{} events on {} devices, {} device-hours offline: token renewals, clean closes and planned upgrades with quick reconnects. \
         They are counted here and kept out of the problems above, so nobody is paged for them.</p>\n",
        text::count(f.benign.events),
        text::count(f.benign.devices),
        text::hours(f.benign.device_hours_offline)
    );
    if !f.benign.by_cause.is_empty() {
        out.push_str("<p>");
        let parts: Vec<String> = f
            .benign
            .by_cause
            .iter()
            .map(|(cause, n)| format!("{} {}", badge(*cause, true), text::count(*n)))
            .collect();
        out.push_str(&parts.join(" &nbsp; "));
        out.push_str("</p>\n");
    }
    out.push_str("</section>\n");
}

fn quality(out: &mut String, f: &Findings) {
    let q = &f.quality;
    out.push_str("<section id=\"quality\">\n<h2>Data quality</h2>\n");
    w!(
        out,
        "<div class=\"wrap\"><table>\n<thead><tr><th class=\"n\">Files</th><th class=\"n\">Records read</th><th class=\"n\">Parsed</th>\
         <th class=\"n\">Duplicates dropped</th><th class=\"n\">Rejected</th><th class=\"n\">Reordered</th></tr></thead>\n\
         <tbody><tr><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td></tr></tbody></table></div>\n",
        text::count(q.files),
        text::count(q.records_read),
        text::count(q.parsed),
        text::count(q.duplicates),
        text::count(q.rejected_total()),
        text::count(q.reordered)
    );
    if !q.rejected.is_empty() {
        let reasons: Vec<String> = q
            .rejected
            .iter()
            .map(|(reason, n)| {
                format!("<span class=\"id\">{}</span> {}", escape::html(reason), text::count(*n))
            })
            .collect();
        w!(out, "<p>Rejected by reason: {}.</p>\n", reasons.join(", "));
    }
    if !q.reject_examples.is_empty() {
        out.push_str("<ul>\n");
        for r in &q.reject_examples {
            w!(
                out,
                "<li><span class=\"id\">{}</span> line {}: {}</li>\n",
                escape::html(&r.file),
                r.line,
                escape::html(&r.reason)
            );
        }
        out.push_str("</ul>\n");
    }
    if q.repairs.is_empty() {
        out.push_str("<p>Sessions repaired: none.</p>\n");
    } else {
        let repairs: Vec<String> = q
            .repairs
            .iter()
            .map(|(kind, n)| {
                format!("<span class=\"id\">{}</span> {}", escape::html(kind), text::count(*n))
            })
            .collect();
        w!(out, "<p>Sessions repaired: {}.</p>\n", repairs.join(", "));
    }
    out.push_str("<p class=\"note\">Every record read is parsed, dropped as a duplicate, or rejected with its file and line; \
                   exports are neither complete nor ordered, so records are merged, sorted and de-duplicated before sessions are rebuilt.</p>\n");
    out.push_str("</section>\n");
}
