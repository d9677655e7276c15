import Torch

/// Two sources in step, as semi-supervised training reads them: each batch of `primary` (the labelled images:
/// the epoch is its pass) with the next batch of `secondary` (the unlabelled images, their own pipeline and
/// batch size), whose tensors are named `prefix + name`. The secondary runs through as many passes of its own
/// as an epoch needs, cycling when it is the shorter and cut where the epoch ends when it is the longer. Pass j
/// of epoch e is the secondary's pass `e · passesPerEpoch + j`, so an epoch's batches depend on (seed, e) alone:
/// any worker count, and a run resumed at epoch e, draw the same.
public struct PairedBatches: BatchSource {
  public let primary: BatchSource
  public let secondary: BatchSource
  public let prefix: String

  public init(_ primary: BatchSource, with secondary: BatchSource, prefix: String) {
    (self.primary, self.secondary, self.prefix) = (primary, secondary, prefix)
  }

  public var batchCount: Int { primary.batchCount }

  /// The secondary's passes an epoch starts (at least one).
  public var passesPerEpoch: Int {
    let per = secondary.batchCount
    return per == 0 ? 1 : Swift.max(1, (primary.batchCount + per - 1) / per)
  }

  public func batches(epoch: Int) throws -> BatchStream {
    guard secondary.batchCount > 0 else {
      throw FitError("the unlabelled stream makes no batch (fewer images than its batch size): nothing to pair the labelled batches with")
    }
    let first = try primary.batches(epoch: epoch)
    let (secondary, prefix, passes) = (secondary, prefix, passesPerEpoch)
    var pass = 0
    var second = try secondary.batches(epoch: epoch * passes)
    return BatchStream {
      guard var batch = try first.next() else { return nil }
      var other = try second.next()
      if other == nil {
        pass += 1
        second = try secondary.batches(epoch: epoch * passes + pass)
        other = try second.next()
      }
      guard let other else { throw FitError("the unlabelled stream ended its pass without a batch") }
      for (name, t) in other.tensors { batch[prefix + name] = t }
      return batch
    }
  }
}
