#!/usr/bin/env bash
# The analysis at scale (issue 21's table) for one build: simulates a mixed day of DEVICES devices
# as Parquet (default 160,000: about 10.2 M records), then times `inspect`, `sessions`, `classify`
# and `report` on it, in RUNS rounds of one run each (default 3), and prints the median wall time
# and peak resident memory of each, per record too, and the ratios to `sessions` the targets are
# stated in.
#
#   benches/analysis.sh [BIN] [DEVICES]        e.g. benches/analysis.sh target/release/dropscope
#
# Env: RUNS, THREADS (passed as --threads), WORK (the folder for the input and outputs; default a
# temporary one, removed at the end; an existing input there is reused).
set -euo pipefail
bin="$(realpath "${1:-target/release/dropscope}")"
devices="${2:-160000}"
runs="${RUNS:-3}"
threads=()
[ -n "${THREADS:-}" ] && threads=(--threads "$THREADS")
work="${WORK:-$(mktemp -d)}"
[ -z "${WORK:-}" ] && trap 'rm -rf "$work"' EXIT
mkdir -p "$work"
rm -f "$work"/times-*
input="$work/mixed-day-$devices"
if [ ! -d "$input/logs" ]; then
    "$bin" --quiet simulate --scenario mixed-day --devices "$devices" --hours 24 --seed 5 \
        --format parquet -o "$input"
fi
records=$("$bin" --quiet inspect --json "$input/logs" | python3 -c 'import json,sys; print(json.load(sys.stdin)["records_read"])')
# Each round runs every command once, in turn, so that a machine whose speed drifts during the
# bench (a shared VM's does, by 10% or more) slows every command alike and the ratios stay fair.
commands=(inspect sessions classify report)
declare -A args=(
    [inspect]="inspect $input/logs"
    [sessions]="sessions $input/logs -o $work/sessions.parquet"
    [classify]="classify $input/logs -o $work/predictions.csv"
    [report]="report $input/logs -o $work/report.html"
)
for _ in $(seq "$runs"); do
    for name in "${commands[@]}"; do
        # shellcheck disable=SC2086 # the arguments are split on purpose (paths without spaces)
        /usr/bin/time -f "%e %M" -o "$work/time" "$bin" --quiet "${threads[@]}" ${args[$name]} >/dev/null
        cat "$work/time" >>"$work/times-$name"
    done
done
median() { # name -> "seconds kilobytes" (median wall time; its run's peak)
    sort -n "$work/times-$1" | awk -v n="$runs" 'NR == int((n + 1) / 2) { print }'
}
inspect=$(median inspect)
sessions=$(median sessions)
classify=$(median classify)
report=$(median report)
echo "$("$bin" --version), mixed-day $devices devices: $records records, median of $runs runs"
echo
echo "| command | wall | peak RSS | per record | vs sessions |"
echo "|---|---|---|---|---|"
for row in "inspect:$inspect" "sessions:$sessions" "classify:$classify" "report:$report"; do
    name="${row%%:*}"
    read -r secs kb <<<"${row#*:}"
    read -r base _ <<<"$sessions"
    awk -v name="$name" -v s="$secs" -v kb="$kb" -v n="$records" -v base="$base" 'BEGIN {
        printf "| `%s` | %.2f s | %.2f GB | %.2f µs, %d B | %.2f× |\n",
            name, s, kb * 1024 / 1e9, s * 1e6 / n, kb * 1024 / n, s / base }'
done
