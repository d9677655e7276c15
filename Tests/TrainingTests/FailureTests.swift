// Issue 12: what the learner and its checkpoints refuse (the failure model in NOTES.md).
import Foundation
import Testing
@testable import NN
@testable import Torch
@testable import Training

/// A source whose second batch cannot be made (as a failed device move or an unreadable file).
struct BrokenSource: BatchSource {
  let x: Tensor, y: Tensor
  struct Broken: Error, CustomStringConvertible { var description: String { "batch 2 broke" } }
  var batchCount: Int { 4 }
  func batches(epoch: Int) throws -> BatchStream {
    var i = 0
    return BatchStream {
      defer { i += 1 }
      if i == 1 { throw Broken() }
      return i < 4 ? Batch(["image": x, "label": y]) : nil
    }
  }
}

@Suite struct LearnerFailureTests {
  /// Item 7: a batch that cannot be made ends the fit with its error, not a silently shorter epoch.
  @Test func aBatchThatCannotBeMadeStopsTheFit() throws {
    let (x, y) = try bars(16, seed: 1)
    let model = try smallNet()
    let learner = Learner(model: model, train: BrokenSource(x: x, y: y), loss: { try crossEntropy($0, $1) },
                          optimizer: SGD(groups: ParamGroup.single(model, lr: 0.01)))
    #expect { try learner.fit(.flatCos(epochs: 1, lr: .value(0.01))) } throws: { "\($0)" == "batch 2 broke" }
    #expect(learner.history.isEmpty && learner.batchLosses.count == 1)
  }

  /// Item 12: a split smaller than one batch (drop-last) is an error before training, not an epoch of NaN.
  @Test func noBatchAtAllIsAnError() throws {
    let (x, y) = try bars(10, seed: 1)
    let model = try smallNet()
    let learner = Learner(model: model, train: TensorBatches(inputs: x, targets: y, batchSize: 32, shuffle: true),
                          loss: { try crossEntropy($0, $1) }, optimizer: SGD(groups: ParamGroup.single(model, lr: 0.01)))
    #expect { try learner.fit(.flatCos(epochs: 1, lr: .value(0.01))) } throws: { "\($0)".contains("yields no batch") }
  }

  /// Item 12: a non-finite validation loss names the epoch (it used to surface as a JSON encoding error).
  @Test func nonFiniteValidationLossNamesTheEpoch() throws {
    let (x, y) = try bars(32, seed: 1)
    let model = try smallNet()
    let learner = Learner(
      model: model, train: TensorBatches(inputs: x, targets: y, batchSize: 16, shuffle: true),
      valid: TensorBatches(inputs: x, targets: y, batchSize: 16, shuffle: false),
      loss: { p, t in
        let l = try crossEntropy(p, t)
        return isGradEnabled ? l : try l * Double.infinity
      }, optimizer: SGD(groups: ParamGroup.single(model, lr: 0.01)))
    do {
      try learner.fit(.flatCos(epochs: 2, lr: .value(0.01)))
      Issue.record("an infinite validation loss did not stop training")
    } catch let e as NonFiniteLossError {
      #expect(e.epoch == 0 && e.batch == nil && e.description.contains("validation loss became inf at epoch 1"))
    }
  }

  /// Item 9: a start past the plan (a checkpoint with more epochs done than planned) is an error, not a trap.
  @Test func startPastThePlanIsAnError() throws {
    let learner = try makeLearner(smallNet())
    #expect { try learner.fit(.flatCos(epochs: 3, lr: .value(1e-3)), startEpoch: 5) } throws: {
      "\($0)".contains("cannot start at epoch 6 of a 3-epoch fit")
    }
  }
}

@Suite struct CheckpointTrustTests {
  func saved(fingerprint: String = "stage A") throws -> String {
    let path = NSTemporaryDirectory() + "pretext-trust-\(UUID().uuidString).safetensors"
    let learner = try makeLearner(smallNet())
    learner.checkpointFingerprint = fingerprint
    try learner.fit(.flatCos(epochs: 1, lr: .value(1e-3)))
    try learner.saveCheckpoint(to: path, plan: .flatCos(epochs: 2, lr: .value(1e-3)), epochsDone: 1)
    return path
  }

  func loader(_ fingerprint: String? = "stage A") throws -> Learner {
    let l = try makeLearner(smallNet())
    l.checkpointFingerprint = fingerprint
    return l
  }

  /// Item 6: an untouched checkpoint loads; one flipped weight byte, an edited `epochs_done` (same length,
  /// so the file still parses) or another stage's fingerprint is refused, and the model is left as it was.
  @Test func tamperedOrForeignCheckpointsAreRefused() throws {
    let path = try saved()
    #expect(try loader().loadCheckpoint(from: path) == 1)

    var bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: path)))
    let header = try SafeTensors.File(path: path).header
    let flipped = header.dataStart + header.entries[0].range.lowerBound + 5
    bytes[flipped] ^= 0x10
    let damaged = path + ".flipped"
    try Data(bytes).write(to: URL(fileURLWithPath: damaged))
    let victim = try loader()
    let before = try victim.model.stateDict()[0].tensor.clone()
    #expect { try victim.loadCheckpoint(from: damaged) } throws: { "\($0)".contains("checksum mismatch") }
    #expect(try victim.model.stateDict()[0].tensor.equal(before))

    let text = try [UInt8](Data(contentsOf: URL(fileURLWithPath: path)))
    let needle = Array("\"pretext.epochs_done\":\"1\"".utf8)
    let at = try #require((0...(text.count - needle.count)).first { Array(text[$0..<($0 + needle.count)]) == needle })
    var edited = text
    edited[at + needle.count - 2] = UInt8(ascii: "2")
    let editedPath = path + ".edited"
    try Data(edited).write(to: URL(fileURLWithPath: editedPath))
    #expect(try SafeTensors.File(path: editedPath).metadata["pretext.epochs_done"] == "2")  // still a valid file
    #expect { try loader().loadCheckpoint(from: editedPath) } throws: { "\($0)".contains("checksum mismatch") }

    #expect { try loader("stage B").loadCheckpoint(from: path) } throws: { "\($0)".contains("belongs to another stage") }
  }

  /// Item 6: a weight file of integers is refused by a strict load (it used to load as truncated values).
  @Test func integerWeightsAreRefused() throws {
    let model = try smallNet()
    let ints = try model.stateDict().map { ($0.name, $0.tensor.dtype.isFloatingPoint ? try $0.tensor.to(dtype: .int32) : $0.tensor) }
    #expect { try smallNet().loadStateDict(ints) } throws: { "\($0)".contains("wrong dtypes") && "\($0)".contains("float32 vs int32") }
    let halves = try model.stateDict().map { ($0.name, $0.tensor.dtype.isFloatingPoint ? try $0.tensor.to(dtype: .float16) : $0.tensor) }
    try smallNet().loadStateDict(halves)  // floating widths convert, as in PyTorch
  }
}
