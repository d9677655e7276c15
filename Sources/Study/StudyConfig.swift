import Foundation
import ImageData
import NN
import SelfSupervised
import Torch
import Training

/// How the pretext is optimised (`--pretext-recipe`): the study's Ranger + flat-cos at `pretextLR` for every task,
/// fastai's Adam + one-cycle, or the task's paper's optimizer, batch-scaled lr, weight decay and schedule.
public enum PretextRecipe: String, Codable, Sendable, CaseIterable { case study, paper, fastai }

/// How the classifier is optimised (`--downstream-recipe`): the study's Ranger + flat-cos, or fastai's Adam + one-cycle.
public enum DownstreamRecipe: String, Codable, Sendable, CaseIterable { case study, fastai }

/// The U-Net tasks' encoder-to-decoder skip connections (`--unet-skips`): all (fastai's unet_learner), or none (a
/// context encoder: the decoder sees only the deepest features).
public enum UnetSkips: String, Codable, Sendable, CaseIterable {
  case all
  case withoutSkips = "none"  // not `none`: that would read as Optional's nil where a skips setting is optional
}

/// Every setting of the study, with the published protocol as the `imagewang` preset.
public struct StudyConfig: Codable, Sendable, Equatable {
  // Pretext.
  /// The pretext task (`pretext tasks` lists them).
  public var task = "inpainting"
  public var pretextSize = 160
  public var pretextBatch = 32
  public var pretextEpochs = 15
  public var pretextLR = 8e-3
  /// Cutout hole sizes are the study's (5–49 px) at 160 px and scaled with the image at other sizes.
  public var cutoutReferenceSize = 160
  /// Inpainting's holes per image and their side in pixels (at `cutoutReferenceSize`), both inclusive ranges.
  public var cutoutHoles = [5, 9]
  public var cutoutHoleSize = [5, 49]
  /// What inpainting's holes hold: zero (the study's black), noise, or mixed (either, per hole).
  public var cutoutFill = RandomCutout.Fill.zero
  /// SwAV's queue length per global crop (0: no queue; else at least the pretext batch).
  public var swavQueue = 0
  /// The U-Net tasks' skip connections: all (fastai's unet_learner, the study's) or none (a context encoder: the
  /// decoder sees only the encoder's deepest features).
  public var unetSkips = UnetSkips.all
  /// How the pretext is optimised: `study` (Ranger + flat-cos at `pretextLR`, every task alike) or `paper`
  /// (the task's paper's optimizer, batch-scaled lr, weight decay and schedule).
  public var pretextRecipe = PretextRecipe.study
  /// The downstream classifier's head: linear (xresnet's avg-pool + linear) or fastai (vision_learner's
  /// concat-pool head with BatchNorm and two linears). A linear probe always uses the linear head.
  public var head = XResNet.Head.linear
  /// How the downstream stages are optimised: study (Ranger + flat-cos) or fastai (Adam + one-cycle, fastai's
  /// defaults: β 0.9/0.99, ε 1e-5, decoupled weight decay, momentum cycled 0.95–0.85).
  public var downstreamRecipe = DownstreamRecipe.study
  /// The linear probe trains on the frozen body's features computed once (validation crop, no augmentation)
  /// instead of running the body on augmented crops every epoch.
  public var cacheFeatures = false
  // Downstream (classification).
  public var size = 128
  public var batch = 64
  public var epochs = 15
  public var lr = 8e-3
  /// Few-label training: the downstream stages train on this fraction of train/'s labels (fixed, seeded by
  /// `seed`, class-stratified; 1 = all). The pretext is not affected: it sees every image without labels.
  public var labelFraction = 1.0
  /// Settings are chosen on a split of train/, never on val/: with a fraction > 0 the downstream stages (and
  /// kNN) validate on that seeded, class-stratified part of train/ and train on the rest; val/ is not read.
  public var tuningSplit = 0.0
  /// The online kNN monitor of the pretext: every this many epochs and at the last (0: off).
  public var knnEvery = 0
  /// The monitor's cap: at most about this many train/ images as its bank and as many val/ images as its
  /// queries (seeded, class-stratified), so it stays cheap on large datasets.
  public var knnMonitorImages = 2000
  /// Scenario 3: head-only epochs before unfreezing (counted within `epochs`).
  public var headEpochs = 1
  public var weightDecay = 1e-2
  /// Architecture: xresnet34 × `widen` (1 in the study; narrower for tests).
  public var widen = 1.0
  public var runs = 3
  public var seed: UInt64 = 42
  public var workers = 2
  public var device = "cpu"
  /// Models and batches in channels-last (NHWC) layout: libtorch's convolutions run faster so on CPUs
  /// (benchmarks/bench.py measures both layouts) and on GPUs with tensor cores.
  public var channelsLast = true
  /// fp32, bf16, fp16 (GPU) or auto (bf16 where it pays: `Precision.cpuPrefersBFloat16`, or a GPU of compute
  /// capability 8.0+; else fp32): the forward and the loss of every training and feature pass under autocast in
  /// that dtype; weights and optimizer state float32. Default auto (NOTES.md, "bfloat16").
  public var precision = Precision.auto
  /// What `auto` resolved to when the run started (bf16 or fp32; fp32/bf16/fp16 leave it nil). `auto` is decided by
  /// timing GEMMs, and a timing can come out the other way in another process: recorded in config.json, it keeps a
  /// resumed run, and every rank of a data-parallel one (rank 0's measurement), in the arithmetic the run began in.
  /// nil with `auto`: resolved in each process (a config made in code, or a run folder from before the field).
  public var autoPrecision: Precision?
  /// Caps on the images used (nil: all): per train/ class, per val/ class, and of unsup/. The `demo` preset
  /// sets them so that it takes minutes on full ImageWang too.
  public var maxTrainPerClass: Int?
  public var maxValidPerClass: Int?
  public var maxUnsup: Int?
  /// How the dataset folder is read when it is not ImageWang-shaped (class tree, CSV): split, columns.
  public var layout = LayoutOptions()
  /// DICOM images: the window (centre, width) every image is shown through, instead of each file's own.
  public var dicomWindow: [Double]?
  /// Image channels the models take: 3 (gray images copied into RGB) or 1 (RGB images turned to gray; the
  /// xresnet stem's first convolution takes 1 channel). 16-bit samples keep their precision either way.
  public var channels = 3
  /// Keep each stage's checkpoints after its result file is written (default: deleted then; they are only
  /// needed to resume an unfinished stage, and weigh hundreds of MB at full width).
  public var keepCheckpoints = false
  /// Data-parallel runs: BatchNorm statistics over the whole global batch (every rank's part), so W ranks train
  /// what one process does; off, each rank normalises by its own part (PyTorch DDP's default).
  public var syncBatchNorm = false

  public init() {}

  // Decoding fills fields that older config.json files lack with their defaults.
  public init(from decoder: Decoder) throws {
    self.init()
    let c = try decoder.container(keyedBy: CodingKeys.self)
    func take<T: Decodable>(_ key: CodingKeys, _ value: inout T) throws { value = try c.decodeIfPresent(T.self, forKey: key) ?? value }
    // A choice whose value is not one of its cases is refused naming the flag that sets it.
    func choose<T: RawRepresentable & CaseIterable>(_ key: CodingKeys, _ value: inout T, _ flag: String) throws where T.RawValue == String {
      guard let text = try c.decodeIfPresent(String.self, forKey: key) else { return }
      guard let v = T(rawValue: text) else {
        throw ConfigError("--\(flag) must be \(T.allCases.map(\.rawValue).joined(separator: ", ")) (got \(text))")
      }
      value = v
    }
    try take(.task, &task); try take(.cutoutHoles, &cutoutHoles); try take(.cutoutHoleSize, &cutoutHoleSize)
    try choose(.cutoutFill, &cutoutFill, "cutout-fill"); try choose(.head, &head, "head")
    try choose(.downstreamRecipe, &downstreamRecipe, "downstream-recipe"); try take(.cacheFeatures, &cacheFeatures)
    try take(.swavQueue, &swavQueue); try choose(.unetSkips, &unetSkips, "unet-skips"); try choose(.pretextRecipe, &pretextRecipe, "pretext-recipe")
    try take(.labelFraction, &labelFraction)
    try take(.tuningSplit, &tuningSplit); try take(.knnEvery, &knnEvery); try take(.knnMonitorImages, &knnMonitorImages)
    try take(.pretextSize, &pretextSize); try take(.pretextBatch, &pretextBatch); try take(.pretextEpochs, &pretextEpochs)
    try take(.pretextLR, &pretextLR); try take(.cutoutReferenceSize, &cutoutReferenceSize); try take(.size, &size)
    try take(.batch, &batch); try take(.epochs, &epochs); try take(.lr, &lr); try take(.headEpochs, &headEpochs)
    try take(.weightDecay, &weightDecay); try take(.widen, &widen); try take(.runs, &runs); try take(.seed, &seed)
    try take(.workers, &workers); try take(.device, &device); try take(.channelsLast, &channelsLast)
    // A config.json without the field is from before it existed: those runs trained in float32.
    precision = try c.decodeIfPresent(Precision.self, forKey: .precision) ?? .fp32
    autoPrecision = try c.decodeIfPresent(Precision.self, forKey: .autoPrecision)
    maxTrainPerClass = try c.decodeIfPresent(Int.self, forKey: .maxTrainPerClass)
    maxValidPerClass = try c.decodeIfPresent(Int.self, forKey: .maxValidPerClass)
    maxUnsup = try c.decodeIfPresent(Int.self, forKey: .maxUnsup)
    try take(.keepCheckpoints, &keepCheckpoints); try take(.layout, &layout); try take(.syncBatchNorm, &syncBatchNorm)
    dicomWindow = try c.decodeIfPresent([Double].self, forKey: .dicomWindow)
    try take(.channels, &channels)
  }

  /// Every setting in its range, checked before anything is created or trained; errors name the
  /// command-line flag that sets the field.
  public func validate() throws {
    func count(_ v: Int, _ flag: String, _ range: ClosedRange<Int>) throws {
      guard range.contains(v) else {
        throw ConfigError("--\(flag) must be between \(range.lowerBound) and \(range.upperBound) (got \(v))")
      }
    }
    func real(_ v: Double, _ flag: String, above lo: Double, atMost hi: Double, orEqual: Bool = false) throws {
      guard v.isFinite, orEqual ? v >= lo : v > lo, v <= hi else {
        throw ConfigError("--\(flag) must be a number \(orEqual ? "at least" : "above") \(lo) and at most \(hi) (got \(v))")
      }
    }
    try count(pretextSize, "pretext-size", 16...4096)
    try count(size, "size", 16...4096)
    try count(pretextBatch, "pretext-batch", 1...65536)
    try count(batch, "batch", 1...65536)
    // BatchNorm normalises a training batch by its own statistics: one image has no variance, and the running
    // variance's n / (n - 1) makes it NaN ("validation loss became nan" an epoch later). PyTorch refuses it too.
    for (v, flag) in [(pretextBatch, "pretext-batch"), (batch, "batch")] where v == 1 {
      throw ConfigError("--\(flag) 1: BatchNorm needs at least 2 images per training batch (one image's variance is undefined, and its statistics become NaN); use 2 or more")
    }
    try count(pretextEpochs, "pretext-epochs", 1...100_000)
    try count(epochs, "epochs", 1...100_000)
    try count(headEpochs, "head-epochs", 0...100_000)  // capped at `epochs` by the scenario
    try count(runs, "runs", 1...1000)
    try count(knnEvery, "knn-every", 0...100_000)
    try count(knnMonitorImages, "knn-monitor-images", 20...10_000_000)
    try count(workers, "workers", 1...256)
    try count(cutoutReferenceSize, "cutout-reference-size", 1...4096)
    try real(pretextLR, "lr", above: 0, atMost: 10)
    try real(lr, "lr", above: 0, atMost: 10)
    try real(weightDecay, "weight-decay", above: 0, atMost: 10, orEqual: true)
    // The narrowest stage must keep at least 2 channels (64 × widen), the widest a sane size.
    try real(widen, "widen", above: 1.0 / 32 - 1e-12, atMost: 16, orEqual: true)
    do { _ = try PretextTasks.parse(task) } catch let e as PretextTasks.SpecError { throw ConfigError(e.description) }
    guard channels == 1 || channels == 3 else { throw ConfigError("--channels must be 1 or 3 (got \(channels))") }
    if channels == 1, let colour = try PretextTasks.parse(task).first(where: { PretextTasks.named($0.name)?.needsColour == true }) {
      throw ConfigError("--task \(colour.name) needs colour images: it cannot train with --channels 1")
    }
    for (v, flag, lo) in [(cutoutHoles, "cutout-holes", 0), (cutoutHoleSize, "cutout-size", 1)] {
      guard v.count == 2, v[0] >= lo, v[0] <= v[1], v[1] <= 4096 else {
        throw ConfigError("--\(flag) must be LO-HI with \(lo) ≤ LO ≤ HI ≤ 4096 (got \(v.map(String.init).joined(separator: "-")))")
      }
    }
    guard swavQueue == 0 || (pretextBatch...1_000_000).contains(swavQueue) else {
      throw ConfigError("--swav-queue must be 0 (none) or between the pretext batch (\(pretextBatch)) and 1000000 (got \(swavQueue))")
    }
    try real(labelFraction, "label-fraction", above: 0, atMost: 1)
    try real(tuningSplit, "tuning-split", above: 0, atMost: 0.9, orEqual: true)
    guard Device(device) != nil else { throw ConfigError("--device '\(device)' is not a device (cpu, cuda, cuda:N)") }
    if let autoPrecision {
      guard precision == .auto, autoPrecision != .auto else {
        throw ConfigError("autoPrecision \(autoPrecision.rawValue) records what `--precision auto` resolved to: it needs precision auto and must be fp32, bf16 or fp16")
      }
    }
    _ = try autocastDType
    try real(layout.validFraction, "valid-fraction", above: 0, atMost: 0.9)
    if let w = dicomWindow {
      guard w.count == 2, w.allSatisfy(\.isFinite), w[1] >= 1 else {
        throw ConfigError("--dicom-window takes CENTRE,WIDTH with a width of at least 1 (got \(w.map { String($0) }.joined(separator: ",")))")
      }
    }
    for (v, flag) in [(maxTrainPerClass, "max-train-per-class"), (maxValidPerClass, "max-valid-per-class"), (maxUnsup, "max-unsup")] {
      if let v { try count(v, flag, 1...Int.max) }
    }
  }

  /// Checks the settings against the protocols that will train: a protocol with a head-only phase first
  /// (discriminative, lpft) needs an epoch after it, else it would silently be `head` under another name.
  public func validate(protocols: [Scenario]) throws {
    for p in protocols where (p == .discriminative || p == .lpft) && headEpochs > 0 && epochs <= headEpochs {
      throw ConfigError("protocol \(p.rawValue) trains the head alone for --head-epochs \(headEpochs) before unfreezing the body: --epochs \(epochs) leaves no epoch for the body; give --epochs above --head-epochs (or --head-epochs 0)")
    }
  }

  /// Checks the settings against the images they will train on: with drop-last, a batch larger than the
  /// training images would make no batch at all.
  public func validate(against data: ImageWangLayout) throws {
    let pretextItems = data.train.count + (data.unsup?.count ?? 0)
    guard pretextItems >= pretextBatch else {
      throw ConfigError("--pretext-batch \(pretextBatch) is larger than the \(pretextItems) pretext images (train/ + unsup/): no batch would be formed")
    }
    let labelled = downstreamData(data).train.count
    guard labelled >= batch else {
      throw ConfigError("--batch \(batch) is larger than the \(labelled) train/ images\(labelFraction < 1 ? " kept by --label-fraction \(labelFraction)" : ""): no batch would be formed")
    }
  }

  /// This config with the settings that change nothing a run computes set to fixed values: the loader's thread count
  /// and whether finished stages' checkpoints are kept. The one list of them: stage fingerprints and a comparison
  /// folder's settings both leave them out.
  public func withoutBookkeeping() -> StudyConfig {
    var c = self
    (c.workers, c.keepCheckpoints) = (1, false)
    return c
  }

  /// Identifies a stage of a run made with this config, for its checkpoints and its result file: another stage's,
  /// run's or config's is refused on resume. The digest is of the whole encoded config less its bookkeeping, so
  /// (mind it) a field added to the config changes every earlier run's digests unless it is left out when at its
  /// default.
  public func fingerprint(stage: String) throws -> String {
    "\(stage); config \(Checksum.hex(Array(try RunFolder.encoder().encode(withoutBookkeeping()))))"
  }

  /// The study's protocol (for a GPU).
  public static var imagewang: StudyConfig { StudyConfig() }

  /// Minutes on 2 CPU cores, end to end: 64 px, xresnet34 × 0.25, the pretext 6 epochs, each scenario 3 runs of
  /// 12 epochs; at most 40 images per train/ class, 30 per val/ class and 1,000 of unsup/ (about the size of
  /// `imagewang-mini`; full ImageWang is cut to it).
  public static var demo: StudyConfig {
    var c = StudyConfig()
    (c.pretextSize, c.pretextBatch, c.pretextEpochs) = (64, 32, 6)
    (c.size, c.batch, c.epochs, c.headEpochs) = (64, 32, 12, 2)
    (c.widen, c.runs) = (0.25, 3)
    (c.maxTrainPerClass, c.maxValidPerClass, c.maxUnsup) = (40, 30, 1000)
    return c
  }

  public static func preset(_ name: String) -> StudyConfig? {
    switch name {
    case "imagewang": imagewang
    case "demo": demo
    default: nil
    }
  }

  /// The images of `data` this config uses (its caps applied; the same selection every time).
  public func select(_ data: ImageWangLayout) -> ImageWangLayout {
    data.limited(trainPerClass: maxTrainPerClass, validPerClass: maxValidPerClass, unsup: maxUnsup)
  }

  /// What a downstream stage trains and validates on: the selected images, train/ split for tuning when
  /// `tuningSplit` > 0 (validation on the held-out part, val/ unread), then cut to `labelFraction` of its labels.
  public func downstreamData(_ data: ImageWangLayout) -> ImageWangLayout {
    let selected = select(data)
    let split = tuningSplit > 0 ? selected.tuningSplit(fraction: tuningSplit, seed: seed) : selected
    return split.labelled(fraction: labelFraction, seed: seed)
  }

  /// The device this process trains on: `cuda` (no index) is rank r's own GPU r in a data-parallel run.
  public var torchDevice: Device { Parallel.device(device, localRank: Parallel.localRank, dataParallel: Parallel.group != nil) }

  /// What the pretext task is built with: its image size, width and (inpainting) holes, scaled with the
  /// image when it is not `cutoutReferenceSize`.
  /// The pretext stage's folder (and picture) name: the task, or for several tasks `a-1+b-0.5`.
  public var taskFolder: String {
    task.replacingOccurrences(of: ":", with: "-").replacingOccurrences(of: ",", with: "+").replacingOccurrences(of: " ", with: "")
  }

  public var taskSettings: TaskSettings {
    TaskSettings(size: pretextSize, widen: widen, channels: channels, cutout: RandomCutout(
      count: cutoutHoles[0]...cutoutHoles[1], holeSize: cutoutHoleSize[0]...cutoutHoleSize[1],
      relativeTo: pretextSize == cutoutReferenceSize ? nil : cutoutReferenceSize, fill: cutoutFill),
      swavQueue: swavQueue, unetSkips: unetSkips == .all)
  }

  /// A setting out of its range, naming the flag that sets it.
  public struct ConfigError: Error, CustomStringConvertible, Sendable {
    public let message: String
    init(_ message: String) { self.message = message }
    public var description: String { message }
  }
  /// The autocast dtype of training and feature passes on the config's device (nil: float32).
  public var autocastDType: DType? {
    get throws {
      let p = precision == .auto ? autoPrecision ?? .auto : precision
      do { return try p.autocastDType(on: torchDevice) } catch let e as FitError { throw ConfigError(e.message) }
    }
  }

  /// The precision a run on this machine uses (`auto` resolved), as recorded in its results.
  public var resolvedPrecision: Precision {
    get throws { try autocastDType == .bfloat16 ? .bf16 : autocastDType == .float16 ? .fp16 : .fp32 }
  }

  /// `auto` resolved once for a run that starts now (rank 0's resolution on every rank) and recorded in
  /// `autoPrecision`; anything else is returned as it is.
  public func fixingAutoPrecision() throws -> StudyConfig {
    guard precision == .auto, autoPrecision == nil else { return self }
    var c = self
    let shared = try Parallel.fromRankZero("resolve --precision auto") { try resolvedPrecision.rawValue }
    guard let p = Precision(rawValue: shared), p != .auto else { throw ConfigError("rank 0 resolved --precision auto to '\(shared)'") }
    c.autoPrecision = p
    return c
  }

  public var memoryFormat: MemoryFormat { channelsLast ? .channelsLast : .contiguous }
}
