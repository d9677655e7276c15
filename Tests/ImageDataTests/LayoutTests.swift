import Foundation
import Torch
import Testing
@testable import ImageData

/// Writes tiny PNGs at the given paths (relative to a fresh folder) and the given text files; returns the folder.
func makeFiles(images: [String], texts: [String: String] = [:]) throws -> String {
  let root = NSTemporaryDirectory() + "pretext-layout-\(UUID().uuidString)"
  let png = try ImageCodec.encodePNG(gradient())
  for rel in images {
    let path = root + "/" + rel
    try FileManager.default.createDirectory(atPath: parentPath(path), withIntermediateDirectories: true)
    FileManager.default.createFile(atPath: path, contents: Data(png))
  }
  try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
  for (rel, text) in texts { FileManager.default.createFile(atPath: root + "/" + rel, contents: Data(text.utf8)) }
  return root
}

func names(_ f: ImageFolder) -> [String] { f.paths.map { ($0 as NSString).lastPathComponent } }

@Suite struct LayoutTests {
  @Test func imageWangAndTrainValAreTold() throws {
    let wang = try makeTree(["train": ["a": 2, "b": 2], "val": ["b": 1]])
    let w = try LayoutDetector.detect(root: wang)
    #expect(w.kind == .imagewang && w.layout.unsup?.count == 3 && w.layout.valid.labels == [1])
    let imagenet = try makeTree(["train": ["a": 2, "b": 3], "valid": ["a": 1, "b": 1]], unsup: 0)
    let t = try LayoutDetector.detect(root: imagenet)
    #expect(t.kind == .trainVal && t.layout.unsup == nil && t.layout.train.count == 5 && t.layout.valid.count == 2)
    #expect(t.summary().contains("layout: train-val (train/ and valid/ class folders"))
    let noVal = try makeTree(["train": ["a": 2]], unsup: 0)
    #expect { try LayoutDetector.detect(root: noVal) } throws: { "\($0)".contains("missing split 'val/'") }
  }

  @Test func aClassTreeIsSplitSeededStratifiedAndNested() throws {
    let tree = try makeFiles(images: (0..<10).map { "cat/c\($0).png" } + (0..<5).map { "dog/d\($0).png" } + ["owl/o0.png"])
    var opts = LayoutOptions()
    opts.validFraction = 0.2
    let d = try LayoutDetector.detect(root: tree, options: opts)
    #expect(d.kind == .classFolders && d.layout.train.classes == ["cat", "dog", "owl"])
    // 2 of 10 cats, 1 of 5 dogs, and the only owl stays in train.
    #expect(d.layout.valid.countsPerClass().map(\.1) == [2, 1, 0] && d.layout.train.countsPerClass().map(\.1) == [8, 4, 1])
    #expect(Set(d.layout.train.paths).isDisjoint(with: d.layout.valid.paths))
    #expect(try LayoutDetector.detect(root: tree, options: opts).layout.valid.paths == d.layout.valid.paths)  // seeded
    opts.validFraction = 0.4
    #expect(Set(d.layout.valid.paths).isSubset(of: try LayoutDetector.detect(root: tree, options: opts).layout.valid.paths))
    opts.splitSeed = 7
    #expect(try LayoutDetector.detect(root: tree, options: opts).layout.valid.count == 6)
    let loose = try makeFiles(images: ["a.png", "b/c.png"])
    #expect { try LayoutDetector.detect(root: loose) } throws: { "\($0)".contains("holds 1 image(s) directly") }
  }

  @Test func aKaggleCSVLabelsItsRowsAndLeavesTheRestUnlabelled() throws {
    let csv = "id,label\n" + (0..<6).map { "t\($0),\($0 % 2 == 0 ? "cat" : "dog")\n" }.joined()
    let root = try makeFiles(images: (0..<6).map { "train/t\($0).png" } + (0..<4).map { "test/q\($0).png" }, texts: ["train.csv": csv])
    var opts = LayoutOptions()
    opts.validFraction = 0.34
    let d = try LayoutDetector.detect(root: root, options: opts)
    #expect(d.kind == .csv && d.layout.train.classes == ["cat", "dog"])
    #expect(d.layout.train.count + d.layout.valid.count == 6 && d.layout.valid.count == 2)
    let labels = Dictionary(uniqueKeysWithValues: zip(names(d.layout.train) + names(d.layout.valid), d.layout.train.labels + d.layout.valid.labels))
    #expect(labels == ["t0.png": 0, "t1.png": 1, "t2.png": 0, "t3.png": 1, "t4.png": 0, "t5.png": 1])
    #expect(d.layout.unsup?.paths.map { ($0 as NSString).lastPathComponent } == ["q0.png", "q1.png", "q2.png", "q3.png"])
    #expect(d.reason.contains("4 image(s) no row names are unlabelled"))
  }

  @Test func aCSVSplitColumnAndNamedColumnsAndQuotes() throws {
    let csv = "file,breed,is_valid\r\n\"imgs/a,1.png\",\"golden \"\"retriever\"\"\",False\r\nimgs/b.png,pug,false\r\nimgs/c.png,pug,True\r\n"
    let root = try makeFiles(images: ["imgs/a,1.png", "imgs/b.png", "imgs/c.png"], texts: ["meta.csv": csv])
    var opts = LayoutOptions()
    opts.csv = "meta.csv"
    opts.labelColumn = "breed"
    let d = try LayoutDetector.detect(root: root, options: opts)
    #expect(d.layout.train.classes == ["golden \"retriever\"", "pug"])
    #expect(names(d.layout.train) == ["a,1.png", "b.png"] && names(d.layout.valid) == ["c.png"] && d.layout.unsup == nil)
    opts.labelColumn = "colour"
    #expect { try LayoutDetector.detect(root: root, options: opts) } throws: { "\($0)".contains("has no column 'colour'") }
  }

  @Test func badCSVsAreRefusedNamingTheLine() throws {
    func refuse(_ csv: String, _ message: String, images: [String] = ["a.png", "b.png", "c.png"]) throws {
      let root = try makeFiles(images: images, texts: ["train.csv": csv])
      #expect { try LayoutDetector.detect(root: root) } throws: { "\($0)".contains(message) }
    }
    try refuse("image,label\na.png,x\nmissing.png,y\n", "line 3: image 'missing.png' is not a file under")
    try refuse("image,label\na.png,x\nb.png,y\na.png,x\n", "line 4: duplicate row for 'a.png' (first on line 2)")
    try refuse("image,label\na.png,x\nb.png,y\na.png,y\n", "labelled 'y' here and 'x' on line 2")
    try refuse("image,label\na.png,x\nb.png,y\nc.png,x y\n", "line 4: label 'x y' looks like several labels")
    try refuse("image,label\na.png,x;y\n", "looks like several labels")
    try refuse("image,cat,dog\na.png,1,0\nb.png,0,1\n", "looks multi-label (2 columns of 0/1")
    try refuse("image,label,split\na.png,x,train\nb.png,y,valid\n", "line 3: label 'y' is on validation rows only")
    try refuse("image,label,split\na.png,x,train\nb.png,x,test\n", "line 3: split 'test'")
    try refuse("image,label\na.png,\n", "line 2: 'a.png' has an empty label")
    try refuse("image,label\na.png,x,extra\n", "line 2: 3 fields where the header has 2")
    try refuse("image,label\n\"a.png,x\n", "a quoted field is never closed")
    try refuse("image,label\na,x\n", "matches 2 files", images: ["one/a.png", "two/a.png"])
  }
}
