import ImageData
import NN
import Torch
import Training

/// Jigsaw puzzles (Noroozi & Favaro 2016): the image's 3 × 3 cells, a tile from each (64/75 of the cell at a
/// random offset, the paper's gap), shuffled by one of a fixed set of 100 permutations chosen for large
/// Hamming distances; every tile goes through the shared pooled backbone (each tile normalised to its own
/// mean and std, the paper's guard against low-level shortcuts), the 9 features are concatenated and an MLP
/// (9f → 2f, BN, ReLU → 100) names the permutation; cross-entropy, with its accuracy as the progress monitor.
public final class JigsawTask: RegisteredTask {
  public static let name = "jigsaw"
  public static let summary = "name which of 100 permutations shuffled the image's 3×3 tiles (Noroozi & Favaro: shared backbone per tile)"
  public static let grid = 3, permutationCount = 100
  /// The fixed permutation set: greedy maximal minimum Hamming distance (the paper's selection) over a
  /// seeded pool of 5,000 random permutations, starting from the identity; the same on every machine.
  public static let permutations: [[Int]] = hammingPermutations(count: permutationCount, cells: grid * grid, pool: 5000, seed: 75)
  let settings: TaskSettings
  public let net: JigsawNet

  public init(_ settings: TaskSettings, backbone: Sequential?) throws {
    self.settings = settings
    let encoder = try pooledEncoder(settings, backbone)
    let f = encoder.featureCount, tiles = Self.grid * Self.grid
    net = try JigsawNet(encoder: encoder, tiles: tiles, head: ProjectionHead([
      .init(tiles * f, 2 * f, batchNorm: true, relu: true), .init(2 * f, Self.permutationCount),
    ]))
  }

  public var model: any ParameterGroups { net }
  public func pipeline(training: Bool) -> Pipeline {
    Pipeline.crop(size: settings.size, training: training)
      .then(JigsawTiles(grid: Self.grid, permutations: Self.permutations, training: training))
  }
  public lazy var step: TrainStep = JigsawStep(net)
  public var metrics: [Metric] { [Accuracy()] }
  public func encoderState() -> [(name: String, tensor: Tensor)] { net.encoder.body.stateDict() }
  public var weightsFile: String { "jigsaw.safetensors" }
  /// Jigsaw: SGD momentum 0.9, lr 0.01 at batch 256, wd 5e-4, × 0.1 every 100k of 350k iterations.
  public var paperRecipe: TrainingRecipe? {
    TrainingRecipe(optimizer: .sgd(momentum: 0.9, nesterov: false), lrPer256: 0.01, weightDecay: 5e-4,
                   decay: .steps(at: [2.0 / 7, 4.0 / 7, 6.0 / 7], factor: 0.1), source: "Noroozi & Favaro 2016, §4")
  }

  /// Rows of `the shuffled tiles | put back by the predicted permutation` (the image when right), framed
  /// green when the prediction is right and red when wrong.
  public func pictureRows(_ batch: [String: Tensor], rows: Int, device: Device) throws -> [[[UInt8]]] {
    let tiles = (0..<(Self.grid * Self.grid)).compactMap { batch["tile\($0)"] }
    guard tiles.count == Self.grid * Self.grid, let truth = batch["permutation"] else {
      throw ImageError(path: nil, "a jigsaw picture needs the batch's tiles and permutation")
    }
    let predicted = try inferring(net) {
      try net.logits(tiles.map { try $0.to(device) }).argmax(dim: 1).to(.cpu).toArray(of: Int64.self)
    }
    let want = try truth.toArray(of: Int64.self)
    let t = tiles[0].shape[2], g = Self.grid, side = g * t
    return try (0..<Swift.min(rows, tiles[0].shape[0])).map { i in
      let bytes = try tiles.map { try tileBytes($0, i) }
      // Slot s shows cell permutation[s]: placed at slot s (shuffled) or at that cell (put back).
      func board(_ place: (Int) -> Int) -> [UInt8] {
        var out = [UInt8](repeating: 255, count: side * side * 3)
        for s in 0..<(g * g) {
          let c = place(s), (cx, cy) = (c % g, c / g)
          for y in 0..<t { for x in 0..<(t * 3) { out[((cy * t + y) * side) * 3 + cx * t * 3 + x] = bytes[s][(y * t) * 3 + x] } }
        }
        return out
      }
      let perm = Self.permutations[Int(predicted[i])]
      return [board { $0 }, board { perm[$0] }].map { framed($0, right: predicted[i] == want[i]) }
    }
  }
}

/// The jigsaw network: the pooled encoder on every tile, their features concatenated in slot order, the head.
public final class JigsawNet: Module, ParameterGroups {
  public let encoder: PooledEncoder
  public let head: ProjectionHead
  let tiles: Int
  init(encoder: PooledEncoder, tiles: Int, head: ProjectionHead) {
    (self.encoder, self.tiles, self.head) = (encoder, tiles, head)
    super.init()
  }

  /// Permutation logits (N × permutations) of the tiles (each N×3×t×t, in slot order).
  public func logits(_ tiles: [Tensor]) throws -> Tensor {
    let n = tiles[0].shape[0]
    let x = try Tensor.cat(tiles)  // slot-major: rows s·N … s·N + N − 1 are slot s
    let mean = try x.mean(dims: [1, 2, 3], keepDim: true)
    let std = try ((x - mean).square().mean(dims: [1, 2, 3], keepDim: true) + 1e-6).sqrt()
    let f = try encoder((x - mean) / std)
    return try head(f.reshape([self.tiles, n, f.shape[1]]).permute([1, 0, 2]).reshape([n, self.tiles * f.shape[1]]))
  }

  public override func forward(_ x: Tensor) throws -> Tensor { try encoder(x) }

  /// The encoder's stem / the rest of the encoder / the head.
  public func parameterGroups() -> [[(name: String, parameter: Parameter)]] {
    let (stem, rest) = encoder.stemAndRest(prefix: "encoder")
    return [stem, rest, head.namedParameters(prefix: "head").map { ($0.0, $0.1) }]
  }
}

/// The jigsaw step: the tiles' permutation logits against the drawn permutation; the logits and labels feed
/// the accuracy.
final class JigsawStep: TrainStep {
  let net: JigsawNet
  init(_ net: JigsawNet) { self.net = net }
  func compute(_ batch: Batch, model: Module) throws -> StepOutput {
    let tiles = try (0..<net.tiles).map { try batch.require("tile\($0)") }
    let y = try batch.require("permutation")
    let p = try net.logits(tiles)
    return StepOutput(loss: try crossEntropy(p, y), prediction: p, target: y)
  }
}

/// `count` permutations of `cells` items, chosen greedily to maximise the minimum Hamming distance to those
/// already chosen (Noroozi & Favaro's algorithm), from the identity and a pool of `pool` permutations drawn
/// with SplitMix64(seed): deterministic, and cheap enough to build at start-up.
public func hammingPermutations(count: Int, cells: Int, pool: Int, seed: UInt64) -> [[Int]] {
  var rng = SplitMix64(seed: seed)
  var candidates: [[Int]] = []
  for _ in 0..<pool {
    var p = Array(0..<cells)
    for i in stride(from: cells - 1, to: 0, by: -1) { p.swapAt(i, Int(rng.next() % UInt64(i + 1))) }  // Fisher–Yates
    candidates.append(p)
  }
  func distance(_ a: [Int], _ b: [Int]) -> Int { zip(a, b).reduce(0) { $0 + ($1.0 != $1.1 ? 1 : 0) } }
  var chosen = [Array(0..<cells)]
  var nearest = candidates.map { distance($0, chosen[0]) }  // each candidate's distance to the chosen set
  while chosen.count < count {
    let best = nearest.indices.max { nearest[$0] < nearest[$1] }!
    chosen.append(candidates[best])
    for i in candidates.indices { nearest[i] = Swift.min(nearest[i], distance(candidates[i], candidates[best])) }
  }
  return chosen
}
