"""Type stubs of the extension module `dropscope._native` (python/src/lib.rs).

The public API is `dropscope` (dropscope/__init__.py); these functions return the extension's
own tables, which `dropscope` hands to pyarrow.
"""

from collections.abc import Sequence
from typing import Any

__version__: str

class DropscopeError(Exception):
    """An error dropscope reports; the message is the one the CLI prints after `error: `."""

class Table:
    """A table dropscope made, exported through the Arrow PyCapsule stream interface."""

    def __arrow_c_stream__(self, requested_schema: object | None = None) -> object: ...
    def __len__(self) -> int: ...
    @property
    def column_names(self) -> list[str]: ...

def read_logs(paths: Sequence[str], *, threads: int | None = None) -> tuple[Table, dict[str, Any]]: ...
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
