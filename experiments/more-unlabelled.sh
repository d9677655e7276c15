#!/bin/bash
# Does more unlabelled data buy more (issue 18)? One task (default colorization, 6 pretext epochs at the demo's
# settings, protocol full) with every run its own pretext (--pretext-runs 3), first on imagewang-mini's own
# unsup/ (all 1,200: --max-unsup all), then on a folder whose unsup/ adds imagewang-unsup-extra's 2,940
# (symlinks; train/ and val/ are imagewang-mini's). Tuning split 0.25 of train/; val/ is not read. Several tasks:
# name them all (a rerun on the same OUT_DIR reuses the stages it has; the leaderboard lists the tasks named).
# Environment: EPOCHS (--pretext-epochs, default 6), WHICH ("mini both" by default; "both" runs only the folder with
# the extra photos), FLAGS (more compare flags, e.g. "--pretext-recipe paper --pretext-batch 128"), VAL=1 (no tuning
# split: train on all of train/ and validate on val/, into OUT_DIR/<name>-val; only once a setting is chosen).
#   usage: more-unlabelled.sh PRETEXT_BINARY MINI EXTRA OUT_DIR [TASK…]
set -euo pipefail
EPOCHS="${EPOCHS:-6}"; WHICH="${WHICH:-mini both}"; read -r -a MORE <<< "${FLAGS:-}"
SPLIT=(--tuning-split 0.25); SUFFIX=""; [ "${VAL:-0}" = 1 ] && SPLIT=() && SUFFIX="-val"

P="$1"; MINI="$(realpath "$2")"; EXTRA="$(realpath "$3")"; OUT="$4"; shift 4
TASKS=("$@"); [ ${#TASKS[@]} -gt 0 ] || TASKS=(colorization)
mkdir -p "$OUT"
# The data folder is not the run folder: a run folder inside its dataset is refused (before 2026-12-07 the two
# were one folder here, which the ImageWang layout tolerated: it reads train/, val/ and unsup/ only).
BOTH="$OUT/data-mini-plus-extra"
if [ ! -d "$BOTH" ]; then
  mkdir -p "$BOTH/unsup"
  ln -s "$MINI/train" "$BOTH/train"; ln -s "$MINI/val" "$BOTH/val"
  for f in "$MINI"/unsup/* "$EXTRA"/*; do ln -s "$f" "$BOTH/unsup/$(basename "$f")"; done
fi
set -x
for which in $WHICH; do
  D=$([ "$which" = mini ] && echo "$MINI" || echo "$BOTH")
  name=$([ "$which" = mini ] && echo mini || echo mini-plus-extra)
  "$P" compare --preset demo --data "$D" --run "$OUT/$name$SUFFIX" --max-unsup all ${SPLIT[@]+"${SPLIT[@]}"} --tasks "${TASKS[@]}" \
    --pretext-epochs "$EPOCHS" --protocols full --runs 3 --pretext-runs 3 ${MORE[@]+"${MORE[@]}"}
done
