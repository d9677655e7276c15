import Foundation
import Testing
import TestSupport
@testable import Torch

/// c10d through the shim: two `dist-check` processes form a Gloo group on loopback. Also the check that the
/// Gloo headers the shim is built against (Debian's libgloo-dev) agree with the wheel's build: a layout
/// mismatch would show here as wrong sums, a crash or a hang, not as a compile error.
@Suite(.serialized) struct DistributedTests {
  /// Runs `dist-check MODE` as ranks 0 and 1 at once (torchrun's variables), returns each rank's run.
  static func twoRanks(_ mode: String, _ extra: [String] = [], timeout: Double = 10, environment: [String: String] = [:]) throws -> [ToolRun] {
    let tool = try builtTool("dist-check")
    let port = String(Int.random(in: 20000..<40000))
    nonisolated(unsafe) var runs = [ToolRun?](repeating: nil, count: 2)
    nonisolated(unsafe) var errors: [Error] = []
    let lock = NSLock()
    DispatchQueue.concurrentPerform(iterations: 2) { r in
      do {
        let run = try runTool(tool, [mode] + extra, environment: ["RANK": "\(r)", "WORLD_SIZE": "2", "LOCAL_RANK": "\(r)", "MASTER_ADDR": "127.0.0.1",
                                                        "MASTER_PORT": port, "DIST_TIMEOUT_S": "\(timeout)", "OMP_NUM_THREADS": "1"]
                                .merging(environment) { $1 },
                              timeout: 120)
        lock.withLock { runs[r] = run }
      } catch { lock.withLock { errors.append(error) } }
    }
    if let e = errors.first { throw e }
    return runs.map { $0! }
  }

  static func lastLine(_ run: ToolRun) -> String {
    run.output.split(separator: "\n").last { $0.hasPrefix("rank") }.map(String.init) ?? ""
  }

  @Test func collectivesGiveTheCrossRankResults() throws {
    let runs = try Self.twoRanks("collectives")
    for (r, run) in runs.enumerated() {
      #expect(run.status == 0, "rank \(r): \(run.output)")
      #expect(Self.lastLine(run) == "rank \(r)/2 allreduce [3.0, 3.0, 3.0] [30.0, 30.0, 30.0, 30.0] broadcast [0.0, 1.0, 2.0, 3.0, 4.0, 5.0] allgather [1.0, 1.0, 2.0, 2.0]",
              "rank \(r): \(run.output)")
    }
  }

  /// The differentiable all-gather under SimCLR's NT-Xent: 2 ranks holding 4 + 4 rows of one batch give the
  /// whole batch's loss (their mean) and gradient (each rank's ÷ 2, as DDP averages); holding 4 + 3 rows (the
  /// gather pads and trims) their losses weighted by rows are the whole batch's. SwAV's Sinkhorn balanced across
  /// the ranks gives each rank its rows of the whole batch's codes (even and uneven rows).
  @Test func crossRankNTXentAndSinkhornAreTheWholeBatchs() throws {
    for run in try Self.twoRanks("ntxent") {
      try #require(run.status == 0, "\(run.output)")
      let lines = run.output.split(separator: "\n").filter { $0.contains(" ntxent ") }
      #expect(lines.count == 2)
      for line in lines {
        let gaps = line.split(separator: " ").compactMap { Double($0) }.suffix(2)
        #expect(gaps.count == 2 && gaps.allSatisfy { $0 < 1e-6 }, "\(line)")
        print("DistributedTests: \(line)")
      }
      let sinkhorn = run.output.split(separator: "\n").filter { $0.contains(" sinkhorn ") }
      #expect(sinkhorn.count == 2)
      for line in sinkhorn {
        #expect((Double(line.split(separator: " ").last ?? "") ?? .infinity) < 1e-5, "\(line)")
        print("DistributedTests: \(line)")
      }
    }
  }

  @Test func aDeadRankMakesTheOtherFailWithinTheTimeout() throws {
    let start = Date()
    let runs = try Self.twoRanks("die", timeout: 10)
    #expect(runs[1].status == 0 && runs[1].output.contains("rank 1 exits"))
    #expect(runs[0].status == 3 && Self.lastLine(runs[0]).contains("rank 0: failed after"), "\(runs[0].output)")
    #expect(!runs[0].timedOut && Date().timeIntervalSince(start) < 60)
  }

  @Test func theEnvironmentIsReadAsTorchrunAndSlurmWriteIt() throws {
    #expect(try DistributedEnvironment.fromEnvironment([:]) == nil)
    #expect(try DistributedEnvironment.fromEnvironment(["WORLD_SIZE": "1", "RANK": "0"]) == nil)
    let t = try #require(try DistributedEnvironment.fromEnvironment(["RANK": "3", "WORLD_SIZE": "4", "LOCAL_RANK": "1", "MASTER_ADDR": "node7",
                                                                      "MASTER_PORT": "29400", "TORCHELASTIC_USE_AGENT_STORE": "True"]))
    #expect(t == DistributedEnvironment(rank: 3, worldSize: 4, localRank: 1, masterAddress: "node7", masterPort: 29400, externalStore: true))
    let s = try #require(try DistributedEnvironment.fromEnvironment(["SLURM_PROCID": "5", "SLURM_NTASKS": "8", "SLURM_LOCALID": "1",
                                                                      "MASTER_ADDR": "gpu01", "MASTER_PORT": "12345"]))
    #expect(s.rank == 5 && s.worldSize == 8 && s.localRank == 1 && s.masterAddress == "gpu01" && !s.externalStore)
    #expect { try DistributedEnvironment.fromEnvironment(["WORLD_SIZE": "2"]) } throws: { "\($0)".contains("no RANK") }
    #expect { try DistributedEnvironment.fromEnvironment(["WORLD_SIZE": "2", "RANK": "2"]) } throws: { "\($0)".contains("not below") }
    #expect { try DistributedEnvironment.fromEnvironment(["WORLD_SIZE": "2", "RANK": "x"]) } throws: { "\($0)".contains("RANK=x") }
  }

  /// NCCL is asked for only where the shim has it: on a CPU build the group refuses at once, saying so, before any
  /// rendezvous (no store is started, nothing waits).
  @Test func nCCLIsRefusedWhereTheShimHasNone() throws {
    let env = DistributedEnvironment(rank: 0, worldSize: 2, localRank: 0, masterPort: Int.random(in: 40000..<50000))
    if ProcessGroup.hasNCCL {
      // A CUDA build: without a GPU the group still cannot bind NCCL to device 0, and says so instead of hanging.
      if !Runtime.cudaIsAvailable {
        #expect(throws: TorchError.self) { try ProcessGroup(env, timeout: 1, ncclDevice: 0) }
      }
    } else {
      let start = Date()
      #expect { try ProcessGroup(env, timeout: 30, ncclDevice: 0) } throws: { "\($0)".contains("NCCL") && "\($0)".contains("PRETEXT_CUDA=1") }
      #expect(Date().timeIntervalSince(start) < 5)
    }
  }

  static func losses(_ run: ToolRun) -> [Double] {
    (run.output.split(separator: "\n").last { $0.hasPrefix("losses ") } ?? "").split(separator: " ").dropFirst().compactMap { Double($0) }
  }

  /// The largest |a − b| of any tensor of two weight files, relative to the largest |a| of all of them (a
  /// tensor's own scale is no measure for BatchNorm biases still near 0: 1e-6 apart is then 4e-4 "relative").
  static func weightDifference(_ a: String, _ b: String) throws -> Double {
    let ta = try SafeTensors.File(path: a).tensors(), tb = Dictionary(uniqueKeysWithValues: try SafeTensors.File(path: b).tensors().map { ($0.0, $0.1) })
    var worst = 0.0, scale = 1e-12
    for (name, x) in ta where x.dtype.isFloatingPoint {
      let y = try #require(tb[name])
      scale = Swift.max(scale, try x.abs().max().item().doubleValue)
      worst = Swift.max(worst, try (x - y).abs().max().item().doubleValue)
    }
    return worst / scale
  }

  /// A channels-last xresnet (the study's layout) has 1×1 convolutions whose weights keep contiguous strides while
  /// their gradients come channels-last: the same bytes, but the Reducer compared strides, warned "Grad strides do
  /// not match bucket view strides" on every rank and copied those gradients. The shim gives such weights the
  /// channels-last strides of their own bytes before the Reducer is built (small buckets here: several of them).
  /// The run trains, and no rank prints the warning.
  @Test func aChannelsLastModelsPointwiseGradientsFitTheReducersBuckets() throws {
    let dir = NSTemporaryDirectory() + "pretext-ddp-cl-\(UUID().uuidString)"
    try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(atPath: dir) }
    let two = try Self.twoRanks("train", ["syncbn-cl", dir + "/two.safetensors"], timeout: 60, environment: ["DIST_BUCKET_BYTES": "1024"])
    for (r, run) in two.enumerated() {
      try #require(run.status == 0, "rank \(r): \(run.output)")
      #expect(!run.output.contains("Grad strides do not match"), "rank \(r): \(run.output)")
    }
    let losses = Self.losses(two[0])
    #expect(losses.count == 16 && losses.allSatisfy(\.isFinite) && losses.suffix(4).max()! < losses.prefix(4).min()!, "\(losses)")
  }

  /// DDP's promise: 2 processes × half the batch train the weights 1 process × the whole batch does (the
  /// loader shards each batch, the gradients are averaged), whether the gradients travel in DDP's Reducer
  /// (overlapped with the backward; 1 KiB buckets here, so the gradients travel in several buckets, each reduced
  /// while the backward goes on) or in one all-reduce after it. With BatchNorm each rank normalises by its own
  /// half-batch's statistics (PyTorch's default without SyncBatchNorm), so the runs differ from the first step;
  /// with SyncBatchNorm the statistics are the whole batch's, and the 2-rank run is the 1-process BatchNorm run.
  @Test(arguments: [("plain", "overlapped", "1024"), ("plain", "after-backward", ""), ("bn", "overlapped", ""),
                    ("syncbn", "overlapped", "1024"), ("syncbn", "after-backward", "")])
  func twoRanksOfHalfBatchesTrainWhatOneProcessDoes(_ kind: String, _ sync: String, _ bucketBytes: String) throws {
    let dir = NSTemporaryDirectory() + "pretext-ddp-\(UUID().uuidString)"
    try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(atPath: dir) }
    let tool = try builtTool("dist-check")
    // One process has no group: its SyncBatchNorm is plain BatchNorm, so "syncbn" is compared with that run.
    let oneKind = kind == "syncbn" ? "bn" : kind
    let one = try runTool(tool, ["train", oneKind, dir + "/one.safetensors"], environment: ["OMP_NUM_THREADS": "1"], timeout: 300)
    try #require(one.status == 0, "\(one.output)")
    var environment = ["DIST_SYNC": sync]
    if !bucketBytes.isEmpty { environment["DIST_BUCKET_BYTES"] = bucketBytes }
    let two = try Self.twoRanks("train", [kind, dir + "/two.safetensors"], timeout: 60, environment: environment)
    for run in two { try #require(run.status == 0, "\(run.output)") }
    let (l1, l2) = (Self.losses(one), Self.losses(two[0]))
    #expect(l1.count == 16 && l2.count == 16 && Self.losses(two[1]) == l2)
    let lossGap = zip(l1, l2).map { Swift.abs($0 - $1) / Swift.abs($0) }.max() ?? .infinity
    let weightGap = try Self.weightDifference(dir + "/one.safetensors", dir + "/two.safetensors")
    if kind != "bn" {
      #expect(lossGap < 1e-5 && weightGap < 1e-5, "losses \(lossGap), weights \(weightGap)")
    } else {
      #expect(lossGap > 1e-3, "BatchNorm on half batches should change the losses (\(lossGap))")
    }
    let buckets = two[0].output.split(separator: "\n").last { $0.hasPrefix("sync ") }.map(String.init) ?? ""
    if sync == "overlapped" && bucketBytes == "1024" {
      // Small buckets: the Reducer really split the gradients (a bucket closes once it passes 1 KiB).
      let count = Int(buckets.split(separator: " ").last ?? "") ?? 0
      #expect(count > 1, "\(buckets)")
    }
    print("DistributedTests \(kind) \(sync): largest relative gap, losses \(lossGap), weights \(weightGap); \(buckets)")
  }
}
