import Foundation
import ImageData
import SelfSupervised
import Torch
import Training

/// One result row (long format): which pretext, how long, which protocol, which run, and what it reached.
public struct ResultRow: Codable, Sendable, Equatable {
  /// The pretext task, or "random" for a network that never saw one.
  public let task: String
  public let pretextEpochs: Int
  public let `protocol`: String
  public let run: Int
  public let finalAccuracy: Double
  public let bestAccuracy: Double
  public let finalAccuracyAmongValidClasses: Double
  public let epochs: Int
  public let seconds: Double
  /// Optimizer steps and the labelled and unlabelled images they read (nil: not recorded, or kNN, which trains nothing).
  public var steps: Int? = nil
  public var labelledImagesSeen: Int? = nil
  public var unlabelledImagesSeen: Int? = nil
}

/// The whole study: the pretext once, then each protocol `runs` times with different seeds; writes the
/// resolved config, logs, weights, the task's picture and the report into `runDir`.
public struct ExperimentResult: Codable, Sendable {
  public let config: StudyConfig
  public let dataset: String
  public let pretextHistory: [EpochRecord]
  public let pretextSeconds: Double
  public let scenarios: [ScenarioResult]
  /// The pretext's picture, relative to the run folder.
  public let pictureFile: String

  /// Every downstream run as a row.
  public var rows: [ResultRow] {
    scenarios.map { s in
      ResultRow(task: s.scenario == .random ? "random" : config.pretext.task, pretextEpochs: s.scenario == .random ? 0 : config.pretext.epochs,
                protocol: s.scenario.rawValue, run: s.run, finalAccuracy: s.finalAccuracy, bestAccuracy: s.bestAccuracy,
                finalAccuracyAmongValidClasses: s.finalAccuracyAmongValidClasses, epochs: s.history.count, seconds: s.seconds)
    }
  }
}

/// `data` is what `loadStudyData` returned; `runDir` was started by the caller (`RunFolder.create` or
/// `start`, which hold its lock). With `resume`, finished stages are read back, the unfinished one continues
/// from its checkpoint, the rest run.
public func runExperiment(
  data: ImageWangLayout, config: StudyConfig, runDir: String, resume: Bool = false, log: (String) -> Void = { print($0) },
  callbacks: [Callback] = []
) throws -> ExperimentResult {
  let data = config.select(data)
  log("pretext: \(config.pretext.task) on \(data.train.count + (data.unsup?.count ?? 0)) images (train/ + unsup/), \(config.pretext.epochs) epochs at \(config.pretext.size) px")
  let (pretext, stage) = try runPretext(data, config, runDir: runDir, resume: resume, callbacks: callbacks)
  log(String(format: "pretext done in %.0f s, valid loss %.4f", pretext.seconds, pretext.history.last?.validLoss ?? .nan))
  var results: [ScenarioResult] = []
  for run in 0..<config.downstream.runs {
    for scenario in Scenario.study {
      let r = try trainScenario(scenario, run: run, data: data, encoder: stage.file(pretext.encoderFile), config, runDir: runDir,
                                resume: resume, callbacks: callbacks)
      log(String(format: "%@ run %d: accuracy %.4f (best %.4f) in %.0f s", scenario.rawValue, run + 1, r.result.finalAccuracy,
                 r.result.bestAccuracy, r.result.seconds))
      results.append(r.result)
    }
  }
  let picture = String(stage.file(pretext.pictureFile).dropFirst(runDir.count + 1))
  let result = ExperimentResult(config: config, dataset: data.root, pretextHistory: pretext.history,
                                pretextSeconds: pretext.seconds, scenarios: results, pictureFile: picture)
  if Parallel.isWriter {
    try RunFolder.write(result, to: runDir + "/results.json")
    try RunFolder.write(text: Report.markdown(result), to: runDir + "/report.md")
    try RunFolder.write(text: Report.html(result), to: runDir + "/report.html")
  }
  return result
}

/// Continues the run in `runDir` (an experiment, a pretext or a fine-tune, as its run.json says) on the
/// dataset it was started on, holding the run folder's lock throughout.
public func resumeRun(_ runDir: String, log: (String) -> Void = { print($0) }, callbacks: [Callback] = []) throws {
  let (config, manifest, lock) = try RunFolder.open(runDir)
  defer { withExtendedLifetime(lock) {} }
  let data = try loadStudyData(root: manifest.dataset, config: config, log: log)
  switch manifest.kind {
  case .experiment:
    let r = try runExperiment(data: data, config: config, runDir: runDir, resume: true, log: log, callbacks: callbacks)
    log("\n" + Report.markdown(r))
  case .pretrain:
    let (r, stage) = try runPretext(data, config, runDir: runDir, resume: true, callbacks: callbacks)
    log("encoder: \(stage.file(r.encoderFile))\npicture: \(stage.file(r.pictureFile))")
  case .compare:
    guard let plan = try RunFolder.read(ComparePlan.self, from: runDir + "/compare.json") else {
      throw FileError(path: runDir, "a comparison folder without its compare.json")
    }
    let r = try runCompare(data: data, config: config, plan: plan, runDir: runDir, log: log, callbacks: callbacks)
    log("\n" + CompareReport.markdown(r))
  case .finetune:
    guard let scenario = manifest.scenario else { throw FileError(path: runDir + "/run.json", "a finetune run without its protocol") }
    let r = try trainScenario(scenario, run: 0, data: data, encoder: manifest.encoder, config, runDir: runDir, resume: true,
                              callbacks: callbacks)
    log(String(format: "final accuracy %.4f, best %.4f", r.result.finalAccuracy, r.result.bestAccuracy))
  }
}
