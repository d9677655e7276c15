#!/usr/bin/env python3
"""Expected optimizer trajectories and schedule values, made with torch.optim (torch 2.13) and fastai 2.8.12.

Fixed problem: params W (3x4) and b (4), loss = mean((x W + b - y)^2) + 0.05 * sum(W^4), x (8x3), y (8x4)
fixed; 20 steps of each optimizer; stored: the start values, data, and the params after every step.
Run from the repo root: $(scripts/pyenv.sh --fastai) Tests/TrainingTests/Fixtures/make_fixtures.py
"""
import json
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", "scripts", "interop"))
import fastai_env  # noqa: F401
import torch
from fastai.optimizer import ranger
from fastai.callback.schedule import combined_cos
from safetensors.torch import save_file

here = os.path.dirname(os.path.abspath(__file__))
g = torch.Generator().manual_seed(0)
W0, b0 = torch.randn(3, 4, generator=g, dtype=torch.float64), torch.randn(4, generator=g, dtype=torch.float64)
x, y = torch.randn(8, 3, generator=g, dtype=torch.float64), torch.randn(8, 4, generator=g, dtype=torch.float64)
out = {"W0": W0, "b0": b0, "x": x, "y": y}


def loss_fn(W, b):
    return ((x @ W + b - y) ** 2).mean() + 0.05 * (W ** 4).sum()


cases = {
    "sgd": lambda p: torch.optim.SGD(p, lr=0.05, momentum=0.9, weight_decay=0.01),
    "sgd_nesterov": lambda p: torch.optim.SGD(p, lr=0.05, momentum=0.9, nesterov=True, weight_decay=0.01),
    "adam": lambda p: torch.optim.Adam(p, lr=0.05, betas=(0.9, 0.99), eps=1e-8, weight_decay=0.01),
    "adamw": lambda p: torch.optim.AdamW(p, lr=0.05, betas=(0.9, 0.99), eps=1e-8, weight_decay=0.1),
    "radam": lambda p: torch.optim.RAdam(p, lr=0.05, betas=(0.9, 0.99), eps=1e-8, weight_decay=0.01),
    "radam_decoupled": lambda p: torch.optim.RAdam(p, lr=0.05, betas=(0.9, 0.99), eps=1e-8, weight_decay=0.1,
                                                   decoupled_weight_decay=True),
}
for name, make in cases.items():
    W, b = W0.clone().requires_grad_(), b0.clone().requires_grad_()
    opt = make([W, b])
    for step in range(20):
        opt.zero_grad()
        loss_fn(W, b).backward()
        opt.step()
        out[f"{name}.{step}.W"], out[f"{name}.{step}.b"] = W.detach().clone(), b.detach().clone()

# fastai's ranger (Lookahead(RAdam)), its defaults: mom 0.95, sqr_mom 0.99, eps 1e-6, wd 0.01, k 6, alpha 0.5.
W, b = W0.clone().requires_grad_(), b0.clone().requires_grad_()
opt = ranger([W, b], lr=0.05)
for step in range(20):
    opt.zero_grad()
    loss_fn(W, b).backward()
    opt.step()
    out[f"ranger.{step}.W"], out[f"ranger.{step}.b"] = W.detach().clone(), b.detach().clone()

save_file({k: v.contiguous() for k, v in out.items()}, os.path.join(here, "optimizers.safetensors"),
          metadata={"made_by": f"torch {torch.__version__}, fastai 2.8.12"})

# Schedules: fastai's combined_cos as fit_one_cycle and fit_flat_cos build them (lr 1.0, 100 batches).
points = [0, 0.1, 0.2, 0.24, 0.25, 0.26, 0.5, 0.74, 0.75, 0.76, 0.9, 0.99, 1.0]
one_lr = combined_cos(0.25, 1 / 25, 1.0, 1 / 1e5)
one_mom = combined_cos(0.25, 0.95, 0.85, 0.95)
flat = combined_cos(0.75, 1.0, 1.0, 1 / 1e5)
with open(os.path.join(here, "schedules.json"), "w") as f:
    json.dump({"points": points, "one_cycle_lr": [float(one_lr(p)) for p in points],
               "one_cycle_mom": [float(one_mom(p)) for p in points], "flat_cos": [float(flat(p)) for p in points]},
              f, indent=1)
print("written")
