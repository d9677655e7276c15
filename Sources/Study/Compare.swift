import Foundation
import ImageData
import SelfSupervised
import Torch
import Training

/// What `pretext compare` runs: every task pretrained `pretextRuns` times (seeds seed + 1000 · k) to the longest
/// length (the encoder saved at each shorter one), then each (task, length) through each protocol `runs` times,
/// run r fine-tuning pretext r mod `pretextRuns`; random init is always a row.
public struct ComparePlan: Codable, Sendable, Equatable {
  /// Pretext task specs (one task, or several at once: `inpainting:1,rotation:0.5`).
  public var tasks: [String]
  /// Pretext lengths in epochs, ascending and distinct.
  public var pretextEpochs: [Int]
  /// Evaluation protocols: fine-tune scenarios (`linear`, `head`, `discriminative`, `full`, `lpft`), the
  /// semi-supervised `joint`, and `knn`.
  public var protocols: [String]
  /// Seeds per (task, length, protocol); kNN of a pretext encoder is deterministic and runs once per pretext.
  public var runs: Int
  /// Pretexts per task, each its own seed: with 1 a row's spread is the downstream seeds' only, while the
  /// pretext's own seed moves results about as much (NOTES.md, issue 18); with `runs` every run is a whole pipeline.
  public var pretextRuns: Int

  public init(tasks: [String], pretextEpochs: [Int], protocols: [String], runs: Int, pretextRuns: Int = 1) {
    (self.tasks, self.pretextEpochs, self.protocols, self.runs) = (tasks, Array(Set(pretextEpochs)).sorted(), protocols, runs)
    self.pretextRuns = pretextRuns
  }

  enum CodingKeys: String, CodingKey { case tasks, pretextEpochs, protocols, runs, pretextRuns }

  /// Folders compared before `pretextRuns` existed ran one pretext per task.
  public init(from decoder: Decoder) throws {
    let c = try decoder.container(keyedBy: CodingKeys.self)
    self.init(tasks: try c.decode([String].self, forKey: .tasks), pretextEpochs: try c.decode([Int].self, forKey: .pretextEpochs),
              protocols: try c.decode([String].self, forKey: .protocols), runs: try c.decode(Int.self, forKey: .runs),
              pretextRuns: try c.decodeIfPresent(Int.self, forKey: .pretextRuns) ?? 1)
  }

  /// Every fine-tune scenario that starts from an encoder, and kNN.
  public static let protocolNames = Scenario.allCases.filter { $0 != .random }.map(\.rawValue) + ["knn"]

  /// The demo (issue 37): random init, self-training from it (the unlabelled images used while the classifier trains),
  /// and one pretrain-then-fine-tune row, the best CPU-budget task found (NOTES.md, "the comparison"); 3 runs each.
  public static let demo = ComparePlan(tasks: ["colorization"], pretextEpochs: [6], protocols: ["full", "selftrain"], runs: 3)

  public func validate() throws {
    // Without a pretext task a comparison is random init against the semi-supervised rows (`--tasks none`).
    guard !tasks.isEmpty || protocols.contains(where: { Scenario(rawValue: $0)?.isSemiSupervised == true }) else {
      throw StudyConfig.ConfigError("--tasks: name at least one pretext task (`pretext tasks` lists them), or none with a semi-supervised protocol (joint, selftrain)")
    }
    guard Set(tasks).count == tasks.count else { throw StudyConfig.ConfigError("--tasks names a task twice") }
    for t in tasks {
      do { _ = try PretextTasks.parse(t) } catch let e as PretextTasks.SpecError { throw StudyConfig.ConfigError("--tasks \(t): \(e.description)") }
    }
    guard !pretextEpochs.isEmpty, pretextEpochs.allSatisfy({ (1...100_000).contains($0) }) else {
      throw StudyConfig.ConfigError("--pretext-epochs must be one or more lengths between 1 and 100000, e.g. 2,5,10")
    }
    guard !protocols.isEmpty, Set(protocols).count == protocols.count else {
      throw StudyConfig.ConfigError("--protocols: name each protocol once (\(Self.protocolNames.joined(separator: ", ")); random init is always a row)")
    }
    for p in protocols where !Self.protocolNames.contains(p) {
      throw StudyConfig.ConfigError("--protocols: '\(p)' is not a protocol (\(Self.protocolNames.joined(separator: ", ")); random init is always a row)")
    }
    guard (1...1000).contains(runs) else { throw StudyConfig.ConfigError("--runs must be between 1 and 1000 (got \(runs))") }
    guard (1...runs).contains(pretextRuns) else {
      throw StudyConfig.ConfigError("--pretext-runs must be between 1 and --runs (\(runs)): run r fine-tunes pretext r mod N (got \(pretextRuns))")
    }
  }
}

/// A finished comparison: every run as a row, the pretexts' costs and curves, the leaderboard.
public struct CompareResult: Codable, Sendable {
  public let config: StudyConfig
  public let plan: ComparePlan
  public let dataset: String
  public let rows: [ResultRow]
  public let pretexts: [PretextSummary]
  public let leaderboard: [LeaderboardRow]
  /// Where the downstream stages validated: val/, or a tuning split of train/ (val/ unread).
  public let validation: String
  /// What of val/ the pretext read: nothing, or its images (no labels) for its validation loss and picture.
  public let pretextSawValid: Bool
  public let labelledImages: Int
  public let validImages: Int
  /// The classes of the downstream training and validation images (nil in results from before they were
  /// recorded, all ImageWang's: 20 and 10).
  public var trainClasses: Int? = nil
  public var validClasses: Int? = nil
}

/// One pretext of a comparison: its task, length, cost and curves, and where its files are.
public struct PretextSummary: Codable, Sendable {
  public let task: String
  public let folder: String
  public let pictureFile: String
  public let history: [EpochRecord]
  public let trainingItems: Int
}

/// The base settings of a comparison folder: the config without what the plan sets (task, length, runs) or what
/// changes no result (`withoutBookkeeping`).
func comparable(_ c: StudyConfig) -> StudyConfig {
  var c = c.withoutBookkeeping()
  (c.pretext.task, c.pretext.epochs, c.downstream.runs) = ("", 0, 0)
  return c
}

/// The config of one (task, length) of a comparison.
func configFor(_ base: StudyConfig, task: String, epochs: Int) -> StudyConfig {
  var c = base
  (c.pretext.task, c.pretext.epochs) = (task, epochs)
  return c
}

/// Runs the plan in `runDir` (started or opened by the caller, holding its lock). Every stage whose result file
/// exists is read back, not rerun; an unfinished one continues from its checkpoint. Writes `compare.json`,
/// `results.json`, `leaderboard.csv`, `report.md` and `report.html`. Data-parallel (`Parallel.group`), every rank
/// runs the same stages in the same order (each stage's pretext or fine-tune on its part of every batch, kNN on
/// its part of the images) and rank 0 alone writes; all ranks read the same folder (a shared file system), and a
/// stage's result file appears only after the barrier that ends it, so every rank decides alike what to reuse.
public func runCompare(data: ImageWangLayout, config base: StudyConfig, plan: ComparePlan, runDir: String,
                       log: (String) -> Void = { print($0) }, callbacks: [Callback] = []) throws -> CompareResult {
  try plan.validate()
  // Every task of the plan is checked before anything trains (the config's checks see its first task only).
  try refuseColourTasks(plan.tasks, flag: "--tasks", channels: base.data.channels)
  if Parallel.isWriter { try RunFolder.write(plan, to: runDir + "/compare.json") }
  let data = base.select(data)
  let longest = plan.pretextEpochs.last!
  var rows: [ResultRow] = [], pretexts: [PretextSummary] = [], pretextSeconds: [String: Double] = [:], imagesSeen: [String: Int] = [:]
  func stageNote(_ stage: Stage) -> String { FileManager.default.fileExists(atPath: stage.result) ? "reused" : "running" }
  func fineTune(_ scenario: Scenario, task: String, epochs: Int, encoder: String?, source: String, runs: [Int]) throws {
    for run in runs {
      let stage = Stage(runDir + "/eval/\(source)/\(scenario.rawValue)/\(run)")
      log("\(source) \(scenario.rawValue) run \(run + 1): \(stageNote(stage))")
      let r = try trainScenario(scenario, run: run, data: data, encoder: encoder, configFor(base, task: task, epochs: epochs),
                                runDir: runDir, resume: true, callbacks: callbacks, stage: stage)
      rows.append(ResultRow(task: task, pretextEpochs: epochs, protocol: scenario.rawValue, run: run, finalAccuracy: r.result.finalAccuracy,
                            bestAccuracy: r.result.bestAccuracy, finalAccuracyAmongValidClasses: r.result.finalAccuracyAmongValidClasses,
                            epochs: r.result.history.count, seconds: r.result.seconds, steps: r.result.steps,
                            labelledImagesSeen: r.result.labelledImagesSeen, unlabelledImagesSeen: r.result.unlabelledImagesSeen))
    }
  }
  func knn(task: String, epochs: Int, encoder: String?, source: String, runs: [Int]) throws {
    for run in runs {
      let stage = Stage(runDir + "/eval/\(source)/knn/\(run)")
      log("\(source) knn run \(run + 1): \(stageNote(stage))")
      var c = configFor(base, task: task, epochs: epochs)
      c.runtime.seed = base.runtime.seed &+ UInt64(run) &* 1000  // random weights: each run its own draw, as the fine-tunes' seeds
      let r: KNNResult, fingerprint = try c.fingerprint(stage: "knn run \(run)")
      if let done = try RunFolder.readResult(KNNResult.self, from: stage.result, stage: fingerprint) { r = done } else {
        r = try evaluateKNN(data, encoder: encoder, c, k: c.downstream.knnK, temperature: c.downstream.knnTemperature)
        if Parallel.isWriter {
          try RunFolder.makeFolders(stage.dir)
          try RunFolder.writeResult(r, to: stage.result, stage: fingerprint)
        }
        try Parallel.barrier()
      }
      rows.append(ResultRow(task: task, pretextEpochs: epochs, protocol: "knn", run: run, finalAccuracy: r.accuracy,
                            bestAccuracy: r.accuracy, finalAccuracyAmongValidClasses: r.accuracyAmongValidClasses, epochs: 0,
                            seconds: r.seconds))
    }
  }

  // Random init: the whole network trained, the baseline of every delta; kNN on random weights when kNN is asked.
  let allRuns = Array(0..<plan.runs)
  try fineTune(.random, task: "random", epochs: 0, encoder: nil, source: "random", runs: allRuns)
  // The protocols that read a frozen encoder get a random-weights row of their own: what the probe finds in features
  // no pretext shaped is their baseline (the report compares their rows with it).
  if plan.protocols.contains("knn") { try knn(task: "random", epochs: 0, encoder: nil, source: "random", runs: allRuns) }
  // So do the protocols that also train from random weights: a linear probe, and `joint` (whose random-init row is
  // the semi-supervised answer: the unlabelled images used while the classifier trains, no pretext before).
  for p in plan.protocols.compactMap(Scenario.init(rawValue:)) where p.runsWithoutEncoder && p != .random {
    try fineTune(p, task: "random", epochs: 0, encoder: nil, source: "random", runs: allRuns)
  }
  // Self-training's run r: random init's classifier of run r is the teacher.
  if plan.protocols.contains(Scenario.selftrain.rawValue) {
    for run in allRuns {
      try fineTune(.selftrain, task: "random", epochs: 0, encoder: runDir + "/eval/random/random/\(run)/model.safetensors", source: "random", runs: [run])
    }
  }

  for task in plan.tasks { for k in 0..<plan.pretextRuns {
    let config = configFor(base, task: task, epochs: longest), seed = base.runtime.seed &+ UInt64(k) &* 1000
    // Pretext 0 keeps the folder names of one-pretext comparisons, so such a folder extends to more pretexts.
    let suffix = k == 0 ? "" : "-p\(k)", runs = allRuns.filter { $0 % plan.pretextRuns == k }
    let stage = Stage(runDir + "/pretext/\(config.taskFolder)-\(longest)ep\(suffix)")
    log("pretext \(task)\(plan.pretextRuns > 1 ? " \(k + 1) of \(plan.pretextRuns) (seed \(seed))" : ""), \(longest) epochs (encoder kept after \(plan.pretextEpochs.map(String.init).joined(separator: ", "))): \(stageNote(stage))")
    let (pretext, _) = try runPretext(data, config, runDir: runDir, resume: true, callbacks: callbacks, stage: stage,
                                      snapshots: plan.pretextEpochs, pretextSeed: seed)
    let folder = String(stage.dir.dropFirst(runDir.count + 1))
    pretexts.append(PretextSummary(task: task, folder: folder, pictureFile: folder + "/" + pretext.pictureFile, history: pretext.history,
                                   trainingItems: pretext.trainingItems))
    for epochs in plan.pretextEpochs {
      guard let file = pretext.encoder(afterEpochs: epochs) else {
        throw FileError(path: stage.dir, "this pretext was trained without an encoder snapshot after \(epochs) epochs: compare into a new run folder to have one")
      }
      let encoder = stage.file(file), source = "\(config.taskFolder)-\(epochs)ep\(suffix)"
      // The cost of one pretext: the mean over the task's pretexts.
      pretextSeconds["\(task)/\(epochs)", default: 0] += pretext.seconds(upTo: epochs) / Double(plan.pretextRuns)
      imagesSeen["\(task)/\(epochs)"] = pretext.trainingItems / base.pretext.batch * base.pretext.batch * epochs
      for p in plan.protocols where p != Scenario.selftrain.rawValue {  // a student starts from random weights: no pretext row
        if p == "knn" { try knn(task: task, epochs: epochs, encoder: encoder, source: source, runs: [k]); continue }
        try fineTune(Scenario(rawValue: p)!, task: task, epochs: epochs, encoder: encoder, source: source, runs: runs)
      }
    }
  } }

  let downstream = base.downstreamData(data)
  let board = Leaderboard.rows(rows, pretextSeconds: { pretextSeconds["\($0)/\($1)"] ?? 0 }, imagesSeen: { imagesSeen["\($0)/\($1)"] ?? 0 },
                               labelledImages: downstream.train.count)
  let result = CompareResult(
    config: base, plan: plan, dataset: data.root, rows: rows, pretexts: pretexts, leaderboard: board,
    validation: base.data.tuningSplit > 0 ? "a tuning split: \(downstream.valid.count) images held out of train/ (val/ not read)" : "val/ (\(downstream.valid.count) images)",
    pretextSawValid: base.data.tuningSplit == 0, labelledImages: downstream.train.count, validImages: downstream.valid.count,
    trainClasses: downstream.train.classes.count, validClasses: downstream.validClasses.count)
  if Parallel.isWriter {
    try RunFolder.write(result, to: runDir + "/results.json")
    try RunFolder.write(text: Leaderboard.csv(board), to: runDir + "/leaderboard.csv")
    try RunFolder.write(text: CompareReport.markdown(result), to: runDir + "/report.md")
    try RunFolder.write(text: CompareReport.html(result), to: runDir + "/report.html")
  }
  return result
}

/// Opens (or starts) the comparison folder `runDir` for `config`: a folder made with other base settings is
/// refused, naming them, since its finished stages would not be comparable with new ones. With `--precision auto`
/// the folder's record of what auto resolved to is adopted (`config` is updated): its stages trained in that.
public func openCompareFolder(_ runDir: String, config: inout StudyConfig, dataset: String) throws -> RunLock? {
  guard FileManager.default.fileExists(atPath: runDir + "/run.json") else {
    return try RunFolder.start(runDir, config: config, manifest: RunManifest(kind: .compare, dataset: dataset))
  }
  let (old, manifest, lock) = try RunFolder.open(runDir)
  if config.runtime.precision == .auto && old.runtime.precision == .auto { config.runtime.autoPrecision = old.runtime.autoPrecision }
  // Its stages were sealed with the run count it started with: kept, so a rerun with more runs (the plan's count) reuses
  // them and trains only the new runs.
  config.downstream.runs = old.downstream.runs
  guard manifest.kind == .compare else { throw FileError(path: runDir, "holds a \(manifest.kind.rawValue) run, not a comparison") }
  guard URL(fileURLWithPath: manifest.dataset).standardizedFileURL.path == URL(fileURLWithPath: dataset).standardizedFileURL.path else {
    throw FileError(path: runDir, "compares on \(manifest.dataset), not \(dataset): use a new run folder")
  }
  let (a, b) = (comparable(old), comparable(config))
  guard a == b else {
    let differing = try differences(a, b)
    throw FileError(path: runDir, "was started with other settings (\(differing.joined(separator: ", "))): its finished stages would not compare with new ones; use a new run folder")
  }
  return lock
}

/// The config fields whose values differ, by their JSON names.
func differences(_ a: StudyConfig, _ b: StudyConfig) throws -> [String] {
  func fields(_ c: StudyConfig) throws -> [String: String] {
    let object = try JSONSerialization.jsonObject(with: try RunFolder.encoder().encode(c)) as? [String: Any] ?? [:]
    // Each value as sorted-key JSON: a nested object's description lists its keys in no fixed order, and two
    // equal layouts could print differently and be reported as changed.
    return try object.mapValues {
      String(decoding: try JSONSerialization.data(withJSONObject: $0, options: [.sortedKeys, .fragmentsAllowed]), as: UTF8.self)
    }
  }
  let (x, y) = (try fields(a), try fields(b))
  return Set(x.keys).union(y.keys).sorted().filter { x[$0] != y[$0] }.map { "\($0): \(x[$0] ?? "none") → \(y[$0] ?? "none")" }
}
