//! Figures derived from the findings for the summary, the same in every rendering.

use dropscope_model::findings::{CurvePoint, Findings, RankedCause};

/// The highest-ranked cause that is not benign churn.
pub(crate) fn top_problem(findings: &Findings) -> Option<&RankedCause> {
    findings.causes.iter().find(|cause| !cause.benign)
}

/// Disconnects and failed connects that are real problems (not benign churn).
pub(crate) fn problem_events(findings: &Findings) -> u64 {
    findings.causes.iter().filter(|cause| !cause.benign).map(RankedCause::events).sum()
}

/// The minute with the lowest average of connected devices (the first on a tie).
pub(crate) fn lowest_minute(curve: &[CurvePoint]) -> Option<&CurvePoint> {
    curve.iter().reduce(|low, point| if point.avg < low.avg { point } else { low })
}

/// The most devices connected in any minute.
pub(crate) fn peak(curve: &[CurvePoint]) -> u64 {
    curve.iter().map(|point| point.max).max().unwrap_or(0)
}

/// A one-line sparkline of the curve's per-minute averages, `width` characters at most,
/// each the mean of its slice of minutes, scaled from zero to the peak.
pub(crate) fn sparkline(curve: &[CurvePoint], width: usize) -> String {
    const BARS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];
    if curve.is_empty() || width == 0 {
        return String::new();
    }
    let per = curve.len().div_ceil(width);
    let means: Vec<f64> = curve
        .chunks(per)
        .map(|chunk| chunk.iter().map(|p| p.avg).sum::<f64>() / chunk.len() as f64)
        .collect();
    let top = means.iter().copied().fold(0.0, f64::max);
    means
        .iter()
        .map(|mean| {
            let level = if top > 0.0 { (mean / top * 7.0).round() } else { 0.0 };
            BARS[(level.clamp(0.0, 7.0)) as usize]
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use dropscope_model::Timestamp;

    use super::*;

    fn check(avgs: &[f64], width: usize, expected: &str) {
        let curve: Vec<CurvePoint> = avgs
            .iter()
            .map(|avg| CurvePoint { minute: Timestamp(0), min: 0, avg: *avg, max: 0 })
            .collect();
        assert_eq!(sparkline(&curve, width), expected);
    }

    #[test]
    fn sparkline_scales_to_the_peak() {
        check(&[0.0, 50.0, 100.0], 3, "▁▅█");
        check(&[100.0, 100.0, 0.0, 0.0], 2, "█▁");
        check(&[0.0, 0.0], 4, "▁▁");
        check(&[], 4, "");
    }
}
