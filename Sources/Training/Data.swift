import Torch

/// What the learner trains on: batches of (input, target), reshuffled every epoch.
public protocol BatchSource {
  /// Batches in one pass; `epoch` seeds the shuffling, so a resumed run sees the same batches.
  func batches(epoch: Int) throws -> AnyIterator<(input: Tensor, target: Tensor)>
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
    (self.inputs, self.targets, self.batchSize, self.shuffle) = (inputs, targets, batchSize, shuffle)
    self.dropLast = dropLast ?? shuffle
    self.seed = seed
  }

  var itemCount: Int { inputs.shape[0] }

  public var batchCount: Int { dropLast ? itemCount / batchSize : (itemCount + batchSize - 1) / batchSize }

  public func batches(epoch: Int) throws -> AnyIterator<(input: Tensor, target: Tensor)> {
    let order = shuffle
      ? try Tensor.randperm(itemCount, generator: Generator(seed: seed &+ UInt64(epoch) &* 0x9E37_79B9_7F4A_7C15))
      : try Tensor.arange(0, .int(itemCount))
    var b = 0
    let (count, size, n) = (batchCount, batchSize, itemCount)
    return AnyIterator {
      guard b < count else { return nil }
      defer { b += 1 }
      let length = Swift.min(size, n - b * size)
      guard let idx = try? order.narrow(dim: 0, start: b * size, length: length),
        let x = try? inputs.indexSelect(dim: 0, index: idx), let y = try? targets.indexSelect(dim: 0, index: idx)
      else { return nil }
      return (x, y)
    }
  }
}
