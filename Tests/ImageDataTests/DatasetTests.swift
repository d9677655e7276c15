import Foundation
import Testing
@testable import ImageData

/// Builds an ImageWang-layout tree of tiny images under a fresh folder.
func makeTree(_ layout: [String: [String: Int]], unsup: Int = 3) throws -> String {
  let root = NSTemporaryDirectory() + "pretext-ds-\(UUID().uuidString)"
  let png = try ImageCodec.encodePNG(gradient())
  for (split, classes) in layout {
    for (name, n) in classes {
      let dir = "\(root)/\(split)/\(name)"
      try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
      for i in 0..<n { FileManager.default.createFile(atPath: "\(dir)/img\(i).png", contents: Data(png)) }
    }
  }
  if unsup > 0 {
    try FileManager.default.createDirectory(atPath: root + "/unsup", withIntermediateDirectories: true)
    for i in 0..<unsup { FileManager.default.createFile(atPath: "\(root)/unsup/u\(i).JPEG", contents: Data(png)) }
  }
  return root
}

@Suite struct DatasetTests {
  @Test func imageWangLayoutWithTrainVocabulary() throws {
    let root = try makeTree(["train": ["dog": 2, "cat": 3, "emu": 1], "val": ["dog": 2, "emu": 1]])
    FileManager.default.createFile(atPath: root + "/train/cat/notes.txt", contents: Data("x".utf8))  // not an image
    let ds = try ImageWangLayout(root: root)
    #expect(ds.train.classes == ["cat", "dog", "emu"])
    #expect(ds.train.count == 6 && ds.valid.count == 3 && ds.unsup?.count == 3)
    #expect(ds.valid.labels == [1, 1, 2])  // labels in train/'s vocabulary, not val/'s
    #expect(ds.train.paths == ds.train.paths.sorted())  // deterministic order
    #expect(try ImageWangLayout(root: root).train.paths == ds.train.paths)
    let summary = ds.summary()
    #expect(summary.contains("train: 6 images in 3 classes") && summary.contains("unsup: 3 images"))
    #expect(summary.contains("cat") && summary.contains("      3      0"))
  }

  @Test func structuralProblemsFailBeforeTraining() throws {
    let missingVal = try makeTree(["train": ["a": 1]])
    #expect { try ImageWangLayout(root: missingVal) } throws: { "\($0)".contains("missing split 'val/'") }
    let strange = try makeTree(["train": ["a": 1], "val": ["zebra": 1]])
    #expect { try ImageWangLayout(root: strange) } throws: { "\($0)".contains("class 'zebra' is not among the training classes") }
    let empty = try makeTree(["train": ["a": 1, "b": 0], "val": ["a": 1]])
    #expect { try ImageWangLayout(root: empty) } throws: { "\($0)".contains("train/b: class folder holds no images") }
    let noUnsup = try makeTree(["train": ["a": 1], "val": ["a": 1]], unsup: 0)
    #expect(throws: DatasetError.self) { try ImageWangLayout(root: noUnsup) }
    #expect(try ImageWangLayout(root: noUnsup, requireUnsup: false).unsup == nil)
    #expect(throws: DatasetError.self) { try ImageFolder(root: noUnsup + "/nowhere") }
  }

  @Test func badFilesAreSkippedWithOneWarningOrRefusedWhenStrict() throws {
    let root = try makeTree(["train": ["a": 3]], unsup: 0)
    let jpeg = try ImageCodec.encodeJPEG(gradient())
    FileManager.default.createFile(atPath: root + "/train/a/truncated.jpg", contents: Data(jpeg.prefix(jpeg.count / 2)))
    FileManager.default.createFile(atPath: root + "/train/a/zero.jpg", contents: Data())
    FileManager.default.createFile(atPath: root + "/train/a/text.png", contents: Data("hello".utf8))
    let folder = try ImageFolder(root: root + "/train")
    #expect(folder.count == 6)
    let report = try scanImages(folder.paths)
    #expect(report.kept.count == 3 && report.bad.count == 3)
    let warning = report.warning!
    #expect(warning.contains("skipped 3 files") && warning.contains("truncated.jpg") && warning.contains("zero.jpg")
      && warning.contains("text.png"))
    #expect { try scanImages(folder.paths, strict: true) } throws: { "\($0)".contains("3 file(s) cannot be decoded") }
    #expect(try scanImages(Array(folder.paths.prefix(0))).warning == nil)
  }

  @Test func tinyAndStripImagesAreSkippedNamed() throws {
    let root = try makeTree(["train": ["a": 2]], unsup: 0)
    for (name, w, h) in [("one.png", 1, 1), ("three.png", 3, 3), ("strip.png", 200, 4), ("fine.png", 8, 8), ("wide.png", 100, 4)] {
      FileManager.default.createFile(atPath: root + "/train/a/" + name,
                                     contents: Data(try ImageCodec.encodePNG([UInt8](repeating: 9, count: w * h * 3), width: w, height: h, channels: 3)))
    }
    let report = try scanImages(try ImageFolder(root: root + "/train").paths)
    #expect(Set(report.bad.map { ($0.path as NSString).lastPathComponent }) == ["one.png", "three.png", "strip.png"])
    let warning = try #require(report.warning)
    #expect(warning.contains("one.png: 1x1 px: shorter side under 4 px") && warning.contains("strip.png: 200x4 px: sides more than 25 times apart"))
  }
}
