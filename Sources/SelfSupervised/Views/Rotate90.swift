// RotNet's view: the image turned, and the turn as its label.
import ImageData

/// A rotation by k × 90° counter-clockwise, k uniform in 0…3, written to `label` (RotNet's pretext).
public struct Rotate90: ItemTransform {
  public var image: String, label: String
  public init(image: String = "image", label: String = "rotation") { (self.image, self.label) = (image, label) }
  public func apply(_ item: inout Item, rng: inout SplitMix64) throws {
    let k = Int.random(in: 0..<4, using: &rng)
    item.images[image] = try item.image(image).rotated90(times: k, into: image, of: item)
    item.integers[label] = k
  }
}
