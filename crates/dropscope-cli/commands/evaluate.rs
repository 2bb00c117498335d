//! `dropscope evaluate`: scores dropscope's classifier on logs, or anyone's predictions.csv,
//! against ground-truth labels, with the error-code-only baseline beside it.

use std::fmt::Write as _;

use anyhow::Context as _;
use dropscope_engine::classify::{ClassifyConfig, classify};
use dropscope_engine::evaluate::{self, Evaluation, Labelled, Scores};
use dropscope_logs::labels::{Label, read_labels};
use dropscope_model::Cause;

use crate::args::{EvaluateArgs, InputArgs};
use crate::commands::ingest::load;
use crate::{Context, ExitStatus};

pub(crate) fn run(args: &EvaluateArgs, ctx: &Context) -> anyhow::Result<ExitStatus> {
    let truth = labelled(
        read_labels(&args.truth).with_context(|| format!("reading {}", args.truth.display()))?,
    );
    let evaluation = if let Some(path) = &args.predictions {
        let predictions =
            labelled(read_labels(path).with_context(|| format!("reading {}", path.display()))?);
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
            serde_json::to_string(&evaluation).context("rendering the scores")?
        ))?;
    } else {
        crate::print_out(&render(&evaluation))?;
    }
    Ok(ExitStatus::Success)
}

fn labelled(labels: Vec<Label>) -> Vec<Labelled> {
    labels
        .into_iter()
        .map(|label| Labelled {
            device_id: label.device_id,
            time: label.time,
            operation: label.operation,
            occurrence: label.occurrence,
            cause: label.cause,
        })
        .collect()
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
