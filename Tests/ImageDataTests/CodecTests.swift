import Foundation
import Testing
@testable import ImageData

let scratch: String = {
  let d = NSTemporaryDirectory() + "pretext-img-\(UUID().uuidString)"
  try! FileManager.default.createDirectory(atPath: d, withIntermediateDirectories: true)
  return d
}()

func write(_ bytes: [UInt8], _ name: String) -> String {
  let path = scratch + "/" + name
  FileManager.default.createFile(atPath: path, contents: Data(bytes))
  return path
}

/// A 16×8 gradient: R = 16x, G = 32y, B = 255 − 16x.
func gradient() -> Image {
  var p: [UInt8] = []
  for y in 0..<8 { for x in 0..<16 { p += [UInt8(16 * x), UInt8(32 * y), UInt8(255 - 16 * x)] } }
  return Image(width: 16, height: 8, pixels: p)
}

@Suite struct CodecTests {
  @Test func pngRoundTripsExactly() throws {
    let img = gradient()
    let back = try ImageCodec.decode(ImageCodec.encodePNG(img))
    #expect(back == img)
  }

  @Test func everyPNGColourTypeAndDepthBecomesRGB() throws {
    let (w, h) = (4, 2)
    let gray: [UInt8] = [0, 50, 100, 150, 200, 250, 10, 20]
    let g8 = try ImageCodec.decode(ImageCodec.encodePNG(gray, width: w, height: h, channels: 1))
    #expect(g8[1, 0] == (50, 50, 50) && g8[3, 1] == (20, 20, 20))
    // Gray + alpha: alpha dropped (PIL's convert("RGB")), colour kept.
    let ga = try ImageCodec.decode(ImageCodec.encodePNG(gray.flatMap { [$0, 0] }, width: w, height: h, channels: 2))
    #expect(ga[2, 0] == (100, 100, 100))
    let rgba = try ImageCodec.decode(ImageCodec.encodePNG(gray.flatMap { [$0, 1, 2, 128] }, width: w, height: h, channels: 4))
    #expect(rgba[1, 0] == (50, 1, 2))
    // 16-bit: every big-endian sample kept whole (host order in memory), gray as one channel unless asked.
    let g16 = try ImageCodec.decode(ImageCodec.encodePNG(gray.flatMap { [$0, 0xAB] }, width: w, height: h, channels: 1, bitDepth: 16),
                                    channels: nil)
    #expect(g16.channels == 1 && g16.bitDepth == 16 && g16.samples16[1] == 50 * 256 + 0xAB)
    let rgb16 = try ImageCodec.decode(ImageCodec.encodePNG(gray.flatMap { [$0, 0xFF, 7, 0, 9, 0] }, width: w, height: h, channels: 3, bitDepth: 16))
    #expect(rgb16.bitDepth == 16 && Array(rgb16.samples16[(3 * 7)..<(3 * 8)]) == [20 * 256 + 0xFF, 7 * 256, 9 * 256])
    #expect(rgb16.eightBit()[3, 1] == (21, 7, 9))  // rounded, not truncated: 0x14FF is nearer 21 × 257
    let palette = try ImageCodec.decode(ImageCodec.encodePalettePNG([0, 1, 2, 1, 0, 0, 2, 2], width: w, height: h,
                                                                   palette: [255, 0, 0, 0, 128, 0, 10, 20, 30]))
    #expect(palette[1, 0] == (0, 128, 0) && palette[2, 0] == (10, 20, 30) && palette[0, 1] == (255, 0, 0))
    let rgba16 = try ImageCodec.decode(ImageCodec.encodePNG(gray.flatMap { [$0, 0, 1, 0, 2, 0, 0, 0] }, width: w, height: h, channels: 4, bitDepth: 16))
    #expect(rgba16.channels == 3 && Array(rgba16.samples16[(3 * 4)..<(3 * 5)]) == [200 * 256, 256, 512])
    // Gray as stored, and RGB turned to gray (PIL's convert("L") luma) when one channel is asked for.
    #expect(try ImageCodec.decode(ImageCodec.encodePNG(gray, width: w, height: h, channels: 1), channels: nil).pixels == gray)
    let luma = try ImageCodec.decode(ImageCodec.encodePNG(rgba.pixels, width: w, height: h, channels: 3), channels: 1)
    let want: Int = (50 * 299 + 1 * 587 + 2 * 114 + 500) / 1000
    #expect(luma.channels == 1 && Int(luma.pixels[1]) == want)
  }

  @Test func jpegRGBGrayAndCMYK() throws {
    let img = gradient()
    let back = try ImageCodec.decode(ImageCodec.encodeJPEG(img, quality: 95))
    #expect(back.width == 16 && back.height == 8)
    let maxError = zip(back.pixels, img.pixels).map { abs(Int($0) - Int($1)) }.max()!
    #expect(maxError < 40)  // lossy, chroma-subsampled, but the same picture
    let gray = try ImageCodec.decode(ImageCodec.encodeJPEG([UInt8](repeating: 90, count: 64), width: 8, height: 8, channels: 1))
    #expect(gray[3, 3].0 == gray[3, 3].1 && gray[3, 3].1 == gray[3, 3].2 && abs(Int(gray[3, 3].0) - 90) <= 2)
    // CMYK (Adobe, inverted: 255 = no ink). Red = no cyan, full magenta and yellow, no black.
    let red = [UInt8](repeating: 0, count: 64 * 4).enumerated().map { i, _ in [255, 0, 0, 255][i % 4] as UInt8 }
    let cmyk = try ImageCodec.decode(ImageCodec.encodeJPEG(red, width: 8, height: 8, channels: 4, quality: 100))
    let (r, g, b) = cmyk[4, 4]
    #expect(r > 240 && g < 15 && b < 15, "CMYK red decoded as \((r, g, b))")
  }

  @Test func dctScalingDecodesSmallerWhenAsked() throws {
    var p: [UInt8] = []
    for y in 0..<320 { for x in 0..<480 { p += [UInt8(x % 256), UInt8(y % 256), 128] } }
    let jpeg = try ImageCodec.encodeJPEG(p, width: 480, height: 320)
    #expect(try ImageCodec.decode(jpeg).width == 480)
    let quarter = try ImageCodec.decode(jpeg, minSide: 80)
    #expect(quarter.width == 120 && quarter.height == 80)
    let half = try ImageCodec.decode(jpeg, minSide: 100)  // 1/4 would give 80 < 100; 3/8 → 120; the smallest ≥ 100
    #expect(Swift.min(half.width, half.height) >= 100 && half.width < 480)
    let full = try ImageCodec.decode(jpeg, minSide: 400)  // never upscales
    #expect(full.width == 480)
  }

  @Test func formatComesFromContentNotName() throws {
    let path = write(try ImageCodec.encodePNG(gradient()), "actually_png.JPEG")
    #expect(try ImageCodec.decode(contentsOf: path) == gradient())
  }

  @Test func badFilesGiveErrorsNamingThem() throws {
    let jpeg = try ImageCodec.encodeJPEG(gradient())
    let png = try ImageCodec.encodePNG(gradient())
    let cases: [(String, [UInt8], String)] = [
      ("empty.jpg", [], "empty file"),
      ("garbage.jpg", Array("this is not an image".utf8), "not a JPEG, PNG, TIFF or DICOM"),
      ("truncated.jpg", Array(jpeg.prefix(jpeg.count / 2)), "JPEG"),
      ("truncated.png", Array(png.prefix(png.count / 2)), "PNG"),
      ("header-only.png", Array(png.prefix(8)), ""),
    ]
    for (name, bytes, expected) in cases {
      let path = write(bytes, name)
      do {
        _ = try ImageCodec.decode(contentsOf: path)
        Issue.record("\(name) decoded")
      } catch let e as ImageError {
        #expect(e.description.hasPrefix(path), "\(e)")
        #expect(expected.isEmpty || e.message.contains(expected), "\(name): \(e.message)")
      }
    }
    #expect(throws: ImageError.self) { try ImageCodec.decode(contentsOf: scratch + "/missing.jpg") }
  }

  @Test func writesByExtension() throws {
    try ImageCodec.write(gradient(), to: scratch + "/out.png")
    #expect(try ImageCodec.decode(contentsOf: scratch + "/out.png") == gradient())
    try ImageCodec.write(gradient(), to: scratch + "/out.jpg")
    #expect(try ImageCodec.decode(contentsOf: scratch + "/out.jpg").width == 16)
    #expect(throws: ImageError.self) { try ImageCodec.write(gradient(), to: scratch + "/out.bmp") }
  }
}
