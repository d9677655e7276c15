import NN
import Torch

/// Data-parallel training on a c10d process group, as PyTorch's DistributedDataParallel does it: before the fit
/// every parameter and buffer is broadcast from rank 0 (all ranks start identical); after each backward the
/// gradients are summed across ranks in one coalesced all-reduce and divided by the world size, so each rank's
/// optimizer takes the step one process would take on the whole batch (each rank's loader gives its part of it:
/// `ImageLoader(shard:)`). Not overlapped with the backward (DDP's bucketed Reducer is: see NOTES.md).
/// BatchNorm statistics stay per rank (PyTorch's default without SyncBatchNorm); rank 0's buffers are the ones saved.
public final class DataParallel: Callback {
  public let group: ProcessGroup
  public init(group: ProcessGroup) { self.group = group }

  public func on(_ event: Event, _ learner: Learner) throws {
    switch event {
    case .beforeFit:
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
