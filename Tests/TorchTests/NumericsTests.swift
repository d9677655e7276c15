import Foundation
import Testing
@testable import Torch

/// Operators against values worked out by hand.
@Suite struct NumericsTests {
  let image = try! Tensor((1...9).map(Double.init), shape: [1, 1, 3, 3])

  @Test func conv2dByHand() throws {
    let w = try Tensor([1, 0, 0, -1] as [Double], shape: [1, 1, 2, 2])
    #expect(try values(conv2d(image, weight: w)) == [-4, -4, -4, -4])
    #expect(try values(conv2d(image, weight: w, bias: Tensor([0.5] as [Double]))) == [-3.5, -3.5, -3.5, -3.5])
    #expect(try values(conv2d(image, weight: w, stride: 2, padding: 1)) == [-1, -3, -7, -4])
    #expect(try values(conv2d(image, weight: w, dilation: 2)) == [-8])
    let two = try Tensor.cat([image, image], dim: 1)
    let depthwise = try conv2d(two, weight: Tensor([2, 3] as [Double], shape: [2, 1, 1, 1]), groups: 2)
    #expect(try values(depthwise.select(dim: 1, index: 1).flatten()) == (1...9).map { 3.0 * Double($0) })
    let c1 = try conv(Tensor([1, 2, 3] as [Double], shape: [1, 1, 3]), weight: Tensor([1, 1] as [Double], shape: [1, 1, 2]))
    #expect(try values(c1) == [3, 5])
  }

  @Test func batchNormTrainUpdatesRunningStatsAndEvalUsesThem() throws {
    let x = try Tensor([1, 2, 3, 6] as [Double], shape: [2, 2, 1, 1])  // channel 0: 1, 3; channel 1: 2, 6
    let w = try Tensor([2, 1] as [Double]), b = try Tensor([0.5, 0] as [Double])
    let rm = try Tensor.zeros([2], dtype: .float64), rv = try Tensor.ones([2], dtype: .float64)
    let y = try batchNorm(x, weight: w, bias: b, runningMean: rm, runningVar: rv, training: true, momentum: 0.1, eps: 0)
    expectClose(try values(y), [-1.5, -1, 2.5, 1])
    expectClose(try values(rm), [0.2, 0.4])
    expectClose(try values(rv), [1.1, 1.7])  // unbiased batch variances 2 and 8
    let e = try batchNorm(x, weight: w, bias: b, runningMean: rm, runningVar: rv, training: false, eps: 0)
    expectClose(try values(e), [2 * (1 - 0.2) / 1.1.squareRoot() + 0.5, (2 - 0.4) / 1.7.squareRoot(),
                                2 * (3 - 0.2) / 1.1.squareRoot() + 0.5, (6 - 0.4) / 1.7.squareRoot()])
    expectClose(try values(rm), [0.2, 0.4])  // eval leaves running stats alone
  }

  @Test func losses() throws {
    let p = try Tensor([1, 2] as [Double]), z = try Tensor.zeros([2], dtype: .float64)
    #expect(try values(mseLoss(p, z)) == [2.5])
    #expect(try values(mseLoss(p, z, reduction: .sum)) == [5])
    #expect(try values(mseLoss(p, z, reduction: .none)) == [1, 4])
    #expect(try values(l1Loss(p, z)) == [1.5])
    let logits = try Tensor([0, Foundation.log(3.0)], shape: [1, 2])
    let target = try Tensor([1] as [Int64])
    expectClose(try values(crossEntropy(logits, target)), [-Foundation.log(0.75)])
    let eps = 0.1
    let smoothed = (1 - eps) * -Foundation.log(0.75) + eps * (-Foundation.log(0.25) - Foundation.log(0.75)) / 2
    expectClose(try values(crossEntropy(logits, target, labelSmoothing: eps)), [smoothed])
    expectClose(try values(nllLoss(logSoftmax(logits, dim: 1), target)), [-Foundation.log(0.75)])
    expectClose(try values(softmax(logits, dim: 1)), [0.25, 0.75])
    expectClose(try values(binaryCrossEntropyWithLogits(Tensor([0.0]), Tensor([1.0]))), [Foundation.log(2.0)])
  }

  @Test func pooling() throws {
    // fastai's ResBlock shortcut: avg-pool 2, ceil_mode; the border windows average what they cover.
    #expect(try values(avgPool2d(image, kernelSize: 2, ceilMode: true)) == [3, 4.5, 7.5, 9])
    #expect(try values(avgPool2d(image, kernelSize: 2)) == [3])
    let x = try Tensor.arange(0, 16, dtype: .float64).reshape([1, 1, 4, 4])
    #expect(try values(maxPool2d(x, kernelSize: 3, stride: 2, padding: 1)) == [5, 7, 13, 15])
    #expect(try values(adaptiveAvgPool2d(x, outputSize: (1, 1))) == [7.5])
    #expect(try values(adaptiveAvgPool2d(x, outputSize: (2, 2))) == [2.5, 4.5, 10.5, 12.5])
    #expect(try values(adaptiveMaxPool2d(x, outputSize: (1, 1))) == [15])
  }

  @Test func resampling() throws {
    let ps = try pixelShuffle(Tensor([1, 2, 3, 4] as [Double], shape: [1, 4, 1, 1]), upscaleFactor: 2)
    #expect(ps.shape == [1, 1, 2, 2])
    #expect(try values(ps) == [1, 2, 3, 4])
    #expect(try values(pixelUnshuffle(ps, downscaleFactor: 2)) == [1, 2, 3, 4])
    let two = try Tensor([0, 1] as [Double], shape: [1, 1, 1, 2])
    #expect(try values(interpolate(two, size: (1, 4))) == [0, 0, 1, 1])
    expectClose(try values(interpolate(two, size: (1, 4), mode: .bilinear)), [0, 0.25, 0.75, 1])
    expectClose(try values(interpolate(two, size: (1, 3), mode: .bilinear, alignCorners: true)), [0, 0.5, 1])
  }

  @Test func activations() throws {
    let x = try Tensor([-1, 0, 2] as [Double])
    #expect(try values(relu(x)) == [0, 0, 2])
    expectClose(try values(mish(x)), [-1, 0, 2].map { $0 * Foundation.tanh(Foundation.log1p(Foundation.exp($0))) })
    expectClose(try values(sigmoid(x)), [-1, 0, 2].map { 1 / (1 + Foundation.exp(-$0)) })
    expectClose(try values(leakyRelu(x, negativeSlope: 0.1)), [-0.1, 0, 2])
    #expect(try values(dropout(x, p: 0.5, training: false)) == [-1, 0, 2])
    let d = try values(dropout(Tensor.ones([1000], dtype: .float64), p: 0.5, training: true))
    #expect(Set(d).isSubset(of: [0, 2]))
    #expect((300...700).contains(d.filter { $0 == 0 }.count))
    expectClose(try values(linear(Tensor([1, 2] as [Double], shape: [1, 2]), weight: Tensor([3, 4] as [Double], shape: [1, 2]), bias: Tensor([0.5] as [Double]))), [11.5])
  }
}
