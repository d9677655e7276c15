#!/bin/bash
# Each task 6 pretext epochs at the demo preset (64 px, xresnet34 x 0.25, batch 32), then kNN (k 20, T 0.07) of its encoder; random weights first.
set -e
P="$(cd "$(dirname "$0")/.." && pwd)/.build/release/pretext"; D="${1:?usage: scripts/knn-zoo.sh DATA}"; O="$(mktemp -d)"; trap 'rm -rf "$O"' EXIT
$P knn --encoder random --data $D --size 64 --widen 0.25 --batch 32 2>&1 | tail -1
for t in rotation jigsaw simclr simsiam byol swav inpainting masked colorization; do
  $P pretrain --task $t --data $D --out $O/$t --pretext-size 64 --widen 0.25 --pretext-batch 32 --pretext-epochs 6 --workers 2 > $O/$t.log 2>&1
  enc=$(ls $O/$t/*/pretext/$t/encoder.safetensors)
  echo "$t: $($P knn --encoder $enc --data $D --size 64 --widen 0.25 --batch 32 2>&1 | tail -1)"
done
