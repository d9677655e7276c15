// The masked-image task's view: which patches are blanked.
import ImageData

/// A random patch mask for masked image modelling: the image's grid × grid patches, exactly
/// round(ratio · grid²) of them drawn without replacement, written as a grid × grid mask (255 where blanked)
/// to `mask`. The image is left as it is (the step blanks it, in libtorch).
public struct PatchMask: ItemTransform {
  public var grid: Int, ratio: Double, mask: String
  public init(grid: Int, ratio: Double, mask: String = "patches") { (self.grid, self.ratio, self.mask) = (grid, ratio, mask) }
  public func apply(_ item: inout Item, rng: inout SplitMix64) throws {
    var m = item.makeMask(for: mask, width: grid, height: grid)
    var cells = Array(0..<(grid * grid))
    cells.shuffle(using: &rng)
    m.withUnsafeMutableBytes { v in for c in cells.prefix(Int((ratio * Double(grid * grid)).rounded())) { v[c] = 255 } }
    item.masks[mask] = m
  }
}
