import Torch

/// A number computed over a whole validation pass from (prediction, target) batches.
public protocol Metric {
  var name: String { get }
  mutating func reset()
  mutating func accumulate(prediction: Tensor, target: Tensor) throws
  var value: Double { get }
  /// The additive statistics `value` is computed from (e.g. hits and count): data-parallel validation sums
  /// them across ranks and sets them back, so every rank gets the whole validation set's value.
  var statistics: [Double] { get set }
}

/// Top-k accuracy of logits against class indices (k = 1: accuracy).
public struct Accuracy: Metric {
  public let k: Int
  var correct = 0.0, total = 0.0
  public init(topK k: Int = 1) { self.k = k }
  public var name: String { k == 1 ? "accuracy" : "top\(k)_accuracy" }
  public mutating func reset() { (correct, total) = (0, 0) }
  public mutating func accumulate(prediction: Tensor, target: Tensor) throws {
    let top = try prediction.topk(k, dim: 1).indices
    let hit = try (top .== target.unsqueeze(dim: 1)).any(dims: [1])
    correct += try hit.to(dtype: .float64).sum().item().doubleValue
    total += Double(target.shape[0])
  }
  public var value: Double { total > 0 ? correct / total : .nan }
  public var statistics: [Double] {
    get { [correct, total] }
    set { (correct, total) = (newValue[0], newValue[1]) }
  }
}

/// Accuracy when the prediction may only be one of `classes` (the argmax over those logits): how well the
/// model tells the evaluated classes apart, whatever its prior for the others. ImageWang's val/ holds 10 of
/// train/'s 20 classes; on small training sets the 20-way argmax rarely lands on them at all.
/// Accuracy with the prediction restricted to `classes` (the argmax over their columns only), over the images whose
/// true class is one of them: the study's "among val/'s classes" on val/ (every image is of one of them), and on a
/// tuning split of train/ the same question asked of its images of those classes.
public struct AccuracyAmong: Metric {
  public let classes: [Int]
  public let name: String
  var correct = 0.0, total = 0.0
  public init(classes: [Int], name: String = "accuracy_among_valid_classes") {
    (self.classes, self.name) = (classes.sorted(), name)
  }
  public mutating func reset() { (correct, total) = (0, 0) }
  public mutating func accumulate(prediction: Tensor, target: Tensor) throws {
    let columns = try Tensor(classes.map(Int64.init)).to(prediction.device)
    let picked = try columns.indexSelect(dim: 0, index: prediction.indexSelect(dim: 1, index: columns).argmax(dim: 1))
    let counted = try (target.unsqueeze(dim: 1) .== columns.unsqueeze(dim: 0)).any(dims: [1])
    correct += try ((picked .== target).logicalAnd(counted)).to(dtype: .float64).sum().item().doubleValue
    total += try counted.to(dtype: .float64).sum().item().doubleValue
  }
  public var value: Double { total > 0 ? correct / total : .nan }
  public var statistics: [Double] {
    get { [correct, total] }
    set { (correct, total) = (newValue[0], newValue[1]) }
  }
}
