import ImageData
import NN
import Torch
import Training

/// SimCLR (Chen et al. 2020): two views per image (random resized crop from 8 %, flip, colour jitter 0.8 at
/// strength 1, grayscale 0.2, blur 0.5), a 2-layer projector with batch norm (hidden = feature width, out
/// 128), NT-Xent at temperature 0.5 (lightly's default, the paper's CIFAR setting). Data-parallel, the
/// negatives are every rank's (the process's default group; the paper's "global" batch).
public final class SimCLRTask: JointEmbeddingTask {
  public static let name = "simclr"
  public static let summary = "contrast two augmented views against the batch (SimCLR: NT-Xent, τ 0.5, 2-layer projector)"
  public static let temperature = 0.5
  static let views = SSLAugment.Recipe(minScale: 0.08, jitter: (0.8, 0.8, 0.8, 0.2), blurP: 0.5)
  let settings: TaskSettings
  public let net: JointEmbeddingNet

  public init(_ settings: TaskSettings, backbone: Sequential?) throws {
    self.settings = settings
    let encoder = try pooledEncoder(settings, backbone)
    let f = encoder.featureCount
    net = try JointEmbeddingNet(encoder: encoder, projector: .simCLR(f, hidden: f, outputs: 128))
  }

  public func pipeline(training: Bool) -> Pipeline { SSLAugment.twoViews(Self.views, Self.views, size: settings.size) }
  public lazy var step: TrainStep = TwoViewStep(net) {
    try ntXentLoss($0.z.0, $0.z.1, temperature: Self.temperature, group: ProcessGroup.default)
  }
  public var weightsFile: String { "simclr.safetensors" }
  /// SimCLR: LARS, lr 0.3 × batch / 256, wd 1e-6, linear warm-up over 10 of 100 epochs, then cosine to 0.
  public var paperRecipe: TrainingRecipe? {
    TrainingRecipe(optimizer: .lars(momentum: 0.9), lrPer256: 0.3, weightDecay: 1e-6, warmup: 0.1, decay: .cosine(final: 0),
                   source: "Chen et al. 2020 (SimCLR), §B.1")
  }
}
