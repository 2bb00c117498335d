//! The report as data: every section, table, paragraph and figure, built once from the findings
//! and then written out by [`crate::html`] and [`crate::markdown`].
//!
//! The numbers, times and durations are formatted here, once, so both forms spell them alike.
//! What the two forms deliberately do differently is data too, not emitter logic: a block or a
//! column can belong to one form only ([`Block::Only`], [`Column`]), because the page shows charts
//! where the ticket shows a sparkline or a short table, and the ticket lists the evidence as
//! table columns where the page puts it under each row ([`Table::details`]).
//!
//! Text is typed by where it comes from, so each emitter knows what to escape: [`Span::Ours`] and
//! [`Cell::Ours`] are our own words, written as they are; everything that came from the logs
//! (device ids, IPs, SDK versions, reasons, file names, and the evidence sentences that quote
//! them) is held as [`Span::Log`], [`Span::Id`] or a log-carrying [`Cell`], and every emitter
//! escapes it for its output.

use std::collections::BTreeMap;

use dropscope_model::findings::{Breakdown, Findings, HistogramBucket, RankedCause};
use dropscope_model::{Cause, Duration};

use crate::summary::{lowest_minute, peak, problem_events, sparkline, top_problem};
use crate::text;

/// How many session-length buckets the Markdown lists (the fullest ones).
const TOP_BUCKETS: usize = 10;

/// An output form, for blocks and columns that only one form shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Form {
    /// The HTML page.
    Html,
    /// The Markdown ticket.
    Markdown,
}

/// The whole report: the header's facts, the summary's figures and the sections.
pub(crate) struct Document<'a> {
    /// The title, which may quote the input's name: untrusted.
    pub(crate) title: &'a str,
    /// The hub names, from the logs.
    pub(crate) hubs: &'a [String],
    /// The time window, `2026-11-26 00:00 – 2026-11-27 00:00 UTC`.
    pub(crate) window: String,
    /// Distinct devices.
    pub(crate) devices: String,
    /// Sessions rebuilt.
    pub(crate) sessions: String,
    /// Disconnect records.
    pub(crate) disconnects: String,
    /// Failed connects.
    pub(crate) failed_connects: String,
    /// The figures the page's cards and the ticket's summary list show.
    pub(crate) summary: Summary<'a>,
    /// The sections, in no particular order: each form picks them by [`Section::id`].
    pub(crate) sections: Vec<Section<'a>>,
}

/// The figures of the summary.
pub(crate) struct Summary<'a> {
    /// The highest-ranked cause that is a real problem, if any.
    pub(crate) top: Option<TopProblem<'a>>,
    /// The most devices connected in any minute.
    pub(crate) peak: String,
    /// Disconnects and failed connects that are real problems.
    pub(crate) problems: String,
    /// Whether there is any real problem.
    pub(crate) any_problem: bool,
    /// Disconnects and failed connects with a cause.
    pub(crate) classified: String,
    /// `problems` as a share of `classified`.
    pub(crate) problem_share: String,
    /// Events that are benign churn.
    pub(crate) benign_events: String,
    /// `benign_events` as a share of `classified`.
    pub(crate) benign_share: String,
    /// Devices with benign churn.
    pub(crate) benign_devices: String,
    /// How many incidents.
    pub(crate) incidents: usize,
    /// How many times the replayed alert fired.
    pub(crate) firings: usize,
    /// How many of the firings were benign churn.
    pub(crate) benign_firings: usize,
}

/// The main problem, for the summary.
pub(crate) struct TopProblem<'a> {
    /// Its cause.
    pub(crate) cause: Cause,
    /// Its disconnects and failed connects.
    pub(crate) events: String,
    /// Devices it hit.
    pub(crate) devices: String,
    /// Device-hours offline.
    pub(crate) hours: String,
    /// Its share of all events.
    pub(crate) share: String,
    /// The evidence sentence, which quotes the logs: untrusted.
    pub(crate) evidence: &'a str,
    /// The documented resolution.
    pub(crate) resolution: &'a str,
}

/// One section: `<section id>` with an `<h2>` on the page, a `##` heading in the ticket.
pub(crate) struct Section<'a> {
    /// The page's anchor, and the key each form orders the sections by.
    pub(crate) id: &'static str,
    /// The heading.
    pub(crate) title: &'static str,
    /// The content, in order.
    pub(crate) blocks: Vec<Block<'a>>,
    /// Sub-sections: an `<h3>` each inside the page's section; in the ticket each is a `##`
    /// section of its own, and the parent has no heading.
    pub(crate) parts: Vec<Section<'a>>,
}

/// A block of a section.
pub(crate) enum Block<'a> {
    /// A paragraph.
    Para(Para),
    /// A table.
    Table(Table),
    /// A bulleted list; each item is a line of spans.
    List(Vec<Vec<Span>>),
    /// A preformatted block (the ticket's sparkline), one string per line.
    Code(Vec<String>),
    /// A chart, drawn by the form that shows it from the findings.
    Chart(Chart<'a>),
    /// A block only one form shows.
    Only(Form, Box<Block<'a>>),
}

/// A paragraph of spans.
pub(crate) struct Para {
    /// A side note (muted on the page) rather than body text.
    pub(crate) note: bool,
    /// Its text.
    pub(crate) spans: Vec<Span>,
}

/// A run of text in a paragraph or a list item.
pub(crate) enum Span {
    /// Our own words, written as they are (in a block for one form, they may hold its markup).
    Ours(String),
    /// Our own words, emphasised (`<i>`, `*`).
    Emph(&'static str),
    /// Our own words or figures, in bold (`<b>`, `**`).
    Strong(String),
    /// Text from the logs: escaped.
    Log(String),
    /// An identifier from the logs: escaped, and monospaced on the page.
    Id(String),
    /// A cause name (a badge on the page, code in the ticket); `benign` greys the badge.
    Cause(Cause, bool),
    /// A line break in the ticket, a space on the page.
    Break,
}

/// A table: headers, cells, and for each row optional long texts (the details).
pub(crate) struct Table {
    /// The page's `id` for the table, if it has one.
    pub(crate) id: Option<&'static str>,
    /// The columns.
    pub(crate) columns: Vec<Column>,
    /// Headers of the details: the ticket adds them as the last columns, the page writes them
    /// in a second row under each row.
    pub(crate) details: Vec<&'static str>,
    /// The rows.
    pub(crate) rows: Vec<Row>,
    /// The page writes the body on one line (a table of totals).
    pub(crate) compact: bool,
}

/// A table column.
pub(crate) struct Column {
    /// Its header on the page; `None` when the page leaves the column out.
    pub(crate) html: Option<&'static str>,
    /// Its header in the ticket; `None` when the ticket leaves the column out.
    pub(crate) markdown: Option<&'static str>,
    /// Right-aligned figures.
    pub(crate) numeric: bool,
}

impl Column {
    /// A column of text with one header in both forms.
    fn text(header: &'static str) -> Column {
        Column { html: Some(header), markdown: Some(header), numeric: false }
    }

    /// A column of right-aligned figures with one header in both forms.
    fn number(header: &'static str) -> Column {
        Column { numeric: true, ..Column::text(header) }
    }

    /// The same column with a shorter header on the page.
    fn html_header(self, header: &'static str) -> Column {
        Column { html: Some(header), ..self }
    }

    /// The same column, shown in the ticket only.
    fn markdown_only(self) -> Column {
        Column { html: None, ..self }
    }

    /// Whether `form` shows this column.
    pub(crate) fn shown_in(&self, form: Form) -> bool {
        match form {
            Form::Html => self.html.is_some(),
            Form::Markdown => self.markdown.is_some(),
        }
    }
}

/// A table row.
pub(crate) struct Row {
    /// One cell per column.
    pub(crate) cells: Vec<Cell>,
    /// The page's anchor for the row (`incident-3`).
    pub(crate) anchor: Option<String>,
    /// The row is benign churn: the page greys it, the ticket writes `(benign)` after its cause.
    pub(crate) benign: bool,
    /// One long text from the logs per [`Table::details`] header: untrusted.
    pub(crate) details: Vec<String>,
}

impl Row {
    fn new(cells: Vec<Cell>) -> Row {
        Row { cells, anchor: None, benign: false, details: Vec::new() }
    }
}

/// A table cell.
pub(crate) enum Cell {
    /// Our own words, written as they are.
    Ours(String),
    /// A figure or a duration, right-aligned.
    Number(String),
    /// A time (or our words in its place), kept on one line on the page.
    Time(String),
    /// An identifier from the logs that the row is about (a device id, an SDK version): escaped,
    /// monospaced on the page, and kept on one line if `nowrap`.
    Key {
        /// The identifier.
        text: String,
        /// Keep it on one line.
        nowrap: bool,
    },
    /// Identifiers from the logs: escaped, one per line on the page, comma-separated in the
    /// ticket, `–` when there are none.
    Ids {
        /// The identifiers.
        ids: Vec<String>,
        /// Keep each on one line.
        nowrap: bool,
    },
    /// Networks from the logs (`/24` prefixes) with their shares, `–` when there are none.
    Networks(Vec<(String, String)>),
    /// A cause, with its share when the row says how dominant it is.
    Cause {
        /// The cause.
        cause: Cause,
        /// Greys the page's badge.
        benign: bool,
        /// Its share, when shown.
        share: Option<String>,
    },
    /// A link to an incident by index (0-based), `–` when none.
    Incident(Option<usize>),
    /// A benign-or-real verdict.
    Benign(bool),
}

/// A chart of the page, drawn from the findings only when the page is written.
pub(crate) struct Chart<'a> {
    /// What it shows.
    pub(crate) kind: ChartKind<'a>,
    /// Its description (the `aria-label`).
    pub(crate) alt: &'static str,
}

/// The charts the page draws.
pub(crate) enum ChartKind<'a> {
    /// Device-hours offline by cause.
    Causes(&'a [RankedCause]),
    /// The Connected-devices curve with incidents and the alert.
    ConnectedDevices(&'a Findings),
    /// The session-length histogram.
    SessionLengths(&'a [HistogramBucket]),
}

fn ours(text: impl Into<String>) -> Span {
    Span::Ours(text.into())
}

fn para(spans: Vec<Span>) -> Block<'static> {
    Block::Para(Para { note: false, spans })
}

fn note(spans: Vec<Span>) -> Block<'static> {
    Block::Para(Para { note: true, spans })
}

fn only(form: Form, block: Block<'_>) -> Block<'_> {
    Block::Only(form, Box::new(block))
}

fn table(columns: Vec<Column>, rows: Vec<Row>) -> Block<'static> {
    Block::Table(Table { id: None, columns, details: Vec::new(), rows, compact: false })
}

fn section<'a>(id: &'static str, title: &'static str, blocks: Vec<Block<'a>>) -> Section<'a> {
    Section { id, title, blocks, parts: Vec::new() }
}

fn ratio(part: u64, whole: u64) -> f64 {
    if whole == 0 { 0.0 } else { part as f64 / whole as f64 }
}

fn or_dash(text: String) -> String {
    if text.is_empty() { "–".to_owned() } else { text }
}

/// Builds the report's data from the findings.
pub(crate) fn build(f: &Findings) -> Document<'_> {
    Document {
        title: &f.title,
        hubs: &f.hubs,
        window: text::window(f.window_start, f.window_end),
        devices: text::count(f.devices),
        sessions: text::count(f.sessions),
        disconnects: text::count(f.disconnects),
        failed_connects: text::count(f.failed_connects),
        summary: summary(f),
        sections: vec![
            causes(f),
            benign(f),
            curve(f),
            alert(f),
            incidents(f),
            suspects(f),
            flapping(f),
            breakdowns(f),
            session_lengths(&f.session_lengths),
            quality(f),
        ],
    }
}

fn summary(f: &Findings) -> Summary<'_> {
    let classified = f.classified_events();
    let problems = problem_events(f);
    Summary {
        top: top_problem(f).map(|top| TopProblem {
            cause: top.cause,
            events: text::count(top.events()),
            devices: text::count(top.devices),
            hours: text::hours(top.device_hours_offline),
            share: text::percent(top.share),
            evidence: &top.evidence,
            resolution: &top.resolution,
        }),
        peak: text::count(peak(&f.curve)),
        problems: text::count(problems),
        any_problem: problems > 0,
        classified: text::count(classified),
        problem_share: text::percent(ratio(problems, classified)),
        benign_events: text::count(f.benign.events),
        benign_share: text::percent(ratio(f.benign.events, classified)),
        benign_devices: text::count(f.benign.devices),
        incidents: f.incidents.len(),
        firings: f.alert.firings.len(),
        benign_firings: f.alert.benign_firings(),
    }
}

fn causes(f: &Findings) -> Section<'_> {
    if f.causes.is_empty() {
        let none = para(vec![ours("No disconnect or failed connect in the window.")]);
        return section("causes", "Ranked causes", vec![none]);
    }
    let rows = f
        .causes
        .iter()
        .enumerate()
        .map(|(idx, c)| Row {
            cells: vec![
                Cell::Number((idx + 1).to_string()),
                Cell::Cause { cause: c.cause, benign: c.benign, share: None },
                Cell::Number(text::count(c.events())),
                Cell::Number(text::count(c.devices)),
                Cell::Number(text::hours(c.device_hours_offline)),
                Cell::Number(text::percent(c.share)),
                Cell::Number(text::confidence(c.mean_confidence)),
                Cell::Number(text::opt_duration(c.median_reconnect_delay_ns)),
            ],
            anchor: None,
            benign: c.benign,
            details: vec![c.evidence.clone(), c.resolution.clone()],
        })
        .collect();
    let ranking = Table {
        id: Some("ranking"),
        columns: vec![
            Column::number("#"),
            Column::text("Cause"),
            Column::number("Events"),
            Column::number("Devices"),
            Column::number("Device-hours offline"),
            Column::number("Share"),
            Column::number("Confidence"),
            Column::number("Median reconnect"),
        ],
        details: vec!["Evidence", "Resolution"],
        rows,
        compact: false,
    };
    section(
        "causes",
        "Ranked causes",
        vec![
            only(
                Form::Html,
                note(vec![ours(format!(
                    "Ordered by impact: device-hours offline, then devices, then events. Grey rows are benign churn. {}",
                    confidence_meaning("<code>dropscope evaluate</code>")
                ))]),
            ),
            only(
                Form::Markdown,
                para(vec![ours(format!(
                    "Ordered by device-hours offline, then devices, then events. {}",
                    confidence_meaning("`dropscope evaluate`")
                ))]),
            ),
            only(
                Form::Html,
                Block::Chart(Chart {
                    kind: ChartKind::Causes(&f.causes),
                    alt: "device-hours offline by cause",
                }),
            ),
            Block::Table(ranking),
        ],
    )
}

/// What the causes table's confidence means, naming the command (in the form's markup) that
/// measures it.
fn confidence_meaning(command: &str) -> String {
    format!(
        "A confidence of 0.9 means that, on simulated fleets with known causes, about 9 in 10 records given that confidence had that cause; {command} measures it (ECE)."
    )
}

fn benign(f: &Findings) -> Section<'_> {
    let b = &f.benign;
    let (events, devices, hours) =
        (text::count(b.events), text::count(b.devices), text::hours(b.device_hours_offline));
    let mut blocks = vec![
        only(
            Form::Html,
            para(vec![ours(format!(
                "{events} events on {devices} devices, {hours} device-hours offline: token renewals, clean closes and planned upgrades with quick reconnects. \
                 They are counted here and kept out of the problems above, so nobody is paged for them."
            ))]),
        ),
        only(
            Form::Markdown,
            para(vec![ours(format!(
                "{events} events on {devices} devices, {hours} device-hours offline: token renewals, clean closes and planned upgrades with quick reconnects. \
                 Nobody needs to be paged for these."
            ))]),
        ),
    ];
    if !b.by_cause.is_empty() {
        let mut badges = Vec::new();
        for (idx, (cause, n)) in b.by_cause.iter().enumerate() {
            if idx > 0 {
                badges.push(ours(" &nbsp; "));
            }
            badges.push(Span::Cause(*cause, true));
            badges.push(ours(format!(" {}", text::count(*n))));
        }
        blocks.push(only(Form::Html, para(badges)));
        let items = b
            .by_cause
            .iter()
            .map(|(cause, n)| {
                vec![Span::Cause(*cause, true), ours(format!(": {}", text::count(*n)))]
            })
            .collect();
        blocks.push(only(Form::Markdown, Block::List(items)));
    }
    section("benign", "Benign churn (filtered out)", blocks)
}

fn curve(f: &Findings) -> Section<'_> {
    let mut blocks = Vec::new();
    match lowest_minute(&f.curve) {
        Some(low) => {
            let peak = text::count(peak(&f.curve));
            let lowest = text::count(low.avg.max(0.0).round() as u64);
            let at = text::minute(low.minute);
            blocks.push(only(
                Form::Html,
                note(vec![
                    ours("The IoT Hub "),
                    Span::Emph("Connected devices"),
                    ours(format!(
                        " metric, rebuilt per minute from the sessions: average line, \
                         min–max band, incidents shaded red and numbered, the replayed alert's threshold dashed and its firings along the bottom. \
                         Peak {peak} devices; lowest average {lowest} at {at} UTC."
                    )),
                ]),
            ));
            blocks.push(only(
                Form::Markdown,
                para(vec![ours(format!(
                    "Rebuilt from the sessions, per minute. Peak {peak} devices; lowest average {lowest} at {at} UTC."
                ))]),
            ));
            let mut lines = vec![sparkline(&f.curve, 72)];
            if let (Some(first), Some(last)) = (f.curve.first(), f.curve.last()) {
                lines.push(format!(
                    "{} … {} UTC",
                    text::minute(first.minute),
                    text::minute(last.minute)
                ));
            }
            blocks.push(only(Form::Markdown, Block::Code(lines)));
        }
        None => blocks
            .push(only(Form::Markdown, para(vec![ours("No curve: no session in the window.")]))),
    }
    blocks.push(only(
        Form::Html,
        Block::Chart(Chart {
            kind: ChartKind::ConnectedDevices(f),
            alt: "the Connected-devices curve",
        }),
    ));
    section("curve", "Connected devices", blocks)
}

fn alert(f: &Findings) -> Section<'_> {
    let a = &f.alert;
    let threshold = text::count(a.threshold);
    let derived = if a.threshold_derived { " (derived: 90% of the median connected)" } else { "" };
    let duration = Duration(a.for_ns).to_string();
    let (firings, benign) = (a.firings.len(), a.benign_firings());
    let mut blocks = vec![
        only(
            Form::Html,
            para(vec![
                ours("Rule: "),
                Span::Emph("Connected devices"),
                ours(" below "),
                Span::Strong(threshold.clone()),
                ours(format!("{derived} for ")),
                Span::Strong(duration.clone()),
                ours(" (per-minute average). It would have fired "),
                Span::Strong(firings.to_string()),
                ours(" times; "),
                Span::Strong(benign.to_string()),
                ours(" of them were benign churn."),
            ]),
        ),
        only(
            Form::Markdown,
            para(vec![
                ours("Rule: "),
                Span::Emph("Connected devices"),
                ours(" below "),
                Span::Strong(threshold),
                ours(format!("{derived} for ")),
                Span::Strong(duration),
                ours(" (per-minute average)."),
                Span::Break,
                ours(format!(
                    "It would have fired {firings} times; {benign} of them were benign churn."
                )),
            ]),
        ),
    ];
    if !a.firings.is_empty() {
        let rows = a
            .firings
            .iter()
            .enumerate()
            .map(|(idx, firing)| {
                Row::new(vec![
                    Cell::Number((idx + 1).to_string()),
                    Cell::Time(text::time(firing.below_since)),
                    Cell::Time(text::time(firing.fired_at)),
                    Cell::Time(
                        firing.cleared_at.map_or_else(|| "still firing".to_owned(), text::time),
                    ),
                    Cell::Number(text::count(firing.lowest)),
                    Cell::Incident(firing.incident),
                    Cell::Benign(firing.benign),
                ])
            })
            .collect();
        let columns = vec![
            Column::number("#"),
            Column::text("Below since"),
            Column::text("Fired"),
            Column::text("Cleared"),
            Column::number("Lowest"),
            Column::text("Incident"),
            Column::text("Benign churn").html_header("Verdict"),
        ];
        blocks.push(table(columns, rows));
    }
    section("alert", "Alert replay", blocks)
}

fn incidents(f: &Findings) -> Section<'_> {
    if f.incidents.is_empty() {
        let none = para(vec![ours("None: disconnects never rose far above the fleet's baseline.")]);
        return section("incidents", "Incidents", vec![none]);
    }
    let rows = f
        .incidents
        .iter()
        .enumerate()
        .map(|(idx, i)| {
            let networks =
                i.networks.iter().map(|n| (n.prefix.clone(), text::percent(n.share))).collect();
            let codes: Vec<String> = i
                .codes
                .iter()
                .map(|c| format!("{} ×{}", text::code(c.code), text::count(c.count())))
                .collect();
            let mut row = Row::new(vec![
                Cell::Number((idx + 1).to_string()),
                Cell::Time(text::time(i.start)),
                Cell::Time(text::time(i.end)),
                Cell::Number(Duration(i.end.0 - i.start.0).to_string()),
                Cell::Number(text::count(i.events())),
                Cell::Number(text::count(i.devices)),
                Cell::Cause {
                    cause: i.dominant_cause,
                    benign: i.dominant_cause.is_benign(),
                    share: Some(text::percent(i.dominant_share)),
                },
                Cell::Networks(networks),
                Cell::Ours(or_dash(codes.join(", "))),
            ]);
            row.anchor = Some(format!("incident-{}", idx + 1));
            row
        })
        .collect();
    let columns = vec![
        Column::number("#"),
        Column::text("Start"),
        Column::text("End"),
        Column::number("Duration"),
        Column::number("Events"),
        Column::number("Devices"),
        Column::text("Dominant cause"),
        Column::text("Networks (/24)"),
        Column::text("Codes"),
    ];
    section("incidents", "Incidents", vec![table(columns, rows)])
}

fn suspects(f: &Findings) -> Section<'_> {
    const TITLE: &str = "Duplicate-identity suspects";
    if f.duplicate_suspects.is_empty() {
        return section("suspects", TITLE, vec![para(vec![ours("None found.")])]);
    }
    let rows = f
        .duplicate_suspects
        .iter()
        .map(|s| {
            Row::new(vec![
                Cell::Key { text: s.device_id.clone(), nowrap: true },
                Cell::Number(text::count(s.conflicts)),
                Cell::Number(text::count(s.alternations)),
                Cell::Ids { ids: s.masked_ips.clone(), nowrap: true },
                Cell::Ids { ids: s.sdk_versions.clone(), nowrap: true },
                Cell::Time(text::time(s.first_seen)),
                Cell::Time(text::time(s.last_seen)),
            ])
        })
        .collect();
    let columns = vec![
        Column::text("Device"),
        Column::number("Conflicts"),
        Column::number("Alternations"),
        Column::text("Masked IPs"),
        Column::text("SDK versions"),
        Column::text("First"),
        Column::text("Last"),
    ];
    section(
        "suspects",
        TITLE,
        vec![
            only(
                Form::Html,
                note(vec![ours(
                    "Two clients seem to share each of these identities: repeated 400027/409002 conflicts with alternating IPs \
                     or SDK versions. Give each client its own identity.",
                )]),
            ),
            only(
                Form::Markdown,
                para(vec![ours(
                    "Two clients seem to share each of these identities (repeated 400027/409002 with alternating IPs or SDKs). \
                     Give each client its own identity.",
                )]),
            ),
            table(columns, rows),
        ],
    )
}

fn flapping(f: &Findings) -> Section<'_> {
    const TITLE: &str = "Top flapping devices";
    if f.flapping.is_empty() {
        return section("flapping", TITLE, vec![para(vec![ours("None found.")])]);
    }
    let rows = under_devices(&f.flapping, |d| d.device_id.as_str())
        .into_iter()
        .map(|(d, key)| {
            Row::new(vec![
                Cell::Key { text: key, nowrap: true },
                Cell::Number(text::count(d.disconnects)),
                Cell::Number(text::count(d.sessions)),
                Cell::Number(text::opt_duration(d.median_session_ns)),
                Cell::Cause {
                    cause: d.dominant_cause,
                    benign: d.dominant_cause.is_benign(),
                    share: None,
                },
                Cell::Ids { ids: d.masked_ip.iter().cloned().collect(), nowrap: true },
                Cell::Ids { ids: d.sdk_version.iter().cloned().collect(), nowrap: false },
            ])
        })
        .collect();
    let columns = vec![
        Column::text("Device"),
        Column::number("Disconnects"),
        Column::number("Sessions"),
        Column::number("Median session"),
        Column::text("Main cause"),
        Column::text("Masked IP"),
        Column::text("SDK"),
    ];
    section(
        "flapping",
        TITLE,
        vec![
            only(
                Form::Html,
                note(vec![ours("Devices with the most disconnects that were not benign churn.")]),
            ),
            table(columns, rows),
        ],
    )
}

/// `rows` (ranked) with each device's modules under it: the findings name a module
/// `device/module` (a device id holds no `/`), and a device's other rows follow its first one,
/// in rank order, keyed `└ module`. Returns each row with the key to show.
fn under_devices<'r, T>(rows: &'r [T], name: impl Fn(&'r T) -> &'r str) -> Vec<(&'r T, String)> {
    fn device(name: &str) -> &str {
        name.split_once('/').map_or(name, |(device, _)| device)
    }
    let names: Vec<&str> = rows.iter().map(name).collect();
    let mut placed = vec![false; rows.len()];
    let mut out = Vec::with_capacity(rows.len());
    for first in 0..rows.len() {
        if placed[first] {
            continue;
        }
        let group = device(names[first]);
        for idx in first..rows.len() {
            if placed[idx] || device(names[idx]) != group {
                continue;
            }
            placed[idx] = true;
            let key = match names[idx].split_once('/') {
                Some((_, module)) if idx != first => format!("└ {module}"),
                _ => names[idx].to_owned(),
            };
            out.push((&rows[idx], key));
        }
    }
    out
}

fn breakdowns(f: &Findings) -> Section<'_> {
    Section {
        id: "breakdown",
        title: "By SDK and protocol",
        blocks: Vec::new(),
        parts: vec![
            breakdown("sdk", "By SDK", "SDK", &f.by_sdk),
            breakdown("protocol", "By protocol", "Protocol", &f.by_protocol),
        ],
    }
}

fn breakdown(
    id: &'static str,
    title: &'static str,
    key: &'static str,
    rows: &[Breakdown],
) -> Section<'static> {
    if rows.is_empty() {
        return section(id, title, vec![para(vec![ours("No data.")])]);
    }
    let rows = rows
        .iter()
        .map(|b| {
            Row::new(vec![
                Cell::Key { text: b.key.clone(), nowrap: false },
                Cell::Number(text::count(b.devices)),
                Cell::Number(text::count(b.sessions)),
                Cell::Number(text::count(b.events)),
                Cell::Number(text::count(b.problem_events)),
                Cell::Number(text::hours(b.device_hours_offline)),
                b.top_cause.map_or_else(
                    || Cell::Ours("–".to_owned()),
                    |c| Cell::Cause { cause: c, benign: c.is_benign(), share: None },
                ),
            ])
        })
        .collect();
    let columns = vec![
        Column::text(key),
        Column::number("Devices"),
        Column::number("Sessions").markdown_only(),
        Column::number("Events"),
        Column::number("Problem events").html_header("Problems"),
        Column::number("Device-hours offline").html_header("Dev-h offline"),
        Column::text("Top problem"),
    ];
    section(id, title, vec![table(columns, rows)])
}

fn session_lengths(buckets: &[HistogramBucket]) -> Section<'_> {
    let total: u64 = buckets.iter().map(|b| b.sessions).sum();
    let mut blocks = vec![
        only(
            Form::Html,
            note(vec![ours(format!(
                "{} closed sessions. Spikes at an SDK's token lifetime (dashed: Node 45 min, C 48 min, Python 58 min, .NET/Java about 65 min) \
                 are SAS renewals, which are benign.",
                text::count(total)
            ))]),
        ),
        only(
            Form::Html,
            Block::Chart(Chart {
                kind: ChartKind::SessionLengths(buckets),
                alt: "the session-length histogram",
            }),
        ),
    ];
    if total == 0 {
        blocks.push(only(Form::Markdown, para(vec![ours("No closed session.")])));
        return section("sessions", "Session lengths", blocks);
    }
    let mut fullest: Vec<&HistogramBucket> = buckets.iter().filter(|b| b.sessions > 0).collect();
    fullest.sort_by(|a, b| b.sessions.cmp(&a.sessions).then(a.lower_ns.cmp(&b.lower_ns)));
    fullest.truncate(TOP_BUCKETS);
    fullest.sort_by_key(|b| b.lower_ns);
    blocks.push(only(
        Form::Markdown,
        para(vec![ours(format!(
            "{} closed sessions. The fullest lengths (spikes at an SDK's token lifetime are renewals):",
            text::count(total)
        ))]),
    ));
    let rows = fullest
        .into_iter()
        .map(|b| {
            Row::new(vec![
                Cell::Ours(text::bucket(b.lower_ns, b.upper_ns)),
                Cell::Number(text::count(b.sessions)),
                Cell::Number(text::percent(ratio(b.sessions, total))),
            ])
        })
        .collect();
    let columns = vec![Column::text("Length"), Column::number("Sessions"), Column::number("Share")];
    blocks.push(only(Form::Markdown, table(columns, rows)));
    section("sessions", "Session lengths", blocks)
}

/// `Id(name) n, Id(name) n`, for counts by a name from the logs.
fn counted(items: &BTreeMap<String, u64>) -> Vec<Span> {
    let mut spans = Vec::new();
    for (idx, (name, n)) in items.iter().enumerate() {
        if idx > 0 {
            spans.push(ours(", "));
        }
        spans.push(Span::Id(name.clone()));
        spans.push(ours(format!(" {}", text::count(*n))));
    }
    spans
}

fn quality(f: &Findings) -> Section<'_> {
    let q = &f.quality;
    let totals = Table {
        id: None,
        columns: vec![
            Column::number("Files"),
            Column::number("Records read"),
            Column::number("Parsed"),
            Column::number("Duplicates dropped"),
            Column::number("Rejected"),
            Column::number("Reordered"),
        ],
        details: Vec::new(),
        rows: vec![Row::new(vec![
            Cell::Number(text::count(q.files)),
            Cell::Number(text::count(q.records_read)),
            Cell::Number(text::count(q.parsed)),
            Cell::Number(text::count(q.duplicates)),
            Cell::Number(text::count(q.rejected_total())),
            Cell::Number(text::count(q.reordered)),
        ])],
        compact: true,
    };
    let mut blocks = vec![Block::Table(totals)];
    if !q.rejected.is_empty() {
        let mut spans = vec![ours("Rejected by reason: ")];
        spans.extend(counted(&q.rejected));
        spans.push(ours("."));
        blocks.push(para(spans));
    }
    if !q.reject_examples.is_empty() {
        let html = q
            .reject_examples
            .iter()
            .map(|r| {
                vec![
                    Span::Id(r.file.clone()),
                    ours(format!(" line {}: ", r.line)),
                    Span::Log(r.reason.clone()),
                ]
            })
            .collect();
        let markdown = q
            .reject_examples
            .iter()
            .map(|r| {
                vec![
                    ours("rejected: "),
                    Span::Log(r.file.clone()),
                    ours(format!(" line {} (", r.line)),
                    Span::Log(r.reason.clone()),
                    ours(")"),
                ]
            })
            .collect();
        blocks.push(only(Form::Html, Block::List(html)));
        blocks.push(only(Form::Markdown, Block::List(markdown)));
    }
    if q.repairs.is_empty() {
        blocks.push(para(vec![ours("Sessions repaired: none.")]));
    } else {
        let mut spans = vec![ours("Sessions repaired: ")];
        spans.extend(counted(&q.repairs));
        spans.push(ours("."));
        blocks.push(para(spans));
    }
    blocks.push(only(
        Form::Html,
        note(vec![ours(
            "Every record read is parsed, dropped as a duplicate, or rejected with its file and line; \
             exports are neither complete nor ordered, so records are merged, sorted and de-duplicated before sessions are rebuilt.",
        )]),
    ));
    section("quality", "Data quality", blocks)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(ranked: &[&str], expected: &[&str]) {
        let ranked: Vec<String> = ranked.iter().map(|s| (*s).to_owned()).collect();
        let got: Vec<String> =
            under_devices(&ranked, String::as_str).into_iter().map(|(_, key)| key).collect();
        assert_eq!(got, expected);
    }

    /// IoT Edge: a device's modules are listed under it, issue 19.
    #[test]
    fn lists_modules_under_their_device() {
        check(
            &["edge1/$edgeHub", "sensor", "edge1", "edge1/SimulatedTemperatureSensor", "edge2/m"],
            &["edge1/$edgeHub", "edge1", "└ SimulatedTemperatureSensor", "sensor", "edge2/m"],
        );
        check(&["a", "b"], &["a", "b"]);
        check(&[], &[]);
    }
}
