import Foundation
import Testing
@testable import NN
@testable import Torch

@Suite struct UnetTests {
  @Test func keysOrderAndShapesMatchFastai() throws {
    let unet = try DynamicUnet(encoder: XResNet(.resnet34).body, outChannels: 3, imageSize: (128, 128))
    let ours = unet.stateDict().map { ($0.name, $0.tensor.shape) }
    let theirs = try Fixture.keys("unet_xresnet34_128.keys.tsv")
    #expect(ours.map(\.0) == theirs.map(\.0))
    #expect(ours.map(\.1) == theirs.map(\.1))
    #expect(unet.parameterCount == 41_240_500)
  }

  @Test func numericParityWithFastai() throws {
    let unet = try DynamicUnet(encoder: XResNet(.resnet34, widen: 0.25).body, outChannels: 3, imageSize: (64, 64))
    let file = try loadParityFixture(unet, "parity_unet_xresnet34_w025.safetensors")
    let input = try file.tensor("input")
    let errors = try parityErrors(unet, file) { try mseLoss(unet(input), file.tensor("target")) }
    #expect(errors.loss < 1e-4, "train loss relative error \(errors.loss)")
    let last = unet.namedModules().compactMap { $0.1 as? Conv2d }.last!.weight
    #expect(try relativeError(last.value.grad!, file.tensor("grad.last_conv.weight")) < 1e-3)
    #expect(errors.eval < 1e-4, "eval output relative error \(errors.eval)")
  }

  /// The first encoder conv's gradient is badly conditioned in float32 (one CPU's fastai was 5 % from
  /// float64, another's 2e-5), so it is checked in float64 against fastai's float64 gradient
  /// (scripts/interop/make_unet_grad_fixture.py); Pretext's float64 gradient measured 7.3e-9 from it.
  @Test func firstConvGradientMatchesFastaiInFloat64() throws {
    let unet = try DynamicUnet(encoder: XResNet(.resnet34, widen: 0.25).body, outChannels: 3, imageSize: (64, 64))
    let file = try loadParityFixture(unet, "parity_unet_xresnet34_w025.safetensors")
    try unet.to(dtype: .float64)
    unet.train()
    let loss = try mseLoss(unet(file.tensor("input").to(dtype: .float64)), file.tensor("target").to(dtype: .float64))
    try loss.backward()
    let first = unet.namedParameters().first { $0.0 == "layers.0.0.0.weight" }!.1
    let fastai = try SafeTensors.File(path: Fixture.path("unet_first_conv_grad_fastai.safetensors"))
    let error = try relativeError(first.value.grad!, fastai.tensor("grad.first_conv.weight"))
    #expect(error < 1e-6, "first conv gradient relative error \(error)")
  }

  @Test(arguments: [(40, 56), (33, 47), (64, 64)])
  func outputSizeEqualsInputSize(h: Int, w: Int) throws {
    let unet = try DynamicUnet(encoder: XResNet(.resnet18, widen: 0.125).body, outChannels: 3, imageSize: (h, w), yRange: (0, 1))
    unet.eval()
    let y = try withNoGrad { try unet(Tensor.rand([1, 3, h, w])) }
    #expect(y.shape == [1, 3, h, w])
    #expect(try values(y.min())[0] >= 0 && values(y.max())[0] <= 1)  // y_range
  }

  /// `skipConnections: false` (a context encoder): the blocks take only the upsampled path (no skip BatchNorm,
  /// conv1 on half the lower path's channels), every other key as fastai's, and the output is still input-sized.
  @Test func withoutSkipConnectionsOnlyTheDeepestFeaturesReachTheDecoder() throws {
    let with = try DynamicUnet(encoder: XResNet(.resnet18, widen: 0.125).body, outChannels: 3, imageSize: (40, 56))
    let without = try DynamicUnet(encoder: XResNet(.resnet18, widen: 0.125).body, outChannels: 3, imageSize: (40, 56),
                                  skipConnections: false)
    let keys = Dictionary(uniqueKeysWithValues: without.stateDict().map { ($0.name, $0.tensor.shape) })
    let skipBN = with.stateDict().map(\.name).filter { $0.contains(".bn.") && !$0.hasPrefix("layers.1.") }
    #expect(!skipBN.isEmpty && skipBN.allSatisfy { keys[$0] == nil })
    for (i, block) in without.parts.blocks.enumerated() {
      #expect(block.bn == nil && with.parts.blocks[i].bn != nil)
      let conv1 = try #require(block.conv1[0] as? Conv2d)
      let shuffleConv = try #require((block.shuf[0] as? ConvLayer)?[0] as? Conv2d)  // to 4× the upsampled channels
      #expect(conv1.weight.value.shape[1] == shuffleConv.weight.value.shape[0] / 4)
    }
    #expect(Set(with.stateDict().map(\.name)).subtracting(skipBN) == Set(keys.keys))
    without.eval()
    #expect(try withNoGrad { try without(Tensor.rand([2, 3, 40, 56])) }.shape == [2, 3, 40, 56])
  }

  @Test func icnrSubPixelsStartEqual() throws {
    let w = try Init.icnr([16, 3, 1, 1])  // 4 output channels × 4 sub-pixels
    let shuffled = try pixelShuffle(conv2d(Tensor.randn([1, 3, 2, 2]), weight: w), upscaleFactor: 2)
    // Each 2×2 block of the upsampled output holds one value repeated.
    let blocks = try shuffled.unfoldBlocks()
    #expect(try (blocks.max(dims: [-1]) - blocks.min(dims: [-1])).abs().max().item(Double.self) < 1e-6)
  }
}

extension Tensor {
  /// N×C×2H×2W → N×C×H×W×4 (each 2×2 block's values last).
  func unfoldBlocks() throws -> Tensor {
    let (n, c, h, w) = (shape[0], shape[1], shape[2] / 2, shape[3] / 2)
    return try reshape([n, c, h, 2, w, 2]).permute([0, 1, 2, 4, 3, 5]).reshape([n, c, h, w, 4])
  }
}

func values(_ t: Tensor) throws -> [Double] { try t.to(dtype: .float64).toArray(of: Double.self) }
