import Torch

/// The study's losses as learner loss functions.
public enum Losses {
  /// fastai's LabelSmoothingCrossEntropy: (1 − ε)·NLL of the target + ε·mean over classes of −log p
  /// (equal to cross-entropy with label smoothing ε).
  public static func labelSmoothingCrossEntropy(eps: Double = 0.1) -> (Tensor, Tensor) throws -> Tensor {
    { logits, target in try crossEntropy(logits, target, labelSmoothing: eps) }
  }

  /// Mean squared error (the inpainting pretext's loss).
  public static func mse() -> (Tensor, Tensor) throws -> Tensor { { try mseLoss($0, $1) } }
}
