import Foundation
import Testing
import TestSupport
@testable import ImageData
@testable import Study
@testable import Torch
import Training

/// `pretext pretrain` data-parallel through the CLI: `--nproc 2` against one process, and a run whose rank 0 is
/// killed, then resumed on 2 ranks. Separate processes on loopback (Gloo).
@Suite(.serialized) struct DataParallelTests {
  /// Which engine carries CUDA tensors (PRETEXT_DIST_BACKEND) and which GPU a rank takes: init_process_group's
  /// default (NCCL where built and each rank has a GPU of its own, else Gloo), `nccl` insisting with the reason
  /// when it cannot, and `--device cuda` meaning rank r's GPU r only when data-parallel.
  @Test func theCollectivesEngineAndEachRanksGPU() throws {
    #expect(try Parallel.ncclDevice(.auto, localRank: 1, hasNCCL: true, cudaDevices: 4) == 1)
    #expect(try Parallel.ncclDevice(.auto, localRank: 4, hasNCCL: true, cudaDevices: 4) == nil)
    #expect(try Parallel.ncclDevice(.auto, localRank: 0, hasNCCL: false, cudaDevices: 4) == nil)
    #expect(try Parallel.ncclDevice(.auto, localRank: 0, hasNCCL: true, cudaDevices: 0) == nil)
    #expect(try Parallel.ncclDevice(.gloo, localRank: 0, hasNCCL: true, cudaDevices: 4) == nil)
    #expect(try Parallel.ncclDevice(.nccl, localRank: 3, hasNCCL: true, cudaDevices: 4) == 3)
    #expect { try Parallel.ncclDevice(.nccl, localRank: 0, hasNCCL: false, cudaDevices: 4) } throws: { "\($0)".contains("no NCCL") }
    #expect { try Parallel.ncclDevice(.nccl, localRank: 2, hasNCCL: true, cudaDevices: 2) } throws: { "\($0)".contains("LOCAL_RANK 2 has no GPU") }
    #expect(Parallel.device("cuda", localRank: 3, dataParallel: true) == .cuda(3))
    #expect(Parallel.device("cuda", localRank: 3, dataParallel: false) == .cuda(0))
    #expect(Parallel.device("cuda:1", localRank: 3, dataParallel: true) == .cuda(1))
    #expect(Parallel.device("cpu", localRank: 3, dataParallel: true) == .cpu)
  }

  static func pretrainArguments(_ data: String, out: String, epochs: Int) -> [String] {
    ["pretrain", "--data", data, "--out", out, "--pretext-size", "32", "--pretext-batch", "16", "--pretext-epochs", "\(epochs)",
     "--widen", "0.125", "--workers", "1", "--seed", "3", "--sync-batchnorm", "--precision", "fp32"]
  }

  static func runFolder(_ out: String, kind: String = "pretrain") throws -> String {
    let found = try FileManager.default.contentsOfDirectory(atPath: out).filter { $0.hasPrefix(kind + "-") }
    try #require(found.count == 1, "\(found)")
    return out + "/" + found[0]
  }

  static func history(_ run: String) throws -> [EpochRecord] {
    try #require(try RunFolder.read(PretextResult.self, from: run + "/pretext/inpainting/result.json")).history
  }

  /// The largest |a − b| over every float tensor of two weight files, relative to the largest |a| in the file
  /// (per-tensor ratios are meaningless for BatchNorm biases still near 0, where Ranger's normalised steps turn
  /// rounding differences into visible relative ones).
  static func weightGap(_ a: String, _ b: String) throws -> Double {
    let ta = try SafeTensors.File(path: a).tensors(), tb = Dictionary(uniqueKeysWithValues: try SafeTensors.File(path: b).tensors().map { ($0.0, $0.1) })
    var gap = 0.0, scale = 1e-12
    for (name, x) in ta where x.dtype == .float32 {
      let y = try #require(tb[name])
      scale = Swift.max(scale, try x.abs().max().item().doubleValue)
      gap = Swift.max(gap, try (x - y).abs().max().item().doubleValue)
    }
    return gap / scale
  }

  /// `arguments` on two ranks launched as torchrun would (loopback rendezvous, one thread each, the group's timeout
  /// `timeout` seconds), rank 0 killed when its output satisfies `killRankZeroWhen`; both runs, each within 120 s.
  static func twoLaunchedRanks(_ tool: URL, _ arguments: [String], timeout: Int, killRankZeroWhen: (@Sendable (String) -> Bool)? = nil) throws
    -> (ToolRun, ToolRun)
  {
    let port = try freeLoopbackPort()
    let kills: [(@Sendable (String) -> Bool)?] = [killRankZeroWhen, nil]
    nonisolated(unsafe) var results = [Result<ToolRun, Error>?](repeating: nil, count: 2)
    DispatchQueue.concurrentPerform(iterations: 2) { r in
      let env = ["RANK": "\(r)", "WORLD_SIZE": "2", "LOCAL_RANK": "\(r)", "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": "\(port)",
                 "OMP_NUM_THREADS": "1", "PRETEXT_DIST_TIMEOUT": "\(timeout)"]
      results[r] = Result { try runTool(tool, arguments, environment: env, timeout: 120, killWhen: kills[r]) }
    }
    return (try results[0]!.get(), try results[1]!.get())
  }

  static func lossGap(_ a: [EpochRecord], _ b: [EpochRecord]) -> Double {
    zip(a, b).flatMap { x, y in [Swift.abs(x.trainLoss - y.trainLoss) / x.trainLoss, Swift.abs(x.validLoss! - y.validLoss!) / x.validLoss!] }.max() ?? .infinity
  }

  /// A pretext task at the 1e-5: rotation (a classifier on the pooled backbone, SyncBatchNorm, Ranger), one
  /// epoch, 2 ranks × half batches against 1 process: the epoch's train and validation losses and every weight
  /// within 1e-5 relative. Over more epochs this task's training amplifies float-order differences whoever makes
  /// them: 1 process on 1 thread against 2 threads drifts to 4.5e-3 by epoch 2, as 2 ranks do (NOTES.md, "Distributed").
  @Test func aPretextTasksFirstEpochOnTwoRanksIsOneProcesssWithin1e5() throws {
    let root = NSTemporaryDirectory() + "pretext-dp-rot-\(UUID().uuidString)"
    try SyntheticImageWang(size: 32, trainPerClass: 2, validPerClass: 2, unsupCount: 40, seed: 3).write(to: root + "/data")
    let tool = try builtTool("pretext")
    let args = Self.pretrainArguments(root + "/data", out: root + "/one", epochs: 1) + ["--task", "rotation"]
    let one = try runTool(tool, args, environment: ["OMP_NUM_THREADS": "2"])
    try #require(one.status == 0, "\(one.output)")
    // Launched as torchrun launches them: rank 0 alone prints the run's lines (the others' standard output is
    // quiet, as `--nproc` makes it), and no rank prints the Reducer's stride warning for the channels-last model.
    let (r0, r1) = try Self.twoLaunchedRanks(tool, Self.pretrainArguments(root + "/data", out: root + "/two", epochs: 1) + ["--task", "rotation"],
                                             timeout: 60)
    try #require(r0.status == 0 && r1.status == 0, "rank 0: \(r0.output)\nrank 1: \(r1.output)")
    #expect(r0.output.contains("encoder: ") && r0.output.contains("epoch 1 ") && !r1.output.contains("encoder: ") && !r1.output.contains("epoch 1 "),
            "rank 0: \(r0.output)\nrank 1: \(r1.output)")
    #expect(!(r0.output + r1.output).contains("Grad strides do not match"), "rank 0: \(r0.output)\nrank 1: \(r1.output)")
    let (a, b) = (try Self.runFolder(root + "/one"), try Self.runFolder(root + "/two"))
    func history(_ run: String) throws -> [EpochRecord] {
      try #require(try RunFolder.read(PretextResult.self, from: run + "/pretext/rotation/result.json")).history
    }
    let losses = Self.lossGap(try history(a), try history(b))
    let weights = try Self.weightGap(a + "/pretext/rotation/encoder.safetensors", b + "/pretext/rotation/encoder.safetensors")
    print("DataParallelTests rotation, 1 epoch: losses \(losses), weights \(weights)")
    #expect(losses < 1e-5 && weights < 1e-5, "losses \(losses), weights \(weights)")
  }

  /// With SyncBatchNorm, 2 ranks × half of each batch train what 1 process × the whole batch does: per-epoch train
  /// and validation losses within 5e-4 relative (3 epochs of Ranger, float sums in another order: measured 7e-5
  /// with one all-reduce after the backward, 1.3e-4 with DDP's Reducer;
  /// without SyncBatchNorm the gap is 7e-3), the weights within 5e-3 of the model's largest weight (measured 6e-4); one run folder, written by rank 0. Killing rank 0 in epoch 2 makes rank 1 exit
  /// non-zero well within the collective timeout; `resume --nproc 2` then finishes what the straight run did.
  @Test func twoRanksTrainWhatOneProcessDoesAndResumeAfterARankDies() throws {
    let root = NSTemporaryDirectory() + "pretext-dp-\(UUID().uuidString)"
    try SyntheticImageWang(size: 32, trainPerClass: 2, validPerClass: 2, unsupCount: 40, seed: 3).write(to: root + "/data")
    let tool = try builtTool("pretext")
    let one = try runTool(tool, Self.pretrainArguments(root + "/data", out: root + "/one", epochs: 3), environment: ["OMP_NUM_THREADS": "2"])
    try #require(one.status == 0, "\(one.output)")
    let two = try runTool(tool, Self.pretrainArguments(root + "/data", out: root + "/two", epochs: 3) + ["--nproc", "2"])
    try #require(two.status == 0, "\(two.output)")
    #expect(two.output.contains("data-parallel: 2 ranks"), "\(two.output)")
    let (a, b) = (try Self.runFolder(root + "/one"), try Self.runFolder(root + "/two"))
    let (ha, hb) = (try Self.history(a), try Self.history(b))
    #expect(ha.count == 3 && hb.count == 3)
    let losses = Self.lossGap(ha, hb), weights = try Self.weightGap(a + "/pretext/inpainting/unet.safetensors", b + "/pretext/inpainting/unet.safetensors")
    print("DataParallelTests: 2 ranks vs 1 process, largest relative gap: losses \(losses), weights \(weights)")
    #expect(losses < 5e-4 && weights < 5e-3, "losses \(losses), weights \(weights)")

    // Two ranks launched as torchrun would; rank 0 (the writer, hosting the store) killed once epoch 1 is logged.
    let start = Date()
    let (r0, r1) = try Self.twoLaunchedRanks(tool, Self.pretrainArguments(root + "/data", out: root + "/killed", epochs: 3), timeout: 30,
                                             killRankZeroWhen: { $0.contains("epoch 1 ") })
    #expect(r0.killed, "\(r0.output)")
    #expect(r1.status != 0 && !r1.timedOut, "rank 1 after rank 0 died: \(r1.output)")
    #expect(Date().timeIntervalSince(start) < 60)
    let killed = try Self.runFolder(root + "/killed")
    #expect(!FileManager.default.fileExists(atPath: killed + "/pretext/inpainting/result.json"))
    let resumed = try runTool(tool, ["resume", killed, "--nproc", "2"])
    try #require(resumed.status == 0, "\(resumed.output)")
    let hk = try Self.history(killed)
    #expect(hk.count == 3 && Self.lossGap(ha, hk) < 5e-4, "straight \(ha.map(\.trainLoss)), resumed \(hk.map(\.trainLoss))")
    // Rank 1 made no file of its own (one TensorBoard event file, rank 0's).
    #expect(try FileManager.default.contentsOfDirectory(atPath: b + "/pretext/inpainting/tensorboard").count == 1)
  }

  /// The supervised fine-tune, data-parallel: `evaluate --protocol discriminative` (a phased fit: the head alone
  /// with the body frozen but its BatchNorm training, then everything at lr/100…lr, so DDP's Reducer is remade
  /// when the trainable set grows) on 2 ranks × half batches against one process, with SyncBatchNorm: per-epoch
  /// losses within 1e-5 relative (measured 1.8e-6), the final classifier weights within 1e-4 of the largest
  /// weight (measured 1.1e-5: Ranger's normalised steps on BatchNorm biases near 0), accuracies equal.
  @Test func theFineTuneTrainsWhatOneProcessDoes() throws {
    let root = NSTemporaryDirectory() + "pretext-dpft-\(UUID().uuidString)"
    defer { try? FileManager.default.removeItem(atPath: root) }
    try SyntheticImageWang(size: 32, trainPerClass: 4, validPerClass: 3, unsupCount: 20, seed: 4).write(to: root + "/data")
    let tool = try builtTool("pretext")
    let pre = try runTool(tool, Self.pretrainArguments(root + "/data", out: root + "/pre", epochs: 1), environment: ["OMP_NUM_THREADS": "2"])
    try #require(pre.status == 0, "\(pre.output)")
    let encoder = try Self.runFolder(root + "/pre") + "/pretext/inpainting/encoder.safetensors"
    func evaluate(_ out: String, _ extra: [String]) throws -> String {
      let run = try runTool(tool, ["evaluate", "--protocol", "discriminative", "--encoder", encoder, "--data", root + "/data", "--out", root + "/" + out,
                                   "--size", "32", "--batch", "16", "--epochs", "3", "--head-epochs", "1", "--widen", "0.125", "--workers", "1",
                                   "--seed", "3", "--sync-batchnorm", "--precision", "fp32"] + extra, environment: ["OMP_NUM_THREADS": "2"])
      try #require(run.status == 0, "\(run.output)")
      return try Self.runFolder(root + "/" + out, kind: "finetune") + "/eval/discriminative/0"
    }
    let (one, two) = (try evaluate("one", []), try evaluate("two", ["--nproc", "2"]))
    let ha = try #require(try RunFolder.read(ScenarioResult.self, from: one + "/result.json")).history
    let hb = try #require(try RunFolder.read(ScenarioResult.self, from: two + "/result.json")).history
    #expect(ha.count == 3 && hb.count == 3)
    let losses = Self.lossGap(ha, hb), weights = try Self.weightGap(one + "/model.safetensors", two + "/model.safetensors")
    let accuracy = zip(ha, hb).map { Swift.abs($0.metrics["accuracy"]! - $1.metrics["accuracy"]!) }.max()!
    print("DataParallelTests fine-tune: 2 ranks vs 1 process, largest relative gap: losses \(losses), weights \(weights); accuracy \(accuracy)")
    #expect(losses < 1e-5 && weights < 1e-4, "losses \(losses), weights \(weights)")
    #expect(accuracy <= 1.0 / 30 + 1e-9, "at most one of val/'s 30 images may flip (accuracy gap \(accuracy))")
    #expect(try FileManager.default.contentsOfDirectory(atPath: two + "/tensorboard").count == 1)
  }
}

/// `pretext compare` data-parallel: every stage (the pretext with its kNN monitor, the fine-tunes, the cached
/// probe, kNN) on 2 ranks against one process, one leaderboard written by rank 0, and a rerun on 2 ranks that
/// finds every stage finished and trains nothing.
@Suite(.serialized) struct DataParallelCompareTests {
  @Test func aComparisonOnTwoRanksIsOneProcesssAndReusesItsStages() throws {
    let root = NSTemporaryDirectory() + "pretext-dpcmp-\(UUID().uuidString)"
    defer { try? FileManager.default.removeItem(atPath: root) }
    try SyntheticImageWang(size: 32, trainPerClass: 4, validPerClass: 3, unsupCount: 20, seed: 4).write(to: root + "/data")
    let tool = try builtTool("pretext")
    let args = ["compare", "--data", root + "/data", "--size", "32", "--pretext-size", "32", "--batch", "16", "--pretext-batch", "16",
                "--epochs", "2", "--pretext-epochs", "1", "--widen", "0.125", "--workers", "1", "--seed", "3", "--sync-batchnorm",
                "--precision", "fp32", "--tasks", "rotation", "--protocols", "full", "knn", "linear", "--runs", "2", "--cache-features",
                "--knn-every", "1"]
    let one = try runTool(tool, args + ["--run", root + "/one"], environment: ["OMP_NUM_THREADS": "2"])
    try #require(one.status == 0, "\(one.output)")
    let two = try runTool(tool, args + ["--run", root + "/two", "--nproc", "2"])
    try #require(two.status == 0, "\(two.output)")
    #expect(two.output.contains("data-parallel: 2 ranks"), "\(two.output)")
    let a = try #require(try RunFolder.read(CompareResult.self, from: root + "/one/results.json"))
    let b = try #require(try RunFolder.read(CompareResult.self, from: root + "/two/results.json"))
    // random init, random-weights kNN and random-weights linear 2 each; rotation: full 2, linear 2, kNN 1
    #expect(a.rows.count == b.rows.count && a.rows.count == 11)
    for (x, y) in zip(a.rows, b.rows) {
      #expect(x.task == y.task && x.protocol == y.protocol && x.run == y.run)
      // kNN and the probe on cached features see the same features; a fine-tune may flip one of val/'s 30 images.
      let tolerance = ["knn", "linear"].contains(x.protocol) ? 1e-9 : 1.0 / 30 + 1e-9
      #expect(Swift.abs(x.finalAccuracy - y.finalAccuracy) <= tolerance, "\(x) vs \(y)")
    }
    // The pretext (with its kNN monitor on each rank's part of the sample) and one fine-tune, epoch by epoch.
    let (pa, pb) = (a.pretexts[0].history, b.pretexts[0].history)
    let pretextGap = DataParallelTests.lossGap(pa, pb)
    #expect(pretextGap < 1e-4, "pretext \(pa.map(\.trainLoss)) vs \(pb.map(\.trainLoss))")
    #expect(pa.map { $0.metrics["knn_accuracy"] } == pb.map { $0.metrics["knn_accuracy"] } && pa[0].metrics["knn_accuracy"] != nil)
    let stage = "/eval/rotation-1ep/full/1/result.json"
    let fa = try #require(try RunFolder.read(ScenarioResult.self, from: root + "/one" + stage)).history
    let fb = try #require(try RunFolder.read(ScenarioResult.self, from: root + "/two" + stage)).history
    let fineTuneGap = DataParallelTests.lossGap(fa, fb)
    print("DataParallelCompareTests: 2 ranks vs 1 process, largest relative loss gap: pretext \(pretextGap), fine-tune \(fineTuneGap)")
    #expect(fineTuneGap < 1e-3, "fine-tune \(fa.map(\.trainLoss)) vs \(fb.map(\.trainLoss))")
    // Rank 1 wrote nothing of its own: one TensorBoard event file per stage folder.
    let boards = try FileManager.default.subpathsOfDirectory(atPath: root + "/two").filter { $0.hasSuffix("/tensorboard") }
    #expect(boards.count == 9)  // random init 2, random-weights linear 2, rotation: pretext 1, full 2, linear 2
    for board in boards { #expect(try FileManager.default.contentsOfDirectory(atPath: root + "/two/" + board).count == 1, "\(board)") }
    // Both ranks find every stage finished and agree: nothing runs, the same leaderboard.
    let again = try runTool(tool, args + ["--run", root + "/two", "--nproc", "2"])
    try #require(again.status == 0, "\(again.output)")
    #expect(!again.output.contains(": running"), "\(again.output)")
    #expect(try String(contentsOfFile: root + "/two/leaderboard.csv", encoding: .utf8).split(separator: "\n").map { $0.split(separator: ",").prefix(9) }
            == (try String(contentsOfFile: root + "/one/leaderboard.csv", encoding: .utf8)).split(separator: "\n").map { $0.split(separator: ",").prefix(9) })
    // Launched as torchrun would, with other settings: rank 0 refuses the folder, and rank 1 is told at once
    // instead of waiting out the group's timeout (60 s here) for a collective rank 0 never joins.
    var changed = args
    changed[changed.firstIndex(of: "--seed")! + 1] = "4"
    let other = changed + ["--run", root + "/two"]
    let start = Date()
    let (r0, r1) = try DataParallelTests.twoLaunchedRanks(tool, other, timeout: 60)
    #expect(r0.status != 0 && r0.output.contains("other settings") && r0.output.contains("seed"), "\(r0.output)")
    #expect(r1.status != 0 && r1.output.contains("rank 0 could not open --run"), "\(r1.output)")
    #expect(Date().timeIntervalSince(start) < 40, "the ranks took \(Date().timeIntervalSince(start)) s to give up")
  }
}
