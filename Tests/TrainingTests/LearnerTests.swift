import Foundation
import Testing
import TestSupport
@testable import NN
@testable import Torch
@testable import Training

func bars(_ n: Int, seed: UInt64) throws -> (Tensor, Tensor) { try syntheticBars(count: n, seed: seed) }

/// A small xresnet, always starting from the same weights. (Tests run in parallel and share libtorch's
/// default generator, so weights are drawn once and copied; dropout is off for the same reason: the
/// resume test with dropout runs in a process of its own.)
func smallNet() throws -> XResNet {
  let model = try XResNet(.resnet18, inChannels: 1, classes: 2, widen: 0.125)
  try model.loadStateDict(initialState)
  return model
}
let initialState: [(name: String, tensor: Tensor)] = try! XResNet(.resnet18, inChannels: 1, classes: 2, widen: 0.125).stateDict()

func makeLearner(_ model: XResNet, lr: LearningRate = .value(3e-3), seed: UInt64 = 1, items: Int = 256) throws -> Learner {
  let (x, y) = try bars(items, seed: 10)
  let (vx, vy) = try bars(128, seed: 11)
  let groups = ParamGroup.groups(of: model, lr: lr.max)
  return Learner(
    model: model, train: TensorBatches(inputs: x, targets: y, batchSize: 32, shuffle: true, seed: seed),
    valid: TensorBatches(inputs: vx, targets: vy, batchSize: 64, shuffle: false),
    loss: { try crossEntropy($0, $1, labelSmoothing: 0.1) }, optimizer: ranger(groups), metrics: [Accuracy()])
}

final class LRProbe: Callback {
  var seen: [[Double]] = []
  var momenta: [Double] = []
  func on(_ event: Event, _ learner: Learner) throws {
    if event == .beforeStep {
      seen.append(learner.optimizer.groups.map(\.lr))
      momenta.append(learner.optimizer.groups[0].momentum)
    }
  }
}

@Suite struct LearnerTests {
  @Test func learningHappens() throws {
    let learner = try makeLearner(smallNet(), items: 1024)
    try learner.fit(.flatCos(epochs: 5, lr: .value(1e-2)))
    let last = learner.history.last!
    #expect(learner.history.count == 5)
    #expect(last.metrics["accuracy"]! > 0.85, "\(learner.history)")
    #expect(last.trainLoss < learner.history.first!.trainLoss)
    #expect(learner.batchLosses.count == 5 * 32)
  }

  @Test func discriminativeRatesReachTheOptimizerDuringTraining() throws {
    let probe = LRProbe()
    let learner = try makeLearner(smallNet())
    learner.callbacks.append(probe)
    try learner.fit(.oneCycle(epochs: 1, lr: .range(1e-5, 1e-3)))
    let expected = LearningRate.range(1e-5, 1e-3).perGroup(3)
    for (i, lrs) in probe.seen.enumerated() {
      let mult = Schedule.oneCycle()(Double(i) / 8)
      for (got, base) in zip(lrs, expected) { #expect(Swift.abs(got - base * mult) <= 1e-12 * base, "batch \(i)") }
    }
    #expect(Swift.abs(probe.seen[0][0] / probe.seen[0][2] - 1e-2) < 1e-9)  // lo…hi really differ
    #expect(Swift.abs(probe.momenta[0] - 0.95) < 1e-12 && probe.momenta.min()! < 0.9)  // momentum is scheduled
  }

  @Test func freezeKeepsFrozenWeightsBitIdenticalThroughFit() throws {
    let model = try smallNet()
    try model.freeze()
    let bn = model.batchNormParameterNames()
    let head = Set(model.parameterGroups().last!.map(\.name))
    let before = try model.namedParameters().map { ($0.0, try $0.1.value.clone()) }
    try makeLearner(model).fit(.flatCos(epochs: 1, lr: .value(1e-2)))
    for ((name, old), (_, p)) in zip(before, model.namedParameters()) {
      let same = try p.value.equal(old)
      #expect(same == !(head.contains(name) || bn.contains(name)), "\(name)")
    }
  }

  @Test func resumeInProcessRestoresModelAndOptimizer() throws {
    let path = NSTemporaryDirectory() + "pretext-resume-\(UUID().uuidString).safetensors"
    let plan = FitPlan.flatCos(epochs: 4, lr: .value(5e-3))
    let straight = try makeLearner(smallNet())
    try straight.fit(plan)
    let half = try makeLearner(smallNet())
    half.checkpointPath = path
    half.callbacks.append(StopAfter(epochs: 2))
    try half.fit(plan)
    let resumed = try makeLearner(smallNet())
    let done = try resumed.loadCheckpoint(from: path)
    #expect(done == 2)
    try resumed.fit(plan, startEpoch: done)
    for ((n, a), (_, b)) in zip(straight.model.stateDict(), resumed.model.stateDict()) {
      #expect(try a.equal(b), "\(n) differs after resume")
    }
    #expect(resumed.history.map(\.trainLoss) == straight.history.map(\.trainLoss))
  }

  /// The issue's test: N epochs straight vs. a run SIGKILLed after its epoch-2 checkpoint and resumed, in
  /// processes of their own (train-synthetic, with dropout, so the generator state must be restored too).
  @Test func resumeAfterSIGKILLGivesIdenticalWeights() throws {
    let dir = NSTemporaryDirectory() + "pretext-kill-\(UUID().uuidString)"
    try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    let tool = try builtTool("train-synthetic")
    func run(_ args: [String], killAfter line: String? = nil) throws -> String {
      let r = try runTool(tool, args, killWhen: line.map { line in { $0.contains(line) } })
      if line != nil { #expect(r.killed, "the run was not killed: \(r.output)") }
      return r.output
    }
    _ = try run(["--epochs", "4", "--checkpoint", dir + "/a.ckpt", "--out", dir + "/straight.safetensors"])
    _ = try run(["--epochs", "4", "--checkpoint", dir + "/b.ckpt"], killAfter: "epoch 2 done")
    let resumed = try run(["--epochs", "4", "--checkpoint", dir + "/b.ckpt", "--resume", "--out", dir + "/resumed.safetensors"])
    #expect(resumed.contains("resumed after epoch 2") || resumed.contains("resumed after epoch 3"), "\(resumed)")
    let a = try SafeTensors.File(path: dir + "/straight.safetensors"), b = try SafeTensors.File(path: dir + "/resumed.safetensors")
    #expect(a.names == b.names)
    for name in a.names { #expect(try a.tensor(name).equal(b.tensor(name)), "\(name) differs") }
  }

  @Test func truncatedCheckpointIsRefused() throws {
    let path = NSTemporaryDirectory() + "pretext-trunc-\(UUID().uuidString).safetensors"
    let learner = try makeLearner(smallNet())
    try learner.saveCheckpoint(to: path, plan: .flatCos(epochs: 1, lr: .value(1e-3)), epochsDone: 1)
    let data = try Data(contentsOf: URL(fileURLWithPath: path))
    try data.prefix(data.count - 100).write(to: URL(fileURLWithPath: path))
    #expect(throws: FileError.self) { try makeLearner(smallNet()).loadCheckpoint(from: path) }
  }

  @Test func nonFiniteLossStopsAndKeepsTheLastCheckpoint() throws {
    let path = NSTemporaryDirectory() + "pretext-nan-\(UUID().uuidString).safetensors"
    let (x, y) = try bars(64, seed: 3)
    let model = try smallNet()
    var calls = 0
    let learner = Learner(
      model: model, train: TensorBatches(inputs: x, targets: y, batchSize: 16, shuffle: true),
      loss: { p, t in
        calls += 1
        let l = try crossEntropy(p, t)
        return calls > 6 ? try l * Double.nan : l  // poisons the 3rd batch of epoch 2
      }, optimizer: SGD(groups: ParamGroup.single(model, lr: 0.01)))
    learner.checkpointPath = path
    do {
      try learner.fit(.flatCos(epochs: 3, lr: .value(0.01)))
      Issue.record("a NaN loss did not stop training")
    } catch let e as NonFiniteLossError {
      #expect(e.epoch == 1 && e.batch == 2)
      #expect(e.lastCheckpoint == path)
      #expect(e.description.contains("epoch 2, batch 3"))
    }
    #expect(try SafeTensors.File(path: path).metadata["pretext.epochs_done"] == "1")
  }

  @Test func callbacksCanSkipBatchesAndStop() throws {
    final class SkipOdd: Callback {
      func on(_ event: Event, _ l: Learner) throws {
        if event == .afterLoss && l.batchIndex % 2 == 1 { throw LearnerControl.skipBatch }
      }
    }
    let learner = try makeLearner(smallNet())
    learner.callbacks = [SkipOdd(), StopAfter(epochs: 1)]
    try learner.fit(.flatCos(epochs: 3, lr: .value(1e-3)))
    #expect(learner.history.count == 1)
    #expect(learner.batchLosses.count == 4)  // 8 batches, odd ones skipped before their step
  }

  @Test func gradientClipping() throws {
    let learner = try makeLearner(smallNet())
    let (x, y) = try bars(8, seed: 5)
    try (crossEntropy(learner.model(x), y) * 1000.0).backward()
    try learner.clipGradients(maxNorm: 0.5)
    let grads = learner.optimizer.groups.flatMap(\.params).compactMap { $0.value.grad }
    let total = try Tensor.stack(Foreach.norm(grads)).norm().item(Double.self)
    #expect(Swift.abs(total - 0.5) < 1e-3)
  }
}

/// Stops training after `epochs` epochs.
final class StopAfter: Callback {
  let epochs: Int
  init(epochs: Int) { self.epochs = epochs }
  func on(_ event: Event, _ l: Learner) throws {
    if event == .afterEpoch && l.epoch + 1 >= epochs { throw LearnerControl.stopTraining }
  }
}
