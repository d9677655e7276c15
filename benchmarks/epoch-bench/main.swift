// One full epoch (train + validation, data loading included) of the study's pretext task or downstream
// scenario, through the product's own functions at the `demo` preset's settings; benchmarks/bench.py runs
// fastai's Learner doing the same (epoch_bench.py) beside it.
// Prints: seconds<TAB>peak RSS MB.   Usage: epoch-bench pretext|downstream ROOT [SIZE WIDEN BATCH]
import Foundation
import ImageData
import Study
import Torch

let a = CommandLine.arguments
guard a.count >= 3, ["pretext", "downstream"].contains(a[1]) else {
  print("usage: epoch-bench pretext|downstream ROOT [SIZE WIDEN BATCH]")
  exit(2)
}
var config = StudyConfig.demo
(config.epochs, config.pretextEpochs, config.headEpochs) = (1, 1, 0)
(config.maxTrainPerClass, config.maxValidPerClass, config.maxUnsup) = (nil, nil, nil)  // the whole dataset
if a.count > 3, let s = Int(a[3]) { (config.size, config.pretextSize) = (s, s) }
if a.count > 4, let w = Double(a[4]) { config.widen = w }
if a.count > 5, let b = Int(a[5]) { (config.batch, config.pretextBatch) = (b, b) }
Runtime.threadCount = Int(ProcessInfo.processInfo.environment["BENCH_THREADS"] ?? "2") ?? 2
Runtime.cacheCPUMemoryUnlessDisabled()  // as `pretext` does
config.workers = Int(ProcessInfo.processInfo.environment["BENCH_WORKERS"] ?? "2") ?? 2

func peakRSSMB() -> Double {
  var u = rusage()
  getrusage(__rusage_who_t(RUSAGE_SELF.rawValue), &u)
  return Double(u.ru_maxrss) / 1024
}

do {
  let data = try ImageWangLayout(root: a[2])
  let dir = NSTemporaryDirectory() + "pretext-epoch-bench-\(UUID().uuidString)"
  defer { try? FileManager.default.removeItem(atPath: dir) }
  let seconds = a[1] == "pretext"
    ? try runPretext(data, config, runDir: dir).result.history[0].seconds
    : try trainScenario(.random, run: 0, data: data, encoder: nil, config, runDir: dir).result.history[0].seconds
  print(String(format: "%.3f\t%.0f", seconds, peakRSSMB()))
} catch {
  print("error: \(error)")
  exit(1)
}
