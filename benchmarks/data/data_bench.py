"""PIL doing what data-bench does on one thread: decode, fastai-style RandomResizedCrop(128) (bilinear),
flip, RandomCutout (5-9 holes of 5-49 px, zero fill), to a uint8 array. Prints images/s.
Usage: data_bench.py ROOT [PASSES [WORKERS]] [--dataloader]
With --dataloader: what a PyTorch user runs instead, torch's DataLoader (batch 32, shuffled, WORKERS processes,
persistent) over a Dataset making the same three slots as Pretext's inpainting loader (the cut image, the
untouched target and the holes' mask, uint8), collated into batches in the main process. Its first epoch (worker
start-up) is not timed; PASSES epochs after it are."""
import math
import os
import random
import sys
import time

import numpy as np
from PIL import Image

root, passes = sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 1
workers = int(sys.argv[3]) if len(sys.argv) > 3 else 1  # > 1: that many processes (multiprocessing.Pool)
paths = sorted(os.path.join(d, f) for d, _, fs in os.walk(root) for f in fs if f.lower().endswith((".jpg", ".jpeg", ".png")))


def rrc(img, size=128, min_scale=0.35, ratio=(3 / 4, 4 / 3)):
    w, h = img.size
    for _ in range(10):
        area = random.uniform(min_scale, 1) * w * h
        r = math.exp(random.uniform(math.log(ratio[0]), math.log(ratio[1])))
        nw, nh = int(round(math.sqrt(area * r))), int(round(math.sqrt(area / r)))
        if nw <= w and nh <= h:
            x, y = random.randint(0, w - nw), random.randint(0, h - nh)
            return img.crop((x, y, x + nw, y + nh)).resize((size, size), Image.BILINEAR)
    return img.resize((size, size), Image.BILINEAR)


def cutout(a, mask=None):
    a = a.copy()
    for _ in range(random.randint(5, 9)):
        hh, hw = random.randint(5, 49), random.randint(5, 49)
        cy, cx = random.randrange(a.shape[0]), random.randrange(a.shape[1])
        hole = (slice(max(0, cy - hh // 2), cy - hh // 2 + hh), slice(max(0, cx - hw // 2), cx - hw // 2 + hw))
        a[hole] = 0
        if mask is not None:
            mask[hole] = 255
    return a


def cropped(p):
    """Decoded, RandomResizedCrop(128), flipped with p 0.5."""
    img = rrc(Image.open(p).convert("RGB"))
    return img.transpose(Image.FLIP_LEFT_RIGHT) if random.random() < 0.5 else img


def one(p):
    return cutout(np.asarray(cropped(p))).shape[0]


def inpainting_item(p):
    target = np.array(cropped(p))
    mask = np.zeros(target.shape[:2], dtype=np.uint8)
    return cutout(target, mask), target, mask


def dataloader_rate():
    import torch

    class Items(torch.utils.data.Dataset):
        def __len__(self):
            return len(paths)

        def __getitem__(self, i):
            return tuple(torch.from_numpy(x) for x in inpainting_item(paths[i]))

    loader = torch.utils.data.DataLoader(Items(), batch_size=32, shuffle=True, num_workers=workers,
                                         persistent_workers=workers > 0)
    for _ in loader:  # start-up epoch, not timed
        pass
    seen, start = 0, time.perf_counter()
    for _ in range(passes):
        for image, target, mask in loader:
            seen += image.shape[0]
    return seen / (time.perf_counter() - start)


if __name__ == "__main__":
    if "--dataloader" in sys.argv:
        print(f"torch_dataloader_{workers}_workers\t{dataloader_rate():.1f}")
    elif workers > 1:
        import multiprocessing
        with multiprocessing.Pool(workers) as pool:
            pool.map(one, paths[:workers])  # start-up outside the timing
            start = time.perf_counter()
            for _ in range(passes):
                pool.map(one, paths, chunksize=32)
        print(f"pil_{workers}_processes\t{len(paths) * passes / (time.perf_counter() - start):.1f}")
    else:
        start = time.perf_counter()
        for _ in range(passes):
            for p in paths:
                one(p)
        print(f"pil_single_thread\t{len(paths) * passes / (time.perf_counter() - start):.1f}")
