//! The HTML rendering: one self-contained page with inline CSS and inline SVG charts.
//!
//! The page loads nothing: no script, font, image, stylesheet or frame, and a
//! Content-Security-Policy of `default-src 'none'` makes the browser refuse any load even if a
//! string slipped through; `tests/report/chromium-check.sh` opens a report in headless Chromium
//! and checks that it makes no request. Every log-derived string goes through [`escape::html`].
//!
//! The content comes from [`document::build`]; this module only lays it out: the header, the
//! summary cards, the sections in the page's order, and the charts.

use std::fmt::Write as _;

use dropscope_model::Cause;
use dropscope_model::findings::Findings;

use crate::document::{self, Block, Cell, ChartKind, Document, Form, Para, Section, Span, Table};
use crate::{charts, escape};

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

/// The sections in the page's order: the charts lead, the accounting closes.
pub(crate) const ORDER: [&str; 10] = [
    "causes",
    "curve",
    "alert",
    "incidents",
    "suspects",
    "flapping",
    "breakdown",
    "sessions",
    "benign",
    "quality",
];

/// Renders the findings as one self-contained HTML page.
pub fn render_html(f: &Findings) -> String {
    let doc = document::build(f);
    let e = escape::html;
    let mut out = String::with_capacity(64 * 1024);
    out.push_str("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n");
    out.push_str("<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\">\n");
    out.push_str("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n");
    w!(out, "<title>{}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n<main>\n", e(doc.title));

    let hubs = if doc.hubs.is_empty() {
        "–".to_owned()
    } else {
        doc.hubs.iter().map(|h| e(h)).collect::<Vec<_>>().join(", ")
    };
    w!(
        out,
        "<header>\n<h1>{}</h1>\n<p class=\"meta\">Hub <b>{hubs}</b> · {} · {} devices · {} sessions</p>\n</header>\n",
        e(doc.title),
        doc.window,
        doc.devices,
        doc.sessions
    );
    out.push_str(
        "<nav><a href=\"#causes\">Causes</a><a href=\"#curve\">Connected devices</a><a href=\"#alert\">Alert replay</a>\
         <a href=\"#incidents\">Incidents</a><a href=\"#suspects\">Suspects</a><a href=\"#flapping\">Flapping</a>\
         <a href=\"#breakdown\">SDK &amp; protocol</a><a href=\"#sessions\">Session lengths</a><a href=\"#quality\">Data quality</a></nav>\n",
    );

    cards(&mut out, &doc);
    callout(&mut out, &doc);
    for id in ORDER {
        if let Some(s) = doc.sections.iter().find(|s| s.id == id) {
            section(&mut out, s);
        }
    }
    out.push_str(
        "<footer>Generated by dropscope from the hub's connection logs (diagnostic settings, category Connections). \
         Times are UTC. This page is self-contained: it loads nothing from the network.</footer>\n</main>\n</body>\n</html>\n",
    );
    out
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

fn cards(out: &mut String, doc: &Document<'_>) {
    let s = &doc.summary;
    out.push_str("<div class=\"cards\">\n");
    card(out, "Devices", &doc.devices, &format!("peak {} connected", s.peak), false);
    card(
        out,
        "Disconnects",
        &doc.disconnects,
        &format!("+ {} failed connects", doc.failed_connects),
        false,
    );
    card(
        out,
        "Real problems",
        &s.problems,
        &format!("{} of events", s.problem_share),
        s.any_problem,
    );
    card(
        out,
        "Benign churn",
        &s.benign_events,
        &format!("filtered out · {} devices", s.benign_devices),
        false,
    );
    card(out, "Incidents", &s.incidents.to_string(), "above fleet baseline", s.incidents > 0);
    card(
        out,
        "Alert firings",
        &s.firings.to_string(),
        &format!("{} benign churn", s.benign_firings),
        s.firings > s.benign_firings,
    );
    out.push_str("</div>\n");
}

fn callout(out: &mut String, doc: &Document<'_>) {
    match &doc.summary.top {
        Some(top) => {
            w!(
                out,
                "<section class=\"callout\">\n<p class=\"lead\"><b>Main problem:</b> {} — {} events on {} devices, {} device-hours offline ({} of all events).</p>\n",
                badge(top.cause, false),
                top.events,
                top.devices,
                top.hours,
                top.share
            );
            w!(out, "<p><b>Evidence:</b> {}</p>\n", escape::html(top.evidence));
            w!(out, "<p><b>What to do:</b> {}</p>\n</section>\n", escape::html(top.resolution));
        }
        None => out.push_str(
            "<section class=\"callout ok\">\n<p class=\"lead\"><b>No problem found:</b> every disconnect was benign churn.</p>\n</section>\n",
        ),
    }
}

fn section(out: &mut String, s: &Section<'_>) {
    w!(out, "<section id=\"{}\">\n<h2>{}</h2>\n", s.id, s.title);
    for b in &s.blocks {
        block(out, b);
    }
    for part in &s.parts {
        w!(out, "<div>\n<h3>{}</h3>\n", part.title);
        for b in &part.blocks {
            block(out, b);
        }
        out.push_str("</div>\n");
    }
    out.push_str("</section>\n");
}

fn block(out: &mut String, b: &Block<'_>) {
    match b {
        Block::Para(Para { note, spans }) => {
            out.push_str(if *note { "<p class=\"note\">" } else { "<p>" });
            write_spans(out, spans);
            out.push_str("</p>\n");
        }
        Block::Table(t) => table(out, t),
        Block::List(items) => {
            out.push_str("<ul>\n");
            for item in items {
                out.push_str("<li>");
                write_spans(out, item);
                out.push_str("</li>\n");
            }
            out.push_str("</ul>\n");
        }
        Block::Code(lines) => {
            out.push_str("<pre>");
            out.push_str(
                &lines.iter().map(|line| escape::html(line)).collect::<Vec<_>>().join("\n"),
            );
            out.push_str("</pre>\n");
        }
        Block::Chart(c) => {
            let svg = match c.kind {
                ChartKind::Causes(causes) => charts::causes(causes),
                ChartKind::ConnectedDevices(findings) => charts::connected_devices(findings),
                ChartKind::SessionLengths(buckets) => charts::session_lengths(buckets),
            };
            chart(out, svg, c.alt);
        }
        Block::Only(Form::Html, b) => block(out, b),
        Block::Only(Form::Markdown, _) => {}
    }
}

fn write_spans(out: &mut String, spans: &[Span]) {
    for span in spans {
        match span {
            Span::Ours(text) => out.push_str(text),
            Span::Emph(text) => w!(out, "<i>{text}</i>"),
            Span::Strong(text) => w!(out, "<b>{text}</b>"),
            Span::Log(text) => out.push_str(&escape::html(text)),
            Span::Id(text) => w!(out, "<span class=\"id\">{}</span>", escape::html(text)),
            Span::Cause(cause, benign) => out.push_str(&badge(*cause, *benign)),
            Span::Break => out.push(' '),
        }
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

fn table(out: &mut String, t: &Table) {
    let newline = if t.compact { "" } else { "\n" };
    out.push_str("<div class=\"wrap\"><table");
    if let Some(id) = t.id {
        w!(out, " id=\"{id}\"");
    }
    out.push_str(">\n<thead><tr>");
    for column in &t.columns {
        if let Some(header) = column.html {
            w!(out, "<th{}>{header}</th>", if column.numeric { " class=\"n\"" } else { "" });
        }
    }
    w!(out, "</tr></thead>\n<tbody>{newline}");
    let shown = t.columns.iter().filter(|c| c.shown_in(Form::Html)).count();
    for row in &t.rows {
        debug_assert_eq!(row.cells.len(), t.columns.len(), "one cell per column");
        let benign = if row.benign { " benign" } else { "" };
        out.push_str("<tr");
        if let Some(anchor) = &row.anchor {
            w!(out, " id=\"{anchor}\"");
        }
        if !t.details.is_empty() {
            w!(out, " class=\"row{benign}\"");
        } else if row.benign {
            out.push_str(" class=\"benign\"");
        }
        out.push('>');
        for (column, c) in t.columns.iter().zip(&row.cells) {
            if column.shown_in(Form::Html) {
                cell(out, c);
            }
        }
        w!(out, "</tr>{newline}");
        if !t.details.is_empty() {
            w!(
                out,
                "<tr class=\"why{benign}\"><td></td><td colspan=\"{}\"><div class=\"grid\">",
                shown - 1
            );
            for (header, text) in t.details.iter().zip(&row.details) {
                w!(out, "<div><span class=\"k\">{header}</span>{}</div>", escape::html(text));
            }
            out.push_str("</div></td></tr>\n");
        }
    }
    out.push_str("</tbody></table></div>\n");
}

/// `–` for an empty list, else the items joined by `separator`.
fn joined(items: &[String], separator: &str) -> String {
    if items.is_empty() { "–".to_owned() } else { items.join(separator) }
}

fn cell(out: &mut String, c: &Cell) {
    match c {
        Cell::Ours(text) => w!(out, "<td>{text}</td>"),
        Cell::Number(text) => w!(out, "<td class=\"n\">{text}</td>"),
        Cell::Time(text) => w!(out, "<td class=\"t\">{text}</td>"),
        Cell::Key { text, nowrap } => w!(
            out,
            "<td class=\"id{}\">{}</td>",
            if *nowrap { " nw" } else { "" },
            escape::html(text)
        ),
        Cell::Ids { ids, nowrap } => {
            let class = if *nowrap { "id nw" } else { "id" };
            let ids: Vec<String> = ids
                .iter()
                .map(|id| format!("<span class=\"{class}\">{}</span>", escape::html(id)))
                .collect();
            w!(out, "<td>{}</td>", joined(&ids, "<br>"));
        }
        Cell::Networks(networks) => {
            let networks: Vec<String> = networks
                .iter()
                .map(|(prefix, share)| {
                    format!(
                        "<span class=\"nw\"><span class=\"id\">{}.x</span> {share}</span>",
                        escape::html(prefix)
                    )
                })
                .collect();
            w!(out, "<td>{}</td>", joined(&networks, "<br>"));
        }
        Cell::Cause { cause, benign, share } => match share {
            Some(share) => w!(out, "<td>{} {share}</td>", badge(*cause, *benign)),
            None => w!(out, "<td>{}</td>", badge(*cause, *benign)),
        },
        Cell::Incident(Some(idx)) => {
            w!(out, "<td><a href=\"#incident-{}\">#{}</a></td>", idx + 1, idx + 1);
        }
        Cell::Incident(None) => out.push_str("<td>–</td>"),
        Cell::Benign(true) => out.push_str("<td><span class=\"tag\">benign churn</span></td>"),
        Cell::Benign(false) => out.push_str("<td><span class=\"tag bad\">real</span></td>"),
    }
}
