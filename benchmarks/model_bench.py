"""fastai's xresnet34 / DynamicUnet train-step throughput (images/s), the same loop as model-bench.
Usage: model_bench.py MODEL SIZE BATCH STEPS [channels-last]"""
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "scripts", "interop"))
import fastai_env  # noqa: F401
import torch
import torch.nn as nn
from fastai.vision.models.unet import DynamicUnet
from fastai.vision.models.xresnet import xresnet34

name, size, batch, steps = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
cl = len(sys.argv) > 5 and sys.argv[5] == "channels-last"
torch.set_num_threads(int(os.environ.get("BENCH_THREADS", "2")))
torch.manual_seed(0)
model = (DynamicUnet(nn.Sequential(*list(xresnet34().children())[:-4]), n_out=3, img_size=(size, size))
         if name == "unet" else xresnet34(n_out=20))
model.train()
x, y = torch.rand(batch, 3, size, size), torch.randint(0, 20, (batch,))
if cl:
    model = model.to(memory_format=torch.channels_last)
    x = x.contiguous(memory_format=torch.channels_last)


def step():
    model.zero_grad(set_to_none=True)
    out = model(x)
    loss = torch.nn.functional.mse_loss(out, x) if name == "unet" else torch.nn.functional.cross_entropy(out, y)
    loss.backward()


step()
start = time.perf_counter()
for _ in range(steps):
    step()
print(f"{steps * batch / (time.perf_counter() - start):.3f}")
