// SimCLR's contrastive loss.
import Torch

/// SimCLR's NT-Xent loss (lightly's NTXentLoss without a memory bank): each projection's positive is the other
/// view of its image, its negatives the other 2N − 2 projections; cross-entropy over cosine similarities / τ.
/// With `group` (data-parallel; lightly's gather_distributed) the keys are every rank's projections, gathered
/// differentiably: this rank's 2n queries against all 2N keys, so 2 ranks × n images see the negatives and the
/// loss 1 process × 2n images does (the mean of the ranks' losses is that loss; DDP averages the gradients).
/// Only where gradients are computed: a validation pass (no grad) uses its own rank's negatives, since the ranks'
/// contiguous parts of val/ need not have the same number of batches.
public func ntXentLoss(_ z0: Tensor, _ z1: Tensor, temperature: Double, group: ProcessGroup? = nil) throws -> Tensor {
  let n = z0.shape[0]
  let (q0, q1) = (try z0.normalized(), try z1.normalized())
  let queries = try Tensor.cat([q0, q1])
  var keys = queries, total = n, offset = 0
  if let group, group.worldSize > 1, isGradEnabled {
    let rows = try group.rowCounts(n)
    keys = try Tensor.cat([group.allGatherDifferentiable(q0, rows: rows), group.allGatherDifferentiable(q1, rows: rows)])
    (total, offset) = (rows.reduce(0, +), rows.prefix(group.rank).reduce(0, +))
  }
  let logits = try queries.matmul(keys.transpose(0, 1)) / temperature
  // Query i < n is key offset + i (its view 0), query n + i is key total + offset + i (view 1); each one's
  // positive is the other view's key.
  let i = try Tensor.arange(0, .int(2 * n), device: queries.device)
  let view = try (i .>= Scalar.int(n)).to(dtype: .int64)
  let own = try i + view * (total - n) + offset
  let selfPairs = try own.unsqueeze(dim: 1) .== Tensor.arange(0, .int(2 * total), device: queries.device).unsqueeze(dim: 0)
  let positives = try (own + total).remainder(.int(2 * total))
  return try crossEntropy(logits.maskedFill(selfPairs, .float(-.infinity)), positives)
}
