#!/usr/bin/env python3
"""Parity fixtures for the options the shared fixtures do not cover, made with fastai 2.8.12 itself:
xresnet with self-attention (sa=True, SimpleSelfAttention with spectral norm) and DynamicUnet with
self_attention=True, blur=True, y_range=(0, 1). For each: the key list at full width (tsv: key, shape,
dtype), and a narrow model's state dict saved *before* any pass, then: eval output, then one train-mode
pass (loss and gradients). Run from the repo root: $(scripts/pyenv.sh --fastai) scripts/interop/make_attention_fixtures.py
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fastai_env  # noqa: F401  (before fastai)
import torch
import torch.nn as nn
import torch.nn.functional as F
from fastai.vision.models.unet import DynamicUnet
from fastai.vision.models.xresnet import ResBlock, XResNet
from safetensors.torch import save_file

out = "Tests/NNTests/Fixtures"


def keys(model, name):
    with open(f"{out}/{name}.keys.tsv", "w") as f:
        for k, v in model.state_dict().items():
            f.write(f"{k}\t{'x'.join(map(str, v.shape))}\t{str(v.dtype).replace('torch.', '')}\n")


def perturb(model, seed):
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for n, p in model.named_parameters():
            p.add_(torch.randn(p.shape, generator=g) * 0.05 + (0.1 if n.endswith("gamma") else 0))
        for n, b in model.named_buffers():
            if n.endswith("running_var"):
                b.copy_(torch.rand(b.shape, generator=g) + 0.5)
            elif n.endswith("running_mean"):
                b.copy_(torch.randn(b.shape, generator=g) * 0.1)


def parity(model, name, x, loss_fn, grads):
    state = {f"model.{k}": v.clone().contiguous() for k, v in model.state_dict().items()}
    model.eval()
    with torch.no_grad():
        eval_out = model(x)
    model.train()
    loss = loss_fn(model(x))
    loss.backward()
    named = dict(model.named_parameters())
    tensors = dict(state, input=x, output_eval=eval_out, loss_train=loss.detach().reshape(1))
    for g in grads:
        tensors[f"grad.{g}"] = named[g].grad.contiguous()
    save_file(tensors, f"{out}/{name}.safetensors", metadata={"made_by": f"fastai 2.8.12, torch {torch.__version__}"})
    return tensors


torch.manual_seed(0)
keys(XResNet(ResBlock, 1, [3, 4, 6, 3], n_out=20, sa=True), "xresnet34_sa_nout20")
m = XResNet(ResBlock, 1, [3, 4, 6, 3], n_out=20, widen=0.25, sa=True)
perturb(m, 1)
x = torch.rand(2, 3, 48, 40, generator=torch.Generator().manual_seed(2))
labels = torch.tensor([3, 17])
t = parity(m, "parity_xresnet34_sa_w025", x, lambda o: F.cross_entropy(o, labels),
           ["0.0.weight", "4.2.convpath.2.gamma", "4.2.convpath.2.conv.weight_orig", "11.weight"])
save_file(dict(t, labels=labels), f"{out}/parity_xresnet34_sa_w025.safetensors")


def unet(widen, size):
    body = nn.Sequential(*list(XResNet(ResBlock, 1, [3, 4, 6, 3], widen=widen).children())[:-4])
    return DynamicUnet(body, n_out=3, img_size=(size, size), blur=True, self_attention=True, y_range=(0, 1))


keys(unet(1.0, 128), "unet_xresnet34_sa_blur_128")
u = unet(0.25, 64)
perturb(u, 3)
x = torch.rand(2, 3, 64, 64, generator=torch.Generator().manual_seed(4))
target = torch.rand(2, 3, 64, 64, generator=torch.Generator().manual_seed(5))
t = parity(u, "parity_unet_sa_blur_w025", x, lambda o: F.mse_loss(o, target),
           ["layers.0.0.0.weight", "layers.5.conv2.2.gamma", "layers.5.conv2.2.query.0.weight_orig", "layers.12.0.weight"])
save_file(dict(t, target=target), f"{out}/parity_unet_sa_blur_w025.safetensors")
print("written")
