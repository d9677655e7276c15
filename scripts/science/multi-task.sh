#!/bin/bash
# Do several tasks at once help (the study's question 3; issue 18)? Extends pretext-seeds.sh's tuning-split
# folder (same settings: 64 px, 6 pretext epochs, protocol full, 3 runs, every run its own pretext seed) with
# colorization and rotation alone and with inpainting plus each of them, weights 1:1, so every row shares the
# folder's random-init and inpainting rows.
#   usage: multi-task.sh PRETEXT_BINARY DATA OUT_DIR (the folder pretext-seeds.sh made) [extra compare flags…]
set -euo pipefail
P="$1"; D="$2"; OUT="$3"; shift 3
set -x
"$P" compare --preset demo --data "$D" --run "$OUT" --tuning-split 0.25 --pretext-epochs 6 --protocols full \
  --runs 3 --pretext-runs 3 --tasks inpainting colorization rotation inpainting:1,colorization:1 inpainting:1,rotation:1 "$@"
