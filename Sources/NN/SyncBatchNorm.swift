import Torch

/// Batch statistics over every rank's part of the batch (nn.SyncBatchNorm's rule): in training, the mean and the
/// biased variance the normalisation uses are those of the whole global batch, found with two differentiable
/// all-reduces (sum and count, then the squared deviations: the two-pass form, as accurate as one process's),
/// so 2 ranks × B/2 compute what 1 process × B does, gradients included. The running statistics take the
/// unbiased variance, as batch_norm does. Statistics in float32 whatever the input (under bf16 autocast too).
/// (PyTorch's SyncBatchNorm is GPU-only; this one is composed of ordinary ops on any device.)
func syncBatchNorm(_ x: Tensor, weight: Tensor?, bias: Tensor?, runningMean: Tensor, runningVar: Tensor,
                   momentum: Double, eps: Double, group: ProcessGroup) throws -> Tensor {
  let shape = x.shape
  guard shape.count >= 2 else { throw TorchError(operation: "SyncBatchNorm", message: "input of shape \(shape) has no channel dimension") }
  let c = shape[1]
  let dims = [0] + Array(2..<shape.count)
  let view = [1, c] + Array(repeating: 1, count: shape.count - 2)
  let xf = x.dtype == .float32 ? x : try x.to(dtype: .float32)
  let localCount = Double(x.count / Swift.max(c, 1))
  // [Σx per channel, item count] in one collective.
  let first = try group.allReduceSumDifferentiable(.cat([xf.sum(dims: dims), Tensor.full([1], .float(localCount), device: x.device)]))
  let n = try first.narrow(dim: 0, start: c, length: 1).item().doubleValue
  guard n > 1 else { throw TorchError(operation: "SyncBatchNorm", message: "\(Int(n)) value per channel across the ranks (needs more than 1 in training)") }
  let mean = try first.narrow(dim: 0, start: 0, length: c) / n
  let centred = try xf - mean.view(view)
  let variance = try group.allReduceSumDifferentiable((centred * centred).sum(dims: dims)) / n
  var y = try centred * (variance + eps).rsqrt().view(view)
  if let weight { y = try y * weight.view(view) }
  if let bias { y = try y + bias.view(view) }
  try withNoGrad {
    try runningMean.mul_(.float(1 - momentum))
    try runningMean.add_(mean.detach(), alpha: .float(momentum))
    try runningVar.mul_(.float(1 - momentum))
    try runningVar.add_(variance.detach() * (n / (n - 1)), alpha: .float(momentum))
  }
  return x.dtype == .float32 ? y : try y.to(dtype: x.dtype)
}

extension Module {
  /// Every BatchNorm in the tree computes its training statistics across `group`'s ranks (nil: per rank again).
  public func useSyncBatchNorm(_ group: ProcessGroup?) {
    for (_, m) in namedModules() {
      if let bn = m as? BatchNorm2d { bn.syncGroup = group }
      if let bn = m as? BatchNorm1d { bn.syncGroup = group }
    }
  }
}
