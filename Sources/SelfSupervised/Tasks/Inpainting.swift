import ImageData
import NN
import Torch
import Training

/// The study's pretext: a U-Net over xresnet34 restores images damaged by RandomCutout (holes filled with
/// black), MSE against the untouched image. The encoder is the U-Net's xresnet body.
public final class InpaintingTask: RegisteredTask {
  public static let name = "inpainting"
  public static let summary = "restore RandomCutout holes (U-Net over xresnet34, MSE): the study's pretext"
  public static var settingsRead: Set<TaskSetting> { [.cutout, .unetSkips] }
  let settings: TaskSettings
  public let unet: DynamicUnet

  public init(_ settings: TaskSettings, backbone: Sequential?) throws {
    self.settings = settings
    unet = try studyUnet(settings, backbone, outChannels: settings.channels)
  }

  public var model: any ParameterGroups { unet }

  /// Crop (+ flip in training), then the holes: `image` is the damaged input, `target` the original, `mask`
  /// the holes. Holes are cut in validation too, as the study did.
  public func pipeline(training: Bool) -> Pipeline {
    Pipeline.crop(size: settings.size, training: training).then(Cutout(settings.cutout))
  }

  public let step: TrainStep = SupervisedStep(input: "image", target: "target", loss: Losses.mse())
  public var metrics: [Metric] { [] }
  public func encoderState() -> [(name: String, tensor: Tensor)] { EncoderTransfer.encoderState(of: unet) }
  public var weightsFile: String { "unet.safetensors" }
  /// The study is this task's paper: Ranger, flat-cos at the study's 8e-3, wd 1e-2.
  public var paperRecipe: TrainingRecipe? { .study(lr: 8e-3, weightDecay: 1e-2) }

  /// Rows of `damaged | original | restored`, the holes (from the loader's mask) outlined in green.
  public func pictureRows(_ batch: [String: Tensor], rows: Int, device: Device) throws -> [[[UInt8]]] {
    guard let x = batch["image"], let y = batch["target"], let mask = batch["mask"] else {
      throw ImageError(path: nil, "an inpainting picture needs the batch's image, target and mask")
    }
    let out = try inferring(unet) { try unet(x.to(device)).clamp(min: 0, max: 1).to(.cpu) }
    let n = Swift.min(rows, x.shape[0]), s = x.shape[2]
    var grid: [[[UInt8]]] = []
    for i in 0..<n {
      var damaged = try tileBytes(x, i)
      let holes = try (mask[i][0] .> 0.5).contiguous().toArray(of: Bool.self)
      func hole(_ px: Int, _ py: Int) -> Bool { px >= 0 && py >= 0 && px < s && py < s && holes[py * s + px] }
      for py in 0..<s {
        for px in 0..<s where hole(px, py) && !(hole(px - 1, py) && hole(px + 1, py) && hole(px, py - 1) && hole(px, py + 1)) {
          let k = 3 * (py * s + px)
          (damaged[k], damaged[k + 1], damaged[k + 2]) = (0, 255, 0)
        }
      }
      grid.append([damaged, try tileBytes(y, i), try tileBytes(out, i)])
    }
    return grid
  }
}
