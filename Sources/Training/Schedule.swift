import Foundation

/// A hyper-parameter as a function of training progress `pos` ∈ [0, 1] (fastai's schedules), evaluated
/// before every batch at pos = batches done / batches in the whole fit.
public struct Schedule: Sendable {
  public let value: @Sendable (Double) -> Double

  public init(_ value: @escaping @Sendable (Double) -> Double) { self.value = value }

  public func callAsFunction(_ pos: Double) -> Double { value(pos) }

  public static func constant(_ v: Double) -> Schedule { Schedule { _ in v } }

  /// fastai's SchedCos: start → end along half a cosine.
  public static func cos(_ start: Double, _ end: Double) -> Schedule {
    Schedule { pos in start + (1 + Foundation.cos(Double.pi * (1 - pos))) * (end - start) / 2 }
  }

  /// fastai's combine_scheds: `scheds[i]` runs over the fraction `pcts[i]` of training.
  public static func combine(_ pcts: [Double], _ scheds: [Schedule]) -> Schedule {
    var edges = [0.0]
    for p in pcts { edges.append(edges.last! + p) }
    let bounds = edges
    return Schedule { pos in
      if pos >= 1 { return scheds.last!(1) }
      let i = (0..<scheds.count).last { pos >= bounds[$0] } ?? 0
      return scheds[i]((pos - bounds[i]) / (bounds[i + 1] - bounds[i]))
    }
  }

  /// fastai's combined_cos: start → middle over `pct`, then middle → end.
  public static func combinedCos(_ pct: Double, _ start: Double, _ middle: Double, _ end: Double) -> Schedule {
    combine([pct, 1 - pct], [cos(start, middle), cos(middle, end)])
  }

  /// fit_one_cycle's learning rate, as a multiple of each group's lr: 1/div → 1 over `pctStart`, then cosine
  /// to 1/divFinal.
  public static func oneCycle(div: Double = 25, divFinal: Double = 1e5, pctStart: Double = 0.25) -> Schedule {
    combinedCos(pctStart, 1 / div, 1, 1 / divFinal)
  }

  /// fit_one_cycle's momentum: 0.95 → 0.85 → 0.95 along the same phases.
  public static func oneCycleMomentum(_ moms: (Double, Double, Double) = (0.95, 0.85, 0.95), pctStart: Double = 0.25)
    -> Schedule
  {
    combinedCos(pctStart, moms.0, moms.1, moms.2)
  }

  /// fit_flat_cos's learning rate multiple: flat for `pctStart`, then cosine to 1/divFinal.
  public static func flatCos(divFinal: Double = 1e5, pctStart: Double = 0.75) -> Schedule {
    combinedCos(pctStart, 1, 1, 1 / divFinal)
  }
}

/// A learning rate for several parameter groups, as fastai takes it.
public enum LearningRate: Sendable, Equatable {
  /// The same lr for every group.
  case value(Double)
  /// fastai's slice(v): v/10 for every group but the last, v for the last.
  case upTo(Double)
  /// fastai's slice(lo, hi): spread geometrically from lo (first group) to hi (last), fastai's even_mults.
  case range(Double, Double)

  public func perGroup(_ n: Int) -> [Double] {
    switch self {
    case .value(let v): return Array(repeating: v, count: n)
    case .upTo(let v): return Array(repeating: v / 10, count: Swift.max(n - 1, 0)) + (n > 0 ? [v] : [])
    case .range(let lo, let hi):
      guard n > 1 else { return [hi] }
      let step = pow(hi / lo, 1 / Double(n - 1))
      return (0..<n).map { lo * pow(step, Double($0)) }
    }
  }

  /// The largest rate (the last group's).
  public var max: Double { perGroup(2).last! }
}
