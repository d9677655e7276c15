import Foundation
import ImageData
import NN
import Torch
import Training

/// The downstream scenarios, all with the same classifier (xresnet34 × widen, ReLU, no attention). The study
/// runs the first three (`Scenario.study`).
public enum Scenario: String, Codable, Sendable, CaseIterable {
  /// Random init, the whole network trained.
  case random
  /// The pretext encoder, body frozen (BatchNorm trains, as fastai's train_bn), head trained.
  case head
  /// The pretext encoder, head first for `headEpochs`, then everything with discriminative lrs lr/100…lr.
  case discriminative
  /// The pretext encoder, everything trained at one lr from the first epoch.
  case full

  /// The study's three scenarios.
  public static let study: [Scenario] = [.random, .head, .discriminative]
  public var usesEncoder: Bool { self != .random }
}

public struct ScenarioResult: Codable, Sendable {
  public let scenario: Scenario
  public let run: Int
  public let history: [EpochRecord]
  public let seconds: Double
  public var finalAccuracy: Double { history.last?.metrics["accuracy"] ?? .nan }
  public var bestAccuracy: Double { history.compactMap { $0.metrics["accuracy"] }.max() ?? .nan }
  /// The final accuracy with predictions restricted to val/'s classes (`AccuracyAmong`).
  public var finalAccuracyAmongValidClasses: Double { history.last?.metrics["accuracy_among_valid_classes"] ?? .nan }
}

/// Trains one scenario once; `encoder` is the pretext's encoder file (ignored by `.random`). Leaves in `runDir`
/// (files named `<scenario>-<run>`): a CSV log, a checkpoint per epoch, the final weights and, once done, a
/// result file. With `resume`, a finished run returns its result file's contents (and no learner) and an
/// unfinished one continues from its checkpoint, bit-identical to a run never stopped.
public func trainScenario(
  _ scenario: Scenario, run: Int, data: ImageWangLayout, encoder: String?, _ config: StudyConfig, runDir: String,
  resume: Bool = false, callbacks: [Callback] = []
) throws -> (result: ScenarioResult, learner: Learner?, model: XResNet) {
  let data = config.select(data)
  let name = runDir + "/\(scenario.rawValue)-\(run)"
  let start = Date()
  let seed = config.seed &+ UInt64(run) &* 1000
  Runtime.manualSeed(seed)
  let model = try XResNet(.resnet34, classes: data.train.classes.count, widen: config.widen)
  if resume, let done = try RunFolder.read(ScenarioResult.self, from: name + ".json") {
    try model.load(from: name + ".safetensors")
    return (done, nil, model)
  }
  try FileManager.default.createDirectory(atPath: runDir, withIntermediateDirectories: true)
  if scenario.usesEncoder {
    guard let encoder else { throw DatasetError(path: runDir, "scenario \(scenario) needs the pretext encoder") }
    try EncoderTransfer.loadBody(try SafeTensors.File(path: encoder).tensors(), into: model, source: encoder)
  }
  try model.to(device: config.torchDevice, memoryFormat: config.memoryFormat)
  let train = ImageLoader(paths: data.train.paths, labels: data.train.labels, task: .classification, size: config.size,
                          training: true, batchSize: config.batch, seed: seed, workers: config.workers)
  let valid = ImageLoader(paths: data.valid.paths, labels: data.valid.labels, task: .classification, size: config.size,
                          training: false, batchSize: config.batch, seed: seed, workers: config.workers)
  let groups = ParamGroup.groups(of: model, lr: config.lr)
  let learner = Learner(
    model: model, train: OnDevice(train, config), valid: OnDevice(valid, config),
    loss: Losses.labelSmoothingCrossEntropy(), optimizer: ranger(groups, weightDecay: config.weightDecay),
    metrics: [Accuracy(), AccuracyAmong(classes: Array(Set(data.valid.labels)))],
    callbacks: callbacks + [CSVLogger(path: name + ".csv"),
                            try TensorBoardLogger(directory: runDir + "/tensorboard/\(scenario.rawValue)-\(run)")])
  let checkpoint = name + ".checkpoint.safetensors"
  let headCheckpoint = name + ".head.checkpoint.safetensors"
  let stage = "\(scenario.rawValue) run \(run)"
  learner.checkpointPath = checkpoint
  learner.checkpointFingerprint = try config.fingerprint(stage: stage)
  var restored = 0  // epochs restored from a checkpoint
  switch scenario {
  case .random, .full:
    restored = try resumeIfAsked(learner, resume)
    try learner.fit(.flatCos(epochs: config.epochs, lr: .value(config.lr)), startEpoch: restored)
  case .head:
    try model.freeze()
    restored = try resumeIfAsked(learner, resume)
    try learner.fit(.flatCos(epochs: config.epochs, lr: .value(config.lr)), startEpoch: restored)
  case .discriminative:
    // Two fits, each with its own checkpoint: the head phase's, then the whole network's.
    let head = Swift.min(config.headEpochs, config.epochs)
    let wholeFingerprint = try config.fingerprint(stage: stage + ", whole network")
    if resume && FileManager.default.fileExists(atPath: checkpoint) {
      learner.checkpointFingerprint = wholeFingerprint
      try model.unfreeze()
      _ = try resumeIfAsked(learner, resume)
      restored = learner.history.count  // the head phase's epochs and the second fit's done so far
    } else {
      try model.freeze()
      learner.checkpointPath = headCheckpoint
      learner.checkpointFingerprint = try config.fingerprint(stage: stage + ", head phase")
      restored = try resumeIfAsked(learner, resume)
      if head > 0 { try learner.fit(.flatCos(epochs: head, lr: .value(config.lr)), startEpoch: restored) }
      try model.unfreeze()
      learner.checkpointPath = checkpoint
      learner.checkpointFingerprint = wholeFingerprint
    }
    try learner.fit(.flatCos(epochs: config.epochs - head, lr: .range(config.lr / 100, config.lr)),
                    startEpoch: Swift.max(0, learner.history.count - head))
  }
  // A discriminative run's history holds both fits: number the second's epochs after the first's.
  let history = learner.history.enumerated().map { i, r in var r = r; r.epoch = i; return r }
  let result = ScenarioResult(scenario: scenario, run: run, history: history,
                              seconds: Date().timeIntervalSince(start) + earlierSeconds(learner, restored))
  try model.save(to: name + ".safetensors")
  try RunFolder.write(result, to: name + ".json")
  try RunFolder.dropCheckpoints([checkpoint, headCheckpoint], config)
  return (result, learner, model)
}
