import ImageData
import NN
import Torch
import Training

/// RotNet (Gidaris et al. 2018): predict by how many quarter turns (0/90/180/270°) an image was rotated,
/// a 4-way linear head on the pooled xresnet34 backbone, cross-entropy; its accuracy is the progress monitor. Each item gets one random rotation
/// (drawn per (seed, epoch, item)); the paper's four rotations per image are four epochs' worth here.
public final class RotationTask: RegisteredTask {
  public static let name = "rotation"
  public static let summary = "predict the rotation (0/90/180/270°) of an image: RotNet, 4-way head on the pooled backbone"
  let settings: TaskSettings
  /// The pooled encoder and a 4-way linear head; the encoder's body has the classifier's keys.
  public let net: EncoderClassifier

  public init(_ settings: TaskSettings, backbone: Sequential?) throws {
    self.settings = settings
    net = try EncoderClassifier(PooledEncoder(body: backbone ?? settings.newBackbone()), classes: 4)
  }

  public var model: any ParameterGroups { net }
  public func pipeline(training: Bool) -> Pipeline {
    Pipeline.crop(size: settings.size, training: training).then(Rotate90(label: "rotation"))
  }
  public let step: TrainStep = SupervisedStep(input: "image", target: "rotation", loss: { try crossEntropy($0, $1) })
  public var metrics: [Metric] { [Accuracy()] }
  public func encoderState() -> [(name: String, tensor: Tensor)] { net.encoder.body.stateDict() }
  public var weightsFile: String { "rotation.safetensors" }
  /// RotNet: SGD with Nesterov momentum 0.9, lr 0.1 at batch 128, wd 5e-4, × 0.2 at epochs 30, 60, 80 of 100.
  public var paperRecipe: TrainingRecipe? {
    TrainingRecipe(optimizer: .sgd(momentum: 0.9, nesterov: true), lrPer256: 0.2, weightDecay: 5e-4,
                   decay: .steps(at: [0.3, 0.6, 0.8], factor: 0.2), source: "Gidaris et al. 2018 (RotNet), CIFAR/ImageNet NIN setting")
  }

  /// Rows of `input | turned back by the predicted angle` (upright when right), framed green when the
  /// prediction is right and red when wrong.
  public func pictureRows(_ batch: [String: Tensor], rows: Int, device: Device) throws -> [[[UInt8]]] {
    guard let x = batch["image"], let r = batch["rotation"] else {
      throw ImageError(path: nil, "a rotation picture needs the batch's image and rotation")
    }
    let predicted = try inferring(net) { try net(x.to(device)).argmax(dim: 1).to(.cpu).toArray(of: Int64.self) }
    let truth = try r.toArray(of: Int64.self)
    let n = Swift.min(rows, x.shape[0]), s = x.shape[2]
    var grid: [[[UInt8]]] = []
    for i in 0..<n {
      let input = try tileBytes(x, i)
      let back = Image(width: s, height: s, pixels: input).rotated90(times: 4 - Int(predicted[i]))
      grid.append([input, back.pixels].map { framed($0, right: predicted[i] == truth[i]) })
    }
    return grid
  }
}
