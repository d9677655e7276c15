import CTorch

// Reductions and linear algebra. An empty `dims` reduces over every dimension.

extension Tensor {
  func reduce(_ op: pt_reduce_op, _ dims: [Int], keepDim: Bool, param: Double = 0, _ name: String) throws -> Tensor {
    try .wrap(pt_reduce(op, handle, dims, dims.count, keepDim, param), name)
  }

  public func sum(dims: [Int] = [], keepDim: Bool = false) throws -> Tensor { try reduce(PT_SUM, dims, keepDim: keepDim, "sum") }
  public func mean(dims: [Int] = [], keepDim: Bool = false) throws -> Tensor { try reduce(PT_MEAN, dims, keepDim: keepDim, "mean") }
  public func max(dims: [Int] = [], keepDim: Bool = false) throws -> Tensor { try reduce(PT_AMAX, dims, keepDim: keepDim, "amax") }
  public func min(dims: [Int] = [], keepDim: Bool = false) throws -> Tensor { try reduce(PT_AMIN, dims, keepDim: keepDim, "amin") }
  public func prod(dims: [Int] = [], keepDim: Bool = false) throws -> Tensor { try reduce(PT_PROD, dims, keepDim: keepDim, "prod") }
  public func any(dims: [Int] = [], keepDim: Bool = false) throws -> Tensor { try reduce(PT_ANY, dims, keepDim: keepDim, "any") }
  public func all(dims: [Int] = [], keepDim: Bool = false) throws -> Tensor { try reduce(PT_ALL, dims, keepDim: keepDim, "all") }
  public func logSumExp(dims: [Int] = [], keepDim: Bool = false) throws -> Tensor {
    try reduce(PT_LOGSUMEXP, dims, keepDim: keepDim, "logsumexp")
  }
  /// Variance with Bessel's correction by default (correction 1), as torch.var.
  public func variance(dims: [Int] = [], correction: Double = 1, keepDim: Bool = false) throws -> Tensor {
    try reduce(PT_VAR, dims, keepDim: keepDim, param: correction, "var")
  }
  public func std(dims: [Int] = [], correction: Double = 1, keepDim: Bool = false) throws -> Tensor {
    try reduce(PT_STD, dims, keepDim: keepDim, param: correction, "std")
  }
  /// Vector p-norm over `dims` (torch.linalg.vector_norm).
  public func norm(_ p: Double = 2, dims: [Int] = [], keepDim: Bool = false) throws -> Tensor {
    try reduce(PT_NORM, dims, keepDim: keepDim, param: p, "norm")
  }
  public func argmax(dim: Int? = nil, keepDim: Bool = false) throws -> Tensor {
    try reduce(PT_ARGMAX, dim.map { [$0] } ?? [], keepDim: keepDim, "argmax")
  }
  public func argmin(dim: Int? = nil, keepDim: Bool = false) throws -> Tensor {
    try reduce(PT_ARGMIN, dim.map { [$0] } ?? [], keepDim: keepDim, "argmin")
  }

  public func max(dim: Int, keepDim: Bool = false) throws -> (values: Tensor, indices: Tensor) {
    var v: pt_tensor?, i: pt_tensor?
    try check(pt_max_dim(handle, dim, keepDim, &v, &i), "max(dim:)")
    return (Tensor(owning: v!), Tensor(owning: i!))
  }

  public func topk(_ k: Int, dim: Int = -1, largest: Bool = true, sorted: Bool = true) throws
    -> (values: Tensor, indices: Tensor)
  {
    var v: pt_tensor?, i: pt_tensor?
    try check(pt_topk(handle, k, dim, largest, sorted, &v, &i), "topk")
    return (Tensor(owning: v!), Tensor(owning: i!))
  }

  public func cumsum(dim: Int) throws -> Tensor { try .wrap(pt_cumsum(handle, dim), "cumsum") }

  public func matmul(_ other: Tensor) throws -> Tensor { try .wrap(pt_matmul(handle, other.handle), "matmul") }
  /// Singular values, descending (torch.linalg.svdvals).
  public func svdvals() throws -> Tensor { try .wrap(pt_svdvals(handle), "linalg_svdvals") }
  /// Rows (`dim` 1) scaled to unit 2-norm, norms clamped at `eps` (torch.nn.functional.normalize).
  public func normalized(dim: Int = 1, eps: Double = 1e-12) throws -> Tensor {
    try self / norm(2, dims: [dim], keepDim: true).clamp(min: .float(eps))
  }
  public func bmm(_ other: Tensor) throws -> Tensor { try .wrap(pt_bmm(handle, other.handle), "bmm") }
}
