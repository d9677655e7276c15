#!/usr/bin/env bash
# Train-step throughput of xresnet34 and the U-Net, Pretext vs fastai on PyTorch Python (same torch,
# same thread count), side by side in one run. CASES: "model:size" pairs; STEPS timed steps each;
# the two sides alternate ROUNDS times and each keeps its best (noise on a shared machine only slows).
set -euo pipefail
cd "$(dirname "$0")/../.."
py=$(scripts/pyenv.sh --fastai)
export BENCH_THREADS=${BENCH_THREADS:-2}
batch=${BATCH:-32}
steps=${STEPS:-3}
rounds=${ROUNDS:-3}
swift build -c release --product model-bench >/dev/null
printf "%-16s %-14s %10s %10s %8s\n" model layout pretext fastai ratio
for case in ${CASES:-xresnet34:64 xresnet34:128 unet:64 unet:128}; do
  model=${case%%:*} size=${case##*:}
  for layout in contiguous channels-last; do
    ours=0 theirs=0
    for r in $(seq "$rounds"); do
      o=$(.build/release/model-bench "$model" "$size" "$batch" "$steps" "$layout" | cut -f1)
      t=$("$py" benchmarks/train-step/model_bench.py "$model" "$size" "$batch" "$steps" "$layout" 2>/dev/null | cut -f1)
      ours=$(echo "if ($o > $ours) $o else $ours" | bc -l)
      theirs=$(echo "if ($t > $theirs) $t else $theirs" | bc -l)
    done
    printf "%-16s %-14s %10.2f %10.2f %8.2f\n" "$model@$size" "$layout" "$ours" "$theirs" "$(echo "$ours / $theirs" | bc -l)"
  done
done
echo "(images/s, forward+backward+Ranger step, batch $batch, best of $rounds rounds of $steps timed steps after one warm-up, $BENCH_THREADS threads)"
