import Foundation
import Testing
@testable import ImageData
import SelfSupervised  // PatchMask and Rotate90, tasks' views
@testable import Torch

/// Transforms make their images and masks in the item's rows of the batch when the loader lends them
/// (`Item.makeImage`), so storing an item copies nothing. Whatever the transforms do with those images — move
/// them to other slots, keep a second reference, change them in place — the batch must be the one made from items
/// made alone, byte for byte.
@Suite struct BatchRowsTests {
  /// Swaps two slots' images (each made in the other's row).
  struct Swap: ItemTransform {
    func apply(_ item: inout Item, rng: inout SplitMix64) throws {
      let (a, b) = (try item.image("a"), try item.image("b"))
      (item.images["a"], item.images["b"]) = (b, a)
    }
  }
  /// Keeps the image as `kept` by reference (one storage, in the image's row, for two slots).
  struct KeepShared: ItemTransform {
    func apply(_ item: inout Item, rng: inout SplitMix64) throws { item.images["kept"] = try item.image("image") }
  }

  /// The batches of a `.bytes` loader on `workers` threads, and the same batches put together from the loader's
  /// items made one at a time outside any batch (no rows lent), as bytes per slot.
  static func compare(_ pipeline: Pipeline, workers: Int, paths: [String]) throws -> ImageLoader {
    let loader = ImageLoader(paths: paths, pipeline: pipeline, batchSize: 3, shuffle: true, seed: 11, workers: workers, samples: .bytes)
    let order = loader.order(epoch: 2)
    let pass = loader.pass(epoch: 2)
    var b = 0
    while let batch = try pass.next() {
      let items = try (0..<3).map { try loader.item(order[b * 3 + $0], epoch: 2) }
      for (name, t) in batch {
        guard t.dtype != .int64 else {
          #expect(try t.toArray(of: Int64.self) == items.map { Int64($0.integers[name]!) }, "batch \(b), slot \(name)")
          continue
        }
        let rows = try t.permute([0, 2, 3, 1]).contiguous().toArray(of: UInt8.self)
        let want = items.flatMap { $0.images[name]?.pixels ?? $0.masks[name]!.values }
        #expect(rows == want, "batch \(b), slot \(name), \(workers) workers")
      }
      #expect(Set(batch.keys) == Set(items[0].images.keys.filter { $0 != "source" }).union(items[0].masks.keys).union(items[0].integers.keys))
      b += 1
    }
    #expect(b == paths.count / 3)
    return loader
  }

  @Test func imagesMadeInTheirRowsGiveTheBatchOfItemsMadeAlone() throws {
    let paths = try makeImages(9)
    let crop = Pipeline.crop(size: 24, training: true)
    let inpainting = crop.then(Cutout(RandomCutout(count: 2...4, size: 3...9)))
    for workers in [1, 3] {
      let loader = try Self.compare(inpainting, workers: workers, paths: paths)
      if workers == 1 {
        // One worker makes a batch's first item before its tensors exist (copied), then the others in their rows:
        // 3 batches × 2 items × 3 slots (image, target, mask) in place, the 3 first items' 9 copied.
        #expect((loader.storeCounts.madeInRows, loader.storeCounts.copiedOrConverted) == (18, 9))
      }
      _ = try Self.compare(crop.then(Rotate90()), workers: workers, paths: paths)
      _ = try Self.compare(crop.then(PatchMask(grid: 4, ratio: 0.5)).then(Solarize(p: 0.7)), workers: workers, paths: paths)
      _ = try Self.compare(crop.then(ColorJitter(p: 1)).then(Grayscale(p: 0.5)).then(GaussianBlur(p: 1)), workers: workers, paths: paths)
      // Views and namespaced pipelines make their slots in the rows of the names they end up under.
      let views = Views([("view0", [Crop(size: 24, training: true), ColorJitter(p: 1)]),
                         ("view1", [Crop(size: 16, training: true), Cutout(RandomCutout(count: 1...2, size: 2...5), keep: nil)])])
      _ = try Self.compare(Pipeline(decodeSide: 24, [views]), workers: workers, paths: paths)
      _ = try Self.compare(Pipeline(decodeSide: 24, [Namespaced("rotation", crop.then(Rotate90())), Namespaced("inpainting", inpainting)]),
                           workers: workers, paths: paths)
      // Moved and shared images: made in one slot's row, stored in another's, or in two slots while one changes.
      let two = Pipeline(decodeSide: 24, [Crop(size: 24, training: true, to: "a"), Crop(size: 24, training: true, to: "b"), Swap()])
      _ = try Self.compare(two, workers: workers, paths: paths)
      _ = try Self.compare(crop.then(KeepShared()).then(Solarize(p: 1)).then(Cutout(RandomCutout(), keep: "target")), workers: workers, paths: paths)
      _ = try Self.compare(crop.then(KeepShared()).then(Cutout(RandomCutout(), keep: "target", mask: nil)), workers: workers, paths: paths)
    }
  }

  /// Copies of an image or mask share their samples until one changes: the change copies first.
  @Test func changingACopyLeavesTheOriginal() throws {
    let a = Image(width: 2, height: 1, pixels: [1, 2, 3, 4, 5, 6])
    var b = a
    b.withUnsafeMutableBytes { $0[0] = 9 }
    #expect(a.pixels == [1, 2, 3, 4, 5, 6] && b.pixels == [9, 2, 3, 4, 5, 6] && a != b)
    var c = a, g = SplitMix64(seed: 1)
    _ = RandomCutout(count: 1...1, size: 9...9).cut(&c, rng: &g)
    #expect(a.pixels == [1, 2, 3, 4, 5, 6] && c.pixels == [0, 0, 0, 0, 0, 0])
    let m = Mask(width: 2, height: 2, fill: 7)
    var n = m
    n.withUnsafeMutableBytes { $0[3] = 1 }
    #expect(m.values == [7, 7, 7, 7] && n.values == [7, 7, 7, 1])
    var d = a
    d.pixels = [6, 5, 4, 3, 2, 1]
    #expect(a.pixels == [1, 2, 3, 4, 5, 6] && d == Image(width: 2, height: 1, pixels: [6, 5, 4, 3, 2, 1]))
  }
}
