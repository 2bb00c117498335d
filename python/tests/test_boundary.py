"""The boundary itself: inputs from any Arrow producer, no copies, errors with the CLI's
messages, the GIL released while Rust works."""

from __future__ import annotations

import threading
import time

import pyarrow as pa
import pytest

import dropscope
from dropscope import _native
from conftest import DAY, FIXTURES, cli


@pytest.fixture(scope="module")
def events():
    return dropscope.read_logs(FIXTURES).events


def test_inputs_are_any_stream_exporter(events):
    expected = dropscope.sessions(events)
    # A record batch reader (consumed once), a table with plain text instead of dictionaries,
    # a table in several chunks, and the extension's own table object.
    reader = pa.RecordBatchReader.from_batches(events.schema, events.to_batches())
    plain = pa.table(
        [c.cast(c.type.value_type) if pa.types.is_dictionary(c.type) else c
         for c in events.columns],
        names=events.column_names,
    )
    chunked = pa.concat_tables([events.slice(0, 5), events.slice(5)])
    native, _ = _native.read_logs([str(FIXTURES)])
    for source in (reader, plain, chunked, native):
        assert dropscope.sessions(source).equals(expected)


def test_polars_takes_the_tables_when_installed(events):
    pl = pytest.importorskip("polars")
    frame = pl.DataFrame(events)
    assert frame.height == events.num_rows
    assert dropscope.sessions(frame).equals(dropscope.sessions(events))


def test_pandas_takes_the_tables_and_gives_them_back(events):
    pytest.importorskip("pandas")
    frame = events.to_pandas()  # categoricals, datetime64[ns, UTC]
    assert dropscope.sessions(frame).equals(dropscope.sessions(events))
    assert len(dropscope.sessions(events).to_pandas()) == 15


def test_a_table_is_exported_without_a_copy():
    native, _ = _native.read_logs([str(FIXTURES)])
    first = pa.table(native)
    second = pa.table(native)
    # Two imports of one table share the extension's buffers.
    for name in ("time", "source_line"):
        a = first[name].chunks[0].buffers()[1]
        b = second[name].chunks[0].buffers()[1]
        assert a.address == b.address
    assert len(native) == first.num_rows
    assert native.column_names == first.column_names


def test_a_non_table_is_a_type_error():
    with pytest.raises(TypeError, match="__arrow_c_stream__"):
        dropscope.sessions([1, 2, 3])


def test_a_table_without_the_events_columns_is_an_error():
    with pytest.raises(dropscope.DropscopeError, match="reading the events table\n  caused by: no column `hub`"):
        dropscope.sessions(pa.table({"x": [1, 2]}))


def cli_error(*args) -> str:
    """What the CLI prints on stderr for a failing command, without its `error: ` prefix."""
    done = cli(*args, check=False)
    assert done.returncode == 2
    return done.stderr.removeprefix("error: ").rstrip("\n")


def test_a_missing_input_raises_the_cli_message(tmp_path):
    missing = tmp_path / "nothing-here"
    with pytest.raises(dropscope.DropscopeError) as raised:
        dropscope.read_logs(missing)
    assert str(raised.value) == cli_error("inspect", missing, "-q")
    assert str(raised.value).startswith("reading the inputs\n  caused by: cannot read")


def test_an_unknown_scenario_raises_the_cli_message(tmp_path):
    with pytest.raises(dropscope.DropscopeError) as raised:
        dropscope.simulate("no-such-scenario")
    assert str(raised.value) == cli_error(
        "simulate", "--scenario", "no-such-scenario", "-o", tmp_path, "-q"
    )


def test_bad_labels_name_the_row():
    good = dropscope.classify(dropscope.read_logs(FIXTURES).events)
    bad = good.set_column(4, "cause", pa.array(["not_a_cause"] * good.num_rows))
    with pytest.raises(dropscope.DropscopeError, match="row 1: unknown cause `not_a_cause`"):
        dropscope.evaluate(bad, good)


def test_the_gil_is_released_while_rust_works():
    # While a simulation runs on another thread, this thread keeps running Python. Were the GIL
    # held through the call, this thread would stall for the whole call: its longest pause
    # between two loop turns would be about the call's length.
    took = []

    def work():
        start = time.perf_counter()
        _native.simulate(DAY["scenario"], devices=2_000, hours=24, seed=1)
        took.append(time.perf_counter() - start)

    worker = threading.Thread(target=work)
    worker.start()
    longest = 0.0
    last = time.perf_counter()
    while worker.is_alive():
        now = time.perf_counter()
        longest = max(longest, now - last)
        last = now
    worker.join()
    assert took[0] > 0.2, "the call must be long enough to tell"
    assert longest < took[0] / 4
