// The jigsaw task's permutations and tiles. (The task trained end to end through the study: StudyTests/TaskZooTests.swift.)
import Foundation
import Testing
@testable import ImageData
@testable import NN
@testable import SelfSupervised
@testable import Torch
@testable import Training

@Suite struct JigsawTaskTests {
  /// The permutation set is fixed (the same on every call), 100 distinct orderings of the 9 cells from the
  /// identity, far apart: every pair differs in at least 6 of the 9 places.
  @Test func permutationsAreFixedDistinctAndFarApart() throws {
    let p = JigsawTask.permutations
    #expect(p == hammingPermutations(count: 100, cells: 9, pool: 5000, seed: 75))
    #expect(p.count == 100 && Set(p).count == 100 && p.allSatisfy { $0.sorted() == Array(0..<9) } && p[0] == Array(0..<9))
    var nearest = 9
    for i in p.indices { for j in p.indices where j > i { nearest = Swift.min(nearest, zip(p[i], p[j]).filter { $0 != $1 }.count) } }
    #expect(nearest >= 6, "minimum Hamming distance \(nearest)")
  }

  /// Slot s holds the tile of cell permutation[s]: centred in its cell in validation, the label the
  /// permutation's index.
  @Test func tilesFollowThePermutation() throws {
    var pixels = [UInt8](repeating: 0, count: 30 * 30 * 3)
    for y in 0..<30 { for x in 0..<30 { pixels[3 * (y * 30 + x)] = UInt8((y / 10) * 3 + x / 10) } }  // red = cell index
    let reversed = Array((0..<9).reversed())
    let t = JigsawTiles(grid: 3, permutations: [Array(0..<9), reversed], training: false)
    var rng = SplitMix64(seed: 1)
    var label = -1
    for _ in 0..<20 where label != 1 {
      var item = Item(source: Image(width: 30, height: 30, pixels: pixels))
      item.images["image"] = item.images["source"]
      try t.apply(&item, rng: &rng)
      label = try #require(item.integers["permutation"])
      let perm = label == 0 ? Array(0..<9) : reversed
      for s in 0..<9 {
        let tile = try item.image("tile\(s)")
        #expect(tile.width == t.tileSide(30) && tile.width == 8)
        #expect(stride(from: 0, to: tile.pixels.count, by: 3).allSatisfy { tile.pixels[$0] == UInt8(perm[s]) }, "slot \(s)")
      }
      #expect(item.images["image"] == nil)
    }
    #expect(label == 1)
  }
}
