import NN
import Torch
import Training

/// How a downstream classifier is trained from a pretext's encoder (or from random weights): what the
/// study compares. `pretext evaluate --protocol NAME`.
public protocol Evaluation: Sendable {
  /// The protocol's name (`--protocol NAME`, the run folder's `eval/<name>/`).
  var name: String { get }
  /// Whether it starts from the pretext's encoder.
  var usesEncoder: Bool { get }
  /// The fit on `model` (phases with their freezing and learning rates).
  func plan(_ model: XResNet, epochs: Int, headEpochs: Int, lr: Double) -> FitPlan
  /// How a batch becomes the loss, and how the model is put in training or evaluation mode.
  func step(_ model: XResNet, loss: @escaping (Tensor, Tensor) throws -> Tensor) -> TrainStep
}

/// The study's downstream scenarios as settings of one fine-tune evaluation.
public enum Scenario: String, Codable, Sendable, CaseIterable {
  /// Random init, the whole network trained.
  case random
  /// The pretext encoder, body frozen (BatchNorm trains, as fastai's train_bn), head trained.
  case head
  /// The pretext encoder, head first for `headEpochs`, then everything with discriminative lrs lr/100…lr.
  case discriminative
  /// The pretext encoder, everything trained at one lr from the first epoch.
  case full
  /// The pretext encoder, head first for `headEpochs` (body frozen, as `head`), then everything at one lr: LP-FT
  /// (Kumar et al. 2022), so a random head does not pull the pretrained features about in the first steps.
  case lpft
  /// A linear probe: the pretext encoder frozen and kept in eval mode (its BatchNorm statistics untouched),
  /// only the linear head trained.
  case linear
  /// Semi-supervised: everything trained at one lr from the first epoch (as `full`), with a pretext task on
  /// unlabelled images as an auxiliary loss (`JointTraining`); from random weights without an encoder.
  case joint
  /// Semi-supervised: a teacher classifier labels the unlabelled images, and a student trains from random weights on
  /// the labelled images and a class-balanced confident subset of those (`SelfTraining`).
  case selftrain

  /// The study's three scenarios.
  public static let study: [Scenario] = [.random, .head, .discriminative]

  /// Whether it starts from a pretext's encoder.
  public var usesEncoder: Bool { self != .random && self != .selftrain }
  /// Whether it also runs without an encoder, from random weights (the protocol's own baseline row).
  public var runsWithoutEncoder: Bool { self == .random || self == .linear || self == .joint }
  /// Whether it reads the unlabelled images while the classifier trains.
  public var isSemiSupervised: Bool { self == .joint || self == .selftrain }
  /// Whether it reads a teacher classifier (its `--teacher`; in a comparison, random init's of the same run).
  public var needsTeacher: Bool { self == .selftrain }
}

/// Fine-tuning the xresnet classifier (label-smoothing CE, Ranger, flat-cos) in one of the scenarios.
public struct FineTune: Evaluation {
  public let scenario: Scenario
  /// Every phase's schedule: fastai's fit_flat_cos (the study's) or fit_one_cycle (with Adam: fastai's defaults).
  public let oneCycle: Bool
  public init(_ scenario: Scenario, oneCycle: Bool = false) { (self.scenario, self.oneCycle) = (scenario, oneCycle) }
  public var name: String { scenario.rawValue }
  public var usesEncoder: Bool { scenario.usesEncoder }

  /// One phase of `epochs` at `lr` on the protocol's schedule.
  public func fit(_ epochs: Int, _ lr: LearningRate) -> FitPlan { oneCycle ? .oneCycle(epochs: epochs, lr: lr) : .flatCos(epochs: epochs, lr: lr) }

  public func plan(_ model: XResNet, epochs: Int, headEpochs: Int, lr: Double) -> FitPlan {
    let all = fit(epochs, .value(lr))
    switch scenario {
    case .random, .full, .joint, .selftrain:
      return all.preparing { _ in try model.unfreeze() }
    case .head:
      return all.preparing { _ in try model.freeze() }
    case .linear:
      return all.preparing { _ in try model.freeze(trainBatchNorm: false) }
    case .discriminative, .lpft:
      let head = Swift.min(headEpochs, epochs)
      let first = head > 0 ? fit(head, .value(lr)).preparing { _ in try model.freeze() } : FitPlan(phases: [])
      let rest: LearningRate = scenario == .lpft ? .value(lr) : .range(lr / 100, lr)
      return first.then(fit(epochs - head, rest).preparing { _ in try model.unfreeze() })
    }
  }
}

extension FineTune {
  public func step(_ model: XResNet, loss: @escaping (Tensor, Tensor) throws -> Tensor) -> TrainStep {
    let supervised = SupervisedStep(loss: loss)
    return scenario == .linear ? FrozenBodyStep(supervised, body: model.body) : supervised
  }
}

/// A supervised step whose model trains with its `body` in evaluation mode (a linear probe: the frozen
/// encoder's BatchNorm uses and keeps its running statistics).
final class FrozenBodyStep: TrainStep {
  let inner: SupervisedStep, body: Module
  init(_ inner: SupervisedStep, body: Module) { (self.inner, self.body) = (inner, body) }
  func compute(_ batch: Batch, model: Module) throws -> StepOutput { try inner.compute(batch, model: model) }
  func setMode(training: Bool, model: Module) {
    training ? model.train() : model.eval()
    body.eval()
  }
}
