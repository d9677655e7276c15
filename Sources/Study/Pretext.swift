import Foundation
import ImageData
import NN
import SelfSupervised
import Torch
import Training

/// A stage's folder in a run (`pretext/<task>/`, `eval/<protocol>/<run>/`) and the files in it. A stage's
/// `result.json` is written only once the stage is complete, so its presence means "done".
public struct Stage: Sendable {
  public let dir: String
  public init(_ dir: String) { self.dir = dir }
  public static func pretext(_ runDir: String, task: String) -> Stage { Stage(runDir + "/pretext/" + task) }
  public static func evaluation(_ runDir: String, protocol name: String, run: Int) -> Stage { Stage(runDir + "/eval/\(name)/\(run)") }
  public var checkpoint: String { dir + "/checkpoint.safetensors" }
  public var result: String { dir + "/result.json" }
  public var log: String { dir + "/log.csv" }
  public var tensorboard: String { dir + "/tensorboard" }
  public func file(_ name: String) -> String { dir + "/" + name }
}

/// What a pretext run leaves behind. File names are relative to its stage folder (a run can be moved).
public struct PretextResult: Codable, Sendable {
  public let task: String
  public let encoderFile: String
  public let pictureFile: String
  public let history: [EpochRecord]
  public let seconds: Double
  /// The images the pretext trained on (train/ and unsup/).
  public let trainingItems: Int
  /// Whether the pretext's loader was given any label (never: it is built from paths alone).
  public let sawLabels: Bool
  /// The encoder saved after these epochs (the comparison's pretext lengths), file names in the stage folder.
  public var snapshots: [EncoderSnapshot]? = nil
  /// The arithmetic it trained in (`auto` resolved on the machine that trained it); nil in older results.
  public var precision: Precision? = nil

  /// The encoder file after `epochs` epochs: the final one, or a snapshot.
  public func encoder(afterEpochs epochs: Int) -> String? {
    epochs == history.count ? encoderFile : snapshots?.first { $0.epochs == epochs }?.file
  }
  /// The pretext's seconds up to the end of epoch `epochs`.
  public func seconds(upTo epochs: Int) -> Double { history.prefix(epochs).map(\.seconds).reduce(0, +) }
}

/// An encoder saved part-way through a pretext (after `epochs` of its epochs).
public struct EncoderSnapshot: Codable, Sendable, Equatable {
  public let epochs: Int
  public let file: String
  public static func fileName(_ epochs: Int) -> String { "encoder-\(epochs)ep.safetensors" }
}

/// Saves the task's encoder after the validation of each epoch in `epochs` (before that epoch's checkpoint, so a
/// run killed in between redoes the epoch and rewrites the same file).
final class EncoderSnapshots: Callback {
  let task: any PretextTask, epochs: Set<Int>, stage: Stage, source: String
  init(task: any PretextTask, epochs: Set<Int>, stage: Stage, source: String) {
    (self.task, self.epochs, self.stage, self.source) = (task, epochs, stage, source)
  }
  func on(_ event: Event, _ learner: Learner) throws {
    guard event == .afterValidate, epochs.contains(learner.epoch + 1) else { return }
    try SafeTensors.save(task.encoderState(), metadata: ["format": "pt", "source": "\(source) after \(learner.epoch + 1) epochs"], checksum: true,
                         to: stage.file(EncoderSnapshot.fileName(learner.epoch + 1)))
  }
}

/// The config's pretext task (one, or several at once), built from its settings.
public func makeTask(_ config: StudyConfig) throws -> any PretextTask {
  do {
    return try PretextTasks.make(config.pretext.task, config.taskSettings)
  } catch let e as PretextTasks.SpecError {
    throw StudyConfig.ConfigError(e.description)
  }
}

/// The pretext stage: the config's task trained on train/ **and** unsup/ images without their labels (val/
/// only monitors the loss), Ranger + flat-cos, a checkpoint per epoch; saves the encoder with classifier key
/// names, the task's network and its picture into `pretext/<task>/`. With `resume`, a finished stage is
/// returned as it is and an unfinished one continues from its checkpoint. `stage` overrides the folder;
/// `snapshots`: also save the encoder after these epochs (below `pretextEpochs`).
public func runPretext(_ data: ImageWangLayout, _ config: StudyConfig, runDir: String, resume: Bool = false,
                       callbacks: [Callback] = [], stage: Stage? = nil, snapshots: [Int] = [],
                       pretextSeed: UInt64? = nil) throws -> (result: PretextResult, stage: Stage)
{
  // The pretext's own draws (weights, order, augmentations); what data is held out stays `config.seed`'s.
  let seed = pretextSeed ?? config.runtime.seed
  let data = config.select(data)
  let stage = stage ?? Stage.pretext(runDir, task: config.taskFolder)
  let snapshots = Set(snapshots.filter { $0 < config.pretext.epochs })
  // What this stage's checkpoints and result file are sealed with: another stage's or config's are refused.
  let fingerprint = try config.fingerprint(stage: "pretext \(config.pretext.task)" + (seed == config.runtime.seed ? "" : " seed \(seed)"))
  if resume, let done = try RunFolder.readResult(PretextResult.self, from: stage.result, stage: fingerprint) { return (done, stage) }
  try Parallel.requireEvenShares(config.pretext.batch, flag: "--pretext-batch", syncBatchNorm: config.runtime.syncBatchNorm)
  if Parallel.isWriter { try RunFolder.makeFolders(stage.dir) }
  let start = Date()
  Runtime.manualSeed(seed)
  // Its own generator, seeded alike: the same weights, whatever other threads of the process draw meanwhile.
  let task = try Init.withGenerator(Generator(seed: seed)) { try makeTask(config) }
  try task.model.to(device: config.torchDevice, memoryFormat: config.memoryFormat)
  // Paths only: the pretext loader is never given a label.
  let paths = data.train.paths + (data.unsup?.paths ?? [])
  // Data-parallel: each rank its part of every global batch (`Parallel`), in one process's order.
  let train = ImageLoader(paths: paths, pipeline: task.pipeline(training: true), batchSize: config.pretext.batch, shuffle: true,
                          seed: seed, workers: config.runtime.workers, shard: Parallel.shard, channels: config.data.channels, samples: .bytes)
  // The loss is monitored on val/'s images, or with a tuning split on its held-out train/ images (val/ unread).
  let monitored = config.data.tuningSplit > 0 ? config.downstreamData(data).valid.paths : data.valid.paths
  let part = Parallel.part(monitored)
  let valid = ImageLoader(paths: part.items, pipeline: task.pipeline(training: false), batchSize: config.pretext.batch,
                          shuffle: false, seed: seed, workers: config.runtime.workers, itemOffset: part.offset,
                          channels: config.data.channels, samples: .bytes)
  let recipe = try pretextRecipe(task, config)
  let learner = Learner(
    model: task.model, train: OnDevice(train, config), valid: OnDevice(valid, config), step: task.step,
    optimizer: recipe.makeOptimizer(for: task.model, batch: config.pretext.batch),
    metrics: task.metrics,
    callbacks: callbacks + (config.pretext.knnEvery > 0 ? [KNNMonitor(task: task, data: data, config: config, every: config.pretext.knnEvery)] : [])
      + (try Parallel.writers((snapshots.isEmpty ? [] : [EncoderSnapshots(task: task, epochs: snapshots, stage: stage, source: "pretext \(config.pretext.task)")])
        + [CSVLogger(path: stage.log), try TensorBoardLogger(directory: stage.tensorboard)])))
  Parallel.attach(learner, model: task.model, config)
  learner.mixedPrecision = try config.autocastDType
  learner.checkpointPath = stage.checkpoint
  learner.checkpointFingerprint = fingerprint
  let done = try resumeIfAsked(learner, resume)
  for e in snapshots where e <= done && !FileManager.default.fileExists(atPath: stage.file(EncoderSnapshot.fileName(e))) {
    throw FileError(path: stage.file(EncoderSnapshot.fileName(e)), "the checkpoint is past epoch \(e) but its encoder snapshot is missing: delete \(stage.dir) to retrain this pretext")
  }
  try learner.fit(recipe.plan(epochs: config.pretext.epochs, batch: config.pretext.batch), startEpoch: done)
  var result = PretextResult(task: config.pretext.task, encoderFile: "encoder.safetensors", pictureFile: config.taskFolder + ".png",
                             history: learner.history, seconds: Date().timeIntervalSince(start) + earlierSeconds(learner, done),
                             trainingItems: paths.count, sawLabels: train.labels != nil || valid.labels != nil)
  result.precision = try config.resolvedPrecision
  result.snapshots = snapshots.sorted().map { EncoderSnapshot(epochs: $0, file: EncoderSnapshot.fileName($0)) }
  if Parallel.isWriter {
    try SafeTensors.save(task.encoderState(), metadata: ["format": "pt", "source": "pretext \(config.pretext.task)"], checksum: true,
                         to: stage.file(result.encoderFile))
    try task.model.save(to: stage.file(task.weightsFile))
    try writePicture(task, valid, rows: 4, to: stage.file(result.pictureFile), device: config.torchDevice)
    try RunFolder.writeResult(result, to: stage.result, stage: fingerprint)
    try RunFolder.dropCheckpoints([stage.checkpoint], config)
  }
  try Parallel.barrier()
  return (result, stage)
}

/// The recipe the config asks for: the study's (Ranger + flat-cos at `pretextLR`) or the task's paper's.
public func pretextRecipe(_ task: any PretextTask, _ config: StudyConfig) throws -> TrainingRecipe {
  if config.pretext.recipe == .fastai { return .fastai(lr: config.pretext.lr, weightDecay: config.weightDecay) }
  guard config.pretext.recipe == .paper else { return .study(lr: config.pretext.lr, weightDecay: config.weightDecay) }
  guard let recipe = task.paperRecipe else {
    throw StudyConfig.ConfigError("--pretext-recipe paper: '\(config.pretext.task)' has no paper recipe (several tasks at once have several papers; use --pretext-recipe study)")
  }
  return recipe
}

/// The task's picture of the first validation batch.
func writePicture(_ task: any PretextTask, _ loader: ImageLoader, rows: Int, to path: String, device: Device) throws {
  guard let batch = try loader.pass(epoch: 0).next() else { throw DatasetError(path: path, "no validation batch") }
  try task.writePicture(try batch.mapValues(ImageLoader.unitFloats), rows: rows, to: path, device: device)
}

/// Rebuilds a run's pretext network from its config and weights and writes its picture of `data`'s val/ images.
public func showPicture(runDir: String, config: StudyConfig, data: ImageWangLayout, rows: Int, to path: String, stage: Stage? = nil) throws {
  let data = config.select(data)
  let task = try makeTask(config)
  try task.model.load(from: (stage ?? Stage.pretext(runDir, task: config.taskFolder)).file(task.weightsFile))
  let valid = ImageLoader(paths: data.valid.paths, pipeline: task.pipeline(training: false), batchSize: rows, shuffle: false,
                          seed: config.runtime.seed, workers: config.runtime.workers, channels: config.data.channels)
  try writePicture(task, valid, rows: rows, to: path, device: .cpu)
}

/// The pretext stage of a run folder that `pretext show` draws: an experiment's or pretrain's own, or in a
/// comparison `task`'s (default: its plan's first) first pretext, trained to the plan's longest length. The config
/// returned is that stage's.
public func pretextStageToShow(runDir: String, config: StudyConfig, manifest: RunManifest, task: String?) throws
  -> (config: StudyConfig, stage: Stage)
{
  guard manifest.kind == .compare else {
    if let task, task != config.pretext.task { throw FileError(path: runDir, "trained the pretext \(config.pretext.task), not \(task)") }
    return (config, Stage.pretext(runDir, task: config.taskFolder))
  }
  guard let plan = try RunFolder.read(ComparePlan.self, from: runDir + "/compare.json") else {
    throw FileError(path: runDir, "a comparison without compare.json: it has no pretext to show yet")
  }
  guard let chosen = task ?? plan.tasks.first else {
    throw FileError(path: runDir, "a comparison without pretext tasks (--tasks none): it has no pretext to show")
  }
  guard plan.tasks.contains(chosen) else {
    throw FileError(path: runDir, "compares \(plan.tasks.joined(separator: "; ")), not \(chosen): give one of them with --task")
  }
  let longest = plan.pretextEpochs.last!, c = configFor(config, task: chosen, epochs: longest)
  return (c, Stage(runDir + "/pretext/\(c.taskFolder)-\(longest)ep"))
}

/// With `resume` and a checkpoint at the learner's checkpoint path, restores it and returns its epochs done.
func resumeIfAsked(_ learner: Learner, _ resume: Bool) throws -> Int {
  guard resume, let path = learner.checkpointPath, FileManager.default.fileExists(atPath: path) else { return 0 }
  return try learner.loadCheckpoint(from: path)
}

/// The epoch seconds a resumed learner did before this process (its first `done` history records).
func earlierSeconds(_ learner: Learner, _ done: Int) -> Double {
  learner.history.prefix(done).map(\.seconds).reduce(0, +)
}

/// A source's batches on the config's device, images in its memory layout (NHWC when `channelsLast`).
struct OnDevice: BatchSource {
  let source: BatchSource
  let device: Device
  let channelsLast: Bool
  init(_ source: BatchSource, _ config: StudyConfig) {
    (self.source, self.device, self.channelsLast) = (source, config.torchDevice, config.runtime.channelsLast)
  }
  var batchCount: Int { source.batchCount }
  func batches(epoch: Int) throws -> BatchStream {
    let stream = try source.batches(epoch: epoch)
    let (device, channelsLast) = (device, channelsLast)
    // A failed move ends the epoch with its error. Byte samples (a `.bytes` loader's) cross to the device as
    // bytes and become floats there.
    return stream.map { batch in
      try batch.map { _, t in
        let moved = try ImageLoader.unitFloats(try t.to(device))
        return channelsLast && moved.shape.count == 4 ? try moved.contiguous(.channelsLast) : moved
      }
    }
  }
}
