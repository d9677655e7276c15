// BYOL's and SimSiam's loss.
import Torch

/// lightly's NegativeCosineSimilarity: −mean cosine similarity of matching rows.
public func negativeCosineSimilarity(_ a: Tensor, _ b: Tensor) throws -> Tensor {
  try (a.normalized() * b.normalized()).sum(dims: [1]).mean().neg()
}
