#!/usr/bin/env bash
# Each pretext task's training cost per image against the classifier's (random init) on the same images,
# size and width: one epoch of each through `pretext` (loader, augmentations, step, optimizer; the training
# pass alone, from each result's history[0].trainSeconds), ROUNDS times, medians. Release build.
#   usage: [TASKS="a b"] scripts/task-cost.sh DATA [SIZE WIDEN BATCH ROUNDS]   (NOTES.md: the task zoo's cost table)
set -euo pipefail
data="$1"; size="${2:-64}"; widen="${3:-0.25}"; batch="${4:-32}"; rounds="${5:-3}"
tool="$(dirname "$0")/../.build/release/pretext"
work="$(mktemp -d)"; trap 'rm -rf "$work"' EXIT
common=(--data "$data" --widen "$widen" --workers 2)
seconds() { python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); print(r["history"][0]["trainSeconds"])' "$1"; }
for r in $(seq "$rounds"); do
  "$tool" evaluate --protocol random "${common[@]}" --out "$work/c$r" --size "$size" --batch "$batch" --epochs 1 --runs 1 >/dev/null
  echo "classifier $r $(seconds "$(ls -d "$work/c$r"/*/eval/random/0)/result.json")"
  for task in ${TASKS:-inpainting masked rotation simclr byol simsiam swav inpainting:1,rotation:0.5,simclr:1}; do
    folder=$(echo "$task" | sed 's/:/-/g; s/,/+/g')
    "$tool" pretrain --task "$task" "${common[@]}" --out "$work/$folder$r" --pretext-size "$size" --pretext-batch "$batch" --pretext-epochs 1 >/dev/null
    echo "$task $r $(seconds "$(ls -d "$work/$folder$r"/*/pretext/"$folder")/result.json")"
  done
done
