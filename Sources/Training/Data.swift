import Torch

/// A batch: named tensors, dim 0 indexing the items (e.g. `image`, `label`, `target`, `mask`, `view0`,
/// `view1`). What a name means is the business of the step that reads it; callbacks may rewrite a batch in
/// `beforeBatch` (the learner reads it back), as in fastai.
public struct Batch: @unchecked Sendable {
  public var tensors: [String: Tensor]
  public init(_ tensors: [String: Tensor] = [:]) { self.tensors = tensors }

  public subscript(_ name: String) -> Tensor? {
    get { tensors[name] }
    set { tensors[name] = newValue }
  }

  /// The named tensor; its absence is an error naming what the batch holds.
  public func require(_ name: String) throws -> Tensor {
    guard let t = tensors[name] else {
      throw FitError("the batch has no '\(name)' (it holds \(tensors.keys.sorted().joined(separator: ", ")))")
    }
    return t
  }

  /// Items in the batch: dim 0 of its own tensors (0 when empty). A name with a `/` is another stream's or a task's
  /// slot (`unlabelled/image`, `rotation/image`), whose batch may be of another size; the batch's own tensors are
  /// those without one, where there are any. Read from the first name in sorted order: a dictionary's order differs
  /// from process to process, and a loss averaged by this count must not.
  public var count: Int {
    let names = tensors.keys.sorted()
    let own = names.first { !$0.contains("/") } ?? names.first
    return own.flatMap { tensors[$0]?.shape.first } ?? 0
  }

  /// Every tensor transformed by `f` (e.g. moved to a device).
  public func map(_ f: (String, Tensor) throws -> Tensor) throws -> Batch {
    var out = Batch()
    for (k, v) in tensors { out.tensors[k] = try f(k, v) }
    return out
  }
}

/// One pass over a source's batches. `next()` throws when a batch cannot be made (an unreadable file, a
/// failed device move): an epoch never ends early in silence.
public struct BatchStream {
  let pull: () throws -> Batch?
  public init(_ pull: @escaping () throws -> Batch?) { self.pull = pull }
  /// The next batch, nil at the end of the pass.
  public func next() throws -> Batch? { try pull() }
  /// Each batch transformed by `f` (errors from `f` end the pass with that error).
  public func map(_ f: @escaping (Batch) throws -> Batch) -> BatchStream {
    BatchStream { try pull().map(f) }
  }
}

/// What the learner trains on: batches of named tensors, reshuffled every epoch.
public protocol BatchSource {
  /// Batches in one pass; `epoch` seeds the shuffling, so a resumed run sees the same batches.
  func batches(epoch: Int) throws -> BatchStream
  /// How many batches one pass yields.
  var batchCount: Int { get }
}

/// Batches from tensors in memory (dim 0 indexes the items), as `image` and `label` (names settable):
/// shuffled by a generator seeded from (seed, epoch), the last incomplete batch dropped when `dropLast`.
public struct TensorBatches: BatchSource {
  public let inputs: Tensor
  public let targets: Tensor
  public let batchSize: Int
  public let shuffle: Bool
  public let dropLast: Bool
  public let seed: UInt64
  public let names: (input: String, target: String)
  /// Data parallelism: rank r of W takes items [n·r/W, n·(r+1)/W) of each batch of n (the order is one process's).
  public let shard: (rank: Int, count: Int)?

  public init(
    inputs: Tensor, targets: Tensor, batchSize: Int, shuffle: Bool, dropLast: Bool? = nil, seed: UInt64 = 0,
    names: (input: String, target: String) = ("image", "label"), shard: (rank: Int, count: Int)? = nil
  ) {
    self.shard = shard
    precondition(inputs.shape[0] == targets.shape[0], "inputs and targets differ in length")
    precondition(batchSize > 0, "batch size must be positive")
    (self.inputs, self.targets, self.batchSize, self.shuffle) = (inputs, targets, batchSize, shuffle)
    self.dropLast = dropLast ?? shuffle
    (self.seed, self.names) = (seed, names)
  }

  var itemCount: Int { inputs.shape[0] }

  public var batchCount: Int { dropLast ? itemCount / batchSize : (itemCount + batchSize - 1) / batchSize }

  public func batches(epoch: Int) throws -> BatchStream {
    let order = shuffle
      ? try Tensor.randperm(itemCount, generator: Generator(seed: seed &+ UInt64(epoch) &* 0x9E37_79B9_7F4A_7C15))
      : try Tensor.arange(0, .int(itemCount))
    var b = 0
    let (count, size, n, names, shard) = (batchCount, batchSize, itemCount, names, shard)
    return BatchStream {
      guard b < count else { return nil }
      defer { b += 1 }
      var items = (b * size)..<(b * size + Swift.min(size, n - b * size))
      if let shard { items = shardRange(start: items.lowerBound, count: items.count, rank: shard.rank, of: shard.count) }
      let idx = try order.narrow(dim: 0, start: items.lowerBound, length: items.count)
      return Batch([names.input: try inputs.indexSelect(dim: 0, index: idx), names.target: try targets.indexSelect(dim: 0, index: idx)])
    }
  }
}
