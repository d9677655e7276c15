import Torch

/// A network that turns images into features: the part a pretext task trains and a downstream task reuses.
public protocol Backbone: Module {
  /// Channels of the pooled features.
  var featureCount: Int { get }
  /// The feature map after each stage, finest first (xresnet: strides 4, 8, 16, 32).
  func featureMaps(_ x: Tensor) throws -> [Tensor]
  /// Pooled features, N × featureCount.
  func features(_ x: Tensor) throws -> Tensor
}

extension XResNet: Backbone {
  public var featureCount: Int { pooledFeatures }

  public func featureMaps(_ x: Tensor) throws -> [Tensor] {
    var h = x, maps: [Tensor] = []
    for i in 0..<headStart {
      h = try layers[i](h)
      if i >= 4 { maps.append(h) }  // after the stem (0–2) and the pool (3): the four stages
    }
    return maps
  }

  public func features(_ x: Tensor) throws -> Tensor {
    var h = x
    for i in 0..<(headStart + 2) { h = try layers[i](h) }  // body, adaptive pool, flatten
    return h
  }
}

/// An xresnet body (stem, pool, stages) with average pooling: the backbone of the joint-embedding tasks,
/// and the one module a multi-task run shares between its tasks. `body`'s keys are the classifier's.
public final class PooledEncoder: Module, Backbone {
  public let body: Sequential
  public let featureCount: Int

  /// Over `body` (a shared body is passed by reference: every module built on it trains the same weights).
  public init(body: Sequential) throws {
    self.body = body
    // The width of the last stage, from a tiny forward in eval mode (no statistics touched, no grad).
    body.eval()
    defer { body.train() }
    // As many channels as the stem's first convolution takes (3, or 1 for gray models).
    let channels = body.parameters().first { $0.value.shape.count == 4 }?.value.shape[1] ?? 3
    let probe = try Tensor.zeros([1, channels, 32, 32])
    featureCount = try withNoGrad { [body] in try body(probe).shape[1] }
    super.init()
  }

  public func featureMaps(_ x: Tensor) throws -> [Tensor] {
    var h = x, maps: [Tensor] = []
    for (i, layer) in body.layers.enumerated() {
      h = try layer(h)
      if i >= 4 { maps.append(h) }
    }
    return maps
  }

  public func features(_ x: Tensor) throws -> Tensor { try adaptiveAvgPool2d(body(x), outputSize: (1, 1)).flatten(start: 1) }
  public override func forward(_ x: Tensor) throws -> Tensor { try features(x) }
}

/// A pooled encoder with a linear head (RotNet's 4-way head; a linear probe's classifier).
public final class EncoderClassifier: Module, ParameterGroups {
  public let encoder: PooledEncoder
  public let head: Linear

  public init(_ encoder: PooledEncoder, classes: Int) throws {
    self.encoder = encoder
    head = try Linear(encoder.featureCount, classes)
    super.init()
    // fastai's init_cnn for the head, as the xresnet classifier's.
    try withNoGrad {
      try head.weight.value.copy_(Init.kaimingNormal(head.weight.value.shape))
      try head.bias?.value.zero_()
    }
  }

  public override func forward(_ x: Tensor) throws -> Tensor { try head(encoder.features(x)) }

  /// The stem / the rest of the encoder / the head.
  public func parameterGroups() -> [[(name: String, parameter: Parameter)]] {
    let (stem, rest) = encoder.stemAndRest(prefix: "encoder")
    return [stem, rest, head.namedParameters(prefix: "head")]
  }
}

extension PooledEncoder {
  /// The body's parameters split as fastai's xresnet splitter: the 3 stem convs, and the rest.
  public func stemAndRest(prefix: String) -> (stem: [(name: String, parameter: Parameter)], rest: [(name: String, parameter: Parameter)]) {
    let all = namedParameters(prefix: prefix)
    let stemCount = body.layers.prefix(3).map { $0.namedParameters().count }.reduce(0, +)
    return (Array(all.prefix(stemCount)).map { ($0.0, $0.1) }, Array(all.dropFirst(stemCount)).map { ($0.0, $0.1) })
  }
}
