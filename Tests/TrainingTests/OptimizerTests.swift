import Foundation
import Testing
@testable import NN
@testable import Torch
@testable import Training

func fixturePath(_ name: String) -> String { Bundle.module.path(forResource: name, ofType: nil, inDirectory: "Fixtures")! }

func relativeError(_ a: Tensor, _ b: Tensor) throws -> Double {
  let a = try a.to(dtype: .float64), b = try b.to(dtype: .float64)
  return try (a - b).norm().item() / b.norm().item()
}

/// The fixed problem of Fixtures/make_fixtures.py, with its trajectories from torch.optim and fastai.
struct Problem {
  let file: SafeTensors.File
  let W: Parameter, b: Parameter
  let x: Tensor, y: Tensor

  init() throws {
    file = try SafeTensors.File(path: fixturePath("optimizers.safetensors"))
    W = try Parameter(file.tensor("W0").clone())
    b = try Parameter(file.tensor("b0").clone())
    x = try file.tensor("x")
    y = try file.tensor("y")
  }

  func group(lr: Double, momentum: Double, sqrMomentum: Double = 0.999, eps: Double = 1e-8, weightDecay: Double) -> [ParamGroup] {
    // Weight decay on both, as torch.optim applies it to every parameter it is given.
    [ParamGroup(names: ["W", "b"], params: [W, b], lr: lr, momentum: momentum, sqrMomentum: sqrMomentum, eps: eps,
                weightDecay: weightDecay)]
  }

  func loss() throws -> Tensor {
    try (x.matmul(W.value) + b.value - y).square().mean() + W.value.pow(4).sum() * 0.05
  }

  /// Runs 20 steps, comparing with the reference after every one; returns the worst relative error.
  func run(_ opt: Optimizer, _ name: String) throws -> Double {
    var worst = 0.0
    for step in 0..<20 {
      try opt.zeroGrad()
      try loss().backward()
      try opt.step()
      worst = Swift.max(worst, try relativeError(W.value, file.tensor("\(name).\(step).W")),
                        try relativeError(b.value, file.tensor("\(name).\(step).b")))
    }
    return worst
  }
}

@Suite struct OptimizerTests {
  @Test func sgdMatchesTorch() throws {
    let p = try Problem()
    #expect(try p.run(SGD(groups: p.group(lr: 0.05, momentum: 0.9, weightDecay: 0.01)), "sgd") < 1e-5)
    let q = try Problem()
    #expect(try q.run(SGD(groups: q.group(lr: 0.05, momentum: 0.9, weightDecay: 0.01), nesterov: true), "sgd_nesterov") < 1e-5)
  }

  @Test func adamAndAdamWMatchTorch() throws {
    let p = try Problem()
    #expect(try p.run(Adam(groups: p.group(lr: 0.05, momentum: 0.9, sqrMomentum: 0.99, weightDecay: 0.01)), "adam") < 1e-5)
    let q = try Problem()
    #expect(try q.run(Adam(groups: q.group(lr: 0.05, momentum: 0.9, sqrMomentum: 0.99, weightDecay: 0.1), decoupled: true), "adamw") < 1e-5)
  }

  @Test func radamMatchesTorch() throws {
    let p = try Problem()
    #expect(try p.run(RAdam(groups: p.group(lr: 0.05, momentum: 0.9, sqrMomentum: 0.99, weightDecay: 0.01)), "radam") < 1e-5)
    let q = try Problem()
    let decoupled = RAdam(groups: q.group(lr: 0.05, momentum: 0.9, sqrMomentum: 0.99, weightDecay: 0.1), decoupled: true)
    #expect(try q.run(decoupled, "radam_decoupled") < 1e-5)
  }

  @Test func rangerMatchesFastai() throws {
    let p = try Problem()
    let opt = ranger(p.group(lr: 0.05, momentum: 0, weightDecay: 0))
    #expect(try p.run(opt, "ranger") < 1e-5)
  }

  @Test func stateSavesAndRestores() throws {
    // 10 steps, save, 10 more; versus 10 steps, restore into a fresh optimizer, 10 more.
    let p = try Problem()
    let a = ranger(p.group(lr: 0.05, momentum: 0, weightDecay: 0))
    for _ in 0..<10 { try a.zeroGrad(); try p.loss().backward(); try a.step() }
    let saved = try a.stateTensors().map { ($0.name, try $0.tensor.clone()) }
    let W10 = try p.W.value.clone(), b10 = try p.b.value.clone()
    for _ in 0..<10 { try a.zeroGrad(); try p.loss().backward(); try a.step() }
    let q = try Problem()
    try withNoGrad { try q.W.value.copy_(W10); try q.b.value.copy_(b10) }
    let c = ranger(q.group(lr: 0.05, momentum: 0, weightDecay: 0))
    try c.loadStateTensors(saved)
    for _ in 0..<10 { try c.zeroGrad(); try q.loss().backward(); try c.step() }
    #expect(try q.W.value.equal(p.W.value) && q.b.value.equal(p.b.value))
    #expect(throws: TorchError.self) { try c.loadStateTensors([]) }
  }

  @Test func noWeightDecayOnBatchNormAndBias() throws {
    let model = try XResNet(.resnet18, classes: 3, widen: 0.125)
    let groups = ParamGroup.groups(of: model, lr: 0.1, weightDecay: 0.5)
    let decayed = Set(groups.flatMap { g in zip(g.names, g.decays).filter(\.1).map(\.0) })
    #expect(decayed.contains("0.0.weight") && decayed.contains("11.weight"))
    #expect(!decayed.contains("11.bias") && !decayed.contains("0.1.weight") && !decayed.contains("0.1.bias"))
    // With zero gradients, only decayed parameters move (AdamW's decoupled decay).
    for g in groups { for p in g.params { try p.value.setGrad(p.value.zerosLike()) } }
    let before = try model.namedParameters().map { ($0.0, try $0.1.value.clone()) }
    try Adam(groups: groups, decoupled: true).step()
    for ((name, old), (_, p)) in zip(before, model.namedParameters()) {
      #expect(try p.value.equal(old) == !decayed.contains(name), "\(name)")
    }
  }
}

@Suite struct ScheduleTests {
  struct Expected: Decodable {
    let points: [Double]
    let one_cycle_lr: [Double], one_cycle_mom: [Double], flat_cos: [Double]
  }

  @Test func schedulesMatchFastai() throws {
    let e = try JSONDecoder().decode(Expected.self, from: Data(contentsOf: URL(fileURLWithPath: fixturePath("schedules.json"))))
    // fastai computes phase positions with float32 tensors: agreement to float32 precision.
    func close(_ a: Double, _ b: Double) -> Bool { Swift.abs(a - b) <= 1e-5 * Swift.max(Swift.abs(b), 1e-5) }
    for (i, pos) in e.points.enumerated() {
      #expect(close(Schedule.oneCycle()(pos), e.one_cycle_lr[i]), "one-cycle lr at \(pos)")
      #expect(close(Schedule.oneCycleMomentum()(pos), e.one_cycle_mom[i]), "one-cycle mom at \(pos)")
      #expect(close(Schedule.flatCos()(pos), e.flat_cos[i]), "flat-cos at \(pos)")
    }
    #expect(Schedule.flatCos()(0.5) == 1 && Schedule.oneCycle()(0) == 1.0 / 25)
  }

  @Test func discriminativeLearningRates() {
    #expect(LearningRate.value(0.01).perGroup(3) == [0.01, 0.01, 0.01])
    let upTo = LearningRate.upTo(0.01).perGroup(3)
    #expect(upTo.count == 3 && Swift.abs(upTo[0] - 0.001) < 1e-15 && upTo[2] == 0.01)
    let r = LearningRate.range(8e-5, 8e-3).perGroup(3)
    #expect(Swift.abs(r[0] - 8e-5) < 1e-15 && Swift.abs(r[1] - 8e-4) < 1e-12 && Swift.abs(r[2] - 8e-3) < 1e-12)
    #expect(r[0] > 0)  // the study's bug: lr//100 gave 0
  }
}

@Suite struct LossAndMetricTests {
  @Test func labelSmoothingFollowsFastaisFormula() throws {
    let logits = try Tensor([2.0, -1, 0.5, 0.1, 0.3, 3.0], shape: [2, 3]), target = try Tensor([0, 2] as [Int64])
    let logp = try logSoftmax(logits, dim: 1)
    // fastai: loss*eps/c + (1-eps)*nll, with loss = mean over items of −Σ log p
    let fastai = try (logp.sum(dims: [1]).neg().mean() * (0.1 / 3) + nllLoss(logp, target) * 0.9).item(Double.self)
    let ours = try Losses.labelSmoothingCrossEntropy(eps: 0.1)(logits, target).item(Double.self)
    #expect(Swift.abs(ours - fastai) < 1e-12)
  }

  @Test func topKAccuracy() throws {
    var top1 = Accuracy(), top2 = Accuracy(topK: 2)
    let logits = try Tensor([0.1, 0.7, 0.2, 0.5, 0.3, 0.2] as [Float], shape: [2, 3])
    let target = try Tensor([2, 0] as [Int64])
    try top1.accumulate(prediction: logits, target: target)
    try top2.accumulate(prediction: logits, target: target)
    #expect(top1.value == 0.5 && top2.value == 1.0)
    #expect(top2.name == "top2_accuracy")
  }

  /// Restricted to classes {1, 2}: row 0's argmax among them is 2 (right, though 0 is its overall argmax), row 2's
  /// is 2 (right); row 1 (true class 0, outside the set) is not counted.
  @Test func accuracyAmongClassesIgnoresTheOthers() throws {
    var among = AccuracyAmong(classes: [2, 1])
    let logits = try Tensor([0.9, 0.1, 0.2, 0.5, 0.3, 0.2, 0.0, 0.1, 0.4] as [Float], shape: [3, 3])
    try among.accumulate(prediction: logits, target: try Tensor([2, 0, 2] as [Int64]))
    #expect(among.value == 1.0)
    try among.accumulate(prediction: logits, target: try Tensor([1, 1, 1] as [Int64]))  // rows 0 and 2 pick 2: wrong
    #expect(Swift.abs(among.value - 3.0 / 5.0) < 1e-12)
    var plain = Accuracy()
    try plain.accumulate(prediction: logits, target: try Tensor([2, 0, 2] as [Int64]))
    #expect(Swift.abs(plain.value - 2.0 / 3.0) < 1e-12)  // (0, 0, 2): rows 1 and 2 right
  }
}
