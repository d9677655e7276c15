// Collapse monitors of the joint-embedding methods.
import Foundation
import Torch

/// Collapse and progress monitors, logged per epoch (`train_…`, `valid_…`):
/// `embedding_std`, lightly's std_of_l2_normalized (mean over dimensions of the per-dimension std of the
/// L2-normalised projections: 0 when collapsed, about 1/√d when spread), and `effective_rank`, RankMe's
/// exp(entropy) of the normalised singular values of the batch's backbone features (1 when collapsed to a
/// line, up to min(N, features)).
public enum EmbeddingMonitor {
  public static func logs(features: Tensor, projections: Tensor) throws -> [String: Tensor] {
    try withNoGrad {
      ["embedding_std": try embeddingStd(projections), "effective_rank": try effectiveRank(features)]
    }
  }

  public static func embeddingStd(_ z: Tensor) throws -> Tensor {
    try z.to(dtype: .float32).normalized().std(dims: [0]).mean()
  }

  public static func effectiveRank(_ f: Tensor) throws -> Tensor {
    let s = try f.to(dtype: .float32).svdvals()
    let p = try s / s.sum().clamp(min: .float(1e-12)) + 1e-7
    return try (p * p.log()).sum().neg().exp()
  }
}
