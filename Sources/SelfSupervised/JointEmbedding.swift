import Foundation
import ImageData
import NN
import Torch
import Training

// What the joint-embedding tasks (SimCLR, BYOL, SimSiam) share: their network, losses, momentum update,
// collapse monitors, the papers' view augmentations and their picture. Each method's file keeps its own
// heads, views and loss.

/// A joint-embedding network: the pooled encoder, a projector, an optional predictor (BYOL, SimSiam) and
/// optional momentum copies of encoder and projector (BYOL's target), which are saved and restored with the
/// rest but are in no parameter group (they follow the online network by EMA, never by gradients).
public final class JointEmbeddingNet: Module, ParameterGroups {
  public let encoder: PooledEncoder
  public let projector: ProjectionHead
  public let predictor: ProjectionHead?
  public let momentumEncoder: PooledEncoder?
  public let momentumProjector: ProjectionHead?

  public init(encoder: PooledEncoder, projector: ProjectionHead, predictor: ProjectionHead? = nil,
              momentum: (encoder: PooledEncoder, projector: ProjectionHead)? = nil) throws {
    (self.encoder, self.projector, self.predictor) = (encoder, projector, predictor)
    (momentumEncoder, momentumProjector) = (momentum?.encoder, momentum?.projector)
    super.init()
    if let momentum {
      // The target starts as a copy of the online network (lightly's deactivate_requires_grad + deepcopy).
      try withNoGrad {
        for (t, o) in zip(momentum.encoder.stateDict() + momentum.projector.stateDict(), encoder.stateDict() + projector.stateDict()) {
          try t.tensor.copy_(o.tensor)
        }
      }
      for p in momentum.encoder.parameters() + momentum.projector.parameters() { try p.setRequiresGrad(false) }
    }
  }

  /// The projection of `x` (the online branch).
  public override func forward(_ x: Tensor) throws -> Tensor { try projector(encoder(x)) }

  /// The encoder's stem / the rest of the encoder / the projector and predictor.
  public func parameterGroups() -> [[(name: String, parameter: Parameter)]] {
    let (stem, rest) = encoder.stemAndRest(prefix: "encoder")
    let heads = projector.namedParameters(prefix: "projector") + (predictor?.namedParameters(prefix: "predictor") ?? [])
    return [stem, rest, heads.map { ($0.0, $0.1) }]
  }

  /// The online encoder and projector (what BYOL's target follows), in the target's order.
  var online: [Parameter] { encoder.parameters() + projector.parameters() }
  var target: [Parameter] { (momentumEncoder?.parameters() ?? []) + (momentumProjector?.parameters() ?? []) }
}

/// What SimCLR, BYOL and SimSiam share as tasks: a `JointEmbeddingNet`, no metric of their own (the monitors
/// come with the step), the encoder's body as what they save, their two views as their picture.
public protocol JointEmbeddingTask: RegisteredTask {
  var net: JointEmbeddingNet { get }
}

extension JointEmbeddingTask {
  public var model: any ParameterGroups { net }
  public var metrics: [Metric] { [] }
  public func encoderState() -> [(name: String, tensor: Tensor)] { net.encoder.body.stateDict() }
  public func pictureRows(_ batch: [String: Tensor], rows: Int, device: Device) throws -> [[[UInt8]]] {
    try twoViewPicture(batch, rows: rows)
  }
}

/// SimCLR's NT-Xent loss (lightly's NTXentLoss without a memory bank): each projection's positive is the other
/// view of its image, its negatives the other 2N − 2 projections; cross-entropy over cosine similarities / τ.
/// With `group` (data-parallel; lightly's gather_distributed) the keys are every rank's projections, gathered
/// differentiably: this rank's 2n queries against all 2N keys, so 2 ranks × n images see the negatives and the
/// loss 1 process × 2n images does (the mean of the ranks' losses is that loss; DDP averages the gradients).
/// Only where gradients are computed: a validation pass (no grad) uses its own rank's negatives, since the ranks'
/// contiguous parts of val/ need not have the same number of batches.
public func ntXentLoss(_ z0: Tensor, _ z1: Tensor, temperature: Double, group: ProcessGroup? = nil) throws -> Tensor {
  let n = z0.shape[0]
  let (q0, q1) = (try z0.normalized(), try z1.normalized())
  let queries = try Tensor.cat([q0, q1])
  var keys = queries, total = n, offset = 0
  if let group, group.worldSize > 1, isGradEnabled {
    let rows = try group.rowCounts(n)
    keys = try Tensor.cat([group.allGatherDifferentiable(q0, rows: rows), group.allGatherDifferentiable(q1, rows: rows)])
    (total, offset) = (rows.reduce(0, +), rows.prefix(group.rank).reduce(0, +))
  }
  let logits = try queries.matmul(keys.transpose(0, 1)) / temperature
  // Query i < n is key offset + i (its view 0), query n + i is key total + offset + i (view 1); each one's
  // positive is the other view's key.
  let i = try Tensor.arange(0, .int(2 * n), device: queries.device)
  let view = try (i .>= Scalar.int(n)).to(dtype: .int64)
  let own = try i + view * (total - n) + offset
  let selfPairs = try own.unsqueeze(dim: 1) .== Tensor.arange(0, .int(2 * total), device: queries.device).unsqueeze(dim: 0)
  let positives = try (own + total).remainder(.int(2 * total))
  return try crossEntropy(logits.maskedFill(selfPairs, .float(-.infinity)), positives)
}

/// lightly's NegativeCosineSimilarity: −mean cosine similarity of matching rows.
public func negativeCosineSimilarity(_ a: Tensor, _ b: Tensor) throws -> Tensor {
  try (a.normalized() * b.normalized()).sum(dims: [1]).mean().neg()
}

/// lightly's `cosine_schedule`: from `start` at step 0 to `end` at step `maxSteps` − 1 along a half cosine
/// (BYOL's momentum, 0.996 → 1).
public func cosineSchedule(step: Int, maxSteps: Int, start: Double, end: Double) -> Double {
  if maxSteps <= 1 || step >= maxSteps - 1 { return end }
  return end - (end - start) * (cos(Double.pi * Double(step) / Double(maxSteps - 1)) + 1) / 2
}

/// lightly's `update_momentum`: target ← m · target + (1 − m) · online, with the same foreach ops.
public func updateMomentum(target: [Parameter], online: [Parameter], momentum m: Double) throws {
  precondition(target.count == online.count, "momentum update between networks of different shapes")
  let t = target.map(\.value)
  try withNoGrad {
    try Foreach.mul_(t, .float(m))
    try Foreach.add_(t, online.map(\.value), alpha: .float(1 - m))
  }
}

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

/// The papers' view augmentations (lightly's transforms: SimCLRTransform, BYOLView1/2Transform,
/// SimSiamTransform) as item-transform chains for `Views`.
public enum SSLAugment {
  public struct Recipe: Sendable {
    public var minScale: Double, maxScale = 1.0
    public var jitter: (brightness: Double, contrast: Double, saturation: Double, hue: Double)
    public var jitterP = 0.8, grayscaleP = 0.2, blurP: Double, solarizeP = 0.0
  }

  public static func chain(_ r: Recipe, size: Int) -> [any ItemTransform] {
    var chain: [any ItemTransform] = [
      Crop(size: size, training: true, minScale: r.minScale, maxScale: r.maxScale),
      ColorJitter(brightness: r.jitter.brightness, contrast: r.jitter.contrast, saturation: r.jitter.saturation,
                  hue: r.jitter.hue, p: r.jitterP),
      Grayscale(p: r.grayscaleP),
    ]
    if r.blurP > 0 { chain.append(GaussianBlur(p: r.blurP, sigma: 0.1...2, kernelFraction: 0.1)) }
    if r.solarizeP > 0 { chain.append(Solarize(p: r.solarizeP)) }
    return chain
  }

  /// Two views `view0`, `view1` of the image, each by its recipe. Validation makes the same kind of views:
  /// the loader's draws for it are fixed (seeded per item, epoch 0), so its loss is comparable across epochs.
  public static func twoViews(_ first: Recipe, _ second: Recipe, size: Int) -> Pipeline {
    Pipeline(decodeSide: size, [Views([("view0", chain(first, size: size)), ("view1", chain(second, size: size))])])
  }
}

/// What a two-view step computed for both views: the inputs, the backbone features, the projections.
struct TwoViewOutputs {
  let x: (Tensor, Tensor), f: (Tensor, Tensor), z: (Tensor, Tensor)
}

/// A two-view task's step: encoder and projector on each view (separate forwards, so BatchNorm sees each view's
/// batch as in lightly's examples), then the method's loss; the monitors on view 0.
final class TwoViewStep: TrainStep {
  let net: JointEmbeddingNet
  let loss: (TwoViewOutputs) throws -> Tensor
  let afterStep: ((Learner) throws -> Void)?
  init(_ net: JointEmbeddingNet, afterStep: ((Learner) throws -> Void)? = nil, loss: @escaping (TwoViewOutputs) throws -> Tensor) {
    (self.net, self.loss, self.afterStep) = (net, loss, afterStep)
  }
  func compute(_ batch: Batch, model: Module) throws -> StepOutput {
    let x = (try batch.require("view0"), try batch.require("view1"))
    let f = (try net.encoder(x.0), try net.encoder(x.1))
    let z = (try net.projector(f.0), try net.projector(f.1))
    return StepOutput(loss: try loss(TwoViewOutputs(x: x, f: f, z: z)), logs: try EmbeddingMonitor.logs(features: f.0, projections: z.0))
  }
  func afterOptimizerStep(_ learner: Learner) throws { try afterStep?(learner) }
}

/// Rows of `view0 | view1`: what a two-view task compares.
func twoViewPicture(_ batch: [String: Tensor], rows: Int) throws -> [[[UInt8]]] {
  guard let a = batch["view0"], let b = batch["view1"] else {
    throw ImageError(path: nil, "a two-view picture needs the batch's view0 and view1")
  }
  return try (0..<Swift.min(rows, a.shape[0])).map { [try tileBytes(a, $0), try tileBytes(b, $0)] }
}

/// A new pooled encoder on `backbone`, or on a new xresnet34 body of the settings' width.
func pooledEncoder(_ settings: TaskSettings, _ backbone: Sequential?) throws -> PooledEncoder {
  try PooledEncoder(body: backbone ?? settings.newBackbone())
}
