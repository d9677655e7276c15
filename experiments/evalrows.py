#!/usr/bin/env python3
"""Per-run rows of a `pretext compare` run folder: every eval/<task>/<protocol>/<run>/result.json, its last
epoch's 20-way accuracy and val-classes accuracy (percent), grouped by (task, protocol) with mean ± std
(sample std, as the leaderboard) and, where a random-init row exists, the difference of the means.
A task's extra pretext seeds (`--pretext-runs`: folders `<task>-p1`, `-p2`, …, whose run k fine-tunes pretext k)
join its row. Stages still running (no result.json) are listed as such. Standard library only.
    usage: evalrows.py RUN_FOLDER
"""
import json
import os
import re
import statistics
import sys


def rows(run):
    out = {}
    base = os.path.join(run, "eval")
    if not os.path.isdir(base):
        sys.exit(f"{run}: not a compare run folder (no eval/)")
    for task in sorted(os.listdir(base)):
        for protocol in sorted(os.listdir(os.path.join(base, task))):
            folder = os.path.join(base, task, protocol)
            for r in sorted(os.listdir(folder), key=lambda s: (len(s), s)):
                path = os.path.join(folder, r, "result.json")
                row = (task + "/" + r, None, None)
                if os.path.exists(path):
                    with open(path) as f:
                        last = json.load(f)["history"][-1]["metrics"]
                    row = (row[0], 100 * last["accuracy"], 100 * last.get("accuracy_among_valid_classes", float("nan")))
                out.setdefault((re.sub(r"-p\d+$", "", task), protocol), []).append(row)
    return out


def summary(values):
    if not values:
        return "—"
    if len(values) == 1:
        return f"{values[0]:.1f}"
    return f"{statistics.mean(values):.1f} ± {statistics.stdev(values):.1f}"


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    table = rows(sys.argv[1])
    random = [a for _, a, _ in table.get(("random", "random"), []) if a is not None]
    for (task, protocol), runs in table.items():
        done = [(a, v) for _, a, v in runs if a is not None]
        acc, val = [a for a, _ in done], [v for _, v in done]
        cells = ", ".join("running" if a is None else f"{a:.1f}" for _, a, _ in runs)
        delta = ""
        if random and acc and task != "random":
            delta = f"  Δ20 {statistics.mean(acc) - statistics.mean(random):+.1f}"
        print(f"{task:40s} {protocol:14s} 20-way {cells} = {summary(acc)}{delta}   val classes "
              f"{', '.join(f'{v:.1f}' for v in val)} = {summary(val)}")


if __name__ == "__main__":
    main()
