#!/bin/bash
# Fastai-gap search, round 1: the study's holes vs fastai's, demo preset, tuning split 0.25 of train/.
#   usage: fastai-gap-q1.sh PRETEXT_BINARY DATA OUT_DIR
set -euo pipefail
P="$1"; D="$2"; OUT="$3"
mkdir -p "$OUT"
"$P" experiment --preset demo --data "$D" --out "$OUT/runs" --tuning-split 0.25 > "$OUT/e1-default.log" 2>&1
"$P" experiment --preset demo --data "$D" --out "$OUT/runs" --tuning-split 0.25 --cutout-holes 1-4 --cutout-size 16-48 \
  > "$OUT/e2-fastai-holes.log" 2>&1
