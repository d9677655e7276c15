import Foundation
import Testing
import TestSupport
@testable import Torch

/// c10d through the shim: two `dist-check` processes form a Gloo group on loopback. Also the check that the
/// Gloo headers the shim is built against (Debian's libgloo-dev) agree with the wheel's build: a layout
/// mismatch would show here as wrong sums, a crash or a hang, not as a compile error.
@Suite(.serialized) struct DistributedTests {
  /// Runs `dist-check MODE` as ranks 0 and 1 at once (torchrun's variables), returns each rank's run.
  static func twoRanks(_ mode: String, _ extra: [String] = [], timeout: Double = 10) throws -> [ToolRun] {
    let tool = try builtTool("dist-check")
    let port = String(Int.random(in: 20000..<40000))
    nonisolated(unsafe) var runs = [ToolRun?](repeating: nil, count: 2)
    nonisolated(unsafe) var errors: [Error] = []
    let lock = NSLock()
    DispatchQueue.concurrentPerform(iterations: 2) { r in
      do {
        let run = try runTool(tool, [mode] + extra, environment: ["RANK": "\(r)", "WORLD_SIZE": "2", "LOCAL_RANK": "\(r)", "MASTER_ADDR": "127.0.0.1",
                                                        "MASTER_PORT": port, "DIST_TIMEOUT_S": "\(timeout)", "OMP_NUM_THREADS": "1"],
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

  static func losses(_ run: ToolRun) -> [Double] {
    (run.output.split(separator: "\n").last { $0.hasPrefix("losses ") } ?? "").split(separator: " ").dropFirst().compactMap { Double($0) }
  }

  /// The largest |a − b| of any tensor of two weight files, relative to that tensor's largest |a|.
  static func weightDifference(_ a: String, _ b: String) throws -> Double {
    let ta = try SafeTensors.File(path: a).tensors(), tb = Dictionary(uniqueKeysWithValues: try SafeTensors.File(path: b).tensors().map { ($0.0, $0.1) })
    var worst = 0.0
    for (name, x) in ta {
      let y = try #require(tb[name])
      let scale = Swift.max(try x.abs().max().item().doubleValue, 1e-12)
      worst = Swift.max(worst, try (x - y).abs().max().item().doubleValue / scale)
    }
    return worst
  }

  /// DDP's promise: 2 processes × half the batch train the weights 1 process × the whole batch does (the
  /// loader shards each batch, the gradients are averaged). With BatchNorm each rank normalises by its own
  /// half-batch's statistics (PyTorch's default without SyncBatchNorm), so the runs differ from the first step;
  /// with SyncBatchNorm the statistics are the whole batch's, and the 2-rank run is the 1-process BatchNorm run.
  @Test func twoRanksOfHalfBatchesTrainWhatOneProcessDoes() throws {
    let dir = NSTemporaryDirectory() + "pretext-ddp-\(UUID().uuidString)"
    try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    let tool = try builtTool("dist-check")
    var oneRuns: [String: ToolRun] = [:]
    for kind in ["plain", "bn", "syncbn"] {
      // One process has no group: its SyncBatchNorm is plain BatchNorm, so "syncbn" is compared with that run.
      let oneKind = kind == "syncbn" ? "bn" : kind
      if kind != "syncbn" {
        let one = try runTool(tool, ["train", kind, dir + "/one-\(kind).safetensors"], environment: ["OMP_NUM_THREADS": "1"], timeout: 300)
        try #require(one.status == 0, "\(one.output)")
        oneRuns[kind] = one
      }
      let one = try #require(oneRuns[oneKind])
      let two = try Self.twoRanks("train", [kind, dir + "/two-\(kind).safetensors"], timeout: 60)
      for run in two { try #require(run.status == 0, "\(run.output)") }
      let (l1, l2) = (Self.losses(one), Self.losses(two[0]))
      #expect(l1.count == 16 && l2.count == 16 && Self.losses(two[1]) == l2)
      let lossGap = zip(l1, l2).map { Swift.abs($0 - $1) / Swift.abs($0) }.max() ?? .infinity
      let weightGap = try Self.weightDifference(dir + "/one-\(oneKind).safetensors", dir + "/two-\(kind).safetensors")
      if kind != "bn" {
        #expect(lossGap < 1e-5 && weightGap < 1e-5, "losses \(lossGap), weights \(weightGap)")
      } else {
        #expect(lossGap > 1e-3, "BatchNorm on half batches should change the losses (\(lossGap))")
      }
      print("DistributedTests \(kind): largest relative gap, losses \(lossGap), weights \(weightGap)")
    }
  }
}
