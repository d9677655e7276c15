"""One train-step row of `make bench` by hand: model-bench and model_bench.py with the same arguments, in
lockstep (bench.lockstep), printing each side's best rate and the median per-pair ratio.
Usage: $(scripts/pyenv.sh --fastai --lightly) benchmarks/lockstep_row.py MODEL SIZE BATCH STEPS LAYOUT [bf16]
(BENCH_WIDEN=w for xresnet34 × w; BENCH_THREADS as bench.py.)"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench  # noqa: E402

args = sys.argv[1:]
if len(args) < 5:
    sys.exit(__doc__)
r = bench.lockstep([os.path.join(bench.release, "model-bench")] + args,
                   [bench.py, os.path.join(bench.here, "model_bench.py")] + args, int(args[3]), int(args[2]))
print(f"{' '.join(args)}: Pretext {r['ours']:.2f}, peer {r['theirs']:.2f} images/s, median pair ratio {r['median_pair_ratio']:.3f}")
