import Foundation
import Testing
import TestSupport
@testable import Torch

@Suite struct AutogradTests {
  @Test func backwardAccumulatesAndClears() throws {
    let w = try Tensor([1, 2, 3] as [Double]).requiringGrad()
    #expect(w.requiresGrad && w.isLeaf)
    #expect(w.grad == nil)
    try (w * w).sum().backward()
    #expect(try values(w.grad!) == [2, 4, 6])
    try (w * 3).sum().backward()  // gradients accumulate, as PyTorch
    #expect(try values(w.grad!) == [5, 7, 9])
    try w.zeroGrad()
    #expect(try values(w.grad!) == [0, 0, 0])
    try w.clearGrad()
    #expect(w.grad == nil)
    let y = try w * 2
    #expect(!y.isLeaf)
    #expect(try !y.detach().requiresGrad)
  }

  @Test func noGradScopeRecordsNothingAndRestores() throws {
    let w = try Tensor([1.0]).requiringGrad()
    let y = try withNoGrad { try w * 2 }
    #expect(!y.requiresGrad)
    #expect(isGradEnabled)
    #expect(throws: TorchError.self) {
      try withNoGrad { _ = try w * 2; throw TorchError(operation: "test", message: "escape") }
    }
    #expect(isGradEnabled)
  }

  @Test func finiteDifferencesFloat64() throws {
    let g = try Generator(seed: 5)
    let x = try Tensor.randn([2, 2, 5, 5], generator: g, dtype: .float64)
    let w = try Tensor.randn([3, 2, 3, 3], generator: g, dtype: .float64)
    try gradCheck(x) { try conv2d($0, weight: w, stride: 2, padding: 1).square().sum() }
    try gradCheck(w) { try conv2d(x, weight: $0, padding: 1).sin().sum() }
    try gradCheck(x) {
      try batchNorm($0, weight: Tensor([1.5, 0.5] as [Double]), bias: nil, runningMean: nil, runningVar: nil, training: true)
        .pow(3).sum()
    }
    try gradCheck(x) { try avgPool2d($0, kernelSize: 2, ceilMode: true).square().sum() }
    try gradCheck(x) { try maxPool2d($0, kernelSize: 3, stride: 2, padding: 1).square().sum() }
    try gradCheck(x) { try mish($0).sum() }
    try gradCheck(x) { try interpolate($0, size: (7, 9), mode: .bilinear).square().sum() }
    try gradCheck(x.narrow(dim: 1, start: 0, length: 1).repeat([1, 4, 1, 1])) {
      try pixelShuffle($0, upscaleFactor: 2).cos().sum()
    }
    let logits = try Tensor.randn([4, 5], generator: g, dtype: .float64)
    let target = try Tensor([0, 3, 4, 1] as [Int64])
    try gradCheck(logits) { try crossEntropy($0, target, labelSmoothing: 0.1) }
    try gradCheck(logits) { try mseLoss($0, logits.detach() * 0.5) }
    try gradCheck(logits) { try linear($0, weight: logits.detach()).square().sum() }
    try gradCheck(logits) { try softmax($0, dim: 1).square().sum() }
  }
}

@Suite struct AutocastTests {
  @Test func convRunsInBFloat16UnderCPUAutocastAndGradientsStayFloat32() throws {
    let x = try Tensor.randn([2, 3, 8, 8]), w = try Tensor.randn([4, 3, 3, 3]).requiringGrad()
    #expect(!isAutocastEnabled(.cpu))
    let y = try withAutocast(.cpu) {
      #expect(isAutocastEnabled(.cpu))
      return try conv2d(x, weight: w, padding: 1)
    }
    #expect(!isAutocastEnabled(.cpu))
    #expect(y.dtype == .bfloat16)
    try y.to(dtype: .float32).sum().backward()
    #expect(w.grad!.dtype == .float32)
    let exact = try conv2d(x, weight: w, padding: 1)
    #expect(try (y.to(dtype: .float32) - exact).abs().max().item(Double.self) < 0.1 * exact.abs().max().item(Double.self))
    #expect(try conv2d(x, weight: w).dtype == .float32)
  }
}

@Suite struct ErrorTests {
  @Test func shapeMismatchCarriesLibtorchsMessage() throws {
    let a = try Tensor.ones([2, 3]), b = try Tensor.ones([2, 3])
    do {
      _ = try a.matmul(b)
      Issue.record("matmul of 2x3 by 2x3 did not throw")
    } catch let e as TorchError {
      #expect(e.operation == "matmul")
      #expect(e.message.contains("cannot be multiplied"))
      #expect(e.message.contains("2x3 and 2x3"))
    }
    do {
      _ = try conv2d(Tensor.ones([1, 3, 5, 5]), weight: Tensor.ones([1, 2, 3, 3]))
      Issue.record("conv2d with mismatched channels did not throw")
    } catch let e as TorchError {
      #expect(e.description.hasPrefix("conv2d: "))
      #expect(e.message.contains("expected input[1, 3, 5, 5] to have 2 channels"))
    }
  }

  @Test func badArgumentsThrowInsteadOfCrashing() throws {
    let x = try Tensor.ones([2, 3])
    #expect(throws: TorchError.self) { try x + Tensor.ones([4]) }
    #expect(throws: TorchError.self) { try x.transpose(0, 1).view([6]) }
    #expect(throws: TorchError.self) { try x.reshape([4]) }
    #expect(throws: TorchError.self) { try x.select(dim: 5, index: 0) }
    #expect(throws: TorchError.self) { try x.chunk(0) }
    #expect(throws: TorchError.self) { try x.backward() }  // no graph
    #expect(throws: TorchError.self) { try x.item() }  // more than one element
    #expect(throws: TorchError.self) { try crossEntropy(x, Tensor([0, 7] as [Int64])) }  // class out of range
    #expect(throws: TorchError.self) { try Tensor.cat([]) }
    #expect(throws: TorchError.self) { try Tensor.zeros([-1]) }
    #expect(throws: TorchError.self) { try conv(x, weight: Tensor.ones([2])) }
    #expect(throws: TorchError.self) { try Foreach.add_([x], []) }
    let w = try Tensor([1.0]).requiringGrad()
    #expect(throws: TorchError.self) { try (w * 2).sum().backward(); try w.add_(Tensor([1.0])) }  // in-place on a leaf
  }

  @Test func errorSlotIsPerThread() async throws {
    let messages = try await withThrowingTaskGroup(of: String.self) { group in
      for n in 1...4 {
        group.addTask {
          do {
            _ = try Tensor.ones([n, 5]).matmul(Tensor.ones([n, 5]))
            return "no error"
          } catch let e as TorchError {
            return e.message
          }
        }
      }
      return try await group.reduce(into: []) { $0.append($1) }
    }
    for n in 1...4 { #expect(messages.contains { $0.contains("(\(n)x5 and \(n)x5)") }, "\(messages)") }
  }
}

@Suite struct LeakTests {
  /// Runs torch-leak-check (built beside this test bundle) in its own process: 300,000 tensors made and
  /// dropped. Every handle must be freed, and resident memory must stay flat (whole tensors leaked would
  /// cost > 100 MiB; the bound leaves room for allocator noise).
  @Test func hundredThousandTensorsLeaveMemoryFlat() throws {
    let run = try runTool(try builtTool("torch-leak-check"), [])
    let out = run.output
    let fields = out.split(whereSeparator: \.isWhitespace).compactMap { Int($0) }
    #expect(run.status == 0 && fields.count == 2, "torch-leak-check said: \(out)")
    guard fields.count == 2 else { return }
    #expect(fields[1] == 0, "\(fields[1]) tensor handles outlived the loop")
    #expect(fields[0] < 8 << 20, "resident memory grew \(fields[0] >> 10) KiB")
  }
}
