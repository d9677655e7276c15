import Torch

/// A tiny synthetic classification task for examples and tests: 16×16 one-channel images with a bright
/// bar, horizontal (class 0) or vertical (class 1), at a random place on noise. Same seed, same data.
public func syntheticBars(count n: Int, seed: UInt64) throws -> (images: Tensor, labels: Tensor) {
  let g = try Generator(seed: seed)
  let labels = try Tensor.randint(0, 2, [n], generator: g)
  let at = try Tensor.randint(2, 14, [n, 2], generator: g).toArray(of: Int64.self)
  let y = try labels.toArray(of: Int64.self)
  var pixels = try (Tensor.randn([n, 1, 16, 16], generator: g) * 0.5).toArray(of: Float.self)
  for i in 0..<n {
    let (r, c) = (Int(at[2 * i]), Int(at[2 * i + 1]))
    for k in -2...2 { pixels[i * 256 + (y[i] == 0 ? r * 16 + c + k : (r + k) * 16 + c)] += 2 }
  }
  return (try Tensor(pixels, shape: [n, 1, 16, 16]), labels)
}
