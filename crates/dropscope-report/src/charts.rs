//! The HTML report's charts, drawn with plotters' SVG backend into strings for inline SVG.
//!
//! No log-derived string is drawn into a chart: axis labels are times, counts and cause names
//! from the fixed taxonomy, so the charts need no escaping of their own (plotters escapes its
//! text anyway). A chart that cannot be drawn becomes `None` and the page says so.

use std::error::Error as StdError;

use dropscope_model::Timestamp;
use dropscope_model::findings::{Findings, HistogramBucket, MINUTE_NS, RankedCause};
use plotters::coord::Shift;
use plotters::prelude::*;

use crate::text;

type DrawResult = Result<(), Box<dyn StdError>>;

/// Chart width in SVG units; CSS scales it to the column.
const WIDTH: u32 = 1000;

const INK: RGBColor = RGBColor(31, 41, 55);
const GRID: RGBColor = RGBColor(229, 231, 235);
const BLUE: RGBColor = RGBColor(37, 99, 235);
const RED: RGBColor = RGBColor(220, 38, 38);
const ORANGE: RGBColor = RGBColor(234, 88, 12);
const GREY: RGBColor = RGBColor(156, 163, 175);
const TEAL: RGBColor = RGBColor(13, 148, 136);

fn font(size: u32) -> TextStyle<'static> {
    ("sans-serif", size).into_font().color(&INK)
}

/// Draws into a fresh SVG string; `None` when plotters reports an error.
fn svg(
    size: (u32, u32),
    draw: impl FnOnce(&DrawingArea<SVGBackend<'_>, Shift>) -> DrawResult,
) -> Option<String> {
    let mut buf = String::new();
    {
        let root = SVGBackend::with_string(&mut buf, size).into_drawing_area();
        root.fill(&WHITE).ok()?;
        draw(&root).ok()?;
        root.present().ok()?;
    }
    Some(buf)
}

/// The Connected-devices curve: min–max band, average line, incidents shaded, the alert
/// threshold dashed and the alert's firing periods as a bar along the bottom.
pub(crate) fn connected_devices(findings: &Findings) -> Option<String> {
    let first = findings.curve.first()?;
    let base = first.minute;
    let to_x = |ts: Timestamp| (ts.0 - base.0) as f64 / MINUTE_NS as f64;
    let last = findings.curve.last()?;
    let x_end = (to_x(last.minute) + 1.0).max(1.0);
    let peak =
        findings.curve.iter().map(|p| p.max).max().unwrap_or(0).max(findings.alert.threshold);
    let y_end = (peak as f64 * 1.1).max(1.0);
    svg((WIDTH, 340), |root| {
        let mut chart = ChartBuilder::on(root)
            .margin(12)
            .x_label_area_size(32)
            .y_label_area_size(64)
            .build_cartesian_2d(0f64..x_end, 0f64..y_end)?;
        chart
            .configure_mesh()
            .light_line_style(GRID.mix(0.5))
            .bold_line_style(GRID)
            .axis_style(GREY)
            .x_labels(12)
            .y_labels(6)
            .x_label_formatter(&|x| text::clock(Timestamp(base.0 + (x * MINUTE_NS as f64) as i64)))
            .y_label_formatter(&|y| text::count(y.max(0.0).round() as u64))
            .y_desc("connected devices")
            .label_style(font(12))
            .axis_desc_style(font(12))
            .draw()?;

        let incident_fill = RED.mix(0.13).filled();
        chart
            .draw_series(findings.incidents.iter().map(|incident| {
                Rectangle::new(
                    [(to_x(incident.start), 0.0), (to_x(incident.end), y_end)],
                    incident_fill,
                )
            }))?
            .label("incident")
            .legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 16, y + 5)], incident_fill));
        chart.draw_series(findings.incidents.iter().enumerate().map(|(idx, incident)| {
            Text::new(
                format!("#{}", idx + 1),
                (to_x(incident.start), y_end * 0.97),
                font(12).color(&RED),
            )
        }))?;

        let mut band: Vec<(f64, f64)> =
            findings.curve.iter().map(|p| (to_x(p.minute), p.max as f64)).collect();
        band.extend(findings.curve.iter().rev().map(|p| (to_x(p.minute), p.min as f64)));
        let band_fill = BLUE.mix(0.18).filled();
        chart
            .draw_series(std::iter::once(Polygon::new(band, band_fill)))?
            .label("min–max in the minute")
            .legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 16, y + 5)], band_fill));
        chart
            .draw_series(LineSeries::new(
                findings.curve.iter().map(|p| (to_x(p.minute), p.avg)),
                BLUE.stroke_width(2),
            ))?
            .label("average")
            .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 16, y)], BLUE.stroke_width(2)));

        if findings.alert.threshold > 0 {
            let level = findings.alert.threshold as f64;
            chart
                .draw_series(DashedLineSeries::new(
                    [(0.0, level), (x_end, level)],
                    6,
                    4,
                    ORANGE.stroke_width(2),
                ))?
                .label(format!("alert: below {}", text::count(findings.alert.threshold)))
                .legend(|(x, y)| {
                    PathElement::new(vec![(x, y), (x + 16, y)], ORANGE.stroke_width(2))
                });
            let firing_fill = ORANGE.mix(0.85).filled();
            chart
                .draw_series(findings.alert.firings.iter().map(|firing| {
                    let end = firing.cleared_at.map_or(x_end, to_x);
                    Rectangle::new(
                        [(to_x(firing.fired_at), 0.0), (end, y_end * 0.025)],
                        firing_fill,
                    )
                }))?
                .label("alert firing")
                .legend(move |(x, y)| Rectangle::new([(x, y - 3), (x + 16, y + 3)], firing_fill));
        }

        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::LowerLeft)
            .background_style(WHITE.mix(0.9))
            .border_style(GRID)
            .label_font(font(12))
            .draw()?;
        Ok(())
    })
}

/// The session-length histogram, in minutes, with the SDKs' token lifetimes marked.
pub(crate) fn session_lengths(buckets: &[HistogramBucket]) -> Option<String> {
    let to_min = |ns: i64| ns as f64 / MINUTE_NS as f64;
    let finite_end = buckets.iter().filter(|b| b.upper_ns != i64::MAX).map(|b| b.upper_ns).max();
    let last_width = buckets
        .iter()
        .rev()
        .filter(|b| b.upper_ns != i64::MAX)
        .map(|b| b.upper_ns - b.lower_ns)
        .next()
        .unwrap_or(MINUTE_NS);
    // An open-ended last bucket is drawn as wide as the one before it.
    let upper = |b: &HistogramBucket| {
        if b.upper_ns == i64::MAX { b.lower_ns.saturating_add(last_width) } else { b.upper_ns }
    };
    let x_end = buckets.iter().map(upper).max().or(finite_end).map_or(0.0, to_min);
    let x_start = buckets.first().map_or(0.0, |b| to_min(b.lower_ns));
    if x_end <= x_start {
        return None;
    }
    let y_end = (buckets.iter().map(|b| b.sessions).max().unwrap_or(0) as f64 * 1.12).max(1.0);
    svg((WIDTH, 280), |root| {
        let mut chart = ChartBuilder::on(root)
            .margin(12)
            .margin_right(28)
            .x_label_area_size(32)
            .y_label_area_size(64)
            .build_cartesian_2d(x_start..x_end, 0f64..y_end)?;
        chart
            .configure_mesh()
            .disable_x_mesh()
            .light_line_style(GRID.mix(0.5))
            .bold_line_style(GRID)
            .axis_style(GREY)
            .x_labels(14)
            .y_labels(5)
            .x_label_formatter(&|m| axis_minutes(*m))
            .y_label_formatter(&|y| text::count(y.max(0.0).round() as u64))
            .x_desc("session length")
            .y_desc("sessions")
            .label_style(font(12))
            .axis_desc_style(font(12))
            .draw()?;
        // Where the SDKs renew their SAS tokens by default (docs/research/simulator-facts.md).
        let marks = [
            (45.0, "Node", 0.99),
            (48.0, "C", 0.92),
            (58.0, "Python", 0.99),
            (65.0, ".NET/Java", 0.92),
        ];
        for (at, label, height) in
            marks.into_iter().filter(|(at, _, _)| *at > x_start && *at < x_end)
        {
            chart.draw_series(DashedLineSeries::new(
                [(at, 0.0), (at, y_end)],
                3,
                4,
                GREY.stroke_width(1),
            ))?;
            chart.draw_series(std::iter::once(Text::new(
                label,
                (at, y_end * height),
                font(11).color(&GREY),
            )))?;
        }
        chart.draw_series(buckets.iter().map(|b| {
            let mut bar = Rectangle::new(
                [(to_min(b.lower_ns), 0.0), (to_min(upper(b)), b.sessions as f64)],
                TEAL.filled(),
            );
            bar.set_margin(0, 0, 1, 1);
            bar
        }))?;
        Ok(())
    })
}

/// A compact axis label for a length in minutes: `45 min`, `1 h`, `1 h 10`.
fn axis_minutes(minutes: f64) -> String {
    let m = minutes.max(0.0).round() as i64;
    match (m / 60, m % 60) {
        (0, m) => format!("{m} min"),
        (h, 0) => format!("{h} h"),
        (h, m) => format!("{h} h {m:02}"),
    }
}

/// Horizontal bars of device-hours offline per cause (events when no cause has any), ranked
/// order top-down, benign churn in grey.
pub(crate) fn causes(causes: &[RankedCause]) -> Option<String> {
    if causes.is_empty() {
        return None;
    }
    let by_hours = causes.iter().any(|c| c.device_hours_offline > 0.0);
    let value = |c: &RankedCause| {
        if by_hours { c.device_hours_offline.max(0.0) } else { c.events() as f64 }
    };
    let x_end = causes.iter().map(value).fold(0.0, f64::max).max(f64::MIN_POSITIVE) * 1.3;
    let n = causes.len() as i32;
    let height = 60 + 30 * causes.len() as u32;
    svg((WIDTH, height), |root| {
        let mut chart = ChartBuilder::on(root)
            .margin(12)
            .x_label_area_size(32)
            .y_label_area_size(150)
            .build_cartesian_2d(0f64..x_end, (0..n).into_segmented())?;
        chart
            .configure_mesh()
            .disable_y_mesh()
            .light_line_style(GRID.mix(0.5))
            .bold_line_style(GRID)
            .axis_style(GREY)
            .x_labels(6)
            .y_labels(causes.len())
            .x_label_formatter(&|x| {
                if by_hours { text::hours(*x) } else { text::count(x.max(0.0).round() as u64) }
            })
            .y_label_formatter(&|y| match y {
                SegmentValue::CenterOf(row) | SegmentValue::Exact(row) => {
                    usize::try_from(n - 1 - row)
                        .ok()
                        .and_then(|idx| causes.get(idx))
                        .map_or_else(String::new, |c| c.cause.as_str().to_owned())
                }
                SegmentValue::Last => String::new(),
            })
            .x_desc(if by_hours {
                "device-hours offline"
            } else {
                "disconnects and failed connects"
            })
            .label_style(font(12))
            .axis_desc_style(font(12))
            .draw()?;
        chart.draw_series(causes.iter().enumerate().map(|(idx, cause)| {
            let row = n - 1 - idx as i32;
            let color = if cause.benign { GREY } else { RED };
            let mut bar = Rectangle::new(
                [(0.0, SegmentValue::Exact(row)), (value(cause), SegmentValue::Exact(row + 1))],
                color.filled(),
            );
            bar.set_margin(5, 5, 0, 0);
            bar
        }))?;
        chart.draw_series(causes.iter().enumerate().map(|(idx, cause)| {
            let row = n - 1 - idx as i32;
            let label = format!(
                "  {} · {}{}",
                if by_hours {
                    format!("{} dev-h", text::hours(cause.device_hours_offline))
                } else {
                    text::count(cause.events())
                },
                text::percent(cause.share),
                if cause.benign { " · benign" } else { "" }
            );
            Text::new(label, (value(cause), SegmentValue::CenterOf(row)), font(12))
        }))?;
        Ok(())
    })
}
