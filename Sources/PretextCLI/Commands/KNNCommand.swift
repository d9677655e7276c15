// `pretext knn`.
import ArgumentParser
import Foundation
import ImageData
import SelfSupervised
import Study
import Torch
import Training


/// `pretext knn --encoder FILE|random`: the kNN evaluation of an encoder's features (nothing trained).
struct KNNCommand: DataParallelCommand {
  static let configuration = CommandConfiguration(
    commandName: "knn", abstract: "kNN accuracy of an encoder's features on val/ (InstDisc/DINO weighted vote; nothing is trained).")
  @Option(help: "The encoder file (a run's pretext/<task>/encoder.safetensors), or random (random weights, the baseline).") var encoder: String
  @Option(help: "Neighbours that vote.") var k = 20
  @Option(help: "Vote weight exp(similarity / T).") var temperature = 0.07
  @Option(help: "Also write the result as JSON to this file (- for standard output; a FIFO or device, streamed).") var output: String?
  @OptionGroup var options: StudyOptions
  @OptionGroup var launch: LaunchFlags

  func validate() throws {
    guard k >= 1 else { throw ValidationError("--k must be at least 1 (got \(k))") }
    guard temperature > 0, temperature.isFinite else { throw ValidationError("--temperature must be above 0 (got \(temperature))") }
    if encoder != "random" { try validateEncoderFile(encoder, flag: "--encoder") }
    try options.validateTaskFlags(pretextTasks: [])
  }

  func runOnEveryRank() throws {
    let config = try options.config()
    let data = try options.dataset(config)
    let r = try evaluateKNN(data, encoder: encoder == "random" ? nil : encoder, config, k: k, temperature: temperature)
    sayWhere(output, String(format: "kNN (k %d, T %.3g) of %@ on %d val/ images, %d train/ images: accuracy %.4f, among val/ classes %.4f (%.1f s)",
                 r.k, r.temperature, encoder, r.validImages, r.trainImages, r.accuracy, r.accuracyAmongValidClasses, r.seconds))
    if let output, Parallel.isWriter { try OutputFile.write(Array(try RunFolder.json(r)) + [10], to: output) }
  }
}
