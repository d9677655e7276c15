import NN
import Torch
import Training

/// Semi-supervised training with a pretext task as an auxiliary loss (S4L, Zhai et al. 2019; SESEMI): one fit of
/// the classifier in which every step also trains a pretext task on a batch of unlabelled images, both on the
/// classifier's one body, each with its own head. The loss is the classifier's label-smoothing cross-entropy on
/// the labelled batch plus the task's loss (a weighted spec, `rotation:0.5`, scales it) on the unlabelled batch,
/// whose tensors come in the batch as `unlabelled/<name>` (`PairedBatches`). The whole network trains at one lr
/// from the first epoch, from random weights or from a pretext's encoder. `pretext evaluate --protocol joint`.
/// (`@unchecked`: the task is a network, used by the one thread that trains it, as every model here.)
public struct JointTraining: Evaluation, @unchecked Sendable {
  /// The auxiliary task, built on the classifier's body.
  public let aux: any PretextTask
  public let oneCycle: Bool
  /// The unlabelled batch's tensors are named `unlabelled/<name>` (a stream's slots, as a multi-task batch's `task/…`).
  public static let stream = "unlabelled"
  public static let prefix = stream + "/"

  public init(aux: any PretextTask, oneCycle: Bool = false) { (self.aux, self.oneCycle) = (aux, oneCycle) }
  public var name: String { Scenario.joint.rawValue }
  public var usesEncoder: Bool { true }

  public func plan(_ model: XResNet, epochs: Int, headEpochs: Int, lr: Double) -> FitPlan {
    FineTune(.full, oneCycle: oneCycle).plan(model, epochs: epochs, headEpochs: headEpochs, lr: lr)
  }

  public func step(_ model: XResNet, loss: @escaping (Tensor, Tensor) throws -> Tensor) -> TrainStep {
    JointStep(classifier: model, aux: aux, loss: loss)
  }

  /// What the learner trains: the classifier and the task's network (whose body is the classifier's).
  public func network(_ model: XResNet) -> JointNetwork { JointNetwork(classifier: model, aux: aux.model) }
}

/// The classifier and the auxiliary task's network as children `classifier` and `aux`. Their shared body is listed
/// (and trained) once, in the classifier's groups; the state dict keeps both names.
public final class JointNetwork: Module, ParameterGroups {
  public let classifier: XResNet
  public let aux: any ParameterGroups
  init(classifier: XResNet, aux: any ParameterGroups) {
    (self.classifier, self.aux) = (classifier, aux)
    super.init()
  }
  public override func namedChildren() -> [(String, Module)] { [("classifier", classifier), ("aux", aux)] }

  /// Group k: the classifier's group k and the task's group k (stem / rest of the body / heads), each parameter once.
  public func parameterGroups() -> [[(name: String, parameter: Parameter)]] {
    var seen = Set<ObjectIdentifier>()
    var groups: [[(name: String, parameter: Parameter)]] = []
    for (name, model) in [("classifier", classifier as any ParameterGroups), ("aux", aux)] {
      for (k, group) in model.parameterGroups().enumerated() {
        if groups.count <= k { groups.append([]) }
        for (n, p) in group where seen.insert(ObjectIdentifier(p)).inserted { groups[k].append((name + "." + n, p)) }
      }
    }
    return groups
  }
}

/// The classifier's loss on `image`/`label`, plus the task's on the `unlabelled/…` tensors when the batch has them
/// (validation batches do not: their loss is the classifier's alone). Logs `supervised_loss` and `aux_loss`
/// (and the task's own logs as `aux_<name>`); the prediction and target are the classifier's, for the metrics.
final class JointStep: TrainStep {
  let classifier: XResNet, aux: any PretextTask
  let supervised: SupervisedStep
  init(classifier: XResNet, aux: any PretextTask, loss: @escaping (Tensor, Tensor) throws -> Tensor) {
    (self.classifier, self.aux) = (classifier, aux)
    supervised = SupervisedStep(loss: loss)
  }

  func compute(_ batch: Batch, model: Module) throws -> StepOutput {
    var out = try supervised.compute(batch, model: classifier)
    let slots = MultiTaskStep.slots(of: JointTraining.stream, in: batch.tensors)
    guard !slots.isEmpty else { return out }
    let task = try aux.step.compute(Batch(slots), model: aux.model)
    out.logs["supervised_loss"] = try out.loss.detach()
    out.logs["aux_loss"] = try task.loss.detach()
    for (k, v) in task.logs { out.logs["aux_" + k] = v }
    out.loss = try out.loss + task.loss
    return out
  }

  func afterOptimizerStep(_ learner: Learner) throws { try aux.step.afterOptimizerStep(learner) }

  func setMode(training: Bool, model: Module) {
    training ? classifier.train() : classifier.eval()
    aux.step.setMode(training: training, model: aux.model)
  }
}
