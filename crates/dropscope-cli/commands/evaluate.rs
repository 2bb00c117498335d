//! `dropscope evaluate`: scores dropscope's classifier on logs, or anyone's predictions.csv,
//! against ground-truth labels, with the error-code-only baseline beside it.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use anyhow::Context as _;
use dropscope_engine::classify::{ClassifyConfig, classify};
use dropscope_engine::evaluate::{self, ClassScores, Evaluation, Scores, Unmatched};
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
        let mut cause_of = vec![Cause::Unknown; events.len()];
        for verdict in &verdicts {
            cause_of[verdict.event] = verdict.cause;
        }
        let ours = evaluate::labelled(events, |idx| cause_of[idx]);
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
        }
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
/// confusion matrix and the unmatched counts.
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
        let evaluation =
            Evaluation::new(evaluate::score(&truth, &truth), Some(evaluate::score(&truth, &[])));
        let json = serde_json::to_string(&EvaluationJson::from(&evaluation)).unwrap();
        assert_eq!(
            json,
            r#"{"schema_version":1,"accuracy":1.0,"macro_f1":1.0,"per_class":{"token_expiry":{"precision":1.0,"recall":1.0,"f1":1.0,"support":1}},"confusion":{"token_expiry":{"token_expiry":1}},"baseline":{"accuracy":0.0,"macro_f1":0.0,"per_class":{"token_expiry":{"precision":0.0,"recall":0.0,"f1":0.0,"support":1}},"confusion":{"token_expiry":{"token_expiry":0}},"unmatched":{"truth":1,"predictions":0}},"unmatched":{"truth":0,"predictions":0}}"#
        );
    }
}
