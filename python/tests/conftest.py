"""Fixtures: the CLI's own outputs on the golden fixtures and on a simulated day, to compare with.

The CLI is the binary this tree builds (``target/debug/dropscope``, or ``$DROPSCOPE_BIN``);
``python/run-tests.sh`` builds it before pytest runs.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pytest

REPO = Path(__file__).resolve().parents[2]
FIXTURES = REPO / "data" / "golden" / "fixtures"
# A simulated day: every kind of trouble, small enough for a test (about 20,000 records).
DAY = {"scenario": "mixed-day", "devices": 300, "hours": 24, "seed": 7}


def cli_path() -> Path:
    path = Path(os.environ.get("DROPSCOPE_BIN", REPO / "target" / "debug" / "dropscope"))
    if not path.exists():
        pytest.exit(f"{path} is missing: build it first (cargo build --bin dropscope)", 2)
    return path


def cli(*args: str | Path, check: bool = True) -> subprocess.CompletedProcess[str]:
    """Runs the CLI quietly; returns the finished process (stdout, stderr as text)."""
    return subprocess.run(
        [str(cli_path()), *map(str, args)], capture_output=True, text=True, check=check
    )


def cli_json(*args: str | Path) -> dict:
    return json.loads(cli(*args, "--json", "-q").stdout)


def read_csv_labels(path: Path) -> pa.Table:
    """A labels.csv or predictions.csv the CLI wrote, with ``time`` as the instant it names."""
    table = pacsv.read_csv(
        path,
        convert_options=pacsv.ConvertOptions(
            column_types={
                "device_id": pa.string(),
                "time": pa.string(),
                "operation": pa.string(),
                "occurrence": pa.uint32(),
                "cause": pa.string(),
                "confidence": pa.float64(),
            }
        ),
    )
    time = pc.cast(table["time"], pa.timestamp("ns", tz="UTC"))
    return table.set_column(table.schema.get_field_index("time"), "time", time)


def canonical(table: pa.Table) -> pa.Table:
    """The table with dictionary columns decoded and rows sorted by every column, so two tables
    with the same rows in any order compare equal."""
    columns = []
    for name in table.column_names:
        column = table[name]
        if pa.types.is_dictionary(column.type):
            column = column.cast(column.type.value_type)
        if pa.types.is_string_view(column.type):
            column = column.cast(pa.string())
        columns.append(column)
    decoded = pa.table(columns, names=table.column_names)
    keys = [(name, "ascending") for name in decoded.column_names]
    return decoded.sort_by(keys)


@pytest.fixture(scope="session")
def fixtures_cli(tmp_path_factory) -> dict[str, Path]:
    """The CLI's files on the golden fixtures: the events table, and sessions, predictions and
    the ranking computed from that table (a table carries no record of copies the reader
    dropped, so the CLI reading the table is what the Python functions match)."""
    out = tmp_path_factory.mktemp("fixtures-cli")
    events = out / "events.parquet"
    cli("ingest", FIXTURES, "-o", events, "--rejects", out / "rejects.csv", "-q")
    cli("sessions", events, "-o", out / "sessions.parquet", "-q")
    cli("classify", events, "-o", out / "predictions.csv", "-q")
    (out / "diagnose.json").write_text(cli("diagnose", events, "--json", "-q").stdout)
    (out / "inspect.json").write_text(cli("inspect", FIXTURES, "--json", "-q").stdout)
    return {
        "events": events,
        "rejects": out / "rejects.csv",
        "sessions": out / "sessions.parquet",
        "predictions": out / "predictions.csv",
        "diagnose": out / "diagnose.json",
        "inspect": out / "inspect.json",
    }


@pytest.fixture(scope="session")
def day_cli(tmp_path_factory) -> dict[str, Path]:
    """The CLI's files on the simulated day: the logs and truth `simulate` writes, the events
    `ingest` reads from them, and sessions, predictions and scores from those events."""
    out = tmp_path_factory.mktemp("day-cli")
    sim = out / "sim"
    cli(
        "simulate", "--scenario", DAY["scenario"], "--devices", str(DAY["devices"]),
        "--hours", str(DAY["hours"]), "--seed", str(DAY["seed"]), "--truth", "-o", sim, "-q",
    )
    events = out / "events.parquet"
    cli("ingest", sim / "logs", "-o", events, "-q")
    cli("sessions", events, "-o", out / "sessions.parquet", "-q")
    cli("classify", events, "-o", out / "predictions.csv", "-q")
    (out / "diagnose.json").write_text(cli("diagnose", events, "--json", "-q").stdout)
    evaluate = cli(
        "evaluate", "--predictions", out / "predictions.csv",
        "--truth", sim / "truth" / "labels.csv", "--json", "-q",
    )
    (out / "evaluate.json").write_text(evaluate.stdout)
    return {
        "logs": sim / "logs",
        "labels": sim / "truth" / "labels.csv",
        "events": events,
        "sessions": out / "sessions.parquet",
        "predictions": out / "predictions.csv",
        "diagnose": out / "diagnose.json",
        "evaluate": out / "evaluate.json",
    }
