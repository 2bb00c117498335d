"""`python -m dropscope.spark sessions` on Spark in local mode: a simulated day's events split into
8 partitions, and the sessions, sorted, byte-identical to the CLI's."""

from __future__ import annotations

import io
import subprocess
import sys

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest

from conftest import canonical

pytest.importorskip("pyspark")

PARTITIONS = 8


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


def test_spark_sessions_equal_the_cli_sessions(day_cli, tmp_path):
    out = tmp_path / "sessions"
    done = subprocess.run(
        [sys.executable, "-m", "dropscope.spark", "sessions", str(day_cli["events"]),
         "-o", str(out), "--master", "local[2]", "--partitions", str(PARTITIONS)],
        capture_output=True, text=True, timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert f"in {PARTITIONS} partition(s)" in done.stderr
    # Every partition held devices: one Parquet file each.
    assert len(list(out.glob("part-*.parquet"))) == PARTITIONS
    cli_sessions = pq.read_table(day_cli["sessions"])
    ours = in_dropscope_types(pq.read_table(out), cli_sessions)
    assert ours.num_rows == cli_sessions.num_rows > 5_000
    assert csv_bytes(canonical(ours)) == csv_bytes(canonical(cli_sessions))
