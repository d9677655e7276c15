import ImageData
import NN
import Torch
import Training

/// Colorization (Zhang, Isola & Efros 2016): predict an image's colour from its lightness. The U-Net of the
/// study sees the CIE L channel (replicated to 3 channels, so the classifier's stem is unchanged) and predicts
/// the a, b channels (÷ 110, about their range), MSE: the paper's regression baseline. The paper's own loss —
/// classification over 313 quantised ab bins with class rebalancing — is not done. sRGB ↔ CIE Lab (D65) in
/// libtorch ops.
public final class ColorizationTask: RegisteredTask {
  public static let name = "colorization"
  public static let summary = "predict colour (CIE ab) from lightness (L): U-Net regression, MSE (Zhang et al.'s L2 baseline)"
  public static var settingsRead: Set<TaskSetting> { [.unetSkips] }
  public static let abScale = 110.0
  public static let needsColour = true
  let settings: TaskSettings
  public let unet: DynamicUnet

  public init(_ settings: TaskSettings, backbone: Sequential?) throws {
    self.settings = settings
    unet = try studyUnet(settings, backbone, outChannels: 2)
  }

  public var model: any ParameterGroups { unet }
  public func pipeline(training: Bool) -> Pipeline { Pipeline.crop(size: settings.size, training: training) }
  public lazy var step: TrainStep = ColorizationStep(unet: unet)
  public var metrics: [Metric] { [] }
  public func encoderState() -> [(name: String, tensor: Tensor)] { EncoderTransfer.encoderState(of: unet) }
  public var weightsFile: String { "colorization-unet.safetensors" }
  /// Colorization: Adam β 0.9 / 0.99, lr 3e-5 at batch 40, wd 1e-3, dropped to 1e-5 at 200k and 3e-6 at 375k of
  /// 450k iterations (about × 0.3 each).
  public var paperRecipe: TrainingRecipe? {
    TrainingRecipe(optimizer: .adam(beta1: 0.9, beta2: 0.99, decoupled: false), lrPer256: 3e-5 * 256 / 40, weightDecay: 1e-3,
                   decay: .steps(at: [0.44, 0.83], factor: 0.32), source: "Zhang, Isola & Efros 2016, §2.3")
  }

  /// Rows of `lightness | original | lightness with the predicted colour`.
  public func pictureRows(_ batch: [String: Tensor], rows: Int, device: Device) throws -> [[[UInt8]]] {
    guard let x = batch["image"] else { throw ImageError(path: nil, "a colorization picture needs the batch's image") }
    let lab = try Lab.fromRGB(x)
    let l = try lab.narrow(dim: 1, start: 0, length: 1)
    let input = try ColorizationStep.input(l)
    let ab = try inferring(unet) { try unet(input.to(device)).to(.cpu) * Self.abScale }
    let coloured = try Lab.toRGB(Tensor.cat([l, ab.to(dtype: l.dtype)], dim: 1))
    let gray = try (l / 100).expand([l.shape[0], 3, l.shape[2], l.shape[3]])
    return try (0..<Swift.min(rows, x.shape[0])).map { [try tileBytes(gray, $0), try tileBytes(x, $0), try tileBytes(coloured, $0)] }
  }
}

/// The colorization step: L in, ab out, MSE against the image's own ab (scaled).
final class ColorizationStep: TrainStep {
  let unet: DynamicUnet
  init(unet: DynamicUnet) { self.unet = unet }

  /// The network's input: L / 100 − 0.5 (centred, about unit range) on 3 channels.
  static func input(_ l: Tensor) throws -> Tensor {
    try (l / 100 - 0.5).expand([l.shape[0], 3, l.shape[2], l.shape[3]]).contiguous()
  }

  func compute(_ batch: Batch, model: Module) throws -> StepOutput {
    let lab = try withNoGrad { try Lab.fromRGB(batch.require("image")) }
    let l = try lab.narrow(dim: 1, start: 0, length: 1), ab = try lab.narrow(dim: 1, start: 1, length: 2) / ColorizationTask.abScale
    let prediction = try unet(Self.input(l))
    return StepOutput(loss: try mseLoss(prediction.to(dtype: .float32), ab))
  }
}

/// sRGB in [0, 1] ↔ CIE L*a*b* (D65 white), N×3×H×W, float32, as skimage's rgb2lab / lab2rgb compute it.
public enum Lab {
  static let white = (0.95047, 1.0, 1.08883)
  static let toXYZ = [[0.412453, 0.357580, 0.180423], [0.212671, 0.715160, 0.072169], [0.019334, 0.119193, 0.950227]]

  /// Mixes the channels of N×3×H×W `x` by the 3×3 `m` (out_c = Σ_k m[c][k] · x_k).
  static func mix(_ x: Tensor, _ m: [[Double]]) throws -> Tensor {
    let c = try (0..<3).map { try x.narrow(dim: 1, start: $0, length: 1) }
    return try Tensor.cat((0..<3).map { i in try c[0] * m[i][0] + c[1] * m[i][1] + c[2] * m[i][2] }, dim: 1)
  }
  /// `a` where `condition` (a 0/1 float tensor), else `b`.
  static func select(_ condition: Tensor, _ a: Tensor, _ b: Tensor) throws -> Tensor { try condition * a + (1 - condition) * b }

  public static func fromRGB(_ rgb: Tensor) throws -> Tensor {
    let x = try rgb.to(dtype: .float32).clamp(min: 0, max: 1)
    let linear = try select((x .> 0.04045).to(dtype: .float32), ((x + 0.055) / 1.055).pow(.float(2.4)), x / 12.92)
    let xyz = try mix(linear, toXYZ)
    let n = try Tensor.cat([xyz.narrow(dim: 1, start: 0, length: 1) / white.0, xyz.narrow(dim: 1, start: 1, length: 1) / white.1,
                            xyz.narrow(dim: 1, start: 2, length: 1) / white.2], dim: 1)
    let f = try select((n .> 0.008856).to(dtype: .float32), n.clamp(min: 1e-12).pow(.float(1.0 / 3)), n * 7.787 + 16.0 / 116)
    let (fx, fy, fz) = (try f.narrow(dim: 1, start: 0, length: 1), try f.narrow(dim: 1, start: 1, length: 1), try f.narrow(dim: 1, start: 2, length: 1))
    let l = try select((n.narrow(dim: 1, start: 1, length: 1) .> 0.008856).to(dtype: .float32), fy * 116 - 16,
                       n.narrow(dim: 1, start: 1, length: 1) * 903.3)
    return try Tensor.cat([l, (fx - fy) * 500, (fy - fz) * 200], dim: 1)
  }

  public static func toRGB(_ lab: Tensor) throws -> Tensor {
    let lab = try lab.to(dtype: .float32)
    let l = try lab.narrow(dim: 1, start: 0, length: 1), a = try lab.narrow(dim: 1, start: 1, length: 1)
    let b = try lab.narrow(dim: 1, start: 2, length: 1)
    let fy = try (l + 16) / 116
    let f = try Tensor.cat([fy + a / 500, fy, (fy - b / 200).clamp(min: 0)], dim: 1)
    let n = try select((f .> 0.2068966).to(dtype: .float32), f.pow(.float(3)), (f - 16.0 / 116) / 7.787)
    let xyz = try Tensor.cat([n.narrow(dim: 1, start: 0, length: 1) * white.0, n.narrow(dim: 1, start: 1, length: 1) * white.1,
                              n.narrow(dim: 1, start: 2, length: 1) * white.2], dim: 1)
    let fromXYZ = [[3.24048134, -1.53715152, -0.49853633], [-0.96925495, 1.87599, 0.04155593], [0.05564664, -0.20404134, 1.05731107]]
    let linear = try mix(xyz, fromXYZ).clamp(min: 0)
    return try select((linear .> 0.0031308).to(dtype: .float32), linear.clamp(min: 1e-12).pow(.float(1 / 2.4)) * 1.055 - 0.055, linear * 12.92)
      .clamp(min: 0, max: 1)
  }
}
