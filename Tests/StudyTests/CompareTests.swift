import Foundation
import ImageData
import Testing
import TestSupport

@testable import Study

@Suite struct LeaderboardTests {
  func row(_ task: String, _ epochs: Int, _ p: String, _ run: Int, _ acc: Double, _ among: Double) -> ResultRow {
    ResultRow(task: task, pretextEpochs: epochs, protocol: p, run: run, finalAccuracy: acc, bestAccuracy: acc,
              finalAccuracyAmongValidClasses: among, epochs: p == "knn" ? 0 : 4, seconds: 2)
  }

  /// Means, sample stds, Student-t intervals, deltas against random init and Welch's interval of the delta, by
  /// hand: both groups have std 0.05 over 3 runs, so the delta's standard error is √(2 · 0.05² / 3) on 4 degrees of freedom.
  @Test func statisticsAndColumns() throws {
    let rows = [
      row("random", 0, "random", 0, 0.20, 0.30), row("random", 0, "random", 1, 0.30, 0.40), row("random", 0, "random", 2, 0.25, 0.35),
      row("simclr", 5, "linear", 0, 0.30, 0.50), row("simclr", 5, "linear", 1, 0.35, 0.45), row("simclr", 5, "linear", 2, 0.40, 0.55),
      row("simclr", 5, "knn", 0, 0.10, 0.20),
    ]
    let board = Leaderboard.rows(rows, pretextSeconds: { t, e in t == "simclr" && e == 5 ? 12.5 : 0 },
                                 imagesSeen: { _, e in 64 * e }, labelledImages: 60)
    #expect(board.map { "\($0.task)/\($0.protocol)" } == ["simclr/linear", "random/random", "simclr/knn"])  // best first
    let b = board[0]
    #expect(abs(b.meanAccuracy - 0.35) < 1e-12 && abs(b.stdAccuracy - 0.05) < 1e-12 && b.runs == 3)
    let h = 4.303 * 0.05 / 3.0.squareRoot()
    #expect(abs(b.ci95Low - (0.35 - h)) < 1e-9 && abs(b.ci95High - (0.35 + h)) < 1e-9)
    #expect(abs(b.deltaVsRandom - 0.10) < 1e-12 && abs(b.deltaVsRandomValClasses - 0.15) < 1e-12)
    #expect(abs(b.deltaCI95 - 2.776 * (2 * 0.0025 / 3).squareRoot()) < 1e-9)
    #expect(b.pretextSeconds == 12.5 && b.pretextImagesSeen == 320 && b.labelledImages == 60 && b.downstreamEpochs == 4)
    let knn = board[2]
    #expect(knn.runs == 1 && knn.ci95Low.isNaN && knn.deltaCI95.isNaN && abs(knn.deltaVsRandom + 0.15) < 1e-12)
    let csv = Leaderboard.csv(board).split(separator: "\n").map(String.init)
    #expect(csv[0].hasPrefix("task,pretext_epochs,protocol,runs,mean_accuracy,std_accuracy,ci95_low,ci95_high,delta_vs_random,pretext_seconds,mean_accuracy_val_classes,delta_vs_random_val_classes,"))
    #expect(csv[1].hasPrefix("simclr,5,linear,3,0.350000,0.050000,"))
    #expect(csv[3].contains(",nan,nan,"))
    // A multi-task spec has commas: quoted.
    #expect(Leaderboard.field("inpainting:1,rotation:0.5") == "\"inpainting:1,rotation:0.5\"")
    #expect(abs(Leaderboard.t975(4) - 2.776) < 1e-12 && abs(Leaderboard.t975(4.5) - (2.776 + 2.571) / 2) < 1e-12)
    #expect(abs(Leaderboard.t975(60) - 2.000) < 0.003)
  }

  /// The labelled images (few-label and tuning split included) do not depend on the task being compared.
  @Test func everyTaskGetsTheSameLabelledImages() throws {
    let root = NSTemporaryDirectory() + "pretext-labels-\(UUID().uuidString)"
    defer { try? FileManager.default.removeItem(atPath: root) }
    try SyntheticImageWang(size: 16, trainPerClass: 10, validPerClass: 2, unsupCount: 4, seed: 1).write(to: root)
    let data = try ImageWangLayout(root: root)
    var base = StudyConfig()
    (base.data.labelFraction, base.data.tuningSplit) = (0.2, 0.2)
    let sets = ["inpainting", "simclr", "rotation:1,jigsaw:1"].map { configFor(base, task: $0, epochs: 3).downstreamData(data) }
    #expect(sets.allSatisfy { $0.train.paths == sets[0].train.paths && $0.valid.paths == sets[0].valid.paths })
    #expect(sets[0].train.count == 40 && Set(sets[0].train.labels).count == 20)  // 8 per class left after the split, 0.2 of them: 2
  }
}

@Suite struct CompareHarnessTests {
  /// `pretext compare` killed in its pretext, run again: the finished random-init stages are read back untouched
  /// and the pretext continues; run once more with one more task: only that task's stages run; with other base
  /// settings the folder is refused, naming them; with `--pretext-runs 2` only the second pretext and its runs train.
  @Test func finishedStagesAreReusedAfterAKillAndWhenATaskIsAdded() throws {
    let tool = try builtTool("pretext")
    let root = NSTemporaryDirectory() + "pretext-compare-\(UUID().uuidString)"
    defer { try? FileManager.default.removeItem(atPath: root) }
    try SyntheticImageWang(size: 32, trainPerClass: 2, validPerClass: 2, unsupCount: 40, seed: 5).write(to: root + "/data")
    let tiny = ["--data", root + "/data", "--run", root + "/cmp", "--pretext-epochs", "1,2", "--protocols", "knn", "linear", "--runs", "2",
                "--size", "32", "--pretext-size", "32", "--batch", "16", "--pretext-batch", "16", "--epochs", "2", "--widen", "0.125",
                "--workers", "2"]
    let killed = try runTool(tool, ["compare", "--tasks", "rotation"] + tiny, killWhen: { out in
      out.range(of: "pretext rotation").map { out[$0.upperBound...].contains("epoch 1 ") } ?? false
    })
    #expect(killed.killed, "\(killed.output)")
    let randomResult = root + "/cmp/eval/random/random/1/result.json"
    func stamp(_ path: String) throws -> (Data, Date) {
      (try Data(contentsOf: URL(fileURLWithPath: path)), try FileManager.default.attributesOfItem(atPath: path)[.modificationDate] as! Date)
    }
    let before = try stamp(randomResult)
    #expect(!FileManager.default.fileExists(atPath: root + "/cmp/pretext/rotation-2ep/result.json"))

    let resumed = try runTool(tool, ["compare", "--tasks", "rotation"] + tiny)
    #expect(resumed.status == 0, "\(resumed.output)")
    #expect(resumed.output.contains("random random run 2: reused") && resumed.output.contains("random knn run 2: reused"))
    #expect(resumed.output.contains("rotation, 2 epochs (encoder kept after 1, 2): running"))
    #expect(try stamp(randomResult) == before)
    let rotationResult = root + "/cmp/eval/rotation-1ep/linear/0/result.json"
    let rotationBefore = try stamp(rotationResult)
    let csv = try String(contentsOfFile: root + "/cmp/leaderboard.csv", encoding: .utf8)
    #expect(csv.contains("\nrotation,1,linear,2,") && csv.contains("\nrotation,2,knn,1,") && csv.contains("\nrandom,0,random,2,"))

    let extended = try runTool(tool, ["compare", "--tasks", "rotation", "inpainting"] + tiny)
    #expect(extended.status == 0, "\(extended.output)")
    let ran = extended.output.split(separator: "\n").filter { $0.hasSuffix(": running") }
    #expect(!ran.isEmpty && ran.allSatisfy { $0.contains("inpainting") }, "\(ran)")
    #expect(try stamp(randomResult) == before && stamp(rotationResult) == rotationBefore)
    let board = try String(contentsOfFile: root + "/cmp/leaderboard.csv", encoding: .utf8)
    #expect(board.contains("\ninpainting,2,linear,2,") && board.contains("\nrotation,2,linear,2,"))
    #expect(FileManager.default.fileExists(atPath: root + "/cmp/pretext/inpainting-2ep/encoder-1ep.safetensors"))
    #expect(FileManager.default.fileExists(atPath: root + "/cmp/report.html"))

    // A second pretext per task (its own seed): only it and the runs it serves (run 1 of 2) are trained; pretext 0
    // and its run 0 are read back; the kNN row now has one run per pretext encoder.
    let twoPretexts = try runTool(tool, ["compare", "--tasks", "rotation", "--pretext-runs", "2"] + tiny)
    #expect(twoPretexts.status == 0, "\(twoPretexts.output)")
    let ranNow = twoPretexts.output.split(separator: "\n").filter { $0.hasSuffix(": running") }
    #expect(ranNow.count == 5 && ranNow.allSatisfy { $0.contains("-p1 ") || $0.contains("2 of 2") }, "\(ranNow)")
    #expect(twoPretexts.output.contains("rotation-1ep linear run 1: reused") && twoPretexts.output.contains("rotation-1ep-p1 linear run 2: running"))
    #expect(try stamp(rotationResult) == rotationBefore)
    let encoders = try ["rotation-2ep", "rotation-2ep-p1"].map { try Data(contentsOf: URL(fileURLWithPath: root + "/cmp/pretext/\($0)/encoder.safetensors")) }
    #expect(encoders[0] != encoders[1])
    let twoBoard = try String(contentsOfFile: root + "/cmp/leaderboard.csv", encoding: .utf8)
    #expect(twoBoard.contains("\nrotation,1,linear,2,") && twoBoard.contains("\nrotation,2,knn,2,"), "\(twoBoard)")
    #expect(try String(contentsOfFile: root + "/cmp/report.md", encoding: .utf8).contains("2 pretexts per task"))
    let tooMany = try runTool(tool, ["compare", "--tasks", "rotation", "--pretext-runs", "3"] + tiny)
    #expect(tooMany.status != 0 && tooMany.output.contains("--pretext-runs must be between 1 and --runs"), "\(tooMany.output)")

    let other = try runTool(tool, ["compare", "--tasks", "rotation"] + tiny + ["--lr", "0.001"])
    #expect(other.status != 0 && other.output.contains("lr: 0.008 → 0.001"), "\(other.output)")
  }
}
