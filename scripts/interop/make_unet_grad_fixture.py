#!/usr/bin/env python3
"""Computes, with fastai 2.8.12 in float64, the U-Net parity gradient of the first encoder conv from the
shared fixture's weights and inputs, and stores it as a test fixture.

Why float64: this gradient is badly conditioned in float32. On one CPU (AVX512, 2026-12-01) fastai's own
float32 gradient was 5 % away from the float64 one; on another (AMD EPYC, 2026-12-03) fastai's float32
gradient equals the shared fixture's and is 2e-5 from float64. Which float32 value a machine gets depends
on the vector path libtorch/oneDNN picks, so the test runs Pretext's U-Net in float64 and compares with
this float64 gradient (loss, eval output and last-conv gradient stay float32 checks: they agree to 1e-7).
Run from the repo root with the Python peer:
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


def first_conv_gradient(dtype):
    enc = nn.Sequential(*list(XResNet(ResBlock, 1, [3, 4, 6, 3], widen=0.25).children())[:-4])
    m = DynamicUnet(enc, n_out=3, img_size=(64, 64))
    m.load_state_dict({k[6:]: v for k, v in d.items() if k.startswith("model.")}, strict=True)
    m = m.to(dtype).train()
    loss = torch.nn.functional.mse_loss(m(d["input"].to(dtype)), d["target"].to(dtype))
    loss.backward()
    return m.layers[0][0][0].weight.grad


g64 = first_conv_gradient(torch.float64)
g32 = first_conv_gradient(torch.float32).double()
rel = lambda a, b: ((a - b).norm() / b.norm()).item()
print("this machine's float32 gradient vs float64: relative error", rel(g32, g64))
print("the shared fixture's float32 gradient vs float64: relative error", rel(d["grad.first_conv.weight"].double(), g64))
save_file({"grad.first_conv.weight": g64.contiguous()}, f"{fixtures}/unet_first_conv_grad_fastai.safetensors",
          metadata={"made_by": "fastai 2.8.12 in float64, torch " + torch.__version__})
