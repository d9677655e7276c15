#!/bin/bash
# The tuning split's best row so far (inpainting, 6 epochs, 64 px, protocol full: the demo's settings) with
# every run its own pretext (--pretext-runs 3), so the row's spread includes the pretext seed's (issue 18):
# first on a tuning split 0.25 of train/, then (VAL=1) once on val/. Extra flags vary it, e.g. on the tuning
# split's folder: several tasks at once (the study's question 3; more --tasks extend the folder, sharing its
# random-init and inpainting rows) `--tasks colorization rotation inpainting:1,colorization:1 inpainting:1,rotation:1`;
# another downstream learning rate for both rows (a new folder) `--lr 3e-3`.
#   usage: pretext-seeds.sh PRETEXT_BINARY DATA OUT_DIR [extra compare flags…]
set -euo pipefail
P="$1"; D="$2"; OUT="$3"; shift 3
SPLIT=(--tuning-split 0.25); [ "${VAL:-0}" = 1 ] && SPLIT=()
mkdir -p "$(dirname "$OUT")"
set -x
"$P" compare --preset demo --data "$D" --run "$OUT" "${SPLIT[@]}" --tasks inpainting --pretext-epochs 6 \
  --protocols full --runs 3 --pretext-runs 3 "$@"
