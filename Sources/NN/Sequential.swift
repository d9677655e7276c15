import Torch

/// Modules applied in order; children are named "0", "1", … as in nn.Sequential.
open class Sequential: Module {
  public let layers: [Module]

  public init(_ layers: [Module]) {
    self.layers = layers
    super.init()
  }

  public convenience init(_ layers: Module...) { self.init(layers) }

  open override func namedChildren() -> [(String, Module)] {
    layers.enumerated().map { (String($0.offset), $0.element) }
  }

  open override func forward(_ x: Tensor) throws -> Tensor {
    var h = x
    for layer in layers { h = try layer(h) }
    return h
  }

  public subscript(i: Int) -> Module { layers[i] }
  public var count: Int { layers.count }
}
