"""The spread between `make bench` runs: one markdown row per benchmark row with each run's speed ratio
(Pretext over the peer; for lockstep train-step rows the median pair ratio, with the ratio of bests after
it), the spread (max − min), and each run's memory and GEMM-limit fractions.
Usage: compare.py benchmarks/results/bench-A.json benchmarks/results/bench-B.json [...]"""
import json
import sys

from bench import headline as ratio, speedup as bests

runs = [json.load(open(p)) for p in sys.argv[1:]]


def cell(r):
    return f"{ratio(r):.2f}×" + (f" ({bests(r):.2f}×)" if "median_pair_ratio" in r else "")


print("runs: " + ", ".join(f"{r['date']} (GEMM limit {r['gemm_gflops']:.0f} GFLOP/s)" for r in runs) + "\n")
print("| row | " + " | ".join(f"ratio run {i + 1}" for i in range(len(runs))) + " | spread | Pretext / peer RSS MB | Pretext / peer % of GEMM limit |")
print("|---|" + "---:|" * len(runs) + "---:|---|---|")
for i, row in enumerate(runs[0]["rows"]):
    rows = [r["rows"][i] for r in runs]
    ratios = [ratio(r) for r in rows]
    mem = " ; ".join(f"{r['ours_rss_mb']:.0f} / {r['theirs_rss_mb']:.0f}" for r in rows) if row["ours_rss_mb"] is not None else "–"
    gemm = (" ; ".join(f"{100 * r['ours_gemm_fraction']:.0f} / {100 * r['theirs_gemm_fraction']:.0f}" for r in rows)
            if "ours_gemm_fraction" in row else "–")
    print(f"| {row['kind']}: {row['name']} | " + " | ".join(cell(r) for r in rows)
          + f" | {max(ratios) - min(ratios):.2f} | {mem} | {gemm} |")
