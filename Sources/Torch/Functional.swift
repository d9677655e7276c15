import CTorch

// Neural-network operators as free functions (PyTorch's torch.nn.functional).

public enum Reduction: Int32, Sendable {
  case none = 0
  case mean = 1
  case sum = 2
}

public enum InterpolationMode: Int32, Sendable {
  case nearest = 0
  case bilinear = 1
  /// Bilinear with antialiasing (F.interpolate(..., antialias=True)): the filter widens when shrinking, as
  /// PIL's BILINEAR resize; works on uint8 images.
  case bilinearAntialiased = 2
}

@inline(__always)
func pair(_ v: [Int], _ name: String, _ op: String, count: Int = 2) throws -> [Int] {
  if v.count == 1 { return [Int](repeating: v[0], count: count) }
  guard v.count == count else {
    throw TorchError(operation: op, message: "\(name) needs 1 or \(count) values, got \(v)")
  }
  return v
}

/// Convolution over 1, 2 or 3 spatial dims (from the weight's rank: 3, 4 or 5).
/// `stride`, `padding` and `dilation` take one value for every dim or one per spatial dim.
public func conv(
  _ x: Tensor, weight: Tensor, bias: Tensor? = nil, stride: [Int] = [1], padding: [Int] = [0],
  dilation: [Int] = [1], groups: Int = 1
) throws -> Tensor {
  let n = weight.rank - 2
  guard (1...3).contains(n) else {
    throw TorchError(operation: "conv", message: "weight must have 3, 4 or 5 dims, got shape \(weight.shape)")
  }
  let s = try pair(stride, "stride", "conv", count: n), p = try pair(padding, "padding", "conv", count: n)
  let d = try pair(dilation, "dilation", "conv", count: n)
  return try .wrap(pt_conv(x.handle, weight.handle, bias?.handle, s, p, d, n, groups), "conv\(n)d")
}

public func conv2d(
  _ x: Tensor, weight: Tensor, bias: Tensor? = nil, stride: Int = 1, padding: Int = 0, dilation: Int = 1,
  groups: Int = 1
) throws -> Tensor {
  // Direct call (no per-dim lists to build): this sits on every training step's hot path.
  try .wrap(
    pt_conv(x.handle, weight.handle, bias?.handle, [stride, stride], [padding, padding], [dilation, dilation], 2, groups),
    "conv2d")
}

public func convTranspose2d(
  _ x: Tensor, weight: Tensor, bias: Tensor? = nil, stride: Int = 1, padding: Int = 0, outputPadding: Int = 0,
  groups: Int = 1, dilation: Int = 1
) throws -> Tensor {
  try .wrap(
    pt_conv_transpose2d(
      x.handle, weight.handle, bias?.handle, [stride, stride], [padding, padding], [outputPadding, outputPadding],
      groups, [dilation, dilation]), "conv_transpose2d")
}

/// Batch normalisation. In training it normalises with the batch's statistics and updates
/// `runningMean`/`runningVar` in place (momentum as PyTorch: new = (1-m)·old + m·batch, unbiased var).
public func batchNorm(
  _ x: Tensor, weight: Tensor?, bias: Tensor?, runningMean: Tensor?, runningVar: Tensor?, training: Bool,
  momentum: Double = 0.1, eps: Double = 1e-5
) throws -> Tensor {
  try .wrap(
    pt_batch_norm(
      x.handle, weight?.handle, bias?.handle, runningMean?.handle, runningVar?.handle, training, momentum, eps),
    "batch_norm")
}

public func layerNorm(
  _ x: Tensor, normalizedShape: [Int], weight: Tensor? = nil, bias: Tensor? = nil, eps: Double = 1e-5
) throws -> Tensor {
  try .wrap(
    pt_layer_norm(x.handle, normalizedShape, normalizedShape.count, weight?.handle, bias?.handle, eps), "layer_norm")
}

public func linear(_ x: Tensor, weight: Tensor, bias: Tensor? = nil) throws -> Tensor {
  try .wrap(pt_linear(x.handle, weight.handle, bias?.handle), "linear")
}

public func maxPool2d(
  _ x: Tensor, kernelSize: Int, stride: Int? = nil, padding: Int = 0, dilation: Int = 1, ceilMode: Bool = false
) throws -> Tensor {
  let s = stride ?? kernelSize
  return try .wrap(
    pt_max_pool2d(x.handle, [kernelSize, kernelSize], [s, s], [padding, padding], [dilation, dilation], ceilMode),
    "max_pool2d")
}

public func avgPool2d(
  _ x: Tensor, kernelSize: Int, stride: Int? = nil, padding: Int = 0, ceilMode: Bool = false,
  countIncludePad: Bool = true
) throws -> Tensor {
  let s = stride ?? kernelSize
  return try .wrap(
    pt_avg_pool2d(x.handle, [kernelSize, kernelSize], [s, s], [padding, padding], ceilMode, countIncludePad),
    "avg_pool2d")
}

public func adaptiveAvgPool2d(_ x: Tensor, outputSize: (Int, Int)) throws -> Tensor {
  try .wrap(pt_adaptive_avg_pool2d(x.handle, [outputSize.0, outputSize.1]), "adaptive_avg_pool2d")
}

public func adaptiveMaxPool2d(_ x: Tensor, outputSize: (Int, Int)) throws -> Tensor {
  try .wrap(pt_adaptive_max_pool2d(x.handle, [outputSize.0, outputSize.1]), "adaptive_max_pool2d")
}

public func pixelShuffle(_ x: Tensor, upscaleFactor: Int) throws -> Tensor {
  try .wrap(pt_pixel_shuffle(x.handle, upscaleFactor), "pixel_shuffle")
}

public func pixelUnshuffle(_ x: Tensor, downscaleFactor: Int) throws -> Tensor {
  try .wrap(pt_pixel_unshuffle(x.handle, downscaleFactor), "pixel_unshuffle")
}

/// Resizes the last two dims of an N×C×H×W tensor to `size` (height, width).
public func interpolate(
  _ x: Tensor, size: (Int, Int), mode: InterpolationMode = .nearest, alignCorners: Bool = false
) throws -> Tensor {
  try .wrap(pt_interpolate(x.handle, [size.0, size.1], mode.rawValue, alignCorners), "interpolate")
}

public func dropout(_ x: Tensor, p: Double, training: Bool) throws -> Tensor {
  try .wrap(pt_dropout(x.handle, p, training), "dropout")
}

public func relu(_ x: Tensor) throws -> Tensor { try x.unary(PT_RELU, "relu") }
public func mish(_ x: Tensor) throws -> Tensor { try x.unary(PT_MISH, "mish") }
public func silu(_ x: Tensor) throws -> Tensor { try x.unary(PT_SILU, "silu") }
public func gelu(_ x: Tensor) throws -> Tensor { try x.unary(PT_GELU, "gelu") }
public func sigmoid(_ x: Tensor) throws -> Tensor { try x.unary(PT_SIGMOID, "sigmoid") }
public func hardswish(_ x: Tensor) throws -> Tensor { try x.unary(PT_HARDSWISH, "hardswish") }
public func leakyRelu(_ x: Tensor, negativeSlope: Double = 0.01) throws -> Tensor {
  try .wrap(pt_leaky_relu(x.handle, negativeSlope), "leaky_relu")
}
public func softmax(_ x: Tensor, dim: Int) throws -> Tensor { try .wrap(pt_softmax(x.handle, dim), "softmax") }
public func logSoftmax(_ x: Tensor, dim: Int) throws -> Tensor { try .wrap(pt_log_softmax(x.handle, dim), "log_softmax") }

public func mseLoss(_ input: Tensor, _ target: Tensor, reduction: Reduction = .mean) throws -> Tensor {
  try .wrap(pt_mse_loss(input.handle, target.handle, reduction.rawValue), "mse_loss")
}

public func l1Loss(_ input: Tensor, _ target: Tensor, reduction: Reduction = .mean) throws -> Tensor {
  try .wrap(pt_l1_loss(input.handle, target.handle, reduction.rawValue), "l1_loss")
}

/// Cross-entropy of logits (N×C) against class indices (N, int64), as F.cross_entropy; with
/// `labelSmoothing` ε the target is (1-ε)·one-hot + ε/C.
public func crossEntropy(
  _ logits: Tensor, _ target: Tensor, weight: Tensor? = nil, reduction: Reduction = .mean,
  ignoreIndex: Int = -100, labelSmoothing: Double = 0
) throws -> Tensor {
  try .wrap(
    pt_cross_entropy(logits.handle, target.handle, weight?.handle, reduction.rawValue, ignoreIndex, labelSmoothing),
    "cross_entropy")
}

public func nllLoss(
  _ logProbs: Tensor, _ target: Tensor, weight: Tensor? = nil, reduction: Reduction = .mean, ignoreIndex: Int = -100
) throws -> Tensor {
  try .wrap(pt_nll_loss(logProbs.handle, target.handle, weight?.handle, reduction.rawValue, ignoreIndex), "nll_loss")
}

public func binaryCrossEntropyWithLogits(_ input: Tensor, _ target: Tensor, reduction: Reduction = .mean) throws
  -> Tensor
{
  try .wrap(pt_bce_with_logits(input.handle, target.handle, reduction.rawValue), "binary_cross_entropy_with_logits")
}
