import Torch

/// fastai's PixelShuffle_ICNR (an nn.Sequential): 1×1 ConvLayer to 4× the channels (ICNR-initialised,
/// with bias, no norm) → activation → pixel shuffle by 2; with `blur`, then replication-pad (1,0,1,0) and
/// a stride-1 2×2 average pool (fastai's blur against checkerboard artefacts).
public final class PixelShuffleICNR: Sequential {
  public init(_ ni: Int, _ nf: Int? = nil, blur: Bool = false, activation: Activation = .relu) throws {
    let nf = nf ?? ni
    let conv = try ConvLayer(ni, nf * 4, kernelSize: 1, batchNorm: false, activation: activation)
    let w = (conv[0] as! Conv2d).weight
    try withNoGrad { try w.value.copy_(Init.icnr(w.value.shape)) }
    super.init([conv, PixelShuffle(2)] + (blur ? [ReplicationPad2d([1, 0, 1, 0]), AvgPool2d(kernelSize: 2, stride: 1)] : []))
  }
}

/// nn.ReplicationPad2d: pads (left, right, top, bottom) by repeating the edge.
public final class ReplicationPad2d: Module {
  public let padding: [Int]
  public init(_ padding: [Int]) { self.padding = padding }
  public override func forward(_ x: Tensor) throws -> Tensor { try x.pad(padding, mode: .replicate) }
}

/// fastai's UnetBlock: upsample the lower path to half its channels, batch-normalise the skip
/// connection, concatenate, ReLU, two ConvLayers (no norm, as current fastai builds them); optional blur
/// in the upsampling and SelfAttention after the second conv. With `skipIn` 0 there is no skip connection
/// (the skip tensor only gives the size to reach).
public final class UnetBlock: Module {
  public let shuf: PixelShuffleICNR
  public let bn: BatchNorm2d?
  public let conv1: ConvLayer
  public let conv2: ConvLayer
  public let relu: Module
  public let outChannels: Int

  public init(
    upIn: Int, skipIn: Int, finalDiv: Bool = true, blur: Bool = false, selfAttention: Bool = false,
    activation: Activation = .relu
  ) throws {
    shuf = try PixelShuffleICNR(upIn, upIn / 2, blur: blur, activation: activation)
    bn = skipIn > 0 ? try BatchNorm2d(skipIn, biasInit: 1e-3) : nil
    let ni = upIn / 2 + skipIn
    outChannels = finalDiv ? ni : ni / 2
    conv1 = try ConvLayer(ni, outChannels, batchNorm: false, activation: activation)
    conv2 = try ConvLayer(
      outChannels, outChannels, batchNorm: false, activation: activation,
      extra: selfAttention ? try SelfAttention(outChannels) : nil)
    relu = activation.make(inplace: true)  // on the fresh concatenation, whose backward does not need it
    super.init()
  }

  public func forward(_ up: Tensor, skip: Tensor) throws -> Tensor {
    var u = try shuf(up)
    let size = (skip.shape[2], skip.shape[3])
    if u.shape[2] != size.0 || u.shape[3] != size.1 { u = try interpolate(u, size: size, mode: .nearest) }
    guard let bn else { return try conv2(conv1(relu(u))) }
    return try conv2(conv1(relu(Tensor.cat([u, bn(skip)], dim: 1))))
  }
}

/// Placeholders holding the place (and the index) of fastai's parameter-free ResizeToOrig and
/// MergeLayer in `layers`, so every key keeps fastai's number; DynamicUnet.forward does their work.
public final class ResizeToOrig: Module {}
public final class MergeLayer: Module {}

/// fastai's DynamicUnet over an encoder (`unet_learner(dls, xresnet34, pretrained=False)`): skip
/// connections where the encoder's spatial size changes, BatchNorm + ReLU, a middle pair of convs,
/// UnetBlocks, a last PixelShuffle_ICNR to full size, resize to the input size, concatenation of the
/// input ("last cross"), a ResBlock and a 1×1 conv; options: y_range (sigmoid scaled to lo…hi), blur
/// (in every UnetBlock's upsampling, fastai's blur_final default), self_attention (in the third block from
/// the end); `skipConnections: false` keeps only the path through the encoder's deepest features (and the last
/// cross with the input), as a context encoder: what the decoder needs must pass through the whole encoder.
/// Output size = input size for any input size. Keys are fastai's ("layers.0.…" is the encoder).
public final class DynamicUnet: Module {
  public let layers: [Module]
  public let yRange: (Double, Double)?

  /// Typed references into `layers` (a struct, so reflection does not list them twice).
  struct Parts {
    let encoder: Sequential
    let bn: BatchNorm2d
    let middle: Sequential
    let blocks: [UnetBlock]
    let skipIndices: [Int]
    let finalShuffle: PixelShuffleICNR?
    let resBlock: ResBlock
    let finalConv: ConvLayer
  }
  let parts: Parts

  public init(
    encoder: Sequential, outChannels: Int, imageSize: (Int, Int), yRange: (Double, Double)? = nil,
    blur: Bool = false, selfAttention: Bool = false, activation: Activation = .relu, skipConnections: Bool = true
  ) throws {
    // Output sizes of each encoder child, from a dummy pass in eval mode (as fastai's model_sizes).
    let inChannels = try firstConv(encoder).weight.value.shape[1]
    encoder.eval()
    var sizes: [[Int]] = []
    try withNoGrad {
      var h = try Tensor.zeros([1, inChannels, imageSize.0, imageSize.1])
      for m in encoder.layers {
        h = try m(h)
        sizes.append(h.shape)
      }
    }
    encoder.train()
    let changes = (0..<(sizes.count - 1)).filter { sizes[$0].last! != sizes[$0 + 1].last! }
    let skipIndices = Array(changes.reversed())
    var ni = sizes.last![1]
    let bn = try BatchNorm2d(ni, biasInit: 1e-3)
    let middle = Sequential(
      try ConvLayer(ni, ni * 2, batchNorm: false, activation: activation),
      try ConvLayer(ni * 2, ni, batchNorm: false, activation: activation))
    var blocks: [UnetBlock] = []
    for (i, idx) in skipIndices.enumerated() {
      let block = try UnetBlock(
        upIn: ni, skipIn: skipConnections ? sizes[idx][1] : 0, finalDiv: i != skipIndices.count - 1, blur: blur,
        selfAttention: selfAttention && i == skipIndices.count - 3, activation: activation)
      blocks.append(block)
      ni = block.outChannels
    }
    var layers: [Module] = [encoder, bn, activation.make(), middle] + blocks
    var finalShuffle: PixelShuffleICNR? = nil
    if sizes[0][2] != imageSize.0 || sizes[0][3] != imageSize.1 {
      finalShuffle = try PixelShuffleICNR(ni, activation: activation)
      layers.append(finalShuffle!)
    }
    ni += inChannels
    let resBlock = try ResBlock(expansion: 1, ni, ni, batchNorm: false, activation: activation)
    let finalConv = try ConvLayer(ni, outChannels, kernelSize: 1, batchNorm: false, activation: nil)
    layers += [ResizeToOrig(), MergeLayer(), resBlock, finalConv]
    self.layers = layers
    self.yRange = yRange
    parts = Parts(
      encoder: encoder, bn: bn, middle: middle, blocks: blocks, skipIndices: skipIndices,
      finalShuffle: finalShuffle, resBlock: resBlock, finalConv: finalConv)
    super.init()
  }

  public var encoder: Sequential { parts.encoder }

  public override func forward(_ x: Tensor) throws -> Tensor {
    var h = x
    var skips: [Int: Tensor] = [:]
    for (i, m) in parts.encoder.layers.enumerated() {
      h = try m(h)
      if parts.skipIndices.contains(i) { skips[i] = h }
    }
    let normed = try parts.bn(h)
    try normed.relu_()  // in place: BatchNorm's output is fresh and its backward does not need it
    h = try parts.middle(normed)
    for (block, idx) in zip(parts.blocks, parts.skipIndices) { h = try block.forward(h, skip: skips[idx]!) }
    if let s = parts.finalShuffle { h = try s(h) }
    if h.shape[2] != x.shape[2] || h.shape[3] != x.shape[3] {
      h = try interpolate(h, size: (x.shape[2], x.shape[3]), mode: .nearest)
    }
    h = try parts.finalConv(parts.resBlock(Tensor.cat([h, x], dim: 1)))
    if let (lo, hi) = yRange { h = try sigmoid(h) * (hi - lo) + lo }
    return h
  }
}

/// The first Conv2d of a module tree (its input channel count is the model's).
func firstConv(_ m: Module) throws -> Conv2d {
  guard let c = m.namedModules().lazy.compactMap({ $0.1 as? Conv2d }).first else {
    throw TorchError(operation: "DynamicUnet", message: "the encoder has no Conv2d")
  }
  return c
}
