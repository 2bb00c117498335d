"""dropscope on Apache Spark: sessions, causes and their ranking over a Spark DataFrame of events.

The engine splits the classifier into what is local to a device and what is fleet-wide
(``dropscope_engine::classify::fleet``, whose module docs hold the details); this module runs
that split on Spark, with the Rust core doing each part's work. The events are repartitioned by
``device_id`` and cached, so each Spark partition holds every record of each of its device ids:
the first three phases run once per partition (``mapInArrow``, the partition's batches gathered
into one table), a part of the fleet each.

1. Each part's round-1 fleet statistics (renewal ages per SDK family, devices per /24, connect
   counts, throttled times) as bytes.
2. The statistics merged on the driver (the merge is associative and commutative, so the
   grouping does not matter) and broadcast (``SparkContext.broadcast``: 23 MB for a day of
   160,000 devices, every renewal sample's age being 8 bytes, sent to each executor once, not
   with every task); each part reads the broadcast's ``value`` once. The same again for round 2
   (which token clocks run free of connections; connects near throttled records), which needs
   round 1.
3. Each part's verdicts with the merged statistics. Parts hold whole device ids, not only whole
   devices, because a prediction's ``occurrence`` counts the records of one id across its hubs
   and modules; any split into whole devices gives the same verdicts. (A call per device, as
   ``groupBy().applyInArrow`` makes, would read and learn from the whole fleet's statistics
   once per device: 90 ms a device at 160,000 devices.)
4. The silent drops (404104s, and bare state changes with no result code, that no device's own
   evidence explains) of the whole fleet go to the cross-device burst detectors on the driver,
   each with its verdict alone and its reconnect delay from phase 3; their verdicts are joined
   back.

Phases 1 to 3 shuffle the events once. Every part sees its devices' records in input order: a
record's place in the input is kept as ``(_file, _row)`` (the Parquet file and row, or the log
file and the record's place in it) and each part is sorted by it before Rust sees it.

``sessions`` walks each part's devices' sessions in one Rust call per partition, after the same
repartition by ``device_id``. Issue 20 asked for ``groupBy(hub, device_id, module_id)
.applyInArrow`` (one call per device) for the per-device phase; a device's sessions and evidence
are its own records' alone, so a part of whole devices gives each device what the whole fleet
gives it, the same answer, without a Python call, an Arrow round trip and a grouping sort per
device (160,000 of them in a day of the mixed fleet).

``diagnose`` (the causes ranked by impact: the text ``dropscope diagnose --json`` prints, byte
for byte) runs the ranking's split (``dropscope_engine::rank::fleet``) after phases 1 to 4:

5. Each part's ranking tally (per cause: records, devices, offline time, reconnect delays,
   session ages, rules, codes, /24s, SDK families, first and last time; the benign churn; the
   disconnect and failed-connect counts) as bytes, merged on the driver. The part decides its
   verdicts again with the broadcast statistics (Rust, as in phase 3: cheaper than shuffling
   the verdicts back to their events), takes the fleet's verdicts of its silent drops from a
   broadcast of phase 4's (one row per silent drop, keyed as the join), and charges offline
   time up to each hub's last record in the whole fleet (a ``groupBy(hub)`` max, broadcast):
   a part's own records may end before its hub's.
6. A cause's mean confidence divides a float sum taken in input order, and float addition is
   not associative, so no split of the sum gives the CLI's bits: the verdicts (``cause``,
   ``confidence``) are sorted by their place and streamed to the driver one sorted partition
   at a time (``toLocalIterator``), where Rust adds them in order (9 bytes a verdict pass
   through; the driver holds one partition's).

Device counts add up because parts hold disjoint devices. The driver holds the merged tally: a
few hundred bytes per cause plus 8 bytes per reconnect delay and per disconnect's session age
(the medians and the renewal band in the evidence are exact order statistics; several GB at a
billion records, the next thing to split: exact quantiles by a Spark sort). ``diagnose`` shows
no incidents, so they are not split (``rank::fleet``'s docs say what would be). The order of the
confidence sum is the input's when Spark's order of ``_file`` (a URI) is the CLI's order of the
files (a directory's, by the bytes of their paths): true of one file, and of a directory whose
paths need no URI escaping (``ingest --partition-by device``'s).

Run it as ``python -m dropscope.spark {sessions,classify,diagnose} INPUT -o OUT [--master URL]``.
INPUT is Parquet ``dropscope ingest`` wrote (a file or a directory of files), or a JSON Lines
export tree (the storage container's ``.../PT1H.json`` files, gzip or not; any directory without
a ``.parquet`` file is read as one): Spark reads each file whole (``binaryFile``), Rust parses it
as ``dropscope ingest`` parses a file, and duplicates across files are dropped keeping the first
copy in input order (files in path order), as ``ingest`` does. What differs from the CLI on raw
logs: rejected lines are counted, not listed, and a kept record is not flagged as having had
copies (a table cannot say so either: the CLI on ``ingest``'s Parquet is what this equals), and
Spark skips files whose names start with ``_`` or ``.``.

OUT is a directory of Parquet files Spark writes (``sessions``, ``classify``) or a JSON file
(``diagnose``). Spark's timestamps hold microseconds and the logs' times have up to seven
fractional digits, so times stay exact as int64 nanoseconds since the Unix epoch, UTC: the
input's ``time`` is read as such (``spark.sql.legacy.parquet.nanosAsLong``), and the outputs'
times and durations are int64 nanoseconds. The Spark facts this rests on:
docs/research/python-package.md.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Iterator

import pyarrow as pa

if TYPE_CHECKING:
    from pyspark import Broadcast
    from pyspark.sql import DataFrame, SparkSession

# What the driver holds and broadcasts, at INFO (``python -m dropscope.spark`` prints it).
_log = logging.getLogger(__name__)

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

# A part's verdicts (`_native.classify_part`) with the input place of each record.
VERDICT_COLUMNS: list[tuple[str, str]] = [
    ("device_id", "string"),
    ("time", "long"),
    ("operation", "string"),
    ("occurrence", "long"),
    ("cause", "string"),
    ("confidence", "double"),
    ("rule", "string"),
    ("silent", "boolean"),
    ("prefix", "string"),
    ("reconnect_delay", "long"),
    ("_file", "string"),
    ("_row", "long"),
]
VERDICTS_SCHEMA = ", ".join(f"{name} {kind}" for name, kind in VERDICT_COLUMNS)

# The predictions.csv columns, `time` as int64 nanoseconds.
PREDICTION_COLUMNS = ["device_id", "time", "operation", "occurrence", "cause", "confidence"]

_ARROW = {
    "string": pa.string(),
    "long": pa.int64(),
    "boolean": pa.bool_(),
    "double": pa.float64(),
    "binary": pa.binary(),
}

# The events table's integer columns and the types dropscope gives them.
_EVENT_INTEGERS = {"result_type": pa.uint32(), "source": pa.uint32(), "source_line": pa.uint64()}
# Where each record stands in the input.
_PLACE = ["_file", "_row"]


def _in_spark_types(table: pa.Table, columns: list[tuple[str, str]]) -> pa.Table:
    """``table``'s ``columns`` in the Spark types named."""
    out = []
    for name, kind in columns:
        column = table[name]
        if pa.types.is_dictionary(column.type):
            column = column.cast(column.type.value_type)
        if pa.types.is_timestamp(column.type):
            column = column.cast(pa.int64())
        out.append(column.cast(_ARROW[kind]))
    return pa.table(out, names=[name for name, _ in columns])


def _events_from_spark(table: pa.Table) -> pa.Table:
    """A group of events as Spark hands it over, in input order (by ``_file``, ``_row`` when
    there, else ``source``, ``source_line``) and in dropscope's types: ``time`` back to a
    timestamp (from int64 nanoseconds, or from Spark's microsecond timestamps), integers back
    to their widths (Spark reads unsigned Parquet integers as wider signed ones). The place
    columns stay, at the end, for the caller."""
    if all(name in table.column_names for name in _PLACE):
        table = table.sort_by([(name, "ascending") for name in _PLACE])
    elif "source" in table.column_names and "source_line" in table.column_names:
        table = table.sort_by([("source", "ascending"), ("source_line", "ascending")])
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


def _without_place(events: pa.Table) -> pa.Table:
    return events.drop_columns([name for name in _PLACE if name in events.column_names])


def _part_sessions(events: pa.Table) -> pa.Table:
    """A part's events in (whole devices, in input order), its devices' sessions out (runs on
    the executors)."""
    import dropscope

    return _in_spark_types(dropscope.sessions(_without_place(events), threads=1), SESSION_COLUMNS)


def _whole_partition(
    work: Callable[[pa.Table], pa.Table],
) -> Callable[[Iterator[pa.RecordBatch]], Iterator[pa.RecordBatch]]:
    """``work`` over a Spark partition's events at once (for ``mapInArrow``): every batch of the
    partition gathered into one table, in input order. After :func:`_by_device` a partition holds
    every record of each of its device ids, which is what the rounds need of a part."""

    def run(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        table = pa.Table.from_batches(list(batches))
        if table.num_rows == 0:
            return
        yield from work(_events_from_spark(table)).to_batches()

    return run


def _part_stats(events: pa.Table) -> pa.Table:
    """Phase 1 for a part of the fleet: its round-1 statistics, as bytes."""
    from dropscope import _native

    stats = _native.fleet_stats(_without_place(events), threads=1)
    return pa.table({"stats": pa.array([stats], pa.binary())})


def _part_tally(stats: Broadcast[bytes]) -> Callable[[pa.Table], pa.Table]:
    def tally(events: pa.Table) -> pa.Table:
        """Phase 2 for a part of the fleet: its round-2 statistics with the fleet's round 1
        (read from the broadcast once, here, per partition)."""
        from dropscope import _native

        tally = _native.fleet_tally(_without_place(events), stats.value, threads=1)
        return pa.table({"stats": pa.array([tally], pa.binary())})

    return tally


def _part_verdicts(
    stats: Broadcast[bytes], tally: Broadcast[bytes]
) -> Callable[[pa.Table], pa.Table]:
    def verdicts(events: pa.Table) -> pa.Table:
        """Phase 3 for a part of the fleet (whole device ids): its verdicts with the fleet's
        statistics (read from the broadcasts once per partition), and each record's place in
        the input."""
        from dropscope import _native

        part = pa.table(
            _native.classify_part(_without_place(events), stats.value, tally.value, threads=1)
        )
        rows = part["row"]
        part = part.append_column("_file", events["_file"].take(rows))
        part = part.append_column("_row", events["_row"].take(rows))
        return _in_spark_types(part, VERDICT_COLUMNS)

    return verdicts


def _merged(parts: DataFrame, merge: Callable[[list[bytes]], bytes]) -> bytes:
    """The statistics of every row of ``parts`` (column ``stats``) merged: each Spark
    partition's on its executor, then the partitions' on the driver."""

    def merge_partition(rows: Iterator) -> Iterator[bytes]:
        yield merge([row.stats for row in rows])

    return merge(parts.rdd.mapPartitions(merge_partition).collect())


def _by_device(events: DataFrame) -> DataFrame:
    """The events repartitioned by device id and cached: each partition holds whole device ids,
    and every later grouping by the device, or by the id, needs no other shuffle."""
    return events.repartition("device_id").cache()


def sessions(events: DataFrame) -> DataFrame:
    """Every device's sessions from a Spark DataFrame of events (the columns ``dropscope ingest``
    writes, and ``_file``, ``_row`` when :func:`read_events` read them), as a DataFrame with
    :data:`SESSIONS_SCHEMA`: one Rust call per partition of whole device ids (module docs)."""
    return _by_device(events).mapInArrow(_whole_partition(_part_sessions), SESSIONS_SCHEMA)


def verdicts(events: DataFrame) -> DataFrame:
    """Every classified record's verdict (:data:`VERDICTS_SCHEMA`), after phases 1 to 4 (module
    docs). ``events`` must carry ``_file`` and ``_row`` (:func:`read_events`)."""
    decided, fleet_silent, _, _ = _rounds(_by_device(events))
    return _overridden(decided, fleet_silent)


# The columns a verdict row is joined on.
_KEY = ["device_id", "time", "operation", "occurrence"]


def _rounds(events: DataFrame) -> tuple[DataFrame, pa.Table, Broadcast[bytes], Broadcast[bytes]]:
    """Phases 1 to 4 over ``events`` (:func:`_by_device`'s): the verdicts as phase 3 left them
    (cached), the fleet's verdicts of the silent drops (:data:`_KEY`, ``cause``, ``confidence``,
    ``rule``: phase 4's, on the driver), and the broadcast statistics of rounds 1 and 2."""
    from dropscope import _native

    context = events.sparkSession.sparkContext
    stats = _merged(
        events.mapInArrow(_whole_partition(_part_stats), "stats binary"),
        _native.merge_fleet_stats,
    )
    shared_stats = context.broadcast(stats)
    tally = _merged(
        events.mapInArrow(_whole_partition(_part_tally(shared_stats)), "stats binary"),
        _native.merge_fleet_tally,
    )
    shared_tally = context.broadcast(tally)
    decided = events.mapInArrow(
        _whole_partition(_part_verdicts(shared_stats, shared_tally)), VERDICTS_SCHEMA
    ).cache()
    # Each silent drop's verdict alone (its cause, confidence, rule as round 3 left them) and
    # its reconnect delay: a bare state change in a burst is decided by how soon it came back.
    alone = ["cause", "confidence", "rule", "reconnect_delay"]
    silent = decided.filter("silent").select(*_KEY, "prefix", *alone).toArrow()
    _log.info(
        "fleet statistics: round 1 %d bytes, round 2 %d bytes; %d silent drops on the driver"
        " (%d Arrow bytes)",
        len(stats), len(tally), silent.num_rows, silent.nbytes,
    )
    resolved = pa.table(_native.silent_verdicts(silent.select(["time", "prefix", *alone]), stats))
    fleet_silent = silent.select(_KEY)
    for name in ("cause", "confidence", "rule"):
        fleet_silent = fleet_silent.append_column(name, resolved[name])
    return decided, fleet_silent, shared_stats, shared_tally


def _overridden(decided: DataFrame, fleet_silent: pa.Table) -> DataFrame:
    """``decided`` with each silent drop's verdict replaced by the fleet's (``fleet_silent``)."""
    if fleet_silent.num_rows == 0:
        return decided
    from pyspark.sql import functions as F

    names = ("cause", "confidence", "rule")
    overrides = fleet_silent.rename_columns([*_KEY, *(f"_{name}" for name in names)])
    joined = decided.join(decided.sparkSession.createDataFrame(overrides), on=_KEY, how="left")
    return joined.select(
        *_KEY,
        *(F.coalesce(F.col(f"_{name}"), F.col(name)).alias(name) for name in names),
        "silent",
        "prefix",
        "reconnect_delay",
        *_PLACE,
    ).select(*[name for name, _ in VERDICT_COLUMNS])


def classify(events: DataFrame) -> DataFrame:
    """A cause and a confidence for every disconnect and failed connect: the rows of the
    predictions.csv ``dropscope classify`` writes, ``time`` as int64 nanoseconds."""
    return verdicts(events).select(*PREDICTION_COLUMNS)


def _part_rank(
    stats: Broadcast[bytes],
    tally: Broadcast[bytes],
    fleet_silent: Broadcast[pa.Table],
    hub_ends: Broadcast[dict[str, int]],
) -> Callable[[pa.Table], pa.Table]:
    def rank(events: pa.Table) -> pa.Table:
        """Phase 5 for a part of the fleet (whole device ids): its ranking tally, as bytes, from
        its verdicts with the fleet's of its silent drops and its hubs' ends in the fleet."""
        from dropscope import _native

        part = _native.rank_part(
            _without_place(events), stats.value, tally.value, fleet_silent.value,
            hub_ends.value, threads=1,
        )
        return pa.table({"stats": pa.array([part], pa.binary())})

    return rank


def _hub_ends(events: DataFrame) -> dict[str, int]:
    """Each hub's last record's time, int64 ns (as the engine's ``offline::hub_ends``)."""
    from pyspark.sql import functions as F
    from pyspark.sql.types import TimestampType

    time = F.col("time")
    if isinstance(events.schema["time"].dataType, TimestampType):
        time = F.unix_micros(time) * 1000
    rows = events.groupBy("hub").agg(F.max(time).alias("end")).collect()
    return {row["hub"]: int(row["end"]) for row in rows if row["hub"] is not None}


def _confidence_sums(verdicts: DataFrame) -> list[float] | None:
    """Each cause's sum of its verdicts' confidences (None when there is no verdict), added in
    input order on the driver: the
    verdicts sorted by their place, each sorted partition's batches (as Arrow IPC bytes)
    streamed to the driver in order, one partition at a time (module docs say why)."""
    from dropscope import _native

    def pack(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        for batch in batches:
            sink = pa.BufferOutputStream()
            part = batch.select(["cause", "confidence"])
            with pa.ipc.new_stream(sink, part.schema) as writer:
                writer.write_batch(part)
            yield pa.record_batch([pa.array([sink.getvalue().to_pybytes()], pa.binary())],
                                  names=["batch"])

    ordered = verdicts.select(*_PLACE, "cause", "confidence").orderBy(*_PLACE)
    sums = None
    for row in ordered.mapInArrow(pack, "batch binary").toLocalIterator():
        sums = _native.add_verdict_confidences(sums, pa.ipc.open_stream(row["batch"]).read_all())
    return sums


def diagnose_json(events: DataFrame) -> str:
    """The causes ranked by impact: the text ``dropscope diagnose --json`` prints, byte for
    byte, from tallies of parts of the fleet merged on the driver (phases 5 and 6, module docs).
    ``events`` must carry ``_file`` and ``_row`` (:func:`read_events`)."""
    from dropscope import _native

    context = events.sparkSession.sparkContext
    events = _by_device(events)
    decided, fleet_silent, stats, tally = _rounds(events)
    ends = _hub_ends(events)
    shared_silent = context.broadcast(fleet_silent)
    shared_ends = context.broadcast(ends)
    ranking = _merged(
        events.mapInArrow(
            _whole_partition(_part_rank(stats, tally, shared_silent, shared_ends)), "stats binary"
        ),
        _native.merge_rank_tallies,
    )
    sums = _confidence_sums(_overridden(decided, fleet_silent))
    _log.info(
        "ranking: %d tally bytes on the driver, %d silent drops' verdicts and %d hub ends"
        " broadcast", len(ranking), fleet_silent.num_rows, len(ends),
    )
    return _native.diagnose_tally(ranking, sums)


def diagnose(events: DataFrame) -> dict:
    """The causes ranked by impact, as ``dropscope diagnose --json`` prints them (parsed):
    :func:`diagnose_json`."""
    return json.loads(diagnose_json(events))


def _is_parquet(path: str) -> bool:
    if path.endswith(".parquet"):
        return True
    root = Path(path)
    return root.is_dir() and any(root.rglob("*.parquet"))


def read_events(spark: SparkSession, path: str) -> DataFrame:
    """The events at ``path`` (Parquet ``dropscope ingest`` wrote, or a JSON Lines export tree:
    module docs), with each record's place in the input as ``_file``, ``_row``."""
    from pyspark.sql import functions as F

    if _is_parquet(path):
        return spark.read.parquet(path).select(
            "*",
            F.col("_metadata.file_path").alias("_file"),
            F.col("_metadata.row_index").alias("_row"),
        )
    return _read_logs(spark, path)


def _read_logs(spark: SparkSession, path: str) -> DataFrame:
    """A JSON Lines export tree's events: each file parsed whole in Rust (as ``ingest`` parses
    one file), then the duplicates across files dropped, the first copy in input order kept."""
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    from dropscope import _native

    files = (
        spark.read.format("binaryFile")
        .option("recursiveFileLookup", "true")
        .load(path)
        .select(F.col("path").alias("_file"), "content")
    )
    # An empty file gives the events table's schema.
    empty, _ = _native.read_log_file("schema", b"")
    schema = pa.table(empty).schema
    spark_columns = [(field.name, _spark_type(field.type)) for field in schema]
    spark_columns += [("_file", "string"), ("_row", "long")]
    paths = sorted(row._file for row in files.select("_file").collect())
    source_of = {name: at for at, name in enumerate(paths)}

    def parse(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        for batch in batches:
            for name, content in zip(batch["_file"].to_pylist(), batch["content"].to_pylist()):
                table, _ = _native.read_log_file(name, content)
                table = pa.table(table)
                source = pa.array([source_of.get(name, 0)] * table.num_rows, pa.uint32())
                table = table.set_column(table.schema.get_field_index("source"), "source", source)
                table = table.append_column("_file", pa.array([name] * table.num_rows, pa.string()))
                table = table.append_column("_row", pa.array(range(table.num_rows), pa.int64()))
                yield from _in_spark_types(table, spark_columns).to_batches()

    schema_text = ", ".join(f"{name} {kind}" for name, kind in spark_columns)
    parsed = files.mapInArrow(parse, schema_text)
    same = [name for name, _ in spark_columns if name not in ("source", "source_line", *_PLACE)]
    first = Window.partitionBy(*same).orderBy(*_PLACE)
    return (
        parsed.withColumn("_copy", F.row_number().over(first))
        .filter("_copy = 1")
        .drop("_copy")
    )


def _spark_type(dtype: pa.DataType) -> str:
    if pa.types.is_dictionary(dtype):
        dtype = dtype.value_type
    if pa.types.is_timestamp(dtype) or pa.types.is_integer(dtype):
        return "long"
    if pa.types.is_boolean(dtype):
        return "boolean"
    if pa.types.is_floating(dtype):
        return "double"
    return "string"


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
        description="dropscope on Apache Spark: sessions, causes and their ranking.",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    helps = {
        "sessions": "rebuild every device's sessions (what `dropscope sessions` writes)",
        "classify": "a cause per disconnect and failed connect (`dropscope classify`'s rows)",
        "diagnose": "the causes ranked by impact (`dropscope diagnose --json`)",
    }
    for name, text in helps.items():
        command = commands.add_parser(name, help=text)
        command.add_argument(
            "input", help="events Parquet from `dropscope ingest`, or a JSON Lines export tree"
        )
        command.add_argument(
            "-o", "--output", required=True,
            help="the directory Spark writes (a JSON file for diagnose)",
        )
        command.add_argument("--master", default="local[*]", help="Spark master URL (local[*])")
        command.add_argument(
            "--partitions", type=int, default=None,
            help="split the events into this many partitions (and shuffle into as many)",
        )
    args = parser.parse_args(argv)
    if not _log.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(message)s"))
        _log.addHandler(handler)
    _log.setLevel(logging.INFO)
    spark = session(args.master, args.partitions)
    try:
        events = read_events(spark, args.input)
        if args.partitions is not None:
            events = events.repartition(args.partitions)
        n_partitions = events.rdd.getNumPartitions()
        if args.command == "sessions":
            sessions(events).write.parquet(args.output)
            n = spark.read.parquet(args.output).count()
            print(
                f"rebuilt {n} session(s) from {args.input} in {n_partitions} partition(s);"
                f" wrote {args.output}",
                file=sys.stderr,
            )
        elif args.command == "classify":
            classify(events).write.parquet(args.output)
            counts = spark.read.parquet(args.output).groupBy("cause").count().collect()
            parts = ", ".join(f"{row['cause']} {row['count']}" for row in sorted(counts))
            total = sum(row["count"] for row in counts)
            print(
                f"classified {total} records from {args.input} in {n_partitions} partition(s)"
                f" into {args.output}: {parts}",
                file=sys.stderr,
            )
        else:
            text = diagnose_json(events)
            Path(args.output).write_text(text)
            print(
                f"ranked {len(json.loads(text)['causes'])} cause(s) from {args.input} in"
                f" {n_partitions} partition(s); wrote {args.output}",
                file=sys.stderr,
            )
    finally:
        spark.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
