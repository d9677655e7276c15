// The command line parsed in-process: which command a line makes, with which settings, and what is refused (with
// the flag named) before anything runs. The end-to-end behaviour of the commands is tested in StudyTests by
// running the built tool.
import ArgumentParser
import Foundation
import Testing
import TestSupport
@testable import PretextCLI
@testable import SelfSupervised
@testable import Study

@Suite struct ParseTests {
  /// The error message `pretext` would print for `arguments` (nil: they parse).
  static func refusal(_ arguments: [String]) -> String? {
    do { _ = try Pretext.parseAsRoot(arguments); return nil } catch { return Pretext.message(for: error) }
  }

  @Test func everyCommandParsesAndTheDataParallelOnesSaySo() throws {
    let dp: [String: Bool] = ["compare": true, "experiment": true, "pretrain": true, "evaluate": true, "knn": true, "resume": true,
                              "data": false, "show": false, "tasks": false, "predict": false]
    let lines = ["compare": ["compare"], "experiment": ["experiment"], "pretrain": ["pretrain"], "evaluate": ["evaluate"],
                 "knn": ["knn", "--encoder", "random"], "resume": ["resume", "RUN"], "data": ["data", "synth", "/nonexistent/new"],
                 "show": ["show", "RUN"], "tasks": ["tasks"], "predict": ["predict", "--model", "m", "a.png"]]
    for (name, line) in lines {
      let command = try Pretext.parseAsRoot(line)
      #expect((command is DataParallelCommand) == dp[name]!, "\(name)")
    }
  }

  @Test func finetuneIsEvaluatesOlderSpelling() throws {
    let encoder = NSTemporaryDirectory() + "pretext-parse-\(UUID().uuidString).safetensors"
    FileManager.default.createFile(atPath: encoder, contents: Data([0]))
    defer { try? FileManager.default.removeItem(atPath: encoder) }
    func scenario(_ line: [String]) throws -> Scenario { try #require(try Pretext.parseAsRoot(line) as? EvaluateCommand).scenario }
    #expect(try scenario(["finetune"]) == .random)
    #expect(try scenario(["finetune", "--init", "random", "--mode", "full"]) == .random)
    #expect(try scenario(["finetune", "--init-from", encoder, "--mode", "head"]) == .head)
    #expect(try scenario(["finetune", "--init-from", encoder]) == .full)
    #expect(try scenario(["evaluate", "--protocol", "lpft", "--encoder", encoder]) == .lpft)
    #expect(Self.refusal(["evaluate", "--protocol", "full"])?.contains("--encoder") == true)
    #expect(Self.refusal(["evaluate", "--protocol", "random", "--encoder", encoder])?.contains("random weights") == true)
    // The choices are listed when one is wrong.
    let bogus = Self.refusal(["evaluate", "--protocol", "bogus"])
    #expect(bogus?.contains("discriminative") == true && bogus?.contains("lpft") == true, "\(bogus ?? "")")
  }

  @Test func badSettingsAreRefusedNamingTheFlag() throws {
    for (line, flag) in [(["compare", "--nproc=-1"], "--nproc"), (["resume", "RUN", "--nproc=-2"], "--nproc"), (["pretrain", "--batch", "1"], "--batch"),
                         (["compare", "--tasks", "colorization", "--channels", "1"], "colorization"),
                         (["evaluate", "--protocol", "discriminative", "--encoder", "random", "--epochs", "2", "--head-epochs", "2"], "--encoder"),
                         (["pretrain", "--task", "rotation:1e-300"], "rotation"), (["compare", "--protocols", "knn", "bogus"], "bogus")] {
      let message = Self.refusal(line)
      #expect(message?.contains(flag) == true, "\(line): \(message ?? "parsed")")
    }
    // A task's own flag with no task that reads it: refused, naming the flag and the tasks that do read it.
    for (line, flag) in [(["pretrain", "--task", "rotation", "--cutout-size", "3-7"], "--cutout-size"),
                         (["compare", "--tasks", "simclr", "rotation", "--swav-queue", "64"], "--swav-queue"),
                         (["experiment", "--task", "jigsaw", "--unet-skips", "none"], "--unet-skips"),
                         (["evaluate", "--cutout-fill", "noise"], "--cutout-fill")] {
      let message = Self.refusal(line)
      #expect(message?.contains(flag) == true && message?.contains("inpainting") == true || message?.contains("swav") == true, "\(line): \(message ?? "parsed")")
    }
    // The semi-supervised flags without a semi-supervised protocol: refused, naming the flag.
    for (line, flag) in [(["evaluate", "--aux", "jigsaw"], "--aux"), (["compare", "--protocols", "full", "--unlabelled-batch", "32"], "--unlabelled-batch"),
                         (["pretrain", "--aux-on-labelled"], "--aux-on-labelled"), (["evaluate", "--protocol", "joint", "--aux", "rotaton"], "rotaton")] {
      let message = Self.refusal(line)
      #expect(message?.contains(flag) == true, "\(line): \(message ?? "parsed")")
    }
    // `joint` runs from random init without an encoder, and its flags reach the config.
    let joint = try #require(try Pretext.parseAsRoot(["evaluate", "--protocol", "joint", "--aux", "rotation:0.5,jigsaw:1", "--unlabelled-batch", "96",
                                                      "--aux-on-labelled"]) as? EvaluateCommand)
    try joint.validate()
    let semi = try joint.options.config().downstream.semi
    #expect(joint.encoderFile == nil && semi.aux == "rotation:0.5,jigsaw:1" && semi.unlabelledBatch == 96 && semi.auxOnLabelled)
    _ = try Pretext.parseAsRoot(["compare", "--protocols", "full", "joint", "--aux", "jigsaw"])
    _ = try Pretext.parseAsRoot(["compare", "--tasks", "rotation", "inpainting:1,rotation:1", "--cutout-size", "3-7"])  // one task reads it
    _ = try Pretext.parseAsRoot(["compare", "--unet-skips", "none"])  // the demo preset's tasks are U-Net tasks
    // A DICOM window with a negative centre is a value, not a flag.
    let compare = try #require(try Pretext.parseAsRoot(["compare", "--dicom-window", "-600,1500"]) as? CompareCommand)
    #expect(try compare.options.config().data.dicomWindow == [-600, 1500])
  }

  @Test func settingsReachTheConfig() throws {
    let command = try #require(try Pretext.parseAsRoot(["pretrain", "--task", "inpainting", "--cutout-size", "3-7", "--widen", "0.5",
                                                         "--pretext-epochs", "4", "--precision", "fp32"]) as? PretrainCommand)
    let c = try command.options.config()
    #expect(c.pretext.inpainting.cutoutSize == [3, 7] && c.widen == 0.5 && c.pretext.epochs == 4 && c.runtime.precision == .fp32)
    // The kNN protocol's vote: `--knn-k` in any command, `--k` (its older spelling) in `knn`, not both.
    let compare = try #require(try Pretext.parseAsRoot(["compare", "--knn-k", "5", "--knn-temperature", "0.1"]) as? CompareCommand)
    #expect(try compare.options.config().downstream.knnK == 5 && compare.options.config().downstream.knnTemperature == 0.1)
    let knn = try #require(try Pretext.parseAsRoot(["knn", "--encoder", "random", "--k", "3"]) as? KNNCommand)
    #expect(try knn.config().downstream.knnK == 3)
    #expect(Self.refusal(["knn", "--encoder", "random", "--k", "3", "--knn-k", "4"])?.contains("older spelling") == true)
  }

  /// docs/CLI.md is what scripts/docs/cli-md.sh makes from the built tool's `--help`: it cannot go stale unnoticed.
  @Test func theCommittedCLIPageIsTheToolsOwnHelp() throws {
    let root = repositoryRoot()
    let out = NSTemporaryDirectory() + "pretext-cli-\(UUID().uuidString).md"
    defer { try? FileManager.default.removeItem(atPath: out) }
    let r = try runTool(URL(fileURLWithPath: "/bin/bash"), [root + "/scripts/docs/cli-md.sh", out],
                        environment: ["PRETEXT_TOOL": try builtTool("pretext").path])
    try #require(r.status == 0, "\(r.output)")
    let made = try String(contentsOfFile: out, encoding: .utf8), committed = try String(contentsOfFile: root + "/docs/CLI.md", encoding: .utf8)
    #expect(made == committed, "docs/CLI.md is stale: run scripts/docs/cli-md.sh")
  }
}
