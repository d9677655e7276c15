// Where runs go and how they compute (the "Runtime" group of `--help`).
import ArgumentParser
import Foundation
import Study
import Torch
import Training

/// Run folders, the model's width, the device, the arithmetic, the seed.
struct RuntimeOptions: ParsableArguments {
  @Option(help: "Where run folders go (not inside the dataset).") var out = "runs"
  @Option(help: "Data-loading worker threads.") var workers: Int?
  @Option(help: "xresnet34 width multiplier.") var widen: Double?
  @Option(help: "cpu, cuda or cuda:N.") var device: String?
  @Flag(inversion: .prefixedNo, help: "Channels-last (NHWC) models and batches (default: on; faster convolutions).")
  var channelsLast: Bool?
  @Option(help: "Arithmetic: fp32, bf16 (bfloat16 autocast; weights and optimizer state stay float32), fp16 (GPU, with loss scaling) or auto (bf16 where the CPU has bfloat16 instructions whose GEMMs measure at least 1.2× float32's, or the GPU compute capability 8.0+; else fp32; the run prints which and why). Default auto.") var precision: Precision?
  @Option(help: "Random seed.") var seed: UInt64?
  @Flag(help: "Keep each stage's checkpoints after it finishes (default: deleted once its result is written).")
  var keepCheckpoints = false
  @Flag(help: "Data-parallel runs: BatchNorm statistics over the whole global batch across ranks (SyncBatchNorm), so N ranks train what one process does (default: each rank its own part, as PyTorch DDP).")
  var syncBatchnorm = false
  func apply(to c: inout StudyConfig) throws {
    if let workers { c.runtime.workers = workers }
    if let widen { c.widen = widen }
    if let device {
      guard let d = Device(device) else { throw ValidationError("unknown device '\(device)' (cpu, cuda, cuda:N)") }
      if d != .cpu && !Runtime.cudaIsAvailable {
        throw ValidationError("--device \(device): this libtorch has no usable CUDA device (set up with the CUDA wheel: PRETEXT_CUDA=1 make setup)")
      }
      if device == "cuda", Parallel.group != nil, Parallel.localRank >= Runtime.cudaDeviceCount {
        throw ValidationError("--device cuda, data-parallel: LOCAL_RANK \(Parallel.localRank) has no GPU of its own (this machine has \(Runtime.cudaDeviceCount)); start one rank per GPU")
      }
      if device != "cuda", d != .cpu, Parallel.group?.usesNCCL == true, d != .cuda(Parallel.localRank) {
        throw ValidationError("--device \(device): under NCCL each rank trains on its own GPU (LOCAL_RANK \(Parallel.localRank)'s): use --device cuda")
      }
      c.runtime.device = device
    }
    if let seed { c.runtime.seed = seed }
    if let precision { c.runtime.precision = precision }
    if let channelsLast { c.runtime.channelsLast = channelsLast }
    c.runtime.keepCheckpoints = keepCheckpoints
    c.runtime.syncBatchNorm = syncBatchnorm
  }
}
