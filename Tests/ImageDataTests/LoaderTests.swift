import Foundation
import Testing
@testable import ImageData
@testable import Torch

/// A folder of `n` distinct 48×40 JPEGs (and their paths).
func makeImages(_ n: Int) throws -> [String] {
  let dir = NSTemporaryDirectory() + "pretext-load-\(UUID().uuidString)"
  try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
  return try (0..<n).map { i in
    var p: [UInt8] = []
    for y in 0..<40 { for x in 0..<48 { p += [UInt8((x * 5 + i * 30) % 256), UInt8((y * 6 + i * 7) % 256), UInt8(i * 20 % 256)] } }
    let path = "\(dir)/\(i).jpg"
    FileManager.default.createFile(atPath: path, contents: Data(try ImageCodec.encodeJPEG(p, width: 48, height: 40)))
    return path
  }
}

func collect(_ loader: ImageLoader, epoch: Int) throws -> [(Tensor, Tensor)] {
  let pass = loader.pass(epoch: epoch)
  var out: [(Tensor, Tensor)] = []
  while let b = try pass.next() { out.append((b["image"]!, b["label"] ?? b["target"]!)) }
  return out
}

@Suite struct LoaderTests {
  @Test func sameSeedSameBatchesWhateverTheWorkers() throws {
    let paths = try makeImages(10)
    let labels = (0..<10).map { $0 % 3 }
    func run(_ workers: Int) throws -> [(Tensor, Tensor)] {
      try collect(ImageLoader(paths: paths, labels: labels, pipeline: .crop(size: 32, training: true), 
                              batchSize: 4, shuffle: true, seed: 7, workers: workers), epoch: 1)
    }
    let one = try run(1), two = try run(2), three = try run(3)
    #expect(one.count == 2)  // 10 items, batch 4, drop-last in training
    for (a, b) in Array(zip(one, two)) + Array(zip(one, three)) {
      #expect(try a.0.equal(b.0) && a.1.equal(b.1))
    }
    #expect(one[0].0.shape == [4, 3, 32, 32] && one[0].0.dtype == .float32)
    #expect(try one[0].0.min().item(Double.self) >= 0 && one[0].0.max().item(Double.self) <= 1)
    // Another epoch reshuffles; another seed differs.
    let epoch2 = try collect(ImageLoader(paths: paths, labels: labels, pipeline: .crop(size: 32, training: true), 
                                         batchSize: 4, shuffle: true, seed: 7, workers: 2), epoch: 2)
    #expect(try !epoch2[0].0.equal(one[0].0))
  }

  @Test func labelsFollowTheirImagesAndValidationKeepsEverything() throws {
    let paths = try makeImages(6)
    let labels = [0, 1, 2, 0, 1, 2]
    let loader = ImageLoader(paths: paths, labels: labels, pipeline: .crop(size: 24, training: false),  batchSize: 4, shuffle: false)
    let batches = try collect(loader, epoch: 0)
    #expect(batches.map { $0.0.shape[0] } == [4, 2])  // no drop-last, no shuffle in validation
    #expect(try batches.flatMap { try $0.1.toArray(of: Int64.self) } == labels.map(Int64.init))
    // Validation is deterministic across epochs.
    #expect(try collect(loader, epoch: 5)[0].0.equal(batches[0].0))
  }

  @Test func inpaintingInputHasHolesAndTargetIsTheImage() throws {
    let paths = try makeImages(4)
    let loader = ImageLoader(paths: paths, pipeline: Pipeline.crop(size: 32, training: false).then(Cutout(RandomCutout(count: 2...2, size: 6...6))),  batchSize: 4, shuffle: false)
    let (x, y) = try collect(loader, epoch: 0)[0]
    let holes = try (x .== 0).logicalAnd(y .!= 0).to(dtype: .float32).sum().item(Double.self)
    #expect(holes > 0)  // cut pixels
    #expect(try (x .!= y).logicalAnd(x .!= 0).any().item() == .bool(false))  // everything else untouched
    // The target is exactly the clean validation image a classification loader gives.
    let clean = try collect(ImageLoader(paths: paths, labels: [0, 0, 0, 0], pipeline: .crop(size: 32, training: false),  batchSize: 4, shuffle: false), epoch: 0)[0].0
    #expect(try y.equal(clean))
  }

  /// `samples: .bytes` leaves 8-bit images and masks as uint8, and `ImageLoader.unitFloats` turns them into exactly
  /// the floats a `.unitFloats` loader writes (on any worker count); a batch with a 16-bit image in it is floats.
  @Test func byteSamplesBecomeTheSameFloats() throws {
    var paths = try makeImages(6)
    let pipeline = Pipeline.crop(size: 32, training: true).then(Cutout(RandomCutout(count: 2...3, size: 4...9)))
    func batches(_ paths: [String], _ samples: ImageLoader.SampleFormat, workers: Int) throws -> [[String: Tensor]] {
      let pass = ImageLoader(paths: paths, pipeline: pipeline, batchSize: 3, shuffle: true, seed: 3, workers: workers, samples: samples).pass(epoch: 1)
      var out: [[String: Tensor]] = []
      while let b = try pass.next() { out.append(b) }
      return out
    }
    let floats = try batches(paths, .unitFloats, workers: 1)
    for workers in [1, 2] {
      let bytes = try batches(paths, .bytes, workers: workers)
      #expect(bytes.count == 2 && floats.count == 2)
      for (f, b) in zip(floats, bytes) {
        #expect(Set(f.keys) == Set(b.keys) && f.keys.contains("mask"))
        for (k, t) in f {
          #expect(b[k]!.dtype == (t.dtype == .float32 ? .uint8 : t.dtype), "\(k)")
          let converted = try ImageLoader.unitFloats(b[k]!)
          #expect(converted.dtype == t.dtype && converted.shape == t.shape && converted.strides == t.strides, "\(k)")
          #expect(try converted.equal(t), "\(k) differs after the conversion")
        }
      }
    }
    // A 16-bit PNG among the JPEGs: the batch holding it comes out in floats, the same as a float loader's.
    var wide: [UInt8] = []
    for y in 0..<40 { for x in 0..<48 { for c in 0..<3 { wide += [UInt8((x * 3 + y + c * 50) % 256), UInt8(x * 5 % 256)] } } }
    let png = paths[0] + ".16.png"
    FileManager.default.createFile(atPath: png, contents: Data(try ImageCodec.encodePNG(wide, width: 48, height: 40, channels: 3, bitDepth: 16)))
    paths[4] = png
    let (f, b) = (try batches(paths, .unitFloats, workers: 2), try batches(paths, .bytes, workers: 2))
    #expect(b.map { $0["image"]!.dtype }.contains(.float32) && b.map { $0["image"]!.dtype }.contains(.uint8))
    for (x, y) in zip(f, b) {
      for (k, t) in x { #expect(try ImageLoader.unitFloats(y[k]!).equal(t), "\(k) differs in the batch with a 16-bit image") }
    }
  }

  @Test func cacheServesLaterEpochsWithoutTheFiles() throws {
    let paths = try makeImages(4)
    let loader = ImageLoader(paths: paths, pipeline: Pipeline.crop(size: 24, training: true).then(Cutout(RandomCutout())),  batchSize: 2, shuffle: true,
                             cacheSide: 32)
    let first = try collect(loader, epoch: 0)
    #expect(loader.cache.bytes > 0 && loader.cache.bytes <= 4 * 39 * 32 * 3)  // at most the base size
    for p in paths { try FileManager.default.removeItem(atPath: p) }
    let again = try collect(loader, epoch: 0)  // would throw, naming a file, on any decode
    for (a, b) in zip(first, again) { #expect(try a.0.equal(b.0)) }
  }

  @Test func stoppingEarlyReleasesTheProducer() throws {
    let paths = try makeImages(8)
    let loader = ImageLoader(paths: paths, labels: Array(repeating: 0, count: 8), pipeline: .crop(size: 16, training: true),  batchSize: 1, shuffle: true, prefetch: 1)
    for _ in 0..<20 {
      let it = loader.pass(epoch: 0)
      _ = try it.next()  // take one batch and walk away; the producer must not stay blocked forever
    }
    #expect(true)
  }

  /// Issue 12, item 3: a file that fails to decode while loading is an error naming it (the pass ends with
  /// that error), never a black image trained with its label; the batches before it came through.
  @Test func unreadableFileStopsThePassNamingIt() throws {
    var paths = try makeImages(3)
    let bad = paths[0] + ".broken.jpg"
    FileManager.default.createFile(atPath: bad, contents: Data([0xFF, 0xD8, 0xFF, 0x00]))
    paths.append(bad)
    let loader = ImageLoader(paths: paths, labels: [0, 0, 0, 0], pipeline: .crop(size: 16, training: false),  batchSize: 2, shuffle: false,
                             workers: 2)
    let pass = loader.pass(epoch: 0)
    #expect(try pass.next() != nil)  // items 0 and 1
    #expect { try pass.next() } throws: { "\($0)".contains("broken.jpg") && "\($0)".contains("batch 2 of epoch 1") }
    #expect(try pass.next() == nil)  // and it stays ended
  }

  /// Workers take items across batch boundaries, but never more than `prefetch` batches ahead of the consumer:
  /// with the consumer holding back, the items made stop at the batches it may have waiting.
  @Test func workersStayWithinThePrefetchBound() throws {
    let paths = try makeImages(24)
    let made = MadeCounter()
    let loader = ImageLoader(paths: paths, pipeline: Pipeline.crop(size: 16, training: true).then(made), batchSize: 2,
                             shuffle: true, workers: 3, prefetch: 2)
    let pass = loader.pass(epoch: 0)
    _ = try #require(try pass.next())
    Thread.sleep(forTimeInterval: 0.3)  // long enough for 3 workers to make every item, were they not held back
    // Taken 1: batches up to 1 + 2 may be made, 4 batches of 2 items (the 12 batches of the pass would be 24).
    #expect(made.count == 8)
    var rest = 1
    while try pass.next() != nil { rest += 1 }
    #expect(rest == 12 && made.count == 24)
  }

  /// The first item of a batch failing, with more workers than items: the batches before come through in
  /// order, the pass ends with the error naming that file, and the workers making later batches stop.
  @Test func aFirstItemThatFailsEndsThePassInOrder() throws {
    var paths = try makeImages(9)
    let bad = paths[0] + ".broken.jpg"
    FileManager.default.createFile(atPath: bad, contents: Data([0xFF, 0xD8, 0xFF, 0x00]))
    paths.insert(bad, at: 6)  // the first item of batch 3 (batch 3, not shuffled)
    let expected = try collect(ImageLoader(paths: Array(paths[0..<6]), labels: Array(repeating: 1, count: 6),
                                           pipeline: .crop(size: 16, training: false), batchSize: 3, shuffle: false, workers: 1), epoch: 0)
    for workers in [1, 4] {
      let pass = ImageLoader(paths: paths, labels: Array(repeating: 1, count: 10), pipeline: .crop(size: 16, training: false),
                             batchSize: 3, shuffle: false, workers: workers).pass(epoch: 0)
      for batch in expected { #expect(try pass.next()?["image"]?.equal(batch.0) == true) }
      #expect { try pass.next() } throws: { "\($0)".contains("broken.jpg") && "\($0)".contains("batch 3 of epoch 1") }
      #expect(try pass.next() == nil)
    }
  }
}

/// An item transform that changes nothing and counts the items it saw.
final class MadeCounter: ItemTransform, @unchecked Sendable {
  private var seen = 0
  private let lock = NSLock()
  func apply(_ item: inout Item, rng: inout SplitMix64) throws { lock.withLock { seen += 1 } }
  var count: Int { lock.withLock { seen } }
}
