import Foundation
import ImageData
import NN
import Torch
import Training

/// The three downstream scenarios, all with the same classifier (xresnet34 × widen, ReLU, no attention).
public enum Scenario: String, Codable, Sendable, CaseIterable {
  /// Random init, the whole network trained.
  case random
  /// The pretext encoder, body frozen (BatchNorm trains, as fastai's train_bn), head trained.
  case head
  /// The pretext encoder, head first for `headEpochs`, then everything with discriminative lrs lr/100…lr.
  case discriminative
}

public struct ScenarioResult: Codable, Sendable {
  public let scenario: Scenario
  public let run: Int
  public let history: [EpochRecord]
  public let seconds: Double
  public var finalAccuracy: Double { history.last?.metrics["accuracy"] ?? .nan }
  public var bestAccuracy: Double { history.compactMap { $0.metrics["accuracy"] }.max() ?? .nan }
}

/// Trains one scenario once; `encoder` is the pretext's encoder file (ignored by `.random`).
public func trainScenario(
  _ scenario: Scenario, run: Int, data: ImageWangLayout, encoder: String?, _ config: StudyConfig, runDir: String,
  callbacks: [Callback] = []
) throws -> (result: ScenarioResult, learner: Learner, model: XResNet) {
  try FileManager.default.createDirectory(atPath: runDir, withIntermediateDirectories: true)
  let start = Date()
  let seed = config.seed &+ UInt64(run) &* 1000
  Runtime.manualSeed(seed)
  let model = try XResNet(.resnet34, classes: data.train.classes.count, widen: config.widen)
  if scenario != .random {
    guard let encoder else { throw DatasetError(path: runDir, "scenario \(scenario) needs the pretext encoder") }
    try EncoderTransfer.loadBody(try SafeTensors.File(path: encoder).tensors(), into: model, source: encoder)
  }
  try model.to(device: config.torchDevice)
  let train = ImageLoader(paths: data.train.paths, labels: data.train.labels, task: .classification, size: config.size,
                          training: true, batchSize: config.batch, seed: seed, workers: config.workers)
  let valid = ImageLoader(paths: data.valid.paths, labels: data.valid.labels, task: .classification, size: config.size,
                          training: false, batchSize: config.batch, seed: seed, workers: config.workers)
  let groups = ParamGroup.groups(of: model, lr: config.lr)
  let learner = Learner(
    model: model, train: OnDevice(train, config.torchDevice), valid: OnDevice(valid, config.torchDevice),
    loss: Losses.labelSmoothingCrossEntropy(), optimizer: ranger(groups, weightDecay: config.weightDecay),
    metrics: [Accuracy()], callbacks: callbacks + [CSVLogger(path: runDir + "/\(scenario.rawValue)-\(run).csv")])
  var history: [EpochRecord]
  switch scenario {
  case .random:
    try learner.fit(.flatCos(epochs: config.epochs, lr: .value(config.lr)))
    history = learner.history
  case .head:
    try model.freeze()
    try learner.fit(.flatCos(epochs: config.epochs, lr: .value(config.lr)))
    history = learner.history
  case .discriminative:
    try model.freeze()
    let head = Swift.min(config.headEpochs, config.epochs)
    try learner.fit(.flatCos(epochs: head, lr: .value(config.lr)))
    try model.unfreeze()
    try learner.fit(.flatCos(epochs: config.epochs - head, lr: .range(config.lr / 100, config.lr)))
    // The learner's history holds both fits; number the second's epochs after the first's.
    history = learner.history.enumerated().map { i, r in var r = r; r.epoch = i; return r }
  }
  let result = ScenarioResult(scenario: scenario, run: run, history: history, seconds: Date().timeIntervalSince(start))
  return (result, learner, model)
}
