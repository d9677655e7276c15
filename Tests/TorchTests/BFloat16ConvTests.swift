import Foundation
import Testing
@testable import Torch

/// libtorch 2.13's CPU bfloat16 convolution returns a weight gradient of garbage (inf, NaN, ~1e37) when a
/// stride exceeds the input's side and there is padding (a stride-2 3×3 convolution on a 1×1 map: SwAV's local
/// crops in xresnet's last stage). PyTorch itself shows it on the pinned wheel (NOTES.md, "bfloat16"); the
/// shim runs such convolutions in float32. Every small shape, explicit bfloat16 and under autocast, in both
/// memory layouts: the weight gradient within bfloat16 rounding of float32's (|error| < 1 where the gradients
/// are ~10; the broken kernel is off by 3 to 1e37, intermittently, so each case runs twice). Each case's inputs
/// come from a generator of its own: tests run concurrently, and a draw from the shared default generator between
/// two seedings gave the float32 reference other inputs than the bfloat16 run (errors of 14–18 on 1×1 maps).
@Suite struct BFloat16ConvTests {
  @Test func weightGradientsMatchFloat32EvenWhenTheStrideExceedsTheMap() throws {
    var bad: [String] = []
    for side in 1...4 { for stride in 1...3 { for (k, pad) in [(1, 0), (3, 0), (3, 1), (5, 2)] where side + 2 * pad >= k {
      for channelsLast in [false, true] {
        let generator = try Generator(seed: 0)
        var x = try Tensor.randn([16, 32, side, side], generator: generator)
        var w0 = try Tensor.randn([64, 32, k, k], generator: generator) * 0.1
        if channelsLast { (x, w0) = (try x.contiguous(.channelsLast), try w0.contiguous(.channelsLast)) }
        func gradient(_ dtype: DType?) throws -> Tensor {  // nil: float32 inputs under bfloat16 autocast
          let w = try w0.detach().requiringGrad()
          let y = try dtype.map { try conv2d(x.to(dtype: $0), weight: w.to(dtype: $0), stride: stride, padding: pad) }
            ?? withAutocast(.cpu, dtype: .bfloat16) { try conv2d(x, weight: w, stride: stride, padding: pad) }
          try y.to(dtype: .float32).sum().backward()
          return try #require(w.grad)
        }
        let reference = try gradient(.float32)
        for dtype in [DType.bfloat16, nil] as [DType?] {
          for _ in 0..<2 {
            let error = try (gradient(dtype) - reference).abs().max().item().doubleValue
            if !(error < 1) { bad.append("side \(side) stride \(stride) k \(k) pad \(pad) cl \(channelsLast) \(dtype.map { "\($0)" } ?? "autocast"): \(error)") }
          }
        }
      }
    } } }
    #expect(bad.isEmpty, "\(bad.count) cases: \(bad.prefix(6))")
  }
}
