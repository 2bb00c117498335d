#!/usr/bin/env bash
# Classification quality on every shipped scenario, against the simulator's ground truth, on
# seeds the classifier was never tuned on.
#
#   benches/quality.sh [SEED_BASE] [FORM]
#
# SEED_BASE defaults to 1000 (scenario i uses SEED_BASE + i). FORM is the export form simulated
# (`simulate --format`), jsonl by default; eventgrid, cloudevents, routed-json and avro are the
# code-less forms (no error code, protocol or IP: the classifier's StateChange* rules, issue 19).
#
# Tuning and held-out runs (issue 18, "honest evaluation"):
# - TUNED ON: seeds 1, 2 and 3 of every scenario below (and seed 5 of mixed-day at 300 devices, the
#   engine test's run), at 1000-1500 devices (site-outage-storm 4000): the rules, their thresholds
#   and their confidences (each the precision its rule reached on these runs, capped at 0.99) were
#   chosen by looking at these runs' misclassifications. Seed 18 of realistic-day (5000 devices)
#   was looked at as well, so it is not held out either.
# - HELD OUT: seeds 1001-1009 (the default SEED_BASE 1000), at the fleet sizes below, never run
#   while tuning. Report these; any other base above 1000 is held out too.
#
# For each scenario: simulate (lossy export, as shipped) with --truth, then
# `dropscope evaluate logs --truth labels.csv`, which prints our figures beside the
# error-code-only baseline's, per class, with the confusion matrix. Needs a release build.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
bin="${DROPSCOPE:-$root/target/release/dropscope}"
[ -n "${DROPSCOPE:-}" ] || (cd "$root" && cargo build --release --quiet)
base="${1:-1000}"
form="${2:-jsonl}"
if [ "$base" -lt 1000 ]; then
    echo "warning: seeds below 1001 include the tuning seeds 1-3: these figures are not held out" >&2
fi
out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT
i=0
# scenario devices hours
while read -r scenario devices hours; do
    i=$((i + 1))
    seed=$((base + i))
    "$bin" --quiet simulate --scenario "$scenario" --devices "$devices" --hours "$hours" \
        --seed "$seed" --format "$form" --truth -o "$out/$scenario"
    echo "### $scenario ($devices devices, $hours h, seed $seed, $form, held out)"
    echo '```'
    "$bin" --quiet evaluate "$out/$scenario/logs" --truth "$out/$scenario/truth/labels.csv"
    echo '```'
    echo
done <<'LIST'
mixed-day 5000 24
quiet-day 2000 24
token-churn 2000 12
site-outage-storm 20000 6
hub-fault 3000 12
upgrade 3000 12
duplicate-identity 3000 12
bad-credentials 3000 12
realistic-day 5000 24
LIST
