import Foundation
import ImageData
import Torch

/// Every setting of the study, with the published protocol as the `imagewang` preset.
public struct StudyConfig: Codable, Sendable, Equatable {
  // Pretext (inpainting).
  public var pretextSize = 160
  public var pretextBatch = 32
  public var pretextEpochs = 15
  public var pretextLR = 8e-3
  /// Cutout hole sizes are the study's (5–49 px) at 160 px and scaled with the image at other sizes.
  public var cutoutReferenceSize = 160
  // Downstream (classification).
  public var size = 128
  public var batch = 64
  public var epochs = 15
  public var lr = 8e-3
  /// Scenario 3: head-only epochs before unfreezing (counted within `epochs`).
  public var headEpochs = 1
  public var weightDecay = 1e-2
  /// Architecture: xresnet34 × `widen` (1 in the study; narrower for tests).
  public var widen = 1.0
  public var runs = 3
  public var seed: UInt64 = 42
  public var workers = 2
  public var device = "cpu"
  /// Models and batches in channels-last (NHWC) layout: libtorch's convolutions run faster so on CPUs
  /// (benchmarks/bench.py measures both layouts) and on GPUs with tensor cores.
  public var channelsLast = true
  /// Caps on the images used (nil: all): per train/ class, per val/ class, and of unsup/. The `demo` preset
  /// sets them so that it takes minutes on full ImageWang too.
  public var maxTrainPerClass: Int?
  public var maxValidPerClass: Int?
  public var maxUnsup: Int?

  public init() {}

  /// The study's protocol (for a GPU).
  public static var imagewang: StudyConfig { StudyConfig() }

  /// Minutes on 2 CPU cores, end to end: 64 px, xresnet34 × 0.25, the pretext 6 epochs, each scenario 3 runs of
  /// 12 epochs; at most 40 images per train/ class, 30 per val/ class and 1,000 of unsup/ (about the size of
  /// `imagewang-mini`; full ImageWang is cut to it).
  public static var demo: StudyConfig {
    var c = StudyConfig()
    (c.pretextSize, c.pretextBatch, c.pretextEpochs) = (64, 32, 6)
    (c.size, c.batch, c.epochs, c.headEpochs) = (64, 32, 12, 2)
    (c.widen, c.runs) = (0.25, 3)
    (c.maxTrainPerClass, c.maxValidPerClass, c.maxUnsup) = (40, 30, 1000)
    return c
  }

  public static func preset(_ name: String) -> StudyConfig? {
    switch name {
    case "imagewang": imagewang
    case "demo": demo
    default: nil
    }
  }

  /// The images of `data` this config uses (its caps applied; the same selection every time).
  public func select(_ data: ImageWangLayout) -> ImageWangLayout {
    data.limited(trainPerClass: maxTrainPerClass, validPerClass: maxValidPerClass, unsup: maxUnsup)
  }

  public var torchDevice: Device { Device(device) ?? .cpu }
  public var memoryFormat: MemoryFormat { channelsLast ? .channelsLast : .contiguous }
}
