import Foundation
import NN
import Torch
import Training

/// This process's part in a data-parallel run (torch.distributed's default group): set once by the CLI when
/// the launcher's environment names a group, before any stage runs; nil when the process runs alone. Every
/// rank runs the same stages in the same order; rank 0 alone writes the run folder's files.
public enum Parallel {
  public static var group: ProcessGroup? {
    get { ProcessGroup.default }
    set { ProcessGroup.default = newValue }
  }

  public static var rank: Int { group?.rank ?? 0 }
  /// This rank's place on its machine (torchrun's LOCAL_RANK): a data-parallel run on "cuda" puts rank r of a
  /// machine on GPU r, as DDP's one-process-per-GPU rule has it.
  public static var localRank: Int { group?.localRank ?? 0 }

  /// Which collectives engine carries CUDA tensors (`PRETEXT_DIST_BACKEND`). CPU tensors always go through Gloo.
  public enum Backend: String, CaseIterable, Sendable {
    /// NCCL where the shim has it and this rank has a GPU of its own, else Gloo (init_process_group's default).
    case auto
    case gloo
    case nccl
  }

  /// The GPU that NCCL binds this rank to, or nil for Gloo alone: `auto` takes NCCL when built with it and
  /// `localRank` has a GPU of its own; `nccl` insists, and says why it cannot.
  public static func ncclDevice(_ backend: Backend, localRank: Int, hasNCCL: Bool, cudaDevices: Int) throws -> Int? {
    let ownGPU = localRank < cudaDevices
    switch backend {
    case .gloo: return nil
    case .auto: return hasNCCL && ownGPU ? localRank : nil
    case .nccl:
      guard hasNCCL else {
        throw StudyConfig.ConfigError("PRETEXT_DIST_BACKEND=nccl, but this build has no NCCL (a CPU libtorch, or a CUDA one set up without its NVIDIA headers: PRETEXT_CUDA=1 make setup, then rebuild)")
      }
      guard ownGPU else {
        throw StudyConfig.ConfigError("PRETEXT_DIST_BACKEND=nccl: LOCAL_RANK \(localRank) has no GPU of its own (this machine has \(cudaDevices)); NCCL needs one GPU per rank: start at most \(cudaDevices) ranks per machine, or use gloo")
      }
      return localRank
    }
  }

  /// The device a rank trains on: `cuda` without an index means this rank's own GPU in a data-parallel run.
  public static func device(_ text: String, localRank: Int, dataParallel: Bool) -> Device {
    dataParallel && text == "cuda" ? .cuda(localRank) : Device(text) ?? .cpu
  }
  /// Whether this process writes logs, checkpoints, weights, pictures and results (rank 0, or alone).
  public static var isWriter: Bool { rank == 0 }
  /// This rank's part of every training batch (nil: the whole batch).
  static var shard: (rank: Int, count: Int)? { group?.shard }

  /// This rank's contiguous part of a validation set (DistributedSampler without shuffling or padding) and
  /// where it starts (`ImageLoader(itemOffset:)`): the ranks' parts together are the set once, and
  /// `Learner.validate` sums their losses and metrics.
  static func part<T>(_ items: [T]) -> (items: [T], offset: Int) {
    guard let group else { return (items, 0) }
    let r = shardRange(start: 0, count: items.count, rank: group.rank, of: group.worldSize)
    return (Array(items[r]), r.lowerBound)
  }

  /// Data-parallel, every rank must get the same share of each global batch: with unequal shares, averaging the
  /// ranks' gradients (DDP's rule) is not the step one process takes on the whole batch.
  /// Each rank's BatchNorm (unless synchronised) sees only its share, which must hold 2 images or more.
  static func requireEvenShares(_ batch: Int, flag: String, syncBatchNorm: Bool) throws {
    guard let group else { return }
    guard batch % group.worldSize == 0 else {
      throw StudyConfig.ConfigError("\(flag) \(batch) does not divide across \(group.worldSize) ranks: use a multiple of \(group.worldSize) (the batch is the global one, each rank takes batch / ranks)")
    }
    guard syncBatchNorm || batch / group.worldSize >= 2 else {
      throw StudyConfig.ConfigError("\(flag) \(batch) gives each of \(group.worldSize) ranks 1 image: BatchNorm needs 2 or more per rank (or --sync-batchnorm, which normalises over the global batch)")
    }
  }

  /// Makes `learner` data-parallel when this process is one of several ranks: DataParallel first (the gradients
  /// are averaged before any other callback sees them), SyncBatchNorm when the config asks, checkpoints
  /// written by rank 0 only (every rank resumes from it).
  static func attach(_ learner: Learner, model: Module, _ config: StudyConfig) {
    guard let group else { return }
    // PRETEXT_DDP_FIND_UNUSED=1: DDP's find_unused_parameters, for a model whose loss skips some of its parameters.
    let findUnused = ProcessInfo.processInfo.environment["PRETEXT_DDP_FIND_UNUSED"] == "1"
    learner.callbacks.insert(DataParallel(group: group, findUnused: findUnused), at: 0)
    if config.runtime.syncBatchNorm { model.useSyncBatchNorm(group) }
    learner.writesCheckpoints = isWriter
  }

  /// The callbacks that write files or the console (loggers, snapshots, progress), only on the writing rank;
  /// not even made on the others (a TensorBoard logger creates its event file when made).
  public static func writers(_ callbacks: @autoclosure () throws -> [Callback]) rethrows -> [Callback] {
    isWriter ? try callbacks() : []
  }

  /// Every rank waits here until rank 0 has written a stage's files (the next stage may read them).
  static func barrier() throws { try group?.barrier() }

  /// `body` on rank 0 alone (alone: just `body`), and its result on every rank. When it throws, rank 0 rethrows and
  /// every other rank fails at once saying so, instead of waiting out the timeout in a collective rank 0 never
  /// joins (a refused run folder, say).
  public static func fromRankZero(_ what: String, _ body: () throws -> String) throws -> String {
    guard group != nil else { return try body() }
    var outcome: Result<String, Error> = .success("")
    if isWriter { outcome = Result { try body() } }
    let sent: String
    switch outcome {
    case .success(let value): sent = "+" + value
    case .failure: sent = "-"  // the others are told; this rank throws the error below
    }
    let shared = try shareFromRankZero(sent)
    if case .failure(let error) = outcome { throw error }
    guard shared.hasPrefix("+") else { throw StudyConfig.ConfigError("rank 0 could not \(what): its error says why") }
    return String(shared.dropFirst())
  }

  /// Rank 0's `text` on every rank (the run folder it created, whose name has the time in it).
  public static func shareFromRankZero(_ text: String) throws -> String {
    guard let group else { return text }
    let capacity = 8192
    let bytes = Array(text.utf8)
    guard bytes.count < capacity else { throw FileError(path: text, "path longer than \(capacity) bytes") }
    let buffer = try Tensor(bytes.map { Int32($0) } + [Int32](repeating: 0, count: capacity - bytes.count))
    try group.broadcast([buffer], root: 0)
    let shared = try buffer.toArray(of: Int32.self).prefix { $0 != 0 }.map { UInt8($0) }
    return String(decoding: shared, as: UTF8.self)
  }
}
