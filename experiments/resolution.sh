#!/bin/bash
# Does a larger image size let the pretext's gain show (issue 18)? The demo preset at --size/--pretext-size SIZE
# (imagewang-mini's photos are 128 px; the demo uses 64), inpainting and colorization 6 epochs, protocol full,
# 3 seeds, on a tuning split 0.25 of train/ (val/ never read) unless VAL=1.
#   usage: resolution.sh PRETEXT_BINARY DATA OUT_DIR SIZE [extra compare flags…]
set -euo pipefail
P="$1"; D="$2"; OUT="$3"; SIZE="$4"; shift 4
SPLIT=(--tuning-split 0.25); [ "${VAL:-0}" = 1 ] && SPLIT=()
mkdir -p "$(dirname "$OUT")"
set -x
"$P" compare --preset demo --data "$D" --run "$OUT" "${SPLIT[@]}" --size "$SIZE" --pretext-size "$SIZE" \
  --protocols full --runs 3 --tasks inpainting colorization "$@"
