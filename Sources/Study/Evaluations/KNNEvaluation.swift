import Foundation
import ImageData
import NN
import SelfSupervised
import Torch
import Training

/// What a kNN evaluation found: accuracy on val/ (20-way, and restricted to val/'s classes as the report does),
/// its settings and what it read.
public struct KNNResult: Codable, Sendable {
  public let k: Int
  public let temperature: Double
  public let accuracy: Double
  public let accuracyAmongValidClasses: Double
  public let trainImages: Int
  public let validImages: Int
  public let seconds: Double
}

/// The InstDisc/DINO kNN evaluation of an encoder (or of random weights, `encoder` nil): the pooled features
/// of train/'s labelled images (the config's label fraction) and of val/'s, in eval mode at the downstream
/// size with the validation crop; each val/ image's class by the weighted vote of its k most similar train/
/// images. Nothing is trained.
public func evaluateKNN(_ data: ImageWangLayout, encoder: String?, _ config: StudyConfig, k: Int = 20,
                        temperature: Double = 0.07) throws -> KNNResult {
  let start = Date()
  let data = config.downstreamData(data)
  let model = try Init.withGenerator(Generator(seed: config.runtime.seed)) {
    try XResNet(.resnet34, inChannels: config.data.channels, classes: data.train.classes.count, widen: config.widen)
  }
  if let encoder { try EncoderTransfer.loadBody(try SafeTensors.File(path: encoder).checked().tensors(), into: model, source: encoder) }
  let (accuracy, among) = try knnAccuracy(PooledEncoder(body: model.body), data, config, k: k, temperature: temperature)
  return KNNResult(k: k, temperature: temperature, accuracy: accuracy, accuracyAmongValidClasses: among,
                   trainImages: data.train.count, validImages: data.valid.count, seconds: Date().timeIntervalSince(start))
}

/// kNN accuracy of `features` (eval mode, no gradient; its training mode is put back) with train/ as the bank
/// and valid/ as the queries: 20-way and among valid/'s classes.
func knnAccuracy(_ features: PooledEncoder, _ data: ImageWangLayout, _ config: StudyConfig, k: Int, temperature: Double)
  throws -> (Double, Double)
{
  try features.to(device: config.torchDevice, memoryFormat: config.memoryFormat)
  func embed(_ folder: ImageFolder) throws -> (Tensor, Tensor) { try pooledFeatures(folder, config, model: features) { try features($0) } }
  let (bank, bankLabels) = try embed(data.train), (queries, truth) = try embed(data.valid)
  let knn = KNNClassifier(k: k, temperature: temperature, classes: data.train.classes.count)
  let votes = try knn.votes(queries: queries, bank: bank, bankLabels: bankLabels)
  var all = Accuracy(), among = AccuracyAmong(classes: data.validClasses)
  try all.accumulate(prediction: votes, target: truth)
  try among.accumulate(prediction: votes, target: truth)
  return (all.value, among.value)
}

/// The features `encode` gives `folder`'s images (validation crop at the downstream size, `model` in eval mode and
/// put back, no gradient), on the CPU in float32, with their labels. Data-parallel, each rank encodes its contiguous
/// part of the folder and the parts are gathered in rank order, so every rank holds the whole set, in one
/// process's order (a folder with fewer images than ranks is encoded whole on every rank).
func pooledFeatures(_ folder: ImageFolder, _ config: StudyConfig, model: Module, _ encode: (Tensor) throws -> Tensor) throws
  -> (features: Tensor, labels: Tensor)
{
  let split = Parallel.group.map { folder.count >= $0.worldSize } ?? false
  let all = Array(zip(folder.paths, folder.labels))
  let part: (items: [(String, Int)], offset: Int) = split ? Parallel.part(all) : (all, 0)
  let loader = ImageLoader(paths: part.items.map(\.0), labels: part.items.map(\.1), pipeline: .crop(size: config.downstream.size, training: false),
                           batchSize: config.downstream.batch, shuffle: false, dropLast: false, seed: config.runtime.seed, workers: config.runtime.workers,
                           itemOffset: part.offset, channels: config.data.channels)
  var f: [Tensor] = []
  let pass = loader.pass(epoch: 0)
  try inferring(model) {
    while let b = try pass.next() {
      guard let x = b["image"] else { throw DatasetError(path: folder.root, "a feature batch without images") }
      let input = try x.to(config.torchDevice)
      let encoded = try config.autocastDType.map { dt in try withAutocast(config.torchDevice, dtype: dt) { try encode(input) } } ?? encode(input)
      f.append(try encoded.to(dtype: .float32).to(.cpu))
    }
  }
  let labels = try Tensor(folder.labels.map(Int64.init))  // the loader's order: no shuffle, the folder's
  let features = try Tensor.cat(f)
  guard split, let group = Parallel.group else { return (features, labels) }
  let rows = try group.rowCounts(part.items.count)
  return (try withNoGrad { try group.allGatherDifferentiable(features, rows: rows) }, labels)
}

/// The online kNN monitor of a pretext run (`--knn-every N`): after the validation of the first epoch, every
/// N-th and the last, the task's current encoder (its weights copied into a classifier body; the run's network is not
/// touched) is scored by kNN (k 20, T 0.07) on the downstream data, logged as `knn_accuracy` and
/// `knn_accuracy_among_valid_classes`. Bank and queries are capped (`knnMonitorImages`, class-stratified). It reads
/// train/'s labels; the pretext never does.
public final class KNNMonitor: Callback {
  let task: any PretextTask, data: ImageWangLayout, config: StudyConfig, every: Int
  public init(task: any PretextTask, data: ImageWangLayout, config: StudyConfig, every: Int) {
    let sample = config.downstreamData(data).sampled(atMost: config.pretext.knnMonitorImages, seed: config.runtime.seed)
    (self.task, self.data, self.config, self.every) = (task, sample, config, every)
  }
  public func on(_ event: Event, _ learner: Learner) throws {
    guard event == .afterValidate else { return }
    let epoch = learner.epoch + 1, last = learner.totalIterations / Swift.max(learner.train.batchCount, 1)
    guard epoch == 1 || epoch % every == 0 || epoch == last else { return }  // the first: the log's columns
    let model = try Init.withGenerator(Generator(seed: config.runtime.seed)) {
      try XResNet(.resnet34, inChannels: config.data.channels, classes: data.train.classes.count, widen: config.widen)
    }
    let state = try withNoGrad { try task.encoderState().map { (name: $0.name, tensor: try $0.tensor.to(.cpu).contiguous().clone()) } }
    // Data-parallel, the ranks encode parts of the sample: all with rank 0's weights (without SyncBatchNorm the
    // ranks' BatchNorm running statistics differ).
    try Parallel.group?.broadcast(state.map(\.tensor), root: 0)
    try EncoderTransfer.loadBody(state, into: model)
    let (accuracy, among) = try knnAccuracy(PooledEncoder(body: model.body), data, config, k: 20, temperature: 0.07)
    learner.epochMetrics["knn_accuracy"] = accuracy
    learner.epochMetrics["knn_accuracy_among_valid_classes"] = among
  }
}
