// A task's tests beside the task, through `fit(task:data:)`: no study, no run folder. (The study's end-to-end
// task tests are in StudyTests/TaskZooTests.swift.)
import Foundation
import Testing
@testable import ImageData
@testable import NN
@testable import SelfSupervised
@testable import Torch
@testable import Training

@Suite struct RotationTaskTests {
  /// Landscapes: a sky bright at the top and a dark blob near the bottom, in random tints (synthetic shapes look the
  /// same under quarter turns; these do not).
  static func landscapes(_ folder: String, count: Int, seed: UInt64) throws -> [String] {
    try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
    var rng = SplitMix64(seed: seed)
    return try (0..<count).map { i in
      let tint = (0..<3).map { _ in Double.random(in: 0.3...1, using: &rng) }, bx = Int.random(in: 4..<28, using: &rng)
      var px: [UInt8] = []
      for y in 0..<32 { for x in 0..<32 {
        let sky = 1 - Double(y) / 40, blob = (x - bx) * (x - bx) + (y - 26) * (y - 26) < 16 ? 0.2 : 1
        for c in tint { px.append(UInt8(Swift.max(0, Swift.min(255, 255 * sky * c * blob + Double.random(in: -20...20, using: &rng))))) }
      } }
      let path = "\(folder)/\(i).jpg"
      FileManager.default.createFile(atPath: path, contents: Data(try ImageCodec.encodeJPEG(px, width: 32, height: 32)))
      return path
    }
  }

  /// Rotation alone, through `fit`: its loader gives each image its quarter turns as the label and no class label,
  /// its loss falls, its angle accuracy on held-out landscapes is well above chance's 0.25, and its encoder loads
  /// into the classifier.
  @Test func rotationLearnsAndItsEncoderLoads() throws {
    let root = NSTemporaryDirectory() + "pretext-rotation-\(UUID().uuidString)"
    defer { try? FileManager.default.removeItem(atPath: root) }
    let (train, valid) = (try Self.landscapes(root + "/train", count: 256, seed: 11), try Self.landscapes(root + "/valid", count: 64, seed: 12))
    let task = try Init.withGenerator(Generator(seed: 1)) { try RotationTask(TaskSettings(size: 32, widen: 0.25)) }
    let first = try #require(try ImageLoader(paths: train, pipeline: task.pipeline(training: true), batchSize: 4, shuffle: true).pass(epoch: 0).next())
    #expect(Set(first.keys) == ["image", "rotation"])
    let history = try fit(task: task, data: train, validation: valid, epochs: 6, batch: 32, workers: 2)
    #expect(history.count == 6 && history.last!.trainLoss < history.first!.trainLoss, "\(history.map(\.trainLoss))")
    #expect(history.last!.metrics["accuracy"]! > 0.5, "\(history.map { $0.metrics["accuracy"] ?? .nan })")
    let classifier = try XResNet(.resnet34, classes: 20, widen: 0.25)
    try EncoderTransfer.loadBody(task.encoderState(), into: classifier)
  }
}
