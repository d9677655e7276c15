// Issue 37: the two-stream source of the semi-supervised protocols.
import Foundation
import Testing
@testable import Torch
@testable import Training

@Suite struct PairedBatchesTests {
  /// Items 0..<n as a column, labelled by their index, so a batch says which items it holds.
  static func items(_ n: Int, batch: Int, seed: UInt64) throws -> TensorBatches {
    let x = try Tensor((0..<n).map { Float($0) }).reshape([n, 1])
    return TensorBatches(inputs: x, targets: try Tensor((0..<n).map { Int64($0) }), batchSize: batch, shuffle: true, seed: seed)
  }

  static func drawn(_ source: BatchSource, epoch: Int) throws -> [[String: [Int64]]] {
    let stream = try source.batches(epoch: epoch)
    var out: [[String: [Int64]]] = []
    while let b = try stream.next() {
      out.append(try b.tensors.mapValues { try $0.to(dtype: .int64).flatten().toArray(of: Int64.self) })
    }
    return out
  }

  /// The labelled stream sets the epoch; the shorter unlabelled one cycles through fresh passes, each numbered
  /// e · passes + j, so an epoch's pairs depend on the epoch alone (a resumed run draws them again).
  @Test func theUnlabelledStreamCyclesThroughPassesNumberedByTheEpoch() throws {
    let labelled = try Self.items(10, batch: 2, seed: 1), unlabelled = try Self.items(5, batch: 2, seed: 2)
    let paired = PairedBatches(labelled, with: unlabelled, prefix: "u/")
    #expect(paired.batchCount == 5 && paired.passesPerEpoch == 3)
    for epoch in [0, 3] {
      let batches = try Self.drawn(paired, epoch: epoch)
      #expect(batches.count == 5)
      #expect(batches.allSatisfy { Set($0.keys) == ["image", "label", "u/image", "u/label"] })
      // The labelled batches are the labelled source's own.
      #expect(batches.map { $0["label"]! } == (try Self.drawn(labelled, epoch: epoch)).map { $0["label"]! })
      // The unlabelled ones: passes 3e, 3e + 1, 3e + 2 of the unlabelled source (2 batches each), cut at 5.
      let expected = try (0..<3).flatMap { try Self.drawn(unlabelled, epoch: epoch * 3 + $0).map { $0["label"]! } }
      #expect(batches.map { $0["u/label"]! } == Array(expected.prefix(5)))
      #expect(try Self.drawn(paired, epoch: epoch) == batches)
    }
    #expect(try Self.drawn(paired, epoch: 0) != (try Self.drawn(paired, epoch: 1)))
  }

  /// A longer unlabelled stream is cut where the epoch ends, and a new epoch starts a new shuffle of it.
  @Test func aLongerUnlabelledStreamIsCutAtTheEpochsEnd() throws {
    let paired = PairedBatches(try Self.items(4, batch: 2, seed: 1), with: try Self.items(12, batch: 3, seed: 2), prefix: "u/")
    #expect(paired.passesPerEpoch == 1)
    let batches = try Self.drawn(paired, epoch: 2)
    #expect(batches.count == 2 && batches.allSatisfy { $0["u/label"]!.count == 3 })
    #expect(batches.map { $0["u/label"]! } == Array(try Self.drawn(try Self.items(12, batch: 3, seed: 2), epoch: 2).map { $0["label"]! }.prefix(2)))
  }

  @Test func anUnlabelledStreamWithoutABatchIsRefused() throws {
    let paired = PairedBatches(try Self.items(4, batch: 2, seed: 1), with: try Self.items(2, batch: 3, seed: 2), prefix: "u/")
    #expect { _ = try paired.batches(epoch: 0) } throws: { "\($0)".contains("unlabelled stream makes no batch") }
  }
}
