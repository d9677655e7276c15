import Foundation
import ImageData
import NN
import SelfSupervised
import Torch

/// What a saved classifier needs to predict on its own: its architecture, input size and class names. Written
/// into the weights file's safetensors metadata (`pretext.classifier`), so the file alone is enough.
public struct ClassifierInfo: Codable, Equatable, Sendable {
  public static let metadataKey = "pretext.classifier"
  public var arch = "xresnet34"
  public var classes: [String]
  /// The validation transform's side: resize the shorter side, centre crop (`Pipeline.crop(training: false)`).
  public var size: Int
  public var widen: Double
  public var head: String
  /// The run's `--dicom-window`, so DICOM inputs are shown to the classifier as they were in training.
  public var dicomWindow: [Double]?
  /// The image channels the stem takes (absent in files from before `--channels`: 3).
  public var channels: Int?

  public init(classes: [String], size: Int, widen: Double, head: String, dicomWindow: [Double]? = nil, channels: Int = 3) {
    (self.classes, self.size, self.widen, self.head, self.dicomWindow) = (classes, size, widen, head, dicomWindow)
    self.channels = channels
  }

  /// The stem's channels, 3 when the file does not say.
  public var inChannels: Int { channels ?? 3 }

  public var metadata: [String: String] {
    // Sorted keys: the same classifier gives the same bytes in every process (a Swift dictionary's order is not).
    let encoder = JSONEncoder()
    encoder.outputFormatting = .sortedKeys
    return ["format": "pt", Self.metadataKey: String(decoding: try! encoder.encode(self), as: UTF8.self)]  // plain fields: cannot fail
  }

  /// The info in `path`'s metadata; a file without it (a pretext encoder, weights from elsewhere) is an error.
  public static func read(_ path: String) throws -> ClassifierInfo {
    let file = try SafeTensors.File(path: path)
    guard let text = file.metadata[metadataKey] else {
      throw FileError(path: path, "is not a classifier saved by pretext (no '\(metadataKey)' metadata: a pretext encoder has no head; give a model.safetensors from eval/)")
    }
    do {
      let info = try JSONDecoder().decode(ClassifierInfo.self, from: Data(text.utf8))
      guard info.arch == "xresnet34", !info.classes.isEmpty, (16...4096).contains(info.size), XResNet.Head(rawValue: info.head) != nil,
            info.widen > 0, info.widen <= 16, [1, 3].contains(info.inChannels) else { throw FileError(path: path, "its '\(metadataKey)' metadata is out of range: \(text)") }
      // Two outputs with one name: a prediction of either would be written as the same label.
      var seen = Set<String>()
      if let twice = info.classes.first(where: { !seen.insert($0).inserted }) {
        throw FileError(path: path, "its '\(metadataKey)' metadata names the class '\(twice)' twice: its predictions could not be told apart")
      }
      return info
    } catch let e as FileError { throw e } catch {
      throw FileError(path: path, "its '\(metadataKey)' metadata does not parse: \(error)")
    }
  }
}

/// The classifier saved in `weights` (a stage's model.safetensors) and what it was trained as. Non-finite weights would
/// give nan probabilities for every image: refused, the tensor named.
public func loadClassifier(_ weights: String) throws -> (info: ClassifierInfo, model: XResNet) {
  let info = try ClassifierInfo.read(weights)
  let model = try XResNet(.resnet34, inChannels: info.inChannels, classes: info.classes.count, widen: info.widen,
                          head: XResNet.Head(rawValue: info.head)!)
  try model.load(from: weights)
  for (name, tensor) in model.stateDict() where tensor.dtype.isFloatingPoint {
    if try tensor.isFinite().logicalNot().sum().item().doubleValue > 0 {
      throw FileError(path: weights, "the tensor '\(name)' holds NaN or infinite values: this classifier cannot predict (a run that diverged?)")
    }
  }
  return (info, model)
}

/// One image's prediction: the top-k classes and their softmax probabilities, best first.
public struct Prediction: Sendable {
  public let image: String
  public let id: String
  public let top: [(label: String, probability: Double)]
}

/// Which weights `--model` means: a `.safetensors` file, or a run folder (or one of its stages) holding one or
/// more `model.safetensors`: then the one whose run ended with the highest validation accuracy (ties: the first
/// by path), said in `chosen`.
public func resolveClassifier(_ model: String) throws -> (path: String, chosen: String?) {
  var isDir: ObjCBool = false
  guard FileManager.default.fileExists(atPath: model, isDirectory: &isDir) else { throw FileError(path: model, "no such file or folder") }
  guard isDir.boolValue else { return (model, nil) }
  let found = (FileManager.default.enumerator(atPath: model)?.compactMap { $0 as? String } ?? [])
    .filter { ($0 as NSString).lastPathComponent == "model.safetensors" }.sorted()
  guard !found.isEmpty else { throw FileError(path: model, "holds no model.safetensors (a run folder's eval/ stages write one)") }
  if found.count == 1 { return (model + "/" + found[0], nil) }
  var best: (String, Double)?
  for rel in found {
    let dir = parentPath(model + "/" + rel)
    guard let result = try RunFolder.readResult(ScenarioResult.self, from: dir + "/result.json", stage: nil) else { continue }  // unfinished stage
    let acc = result.finalAccuracy
    if acc.isFinite, best == nil || acc > best!.1 { best = (model + "/" + rel, acc) }
  }
  guard let best else { throw FileError(path: model, "none of its \(found.count) model.safetensors has a finished result.json") }
  return (best.0, "\(best.0) (the highest final validation accuracy of \(found.count) classifiers: \(String(format: "%.1f %%", 100 * best.1)))")
}

/// Predicts `images` with the classifier in `weights` (eval mode, the run's validation transform), in batches.
public func predict(weights: String, images: [(path: String, id: String)], topK: Int, batch: Int = 32, workers: Int = 2,
                    device: Device = .cpu) throws -> (info: ClassifierInfo, predictions: [Prediction]) {
  let (info, model) = try loadClassifier(weights)
  try model.to(device: device)
  let k = Swift.min(Swift.max(1, topK), info.classes.count)
  DicomImage.windowSetting = info.dicomWindow.map { (center: $0[0], width: $0[1]) }
  let loader = ImageLoader(paths: images.map(\.path), pipeline: .crop(size: info.size, training: false), batchSize: batch,
                           shuffle: false, dropLast: false, workers: workers, channels: info.inChannels)
  var out: [Prediction] = []
  let pass = loader.pass(epoch: 0)
  try inferring(model) {
    while let b = try pass.next() {
      guard let x = b["image"] else { throw FileError(path: weights, "a prediction batch without images") }
      let probs = try softmax(model(x.to(device)).to(dtype: .float32), dim: 1).to(.cpu)
      let (values, indices) = try probs.topk(k, dim: 1)
      let p = try values.contiguous().toArray(of: Float.self), idx = try indices.contiguous().toArray(of: Int64.self)
      for row in 0..<(p.count / k) {
        let item = images[out.count]
        guard (0..<k).allSatisfy({ p[row * k + $0].isFinite }) else {
          throw FileError(path: item.path, "the classifier \(weights) gives non-finite probabilities for this image (its logits overflowed): no prediction written")
        }
        out.append(Prediction(image: item.path, id: item.id,
                              top: (0..<k).map { (info.classes[Int(idx[row * k + $0])], Double(p[row * k + $0])) }))
      }
    }
  }
  return (info, out)
}

/// The predictions as CSV: `image,label,probability` then `label_2,probability_2`, … for the top k; `kaggle`:
/// `id,label` only. Fields with commas or quotes are quoted.
public func predictionsCSV(_ predictions: [Prediction], kaggle: Bool) -> String {
  func q(_ s: String) -> String { s.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" }) ? "\"" + s.replacingOccurrences(of: "\"", with: "\"\"") + "\"" : s }
  let k = predictions.first?.top.count ?? 1
  var lines = [kaggle ? "id,label" : (["image", "label", "probability"] + (1..<Swift.max(k, 1)).flatMap { ["label_\($0 + 1)", "probability_\($0 + 1)"] }).joined(separator: ",")]
  for p in predictions {
    lines.append(kaggle ? q(p.id) + "," + q(p.top[0].label)
      : ([q(p.image)] + p.top.flatMap { [q($0.label), String(format: "%.6f", $0.probability)] }).joined(separator: ","))
  }
  return lines.joined(separator: "\n") + "\n"
}
