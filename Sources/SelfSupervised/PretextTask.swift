import ImageData
import NN
import Torch
import Training

/// What a pretext task is given to build itself.
public struct TaskSettings: Sendable {
  /// Image side of the pretext's inputs.
  public var size: Int
  /// xresnet34 width multiplier of the backbone.
  public var widen: Double
  /// Inpainting's holes (count and side ranges, already scaled to `size` where the study asks it).
  public var cutout: RandomCutout
  public init(size: Int, widen: Double, cutout: RandomCutout = RandomCutout()) { (self.size, self.widen, self.cutout) = (size, widen, cutout) }
}

/// A self-supervised pretext task, one file per task (lightly/solo-learn style): the network it trains (a
/// backbone the downstream classifier reuses, plus the task's heads), the views its loader makes, the step
/// that turns a batch into its loss, its metrics, what it saves and a picture of what it does. The run
/// itself (loaders, optimizer, schedule, checkpoints, resume) is the study's, the same for every task.
public protocol PretextTask: AnyObject {
  /// The registry name (`--task NAME`) and one line about it (`pretext tasks`).
  static var name: String { get }
  static var summary: String { get }
  init(_ settings: TaskSettings) throws
  /// The network trained; its parameter groups get the optimizer's learning rates.
  var model: any ParameterGroups { get }
  /// The loader's item transforms (validation: deterministic crops, the task's own damage or labels).
  func pipeline(training: Bool) -> Pipeline
  /// How a batch becomes the task's loss (and, where it has one, its prediction and target for metrics).
  var step: TrainStep { get }
  /// Validation metrics of the task's own (rotation: accuracy of the predicted angle).
  var metrics: [Metric] { get }
  /// The backbone's weights under the xresnet classifier's key names: `encoder.safetensors`.
  func encoderState() -> [(name: String, tensor: Tensor)]
  /// The whole network's weights, saved beside the encoder (`show` rebuilds the task from them).
  var weightsFile: String { get }
  /// A picture of the task on a validation batch (CPU tensors), written as PNG.
  func writePicture(_ batch: [String: Tensor], rows: Int, to path: String, device: Device) throws
}

/// The pretext tasks by name.
public enum PretextTasks {
  public static let all: [any PretextTask.Type] = [InpaintingTask.self, RotationTask.self]
  public static var names: [String] { all.map { $0.name } }
  public static func named(_ name: String) -> (any PretextTask.Type)? { all.first { $0.name == name } }
}

/// Runs `body` in eval mode without autograd, then puts the model back in training mode.
func inferring<T>(_ model: Module, _ body: () throws -> T) throws -> T {
  model.eval()
  defer { model.train() }
  return try withNoGrad(body)
}

/// Rows of equal-sized RGB tiles (HWC bytes, `side` × `side`) with a 2-px white gap, as one PNG.
func writeTileGrid(_ rows: [[[UInt8]]], side s: Int, to path: String) throws {
  let cols = rows.map(\.count).max() ?? 0, gap = 2, width = cols * s + (cols - 1) * gap
  var grid = [UInt8](repeating: 255, count: rows.count * (s + gap) * width * 3)
  for (i, row) in rows.enumerated() {
    for (col, img) in row.enumerated() {
      for py in 0..<s {
        let dst = ((i * (s + gap) + py) * width + col * (s + gap)) * 3
        for j in 0..<(s * 3) { grid[dst + j] = img[py * s * 3 + j] }
      }
    }
  }
  try ImageCodec.write(RGBImage(width: width, height: rows.count * (s + gap), pixels: grid), to: path)
}

/// Image `i` of an N×3×H×W float batch in [0, 1] as HWC bytes.
func tileBytes(_ t: Tensor, _ i: Int) throws -> [UInt8] {
  try (t[i].permute([1, 2, 0]) * 255.0).round().clamp(min: 0, max: 255).to(dtype: .uint8).contiguous().toArray(of: UInt8.self)
}
