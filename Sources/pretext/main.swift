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
    subcommands: [DataCommand.self, ExperimentCommand.self, PretrainCommand.self, FinetuneCommand.self, ShowCommand.self])
}

/// Settings shared by the commands that train: a preset, then flags overriding it.
struct StudyOptions: ParsableArguments {
  @Option(help: "Settings preset: demo (minutes on 2 CPU cores) or imagewang (the study's protocol, for a GPU).")
  var preset = "demo"
  @Option(help: "An ImageWang-layout dataset folder (default: ImageWang from the cache or the network, else synthetic).")
  var data: String?
  @Option(help: "Where run folders go.") var out = "runs"
  @Option(help: "Downstream runs per scenario.") var runs: Int?
  @Option(help: "Downstream epochs.") var epochs: Int?
  @Option(help: "Pretext epochs.") var pretextEpochs: Int?
  @Option(help: "Downstream image size.") var size: Int?
  @Option(help: "Pretext image size.") var pretextSize: Int?
  @Option(help: "xresnet34 width multiplier.") var widen: Double?
  @Option(help: "Learning rate (downstream; the pretext's with `pretrain`).") var lr: Double?
  @Option(help: "cpu, cuda or cuda:N.") var device: String?
  @Option(help: "Random seed.") var seed: UInt64?

  func config() throws -> StudyConfig {
    guard var c = StudyConfig.preset(preset) else { throw ValidationError("unknown preset '\(preset)' (demo, imagewang)") }
    if let runs { c.runs = runs }
    if let epochs { c.epochs = epochs }
    if let pretextEpochs { c.pretextEpochs = pretextEpochs }
    if let size { c.size = size }
    if let pretextSize { c.pretextSize = pretextSize }
    if let widen { c.widen = widen }
    if let lr { (c.lr, c.pretextLR) = (lr, lr) }
    if let device { c.device = device }
    if let seed { c.seed = seed }
    return c
  }

  func dataset() throws -> ImageWangLayout {
    let layout = try ImageWangLayout(root: try data ?? defaultDataset())
    let report = try scanImages(layout.train.paths + layout.valid.paths + (layout.unsup?.paths ?? []))
    if let warning = report.warning { print(warning) }
    return layout
  }

  func runDir(_ kind: String) -> String {
    "\(out)/\(kind)-\(preset)-" + ISO8601DateFormatter().string(from: Date()).replacingOccurrences(of: ":", with: "-")
  }
}

/// `pretext pretrain inpainting`: the pretext task alone.
struct PretrainCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "pretrain", abstract: "Train a pretext task and save its encoder.")
  @Argument(help: "The pretext task (inpainting).") var task: String
  @OptionGroup var options: StudyOptions

  func run() throws {
    guard task == "inpainting" else { throw ValidationError("unknown pretext task '\(task)' (inpainting)") }
    let dir = options.runDir("pretrain")
    let config = try options.config()
    try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    try JSONEncoder().encode(config).write(to: URL(fileURLWithPath: dir + "/config.json"), options: .atomic)
    let r = try pretrainInpainting(options.dataset(), config, runDir: dir, callbacks: [ProgressCallback()])
    print("encoder: \(r.encoderPath)\nsample grid: \(r.gridPath)")
  }
}

/// `pretext finetune --init random|FILE --mode full|head|discriminative`: one downstream training.
struct FinetuneCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "finetune", abstract: "Train the classifier from random init or a saved encoder.")
  @Option(help: "random, or an encoder file (safetensors with classifier keys).") var initFrom = "random"
  @Option(help: "full (all trained), head (body frozen) or discriminative (head first, then lr/100…lr).") var mode = "full"
  @OptionGroup var options: StudyOptions

  func run() throws {
    let scenario: Scenario
    switch (initFrom, mode) {
    case ("random", "full"): scenario = .random
    case ("random", _): throw ValidationError("--init random trains everything: use --mode full")
    case (_, "full"): scenario = .discriminative
    case (_, "head"): scenario = .head
    case (_, "discriminative"): scenario = .discriminative
    default: throw ValidationError("unknown mode '\(mode)' (full, head, discriminative)")
    }
    if scenario != .random && !FileManager.default.fileExists(atPath: initFrom) {
      throw ValidationError("no encoder file at \(initFrom)")
    }
    let r = try trainScenario(scenario, run: 0, data: options.dataset(), encoder: scenario == .random ? nil : initFrom,
                              options.config(), runDir: options.runDir("finetune"), callbacks: [ProgressCallback()])
    print(String(format: "final accuracy %.4f, best %.4f", r.result.finalAccuracy, r.result.bestAccuracy))
  }
}

/// `pretext show RUN`: a sample grid from a run's saved U-Net.
struct ShowCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "show", abstract: "Write a sample grid (damaged | original | restored) from a run's saved U-Net.")
  @Argument(help: "A run folder holding config.json and unet.safetensors.") var folder: String
  @Option(help: "The dataset whose val/ images to show (default: the one in results.json).") var data: String?
  @Option(help: "Rows in the grid.") var rows = 8
  @Option(help: "Output PNG (default: RUN/show.png).") var output: String?

  func run() throws {
    let config = try JSONDecoder().decode(StudyConfig.self, from: Data(contentsOf: URL(fileURLWithPath: folder + "/config.json")))
    var root = data
    if root == nil, let r = try? JSONDecoder().decode(ExperimentResult.self, from: Data(contentsOf: URL(fileURLWithPath: folder + "/results.json"))) {
      root = r.dataset
    }
    guard let root else { throw ValidationError("no results.json in \(folder): pass --data") }
    let layout = try ImageWangLayout(root: root, requireUnsup: false)
    let path = output ?? folder + "/show.png"
    try showSampleGrid(runDir: folder, config: config, data: layout, rows: rows, to: path)
    print(path)
  }
}

/// `pretext experiment`: the pretext once, then each downstream scenario several times; a report.
struct ExperimentCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "experiment",
    abstract: "Inpainting pretext once, then the three downstream scenarios `runs` times each; writes a report.")

  @OptionGroup var options: StudyOptions

  func run() throws {
    let config = try options.config()
    let layout = try options.dataset()
    print(layout.summary().split(separator: "\n").prefix(4).joined(separator: "\n"))
    let runDir = options.runDir("experiment")
    let start = Date()
    let result = try runExperiment(data: layout, config: config, runDir: runDir, callbacks: [ProgressCallback()])
    print("\n" + Report.markdown(result))
    print(String(format: "experiment took %.0f s; report: %@/report.md and report.html", Date().timeIntervalSince(start), runDir))
  }
}

extension StudyOptions {
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
