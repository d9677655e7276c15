#!/usr/bin/env python3
"""How far two recordings of make_inpainting_fixture.sh are apart (e.g. the fixture against THREADS=2):
the largest relative loss difference, and per weight file the largest relative norm difference of conv and
linear weights (rank >= 2 by name: *.weight not of a BatchNorm), of BatchNorm tensors (relative and absolute),
the whole state's, and the worst BatchNorm tensor against the test's tolerance 1e-2 * norm + 0.002.
  usage: compare_inpainting_fixture.py A.json B.json"""
import json, sys
a, b = (json.load(open(p)) for p in sys.argv[1:3])
losses = [x for r in a["pretext"] for x in r], [x for r in b["pretext"] for x in r]
for s in ["random", "head"]:
    losses[0].extend(x for r in a["scenarios"][s] for x in r[:2]); losses[1].extend(x for r in b["scenarios"][s] for x in r[:2])
print("losses (pretext, random, head): max relative difference %.2e" % max(abs(x - y) / abs(x) for x, y in zip(*losses)))
for f in ["encoder.safetensors", "unet.safetensors", "random-0.safetensors", "head-0.safetensors"]:
    A, B = a["norms"][f], b["norms"][f]
    # BatchNorm tensors sit beside a running_mean of the same prefix; the rest named *.weight are convs/linears.
    bn = {k for k in A if k.rsplit(".", 1)[0] + ".running_mean" in A and not k.endswith("num_batches_tracked")}
    conv = [k for k in A if k.endswith(".weight") and k not in bn]
    state = lambda N: sum(v * v for k, v in N.items() if not k.endswith("num_batches_tracked")) ** 0.5
    rel = lambda k: abs(A[k] - B[k]) / max(abs(A[k]), 1e-12)
    print(f"{f}: conv/linear max rel %.2e | BatchNorm max rel %.2e, max abs %.2e, worst / tolerance %.2f | state rel %.2e" % (
        max(map(rel, conv)), max(map(rel, bn)), max(abs(A[k] - B[k]) for k in bn),
        max(abs(A[k] - B[k]) / (1e-2 * abs(A[k]) + 2e-3) for k in bn), abs(state(A) - state(B)) / state(A)))
