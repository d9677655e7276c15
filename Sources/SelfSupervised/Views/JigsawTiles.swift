// The jigsaw task's view: the tiles, shuffled by one of its permutations.
import ImageData

/// A jigsaw puzzle (Noroozi & Favaro 2016): `image` cut into grid × grid cells, from each a tile of
/// `tileFraction` of the cell's side at a random offset inside it (in validation: centred) so that edges do not
/// line up, the tiles written as `tile0`… in the order of one of `permutations` (slot i holds cell
/// permutation[i]), drawn uniformly; its index goes to `label`.
public struct JigsawTiles: ItemTransform {
  public var grid: Int, tileFraction: Double, permutations: [[Int]], training: Bool
  public var image: String, label: String
  public init(grid: Int = 3, tileFraction: Double = 64.0 / 75, permutations: [[Int]], training: Bool,
              image: String = "image", label: String = "permutation") {
    precondition(permutations.allSatisfy { $0.sorted() == Array(0..<(grid * grid)) }, "jigsaw: every permutation must order all cells")
    (self.grid, self.tileFraction, self.permutations, self.training) = (grid, tileFraction, permutations, training)
    (self.image, self.label) = (image, label)
  }
  /// The tiles' side for an image of side `side`.
  public func tileSide(_ side: Int) -> Int { Swift.max(1, Int(Double(side / grid) * tileFraction)) }
  public func apply(_ item: inout Item, rng: inout SplitMix64) throws {
    let img = try item.image(image)
    let cell = Swift.min(img.width, img.height) / grid, t = tileSide(Swift.min(img.width, img.height))
    guard cell >= 1 else { throw ImageError(path: nil, "jigsaw: a \(img.width) × \(img.height) image has no \(grid) × \(grid) cells") }
    let k = Int.random(in: 0..<permutations.count, using: &rng)
    var tiles: [Image] = []
    for c in 0..<(grid * grid) {
      let slack = cell - t
      let dx = training ? Int.random(in: 0...slack, using: &rng) : slack / 2
      let dy = training ? Int.random(in: 0...slack, using: &rng) : slack / 2
      tiles.append(try img.resized(crop: ((c % grid) * cell + dx, (c / grid) * cell + dy, t, t), to: t, t))
    }
    for (slot, c) in permutations[k].enumerated() { item.images["tile\(slot)"] = tiles[c] }
    item.images[image] = nil
    item.integers[label] = k
  }
}
