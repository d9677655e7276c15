import Foundation
import Testing
@testable import NN
@testable import Torch

/// Self-attention, spectral norm and blur against fixtures made with fastai 2.8.12 itself
/// (scripts/interop/make_attention_fixtures.py): state saved before any pass, then the eval output, then
/// one train-mode pass (which runs spectral norm's power iteration once).
@Suite struct AttentionTests {
  func check(_ model: Module, _ fixture: String, grads: [String], loss: (Tensor, SafeTensors.File) throws -> Tensor) throws {
    let file = try loadParityFixture(model, fixture)
    let input = try file.tensor("input")
    model.eval()
    let out = try withNoGrad { try model(input) }
    let evalError = try relativeError(out, file.tensor("output_eval"))
    #expect(evalError < 1e-4, "eval output relative error \(evalError)")
    model.train()
    let l = try loss(model(input), file)
    let lossError = try relativeError(l, file.tensor("loss_train"))
    #expect(lossError < 1e-4, "train loss relative error \(lossError)")
    try l.backward()
    let params = Dictionary(uniqueKeysWithValues: model.namedParameters())
    for g in grads {
      let e = try relativeError(params[g]!.value.grad!, file.tensor("grad.\(g)"))
      #expect(e < 1e-3, "gradient of \(g): relative error \(e)")
    }
  }

  @Test func xresnetWithSelfAttentionMatchesFastai() throws {
    let full = try XResNet(.resnet34, classes: 20, selfAttention: true)
    let theirs = try Fixture.keys("xresnet34_sa_nout20.keys.tsv")
    #expect(full.stateDict().map(\.name) == theirs.map(\.0))
    #expect(full.stateDict().map(\.tensor.shape) == theirs.map(\.1))
    let model = try XResNet(.resnet34, classes: 20, widen: 0.25, selfAttention: true)
    try check(model, "parity_xresnet34_sa_w025.safetensors",
              grads: ["0.0.weight", "4.2.convpath.2.gamma", "4.2.convpath.2.conv.weight_orig", "11.weight"]) { out, file in
      try crossEntropy(out, file.tensor("labels"))
    }
  }

  @Test func unetWithSelfAttentionBlurAndYRangeMatchesFastai() throws {
    let full = try DynamicUnet(encoder: XResNet(.resnet34).body, outChannels: 3, imageSize: (128, 128),
                               yRange: (0, 1), blur: true, selfAttention: true)
    let theirs = try Fixture.keys("unet_xresnet34_sa_blur_128.keys.tsv")
    #expect(full.stateDict().map(\.name) == theirs.map(\.0))
    #expect(full.stateDict().map(\.tensor.shape) == theirs.map(\.1))
    let model = try DynamicUnet(encoder: XResNet(.resnet34, widen: 0.25).body, outChannels: 3, imageSize: (64, 64),
                                yRange: (0, 1), blur: true, selfAttention: true)
    try check(model, "parity_unet_sa_blur_w025.safetensors",
              grads: ["layers.0.0.0.weight", "layers.5.conv2.2.gamma", "layers.5.conv2.2.query.0.weight_orig",
                      "layers.12.0.weight"]) { out, file in
      try mseLoss(out, file.tensor("target"))
    }
  }

  @Test func spectralNormDividesByTheLargestSingularValue() throws {
    let conv = try SpectralNormConv1d(6, 4, kaimingInit: true)
    conv.train()
    for _ in 0..<60 { _ = try conv.weight() }  // power iterations converge
    let w = try conv.weight().reshape([4, 6])
    // The largest singular value of the normalised weight is 1: ‖W v‖ for the top right-singular vector.
    let sigma = try w.matmul(conv.weightV.value).norm().item(Double.self)
    #expect(Swift.abs(sigma - 1) < 1e-4)
    conv.eval()
    let u = try conv.weightU.value.clone()
    _ = try conv.weight()
    #expect(try conv.weightU.value.equal(u))  // eval does not iterate
  }
}
