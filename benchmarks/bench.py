"""`make bench`: Pretext against PyTorch Python / fastai on this machine, side by side in one run, same torch
version and thread count. Rows: train-step throughput (xresnet34, U-Net; 64, 128 px; batch 32; both memory
layouts), the data pipeline (one thread; all cores), one full epoch of the pretext task and of a downstream
scenario (data loading included, fastai's Learner as the peer), peak resident memory of each, and the
fraction of this CPU's GEMM rate each train step reaches. Train steps run both sides at once in lockstep, step by step
(ROUNDS scales the steps); the other rows alternate ROUNDS times; each side keeps its best (noise on a shared
machine only slows). Prints one table; writes JSON to benchmarks/results/ (not committed; `benchmarks/baseline.json` is the committed
reference, `compare.py` sets a run beside it).
Run by `make bench` (which builds release and sets up the peer first); environment: ROUNDS, DATA, BENCH_THREADS,
PRECISIONS (default fp32,bf16), ROWS (default train,data,epoch,dist)."""
import datetime
import json
import os
import platform
import subprocess
import sys

here = os.path.dirname(os.path.abspath(__file__))
repo = os.path.dirname(here)
release = os.path.join(repo, ".build", "release")
threads = os.environ.get("BENCH_THREADS", "2")
rounds = int(os.environ.get("ROUNDS", "2"))
# The precisions of the train-step and full-epoch rows (PRECISIONS=fp32 for the float32 rows alone).
precisions = os.environ.get("PRECISIONS", "fp32,bf16").split(",")
# Which groups of rows to run (ROWS=data,epoch to rerun those alone): train (train steps), data, epoch, dist
# (data-parallel train steps against PyTorch DDP).
groups = set(os.environ.get("ROWS", "train,data,epoch,dist").split(","))
env = dict(os.environ, BENCH_THREADS=threads, BENCH_WORKERS=threads, OMP_NUM_THREADS=threads)
py = sys.executable


def run(cmd):
    out = subprocess.run(cmd, cwd=repo, env=env, capture_output=True, text=True)
    if out.returncode != 0:
        sys.exit(f"bench: {' '.join(cmd)} failed:\n{out.stdout}\n{out.stderr}")
    return out.stdout.strip()


def fields(line):
    return [float(v) for v in line.split("\t")]


def best_of(ours_cmd, theirs_cmd, n, higher_is_better=True):
    """Alternates the two commands n times; each side keeps its best value (first field) and its memory
    (second field, when printed) of that best run."""
    pick = max if higher_is_better else min
    ours, theirs = [], []
    for _ in range(n):
        ours.append(fields(run(ours_cmd)))
        theirs.append(fields(run(theirs_cmd)))
    bo, bt = pick(ours, key=lambda v: v[0]), pick(theirs, key=lambda v: v[0])
    return {"ours": bo[0], "theirs": bt[0], "ours_all": [v[0] for v in ours], "theirs_all": [v[0] for v in theirs],
            "ours_rss_mb": max(v[1] for v in ours) if len(bo) > 1 else None,
            "theirs_rss_mb": max(v[1] for v in theirs) if len(bt) > 1 else None}


def lockstep(ours_cmd, theirs_cmd, steps, batch):
    """Train-step rows: both sides warm up, then take turns step by step (the other waits on its stdin), who
    goes first alternating, so that this shared machine's slow spells fall on both sides alike. Each side's
    rate comes from its fastest step; also the median over pairs of the per-pair speed ratio."""
    procs = [subprocess.Popen(c + ["--lockstep"], cwd=repo, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                              text=True) for c in (ours_cmd, theirs_cmd)]

    def line(p):
        text = p.stdout.readline()
        if not text:
            sys.exit(f"bench: {' '.join(p.args)} stopped: {p.stdout.read()}")
        return text.strip()

    for p in procs:
        if line(p) != "ready":
            sys.exit(f"bench: {' '.join(p.args)} did not start")
    times = [[], []]
    for i in range(steps):
        for k in ((0, 1) if i % 2 == 0 else (1, 0)):
            procs[k].stdin.write("go\n")
            procs[k].stdin.flush()
            times[k].append(float(line(procs[k])))
    summaries = []
    for p in procs:
        p.stdin.close()
        summaries.append(fields(line(p)))
        p.wait()
    pair_ratios = sorted(t / o for o, t in zip(*times))
    return {"ours": batch / min(times[0]), "theirs": batch / min(times[1]),
            "ours_all": [batch / t for t in times[0]], "theirs_all": [batch / t for t in times[1]],
            "median_pair_ratio": pair_ratios[len(pair_ratios) // 2],
            "ours_rss_mb": summaries[0][1], "theirs_rss_mb": summaries[1][1]}


def data_root():
    root = os.environ.get("DATA", os.path.join(repo, "..", "shared", "data", "imagewang-mini"))
    if os.path.isdir(os.path.join(root, "train")):
        return os.path.abspath(root)
    synth = os.path.join(os.environ.get("PRETEXT_CACHE", os.path.expanduser("~/.cache/pretext")), "data", "synthetic-imagewang-128")
    if not os.path.isdir(synth):
        run([os.path.join(release, "data-bench"), "--synth", synth])
    print(f"no {root}: using a synthetic ImageWang ({synth})", file=sys.stderr)
    return synth


def launch(cmd, ranks, threads_per_rank):
    """Runs `cmd` as `ranks` processes as torchrun would (RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR/PORT on
    loopback), each with `threads_per_rank` threads; one process has no such variables. Returns rank 0's fields."""
    import socket
    base = {k: v for k, v in env.items() if k not in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT")}
    base.update(OMP_NUM_THREADS=str(threads_per_rank), BENCH_THREADS=str(threads_per_rank))
    numbers = lambda out: fields(out.strip().replace("\t-", "\tnan"))  # "-": no bucket count
    if ranks == 1:
        return numbers(subprocess.run(cmd, cwd=repo, env=base, capture_output=True, text=True, check=True).stdout)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    procs = [subprocess.Popen(cmd, cwd=repo, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                              env=dict(base, RANK=str(r), LOCAL_RANK=str(r), WORLD_SIZE=str(ranks), MASTER_ADDR="127.0.0.1",
                                       MASTER_PORT=str(port))) for r in range(ranks)]
    outs = [p.communicate(timeout=600) for p in procs]
    for p, (out, err) in zip(procs, outs):
        if p.returncode != 0:
            sys.exit(f"bench: {' '.join(cmd)} ({ranks} ranks) failed:\n{out}\n{err}")
    return numbers(outs[0][0])


def dist_rows(result):
    """Data-parallel train steps (xresnet34 @ 64 px, global batch 32, SGD, channels-last): Pretext (the Learner
    with DataParallel: DDP's Reducer, and one all-reduce after the backward) against PyTorch DDP over Gloo, as
    2 processes × 1 thread and as 1 process × 2 threads; rounds alternate every configuration. Rates from each
    run's median step (global images/s); the rows' ratio is the median over rounds of that round's ratio."""
    size, batch, steps = "64", "32", str(6 * rounds)
    ours, theirs = [os.path.join(release, "dist-bench"), size, batch, steps], [py, os.path.join(here, "dist", "dist_bench.py"), size, batch, steps]
    configs = {"ours 2x1": (ours + ["overlapped"], 2, 1), "ours 2x1 after-backward": (ours + ["after-backward"], 2, 1),
               "ddp 2x1": (theirs, 2, 1), "ours 1x2": (ours, 1, 2), "torch 1x2": (theirs, 1, 2),
               "ours 1x1": (ours, 1, 1), "torch 1x1": (theirs, 1, 1)}
    rates = {k: [] for k in configs}
    for _ in range(max(rounds, 3)):
        for k, (cmd, ranks, per) in configs.items():
            rates[k].append(launch(cmd, ranks, per)[0])
    for name, o, t in [("xresnet34 @ 64 px, 2 processes × 1 thread (PyTorch DDP, Gloo)", "ours 2x1", "ddp 2x1"),
                       ("xresnet34 @ 64 px, 1 process × 2 threads (PyTorch)", "ours 1x2", "torch 1x2")]:
        r = {"kind": "data-parallel step", "name": name, "unit": "images/s", "ours": max(rates[o]), "theirs": max(rates[t]),
             "ours_all": rates[o], "theirs_all": rates[t], "ours_rss_mb": None, "theirs_rss_mb": None,
             "median_pair_ratio": median([a / b for a, b in zip(rates[o], rates[t])])}
        result["rows"].append(r)
        report_row(r)
    # Scaling efficiency: 2 processes' rate over twice one process's on one thread (per round, then the median);
    # and 2 × 1 against 1 × 2 (the same two cores used by threads instead of processes).
    per_round = lambda a, b, f=1: median([x / (f * y) for x, y in zip(rates[a], rates[b])])
    result["dist"] = {"rates": rates, "size": int(size), "batch": int(batch),
                      "ours_scaling_efficiency": per_round("ours 2x1", "ours 1x1", 2),
                      "ddp_scaling_efficiency": per_round("ddp 2x1", "torch 1x1", 2),
                      "ours_2x1_over_1x2": per_round("ours 2x1", "ours 1x2"), "ddp_2x1_over_1x2": per_round("ddp 2x1", "torch 1x2"),
                      "ours_overlapped_over_after_backward": per_round("ours 2x1", "ours 2x1 after-backward")}
    save(result)


def main():
    root = data_root()
    result = {"date": datetime.datetime.now().isoformat(timespec="seconds"), "threads": int(threads), "rounds": rounds,
              "data": root, "machine": platform.processor() or platform.machine(), "rows": []}
    # The hardware limit: the best GEMM rate libtorch reaches here (2048³, best of 5), in each precision.
    gemm_of = {p: max(float(run([os.path.join(release, "model-bench"), "--gemm", "2048", "5"] + ([p] if p == "bf16" else [])))
                      for _ in range(2)) for p in precisions}
    gemm = gemm_of.get("fp32", max(gemm_of.values()))
    result["gemm_gflops"], result["gemm_gflops_by_precision"] = gemm, gemm_of
    # Timed steps per side (in lockstep), scaled with ROUNDS: about a minute per row at 64 px, two at 128.
    steps = {("xresnet34", 64): 12, ("xresnet34", 128): 8, ("unet", 64): 6, ("unet", 128): 3}
    if "train" not in groups:
        steps = {}
    for (model, size), n in steps.items():
        flops = float(run([py, os.path.join(here, "train-step", "model_bench.py"), "--flops", model, str(size)]))
        for layout in ["contiguous", "channels-last"]:
            for precision in precisions:  # each precision against the peer in the same one (torch.autocast)
                args = [model, str(size), "32", str(n * rounds), layout] + ([precision] if precision != "fp32" else [])
                r = lockstep([os.path.join(release, "model-bench")] + args, [py, os.path.join(here, "train-step", "model_bench.py")] + args,
                             n * rounds, 32)
                limit = gemm_of[precision] * 1e9
                r.update(kind="train step", name=f"{model} @ {size} px, {layout}" + (f", {precision}" if precision != "fp32" else ""),
                         unit="images/s", flops_per_image=flops, precision=precision,
                         ours_gemm_fraction=r["ours"] * flops / limit, theirs_gemm_fraction=r["theirs"] * flops / limit)
                result["rows"].append(r)
                report_row(r)
                save(result)
    # The SimCLR task's two-view train step against lightly's (its heads and NT-Xent on fastai's xresnet34 body).
    for size, n in ([(64, 8)] if "train" in groups else []):
        flops = float(run([py, os.path.join(here, "train-step", "model_bench.py"), "--flops", "simclr", str(size)]))
        args = ["simclr", str(size), "32", str(n * rounds), "channels-last"]
        r = lockstep([os.path.join(release, "model-bench")] + args, [py, os.path.join(here, "train-step", "model_bench.py")] + args, n * rounds, 32)
        r.update(kind="train step", name=f"simclr two views @ {size} px, channels-last (lightly)", unit="images/s", flops_per_image=flops,
                 ours_gemm_fraction=r["ours"] * flops / (gemm * 1e9), theirs_gemm_fraction=r["theirs"] * flops / (gemm * 1e9))
        result["rows"].append(r)
        report_row(r)
        save(result)
    if "data" in groups:
        # Data pipeline: decode + RandomResizedCrop(128) + flip + cutout. One thread; then all cores (our loader's
        # worker threads, no decode cache, against PIL in as many processes).
        ours_single, ours_all, ours_one, pil_single, pil_all, torch_all = [], [], [], [], [], []
        for _ in range(rounds):
            out = dict(line.split("\t", 1) for line in run([os.path.join(release, "data-bench"), root, "1"]).splitlines())
            ours_single.append(float(out["single_thread"]))
            ours_all.append(float(out["loader_2_workers_no_cache"]))
            ours_one.append(float(out["loader_1_worker_no_cache"]))
            pil_single.append(float(run([py, os.path.join(here, "data", "data_bench.py"), root, "1"]).split("\t")[1]))
            pil_all.append(float(run([py, os.path.join(here, "data", "data_bench.py"), root, "1", threads]).split("\t")[1]))
            # What a PyTorch user runs: torch's DataLoader making the same three slots, collated into batches.
            torch_all.append(float(run([py, os.path.join(here, "data", "data_bench.py"), root, "1", threads, "--dataloader"]).split("\t")[1]))
        # Rounds interleave the two sides; the row's ratio is the median over rounds of that round's ratio (like the
        # train steps' pairs), so its spread is the rounds' spread.
        for name, o, t in [("1 thread (PIL)", ours_single, pil_single), (f"{threads} workers (PIL in {threads} processes)", ours_all, pil_all),
                           (f"{threads} workers, inpainting batches (torch DataLoader, {threads} workers)", ours_all, torch_all)]:
            r = {"kind": "data", "name": name, "unit": "images/s", "ours": max(o), "theirs": max(t), "ours_all": o, "theirs_all": t,
                 "ours_rss_mb": None, "theirs_rss_mb": None, "median_pair_ratio": median([a / b for a, b in zip(o, t)])}
            result["rows"].append(r)
            report_row(r)
            save(result)
        # The SimCLR views at 128 px (decode + 2 views, batches of float tensors) against lightly's SimCLRTransform
        # on PIL/torchvision through torch's DataLoader: one thread, then `threads` workers (processes for lightly);
        # rounds interleaved, the median of the per-round ratios.
        o1, on, t1, tn = [], [], [], []
        for _ in range(rounds):
            out = dict(line.split("\t", 1) for line in run([os.path.join(release, "data-bench"), "--simclr", root, "128", "1"]).splitlines())
            o1.append(float(out["simclr_loader_1_workers"]))
            on.append(float(out[f"simclr_loader_{threads}_workers"]))
            t1.append(float(run([py, os.path.join(here, "data", "simclr_data_bench.py"), root, "128", "1", "1"]).split("\t")[1]))
            tn.append(float(run([py, os.path.join(here, "data", "simclr_data_bench.py"), root, "128", "1", threads]).split("\t")[1]))
        for name, o, t in [("simclr views, 1 thread (lightly)", o1, t1), (f"simclr views, {threads} workers (lightly DataLoader)", on, tn)]:
            r = {"kind": "data", "name": name, "unit": "images/s", "ours": max(o), "theirs": max(t), "ours_all": o, "theirs_all": t,
                 "ours_rss_mb": None, "theirs_rss_mb": None, "median_pair_ratio": median([a / b for a, b in zip(o, t)])}
            result["rows"].append(r)
            report_row(r)
            save(result)
        # How the loader scales, per round: its rate on N workers over N × the single-thread decode + augment rate,
        # and over N × its own rate on 1 worker (the same work, batches included).
        result["loader_scaling"] = [a / (int(threads) * b) for a, b in zip(ours_all, ours_single)]
        result["loader_scaling_vs_one_worker"] = [a / (int(threads) * b) for a, b in zip(ours_all, ours_one)]
    # Full epochs at the demo preset's settings (64 px, xresnet34 × 0.25, batch 32): seconds, lower is better.
    # In each precision against fastai in the same one; Pretext's bf16 rows run with --precision auto (bf16 where
    # this CPU has it natively, what a user gets), fastai's under CPU bfloat16 autocast.
    for task, n in ([("downstream", max(rounds, 3)), ("pretext", rounds)] if "epoch" in groups else []):
        for precision in precisions:
            args = [task, root] + (["64", "0.25", "32"] if precision != "fp32" else [])
            r = best_of([os.path.join(release, "epoch-bench")] + args + (["auto"] if precision != "fp32" else []),
                        [py, os.path.join(here, "epoch", "epoch_bench.py")] + args + ([precision] if precision != "fp32" else []), n,
                        higher_is_better=False)
            r.update(kind="full epoch", name=f"{task} epoch (fastai Learner)" + (", auto/bf16" if precision != "fp32" else ""),
                     unit="s", precision=precision)
            result["rows"].append(r)
            report_row(r)
            save(result)
    if "dist" in groups:
        dist_rows(result)
    path = save(result)
    print_table(result)
    print(f"\nJSON: {os.path.relpath(path, repo)}")


def save(result):
    """Writes the JSON (atomically): after every row, so a run that fails late keeps the rows it measured."""
    os.makedirs(os.path.join(here, "results"), exist_ok=True)
    path = os.path.join(here, "results", "bench-" + result["date"].replace(":", "-") + ".json")
    with open(path + ".tmp", "w") as f:
        json.dump(result, f, indent=1)
    os.replace(path + ".tmp", path)
    return path


def median(v):
    v = sorted(v)
    return (v[(len(v) - 1) // 2] + v[len(v) // 2]) / 2


def speedup(r):
    # Ours over theirs as a speed: rates divide ours/theirs, times theirs/ours.
    return r["ours"] / r["theirs"] if r["unit"] != "s" else r["theirs"] / r["ours"]


def report_row(r):
    bests = f" (bests {speedup(r):.2f}x)" if "median_pair_ratio" in r else ""
    print(f"  {r['kind']}: {r['name']}: ours {r['ours']:.2f}, theirs {r['theirs']:.2f} {r['unit']} -> {headline(r):.2f}x{bests}",
          file=sys.stderr, flush=True)


def headline(r):
    """The row's speed ratio: for train steps (run in lockstep) the median over step pairs of the per-pair
    ratio, which compares steps taken under the same conditions; otherwise the ratio of the two bests."""
    return r.get("median_pair_ratio", speedup(r))


def print_table(result):
    print(f"Pretext vs PyTorch/fastai, {result['threads']} threads, data {result['data']}")
    limits = result.get("gemm_gflops_by_precision", {"fp32": result["gemm_gflops"]})
    print("GEMM limit (2048³ through libtorch): " + ", ".join(f"{p} {v:.1f} GFLOP/s" for p, v in limits.items()) + "\n")
    print("| row | Pretext | peer | speed ratio | ratio of bests | Pretext RSS MB | peer RSS MB | Pretext / peer % of GEMM limit |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for r in result["rows"]:
        mem = lambda v: f"{v:.0f}" if v is not None else "–"
        frac = (f"{100 * r['ours_gemm_fraction']:.0f} % / {100 * r['theirs_gemm_fraction']:.0f} %"
                if "ours_gemm_fraction" in r else "–")
        print(f"| {r['kind']}: {r['name']} | {r['ours']:.2f} {r['unit']} | {r['theirs']:.2f} {r['unit']} | "
              f"{headline(r):.2f}× | {speedup(r):.2f}× | {mem(r['ours_rss_mb'])} | {mem(r['theirs_rss_mb'])} | {frac} |")
    # Pretext in bf16 over Pretext in fp32, row by row (same model, size, layout; the medians of each side's steps).
    fp32_rows = {r["name"]: r for r in result["rows"] if r.get("precision") == "fp32"}
    pairs = []
    for r in result["rows"]:
        if r.get("precision", "fp32") == "fp32":
            continue
        base = fp32_rows.get(r["name"].replace(", " + r["precision"], "").replace(", auto/bf16", ""))
        if base:
            o, b = median(r["ours_all"]), median(base["ours_all"])
            t, bt = median(r["theirs_all"]), median(base["theirs_all"])
            up = (lambda x, y: x / y) if r["unit"] != "s" else (lambda x, y: y / x)
            pairs.append(f"| {base['name']} | {up(o, b):.2f}× | {up(t, bt):.2f}× |")
    if pairs:
        print("\n| row | Pretext bf16 / fp32 | peer bf16 / fp32 |\n|---|---:|---:|\n" + "\n".join(pairs))
    if "dist" in result:
        d = result["dist"]
        print(f"\ndata-parallel (xresnet34 @ {d['size']} px, global batch {d['batch']}, medians over rounds): scaling efficiency "
              f"(2 processes × 1 thread over 2 × 1 process × 1 thread) Pretext {d['ours_scaling_efficiency']:.2f}, DDP "
              f"{d['ddp_scaling_efficiency']:.2f}; 2 × 1 over 1 process × 2 threads: Pretext {d['ours_2x1_over_1x2']:.2f}, "
              f"PyTorch {d['ddp_2x1_over_1x2']:.2f}; Pretext's Reducer over one all-reduce after the backward: "
              f"{d['ours_overlapped_over_after_backward']:.2f}")
    if "loader_scaling" in result:
        print("\nloader scaling, per round: N workers over N × the single-thread decode + augment "
              + ", ".join(f"{v:.2f}" for v in result["loader_scaling"]) + "; over N × the loader on 1 worker "
              + ", ".join(f"{v:.2f}" for v in result.get("loader_scaling_vs_one_worker", [])))
    print("\nspeed ratio: Pretext's speed over the peer's (> 1: Pretext faster). Train steps (forward, loss, backward, "
          "Ranger step, zero grads, batch 32): both sides run at once and take turns step by step; speed ratio = the "
          "median over the step pairs of the pair's ratio; Pretext / peer columns and the ratio of bests from each "
          "side's fastest step. Data rows: ROUNDS alternating runs, speed ratio = the median of the rounds' ratios. Full "
          "epochs: ROUNDS alternating runs, each side's best, at the demo preset's "
          "settings, train + validation with data loading, fastai's Learner and DataLoaders (their RSS: main process "
          "+ largest worker).")


if __name__ == "__main__":
    main()
