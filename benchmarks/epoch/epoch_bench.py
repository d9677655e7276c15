"""One full epoch (train + validation, data loading included) of the study's pretext task or downstream
scenario with fastai's own Learner and DataLoaders, at the Pretext `demo` preset's settings; the peer of
benchmarks/epoch/epoch-bench. Prints: seconds<TAB>peak RSS MB (this process + its largest loader worker).
Usage: epoch_bench.py pretext|downstream ROOT [SIZE WIDEN BATCH [fp32|bf16]]
(bf16: forward and loss of every batch, training and validation, under torch.autocast("cpu", bfloat16), entered
and left where fastai's MixedPrecision callback does it: before_batch and after_loss.)"""
import os
import random
import resource
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "scripts", "interop"))
import fastai_env  # noqa: F401
import torch
from fastai.callback.schedule import *  # noqa: F401,F403  (fit_flat_cos)
from fastai.data.all import *  # noqa: F403
from fastai.callback.core import Callback
from fastai.learner import Learner
from fastai.losses import LabelSmoothingCrossEntropy, MSELossFlat
from fastai.metrics import accuracy
from fastai.optimizer import ranger
from fastai.vision.augment import FlipItem, RandomResizedCrop
from fastai.vision.core import PILImage
from fastai.vision.data import ImageBlock
from fastai.vision.models.unet import DynamicUnet
from fastai.vision.models.xresnet import xresnet34

task, root = sys.argv[1], Path(sys.argv[2])
size = int(sys.argv[3]) if len(sys.argv) > 3 else 64
widen = float(sys.argv[4]) if len(sys.argv) > 4 else 0.25
batch = int(sys.argv[5]) if len(sys.argv) > 5 else 32
bf16 = len(sys.argv) > 6 and sys.argv[6] == "bf16"
torch.set_num_threads(int(os.environ.get("BENCH_THREADS", "2")))
workers = int(os.environ.get("BENCH_WORKERS", "2"))
torch.manual_seed(0)


class Cutout(ItemTransform):
    """The study's RandomCutout on the input of an (input, target) pair: 5-9 holes, sides 5-49 px scaled to the
    image size from 160 px, centres uniform, zero fill."""
    order = 10  # after ToTensor

    def encodes(self, x):
        inp, tgt = x
        if not isinstance(inp, TensorImage):
            return x
        inp = inp.clone()
        h, w = inp.shape[-2:]
        scale = h / 160
        for _ in range(random.randint(5, 9)):
            hh, hw = max(1, round(random.randint(5, 49) * scale)), max(1, round(random.randint(5, 49) * scale))
            cy, cx = random.randrange(h), random.randrange(w)
            inp[..., max(0, cy - hh // 2):cy - hh // 2 + hh, max(0, cx - hw // 2):cx - hw // 2 + hw] = 0
        return inp, tgt


class CPUBFloat16(Callback):
    """fastai's MixedPrecision callback for CPU bfloat16 (it only drives CUDA's autocast): no loss scaling."""
    order = 10

    def before_batch(self):
        self.autocast = torch.autocast("cpu", dtype=torch.bfloat16)
        self.autocast.__enter__()

    def after_loss(self):
        self.autocast.__exit__(None, None, None)


tfms = [RandomResizedCrop(size, min_scale=0.35), FlipItem(0.5)]
if task == "pretext":
    def items(path):
        return get_image_files(path, folders=["train", "unsup", "val"])
    block = DataBlock(blocks=(ImageBlock, ImageBlock), get_items=items, get_y=noop,
                      splitter=FuncSplitter(lambda p: p.parent.name == "val"), item_tfms=tfms + [Cutout()])
    dls = block.dataloaders(root, bs=batch, num_workers=workers)
    body = torch.nn.Sequential(*list(xresnet34(widen=widen).children())[:-4])
    learn = Learner(dls, DynamicUnet(body, n_out=3, img_size=(size, size)), loss_func=MSELossFlat(), opt_func=ranger, wd=1e-2)
else:
    block = DataBlock(blocks=(ImageBlock, CategoryBlock), get_items=lambda p: get_image_files(p, folders=["train", "val"]),
                      get_y=parent_label, splitter=GrandparentSplitter(train_name="train", valid_name="val"), item_tfms=tfms)
    dls = block.dataloaders(root, bs=batch, num_workers=workers)
    learn = Learner(dls, xresnet34(n_out=len(dls.vocab), widen=widen), loss_func=LabelSmoothingCrossEntropy(),
                    opt_func=ranger, metrics=accuracy, wd=1e-2)
if bf16:
    learn.add_cb(CPUBFloat16())
with learn.no_logging(), learn.no_bar():
    start = time.perf_counter()
    learn.fit_flat_cos(1, 8e-3)
    seconds = time.perf_counter() - start
peak = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss + resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss) / 1024
print(f"{seconds:.3f}\t{peak:.0f}")
