import Torch

/// A model that splits its parameters into groups, first (closest to the input) to last, like fastai's
/// splitters: used for discriminative learning rates and for freezing.
public protocol ParameterGroups: Module {
  func parameterGroups() -> [[(name: String, parameter: Parameter)]]
}

extension XResNet: ParameterGroups {
  /// fastai's xresnet split: the 3 stem convs / the rest of the body / the head.
  public func parameterGroups() -> [[(name: String, parameter: Parameter)]] {
    let all = namedParameters()
    func group(_ range: Range<Int>) -> [(name: String, parameter: Parameter)] {
      all.filter { range.contains(Int($0.0.prefix { $0 != "." })!) }.map { ($0.0, $0.1) }
    }
    return [group(0..<3), group(3..<headStart), group(headStart..<layers.count)]
  }
}

extension DynamicUnet: ParameterGroups {
  /// The encoder's stem / the rest of the encoder / the decoder.
  public func parameterGroups() -> [[(name: String, parameter: Parameter)]] {
    let all = namedParameters()
    let encoder = all.filter { $0.0.hasPrefix("layers.0.") }
    let stem = encoder.filter { Int($0.0.split(separator: ".")[2])! < 3 }
    let rest = encoder.filter { Int($0.0.split(separator: ".")[2])! >= 3 }
    let decoder = all.filter { !$0.0.hasPrefix("layers.0.") }
    return [stem, rest, decoder].map { $0.map { ($0.0, $0.1) } }
  }
}

extension ParameterGroups {
  /// fastai's freeze: only the last `trainable` groups train; BatchNorm parameters everywhere stay
  /// trainable when `trainBatchNorm` (fastai's train_bn, its default).
  public func freeze(keepingLast trainable: Int = 1, trainBatchNorm: Bool = true) throws {
    let groups = parameterGroups()
    let bn = batchNormParameterNames()
    for (i, group) in groups.enumerated() {
      let frozenGroup = i < groups.count - trainable
      for (name, p) in group { try p.setRequiresGrad(!frozenGroup || (trainBatchNorm && bn.contains(name))) }
    }
  }

  /// Names of the parameters that belong to BatchNorm layers.
  public func batchNormParameterNames() -> Set<String> {
    Set(namedModules().flatMap { prefix, m in
      m is BatchNorm2d || m is BatchNorm1d ? m.namedParameters(prefix: prefix).map(\.0) : []
    })
  }
}
