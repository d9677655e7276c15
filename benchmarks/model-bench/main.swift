// Train-step throughput (forward + backward, images/s) of xresnet34 and the U-Net, for
// benchmarks/models.sh, which runs fastai's models in PyTorch Python beside it.
// Usage: model-bench MODEL SIZE BATCH STEPS [channels-last]   (MODEL: xresnet34 | unet)
import Foundation
import NN
import Torch

let a = CommandLine.arguments
guard a.count >= 5, let size = Int(a[2]), let batch = Int(a[3]), let steps = Int(a[4]) else {
  print("usage: model-bench xresnet34|unet SIZE BATCH STEPS [channels-last]")
  exit(2)
}
let channelsLast = a.count > 5 && a[5] == "channels-last"
Runtime.threadCount = Int(ProcessInfo.processInfo.environment["BENCH_THREADS"] ?? "2") ?? 2
do {
  Runtime.manualSeed(0)
  let model: Module = a[1] == "unet"
    ? try DynamicUnet(encoder: XResNet(.resnet34).body, outChannels: 3, imageSize: (size, size))
    : try XResNet(.resnet34, classes: 20)
  if channelsLast { try model.to(memoryFormat: .channelsLast) }
  var x = try Tensor.rand([batch, 3, size, size])
  if channelsLast { x = try x.contiguous(.channelsLast) }
  let y = try Tensor.randint(0, 20, [batch])
  func step() throws {
    for p in model.parameters() { try p.value.clearGrad() }
    let out = try model(x)
    let loss = a[1] == "unet" ? try mseLoss(out, x) : try crossEntropy(out, y)
    try loss.backward()
  }
  try step()  // warm-up
  let start = DispatchTime.now().uptimeNanoseconds
  for _ in 0..<steps { try step() }
  let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
  print(String(format: "%.3f", Double(steps * batch) / seconds))
} catch {
  print("error: \(error)")
  exit(1)
}
