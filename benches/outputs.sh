#!/usr/bin/env bash
# Every command's outputs (files, stdout, stderr, exit status) on the fixtures and a simulated day,
# at 1 and 2 threads, to compare two builds byte for byte before and after a change:
#
#   benches/outputs.sh OLD_BIN old/ && benches/outputs.sh NEW_BIN new/ && diff -rq old new
#
# The simulated day (mixed-day, 3,000 devices, seed 7, JSON Lines and Parquet) is generated once by
# the first binary into $SIM_DIR (default: a folder beside the outputs) and reused, so both builds
# read the same input even when the simulator changed between them. Lines naming the output file
# differ between the thread counts by design; everything else must be equal.
set -u
bin="$1"
out="$2"
root="$(cd "$(dirname "$0")/.." && pwd)"
fx="$root/data/golden/fixtures"
sim="${SIM_DIR:-$(dirname "$(realpath -m "$out")")/outputs-sim}"
rm -rf "$out"
mkdir -p "$out"
if [ ! -d "$sim" ]; then
    "$bin" --quiet simulate --scenario mixed-day --devices 3000 --hours 24 --seed 7 --truth -o "$sim" >/dev/null
    "$bin" --quiet simulate --scenario mixed-day --devices 3000 --hours 24 --seed 7 --format parquet \
        -o "$sim-pq" >/dev/null
fi
run() { # name, args...
    local name="$1"
    shift
    (cd "$out" && "$bin" "$@" >"$name.stdout" 2>"$name.stderr"; echo $? >"$name.rc")
}
for t in 1 2; do
    for input in "fx:$fx" "sim:$sim/logs" "pq:$sim-pq/logs"; do
        n=${input%%:*}
        p=${input#*:}
        run "$n-$t-inspect" --threads $t inspect --json "$p"
        run "$n-$t-inspect-h" --threads $t inspect "$p"
        run "$n-$t-ingest" --threads $t ingest "$p" -o "$n-$t-events.parquet"
        run "$n-$t-ingest-csv" --threads $t ingest "$p" -o "$n-$t-events.csv"
        run "$n-$t-sessions" --threads $t sessions "$p" -o "$n-$t-sessions.csv"
        run "$n-$t-sessions-pq" --threads $t sessions "$p" -o "$n-$t-sessions.parquet"
        run "$n-$t-curve" --threads $t curve "$p" -o "$n-$t-curve.csv"
        run "$n-$t-incidents" --threads $t incidents "$p"
        run "$n-$t-incidents-json" --threads $t incidents --json "$p"
        run "$n-$t-classify" --threads $t classify "$p" -o "$n-$t-pred.csv"
        run "$n-$t-diagnose" --threads $t diagnose "$p"
        run "$n-$t-diagnose-json" --threads $t diagnose --json "$p"
        run "$n-$t-report-json" --threads $t report "$p" -o "$n-$t-report.json"
        run "$n-$t-report-md" --threads $t report "$p" -o "$n-$t-report.md"
        run "$n-$t-report-html" --threads $t report "$p" -o "$n-$t-report.html"
    done
    run "sim-$t-evaluate" --threads $t evaluate "$sim/logs" --truth "$sim/truth/labels.csv"
    run "sim-$t-evaluate-json" --threads $t evaluate --json "$sim/logs" --truth "$sim/truth/labels.csv"
    run "sim-$t-timeline" --threads $t timeline "$sim/logs" --device sensor-000042
    run "fx-$t-timeline" --threads $t timeline "$fx" --device asset-track4
done
