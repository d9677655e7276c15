"""Where the loader's time goes beyond the bare decode + augment loop: `perf` samples of `data-bench --one-thread`
split into its two phases by time (the bare loop's samples, then the loader's), and per leaf symbol the loader's
samples minus the bare loop's (both phases handle the same images), then who called a given leaf in each phase.
  perf record -F 4000 -g -o /tmp/p.data .build/release/data-bench --one-thread ROOT 10
  perf script -i /tmp/p.data | swift-demangle --simplified > /tmp/p.txt
  python3 benchmarks/probes/perf_phases.py /tmp/p.txt [LEAF…]      (e.g. memmove: the batch copy's callers)"""
import collections
import re
import sys

samples, stack, t = [], None, None
for line in open(sys.argv[1]):
    line = line.rstrip("\n")
    if not line.strip():
        if stack is not None:
            samples.append((t, stack))
        stack = None
    elif not line.startswith((" ", "\t")):
        t, stack = float(re.search(r" (\d+\.\d+):", line).group(1)), []
    elif stack is not None:
        frame = line.strip().split(" ", 1)[-1]
        lib = re.search(r"\(([^)]*)\)$", frame)
        stack.append((re.sub(r"(\+0x[0-9a-f]+)? \(.*\)$", "", frame), lib.group(1).split("/")[-1] if lib else ""))
if stack:
    samples.append((t, stack))

def phase_times(marker):
    return [t for t, s in samples if any(marker in f for f, _ in s)]

bare, loader = phase_times("bareLoopRate"), phase_times("ImageLoader")
phases = {"bare": (min(bare), max(bare)), "loader": (min(loader), max(loader))}
counts = {}
for name, (lo, hi) in phases.items():
    counts[name] = collections.Counter(f"{s[0][0][:70]} | {s[0][1]}" for t, s in samples if lo <= t <= hi and s)
print(f"samples: bare loop {sum(counts['bare'].values())}, loader {sum(counts['loader'].values())}")
diff = {k: counts["loader"][k] - counts["bare"][k] for k in set(counts["bare"]) | set(counts["loader"])}
print("loader − bare  bare  loader  leaf")
for k, v in sorted(diff.items(), key=lambda kv: -kv[1])[:20]:
    print(f"{v:13d} {counts['bare'][k]:5d} {counts['loader'][k]:7d}  {k}")
for leaf in sys.argv[2:]:
    for name, (lo, hi) in phases.items():
        callers = collections.Counter(" <- ".join(f[:50] for f, _ in s[1:4]) for t, s in samples
                                      if lo <= t <= hi and s and leaf in s[0][0])
        print(f"== {name}: callers of {leaf}")
        for k, v in callers.most_common(6):
            print(f"{v:6d} {k}")
