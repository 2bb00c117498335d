"""dropscope: find out why your Azure IoT Hub devices disconnect, from Python.

The same readers, engine and simulator as the ``dropscope`` command, over Arrow tables::

    import dropscope
    logs = dropscope.read_logs("insights-logs-connections/")
    logs.events                         # a pyarrow.Table, the schema `dropscope ingest` writes
    dropscope.sessions(logs.events)     # the sessions table `dropscope sessions` writes
    dropscope.classify(logs.events)     # a cause and a confidence per disconnect
    dropscope.diagnose(logs.events)     # the causes ranked by impact

Tables leave as ``pyarrow.Table`` and cross the boundary through the Arrow PyCapsule interface
(``__arrow_c_stream__``) without a copy of their columns. Every function that takes a table takes
any object exporting that interface: a pyarrow Table, a polars or pandas DataFrame.

Rust does the work with the GIL released, on ``threads`` workers (one per core by default);
results are the same at any thread count. Errors are :class:`DropscopeError`, with the message
the command prints.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from typing import Any, Iterable, Union

import pyarrow as pa

from dropscope._native import DropscopeError, __version__
from dropscope import _native

__all__ = [
    "DropscopeError",
    "ReadResult",
    "classify",
    "diagnose",
    "evaluate",
    "read_logs",
    "sessions",
    "simulate",
    "__version__",
]

PathLike = Union[str, "os.PathLike[str]"]


@dataclass(frozen=True)
class ReadResult:
    """What :func:`read_logs` read: the events and the accounting of every record.

    ``parsed + duplicates + rejected == records_read``.
    """

    events: pa.Table
    """The events table: one row per distinct record, in input order (`dropscope ingest`'s)."""
    files: int
    """Input files read, after walking directories."""
    records_read: int
    parsed: int
    """Distinct records kept (the rows of ``events``)."""
    duplicates: int
    """Records dropped as copies of a kept record (the same record in two export forms, say)."""
    rejected: int
    reject_reasons: dict[str, int] = field(default_factory=dict)
    """Rejects per reason (``invalid_time``, ``invalid_json``, ...)."""
    forms: dict[str, int] = field(default_factory=dict)
    """Records read per export form (``jsonl``, ``records-envelope``, ...)."""
    unrecognised_files: list[str] = field(default_factory=list)
    """Inputs in no known export form (a README beside the logs): skipped, not rejected."""
    unreadable_files: list[dict[str, str]] = field(default_factory=list)
    """Inputs that could not be read, each ``{"file": ..., "error": ...}`` (as ``inspect --json``
    lists them): a file that cannot be opened or fails while read, a directory that cannot be
    listed, a symbolic link that loops or leads nowhere, a gzip bomb. None of their records is
    counted; the other inputs are read all the same."""
    rejects: pa.Table | None = None
    """Every reject: ``file``, ``line``, ``reason``, ``detail``, ``text`` (as ``--rejects``)."""


def _table(native: Any) -> pa.Table:
    """A pyarrow Table over a table the extension made (no copy: the C stream interface)."""
    return pa.table(native)


def _paths(paths: PathLike | Iterable[PathLike]) -> list[str]:
    if isinstance(paths, (str, os.PathLike)):
        return [os.fspath(paths)]
    return [os.fspath(p) for p in paths]


def read_logs(paths: PathLike | Iterable[PathLike], *, threads: int | None = None) -> ReadResult:
    """Read IoT Hub connection logs: files or directories (walked recursively) in any export form.

    The form is detected from the bytes, never the file name: storage-blob JSON Lines, the
    Event Hubs ``{"records": [...]}`` envelope, Log Analytics CSV and JSON, Event Grid and
    CloudEvents, dropscope's own Parquet and Arrow, gzip-compressed or not. Records seen twice
    are kept once; malformed records are rejected with file, line and reason, never an error.

    Returns a :class:`ReadResult`: ``events`` (a ``pyarrow.Table`` with the schema
    ``dropscope ingest -o events.parquet`` writes) and the counts ``inspect --json`` prints. An
    input that cannot be read is listed in ``unreadable_files`` (the CLI names it on stderr and
    exits 2) and the others are read all the same. Raises :class:`DropscopeError` when an input
    named does not exist.
    """
    native, counts = _native.read_logs(_paths(paths), threads=threads)
    rejects = counts.pop("rejects")
    names = ["file", "line", "reason", "detail", "text"]
    columns = list(zip(*rejects)) if rejects else [[] for _ in names]
    schema = pa.schema(
        [
            ("file", pa.string()),
            ("line", pa.uint64()),
            ("reason", pa.string()),
            ("detail", pa.string()),
            ("text", pa.string()),
        ]
    )
    return ReadResult(
        events=_table(native),
        rejects=pa.table([list(c) for c in columns], schema=schema),
        **counts,
    )


def sessions(events: Any, *, threads: int | None = None) -> pa.Table:
    """Rebuild every device's sessions from an events table, repairing what the logs miss.

    ``events`` is any table exporting ``__arrow_c_stream__`` with the events columns
    (``ReadResult.events``, or a Parquet file ``dropscope ingest`` wrote, read by any library).
    Returns the sessions table ``dropscope sessions -o sessions.parquet`` writes. A table carries no
    record of the copies the reader dropped, so no session's ``repaired`` says
    ``duplicate_dropped``: the sessions equal ``dropscope sessions events.parquet``'s.
    """
    return _table(_native.sessions(events, threads=threads))


def classify(events: Any, *, threads: int | None = None) -> pa.Table:
    """Infer the root cause of every disconnect and failed connect.

    Returns the predictions: ``device_id``, ``time``, ``operation``, ``occurrence``, ``cause``,
    ``confidence`` (the rows of ``dropscope classify -o predictions.csv``, with ``time`` a
    timestamp and ``confidence`` unrounded).
    """
    return _table(_native.classify(events, threads=threads))


def diagnose(events: Any, *, threads: int | None = None) -> dict[str, Any]:
    """Rank the causes of the disconnects by impact, with evidence and the documented resolution.

    Returns the document ``dropscope diagnose --json`` prints: ``classified_events``, ``causes``
    (ranked, each with ``evidence`` and ``resolution``), ``benign_churn`` and ``quick_renewals``.
    """
    return json.loads(_native.diagnose(events, threads=threads))


def evaluate(predictions: Any, labels: Any) -> dict[str, Any]:
    """Score predictions against ground-truth labels.

    Both are tables with the columns of ``labels.csv`` (``device_id``, ``time``, ``operation``,
    ``occurrence``, ``cause``; predictions may add ``confidence``), such as :func:`classify` and
    :func:`simulate` return. ``time`` may be a timestamp or RFC 3339 text. Returns the document
    ``dropscope evaluate --predictions P --truth L --json`` prints: accuracy, macro-F1, per-class
    scores, the confusion matrix, calibration (ECE and reliability bins) and unmatched counts.
    """
    return json.loads(_native.evaluate(predictions, labels))


def simulate(
    scenario: str = "mixed-day",
    *,
    devices: int | None = None,
    hours: int | None = None,
    seed: int | None = None,
    threads: int | None = None,
) -> tuple[pa.Table, pa.Table]:
    """Simulate a scenario's logs, with ground truth.

    ``scenario`` names a shipped scenario (``quiet-day``, ``token-churn``, ``site-outage-storm``,
    ``hub-fault``, ``upgrade``, ``duplicate-identity``, ``bad-credentials``, ``mixed-day``,
    ``realistic-day``) or a TOML file. ``devices`` resizes the fleet, ``hours`` the window;
    ``seed`` defaults to the scenario's. The same arguments give the same tables.

    Returns ``(events, labels)``: the events as ``dropscope ingest`` reads the logs
    ``dropscope simulate -o DIR`` writes (export faults included: dropped, duplicated, late and
    malformed records), and the ground truth of ``DIR/truth/labels.csv``.
    """
    events, labels = _native.simulate(
        scenario, devices=devices, hours=hours, seed=seed, threads=threads
    )
    return _table(events), _table(labels)
