#!/usr/bin/env python3
"""By-hand check: weights written by Pretext load into fastai's own models with strict=True.
Usage: $(scripts/pyenv.sh --fastai) scripts/interop/check_fastai_load.py .build/release/nn-export"""
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fastai_env  # noqa: F401  (before fastai)
import torch.nn as nn
from fastai.vision.models.unet import DynamicUnet
from fastai.vision.models.xresnet import xresnet34
from safetensors.torch import load_file

with tempfile.TemporaryDirectory() as d:
    subprocess.run([sys.argv[1], d], check=True)
    print("xresnet34(n_out=20):", xresnet34(n_out=20).load_state_dict(load_file(f"{d}/xresnet34_nout20.safetensors"), strict=True))
    unet = DynamicUnet(nn.Sequential(*list(xresnet34().children())[:-4]), n_out=3, img_size=(128, 128))
    print("DynamicUnet(xresnet34) 128 px:", unet.load_state_dict(load_file(f"{d}/unet_xresnet34_128.safetensors"), strict=True))
    body = nn.Sequential(*list(xresnet34(n_out=20).children())[:-4])
    print("U-Net encoder into xresnet34 body:", body.load_state_dict(load_file(f"{d}/unet_encoder.safetensors"), strict=True))
