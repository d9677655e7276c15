#!/bin/bash
# Issue 17's speed rows on whatever host this is (a quiet machine; release build in .build/release): the CPU,
# the GEMM rates in both precisions (Pretext and PyTorch), the 128-px train step in lockstep with fastai in both
# precisions, the demo's downstream and pretext epochs in fp32 and auto.
#   usage: bf16-host.sh DATA   (prints everything; ~12 minutes on 2 cores)
set -euo pipefail
D="$1"; cd "$(dirname "$0")/../.."
PY=$(scripts/pyenv.sh --fastai)
B=.build/release
grep -m1 'model name' /proc/cpuinfo; grep -m1 -E '^cpu family' /proc/cpuinfo; grep -m1 -E '^model\s' /proc/cpuinfo
grep -m1 flags /proc/cpuinfo | tr ' ' '\n' | grep -E 'bf16|amx' | tr '\n' ' '; echo
set -x
$B/model-bench --gemm 2048 5; $B/model-bench --gemm 2048 5 bf16
"$PY" -c 'import torch,time
torch.set_num_threads(2)
for dt in (torch.float32, torch.bfloat16):
    a=torch.randn(2048,2048,dtype=dt); b=torch.randn(2048,2048,dtype=dt)
    for _ in range(2): a@b
    best=1e9
    for _ in range(5):
        t=time.perf_counter(); a@b; best=min(best,time.perf_counter()-t)
    print(dt, round(2*2048**3/best/1e9,1), "GFLOP/s")'
"$PY" benchmarks/lockstep_row.py xresnet34 128 32 6 channels-last
"$PY" benchmarks/lockstep_row.py xresnet34 128 32 6 channels-last bf16
for r in 1 2; do for p in fp32 auto; do $B/epoch-bench downstream "$D" 64 0.25 32 $p; done; done
for p in fp32 auto; do $B/epoch-bench pretext "$D" 64 0.25 32 $p; done
