#!/usr/bin/env bash
# Records what the study's inpainting experiment computes (per-epoch losses and accuracies, a checksum of
# every weight tensor) on a tiny synthetic dataset, one libtorch thread, so a redesign can be held to it:
# `InpaintingReproductionTests` runs the same experiment and compares. Made with the code of commit
# 795dbb0 + issue 12 (before the SSL redesign of issue 13).
#   usage: make_inpainting_fixture.sh PRETEXT_BINARY OUT.json
set -euo pipefail
tool="$1"; out="$2"
work="$(mktemp -d)"; trap 'rm -rf "$work"' EXIT
OMP_NUM_THREADS=1 "$tool" data synth "$work/data" --size 32 --train-per-class 2 --valid-per-class 1 --unsup 30 --seed 3 >/dev/null
OMP_NUM_THREADS=1 "$tool" experiment --data "$work/data" --out "$work/runs" --pretext-size 32 --size 32 --widen 0.125 \
  --batch 8 --pretext-batch 8 --epochs 3 --head-epochs 1 --pretext-epochs 2 --runs 1 --workers 1 >/dev/null
python3 - "$work"/runs/experiment-* "$out" <<'PY'
import json, struct, sys, zlib
run, out = sys.argv[1], sys.argv[2]
r = json.load(open(run + "/results.json"))
def weights(name):
    b = open(f"{run}/{name}", "rb").read()
    n = struct.unpack("<Q", b[:8])[0]
    h = json.loads(b[8:8 + n]); data = b[8 + n:]
    return {k: "%08x" % zlib.crc32(data[v["data_offsets"][0]:v["data_offsets"][1]]) for k, v in h.items() if k != "__metadata__"}
fixture = {
  "pretext": [[e["trainLoss"], e["validLoss"]] for e in r["pretextHistory"]],
  "scenarios": {s["scenario"]: [[e["trainLoss"], e["validLoss"], e["metrics"]["accuracy"]] for e in s["history"]] for s in r["scenarios"]},
  "weights": {f: weights(f) for f in ["encoder.safetensors", "unet.safetensors", "random-0.safetensors", "head-0.safetensors", "discriminative-0.safetensors"]},
}
json.dump(fixture, open(out, "w"), indent=1, sort_keys=True)
PY
