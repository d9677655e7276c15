// SwAV's queue. (The task trained end to end through the study: StudyTests/TaskZooTests.swift.)
import Foundation
import Testing
@testable import ImageData
@testable import NN
@testable import SelfSupervised
@testable import Torch
@testable import Training

@Suite struct SwAVTaskTests {
  /// The queue: empty until it holds `length` projections per global crop, newest first (the oldest fall
  /// off), then its scores join Sinkhorn's; it is part of the saved state; a batch longer than it is refused.
  @Test func queueFillsNewestFirstAndJoinsOnceFull() throws {
    let net = try SwAVTask(TaskSettings(size: 32, widen: 0.125, swavQueue: 6)).net
    #expect(try net.fullQueue == nil)
    let a = try (0..<2).map { _ in try Tensor.randn([4, 128]).normalized() }, b = try (0..<2).map { _ in try Tensor.randn([4, 128]).normalized() }
    try net.enqueue(a)
    #expect(try net.fullQueue == nil)  // 4 of 6
    try net.enqueue(b)
    let q = try #require(try net.fullQueue)
    for i in 0..<2 {
      #expect(try q[i].narrow(dim: 0, start: 0, length: 4).equal(b[i]) && q[i].narrow(dim: 0, start: 4, length: 2).equal(a[i].narrow(dim: 0, start: 0, length: 2)))
    }
    #expect(Set(net.stateDict().map(\.name)).isSuperset(of: ["queue", "queued"]))
    #expect(throws: (any Error).self) { try net.enqueue([try Tensor.randn([7, 128]), try Tensor.randn([7, 128])]) }
  }
}
