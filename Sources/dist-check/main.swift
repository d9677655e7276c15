// One rank of DistributedTests: joins the group from the launcher's environment and runs the collectives,
// printing what each gave (the test compares across ranks). `dist-check die`: rank 1 exits right after the
// rendezvous, and rank 0's next collective must fail within the timeout.
import Foundation
import Torch

let mode = CommandLine.arguments.dropFirst().first ?? "collectives"
do {
  guard let env = try DistributedEnvironment.fromEnvironment() else { print("no distributed environment"); exit(2) }
  let timeout = Double(ProcessInfo.processInfo.environment["DIST_TIMEOUT_S"] ?? "") ?? 30
  let group = try ProcessGroup(env, timeout: timeout)
  let r = Double(group.rank + 1)
  if mode == "die" {
    try group.barrier()
    if group.rank == 1 { print("rank 1 exits"); exit(0) }
    let start = Date()
    do {
      try group.allReduceSum([try Tensor.ones([4])])
      print("rank 0: allreduce with a dead peer returned")
      exit(1)
    } catch {
      print(String(format: "rank 0: failed after %.1f s: %@", Date().timeIntervalSince(start), "\(error)"))
      exit(3)
    }
  }
  let a = try Tensor.ones([3]) * r, b = try Tensor.ones([2, 2]) * (10 * r)
  try group.allReduceSum([a, b])  // two tensors: each summed across ranks, not across the list
  let c = group.rank == 0 ? try Tensor.arange(0, 6, dtype: .float32) : try Tensor.zeros([6])
  try group.broadcast([c])
  let g = try group.allGather(try Tensor.ones([2]) * r)
  try group.barrier()
  print("rank \(group.rank)/\(group.worldSize) allreduce \(try a.toArray(of: Float.self)) \(try b.toArray(of: Float.self)) broadcast \(try c.toArray(of: Float.self)) allgather \(try g.contiguous().toArray(of: Float.self))")
} catch {
  print("rank error: \(error)")
  exit(1)
}
