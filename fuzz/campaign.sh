#!/usr/bin/env bash
# The fuzzing campaign: runs fuzz targets one after the other, each for SECONDS, and prints one
# Markdown table row per target (executions, corpus files, libFuzzer's final `cov:`, crashes).
#
# Usage: fuzz/campaign.sh SECONDS [TARGET...]      (from anywhere; every target by default)
#   e.g. nice -n 19 fuzz/campaign.sh 600 > campaign.md
#
# - Targets and their required features are read from fuzz/Cargo.toml.
# - Corpora are seeded first with fuzz/init-corpus.sh and kept in fuzz/corpus/<target>/.
# - Builds with `cargo fuzz build --sanitizer none --debug-assertions` (so overflow checks are on);
#   RUSTC_BOOTSTRAP=1 lets cargo-fuzz's nightly flags through a stable toolchain.
# - A crash stops libFuzzer: the target is then restarted for the time left (at most
#   MAX_CRASHES times), so each target gets its full SECONDS. Crash inputs are in
#   fuzz/artifacts/<target>/; libFuzzer's output in fuzz/artifacts/campaign/<target>.log.
set -euo pipefail

if [ $# -lt 1 ] || ! [[ $1 =~ ^[0-9]+$ ]]; then
    echo "usage: $0 SECONDS [TARGET...]" >&2
    exit 64
fi
seconds=$1
shift
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
max_crashes=${MAX_CRASHES:-5}
export RUSTC_BOOTSTRAP=1

# "name features" per [[bin]] of fuzz/Cargo.toml (features comma-separated, or "-").
bins=$(awk '
    /^\[\[bin\]\]/ { if (name != "") print name, (feat == "" ? "-" : feat); name = ""; feat = ""; next }
    /^name *=/ { gsub(/[" ]/, "", $0); sub(/^name=/, "", $0); name = $0; next }
    /^required-features *=/ { gsub(/[][" ]/, "", $0); sub(/^required-features=/, "", $0); feat = $0 }
    END { if (name != "") print name, (feat == "" ? "-" : feat) }
' "$here/Cargo.toml" | grep -v '^dropscope-fuzz ')

if [ $# -eq 0 ]; then
    set -- $(echo "$bins" | awk '{ print $1 }')
fi

"$here/init-corpus.sh" >&2
logs="$here/artifacts/campaign"
mkdir -p "$logs"
cd "$root"

echo "| target | executions | corpus (files) | coverage (cov) | crashes |"
echo "|---|---:|---:|---:|---:|"
for target in "$@"; do
    features=$(echo "$bins" | awk -v t="$target" '$1 == t { print $2 }')
    if [ -z "$features" ]; then
        echo "$0: no fuzz target '$target' in fuzz/Cargo.toml" >&2
        exit 64
    fi
    feature_args=()
    [ "$features" != "-" ] && feature_args=(--features "$features")
    log="$logs/$target.log"
    : > "$log"
    cargo fuzz build --sanitizer none --debug-assertions "${feature_args[@]}" "$target" >> "$log" 2>&1
    left=$seconds
    executions=0
    crashes=0
    while [ "$left" -gt 0 ]; do
        run_log="$logs/$target.run.log"
        start=$(date +%s)
        status=0
        cargo fuzz run --sanitizer none --debug-assertions "${feature_args[@]}" "$target" -- \
            -max_total_time="$left" -timeout=30 -print_final_stats=1 > "$run_log" 2>&1 || status=$?
        cat "$run_log" >> "$log"
        end=$(date +%s)
        runs=$(sed -n 's/^stat::number_of_executed_units: *\([0-9]*\).*/\1/p' "$run_log" | tail -n 1)
        if [ -z "$runs" ]; then
            runs=$(sed -n 's/^#\([0-9]*\).*/\1/p' "$run_log" | tail -n 1)
        fi
        executions=$((executions + ${runs:-0}))
        left=$((left - (end - start)))
        if [ "$status" -ne 0 ]; then
            crashes=$((crashes + 1))
            echo "$target: crash $crashes (status $status), $left s left; see $log" >&2
            [ "$crashes" -ge "$max_crashes" ] && break
        fi
    done
    coverage=$(grep -o 'cov: [0-9]*' "$log" | tail -n 1 | awk '{ print $2 }')
    corpus=$(find "$here/corpus/$target" -type f | wc -l)
    echo "| \`$target\` | $executions | $corpus | ${coverage:-?} | $crashes |"
done
