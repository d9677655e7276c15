// Data-parallel train-step throughput: xresnet34 (classifier, 20 classes) on random images, SGD with momentum,
// cross-entropy, through the Learner with the DataParallel callback when the launcher's environment names a
// group (RANK/WORLD_SIZE/MASTER_ADDR/MASTER_PORT, as torchrun sets them), else one process. BATCH is the global
// batch: each rank takes BATCH / WORLD_SIZE. benchmarks/dist/dist_bench.py runs PyTorch DDP (Gloo) the same way.
// Prints (rank 0): global images/s from the median timed step<TAB>fastest step's images/s<TAB>gradient buckets.
// Usage: dist-bench SIZE BATCH STEPS [overlapped|after-backward]   (BENCH_WIDEN=w: xresnet34 × w; the first 3
//        steps warm up and are not timed; threads from OMP_NUM_THREADS, default 1)
import Foundation
import NN
import Torch
import Training

/// Seconds of each training batch (beforeBatch → afterBatch).
final class StepTimer: Callback {
  var started: UInt64 = 0
  var seconds: [Double] = []
  func on(_ event: Event, _ learner: Learner) throws {
    switch event {
    case .beforeBatch where learner.isTrainingPhase: started = DispatchTime.now().uptimeNanoseconds
    case .afterBatch where learner.isTrainingPhase: seconds.append(Double(DispatchTime.now().uptimeNanoseconds - started) / 1e9)
    default: break
    }
  }
}

let a = CommandLine.arguments
do {
  guard a.count >= 4, let size = Int(a[1]), let batch = Int(a[2]), let steps = Int(a[3]) else {
    print("usage: dist-bench SIZE BATCH STEPS [overlapped|after-backward]")
    exit(2)
  }
  let sync = a.count > 4 ? DataParallel.GradientSync(rawValue: a[4]) : .overlapped
  guard let sync else { print("dist-bench: unknown gradient sync '\(a[4])'"); exit(2) }
  Runtime.threadCount = Int(ProcessInfo.processInfo.environment["OMP_NUM_THREADS"] ?? "1") ?? 1
  Runtime.cacheCPUMemoryUnlessDisabled()  // as `pretext` does
  let env = try DistributedEnvironment.fromEnvironment()
  let group = try env.map { try ProcessGroup($0, timeout: 120) }
  let world = group?.worldSize ?? 1
  guard batch % world == 0 else { print("dist-bench: batch \(batch) does not divide across \(world) ranks"); exit(2) }
  Runtime.manualSeed(0)
  let widen = Double(ProcessInfo.processInfo.environment["BENCH_WIDEN"] ?? "1") ?? 1
  let model = try XResNet(.resnet34, classes: 20, widen: widen)
  try model.to(memoryFormat: .channelsLast)
  let warmup = 3, total = steps + warmup
  let x = try Tensor.rand([batch * total, 3, size, size]), y = try Tensor.randint(0, 20, [batch * total])
  let timer = StepTimer()
  let parallel = group.map { DataParallel(group: $0, sync: sync) }
  let learner = Learner(
    model: model, train: TensorBatches(inputs: try x.contiguous(.channelsLast), targets: y, batchSize: batch, shuffle: false, seed: 0,
                                       shard: group?.shard),
    loss: { try crossEntropy($0, $1) }, optimizer: SGD(groups: ParamGroup.single(model, lr: 0.01, momentum: 0.9)),
    callbacks: (parallel.map { [$0] } ?? []) + [timer])
  try learner.fit(FitPlan(epochs: 1, lr: .value(0.01)))
  let timed = Array(timer.seconds.dropFirst(warmup)).sorted()
  if (group?.rank ?? 0) == 0 {
    let median = timed[timed.count / 2]
    print(String(format: "%.3f\t%.3f\t%@", Double(batch) / median, Double(batch) / timed[0],
                 parallel?.lastBucketCount.map(String.init) ?? "-"))
  }
} catch {
  print("dist-bench: \(error)")
  exit(1)
}
