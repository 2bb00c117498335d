"""Type stubs of the extension module `dropscope._native` (python/src/lib.rs).

The public API is `dropscope` (dropscope/__init__.py); these functions return the extension's
own tables, which `dropscope` hands to pyarrow.
"""

from collections.abc import Sequence
from typing import TypedDict

__version__: str

class DropscopeError(Exception):
    """An error dropscope reports; the message is the one the CLI prints after `error: `."""

class Table:
    """A table dropscope made, exported through the Arrow PyCapsule stream interface."""

    def __arrow_c_stream__(self, requested_schema: object | None = None) -> object: ...
    def __len__(self) -> int: ...
    @property
    def column_names(self) -> list[str]: ...

class Unreadable(TypedDict):
    """An input that could not be read, as `inspect --json`'s `unreadable_files` lists it."""

    file: str
    error: str

class Accounting(TypedDict):
    """What a read counted (`dropscope.ReadResult`'s fields but `events`; `rejects` as rows of
    file, line, reason, detail, text)."""

    files: int
    records_read: int
    parsed: int
    duplicates: int
    rejected: int
    reject_reasons: dict[str, int]
    forms: dict[str, int]
    unrecognised_files: list[str]
    unreadable_files: list[Unreadable]
    rejects: list[tuple[str, int, str, str, str]]

def read_logs(paths: Sequence[str], *, threads: int | None = None) -> tuple[Table, Accounting]: ...
def sessions(events: object, *, threads: int | None = None) -> Table: ...
def classify(events: object, *, threads: int | None = None) -> Table: ...
def diagnose(events: object, *, threads: int | None = None) -> str: ...
def evaluate(predictions: object, labels: object) -> str: ...
def simulate(
    scenario: str,
    *,
    devices: int | None = None,
    hours: int | None = None,
    seed: int | None = None,
    threads: int | None = None,
) -> tuple[Table, Table]: ...
# The classifier's rounds on parts of the fleet (python/src/fleet.rs), for dropscope.spark.
def fleet_stats(events: object, *, threads: int | None = None) -> bytes: ...
def merge_fleet_stats(parts: Sequence[bytes | bytearray]) -> bytes: ...
def fleet_tally(events: object, stats: bytes, *, threads: int | None = None) -> bytes: ...
def merge_fleet_tally(parts: Sequence[bytes | bytearray]) -> bytes: ...
def classify_part(
    events: object, stats: bytes, tally: bytes, *, threads: int | None = None
) -> Table: ...
def silent_verdicts(drops: object, stats: bytes) -> Table: ...
def predictions_csv(predictions: object) -> bytes: ...
# The ranking's tallies on parts of the fleet (python/src/fleet.rs), for dropscope.spark.diagnose.
def rank_part(
    events: object,
    stats: bytes,
    tally: bytes,
    silent: object,
    hub_ends: dict[str, int],
    *,
    threads: int | None = None,
) -> bytes: ...
def merge_rank_tallies(parts: Sequence[bytes | bytearray]) -> bytes: ...
def add_verdict_confidences(sums: list[float] | None, verdicts: object) -> list[float]: ...
def diagnose_tally(tally: bytes, sums: list[float] | None) -> str: ...
def read_log_file(name: str, content: bytes) -> tuple[Table, Accounting]: ...
