import CTorch

// Elementwise arithmetic and comparisons, with PyTorch's broadcasting and type promotion.

extension Tensor {
  func unary(_ op: pt_unary_op, _ name: @autoclosure () -> String) throws -> Tensor {
    try .wrap(pt_unary(op, handle), name())
  }

  func binary(_ op: pt_binary_op, _ other: Tensor, alpha: Scalar = 1, _ name: @autoclosure () -> String) throws
    -> Tensor
  {
    try .wrap(pt_binary(op, handle, other.handle, alpha.c), name())
  }

  func binary(_ op: pt_binary_op, _ s: Scalar, reversed: Bool = false, _ name: @autoclosure () -> String) throws
    -> Tensor
  {
    try .wrap(pt_binary_scalar(op, handle, s.c, reversed), name())
  }

  public func neg() throws -> Tensor { try unary(PT_NEG, "neg") }
  public func abs() throws -> Tensor { try unary(PT_ABS, "abs") }
  public func exp() throws -> Tensor { try unary(PT_EXP, "exp") }
  public func log() throws -> Tensor { try unary(PT_LOG, "log") }
  public func sqrt() throws -> Tensor { try unary(PT_SQRT, "sqrt") }
  public func rsqrt() throws -> Tensor { try unary(PT_RSQRT, "rsqrt") }
  public func sin() throws -> Tensor { try unary(PT_SIN, "sin") }
  public func cos() throws -> Tensor { try unary(PT_COS, "cos") }
  public func tanh() throws -> Tensor { try unary(PT_TANH, "tanh") }
  public func sign() throws -> Tensor { try unary(PT_SIGN, "sign") }
  public func floor() throws -> Tensor { try unary(PT_FLOOR, "floor") }
  public func ceil() throws -> Tensor { try unary(PT_CEIL, "ceil") }
  public func round() throws -> Tensor { try unary(PT_ROUND, "round") }
  public func reciprocal() throws -> Tensor { try unary(PT_RECIPROCAL, "reciprocal") }
  public func square() throws -> Tensor { try unary(PT_SQUARE, "square") }
  public func log1p() throws -> Tensor { try unary(PT_LOG1P, "log1p") }
  public func expm1() throws -> Tensor { try unary(PT_EXPM1, "expm1") }
  public func erf() throws -> Tensor { try unary(PT_ERF, "erf") }
  public func isNaN() throws -> Tensor { try unary(PT_ISNAN, "isnan") }
  public func isInf() throws -> Tensor { try unary(PT_ISINF, "isinf") }
  public func isFinite() throws -> Tensor { try unary(PT_ISFINITE, "isfinite") }
  public func logicalNot() throws -> Tensor { try unary(PT_LOGICAL_NOT, "logical_not") }
  public func zerosLike() throws -> Tensor { try unary(PT_ZERO, "zeros_like") }

  public func pow(_ exponent: Scalar) throws -> Tensor { try binary(PT_POW, exponent, "pow") }
  public func pow(_ exponent: Tensor) throws -> Tensor { try binary(PT_POW, exponent, "pow") }
  public func maximum(_ other: Tensor) throws -> Tensor { try binary(PT_MAXIMUM, other, "maximum") }
  public func minimum(_ other: Tensor) throws -> Tensor { try binary(PT_MINIMUM, other, "minimum") }
  public func remainder(_ other: Scalar) throws -> Tensor { try binary(PT_REMAINDER, other, "remainder") }
  public func floorDivide(_ other: Scalar) throws -> Tensor { try binary(PT_FLOOR_DIVIDE, other, "floor_divide") }
  public func atan2(_ other: Tensor) throws -> Tensor { try binary(PT_ATAN2, other, "atan2") }
  public func logicalAnd(_ other: Tensor) throws -> Tensor { try binary(PT_LOGICAL_AND, other, "logical_and") }
  public func logicalOr(_ other: Tensor) throws -> Tensor { try binary(PT_LOGICAL_OR, other, "logical_or") }

  /// self + alpha * other
  public func add(_ other: Tensor, alpha: Scalar = 1) throws -> Tensor { try binary(PT_ADD, other, alpha: alpha, "add") }

  public func clamp(min: Scalar? = nil, max: Scalar? = nil) throws -> Tensor {
    try .wrap(withBounds(min, max) { pt_clamp(handle, $0, $1) }, "clamp")
  }

  /// Elementwise `condition ? self : other`.
  public func `where`(_ condition: Tensor, else other: Tensor) throws -> Tensor {
    try .wrap(pt_where(condition.handle, handle, other.handle), "where")
  }

  public func maskedFill(_ mask: Tensor, _ value: Scalar) throws -> Tensor {
    try .wrap(pt_masked_fill(handle, mask.handle, value.c), "masked_fill")
  }

  /// Same shape and elements (torch.equal).
  public func equal(_ other: Tensor) throws -> Bool {
    let r = pt_equal(handle, other.handle)
    if r < 0 { throw TorchError.last("equal") }
    return r == 1
  }

  /// |self - other| <= atol + rtol * |other| elementwise (torch.allclose).
  public func allClose(_ other: Tensor, rtol: Double = 1e-5, atol: Double = 1e-8, equalNaN: Bool = false) throws
    -> Bool
  {
    let r = pt_allclose(handle, other.handle, rtol, atol, equalNaN)
    if r < 0 { throw TorchError.last("allclose") }
    return r == 1
  }

  // MARK: Operators

  public static func + (a: Tensor, b: Tensor) throws -> Tensor { try a.binary(PT_ADD, b, "+") }
  public static func - (a: Tensor, b: Tensor) throws -> Tensor { try a.binary(PT_SUB, b, "-") }
  public static func * (a: Tensor, b: Tensor) throws -> Tensor { try a.binary(PT_MUL, b, "*") }
  public static func / (a: Tensor, b: Tensor) throws -> Tensor { try a.binary(PT_DIV, b, "/") }
  public static prefix func - (a: Tensor) throws -> Tensor { try a.neg() }

  public static func + (a: Tensor, s: Double) throws -> Tensor { try a.binary(PT_ADD, .float(s), "+") }
  public static func - (a: Tensor, s: Double) throws -> Tensor { try a.binary(PT_SUB, .float(s), "-") }
  public static func * (a: Tensor, s: Double) throws -> Tensor { try a.binary(PT_MUL, .float(s), "*") }
  public static func / (a: Tensor, s: Double) throws -> Tensor { try a.binary(PT_DIV, .float(s), "/") }
  public static func + (s: Double, a: Tensor) throws -> Tensor { try a.binary(PT_ADD, .float(s), "+") }
  public static func - (s: Double, a: Tensor) throws -> Tensor { try a.binary(PT_SUB, .float(s), reversed: true, "-") }
  public static func * (s: Double, a: Tensor) throws -> Tensor { try a.binary(PT_MUL, .float(s), "*") }
  public static func / (s: Double, a: Tensor) throws -> Tensor { try a.binary(PT_DIV, .float(s), reversed: true, "/") }

  public static func + (a: Tensor, s: Int) throws -> Tensor { try a.binary(PT_ADD, .int(s), "+") }
  public static func - (a: Tensor, s: Int) throws -> Tensor { try a.binary(PT_SUB, .int(s), "-") }
  public static func * (a: Tensor, s: Int) throws -> Tensor { try a.binary(PT_MUL, .int(s), "*") }
  public static func / (a: Tensor, s: Int) throws -> Tensor { try a.binary(PT_DIV, .int(s), "/") }
  public static func + (s: Int, a: Tensor) throws -> Tensor { try a.binary(PT_ADD, .int(s), "+") }
  public static func - (s: Int, a: Tensor) throws -> Tensor { try a.binary(PT_SUB, .int(s), reversed: true, "-") }
  public static func * (s: Int, a: Tensor) throws -> Tensor { try a.binary(PT_MUL, .int(s), "*") }
  public static func / (s: Int, a: Tensor) throws -> Tensor { try a.binary(PT_DIV, .int(s), reversed: true, "/") }

  // Comparisons give bool tensors; pointwise operators as Swift's SIMD types spell them.
  public static func .== (a: Tensor, b: Tensor) throws -> Tensor { try a.binary(PT_EQ, b, ".==") }
  public static func .!= (a: Tensor, b: Tensor) throws -> Tensor { try a.binary(PT_NE, b, ".!=") }
  public static func .< (a: Tensor, b: Tensor) throws -> Tensor { try a.binary(PT_LT, b, ".<") }
  public static func .<= (a: Tensor, b: Tensor) throws -> Tensor { try a.binary(PT_LE, b, ".<=") }
  public static func .> (a: Tensor, b: Tensor) throws -> Tensor { try a.binary(PT_GT, b, ".>") }
  public static func .>= (a: Tensor, b: Tensor) throws -> Tensor { try a.binary(PT_GE, b, ".>=") }
  public static func .== (a: Tensor, s: Scalar) throws -> Tensor { try a.binary(PT_EQ, s, ".==") }
  public static func .!= (a: Tensor, s: Scalar) throws -> Tensor { try a.binary(PT_NE, s, ".!=") }
  public static func .< (a: Tensor, s: Scalar) throws -> Tensor { try a.binary(PT_LT, s, ".<") }
  public static func .<= (a: Tensor, s: Scalar) throws -> Tensor { try a.binary(PT_LE, s, ".<=") }
  public static func .> (a: Tensor, s: Scalar) throws -> Tensor { try a.binary(PT_GT, s, ".>") }
  public static func .>= (a: Tensor, s: Scalar) throws -> Tensor { try a.binary(PT_GE, s, ".>=") }

  // MARK: In place (optimizer updates); names follow PyTorch's trailing underscore.

  /// self += alpha * other
  public func add_(_ other: Tensor, alpha: Scalar = 1) throws { try check(pt_binary_(PT_ADD, handle, other.handle, alpha.c), "add_") }
  /// self -= alpha * other
  public func sub_(_ other: Tensor, alpha: Scalar = 1) throws { try check(pt_binary_(PT_SUB, handle, other.handle, alpha.c), "sub_") }
  public func mul_(_ other: Tensor) throws { try check(pt_binary_(PT_MUL, handle, other.handle, Scalar(1).c), "mul_") }
  public func div_(_ other: Tensor) throws { try check(pt_binary_(PT_DIV, handle, other.handle, Scalar(1).c), "div_") }
  public func add_(_ s: Scalar) throws { try check(pt_binary_scalar_(PT_ADD, handle, s.c), "add_") }
  public func mul_(_ s: Scalar) throws { try check(pt_binary_scalar_(PT_MUL, handle, s.c), "mul_") }
  public func div_(_ s: Scalar) throws { try check(pt_binary_scalar_(PT_DIV, handle, s.c), "div_") }
  public func pow_(_ s: Scalar) throws { try check(pt_binary_scalar_(PT_POW, handle, s.c), "pow_") }
  /// self += value * t1 * t2
  public func addcmul_(_ t1: Tensor, _ t2: Tensor, value: Scalar = 1) throws {
    try check(pt_addcmul_(handle, t1.handle, t2.handle, value.c), "addcmul_")
  }
  /// self += value * t1 / t2
  public func addcdiv_(_ t1: Tensor, _ t2: Tensor, value: Scalar = 1) throws {
    try check(pt_addcdiv_(handle, t1.handle, t2.handle, value.c), "addcdiv_")
  }
  /// self += weight * (end - self)
  public func lerp_(_ end: Tensor, weight: Scalar) throws { try check(pt_lerp_(handle, end.handle, weight.c), "lerp_") }
  public func copy_(_ source: Tensor, nonBlocking: Bool = false) throws {
    try check(pt_copy_(handle, source.handle, nonBlocking), "copy_")
  }
  public func fill_(_ value: Scalar) throws { try check(pt_fill_(handle, value.c), "fill_") }
  public func zero_() throws { try check(pt_unary_(PT_ZERO, handle), "zero_") }
  public func sqrt_() throws { try check(pt_unary_(PT_SQRT, handle), "sqrt_") }
  public func relu_() throws { try check(pt_unary_(PT_RELU, handle), "relu_") }
  public func clamp_(min: Scalar? = nil, max: Scalar? = nil) throws {
    try check(withBounds(min, max) { pt_clamp_(handle, $0, $1) }, "clamp_")
  }
}

/// Passes optional bounds as nullable C pointers.
private func withBounds<R>(
  _ lo: Scalar?, _ hi: Scalar?, _ body: (UnsafePointer<pt_scalar>?, UnsafePointer<pt_scalar>?) -> R
) -> R {
  var l = lo?.c ?? pt_scalar()
  var h = hi?.c ?? pt_scalar()
  return withUnsafePointer(to: &l) { lp in
    withUnsafePointer(to: &h) { hp in body(lo == nil ? nil : lp, hi == nil ? nil : hp) }
  }
}
