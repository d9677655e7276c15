import Foundation
import NN
import Torch

/// Checkpoints: one safetensors file holding the model ("model." keys), the optimizer's state, the
/// default CPU generator's state, and in its metadata the epochs done and the history, written
/// atomically. A checkpoint cut short fails the safetensors validation and is not loaded.
extension Learner {
  public func saveCheckpoint(to path: String, plan: FitPlan, epochsDone: Int) throws {
    var tensors = model.stateDict().map { ("model." + $0.name, $0.tensor) }
    tensors += try optimizer.stateTensors()
    tensors.append(("rng.cpu", try Generator.defaultGenerator().state()))
    let history = String(decoding: try JSONEncoder().encode(self.history), as: UTF8.self)
    try SafeTensors.save(tensors, metadata: [
      "pretext.epochs_done": String(epochsDone), "pretext.epochs_planned": String(plan.epochs),
      "pretext.history": history,
    ], to: path)
  }

  /// Restores model, optimizer, generator and history from a checkpoint; returns the epochs it had done
  /// (pass it to `fit(_:startEpoch:)` to continue as if never stopped).
  @discardableResult
  public func loadCheckpoint(from path: String) throws -> Int {
    let file = try SafeTensors.File(path: path)
    guard let done = file.metadata["pretext.epochs_done"].flatMap(Int.init) else {
      throw FileError(path: path, "not a Pretext checkpoint (no pretext.epochs_done)")
    }
    let tensors = try file.tensors()  // mapped once, shared by the model's and the optimizer's part
    try model.loadStateDict(tensors.compactMap { $0.name.hasPrefix("model.") ? (String($0.name.dropFirst(6)), $0.tensor) : nil },
                            strict: true, source: path)
    try optimizer.loadStateTensors(tensors.filter { $0.name.hasPrefix("optimizer.") || $0.name.hasPrefix("lookahead.") })
    try Generator.defaultGenerator().setState(try file.tensor("rng.cpu").clone())
    if let h = file.metadata["pretext.history"] { history = try JSONDecoder().decode([EpochRecord].self, from: Data(h.utf8)) }
    return done
  }
}
