import NN
import Torch
import Training

/// Self-training (pseudo-labelling; Noisy Student, Xie et al. 2020, at CPU scale): a teacher classifier labels the
/// unlabelled images, a class-balanced confident subset of them keeps the teacher's probabilities as soft targets, and
/// a student trains from random weights on the labelled images and that subset together. `pretext evaluate --protocol
/// selftrain --teacher FILE`; in `compare`, each run's teacher is random init's classifier of the same run.
public enum SelfTraining {
  /// The images kept, by index into `probabilities` (N × classes, each row a distribution): per class c, those whose
  /// most probable class is c with probability ≥ `threshold`, the `perClass` most confident of them (ties: the lower
  /// index first), class by class. Balanced so that a teacher's favourite classes do not crowd out the others.
  public static func select(_ probabilities: Tensor, threshold: Double, perClass: Int) throws -> [Int] {
    let (n, k) = (probabilities.shape[0], probabilities.shape[1])
    let p = try probabilities.to(dtype: .float32).contiguous().toArray(of: Float.self)
    var byClass = [[(index: Int, confidence: Float)]](repeating: [], count: k)
    for i in 0..<n {
      let row = p[(i * k)..<((i + 1) * k)]
      let c = row.indices.max { row[$0] < row[$1] || (row[$0] == row[$1] && $0 > $1) }! - i * k
      if Double(row[i * k + c]) >= threshold { byClass[c].append((i, row[i * k + c])) }
    }
    return byClass.flatMap { items in
      items.sorted { $0.confidence != $1.confidence ? $0.confidence > $1.confidence : $0.index < $1.index }.prefix(perClass).map(\.index)
    }
  }

  /// −Σ target · log softmax(logits) per row, the mean over rows: the cross-entropy against a distribution (with the
  /// one-hot target smoothed by ε, the study's label-smoothing cross-entropy).
  public static func softCrossEntropy(_ logits: Tensor, _ target: Tensor) throws -> Tensor {
    try -(target * logSoftmax(logits.to(dtype: .float32), dim: 1)).sum(dims: [1]).mean()
  }

  /// Rows of a target table for labelled images: one-hot smoothed by `eps` ((1 − ε) on the label, ε / classes on
  /// every class), so the soft cross-entropy on them is the label-smoothing cross-entropy of every other protocol.
  public static func smoothedOneHot(_ labels: [Int], classes: Int, eps: Double = 0.1) throws -> Tensor {
    var rows = [Float](repeating: Float(eps / Double(classes)), count: labels.count * classes)
    for (i, y) in labels.enumerated() { rows[i * classes + y] += Float(1 - eps) }
    return try Tensor(rows).reshape([labels.count, classes])
  }
}

/// The student's step: a training batch's `row` indexes its items' target distributions in `table` (labelled images'
/// smoothed labels, the kept images' teacher probabilities), the loss their soft cross-entropy; a validation batch
/// has `label`s and the supervised loss of every other protocol.
public final class SoftTargetStep: TrainStep {
  let table: Tensor
  let supervised: SupervisedStep
  public init(table: Tensor, loss: @escaping (Tensor, Tensor) throws -> Tensor) {
    self.table = table
    supervised = SupervisedStep(loss: loss)
  }

  public func compute(_ batch: Batch, model: Module) throws -> StepOutput {
    guard let rows = batch["row"] else { return try supervised.compute(batch, model: model) }
    let logits = try model(batch.require("image"))
    return StepOutput(loss: try SelfTraining.softCrossEntropy(logits, table.indexSelect(dim: 0, index: rows.to(table.device))))
  }
}
