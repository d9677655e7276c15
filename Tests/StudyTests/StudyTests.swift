import Foundation
import Testing
@testable import ImageData
@testable import NN
@testable import SelfSupervised
@testable import Study
@testable import Torch
@testable import Training

/// Records the parameters at the start of training and the lrs of every step.
final class Watch: Callback {
  var atStart: [String: Tensor] = [:]
  var lrs: [[Double]] = []
  func on(_ event: Event, _ l: Learner) throws {
    if event == .beforeFit && atStart.isEmpty {
      atStart = Dictionary(uniqueKeysWithValues: try l.model.namedParameters().map { ($0.0, try $0.1.value.clone()) })
    }
    if event == .beforeStep { lrs.append(l.optimizer.groups.map(\.lr)) }
  }
}

@Suite struct StudyTests {
  /// The whole study on a tiny synthetic dataset, checking that each scenario did what it claims.
  @Test func pretextThenThreeScenariosDoWhatTheyClaim() throws {
    let root = NSTemporaryDirectory() + "pretext-study-\(UUID().uuidString)"
    try SyntheticImageWang(size: 32, trainPerClass: 2, validPerClass: 1, unsupCount: 40, seed: 1).write(to: root + "/data")
    let data = try ImageWangLayout(root: root + "/data")
    var config = StudyConfig()
    (config.pretext.size, config.pretext.batch, config.pretext.epochs) = (32, 8, 1)
    (config.downstream.size, config.downstream.batch, config.downstream.epochs, config.downstream.headEpochs) = (32, 8, 2, 1)
    config.widen = 0.125

    let (pretext, stage) = try runPretext(data, config, runDir: root + "/run")
    #expect(!pretext.sawLabels)
    #expect(pretext.trainingItems == data.train.count + data.unsup!.count)  // unsup/ really used
    #expect(pretext.history.count == 1 && pretext.history[0].trainLoss.isFinite && pretext.history[0].validLoss != nil)
    let grid = try ImageCodec.decode(contentsOf: stage.file(pretext.pictureFile))
    #expect(grid.width == 3 * 32 + 4 && grid.pixels.contains(255))
    #expect(grid.pixels.enumerated().contains { i, v in i % 3 == 1 && v == 255 && grid.pixels[i - 1] == 0 && grid.pixels[i + 1] == 0 })  // green outline
    let encoder = try SafeTensors.File(path: stage.file(pretext.encoderFile))
    #expect(encoder.names.first == "0.0.weight")  // classifier key names

    // 1. Random init: the body does not start from the pretext weights.
    let w1 = Watch()
    let r1 = try trainScenario(.random, run: 0, data: data, encoder: stage.file(pretext.encoderFile), config, runDir: root + "/run", callbacks: [w1])
    #expect(try !w1.atStart["0.0.weight"]!.equal(encoder.tensor("0.0.weight")))
    #expect(r1.result.history.count == 2 && r1.result.finalAccuracy >= 0)

    // 2. Head only: every non-BatchNorm body weight is bit-identical to the pretext encoder after training.
    let r2 = try trainScenario(.head, run: 0, data: data, encoder: stage.file(pretext.encoderFile), config, runDir: root + "/run")
    let bn = r2.model.batchNormParameterNames()
    let body = Set(r2.model.body.namedParameters().map(\.0))
    var compared = 0
    for (name, p) in r2.model.namedParameters() where body.contains(name) {
      if bn.contains(name) { continue }
      #expect(try p.value.equal(encoder.tensor(name)), "\(name) moved")
      compared += 1
    }
    #expect(compared > 30)
    let movedBN = try r2.model.namedParameters().filter { bn.contains($0.0) && body.contains($0.0) }
      .contains { try !$0.1.value.equal(encoder.tensor($0.0)) }
    #expect(movedBN)  // BatchNorm trains, as fastai's train_bn

    // 3. Discriminative: after the head epoch, the groups train with lrs lr/100 … lr, in one phased fit.
    let w3 = Watch()
    let r3 = try trainScenario(.discriminative, run: 0, data: data, encoder: stage.file(pretext.encoderFile), config, runDir: root + "/run", callbacks: [w3])
    let perEpoch = data.train.count / config.downstream.batch
    let unfrozen = w3.lrs[perEpoch...]
    #expect(!unfrozen.isEmpty && unfrozen.allSatisfy { Swift.abs($0[0] / $0[2] - 0.01) < 1e-9 && $0[0] > 0 })
    #expect(w3.lrs[0][0] == w3.lrs[0][2])  // the head epoch used one lr (only the head trains)
    #expect(r3.result.history.map(\.epoch) == [0, 1])
  }
}

@Suite struct ExperimentTests {
  @Test func experimentWritesItsReport() throws {
    let root = NSTemporaryDirectory() + "pretext-exp-\(UUID().uuidString)"
    try SyntheticImageWang(size: 32, trainPerClass: 2, validPerClass: 1, unsupCount: 30, seed: 2).write(to: root + "/data")
    var config = StudyConfig()
    (config.pretext.size, config.pretext.batch, config.pretext.epochs) = (32, 8, 1)
    (config.downstream.size, config.downstream.batch, config.downstream.epochs, config.downstream.headEpochs, config.downstream.runs) = (32, 8, 2, 1, 2)
    config.widen = 0.125
    var lines: [String] = []
    let data = try ImageWangLayout(root: root + "/data")
    let lock = try RunFolder.start(root + "/run", config: config, manifest: RunManifest(kind: .experiment, dataset: data.root))
    let result = try withExtendedLifetime(lock) { try runExperiment(data: data, config: config, runDir: root + "/run") { lines.append($0) } }
    #expect(result.scenarios.count == 6)  // 3 scenarios × 2 runs
    #expect(Set(result.scenarios.map(\.run)) == [0, 1])
    #expect(result.scenarios.allSatisfy { (0...1).contains($0.finalAccuracy) && $0.history.count == 2 })
    let md = try String(contentsOfFile: root + "/run/report.md", encoding: .utf8)
    #expect(md.contains("| 1. random init, all trained |") && md.contains("discriminative") && md.contains(" ± "))
    let html = try String(contentsOfFile: root + "/run/report.html", encoding: .utf8)
    #expect(html.contains("<svg") && html.contains("<polyline") && html.contains("pretext/inpainting/inpainting.png"))
    let saved = try JSONDecoder().decode(StudyConfig.self, from: Data(contentsOf: URL(fileURLWithPath: root + "/run/config.json")))
    #expect(saved == config)
    for file in ["pretext/inpainting/encoder.safetensors", "pretext/inpainting/unet.safetensors", "pretext/inpainting/inpainting.png",
                 "results.json", "pretext/inpainting/log.csv", "eval/random/1/log.csv", "eval/random/1/model.safetensors", "run.json",
                 "pretext/inpainting/tensorboard", "eval/discriminative/1/tensorboard"] {
      #expect(FileManager.default.fileExists(atPath: root + "/run/" + file), "\(file) missing")
    }
    #expect(lines.first!.hasPrefix("pretext: inpainting on 70 images"))
  }
}
