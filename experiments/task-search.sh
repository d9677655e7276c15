#!/bin/bash
# Which pretext task helps most at the demo's CPU budget: every task, 6 pretext epochs, protocol full
# (pretext init, everything at one lr), 3 seeds, on a tuning split 0.25 of train/ (val/ never read).
#   usage: task-search.sh PRETEXT_BINARY DATA OUT_DIR
set -euo pipefail
P="$1"; D="$2"; OUT="$3"
mkdir -p "$OUT"
"$P" compare --preset demo --data "$D" --out "$OUT" --tuning-split 0.25 --protocols full --runs 3 \
  --tasks inpainting rotation simclr jigsaw colorization masked byol simsiam swav
