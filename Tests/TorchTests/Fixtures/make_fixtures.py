#!/usr/bin/env python3
"""Writes torch_written.safetensors with PyTorch's own safetensors writer (torch 2.13, safetensors).

Run once by hand: python3 Tests/TorchTests/Fixtures/make_fixtures.py
"""
import os
import torch
from safetensors.torch import save_file

here = os.path.dirname(os.path.abspath(__file__))
save_file(
    {
        "f32": torch.arange(6, dtype=torch.float32).reshape(2, 3) * 0.5,
        "bf16": torch.tensor([-1.0, 0.0, 1.0], dtype=torch.bfloat16),
        "i64": torch.tensor([1 << 40, -5], dtype=torch.int64),
        "u8": torch.tensor([0, 128, 255], dtype=torch.uint8),
        "b": torch.tensor([True, False]),
    },
    os.path.join(here, "torch_written.safetensors"),
    metadata={"written_by": "torch"},
)
