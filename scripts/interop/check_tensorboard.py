#!/usr/bin/env python3
"""By-hand check: TensorBoard's own reader loads Pretext's event files.
Usage: python3 scripts/interop/check_tensorboard.py .build/debug/train-synthetic   (needs tensorboard)"""
import subprocess
import sys
import tempfile

from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

with tempfile.TemporaryDirectory() as d:
    subprocess.run([sys.argv[1], "--epochs", "3", "--logdir", d], check=True, stdout=subprocess.DEVNULL)
    acc = EventAccumulator(d)
    acc.Reload()
    tags = acc.Tags()["scalars"]
    print("scalar tags:", sorted(tags))
    for tag in ["epoch/train_loss", "epoch/accuracy"]:
        print(tag, [(e.step, round(e.value, 5)) for e in acc.Scalars(tag)])
    print("train/batch_loss points:", len(acc.Scalars("train/batch_loss")))
    print(open(f"{d}/epochs.csv").read())
