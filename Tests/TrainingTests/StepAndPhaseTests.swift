// Issue 13: the learner's replaceable step, batches of named tensors, phased fits.
import Foundation
import Testing
@testable import NN
@testable import Torch
@testable import Training

/// Records batch events, in training and validation, and the fit's step counter.
final class EventLog: Callback {
  var trainBatches = 0, validBatches = 0
  var iterations: [Int] = []
  var lrs: [[Double]] = []
  func on(_ event: Event, _ l: Learner) throws {
    switch event {
    case .afterBatch where l.isTrainingPhase: trainBatches += 1; iterations.append(l.iteration)
    case .afterBatch: validBatches += 1
    case .beforeStep: lrs.append(l.optimizer.groups.map(\.lr))
    default: break
    }
  }
}

/// Zeroes every image of a batch in `beforeBatch` (a callback rewriting the batch, as fastai allows).
final class BlankImages: Callback {
  func on(_ event: Event, _ l: Learner) throws {
    if event == .beforeBatch, l.isTrainingPhase, let x = l.batch?["image"] { l.batch?["image"] = try x * 0.0 }
  }
}

/// A step that records what it was given and adds a named log.
final class RecordingStep: TrainStep {
  var sums: [Double] = []
  func compute(_ batch: Batch, model: Module) throws -> StepOutput {
    let x = try batch.require("image"), y = try batch.require("label")
    if isGradEnabled { sums.append(try x.abs().sum().item(Double.self)) }
    let p = try model(x)
    return StepOutput(loss: try crossEntropy(p, y), logs: ["half": try crossEntropy(p, y) * 0.5], prediction: p, target: y)
  }
}

@Suite struct StepAndPhaseTests {
  /// The step sees the batch a callback rewrote; its named logs come out per epoch as `train_<name>`;
  /// validation emits batch events too.
  @Test func theStepSeesTheRewrittenBatchAndLogsComeOut() throws {
    let (x, y) = try bars(64, seed: 2)
    let model = try smallNet()
    let step = RecordingStep()
    let log = EventLog()
    let learner = Learner(
      model: model, train: TensorBatches(inputs: x, targets: y, batchSize: 16, shuffle: true),
      valid: TensorBatches(inputs: x, targets: y, batchSize: 32, shuffle: false), step: step,
      optimizer: SGD(groups: ParamGroup.single(model, lr: 0.01)), metrics: [Accuracy()], callbacks: [BlankImages(), log])
    try learner.fit(.flatCos(epochs: 1, lr: .value(0.01)))
    #expect(step.sums == [0, 0, 0, 0])  // every training batch reached the step blanked
    #expect(log.trainBatches == 4 && log.validBatches == 2)
    let r = try #require(learner.history.first)
    #expect(Swift.abs(r.metrics["train_half"]! - r.trainLoss / 2) < 1e-6 && r.metrics["accuracy"] != nil)
    #expect { try Batch(["image": x]).require("label") } throws: { "\($0)".contains("no 'label'") && "\($0)".contains("image") }
  }

  /// A fit of two phases (head only, then everything with discriminative lrs) is one fit: one step counter
  /// from 0 to the end, each phase's schedule over its own batches, its set-up run when it begins, one
  /// checkpoint, and a resume that lands in the second phase prepares that phase.
  @Test func phasesAreOneFitWithOneCounter() throws {
    let path = NSTemporaryDirectory() + "pretext-phases-\(UUID().uuidString).safetensors"
    let model = try smallNet()
    let log = EventLog()
    let learner = try makeLearner(model, items: 64)  // 2 batches per epoch
    learner.callbacks.append(log)
    learner.checkpointPath = path
    var prepared: [String] = []
    let plan = FitPlan.flatCos(epochs: 1, lr: .value(1e-3)).preparing { _ in prepared.append("head"); try model.freeze() }
      .then(FitPlan.flatCos(epochs: 2, lr: .range(1e-5, 1e-3)).preparing { _ in prepared.append("all"); try model.unfreeze() })
    try learner.fit(plan)
    #expect(prepared == ["head", "all"])
    #expect(log.iterations == [0, 1, 2, 3, 4, 5])  // one counter through both phases
    #expect(log.lrs[0] == [1e-3, 1e-3, 1e-3] && log.lrs[2][0] / log.lrs[2][2] < 0.011)
    #expect(learner.history.map(\.epoch) == [0, 1, 2])
    #expect(try SafeTensors.File(path: path).metadata["pretext.epochs_done"] == "3")

    // Stopped after epoch 2 (inside the second phase) and resumed: only the second phase is prepared.
    let stopped = try makeLearner(model, items: 64)
    stopped.checkpointPath = path
    stopped.callbacks = [StopAfter(epochs: 2)]
    try stopped.fit(plan)
    prepared = []
    let again = try makeLearner(model, items: 64)
    let done = try again.loadCheckpoint(from: path)
    try again.fit(plan, startEpoch: done)
    #expect(done == 2 && prepared == ["all"] && again.history.count == 3)
  }
}
