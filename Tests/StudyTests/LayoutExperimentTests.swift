import Foundation
import Testing
import TestSupport
@testable import ImageData
@testable import Study

/// `pretext experiment --data DIR` on each dataset layout, the folders rearranged from one synthetic ImageWang.
@Suite(.serialized) struct LayoutExperimentTests {
  static let fm = FileManager.default

  /// A synthetic ImageWang (20 classes × 2 train, 10 × 1 val, 12 unsup, 32 px) under `root/wang`.
  static func synth(_ root: String) throws -> String {
    let wang = root + "/wang"
    try SyntheticImageWang(size: 32, trainPerClass: 2, validPerClass: 1, unsupCount: 12, seed: 5).write(to: wang)
    return wang
  }

  /// Rearranged: `train-val` (no unsup/), `classes` (train/'s class folders at the top), `csv` (train/ flat
  /// with a train.csv, unsup/ as test/).
  static func layouts(_ root: String) throws -> [String: String] {
    let wang = try synth(root)
    var out = ["imagewang": wang]
    let tv = root + "/train-val"
    try fm.copyItem(atPath: wang, toPath: tv)
    try fm.removeItem(atPath: tv + "/unsup")
    out["train-val"] = tv
    let classes = root + "/classes"
    try fm.copyItem(atPath: wang + "/train", toPath: classes)
    out["class-folders"] = classes
    let kaggle = root + "/kaggle"
    try fm.createDirectory(atPath: kaggle + "/train", withIntermediateDirectories: true)
    var csv = "id,label\n"
    for c in try fm.contentsOfDirectory(atPath: wang + "/train").sorted() {
      for f in try fm.contentsOfDirectory(atPath: wang + "/train/" + c).sorted() {
        let id = c + "-" + (f as NSString).deletingPathExtension
        try fm.copyItem(atPath: wang + "/train/\(c)/\(f)", toPath: kaggle + "/train/\(id).\((f as NSString).pathExtension)")
        csv += "\(id),\(c)\n"
      }
    }
    try fm.copyItem(atPath: wang + "/unsup", toPath: kaggle + "/test")
    try csv.write(toFile: kaggle + "/train.csv", atomically: true, encoding: .utf8)
    out["csv"] = kaggle
    return out
  }

  @Test func theCSVsUnlabelledImagesReachThePretextAndNeverTheClassifier() throws {
    let root = NSTemporaryDirectory() + "pretext-layouts-\(UUID().uuidString)"
    let kaggle = try Self.layouts(root)["csv"]!
    var config = StudyConfig.demo
    config.data.layout.validFraction = 0.5
    (config.downstream.batch, config.pretext.batch) = (8, 8)
    let data = try loadStudyData(root: kaggle, config: config, log: { _ in })
    let test = Set(try listImages(kaggle + "/test"))
    #expect(Set(data.unsup?.paths ?? []) == test && test.count == 12)
    let down = config.downstreamData(data)
    #expect(Set(down.train.paths + down.valid.paths).isDisjoint(with: test))
    #expect(down.train.count == 20 && down.valid.count == 20)  // one of each class's two images held out
  }

  @Test func experimentRunsOnEveryLayout() throws {
    let root = NSTemporaryDirectory() + "pretext-layouts-\(UUID().uuidString)"
    let tool = try builtTool("pretext")
    for (kind, dir) in try Self.layouts(root).sorted(by: { $0.key < $1.key }) {
      let out = root + "/runs-" + kind
      let r = try runTool(tool, ["experiment", "--data", dir, "--out", out, "--task", "rotation", "--pretext-size", "32", "--size", "32",
                                 "--widen", "0.125", "--batch", "8", "--pretext-batch", "8", "--epochs", "1", "--head-epochs", "0",
                                 "--pretext-epochs", "1", "--runs", "1", "--workers", "1", "--valid-fraction", "0.5"],
                          environment: ["OMP_NUM_THREADS": "1"])
      try #require(r.status == 0, "\(kind): \(r.output)")
      if kind != "imagewang" { #expect(r.output.contains(": \(kind) layout ("), "\(kind): \(r.output)") }
      let run = out + "/" + (try Self.fm.contentsOfDirectory(atPath: out)[0])
      let pretext = try JSONDecoder().decode(PretextResult.self, from: Data(contentsOf: URL(fileURLWithPath: run + "/pretext/rotation/result.json")))
      // What the pretext read: train/'s images and the unlabelled ones (ImageWang's unsup/, the CSV's test/).
      let expected = ["imagewang": 40 + 12, "train-val": 40, "class-folders": 20, "csv": 20 + 12][kind]!
      #expect(pretext.trainingItems == expected, "\(kind)")
      #expect(Self.fm.fileExists(atPath: run + "/results.json"), "\(kind)")
    }
  }
}
