#!/bin/bash
# Do the unlabelled images pay off when they are used while the classifier trains (issue 37)? `pretext compare
# --tasks none --protocols PROTOCOLS`: random init (supervised only) against the semi-supervised protocols from random
# init (joint: an auxiliary pretext task on unsup/'s images beside the classifier; selftrain: run r's random-init
# classifier labels unsup/, a student trains on both), the same labelled images and optimizer steps, RUNS seeds each
# (seed + 1000 · run) on one tuning split of train/ (0.2, held-out dogs ~240 on full ImageWang); val/ is not read.
# The imagewang preset, cut by the flags below to a 2-core CPU budget. A rerun on the same OUT_DIR with more
# protocols or runs trains only what it lacks.
# Environment: PROTOCOLS (default "selftrain joint"), EPOCHS (10), SIZE (64), WIDEN (0.5), RUNS (3), FLAGS (more compare flags, e.g.
# "--aux rotation:0.5 --unlabelled-batch 128"), VAL=1 (no tuning split: all of train/, validated on val/, into
# OUT_DIR-val; only once a setting is chosen).
#   usage: semi-supervised.sh PRETEXT_BINARY DATA OUT_DIR
set -euo pipefail
read -r -a PROTOCOLS <<< "${PROTOCOLS:-selftrain joint}"; EPOCHS="${EPOCHS:-10}"; SIZE="${SIZE:-64}"; WIDEN="${WIDEN:-0.5}"; RUNS="${RUNS:-3}"; read -r -a MORE <<< "${FLAGS:-}"
SPLIT=(--tuning-split 0.2); OUT="$3"; [ "${VAL:-0}" = 1 ] && SPLIT=() && OUT="$3-val"
set -x
"$1" compare --preset imagewang --data "$2" --run "$OUT" ${SPLIT[@]+"${SPLIT[@]}"} --tasks none --protocols "${PROTOCOLS[@]}" --runs "$RUNS" \
  --epochs "$EPOCHS" --size "$SIZE" --batch 64 --widen "$WIDEN" --workers 2 ${MORE[@]+"${MORE[@]}"}
