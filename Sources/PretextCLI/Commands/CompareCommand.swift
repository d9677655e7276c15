// `pretext compare`.
import ArgumentParser
import Foundation
import ImageData
import SelfSupervised
import Study
import Torch
import Training


/// `pretext compare`: tasks × pretext lengths × protocols × runs, random init always a row; a leaderboard and a report.
struct CompareCommand: DataParallelCommand {
  static let configuration = CommandConfiguration(
    commandName: "compare",
    abstract: "Compare pretext tasks, lengths and protocols against random init: leaderboard.csv, report.md and report.html.",
    discussion: """
      Each task is pretrained once to the longest --pretext-epochs, its encoder saved at each length; each (task, length) is \
      evaluated by each protocol --runs times (seeds seed + 1000 · run, the same for random init); --pretext-runs N \
      pretrains each task N times. Every stage is kept: \
      `--run DIR` again (with more tasks, protocols or runs) runs only what that folder lacks, and `pretext resume DIR` \
      finishes an interrupted one.
      """)
  @Option(parsing: .upToNextOption, help: "Pretext tasks (specs as --task; several at once: inpainting:1,rotation:0.5), or none (random init and the semi-supervised rows alone).") var tasks: [String] = []
  @Option(parsing: .upToNextOption, help: "Protocols: linear, head, discriminative, full, lpft (head first, then all at one lr), joint (semi-supervised: an auxiliary pretext task on unlabelled images while the classifier trains; also a row from random init), selftrain (semi-supervised: run r's random-init classifier labels the unlabelled images, a student trains on both; a row from random init only), knn (random init is always a row).") var protocols: [String] = []
  @Option(name: .customLong("run"), help: "The comparison folder to start or extend (default: a new one under --out).") var runFolder: String?
  @Option(help: "Pretexts per task, each its own seed (seed + 1000 · k); downstream run r fine-tunes pretext r mod N, so with N = --runs every run is a whole pipeline and a row's spread includes the pretext's (default 1).") var pretextRuns: Int?
  @OptionGroup var options: StudyOptions
  @OptionGroup var launch: LaunchFlags

  /// The plan: the flags, else the demo's plan (the demo preset) or all tasks' defaults. With `--channels 1` (or
  /// `allGray` data) the preset's colour tasks are left out (`presetTasksLeftOut` says which).
  func plan(allGray: Bool = false) throws -> ComparePlan {
    let config = try options.config(severalLengths: true)
    let preset = options.preset == "demo" ? ComparePlan.demo : nil
    var presetTasks = preset?.tasks
    if let all = presetTasks, config.data.channels == 1 || allGray {
      let colour = try colourTasks(all)
      presetTasks = all.filter { !colour.contains($0) }
    }
    return ComparePlan(
      tasks: tasks == ["none"] ? [] : tasks.isEmpty ? presetTasks ?? [config.pretext.task] : tasks,
      pretextEpochs: try options.pretextLengths() ?? preset?.pretextEpochs ?? [config.pretext.epochs],
      protocols: protocols.isEmpty ? preset?.protocols ?? ["knn", "linear", "discriminative"] : protocols,
      runs: options.runs ?? preset?.runs ?? config.downstream.runs, pretextRuns: pretextRuns ?? preset?.pretextRuns ?? 1)
  }

  func validate() throws {
    let plan = try plan()
    do { try plan.validate() } catch let e as StudyConfig.ConfigError { throw ValidationError(e.message) }
    try options.validate(protocols: plan.protocols.compactMap(Scenario.init(rawValue:)))
    try options.validateTaskFlags(pretextTasks: plan.tasks, protocols: plan.protocols.compactMap(Scenario.init(rawValue:)))
    do { try refuseColourTasks(plan.tasks, flag: "--tasks", channels: options.config(severalLengths: true).data.channels) }
    catch let e as StudyConfig.ConfigError { throw ValidationError(e.message) }
  }

  /// The preset's tasks this data or `--channels 1` leaves out (colour tasks), said once.
  func presetTasksLeftOut(allGray: Bool) throws -> [String] {
    guard tasks.isEmpty, options.preset == "demo" else { return [] }
    let kept = try plan(allGray: allGray).tasks
    return ComparePlan.demo.tasks.filter { !kept.contains($0) }
  }

  func runOnEveryRank() throws {
    var plan = try plan()
    var config = try options.config(severalLengths: true)
    // The images are scanned before the plan's first task becomes the config's: the preset's colour task on gray images
    // is left out below (with a notice), not refused by the scan.
    let (layout, allGray) = try options.scannedDataset(config)
    // `--tasks none` (random init and the semi-supervised rows): the config keeps its task, which nothing trains.
    (config.pretext.task, config.pretext.epochs, config.downstream.runs) = (plan.tasks.first ?? config.pretext.task, plan.pretextEpochs.last!, plan.runs)
    say(layout.summary().split(separator: "\n").prefix(4).joined(separator: "\n"))
    // Colour tasks on gray images: the preset's are left out, with a notice; ones named in --tasks are refused.
    if allGray {
      try refuseColourTasks(tasks, flag: "--tasks", channels: config.data.channels, grayData: layout.root)
      plan = try self.plan(allGray: true)
      // No task left (the demo's only task was a colour task): the config's task is one that reads gray, never trained.
      config.pretext.task = plan.tasks.first ?? StudyConfig().pretext.task
    }
    let leftOut = try presetTasksLeftOut(allGray: allGray)
    if !leftOut.isEmpty {
      say("notice: \(leftOut.joined(separator: ", ")) left out of the \(options.preset) preset's tasks: \(config.data.channels == 1 ? "--channels 1" : "every image is gray"), and \(leftOut.count == 1 ? "it needs" : "they need") colour images")
    }
    let start = Date()
    var (dir, lock): (String, RunLock?) = ("", nil)
    if let runFolder {
      // Data-parallel, rank 0 opens (and locks) the folder; the others start once it has (the broadcast below).
      try validateOutputFolder(runFolder, flag: "--run")
      dir = URL(fileURLWithPath: runFolder).standardizedFileURL.path
      // The folder's record of what `auto` resolved to (or none, from before the record) goes to every rank.
      let measured = config.runtime.autoPrecision
      // So does the run count its stages were sealed with.
      let recorded = try Parallel.fromRankZero("open --run \(dir)") {
        lock = try openCompareFolder(dir, config: &config, dataset: layout.root)
        return "\(config.downstream.runs) \(config.runtime.autoPrecision?.rawValue ?? "")"
      }.split(separator: " ", omittingEmptySubsequences: false).map(String.init)
      guard recorded.count == 2, let runs = Int(recorded[0]) else { throw ValidationError("rank 0 opened --run \(dir) and sent '\(recorded)'") }
      (config.downstream.runs, config.runtime.autoPrecision) = (runs, Precision(rawValue: recorded[1]))
      if let measured, let adopted = config.runtime.autoPrecision, adopted != measured {
        say("precision: auto → \(adopted.rawValue) after all, as \(dir) recorded when it started (its stages trained so)")
      }
    } else {
      (dir, lock) = try options.startSharedRun("compare", config, RunManifest(kind: .compare, dataset: layout.root))
    }
    let result = try withExtendedLifetime(lock) {
      try runCompare(data: layout, config: config, plan: plan, runDir: dir, log: { if Parallel.isWriter { say($0) } },
                     callbacks: Parallel.writers([ProgressCallback()]))
    }
    say("\n" + CompareReport.markdown(result))
    say(String(format: "comparison took %.0f s; %@/leaderboard.csv, report.md and report.html", Date().timeIntervalSince(start), dir))
  }
}
