#!/usr/bin/env python3
"""Recomputes, with fastai 2.8.12 itself, the U-Net parity gradient of the first encoder conv from the
shared fixture's weights and inputs, and stores it as a test fixture.

Why: the shared fixture's grad.first_conv.weight differs by 5 % from what fastai computes from that
fixture's own weights, input and target (its loss, eval output and last-conv gradient agree to 1e-7);
Pretext's gradient agrees with fastai's recomputation. Run from the repo root with the Python peer:
  $(scripts/pyenv.sh --fastai) scripts/interop/make_unet_grad_fixture.py
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fastai_env  # noqa: F401  (before fastai)
import torch
import torch.nn as nn
from fastai.vision.models.unet import DynamicUnet
from fastai.vision.models.xresnet import ResBlock, XResNet
from safetensors.torch import load_file, save_file

fixtures = "Tests/NNTests/Fixtures"
d = load_file(f"{fixtures}/parity_unet_xresnet34_w025.safetensors")
enc = nn.Sequential(*list(XResNet(ResBlock, 1, [3, 4, 6, 3], widen=0.25).children())[:-4])
m = DynamicUnet(enc, n_out=3, img_size=(64, 64))
m.load_state_dict({k[6:]: v for k, v in d.items() if k.startswith("model.")}, strict=True)
m.train()
loss = torch.nn.functional.mse_loss(m(d["input"]), d["target"])
loss.backward()
g = m.layers[0][0][0].weight.grad
ref = d["grad.first_conv.weight"]
print("loss", loss.item(), "fixture", d["loss_train"].item())
print("fastai's first-conv gradient vs the shared fixture's: relative error", ((g - ref).norm() / ref.norm()).item())
save_file({"grad.first_conv.weight": g.contiguous()}, f"{fixtures}/unet_first_conv_grad_fastai.safetensors",
          metadata={"made_by": "fastai 2.8.12, torch " + torch.__version__})
