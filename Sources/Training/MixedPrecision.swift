import Torch

/// Dynamic loss scaling for float16 training (torch.cuda.amp.GradScaler's rule): the loss is multiplied by
/// `scale` before backward; gradients are divided back before the step; a step whose gradients hold an
/// Inf/NaN is skipped and the scale halved; after `growthInterval` good steps the scale doubles.
public struct LossScaler: Sendable {
  public var scale: Double
  public let growthInterval: Int
  var goodSteps = 0

  public init(initialScale: Double = 65536, growthInterval: Int = 2000) {
    (scale, self.growthInterval) = (initialScale, growthInterval)
  }

  /// Unscales `grads` in place; returns whether they are all finite (and the step may be taken),
  /// updating the scale either way.
  public mutating func unscale(_ grads: [Tensor]) throws -> Bool {
    guard !grads.isEmpty else { return true }
    try withNoGrad { try Foreach.mul_(grads, .float(1 / scale)) }
    let finite = try Tensor.stack(Foreach.norm(grads)).isFinite().all().item() == .bool(true)
    if finite {
      goodSteps += 1
      if goodSteps == growthInterval {
        scale *= 2
        goodSteps = 0
      }
    } else {
      scale /= 2
      goodSteps = 0
    }
    return finite
  }
}
