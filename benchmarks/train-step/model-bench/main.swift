// Train-step throughput (images/s, from the fastest of STEPS timed steps) of xresnet34 and the U-Net: forward, loss, backward, the study's optimizer
// step (Ranger, wd 1e-2) and zeroing the gradients; benchmarks/bench.py runs fastai's models and fastai's
// ranger in PyTorch Python beside it (model_bench.py). Prints: images/s<TAB>peak RSS MB<TAB>optimizer ms per step.
// Usage: model-bench MODEL SIZE BATCH STEPS [contiguous|channels-last] [bf16] [--lockstep]   (MODEL: xresnet34 | unet | simclr)
//        bf16: forward and loss under CPU bfloat16 autocast (the learner's --precision bf16; weights and
//        optimizer state float32).
//        simclr: the SimCLR task's two-view step (pooled xresnet34 body and projector on each of two views,
//        NT-Xent at τ 0.5); images/s counts images, i.e. pairs of views.
//        --lockstep: after the warm-up print "ready", then before each timed step wait for a line on stdin
//        and after it print the step's seconds (benchmarks/bench.py alternates the two sides step by step).
//        BENCH_WIDEN=w: xresnet34 × w, and the U-Net over it (the demo's is 0.25).
//        model-bench --gemm N REPEATS [bf16]   (this CPU's float32 — or bfloat16 — GEMM rate through libtorch, GFLOP/s)
import Foundation
import NN
import SelfSupervised
import Torch
import Training

let a = CommandLine.arguments
Runtime.threadCount = Int(ProcessInfo.processInfo.environment["BENCH_THREADS"] ?? "2") ?? 2
Runtime.cacheCPUMemoryUnlessDisabled()  // as `pretext` does

func peakRSSMB() -> Double {
  var u = rusage()
  getrusage(__rusage_who_t(RUSAGE_SELF.rawValue), &u)
  return Double(u.ru_maxrss) / 1024
}

func seconds(_ body: () throws -> Void) rethrows -> Double {
  let start = DispatchTime.now().uptimeNanoseconds
  try body()
  return Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
}

do {
  if a.count >= 4, a[1] == "--gemm", let n = Int(a[2]), let repeats = Int(a[3]) {
    // The best of `repeats` N×N×N products: the rate the convolutions' GEMMs could at most reach here.
    let best = try Runtime.bestMatmulSeconds(n, dtype: a.contains("bf16") ? .bfloat16 : .float32, repeats: repeats)
    print(String(format: "%.2f", 2 * Double(n * n * n) / best / 1e9))
    exit(0)
  }
  guard a.count >= 5, let size = Int(a[2]), let batch = Int(a[3]), let steps = Int(a[4]) else {
    print("usage: model-bench xresnet34|unet SIZE BATCH STEPS [contiguous|channels-last] | model-bench --gemm N REPEATS")
    exit(2)
  }
  let channelsLast = a.count > 5 && a[5] == "channels-last"
  let lockstep = a.contains("--lockstep")
  let bf16 = a.contains("bf16")
  Runtime.manualSeed(0)
  let widen = Double(ProcessInfo.processInfo.environment["BENCH_WIDEN"] ?? "1") ?? 1
  let model: Module & ParameterGroups = switch a[1] {
  case "unet": try DynamicUnet(encoder: XResNet(.resnet34, widen: widen).body, outChannels: 3, imageSize: (size, size))
  case "simclr": try SimCLRTask(TaskSettings(size: size, widen: 1)).net
  default: try XResNet(.resnet34, classes: 20, widen: widen)
  }
  if channelsLast { try model.to(memoryFormat: .channelsLast) }
  let optimizer = ranger(ParamGroup.groups(of: model, lr: 1e-3), weightDecay: 1e-2)
  var x = try Tensor.rand([batch, 3, size, size]), x1 = try Tensor.rand([batch, 3, size, size])
  if channelsLast { (x, x1) = (try x.contiguous(.channelsLast), try x1.contiguous(.channelsLast)) }
  let y = try Tensor.randint(0, 20, [batch])
  var optimizerSeconds = 0.0
  func forwardAndLoss() throws -> Tensor {
    let out = try model(x)
    return switch a[1] {
    case "unet": try mseLoss(out, x)
    case "simclr": try ntXentLoss(out, model(x1), temperature: SimCLRTask.temperature)
    default: try crossEntropy(out, y)
    }
  }
  func step() throws {
    let loss = bf16 ? try withAutocast(.cpu, dtype: .bfloat16, forwardAndLoss) : try forwardAndLoss()
    try loss.backward()
    optimizerSeconds += try seconds {
      try optimizer.step()
      try optimizer.zeroGrad()
    }
  }
  try step()  // warm-up (allocations, optimizer state)
  optimizerSeconds = 0
  func say(_ line: String) { FileHandle.standardOutput.write(Data((line + "\n").utf8)) }  // unbuffered
  if lockstep { say("ready") }
  // The fastest step: on a shared machine noise only ever slows a step down.
  let best = try (0..<steps).map { _ in
    if lockstep { guard readLine() != nil else { exit(3) } }
    let t = try seconds { try step() }
    if lockstep { say(String(t)) }
    return t
  }.min()!
  print(String(format: "%.3f\t%.0f\t%.1f", Double(batch) / best, peakRSSMB(), 1000 * optimizerSeconds / Double(steps)))
} catch {
  print("error: \(error)")
  exit(1)
}
