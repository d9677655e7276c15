import CDistributed
import CTorch
import Foundation

/// Where this process sits in a data-parallel job, read from the launcher's environment: torchrun's
/// (`RANK`, `WORLD_SIZE`, `LOCAL_RANK`, `MASTER_ADDR`, `MASTER_PORT`), else SLURM's (`SLURM_PROCID`,
/// `SLURM_NTASKS`, `SLURM_LOCALID`; `MASTER_ADDR`/`MASTER_PORT` still say where rank 0's store is).
public struct DistributedEnvironment: Equatable, Sendable {
  public var rank: Int, worldSize: Int, localRank: Int
  public var masterAddress: String, masterPort: Int
  /// torchrun's agent hosts the store itself (`TORCHELASTIC_USE_AGENT_STORE=True`): every rank is a client.
  public var externalStore: Bool

  public init(rank: Int, worldSize: Int, localRank: Int, masterAddress: String = "127.0.0.1", masterPort: Int = 29500,
              externalStore: Bool = false) {
    (self.rank, self.worldSize, self.localRank) = (rank, worldSize, localRank)
    (self.masterAddress, self.masterPort, self.externalStore) = (masterAddress, masterPort, externalStore)
  }

  public struct Invalid: Error, CustomStringConvertible, Sendable { public let description: String }

  /// The job this process belongs to, or nil when the environment names none (or a world of one).
  public static func fromEnvironment(_ env: [String: String] = ProcessInfo.processInfo.environment) throws -> DistributedEnvironment? {
    func int(_ key: String) throws -> Int? {
      guard let text = env[key], !text.isEmpty else { return nil }
      guard let v = Int(text), v >= 0 else { throw Invalid(description: "\(key)=\(text) is not a non-negative integer") }
      return v
    }
    let (rank, world, local): (Int?, Int?, Int?)
    if env["WORLD_SIZE"] != nil {
      (rank, world, local) = (try int("RANK"), try int("WORLD_SIZE"), try int("LOCAL_RANK"))
    } else {
      (rank, world, local) = (try int("SLURM_PROCID"), try int("SLURM_NTASKS"), try int("SLURM_LOCALID"))
    }
    guard let world, world > 1 else { return nil }
    guard let rank else { throw Invalid(description: "WORLD_SIZE=\(world) but no RANK (or SLURM_PROCID) is set") }
    guard rank < world else { throw Invalid(description: "RANK=\(rank) is not below WORLD_SIZE=\(world)") }
    let port = try int("MASTER_PORT") ?? 29500
    guard (1...65535).contains(port) else { throw Invalid(description: "MASTER_PORT=\(port) is not a port") }
    return DistributedEnvironment(rank: rank, worldSize: world, localRank: local ?? rank,
                                  masterAddress: env["MASTER_ADDR"].flatMap { $0.isEmpty ? nil : $0 } ?? "127.0.0.1",
                                  masterPort: port, externalStore: env["TORCHELASTIC_USE_AGENT_STORE"] == "True")
  }
}

extension ProcessGroup {
  /// Asks for `signal` when this process's parent ends (Linux's parent-death signal): a local launcher's ranks
  /// end with it. False when the parent is no longer `parent` (it ended first).
  public static func endWithParent(signal: Int32, parent: Int32) -> Bool { pt_die_with_parent(signal, parent) == 0 }
}

/// Data parallelism's split of one batch: rank `rank` of `count` takes items [n·rank/count, n·(rank+1)/count) of a
/// batch of n starting at `start` (the loaders' `shard:`), so the ranks together see what one process would.
public func shardRange(start: Int, count n: Int, rank: Int, of count: Int) -> Range<Int> {
  precondition(count >= 1 && rank >= 0 && rank < count, "shard rank \(rank) out of 0..<\(count)")
  return (start + n * rank / count)..<(start + n * (rank + 1) / count)
}

/// A c10d process group (PyTorch's own engine, TCPStore rendezvous as torch.distributed's env://): Gloo for CPU
/// tensors and, when asked (`ncclDevice`) and built with it, NCCL for CUDA tensors — init_process_group's
/// "cpu:gloo,cuda:nccl". Every collective waits for its result, bounded by `timeout`: a rank that died or hangs
/// makes the others throw (under NCCL, its watchdog ends the process). After any error the group is unusable
/// (c10d's rule): end the process.
public final class ProcessGroup: @unchecked Sendable {
  let handle: pt_dist_group
  public let rank: Int, worldSize: Int
  /// This rank's place on its machine (LOCAL_RANK).
  public let localRank: Int
  /// This rank's place among the ranks, as the loaders' `shard:` takes it.
  public var shard: (rank: Int, count: Int) { (rank, worldSize) }

  /// The process's default group (torch.distributed's default group): set once by whoever joins it (the CLI,
  /// before any training), read by what must act across ranks without being handed a group (a contrastive loss
  /// that gathers every rank's embeddings). nil when the process runs alone.
  nonisolated(unsafe) public static var `default`: ProcessGroup?

  /// Whether NCCL can carry CUDA tensors: the shim was built against a CUDA libtorch with its NVIDIA headers.
  public static var hasNCCL: Bool { pt_dist_has_nccl() != 0 }

  /// Whether CUDA tensors go through NCCL (else through Gloo, which copies them to the host).
  public let usesNCCL: Bool

  /// `ncclDevice`: this rank's GPU, for NCCL (each rank its own; an error when `hasNCCL` is false); nil: Gloo only.
  public init(_ env: DistributedEnvironment, timeout: Double = 300, ncclDevice: Int? = nil) throws {
    guard let h = pt_dist_init(env.masterAddress, Int32(env.masterPort), Int32(env.rank), Int32(env.worldSize),
                               Int64(timeout * 1000), env.externalStore ? 1 : 0, Int32(ncclDevice ?? -1)) else {
      throw TorchError.last("ProcessGroup(rank \(env.rank) of \(env.worldSize) at \(env.masterAddress):\(env.masterPort))")
    }
    (handle, rank, worldSize, localRank, usesNCCL) = (h, env.rank, env.worldSize, env.localRank, ncclDevice != nil)
  }

  deinit { pt_dist_free(handle) }

  /// Each tensor summed across ranks, in place, in one collective (coalesced).
  public func allReduceSum(_ tensors: [Tensor]) throws {
    guard !tensors.isEmpty else { return }
    try withHandles(tensors) { try check(pt_dist_allreduce_sum(handle, $0, Int32(tensors.count)), "allReduceSum(\(tensors.count) tensors)") }
  }

  /// Rank `root`'s values copied into every rank's tensors, in place.
  public func broadcast(_ tensors: [Tensor], root: Int = 0) throws {
    guard !tensors.isEmpty else { return }
    try withHandles(tensors) {
      try check(pt_dist_broadcast(handle, $0, Int32(tensors.count), Int32(root)), "broadcast(\(tensors.count) tensors from rank \(root))")
    }
  }

  /// Every rank's `tensor` (the same shape on each), stacked along a new first dimension in rank order.
  public func allGather(_ tensor: Tensor) throws -> Tensor {
    try .wrap(pt_dist_allgather(handle, tensor.handle), "allGather")
  }

  /// `tensor` summed across ranks as a new tensor that autograd differentiates: its backward sums the gradients
  /// across ranks (SyncBatchNorm's statistics). Every rank must build the same graph, so the backward collectives pair.
  public func allReduceSumDifferentiable(_ tensor: Tensor) throws -> Tensor {
    try .wrap(pt_dist_allreduce_sum_differentiable(handle, tensor.handle), "allReduceSumDifferentiable")
  }

  /// Every rank's `tensor` concatenated along dimension 0 in rank order, as a tensor autograd differentiates
  /// (lightly's GatherLayer): the backward sums the gradient across ranks and keeps this rank's rows, so a loss
  /// that reads every rank's embeddings trains each rank's encoder correctly. `rows`: every rank's row count
  /// (`rowCounts`); the other dimensions must agree.
  public func allGatherDifferentiable(_ tensor: Tensor, rows: [Int]) throws -> Tensor {
    guard rows.count == worldSize else {
      throw TorchError(operation: "allGatherDifferentiable", message: "\(rows.count) row counts for \(worldSize) ranks")
    }
    let r = rows.map(Int64.init)
    return try .wrap(r.withUnsafeBufferPointer { pt_dist_allgather_differentiable(handle, tensor.handle, $0.baseAddress) }, "allGatherDifferentiable")
  }

  /// Every rank's `count`, in rank order (one small all-gather).
  public func rowCounts(_ count: Int) throws -> [Int] {
    try allGather(try Tensor([Int64(count)])).toArray(of: Int64.self).map(Int.init)
  }

  public func barrier() throws { try check(pt_dist_barrier(handle), "barrier") }
}

/// DistributedDataParallel's gradient Reducer (c10d::Reducer) over the parameters that train: hooks on their
/// gradient accumulators all-reduce buckets of gradients while the backward is still running, and when
/// `backward()` returns every gradient is the mean across ranks. Call `prepareForward()` before each training
/// forward and `prepareBackward(loss)` before its backward. Made for one set of trainable parameters: when the
/// set changes (unfreezing), make a new one, as DDP must be rewrapped.
public final class GradientReducer: @unchecked Sendable {
  let handle: pt_dist_reducer
  let group: ProcessGroup  // the Reducer holds the group's c10d object; the handle is kept alive with it
  public let parameters: [Tensor]

  /// `bucketBytes`: DDP's bucket_cap_mb (25 MiB). `findUnused`: DDP's find_unused_parameters.
  public init(group: ProcessGroup, parameters: [Tensor], bucketBytes: Int = 25 << 20, findUnused: Bool = false) throws {
    guard !parameters.isEmpty else { throw TorchError(operation: "GradientReducer", message: "no parameter trains") }
    let made = withHandles(parameters) { pt_dist_reducer_new(group.handle, $0, Int32(parameters.count), Int64(bucketBytes), findUnused ? 1 : 0) }
    guard let h = made else { throw TorchError.last("GradientReducer(\(parameters.count) parameters)") }
    (handle, self.group, self.parameters) = (h, group, parameters)
  }

  deinit { pt_dist_reducer_free(handle) }

  public func prepareForward() throws { try check(pt_dist_reducer_prepare_forward(handle), "GradientReducer.prepareForward") }

  public func prepareBackward(_ outputs: [Tensor]) throws {
    try withHandles(outputs) { try check(pt_dist_reducer_prepare_backward(handle, $0, Int32(outputs.count)), "GradientReducer.prepareBackward") }
  }

  /// How many buckets the gradients travel in now.
  public var bucketCount: Int { Int(pt_dist_reducer_bucket_count(handle)) }
}

/// A TCP port free on 127.0.0.1 now (the kernel's pick for port 0): a local rendezvous (`--nproc`, tests).
public func freeLoopbackPort() throws -> Int {
  let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
  guard fd >= 0 else { throw TorchError(operation: "freeLoopbackPort", message: "cannot open a socket: \(String(cString: strerror(errno)))") }
  defer { close(fd) }
  var addr = sockaddr_in()
  addr.sin_family = sa_family_t(AF_INET)
  addr.sin_addr.s_addr = inet_addr("127.0.0.1")
  addr.sin_port = 0
  var len = socklen_t(MemoryLayout<sockaddr_in>.size)
  let bound = withUnsafeMutablePointer(to: &addr) { ptr in
    ptr.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, len) == 0 && getsockname(fd, $0, &len) == 0 }
  }
  guard bound else { throw TorchError(operation: "freeLoopbackPort", message: "cannot bind 127.0.0.1:0: \(String(cString: strerror(errno)))") }
  return Int(UInt16(bigEndian: addr.sin_port))
}
