import ImageData
import NN
import Torch
import Training

/// SimSiam (Chen & He 2021): BYOL without a momentum target: each view's prediction regresses the other
/// view's projection behind a stop-gradient (negative cosine, symmetrised). A 3-layer projector with batch
/// norm (the last without affine parameters) and a bottleneck predictor (hidden = out / 4), as the paper's
/// 2048 → 512 → 2048 at this backbone's width; SimSiam's views (crop from 20 %, jitter 0.4/0.4/0.4/0.1).
public final class SimSiamTask: JointEmbeddingTask {
  public static let name = "simsiam"
  public static let summary = "predict the other view's projection behind a stop-gradient (SimSiam: no negatives, no EMA)"
  static let views = SSLAugment.Recipe(minScale: 0.2, jitter: (0.4, 0.4, 0.4, 0.1), blurP: 0.5)
  let settings: TaskSettings
  public let net: JointEmbeddingNet

  public init(_ settings: TaskSettings, backbone: Sequential?) throws {
    self.settings = settings
    let encoder = try pooledEncoder(settings, backbone)
    let f = encoder.featureCount
    net = try JointEmbeddingNet(encoder: encoder, projector: .simSiamProjector(f, hidden: f, outputs: f),
                                predictor: .simSiamPredictor(f, hidden: Swift.max(f / 4, 1), outputs: f))
  }

  public func pipeline(training: Bool) -> Pipeline { SSLAugment.twoViews(Self.views, Self.views, size: settings.size) }
  public lazy var step: TrainStep = TwoViewStep(net) { [net] o in
    let p0 = try net.predictor!(o.z.0), p1 = try net.predictor!(o.z.1)
    return try (negativeCosineSimilarity(p0, o.z.1.detach()) + negativeCosineSimilarity(p1, o.z.0.detach())) * 0.5
  }
  public var weightsFile: String { "simsiam.safetensors" }
  /// SimSiam: SGD momentum 0.9, lr 0.05 × batch / 256, wd 1e-4, cosine to 0 (the paper's fixed predictor
  /// rate is not done: the predictor decays with the rest).
  public var paperRecipe: TrainingRecipe? {
    TrainingRecipe(optimizer: .sgd(momentum: 0.9, nesterov: false), lrPer256: 0.05, weightDecay: 1e-4, decay: .cosine(final: 0),
                   source: "Chen & He 2021 (SimSiam), §4")
  }
}
