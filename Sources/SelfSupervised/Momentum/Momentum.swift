// Momentum (EMA) targets: the update and its schedule, as lightly's.
import Foundation
import NN
import Torch

/// lightly's `cosine_schedule`: from `start` at step 0 to `end` at step `maxSteps` − 1 along a half cosine
/// (BYOL's momentum, 0.996 → 1).
public func cosineSchedule(step: Int, maxSteps: Int, start: Double, end: Double) -> Double {
  if maxSteps <= 1 || step >= maxSteps - 1 { return end }
  return end - (end - start) * (cos(Double.pi * Double(step) / Double(maxSteps - 1)) + 1) / 2
}

/// lightly's `update_momentum`: target ← m · target + (1 − m) · online, with the same foreach ops.
public func updateMomentum(target: [Parameter], online: [Parameter], momentum m: Double) throws {
  precondition(target.count == online.count, "momentum update between networks of different shapes")
  let t = target.map(\.value)
  try withNoGrad {
    try Foreach.mul_(t, .float(m))
    try Foreach.add_(t, online.map(\.value), alpha: .float(1 - m))
  }
}
