import Foundation
import ImageData
import NN
import Torch
import Training

extension ImageLoader: BatchSource {
  public func batches(epoch: Int) throws -> BatchStream {
    let pass = pass(epoch: epoch)
    return BatchStream { try pass.next() }
  }
}

/// What the pretext run leaves behind. File names are relative to the run folder (it can be moved).
public struct PretextResult: Codable, Sendable {
  public let encoderFile: String
  public let gridFile: String
  public let history: [EpochRecord]
  public let seconds: Double
  /// The images the pretext trained on (train/ and unsup/).
  public let trainingItems: Int
  /// Whether the pretext's loader was given any label (never: it is built from paths alone).
  public let sawLabels: Bool

  public func encoderPath(in runDir: String) -> String { runDir + "/" + encoderFile }
  public func gridPath(in runDir: String) -> String { runDir + "/" + gridFile }
}

/// The inpainting pretext: a U-Net over xresnet34 restores RandomCutout-damaged images (MSE against the
/// original), trained on train/ **and** unsup/ images without their labels; val/ only monitors the loss.
/// Saves the encoder with classifier key names and a sample grid. With `resume`, a finished pretext in
/// `runDir` (its `pretext.json`) is returned as it is and an unfinished one continues from its checkpoint.
public func pretrainInpainting(_ data: ImageWangLayout, _ config: StudyConfig, runDir: String, resume: Bool = false,
                               callbacks: [Callback] = []) throws -> PretextResult
{
  let data = config.select(data)
  let marker = runDir + "/pretext.json"
  if resume, let done = try RunFolder.read(PretextResult.self, from: marker) { return done }
  try FileManager.default.createDirectory(atPath: runDir, withIntermediateDirectories: true)
  let start = Date()
  Runtime.manualSeed(config.seed)
  let unet = try DynamicUnet(encoder: XResNet(.resnet34, widen: config.widen).body, outChannels: 3,
                             imageSize: (config.pretextSize, config.pretextSize))
  try unet.to(device: config.torchDevice, memoryFormat: config.memoryFormat)
  // Paths only: the pretext loader is never given a label.
  let paths = data.train.paths + (data.unsup?.paths ?? [])
  let cutout = RandomCutout(relativeTo: config.pretextSize == config.cutoutReferenceSize ? nil : config.cutoutReferenceSize)
  let train = ImageLoader(paths: paths, task: .inpainting(cutout), size: config.pretextSize, training: true,
                          batchSize: config.pretextBatch, seed: config.seed, workers: config.workers)
  let valid = ImageLoader(paths: data.valid.paths, task: .inpainting(cutout), size: config.pretextSize, training: false,
                          batchSize: config.pretextBatch, seed: config.seed, workers: config.workers)
  let groups = ParamGroup.groups(of: unet, lr: config.pretextLR)
  let learner = Learner(
    model: unet, train: OnDevice(train, config), valid: OnDevice(valid, config),
    loss: Losses.mse(), optimizer: ranger(groups, weightDecay: config.weightDecay),
    callbacks: callbacks + [CSVLogger(path: runDir + "/pretext.csv"), try TensorBoardLogger(directory: runDir + "/tensorboard/pretext")])
  let checkpoint = runDir + "/pretext.checkpoint.safetensors"
  learner.checkpointPath = checkpoint
  learner.checkpointFingerprint = try config.fingerprint(stage: "pretext inpainting")
  let done = try resumeIfAsked(learner, resume)
  try learner.fit(.flatCos(epochs: config.pretextEpochs, lr: .value(config.pretextLR)), startEpoch: done)
  let result = PretextResult(encoderFile: "encoder.safetensors", gridFile: "inpainting.png", history: learner.history,
                             seconds: Date().timeIntervalSince(start) + earlierSeconds(learner, done), trainingItems: paths.count,
                             sawLabels: train.labels != nil || valid.labels != nil)
  try SafeTensors.save(EncoderTransfer.encoderState(of: unet), metadata: ["format": "pt", "source": "pretext inpainting"],
                       to: result.encoderPath(in: runDir))
  try unet.save(to: runDir + "/unet.safetensors")
  try writeSampleGrid(unet, valid, to: result.gridPath(in: runDir), device: config.torchDevice)
  try RunFolder.write(result, to: marker)
  try RunFolder.dropCheckpoints([checkpoint], config)
  return result
}

/// With `resume` and a checkpoint at the learner's checkpoint path, restores it and returns its epochs done.
func resumeIfAsked(_ learner: Learner, _ resume: Bool, checkpoint: String? = nil) throws -> Int {
  guard resume, let path = checkpoint ?? learner.checkpointPath, FileManager.default.fileExists(atPath: path) else { return 0 }
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
    (self.source, self.device, self.channelsLast) = (source, config.torchDevice, config.channelsLast)
  }
  var batchCount: Int { source.batchCount }
  func batches(epoch: Int) throws -> BatchStream {
    let stream = try source.batches(epoch: epoch)
    if device == .cpu && !channelsLast { return stream }
    let (device, channelsLast) = (device, channelsLast)
    func place(_ t: Tensor) throws -> Tensor {
      let moved = try t.to(device)
      return channelsLast && moved.shape.count == 4 ? try moved.contiguous(.channelsLast) : moved
    }
    return stream.map { x, y in (try place(x), try place(y)) }  // a failed move ends the epoch with its error
  }
}

/// A grid of rows `damaged | original | restored` from the first validation batch, the cut-out holes
/// outlined in green on the damaged image.
public func writeSampleGrid(_ unet: Module, _ loader: ImageLoader, to path: String, rows: Int = 4, device: Device = .cpu) throws {
  guard let (x, y) = try loader.pass(epoch: 0).next() else { throw DatasetError(path: path, "no validation batch") }
  unet.eval()
  let out = try withNoGrad { try unet(x.to(device)).clamp(min: 0, max: 1).to(.cpu) }
  unet.train()
  let n = Swift.min(rows, x.shape[0]), s = x.shape[2]
  func image(_ t: Tensor, _ i: Int) throws -> [UInt8] {
    try (t[i].permute([1, 2, 0]) * 255.0).round().clamp(min: 0, max: 255).to(dtype: .uint8).contiguous().toArray(of: UInt8.self)
  }
  let gap = 2, width = 3 * s + 2 * gap
  var grid = [UInt8](repeating: 255, count: n * (s + gap) * width * 3)
  for i in 0..<n {
    var damaged = try image(x, i)
    let original = try image(y, i), restored = try image(out, i)
    // Hole pixels: black in the input where the original is not; outline = hole pixels with a non-hole neighbour.
    func hole(_ px: Int, _ py: Int) -> Bool {
      guard px >= 0, py >= 0, px < s, py < s else { return false }
      let k = 3 * (py * s + px)
      return damaged[k] == 0 && damaged[k + 1] == 0 && damaged[k + 2] == 0
        && (original[k] | original[k + 1] | original[k + 2]) != 0
    }
    var outline: [Int] = []
    for py in 0..<s {
      for px in 0..<s where hole(px, py) && !(hole(px - 1, py) && hole(px + 1, py) && hole(px, py - 1) && hole(px, py + 1)) {
        outline.append(3 * (py * s + px))
      }
    }
    for k in outline { (damaged[k], damaged[k + 1], damaged[k + 2]) = (0, 255, 0) }
    for (col, img) in [damaged, original, restored].enumerated() {
      for py in 0..<s {
        let dst = ((i * (s + gap) + py) * width + col * (s + gap)) * 3
        for j in 0..<(s * 3) { grid[dst + j] = img[py * s * 3 + j] }
      }
    }
  }
  try ImageCodec.write(RGBImage(width: width, height: n * (s + gap), pixels: grid), to: path)
}

/// Rebuilds a run's U-Net from its config and weights and writes a sample grid of `data`'s val/ images.
public func showSampleGrid(runDir: String, config: StudyConfig, data: ImageWangLayout, rows: Int, to path: String) throws {
  let data = config.select(data)
  let unet = try DynamicUnet(encoder: XResNet(.resnet34, widen: config.widen).body, outChannels: 3,
                             imageSize: (config.pretextSize, config.pretextSize))
  try unet.load(from: runDir + "/unet.safetensors")
  let cutout = RandomCutout(relativeTo: config.pretextSize == config.cutoutReferenceSize ? nil : config.cutoutReferenceSize)
  let valid = ImageLoader(paths: data.valid.paths, task: .inpainting(cutout), size: config.pretextSize, training: false,
                          batchSize: rows, seed: config.seed, workers: config.workers)
  try writeSampleGrid(unet, valid, to: path, rows: rows)
}
