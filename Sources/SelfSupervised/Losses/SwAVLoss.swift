// SwAV's swapped prediction and the Sinkhorn-Knopp codes it predicts.
import ImageData
import Torch

/// lightly's `sinkhorn`: codes for `scores` (rows: samples, columns: prototypes) whose prototypes are used
/// equally over the rows, by `iterations` of Sinkhorn-Knopp on exp(scores / ε); each row sums to 1. No gradient.
/// With `group` (data-parallel; lightly's gather_distributed) the prototypes are balanced over every rank's rows:
/// the total and the prototypes' sums are all-reduced, so each rank's codes are its rows of one process's.
public func sinkhorn(_ scores: Tensor, iterations: Int, epsilon: Double, group: ProcessGroup? = nil) throws -> Tensor {
  try withNoGrad {
    var q = try (scores.to(dtype: .float32) / epsilon).exp().transpose(0, 1)
    var b = Double(scores.shape[0])
    if let group {
      // The total mass and the number of rows over every rank (ranks may hold different numbers of rows).
      let sums = try Tensor.cat([q.sum().reshape([1]), Tensor([Float(b)])])
      try group.allReduceSum([sums])
      q = try q / sums[0]
      b = try sums[1].item().doubleValue
    } else {
      q = try q / q.sum()
    }
    // Rows (prototypes) to equal mass, then columns (samples) to 1/B. The paper's code also divides by K
    // after the rows; the column step undoes that scale, and lightly leaves it out: so do we.
    for _ in 0..<iterations {
      let mass = try q.sum(dims: [1], keepDim: true)
      try group?.allReduceSum([mass])
      q = try q / mass
      q = try q / q.sum(dims: [0], keepDim: true) / b
    }
    return try (q * b).transpose(0, 1)
  }
}

/// lightly's SwaVLoss: for each high-resolution crop i, Sinkhorn codes of its scores (with the queue's scores
/// of crop i appended when given; codes kept for the batch rows) are the targets of every other crop's
/// softmax(scores / τ); the cross-entropies averaged over the other crops, then over i.
/// `group`: Sinkhorn over every rank's rows (data-parallel), in training only — validation passes (no grad) keep
/// to their rank, whose contiguous part of val/ need not have as many batches as the others'.
public func swavLoss(high: [Tensor], low: [Tensor], queue: [Tensor]? = nil, temperature: Double = 0.1,
                     iterations: Int = 3, epsilon: Double = 0.05, group: ProcessGroup? = nil) throws -> Tensor {
  let crops = high.count + low.count
  let group = isGradEnabled ? group : nil
  func crossEntropy(_ z: Tensor, _ q: Tensor) throws -> Tensor {
    try (q * logSoftmax(z / temperature, dim: 1)).sum(dims: [1]).mean().neg()
  }
  var total: Tensor?
  for i in high.indices {
    let codes = try withNoGrad {
      let n = high[i].shape[0]
      let scores = try queue.map { try Tensor.cat([high[i].detach().to(dtype: $0[i].dtype), $0[i].detach()]) } ?? high[i].detach()
      return try sinkhorn(scores, iterations: iterations, epsilon: epsilon, group: group).narrow(dim: 0, start: 0, length: n)
    }
    var sub: Tensor?
    for v in high.indices where v != i { sub = try sub.map { try $0 + crossEntropy(high[v], codes) } ?? crossEntropy(high[v], codes) }
    for l in low { sub = try sub.map { try $0 + crossEntropy(l, codes) } ?? crossEntropy(l, codes) }
    guard let sub else { throw ImageError(path: nil, "SwAV needs at least two crops") }
    let term = try sub / Double(crops - 1)
    total = try total.map { try $0 + term } ?? term
  }
  guard let total else { throw ImageError(path: nil, "SwAV needs a high-resolution crop") }
  return try total / Double(high.count)
}
