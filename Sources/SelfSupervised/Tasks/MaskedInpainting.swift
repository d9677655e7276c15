import ImageData
import NN
import Torch
import Training

/// Masked inpainting v2, SparK-style (Tian et al. 2023) on the study's U-Net: the image is cut into a grid
/// of 8 × 8 patches (SparK's 7 × 7 at 224 px: a patch per encoder stride), 60 % of them (SparK's ratio) are
/// blanked, and the U-Net predicts each patch's pixels normalised by that patch's mean and std (MAE/SparK
/// `norm_pix_loss`); the loss is the MSE over the blanked patches only. SparK's sparse convolutions are not
/// reproduced: the blanked patches enter the dense encoder as zeros (the "masked convnet" baseline of the
/// SparK paper). The mask is drawn by the loader (per seed, epoch and item), the rest is libtorch ops.
public final class MaskedInpaintingTask: RegisteredTask {
  public static let name = "masked"
  public static let summary = "restore 60 % of an 8×8 patch grid from the rest, per-patch normalised targets (SparK-style, U-Net, MSE on masked patches)"
  public static var settingsRead: Set<TaskSetting> { [.unetSkips] }
  public static let grid = 8, ratio = 0.6
  let settings: TaskSettings
  public let unet: DynamicUnet

  public init(_ settings: TaskSettings, backbone: Sequential?) throws {
    guard settings.size % Self.grid == 0 else {
      throw ImageError(path: nil, "masked inpainting cuts the image into \(Self.grid) × \(Self.grid) patches: --pretext-size must be a multiple of \(Self.grid) (got \(settings.size))")
    }
    self.settings = settings
    unet = try studyUnet(settings, backbone, outChannels: settings.channels)
  }

  public var model: any ParameterGroups { unet }
  /// Crop (+ flip in training) and the patch mask `patches` (grid × grid, 1.0 where blanked); validation
  /// masks too (its draws are fixed per item, so its loss is comparable across epochs).
  public func pipeline(training: Bool) -> Pipeline {
    Pipeline.crop(size: settings.size, training: training).then(PatchMask(grid: Self.grid, ratio: Self.ratio))
  }
  public lazy var step: TrainStep = MaskedInpaintingStep(unet: unet)
  public var metrics: [Metric] { [] }
  public func encoderState() -> [(name: String, tensor: Tensor)] { EncoderTransfer.encoderState(of: unet) }
  public var weightsFile: String { "masked-unet.safetensors" }
  /// SparK: LAMB, lr 2e-4 × batch / 256, wd 0.04 (its cosine rise of weight decay to 0.2 is not done), warm-up
  /// over 40 of 1,600 epochs, cosine to 0. LAMB is not among the optimizers here: AdamW (β 0.9 / 0.95) stands in.
  public var paperRecipe: TrainingRecipe? {
    TrainingRecipe(optimizer: .adam(beta1: 0.9, beta2: 0.95, decoupled: true), lrPer256: 2e-4, weightDecay: 0.04, warmup: 0.025,
                   decay: .cosine(final: 0), source: "Tian et al. 2023 (SparK), §4, AdamW for LAMB")
  }

  /// Rows of `masked input | original | visible patches + the prediction in the blanked ones` (each
  /// predicted patch mapped back to pixels with the true patch's mean and std, as MAE's figures do).
  public func pictureRows(_ batch: [String: Tensor], rows: Int, device: Device) throws -> [[[UInt8]]] {
    guard let x = batch["image"], let patches = batch["patches"] else {
      throw ImageError(path: nil, "a masked-inpainting picture needs the batch's image and patches")
    }
    let (input, _, mask) = try MaskedInpaintingStep.views(x, patches)
    let out = try inferring(unet) { try unet(input.to(device)).to(.cpu) }
    let (mean, std) = try MaskedInpaintingStep.patchStatistics(x)
    let restored = try MaskedInpaintingStep.unpatchify(try MaskedInpaintingStep.patchify(out) * std + mean, like: x)
    let shown = try (x * (1 - mask) + restored * mask).clamp(min: 0, max: 1)
    return try (0..<Swift.min(rows, x.shape[0])).map { [try tileBytes(input, $0), try tileBytes(x, $0), try tileBytes(shown, $0)] }
  }
}

/// The masked-inpainting step: blank the patches, predict, normalise each target patch, MSE over the blanked
/// patches (SparK: per-patch squared error averaged over the masked patches).
final class MaskedInpaintingStep: TrainStep {
  let unet: DynamicUnet
  init(unet: DynamicUnet) { self.unet = unet }

  func compute(_ batch: Batch, model: Module) throws -> StepOutput {
    let x = try batch.require("image")
    let (input, target, mask) = try Self.views(x, try batch.require("patches"))
    let prediction = try unet(input)
    return StepOutput(loss: try Self.maskedLoss(prediction, target, mask))
  }

  /// The blanked input, the per-patch normalised target and the full-resolution mask (N×1×H×W) of a batch.
  static func views(_ x: Tensor, _ patches: Tensor) throws -> (input: Tensor, target: Tensor, mask: Tensor) {
    let (n, h, w) = (x.shape[0], x.shape[2], x.shape[3]), g = patches.shape[2]
    let mask = try patches.reshape([n, 1, g, 1, g, 1]).expand([n, 1, g, h / g, g, w / g]).reshape([n, 1, h, w]).to(dtype: x.dtype)
    let (mean, std) = try patchStatistics(x)
    let target = try unpatchify((patchify(x) - mean) / std, like: x)
    return (try x * (1 - mask), target, mask)
  }

  /// N×3×H×W → N×3×g×p×g×p (grid rows, patch rows, grid columns, patch columns).
  static func patchify(_ x: Tensor) throws -> Tensor {
    let (n, c, h, w) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3]), g = MaskedInpaintingTask.grid
    return try x.reshape([n, c, g, h / g, g, w / g])
  }
  static func unpatchify(_ p: Tensor, like x: Tensor) throws -> Tensor { try p.reshape(x.shape) }

  /// Each patch's mean and std over its pixels and channels (MAE/SparK: unbiased variance, + 1e-6).
  static func patchStatistics(_ x: Tensor) throws -> (mean: Tensor, std: Tensor) {
    let p = try patchify(x.to(dtype: .float32))
    let mean = try p.mean(dims: [1, 3, 5], keepDim: true)
    let count = Double(p.shape[1] * p.shape[3] * p.shape[5])
    let variance = try (p - mean).square().sum(dims: [1, 3, 5], keepDim: true) / (count - 1)
    return (mean, try (variance + 1e-6).sqrt())
  }

  /// Squared error averaged over the blanked patches' elements (every patch has as many).
  static func maskedLoss(_ prediction: Tensor, _ target: Tensor, _ mask: Tensor) throws -> Tensor {
    let err = try (prediction.to(dtype: .float32) - target).square() * mask
    return try err.sum() / (mask.sum() * Double(prediction.shape[1]) + 1e-8)
  }
}
