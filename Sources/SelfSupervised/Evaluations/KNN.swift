import Torch

/// Weighted k-nearest-neighbour classification on features, the InstDisc/DINO evaluation: cosine similarity
/// to every training feature, the k most similar vote for their class with weight exp(similarity / T), the
/// class with the largest total wins (weights scaled by exp(-max similarity / T) per query, so no T overflows). No training: it reads what a pretext put into the features.
public struct KNNClassifier: Sendable {
  public var k: Int
  public var temperature: Double
  public var classes: Int
  public init(k: Int = 20, temperature: Double = 0.07, classes: Int) {
    precondition(k > 0 && temperature > 0 && classes > 0, "k, temperature and classes must be positive")
    (self.k, self.temperature, self.classes) = (k, temperature, classes)
  }

  /// Rows scaled to unit length.
  public static func normalized(_ x: Tensor) throws -> Tensor { try x / x.norm(dims: [1], keepDim: true).clamp(min: 1e-12) }

  /// Per-class vote totals (N × classes), each query's relative to its nearest neighbour's weight (1), of `queries` (N × D) against `bank` (M × D) labelled `bankLabels`
  /// (M, int64), `chunk` queries at a time (the similarity matrix of all at once can be large).
  public func votes(queries: Tensor, bank: Tensor, bankLabels: Tensor, chunk: Int = 512) throws -> Tensor {
    let b = try Self.normalized(bank).transpose(0, 1)
    let n = queries.shape[0], kk = Swift.min(k, bank.shape[0])
    var parts: [Tensor] = []
    var start = 0
    while start < n {
      let q = try Self.normalized(queries.narrow(dim: 0, start: start, length: Swift.min(chunk, n - start)))
      let (sims, idx) = try q.matmul(b).topk(kk, dim: 1)
      let labels = try bankLabels.indexSelect(dim: 0, index: idx.flatten()).reshape([q.shape[0], kk])
      // exp((s - s_max) / T): the same vote up to a factor per query, finite for any T (exp(s / T) overflows
      // float32 below T ≈ 0.011, and every vote became inf or nan).
      let weights = try ((sims - sims.narrow(dim: 1, start: 0, length: 1)) / temperature).exp()
      parts.append(try (labels.oneHot(classes).to(dtype: weights.dtype) * weights.unsqueeze(dim: 2)).sum(dims: [1]))
      start += chunk
    }
    return try Tensor.cat(parts, dim: 0)
  }

  /// The predicted class of each query (int64).
  public func predict(queries: Tensor, bank: Tensor, bankLabels: Tensor) throws -> Tensor {
    try votes(queries: queries, bank: bank, bankLabels: bankLabels).argmax(dim: 1)
  }
}
