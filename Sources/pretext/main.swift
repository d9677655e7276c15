// The `pretext` command-line tool: data, experiment, pretrain, finetune, show, resume.
import ArgumentParser
import Foundation
import ImageData
import Study
import Torch
import Training

@main
struct Pretext: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Self-supervised pretraining of image models, and what it buys downstream.",
    subcommands: [DataCommand.self, ExperimentCommand.self, PretrainCommand.self, FinetuneCommand.self, ShowCommand.self,
                  ResumeCommand.self])

  /// The caching CPU allocator is on (see `Runtime.cachesCPUMemory`) unless PRETEXT_CPU_CACHE=0.
  static func main() {
    Runtime.cacheCPUMemoryUnlessDisabled()
    main(nil)
  }
}

/// The tool's output goes straight to file descriptor 1, a line at a time, so a pipe or a CI log shows progress
/// as it happens and in order with the progress callback's lines (Swift's `print` is block-buffered into a pipe).
func print(_ items: Any..., separator: String = " ", terminator: String = "\n") {
  FileHandle.standardOutput.write(Data((items.map { "\($0)" }.joined(separator: separator) + terminator).utf8))
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
  @Option(help: "Downstream batch size.") var batch: Int?
  @Option(help: "Pretext batch size.") var pretextBatch: Int?
  @Option(help: "Scenario 3: head-only epochs before unfreezing.") var headEpochs: Int?
  @Option(help: "Data-loading worker threads.") var workers: Int?
  @Option(help: "xresnet34 width multiplier.") var widen: Double?
  @Option(help: "Learning rate (downstream; the pretext's with `pretrain`).") var lr: Double?
  @Option(help: "cpu, cuda or cuda:N.") var device: String?
  @Flag(inversion: .prefixedNo, help: "Channels-last (NHWC) models and batches (default: on; faster convolutions).")
  var channelsLast: Bool?
  @Option(help: "Random seed.") var seed: UInt64?

  func config() throws -> StudyConfig {
    guard var c = StudyConfig.preset(preset) else { throw ValidationError("unknown preset '\(preset)' (demo, imagewang)") }
    if let runs { c.runs = runs }
    if let epochs { c.epochs = epochs }
    if let pretextEpochs { c.pretextEpochs = pretextEpochs }
    if let size { c.size = size }
    if let pretextSize { c.pretextSize = pretextSize }
    if let batch { c.batch = batch }
    if let pretextBatch { c.pretextBatch = pretextBatch }
    if let headEpochs { c.headEpochs = headEpochs }
    if let workers { c.workers = workers }
    if let widen { c.widen = widen }
    if let lr { (c.lr, c.pretextLR) = (lr, lr) }
    if let device {
      guard let d = Device(device) else { throw ValidationError("unknown device '\(device)' (cpu, cuda, cuda:N)") }
      if d != .cpu && !Runtime.cudaIsAvailable {
        throw ValidationError("--device \(device): this libtorch has no usable CUDA device (set up with the CUDA wheel: PRETEXT_CUDA=1 make setup)")
      }
      c.device = device
    }
    if let seed { c.seed = seed }
    if let channelsLast { c.channelsLast = channelsLast }
    return c
  }

  /// The dataset (its root made absolute, so `resume` finds it from anywhere); the images `config` selects
  /// are decoded once to report bad files before training.
  func dataset(_ config: StudyConfig) throws -> ImageWangLayout {
    let root = URL(fileURLWithPath: try data ?? defaultDataset()).standardizedFileURL.path
    let layout = try ImageWangLayout(root: root)
    let used = config.select(layout)
    let report = try scanImages(used.train.paths + used.valid.paths + (used.unsup?.paths ?? []))
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
    let data = try options.dataset(config)
    try RunFolder.start(dir, config: config, manifest: RunManifest(kind: .pretrain, dataset: data.root))
    let r = try pretrainInpainting(data, config, runDir: dir, callbacks: [ProgressCallback()])
    print("encoder: \(r.encoderPath)\nsample grid: \(r.gridPath)")
  }
}

/// `pretext finetune --init random|FILE --mode full|head|discriminative`: one downstream training.
struct FinetuneCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "finetune", abstract: "Train the classifier from random init or a saved encoder.")
  @Option(name: [.customLong("init"), .customLong("init-from")],
          help: "random, or an encoder file (safetensors with classifier keys, e.g. a pretext run's encoder.safetensors).")
  var initFrom = "random"
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
    let encoder = scenario == .random ? nil : URL(fileURLWithPath: initFrom).standardizedFileURL.path
    let (dir, config) = (options.runDir("finetune"), try options.config())
    let data = try options.dataset(config)
    try RunFolder.start(dir, config: config, manifest: RunManifest(kind: .finetune, dataset: data.root, scenario: scenario, encoder: encoder))
    let r = try trainScenario(scenario, run: 0, data: data, encoder: encoder, config, runDir: dir, callbacks: [ProgressCallback()])
    print(String(format: "final accuracy %.4f, best %.4f", r.result.finalAccuracy, r.result.bestAccuracy))
  }
}

/// `pretext show RUN`: a sample grid from a run's saved U-Net.
struct ShowCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "show", abstract: "Write a sample grid (damaged | original | restored) from a run's saved U-Net.")
  @Argument(help: "A run folder holding config.json and unet.safetensors.") var folder: String
  @Option(help: "The dataset whose val/ images to show (default: the run's own, from run.json).") var data: String?
  @Option(help: "Rows in the grid.") var rows = 8
  @Option(help: "Output PNG (default: RUN/show.png).") var output: String?

  func run() throws {
    guard let config = try RunFolder.read(StudyConfig.self, from: folder + "/config.json") else {
      throw ValidationError("no config.json in \(folder): not a run folder")
    }
    guard let root = try data ?? RunFolder.read(RunManifest.self, from: folder + "/run.json")?.dataset else {
      throw ValidationError("no run.json in \(folder): pass --data")
    }
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
    let layout = try options.dataset(config)
    print(config.select(layout).summary().split(separator: "\n").prefix(4).joined(separator: "\n"))
    let runDir = options.runDir("experiment")
    let start = Date()
    let result = try runExperiment(data: layout, config: config, runDir: runDir, log: { print($0) }, callbacks: [ProgressCallback()])
    print("\n" + Report.markdown(result))
    print(String(format: "experiment took %.0f s; report: %@/report.md and report.html", Date().timeIntervalSince(start), runDir))
  }
}

/// `pretext resume RUN`: continues an interrupted run from its last checkpoint.
struct ResumeCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "resume",
    abstract: "Continue an interrupted experiment, pretrain or finetune run from where it stopped.",
    discussion: "Finished stages are kept; the unfinished one continues from its last epoch checkpoint (bit-identical to a run never stopped); the rest run. The run's own config.json and dataset are used.")
  @Argument(help: "The run folder (holding config.json and run.json).") var folder: String

  func run() throws {
    let start = Date()
    try resumeRun(folder, log: { print($0) }, callbacks: [ProgressCallback()])
    print(String(format: "resumed run finished in %.0f s: %@", Date().timeIntervalSince(start), folder))
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
