// One rank of DistributedTests: joins the group from the launcher's environment and runs the collectives,
// printing what each gave (the test compares across ranks). `dist-check die`: rank 1 exits right after the
// rendezvous, and rank 0's next collective must fail within the timeout. `dist-check train MODEL OUT`: a
// small supervised fit (MODEL plain: convs without BatchNorm; bn: xresnet18 × 0.125; syncbn: the same with
// SyncBatchNorm across the ranks; a `-cl` suffix: model and inputs channels-last), data-parallel when the
// environment names a group, else one process; prints the per-step losses (averaged over ranks), writes
// the final weights (rank 0). DIST_SYNC picks how gradients travel (overlapped: DDP's Reducer, the default;
// after-backward), DIST_BUCKET_BYTES the Reducer's bucket size. `dist-check ntxent`: SimCLR's NT-Xent on each
// rank's rows of one seeded batch with every rank's embeddings gathered, against the whole batch's loss and
// gradient computed alone on each rank (8 rows, then 7: uneven across 2 ranks). DIST_DEVICE=cuda (a GPU machine, a
// build with NCCL): the collectives and `die` on each rank's own GPU (LOCAL_RANK's), through NCCL.
import Foundation
import NN
import SelfSupervised
import Torch
import Training

let mode = CommandLine.arguments.dropFirst().first ?? "collectives"

func train(_ kind: String, out: String) throws {
  Runtime.threadCount = 1
  let env = try DistributedEnvironment.fromEnvironment()
  let group = try env.map { try ProcessGroup($0, timeout: 60) }
  Runtime.manualSeed(UInt64(7 + (env?.rank ?? 0)))  // different init per rank: the broadcast must even it out
  // KIND-cl: the model and its inputs channels-last (the study's default layout), whose 1×1 convolutions' gradients
  // come with channels-last strides.
  let channelsLast = kind.hasSuffix("-cl")
  let kind = channelsLast ? String(kind.dropLast(3)) : kind
  let model: Module = kind == "bn" || kind == "syncbn"
    ? try XResNet(.resnet18, inChannels: 1, classes: 2, widen: 0.125)
    : Sequential(try Conv2d(1, 8, kernelSize: 3, stride: 2, padding: 1), ReLU(), try Conv2d(8, 16, kernelSize: 3, stride: 2, padding: 1),
                 ReLU(), AdaptiveAvgPool2d(), Flatten(), try Linear(16, 2))
  if kind == "syncbn" { model.useSyncBatchNorm(group) }
  var (x, y) = try syntheticBars(count: 256, seed: 3)
  if channelsLast {
    try model.to(memoryFormat: .channelsLast)
    x = try x.contiguous(.channelsLast)
  }
  let environment = ProcessInfo.processInfo.environment
  let sync = try environment["DIST_SYNC"].map {
    guard let s = DataParallel.GradientSync(rawValue: $0) else { throw TorchError(operation: "dist-check", message: "DIST_SYNC=\($0)?") }
    return s
  } ?? .overlapped
  let parallel = group.map { DataParallel(group: $0, sync: sync, bucketBytes: environment["DIST_BUCKET_BYTES"].flatMap(Int.init) ?? 25 << 20) }
  let learner = Learner(
    model: model, train: TensorBatches(inputs: x, targets: y, batchSize: 32, shuffle: true, seed: 5, shard: group?.shard),
    loss: { try crossEntropy($0, $1) }, optimizer: SGD(groups: ParamGroup.single(model, lr: 0.05, momentum: 0.9)),
    callbacks: parallel.map { [$0] } ?? [])
  try learner.fit(FitPlan(epochs: 2, lr: .value(0.05)))
  if let parallel { print("sync \(parallel.sync.rawValue) buckets \(parallel.lastBucketCount.map(String.init) ?? "-")") }
  let losses = try Tensor(learner.batchLosses)
  if let group {
    try group.allReduceSum([losses])
    try losses.mul_(.float(1 / Double(group.worldSize)))
  }
  print("losses " + (try losses.toArray(of: Double.self)).map { String(format: "%.9f", $0) }.joined(separator: " "))
  if (env?.rank ?? 0) == 0 { try model.save(to: out) }
}

do {
  if mode == "train" {
    let args = Array(CommandLine.arguments.dropFirst(2))
    try train(args.first ?? "plain", out: args.dropFirst().first ?? "weights.safetensors")
    exit(0)
  }
  guard let env = try DistributedEnvironment.fromEnvironment() else { print("no distributed environment"); exit(2) }
  let timeout = Double(ProcessInfo.processInfo.environment["DIST_TIMEOUT_S"] ?? "") ?? 30
  let onGPU = ProcessInfo.processInfo.environment["DIST_DEVICE"] == "cuda"
  let group = try ProcessGroup(env, timeout: timeout, ncclDevice: onGPU ? env.localRank : nil)
  let device: Device = onGPU ? .cuda(env.localRank) : .cpu
  if onGPU { print("rank \(group.rank): NCCL on \(device)") }
  let r = Double(group.rank + 1)
  if mode == "die" {
    try group.barrier()
    if group.rank == 1 { print("rank 1 exits"); exit(0) }
    let start = Date()
    do {
      let t = try Tensor.ones([4]).to(device)
      try group.allReduceSum([t])
      _ = try t.to(.cpu)  // NCCL's wait only orders the stream: the host waits here
      print("rank 0: allreduce with a dead peer returned")
      exit(1)
    } catch {
      print(String(format: "rank 0: failed after %.1f s: %@", Date().timeIntervalSince(start), "\(error)"))
      exit(3)
    }
  }
  if mode == "ntxent" {
    for rows in [8, 7] {
      Runtime.manualSeed(11)
      let (z0, z1) = (try Tensor.randn([rows, 5]).requiringGrad(), try Tensor.randn([rows, 5]).requiringGrad())
      let whole = try ntXentLoss(z0, z1, temperature: 0.5)
      try whole.backward()
      let part = shardRange(start: 0, count: rows, rank: group.rank, of: group.worldSize)
      let mine = (try z0.detach().narrow(dim: 0, start: part.lowerBound, length: part.count).requiringGrad(),
                  try z1.detach().narrow(dim: 0, start: part.lowerBound, length: part.count).requiringGrad())
      let local = try ntXentLoss(mine.0, mine.1, temperature: 0.5, group: group)
      try local.backward()
      // Each rank's loss is the mean over its own queries: weighted by its rows, the ranks' losses are the whole
      // batch's (also with uneven rows: the gather pads and trims).
      let weighted = try (local.detach() * Double(part.count) / Double(rows)).reshape([1])
      try group.allReduceSum([weighted])
      let lossGap = Swift.abs(try weighted.item().doubleValue - whole.item().doubleValue)
      // With even rows each rank's gradient, averaged as DDP does (÷ W), is its rows' part of the whole batch's.
      var gradGap = 0.0
      for (g, full) in [(mine.0.grad!, z0.grad!), (mine.1.grad!, z1.grad!)] where rows % group.worldSize == 0 {
        let expected = try full.narrow(dim: 0, start: part.lowerBound, length: part.count)
        gradGap = Swift.max(gradGap, try (g / Double(group.worldSize) - expected).abs().max().item().doubleValue)
      }
      print(String(format: "rank %d ntxent rows %d of %d loss gap %.3g gradient gap %.3g", group.rank, part.count, rows, lossGap, gradGap))
      // SwAV's Sinkhorn balanced over every rank's rows: each rank's codes are its rows of the whole batch's.
      let scores = try Tensor.randn([rows, 6])
      let codes = try sinkhorn(scores.narrow(dim: 0, start: part.lowerBound, length: part.count), iterations: 3, epsilon: 0.05, group: group)
      let expected = try sinkhorn(scores, iterations: 3, epsilon: 0.05).narrow(dim: 0, start: part.lowerBound, length: part.count)
      print(String(format: "rank %d sinkhorn rows %d of %d codes gap %.3g", group.rank, part.count, rows,
                   try (codes - expected).abs().max().item().doubleValue))
    }
    exit(0)
  }
  let a = try (Tensor.ones([3]) * r).to(device), b = try (Tensor.ones([2, 2]) * (10 * r)).to(device)
  try group.allReduceSum([a, b])  // two tensors: each summed across ranks, not across the list
  let c = try (group.rank == 0 ? Tensor.arange(0, 6, dtype: .float32) : Tensor.zeros([6])).to(device)
  try group.broadcast([c])
  let g = try group.allGather(try (Tensor.ones([2]) * r).to(device))
  try group.barrier()
  func values(_ t: Tensor) throws -> [Float] { try t.to(.cpu).contiguous().toArray(of: Float.self) }
  print("rank \(group.rank)/\(group.worldSize) allreduce \(try values(a)) \(try values(b)) broadcast \(try values(c)) allgather \(try values(g))")
} catch {
  print("rank error: \(error)")
  exit(1)
}
