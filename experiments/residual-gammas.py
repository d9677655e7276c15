"""How much an encoder's residual blocks contribute: the mean |γ| of the last BatchNorm of every residual branch
(fastai's xresnet starts it at 0, so near 0 means the block is still about the identity), min / median / max
over the blocks, for each encoder.safetensors (or classifier model.safetensors) named.
  python experiments/residual-gammas.py RUN/pretext/inpainting-6ep/encoder.safetensors …   (needs safetensors, torch)"""
import sys
from safetensors.torch import load_file

for path in sys.argv[1:]:
    tensors = load_file(path)
    gammas = []
    for name, t in tensors.items():
        if t.dim() == 4 and "convpath.1.0.weight" in name:  # the branch's second conv; its BatchNorm is ….1.1
            gammas.append(tensors[name[: -len("0.weight")] + "1.weight"].abs().mean().item())
    gammas.sort()
    print(f"{path}: residual-branch BatchNorm |γ| over {len(gammas)} blocks: min {gammas[0]:.3f} "
          f"median {gammas[len(gammas) // 2]:.3f} max {gammas[-1]:.3f}")
