#!/usr/bin/env python3
"""Safetensors interop with PyTorch, both ways (a by-hand check; needs torch and safetensors).

PyTorch writes a file with every dtype; Pretext reads it and writes it back with tensors of its own
(st-roundtrip); PyTorch's safetensors.torch.load_file reads that and every value must be identical.
Usage: python3 scripts/interop/check_safetensors.py .build/release/st-roundtrip
"""
import os
import subprocess
import sys
import tempfile

import torch
from safetensors.torch import load_file, save_file

tool = sys.argv[1]
ramp = torch.arange(-4, 4, dtype=torch.float32) * 0.5
source = {
    f"torch.{name}": (ramp > 0 if dt == torch.bool else ramp.to(dt)).reshape(2, 4)
    for name, dt in [("float32", torch.float32), ("float64", torch.float64), ("float16", torch.float16),
                     ("bfloat16", torch.bfloat16), ("int64", torch.int64), ("int32", torch.int32),
                     ("int16", torch.int16), ("int8", torch.int8), ("uint8", torch.uint8), ("bool", torch.bool)]
}
source["torch.randn"] = torch.randn(3, 5, 7)
with tempfile.TemporaryDirectory() as d:
    a, b = os.path.join(d, "a.safetensors"), os.path.join(d, "b.safetensors")
    save_file(source, a, metadata={"from": "torch"})
    subprocess.run([tool, a, b], check=True)
    back = load_file(b)
    bad = [k for k, v in source.items() if not (back[k].dtype == v.dtype and torch.equal(back[k], v))]
    for name, dt in [("float32", torch.float32), ("float64", torch.float64), ("float16", torch.float16),
                     ("bfloat16", torch.bfloat16), ("int64", torch.int64), ("int32", torch.int32),
                     ("int16", torch.int16), ("int8", torch.int8), ("uint8", torch.uint8)]:
        k = f"swift.ramp.{name}"
        if not (back[k].dtype == dt and torch.equal(back[k], ramp.to(dt))):
            bad.append(k)
    if not torch.equal(back["swift.ramp.bool"], ramp > 0):
        bad.append("swift.ramp.bool")
    print(f"torch -> pretext -> torch: {len(source)} tensors; pretext -> torch: {len(back) - len(source)} tensors")
    if bad:
        print("MISMATCH:", bad)
        sys.exit(1)
    print("all identical")
