import CImage
import Foundation

/// A single-channel 8-bit mask, rows top to bottom; collated like image samples (÷255), so 255 is 1.0 in the
/// batch (cutout: 255 inside a hole, 0 elsewhere). Its bytes live in a `PixelStorage`, as an image's.
public struct Mask: Sendable, Equatable {
  public let width: Int, height: Int
  var storage: PixelStorage
  public init(width: Int, height: Int, fill: UInt8 = 0) {
    self.init(width: width, height: height, fill: fill, into: nil)
  }
  /// Filled with `fill`, in `storage` (a lent row) when given.
  init(width: Int, height: Int, fill: UInt8, into storage: PixelStorage?) {
    (self.width, self.height) = (width, height)
    if let storage {
      precondition(storage.count == width * height, "a \(storage.count)-byte storage for a \(width)×\(height) mask")
      memset(storage.base, Int32(fill), storage.count)
      self.storage = storage
    } else {
      self.storage = fill == 0 ? PixelStorage(zeroedCount: width * height) : PixelStorage([UInt8](repeating: fill, count: width * height))
    }
  }

  /// The values, copied out (`withUnsafeBytes` reads them in place).
  public var values: [UInt8] {
    get { storage.bytes }
    set {
      precondition(newValue.count == width * height, "\(newValue.count) values for a \(width)×\(height) mask")
      storage = PixelStorage(newValue)
    }
  }

  public func withUnsafeBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R { try body(storage.buffer) }

  public mutating func withUnsafeMutableBytes<R>(_ body: (UnsafeMutableRawBufferPointer) throws -> R) rethrows -> R {
    PixelStorage.makeUnique(&storage)
    return try body(storage.mutableBuffer)
  }

  public static func == (a: Mask, b: Mask) -> Bool { (a.width, a.height) == (b.width, b.height) && a.storage == b.storage }
}

/// One item on its way through a pipeline: named images, masks and integers. The decoded file enters as the
/// image `source`; each transform reads and writes slots by name; the loader collates every slot but
/// `source` (images as float N×3×H×W in [0, 1], masks as float N×1×H×W, integers as int64 [N]).
public struct Item: Sendable {
  public var images: [String: Image] = [:]
  public var masks: [String: Mask] = [:]
  public var integers: [String: Int] = [:]
  /// The batch rows the loader lent this item: nil outside a loader's batch, and for the items made before their
  /// batch's tensors existed.
  var rows: ItemRows?
  public init(source: Image) { images["source"] = source }

  /// The named image; its absence is an error naming the slots there are.
  public func image(_ name: String) throws -> Image {
    guard let img = images[name] else {
      throw ImageError(path: nil, "pipeline: no image '\(name)' (the item holds \(images.keys.sorted().joined(separator: ", ")))")
    }
    return img
  }

  /// The named image taken out of the item (its absence an error, as `image`): the caller then holds its only
  /// copy, so changing it in place copies nothing — put it back when done.
  public mutating func takeImage(_ name: String) throws -> Image {
    let img = try image(name)
    images[name] = nil
    return img
  }

  /// A new image bound for slot `slot`, whose every byte `write` sets: made in the item's row of the batch when the
  /// loader lent one of this shape (8-bit samples) that no image holds, so storing it copies nothing; otherwise in
  /// memory of its own. The result is the same either way.
  public func makeImage(for slot: String, width: Int, height: Int, channels: Int, bitDepth: Int = 8,
                        _ write: (UnsafeMutableRawBufferPointer) throws -> Void) rethrows -> Image {
    let storage = newPixels(for: slot, width: width, height: height, channels: channels, bitDepth: bitDepth)
    try write(storage.mutableBuffer)
    return Image(width: width, height: height, channels: channels, bitDepth: bitDepth, storage: storage)
  }

  /// A copy of `image` bound for slot `slot` (in the item's row when lent, as `makeImage`).
  public func copy(_ image: Image, for slot: String) -> Image {
    makeImage(for: slot, width: image.width, height: image.height, channels: image.channels, bitDepth: image.bitDepth) {
      $0.copyMemory(from: image.storage.buffer)
    }
  }

  /// A mask bound for slot `slot`, filled with `fill` (in the item's row when lent, as `makeImage`).
  public func makeMask(for slot: String, width: Int, height: Int, fill: UInt8 = 0) -> Mask {
    Mask(width: width, height: height, fill: fill, into: rows?.lend(slot, width: width, height: height, channels: 1, bitDepth: 8))
  }

  func newPixels(for slot: String, width: Int, height: Int, channels: Int, bitDepth: Int) -> PixelStorage {
    rows?.lend(slot, width: width, height: height, channels: channels, bitDepth: bitDepth)
      ?? PixelStorage(uninitializedCount: width * height * channels * bitDepth / 8)
  }
}

/// One step of a pipeline. Every random choice comes from `rng` (seeded per (seed, epoch, item)), so an item
/// is the same whatever thread makes it.
public protocol ItemTransform: Sendable {
  func apply(_ item: inout Item, rng: inout SplitMix64) throws
}

/// The item transforms of a loader, and the side to decode at (JPEGs are decoded at the smallest DCT scale
/// whose shorter side still covers it).
public struct Pipeline: Sendable {
  public var decodeSide: Int
  public var transforms: [any ItemTransform]
  public init(decodeSide: Int, _ transforms: [any ItemTransform]) { (self.decodeSide, self.transforms) = (decodeSide, transforms) }

  /// fastai's training/validation augmentation: RandomResizedCrop (+ flip in training) into `image`.
  public static func crop(size: Int, training: Bool, minScale: Double = 0.35) -> Pipeline {
    Pipeline(decodeSide: size, [Crop(size: size, training: training, minScale: minScale)])
  }

  public func then(_ more: any ItemTransform...) -> Pipeline { Pipeline(decodeSide: decodeSide, transforms + more) }

  public func run(_ source: Image, rng: inout SplitMix64) throws -> Item { try run(source, rng: &rng, rows: nil) }

  /// The item, its transforms making their images in `rows` where they can (`Item.makeImage`).
  func run(_ source: Image, rng: inout SplitMix64, rows: ItemRows?) throws -> Item {
    var item = Item(source: source)
    item.rows = rows
    for t in transforms { try t.apply(&item, rng: &rng) }
    item.rows = nil
    return item
  }
}

/// RandomResizedCrop (`RandomResizedCrop`'s rules) of `from` into `to`; in training a horizontal flip with
/// p 0.5 fused into the same resampling.
public struct Crop: ItemTransform {
  public var crop: RandomResizedCrop
  public var training: Bool, flip: Bool
  public var from: String, to: String
  public init(size: Int, training: Bool, flip: Bool = true, minScale: Double = 0.35, maxScale: Double = 1,
              from: String = "source", to: String = "image") {
    crop = RandomResizedCrop(size: size, minScale: minScale)
    crop.maxScale = maxScale
    (self.training, self.flip, self.from, self.to) = (training, flip, from, to)
  }
  public func apply(_ item: inout Item, rng: inout SplitMix64) throws {
    item.images[to] = try crop(item.image(from), training: training, flip: flip, rng: &rng, into: to, of: item)
  }
}

/// RandomCutout on `image`: the untouched image is kept as `keep` (the inpainting target), the holes' mask
/// written to `mask` (1.0 inside a hole in the batch).
public struct Cutout: ItemTransform {
  public var cutout: RandomCutout
  public var image: String, keep: String?, mask: String?
  public init(_ cutout: RandomCutout, image: String = "image", keep: String? = "target", mask: String? = "mask") {
    (self.cutout, self.image, self.keep, self.mask) = (cutout, image, keep, mask)
  }
  public func apply(_ item: inout Item, rng: inout SplitMix64) throws {
    // The untouched image is copied to `keep` and the holes cut in the one taken out of the item: one copy, each
    // where its slot's row is when the loader lent rows.
    var img = try item.takeImage(image)
    if let keep { item.images[keep] = item.copy(img, for: keep) }
    let holes = cutout.cut(&img, rng: &rng)
    item.images[image] = img
    if let mask {
      var m = item.makeMask(for: mask, width: img.width, height: img.height)
      m.withUnsafeMutableBytes { v in
        for h in holes { for y in h.y0..<h.y1 { memset(v.baseAddress! + y * img.width + h.x0, 255, h.x1 - h.x0) } }
      }
      item.masks[mask] = m
    }
  }
}

/// Grayscale with probability `p` (ITU-R 601 luma, as PIL's convert("L"), replicated to 3 channels; a gray
/// image is left as it is). In C.
public struct Grayscale: ItemTransform {
  public var p: Double, image: String
  public init(p: Double = 1, image: String = "image") { (self.p, self.image) = (p, image) }
  public func apply(_ item: inout Item, rng: inout SplitMix64) throws {
    guard Double.random(in: 0..<1, using: &rng) < p else { return }
    guard try item.image(image).channels == 3 else { return }
    var img = try item.takeImage(image)
    let (n, wide) = (img.width * img.height, img.wide)
    img.withUnsafeMutableBytes { ci_grayscale($0.baseAddress!.assumingMemoryBound(to: UInt8.self), n, wide) }
    item.images[image] = img
  }
}

/// Solarize with probability `p`: every sample at or above `threshold` inverted (PIL's ImageOps.solarize; for
/// 16-bit samples the threshold × 257).
public struct Solarize: ItemTransform {
  public var p: Double, threshold: UInt8, image: String
  public init(p: Double = 1, threshold: UInt8 = 128, image: String = "image") { (self.p, self.threshold, self.image) = (p, threshold, image) }
  public func apply(_ item: inout Item, rng: inout SplitMix64) throws {
    guard Double.random(in: 0..<1, using: &rng) < p else { return }
    var img = try item.takeImage(image)
    let (t, n, wide) = (threshold, img.width * img.height * img.channels, img.wide)
    img.withUnsafeMutableBytes { ci_solarize($0.baseAddress!.assumingMemoryBound(to: UInt8.self), n, wide, t) }
    item.images[image] = img
  }
}

/// torchvision's ColorJitter with probability `p`: brightness, contrast and saturation factors drawn from
/// [max(0, 1 − v), 1 + v], a hue shift from [−hue, hue] (of a turn), applied in a random order (SimCLR: p 0.8,
/// 0.4 / 0.4 / 0.4 / 0.1). On a gray image saturation and hue change nothing (the draws are made all the same,
/// so the stream does not depend on the image). In C (`ci_color_jitter`).
public struct ColorJitter: ItemTransform {
  public var brightness, contrast, saturation, hue, p: Double
  public var image: String
  public init(brightness: Double = 0.4, contrast: Double = 0.4, saturation: Double = 0.4, hue: Double = 0.1, p: Double = 0.8,
              image: String = "image") {
    (self.brightness, self.contrast, self.saturation, self.hue, self.p, self.image) = (brightness, contrast, saturation, hue, p, image)
  }
  public func apply(_ item: inout Item, rng: inout SplitMix64) throws {
    guard Double.random(in: 0..<1, using: &rng) < p else { return }
    func factor(_ v: Double) -> Float { Float(Double.random(in: Swift.max(0, 1 - v)...(1 + v), using: &rng)) }
    let (b, c, s) = (factor(brightness), factor(contrast), factor(saturation))
    let h = Float(Double.random(in: -hue...hue, using: &rng))
    let order = [Int32(0), 1, 2, 3].shuffled(using: &rng)
    var img = try item.takeImage(image)
    let (n, ch, wide) = (img.width * img.height, Int32(img.channels), img.wide)
    img.withUnsafeMutableBytes { px in
      order.withUnsafeBufferPointer { ci_color_jitter(px.baseAddress!.assumingMemoryBound(to: UInt8.self), n, ch, wide, b, c, s, h, $0.baseAddress) }
    }
    item.images[image] = img
  }
}

/// Gaussian blur with probability `p`, σ uniform in `sigma`, a kernel of about `kernelFraction` of the image
/// side (SimCLR: 10 %, σ 0.1–2). In C (`ci_gaussian_blur`).
public struct GaussianBlur: ItemTransform {
  public var p: Double, sigma: ClosedRange<Double>, kernelFraction: Double
  public var image: String
  public init(p: Double = 0.5, sigma: ClosedRange<Double> = 0.1...2, kernelFraction: Double = 0.1, image: String = "image") {
    (self.p, self.sigma, self.kernelFraction, self.image) = (p, sigma, kernelFraction, image)
  }
  public func apply(_ item: inout Item, rng: inout SplitMix64) throws {
    guard Double.random(in: 0..<1, using: &rng) < p else { return }
    let s = Float(Double.random(in: sigma, using: &rng))
    var img = try item.takeImage(image)
    let radius = Swift.max(1, Int(Double(Swift.min(img.width, img.height)) * kernelFraction) / 2)
    let (w, h, ch, wide) = (Int32(img.width), Int32(img.height), Int32(img.channels), img.wide)
    img.withUnsafeMutableBytes { ci_gaussian_blur($0.baseAddress!.assumingMemoryBound(to: UInt8.self), w, h, ch, wide, s, Int32(radius)) }
    item.images[image] = img
  }
}

/// Several views of one decoded image, each made by its own chain (reading `source`, leaving its result in
/// `image`) and stored under the view's name; sizes may differ between views (multi-crop).
public struct Views: ItemTransform {
  public var views: [(name: String, chain: [any ItemTransform])]
  public init(_ views: [(name: String, chain: [any ItemTransform])]) { self.views = views }
  public func apply(_ item: inout Item, rng: inout SplitMix64) throws {
    let source = try item.image("source")
    for (name, chain) in views {
      var view = Item(source: source)
      view.rows = item.rows?.renamed { $0 == "image" ? name : name + "_" + $0 }  // the view's image and masks in their rows
      for t in chain { try t.apply(&view, rng: &rng) }
      item.images[name] = try view.image("image")
      for (k, m) in view.masks { item.masks[name + "_" + k] = m }
      for (k, v) in view.integers { item.integers[name + "_" + k] = v }
    }
  }
}

/// Another pipeline run on the item's decoded `source`, every slot it makes stored as `prefix/slot` (one
/// decode feeding several consumers: a multi-task loader). Its random draws are a stream of its own, from
/// the item's generator and the prefix, so adding or removing a sibling changes nothing of this one.
public struct Namespaced: ItemTransform {
  public var prefix: String, pipeline: Pipeline
  public init(_ prefix: String, _ pipeline: Pipeline) { (self.prefix, self.pipeline) = (prefix, pipeline) }
  public func apply(_ item: inout Item, rng: inout SplitMix64) throws {
    var probe = rng  // a copy: the item's own stream does not advance
    var own = SplitMix64(seed: probe.next() ^ Self.hash(prefix))
    let made = try pipeline.run(item.image("source"), rng: &own, rows: item.rows?.renamed { prefix + "/" + $0 })
    for (k, v) in made.images where k != "source" { item.images[prefix + "/" + k] = v }
    for (k, m) in made.masks { item.masks[prefix + "/" + k] = m }
    for (k, v) in made.integers { item.integers[prefix + "/" + k] = v }
  }
  /// FNV-1a of the name's UTF-8 bytes: the same on every run and platform (Swift's hashValue is not).
  static func hash(_ s: String) -> UInt64 {
    s.utf8.reduce(0xcbf2_9ce4_8422_2325 as UInt64) { ($0 ^ UInt64($1)) &* 0x100_0000_01b3 }
  }
}

extension Image {
  /// Rotated by `times` × 90° counter-clockwise.
  public func rotated90(times: Int) -> Image { rotated90(times: times, into: "", of: nil) }

  /// Rotated, in memory `item` gives for slot `slot` (`Item.makeImage`) when given: a transform making the rotated
  /// image of a slot writes it straight into the batch's row.
  public func rotated90(times: Int, into slot: String, of item: Item?) -> Image {
    let k = ((times % 4) + 4) % 4
    guard k != 0 else { return self }
    let (w, h, pb) = (width, height, Int32(pixelBytes))
    let (ow, oh) = k == 2 ? (w, h) : (h, w)
    // The source still holds its row, if it has one: a rotation cannot be made in place, so the rotated image
    // gets memory of its own then.
    let out = item?.newPixels(for: slot, width: ow, height: oh, channels: channels, bitDepth: bitDepth)
      ?? PixelStorage(uninitializedCount: byteCount)
    withUnsafeBytes { src in  // in C: fast in debug too
      ci_rotate90(src.baseAddress!.assumingMemoryBound(to: UInt8.self), out.base.assumingMemoryBound(to: UInt8.self),
                  Int32(w), Int32(h), pb, Int32(k))
    }
    return Image(width: ow, height: oh, channels: channels, bitDepth: bitDepth, storage: out)
  }
}
