//! Rendering of dropscope findings as a self-contained HTML page, Markdown and JSON.
//!
//! The input is a [`Findings`] value, which the engine fills; this crate computes nothing a
//! reader would have to trust it for, except the replay of the metric alert ([`alert`]), a pure
//! function of the Connected-devices curve. It never sees a `DataFrame`, so the same findings
//! render identically in every form:
//!
//! - [`render_html`]: one file with no network access (inline CSS, inline SVG charts drawn with
//!   plotters, no script), readable on a laptop and printable;
//! - [`render_markdown`]: the same findings for a ticket;
//! - [`render_json`]: the same findings for machines, with a `schema_version`
//!   (docs/report-schema.md); [`render_causes_json`] and [`render_incidents_json`] print parts
//!   of it in the same shape, for `diagnose --json` and `incidents --json` (docs/json.md).
//!
//! Every string that comes from the logs (device ids, IPs, SDK versions, reasons, file names)
//! is untrusted and escaped for the output it goes into.
//!
//! ```
//! use dropscope_model::findings::Findings;
//! use dropscope_report::{Format, render};
//!
//! let findings = Findings::new("Post-mortem: <empty>");
//! let html = render(Format::Html, &findings);
//! assert!(html.contains("Post-mortem: &lt;empty&gt;"));
//! assert_eq!(Format::from_path(std::path::Path::new("out/report.md")), Some(Format::Markdown));
//! ```
#![warn(missing_docs)]

pub mod alert;
mod charts;
mod document;
mod error;
mod escape;
mod html;
mod json;
mod markdown;
mod summary;
mod text;

use std::path::Path;

use dropscope_model::findings::Findings;

pub use error::{Error, Result};
pub use html::render_html;
pub use json::{SCHEMA_VERSION, render_causes_json, render_incidents_json, render_json};
pub use markdown::render_markdown;

/// The report's output forms.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// One self-contained HTML file.
    Html,
    /// Markdown, for a ticket.
    Markdown,
    /// JSON with a `schema_version`.
    Json,
}

impl Format {
    /// The form a file name asks for: `.html`/`.htm`, `.md`/`.markdown` or `.json`, in any case.
    pub fn from_path(path: &Path) -> Option<Format> {
        let ext = path.extension()?.to_str()?.to_ascii_lowercase();
        match ext.as_str() {
            "html" | "htm" => Some(Format::Html),
            "md" | "markdown" => Some(Format::Markdown),
            "json" => Some(Format::Json),
            _ => None,
        }
    }
}

/// Renders `findings` in `format`.
pub fn render(format: Format, findings: &Findings) -> String {
    match format {
        Format::Html => render_html(findings),
        Format::Markdown => render_markdown(findings),
        Format::Json => render_json(findings),
    }
}

#[cfg(test)]
mod tests {
    use dropscope_model::findings::Findings;

    fn check(order: [&str; 10], ids: &[&str]) {
        let mut order = order.to_vec();
        order.sort_unstable();
        assert_eq!(order, ids, "each form places every section once");
    }

    #[test]
    fn every_form_places_every_section() {
        let findings = Findings::new("t");
        let doc = crate::document::build(&findings);
        let mut ids: Vec<&str> = doc.sections.iter().map(|s| s.id).collect();
        ids.sort_unstable();
        check(crate::html::ORDER, &ids);
        check(crate::markdown::ORDER, &ids);
    }
}
