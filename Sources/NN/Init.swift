import Foundation
import Torch

/// Weight initialisers (torch.nn.init), drawing from the generator given, else from this thread's
/// construction generator (`Init.withGenerator`), else from the default one (seed it with `Runtime.manualSeed`).
public enum Init {
  /// Builds with every initialiser on this thread drawing from `generator` (not the process-wide default):
  /// a model seeded so is the same whatever other threads draw meanwhile. Seeded like the default generator,
  /// it gives the same weights as `Runtime.manualSeed` would.
  public static func withGenerator<T>(_ generator: Generator, _ body: () throws -> T) rethrows -> T {
    let key = "pretext.init.generator", thread = Thread.current.threadDictionary
    let outer = thread[key]
    thread[key] = generator
    defer { thread[key] = outer }
    return try body()
  }

  /// The generator an initialiser draws from when given none.
  public static func current(_ given: Generator?) -> Generator? {
    given ?? Thread.current.threadDictionary["pretext.init.generator"] as? Generator
  }

  /// Fan-in of a weight shaped out × in × k…: in · ∏k.
  static func fanIn(_ shape: [Int]) -> Int { shape.dropFirst().reduce(1, *) }

  /// kaiming_normal_ (mode fan_in, ReLU gain √2): N(0, 2 / fan_in).
  public static func kaimingNormal(_ shape: [Int], generator: Generator? = nil) throws -> Tensor {
    try Tensor.randn(shape, generator: current(generator)) * (2.0 / Double(Swift.max(fanIn(shape), 1))).squareRoot()
  }

  /// PyTorch's default for Conv/Linear weights (kaiming_uniform_ with a = √5): U(±1/√fan_in).
  public static func torchDefault(_ shape: [Int], generator: Generator? = nil) throws -> Tensor {
    try uniform(shape, bound: 1 / Double(Swift.max(fanIn(shape), 1)).squareRoot(), generator: generator)
  }

  /// U(±bound), PyTorch's default for Conv/Linear biases with bound = 1/√fan_in.
  public static func uniform(_ shape: [Int], bound: Double, generator: Generator? = nil) throws -> Tensor {
    let t = try Tensor.empty(shape)
    try t.uniform_(-bound, bound, generator: current(generator))
    return t
  }

  /// fastai's ICNR for a conv feeding PixelShuffle(scale): the scale² sub-pixels of each output channel
  /// start as copies of one kaiming-normal kernel, so the upsampled output starts free of checkerboards.
  public static func icnr(_ shape: [Int], scale: Int = 2, generator: Generator? = nil) throws -> Tensor {
    let (ni, nf) = (shape[0], shape[1])
    let ni2 = ni / (scale * scale)
    let kernel = Array(shape.dropFirst(2))
    let k = try kaimingNormal([ni2, nf] + kernel, generator: generator).transpose(0, 1).contiguous()
      .view([nf, ni2, -1]).repeat([1, 1, scale * scale])
    return try k.contiguous().view([nf, ni] + kernel).transpose(0, 1).contiguous()
  }
}
