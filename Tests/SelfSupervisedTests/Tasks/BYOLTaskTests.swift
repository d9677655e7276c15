// BYOL's momentum target. (The task trained end to end through the study: StudyTests/TaskZooTests.swift.)
import Foundation
import Testing
@testable import ImageData
@testable import NN
@testable import SelfSupervised
@testable import Torch
@testable import Training

@Suite struct BYOLTaskTests {
  /// BYOL's target follows the online network by EMA only: one step moves it by (1 − m) of the gap, and it
  /// is in no parameter group.
  @Test func byolTargetMovesByTheMomentumAndIsNotTrained() throws {
    let task = try BYOLTask(TaskSettings(size: 32, widen: 0.125))
    let net = task.net
    let trained = Set(net.parameterGroups().flatMap { $0.map { ObjectIdentifier($0.parameter) } })
    #expect(net.target.allSatisfy { !trained.contains(ObjectIdentifier($0)) && !$0.requiresGrad })
    #expect(try zip(net.target, net.online).allSatisfy { try $0.value.equal($1.value) })  // starts as a copy
    try withNoGrad { for p in net.online { try p.value.add_(1) } }
    let before = try net.target.map { try $0.value.clone() }
    try updateMomentum(target: net.target, online: net.online, momentum: 0.9)
    for (i, t) in net.target.enumerated() {
      let want = try before[i] * 0.9 + net.online[i].value * 0.1
      #expect(try t.value.allClose(want, rtol: 1e-5, atol: 1e-6))
    }
  }
}
