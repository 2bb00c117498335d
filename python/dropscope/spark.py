"""dropscope on Apache Spark: the per-device part of the analysis over a Spark DataFrame of events.

Phase 1 of issue 20's plan, the part that needs no fleet statistics: every device's sessions.
Events are grouped by device (``groupBy(hub, device_id, module_id)``) and each group goes to
the Rust core through ``applyInArrow``: Spark hands a group over as an Arrow table and
:func:`dropscope.sessions` rebuilds its sessions, the same walk the CLI runs, so the sessions
equal ``dropscope sessions``' (the pytest ``tests/test_spark.py`` checks it byte for byte).
Classification and the ranking need fleet-wide statistics merged across devices first (phases 2
and 3); they are not here yet.

Run it as ``python -m dropscope.spark sessions EVENTS -o OUT [--master URL]``: EVENTS is Parquet
``dropscope ingest`` wrote (a file or a directory of files), OUT a directory of Parquet files
Spark writes. Spark's timestamps hold microseconds and the logs' times have up to seven
fractional digits, so times and durations stay exact as int64 nanoseconds: the input's ``time``
is read as such (``spark.sql.legacy.parquet.nanosAsLong``), and the output's ``connect_time``,
``disconnect_time``, ``duration`` and ``gap_before`` are int64 nanoseconds (since the Unix epoch,
UTC, for the times). The Spark facts this rests on: docs/research/python-package.md.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import TYPE_CHECKING

import pyarrow as pa

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

# The sessions table's columns (dropscope-tables' `sessions_to_df`) as Spark types: text as
# strings, counts as longs, times and durations as int64 nanoseconds.
SESSION_COLUMNS: list[tuple[str, str]] = [
    ("device_id", "string"),
    ("module_id", "string"),
    ("session_id", "long"),
    ("connect_time", "long"),
    ("disconnect_time", "long"),
    ("duration", "long"),
    ("protocol", "string"),
    ("masked_ip", "string"),
    ("sdk_version", "string"),
    ("end_result_type", "long"),
    ("end_level", "string"),
    ("gap_before", "long"),
    ("failed_connects_before", "long"),
    ("overlap", "boolean"),
    ("repaired", "string"),
    ("hub", "string"),
]
SESSIONS_SCHEMA = ", ".join(f"{name} {kind}" for name, kind in SESSION_COLUMNS)
_ARROW = {"string": pa.string(), "long": pa.int64(), "boolean": pa.bool_()}

# The events table's integer columns and the types dropscope gives them.
_EVENT_INTEGERS = {"result_type": pa.uint32(), "source": pa.uint32(), "source_line": pa.uint64()}


def _events_from_spark(table: pa.Table) -> pa.Table:
    """A group of events as Spark hands it over, in dropscope's types: ``time`` back to a
    timestamp (from int64 nanoseconds, or from Spark's microsecond timestamps), integers back
    to their widths (Spark reads unsigned Parquet integers as wider signed ones)."""
    columns = []
    for name in table.column_names:
        column = table[name]
        if name == "time":
            if pa.types.is_integer(column.type):
                column = column.cast(pa.int64()).cast(pa.timestamp("ns", tz="UTC"))
            else:
                column = column.cast(pa.timestamp("ns", tz="UTC"))
        elif name in _EVENT_INTEGERS:
            column = column.cast(_EVENT_INTEGERS[name])
        columns.append(column)
    return pa.table(columns, names=table.column_names)


def _sessions_to_spark(table: pa.Table) -> pa.Table:
    """A sessions table in the Spark types of :data:`SESSION_COLUMNS`."""
    columns = []
    for name, kind in SESSION_COLUMNS:
        column = table[name]
        if pa.types.is_dictionary(column.type):
            column = column.cast(column.type.value_type)
        columns.append(column.cast(_ARROW[kind]))
    return pa.table(columns, names=[name for name, _ in SESSION_COLUMNS])


def _device_sessions(events: pa.Table) -> pa.Table:
    """Phase 1 for one device: its events in, its sessions out (runs on the executors).

    A shuffle hands the group's rows over in any order, and the session walk flags the sessions
    whose records came out of time order (``reordered``): so the rows go back into the order the
    reader read them, which the events table records as (``source``, ``source_line``).
    """
    import dropscope

    events = _events_from_spark(events)
    if "source" in events.column_names and "source_line" in events.column_names:
        events = events.sort_by([("source", "ascending"), ("source_line", "ascending")])
    return _sessions_to_spark(dropscope.sessions(events, threads=1))


def sessions(events: DataFrame) -> DataFrame:
    """Every device's sessions from a Spark DataFrame of events (the columns ``dropscope ingest``
    writes), as a DataFrame with :data:`SESSIONS_SCHEMA`: one ``applyInArrow`` call per device."""
    return events.groupBy("hub", "device_id", "module_id").applyInArrow(
        _device_sessions, SESSIONS_SCHEMA
    )


def session(master: str, partitions: int | None = None) -> SparkSession:
    """A Spark session for dropscope: the input's nanosecond times read as int64, and with
    ``partitions``, exactly that many shuffle partitions (not coalesced by adaptive execution)."""
    from pyspark.sql import SparkSession

    # Executors run the Python that runs this, where dropscope and pyarrow are installed.
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    builder = (
        SparkSession.builder.master(master)
        .appName("dropscope")
        .config("spark.sql.legacy.parquet.nanosAsLong", "true")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
    )
    if partitions is not None:
        builder = builder.config("spark.sql.shuffle.partitions", str(partitions)).config(
            "spark.sql.adaptive.coalescePartitions.enabled", "false"
        )
    return builder.getOrCreate()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m dropscope.spark",
        description="dropscope on Apache Spark: every device's sessions from events Parquet.",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    command = commands.add_parser(
        "sessions", help="rebuild every device's sessions (what `dropscope sessions` writes)"
    )
    command.add_argument("input", help="events Parquet written by `dropscope ingest` (file or dir)")
    command.add_argument("-o", "--output", required=True, help="the directory Spark writes")
    command.add_argument("--master", default="local[*]", help="Spark master URL (local[*])")
    command.add_argument(
        "--partitions", type=int, default=None,
        help="split the events into this many partitions (and shuffle into as many)",
    )
    args = parser.parse_args(argv)
    spark = session(args.master, args.partitions)
    try:
        events = spark.read.parquet(args.input)
        if args.partitions is not None:
            events = events.repartition(args.partitions)
        n_partitions = events.rdd.getNumPartitions()
        result = sessions(events)
        result.write.parquet(args.output)
        n_sessions = spark.read.parquet(args.output).count()
        print(
            f"rebuilt {n_sessions} session(s) from {args.input} in {n_partitions} partition(s);"
            f" wrote {args.output}",
            file=sys.stderr,
        )
    finally:
        spark.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
