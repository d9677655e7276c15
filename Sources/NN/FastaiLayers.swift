import Torch

/// fastai's ConvLayer: conv → BatchNorm → activation (each optional), an nn.Sequential ("0" conv, "1" …).
/// Without BatchNorm the conv carries a bias. `zeroBN` starts the BatchNorm's weight at 0 (fastai's
/// BatchZero, used on the last conv of a residual path so each block starts as the identity). `extra`
/// is appended last (fastai's `xtra`).
public final class ConvLayer: Sequential {
  public init(
    _ ni: Int, _ nf: Int, kernelSize: Int = 3, stride: Int = 1, batchNorm: Bool = true, zeroBN: Bool = false,
    activation: Activation? = .relu, extra: Module? = nil
  ) throws {
    let conv = try Conv2d(ni, nf, kernelSize: kernelSize, stride: stride, padding: (kernelSize - 1) / 2, bias: !batchNorm)
    // fastai's init_linear: kaiming-normal weights for ReLU-family activations; conv biases start at 0.
    conv.weight.value = try Init.kaimingNormal(conv.weight.value.shape).requiringGrad()
    if let b = conv.bias { try withNoGrad { try b.value.zero_() } }
    var layers: [Module] = [conv]
    if batchNorm { layers.append(try BatchNorm2d(nf, weightInit: zeroBN ? 0 : 1, biasInit: 1e-3)) }
    // In place (fastai's is not): the conv/BatchNorm output is a fresh tensor whose backward does not need it,
    // so overwriting it saves a full-size allocation and a pass per layer; the numbers are the same.
    if let activation { layers.append(activation.make(inplace: true)) }
    if let extra { layers.append(extra) }
    super.init(layers)
  }
}

/// The pooling of a strided ResBlock's shortcut (fastai's `pool` argument).
public enum ShortcutPool: String, Sendable, CaseIterable {
  case avg, max
}

/// fastai's ResBlock (expansion 1 or 4): activation(convpath(x) + idpath(x)); idpath is a pool (2,
/// ceil_mode; average by default) when strided, then a 1×1 ConvLayer when the channel count changes.
/// `selfAttention` appends fastai's SimpleSelfAttention to the conv path.
public final class ResBlock: Module {
  public let convpath: Sequential
  public let idpath: Sequential
  public let act: Module

  public init(
    expansion: Int, _ ni: Int, _ nf: Int, stride: Int = 1, batchNorm: Bool = true, activation: Activation = .relu,
    pool: ShortcutPool = .avg, selfAttention: Bool = false
  ) throws {
    let (ni, nf) = (ni * expansion, nf * expansion)
    let hidden = nf / expansion
    var path: [Module]
    if expansion == 1 {
      path = [
        try ConvLayer(ni, hidden, stride: stride, batchNorm: batchNorm, activation: activation),
        try ConvLayer(hidden, nf, batchNorm: batchNorm, zeroBN: true, activation: nil),
      ]
    } else {
      path = [
        try ConvLayer(ni, hidden, kernelSize: 1, batchNorm: batchNorm, activation: activation),
        try ConvLayer(hidden, hidden, stride: stride, batchNorm: batchNorm, activation: activation),
        try ConvLayer(hidden, nf, kernelSize: 1, batchNorm: batchNorm, zeroBN: true, activation: nil),
      ]
    }
    if selfAttention { path.append(try SimpleSelfAttention(nf)) }
    convpath = Sequential(path)
    var id: [Module] = []
    if stride != 1 {
      id.append(pool == .avg ? AvgPool2d(kernelSize: stride, ceilMode: true) : MaxPool2d(kernelSize: stride, ceilMode: true))
    }
    if ni != nf { id.append(try ConvLayer(ni, nf, kernelSize: 1, activation: nil)) }
    idpath = Sequential(id)
    act = activation.make(inplace: true)  // as fastai: the sum is a fresh tensor
    super.init()
  }

  public override func forward(_ x: Tensor) throws -> Tensor { try act(convpath(x) + idpath(x)) }
}
