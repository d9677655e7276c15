import Foundation
import Testing
@testable import ImageData
import SelfSupervised  // Rotate90, a task's view
@testable import Torch

/// 16-bit samples and 1-channel images, from the file to the batch: TIFF through libtiff (against what Pillow
/// reads from the same files, Fixtures/make_tiff_fixtures.py), every transform at 16 bits against the same
/// transform at 8 bits, and the loader's tensors.
/// The decoded source as the item's image, untouched.
struct Keep: ItemTransform {
  func apply(_ item: inout Item, rng: inout SplitMix64) throws { item.images["image"] = try item.image("source") }
}

@Suite struct WideImageTests {
  struct Expected: Decodable { let width: Int, height: Int, channels: Int, bitDepth: Int, samples: [Int] }
  struct Fixtures: Decodable { let expected: [String: Expected], refused: [String: String] }

  static func fixture(_ name: String) throws -> String {
    try #require(Bundle.module.url(forResource: name, withExtension: nil, subdirectory: "Fixtures/tiff")).path
  }

  /// The samples of an image as integers (16-bit as 0…65535).
  static func samples(_ img: Image) -> [Int] { img.bitDepth == 16 ? img.samples16.map(Int.init) : img.pixels.map(Int.init) }

  /// A w×h image of `channels` with distinct 16-bit samples (a gradient with a hash, so no two rows agree).
  static func wide(_ w: Int, _ h: Int, channels: Int) -> Image {
    let n = w * h * channels
    return Image(width: w, height: h, channels: channels, samples16: (0..<n).map { UInt16(truncatingIfNeeded: ($0 &* 40503 &+ 977) % 65536) })
  }

  @Test func pillowsTIFFsAnd16BitPNGReadAsPillowReadsThem() throws {
    let fx = try JSONDecoder().decode(Fixtures.self, from: Data(contentsOf: URL(fileURLWithPath: try Self.fixture("expected.json"))))
    #expect(fx.expected.count == 6 && fx.refused.count == 2)
    for (name, want) in fx.expected.sorted(by: { $0.key < $1.key }) {
      let img = try ImageCodec.decode(contentsOf: try Self.fixture(name), channels: nil)
      #expect(img.width == want.width && img.height == want.height, "\(name)")
      #expect(img.channels == want.channels && img.bitDepth == want.bitDepth, "\(name): \(img.channels) channels, \(img.bitDepth) bits")
      #expect(Self.samples(img) == want.samples, "\(name): samples")
    }
    for (name, words) in fx.refused.sorted(by: { $0.key < $1.key }) {
      let path = try Self.fixture(name)
      #expect { try ImageCodec.decode(contentsOf: path) } throws: { "\($0)".hasPrefix(path) && "\($0)".contains(words) }
    }
  }

  @Test(arguments: [1, 3], [8, 16])
  func everyTIFFLayoutRoundTrips(channels: Int, depth: Int) throws {
    let w16 = Self.wide(13, 9, channels: channels)
    let img = depth == 16 ? w16 : Image(width: 13, height: 9, channels: channels, pixels: w16.samples16.map { UInt8($0 >> 8) })
    for compression in [ImageCodec.TIFFCompression.none, .lzw, .deflate] {
      for tile in [0, 16] {
        for planar in [false, true] {
          for minIsWhite in channels == 1 ? [false, true] : [false] {
            for alpha in [false, true] {
              let bytes = try ImageCodec.encodeTIFF(img, compression: compression, tileSide: tile, planar: planar, minIsWhite: minIsWhite, alpha: alpha)
              let back = try ImageCodec.decode(bytes, channels: nil)
              #expect(back == img, "\(channels) ch \(depth) bit, \(compression) tile \(tile) planar \(planar) miniswhite \(minIsWhite) alpha \(alpha)")
            }
          }
        }
      }
    }
    // Truncated data is an error, never a picture with rows missing.
    let whole = try ImageCodec.encodeTIFF(img, compression: .lzw)
    #expect(throws: ImageError.self) { try ImageCodec.decode(Array(whole.prefix(whole.count * 2 / 3))) }
  }

  @Test func sixteenBitTransformsAgreeWithEightBit() throws {
    // An 8-bit image and the same at 16 bits (v × 257, exactly the same values on the 0–1 scale): every
    // transform with the same draws must give the same picture within the 8-bit rounding.
    let w16 = Self.wide(24, 20, channels: 3)
    let eight = Image(width: 24, height: 20, channels: 3, pixels: w16.samples16.map { UInt8($0 >> 8) })
    let sixteen = Image(width: 24, height: 20, channels: 3, samples16: eight.pixels.map { UInt16($0) * 257 })
    // Resampling rounds to 8 bits on the uint8 path and to 16 on the float path: within one 8-bit step. The
    // others compute the same floats from the same values and differ only by the last rounding (½ + ½/257).
    let (resampled, exact) = (1.0 + 1e-9, 0.5 + 0.5 / 257 + 1e-6)
    let chains: [(String, [any ItemTransform], Double)] = [
      ("crop", [Crop(size: 16, training: true)], resampled),
      ("validation crop", [Crop(size: 16, training: false)], resampled),
      ("cutout", [Keep(), Cutout(RandomCutout(count: 2...3, size: 3...6))], 0),
      ("noise cutout", [Keep(), Cutout(RandomCutout(count: 2...3, size: 3...6, fill: .noise))], 255),  // noise differs by design; the draws stay aligned
      ("rotate", [Keep(), Rotate90()], 0),
      ("jitter", [Keep(), ColorJitter(p: 1)], exact),
      ("blur", [Keep(), GaussianBlur(p: 1)], exact),
      ("gray", [Keep(), Grayscale()], exact),
      ("solarize", [Keep(), Solarize()], 0),
    ]
    for (name, chain, tolerance) in chains {
      for seed in 0..<4 as Range<UInt64> {
        var r8 = SplitMix64(seed: seed), r16 = SplitMix64(seed: seed)
        let a = try Pipeline(decodeSide: 16, chain).run(eight, rng: &r8).image("image")
        let b = try Pipeline(decodeSide: 16, chain).run(sixteen, rng: &r16).image("image")
        #expect(b.bitDepth == 16 && b.width == a.width && b.channels == 3, "\(name)")
        let worst = zip(a.pixels, b.samples16).map { abs(Double($0) - Double($1) / 257) }.max() ?? 0
        #expect(worst <= tolerance, "\(name), seed \(seed): \(worst) apart on the 0–255 scale")
        #expect(r8.next() == r16.next(), "\(name): the same random draws")
      }
    }
    // And 16 bits carry detail 8 bits cannot: a ramp of 1/65535 steps survives a crop.
    let ramp = Image(width: 64, height: 1, channels: 1, samples16: (0..<64).map { UInt16(30000 + $0) })
    #expect(Set(try ramp.resized(crop: (0, 0, 32, 1), to: 32, 1).samples16).count == 32)
  }

  @Test func grayImagesAreTransformedAsGray() throws {
    let gray = Self.wide(20, 16, channels: 1).eightBit()
    var rng = SplitMix64(seed: 3)
    // Saturation and hue change nothing on gray (as torchvision); brightness does.
    var item = Item(source: gray)
    item.images["image"] = gray
    try ColorJitter(brightness: 0, contrast: 0, saturation: 0.9, hue: 0.4, p: 1).apply(&item, rng: &rng)
    try Grayscale().apply(&item, rng: &rng)
    #expect(try item.image("image") == gray)
    try ColorJitter(brightness: 0.5, contrast: 0, saturation: 0, hue: 0, p: 1).apply(&item, rng: &rng)
    #expect(try item.image("image") != gray && item.image("image").channels == 1)
    // Gray into RGB copies, RGB into gray is PIL's luma.
    let rgb = gray.converted(channels: 3)
    #expect(rgb.channels == 3 && rgb[5, 3] == (gray.pixels[3 * 20 + 5], gray.pixels[3 * 20 + 5], gray.pixels[3 * 20 + 5]))
    #expect(rgb.converted(channels: 1) == gray)
    let wide = Self.wide(5, 4, channels: 3)
    let s = wide.samples16.map(Int.init), l = wide.converted(channels: 1).samples16
    let luma: Int = (s[21] * 299 + s[22] * 587 + s[23] * 114 + 500) / 1000
    #expect(Int(l[7]) == luma)
  }

  @Test(arguments: [1, 3])
  func loaderBatchesHoldEverySampleOver65535(channels: Int) throws {
    // A 16-bit gray PNG and an 8-bit RGB PNG in one batch: each sample ÷ its own maximum, exactly.
    let dir = NSTemporaryDirectory() + "pretext-wide-\(UUID().uuidString)"
    try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    let g16 = Self.wide(8, 6, channels: 1)
    let rgb8 = Self.wide(8, 6, channels: 3).eightBit()
    try Data(ImageCodec.encodePNG(g16)).write(to: URL(fileURLWithPath: dir + "/g16.png"))
    try Data(ImageCodec.encodeTIFF(rgb8, compression: .deflate)).write(to: URL(fileURLWithPath: dir + "/rgb8.tif"))
    let loader = ImageLoader(paths: [dir + "/g16.png", dir + "/rgb8.tif"], pipeline: Pipeline(decodeSide: 6, [Keep()]), batchSize: 2,
                             shuffle: false, workers: 2, channels: channels)
    let batch = try #require(try loader.pass(epoch: 0).next())
    let x = try #require(batch["image"])
    #expect(x.shape == [2, channels, 6, 8])
    let got = try x.permute([0, 2, 3, 1]).contiguous().toArray(of: Float.self)
    let first = g16.converted(channels: channels).samples16.map { Float($0) / 65535 }
    let second = rgb8.converted(channels: channels).pixels.map { Float($0) / 255 }
    #expect(Array(got.prefix(first.count)) == first)
    #expect(Array(got.suffix(second.count)) == second)
  }
}
