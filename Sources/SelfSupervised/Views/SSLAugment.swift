// The papers' view recipes (item-transform chains for `Views`).
import ImageData

/// The papers' view augmentations (lightly's transforms: SimCLRTransform, BYOLView1/2Transform,
/// SimSiamTransform) as item-transform chains for `Views`.
public enum SSLAugment {
  public struct Recipe: Sendable {
    public var minScale: Double, maxScale = 1.0
    public var jitter: (brightness: Double, contrast: Double, saturation: Double, hue: Double)
    public var jitterP = 0.8, grayscaleP = 0.2, blurP: Double, solarizeP = 0.0
  }

  public static func chain(_ r: Recipe, size: Int) -> [any ItemTransform] {
    var chain: [any ItemTransform] = [
      Crop(size: size, training: true, minScale: r.minScale, maxScale: r.maxScale),
      ColorJitter(brightness: r.jitter.brightness, contrast: r.jitter.contrast, saturation: r.jitter.saturation,
                  hue: r.jitter.hue, p: r.jitterP),
      Grayscale(p: r.grayscaleP),
    ]
    if r.blurP > 0 { chain.append(GaussianBlur(p: r.blurP, sigma: 0.1...2, kernelFraction: 0.1)) }
    if r.solarizeP > 0 { chain.append(Solarize(p: r.solarizeP)) }
    return chain
  }

  /// Two views `view0`, `view1` of the image, each by its recipe. Validation makes the same kind of views:
  /// the loader's draws for it are fixed (seeded per item, epoch 0), so its loss is comparable across epochs.
  public static func twoViews(_ first: Recipe, _ second: Recipe, size: Int) -> Pipeline {
    Pipeline(decodeSide: size, [Views([("view0", chain(first, size: size)), ("view1", chain(second, size: size))])])
  }
}
