import Foundation
import Testing
import TestSupport
@testable import ImageData
@testable import Study
import NN
import SelfSupervised
import Torch

/// `--channels 1` on 16-bit gray images: the models take one channel (fastai's key names unchanged), the
/// pretext's U-Net paints one, and `predict` labels val/ as the run's validation did.
@Suite(.serialized) struct SingleChannelTests {
  /// A synthetic ImageWang turned into 16-bit gray: train/ and unsup/ as TIFF, val/ as 16-bit PNG. Each sample
  /// is the 8-bit luma × 257 plus a detail below 8 bits, so the low byte is not empty.
  static func grayWang(_ root: String) throws -> String {
    let colour = root + "/colour", gray = root + "/gray"
    try SyntheticImageWang(size: 32, trainPerClass: 4, validPerClass: 3, unsupCount: 8, seed: 9).write(to: colour)
    let fm = FileManager.default
    for path in try listImages(colour) {
      let img = try ImageCodec.decode(contentsOf: path, channels: 1)
      let wide = Image(width: img.width, height: img.height, channels: 1,
                       samples16: img.pixels.enumerated().map { UInt16(min(255 * 257, Int($1) * 257 + ($0 * 37) % 200)) })
      let rel = String(path.dropFirst(colour.count))
      let out = gray + ((rel as NSString).deletingPathExtension) + (rel.hasPrefix("/val/") ? ".png" : ".tif")
      try fm.createDirectory(atPath: parentPath(out), withIntermediateDirectories: true)
      try ImageCodec.write(wide, to: out)
    }
    return gray
  }

  @Test func oneChannelModelsTrainOn16BitGrayAndPredict() throws {
    let root = NSTemporaryDirectory() + "pretext-gray-\(UUID().uuidString)"
    let tool = try builtTool("pretext")
    let env = ["OMP_NUM_THREADS": "1"]
    let data = try Self.grayWang(root)
    let probe = try ImageCodec.decode(contentsOf: try listImages(data + "/train")[0], channels: nil)
    try #require(probe.channels == 1 && probe.bitDepth == 16)

    let r = try runTool(tool, ["experiment", "--data", data, "--out", root + "/runs", "--channels", "1", "--task", "inpainting",
                               "--pretext-size", "32", "--size", "32", "--widen", "0.125", "--batch", "8", "--pretext-batch", "8",
                               "--epochs", "3", "--head-epochs", "1", "--pretext-epochs", "1", "--runs", "1", "--workers", "1"],
                        environment: env)
    try #require(r.status == 0, "\(r.output)")
    let run = root + "/runs/" + (try FileManager.default.contentsOfDirectory(atPath: root + "/runs")[0])
    // The stem's first convolution takes one channel, under fastai's key; the U-Net paints one channel.
    let encoder = try SafeTensors.File(path: run + "/pretext/inpainting/encoder.safetensors").tensors()
    #expect(encoder.first { $0.name == "0.0.weight" }?.tensor.shape == [32, 1, 3, 3])
    let unet = try SafeTensors.File(path: run + "/pretext/inpainting/unet.safetensors").tensors()
    let lastConv = unet.filter { $0.tensor.shape.count == 4 }.last!
    #expect(lastConv.tensor.shape[0] == 1, "the U-Net's output conv \(lastConv.name): \(lastConv.tensor.shape)")

    // A fine-tuned classifier of the run predicts val/ as its validation did.
    let stages = try FileManager.default.contentsOfDirectory(atPath: run + "/eval").sorted()
    let stage = run + "/eval/" + stages[0] + "/0"
    let result = try JSONDecoder().decode(ScenarioResult.self, from: Data(contentsOf: URL(fileURLWithPath: stage + "/result.json")))
    #expect(try ClassifierInfo.read(stage + "/model.safetensors").inChannels == 1)
    let p = try runTool(tool, ["predict", "--model", stage + "/model.safetensors", data + "/val", "--output", root + "/p.csv",
                               "--workers", "1"], environment: env)
    try #require(p.status == 0, "\(p.output)")
    let table = try CSVTable(contentsOf: root + "/p.csv")
    let right = table.rows.filter { URL(fileURLWithPath: $0.fields[0]).deletingLastPathComponent().lastPathComponent == $0.fields[1] }.count
    #expect(table.rows.count == 30 && Double(right) / 30 == result.finalAccuracy, "\(right)/30 against \(result.finalAccuracy)")

    // A task about colour cannot train on one channel: refused before anything runs.
    let c = try runTool(tool, ["pretrain", "--data", data, "--out", root + "/c", "--channels", "1", "--task", "colorization"], environment: env)
    #expect(c.status != 0 && c.output.contains("colorization needs colour images"), "\(c.output)")
  }

  /// Every task that does not need colour trains on one channel: a finite loss, a picture, and an encoder
  /// whose stem takes one channel and which loads into a 1-channel classifier.
  @Test(arguments: PretextTasks.all.filter { !$0.needsColour }.map { $0.name })
  func everyGrayTaskTrainsOnOneChannel(_ name: String) throws {
    let root = NSTemporaryDirectory() + "pretext-gray-\(name)-\(UUID().uuidString)"
    try SyntheticImageWang(size: 32, trainPerClass: 1, validPerClass: 1, unsupCount: 24, seed: 4).write(to: root + "/data")
    var config = tinyPretext(name, epochs: 1)
    (config.data.channels, config.pretext.batch) = (1, 8)
    let (result, stage) = try runPretext(try ImageWangLayout(root: root + "/data"), config, runDir: root + "/run")
    #expect(result.history.allSatisfy { $0.trainLoss.isFinite }, "\(name)")
    let encoder = try SafeTensors.File(path: stage.file(result.encoderFile)).tensors()
    #expect(encoder.first { $0.name == "0.0.weight" }?.tensor.shape == [32, 1, 3, 3], "\(name)")
    let classifier = try XResNet(.resnet34, inChannels: 1, classes: 20, widen: 0.125)
    try EncoderTransfer.loadBody(encoder, into: classifier)
    #expect(FileManager.default.fileExists(atPath: stage.file(result.pictureFile)), "\(name)")
  }
}
