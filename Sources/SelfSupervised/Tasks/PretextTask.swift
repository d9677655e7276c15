import Foundation
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
  /// Image channels (1 gray, 3 RGB): what the backbone's stem takes and what image-making heads output.
  public var channels: Int
  /// Inpainting's holes (count and side ranges, already scaled to `size` where the study asks it).
  public var cutout: RandomCutout
  /// SwAV's queue: projections kept per global crop (0: none).
  public var swavQueue: Int
  /// The U-Net tasks' (inpainting, colorization, masked) skip connections from the encoder to the decoder:
  /// fastai's unet_learner has them; without, the image is rebuilt from the encoder's deepest features only.
  public var unetSkips: Bool
  public init(size: Int, widen: Double, channels: Int = 3, cutout: RandomCutout = RandomCutout(), swavQueue: Int = 0,
              unetSkips: Bool = true) {
    (self.size, self.widen, self.channels, self.cutout, self.swavQueue) = (size, widen, channels, cutout, swavQueue)
    self.unetSkips = unetSkips
  }

  /// A new xresnet34 body of these settings' width and channels.
  public func newBackbone() throws -> Sequential { try XResNet(.resnet34, inChannels: channels, widen: widen).body }
}

/// A self-supervised pretext task, one file per task (lightly/solo-learn style): the network it trains (a
/// backbone the downstream classifier reuses, plus the task's heads), the views its loader makes, the step
/// that turns a batch into its loss, its metrics, what it saves and a picture of what it does. The run
/// itself (loaders, optimizer, schedule, checkpoints, resume) is the study's, the same for every task.
public protocol PretextTask: AnyObject {
  /// The network trained; its parameter groups get the optimizer's learning rates (what is not in a group,
  /// such as BYOL's momentum encoder, is saved and restored but not trained).
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
  /// Rows of equal-sized RGB tiles (HWC bytes) picturing the task on a validation batch of CPU tensors.
  func pictureRows(_ batch: [String: Tensor], rows: Int, device: Device) throws -> [[[UInt8]]]
  /// The optimizer, learning rate, weight decay and schedule of the task's paper (`--pretext-recipe paper`);
  /// nil where there is none to follow (several tasks at once).
  var paperRecipe: TrainingRecipe? { get }
}

/// The settings of `TaskSettings` that only some tasks read: a flag for one of them is refused when no task being
/// trained reads it (`--cutout-size` with `--task rotation` would be silently ignored).
public enum TaskSetting: String, Sendable, CaseIterable {
  /// Inpainting's holes: count, size and fill (`--cutout-holes`, `--cutout-size`, `--cutout-fill`).
  case cutout
  /// SwAV's queue (`--swav-queue`).
  case swavQueue
  /// The U-Net's skip connections (`--unet-skips`), in the tasks that build one.
  case unetSkips
}

/// A task in the registry, selected by name (`--task NAME`).
public protocol RegisteredTask: PretextTask {
  /// The registry name and one line about it (`pretext tasks`).
  static var name: String { get }
  static var summary: String { get }
  /// Whether the task is about colour (colorization): it cannot train on 1-channel images.
  static var needsColour: Bool { get }
  /// The task-specific settings it reads (none by default).
  static var settingsRead: Set<TaskSetting> { get }
  /// The task on `backbone` when given (an xresnet34 body of the settings' width; a multi-task run passes
  /// every task the same one), else on a new one.
  init(_ settings: TaskSettings, backbone: Sequential?) throws
}

extension RegisteredTask {
  public init(_ settings: TaskSettings) throws { try self.init(settings, backbone: nil) }
  public static var needsColour: Bool { false }
  public static var settingsRead: Set<TaskSetting> { [] }
}

extension PretextTask {
  /// The task's picture as one PNG.
  public func writePicture(_ batch: [String: Tensor], rows: Int, to path: String, device: Device) throws {
    let grid = try pictureRows(batch, rows: rows, device: device)
    guard grid.first?.first != nil else { throw ImageError(path: path, "the task drew no picture") }
    try writeTileGrid(grid, to: path)
  }
}

/// The pretext tasks by name, and task specs: `NAME`, or `NAME:WEIGHT,NAME:WEIGHT,…` for several tasks
/// trained at once on one backbone (`MultiTask`).
public enum PretextTasks {
  public static let all: [any RegisteredTask.Type] = [
    InpaintingTask.self, MaskedInpaintingTask.self, RotationTask.self, SimCLRTask.self, BYOLTask.self, SimSiamTask.self,
    SwAVTask.self, JigsawTask.self, ColorizationTask.self,
  ]
  public static var names: [String] { all.map { $0.name } }
  public static func named(_ name: String) -> (any RegisteredTask.Type)? { all.first { $0.name == name } }

  public struct SpecError: Error, CustomStringConvertible {
    public let description: String
  }

  /// The weights a multi-task spec may give a task, besides 0.
  public static let weightRange = 1e-6...1e6

  /// A spec's tasks and weights; a single name without a weight is that task alone (weight nil).
  public static func parse(_ spec: String) throws -> [(name: String, weight: Double?)] {
    let parts = spec.split(separator: ",", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
    var out: [(name: String, weight: Double?)] = []
    for part in parts {
      let fields = part.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
      guard let name = fields.first, named(name) != nil else {
        throw SpecError(description: "'\(part)' in --task '\(spec)' is not a pretext task (\(names.joined(separator: ", ")))")
      }
      var weight: Double? = nil
      if fields.count == 2 {
        guard let w = Double(fields[1]), w.isFinite, w >= 0 else {
          throw SpecError(description: "the weight of '\(name)' in --task '\(spec)' is not a number ≥ 0")
        }
        // A loss scaled by less underflows float32 (its gradients are zero: nothing trains); by more, overflows.
        guard w == 0 || weightRange.contains(w) else {
          throw SpecError(description: "the weight of '\(name)' in --task '\(spec)' is \(fields[1]): use 0 (off) or a weight between \(weightRange.lowerBound) and \(Int(weightRange.upperBound)) (a loss scaled by it would \(w < 1 ? "underflow to zero and train nothing" : "overflow float32"))")
        }
        weight = w
      } else if fields.count > 2 {
        throw SpecError(description: "'\(part)' in --task '\(spec)': write NAME or NAME:WEIGHT")
      }
      guard !out.contains(where: { $0.name == name }) else {
        throw SpecError(description: "'\(name)' appears twice in --task '\(spec)'")
      }
      out.append((name, weight))
    }
    if out.count > 1 || out.first?.weight != nil {
      guard out.allSatisfy({ $0.weight != nil }) else {
        throw SpecError(description: "--task '\(spec)': give every task of a multi-task spec a weight (NAME:WEIGHT,…)")
      }
      guard out.contains(where: { $0.weight! > 0 }) else {
        throw SpecError(description: "--task '\(spec)': at least one task needs a weight above 0")
      }
    }
    return out
  }

  /// The task a spec names: one registered task, or a `MultiTask` of several; on `backbone` when given (a
  /// classifier's body, for a task trained beside it), else on a new one.
  public static func make(_ spec: String, _ settings: TaskSettings, backbone: Sequential? = nil) throws -> any PretextTask {
    let parsed = try parse(spec)
    if parsed.count == 1, parsed[0].weight == nil { return try named(parsed[0].name)!.init(settings, backbone: backbone) }
    return try MultiTask(parsed.map { ($0.name, $0.weight!) }, settings, backbone: backbone)
  }
}

/// Runs `body` in eval mode without autograd, then puts the model back in training mode.
public func inferring<T>(_ model: Module, _ body: () throws -> T) throws -> T {
  model.eval()
  defer { model.train() }
  return try withNoGrad(body)
}

/// Rows of square RGB tiles (HWC bytes) with a 2-px white gap, as one PNG. Tiles may differ in side (several
/// tasks' pictures in one: jigsaw's boards, SwAV's crops): each sits top-left in a cell of the largest side.
func writeTileGrid(_ rows: [[[UInt8]]], to path: String) throws {
  func side(_ tile: [UInt8]) -> Int { Int(Double(tile.count / 3).squareRoot()) }
  let s = rows.flatMap { $0.map(side) }.max() ?? 0
  for tile in rows.joined() where side(tile) * side(tile) * 3 != tile.count {
    throw ImageError(path: path, "a picture tile of \(tile.count) bytes is not a square RGB image")
  }
  let cols = rows.map(\.count).max() ?? 0, gap = 2, width = cols * s + (cols - 1) * gap
  var grid = [UInt8](repeating: 255, count: rows.count * (s + gap) * width * 3)
  for (i, row) in rows.enumerated() {
    for (col, img) in row.enumerated() {
      let t = side(img)
      for py in 0..<t {
        let dst = ((i * (s + gap) + py) * width + col * (s + gap)) * 3
        for j in 0..<(t * 3) { grid[dst + j] = img[py * t * 3 + j] }
      }
    }
  }
  try ImageCodec.write(Image(width: width, height: rows.count * (s + gap), pixels: grid), to: path)
}

/// `tile` (square, HWC bytes) with a 2-px frame, green when the task's prediction on it was right, red when wrong.
func framed(_ tile: [UInt8], right: Bool) -> [UInt8] {
  let s = Int(Double(tile.count / 3).squareRoot())
  let colour: (UInt8, UInt8, UInt8) = right ? (0, 200, 0) : (220, 0, 0)
  var out = tile
  for y in 0..<s { for x in 0..<s where x < 2 || y < 2 || x >= s - 2 || y >= s - 2 {
    let k = 3 * (y * s + x)
    (out[k], out[k + 1], out[k + 2]) = colour
  } }
  return out
}

/// The study's U-Net over `backbone`, or over a new xresnet34 body of the settings' width.
func studyUnet(_ settings: TaskSettings, _ backbone: Sequential?, outChannels: Int) throws -> DynamicUnet {
  try DynamicUnet(encoder: backbone ?? settings.newBackbone(), outChannels: outChannels,
                  imageSize: (settings.size, settings.size), skipConnections: settings.unetSkips)
}

/// Image `i` of an N×C×H×W float batch in [0, 1] as RGB HWC bytes (a gray image's one channel copied into
/// three).
func tileBytes(_ t: Tensor, _ i: Int) throws -> [UInt8] {
  let image = t.shape[1] == 1 ? try t[i].expand([3, t.shape[2], t.shape[3]]) : try t[i]
  return try (image.permute([1, 2, 0]) * 255.0).round().clamp(min: 0, max: 255).to(dtype: .uint8).contiguous().toArray(of: UInt8.self)
}
