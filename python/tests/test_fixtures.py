"""Each function on the golden fixtures (data/golden/fixtures: Microsoft's documented records in
six export forms), against the files the CLI writes from the same input."""

from __future__ import annotations

import json

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

import dropscope
from conftest import FIXTURES, canonical, cli, read_csv_labels


def test_read_logs_gives_the_events_table_ingest_writes(fixtures_cli):
    logs = dropscope.read_logs(FIXTURES)
    cli_events = pq.read_table(fixtures_cli["events"])
    assert isinstance(logs.events, pa.Table)
    # The same schema, metadata included: what pyarrow reads from `ingest -o x.parquet`.
    assert logs.events.schema.equals(cli_events.schema, check_metadata=True)
    assert logs.events.num_rows == 18
    assert logs.events.equals(cli_events)
    assert canonical(logs.events).equals(canonical(cli_events))


def test_read_logs_accounts_for_every_record_as_inspect_does(fixtures_cli):
    logs = dropscope.read_logs([FIXTURES])
    inspect = json.loads(fixtures_cli["inspect"].read_text())
    for key in ("files", "records_read", "parsed", "duplicates", "rejected", "reject_reasons",
                "forms", "unrecognised_files"):
        assert getattr(logs, key) == inspect[key], key
    assert logs.parsed + logs.duplicates + logs.rejected == logs.records_read
    assert (logs.records_read, logs.rejected) == (32, 1)


def test_read_logs_lists_the_rejects_as_the_rejects_file_does(fixtures_cli):
    logs = dropscope.read_logs(FIXTURES)
    cli_rejects = pacsv.read_csv(
        fixtures_cli["rejects"],
        convert_options=pacsv.ConvertOptions(column_types={"line": pa.uint64()}),
    )
    assert logs.rejects.num_rows == logs.rejected == 1
    assert logs.rejects.column_names == cli_rejects.column_names
    # The CLI's file escapes cells a spreadsheet would run; these have nothing to escape.
    assert logs.rejects.to_pylist() == cli_rejects.to_pylist()
    assert logs.rejects["reason"].to_pylist() == ["invalid_time"]


def test_sessions_equal_the_cli_sessions_file(fixtures_cli):
    events = dropscope.read_logs(FIXTURES).events
    ours = dropscope.sessions(events)
    cli_sessions = pq.read_table(fixtures_cli["sessions"])
    assert ours.schema.equals(cli_sessions.schema, check_metadata=True)
    assert ours.num_rows == 15
    assert canonical(ours).equals(canonical(cli_sessions))


def test_classify_equals_the_cli_predictions_file(fixtures_cli):
    events = dropscope.read_logs(FIXTURES).events
    ours = dropscope.classify(events)
    assert ours.column_names == ["device_id", "time", "operation", "occurrence", "cause",
                                 "confidence"]
    assert ours.schema.field("time").type == pa.timestamp("ns", tz="UTC")
    cli_predictions = read_csv_labels(fixtures_cli["predictions"])
    # The CSV rounds confidences to three decimals.
    rounded = ours.set_column(5, "confidence", pa.array(
        [round(c, 3) for c in ours["confidence"].to_pylist()], pa.float64()))
    assert ours.num_rows == 8
    assert canonical(rounded).equals(canonical(cli_predictions))


def test_diagnose_equals_the_cli_ranking(fixtures_cli):
    events = dropscope.read_logs(FIXTURES).events
    ours = dropscope.diagnose(events)
    assert ours == json.loads(fixtures_cli["diagnose"].read_text())
    # Issue 19: the Edge pair (back after 73 min) is a keepalive_timeout and the lone routed
    # disconnect, never followed, an auth_failure; the resource-log closes stay client_close.
    assert [c["cause"] for c in ours["causes"]] == [
        "keepalive_timeout", "client_close", "auth_failure"
    ]


def test_a_cli_parquet_file_read_by_pyarrow_is_an_input(fixtures_cli):
    # The events table the CLI wrote, read by pyarrow, goes straight back in.
    from_file = pq.read_table(fixtures_cli["events"])
    from_logs = dropscope.read_logs(FIXTURES).events
    assert dropscope.sessions(from_file).equals(dropscope.sessions(from_logs))


def test_read_logs_lists_the_unreadable_files_as_inspect_does(tmp_path):
    """Inputs that cannot be read (here links that lead nowhere or loop) are listed with why, as
    `inspect --json`'s `unreadable_files`, and the other inputs are read all the same."""
    logs_dir = tmp_path / "logs"
    logs_dir.mkdir()
    fixture = sorted(p for p in FIXTURES.iterdir() if p.name.endswith(".json"))[0]
    (logs_dir / fixture.name).write_bytes(fixture.read_bytes())
    (logs_dir / "dangling").symlink_to("nowhere")
    (logs_dir / "self").symlink_to("self")
    logs = dropscope.read_logs(logs_dir)
    inspect = cli("inspect", logs_dir, "--json", "-q", check=False)
    assert inspect.returncode == 2, inspect.stderr
    expected = json.loads(inspect.stdout)["unreadable_files"]
    assert logs.unreadable_files == expected
    assert [u["file"] for u in logs.unreadable_files] == [
        str(logs_dir / "dangling"), str(logs_dir / "self")
    ]
    assert all(u["error"] for u in logs.unreadable_files)
    assert logs.files == 1 and logs.parsed > 0
    assert dropscope.read_logs(FIXTURES).unreadable_files == []
