import NN
import Torch

/// Data-parallel training on a c10d process group, as PyTorch's DistributedDataParallel does it: before the fit
/// every parameter and buffer is broadcast from rank 0 (all ranks start identical); the gradients are averaged
/// across ranks so each rank's optimizer takes the step one process would take on the whole batch (each rank's
/// loader gives its part of it: `ImageLoader(shard:)`).
///
/// How the gradients travel is `sync`: `.overlapped` (the default) is DDP's own Reducer — buckets all-reduced by
/// hooks while the backward is still computing earlier layers; `.afterBackward` is one coalesced all-reduce once
/// the backward is done (simpler, no overlap; kept to measure the Reducer against). Epoch losses and validation
/// metrics are summed across ranks (`Learner.sumAcrossRanks`). BatchNorm statistics stay per rank (PyTorch's
/// default) unless the model uses SyncBatchNorm (`Module.useSyncBatchNorm`); rank 0's buffers are the ones saved,
/// and every rank validates with them (broadcast before each validation).
/// Every rank keeps the same item order, so all run the same number of steps.
public final class DataParallel: Callback {
  public enum GradientSync: String, Sendable, CaseIterable {
    /// DDP's c10d::Reducer: bucketed all-reduces overlapped with the backward.
    case overlapped
    /// One coalesced all-reduce of every gradient after the backward.
    case afterBackward = "after-backward"
  }

  public let group: ProcessGroup
  public let sync: GradientSync
  /// The Reducer's bucket size (DDP's bucket_cap_mb: 25 MiB).
  public let bucketBytes: Int
  /// DDP's find_unused_parameters: trainable parameters the loss may not reach are found each step by walking
  /// the autograd graph (else the reduction would wait for their gradients and fail).
  public let findUnused: Bool
  /// The Reducer for the parameters that train now; checked at the start of each epoch's training (a phase's
  /// set-up, which may unfreeze the body, runs before it) and remade when that set changed.
  var reducer: GradientReducer?

  public init(group: ProcessGroup, sync: GradientSync = .overlapped, bucketBytes: Int = 25 << 20, findUnused: Bool = false) {
    (self.group, self.sync, self.bucketBytes, self.findUnused) = (group, sync, bucketBytes, findUnused)
  }

  /// The number of gradient buckets the last Reducer used (nil with `.afterBackward`).
  public private(set) var lastBucketCount: Int?

  public func on(_ event: Event, _ learner: Learner) throws {
    switch event {
    case .beforeFit:
      learner.sumAcrossRanks = { [group] values in
        let t = try Tensor(values)
        try group.allReduceSum([t])
        return try t.toArray(of: Double.self)
      }
      let state = learner.model.parameters().map(\.value) + learner.model.namedBuffers().map(\.1.value)
      try withNoGrad { try group.broadcast(state, root: 0) }
    case .beforeTrain where sync == .overlapped:
      let trainable = learner.optimizer.groups.flatMap(\.params).map(\.value).filter(\.requiresGrad)
      if reducer.map({ !sameTensors($0.parameters, trainable) }) ?? true {
        reducer = nil  // the old hooks go before the new ones are installed
        reducer = try GradientReducer(group: group, parameters: trainable, bucketBytes: bucketBytes, findUnused: findUnused)
      }
    case .beforeValidate:
      // Every rank validates with rank 0's BatchNorm statistics, the ones its checkpoint and weights keep: else
      // rank r's own running statistics (its part of each batch) would count in the validation loss, and a
      // resumed run, whose ranks all load rank 0's, would validate otherwise than one never stopped.
      let buffers = learner.model.namedBuffers().map(\.1.value)
      if !buffers.isEmpty { try withNoGrad { try group.broadcast(buffers, root: 0) } }
    case .beforeBatch where learner.isTrainingPhase:
      try reducer?.prepareForward()
    case .beforeBackward where sync == .overlapped:
      guard let loss = learner.output?.loss else { return }
      try reducer?.prepareBackward([loss])
    case .afterBackward where sync == .afterBackward:
      let grads = learner.optimizer.groups.flatMap(\.params).compactMap { $0.value.grad }
      try group.allReduceSum(grads)
      try Foreach.mul_(grads, .float(1 / Double(group.worldSize)))
    case .afterFit:
      lastBucketCount = reducer?.bucketCount
      reducer = nil
    default: break
    }
  }

  func sameTensors(_ a: [Tensor], _ b: [Tensor]) -> Bool {
    a.count == b.count && zip(a, b).allSatisfy { $0 === $1 }
  }
}
