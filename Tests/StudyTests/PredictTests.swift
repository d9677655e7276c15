import Foundation
import Testing
import TestSupport
@testable import ImageData
@testable import Study
import Torch

/// `pretext predict`: the classifier a run trained labels val/ exactly as the run's validation did.
@Suite(.serialized) struct PredictTests {
  @Test func predictReproducesTheRunsValidationAccuracy() throws {
    let root = NSTemporaryDirectory() + "pretext-predict-\(UUID().uuidString)"
    let tool = try builtTool("pretext")
    let env = ["OMP_NUM_THREADS": "1"]
    try SyntheticImageWang(size: 32, trainPerClass: 4, validPerClass: 3, unsupCount: 8, seed: 9).write(to: root + "/data")
    let r = try runTool(tool, ["evaluate", "--protocol", "random", "--data", root + "/data", "--out", root + "/runs", "--size", "32",
                               "--widen", "0.125", "--batch", "8", "--epochs", "3", "--workers", "1"], environment: env)
    try #require(r.status == 0, "\(r.output)")
    let run = root + "/runs/" + (try FileManager.default.contentsOfDirectory(atPath: root + "/runs")[0])
    let stage = run + "/eval/random/0"
    let result = try JSONDecoder().decode(ScenarioResult.self, from: Data(contentsOf: URL(fileURLWithPath: stage + "/result.json")))
    let info = try ClassifierInfo.read(stage + "/model.safetensors")
    #expect(info.classes.count == 20 && info.size == 32 && info.widen == 0.125 && info.head == "linear")

    // The run folder: its only classifier; the val/ folder, every image; top 3 per row.
    let p = try runTool(tool, ["predict", "--model", run, root + "/data/val", "--output", root + "/p.csv", "--workers", "1"], environment: env)
    try #require(p.status == 0, "\(p.output)")
    let table = try CSVTable(contentsOf: root + "/p.csv")
    #expect(table.header == ["image", "label", "probability", "label_2", "probability_2", "label_3", "probability_3"])
    #expect(table.rows.count == 30)
    let right = table.rows.filter { row in
      URL(fileURLWithPath: row.fields[0]).deletingLastPathComponent().lastPathComponent == row.fields[1]
    }.count
    #expect(result.finalAccuracy > 0)  // some image right: an all-wrong run would match trivially
    #expect(Double(right) / 30 == result.finalAccuracy, "predict \(right)/30 against the run's \(result.finalAccuracy)")
    let probs = table.rows.compactMap { Double($0.fields[2]) }
    #expect(probs.count == 30 && probs.allSatisfy { $0 > 0 && $0 <= 1 })
    #expect(table.rows.allSatisfy { Double($0.fields[2])! >= Double($0.fields[4])! && Double($0.fields[4])! >= Double($0.fields[6])! })

    // Kaggle's shape: a CSV of ids beside a folder of test images, out comes id,label in the CSV's order.
    try FileManager.default.createDirectory(atPath: root + "/kaggle/test", withIntermediateDirectories: true)
    let val = try listImages(root + "/data/val").prefix(4)
    var ids = "id\n"
    for (i, f) in val.enumerated().reversed() {
      try FileManager.default.copyItem(atPath: f, toPath: root + "/kaggle/test/img\(i).\((f as NSString).pathExtension)")
      ids += "img\(i)\n"
    }
    try ids.write(toFile: root + "/kaggle/sample.csv", atomically: true, encoding: .utf8)
    let k = try runTool(tool, ["predict", "--model", stage + "/model.safetensors", root + "/kaggle/sample.csv", "--format", "kaggle",
                               "--output", root + "/sub.csv", "--workers", "1"], environment: env)
    try #require(k.status == 0, "\(k.output)")
    let sub = try CSVTable(contentsOf: root + "/sub.csv")
    #expect(sub.header == ["id", "label"] && sub.rows.map { $0.fields[0] } == ["img3", "img2", "img1", "img0"])
    let byImage = Dictionary(uniqueKeysWithValues: table.rows.map { ($0.fields[0], $0.fields[1]) })
    #expect(sub.rows.map { $0.fields[1] } == (0..<4).reversed().map { byImage[val[$0]]! })

    // Not a classifier, and an image that does not decode: refused, named.
    try SafeTensors.save([("w", try Tensor.ones([1]))], metadata: ["format": "pt"], to: root + "/encoder.safetensors")
    let e = try runTool(tool, ["predict", "--model", root + "/encoder.safetensors", root + "/data/val"], environment: env)
    #expect(e.status != 0 && e.output.contains("is not a classifier saved by pretext"), "\(e.output)")
    FileManager.default.createFile(atPath: root + "/kaggle/test/broken.png", contents: Data("nope".utf8))
    let b = try runTool(tool, ["predict", "--model", run, root + "/kaggle/test", "--output", root + "/b.csv"], environment: env)
    #expect(b.status != 0 && b.output.contains("broken.png") && !FileManager.default.fileExists(atPath: root + "/b.csv"), "\(b.output)")
  }
}

