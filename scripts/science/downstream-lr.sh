#!/bin/bash
# Does a pretext-initialised network want another downstream learning rate than random init (issue 18)? The
# pretext-seeds.sh row (inpainting 6 epochs, 64 px, protocol full, 3 runs, 3 pretext seeds) and its random-init
# row at downstream --lr LR (the study's 8e-3 in pretext-seeds.sh), on a tuning split 0.25 of train/.
#   usage: downstream-lr.sh PRETEXT_BINARY DATA OUT_DIR LR [extra compare flags…]
set -euo pipefail
P="$1"; D="$2"; OUT="$3"; LR="$4"; shift 4
mkdir -p "$(dirname "$OUT")"
set -x
"$P" compare --preset demo --data "$D" --run "$OUT" --tuning-split 0.25 --tasks inpainting --pretext-epochs 6 \
  --protocols full --runs 3 --pretext-runs 3 --lr "$LR" "$@"
