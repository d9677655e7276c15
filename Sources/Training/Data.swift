import Torch

/// One pass over a source's batches. `next()` throws when a batch cannot be made (an unreadable file, a
/// failed device move): an epoch never ends early in silence.
public struct BatchStream {
  let pull: () throws -> (input: Tensor, target: Tensor)?
  public init(_ pull: @escaping () throws -> (input: Tensor, target: Tensor)?) { self.pull = pull }
  /// The next batch, nil at the end of the pass.
  public func next() throws -> (input: Tensor, target: Tensor)? { try pull() }
  /// Every remaining batch.
  public func all() throws -> [(input: Tensor, target: Tensor)] {
    var out: [(input: Tensor, target: Tensor)] = []
    while let b = try next() { out.append(b) }
    return out
  }
  /// Each batch transformed by `f` (errors from `f` end the pass with that error).
  public func map(_ f: @escaping (Tensor, Tensor) throws -> (input: Tensor, target: Tensor)) -> BatchStream {
    BatchStream { try pull().map { try f($0.input, $0.target) } }
  }
}

/// What the learner trains on: batches of (input, target), reshuffled every epoch.
public protocol BatchSource {
  /// Batches in one pass; `epoch` seeds the shuffling, so a resumed run sees the same batches.
  func batches(epoch: Int) throws -> BatchStream
  /// How many batches one pass yields.
  var batchCount: Int { get }
}

/// Batches from tensors in memory (dim 0 indexes the items): shuffled by a generator seeded from
/// (seed, epoch), the last incomplete batch dropped when `dropLast`.
public struct TensorBatches: BatchSource {
  public let inputs: Tensor
  public let targets: Tensor
  public let batchSize: Int
  public let shuffle: Bool
  public let dropLast: Bool
  public let seed: UInt64

  public init(inputs: Tensor, targets: Tensor, batchSize: Int, shuffle: Bool, dropLast: Bool? = nil, seed: UInt64 = 0) {
    precondition(inputs.shape[0] == targets.shape[0], "inputs and targets differ in length")
    precondition(batchSize > 0, "batch size must be positive")
    (self.inputs, self.targets, self.batchSize, self.shuffle) = (inputs, targets, batchSize, shuffle)
    self.dropLast = dropLast ?? shuffle
    self.seed = seed
  }

  var itemCount: Int { inputs.shape[0] }

  public var batchCount: Int { dropLast ? itemCount / batchSize : (itemCount + batchSize - 1) / batchSize }

  public func batches(epoch: Int) throws -> BatchStream {
    let order = shuffle
      ? try Tensor.randperm(itemCount, generator: Generator(seed: seed &+ UInt64(epoch) &* 0x9E37_79B9_7F4A_7C15))
      : try Tensor.arange(0, .int(itemCount))
    var b = 0
    let (count, size, n) = (batchCount, batchSize, itemCount)
    return BatchStream {
      guard b < count else { return nil }
      defer { b += 1 }
      let idx = try order.narrow(dim: 0, start: b * size, length: Swift.min(size, n - b * size))
      return (try inputs.indexSelect(dim: 0, index: idx), try targets.indexSelect(dim: 0, index: idx))
    }
  }
}
