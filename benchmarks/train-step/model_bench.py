"""fastai's xresnet34 / DynamicUnet train step (forward, loss, backward, fastai's ranger step with wd 1e-2,
zero_grad as fastai's Optimizer does it), the same loop as model-bench; images/s from the fastest timed step.
Prints: images/s<TAB>peak RSS MB<TAB>optimizer ms per step.
Usage: model_bench.py MODEL SIZE BATCH STEPS [contiguous|channels-last] [bf16] [--lockstep]   (MODEL: xresnet34 | unet | simclr)
       (bf16: forward and loss under torch.autocast("cpu", dtype=torch.bfloat16), as fastai's and PyTorch's
       CPU mixed precision runs them)
       (simclr: lightly's SimCLR training step as its examples write it: backbone = fastai's xresnet34 body +
       average pool, lightly's SimCLRProjectionHead(512, 512, 128), NTXentLoss(0.5) on two views)
       (--lockstep: as model-bench's: "ready" after the warm-up, then a line on stdin before each timed step
       and its seconds printed after it)
       model_bench.py --flops MODEL SIZE   (GEMM FLOPs of one train step per image, PyTorch's FlopCounterMode)"""
import os
import resource
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "scripts", "interop"))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "Tests", "SelfSupervisedTests", "Fixtures"))
import torchvision_env  # noqa: F401  (PyPI's torchvision, where installed: scripts/pyenv.sh --lightly)
import torchvision_stub  # noqa: F401  (lightly imports torchvision; the stub stands in where it cannot load)
import torchvision.io, torchvision.models, torchvision.transforms.functional  # noqa: E401,F401  (the stub's, before fastai_env's)
import fastai_env  # noqa: F401
import torch
import torch.nn as nn
from fastai.optimizer import ranger
from fastai.vision.models.unet import DynamicUnet
from fastai.vision.models.xresnet import xresnet34

torch.set_num_threads(int(os.environ.get("BENCH_THREADS", "2")))


class SimCLR(nn.Module):
    """lightly's examples/pytorch/simclr.py model on fastai's xresnet34 body."""
    def __init__(self):
        super().__init__()
        from lightly.models.modules.heads import SimCLRProjectionHead
        self.backbone = nn.Sequential(*list(xresnet34().children())[:-4], nn.AdaptiveAvgPool2d(1), nn.Flatten())
        self.projection_head = SimCLRProjectionHead(512, 512, 128)

    def forward(self, x):
        return self.projection_head(self.backbone(x))


def make(name, size):
    torch.manual_seed(0)
    if name == "simclr":
        return SimCLR()
    if name == "unet":
        return DynamicUnet(nn.Sequential(*list(xresnet34(widen=float(os.environ.get("BENCH_WIDEN", "1"))).children())[:-4]),
                           n_out=3, img_size=(size, size))
    return xresnet34(n_out=20, widen=float(os.environ.get("BENCH_WIDEN", "1")))


def loss_of(name, out, x, y, model=None, x1=None):
    if name == "simclr":
        from lightly.loss import NTXentLoss
        return NTXentLoss(temperature=0.5)(out, model(x1))
    return nn.functional.mse_loss(out, x) if name == "unet" else nn.functional.cross_entropy(out, y)


if sys.argv[1] == "--flops":
    from torch.utils.flop_counter import FlopCounterMode
    name, size = sys.argv[2], int(sys.argv[3])
    model, batch = make(name, size).train(), 4
    x, y, x1 = torch.rand(batch, 3, size, size), torch.randint(0, 20, (batch,)), torch.rand(batch, 3, size, size)
    with FlopCounterMode(display=False) as counter:
        loss_of(name, model(x), x, y, model, x1).backward()
    print(counter.get_total_flops() / batch)
    sys.exit(0)

name, size, batch, steps = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
cl = len(sys.argv) > 5 and sys.argv[5] == "channels-last"
lockstep = "--lockstep" in sys.argv
bf16 = "bf16" in sys.argv[5:]
model = make(name, size).train()
x, y, x1 = torch.rand(batch, 3, size, size), torch.randint(0, 20, (batch,)), torch.rand(batch, 3, size, size)
if cl:
    model = model.to(memory_format=torch.channels_last)
    x, x1 = x.contiguous(memory_format=torch.channels_last), x1.contiguous(memory_format=torch.channels_last)
opt = ranger(model.parameters(), lr=1e-3, wd=1e-2)


opt_seconds = 0.0


def step():
    global opt_seconds
    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
        loss = loss_of(name, model(x), x, y, model, x1)
    loss.backward()
    t = time.perf_counter()
    opt.step()
    opt.zero_grad()
    opt_seconds += time.perf_counter() - t


step()
opt_seconds = 0.0
if lockstep:
    print("ready", flush=True)
times = []
for _ in range(steps):  # the fastest step: on a shared machine noise only ever slows a step down
    if lockstep and not sys.stdin.readline():
        sys.exit(3)
    start = time.perf_counter()
    step()
    times.append(time.perf_counter() - start)
    if lockstep:
        print(times[-1], flush=True)
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(f"{batch / min(times):.3f}\t{peak:.0f}\t{1000 * opt_seconds / steps:.1f}")
