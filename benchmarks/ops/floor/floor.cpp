#include <ATen/ATen.h>
#include <ATen/ScalarOps.h>
#include <chrono>
#include <cstring>
#include <functional>

#include "bench_floor.h"

static double best_ns(int iterations, const std::function<void()> &body) {
  for (int i = 0; i < 1000; i++) body();
  double best = 1e30;
  for (int r = 0; r < 5; r++) {
    auto start = std::chrono::steady_clock::now();
    for (int i = 0; i < iterations; i++) body();
    double ns = std::chrono::duration<double, std::nano>(std::chrono::steady_clock::now() - start).count() / iterations;
    if (ns < best) best = ns;
  }
  return best;
}

extern "C" double bench_floor_ns(const char *op, int n) {
  static auto a = at::ones({1}), b = at::ones({1});
  static auto x = at::ones({1, 1, 2, 2}), w = at::ones({1, 1, 1, 1});
  static auto p = at::ones({1}).requires_grad_(true);
  if (!strcmp(op, "add")) return best_ns(n, [&] { auto r = a + b; });
  if (!strcmp(op, "mul_scalar")) return best_ns(n, [&] { auto r = at::mul(a, at::native::wrapped_scalar_tensor(2.0)); });
  if (!strcmp(op, "relu")) return best_ns(n, [&] { auto r = at::relu(a); });
  if (!strcmp(op, "sum")) return best_ns(n, [&] { auto r = a.sum(); });
  if (!strcmp(op, "view")) return best_ns(n, [&] { auto r = x.view({4}); });
  if (!strcmp(op, "add_inplace")) return best_ns(n, [&] { a.add_(b, 0.5); });
  if (!strcmp(op, "conv2d_1x1")) return best_ns(n, [&] { auto r = at::conv2d(x, w); });
  if (!strcmp(op, "grad_mul_sum_backward")) return best_ns(n, [&] { (p * 2.0).sum().backward(); });
  return -1;
}
