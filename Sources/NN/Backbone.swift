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
  public var featureCount: Int { (layers.last as! Linear).weight.value.shape[1] }

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

/// An MLP head (SimCLR's projector, BYOL's predictor): Linear → ReLU → … → Linear.
public final class MLPHead: Sequential {
  public init(_ widths: [Int]) throws {
    precondition(widths.count >= 2, "an MLP needs input and output widths")
    var layers: [Module] = []
    for i in 0..<(widths.count - 1) {
      layers.append(try Linear(widths[i], widths[i + 1]))
      if i < widths.count - 2 { layers.append(ReLU()) }
    }
    super.init(layers)
  }
}
