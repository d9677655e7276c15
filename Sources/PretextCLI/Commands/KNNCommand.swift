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
  // The older spellings of --knn-k and --knn-temperature (the Downstream group's), kept for scripts.
  @Option(help: ArgumentHelp("The older spelling of --knn-k.", visibility: .hidden)) var k: Int?
  @Option(help: ArgumentHelp("The older spelling of --knn-temperature.", visibility: .hidden)) var temperature: Double?
  @Option(help: "Also write the result as JSON to this file (- for standard output; a FIFO or device, streamed).") var output: String?
  @OptionGroup var options: StudyOptions
  @OptionGroup var launch: LaunchFlags

  /// The settings, with the older spellings applied.
  func config() throws -> StudyConfig {
    var c = try options.config()
    if let k { c.downstream.knnK = k }
    if let temperature { c.downstream.knnTemperature = temperature }
    return c
  }

  func validate() throws {
    if let k, options.downstream.knnK != nil { throw ValidationError("--k is the older spelling of --knn-k (got both: \(k) and \(options.downstream.knnK!))") }
    if let temperature, options.downstream.knnTemperature != nil {
      throw ValidationError("--temperature is the older spelling of --knn-temperature (got both: \(temperature) and \(options.downstream.knnTemperature!))")
    }
    do { try config().validate() } catch let e as StudyConfig.ConfigError { throw ValidationError(e.message) }
    if encoder != "random" { try validateEncoderFile(encoder, flag: "--encoder") }
    try options.validateTaskFlags(pretextTasks: [])
  }

  func runOnEveryRank() throws {
    let config = try config()
    let data = try options.dataset(config)
    let r = try evaluateKNN(data, encoder: encoder == "random" ? nil : encoder, config, k: config.downstream.knnK,
                            temperature: config.downstream.knnTemperature)
    sayWhere(output, String(format: "kNN (k %d, T %.3g) of %@ on %d val/ images, %d train/ images: accuracy %.4f, among val/ classes %.4f (%.1f s)",
                 r.k, r.temperature, encoder, r.validImages, r.trainImages, r.accuracy, r.accuracyAmongValidClasses, r.seconds))
    if let output, Parallel.isWriter { try OutputFile.write(Array(try RunFolder.json(r)) + [10], to: output) }
  }
}
