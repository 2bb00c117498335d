"""``dropscope ingest --partition-by device`` (issue 20): the hive-partitioned Parquet tree, read by
pyarrow as one dataset, is the flat events table plus its ``bucket`` column."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds
import pyarrow.parquet as pq

from conftest import canonical, cli


def fnv1a_bucket(hub: str, device_id: str, buckets: int) -> int:
    """The bucket as the CLI documents it: FNV-1a (64 bit) of hub, 0xff, device id."""
    hash_ = 0xCBF29CE484222325
    for byte in hub.encode() + b"\xff" + device_id.encode():
        hash_ = ((hash_ ^ byte) * 0x100000001B3) % 2**64
    return hash_ % buckets


def test_partitioned_tree_is_one_dataset(day_cli, tmp_path):
    out = tmp_path / "events"
    cli("ingest", day_cli["logs"], "-o", out, "--partition-by", "device", "--buckets", "8", "-q")
    dataset = ds.dataset(out, format="parquet", partitioning="hive")
    table = dataset.to_table()
    assert "bucket" in table.column_names
    assert pa.types.is_integer(table.schema.field("bucket").type)
    assert sorted(pc.unique(table["bucket"]).to_pylist()) == list(range(8))

    # Each device in one bucket, the one the documented hash names. (The files' dictionaries
    # differ, so the text columns are decoded first.)
    pairs = canonical(table.select(["hub", "device_id", "bucket"])).group_by(
        ["hub", "device_id", "bucket"]).aggregate([])
    assert pairs.num_rows == len(set(pairs["device_id"].to_pylist()))
    for hub, device_id, bucket in zip(*(pairs[c].to_pylist() for c in pairs.column_names)):
        assert bucket == fnv1a_bucket(str(hub), str(device_id), 8)

    # The same rows as the flat table the CLI wrote from the same logs.
    flat = pq.read_table(day_cli["events"])
    assert canonical(table.drop_columns(["bucket"])).equals(canonical(flat))
