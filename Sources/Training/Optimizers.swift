import Foundation
import NN
import Torch

/// SGD as torch.optim.SGD: weight decay added to the gradient (L2), momentum with dampening, Nesterov;
/// torch's fused kernel does the step.
public final class SGD: Optimizer {
  public let dampening: Double
  public let nesterov: Bool

  public init(groups: [ParamGroup], dampening: Double = 0, nesterov: Bool = false) {
    (self.dampening, self.nesterov) = (dampening, nesterov)
    super.init(groups: groups)
  }

  public override func update(_ b: StepBatch) throws {
    let g = b.group
    let first = state[b.keys[0]]?["momentum_buffer"] == nil
    let buffers = g.momentum == 0 ? [] : try zip(b.keys, b.params).map { key, p in try slot(key, "momentum_buffer", like: p) }
    try Foreach.fusedSGD_(
      params: b.params, grads: b.grads, momentumBuffers: buffers, lr: g.lr, momentum: g.momentum,
      dampening: dampening, weightDecay: b.decay ? g.weightDecay : 0, nesterov: nesterov, isFirstStep: first)
  }
}

/// LARS as lightly's (`lightly.utils.lars.LARS`, the optimizer of SimCLR, BYOL and SwAV): where weight decay
/// applies and both ‖p‖ and ‖g‖ are non-zero, the step direction is (g + wd·p) scaled by the trust ratio
/// η·‖p‖ / (‖g‖ + wd·‖p‖ + ε); then torch's SGD momentum on that direction. Parameters without weight decay
/// (BatchNorm and biases: lightly's examples give them a group with weight decay 0) take plain SGD steps.
public final class LARS: Optimizer {
  public let trustCoefficient: Double, dampening: Double, nesterov: Bool

  public init(groups: [ParamGroup], trustCoefficient: Double = 0.001, dampening: Double = 0, nesterov: Bool = false) {
    (self.trustCoefficient, self.dampening, self.nesterov) = (trustCoefficient, dampening, nesterov)
    super.init(groups: groups)
  }

  public override func update(_ b: StepBatch) throws {
    let g = b.group, wd = b.decay ? g.weightDecay : 0
    let directions = wd == 0 ? b.grads : try zip(b.params, b.grads).map { p, grad in
      let pn = try p.norm(), gn = try grad.norm()
      // 1 where lightly adapts (both norms non-zero), else 0: then the gradient passes unchanged.
      let adapt = try (pn .!= 0).logicalAnd(gn .!= 0).to(dtype: p.dtype)
      let ratio = try pn / (gn + pn * wd + g.eps) * trustCoefficient
      return try (grad + p * wd * adapt) * (adapt * ratio + (1 - adapt))
    }
    let first = state[b.keys[0]]?["momentum_buffer"] == nil
    let buffers = g.momentum == 0 ? [] : try zip(b.keys, b.params).map { key, p in try slot(key, "momentum_buffer", like: p) }
    try Foreach.fusedSGD_(
      params: b.params, grads: directions, momentumBuffers: buffers, lr: g.lr, momentum: g.momentum,
      dampening: dampening, weightDecay: 0, nesterov: nesterov, isFirstStep: first)
  }
}

/// Adam as torch.optim.Adam (L2 weight decay) or, with `decoupled`, AdamW (p ← p·(1 − lr·wd));
/// torch's fused kernel does the step. β₁ = group.momentum, β₂ = group.sqrMomentum.
public final class Adam: Optimizer {
  public let decoupled: Bool

  public init(groups: [ParamGroup], decoupled: Bool = false) {
    self.decoupled = decoupled
    super.init(groups: groups)
  }

  public override func update(_ b: StepBatch) throws {
    let g = b.group
    let m = try zip(b.keys, b.params).map { key, p in try slot(key, "exp_avg", like: p) }
    let v = try zip(b.keys, b.params).map { key, p in try slot(key, "exp_avg_sq", like: p) }
    let steps = try b.keys.map { key in try slot(key, "step") { try Tensor.zeros([], dtype: .float32, device: b.params[0].device) } }
    try Foreach.fusedAdam_(
      params: b.params, grads: b.grads, expAvgs: m, expAvgSqs: v, steps: steps, lr: g.lr, beta1: g.momentum,
      beta2: g.sqrMomentum, weightDecay: b.decay ? g.weightDecay : 0, eps: g.eps, decoupled: decoupled)
  }
}

/// RAdam (rectified Adam). `.torch` follows torch.optim.RAdam (ε added to √v, L2 or decoupled decay);
/// `.fastai` follows fastai's RAdam (ε added to √(v / bias correction), decoupled decay), which Ranger uses.
public final class RAdam: Optimizer {
  public enum Style: Sendable { case torch, fastai }
  public let style: Style
  public let decoupled: Bool

  public init(groups: [ParamGroup], style: Style = .torch, decoupled: Bool = false) {
    (self.style, self.decoupled) = (style, style == .fastai ? true : decoupled)
    super.init(groups: groups)
  }

  public override func update(_ b: StepBatch) throws {
    let g = b.group
    let (beta1, beta2) = (g.momentum, g.sqrMomentum)
    let wd = b.decay ? g.weightDecay : 0
    let m = try zip(b.keys, b.params).map { key, p in try slot(key, "exp_avg", like: p) }
    let v = try zip(b.keys, b.params).map { key, p in try slot(key, "exp_avg_sq", like: p) }
    let stepTensor = try slot(b.keys[0], "step") { try Tensor.zeros([], dtype: .float64) }
    try stepTensor.add_(1)
    for key in b.keys.dropFirst() { state[key, default: [:]]["step"] = stepTensor }
    let t = try stepTensor.item().doubleValue
    let bc1 = 1 - pow(beta1, t), bc2 = 1 - pow(beta2, t)
    let rhoInf = 2 / (1 - beta2) - 1
    let rho = rhoInf - 2 * t * pow(beta2, t) / bc2
    if rho > 5 {
      // The rectified step is Adam's with lr·rect, so torch's fused Adam kernel does decay, moments and update
      // in one pass over the memory (instead of eight foreach passes):
      //   fastai: p −= lr·rect/bc1 · m / (√v/√bc2 + ε)       = Adam(lr·rect, ε)
      //   torch:  p −= lr·rect/bc1 · m / ((√v + ε)/√bc2)     = Adam(lr·rect, ε/√bc2)
      // Decoupled decay p ← p·(1 − lr·wd) is the kernel's p·(1 − lr·rect · wd/rect).
      let rect = ((rho - 4) * (rho - 2) * rhoInf / ((rhoInf - 4) * (rhoInf - 2) * rho)).squareRoot()
      let step = try Tensor(scalar: Float(t)).to(b.params[0].device)
      try Foreach.fusedAdam_(
        params: b.params, grads: b.grads, expAvgs: m, expAvgSqs: v, steps: Array(repeating: step, count: b.params.count),
        lr: g.lr * rect, beta1: beta1, beta2: beta2, weightDecay: decoupled ? wd / rect : wd,
        eps: style == .fastai ? g.eps : g.eps / bc2.squareRoot(), decoupled: decoupled, incrementSteps: false)
      return
    }
    // The first steps (variance not yet tractable): momentum SGD with bias correction.
    var grads = b.grads
    if wd != 0 {
      if decoupled {
        try Foreach.mul_(b.params, .float(1 - g.lr * wd))
      } else {
        grads = try zip(grads, b.params).map { gr, p in try gr + p * wd }
      }
    }
    // m ← β₁m + (1−β₁)g ; v ← β₂v + (1−β₂)g²
    try Foreach.lerp_(m, grads, weight: .float(1 - beta1))
    try Foreach.mul_(v, .float(beta2))
    try Foreach.addcmul_(v, grads, grads, value: .float(1 - beta2))
    try Foreach.add_(b.params, m, alpha: .float(-g.lr / bc1))
  }
}

/// Lookahead (fastai's): every `k` steps of the inner optimizer, slow weights move `alpha` of the way
/// to the fast ones and the fast weights restart from them.
public final class Lookahead: Optimizer {
  public let inner: Optimizer
  public let k: Int
  public let alpha: Double

  public init(_ inner: Optimizer, k: Int = 6, alpha: Double = 0.5) {
    (self.inner, self.k, self.alpha) = (inner, k, alpha)
    super.init(groups: inner.groups)
  }

  public override func step() throws {
    let params = groups.flatMap { g in zip(g.names, g.params).map { ("\($0.0)", $0.1) } }
    // Slow weights start as the weights before the first step.
    try withNoGrad {
      for (i, (name, p)) in params.enumerated() {
        _ = try slot("slow/\(i)/\(name)", "slow") { try p.value.detach().clone() }
      }
    }
    try inner.step()
    try withNoGrad {
      if (inner.stepCount) % k == 0 {
        let slow = params.enumerated().map { i, np in state["slow/\(i)/\(np.0)"]!["slow"]! }
        let fast = params.map(\.1.value)
        try Foreach.lerp_(slow, fast, weight: .float(alpha))
        try Foreach.copy_(fast, slow)
      }
    }
  }

  public override func stateTensors() throws -> [(name: String, tensor: Tensor)] {
    let own = try super.stateTensors().filter { !$0.name.hasPrefix("optimizer.group.") && $0.name != "optimizer.step_count" }
    return try inner.stateTensors() + own.map { ("lookahead." + $0.name, $0.tensor) }
  }

  public override func loadStateTensors(_ tensors: [(name: String, tensor: Tensor)]) throws {
    try inner.loadStateTensors(tensors.filter { !$0.name.hasPrefix("lookahead.") })
    state = [:]
    for (name, t) in tensors where name.hasPrefix("lookahead.optimizer.state.") {
      let rest = name.dropFirst("lookahead.optimizer.state.".count)
      guard let dot = rest.lastIndex(of: ".") else { continue }
      state[String(rest[..<dot]), default: [:]][String(rest[rest.index(after: dot)...])] = try t.clone()
    }
  }
}

/// fastai's ranger: Lookahead(RAdam) with mom 0.95, sqr_mom 0.99, eps 1e-6, decoupled wd 0.01, k 6,
/// alpha 0.5 (groups' momentum/eps/weight decay are set to these defaults unless given).
public func ranger(
  _ groups: [ParamGroup], momentum: Double = 0.95, sqrMomentum: Double = 0.99, eps: Double = 1e-6,
  weightDecay: Double = 0.01, k: Int = 6, alpha: Double = 0.5
) -> Lookahead {
  for g in groups { (g.momentum, g.sqrMomentum, g.eps, g.weightDecay) = (momentum, sqrMomentum, eps, weightDecay) }
  return Lookahead(RAdam(groups: groups, style: .fastai), k: k, alpha: alpha)
}
