import Torch

/// A 1-d convolution with spectral normalisation (torch.nn.utils.spectral_norm on nn.Conv1d, as fastai
/// uses in its attention layers): the weight used is weight_orig / σ, σ estimated by one power iteration
/// per training forward (updating weight_u and weight_v in place); evaluation reuses the stored u, v.
/// State-dict keys are PyTorch's: weight_orig, weight_u, weight_v.
public final class SpectralNormConv1d: Module {
  public let weightOrig: Parameter
  public let weightU: Buffer
  public let weightV: Buffer
  public let padding: Int
  static let eps = 1e-12

  public init(_ ni: Int, _ no: Int, kernelSize: Int = 1, padding: Int = 0, kaimingInit: Bool) throws {
    let shape = [no, ni, kernelSize]
    weightOrig = try Parameter(kaimingInit ? Init.kaimingNormal(shape) : Init.torchDefault(shape))
    weightU = Buffer(try Self.normalize(Tensor.randn([no], generator: Init.current(nil))))
    weightV = Buffer(try Self.normalize(Tensor.randn([ni * kernelSize], generator: Init.current(nil))))
    self.padding = padding
    super.init()
  }

  static func normalize(_ t: Tensor) throws -> Tensor { try t / t.norm().clamp(min: .float(eps)) }

  /// The normalised weight.
  public func weight() throws -> Tensor {
    let w = weightOrig.value
    let matrix = try w.reshape([w.shape[0], -1])
    if isTraining {
      try withNoGrad {
        let v = try Self.normalize(matrix.transpose(0, 1).matmul(weightU.value))
        let u = try Self.normalize(matrix.matmul(v))
        try weightV.value.copy_(v)
        try weightU.value.copy_(u)
      }
    }
    let sigma = try (weightU.value * matrix.matmul(weightV.value)).sum()
    return try w / sigma
  }

  public override func forward(_ x: Tensor) throws -> Tensor {
    try conv(x, weight: weight(), padding: [padding])
  }
}

/// fastai's SimpleSelfAttention (used by xresnet's `sa`): o = γ · (x xᵀ) conv(x) + x over the flattened
/// spatial positions, γ starting at 0.
public final class SimpleSelfAttention: Module {
  public let conv: SpectralNormConv1d
  public let gamma: Parameter

  public init(_ channels: Int, kernelSize: Int = 1) throws {
    conv = try SpectralNormConv1d(channels, channels, kernelSize: kernelSize, padding: kernelSize / 2, kaimingInit: true)
    gamma = try Parameter(Tensor.zeros([1]))
    super.init()
  }

  public override func forward(_ x: Tensor) throws -> Tensor {
    let size = x.shape
    let flat = try x.view([size[0], size[1], -1])
    let convx = try conv(flat)
    let xxT = try flat.bmm(flat.permute([0, 2, 1]).contiguous())
    let o = try gamma.value * xxT.bmm(convx) + flat
    return try o.view(size).contiguous()
  }
}

/// fastai's SelfAttention (the U-Net's `self_attention`): query/key/value 1×1 spectral-norm ConvLayers,
/// o = γ · value · softmax(queryᵀ key) + x.
public final class SelfAttention: Module {
  public let query: Sequential
  public let key: Sequential
  public let value: Sequential
  public let gamma: Parameter

  public init(_ channels: Int) throws {
    func branch(_ out: Int) throws -> Sequential {
      Sequential(try SpectralNormConv1d(channels, out, kaimingInit: false))
    }
    gamma = try Parameter(Tensor.zeros([1]))
    query = try branch(channels / 8)
    key = try branch(channels / 8)
    value = try branch(channels)
    super.init()
  }

  public override func forward(_ x: Tensor) throws -> Tensor {
    let size = x.shape
    let flat = try x.view([size[0], size[1], -1])
    let (f, g, h) = (try query(flat), try key(flat), try value(flat))
    let beta = try softmax(f.transpose(1, 2).bmm(g), dim: 1)
    let o = try gamma.value * h.bmm(beta) + flat
    return try o.view(size).contiguous()
  }
}
