// The `pretext` command-line tool: data, experiment, pretrain, finetune, show, resume.
import ArgumentParser
import Foundation
import ImageData
import SelfSupervised
import Study
import Torch
import Training

@main
struct Pretext: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Self-supervised pretraining of image models, and what it buys downstream.",
    subcommands: [DataCommand.self, CompareCommand.self, ExperimentCommand.self, PretrainCommand.self, EvaluateCommand.self, KNNCommand.self, FinetuneCommand.self,
                  ShowCommand.self, ResumeCommand.self, TasksCommand.self, PredictCommand.self])

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

/// A command's closing line: on standard error when its output file is standard output (the bytes stay clean).
func sayWhere(_ output: String?, _ line: String) {
  if output == "-" { FileHandle.standardError.write(Data((line + "\n").utf8)) } else { print(line) }
}

/// A failure found while running (not a usage mistake): printed as "Error: …" without the usage text.
struct CLIError: Error, CustomStringConvertible {
  let description: String
  init(_ message: String) { description = message }
}

/// How a dataset folder that is not ImageWang-shaped is read (a class tree, a CSV of labels).
struct LayoutFlags: ParsableArguments {
  @Option(help: "A CSV of labels (image,label rows; relative to the dataset folder). Default: train.csv or labels.csv there, if any.") var csv: String?
  @Option(help: "The CSV's image column (default: the first of image, image_id, id, filename, file, fname, path, name).") var csvImageColumn: String?
  @Option(help: "The CSV's label column (default: the first of label, class, category, target, labels).") var csvLabelColumn: String?
  @Option(help: "The CSV's column saying which rows validate (is_valid: true/false, or split: train/valid). Default: is_valid or split if present, else --valid-fraction.") var csvSplitColumn: String?
  @Option(help: "Class-tree and CSV datasets without a split: the fraction of each class held out for validation (default 0.2).") var validFraction: Double?
  @Option(help: "The seed of that split (default 0).") var splitSeed: UInt64?
  // .unconditional: a centre below 0 (`--dicom-window -600,1500`) is the value, not another flag.
  @Option(parsing: .unconditional, help: "DICOM images: show every image through this window, CENTRE,WIDTH (e.g. 40,400 for CT soft tissue; default: each file's own window, else its min..max).") var dicomWindow: String?

  func apply(to options: inout LayoutOptions) {
    if let csv { options.csv = csv }
    if let csvImageColumn { options.imageColumn = csvImageColumn }
    if let csvLabelColumn { options.labelColumn = csvLabelColumn }
    if let csvSplitColumn { options.splitColumn = csvSplitColumn }
    if let validFraction { options.validFraction = validFraction }
    if let splitSeed { options.splitSeed = splitSeed }
  }
}

/// Settings shared by the commands that train: a preset, then flags overriding it. Every value is checked
/// while the arguments are parsed (`validate`), so a bad one is refused with its flag named, before any
/// folder is made.
struct StudyOptions: ParsableArguments {
  @Option(help: "Settings preset: demo (minutes on 2 CPU cores) or imagewang (the study's protocol, for a GPU).")
  var preset = "demo"
  @Option(help: "A dataset folder: ImageWang (train/ val/ unsup/), train/ + val/, one folder per class, or a CSV of labels beside the images (`pretext data info DIR` says which; default: ImageWang from the cache or the network, else synthetic).")
  var data: String?
  @OptionGroup var layoutFlags: LayoutFlags
  @Option(help: "Where run folders go (not inside the dataset).") var out = "runs"
  @Option(help: "The pretext task (`pretext tasks` lists them), or several at once with weights: inpainting:1,rotation:0.5.") var task: String?
  @Option(help: "Inpainting: holes per image, LO-HI (default 5-9).") var cutoutHoles: String?
  @Option(help: "Inpainting: hole side in pixels at 160 px, LO-HI (default 5-49).") var cutoutSize: String?
  @Option(help: "Inpainting: what the holes hold: zero (black, the study's), noise, or mixed (either, per hole).") var cutoutFill: String?
  @Option(help: "Downstream classifier head: linear (xresnet's) or fastai (vision_learner's concat-pool head); a linear probe is always linear.") var head: String?
  @Option(help: "Downstream optimisation: study (Ranger + flat-cos) or fastai (Adam + one-cycle, fastai's defaults).") var downstreamRecipe: String?
  @Flag(help: "Linear probe: train on the frozen body's features computed once (no augmentation; much faster).") var cacheFeatures = false
  @Option(help: "SwAV: projections queued per global crop, used in Sinkhorn once full (default 0: no queue).") var swavQueue: Int?
  @Option(help: "U-Net tasks (inpainting, colorization, masked): the encoder-to-decoder skip connections, all (fastai's) or none (the decoder sees only the deepest features).") var unetSkips: String?
  @Option(help: "Pretext optimisation: study (Ranger + flat-cos at --lr, every task alike), fastai (Adam + one-cycle at --lr) or paper (the task's paper's optimizer, lr scaled with the batch, weight decay, schedule; --lr is not used).") var pretextRecipe: String?
  @Option(help: "Few-label training: the fraction of train/'s labels the downstream stages use (seeded, class-stratified; default 1).") var labelFraction: Double?
  @Option(help: "Choose settings without val/: hold out this fraction of train/ (seeded, class-stratified) as the downstream validation set; val/ is not read (default 0: validate on val/).") var tuningSplit: Double?
  @Option(help: "Pretext: kNN accuracy of the encoder on the downstream data every N epochs and at the last (default 0: off).") var knnEvery: Int?
  @Option(help: "The kNN monitor's bank and queries: at most about this many train/ and val/ images each, class-stratified (default 2000).") var knnMonitorImages: Int?
  @Option(help: "At most this many images per train/ class, or all (the demo preset: 40).") var maxTrainPerClass: String?
  @Option(help: "At most this many images per val/ class, or all (the demo preset: 30).") var maxValidPerClass: String?
  @Option(help: "At most this many unlabelled images (unsup/, first in file-name order), or all (the demo preset: 1000).") var maxUnsup: String?
  @Option(help: "Downstream runs per scenario.") var runs: Int?
  @Option(help: "Downstream epochs.") var epochs: Int?
  @Option(help: "Pretext epochs (compare: several lengths, e.g. 2,5,10: trained once, the encoder saved at each).") var pretextEpochs: String?
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
  @Option(help: "Image channels the models take: 3 (gray images copied into RGB; default) or 1 (single-channel models: the xresnet stem takes 1 channel, colour images are turned to gray). 16-bit PNG, TIFF and DICOM samples keep their precision either way.") var channels: Int?
  @Option(help: "Arithmetic: fp32, bf16 (bfloat16 autocast; weights and optimizer state stay float32), fp16 (GPU, with loss scaling) or auto (bf16 where the CPU has bfloat16 instructions whose GEMMs measure at least 1.2× float32's, or the GPU compute capability 8.0+; else fp32; the run prints which and why). Default auto.") var precision: String?
  @Option(help: "Random seed.") var seed: UInt64?
  @Flag(help: "Keep each stage's checkpoints after it finishes (default: deleted once its result is written).")
  var keepCheckpoints = false
  @Flag(help: "Data-parallel runs: BatchNorm statistics over the whole global batch across ranks (SyncBatchNorm), so N ranks train what one process does (default: each rank its own part, as PyTorch DDP).")
  var syncBatchnorm = false

  mutating func validate() throws {
    do { try config(severalLengths: true).validate() } catch let e as StudyConfig.ConfigError { throw ValidationError(e.message) }
    if let data {
      var isDir: ObjCBool = false
      guard FileManager.default.fileExists(atPath: data, isDirectory: &isDir), isDir.boolValue else {
        throw ValidationError("--data \(data): no such folder")
      }
    }
    try validateOutputFolder(out)
  }

  /// The settings checked against the protocols that will train (`StudyConfig.validate(protocols:)`).
  func validate(protocols: [Scenario]) throws {
    do { try config(severalLengths: true).validate(protocols: protocols) } catch let e as StudyConfig.ConfigError { throw ValidationError(e.message) }
  }

  /// `--pretext-epochs` as numbers (nil when not given).
  func pretextLengths() throws -> [Int]? {
    guard let pretextEpochs else { return nil }
    let parts = pretextEpochs.split(separator: ",", omittingEmptySubsequences: false).map { Int($0.trimmingCharacters(in: .whitespaces)) }
    guard !parts.isEmpty, parts.allSatisfy({ $0 != nil }) else {
      throw ValidationError("--pretext-epochs takes a number or a comma-separated list, e.g. 2,5,10 (got \(pretextEpochs))")
    }
    return parts.map { $0! }
  }

  /// The settings; `severalLengths`: `--pretext-epochs` may list several (compare), the longest is the config's.
  func config(severalLengths: Bool = false) throws -> StudyConfig {
    guard var c = StudyConfig.preset(preset) else { throw ValidationError("unknown preset '\(preset)' (demo, imagewang)") }
    if let task { c.task = task }
    func range(_ text: String?, _ flag: String) throws -> [Int]? {
      guard let text else { return nil }
      let parts = text.split(separator: "-", omittingEmptySubsequences: false).map { Int($0) }
      guard parts.count == 2, let lo = parts[0], let hi = parts[1] else { throw ValidationError("--\(flag) takes LO-HI, e.g. 5-9 (got \(text))") }
      return [lo, hi]
    }
    if let v = try range(cutoutHoles, "cutout-holes") { c.cutoutHoles = v }
    if let v = try range(cutoutSize, "cutout-size") { c.cutoutHoleSize = v }
    if let swavQueue { c.swavQueue = swavQueue }
    if let unetSkips { c.unetSkips = unetSkips }
    if let cutoutFill { c.cutoutFill = cutoutFill }
    if let head { c.head = head }
    if let downstreamRecipe { c.downstreamRecipe = downstreamRecipe }
    if cacheFeatures { c.cacheFeatures = true }
    if let pretextRecipe { c.pretextRecipe = pretextRecipe }
    if let labelFraction { c.labelFraction = labelFraction }
    if let tuningSplit { c.tuningSplit = tuningSplit }
    if let knnEvery { c.knnEvery = knnEvery }
    if let knnMonitorImages { c.knnMonitorImages = knnMonitorImages }
    func cap(_ text: String?, _ flag: String) throws -> Int?? {
      guard let text else { return nil }
      if text == "all" { return .some(nil) }
      guard let n = Int(text), n >= 1 else { throw ValidationError("--\(flag) takes a count of at least 1 or `all` (got \(text))") }
      return .some(n)
    }
    if let v = try cap(maxTrainPerClass, "max-train-per-class") { c.maxTrainPerClass = v }
    if let v = try cap(maxValidPerClass, "max-valid-per-class") { c.maxValidPerClass = v }
    if let v = try cap(maxUnsup, "max-unsup") { c.maxUnsup = v }
    if let runs { c.runs = runs }
    if let epochs { c.epochs = epochs }
    if let lengths = try pretextLengths() {
      guard lengths.count == 1 || severalLengths else { throw ValidationError("--pretext-epochs takes one number here (several only with `compare`)") }
      c.pretextEpochs = lengths.max()!
    }
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
      if device == "cuda", Parallel.group != nil, Parallel.localRank >= Runtime.cudaDeviceCount {
        throw ValidationError("--device cuda, data-parallel: LOCAL_RANK \(Parallel.localRank) has no GPU of its own (this machine has \(Runtime.cudaDeviceCount)); start one rank per GPU")
      }
      if device != "cuda", d != .cpu, Parallel.group?.usesNCCL == true, d != .cuda(Parallel.localRank) {
        throw ValidationError("--device \(device): under NCCL each rank trains on its own GPU (LOCAL_RANK \(Parallel.localRank)'s): use --device cuda")
      }
      c.device = device
    }
    if let seed { c.seed = seed }
    if let precision {
      guard let p = Precision(rawValue: precision) else { throw ValidationError("--precision must be fp32, bf16, fp16 or auto (got \(precision))") }
      c.precision = p
    }
    if let channelsLast { c.channelsLast = channelsLast }
    if let channels { c.channels = channels }
    c.keepCheckpoints = keepCheckpoints
    c.syncBatchNorm = syncBatchnorm
    layoutFlags.apply(to: &c.layout)
    if let text = layoutFlags.dicomWindow {
      let parts = text.split(separator: ",").map { Double($0.trimmingCharacters(in: .whitespaces)) }
      guard parts.count == 2, let centre = parts[0], let width = parts[1] else { throw ValidationError("--dicom-window takes CENTRE,WIDTH, e.g. 40,400 (got \(text))") }
      c.dicomWindow = [centre, width]
    }
    return try c.fixingAutoPrecision()
  }

  /// The images the run uses (the dataset's root made absolute, so `resume` finds it from anywhere), bad
  /// files excluded and named.
  func dataset(_ config: StudyConfig) throws -> ImageWangLayout { try scannedDataset(config).layout }

  /// `dataset`, and whether every image it kept is stored gray.
  func scannedDataset(_ config: StudyConfig) throws -> (layout: ImageWangLayout, allGray: Bool) {
    let root = URL(fileURLWithPath: try data ?? defaultDataset()).standardizedFileURL.path
    let resolved = try config.resolvedPrecision
    if config.precision == .auto {
      let why: String
      if config.torchDevice != .cpu {
        why = resolved == .bf16 ? "this GPU computes bfloat16 natively" : "this GPU has no native bfloat16"
      } else if !Runtime.cpuHasNativeBFloat16 {
        why = "this CPU has no bfloat16 instructions"
      } else {
        why = String(format: "this CPU's bfloat16 GEMMs run %.2f× float32's; auto takes bf16 from %.1f×",
                     try Runtime.cpuBFloat16Speedup(), Precision.cpuBFloat16MinimumSpeedup)
      }
      print("precision: auto → \(resolved.rawValue) (\(why))")
    } else if resolved != .fp32 {
      print("precision: \(resolved.rawValue)")
    }
    return try scanStudyData(root: root, config: config, log: { print($0) })
  }

  /// A new run folder under `--out`, made exclusively and locked for this process's life.
  func startRun(_ kind: String, _ config: StudyConfig, _ manifest: RunManifest) throws -> (String, RunLock) {
    let stamp = ISO8601DateFormatter().string(from: Date()).replacingOccurrences(of: ":", with: "-")
    do {
      return try RunFolder.create(in: out, name: "\(kind)-\(preset)-\(stamp)", config: config, manifest: manifest)
    } catch {
      throw CLIError("--out \(out): cannot start a run folder there: \(error)")
    }
  }

  /// `startRun` for a data-parallel job too: rank 0 makes (and locks) the run folder, the other ranks are told
  /// its name and hold no lock.
  func startSharedRun(_ kind: String, _ config: StudyConfig, _ manifest: RunManifest) throws -> (String, RunLock?) {
    var lock: RunLock?
    let dir = try Parallel.fromRankZero("start a run folder under \(out)") {
      let (dir, made) = try startRun(kind, config, manifest)
      lock = made
      return dir
    }
    return (dir, lock)
  }
}

/// `--out` (or another output folder flag) must be a folder that exists and is writable, or be creatable.
func validateOutputFolder(_ out: String, flag: String = "--out") throws {
  var isDir: ObjCBool = false
  if FileManager.default.fileExists(atPath: out, isDirectory: &isDir) {
    guard isDir.boolValue else { throw ValidationError("\(flag) \(out): exists and is not a folder") }
    guard access(out, W_OK | X_OK) == 0 else { throw ValidationError("\(flag) \(out): the folder is not writable") }
    return
  }
  var parent = parentPath(URL(fileURLWithPath: out).standardizedFileURL.path)
  while !FileManager.default.fileExists(atPath: parent, isDirectory: &isDir) && parent != "/" {
    parent = parentPath(parent)
  }
  guard isDir.boolValue else { throw ValidationError("\(flag) \(out): \(parent) is not a folder") }
  guard access(parent, W_OK | X_OK) == 0 else { throw ValidationError("\(flag) \(out): cannot be created (\(parent) is not writable)") }
}

/// `pretext pretrain --task NAME`: the pretext task alone.
struct PretrainCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "pretrain", abstract: "Train a pretext task (--task, default inpainting) and save its encoder.")
  @Argument(help: "The pretext task (same as --task; kept for `pretrain inpainting`).") var taskName: String?
  @OptionGroup var options: StudyOptions
  @OptionGroup var launch: LaunchFlags

  func validate() throws {
    if let taskName, let flag = options.task, flag != taskName { throw ValidationError("two tasks given: '\(taskName)' and --task \(flag)") }
    if let taskName {
      do { _ = try PretextTasks.parse(taskName) } catch let e as PretextTasks.SpecError { throw ValidationError(e.description) }
    }
  }

  func run() throws {
    try launch.startLocalRanksIfAsked()
    try joinGroupIfLaunched("pretrain")
    var config = try options.config()
    if let taskName { config.task = taskName }
    let data = try options.dataset(config)
    let (dir, lock) = try options.startSharedRun("pretrain", config, RunManifest(kind: .pretrain, dataset: data.root, task: config.task))
    let (r, stage) = try withExtendedLifetime(lock) { try runPretext(data, config, runDir: dir, callbacks: Parallel.writers([ProgressCallback()])) }
    print("encoder: \(stage.file(r.encoderFile))\npicture: \(stage.file(r.pictureFile))")
  }
}

/// `pretext tasks`: the registry.
struct TasksCommand: ParsableCommand {
  static let configuration = CommandConfiguration(commandName: "tasks", abstract: "List the pretext tasks (--task NAME) and protocols.")
  func run() throws {
    let width = (PretextTasks.names.map(\.count).max() ?? 0) + 2
    for t in PretextTasks.all { print(t.name.padding(toLength: width, withPad: " ", startingAt: 0) + t.summary) }
    print("\nseveral at once on one backbone: --task NAME:WEIGHT,NAME:WEIGHT,… (e.g. inpainting:1,rotation:0.5,simclr:1)")
    print("\nprotocols (evaluate --protocol NAME): " + Scenario.allCases.map(\.rawValue).joined(separator: ", "))
  }
}

/// `pretext evaluate --protocol NAME --encoder FILE`: one downstream training under a protocol.
struct EvaluateCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "evaluate", abstract: "Train the classifier under a protocol (random, or one from an encoder) and report its accuracy.")
  @Option(help: "random (no encoder), head, discriminative, full, lpft or linear.") var `protocol`: String
  @Option(help: "The encoder file (e.g. a run's pretext/<task>/encoder.safetensors); not for --protocol random.") var encoder: String?
  @OptionGroup var options: StudyOptions
  @OptionGroup var launch: LaunchFlags

  func validate() throws {
    guard let s = Scenario(rawValue: `protocol`) else {
      throw ValidationError("unknown --protocol '\(`protocol`)' (\(Scenario.allCases.map(\.rawValue).joined(separator: ", ")))")
    }
    if s == .random { guard encoder == nil else { throw ValidationError("--protocol random starts from random weights: no --encoder") } }
    else { try validateEncoderFile(encoder, flag: "--encoder") }
    try options.validate(protocols: [s])
  }

  func run() throws {
    try launch.startLocalRanksIfAsked()
    try joinGroupIfLaunched("evaluate")
    try runEvaluation(Scenario(rawValue: `protocol`)!, encoder: encoder, options)
  }
}

/// `pretext knn --encoder FILE|random`: the kNN evaluation of an encoder's features (nothing trained).
struct KNNCommand: ParsableCommand {
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
  }

  func run() throws {
    try launch.startLocalRanksIfAsked()
    try joinGroupIfLaunched("knn")
    let config = try options.config()
    let data = try options.dataset(config)
    let r = try evaluateKNN(data, encoder: encoder == "random" ? nil : encoder, config, k: k, temperature: temperature)
    sayWhere(output, String(format: "kNN (k %d, T %.3g) of %@ on %d val/ images, %d train/ images: accuracy %.4f, among val/ classes %.4f (%.1f s)",
                 r.k, r.temperature, encoder, r.validImages, r.trainImages, r.accuracy, r.accuracyAmongValidClasses, r.seconds))
    if let output, Parallel.isWriter { try OutputFile.write(Array(try RunFolder.json(r)) + [10], to: output) }
  }
}

/// The encoder file a protocol needs must be a file.
func validateEncoderFile(_ path: String?, flag: String) throws {
  guard let path else { throw ValidationError("\(flag) FILE is needed: this protocol starts from an encoder") }
  var isDir: ObjCBool = false
  guard FileManager.default.fileExists(atPath: path, isDirectory: &isDir), !isDir.boolValue else {
    throw ValidationError("\(flag) \(path): no such encoder file")
  }
}

/// One evaluation run folder: `scenario` from `encoder` (nil: random init).
func runEvaluation(_ scenario: Scenario, encoder: String?, _ options: StudyOptions) throws {
  let encoder = encoder.map { URL(fileURLWithPath: $0).standardizedFileURL.path }
  let config = try options.config()
  let data = try options.dataset(config)
  let (dir, lock) = try options.startSharedRun(
    "finetune", config, RunManifest(kind: .finetune, dataset: data.root, scenario: scenario, encoder: encoder))
  let r = try withExtendedLifetime(lock) {
    try trainScenario(scenario, run: 0, data: data, encoder: encoder, config, runDir: dir, callbacks: Parallel.writers([ProgressCallback()]))
  }
  print("scenario: \(scenario.rawValue); run folder: \(dir)")
  print(String(format: "final accuracy %.4f, best %.4f", r.result.finalAccuracy, r.result.bestAccuracy))
}

/// `pretext finetune --init random|FILE --mode full|head|discriminative`: one downstream training.
struct FinetuneCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "finetune", abstract: "Train the classifier from random init or a saved encoder (evaluate's older spelling).")
  @Option(name: [.customLong("init"), .customLong("init-from")],
          help: "random, or an encoder file (safetensors with classifier keys, e.g. a pretext run's encoder.safetensors).")
  var initFrom = "random"
  @Option(help: "full (every layer trained at one lr), head (body frozen), discriminative (head first, then lr/100…lr) or lpft (head first, then every layer at one lr).")
  var mode = "full"
  @OptionGroup var options: StudyOptions
  @OptionGroup var launch: LaunchFlags

  /// What `--init` and `--mode` name.
  func scenario() throws -> Scenario {
    let modes: [Scenario] = [.full, .head, .discriminative, .lpft]
    guard let s = Scenario(rawValue: mode), modes.contains(s) else {
      throw ValidationError("unknown --mode '\(mode)' (\(modes.map(\.rawValue).joined(separator: ", ")))")
    }
    guard initFrom == "random" else { return s }
    guard s == .full else { throw ValidationError("--init random trains everything: use --mode full") }
    return .random
  }

  func validate() throws {
    if try scenario() != .random { try validateEncoderFile(initFrom, flag: "--init-from") }
    try options.validate(protocols: [try scenario()])
  }

  func run() throws {
    try launch.startLocalRanksIfAsked()
    try joinGroupIfLaunched("finetune")
    let scenario = try scenario()
    try runEvaluation(scenario, encoder: scenario == .random ? nil : initFrom, options)
  }
}

/// `pretext show RUN`: a sample grid from a run's saved U-Net.
struct ShowCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "show", abstract: "Write a sample grid (damaged | original | restored) from a run's saved U-Net.")
  @Argument(help: "A run folder holding config.json and unet.safetensors.") var folder: String
  @Option(help: "The dataset whose val/ images to show (default: the run's own, from run.json).") var data: String?
  @Option(help: "Rows in the grid (1–256).") var rows = 8
  @Option(help: "A comparison's task whose pretext to show (default: its first).") var task: String?
  @Option(help: "Output PNG (default: RUN/show.png; - for standard output; a FIFO or device, streamed).") var output: String?

  func validate() throws {
    guard (1...256).contains(rows) else { throw ValidationError("--rows must be between 1 and 256 (got \(rows))") }
  }

  func run() throws {
    guard let config = try RunFolder.read(StudyConfig.self, from: folder + "/config.json") else {
      throw CLIError("no config.json in \(folder): not a run folder")
    }
    let manifest = try RunFolder.read(RunManifest.self, from: folder + "/run.json")
    guard let root = data ?? manifest?.dataset else { throw CLIError("no run.json in \(folder): pass --data") }
    let (stageConfig, stage) = try manifest.map { try pretextStageToShow(runDir: folder, config: config, manifest: $0, task: task) }
      ?? (config, Stage.pretext(folder, task: config.taskFolder))
    let layout = try LayoutDetector.detect(root: root, options: config.layout).layout
    let path = output ?? folder + "/show.png"
    try showPicture(runDir: folder, config: stageConfig, data: layout, rows: rows, to: path, stage: stage)
    sayWhere(path, path)
  }
}

/// `pretext experiment`: the pretext once, then each downstream scenario several times; a report.
struct ExperimentCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "experiment",
    abstract: "A pretext task (--task, default inpainting) once, then the three downstream scenarios `runs` times each; writes a report.")

  @OptionGroup var options: StudyOptions
  @OptionGroup var launch: LaunchFlags

  func validate() throws { try options.validate(protocols: Scenario.study) }

  func run() throws {
    try launch.startLocalRanksIfAsked()
    try joinGroupIfLaunched("experiment")
    let config = try options.config()
    let layout = try options.dataset(config)
    print(layout.summary().split(separator: "\n").prefix(4).joined(separator: "\n"))
    let (runDir, lock) = try options.startSharedRun("experiment", config, RunManifest(kind: .experiment, dataset: layout.root, task: config.task))
    let start = Date()
    let result = try withExtendedLifetime(lock) {
      try runExperiment(data: layout, config: config, runDir: runDir, log: { print($0) }, callbacks: Parallel.writers([ProgressCallback()]))
    }
    print("\n" + Report.markdown(result))
    print(String(format: "experiment took %.0f s; report: %@/report.md and report.html", Date().timeIntervalSince(start), runDir))
  }
}

/// `pretext compare`: tasks × pretext lengths × protocols × runs, random init always a row; a leaderboard and a report.
struct CompareCommand: ParsableCommand {
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
  @Option(parsing: .upToNextOption, help: "Pretext tasks (specs as --task; several at once: inpainting:1,rotation:0.5).") var tasks: [String] = []
  @Option(parsing: .upToNextOption, help: "Protocols: linear, head, discriminative, full, lpft (head first, then all at one lr), knn (random init is always a row).") var protocols: [String] = []
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
    if let all = presetTasks, config.channels == 1 || allGray {
      let colour = try colourTasks(all)
      presetTasks = all.filter { !colour.contains($0) }
    }
    return ComparePlan(
      tasks: tasks.isEmpty ? presetTasks ?? [config.task] : tasks,
      pretextEpochs: try options.pretextLengths() ?? preset?.pretextEpochs ?? [config.pretextEpochs],
      protocols: protocols.isEmpty ? preset?.protocols ?? ["knn", "linear", "discriminative"] : protocols,
      runs: options.runs ?? preset?.runs ?? config.runs, pretextRuns: pretextRuns ?? preset?.pretextRuns ?? 1)
  }

  func validate() throws {
    let plan = try plan()
    do { try plan.validate() } catch let e as StudyConfig.ConfigError { throw ValidationError(e.message) }
    try options.validate(protocols: plan.protocols.compactMap(Scenario.init(rawValue:)))
    if try options.config(severalLengths: true).channels == 1, let colour = try colourTasks(plan.tasks).first {
      throw ValidationError("--tasks: \(colour) needs colour images: it cannot train with --channels 1 (leave it out of --tasks)")
    }
  }

  /// The preset's tasks this data or `--channels 1` leaves out (colour tasks), said once.
  func presetTasksLeftOut(allGray: Bool) throws -> [String] {
    guard tasks.isEmpty, options.preset == "demo" else { return [] }
    let kept = try plan(allGray: allGray).tasks
    return ComparePlan.demo.tasks.filter { !kept.contains($0) }
  }

  func run() throws {
    try launch.startLocalRanksIfAsked()
    try joinGroupIfLaunched("compare")
    var plan = try plan()
    var config = try options.config(severalLengths: true)
    (config.task, config.pretextEpochs, config.runs) = (plan.tasks[0], plan.pretextEpochs.last!, plan.runs)
    let (layout, allGray) = try options.scannedDataset(config)
    print(layout.summary().split(separator: "\n").prefix(4).joined(separator: "\n"))
    // Colour tasks on gray images: the preset's are left out, with a notice; ones named in --tasks are refused.
    if allGray {
      if !tasks.isEmpty, let colour = try colourTasks(tasks).first {
        throw CLIError("--tasks: \(colour) needs colour images, and every image of \(layout.root) is gray (its targets would all be zero): leave it out")
      }
      plan = try self.plan(allGray: true)
      config.task = plan.tasks[0]
    }
    let leftOut = try presetTasksLeftOut(allGray: allGray)
    if !leftOut.isEmpty {
      print("notice: \(leftOut.joined(separator: ", ")) left out of the \(options.preset) preset's tasks: \(config.channels == 1 ? "--channels 1" : "every image is gray"), and \(leftOut.count == 1 ? "it needs" : "they need") colour images")
    }
    let start = Date()
    var (dir, lock): (String, RunLock?) = ("", nil)
    if let runFolder {
      // Data-parallel, rank 0 opens (and locks) the folder; the others start once it has (the broadcast below).
      try validateOutputFolder(runFolder, flag: "--run")
      dir = URL(fileURLWithPath: runFolder).standardizedFileURL.path
      // The folder's record of what `auto` resolved to (or none, from before the record) goes to every rank.
      let measured = config.autoPrecision
      let recorded = try Parallel.fromRankZero("open --run \(dir)") {
        lock = try openCompareFolder(dir, config: &config, dataset: layout.root)
        return config.autoPrecision?.rawValue ?? ""
      }
      config.autoPrecision = Precision(rawValue: recorded)
      if let measured, let adopted = config.autoPrecision, adopted != measured {
        print("precision: auto → \(adopted.rawValue) after all, as \(dir) recorded when it started (its stages trained so)")
      }
    } else {
      (dir, lock) = try options.startSharedRun("compare", config, RunManifest(kind: .compare, dataset: layout.root))
    }
    let result = try withExtendedLifetime(lock) {
      try runCompare(data: layout, config: config, plan: plan, runDir: dir, log: { if Parallel.isWriter { print($0) } },
                     callbacks: Parallel.writers([ProgressCallback()]))
    }
    print("\n" + CompareReport.markdown(result))
    print(String(format: "comparison took %.0f s; %@/leaderboard.csv, report.md and report.html", Date().timeIntervalSince(start), dir))
  }
}

/// `pretext resume RUN`: continues an interrupted run from its last checkpoint.
struct ResumeCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "resume",
    abstract: "Continue an interrupted experiment, pretrain or finetune run from where it stopped.",
    discussion: "Finished stages are kept; the unfinished one continues from its last epoch checkpoint (bit-identical to a run never stopped); the rest run. The run's own config.json and dataset are used.")
  @Argument(help: "The run folder (holding config.json and run.json).") var folder: String
  @Option(help: "Resume data-parallel as N local ranks (any number that divides the run's global batches).") var nproc: Int?

  func validate() throws { try validateRankCount(nproc) }

  func run() throws {
    try launchLocalRanksIfAsked(nproc)
    try joinGroupIfLaunched("resume")
    let start = Date()
    try resumeRun(folder, log: { print($0) }, callbacks: Parallel.writers([ProgressCallback()]))
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
        throw CLIError("unknown dataset '\(name)'; known: \(DatasetSource.all.map(\.name).joined(separator: ", "))")
      }
      let folder = try DataCache.get(source, root: cache ?? DataCache.root, progress: downloadProgressPrinter(name: name))
      FileHandle.standardError.write(Data("\n".utf8))
      print(folder)
    }
  }

  struct Info: ParsableCommand {
    static let configuration = CommandConfiguration(
      abstract: "Say which layout a dataset folder is in and why, summarise it (counts per split and class) and check every image decodes.")
    @Argument(help: "The dataset folder.")
    var root: String
    @OptionGroup var layoutFlags: LayoutFlags
    @Flag(help: "Fail on any undecodable file instead of warning.")
    var strict = false
    @Flag(help: "Skip decoding every file.")
    var noScan = false

    func run() throws {
      var options = LayoutOptions()
      layoutFlags.apply(to: &options)
      let found = try LayoutDetector.detect(root: root, options: options)
      print(found.summary())
      if !noScan {
        let report = try scanImages(found.layout.allPaths, strict: strict)
        print(report.warning ?? "all \(report.kept.count) images decode")
        print(report.kindsLine)
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

    func validate() throws {
      guard (8...4096).contains(size) else { throw ValidationError("--size must be between 8 and 4096 (got \(size))") }
      guard (1...100_000).contains(trainPerClass) else { throw ValidationError("--train-per-class must be between 1 and 100000 (got \(trainPerClass))") }
      guard (1...100_000).contains(validPerClass) else { throw ValidationError("--valid-per-class must be between 1 and 100000 (got \(validPerClass))") }
      guard (1...1_000_000).contains(unsup) else { throw ValidationError("--unsup must be between 1 and 1000000 (got \(unsup))") }
      guard !FileManager.default.fileExists(atPath: root) else { throw ValidationError("\(root) exists: give a new folder") }
    }

    func run() throws {
      try SyntheticImageWang(size: size, trainPerClass: trainPerClass, validPerClass: validPerClass, unsupCount: unsup, seed: seed)
        .write(to: root)
      print(try ImageWangLayout(root: root).summary())
    }
  }
}

/// `pretext predict`: a trained classifier labels images (files, folders or a CSV's rows).
struct PredictCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "predict",
    abstract: "Predict with a classifier a run trained: one CSV row per image (top-k labels and probabilities, or Kaggle's id,label).")
  @Option(help: "A classifier's weights (eval/…/model.safetensors) or a run folder (then its classifier with the highest final validation accuracy).")
  var model: String
  @Argument(help: "Images, folders of images (searched recursively) or a CSV whose image column names them.")
  var inputs: [String]
  @Option(help: "Where the CSV goes (a file, written atomically through links; - for standard output; a FIFO or device, streamed).") var output = "predictions.csv"
  @Option(help: "csv (image,label,probability and the top-k) or kaggle (id,label).") var format = "csv"
  @Option(help: "Labels per image in the csv format.") var topK = 3
  @Option(help: "An input CSV's image column (default: the first of image, image_id, id, filename, file, fname, path, name).") var csvImageColumn: String?
  @Option(help: "Where an input CSV's images are (default: the CSV's folder).") var images: String?
  @Option(help: "Images per batch.") var batch = 32
  @Option(help: "Data-loading worker threads.") var workers = 2
  @Option(help: "cpu, cuda or cuda:N.") var device = "cpu"

  func validate() throws {
    guard ["csv", "kaggle"].contains(format) else { throw ValidationError("--format must be csv or kaggle (got \(format))") }
    guard (1...1000).contains(topK) else { throw ValidationError("--top-k must be between 1 and 1000 (got \(topK))") }
    guard (1...65536).contains(batch) else { throw ValidationError("--batch must be between 1 and 65536 (got \(batch))") }
    guard (1...256).contains(workers) else { throw ValidationError("--workers must be between 1 and 256 (got \(workers))") }
    guard Device(device) != nil else { throw ValidationError("unknown device '\(device)' (cpu, cuda, cuda:N)") }
    guard !inputs.isEmpty else { throw ValidationError("name at least one image, folder or CSV") }
  }

  /// Every input as (file, id): a CSV's rows (id: the cell), a folder's images (id: the file name without extension).
  func items() throws -> [(path: String, id: String)] {
    var out: [(String, String)] = []
    for input in inputs {
      var isDir: ObjCBool = false
      guard FileManager.default.fileExists(atPath: input, isDirectory: &isDir) else { throw CLIError("\(input): no such file or folder") }
      if isDir.boolValue {
        let index = try ImageIndex(root: input)
        guard !index.files.isEmpty else { throw CLIError("\(input): holds no images") }
        out += index.files.map { ($0, (($0 as NSString).lastPathComponent as NSString).deletingPathExtension) }
      } else if input.lowercased().hasSuffix(".csv") {
        let table = try CSVTable(contentsOf: input)
        let column = csvImageColumn.map { [$0] } ?? LayoutDetector.imageColumns
        guard let c = column.lazy.compactMap({ table.column($0) }).first else {
          throw CLIError("\(input): no image column (looked for \(column.joined(separator: ", "))); its columns: \(table.header.joined(separator: ", ")); name it with --csv-image-column")
        }
        let folder = parentPath(input)
        let index = try ImageIndex(root: images ?? (folder.isEmpty ? "." : folder))
        var seen: [String: Int] = [:]
        for (line, fields) in table.rows {
          let id = fields[c].trimmingCharacters(in: .whitespaces)
          if let first = seen[id] { throw CLIError("\(input): line \(line): duplicate row for '\(id)' (first on line \(first))") }
          seen[id] = line
          out.append((try index.resolve(id, line: line, csv: input), id))
        }
      } else {
        out.append((input, ((input as NSString).lastPathComponent as NSString).deletingPathExtension))
      }
    }
    return out
  }

  func run() throws {
    let (weights, chosen) = try resolveClassifier(model)
    if let chosen { print("classifier: \(chosen)") }
    let images = try items()
    // A submission missing a row is wrong: an image that does not decode stops the run, named.
    _ = try scanImages(images.map(\.path), strict: true)
    let (info, predictions) = try predict(weights: weights, images: images, topK: topK, batch: batch, workers: workers,
                                          device: Device(device) ?? .cpu)
    try OutputFile.write(Array(predictionsCSV(predictions, kaggle: format == "kaggle").utf8), to: output)
    sayWhere(output, "\(predictions.count) images, \(info.classes.count) classes, \(info.size) px: \(output)")
  }
}
