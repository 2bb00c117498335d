#!/usr/bin/env bash
# dropscope.spark in local mode against the CLI on one events table (issue 20): runs
# `dropscope classify` and `python -m dropscope.spark classify --master local[CORES]` on the same
# Parquet, checks their predictions are the same lines (sorted), and prints wall time, CPU time
# (user + sys) and peak resident memory of each, per record too. Spark's figures are its whole
# process tree: the driver's Python, the JVM (driver and executors in local mode) and the Python
# workers, sampled every 0.5 s (peak RSS is the peak of the tree's sum; a process's CPU time is
# its last sample, so a worker's last half second may be missed). The CLI's are the same sampler's,
# and its peak RSS the kernel's (getrusage).
#
#   benches/spark.sh [EVENTS.parquet]
#
# Without an input it simulates a mixed day of DEVICES devices (default 160,000: about 10.2 M
# records) as Parquet and `dropscope ingest`s it (dropping the simulated export's duplicates,
# as the Spark path expects of its Parquet input). Builds the CLI and the extension in release
# mode first (the extension into target/python-venv, as python/run-tests.sh makes it).
#
# Env: DEVICES, CORES (Spark's local[CORES], default 2), DRIVER_MEMORY (default 6g: the JVM
# holds the driver and the executors), WORK (default /tmp/spark/bench; removed at the end unless
# KEEP=1), DROPSCOPE_BIN (skip building the CLI).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
devices="${DEVICES:-160000}"
cores="${CORES:-2}"
work="${WORK:-/tmp/spark/bench}"
venv="$root/target/python-venv"
mkdir -p "$work"
[ "${KEEP:-0}" = 1 ] || trap 'rm -rf "$work"' EXIT

if [ -z "${DROPSCOPE_BIN:-}" ]; then
    cargo build --quiet --release --bin dropscope
    bin="$root/target/release/dropscope"
else
    bin="$(realpath "$DROPSCOPE_BIN")"
fi
[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r python/requirements-test.txt
VIRTUAL_ENV="$venv" PATH="$venv/bin:$PATH" maturin develop --quiet --release \
    --manifest-path python/Cargo.toml
python="$venv/bin/python"

if [ $# -ge 1 ]; then
    input="$(realpath "$1")"
else
    input="$work/events.parquet"
    if [ ! -e "$input" ]; then
        "$bin" --quiet simulate --scenario mixed-day --devices "$devices" --hours 24 --seed 5 \
            --format parquet -o "$work/sim"
        "$bin" --quiet ingest "$work/sim/logs" -o "$input"
        rm -rf "$work/sim"
    fi
fi
records=$("$python" -c 'import sys, pyarrow.parquet as pq
from pathlib import Path
p = Path(sys.argv[1])
files = [p] if p.is_file() else sorted(p.rglob("*.parquet"))
print(sum(pq.read_metadata(f).num_rows for f in files))' "$input")

# measure NAME CMD...: runs CMD, sampling its process tree; writes "wall cpu peak_bytes" to
# $work/NAME.measure.
measure() {
    local name="$1"
    shift
    "$python" - "$work/$name.measure" "$@" <<'EOF'
import os, resource, subprocess, sys, time

out, command = sys.argv[1], sys.argv[2:]
tick = os.sysconf("SC_CLK_TCK")
page = os.sysconf("SC_PAGE_SIZE")


def tree(root):
    """The pids under root (root too), from /proc's parent links."""
    children = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(entry))
    pids, todo = [], [root]
    while todo:
        pid = todo.pop()
        pids.append(pid)
        todo.extend(children.get(pid, []))
    return pids


cpu = {}  # pid -> last seen user + sys ticks
peak = 0
start = time.monotonic()
child = subprocess.Popen(command, stdout=subprocess.DEVNULL)
while child.poll() is None:
    rss = 0
    for pid in tree(child.pid):
        try:
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            with open(f"/proc/{pid}/statm") as f:
                rss += int(f.read().split()[1]) * page
        except OSError:
            continue
        # Fields after the command: state is [0], utime [11], stime [12].
        cpu[pid] = int(fields[11]) + int(fields[12])
    peak = max(peak, rss)
    time.sleep(0.5)
wall = time.monotonic() - start
if child.returncode != 0:
    sys.exit(f"{command[0]} failed: exit status {child.returncode}")
usage = resource.getrusage(resource.RUSAGE_CHILDREN)
sampled = sum(cpu.values()) / tick
# The kernel's count covers the reaped processes exactly; the samples the others.
cpu_time = max(sampled, usage.ru_utime + usage.ru_stime)
if len(cpu) <= 1:
    peak = max(peak, usage.ru_maxrss * 1024)
with open(out, "w") as f:
    f.write(f"{wall:.2f} {cpu_time:.2f} {peak}\n")
EOF
}

rm -rf "$work/predictions.csv" "$work/spark-predictions"
measure cli "$bin" --quiet classify "$input" -o "$work/predictions.csv"
mkdir -p "$work/eventlog"
# The event log uncompressed (Spark 4 compresses it with zstd by default), for the reader below.
PYSPARK_SUBMIT_ARGS="--driver-memory ${DRIVER_MEMORY:-6g} --conf spark.eventLog.enabled=true
    --conf spark.eventLog.compress=false
    --conf spark.eventLog.dir=file://$work/eventlog pyspark-shell" \
    measure spark "$python" -m dropscope.spark classify "$input" -o "$work/spark-predictions" \
    --master "local[$cores]" 2>"$work/spark.stderr" || { tail -30 "$work/spark.stderr" >&2; exit 1; }

# The same lines, sorted: Spark's rows written as the CLI's predictions.csv writer writes them.
"$python" - "$work/spark-predictions" "$work/spark-predictions.csv" <<'EOF'
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from dropscope import _native

with open(sys.argv[2], "wb") as out:
    for part in sorted(Path(sys.argv[1]).glob("*.parquet")):
        table = pq.read_table(part)
        time = table["time"].cast(pa.int64()).cast(pa.timestamp("ns", tz="UTC"))
        table = table.set_column(table.column_names.index("time"), "time", time)
        out.write(_native.predictions_csv(table).split(b"\n", 1)[1])
EOF
tail -n +2 "$work/predictions.csv" | LC_ALL=C sort -S 1G -T "$work" >"$work/cli.sorted"
LC_ALL=C sort -S 1G -T "$work" "$work/spark-predictions.csv" >"$work/spark.sorted"
lines=$(wc -l <"$work/cli.sorted")
if cmp -s "$work/cli.sorted" "$work/spark.sorted"; then
    same="the same $lines predictions"
else
    echo "the predictions differ:" >&2
    diff "$work/cli.sorted" "$work/spark.sorted" | head -20 >&2
    exit 1
fi

# On paper (BENCHMARKS.md): the events' Arrow bytes per row as Spark hands a group to Python (text
# as plain strings, with the place columns), Spark's own shuffle bytes (its event log), and the
# fleet statistics' sizes on one machine (merged, they are the bytes Spark broadcasts).
"$python" - "$input" "$work/eventlog" >"$work/paper.txt" <<'PY'
import json, struct, sys
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from dropscope import _native

path, eventlog = Path(sys.argv[1]), Path(sys.argv[2])
files = [path] if path.is_file() else sorted(path.rglob("*.parquet"))
rows = stored = plain = 0
for name in files:
    for batch in pq.ParquetFile(name).iter_batches(batch_size=1 << 20):
        rows += batch.num_rows
        stored += batch.nbytes
        columns = [c.cast(c.type.value_type) if pa.types.is_dictionary(c.type) else c
                   for c in batch.columns]
        columns += [pa.array([str(name)] * batch.num_rows),
                    pa.array(range(batch.num_rows), pa.int64())]
        names = [*batch.schema.names, "_file", "_row"]
        plain += pa.RecordBatch.from_arrays(columns, names=names).nbytes
print(f"events: {rows} rows; Arrow {stored / rows:.1f} B a row as read (dictionaries),"
      f" {plain / rows:.1f} B as Spark hands a group to Python (plain strings, _file, _row)")

written = rows_written = 0
# The log's own files (events_N_APP), not the checksums and status files beside them.
for log in (p for p in eventlog.rglob("events_*") if p.is_file() and p.suffix != ".crc"):
    for line in log.open():
        event = json.loads(line)
        if event.get("Event") == "SparkListenerTaskEnd":
            shuffle = (event.get("Task Metrics") or {}).get("Shuffle Write Metrics") or {}
            written += shuffle.get("Shuffle Bytes Written", 0)
            rows_written += shuffle.get("Shuffle Records Written", 0)
if written:
    print(f"Spark's shuffles wrote {written} B in {rows_written} rows: {written / rows:.1f} B a record")

table = pq.read_table(path)
stats = _native.fleet_stats(table)
tally = _native.fleet_tally(table, stats)
del table


def sizes(data: bytes) -> tuple[int, int, int]:
    """Round 1's renewal samples, /24s and throttled times, from its bytes (the engine's form)."""
    at = 5

    def u64() -> int:
        nonlocal at
        at += 8
        return struct.unpack_from("<Q", data, at - 8)[0]

    def text() -> None:
        nonlocal at
        at += 4 + struct.unpack_from("<I", data, at)[0]

    def opt_text() -> None:
        nonlocal at
        at += 1
        if data[at - 1]:
            text()

    samples = 0
    for _ in range(u64()):
        opt_text()
        opt_text()
        at += 1
        n = u64()
        samples += n
        at += 8 * n
    prefixes = u64()
    for _ in range(prefixes):
        text()
        at += 8
    for _ in range(2):  # the window's start and end
        at += 1 + 8 * data[at]
    u64()
    at += 1 + 16 * data[at]
    return samples, prefixes, u64()


samples, prefixes, throttled = sizes(stats)
print(f"round 1: {len(stats)} B ({samples} renewal samples, {prefixes} /24s, {throttled} throttled"
      f" times); round 2: {len(tally)} B")
PY

echo "$("$bin" --version); $records records ($input); $same; $(nproc) cores, load: $(uptime | sed 's/.*load average: //')"
echo
echo "| run | wall | CPU (user+sys) | peak RSS | per record: wall, CPU, RSS |"
echo "|---|---|---|---|---|"
for row in "\`dropscope classify\`:cli" "Spark \`local[$cores]\`:spark"; do
    read -r wall cpu bytes <"$work/${row##*:}.measure"
    awk -v name="${row%:*}" -v w="$wall" -v c="$cpu" -v b="$bytes" -v n="$records" 'BEGIN {
        printf "| %s | %.1f s | %.1f s | %.2f GB | %.2f µs, %.2f µs, %d B |\n",
            name, w, c, b / 1e9, w * 1e6 / n, c * 1e6 / n, b / n }'
done
echo
grep -E '^(fleet statistics|classified)' "$work/spark.stderr" || true
cat "$work/paper.txt"
