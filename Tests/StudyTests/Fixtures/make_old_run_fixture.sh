#!/usr/bin/env bash
# Made run-2026-12-07/: a run folder in the format of commit 4c7af13 (2026-12-07), for OldRunFolderTests: a tiny
# experiment (rotation) whose pretext and random-init stages are finished, whose head stage has only its last
# checkpoint and whose discriminative stage has not started. Run from the repository root with the debug build.
set -euo pipefail
work=$(mktemp -d)
pretext=.build/debug/pretext
"$pretext" data synth "$work/data" --size 32 --train-per-class 2 --valid-per-class 1 --unsup 20 --seed 11 >/dev/null
OMP_NUM_THREADS=1 "$pretext" experiment --data "$work/data" --out "$work/runs" --task rotation --pretext-size 32 --size 32 \
  --widen 0.03125 --batch 8 --pretext-batch 8 --epochs 2 --head-epochs 1 --pretext-epochs 3 --runs 1 --workers 1 \
  --precision fp32 --keep-checkpoints >/dev/null
run=$(ls -d "$work"/runs/*/)
out=Tests/StudyTests/Fixtures/run-2026-12-07
rm -rf "$out" && mkdir -p "$out/pretext/rotation" "$out/eval/random/0" "$out/eval/head/0"
cp "$run"/config.json "$run"/run.json "$out/"
cp "$run"/pretext/rotation/{result.json,encoder.safetensors,log.csv} "$out/pretext/rotation/"
cp "$run"/eval/random/0/{result.json,model.safetensors,log.csv} "$out/eval/random/0/"
cp "$run"/eval/head/0/checkpoint.safetensors "$out/eval/head/0/"
