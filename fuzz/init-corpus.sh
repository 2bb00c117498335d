#!/bin/sh
# Seeds every fuzz target's corpus from the committed inputs under data/:
# the golden fixtures, data/fuzz-seeds/ and the minimized regressions.
# Usage: fuzz/init-corpus.sh   (from anywhere)
set -eu
here=$(cd "$(dirname "$0")" && pwd)
data="$here/../data"
for target in detect_no_panic ingest_no_panic read_jsonl_no_panic read_jsonl_fast_agrees read_document_no_panic read_csv_no_panic read_routed_no_panic read_avro_no_panic read_parquet_no_panic; do
    corpus="$here/corpus/$target"
    mkdir -p "$corpus"
    for file in "$data"/golden/fixtures/* "$data"/fuzz-seeds/* "$data"/fuzz-regressions/"$target"/*; do
        [ -f "$file" ] || continue
        cp "$file" "$corpus/$(basename "$file")"
    done
done
echo "seeded $here/corpus/"
