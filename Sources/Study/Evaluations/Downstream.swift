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
  /// Optimizer steps, and the labelled and unlabelled images they read (nil in results from before they were
  /// recorded): a semi-supervised row and its supervised baseline are compared at equal steps.
  public var steps: Int? = nil
  public var labelledImagesSeen: Int? = nil
  public var unlabelledImagesSeen: Int? = nil
  /// `selftrain`: the unlabelled images the teacher's labels were kept for.
  public var pseudoLabelled: Int? = nil
  public var finalAccuracy: Double { history.last?.metrics["accuracy"] ?? .nan }
  public var bestAccuracy: Double { history.compactMap { $0.metrics["accuracy"] }.max() ?? .nan }
  /// The final accuracy with predictions restricted to val/'s classes (`AccuracyAmong`).
  public var finalAccuracyAmongValidClasses: Double { history.last?.metrics["accuracy_among_valid_classes"] ?? .nan }
}

/// Trains the classifier once under one protocol; `encoder` is the pretext's encoder file (unused by `.random`; for
/// `.selftrain`, the teacher classifier's file). Everything goes into `eval/<protocol>/<run>/`: a CSV log, TensorBoard, one checkpoint per
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
  let dataset = data
  // Few-label runs: the same seeded subset of train/'s labels for every run and protocol.
  let data = config.downstreamData(data)
  let stage = stage ?? Stage.evaluation(runDir, protocol: scenario.rawValue, run: run)
  let start = Date()
  let seed = config.runtime.seed &+ UInt64(run) &* 1000
  Runtime.manualSeed(seed)
  let head = scenario == .linear ? .linear : config.downstream.head  // a probe is linear
  let model = try Init.withGenerator(Generator(seed: seed)) {
    try XResNet(.resnet34, inChannels: config.data.channels, classes: data.train.classes.count, widen: config.widen, head: head)
  }
  let weights = stage.file("model.safetensors")
  let fingerprint = try config.fingerprint(stage: "\(scenario.rawValue) run \(run)")
  if resume, let done = try RunFolder.readResult(ScenarioResult.self, from: stage.result, stage: fingerprint) {
    try model.load(from: weights)
    return (done, nil, model)
  }
  try Parallel.requireEvenShares(config.downstream.batch, flag: "--batch", syncBatchNorm: config.runtime.syncBatchNorm)
  if Parallel.isWriter { try RunFolder.makeFolders(stage.dir) }
  // A linear probe of random weights (encoder nil) is the probe's baseline: what the features hold before any pretext.
  if scenario.usesEncoder && !(scenario.runsWithoutEncoder && encoder == nil) {
    guard let encoder else { throw DatasetError(path: runDir, "protocol \(scenario.rawValue) needs the pretext encoder") }
    try EncoderTransfer.loadBody(try SafeTensors.File(path: encoder).checked().tensors(), into: model, source: encoder)
  }
  // The semi-supervised protocol's task is built on the classifier's body, after any encoder is loaded into it.
  let joint = scenario == .joint ? try jointTraining(model, config, seed: seed) : nil
  let fineTune = FineTune(scenario, oneCycle: config.downstream.recipe == .fastai)
  let evaluation: Evaluation = joint ?? fineTune
  let network: any ParameterGroups = joint?.network(model) ?? model
  try network.to(device: config.torchDevice, memoryFormat: config.memoryFormat)
  let recipe = config.downstream.recipe == .fastai ? TrainingRecipe.fastai(lr: config.downstream.lr, weightDecay: config.weightDecay)
    : .study(lr: config.downstream.lr, weightDecay: config.weightDecay)
  let logs: [Callback] = callbacks + (try Parallel.writers([CSVLogger(path: stage.log), try TensorBoardLogger(directory: stage.tensorboard)]))
  let learner: Learner, plan: FitPlan
  var selfTraining: (loader: ImageLoader, set: SelfTrainingSet)?
  if scenario == .linear && config.downstream.cacheFeatures {
    (learner, _) = try cachedProbeLearner(model, data, config, seed: seed, loss: Losses.labelSmoothingCrossEntropy(),
                                          optimizer: { recipe.makeOptimizer(for: $0, batch: config.downstream.batch) }, callbacks: logs)
    plan = fineTune.fit(config.downstream.epochs, .value(config.downstream.lr))
  } else {
    let labelled = trainingLoader(paths: data.train.paths, labels: data.train.labels, config, seed: seed)
    var train: BatchSource = try joint.map { try pairedWithUnlabelled(labelled, $0.aux, data: dataset, config, seed: seed) } ?? labelled
    var step = evaluation.step(model, loss: Losses.labelSmoothingCrossEntropy())
    if scenario == .selftrain {
      guard let teacher = encoder else { throw DatasetError(path: runDir, "protocol selftrain needs a teacher classifier (--teacher FILE)") }
      let student = try selfTrainingStudent(teacher: teacher, labelled: data, dataset: dataset, config, seed: seed, steps: labelled.batchCount)
      (train, step, selfTraining) = (student.source, student.step, (student.loader, student.set))
    }
    let part = Parallel.part(Array(zip(data.valid.paths, data.valid.labels)))  // this rank's part of val/
    let valid = ImageLoader(paths: part.items.map(\.0), labels: part.items.map(\.1), pipeline: .crop(size: config.downstream.size, training: false),
                            batchSize: config.downstream.batch, shuffle: false, seed: seed, workers: config.runtime.workers, itemOffset: part.offset,
                            channels: config.data.channels, samples: .bytes)
    learner = Learner(
      model: network, train: OnDevice(train, config), valid: OnDevice(valid, config),
      step: step, optimizer: recipe.makeOptimizer(for: network, batch: config.downstream.batch),
      metrics: [Accuracy(), AccuracyAmong(classes: data.validClasses)], callbacks: logs)
    plan = evaluation.plan(model, epochs: config.downstream.epochs, headEpochs: config.downstream.headEpochs, lr: config.downstream.lr)
    Parallel.attach(learner, model: network, config)
  }
  learner.mixedPrecision = try config.autocastDType
  learner.checkpointPath = stage.checkpoint
  learner.checkpointFingerprint = fingerprint
  let restored = try resumeIfAsked(learner, resume)
  try learner.fit(plan, startEpoch: restored)
  var result = ScenarioResult(scenario: scenario, run: run, history: learner.history,
                              seconds: Date().timeIntervalSince(start) + earlierSeconds(learner, restored))
  result.precision = try config.resolvedPrecision
  result.steps = learner.history.count * learner.train.batchCount
  result.labelledImagesSeen = result.steps! * config.downstream.batch
  result.unlabelledImagesSeen = joint == nil ? 0 : result.steps! * config.unlabelledBatch
  if let (loader, set) = selfTraining {
    result.labelledImagesSeen = labelledItemsRead(loader, labelled: set.labelled, epochs: learner.history.count, steps: learner.train.batchCount)
    result.unlabelledImagesSeen = result.steps! * config.downstream.batch - result.labelledImagesSeen!
    result.pseudoLabelled = set.kept
  }
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

/// `joint`'s auxiliary task (`--aux`) on `model`'s body, at the classifier's image size; its heads are drawn from a
/// generator of their own, so the classifier's weights are those of every other protocol's run `seed`.
func jointTraining(_ model: XResNet, _ config: StudyConfig, seed: UInt64) throws -> JointTraining {
  var settings = config.taskSettings
  settings.size = config.downstream.size
  let aux = try Init.withGenerator(Generator(seed: seed ^ 0x6A6F_696E_74)) {  // "joint"
    try PretextTasks.make(config.downstream.semi.aux, settings, backbone: model.body)
  }
  return JointTraining(aux: aux, oneCycle: config.downstream.recipe == .fastai)
}

/// The labelled loader's batches, each with a batch of the unlabelled images (`StudyConfig.unlabelledPaths`) through
/// the auxiliary task's pipeline, named `unlabelled/…`; sharded as the labelled batches are.
func pairedWithUnlabelled(_ labelled: ImageLoader, _ aux: any PretextTask, data: ImageWangLayout, _ config: StudyConfig,
                          seed: UInt64) throws -> PairedBatches {
  let paths = config.unlabelledPaths(data), batch = config.unlabelledBatch
  guard paths.count >= batch else {
    throw StudyConfig.ConfigError("--unlabelled-batch \(batch) is larger than the \(paths.count) unlabelled images (unsup/\(config.downstream.semi.auxOnLabelled ? " and the labelled train/ images" : "")): no unlabelled batch would be formed")
  }
  try Parallel.requireEvenShares(batch, flag: "--unlabelled-batch", syncBatchNorm: config.runtime.syncBatchNorm)
  // Paths only: the unlabelled loader is never given a label. Its own seed: its order and draws are not the labelled stream's.
  let unlabelled = ImageLoader(paths: paths, pipeline: aux.pipeline(training: true), batchSize: batch, shuffle: true,
                               seed: seed ^ 0x756E_6C61_62, workers: config.runtime.workers, shard: Parallel.shard,
                               channels: config.data.channels, samples: .bytes)
  return PairedBatches(labelled, with: unlabelled, prefix: JointTraining.prefix)
}

/// The classifier's training loader over `paths`: the training crop, shuffled per (seed, epoch), this rank's share of
/// every batch, bytes to the device.
func trainingLoader(paths: [String], labels: [Int], _ config: StudyConfig, seed: UInt64) -> ImageLoader {
  ImageLoader(paths: paths, labels: labels, pipeline: .crop(size: config.downstream.size, training: true), batchSize: config.downstream.batch,
              shuffle: true, seed: seed, workers: config.runtime.workers, shard: Parallel.shard, channels: config.data.channels, samples: .bytes)
}
