import Torch

/// fastai's XResNet (an nn.Sequential): a 3-conv stem (3→32→32→64, the first with stride 2), max-pool
/// 3/2/1, four stages of ResBlocks (widths 64, 128, 256, 512 × `widen`), then adaptive avg-pool → flatten →
/// dropout → linear. State-dict keys are fastai's: "0.0.weight" … "4.0.convpath.0.0.weight" … "11.weight".
/// `selfAttention` (fastai's `sa`) puts SimpleSelfAttention in the last block of the first stage.
public final class XResNet: Sequential {
  public enum Depth: Int, Sendable, CaseIterable {
    case resnet18 = 18, resnet34 = 34, resnet50 = 50
    var blocks: [Int] { self == .resnet18 ? [2, 2, 2, 2] : [3, 4, 6, 3] }
    var expansion: Int { self == .resnet50 ? 4 : 1 }
  }

  /// The classifier on the pooled body: fastai xresnet's own (avg-pool → flatten → dropout → linear), or
  /// fastai vision_learner's `create_head` (concat-pool → flatten → BN → dropout 0.25 → linear 512 → ReLU → BN →
  /// dropout 0.5 → linear, both linears without bias), which cnn_learner/vision_learner puts on a body.
  public enum Head: String, Codable, Sendable, CaseIterable { case linear, fastai }

  public let expansion: Int
  /// The width of `features(_:)` (the pooled body: twice the last stage's with the concat pool).
  public let pooledFeatures: Int
  /// Where the body ends and the head starts (the adaptive pool's index).
  public let headStart: Int

  public init(
    _ depth: Depth, inChannels: Int = 3, classes: Int = 1000, widen: Double = 1, dropout p: Double = 0,
    activation: Activation = .relu, shortcutPool: ShortcutPool = .avg, selfAttention: Bool = false, head: Head = .linear
  ) throws {
    let expansion = depth.expansion
    self.expansion = expansion
    let stem = [inChannels, 32, 32, 64]
    var layers: [Module] = try (0..<3).map {
      try ConvLayer(stem[$0], stem[$0 + 1], stride: $0 == 0 ? 2 : 1, activation: activation)
    }
    layers.append(MaxPool2d(kernelSize: 3, stride: 2, padding: 1))
    let widths = [64 / expansion] + [64, 128, 256, 512].map { Int(Double($0) * widen) }
    for (i, n) in depth.blocks.enumerated() {
      let stage: [Module] = try (0..<n).map { j in
        try ResBlock(expansion: expansion, j == 0 ? widths[i] : widths[i + 1], widths[i + 1],
                     stride: j == 0 && i > 0 ? 2 : 1, activation: activation, pool: shortcutPool,
                     selfAttention: selfAttention && i == 0 && j == n - 1)
      }
      layers.append(Sequential(stage))
    }
    headStart = layers.count
    let features = widths.last! * expansion
    pooledFeatures = head == .linear ? features : 2 * features
    switch head {
    case .linear: layers += [AdaptiveAvgPool2d(), Flatten(), Dropout(p), try Linear(features, classes)]
    case .fastai:
      layers += [AdaptiveConcatPool2d(), Flatten(), try BatchNorm1d(2 * features), Dropout(0.25), try Linear(2 * features, 512, bias: false),
                 ReLU(), try BatchNorm1d(512), Dropout(0.5), try Linear(512, classes, bias: false)]
    }
    super.init(layers)
    try initCNN()
  }

  /// fastai's init_cnn: kaiming-normal conv/linear weights, and every module's bias set to 0 (BatchNorm's too).
  func initCNN() throws {
    try withNoGrad {
      for (_, m) in namedModules() {
        if let c = m as? Conv2d {
          try c.weight.value.copy_(Init.kaimingNormal(c.weight.value.shape))
          try c.bias?.value.zero_()
        } else if let l = m as? Linear {
          try l.weight.value.copy_(Init.kaimingNormal(l.weight.value.shape))
          try l.bias?.value.zero_()
        } else if let b = m as? BatchNorm2d {
          try b.bias.value.zero_()
        }
      }
    }
  }

  /// The body (stem, pool, stages): the encoder a U-Net is built on (fastai's create_body, cut = -4).
  public var body: Sequential { Sequential(Array(layers[..<headStart])) }
}
