import Foundation
import NN
import Torch

enum Fixture {
  static func path(_ name: String) -> String {
    Bundle.module.path(forResource: name, ofType: nil, inDirectory: "Fixtures")!
  }

  /// fastai's key list: (key, shape) per line, in fastai's order.
  static func keys(_ name: String) throws -> [(String, [Int])] {
    try String(contentsOfFile: path(name), encoding: .utf8).split(separator: "\n").map { line in
      let f = line.split(separator: "\t", omittingEmptySubsequences: false)
      let shape = f[1].isEmpty ? [] : f[1].split(separator: "x").map { Int($0)! }
      return (String(f[0]), shape)
    }
  }
}

/// ‖a − b‖ / ‖b‖
func relativeError(_ a: Tensor, _ b: Tensor) throws -> Double {
  let a = try a.to(dtype: .float64), b = try b.to(dtype: .float64)
  return try (a - b).norm().item() / b.norm().item()
}

/// Loads a parity fixture's `model.` tensors into `model`, strictly.
func loadParityFixture(_ model: Module, _ name: String) throws -> SafeTensors.File {
  let file = try SafeTensors.File(path: Fixture.path(name))
  try model.loadStateDict(try file.tensors().filter { $0.name.hasPrefix("model.") }.map { (String($0.name.dropFirst(6)), $0.tensor) })
  return file
}

/// Relative errors of the train-mode loss (backward is run, leaving gradients) and of the eval output.
///
/// The fixtures were made in this order: eval output; one train-mode pass (which moved BatchNorm's
/// running statistics, num_batches_tracked 0 → 1); then the state dict was saved. So the saved running
/// statistics are those *after* the train pass. Our own train pass moves them once more, by the same rule
/// (new = 0.9·old + 0.1·batch); from the two we recover the batch statistics and so the statistics from
/// before fastai's pass, under which the eval output must match. This checks our running-statistics
/// update as well as the eval path.
func parityErrors(_ model: Module, _ file: SafeTensors.File, loss: () throws -> Tensor) throws -> (loss: Double, eval: Double) {
  let bns = model.namedModules().compactMap { $0.1 as? BatchNorm2d }
  let saved = try bns.map { (try $0.runningMean.value.clone(), try $0.runningVar.value.clone()) }
  model.train()
  let l = try loss()
  try l.backward()
  let lossError = try relativeError(l, file.tensor("loss_train"))
  try withNoGrad {
    for (bn, (m1, v1)) in zip(bns, saved) {
      let m = bn.momentum
      let batchMean = try (bn.runningMean.value - m1 * (1 - m)) / m, batchVar = try (bn.runningVar.value - v1 * (1 - m)) / m
      try bn.runningMean.value.copy_((m1 - batchMean * m) / (1 - m))
      try bn.runningVar.value.copy_((v1 - batchVar * m) / (1 - m))
    }
  }
  model.eval()
  let out = try withNoGrad { try model(file.tensor("input")) }
  return (lossError, try relativeError(out, file.tensor("output_eval")))
}
