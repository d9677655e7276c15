// Issue 37: the semi-supervised `selftrain` protocol (a teacher labels the unlabelled images, a student trains on both).
import Foundation
import Testing
import TestSupport
@testable import ImageData
@testable import NN
@testable import SelfSupervised
@testable import Study
@testable import Torch
@testable import Training

/// The `selftrain` protocol: a teacher labels the unlabelled images, a class-balanced confident subset keeps its soft
/// labels, a student trains from random weights on both for random init's steps.
@Suite struct SelfTrainingTests {
  /// Per class, the images it is the most probable class of, above the threshold, the most confident first, at most
  /// `perClass`; a class no image is most probable for contributes none.
  @Test func theSelectionIsClassBalancedAndConfident() throws {
    let p = try Tensor([Float](
      [0.9, 0.1, 0.0,  0.6, 0.4, 0.0,  0.95, 0.05, 0.0,  0.2, 0.7, 0.1,  0.3, 0.3, 0.4,  0.1, 0.8, 0.1,  0.45, 0.45, 0.1])).reshape([7, 3])
    #expect(try SelfTraining.select(p, threshold: 0.5, perClass: 2) == [2, 0, 5, 3])
    #expect(try SelfTraining.select(p, threshold: 0.0, perClass: 9) == [2, 0, 1, 6, 5, 3, 4])
    #expect(try SelfTraining.select(p, threshold: 0.99, perClass: 9).isEmpty)
  }

  /// The soft cross-entropy against smoothed one-hot rows is the study's label-smoothing cross-entropy (ε 0.1), value
  /// and gradient; against a teacher's distribution it is −Σ p log q.
  @Test func softTargetsOfLabelsAreLabelSmoothing() throws {
    let labels = [0, 4, 2, 2, 1, 3]
    func valueAndGradient(_ loss: (Tensor) throws -> Tensor) throws -> (Double, Tensor) {
      let logits = try Tensor.randn([6, 5], generator: Generator(seed: 3))
      try logits.setRequiresGrad(true)
      let l = try loss(logits)
      try l.backward()
      return (try l.item().doubleValue, try #require(logits.grad))
    }
    let (soft, g1) = try valueAndGradient { try SelfTraining.softCrossEntropy($0, SelfTraining.smoothedOneHot(labels, classes: 5)) }
    let (reference, g2) = try valueAndGradient { try Losses.labelSmoothingCrossEntropy()($0, Tensor(labels.map(Int64.init))) }
    #expect(Swift.abs(soft - reference) < 1e-6)
    #expect(try (g1 - g2).abs().max().item().doubleValue < 1e-6)
    let logits = try Tensor.randn([6, 5], generator: Generator(seed: 3))
    let q = try softmax(logits, dim: 1), target = try softmax(Tensor.randn([6, 5], generator: Generator(seed: 4)), dim: 1)
    let manual = try -(target * q.log()).sum(dims: [1]).mean().item().doubleValue
    #expect(Swift.abs(try SelfTraining.softCrossEntropy(logits, target).item().doubleValue - manual) < 1e-5)
  }

  /// End to end: random init is the teacher; the student keeps some unlabelled images, takes random init's steps (the
  /// images read split into labelled and the teacher's), and saves a classifier; a teacher of other classes is refused.
  @Test func aStudentOfRandomInit() throws {
    let root = NSTemporaryDirectory() + "pretext-selftrain-\(UUID().uuidString)"
    defer { try? FileManager.default.removeItem(atPath: root) }
    let data = try tinyPretextData(root + "/data")
    var config = tinyJoint(epochs: 2)
    config.downstream.semi.pseudoThreshold = 0.01
    let random = try trainScenario(.random, run: 0, data: data, encoder: nil, config, runDir: root + "/run").result
    let teacher = root + "/run/eval/random/0/model.safetensors"
    let student = try trainScenario(.selftrain, run: 0, data: data, encoder: teacher, config, runDir: root + "/run").result
    #expect(student.history.count == 2 && student.history.allSatisfy { $0.trainLoss.isFinite && $0.validLoss!.isFinite })
    let kept = try #require(student.pseudoLabelled)
    #expect(kept > 0 && kept <= 120)
    #expect(student.steps == random.steps && student.labelledImagesSeen! + student.unlabelledImagesSeen! == student.steps! * 8)
    #expect(student.unlabelledImagesSeen! > 0 && student.labelledImagesSeen! > 0, "\(student)")
    #expect(FileManager.default.fileExists(atPath: root + "/run/eval/selftrain/0/model.safetensors"))
    // A teacher sure of no image: the student trains on the labelled images alone, 0 kept.
    config.downstream.semi.pseudoThreshold = 1
    let alone = try trainScenario(.selftrain, run: 0, data: data, encoder: teacher, config, runDir: root + "/run2").result
    #expect(alone.pseudoLabelled == 0 && alone.unlabelledImagesSeen == 0 && alone.labelledImagesSeen == alone.steps! * 8)
    // A teacher of other classes (a 3-class classifier) is refused, naming the file.
    let other = try XResNet(.resnet34, classes: 3, widen: 0.125)
    try other.save(to: root + "/three.safetensors", metadata: ClassifierInfo(classes: ["a", "b", "c"], size: 32, widen: 0.125, head: "linear").metadata)
    #expect { try trainScenario(.selftrain, run: 1, data: data, encoder: root + "/three.safetensors", config, runDir: root + "/run") } throws: {
      "\($0)".contains("three.safetensors") && "\($0)".contains("3 classes")
    }
  }
}

/// `evaluate --protocol selftrain --teacher FILE`: killed and resumed (the teacher's labels made again from the file the
/// run folder names), bit-identical to a run never stopped; and the CLI's refusals.
@Suite(.serialized) struct SelfTrainResumeTests {
  @Test func selftrainKilledAndResumedEqualsOneStraightRun() throws {
    let root = NSTemporaryDirectory() + "pretext-selfresume-\(UUID().uuidString)"
    defer { try? FileManager.default.removeItem(atPath: root) }
    try SyntheticImageWang(size: 32, trainPerClass: 3, validPerClass: 1, unsupCount: 40, seed: 5).write(to: root + "/data")
    let tool = try builtTool("pretext")
    let common = ["--data", root + "/data", "--size", "32", "--batch", "8", "--epochs", "3", "--widen", "0.125", "--workers", "2", "--precision", "fp32"]
    let env = ["OMP_NUM_THREADS": "1"]
    let teacherRun = try runTool(tool, ["evaluate", "--protocol", "random", "--out", root + "/t"] + common, environment: env)
    try #require(teacherRun.status == 0, "\(teacherRun.output)")
    let teacher = try DataParallelTests.runFolder(root + "/t", kind: "finetune") + "/eval/random/0/model.safetensors"
    let (ra, rb) = try killedAndResumed(tool, ["--teacher", teacher, "--pseudo-threshold", "0.01"] + common, root: root, protocol: "selftrain")
    #expect(ra.pseudoLabelled == rb.pseudoLabelled && (ra.pseudoLabelled ?? 0) > 0)
    for (line, says) in [(["evaluate", "--protocol", "selftrain"] + common, "--teacher"), (["evaluate", "--protocol", "full", "--encoder", teacher, "--teacher", teacher] + common, "--teacher"),
                         (["evaluate", "--protocol", "selftrain", "--teacher", teacher, "--encoder", teacher] + common, "no --encoder")] {
      let r = try runTool(tool, line, environment: env)
      #expect(r.status != 0 && r.output.contains(says), "\(line): \(r.output)")
    }
  }
}

/// `compare --tasks none --protocols selftrain` through the CLI, then again on its folder with `--runs 2`: run 1's stages
/// are reused, not trained again (a folder's stages are sealed with the run count it started with), and run 2's train.
@Suite(.serialized) struct SemiSupervisedCompareTests {
  @Test func moreRunsReuseTheFinishedOnes() throws {
    let root = NSTemporaryDirectory() + "pretext-semicmp-\(UUID().uuidString)"
    defer { try? FileManager.default.removeItem(atPath: root) }
    try SyntheticImageWang(size: 32, trainPerClass: 2, validPerClass: 2, unsupCount: 30, seed: 6).write(to: root + "/data")
    let tool = try builtTool("pretext")
    let args = ["compare", "--data", root + "/data", "--run", root + "/cmp", "--tasks", "none", "--protocols", "selftrain", "--size", "32",
                "--batch", "8", "--epochs", "1", "--widen", "0.125", "--workers", "2", "--pseudo-threshold", "0.01"]
    let one = try runTool(tool, args + ["--runs", "1"], environment: ["OMP_NUM_THREADS": "2"])
    try #require(one.status == 0, "\(one.output)")
    let two = try runTool(tool, args + ["--runs", "2"], environment: ["OMP_NUM_THREADS": "2"])
    try #require(two.status == 0, "\(two.output)")
    for line in ["random random run 1: reused", "random selftrain run 1: reused", "random random run 2: running", "random selftrain run 2: running"] {
      #expect(two.output.contains(line), "\(line): \(two.output)")
    }
    let board = try String(contentsOfFile: root + "/cmp/leaderboard.csv", encoding: .utf8)
    #expect(board.contains("\nrandom,0,selftrain,2,") && board.contains("\nrandom,0,random,2,"), "\(board)")
    #expect(try String(contentsOfFile: root + "/cmp/report.md", encoding: .utf8).contains("No pretext: the rows are random init"))
  }
}
