#!/bin/bash
# Is the demo the same before and after a change? Builds BASE (a commit) in a worktree under .build/ and this tree,
# runs `pretext compare --preset demo` in each (one at a time), then compares: the leaderboard in every column but
# the seconds, and the pretexts' encoders and U-Net byte for byte. ~10 minutes on 2 cores.
#   usage: experiments/demo-identical.sh BASE_REV
set -euo pipefail
cd "$(dirname "$0")/.."
base_rev="$1"
work=.build/demo-identical
rm -rf "$work/runs-base" "$work/runs-head"
[ -d "$work/base" ] || git worktree add -f "$work/base" "$base_rev" >/dev/null
git -C "$work/base" checkout -q --detach "$base_rev"
for side in base head; do
  tree=$([ "$side" = base ] && echo "$work/base" || echo .)
  (cd "$tree" && swift build -c release >/dev/null && swift run -c release --skip-build pretext compare --preset demo \
    --out "$OLDPWD/$work/runs-$side" >/dev/null)
done
b=$(ls -d "$work"/runs-base/*/) h=$(ls -d "$work"/runs-head/*/)
# Columns 10 (pretext_seconds) and 19 (eval_seconds_per_run) are timings.
cols() { cut -d, -f1-9,11-18 "$1/leaderboard.csv"; }
diff <(cols "$b") <(cols "$h") && echo "leaderboard: identical but for the seconds"
(cd "$b" && find pretext -name "encoder*.safetensors" -o -name "unet.safetensors") | sort | while read -r f; do
  cmp -s "$b/$f" "$h/$f" && echo "same: $f" || echo "DIFFERENT: $f"
done
