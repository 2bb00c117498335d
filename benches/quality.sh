#!/usr/bin/env bash
# Classification quality on every shipped scenario, against the simulator's ground truth.
#
#   benches/quality.sh [SEED_BASE]     (default 1000; scenario i uses SEED_BASE + i)
#
# For each scenario: simulate (lossy export, as shipped) with --truth, then
# `dropscope evaluate logs --truth labels.csv`, which prints our figures beside the
# error-code-only baseline's, per class, with the confusion matrix. Needs a release build.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
bin="${DROPSCOPE:-$root/target/release/dropscope}"
[ -n "${DROPSCOPE:-}" ] || (cd "$root" && cargo build --release --quiet)
base="${1:-1000}"
out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT
i=0
# scenario devices hours
while read -r scenario devices hours; do
    i=$((i + 1))
    seed=$((base + i))
    "$bin" --quiet simulate --scenario "$scenario" --devices "$devices" --hours "$hours" \
        --seed "$seed" --truth -o "$out/$scenario"
    echo "### $scenario ($devices devices, $hours h, seed $seed)"
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
LIST
