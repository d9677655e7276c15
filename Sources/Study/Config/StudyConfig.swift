import Foundation
import ImageData
import NN
import SelfSupervised
import Torch
import Training

/// Every setting of the study, in four parts and the model's width and weight decay, with the published protocol as
/// the `imagewang` preset.
public struct StudyConfig: Sendable, Equatable {
  public var data = DataSettings()
  public var pretext = PretextSettings()
  public var downstream = DownstreamSettings()
  public var runtime = RuntimeSettings()
  /// Architecture: xresnet34 × `widen` (1 in the study; narrower for tests).
  public var widen = 1.0
  /// The weight decay of every recipe, pretext and downstream.
  public var weightDecay = 1e-2

  public init() {}

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
    try count(pretext.size, "pretext-size", 16...4096)
    try count(downstream.size, "size", 16...4096)
    try count(pretext.batch, "pretext-batch", 1...65536)
    try count(downstream.batch, "batch", 1...65536)
    // BatchNorm normalises a training batch by its own statistics: one image has no variance, and the running
    // variance's n / (n - 1) makes it NaN ("validation loss became nan" an epoch later). PyTorch refuses it too.
    for (v, flag) in [(pretext.batch, "pretext-batch"), (downstream.batch, "batch")] where v == 1 {
      throw ConfigError("--\(flag) 1: BatchNorm needs at least 2 images per training batch (one image's variance is undefined, and its statistics become NaN); use 2 or more")
    }
    try count(pretext.epochs, "pretext-epochs", 1...100_000)
    try count(downstream.epochs, "epochs", 1...100_000)
    try count(downstream.headEpochs, "head-epochs", 0...100_000)  // capped at `epochs` by the scenario
    try count(downstream.runs, "runs", 1...1000)
    try count(pretext.knnEvery, "knn-every", 0...100_000)
    try count(pretext.knnMonitorImages, "knn-monitor-images", 20...10_000_000)
    try count(runtime.workers, "workers", 1...256)
    try count(downstream.knnK, "knn-k", 1...100_000)
    try real(downstream.knnTemperature, "knn-temperature", above: 0, atMost: 100)
    try count(pretext.inpainting.cutoutReferenceSize, "cutout-reference-size", 1...4096)
    try real(pretext.lr, "lr", above: 0, atMost: 10)
    try real(downstream.lr, "lr", above: 0, atMost: 10)
    try real(weightDecay, "weight-decay", above: 0, atMost: 10, orEqual: true)
    // The narrowest stage must keep at least 2 channels (64 × widen), the widest a sane size.
    try real(widen, "widen", above: 1.0 / 32 - 1e-12, atMost: 16, orEqual: true)
    do { _ = try PretextTasks.parse(pretext.task) } catch let e as PretextTasks.SpecError { throw ConfigError(e.description) }
    guard data.channels == 1 || data.channels == 3 else { throw ConfigError("--channels must be 1 or 3 (got \(data.channels))") }
    try refuseColourTasks([pretext.task], flag: "--task", channels: data.channels)
    do { _ = try PretextTasks.parse(downstream.semi.aux) } catch let e as PretextTasks.SpecError {
      throw ConfigError("--aux: " + e.description.replacingOccurrences(of: "--task", with: "--aux"))
    }
    try refuseColourTasks([downstream.semi.aux], flag: "--aux", channels: data.channels)
    if let b = downstream.semi.unlabelledBatch { try count(b, "unlabelled-batch", 2...65536) }
    try real(downstream.semi.pseudoThreshold, "pseudo-threshold", above: 0, atMost: 1, orEqual: true)
    if let k = downstream.semi.pseudoPerClass { try count(k, "pseudo-per-class", 1...10_000_000) }
    for (v, flag, lo) in [(pretext.inpainting.cutoutHoles, "cutout-holes", 0), (pretext.inpainting.cutoutSize, "cutout-size", 1)] {
      guard v.count == 2, v[0] >= lo, v[0] <= v[1], v[1] <= 4096 else {
        throw ConfigError("--\(flag) must be LO-HI with \(lo) ≤ LO ≤ HI ≤ 4096 (got \(v.map(String.init).joined(separator: "-")))")
      }
    }
    guard pretext.swav.queue == 0 || (pretext.batch...1_000_000).contains(pretext.swav.queue) else {
      throw ConfigError("--swav-queue must be 0 (none) or between the pretext batch (\(pretext.batch)) and 1000000 (got \(pretext.swav.queue))")
    }
    try real(data.labelFraction, "label-fraction", above: 0, atMost: 1)
    try real(data.tuningSplit, "tuning-split", above: 0, atMost: 0.9, orEqual: true)
    guard Device(runtime.device) != nil else { throw ConfigError("--device '\(runtime.device)' is not a device (cpu, cuda, cuda:N)") }
    if let autoPrecision = runtime.autoPrecision {
      guard runtime.precision == .auto, autoPrecision != .auto else {
        throw ConfigError("autoPrecision \(autoPrecision.rawValue) records what `--precision auto` resolved to: it needs precision auto and must be fp32, bf16 or fp16")
      }
    }
    _ = try autocastDType
    try real(data.layout.validFraction, "valid-fraction", above: 0, atMost: 0.9)
    if let w = data.dicomWindow {
      guard w.count == 2, w.allSatisfy(\.isFinite), w[1] >= 1 else {
        throw ConfigError("--dicom-window takes CENTRE,WIDTH with a width of at least 1 (got \(w.map { String($0) }.joined(separator: ",")))")
      }
    }
    for (v, flag) in [(data.maxTrainPerClass, "max-train-per-class"), (data.maxValidPerClass, "max-valid-per-class"), (data.maxUnsup, "max-unsup")] {
      if let v { try count(v, flag, 1...Int.max) }
    }
  }

  /// Checks the settings against the protocols that will train: a protocol with a head-only phase first
  /// (discriminative, lpft) needs an epoch after it, else it would silently be `head` under another name.
  public func validate(protocols: [Scenario]) throws {
    for p in protocols where (p == .discriminative || p == .lpft) && downstream.headEpochs > 0 && downstream.epochs <= downstream.headEpochs {
      throw ConfigError("protocol \(p.rawValue) trains the head alone for --head-epochs \(downstream.headEpochs) before unfreezing the body: --epochs \(downstream.epochs) leaves no epoch for the body; give --epochs above --head-epochs (or --head-epochs 0)")
    }
  }

  /// Checks the settings against the images they will train on: with drop-last, a batch larger than the
  /// training images would make no batch at all.
  public func validate(against data: ImageWangLayout) throws {
    let pretextItems = data.train.count + (data.unsup?.count ?? 0)
    guard pretextItems >= pretext.batch else {
      throw ConfigError("--pretext-batch \(pretext.batch) is larger than the \(pretextItems) pretext images (train/ + unsup/): no batch would be formed")
    }
    let labelled = downstreamData(data).train.count
    guard labelled >= downstream.batch else {
      throw ConfigError("--batch \(downstream.batch) is larger than the \(labelled) train/ images\(self.data.labelFraction < 1 ? " kept by --label-fraction \(self.data.labelFraction)" : ""): no batch would be formed")
    }

  }

  /// This config with the settings that change nothing a run computes set to fixed values: the loader's thread count
  /// and whether finished stages' checkpoints are kept. The one list of them: stage fingerprints and a comparison
  /// folder's settings both leave them out.
  public func withoutBookkeeping() -> StudyConfig {
    var c = self
    (c.runtime.workers, c.runtime.keepCheckpoints) = (1, false)
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
    (c.pretext.size, c.pretext.batch, c.pretext.epochs) = (64, 32, 6)
    (c.downstream.size, c.downstream.batch, c.downstream.epochs, c.downstream.headEpochs) = (64, 32, 12, 2)
    (c.widen, c.downstream.runs) = (0.25, 3)
    (c.data.maxTrainPerClass, c.data.maxValidPerClass, c.data.maxUnsup) = (40, 30, 1000)
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
    data.limited(trainPerClass: self.data.maxTrainPerClass, validPerClass: self.data.maxValidPerClass, unsup: self.data.maxUnsup)
  }

  /// What a downstream stage trains and validates on: the selected images, train/ split for tuning when
  /// `tuningSplit` > 0 (validation on the held-out part, val/ unread), then cut to `labelFraction` of its labels.
  public func downstreamData(_ data: ImageWangLayout) -> ImageWangLayout {
    let selected = select(data)
    let split = self.data.tuningSplit > 0 ? selected.tuningSplit(fraction: self.data.tuningSplit, seed: runtime.seed) : selected
    return split.labelled(fraction: self.data.labelFraction, seed: runtime.seed)
  }

  /// The images the semi-supervised protocols read without labels: unsup/ (as `select` caps it), and with
  /// `auxOnLabelled` the labelled train/ images of `downstreamData` too. Never the images a stage validates on.
  public func unlabelledPaths(_ data: ImageWangLayout) -> [String] {
    let selected = select(data)
    return (selected.unsup?.paths ?? []) + (downstream.semi.auxOnLabelled ? downstreamData(data).train.paths : [])
  }

  /// The unlabelled images per step.
  public var unlabelledBatch: Int { downstream.semi.unlabelledBatch ?? downstream.batch }

  /// The device this process trains on: `cuda` (no index) is rank r's own GPU r in a data-parallel run.
  public var torchDevice: Device { Parallel.device(runtime.device, localRank: Parallel.localRank, dataParallel: Parallel.group != nil) }

  /// What the pretext task is built with: its image size, width and (inpainting) holes, scaled with the
  /// image when it is not `cutoutReferenceSize`.
  /// The pretext stage's folder (and picture) name: the task, or for several tasks `a-1+b-0.5`.
  public var taskFolder: String {
    pretext.task.replacingOccurrences(of: ":", with: "-").replacingOccurrences(of: ",", with: "+").replacingOccurrences(of: " ", with: "")
  }

  public var taskSettings: TaskSettings {
    TaskSettings(size: pretext.size, widen: widen, channels: data.channels, cutout: RandomCutout(
      count: pretext.inpainting.cutoutHoles[0]...pretext.inpainting.cutoutHoles[1], size: pretext.inpainting.cutoutSize[0]...pretext.inpainting.cutoutSize[1],
      relativeTo: pretext.size == pretext.inpainting.cutoutReferenceSize ? nil : pretext.inpainting.cutoutReferenceSize, fill: pretext.inpainting.cutoutFill),
      swavQueue: pretext.swav.queue, unetSkips: pretext.unet.skips == .all)
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
      let p = runtime.precision == .auto ? runtime.autoPrecision ?? .auto : runtime.precision
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
    guard runtime.precision == .auto, runtime.autoPrecision == nil else { return self }
    var c = self
    let shared = try Parallel.fromRankZero("resolve --precision auto") { try resolvedPrecision.rawValue }
    guard let p = Precision(rawValue: shared), p != .auto else { throw ConfigError("rank 0 resolved --precision auto to '\(shared)'") }
    c.runtime.autoPrecision = p
    return c
  }

  public var memoryFormat: MemoryFormat { runtime.channelsLast ? .channelsLast : .contiguous }
}
