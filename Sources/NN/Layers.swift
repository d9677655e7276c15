import Torch

/// 2-d convolution (nn.Conv2d); weight out × in/groups × k × k.
public final class Conv2d: Module {
  public let weight: Parameter
  public let bias: Parameter?
  public let stride: Int, padding: Int, dilation: Int, groups: Int

  public init(
    _ inChannels: Int, _ outChannels: Int, kernelSize: Int, stride: Int = 1, padding: Int = 0, dilation: Int = 1,
    groups: Int = 1, bias: Bool = true
  ) throws {
    let shape = [outChannels, inChannels / groups, kernelSize, kernelSize]
    weight = try Parameter(Init.torchDefault(shape))
    let bound = 1 / Double(Init.fanIn(shape)).squareRoot()
    self.bias = bias ? try Parameter(Init.uniform([outChannels], bound: bound)) : nil
    (self.stride, self.padding, self.dilation, self.groups) = (stride, padding, dilation, groups)
    super.init()
  }

  public override func forward(_ x: Tensor) throws -> Tensor {
    try conv2d(x, weight: weight.value, bias: bias?.value, stride: stride, padding: padding, dilation: dilation, groups: groups)
  }
}

/// Batch normalisation over N×C×H×W (nn.BatchNorm2d), with PyTorch's state: weight, bias, running_mean,
/// running_var, num_batches_tracked.
public final class BatchNorm2d: Module {
  public let weight: Parameter
  public let bias: Parameter
  public let runningMean: Buffer
  public let runningVar: Buffer
  public let numBatchesTracked: Buffer
  public let momentum: Double, eps: Double

  public init(_ channels: Int, momentum: Double = 0.1, eps: Double = 1e-5, weightInit: Double = 1, biasInit: Double = 0)
    throws
  {
    weight = try Parameter(Tensor.full([channels], .float(weightInit)))
    bias = try Parameter(Tensor.full([channels], .float(biasInit)))
    runningMean = Buffer(try Tensor.zeros([channels]))
    runningVar = Buffer(try Tensor.ones([channels]))
    numBatchesTracked = Buffer(try Tensor.zeros([], dtype: .int64))
    (self.momentum, self.eps) = (momentum, eps)
    super.init()
  }

  /// Set (`Module.useSyncBatchNorm`): training statistics over every rank's batch.
  public var syncGroup: ProcessGroup?

  public override func forward(_ x: Tensor) throws -> Tensor {
    if isTraining { try withNoGrad { try numBatchesTracked.value.add_(1) } }
    if isTraining, let syncGroup {
      return try syncBatchNorm(x, weight: weight.value, bias: bias.value, runningMean: runningMean.value, runningVar: runningVar.value,
                               momentum: momentum, eps: eps, group: syncGroup)
    }
    return try batchNorm(
      x, weight: weight.value, bias: bias.value, runningMean: runningMean.value, runningVar: runningVar.value,
      training: isTraining, momentum: momentum, eps: eps)
  }
}

/// Batch normalisation over N×C (nn.BatchNorm1d), PyTorch's state and keys; without `affine` it has no
/// weight and bias (SimSiam's last projector layer).
public final class BatchNorm1d: Module {
  public let weight: Parameter?
  public let bias: Parameter?
  public let runningMean: Buffer
  public let runningVar: Buffer
  public let numBatchesTracked: Buffer
  public let momentum: Double, eps: Double

  public init(_ features: Int, affine: Bool = true, momentum: Double = 0.1, eps: Double = 1e-5) throws {
    weight = affine ? try Parameter(Tensor.ones([features])) : nil
    bias = affine ? try Parameter(Tensor.zeros([features])) : nil
    runningMean = Buffer(try Tensor.zeros([features]))
    runningVar = Buffer(try Tensor.ones([features]))
    numBatchesTracked = Buffer(try Tensor.zeros([], dtype: .int64))
    (self.momentum, self.eps) = (momentum, eps)
    super.init()
  }

  /// Set (`Module.useSyncBatchNorm`): training statistics over every rank's batch.
  public var syncGroup: ProcessGroup?

  public override func forward(_ x: Tensor) throws -> Tensor {
    if isTraining { try withNoGrad { try numBatchesTracked.value.add_(1) } }
    if isTraining, let syncGroup {
      return try syncBatchNorm(x, weight: weight?.value, bias: bias?.value, runningMean: runningMean.value, runningVar: runningVar.value,
                               momentum: momentum, eps: eps, group: syncGroup)
    }
    return try batchNorm(
      x, weight: weight?.value, bias: bias?.value, runningMean: runningMean.value, runningVar: runningVar.value,
      training: isTraining, momentum: momentum, eps: eps)
  }
}

/// y = x Wᵀ + b (nn.Linear).
public final class Linear: Module {
  public let weight: Parameter
  public let bias: Parameter?

  public init(_ inFeatures: Int, _ outFeatures: Int, bias: Bool = true) throws {
    weight = try Parameter(Init.torchDefault([outFeatures, inFeatures]))
    self.bias = bias ? try Parameter(Init.uniform([outFeatures], bound: 1 / Double(inFeatures).squareRoot())) : nil
    super.init()
  }

  public override func forward(_ x: Tensor) throws -> Tensor { try linear(x, weight: weight.value, bias: bias?.value) }
}

public final class ReLU: Module {
  /// In place (nn.ReLU(inplace=True)): overwrites its input, saving a full-size allocation; only for inputs
  /// nothing else reads afterwards.
  public let inplace: Bool
  public init(inplace: Bool = false) { self.inplace = inplace }
  public override func forward(_ x: Tensor) throws -> Tensor {
    if inplace {
      try x.relu_()
      return x
    }
    return try relu(x)
  }
}

public final class Mish: Module {
  public override func forward(_ x: Tensor) throws -> Tensor { try mish(x) }
}

public final class Identity: Module {
  public override func forward(_ x: Tensor) throws -> Tensor { x }
}

public final class MaxPool2d: Module {
  public let kernelSize: Int, stride: Int, padding: Int, ceilMode: Bool
  public init(kernelSize: Int, stride: Int? = nil, padding: Int = 0, ceilMode: Bool = false) {
    (self.kernelSize, self.stride, self.padding, self.ceilMode) = (kernelSize, stride ?? kernelSize, padding, ceilMode)
  }
  public override func forward(_ x: Tensor) throws -> Tensor {
    try maxPool2d(x, kernelSize: kernelSize, stride: stride, padding: padding, ceilMode: ceilMode)
  }
}

public final class AvgPool2d: Module {
  public let kernelSize: Int, stride: Int, padding: Int, ceilMode: Bool
  public init(kernelSize: Int, stride: Int? = nil, padding: Int = 0, ceilMode: Bool = false) {
    (self.kernelSize, self.stride, self.padding, self.ceilMode) = (kernelSize, stride ?? kernelSize, padding, ceilMode)
  }
  public override func forward(_ x: Tensor) throws -> Tensor {
    try avgPool2d(x, kernelSize: kernelSize, stride: stride, padding: padding, ceilMode: ceilMode)
  }
}

public final class AdaptiveAvgPool2d: Module {
  public let size: (Int, Int)
  public init(_ size: (Int, Int) = (1, 1)) { self.size = size }
  public override func forward(_ x: Tensor) throws -> Tensor { try adaptiveAvgPool2d(x, outputSize: size) }
}

/// fastai's AdaptiveConcatPool2d: adaptive max-pool and avg-pool side by side (max first), 2C channels.
public final class AdaptiveConcatPool2d: Module {
  public let size: (Int, Int)
  public init(_ size: (Int, Int) = (1, 1)) { self.size = size }
  public override func forward(_ x: Tensor) throws -> Tensor {
    try Tensor.cat([adaptiveMaxPool2d(x, outputSize: size), adaptiveAvgPool2d(x, outputSize: size)], dim: 1)
  }
}

/// N×… → N×(product of the rest).
public final class Flatten: Module {
  public override func forward(_ x: Tensor) throws -> Tensor { try x.flatten(start: 1) }
}

public final class Dropout: Module {
  public let p: Double
  public init(_ p: Double = 0.5) { self.p = p }
  public override func forward(_ x: Tensor) throws -> Tensor { p == 0 ? x : try dropout(x, p: p, training: isTraining) }
}

public final class PixelShuffle: Module {
  public let factor: Int
  public init(_ factor: Int) { self.factor = factor }
  public override func forward(_ x: Tensor) throws -> Tensor { try pixelShuffle(x, upscaleFactor: factor) }
}

/// The activations fastai models take.
public enum Activation: String, Sendable, CaseIterable {
  case relu, mish
  func make(inplace: Bool = false) -> Module { self == .relu ? ReLU(inplace: inplace) : Mish() }
}
