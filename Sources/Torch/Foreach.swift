import CTorch

/// libtorch's multi-tensor kernels (`torch._foreach_*`, `torch._fused_*`): one call updates a whole list
/// of tensors, as torch.optim does. All lists must have the same length.
public enum Foreach {
  /// The fused kernels walk each parameter and its gradient and state as flat arrays: their strides must
  /// agree (a channels-last parameter with contiguous state would be updated wrongly, without an error).
  static func sameLayout(_ op: String, _ params: [Tensor], _ others: [Tensor]...) throws {
    for (i, p) in params.enumerated() {
      for list in others where !list[i].hasSameLayout(as: p) {
        throw TorchError(operation: op, message: "tensor \(i): strides \(list[i].strides) differ from the parameter's \(p.strides)")
      }
    }
  }

  static func lists(_ op: String, _ ls: [Tensor]...) throws {
    guard let n = ls.first?.count, ls.allSatisfy({ $0.count == n }) else {
      throw TorchError(operation: op, message: "tensor lists differ in length: \(ls.map(\.count))")
    }
  }

  /// a[i] += alpha * b[i]
  public static func add_(_ a: [Tensor], _ b: [Tensor], alpha: Scalar = 1) throws {
    try lists("_foreach_add_", a, b)
    try withHandles(a) { ha in try withHandles(b) { hb in try check(pt_foreach_add_(ha, hb, a.count, alpha.c), "_foreach_add_") } }
  }
  public static func add_(_ a: [Tensor], _ s: Scalar) throws {
    try withHandles(a) { try check(pt_foreach_add_scalar_($0, a.count, s.c), "_foreach_add_") }
  }
  public static func mul_(_ a: [Tensor], _ s: Scalar) throws {
    try withHandles(a) { try check(pt_foreach_mul_scalar_($0, a.count, s.c), "_foreach_mul_") }
  }
  public static func mul_(_ a: [Tensor], _ b: [Tensor]) throws {
    try lists("_foreach_mul_", a, b)
    try withHandles(a) { ha in try withHandles(b) { hb in try check(pt_foreach_mul_(ha, hb, a.count), "_foreach_mul_") } }
  }
  public static func div_(_ a: [Tensor], _ b: [Tensor]) throws {
    try lists("_foreach_div_", a, b)
    try withHandles(a) { ha in try withHandles(b) { hb in try check(pt_foreach_div_(ha, hb, a.count), "_foreach_div_") } }
  }
  /// a[i] += value * t1[i] * t2[i]
  public static func addcmul_(_ a: [Tensor], _ t1: [Tensor], _ t2: [Tensor], value: Scalar = 1) throws {
    try lists("_foreach_addcmul_", a, t1, t2)
    try withHandles(a) { ha in
      try withHandles(t1) { h1 in
        try withHandles(t2) { h2 in try check(pt_foreach_addcmul_(ha, h1, h2, a.count, value.c), "_foreach_addcmul_") }
      }
    }
  }
  /// a[i] += value * t1[i] / t2[i]
  public static func addcdiv_(_ a: [Tensor], _ t1: [Tensor], _ t2: [Tensor], value: Scalar = 1) throws {
    try lists("_foreach_addcdiv_", a, t1, t2)
    try withHandles(a) { ha in
      try withHandles(t1) { h1 in
        try withHandles(t2) { h2 in try check(pt_foreach_addcdiv_(ha, h1, h2, a.count, value.c), "_foreach_addcdiv_") }
      }
    }
  }
  /// a[i] += weight * (end[i] - a[i])
  public static func lerp_(_ a: [Tensor], _ end: [Tensor], weight: Scalar) throws {
    try lists("_foreach_lerp_", a, end)
    try withHandles(a) { ha in try withHandles(end) { he in try check(pt_foreach_lerp_(ha, he, a.count, weight.c), "_foreach_lerp_") } }
  }
  public static func copy_(_ dst: [Tensor], _ src: [Tensor]) throws {
    try lists("_foreach_copy_", dst, src)
    try withHandles(dst) { hd in try withHandles(src) { hs in try check(pt_foreach_copy_(hd, hs, dst.count), "_foreach_copy_") } }
  }
  public static func zero_(_ a: [Tensor]) throws {
    try withHandles(a) { try check(pt_foreach_zero_($0, a.count), "_foreach_zero_") }
  }
  public static func sqrt(_ a: [Tensor]) throws -> [Tensor] {
    try collect(a.count, "_foreach_sqrt") { out in withHandles(a) { pt_foreach_sqrt($0, a.count, out) } }
  }
  /// The p-norm of each tensor (0-d tensors).
  public static func norm(_ a: [Tensor], p: Double = 2) throws -> [Tensor] {
    try collect(a.count, "_foreach_norm") { out in withHandles(a) { pt_foreach_norm($0, a.count, p, out) } }
  }

  /// One Adam (or, with `decoupled`, AdamW) step of torch.optim's fused kernel over every parameter.
  /// `steps` are float32 0-d step counters; they are incremented before the update, as torch.optim does,
  /// unless `incrementSteps` is false (the caller passes the step numbers to use; they may be one tensor).
  public static func fusedAdam_(
    params: [Tensor], grads: [Tensor], expAvgs: [Tensor], expAvgSqs: [Tensor], maxExpAvgSqs: [Tensor] = [],
    steps: [Tensor], lr: Double, beta1: Double, beta2: Double, weightDecay: Double, eps: Double,
    amsgrad: Bool = false, maximize: Bool = false, decoupled: Bool, incrementSteps: Bool = true
  ) throws {
    try lists("_fused_adam_", params, grads, expAvgs, expAvgSqs, steps)
    if amsgrad { try lists("_fused_adam_", params, maxExpAvgSqs) }
    try sameLayout("_fused_adam_", params, grads, expAvgs, expAvgSqs, amsgrad ? maxExpAvgSqs : params)
    if incrementSteps { try add_(steps, 1) }
    try withHandles(params) { p in
      try withHandles(grads) { g in
        try withHandles(expAvgs) { m in
          try withHandles(expAvgSqs) { v in
            try withHandles(maxExpAvgSqs) { vm in
              try withHandles(steps) { s in
                try check(
                  pt_fused_adam_(
                    p, g, m, v, vm, s, params.count, lr, beta1, beta2, weightDecay, eps, amsgrad, maximize, decoupled),
                  decoupled ? "_fused_adamw_" : "_fused_adam_")
              }
            }
          }
        }
      }
    }
  }

  /// One SGD step of torch.optim's fused kernel. `momentumBuffers` may be empty when momentum is 0.
  public static func fusedSGD_(
    params: [Tensor], grads: [Tensor], momentumBuffers: [Tensor], lr: Double, momentum: Double = 0,
    dampening: Double = 0, weightDecay: Double = 0, nesterov: Bool = false, maximize: Bool = false,
    isFirstStep: Bool
  ) throws {
    try lists("_fused_sgd_", params, grads)
    if !momentumBuffers.isEmpty { try lists("_fused_sgd_", params, momentumBuffers) }
    try sameLayout("_fused_sgd_", params, grads, momentumBuffers.isEmpty ? params : momentumBuffers)
    try withHandles(params) { p in
      try withHandles(grads) { g in
        try withHandles(momentumBuffers) { b in
          try check(
            pt_fused_sgd_(
              p, g, momentumBuffers.isEmpty ? nil : b, params.count, weightDecay, momentum, lr, dampening, nesterov,
              maximize, isFirstStep), "_fused_sgd_")
        }
      }
    }
  }

  static func collect(_ n: Int, _ op: String, _ body: (UnsafeMutablePointer<pt_tensor?>) -> Int32) throws -> [Tensor] {
    var out = [pt_tensor?](repeating: nil, count: n)
    let status = out.withUnsafeMutableBufferPointer { buf in
      body(buf.baseAddress ?? UnsafeMutablePointer(bitPattern: MemoryLayout<pt_tensor?>.alignment)!)
    }
    try check(status, op)
    return out.map { Tensor(owning: $0!) }
  }
}
