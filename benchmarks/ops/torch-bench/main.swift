// Per-op call overhead of the Swift Torch API: nanoseconds per call on tiny tensors, where the kernel's
// own work is negligible and what is measured is the path from the caller to libtorch and back.
// Each op's Swift loop alternates with the same loop written in C++ against ATen (the floor), in this
// process, and each keeps its best time. benchmarks/ops/op_overhead.sh adds PyTorch Python beside it.
import BenchFloor
import Foundation
import Torch

let threads = Int(ProcessInfo.processInfo.environment["BENCH_THREADS"] ?? "1") ?? 1
Runtime.threadCount = threads
let iterations = 20_000

func bestNanoseconds(_ body: () throws -> Void) rethrows -> Double {
  for _ in 0..<1_000 { try body() }  // warm-up
  var best = Double.infinity
  for _ in 0..<5 {
    let start = DispatchTime.now().uptimeNanoseconds
    for _ in 0..<iterations { try body() }
    best = min(best, Double(DispatchTime.now().uptimeNanoseconds - start) / Double(iterations))
  }
  return best
}

let a = try Tensor.ones([1]), b = try Tensor.ones([1])
let x = try Tensor.ones([1, 1, 2, 2])
let w = try Tensor.ones([1, 1, 1, 1])
let p = try Tensor.ones([1]).requiringGrad()
let ops: [(String, () throws -> Void)] = [
  ("add", { _ = try a + b }),
  ("mul_scalar", { _ = try a * 2.0 }),
  ("relu", { _ = try relu(a) }),
  ("sum", { _ = try a.sum() }),
  ("view", { _ = try x.view([4]) }),
  ("add_inplace", { try a.add_(b, alpha: 0.5) }),
  ("conv2d_1x1", { _ = try conv2d(x, weight: w) }),
  ("grad_mul_sum_backward", { try (p * 2.0).sum().backward() }),
]
for (name, body) in ops {
  var floor = Double.infinity, swift = Double.infinity
  for _ in 0..<3 {
    floor = min(floor, bench_floor_ns(name, Int32(iterations)))
    swift = min(swift, try bestNanoseconds(body))
  }
  print("\(name)\t\(String(format: "%.1f", floor))\t\(String(format: "%.1f", swift))")
}
