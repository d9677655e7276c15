"""The spread between `make bench` runs, or a run beside the committed reference: one markdown row per benchmark
row (matched by kind and name) with each run's speed ratio (Pretext over the peer; for lockstep train-step rows the
median pair ratio, with the ratio of bests after it), the spread (max − min), and each run's memory and GEMM-limit
fractions; "–" where a run lacks the row.
Usage: compare.py benchmarks/baseline.json benchmarks/results/bench-A.json [...]"""
import json
import sys

from bench import headline as ratio, speedup as bests

runs = [json.load(open(p)) for p in sys.argv[1:]]


def cell(r):
    if r is None:
        return "–"
    return f"{ratio(r):.2f}×" + (f" ({bests(r):.2f}×)" if "median_pair_ratio" in r else "")


def key(r):
    return (r["kind"], r["name"])


order = []
for run in runs:
    order += [key(r) for r in run["rows"] if key(r) not in order]
by_run = [{key(r): r for r in run["rows"]} for run in runs]
print("runs: " + ", ".join(f"{r['date']} (GEMM limit {r['gemm_gflops']:.0f} GFLOP/s)" for r in runs) + "\n")
print("| row | " + " | ".join(f"ratio run {i + 1}" for i in range(len(runs))) + " | spread | Pretext / peer RSS MB | Pretext / peer % of GEMM limit |")
print("|---|" + "---:|" * len(runs) + "---:|---|---|")
for k in order:
    rows = [b.get(k) for b in by_run]
    present = [r for r in rows if r is not None]
    ratios = [ratio(r) for r in present]
    mem = " ; ".join(f"{r['ours_rss_mb']:.0f} / {r['theirs_rss_mb']:.0f}" for r in present if r.get("ours_rss_mb") is not None) or "–"
    gemm = " ; ".join(f"{100 * r['ours_gemm_fraction']:.0f} / {100 * r['theirs_gemm_fraction']:.0f}" for r in present
                      if "ours_gemm_fraction" in r) or "–"
    print(f"| {k[0]}: {k[1]} | " + " | ".join(cell(r) for r in rows) + f" | {max(ratios) - min(ratios):.2f} | {mem} | {gemm} |")
