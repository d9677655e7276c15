#!/usr/bin/env bash
# Each pretext task's training cost per image against the classifier's (random init) on the same images,
# size, width and batch: two epochs of each through `pretext` (loader, augmentations, step, optimizer), the
# second epoch's training pass (history[1].trainSeconds: warm, no validation) per batch, ROUNDS rounds
# interleaved, medians. Prints one line per run, then the table. Release build (`make release`).
#   usage: [TASKS="a b"] scripts/task-cost.sh DATA [SIZE WIDEN BATCH ROUNDS]   (NOTES.md: the task zoo's cost table)
# The demo preset's caps apply (at most 40 train/ images per class, 1,000 of unsup/).
set -euo pipefail
data="$1"; size="${2:-64}"; widen="${3:-0.25}"; batch="${4:-32}"; rounds="${5:-2}"
tool="$(cd "$(dirname "$0")/.." && pwd)/.build/release/pretext"
work="$(mktemp -d)"; trap 'rm -rf "$work"' EXIT
common=(--data "$data" --widen "$widen" --workers 2)
tasks=(${TASKS:-inpainting masked rotation simclr byol simsiam swav inpainting:1,rotation:0.5,simclr:1})
# Seconds per batch of the last epoch's training pass; the images come from the run's own counts.
per_batch() {
  python3 - "$1" "$batch" "$2" <<'PY'
import json, sys
r, batch, images = json.load(open(sys.argv[1])), int(sys.argv[2]), sys.argv[3]
n = r["trainingItems"] if images == "pretext" else int(images)
print(r["history"][-1]["trainSeconds"] / (n // batch))
PY
}
train_images=$(python3 -c 'import os,sys; print(sum(min(40, len(os.listdir(os.path.join(sys.argv[1], "train", c)))) for c in os.listdir(os.path.join(sys.argv[1], "train"))))' "$data")
for r in $(seq "$rounds"); do
  "$tool" evaluate --protocol random "${common[@]}" --out "$work/c$r" --size "$size" --batch "$batch" --epochs 2 --runs 1 >/dev/null
  echo "classifier $r $(per_batch "$(ls -d "$work/c$r"/*/eval/random/0)/result.json" "$train_images")" | tee -a "$work/lines"
  for task in "${tasks[@]}"; do
    folder=$(echo "$task" | sed 's/:/-/g; s/,/+/g')
    "$tool" pretrain --task "$task" "${common[@]}" --out "$work/$folder$r" --pretext-size "$size" --pretext-batch "$batch" --pretext-epochs 2 >/dev/null
    echo "$task $r $(per_batch "$(ls -d "$work/$folder$r"/*/pretext/"$folder")/result.json" pretext)" | tee -a "$work/lines"
  done
done
python3 - "$work/lines" <<'PY'
import statistics, sys
runs = {}
for line in open(sys.argv[1]):
    name, _, s = line.split()
    runs.setdefault(name, []).append(float(s))
base = statistics.median(runs["classifier"])
print("\n| task | s per batch (median; runs) | × classifier step |\n|---|---|---:|")
for name, s in runs.items():
    print(f"| `{name}` | {statistics.median(s):.3f} ({', '.join(f'{v:.3f}' for v in s)}) | {statistics.median(s) / base:.2f} |")
PY
