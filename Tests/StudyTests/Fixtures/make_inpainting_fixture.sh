#!/usr/bin/env bash
# Records what the study's inpainting experiment computes (per-epoch losses and accuracies, a checksum of
# every weight tensor and its L2 norm, the CPU) on a tiny synthetic dataset, one libtorch thread, so a redesign
# can be held to it: `InpaintingReproductionTests` runs the same experiment and compares. Made with the code of
# commit 953198c (before the SSL redesign of issue 13), built in a worktree, on an "AMD EPYC" machine (the CI's
# kind). A first recording on another machine differed from it by ~1e-8 relative in the first epoch: the
# float kernels are chosen per CPU, so the test is exact only where the first epoch is.
#   usage: [THREADS=n] make_inpainting_fixture.sh PRETEXT_BINARY OUT.json   (THREADS: float noise on purpose, default 1)
# compare_inpainting_fixture.py A.json B.json prints how far two recordings are apart.
set -euo pipefail
tool="$1"; out="$2"; threads="${THREADS:-1}"
work="$(mktemp -d)"; trap 'rm -rf "$work"' EXIT
OMP_NUM_THREADS="$threads" "$tool" data synth "$work/data" --size 32 --train-per-class 2 --valid-per-class 1 --unsup 30 --seed 3 >/dev/null
OMP_NUM_THREADS="$threads" "$tool" experiment --data "$work/data" --out "$work/runs" --pretext-size 32 --size 32 --widen 0.125 \
  --batch 8 --pretext-batch 8 --epochs 3 --head-epochs 1 --pretext-epochs 2 --runs 1 --workers 1 >/dev/null
python3 - "$work"/runs/experiment-* "$out" <<'PY'
import json, math, struct, sys, zlib
run, out = sys.argv[1], sys.argv[2]
r = json.load(open(run + "/results.json"))
import os
# The run folder's layout before the redesign, and after it (a folder per stage).
NEW = {"encoder.safetensors": "pretext/inpainting/encoder.safetensors", "unet.safetensors": "pretext/inpainting/unet.safetensors",
       "random-0.safetensors": "eval/random/0/model.safetensors", "head-0.safetensors": "eval/head/0/model.safetensors",
       "discriminative-0.safetensors": "eval/discriminative/0/model.safetensors"}
def weights(name):
    path = f"{run}/{name}" if os.path.exists(f"{run}/{name}") else f"{run}/{NEW[name]}"
    b = open(path, "rb").read()
    n = struct.unpack("<Q", b[:8])[0]
    h = json.loads(b[8:8 + n]); data = b[8 + n:]
    return {k: "%08x" % zlib.crc32(data[v["data_offsets"][0]:v["data_offsets"][1]]) for k, v in h.items() if k != "__metadata__"}, \
           {k: norm(data[v["data_offsets"][0]:v["data_offsets"][1]], v["dtype"]) for k, v in h.items() if k != "__metadata__"}
def norm(raw, dtype):
    fmt = {"F32": "f", "I64": "q"}[dtype]
    values = struct.unpack("<%d%s" % (len(raw) // struct.calcsize(fmt), fmt), raw)
    return math.sqrt(sum(float(x) * float(x) for x in values))
FILES = ["encoder.safetensors", "unet.safetensors", "random-0.safetensors", "head-0.safetensors", "discriminative-0.safetensors"]
cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "unknown")
fixture = {
  "pretext": [[e["trainLoss"], e["validLoss"]] for e in r["pretextHistory"]],
  "scenarios": {s["scenario"]: [[e["trainLoss"], e["validLoss"], e["metrics"]["accuracy"]] for e in s["history"]] for s in r["scenarios"]},
  "weights": {f: weights(f)[0] for f in FILES},
  "norms": {f: weights(f)[1] for f in FILES},
  "cpu": cpu,
}
json.dump(fixture, open(out, "w"), indent=1, sort_keys=True)
PY
