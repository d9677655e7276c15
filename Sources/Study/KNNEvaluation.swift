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
  let model = try Init.withGenerator(Generator(seed: config.seed)) {
    try XResNet(.resnet34, classes: data.train.classes.count, widen: config.widen)
  }
  if let encoder { try EncoderTransfer.loadBody(try SafeTensors.File(path: encoder).tensors(), into: model, source: encoder) }
  let features = try PooledEncoder(body: model.body)
  try features.to(device: config.torchDevice, memoryFormat: config.memoryFormat)
  func embed(_ folder: ImageFolder) throws -> (Tensor, Tensor) {
    let loader = ImageLoader(paths: folder.paths, labels: folder.labels, pipeline: .crop(size: config.size, training: false),
                             batchSize: config.batch, shuffle: false, dropLast: false, seed: config.seed, workers: config.workers)
    var f: [Tensor] = [], y: [Tensor] = []
    let pass = loader.pass(epoch: 0)
    try inferring(features) {
      while let b = try pass.next() {
        guard let x = b["image"], let labels = b["label"] else { throw DatasetError(path: folder.root, "a kNN batch without images or labels") }
        f.append(try features(x.to(config.torchDevice)).to(dtype: .float32).to(.cpu))
        y.append(labels)
      }
    }
    return (try Tensor.cat(f), try Tensor.cat(y))
  }
  let (bank, bankLabels) = try embed(data.train), (queries, truth) = try embed(data.valid)
  let knn = KNNClassifier(k: k, temperature: temperature, classes: data.train.classes.count)
  let votes = try knn.votes(queries: queries, bank: bank, bankLabels: bankLabels)
  var all = Accuracy(), among = AccuracyAmong(classes: Array(Set(data.valid.labels)))
  try all.accumulate(prediction: votes, target: truth)
  try among.accumulate(prediction: votes, target: truth)
  return KNNResult(k: k, temperature: temperature, accuracy: all.value, accuracyAmongValidClasses: among.value,
                   trainImages: data.train.count, validImages: data.valid.count, seconds: Date().timeIntervalSince(start))
}
