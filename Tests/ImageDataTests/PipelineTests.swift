// Issue 13: the item-transform pipeline and its named slots.
import Foundation
import Testing
@testable import ImageData
@testable import Torch

@Suite struct PipelineTests {
  /// Four quarter turns are the identity; one turn maps the top-left pixel to the bottom-left.
  @Test func quarterTurns() {
    let img = gradient()  // 16 × 8
    let once = img.rotated90(times: 1)
    #expect(once.width == 8 && once.height == 16)
    #expect(once[0, 15] == img[0, 0] && once[7, 0] == img[15, 7])
    #expect(img.rotated90(times: 4) == img && once.rotated90(times: 3) == img)
  }

  /// Slots: the cutout keeps the clean image and writes its mask (1.0 in the batch exactly where pixels were
  /// cut); views are made from the same decoded image with their own chains and sizes; integers collate.
  @Test func slotsCollateByName() throws {
    let paths = try makeImages(4)
    let views = Views([("view0", [Crop(size: 24, training: true), Grayscale()]), ("view1", [Crop(size: 16, training: true), Solarize()])])
    let pipeline = Pipeline.crop(size: 32, training: false).then(Cutout(RandomCutout(count: 2...2, holeSize: 6...6)), Rotate90(), views)
    let batch = try #require(try ImageLoader(paths: paths, pipeline: pipeline, batchSize: 4, shuffle: false).pass(epoch: 0).next())
    #expect(Set(batch.keys) == ["image", "target", "mask", "rotation", "view0", "view1"])
    #expect(batch["mask"]!.shape == [4, 1, 32, 32] && batch["view0"]!.shape == [4, 3, 24, 24] && batch["view1"]!.shape == [4, 3, 16, 16])
    #expect(batch["rotation"]!.dtype == .int64)
    // Grayscale view: the three channels are equal.
    let v0 = batch["view0"]!
    #expect(try v0.narrow(dim: 1, start: 0, length: 1).equal(v0.narrow(dim: 1, start: 1, length: 1)))
    // The mask marks holes: turned with the image, the cut pixels (black in the input) lie inside it.
    let one = try Pipeline.crop(size: 32, training: false).then(Cutout(RandomCutout(count: 3...3, holeSize: 8...8)))
    let b = try #require(try ImageLoader(paths: paths, pipeline: one, batchSize: 4, shuffle: false).pass(epoch: 0).next())
    let cut = try (b["image"]! .!= b["target"]!).any(dims: [1], keepDim: true)
    #expect(try cut.logicalAnd(b["mask"]! .< 0.5).any().item() == .bool(false))
    #expect(try b["mask"]!.sum().item(Double.self) > 0)
  }
}
