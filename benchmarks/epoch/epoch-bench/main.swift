// One full epoch (train + validation, data loading included) of the study's pretext task or downstream
// scenario, through the product's own functions at the `demo` preset's settings; benchmarks/bench.py runs
// fastai's Learner doing the same (epoch_bench.py) beside it.
// Prints: seconds<TAB>peak RSS MB<TAB>seconds of the training pass<TAB>of which waiting for batches.   Usage: epoch-bench pretext|downstream ROOT [SIZE WIDEN BATCH [PRECISION]]
// (PRECISION: fp32 — the default —, bf16 or auto, as the tool's --precision.)
// Environment: BENCH_THREADS (2), BENCH_WORKERS (2), BENCH_CONTIGUOUS=1 (NCHW models and batches instead of channels-last).
import Foundation
import ImageData
import Study
import Torch
import Training

let a = CommandLine.arguments
guard a.count >= 3, ["pretext", "downstream"].contains(a[1]) else {
  print("usage: epoch-bench pretext|downstream ROOT [SIZE WIDEN BATCH [fp32|bf16|auto]]")
  exit(2)
}
var config = StudyConfig.demo
(config.downstream.epochs, config.pretext.epochs, config.downstream.headEpochs) = (1, 1, 0)
(config.data.maxTrainPerClass, config.data.maxValidPerClass, config.data.maxUnsup) = (nil, nil, nil)  // the whole dataset
if a.count > 3, let s = Int(a[3]) { (config.downstream.size, config.pretext.size) = (s, s) }
if a.count > 4, let w = Double(a[4]) { config.widen = w }
if a.count > 5, let b = Int(a[5]) { (config.downstream.batch, config.pretext.batch) = (b, b) }
config.runtime.precision = .fp32  // the peer's default, whatever the tool's is
if a.count > 6 {
  guard let p = Precision(rawValue: a[6]) else { print("epoch-bench: unknown precision \(a[6])"); exit(2) }
  config.runtime.precision = p
}
Runtime.threadCount = Int(ProcessInfo.processInfo.environment["BENCH_THREADS"] ?? "2") ?? 2
Runtime.cacheCPUMemoryUnlessDisabled()  // as `pretext` does
config.runtime.workers = Int(ProcessInfo.processInfo.environment["BENCH_WORKERS"] ?? "2") ?? 2
if ProcessInfo.processInfo.environment["BENCH_CONTIGUOUS"] == "1" { config.runtime.channelsLast = false }

func peakRSSMB() -> Double {
  var u = rusage()
  getrusage(__rusage_who_t(RUSAGE_SELF.rawValue), &u)
  return Double(u.ru_maxrss) / 1024
}

do {
  let data = try ImageWangLayout(root: a[2])
  let dir = NSTemporaryDirectory() + "pretext-epoch-bench-\(UUID().uuidString)"
  defer { try? FileManager.default.removeItem(atPath: dir) }
  let epoch = a[1] == "pretext"
    ? try runPretext(data, config, runDir: dir).result.history[0]
    : try trainScenario(.random, run: 0, data: data, encoder: nil, config, runDir: dir).result.history[0]
  print(String(format: "%.3f\t%.0f\t%.3f\t%.3f", epoch.seconds, peakRSSMB(), epoch.trainSeconds ?? .nan, epoch.dataWaitSeconds ?? .nan))
} catch {
  print("error: \(error)")
  exit(1)
}
