"""The PyTorch peer of dist-bench: fastai's xresnet34 (20 classes, channels-last) on random images, SGD with
momentum, cross-entropy, wrapped in DistributedDataParallel over Gloo when the launcher's environment names a
group (RANK/WORLD_SIZE/MASTER_ADDR/MASTER_PORT), else one process. BATCH is the global batch: each rank takes
BATCH / WORLD_SIZE. Prints (rank 0): global images/s from the median timed step<TAB>fastest step's images/s<TAB>-.
Usage: dist_bench.py SIZE BATCH STEPS   (BENCH_WIDEN=w: xresnet34 × w; 3 warm-up steps; threads from
OMP_NUM_THREADS, default 1)"""
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "scripts", "interop"))
import fastai_env  # noqa: F401  (fastai without torchvision)
import torch
import torch.distributed as dist
import torch.nn as nn
from fastai.vision.models.xresnet import xresnet34


def main():
    size, batch, steps = (int(v) for v in sys.argv[1:4])
    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "1")))
    world, rank = int(os.environ.get("WORLD_SIZE", "1")), int(os.environ.get("RANK", "0"))
    if world > 1:
        dist.init_process_group("gloo")
    assert batch % world == 0, f"batch {batch} does not divide across {world} ranks"
    torch.manual_seed(0)
    model = xresnet34(n_out=20, widen=float(os.environ.get("BENCH_WIDEN", "1"))).to(memory_format=torch.channels_last)
    if world > 1:
        model = nn.parallel.DistributedDataParallel(model)
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    warmup, per = 3, batch // world
    x = torch.rand(batch * (steps + warmup), 3, size, size).contiguous(memory_format=torch.channels_last)
    y = torch.randint(0, 20, (batch * (steps + warmup),))
    seconds = []
    model.train()
    for i in range(steps + warmup):
        lo = i * batch + rank * per
        xb, yb = x[lo:lo + per], y[lo:lo + per]
        start = time.perf_counter()
        loss = nn.functional.cross_entropy(model(xb), yb)
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
        loss.item()
        seconds.append(time.perf_counter() - start)
    timed = sorted(seconds[warmup:])
    if rank == 0:
        print(f"{batch / timed[len(timed) // 2]:.3f}\t{batch / timed[0]:.3f}\t-")
    if world > 1:
        dist.destroy_process_group()


if __name__ == "__main__":
    main()
