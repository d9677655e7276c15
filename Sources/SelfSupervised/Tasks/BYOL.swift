import ImageData
import NN
import Torch
import Training

/// BYOL (Grill et al. 2020): the online encoder → projector → predictor regresses the target's projection
/// of the other view (negative cosine, symmetrised); the target (momentum encoder and projector, no
/// gradients) follows the online network by EMA, its momentum 0.996 → 1 along a cosine over all steps.
/// Views: BYOL's asymmetric pair (blur 1.0 / 0.1, solarize 0 / 0.2, jitter 0.4/0.4/0.2/0.1 at p 0.8). The
/// heads' widths are the paper's ratios at this backbone's width: projector f → 2f → 256 (the paper: 2048 →
/// 4096 → 256), predictor 256 → 2f → 256.
public final class BYOLTask: JointEmbeddingTask {
  public static let name = "byol"
  public static let summary = "predict a momentum target's projection of the other view (BYOL: EMA 0.996→1, predictor)"
  public static let baseMomentum = 0.996
  static let views = (SSLAugment.Recipe(minScale: 0.08, jitter: (0.4, 0.4, 0.2, 0.1), blurP: 1.0),
                      SSLAugment.Recipe(minScale: 0.08, jitter: (0.4, 0.4, 0.2, 0.1), blurP: 0.1, solarizeP: 0.2))
  let settings: TaskSettings
  public let net: JointEmbeddingNet

  public init(_ settings: TaskSettings, backbone: Sequential?) throws {
    self.settings = settings
    let encoder = try pooledEncoder(settings, backbone)
    let f = encoder.featureCount
    // The target is built like the online network (same width), then set to its weights.
    let target = (try pooledEncoder(settings, nil), try ProjectionHead.byol(f, hidden: 2 * f, outputs: 256))
    net = try JointEmbeddingNet(encoder: encoder, projector: .byol(f, hidden: 2 * f, outputs: 256),
                                predictor: .byol(256, hidden: 2 * f, outputs: 256), momentum: target)
  }

  public func pipeline(training: Bool) -> Pipeline { SSLAugment.twoViews(Self.views.0, Self.views.1, size: settings.size) }

  public lazy var step: TrainStep = TwoViewStep(net, afterStep: { [net] learner in
    let m = cosineSchedule(step: learner.iteration, maxSteps: learner.totalIterations, start: Self.baseMomentum, end: 1)
    try updateMomentum(target: net.target, online: net.online, momentum: m)
  }) { [net] o in
    let p0 = try net.predictor!(o.z.0), p1 = try net.predictor!(o.z.1)
    // The target's projections of both views, without gradients.
    let (t0, t1) = try withNoGrad {
      (try net.momentumProjector!(net.momentumEncoder!(o.x.0)), try net.momentumProjector!(net.momentumEncoder!(o.x.1)))
    }
    return try (negativeCosineSimilarity(p0, t1) + negativeCosineSimilarity(p1, t0)) * 0.5
  }

  public var weightsFile: String { "byol.safetensors" }
  /// BYOL: LARS, lr 0.2 × batch / 256, wd 1.5e-6, warm-up over 10 of 1,000 epochs, then cosine to 0.
  public var paperRecipe: TrainingRecipe? {
    TrainingRecipe(optimizer: .lars(momentum: 0.9), lrPer256: 0.2, weightDecay: 1.5e-6, warmup: 0.01, decay: .cosine(final: 0),
                   source: "Grill et al. 2020 (BYOL), §3.2 and C")
  }
}
