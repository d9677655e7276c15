#!/bin/bash
# Fastai-gap search, round 2 (after q1): one fastai difference at a time, then all of them; demo preset,
# tuning split 0.25 of train/ (val/ unread), inpainting, protocols head/discriminative/full, 3 runs.
#   usage: fastai-gap-q2.sh PRETEXT_BINARY DATA OUT_DIR
set -euo pipefail
P="$1"; D="$2"; OUT="$3"
mkdir -p "$OUT"
C=(compare --preset demo --data "$D" --tuning-split 0.25 --tasks inpainting --protocols head discriminative full --runs 3)
run() { local name="$1"; shift; "$P" "${C[@]}" --run "$OUT/$name" "$@" > "$OUT/$name.log" 2>&1; }
run g0-default
run g3-fastai-head --head fastai
run g4-fastai-downstream-recipe --downstream-recipe fastai
run g2-fastai-holes-mixed --cutout-holes 1-4 --cutout-size 16-48 --cutout-fill mixed
run g5-fastai-pretext-recipe --pretext-recipe fastai
run g6-all-fastai --cutout-holes 1-4 --cutout-size 16-48 --cutout-fill mixed --head fastai --downstream-recipe fastai --pretext-recipe fastai
