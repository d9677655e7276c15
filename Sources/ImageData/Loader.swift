import CImage
import Foundation
import Torch

/// Batches of images decoded and transformed by a `Pipeline` on worker threads, `prefetch` batches ahead,
/// as named tensors: every slot the pipeline fills (images as NCHW float in [0, 1] — each sample ÷ 255, or
/// ÷ 65535 when 16-bit —, channels-last in memory, C the loader's `channels`;
/// masks as N×1×H×W float; integers as int64) and, when the loader has labels, `label`. With `samples: .bytes`
/// 8-bit images and masks stay uint8 (0…255), a quarter of the bytes to write and to move to a GPU, and the
/// consumer makes them floats where the batch is used (`ImageLoader.unitFloats`: bit for bit the same floats), as
/// fastai's batches are uint8 until its IntToFloatTensor on the device. Every random choice
/// comes from a generator seeded by (seed, epoch, item), and the order from (seed, epoch), so the batches
/// are the same whatever the number of workers. The loader knows images and labels, never tasks.
public final class ImageLoader: @unchecked Sendable {
  public typealias Tensors = [String: Tensor]
  public let paths: [String]
  public let labels: [Int]?
  public let pipeline: Pipeline
  public let batchSize: Int
  public let shuffle: Bool
  public let dropLast: Bool
  public let seed: UInt64
  public let workers: Int
  public let prefetch: Int
  /// When set, images are decoded once at this shorter side and kept in memory for later epochs.
  public let cacheSide: Int?
  /// The channels every decoded image is converted to before the pipeline: 3 (gray copied into RGB) or 1 (RGB
  /// turned to luma), what the model's stem takes.
  public let channels: Int
  /// Floats in [0, 1] out of the loader, or 8-bit samples left as bytes for the consumer to convert.
  public let samples: SampleFormat
  let cache: ImageCache
  /// Every batch's stores so far: how many images and masks were made where the batch holds them (no copy).
  public let storeCounts = StoreCounts()

  /// What a batch's images and masks hold.
  public enum SampleFormat: Sendable {
    /// float32, each sample ÷ 255 (÷ 65535 when 16-bit).
    case unitFloats
    /// uint8 for 8-bit images and masks; 16-bit images still float32 (a batch whose items mix 8- and 16-bit
    /// images is made in floats throughout). `ImageLoader.unitFloats` finishes the conversion.
    case bytes
  }

  public init(
    paths: [String], labels: [Int]? = nil, pipeline: Pipeline, batchSize: Int, shuffle: Bool, dropLast: Bool? = nil,
    seed: UInt64 = 0, workers: Int = ProcessInfo.processInfo.activeProcessorCount, prefetch: Int = 2, cacheSide: Int? = nil,
    shard: (rank: Int, count: Int)? = nil, itemOffset: Int = 0, channels: Int = 3, samples: SampleFormat = .unitFloats
  ) {
    precondition(channels == 1 || channels == 3, "a loader makes 1- or 3-channel images, not \(channels)")
    (self.channels, self.samples) = (channels, samples)
    (self.shard, self.itemOffset) = (shard, itemOffset)
    precondition(labels == nil || labels!.count == paths.count, "labels and paths differ in length")
    precondition(batchSize > 0 && pipeline.decodeSide > 0, "batch size and decode side must be positive")
    (self.paths, self.labels, self.pipeline, self.batchSize, self.shuffle) = (paths, labels, pipeline, batchSize, shuffle)
    self.dropLast = dropLast ?? shuffle
    (self.seed, self.workers, self.prefetch, self.cacheSide) = (seed, Swift.max(1, workers), Swift.max(1, prefetch), cacheSide)
    cache = ImageCache(count: cacheSide == nil ? 0 : paths.count)
  }

  /// Data parallelism: this rank's part of every batch. The order and every item's randomness are those of one
  /// process (`batchSize` stays the global batch); rank r of W gets items [n·r/W, n·(r+1)/W) of each batch of n,
  /// so W ranks together see exactly what one process would.
  public let shard: (rank: Int, count: Int)?
  /// These paths are items `itemOffset…` of a larger set (a rank's part of a validation set): each item's
  /// randomness is that of its number in the whole set, so the parts together give what the whole does.
  public let itemOffset: Int

  /// Bytes of decoded pixels held by the cache.
  public var cacheBytes: Int { cache.bytes }

  public var batchCount: Int { dropLast ? paths.count / batchSize : (paths.count + batchSize - 1) / batchSize }

  /// The item order of an epoch.
  public func order(epoch: Int) -> [Int] {
    var idx = Array(0..<paths.count)
    if shuffle {
      var g = SplitMix64.forItem(seed: seed, epoch: epoch, item: -1)
      idx.shuffle(using: &g)
    }
    return idx
  }

  /// One item of an epoch, through the pipeline.
  public func item(_ index: Int, epoch: Int) throws -> Item { try item(index, epoch: epoch, rows: nil) }

  /// The item, made in its rows of a batch where the transforms can (`Item.makeImage`).
  func item(_ index: Int, epoch: Int, rows: ItemRows?) throws -> Item {
    var rng = SplitMix64.forItem(seed: seed, epoch: epoch, item: itemOffset + index)
    return try pipeline.run(try load(index), rng: &rng, rows: rows)
  }

  /// The decoded image; a file that does not decode is an error naming it (a dataset is scanned before
  /// training, so this is a file that changed or broke since: never trained on as a black image).
  func load(_ index: Int) throws -> Image {
    if cacheSide != nil, let hit = cache.get(index) { return hit }
    // Decode at the smallest DCT scale that still covers what the pipeline needs.
    let need = cacheSide ?? pipeline.decodeSide
    let decoded = try ImageCodec.decode(contentsOf: paths[index], minSide: need, channels: channels)
    guard let side = cacheSide else { return decoded }
    let short = Swift.min(decoded.width, decoded.height)
    let base = short > side ? try decoded.resized(to: decoded.width * side / short, decoded.height * side / short) : decoded
    cache.set(index, base)
    return base
  }

  /// Where batch `b`'s items (this rank's, when sharded) start in the epoch's order, and how many there are.
  func itemRange(_ b: Int) throws -> (Int, Int) {
    let lo = b * batchSize, n = Swift.min(batchSize, paths.count - lo)
    guard let shard else { return (lo, n) }
    let r = shardRange(start: lo, count: n, rank: shard.rank, of: shard.count)
    guard !r.isEmpty else {
      throw ImageError(path: nil, "batch \(b + 1) has \(n) items: none for rank \(shard.rank) of \(shard.count) (the batch is smaller than the world)")
    }
    return (r.lowerBound, r.count)
  }

  /// The item at `position` of the epoch's order (made in `rows` where it can); an error names its file.
  func madeItem(_ position: Int, order: [Int], epoch: Int, rows: ItemRows? = nil) throws -> Item {
    do { return try item(order[position], epoch: epoch, rows: rows) } catch {
      throw error is ImageError ? error : ImageError(path: paths[order[position]], "\(error)")
    }
  }

  /// Batch `b` (items `lo..<lo+n` of the order) once every item is stored: the tensors, and its labels.
  func finished(_ layout: BatchLayout, lo: Int, n: Int, order: [Int]) throws -> Tensors {
    var out = try layout.tensors()
    if let labels { out["label"] = try Tensor(order[lo..<(lo + n)].map { Int64(labels[$0]) }) }
    return out
  }

  /// Batch `b` made again in floats on this thread: a `.bytes` batch with a 16-bit item after an 8-bit first one
  /// (16-bit samples have no uint8 form). Every item's draws are its own: the same items.
  func batchInFloats(_ b: Int, order: [Int], epoch: Int) throws -> Tensors {
    let (lo, n) = try itemRange(b)
    var layout: BatchLayout?
    for i in 0..<n {
      let item = try madeItem(lo + i, order: order, epoch: epoch)
      if layout == nil { layout = try BatchLayout(item, count: n, samples: .unitFloats, counts: storeCounts) }
      try layout!.store(item, at: i, path: paths[order[lo + i]])
    }
    return try finished(layout!, lo: lo, n: n, order: order)
  }

  /// The batches of one epoch, made ahead by `workers` threads (at most `prefetch` batches waiting; see
  /// `PassSchedule`).
  public func pass(epoch: Int) -> Pass {
    let schedule = PassSchedule(loader: self, order: order(epoch: epoch), epoch: epoch)
    schedule.start()
    return Pass(schedule)
  }

  /// A `samples: .bytes` batch's tensor as the floats a `.unitFloats` loader makes: a uint8 tensor (an image or
  /// mask slot) becomes float32 ÷ 255 on whatever device it is on (a GPU, after a quarter of the bytes crossed),
  /// keeping its memory layout; bit for bit the loader's own conversion. Any other tensor is returned as it is.
  public static func unitFloats(_ t: Tensor) throws -> Tensor {
    guard t.dtype == .uint8 else { return t }
    // ÷ a one-element tensor on t's device, not a Double: CUDA turns a division by a host scalar into a
    // multiplication by its reciprocal, which is not bit-identical (126 of the 256 values differ).
    return try t.to(dtype: .float32) / Tensor([Float(255)]).to(t.device)
  }

  /// One epoch's batches in order. `next()` throws the error that stopped the pass (the first file that
  /// failed, named): a pass never ends early in silence.
  public final class Pass {
    let schedule: PassSchedule
    var finished = false
    init(_ schedule: PassSchedule) { self.schedule = schedule }
    deinit { schedule.close() }  // the consumer went away: the workers stop
    public func next() throws -> Tensors? {
      guard !finished else { return nil }
      guard let next = schedule.take() else {
        finished = true
        return nil
      }
      do { return try next.get() } catch {
        finished = true
        throw error
      }
    }
  }
}

/// The tensors of one batch, shaped by its first item: a float (or byte) buffer per image and mask slot (written
/// by many workers, each into its own items' rows) and the integers.
final class BatchLayout: @unchecked Sendable {
  struct Slot {
    let name: String, width: Int, height: Int, channels: Int
    let tensor: Tensor
    /// The first sample: float32, or uint8 when `bytes`.
    let base: UnsafeMutableRawPointer
    let bytes: Bool
    var plane: Int { width * height * channels }
  }
  /// A 16-bit item met a byte slot (the first item was 8-bit): the batch is made again in floats.
  struct NeedsFloats: Error {}
  let images: [Slot], masks: [Slot]
  /// Integer slots: an int64 tensor each, written in place (each worker its own elements).
  let integers: [(name: String, tensor: Tensor, base: UnsafeMutablePointer<Int64>)]
  /// Where the stores are counted (the loader's).
  let counts: StoreCounts?

  init(_ first: Item, count n: Int, samples: ImageLoader.SampleFormat = .unitFloats, counts: StoreCounts? = nil) throws {
    self.counts = counts
    func slot(_ name: String, _ w: Int, _ h: Int, _ c: Int, bytes: Bool) throws -> Slot {
      let t = try Tensor.empty([n, h, w, c], dtype: bytes ? .uint8 : .float32)
      return Slot(name: name, width: w, height: h, channels: c, tensor: t, base: t.dataPointer!, bytes: bytes)
    }
    let bytes = samples == .bytes
    images = try first.images.keys.sorted().filter { $0 != "source" }.map { k in
      let img = first.images[k]!
      return try slot(k, img.width, img.height, img.channels, bytes: bytes && img.bitDepth == 8)
    }
    masks = try first.masks.keys.sorted().map { k in try slot(k, first.masks[k]!.width, first.masks[k]!.height, 1, bytes: bytes) }
    integers = try first.integers.keys.sorted().map { k in
      let t = try Tensor.empty([n], dtype: .int64)
      return (k, t, t.dataPointer!.assumingMemoryBound(to: Int64.self))
    }
  }

  /// Item `i`'s rows of the byte slots, for its transforms to make their images and masks in (`Item.makeImage`).
  func rows(for i: Int) -> ItemRows {
    var rows: [String: ItemRows.Row] = [:]
    for s in images + masks where s.bytes {
      rows[s.name] = ItemRows.Row(base: s.base.advanced(by: i * s.plane), width: s.width, height: s.height, channels: s.channels, owner: s.tensor)
    }
    return ItemRows(rows)
  }

  /// Writes item `i`'s samples as `float(x) / 255` (bit for bit what a uint8 → float division gives), or
  /// `/ 65535` for 16-bit samples, or as the bytes they are into a byte slot (nothing to do for an image made in
  /// its row); an item whose slots differ from the first's is an error naming its file.
  func store(_ item: Item, at i: Int, path: String) throws {
    func mismatch(_ s: Slot) -> ImageError {
      ImageError(path: path, "pipeline: slot '\(s.name)' is missing or not \(s.width)×\(s.height)×\(s.channels) like the batch's first item")
    }
    var sources: [(Slot, PixelStorage, bitDepth: Int)] = []
    for s in images {
      guard let img = item.images[s.name], img.width == s.width, img.height == s.height, img.channels == s.channels else { throw mismatch(s) }
      if s.bytes && img.bitDepth != 8 { throw NeedsFloats() }
      sources.append((s, img.storage, img.bitDepth))
    }
    for s in masks {
      guard let m = item.masks[s.name], m.width == s.width, m.height == s.height else { throw mismatch(s) }
      sources.append((s, m.storage, 8))
    }
    // A transform may have moved an image made in one slot's row to another slot (a lent row is the only memory
    // a storage borrows): such samples are copied out before any row is written, so that no row is overwritten
    // while it is still to be read.
    let row = { (s: Slot) in s.base.advanced(by: i * s.plane * (s.bytes ? 1 : MemoryLayout<Float>.size)) }
    sources = sources.map { s, storage, depth in (s, storage.owner != nil && storage.base != row(s) ? storage.copied() : storage, depth) }
    var inPlace = 0
    for (s, storage, depth) in sources {
      let plane = s.plane
      if s.bytes {
        if storage.base == row(s) { inPlace += 1 } else { row(s).copyMemory(from: storage.base, byteCount: plane) }
        continue
      }
      let dst = row(s).assumingMemoryBound(to: Float.self)
      if depth == 16 { ci_u16_to_unit_floats(storage.base.assumingMemoryBound(to: UInt16.self), dst, plane) }
      else { ci_bytes_to_unit_floats(storage.base.assumingMemoryBound(to: UInt8.self), dst, plane) }
    }
    counts?.add(inPlace: inPlace, copied: sources.count - inPlace)
    for s in integers {
      guard let v = item.integers[s.name] else { throw ImageError(path: path, "pipeline: no '\(s.name)' like the batch's first item") }
      s.base[i] = Int64(v)
    }
  }

  func tensors() throws -> [String: Tensor] {
    var out: [String: Tensor] = [:]
    for s in images + masks { out[s.name] = try s.tensor.permute([0, 3, 1, 2]) }
    for s in integers { out[s.name] = s.tensor }
    return out
  }
}

/// How many images and masks the loader stored that its transforms had made in their batch rows, and how many it
/// copied there or converted to floats.
public final class StoreCounts: @unchecked Sendable {
  private var inPlace = 0, copied = 0
  private let lock = NSLock()
  func add(inPlace i: Int, copied c: Int) { lock.withLock { (inPlace, copied) = (inPlace + i, copied + c) } }
  public var madeInRows: Int { lock.withLock { inPlace } }
  public var copiedOrConverted: Int { lock.withLock { copied } }
}

/// A batch the loader could not make, with the cause (an `ImageError` naming the file).
public struct LoaderError: Error, CustomStringConvertible, Sendable {
  public let batch: Int, epoch: Int
  public let underlying: Error
  public var description: String { "cannot load batch \(batch + 1) of epoch \(epoch + 1): \(underlying)" }
}

/// The first error (by item position) that parallel workers met.
final class FirstError: @unchecked Sendable {
  private var found: (Int, Error)?
  private var needsFloats = false
  private let lock = NSLock()
  func record(_ position: Int, _ error: Error) {
    lock.withLock {
      if error is BatchLayout.NeedsFloats { needsFloats = true }
      else if found == nil || position < found!.0 { found = (position, error) }
    }
  }
  var error: Error? { lock.withLock { found?.1 } }
  /// Some item was 16-bit where the batch's slot holds bytes (not an error: the batch is made again in floats).
  var sawNeedsFloats: Bool { lock.withLock { needsFloats } }
}

/// Decoded images kept in memory by index.
final class ImageCache: @unchecked Sendable {
  private var images: [Image?]
  private let lock = NSLock()
  init(count: Int) { images = Array(repeating: nil, count: count) }
  func get(_ i: Int) -> Image? { lock.withLock { images[i] } }
  func set(_ i: Int, _ img: Image) { lock.withLock { images[i] = img } }
  var bytes: Int { lock.withLock { images.reduce(0) { $0 + ($1?.byteCount ?? 0) } } }
}
