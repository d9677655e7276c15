// The `pretext` command-line tool. Subcommands so far: `data get|info|synth`.
import ArgumentParser
import Foundation
import ImageData
import Study
import Training

@main
struct Pretext: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Self-supervised pretraining of image models, and what it buys downstream.",
    subcommands: [DataCommand.self, ExperimentCommand.self])
}

/// `pretext experiment`: the pretext once, then each downstream scenario several times; a report.
struct ExperimentCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "experiment",
    abstract: "Inpainting pretext once, then the three downstream scenarios `runs` times each; writes a report.")

  @Option(help: "Settings preset: demo (minutes on 2 CPU cores) or imagewang (the study's protocol, for a GPU).")
  var preset = "demo"
  @Option(help: "An ImageWang-layout dataset folder (default: ImageWang from the cache or the network, else synthetic).")
  var data: String?
  @Option(help: "Where the run folder goes.") var out = "runs"
  @Option(help: "Downstream runs per scenario.") var runs: Int?
  @Option(help: "Downstream epochs.") var epochs: Int?
  @Option(help: "Pretext epochs.") var pretextEpochs: Int?
  @Option(help: "Downstream image size.") var size: Int?
  @Option(help: "Pretext image size.") var pretextSize: Int?
  @Option(help: "xresnet34 width multiplier.") var widen: Double?
  @Option(help: "cpu, cuda or cuda:N.") var device: String?
  @Option(help: "Random seed.") var seed: UInt64?

  func run() throws {
    guard var config = StudyConfig.preset(preset) else { throw ValidationError("unknown preset '\(preset)' (demo, imagewang)") }
    if let runs { config.runs = runs }
    if let epochs { config.epochs = epochs }
    if let pretextEpochs { config.pretextEpochs = pretextEpochs }
    if let size { config.size = size }
    if let pretextSize { config.pretextSize = pretextSize }
    if let widen { config.widen = widen }
    if let device { config.device = device }
    if let seed { config.seed = seed }
    let root = try data ?? defaultDataset()
    let layout = try ImageWangLayout(root: root)
    print(layout.summary().split(separator: "\n").prefix(4).joined(separator: "\n"))
    let report = try scanImages(layout.train.paths + layout.valid.paths + (layout.unsup?.paths ?? []))
    if let warning = report.warning { print(warning) }
    let stamp = ISO8601DateFormatter().string(from: Date()).replacingOccurrences(of: ":", with: "-")
    let runDir = "\(out)/experiment-\(preset)-\(stamp)"
    let start = Date()
    let result = try runExperiment(data: layout, config: config, runDir: runDir, callbacks: [ProgressCallback()])
    print("\n" + Report.markdown(result))
    print(String(format: "experiment took %.0f s; report: %@/report.md and report.html", Date().timeIntervalSince(start), runDir))
  }

  /// ImageWang-160 from the cache, else from the network, else a synthetic ImageWang (said clearly).
  func defaultDataset() throws -> String {
    let cached = DataCache.root + "/imagewang-160"
    if FileManager.default.fileExists(atPath: cached) { return DataCache.datasetFolder(cached, "imagewang-160") }
    do {
      return try DataCache.get(.imagewang160, progress: downloadProgressPrinter(name: "imagewang-160"))
    } catch {
      let synth = DataCache.root + "/synthetic-imagewang-64-v2"
      print("notice: ImageWang is not in the cache and could not be downloaded (\(error)).")
      print("notice: using a SYNTHETIC ImageWang-layout dataset instead: \(synth)")
      if !FileManager.default.fileExists(atPath: synth) {
        try SyntheticImageWang(size: 64, trainPerClass: 20, validPerClass: 10, unsupCount: 500).write(to: synth)
      }
      return synth
    }
  }
}

struct DataCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "data", abstract: "Get, inspect or synthesise datasets.", subcommands: [Get.self, Info.self, Synth.self])

  struct Get: ParsableCommand {
    static let configuration = CommandConfiguration(
      abstract: "Download, verify (MD5) and extract a dataset into the data cache; resumes an interrupted download.")
    @Argument(help: "One of: \(DatasetSource.all.map(\.name).joined(separator: ", ")).")
    var name: String
    @Option(help: "The data cache (default: $PRETEXT_DATA or ~/.cache/pretext/data).")
    var cache: String?

    func run() throws {
      guard let source = DatasetSource.named(name) else {
        throw ValidationError("unknown dataset '\(name)'; known: \(DatasetSource.all.map(\.name).joined(separator: ", "))")
      }
      let folder = try DataCache.get(source, root: cache ?? DataCache.root, progress: downloadProgressPrinter(name: name))
      FileHandle.standardError.write(Data("\n".utf8))
      print(folder)
    }
  }

  struct Info: ParsableCommand {
    static let configuration = CommandConfiguration(
      abstract: "Summarise an ImageWang-layout dataset (counts per split and class) and check every image decodes.")
    @Argument(help: "The dataset folder (train/, val/, unsup/).")
    var root: String
    @Flag(help: "Fail on any undecodable file instead of warning.")
    var strict = false
    @Flag(help: "Skip decoding every file.")
    var noScan = false

    func run() throws {
      let ds = try ImageWangLayout(root: root, requireUnsup: false)
      print(ds.summary())
      if !noScan {
        let report = try scanImages(ds.train.paths + ds.valid.paths + (ds.unsup?.paths ?? []), strict: strict)
        print(report.warning ?? "all \(report.kept.count) images decode")
      }
    }
  }

  struct Synth: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Write a synthetic ImageWang-layout dataset.")
    @Argument(help: "Where to write it (must not exist).")
    var root: String
    @Option(help: "Image side in pixels.") var size = 64
    @Option(help: "Training images per class (20 classes).") var trainPerClass = 12
    @Option(help: "Validation images per class (10 classes).") var validPerClass = 6
    @Option(help: "Unlabelled images.") var unsup = 300
    @Option(help: "Random seed.") var seed: UInt64 = 0

    func run() throws {
      try SyntheticImageWang(size: size, trainPerClass: trainPerClass, validPerClass: validPerClass, unsupCount: unsup, seed: seed)
        .write(to: root)
      print(try ImageWangLayout(root: root).summary())
    }
  }
}
