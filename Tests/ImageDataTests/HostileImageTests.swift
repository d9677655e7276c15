// Issue 12, item 14 (and 10): hostile or unusual image files give clear errors or decode as PIL does.
import Foundation
import Testing
@testable import ImageData

/// CRC-32 (PNG's, polynomial 0xEDB88320) of `bytes`.
func pngCRC(_ bytes: [UInt8]) -> UInt32 {
  var c: UInt32 = 0xFFFF_FFFF
  for b in bytes {
    c ^= UInt32(b)
    for _ in 0..<8 { c = c & 1 != 0 ? (c >> 1) ^ 0xEDB8_8320 : c >> 1 }
  }
  return ~c
}

@Suite struct HostileImageTests {
  /// Every 3–20-byte prefix of a real JPEG is refused as unreadable: never a size read from uninitialised
  /// memory ("out of memory for a -2082013753x32624 image").
  @Test func tinyJPEGStubsAreUnreadableNotHuge() throws {
    let jpeg = try ImageCodec.encodeJPEG(gradient())
    for n in 3...20 {
      #expect(throws: ImageError.self) { try ImageCodec.decode(Array(jpeg.prefix(n))) }
      do { _ = try ImageCodec.decode(Array(jpeg.prefix(n))) } catch {
        #expect(!"\(error)".contains("out of memory") && "\(error)".contains("JPEG"), "\(n) bytes: \(error)")
      }
    }
  }

  /// A palette PNG with tRNS transparency decodes to its palette colours (PIL's convert("RGB") drops the
  /// transparency); it used to be refused.
  @Test func palettePNGWithTransparencyDecodes() throws {
    let palette: [UInt8] = [255, 0, 0, 0, 255, 0, 0, 0, 255]
    let png = try ImageCodec.encodePalettePNG([0, 1, 2, 1, 0, 2], width: 3, height: 2, palette: palette, alpha: [0, 128])
    let img = try ImageCodec.decode(png)
    #expect(img.width == 3 && img.height == 2)
    #expect(img[0, 0] == (255, 0, 0) && img[1, 0] == (0, 255, 0) && img[2, 0] == (0, 0, 255) && img[0, 1] == (0, 255, 0))
  }

  /// A small PNG whose header claims 16384 × 16384 pixels is refused before any pixel buffer is made, with
  /// its size and the cap named (it used to cost 1.7 GB).
  @Test func decompressionBombIsRefusedNamingItsSize() throws {
    var png = try ImageCodec.encodePNG(gradient())
    // IHDR: bytes 8–11 length, 12–15 "IHDR", 16–19 width, 20–23 height, …, 29–32 CRC over bytes 12–28.
    for (offset, value) in [(16, UInt32(16384)), (20, UInt32(16384))] {
      for i in 0..<4 { png[offset + i] = UInt8(truncatingIfNeeded: value >> (24 - 8 * UInt32(i))) }
    }
    let crc = pngCRC(Array(png[12..<29]))
    for i in 0..<4 { png[29 + i] = UInt8(truncatingIfNeeded: crc >> (24 - 8 * UInt32(i))) }
    #expect { try ImageCodec.decode(png) } throws: {
      "\($0)".contains("16384x16384") && "\($0)".contains("268.4 megapixels") && "\($0)".contains("cap")
    }
  }

  /// Item 10: a FIFO named like an image is refused at once (opening it used to block forever).
  @Test func fifoNamedLikeAnImageIsRefusedWithoutBlocking() throws {
    let path = scratch + "/fifo-\(UUID().uuidString).jpg"
    try #require(mkfifo(path, 0o644) == 0)
    #expect { try ImageCodec.decode(contentsOf: path) } throws: { "\($0)".contains("not a regular file") }
  }
}

@Suite struct DatasetListingTests {
  /// Item 7: a class folder whose name is not UTF-8 is an error naming the folder (it was dropped silently).
  @Test func nonUTF8ClassFolderIsAnError() throws {
    let root = scratch + "/nonutf8-\(UUID().uuidString)"
    try FileManager.default.createDirectory(atPath: root + "/good", withIntermediateDirectories: true)
    FileManager.default.createFile(atPath: root + "/good/a.jpg", contents: Data(try ImageCodec.encodeJPEG(gradient())))
    let raw: [CChar] = Array(root.utf8CString.dropLast()) + [CChar(bitPattern: 0x2F), CChar(bitPattern: 0x63), CChar(bitPattern: 0xE9), 0]
    try #require(mkdir(raw, 0o755) == 0)
    #expect { try ImageFolder(root: root) } throws: { "\($0)".contains("not valid UTF-8") && "\($0)".contains("c\\xe9") }
  }

  /// Item 7: a symlinked class folder and a symlinked unsup/ are read through (they read as empty before).
  @Test func symlinkedClassFolderAndUnsupAreRead() throws {
    let base = scratch + "/links-\(UUID().uuidString)"
    try SyntheticImageWang(size: 16, trainPerClass: 2, validPerClass: 1, unsupCount: 5, seed: 2).write(to: base + "/real")
    let original = try ImageWangLayout(root: base + "/real")
    let linked = base + "/linked"
    try FileManager.default.createDirectory(atPath: linked, withIntermediateDirectories: true)
    try FileManager.default.copyItem(atPath: base + "/real/train", toPath: linked + "/train")
    let cls = original.train.classes[0]
    try FileManager.default.removeItem(atPath: linked + "/train/" + cls)
    try FileManager.default.createSymbolicLink(atPath: linked + "/train/" + cls, withDestinationPath: base + "/real/train/" + cls)
    try FileManager.default.createSymbolicLink(atPath: linked + "/val", withDestinationPath: base + "/real/val")
    try FileManager.default.createSymbolicLink(atPath: linked + "/unsup", withDestinationPath: base + "/real/unsup")
    let through = try ImageWangLayout(root: linked)
    #expect(through.train.count == original.train.count && through.unsup?.count == 5 && through.valid.count == original.valid.count)
    #expect(through.train.labels == original.train.labels)
  }

  /// Item 3: excluding bad files removes them from every split; a split left empty is an error.
  @Test func excludingBadFilesRemovesThemEverywhere() throws {
    let root = scratch + "/exclude-\(UUID().uuidString)"
    try SyntheticImageWang(size: 16, trainPerClass: 1, validPerClass: 1, unsupCount: 3, seed: 3).write(to: root)
    let layout = try ImageWangLayout(root: root)
    let bad: Set<String> = [layout.train.paths[0], layout.valid.paths[0], layout.unsup!.paths[0]]
    let kept = try layout.excluding(bad)
    #expect(kept.train.count == layout.train.count - 1 && kept.valid.count == layout.valid.count - 1 && kept.unsup?.count == 2)
    #expect(Set(kept.allPaths).isDisjoint(with: bad))
    #expect { try layout.excluding(Set(layout.unsup!.paths)) } throws: { "\($0)".contains("unsup") && "\($0)".contains("no usable image") }
  }
}
