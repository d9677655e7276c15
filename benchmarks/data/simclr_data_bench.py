"""lightly's SimCLR views as its users make them: each file opened with PIL, converted to RGB, through
lightly's SimCLRTransform(input_size=SIZE) (random resized crop from 8 %, flip, colour jitter 0.8, grayscale
0.2, blur 0.5, ToTensor, Normalize) into two view tensors, batched by torch's DataLoader (batch 32) — in this
process on one thread (WORKERS 1), or in WORKERS worker processes. data-bench --simclr runs Pretext's
SimCLR pipeline through its loader beside it. Prints images/s (an image = its two views).
Usage: simclr_data_bench.py ROOT SIZE PASSES WORKERS"""
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "scripts", "interop"))
import torchvision_env  # noqa: F401
import torch
from PIL import Image
from lightly.transforms import SimCLRTransform

root, size, passes, workers = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
paths = sorted(os.path.join(d, f) for d, _, fs in os.walk(root) for f in fs if f.lower().endswith((".jpg", ".jpeg", ".png")))
transform = SimCLRTransform(input_size=size)


class Views(torch.utils.data.Dataset):
    def __len__(self):
        return len(paths)

    def __getitem__(self, i):
        return transform(Image.open(paths[i]).convert("RGB"))


if __name__ == "__main__":
    torch.set_num_threads(1)  # one thread per process, as the loader's workers run
    loader = torch.utils.data.DataLoader(Views(), batch_size=32, shuffle=True, drop_last=True,
                                         num_workers=0 if workers == 1 else workers, persistent_workers=workers > 1)
    if workers > 1:
        next(iter(loader))  # worker start-up outside the timing
    start, seen = time.perf_counter(), 0
    for _ in range(passes):
        for views in loader:
            assert len(views) == 2 and views[0].shape[1:] == (3, size, size)
            seen += views[0].shape[0]
    print(f"lightly_simclr_{workers}_workers\t{seen / (time.perf_counter() - start):.1f}")
