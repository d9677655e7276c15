import CTorch

extension Tensor {
  public var requiresGrad: Bool { pt_requires_grad(handle) == 1 }

  /// Starts (or stops) recording operations on this tensor for autograd.
  public func setRequiresGrad(_ flag: Bool = true) throws {
    try check(pt_set_requires_grad(handle, flag), "requires_grad_")
  }

  /// Self, after `setRequiresGrad(true)`: `let w = try Tensor.randn([3]).requiringGrad()`.
  public func requiringGrad() throws -> Tensor {
    try setRequiresGrad(true)
    return self
  }

  public var isLeaf: Bool { pt_is_leaf(handle) == 1 }

  /// The accumulated gradient, or nil when none has been computed (or it was cleared).
  public var grad: Tensor? {
    var out: pt_tensor?
    return pt_grad(handle, &out) == 1 ? Tensor(owning: out!) : nil
  }

  public func setGrad(_ grad: Tensor?) throws { try check(pt_set_grad(handle, grad?.handle), "set_grad") }

  /// Zeroes the gradient in place (kept allocated).
  public func zeroGrad() throws { try check(pt_zero_grad(handle), "zero_grad") }

  /// Forgets the gradient (PyTorch's `zero_grad(set_to_none=True)`).
  public func clearGrad() throws { try setGrad(nil) }

  /// Back-propagates from this tensor (a scalar, unless `gradient` is given), accumulating into leaves' `grad`.
  public func backward(_ gradient: Tensor? = nil, retainGraph: Bool = false, createGraph: Bool = false) throws {
    try check(pt_backward(handle, gradient?.handle, retainGraph, createGraph), "backward")
  }

  /// The same data, cut from the autograd graph.
  public func detach() throws -> Tensor { try .wrap(pt_detach(handle), "detach") }

  public func detach_() throws { try check(pt_detach_(handle), "detach_") }
}

/// Whether autograd records operations on the calling thread.
public var isGradEnabled: Bool { pt_grad_enabled() }

/// Runs `body` with autograd off on the calling thread (torch.no_grad()); the previous mode is restored
/// afterwards, also when `body` throws. Grad mode is per thread: do not cross an `await` inside.
public func withNoGrad<R>(_ body: () throws -> R) rethrows -> R {
  try withGradMode(false, body)
}

/// Runs `body` with autograd on or off on the calling thread (torch.set_grad_enabled).
public func withGradMode<R>(_ enabled: Bool, _ body: () throws -> R) rethrows -> R {
  let previous = pt_grad_enabled()
  pt_set_grad_enabled(enabled)
  defer { pt_set_grad_enabled(previous) }
  return try body()
}

/// Runs `body` under automatic mixed precision for `device`'s type (torch.autocast): eligible ops
/// (convolutions, matmuls) run in `dtype` (bfloat16 or float16), precision-sensitive ones stay float32.
/// The mode is per thread, like grad mode, and restored afterwards.
public func withAutocast<R>(_ device: Device, dtype: DType = .bfloat16, _ body: () throws -> R) throws -> R {
  let token = pt_autocast_enter(device.typeCode, dtype.rawValue)
  if token < 0 { throw TorchError.last("autocast") }
  defer { _ = pt_autocast_exit(device.typeCode, token) }
  return try body()
}

public func isAutocastEnabled(_ device: Device) -> Bool { pt_autocast_is_enabled(device.typeCode) }
