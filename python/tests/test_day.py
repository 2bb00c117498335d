"""Each function on a simulated day (mixed-day: every kind of trouble), against the files the CLI
writes from the same scenario and seed."""

from __future__ import annotations

import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import dropscope
from conftest import DAY, canonical, read_csv_labels


@pytest.fixture(scope="module")
def day():
    return dropscope.simulate(
        DAY["scenario"], devices=DAY["devices"], hours=DAY["hours"], seed=DAY["seed"]
    )


def test_simulate_gives_the_events_ingest_reads_and_the_truth(day, day_cli):
    events, labels = day
    cli_events = pq.read_table(day_cli["events"])
    assert events.schema.equals(cli_events.schema, check_metadata=True)
    assert events.num_rows > 15_000
    assert events.equals(cli_events)
    cli_labels = read_csv_labels(day_cli["labels"])
    assert labels.column_names == cli_labels.column_names
    assert canonical(labels).equals(canonical(cli_labels))


def test_simulate_is_deterministic_at_any_thread_count(day):
    events, labels = dropscope.simulate(
        DAY["scenario"], devices=DAY["devices"], hours=DAY["hours"], seed=DAY["seed"], threads=1
    )
    assert events.equals(day[0])
    assert labels.equals(day[1])


def test_read_logs_of_the_written_day_equals_ingest(day_cli):
    logs = dropscope.read_logs(day_cli["logs"], threads=2)
    assert logs.events.equals(pq.read_table(day_cli["events"]))
    assert logs.parsed + logs.duplicates + logs.rejected == logs.records_read
    assert logs.duplicates > 0 and logs.rejected > 0


def test_sessions_equal_the_cli_sessions_file(day, day_cli):
    ours = dropscope.sessions(day[0])
    cli_sessions = pq.read_table(day_cli["sessions"])
    assert ours.schema.equals(cli_sessions.schema, check_metadata=True)
    assert ours.num_rows > 5_000
    assert canonical(ours).equals(canonical(cli_sessions))
    assert dropscope.sessions(day[0], threads=1).equals(ours)


def test_classify_equals_the_cli_predictions_file(day, day_cli):
    ours = dropscope.classify(day[0])
    rounded = ours.set_column(5, "confidence", pa.array(
        [round(c, 3) for c in ours["confidence"].to_pylist()], pa.float64()))
    cli_predictions = read_csv_labels(day_cli["predictions"])
    assert ours.num_rows > 5_000
    assert canonical(rounded).equals(canonical(cli_predictions))


def test_diagnose_equals_the_cli_ranking(day, day_cli):
    ours = dropscope.diagnose(day[0])
    assert ours == json.loads(day_cli["diagnose"].read_text())
    assert len(ours["causes"]) >= 5


def test_evaluate_on_the_cli_files_equals_cli_evaluate(day_cli):
    scores = dropscope.evaluate(
        read_csv_labels(day_cli["predictions"]), read_csv_labels(day_cli["labels"])
    )
    assert scores == json.loads(day_cli["evaluate"].read_text())


def test_evaluate_of_our_predictions_scores_as_the_cli_does(day, day_cli):
    events, labels = day
    scores = dropscope.evaluate(dropscope.classify(events), labels)
    cli = json.loads(day_cli["evaluate"].read_text())
    # Unrounded confidences move the calibration a little; the verdicts are the same.
    for key in ("accuracy", "macro_f1", "per_class", "confusion", "unmatched", "baseline"):
        assert scores[key] == cli[key], key
    assert scores["ece"] == pytest.approx(cli["ece"], abs=1e-3)
    assert 0.5 < scores["accuracy"] <= 1.0
