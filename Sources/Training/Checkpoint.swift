import Foundation
import NN
import Torch

/// Checkpoints: one safetensors file holding the model ("model." keys), the optimizer's state, the
/// default CPU generator's state, and in its metadata the epochs done, the history, the learner's
/// fingerprint and a checksum over all of it, written atomically. Loading trusts nothing: a checkpoint cut
/// short fails the safetensors validation, changed bytes or metadata fail the checksum, another stage's
/// checkpoint fails the fingerprint.
extension Learner {
  static let fingerprintKey = "pretext.fingerprint"

  public func saveCheckpoint(to path: String, plan: FitPlan, epochsDone: Int) throws {
    var tensors = model.stateDict().map { ("model." + $0.name, $0.tensor) }
    tensors += try optimizer.stateTensors()
    tensors.append(("rng.cpu", try Generator.defaultGenerator().state()))
    let history = String(decoding: try JSONEncoder().encode(self.history), as: UTF8.self)
    var metadata = [
      "pretext.epochs_done": String(epochsDone), "pretext.epochs_planned": String(plan.epochs), "pretext.history": history,
    ]
    if let checkpointFingerprint { metadata[Self.fingerprintKey] = checkpointFingerprint }
    try SafeTensors.save(tensors, metadata: metadata, checksum: true, to: path)
  }

  /// Restores model, optimizer, generator and history from a checkpoint; returns the epochs it had done
  /// (pass it to `fit(_:startEpoch:)` to continue as if never stopped). Nothing is changed when the file
  /// fails a check.
  @discardableResult
  public func loadCheckpoint(from path: String) throws -> Int {
    let file = try SafeTensors.File(path: path)
    guard let done = file.metadata["pretext.epochs_done"].flatMap(Int.init) else {
      throw FileError(path: path, "not a Pretext checkpoint (no pretext.epochs_done)")
    }
    try file.verifyChecksum()
    let theirs = file.metadata[Self.fingerprintKey]
    if let checkpointFingerprint, theirs != checkpointFingerprint {
      throw FileError(path: path, "belongs to another stage or configuration (checkpoint of \(theirs ?? "an unnamed fit"), expected \(checkpointFingerprint)): not resumed")
    }
    let restoredHistory = try file.metadata["pretext.history"].map { try JSONDecoder().decode([EpochRecord].self, from: Data($0.utf8)) }
    guard done >= 0, done == (restoredHistory?.count ?? 0) else {
      throw FileError(path: path, "says \(done) epochs done but holds \(restoredHistory?.count ?? 0) epochs of history")
    }
    let tensors = try file.tensors()  // mapped once, shared by the model's and the optimizer's part
    try model.loadStateDict(tensors.compactMap { $0.name.hasPrefix("model.") ? (String($0.name.dropFirst(6)), $0.tensor) : nil },
                            strict: true, source: path)
    try optimizer.loadStateTensors(tensors.filter { $0.name.hasPrefix("optimizer.") || $0.name.hasPrefix("lookahead.") })
    try Generator.defaultGenerator().setState(try file.tensor("rng.cpu").clone())
    if let restoredHistory { history = restoredHistory }
    return done
  }
}
