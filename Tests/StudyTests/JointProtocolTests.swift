// Issue 37: the semi-supervised `joint` protocol (S4L / SESEMI): a pretext task on unlabelled images as an auxiliary
// loss while the classifier trains.
import Foundation
import Testing
import TestSupport
@testable import ImageData
@testable import NN
@testable import SelfSupervised
@testable import Study
@testable import Torch
@testable import Training

func tinyJoint(epochs: Int = 2, aux: String = "rotation") -> StudyConfig {
  var config = tinyPretext("rotation", epochs: 1)
  (config.downstream.size, config.downstream.batch, config.downstream.epochs) = (32, 8, epochs)
  config.downstream.semi.aux = aux
  (config.runtime.precision, config.runtime.workers) = (.fp32, 1)
  return config
}

@Suite struct JointProtocolTests {
  /// The network the learner trains lists the shared body once (in the classifier's groups) and the task's head
  /// after it, so the optimizer steps every weight once; the task's network is built on the classifier's own body.
  @Test func theSharedBodyIsTrainedOnce() throws {
    let classifier = try XResNet(.resnet34, classes: 20, widen: 0.125)
    let joint = try jointTraining(classifier, tinyJoint(), seed: 1)
    let network = joint.network(classifier)
    let listed = network.parameterGroups().flatMap { $0 }
    #expect(Set(listed.map { ObjectIdentifier($0.parameter) }).count == listed.count)
    let rotation = try #require(joint.aux as? RotationTask)
    let expected = classifier.parameters().count + rotation.net.head.parameters().count
    #expect(listed.count == expected, "\(listed.count) listed, \(expected) expected")
    #expect(rotation.net.encoder.body.parameters().map(ObjectIdentifier.init) == classifier.body.parameters().map(ObjectIdentifier.init))
  }

  /// From random init: every training epoch logs the classifier's and the task's losses (the total is their sum, the
  /// validation loss the classifier's alone), the rotation head learns, the result records steps and the images they
  /// read (unlabelled: unsup/ alone, `--unlabelled-batch` per step), and the saved classifier has the keys of a
  /// supervised run's (so `predict` and a later fine-tune read it alike).
  @Test func fromRandomInitItLogsBothLossesAndRecordsWhatItRead() throws {
    let root = NSTemporaryDirectory() + "pretext-joint-\(UUID().uuidString)"
    defer { try? FileManager.default.removeItem(atPath: root) }
    let data = try tinyPretextData(root + "/data")
    var config = tinyJoint(epochs: 3)
    config.downstream.semi.unlabelledBatch = 12
    let (joint, _, model) = try trainScenario(.joint, run: 0, data: data, encoder: nil, config, runDir: root + "/run")
    let h = joint.history
    #expect(h.count == 3)
    for r in h {
      let (sup, aux) = (try #require(r.metrics["train_supervised_loss"]), try #require(r.metrics["train_aux_loss"]))
      #expect(sup.isFinite && aux.isFinite && Swift.abs(r.trainLoss - (sup + aux)) < 1e-4 * r.trainLoss, "\(r)")
    }
    #expect(h.last!.metrics["train_aux_loss"]! < h.first!.metrics["train_aux_loss"]!, "\(h.map { $0.metrics["train_aux_loss"]! })")
    let labelled = config.downstreamData(data).train.count
    #expect(joint.steps == 3 * (labelled / 8) && joint.labelledImagesSeen == joint.steps! * 8 && joint.unlabelledImagesSeen == joint.steps! * 12)
    #expect(config.unlabelledPaths(data) == data.unsup!.paths)
    let random = try trainScenario(.random, run: 0, data: data, encoder: nil, config, runDir: root + "/run")
    #expect(random.result.steps == joint.steps && random.result.unlabelledImagesSeen == 0)
    let saved = try SafeTensors.File(path: root + "/run/eval/joint/0/model.safetensors")
    #expect(saved.names.sorted() == (try SafeTensors.File(path: root + "/run/eval/random/0/model.safetensors")).names.sorted())
    #expect(try saved.tensor(saved.names.sorted()[0]).equal(model.stateDict().first { $0.name == saved.names.sorted()[0] }!.tensor))
    // `--aux-on-labelled`: the labelled train/ images join the unlabelled stream.
    config.downstream.semi.auxOnLabelled = true
    #expect(config.unlabelledPaths(data) == data.unsup!.paths + config.downstreamData(data).train.paths)
  }

  /// A multi-task spec as the auxiliary task, from a pretext's encoder: its parts' losses are logged under `aux_`.
  @Test func aWeightedAuxiliarySpecFromAnEncoder() throws {
    let root = NSTemporaryDirectory() + "pretext-jointmt-\(UUID().uuidString)"
    defer { try? FileManager.default.removeItem(atPath: root) }
    let data = try tinyPretextData(root + "/data")
    let config = tinyJoint(epochs: 1, aux: "rotation:0.5,jigsaw:1")
    let (pretext, stage) = try runPretext(data, config, runDir: root + "/run")
    let r = try trainScenario(.joint, run: 0, data: data, encoder: stage.file(pretext.encoderFile), config, runDir: root + "/run").result
    let logged = Set(r.history[0].metrics.keys)
    // Every part of the weighted spec is built on the classifier's own body.
    let classifier = try XResNet(.resnet34, classes: 20, widen: 0.125)
    let multi = try #require(try jointTraining(classifier, config, seed: 1).aux as? MultiTask)
    let body = classifier.body.parameters().map(ObjectIdentifier.init)
    #expect(multi.backbone.parameters().map(ObjectIdentifier.init) == body)
    #expect(multi.parts.allSatisfy { zip($0.task.encoderState(), classifier.body.stateDict()).allSatisfy { $0.tensor === $1.tensor } })
    #expect(logged.isSuperset(of: ["train_aux_rotation_loss", "train_aux_jigsaw_loss", "train_supervised_loss"]), "\(logged.sorted())")
  }

  /// What cannot work is refused before anything trains: an unknown auxiliary task, a colour task on gray images, an
  /// unlabelled batch of one image or larger than the unlabelled images.
  @Test func badSettingsAreRefusedNamingTheFlag() throws {
    let root = NSTemporaryDirectory() + "pretext-jointbad-\(UUID().uuidString)"
    defer { try? FileManager.default.removeItem(atPath: root) }
    var c = tinyJoint()
    c.downstream.semi.aux = "rotaton"
    #expect { try c.validate() } throws: { "\($0)".contains("--aux") && "\($0)".contains("rotaton") }
    c = tinyJoint(aux: "colorization")
    c.data.channels = 1
    #expect { try c.validate() } throws: { "\($0)".contains("--aux") }
    c = tinyJoint()
    c.downstream.semi.unlabelledBatch = 1
    #expect { try c.validate() } throws: { "\($0)".contains("--unlabelled-batch") }
    let data = try tinyPretextData(root + "/data")
    c.downstream.semi.unlabelledBatch = 500
    #expect { try trainScenario(.joint, run: 0, data: data, encoder: nil, c, runDir: root + "/run") } throws: {
      "\($0)".contains("--unlabelled-batch 500") && "\($0)".contains("120 unlabelled images")
    }
  }

  /// `compare --protocols joint`: a row from random init (the semi-supervised answer) and one per pretext encoder,
  /// beside supervised random init at the same steps; the leaderboard has each row's steps and images read.
  @Test func aComparisonHasJointRowsAtRandomInitsSteps() throws {
    let root = NSTemporaryDirectory() + "pretext-jointcmp-\(UUID().uuidString)"
    defer { try? FileManager.default.removeItem(atPath: root) }
    let data = try tinyPretextData(root + "/data")
    var config = tinyJoint(epochs: 1)
    config.downstream.runs = 1
    try FileManager.default.createDirectory(atPath: root + "/cmp", withIntermediateDirectories: true)
    let r = try runCompare(data: data, config: config, plan: ComparePlan(tasks: ["rotation"], pretextEpochs: [1], protocols: ["joint"], runs: 1),
                           runDir: root + "/cmp", log: { _ in })
    let rows = Dictionary(uniqueKeysWithValues: r.leaderboard.map { ("\($0.task)/\($0.protocol)", $0) })
    #expect(Set(rows.keys) == ["random/random", "random/joint", "rotation/joint"])
    let (random, joint) = (rows["random/random"]!, rows["random/joint"]!)
    #expect(random.stepsPerRun == 5 && joint.stepsPerRun == 5 && random.labelledImagesSeenPerRun == 40 && joint.labelledImagesSeenPerRun == 40)
    #expect(random.unlabelledImagesSeenPerRun == 0 && joint.unlabelledImagesSeenPerRun == 40)
    let csv = try String(contentsOfFile: root + "/cmp/leaderboard.csv", encoding: .utf8).split(separator: "\n")
    #expect(csv[0].hasSuffix(",steps,labelled_images_seen,unlabelled_images_seen"))
    #expect(csv.contains { $0.hasPrefix("random,0,joint,") && $0.hasSuffix(",5,40,40") }, "\(csv)")
  }

  /// The report's first sentence says what the unlabelled images bought (the best row that used them, on val/'s
  /// classes where they are fewer, with the 95 % interval of the difference), and its first picture is every row's Δ
  /// with its interval; the accuracy-against-length chart is drawn only with two lengths or more.
  @Test func theReportLeadsWithWhatTheUnlabelledImagesBought() throws {
    func row(_ task: String, _ p: String, _ run: Int, _ acc: Double, _ dogs: Double) -> ResultRow {
      ResultRow(task: task, pretextEpochs: task == "random" ? 0 : 2, protocol: p, run: run, finalAccuracy: acc, bestAccuracy: acc,
                finalAccuracyAmongValidClasses: dogs, epochs: 2, seconds: 1)
    }
    func report(_ rows: [ResultRow], lengths: [Int] = [2]) -> (String, String) {
      let board = Leaderboard.rows(rows, pretextSeconds: { _, _ in 0 }, imagesSeen: { _, _ in 0 }, labelledImages: 32)
      let r = CompareResult(config: StudyConfig.demo, plan: ComparePlan(tasks: ["rotation"], pretextEpochs: lengths, protocols: ["full", "joint"], runs: 3),
                            dataset: "/wang", rows: rows, pretexts: [], leaderboard: board, validation: "val/", pretextSawValid: true,
                            labelledImages: 32, validImages: 16, trainClasses: 20, validClasses: 10)
      return (CompareReport.markdown(r), CompareReport.html(r))
    }
    let random = [row("random", "random", 0, 0.60, 0.30), row("random", "random", 1, 0.62, 0.32), row("random", "random", 2, 0.61, 0.31)]
    let joint = [row("random", "joint", 0, 0.62, 0.40), row("random", "joint", 1, 0.63, 0.41), row("random", "joint", 2, 0.61, 0.42)]
    let full = [row("rotation", "full", 0, 0.60, 0.30), row("rotation", "full", 1, 0.61, 0.33), row("rotation", "full", 2, 0.62, 0.32)]
    let (md, html) = report(random + joint + full)
    let first = md.split(separator: "\n").dropFirst(1).first.map(String.init) ?? ""
    #expect(first.hasPrefix("**What the unlabelled images bought: +10.0 ± ") && first.contains("points of accuracy on val/'s 10 classes**"), "\(first)")
    #expect(first.contains("31.0 % → 41.0 %") && first.contains("beyond the run-to-run spread") && first.contains("joint from random init"), "\(first)")
    // The forest plot comes before the leaderboard; one length: no length chart or table.
    let forest = try #require(html.range(of: "Δ vs random init, val classes")), board = try #require(html.range(of: "<h2>Leaderboard"))
    #expect(forest.lowerBound < board.lowerBound && html.contains("random init, joint") && html.contains("rotation 2 ep, full"))
    #expect(!md.contains("against pretext length") && !html.contains("against pretext length"))
    #expect(report(random + joint + full, lengths: [1, 2]).0.contains("against pretext length"))
    // Nothing bought: said so, with the best row's (negative) difference.
    let worse = [row("random", "joint", 0, 0.50, 0.20), row("random", "joint", 1, 0.52, 0.22), row("random", "joint", 2, 0.51, 0.21)]
    let none = report(random + worse).0.split(separator: "\n").dropFirst(1).first.map(String.init) ?? ""
    #expect(none.hasPrefix("**The unlabelled images bought nothing here:**") && none.contains("-10.0 ± "), "\(none)")
  }

  /// The config of a run that never sets the semi-supervised options has the bytes it had before they existed.
  @Test func defaultOptionsLeaveConfigJSONAsItWas() throws {
    let text = String(decoding: try RunFolder.encoder().encode(StudyConfig.demo), as: UTF8.self)
    #expect(!text.contains("aux") && !text.contains("unlabelledBatch"))
    var c = StudyConfig.demo
    (c.downstream.semi.aux, c.downstream.semi.unlabelledBatch, c.downstream.semi.auxOnLabelled) = ("jigsaw", 96, true)
    let back = try JSONDecoder().decode(StudyConfig.self, from: try RunFolder.encoder().encode(c))
    #expect(back == c)
  }
}

/// `evaluate ARGS` straight, and again SIGKILLed after its first epoch and continued with `resume`, in separate processes
/// on one thread: the two end with equal losses per epoch and bit-identical classifiers. Returns both stages' results.
func killedAndResumed(_ tool: URL, _ args: [String], root: String, protocol p: String) throws -> (ScenarioResult, ScenarioResult) {
  let env = ["OMP_NUM_THREADS": "1"]
  func evaluate(_ out: String, kill: Bool) throws -> ToolRun {
    try runTool(tool, ["evaluate", "--protocol", p, "--out", root + "/" + out] + args, environment: env,
                killWhen: kill ? { $0.components(separatedBy: "train loss").count - 1 >= 1 } : nil)
  }
  let straight = try evaluate("a", kill: false)
  try #require(straight.status == 0, "\(straight.output)")
  let killed = try evaluate("b", kill: true)
  try #require(killed.killed, "not killed: \(killed.output)")
  let b = try DataParallelTests.runFolder(root + "/b", kind: "finetune")
  let resumed = try runTool(tool, ["resume", b], environment: env)
  try #require(resumed.status == 0, "\(resumed.output)")
  let a = try DataParallelTests.runFolder(root + "/a", kind: "finetune")
  let ra = try #require(try RunFolder.read(ScenarioResult.self, from: a + "/eval/\(p)/0/result.json"))
  let rb = try #require(try RunFolder.read(ScenarioResult.self, from: b + "/eval/\(p)/0/result.json"))
  #expect(ra.history.map(\.trainLoss) == rb.history.map(\.trainLoss))
  let (fa, fb) = (try SafeTensors.File(path: a + "/eval/\(p)/0/model.safetensors"), try SafeTensors.File(path: b + "/eval/\(p)/0/model.safetensors"))
  #expect(fa.names == fb.names)
  for name in fa.names { #expect(try fa.tensor(name).equal(fb.tensor(name)), "\(name) differs after resume") }
  return (ra, rb)
}

/// `evaluate --protocol joint`: killed and resumed, bit-identical to a run never stopped (both streams' draws are the
/// epoch's).
@Suite(.serialized) struct JointResumeTests {
  @Test func jointKilledAndResumedEqualsOneStraightRun() throws {
    let root = NSTemporaryDirectory() + "pretext-jointresume-\(UUID().uuidString)"
    defer { try? FileManager.default.removeItem(atPath: root) }
    try SyntheticImageWang(size: 32, trainPerClass: 3, validPerClass: 1, unsupCount: 40, seed: 5).write(to: root + "/data")
    let (ra, rb) = try killedAndResumed(try builtTool("pretext"), ["--data", root + "/data", "--size", "32", "--batch", "8", "--unlabelled-batch", "12",
                                                                   "--epochs", "3", "--widen", "0.125", "--workers", "2", "--precision", "fp32"],
                                        root: root, protocol: "joint")
    #expect(ra.history.map { $0.metrics["train_aux_loss"] } == rb.history.map { $0.metrics["train_aux_loss"] })
  }
}

/// `evaluate --protocol joint --nproc 2` against one process, with SyncBatchNorm: each rank takes its half of every
/// labelled and every unlabelled batch (in one process's order), so the two ranks train what one process does within the
/// float noise of a thread count: the gaps to one process are at most those between one process on 1 and on 2 threads
/// (or the fine-tune test's 1e-5 and 1e-4 where those are smaller). Measured: 2 ranks 4.6e-5 (losses) and 4.6e-4
/// (weights); 1 thread against 2, 2.2e-3 and 4.5e-3 (the rotation head's Ranger steps amplify rounding).
@Suite(.serialized) struct JointDataParallelTests {
  @Test func twoRanksTrainWhatOneProcessDoes() throws {
    let root = NSTemporaryDirectory() + "pretext-jointdp-\(UUID().uuidString)"
    defer { try? FileManager.default.removeItem(atPath: root) }
    try SyntheticImageWang(size: 32, trainPerClass: 4, validPerClass: 3, unsupCount: 40, seed: 4).write(to: root + "/data")
    let tool = try builtTool("pretext")
    func evaluate(_ out: String, _ extra: [String], threads: String = "2") throws -> String {
      let run = try runTool(tool, ["evaluate", "--protocol", "joint", "--data", root + "/data", "--out", root + "/" + out, "--size", "32",
                                   "--batch", "16", "--unlabelled-batch", "16", "--epochs", "2", "--widen", "0.125", "--workers", "1",
                                   "--seed", "3", "--sync-batchnorm", "--precision", "fp32"] + extra, environment: ["OMP_NUM_THREADS": threads])
      try #require(run.status == 0, "\(run.output)")
      return try DataParallelTests.runFolder(root + "/" + out, kind: "finetune") + "/eval/joint/0"
    }
    func gaps(_ a: String, _ b: String) throws -> (losses: Double, weights: Double) {
      let ha = try #require(try RunFolder.read(ScenarioResult.self, from: a + "/result.json")).history
      let hb = try #require(try RunFolder.read(ScenarioResult.self, from: b + "/result.json")).history
      try #require(ha.count == 2 && hb.count == 2)
      let aux = zip(ha, hb).map { Swift.abs($0.metrics["train_aux_loss"]! - $1.metrics["train_aux_loss"]!) / $0.metrics["train_aux_loss"]! }.max()!
      return (Swift.max(DataParallelTests.lossGap(ha, hb), aux), try DataParallelTests.weightGap(a + "/model.safetensors", b + "/model.safetensors"))
    }
    let (one, two, oneThread) = (try evaluate("one", []), try evaluate("two", ["--nproc", "2"]), try evaluate("one-thread", [], threads: "1"))
    let (ranks, threads) = (try gaps(one, two), try gaps(one, oneThread))
    print("JointDataParallelTests: largest relative gaps (losses incl. the auxiliary loss; weights): 2 ranks vs 1 process \(ranks); 1 thread vs 2 in one process \(threads)")
    #expect(ranks.losses <= Swift.max(1e-5, threads.losses) && ranks.weights <= Swift.max(1e-4, threads.weights), "ranks \(ranks), threads \(threads)")
  }
}
