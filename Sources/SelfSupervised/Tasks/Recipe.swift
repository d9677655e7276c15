import Foundation
import NN
import Training

/// How a pretext is optimised: the optimizer, its learning rate (scaled with the batch as the papers do), weight
/// decay and the learning-rate schedule over the run. The study trains every task with one recipe (Ranger +
/// flat-cos, `TrainingRecipe.study`) so that a comparison of tasks holds the optimizer fixed;
/// `--pretext-recipe paper` trains a task with its paper's (`PretextTask.paperRecipe`), at the run's batch
/// and length: the warm-up and decay points are fractions of the run, as in the paper's schedule.
public struct TrainingRecipe: Sendable, Equatable {
  public enum Optimizer: Sendable, Equatable {
    /// fastai's ranger (RAdam + Lookahead); β₁ 0.95, β₂ 0.99, the study's.
    case ranger
    case lars(momentum: Double)
    case sgd(momentum: Double, nesterov: Bool)
    /// Adam with L2 weight decay, or with `decoupled` AdamW.
    case adam(beta1: Double, beta2: Double, decoupled: Bool)
  }
  public enum Decay: Sendable, Equatable {
    /// fastai's flat-cos: flat for 75 % of the run, then half a cosine to lr / 1e5.
    case flatCos
    /// Half a cosine from the peak to `final` × the peak, after the warm-up.
    case cosine(final: Double)
    /// × `factor` at each fraction of the run in `at`.
    case steps(at: [Double], factor: Double)
    /// fastai's fit_one_cycle: lr up from peak/25 over the first 25 %, cosine down to peak/1e5; momentum
    /// (Adam's β₁) 0.95 → 0.85 → 0.95.
    case oneCycle
  }
  public var optimizer: Optimizer
  /// The learning rate at a batch of 256 (linear scaling: lr = this × batch / 256); nil: `fixedLR` as it is.
  public var lrPer256: Double?
  public var fixedLR: Double = 0
  public var weightDecay: Double
  /// Adam's ε.
  public var eps: Double = 1e-8
  /// Linear warm-up from 0 over this fraction of the run.
  public var warmup: Double = 0
  public var decay: Decay
  /// Where the numbers come from, for the run's record.
  public var source: String

  /// The study's recipe: Ranger, flat-cos, `lr` as given (not scaled with the batch).
  public static func study(lr: Double, weightDecay: Double) -> TrainingRecipe {
    TrainingRecipe(optimizer: .ranger, lrPer256: nil, fixedLR: lr, weightDecay: weightDecay, decay: .flatCos,
                   source: "the study's (fastai's ranger, fit_flat_cos)")
  }

  /// fastai's defaults for a Learner: Adam (β 0.9/0.99, ε 1e-5, decoupled weight decay), fit_one_cycle at `lr`.
  public static func fastai(lr: Double, weightDecay: Double) -> TrainingRecipe {
    TrainingRecipe(optimizer: .adam(beta1: 0.9, beta2: 0.99, decoupled: true), lrPer256: nil, fixedLR: lr, weightDecay: weightDecay,
                   eps: 1e-5, decay: .oneCycle, source: "fastai's defaults (Adam, fit_one_cycle)")
  }

  public func learningRate(batch: Int) -> Double { lrPer256.map { $0 * Double(batch) / 256 } ?? fixedLR }

  /// The optimizer over the model's parameter groups (weight decay skips BatchNorm and biases: fastai's rule,
  /// and the papers' LARS exclusion).
  public func makeOptimizer(for model: any ParameterGroups, batch: Int) -> Training.Optimizer {
    let lr = learningRate(batch: batch)
    switch optimizer {
    case .ranger:
      return ranger(ParamGroup.groups(of: model, lr: lr), weightDecay: weightDecay)
    case .lars(let momentum):
      return LARS(groups: ParamGroup.groups(of: model, lr: lr, momentum: momentum, weightDecay: weightDecay))
    case .sgd(let momentum, let nesterov):
      return SGD(groups: ParamGroup.groups(of: model, lr: lr, momentum: momentum, weightDecay: weightDecay), nesterov: nesterov)
    case .adam(let beta1, let beta2, let decoupled):
      return Adam(groups: ParamGroup.groups(of: model, lr: lr, momentum: beta1, sqrMomentum: beta2, eps: eps, weightDecay: weightDecay),
                  decoupled: decoupled)
    }
  }

  /// The fit: `epochs` at the recipe's peak rate along its schedule.
  public func plan(epochs: Int, batch: Int) -> FitPlan {
    let lr = learningRate(batch: batch)
    if decay == .flatCos && warmup == 0 { return .flatCos(epochs: epochs, lr: .value(lr)) }
    if decay == .oneCycle { return .oneCycle(epochs: epochs, lr: .value(lr)) }
    return FitPlan(epochs: epochs, lr: .value(lr), lrSchedule: schedule)
  }

  /// The multiplier of the peak rate at progress `pos` ∈ [0, 1].
  public var schedule: Schedule {
    let (warmup, decay) = (warmup, decay)
    let flat = Schedule.flatCos()
    return Schedule { pos in
      if warmup > 0 && pos < warmup { return pos / warmup }
      let t = warmup < 1 ? (pos - warmup) / (1 - warmup) : 1
      switch decay {
      case .flatCos: return flat(t)
      case .cosine(let final): return final + (1 - final) * (1 + cos(Double.pi * t)) / 2
      case .steps(let at, let factor): return at.filter { pos >= $0 }.reduce(1) { r, _ in r * factor }
      case .oneCycle: return Schedule.oneCycle()(t)
      }
    }
  }
}
