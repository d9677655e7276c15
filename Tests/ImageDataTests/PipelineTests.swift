// Issue 13: the item-transform pipeline and its named slots.
import Foundation
import Testing
@testable import ImageData
import SelfSupervised  // Rotate90, a task's view
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

  /// Grayscale, solarize and quarter turns (in C) give what the plain per-pixel definitions give, on odd sizes.
  @Test func grayscaleSolarizeAndTurnsMatchTheirDefinitions() throws {
    var rng = SplitMix64(seed: 9)
    for (w, h) in [(1, 1), (7, 3), (16, 9), (33, 34)] {
      let img = Image(width: w, height: h, pixels: (0..<(3 * w * h)).map { _ in UInt8.random(in: 0...255, using: &rng) })
      var item = Item(source: img)
      item.images["image"] = img
      var gray = item, sol = item, r = rng
      try Grayscale(p: 1).apply(&gray, rng: &r)
      try Solarize(p: 1, threshold: 100).apply(&sol, rng: &r)
      for i in 0..<(w * h) {
        let p = img.pixels[(3 * i)..<(3 * i + 3)].map(Int.init)
        let l = UInt8((p[0] * 299 + p[1] * 587 + p[2] * 114 + 500) / 1000)
        #expect(Array(gray.images["image"]!.pixels[(3 * i)..<(3 * i + 3)]) == [l, l, l])
        #expect(Array(sol.images["image"]!.pixels[(3 * i)..<(3 * i + 3)]) == p.map { UInt8($0 >= 100 ? 255 - $0 : $0) })
      }
      for k in 1...3 {
        let turned = img.rotated90(times: k)
        #expect(turned.width == (k == 2 ? w : h) && turned.height == (k == 2 ? h : w))
        for y in 0..<h {
          for x in 0..<w {
            let (nx, ny) = k == 1 ? (y, w - 1 - x) : k == 2 ? (w - 1 - x, h - 1 - y) : (h - 1 - y, x)
            #expect(turned[nx, ny] == img[x, y], "k \(k) at \(x),\(y) of \(w)×\(h)")
          }
        }
      }
    }
  }

  /// Colour jitter changes colours but keeps the size; with p 0 it is the identity; blur smooths a hard edge;
  /// both are deterministic for a given generator.
  @Test func jitterAndBlur() throws {
    var img = gradient()
    for x in 0..<8 { for y in 0..<8 { img.pixels[3 * (y * 16 + x)] = 0 } }  // a hard edge at x = 8 in red
    var item = Item(source: img)
    item.images["image"] = img
    var rng = SplitMix64(seed: 1)
    var a = item
    try ColorJitter(p: 1).apply(&a, rng: &rng)
    #expect(a.images["image"]!.width == 16 && a.images["image"] != img)
    var none = item
    try ColorJitter(p: 0).apply(&none, rng: &rng)
    #expect(none.images["image"] == img)
    var b = item, rngB = SplitMix64(seed: 2), again = item, rngAgain = SplitMix64(seed: 2)
    try GaussianBlur(p: 1, sigma: 2...2, kernelFraction: 0.5).apply(&b, rng: &rngB)
    try GaussianBlur(p: 1, sigma: 2...2, kernelFraction: 0.5).apply(&again, rng: &rngAgain)
    #expect(b.images["image"] == again.images["image"])
    let edge = b.images["image"]![7, 4].0, inside = b.images["image"]![0, 4].0
    #expect(edge > inside && edge < img[8, 4].0)  // the edge is smoothed
  }

  /// Slots: the cutout keeps the clean image and writes its mask (1.0 in the batch exactly where pixels were
  /// cut); views are made from the same decoded image with their own chains and sizes; integers collate.
  @Test func slotsCollateByName() throws {
    let paths = try makeImages(4)
    let views = Views([("view0", [Crop(size: 24, training: true), Grayscale()]), ("view1", [Crop(size: 16, training: true), Solarize()])])
    let pipeline = Pipeline.crop(size: 32, training: false).then(Cutout(RandomCutout(count: 2...2, size: 6...6)), Rotate90(), views)
    let batch = try #require(try ImageLoader(paths: paths, pipeline: pipeline, batchSize: 4, shuffle: false).pass(epoch: 0).next())
    #expect(Set(batch.keys) == ["image", "target", "mask", "rotation", "view0", "view1"])
    #expect(batch["mask"]!.shape == [4, 1, 32, 32] && batch["view0"]!.shape == [4, 3, 24, 24] && batch["view1"]!.shape == [4, 3, 16, 16])
    #expect(batch["rotation"]!.dtype == .int64)
    // Grayscale view: the three channels are equal.
    let v0 = batch["view0"]!
    #expect(try v0.narrow(dim: 1, start: 0, length: 1).equal(v0.narrow(dim: 1, start: 1, length: 1)))
    // The mask marks holes: turned with the image, the cut pixels (black in the input) lie inside it.
    let one = try Pipeline.crop(size: 32, training: false).then(Cutout(RandomCutout(count: 3...3, size: 8...8)))
    let b = try #require(try ImageLoader(paths: paths, pipeline: one, batchSize: 4, shuffle: false).pass(epoch: 0).next())
    let cut = try (b["image"]! .!= b["target"]!).any(dims: [1], keepDim: true)
    #expect(try cut.logicalAnd(b["mask"]! .< 0.5).any().item() == .bool(false))
    #expect(try b["mask"]!.sum().item(Double.self) > 0)
  }

  /// Namespaced sub-pipelines (a multi-task loader): one decode feeds each, slots come back as `prefix/slot`,
  /// and a sub-pipeline's draws are its own: adding a sibling before it changes none of its slots.
  @Test func namespacedPipelinesDrawTheirOwnStreams() throws {
    let paths = try makeImages(4)
    let rotation = Pipeline.crop(size: 24, training: true).then(Rotate90())
    let views = Pipeline(decodeSide: 32, [Views([("view0", [Crop(size: 16, training: true)]), ("view1", [Crop(size: 16, training: true)])])])
    func batch(_ parts: [(String, Pipeline)]) throws -> [String: Tensor] {
      let p = Pipeline(decodeSide: 32, parts.map { Namespaced($0.0, $0.1) })
      return try #require(try ImageLoader(paths: paths, pipeline: p, batchSize: 4, shuffle: false).pass(epoch: 0).next())
    }
    let alone = try batch([("rotation", rotation)])
    let both = try batch([("simclr", views), ("rotation", rotation)])
    #expect(Set(alone.keys) == ["rotation/image", "rotation/rotation"])
    #expect(Set(both.keys) == ["rotation/image", "rotation/rotation", "simclr/view0", "simclr/view1"])
    #expect(try alone["rotation/image"]!.equal(both["rotation/image"]!) && alone["rotation/rotation"]!.equal(both["rotation/rotation"]!))
  }
}
