"""Import fastai without torchvision (PyPI's torchvision does not load on the `+cpu` torch here: its compiled
ops need a torchvision built for this exact torch). The model and data code used by the checks and the
benchmarks needs only `transforms.functional.pad` (fastai's crop-and-pad of PIL images calls it, often with
zero padding), done here with numpy/torch the way torchvision does; the other modules are empty.
Import this module before fastai."""
import sys
import types


for name in ["torchvision", "torchvision.models", "torchvision.transforms", "torchvision.transforms.functional",
             "torchvision.io"]:
    sys.modules.setdefault(name, types.ModuleType(name))
def _pad(img, padding, fill=0, padding_mode="constant"):
    """torchvision.transforms.functional.pad for PIL images and tensors; padding = (left, top, right, bottom)."""
    import numpy as np
    import torch
    from PIL import Image
    left, top, right, bottom = padding
    if not any(padding):
        return img
    if isinstance(img, torch.Tensor):
        modes = {"constant": "constant", "reflect": "reflect", "edge": "replicate"}  # torch has no "symmetric"
        if padding_mode not in modes:
            raise NotImplementedError(f"pad mode {padding_mode!r} for tensors in this stub")
        mode = modes[padding_mode]
        return torch.nn.functional.pad(img, (left, right, top, bottom), mode=mode, value=fill if mode == "constant" else None)
    a = np.asarray(img)
    widths = ((top, bottom), (left, right)) + (((0, 0),) if a.ndim == 3 else ())
    kw = {"constant_values": fill} if padding_mode == "constant" else {}
    return Image.fromarray(np.pad(a, widths, mode=padding_mode, **kw), mode=img.mode)


sys.modules["torchvision.transforms.functional"].pad = _pad
sys.modules["torchvision"].transforms = sys.modules["torchvision.transforms"]
sys.modules["torchvision"].models = sys.modules["torchvision.models"]
sys.modules["torchvision.transforms"].functional = sys.modules["torchvision.transforms.functional"]
