// lightly's heads: the projectors and predictors of the joint-embedding methods.
import NN
import Torch

/// lightly's ProjectionHead: blocks of Linear (without bias when a BatchNorm follows) → BatchNorm1d? → ReLU?,
/// under lightly's keys (`layers.0.weight`, …), so its heads' weights load as they are.
public final class ProjectionHead: Module {
  public struct Block: Sendable {
    public var inputs: Int, outputs: Int
    /// BatchNorm1d after the linear layer: nil for none, else whether it is affine.
    public var batchNorm: Bool?
    public var relu: Bool
    public init(_ inputs: Int, _ outputs: Int, batchNorm: Bool? = nil, relu: Bool = false) {
      (self.inputs, self.outputs, self.batchNorm, self.relu) = (inputs, outputs, batchNorm, relu)
    }
  }

  public let layers: Sequential
  /// The last block's width.
  public let outputCount: Int

  public init(_ blocks: [Block]) throws {
    precondition(!blocks.isEmpty, "a projection head needs a block")
    outputCount = blocks.last!.outputs
    var layers: [Module] = []
    for b in blocks {
      layers.append(try Linear(b.inputs, b.outputs, bias: b.batchNorm == nil))
      if let affine = b.batchNorm { layers.append(try BatchNorm1d(b.outputs, affine: affine)) }
      if b.relu { layers.append(ReLU()) }
    }
    self.layers = Sequential(layers)
    super.init()
  }

  public override func forward(_ x: Tensor) throws -> Tensor { try layers(x) }

  /// SimCLR v1 (lightly's SimCLRProjectionHead, 2 layers, batch norm): in → hidden (BN, ReLU) → out (BN).
  public static func simCLR(_ inputs: Int, hidden: Int, outputs: Int) throws -> ProjectionHead {
    try ProjectionHead([Block(inputs, hidden, batchNorm: true, relu: true), Block(hidden, outputs, batchNorm: true)])
  }

  /// BYOL's projector and predictor (lightly's BYOLProjectionHead / BYOLPredictionHead): in → hidden (BN,
  /// ReLU) → out.
  public static func byol(_ inputs: Int, hidden: Int, outputs: Int) throws -> ProjectionHead {
    try ProjectionHead([Block(inputs, hidden, batchNorm: true, relu: true), Block(hidden, outputs)])
  }

  /// SimSiam's projector (lightly's SimSiamProjectionHead): 3 layers, the last BN without affine parameters.
  public static func simSiamProjector(_ inputs: Int, hidden: Int, outputs: Int) throws -> ProjectionHead {
    try ProjectionHead([Block(inputs, hidden, batchNorm: true, relu: true), Block(hidden, hidden, batchNorm: true, relu: true),
                        Block(hidden, outputs, batchNorm: false)])
  }

  /// SwAV's projector (lightly's SwaVProjectionHead): in → hidden (BN, ReLU) → out.
  public static func swav(_ inputs: Int, hidden: Int, outputs: Int) throws -> ProjectionHead {
    try byol(inputs, hidden: hidden, outputs: outputs)
  }

  /// SimSiam's bottleneck predictor (lightly's SimSiamPredictionHead): in → hidden (BN, ReLU) → out.
  public static func simSiamPredictor(_ inputs: Int, hidden: Int, outputs: Int) throws -> ProjectionHead {
    try byol(inputs, hidden: hidden, outputs: outputs)
  }
}
