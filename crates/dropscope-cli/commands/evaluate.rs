//! `dropscope evaluate`: scores dropscope's classifier on logs, or anyone's predictions.csv,
//! against ground-truth labels, with the error-code-only baseline beside it.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use anyhow::Context as _;
use dropscope_engine::classify::{ClassifyConfig, classify};
use dropscope_engine::evaluate::{
    self, ClassScores, Evaluation, ReliabilityBin, Scores, Unmatched,
};
use dropscope_logs::labels::read_labels;
use dropscope_model::Cause;
use serde::Serialize;

use crate::args::{EvaluateArgs, InputArgs};
use crate::commands::ingest::load;
use crate::{Context, ExitStatus};

pub(crate) fn run(args: &EvaluateArgs, ctx: &Context) -> anyhow::Result<ExitStatus> {
    let truth =
        read_labels(&args.truth).with_context(|| format!("reading {}", args.truth.display()))?;
    let evaluation = if let Some(path) = &args.predictions {
        let predictions =
            read_labels(path).with_context(|| format!("reading {}", path.display()))?;
        Evaluation::new(evaluate::score(&truth, &predictions), None)
    } else {
        let input = InputArgs { inputs: args.inputs.clone(), rejects: None, strict: false };
        let ingested = load(&input, ctx)?;
        let events = &ingested.events;
        let verdicts = classify(events, &ClassifyConfig::default());
        let mut verdict_of = vec![(Cause::Unknown, None); events.len()];
        for verdict in &verdicts {
            verdict_of[verdict.index()] = (verdict.cause, Some(verdict.confidence));
        }
        let ours = evaluate::labelled_with_confidence(events, |idx| verdict_of[idx]);
        Evaluation::new(
            evaluate::score(&truth, &ours),
            Some(evaluate::score(&truth, &evaluate::baseline(events))),
        )
    };
    if args.json {
        crate::print_out(&format!(
            "{}\n",
            serde_json::to_string(&EvaluationJson::from(&evaluation))
                .context("rendering the scores")?
        ))?;
    } else {
        crate::print_out(&render(&evaluation))?;
    }
    Ok(ExitStatus::Success)
}

/// What `evaluate --json` prints (docs/json.md): the engine's [`Evaluation`], serialised here at
/// the edge because the engine's types are not serializable.
#[derive(Serialize)]
struct EvaluationJson<'a> {
    schema_version: u32,
    accuracy: f64,
    macro_f1: f64,
    per_class: BTreeMap<&'a str, ClassJson>,
    confusion: &'a BTreeMap<String, BTreeMap<String, u64>>,
    baseline: Option<ScoresJson<'a>>,
    unmatched: UnmatchedJson,
    ece: Option<f64>,
    reliability: Vec<BinJson>,
}

#[derive(Serialize)]
struct ScoresJson<'a> {
    accuracy: f64,
    macro_f1: f64,
    per_class: BTreeMap<&'a str, ClassJson>,
    confusion: &'a BTreeMap<String, BTreeMap<String, u64>>,
    unmatched: UnmatchedJson,
}

#[derive(Serialize)]
struct ClassJson {
    precision: f64,
    recall: f64,
    f1: f64,
    support: u64,
}

/// One reliability bin, keyed as docs/DESIGN.md names them.
#[derive(Serialize)]
struct BinJson {
    low: f64,
    high: f64,
    count: u64,
    accuracy: Option<f64>,
    mean_confidence: Option<f64>,
}

#[derive(Serialize)]
struct UnmatchedJson {
    truth: u64,
    predictions: u64,
}

impl<'a> From<&'a Evaluation> for EvaluationJson<'a> {
    fn from(evaluation: &'a Evaluation) -> EvaluationJson<'a> {
        EvaluationJson {
            schema_version: dropscope_report::SCHEMA_VERSION,
            accuracy: evaluation.accuracy,
            macro_f1: evaluation.macro_f1,
            per_class: per_class_json(&evaluation.per_class),
            confusion: &evaluation.confusion,
            baseline: evaluation.baseline.as_ref().map(|scores| ScoresJson {
                accuracy: scores.accuracy,
                macro_f1: scores.macro_f1,
                per_class: per_class_json(&scores.per_class),
                confusion: &scores.confusion,
                unmatched: unmatched_json(scores.unmatched),
            }),
            unmatched: unmatched_json(evaluation.unmatched),
            ece: evaluation.calibration.ece,
            reliability: evaluation.calibration.reliability.iter().map(bin_json).collect(),
        }
    }
}

fn bin_json(bin: &ReliabilityBin) -> BinJson {
    BinJson {
        low: bin.lower,
        high: bin.upper,
        count: bin.count,
        accuracy: bin.accuracy,
        mean_confidence: bin.mean_confidence,
    }
}

fn per_class_json(per_class: &BTreeMap<String, ClassScores>) -> BTreeMap<&str, ClassJson> {
    per_class
        .iter()
        .map(|(cause, class)| {
            let json = ClassJson {
                precision: class.precision,
                recall: class.recall,
                f1: class.f1,
                support: class.support,
            };
            (cause.as_str(), json)
        })
        .collect()
}

fn unmatched_json(unmatched: Unmatched) -> UnmatchedJson {
    UnmatchedJson { truth: unmatched.truth, predictions: unmatched.predictions }
}

/// The scores for people: headline figures, the per-class table (baseline F1 beside ours), the
/// calibration (ECE and reliability table), the confusion matrix and the unmatched counts.
fn render(evaluation: &Evaluation) -> String {
    let mut out = String::new();
    let baseline = evaluation.baseline.as_ref();
    let _ = writeln!(out, "{:<22} {:>10} {:>10}", "", "dropscope", "baseline");
    let figure = |scores: Option<&Scores>, get: fn(&Scores) -> f64| {
        scores.map_or("-".to_owned(), |s| format!("{:.4}", get(s)))
    };
    let _ = writeln!(
        out,
        "{:<22} {:>10.4} {:>10}",
        "accuracy",
        evaluation.accuracy,
        figure(baseline, |s| s.accuracy)
    );
    let _ = writeln!(
        out,
        "{:<22} {:>10.4} {:>10}",
        "macro-F1",
        evaluation.macro_f1,
        figure(baseline, |s| s.macro_f1)
    );
    let _ = writeln!(out);
    let _ = writeln!(
        out,
        "{:<20} {:>9} {:>9} {:>9} {:>9} {:>12}",
        "cause", "precision", "recall", "F1", "support", "baseline F1"
    );
    for (cause, class) in &evaluation.per_class {
        let base = baseline
            .and_then(|b| b.per_class.get(cause))
            .map_or("-".to_owned(), |c| format!("{:.3}", c.f1));
        let _ = writeln!(
            out,
            "{:<20} {:>9.3} {:>9.3} {:>9.3} {:>9} {:>12}",
            cause, class.precision, class.recall, class.f1, class.support, base
        );
    }
    let _ = writeln!(out);
    render_calibration(&mut out, evaluation);
    let _ = writeln!(out);
    let _ = writeln!(out, "confusion (rows: truth, columns: predicted)");
    let columns: Vec<&String> = evaluation.confusion.keys().collect();
    let short = |name: &str| name.chars().take(8).collect::<String>();
    let _ = write!(out, "{:<20}", "");
    for column in &columns {
        let _ = write!(out, " {:>8}", short(column));
    }
    let _ = writeln!(out);
    for (truth, row) in &evaluation.confusion {
        let _ = write!(out, "{truth:<20}");
        for column in &columns {
            let _ = write!(out, " {:>8}", row.get(*column).copied().unwrap_or(0));
        }
        let _ = writeln!(out);
    }
    let _ = writeln!(out);
    let _ = writeln!(
        out,
        "unmatched: {} truth rows without a prediction (scored as misses), {} predictions without a truth row",
        evaluation.unmatched.truth, evaluation.unmatched.predictions
    );
    if baseline.is_none() {
        let _ = writeln!(out, "baseline: not run (it needs the logs, not a predictions file)");
    }
    out
}

/// The ECE and the reliability table of our confidences (the baseline has none).
fn render_calibration(out: &mut String, evaluation: &Evaluation) {
    let calibration = &evaluation.calibration;
    let Some(ece) = calibration.ece else {
        let _ = writeln!(
            out,
            "calibration: no prediction has a confidence ({} without one)",
            calibration.without_confidence
        );
        return;
    };
    let _ = writeln!(
        out,
        "calibration: ECE {ece:.4} over {} confidence bins (a confidence of 0.9 should be right 9 times in 10)",
        calibration.reliability.len()
    );
    let _ = writeln!(out, "{:<20} {:>9} {:>9} {:>9}", "confidence", "count", "mean", "accuracy");
    let figure = |value: Option<f64>| value.map_or("-".to_owned(), |v| format!("{v:.3}"));
    for bin in &calibration.reliability {
        let closing = if bin.upper >= 1.0 { ']' } else { ')' };
        let _ = writeln!(
            out,
            "{:<20} {:>9} {:>9} {:>9}",
            format!("[{:.1}, {:.1}{closing}", bin.lower, bin.upper),
            bin.count,
            figure(bin.mean_confidence),
            figure(bin.accuracy)
        );
    }
    if calibration.without_confidence > 0 {
        let _ = writeln!(
            out,
            "{} matched predictions without a confidence left out",
            calibration.without_confidence
        );
    }
}

#[cfg(test)]
mod tests {
    use dropscope_model::{Label, Operation, Timestamp};

    use super::*;

    #[test]
    fn json_has_the_documented_keys() {
        let truth = [Label {
            device_id: "a".to_owned(),
            time: Timestamp::from_secs(0),
            operation: Operation::Disconnect,
            occurrence: 0,
            cause: Cause::TokenExpiry,
            confidence: None,
        }];
        let predictions = [Label { confidence: Some(1.0), ..truth[0].clone() }];
        let evaluation = Evaluation::new(
            evaluate::score(&truth, &predictions),
            Some(evaluate::score(&truth, &[])),
        );
        let json = serde_json::to_string(&EvaluationJson::from(&evaluation)).unwrap();
        assert_eq!(
            json,
            r#"{"schema_version":1,"accuracy":1.0,"macro_f1":1.0,"per_class":{"token_expiry":{"precision":1.0,"recall":1.0,"f1":1.0,"support":1}},"confusion":{"token_expiry":{"token_expiry":1}},"baseline":{"accuracy":0.0,"macro_f1":0.0,"per_class":{"token_expiry":{"precision":0.0,"recall":0.0,"f1":0.0,"support":1}},"confusion":{"token_expiry":{"token_expiry":0}},"unmatched":{"truth":1,"predictions":0}},"unmatched":{"truth":0,"predictions":0},"ece":0.0,"reliability":[{"low":0.0,"high":0.1,"count":0,"accuracy":null,"mean_confidence":null},{"low":0.1,"high":0.2,"count":0,"accuracy":null,"mean_confidence":null},{"low":0.2,"high":0.3,"count":0,"accuracy":null,"mean_confidence":null},{"low":0.3,"high":0.4,"count":0,"accuracy":null,"mean_confidence":null},{"low":0.4,"high":0.5,"count":0,"accuracy":null,"mean_confidence":null},{"low":0.5,"high":0.6,"count":0,"accuracy":null,"mean_confidence":null},{"low":0.6,"high":0.7,"count":0,"accuracy":null,"mean_confidence":null},{"low":0.7,"high":0.8,"count":0,"accuracy":null,"mean_confidence":null},{"low":0.8,"high":0.9,"count":0,"accuracy":null,"mean_confidence":null},{"low":0.9,"high":1.0,"count":1,"accuracy":1.0,"mean_confidence":1.0}]}"#
        );
    }
}
