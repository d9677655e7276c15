#!/usr/bin/env bash
# Data pipeline throughput, Pretext vs PIL, in one run: decode + RandomResizedCrop(128) + flip + cutout on
# one thread (ratio), and Pretext's loader on 2 workers (to set against the model's train step).
# Uses ../shared/data/imagewang-mini when present, else a synthetic ImageWang it writes to the cache.
set -euo pipefail
cd "$(dirname "$0")/../.."
py=$(scripts/pyenv.sh --fastai)  # brings Pillow
root=${DATA:-../shared/data/imagewang-mini}
passes=${PASSES:-2}
swift build -c release --product data-bench >/dev/null
if [ ! -d "$root/train" ]; then
  echo "no $root: using a synthetic ImageWang" >&2
  root="${PRETEXT_CACHE:-$HOME/.cache/pretext}/data/synthetic-imagewang-128"
  [ -d "$root" ] || .build/release/data-bench --synth "$root"
fi
# The two alternate ROUNDS times; each keeps its best (noise on a shared machine only slows).
single=0 loader=0 pil=0 stages=""
for r in $(seq "${ROUNDS:-3}"); do
  ours=$(.build/release/data-bench "$root" "$passes")
  theirs=$("$py" benchmarks/data/data_bench.py "$root" "$passes")
  s=$(echo "$ours" | awk -F'\t' '/single_thread/ {print $2}')
  l=$(echo "$ours" | awk -F'\t' '/loader_2_workers_cached/ {print $2}')
  p=$(echo "$theirs" | awk -F'\t' '{print $2}')
  if (( $(echo "$s > $single" | bc -l) )); then single=$s; stages=$(echo "$ours" | awk -F'\t' '/stages/ {print $2}'); fi
  (( $(echo "$l > $loader" | bc -l) )) && loader=$l
  (( $(echo "$p > $pil" | bc -l) )) && pil=$p
done
echo "data pipeline on $root ($passes passes, best of ${ROUNDS:-3} interleaved rounds), images/s"
printf "%-34s %10s\n" "Pretext, 1 thread" "$single" "PIL, 1 thread" "$pil" "Pretext loader, 2 workers" "$loader"
printf "%-34s %10.2f\n" "ratio Pretext/PIL, 1 thread" "$(echo "$single / $pil" | bc -l)"
echo "Pretext per image (µs): $stages"
echo "$ours" | awk -F'\t' '/memory/ {print "Pretext loader memory: " $2}'
echo "xresnet34 at 128 px fed by the loader (2 workers): $(.build/release/data-bench --feed "$root" 6 | cut -f2)"
