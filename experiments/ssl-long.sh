#!/bin/bash
# Do the joint-embedding tasks catch up when given the pretext budget the issue allows (~30 min on 2 cores)
# instead of the 6 epochs every task got in task-search.sh (issue 18)? SimCLR and BYOL at the demo's 64 px and
# batch 32, one 100-epoch flat-cos schedule each, encoders kept after 25, 50 and 100 epochs, protocol full, 3 runs,
# kNN monitor every 25 epochs, on a tuning split 0.25 of train/ (val/ never read) unless VAL=1.
#   usage: ssl-long.sh PRETEXT_BINARY DATA OUT_DIR [extra compare flags…]
set -euo pipefail
P="$1"; D="$2"; OUT="$3"; shift 3
SPLIT=(--tuning-split 0.25); [ "${VAL:-0}" = 1 ] && SPLIT=()
mkdir -p "$(dirname "$OUT")"
set -x
"$P" compare --preset demo --data "$D" --run "$OUT" "${SPLIT[@]}" --tasks simclr byol --pretext-epochs 25,50,100 \
  --protocols full --runs 3 --knn-every 25 "$@"
