//! Scoring a classifier against ground-truth labels: accuracy, macro-F1, per-class figures, confusion.
//!
//! Rows are matched on `(device_id, time, operation, occurrence)`, `time` as an instant. A truth
//! row with no prediction counts as a miss (it lowers accuracy and its class's recall); a
//! prediction with no truth row cannot be scored and is only counted. Macro-F1 is the mean of the
//! per-class F1 over the causes present in the truth, as docs/DESIGN.md defines it.
//!
//! [`Calibration`] says whether the confidences mean what they say: the matched predictions are
//! put in ten equal-width confidence bins over `[0, 1]` (the last one closed, so a confidence of
//! 1 is in it), and the expected calibration error (ECE) is the mean, weighted by bin size, of
//! `|accuracy - mean confidence|` per bin. Predictions without a confidence are left out and
//! counted; with none at all there is no ECE (not an ECE of 0).
//!
//! [`baseline`] is the error-code-only rule of docs/DESIGN.md, scored beside every classifier.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use dropscope_model::{Cause, Event, Label, Level, Operation};
use rayon::prelude::*;

use crate::partition::Partition;

/// Precision, recall, F1 and support of one cause.
#[derive(Debug, Clone, PartialEq)]
pub struct ClassScores {
    /// Correct predictions of this cause over all matched predictions of it.
    pub precision: f64,
    /// Correct predictions of this cause over its truth rows.
    pub recall: f64,
    /// The harmonic mean of precision and recall (0 when both are 0).
    pub f1: f64,
    /// Truth rows of this cause.
    pub support: u64,
}

/// Rows that could not be matched.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Unmatched {
    /// Truth rows with no prediction (scored as misses).
    pub truth: u64,
    /// Predictions with no truth row (not scored).
    pub predictions: u64,
}

/// The scores of one classifier.
#[derive(Debug, Clone, PartialEq)]
pub struct Scores {
    /// Correct predictions over truth rows.
    pub accuracy: f64,
    /// The mean F1 over the causes present in the truth.
    pub macro_f1: f64,
    /// Per cause present in the truth or the predictions, by name.
    pub per_class: BTreeMap<String, ClassScores>,
    /// `confusion[truth][predicted]` = matched rows, over the causes of `per_class`.
    pub confusion: BTreeMap<String, BTreeMap<String, u64>>,
    /// Rows left unmatched on each side.
    pub unmatched: Unmatched,
    /// How well the matched predictions' confidences are calibrated.
    pub calibration: Calibration,
}

/// The number of equal-width confidence bins of [`Calibration::reliability`].
pub const CONFIDENCE_BINS: usize = 10;

/// The matched predictions whose confidence falls in `[lower, upper)` (`[lower, upper]` for the
/// last bin).
#[derive(Debug, Clone, PartialEq)]
pub struct ReliabilityBin {
    /// The bin's lower edge.
    pub lower: f64,
    /// The bin's upper edge.
    pub upper: f64,
    /// Matched predictions with a confidence in the bin.
    pub count: u64,
    /// Their mean confidence; `None` for an empty bin.
    pub mean_confidence: Option<f64>,
    /// The share of them whose cause is the truth's; `None` for an empty bin.
    pub accuracy: Option<f64>,
}

/// Whether the confidences are calibrated: a confidence of 0.9 should be right about 9 times in 10.
#[derive(Debug, Clone, PartialEq)]
pub struct Calibration {
    /// The expected calibration error over [`CONFIDENCE_BINS`] bins; `None` when no matched
    /// prediction has a confidence.
    pub ece: Option<f64>,
    /// Every bin, empty ones included, from the lowest confidence up.
    pub reliability: Vec<ReliabilityBin>,
    /// Matched predictions without a confidence (left out of the bins).
    pub without_confidence: u64,
}

/// What `evaluate --json` prints: our scores, with the baseline's beside them when the logs
/// were given (a bare predictions file has no error codes to run the baseline on).
#[derive(Debug, Clone, PartialEq)]
pub struct Evaluation {
    /// See [`Scores::accuracy`].
    pub accuracy: f64,
    /// See [`Scores::macro_f1`].
    pub macro_f1: f64,
    /// See [`Scores::per_class`].
    pub per_class: BTreeMap<String, ClassScores>,
    /// See [`Scores::confusion`].
    pub confusion: BTreeMap<String, BTreeMap<String, u64>>,
    /// The error-code-only baseline on the same records.
    pub baseline: Option<Scores>,
    /// See [`Scores::unmatched`].
    pub unmatched: Unmatched,
    /// See [`Scores::calibration`].
    pub calibration: Calibration,
}

impl Evaluation {
    /// Puts a classifier's scores and the baseline's together.
    pub fn new(ours: Scores, baseline: Option<Scores>) -> Evaluation {
        Evaluation {
            accuracy: ours.accuracy,
            macro_f1: ours.macro_f1,
            per_class: ours.per_class,
            confusion: ours.confusion,
            baseline,
            unmatched: ours.unmatched,
            calibration: ours.calibration,
        }
    }
}

type Key<'a> = (&'a str, i64, Operation, u32);

fn key(row: &Label) -> Key<'_> {
    (row.device_id.as_str(), row.time.nanos(), row.operation, row.occurrence)
}

/// Scores `predictions` against `truth`.
pub fn score(truth: &[Label], predictions: &[Label]) -> Scores {
    // Each prediction can match one truth row; a repeated key in the predictions is unmatched.
    let mut predicted: HashMap<Key<'_>, (Cause, Option<f64>, bool)> =
        HashMap::with_capacity(predictions.len());
    let mut unmatched = Unmatched::default();
    for row in predictions {
        if predicted.insert(key(row), (row.cause, row.confidence, false)).is_some() {
            unmatched.predictions += 1;
        }
    }
    let mut pairs: BTreeMap<(Cause, Cause), u64> = BTreeMap::new();
    let mut support: BTreeMap<Cause, u64> = BTreeMap::new();
    let mut correct = 0_u64;
    let mut bins = Bins::default();
    for row in truth {
        *support.entry(row.cause).or_default() += 1;
        match predicted.get_mut(&key(row)) {
            Some((cause, confidence, used)) if !*used => {
                *used = true;
                *pairs.entry((row.cause, *cause)).or_default() += 1;
                correct += u64::from(*cause == row.cause);
                bins.add(*confidence, *cause == row.cause);
            }
            _ => unmatched.truth += 1,
        }
    }
    unmatched.predictions += predicted.values().filter(|(_, _, used)| !used).count() as u64;

    let classes: BTreeSet<Cause> =
        support.keys().copied().chain(pairs.keys().map(|&(_, predicted)| predicted)).collect();
    let mut per_class = BTreeMap::new();
    let mut f1_sum = 0.0;
    for &class in &classes {
        let hits = pairs.get(&(class, class)).copied().unwrap_or(0);
        let n_predicted: u64 = pairs.iter().filter(|((_, p), _)| *p == class).map(|(_, n)| n).sum();
        let n_truth = support.get(&class).copied().unwrap_or(0);
        let precision = ratio(hits, n_predicted);
        let recall = ratio(hits, n_truth);
        let f1 = if precision + recall > 0.0 {
            2.0 * precision * recall / (precision + recall)
        } else {
            0.0
        };
        if n_truth > 0 {
            f1_sum += f1;
        }
        per_class.insert(
            class.as_str().to_owned(),
            ClassScores { precision, recall, f1, support: n_truth },
        );
    }
    let confusion = classes
        .iter()
        .map(|&t| {
            let row = classes
                .iter()
                .map(|&p| (p.as_str().to_owned(), pairs.get(&(t, p)).copied().unwrap_or(0)))
                .collect();
            (t.as_str().to_owned(), row)
        })
        .collect();
    Scores {
        accuracy: ratio(correct, truth.len() as u64),
        macro_f1: if support.is_empty() { 0.0 } else { f1_sum / support.len() as f64 },
        per_class,
        confusion,
        unmatched,
        calibration: bins.calibration(),
    }
}

/// Running sums per confidence bin, in truth order (so the sums never depend on a hash).
#[derive(Default)]
struct Bins {
    count: [u64; CONFIDENCE_BINS],
    confidence: [f64; CONFIDENCE_BINS],
    correct: [u64; CONFIDENCE_BINS],
    without_confidence: u64,
}

impl Bins {
    fn add(&mut self, confidence: Option<f64>, correct: bool) {
        let Some(confidence) = confidence.filter(|c| !c.is_nan()).map(|c| c.clamp(0.0, 1.0)) else {
            self.without_confidence += 1;
            return;
        };
        // The bin is the number of inner edges at or below the confidence, so the edges are the
        // ones reported and 1.0 falls in the last bin.
        let bin = (1..CONFIDENCE_BINS).filter(|&k| edge(k) <= confidence).count();
        self.count[bin] += 1;
        self.confidence[bin] += confidence;
        self.correct[bin] += u64::from(correct);
    }

    fn calibration(&self) -> Calibration {
        let total: u64 = self.count.iter().sum();
        let mut gap = 0.0;
        let reliability = (0..CONFIDENCE_BINS)
            .map(|k| {
                let count = self.count[k];
                let (mean_confidence, accuracy) = if count == 0 {
                    (None, None)
                } else {
                    // Every confidence summed is within the bin's edges, so their mean is too;
                    // the clamp only undoes rounding (410 sums of 0.6 come to 0.59999...).
                    let mean = (self.confidence[k] / count as f64).clamp(edge(k), edge(k + 1));
                    let accuracy = ratio(self.correct[k], count);
                    gap += count as f64 * (accuracy - mean).abs();
                    (Some(mean), Some(accuracy))
                };
                ReliabilityBin {
                    lower: edge(k),
                    upper: edge(k + 1),
                    count,
                    mean_confidence,
                    accuracy,
                }
            })
            .collect();
        Calibration {
            ece: (total > 0).then(|| gap / total as f64),
            reliability,
            without_confidence: self.without_confidence,
        }
    }
}

/// The `k`-th bin edge, `k / CONFIDENCE_BINS`.
fn edge(k: usize) -> f64 {
    k as f64 / CONFIDENCE_BINS as f64
}

fn ratio(numerator: u64, denominator: u64) -> f64 {
    if denominator == 0 { 0.0 } else { numerator as f64 / denominator as f64 }
}

/// Whether a record gets a cause: every disconnect and every failed connect.
pub fn is_classified(event: &Event) -> bool {
    event.operation == Operation::Disconnect || event.is_failed_connect()
}

/// The `occurrence` of every event: its 0-based index among the distinct records with the same
/// `(device_id, time, operation)`, in the order of `events` (which is input order).
pub fn occurrences(events: &[Event]) -> Vec<u32> {
    occurrences_in(events, &Partition::of(events))
}

/// [`occurrences`] over the device partition of `events`: each device id's records are sorted
/// by `(time, operation, input position)` on their own, in parallel (an id seen with several
/// hubs or modules is several devices of the partition, counted together), so no table of all
/// the records' keys is built (a hash map of 10 M keys took 0.4 GB and a core for seconds).
pub fn occurrences_in(events: &[Event], partition: &Partition) -> Vec<u32> {
    occurrences_sorting(events, partition, None)
}

/// [`occurrences_in`] with `repeats` given: each event that repeats the time and operation of
/// earlier ones of its device, with their count, for every device (found in a walk of each
/// device's events in time order: [`crate::classify::classify_with_occurrences`]). Only the ids
/// seen with several hubs or modules, several devices counted together, are sorted here.
pub(crate) fn occurrences_given(
    events: &[Event],
    partition: &Partition,
    repeats: &[(u32, u32)],
) -> Vec<u32> {
    occurrences_sorting(events, partition, Some(repeats))
}

/// [`occurrences_in`]: sorts the records of each id (or, with `given` repeats of each device,
/// of each id of several devices only).
fn occurrences_sorting(
    events: &[Event],
    partition: &Partition,
    given: Option<&[(u32, u32)]>,
) -> Vec<u32> {
    let mut by_id: Vec<(u32, u32)> = partition
        .devices()
        .zip(0..)
        .filter_map(|(run, device)| {
            Some((events[*run.first()? as usize].device_id.handle(), device))
        })
        .collect();
    by_id.sort_unstable();
    let mut ids: Vec<&[(u32, u32)]> = by_id.chunk_by(|a, b| a.0 == b.0).collect();
    let mut occurrence = vec![0; events.len()];
    if let Some(given) = given {
        ids.retain(|devices| devices.len() > 1);
        let mut shared = vec![false; partition.n_devices()];
        for &(_, device) in ids.iter().copied().flatten() {
            shared[device as usize] = true;
        }
        for &(idx, count) in given {
            if !partition.event_device.get(idx as usize).is_some_and(|&d| shared[d as usize]) {
                occurrence[idx as usize] = count;
            }
        }
    }
    let key = |idx: u32| {
        let event = &events[idx as usize];
        (event.time, event.operation, idx)
    };
    let repeats: Vec<Vec<(u32, u32)>> = ids
        .par_iter()
        .map(|devices| {
            let mut order: Vec<u32> = devices
                .iter()
                .flat_map(|&(_, device)| partition.device(device as usize).iter().copied())
                .collect();
            if !crate::sessions::sort_nearly_sorted(&mut order, |&a, &b| key(a) < key(b)) {
                order.sort_unstable_by_key(|&idx| key(idx));
            }
            let mut repeats = Vec::new();
            let mut count = 0;
            for pair in order.windows(2) {
                let (a, b) = (key(pair[0]), key(pair[1]));
                if (a.0, a.1) == (b.0, b.1) {
                    count += 1;
                    repeats.push((pair[1], count));
                } else {
                    count = 0;
                }
            }
            repeats
        })
        .collect();
    for (idx, count) in repeats.into_iter().flatten() {
        occurrence[idx as usize] = count;
    }
    occurrence
}

/// Labels every classified record (see [`is_classified`]) with `cause_of(index)`, in input order.
pub fn labelled(events: &[Event], mut cause_of: impl FnMut(usize) -> Cause) -> Vec<Label> {
    labelled_with_confidence(events, |idx| (cause_of(idx), None))
}

/// As [`labelled`], with `verdict_of(index)` giving the cause and the confidence.
pub fn labelled_with_confidence(
    events: &[Event],
    mut verdict_of: impl FnMut(usize) -> (Cause, Option<f64>),
) -> Vec<Label> {
    let occurrence = occurrences(events);
    events
        .iter()
        .enumerate()
        .filter(|(_, event)| is_classified(event))
        .map(|(idx, event)| {
            let (cause, confidence) = verdict_of(idx);
            Label {
                device_id: event.device_id.to_string(),
                time: event.time,
                operation: event.operation,
                occurrence: occurrence[idx],
                cause,
                confidence,
            }
        })
        .collect()
}

/// The error-code-only rule of docs/DESIGN.md: 404104 keep-alive, 401003 token expiry, 401002/403012
/// auth failure, 400027/409002 duplicate identity, 500001/500008/503xxx server error,
/// 400029/400030 upgrade, 429xxx throttling, informational client close; anything else unknown.
pub fn baseline_cause(event: &Event) -> Cause {
    match event.code() {
        Some(404_104) => Cause::KeepaliveTimeout,
        Some(401_003) => Cause::TokenExpiry,
        Some(401_002 | 403_012) => Cause::AuthFailure,
        Some(400_027 | 409_002) => Cause::DuplicateIdentity,
        Some(500_001 | 500_008 | 503_000..=503_999) => Cause::ServerError,
        Some(400_029 | 400_030) => Cause::ServiceUpgrade,
        Some(429_000..=429_999) => Cause::Throttling,
        None if event.level == Level::Information => Cause::ClientClose,
        Some(_) | None => Cause::Unknown,
    }
}

/// The baseline's labels for every classified record of `events`.
pub fn baseline(events: &[Event]) -> Vec<Label> {
    labelled(events, |idx| events.get(idx).map_or(Cause::Unknown, baseline_cause))
}

#[cfg(test)]
mod tests {
    use std::fmt::Write as _;

    use dropscope_model::{ResultCode, Timestamp};

    use super::*;

    fn row(device: &str, secs: i64, occurrence: u32, cause: Cause) -> Label {
        Label {
            device_id: device.to_owned(),
            time: Timestamp::from_secs(secs),
            operation: Operation::Disconnect,
            occurrence,
            cause,
            confidence: None,
        }
    }

    fn check(truth: &[Label], predictions: &[Label], expected: &str) {
        let scores = score(truth, predictions);
        let mut got = format!(
            "acc={:.3} macro_f1={:.3} unmatched={}/{}",
            scores.accuracy, scores.macro_f1, scores.unmatched.truth, scores.unmatched.predictions
        );
        for (name, class) in &scores.per_class {
            let _ = write!(
                got,
                "\n{name}: p={:.3} r={:.3} f1={:.3} n={}",
                class.precision, class.recall, class.f1, class.support
            );
        }
        assert_eq!(got, expected);
    }

    #[test]
    fn perfect_and_partial_scores() {
        use Cause::{ClientClose, KeepaliveTimeout, TokenExpiry};
        let truth = [
            row("a", 0, 0, TokenExpiry),
            row("a", 0, 1, TokenExpiry),
            row("b", 5, 0, KeepaliveTimeout),
        ];
        check(
            &truth,
            &truth,
            "acc=1.000 macro_f1=1.000 unmatched=0/0\nkeepalive_timeout: p=1.000 r=1.000 f1=1.000 n=1\ntoken_expiry: p=1.000 r=1.000 f1=1.000 n=2",
        );
        // One wrong, one missing, one extra: the missing row is a miss, the extra is only counted.
        let predictions =
            [row("a", 0, 0, TokenExpiry), row("b", 5, 0, ClientClose), row("c", 9, 0, TokenExpiry)];
        check(
            &truth,
            &predictions,
            "acc=0.333 macro_f1=0.333 unmatched=1/1\nclient_close: p=0.000 r=0.000 f1=0.000 n=0\nkeepalive_timeout: p=0.000 r=0.000 f1=0.000 n=1\ntoken_expiry: p=1.000 r=0.500 f1=0.667 n=2",
        );
        check(&[], &[], "acc=0.000 macro_f1=0.000 unmatched=0/0");
    }

    /// Scores `(truth cause, predicted cause, confidence)` rows, one device second each, and
    /// compares the calibration, non-empty bins only, with `expected`.
    fn check_calibration(rows: &[(Cause, Cause, Option<f64>)], expected: &str) {
        let truth: Vec<Label> =
            rows.iter().zip(0..).map(|(&(cause, _, _), secs)| row("a", secs, 0, cause)).collect();
        let predictions: Vec<Label> = rows
            .iter()
            .zip(0..)
            .map(|(&(_, cause, confidence), secs)| Label { confidence, ..row("a", secs, 0, cause) })
            .collect();
        let calibration = score(&truth, &predictions).calibration;
        assert_eq!(calibration.reliability.len(), CONFIDENCE_BINS);
        let mut got = format!(
            "ece={} without={}",
            calibration.ece.map_or("none".to_owned(), |e| format!("{e:.3}")),
            calibration.without_confidence
        );
        for bin in calibration.reliability.iter().filter(|bin| bin.count > 0) {
            let _ = write!(
                got,
                "\n[{:.1},{:.1}): n={} conf={:.3} acc={:.3}",
                bin.lower,
                bin.upper,
                bin.count,
                bin.mean_confidence.unwrap(),
                bin.accuracy.unwrap()
            );
        }
        assert_eq!(got, expected);
    }

    #[test]
    fn calibration_bins_and_ece() {
        use Cause::{ClientClose as C, TokenExpiry as T};
        // 0.9 and 1.0 share the last bin (1.0 is in it); 0.3 is a lower edge, so in [0.3, 0.4).
        // ECE = 1/4 * |1 - 0.3| + 3/4 * |2/3 - 2.8/3| = 0.175 + 0.2.
        check_calibration(
            &[(T, T, Some(0.9)), (T, T, Some(1.0)), (T, C, Some(0.9)), (C, C, Some(0.3))],
            "ece=0.375 without=0\n[0.3,0.4): n=1 conf=0.300 acc=1.000\n[0.9,1.0): n=3 conf=0.933 acc=0.667",
        );
        // Perfectly calibrated: 0.5 right half the time, 0.0 and 1.0 as they say.
        check_calibration(
            &[(T, T, Some(0.5)), (T, C, Some(0.5)), (T, C, Some(0.0)), (T, T, Some(1.0))],
            "ece=0.000 without=0\n[0.0,0.1): n=1 conf=0.000 acc=0.000\n[0.5,0.6): n=2 conf=0.500 acc=0.500\n[0.9,1.0): n=1 conf=1.000 acc=1.000",
        );
        // Rows without a confidence are counted and left out; with none at all there is no ECE.
        check_calibration(
            &[(T, T, None), (T, C, Some(0.8))],
            "ece=0.800 without=1\n[0.8,0.9): n=1 conf=0.800 acc=0.000",
        );
        check_calibration(&[(T, T, None), (T, C, None)], "ece=none without=2");
        check_calibration(&[], "ece=none without=0");
    }

    #[test]
    fn calibration_leaves_out_unmatched_rows() {
        // The truth row without a prediction and the prediction without a truth row are not binned.
        let truth = [row("a", 0, 0, Cause::TokenExpiry), row("b", 0, 0, Cause::TokenExpiry)];
        let predictions = [
            Label { confidence: Some(0.6), ..row("a", 0, 0, Cause::TokenExpiry) },
            Label { confidence: Some(0.2), ..row("c", 0, 0, Cause::TokenExpiry) },
        ];
        let calibration = score(&truth, &predictions).calibration;
        let counts: Vec<u64> = calibration.reliability.iter().map(|bin| bin.count).collect();
        assert_eq!(counts, [0, 0, 0, 0, 0, 0, 1, 0, 0, 0]);
        let last = &calibration.reliability[CONFIDENCE_BINS - 1];
        assert_eq!(format!("{} {}", last.lower, last.upper), "0.9 1");
        assert!((calibration.ece.unwrap() - 0.4).abs() < 1e-12);
    }

    #[test]
    fn matches_by_instant_and_occurrence() {
        let mut prediction = row("a", 0, 1, Cause::ServerError);
        prediction.time = Timestamp::parse_rfc3339("1970-01-01T00:00:00.0000000+00:00").unwrap();
        check(
            &[row("a", 0, 1, Cause::ServerError)],
            &[prediction.clone(), prediction],
            "acc=1.000 macro_f1=1.000 unmatched=0/1\nserver_error: p=1.000 r=1.000 f1=1.000 n=1",
        );
    }

    #[test]
    fn occurrence_counts_same_device_time_operation() {
        let t = Timestamp::from_secs(10);
        let events = [
            Event::new(t, "hub", "a", Operation::Disconnect),
            Event::new(t, "hub", "a", Operation::Connect),
            Event::new(t, "hub", "b", Operation::Disconnect),
            Event::new(t, "hub", "a", Operation::Disconnect),
            Event::new(Timestamp::from_secs(11), "hub", "a", Operation::Disconnect),
        ];
        assert_eq!(occurrences(&events), [0, 0, 0, 1, 0]);
        // The informational connect is not classified.
        let labels = baseline(&events);
        assert_eq!(labels.iter().map(|l| l.occurrence).collect::<Vec<_>>(), [0, 0, 1, 0]);
    }

    #[test]
    fn baseline_follows_the_code_table() {
        let cases = [
            (Some(404_104), Level::Error, Cause::KeepaliveTimeout),
            (Some(401_003), Level::Error, Cause::TokenExpiry),
            (Some(403_012), Level::Error, Cause::AuthFailure),
            (Some(409_002), Level::Error, Cause::DuplicateIdentity),
            (Some(503_005), Level::Error, Cause::ServerError),
            (Some(400_030), Level::Error, Cause::ServiceUpgrade),
            (Some(429_002), Level::Error, Cause::Throttling),
            (Some(404_001), Level::Error, Cause::Unknown),
            (None, Level::Information, Cause::ClientClose),
            (None, Level::Error, Cause::Unknown),
        ];
        for (code, level, expected) in cases {
            let mut event = Event::new(Timestamp::from_secs(0), "hub", "a", Operation::Disconnect);
            event.result_type = code.and_then(ResultCode::new);
            event.level = level;
            assert_eq!(baseline_cause(&event), expected, "{code:?}");
        }
    }
}
