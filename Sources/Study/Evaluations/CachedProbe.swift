import Foundation
import ImageData
import NN
import SelfSupervised
import Torch
import Training

/// The linear probe on cached features (`--cache-features`): the frozen body's pooled features of train/ and of
/// the validation images are computed once (eval mode, validation crop: no augmentation), then only the
/// classifier's last linear layer trains on them, epoch after epoch, with the run's loss, optimizer and schedule.
/// The layer is the model's own, so the saved classifier holds the trained probe.
final class LinearOnFeatures: Module, ParameterGroups {
  let linear: Linear
  init(_ linear: Linear) { self.linear = linear }
  override func forward(_ x: Tensor) throws -> Tensor { try linear(x) }
  func parameterGroups() -> [[(name: String, parameter: Parameter)]] { [namedParameters().map { ($0.0, $0.1) }] }
}

/// The learner of a cached probe of `model` (its encoder loaded, on the config's device): features first, then
/// batches of them; the body is never run in training mode, so every body tensor stays as loaded.
func cachedProbeLearner(_ model: XResNet, _ data: ImageWangLayout, _ config: StudyConfig, seed: UInt64,
                        loss: @escaping (Tensor, Tensor) throws -> Tensor, optimizer: (LinearOnFeatures) -> Optimizer,
                        callbacks: [Callback]) throws -> (Learner, LinearOnFeatures) {
  guard let linear = model.layers.last as? Linear else { throw StudyConfig.ConfigError("--cache-features: the classifier's head is not one linear layer") }
  let features = { (x: Tensor) in try model.features(x) }
  let (train, trainLabels) = try pooledFeatures(data.train, config, model: model, features)
  let (valid, validLabels) = try pooledFeatures(data.valid, config, model: model, features)
  let probe = LinearOnFeatures(linear)
  let device = config.torchDevice
  let learner = Learner(
    model: probe,
    train: TensorBatches(inputs: try train.to(device), targets: try trainLabels.to(device), batchSize: config.downstream.batch, shuffle: true, seed: seed),
    valid: TensorBatches(inputs: try valid.to(device), targets: try validLabels.to(device), batchSize: config.downstream.batch, shuffle: false),
    step: SupervisedStep(loss: loss), optimizer: optimizer(probe),
    metrics: [Accuracy(), AccuracyAmong(classes: data.validClasses)], callbacks: callbacks)
  return (learner, probe)
}
