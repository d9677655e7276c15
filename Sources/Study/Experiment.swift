import Foundation
import ImageData
import Training

/// The whole study: the pretext once, then each scenario `runs` times with different seeds; writes the
/// resolved config, logs, weights, the inpainting grid and the report into `runDir`.
public struct ExperimentResult: Codable, Sendable {
  public let config: StudyConfig
  public let dataset: String
  public let pretextHistory: [EpochRecord]
  public let pretextSeconds: Double
  public let scenarios: [ScenarioResult]
}

public func runExperiment(
  data: ImageWangLayout, config: StudyConfig, runDir: String, log: (String) -> Void = { print($0) },
  callbacks: [Callback] = []
) throws -> ExperimentResult {
  try FileManager.default.createDirectory(atPath: runDir, withIntermediateDirectories: true)
  let encoder = JSONEncoder()
  encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
  try encoder.encode(config).write(to: URL(fileURLWithPath: runDir + "/config.json"), options: .atomic)
  log("pretext: inpainting on \(data.train.count + (data.unsup?.count ?? 0)) images (train/ + unsup/), \(config.pretextEpochs) epochs at \(config.pretextSize) px")
  let pretext = try pretrainInpainting(data, config, runDir: runDir, callbacks: callbacks)
  log(String(format: "pretext done in %.0f s, valid MSE %.4f", pretext.seconds, pretext.history.last?.validLoss ?? .nan))
  var results: [ScenarioResult] = []
  for run in 0..<config.runs {
    for scenario in Scenario.allCases {
      let r = try trainScenario(scenario, run: run, data: data, encoder: pretext.encoderPath, config, runDir: runDir, callbacks: callbacks)
      log(String(format: "%@ run %d: accuracy %.4f (best %.4f) in %.0f s", scenario.rawValue, run + 1, r.result.finalAccuracy,
                 r.result.bestAccuracy, r.result.seconds))
      results.append(r.result)
    }
  }
  let result = ExperimentResult(config: config, dataset: data.root, pretextHistory: pretext.history,
                                pretextSeconds: pretext.seconds, scenarios: results)
  try encoder.encode(result).write(to: URL(fileURLWithPath: runDir + "/results.json"), options: .atomic)
  try Data(Report.markdown(result).utf8).write(to: URL(fileURLWithPath: runDir + "/report.md"), options: .atomic)
  try Data(Report.html(result, gridFile: "inpainting.png").utf8).write(to: URL(fileURLWithPath: runDir + "/report.html"), options: .atomic)
  return result
}
