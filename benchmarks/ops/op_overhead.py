"""Per-op call overhead of PyTorch Python: the same loops as benchmarks/ops/torch-bench/main.swift."""
import os
import time

import torch

torch.set_num_threads(int(os.environ.get("BENCH_THREADS", "1")))
iterations = 20_000


def measure(name, body):
    for _ in range(1_000):
        body()
    best = float("inf")
    for _ in range(5):
        start = time.perf_counter_ns()
        for _ in range(iterations):
            body()
        best = min(best, (time.perf_counter_ns() - start) / iterations)
    return name, best


a, b = torch.ones(1), torch.ones(1)
x, w = torch.ones(1, 1, 2, 2), torch.ones(1, 1, 1, 1)
p = torch.ones(1, requires_grad=True)
F = torch.nn.functional
results = [
    measure("add", lambda: a + b),
    measure("mul_scalar", lambda: a * 2.0),
    measure("relu", lambda: torch.relu(a)),
    measure("sum", lambda: a.sum()),
    measure("view", lambda: x.view(4)),
    measure("add_inplace", lambda: a.add_(b, alpha=0.5)),
    measure("conv2d_1x1", lambda: F.conv2d(x, w)),
    measure("grad_mul_sum_backward", lambda: (p * 2.0).sum().backward()),
]
for name, ns in results:
    print(f"{name}\t{ns:.1f}")
