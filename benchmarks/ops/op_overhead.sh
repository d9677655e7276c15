#!/usr/bin/env bash
# Per-op call overhead: Swift Torch API vs PyTorch Python, same torch version and thread count, one run.
#
# Both time the same loops on tiny tensors (ns per call). The floor is the same call made straight from
# C++ against ATen, timed inside the Swift benchmark's process interleaved with the Swift loops;
# overhead = time - floor. Swift and Python alternate for ROUNDS rounds and each keeps its best time per
# op (noise on a shared machine only ever adds time).
set -euo pipefail
cd "$(dirname "$0")/../.."
py=$(scripts/pyenv.sh)
export BENCH_THREADS=${BENCH_THREADS:-1}
rounds=${ROUNDS:-3}
swift build -c release --product torch-bench >/dev/null
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
for r in $(seq "$rounds"); do
  .build/release/torch-bench >>"$tmp/swift"
  "$py" benchmarks/ops/op_overhead.py >>"$tmp/python"
done
# Best (lowest) value of column $2 per op in file $1.
best() { awk -F'\t' -v col="$2" '!($1 in m) || $col < m[$1] { m[$1] = $col } END { for (k in m) print k "\t" m[k] }' "$1" | sort; }
echo "per-op time and overhead, ns per call: tiny tensors, $BENCH_THREADS thread(s), torch $("$py" -c 'import torch; print(torch.__version__)'), best of $rounds rounds"
printf "%-24s %9s %9s %9s %11s %11s %10s\n" op c++floor swift python swift-over py-over over-ratio
join -t $'\t' <(best "$tmp/swift" 2) <(best "$tmp/swift" 3) | join -t $'\t' - <(best "$tmp/python" 2) |
  while IFS=$'\t' read -r op c s p; do
    awk -v op="$op" -v c="$c" -v s="$s" -v p="$p" 'BEGIN {
      so = s - c; po = p - c; if (so < 0) so = 0
      printf "%-24s %9.0f %9.0f %9.0f %11.0f %11.0f %10.2f\n", op, c, s, p, so, po, (po > 0 ? so / po : 0) }'
  done
