import Foundation
import Testing
import TestSupport
@testable import ImageData
@testable import Study
@testable import Torch

@Suite struct ResumeTests {
  /// `pretext experiment` straight vs. the same experiment SIGKILLed twice (in the pretext, then in the
  /// second fit of the discriminative scenario) and continued each time with `pretext resume`: the same
  /// accuracies and bit-identical weights. Separate processes, one libtorch thread, so both are deterministic.
  @Test func experimentKilledTwiceAndResumedEqualsOneStraightRun() throws {
    let root = NSTemporaryDirectory() + "pretext-resume-\(UUID().uuidString)"
    try SyntheticImageWang(size: 32, trainPerClass: 2, validPerClass: 1, unsupCount: 30, seed: 3).write(to: root + "/data")
    let tool = try builtTool("pretext")
    let env = ["OMP_NUM_THREADS": "1"]
    func experiment(_ out: String, killAfterEpochs: Int? = nil) throws -> ToolRun {
      let args = ["experiment", "--data", root + "/data", "--out", out, "--pretext-size", "32", "--size", "32", "--widen", "0.125",
                  "--batch", "8", "--pretext-batch", "8", "--epochs", "3", "--head-epochs", "1", "--pretext-epochs", "2", "--runs", "1", "--workers", "1"]
      return try runTool(tool, args, environment: env, killWhen: killAfterEpochs.map { n in { epochLines($0) >= n } })
    }
    func epochLines(_ s: String) -> Int { s.components(separatedBy: "train loss").count - 1 }
    func runFolder(_ out: String) throws -> String {
      let found = try FileManager.default.contentsOfDirectory(atPath: out).filter { $0.hasPrefix("experiment-") }
      try #require(found.count == 1, "\(found)")
      return out + "/" + found[0]
    }

    let straight = try experiment(root + "/a")
    try #require(straight.status == 0, "\(straight.output)")
    let a = try runFolder(root + "/a")

    // Killed after the pretext's first epoch.
    let first = try experiment(root + "/b", killAfterEpochs: 1)
    try #require(first.killed, "not killed: \(first.output)")
    let b = try runFolder(root + "/b")
    #expect(!FileManager.default.fileExists(atPath: b + "/pretext/inpainting/result.json"))
    // Resumed, and killed after the first epoch of the discriminative scenario's second fit: pretext 1 more
    // epoch, random 3, head 3, discriminative head 1 + 1.
    let second = try runTool(tool, ["resume", b], environment: env, killWhen: { epochLines($0) >= 9 })
    try #require(second.killed, "not killed: \(second.output)")
    for done in ["pretext/inpainting/result.json", "eval/random/0/result.json", "eval/head/0/result.json",
                 "eval/discriminative/0/checkpoint.safetensors"] {
      #expect(FileManager.default.fileExists(atPath: b + "/" + done), "\(done) missing after the second run")
    }
    #expect(!FileManager.default.fileExists(atPath: b + "/eval/discriminative/0/result.json"))
    let third = try runTool(tool, ["resume", b], environment: env)
    try #require(third.status == 0, "\(third.output)")
    #expect(epochLines(third.output) == 1)  // only the discriminative scenario's last epoch was left

    let ra = try JSONDecoder().decode(ExperimentResult.self, from: Data(contentsOf: URL(fileURLWithPath: a + "/results.json")))
    let rb = try JSONDecoder().decode(ExperimentResult.self, from: Data(contentsOf: URL(fileURLWithPath: b + "/results.json")))
    #expect(ra.pretextHistory.map(\.validLoss) == rb.pretextHistory.map(\.validLoss))
    #expect(ra.scenarios.map(\.scenario) == rb.scenarios.map(\.scenario))
    for (x, y) in zip(ra.scenarios, rb.scenarios) {
      #expect(x.history.map(\.trainLoss) == y.history.map(\.trainLoss), "\(x.scenario)")
      #expect(x.history.map { $0.metrics["accuracy"] } == y.history.map { $0.metrics["accuracy"] }, "\(x.scenario)")
    }
    for file in ["pretext/inpainting/encoder.safetensors", "pretext/inpainting/unet.safetensors", "eval/random/0/model.safetensors",
                 "eval/head/0/model.safetensors", "eval/discriminative/0/model.safetensors"] {
      let fa = try SafeTensors.File(path: a + "/" + file), fb = try SafeTensors.File(path: b + "/" + file)
      #expect(fa.names == fb.names, "\(file)")
      for name in fa.names { #expect(try fa.tensor(name).equal(fb.tensor(name)), "\(file): \(name) differs after resume") }
    }
    // The resumed scenario's CSV log holds all 3 epochs (head + 2), numbered through both phases, although the
    // run was killed after its checkpoint and before its log line.
    let csv = try String(contentsOfFile: b + "/eval/discriminative/0/log.csv", encoding: .utf8)
    #expect(csv.split(separator: "\n").dropFirst().map { $0.split(separator: ",")[0] } == ["1", "2", "3"], "\(csv)")
  }

  @Test func resumeOfAFolderThatIsNotARunSaysSo() throws {
    let dir = NSTemporaryDirectory() + "pretext-notarun-\(UUID().uuidString)"
    try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    #expect { try resumeRun(dir) } throws: { "\($0)".contains("no config.json") }
    try RunFolder.write(StudyConfig.demo, to: dir + "/config.json")
    #expect { try resumeRun(dir) } throws: { "\($0)".contains("no run.json") }
    try Data("{".utf8).write(to: URL(fileURLWithPath: dir + "/run.json"))
    #expect { try resumeRun(dir) } throws: { "\($0)".contains("run.json") && "\($0)".contains("not a valid") }
  }
}

@Suite struct SelectionTests {
  /// The config's caps pick the same first images of each class every time, and keep the vocabulary.
  @Test func capsSelectTheFirstImagesOfEachClass() throws {
    let root = NSTemporaryDirectory() + "pretext-caps-\(UUID().uuidString)"
    try SyntheticImageWang(size: 16, trainPerClass: 3, validPerClass: 2, unsupCount: 9, seed: 4).write(to: root)
    let full = try ImageWangLayout(root: root)
    var config = StudyConfig()
    (config.data.maxTrainPerClass, config.data.maxValidPerClass, config.data.maxUnsup) = (2, 1, 5)
    let used = config.select(full)
    #expect(used.train.count == 2 * 20 && used.valid.count == 10 && used.unsup?.count == 5)
    #expect(used.train.classes == full.train.classes)
    #expect(used.train.countsPerClass().allSatisfy { $0.1 == 2 })
    #expect(Set(used.train.paths).isSubset(of: full.train.paths) && used.unsup!.paths == Array(full.unsup!.paths.prefix(5)))
    for (p, l) in zip(used.train.paths, used.train.labels) { #expect(full.train.labels[full.train.paths.firstIndex(of: p)!] == l) }
    #expect(config.select(used).train.paths == used.train.paths)  // idempotent
    #expect(StudyConfig().select(full).train.count == full.train.count)  // no caps: everything
  }
}
