"""`dropscope.spark` on Spark in local mode against the CLI's files on a simulated day: the events
split into 8 partitions, and the sessions and predictions, sorted, byte-identical to the CLI's;
the ranking's text byte-identical to `dropscope diagnose --json`'s. And the predictions and the
ranking on a code-less export (Event Grid's bare state changes) with devices dropping together,
byte-identical too."""

from __future__ import annotations

import io
import json
import subprocess
import sys

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest

from conftest import canonical, cli

pytest.importorskip("pyspark")

PARTITIONS = 8


@pytest.fixture(scope="module")
def spark():
    from dropscope import spark as dspark

    session = dspark.session("local[2]", PARTITIONS)
    yield session
    session.stop()


def in_dropscope_types(spark_sessions: pa.Table, like: pa.Table) -> pa.Table:
    """Spark's sessions (times and durations as int64 nanoseconds, text as strings) in the types
    of the CLI's sessions table `like`."""
    columns = []
    for field in like.schema:
        column = spark_sessions[field.name]
        if pa.types.is_timestamp(field.type):
            column = column.cast(pa.int64()).cast(field.type)
        elif pa.types.is_dictionary(field.type):
            column = column.cast(field.type.value_type).dictionary_encode().cast(field.type)
        else:
            column = column.cast(field.type)
        columns.append(column)
    return pa.table(columns, schema=like.schema)


def csv_bytes(table: pa.Table) -> bytes:
    out = io.BytesIO()
    pacsv.write_csv(table, out)
    return out.getvalue()


def prediction_lines(predictions: pa.Table) -> list[bytes]:
    """Spark's predictions as the predictions.csv lines the CLI's writer makes, sorted."""
    from dropscope import _native

    time = predictions["time"].cast(pa.int64()).cast(pa.timestamp("ns", tz="UTC"))
    predictions = predictions.set_column(predictions.column_names.index("time"), "time", time)
    return sorted(_native.predictions_csv(predictions).splitlines()[1:])


def cli_prediction_lines(path) -> list[bytes]:
    return sorted(path.read_bytes().splitlines()[1:])


def run_spark(*args: str) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [sys.executable, "-m", "dropscope.spark", *args, "--master", "local[2]",
         "--partitions", str(PARTITIONS)],
        capture_output=True, text=True, timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert f"in {PARTITIONS} partition(s)" in done.stderr
    return done


def test_spark_sessions_equal_the_cli_sessions(spark, day_cli, tmp_path):
    from dropscope import spark as dspark

    events = dspark.read_events(spark, str(day_cli["events"])).repartition(PARTITIONS)
    assert events.rdd.getNumPartitions() == PARTITIONS
    out = tmp_path / "sessions"
    dspark.sessions(events).write.parquet(str(out))
    # Every partition held devices: one Parquet file each.
    assert len(list(out.glob("part-*.parquet"))) == PARTITIONS
    cli_sessions = pq.read_table(day_cli["sessions"])
    ours = in_dropscope_types(pq.read_table(out), cli_sessions)
    assert ours.num_rows == cli_sessions.num_rows > 5_000
    assert csv_bytes(canonical(ours)) == csv_bytes(canonical(cli_sessions))


def test_spark_classify_equals_the_cli_predictions(day_cli, tmp_path):
    """`python -m dropscope.spark classify` as a user runs it."""
    out = tmp_path / "predictions"
    run_spark("classify", str(day_cli["events"]), "-o", str(out))
    ours = prediction_lines(pq.read_table(out))
    cli = cli_prediction_lines(day_cli["predictions"])
    assert len(ours) == len(cli) > 5_000
    assert ours == cli


def test_spark_classify_of_the_raw_logs_equals_the_cli(spark, day_cli):
    """The JSON Lines export tree, parsed file by file in Rust and deduplicated across files by
    Spark (the simulated export holds duplicates and late records), classifies as the CLI does."""
    from dropscope import spark as dspark

    events = dspark.read_events(spark, str(day_cli["logs"]))
    assert events.count() == pq.read_metadata(day_cli["events"]).num_rows
    ours = prediction_lines(dspark.classify(events.repartition(PARTITIONS)).toArrow())
    assert ours == cli_prediction_lines(day_cli["predictions"])


def test_spark_diagnose_equals_the_cli_ranking(day_cli, tmp_path):
    """`python -m dropscope.spark diagnose`: the parts' ranking tallies merged on the driver, the
    confidences summed in input order; the text is `dropscope diagnose --json`'s, byte for byte."""
    out = tmp_path / "diagnose.json"
    run_spark("diagnose", str(day_cli["events"]), "-o", str(out))
    assert out.read_bytes() == day_cli["diagnose"].read_bytes()
    ranking = json.loads(out.read_text())
    assert len(ranking["causes"]) >= 5
    assert ranking["quick_renewals"]["events"] > 0


# A site outage in Event Grid's form: bare state changes (a sequence number, no result code, no
# IP) with verdicts of their own alone, and hundreds of devices dropped at once, which the burst
# rule for state changes decides by how soon each came back (about 1,100 predictions).
CODELESS = {
    "scenario": "site-outage-storm", "devices": 1000, "hours": 4, "seed": 11, "format": "eventgrid",
}


@pytest.fixture(scope="module")
def codeless_cli(tmp_path_factory):
    out = tmp_path_factory.mktemp("codeless-cli")
    cli(
        "simulate", "--scenario", CODELESS["scenario"], "--devices", str(CODELESS["devices"]),
        "--hours", str(CODELESS["hours"]), "--seed", str(CODELESS["seed"]),
        "--format", CODELESS["format"], "-o", out / "sim", "-q",
    )
    events = out / "events.parquet"
    cli("ingest", out / "sim", "-o", events, "-q")
    cli("classify", events, "-o", out / "predictions.csv", "-q")
    (out / "diagnose.json").write_text(cli("diagnose", events, "--json", "-q").stdout)
    return {
        "events": events,
        "predictions": out / "predictions.csv",
        "diagnose": out / "diagnose.json",
    }


def test_spark_classify_of_bare_state_changes_equals_the_cli(spark, codeless_cli):
    """Code-less records dropped together: each silent drop's verdict alone and its reconnect
    delay travel from round 3 to round 4, so the bursts' verdicts are the CLI's."""
    from dropscope import spark as dspark

    events = dspark.read_events(spark, str(codeless_cli["events"])).repartition(PARTITIONS)
    assert events.rdd.getNumPartitions() == PARTITIONS
    assert events.filter("result_type IS NOT NULL").count() == 0
    verdicts = dspark.verdicts(events).toArrow()
    rules = set(verdicts["rule"].to_pylist())
    # The burst path was taken, and drops alone kept their own state-change verdicts.
    assert "StateChangeBurst" in rules
    assert rules & {"StateChangeSilence", "StateChangeQuickReturn", "StateChangeRenewal"}
    ours = prediction_lines(verdicts.select(dspark.PREDICTION_COLUMNS))
    theirs = cli_prediction_lines(codeless_cli["predictions"])
    assert len(ours) == len(theirs) > 1_000
    assert ours == theirs


def test_spark_diagnose_of_bare_state_changes_equals_the_cli(spark, codeless_cli):
    """The bursts' verdicts (decided on the driver) reach each part's ranking tally, so the
    ranking of an outage in Event Grid's form is the CLI's text too."""
    from dropscope import spark as dspark

    events = dspark.read_events(spark, str(codeless_cli["events"])).repartition(PARTITIONS)
    text = dspark.diagnose_json(events)
    assert text == codeless_cli["diagnose"].read_text()
    causes = {cause["cause"] for cause in json.loads(text)["causes"]}
    assert {"network_outage", "server_error"} & causes
