#!/usr/bin/env bash
# Side-by-side benchmark: dropscope against DuckDB on the same generated JSON Lines file.
#
#   benches/compare/run.sh [RECORDS_ROUGHLY]        (default 1000000)
#   RUNS=5 benches/compare/run.sh 2000000           (each command RUNS times, default 3; the
#                                                     median wall time and the largest peak RSS)
#
# Generates the data with `dropscope simulate` (fixed seed), installs DuckDB into its own venv
# (benches/compare/.venv), then times, in one run:
#   ingest:   dropscope inspect FILE            vs DuckDB read_json + json_extract_string into a table
#   sessions: dropscope sessions FILE -o x.parquet vs DuckDB read_json + lead() OVER (PARTITION BY device) -> Parquet
#   sessions from Parquet: the same from dropscope's events Parquet.
# and prints wall seconds (the median of RUNS runs), MB/s, records/s and peak RSS (from
# /usr/bin/time, the largest of the runs) for both.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
records="${1:-1000000}"
out="$here/out"
mkdir -p "$out"

if [ ! -x "$here/.venv/bin/python" ]; then
    python3 -m venv "$here/.venv"
    "$here/.venv/bin/pip" install --quiet duckdb
fi
bin="${DROPSCOPE:-$root/target/release/dropscope}"
[ -n "${DROPSCOPE:-}" ] || (cd "$root" && cargo build --release --quiet)


data="$out/bench-$records.jsonl"
if [ ! -s "$data" ]; then
    # mixed-day yields roughly 63 records per device-day; size the fleet for the record count.
    devices=$(( records / 63 + 1 ))
    "$bin" --quiet simulate --scenario mixed-day --devices "$devices" --hours 24 --seed 42 -o "$out/sim"
    find "$out/sim/logs" -name '*.json' | LC_ALL=C sort | xargs cat > "$data"
    rm -rf "$out/sim"
fi
"$bin" --quiet ingest "$data" -o "$out/events.parquet"
bytes=$(stat -c %s "$data")
n=$(wc -l < "$data")
echo "data: $data: $n records, $((bytes / 1000000)) MB"

runs="${RUNS:-3}"
measure() { # label, command...
    local label="$1"; shift
    : > "$out/times.txt"
    for _ in $(seq "$runs"); do
        /usr/bin/time -f "%e %M" -o "$out/time.txt" "$@" > "$out/stdout.txt" 2> "$out/stderr.txt" || {
            echo "$label failed:"; cat "$out/stderr.txt"; return 1; }
        cat "$out/time.txt" >> "$out/times.txt"
    done
    # The median wall time (a shared 2-core machine is noisy) and the largest peak.
    secs=$(sort -n "$out/times.txt" | awk '{ w[NR] = $1 } END { print w[int((NR + 1) / 2)] }')
    kb=$(sort -k2 -n "$out/times.txt" | tail -1 | awk '{ print $2 }')
    awk -v l="$label" -v s="$secs" -v kb="$kb" -v b="$bytes" -v n="$n" \
        'BEGIN { printf "%-34s %7.2f s %8.0f MB/s %10.0f rec/s %7.0f MB peak\n", l, s, b/1e6/s, n/s, kb/1024 }'
    echo "$secs" > "$out/last.txt"
}

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "  ratio (DuckDB time / dropscope time): %.2fx\n", b/a }'; }

echo "== ingest (read, parse, extract the device id)"
measure "dropscope inspect" "$bin" --quiet inspect "$data"; ds=$(cat "$out/last.txt")
measure "duckdb read_json + json_extract" "$here/.venv/bin/python" "$here/duck.py" ingest "$data"; dk=$(cat "$out/last.txt")
ratio "$ds" "$dk"

echo "== sessions from JSON Lines (-> Parquet)"
measure "dropscope sessions" "$bin" --quiet sessions "$data" -o "$out/sessions.parquet"; ds=$(cat "$out/last.txt")
measure "duckdb lead() over device" "$here/.venv/bin/python" "$here/duck.py" sessions "$data" "$out/duck-sessions.parquet"; dk=$(cat "$out/last.txt")
ratio "$ds" "$dk"

echo "== sessions from Parquet"
measure "dropscope sessions (parquet)" "$bin" --quiet sessions "$out/events.parquet" -o "$out/sessions2.parquet"; ds=$(cat "$out/last.txt")
measure "duckdb lead() (parquet)" "$here/.venv/bin/python" "$here/duck.py" sessions-parquet "$out/events.parquet" "$out/duck-sessions2.parquet"; dk=$(cat "$out/last.txt")
ratio "$ds" "$dk"
