import Foundation
import Torch

/// Batches of images decoded and transformed by a `Pipeline` on worker threads, `prefetch` batches ahead,
/// as named tensors: every slot the pipeline fills (images as NCHW float in [0, 1], channels-last in memory;
/// masks as N×1×H×W float; integers as int64) and, when the loader has labels, `label`. Every random choice
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
  let cache: ImageCache

  public init(
    paths: [String], labels: [Int]? = nil, pipeline: Pipeline, batchSize: Int, shuffle: Bool, dropLast: Bool? = nil,
    seed: UInt64 = 0, workers: Int = ProcessInfo.processInfo.activeProcessorCount, prefetch: Int = 2, cacheSide: Int? = nil
  ) {
    precondition(labels == nil || labels!.count == paths.count, "labels and paths differ in length")
    precondition(batchSize > 0 && pipeline.decodeSide > 0, "batch size and decode side must be positive")
    (self.paths, self.labels, self.pipeline, self.batchSize, self.shuffle) = (paths, labels, pipeline, batchSize, shuffle)
    self.dropLast = dropLast ?? shuffle
    (self.seed, self.workers, self.prefetch, self.cacheSide) = (seed, Swift.max(1, workers), Swift.max(1, prefetch), cacheSide)
    cache = ImageCache(count: cacheSide == nil ? 0 : paths.count)
  }

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
  public func item(_ index: Int, epoch: Int) throws -> Item {
    var rng = SplitMix64.forItem(seed: seed, epoch: epoch, item: index)
    return try pipeline.run(try load(index), rng: &rng)
  }

  /// The decoded image; a file that does not decode is an error naming it (a dataset is scanned before
  /// training, so this is a file that changed or broke since: never trained on as a black image).
  func load(_ index: Int) throws -> RGBImage {
    if cacheSide != nil, let hit = cache.get(index) { return hit }
    // Decode at the smallest DCT scale that still covers what the pipeline needs.
    let need = cacheSide ?? pipeline.decodeSide
    let decoded = try ImageCodec.decode(contentsOf: paths[index], minSide: need)
    guard let side = cacheSide else { return decoded }
    let short = Swift.min(decoded.width, decoded.height)
    let base = short > side ? try decoded.resized(to: decoded.width * side / short, decoded.height * side / short) : decoded
    cache.set(index, base)
    return base
  }

  /// Builds batch `b` of `epoch` with `workers` threads: the items first, then each slot's values written as
  /// floats straight into a batch buffer that libtorch takes without a copy (an N×H×W×C buffer seen as an
  /// NCHW tensor in channels-last layout).
  func batch(_ b: Int, order: [Int], epoch: Int) throws -> Tensors {
    let lo = b * batchSize, n = Swift.min(batchSize, paths.count - lo)
    let chunks = Swift.min(workers, n)
    nonisolated(unsafe) var items = [Item?](repeating: nil, count: n)
    let firstError = FirstError()
    items.withUnsafeMutableBufferPointer { out in
      nonisolated(unsafe) let slots = out.baseAddress!  // worker c writes items c, c + chunks, …: its own slots only
      DispatchQueue.concurrentPerform(iterations: chunks) { c in
        var i = c
        while i < n {
          do { slots[i] = try item(order[lo + i], epoch: epoch) } catch {
            firstError.record(i, error is ImageError ? error : ImageError(path: paths[order[lo + i]], "\(error)"))
          }
          i += chunks
        }
      }
    }
    if let error = firstError.error { throw error }
    let done = items.map { $0! }
    var out = Tensors()
    let first = done[0]
    for name in first.images.keys.sorted() where name != "source" {
      let (w, h) = (first.images[name]!.width, first.images[name]!.height)
      out[name] = try collate(n, h, w, 3, chunks) { i in
        guard let img = done[i].images[name], img.width == w, img.height == h else {
          throw ImageError(path: paths[order[lo + i]], "pipeline: image '\(name)' is missing or not \(w)×\(h) like the batch's first")
        }
        return img.pixels
      }
    }
    for name in first.masks.keys.sorted() {
      let (w, h) = (first.masks[name]!.width, first.masks[name]!.height)
      out[name] = try collate(n, h, w, 1, chunks) { i in
        guard let m = done[i].masks[name], m.width == w, m.height == h else {
          throw ImageError(path: paths[order[lo + i]], "pipeline: mask '\(name)' is missing or not \(w)×\(h)")
        }
        return m.values
      }
    }
    for name in first.integers.keys.sorted() {
      out[name] = try Tensor(try done.indices.map { i -> Int64 in
        guard let v = done[i].integers[name] else { throw ImageError(path: paths[order[lo + i]], "pipeline: no '\(name)'") }
        return Int64(v)
      })
    }
    if let labels { out["label"] = try Tensor(order[lo..<(lo + n)].map { Int64(labels[$0]) }) }
    return out
  }

  /// n items of h×w×c bytes (from `bytes(i)`) as an n×c×h×w float tensor in [0, 1], channels-last in memory,
  /// converted on `chunks` threads as `float(x) / 255` (bit for bit what a uint8 → float division gives).
  func collate(_ n: Int, _ h: Int, _ w: Int, _ c: Int, _ chunks: Int, _ bytes: (Int) throws -> [UInt8]) throws -> Tensor {
    let plane = h * w * c
    let sources = try (0..<n).map(bytes)
    let buffer = UnsafeMutablePointer<Float>.allocate(capacity: n * plane)
    nonisolated(unsafe) let dst = buffer
    DispatchQueue.concurrentPerform(iterations: chunks) { k in
      var i = k
      while i < n {
        sources[i].withUnsafeBufferPointer { src in
          let d = dst.advanced(by: i * plane)
          for j in 0..<plane { d[j] = Float(src[j]) / 255 }
        }
        i += chunks
      }
    }
    return try Tensor(bytesNoCopy: buffer, shape: [n, h, w, c], dtype: .float32) { buffer.deallocate() }.permute([0, 3, 1, 2])
  }

  /// The batches of one epoch, produced ahead on a background thread (at most `prefetch` waiting).
  public func pass(epoch: Int) -> Pass {
    let order = order(epoch: epoch)
    let queue = BoundedQueue<Result<Tensors, Error>?>(capacity: prefetch)
    let count = batchCount
    let producer = Thread { [self] in
      for b in 0..<count {
        do {
          if !queue.put(.success(try self.batch(b, order: order, epoch: epoch))) { return }  // the consumer went away
        } catch {
          _ = queue.put(.failure(LoaderError(batch: b, epoch: epoch, underlying: error)))
          return
        }
      }
      _ = queue.put(nil)
    }
    producer.start()
    return Pass(Closer(queue))
  }

  /// One epoch's batches in order. `next()` throws the error that stopped the producer (the first file that
  /// failed, named): a pass never ends early in silence.
  public final class Pass {
    let stop: Closer<Result<Tensors, Error>?>  // released with the pass: frees the producer
    var finished = false
    init(_ stop: Closer<Result<Tensors, Error>?>) { self.stop = stop }
    public func next() throws -> Tensors? {
      guard !finished else { return nil }
      guard let next = stop.queue.take() else {
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

/// A batch the loader could not make, with the cause (an `ImageError` naming the file).
public struct LoaderError: Error, CustomStringConvertible, Sendable {
  public let batch: Int, epoch: Int
  public let underlying: Error
  public var description: String { "cannot load batch \(batch + 1) of epoch \(epoch + 1): \(underlying)" }
}

/// The first error (by item position) that parallel workers met.
final class FirstError: @unchecked Sendable {
  private var found: (Int, Error)?
  private let lock = NSLock()
  func record(_ position: Int, _ error: Error) {
    lock.withLock { if found == nil || position < found!.0 { found = (position, error) } }
  }
  var error: Error? { lock.withLock { found?.1 } }
}

/// Decoded images kept in memory by index.
final class ImageCache: @unchecked Sendable {
  private var images: [RGBImage?]
  private let lock = NSLock()
  init(count: Int) { images = Array(repeating: nil, count: count) }
  func get(_ i: Int) -> RGBImage? { lock.withLock { images[i] } }
  func set(_ i: Int, _ img: RGBImage) { lock.withLock { images[i] = img } }
  var bytes: Int { lock.withLock { images.reduce(0) { $0 + ($1?.pixels.count ?? 0) } } }
}

/// A blocking queue holding at most `capacity` elements (the loader's prefetch bound).
final class BoundedQueue<T>: @unchecked Sendable {
  private var items: [T] = []
  private let capacity: Int
  private let cond = NSCondition()
  private var closed = false

  init(capacity: Int) { self.capacity = capacity }

  /// Waits for room; false when the queue was closed.
  func put(_ item: T) -> Bool {
    cond.lock()
    defer { cond.unlock() }
    while items.count >= capacity && !closed { cond.wait() }
    if closed { return false }
    items.append(item)
    cond.broadcast()
    return true
  }

  func take() -> T {
    cond.lock()
    defer { cond.unlock() }
    while items.isEmpty { cond.wait() }
    let item = items.removeFirst()
    cond.broadcast()
    return item
  }

  func close() {
    cond.lock()
    closed = true
    cond.broadcast()
    cond.unlock()
  }
}

/// Closes a queue when released.
final class Closer<T>: @unchecked Sendable {
  let queue: BoundedQueue<T>
  init(_ queue: BoundedQueue<T>) { self.queue = queue }
  deinit { queue.close() }
}
