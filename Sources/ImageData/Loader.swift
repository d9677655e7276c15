import Foundation
import Torch

/// What a batch pairs each image with.
public enum LoaderTask: Sendable {
  /// (image, class index): the downstream classifier.
  case classification
  /// (image with cutout holes, the untouched image): the inpainting pretext. Holes are cut in validation
  /// too, as the study did.
  case inpainting(RandomCutout)
}

/// Batches of images decoded and augmented on worker threads, `prefetch` batches ahead, as NCHW float
/// tensors in [0, 1] (channels-last in memory). Every random choice comes from a generator seeded by (seed, epoch, item), and the
/// order from (seed, epoch), so the batches are the same whatever the number of workers.
public final class ImageLoader: @unchecked Sendable {
  public let paths: [String]
  public let labels: [Int]?
  public let task: LoaderTask
  public let crop: RandomResizedCrop
  public let training: Bool
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
    paths: [String], labels: [Int]? = nil, task: LoaderTask, size: Int, training: Bool, batchSize: Int,
    shuffle: Bool? = nil, dropLast: Bool? = nil, seed: UInt64 = 0, workers: Int = ProcessInfo.processInfo.activeProcessorCount,
    prefetch: Int = 2, cacheSide: Int? = nil
  ) {
    precondition(labels == nil || labels!.count == paths.count, "labels and paths differ in length")
    precondition(batchSize > 0 && size > 0, "batch size and image size must be positive")
    if case .classification = task { precondition(labels != nil, "classification needs labels") }
    (self.paths, self.labels, self.task, self.training, self.batchSize) = (paths, labels, task, training, batchSize)
    crop = RandomResizedCrop(size: size)
    self.shuffle = shuffle ?? training
    self.dropLast = dropLast ?? training
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

  /// One augmented item: the network input and (for inpainting) the target image.
  func item(_ index: Int, epoch: Int) throws -> (RGBImage, RGBImage) {
    var rng = SplitMix64.forItem(seed: seed, epoch: epoch, item: index)
    let img = try crop(try load(index), training: training, flip: true, rng: &rng)
    if case .inpainting(let cutout) = task { return (cutout(img, rng: &rng).0, img) }
    return (img, img)
  }

  /// The decoded image; a file that does not decode is an error naming it (a dataset is scanned before
  /// training, so this is a file that changed or broke since: never trained on as a black image).
  func load(_ index: Int) throws -> RGBImage {
    if cacheSide != nil, let hit = cache.get(index) { return hit }
    // Decode at the smallest DCT scale that still covers what the crop needs.
    let need = cacheSide ?? crop.size
    let decoded = try ImageCodec.decode(contentsOf: paths[index], minSide: need)
    guard let side = cacheSide else { return decoded }
    let short = Swift.min(decoded.width, decoded.height)
    let base = short > side ? try decoded.resized(to: decoded.width * side / short, decoded.height * side / short) : decoded
    cache.set(index, base)
    return base
  }

  /// Builds batch `b` of `epoch` with `workers` threads. Each worker writes its items' pixels as floats in
  /// [0, 1] straight into the batch buffer, which libtorch then takes without a copy: N×H×W×3 memory seen as
  /// an NCHW tensor in channels-last layout (what the study's models use; `.contiguous()` gives plain NCHW).
  func batch(_ b: Int, order: [Int], epoch: Int) throws -> (input: Tensor, target: Tensor) {
    let lo = b * batchSize, n = Swift.min(batchSize, paths.count - lo)
    let side = crop.size, plane = side * side * 3
    let inputs = UnsafeMutablePointer<Float>.allocate(capacity: n * plane)
    let targets: UnsafeMutablePointer<Float>? = {
      if case .inpainting = task { return .allocate(capacity: n * plane) }
      return nil
    }()
    nonisolated(unsafe) let (inBuf, outBuf) = (inputs, targets)
    /// Pixels to floats as `float(x) / 255`, as the uint8 → float tensor division did (bit for bit).
    @Sendable func store(_ img: RGBImage, _ dst: UnsafeMutablePointer<Float>) {
      img.pixels.withUnsafeBufferPointer { src in
        for k in 0..<plane { dst[k] = Float(src[k]) / 255 }
      }
    }
    let chunks = Swift.min(workers, n)
    let firstError = FirstError()
    DispatchQueue.concurrentPerform(iterations: chunks) { c in
      var i = c
      while i < n {  // worker c takes items c, c + chunks, …: a fixed assignment, so no races on slots
        do {
          let (x, y) = try item(order[lo + i], epoch: epoch)
          store(x, inBuf.advanced(by: i * plane))
          if let outBuf { store(y, outBuf.advanced(by: i * plane)) }
        } catch {
          firstError.record(i, error is ImageError ? error : ImageError(path: paths[order[lo + i]], "\(error)"))
        }
        i += chunks
      }
    }
    if let error = firstError.error {
      inputs.deallocate()
      targets?.deallocate()
      throw error
    }
    func tensor(_ p: UnsafeMutablePointer<Float>) throws -> Tensor {
      try Tensor(bytesNoCopy: p, shape: [n, side, side, 3], dtype: .float32) { p.deallocate() }.permute([0, 3, 1, 2])
    }
    let x = try tensor(inputs)
    if let targets { return (x, try tensor(targets)) }
    let y = try Tensor(order[lo..<(lo + n)].map { Int64(labels![$0]) })
    return (x, y)
  }

  /// The batches of one epoch, produced ahead on a background thread (at most `prefetch` waiting).
  public func pass(epoch: Int) -> Pass {
    let order = order(epoch: epoch)
    let queue = BoundedQueue<Result<(input: Tensor, target: Tensor), Error>?>(capacity: prefetch)
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
    let stop: Closer<Result<(input: Tensor, target: Tensor), Error>?>  // released with the pass: frees the producer
    var finished = false
    init(_ stop: Closer<Result<(input: Tensor, target: Tensor), Error>?>) { self.stop = stop }
    public func next() throws -> (input: Tensor, target: Tensor)? {
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
