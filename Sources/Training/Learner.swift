import Foundation
import NN
import Torch

/// Points in the fit loop where callbacks run (fastai's events).
public enum Event: String, Sendable, CaseIterable {
  case beforeFit, beforeEpoch, beforeTrain, beforeBatch, afterPred, afterLoss, beforeBackward, afterBackward,
    beforeStep, afterStep, afterBatch, afterTrain, beforeValidate, afterValidate, afterEpoch, afterFit
}

/// A callback sees every event with the learner's current state, and may throw `LearnerControl` to skip
/// the batch or stop training.
public protocol Callback: AnyObject {
  func on(_ event: Event, _ learner: Learner) throws
}

/// Thrown by a callback to change the loop's course.
public enum LearnerControl: Error, Sendable {
  /// Skip the rest of this batch (no backward, no step).
  case skipBatch
  /// End training after this point; validation of the current epoch is skipped.
  case stopTraining
}

/// A non-finite loss stops the run; the last checkpoint (if any) is left as it was. `batch` is nil for the
/// validation loss (the mean over the whole validation pass).
public struct NonFiniteLossError: Error, CustomStringConvertible, Sendable {
  public let epoch: Int, batch: Int?
  public let value: Double
  public let lastCheckpoint: String?
  public var description: String {
    (batch.map { "loss became \(value) at epoch \(epoch + 1), batch \($0 + 1)" }
      ?? "validation loss became \(value) at epoch \(epoch + 1)") + ": training stopped"
      + (lastCheckpoint.map { "; the last good checkpoint is \($0)" } ?? "")
  }
}

/// A fit that cannot run as planned (no batch to train on, nothing to validate, a start past the plan).
public struct FitError: Error, CustomStringConvertible, Sendable {
  public let message: String
  public init(_ message: String) { self.message = message }
  public var description: String { message }
}

/// A stretch of a fit with its own learning rates, schedules and set-up (fastai's fit then unfreeze then fit,
/// as one fit: one checkpoint, one step counter). Schedules run over the phase: pos = batches done in the
/// phase / batches in the phase.
public struct Phase {
  public var epochs: Int
  public var lr: LearningRate
  /// Multiplies each group's lr as a function of progress through the phase.
  public var lrSchedule: Schedule
  /// Sets every group's momentum (β₁) as a function of progress, when given.
  public var momentumSchedule: Schedule?
  /// Runs when the phase begins, and when a resumed fit starts inside it (e.g. freeze, unfreeze).
  public var prepare: ((Learner) throws -> Void)?

  public init(
    epochs: Int, lr: LearningRate, lrSchedule: Schedule = .constant(1), momentumSchedule: Schedule? = nil,
    prepare: ((Learner) throws -> Void)? = nil
  ) {
    (self.epochs, self.lr, self.lrSchedule, self.momentumSchedule, self.prepare) = (epochs, lr, lrSchedule, momentumSchedule, prepare)
  }
}

/// How a fit runs: its phases, one after another.
public struct FitPlan {
  public var phases: [Phase]
  public var epochs: Int { phases.map(\.epochs).reduce(0, +) }

  public init(phases: [Phase]) { self.phases = phases }

  public init(epochs: Int, lr: LearningRate, lrSchedule: Schedule = .constant(1), momentumSchedule: Schedule? = nil) {
    phases = [Phase(epochs: epochs, lr: lr, lrSchedule: lrSchedule, momentumSchedule: momentumSchedule)]
  }

  /// fastai's fit_one_cycle.
  public static func oneCycle(epochs: Int, lr: LearningRate) -> FitPlan {
    FitPlan(epochs: epochs, lr: lr, lrSchedule: .oneCycle(), momentumSchedule: .oneCycleMomentum())
  }

  /// fastai's fit_flat_cos.
  public static func flatCos(epochs: Int, lr: LearningRate) -> FitPlan {
    FitPlan(epochs: epochs, lr: lr, lrSchedule: .flatCos())
  }

  /// This plan's phases, then `next`'s.
  public func then(_ next: FitPlan) -> FitPlan { FitPlan(phases: phases + next.phases) }

  /// Every phase with `prepare` as its set-up.
  public func preparing(_ prepare: @escaping (Learner) throws -> Void) -> FitPlan {
    FitPlan(phases: phases.map { var p = $0; p.prepare = prepare; return p })
  }

  /// The phase epoch `e` falls in, and the epoch that phase starts at.
  func phase(at e: Int) -> (index: Int, start: Int) {
    var start = 0
    for (i, p) in phases.enumerated() {
      if e < start + p.epochs { return (i, start) }
      start += p.epochs
    }
    return (phases.count - 1, start - (phases.last?.epochs ?? 0))
  }
}

/// Per-epoch results.
public struct EpochRecord: Codable, Sendable, Equatable {
  public var epoch: Int
  public var trainLoss: Double
  public var validLoss: Double?
  public var metrics: [String: Double]
  /// The whole epoch (training and validation), and its training pass alone (data loading included).
  public var seconds: Double
  public var trainSeconds: Double? = nil
  /// Of the training pass, the time spent waiting for the next batch (the loader not keeping up with the step).
  public var dataWaitSeconds: Double? = nil
}

/// The fit loop over a model, data, a step (how a batch becomes a loss), an optimizer and a plan, with
/// callbacks at fastai's events.
public final class Learner {
  public let model: Module
  public let train: BatchSource
  public let valid: BatchSource?
  public let step: TrainStep
  public let optimizer: Optimizer
  public var metrics: [Metric]
  public var callbacks: [Callback]
  /// Clip the global gradient norm to this before each step.
  public var clipGradNorm: Double?
  /// Where a checkpoint is written (atomically) after every epoch; nil: none.
  public var checkpointPath: String?
  /// False on data-parallel ranks other than 0: they resume from the checkpoint but never write it.
  public var writesCheckpoints = true
  /// Data parallelism (`DataParallel` sets it): sums a vector across ranks, so the epoch's train loss and the
  /// validation's loss, logs and metrics are those of the whole data, not of this rank's part.
  public var sumAcrossRanks: (([Double]) throws -> [Double])?
  /// Values callbacks add to the current epoch's record (an online monitor's), merged into it after validation,
  /// before it is checkpointed and logged; cleared at each epoch's start.
  public var epochMetrics: [String: Double] = [:]
  /// What the checkpoint belongs to (e.g. the stage, the run and a digest of the resolved config): written into
  /// it and required to match when it is loaded, so another stage's or another config's checkpoint is refused.
  public var checkpointFingerprint: String?
  /// Mixed precision: forward and loss under autocast in this dtype (bfloat16, or float16 with dynamic
  /// loss scaling) on the model's device.
  public var mixedPrecision: DType? {
    didSet { scaler = mixedPrecision == .float16 ? LossScaler() : nil }
  }
  public private(set) var scaler: LossScaler?

  // Loop state, readable by callbacks.
  public private(set) var epoch = 0
  public private(set) var batchIndex = 0
  /// Training batches done in this fit (the schedules' clock).
  public private(set) var iteration = 0
  public private(set) var totalIterations = 0
  public private(set) var isTrainingPhase = true
  /// The batch being processed; a callback may replace it in `beforeBatch` (the learner reads it back).
  public var batch: Batch?
  /// What the step computed for the current batch (set before `afterPred`).
  public private(set) var output: StepOutput?
  public var prediction: Tensor? { output?.prediction }
  public var loss: Tensor? { output?.loss }

  // Records.
  public private(set) var batchLosses: [Double] = []
  /// Learning rates per group at every training batch.
  public private(set) var batchLRs: [[Double]] = []
  public internal(set) var history: [EpochRecord] = []

  public init(
    model: Module, train: BatchSource, valid: BatchSource? = nil, step: TrainStep, optimizer: Optimizer, metrics: [Metric] = [],
    callbacks: [Callback] = []
  ) {
    (self.model, self.train, self.valid, self.step, self.optimizer) = (model, train, valid, step, optimizer)
    (self.metrics, self.callbacks) = (metrics, callbacks)
  }

  /// Supervised training of batches' `image` against their `label` with `loss`.
  public convenience init(
    model: Module, train: BatchSource, valid: BatchSource? = nil, loss: @escaping (Tensor, Tensor) throws -> Tensor,
    optimizer: Optimizer, metrics: [Metric] = [], callbacks: [Callback] = []
  ) {
    self.init(model: model, train: train, valid: valid, step: SupervisedStep(loss: loss), optimizer: optimizer, metrics: metrics,
              callbacks: callbacks)
  }

  func emit(_ event: Event) throws { for cb in callbacks { try cb.on(event, self) } }

  /// Runs `plan` from its start, or from `startEpoch` when resuming (the phase it falls in is prepared first).
  public func fit(_ plan: FitPlan, startEpoch: Int = 0) throws {
    guard startEpoch >= 0, startEpoch <= plan.epochs else {
      throw FitError("cannot start at epoch \(startEpoch + 1) of a \(plan.epochs)-epoch fit (a checkpoint from a longer plan?)")
    }
    guard train.batchCount > 0 else {
      throw FitError("the training data yields no batch (fewer items than one batch, and the last partial batch is dropped)")
    }
    totalIterations = plan.epochs * train.batchCount
    iteration = startEpoch * train.batchCount
    var prepared = -1
    do {
      try emit(.beforeFit)
      for e in startEpoch..<plan.epochs {
        epoch = e
        let (p, phaseStart) = plan.phase(at: e)
        if p != prepared {
          try plan.phases[p].prepare?(self)
          prepared = p
        }
        let start = Date()
        epochMetrics = [:]
        try emit(.beforeEpoch)
        let (trainLoss, logs, waited) = try trainEpoch(plan.phases[p], firstIteration: phaseStart * train.batchCount)
        var record = EpochRecord(epoch: e, trainLoss: trainLoss, validLoss: nil, metrics: logs, seconds: 0,
                                 trainSeconds: Date().timeIntervalSince(start), dataWaitSeconds: waited)
        if let valid {
          let (loss, values) = try validate(valid)
          guard loss.isFinite else {
            throw NonFiniteLossError(epoch: e, batch: nil, value: loss, lastCheckpoint: existingCheckpoint)
          }
          record.validLoss = loss
          record.metrics.merge(values) { $1 }
        }
        record.metrics.merge(epochMetrics) { $1 }
        record.seconds = Date().timeIntervalSince(start)
        history.append(record)
        if let checkpointPath, writesCheckpoints { try saveCheckpoint(to: checkpointPath, plan: plan, epochsDone: e + 1) }
        try emit(.afterEpoch)
      }
    } catch LearnerControl.stopTraining {}
    try emit(.afterFit)
  }

  /// One training epoch in `phase` (whose first batch is iteration `firstIteration` of the fit): the mean
  /// loss over items, the mean of each of the step's logs as `train_<name>`, and the seconds spent waiting
  /// for batches.
  func trainEpoch(_ phase: Phase, firstIteration: Int) throws -> (Double, [String: Double], Double) {
    // Found once per epoch: walking the module tree by reflection is not free.
    let device = optimizer.groups.first?.params.first?.value.device ?? .cpu
    let trainable = optimizer.groups.flatMap(\.params)
    let base = phase.lr.perGroup(optimizer.groups.count)
    let phaseIterations = Double(Swift.max(phase.epochs * train.batchCount, 1))
    step.setMode(training: true, model: model)
    isTrainingPhase = true
    try emit(.beforeTrain)
    var sum = 0.0, count = 0
    var logSums: [String: Double] = [:]
    batchIndex = 0
    let stream = try train.batches(epoch: epoch)
    var waited = 0.0
    func nextBatch() throws -> Batch? {
      let asked = DispatchTime.now().uptimeNanoseconds
      defer { waited += Double(DispatchTime.now().uptimeNanoseconds - asked) / 1e9 }
      return try stream.next()
    }
    while let next = try nextBatch() {
      let pos = Double(iteration - firstIteration) / phaseIterations
      for (g, lr) in zip(optimizer.groups, base) {
        g.lr = lr * phase.lrSchedule(pos)
        if let m = phase.momentumSchedule { g.momentum = m(pos) }
      }
      batch = next
      do {
        try emit(.beforeBatch)
        let b = batch ?? next
        output = try compute(b, on: device)
        try emit(.afterPred)
        let l = output!.loss
        let value = try l.item().doubleValue
        guard value.isFinite else {
          throw NonFiniteLossError(epoch: epoch, batch: batchIndex, value: value, lastCheckpoint: existingCheckpoint)
        }
        try emit(.afterLoss)
        try emit(.beforeBackward)
        try (scaler.map { try l * $0.scale } ?? l).backward()
        try emit(.afterBackward)
        if scaler != nil, try !scaler!.unscale(trainable.compactMap { $0.value.grad }) {
          throw LearnerControl.skipBatch  // Inf/NaN gradients at this scale: no step, smaller scale
        }
        if let clipGradNorm { try clipGradients(maxNorm: clipGradNorm) }
        try emit(.beforeStep)
        try optimizer.step()
        try step.afterOptimizerStep(self)
        try emit(.afterStep)
        try optimizer.zeroGrad()
        let n = b.count
        batchLosses.append(value)
        batchLRs.append(optimizer.groups.map(\.lr))
        sum += value * Double(n)
        for (k, t) in output!.logs { logSums["train_" + k, default: 0] += try t.item().doubleValue * Double(n) }
        count += n
      } catch LearnerControl.skipBatch {
        try optimizer.zeroGrad()
      }
      try emit(.afterBatch)
      batchIndex += 1
      iteration += 1
    }
    (batch, output) = (nil, nil)
    try emit(.afterTrain)
    let (total, n, means) = try reduced(sum: sum, count: count, logSums: logSums)
    guard n > 0 else { throw FitError("epoch \(epoch + 1) trained on no batch (every batch was skipped)") }
    return (total / n, means, waited)
  }

  /// The step's output for `batch`, under autocast when `mixedPrecision` is set (validation too, as fastai's
  /// MixedPrecision callback does).
  func compute(_ batch: Batch, on device: Device) throws -> StepOutput {
    let forward = { () throws -> StepOutput in try self.step.compute(batch, model: self.model) }
    return try mixedPrecision.map { dt in try withAutocast(device, dtype: dt, forward) } ?? forward()
  }

  /// The checkpoint file, when one has been written.
  var existingCheckpoint: String? { checkpointPath.flatMap { FileManager.default.fileExists(atPath: $0) ? $0 : nil } }

  /// Loss (mean over items), metrics and the step's logs (as `valid_<name>`) over `data`, in eval mode without autograd; batch events are emitted
  /// with `isTrainingPhase` false.
  public func validate(_ data: BatchSource) throws -> (loss: Double, metrics: [String: Double]) {
    step.setMode(training: false, model: model)
    isTrainingPhase = false
    try emit(.beforeValidate)
    for i in metrics.indices { metrics[i].reset() }
    var sum = 0.0, count = 0
    var logSums: [String: Double] = [:]
    batchIndex = 0
    let device = optimizer.groups.first?.params.first?.value.device ?? .cpu
    try withNoGrad {
      let stream = try data.batches(epoch: 0)
      while let next = try stream.next() {
        batch = next
        try emit(.beforeBatch)
        let b = batch ?? next
        output = try compute(b, on: device)
        try emit(.afterPred)
        sum += try output!.loss.item().doubleValue * Double(b.count)
        for (k, t) in output!.logs { logSums["valid_" + k, default: 0] += try t.item().doubleValue * Double(b.count) }
        count += b.count
        if let p = output!.prediction, let y = output!.target {
          for i in metrics.indices { try metrics[i].accumulate(prediction: p, target: y) }
        }
        try emit(.afterBatch)
        batchIndex += 1
      }
    }
    (batch, output) = (nil, nil)
    let (total, n, means) = try reduced(sum: sum, count: count, logSums: logSums, metrics: true)
    try emit(.afterValidate)
    step.setMode(training: true, model: model)
    guard n > 0 else { throw FitError("the validation data yields no item") }
    let values = Dictionary(uniqueKeysWithValues: metrics.map { ($0.name, $0.value) })
    return (total / n, values.merging(means) { $1 })
  }

  /// A pass's loss sum, item count and per-log means over every rank (one collective; with `metrics`, their
  /// statistics too, set back into them), or this process's when not data-parallel.
  func reduced(sum: Double, count: Int, logSums: [String: Double], metrics withMetrics: Bool = false) throws
    -> (sum: Double, count: Double, logMeans: [String: Double])
  {
    let keys = logSums.keys.sorted()
    guard let sumAcrossRanks else {
      return (sum, Double(count), logSums.mapValues { $0 / Double(Swift.max(count, 1)) })
    }
    var local = [sum, Double(count)] + keys.map { logSums[$0]! }
    if withMetrics { for m in metrics { local += m.statistics } }
    let all = try sumAcrossRanks(local)
    var at = 2 + keys.count
    if withMetrics {
      for i in metrics.indices {
        let k = metrics[i].statistics.count
        metrics[i].statistics = Array(all[at..<(at + k)])
        at += k
      }
    }
    let n = all[1]
    return (all[0], n, Dictionary(uniqueKeysWithValues: keys.enumerated().map { ($1, all[2 + $0] / Swift.max(n, 1)) }))
  }

  /// Scales every gradient so that their global 2-norm is at most `maxNorm` (torch's clip_grad_norm_).
  public func clipGradients(maxNorm: Double) throws {
    let grads = optimizer.groups.flatMap(\.params).compactMap { $0.value.grad }
    guard !grads.isEmpty else { return }
    let total = try Tensor.stack(Foreach.norm(grads)).norm().item().doubleValue
    let scale = maxNorm / (total + 1e-6)
    if scale < 1 { try withNoGrad { try Foreach.mul_(grads, .float(scale)) } }
  }
}
