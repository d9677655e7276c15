// Issue 14: the joint-embedding tasks' losses, target update, Sinkhorn and heads against lightly's own code
// (Fixtures/make_lightly_fixture.py, lightly 1.6.0, torch 2.13.0).
import Foundation
import Testing
@testable import NN
@testable import SelfSupervised
@testable import Torch
@testable import Training

struct LightlyFixture {
  let file: SafeTensors.File
  let reference: [String: Any]
  init() throws {
    let path = try #require(Bundle.module.path(forResource: "lightly_parity", ofType: "safetensors", inDirectory: "Fixtures"))
    file = try SafeTensors.File(path: path)
    let json = try #require(file.header.metadata["reference"])
    reference = try #require(try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any])
  }
  func t(_ name: String) throws -> Tensor { try file.tensor(name).clone() }
  func number(_ key: String) throws -> Double { try #require(reference[key] as? Double, "\(key) in the fixture") }
}

/// |a − b| / |b|, over every element (a scalar when both are scalars).
func relativeError(_ a: Tensor, _ b: Tensor) throws -> Double {
  let a = try a.to(dtype: .float64), b = try b.to(dtype: .float64)
  return try (a - b).norm().item().doubleValue / Swift.max(b.norm().item().doubleValue, 1e-30)
}
func relativeError(_ a: Double, _ b: Double) -> Double { Swift.abs(a - b) / Swift.max(Swift.abs(b), 1e-30) }

@Suite struct LightlyParityTests {
  let f: LightlyFixture
  init() throws { f = try LightlyFixture() }

  @Test func ntXentMatchesLightlyInLossAndGradient() throws {
    for t in [0.5, 0.1] {
      let z0 = try f.t("z0")
      try z0.setRequiresGrad(true)
      let loss = try ntXentLoss(z0, f.t("z1"), temperature: t)
      try loss.backward()
      #expect(relativeError(try loss.item().doubleValue, try f.number("ntxent_\(t)")) < 1e-5, "τ \(t)")
      #expect(try relativeError(try #require(z0.grad), f.t("ntxent_\(t)_grad_z0")) < 1e-5, "τ \(t) gradient")
    }
  }

  @Test func negativeCosineAndBYOLLossMatchLightly() throws {
    #expect(relativeError(try negativeCosineSimilarity(f.t("z0"), f.t("z1")).item().doubleValue, try f.number("negative_cosine")) < 1e-5)
    let byol = try (negativeCosineSimilarity(f.t("p0"), f.t("t1")) + negativeCosineSimilarity(f.t("p1"), f.t("t0"))) * 0.5
    #expect(relativeError(try byol.item().doubleValue, try f.number("byol_loss")) < 1e-5)
  }

  @Test func collapseMonitorMatchesLightlysStdOfL2Normalized() throws {
    #expect(relativeError(try EmbeddingMonitor.embeddingStd(f.t("z0")).item().doubleValue, try f.number("std_of_l2_normalized")) < 1e-5)
  }

  @Test func momentumUpdateAndScheduleMatchLightly() throws {
    let online = try [Parameter(f.t("online.weight")), Parameter(f.t("online.bias"))]
    let target = try [Parameter(f.t("target.weight")), Parameter(f.t("target.bias"))]
    try updateMomentum(target: target, online: online, momentum: 0.99)
    #expect(try relativeError(target[0].value, f.t("updated.weight")) < 1e-6)
    #expect(try relativeError(target[1].value, f.t("updated.bias")) < 1e-6)
    let schedule = try #require(f.reference["cosine_schedule"] as? [[Double]])
    for row in schedule {
      let got = cosineSchedule(step: Int(row[0]), maxSteps: Int(row[1]), start: 0.996, end: 1)
      #expect(relativeError(got, row[2]) < 1e-12, "step \(row[0]) of \(row[1])")
    }
  }

  /// SwAV's Sinkhorn codes, and its loss over 2 high- and 3 low-resolution crops with and without a queue
  /// (and the loss's gradient through the first high-resolution crop's scores).
  @Test func sinkhornAndSwAVLossMatchLightly() throws {
    let codes = try sinkhorn(f.t("swav_scores"), iterations: 3, epsilon: 0.05)
    #expect(try relativeError(codes, f.t("swav_sinkhorn")) < 1e-5)
    #expect(try codes.sum(dims: [1]).allClose(Tensor.ones([8]), rtol: 1e-5))  // each sample's codes sum to 1
    let low = try (0..<3).map { try f.t("swav_low\($0)") }
    for (name, queue) in [("swav_loss", nil), ("swav_loss_queue", try (0..<2).map { try f.t("swav_queue\($0)") })] as [(String, [Tensor]?)] {
      let high = try (0..<2).map { try f.t("swav_high\($0)") }
      try high[0].setRequiresGrad(true)
      let loss = try swavLoss(high: high, low: low, queue: queue, temperature: 0.1, iterations: 3, epsilon: 0.05)
      try loss.backward()
      #expect(relativeError(try loss.item().doubleValue, try f.number(name)) < 1e-5, "\(name)")
      #expect(try relativeError(try #require(high[0].grad), f.t(name + "_grad_high0")) < 1e-5, "\(name) gradient")
    }
  }

  /// LARS takes lightly's steps: trust-ratio scaled with weight decay, plain SGD without (and for a zero
  /// gradient), momentum 0.9, over 3 steps.
  @Test func larsMatchesLightly() throws {
    let w = try Parameter(f.t("lars.w0")), b = try Parameter(f.t("lars.b0"))
    let group = ParamGroup(names: ["w", "b"], params: [w, b], decays: [true, false], lr: 0.5, momentum: 0.9, weightDecay: 0.1)
    let lars = LARS(groups: [group])
    for i in 0..<3 {
      try w.value.setGrad(f.t("lars.gw\(i)"))
      try b.value.setGrad(f.t("lars.gb\(i)"))
      try lars.step()
    }
    #expect(try relativeError(w.value, f.t("lars.w3")) < 1e-6)
    #expect(try relativeError(b.value, f.t("lars.b3")) < 1e-6)
  }

  /// lightly's heads' weights load into ours by their own key names, and the forward in training mode
  /// (batch statistics) and the running statistics it leaves agree.
  @Test func headsMatchLightlysHeads() throws {
    let heads: [(String, ProjectionHead)] = [
      ("simclr", try .simCLR(16, hidden: 12, outputs: 8)), ("byol", try .byol(16, hidden: 12, outputs: 8)),
      ("simsiam_projector", try .simSiamProjector(16, hidden: 12, outputs: 10)),
      ("simsiam_predictor", try .simSiamPredictor(16, hidden: 4, outputs: 10)),
      ("swav", try .swav(16, hidden: 12, outputs: 8)),
    ]
    let x = try f.t("x")
    for (name, head) in heads {
      let state = head.stateDict()
      let stored = Set(f.file.header.entries.map(\.name).filter { $0.hasPrefix(name + ".") && !$0.hasPrefix(name + ".after.") && $0 != name + ".output" })
      #expect(Set(state.map { name + "." + $0.name }) == stored, "\(name): key names")
      try withNoGrad { for (k, t) in state { try t.copy_(f.t(name + "." + k)) } }
      head.train()
      #expect(try relativeError(head(x), f.t(name + ".output")) < 1e-5, "\(name) output")
      for (k, t) in state where k.contains("running") {
        #expect(try relativeError(t, f.t(name + ".after." + k)) < 1e-5, "\(name) \(k)")
      }
    }
  }
}

@Suite struct MonitorTests {
  /// The monitors see collapse: features on one line give an effective rank of about 1 and projections that
  /// are all the same direction a std of about 0; independent Gaussian features give a rank near the maximum.
  @Test func monitorsTellCollapseFromSpread() throws {
    let line = try Tensor.randn([32, 1]) * Tensor.randn([1, 64])
    let collapsed = try EmbeddingMonitor.logs(features: line, projections: Tensor.ones([32, 8]) + Tensor.randn([32, 8]) * 1e-4)
    #expect(try collapsed["effective_rank"]!.item().doubleValue < 1.1)
    #expect(try collapsed["embedding_std"]!.item().doubleValue < 1e-3)
    let spread = try EmbeddingMonitor.logs(features: Tensor.randn([32, 64]), projections: Tensor.randn([32, 8]))
    #expect(try spread["effective_rank"]!.item().doubleValue > 20)
    #expect(try spread["embedding_std"]!.item().doubleValue > 0.8 / 8.0.squareRoot())
  }
}
