//! [`analyse`]: the whole analysis of one events slice, from sessions to [`Findings`].
//!
//! Every command that shows causes or incidents (`report`, `demo`, `diagnose`, `incidents`) gets
//! them from here, so they cannot disagree. The steps, in order: a cause per record, the
//! sessions with each record's offline time ([`crate::offline::sessions_charged`]), then side by
//! side the Connected-devices curve, the incidents among the real problems and the ranking, and
//! the join
//! ([`crate::findings::assemble`]). A caller that shows progress passes an
//! observer to [`analyse_observed`]; the engine itself knows nothing of progress bars.
//!
//! The alert replay ([`Findings::alert`]) is left empty: it depends on the user's alert rule, and
//! the caller fills it from the findings' curve and incidents (`dropscope_report::alert::replay`).

use dropscope_model::Event;
use dropscope_model::findings::{DataQuality, Findings, Incident};

use crate::classify::{ClassifyConfig, Verdict, classify_in};
use crate::findings::{FindingsInput, assemble};
use crate::incidents::{IncidentConfig, detect_among};
use crate::offline::sessions_charged;
use crate::partition::Partition;
use crate::sessions::SessionTable;
use crate::{curve, rank};

/// The thresholds of the analysis.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct AnalyseConfig {
    /// The classifier's thresholds.
    pub classify: ClassifyConfig,
    /// How hot a minute must be to count as part of an incident.
    pub incidents: IncidentConfig,
}

/// One step of [`analyse`], in the order they run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// A cause for every disconnect and failed connect.
    Classifying,
    /// Rebuilding the sessions, and charging each verdict its offline time in the same walk.
    Sessions,
    /// The Connected-devices curve, the fleet incidents among the real problems and the ranking
    /// of the causes by impact, side by side (each reads the sessions and verdicts alone).
    Ranking,
    /// Joining the results into [`Findings`].
    Assembling,
}

impl Step {
    /// Every step, in the order they run.
    pub const ALL: [Step; 4] = [Step::Classifying, Step::Sessions, Step::Ranking, Step::Assembling];

    /// The 0-based position of the step in [`Step::ALL`].
    pub fn index(self) -> usize {
        self as usize
    }

    /// A word for a progress bar: `classifying`, `sessions`, `ranking` ...
    pub fn label(self) -> &'static str {
        match self {
            Step::Sessions => "sessions",
            Step::Classifying => "classifying",
            Step::Ranking => "ranking",
            Step::Assembling => "assembling",
        }
    }
}

/// Runs every analysis over `events` (the distinct events, in input order) and joins the
/// results into findings, with `quality` (what the reader counted) as their data-quality section.
/// The alert replay is left empty (see the module docs).
pub fn analyse(events: &[Event], quality: &DataQuality, config: &AnalyseConfig) -> Findings {
    analyse_observed(events, quality, config, &mut |_| {})
}

/// [`analyse`], calling `observer` as each step begins.
pub fn analyse_observed(
    events: &[Event],
    quality: &DataQuality,
    config: &AnalyseConfig,
    observer: &mut dyn FnMut(Step),
) -> Findings {
    // The device partition is found once; the classifier, the sessions, the offline accounting
    // and the report's sections all work on it. The classifier runs first, before the session
    // table exists: its working state is the largest of any step, and the table (about 60 bytes
    // a record) beside it set the run's peak memory. Both read the partition's devices, not the
    // order of their events, which the session walk then sorts into timeline order.
    observer(Step::Classifying);
    let partition = Partition::of(events);
    let verdicts = classify_in(events, &partition, &config.classify);
    observer(Step::Sessions);
    let (table, charged) = sessions_charged(events, partition, &verdicts);
    observer(Step::Ranking);
    // Each of the three has serial stretches (a sort's merge, a fold's end): side by side they
    // keep both cores busy.
    let (curve, (incidents, ranking)) = rayon::join(
        || {
            table
                .window
                .map(|window| curve::connected_devices(&table.sessions, window))
                .unwrap_or_default()
        },
        || {
            rayon::join(
                || problem_incidents(events, &table, &verdicts, &config.incidents),
                || rank::rank_charged(events, &verdicts, &table, &charged),
            )
        },
    );
    observer(Step::Assembling);
    assemble(FindingsInput {
        events,
        table: &table,
        curve: &curve,
        incidents: &incidents,
        verdicts: &verdicts,
        ranking: &ranking,
        offline_ns: &charged.offline_ns,
        quality,
    })
}

/// The incidents among the real problems: benign churn is left out of the counts
/// ([`detect_among`] says why).
fn problem_incidents(
    events: &[Event],
    table: &SessionTable,
    verdicts: &[Verdict],
    config: &IncidentConfig,
) -> Vec<Incident> {
    let mut counted = vec![false; events.len()];
    for verdict in verdicts {
        if !verdict.cause.is_benign()
            && let Some(flag) = counted.get_mut(verdict.index())
        {
            *flag = true;
        }
    }
    detect_among(events, table, &counted, config)
}
