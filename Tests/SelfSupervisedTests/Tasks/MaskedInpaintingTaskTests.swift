// The masked task's patches and loss. (The task trained end to end through the study: StudyTests/TaskZooTests.swift.)
import Foundation
import Testing
@testable import ImageData
@testable import NN
@testable import SelfSupervised
@testable import Torch
@testable import Training

@Suite struct MaskedInpaintingTaskTests {
  /// The loader draws exactly 60 % of the 8 × 8 patches per image; the step's input is blank exactly there;
  /// each target patch has mean 0 and (unbiased) std 1; the loss sees the blanked patches only.
  @Test func patchesAreBlankedAndTheLossSeesOnlyThem() throws {
    let root = NSTemporaryDirectory() + "pretext-masked-\(UUID().uuidString)"
    try SyntheticImageWang(size: 32, trainPerClass: 2, validPerClass: 2, unsupCount: 120, seed: 3).write(to: root + "/data")
    let data = try ImageWangLayout(root: root + "/data")
    let task = try MaskedInpaintingTask(TaskSettings(size: 32, widen: 0.125))
    let batch = try #require(try ImageLoader(paths: data.train.paths, pipeline: task.pipeline(training: true), batchSize: 4,
                                             shuffle: true).pass(epoch: 0).next())
    #expect(Set(batch.keys) == ["image", "patches"])
    let patches = try #require(batch["patches"])
    #expect(patches.shape == [4, 1, 8, 8])
    #expect(try patches.sum(dims: [1, 2, 3]).toArray(of: Float.self) == [38, 38, 38, 38])  // round(0.6 · 64)
    let x = try #require(batch["image"])
    let (input, target, mask) = try MaskedInpaintingStep.views(x, patches)
    #expect(try (input * mask).abs().max().item().doubleValue == 0)
    #expect(try (input * (1 - mask)).equal(x * (1 - mask)))
    let p = try MaskedInpaintingStep.patchify(target)
    #expect(try p.mean(dims: [1, 3, 5]).abs().max().item().doubleValue < 1e-4)
    let std = try ((p.square().sum(dims: [1, 3, 5])) / Double(3 * 4 * 4 - 1)).sqrt()
    #expect(try std.max().item().doubleValue < 1.0001)  // 1 for a patch with any variation, ~0 for a flat one
    let prediction = try Tensor.randn(x.shape)
    let base = try MaskedInpaintingStep.maskedLoss(prediction, target, mask).item().doubleValue
    let visibleChanged = try prediction + Tensor.randn(x.shape) * (1 - mask)
    #expect(Swift.abs(try MaskedInpaintingStep.maskedLoss(visibleChanged, target, mask).item().doubleValue - base) < 1e-6 * base)
    #expect(throws: (any Error).self) { try MaskedInpaintingTask(TaskSettings(size: 36, widen: 0.125)) }
  }
}
