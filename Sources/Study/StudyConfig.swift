import Foundation
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

  public init() {}

  /// The study's protocol (for a GPU).
  public static var imagewang: StudyConfig { StudyConfig() }

  /// Minutes on 2 CPU cores, end to end, still meaning something.
  public static var demo: StudyConfig {
    var c = StudyConfig()
    (c.pretextSize, c.pretextBatch, c.pretextEpochs) = (64, 32, 4)
    (c.size, c.batch, c.epochs, c.headEpochs) = (64, 32, 8, 1)
    (c.widen, c.runs) = (0.25, 2)
    return c
  }

  public static func preset(_ name: String) -> StudyConfig? {
    switch name {
    case "imagewang": imagewang
    case "demo": demo
    default: nil
    }
  }

  public var torchDevice: Device { Device(device) ?? .cpu }
}
