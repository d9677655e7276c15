import NN
import Torch

/// What one step computed: the loss to backpropagate, named scalars to log beside it (e.g. each task's loss
/// in a multi-task step), and what the metrics compare, when the step has a prediction and a target.
public struct StepOutput {
  public var loss: Tensor
  public var logs: [String: Tensor]
  public var prediction: Tensor?
  public var target: Tensor?
  public init(loss: Tensor, logs: [String: Tensor] = [:], prediction: Tensor? = nil, target: Tensor? = nil) {
    (self.loss, self.logs, self.prediction, self.target) = (loss, logs, prediction, target)
  }
}

/// The replaceable part of the learner's loop (swift-models' TrainingLoop step): how a batch becomes a loss.
/// The learner does the rest (grad mode, autocast, backward, clipping, the optimizer, schedules, callbacks).
public protocol TrainStep: AnyObject {
  /// The loss of `batch`, in training and validation alike (the learner sets grad mode and autocast).
  func compute(_ batch: Batch, model: Module) throws -> StepOutput
  /// Runs after every optimizer step (EMA teachers, queues). Default: nothing.
  func afterOptimizerStep(_ learner: Learner) throws
  /// Puts the model in training or evaluation mode. Default: `model.train()` / `model.eval()`; a linear probe
  /// keeps its backbone in eval mode while its head trains.
  func setMode(training: Bool, model: Module)
}

extension TrainStep {
  public func afterOptimizerStep(_ learner: Learner) throws {}
  public func setMode(training: Bool, model: Module) { training ? model.train() : model.eval() }
}

/// Supervised training: `loss(model(batch[input]), batch[target])`; the prediction and target feed the metrics.
public final class SupervisedStep: TrainStep {
  public let input: String, target: String
  public let loss: (Tensor, Tensor) throws -> Tensor
  public init(input: String = "image", target: String = "label", loss: @escaping (Tensor, Tensor) throws -> Tensor) {
    (self.input, self.target, self.loss) = (input, target, loss)
  }
  public func compute(_ batch: Batch, model: Module) throws -> StepOutput {
    let y = try batch.require(target)
    let p = try model(batch.require(input))
    return StepOutput(loss: try loss(p, y), prediction: p, target: y)
  }
}
