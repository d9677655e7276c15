import Foundation
import ImageData
import NN
import SelfSupervised
import Torch
import Training

/// One downstream run: the protocol, the run index and its per-epoch records.
public struct ScenarioResult: Codable, Sendable {
  public let scenario: Scenario
  public let run: Int
  public let history: [EpochRecord]
  public let seconds: Double
  /// The arithmetic it trained in (`auto` resolved on the machine that trained it); nil in older results.
  public var precision: Precision? = nil
  public var finalAccuracy: Double { history.last?.metrics["accuracy"] ?? .nan }
  public var bestAccuracy: Double { history.compactMap { $0.metrics["accuracy"] }.max() ?? .nan }
  /// The final accuracy with predictions restricted to val/'s classes (`AccuracyAmong`).
  public var finalAccuracyAmongValidClasses: Double { history.last?.metrics["accuracy_among_valid_classes"] ?? .nan }
}

/// Trains the classifier once under one fine-tune protocol; `encoder` is the pretext's encoder file (unused
/// by `.random`). Everything goes into `eval/<protocol>/<run>/`: a CSV log, TensorBoard, one checkpoint per
/// epoch (a phased fit has one checkpoint and one step counter), the final weights and, once done, the
/// result file. With `resume`, a finished run returns its result (and no learner) and an unfinished one
/// continues from its checkpoint, bit-identical to a run never stopped. `stage` overrides the folder.
/// Data-parallel (`Parallel.group`): each rank trains on its part of every batch and validates its part of
/// val/; rank 0 writes every file. (The cached linear probe is computed whole on every rank: it is cheap.)
public func trainScenario(
  _ scenario: Scenario, run: Int, data: ImageWangLayout, encoder: String?, _ config: StudyConfig, runDir: String,
  resume: Bool = false, callbacks: [Callback] = [], stage: Stage? = nil
) throws -> (result: ScenarioResult, learner: Learner?, model: XResNet) {
  try config.validate(protocols: [scenario])
  // Few-label runs: the same seeded subset of train/'s labels for every run and protocol.
  let data = config.downstreamData(data)
  let evaluation = FineTune(scenario, oneCycle: config.downstream.recipe == .fastai)
  let stage = stage ?? Stage.evaluation(runDir, protocol: evaluation.name, run: run)
  let start = Date()
  let seed = config.runtime.seed &+ UInt64(run) &* 1000
  Runtime.manualSeed(seed)
  let head = scenario == .linear ? .linear : config.downstream.head  // a probe is linear
  let model = try Init.withGenerator(Generator(seed: seed)) {
    try XResNet(.resnet34, inChannels: config.data.channels, classes: data.train.classes.count, widen: config.widen, head: head)
  }
  let weights = stage.file("model.safetensors")
  let fingerprint = try config.fingerprint(stage: "\(evaluation.name) run \(run)")
  if resume, let done = try RunFolder.readResult(ScenarioResult.self, from: stage.result, stage: fingerprint) {
    try model.load(from: weights)
    return (done, nil, model)
  }
  try Parallel.requireEvenShares(config.downstream.batch, flag: "--batch", syncBatchNorm: config.runtime.syncBatchNorm)
  if Parallel.isWriter { try RunFolder.makeFolders(stage.dir) }
  // A linear probe of random weights (encoder nil) is the probe's baseline: what the features hold before any pretext.
  if evaluation.usesEncoder && !(scenario == .linear && encoder == nil) {
    guard let encoder else { throw DatasetError(path: runDir, "protocol \(evaluation.name) needs the pretext encoder") }
    try EncoderTransfer.loadBody(try SafeTensors.File(path: encoder).checked().tensors(), into: model, source: encoder)
  }
  try model.to(device: config.torchDevice, memoryFormat: config.memoryFormat)
  let recipe = config.downstream.recipe == .fastai ? TrainingRecipe.fastai(lr: config.downstream.lr, weightDecay: config.weightDecay)
    : .study(lr: config.downstream.lr, weightDecay: config.weightDecay)
  let logs: [Callback] = callbacks + (try Parallel.writers([CSVLogger(path: stage.log), try TensorBoardLogger(directory: stage.tensorboard)]))
  let learner: Learner, plan: FitPlan
  if scenario == .linear && config.downstream.cacheFeatures {
    (learner, _) = try cachedProbeLearner(model, data, config, seed: seed, loss: Losses.labelSmoothingCrossEntropy(),
                                          optimizer: { recipe.makeOptimizer(for: $0, batch: config.downstream.batch) }, callbacks: logs)
    plan = evaluation.fit(config.downstream.epochs, .value(config.downstream.lr))
  } else {
    let train = ImageLoader(paths: data.train.paths, labels: data.train.labels, pipeline: .crop(size: config.downstream.size, training: true),
                            batchSize: config.downstream.batch, shuffle: true, seed: seed, workers: config.runtime.workers, shard: Parallel.shard,
                            channels: config.data.channels, samples: .bytes)
    let part = Parallel.part(Array(zip(data.valid.paths, data.valid.labels)))  // this rank's part of val/
    let valid = ImageLoader(paths: part.items.map(\.0), labels: part.items.map(\.1), pipeline: .crop(size: config.downstream.size, training: false),
                            batchSize: config.downstream.batch, shuffle: false, seed: seed, workers: config.runtime.workers, itemOffset: part.offset,
                            channels: config.data.channels, samples: .bytes)
    learner = Learner(
      model: model, train: OnDevice(train, config), valid: OnDevice(valid, config),
      step: evaluation.step(model, loss: Losses.labelSmoothingCrossEntropy()), optimizer: recipe.makeOptimizer(for: model, batch: config.downstream.batch),
      metrics: [Accuracy(), AccuracyAmong(classes: data.validClasses)], callbacks: logs)
    plan = evaluation.plan(model, epochs: config.downstream.epochs, headEpochs: config.downstream.headEpochs, lr: config.downstream.lr)
    Parallel.attach(learner, model: model, config)
  }
  learner.mixedPrecision = try config.autocastDType
  learner.checkpointPath = stage.checkpoint
  learner.checkpointFingerprint = fingerprint
  let restored = try resumeIfAsked(learner, resume)
  try learner.fit(plan, startEpoch: restored)
  var result = ScenarioResult(scenario: scenario, run: run, history: learner.history,
                              seconds: Date().timeIntervalSince(start) + earlierSeconds(learner, restored))
  result.precision = try config.resolvedPrecision
  if Parallel.isWriter {
    // The class names, input size and architecture ride along, so `pretext predict` needs only this file.
    try model.save(to: weights, metadata: ClassifierInfo(classes: data.train.classes, size: config.downstream.size, widen: config.widen,
                                                         head: head.rawValue, dicomWindow: config.data.dicomWindow, channels: config.data.channels).metadata)
    try RunFolder.writeResult(result, to: stage.result, stage: fingerprint)
    try RunFolder.dropCheckpoints([stage.checkpoint], config)
  }
  try Parallel.barrier()
  return (result, learner, model)
}
