import Foundation
import ImageData
import NN
import Torch
import Training

// What the joint-embedding tasks (SimCLR, BYOL, SimSiam) share: their network, the two-view step and picture.
// Their losses are in Losses/, the momentum update in Momentum/, the collapse monitors in Monitors/, the papers'
// view recipes in Views/.

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
