import ImageData
import NN
import Torch
import Training

/// SwAV (Caron et al. 2020): each crop's normalised projection is scored against learnt prototypes; the
/// scores of each global crop, balanced over the batch by Sinkhorn-Knopp (3 iterations, ε 0.05), are the
/// codes every other crop must predict (cross-entropy of its softmax at τ 0.1: the "swapped" prediction).
/// Multi-crop: 2 global crops (14–100 % of the image) and 6 local ones (5–14 %, 96/224 of the side), lightly's
/// SwaVTransform otherwise (flip, jitter 0.8 at 0.8/0.8/0.8/0.2, grayscale 0.2, blur 0.5). Projector f → f
/// (BN, ReLU) → 128 (the paper: 2048 → 2048 → 128), 512 prototypes (lightly's examples; the paper's 3000 is
/// for ImageNet) as the paper's bias-free linear map (lightly's SwaVPrototypes has a bias), re-normalised
/// after every step; the paper's freezing of the prototypes in the first epoch is not done. `--swav-queue N` keeps the last N global-crop projections
/// per global crop (the paper's queue for small batches): once full, their scores join the batch's in
/// Sinkhorn (codes are kept for the batch rows only).
public final class SwAVTask: RegisteredTask {
  public static let name = "swav"
  public static let summary = "predict one crop's Sinkhorn cluster codes from another's (SwAV: prototypes, 2 + 6 multi-crop, optional queue)"
  public static var settingsRead: Set<TaskSetting> { [.swavQueue] }
  public static let temperature = 0.1, sinkhornIterations = 3, sinkhornEpsilon = 0.05
  public static let prototypes = 512, projection = 128, globalCrops = 2, localCrops = 6
  static let global = SSLAugment.Recipe(minScale: 0.14, jitter: (0.8, 0.8, 0.8, 0.2), blurP: 0.5)
  static let local = SSLAugment.Recipe(minScale: 0.05, maxScale: 0.14, jitter: (0.8, 0.8, 0.8, 0.2), blurP: 0.5)
  let settings: TaskSettings
  public let net: SwAVNet

  public init(_ settings: TaskSettings, backbone: Sequential?) throws {
    self.settings = settings
    let encoder = try pooledEncoder(settings, backbone)
    let f = encoder.featureCount
    net = try SwAVNet(encoder: encoder, projector: .swav(f, hidden: f, outputs: Self.projection), prototypes: Self.prototypes,
                      queue: settings.swavQueue, globalCrops: Self.globalCrops)
  }

  /// The local crops' side: the paper's 96 px at 224.
  public var localSize: Int { Swift.max(8, Int((Double(settings.size) * 96 / 224).rounded())) }

  public var model: any ParameterGroups { net }
  public func pipeline(training: Bool) -> Pipeline {
    let globals = (0..<Self.globalCrops).map { ("view\($0)", SSLAugment.chain(Self.global, size: settings.size)) }
    let locals = (0..<Self.localCrops).map { ("local\($0)", SSLAugment.chain(Self.local, size: localSize)) }
    return Pipeline(decodeSide: settings.size, [Views(globals + locals)])
  }
  public lazy var step: TrainStep = SwAVStep(net, localCrops: Self.localCrops)
  public var metrics: [Metric] { [] }
  public func encoderState() -> [(name: String, tensor: Tensor)] { net.encoder.body.stateDict() }
  public var weightsFile: String { "swav.safetensors" }
  /// SwAV at batch 256 (its repository's bs256 configuration): LARS, lr 0.6 × batch / 256, wd 1e-6, cosine to
  /// 1/1000 of the peak, no warm-up.
  public var paperRecipe: TrainingRecipe? {
    TrainingRecipe(optimizer: .lars(momentum: 0.9), lrPer256: 0.6, weightDecay: 1e-6, decay: .cosine(final: 1e-3),
                   source: "Caron et al. 2020 (SwAV), its repository's 256-batch setting")
  }
  public func pictureRows(_ batch: [String: Tensor], rows: Int, device: Device) throws -> [[[UInt8]]] {
    try twoViewPicture(batch, rows: rows)
  }
}

/// SwAV's network: the pooled encoder, the projector, the prototypes (a linear map without bias whose rows
/// are kept unit length) and, with a queue, the last projections of each global crop (buffers, so a
/// checkpoint carries them and a resumed run continues the same queue).
public final class SwAVNet: Module, ParameterGroups {
  public let encoder: PooledEncoder
  public let projector: ProjectionHead
  public let prototypes: Linear
  /// globalCrops × length × projection, newest first; `queued` counts the rows filled so far.
  public let queue: Buffer?
  public let queued: Buffer?

  public init(encoder: PooledEncoder, projector: ProjectionHead, prototypes count: Int, queue length: Int, globalCrops: Int) throws {
    (self.encoder, self.projector) = (encoder, projector)
    let d = projector.outputCount
    prototypes = try Linear(d, count, bias: false)
    queue = length > 0 ? Buffer(try Tensor.zeros([globalCrops, length, d])) : nil
    queued = length > 0 ? Buffer(try Tensor.zeros([], dtype: .int64)) : nil
    super.init()
    try normalizePrototypes()
  }

  /// The backbone features of `x` and their L2-normalised projection.
  public func embed(_ x: Tensor) throws -> (features: Tensor, z: Tensor) {
    let f = try encoder(x)
    return (f, try projector(f).normalized())
  }

  public override func forward(_ x: Tensor) throws -> Tensor { try prototypes(embed(x).z) }

  /// lightly's SwaVPrototypes.normalize: each prototype scaled to unit length (no gradient).
  public func normalizePrototypes() throws {
    try withNoGrad { try prototypes.weight.value.copy_(prototypes.weight.value.normalized(dim: 1)) }
  }

  /// The queue's contents once it is full (nil before, or without a queue).
  var fullQueue: Tensor? {
    get throws {
      guard let queue, let queued else { return nil }
      return try queued.value.item().doubleValue >= Double(queue.value.shape[1]) ? queue.value : nil
    }
  }

  /// Puts each global crop's projections at the head of its queue (the oldest fall off the end).
  func enqueue(_ z: [Tensor]) throws {
    guard let queue, let queued else { return }
    let length = queue.value.shape[1]
    try withNoGrad {
      for (i, zi) in z.enumerated() {
        let b = zi.shape[0]
        guard b <= length else {
          throw ImageError(path: nil, "SwAV's queue (\(length)) is shorter than a batch (\(b)): set --swav-queue to at least the batch")
        }
        let q = try queue.value[i]
        try q.copy_(Tensor.cat([zi.detach().to(dtype: q.dtype), q.narrow(dim: 0, start: 0, length: length - b)]))
      }
      try queued.value.add_(.int(z.first?.shape[0] ?? 0))
    }
  }

  /// The encoder's stem / the rest of the encoder / the projector and prototypes.
  public func parameterGroups() -> [[(name: String, parameter: Parameter)]] {
    let (stem, rest) = encoder.stemAndRest(prefix: "encoder")
    let heads = projector.namedParameters(prefix: "projector") + prototypes.namedParameters(prefix: "prototypes")
    return [stem, rest, heads.map { ($0.0, $0.1) }]
  }
}

/// SwAV's step: every crop through encoder, projector and prototypes (each crop size its own forward, as
/// lightly's example), the swapped-prediction loss, the monitors on the first global crop. After the
/// optimizer step the prototypes are re-normalised and the global crops' projections enter the queue.
final class SwAVStep: TrainStep {
  let net: SwAVNet
  let localCrops: Int
  /// The last training batch's global projections, queued after its optimizer step.
  var pending: [Tensor] = []
  init(_ net: SwAVNet, localCrops: Int) { (self.net, self.localCrops) = (net, localCrops) }

  func compute(_ batch: Batch, model: Module) throws -> StepOutput {
    let globals = try (0..<SwAVTask.globalCrops).map { try net.embed(batch.require("view\($0)")) }
    let locals = try (0..<localCrops).map { try net.embed(batch.require("local\($0)")).z }
    let queueScores = try net.fullQueue.map { q in try withNoGrad { try (0..<q.shape[0]).map { try net.prototypes(q[$0]) } } }
    pending = globals.map(\.z)
    let loss = try swavLoss(high: globals.map { try net.prototypes($0.z) }, low: locals.map { try net.prototypes($0) },
                            queue: queueScores, temperature: SwAVTask.temperature,
                            iterations: SwAVTask.sinkhornIterations, epsilon: SwAVTask.sinkhornEpsilon, group: ProcessGroup.default)
    return StepOutput(loss: loss, logs: try EmbeddingMonitor.logs(features: globals[0].features, projections: globals[0].z))
  }

  func afterOptimizerStep(_ learner: Learner) throws {
    try net.normalizePrototypes()
    try net.enqueue(pending)
    pending = []
  }
}
