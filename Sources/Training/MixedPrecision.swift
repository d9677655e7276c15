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

/// The arithmetic a training command runs in: `fp32`; `bf16` or `fp16` autocast (forward and loss; master
/// weights, optimizer state, BatchNorm statistics and the losses stay float32, as under torch.autocast);
/// `auto`: bfloat16 where the device computes it natively (a CPU with AVX512-BF16 or AMX, a GPU of compute
/// capability 8.0 or later), else float32 — where bfloat16 is emulated it is slower than float32.
public enum Precision: String, Codable, Sendable, CaseIterable {
  case fp32, bf16, fp16, auto

  /// The autocast dtype on `device` (nil: float32 throughout). float16 is a GPU format: on a CPU it is refused.
  public func autocastDType(on device: Device) throws -> DType? {
    switch self {
    case .fp32: return nil
    case .bf16: return .bfloat16
    case .fp16:
      guard device != .cpu else {
        throw FitError("--precision fp16 is for GPUs (float16 with loss scaling); on the CPU use bf16 or auto")
      }
      return .float16
    case .auto:
      guard device == .cpu else { return Runtime.cudaSupportsBFloat16 ? .bfloat16 : nil }
      return try Self.cpuPrefersBFloat16() ? .bfloat16 : nil
    }
  }

  /// bfloat16 must run GEMMs at least this many times float32's rate for `auto` to pick it on a CPU: with AMX it
  /// measured 2.1×, with AVX512-BF16 alone 0.6× (NOTES.md, "bfloat16"); the convolutions gain less than GEMMs.
  public static let cpuBFloat16MinimumSpeedup = 1.2

  /// Whether `auto` picks bfloat16 on this CPU: it has the instructions, and they are measurably faster.
  public static func cpuPrefersBFloat16() throws -> Bool {
    try Runtime.cpuHasNativeBFloat16 && Runtime.cpuBFloat16Speedup() >= cpuBFloat16MinimumSpeedup
  }

  /// What `self` resolves to on `device`, as a precision name (`auto` becomes bf16 or fp32).
  public func resolved(on device: Device) throws -> Precision {
    switch try autocastDType(on: device) {
    case .bfloat16?: return .bf16
    case .float16?: return .fp16
    default: return .fp32
    }
  }
}
