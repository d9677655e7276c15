import NN
import Torch

/// Data-parallel training on a c10d process group, as PyTorch's DistributedDataParallel does it: before the fit
/// every parameter and buffer is broadcast from rank 0 (all ranks start identical); after each backward the
/// gradients are summed across ranks in one coalesced all-reduce and divided by the world size, so each rank's
/// optimizer takes the step one process would take on the whole batch (each rank's loader gives its part of it:
/// `ImageLoader(shard:)`). Not overlapped with the backward (DDP's bucketed Reducer is: see NOTES.md).
/// Epoch losses and validation metrics are summed across ranks (`Learner.sumAcrossRanks`). BatchNorm statistics
/// stay per rank (PyTorch's default) unless the model uses SyncBatchNorm (`Module.useSyncBatchNorm`); rank 0's
/// buffers are the ones saved. Every rank keeps the same item order, so all run the same number of steps.
public final class DataParallel: Callback {
  public let group: ProcessGroup
  public init(group: ProcessGroup) { self.group = group }

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
    case .afterBackward:
      let grads = learner.optimizer.groups.flatMap(\.params).compactMap { $0.value.grad }
      try group.allReduceSum(grads)
      try Foreach.mul_(grads, .float(1 / Double(group.worldSize)))
    default: break
    }
  }
}
