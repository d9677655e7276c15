import NN
import Torch

/// Parameters that share hyper-parameters (fastai's parameter groups / torch's param_groups). Schedules
/// change `lr` and `momentum` every batch; discriminative learning rates give each group its own `lr`.
public final class ParamGroup: @unchecked Sendable {
  public let names: [String]
  public let params: [Parameter]
  /// Per parameter: whether weight decay applies (fastai leaves BatchNorm and bias parameters alone).
  public let decays: [Bool]
  public var lr: Double
  /// SGD's momentum, or Adam's β₁ (fastai's `mom`).
  public var momentum: Double
  /// Adam's β₂ (fastai's `sqr_mom`).
  public var sqrMomentum: Double
  public var eps: Double
  public var weightDecay: Double

  public init(
    names: [String], params: [Parameter], decays: [Bool]? = nil, lr: Double, momentum: Double = 0.9,
    sqrMomentum: Double = 0.999, eps: Double = 1e-8, weightDecay: Double = 0
  ) {
    precondition(names.count == params.count && (decays?.count ?? params.count) == params.count)
    (self.names, self.params, self.decays) = (names, params, decays ?? Array(repeating: true, count: params.count))
    (self.lr, self.momentum, self.sqrMomentum, self.eps, self.weightDecay) = (lr, momentum, sqrMomentum, eps, weightDecay)
  }
}

extension ParamGroup {
  /// Groups from a model's splitter; weight decay skips BatchNorm and bias parameters unless
  /// `decayBatchNormAndBias` (fastai's wd_bn_bias).
  public static func groups<M: ParameterGroups>(
    of model: M, lr: Double, momentum: Double = 0.9, sqrMomentum: Double = 0.999, eps: Double = 1e-8,
    weightDecay: Double = 0, decayBatchNormAndBias: Bool = false
  ) -> [ParamGroup] {
    let bn = model.batchNormParameterNames()
    return model.parameterGroups().map { group in
      ParamGroup(
        names: group.map(\.name), params: group.map(\.parameter),
        decays: group.map { decayBatchNormAndBias || !(bn.contains($0.name) || $0.name.hasSuffix("bias")) },
        lr: lr, momentum: momentum, sqrMomentum: sqrMomentum, eps: eps, weightDecay: weightDecay)
    }
  }

  /// One group holding every parameter of any module.
  public static func single(
    _ model: Module, lr: Double, momentum: Double = 0.9, sqrMomentum: Double = 0.999, eps: Double = 1e-8,
    weightDecay: Double = 0, decayBatchNormAndBias: Bool = false
  ) -> [ParamGroup] {
    let named = model.namedParameters()
    let bn = Set(model.namedModules().flatMap { p, m in m is BatchNorm2d ? m.namedParameters(prefix: p).map(\.0) : [] })
    return [ParamGroup(
      names: named.map(\.0), params: named.map(\.1),
      decays: named.map { decayBatchNormAndBias || !(bn.contains($0.0) || $0.0.hasSuffix("bias")) },
      lr: lr, momentum: momentum, sqrMomentum: sqrMomentum, eps: eps, weightDecay: weightDecay)]
  }
}

/// The parameters of one group that take part in a step (trainable, with a gradient), split by whether
/// weight decay applies, with their per-parameter state.
public struct StepBatch {
  public let group: ParamGroup
  public let params: [Tensor]
  public let grads: [Tensor]
  /// Index of each parameter in its group (to find its state).
  public let keys: [String]
  public let decay: Bool
}

/// Base of every optimizer: owns the groups and a per-parameter state (tensors by name), and calls
/// `update` with the parameters that have gradients, split into weight-decayed and not.
open class Optimizer: @unchecked Sendable {
  public let groups: [ParamGroup]
  /// State per parameter (key: group index / parameter name) and per slot ("exp_avg", "step", …).
  public var state: [String: [String: Tensor]] = [:]
  public private(set) var stepCount = 0

  public init(groups: [ParamGroup]) { self.groups = groups }

  /// Applies one update to every trainable parameter that has a gradient.
  open func step() throws {
    try withNoGrad {
      for (gi, group) in groups.enumerated() {
        for decay in [true, false] {
          var params: [Tensor] = [], grads: [Tensor] = [], keys: [String] = []
          for (i, p) in group.params.enumerated() where group.decays[i] == decay && p.requiresGrad {
            guard let g = p.value.grad else { continue }
            params.append(p.value)
            grads.append(g)
            keys.append("\(gi)/\(group.names[i])")
          }
          if !params.isEmpty {
            try update(StepBatch(group: group, params: params, grads: grads, keys: keys, decay: decay))
          }
        }
      }
    }
    stepCount += 1
  }

  /// The algorithm; subclasses override. Runs without autograd.
  open func update(_ batch: StepBatch) throws {
    throw TorchError(operation: "\(type(of: self)).update", message: "no update rule")
  }

  /// Forgets every gradient (set to none, as PyTorch's zero_grad default).
  public func zeroGrad() throws {
    for g in groups { for p in g.params { try p.value.clearGrad() } }
  }

  /// The state tensor `slot` of parameter `key` in the memory layout of `param` (zeros on first use). A state
  /// restored from a checkpoint is stored contiguous; torch's fused kernels walk parameter, gradient and
  /// state as flat arrays, so a channels-last parameter needs its state channels-last too.
  public func slot(_ key: String, _ name: String, like param: Tensor) throws -> Tensor {
    let t = try slot(key, name) { try param.zerosLike() }
    guard !t.hasSameLayout(as: param) else { return t }
    let relaid = try param.zerosLike()
    try relaid.copy_(t)
    state[key, default: [:]][name] = relaid
    return relaid
  }

  /// The state tensor `slot` of parameter `key`, created by `make` on first use.
  public func slot(_ key: String, _ name: String, _ make: () throws -> Tensor) rethrows -> Tensor {
    if let t = state[key]?[name] { return t }
    let t = try make()
    state[key, default: [:]][name] = t
    return t
  }

  // MARK: Saving

  /// State as named tensors ("state.<group>/<param>.<slot>") plus the step count, for checkpoints.
  open func stateTensors() throws -> [(name: String, tensor: Tensor)] {
    var out: [(String, Tensor)] = [("optimizer.step_count", try Tensor(scalar: Int64(stepCount)))]
    for key in state.keys.sorted() {
      for slot in state[key]!.keys.sorted() { out.append(("optimizer.state.\(key).\(slot)", state[key]![slot]!)) }
    }
    for (i, g) in groups.enumerated() {
      out.append(("optimizer.group.\(i).hyper", try Tensor([g.lr, g.momentum, g.sqrMomentum, g.eps, g.weightDecay])))
    }
    return out
  }

  /// Restores what `stateTensors` saved (tensors are copied, so the source may be a mapped file).
  open func loadStateTensors(_ tensors: [(name: String, tensor: Tensor)]) throws {
    var found = false
    state = [:]
    for (name, t) in tensors {
      if name == "optimizer.step_count" {
        stepCount = Int(try t.item().doubleValue)
        found = true
      } else if name.hasPrefix("optimizer.state.") {
        let rest = name.dropFirst("optimizer.state.".count)
        guard let dot = rest.lastIndex(of: ".") else { continue }
        state[String(rest[..<dot]), default: [:]][String(rest[rest.index(after: dot)...])] = try t.clone()
      } else if name.hasPrefix("optimizer.group."), let i = Int(name.split(separator: ".")[2]), i < groups.count {
        let h = try t.toArray(of: Double.self)
        (groups[i].lr, groups[i].momentum, groups[i].sqrMomentum, groups[i].eps, groups[i].weightDecay) = (h[0], h[1], h[2], h[3], h[4])
      }
    }
    if !found { throw TorchError(operation: "Optimizer.loadStateTensors", message: "no optimizer state in the checkpoint") }
  }
}
