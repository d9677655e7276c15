import ImageData
import NN
import Torch
import Training

/// Several pretext tasks trained at once on one backbone (`--task inpainting:1,rotation:0.5,simclr:1`): every
/// task is built on the same xresnet34 body, the loader decodes each image once and makes each task's views
/// from it (`Namespaced`: slots `task/…`, each task's draws its own stream), the loss is the weighted sum of
/// the tasks' losses and each task's loss and logs are logged on their own (`<task>_loss`, `<task>_<log>`,
/// `<task>_<metric>`). A weight of 0 leaves the task out: nothing of it is built, drawn or run, so the run is
/// the same as without it.
public final class MultiTask: PretextTask {
  public struct Part {
    public let name: String, weight: Double
    public let task: any PretextTask
  }
  public let parts: [Part]
  /// The shared body: the encoder every task trains.
  public let backbone: Sequential
  public let net: MultiTaskNet
  let settings: TaskSettings

  public init(_ spec: [(name: String, weight: Double)], _ settings: TaskSettings, backbone: Sequential? = nil) throws {
    self.settings = settings
    self.backbone = try backbone ?? settings.newBackbone()
    var parts: [Part] = []
    for (name, weight) in spec where weight > 0 {
      guard let type = PretextTasks.named(name) else { throw PretextTasks.SpecError(description: "'\(name)' is not a pretext task") }
      parts.append(Part(name: name, weight: weight, task: try type.init(settings, backbone: self.backbone)))
    }
    guard !parts.isEmpty else { throw PretextTasks.SpecError(description: "a multi-task run needs a task with a weight above 0") }
    self.parts = parts
    net = MultiTaskNet(parts.map { ($0.name, $0.task.model) })
    step = MultiTaskStep(parts)
  }

  public var model: any ParameterGroups { net }

  public func pipeline(training: Bool) -> Pipeline {
    let pipelines = parts.map { ($0.name, $0.task.pipeline(training: training)) }
    return Pipeline(decodeSide: pipelines.map(\.1.decodeSide).max()!, pipelines.map { Namespaced($0.0, $0.1) })
  }

  public let step: TrainStep
  /// Each task's metrics are logs of the step (`<task>_<metric>`), as the learner scores one prediction.
  public var metrics: [Metric] { [] }
  public func encoderState() -> [(name: String, tensor: Tensor)] { backbone.stateDict() }
  public var weightsFile: String { "multitask.safetensors" }
  /// Several tasks have several papers: none to follow.
  public var paperRecipe: TrainingRecipe? { nil }

  /// Each task's picture rows in turn.
  public func pictureRows(_ batch: [String: Tensor], rows: Int, device: Device) throws -> [[[UInt8]]] {
    try parts.flatMap { try $0.task.pictureRows(MultiTaskStep.slots(of: $0.name, in: batch), rows: rows, device: device) }
  }
}

/// The tasks' networks as children named by task. The shared backbone is reached through each of them: its
/// parameters are listed (and trained) once, under the first task's name; the state dict keeps every name.
public final class MultiTaskNet: Module, ParameterGroups {
  let tasks: [(name: String, model: any ParameterGroups)]
  init(_ tasks: [(name: String, model: any ParameterGroups)]) {
    self.tasks = tasks
    super.init()
  }
  public override func namedChildren() -> [(String, Module)] { tasks.map { ($0.name, $0.model) } }

  /// Group k holds every task's group k (stem / rest of the backbone / heads), each parameter once.
  public func parameterGroups() -> [[(name: String, parameter: Parameter)]] {
    typealias Group = [(name: String, parameter: Parameter)]
    var seen = Set<ObjectIdentifier>()
    var groups: [Group] = []
    for (name, model) in tasks {
      for (k, group) in model.parameterGroups().enumerated() {
        if groups.count <= k { groups.append([]) }
        for (n, p) in group where seen.insert(ObjectIdentifier(p)).inserted { groups[k].append((name + "." + n, p)) }
      }
    }
    return groups
  }
}

/// Runs each task's step on its slots of the batch and sums the weighted losses.
final class MultiTaskStep: TrainStep {
  let parts: [MultiTask.Part]
  init(_ parts: [MultiTask.Part]) { self.parts = parts }

  /// `task/slot` tensors of a batch as `slot`.
  static func slots(of task: String, in tensors: [String: Tensor]) -> [String: Tensor] {
    let prefix = task + "/"
    return Dictionary(uniqueKeysWithValues: tensors.compactMap { k, v in k.hasPrefix(prefix) ? (String(k.dropFirst(prefix.count)), v) : nil })
  }

  func compute(_ batch: Batch, model: Module) throws -> StepOutput {
    var total: Tensor? = nil
    var logs: [String: Tensor] = [:]
    for part in parts {
      let out = try part.task.step.compute(Batch(Self.slots(of: part.name, in: batch.tensors)), model: part.task.model)
      let weighted = try out.loss * part.weight
      total = try total.map { try $0 + weighted } ?? weighted
      logs[part.name + "_loss"] = try out.loss.detach()
      for (k, v) in out.logs { logs[part.name + "_" + k] = v }
      if let p = out.prediction, let y = out.target {
        for var metric in part.task.metrics {
          try metric.accumulate(prediction: p.detach(), target: y)
          logs[part.name + "_" + metric.name] = try Tensor(scalar: metric.value)
        }
      }
    }
    return StepOutput(loss: total!, logs: logs)
  }

  func afterOptimizerStep(_ learner: Learner) throws {
    for part in parts { try part.task.step.afterOptimizerStep(learner) }
  }

  func setMode(training: Bool, model: Module) {
    for part in parts { part.task.step.setMode(training: training, model: part.task.model) }
  }
}
