import CImage
import Foundation
import Torch

extension Image {
  /// Resamples the region (x, y, w, h) to outW × outH with libtorch's antialiased bilinear filter (the
  /// filter widens when shrinking, as PIL's BILINEAR resize, which it was made to match). `mirror` flips the
  /// result horizontally. 8-bit samples go through libtorch's uint8 kernel; 16-bit ones through the float one,
  /// rounded back.
  public func resized(crop: (x: Int, y: Int, w: Int, h: Int)? = nil, to outW: Int, _ outH: Int, mirror: Bool = false)
    throws -> Image
  {
    try resized(crop: crop, to: outW, outH, mirror: mirror, into: "", of: nil)
  }

  /// Resized, in memory `item` gives for slot `slot` (`Item.makeImage`) when given.
  func resized(crop: (x: Int, y: Int, w: Int, h: Int)? = nil, to outW: Int, _ outH: Int, mirror: Bool = false,
               into slot: String, of item: Item?) throws -> Image
  {
    let c = crop ?? (0, 0, width, height)
    func resample(_ t: Tensor) throws -> Tensor {
      var t = try t.narrow(dim: 1, start: c.y, length: c.h).narrow(dim: 2, start: c.x, length: c.w).permute([0, 3, 1, 2])
      if c.w != outW || c.h != outH { t = try interpolate(t, size: (outH, outW), mode: .bilinearAntialiased) }
      if mirror { t = try t.flip([3]) }
      return try t.permute([0, 2, 3, 1]).contiguous()
    }
    guard bitDepth == 16 else {
      // HWC bytes viewed (no copy) as a channels-last 1×C×H×W tensor, which the uint8 kernel takes as is;
      // only read (every op makes a new tensor), and the view does not outlive this call.
      let t = try Tensor(bytesNoCopy: storage.base, shape: [1, height, width, channels], dtype: .uint8) {}
      let out = item?.newPixels(for: slot, width: outW, height: outH, channels: channels, bitDepth: 8)
        ?? PixelStorage(uninitializedCount: outW * outH * channels)
      try withExtendedLifetime(storage) { try resample(t).copyBytes(to: out.mutableBuffer) }
      return Image(width: outW, height: outH, channels: channels, storage: out)
    }
    var floats = [Float](repeating: 0, count: width * height * channels)
    withUnsafeBytes { raw in
      floats.withUnsafeMutableBufferPointer { ci_u16_to_floats(raw.bindMemory(to: UInt16.self).baseAddress, $0.baseAddress, $0.count) }
    }
    let out = try floats.withUnsafeMutableBytes { raw in
      let t = try Tensor(bytesNoCopy: raw.baseAddress!, shape: [1, height, width, channels], dtype: .float32) {}
      return try resample(t).toArray(of: Float.self)
    }
    var samples = [UInt16](repeating: 0, count: out.count)
    out.withUnsafeBufferPointer { src in samples.withUnsafeMutableBufferPointer { ci_floats_to_u16(src.baseAddress, $0.baseAddress, src.count) } }
    return Image(width: outW, height: outH, channels: channels, samples16: samples)
  }

  public func flippedHorizontally() -> Image {
    let out = PixelStorage(uninitializedCount: byteCount)
    let pb = pixelBytes
    withUnsafeBytes { src in
      let dst = out.mutableBuffer
      for y in 0..<height {
        for x in 0..<width {
          let s = pb * (y * width + x), d = pb * (y * width + width - 1 - x)
          for k in 0..<pb { dst[d + k] = src[s + k] }
        }
      }
    }
    return Image(width: width, height: height, channels: channels, bitDepth: bitDepth, storage: out)
  }
}

/// fastai's RandomResizedCrop: in training a random region of 35–100 % of the area with aspect ratio in
/// 3/4…4/3 (10 tries, then a centre crop at the nearest allowed ratio), resized to `size`; in validation the
/// whole image squished to size + 14 % (rounded up to a multiple of 8) and centre-cropped to `size`.
public struct RandomResizedCrop: Sendable {
  public var size: Int
  public var minScale: Double = 0.35
  public var maxScale: Double = 1
  public var ratio: (Double, Double) = (3.0 / 4, 4.0 / 3)
  public var validExtra: Double = 0.14

  public init(size: Int, minScale: Double = 0.35) { (self.size, self.minScale) = (size, minScale) }

  /// The crop, then (in training, when `flip` draws true: fastai's flip with p 0.5 right after the crop)
  /// a horizontal mirror fused into the same resampling pass.
  public func callAsFunction(_ img: Image, training: Bool, flip: Bool = false, rng: inout SplitMix64) throws -> Image {
    try callAsFunction(img, training: training, flip: flip, rng: &rng, into: "", of: nil)
  }

  /// The crop, in memory `item` gives for slot `slot` (`Item.makeImage`) when given.
  func callAsFunction(_ img: Image, training: Bool, flip: Bool = false, rng: inout SplitMix64, into slot: String, of item: Item?)
    throws -> Image
  {
    let (w, h) = (img.width, img.height)
    if !training {
      let extra = Int((Double(size) * validExtra / 8).rounded(.up)) * 8
      let big = size + extra
      let off = (big - size) / 2  // fastai's crop_pad centre: (big - size) // 2
      return try img.resized(to: big, big).resized(crop: (off, off, size, size), to: size, size, into: slot, of: item)
    }
    let region = self.region(width: w, height: h, rng: &rng)
    let mirror = flip && Bool.random(using: &rng)
    return try img.resized(crop: region, to: size, size, mirror: mirror, into: slot, of: item)
  }

  /// fastai's choice of the training crop.
  public func region(width w: Int, height h: Int, rng: inout SplitMix64) -> (x: Int, y: Int, w: Int, h: Int) {
    for _ in 0..<10 {
      let area = Double.random(in: minScale...maxScale, using: &rng) * Double(w * h)
      let r = Foundation.exp(Double.random(in: Foundation.log(ratio.0)...Foundation.log(ratio.1), using: &rng))
      let nw = Int((area * r).squareRoot().rounded()), nh = Int((area / r).squareRoot().rounded())
      if nw <= w && nh <= h && nw > 0 && nh > 0 {
        return (Int.random(in: 0...(w - nw), using: &rng), Int.random(in: 0...(h - nh), using: &rng), nw, nh)
      }
    }
    let (cw, ch): (Int, Int)
    if Double(w) / Double(h) < ratio.0 { (cw, ch) = (w, Int(Double(w) / ratio.0)) }
    else if Double(w) / Double(h) > ratio.1 { (cw, ch) = (Int(Double(h) * ratio.1), h) }
    else { (cw, ch) = (w, h) }
    return ((w - cw) / 2, (h - ch) / 2, cw, ch)
  }
}

/// A rectangle of an image, for cutout holes: x0..<x1, y0..<y1 (already clipped to the image).
public struct Hole: Sendable, Equatable {
  public let x0, y0, x1, y1: Int
}

/// RandomCutout as the study used it: `count` holes (uniform in 5…9), each of height and width drawn
/// independently (uniform in 5…49 px), centred uniformly over the image, clipped to it, filled with 0 (or
/// noise: one uniform byte per 8-bit sample, one uniform 16-bit value per 16-bit sample).
/// `relativeTo`: sizes given for that image side and scaled to the actual one (the size-scaled variant).
public struct RandomCutout: Sendable {
  /// What a hole holds: black (the study's), uniform noise, or either at even odds per hole (fastai's
  /// RandomErasing-style inpainting).
  public enum Fill: String, Codable, Sendable, CaseIterable { case zero, noise, mixed }
  public var count: ClosedRange<Int> = 5...9
  public var size: ClosedRange<Int> = 5...49
  public var relativeTo: Int?
  public var fill: Fill = .zero

  public init(count: ClosedRange<Int> = 5...9, size: ClosedRange<Int> = 5...49, relativeTo: Int? = nil, fill: Fill = .zero) {
    (self.count, self.size, self.relativeTo, self.fill) = (count, size, relativeTo, fill)
  }

  public func holes(width: Int, height: Int, rng: inout SplitMix64) -> [Hole] {
    let scale = relativeTo.map { Double(Swift.min(width, height)) / Double($0) } ?? 1
    return (0..<Int.random(in: count, using: &rng)).map { _ in
      let hh = Swift.max(1, Int((Double(Int.random(in: size, using: &rng)) * scale).rounded()))
      let hw = Swift.max(1, Int((Double(Int.random(in: size, using: &rng)) * scale).rounded()))
      let cy = Int.random(in: 0..<height, using: &rng), cx = Int.random(in: 0..<width, using: &rng)
      return Hole(x0: Swift.max(0, cx - hw / 2), y0: Swift.max(0, cy - hh / 2),
                  x1: Swift.min(width, cx - hw / 2 + hw), y1: Swift.min(height, cy - hh / 2 + hh))
    }
  }

  /// The damaged copy and the holes cut (the original is left untouched).
  public func callAsFunction(_ img: Image, rng: inout SplitMix64) -> (Image, [Hole]) {
    var out = img
    let hs = cut(&out, rng: &rng)
    return (out, hs)
  }

  /// Cuts the holes in `img` itself (in place when nothing else shares its samples) and returns them.
  public func cut(_ img: inout Image, rng: inout SplitMix64) -> [Hole] {
    let hs = holes(width: img.width, height: img.height, rng: &rng)
    let (ch, sb, width) = (img.channels, img.sampleBytes, img.width)
    img.withUnsafeMutableBytes { px in
      for h in hs {
        // Black holes draw nothing more, so the study's default stays what it was.
        let noise = fill == .noise || (fill == .mixed && Bool.random(using: &rng))
        for y in h.y0..<h.y1 {
          let first = ch * (y * width + h.x0), count = ch * (h.x1 - h.x0)  // samples of this row in the hole
          guard noise else {
            memset(px.baseAddress! + first * sb, 0, count * sb)  // a row at a time: the fill costs nothing per sample
            continue
          }
          for i in first..<(first + count) {
            if sb == 2 {
              let v = UInt16.random(in: 0...UInt16.max, using: &rng)
              (px[2 * i], px[2 * i + 1]) = withUnsafeBytes(of: v) { ($0[0], $0[1]) }
            } else {
              px[i] = UInt8.random(in: 0...255, using: &rng)
            }
          }
        }
      }
    }
    return hs
  }
}
