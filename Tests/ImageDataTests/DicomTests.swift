import Foundation
import Testing
@testable import ImageData

/// DICOM through DCMTK against what pydicom reads from the same files (Fixtures/make_dicom_fixtures.py).
@Suite struct DicomTests {
  struct Expected: Decodable { let width: Int, height: Int, photometric: String, values: [Double], picture: [Int] }

  static func fixture(_ name: String) throws -> String {
    try #require(Bundle.module.url(forResource: name, withExtension: nil, subdirectory: "Fixtures/dicom")).path
  }

  @Test func modalityValuesAndPicturesMatchPydicom() throws {
    let expected = try JSONDecoder().decode([String: Expected].self, from: Data(contentsOf: URL(fileURLWithPath: try Self.fixture("expected.json"))))
    #expect(expected.count == 5)
    for (name, want) in expected.sorted(by: { $0.key < $1.key }) {
      let image = try DicomImage(contentsOf: try Self.fixture(name))
      #expect(image.width == want.width && image.height == want.height && image.photometric == want.photometric, "\(name)")
      #expect(image.values == want.values, "\(name): modality values")  // rescale applied, nothing rounded to 8 bits
      let (gray, rgb) = image.picture()
      #expect(gray.map(Int.init) == want.picture, "\(name): picture")
      // Through the codec every loader uses: one channel, the same picture at 8 bits stored; beyond 8 bits the
      // same window onto 0…65535 (so within half an 8-bit step of the picture, and finer).
      let decoded = try ImageCodec.decode(contentsOf: try Self.fixture(name), channels: nil)
      #expect(decoded.channels == 1 && decoded.width == want.width, "\(name)")
      if image.bitsStored > 8 {
        #expect(decoded.bitDepth == 16, "\(name)")
        let close = zip(decoded.samples16, gray).allSatisfy { abs(Double($0) / 257 - Double($1)) <= 0.5 + 1e-9 }
        #expect(close, "\(name): 16-bit picture against the 8-bit one")
        #expect(Set(decoded.samples16).count >= Set(gray).count, "\(name): at least as many levels")
      } else {
        #expect(decoded.bitDepth == 8 && decoded.pixels == gray, "\(name)")
      }
      #expect(try ImageCodec.decode(contentsOf: try Self.fixture(name)).eightBit().pixels.count == rgb.pixels.count, "\(name): as RGB")
    }
    let ct = try DicomImage(contentsOf: try Self.fixture("ct_u12_rescale.dcm"))
    #expect(ct.window?.center == 40 && ct.window?.width == 400 && ct.values.contains { $0 < 0 })  // Hounsfield units
    #expect(try DicomImage(contentsOf: try Self.fixture("xray_mono1_u16.dcm")).values.contains { $0 > 255 })  // 16 bits kept
    // A window given as a setting replaces the file's.
    let wide = ct.picture(window: (center: 3000, width: 10000)).gray
    #expect(wide != ct.picture().gray && wide.allSatisfy { $0 > 0 && $0 < 255 })
  }

  @Test func unsupportedDicomIsRefusedNamingTheFile() throws {
    let multi = try Self.fixture("multiframe.dcm")
    #expect { try ImageCodec.decode(contentsOf: multi) } throws: { "\($0)".contains("multiframe.dcm") && "\($0)".contains("2 frames: multi-frame images are not supported") }
    let empty = try Self.fixture("no_pixels.dcm")
    #expect { try ImageCodec.decode(contentsOf: empty) } throws: { "\($0)".contains("no_pixels.dcm") && "\($0)".contains("holds no pixel data") }
    var bytes = Array(try Data(contentsOf: URL(fileURLWithPath: try Self.fixture("plain_u8.dcm"))))
    bytes = Array(bytes.prefix(bytes.count - 20))  // truncated pixel data
    #expect(throws: ImageError.self) { try ImageCodec.decode(bytes, path: "cut.dcm") }
    // A DICOM class folder is a dataset like any other.
    let root = NSTemporaryDirectory() + "pretext-dicom-\(UUID().uuidString)"
    for (c, f, name) in [("a", "ct_u12_rescale.dcm", "ct.dcm"), ("a", "signed_s16.dcm", "1.2.840.113619.2.55"), ("b", "xray_mono1_u16.dcm", "IM0001"),
                         ("b", "rle_u16.dcm", "rle.DCM")] {
      try FileManager.default.createDirectory(atPath: "\(root)/\(c)", withIntermediateDirectories: true)
      try FileManager.default.copyItem(atPath: try Self.fixture(f), toPath: "\(root)/\(c)/\(name)")
    }
    FileManager.default.createFile(atPath: root + "/a/README", contents: Data("not an image".utf8))  // extension-less, not DICOM
    let found = try LayoutDetector.detect(root: root)
    #expect(found.kind == .classFolders && found.layout.allPaths.count == 4)  // the UID- and IM-named files by their magic
    #expect(try scanImages(found.layout.allPaths).bad.isEmpty)
  }

  /// Issue 40, item 5: a NaN or infinite RescaleSlope (or intercept) makes the file bad, named, not a trap: the scan
  /// leaves it out like any undecodable file.
  @Test func nonFiniteRescaleIsABadFileNotATrap() throws {
    let root = NSTemporaryDirectory() + "pretext-dicom-nan-\(UUID().uuidString)"
    try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(atPath: root) }
    let original = Array(try Data(contentsOf: URL(fileURLWithPath: try Self.fixture("ct_u12_rescale.dcm"))))
    // RescaleSlope (0028,1053), explicit VR little endian: tag, "DS", length 4, then its 4 characters ("2.0 ").
    let tag: [UInt8] = [0x28, 0x00, 0x53, 0x10, 0x44, 0x53, 0x04, 0x00]
    let at = try #require((0...(original.count - tag.count)).first { Array(original[$0..<($0 + tag.count)]) == tag }) + tag.count
    var paths: [String] = []
    for value in ["NaN ", "inf ", "-inf"] {
      var bytes = original
      bytes.replaceSubrange(at..<(at + 4), with: Array(value.utf8))
      let path = root + "/slope-\(value.trimmingCharacters(in: .whitespaces)).dcm"
      try Data(bytes).write(to: URL(fileURLWithPath: path))
      paths.append(path)
      #expect { try ImageCodec.decode(contentsOf: path) } throws: { "\($0)".contains(path) && "\($0)".contains("not finite") }
    }
    let report = try scanImages(paths + [try Self.fixture("ct_u12_rescale.dcm")])
    #expect(report.bad.map(\.path) == paths && report.kept == [3])
  }
}
